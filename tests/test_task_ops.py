"""Pure ops for masks, keypoints and classification, on real third-party model outputs (plain ONNX Runtime)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lite.core.errors import InputError, ModelOutputError
from lite.ops.classify import is_probabilities, softmax, to_probabilities, top_k
from lite.ops.keypoints import keypoints_to_original, split_pose_rows
from lite.ops.letterbox import Letterbox, letterbox_geometry, letterbox_image
from lite.ops.masks import paste_masks, prototype_masks, split_seg_rows
from lite.ops.nms import nms_indices
from lite.ops.preprocess import IMAGENET_CONFIG, PreprocessConfig

#: models/foreign_tasks/README.md: score, box in image pixels, mask area in the input and in the image.
SEG_REFERENCE = {
    "bus": [
        (0.8753, (23.8, 233.8, 800.4, 736.5), 22467, 256900),
        (0.8535, (45.6, 391.6, 224.9, 906.6), 4997, 57019),
        (0.7435, (225.2, 409.5, 344.8, 857.5), 2948, 33490),
        (0.7269, (672.3, 375.2, 805.9, 871.6), 1931, 21816),
    ],
    "zidane": [
        (0.8655, (746.3, 37.6, 1144.8, 710.3), 10758, 172219),
        (0.8599, (135.7, 210.0, 957.1, 708.1), 14372, 228500),
        (0.3096, (5.1, 601.8, 119.5, 720.0), 757, 12375),
    ],
}


def _session(path):
    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def seg_decode(session, img: np.ndarray, size: int = 320):
    """YOLOv8-seg with lite's ops only: letterbox, split rows, threshold, class-aware NMS, masks of the kept."""
    x, t = Letterbox(size)(img)
    out0, protos = session.run(None, {session.get_inputs()[0].name: x})
    cxcywh, cls, coef = split_seg_rows(out0[0].T, 80, protos.shape[1])
    scores, ids = cls.max(1), cls.argmax(1)
    k = scores > 0.25
    boxes = np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], 1)[k]
    keep = nms_indices(boxes, scores[k], ids[k], iou_threshold=0.7)
    return boxes[keep], scores[k][keep], ids[k][keep], coef[k][keep], protos, t


@pytest.fixture(scope="module")
def seg(shared):
    path = shared / "models/foreign_tasks/segment/yolov8n-seg_int8_320.onnx"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    s = _session(path)
    return {n: (cv2.imread(str(shared / f"images/{n}.jpg")), seg_decode(s, cv2.imread(str(shared / f"images/{n}.jpg"))))
            for n in SEG_REFERENCE}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SEG_REFERENCE))
def test_yolov8_seg_masks_match_the_reference(seg, name):
    img, (boxes, scores, _, coef, protos, t) = seg[name]
    ref = SEG_REFERENCE[name]
    assert len(scores) == len(ref)
    m_in = prototype_masks(protos, coef, boxes, t, space="input")
    m_img = prototype_masks(protos, coef, boxes, t)
    assert m_in.shape == (len(ref), 320, 320) and m_img.shape == (len(ref), *img.shape[:2])
    for i, (score, box, area_in, area_img) in enumerate(ref):
        assert scores[i] == pytest.approx(score, abs=2e-4)
        np.testing.assert_allclose(t.to_original(boxes[i : i + 1])[0], box, atol=0.06)
        assert int(m_in[i].sum()) == pytest.approx(area_in, rel=0.01)
        assert int(m_img[i].sum()) == pytest.approx(area_img, rel=0.01)


