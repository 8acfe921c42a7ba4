"""Segmentation, pose and classification through the model layer (`ImageModel.from_file`, `Detector`, `Classifier`):
the real third-party exports of ``../shared/models/foreign_tasks`` against their README's reference results, with
and without metadata, lite's demo task models against the drawn truth, and the refusals of the wrong API.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from lite.core.errors import (
    AssumedDefaultWarning,
    DegenerateOutputWarning,
    InputError,
    LayoutError,
    TaskNotSupportedError,
)
from lite.cv import YOLOX, Classifier, Detector, ImageModel, ImageNetClassifier, YOLOv8, YOLOv8Classifier
from lite.demo import task_model_path
from lite.demo.scenes import make_diamond_scene, make_instance_scene, make_single_shape
from lite.ops.decoders import run_plan
from lite.ops.masks import prototype_masks
from lite.ops.options import DetectOptions

pytest.importorskip("onnxruntime")
from test_demo_tasks import _matches  # noqa: E402  (truth index -> prediction index, greedy by box IoU >= 0.5)

#: The README's reference (conf 0.25, class-aware NMS IoU 0.7): class, score, box, area in the 320x320 input,
#: area in the image.
SEG_REFERENCE = {
    "bus": [
        ("bus", 0.8753, (23.8, 233.8, 800.4, 736.5), 22467, 256900),
        ("person", 0.8535, (45.6, 391.6, 224.9, 906.6), 4997, 57019),
        ("person", 0.7435, (225.2, 409.5, 344.8, 857.5), 2948, 33490),
        ("person", 0.7269, (672.3, 375.2, 805.9, 871.6), 1931, 21816),
    ],
    "zidane": [
        ("person", 0.8655, (746.3, 37.6, 1144.8, 710.3), 10758, 172219),
        ("person", 0.8599, (135.7, 210.0, 957.1, 708.1), 14372, 228500),
        ("person", 0.3096, (5.1, 601.8, 119.5, 720.0), 757, 12375),
    ],
}
#: MobileNetV2's README top-5 on bus.jpg starts with an exact tie: either class is a right top-1.
MOBILENET_TOP1 = {"bus": {575, 654}, "zidane": {819}}


@pytest.fixture(scope="module")
def tasks(shared) -> Path:
    return shared / "models" / "foreign_tasks"


def _stripped(src: Path, dst: Path) -> Path:
    """A copy of an ONNX model without its metadata (what an NCNN or MNN conversion carries)."""
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(src))
    del model.metadata_props[:]
    onnx.save(model, str(dst))
    return dst


def _check_segmentation(det: Detector, image: np.ndarray, reference: list) -> None:
    d = det.detect(image)
    assert det.task == "segment" and d.masks is not None and d.masks.shape == (len(d), *image.shape[:2])
    assert [d.names[c] for c in d.class_ids] == [r[0] for r in reference]
    np.testing.assert_allclose(d.scores, [r[1] for r in reference], atol=1e-3)
    np.testing.assert_allclose(d.xyxy, [r[2] for r in reference], atol=0.1)
    np.testing.assert_allclose(d.masks.sum((1, 2)), [r[4] for r in reference], rtol=0.01)
    # the masks at the network input (ultralytics' masks.data), from the same kept rows
    tensor, t = det.preprocess(image)
    outs = det.infer(tensor)
    kept = run_plan(det.plan, outs, det.input_hw, DetectOptions())[0]
    area_in = prototype_masks(outs[det.plan.names[1]][0], kept.extra, kept.boxes, t, space="input").sum((1, 2))
    np.testing.assert_allclose(area_in, [r[3] for r in reference], rtol=0.01)


@pytest.mark.parametrize("stripped", [False, True], ids=["metadata", "stripped"])
def test_yolov8_seg_gives_the_readme_boxes_scores_and_mask_areas(tasks, images_dir, tmp_path, stripped):
    import cv2

    model = tasks / "segment" / "yolov8n-seg_int8_320.onnx"
    if stripped:  # recognised as segmentation from its two outputs; COCO names for its 80 classes
        model = _stripped(model, tmp_path / "seg_stripped.onnx")
    with Detector.from_file(model) as det:
        assert det.family == "yolov8" and det.plan.decoder == "yolov8_seg"
        assert any("segment" in r or "output1" in r or "metadata" in r for r in det.family_reasons)
        for name, ref in SEG_REFERENCE.items():
            _check_segmentation(det, cv2.imread(str(images_dir / f"{name}.jpg")), ref)


def test_masks_follow_the_kept_boxes_through_every_selection(tasks, images_dir):
    with YOLOv8(tasks / "segment" / "yolov8n-seg_int8_320.onnx") as det:
        d = det.detect(images_dir / "bus.jpg")
        people = d[d.class_ids == 0]
        assert people.masks.shape[0] == len(people) == 3
        assert np.array_equal(people.masks, d.masks[d.class_ids == 0])
        few = det.detect(images_dir / "bus.jpg", max_det=2)
        assert np.array_equal(few.masks, d.masks[:2])
        with pytest.raises(InputError, match="blend.*segmentation or pose"):
            det.detect(images_dir / "bus.jpg", nms="blend")


def test_mobilenet_runs_with_the_imagenet_preset_said_once_and_labels_from_the_file(tasks, images_dir):
    model, labels = tasks / "classify" / "mobilenetv2-12-int8.onnx", tasks / "classify" / "imagenet_labels.txt"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = ImageModel.from_file(model, labels=labels)
        for name in MOBILENET_TOP1:
            got = clf.classify(images_dir / f"{name}.jpg")
            assert got.top1.class_id in MOBILENET_TOP1[name] and len(got) == 5
            assert got.names[got.top1.class_id] == labels.read_text().splitlines()[got.top1.class_id]
    preset = [w for w in caught if issubclass(w.category, AssumedDefaultWarning)]
    assert len(preset) == 1 and "'imagenet' preset" in str(preset[0].message)
    assert "short side 256, centre crop 224" in str(preset[0].message) and "preprocess=" in str(preset[0].message)
    assert isinstance(clf, ImageNetClassifier) and clf.task == "classify" and clf.num_classes == 1000
    with Classifier(model) as plain:  # no labels: names are never invented
        assert plain.names == () and plain.classify(images_dir / "bus.jpg").labels[0].startswith("class_")
    with pytest.raises(InputError, match="names= and labels= both"):
        Classifier(model, names=["a"], labels=labels)


def test_mobilenet_top5_is_a_probability_ranking(tasks, images_dir):
    with Classifier(tasks / "classify" / "mobilenetv2-12-int8.onnx", top_k=5) as clf:
        c = clf.classify(images_dir / "zidane.jpg")
        assert np.all(np.diff(c.scores) <= 0) and 0 < c.scores.sum() <= 1 + 1e-6
        assert clf.classify(images_dir / "zidane.jpg", top_k=2).class_ids.tolist() == c.class_ids[:2].tolist()
        batch = clf.classify_batch([images_dir / "bus.jpg", images_dir / "zidane.jpg"])
        assert batch[1] == c


def test_degenerate_pose_export_loads_finds_nothing_and_warns_once(tasks, images_dir):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ImageModel.from_file(tasks / "pose" / "yolo11n-pose_int8_degenerate.onnx") as det:
            assert isinstance(det, YOLOv8) and det.task == "pose"
            assert det.plan.options["kpt_shape"] == (17, 3)
            assert len(det.detect(images_dir / "bus.jpg")) == 0 and len(det.detect(images_dir / "zidane.jpg")) == 0
    constant = [w for w in caught if issubclass(w.category, DegenerateOutputWarning)]
    assert len(constant) == 1 and "every class score is 0 at all 8400 anchor-class pairs" in str(constant[0].message)


def test_keypoint_count_that_disagrees_with_the_metadata_is_refused(tmp_path):
    from onnx_models import constant_model

    out = np.zeros((1, 56, 2100), np.float32)
    path = constant_model(tmp_path / "pose.onnx", {"output0": out}, hw=(320, 320), metadata={"kpt_shape": "[20, 3]"})
    with pytest.raises(LayoutError, match=r"a pose model .*kpt_shape \[20, 3\] needs more than 64 rows.*disagree"):
        YOLOv8(path)


def test_the_wrong_api_names_the_task_and_the_api_to_use(tasks, shared):
    seg = tasks / "segment" / "yolov8n-seg_int8_320.onnx"
    with pytest.raises(TaskNotSupportedError, match="a segment model.*not an image classifier.*Detector.from_file"):
        Classifier(seg)
    with pytest.raises(TaskNotSupportedError, match="a segment model, which family 'yolox' does not read"):
        YOLOX(seg)
    detector = shared / "models" / "yolov6lite" / "onnx" / "yolov6lite_s_320_decoded.onnx"
    with pytest.raises(TaskNotSupportedError, match="task='segment' asks for masks, but .* is a detect model"):
        Detector.from_file(detector, task="segment")
    with pytest.raises(TaskNotSupportedError, match="a detect model.*not an image classifier"):
        Classifier(detector)
    with pytest.raises(TaskNotSupportedError, match="task='classify' asks for class scores, but .* is a detect model"):
        ImageModel.from_file(detector, task="classify")
    with pytest.raises(InputError, match="task: expected one of"):
        ImageModel.from_file(detector, task="masks")


# ---------------------------------------------------------------------------------------- lite's demo models
SEED = 20261207  # neither the training seed (0) nor the recorded validation seed (777); tests/test_demo_tasks.py's


def test_demo_segmenter_masks_match_the_drawn_shapes():
    rng, ious = np.random.default_rng(SEED), []
    with ImageModel.from_file(task_model_path("segment"), conf=0.1) as det:
        assert det.task == "segment" and det.input_hw == (160, 160)
        for _ in range(30):
            scene = make_instance_scene(rng)
            d = det.detect(scene.image)
            found = _matches(d.xyxy, scene.boxes)
            for j, truth in enumerate(scene.masks):
                m = d.masks[found[j]] if j in found else np.zeros_like(truth)
                ious.append((m & truth).sum() / (m | truth).sum())
    assert np.mean(ious) >= 0.8, np.mean(ious)


def test_demo_pose_model_finds_the_corners_with_their_names():
    rng, errors, missed, total = np.random.default_rng(SEED), [], 0, 0
    with ImageModel.from_file(task_model_path("pose")) as det:
        assert det.task == "pose"
        for _ in range(40):
            scene = make_diamond_scene(rng)
            d = det.detect(scene.image)
            assert d.keypoint_names == ("top", "right", "bottom", "left")  # the model's kpt_names metadata
            found = _matches(d.xyxy, scene.boxes)
            total += len(scene.boxes)
            for j, corners in enumerate(scene.corners):
                if j not in found:
                    missed += 1
                    continue
                size = np.linalg.norm(corners[0] - corners[2])
                errors.append(np.linalg.norm(d.keypoints[found[j], :, :2] - corners, axis=1).mean() / size)
    assert missed <= 0.05 * total and np.mean(errors) <= 0.03, (missed, total, np.mean(errors))


def test_demo_classifier_top1_on_held_out_drawings():
    rng, hits, n = np.random.default_rng(SEED), 0, 120
    with ImageModel.from_file(task_model_path("classify")) as clf:
        assert isinstance(clf, YOLOv8Classifier) and clf.family == "yolov8-cls"
        for _ in range(n):
            img, cid = make_single_shape(rng)
            hits += int(clf.classify(img).top1.class_id == cid)
    assert hits / n >= 0.9, hits / n


# ---------------------------------------------------------------------------- hand-built YOLOv5-seg, Mask R-CNN
def _yolov5_seg_outputs(rng: np.random.Generator, nc: int = 3) -> dict[str, np.ndarray]:
    """YOLOv5-seg at 320: ``(1, 6300, 5 + nc + 32)`` rows (cx, cy, w, h, obj, classes, coefficients) and
    ``(1, 32, 80, 80)`` prototypes; six confident rows around two objects, the rest background."""
    rows = np.zeros((1, 6300, 5 + nc + 32), np.float32)
    rows[0, :, :4] = rng.uniform(20, 300, (6300, 4))
    rows[0, :, 4] = rng.uniform(0, 0.2, 6300)
    rows[0, :, 5 : 5 + nc] = rng.uniform(0, 1, (6300, nc))
    rows[0, :, 5 + nc :] = rng.normal(0, 1, (6300, 32))
    for i, (box, cls) in enumerate([((100, 120, 80, 60), 1), ((220, 200, 60, 90), 2)]):
        for k in range(3):  # three overlapping rows per object: NMS keeps one
            r = 10 + 3 * i + k
            rows[0, r, :4] = np.add(box, (k, -k, 2 * k, k))
            rows[0, r, 4] = 0.95 - 0.1 * k
            rows[0, r, 5 : 5 + nc] = 0.05
            rows[0, r, 5 + cls] = 0.9
    protos = rng.normal(0, 1, (1, 32, 80, 80)).astype(np.float32)
    return {"output0": rows, "output1": protos}


def test_yolov5_seg_rows_keep_their_coefficients_through_the_shared_nms(tmp_path):
    """The decoder's boxes, scores and masks equal YOLOv5's segment pipeline written out here: score = obj · cls,
    per-class NMS, then each kept row's own 32 coefficients against the prototypes."""
    from onnx_models import constant_model

    from lite.ops.letterbox import Letterbox
    from lite.ops.nms import nms_indices

    outs = _yolov5_seg_outputs(np.random.default_rng(5))
    path = constant_model(tmp_path / "yolov5s-seg.onnx", outs, hw=(320, 320), metadata={"stride": "32"})
    image = np.zeros((320, 320, 3), np.uint8)
    with Detector.from_file(path, names=["a", "b", "c"]) as det:
        assert det.family == "yolov5" and det.plan.decoder == "yolov5_seg" and det.task == "segment"
        d = det.detect(image, conf=0.25, iou=0.45)
    rows = outs["output0"][0]
    scores = rows[:, 5:8] * rows[:, 4:5]
    best, cls = scores.max(1), scores.argmax(1)
    cand = np.flatnonzero(best > 0.25)
    xyxy = np.concatenate([rows[cand, :2] - rows[cand, 2:4] / 2, rows[cand, :2] + rows[cand, 2:4] / 2], 1)
    keep = cand[nms_indices(xyxy, best[cand], cls[cand], iou_threshold=0.45)]
    assert len(d) == len(keep) >= 2
    np.testing.assert_allclose(d.scores, best[keep], rtol=1e-6)
    assert d.class_ids.tolist() == cls[keep].tolist()
    boxes = np.concatenate([rows[keep, :2] - rows[keep, 2:4] / 2, rows[keep, :2] + rows[keep, 2:4] / 2], 1)
    _, t = Letterbox((320, 320))(image)
    want = prototype_masks(outs["output1"][0], rows[keep, 8:], boxes, t)
    assert np.array_equal(d.masks, want) and d.masks.any()


