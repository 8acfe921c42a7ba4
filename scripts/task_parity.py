"""Per-engine parity of segmentation, pose and classification models: convert, reopen, compare with ONNX Runtime.

Every model is converted with `lite.convert.convert` to each engine installed (NCNN, MNN, OpenVINO), reopened with
`ImageModel.from_file` (its sidecar only) and compared with the ONNX model in ONNX Runtime through
`lite.tools.parity.compare` on the same images, with every tolerance open so that the worst values are measured
rather than judged. One row per engine × model:

* ``max box px``: largest box-coordinate difference of a matched pair (image pixels);
* ``min box IoU``, ``min mask IoU``, ``max kpt px``: the smallest IoU and mask IoU of a matched pair, the largest
  keypoint distance (image pixels);
* ``unmatched``: detections of either side with no counterpart of the same class (IoU > 0.5);
* ``top-k equal``: the top-5 ids equal in order on every image; ``max prob diff``: largest class-probability
  difference (classifiers).

Models: lite's demo task models (`lite.demo.task_model_path`, float) on held-out synthetic scenes, and the real
int8 files of ``../shared/models/foreign_tasks`` that a converter takes (YOLOv8n-seg on OpenVINO) on bus / zidane;
the others are refused by the converters (ops they lack), which the table says.

Usage::

    python scripts/task_parity.py [--scenes 40] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from lite.core.errors import LiteError
from lite.demo import task_model_path
from lite.demo.scenes import make_diamond_scene, make_instance_scene, make_single_shape
from lite.tools.parity import compare, format_table

ENGINES = [e for e, m in (("ncnn", "ncnn"), ("mnn", "MNN"), ("openvino", "openvino")) if importlib.util.find_spec(m)]
CONF = {"segment": 0.1, "pose": 0.25, "classify": 0.25}
OPEN = {"iou": 0.5, "score_tol": 1.0, "mask_iou": 0.0, "kpt_px": math.inf, "rtol": math.inf, "atol": math.inf}


def scenes(task: str, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(20261207)  # not the training (0) nor the recorded validation (777) seed
    if task == "segment":
        return [make_instance_scene(rng).image for _ in range(n)]
    if task == "pose":
        return [make_diamond_scene(rng).image for _ in range(n)]
    return [make_single_shape(rng)[0] for _ in range(n)]


def measure(onnx: Path, converted: Path, images: list, conf: float) -> dict[str, float | bool]:
    agg: dict[str, float | bool] = {"box": 0.0, "iou": 1.0, "mask": math.nan, "kpt": math.nan, "unmatched": 0,
                                    "topk": True, "prob": 0.0}  # fmt: skip
    for img in images:
        report = compare([onnx, converted], img, conf=conf, threads=1, **OPEN)
        run = report.runs[1]
        dd, tk = run.detection_diff, run.top_k_diff
        if dd is not None:
            agg["box"] = max(agg["box"], dd.max_box_px)
            agg["iou"] = min(agg["iou"], dd.min_iou)
            agg["unmatched"] += dd.n_ref + dd.n - 2 * dd.matched
            if dd.min_mask_iou is not None:
                agg["mask"] = dd.min_mask_iou if math.isnan(agg["mask"]) else min(agg["mask"], dd.min_mask_iou)
            if dd.max_kpt_px is not None:
                agg["kpt"] = dd.max_kpt_px if math.isnan(agg["kpt"]) else max(agg["kpt"], dd.max_kpt_px)
        if tk is not None:
            agg["topk"] = agg["topk"] and tk.ids_equal
            agg["prob"] = max(agg["prob"], tk.max_score_diff)
    return agg


def row(engine: str, name: str, task: str, images: int, agg: dict | None, note: str = "") -> list[str]:
    """One table row; a classifier has no boxes, a detector no top-k."""
    if agg is None:
        return [engine, name, task, str(images), "-", "-", "-", "-", "-", "-", "-", note]
    cls = task == "classify"
    return [
        engine, name, task, str(images),
        "-" if cls else f"{agg['box']:.3g}",
        "-" if cls else f"{agg['iou']:.4f}",
        "-" if math.isnan(agg["mask"]) else f"{agg['mask']:.4f}",
        "-" if math.isnan(agg["kpt"]) else f"{agg['kpt']:.3g}",
        "-" if cls else str(agg["unmatched"]),
        ("yes" if agg["topk"] else "NO") if cls else "-",
        f"{agg['prob']:.2g}" if cls else "-",
        note,
    ]  # fmt: skip


def _op(message: str) -> str:
    """The first op a converter refused, from its message (``op 'ConvInteger'``), else the message's start."""
    import re

    m = re.search(r"(QLinear\w+|ConvInteger|DynamicQuantizeLinear|QuantizeLinear)", message)
    return f"unsupported op {m.group(1)}" if m else message[:60]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenes", type=int, default=40, help="synthetic scenes per demo model")
    ap.add_argument("--shared", default=os.environ.get("LITE_SHARED", "../shared"), help="the shared assets folder")
    args = ap.parse_args()
    from lite.convert import convert

    warnings.simplefilter("ignore")
    shared = Path(args.shared)
    real = shared / "models" / "foreign_tasks"
    photos = [shared / "images" / "bus.jpg", shared / "images" / "zidane.jpg"]
    models = [(t, task_model_path(t), scenes(t, args.scenes), CONF[t]) for t in ("segment", "pose", "classify")]
    models += [
        ("segment", real / "segment" / "yolov8n-seg_int8_320.onnx", photos, 0.25),
        ("classify", real / "classify" / "mobilenetv2-12-int8.onnx", photos, 0.25),
    ]
    header = ["engine", "model", "task", "images", "max box px", "min box IoU", "min mask IoU", "max kpt px",
              "unmatched", "top-5 equal", "max prob diff", "note"]  # fmt: skip
    rows = [header]
    with tempfile.TemporaryDirectory() as tmp:
        for engine in ENGINES:
            for task, onnx, images, conf in models:
                if not onnx.is_file():
                    continue
                try:
                    out = convert(onnx, engine, Path(tmp) / engine)
                except LiteError as e:
                    rows.append(row(engine, onnx.name, task, 0, None, f"refused: {type(e).__name__}: {_op(str(e))}"))
                    continue
                agg = measure(onnx, out, images, conf)
                rows.append(row(engine, onnx.name, task, len(images), agg))
                print(" | ".join(rows[-1]), flush=True)
    print()
    print(format_table(rows))


if __name__ == "__main__":
    main()
