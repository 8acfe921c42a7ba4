"""Model families: every foreign model through its family class and Detector.from_file, and no silent wrong answer."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from onnx_models import constant_model as _onnx_model

from lite import backends
from lite.core.errors import AmbiguousModelError, InputError, InputSizeError, LayoutError, LiteError, ModelOutputError
from lite.cv import YOLO11, YOLOX, Detector, NanoDet, YOLOv5, YOLOv6, YOLOv8, family_names, get_family
from lite.ops.preprocess import PreprocessConfig

onnx = pytest.importorskip("onnx")

NCNN = "ncnn" in backends.available()
V5LITE_PRE = PreprocessConfig(pad_align="topleft")  # YOLOv5-Lite's demo pads right and bottom

# (folder/file, family class, kwargs, README scores: {class: sorted scores}, score floor the README used)
FOREIGN = [
    ("yolov8/yolov8n_int8.onnx", YOLOv8, {}, {"person": [0.90, 0.90, 0.89, 0.31], "bus": [0.83]}, 0.28),
    ("yolov5/yolov5n_int8_640.onnx", YOLOv5, {}, {"person": [0.80, 0.77, 0.71, 0.37], "bus": [0.77]}, 0.3),
    ("yolox/yolox_nano_416.onnx", YOLOX, {}, {"bus": [0.90], "person": [0.86, 0.81, 0.70]}, 0.3),
    ("yolov5_lite/v5lite-s.param", YOLOv5, {"input_size": 416, "preprocess": V5LITE_PRE},
     {"person": [0.90, 0.82, 0.71], "bus": [0.78]}, 0.3),
    ("nanodet_plus/nanodet-plus-m_416.param", NanoDet, {}, {"person": [0.78, 0.73, 0.64], "bus": [0.76]}, 0.4),
    ("nanodet/nanodet-m.param", NanoDet, {"iou": 0.5}, {"bus": [0.80], "person": [0.77, 0.62, 0.49]}, 0.4),
]  # fmt: skip
IDS = [f[0].split("/")[0] for f in FOREIGN]


@pytest.fixture(scope="module")
def foreign(shared: Path) -> Path:
    return shared / "models" / "foreign"


def _open(kind, cls, path, kw):
    if path.suffix == ".param" and not NCNN:
        pytest.skip("the ncnn backend is not available")
    kw = {**kw, "threads": 1} if path.suffix == ".param" else kw
    return cls(path, **kw) if kind == "class" else Detector.from_file(path, **kw)


def _scores(dets, floor):
    out: dict[str, list[float]] = {}
    for d in dets:
        if d.score >= floor and d.name in ("person", "bus"):
            out.setdefault(d.name, []).append(float(d.score))
    return out


@pytest.mark.parametrize("kind", ["class", "from_file"])
@pytest.mark.parametrize(("file", "cls", "kw", "expected", "floor"), FOREIGN, ids=IDS)
def test_foreign_models_find_the_bus_and_the_persons(foreign, bus_path, kind, file, cls, kw, expected, floor):
    with _open(kind, cls, foreign / file, kw) as det:
        assert type(det) is cls
        got = _scores(det.detect(bus_path), floor)
        assert sorted(got) == sorted(expected), got
        for name, scores in expected.items():
            np.testing.assert_allclose(got[name], scores, atol=0.015, err_msg=f"{file} {name}")


def test_family_and_from_file_give_identical_boxes(foreign, bus_path):
    path = foreign / "yolox" / "yolox_nano_416.onnx"
    a, b = YOLOX(path).detect(bus_path), Detector.from_file(path).detect(bus_path)
    np.testing.assert_array_equal(a.xyxy, b.xyxy)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_bus_box_is_where_every_family_puts_it(foreign, bus_path):
    """The bus box agrees across five families (independent models) within a few dozen pixels."""
    boxes = []
    for file, cls, kw, _, _ in FOREIGN:
        path = foreign / file
        if path.suffix == ".param" and not NCNN:
            continue
        with _open("class", cls, path, kw) as det:
            bus = [d for d in det.detect(bus_path) if d.name == "bus"]
            boxes.append(bus[0].xyxy)
    boxes = np.array(boxes)
    assert len(boxes) >= 3
    assert np.abs(boxes - np.median(boxes, axis=0)).max() < 60, boxes


# --------------------------------------------------------------------------- registry, metadata, sizes
def test_family_registry():
    assert set(family_names()) == {
        "yolov5", "yolov6", "yolov7", "yolov8", "yolox", "nanodet", "rtdetr", "yolov8-cls", "imagenet", "maskrcnn"
    }  # fmt: skip
    assert get_family("yolo11") is YOLOv8 is YOLO11 and get_family("YOLOX") is YOLOX
    with pytest.raises(InputError, match="unknown model family 'yolov99'.*yolov8"):
        get_family("yolov99")
    with pytest.raises(InputError, match="unknown model family"):
        Detector.from_file("whatever.onnx", family="detr")


def test_family_preprocessing_is_data():
    assert YOLOX.preprocess_config == PreprocessConfig(color="bgr", scale=1.0, pad_align="topleft", rounding="truncate")
    assert NanoDet.preprocess_config.mean == (103.53, 116.28, 123.675) and NanoDet.preprocess_config.pad_value == 0
    assert YOLOv6.preprocess_config == YOLOv8.preprocess_config == PreprocessConfig()


def test_yolox_legacy_normalization_option(foreign, bus_path):
    det = YOLOX(foreign / "yolox" / "yolox_nano_416.onnx", legacy_normalization=True)
    assert det.preprocess_config.mean == (0.485, 0.456, 0.406) and det.preprocess_config.color == "rgb"
    assert YOLOX.preprocess_config.color == "bgr"  # the class default is untouched


def test_ultralytics_metadata_names_and_size(foreign):
    det = YOLOv8(foreign / "yolov8" / "yolov8n_int8.onnx")
    assert det.names[5] == "bus" and len(det.names) == 80
    assert det.strides == (8, 16, 32) and det.max_stride == 32
    info = det.info()
    assert info["family"] == "yolov8" and info["decoder"] == "yolov8"
    assert info["input_size"] == [640, 640] and info["input_size_source"] == "model file (fixed input shape)"


def test_ultralytics_names_literal_is_never_evaluated(tmp_path):
    """``names`` is parsed as a literal: an expression in it is not run, it is just not a dict of names."""
    from lite.data.metadata import from_mapping

    meta = from_mapping({"names": "{0: 'person', 1: 'bus'}"})
    assert meta.names == ("person", "bus")
    evil = from_mapping({"names": "__import__('os').system('touch " + str(tmp_path / "pwned") + "')"})
    assert not (tmp_path / "pwned").exists()
    assert evil.names is None or "__import__" in "".join(evil.names)


@pytest.mark.skipif(not NCNN, reason="the ncnn backend is not available")
def test_nanodet_input_sizes_and_their_reasons(foreign):
    plus = NanoDet(foreign / "nanodet_plus" / "nanodet-plus-m_416.param", threads=1)
    assert plus.input_hw == (416, 416) and plus.info()["input_size_source"] == "family default"
    m = NanoDet(foreign / "nanodet" / "nanodet-m.param", threads=1)
    assert m.input_hw == (320, 320) and m.info()["input_size_source"] == "layout default"
    tensor, t = m.preprocess(np.zeros((810, 1080, 3), np.uint8))
    assert tensor.shape == (1, 3, 256, 320) and t.pad == (0, 8)  # padded to a multiple of 32 only
    assert m.strides == (8, 16, 32) and plus.strides == (8, 16, 32, 64)


@pytest.mark.skipif(not NCNN, reason="the ncnn backend is not available")
def test_hub_name_uses_the_manifest_size(tmp_path, monkeypatch, ncnn_dir, bus_path):
    home = tmp_path / "models"
    home.mkdir()
    monkeypatch.setenv("LITE_HOME", str(home))
    for f in ("yolov6-lite-s.param", "yolov6-lite-s.bin"):
        shutil.copy(ncnn_dir / f, home)
    det = YOLOv6("yolov6lite-s", threads=1)
    assert det.input_hw == (320, 320) and det.info()["input_size_source"] == "hub manifest"
    by_name = det.detect(bus_path)
    assert {"bus", "person"} <= set(by_name.labels)
    for path in (home / "yolov6-lite-s.param", ncnn_dir / "yolov6-lite-s.param"):  # the hub's file by path: same size
        by_path = YOLOv6(path, threads=1)
        assert by_path.input_hw == (320, 320) and by_path.info()["input_size_source"] == "hub manifest"
        np.testing.assert_allclose(by_path.detect(bus_path).xyxy, by_name.xyxy)
        assert Detector.from_file(path, threads=1).input_hw == (320, 320)
    assert YOLOv6("yolov6lite-s", threads=1, input_size=256).info()["input_size_source"] == "input_size argument"
    auto = Detector.from_file("yolov6lite-s", threads=1)
    assert type(auto) is YOLOv6 and auto.input_hw == (320, 320)


# --------------------------------------------------------------------------- no silent wrong answer
def _yolov8_like(rng) -> np.ndarray:
    out = np.zeros((1, 84, 8400), np.float32)
    out[0, 0:2] = rng.uniform(0, 640, (2, 8400))
    out[0, 2:4] = rng.uniform(5, 50, (2, 8400))
    out[0, 4:] = rng.uniform(0, 0.2, (80, 8400))
    out[0, 4 + 5, 123] = 0.9  # one bus
    return out


def test_84_by_8400_without_metadata_is_yolov8_never_8395_classes(tmp_path):
    path = _onnx_model(tmp_path / "synthetic.onnx", {"output0": _yolov8_like(np.random.default_rng(0))})
    with pytest.raises(LayoutError, match=r"fit no yolov6 layout.*family 'yolov8'") as e:
        YOLOv6(path)
    assert "8395" not in str(e.value).split("fit no")[1]
    det = Detector.from_file(path)
    assert type(det) is YOLOv8 and len(det.names) == 80 and det.plan.num_classes == 80
    dets = det.detect(np.zeros((640, 640, 3), np.uint8))
    assert dets.labels == ["bus"]


def test_class_count_inconsistent_with_names_is_refused(foreign, tmp_path):
    with pytest.raises(LayoutError, match="another class count than the 3 names from the names= argument: pass names="):
        YOLOv8(foreign / "yolov8" / "yolov8n_int8.onnx", names=["a", "b", "c"])
    thousands = np.zeros((1, 8400, 5005), np.float32)  # "5000 classes" for 8400 rows at 640: not believed
    path = _onnx_model(tmp_path / "wide.onnx", {"output": thousands})
    with pytest.raises(LayoutError, match="fit no yolov6 layout"):
        YOLOv6(path)


def test_fits_several_families_equally_is_refused_naming_them(tmp_path):
    """Raw grid offsets with logit scores: YOLOv6 0.1's anchor grid and YOLOX read it the same way."""
    rng = np.random.default_rng(1)
    out = np.concatenate([rng.uniform(-1, 1, (1, 2100, 4)), rng.normal(-4, 2, (1, 2100, 81))], axis=2)
    path = _onnx_model(tmp_path / "raw.onnx", {"output": out}, hw=(320, 320))
    with pytest.raises(AmbiguousModelError, match=r"\['yolov6', 'yolox'\].*family=") as e:
        Detector.from_file(path)
    assert e.value.candidates == ("yolov6", "yolox") and isinstance(e.value, LiteError)
    assert type(Detector.from_file(path, family="yolox")) is YOLOX


