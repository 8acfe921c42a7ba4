"""OpenVINO against ONNX Runtime: each engine's bare call (the floor) and lite's ``detect()`` on each.

Lite-S 320 (the raw per-level ONNX), bus.jpg, 2 threads by default. Every subject runs in its own process (so one
engine's thread pool does not sit beside another's), and the subjects take turns: each round every subject runs a
short burst of calls, in a rotating order, so a busy machine slows all of them alike. Reported: the median and p90
per subject, its ratio to the ONNX Runtime floor, and for ``detect()`` the ms over its own engine's floor.

Subjects:

* ``ort floor``: ``session.run`` on a prepared tensor (``OrtBackend.raw_runner``);
* ``openvino floor``: ``InferRequest.infer`` on the same tensor, the ONNX file read by lite's OpenVINO backend
  (channel shuffle and HardSigmoid rewritten in memory, fp32);
* ``openvino floor, shuffle rewrite only``: the same without the HardSigmoid rewrite (what the HardSigmoid rewrite
  buys);
* ``lite detect() ort`` / ``lite detect() openvino``: ``YOLOv6(model, backend=...).detect(image)`` on the decoded
  image array (letterbox, inference, decode, NMS).

Run: ``python benchmarks/bench_openvino.py [--rounds 60] [--burst 5] [--threads 2] [--json out.json]``.
Models are read from ``$LITE_SHARED`` or ``../shared`` (never copied into the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
from _shared import shared_root  # noqa: E402  (benchmarks/_shared.py, beside this script)

sys.path.insert(0, str(REPO))

SUBJECTS = {
    "ort_floor": "ort floor (session.run)",
    "ov_floor": "openvino floor (infer request)",
    "ov_floor_shuffle_only": "openvino floor, shuffle rewrite only",
    "ort_detect": "lite detect() ort",
    "ov_detect": "lite detect() openvino",
}
FLOOR_OF = {"ort_detect": "ort_floor", "ov_detect": "ov_floor"}


# ----------------------------------------------------------------------------------------------
# worker side: one subject per process, driven over stdin/stdout
# ----------------------------------------------------------------------------------------------
def _subject(kind: str, model: Path, image: Path, threads: int):
    """A zero-argument callable running one call of the subject."""
    import cv2

    from lite import backends
    from lite.cv import YOLOv6

    if kind.endswith("_detect"):
        det = YOLOv6(model, backend="ort" if kind.startswith("ort") else "openvino", threads=threads)
        img = cv2.imread(str(image))
        return lambda: det.detect(img)
    det = YOLOv6(model, threads=threads)  # only for the tensor: the floors run on the same letterboxed bus.jpg
    feed = {det.input_name: det.preprocess(str(image))[0]}
    if kind == "ort_floor":
        return backends.create(model, "ort", threads=threads).raw_runner(feed)
    if kind == "ov_floor":
        return backends.create(model, "openvino", threads=threads).raw_runner(feed)
    import io

    import onnx

    from lite.backends._onnx_rewrite import rewrite_channel_shuffles
    from lite.backends.openvino import import_openvino

    ov = import_openvino()

    proto = onnx.load(str(model))
    shape = tuple(int(d.dim_value) for d in proto.graph.input[0].type.tensor_type.shape.dim)
    rewritten, _ = rewrite_channel_shuffles(proto, shape, dynamic=True)
    core = ov.Core()
    props = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
    request = core.compile_model(core.read_model(io.BytesIO(rewritten.SerializeToString())), "CPU", props)
    request = request.create_infer_request()
    tensor = feed[det.input_name]
    return lambda: request.infer({0: tensor}, share_inputs=True, share_outputs=True)


def worker(kind: str, model: str, image: str, threads: int, warmup: int) -> None:
    run = _subject(kind, Path(model), Path(image), threads)
    for _ in range(warmup):
        run()
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        if n <= 0:
            break
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            run()
            times.append((time.perf_counter() - t0) * 1e3)
        print(json.dumps(times), flush=True)


# ----------------------------------------------------------------------------------------------
# driver
# ----------------------------------------------------------------------------------------------
def measure(kinds: list[str], model: Path, image: Path, threads: int, rounds: int, burst: int, warmup: int):
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = {}
    for k in kinds:
        cmd = [sys.executable, __file__, "--worker", k, str(model), str(image), str(threads), str(warmup)]
        procs[k] = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        for k, p in procs.items():
            line = p.stdout.readline().strip()
            if line != "ready":
                raise SystemExit(f"worker {k} failed to start (got {line!r}); run it alone to see its error")
        times: dict[str, list[float]] = {k: [] for k in kinds}
        for r in range(rounds):
            order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]
            for k in order:
                procs[k].stdin.write(f"{burst}\n")
                procs[k].stdin.flush()
                times[k] += json.loads(procs[k].stdout.readline())
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.stdin.write("0\n")
                p.stdin.flush()
                p.wait(timeout=60)
    return times


def table(times: dict[str, list[float]]) -> tuple[str, dict]:
    med = {k: float(np.median(v)) for k, v in times.items()}
    base = med.get("ort_floor")
    rows, lines = {}, []
    head = f"{'subject':<40} {'median ms':>9} {'p90 ms':>8} {'x ORT floor':>11} {'x own floor':>11} "
    head += f"{'ms over floor':>13}"
    lines += [head, "-" * len(head)]
    for k, v in times.items():
        floor = FLOOR_OF.get(k)
        row = {
            "median_ms": med[k],
            "p90_ms": float(np.percentile(v, 90)),
            "min_ms": float(np.min(v)),
            "runs": len(v),
            "x_ort_floor": med[k] / base if base else None,
            "x_own_floor": med[k] / med[floor] if floor in med else None,
            "ms_over_own_floor": med[k] - med[floor] if floor in med else None,
        }
        rows[k] = row
        own = f"{row['x_own_floor']:>10.3f}x" if row["x_own_floor"] is not None else f"{'':>11}"
        over = f"{row['ms_over_own_floor']:>13.2f}" if row["ms_over_own_floor"] is not None else f"{'':>13}"
        ratio = f"{row['x_ort_floor']:>10.3f}x" if row["x_ort_floor"] is not None else f"{'':>11}"
        lines.append(f"{SUBJECTS[k]:<40} {row['median_ms']:>9.2f} {row['p90_ms']:>8.2f} {ratio} {own} {over}")
    lines.append("each subject in its own process, interleaved in one run; medians over all timed calls")
    return "\n".join(lines), rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, model, image, threads, warmup = sys.argv[2:7]
        worker(kind, model, image, int(threads), int(warmup))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=60, help="rounds; each runs every subject --burst times")
    ap.add_argument("--burst", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default=None, help="default: shared yolov6lite_s_320_raw.onnx")
    ap.add_argument("--image", default=None, help="default: shared images/bus.jpg")
    ap.add_argument("--shared", default=None, help="shared assets folder")
    ap.add_argument("--subjects", default=",".join(SUBJECTS), help=f"comma-separated among {', '.join(SUBJECTS)}")
    ap.add_argument("--json", default=None, help="where to save the results (default: out/bench_openvino.json)")
    args = ap.parse_args()
    root = shared_root(args.shared)
    model = Path(args.model) if args.model else root / "models" / "yolov6lite" / "onnx" / "yolov6lite_s_320_raw.onnx"
    image = Path(args.image) if args.image else root / "images" / "bus.jpg"
    kinds = [k.strip() for k in args.subjects.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in SUBJECTS]
    if unknown:
        raise SystemExit(f"unknown subjects {unknown}; known: {', '.join(SUBJECTS)}")
    times = measure(kinds, model, image, args.threads, args.rounds, args.burst, args.warmup)
    text, rows = table(times)
    print(f"{model.name}, {image.name}, {args.threads} threads, {args.rounds} rounds x {args.burst} calls")
    print(text)
    import onnxruntime

    from lite.backends.openvino import import_openvino

    openvino = import_openvino()
    out = Path(args.json) if args.json else REPO / "out" / "bench_openvino.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "model": model.name,
        "image": image.name,
        "threads": args.threads,
        "rounds": args.rounds,
        "burst": args.burst,
        "versions": {"onnxruntime": onnxruntime.__version__, "openvino": openvino.__version__},
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "subjects": rows,
        "times_ms": times,
    }
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
