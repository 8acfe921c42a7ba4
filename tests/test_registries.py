"""One registry per kind, asked instead of hard-coded lists: backend options, titles and formats; family reasons."""

from __future__ import annotations

import pytest

from lite import backends
from lite.core.errors import InputError


def test_backend_options_are_read_from_the_adapter_and_checked():
    assert {"device", "threads", "fp16", "optimization"} <= set(backends.get("ort").options)
    assert "precision" in backends.get("mnn").options and "precision" not in backends.get("ort").options
    with pytest.raises(InputError, match=r"unknown keyword argument precision: backend 'ort' options are device"):
        backends.get("ort").check_options({"precision": "int4"})


def test_titles_and_formats_come_from_the_registry():
    titles = backends.titles()
    assert titles["openvino"] == "OpenVINO" and titles["ort"] == "ONNX Runtime" and set(titles) == set(backends.known())
    assert backends.format_of("m.xml") == "OpenVINO" and backends.format_of("m.param") == "NCNN"
    assert backends.format_of("m.onnx") == "ONNX"  # several engines open it: the file format's own name
    assert backends.format_of("m.engine") == "TensorRT" and backends.format_of("m.txt") is None
    from lite.export.verify import ENGINE_NAMES

    assert titles == ENGINE_NAMES


def test_distributed_asks_the_registry_which_files_need_a_gpu():
    from lite.tools.distributed import _wants_gpu

    assert _wants_gpu(None, None, "m.engine") and _wants_gpu(None, None, "m.plan")
    assert not _wants_gpu(None, None, "m.onnx") and not _wants_gpu(None, None, "m.xml")


def test_the_family_choice_says_why(shared):
    from lite.cv import Detector

    yolox = Detector.from_file(shared / "models" / "foreign" / "yolox" / "yolox_nano_416.onnx")
    reasons = yolox.info()["family_reasons"]
    assert "output signature output[1, 3549, 85]" in reasons[0] and "tie ['yolov6', 'yolox'] settled" in reasons[1]
    v8 = Detector.from_file(shared / "models" / "foreign" / "yolov8" / "yolov8n_int8.onnx")
    assert v8.info()["family_reasons"] == [
        "family 'yolov8' from ultralytics ONNX metadata (key 'author' = 'Ultralytics')"
    ]


def test_one_registry_mechanism_refuses_a_second_owner_and_lists_known_names():
    from lite.backends import _REGISTRY as BACKENDS
    from lite.core.errors import UnknownBackendError
    from lite.core.registry import Registry
    from lite.cv.family import _FAMILIES
    from lite.ops.decoders.base import _REGISTRY as DECODERS

    assert all(isinstance(r, Registry) for r in (BACKENDS, _FAMILIES, DECODERS))
    reg = Registry("widget", owner=type)
    reg.add("a", 1)
    reg.add("a", 2)  # the same owner (int) again: a module imported twice
    with pytest.raises(InputError, match="widget 'a' is already registered by int"):
        reg.add("a", "x")
    with pytest.raises(InputError, match="unknown widget 'b'; registered widgets: a"):
        reg.lookup("b")

    class Impostor(backends.Backend):
        pass

    with pytest.raises(InputError, match="backend 'ort' is already registered by OrtBackend"):
        backends.register_backend("ort", suffixes=(".onnx",), requires=(), extra="ort")(Impostor)
    assert backends.get("ort").cls.__name__ == "OrtBackend"
    with pytest.raises(UnknownBackendError, match="known backends: mnn, ncnn, openvino, ort, trt"):
        backends.get("nope")


def test_converters_use_the_same_registry():
    from lite.convert import _registry
    from lite.core.registry import Registry

    assert isinstance(_registry._REGISTRY, Registry)
    assert "mnn" in _registry.known() and _registry.get("mnn").name == "mnn"  # imports (registers) it
    with pytest.raises(InputError, match="converter 'mnn' is already registered by"):
        _registry.register_converter("mnn", suffixes=(".mnn",))(lambda onnx: onnx)


def test_converter_options_are_declared_by_their_registration():
    from lite.convert import ConverterOption, declared_options, register_converter

    opts = declared_options()
    assert opts["int8"][1] == ("trt",) and opts["int8"][0].flag == "--int8"
    assert opts["tf32"][0].flag == "--no-tf32" and opts["tf32"][0].value(True) is False
    assert opts["workspace_gb"][0].flag == "--workspace" and opts["workspace_gb"][0].value("2") == 2.0
    assert opts["input_shape"][1] == ("ncnn",) and opts["input_shape"][0].value("1,3,64,64") == (1, 3, 64, 64)
    with pytest.raises(InputError, match="--batch: expected 3 positive comma-separated integers"):
        opts["batch"][0].value("1,2")
    with pytest.raises(ValueError, match=r"options \['nope'\] are not parameters of f"):

        @register_converter("never", suffixes=(".never",), options=(ConverterOption("nope", "on", "x"),))
        def f(onnx, out=None, fp16=False):
            return out

    with pytest.raises(ValueError, match="type must be one of"):
        ConverterOption("x", "bool", "x")
