"""``lite quantize MODEL.onnx --calib DIR``: int8 for the CPU, measured against the fp32 model.

::

    lite quantize yolov8n.onnx --calib train_images/                       # ./yolov8n.int8.xml (OpenVINO, NNCF)
    lite quantize yolov8n.onnx --calib train_images/ --to ort -o models/   # models/yolov8n.int8.onnx (QDQ)
    lite quantize yolov8n.onnx --calib train_images/ --eval val/images val/instances.json --max-drop 0.01

Calibration runs the model's own preprocessing on real images; products of two activations (SiLU, HardSwish)
stay float, and with ``--eval`` the smallest float tail of the head that keeps the COCO AP within ``--max-drop`` is
found (``--method accuracy_control``: NNCF's accuracy control instead, OpenVINO only, much slower).
The int8 model's detections are checked against the fp32 model's; both are timed on this CPU and the speeds (and
APs) printed. When int8 is not faster (1.05× or less) than fp32 on the same engine or on ONNX Runtime, the command
says so and suggests keeping the fp32 model.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

from lite.cli._common import add_command


def register(subparsers: Any) -> None:
    """Add the ``quantize`` subcommand."""
    p = add_command(
        subparsers,
        "quantize",
        run,
        help="int8 for the CPU (OpenVINO NNCF or ONNX Runtime QDQ), measured against fp32",
        description="Quantize an fp32 ONNX detector to int8, calibrated on real images through the model's own "
        "preprocessing; with --eval the layers kept in float are chosen so that the COCO AP drops by at most "
        "--max-drop. Prints the fp32 and int8 speeds (and APs) on this CPU; writes the int8 model and a .lite.json "
        "sidecar recording the calibration set, settings, APs and speeds.",
    )
    p.add_argument("model", help="the fp32 .onnx detector")
    p.add_argument("--calib", required=True, type=Path, metavar="DIR", help="folder of calibration images")
    p.add_argument("--to", choices=("openvino", "ort"), default="openvino", help="int8 engine")
    p.add_argument("-o", "--out", default=None, help="output file or folder (default: the current directory)")
    p.add_argument("--images", type=int, default=300, metavar="N", help="calibration images used (the first N)")
    p.add_argument("--eval", nargs=2, type=Path, default=None, metavar=("IMAGES", "ANN"),
                   help="evaluation images folder and COCO instances JSON: keep the AP within --max-drop")  # fmt: skip
    p.add_argument("--method", choices=("float_tail", "accuracy_control"), default="float_tail",
                   help="with --eval: the smallest float tail (default), or NNCF's quantize_with_accuracy_control "
                   "(layers ranked by measured AP; OpenVINO; much slower)")  # fmt: skip
    p.add_argument("--max-drop", type=float, default=0.01, help="largest COCO AP drop accepted (with --eval)")
    p.add_argument(
        "--depth",
        type=int,
        default=None,
        help="keep this float tail instead (default: with --eval the AP decides, else depth 1)",
    )
    p.add_argument("--threads", type=int, default=None, help="engine threads for timing and evaluation")
    p.add_argument("--calls", type=int, default=30, help="timed calls per model (alternated)")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    """Quantize, print the comparison and the output path."""
    from lite.convert import quantize

    def say(msg: str) -> None:
        if not args.quiet:
            print(f"lite quantize: {msg}", file=sys.stderr, flush=True)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        result = quantize(
            args.model,
            args.calib,
            args.out,
            to=args.to,
            images=args.images,
            eval_images=args.eval[0] if args.eval else None,
            eval_ann=args.eval[1] if args.eval else None,
            max_drop=args.max_drop,
            depth=args.depth,
            method=args.method,
            threads=args.threads,
            force=args.force,
            calls=args.calls,
            progress=say,
        )
    for w in caught:
        print(f"lite quantize: warning: {w.message}", file=sys.stderr)
    print(result.summary())
    print(result.path)
    sys.stdout.flush()
    return 0
