"""lite.tools.parity, the one comparator, and the utilities lite keeps once (sha256, atomic writes, progress, ONNX
reader)."""

from __future__ import annotations

import hashlib
import importlib.util
import math
import sys

import numpy as np
import pytest

from lite.core.errors import VerificationError
from lite.tools.parity import Boxes, Comparison, OutputDiff, diff_outputs, match_detections


def test_one_output_diff_and_one_comparison_class():
    import lite.export
    import lite.export.report

    assert lite.export.OutputDiff is OutputDiff and lite.export.report.OutputDiff is OutputDiff
    assert lite.export.Comparison is Comparison


def test_diff_outputs_verdicts_elementwise_and_by_norm():
    ref = {"a": np.array([1.0, 2.0, 3.0, 4.0], np.float32)}
    got = {"a": np.array([1.0, 2.0, 3.0, 4.1], np.float32)}
    (d,), notes = diff_outputs([ref], [got], rtol=0.0, atol=0.05, elementwise=True)
    assert (d.ref, d.name, d.shape, d.size, d.mismatched, d.ok) == ("a", "a", (4,), 4, 1, False)
    assert d.max_abs == pytest.approx(0.1, rel=1e-5) and d.rel_l2 == pytest.approx(0.1 / math.sqrt(30), rel=1e-5)
    (d,), _ = diff_outputs([ref], [got], rtol=0.05, atol=0.2)  # by norm: rel L2 0.018 and max 0.1 are within
    assert d.ok and d.mismatched == 0 and not notes  # 0.1 is within atol 0.2 element-wise too
    # two inputs accumulate into one diff
    (d,), _ = diff_outputs([ref, ref], [got, ref], rtol=0.0, atol=0.05, elementwise=True)
    assert d.size == 8 and d.mismatched == 1


def test_diff_outputs_pairs_reshapes_and_non_finite_values():
    ref = {"outputs": np.zeros((1, 6, 2)), "extra": np.ones((3,))}
    got = {"out0": np.zeros((1, 6, 2))}
    diffs, _ = diff_outputs([ref], [got], rtol=1e-3, atol=1e-3)
    assert [(d.ref, d.name) for d in diffs] == [("outputs", "out0"), ("extra", None)]
    assert diffs[0].ok and not diffs[1].ok and math.isnan(diffs[1].max_abs)
    (d,), notes = diff_outputs([{"y": np.ones((2, 6))}], [{"y": np.ones((12,))}], rtol=0, atol=0, pairs=[("y", "y")])
    assert d.ok and notes == ["output 'y': shape (12,) compared as (2, 6) (same elements)"]
    with pytest.raises(VerificationError, match="expected shape"):
        diff_outputs([{"y": np.ones((2, 6))}], [{"y": np.ones(5)}], rtol=0, atol=0, pairs=[("y", "y")])
    nan_ref = {"y": np.array([np.nan, 1.0])}
    (same,), _ = diff_outputs([nan_ref], [{"y": np.array([np.nan, 1.0])}], rtol=0, atol=0)
    (new_nan,), _ = diff_outputs([{"y": np.array([0.0, 1.0])}], [{"y": np.array([np.nan, 1.0])}], rtol=1, atol=1)
    assert same.ok and not new_nan.ok and new_nan.max_abs == math.inf  # a NaN the reference lacks never passes


def test_match_detections_pairs_and_any_overlap_mode():
    ref = Boxes(np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32), np.array([0.9, 0.8]), np.array([0, 1]))
    got = Boxes(np.array([[21, 21, 31, 31], [0, 0, 10, 10]], np.float32), np.array([0.795, 0.9]), np.array([1, 0]))
    strict = match_detections(ref, got)  # IoU 0.99: the shifted box does not match
    assert strict.pairs == ((0, 1),) and not strict.ok
    loose = match_detections(ref, got, iou=0.0)  # any overlap within the class (the end2end check)
    assert loose.pairs == ((0, 1), (1, 0)) and loose.ok


def test_comparison_report_uses_the_per_output_verdict():
    good = OutputDiff("a", "a", (2,), 0.0, 0.0, 1.0, 2, 0, True)
    bad = OutputDiff("b", "b", (2,), 1.0, 2.0, 1.0, 2, 2, False)
    assert Comparison("PyTorch", "ONNX Runtime", [good], 1, 1e-3, 1e-4).passed
    comp = Comparison("PyTorch", "ONNX Runtime", [good, bad], 1, 1e-3, 1e-4)
    assert not comp.passed and "2/2" in comp.details() and comp.rel_l2 == pytest.approx(1.0)


# ----------------------------------------------------------------------------------------------
# utilities, once
# ----------------------------------------------------------------------------------------------
def test_one_sha256_helper(tmp_path):
    import lite.hub
    from lite.backends import _trt_cache
    from lite.core.files import sha256_file

    p = tmp_path / "f.bin"
    p.write_bytes(b"x" * 3_000_000)
    assert sha256_file(p) == hashlib.sha256(p.read_bytes()).hexdigest()
    assert lite.hub.sha256_file is sha256_file and _trt_cache.file_sha256 is sha256_file


def test_atomic_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    import os

    from lite.core.files import atomic_write_bytes

    atomic_write_bytes(tmp_path / "a", b"one")
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(tmp_path / "a", b"two")
    assert os.listdir(tmp_path) == ["a"] and (tmp_path / "a").read_bytes() == b"one"


def test_progress_bar_without_tqdm_prints_lines_for_downloads(monkeypatch, capsys):
    from lite.core.progress import ProgressBar, Stages

    monkeypatch.setitem(sys.modules, "tqdm", None)  # `from tqdm import tqdm` fails
    bar = ProgressBar(10_000_000, "model.onnx", unit="B", fallback="lines")
    for _ in range(10):
        bar.update(1_000_000)
    bar.close()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 10 and lines[0] == "model.onnx:  10% of 10.0 MB" and lines[-1].startswith("model.onnx: 100%")
    ProgressBar(3, "detect").close()  # the image loops keep their one note
    assert capsys.readouterr().err.count("install tqdm") == 1
    stages = Stages("ncnn", 2, enabled=True)
    stages("running pnnx")
    stages.done("m.ncnn.param")
    err = capsys.readouterr().err
    assert "lite convert (ncnn) [1/2] running pnnx" in err and "lite convert (ncnn) done in" in err


@pytest.mark.skipif(importlib.util.find_spec("onnx") is None, reason="needs onnx")
def test_one_onnx_reader(tmp_path, onnx_dir):
    from lite.backends._onnx import graph_io, load_onnx, metadata_props
    from lite.convert import trt
    from lite.convert._onnx_meta import graph_io as meta_graph_io
    from lite.core.errors import ConversionError, ModelNotFoundError
    from lite.export.onnx import read_onnx_metadata

    path = onnx_dir / "yolov6lite_s_320_decoded.onnx"
    ins, outs = graph_io(load_onnx(path, weights=False))
    assert ins == [("images", (1, 3, 320, 320))] and meta_graph_io is graph_io
    assert trt.onnx_inputs(path) == ins
    assert read_onnx_metadata(path) == metadata_props(path) == trt.onnx_metadata(path)
    with pytest.raises(ModelNotFoundError):
        load_onnx(tmp_path / "none.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07 not a protobuf \xff")
    with pytest.raises(ConversionError, match="junk.onnx"):
        metadata_props(tmp_path / "junk.onnx")
