"""Detect objects in an image with MNN.

Usage::

    python examples/detect_mnn.py                                  # converts the shared raw ONNX once, then runs it
    python examples/detect_mnn.py photo.jpg --model yolov6lite_s.mnn --precision low --save out.jpg

Without ``--model``, YOLOv6Lite-S's decode-free ONNX (from the shared test assets,
``$LITE_SHARED`` or ``../shared`` next to the repo) is converted to MNN with
:func:`lite.convert.onnx_to_mnn` into ``$LITE_CACHE/examples`` and reused on later runs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2

from lite.cache import cache_dir
from lite.convert import onnx_to_mnn
from lite.cv import YOLOv6
from lite.errors import LiteError

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LITE_SHARED", REPO.parent / "shared"))
RAW_ONNX = SHARED / "models/yolov6lite/onnx/yolov6lite_s_320_raw.onnx"


def default_model() -> Path:
    """The MNN conversion of the shared raw ONNX, made on first use."""
    mnn = cache_dir() / "examples" / "yolov6lite_s_320_raw.mnn"
    if mnn.is_file():
        print(f"using the cached conversion {mnn}")
        return mnn
    print(f"converting {RAW_ONNX.name} to MNN (checked against ONNX Runtime)...")
    return onnx_to_mnn(RAW_ONNX, mnn)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", nargs="?", default=str(SHARED / "images" / "bus.jpg"))
    ap.add_argument("--model", type=Path, default=None, help="a .mnn file (default: convert the shared ONNX)")
    ap.add_argument("--input-size", type=int, default=None, help="network input (default: the model's)")
    ap.add_argument("--precision", default="normal", choices=["normal", "high", "low", "low_bf16"])
    ap.add_argument("--conf", type=float, default=0.25, help="score threshold")
    ap.add_argument("--threads", type=int, default=None, help="MNN threads")
    ap.add_argument("--save", type=Path, default=None, help="write the annotated image here")
    args = ap.parse_args()

    model = args.model or default_model()
    det = YOLOv6(
        model,
        backend="mnn",
        input_size=args.input_size,
        threads=args.threads,
        conf=args.conf,
        precision=args.precision,
    )
    img = cv2.imread(args.image)
    if img is None:
        raise SystemExit(f"cannot read image {args.image}")
    dets = det.detect(img)

    print(f"model: {det.backend.model_path}")
    print(f"backend: {det.backend.name} (input {det.input_hw[0]}x{det.input_hw[1]}, precision {args.precision})")
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
