"""Each engine's end-to-end ``detect()`` against its own raw inference call, for YOLOv6Lite-S/M/L.

Engines (``--backends``, default ``ort,ncnn,mnn``): any backend of lite's registry, plus ONNX
Runtime's GPU providers as ``ort-cuda`` and ``ort-trt``. ``ort`` runs the raw and the decoded ONNX
files (320×320); ``ncnn`` the official NCNN models (at 320×320); a backend that opens ``.onnx``
files (``trt``, ``ort-cuda``, ``ort-trt``, any newly registered one such as OpenVINO) runs the
decoded ONNX; any other backend (``mnn``) a conversion of the raw ONNX made on the fly in a
temporary folder. For every engine, in one process, with the same thread count:

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
    python benchmarks/bench_backends.py --backends trt,ort-trt,ort-cuda,ort --models s   # on a GPU machine
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
from _shared import shared_root  # noqa: E402  (benchmarks/_shared.py, beside this script)

sys.path.insert(0, str(REPO))

from lite import backends as registry  # noqa: E402
from lite.cv.yolov6 import YOLOv6  # noqa: E402
from lite.data.io import load_image  # noqa: E402

#: ONNX Runtime's GPU execution providers, benchmarked as backends of their own: name -> ORT device.
PROVIDER_VARIANTS = {"ort-cuda": "cuda", "ort-trt": "trt"}

DEFAULT_BACKENDS = "ort,ncnn,mnn"


def backend_choices() -> list[str]:
    """Every name ``--backends`` accepts: the registry's backends (whatever is registered) and the variants."""
    return [*registry.known(), *PROVIDER_VARIANTS]


def parse_backends(text: str) -> list[str]:
    """``--backends`` as a list of names (comma-separated, duplicates dropped, order kept).

    Raises:
        argparse.ArgumentTypeError: An empty list or an unknown name (the message lists the choices).
    """
    names = list(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    choices = backend_choices()
    unknown = [n for n in names if n not in choices]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated backends among {', '.join(choices)}; got {text!r}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    return names


@dataclass(frozen=True)
class EngineSpec:
    """One benchmarked engine: a label, the backend and device to open it with, and which model file."""

    label: str
    backend: str
    device: str | None
    source: str  # "raw onnx", "decoded onnx", "official ncnn" or "converted from raw onnx"


def plan_engines(names: Sequence[str]) -> list[EngineSpec]:
    """The engines ``--backends`` names, in order (two for ``ort``: the raw and the decoded ONNX)."""
    plan = []
    for name in names:
        if name == "ort":
            plan.append(EngineSpec("ort raw", "ort", None, "raw onnx"))
            plan.append(EngineSpec("ort decoded", "ort", None, "decoded onnx"))
        elif name in PROVIDER_VARIANTS:
            plan.append(EngineSpec(name, "ort", PROVIDER_VARIANTS[name], "decoded onnx"))
        elif name == "ncnn":
            plan.append(EngineSpec("ncnn official", "ncnn", None, "official ncnn"))
        elif ".onnx" in registry.get(name).suffixes:
            device = "cuda" if name == "trt" else None
            plan.append(EngineSpec(name, name, device, "decoded onnx"))
        else:
            plan.append(EngineSpec(f"{name} converted", name, None, "converted from raw onnx"))
    return plan


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


def open_engine(spec: EngineSpec, size: str, shared: Path, tmp: Path, threads: int) -> YOLOv6:
    """A detector for one planned engine and model size (converting the raw ONNX when the plan says so)."""
    onnx_dir = shared / "models" / "yolov6lite" / "onnx"
    raw = onnx_dir / f"yolov6lite_{size}_320_raw.onnx"
    if spec.source == "official ncnn":
        param = shared / "models" / "yolov6lite" / "ncnn" / f"yolov6-lite-{size}.param"
        return YOLOv6(param, input_size=320, threads=threads)
    if spec.source == "converted from raw onnx":
        from lite.convert import convert

        path = convert(raw, spec.backend, tmp / f"{spec.backend}-{size}", progress=False)
    else:
        path = raw if spec.source == "raw onnx" else onnx_dir / f"yolov6lite_{size}_320_decoded.onnx"
    options = {"device": spec.device} if spec.device else {}
    return YOLOv6(path, backend=spec.backend, threads=threads, **options)


def engine_versions(names: set[str]) -> str:
    """``engine version`` for the engines in use, read from package metadata (nothing imported)."""
    import importlib.metadata

    dists = {"ort": ("onnxruntime-gpu", "onnxruntime"), "ncnn": ("ncnn",), "mnn": ("MNN",),
             "trt": ("tensorrt", "tensorrt-cu12", "tensorrt-cu13"), "openvino": ("openvino",)}  # fmt: skip
    parts = []
    for name in sorted(names):
        for dist in dists.get(name, (name,)):
            try:
                parts.append(f"{dist} {importlib.metadata.version(dist)}")
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return ", ".join(parts) or "no engine versions found"


def build_parser() -> argparse.ArgumentParser:
    """The command line (``--backends`` accepts whatever the registry knows, see :func:`backend_choices`)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="s,m,l", help="comma-separated sizes among s, m, l")
    ap.add_argument(
        "--backends",
        type=parse_backends,
        default=DEFAULT_BACKENDS,
        help=f"comma-separated engines among {', '.join(backend_choices())} (default {DEFAULT_BACKENDS})",
    )
    ap.add_argument("--image", default=None, help="image (default: shared images/bus.jpg)")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shared", default=None, help="shared assets folder")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.runs < 100:
        print(f"note: {args.runs} runs; the medians are steadier with >= 100", file=sys.stderr)

    shared = shared_root(args.shared)
    image = load_image(args.image or shared / "images" / "bus.jpg")
    th = args.threads
    plan = plan_engines(args.backends)

    print(f"# lite backend benchmark: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}, threads={th}, runs={args.runs} (median, p90), "
          f"image {image.shape[1]}x{image.shape[0]}")  # fmt: skip
    print(f"# {engine_versions({e.backend for e in plan})}, python {platform.python_version()}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="lite-bench-") as tmp:
        for size in args.models.split(","):
            for spec in plan:
                det = open_engine(spec, size, shared, Path(tmp), th)
                r = bench_detector(det, image, args.runs, args.warmup)
                det.close()
                rows.append((f"Lite-{size.upper()}", spec.label, r))
                print(f"  measured Lite-{size.upper()} {spec.label}", file=sys.stderr, flush=True)

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
