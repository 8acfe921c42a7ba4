"""lite quantize / lite.convert.quantize: int8 models made, checked, measured and written safely.

The demo detector (lite's own, 320×320) is quantized on a handful of generated scenes, so these
tests need no shared assets; each engine really runs (OpenVINO + NNCF, ONNX Runtime).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lite.core.errors import InputError, LiteError, OutputExistsError, VerificationError

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("pycocotools")

from lite.convert import _quantize as q  # noqa: E402
from lite.demo import model_path  # noqa: E402
from lite.demo.scenes import write_dataset  # noqa: E402

N_IMAGES = 6


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Calibration and evaluation scenes (different seeds, different folders)."""
    root = tmp_path_factory.mktemp("scenes")
    calib = write_dataset(root / "calib", N_IMAGES, seed=11).parent / "images"
    ann = write_dataset(root / "eval", N_IMAGES, seed=12)
    return {"calib": calib, "eval": ann.parent / "images", "ann": ann, "calib_ann": calib.parent / "instances.json"}


@pytest.fixture(scope="module")
def ov_result(scenes: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> q.QuantizeResult:
    pytest.importorskip("openvino")
    pytest.importorskip("nncf")
    out = tmp_path_factory.mktemp("ov")
    return q.quantize(
        model_path(), scenes["calib"], out, to="openvino", images=N_IMAGES, eval_images=scenes["eval"],
        eval_ann=scenes["ann"], max_drop=0.05, method="accuracy_control", threads=1, calls=3,
    )  # fmt: skip


@pytest.fixture(scope="module")
def ort_cli(scenes: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """``lite quantize --to ort`` with the calibration folder also given for evaluation: (int8 file, stdout, stderr)."""
    import contextlib
    import io

    from lite.cli import main

    out = tmp_path_factory.mktemp("ort")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([
            "quantize", str(model_path()), "--calib", str(scenes["calib"]), "--to", "ort", "-o", str(out),
            "--eval", str(scenes["calib"]), str(scenes["calib_ann"]), "--max-drop", "0.05", "--threads", "1",
            "--calls", "3", "--images", str(N_IMAGES),
        ])  # fmt: skip
    assert code == 0, stderr.getvalue()
    return out / "lite-demo-shapes.int8.onnx", stdout.getvalue(), stderr.getvalue()


def _record(model: Path) -> dict:
    side = json.loads(Path(str(model) + ".lite.json").read_text())
    return side, json.loads(side["extra"]["quantization"])


# ------------------------------------------------------------------------------------------------
# the float tail read off a graph
# ------------------------------------------------------------------------------------------------
def test_tail_depths_count_weighted_layers_to_the_outputs() -> None:
    # conv1 -> conv2 -> sigmoid -> out ; conv1 -> conv3 -> mul -> concat -> out
    nodes = [
        ("conv1", True, ["conv2", "conv3"]),
        ("conv2", True, ["sigmoid"]),
        ("conv3", True, ["mul"]),
        ("sigmoid", False, ["concat"]),
        ("mul", False, ["concat"]),
        ("concat", False, []),
    ]
    assert q.tail_depths(nodes) == {"concat": 0, "mul": 0, "sigmoid": 0, "conv2": 1, "conv3": 1, "conv1": 2}
    assert q.float_tail(nodes, 0) == ["sigmoid", "mul", "concat"]
    assert q.float_tail(nodes, 1) == ["conv2", "conv3", "sigmoid", "mul", "concat"]
    assert q._max_depth(nodes) == 0  # depth 1 would leave 1 of 3 weighted layers int8 (< half)


# ------------------------------------------------------------------------------------------------
# OpenVINO (NNCF), accuracy-aware
# ------------------------------------------------------------------------------------------------
def test_openvino_int8_is_quantized_and_keeps_the_ap(ov_result: q.QuantizeResult) -> None:
    r = ov_result
    assert r.path.name == "lite-demo-shapes.int8.xml" and r.path.is_file() and r.path.with_suffix(".bin").is_file()
    assert "FakeQuantize" in r.path.read_text()  # really int8, not the fp32 graph re-saved
    assert r.fp32_ap is not None and r.int8_ap is not None and r.fp32_ap > 0.3
    assert r.fp32_ap - r.int8_ap <= 0.05  # NNCF's accuracy control kept the drop within max_drop
    assert r.method == "accuracy_control" and r.tried == {0: r.int8_ap}  # measured again through lite's detector
    assert "NNCF accuracy control" in r.summary()
    assert r.match >= q.INT8_MATCH["fraction"]
    assert r.fp32_ms > 0 and r.int8_ms > 0 and r.ort_fp32_ms > 0


def test_openvino_sidecar_records_calibration_settings_ap_and_speed(ov_result: q.QuantizeResult, scenes) -> None:
    side, rec = _record(ov_result.path)
    assert side["family"] == "yolov6" and len(side["names"]) == 6
    assert rec["calib"]["folder"] == str(scenes["calib"].resolve()) and rec["calib"]["images"] == N_IMAGES
    assert rec["target"] == "openvino" and rec["depth"] == ov_result.depth
    assert rec["fp32_ap"] == pytest.approx(ov_result.fp32_ap) and rec["int8_ap"] == pytest.approx(ov_result.int8_ap)
    assert rec["speedup"] == pytest.approx(ov_result.fp32_ms / ov_result.int8_ms, abs=1e-3)
    assert rec["threads"] == 1 and rec["notes"] == ov_result.notes


def test_openvino_int8_model_opens_and_detects(ov_result: q.QuantizeResult, scenes) -> None:
    from lite.cv import Detector

    img = sorted(scenes["eval"].iterdir())[0]
    with Detector.from_file(ov_result.path, threads=1) as det:
        dets = det.detect(str(img))
    assert type(det).__name__ == "YOLOv6" and len(dets) > 0


def test_accuracy_control_measures_the_ap_lite_eval_reports() -> None:
    import inspect

    from lite.tools.eval import coco

    defaults = {k: v.default for k, v in inspect.signature(coco).parameters.items()}
    assert {k: defaults[k] for k in q.EVAL_SETTINGS} == q.EVAL_SETTINGS


# ------------------------------------------------------------------------------------------------
# ONNX Runtime QDQ, through the command line
# ------------------------------------------------------------------------------------------------
def test_ort_qdq_cli_prints_both_speeds_and_warns_on_same_folder(ort_cli) -> None:
    import onnx

    path, out, err = ort_cli
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert "fp32" in out and "int8" in out and "x the fp32 speed on ort" in out and out.strip().endswith(str(path))
    assert "same folder" in err
    _, rec = _record(path)
    assert any("same folder" in n for n in rec["notes"])
    if not rec["pays"]:  # honest when int8 does not pay
        assert "keep the fp32 model" in out


def test_already_quantized_model_is_refused(ort_cli, scenes, tmp_path: Path) -> None:
    path, _, _ = ort_cli
    with pytest.raises(InputError, match="already quantized"):
        q.quantize(path, scenes["calib"], tmp_path, to="ort")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------
# bad input, atomic output
# ------------------------------------------------------------------------------------------------
def test_existing_output_is_kept_and_refused_before_any_work(scenes, tmp_path: Path) -> None:
    target = tmp_path / "lite-demo-shapes.int8.onnx"
    target.write_bytes(b"mine")
    with pytest.raises(OutputExistsError):
        q.quantize(model_path(), scenes["calib"], tmp_path, to="ort")
    assert target.read_bytes() == b"mine"


def test_failed_verification_leaves_no_file(scenes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(q.INT8_MATCH, "fraction", 1.01)  # no int8 model can pass: the check must fail
    with pytest.raises(VerificationError, match="matches only"):
        q.quantize(model_path(), scenes["calib"], tmp_path, to="ort", images=2, calls=1)
    assert list(tmp_path.iterdir()) == []  # nothing under the final names, no temporary files


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"to": "tflite"}, "expected one of"),
        ({"eval_images": "x"}, "give both"),
        ({"max_drop": -0.1}, "max_drop"),
        ({"images": 0}, "positive"),
        ({"method": "hawq"}, "method"),
        ({"method": "accuracy_control", "to": "ort"}, "needs evaluation images"),
        ({"method": "accuracy_control"}, "needs evaluation images"),
    ],
)
def test_bad_options_are_typed_errors(scenes, tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        q.quantize(model_path(), scenes["calib"], tmp_path, **kwargs)


def test_non_onnx_and_missing_folders(tmp_path: Path) -> None:
    weights = tmp_path / "m.param"
    weights.write_text("7767517\n")
    with pytest.raises(InputError, match=r"\.onnx"):
        q.quantize(weights, tmp_path)
    with pytest.raises(InputError, match="not a directory"):
        q.quantize(model_path(), tmp_path / "nope", tmp_path)
    with pytest.raises(LiteError):
        q.quantize(tmp_path / "missing.onnx", tmp_path)
    assert np.all([p.name in ("m.param",) for p in tmp_path.iterdir()])


@pytest.mark.parametrize(
    ("first_pass", "top", "expected_tries"),
    [(0, 9, [0]), (3, 9, [0, 1, 2, 4, 3]), (9, 9, [0, 1, 2, 4, 8, 9]), (None, 5, [0, 1, 2, 4, 5])],
)
def test_smallest_passing_depth_search(first_pass: int | None, top: int, expected_tries: list[int]) -> None:
    tried: list[int] = []

    def ap_of(k: int) -> float:
        tried.append(k)
        return 1.0 if first_pass is not None and k >= first_pass else 0.0

    assert q._smallest_passing(ap_of, 0.5, top) == first_pass
    assert tried == expected_tries


def test_quantized_path_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert q.quantized_path("a/m.onnx", None, "openvino") == tmp_path / "m.int8.xml"
    assert q.quantized_path("m.onnx", tmp_path, "ort") == tmp_path / "m.int8.onnx"
    assert q.quantized_path("m.onnx", "out/", "ort") == Path("out/m.int8.onnx")
    assert q.quantized_path("m.onnx", "x/fast.xml", "openvino") == Path("x/fast.xml")
    with pytest.raises(InputError, match=r"\.int8\.onnx file for --to ort"):
        q.quantized_path("m.onnx", "x/fast.xml", "ort")


def test_onnx_activation_products_and_unnamed_nodes_can_be_kept_float() -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    # x -> HardSigmoid (unnamed) -> Mul(x, h) (an activation product) -> Mul(., 2) (by a constant) -> Concat (unnamed)
    nodes = [
        helper.make_node("HardSigmoid", ["x"], ["h"], alpha=1 / 6, beta=0.5),
        helper.make_node("Mul", ["x", "h"], ["p"], name="hswish"),
        helper.make_node("Mul", ["p", "two"], ["q"], name="scale"),
        helper.make_node("Concat", ["q", "h"], ["y"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(np.array(2.0, np.float32), "two")],
    )  # fmt: skip
    model = helper.make_model(graph)
    assert q._onnx_products(model) == ["hswish"]
    assert q._name_nodes(model) == 2
    assert [n.name for n in model.graph.node] == ["h", "hswish", "scale", "y"]
    assert q.float_tail(q._onnx_nodes(model), 0) == ["h", "hswish", "scale", "y"]  # every name matchable
    onnx.checker.check_model(model)


@pytest.mark.parametrize(
    ("fp32_ms", "ort_ms", "pays", "says"),
    [(100.0, 100.0, True, None), (52.0, 100.0, False, "not faster here"), (100.0, 52.0, False, "on ONNX Runtime")],
)
def test_int8_pays_only_when_faster_than_both_fp32_engines(fp32_ms, ort_ms, pays, says) -> None:
    r = q.QuantizeResult(Path("m.int8.xml"), "openvino", 0, [], fp32_ms=fp32_ms, int8_ms=50.0, ort_fp32_ms=ort_ms)
    assert r.pays is pays
    if says is None:
        assert r.verdict() is None and "keep the fp32" not in r.summary()
    else:
        assert says in r.verdict() and "keep the fp32 model" in r.verdict() and r.verdict() in r.summary()
