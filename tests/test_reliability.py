"""Never lose a user's file, never a silent wrong answer (issue 10): CLI outputs, truncated JPEGs, sources,
sidecar warnings, unverified hub files and honest help texts. The typed errors are in test_bad_inputs.py."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_cli import lite

import lite.hub as hub_module
from lite.cli import main
from lite.core.errors import (
    ImageError,
    MetadataWarning,
    OutputExistsError,
    TruncatedImageWarning,
    UnverifiedModelWarning,
)
from lite.cv import YOLOv6
from lite.data.io import is_truncated_jpeg, load_image
from lite.data.outputs import atomic_path, plan_outputs

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def s_decoded(onnx_dir) -> Path:
    return onnx_dir / "yolov6lite_s_320_decoded.onnx"


# ----------------------------------------------------------------------------------------------
# 1. lite detect --save never replaces a file it was not told to
# ----------------------------------------------------------------------------------------------
def test_save_into_the_input_folder_keeps_the_input(s_decoded, bus_path, tmp_path):
    work = tmp_path / "photos"
    work.mkdir()
    shutil.copy(bus_path, work / "bus.jpg")
    before = (work / "bus.jpg").read_bytes()
    lite("detect", "bus.jpg", "--model", s_decoded, "--save", ".", "--threads", 1, cwd=work)
    assert (work / "bus.jpg").read_bytes() == before  # the input is untouched
    annotated = cv2.imread(str(work / "bus_detections.jpg"))
    assert annotated is not None and annotated.shape == cv2.imread(str(bus_path)).shape
    assert sorted(p.name for p in work.iterdir()) == ["bus.jpg", "bus_detections.jpg"]  # no temporary file

    # a second run refuses before it starts, and says how to allow it
    stamp = (work / "bus_detections.jpg").stat().st_mtime_ns
    proc = lite("detect", "bus.jpg", "--model", s_decoded, "--save", ".", cwd=work, ok=False)
    assert proc.returncode == 2 and "already exists" in proc.stderr and "--exist-ok" in proc.stderr
    assert "bus.jpg:" not in proc.stdout  # nothing was detected: it stopped before the work
    assert (work / "bus_detections.jpg").stat().st_mtime_ns == stamp

    # --exist-ok replaces the earlier output, never the input
    (work / "bus_detections.jpg").write_bytes(b"old")
    lite("detect", "bus.jpg", "--model", s_decoded, "--save", ".", "--exist-ok", "--threads", 1, cwd=work)
    assert cv2.imread(str(work / "bus_detections.jpg")) is not None
    assert (work / "bus.jpg").read_bytes() == before


def test_an_output_that_is_an_input_is_refused_even_with_exist_ok(s_decoded, bus_path, tmp_path):
    shutil.copy(bus_path, tmp_path / "bus.jpg")
    shutil.copy(bus_path, tmp_path / "bus_detections.jpg")  # an input that has an output's name
    before = (tmp_path / "bus_detections.jpg").read_bytes()
    proc = lite("detect", tmp_path, "--model", s_decoded, "--save", tmp_path, "--exist-ok", ok=False)
    assert proc.returncode == 2 and "refusing to overwrite the input" in proc.stderr
    assert (tmp_path / "bus_detections.jpg").read_bytes() == before
    # --json onto an input is refused the same way
    proc = lite("detect", tmp_path / "bus.jpg", "--model", s_decoded, "--json", tmp_path / "bus.jpg", "--exist-ok",
                ok=False)  # fmt: skip
    assert proc.returncode == 2 and "refusing to overwrite the input" in proc.stderr


def test_json_is_not_replaced_without_exist_ok(s_decoded, bus_path, tmp_path):
    out = tmp_path / "dets.json"
    out.write_text("[]")
    proc = lite("detect", bus_path, "--model", s_decoded, "--json", out, ok=False)
    assert proc.returncode == 2 and "dets.json" in proc.stderr and "--exist-ok" in proc.stderr
    assert out.read_text() == "[]"
    lite("detect", bus_path, "--model", s_decoded, "--json", out, "--exist-ok", "--threads", 1)
    assert json.loads(out.read_text())  # replaced with the detections


def test_a_run_that_cannot_write_says_so_before_it_starts(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    proc = lite("detect", "--save", blocker, ok=False)  # the synthetic scene: would work, but cannot write
    assert proc.returncode == 2 and "it is a file, expected a folder" in proc.stderr
    assert "synthetic scene" not in proc.stdout


def _video(path: Path, frames: int = 6) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5, (96, 64))
    for k in range(frames):
        w.write(np.full((64, 96, 3), 20 * k, np.uint8))
    w.release()
    return path


def test_interrupted_video_leaves_no_partial_file(s_decoded, tmp_path, monkeypatch):
    video = _video(tmp_path / "clip.mp4")
    out = tmp_path / "out"
    out.mkdir()
    (out / "clip_detections.mp4").write_bytes(b"an earlier, complete result")
    calls = {"n": 0}
    real_infer = YOLOv6.infer  # frames run through detect_stream: the engine runs in the main thread

    def interrupt_on_third_frame(self, tensor):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # what Ctrl-C raises in the middle of a video
        return real_infer(self, tensor)

    monkeypatch.setattr(YOLOv6, "infer", interrupt_on_third_frame)
    code = main(["detect", str(video), "--model", str(s_decoded), "--save", str(out), "--exist-ok", "--no-progress"])
    assert code == 130 and calls["n"] == 3
    assert (out / "clip_detections.mp4").read_bytes() == b"an earlier, complete result"
    assert sorted(p.name for p in out.iterdir()) == ["clip_detections.mp4"]  # the temporary file is gone
    assert (tmp_path / "clip.mp4").stat().st_size > 0

    monkeypatch.setattr(YOLOv6, "infer", real_infer)
    assert main(["detect", str(video), "--model", str(s_decoded), "--save", str(out), "--exist-ok",
                 "--no-progress", "--threads", "1"]) == 0  # fmt: skip
    cap = cv2.VideoCapture(str(out / "clip_detections.mp4"))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    cap.release()


def test_outputs_library_rules(tmp_path):
    a, b = tmp_path / "x" / "a.jpg", tmp_path / "x" / "b.jpg"
    plan_outputs([a, b])  # creates the folder
    assert a.parent.is_dir()
    with pytest.raises(OutputExistsError, match="same file"):
        plan_outputs([a, tmp_path / "x" / ".." / "x" / "a.jpg"])  # the same file, spelt differently
    a.write_text("keep")
    with pytest.raises(FileExistsError, match="pass exist_ok=True"):
        plan_outputs([a])
    plan_outputs([a], exist_ok=True)
    with pytest.raises(RuntimeError), atomic_path(a) as tmp:
        tmp.write_text("half")
        raise RuntimeError("failed while writing")
    assert a.read_text() == "keep" and sorted(p.name for p in a.parent.iterdir()) == ["a.jpg"]


# ----------------------------------------------------------------------------------------------
# 5. a truncated JPEG is never used silently
# ----------------------------------------------------------------------------------------------
def test_truncated_jpeg_warns_from_a_file_and_from_bytes(bus_path, tmp_path):
    data = bus_path.read_bytes()
    assert not is_truncated_jpeg(data)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) * 2 // 3])
    assert is_truncated_jpeg(cut.read_bytes())
    with pytest.warns(TruncatedImageWarning, match=r"cut\.jpg.*ends before its end-of-image marker"):
        img = load_image(cut)
    assert img.shape == cv2.imread(str(bus_path)).shape
    for cut_at in (len(data) // 3, len(data) - 2):  # from bytes, OpenCV decodes nothing: a typed error
        with pytest.raises(ImageError, match="ends before its end-of-image marker"):
            load_image(data[:cut_at])
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncatedImageWarning)  # how a user makes it an error
        with pytest.raises(TruncatedImageWarning):
            load_image(cut)
        load_image(bus_path)  # a complete file gives no warning
        load_image(data + b"trailing data after the image")  # nor data after a complete image
        ok, png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
        load_image(png.tobytes())  # nor another format


def test_truncated_progressive_jpeg(tmp_path):
    img = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
    ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    data = enc.tobytes()
    assert not is_truncated_jpeg(data)
    assert is_truncated_jpeg(data[:-2])  # only the EOI marker is missing
    assert is_truncated_jpeg(data[: len(data) // 2])


# ----------------------------------------------------------------------------------------------
# 8. detect_batch takes a path, a folder or a glob
# ----------------------------------------------------------------------------------------------
def test_detect_batch_takes_a_path_a_folder_or_a_glob(s_decoded, bus_path, images_dir, tmp_path):
    with YOLOv6(s_decoded, threads=1) as det:
        single = det.detect(str(bus_path))
        (from_path,) = det.detect_batch(str(bus_path))
        assert len(from_path) == len(single) and np.allclose(from_path.xyxy, single.xyxy)
        for n in ("bus.jpg", "zidane.jpg"):
            shutil.copy(images_dir / n, tmp_path / n)
        assert [len(d) for d in det.detect_batch(tmp_path)] == [len(d) for d in det.detect_batch(
            str(tmp_path / "*.jpg"))] == [len(single), len(det.detect(tmp_path / "zidane.jpg"))]  # fmt: skip
        img = cv2.imread(str(bus_path))
        assert len(det.detect_batch(img)) == 1  # one array is one image, not its rows


# ----------------------------------------------------------------------------------------------
# 9. sidecars: unknown keys are named in a warning, known keys are used
# ----------------------------------------------------------------------------------------------
def test_sidecar_unknown_key_warns_naming_key_and_file(s_decoded, tmp_path):
    m = tmp_path / "m.onnx"
    m.symlink_to(s_decoded)
    (tmp_path / "m.onnx.lite.json").write_text(json.dumps({"strides": [8, 16, 32, 64], "colour_space": "rgb"}))
    with pytest.warns(MetadataWarning, match=r"m\.onnx\.lite\.json: unknown key \['colour_space'\]"):
        det = YOLOv6(m, threads=1)
    assert det.strides == (8, 16, 32, 64)
    det.close()


# ----------------------------------------------------------------------------------------------
# 11. hub files without a checksum: one warning per file; the README says which are verified
# ----------------------------------------------------------------------------------------------
def test_unverified_hub_file_warns_once(tmp_path, monkeypatch):
    monkeypatch.setenv("LITE_HOME", str(tmp_path))
    monkeypatch.setattr(hub_module, "_WARNED_UNVERIFIED", set())
    (tmp_path / "yolov6n.onnx").write_bytes(b"any file under the right name")
    with pytest.warns(UnverifiedModelWarning, match=r"yolov6n\.onnx: unverified"):
        hub_module.resolve("yolov6n", download=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hub_module.resolve("yolov6n", download=False)  # said once


def test_readme_names_the_verified_hub_entries():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "sha256 verified" not in readme.replace("\n", " ")
    verified = [n for n in hub_module.list_models() if hub_module.verified(n)]
    unverified = [n for n in hub_module.list_models() if not hub_module.verified(n) and not hub_module.get(n).bundled]
    assert verified and unverified
    paragraph = next(p for p in readme.split("\n\n") if "checksum" in p and "$LITE_HOME" in p)
    for name in verified:
        assert f"`{name}`" in paragraph, name
    assert "unverified" in paragraph and "UnverifiedModelWarning" in paragraph


# ----------------------------------------------------------------------------------------------
# 13. help texts: each default once; bench sizes are H x W
# ----------------------------------------------------------------------------------------------
def test_cli_help_prints_each_default_once():
    from lite.cli import build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict)).choices
    for name, sub in subs.items():
        fmt = sub._get_formatter()
        for action in sub._actions:
            text = fmt._expand_help(action) if action.help else ""
            assert text.lower().count("default") <= 1, f"lite {name} {action.option_strings}: {text}"
            assert "(default: None)" not in text and "(default: False)" not in text, f"lite {name}: {text}"


def test_bench_calls_sizes_height_by_width(s_decoded):
    from lite.tools.bench import benchmark, format_table, synthetic_image

    assert synthetic_image().shape[:2] == (480, 640)
    r = benchmark(s_decoded, runs=2, warmup=1, threads=1)
    table = format_table([r])
    assert "HxW: input 320x320, image 480x640" in table
    assert "480x640 HxW" in " ".join(lite("bench", "--help").stdout.split())
    assert not re.search(r"640x480", table)
