"""Per-call overhead of ``Classifier.classify()`` over the engine's bare call, at 224×224.

Target (issue 19): ``classify()`` ≤ 1.10 × the same engine's bare inference call on a prepared tensor.

Subjects, alternated call by call in one process (so contention hits them alike), per engine and thread count:

* ``floor``: the engine's own call on a tensor prepared once (`Backend.raw_runner`: ``session.run`` for ONNX
  Runtime, ``infer_request.infer`` for OpenVINO);
* ``classify``: ``Classifier.classify(image)`` on a decoded BGR image (resize, centre crop, normalise, engine,
  softmax, top-5, `Classifications`);
* ``preprocess`` and ``post`` alone, to see where the difference goes.

Model: ``../shared/models/foreign_tasks/classify/mobilenetv2-12-int8.onnx`` (224×224, ImageNet preset) on
``bus.jpg`` (810×1080). Reported: medians (ms) and ``classify / floor``.

Run: ``python benchmarks/bench_classify.py [--engines ort openvino] [--threads 1 2] [--calls 200]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _shared import shared_root  # noqa: E402  (benchmarks/_shared.py)

TARGET = 1.10


def measure(engine: str, threads: int, calls: int, model: Path, image_path: Path) -> dict[str, float]:
    """Median ms of each subject for one engine and thread count."""
    import cv2

    from lite.core.errors import AssumedDefaultWarning
    from lite.cv import Classifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AssumedDefaultWarning)
        clf = Classifier(model, backend=engine, threads=threads)
    image = cv2.imread(str(image_path))
    tensor, _ = clf.preprocess(image)
    bare = clf.backend.raw_runner({clf.input_name: tensor})
    outs = clf.infer(tensor)
    subjects = {
        "floor": bare,
        "classify": lambda: clf.classify(image),
        "preprocess": lambda: clf.preprocess(image),
        "post": lambda: clf._result(clf.probabilities(outs)[0], clf.top_k),
    }
    times: dict[str, list[float]] = {k: [] for k in subjects}
    for _ in range(10):  # warm-up
        for fn in subjects.values():
            fn()
    for _ in range(calls):
        for name, fn in subjects.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1e3)
    clf.close()
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engines", nargs="+", default=["ort", "openvino"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args()
    shared = shared_root()
    if shared is None:
        sys.exit("../shared (or $LITE_SHARED) is needed: it holds the MobileNetV2 export and bus.jpg")
    model = shared / "models" / "foreign_tasks" / "classify" / "mobilenetv2-12-int8.onnx"
    image = shared / "images" / "bus.jpg"
    print(f"| engine | threads | floor ms | classify() ms | preprocess ms | post ms | classify / floor (≤ {TARGET}) |")
    print("|---|---|---|---|---|---|---|")
    for engine in args.engines:
        for threads in args.threads:
            m = measure(engine, threads, args.calls, model, image)
            ratio = m["classify"] / m["floor"]
            print(
                f"| {engine} | {threads} | {m['floor']:.2f} | {m['classify']:.2f} | {m['preprocess']:.2f} | "
                f"{m['post']:.3f} | {ratio:.2f}{'' if ratio <= TARGET else ' (over)'} |"
            )


if __name__ == "__main__":
    main()
