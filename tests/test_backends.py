"""Backend registry, spec checks and the ONNX Runtime adapter."""

from __future__ import annotations

import numpy as np
import pytest

from lite import backends
from lite.backends.base import Backend, TensorSpec
from lite.core.errors import BackendNotInstalledError, DeviceError, InputError, UnknownBackendError


def test_known_and_available():
    assert {"ort", "ncnn", "mnn", "trt"} <= set(backends.known())
    assert set(backends.available()) <= set(backends.known())
    assert "ort" in backends.available()


def test_unknown_backend_lists_known_ones(tmp_path):
    f = tmp_path / "m.onnx"
    f.write_bytes(b"x")
    with pytest.raises(UnknownBackendError) as info:
        backends.create(f, "openvino-nope")
    for name in ("ort", "ncnn", "mnn", "trt"):
        assert name in str(info.value)
    assert isinstance(info.value, ValueError)


def test_suffix_resolution():
    assert backends.backend_for_path("a/b/model.onnx") == "ort"
    assert backends.backend_for_path("model.param") == "ncnn"
    assert backends.backend_for_path("model.mnn") == "mnn"
    assert backends.backend_for_path("model.engine") == "trt"
    with pytest.raises(UnknownBackendError, match=r"\.xyz"):
        backends.backend_for_path("model.xyz")


def test_missing_engine_is_an_import_error_naming_the_extra():
    with pytest.raises(ImportError) as info:
        backends.require("surely_not_an_installed_engine", "ort")
    assert isinstance(info.value, BackendNotInstalledError)
    assert "lite-detect[ort]" in str(info.value)


class _Echo(Backend):
    """A real (tiny) adapter used to test the base class's feed checks: it returns its input."""

    def __init__(self, shape, dtype=np.float32):
        super().__init__("echo.bin")
        self._inputs = [TensorSpec("x", shape, np.dtype(dtype))]
        self._outputs = [TensorSpec("y", shape, np.dtype(dtype))]

    def _infer(self, feed):
        return {"y": feed["x"] * 2}


def test_feed_checks_expected_vs_got():
    be = _Echo((1, 3, "h", "w"))
    x = np.ones((1, 3, 4, 5), np.float32)
    np.testing.assert_array_equal(be.infer(x)["y"], 2 * x)
    np.testing.assert_array_equal(be.infer({"x": x})["y"], 2 * x)
    with pytest.raises(InputError, match=r"expected shape \(1, 3, h, w\), got \(2, 3, 4, 5\)"):
        be.infer(np.ones((2, 3, 4, 5), np.float32))
    with pytest.raises(InputError, match="expected rank 4"):
        be.infer(np.ones((3, 4, 5), np.float32))
    with pytest.raises(InputError, match="missing"):
        be.infer({"z": x})
    with pytest.raises(InputError, match="dtype float32, got int64"):
        be.infer(np.ones((1, 3, 4, 5), np.int64))
    # float64 is cast to the spec's float dtype; float16 specs get float16
    assert be.infer(x.astype(np.float64))["y"].dtype == np.float32
    half = _Echo((1, 3, 4, 5), np.float16)
    assert half.infer(x)["y"].dtype == np.float16
    assert not be.supports_batch  # batch dim fixed at 1
    assert _Echo(("batch", 3, 4, 5)).supports_batch and not _Echo((1, 3, 4, 5)).supports_batch


@pytest.fixture()
def ort_model(onnx_dir):
    pytest.importorskip("onnxruntime")
    return onnx_dir / "yolov6lite_s_320_raw.onnx"


def test_ort_specs_and_metadata(ort_model):
    be = backends.create(ort_model, threads=2)
    assert be.name == "ort"
    assert [s.name for s in be.inputs] == ["images"]
    assert be.inputs[0].shape == (1, 3, 320, 320)
    assert [s.name for s in be.outputs] == ["out0", "out1", "out2", "out3"]
    assert be.outputs[3].shape == (1, 84, 5, 5)
    out = be.infer(np.zeros((1, 3, 320, 320), np.float32))
    assert list(out) == ["out0", "out1", "out2", "out3"] and out["out1"].shape == (1, 84, 20, 20)
    assert len(be.raw_runner({"images": np.zeros((1, 3, 320, 320), np.float32)})()) == 4
    with pytest.raises(InputError, match="320"):
        be.infer(np.zeros((1, 3, 640, 640), np.float32))
    with be:
        pass


def test_ort_cuda_on_cpu_build_raises(ort_model):
    with pytest.raises(DeviceError, match="CUDAExecutionProvider"):
        backends.create(ort_model, device="cuda")
    with pytest.raises(DeviceError, match="expected a device"):
        backends.create(ort_model, device="cuda:x")
    with pytest.raises(DeviceError):
        backends.create(ort_model, device="tpu")


def test_ort_threads_and_optimisation_validated(ort_model):
    with pytest.raises(InputError, match="optimization"):
        backends.create(ort_model, optimization="max")
    with pytest.raises(InputError, match="threads"):
        backends.create(ort_model, threads=0)
