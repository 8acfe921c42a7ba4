"""Each trap of issue 18 ("any export, the right boxes, or a typed error"): refused with the reason, never garbage.

Models are real files from ``../shared`` or hand-built ONNX graphs whose outputs are constants (`_onnx_model`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from onnx_models import constant_model as _onnx_model

from lite.core.errors import InputError, LayoutError, ModelOutputError, TaskNotSupportedError
from lite.cv import YOLOX, Detector, YOLOv6

DECODED = Path("models") / "yolov6lite" / "onnx" / "yolov6lite_s_320_decoded.onnx"
BLANK = np.zeros((320, 320, 3), np.uint8)


def _saturated_yolov8(rng: np.random.Generator) -> np.ndarray:
    """A YOLO11n QDQ-int8-like output: class scores 0 almost everywhere, a few saturated at 1.253, never negative."""
    out = np.zeros((1, 84, 2100), np.float32)
    out[0, 0:2] = rng.uniform(0, 320, (2, 2100))
    out[0, 2:4] = rng.uniform(5, 50, (2, 2100))
    out[0, 4:] = rng.choice([0.0, 0.3, 1.253], (80, 2100), p=[0.9, 0.09, 0.01])
    return out


def test_saturated_scores_are_refused_never_sigmoided(tmp_path):
    path = _onnx_model(tmp_path / "sat.onnx", {"output0": _saturated_yolov8(np.random.default_rng(0))}, hw=(320, 320))
    det = Detector.from_file(path)
    with pytest.raises(ModelOutputError, match=r"sat\.onnx: .*reach 1\.253 yet are never negative.*saturated"):
        det.detect(BLANK)


def test_saturated_decoded_yolov6_scores_are_refused(tmp_path):
    rng = np.random.default_rng(1)
    out = np.zeros((1, 2100, 85), np.float32)
    out[0, :, :2] = rng.uniform(0, 320, (2100, 2))
    out[0, :, 2:4] = rng.uniform(5, 50, (2100, 2))
    out[0, :, 4:] = rng.choice([0.0, 1.253], (2100, 81), p=[0.95, 0.05])
    path = _onnx_model(tmp_path / "sat6.onnx", {"outputs": out}, hw=(320, 320))
    with pytest.raises(ModelOutputError, match="saturated"):
        YOLOv6(path).detect(BLANK)


def test_logit_scores_are_refused_where_the_layout_has_probabilities(tmp_path):
    out = _saturated_yolov8(np.random.default_rng(2))
    out[0, 4:] = np.random.default_rng(3).normal(-5, 2, (80, 2100))  # logits: ultralytics' head sigmoids inside
    path = _onnx_model(tmp_path / "logits.onnx", {"output0": out}, hw=(320, 320), metadata={"author": "Ultralytics"})
    with pytest.raises(ModelOutputError, match="scores are probabilities"):
        Detector.from_file(path).detect(BLANK)


def test_single_level_output_is_never_yolov6_heads(tmp_path):
    """FastestDet: one (1, 85, 22, 22) output. YOLOv6's per-level heads always have 3 or 4 levels."""
    fd = np.random.default_rng(4).uniform(0, 1, (1, 85, 22, 22)).astype(np.float32)
    path = _onnx_model(tmp_path / "fastestdet.onnx", {"758": fd}, hw=(352, 352))
    with pytest.raises(LayoutError, match="3 or 4 levels") as e:
        Detector.from_file(path)
    assert "Details: " not in str(e.value) and not str(e.value).endswith(":")
    with pytest.raises(LayoutError) as e:
        YOLOX(path)
    assert "yolov6" not in str(e.value) and "open the model with" not in str(e.value)
    with pytest.raises(LayoutError, match="3 or 4 levels"):
        YOLOv6(path)


def test_names_that_fit_only_without_objectness_are_refused_naming_their_source(shared, tmp_path, bus_path):
    """81 names (COCO + background) on YOLOv6's 85 columns would read the objectness column as class 0."""
    names81 = ["background", *(f"c{i}" for i in range(80))]
    with pytest.raises(LayoutError, match=r"81 names fit only by reading the objectness.*names= argument"):
        YOLOv6(shared / DECODED, names=names81)
    with pytest.raises(LayoutError, match=r"81 names fit only by reading the objectness.*names= argument"):
        Detector.from_file(shared / DECODED, names=names81)
    out = np.zeros((1, 2100, 85), np.float32)
    meta = _onnx_model(
        tmp_path / "meta81.onnx", {"outputs": out}, hw=(320, 320), metadata={"names": json.dumps(names81)}
    )
    with pytest.raises(LayoutError, match=r"objectness.*the metadata of meta81\.onnx \(key 'names'\)"):
        YOLOv6(meta)
    side = _onnx_model(tmp_path / "side81.onnx", {"outputs": out}, hw=(320, 320))
    side.with_name("side81.onnx.lite.json").write_text(json.dumps({"names": names81}))
    with pytest.raises(LayoutError, match=r"objectness.*metadata sidecar .*side81\.onnx\.lite\.json"):
        YOLOv6(side)
    assert len(YOLOv6(shared / DECODED, names=names81[1:]).detect(bus_path)) > 0  # 80 names: fine


