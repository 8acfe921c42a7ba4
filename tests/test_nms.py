"""NMS against brute-force references written here as plain Python loops."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

import lite.ops.nms as nms_mod
from lite.core.errors import InputError
from lite.ops.nms import NMS_MODES, box_iou, nms, nms_indices

# --------------------------------------------------------------------------- references


def ref_iou(a: list[float], b: list[float]) -> float:
    """IoU of two xyxy boxes, no +1 convention, 0 when the union is 0."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    area_a = max(a[2] - a[0], 0.0) * max(a[3] - a[1], 0.0)
    area_b = max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0)
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def ref_clusters(boxes, scores, classes, thr, agnostic, max_det) -> list[list[int]]:
    """Greedy NMS as a double loop; one list per kept box: [kept, *suppressed by it]."""
    boxes = [list(map(float, b)) for b in boxes]
    n = len(boxes)
    order = sorted(range(n), key=lambda i: -float(scores[i]))  # sorted() is stable
    removed = [False] * n
    out: list[list[int]] = []
    for pos, i in enumerate(order):
        if removed[i]:
            continue
        removed[i] = True
        cluster = [i]
        for j in order[pos + 1 :]:
            if removed[j]:
                continue
            if not agnostic and int(classes[j]) != int(classes[i]):
                continue
            if ref_iou(boxes[i], boxes[j]) > thr:
                removed[j] = True
                cluster.append(j)
        out.append(cluster)
        if len(out) >= max_det:
            break
    return out


def ref_keep(boxes, scores, classes, thr, agnostic, max_det) -> list[int]:
    return [c[0] for c in ref_clusters(boxes, scores, classes, thr, agnostic, max_det)]


def ref_blend(boxes, scores, classes, thr, max_det):
    rows = []
    for cl in ref_clusters(boxes, scores, classes, thr, False, max_det):
        ex = [math.exp(float(scores[j])) for j in cl]
        tot = sum(ex)
        w = [e / tot for e in ex]
        box = [sum(w[k] * float(boxes[j][q]) for k, j in enumerate(cl)) for q in range(4)]
        score = sum(w[k] * float(scores[j]) for k, j in enumerate(cl))
        rows.append((box, score, int(classes[cl[0]])))
    rows = sorted(rows, key=lambda r: -r[1])
    return (
        np.array([r[0] for r in rows], dtype=np.float64).reshape(-1, 4),
        np.array([r[1] for r in rows], dtype=np.float64),
        np.array([r[2] for r in rows], dtype=np.int64),
    )


# --------------------------------------------------------------------------- case generators