def test_prototype_masks_equal_ultralytics_math_in_torch(seg):
    """Independent reference: ultralytics' upsample-then-crop written with torch's own interpolate."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    img, (boxes, _, _, coef, protos, t) = seg["bus"]
    logits = (torch.from_numpy(coef) @ torch.from_numpy(protos[0]).reshape(32, -1)).reshape(-1, 80, 80)

    def crop(m, b):
        x1, y1, x2, y2 = torch.chunk(b[:, :, None], 4, 1)
        r = torch.arange(m.shape[2], dtype=x1.dtype)[None, None, :]
        c = torch.arange(m.shape[1], dtype=x1.dtype)[None, :, None]
        return m * ((r >= x1) * (r < x2) * (c >= y1) * (c < y2))

    up = F.interpolate(logits[None], (320, 320), mode="bilinear")[0]
    ref_in = crop(up, torch.from_numpy(boxes)) > 0
    ours = prototype_masks(protos, coef, boxes, t, space="input")
    assert (ours == ref_in.numpy()).mean() > 0.99995
    (left, top), (nh, nw) = t.pad, t.resized_shape
    img_logits = F.interpolate(up[None, :, top : top + nh, left : left + nw], img.shape[:2], mode="bilinear")[0]
    ref_img = (crop(img_logits, torch.from_numpy(t.to_original(boxes))) > 0).numpy()
    ours_img = prototype_masks(protos, coef, boxes, t)
    inter, union = (ours_img & ref_img).sum((1, 2)), (ours_img | ref_img).sum((1, 2))
    assert (inter / union).min() > 0.995


def test_prototype_masks_edge_cases():
    t = letterbox_geometry((100, 200), 64)
    protos = np.ones((4, 16, 16), np.float32)
    out = prototype_masks(protos, np.zeros((0, 4)), np.zeros((0, 4)), t)
    assert out.shape == (0, 100, 200)
    full = prototype_masks(protos, np.ones((1, 4)), np.array([[0.0, 16.0, 64.0, 48.0]]), t)
    assert full.all()  # the box covers the resized image exactly
    half = prototype_masks(protos, np.ones((1, 4)), np.array([[0.0, 16.0, 32.0, 48.0]]), t)
    assert half[0, :, :100].all() and not half[0, :, 100:].any()
    with pytest.raises(ModelOutputError, match="coefficients"):
        prototype_masks(protos, np.ones((1, 5)), np.zeros((1, 4)), t)
    with pytest.raises(ModelOutputError, match="NaN"):
        prototype_masks(np.full((4, 16, 16), np.nan, np.float32), np.ones((1, 4)), np.array([[0, 16, 8, 24.0]]), t)
    with pytest.raises(InputError, match="space"):
        prototype_masks(protos, np.ones((1, 4)), np.zeros((1, 4)), t, space="canvas")
    with pytest.raises(ModelOutputError, match="4 box \\+ 79 classes \\+ 32"):
        split_seg_rows(np.zeros((10, 116)), 79)


def _torchvision_paste(masks, boxes, hw):
    """torchvision's paste_masks_in_image, written with torch (the wheels' own module does not load here)."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    m = torch.from_numpy(masks)
    size = m.shape[-1]
    scale = (size + 2) / size
    m = F.pad(m, (1, 1, 1, 1))
    b = torch.from_numpy(boxes)
    half = (b[:, 2:] - b[:, :2]) * 0.5 * scale
    c = (b[:, 2:] + b[:, :2]) * 0.5
    ib = torch.cat([c - half, c + half], 1).to(torch.int64).tolist()
    out = np.zeros((len(ib), *hw), np.float32)
    for i, (x1, y1, x2, y2) in enumerate(ib):
        w, h = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
        r = F.interpolate(m[i][None], size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy()
        x0, xe, y0, ye = max(x1, 0), min(x2 + 1, hw[1]), max(y1, 0), min(y2 + 1, hw[0])
        out[i, y0:ye, x0:xe] = r[y0 - y1 : ye - y1, x0 - x1 : xe - x1]
    return out > 0.5


def test_paste_masks_matches_torchvision_semantics():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:28, 0:28]
    blobs = np.stack([np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s**2)) for cx, cy, s in
                      rng.uniform([8, 8, 4], [20, 20, 9], (6, 3))]).astype(np.float32)[:, None]  # fmt: skip
    boxes = np.array([[10, 20, 110, 90], [-15, 5, 40, 60], [150, 100, 230, 170], [3.7, 4.2, 9.9, 8.1],
                      [0, 0, 240, 180], [200, 150, 260, 200]], np.float32)  # fmt: skip
    ours = paste_masks(blobs, boxes, (180, 240))
    ref = _torchvision_paste(blobs, boxes, (180, 240))
    assert ours.shape == (6, 180, 240)
    assert (ours == ref).mean() > 0.9999 and ours.sum() > 1000
    with pytest.raises(ModelOutputError, match="M, M"):
        paste_masks(np.zeros((2, 1, 28, 14)), boxes[:2], (10, 10))


def test_pose_rows_and_mapping():
    k = 4
    rows = np.zeros((3, 4 + 1 + k * 3), np.float32)
    rows[:, 5:] = np.arange(k * 3, dtype=np.float32)
    cxcywh, cls, kpts = split_pose_rows(rows, 1, [k, 3])
    assert cxcywh.shape == (3, 4) and cls.shape == (3, 1) and kpts.shape == (3, k, 3)
    np.testing.assert_array_equal(kpts[0, 1], [3, 4, 5])
    _, _, k2 = split_pose_rows(rows[:, : 5 + k * 2], 1, [k, 2])
    assert (k2[..., 2] == 1).all()
    t = letterbox_geometry((100, 200), 64)  # r = 0.32, pad top 16
    mapped = keypoints_to_original(np.array([[[32.0, 32.0, 0.7], [-5.0, 100.0, 0.1]]]), t)
    np.testing.assert_allclose(mapped[0], [[100, 50, 0.7], [0, 100, 0.1]], atol=1e-4)
    np.testing.assert_allclose(mapped[0, 0, :2], t.to_original(np.array([[32, 32, 32, 32.0]]))[0, :2])
    with pytest.raises(ModelOutputError, match="kpt_shape \\[17, 3\\]"):
        split_pose_rows(np.zeros((2, 56)), 2, [17, 3])
    with pytest.raises(InputError, match="kpt_shape"):
        split_pose_rows(np.zeros((2, 56)), 1, [17, 4])


