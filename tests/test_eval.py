"""lite.tools.eval: category mapping, the results writer, pycocotools scoring, and real COCO figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lite import backends
from lite.core.errors import ImageNotFoundError, InputError
from lite.data.coco import COCO80_TO_91, COCO_NAMES
from lite.tools.eval import (
    STAT_NAMES,
    CategoryMap,
    category_map,
    coco,
    coco_results,
    default_category_ids,
    evaluate,
    write_results,
)

pytest.importorskip("pycocotools", reason="lite.tools.eval needs pycocotools (pip install 'lite-detect[eval]')")

# AP (0.50:0.95) of the decoded 320 ONNX models on val2017_128 with YOLOv6's evaluation settings.
EXPECTED_AP = {"s": 0.306, "m": 0.321, "l": 0.348}
TOL = 0.003


# ----------------------------------------------------------------------------------------------
# category mapping
# ----------------------------------------------------------------------------------------------
def coco_categories(spelling: str = "darknet") -> list[dict]:
    names = list(COCO_NAMES)
    if spelling == "coco":
        alt = {"motorbike": "motorcycle", "aeroplane": "airplane", "sofa": "couch", "tvmonitor": "tv"}
        names = [alt.get(n, n) for n in names]
    return [{"id": i, "name": n} for i, n in zip(COCO80_TO_91, names, strict=True)]


def test_category_map_coco_ids():
    m = category_map(coco_categories(), COCO_NAMES)
    assert m.how == "coco80"
    assert m.ids == COCO80_TO_91
    assert m(np.array([0, 11, 79])).tolist() == [1, 13, 90]


def test_category_map_shared_annotations(shared):
    ann = json.loads((shared / "coco" / "val2017_128" / "instances.json").read_text())
    m = category_map(ann["categories"], COCO_NAMES)
    assert m.how == "coco80" and m.ids == COCO80_TO_91


def test_category_map_by_name_shuffled_ids():
    names = ("circle", "square", "triangle")
    cats = [{"id": 7, "name": "Triangle"}, {"id": 2, "name": "circle"}, {"id": 5, "name": "square"}]
    m = category_map(cats, names)
    assert m.how == "name"
    assert m.ids == (2, 5, 7)


def test_category_map_by_name_subset_and_coco_spelling():
    # a dataset with 3 COCO categories spelled as in the COCO files; the model uses darknet names
    cats = [{"id": 4, "name": "motorcycle"}, {"id": 1, "name": "person"}, {"id": 63, "name": "couch"}]
    m = category_map(cats, COCO_NAMES)
    assert m.how == "name"
    assert m.ids[COCO_NAMES.index("motorbike")] == 4
    assert m.ids[COCO_NAMES.index("person")] == 1
    assert m.ids[COCO_NAMES.index("sofa")] == 63
    assert m.ids[COCO_NAMES.index("car")] == -1  # not in the dataset: dropped
    # full COCO list in COCO spelling is still recognised from its ids
    assert category_map(coco_categories("coco"), COCO_NAMES).how == "coco80"


def test_category_map_by_order():
    cats = [{"id": 3, "name": "b"}, {"id": 1, "name": "a"}]
    m = category_map(cats, ("class_0", "class_1"))
    assert (m.how, m.ids) == ("order", (1, 3))


def test_category_map_impossible():
    with pytest.raises(InputError, match="cannot map"):
        category_map([{"id": 1, "name": "a"}], ("x", "y"))
    with pytest.raises(InputError, match="no 'categories'"):
        category_map([], ("x",))


def test_default_category_ids():
    assert default_category_ids(COCO_NAMES) == COCO80_TO_91
    assert default_category_ids(("circle", "square")) == (1, 2)


def test_category_map_rejects_out_of_range_class():
    with pytest.raises(InputError, match="class ids"):
        CategoryMap((1, 2), "order")(np.array([2]))


# ----------------------------------------------------------------------------------------------
# results writer and scoring with hand-made detections
# ----------------------------------------------------------------------------------------------
def test_coco_results_records():
    xyxy = np.array([[10.12345, 20, 30, 60], [0, 0, 5, 5], [1, 1, 2, 2]], np.float32)
    recs = coco_results(
        42, xyxy, np.array([0.9123456, 0.5, 0.4]), np.array([1, 0, 2]), CategoryMap((3, 9, -1), "name"),
        file_name="a.jpg", names=("x", "y", "z"),
    )  # fmt: skip
    assert len(recs) == 2  # class 2 has no category: dropped
    assert recs[0] == {
        "image_id": 42,
        "file_name": "a.jpg",
        "category_id": 9,
        "category_name": "y",
        "bbox": [10.123, 20.0, 19.877, 40.0],
        "score": 0.91235,
    }
    assert recs[1]["category_id"] == 3 and recs[1]["bbox"] == [0.0, 0.0, 5.0, 5.0]
    with pytest.raises(InputError, match="as many"):
        coco_results(1, xyxy, np.zeros(2), np.zeros(3, int), (1, 2, 3))


@pytest.fixture(scope="module")
def shapes_dataset(tmp_path_factory) -> Path:
    from lite.demo.scenes import write_dataset

    return write_dataset(tmp_path_factory.mktemp("shapes"), n=6, seed=3, size=(160, 192))


def gt_detections(ann: dict) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per image: the ground truth as detections (xyxy, scores, model class ids = category id - 1)."""
    per: dict[int, list] = {im["id"]: [] for im in ann["images"]}
    for a in ann["annotations"]:
        x, y, w, h = a["bbox"]
        per[a["image_id"]].append((x, y, x + w, y + h, a["category_id"] - 1))
    out = {}
    for k, rows in per.items():
        arr = np.array(rows, np.float64).reshape(-1, 5)
        out[k] = (arr[:, :4], np.linspace(0.9, 0.5, len(arr)), arr[:, 4].astype(np.int64))
    return out


