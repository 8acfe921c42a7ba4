"""Each decode layout on hand-built tensors whose right answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lite.core.errors import InputError
from lite.ops.decoders.yolov6 import Layout, candidates, detect_layout, postprocess, refine_layout

NC = 3


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _spec(outputs: dict[str, np.ndarray], **kw):
    return detect_layout({k: v.shape for k, v in outputs.items()}, **kw)


# ---------------------------------------------------------------------------------------- decoded
def test_decoded_with_obj_column_of_ones():
    out = np.zeros((1, 10, 5 + NC), np.float32)
    out[:, :, 4] = 1.0
    out[0, 3, :4] = [50, 60, 20, 10]  # cx cy w h
    out[0, 3, 5 + 2] = 0.9
    out[0, 7, :4] = [10, 10, 4, 4]
    out[0, 7, 5 + 0] = 0.3
    outputs = {"outputs": out}
    spec = _spec(outputs, num_classes=NC)
    assert spec.layout is Layout.DECODED and spec.has_obj and spec.num_classes == NC
    (res,) = postprocess(outputs, spec, (100, 100), conf=0.25)
    np.testing.assert_allclose(res.boxes, [[40, 55, 60, 65], [8, 8, 12, 12]])
    np.testing.assert_allclose(res.scores, [0.9, 0.3], rtol=1e-6)
    assert res.class_ids.tolist() == [2, 0]


def test_decoded_real_objectness_multiplies_scores():
    out = np.zeros((1, 4, 5 + NC), np.float32)
    out[0, :, 4] = [0.5, 1.0, 1.0, 1.0]
    out[0, 0, :4] = [20, 20, 10, 10]
    out[0, 0, 5 + 1] = 0.8  # 0.5 * 0.8 = 0.4
    (res,) = postprocess({"o": out}, _spec({"o": out}, num_classes=NC), (64, 64), conf=0.25)
    np.testing.assert_allclose(res.scores, [0.4], rtol=1e-6)
    (none,) = postprocess({"o": out}, _spec({"o": out}, num_classes=NC), (64, 64), conf=0.45)
    assert len(none) == 0


def test_decoded_without_obj_column():
    out = np.zeros((2, 5, 4 + NC), np.float32)
    out[1, 2, :4] = [30, 30, 10, 20]
    out[1, 2, 4 + 1] = 0.7
    spec = _spec({"o": out}, num_classes=NC)
    assert not spec.has_obj
    res = postprocess({"o": out}, spec, (64, 64))
    assert len(res[0]) == 0 and len(res[1]) == 1
    np.testing.assert_allclose(res[1].boxes, [[25, 20, 35, 40]])
    assert res[1].class_ids.tolist() == [1]


def test_coco_without_names_infers_obj_from_width():
    assert detect_layout({"o": (1, 10, 85)}).has_obj
    assert not detect_layout({"o": (1, 10, 84)}).has_obj


def test_multi_label_keeps_every_class_above_threshold():
    out = np.zeros((1, 3, 5 + NC), np.float32)
    out[:, :, 4] = 1
    out[0, 1, :4] = [20, 20, 10, 10]
    out[0, 1, 5:] = [0.6, 0.5, 0.1]
    spec = _spec({"o": out}, num_classes=NC)
    (best,) = candidates({"o": out}, spec, (64, 64), conf=0.25)
    assert best.class_ids.tolist() == [0]
    (multi,) = candidates({"o": out}, spec, (64, 64), conf=0.25, multi_label=True)
    assert multi.class_ids.tolist() == [0, 1]
    np.testing.assert_allclose(multi.scores, [0.6, 0.5])


def test_topk_by_score_not_anchor_order():
    n = 50
    out = np.zeros((1, n, 5 + NC), np.float32)
    out[:, :, 4] = 1
    out[0, :, :4] = [[10 * i + 5, 5, 4, 4] for i in range(n)]  # disjoint boxes
    out[0, :, 5] = np.linspace(0.3, 0.9, n)  # best anchors are last
    spec = _spec({"o": out}, num_classes=NC)
    (c,) = candidates({"o": out}, spec, (64, 1024), conf=0.25, pre_nms_topk=3)
    np.testing.assert_allclose(c.scores, out[0, [-1, -2, -3], 5])
    (d,) = postprocess({"o": out}, spec, (64, 1024), conf=0.25, max_det=5)
    assert len(d) == 5 and np.all(np.diff(d.scores) <= 0) and d.scores[0] == pytest.approx(0.9)


# ------------------------------------------------------------------------------------ anchor grid
def test_anchor_grid_decode_formula():
    h = w = 64
    strides = (8, 16, 32)
    n = sum((h // s) * (w // s) for s in strides)  # 64 + 16 + 4 = 84
    out = np.full((1, n, 5 + NC), -10.0, np.float32)  # logits: everything improbable
    out[..., :4] = 0
    # level 1 (stride 16, 4x4 grid) starts at 64; cell i=1, j=2 -> index 64 + 1*4 + 2
    k = 64 + 1 * 4 + 2
    out[0, k, :4] = [0.5, 0.25, math.log(2.0), 0.0]
    out[0, k, 4] = _logit(0.8)
    out[0, k, 5 + 1] = _logit(0.5)  # score 0.8 * 0.5 = 0.4
    outputs = {"o": out}
    spec = refine_layout(_spec(outputs, num_classes=NC), outputs)
    assert spec.layout is Layout.ANCHOR_GRID  # logits outside [0, 1] reveal the raw export
    (res,) = postprocess(outputs, spec, (h, w), conf=0.25)
    cx, cy, bw, bh = (0.5 + 2) * 16, (0.25 + 1) * 16, 2 * 16, 1 * 16
    np.testing.assert_allclose(res.boxes, [[cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]], rtol=1e-5)
    np.testing.assert_allclose(res.scores, [0.4], rtol=1e-5)
    assert res.class_ids.tolist() == [1]


# -------------------------------------------------------------------------------------- per level
def _heads(box_first: bool, logits: bool, hw=(64, 128), strides=(8, 16, 32, 64)):
    """Per-level heads with one known object at level 2 (stride 32), cell (i=1, j=3)."""
    outs = {}
    for lvl, s in enumerate(strides):
        h, w = hw[0] // s, hw[1] // s
        box = np.ones((4, h, w), np.float32)  # distances of one stride unit
        cls = np.full((NC, h, w), -9.0 if logits else 0.001, np.float32)
        if lvl == 2:
            box[:, 1, 3] = [0.5, 1.0, 1.5, 0.25]
            cls[2, 1, 3] = _logit(0.75) if logits else 0.75
        chans = [box, cls] if box_first else [cls, box]
        outs[f"out{lvl}"] = np.concatenate(chans)[None]
    return outs


@pytest.mark.parametrize("box_first", [False, True])
@pytest.mark.parametrize("logits", [False, True])
def test_heads_decode_formula_and_detection(box_first, logits):
    outs = _heads(box_first, logits)
    # shuffle the declared order: levels are sorted by feature-map size
    shuffled = {k: outs[k] for k in ["out3", "out1", "out0", "out2"]}
    spec = refine_layout(_spec(shuffled), shuffled)
    assert spec.layout is Layout.RAW
    assert spec.names == ("out0", "out1", "out2", "out3")
    assert spec.box_first is box_first and spec.sigmoid is logits and spec.num_classes == NC
    (res,) = postprocess(shuffled, spec, (64, 128), conf=0.25)
    s, i, j = 32, 1, 3
    expected = [(j + 0.5 - 0.5) * s, (i + 0.5 - 1.0) * s, (j + 0.5 + 1.5) * s, (i + 0.5 + 0.25) * s]
    np.testing.assert_allclose(res.boxes, [expected], rtol=1e-5)
    np.testing.assert_allclose(res.scores, [0.75], rtol=1e-5)
    assert res.class_ids.tolist() == [2]


def test_heads_explicit_strides_must_match_levels():
    outs = _heads(False, False)
    spec = detect_layout({k: v.shape for k, v in outs.items()}, strides=(8, 16, 32))
    with pytest.raises(InputError, match="strides"):
        postprocess(outs, refine_layout(spec, outs), (64, 128))


# -------------------------------------------------------------------------------------- end2end
def test_end2end_ort_style_int64_with_padding():
    outs = {
        "num_dets": np.array([[2]], np.int64),
        "det_boxes": np.array([[[1, 2, 3, 4], [5, 6, 7, 8], [0, 0, 0, 0]]], np.float32),
        "det_scores": np.array([[0.9, 0.2, 0.0]], np.float32),
        "det_classes": np.array([[4, 7, -1]], np.int64),
    }
    spec = _spec(outs)
    assert spec.layout is Layout.END2END
    (res,) = postprocess(outs, spec, (320, 320), conf=0.1)
    np.testing.assert_allclose(res.boxes, [[1, 2, 3, 4], [5, 6, 7, 8]])
    assert res.class_ids.tolist() == [4, 7]
    (hi,) = postprocess(outs, spec, (320, 320), conf=0.25)  # the threshold still applies
    assert hi.class_ids.tolist() == [4]


def test_end2end_trt_efficientnms_int32_fixed_k_unnamed():
    k = 5
    outs = {
        "a": np.array([[1], [0]], np.int32),
        "b": np.zeros((2, k, 4), np.float32),
        "scores": np.zeros((2, k), np.float32),
        "c": np.zeros((2, k), np.int32),
    }
    outs["b"][0, 0] = [10, 10, 20, 20]
    outs["scores"][0, 0] = 0.8
    outs["c"][0, 0] = 3
    spec = _spec(outs)
    assert spec.layout is Layout.END2END and spec.names == ("a", "b", "scores", "c")
    res = postprocess(outs, spec, (320, 320))
    assert res[0].class_ids.tolist() == [3] and len(res[1]) == 0
    assert res[0].class_ids.dtype == np.int64


# -------------------------------------------------------------------------------- zero, errors
@pytest.mark.parametrize("layout", ["decoded", "raw", "end2end"])
def test_zero_detections(layout):
    if layout == "decoded":
        outs = {"o": np.zeros((1, 84, 85), np.float32)}
    elif layout == "raw":
        outs = {f"o{i}": np.zeros((1, 84, 64 // s, 64 // s), np.float32) for i, s in enumerate((8, 16, 32))}
    else:
        outs = {
            "num_dets": np.zeros((1, 1), np.int64),
            "det_boxes": np.zeros((1, 1, 4), np.float32),
            "det_scores": np.zeros((1, 1), np.float32),
            "det_classes": np.full((1, 1), -1, np.int64),
        }
    (res,) = postprocess(outs, _spec(outs), (64, 64))
    assert len(res) == 0 and res.boxes.shape == (0, 4) and res.class_ids.dtype == np.int64


def test_unknown_layout_is_a_clear_error():
    with pytest.raises(InputError, match="layout"):
        detect_layout({"a": (1, 10), "b": (1, 3, 4, 5, 6)})
    with pytest.raises(InputError, match="columns"):
        detect_layout({"o": (1, 10, 85)}, num_classes=3)
    with pytest.raises(InputError, match="unknown layout"):
        detect_layout({"o": (1, 10, 85)}, layout="nonsense")
    levels = {"a": (1, 84, 8, 8), "b": (1, 84, 4, 4), "c": (1, 84, 2, 2)}
    assert detect_layout(levels, layout="raw").layout is Layout.RAW
    with pytest.raises(InputError, match="3 or 4 levels"):  # one level (FastestDet) is never YOLOv6's heads
        detect_layout({"a": (1, 84, 8, 8)}, layout="raw")
    assert Layout.parse("heads") is Layout.RAW  # the old name: sidecars written before the rename still load


def test_conf_out_of_range():
    out = {"o": np.zeros((1, 4, 85), np.float32)}
    with pytest.raises(InputError, match="conf"):
        postprocess(out, _spec(out), (64, 64), conf=1.5)


@pytest.mark.parametrize("logits", [False, True])
def test_heads_multi_label(logits):
    outs = _heads(False, logits)
    cls = outs["out2"][0]
    cls[0, 1, 3] = _logit(0.5) if logits else 0.5  # a second class above threshold in the same cell
    spec = refine_layout(_spec(outs), outs)
    (best,) = candidates(outs, spec, (64, 128), conf=0.25)
    assert best.class_ids.tolist() == [2]
    (multi,) = candidates(outs, spec, (64, 128), conf=0.25, multi_label=True)
    assert sorted(multi.class_ids.tolist()) == [0, 2]
    np.testing.assert_allclose(sorted(multi.scores.tolist()), [0.5, 0.75], rtol=1e-5)
    np.testing.assert_allclose(multi.boxes[0], multi.boxes[1])


def test_negative_sizes_become_empty_boxes_not_inverted_ones():
    out = np.zeros((1, 2, 5 + NC), np.float32)
    out[:, :, 4] = 1
    out[0, 0, :4] = [20, 20, -4, 6]  # negative width
    out[0, 0, 5] = 0.9
    (res,) = postprocess({"o": out}, _spec({"o": out}, num_classes=NC), (64, 64))
    np.testing.assert_allclose(res.boxes, [[20, 17, 20, 23]])
    outs = _heads(True, False)
    outs["out2"][0, :4, 1, 3] = [-1.0, 0.5, -1.0, 0.5]  # l + r < 0
    (h,) = postprocess(outs, refine_layout(_spec(outs), outs), (64, 128))
    assert np.all(h.boxes[:, 2] >= h.boxes[:, 0]) and np.all(h.boxes[:, 3] >= h.boxes[:, 1])
