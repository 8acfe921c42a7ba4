"""The Detections result type: validation, indexing, text, serialisation, drawing."""

from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np
import pytest

from lite.core.errors import BackendNotInstalledError, ImageError, InputError
from lite.data.coco import COCO80_TO_91, COCO_NAMES
from lite.data.detections import PALETTE, Detection, Detections


@pytest.fixture
def dets() -> Detections:
    return Detections(
        xyxy=[[10, 20, 110, 220], [50, 60, 70, 90], [0, 0, 30.5, 40.25], [200, 10, 260, 70], [5, 5, 6, 6]],
        scores=[0.93, 0.89, 0.88, 0.85, 0.40],
        class_ids=[5, 0, 0, 0, 0],
        names=COCO_NAMES,
    )


# --------------------------------------------------------------------------- construction


def test_construction_converts_dtypes(dets):
    assert dets.xyxy.dtype == np.float32 and dets.xyxy.shape == (5, 4)
    assert dets.scores.dtype == np.float32 and dets.scores.shape == (5,)
    assert dets.class_ids.dtype == np.int64
    assert isinstance(dets.names, tuple) and dets.names == COCO_NAMES
    d = Detections(np.zeros((1, 4), np.float64), np.ones(1, np.float64), np.array([3.0]), ["a", "b"])
    assert (d.xyxy.dtype, d.scores.dtype, d.class_ids.dtype, d.names) == (np.float32, np.float32, np.int64, ("a", "b"))
    d = Detections(np.zeros((1, 4), np.int32), np.ones(1, np.int8), np.array([1], np.uint8))
    assert (d.xyxy.dtype, d.scores.dtype, d.class_ids.dtype) == (np.float32, np.float32, np.int64)


def test_arrays_are_read_only_copies():
    box = np.array([[0, 0, 4, 4]], np.float32)
    d = Detections(box, np.array([0.5], np.float32), np.array([0]))
    box[0, 0] = 3
    assert d.xyxy[0, 0] == 0
    with pytest.raises(ValueError):
        d.xyxy[0, 0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.scores = np.ones(1)  # type: ignore[misc]


def test_names_mapping_and_empty_inputs():
    d = Detections([[0, 0, 1, 1]], [0.5], [2], {0: "cat", 2: "dog"})
    assert d.names == ("cat", "class_1", "dog") and d.labels == ["dog"]
    for e in (Detections([], [], []), Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0)), Detections.empty()):
        assert len(e) == 0 and e.xyxy.shape == (0, 4) and e.class_ids.dtype == np.int64
        assert e.labels == [] and e.summary() == {} and list(e) == []
    assert Detections.empty(names=["a"]).names == ("a",)
    names = Detections([[0, 0, 1, 1]], [0.5], [0], np.array(["x", "y"])).names
    assert names == ("x", "y") and type(names[0]) is str


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([[0, 0, 1]], [0.5], [0]), r"xyxy: expected shape \(n, 4\), got shape \(1, 3\)"),
        (([0, 0, 1, 1], [0.5], [0]), r"xyxy: expected shape \(n, 4\), got shape \(4,\)"),
        ((np.zeros((2, 2, 4)), [0.5, 0.5], [0, 0]), r"xyxy: expected shape \(n, 4\), got shape \(2, 2, 4\)"),
        (([["a", "b", "c", "d"]], [0.5], [0]), "xyxy: expected a numeric"),
        (([[0, 0, 1, 1]], [0.5, 0.4], [0]), r"scores: expected shape \(1,\) .*got shape \(2,\)"),
        (([[0, 0, 1, 1]], [[0.5]], [0]), r"scores: expected shape \(1,\) .*got shape \(1, 1\)"),
        (([[0, 0, 1, 1]], [0.5], [0, 1]), r"class_ids: expected shape \(1,\) .*got shape \(2,\)"),
        (([[0, 0, np.nan, 1]], [0.5], [0]), r"xyxy: expected finite .*got row 0"),
        (([[0, 0, 1, 1], [0, 0, np.inf, 1]], [0.5, 0.5], [0, 0]), r"xyxy: expected finite .*got row 1"),
        (([[0, 0, 1e39, 1]], [0.5], [0]), "xyxy: expected finite float32"),
        (([[5, 0, 1, 1]], [0.5], [0]), r"expected x1 <= x2 and y1 <= y2, got row 0 = \[5.0, 0.0, 1.0, 1.0\]"),
        (([[0, 0, 1, 1], [0, 5, 1, 1]], [0.5, 0.5], [0, 0]), r"expected x1 <= x2 and y1 <= y2, got row 1"),
        (([[0, 0, 1, 1]], [np.nan], [0]), "scores: expected finite"),
        (([[0, 0, 1, 1]], ["x"], [0]), "scores: expected a numeric"),
        (([[0, 0, 1, 1]], [0.5], [0.5]), "class_ids: expected integer"),
        (([[0, 0, 1, 1]], [0.5], ["a"]), "class_ids: expected integer"),
        (([[0, 0, 1, 1]], [0.5], [-1]), "class_ids: expected ids >= 0, got -1"),
        (([[0, 0, 1, 1]], [0.5], [0], "person"), "names: expected a sequence of class names, got the single string"),
        (([[0, 0, 1, 1]], [0.5], [0], [1, 2]), "names: expected str class names, got int"),
    ],
)
def test_construction_errors(args, match):
    with pytest.raises(InputError, match=match):
        Detections(*args)


