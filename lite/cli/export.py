"""``lite export CHECKPOINT.pt``: a meituan/YOLOv6 checkpoint → verified ONNX (and NCNN/MNN); ``lite export
--classifier FILE.py:FACTORY``: a PyTorch image classifier → verified ONNX (and every engine).

Loads the checkpoint with YOLOv6's own code (``pip install --no-deps yolov6detect``), puts the
model in deploy form, exports the chosen layout, checks and simplifies the graph, then (with
``--verify``) prints a parity table: PyTorch vs ONNX Runtime (and vs NCNN/MNN with ``--to``),
max abs difference, MSE, relative L2 and latencies::

    lite export yolov6n.pt --img 640 --verify
    lite export yolov6n.pt --img 320 --layout raw --to ncnn,mnn --verify
    lite export yolov6n.pt --img 640 --layout end2end --batch dynamic --conf 0.25 --iou 0.45
    lite export --classifier examples/resnet.py:resnet50 --weights resnet50.pth --img 224 --verify --to openvino

Exit status: 0 on success, 1 when a converted engine is out of tolerance, 2 on errors (including
ONNX Runtime differing from PyTorch).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lite.cli._common import add_command, detection_options

LAYOUTS = ("decoded", "raw", "end2end")


def _batch(value: str) -> int | str:
    if value == "dynamic":
        return value
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'dynamic', got {value!r}")
    return n


def _engines(value: str) -> list[str]:
    from lite.convert import known

    engines = [e.strip().lower() for e in value.split(",") if e.strip()]
    bad = [e for e in engines if e not in known()]
    if bad:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(known())}; got {bad}")
    return engines


def register(subparsers: Any) -> None:
    """Add the ``export`` subcommand."""
    p = add_command(
        subparsers,
        "export",
        run,
        help="export a YOLOv6 checkpoint (decoded, raw or end2end) or a PyTorch classifier to ONNX, verified "
        "against PyTorch",
        description=__doc__.split("::")[0].strip(),
    )
    p.add_argument("checkpoint", nargs="?", default=None,
                   help="YOLOv6 training checkpoint (.pt); it is unpickled: use trusted files only")
    p.add_argument("--classifier", default=None, metavar="FILE.py:FACTORY",
                   help="export an image classifier instead: FACTORY(num_classes=...) in FILE.py (or module:FACTORY) "
                   "builds the torch.nn.Module, e.g. examples/resnet.py:resnet50")
    p.add_argument("--weights", type=Path, default=None,
                   help="--classifier: a state_dict file (.pt/.pth, loaded with weights_only=True)")
    p.add_argument("--num-classes", type=int, default=None, help="--classifier: passed to FACTORY (default: its own)")
    p.add_argument("--softmax", action="store_true", help="--classifier: output probabilities (default: logits)")
    p.add_argument("--img", type=int, nargs="+", default=[640], metavar="N", help="input size N or H W")
    p.add_argument("--layout", choices=LAYOUTS, default="decoded",
                   help="decoded: (B, N, 5+nc) like YOLOv6's export; raw: decode-free per-level heads for NCNN/MNN; "
                        "end2end: decoded + ONNX NonMaxSuppression")  # fmt: skip
    p.add_argument("--batch", type=_batch, default=1, help="batch size N, or 'dynamic'")
    p.add_argument("--out", type=Path, default=None, help="output .onnx (default: <checkpoint>_<img>_<layout>.onnx)")
    p.add_argument("--opset", type=int, default=13, help="ONNX opset (>= 11 for end2end)")
    p.add_argument("--verify", action="store_true", help="compare with PyTorch and print the parity table")
    p.add_argument("--to", type=_engines, default=[], metavar="ENGINES",
                   help="also convert to these targets of lite convert (comma-separated, e.g. ncnn,mnn)")  # fmt: skip
    p.add_argument("--conf", type=float, default=0.25, help="end2end: NMS score threshold")
    p.add_argument("--iou", type=float, default=0.45, help="end2end: NMS IoU threshold")
    p.add_argument("--max-det", type=int, default=100, help="end2end: boxes kept per class")
    p.add_argument("--image", default=None, help="verify on this image (letterboxed) as well as random inputs")
    p.add_argument("--names", type=Path, default=None, help="class names file, one per line (metadata)")
    p.add_argument("--no-simplify", action="store_true", help="skip onnxslim")
    p.add_argument("--exporter", choices=("auto", "legacy", "dynamo"), default="auto",
                   help="torch.onnx exporter (auto: TorchScript-based while torch has it)")  # fmt: skip
    p.add_argument("--rtol", type=float, default=1e-3, help="ONNX Runtime vs PyTorch relative tolerance")
    p.add_argument("--atol", type=float, default=1e-4, help="ONNX Runtime vs PyTorch absolute tolerance")


def run(args: argparse.Namespace) -> int:
    """Run ``lite export``; returns the exit code."""
    from lite.core.errors import InputError
    from lite.export.yolov6 import export_yolov6

    if len(args.img) not in (1, 2):
        raise InputError(f"--img: expected N or H W, got {args.img}")
    if (args.checkpoint is None) == (args.classifier is None):
        raise InputError("lite export: give a YOLOv6 CHECKPOINT or --classifier FILE.py:FACTORY (one of them)")
    names = None
    if args.names is not None:
        try:
            names = [n.strip() for n in args.names.read_text(encoding="utf-8").splitlines() if n.strip()]
        except OSError as e:
            raise InputError(f"--names: cannot read {args.names}: {e}") from e
    if args.classifier is not None:
        return _export_classifier(args, names)
    report = export_yolov6(
        args.checkpoint,
        args.out,
        img_size=args.img,
        layout=args.layout,
        batch=args.batch,
        opset=args.opset,
        simplify=not args.no_simplify,
        verify=args.verify,
        **detection_options(args),  # the end2end NMS settings
        names=names,
        sample=args.image,
        exporter=args.exporter,
        rtol=args.rtol,
        atol=args.atol,
        to=args.to,
    )
    return _print_report(report)


def _print_report(report: Any) -> int:
    """Print the export report and each failed comparison's details; the exit code (1: an engine out of
    tolerance)."""
    print(report)
    failed = [c for c in report.comparisons if not c.passed]
    for c in failed:
        print(c.details())
    return 1 if failed else 0


def _export_classifier(args: argparse.Namespace, names: list[str] | None) -> int:
    """``lite export --classifier``: build the module, load its weights, export and verify."""
    from lite.export.classifier import export_classifier, load_factory

    net = load_factory(args.classifier, num_classes=args.num_classes, weights=args.weights)
    stem = args.classifier.rsplit(":", 1)[-1]
    out = args.out or Path(f"{stem}_{'x'.join(map(str, args.img))}.onnx")
    report = export_classifier(
        net,
        out,
        img_size=args.img if len(args.img) == 2 else args.img[0],
        names=names,
        softmax=args.softmax,
        dynamic_batch=args.batch == "dynamic",
        opset=max(args.opset, 13),
        simplify=not args.no_simplify,
        verify=args.verify,
        rtol=args.rtol,
        atol=args.atol,
        to=args.to,
        exporter=args.exporter,
    )
    return _print_report(report)