def _channels_first(c: int, n: int = 2100) -> np.ndarray:
    out = np.zeros((1, c, n), np.float32)
    out[0, :4] = np.random.default_rng(c).uniform(0, 320, (4, n))
    return out


@pytest.mark.parametrize(("outputs", "task"), [
    ({"output0": _channels_first(56)}, "pose"),
    ({"output0": _channels_first(116), "output1": np.zeros((1, 32, 80, 80), np.float32)}, "segment"),
])  # fmt: skip
def test_pose_and_segment_signatures_are_those_tasks_never_detectors(tmp_path, outputs, task):
    """Read as their task by the families that have it; refused by name by the others (never 52 or 112 classes)."""
    from lite.cv import YOLOv8

    path = _onnx_model(tmp_path / f"{task}.onnx", outputs, hw=(320, 320))
    for opener in (Detector.from_file, YOLOv8):
        with opener(path) as det:
            assert det.task == task and det.plan.decoder == f"yolov8_{'seg' if task == 'segment' else 'pose'}"
    for family in (YOLOv6, YOLOX):
        refused = f"a {task} model, which family '{family.family}' does not"
        with pytest.raises(TaskNotSupportedError, match=refused) as e:
            family(path)
        assert e.value.task == task and isinstance(e.value, LayoutError)
        assert "Detector.from_file" in str(e.value) and "yolov8" in str(e.value)


def test_a_segmentation_head_without_its_prototypes_is_refused(tmp_path):
    """116 rows = 4 + 80 + 32 mask coefficients, the prototype output dropped: no masks can be built, and reading
    it as a 112-class detector would be a wrong answer."""
    path = _onnx_model(tmp_path / "seg_no_protos.onnx", {"output0": _channels_first(116)}, hw=(320, 320))
    with pytest.raises(TaskNotSupportedError, match=r"a segment model .*fit no segment layout.*wrong answer") as e:
        Detector.from_file(path)
    assert e.value.task == "segment"


@pytest.mark.parametrize(("file", "task"), [
    ("segment/yolov8n-seg_int8_320.onnx", "segment"), ("pose/yolo11n-pose_int8_degenerate.onnx", "pose"),
])  # fmt: skip
def test_real_pose_and_segment_exports_open_as_their_task_and_detector_only_families_refuse_them(shared, file, task):
    model = shared / "models" / "foreign_tasks" / file
    with Detector.from_file(model) as det:
        assert det.task == task and det.family == "yolov8"
    with pytest.raises(TaskNotSupportedError, match=f"metadata says task='{task}'") as e:
        YOLOv6(model)
    assert e.value.task == task
    other = "pose" if task == "segment" else "segment"
    with pytest.raises(TaskNotSupportedError, match=f"task='{other}' asks for .* but the model is a {task} model"):
        Detector.from_file(model, task=other)


def test_an_image_classifier_is_refused_as_one(shared):
    """MobileNetV2 (one ``(N, 1000)`` output, no metadata) is refused by the detector API as a classifier, naming
    the API that reads it."""
    model = shared / "models" / "foreign_tasks" / "classify" / "mobilenetv2-12-int8.onnx"
    with pytest.raises(TaskNotSupportedError, match=r"a classify model .*lite\.cv\.Classifier") as e:
        Detector.from_file(model)
    assert e.value.task == "classify"
    with pytest.raises(TaskNotSupportedError, match=r"a classify model, which family 'yolov6' does not read"):
        YOLOv6(model)


def test_unknown_keywords_list_the_family_and_backend_ones(shared):
    model = shared / DECODED
    with pytest.raises(
        InputError, match=r"unknown keyword argument foo: YOLOv6 takes .*conf.*backend 'ort' options"
    ) as e:
        YOLOv6(model, foo=1)
    assert not isinstance(e.value, TypeError) or isinstance(e.value, InputError)
    with pytest.raises(InputError, match=r"unknown keyword argument confidence: .*conf, iou.*backend 'ort' options"):
        Detector.from_file(model, confidence=0.5)
    with pytest.raises(InputError, match=r"unknown keyword argument precision: .*backend 'ort' options are .*fp16"):
        YOLOv6(model, precision="int4")
    with pytest.raises(InputError, match=r"legacy_normalization is a keyword of family yolox.*read as family 'yolov6'"):
        Detector.from_file(model, legacy_normalization=True)


@pytest.mark.parametrize("size", [0, -5, 640])
def test_bad_input_size_says_the_real_cause_first(shared, size):
    with pytest.raises(InputError, match=r"^input_size") as e:
        Detector.from_file(shared / DECODED, input_size=size)
    assert "no registered family" not in str(e.value)