def test_output_fitting_no_layout_is_refused(tmp_path):
    path = _onnx_model(tmp_path / "odd.onnx", {"a": np.zeros((1, 7), np.float32), "b": np.zeros((2, 3, 5), np.float32)})
    with pytest.raises(LayoutError, match="no registered family reads"):
        Detector.from_file(path)
    with pytest.raises(LayoutError, match="No registered family reads them"):
        YOLOv8(path)


def test_decoded_boxes_with_negative_sizes_are_refused_on_first_inference(foreign, tmp_path, bus_path):
    with pytest.raises(ModelOutputError, match="not centres in pixels: this is a raw grid output"):
        YOLOv6(foreign / "yolox" / "yolox_nano_416.onnx").detect(bus_path)
    rng = np.random.default_rng(2)
    gx, gy, gs = (a.copy() for a in __import__("lite.ops.grids", fromlist=["priors"]).priors((320, 320), (8, 16, 32)))
    out = np.zeros((1, 2100, 85), np.float32)
    out[0, :, 0], out[0, :, 1] = (gx + 0.5) * gs, (gy + 0.5) * gs
    out[0, :, 2:4] = rng.uniform(-30, 10, (2100, 2))  # most sizes negative
    out[0, :, 4], out[0, :, 5:] = 1.0, rng.uniform(0, 1, (2100, 80))
    path = _onnx_model(tmp_path / "neg.onnx", {"outputs": out}, hw=(320, 320))
    det = YOLOv6(path)
    with pytest.raises(ModelOutputError, match="negative width or height"):
        det.detect(np.zeros((320, 320, 3), np.uint8))