def clustered_case(rng: np.random.Generator, n: int, n_cls: int):
    """Float32 boxes around a few centres, as a detector's raw candidates look."""
    centres = rng.uniform(-20, 400, size=(max(1, n // 6), 2))
    xy = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 6, (n, 2))
    wh = rng.uniform(0, 80, (n, 2))
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1).astype(np.float32)
    scores = rng.uniform(0.05, 1.0, n).astype(np.float32)
    classes = rng.integers(0, n_cls, n)
    return boxes, scores, classes


def grid_case(rng: np.random.Generator, n: int, n_cls: int):
    """Integer boxes on a small grid: many identical boxes, equal IoUs, tied scores, zero areas."""
    x1 = rng.integers(0, 12, n)
    y1 = rng.integers(0, 12, n)
    boxes = np.stack([x1, y1, x1 + rng.integers(0, 8, n), y1 + rng.integers(0, 8, n)], 1).astype(np.float32)
    scores = rng.choice(np.array([0.3, 0.5, 0.5, 0.7, 0.9], dtype=np.float32), n)
    classes = rng.integers(0, n_cls, n)
    return boxes, scores, classes


def make_case(seed: int):
    """A random case plus a threshold; a third of them use an IoU that really occurs (equality)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 70))
    n_cls = int(rng.choice([1, 2, 3, 80]))
    gen = grid_case if seed % 2 else clustered_case
    boxes, scores, classes = gen(rng, n, n_cls)
    if seed % 3 == 0 and n > 1:
        i, j = rng.integers(0, n, 2)
        thr = ref_iou(boxes[i].tolist(), boxes[j].tolist())
    else:
        thr = float(rng.choice([0.0, 1 / 3, 0.45, 0.5, 0.7, 1.0, rng.uniform(0, 1)]))
    return boxes, scores, classes, thr


SEEDS = range(100)


@functools.cache
def cached_keep(seed: int, agnostic: bool, max_det: int) -> list[int]:
    """Reference answer of ``make_case(seed)``; cached because several block budgets reuse it."""
    boxes, scores, classes, thr = make_case(seed)
    return ref_keep(boxes, scores, classes, thr, agnostic, max_det)


@functools.cache
def cached_blend(seed: int, max_det: int):
    boxes, scores, classes, thr = make_case(seed)
    return ref_blend(boxes, scores, classes, thr, max_det)


@pytest.fixture(params=[4096, 1, 7, 60], ids=lambda b: f"budget{b}")
def block_budget(request, monkeypatch):
    """Exercise the block path, the one-box-per-step path and the switches between them."""
    monkeypatch.setattr(nms_mod, "_IOU_BLOCK_BUDGET", request.param)
    return request.param


# --------------------------------------------------------------------------- hard NMS vs reference


@pytest.mark.parametrize("agnostic", [False, True], ids=["class_aware", "agnostic"])
def test_nms_indices_matches_reference(agnostic, block_budget):
    for seed in SEEDS:
        boxes, scores, classes, thr = make_case(seed)
        got = nms_indices(boxes, scores, classes, iou_threshold=thr, agnostic=agnostic, max_det=1000)
        want = cached_keep(seed, agnostic, 1000)
        assert got.dtype == np.int64
        assert got.tolist() == want, f"seed {seed} thr {thr}"


@pytest.mark.parametrize("mode", ["class_aware", "agnostic"])
def test_nms_matches_reference(mode):
    for seed in SEEDS:
        boxes, scores, classes, thr = make_case(seed)
        b, s, c = nms(boxes, scores, classes, iou_threshold=thr, mode=mode, max_det=1000)
        keep = cached_keep(seed, mode == "agnostic", 1000)
        assert (b.dtype, s.dtype, c.dtype) == (np.float32, np.float32, np.int64)
        np.testing.assert_array_equal(b, boxes[keep])
        np.testing.assert_array_equal(s, scores[keep])
        np.testing.assert_array_equal(c, classes[keep])
        assert np.all(np.diff(s) <= 0)


@pytest.mark.parametrize("max_det", [1, 2, 3, 5])
@pytest.mark.parametrize("agnostic", [False, True])
def test_max_det(max_det, agnostic, block_budget):
    for seed in range(40):
        boxes, scores, classes, thr = make_case(seed)
        got = nms_indices(boxes, scores, classes, iou_threshold=thr, agnostic=agnostic, max_det=max_det)
        assert got.tolist() == cached_keep(seed, agnostic, max_det)


def test_no_class_ids_is_agnostic():
    for seed in range(30):
        boxes, scores, classes, thr = make_case(seed)
        got = nms_indices(boxes, scores, iou_threshold=thr)
        assert got.tolist() == ref_keep(boxes, scores, classes, thr, True, 100)
        for mode in NMS_MODES:
            b, s, c = nms(boxes, scores, None, iou_threshold=thr, mode=mode)
            want = nms(boxes, scores, np.zeros(len(scores), np.int64), iou_threshold=thr, mode=mode)
            np.testing.assert_array_equal(b, want[0])
            np.testing.assert_array_equal(s, want[1])
            assert c.dtype == np.int64 and not c.any()


def test_larger_inputs_match_reference():
    """Past 2048 candidates the loop is one box per step; check both regimes on real sizes."""
    rng = np.random.default_rng(7)
    for n, n_cls in [(300, 5), (2100, 1)]:
        boxes, scores, classes = clustered_case(rng, n, n_cls)
        boxes *= 4  # spread out: fewer suppressions, more kept boxes
        for agnostic in (False, True):
            got = nms_indices(boxes, scores, classes, iou_threshold=0.5, agnostic=agnostic, max_det=30)
            assert got.tolist() == ref_keep(boxes, scores, classes, 0.5, agnostic, 30)


def test_float64_and_int_inputs():
    boxes, scores, classes, _ = make_case(4)
    want = nms_indices(boxes, scores, classes, iou_threshold=0.5)
    got = nms_indices(boxes.astype(np.float64), scores.astype(np.float64), classes.astype(np.int32), iou_threshold=0.5)
    assert got.tolist() == want.tolist()
    ints = nms_indices(boxes.round().astype(np.int32), scores, classes.astype(np.float32), iou_threshold=0.5)
    assert ints.tolist() == ref_keep(boxes.round(), scores, classes, 0.5, False, 100)


# --------------------------------------------------------------------------- blend


def test_blend_matches_reference(block_budget):
    for seed in SEEDS:
        boxes, scores, classes, thr = make_case(seed)
        for max_det in (1000, 3):
            b, s, c = nms(boxes, scores, classes, iou_threshold=thr, mode="blend", max_det=max_det)
            rb, rs, rc = cached_blend(seed, max_det)
            assert (b.dtype, s.dtype, c.dtype) == (np.float32, np.float32, np.int64)
            assert b.shape == rb.shape, f"seed {seed}"
            np.testing.assert_allclose(s, rs, rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(b, rb, rtol=1e-6, atol=1e-4)
            np.testing.assert_array_equal(c, rc)


def test_blend_hand_case():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [100, 100, 110, 110]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    b, s, c = nms(boxes, scores, [2, 2, 2], iou_threshold=0.5, mode="blend")
    w0 = math.exp(0.9) / (math.exp(0.9) + math.exp(0.8))
    w1 = 1 - w0
    np.testing.assert_allclose(b[0], [w1 * 1, 0, 10 + w1, 10], rtol=1e-6)
    np.testing.assert_allclose(s[0], w0 * 0.9 + w1 * 0.8, rtol=1e-6)
    np.testing.assert_array_equal(b[1], boxes[2])
    assert s[1] == np.float32(0.7)
    assert c.tolist() == [2, 2]
    # different classes never blend
    b, s, c = nms(boxes, scores, [0, 1, 0], iou_threshold=0.5, mode="blend")
    np.testing.assert_array_equal(b, boxes)
    assert c.tolist() == [0, 1, 0]


# --------------------------------------------------------------------------- hand-built cases


def test_hand_built_overlaps():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11]], np.float32)  # IoU 81/119 = 0.68
    scores = np.array([0.8, 0.9], np.float32)
    assert nms_indices(boxes, scores, [0, 0], iou_threshold=0.5).tolist() == [1]
    assert nms_indices(boxes, scores, [0, 1], iou_threshold=0.5).tolist() == [1, 0]
    assert nms_indices(boxes, scores, [0, 1], iou_threshold=0.5, agnostic=True).tolist() == [1]
    assert nms_indices(boxes, scores, [0, 0], iou_threshold=0.7).tolist() == [1, 0]
    b, s, c = nms(boxes, scores, [3, 3])
    np.testing.assert_array_equal(b, boxes[[1]])
    assert s.tolist() == [np.float32(0.9)] and c.tolist() == [3]
    assert len(nms(boxes, scores, [3, 4])[0]) == 2
    assert len(nms(boxes, scores, [3, 4], mode="agnostic")[0]) == 1


def test_threshold_equality_is_not_suppressed():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 5]], np.float32)  # IoU exactly 0.5
    scores = np.array([0.9, 0.8], np.float32)
    assert nms_indices(boxes, scores, iou_threshold=0.5).tolist() == [0, 1]
    assert nms_indices(boxes, scores, iou_threshold=np.nextafter(0.5, 0)).tolist() == [0]


def test_ties_keep_lower_index_first():
    boxes = np.array([[0, 0, 10, 10]] * 3 + [[50, 50, 60, 60]] * 2, np.float32)
    scores = np.array([0.5, 0.5, 0.5, 0.9, 0.9], np.float32)
    assert nms_indices(boxes, scores).tolist() == [3, 0]
    assert nms_indices(boxes, scores, iou_threshold=1.0).tolist() == [3, 4, 0, 1, 2]


def test_zero_area_boxes_suppress_nothing():
    boxes = np.array([[5, 5, 5, 5], [5, 5, 5, 5], [0, 0, 10, 10], [5, 0, 5, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    assert nms_indices(boxes, scores, iou_threshold=0.0).tolist() == [0, 1, 2, 3]


def test_negative_coordinates_class_aware():
    # all coordinates <= 0: a "class_id * (max + 1)" offset would only shift by 1 pixel
    boxes = np.array([[-100, -100, 0, 0], [-100, -100, 0, 0], [-99, -99, 0, 0], [-30, -30, -10, -10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    assert nms_indices(boxes, scores, [0, 1, 2, 3]).tolist() == [0, 1, 2, 3]
    assert nms_indices(boxes, scores, [-1, 1, 7, 2]).tolist() == [0, 1, 2, 3]
    assert nms_indices(boxes, scores, [5, 5, 5, 5]).tolist() == [0, 3]


# --------------------------------------------------------------------------- box_iou


def test_box_iou_matches_reference():
    rng = np.random.default_rng(0)
    a, _, _ = grid_case(rng, 15, 1)
    b, _, _ = clustered_case(rng, 9, 1)
    got = box_iou(a, b)
    assert got.shape == (15, 9) and got.dtype == np.float64
    want = [[ref_iou(x, y) for y in b.tolist()] for x in a.tolist()]
    np.testing.assert_array_equal(got, want)
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 9)
    assert box_iou([[0, 0, 0, 0]], [[0, 0, 0, 0]]).tolist() == [[0.0]]
    assert box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2]]).tolist() == [[1 / 3]]


# --------------------------------------------------------------------------- empty and invalid


def test_empty_everywhere():
    e4 = np.zeros((0, 4), np.float32)
    e = np.zeros(0, np.float32)
    for idx in (nms_indices(e4, e), nms_indices(e4, e, np.zeros(0, np.int64)), nms_indices([], [], [])):
        assert idx.shape == (0,) and idx.dtype == np.int64
    for mode in NMS_MODES:
        b, s, c = nms(e4, e, np.zeros(0, np.int64), mode=mode)
        assert (b.shape, s.shape, c.shape) == ((0, 4), (0,), (0,))
        assert (b.dtype, s.dtype, c.dtype) == (np.float32, np.float32, np.int64)
        b, s, c = nms([], [], [], mode=mode)
        assert (b.shape, b.dtype, c.dtype) == ((0, 4), np.float32, np.int64)


GOOD = (np.zeros((2, 4), np.float32) + [0, 0, 1, 1], np.ones(2, np.float32), np.zeros(2, np.int64))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"boxes": np.zeros((2, 5))}, r"expected shape \(n, 4\)"),
        ({"boxes": np.zeros(8)}, r"expected shape \(n, 4\)"),
        ({"boxes": np.array([["a"] * 4] * 2)}, "numeric"),
        ({"scores": np.ones(3)}, r"scores: expected shape \(2,\)"),
        ({"scores": np.ones((2, 1))}, r"scores: expected shape \(2,\)"),
        ({"class_ids": np.zeros(3, np.int64)}, r"class_ids: expected shape \(2,\)"),
        ({"class_ids": np.array([0.5, 1.0])}, "integer"),
        ({"iou_threshold": 1.5}, r"\[0, 1\]"),
        ({"iou_threshold": -0.1}, r"\[0, 1\]"),
        ({"iou_threshold": float("nan")}, r"\[0, 1\]"),
        ({"iou_threshold": "0.5"}, r"\[0, 1\]"),
        ({"max_det": 0}, "positive integer"),
        ({"max_det": 2.5}, "positive integer"),
        ({"boxes": np.array([[0, 0, np.nan, 1], [0, 0, 1, 1]])}, "finite"),
        ({"scores": np.array([np.nan, 1.0])}, "finite"),
    ],
)
def test_invalid_inputs(kwargs, match):
    args = dict(zip(("boxes", "scores", "class_ids"), GOOD, strict=True))
    args.update(kwargs)
    boxes, scores, class_ids = args.pop("boxes"), args.pop("scores"), args.pop("class_ids")
    with pytest.raises(InputError, match=match):
        nms_indices(boxes, scores, class_ids, **args)
    for mode in NMS_MODES:
        with pytest.raises(InputError, match=match):
            nms(boxes, scores, class_ids, mode=mode, **args)


def test_unknown_mode_lists_modes():
    with pytest.raises(InputError, match="class_aware.*agnostic.*blend.*got 'soft'"):
        nms(*GOOD, mode="soft")  # type: ignore[arg-type]
    assert issubclass(InputError, ValueError)