def test_classification_post_processing():
    probs = np.array([0.1, 0.6, 0.3], np.float32)
    assert is_probabilities(probs) and not is_probabilities(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(to_probabilities(probs)[0], probs)  # already a softmax: kept
    sm = softmax(np.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(sm[0], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum(), rtol=1e-6)
    ids, scores = top_k(np.array([0.2, 0.4, 0.4, 0.0]), 3)
    assert ids.tolist() == [1, 2, 0] and scores.tolist() == pytest.approx([0.4, 0.4, 0.2])  # ties: lower id first
    assert top_k(probs, 10)[0].tolist() == [1, 2, 0]
    with pytest.raises(ModelOutputError, match="NaN"):
        to_probabilities(np.array([np.nan, 1.0]))
    with pytest.raises(InputError, match="one image"):
        top_k(np.zeros((2, 3)))


def test_center_crop_geometry_and_inverse():
    t = letterbox_geometry((1080, 810), 224, resize="center_crop", short_side=256)
    assert t.resized_shape == (341, 256) and t.pad == (-16, -58) and t.dst_shape == (224, 224)
    # the crop's top-left input pixel is original pixel (16, 58) / r
    np.testing.assert_allclose(t.to_original(np.array([[0, 0, 224, 224.0]])),
                               [[16 / (256 / 810), 58 / (341 / 1080), 240 / (256 / 810), 282 / (341 / 1080)]],
                               rtol=1e-5)  # fmt: skip
    img = np.random.default_rng(0).integers(0, 255, (1080, 810, 3), dtype=np.uint8)
    crop, _ = letterbox_image(img, 224, resize="center_crop", short_side=256)
    ref = cv2.resize(img, (256, 341), interpolation=cv2.INTER_LINEAR)[58 : 58 + 224, 16 : 16 + 224]
    np.testing.assert_array_equal(crop, ref)
    tensor, t2 = Letterbox(224, config=IMAGENET_CONFIG)(img)
    assert t2 == t
    rgb = ref[:, :, ::-1].astype(np.float32) / 255
    want = ((rgb - np.float32([0.485, 0.456, 0.406])) / np.float32([0.229, 0.224, 0.225])).transpose(2, 0, 1)
    np.testing.assert_allclose(tensor[0], want, atol=1e-5)
    plain = PreprocessConfig(resize="resize")
    assert plain.resize == "stretch"
    with pytest.raises(InputError, match="short_side"):
        PreprocessConfig(short_side=256)
    with pytest.raises(InputError, match="smaller than the crop"):
        letterbox_geometry((100, 100), 224, resize="center_crop", short_side=200)


def test_mobilenetv2_top5(shared):
    path = shared / "models/foreign_tasks/classify/mobilenetv2-12-int8.onnx"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    s = _session(path)
    pre = Letterbox(224, config=IMAGENET_CONFIG)
    tops = {}
    for name in ("bus", "zidane"):
        x, _ = pre(cv2.imread(str(shared / f"images/{name}.jpg")))
        ids, scores = top_k(to_probabilities(s.run(None, {"input": x})[0])[0], 5)
        tops[name] = ids.tolist()
    # README: bus top-1 golf cart (575) or minibus (654), tied; zidane top-1 stage (819) and the same top-5 set.
    assert tops["bus"][0] in (575, 654) and {575, 654, 408} <= set(tops["bus"])
    assert tops["zidane"][0] == 819 and set(tops["zidane"]) == {819, 722, 834, 768, 752}


def test_degenerate_pose_export_finds_nothing(shared):
    """The README's broken YOLO11n-pose int8 file: its rows split by its kpt_shape; the score channel is constant 0."""
    import json as _json

    path = shared / "models/foreign_tasks/pose/yolo11n-pose_int8_degenerate.onnx"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    s = _session(path)
    meta = s.get_modelmeta().custom_metadata_map
    assert meta["task"] == "pose"
    x, t = Letterbox(640)(cv2.imread(str(shared / "images/bus.jpg")))
    out = s.run(None, {s.get_inputs()[0].name: x})[0]
    cxcywh, cls, kpts = split_pose_rows(out[0].T, 1, _json.loads(meta["kpt_shape"]))
    assert kpts.shape == (out.shape[2], 17, 3)
    assert np.ptp(cls) == 0.0 and (cls <= 0.25).all()  # constant score channel: 0 detections at conf 0.25
