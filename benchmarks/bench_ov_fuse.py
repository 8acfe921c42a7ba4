"""OpenVINO ``detect()`` with fused preprocessing on vs off, interleaved (the figures behind ``fuse_by_default_for``).

One process holds, per model, a detector with ``fuse_preprocess=True`` and one with ``False``; round after round
each of them (and its floor, ``backend.raw_runner`` on its own feed: the float model on the float tensor, the fused
model on the ``uint8`` canvas) times a block of calls in turn. Medians over the rounds, in ms per call.

Usage::

    python benchmarks/bench_ov_fuse.py --threads 1 --rounds 30
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2

from lite.cv.yolov6 import YOLOv6
from lite.cv.yolov8 import YOLOv8
from lite.cv.yolox import YOLOX


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    models = args.shared / "models"
    img = cv2.imread(str(args.shared / "images" / "bus.jpg"))
    cases = {
        "Lite-S 320": (YOLOv6, models / "yolov6lite/onnx/yolov6lite_s_320_raw.onnx", 20),
        "YOLOX-nano 416": (YOLOX, models / "foreign/yolox/yolox_nano_416.onnx", 10),
        "YOLOv8n int8 640": (YOLOv8, models / "foreign/yolov8/yolov8n_int8.onnx", 5),
    }
    subjects = {}
    for tag, (cls, path, block) in cases.items():
        for fuse in (False, True):
            det = cls(path, backend="openvino", threads=args.threads, fuse_preprocess=fuse)
            assert det.fused is fuse
            feed, _ = det._feed(img)
            floor = det.backend.raw_runner({det.backend.inputs[0].name: feed.copy()})
            name = f"{tag} {'fused' if fuse else 'float'}"
            subjects[f"{name} detect"] = (lambda d=det: d.detect(img), block)
            subjects[f"{name} floor"] = (floor, block)
            for _ in range(5):
                det.detect(img)
                floor()
    times: dict[str, list[float]] = {k: [] for k in subjects}
    for _ in range(args.rounds):
        for k, (fn, block) in subjects.items():
            t = time.perf_counter()
            for _ in range(block):
                fn()
            times[k].append((time.perf_counter() - t) / block * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"threads={args.threads} rounds={args.rounds}")
    for k, v in med.items():
        print(f"{k:34s} median {v:7.2f} ms")
    for tag in cases:
        f, u = med[f"{tag} fused detect"], med[f"{tag} float detect"]
        print(f"{tag}: detect fused/float {f / u:.3f} ({f - u:+.2f} ms); floors fused - float "
              f"{med[f'{tag} fused floor'] - med[f'{tag} float floor']:+.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
