"""lite's own task demos (segmentation, pose, classification) against the drawn truth of held-out scenes.

The models run in plain ONNX Runtime and are decoded with lite's ops directly (the model-layer classes for
these tasks come with the resolver integration): mean mask IoU >= 0.8, mean corner error <= 3 % of the shape
size, top-1 >= 0.9.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lite.core.errors import InputError
from lite.core.files import sha256_file
from lite.demo import TASK_MODELS, task_model_path
from lite.demo.scenes import DIAMOND_KEYPOINTS, SHAPE_NAMES, make_diamond_scene, make_instance_scene, make_single_shape
from lite.ops.classify import to_probabilities, top_k
from lite.ops.keypoints import keypoints_to_original, split_pose_rows
from lite.ops.letterbox import Letterbox
from lite.ops.masks import prototype_masks, split_seg_rows
from lite.ops.nms import box_iou, nms_indices

ort = pytest.importorskip("onnxruntime")
SEED = 20261207  # used neither for training (0) nor for the recorded validation (777)


def _session(task: str):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(task_model_path(task)), so, providers=["CPUExecutionProvider"])


def _meta(task: str) -> dict[str, str]:
    return dict(_session(task).get_modelmeta().custom_metadata_map)


@pytest.mark.parametrize("task", sorted(TASK_MODELS))
def test_task_models_are_small_recorded_and_self_describing(task):
    path = task_model_path(task)
    assert path.stat().st_size < 1_000_000
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["sha256"] == sha256_file(path) and record["task"] == task
    if task != "classify":
        assert record["val"]["conf"] == CONF[task]
    meta = _meta(task)
    assert meta["task"] == task
    names = eval(meta["names"])  # noqa: S307 - ultralytics' spelling {0: 'circle', ...}, written by our script
    assert list(names.values()) == (["square"] if task == "pose" else list(SHAPE_NAMES))
    if task == "pose":
        assert json.loads(meta["kpt_shape"]) == [len(DIAMOND_KEYPOINTS), 3]
    with pytest.raises(InputError, match="expected one of"):
        task_model_path("detect")


#: Score threshold per task: the segmentation demo's class scores are spread over similar shapes (its record's
#: ``val.conf``), so it finds its shapes at 0.1.
CONF = {"segment": 0.1, "pose": 0.25}


def _detect(sess, image: np.ndarray, task: str):
    x, t = Letterbox(image.shape[:2])(image)
    outs = sess.run(None, {"images": x})
    nc = 1 if task == "pose" else len(SHAPE_NAMES)
    rows = outs[0][0].T
    if task == "segment":
        cxcywh, cls, extra = split_seg_rows(rows, nc, outs[1].shape[1])
    else:
        cxcywh, cls, extra = split_pose_rows(rows, nc, json.loads(_meta("pose")["kpt_shape"]))
    scores, ids = cls.max(1), cls.argmax(1)
    k = scores > CONF[task]
    boxes = np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], 1)[k]
    keep = nms_indices(boxes, scores[k], ids[k], iou_threshold=0.7)
    out = {"boxes": t.to_original(boxes[keep]), "class_ids": ids[k][keep]}
    if task == "segment":
        out["masks"] = prototype_masks(outs[1], extra[k][keep], boxes[keep], t)
    else:
        out["keypoints"] = keypoints_to_original(extra[k][keep], t)
    return out


def _matches(pred: np.ndarray, truth: np.ndarray) -> dict[int, int]:
    """Truth index -> prediction index, greedy by box IoU >= 0.5."""
    if not len(pred) or not len(truth):
        return {}
    iou = box_iou(pred, truth)
    out: dict[int, int] = {}
    for i in range(len(pred)):
        for j in np.argsort(-iou[i]):
            if iou[i, j] >= 0.5 and int(j) not in out:
                out[int(j)] = i
                break
    return out


def test_segmentation_demo_masks_match_the_drawn_shapes():
    sess, rng = _session("segment"), np.random.default_rng(SEED)
    ious = []
    for _ in range(40):
        scene = make_instance_scene(rng)
        res = _detect(sess, scene.image, "segment")
        found = _matches(res["boxes"], scene.boxes)
        for j, truth in enumerate(scene.masks):
            if j not in found:
                ious.append(0.0)  # a missed shape counts as IoU 0
                continue
            m = res["masks"][found[j]]
            ious.append((m & truth).sum() / (m | truth).sum())
    assert np.mean(ious) >= 0.8, np.mean(ious)


def test_pose_demo_finds_the_corners():
    sess, rng = _session("pose"), np.random.default_rng(SEED)
    errors, missed, total = [], 0, 0
    for _ in range(40):
        scene = make_diamond_scene(rng)
        res = _detect(sess, scene.image, "pose")
        found = _matches(res["boxes"], scene.boxes)
        total += len(scene.boxes)
        for j, corners in enumerate(scene.corners):
            if j not in found:
                missed += 1
                continue
            size = np.linalg.norm(corners[0] - corners[2])  # corner to corner
            err = np.linalg.norm(res["keypoints"][found[j], :, :2] - corners, axis=1).mean()
            errors.append(err / size)
    assert missed <= 0.05 * total
    assert np.mean(errors) <= 0.03, np.mean(errors)


def test_classifier_demo_top1():
    sess, rng = _session("classify"), np.random.default_rng(SEED)
    hits = 0
    n = 150
    for _ in range(n):
        img, cid = make_single_shape(rng)
        x = (img[..., ::-1].astype(np.float32) / 255).transpose(2, 0, 1)[None]
        probs = sess.run(None, {"images": np.ascontiguousarray(x)})[0]
        hits += int(top_k(to_probabilities(probs)[0], 1)[0][0] == cid)
    assert hits / n >= 0.9, hits / n
