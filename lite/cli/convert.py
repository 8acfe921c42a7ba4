"""``lite convert MODEL.onnx --to TARGET``: convert an ONNX model for another engine.

The converted model gets a ``.lite.json`` sidecar with the class names, strides, input size
and layout, and is checked against ONNX Runtime before it is written::

    lite convert yolov6lite_s_320_raw.onnx --to ncnn            # ./yolov6lite_s_320_raw.ncnn.param/.bin
    lite convert yolov6lite_s_320_raw.onnx --to mnn --fp16 -o models/
    lite convert model.onnx --to trt --fp16 --batch 1,4,8 --workspace 4 -o engines/ --force
    lite convert yolox_s.onnx --to trt --int8 --calib-images coco/ --family yolox --device cuda:1

Outputs go to the current directory unless ``--out/-o`` names a file or a folder (the same rule
for every target); an existing output is an error before any work unless ``--force``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lite.cli._common import add_command
from lite.core.errors import InputError

#: Command-line flag of each converter option (for "applies to --to X only" messages).
_FLAGS = {
    "input_shape": "--input-shape",
    "verify": "--no-verify",
    "int8": "--int8",
    "calib_images": "--calib-images",
    "batch": "--batch",
    "workspace_gb": "--workspace",
    "timing_cache": "--timing-cache",
    "tf32": "--no-tf32",
    "device": "--device",
    "family": "--family",
}


def register(subparsers: Any) -> None:
    """Add the ``convert`` subcommand (its ``--to`` choices are the registered converters)."""
    from lite.convert import known

    targets = known()  # module names: no converter is imported for --help
    p = add_command(
        subparsers,
        "convert",
        run,
        help="convert an ONNX model for another engine (" + ", ".join(targets) + ")",
        description="Convert an ONNX model for another engine. The output carries the model's metadata in a "
        ".lite.json sidecar and is checked against ONNX Runtime (NCNN, MNN) before it is written. Outputs go to "
        "the current directory unless --out names a file or a folder; existing files are kept unless --force.",
    )
    p.add_argument("model", help="the .onnx file")
    p.add_argument("--to", required=True, choices=targets, help="target format (the registered converters)")
    p.add_argument(
        "-o",
        "--out",
        default=None,
        help="output file, or a folder: <folder>/<model><suffix> (default: the current directory)",
    )
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--fp16", action="store_true", help="FP16 weights (ncnn, mnn) or FP16 kernels (trt)")
    p.add_argument("--input-shape", default=None, metavar="N,C,H,W",
                   help="ncnn: shape to trace a dynamic-shape ONNX with, e.g. 1,3,640,640")  # fmt: skip
    p.add_argument("--no-verify", action="store_true", help="skip the check against ONNX Runtime")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    trt = p.add_argument_group("TensorRT (--to trt)")
    trt.add_argument("--int8", action="store_true", help="INT8 with entropy calibration (needs --calib-images)")
    trt.add_argument("--calib-images", default=None, metavar="DIR", help="folder of calibration images")
    trt.add_argument("--batch", default=None, metavar="MIN,OPT,MAX", help="batch profile of a dynamic-batch ONNX")
    trt.add_argument("--workspace", type=float, default=None, metavar="GB", help="workspace memory limit in GiB")
    trt.add_argument("--timing-cache", default=None, metavar="FILE", help="TensorRT timing cache file")
    trt.add_argument(
        "--no-tf32",
        action="store_true",
        help="no TF32 kernels for FP32 layers (FP32 parity; TensorRT allows TF32 by default on Ampere+)",
    )
    trt.add_argument("--device", default=None, metavar="cuda:N", help="GPU to build on (default cuda:0)")
    trt.add_argument(
        "--family",
        default=None,
        metavar="NAME",
        help="model family whose preprocessing INT8 calibration uses (default: the model's metadata)",
    )


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


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The converter options the user gave (options left at their default are not passed)."""
    given = {
        "input_shape": _ints(args.input_shape, "--input-shape", 4),
        "verify": False if args.no_verify else None,
        "int8": args.int8 or None,
        "calib_images": args.calib_images,
        "batch": _ints(args.batch, "--batch", 3),
        "workspace_gb": args.workspace,
        "timing_cache": args.timing_cache,
        "tf32": False if args.no_tf32 else None,
        "device": args.device,
        "family": args.family,
    }
    return {k: v for k, v in given.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    """Convert; print the output path on stdout."""
    from lite.convert import check_options, convert, get

    options = _options(args)
    check_options(args.to, options, _FLAGS)  # before any work: options of another target are an error
    if "progress" in get(args.to).parameters():
        options["progress"] = not args.quiet
    out = convert(args.model, args.to, args.out, fp16=args.fp16, force=args.force, **options)
    print(out)
    sys.stdout.flush()
    return 0
