"""The resize rounding rule: each family resizes as its own demo does (YOLOX and NanoDet truncate ``n · r``), so
lite's AP is the demo's AP; `PreprocessConfig.rounding` chooses the rule."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from lite import backends
from lite.core.errors import InputError
from lite.cv import YOLOX, NanoDet, YOLOv5, YOLOv6, YOLOv8
from lite.ops.letterbox import letterbox_geometry
from lite.ops.preprocess import PreprocessConfig

REPO = Path(__file__).resolve().parents[1]
#: Images of val2017_128 the AP pins run on: enough for the two rules to differ by more than the tolerance.
SUBSET = 24


def test_each_family_has_its_demo_rounding_rule():
    assert YOLOX.preprocess_config.rounding == "truncate" and NanoDet.preprocess_config.rounding == "truncate"
    assert {c.preprocess_config.rounding for c in (YOLOv5, YOLOv6, YOLOv8)} == {"round"}
    with pytest.raises(InputError, match="rounding"):
        PreprocessConfig(rounding="ceil")


def test_truncate_and_round_differ_on_the_resized_size():
    # 427 x 640 at 416: r = 0.65, 427 * 0.65 = 277.55 -> 277 rows truncated, 278 rounded
    kw = {"size": 416, "pad_align": "topleft"}
    assert letterbox_geometry((427, 640), **kw).resized_shape == (278, 416)
    t = letterbox_geometry((427, 640), **kw, rounding="truncate")
    assert t.resized_shape == (277, 416) and t.dst_shape == (416, 416)
    np.testing.assert_allclose(
        t.to_original(np.array([[0, 0, 416, 277]], np.float32)), [[0, 0, 640, 426.15]], atol=0.01
    )


def _reference(shared: Path, family: str, records: list[dict], folder: Path) -> list[dict]:
    """scripts/reference_ap.py's demo-style pipeline (no lite code) on these images, as COCO results."""
    spec = importlib.util.spec_from_file_location("reference_ap", REPO / "scripts" / "reference_ap.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    cls, rel = ref.MODELS[family]
    model = cls(shared / "models" / "foreign" / rel)
    out = []
    for rec in records:
        img = cv2.imread(str(folder / rec["file_name"]))
        h, w = img.shape[:2]
        boxes, scores, classes = model(img)
        boxes = np.clip(boxes, 0, [w, h, w, h])
        for b, s, c in zip(boxes, scores, classes, strict=True):
            xywh = [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]
            out.append(
                {"image_id": rec["id"], "category_id": ref.COCO80_TO_91[int(c)], "bbox": xywh, "score": float(s)}
            )
    return out


@pytest.mark.parametrize(("family", "file", "cls"), [
    ("yolox", "yolox/yolox_nano_416.onnx", YOLOX), ("nanodet", "nanodet_plus/nanodet-plus-m_416.param", NanoDet),
])  # fmt: skip
def test_ap_matches_the_family_demo_within_0001(shared, family, file, cls):
    pytest.importorskip("pycocotools")
    if family == "nanodet" and "ncnn" not in backends.available():
        pytest.skip("the ncnn backend is not available")
    from lite.tools.eval import coco, evaluate

    root = shared / "coco" / "val2017_128"
    ann = json.loads((root / "instances.json").read_text())
    records = ann["images"][:SUBSET]
    ids = [r["id"] for r in records]
    ref_stats, _ = evaluate(ann, _reference(shared, family, records, root / "images"), image_ids=ids)
    model = shared / "models" / "foreign" / file

    def ap(det) -> tuple[float, float]:
        r = coco(det, root / "images", ann, limit=SUBSET, progress=False)
        return r.AP, r.AP50

    ours = ap(cls(model, threads=1))
    assert ours == pytest.approx(ref_stats[:2], abs=1e-3)
    rounded = ap(cls(model, threads=1, preprocess=replace(cls.preprocess_config, rounding="round")))
    assert max(abs(a - b) for a, b in zip(rounded, ref_stats[:2], strict=True)) > 1e-3  # the pin tells them apart
