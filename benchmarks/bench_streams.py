"""Live streams and tracking cost: prints two tables (not a test).

1. Several RTSP streams (GStreamer's RTSP server, ``tests/rtsp_server.py``, run with the system python, each
   looping a real image as 10 fps H.264) read together by `lite.data.sources` (latest-frame mode) and detected with
   one model, frames of the streams batched per engine call: FPS per stream, latency capture → result p50/p95,
   dropped frames, and the latency of the first and the last fifth of the run (a growing lag shows there).
2. Tracking cost per frame for N moving objects, the trackers interleaved round by round (median over rounds).

    python benchmarks/bench_streams.py --streams 4 --duration 120
    python benchmarks/bench_streams.py --skip-streams --objects 20
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import REPO, shared_root  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_servers(images: list[Path], fps: int, tmp: Path) -> tuple[list[subprocess.Popen], list[str]]:
    procs, urls = [], []
    for i, src in enumerate(images):
        img = cv2.resize(cv2.imread(str(src)), (640, 480))
        path = tmp / f"stream{i}.jpg"
        cv2.imwrite(str(path), img)
        port = _free_port()
        p = subprocess.Popen(
            [SYSTEM_PYTHON, str(REPO / "tests" / "rtsp_server.py"), str(port), str(path), str(fps)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        if p.stdout is None or p.stdout.readline().strip() != "ready":
            raise SystemExit("the RTSP server did not start (apt-get install gir1.2-gst-rtsp-server-1.0 ...)")
        procs.append(p)
        urls.append(f"rtsp://127.0.0.1:{port}/test")
    return procs, urls


def bench_streams(model: Path, n: int, fps: int, duration: float, threads: int | None) -> None:
    from lite.cv import Detector
    from lite.cv.track import detect_frames
    from lite.data.sources import open_sources

    shared = shared_root()
    images = sorted((shared / "images").glob("*.jpg"))[:n]
    images = (images * n)[:n]
    with tempfile.TemporaryDirectory() as tmp:
        procs, urls = _start_servers(images, fps, Path(tmp))
        det = Detector.from_file(model, threads=threads)
        lat: list[list[tuple[float, float]]] = [[] for _ in urls]  # (time, latency ms) per stream
        first: list[float | None] = [None] * n
        batches = 0
        try:
            with open_sources(urls, timeout=15) as reader:
                t_end = None
                for batch in reader.batches():
                    results = detect_frames(det, [f.image for f in batch])
                    done = time.perf_counter()
                    batches += 1
                    for f, _ in zip(batch, results, strict=True):
                        first[f.source_index] = first[f.source_index] or f.captured
                        lat[f.source_index].append((done, (done - f.captured) * 1e3))
                    if t_end is None and all(x is not None for x in first):
                        t_end = done + duration  # the clock starts once every stream delivers
                    if t_end is not None and done >= t_end:
                        break
                stats = reader.stats
        finally:
            det.close()
            for p in procs:
                p.terminate()
                p.wait(5)
    print(f"\n{n} RTSP streams at {fps} fps (640x480 H.264), {model.name}, {duration:.0f} s, {batches} engine batches")
    print("| stream | FPS | latency p50 (ms) | latency p95 (ms) | p50 first fifth | p50 last fifth | dropped |")
    print("|---|---|---|---|---|---|---|")
    for i, rows in enumerate(lat):
        rows = [r for r in rows if r[0] >= (first[i] or 0)]
        t = np.array([r[0] for r in rows])
        ms = np.array([r[1] for r in rows])
        span = t[-1] - t[0] if len(t) > 1 else float("nan")
        k = max(len(ms) // 5, 1)
        print(
            f"| {i} | {(len(ms) - 1) / span:.1f} | {np.median(ms):.0f} | {np.percentile(ms, 95):.0f} | "
            f"{np.median(ms[:k]):.0f} | {np.median(ms[-k:]):.0f} | {stats[i].dropped} |"
        )


def bench_tracking(objects: int, frames: int, rounds: int) -> None:
    from lite.cv.track import TRACKERS, Tracker
    from lite.data.detections import Detections

    rng = np.random.default_rng(0)
    start = rng.uniform(0, 1200, (objects, 2))
    vel = rng.uniform(-4, 4, (objects, 2))
    wh = rng.uniform(20, 80, (objects, 2))
    seq = []
    for f in range(frames):
        xy = start + vel * f + rng.normal(0, 1.0, (objects, 2))
        seq.append(Detections(np.hstack([xy, xy + wh]), rng.uniform(0.6, 0.95, objects), rng.integers(0, 3, objects)))
    per: dict[str, list[float]] = {name: [] for name in TRACKERS}
    per["bytetrack, the package alone"] = []
    conv: list[float] = []
    sv_seq = [d.to_supervision() for d in seq]
    for _ in range(rounds):
        for name in TRACKERS:  # interleaved: every tracker sees the same machine load
            t = Tracker(name)
            t0 = time.perf_counter()
            for d in seq:
                t.update(d)
            per[name].append((time.perf_counter() - t0) / frames * 1e3)
        raw = Tracker("bytetrack")._tracker  # the trackers package's own call on ready supervision detections
        t0 = time.perf_counter()
        for d in sv_seq:
            raw.update(d)
        per["bytetrack, the package alone"].append((time.perf_counter() - t0) / frames * 1e3)
        t0 = time.perf_counter()
        for d in seq:
            d.to_supervision()
        conv.append((time.perf_counter() - t0) / frames * 1e3)
    print(f"\ntracking cost per frame, {objects} objects, {frames} frames x {rounds} rounds (median of rounds)")
    print("| tracker | ms / frame | ratio to bytetrack |")
    print("|---|---|---|")
    base = float(np.median(per["bytetrack"]))
    for name, v in per.items():
        print(f"| {name} | {np.median(v):.3f} | {np.median(v) / base:.2f} |")
    print(f"| (of which Detections → supervision) | {np.median(conv):.3f} | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="default: Lite-S 320 decoded ONNX of the shared assets")
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--duration", type=float, default=120.0, help="seconds of measurement")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--objects", type=int, default=20)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--skip-streams", action="store_true")
    args = ap.parse_args()
    if not args.skip_streams:
        model = args.model or shared_root() / "models/yolov6lite/onnx/yolov6lite_s_320_decoded.onnx"
        bench_streams(model, args.streams, args.fps, args.duration, args.threads)
    bench_tracking(args.objects, args.frames, args.rounds)


if __name__ == "__main__":
    main()
