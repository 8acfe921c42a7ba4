"""``lite compare MODEL_A [MODEL_B ...] --image IMG``: do several models / engines agree?

Every model gets the same letterboxed tensor; the table shows, per output, the largest
absolute difference and the relative L2 error against the first model, then how many
detections match (same class, IoU ≥ 0.99) — with the smallest mask IoU of the matched pairs for a
segmentation model and the largest keypoint distance for a pose model — or, for a classifier, the top-k
classes and the largest class-probability difference. The exit status is 1 when anything is over
tolerance::

    lite compare yolov6lite_s_320_raw.onnx yolov6-lite-s.param --image bus.jpg
    lite compare model.onnx --backends ort,trt --image bus.jpg --tol 1e-2
    lite compare yolov8n-seg.onnx yolov8n-seg.ncnn.param --image bus.jpg --mask-iou 0.95
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from lite.cli._common import (
    FAMILY_HELP,
    add_command,
    add_engine_arguments,
    add_family_argument,
    add_input_size_argument,
    engine_options,
)

# lite.tools.parity's defaults, repeated so that ``lite --help`` does not import numpy (a test keeps them equal)
RTOL, ATOL, IOU, SCORE_TOL, QUANTIZED_RTOL = 1e-3, 5e-2, 0.99, 0.01, 3e-2
MASK_IOU, KPT_PX = 0.95, 3.0


def register(subparsers: Any) -> None:
    """Add the ``compare`` subcommand."""
    p = add_command(
        subparsers,
        "compare",
        run,
        help="run one image through several models/backends and compare outputs and detections",
        description="Run the same letterboxed image through several models (or one model on several backends) "
        "and compare each with the first: per-output max |diff| and relative L2 error, then detections. "
        "Exit status 1 when anything is over tolerance.",
    )
    p.add_argument("models", nargs="+", help="model files (the first is the reference)")
    p.add_argument("--image", required=True, help="image file")
    p.add_argument(
        "--backends",
        default=None,
        help="comma-separated backend per model, one for all, or several for one model (e.g. ort,trt)",
    )
    add_family_argument(p, help=FAMILY_HELP + "; read from the first model, used for all")
    add_input_size_argument(p, help="network input N or H W (default: the models' fixed size or metadata)")
    p.add_argument("--tol", type=float, default=None,
                   help=f"relative L2 tolerance per output (default: {RTOL:g}; {QUANTIZED_RTOL:g} for a quantized "
                        "model)")  # fmt: skip
    p.add_argument("--atol", type=float, default=None,
                   help=f"largest absolute difference allowed per output (default: {ATOL:g}; "
                        "not bounded for a quantized model, whose int8 rounding differs between engines)")  # fmt: skip
    p.add_argument("--iou", type=float, default=IOU, help="IoU a detection needs to match its counterpart")
    p.add_argument(
        "--score-tol",
        type=float,
        default=SCORE_TOL,
        help="score difference allowed per matched detection (per class probability, for a classifier)",
    )
    p.add_argument(
        "--mask-iou", type=float, default=MASK_IOU, help="mask IoU every matched instance needs (segmentation models)"
    )
    p.add_argument(
        "--kpt-px",
        type=float,
        default=KPT_PX,
        help="largest distance in image pixels between matched keypoints (pose models)",
    )
    p.add_argument("--top-k", type=int, default=5, help="classes compared by id (classifiers)")  # fmt: skip
    p.add_argument("--conf", type=float, default=0.25, help="detection score threshold")
    add_engine_arguments(p, backend=False, device=False)
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    """Compare; print the table (or JSON); 0 when everything agrees, 1 otherwise."""
    from lite.tools.parity import compare

    report = compare(
        args.models,
        args.image,
        backends=args.backends,
        **engine_options(args),  # family, input_size, threads
        rtol=args.tol,
        atol=args.atol,
        iou=args.iou,
        score_tol=args.score_tol,
        conf=args.conf,
        mask_iou=args.mask_iou,
        kpt_px=args.kpt_px,
        top_k=args.top_k,
    )
    print(json.dumps(report.to_dict(), indent=2, default=str) if args.json else report.table())
    return 0 if report.ok else 1
