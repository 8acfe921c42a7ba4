"""Detect objects in an image with ONNX Runtime.

Usage::

    python examples/detect_ort.py                                  # bus.jpg + YOLOv6Lite-S from ../shared
    python examples/detect_ort.py photo.jpg --model yolov6s.onnx --save out.jpg
    python examples/detect_ort.py --model yolov6lite-s:onnx        # a hub name works too

Defaults come from the shared test assets (``$LITE_SHARED`` or ``../shared`` next to the repo).
"""

from __future__ import annotations

from _common import DECODED_ONNX, detect_and_print, detect_parser, run

from lite.cv import YOLOv6


def main() -> int:
    ap = detect_parser(__doc__, DECODED_ONNX)
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    ap.add_argument("--device", default="cpu", help="cpu, cuda:0 or trt:0 (GPU providers need onnxruntime-gpu)")
    args = ap.parse_args()

    det = YOLOv6(args.model, backend="ort", device=args.device, threads=args.threads, conf=args.conf)
    return detect_and_print(det, args.image, args.save)


if __name__ == "__main__":
    run(main)
