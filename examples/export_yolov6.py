"""Export a YOLOv6 checkpoint to ONNX in the three layouts, verified against PyTorch, then detect with lite.

Usage::

    python examples/export_yolov6.py yolov6n.pt --img 640          # your checkpoint (meituan/YOLOv6 trainer)
    python examples/export_yolov6.py --img 320 --to ncnn,mnn       # no checkpoint: a random-weight YOLOv6-N demo

Needs YOLOv6's code: ``pip install --no-deps yolov6detect`` (lite loads its model modules without
torchvision). The same as one command: ``lite export yolov6n.pt --img 640 --layout raw --verify``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from lite.cv import YOLOv6
from lite.export.yolov6 import build_yolov6, export_yolov6, save_yolov6_checkpoint


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", nargs="?", default=None, help="YOLOv6 .pt (default: a random YOLOv6-N)")
    ap.add_argument("--img", type=int, default=320, help="square input size")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: a temporary one)")
    ap.add_argument("--to", default="", help="also convert the raw export: ncnn,mnn")
    ap.add_argument("--image", default=None, help="image to detect on (default: random noise)")
    args = ap.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="lite-export-"))
    out.mkdir(parents=True, exist_ok=True)
    ckpt = args.checkpoint
    if ckpt is None:
        # YOLOv6-N from the config shipped with yolov6detect, saved as its trainer saves checkpoints
        ckpt = save_yolov6_checkpoint(build_yolov6("yolov6n", seed=0), out / "yolov6n_random.pt")
        print(f"no checkpoint given: wrote a random-weight YOLOv6-N to {ckpt}")

    paths = {}
    for layout in ("decoded", "raw", "end2end"):
        to = [e for e in args.to.split(",") if e] if layout == "raw" else []
        report = export_yolov6(ckpt, out / f"model_{args.img}_{layout}.onnx", img_size=args.img, layout=layout, to=to)
        print(report, end="\n\n")
        paths[layout] = report.path

    image = args.image if args.image else np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    for layout, path in paths.items():
        with YOLOv6(path, conf=0.25) as det:
            dets = det.detect(image)
        print(f"{layout:8s} {det.spec.describe()}: {len(dets)} detections")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
