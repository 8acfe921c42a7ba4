"""Throughput of ``lite.distributed`` on a local Ray vs the single-process CLI.

On the 128 COCO images (``val2017_128``, optionally repeated ``--repeat`` times), for each backend:

* ``cli``: ``lite detect DIR --threads 1`` in a fresh process (wall time: start, model load, loop);
* ``loop``: the same detector in this process, a plain ``detect()`` loop (no start-up);
* ``ray Nx1``: :func:`lite.distributed.detect_dataset` with N actors of 1 thread each, on a local
  Ray started once (``ray.init(num_cpus=CPUS)``): wall time of one run including the actors' start,
  and the images/s once the first batch came out (the pool's rate with its actors up).

The configurations run in rotating order for ``--rounds`` rounds, so a burst of load from other
work slows all of them alike; medians of images/s are reported with the ratio to ``cli``.

Run: ``python benchmarks/bench_ray.py [--rounds 3] [--repeat 1] [--backends ort ncnn] [--actors 1 2]``.
Models are read from ``$LITE_SHARED`` or ``../shared`` (never copied into the repository).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODELS = {
    "ort": ("models/yolov6lite/onnx/yolov6lite_s_320_decoded.onnx", {}),
    "ncnn": ("models/yolov6lite/ncnn/yolov6-lite-s.param", {"input_size": 320}),
}


def shared_root() -> Path:
    env = os.environ.get("LITE_SHARED")
    for c in ([Path(env)] if env else []) + [REPO.parent / "shared"]:
        if (c / "models").is_dir():
            return c
    raise SystemExit("shared assets not found: set LITE_SHARED or put them at ../shared")


def run_cli(model: Path, options: dict, paths: list[str]) -> float:
    """Seconds of ``lite detect PATHS --threads 1`` in a fresh Python process."""
    cmd = [sys.executable, "-m", "lite", "detect", *paths, "--model", str(model), "--threads", "1", "--no-progress"]
    if "input_size" in options:
        cmd += ["--input-size", str(options["input_size"])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def run_loop(model: Path, options: dict, paths: list[str]) -> float:
    """Seconds of a plain detect() loop (model already open)."""
    from lite.distributed import open_detector

    with open_detector(str(model), threads=1, **options) as det:
        det.detect(paths[0])
        t0 = time.perf_counter()
        for p in paths:
            det.detect(p)
        return time.perf_counter() - t0


def run_ray(model: Path, options: dict, paths: list[str], actors: int, batch_size: int) -> tuple[float, float]:
    """One detect_dataset run with ``actors`` actors of one thread each.

    Returns:
        ``(seconds, steady)``: wall time including the actors' start, and the images/s after the first
        batch arrived (the pool's throughput once its actors are up).
    """
    from lite.distributed import detect_dataset

    out = detect_dataset(paths, str(model), concurrency=actors, threads=1, batch_size=batch_size, **options)
    t0 = time.perf_counter()
    first, n, failed = None, 0, 0
    for b in out.iter_batches(batch_format="pyarrow", batch_size=None):
        if first is None:
            first, n_first = time.perf_counter(), b.num_rows
        n += b.num_rows
        failed += b.num_rows - b.column("error").null_count
    end = time.perf_counter()
    if n != len(paths) or failed:
        raise SystemExit(f"ray run lost or failed images: {n} rows of {len(paths)}, {failed} failed")
    steady = (n - n_first) / (end - first) if end > first and n > n_first else float("nan")
    return end - t0, steady


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
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    ray.data.DataContext.get_current().print_on_execution_start = False

    configs: list[tuple[str, str]] = []
    for b in args.backends:
        configs += [(b, "cli"), (b, "loop")] + [(b, f"ray {n}x1") for n in args.actors]
    times: dict[tuple[str, str], list[float]] = {c: [] for c in configs}
    steady: dict[tuple[str, str], list[float]] = {c: [] for c in configs}
    for r in range(args.rounds):
        order = configs[r % len(configs) :] + configs[: r % len(configs)]
        for backend, name in order:
            rel, options = MODELS[backend]
            model = shared / rel
            if name == "cli":
                s = run_cli(model, options, paths)
            elif name == "loop":
                s = run_loop(model, options, paths)
            else:
                s, rate = run_ray(model, options, paths, int(name.split()[1].split("x")[0]), args.batch_size)
                steady[(backend, name)].append(rate)
            times[(backend, name)].append(s)
            print(f"round {r + 1}: {backend:5s} {name:9s} {len(paths) / s:7.1f} images/s", file=sys.stderr)
    ray.shutdown()

    print(
        f"\n{len(paths)} images (val2017_128 x {args.repeat}), YOLOv6Lite-S 320, 1 thread per process/actor, "
        f"local Ray num_cpus={args.cpus}, {os.cpu_count()} cores, median of {args.rounds} interleaved rounds\n"
    )
    print("| backend | run | seconds | images/s | vs cli | images/s once running |")
    print("|---|---|---:|---:|---:|---:|")
    for backend in args.backends:
        base = statistics.median(times[(backend, "cli")])
        for b, name in configs:
            if b != backend:
                continue
            s = statistics.median(times[(b, name)])
            run = f"{statistics.median(steady[(b, name)]):.1f}" if steady[(b, name)] else "(same)"
            print(f"| {b} | {name} | {s:.2f} | {len(paths) / s:.1f} | {base / s:.2f}x | {run} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
