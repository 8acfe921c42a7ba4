"""Detect objects in an image with TensorRT (NVIDIA GPU).

Usage::

    python examples/detect_trt.py                                      # builds an FP16 engine from the ONNX
    python examples/detect_trt.py photo.jpg --model yolov6s.engine      # a prebuilt engine
    python examples/detect_trt.py --model yolov6lite_s_320_end2end_ort.onnx --fp32

An ``.onnx`` model is built into an engine once per ONNX file, precision, TensorRT version and
GPU, and cached under ``$LITE_CACHE/trt``; the first run takes a while, later runs load the
cache. Needs ``pip install 'lite-detect[trt]'`` and a CUDA GPU. Defaults come from the shared test
assets (``$LITE_SHARED`` or ``../shared`` next to the repo).
"""

from __future__ import annotations

import time

from _common import DECODED_ONNX, detect_and_print, detect_parser, run

from lite.cv import YOLOv6


def main() -> int:
    ap = detect_parser(__doc__, DECODED_ONNX)
    ap.add_argument("--device", default="cuda:0", help="CUDA device")
    ap.add_argument("--fp32", action="store_true", help="build without FP16 kernels (.onnx only)")
    args = ap.parse_args()

    options = {} if args.model.endswith((".engine", ".plan")) else {"fp16": not args.fp32}
    t0 = time.perf_counter()
    det = YOLOv6(args.model, backend="trt", device=args.device, conf=args.conf, **options)
    print(f"engine ready in {time.perf_counter() - t0:.1f} s (built or loaded from the cache)")
    return detect_and_print(det, args.image, args.save, on=args.device)


if __name__ == "__main__":
    run(main)
