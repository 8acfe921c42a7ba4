"""lite on ONNX Runtime vs ``session.run`` alone (issue 2's overhead target).

For YOLOv6Lite-S/M/L, decoded and raw (per-level heads) ONNX exports at 320, on bus.jpg with
2 threads: the median over N runs (after a warm-up) of pre-processing, inference,
post-processing and end-to-end ``detect()``, and of ``session.run`` alone on a prepared
tensor (``Backend.raw_runner``), all measured in the same loop. Target: end-to-end at most
1.10 x ``session.run``.

``--profile`` adds a cProfile of ``detect()`` for each model (where the overhead goes).

Run: ``python benchmarks/bench_ort.py [--runs 200] [--models s m l] [--layouts decoded raw]``.
Models are read from ``$LITE_SHARED`` or ``../shared`` (never copied into the repository).
The CPU may be shared with other work: medians are reported, with the spread.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
from _shared import shared_root  # noqa: E402  (benchmarks/_shared.py, beside this script)

sys.path.insert(0, str(REPO))

from lite.data.io import load_image  # noqa: E402
from lite.tools.bench import BenchResult, benchmark, format_table  # noqa: E402

TARGET = 1.10


def profile_detect(model: Path, img, threads: int, runs: int) -> str:
    """cProfile of ``runs`` detect() calls; the top functions by own time."""
    from lite.cv import YOLOv6

    with YOLOv6(model, threads=threads) as det:
        for _ in range(10):
            det.detect(img)
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(runs):
            det.detect(img)
        pr.disable()
    buf = io.StringIO()
    pstats.Stats(pr, stream=buf).sort_stats("tottime").print_stats(18)
    return buf.getvalue()


def summary_table(results: list[BenchResult]) -> str:
    head = (
        f"{'model':<34} {'pre':>7} {'infer':>7} {'post':>7} {'e2e':>7} {'raw run':>8} {'e2e/raw':>8} "
        f"{'e2e-raw':>8} {'min ratio':>9}  target"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        s = r.stages
        over = s["e2e"].median - s["raw"].median
        ok = "PASS" if r.ratio <= TARGET else "FAIL"
        lines.append(
            f"{Path(r.model).name:<34} {s['pre'].median:>7.3f} {s['infer'].median:>7.3f} {s['post'].median:>7.3f} "
            f"{s['e2e'].median:>7.3f} {s['raw'].median:>8.3f} {r.ratio:>7.3f}x {over:>8.3f} {r.ratio_min:>8.3f}x  "
            f"<= {TARGET:.2f}x {ok}"
        )
    lines.append(
        "medians in ms; e2e-raw = the library's overhead per image (pre + post + feed check); "
        "min ratio = fastest e2e / fastest raw run (robust to a busy CPU)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=200, help="timed iterations (>= 100 for the target)")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", nargs="+", default=["s", "m", "l"], choices=["s", "m", "l"])
    ap.add_argument("--layouts", nargs="+", default=["decoded", "raw"], choices=["decoded", "raw"])
    ap.add_argument("--image", default=None, help="default: the shared bus.jpg")
    ap.add_argument("--detail", action="store_true", help="also print mean ± std and p90 per stage")
    ap.add_argument("--profile", action="store_true", help="cProfile detect() per model")
    args = ap.parse_args(argv)

    shared = shared_root()
    onnx = shared / "models" / "yolov6lite" / "onnx"
    img = load_image(args.image or str(shared / "images" / "bus.jpg"))
    results = []
    for m in args.models:
        for layout in args.layouts:
            path = onnx / f"yolov6lite_{m}_320_{layout}.onnx"
            r = benchmark(path, image=img, runs=args.runs, warmup=args.warmup, threads=args.threads,
                          label=path.name)  # fmt: skip
            results.append(r)
            print(f"{path.name}: e2e {r.stages['e2e'].median:.3f} ms, raw {r.stages['raw'].median:.3f} ms, "
                  f"{r.ratio:.3f}x", flush=True)  # fmt: skip
    la = os.getloadavg() if hasattr(os, "getloadavg") else None
    print()
    load = f", load average {la[0]:.2f} on {os.cpu_count()} CPUs" if la else ""
    print(f"ONNX Runtime, {args.threads} threads, image {img.shape[1]}x{img.shape[0]}, {args.runs} runs after "
          f"{args.warmup} warm-up{load}")  # fmt: skip
    print(summary_table(results))
    if args.detail:
        print()
        print(format_table(results))
    if args.profile:
        for m in args.models:
            for layout in args.layouts:
                path = onnx / f"yolov6lite_{m}_320_{layout}.onnx"
                print(f"\n== cProfile of detect() x {args.runs}: {path.name}")
                print(profile_detect(path, img, args.threads, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
