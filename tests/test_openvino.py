"""OpenVINO adapter: correct detections on the YOLOv6Lite ONNX files (whose Gather channel shuffle OpenVINO computes
wrongly unless rewritten), the load-time parity check against ONNX Runtime, devices and precision, dynamic shapes,
the foreign ONNX models against ONNX Runtime, and ``lite convert --to openvino``.

Also the shared ONNX rewrites (lite/backends/_onnx_rewrite.py): bit-identical in ONNX Runtime, dynamic shapes kept.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from lite import backends
from lite.backends.openvino import resolve_device
from lite.core.errors import DeviceError, InputError, ModelNotFoundError, OutputExistsError, VerificationError
from lite.cv.yolov6 import YOLOv6
from lite.data.detections import Detections
from lite.ops.decoders.yolov6 import DecodeSpec, Layout, postprocess
from lite.ops.letterbox import Letterbox
from lite.tools.parity import array_diff, match_detections

HAVE = {m: importlib.util.find_spec(m) is not None for m in ("openvino", "onnx", "onnxruntime")}
needs_ov = pytest.mark.skipif(
    not all(HAVE.values()),
    reason="needs openvino, onnx and onnxruntime (pip install 'lite-detect[openvino,ort]')",
)
needs_onnx_ort = pytest.mark.skipif(not (HAVE["onnx"] and HAVE["onnxruntime"]), reason="needs onnx and onnxruntime")

REPO = Path(__file__).resolve().parents[1]
LITE = [f"yolov6lite_{s}_320_{kind}.onnx" for s in "sml" for kind in ("raw", "decoded")]


# ------------------------------------------------------------------------------------------------
# device names (no engine needed)
# ------------------------------------------------------------------------------------------------
def test_device_names_are_passed_through_and_checked():
    assert resolve_device("cpu", ["CPU"]) == "CPU"
    assert resolve_device("GPU", ["CPU", "GPU.0", "GPU.1"]) == "GPU"
    assert resolve_device("gpu.1", ["CPU", "GPU.0", "GPU.1"]) == "GPU.1"
    assert resolve_device("AUTO", ["CPU"]) == "AUTO"
    assert resolve_device("auto:gpu,cpu", ["CPU", "GPU"]) == "AUTO:GPU,CPU"
    with pytest.raises(DeviceError, match="available devices: CPU") as e:
        resolve_device("GPU", ["CPU"])
    assert "fall back" in str(e.value)
    with pytest.raises(DeviceError, match="NPU"):
        resolve_device("AUTO:NPU,CPU", ["CPU"])
    with pytest.raises(DeviceError, match="not an OpenVINO device name"):
        resolve_device("cuda:0", ["CPU"])
    with pytest.raises(DeviceError, match="device list"):
        resolve_device("HETERO", ["CPU"])


# ------------------------------------------------------------------------------------------------
# the shared ONNX rewrites
# ------------------------------------------------------------------------------------------------
def _shuffle_model(path: Path, dynamic: bool = True) -> Path:
    """Conv → Gather channel shuffle (2 groups of 4) → Conv, with dynamic N, H, W when asked."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    perm = np.arange(8).reshape(2, 4).T.ravel().astype(np.int64)
    inits = [
        numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w0"),
        numpy_helper.from_array(perm, "perm"),
        numpy_helper.from_array(rng.standard_normal((5, 8, 1, 1)).astype(np.float32), "w1"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], name="conv0", pads=[1, 1, 1, 1]),
        helper.make_node("Gather", ["a", "perm"], ["s"], name="shuffle", axis=1),
        helper.make_node("Conv", ["s", "w1"], ["y"], name="conv1"),
    ]
    dims_in = ["n", 3, "h", "w"] if dynamic else [1, 3, 16, 24]
    dims_out = ["n", 5, "h", "w"] if dynamic else [1, 5, 16, 24]
    graph = helper.make_graph(
        nodes,
        "shuffle",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims_in)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, dims_out)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    model.metadata_props.add(key="input_size", value="[16, 24]")
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@needs_onnx_ort
def test_dynamic_shuffle_rewrite_is_exact_at_any_shape(tmp_path):
    """The dynamic form (Reshape [0, g, C/g, -1] → Transpose → Reshape to Shape(x)) is bit-identical in ONNX Runtime
    at shapes other than the one it was inferred with, and keeps the graph's open dimensions."""
    import onnx
    import onnxruntime as ort

    from lite.backends._onnx_rewrite import rewrite_channel_selects, rewrite_channel_shuffles

    model = onnx.load(str(_shuffle_model(tmp_path / "s.onnx")))
    new, names = rewrite_channel_shuffles(model, (1, 3, 16, 24), dynamic=True)
    assert names == ["shuffle"]
    assert [n.op_type for n in new.graph.node] == ["Conv", "Shape", "Reshape", "Transpose", "Reshape", "Conv"]
    assert "perm" not in {t.name for t in new.graph.initializer}  # the index list nothing reads is dropped
    assert [n.op_type for n in model.graph.node] == ["Conv", "Gather", "Conv"]  # the input is not modified
    assert rewrite_channel_selects(new, (1, 3, 16, 24)) == (new, [])  # nothing left to rewrite
    before = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    after = ort.InferenceSession(new.SerializeToString(), providers=["CPUExecutionProvider"])
    for shape in [(1, 3, 16, 24), (2, 3, 8, 40), (3, 3, 5, 7)]:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        np.testing.assert_array_equal(before.run(None, {"x": x})[0], after.run(None, {"x": x})[0])


