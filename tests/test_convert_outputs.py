"""Where conversions write, and that they never replace or half-write a file: the converter registry's
output rule (the same for every target, TensorRT included), the overwrite refusal, atomic output sets."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from lite.cli import main as cli_main
from lite.convert import convert, get, known, output_path
from lite.core.errors import InputError, OutputExistsError, UnknownConverterError
from lite.core.files import OutputSet, refuse_overwrite

needs_mnn = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxruntime", "MNN")),
    reason="needs onnx, onnxruntime and MNN",
)
needs_ncnn = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxruntime", "ncnn", "pnnx")),
    reason="needs onnx, onnxruntime, ncnn and pnnx",
)


def _conv_onnx(path: Path) -> Path:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32) / 27, "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [node],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


# ----------------------------------------------------------------------------------------------
# the output rule (pure; no engine, no TensorRT)
# ----------------------------------------------------------------------------------------------
def test_registry_lists_the_targets():
    assert {"ncnn", "mnn", "trt"} <= set(known())
    assert get("tensorrt").name == "trt" and get("NCNN").name == "ncnn"
    with pytest.raises(UnknownConverterError, match="known targets: .*mnn.*ncnn.*trt"):
        get("tflite")


@pytest.mark.parametrize(
    ("to", "name"), [("ncnn", "m.ncnn.param"), ("mnn", "m.mnn"), ("trt", "m.engine"), ("tensorrt", "m.engine")]
)
def test_default_output_is_the_current_directory(tmp_path, monkeypatch, to, name):
    monkeypatch.chdir(tmp_path)
    assert output_path("/models/shared/m.onnx", None, to) == tmp_path / name  # not beside the source model


@pytest.mark.parametrize(("to", "name"), [("ncnn", "m.ncnn.param"), ("mnn", "m.mnn"), ("trt", "m.engine")])
def test_a_folder_means_folder_slash_stem_suffix_for_every_target(tmp_path, to, name):
    existing = tmp_path / "engines"
    existing.mkdir()
    assert output_path("m.onnx", existing, to) == existing / name  # an existing folder
    assert output_path("m.onnx", tmp_path / "new", to) == tmp_path / "new" / name  # no suffix: a folder
    assert output_path("m.onnx", f"{tmp_path}/new.d/", to) == tmp_path / "new.d" / name  # trailing separator


def test_trt_out_dir_resolves_like_the_others(tmp_path):
    """`lite convert m.onnx --to trt --out DIR` failed with IsADirectoryError after the whole build."""
    out = tmp_path / "out"
    out.mkdir()
    assert get("trt").output_path("m.onnx", out) == out / "m.engine"
    assert get("trt").outputs(out / "m.engine") == [out / "m.engine", out / "m.engine.lite.json"]
    assert output_path("m.onnx", tmp_path / "x.plan", "trt") == tmp_path / "x.plan"


def test_file_outputs_must_have_the_targets_suffix(tmp_path):
    assert output_path("m.onnx", tmp_path / "a.param", "ncnn") == tmp_path / "a.param"
    assert get("ncnn").outputs(tmp_path / "a.param") == [
        tmp_path / "a.param",
        tmp_path / "a.bin",
        tmp_path / "a.param.lite.json",
    ]
    for to, bad in (("ncnn", "a.mnn"), ("mnn", "a.param"), ("trt", "a.onnx")):
        with pytest.raises(InputError, match=f"--to {to}"):
            output_path("m.onnx", tmp_path / bad, to)


# ----------------------------------------------------------------------------------------------
# never overwrite without --force; atomic output sets
# ----------------------------------------------------------------------------------------------
def test_refuse_overwrite_names_the_files_and_the_flag(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("user's file")
    with pytest.raises(OutputExistsError, match="--force") as e:
        refuse_overwrite([a, b], force=False)
    assert str(a) in str(e.value) and str(b) not in str(e.value)
    assert isinstance(e.value, FileExistsError)
    refuse_overwrite([a, b], force=True)


def test_output_set_moves_all_files_or_none(tmp_path):
    param, binf = tmp_path / "m.param", tmp_path / "m.bin"
    param.write_text("old param")
    with pytest.raises(KeyboardInterrupt), OutputSet() as out:
        out.stage(param).write_text("new param")
        out.stage(binf).write_text("new bin")
        raise KeyboardInterrupt  # interrupted before the set was complete
    assert param.read_text() == "old param" and not binf.exists()
    assert sorted(os.listdir(tmp_path)) == ["m.param"]  # no temporary file left behind
    with OutputSet() as out:
        out.stage(param).write_text("new param")
        out.stage(binf).write_text("new bin")
    assert (param.read_text(), binf.read_text()) == ("new param", "new bin")
    assert sorted(os.listdir(tmp_path)) == ["m.bin", "m.param"]


def test_trt_refuses_an_existing_engine_before_tensorrt_is_needed(tmp_path, onnx_dir):
    """No TensorRT here: the overwrite check must come first, with the output path resolved from a folder."""
    pytest.importorskip("onnx")
    (tmp_path / "yolov6lite_s_320_decoded.engine").write_bytes(b"an engine the user built")
    with pytest.raises(OutputExistsError, match="yolov6lite_s_320_decoded.engine"):
        convert(onnx_dir / "yolov6lite_s_320_decoded.onnx", "trt", tmp_path)
    assert (tmp_path / "yolov6lite_s_320_decoded.engine").read_bytes() == b"an engine the user built"


@needs_mnn
def test_cli_writes_to_the_current_directory_and_refuses_to_overwrite(tmp_path, monkeypatch, capsys):
    src_dir = tmp_path / "models"
    src_dir.mkdir()
    src = _conv_onnx(src_dir / "conv.onnx")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert cli_main(["convert", str(src), "--to", "mnn", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(work / "conv.mnn")
    assert sorted(os.listdir(work)) == ["conv.mnn", "conv.mnn.lite.json"]
    assert sorted(os.listdir(src_dir)) == ["conv.onnx"]  # nothing next to the source model
    before = (work / "conv.mnn").stat().st_mtime_ns
    assert cli_main(["convert", str(src), "--to", "mnn", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "not overwriting" in err and "--force" in err
    assert (work / "conv.mnn").stat().st_mtime_ns == before
    assert cli_main(["convert", str(src), "--to", "mnn", "-o", str(work), "--force", "--quiet"]) == 0
    assert sorted(os.listdir(work)) == ["conv.mnn", "conv.mnn.lite.json"]


@needs_ncnn
def test_interrupted_conversion_leaves_nothing(tmp_path, monkeypatch):
    """An interrupt after pnnx ran (during the check) leaves neither the .param, the .bin nor the sidecar."""
    import lite.convert._common as common

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(common, "verify_conversion", interrupted)
    src = _conv_onnx(tmp_path / "conv.onnx")
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        convert(src, "ncnn", out, progress=False)
    assert not out.exists() or os.listdir(out) == []
    monkeypatch.undo()
    param = convert(src, "ncnn", out, progress=False)
    assert sorted(os.listdir(out)) == ["conv.ncnn.bin", "conv.ncnn.param", "conv.ncnn.param.lite.json"]
    assert param == out / "conv.ncnn.param"


def test_cli_trt_out_dir_reaches_the_builder_as_a_file_path(tmp_path, monkeypatch, capsys):
    """No GPU here: `--to trt --out DIR` hands build_engine DIR/<stem>.engine, not the folder."""
    trt_mod = pytest.importorskip("lite.convert.trt")
    seen = []

    def fake_build_engine(onnx_path, engine_path=None, **kwargs):
        seen.append(engine_path)
        return engine_path

    monkeypatch.setattr(trt_mod, "build_engine", fake_build_engine)
    out = tmp_path / "engines"
    out.mkdir()
    assert cli_main(["convert", "models/m.onnx", "--to", "trt", "--out", str(out)]) == 0
    assert seen == [out / "m.engine"] and capsys.readouterr().out.strip() == str(out / "m.engine")
    assert cli_main(["convert", "models/m.onnx", "--to", "trt", "-o", str(tmp_path / "new") + "/"]) == 0
    assert seen[-1] == tmp_path / "new" / "m.engine"
