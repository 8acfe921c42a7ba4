"""Convert an ONNX model to NCNN and MNN, then check that all three give the same outputs and detections.

Usage::

    python examples/convert_and_compare.py                            # YOLOv6Lite-S raw heads from ../shared
    python examples/convert_and_compare.py model.onnx --out converted/ --image photo.jpg --fp16 --force

Export decode-free (raw heads) ONNX for NCNN and MNN (see docs/conversion.md). Each converter
checks its own output against ONNX Runtime; the comparison then runs one letterboxed image
through every model and exits with status 1 when they disagree beyond tolerance. Earlier
conversions in ``--out`` are kept unless ``--force`` (lite never replaces a file silently). Defaults come
from the shared test assets (``$LITE_SHARED`` or ``../shared`` next to the repo).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from lite.convert import onnx_to_mnn, onnx_to_ncnn
from lite.core.errors import LiteError
from lite.tools.parity import compare

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LITE_SHARED", REPO.parent / "shared"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("onnx", nargs="?", type=Path, default=SHARED / "models/yolov6lite/onnx/yolov6lite_s_320_raw.onnx")
    ap.add_argument("--out", type=Path, default=Path("converted"), help="folder for the converted models")
    ap.add_argument("--image", default=str(SHARED / "images" / "bus.jpg"), help="image to compare on")
    ap.add_argument("--fp16", action="store_true", help="FP16 weights (smaller; differences grow to ~1e-3)")
    ap.add_argument("--force", action="store_true", help="replace earlier conversions in --out")
    ap.add_argument("--threads", type=int, default=None, help="engine threads for the comparison")
    args = ap.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    converted = []
    for name, convert in (("ncnn", onnx_to_ncnn), ("mnn", onnx_to_mnn)):
        t0 = time.perf_counter()
        path = convert(args.onnx, args.out, args.fp16, force=args.force)
        size = sum(p.stat().st_size for p in (path, path.with_suffix(".bin")) if p.is_file())
        print(f"{name}: {path} ({size / 1e6:.2f} MB, {time.perf_counter() - t0:.1f} s)")
        converted.append(path)

    report = compare([args.onnx, *converted], args.image, threads=args.threads)
    print(report.table())
    return 0 if report.ok else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except LiteError as e:  # a missing converter, a rejected op, a failed check: one line, no traceback
        raise SystemExit(f"{Path(__file__).name}: error: {e}") from None
