"""ONNX → NCNN (pnnx) and ONNX → MNN conversions, run for real on YOLOv6Lite-S: parity with
ONNX Runtime, the metadata sidecar, unsupported ops, the channel-gather rewrite, and the CLI."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from lite.cli import main as cli_main
from lite.core.errors import ConversionError, InputError, ModelNotFoundError, VerificationError
from lite.cv.yolov6 import YOLOv6
from lite.data.metadata import read_sidecar, sidecar_path
from lite.tools.parity import array_diff, match_detections

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxruntime", "ncnn", "pnnx", "MNN")),
    reason="needs onnx, onnxruntime, ncnn, pnnx and MNN",
)

RAW_S = "yolov6lite_s_320_raw.onnx"


def _tiny(path: Path, nodes, inputs, outputs, initializers=(), opset: int = 13, props=None) -> Path:
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "tiny", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    for k, v in (props or {}).items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _vi(name: str, shape, elem=None):
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, elem or TensorProto.FLOAT, shape)


@pytest.fixture(scope="module")
def ort_s(onnx_dir):
    return YOLOv6(onnx_dir / RAW_S, threads=1)


@pytest.fixture(scope="module")
def ncnn_s(onnx_dir, tmp_path_factory) -> Path:
    from lite.convert import onnx_to_ncnn

    return onnx_to_ncnn(onnx_dir / RAW_S, tmp_path_factory.mktemp("ncnn_out"), progress=False)


@pytest.fixture(scope="module")
def mnn_s(onnx_dir, tmp_path_factory) -> Path:
    from lite.convert import onnx_to_mnn

    return onnx_to_mnn(onnx_dir / RAW_S, tmp_path_factory.mktemp("mnn_out") / "s.mnn", progress=False)


def test_ncnn_conversion_keeps_only_the_model_pair(ncnn_s):
    assert ncnn_s.name == "yolov6lite_s_320_raw.ncnn.param"
    files = sorted(p.name for p in ncnn_s.parent.iterdir())
    assert files == ["yolov6lite_s_320_raw.ncnn.bin", ncnn_s.name, "yolov6lite_s_320_raw.ncnn.param.lite.json"]
    text = ncnn_s.read_text()
    types = [line.split()[0] for line in text.splitlines()[2:]]
    assert types.count("ShuffleChannel") == 10  # the channel gathers, rewritten before pnnx
    assert "Crop" not in types and "Gather" not in types
    assert types.count("InnerProduct") == 28  # pnnx writes the SE layers as InnerProduct itself
    from lite.backends.ncnn import parse_param

    param = parse_param(text)
    assert param.input_names == ["in0"]
    assert sorted(param.output_names) == ["out0", "out1", "out2", "out3"]


def test_sidecar_carries_the_metadata(ncnn_s, mnn_s):
    for model in (ncnn_s, mnn_s):
        meta = read_sidecar(model)
        assert sidecar_path(model).is_file()
        assert meta.strides == (8, 16, 32, 64)
        assert meta.input_size == (320, 320)
        assert meta.layout == "raw"
        raw = json.loads(sidecar_path(model).read_text())
        assert (raw["family"], raw["decoder"]) == ("yolov6", "raw")  # top-level keys: the resolved ones
        assert meta.extra["source"] == RAW_S
        assert json.loads(meta.extra["output_names"]) == {f"out{i}": f"out{i}" for i in range(4)}


@pytest.mark.parametrize("which", ["ncnn", "mnn"])
def test_fp32_conversion_matches_ort(which, ncnn_s, mnn_s, ort_s, images_dir):
    model = ncnn_s if which == "ncnn" else mnn_s
    det = YOLOv6(model, threads=1)  # no arguments: the sidecar says 320, strides, layout
    assert det.input_hw == (320, 320)
    assert det.meta.strides == (8, 16, 32, 64)
    for image in ("bus.jpg", "zidane.jpg"):
        tensor, transform = ort_s.preprocess(images_dir / image)
        ref, out = ort_s.infer(tensor), det.infer(tensor)
        assert set(out) == set(ref)
        for name in ref:
            max_abs, rel = array_diff(ref[name], out[name])
            assert rel <= 1e-4, (which, image, name, rel)
        a = ort_s.postprocess(ref, [transform])[0]
        b = det.detect(images_dir / image)
        diff = match_detections(a, b, iou=0.99, score_tol=0.01)
        assert len(a) >= 3 and diff.matched == len(a) == len(b) and diff.ok, (which, image, diff)


@pytest.mark.parametrize("target", ["ncnn", "mnn"])
def test_fp16_conversion(target, onnx_dir, tmp_path, ncnn_s, mnn_s, ort_s, bus_path):
    from lite.convert import convert

    name = "s16.param" if target == "ncnn" else "s16.mnn"
    path = convert(onnx_dir / RAW_S, target, tmp_path / name, fp16=True, progress=False)  # verified: rel L2 <= 1e-2
    fp32 = ncnn_s.with_suffix(".bin") if target == "ncnn" else mnn_s
    weights = path.with_suffix(".bin") if target == "ncnn" else path
    assert weights.stat().st_size < 0.6 * fp32.stat().st_size  # FP16 weights: about half
    det = YOLOv6(path, threads=1)
    tensor, transform = ort_s.preprocess(bus_path)
    ref, out = ort_s.infer(tensor), det.infer(tensor)
    assert all(array_diff(ref[n], out[n])[1] <= 1e-2 for n in ref)  # MNN rounds fused weights: ~3e-3
    diff = match_detections(ort_s.postprocess(ref, [transform])[0], det.detect(bus_path), iou=0.99, score_tol=0.01)
    assert diff.ok, diff


def test_converted_ncnn_is_shape_free(ncnn_s, bus_path):
    """ShuffleChannel instead of fixed-shape reshapes: the model runs at other sizes."""
    det = YOLOv6(ncnn_s, threads=1, input_size=(320, 448))
    out = det.infer(det.preprocess(bus_path)[0])
    assert sorted(o.shape for o in out.values()) == sorted(
        [(1, 84, 40, 56), (1, 84, 20, 28), (1, 84, 10, 14), (1, 84, 5, 7)]
    )
    assert {"bus", "person"} <= {d.name for d in det.detect(bus_path) if d.score > 0.5}


def test_channel_gathers_are_rewritten_exactly(tmp_path):
    """A shuffle permutation becomes Reshape/Transpose/Reshape, any other selection a one-hot 1x1
    Conv; ONNX Runtime gives bit-identical results before and after, and pnnx then converts it
    right (the conversion is verified against ONNX Runtime)."""
    import onnx
    from onnx import helper, numpy_helper

    from lite.convert.ncnn import prepare_for_pnnx

    shuffle = np.arange(8).reshape(2, 4).T.ravel()  # 0 4 1 5 2 6 3 7
    pick = np.array([5, 0, 3, 3], np.int64)
    inits = [numpy_helper.from_array(shuffle.astype(np.int64), "perm"), numpy_helper.from_array(pick, "pick")]
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Gather", ["r", "perm"], ["s"], name="shuffle", axis=1),
        helper.make_node("Gather", ["s", "pick"], ["y"], name="pick", axis=1),
    ]
    path = _tiny(tmp_path / "gather.onnx", nodes, [_vi("x", [1, 8, 6, 10])], [_vi("y", [1, 4, 6, 10])], inits)
    model = onnx.load(str(path))
    prepared, names = prepare_for_pnnx(model, (1, 8, 6, 10))
    assert names == ["shuffle", "pick"]
    assert [n.op_type for n in prepared.graph.node] == ["Relu", "Reshape", "Transpose", "Reshape", "Conv"]
    import onnxruntime as ort

    x = np.random.default_rng(1).standard_normal((1, 8, 6, 10)).astype(np.float32)
    before = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    after = ort.InferenceSession(prepared.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_array_equal(before[0], after[0])

    from lite.convert import onnx_to_ncnn

    param = onnx_to_ncnn(path, tmp_path / "out" / "gather.param", progress=False)  # verified inside
    assert "ShuffleChannel" in param.read_text()


def _hardmax_model(path: Path) -> Path:
    from onnx import helper

    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu0"),
        helper.make_node("Hardmax", ["r"], ["y"], name="bad_node", axis=-1),
    ]
    return _tiny(path, nodes, [_vi("x", [1, 3, 8, 8])], [_vi("y", [1, 3, 8, 8])])


@pytest.mark.parametrize("target", ["ncnn", "mnn"])
def test_unsupported_op_is_a_conversion_error(tmp_path, target):
    from lite.convert import convert

    model = _hardmax_model(tmp_path / "hardmax.onnx")
    with pytest.raises(ConversionError, match="Hardmax") as e:
        convert(model, target, tmp_path / "out" / ("m.param" if target == "ncnn" else "m.mnn"), progress=False)
    assert "bad_node" in str(e.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # nothing half-written


def test_verification_rejects_a_wrong_model(onnx_dir, ncnn_dir):
    from lite.convert._onnx_meta import verify_conversion

    with pytest.raises(VerificationError, match="rel L2"):  # Lite-M's weights are not Lite-S's
        verify_conversion(onnx_dir / RAW_S, ncnn_dir / "yolov6-lite-m.param", "ncnn", (1, 3, 320, 320), rtol=1e-4)


def test_onnx_meta_of_the_other_layouts(onnx_dir):
    from lite.convert._onnx_meta import onnx_meta

    decoded = onnx_meta(onnx_dir / "yolov6lite_s_320_decoded.onnx")
    assert (decoded.layout, decoded.strides, decoded.input_size) == ("decoded", (8, 16, 32, 64), (320, 320))
    assert (decoded.extra["family"], decoded.extra["decoder"]) == ("yolov6", "decoded")
    e2e = onnx_meta(onnx_dir / "yolov6lite_s_320_end2end_ort.onnx")
    assert (e2e.layout, e2e.strides, e2e.input_size) == ("end2end", None, (320, 320))
    assert (e2e.extra["family"], e2e.extra["decoder"]) == ("yolov6", "end2end")


def test_metadata_props_win_over_the_graph(tmp_path):
    from onnx import helper, numpy_helper

    from lite.convert._onnx_meta import onnx_meta

    w = numpy_helper.from_array(np.zeros((7, 3, 1, 1), np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], [f"h{s}"], name=f"c{s}", strides=[s, s], kernel_shape=[1, 1])
        for s in (8, 16, 32)
    ]
    props = {"names": json.dumps(["cat", "dog", "fox"]), "author": "someone"}
    path = _tiny(
        tmp_path / "heads.onnx",
        nodes,
        [_vi("x", [1, 3, 64, 96])],
        [_vi("h8", [1, 7, 8, 12]), _vi("h16", [1, 7, 4, 6]), _vi("h32", [1, 7, 2, 3])],
        [w],
        props=props,
    )
    meta = onnx_meta(path)
    assert meta.names == ("cat", "dog", "fox")
    assert meta.layout == "raw" and meta.strides == (8, 16, 32) and meta.input_size == (64, 96)
    assert meta.extra == {"author": "someone", "family": "yolov6", "decoder": "raw", "task": "detect"}


def test_no_layout_without_a_family(tmp_path):
    from onnx import helper, numpy_helper

    from lite.convert._onnx_meta import onnx_meta

    w = numpy_helper.from_array(np.zeros((7, 3, 1, 1), np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], [f"h{s}"], name=f"c{s}", strides=[s, s], kernel_shape=[1, 1])
        for s in (8, 16)
    ]
    path = _tiny(
        tmp_path / "two.onnx",
        nodes,
        [_vi("x", [1, 3, 64, 96])],
        [_vi("h8", [1, 7, 8, 12]), _vi("h16", [1, 7, 4, 6])],
        [w],
    )
    meta = onnx_meta(path)  # two per-level heads: no family reads them, so nothing about decoding is recorded
    assert meta.input_size == (64, 96)
    assert meta.layout is None and "family" not in meta.extra and "decoder" not in meta.extra


@pytest.mark.parametrize(
    ("rel", "target", "family", "decoder"),
    [("yolov8/yolov8n_fp32_from_int8.onnx", "openvino", "yolov8", "yolov8"),
     ("yolox/yolox_nano_416.onnx", "mnn", "yolox", "yolox")],
)  # fmt: skip
def test_sidecar_records_the_resolved_family_and_decoder(shared, tmp_path, rel, target, family, decoder):
    from lite.convert import convert
    from lite.cv import Detector

    src = shared / "models" / "foreign" / rel
    if not src.is_file():
        pytest.skip(f"{src} not in the shared assets")
    if importlib.util.find_spec({"openvino": "openvino", "mnn": "MNN"}[target]) is None:
        pytest.skip(f"{target} not installed")
    out = convert(src, target, tmp_path, progress=False)
    raw = json.loads(sidecar_path(out).read_text())
    assert (raw["family"], raw["decoder"]) == (family, decoder)
    assert "layout" not in raw  # YOLOv6's layout names mean nothing for this family
    det = Detector.from_file(out, threads=1)  # no family=: the sidecar names it
    try:
        assert det.family == family and det.plan is not None and det.plan.decoder == decoder
        assert any("sidecar" in r for r in det.family_reasons)
    finally:
        det.close()


def test_cli_convert_to_mnn(tmp_path, capsys):
    from onnx import helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32) / 27, "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    path = _tiny(tmp_path / "conv.onnx", nodes, [_vi("x", [1, 3, 16, 16])], [_vi("y", [1, 4, 16, 16])], [w])
    rc = cli_main(["convert", str(path), "--to", "mnn", "--out", str(tmp_path / "o") + "/", "--quiet"])
    assert rc == 0
    out = capsys.readouterr().out.strip()
    assert out == str(tmp_path / "o" / "conv.mnn") and Path(out).is_file()


def test_cli_rejects_options_of_another_target(tmp_path, capsys):
    rc = cli_main(["convert", str(tmp_path / "m.onnx"), "--to", "ncnn", "--int8"])
    assert rc == 2
    assert "--int8 apply to --to trt only" in capsys.readouterr().err


def test_cli_trt_delegates_to_build_engine(tmp_path, monkeypatch, capsys):
    """No GPU here: check only that the CLI passes its options to lite.convert.trt.build_engine."""
    trt_mod = pytest.importorskip("lite.convert.trt")
    calls = []

    def fake_build_engine(onnx_path, engine_path=None, **kwargs):
        calls.append((onnx_path, engine_path, kwargs))
        return Path(tmp_path / "m.engine")

    monkeypatch.setattr(trt_mod, "build_engine", fake_build_engine)
    argv = ["convert", "m.onnx", "--to", "trt", "--fp16", "--int8", "--calib-images", "calib", "--batch", "1,4,8"]
    argv += ["--workspace", "2.5", "--timing-cache", "t.cache", "--out", "m.engine"]
    assert cli_main(argv) == 0
    assert calls == [
        (
            "m.onnx",
            Path("m.engine"),  # resolved by the converter registry's output rule (a file path stays as given)
            {
                "force": False,
                "fp16": True,
                "int8": True,
                "calib_images": "calib",
                "batch": (1, 4, 8),
                "workspace_gb": 2.5,
                "timing_cache": "t.cache",
            },
        )
    ]
    assert capsys.readouterr().out.strip() == str(tmp_path / "m.engine")


def test_missing_and_bad_inputs(tmp_path):
    from lite.convert import convert, onnx_to_mnn, onnx_to_ncnn

    with pytest.raises(ModelNotFoundError, match="nothere.onnx"):
        onnx_to_ncnn(tmp_path / "nothere.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07 not a protobuf \xff\xff\xff")
    with pytest.raises(ConversionError, match="junk.onnx"):
        onnx_to_mnn(junk)
    model = _hardmax_model(tmp_path / "h.onnx")
    with pytest.raises(InputError, match=r"\.mnn"):
        onnx_to_mnn(model, tmp_path / "x.txt")
    with pytest.raises(InputError, match="unknown target"):
        convert(model, "tflite")
    with pytest.raises(InputError, match="fixed"):
        onnx_to_ncnn(model, input_shape=(1, 3, 16, 16))