def test_yolox_given_a_decoded_model_is_refused(shared, bus_path):
    path = shared / "models" / "yolov6lite" / "onnx" / "yolov6lite_s_320_decoded.onnx"
    with pytest.raises(ModelOutputError, match="not YOLOX's raw grid output"):
        YOLOX(path).detect(bus_path)


@pytest.mark.skipif(not NCNN, reason="the ncnn backend is not available")
def test_nanodet_output_given_to_yolov6_is_refused(foreign):
    with pytest.raises(LayoutError, match="look like family 'nanodet'.*not yolov6"):
        YOLOv6(foreign / "nanodet_plus" / "nanodet-plus-m_416.param", threads=1)
    with pytest.raises(LayoutError, match="fit no yolov6 layout.*family 'nanodet'"):
        YOLOv6(foreign / "nanodet" / "nanodet-m.param", threads=1)
    with pytest.raises(LayoutError, match="fit no yolov8 layout.*family 'yolov5"):
        YOLOv8(foreign / "yolov5_lite" / "v5lite-s.param", threads=1, input_size=416)


@pytest.fixture(scope="module")
def converted_320(shared, tmp_path_factory):
    """YOLOv6Lite-S decoded at 320, converted to NCNN by lite (a fixed-size graph: its anchors are constants)."""
    if not NCNN:
        pytest.skip("the ncnn backend is not available")
    from lite.convert.ncnn import onnx_to_ncnn

    try:
        from lite.convert.ncnn import pnnx_executable

        pnnx_executable()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"pnnx is not available: {e}")
    out = tmp_path_factory.mktemp("conv320")
    return onnx_to_ncnn(shared / "models" / "yolov6lite" / "onnx" / "yolov6lite_s_320_decoded.onnx", out)