@needs_onnx_ort
def test_rewrite_leaves_lite_s_exact_in_ort(onnx_dir):
    """The shipped Lite-S: 10 shuffles rewritten; ONNX Runtime's outputs do not change at all (static or dynamic
    form)."""
    import onnx
    import onnxruntime as ort

    from lite.backends._onnx_rewrite import rewrite_channel_shuffles

    model = onnx.load(str(onnx_dir / "yolov6lite_s_320_raw.onnx"))
    x = np.random.default_rng(0).random((1, 3, 320, 320), dtype=np.float32)
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"images": x})
    for dynamic in (False, True):
        new, names = rewrite_channel_shuffles(model, (1, 3, 320, 320), dynamic=dynamic)
        assert len(names) == 10 and not any(n.op_type == "Gather" for n in new.graph.node)
        got = ort.InferenceSession(new.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"images": x})
        for a, b in zip(ref, got, strict=True):
            np.testing.assert_array_equal(a, b)


@needs_onnx_ort
@pytest.mark.parametrize(
    ("alpha", "beta", "ops"), [(1 / 6, 0.5, ["Add", "Clip", "Div"]), (0.2, 0.4, ["Mul", "Add", "Clip"])]
)
def test_hard_sigmoid_rewrite_is_the_same_function(tmp_path, alpha, beta, ops):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from lite.backends._onnx_rewrite import rewrite_hard_sigmoids

    nodes = [
        helper.make_node("HardSigmoid", ["x"], ["h"], name="hsig", alpha=alpha, beta=beta),
        helper.make_node("Mul", ["x", "h"], ["y"], name="hswish"),
    ]
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4, 8, 8]) for n in ("x", "y")]
    model = helper.make_model(
        helper.make_graph(nodes, "h", vi[:1], vi[1:]), opset_imports=[helper.make_opsetid("", 13)]
    )
    model.ir_version = 8
    new, names = rewrite_hard_sigmoids(model)
    assert names == ["hsig"] and [n.op_type for n in new.graph.node] == [*ops, "Mul"]
    onnx.checker.check_model(new)
    x = np.linspace(-8, 8, 256, dtype=np.float32).reshape(1, 4, 8, 8)  # both saturated ends and the ramp
    run = [ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
           for m in (model, new)]  # fmt: skip
    np.testing.assert_allclose(run[1], run[0], rtol=1e-6, atol=1e-6)
    assert rewrite_hard_sigmoids(new) == (new, [])


