"""YOLOv6Lite on ONNX Runtime with real weights: every export layout gives the same boxes."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from lite import Detections
from lite.core.errors import ImageError, ImageNotFoundError, InputError, LiteError, ModelLoadError, ModelNotFoundError
from lite.cv import YOLOv6
from lite.ops.decoders.yolov6 import Layout
from lite.ops.nms import box_iou

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def models(onnx_dir):
    return {
        "decoded": YOLOv6(onnx_dir / "yolov6lite_s_320_decoded.onnx", threads=2),
        "raw": YOLOv6(onnx_dir / "yolov6lite_s_320_raw.onnx", threads=2),
        "end2end": YOLOv6(onnx_dir / "yolov6lite_s_320_end2end_ort.onnx", threads=2),
    }


@pytest.fixture(scope="module")
def bus(bus_path):
    return cv2.imread(str(bus_path))


def assert_same(a: Detections, b: Detections, iou: float = 0.99, score_tol: float = 1e-3) -> None:
    """Every detection of ``a`` is in ``b`` (IoU ≥ iou, same class, close score), and vice versa."""
    assert len(a) == len(b), f"{a} vs {b}"
    if len(a) == 0:
        return
    ious = box_iou(a.xyxy, b.xyxy)
    for i in range(len(a)):
        j = int(np.argmax(np.where(b.class_ids == a.class_ids[i], ious[i], -1)))
        assert ious[i, j] >= iou, f"detection {i} {a.labels[i]} best IoU {ious[i, j]:.4f}"
        assert b.class_ids[j] == a.class_ids[i]
        assert abs(b.scores[j] - a.scores[i]) <= score_tol


def test_layouts_are_detected_without_arguments(models):
    assert models["decoded"].spec.layout is Layout.DECODED
    assert models["raw"].spec.layout is Layout.RAW
    assert models["end2end"].spec.layout is Layout.END2END
    assert models["raw"].max_stride == 64  # four levels: 8, 16, 32, 64
    assert models["decoded"].input_hw == (320, 320)


def test_bus_has_a_bus_and_people(models, bus):
    dets = models["decoded"].detect(bus)
    confident = dets[dets.scores >= 0.5]
    labels = list(confident.labels)
    assert labels.count("bus") >= 1 and labels.count("person") >= 3, str(dets)
    # the bus spans most of the image width in bus.jpg (810 x 1080)
    bus_box = confident.xyxy[np.array(labels) == "bus"][0]
    assert bus_box[2] - bus_box[0] > 0.6 * bus.shape[1]
    assert np.all(dets.xyxy >= 0) and np.all(dets.xyxy[:, [0, 2]] <= bus.shape[1])
    assert np.all(np.diff(dets.scores) <= 0)


def test_decoded_raw_and_end2end_agree(models, bus):
    d = models["decoded"].detect(bus)
    r = models["raw"].detect(bus)
    assert_same(d, r, iou=0.99, score_tol=2e-3)
    # the end-to-end model ran NMS at score 0.25 / IoU 0.45 (ONNX NMS, per class): same boxes
    e = models["end2end"].detect(bus)
    assert_same(d, e, iou=0.99, score_tol=2e-3)


def test_raw_heads_survive_forced_wrong_order_check(onnx_dir, bus):
    # forcing the true order gives the same result as detection; the wrong one gives nonsense
    auto = YOLOv6(onnx_dir / "yolov6lite_s_320_raw.onnx").detect(bus)
    forced = YOLOv6(onnx_dir / "yolov6lite_s_320_raw.onnx", box_first=False, sigmoid=False).detect(bus)
    assert_same(auto, forced)


def test_inputs_of_every_kind_give_the_same_result(models, bus, bus_path):
    det = models["decoded"]
    ref = det.detect(bus)
    assert_same(ref, det.detect(str(bus_path)))
    assert_same(ref, det.detect(bus_path))
    assert_same(ref, det.detect(bus.astype(np.float32) / 255.0), iou=0.98, score_tol=0.02)
    bgra = cv2.cvtColor(bus, cv2.COLOR_BGR2BGRA)
    assert_same(ref, det.detect(bgra))
    gray = cv2.cvtColor(bus, cv2.COLOR_BGR2GRAY)
    assert len(det.detect(gray)) > 0  # converted, runs
    pil = pytest.importorskip("PIL.Image")
    assert_same(ref, det.detect(pil.open(bus_path)), iou=0.98, score_tol=0.02)


@pytest.mark.parametrize(
    "bad, err",
    [
        (None, ImageError),
        (np.zeros((0, 10, 3), np.uint8), ImageError),
        (np.zeros((10, 10, 3, 1), np.uint8), ImageError),
        (np.zeros((10, 10, 2), np.uint8), ImageError),
        (np.zeros((10,), np.uint8), ImageError),
        ([1, 2, 3], ImageError),
        ("definitely/not/here.jpg", ImageNotFoundError),
    ],
)
def test_bad_inputs_raise_typed_errors(models, bad, err):
    with pytest.raises(err) as info:
        models["decoded"].detect(bad)
    assert isinstance(info.value, LiteError)
    assert "expected" in str(info.value).lower() or "not found" in str(info.value).lower()


def test_unreadable_image_file(models, tmp_path):
    p = tmp_path / "broken.jpg"
    p.write_bytes(b"this is not a jpeg")
    with pytest.raises(ImageError, match="broken.jpg"):
        models["decoded"].detect(p)


def test_blank_image_gives_zero_detections_everywhere(models):
    blank = np.full((200, 300, 3), 114, np.uint8)
    for det in models.values():
        dets = det.detect(blank)
        assert len(dets) == 0 and dets.xyxy.shape == (0, 4)
        assert "0" in str(dets)


def test_thresholds_and_overrides(models, bus):
    det = models["decoded"]
    many = det.detect(bus, conf=0.05)
    few = det.detect(bus, conf=0.6)
    assert len(many) > len(few) > 0
    assert len(det.detect(bus, conf=0.05, max_det=3)) == 3
    agnostic = det.detect(bus, nms="agnostic", conf=0.05)
    assert len(agnostic) <= len(many)
    with pytest.raises(InputError, match="conf"):
        det.detect(bus, conf=2)
    with pytest.raises(InputError, match="nms"):
        det.detect(bus, nms="soft")
    with pytest.raises(InputError, match="unknown"):
        det.detect(bus, confidence=0.3)


def test_fixed_input_size_cannot_be_changed(onnx_dir):
    with pytest.raises(InputError, match="fixed input"):
        YOLOv6(onnx_dir / "yolov6lite_s_320_decoded.onnx", input_size=640)
    with pytest.raises(InputError, match="auto"):
        YOLOv6(onnx_dir / "yolov6lite_s_320_decoded.onnx", auto=True)


def test_detect_batch_matches_single(models, images_dir):
    det = models["raw"]
    paths = [images_dir / n for n in ("bus.jpg", "zidane.jpg", "image1.jpg")]
    batch = det.detect_batch(paths)
    for p, b in zip(paths, batch, strict=True):
        assert_same(det.detect(p), b)


def test_names_are_coco_and_overridable(onnx_dir, bus):
    det = YOLOv6(onnx_dir / "yolov6lite_s_320_decoded.onnx")
    assert det.names[0] == "person" and len(det.names) == 80
    custom = [f"c{i}" for i in range(80)]
    det2 = YOLOv6(onnx_dir / "yolov6lite_s_320_decoded.onnx", names=custom)
    assert set(det2.detect(bus).labels) <= set(custom)
    with pytest.raises(InputError, match="85 columns; with 2 classes"):
        YOLOv6(onnx_dir / "yolov6lite_s_320_decoded.onnx", names=["a", "b"])


def test_missing_and_corrupt_model_files(tmp_path):
    with pytest.raises(ModelNotFoundError, match="nope.onnx"):
        YOLOv6(tmp_path / "nope.onnx")
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelLoadError, match="corrupt.onnx") as info:
        YOLOv6(bad)
    assert isinstance(info.value, ValueError)


def test_draw_and_print(models, bus):
    dets = models["decoded"].detect(bus)
    out = dets.draw(bus)
    assert out.shape == bus.shape and not np.array_equal(out, bus)
    text = str(dets)
    assert "bus" in text and "person" in text


def test_import_lite_imports_no_engine():
    code = (
        "import sys, lite, lite.cv, lite.backends as b; b.known(); "
        "heavy = [m for m in ('onnxruntime', 'ncnn', 'MNN', 'torch', 'tensorrt', 'onnx', 'openvino') "
        "if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.fixture(scope="module")
def dynamic_raw(onnx_dir, tmp_path_factory):
    """The raw Lite-S ONNX with symbolic batch, height and width (the graph is fully convolutional)."""
    onnx = pytest.importorskip("onnx")
    m = onnx.load(str(onnx_dir / "yolov6lite_s_320_raw.onnx"))
    dims = m.graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_param, dims[2].dim_param, dims[3].dim_param = "batch", "height", "width"
    for o in m.graph.output:
        od = o.type.tensor_type.shape.dim
        od[0].dim_param, od[2].dim_param, od[3].dim_param = "batch", f"{o.name}_h", f"{o.name}_w"
    del m.graph.value_info[:]
    path = tmp_path_factory.mktemp("dyn") / "lite_s_dynamic_raw.onnx"
    onnx.save(m, str(path))
    return path


def test_dynamic_model_sizes(dynamic_raw, models, bus):
    default = YOLOv6(dynamic_raw)
    assert default.input_hw == (640, 640) and default.batch_size is None
    at320 = YOLOv6(dynamic_raw, input_size=320)
    assert_same(models["raw"].detect(bus), at320.detect(bus))
    rect = YOLOv6(dynamic_raw, input_size=320, auto=True)
    tensor, t = rect.preprocess(bus)
    # bus.jpg is 810 x 1080 (w x h): r = 320/1080, 240 x 320, width padded to a multiple of the max stride 64
    assert tensor.shape == (1, 3, 320, 256) and t.dst_shape == (320, 256)
    square, rectangular = at320.detect(bus, conf=0.5), rect.detect(bus, conf=0.5)
    assert sorted(square.labels) == sorted(rectangular.labels)
    assert np.all(box_iou(square.xyxy, rectangular.xyxy).max(axis=1) > 0.9)


def test_dynamic_batch_runs_in_one_call(dynamic_raw, images_dir):
    det = YOLOv6(dynamic_raw, input_size=320)
    calls = []
    real_infer = det.infer
    det.infer = lambda tensor: calls.append(tensor.shape) or real_infer(tensor)
    paths = [images_dir / n for n in ("bus.jpg", "zidane.jpg", "image2.jpg")]
    batch = det.detect_batch(paths)
    assert calls == [(3, 3, 320, 320)]
    for p, b in zip(paths, batch, strict=True):
        assert_same(det.detect(p), b, score_tol=2e-3)
    rect = YOLOv6(dynamic_raw, input_size=320, auto=True)
    for p, b in zip(paths, rect.detect_batch(paths), strict=True):
        assert len(b) > 0 and all(lbl in det.names for lbl in b.labels), (p, b)


def test_channel_order_from_metadata_or_argument(onnx_dir, tmp_path, bus):
    """One forced property (box_first) does not stop the other (sigmoid) from being detected."""
    import json
    import shutil

    model = tmp_path / "lite_s_raw.onnx"
    shutil.copy(onnx_dir / "yolov6lite_s_320_raw.onnx", model)
    ref = YOLOv6(onnx_dir / "yolov6lite_s_320_raw.onnx").detect(bus)
    one = YOLOv6(model, box_first=False)
    assert_same(ref, one.detect(bus))
    assert one.spec.box_first is False and one.spec.sigmoid is False
    (tmp_path / "lite_s_raw.onnx.lite.json").write_text(json.dumps({"layout": "raw", "extra": {"box_first": "true"}}))
    wrong = YOLOv6(model)  # the sidecar claims box-first: the metadata is obeyed, so the boxes are nonsense
    assert wrong.spec.layout is Layout.RAW
    wrong.detect(bus)
    assert wrong.spec.box_first is True


def test_strides_known_for_every_layout(models):
    assert models["decoded"].strides == (8, 16, 32, 64)  # inferred from 2125 anchors at 320x320
    assert models["raw"].strides == (8, 16, 32, 64)
    assert models["decoded"].max_stride == 64 and models["decoded"].info()["strides"] == [8, 16, 32, 64]


def test_dynamic_input_size_must_be_a_stride_multiple(dynamic_raw):
    with pytest.raises(InputError, match=r"multiples of the model's largest stride 64, got 256x416; use e.g. 256x448"):
        YOLOv6(dynamic_raw, input_size=(256, 416))
