"""Detect objects in an image with NCNN (a ``.param`` with its ``.bin`` beside it).

Usage::

    python examples/detect_ncnn.py                                 # bus.jpg + official YOLOv6Lite-S NCNN model
    python examples/detect_ncnn.py photo.jpg --model yolov6-lite-l.param --input-size 416 --save out.jpg
    python examples/detect_ncnn.py --model yolov6lite-s              # hub name: downloads the official files

NCNN models store no input shape: ``--input-size`` picks it (YOLOv6Lite: any multiple of 64).
Defaults come from the shared test assets (``$LITE_SHARED`` or ``../shared`` next to the repo).
"""

from __future__ import annotations

from _common import SHARED, detect_and_print, detect_parser, run

from lite.cv import YOLOv6


def main() -> int:
    ap = detect_parser(__doc__, SHARED / "models/yolov6lite/ncnn/yolov6-lite-s.param")
    ap.add_argument("--input-size", type=int, default=320, help="network input (a multiple of the largest stride)")
    ap.add_argument("--threads", type=int, default=None, help="NCNN threads")
    ap.add_argument("--fp16", action="store_true", help="FP16 packing and arithmetic where the CPU has it")
    args = ap.parse_args()

    det = YOLOv6(
        args.model, backend="ncnn", input_size=args.input_size, threads=args.threads, conf=args.conf, fp16=args.fp16
    )
    return detect_and_print(det, args.image, args.save)


if __name__ == "__main__":
    run(main)
