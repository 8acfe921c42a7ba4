"""Live streams and tracking cost: prints tables (not a test).

1. Several RTSP streams (GStreamer's RTSP server, ``tests/rtsp_server.py``, run with the system python, each
   looping a real image as 10 fps H.264) read together by `lite.data.sources` (latest-frame mode) and detected with
   one model (ONNX Runtime as the live loop of ``lite detect`` opens it: idle threads sleep; ``--spinning on`` for
   the engine's default), frames of the streams batched per engine call: FPS per stream, latency capture → result
   p50/p95, dropped frames, and the latency of the first and the last fifth of the run (a growing lag shows there);
   then where the time went: load average, CPU of this process and of the servers, decode and detect times.
2. Tracking cost per frame for N moving objects: lite's `Tracker` and the tracker libraries it could use, each
   as its documentation shows, every one in its own process (``--path LIB=DIR`` puts a folder first on its path,
   e.g. an older supervision installed with ``pip install --target``), interleaved round by round, medians.

    python benchmarks/bench_streams.py --streams 4 --duration 120
    python benchmarks/bench_streams.py --skip-streams --objects 20 --rounds 7 --path supervision=/tmp/sv0309
        --path bytetracker=/tmp/other --path ocsort=/tmp/other --path boxmot=/tmp/other ...  (one line)"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc), 0 where unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _TimedCapture:
    """A ``cv2.VideoCapture`` whose ``read`` is timed in CPU time of the reader thread (FFmpeg's receive and decode;
    the wait for the next frame costs none). FFmpeg's own decoding threads are not counted: the process total is."""

    def __init__(self, cap: Any, spent: list[float]) -> None:
        self._cap, self._spent = cap, spent

    def read(self) -> tuple[bool, Any]:
        t0 = time.thread_time()
        out = self._cap.read()
        self._spent.append(time.thread_time() - t0)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cap, name)


