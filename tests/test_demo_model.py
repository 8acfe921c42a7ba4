"""The project's own demo model (hub/lite-demo-shapes.onnx): accurate, self-describing, same on every engine."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lite.cv import YOLOv6
from lite.demo.scenes import SHAPE_NAMES, make_scene, write_dataset
from lite.hub import default_model

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "hub" / "lite-demo-shapes.onnx"
RECORD = REPO / "hub" / "lite-demo-shapes.json"

pytest.importorskip("onnxruntime")


def test_demo_model_is_committed_small_and_self_describing():
    assert DEMO.is_file(), (
        "hub/lite-demo-shapes.onnx must be committed (examples/demo_training/train_demo_detector.py makes it)"
    )
    assert DEMO.stat().st_size <= 3 * 2**20
    assert default_model().resolve() == DEMO.resolve()
    record = json.loads(RECORD.read_text())
    assert record["sha256"] == hashlib.sha256(DEMO.read_bytes()).hexdigest()
    assert record["val"]["ap50"] >= 0.90, record
    det = YOLOv6(DEMO)
    assert det.names == SHAPE_NAMES  # class names travel in the ONNX metadata
    assert det.spec.layout.value == "decoded"


def test_demo_model_ap50_on_fresh_scenes_through_lite_eval(tmp_path):
    ann = write_dataset(tmp_path / "scenes", 50, seed=20261121)  # a seed used neither for training nor validation
    metrics = tmp_path / "metrics.json"
    cmd = [
        sys.executable,
        "-m",
        "lite",
        "eval",
        "--model",
        str(DEMO),
        "--images",
        str(ann.parent / "images"),
        "--ann",
        str(ann),
        "--json",
        str(metrics),
        "--no-progress",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    ap50 = json.loads(metrics.read_text())["AP50"]
    assert ap50 >= 0.85, out.stdout


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    pytest.importorskip("ncnn")
    pytest.importorskip("MNN")
    from lite.convert import onnx_to_mnn, onnx_to_ncnn

    out = tmp_path_factory.mktemp("demo_conv")
    return onnx_to_ncnn(DEMO, out / "demo.ncnn.param"), onnx_to_mnn(DEMO, out / "demo.mnn")


def test_demo_model_same_detections_on_ort_ncnn_mnn(converted):
    from lite.tools.parity import compare

    ncnn_param, mnn_model = converted
    rng = np.random.default_rng(4242)
    found = 0
    for _ in range(3):
        image, boxes, _ = make_scene(rng, size=(320, 320))
        report = compare([DEMO, ncnn_param, mnn_model], image, threads=1)
        assert report.ok, report.table()
        found += report.runs[0].detections
        for run in report.runs[1:]:
            assert run.detection_diff is not None and run.detection_diff.fraction == 1.0, report.table()
        # converted models open with no arguments (their sidecars carry the names)
    assert found > 0
    assert YOLOv6(ncnn_param, threads=1).names == SHAPE_NAMES
    assert YOLOv6(mnn_model, threads=1).names == SHAPE_NAMES