def _mask_rcnn_outputs(named: bool) -> dict[str, np.ndarray]:
    boxes = np.array([[40, 60, 200, 220], [300, 100, 420, 400], [10, 10, 30, 30]], np.float32)
    probs = np.zeros((3, 1, 28, 28), np.float32)
    probs[0, 0, 4:24, 4:24] = 0.9
    probs[1, 0, :, 10:18] = 0.8
    probs[2, 0] = 0.7
    values = {"boxes": boxes, "labels": np.array([1, 3, 2], np.float32), "scores": np.array([0.9, 0.6, 0.1],
              np.float32), "masks": probs}  # fmt: skip
    if named:
        return values
    return {"out_b": boxes, "out_s": values["scores"], "out_l": values["labels"], "out_m": probs}


@pytest.mark.parametrize("named", [True, False], ids=["torchvision-names", "other-names"])
def test_mask_rcnn_masks_are_pasted_for_the_kept_rows(tmp_path, named):
    from onnx_models import constant_model

    from lite.cv import MaskRCNN
    from lite.ops.masks import paste_masks

    outs = _mask_rcnn_outputs(named)
    path = constant_model(tmp_path / "maskrcnn.onnx", outs, hw=(480, 640))
    image = np.zeros((960, 1280, 3), np.uint8)  # twice the input: boxes and masks scale by 2
    with ImageModel.from_file(path) as det:
        assert isinstance(det, MaskRCNN) and det.task == "segment" and det.plan.decoder == "maskrcnn"
        d = det.detect(image)  # conf 0.25 drops the third row
    assert d.class_ids.tolist() == [1, 3] and np.allclose(d.scores, [0.9, 0.6])
    np.testing.assert_allclose(d.xyxy, _mask_rcnn_outputs(True)["boxes"][:2] * 2, atol=1e-4)
    want = paste_masks(_mask_rcnn_outputs(True)["masks"][:2], d.xyxy, (960, 1280))
    assert d.masks.shape == (2, 960, 1280) and np.array_equal(d.masks, want)
    assert d.masks[0, 200:400, 120:360].mean() > 0.9 and not d.masks[0, 600:].any()