@needs_ov
def test_hard_sigmoid_rewrite_removes_the_slow_kernel(onnx_dir):
    """OpenVINO runs ONNX HardSigmoid as a reference kernel with layout conversions around it; rewritten, it is fused
    (no HardSigmoid left in the compiled graph, and almost no Reorder nodes)."""
    path = onnx_dir / "yolov6lite_s_320_raw.onnx"

    def layer_types(be):
        rts = [op.get_rt_info() for op in be.compiled.get_runtime_model().get_ops()]
        return [rt["layerType"].astype(str) for rt in rts]

    plain = layer_types(backends.create(path, "openvino", threads=1, rewrite=False, parity_check=False))
    fused = layer_types(backends.create(path, "openvino", threads=1))
    assert plain.count("Math") >= 100 and fused.count("Math") == 0  # "Math": the HardSigmoid reference kernel
    assert fused.count("Reorder") < 20 < plain.count("Reorder")


# ------------------------------------------------------------------------------------------------
# the backend on the shipped YOLOv6Lite files
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ort_dets(onnx_dir, bus_path):
    return {name: YOLOv6(onnx_dir / name, threads=1).detect(bus_path) for name in LITE}


@needs_ov
@pytest.mark.parametrize("name", LITE)
def test_yolov6lite_detections_equal_ort(onnx_dir, bus_path, ort_dets, name):
    det = YOLOv6(onnx_dir / name, backend="openvino", threads=1)
    be = det.backend
    assert be.name == "openvino" and be.device == "CPU" and be.precision == "f32"
    assert len(be.rewritten["channel_shuffle"]) == 10  # every Gather shuffle of the file
    assert len(be.rewritten["hard_sigmoid"]) == 114
    assert be.parity and max(rel for _, _, rel in be.parity) < 1e-4  # the load-time check ran and agreed
    dets = det.detect(bus_path)
    ref = ort_dets[name]
    assert len(ref) >= 7
    diff = match_detections(ref, dets, iou=0.99, score_tol=1e-3)
    assert diff.ok and diff.matched == len(ref), diff


@needs_ov
def test_the_shuffle_trap_is_caught_when_not_rewritten(onnx_dir, bus_path, ort_dets):
    """Without the rewrite OpenVINO 2026.4 computes Lite-S wrongly. The load-time check must then refuse the model;
    if a future OpenVINO computes it right, the check must let it load."""
    path = onnx_dir / "yolov6lite_s_320_raw.onnx"
    bare = YOLOv6(path, backend="openvino", threads=1, rewrite=False, parity_check=False)
    assert bare.backend.rewritten == {} and bare.backend.parity == []
    tensor, _ = bare.preprocess(bus_path)
    ort_out = backends.create(path, "ort", threads=1).infer(tensor)
    worst = max(array_diff(ort_out[n], v)[1] for n, v in bare.infer(tensor).items())
    if worst > 1e-3:
        assert len(bare.detect(bus_path)) != len(ort_dets["yolov6lite_s_320_raw.onnx"])  # silently wrong
        with pytest.raises(VerificationError, match=r"disagrees with ONNX Runtime.*rel L2") as e:
            backends.create(path, "openvino", threads=1, rewrite=False)
        assert "out0" in str(e.value) and "backend='ort'" in str(e.value)
    else:
        assert backends.create(path, "openvino", threads=1, rewrite=False).parity


@needs_ov
def test_end2end_model(onnx_dir, bus_path):
    path = onnx_dir / "yolov6lite_s_320_end2end_ort.onnx"
    det = YOLOv6(path, backend="openvino", threads=1)
    assert [s.dtype for s in det.backend.outputs] == [np.int64, np.float32, np.float32, np.int64]
    diff = match_detections(YOLOv6(path, threads=1).detect(bus_path), det.detect(bus_path), iou=0.99, score_tol=1e-3)
    assert diff.ok and diff.n_ref >= 7, diff


@needs_ov
def test_registry_suffixes_and_lazy_import():
    assert "openvino" in backends.available()
    assert backends.backend_for_path("m.xml") == "openvino"
    assert backends.backend_for_path("m.onnx") == "ort"  # ONNX stays on ONNX Runtime unless asked
    code = "import sys, lite, lite.backends as b; b.known(); b.available(); assert 'openvino' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(REPO)})