def test_converted_320_model_run_at_640_is_refused(converted_320, bus_path):
    ok = YOLOv6(converted_320, threads=1)  # the sidecar says 320
    assert ok.input_hw == (320, 320) and ok.info()["input_size_source"] == "model metadata"
    assert {"bus", "person"} <= set(ok.detect(bus_path).labels)
    with pytest.raises(InputSizeError, match=r"do not fit input 640x640.*fit input 320x320.*input_size=320"):
        YOLOv6(converted_320, threads=1, input_size=640)


def test_fixed_size_model_without_declared_size_infers_it(converted_320, tmp_path, bus_path):
    bare = tmp_path / "m.param"
    shutil.copy(converted_320, bare)
    shutil.copy(converted_320.with_suffix(".bin"), tmp_path / "m.bin")  # no sidecar: nothing says 320
    det = YOLOv6(bare, threads=1)
    assert det.input_hw == (320, 320) and det.info()["input_size_source"] == "inferred from the output shapes"
    ref = YOLOv6(converted_320, threads=1).detect(bus_path)
    np.testing.assert_array_equal(det.detect(bus_path).xyxy, ref.xyxy)
    with pytest.raises(InputSizeError, match="input_size=320"):
        YOLOv6(bare, threads=1, input_size=640)


# --------------------------------------------------------------------------- family from metadata
def test_family_from_sidecar_settles_an_ambiguous_model(tmp_path):
    import json

    rng = np.random.default_rng(1)
    out = np.concatenate([rng.uniform(-1, 1, (1, 2100, 4)), rng.normal(-4, 2, (1, 2100, 81))], axis=2)
    path = _onnx_model(tmp_path / "raw.onnx", {"output": out}, hw=(320, 320))
    (tmp_path / "raw.onnx.lite.json").write_text(json.dumps({"extra": {"family": "yolox"}}))
    assert type(Detector.from_file(path)) is YOLOX