def bench_streams(model: Path, n: int, fps: int, duration: float, threads: int | None, spinning: bool) -> None:
    import lite.data.sources as sources
    from lite.cv import Detector
    from lite.cv.track import detect_frames

    shared = shared_root()
    images = sorted((shared / "images").glob("*.jpg"))[:n]
    images = (images * n)[:n]
    decode: list[float] = []  # seconds of each cap.read() over every stream
    real_capture = sources._capture
    sources._capture = lambda target, timeout: _TimedCapture(real_capture(target, timeout), decode)
    with tempfile.TemporaryDirectory() as tmp:
        procs, urls = _start_servers(images, fps, Path(tmp))
        det = Detector.from_file(model, threads=threads, **({"spinning": spinning} if model.suffix == ".onnx" else {}))
        lat: list[list[tuple[float, float]]] = [[] for _ in urls]  # (time, latency ms) per stream
        first: list[float | None] = [None] * n
        sizes: list[int] = []
        engine: list[float] = []  # seconds of detect_frames per batch
        loads: list[float] = []
        try:
            with sources.open_sources(urls, timeout=15) as reader:
                t_end = t_start = None
                for batch in reader.batches():
                    t0 = time.perf_counter()
                    results = detect_frames(det, [f.image for f in batch])
                    done = time.perf_counter()
                    if t_start is not None:
                        sizes.append(len(batch))
                        engine.append(done - t0)
                    for f, _ in zip(batch, results, strict=True):
                        first[f.source_index] = first[f.source_index] or f.captured
                        lat[f.source_index].append((done, (done - f.captured) * 1e3))
                    if t_end is None and all(x is not None for x in first):
                        t_start, t_end = done, done + duration  # the clock starts once every stream delivers
                        cpu0, servers0, decode0 = time.process_time(), [_cpu_seconds(p.pid) for p in procs], len(decode)
                        consumer0 = time.thread_time()
                        next_load = done
                    if t_start is not None and done >= next_load:
                        loads.append(os.getloadavg()[0])
                        next_load = done + 10.0
                    if t_end is not None and done >= t_end:
                        break
                wall = time.perf_counter() - t_start
                cpu = time.process_time() - cpu0
                consumer = time.thread_time() - consumer0
                servers = sum(_cpu_seconds(p.pid) for p in procs) - sum(servers0)
                stats = reader.stats
        finally:
            sources._capture = real_capture
            det.close()
            for p in procs:
                p.terminate()
                p.wait(5)
    print(f"\n{n} RTSP streams at {fps} fps (640x480 H.264), {model.name}, {duration:.0f} s, {len(sizes)} engine "
          f"batches, threads={threads}, spinning={spinning}")  # fmt: skip
    print("| stream | FPS | latency p50 (ms) | latency p95 (ms) | p50 first fifth | p50 last fifth | dropped |")
    print("|---|---|---|---|---|---|---|")
    for i, rows in enumerate(lat):
        rows = [r for r in rows if r[0] >= t_start]
        t = np.array([r[0] for r in rows])
        ms = np.array([r[1] for r in rows])
        span = t[-1] - t[0] if len(t) > 1 else float("nan")
        k = max(len(ms) // 5, 1)
        print(
            f"| {i} | {(len(ms) - 1) / span:.1f} | {np.median(ms):.0f} | {np.percentile(ms, 95):.0f} | "
            f"{np.median(ms[:k]):.0f} | {np.median(ms[-k:]):.0f} | {stats[i].dropped} |"
        )
    reads = np.array(decode[decode0:]) * 1e3
    frames = sum(sizes)
    print(f"\nwhere the time went ({wall:.0f} s measured; 2 cores = 200 %):")
    print("| what | figure |")
    print("|---|---|")
    print(f"| load average (1 min) during the run: min / median / max | {min(loads):.1f} / {np.median(loads):.1f} / "
          f"{max(loads):.1f} |")  # fmt: skip
    print(f"| this process's CPU (readers + engine + Python) | {cpu / wall * 100:.0f} % |")
    print(f"| the {n} RTSP servers' CPU (GStreamer JPEG decode + x264 encode) | {servers / wall * 100:.0f} % |")
    print(f"| frames decoded per s, all streams (cap.read) | {len(reads) / wall:.1f} |")
    print(f"| cap.read CPU time of the reader thread per frame, mean | {reads.mean():.1f} ms |")
    print(f"| engine calls: frames per batch (mean) | {frames / max(len(sizes), 1):.2f} |")
    print(f"| detect wall time per frame (pre + engine + post), p50 of batches / frames | "
          f"{np.median(np.array(engine) / np.array(sizes)) * 1e3:.1f} ms |")  # fmt: skip
    print(f"| share of the consumer's wall time in detect | {sum(engine) / wall * 100:.0f} % |")
    print(f"| the consumer thread's CPU (detect calls, Python) | {consumer / wall * 100:.0f} % |")


def _sequence(objects: int, frames: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``frames`` frames of ``objects`` boxes moving in straight lines with 1 px noise: (xyxy, scores, classes)."""
    rng = np.random.default_rng(0)
    start = rng.uniform(0, 1200, (objects, 2))
    vel = rng.uniform(-4, 4, (objects, 2))
    wh = rng.uniform(20, 80, (objects, 2))
    seq = []
    for f in range(frames):
        xy = start + vel * f + rng.normal(0, 1.0, (objects, 2))
        seq.append((np.hstack([xy, xy + wh]), rng.uniform(0.6, 0.95, objects), rng.integers(0, 3, objects)))
    return seq


def _candidate(name: str) -> tuple[Any, Any]:
    """``(convert, step)`` of one tracker library: ``convert(xyxy, scores, classes)`` gives its input, ``step``
    runs one frame. Each is used as its documentation shows, with tracks confirmed on their first frame."""
    if name.startswith("lite:"):  # lite's Tracker: the library call plus lite's conversion and re-ordering
        from lite.cv.track import Tracker
        from lite.data.detections import Detections

        t = Tracker(name[5:])
        return (lambda b, s, c: Detections(b, s, c)), t.update
    if name.startswith("trackers:"):  # Roboflow trackers on ready supervision detections, lite's settings
        import supervision as sv
        import trackers

        from lite.cv.track import _DEFAULTS, TRACKERS

        tr = getattr(trackers, TRACKERS[name[9:]])(**_DEFAULTS[name[9:]])
        return (lambda b, s, c: sv.Detections(xyxy=b, confidence=s, class_id=c)), tr.update
    if name == "supervision:bytetrack":  # sv.ByteTrack: supervision <= 0.30.9 (removed in 0.31)
        import supervision as sv

        sv_t = sv.ByteTrack(minimum_consecutive_frames=1)
        return (lambda b, s, c: sv.Detections(xyxy=b, confidence=s, class_id=c)), sv_t.update_with_detections
    if name in ("bytetracker", "ocsort"):  # the packaged reference code of ByteTrack / OC-SORT: torch tensors in
        import torch

        if name == "bytetracker":
            from bytetracker import BYTETracker

            ref = BYTETracker()
        else:
            from ocsort import OCSort

            ref = OCSort(det_thresh=0.3)
        return (lambda b, s, c: torch.from_numpy(np.c_[b, s, c])), (lambda d: ref.update(d, None))
    if name.startswith("boxmot:"):  # BoxMOT's Python trackers (its C++ ones need a CMake build against OpenCV)
        import boxmot

        bm = {"bytetrack": boxmot.ByteTrack, "ocsort": boxmot.OcSort}[name[7:]]()
        return (lambda b, s, c: np.c_[b, s, c]), (lambda d: bm.update(d, None))
    if name == "motpy":
        from motpy import Detection, MultiObjectTracker

        mp = MultiObjectTracker(dt=1 / 30)
        return (
            lambda b, s, c: [Detection(box=x, score=y, class_id=z) for x, y, z in zip(b, s, c, strict=True)]
        ), mp.step
    if name == "norfair":
        import norfair

        nf = norfair.Tracker(distance_function="iou", distance_threshold=0.7, initialization_delay=0)
        return (
            lambda b, s, c: [
                norfair.Detection(points=x.reshape(2, 2), scores=np.array([y, y]), label=int(z))
                for x, y, z in zip(b, s, c, strict=True)
            ]
        ), nf.update
    raise SystemExit(f"unknown tracker candidate {name!r}")


def _lite_part(objects: int, frames: int) -> float:
    """lite's own part of `Tracker.update` (ByteTrack) in ms per frame: lite's call and the ``trackers`` package's
    call on ready supervision detections, alternated frame by frame on the same sequence, median difference."""
    import supervision as sv
    import trackers

    from lite.cv.track import _DEFAULTS, Tracker
    from lite.data.detections import Detections

    seq = _sequence(objects, frames)
    dets = [Detections(b, s, c) for b, s, c in seq]
    svs = [sv.Detections(xyxy=b, confidence=s, class_id=c) for b, s, c in seq]
    lite_t, raw = Tracker("bytetrack"), trackers.ByteTrackTracker(**_DEFAULTS["bytetrack"], frame_rate=30.0)
    diff = []
    for d, x in zip(dets, svs, strict=True):
        t0 = time.perf_counter()
        lite_t.update(d)
        t1 = time.perf_counter()
        raw.update(x)
        diff.append((t1 - t0) - (time.perf_counter() - t1))
    return float(np.median(diff[1:])) * 1e3


def _tracking_worker(name: str, objects: int, frames: int) -> None:
    """One measurement in this process: prints ms per frame (conversion included), or why it cannot run."""
    import warnings

    warnings.simplefilter("ignore")  # deprecation warnings of old packages
    if name == "lite's part":
        print(f"ms {_lite_part(objects, frames):.4f}")
        return
    try:
        convert, step = _candidate(name)
    except ImportError as e:
        print(f"missing {e.name or e}")
        return
    seq = _sequence(objects, frames)
    step(convert(*seq[0]))  # the first call may import lazily
    t0 = time.perf_counter()
    for b, s, c in seq[1:]:
        step(convert(b, s, c))
    print(f"ms {(time.perf_counter() - t0) / (frames - 1) * 1e3:.4f}")


CANDIDATES = (
    "lite:bytetrack",
    "lite:sort",
    "lite:ocsort",
    "trackers:bytetrack",
    "trackers:sort",
    "trackers:ocsort",
    "supervision:bytetrack",
    "bytetracker",
    "ocsort",
    "boxmot:bytetrack",
    "boxmot:ocsort",
    "motpy",
    "norfair",
    "lite's part",
)


def bench_tracking(objects: int, frames: int, rounds: int, paths: dict[str, str], only: list[str] | None) -> None:
    """Every candidate in its own process (so that e.g. an old supervision can come from its own folder),
    round by round: the candidates of one round see the same machine load."""
    names = only or list(CANDIDATES)
    per: dict[str, list[float]] = {n: [] for n in names}
    why: dict[str, str] = {}
    for _ in range(rounds):
        for name in names:
            if name in why:
                continue
            env = dict(os.environ)
            extra = paths.get(name.split(":")[0]) or paths.get(name)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (extra, str(REPO), env.get("PYTHONPATH")) if p)
            cmd = [sys.executable, __file__, "--tracking-worker", name, "--objects", str(objects),
                   "--frames", str(frames)]  # fmt: skip
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            last = (out.stdout.strip().splitlines() or [f"failed: {out.stderr.strip()[-200:]}"])[-1]
            if last.startswith("ms "):
                per[name].append(float(last[3:]))
            else:
                why[name] = last
    print(f"\ntracking cost per frame, {objects} objects, {frames} frames x {rounds} rounds (median of rounds)")
    print("| tracker (library: class) | ms / frame | ratio to lite:bytetrack |")
    print("|---|---|---|")
    base = float(np.median(per[names[0]])) if per[names[0]] else float("nan")
    for name in names:
        if per[name]:
            print(f"| {name} | {np.median(per[name]):.3f} | {np.median(per[name]) / base:.2f} |")
        else:
            print(f"| {name} | {why.get(name, 'not run')} | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="default: Lite-S 320 decoded ONNX of the shared assets")
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--duration", type=float, default=120.0, help="seconds of measurement")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--spinning", choices=("on", "off"), default="off",
                    help="ONNX Runtime's idle threads spin or sleep (default off: what `lite detect` on a live "
                         "source does, lite.cli._live.live_engine_options)")  # fmt: skip
    ap.add_argument("--objects", type=int, default=20)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--skip-streams", action="store_true")
    ap.add_argument("--trackers", nargs="*", default=None, metavar="NAME",
                    help=f"tracking candidates (default: all of {', '.join(CANDIDATES)})")  # fmt: skip
    ap.add_argument("--path", action="append", default=[], metavar="LIB=DIR",
                    help="import LIB's candidates with DIR first on sys.path (e.g. supervision=/tmp/sv)")  # fmt: skip
    ap.add_argument("--tracking-worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.tracking_worker:
        _tracking_worker(args.tracking_worker, args.objects, args.frames)
        return
    if not args.skip_streams:
        model = args.model or shared_root() / "models/yolov6lite/onnx/yolov6lite_s_320_decoded.onnx"
        bench_streams(model, args.streams, args.fps, args.duration, args.threads, args.spinning == "on")
    paths = dict(p.split("=", 1) for p in args.path)
    bench_tracking(args.objects, args.frames, args.rounds, paths, args.trackers)


if __name__ == "__main__":
    main()