@needs_ov
def test_options_are_checked(onnx_dir):
    path = onnx_dir / "yolov6lite_s_320_raw.onnx"
    with pytest.raises(InputError, match="precision"):
        backends.create(path, "openvino", precision="int8")
    with pytest.raises(InputError, match="threads"):
        backends.create(path, "openvino", threads=0)
    from lite.backends.openvino import import_openvino

    ov = import_openvino()

    missing = next(d for d in ("NPU", "GPU") if d not in ov.Core().available_devices)
    with pytest.raises(DeviceError, match="available devices: .*CPU"):
        backends.create(path, "openvino", device=missing)


@needs_ov
def test_bf16_is_opt_in(onnx_dir, bus_path):
    """fp32 unless asked; bf16 runs in bf16 where the CPU has it (scores move a little), else a DeviceError."""
    from lite.backends.openvino import import_openvino

    ov = import_openvino()

    path = onnx_dir / "yolov6lite_s_320_raw.onnx"
    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    if "FP16" not in caps:  # OpenVINO would run another precision (bf16 on this AMD CPU): refused, not substituted
        with pytest.raises(DeviceError, match="not the requested f16"):
            backends.create(path, "openvino", precision="f16", threads=1, parity_check=False)
    if "BF16" not in caps:
        with pytest.raises(DeviceError, match="bf16"):
            backends.create(path, "openvino", precision="bf16", threads=1)
        return
    fp32 = YOLOv6(path, backend="openvino", threads=1)
    bf16 = YOLOv6(path, backend="openvino", threads=1, precision="bf16")
    assert (fp32.backend.precision, bf16.backend.precision) == ("f32", "bf16")
    tensor, _ = fp32.preprocess(bus_path)
    a, b = fp32.infer(tensor), bf16.infer(tensor)
    rel = max(array_diff(a[n], b[n])[1] for n in a)
    assert 1e-3 < rel < 0.15  # visibly not fp32 (measured 0.04-0.08), still the same network
    assert match_detections(fp32.detect(bus_path), bf16.detect(bus_path), iou=0.9, score_tol=0.1).matched >= 7


@needs_ov
def test_dynamic_shapes_and_raw_runner(tmp_path):
    """A model with open N, H, W keeps them open, runs at several shapes (the rewrite included) and equals ONNX
    Runtime; raw_runner runs the same network."""
    path = _shuffle_model(tmp_path / "dyn.onnx")
    be = backends.create(path, "openvino", threads=1)
    assert be.rewritten == {"channel_shuffle": ["shuffle"]}
    assert be.inputs[0].shape == (None, 3, None, None) and be.supports_batch
    assert be.metadata["input_size"] == "[16, 24]"
    assert be.parity and be.parity[0][0] == "y"  # checked at the metadata input size
    ref = backends.create(path, "ort", threads=1)
    for shape in [(1, 3, 16, 24), (2, 3, 32, 8)]:
        x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        out, want = be.infer(x), ref.infer(x)
        assert out["y"].shape == want["y"].shape == (shape[0], 5, *shape[2:])
        assert array_diff(want["y"], out["y"])[1] < 1e-5
    x = np.zeros((1, 3, 16, 24), np.float32)
    raw = be.raw_runner({"x": x})()
    np.testing.assert_allclose(np.asarray(raw[0]), be.infer(x)["y"], rtol=0, atol=1e-6)

    from lite.convert.openvino import onnx_to_openvino

    ir = backends.create(onnx_to_openvino(path, tmp_path / "ir", progress=False), threads=1)  # the IR stays dynamic
    assert ir.name == "openvino" and ir.inputs[0].shape == (None, 3, None, None)
    x = np.random.default_rng(2).standard_normal((2, 3, 8, 40)).astype(np.float32)
    assert array_diff(ref.infer(x)["y"], ir.infer(x)["y"])[1] < 1e-5


@needs_ov
def test_ir_needs_its_bin(tmp_path):
    (tmp_path / "m.xml").write_text("<net/>")
    with pytest.raises(ModelNotFoundError, match=r"m\.bin"):
        backends.create(tmp_path / "m.xml")


# ------------------------------------------------------------------------------------------------
# foreign ONNX models: the backend's raw outputs against ONNX Runtime, decoded the same way
# ------------------------------------------------------------------------------------------------
def _yolox_tensor(img: np.ndarray, size: int) -> np.ndarray:
    """YOLOX preprocessing: keep the ratio, pad right and bottom with 114, BGR, 0-255."""
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    nh, nw = int(h * r), int(w * r)
    canvas = np.full((size, size, 3), 114, np.uint8)
    canvas[:nh, :nw] = cv2.resize(img, (nw, nh))
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None].astype(np.float32))