def test_yolov5_metadata_names_the_family(tmp_path):
    out = np.zeros((1, 6300, 7), np.float32)  # 3 anchors x 2100 cells at 320, 2 classes
    path = _onnx_model(tmp_path / "v5.onnx", {"output0": out}, hw=(320, 320),
                       metadata={"stride": "32", "names": "{0: 'cat', 1: 'dog'}"})  # fmt: skip
    det = Detector.from_file(path)
    assert type(det) is YOLOv5 and det.names == ("cat", "dog") and det.strides == (8, 16, 32)


def test_ultralytics_end2end_export(tmp_path):
    out = np.zeros((1, 300, 6), np.float32)
    out[0, 0] = [100, 120, 300, 400, 0.9, 5]
    out[0, 1] = [10, 10, 50, 60, 0.2, 0]
    meta = {"author": "Ultralytics", "task": "detect", "imgsz": "[640, 640]", "end2end": "True", "stride": "32",
            "names": repr({i: n for i, n in enumerate(YOLOv8.default_names)})}  # fmt: skip
    path = _onnx_model(tmp_path / "e2e.onnx", {"output0": out}, metadata=meta)
    det = Detector.from_file(path)
    assert type(det) is YOLOv8 and det.plan.decoder == "yolov8_end2end"
    dets = det.detect(np.zeros((640, 640, 3), np.uint8))
    assert dets.labels == ["bus"] and np.allclose(dets.xyxy, [[100, 120, 300, 400]])


def test_yolox_converted_to_mnn_gives_the_same_boxes(foreign, tmp_path, bus_path):
    """int8 YOLOv5n/YOLOv8n and YOLOX-to-NCNN do not convert (ops the converters lack); YOLOX to MNN does."""
    import importlib.util

    if importlib.util.find_spec("MNN") is None or "mnn" not in backends.available():
        pytest.skip("MNN is not available")
    from lite.convert.mnn import onnx_to_mnn
    from lite.tools.parity import match_detections

    src = foreign / "yolox" / "yolox_nano_416.onnx"
    mnn = onnx_to_mnn(src, tmp_path / "yolox")
    ref = YOLOX(src).detect(bus_path)
    for det in (YOLOX(mnn, threads=1), Detector.from_file(mnn, threads=1)):
        assert type(det) is YOLOX and det.backend.name == "mnn"
        diff = match_detections(ref, det.detect(bus_path), iou=0.99, score_tol=0.01)
        assert diff.ok and diff.matched == len(ref) >= 4, diff
