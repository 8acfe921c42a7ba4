"""The other detector families through the command line and the library's eval / bench / compare:
``lite eval`` APs on COCO val2017_128 pinned per family, ``--family``, ``lite info``'s family and input
size, and conversions of the foreign ONNX models to NCNN / MNN against ONNX Runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

FOREIGN = {
    "yolov8": "yolov8/yolov8n_int8.onnx",
    "yolov5": "yolov5/yolov5n_int8_640.onnx",
    "yolox": "yolox/yolox_nano_416.onnx",
    "nanodet": "nanodet_plus/nanodet-plus-m_416.param",
}
# AP (0.50:0.95) and AP50 of `lite eval` on val2017_128 (128 images, 898 boxes) with lite's defaults
# (conf 0.03, IoU 0.65, 300 detections, multi-label), one thread, each model at its own input size.
# scripts/reference_ap.py, each family's own demo-style pipeline without lite, gives the same figures with the same
# settings: YOLOX's and NanoDet's demos truncate the resized size (int(h·r): 276 rows for a 426x640 image) and so
# do lite's YOLOX and NanoDet (PreprocessConfig.rounding="truncate"; rounding gave 0.3371 / 0.4873 and
# 0.3758 / 0.5261). For scale: the full COCO val2017 mAPs these models' authors report are 37.3, 28.0,
# 25.8 and 30.4; the first 128 images are easier for every model (YOLOv6Lite-S: 22.4 there, 0.306 here).
AP = {
    "yolov8": (0.4117, 0.5652),
    "yolov5": (0.3391, 0.5269),
    "yolox": (0.3377, 0.4942),
    "nanodet": (0.3687, 0.5192),
}


def lite(*args: object, ok: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run ``python -m lite ARGS``; by default assert it exits 0."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run(
        [sys.executable, "-m", "lite", *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout
    )
    if ok:
        assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def foreign(shared) -> Path:
    return shared / "models" / "foreign"


@pytest.fixture(scope="module")
def coco128(shared) -> Path:
    return shared / "coco" / "val2017_128"


def test_the_cli_knows_the_families():
    from lite.cli._common import CLASSIFIER_FAMILIES, FAMILIES
    from lite.cv import Classifier, family_names, get_family

    classifiers = {n for n in family_names() if issubclass(get_family(n), Classifier)}
    assert set(CLASSIFIER_FAMILIES) == classifiers
    assert set(FAMILIES) == set(family_names()) - {"yolo11"} - classifiers
    for cmd in ("detect", "eval", "bench", "compare", "info"):
        assert "--family" in lite(cmd, "--help").stdout


@pytest.mark.slow
@pytest.mark.parametrize("family", list(AP))
def test_lite_eval_ap_per_family(family, foreign, coco128, tmp_path):
    """`lite eval` reads the family from the file (no --family) and gives the pinned AP."""
    pytest.importorskip("pycocotools")
    pytest.importorskip("ncnn" if family == "nanodet" else "onnxruntime")
    metrics = tmp_path / "metrics.json"
    proc = lite(
        "eval", "--model", foreign / FOREIGN[family], "--images", coco128 / "images",
        "--ann", coco128 / "instances.json", "--threads", 1, "--no-progress", "--json", metrics,
    )  # fmt: skip
    m = json.loads(metrics.read_text())
    ap, ap50 = AP[family]
    assert m["AP"] == pytest.approx(ap, abs=2e-4), (family, m["AP"], m["AP50"])
    assert m["AP50"] == pytest.approx(ap50, abs=2e-4), (family, m["AP"], m["AP50"])
    assert m["settings"]["family"] == family
    assert m["num_images"] == 128
    assert "AP " in proc.stdout


def test_family_option_is_used_and_checked(foreign, bus_path, tmp_path):
    model = foreign / FOREIGN["nanodet"]
    out = tmp_path / "dets.json"
    lite("detect", bus_path, "--model", model, "--family", "nanodet", "--json", out, "--threads", 1, "--conf", 0.4)
    names = [r["category_name"] for r in json.loads(out.read_text())]
    assert "bus" in names and names.count("person") >= 3
    bad = lite("detect", bus_path, "--model", model, "--family", "yolov9", ok=False)
    assert bad.returncode == 2
    assert "yolov9" in bad.stderr and "nanodet" in bad.stderr and "yolov8" in bad.stderr  # lists the known ones


@pytest.mark.parametrize("family", list(FOREIGN))
def test_info_says_the_family_and_why_this_input_size(family, foreign):
    proc = lite("info", foreign / FOREIGN[family], "--json")
    info = json.loads(proc.stdout)
    assert info["family"] == family
    assert info["input_size_source"]
    text = lite("info", foreign / FOREIGN[family]).stdout
    assert f"family     {family}" in text
    assert "chosen from: " + info["input_size_source"] in text


def test_bench_and_compare_take_the_family(foreign, bus_path, tmp_path):
    from lite.tools.bench import benchmark

    r = benchmark(foreign / FOREIGN["yolox"], family="yolox", image=bus_path, runs=2, warmup=1, threads=1)
    assert r.num_detections >= 3
    proc = lite("bench", "--model", foreign / FOREIGN["yolox"], "--family", "yolox", "--runs", 2, "--warmup", 0,
                "--threads", 1, "--image", bus_path)  # fmt: skip
    assert "yolox_nano_416.onnx" in proc.stdout
    yolox = foreign / FOREIGN["yolox"]
    proc = lite("compare", yolox, yolox, "--family", "yolox", "--image", bus_path, "--threads", 1)
    assert "4/4 matched" in proc.stdout and "result: PASS" in proc.stdout
    wrong = lite("compare", yolox, yolox, "--family", "yolov8", "--image", bus_path, ok=False)
    assert wrong.returncode == 2 and "yolov8" in wrong.stderr  # YOLOv8 cannot read YOLOX's output: a typed error


# -- conversions of the foreign ONNX models ------------------------------------------------

# (family, target) pairs that must convert; the others are tried and skipped with the converter's own error
MUST_CONVERT = {("yolox", "mnn")}


@pytest.mark.slow
@pytest.mark.parametrize("target", ["ncnn", "mnn"])
@pytest.mark.parametrize("family", ["yolov8", "yolov5", "yolox"])
def test_converted_foreign_models_give_the_onnx_boxes(family, target, foreign, bus_path, tmp_path):
    pytest.importorskip({"ncnn": "ncnn", "mnn": "MNN"}[target])
    from lite.convert import convert
    from lite.core.errors import ConversionError
    from lite.tools.parity import compare

    src = foreign / FOREIGN[family]
    try:
        out = convert(src, target, tmp_path / f"model.{'param' if target == 'ncnn' else 'mnn'}", verify=False)
    except ConversionError as e:
        if (family, target) in MUST_CONVERT:
            raise
        pytest.skip(f"lite convert cannot convert {src.name} to {target}: {e}")
    report = compare([src, out], bus_path, family=family, threads=1, conf=0.25)
    diff = report.runs[1].detection_diff
    assert report.runs[0].detections >= 3 and diff.matched >= 3, report.table()
    assert report.ok, report.table()  # outputs within tolerance, every detection matched (IoU >= 0.99)


@pytest.mark.slow
@pytest.mark.parametrize("family", list(AP))
def test_lite_ap_is_the_ap_of_the_family_own_pipeline(family, shared):
    """scripts/reference_ap.py decodes each model as its source's demo does, without lite: same AP."""
    import importlib.util

    pytest.importorskip("pycocotools")
    pytest.importorskip("ncnn" if family == "nanodet" else "onnxruntime")
    spec = importlib.util.spec_from_file_location("reference_ap", REPO / "scripts" / "reference_ap.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    ap, ap50, _ = ref.evaluate(shared, family)
    tol = (2e-4, 2e-4)  # every family resizes as its demo does (YOLOX and NanoDet truncate)
    assert ap == pytest.approx(AP[family][0], abs=tol[0]) and ap50 == pytest.approx(AP[family][1], abs=tol[1])
