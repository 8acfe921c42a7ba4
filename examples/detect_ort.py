"""Detect objects in an image with ONNX Runtime.

Usage::

    python examples/detect_ort.py                                  # bus.jpg + YOLOv6Lite-S from ../shared
    python examples/detect_ort.py photo.jpg --model yolov6s.onnx --save out.jpg
    python examples/detect_ort.py --model yolov6lite-s:onnx        # a hub name works too

Defaults come from the shared test assets (``$LITE_SHARED`` or ``../shared`` next to the repo).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2

from lite.cv import YOLOv6
from lite.errors import LiteError

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LITE_SHARED", REPO.parent / "shared"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", nargs="?", default=str(SHARED / "images" / "bus.jpg"))
    ap.add_argument("--model", default=str(SHARED / "models/yolov6lite/onnx/yolov6lite_s_320_decoded.onnx"))
    ap.add_argument("--conf", type=float, default=0.25, help="score threshold")
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    ap.add_argument("--device", default="cpu", help="cpu, cuda:0 or trt:0 (GPU providers need onnxruntime-gpu)")
    ap.add_argument("--save", type=Path, default=None, help="write the annotated image here")
    args = ap.parse_args()

    det = YOLOv6(args.model, backend="ort", device=args.device, threads=args.threads, conf=args.conf)
    img = cv2.imread(args.image)
    if img is None:
        raise SystemExit(f"cannot read image {args.image}")
    dets = det.detect(img)

    print(f"model: {det.backend.model_path}")
    print(f"backend: {det.backend.name} (input {det.input_hw[0]}x{det.input_hw[1]})")
    print(f"layout: {det.spec.describe()}")
    print(f"image: {Path(args.image).name} ({img.shape[1]}x{img.shape[0]})")
    counts = ", ".join(f"{name} {n}" for name, n in dets.summary().items())
    print(f"{len(dets)} detections: {counts}")
    for d in dets:
        x1, y1, x2, y2 = d.xyxy
        print(f"  {d.name:<14} {d.score:.2f}  [{x1:.1f}, {y1:.1f}, {x2:.1f}, {y2:.1f}]")
    if args.save is not None:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.save), dets.draw(img))
        print(f"saved {args.save}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except LiteError as e:  # a missing engine, file or device: one line, no traceback
        raise SystemExit(f"{Path(__file__).name}: error: {e}") from None
