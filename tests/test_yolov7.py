"""YOLOv7, added by following docs/architecture.md's checklist: its own record and class, YOLOv5's decoders.

Hand-built ONNX models (no YOLOv7 export in ../shared): the raw anchor heads decoded with YOLOv7's anchors,
the decoded output read the same as YOLOv5's, and every existing family still resolved as before.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx_models import constant_model

from lite.core.errors import AssumedDefaultWarning
from lite.cv import Detector, YOLOv5, YOLOv7
from lite.cv.records import RECORDS
from lite.cv.yolov7 import YOLOV7_ANCHORS

BLANK = np.zeros((320, 320, 3), np.uint8)


def _heads() -> dict[str, np.ndarray]:
    """One confident box at cell (5, 5) of the stride-8 level, anchor 0: σ(0)=0.5 → wh = the anchor exactly."""
    outs = {}
    for name, side in (("p3", 40), ("p4", 20), ("p5", 10)):
        a = np.full((1, 3, side, side, 85), -12.0, np.float32)
        a[..., 0:4] = 0.0
        outs[name] = a
    outs["p3"][0, 0, 5, 5, 4] = 8.0
    outs["p3"][0, 0, 5, 5, 5 + 5] = 8.0  # bus
    return outs


def test_yolov7_decodes_anchor_heads_with_its_own_anchors(tmp_path):
    path = constant_model(tmp_path / "v7heads.onnx", _heads(), hw=(320, 320))
    with pytest.warns(AssumedDefaultWarning, match=r"family yolov7's default anchors \[\[12.0, 16.0"):
        det = YOLOv7(path)
    dets = det.detect(BLANK)
    assert dets.labels == ["bus"]
    x1, y1, x2, y2 = dets.xyxy[0]
    # centre (2·0.5 − 0.5 + 5)·8 = 44; size = (2·0.5)²·anchor = YOLOv7's first anchor, 12 x 16
    np.testing.assert_allclose([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], [44, 44, 12, 16], atol=1e-3)
    with pytest.warns(AssumedDefaultWarning, match="yolov5's default anchors"):
        v5 = YOLOv5(path).detect(BLANK)  # YOLOv5's first anchor is 10 x 13
    np.testing.assert_allclose(v5.xyxy[0, 2:] - v5.xyxy[0, :2], [10, 13], atol=1e-3)
    assert det.plan.options["anchors"] == YOLOV7_ANCHORS


def test_a_file_without_metadata_resolves_to_the_decoder_owner_and_says_so(tmp_path):
    path = constant_model(tmp_path / "v7heads.onnx", _heads(), hw=(320, 320))
    with pytest.warns(AssumedDefaultWarning):
        auto = Detector.from_file(path)
    assert type(auto) is YOLOv5
    assert "'yolov7' also reads it with decoder 'yolov5_anchors', which family 'yolov5' owns" in auto.family_reasons[1]
    with pytest.warns(AssumedDefaultWarning):
        assert type(Detector.from_file(path, family="yolov7")) is YOLOv7


def test_decoded_output_reads_the_same_as_yolov5(shared, bus_path, tmp_path):
    rows = np.zeros((1, 6300, 85), np.float32)  # 3 anchors x (40² + 20² + 10²) cells at 320
    rows[0, 7, :4] = [160, 120, 60, 80]
    rows[0, 7, 4], rows[0, 7, 5] = 0.9, 0.8  # person
    path = constant_model(tmp_path / "v7decoded.onnx", {"output": rows}, hw=(320, 320))
    a, b = YOLOv7(path).detect(BLANK), YOLOv5(path).detect(BLANK)
    np.testing.assert_allclose(a.xyxy, b.xyxy)
    assert a.labels == b.labels == ["person"]


def test_adding_yolov7_left_every_other_family_as_it_was():
    """Its record lives in its own module (lite/cv/yolov7.py); the built-in records do not mention it."""
    assert RECORDS["yolov7"].priority("yolov5") < RECORDS["yolov5"].priority("yolov5")
    assert all("yolov7" not in (r.name, *r.aliases) for n, r in RECORDS.items() if n != "yolov7")
