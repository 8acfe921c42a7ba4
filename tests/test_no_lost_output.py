"""No lost output (issue 20): full disks, read-only folders, protected inputs, failing images, SIGTERM, umask.

The full disk is a small tmpfs mounted by the test (tests run as root here and in CI); where mounting
is not possible the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_cli import lite

from lite.core.errors import OutputError
from lite.core.files import OutputSet, atomic_write_bytes
from lite.data.outputs import check_video, write_image

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def s_decoded(onnx_dir) -> Path:
    return onnx_dir / "yolov6lite_s_320_decoded.onnx"


@contextlib.contextmanager
def _tmpfs(where: Path, size: str, *options: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    opts = ",".join([f"size={size}", *options])
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root and mount): {proc.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 200 KiB file system: a 320x240 video of noise or an annotated photo does not fit."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root and the mount command")
    with _tmpfs(tmp_path / f"disk-{uuid.uuid4().hex[:6]}", "200k") as disk:
        yield disk


@pytest.fixture
def read_only_folder(tmp_path) -> Iterator[Path]:
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a read-only tmpfs needs root and the mount command")
    with _tmpfs(tmp_path / "ro", "64k", "ro") as ro:
        yield ro


def _noise_video(path: Path, frames: int = 20, hw: tuple[int, int] = (240, 320)) -> Path:
    rng = np.random.default_rng(0)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, hw[::-1])
    for _ in range(frames):
        w.write((rng.random((*hw, 3)) * 255).astype(np.uint8))
    w.release()
    return path


def _fill(disk: Path) -> None:
    """Fill the file system to its last byte."""
    with contextlib.suppress(OSError), open(disk / "filler", "wb", buffering=0) as f:
        while True:
            f.write(b"\0" * 4096)


# ----------------------------------------------------------------------------------------------
# a full disk: the old file stays, no broken file under the final name, a typed error, exit 2
# ----------------------------------------------------------------------------------------------
def test_video_on_a_full_disk_keeps_the_old_output(s_decoded, tmp_path, small_disk):
    video = _noise_video(tmp_path / "clip.mp4")
    old = small_disk / "clip_detections.mp4"
    old.write_bytes(b"an earlier, complete result")
    proc = lite("detect", video, "--model", s_decoded, "--save", small_disk, "--exist-ok", "--no-progress",
                "--threads", 1, ok=False)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "writing the video" in proc.stderr and "frames were written" in proc.stderr
    assert "Traceback" not in proc.stderr and "saved:" not in proc.stdout
    assert old.read_bytes() == b"an earlier, complete result"
    assert sorted(p.name for p in small_disk.iterdir()) == ["clip_detections.mp4"]  # no partial file


def test_check_video_refuses_a_short_file(tmp_path):
    good = _noise_video(tmp_path / "good.mp4", frames=3, hw=(32, 48))
    check_video(good, 3)
    with pytest.raises(OutputError, match="3 frames were written, but the file .* reads back with 0"):
        cut = tmp_path / "cut.mp4"
        cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
        check_video(cut, 3, final="out.mp4")
    with pytest.raises(OutputError, match="4 frames were written"):
        check_video(good, 4)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(OutputError, match="the file is empty"):
        check_video(empty, 1)


def test_image_and_json_on_a_full_disk(s_decoded, bus_path, small_disk):
    old = small_disk / "bus_detections.jpg"
    old.write_bytes(b"old image")
    proc = lite("detect", bus_path, "--model", s_decoded, "--save", small_disk, "--exist-ok", "--threads", 1, ok=False)
    assert proc.returncode == 2 and "cannot write" in proc.stderr and "the disk is full" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert old.read_bytes() == b"old image"
    assert sorted(p.name for p in small_disk.iterdir()) == ["bus_detections.jpg"]

    dets = small_disk / "dets.json"
    dets.write_text("[]")
    _fill(small_disk)
    proc = lite("detect", bus_path, "--model", s_decoded, "--json", dets, "--exist-ok", "--threads", 1, ok=False)
    assert proc.returncode == 2 and "cannot write" in proc.stderr and "dets.json" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert dets.read_text() == "[]"
    assert sorted(p.name for p in small_disk.iterdir()) == ["bus_detections.jpg", "dets.json", "filler"]


def test_library_writes_on_a_full_disk_are_typed_and_leave_nothing(small_disk):
    img = (np.random.default_rng(0).random((400, 400, 3)) * 255).astype(np.uint8)
    with pytest.raises(OutputError, match="disk is full"):
        write_image(small_disk / "noise.png", img)
    with pytest.raises(OutputError, match=r"a\.bin"), OutputSet() as out:  # a conversion's output set
        out.stage(small_disk / "a.param").write_text("7767517")
        out.stage(small_disk / "a.bin").write_bytes(bytes(400_000))
    with pytest.raises(OSError):  # still an OSError for callers that catch that
        atomic_write_bytes(small_disk / "big.bin", bytes(400_000))
    assert list(small_disk.iterdir()) == []


def test_convert_on_a_full_disk_and_into_a_read_only_folder(s_decoded, small_disk, read_only_folder):
    proc = lite("convert", s_decoded, "--to", "openvino", "--out", read_only_folder, ok=False)
    assert proc.returncode == 2 and "cannot write into the output folder" in proc.stderr
    assert "Traceback" not in proc.stderr and "reading" not in proc.stderr  # refused before any work

    proc = lite("convert", s_decoded, "--to", "openvino", "--out", small_disk, "--no-verify", ok=False)
    assert proc.returncode == 2, proc.stderr
    assert "cannot write" in proc.stderr and "the disk is full" in proc.stderr and "Traceback" not in proc.stderr
    assert list(small_disk.iterdir()) == []  # neither the .xml, the .bin, the sidecar nor a temporary file


# ----------------------------------------------------------------------------------------------
# protected outputs: the model, its weights and sidecar, and every input
# ----------------------------------------------------------------------------------------------
def test_json_onto_the_model_or_its_files_is_refused_even_with_exist_ok(s_decoded, ncnn_dir, bus_path, tmp_path):
    model = tmp_path / "m.onnx"
    shutil.copy(s_decoded, model)
    sidecar = tmp_path / "m.onnx.lite.json"
    sidecar.write_text("{}")
    for target in (model, sidecar):
        before = target.read_bytes()
        proc = lite("detect", bus_path, "--model", model, "--json", target, "--exist-ok", ok=False)
        assert proc.returncode == 2 and "refusing to overwrite the input" in proc.stderr, proc.stderr
        assert target.read_bytes() == before
    param = next(ncnn_dir.glob("*.param"))
    for name in (param.name, param.with_suffix(".bin").name):
        shutil.copy(ncnn_dir / name, tmp_path / name)
    weights = tmp_path / param.with_suffix(".bin").name
    before = weights.read_bytes()
    proc = lite("detect", bus_path, "--model", tmp_path / param.name, "--json", weights, "--exist-ok", ok=False)
    assert proc.returncode == 2 and "refusing to overwrite the input" in proc.stderr
    assert weights.read_bytes() == before


# ----------------------------------------------------------------------------------------------
# a corrupt image in a folder: recorded, the others done and written, exit 1 with a summary
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("verbose", [False, True])
def test_a_corrupt_image_in_a_folder_does_not_lose_the_others(s_decoded, images_dir, tmp_path, verbose):
    src = tmp_path / "imgs"
    src.mkdir()
    shutil.copy(images_dir / "bus.jpg", src / "a_bus.jpg")
    (src / "b_broken.jpg").write_bytes(b"\xff\xd8 not a jpeg at all")
    shutil.copy(images_dir / "zidane.jpg", src / "c_zidane.jpg")
    out = tmp_path / "out"
    extra = ["-v"] if verbose else []
    proc = lite("detect", src, "--model", s_decoded, "--save", out, "--json", out / "dets.json", "--no-progress",
                "--threads", 1, *extra, ok=False)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "1 of 3 images failed" in proc.stderr and "b_broken.jpg" in proc.stderr and "Traceback" not in proc.stderr
    records = json.loads((out / "dets.json").read_text())
    assert {r["file_name"] for r in records} == {"a_bus.jpg", "c_zidane.jpg"}
    assert sorted(p.name for p in out.iterdir()) == ["a_bus_detections.jpg", "c_zidane_detections.jpg", "dets.json"]

    shutil.rmtree(out)
    proc = lite("detect", src, "--model", s_decoded, "--json", out / "dets.json", "--fail-fast", "--no-progress",
                "--threads", 1, *extra, ok=False)  # fmt: skip
    assert proc.returncode == 2 and "b_broken.jpg" in proc.stderr
    assert not (out / "dets.json").exists()


def test_verbose_lines_show_each_images_own_time(s_decoded, images_dir, tmp_path):
    for n in ("bus.jpg", "zidane.jpg", "image1.jpg", "image2.jpg", "image3.jpg", "sample.jpg"):
        shutil.copy(images_dir / n, tmp_path / n)
    proc = lite("detect", tmp_path, "--model", s_decoded, "-v", "--no-progress", "--threads", 1)
    lines = [ln for ln in proc.stdout.splitlines() if ln.endswith(" ms") and ".jpg:" in ln]
    assert len(lines) == 6, proc.stdout
    assert all(float(ln.rsplit(" in ", 1)[1][:-3]) > 0.0 for ln in lines), proc.stdout


# ----------------------------------------------------------------------------------------------
# SIGTERM cleans up like Ctrl-C
# ----------------------------------------------------------------------------------------------
def test_sigterm_removes_the_partial_video_and_keeps_the_old_one(s_decoded, tmp_path):
    video = _noise_video(tmp_path / "long.mp4", frames=400, hw=(120, 160))
    out = tmp_path / "out"
    out.mkdir()
    (out / "long_detections.mp4").write_bytes(b"an earlier, complete result")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "lite", "detect", str(video), "--model", str(s_decoded), "--save", str(out),
         "--exist-ok", "--no-progress", "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob(".long_detections.*.partial.mp4")):
            assert proc.poll() is None and time.monotonic() < deadline, "the video never started"
            time.sleep(0.05)
        time.sleep(0.3)  # some frames written
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["long_detections.mp4"]
    assert (out / "long_detections.mp4").read_bytes() == b"an earlier, complete result"


# ----------------------------------------------------------------------------------------------
# files honour the umask (not the 0600 of a bare temporary file)
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_written_files_honour_the_umask(tmp_path, umask):
    from lite.data.metadata import ModelMeta, write_sidecar

    old = os.umask(umask)
    try:
        img = write_image(tmp_path / "a.jpg", np.zeros((8, 8, 3), np.uint8))
        raw = atomic_write_bytes(tmp_path / "b.bin", b"x")
        with OutputSet() as out:
            out.stage(tmp_path / "c.param").write_text("7767517")
        sidecar = write_sidecar(tmp_path / "m.onnx", ModelMeta())
    finally:
        os.umask(old)
    for p in (img, raw, tmp_path / "c.param", sidecar):
        assert p.stat().st_mode & 0o777 == 0o666 & ~umask, p


def test_eval_outputs_never_replace_the_annotations_or_the_model(s_decoded, shared, tmp_path):
    ann = shared / "coco" / "val2017_128" / "instances.json"
    if not ann.is_file():
        pytest.skip(f"{ann} is absent")
    copy = tmp_path / "instances.json"
    shutil.copy(ann, copy)
    before = copy.read_bytes()
    for target in (copy, s_decoded):
        proc = lite("eval", "--model", s_decoded, "--images", ann.parent / "images", "--ann", copy, "--json", target,
                    "--limit", 2, ok=False)  # fmt: skip
        assert proc.returncode == 2 and "refusing to overwrite the input" in proc.stderr, proc.stderr
        assert "images in" not in proc.stdout  # refused before the evaluation
    assert copy.read_bytes() == before
