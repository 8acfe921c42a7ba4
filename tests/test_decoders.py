"""The decoder registry, the grid helper, and each new decoder against a plain numpy reference.

The references below are written from ``../shared/models/foreign/README.md`` alone (their own resize,
padding, loops over cells and a greedy NMS) and run the raw engine, so they share nothing with lite's
letterbox, grids or decoders: lite's boxes must agree with them to a fraction of a pixel.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from lite import backends
from lite.core.errors import InputError
from lite.ops import grids
from lite.ops.decoders import Decoder, Hints, decoder_names, get_decoder, match_outputs, register_decoder

COCO_PERSON, COCO_BUS = 0, 5


# --------------------------------------------------------------------------- registry and grids
def test_registry_lists_every_layout():
    assert set(decoder_names()) >= {
        "decoded", "anchor_grid", "raw", "end2end", "yolov8", "yolov8_end2end", "yolov5", "yolov5_anchors",
        "yolox", "nanodet_plus", "nanodet",
    }  # fmt: skip
    with pytest.raises(InputError, match="registered decoders: .*yolov8"):
        get_decoder("yolov99")


def test_register_decoder_refuses_a_second_class_under_one_name():
    with pytest.raises(InputError, match="already registered"):

        @register_decoder("yolox")
        class Other(Decoder):  # noqa: F841
            pass


def test_grids_one_helper():
    assert grids.count_cells((416, 416), (8, 16, 32, 64)) == 3598
    assert grids.infer_strides(3549, (416, 416)) == (8, 16, 32)
    assert grids.infer_strides(25200, (640, 640), per_cell=3) == (8, 16, 32)
    assert grids.sizes_fitting(2125, (8, 16, 32, 64)) == [(320, 320)]
    assert grids.strides_from_maps([(40, 40), (20, 20)], (320, 320)) == (8, 16)
    gx, gy, gs = grids.priors((64, 32), (16, 32), 0.5)
    assert len(gx) == 4 * 2 + 2 * 1 and gx[1] == 1.5 and gy[2] == 1.5 and gs[-1] == 32
    with pytest.raises(InputError):
        grids.strides_from_maps([(7, 7)], (320, 320))


@pytest.mark.parametrize(
    ("shapes", "hints", "best"),
    [
        ({"output0": (1, 84, 8400)}, Hints(input_hw=(640, 640)), "yolov8"),
        ({"output0": (1, 300, 6)}, Hints(input_hw=(640, 640), end2end=True), "yolov8_end2end"),
        ({"o": (1, 25200, 85), "a": (1, 3, 80, 80, 85), "b": (1, 3, 40, 40, 85), "c": (1, 3, 20, 20, 85)},
         Hints(input_hw=(640, 640)), "yolov5"),
        ({"a": (1, 3, 2704, 85), "b": (1, 3, 676, 85), "c": (1, 3, 169, 85)}, Hints(input_hw=(416, 416)),
         "yolov5_anchors"),
        ({"output": (1, 3598, 112)}, Hints(input_hw=(416, 416)), "nanodet_plus"),
        ({"cls_pred_stride_8": (1, 1600, 80), "dis_pred_stride_8": (1, 1600, 32)}, Hints(input_hw=(320, 320)),
         "nanodet"),
        ({"out0": (1, 84, 40, 40), "out1": (1, 84, 20, 20), "out2": (1, 84, 10, 10)}, Hints(input_hw=(320, 320)),
         "raw"),
    ],
)  # fmt: skip
def test_each_signature_has_one_most_confident_decoder(shapes, hints, best):
    plans = match_outputs(shapes, hints)
    assert plans[0].decoder == best, [(p.decoder, p.confidence) for p in plans]
    assert len(plans) == 1 or plans[1].confidence < plans[0].confidence


def test_84_by_8400_is_never_8395_classes():
    plans = match_outputs({"output0": (1, 84, 8400)}, Hints(input_hw=(640, 640)))
    assert [p.decoder for p in plans] == ["yolov8"] and plans[0].num_classes == 80


def test_rows_that_fit_another_size_say_which():
    (plan,) = match_outputs({"outputs": (1, 2125, 85)}, Hints(input_hw=(640, 640)), ["decoded"])
    assert plan.size_mismatch and plan.fits == ((320, 320),)


# --------------------------------------------------------------------------- plain references
def _ref_input(img, size, *, rgb, scale, mean=None, std=None, pad, topleft):
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    nh, nw = int(round(h * r)), int(round(w * r))
    canvas = np.full((size, size, 3), pad, np.uint8)
    top, left = (0, 0) if topleft else ((size - nh) // 2, (size - nw) // 2)
    canvas[top : top + nh, left : left + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    x = canvas.astype(np.float32)
    if rgb:
        x = x[..., ::-1]
    x = x * np.float32(scale)
    if mean is not None:
        x = (x - np.float32(mean)) / np.float32(std)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None]), r, left, top


def _sig(v):
    return 1.0 / (1.0 + math.exp(-v))


def _greedy_nms(dets, iou_thr):
    """dets: list of (score, cls, x1, y1, x2, y2); class-aware greedy NMS."""
    dets = sorted(dets, key=lambda d: -d[0])
    keep = []
    for d in dets:
        ok = True
        for k in keep:
            if k[1] != d[1]:
                continue
            iw = max(0.0, min(d[4], k[4]) - max(d[2], k[2]))
            ih = max(0.0, min(d[5], k[5]) - max(d[3], k[3]))
            inter = iw * ih
            union = (d[4] - d[2]) * (d[5] - d[3]) + (k[4] - k[2]) * (k[5] - k[3]) - inter
            if union > 0 and inter / union > iou_thr:
                ok = False
                break
        if ok:
            keep.append(d)
    return keep


def _to_original(dets, r, left, top, shape):
    h, w = shape[:2]
    out = []
    for s, c, x1, y1, x2, y2 in dets:
        out.append((s, c, min(max((x1 - left) / r, 0), w), min(max((y1 - top) / r, 0), h),
                    min(max((x2 - left) / r, 0), w), min(max((y2 - top) / r, 0), h)))  # fmt: skip
    return out


def _ref_yolox(out, size, conf):
    dets, row = [], 0
    for s in (8, 16, 32):
        n = size // s
        for y in range(n):
            for x in range(n):
                p = out[row]
                row += 1
                obj = p[4]
                if obj <= conf:
                    continue
                c = int(np.argmax(p[5:]))
                score = float(obj * p[5 + c])
                if score <= conf:
                    continue
                cx, cy = (p[0] + x) * s, (p[1] + y) * s
                bw, bh = math.exp(p[2]) * s, math.exp(p[3]) * s
                dets.append((score, c, cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2))
    assert row == len(out)
    return dets


def _ref_nanodet_plus(out, size, conf):
    dets, row = [], 0
    for s in (8, 16, 32, 64):
        n = math.ceil(size / s)
        for y in range(n):
            for x in range(n):
                p = out[row]
                row += 1
                c = int(np.argmax(p[:80]))
                score = float(p[c])
                if score <= conf:
                    continue
                d = []
                for k in range(4):
                    logits = p[80 + 8 * k : 88 + 8 * k].astype(np.float64)
                    e = np.exp(logits - logits.max())
                    d.append(float((e / e.sum() * np.arange(8)).sum()) * s)
                cx, cy = x * s, y * s
                dets.append((score, c, cx - d[0], cy - d[1], cx + d[2], cy + d[3]))
    assert row == len(out)
    return dets


_V5_ANCHORS = [[(10, 13), (16, 30), (33, 23)], [(30, 61), (62, 45), (59, 119)], [(116, 90), (156, 198), (373, 326)]]


def _ref_yolov5_heads(levels, size, conf):
    dets = []
    for lv, (s, anchors) in zip(levels, zip((8, 16, 32), _V5_ANCHORS, strict=True), strict=True):
        n = size // s
        for a in range(3):
            for i in range(n * n):
                p = lv[a, i]
                obj = _sig(p[4])
                if obj <= conf:
                    continue
                c = int(np.argmax(p[5:]))
                score = obj * _sig(p[5 + c])
                if score <= conf:
                    continue
                y, x = divmod(i, n)
                cx = (_sig(p[0]) * 2 - 0.5 + x) * s
                cy = (_sig(p[1]) * 2 - 0.5 + y) * s
                bw = (_sig(p[2]) * 2) ** 2 * anchors[a][0]
                bh = (_sig(p[3]) * 2) ** 2 * anchors[a][1]
                dets.append((score, c, cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2))
    return dets


def _ref_yolov8(out, conf):
    dets = []
    for j in range(out.shape[1]):
        col = out[:, j]
        c = int(np.argmax(col[4:]))
        score = float(col[4 + c])
        if score <= conf:
            continue
        cx, cy, bw, bh = (float(v) for v in col[:4])
        dets.append((score, c, cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2))
    return dets


def _run(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    be = backends.create(path, threads=1)
    try:
        return be.infer({be.inputs[0].name: x})
    finally:
        be.close()


def _assert_close(lite_dets, ref, px=1.0):
    ref = [d for d in ref if d[1] in (COCO_PERSON, COCO_BUS)]
    mine = [d for d in lite_dets if d.class_id in (COCO_PERSON, COCO_BUS)]
    assert len(mine) == len(ref) >= 4, (mine, ref)
    for d, r in zip(mine, sorted(ref, key=lambda t: -t[0]), strict=True):
        assert d.class_id == r[1] and abs(d.score - r[0]) < 1e-3, (d, r)
        np.testing.assert_allclose(d.xyxy, r[2:], atol=px)


@pytest.fixture(scope="module")
def foreign(shared: Path) -> Path:
    return shared / "models" / "foreign"


@pytest.fixture(scope="module")
def bus_img(bus_path: Path) -> np.ndarray:
    return cv2.imread(str(bus_path))


def test_yolox_matches_plain_reference(foreign, bus_img):
    from lite.cv import YOLOX

    path = foreign / "yolox" / "yolox_nano_416.onnx"
    x, r, left, top = _ref_input(bus_img, 416, rgb=False, scale=1.0, pad=114, topleft=True)
    out = next(iter(_run(path, x).values()))[0]
    ref = _to_original(_greedy_nms(_ref_yolox(out, 416, 0.3), 0.45), r, left, top, bus_img.shape)
    _assert_close(YOLOX(path, conf=0.3).detect(bus_img), ref)


def test_nanodet_plus_matches_plain_reference(foreign, bus_img):
    from lite.cv import NanoDet

    path = foreign / "nanodet_plus" / "nanodet-plus-m_416.param"
    mean, std = (103.53, 116.28, 123.675), (57.375, 57.12, 58.395)
    x, r, left, top = _ref_input(bus_img, 416, rgb=False, scale=1.0, mean=mean, std=std, pad=0, topleft=False)
    out = next(iter(_run(path, x).values()))[0]
    ref = _to_original(_greedy_nms(_ref_nanodet_plus(out, 416, 0.4), 0.45), r, left, top, bus_img.shape)
    _assert_close(NanoDet(path, conf=0.4, threads=1).detect(bus_img), ref)


def test_yolov5_anchor_heads_match_plain_reference(foreign, bus_img):
    from lite.cv import YOLOv5
    from lite.ops.preprocess import PreprocessConfig

    path = foreign / "yolov5_lite" / "v5lite-s.param"
    x, r, left, top = _ref_input(bus_img, 416, rgb=True, scale=1 / 255, pad=114, topleft=True)
    outs = _run(path, x)
    levels = [outs[n][0] for n in ("output", "1111", "2222")]
    ref = _to_original(_greedy_nms(_ref_yolov5_heads(levels, 416, 0.3), 0.45), r, left, top, bus_img.shape)
    det = YOLOv5(path, input_size=416, conf=0.3, threads=1, preprocess=PreprocessConfig(pad_align="topleft"))
    _assert_close(det.detect(bus_img), ref)


def test_yolov8_matches_plain_reference(foreign, bus_img):
    from lite.cv import YOLOv8

    path = foreign / "yolov8" / "yolov8n_int8.onnx"
    x, r, left, top = _ref_input(bus_img, 640, rgb=True, scale=1 / 255, pad=114, topleft=False)
    out = next(iter(_run(path, x).values()))[0]
    ref = _to_original(_greedy_nms(_ref_yolov8(out, 0.3), 0.45), r, left, top, bus_img.shape)
    _assert_close(YOLOv8(path, conf=0.3).detect(bus_img), ref)


def test_yolov5_raw_heads_agree_with_its_decoded_output(foreign, bus_img):
    """The YOLOv5n export carries both: decoding its (1, 3, H, W, 85) heads gives its own decoded boxes."""
    from lite.cv import YOLOv5
    from lite.ops.decoders import postprocess_plan

    det = YOLOv5(foreign / "yolov5" / "yolov5n_int8_640.onnx")
    tensor, _ = det.preprocess(bus_img)
    outs = det.infer(tensor)
    heads = {k: v for k, v in outs.items() if v.ndim == 5}
    hints = Hints(input_hw=(640, 640))
    (plan,) = match_outputs({k: v.shape for k, v in heads.items()}, hints, ["yolov5_anchors"])
    plan = get_decoder("yolov5_anchors").refine(plan, heads)
    assert plan.strides == (8, 16, 32) and plan.options["logits"]
    (decoded,) = match_outputs({k: v.shape for k, v in outs.items()}, hints, ["yolov5"])
    a = postprocess_plan(decoded, outs, (640, 640), conf=0.3)[0]
    b = postprocess_plan(plan, heads, (640, 640), conf=0.3)[0]
    assert len(a) == len(b) >= 5
    np.testing.assert_allclose(a.boxes, b.boxes, atol=0.05)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)


def test_yolov5_anchors_override(foreign, bus_img):
    from lite.cv import YOLOv5

    path = foreign / "yolov5_lite" / "v5lite-s.param"
    if "ncnn" not in backends.available():
        pytest.skip("the ncnn backend is not available")
    std = YOLOv5(path, input_size=416, threads=1).detect(bus_img)
    doubled = [[2 * v for v in lv] for lv in ([10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119],
                                               [116, 90, 156, 198, 373, 326])]  # fmt: skip
    big = YOLOv5(path, input_size=416, threads=1, anchors=doubled)
    assert big.plan.options["anchors"][0][0] == (20.0, 26.0)
    wide = big.detect(bus_img)
    area = lambda d: float(((d.xyxy[:, 2] - d.xyxy[:, 0]) * (d.xyxy[:, 3] - d.xyxy[:, 1])).mean())  # noqa: E731
    assert area(wide) > 1.5 * area(std)
    with pytest.raises(InputError, match="anchors: expected anchors per level"):
        YOLOv5(path, input_size=416, threads=1, anchors=[[10, 13, 16]])
