"""``lite convert MODEL.onnx --to ncnn|mnn|trt|openvino``: convert an ONNX model for another engine.

The converted model gets a ``.lite.json`` sidecar with the class names, strides, input size
and layout, and is checked against ONNX Runtime before it is written::

    lite convert yolov6lite_s_320_raw.onnx --to ncnn            # yolov6lite_s_320_raw.ncnn.param/.bin
    lite convert yolov6lite_s_320_raw.onnx --to mnn --fp16 --out models/
    lite convert model.onnx --to trt --fp16 --batch 1,4,8 --workspace 4
    lite convert yolov6lite_s_320_raw.onnx --to openvino            # yolov6lite_s_320_raw.xml/.bin
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lite.cli._common import add_command
from lite.errors import InputError

TARGETS = ("ncnn", "mnn", "trt", "openvino")


def register(subparsers: Any) -> None:
    """Add the ``convert`` subcommand."""
    p = add_command(
        subparsers,
        "convert",
        run,
        help="convert an ONNX model to NCNN, MNN, OpenVINO IR or a TensorRT engine",
        description="Convert an ONNX model for another engine. The output carries the model's metadata in a "
        ".lite.json sidecar and is checked against ONNX Runtime (NCNN, MNN, OpenVINO) before it is written.",
    )
    p.add_argument("model", help="the .onnx file")
    p.add_argument("--to", required=True, choices=TARGETS, help="target format")
    p.add_argument("--out", default=None, help="output file or folder (default: next to the ONNX file)")
    p.add_argument("--fp16", action="store_true", help="FP16 weights (ncnn, mnn) or FP16 kernels (trt)")
    p.add_argument("--input-shape", default=None, metavar="N,C,H,W",
                   help="ncnn: shape to trace a dynamic-shape ONNX with, e.g. 1,3,640,640")  # fmt: skip
    p.add_argument("--no-verify", action="store_true", help="ncnn, mnn, openvino: skip the check against ONNX Runtime")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--force", action="store_true", help="openvino: replace an existing .xml/.bin")
    trt = p.add_argument_group("TensorRT (--to trt)")
    trt.add_argument("--int8", action="store_true", help="INT8 with entropy calibration (needs --calib-images)")
    trt.add_argument("--calib-images", default=None, metavar="DIR", help="folder of calibration images")
    trt.add_argument("--batch", default=None, metavar="MIN,OPT,MAX", help="batch profile of a dynamic-batch ONNX")
    trt.add_argument("--workspace", type=float, default=None, metavar="GB", help="workspace memory limit in GiB")
    trt.add_argument("--timing-cache", default=None, metavar="FILE", help="TensorRT timing cache file")


def _ints(text: str | None, what: str, count: int) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError as e:
        raise InputError(f"{what}: expected {count} comma-separated integers, got {text!r}") from e
    if len(values) != count or min(values) <= 0:
        raise InputError(f"{what}: expected {count} positive comma-separated integers, got {text!r}")
    return values


def run(args: argparse.Namespace) -> int:
    """Convert; print the output path on stdout."""
    progress = not args.quiet
    if args.to == "trt":
        from lite.convert.trt import build_engine

        if args.input_shape is not None or args.no_verify:
            raise InputError("--input-shape and --no-verify apply to --to ncnn/mnn, not --to trt")
        out = build_engine(
            args.model,
            args.out,
            fp16=args.fp16,
            int8=args.int8,
            calib_images=args.calib_images,
            batch=_ints(args.batch, "--batch", 3),
            workspace_gb=args.workspace,
            timing_cache=args.timing_cache,
        )
    else:
        trt_only = [f for f, v in (("--int8", args.int8), ("--calib-images", args.calib_images),
                                   ("--batch", args.batch), ("--workspace", args.workspace),
                                   ("--timing-cache", args.timing_cache)) if v]  # fmt: skip
        if trt_only:
            raise InputError(f"{', '.join(trt_only)} apply to --to trt only, not --to {args.to}")
        verify = not args.no_verify
        if args.to == "ncnn":
            from lite.convert.ncnn import onnx_to_ncnn

            shape = _ints(args.input_shape, "--input-shape", 4)
            out = onnx_to_ncnn(args.model, args.out, args.fp16, shape, verify=verify, progress=progress)
        elif args.to == "openvino":
            from lite.convert.openvino import onnx_to_openvino

            if args.input_shape is not None:
                raise InputError("--input-shape applies to --to ncnn (OpenVINO IR keeps the ONNX input's shape)")
            out = onnx_to_openvino(args.model, args.out, args.fp16, verify=verify, progress=progress, force=args.force)
        else:
            from lite.convert.mnn import onnx_to_mnn

            if args.input_shape is not None:
                raise InputError("--input-shape applies to --to ncnn (MNN models take any input size)")
            out = onnx_to_mnn(args.model, args.out, args.fp16, verify=verify, progress=progress)
    print(out)
    sys.stdout.flush()
    return 0