# --------------------------------------------------------------------------- container protocol


def test_len_and_iteration(dets):
    assert len(dets) == 5
    items = list(dets)
    assert all(isinstance(d, Detection) for d in items)
    first = items[0]
    assert first == Detection((10.0, 20.0, 110.0, 220.0), float(np.float32(0.93)), 5, "bus")
    assert isinstance(first.xyxy, tuple) and isinstance(first.score, float) and isinstance(first.class_id, int)
    assert items[2].xyxy == (0.0, 0.0, 30.5, 40.25)
    assert [d.name for d in items] == ["bus", "person", "person", "person", "person"]


def test_indexing_variants(dets):
    one = dets[0]
    assert isinstance(one, Detections) and len(one) == 1 and one.labels == ["bus"] and one.names == COCO_NAMES
    assert dets[-1].scores.tolist() == [np.float32(0.40)]
    assert dets[np.int64(2)].xyxy.tolist() == [[0, 0, 30.5, 40.25]]
    assert dets[1:3].scores.tolist() == dets.scores[1:3].tolist()
    assert dets[::-1].class_ids.tolist() == [0, 0, 0, 0, 5]
    mask = dets.scores > 0.86
    assert dets[mask].scores.tolist() == dets.scores[:3].tolist()
    assert dets[[True, False, False, False, True]].labels == ["bus", "person"]
    assert dets[np.array([4, 0])].scores.tolist() == [np.float32(0.4), np.float32(0.93)]
    assert dets[[1, -1]].xyxy.tolist() == [[50, 60, 70, 90], [5, 5, 6, 6]]
    assert len(dets[[]]) == 0 and len(dets[np.zeros(5, bool)]) == 0 and len(dets[10:]) == 0
    assert dets[dets.class_ids == 0].summary() == {"person": 4}
    sub = dets[[0]]
    assert not sub.xyxy.flags.writeable and not np.shares_memory(sub.xyxy, dets.xyxy)


@pytest.mark.parametrize("key", [5, -6, [0, 7], np.array([True, False])])
def test_index_errors(dets, key):
    with pytest.raises(IndexError):
        dets[key]


@pytest.mark.parametrize("key", [True, 1.5, "a", np.zeros((2, 2), np.int64)])
def test_index_type_errors(dets, key):
    with pytest.raises(TypeError):
        dets[key]


