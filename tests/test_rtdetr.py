"""RT-DETR / D-FINE raw heads, added by following docs/architecture.md's checklist (decoder + record + class).

Hand-built ONNX models (no RT-DETR export in ../shared): ``(1, 300, 4)`` normalised boxes + ``(1, 300, 80)`` logits.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx_models import constant_model

from lite.core.errors import ModelOutputError
from lite.cv import RTDETR, YOLOX, Detector, NanoDet, YOLOv5, YOLOv6, YOLOv8
from lite.ops.decoders import Hints, match_outputs


def _heads(boxes_scale: float = 1.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    boxes = rng.uniform(0.2, 0.4, (1, 300, 4)).astype(np.float32) * boxes_scale
    logits = np.full((1, 300, 80), -9.0, np.float32)
    boxes[0, 3] = [0.5, 0.25, 0.2, 0.3]  # query 3: a bus, normalised cx, cy, w, h
    logits[0, 3, 5] = 3.0  # sigmoid 0.953
    boxes[0, 7] = [0.25, 0.75, 0.1, 0.2]  # query 7: a person
    logits[0, 7, 0] = 1.0  # sigmoid 0.731
    return {"boxes": boxes, "logits": logits}


def test_rtdetr_heads_are_found_and_decoded_without_nms(tmp_path):
    path = constant_model(tmp_path / "rtdetr.onnx", _heads())
    det = Detector.from_file(path)
    assert type(det) is RTDETR and det.plan.decoder == "detr" and det.plan.num_classes == 80
    img = np.zeros((480, 640, 3), np.uint8)  # stretched to 640x640: y scales by 480/640
    dets = det.detect(img, conf=0.5)
    assert dets.labels == ["bus", "person"]
    np.testing.assert_allclose(dets.scores, [1 / (1 + np.exp(-3.0)), 1 / (1 + np.exp(-1.0))], rtol=1e-5)
    np.testing.assert_allclose(dets.xyxy[0], [256, 48, 384, 192], atol=0.01)  # (0.4..0.6)·640, (0.1..0.4)·480
    assert "rtdetr 0.90" in det.family_reasons[0]


def test_boxes_that_are_not_normalised_are_refused(tmp_path):
    path = constant_model(tmp_path / "pixels.onnx", _heads(boxes_scale=640.0))
    with pytest.raises(ModelOutputError, match="not normalised cx, cy, w, h"):
        RTDETR(path).detect(np.zeros((640, 640, 3), np.uint8))


def test_no_other_family_reads_detr_heads_and_detr_reads_no_other_signature():
    detr = {"boxes": (1, 300, 4), "logits": (1, 300, 80)}
    assert [p.decoder for p in match_outputs(detr, Hints(input_hw=(640, 640)))] == ["detr"]
    others = [{"output0": (1, 84, 8400)}, {"output": (1, 3549, 85)}, {"output": (1, 3598, 112)}]
    for shapes in others:
        assert "detr" not in [p.decoder for p in match_outputs(shapes, Hints(input_hw=(640, 640)))]
    assert all("detr" not in c.decoders for c in (YOLOv5, YOLOv6, YOLOv8, YOLOX, NanoDet))
