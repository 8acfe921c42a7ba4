"""The first hour of a new user (issue 20): the top-level API, one COCO name list, stale text, progress."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_public_api_is_importable_from_the_top_level_and_import_stays_light():
    out = _python(
        "import sys, lite\n"
        "heavy = [m for m in ('numpy', 'cv2', 'lite.cv', 'lite.io', 'onnxruntime') if m in sys.modules]\n"
        "print('heavy:', heavy)\n"
        "from lite import Detector, YOLOv6, load_image, Detections, compare\n"
        "import lite.cv, lite.io\n"
        "assert Detector is lite.cv.Detector and YOLOv6 is lite.cv.YOLOv6 and load_image is lite.io.load_image\n"
        "missing = [n for n in lite.__all__ if getattr(lite, n, None) is None]\n"
        "print('missing:', missing)\n"
    )
    assert "heavy: []" in out and "missing: []" in out, out


def test_one_coco_name_list_for_every_family(shared):
    """A model whose metadata spells COCO the Ultralytics way gets lite's one COCO list, as YOLOv6 has by default."""
    import json

    from lite.coco import COCO_NAMES, canonical_names
    from lite.cv import Detector
    from lite.metadata import from_mapping

    official = [*COCO_NAMES]
    for darknet, other in (("diningtable", "dining table"), ("tvmonitor", "tv"), ("motorbike", "motorcycle"),
                           ("aeroplane", "airplane"), ("sofa", "couch"), ("pottedplant", "potted plant")):  # fmt: skip
        official[official.index(darknet)] = other
    assert canonical_names(tuple(official)) == COCO_NAMES
    assert from_mapping({"names": json.dumps(dict(enumerate(official)))}).names == COCO_NAMES
    assert canonical_names(("cat", "dog")) == ("cat", "dog")  # another dataset: untouched
    models = shared / "models"
    v8 = Detector.from_file(models / "foreign" / "yolov8" / "yolov8n_int8.onnx", threads=1)
    v6 = Detector.from_file(models / "yolov6lite" / "onnx" / "yolov6lite_s_320_decoded.onnx", threads=1)
    assert v8.names == v6.names == COCO_NAMES


def test_bench_plot_without_matplotlib_fails_before_the_benchmark(onnx_dir, tmp_path, monkeypatch, capsys):
    import lite.bench
    from lite.cli import main

    ran = []
    monkeypatch.setattr(lite.bench, "benchmark", lambda *a, **k: ran.append(a))  # must never be reached
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an environment without matplotlib gives
    model = onnx_dir / "yolov6lite_s_320_decoded.onnx"
    code = main(["bench", "-m", str(model), "--runs", "500", "--plot", str(tmp_path / "b.png")])
    err = capsys.readouterr().err
    assert code == 2 and "plotting needs matplotlib" in err and "lite-detect[plot]" in err
    assert ran == [] and not (tmp_path / "b.png").exists()


def test_bench_shows_progress(onnx_dir, tmp_path):
    from test_cli import lite as run_lite

    model = onnx_dir / "yolov6lite_s_320_decoded.onnx"
    proc = run_lite("bench", "-m", model, "--runs", 10, "--warmup", 1, "--threads", 1)
    assert "[1/1] " in proc.stderr and "1 warm-up + 10 timed runs" in proc.stderr
    assert "11/11" in proc.stderr or "100%" in proc.stderr, proc.stderr  # tqdm's bar, or the 10 % lines
    quiet = run_lite("bench", "-m", model, "--runs", 10, "--warmup", 1, "--threads", 1, "--no-progress")
    assert "%" not in quiet.stderr
