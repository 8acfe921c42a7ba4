"""Speed of mask post-processing (lite.ops.masks), on one core.

Target (issue 19): the masks of 10 kept instances of a YOLOv8-seg 640×640 model (prototypes 32×160×160) in
≤ 2 ms (median), with memory proportional to the kept instances (never a mask for a candidate NMS dropped).

Rows (subjects interleaved run by run, so contention hits them alike; medians and the spread are printed):

* ``prototype_masks`` of 10 instances into a 640×640 image (the target), and into the 640×640 input;
* the same for 1 and 50 instances (time and output bytes grow with the instances);
* 10 instances into a 1920×1080 image (letterboxed to 640) for context;
* the naive way for comparison: every one of the 10 masks upsampled whole to 640×640, then cropped;
* ``paste_masks`` of 10 Mask R-CNN 28×28 masks into a 640×640 image.

Run: ``python benchmarks/bench_masks.py [--runs 200]`` (sets OpenCV and BLAS to one thread).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lite.ops.letterbox import letterbox_geometry  # noqa: E402
from lite.ops.masks import paste_masks, prototype_masks  # noqa: E402

TARGET_MS = 2.0


def scene(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth random prototypes (32, 160, 160), ``n`` coefficient rows and ``n`` boxes of 40-400 px in 640×640."""
    rng = np.random.default_rng(seed)
    small = rng.standard_normal((32, 20, 20)).astype(np.float32)
    protos = np.stack([cv2.resize(p, (160, 160), interpolation=cv2.INTER_CUBIC) for p in small])
    coef = rng.standard_normal((n, 32)).astype(np.float32) * 0.5
    wh = rng.uniform(40, 400, (n, 2))
    xy = rng.uniform(0, 640 - wh)
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    return protos, coef, boxes


def naive(protos: np.ndarray, coef: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Every mask upsampled whole to 640×640, then cropped: the cost the ROI sampling avoids."""
    logits = (coef @ protos.reshape(32, -1)).reshape(-1, 160, 160)
    out = np.zeros((len(coef), 640, 640), bool)
    for i, (x1, y1, x2, y2) in enumerate(np.ceil(boxes).astype(int).tolist()):
        up = cv2.resize(logits[i], (640, 640), interpolation=cv2.INTER_LINEAR)
        out[i, y1:y2, x1:x2] = up[y1:y2, x1:x2] > 0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    args = ap.parse_args()
    cv2.setNumThreads(1)

    t640 = letterbox_geometry((640, 640), 640)
    t1080 = letterbox_geometry((1080, 1920), 640)
    p10, c10, b10 = scene(10)
    p1, c1, b1 = scene(1, 1)
    p50, c50, b50 = scene(50, 2)
    rng = np.random.default_rng(3)
    rcnn = rng.uniform(0, 1, (10, 1, 28, 28)).astype(np.float32)
    subjects: dict[str, Callable[[], Any]] = {
        "prototype_masks, 10 inst. -> 640x640 image": lambda: prototype_masks(p10, c10, b10, t640),
        "prototype_masks, 10 inst. -> 640x640 input": lambda: prototype_masks(p10, c10, b10, t640, space="input"),
        "prototype_masks, 1 inst. -> 640x640 image": lambda: prototype_masks(p1, c1, b1, t640),
        "prototype_masks, 50 inst. -> 640x640 image": lambda: prototype_masks(p50, c50, b50, t640),
        "prototype_masks, 10 inst. -> 1920x1080 image": lambda: prototype_masks(p10, c10, b10, t1080),
        "naive: full upsample then crop, 10 inst.": lambda: naive(p10, c10, b10),
        "paste_masks (Mask R-CNN 28x28), 10 inst.": lambda: paste_masks(rcnn, b10, (640, 640)),
    }
    outputs = {k: fn() for k, fn in subjects.items()}
    for _ in range(args.warmup):
        for fn in subjects.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in subjects}
    for _ in range(args.runs):  # interleaved
        for k, fn in subjects.items():
            t0 = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t0) * 1e3)

    base = statistics.median(times["naive: full upsample then crop, 10 inst."])
    print(f"mask post-processing, one core, {args.runs} interleaved runs (median, p10-p90 in ms)\n")
    print(f"| {'subject':<46} | median ms | p10-p90 ms | vs naive | output MB | target |")
    print(f"|{'-' * 48}|-----------|------------|----------|-----------|--------|")
    for k, ts in times.items():
        q = np.percentile(ts, [10, 90])
        med = statistics.median(ts)
        target = ""
        if k.startswith("prototype_masks, 10 inst. -> 640x640 image"):
            target = "PASS" if med <= TARGET_MS else "FAIL"
        print(f"| {k:<46} | {med:9.3f} | {q[0]:4.2f}-{q[1]:5.2f} | {med / base:7.2f}x | "
              f"{outputs[k].nbytes / 1e6:9.2f} | {target:>6} |")  # fmt: skip
    print(f"\ntarget: 10 instances -> 640x640 image <= {TARGET_MS} ms; output bytes = instances x H x W (bool)")


if __name__ == "__main__":
    main()