def test_equality(dets):
    assert dets == Detections(dets.xyxy, dets.scores, dets.class_ids, dets.names)
    assert dets != dets[:4]
    assert dets != Detections(dets.xyxy, dets.scores, dets.class_ids)
    assert dets.__eq__("x") is NotImplemented


# --------------------------------------------------------------------------- derived values and text


def test_labels_wh_area(dets):
    assert dets.labels == ["bus", "person", "person", "person", "person"]
    assert Detections([[0, 0, 1, 1]], [0.5], [7]).labels == ["class_7"]
    assert Detections([[0, 0, 1, 1]], [0.5], [90], COCO_NAMES).labels == ["class_90"]
    assert dets.wh.dtype == np.float32 and dets.wh.tolist()[0] == [100, 200] and dets.wh.tolist()[2] == [30.5, 40.25]
    assert dets.area.dtype == np.float32 and dets.area.tolist()[:3] == [20000, 600, 30.5 * 40.25]


def test_repr(dets):
    text = "Detections(5): bus 0.93, person 0.89, person 0.88, person 0.85, person 0.40"
    assert repr(dets) == text and str(dets) == text
    assert repr(Detections.empty()) == "Detections(0)"
    many = Detections(np.tile([[0, 0, 1, 1]], (12, 1)), np.linspace(0.9, 0.1, 12), [1] * 11 + [2])
    r = repr(many)
    assert r.startswith("Detections(12): class_1 0.90, ") and r.endswith(", …") and r.count("class_1") == 10


def test_summary(dets):
    assert dets.summary() == {"person": 4, "bus": 1}
    assert list(dets.summary()) == ["person", "bus"]
    tie = Detections(np.zeros((4, 4)), [0.9, 0.8, 0.7, 0.6], [3, 1, 1, 3], ["a", "b", "c", "d"])
    assert list(tie.summary().items()) == [("d", 2), ("b", 2)]


# --------------------------------------------------------------------------- serialisation


def test_dict_and_json_round_trip(dets):
    d = dets.to_dict()
    assert set(d) == {"xyxy", "scores", "class_ids", "names"}
    assert isinstance(d["xyxy"][0][0], float) and isinstance(d["class_ids"][0], int)
    assert Detections.from_dict(d) == dets
    s = dets.to_json(indent=1)
    assert json.loads(s) == d
    assert Detections.from_json(s) == dets
    assert Detections.from_json(Detections.empty().to_json()) == Detections.empty()
    assert Detections.from_dict({"xyxy": [[0, 0, 1, 1]], "scores": [1], "class_ids": [0]}).names == ()


def test_from_dict_errors():
    with pytest.raises(InputError, match="missing"):
        Detections.from_dict({"xyxy": [], "scores": []})
    with pytest.raises(InputError, match="expected a dict"):
        Detections.from_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="x1 <= x2"):
        Detections.from_dict({"xyxy": [[1, 0, 0, 1]], "scores": [1], "class_ids": [0]})


def test_to_coco(dets):
    recs = dets.to_coco(42)
    assert len(recs) == 5
    assert recs[0] == {"image_id": 42, "category_id": 5, "bbox": [10.0, 20.0, 100.0, 200.0], "score": 0.93}
    assert recs[2]["bbox"] == [0.0, 0.0, 30.5, 40.25]
    json.dumps(recs)
    assert [r["category_id"] for r in dets.to_coco(1, COCO80_TO_91)] == [6, 1, 1, 1, 1]
    assert [r["category_id"] for r in dets.to_coco(1, {0: 100, 5: 200})] == [200, 100, 100, 100, 100]
    assert [r["category_id"] for r in dets.to_coco(np.int64(3), np.array(COCO80_TO_91))] == [6, 1, 1, 1, 1]
    assert dets.to_coco("img.jpg")[0]["image_id"] == "img.jpg"
    assert Detections.empty().to_coco(1) == []
    d = Detections([[1.23456, 2.0, 3.0, 7.5]], [0.1234567], [0])
    assert d.to_coco(1)[0]["bbox"] == [1.235, 2.0, 1.765, 5.5] and d.to_coco(1)[0]["score"] == 0.12346


