"""TensorRT run-time helpers, builder decisions and the import direction, without TensorRT or a GPU.

What runs here: the import-direction scan (backends never import the converters), the one
process-wide logger and one plugin registration (with a stand-in for TensorRT's ``ILogger``
base class and ``init_libnvinfer_plugins``: TensorRT cannot run here), the INT8 calibration
feed's error carrying (called as TensorRT's ``get_batch`` callback would call it), the cache
key's content hashing (calibration cache file, image contents, ONNX external data), the file
lock and locked read-merge-write across real processes, the I/O format and data-dependent
output decisions, batch splitting, and ONNX Runtime's TensorRT-EP cache namespacing.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import threading
import types
from pathlib import Path

import numpy as np
import pytest

from lite.backends import _trt_runtime as rt
from lite.backends._trt_build import (
    BuildOptions,
    CalibrationFeed,
    calibration_digest,
    calibration_key,
    engine_cache_key,
    precision_flags,
)
from lite.backends._trt_cache import file_lock, files_digest, update_file_locked
from lite.backends.base import TensorSpec
from lite.backends.trt import DynamicOutputs, batch_inputs, split_feed
from lite.core.errors import ConversionError, InputError

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------- import direction
def _imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` / ``from ... import`` in the file names (at any depth, lazy ones too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:  # relative: resolve against the package of the file
                pkg = ".".join(path.relative_to(REPO).with_suffix("").parts[: -node.level])
                names.add(f"{pkg}.{node.module}")
            else:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_backends_never_import_convert():
    offenders = {}
    for path in sorted((REPO / "lite" / "backends").rglob("*.py")):
        bad = sorted(m for m in _imported_modules(path) if m == "lite.convert" or m.startswith("lite.convert."))
        if bad:
            offenders[str(path.relative_to(REPO))] = bad
    assert offenders == {}, f"lite/backends must not import lite/convert: {offenders}"


def test_import_scan_sees_lazy_imports(tmp_path):
    """The scan itself: a lazy import inside a function is found."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from lite.convert import trt\n    import lite.convert.ncnn\n")
    assert {"lite.convert", "lite.convert.trt", "lite.convert.ncnn"} <= _imported_modules(probe)


# ----------------------------------------------------------------------------------------------- logger
class _FakeSeverity:
    INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = range(5)


def _stand_in_trt() -> types.SimpleNamespace:
    """The two TensorRT names the logger code touches: the ILogger base class and plugin registration."""

    class ILogger:
        Severity = _FakeSeverity

        def __init__(self) -> None:
            pass

    calls: list[object] = []
    return types.SimpleNamespace(
        ILogger=ILogger, init_libnvinfer_plugins=lambda logger, ns: calls.append(logger) or True, calls=calls
    )


@pytest.fixture()
def fresh_runtime(monkeypatch):
    monkeypatch.setattr(rt, "_LOGGER", None)
    monkeypatch.setattr(rt, "_PLUGINS_READY", False)