def test_perfect_detections_score_ap_1(shapes_dataset, tmp_path):
    from lite.demo.scenes import SHAPE_NAMES

    ann = json.loads(shapes_dataset.read_text())
    assert len(ann["annotations"]) > 10
    cmap = category_map(ann["categories"], SHAPE_NAMES)
    assert cmap.how == "name" and cmap.ids == tuple(range(1, 7))
    recs = []
    for image_id, (b, s, c) in gt_detections(ann).items():
        recs += coco_results(image_id, b, s, c, cmap)
    path = write_results(recs, tmp_path / "sub" / "pred.json")
    assert json.loads(path.read_text()) == recs
    stats, summary = evaluate(shapes_dataset, path)
    assert len(stats) == len(STAT_NAMES) == 12
    assert stats[0] == pytest.approx(1.0) and stats[1] == pytest.approx(1.0)
    assert "Average Precision" in summary


def test_imperfect_detections_score_lower(shapes_dataset):
    from lite.demo.scenes import SHAPE_NAMES

    ann = json.loads(shapes_dataset.read_text())
    cmap = category_map(ann["categories"], SHAPE_NAMES)
    shifted, wrong_class = [], []
    for image_id, (b, s, c) in gt_detections(ann).items():
        w = b[:, 2:] - b[:, :2]
        moved = b + np.concatenate([w, w], axis=1) * 0.5  # IoU 1/7 with the truth
        shifted += coco_results(image_id, moved, s, c, cmap)
        wrong_class += coco_results(image_id, b, s, (c + 1) % 6, cmap)
    assert evaluate(ann, shifted)[0][0] == pytest.approx(0.0)
    assert evaluate(ann, wrong_class)[0][0] < 0.2


def test_evaluate_no_detections(shapes_dataset):
    stats, summary = evaluate(shapes_dataset, [])
    assert stats == (0.0,) * 12 and "no detections" in summary


# ----------------------------------------------------------------------------------------------
# real models on the shared COCO subset
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def val128(shared) -> tuple[Path, Path]:
    root = shared / "coco" / "val2017_128"
    return root / "images", root / "instances.json"


@pytest.mark.slow
@pytest.mark.parametrize("size", ["m", "l"])
def test_coco_reproduces_ap_ort(size, onnx_dir, val128, tmp_path):
    images, ann = val128
    out = tmp_path / "pred.json"
    r = coco(onnx_dir / f"yolov6lite_{size}_320_decoded.onnx", images, ann, threads=1, progress=False, out_json=out)
    assert abs(r.AP - EXPECTED_AP[size]) <= TOL, str(r)
    assert r.num_images == 128 and r.mapping == "coco80"
    assert r.settings["backend"] == "ort" and r.settings["conf"] == 0.03 and r.settings["max_det"] == 300
    assert r.predictions == out and len(json.loads(out.read_text())) == r.num_detections
    assert r.AP50 > r.AP and r.stats[:6] == (r.AP, r.AP50, r.AP75, r.APs, r.APm, r.APl)


@pytest.mark.slow
def test_coco_ncnn_matches_ort(ncnn_dir, val128):
    """The official NCNN Lite-S model gives the same AP as the ONNX export on ORT."""
    if "ncnn" not in backends.available():
        pytest.skip("the ncnn backend is not installed (pip install 'lite-detect[ncnn]')")
    images, ann = val128
    # one thread: on a busy 2-core machine NCNN's OpenMP workers spin-wait and two threads run ~5x slower
    r = coco(ncnn_dir / "yolov6-lite-s.param", images, ann, backend="ncnn", input_size=320, threads=1, progress=False)
    assert r.settings["backend"] == "ncnn" and r.settings["input_size"] == [320, 320]
    assert abs(r.AP - EXPECTED_AP["s"]) <= TOL, str(r)


def test_coco_detector_instance_and_limit(onnx_dir, val128):
    """A Detector is used as is (not closed); limit evaluates the first images only."""
    from lite.cv import YOLOv6

    images, ann = val128
    with YOLOv6(onnx_dir / "yolov6lite_s_320_decoded.onnx", threads=1) as det:
        a = coco(det, images, ann, limit=6, progress=False)
        b = coco(det, images, ann, limit=6, progress=False, conf=0.3)
        assert len(det.detect(np.zeros((64, 64, 3), np.uint8))) >= 0  # still open
    assert a.num_images == 6 and 0.0 < a.AP <= 1.0
    assert b.num_detections < a.num_detections  # the conf override reached detect()


def test_coco_errors(onnx_dir, val128, tmp_path):
    images, ann = val128
    model = onnx_dir / "yolov6lite_s_320_decoded.onnx"
    with pytest.raises(ImageNotFoundError, match="not in"):
        coco(model, tmp_path, ann, progress=False)
    with pytest.raises(InputError, match="annotation file not found"):
        coco(model, images, tmp_path / "nope.json", progress=False)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"images": []}))
    with pytest.raises(InputError, match="missing"):
        coco(model, images, bad, progress=False)
