"""Cross-backend parity: lite.compare on real files and the ``lite compare`` command line."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lite.core.errors import InputError, VerificationError
from lite.data.detections import Detections
from lite.tools.parity import array_diff, compare, match_detections, match_outputs

REPO = Path(__file__).resolve().parents[1]
needs_engines = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("onnxruntime", "ncnn")), reason="needs onnxruntime and ncnn"
)


def _dets(rows, names=("a", "b")) -> Detections:
    arr = np.array(rows, np.float32).reshape(-1, 6)
    return Detections(arr[:, :4], arr[:, 4], arr[:, 5].astype(np.int64), names)


def test_array_diff():
    a = np.array([3.0, 4.0], np.float32)
    assert array_diff(a, a) == (0.0, 0.0)
    max_abs, rel = array_diff(a, np.array([3.0, 4.5], np.float32))
    assert max_abs == pytest.approx(0.5) and rel == pytest.approx(0.1)
    assert array_diff(np.zeros(3), np.zeros(3)) == (0.0, 0.0)
    assert array_diff(np.zeros(3), np.ones(3))[1] == float("inf")


def test_match_outputs_by_name_then_shape():
    ref = {"out0": np.zeros((1, 84, 40, 40)), "out1": np.zeros((1, 84, 20, 20)), "extra": np.zeros((2,))}
    other = {"b": np.zeros((1, 84, 20, 20)), "a": np.zeros((84, 40, 40)), "out0": np.zeros((1, 84, 5, 5))}
    assert match_outputs(ref, other) == [("out0", "a"), ("out1", "b"), ("extra", None)]
    # same names and shapes: matched by name even in another order
    swapped = {"out1": np.zeros((1, 84, 20, 20)), "out0": np.zeros((1, 84, 40, 40))}
    assert match_outputs(ref, swapped)[:2] == [("out0", "out0"), ("out1", "out1")]
    # ONNX "outputs" vs NCNN "out0": same shape, matched in order
    assert match_outputs({"outputs": np.zeros((1, 2125, 85))}, {"out0": np.zeros((1, 2125, 85))}) == [
        ("outputs", "out0")
    ]


def test_match_detections():
    ref = _dets([[0, 0, 10, 10, 0.9, 0], [20, 20, 40, 40, 0.8, 1], [50, 50, 60, 60, 0.255, 0]])
    same = _dets([[20, 20, 40, 40.1, 0.805, 1], [0, 0, 10, 10, 0.9, 0]])  # borderline 0.255 box dropped
    d = match_detections(ref, same, iou=0.99, score_tol=0.01, conf=0.25)
    assert (d.matched, d.missing, d.extra, d.ok) == (2, 0, 0, True)
    assert d.fraction == pytest.approx(2 / 3) and d.max_score_diff == pytest.approx(0.005, abs=1e-6)
    wrong_class = _dets([[0, 0, 10, 10, 0.9, 1], [20, 20, 40, 40, 0.8, 1]])
    d = match_detections(ref, wrong_class, iou=0.99)
    assert (d.matched, d.missing, d.extra, d.ok) == (1, 1, 1, False)
    moved = _dets([[0, 0, 10, 11, 0.9, 0], [20, 20, 40, 40, 0.8, 1]])  # IoU 0.909
    assert not match_detections(ref, moved, iou=0.99).ok
    assert match_detections(ref, moved, iou=0.9).ok
    rescored = _dets([[0, 0, 10, 10, 0.85, 0], [20, 20, 40, 40, 0.8, 1]])
    assert not match_detections(ref, rescored, score_tol=0.01).ok
    empty = _dets([])
    assert match_detections(empty, empty).ok and match_detections(empty, empty).fraction == 1.0


@needs_engines
def test_compare_onnx_with_official_ncnn_and_decoded_onnx(onnx_dir, ncnn_dir, bus_path):
    report = compare(
        [
            onnx_dir / "yolov6lite_s_320_raw.onnx",
            ncnn_dir / "yolov6-lite-s.param",
            onnx_dir / "yolov6lite_s_320_decoded.onnx",
        ],
        bus_path,
        threads=1,
    )
    assert report.ok, report.table()
    assert report.input_shape == (1, 3, 320, 320)  # the ONNX's fixed size, used for the NCNN model too
    ref, ncnn, decoded = report.runs
    assert (ref.backend, ncnn.backend, decoded.backend) == ("ort", "ncnn", "ort")
    assert [(d.ref, d.name) for d in ncnn.outputs] == [(f"out{i}", f"out{i}") for i in range(4)]
    assert all(d.rel_l2 < 1e-4 and d.max_abs < 5e-3 for d in ncnn.outputs)
    assert ncnn.detection_diff.fraction == 1.0 and ncnn.detections == ref.detections >= 3
    assert all(d.name is None for d in decoded.outputs)  # other layout: detections only
    assert decoded.detection_diff.ok
    table = report.table()
    assert "yolov6-lite-s.param" in table and "PASS" in table
    report.raise_for_failure()
    tight = compare(
        [onnx_dir / "yolov6lite_s_320_raw.onnx", ncnn_dir / "yolov6-lite-s.param"], bus_path, rtol=0, atol=0, threads=1
    )
    assert not tight.ok
    with pytest.raises(VerificationError, match="FAIL"):
        tight.raise_for_failure()


@needs_engines
def test_compare_one_file_on_several_backends(onnx_dir, images_dir):
    report = compare(onnx_dir / "yolov6lite_s_320_raw.onnx", images_dir / "zidane.jpg", backends="ort,ort", threads=1)
    assert report.ok
    assert [r.backend for r in report.runs] == ["ort", "ort"]
    assert all(d.max_abs == 0.0 for d in report.runs[1].outputs)
    assert report.to_dict()["ok"] is True


def test_cli_defaults_are_the_api_defaults():
    import lite.cli.compare as cli
    import lite.tools.parity as api

    assert (cli.RTOL, cli.ATOL, cli.IOU, cli.SCORE_TOL) == (api.RTOL, api.ATOL, api.IOU, api.SCORE_TOL)
    assert (cli.MASK_IOU, cli.KPT_PX) == (api.MASK_IOU, api.KPT_PX)


def test_compare_argument_errors(tmp_path):
    with pytest.raises(InputError, match="at least two runs"):
        compare(tmp_path / "a.onnx", "bus.jpg")
    with pytest.raises(InputError, match="2 models but 3 backends"):
        compare([tmp_path / "a.onnx", tmp_path / "b.onnx"], "bus.jpg", backends=["ort", "ort", "ort"])


def _lite(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run(
        [sys.executable, "-m", "lite", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=180
    )


@needs_engines
def test_cli_compare_onnx_with_official_ncnn(onnx_dir, ncnn_dir, bus_path):
    onnx_model, param = str(onnx_dir / "yolov6lite_s_320_raw.onnx"), str(ncnn_dir / "yolov6-lite-s.param")
    ok = _lite("compare", onnx_model, param, "--image", str(bus_path), "--threads", "1")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    lines = ok.stdout.splitlines()
    assert "input 1x3x320x320" in lines[0]
    assert lines[1].split() == [
        "#",
        "model",
        "backend",
        "output",
        "matched",
        "shape",
        "max|diff|",
        "rel",
        "L2",
        "result",
    ]
    rows = [ln.split() for ln in lines if ln.split()[:1] and ln.split()[-1] == "ok" and "1x84x" in ln]
    assert len(rows) == 4 and {r[-4] for r in rows} == {"1x84x40x40", "1x84x20x20", "1x84x10x10", "1x84x5x5"}
    assert any("detections" in ln and "(100%" in ln for ln in lines)
    assert lines[-1].startswith("result: PASS")
    assert ok.stderr == ""

    strict = _lite(
        "compare", onnx_model, param, "--image", str(bus_path), "--tol", "0", "--atol", "0", "--threads", "1"
    )
    assert strict.returncode == 1
    assert strict.stdout.splitlines()[-1].startswith("result: FAIL") and "FAIL" in strict.stdout

    missing = _lite("compare", onnx_model, param, "--image", "/nonexistent/bus.jpg")
    assert missing.returncode == 2 and "lite compare: error:" in missing.stderr
