"""Where ``detect()``'s time over the engine's bare call goes with several threads: spinning and OpenCV's pool.

Lite-S 320 on bus.jpg, per engine (ONNX Runtime on the decoded ONNX, NCNN, MNN, OpenVINO), at the given thread
counts, under settings that decide what the cores do while lite pre- and post-processes:

* ``spin on`` / ``spin off``: ONNX Runtime's ``session.intra_op.allow_spinning`` (idle intra-op threads spin, or
  sleep); NCNN's ``openmp_blocktime`` (20 ms, its default, or 0: OpenMP workers sleep right after a layer);
* ``cv2 N``: ``cv2.setNumThreads(N)`` in the worker (OpenCV's own pool runs the letterbox resize; ``default`` is
  OpenCV's choice, every core).

Each subject is a `bench_speed.py` worker process (its own engine); the parent interleaves blocks of iterations
over all subjects, and inside a worker the bare call (``Backend.raw_runner``) and ``detect()`` alternate call by
call. Reported: medians of wall and CPU time and their ratios (``detect() / floor``; the target is 1.10).

``--profile ENGINE`` instead profiles lite's own part in this process at 1 engine thread: the medians of the
stages (CPU time, all threads: letterbox + normalisation, engine call, decode + NMS + mapping back) over calls
alternated stage by stage, then ``cProfile``'s top functions over the pre- and post-processing.

Usage::

    python benchmarks/bench_overhead.py --threads 1 2 --rounds 8 --block 10
    python benchmarks/bench_overhead.py --engines ort ncnn --threads 2 --json overhead.json
    python benchmarks/bench_overhead.py --profile ort

The machine may be shared with other work: read ratios within a row; rerun to see the spread.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import bench_speed as bs  # benchmarks/bench_speed.py, beside this script: workers and interleaving
from _shared import shared_root  # benchmarks/_shared.py

TARGET = 1.10


def specs(shared: Path, engines: list[str], threads: list[int], cv2_modes: list[str], tmp: Path) -> list[tuple]:
    """``(label, kind, params, python, group)`` per subject, as `bench_speed.start` takes them."""
    onnx = shared / "models" / "yolov6lite" / "onnx" / "yolov6lite_s_320_decoded.onnx"
    img = str(shared / "images" / "bus.jpg")
    models = {
        "ort": (str(onnx), {}),
        "ncnn": (str(shared / "models" / "yolov6lite" / "ncnn" / "yolov6-lite-s.param"), {"input_size": 320}),
        "openvino": (str(onnx), {}),
    }
    if "mnn" in engines:
        mnn = bs._mnn_model(shared / "models" / "yolov6lite" / "onnx" / "yolov6lite_s_320_raw.onnx", tmp)
        if mnn is not None:
            models["mnn"] = (str(mnn), {})
    spins = {"ort": {"on": {"spinning": True}, "off": {"spinning": False}},
             "ncnn": {"on": {"openmp_blocktime": 20}, "off": {"openmp_blocktime": 0}}}  # fmt: skip
    out = []
    for t in threads:
        for engine in engines:
            if engine not in models:
                continue
            model, extra = models[engine]
            for spin, options in spins.get(engine, {"-": {}}).items():
                if t == 1 and spin == "on" and engine in spins:
                    continue  # one thread: nothing idles (ONNX Runtime and NCNN run it on the caller)
                for cv in cv2_modes:
                    label = f"{engine} {t}t spin {spin} cv2 {cv}"
                    params = {"model": model, "backend": engine, "threads": t, "image": img, "options": options,
                              "cv2_threads": None if cv == "default" else int(cv), **extra}  # fmt: skip
                    out.append((label, "lite", params, sys.executable, f"{engine} {t}t"))
    return out


def profile(shared: Path, engine: str, calls: int = 300, top: int = 15) -> None:
    """Stage medians (CPU ms) and cProfile's top functions of lite's pre- and post-processing, 1 engine thread."""
    import cProfile
    import pstats
    import statistics
    import time

    import cv2

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from lite.cv import Detector

    onnx = shared / "models" / "yolov6lite" / "onnx" / "yolov6lite_s_320_decoded.onnx"
    model = shared / "models" / "yolov6lite" / "ncnn" / "yolov6-lite-s.param" if engine == "ncnn" else onnx
    det = Detector.from_file(model, backend=engine, threads=1, **({"input_size": 320} if engine == "ncnn" else {}))
    img = cv2.imread(str(shared / "images" / "bus.jpg"))
    for _ in range(20):
        det.detect(img)
    tensor, t = det._feed(img)
    out = det.infer(tensor)
    stages = {"pre": lambda: det._feed(img), "infer": lambda: det.infer(tensor),
              "post": lambda: det.postprocess(out, [t]), "detect": lambda: det.detect(img)}  # fmt: skip
    times: dict[str, list[float]] = {k: [] for k in stages}
    for _ in range(calls):
        for k, fn in stages.items():
            t0 = time.process_time()
            fn()
            times[k].append((time.process_time() - t0) * 1e3)
    print(f"{engine}, 1 thread, fused={det.fused}: CPU ms per stage (medians of {calls})")
    print("  ".join(f"{k} {statistics.median(v):.3f}" for k, v in times.items()))
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        stages["pre"]()
        stages["post"]()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--engines", nargs="+", default=["ort", "ncnn", "mnn", "openvino"])
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--cv2", nargs="+", default=["default", "1"], help="cv2.setNumThreads values ('default': unset)")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--block", type=int, default=10)
    p.add_argument("--shared", type=Path, default=None)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--profile", default=None, metavar="ENGINE", help="profile lite's part on this engine instead")
    args = p.parse_args(argv)
    shared = shared_root(args.shared)
    if args.profile:
        profile(shared, args.profile)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        workers = bs.start(specs(shared, args.engines, args.threads, args.cv2, Path(tmp)))
        try:
            bs.interleave(workers, args.rounds, args.block)
        finally:
            for w in workers:
                w.close()
    rows = []
    print("| subject | floor ms | detect() ms | ratio | ms over | CPU ratio | pre | post |")
    print("|---|---|---|---|---|---|---|---|")
    for w in workers:
        f, d = w.median("floor"), w.median("detect")
        fc, dc = w.median("floor_cpu"), w.median("detect_cpu")
        row = {"subject": w.label, "floor": f, "detect": d, "ratio": d / f, "cpu_ratio": dc / fc,
               "pre": w.median("pre"), "post": w.median("post")}  # fmt: skip
        rows.append(row)
        mark = "" if row["ratio"] <= TARGET else " *"
        print(f"| {w.label} | {f:.2f} | {d:.2f} | {d / f:.3f}{mark} | {d - f:.2f} | {dc / fc:.3f} | "
              f"{row['pre']:.2f} | {row['post']:.2f} |")  # fmt: skip
    print(f"\n* above the {TARGET} target")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
