"""lite's TensorRT code driven on the CPU through a fake ``tensorrt`` written to TensorRT 10's bindings.

`tests/fake_trt.py` fakes TensorRT 10 and cuda-python's runtime (signatures of the bindings; an attribute or a
call TensorRT 10 does not have fails here). The engine it "builds" runs the ONNX model with ONNX Runtime on the
bytes at the tensor addresses, so these tests check lite's calls, buffers, shapes, output order, calibration
feed and caches, not TensorRT's numerics (that is scripts/gpu_check.sh, on a GPU).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import fake_trt
import numpy as np
import pytest

from lite.core.errors import ConversionError, CudaError, InputError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402


@pytest.fixture
def fake():
    with fake_trt.install() as cuda:
        yield cuda


@pytest.fixture
def fake2():
    with fake_trt.install(devices=2) as cuda:
        yield cuda


def _save(graph, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def scale_onnx(path: Path, dynamic: bool = True) -> Path:
    """``y = 2 * images`` with a dynamic batch and H/W (or fixed 1x3x8x8)."""
    shape = ["batch", 3, "height", "width"] if dynamic else [1, 3, 8, 8]
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["images", "two"], ["y"])],
        "scale",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
        [two],
    )
    return _save(graph, path)


def nonzero_onnx(path: Path) -> Path:
    """A data-dependent output first (``NonZero``), then a static one: TensorRT's output order must be kept."""
    half = helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])
    graph = helper.make_graph(
        [
            helper.make_node("Greater", ["x", "half"], ["mask"]),
            helper.make_node("NonZero", ["mask"], ["where"]),
            helper.make_node("Neg", ["x"], ["neg"]),
        ],
        "dds",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [
            helper.make_tensor_value_info("where", TensorProto.INT64, [4, "count"]),
            helper.make_tensor_value_info("neg", TensorProto.FLOAT, [1, 3, 4, 4]),
        ],
        [half],
    )
    return _save(graph, path)


