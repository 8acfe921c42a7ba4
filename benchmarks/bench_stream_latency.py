"""Latency of ``Detector.detect_stream`` on a live source, and how fast ``close()`` returns while it blocks.

A generator plays a camera: one 640x480 frame every ``--interval`` seconds. For each result, the latency is
the time from the frame leaving the camera to its detections reaching the loop; the table gives the median
and the largest over ``--frames`` frames, next to one plain ``detect()`` call on the same frame (the floor).
Then the camera stalls (blocks for 30 s) and ``close()`` is timed.

Run: ``python benchmarks/bench_stream_latency.py [--interval 1.0] [--frames 6]`` (the bundled demo model, NCNN
or ONNX Runtime as installed; no shared assets needed).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--frames", type=int, default=6)
    args = ap.parse_args()

    import numpy as np

    from lite.cv import YOLOv6
    from lite.demo.scenes import make_scene

    frame = make_scene(np.random.default_rng(0), size=(480, 640))[0]
    sent: dict[int, float] = {}

    def camera():
        for i in range(args.frames):
            if i:
                time.sleep(args.interval)
            sent[i] = time.perf_counter()
            yield frame

    with YOLOv6(REPO / "hub" / "lite-demo-shapes.onnx", threads=1) as det:
        det.detect(frame)
        t0 = time.perf_counter()
        for _ in range(5):
            det.detect(frame)
        one = (time.perf_counter() - t0) / 5
        lags = []
        for i, _ in enumerate(det.detect_stream(camera())):
            lags.append(time.perf_counter() - sent[i])

        stall = threading.Event()

        def stalled():
            yield frame
            stall.wait(30)
            yield frame

        gen = det.detect_stream(stalled())
        next(gen)
        t0 = time.perf_counter()
        gen.close()
        closed = time.perf_counter() - t0
        stall.set()
    print(f"\nlive source: one frame every {args.interval:g} s, {args.frames} frames, demo model, 1 thread\n")
    print("| what | seconds |")
    print("|---|---:|")
    print(f"| one detect() call | {one:.3f} |")
    print(f"| stream latency, median | {statistics.median(lags):.3f} |")
    print(f"| stream latency, max | {max(lags):.3f} |")
    print(f"| close() while the source blocks | {closed:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
