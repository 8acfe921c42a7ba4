"""Each engine's end-to-end ``detect()`` against its own raw inference call, for YOLOv6Lite-S/M/L.

Engines: ONNX Runtime on the raw and on the decoded ONNX files (320×320), the official NCNN
models (at 320×320), and an MNN conversion of the raw ONNX made on the fly in a temporary
folder. For every engine, in one process, with the same thread count:

* ``raw``: the engine's bare call on a prepared tensor (``backend.raw_runner(feed)``:
  ``session.run`` for ONNX Runtime, a new extractor + ``input`` + ``extract`` for NCNN,
  ``module.forward`` for MNN);
* ``detect``: ``detector.detect(image)`` on a decoded BGR image: letterbox, inference,
  decode, NMS, boxes back to the image.

The two are timed alternately (one raw call, one detect call, ...) so that load changes on a
shared machine hit both alike; the medians over ``--runs`` runs after ``--warmup`` runs are
reported, with the 90th percentile.

Usage::

    python benchmarks/bench_backends.py                       # S, M, L; 2 threads; 100 runs
    python benchmarks/bench_backends.py --models s --runs 300 --threads 1
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lite.cv.yolov6 import YOLOv6  # noqa: E402
from lite.io import load_image  # noqa: E402


def shared_root(given: str | None) -> Path:
    """The shared assets folder (``--shared``, ``$LITE_SHARED`` or ``../shared``)."""
    for c in (given, os.environ.get("LITE_SHARED"), REPO.parent / "shared"):
        if c and (Path(c) / "models").is_dir():
            return Path(c)
    raise SystemExit("shared assets not found: pass --shared or set LITE_SHARED")


def time_pair(raw: Callable[[], object], detect: Callable[[], object], runs: int, warmup: int) -> dict[str, float]:
    """Alternate ``raw`` and ``detect``; wall-clock medians and 90th percentiles, and CPU-time medians, in ms.

    CPU time (``time.process_time``: all threads of this process) is reported too because on a
    shared machine the wall clock also measures the neighbours; with one thread it is the
    latency an idle machine would show, with more it is the total work.
    """
    for _ in range(warmup):
        raw()
        detect()
    t_raw, t_det, c_raw, c_det = (np.empty(runs) for _ in range(4))
    clock, cpu = time.perf_counter, time.process_time
    for i in range(runs):
        t0, u0 = clock(), cpu()
        raw()
        t1, u1 = clock(), cpu()
        detect()
        t2, u2 = clock(), cpu()
        t_raw[i], t_det[i], c_raw[i], c_det[i] = t1 - t0, t2 - t1, u1 - u0, u2 - u1
    return {
        "raw": float(np.median(t_raw) * 1e3),
        "raw_p90": float(np.percentile(t_raw, 90) * 1e3),
        "detect": float(np.median(t_det) * 1e3),
        "detect_p90": float(np.percentile(t_det, 90) * 1e3),
        "raw_cpu": float(np.median(c_raw) * 1e3),
        "detect_cpu": float(np.median(c_det) * 1e3),
    }


def bench_detector(det: YOLOv6, image: np.ndarray, runs: int, warmup: int) -> dict[str, float]:
    tensor, _ = det.preprocess(image)
    raw = det.backend.raw_runner({det.input_name: tensor})
    result = time_pair(raw, lambda: det.detect(image), runs, warmup)
    result["detections"] = float(len(det.detect(image)))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="s,m,l", help="comma-separated sizes among s, m, l")
    ap.add_argument("--image", default=None, help="image (default: shared images/bus.jpg)")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shared", default=None, help="shared assets folder")
    args = ap.parse_args(argv)
    if args.runs < 100:
        print(f"note: {args.runs} runs; the medians are steadier with >= 100", file=sys.stderr)

    from lite.convert import onnx_to_mnn

    shared = shared_root(args.shared)
    onnx_dir = shared / "models" / "yolov6lite" / "onnx"
    ncnn_dir = shared / "models" / "yolov6lite" / "ncnn"
    image = load_image(args.image or shared / "images" / "bus.jpg")
    th = args.threads
    import importlib.metadata

    import ncnn
    import onnxruntime

    print(f"# lite backend benchmark: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}, threads={th}, runs={args.runs} (median, p90), "
          f"image {image.shape[1]}x{image.shape[0]}")  # fmt: skip
    mnn_version = importlib.metadata.version("MNN")  # not ``import MNN``: it prints to stdout
    print(
        f"# onnxruntime {onnxruntime.__version__}, ncnn {ncnn.__version__}, MNN {mnn_version}, "
        f"python {platform.python_version()}"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="lite-bench-") as tmp:
        for size in args.models.split(","):
            raw_onnx = onnx_dir / f"yolov6lite_{size}_320_raw.onnx"
            mnn_path = onnx_to_mnn(raw_onnx, Path(tmp) / f"lite_{size}.mnn", progress=False)
            decoded = onnx_dir / f"yolov6lite_{size}_320_decoded.onnx"
            param = ncnn_dir / f"yolov6-lite-{size}.param"
            engines: list[tuple[str, Callable[[], YOLOv6]]] = [
                ("ort raw", lambda p=raw_onnx: YOLOv6(p, threads=th)),
                ("ort decoded", lambda p=decoded: YOLOv6(p, threads=th)),
                ("ncnn official", lambda p=param: YOLOv6(p, input_size=320, threads=th)),
                ("mnn converted", lambda p=mnn_path: YOLOv6(p, threads=th)),
            ]
            for engine, make in engines:
                det = make()
                r = bench_detector(det, image, args.runs, args.warmup)
                det.close()
                rows.append((f"Lite-{size.upper()}", engine, r))
                print(f"  measured Lite-{size.upper()} {engine}", file=sys.stderr, flush=True)

    head = (
        f"{'model':<7} {'engine':<14} {'raw ms':>8} {'p90':>7} {'detect ms':>10} {'p90':>7} {'overhead':>9}"
        f" {'raw cpu':>8} {'det cpu':>8} {'ovh cpu':>8} {'dets':>5}"
    )
    print(head)
    print("-" * len(head))
    for model, engine, r in rows:
        print(
            f"{model:<7} {engine:<14} {r['raw']:>8.2f} {r['raw_p90']:>7.2f} {r['detect']:>10.2f} "
            f"{r['detect_p90']:>7.2f} {r['detect'] - r['raw']:>+9.2f} {r['raw_cpu']:>8.2f} {r['detect_cpu']:>8.2f} "
            f"{r['detect_cpu'] - r['raw_cpu']:>+8.2f} {int(r['detections']):>5}"
        )
    print()
    for model in dict.fromkeys(m for m, _, _ in rows):
        mine = [(e, r) for m, e, r in rows if m == model]
        parts = []
        for key, label in (("raw", "raw"), ("detect", "detect()"), ("detect_cpu", "detect() CPU time")):
            engine, r = min(mine, key=lambda er, k=key: er[1][k])
            parts.append(f"{label}: {engine} ({r[key]:.2f} ms)")
        print(f"{model} fastest: " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