def image_folder(path: Path, n: int = 4, seed: int = 0) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        cv2.imwrite(str(path / f"{i}.png"), rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    return path


def yolov6_pre():
    from lite.ops.preprocess import PreprocessConfig

    return PreprocessConfig()  # RGB, /255


def yolox_pre():
    from lite.ops.preprocess import PreprocessConfig

    return PreprocessConfig(color="bgr", scale=1.0, pad_align="topleft")  # BGR 0-255


# ------------------------------------------------------------------------------------------ the fake itself
def test_the_fake_refuses_what_tensorrt_10_does_not_have(fake):
    import tensorrt as trt

    from lite.backends._trt_runtime import get_logger

    logger = get_logger(trt)
    builder = trt.Builder(logger)
    config = builder.create_builder_config()
    with pytest.raises(AttributeError):
        builder.build_engine  # noqa: B018 (removed in TensorRT 10)
    with pytest.raises(AttributeError):
        config.max_workspace_size = 1 << 30  # removed in TensorRT 10
    with pytest.raises(AttributeError):
        trt.Runtime(logger).deserialize_cuda_engine(b"").get_binding_shape  # noqa: B018
    with pytest.raises(TypeError):
        config.set_timing_cache(config.create_timing_cache(b""))  # ignore_mismatch is required
    with pytest.raises(TypeError):
        builder.create_network(0).get_input()  # index is required


# ------------------------------------------------------------------------------------------ build and run
def test_build_and_run_with_dynamic_batch_matches_onnxruntime(fake, tmp_path):
    from lite.backends._trt_build import BuildOptions, build_engine_file
    from lite.backends.trt import TrtBackend

    model = scale_onnx(tmp_path / "m.onnx")
    engine = build_engine_file(model, tmp_path / "m.engine", BuildOptions(batch=(1, 2, 4), input_hw=(8, 8), tf32=False))
    blob = fake_trt.STATE.builds[-1]
    assert blob["profiles"]["images"] == [[1, 3, 8, 8], [2, 3, 8, 8], [4, 3, 8, 8]]
    assert "TF32" not in blob["flags"]  # tf32=False cleared the flag that is on by default
    be = TrtBackend(engine)
    x = np.random.default_rng(0).random((6, 3, 8, 8), dtype=np.float32)  # > max batch 4: split in chunks
    out = be.infer(x)
    np.testing.assert_array_equal(out["y"], 2 * x)
    assert fake_trt.STATE.executions == 2
    with pytest.raises(InputError, match="optimisation profile"):
        be.infer(np.zeros((1, 3, 16, 16), np.float32))
    be.close()
    assert not fake.device_memory and not fake.host_memory and not fake.streams  # everything freed


def test_data_dependent_outputs_keep_the_engine_order(fake, tmp_path):
    from lite.backends.trt import TrtBackend

    model = nonzero_onnx(tmp_path / "dds.onnx")
    be = TrtBackend(model, cache_dir=tmp_path / "cache")
    assert [s.name for s in be.outputs] == ["where", "neg"]
    x = np.random.default_rng(1).random((1, 3, 4, 4), dtype=np.float32)
    out = be.infer(x)
    want = ort.InferenceSession(str(model)).run(None, {"x": x})
    assert list(out) == ["where", "neg"]  # the base class's order: not static outputs first
    np.testing.assert_array_equal(out["where"], want[0])
    np.testing.assert_array_equal(out["neg"], want[1])
    be.close()


def test_onnx_is_built_once_and_cached(fake, tmp_path):
    from lite.backends.trt import TrtBackend

    model = scale_onnx(tmp_path / "m.onnx")
    first = TrtBackend(model, cache_dir=tmp_path / "cache", batch=1, input_hw=(8, 8))
    second = TrtBackend(model, cache_dir=tmp_path / "cache", batch=1, input_hw=(8, 8))
    assert first.built and not second.built and len(fake_trt.STATE.builds) == 1
    timing = list((tmp_path / "cache").glob("timing-*.cache"))
    assert len(timing) == 1 and timing[0].read_bytes().startswith(b"FAKETC")
    first.close()
    second.close()


# ------------------------------------------------------------------------------------------ INT8 calibration
def _int8(tmp_path, images, pre, **kw):
    from lite.backends._trt_build import BuildOptions, build_engine_file

    tmp_path.mkdir(parents=True, exist_ok=True)
    model = kw.pop("model", None) or scale_onnx(tmp_path / "m.onnx", dynamic=False)
    opts = BuildOptions(int8=True, calib_images=images, preprocess=pre, calib_cache=tmp_path / "m.calib", **kw)
    build_engine_file(model, tmp_path / "m.engine", opts)
    return fake_trt.STATE.builds[-1]["calibration"]


def test_calibration_is_fed_through_the_models_preprocessing(fake, tmp_path):
    images = image_folder(tmp_path / "calib")
    v6 = _int8(tmp_path / "a", images, yolov6_pre())
    yolox = _int8(tmp_path / "b", images, yolox_pre())
    assert v6["batches"] == 4 and yolox["batches"] == 4
    assert v6["amax"] <= 1.0 < 200 < yolox["amax"] <= 255  # YOLOX sees 0-255, YOLOv6 [0, 1]
    with pytest.raises(InputError, match="preprocess"):
        _int8(tmp_path / "c", images, None)


def test_calibration_cache_is_keyed_reused_and_recomputed(fake, tmp_path):
    from lite.backends._trt_build import calibration_key_path

    images = image_folder(tmp_path / "calib")
    first = _int8(tmp_path, images, yolov6_pre())
    cache = tmp_path / "m.calib"
    key = json.loads(calibration_key_path(cache).read_text())
    assert not first["from_cache"] and cache.read_bytes().startswith(b"TRT-") and key["images"]
    assert _int8(tmp_path, images, yolov6_pre())["from_cache"]  # same model, images, preprocessing
    assert not _int8(tmp_path, images, yolox_pre())["from_cache"]  # another preprocessing: calibrated again
    other = image_folder(tmp_path / "other", seed=5)
    assert not _int8(tmp_path, other, yolox_pre())["from_cache"]  # another image set
    # cache only (no images): a cache made for another model is refused
    from lite.backends._trt_build import BuildOptions, build_engine_file

    other_model = scale_onnx(tmp_path / "other.onnx", dynamic=True)
    with pytest.raises(ConversionError, match="another model"):
        build_engine_file(other_model, tmp_path / "o.engine",
                          BuildOptions(int8=True, calib_cache=cache, batch=1, input_hw=(8, 8)))  # fmt: skip


def test_a_cache_without_its_key_file(fake, tmp_path, caplog):
    """A cache lite did not key (made elsewhere, or a key never written): recalibrated when images are given,
    used with a warning when it is all there is."""
    from lite.backends._trt_build import BuildOptions, build_engine_file, calibration_key_path

    images = image_folder(tmp_path / "calib")
    _int8(tmp_path, images, yolov6_pre())
    cache = tmp_path / "m.calib"
    calibration_key_path(cache).unlink()
    assert not _int8(tmp_path, images, yolov6_pre())["from_cache"]  # images given: not trusted, recomputed
    assert calibration_key_path(cache).is_file()
    calibration_key_path(cache).unlink()
    with caplog.at_level(logging.WARNING, logger="lite.trt"):
        build_engine_file(tmp_path / "m.onnx", tmp_path / "c.engine", BuildOptions(int8=True, calib_cache=cache))
    assert fake_trt.STATE.builds[-1]["calibration"]["from_cache"] and "no key file" in caplog.text


def test_failed_calibration_leaves_no_cache_and_reraises(fake, tmp_path, monkeypatch):
    from lite.backends import _trt_build

    images = image_folder(tmp_path / "calib")
    calls = {"n": 0}
    real = _trt_build.CalibrationBatches.__iter__

    def flaky(self):
        for batch in real(self):
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError("disk went away")
            yield batch

    monkeypatch.setattr(_trt_build.CalibrationBatches, "__iter__", flaky)
    with pytest.raises(OSError, match="disk went away"):
        _int8(tmp_path, images, yolov6_pre())
    assert not (tmp_path / "m.calib").exists() and not (tmp_path / "m.engine").exists()
    assert not fake.device_memory and not fake.streams  # the calibrator's buffer and stream were freed


def test_calibrator_is_freed_when_the_build_fails_early(fake, tmp_path, monkeypatch):
    from lite.backends import _trt_build

    def broken(config, timing_cache):
        raise ConversionError("timing cache exploded")

    monkeypatch.setattr(_trt_build, "_attach_timing_cache", broken)
    with pytest.raises(ConversionError, match="exploded"):
        _int8(tmp_path, image_folder(tmp_path / "calib"), yolov6_pre())
    assert not fake.device_memory and not fake.host_memory and not fake.streams


def test_int8_onnx_through_the_backend_is_not_rebuilt(fake, tmp_path):
    """The engine cache key does not change once the first build has written the calibration cache."""
    from lite.backends.trt import TrtBackend

    model = scale_onnx(tmp_path / "m.onnx", dynamic=False)
    images = image_folder(tmp_path / "calib")
    kw = {"int8": True, "calib_images": images, "preprocess": yolox_pre(), "cache_dir": tmp_path / "cache",
          "calib_cache": tmp_path / "m.calib"}  # fmt: skip
    first = TrtBackend(model, **kw)
    second = TrtBackend(model, **kw)
    assert first.built and not second.built
    first.close()
    second.close()


# ------------------------------------------------------------------------------------------ timing cache
def test_timing_cache_entries_are_merged(fake, tmp_path):
    from lite.backends._trt_build import BuildOptions, build_engine_file

    timing = tmp_path / "timing.cache"
    a = scale_onnx(tmp_path / "a.onnx", dynamic=False)
    b = nonzero_onnx(tmp_path / "b.onnx")
    build_engine_file(a, tmp_path / "a.engine", BuildOptions(timing_cache=timing))
    first = json.loads(timing.read_bytes()[len(b"FAKETC\n") :])["entries"]
    build_engine_file(b, tmp_path / "b.engine", BuildOptions(timing_cache=timing))
    both = json.loads(timing.read_bytes()[len(b"FAKETC\n") :])["entries"]
    assert len(first) == 1 and len(both) == 2 and set(first) < set(both)
    timing.write_bytes(b"garbage")  # unreadable: replaced, with a warning
    build_engine_file(a, tmp_path / "a2.engine", BuildOptions(timing_cache=timing))
    assert timing.read_bytes().startswith(b"FAKETC")


def test_timing_cache_of_another_tensorrt_is_replaced(fake, tmp_path, caplog):
    from lite.backends._trt_build import BuildOptions, build_engine_file

    timing = tmp_path / "timing.cache"
    timing.write_bytes(b"FAKETC\n" + json.dumps({"trt": "10.0.1.6", "entries": ["old"]}).encode())
    with caplog.at_level(logging.WARNING, logger="lite.trt"):
        build_engine_file(scale_onnx(tmp_path / "a.onnx", dynamic=False), tmp_path / "a.engine",
                          BuildOptions(timing_cache=timing))  # fmt: skip
    blob = json.loads(timing.read_bytes()[len(b"FAKETC\n") :])
    assert blob["trt"] == fake_trt.VERSION and "old" not in blob["entries"] and "does not match" in caplog.text


# ------------------------------------------------------------------------------------------ runtime details
def test_raw_runner_checks_execute_and_sets_the_device(fake2, tmp_path):
    from lite.backends._trt_build import BuildOptions, build_engine_file
    from lite.backends.trt import TrtBackend

    engine = build_engine_file(scale_onnx(tmp_path / "m.onnx", dynamic=False), tmp_path / "m.engine", BuildOptions())
    be = TrtBackend(engine, device="cuda:1")
    run = be.raw_runner({"images": np.ones((1, 3, 8, 8), np.float32)})
    fake2.cudaSetDevice(0)  # the calling thread's current device is another one
    run()
    assert fake2.current == 1
    fake_trt.STATE.fail_execute = True
    with pytest.raises(CudaError, match="illegal memory access"):
        run()
    fake_trt.STATE.fail_execute = False
    fake2.cudaSetDevice(0)
    be.close()
    assert fake2.frees and all(dev == current == 1 for _, dev, current in fake2.frees)  # freed on cuda:1


def test_engine_of_another_tensorrt_is_a_model_load_error_with_its_own_message(fake, tmp_path):
    from lite.backends._trt_build import BuildOptions, build_engine_file
    from lite.backends.trt import TrtBackend
    from lite.core.errors import ModelLoadError

    engine = build_engine_file(scale_onnx(tmp_path / "m.onnx", dynamic=False), tmp_path / "m.engine", BuildOptions())
    blob = json.loads(engine.read_bytes())
    blob["version"] = "10.0.1.6"
    engine.write_text(json.dumps(blob))
    import tensorrt as trt

    from lite.backends._trt_runtime import get_logger

    get_logger(trt).log(trt.ILogger.Severity.ERROR, "an unrelated earlier failure")
    with pytest.raises(ModelLoadError, match="expecting library version") as ei:
        TrtBackend(engine)
    assert "unrelated" not in str(ei.value)  # only what this deserialization logged
    assert not fake.streams and not fake.device_memory


def test_recent_errors_are_those_of_the_failing_call(fake, tmp_path):
    import tensorrt as trt

    from lite.backends._trt_runtime import error_mark, get_logger, recent_errors

    logger = get_logger(trt)
    logger.log(trt.ILogger.Severity.ERROR, "an old failure of another engine")
    mark = error_mark(logger)
    assert recent_errors(logger, since=mark) == ""
    logger.log(trt.ILogger.Severity.ERROR, "this one")
    assert recent_errors(logger, since=mark) == "this one"
    assert "old failure" in recent_errors(logger)


def test_cuda_python_runtime_error_without_a_driver_is_a_cuda_error(fake):
    from lite.backends._cuda import CudaRuntime

    fake.raise_runtime_error = True  # cuda-python 12.0-12.5 without libcuda
    with pytest.raises(CudaError, match="driver"):
        CudaRuntime().device_count()


def test_requires_the_real_cuda_runtime_module(fake, monkeypatch):  # monkeypatch undone first
    import sys
    import types

    from lite.backends import _module_exists, get

    info = get("trt")
    assert info.installed  # the fake tensorrt and cuda.bindings.runtime
    # cuda-pathfinder alone: a bare `cuda` namespace without the runtime bindings
    monkeypatch.delitem(sys.modules, "cuda.bindings.runtime")
    monkeypatch.delitem(sys.modules, "cuda.bindings")
    bare = types.ModuleType("cuda")
    bare.__path__ = []
    bare.__spec__ = __import__("importlib").machinery.ModuleSpec("cuda", None, is_package=True)
    monkeypatch.setitem(sys.modules, "cuda", bare)
    assert _module_exists("cuda") and not _module_exists("cuda.bindings.runtime|cuda.cudart")
    assert not info.installed


def test_missing_tensorrt_error_names_nvidias_index(monkeypatch):
    import sys

    from lite.backends._trt_runtime import import_tensorrt
    from lite.core.errors import BackendNotInstalledError

    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(BackendNotInstalledError, match="pypi.nvidia.com"):
        import_tensorrt()


def test_efficientnms_engine_is_built_and_verification_skipped(fake, tmp_path, caplog):
    """ONNX Runtime has no EfficientNMS_TRT: the conversion warns that it did not verify, and succeeds."""
    from lite.convert.trt import build_engine

    box = helper.make_tensor_value_info
    graph = helper.make_graph(
        [helper.make_node("EfficientNMS_TRT", ["boxes", "scores"], ["num", "det_boxes", "det_scores", "det_classes"],
                          domain="TRT", name="nms", score_threshold=0.25, iou_threshold=0.45, max_output_boxes=10,
                          background_class=-1, score_activation=0, box_coding=0, plugin_version="1")],
        "e2e",
        [box("boxes", TensorProto.FLOAT, [1, 20, 4]), box("scores", TensorProto.FLOAT, [1, 20, 3])],
        [box("num", TensorProto.INT32, [1, 1]), box("det_boxes", TensorProto.FLOAT, [1, 10, 4]),
         box("det_scores", TensorProto.FLOAT, [1, 10]), box("det_classes", TensorProto.INT32, [1, 10])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("TRT", 1)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "e2e.onnx"))
    with caplog.at_level(logging.WARNING, logger="lite.convert.trt"):
        out = build_engine(tmp_path / "e2e.onnx", tmp_path / "e2e.engine")
    assert out.is_file() and fake_trt.STATE.builds[-1]["plugins"] == ["EfficientNMS_TRT"]
    assert "EfficientNMS_TRT" in caplog.text and "NOT verified" in caplog.text


# ------------------------------------------------------------------------------------------ lite convert --to trt
def test_convert_int8_needs_the_family_and_verifies_on_detections(fake, shared, tmp_path):
    from lite.convert.trt import build_engine

    onnx_s = shared / "models" / "yolov6lite" / "onnx" / "yolov6lite_s_320_decoded.onnx"
    images = image_folder(tmp_path / "calib", n=2)
    with pytest.raises(InputError, match="family"):  # no family in this ONNX's metadata: never a YOLOv6 guess
        build_engine(onnx_s, tmp_path / "x.engine", int8=True, calib_images=images)
    out = build_engine(onnx_s, tmp_path / "s8.engine", int8=True, calib_images=images, family="yolov6",
                       verify=shared / "images" / "bus.jpg")  # fmt: skip
    assert out.is_file() and fake_trt.STATE.builds[-1]["calibration"]["amax"] <= 1.0
    assert (tmp_path / "s8.calib").is_file() and (tmp_path / "s8.calib.key.json").is_file()
    assert fake_trt.STATE.executions >= 1  # the engine ran in verification


def test_convert_int8_takes_the_family_from_the_onnx_metadata(fake, tmp_path):
    from lite.convert.trt import build_engine

    model = scale_onnx(tmp_path / "m.onnx", dynamic=False)
    m = onnx.load(str(model))
    helper.set_model_props(m, {"family": "yolox"})
    onnx.save(m, str(model))
    build_engine(model, tmp_path / "m.engine", int8=True, calib_images=image_folder(tmp_path / "calib"), verify=False)
    assert fake_trt.STATE.builds[-1]["calibration"]["amax"] > 200  # YOLOX's BGR 0-255, from the metadata


def test_convert_cli_device_and_no_tf32(fake2, shared, tmp_path, capsys):
    from lite.cli import main

    onnx_s = shared / "models" / "yolov6lite" / "onnx" / "yolov6lite_s_320_decoded.onnx"
    code = main(["convert", str(onnx_s), "--to", "trt", "--no-tf32", "--device", "cuda:1", "--no-verify",
                 "-o", str(tmp_path / "s.engine")])  # fmt: skip
    assert code == 0 and (tmp_path / "s.engine").is_file()
    assert "TF32" not in fake_trt.STATE.builds[-1]["flags"] and fake2.current == 1  # built on cuda:1
    assert main(["convert", str(onnx_s), "--to", "trt", "--device", "cuda:5", "-o", str(tmp_path / "t.engine")]) != 0
    assert "only 2 CUDA device(s)" in capsys.readouterr().err and not (tmp_path / "t.engine").exists()


def _report(n_ref: int, matched: int, missing: int, extra: int, min_iou: float, score: float,
            mask: float | None = None, kpt: float | None = None):  # fmt: skip
    from types import SimpleNamespace

    from lite.tools.parity import DetectionDiff

    dd = DetectionDiff(n_ref, matched + extra, matched, missing, extra, score, min_iou, False, min_mask_iou=mask,
                       max_kpt_px=kpt)  # fmt: skip
    return SimpleNamespace(runs=[SimpleNamespace(detection_diff=None, top_k_diff=None),
                                 SimpleNamespace(detection_diff=dd, top_k_diff=None)])  # fmt: skip


def test_int8_is_judged_on_the_detections_that_matter():
    from lite.convert.trt import VERIFY_TOLERANCES, int8_detections_agree

    assert VERIFY_TOLERANCES["int8"]["atol"] >= 1e30  # raw anchors are not judged
    assert int8_detections_agree(_report(20, 20, 0, 0, 0.8, 0.1))
    assert int8_detections_agree(_report(20, 19, 1, 1, 0.8, 0.1))  # 2 of 20 unmatched: within 10%
    assert not int8_detections_agree(_report(20, 17, 3, 0, 0.8, 0.1))
    assert not int8_detections_agree(_report(20, 20, 0, 0, 0.6, 0.1))  # a matched box moved too far
    assert not int8_detections_agree(_report(20, 20, 0, 0, 0.8, 0.3))  # a score changed too much
    assert int8_detections_agree(_report(3, 2, 1, 0, 0.9, 0.0))  # one is always allowed
    assert int8_detections_agree(_report(5, 5, 0, 0, 0.9, 0.0, mask=0.8, kpt=4.0))
    assert not int8_detections_agree(_report(5, 5, 0, 0, 0.9, 0.0, mask=0.5))  # a matched mask changed shape
    assert not int8_detections_agree(_report(5, 5, 0, 0, 0.9, 0.0, kpt=20.0))  # a keypoint moved too far


def test_int8_classifier_is_judged_on_its_class_probabilities():
    from types import SimpleNamespace

    from lite.convert.trt import VERIFY_TOLERANCES, int8_detections_agree
    from lite.tools.parity import diff_top_k

    tol = VERIFY_TOLERANCES["int8"]["score_tol"]
    ref = np.array([0.6, 0.3, 0.1])

    def report(probs):
        tk = diff_top_k(ref, np.array(probs), k=2, score_tol=tol)
        return SimpleNamespace(runs=[SimpleNamespace(detection_diff=None, top_k_diff=None),
                                     SimpleNamespace(detection_diff=None, top_k_diff=tk)])  # fmt: skip

    assert int8_detections_agree(report([0.55, 0.35, 0.1]))
    assert not int8_detections_agree(report([0.3, 0.6, 0.1]))  # another class on top, by 0.3


def test_the_fake_is_gone_after_each_test():
    """Ordering guard: no fake module leaks into the rest of the suite."""
    import sys

    names = ("tensorrt", "cuda", "cuda.bindings", "cuda.bindings.runtime")
    assert not [n for n in names if getattr(sys.modules.get(n), "__fake__", False)]


def test_a_family_calibrates_int8_through_its_own_preprocessing(fake, shared, tmp_path):
    """``YOLOX(onnx, backend="trt", int8=True, calib_images=...)``: the calibration feed is YOLOX's (BGR 0-255)."""
    from lite.cv import YOLOX

    src = shared / "models" / "foreign" / "yolox" / "yolox_nano_416.onnx"
    model = tmp_path / src.name
    model.symlink_to(src)
    det = YOLOX(model, backend="trt", int8=True, calib_images=image_folder(tmp_path / "calib", n=2),
                calib_cache=tmp_path / "m.calib", cache_dir=tmp_path / "cache")  # fmt: skip
    calibration = fake_trt.STATE.builds[-1]["calibration"]
    assert calibration["batches"] == 2 and 200 < calibration["amax"] <= 255, calibration
    det.close()