def _yolox_decoded(out: np.ndarray, size: int) -> np.ndarray:
    """YOLOX grid outputs as ``[cx, cy, w, h, obj, classes]`` in input pixels."""
    grid, stride = [], []
    for s in (8, 16, 32):
        gy, gx = np.mgrid[0 : size // s, 0 : size // s]
        grid.append(np.stack([gx.ravel(), gy.ravel()], 1))
        stride.append(np.full((gx.size, 1), s))
    g, st = np.concatenate(grid)[None], np.concatenate(stride)[None]
    out = out.copy()
    out[..., :2] = (out[..., :2] + g) * st
    out[..., 2:4] = np.exp(out[..., 2:4]) * st
    return out


# file, input size, outputs -> a decoded (B, N, C) tensor, has obj, output rel L2 bound, detection score tolerance
FOREIGN = {
    "yolov8/yolov8n_int8.onnx": (640, lambda o: o["output0"].transpose(0, 2, 1), False, 3e-2, 0.03),
    "yolov5/yolov5n_int8_640.onnx": (640, lambda o: o["output"], True, 3e-2, 0.03),
    "yolox/yolox_nano_416.onnx": (416, lambda o: _yolox_decoded(o["output"], 416), True, 1e-4, 1e-3),
}


@needs_ov
@pytest.mark.parametrize("name", list(FOREIGN))
def test_foreign_models_match_ort(shared, bus_path, name):
    """Same tensor through both engines: outputs within float noise (int8 models: within the rounding of their
    dynamically quantized activations, about 1e-2), and the same detections on bus.jpg."""
    size, to_decoded, has_obj, out_rtol, score_tol = FOREIGN[name]
    path = shared / "models" / "foreign" / name
    img = cv2.imread(str(bus_path))
    x = _yolox_tensor(img, size) if "yolox" in name else Letterbox(size)(img)[0]
    be = backends.create(path, "openvino", threads=1)
    assert "channel_shuffle" not in be.rewritten and be.parity  # no shuffle to rewrite; the load-time check ran
    ref, out = backends.create(path, "ort", threads=1).infer(x), be.infer(x)
    assert list(out) == list(ref)
    for n in ref:
        assert out[n].shape == ref[n].shape
        assert array_diff(ref[n], out[n])[1] < out_rtol, n
    spec = DecodeSpec(Layout.DECODED, ("x",), 80, has_obj=has_obj)
    dets = []
    for o in (ref, out):
        c = postprocess({"x": to_decoded(o)}, spec, (size, size), conf=0.25, iou=0.45)[0]
        dets.append(Detections(c.boxes, c.scores, c.class_ids))
    assert len(dets[0]) >= 4 and {0, 5} <= set(dets[0].class_ids.tolist())  # persons and the bus
    diff = match_detections(dets[0], dets[1], iou=0.95, score_tol=score_tol)
    assert diff.ok and diff.matched == len(dets[0]), diff


# ------------------------------------------------------------------------------------------------
# conversion to IR
# ------------------------------------------------------------------------------------------------
@needs_ov
def test_convert_to_ir(onnx_dir, bus_path, ort_dets, tmp_path):
    from lite.convert.openvino import onnx_to_openvino

    src = onnx_dir / "yolov6lite_s_320_raw.onnx"
    xml = onnx_to_openvino(src, tmp_path / "ir", progress=False)
    assert xml == tmp_path / "ir" / "yolov6lite_s_320_raw.xml" and xml.with_suffix(".bin").is_file()
    assert (tmp_path / "ir" / "yolov6lite_s_320_raw.xml.lite.json").is_file()
    assert sorted(p.name for p in (tmp_path / "ir").iterdir()) == [
        "yolov6lite_s_320_raw.bin",
        "yolov6lite_s_320_raw.xml",
        "yolov6lite_s_320_raw.xml.lite.json",
    ]  # no temporary folder left behind
    det = YOLOv6(xml, threads=1)  # .xml -> openvino; the sidecar gives the input size and names
    assert det.backend.name == "openvino" and det.input_hw == (320, 320)
    assert "Gather" not in xml.read_text()
    diff = match_detections(ort_dets["yolov6lite_s_320_raw.onnx"], det.detect(bus_path), iou=0.99, score_tol=1e-3)
    assert diff.ok, diff

    with pytest.raises(InputError, match="parity_check"):
        backends.create(xml, parity_check=True)
    before = (xml.read_bytes(), xml.with_suffix(".bin").read_bytes())
    with pytest.raises(OutputExistsError, match="force"):
        onnx_to_openvino(src, xml, progress=False, fp16=True)
    assert (xml.read_bytes(), xml.with_suffix(".bin").read_bytes()) == before  # untouched
    onnx_to_openvino(src, xml, progress=False, fp16=True, force=True)
    assert xml.with_suffix(".bin").stat().st_size < 0.6 * len(before[1])  # FP16 weights: about half
    half = YOLOv6(xml, threads=1).detect(bus_path)
    assert match_detections(ort_dets["yolov6lite_s_320_raw.onnx"], half, iou=0.95, score_tol=0.01).ok


@needs_ov
def test_cli_convert_and_compare(onnx_dir, bus_path, tmp_path):
    src = onnx_dir / "yolov6lite_s_320_decoded.onnx"
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def lite(*args: object) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "lite", *map(str, args)]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)

    proc = lite("convert", src, "--to", "openvino", "--out", tmp_path, "--quiet")
    assert proc.returncode == 0, proc.stderr
    xml = Path(proc.stdout.strip())
    assert xml == tmp_path / "yolov6lite_s_320_decoded.xml" and xml.is_file()
    again = lite("convert", src, "--to", "openvino", "--out", tmp_path, "--quiet")
    assert again.returncode != 0 and "--force" in again.stderr
    assert lite("convert", src, "--to", "openvino", "--out", tmp_path, "--quiet", "--force").returncode == 0
    proc = lite("compare", src, xml, "--image", bus_path, "--threads", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "openvino" in proc.stdout
    proc = lite("compare", src, "--backends", "ort,openvino", "--image", bus_path, "--threads", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_ov
def test_bench_times_the_openvino_floor(onnx_dir, bus_path):
    from lite.tools.bench import benchmark

    r = benchmark(onnx_dir / "yolov6lite_s_320_raw.onnx", backend="openvino", image=bus_path, runs=3, warmup=1,
                  threads=1)  # fmt: skip
    assert r.num_detections == 9 and "[openvino]" in r.label
    assert all(r.stages[k].median > 0 for k in ("raw", "infer", "e2e"))  # timed; no claim about speed here


@needs_ov
def test_openvino_is_imported_without_telemetry(onnx_dir, tmp_path):
    """A bare ``import openvino`` sends a usage event and writes ~/intel/openvino_ga_cid; lite's import does not."""
    code = (
        "import sys; from lite import backends; "
        f"backends.create({str(onnx_dir / 'yolov6lite_s_320_raw.onnx')!r}, 'openvino', threads=1, parity_check=False); "
        "import openvino.tools.ovc.telemetry_utils as t, openvino.tools.ovc.convert_impl as c; "
        "print(t.tm.__name__, c.tm.__name__, 'openvino_telemetry' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    stub = "openvino.tools.ovc.telemetry_stub"
    assert out.split() == [stub, stub, "False"], out
    assert not (tmp_path / "intel").exists()


# ------------------------------------------------------------------------------------------------
# fused preprocessing: the PrePostProcessor model takes the uint8 canvas
# ------------------------------------------------------------------------------------------------
FUSED_CASES = {
    # file, family, fused by default (up to 320x320 inputs: measured faster there, slower at 416 and 640)
    "yolov6lite_s_320": ("yolov6lite/onnx/yolov6lite_s_320_raw.onnx", "YOLOv6", True),  # RGB, /255
    "yolox_nano_416": ("foreign/yolox/yolox_nano_416.onnx", "YOLOX", False),  # BGR, 0-255
}


@needs_ov
@pytest.mark.parametrize("name", list(FUSED_CASES))
def test_fused_detections_equal_unfused(shared, bus_path, name):
    import lite.cv as cv

    rel, family, by_default = FUSED_CASES[name]
    cls = getattr(cv, family)
    fused = cls(shared / "models" / rel, backend="openvino", threads=1, fuse_preprocess=True)
    plain = cls(shared / "models" / rel, backend="openvino", threads=1, fuse_preprocess=False)
    assert fused.fused and fused.backend.fused_config == cls.preprocess_config
    assert not plain.fused and plain.backend.fused_config is None
    assert cls(shared / "models" / rel, backend="openvino", threads=1).fused is by_default
    ref, got = plain.detect(bus_path), fused.detect(bus_path)
    assert len(ref) >= 4 and len(got) == len(ref)
    np.testing.assert_array_equal(got.class_ids, ref.class_ids)
    np.testing.assert_allclose(got.xyxy, ref.xyxy, rtol=0, atol=1e-3)
    np.testing.assert_allclose(got.scores, ref.scores, rtol=0, atol=1e-4)
    x = plain.preprocess(bus_path)[0]
    assert x.dtype == np.float32
    for n, want in plain.backend.infer(x).items():  # the fused backend's float path still runs the plain model
        np.testing.assert_array_equal(fused.backend.infer(x)[n], want)


@needs_ov
@pytest.mark.parametrize("legacy", [False, True], ids=["bgr-0-255", "rgb-mean-std"])
def test_infer_canvas_equals_infer_of_the_normalised_tensor(shared, bus_path, legacy):
    from lite.cv.yolox import YOLOX_LEGACY_PREPROCESS, YOLOX_PREPROCESS
    from lite.ops.preprocess import normalize

    config = YOLOX_LEGACY_PREPROCESS if legacy else YOLOX_PREPROCESS
    be = backends.create(shared / "models" / "foreign" / "yolox" / "yolox_nano_416.onnx", "openvino", threads=1)
    with pytest.raises(InputError, match="fuse_preprocess"):
        be.infer_canvas(np.zeros((1, 416, 416, 3), np.uint8))
    assert be.fuse_preprocess(config) and be.fused_config == config
    assert be.fuse_preprocess(config)  # the same config again: still fused
    assert not be.fuse_preprocess(YOLOX_PREPROCESS if legacy else YOLOX_LEGACY_PREPROCESS)  # one config per backend
    canvas, _ = Letterbox(416, config=config).canvas(cv2.imread(str(bus_path)))
    canvas = canvas[None].copy()
    got, want = be.infer_canvas(canvas), be.infer(normalize(canvas, config))
    assert list(got) == list(want) == ["output"]
    assert got["output"].shape == want["output"].shape == (1, 3549, 85)
    max_abs, rel = array_diff(want["output"], got["output"])
    assert rel < 1e-5 and max_abs < 1e-3, (max_abs, rel)
    raw = be.raw_runner({"images": canvas})()  # the floor of a canvas feed runs the fused model
    np.testing.assert_allclose(np.asarray(raw[0]), got["output"], rtol=0, atol=1e-6)
    with pytest.raises(InputError, match=r"\(N, H, W, 3\)"):
        be.infer_canvas(np.zeros((1, 320, 320, 3), np.uint8))  # the model is 416x416
    with pytest.raises(InputError, match="uint8"):
        be.infer_canvas(canvas.astype(np.float32))


@needs_ov
def test_fused_dynamic_model_takes_canvases_of_any_shape(tmp_path):
    from lite.ops.preprocess import PreprocessConfig, normalize

    be = backends.create(_shuffle_model(tmp_path / "dyn.onnx"), "openvino", threads=1)
    config = PreprocessConfig(color="rgb", scale=1 / 255, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    assert be.fuse_preprocess(config)
    rng = np.random.default_rng(3)
    for shape in [(1, 16, 24, 3), (2, 32, 8, 3)]:
        canvas = rng.integers(0, 256, size=shape, dtype=np.uint8)
        got, want = be.infer_canvas(canvas)["y"], be.infer(normalize(canvas, config))["y"]
        assert got.shape == want.shape == (shape[0], 5, *shape[1:3])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)  # outputs up to ~30
