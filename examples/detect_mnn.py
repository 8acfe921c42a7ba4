"""Detect objects in an image with MNN.

Usage::

    python examples/detect_mnn.py                                  # converts the shared raw ONNX once, then runs it
    python examples/detect_mnn.py photo.jpg --model yolov6lite_s.mnn --precision low --save out.jpg

Without ``--model``, YOLOv6Lite-S's decode-free ONNX (from the shared test assets,
``$LITE_SHARED`` or ``../shared`` next to the repo) is converted to MNN with
:func:`lite.convert.onnx_to_mnn` into ``$LITE_CACHE/examples`` and reused on later runs.
"""

from __future__ import annotations

from pathlib import Path

from _common import RAW_ONNX, detect_and_print, detect_parser, run

from lite.convert import onnx_to_mnn
from lite.core.cache import cache_dir
from lite.cv import YOLOv6


def default_model() -> Path:
    """The MNN conversion of the shared raw ONNX, made on first use."""
    mnn = cache_dir() / "examples" / "yolov6lite_s_320_raw.mnn"
    if mnn.is_file():
        print(f"using the cached conversion {mnn}")
        return mnn
    print(f"converting {RAW_ONNX.name} to MNN (checked against ONNX Runtime)...")
    return onnx_to_mnn(RAW_ONNX, mnn)


def main() -> int:
    ap = detect_parser(__doc__, None, "a .mnn file (default: convert the shared ONNX)")
    ap.add_argument("--input-size", type=int, default=None, help="network input (default: the model's)")
    ap.add_argument("--precision", default="normal", choices=["normal", "high", "low", "low_bf16"])
    ap.add_argument("--threads", type=int, default=None, help="MNN threads")
    args = ap.parse_args()

    det = YOLOv6(
        args.model or default_model(),
        backend="mnn",
        input_size=args.input_size,
        threads=args.threads,
        conf=args.conf,
        precision=args.precision,
    )
    return detect_and_print(det, args.image, args.save, note=f", precision {args.precision}")


if __name__ == "__main__":
    run(main)
