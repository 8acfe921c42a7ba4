"""The ``lite`` command line, run as ``python -m lite`` in a subprocess on real files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
BUS_REGION = (20.0, 230.0, 800.0, 760.0)  # the bus in bus.jpg (810x1080), x1 y1 x2 y2


def lite(*args: object, cwd: Path | None = None, ok: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -m lite ARGS``; by default assert it exits 0 (the output is in the message otherwise)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run(
        [sys.executable, "-m", "lite", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
    if ok:
        assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def xyxy(rec: dict) -> tuple[float, float, float, float]:
    x, y, w, h = rec["bbox"]
    return x, y, x + w, y + h


@pytest.fixture(scope="module")
def s_decoded(onnx_dir) -> Path:
    return onnx_dir / "yolov6lite_s_320_decoded.onnx"


def test_help_lists_the_commands():
    out = lite("--help").stdout
    for cmd in ("detect", "eval", "bench", "info"):
        assert cmd in out
    assert "--save" in lite("detect", "--help").stdout


# ----------------------------------------------------------------------------------------------
# detect
# ----------------------------------------------------------------------------------------------
def test_detect_bus_image(s_decoded, bus_path, tmp_path):
    out = tmp_path / "out"
    proc = lite("detect", bus_path, "--model", s_decoded, "--save", out, "--json", out / "dets.json", "--threads", 1)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("bus.jpg:"))
    assert re.match(r"bus\.jpg: \d+ detections \(.*\d+ person.*\) in [\d.]+ ms", line), line
    assert "1 bus" in line

    annotated = cv2.imread(str(out / "bus_detections.jpg"))
    original = cv2.imread(str(bus_path))
    assert annotated is not None and annotated.shape == original.shape
    assert np.mean(np.any(annotated != original, axis=2)) > 0.005  # boxes were drawn

    recs = json.loads((out / "dets.json").read_text())
    assert recs and {r["file_name"] for r in recs} == {"bus.jpg"}
    assert all(set(r) >= {"image_id", "category_id", "bbox", "score", "category_name"} for r in recs)
    buses = [r for r in recs if r["category_name"] == "bus"]
    assert buses and buses[0]["category_id"] == 6  # COCO's id of "bus"
    assert max(iou(xyxy(r), BUS_REGION) for r in buses) > 0.7
    assert sum(r["category_name"] == "person" for r in recs) >= 3
    assert all(r["score"] >= 0.25 for r in recs)


def test_detect_folder_of_three(s_decoded, images_dir, tmp_path):
    src = tmp_path / "imgs"
    src.mkdir()
    names = ["bus.jpg", "zidane.jpg", "image1.jpg"]
    for n in names:
        shutil.copy(images_dir / n, src / n)
    (src / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    proc = lite("detect", src, "--model", s_decoded, "--save", out, "--json", out / "d.json", "--threads", 1)
    assert "3 images:" in proc.stdout
    written = sorted(p.name for p in out.glob("*.jpg"))
    assert written == sorted(n.replace(".jpg", "_detections.jpg") for n in names)
    for n in names:
        assert cv2.imread(str(out / n.replace(".jpg", "_detections.jpg"))).shape == cv2.imread(str(src / n)).shape
    recs = json.loads((out / "d.json").read_text())
    assert {r["file_name"] for r in recs} == set(names)
    assert len({r["image_id"] for r in recs}) == 3
    # the glob form finds the same images
    proc = lite("detect", str(src / "*.jpg"), "--model", s_decoded, "--json", tmp_path / "g.json", "--no-progress")
    assert "3 images:" in proc.stdout
    assert len(json.loads((tmp_path / "g.json").read_text())) == len(recs)
    # ... and so does the list a shell makes of an unquoted glob
    files = [src / n for n in names]
    proc = lite("detect", *files, "--model", s_decoded, "--json", tmp_path / "f.json", "--no-progress")
    assert "3 images:" in proc.stdout
    assert [r["file_name"] for r in json.loads((tmp_path / "f.json").read_text())][0] == "bus.jpg"


def test_detect_video(s_decoded, bus_path, tmp_path):
    frame = cv2.resize(cv2.imread(str(bus_path)), (270, 360))
    video = tmp_path / "clip.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (270, 360))
    assert w.isOpened()
    for k in range(4):
        w.write(np.roll(frame, 4 * k, axis=1))
    w.release()
    out = tmp_path / "out"
    proc = lite("detect", video, "--model", s_decoded, "--save", out, "--json", out / "v.json", "--threads", 1)
    assert "clip.mp4: 4 frames" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == ["clip_detections.mp4", "v.json"]  # no temporary file left
    cap = cv2.VideoCapture(str(out / "clip_detections.mp4"))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    ok, first = cap.read()
    cap.release()
    assert ok and first.shape == (360, 270, 3)
    recs = json.loads((out / "v.json").read_text())
    assert {r["image_id"] for r in recs} == {0, 1, 2, 3}
    assert any(r["category_name"] == "bus" for r in recs)


def test_detect_synthetic_scene_with_demo_model(tmp_path):
    """No SOURCE: a synthetic scene through the bundled demo model."""
    from lite.core.errors import HubError
    from lite.demo.scenes import SHAPE_NAMES, make_scene
    from lite.hub import default_model

    try:
        default_model()
    except HubError as e:
        pytest.skip(f"the demo model is not in this checkout yet: {e}")
    out = tmp_path / "out"
    proc = lite("detect", "--save", out, "--json", out / "scene.json", "--seed", 0)
    assert "synthetic scene" in proc.stdout and "ground truth" in proc.stdout
    img, boxes, class_ids = make_scene(np.random.default_rng(0), size=(320, 320))
    saved = cv2.imread(str(out / "scene.jpg"))
    assert saved.shape == img.shape and np.abs(saved.astype(int) - img).mean() < 4  # the same scene (JPEG)
    assert cv2.imread(str(out / "scene_detections.jpg")).shape == img.shape
    recs = json.loads((out / "scene.json").read_text())
    assert recs, proc.stdout
    # at least one detection is a ground-truth shape: right class, IoU > 0.5
    hits = [
        r
        for r in recs
        for b, c in zip(boxes.tolist(), class_ids.tolist(), strict=True)
        if r["category_name"] == SHAPE_NAMES[c] and iou(xyxy(r), b) > 0.5
    ]
    assert hits, (recs, boxes, class_ids)


def test_detect_errors(s_decoded, tmp_path):
    proc = lite("detect", tmp_path / "missing.jpg", "--model", s_decoded, ok=False)
    assert proc.returncode == 2 and "lite detect: error:" in proc.stderr and "not found" in proc.stderr
    (tmp_path / "a.txt").write_text("x")
    proc = lite("detect", tmp_path / "a.txt", "--model", s_decoded, ok=False)
    assert proc.returncode == 2 and "expected an image" in proc.stderr


# ----------------------------------------------------------------------------------------------
# eval
# ----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_eval_reproduces_lite_s_ap(s_decoded, shared, tmp_path):
    root = shared / "coco" / "val2017_128"
    proc = lite(
        "eval", "--model", s_decoded, "--images", root / "images", "--ann", root / "instances.json",
        "--threads", 1, "--no-progress", "--predictions", tmp_path / "pred.json", "--json", tmp_path / "m.json",
    )  # fmt: skip
    assert "classes mapped by coco80" in proc.stdout
    assert "Average Precision  (AP) @[ IoU=0.50:0.95" in proc.stdout
    m = re.search(r"^AP (\d\.\d+)\s+AP50 (\d\.\d+)", proc.stdout, re.M)
    assert m, proc.stdout
    assert float(m.group(1)) == pytest.approx(0.306, abs=0.003)
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["AP"] == pytest.approx(float(m.group(1)), abs=1e-4) and metrics["num_images"] == 128
    preds = json.loads((tmp_path / "pred.json").read_text())
    assert len(preds) == metrics["num_detections"] and {"image_id", "category_id", "bbox", "score"} <= set(preds[0])


# ----------------------------------------------------------------------------------------------
# bench
# ----------------------------------------------------------------------------------------------
def test_bench_prints_every_stage(s_decoded, onnx_dir, bus_path, tmp_path):
    proc = lite(
        "bench", "--model", s_decoded, "--model", onnx_dir / "yolov6lite_s_320_raw.onnx", "--runs", 5,
        "--warmup", 1, "--threads", 1, "--image", bus_path, "--json", tmp_path / "b.json",
    )  # fmt: skip
    out = proc.stdout
    for title in ("pre-process", "inference", "post-process", "end-to-end", "engine raw", "e2e / raw"):
        assert out.count(title) == 2, title
    assert "yolov6lite_s_320_decoded.onnx [ort]" in out and "yolov6lite_s_320_raw.onnx [ort]" in out
    data = json.loads((tmp_path / "b.json").read_text())
    assert [d["backend"] for d in data] == ["ort", "ort"]
    for d in data:
        assert set(d["stages"]) == {"pre", "infer", "post", "e2e", "raw"}
        assert all(len(s["times_ms"]) == 5 and s["median_ms"] > 0 for s in d["stages"].values())
        assert d["image_shape"] == [1080, 810, 3] and d["threads"] == 1


def test_bench_rejects_mismatched_pairs(s_decoded):
    proc = lite("bench", "--model", s_decoded, "--model", s_decoded, "--backend", "ort", "--backend", "ort",
                "--backend", "ort", ok=False)  # fmt: skip
    assert proc.returncode == 2 and "paired in order" in proc.stderr


# ----------------------------------------------------------------------------------------------
# info
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("suffix", "layout", "text"),
    [
        ("decoded", "decoded", "outputs: float32[1, 2125, 85]"),
        ("raw", "raw", "out3: float32[1, 84, 5, 5]"),
        ("end2end_ort", "end2end", "det_boxes"),
    ],
)
def test_info_names_the_layout(onnx_dir, suffix, layout, text):
    model = onnx_dir / f"yolov6lite_s_320_{suffix}.onnx"
    out = lite("info", model).stdout
    assert re.search(rf"^layout\s+{layout}\b", out, re.M), out
    assert "format     ONNX" in out and "backend    ort" in out and text in out
    info = json.loads(lite("info", model, "--json").stdout)
    assert info["layout_name"] == layout
    assert info["format"] == "ONNX" and info["input_size"] == [320, 320] and info["num_classes"] == 80
    if layout != "end2end":
        assert info["strides"] == [8, 16, 32, 64]


def test_info_ncnn(ncnn_dir):
    from lite import backends

    if "ncnn" not in backends.available():
        pytest.skip("the ncnn backend is not installed (pip install 'lite-detect[ncnn]')")
    info = json.loads(lite("info", ncnn_dir / "yolov6-lite-s.param", "--input-size", 320, "--json").stdout)
    assert info["format"] == "NCNN" and info["backend"] == "ncnn"
    assert info["layout_name"] == "raw" and info["strides"] == [8, 16, 32, 64] and info["dynamic_input"]
