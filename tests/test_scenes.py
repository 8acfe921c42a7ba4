"""Tests of the procedural scene generator (numpy + OpenCV only, no torch)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from lite.demo.scenes import SHAPE_NAMES, make_scene, write_dataset


def test_no_torch_import() -> None:
    import importlib

    import lite.demo.scenes as scenes

    importlib.reload(scenes)
    assert "torch" not in scenes.__dict__
    if "torch" not in sys.modules:  # only checkable when nothing else imported torch first
        assert "torch" not in sys.modules


def test_shape_names() -> None:
    assert 5 <= len(SHAPE_NAMES) <= 8
    assert len(set(SHAPE_NAMES)) == len(SHAPE_NAMES)


@pytest.mark.parametrize("seed", [0, 7])
def test_make_scene_deterministic(seed: int) -> None:
    a = make_scene(np.random.default_rng(seed), (320, 320))
    b = make_scene(np.random.default_rng(seed), (320, 320))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    c = make_scene(np.random.default_rng(seed + 1000), (320, 320))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("size", [(320, 320), (240, 400), (400, 256)])
def test_make_scene_types_and_ranges(size: tuple[int, int]) -> None:
    rng = np.random.default_rng(3)
    h, w = size
    seen = set()
    for _ in range(20):
        img, boxes, ids = make_scene(rng, size)
        assert img.shape == (h, w, 3) and img.dtype == np.uint8
        assert boxes.dtype == np.float32 and boxes.ndim == 2 and boxes.shape[1] == 4
        assert ids.dtype == np.int64 and ids.shape == (len(boxes),)
        assert len(boxes) >= 1
        assert np.all(boxes[:, 0] >= 0) and np.all(boxes[:, 1] >= 0)
        assert np.all(boxes[:, 2] <= w) and np.all(boxes[:, 3] <= h)
        bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        assert np.all(bw >= 4) and np.all(bh >= 4)
        assert np.all(np.maximum(bw, bh) <= max(h, w) * 0.55)
        assert np.all((ids >= 0) & (ids < len(SHAPE_NAMES)))
        seen.update(ids.tolist())
    assert len(seen) == len(SHAPE_NAMES)


def test_sizes_vary() -> None:
    rng = np.random.default_rng(11)
    sides = np.concatenate([np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) for _, b, _ in
                            (make_scene(rng, (320, 320)) for _ in range(30))])  # fmt: skip
    assert sides.min() <= 16
    assert sides.max() >= 120


def _edge_contrast(img: np.ndarray, box: np.ndarray) -> list[float]:
    """For each side of the box: max colour distance between the inner edge line and the line just outside."""
    x1, y1, x2, y2 = (int(v) for v in box)
    f = img.astype(np.float32)
    h, w = img.shape[:2]
    out = []
    sides = [
        (f[y1, x1:x2], f[max(y1 - 2, 0), x1:x2]),
        (f[y2 - 1, x1:x2], f[min(y2 + 1, h - 1), x1:x2]),
        (f[y1:y2, x1], f[y1:y2, max(x1 - 2, 0)]),
        (f[y1:y2, x2 - 1], f[y1:y2, min(x2 + 1, w - 1)]),
    ]
    for inner, outer in sides:
        out.append(float(np.linalg.norm(inner - outer, axis=-1).max()))
    return out


def test_boxes_are_tight_loosely() -> None:
    """Every side of a box touches the shape: its edge line differs from just outside the box."""
    rng = np.random.default_rng(5)
    sides, touching = 0, 0
    loose = 0
    for _ in range(15):
        img, boxes, _ = make_scene(rng, (320, 320))
        for b in boxes:
            c = _edge_contrast(img, b)
            sides += 4
            touching += sum(v > 40 for v in c)
            # one pixel further in must not be *better* on all sides (box not too large)
            x1, y1, x2, y2 = b
            if x2 - x1 > 8 and y2 - y1 > 8:
                shrunk = np.array([x1 + 2, y1 + 2, x2 - 2, y2 - 2])
                loose += int(min(c) < 5 and min(_edge_contrast(img, shrunk)) > 40)
    assert touching / sides > 0.9
    assert loose == 0


def test_write_dataset_coco(tmp_path: Path) -> None:
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO

    ann = write_dataset(tmp_path / "ds", n=6, seed=42, size=(256, 320))
    assert ann.name == "instances.json" and ann.is_file()
    coco = COCO(str(ann))
    cats = coco.loadCats(coco.getCatIds())
    assert [c["id"] for c in cats] == list(range(1, len(SHAPE_NAMES) + 1))
    assert [c["name"] for c in cats] == list(SHAPE_NAMES)
    img_ids = coco.getImgIds()
    assert len(img_ids) == 6
    for info in coco.loadImgs(img_ids):
        path = ann.parent / "images" / info["file_name"]
        img = cv2.imread(str(path))
        assert img is not None and img.shape[:2] == (info["height"], info["width"]) == (256, 320)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=info["id"]))
        assert anns
        for a in anns:
            x, y, bw, bh = a["bbox"]
            assert a["iscrowd"] == 0 and a["area"] == pytest.approx(bw * bh)
            assert x >= 0 and y >= 0 and x + bw <= 320 and y + bh <= 256
    # same seed, same dataset; labels match make_scene with that seed
    ann2 = write_dataset(tmp_path / "ds2", n=6, seed=42, size=(256, 320))
    assert json.loads(ann.read_text()) == json.loads(ann2.read_text())
    _, boxes, ids = make_scene(np.random.default_rng(42), (256, 320))
    first = coco.loadAnns(coco.getAnnIds(imgIds=img_ids[0]))
    np.testing.assert_allclose([a["bbox"][0] for a in first], boxes[:, 0])
    assert [a["category_id"] - 1 for a in first] == ids.tolist()