def test_bad_layout_never_advises_another_family(shared):
    for opener in (YOLOv6, Detector.from_file):
        with pytest.raises(InputError, match=r"layout: expected one of \['decoded'") as e:
            opener(shared / DECODED, layout="foo")
        assert "yolox" not in str(e.value).lower() and "nanodet" not in str(e.value).lower()
    with pytest.raises(InputError, match="layout is a keyword of family yolov6, not of family 'yolox'"):
        YOLOX(shared / DECODED, layout="decoded")


def test_strides_that_do_not_fit_are_refused_never_ignored(shared):
    with pytest.raises(InputError, match=r"strides=\[7\]: .*strides \[8, 16, 32, 64\]"):
        YOLOv6(shared / DECODED, strides=[7])
    assert YOLOv6(shared / DECODED, strides=[8, 16, 32, 64]).strides == (8, 16, 32, 64)
    assert YOLOv6(shared / DECODED, strides=[64]).strides == (8, 16, 32, 64)  # one value: the largest stride


def _anchor_heads(wh_logit: float) -> dict[str, np.ndarray]:
    """YOLOv5 raw anchor heads at 320 where many cells fire and every box side is (2·σ(wh_logit))² · anchor."""
    outs = {}
    for name, side in (("p3", 40), ("p4", 20), ("p5", 10)):
        a = np.full((1, 3, side, side, 85), -10.0, np.float32)
        a[0, :, ::4, ::4, 4] = 5.0  # objectness
        a[0, :, ::4, ::4, 5] = 5.0  # class 0
        a[0, :, :, :, 2:4] = wh_logit
        outs[name] = a
    return outs


def test_default_anchors_are_said_once_and_implausible_boxes_refused(tmp_path):
    from lite.core.errors import AssumedDefaultWarning
    from lite.cv import YOLOv5

    path = _onnx_model(tmp_path / "v5heads.onnx", _anchor_heads(-10.0), hw=(320, 320))
    with pytest.warns(AssumedDefaultWarning, match=r"default anchors \[\[10.0, 13.0, 16.0, 30.0.*anchors="):
        det = YOLOv5(path)
    with pytest.raises(ModelOutputError, match=r"collapsed .*assumed default anchors.*pass anchors="):
        det.detect(BLANK)
    given = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", AssumedDefaultWarning)  # anchors given: no warning, no refusal
        assert len(YOLOv5(path, anchors=given).detect(BLANK)) > 0
    plausible = _onnx_model(tmp_path / "v5ok.onnx", _anchor_heads(0.0), hw=(320, 320))
    with pytest.warns(AssumedDefaultWarning):
        assert len(YOLOv5(plausible).detect(BLANK)) > 3  # boxes of the anchors' sizes: believed


def test_family_default_input_size_is_said_once_on_first_detect(tmp_path):
    from lite.core.errors import AssumedDefaultWarning
    from lite.cv import YOLOv8

    dynamic = tmp_path / "dynamic.onnx"
    import onnx

    model = onnx.load(_onnx_model(tmp_path / "fixed.onnx", {"output0": np.zeros((1, 84, 8400), np.float32)}))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "h", "w"
    onnx.save(model, dynamic)
    det = YOLOv8(dynamic)
    assert det.input_hw == (640, 640) and det.info()["input_size_source"] == "family default"
    with pytest.warns(AssumedDefaultWarning, match=r"family yolov8's default 640x640.*input_size="):
        det.detect(BLANK)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", AssumedDefaultWarning)
        det.detect(BLANK)  # once: the second call is quiet
        YOLOv8(dynamic, input_size=640).detect(BLANK)  # a size given: no warning


def test_lite_detect_prints_the_input_size_and_its_source(shared, bus_path, tmp_path, capsys, monkeypatch):
    from lite.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["detect", str(bus_path), "--model", str(shared / DECODED), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "yolov6lite_s_320_decoded.onnx: family yolov6, input 320x320 (from model file (fixed input shape))" in out


def test_a_family_keyword_given_to_another_family_is_refused(shared):
    """Knobs belong to their family's record: YOLOX has no anchors, YOLOv6 no reg_max (never silently ignored)."""
    yolox = shared / "models" / "foreign" / "yolox" / "yolox_nano_416.onnx"
    owners = r"anchors is a keyword of family yolov5/yolov7, not of family 'yolox'.*legacy_norm"
    with pytest.raises(InputError, match=owners):
        YOLOX(yolox, anchors=[[10, 13, 16, 30, 33, 23]])
    with pytest.raises(InputError, match=r"reg_max is a keyword of family nanodet.*read as family 'yolox'"):
        Detector.from_file(yolox, reg_max=7)
    with pytest.raises(InputError, match="reg_max is a keyword of family nanodet, not of family 'yolov6'"):
        YOLOv6(shared / DECODED, reg_max=7)
