"""Throughput of ``lite.tools.distributed`` on a local Ray vs the single-process CLI.

On the 128 COCO images (``val2017_128``, optionally repeated ``--repeat`` times), for each backend:

* ``cli``: ``lite detect PATHS --threads 1`` in a fresh process (start, imports, model load, loop);
* ``loop``: the same detector in this process, a plain ``detect()`` loop (model already open);
* ``ray Nx1``: :func:`lite.tools.distributed.detect_dataset` with N actors of 1 thread each on a local Ray
  started once (``ray.init(num_cpus=CPUS)``); one run, actors' start included.

Columns: wall seconds and images/s of the whole run, the ratio to ``cli``; then what the detector
work itself costs: **busy images/s per actor** (images / the actors' summed task wall time, from Ray
Data's stats; for ``loop`` its own rate) and **images per CPU-second** of the detecting processes
(Ray's task CPU time; the loop's process time; the CLI child's CPU time, start-up included). On a
machine shared with other work the wall figures swing with the load; the CPU figures much less.

The configurations run in rotating order for ``--rounds`` rounds, so load bursts hit all of them;
medians are reported.

Run: ``python benchmarks/bench_ray.py [--rounds 3] [--repeat 1] [--backends ort ncnn] [--actors 1 2]``.
Models are read from ``$LITE_SHARED`` or ``../shared`` (never copied into the repository).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
from _shared import shared_root  # noqa: E402  (benchmarks/_shared.py, beside this script)

sys.path.insert(0, str(REPO))

MODELS = {
    "ort": ("models/yolov6lite/onnx/yolov6lite_s_320_decoded.onnx", {}),
    "ncnn": ("models/yolov6lite/ncnn/yolov6-lite-s.param", {"input_size": 320}),
}
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def run_cli(model: Path, options: dict, paths: list[str]) -> tuple[float, float, float]:
    """``lite detect PATHS --threads 1`` in a fresh Python process: ``(seconds, busy_rate, cpu_seconds)``."""
    cmd = [sys.executable, "-m", "lite", "detect", *paths, "--model", str(model), "--threads", "1", "--no-progress"]
    if "input_size" in options:
        cmd += ["--input-size", str(options["input_size"])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, float("nan"), cpu


def run_loop(model: Path, options: dict, paths: list[str]) -> tuple[float, float, float]:
    """A plain detect() loop, model already open: ``(seconds, busy_rate, cpu_seconds)``."""
    from lite.tools.distributed import open_detector

    with open_detector(str(model), threads=1, **options) as det:
        det.detect(paths[0])
        t0, c0 = time.perf_counter(), time.process_time()
        for p in paths:
            det.detect(p)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return seconds, len(paths) / seconds, cpu


def _stat_total(stats: str, section: str, name: str) -> float:
    """The ``total`` of a ``* Remote ... time`` line of one operator of Ray Data's stats text, in seconds."""
    block = stats[stats.index(section) :]
    m = re.search(rf"\* {name}:.*?([\d.]+)(us|ms|s) total", block)
    if m is None:
        raise SystemExit(f"cannot read '{name}' of {section} in Ray Data's stats:\n{block[:800]}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def run_ray(model: Path, options: dict, paths: list[str], actors: int, batch_size: int) -> tuple[float, float, float]:
    """One detect_dataset run with ``actors`` actors of one thread each: ``(seconds, busy_rate, cpu_seconds)``."""
    from lite.tools.distributed import detect_dataset

    t0 = time.perf_counter()
    out = detect_dataset(paths, str(model), concurrency=actors, threads=1, batch_size=batch_size, **options)
    m = out.materialize()
    seconds = time.perf_counter() - t0
    errors = sum(b.num_rows - b.column("error").null_count for b in m.iter_batches(batch_format="pyarrow"))
    if m.count() != len(paths) or errors:
        raise SystemExit(f"ray run lost or failed images: {m.count()} rows of {len(paths)}, {errors} failed")
    stats = m.stats()
    busy = _stat_total(stats, "MapBatches(DetectorActor)", "Remote wall time")
    cpu = _stat_total(stats, "MapBatches(DetectorActor)", "Remote cpu time")
    return seconds, len(paths) / busy, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=1, help="repeat the 128 images this many times")
    ap.add_argument("--backends", nargs="+", default=["ort", "ncnn"], choices=sorted(MODELS))
    ap.add_argument("--actors", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--cpus", type=int, default=2, help="num_cpus of the local Ray")
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()

    import ray

    shared = shared_root()
    folder = shared / "coco" / "val2017_128" / "images"
    paths = [str(p) for p in sorted(folder.glob("*.jpg"))] * args.repeat
    ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False

    configs: list[tuple[str, str]] = []
    for b in args.backends:
        configs += [(b, "cli"), (b, "loop")] + [(b, f"ray {n}x1") for n in args.actors]
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {c: [] for c in configs}
    for r in range(args.rounds):
        order = configs[r % len(configs) :] + configs[: r % len(configs)]
        for backend, name in order:
            rel, options = MODELS[backend]
            model = shared / rel
            if name == "cli":
                res = run_cli(model, options, paths)
            elif name == "loop":
                res = run_loop(model, options, paths)
            else:
                res = run_ray(model, options, paths, int(name.split()[1].split("x")[0]), args.batch_size)
            results[(backend, name)].append(res)
            print(f"round {r + 1}: {backend:5s} {name:9s} {len(paths) / res[0]:7.1f} images/s", file=sys.stderr)
    ray.shutdown()

    print(
        f"\n{len(paths)} images (val2017_128 x {args.repeat}), YOLOv6Lite-S 320, 1 thread per process/actor, "
        f"local Ray num_cpus={args.cpus}, {os.cpu_count()} cores, median of {args.rounds} interleaved rounds\n"
    )
    print("| backend | run | seconds | images/s | vs cli | busy images/s per actor | images per CPU-s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for backend in args.backends:
        base = statistics.median(r[0] for r in results[(backend, "cli")])
        for b, name in configs:
            if b != backend:
                continue
            runs = results[(b, name)]
            s = statistics.median(r[0] for r in runs)
            busy = statistics.median(r[1] for r in runs)
            per_cpu = statistics.median(len(paths) / r[2] for r in runs)
            busy_text = "-" if busy != busy else f"{busy:.1f}"
            print(f"| {b} | {name} | {s:.2f} | {len(paths) / s:.1f} | {base / s:.2f}x | {busy_text} | {per_cpu:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
