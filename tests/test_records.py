"""Families as data: each family class takes every default from its frozen record (`lite.cv.records`)."""

from __future__ import annotations

import dataclasses

import pytest

from lite.cv import YOLOX, Detector, NanoDet, YOLOv5, YOLOv6, YOLOv8, family_names, get_family, register_family
from lite.cv.records import RECORDS, FamilyRecord
from lite.errors import InputError


@pytest.mark.parametrize("cls", [YOLOv5, YOLOv6, YOLOv8, YOLOX, NanoDet])
def test_family_class_defaults_are_its_record(cls):
    rec = RECORDS[cls.family]
    assert cls.record is rec and get_family(rec.name) is cls
    assert cls.decoders == rec.decoder_names and cls.preprocess_config == rec.preprocess
    assert cls.default_input_size == rec.input_size and cls.default_strides == rec.strides
    assert cls.default_anchors == rec.anchors and cls.input_multiple == rec.input_multiple
    assert set(rec.knob_names()) <= set(cls.knobs())
    others = {k.name for r in RECORDS.values() if r is not rec for k in r.knobs}
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
