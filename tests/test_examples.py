"""The examples run: the quick-start notebook (executed with nbclient) and the example scripts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def _env(shared: Path, **extra: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "LITE_SHARED": str(shared), **extra}


def _run(script: str, shared: Path, *args: str, timeout: float = 300, **env: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=REPO,
        env=_env(shared, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _detections(out: str) -> tuple[int, str]:
    m = re.search(r"^(\d+) detections: (.*)$", out, re.M)
    assert m, out
    return int(m.group(1)), m.group(2)


def _needs(backend: str) -> None:
    from lite import backends

    if backend not in backends.available():
        pytest.skip(f"the {backend} engine is not installed")


def test_detect_ort_script(shared: Path, tmp_path: Path):
    _needs("ort")
    out = _run("detect_ort.py", shared, "--threads", "1", "--save", str(tmp_path / "bus.jpg"))
    assert "backend: ort (input 320x320)" in out and "layout: decoded" in out
    n, counts = _detections(out)
    assert n >= 5 and "bus 1" in counts and "person" in counts
    assert (tmp_path / "bus.jpg").stat().st_size > 10_000


def test_detect_ncnn_script_matches_ort(shared: Path):
    _needs("ncnn")
    _needs("ort")
    ncnn_out = _run("detect_ncnn.py", shared, "--threads", "1")  # one thread: a shared CI machine
    assert "backend: ncnn (input 320x320)" in ncnn_out and "layout: raw" in ncnn_out
    # the official NCNN model and the ONNX made from it find the same objects
    assert _detections(ncnn_out) == _detections(_run("detect_ort.py", shared, "--threads", "1"))


def test_detect_mnn_script_converts_once_then_matches_ort(shared: Path, tmp_path: Path):
    _needs("mnn")
    _needs("ort")
    cache = str(tmp_path / "cache")  # the conversion goes to $LITE_CACHE/examples, not the user's cache
    first = _run("detect_mnn.py", shared, "--threads", "1", LITE_CACHE=cache)
    assert "converting yolov6lite_s_320_raw.onnx to MNN" in first and "backend: mnn (input 320x320" in first
    again = _run("detect_mnn.py", shared, "--threads", "1", LITE_CACHE=cache)
    assert "using the cached conversion" in again
    ort = _run("detect_ort.py", shared, "--threads", "1")
    assert _detections(first) == _detections(again) == _detections(ort)


@pytest.mark.slow
def test_convert_and_compare_script(shared: Path, tmp_path: Path):
    _needs("ncnn")
    _needs("mnn")
    _needs("ort")
    out = _run("convert_and_compare.py", shared, "--out", str(tmp_path), "--threads", "1", timeout=900)
    assert re.search(r"^ncnn: .*yolov6lite_s_320_raw\.ncnn\.param \(", out, re.M)
    assert re.search(r"^mnn: .*yolov6lite_s_320_raw\.mnn \(", out, re.M)
    assert "result: PASS" in out
    assert out.count("matched (100%") == 2  # NCNN and MNN each find every reference detection
    assert (tmp_path / "yolov6lite_s_320_raw.ncnn.bin").is_file()


def test_evaluate_coco_script(shared: Path):
    _needs("ort")
    pytest.importorskip("pycocotools")
    out = _run("evaluate_coco.py", shared, "--limit", "8", "--threads", "1")
    assert "images: 8 from" in out and "classes mapped by coco80" in out
    ap = float(re.search(r"^AP (\d\.\d+)", out, re.M).group(1))
    assert 0.15 < ap < 0.8


def test_quickstart_notebook_runs(shared: Path, monkeypatch: pytest.MonkeyPatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    _needs("ort")
    _needs("ncnn")
    for k, v in _env(shared).items():
        if k in ("PYTHONPATH", "LITE_SHARED"):
            monkeypatch.setenv(k, v)
    nb = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(EXAMPLES)}}
    )
    client.execute()
    text = "\n".join(
        o.get("text", "") or o.get("data", {}).get("text/plain", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
    )
    # the kernel is this interpreter (jupyter_client maps the kernelspec's "python" to sys.executable)
    assert f"python: {sys.executable}" in text
    m = re.search(r"(\d+) detections; classes: \[(.*)\]", text)
    assert m and int(m.group(1)) >= 5 and "'bus'" in m.group(2) and "'person'" in m.group(2)
    assert "result: PASS" in text
    assert any(o.get("data", {}).get("image/png") for c in nb.cells for o in c.get("outputs", []))  # the drawing


def test_detect_trt_script(shared: Path):
    from lite import backends

    if "trt" in backends.available():
        proc = subprocess.run(
            [sys.executable, str(EXAMPLES / "detect_trt.py")], cwd=REPO, env=_env(shared), capture_output=True,
            text=True, timeout=1200,
        )  # fmt: skip
        if proc.returncode != 0 and "error:" in proc.stderr and ("CUDA" in proc.stderr or "GPU" in proc.stderr):
            pytest.skip(f"TensorRT is installed but no GPU is usable: {proc.stderr.strip()[-200:]}")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "bus 1" in _detections(proc.stdout)[1]
        return
    # without TensorRT the script stops with one line naming the extra to install, not a traceback
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "detect_trt.py")], cwd=REPO, env=_env(shared), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "detect_trt.py: error:" in proc.stderr and "lite-detect[trt]" in proc.stderr
    assert "Traceback" not in proc.stderr