def test_to_coco_errors(dets):
    with pytest.raises(InputError, match=r"none for \[5\]"):
        dets.to_coco(1, [1, 2, 3])
    with pytest.raises(InputError, match=r"none for \[0\]"):
        dets.to_coco(1, {5: 1})
    with pytest.raises(InputError, match="category_ids: expected a sequence or a mapping"):
        dets.to_coco(1, "abcdef")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="image_id"):
        dets.to_coco(1.5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- drawing


def test_draw_returns_annotated_copy(dets):
    img = np.full((240, 320, 3), 127, np.uint8)
    before = img.copy()
    out = dets.draw(img)
    assert out.shape == img.shape and out.dtype == np.uint8 and out is not img
    np.testing.assert_array_equal(img, before)  # input untouched
    # the border of the bus box (10, 20, 110, 220) is drawn in the bus colour...
    bus = PALETTE[5 % len(PALETTE)]
    assert tuple(out[120, 10]) == bus and tuple(out[220, 60]) == bus and tuple(out[120, 110]) == bus
    # ...its inside away from the label stays as it was, and so do pixels far from any box
    assert tuple(out[150, 60]) == (127, 127, 127) and tuple(out[230, 300]) == (127, 127, 127)
    # the label "bus 0.93" sits on a filled background just above the box
    assert (out[8:19, 12:40] != 127).any()
    assert not np.array_equal(dets.draw(img, show_scores=False), out)
    np.testing.assert_array_equal(dets.draw(img), out)  # deterministic


def test_draw_edge_cases(dets):
    gray = np.zeros((50, 60), np.uint8)
    out = Detections([[-10, -10, 100, 100]], [0.5], [1]).draw(gray)
    assert out.shape == (50, 60, 3)
    assert tuple(out[25, 0]) == PALETTE[1]  # box clipped to the image: its border is visible
    img = np.zeros((50, 60, 3), np.uint8)
    np.testing.assert_array_equal(Detections.empty().draw(img), img)
    assert Detections([[0, 0, 5, 5]], [0.9], [1000]).draw(img).shape == (50, 60, 3)


@pytest.mark.parametrize(
    ("img", "kwargs", "err"),
    [
        (np.zeros((10, 10, 3), np.float32), {}, ImageError),
        (np.zeros((10, 10, 4), np.uint8), {}, ImageError),
        (np.zeros((0, 10, 3), np.uint8), {}, ImageError),
        ([[0]], {}, ImageError),
        (np.zeros((10, 10, 3), np.uint8), {"thickness": 0}, InputError),
        (np.zeros((10, 10, 3), np.uint8), {"font_scale": 0}, InputError),
    ],
)
def test_draw_errors(dets, img, kwargs, err):
    with pytest.raises(err, match="expected"):
        dets.draw(img, **kwargs)


# --------------------------------------------------------------------------- supervision


def test_to_supervision_missing(dets, monkeypatch):
    monkeypatch.setitem(sys.modules, "supervision", None)  # makes `import supervision` fail
    with pytest.raises(BackendNotInstalledError, match="pip install supervision") as info:
        dets.to_supervision()
    assert isinstance(info.value, ImportError)


def test_to_supervision(dets):
    sv = pytest.importorskip("supervision")
    s = dets.to_supervision()
    assert isinstance(s, sv.Detections) and len(s) == 5
    np.testing.assert_array_equal(s.xyxy, dets.xyxy)
    np.testing.assert_array_equal(s.confidence, dets.scores)
    np.testing.assert_array_equal(s.class_id, dets.class_ids)
    assert list(s.data["class_name"]) == dets.labels
    assert len(Detections.empty().to_supervision()) == 0
