"""Speed of lite's own code (no inference engine): pre-processing and decode + NMS.

Targets (issue 5): on a 2-core CPU each of these takes under 2 ms (median):

* letterbox of a 1080p BGR image (1920x1080) to a 640x640 network tensor;
* decode + NMS of a YOLOv6 640 output: 8,400 anchors x 80 classes, scores mostly low
  with a few dozen anchors above the threshold (a realistic frame), conf 0.25, IoU 0.45.

Other rows (the same at 320, the per-level "raw" layout, the post-processing a Detector
adds, and the COCO-evaluation setting: conf 0.03, multi-label) are printed for context,
without a target.

Run: ``python benchmarks/bench_core.py [--runs 300]``. The CPU may be shared with other
work, so medians are reported (and the spread, to judge the contention).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lite.data.detections import Detections  # noqa: E402
from lite.ops.decoders.yolov6 import detect_layout, postprocess, refine_layout  # noqa: E402
from lite.ops.letterbox import Letterbox  # noqa: E402

TARGET_MS = 2.0


def timeit(fn: Callable[[], Any], runs: int, warmup: int) -> list[float]:
    """Wall times (ms) of ``runs`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def photo_like(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A BGR uint8 image with photo-like content (smooth gradients, edges, noise), not a constant."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(h // 40 + 2, w // 40 + 2, 3), dtype=np.uint8)
    import cv2

    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    noise = rng.integers(-12, 13, size=(h, w, 3), dtype=np.int16)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def anchor_centres(size: int, strides: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres (x, y) in input pixels of every anchor, level by level, row-major."""
    xs, ys = [], []
    for s in strides:
        n = size // s
        gy, gx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        xs.append((gx.ravel() + 0.5) * s)
        ys.append((gy.ravel() + 0.5) * s)
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.float32)


def realistic_scores(n: int, nc: int, rng: np.random.Generator, objects: int, per_object: int) -> tuple:
    """Class scores of a typical frame: background anchors low, ``objects`` x ``per_object`` anchors high.

    Returns ``(scores (n, nc) float32, hot anchor indices, their class ids)``.
    """
    # Background: sigmoid outputs of a trained detector (YOLOv6Lite-S on COCO images: median 0.002,
    # 99th percentile 0.05), plus a halo of 0.5 % moderate scores (0.02-0.2) around objects.
    scores = rng.beta(0.5, 120.0, size=(n, nc)).astype(np.float32)
    halo = rng.random(size=(n, nc)) < 0.005
    scores[halo] = rng.uniform(0.02, 0.2, size=int(halo.sum())).astype(np.float32)
    hot = rng.choice(n, size=objects * per_object, replace=False)
    cls = np.repeat(rng.integers(0, nc, size=objects), per_object)
    scores[hot, cls] = rng.uniform(0.3, 0.95, size=hot.size).astype(np.float32)
    return scores, hot, cls


def decoded_output(size: int = 640, nc: int = 80, seed: int = 0, objects: int = 12, per_object: int = 4) -> np.ndarray:
    """A ``(1, N, 5 + nc)`` YOLOv6 decoded output: ``objects`` objects, each seen by ``per_object`` anchors."""
    rng = np.random.default_rng(seed)
    strides = (8, 16, 32)
    cx, cy = anchor_centres(size, strides)
    n = cx.size
    scores, hot, _ = realistic_scores(n, nc, rng, objects, per_object)
    w = rng.uniform(8, 120, size=n).astype(np.float32)
    h = rng.uniform(8, 120, size=n).astype(np.float32)
    # anchors of one object predict nearly the same box (so NMS has work to do)
    for k in range(objects):
        idx = hot[k * per_object : (k + 1) * per_object]
        bx, by = rng.uniform(60, size - 60, 2)
        bw, bh = rng.uniform(20, 200, 2)
        cx[idx] = bx + rng.normal(0, 2, idx.size)
        cy[idx] = by + rng.normal(0, 2, idx.size)
        w[idx] = bw * rng.uniform(0.95, 1.05, idx.size)
        h[idx] = bh * rng.uniform(0.95, 1.05, idx.size)
    out = np.concatenate([np.stack([cx, cy, w, h, np.ones(n, np.float32)], axis=1), scores], axis=1)
    return out[None].astype(np.float32)


def heads_outputs(size: int = 640, nc: int = 80, seed: int = 0, objects: int = 12, per_object: int = 4) -> dict:
    """Per-level ``(1, nc + 4, H/s, W/s)`` outputs (classes first, sigmoided, l t r b in stride units)."""
    rng = np.random.default_rng(seed)
    strides = (8, 16, 32)
    n = sum((size // s) ** 2 for s in strides)
    scores, hot, _ = realistic_scores(n, nc, rng, objects, per_object)
    dist = rng.uniform(0.5, 6.0, size=(n, 4)).astype(np.float32)
    outs, start = {}, 0
    for i, s in enumerate(strides):
        g = size // s
        part = np.concatenate([scores[start : start + g * g], dist[start : start + g * g]], axis=1)
        outs[f"out{i}"] = np.ascontiguousarray(part.T.reshape(1, nc + 4, g, g))
        start += g * g
    return outs


def row(name: str, times: list[float], target: float | None) -> str:
    med = statistics.median(times)
    p90 = float(np.percentile(times, 90))
    verdict = "" if target is None else ("PASS" if med < target else "FAIL")
    tgt = "" if target is None else f"< {target:.1f}"
    return f"{name:<58} {med:>8.3f} {statistics.fmean(times):>8.3f} {p90:>8.3f} {min(times):>8.3f} {tgt:>6} {verdict}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    args = ap.parse_args(argv)
    r, w = args.runs, args.warmup
    rows: list[str] = []

    # -- pre-processing ---------------------------------------------------------------
    img1080 = photo_like(1080, 1920)
    lb640 = Letterbox(640)
    rows.append(row("letterbox 1920x1080 -> 640x640 tensor", timeit(lambda: lb640(img1080), r, w), TARGET_MS))
    lb320 = Letterbox(320)
    rows.append(row("letterbox 1920x1080 -> 320x320 tensor", timeit(lambda: lb320(img1080), r, w), None))
    img_bus = photo_like(1080, 810)
    rows.append(row("letterbox 810x1080 (bus.jpg size) -> 320x320", timeit(lambda: lb320(img_bus), r, w), None))

    # -- decode + NMS -----------------------------------------------------------------
    out = decoded_output()
    outputs = {"outputs": out}
    spec = refine_layout(detect_layout({"outputs": out.shape}), outputs)
    hw = (640, 640)
    above = int((out[0, :, 5:] > 0.25).sum())
    dec = postprocess(outputs, spec, hw, conf=0.25, iou=0.45, max_det=100)[0]

    def dec_nms() -> Any:
        return postprocess(outputs, spec, hw, conf=0.25, iou=0.45, max_det=100)

    rows.append(row(f"decode+NMS decoded 8400x80 ({above} > 0.25 -> {len(dec)} kept)", timeit(dec_nms, r, w),
                    TARGET_MS))  # fmt: skip

    t = lb640.geometry((1080, 1920))
    names = tuple(f"c{i}" for i in range(80))

    def post() -> Any:
        c = postprocess(outputs, spec, hw, conf=0.25, iou=0.45, max_det=100)[0]
        return Detections(t.to_original(c.boxes), c.scores, c.class_ids, names)

    rows.append(row("  + boxes to 1080p + Detections (Detector.postprocess)", timeit(post, r, w), None))

    heads = heads_outputs()
    hspec = refine_layout(detect_layout({k: v.shape for k, v in heads.items()}), heads)
    hk = len(postprocess(heads, hspec, hw, conf=0.25, iou=0.45)[0])
    rows.append(row(f"postprocess raw 3 levels, 8400x80 ({hk} kept)",
                    timeit(lambda: postprocess(heads, hspec, hw, conf=0.25, iou=0.45), r, w), None))  # fmt: skip

    n_eval = int((out[0, :, 5:] > 0.03).sum())
    rows.append(row(f"decode+NMS 8400x80, eval setting, conf .03, {n_eval} scattered cand.",
                    timeit(lambda: postprocess(outputs, spec, hw, conf=0.03, iou=0.65, max_det=300, multi_label=True,
                                          pre_nms_topk=30000), max(r // 10, 10), 3), None))  # fmt: skip

    out320 = decoded_output(size=320)
    o320 = {"outputs": out320}
    s320 = refine_layout(detect_layout({"outputs": out320.shape}), o320)
    rows.append(row("decode+NMS decoded 2100x80 (320 input)",
                    timeit(lambda: postprocess(o320, s320, (320, 320), conf=0.25, iou=0.45), r, w), None))  # fmt: skip

    head = f"{'operation':<58} {'median':>8} {'mean':>8} {'p90':>8} {'min':>8} {'target':>6}"
    print(head)
    print("-" * (len(head) + 5))
    print("\n".join(rows))
    print(f"\ntimes in ms over {r} runs after {w} warm-up runs; numpy {np.__version__}; "
          f"targets are medians")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
