"""Families as data: each family class takes every default from its frozen record (`lite.cv.records`)."""

from __future__ import annotations

import dataclasses

import pytest

from lite.core.errors import InputError
from lite.cv import YOLOX, Detector, NanoDet, YOLOv5, YOLOv6, YOLOv8, family_names, get_family, register_family
from lite.cv.records import RECORDS, FamilyRecord


@pytest.mark.parametrize("cls", [YOLOv5, YOLOv6, YOLOv8, YOLOX, NanoDet])
def test_family_class_defaults_are_its_record(cls):
    rec = RECORDS[cls.family]
    assert cls.record is rec and get_family(rec.name) is cls
    assert cls.decoders == rec.decoder_names and cls.preprocess_config == rec.preprocess
    assert cls.default_input_size == rec.input_size and cls.default_strides == rec.strides
    assert cls.default_anchors == rec.anchors and cls.input_multiple == rec.input_multiple
    assert set(rec.knob_names()) <= set(cls.knobs())
    others = {k.name for r in RECORDS.values() if r is not rec for k in r.knobs} - set(rec.knob_names())
    assert not others & set(cls.knobs())  # another family's keyword is not this family's
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.input_size = (1, 1)  # type: ignore[misc]


def test_decoders_have_explicit_priorities():
    rec = RECORDS["yolov6"]
    assert rec.decoder_names == ("decoded", "anchor_grid", "raw", "end2end")
    assert rec.priority("decoded") > rec.priority("end2end") > rec.priority("yolox") == 0
    assert set(family_names()) == set(RECORDS)


def test_identifying_metadata_is_data():
    v8, v5 = RECORDS["yolov8"].identify, RECORDS["yolov5"].identify
    assert any(r.matches({"author": "Ultralytics"}) for r in v8)
    assert v5[0].matches({"names": "{0: 'a'}", "stride": "32"})
    assert not v5[0].matches({"names": "{0: 'a'}", "stride": "32", "task": "detect"})


def test_a_family_name_registers_once():
    rec = dataclasses.replace(RECORDS["yolox"])
    with pytest.raises(InputError, match="model family 'yolox' is already registered by YOLOX"):

        @register_family(record=rec)
        class Impostor(Detector):
            pass

    assert get_family("yolox") is YOLOX and isinstance(rec, FamilyRecord)


def test_resolve_is_pure_and_asks_for_what_only_an_engine_can_tell():
    import numpy as np

    from lite.cv.resolve import Observed, ResolveHints, SizeSource, resolve
    from lite.data.metadata import ModelMeta

    hints = ResolveHints("m.onnx", ModelMeta(), fixed_hw=(640, 640))
    v8 = resolve(Observed({"output0": (1, 84, 8400)}), hints, RECORDS)
    assert v8.family == "yolov8" and v8.plan.decoder == "yolov8" and v8.input_size_source == SizeSource.FIXED
    assert "output0[1, 84, 8400]" in v8.reasons[0] and "yolov8 0.85" in v8.reasons[0]
    named = resolve(Observed(), dataclasses.replace(hints, named=("yolox", "metadata key 'family'")), RECORDS)
    assert named.family == "yolox" and named.reasons == ("family 'yolox' from metadata key 'family'",)
    # shape-free engine (NCNN): the resolver asks for the shapes at each family's input size
    dynamic = ResolveHints("m.param", ModelMeta())
    asked = resolve(Observed(None), dynamic, RECORDS)
    assert asked.family is None and set(asked.needs_shapes) == {(640, 640), (416, 416), (224, 224)}
    # a tie (YOLOv6 decoded vs YOLOX raw grid, same shape): it asks for one blank inference per family
    tie = resolve(Observed({"output": (1, 3549, 85)}), dataclasses.replace(hints, fixed_hw=(416, 416)), RECORDS)
    assert tie.family is None and {f for f, _ in tie.needs_values} == {"yolov6", "yolox"}
    grid = np.zeros((1, 3549, 85), np.float32)  # raw grid values: offsets near 0, contradicting decoded centres
    values = {(f, hw): {"output": grid} for f, hw in tie.needs_values}
    settled = resolve(
        Observed({"output": (1, 3549, 85)}, values=values), dataclasses.replace(hints, fixed_hw=(416, 416)), RECORDS
    )
    assert settled.family == "yolox" and "settled by one blank inference" in settled.reasons[-1]


def test_no_probe_models():
    """The family is resolved from data: nothing in lite.cv builds a model with __new__ to probe it."""
    from pathlib import Path

    import lite.cv

    for path in Path(lite.cv.__file__).parent.glob("*.py"):
        assert "__new__(" not in path.read_text(encoding="utf-8"), path.name


#: Every model file of ../shared/models/foreign and the family it is.
FOREIGN = {
    "yolov8/yolov8n_int8.onnx": "yolov8",
    "yolov8/yolov8n_fp32_from_int8.onnx": "yolov8",
    "yolov5/yolov5n_int8_640.onnx": "yolov5",
    "yolox/yolox_nano_416.onnx": "yolox",
    "yolox/yolox_nano_416_ov_int8_mixed.xml": "yolox",
    "yolov5_lite/v5lite-s.param": "yolov5",
    "nanodet_plus/nanodet-plus-m_416.param": "nanodet",
    "nanodet/nanodet-m.param": "nanodet",
}


def test_every_foreign_file_still_resolves_to_its_family(shared):
    """With YOLOv7 and RT-DETR registered, each existing family is still found on its own files, with no argument."""
    import warnings

    from lite import backends

    folder = shared / "models" / "foreign"
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.suffix in (".onnx", ".param", ".xml")}
    assert files == set(FOREIGN)
    for rel, fam in FOREIGN.items():
        if backends.backend_for_path(rel) not in backends.available():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the NCNN files' assumed anchors / input size
            det = Detector.from_file(folder / rel, threads=1)
        assert det.family == fam, (rel, det.family_reasons)
        det.close()


def test_knob_range_is_enforced_before_any_engine(tmp_path):
    from lite.cv.records import Knob

    reg_max = next(k for k in RECORDS["nanodet"].knobs if k.name == "reg_max")
    assert reg_max.range == (1, None)
    missing = tmp_path / "absent.onnx"  # never opened: the range is checked first
    for bad in (0, -3, 2.5, True, "7"):
        with pytest.raises(InputError, match=r"reg_max: expected an int >= 1 \(family 'nanodet'"):
            NanoDet(missing, reg_max=bad)
        with pytest.raises(InputError, match=r"reg_max: expected an int >= 1"):
            Detector.from_file(missing, reg_max=bad)
    reg_max.check(1, "nanodet")  # the lowest allowed value passes
    reg_max.check(None, "nanodet")  # not given
    ratio = Knob("ratio", "float in [0, 1]", "a fraction", range=(0.0, 1.0))
    with pytest.raises(InputError, match=r"ratio: expected a number >= 0 and <= 1 .*got 1.5"):
        ratio.check(1.5, "x")
    ratio.check(0.5, "x")
