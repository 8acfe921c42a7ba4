"""lite.tools.bench (statistics, real runs, table, JSON, plot) and the benchmark scripts (smoke runs).

No timing is asserted: only that every stage is measured, reported and written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lite.cli.bench import pairs
from lite.core.errors import InputError
from lite.tools.bench import STAGES, BenchResult, Timing, benchmark, format_table, plot, synthetic_image, write_json

REPO = Path(__file__).resolve().parents[1]


def test_timing_statistics():
    t = Timing("x", (4.0, 1.0, 3.0, 2.0, 100.0))
    assert t.median == 3.0
    assert t.mean == pytest.approx(22.0)
    assert t.std == pytest.approx(np.std([4, 1, 3, 2, 100]))
    assert t.p90 == pytest.approx(np.percentile([1, 2, 3, 4, 100], 90))
    assert t.min == 1.0
    assert t.ips == pytest.approx(1000 / 3)
    assert set(t.to_dict()) == {"median_ms", "mean_ms", "std_ms", "p90_ms", "min_ms", "images_per_s"}


def fake_result(label: str, scale: float) -> BenchResult:
    """A result built by hand (for the table / JSON / plot code, not for measuring anything)."""
    stages = {k: Timing(k, tuple(scale * (i + 1) * np.array([1.0, 1.1, 0.9]))) for i, k in enumerate(STAGES)}
    return BenchResult(label, f"{label}.onnx", "ort", "cpu", 2, (320, 320), (1080, 810, 3), 3, 1, stages, 4)


def test_ratio_table_json_plot(tmp_path):
    a, b = fake_result("model-a", 1.0), fake_result("model-b", 2.0)
    assert a.ratio == pytest.approx(4.0 / 5.0)  # e2e is the 4th stage, raw the 5th
    table = format_table([a, b])
    for title in ("pre-process", "inference", "post-process", "end-to-end", "engine raw", "e2e / raw"):
        assert table.count(title) == 2
    assert "model-a" in table and "model-b" in table and "0.800x" in table
    data = json.loads(write_json([a, b], tmp_path / "r" / "b.json").read_text())
    assert [d["label"] for d in data] == ["model-a", "model-b"]
    assert data[1]["stages"]["infer"]["times_ms"] == pytest.approx([4.0, 4.4, 3.6])
    assert data[0]["e2e_over_raw"] == pytest.approx(0.8)
    pytest.importorskip("matplotlib")
    png = plot([a, b], tmp_path / "b.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_benchmark_real_model(onnx_dir, bus_path):
    r = benchmark(onnx_dir / "yolov6lite_s_320_decoded.onnx", image=bus_path, runs=4, warmup=1, threads=1)
    assert set(r.stages) == set(STAGES)
    assert all(len(t.times_ms) == 4 and min(t.times_ms) > 0 for t in r.stages.values())
    assert r.backend == "ort" and r.threads == 1 and r.input_hw == (320, 320)
    assert r.image_shape == (1080, 810, 3)
    assert r.num_detections >= 5  # bus.jpg: people and the bus at conf 0.25
    assert r.ratio == pytest.approx(r.stages["e2e"].median / r.stages["raw"].median)
    assert r.label == "yolov6lite_s_320_decoded.onnx [ort]"


def test_benchmark_detector_instance_and_synthetic_image(onnx_dir):
    from lite.cv import YOLOv6

    with YOLOv6(onnx_dir / "yolov6lite_s_320_raw.onnx", threads=1) as det:
        r = benchmark(det, runs=2, warmup=0, label="raw")
        assert det.detect(synthetic_image()) is not None  # not closed by benchmark()
    assert r.label == "raw" and r.image_shape == (480, 640, 3)
    img = synthetic_image()
    assert img.dtype == np.uint8 and img.std() > 5 and np.array_equal(img, synthetic_image())


def test_benchmark_rejects_bad_counts(onnx_dir):
    with pytest.raises(InputError, match="runs"):
        benchmark(onnx_dir / "yolov6lite_s_320_decoded.onnx", runs=0)
    with pytest.raises(InputError, match="warmup"):
        benchmark(onnx_dir / "yolov6lite_s_320_decoded.onnx", warmup=-1)


def test_cli_pairs():
    assert pairs(["a", "b"], None) == [("a", None), ("b", None)]
    assert pairs(["a", "b"], ["ort"]) == [("a", "ort"), ("b", "ort")]
    assert pairs(["a"], ["ort", "mnn"]) == [("a", "ort"), ("a", "mnn")]
    assert pairs(["a", "b"], ["ort", "mnn"]) == [("a", "ort"), ("b", "mnn")]
    with pytest.raises(InputError, match="paired"):
        pairs(["a", "b"], ["x", "y", "z"])


# ----------------------------------------------------------------------------------------------
# the benchmark scripts still run (a few iterations; their figures are not checked)
# ----------------------------------------------------------------------------------------------
def run_script(*args: str) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_bench_core_script_runs():
    out = run_script("benchmarks/bench_core.py", "--runs", "3", "--warmup", "1")
    assert "letterbox 1920x1080 -> 640x640 tensor" in out
    assert "decode+NMS decoded 8400x80" in out
    assert out.count("PASS") + out.count("FAIL") == 2


def test_bench_core_output_is_realistic():
    """The synthetic 640 output has a few dozen anchors above 0.25 and decodes to one box per object."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import bench_core
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    from lite.ops.decoders.yolov6 import detect_layout, postprocess, refine_layout

    out = bench_core.decoded_output(objects=12, per_object=4)
    assert out.shape == (1, 8400, 85)
    above = int((out[0, :, 5:] > 0.25).sum())
    assert 40 <= above <= 80
    outputs = {"outputs": out}
    spec = refine_layout(detect_layout({"outputs": out.shape}), outputs)
    kept = postprocess(outputs, spec, (640, 640), conf=0.25, iou=0.45)[0]
    assert 12 <= len(kept) <= 12 + (above - 48)  # each object once, plus stray background anchors


def test_bench_ort_script_runs(shared):
    out = run_script("benchmarks/bench_ort.py", "--runs", "3", "--warmup", "1", "--models", "s", "--threads", "1")
    assert "yolov6lite_s_320_decoded.onnx" in out and "yolov6lite_s_320_raw.onnx" in out
    assert "e2e/raw" in out