@pytest.mark.usefixtures("fresh_runtime")
def test_one_logger_per_process_and_plugins_registered_once(caplog):
    trt = _stand_in_trt()
    first = rt.init_plugins(trt)
    second = rt.init_plugins(trt)
    assert first is second is rt.get_logger(trt) is rt._LOGGER  # held by the module: never freed
    assert trt.calls == [first]  # init_libnvinfer_plugins ran once, with that logger
    results = []
    threads = [threading.Thread(target=lambda: results.append(rt.get_logger(trt))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is first for r in results)
    first.log(_FakeSeverity.ERROR, "boom")
    first.log(_FakeSeverity.INFO, "quiet")
    assert list(first.errors) == ["boom"] and rt.recent_errors(first) == "boom"
    assert "quiet" not in caplog.text
    rt.get_logger(trt, verbose=True)
    with caplog.at_level("INFO", logger="lite.trt"):
        first.log(_FakeSeverity.INFO, "now verbose")
    assert "now verbose" in caplog.text


@pytest.mark.usefixtures("fresh_runtime")
def test_logger_keeps_only_recent_errors():
    logger = rt.get_logger(_stand_in_trt())
    for i in range(250):
        logger.log(_FakeSeverity.ERROR, f"e{i}")
    assert len(logger.errors) == 100 and rt.recent_errors(logger, 2) == "e248; e249"


# ------------------------------------------------------------------------------------ calibration feed
def test_calibration_feed_keeps_the_exception_and_answers_none():
    def batches():
        yield np.zeros((2, 3, 8, 8), np.float32)
        raise OSError("cannot decode calib/broken.jpg")
        yield np.zeros((2, 3, 8, 8), np.float32)  # pragma: no cover - never reached

    uploaded = []
    feed = CalibrationFeed(batches(), lambda b: uploaded.append(b.shape) or 0xBEEF)
    assert feed.get_batch(["images"]) == [0xBEEF]  # what TensorRT's get_batch callback receives
    assert feed.get_batch(["images"]) is None  # the error: "no more batches" for TensorRT...
    assert feed.get_batch(["images"]) is None  # ...from then on
    assert feed.count == 1 and uploaded == [(2, 3, 8, 8)]
    err = feed.error
    with pytest.raises(OSError, match="broken.jpg") as ei:
        feed.raise_error()  # ...and the cause is re-raised after the build
    assert ei.value is err
    feed.raise_error()  # raised once


def test_calibration_feed_upload_error_and_guarded_callbacks():
    feed = CalibrationFeed([np.zeros((1, 3, 4, 4), np.float32)], lambda b: 1 // 0)
    assert feed.get_batch(["a", "b"]) is None
    with pytest.raises(ZeroDivisionError):
        feed.raise_error()
    ok = CalibrationFeed(iter([np.ones((1, 3, 4, 4), np.float32)]), lambda b: 7)
    assert ok.get_batch(["a", "b"]) == [7, 7] and ok.get_batch(["a", "b"]) is None
    ok.raise_error()  # plain end of data: nothing to raise
    assert ok.guard(lambda: b"cache") == b"cache"
    assert ok.guard(Path("/nonexistent/dir/x.calib").read_bytes) is None
    with pytest.raises(FileNotFoundError):
        ok.raise_error()


# -------------------------------------------------------------------------------------------- cache key
def _image_folder(path: Path, payloads: dict[str, bytes]) -> Path:
    path.mkdir(exist_ok=True)
    for name, data in payloads.items():
        (path / name).write_bytes(data)
    return path


def test_calibration_digest_hashes_contents(tmp_path):
    a = calibration_digest(_image_folder(tmp_path / "a", {"1.jpg": b"AAAA", "2.jpg": b"BBBB"}))
    b = calibration_digest(_image_folder(tmp_path / "b", {"1.jpg": b"AAAA", "2.jpg": b"BBBC"}))  # same size
    c = calibration_digest(_image_folder(tmp_path / "c", {"1.jpg": b"AAAA", "2.jpg": b"BBBB"}))
    assert a != b and a == c and len(a) == 16


def test_calibration_key_follows_the_images_else_the_cache_file(tmp_path):
    cache = tmp_path / "m.calib"
    assert calibration_key("d1", cache) == {"images": "d1"}  # no cache yet: the images decide
    cache.write_bytes(b"TRT-1001-EntropyCalibration2\nimages: 3c010a14\n")
    # with images the key stays theirs once the build wrote the cache (no second build for the same engine);
    # the cache is reused only when its key file names these images (usable_calibration_cache)
    assert calibration_key("d1", cache) == {"images": "d1"}
    first = calibration_key(None, cache)  # cache only: its contents decide
    assert set(first) == {"cache_sha256"}
    cache.write_bytes(b"TRT-1001-EntropyCalibration2\nimages: 3c010a15\n")
    assert calibration_key(None, cache) != first  # replacing the cache file changes the key


def _tiny_onnx(path: Path, weights: np.ndarray, external: bool) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, location=path.stem + ".weights",
                        size_threshold=0, all_tensors_to_one_file=True)  # fmt: skip
    else:
        onnx.save_model(model, str(path))
    return path


KEY = {"trt_version": "10.16.1", "gpu_name": "GPU", "compute_capability": (8, 6)}


def test_engine_key_hashes_external_data_and_calibration(tmp_path):
    w = np.arange(192, dtype=np.float32).reshape(1, 3, 8, 8)
    model = _tiny_onnx(tmp_path / "m.onnx", w, external=True)
    data = tmp_path / "m.weights"
    assert rt.onnx_external_data(model) == [data]
    before, _ = engine_cache_key(model, **KEY)
    onnx_bytes = model.read_bytes()
    raw = bytearray(data.read_bytes())
    raw[0] ^= 0xFF  # new weights, same size, the .onnx file untouched
    data.write_bytes(bytes(raw))
    assert model.read_bytes() == onnx_bytes
    after, _ = engine_cache_key(model, **KEY)
    assert after != before
    # TF32 and the INT8 calibration cache are part of the key
    assert engine_cache_key(model, tf32=False, **KEY)[0] != after
    cache = tmp_path / "m.calib"
    cache.write_bytes(b"v1")
    k1 = engine_cache_key(model, int8=True, calib_cache=cache, **KEY)[0]
    cache.write_bytes(b"v2")
    assert engine_cache_key(model, int8=True, calib_cache=cache, **KEY)[0] != k1
    data.unlink()
    with pytest.raises(ConversionError, match="external files that do not exist"):
        engine_cache_key(model, **KEY)


def test_inline_onnx_has_no_external_data(tmp_path):
    model = _tiny_onnx(tmp_path / "m.onnx", np.ones((1, 3, 8, 8), np.float32), external=False)
    assert rt.onnx_external_data(model) == []
    assert rt.onnx_inputs(model) == [("x", (1, 3, 8, 8))]


def test_files_digest_is_order_and_content_sensitive(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"1")
    b.write_bytes(b"2")
    assert files_digest([a, b]) != files_digest([b, a])
    d = files_digest([a, b])
    b.write_bytes(b"3")
    assert files_digest([a, b]) != d


# ------------------------------------------------------------------------------------- timing cache lock
_MERGER = """
import json, sys, time
from lite.backends._trt_cache import update_file_locked
def merge(old):
    entries = json.loads(old) if old else []
    time.sleep(0.05)  # widen the read-modify-write window
    return json.dumps(sorted(entries + [sys.argv[2]])).encode()
for _ in range(3):
    update_file_locked(sys.argv[1], merge)
"""


def test_concurrent_processes_merge_not_overwrite(tmp_path):
    target = tmp_path / "timing.cache"
    env_path = str(REPO)
    procs = [
        subprocess.Popen([sys.executable, "-c", _MERGER, str(target), f"p{i}"], env={"PYTHONPATH": env_path})
        for i in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * 4
    entries = json.loads(target.read_bytes())
    assert sorted(entries) == sorted(f"p{i}" for i in range(4) for _ in range(3))  # nobody's entries lost
    assert sorted(p.name for p in tmp_path.iterdir()) == ["timing.cache", "timing.cache.lock"]


def test_file_lock_excludes_threads_and_times_out(tmp_path):
    lock = tmp_path / "x.lock"
    with file_lock(lock):
        with pytest.raises(TimeoutError, match="could not lock"), file_lock(lock, timeout=0.2):
            pass  # pragma: no cover
        box: list[str] = []
        t = threading.Thread(target=lambda: box.append(_try(lock)))
        t.start()
        t.join()
        assert box == ["timeout"]
    assert _try(lock) == "locked"  # released


def _try(lock: Path) -> str:
    try:
        with file_lock(lock, timeout=0.1):
            return "locked"
    except TimeoutError:
        return "timeout"


def test_update_file_locked_passes_none_then_bytes(tmp_path):
    seen = []
    target = tmp_path / "c.bin"
    update_file_locked(target, lambda old: seen.append(old) or b"one")
    update_file_locked(target, lambda old: seen.append(old) or old + b"+two")
    assert seen == [None, b"one"] and target.read_bytes() == b"one+two"


# -------------------------------------------------------------------------------- load-time decisions
def test_non_linear_io_formats_are_refused():
    assert rt.io_format_problem({"images": "LINEAR", "outputs": "LINEAR"}) is None
    msg = rt.io_format_problem({"images": "CHW4", "outputs": "LINEAR", "aux": "HWC8"}, "foreign.engine")
    assert msg is not None
    assert "foreign.engine" in msg and "'images': CHW4" in msg and "'aux': HWC8" in msg and "outputs" not in msg
    assert "LINEAR" in msg and "Rebuild" in msg


def test_output_plan_finds_data_dependent_outputs():
    plan = rt.output_plan({"num_dets": (1, 1), "det_boxes": (1, -1, 4), "outputs": (4, 2125, 85)})
    assert plan == {"num_dets": "static", "det_boxes": "data-dependent", "outputs": "static"}


class _HostMemory:
    """Ordinary host memory standing in for cudaMalloc/cudaMallocHost (records sizes)."""

    def __init__(self) -> None:
        import ctypes

        self._ctypes, self.live, self.sizes = ctypes, {}, []

    def _new(self, n):
        buf = (self._ctypes.c_ubyte * n)()
        self.live[self._ctypes.addressof(buf)] = buf
        self.sizes.append(n)
        return self._ctypes.addressof(buf)

    malloc = malloc_host = _new

    def free(self, p):
        del self.live[p]

    free_host = free


def test_dynamic_outputs_allocate_on_request_and_report_shapes():
    from lite.backends._cuda import HostDeviceBuffer

    mem = _HostMemory()
    buffers: dict[str, HostDeviceBuffer] = {}
    dyn = DynamicOutputs(lambda n: buffers.setdefault(n, HostDeviceBuffer(mem, n)))
    p1 = dyn.reallocate("det_boxes", 64)
    assert p1 == buffers["det_boxes"].device_ptr and buffers["det_boxes"].capacity == 64
    assert dyn.reallocate("det_boxes", 32) == p1  # fits: reused
    p2 = dyn.reallocate("det_boxes", 4096)
    assert buffers["det_boxes"].capacity == 4096 and p2 == buffers["det_boxes"].device_ptr
    dyn.notify_shape("det_boxes", [1, 7, 4])
    assert dyn.take_shape("det_boxes") == (1, 7, 4) and dyn.take_shape("det_boxes") is None


def test_dynamic_outputs_keep_an_allocation_error():
    from lite.core.errors import CudaError

    def no_memory(name):
        raise CudaError(f"cudaMalloc for {name} failed: cudaErrorMemoryAllocation")

    dyn = DynamicOutputs(no_memory)
    assert dyn.reallocate("det_boxes", 1 << 40) == 0  # a null pointer: TensorRT fails the run...
    with pytest.raises(CudaError, match="cudaErrorMemoryAllocation"):
        dyn.raise_error()  # ...and the adapter raises the real cause
    dyn.raise_error()  # once


def test_only_inputs_with_a_batch_axis_are_split():
    specs = [
        TensorSpec("images", ("batch", 3, 320, 320), np.dtype(np.float32)),
        TensorSpec("scale", (2,), np.dtype(np.float32)),
        TensorSpec("anchors", ("anchors:0", 4), np.dtype(np.float32)),
    ]
    assert batch_inputs(specs) == ["images"]
    feed = {"images": np.zeros((11, 3, 320, 320), np.float32), "scale": np.ones(2, np.float32)}
    feed["anchors"] = np.zeros((5, 4), np.float32)
    part = split_feed(feed, ["images"], slice(8, 11))
    assert part["images"].shape == (3, 3, 320, 320)
    assert part["scale"] is feed["scale"] and part["anchors"] is feed["anchors"]  # whole, not sliced


# ------------------------------------------------------------------------------------- build arguments
def test_build_options_check_and_precision_flags(tmp_path):
    with pytest.raises(InputError, match="workspace_gb"):
        BuildOptions(workspace_gb=-1).check()
    with pytest.raises(InputError, match="calibration data"):
        BuildOptions(int8=True, calib_cache=tmp_path / "absent.calib").check()
    (tmp_path / "c.calib").write_bytes(b"x")
    BuildOptions(int8=True, calib_cache=tmp_path / "c.calib").check()  # an existing cache is enough
    with pytest.raises(InputError, match="batch"):
        BuildOptions(batch="8,4,1").check()
    assert precision_flags(False, False) == [] and precision_flags(True, True) == ["FP16", "INT8"]


def test_verify_images_argument(tmp_path):
    from lite.convert.trt import verify_images

    assert verify_images(False) is None
    (scene,) = verify_images(True)
    assert isinstance(scene, np.ndarray) and scene.shape == (480, 640, 3) and scene.dtype == np.uint8
    folder = _image_folder(tmp_path / "imgs", {f"{i}.jpg": b"x" for i in range(6)})
    assert [p.name for p in verify_images(True, folder)] == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]
    assert verify_images(folder / "5.jpg") == [folder / "5.jpg"]
    with pytest.raises(InputError, match="verify"):
        verify_images(tmp_path / "notes.txt")


def test_build_engine_checks_arguments_before_tensorrt(tmp_path):
    from lite.convert.trt import build_engine

    model = _tiny_onnx(tmp_path / "m.onnx", np.ones((1, 3, 8, 8), np.float32), external=False)
    with pytest.raises(InputError, match="verify"):
        build_engine(model, tmp_path / "m.engine", verify=tmp_path / "missing.png")
    with pytest.raises(InputError, match="workspace_gb"):
        build_engine(model, tmp_path / "m.engine", workspace_gb=0, tf32=False)
    assert not (tmp_path / "m.engine").exists()


# ---------------------------------------------------------------------------- ONNX Runtime's TRT EP cache
def test_ort_trt_ep_cache_is_namespaced_by_versions(monkeypatch, tmp_path):
    from lite.backends.ort import providers_for_device, trt_ep_cache_dir

    assert trt_ep_cache_dir(tmp_path, "1.22.0", "10.16.1.11") == tmp_path / "ort1.22.0-trt10.16.1.11"
    assert trt_ep_cache_dir(tmp_path, "1.22.0", None) == tmp_path / "ort1.22.0-trtunknown"
    monkeypatch.setenv("LITE_CACHE", str(tmp_path / "fresh" / "cache"))  # no level of it exists yet
    trt_opts = providers_for_device("trt:0")[0][1]
    folder = Path(trt_opts["trt_engine_cache_path"])
    assert folder.parent == tmp_path / "fresh" / "cache" / "ort-trt"
    import onnxruntime

    assert folder.name.startswith(f"ort{onnxruntime.__version__}-trt")
    # created with its parents: the TensorRT provider creates only the last level and falls back otherwise
    assert folder.is_dir()
    given = tmp_path / "a" / "b" / "c"
    assert providers_for_device("trt", cache_dir=str(given))[0][1]["trt_engine_cache_path"] == str(given)
    assert given.is_dir()

def test_verified_engine_is_moved_into_place_with_its_sidecar(tmp_path):
    from lite.convert.trt import _place
    from lite.data.metadata import sidecar_path

    final = tmp_path / "m.engine"
    final.write_bytes(b"old engine")
    sidecar_path(final).write_text("{}")  # the sidecar of the old engine
    staged = tmp_path / ".m.unverified.engine"
    staged.write_bytes(b"new engine")
    _place(staged, final)
    assert final.read_bytes() == b"new engine" and not staged.exists()
    assert not sidecar_path(final).exists()  # the old sidecar does not describe the new engine
    staged.write_bytes(b"newer")
    sidecar_path(staged).write_text('{"names": ["a"]}')
    _place(staged, final)
    assert sidecar_path(final).read_text() == '{"names": ["a"]}' and sorted(p.name for p in tmp_path.iterdir()) == [
        "m.engine",
        "m.engine.lite.json",
    ]
