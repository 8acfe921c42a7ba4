"""lite.data.sources and the live loop of `lite detect`: real RTSP (GStreamer) and HTTP MJPEG servers, files,
cameras."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from stream_servers import hls_server, mjpeg_server, rtmp_server, rtsp_server

from lite.cli import main
from lite.core.errors import (
    BackendNotInstalledError,
    ImageNotFoundError,
    InputError,
    SourceError,
    SourcesFailedError,
    StreamError,
    StreamLostError,
    StreamStalledError,
)
from lite.data.sources import mask_url, open_sources, parse_source

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scene_jpg(tmp_path_factory) -> Path:
    from lite.demo.scenes import make_scene

    img, _, _ = make_scene(np.random.default_rng(3), (320, 320))
    path = tmp_path_factory.mktemp("scene") / "scene.jpg"
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return path


@pytest.fixture(scope="module")
def det():
    from lite.cv import Detector
    from lite.hub import default_model

    d = Detector.from_file(default_model(), backend="ort", threads=1)
    yield d
    d.close()


def _take(reader, n: int) -> list:
    out = []
    with reader:
        for f in reader:
            out.append(f)
            if len(out) == n:
                break
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: (x[:, 2:] - x[:, :2]).prod(-1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter)


# ------------------------------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("0", "camera"),
        ("rtsp://cam/x", "stream"),
        ("rtmp://h/live", "stream"),
        ("http://h/mjpg/video.mjpg", "stream"),
        ("https://h/live/index.m3u8", "stream"),
        ("https://h/a.jpg", "url-image"),
        ("https://h/clip.mp4", "url-video"),
        ("screen", "screen"),
    ],
)
def test_source_strings_are_classified(text, kind):
    (spec,) = parse_source(text)
    assert spec.kind == kind
    assert spec.live == (kind in ("camera", "stream", "screen"))


def test_credentials_are_masked_in_names_and_errors():
    assert mask_url("rtsp://user:pa55@host:554/x?a=1") == "rtsp://user:***@host:554/x?a=1"
    assert mask_url("rtsp://host/x") == "rtsp://host/x"
    # a real unreachable stream, in a fresh process so FFmpeg's and OpenCV's own logs are seen too
    code = (
        "from lite.data.sources import open_sources\n"
        "try:\n    list(open_sources('rtsp://user:pa55word@127.0.0.1:1/x', timeout=2, reconnect=0))\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.stdout.startswith("SourceError rtsp://user:***@127.0.0.1:1/x"), r.stdout
    assert "pa55word" not in r.stdout + r.stderr


# ------------------------------------------------------------------------------------------- files
def test_detect_stream_takes_folders_and_globs(det, tmp_path, scene_jpg):
    for i in range(3):
        img = cv2.imread(str(scene_jpg))
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.roll(img, 20 * i, axis=1))
    files = sorted(tmp_path.glob("*.png"))
    expected = [det.detect(str(p)) for p in files]
    assert list(det.detect_stream(str(tmp_path))) == expected
    assert list(det.detect_stream(str(tmp_path / "*.png"))) == expected
    frames = list(open_sources(str(tmp_path)))
    assert [f.path for f in frames] == files and [f.index for f in frames] == [0, 1, 2]


def test_source_list_with_a_bad_entry_reads_the_others(scene_jpg, tmp_path):
    listing = tmp_path / "cams.txt"
    listing.write_text(f"# cameras\n{scene_jpg}\n{tmp_path / 'missing.jpg'}\nrtsp://u:secret@127.0.0.1:1/x\n")
    reader = open_sources(str(listing), timeout=2, reconnect=0)
    got = []
    with pytest.raises(SourcesFailedError) as e:
        for f in reader:
            got.append(f)
    assert [f.source for f in got] == [str(scene_jpg)]
    assert [type(x) for x in e.value.errors] == [ImageNotFoundError, SourceError]
    assert "missing.jpg" in str(e.value) and "rtsp://u:***@127.0.0.1:1/x" in str(e.value)
    assert "secret" not in str(e.value)
    # the same list on the command line: the good entry's frame is written, then the error, exit code 2
    out = tmp_path / "list.jsonl"
    assert main(["detect", str(listing), "--jsonl", str(out), "--timeout", "2", "--reconnect", "0"]) == 2
    assert [json.loads(x)["source"] for x in out.read_text().splitlines()] == [str(scene_jpg)]


# ------------------------------------------------------------------------------------------- HTTP MJPEG
def _ffmpeg_read(path: Path) -> np.ndarray:
    """The file's frame as FFmpeg decodes it (its JPEG decoder rounds differently from libjpeg's cv2.imread)."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    ok, frame = cap.read()
    cap.release()
    assert ok
    return frame


def test_mjpeg_stream_gives_the_detections_of_the_file(det, scene_jpg):
    expected = det.detect(_ffmpeg_read(scene_jpg))
    assert len(expected) > 0
    with mjpeg_server(scene_jpg) as url:
        frames = _take(open_sources(url + "/stream", timeout=5), 5)
        assert [f.source for f in frames] == [url + "/stream"] * 5
        assert all(det.detect(f.image) == expected for f in frames)  # the same JPEG bytes: identical
        (still,) = list(open_sources(url + "/still.jpg"))  # downloaded, decoded like cv2.imread
        assert det.detect(still.image) == det.detect(str(scene_jpg))


def test_mjpeg_stream_reconnects_then_fails_keeping_frames(scene_jpg):
    with mjpeg_server(scene_jpg, drops=2) as url:
        reader = open_sources(url + "/drop", timeout=3, reconnect=2)
        got = []
        with pytest.raises(StreamLostError, match="stopped after 10 frames and 2 reconnection attempts"):
            for f in reader:
                got.append(f)
    assert len(got) == 10 and reader.stats[0].reconnects == 1


def test_a_page_that_is_not_a_stream_is_a_typed_error(scene_jpg):
    with mjpeg_server(scene_jpg) as url:
        t0 = time.perf_counter()
        with pytest.raises(SourceError, match=r"/page: cannot open the stream within 3 s"):
            list(open_sources(url + "/page", timeout=3, reconnect=0))
        assert time.perf_counter() - t0 < 3.5


def test_a_stalled_stream_is_an_error_not_a_hang(scene_jpg):
    with mjpeg_server(scene_jpg) as url:
        reader = open_sources(url + "/stall", timeout=5, stall=1.0)
        got, t0 = [], time.perf_counter()
        with pytest.raises(StreamStalledError, match="no frame for 1 s"):
            for f in reader:
                got.append(f)
        assert len(got) == 3 and time.perf_counter() - t0 < 4.0


def test_lite_detect_on_a_stream_writes_jsonl_without_credentials(scene_jpg, tmp_path, capfd, det):
    out = tmp_path / "dets.jsonl"
    expected = det.detect(_ffmpeg_read(scene_jpg))
    with mjpeg_server(scene_jpg) as url:
        secret_url = url.replace("http://", "http://viewer:s3cret@") + "/stream"
        code = main(["detect", secret_url, "--jsonl", str(out), "--max-frames", "4", "--backend", "ort"])
    assert code == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) >= 4 and all(r["source"].startswith("http://viewer:***@") for r in lines)
    assert lines[0]["boxes"] == np.round(expected.xyxy.astype(np.float64), 2).tolist()
    assert lines[0]["names"] == expected.labels and lines[0]["latency_ms"] > 0
    captured = capfd.readouterr()
    assert "s3cret" not in captured.out + captured.err + out.read_text()
    assert "0 dropped" in captured.err or "dropped" in captured.err


def test_show_without_a_gui_says_why(scene_jpg, capsys, monkeypatch):
    """This OpenCV is the headless wheel (no window can open): refused before reading, saying how to get the GUI
    build. (With the GUI wheel in its place, --show opens its window under Xvfb: docs/streams.md.)"""
    import re
    from importlib import metadata

    if re.search(r"GUI:\s*NONE", cv2.getBuildInformation()) is None:
        pytest.skip("this OpenCV has a GUI")
    monkeypatch.setenv("DISPLAY", ":99")  # a display is there: the build alone is the reason
    assert main(["detect", str(scene_jpg), "--show"]) == 2
    err = capsys.readouterr().err
    assert "--show: this OpenCV" in err and "built without a GUI" in err
    version = metadata.version("opencv-python-headless")
    assert f"pip uninstall -y opencv-python-headless && pip install 'opencv-python=={version}'" in err


def test_show_without_a_display_says_why(scene_jpg, capsys, monkeypatch):
    monkeypatch.setattr(cv2, "getBuildInformation", lambda: "  GUI:   QT5\n")  # as the GUI wheel reports itself
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["detect", str(scene_jpg), "--show"]) == 2
    assert "--show: no display (DISPLAY is not set)" in capsys.readouterr().err


def test_the_live_loop_opens_onnx_runtime_without_spinning(scene_jpg):
    """ONNX Runtime's threads sleep when idle in the frame loop (they would take CPU from the decoding readers)."""
    import argparse

    from lite.cli._live import live_engine_options
    from lite.cv import Detector
    from lite.hub import default_model

    model = default_model()
    args = argparse.Namespace(model=str(model), backend=None)
    assert live_engine_options(args) == {"spinning": False}
    assert live_engine_options(argparse.Namespace(model=str(model), backend="openvino")) == {}
    assert live_engine_options(argparse.Namespace(model="some-hub-name", backend=None)) == {}
    with Detector.from_file(model, threads=1, **live_engine_options(args)) as d:
        opts = d.backend.session.get_session_options()
        assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
        assert len(d.detect(str(scene_jpg))) > 0


# ------------------------------------------------------------------------------------------- RTSP
def _assert_h264_frames_match(det, frames, scene_jpg, url):
    """Frames of an H.264 stream of ``scene_jpg`` give its detections: H.264 is lossy, so the same objects, the
    same classes and the same boxes within 1-2 px (IoU > 0.9)."""
    expected = det.detect(cv2.imread(str(scene_jpg)))
    assert len(expected) > 0 and len(frames) == 5
    assert [f.source for f in frames] == [url] * 5
    for f in frames:
        got = det.detect(f.image)
        assert sorted(got.class_ids.tolist()) == sorted(expected.class_ids.tolist())
        iou = _iou(got.xyxy, expected.xyxy)
        assert (iou.max(axis=1) > 0.9).all()


def test_rtsp_stream_gives_the_detections_of_the_file(det, scene_jpg):
    with rtsp_server(scene_jpg, fps=10) as url:
        frames = _take(open_sources(url, timeout=10), 5)
    _assert_h264_frames_match(det, frames, scene_jpg, url)


# ------------------------------------------------------------------------------------------- HLS, RTMP
def test_hls_stream_gives_the_detections_of_the_file(det, scene_jpg, tmp_path):
    with hls_server(scene_jpg, tmp_path / "hls", fps=10) as url:
        (spec,) = parse_source(url)
        assert (spec.kind, spec.live) == ("stream", True)
        frames = _take(open_sources(url, timeout=10), 5)
    _assert_h264_frames_match(det, frames, scene_jpg, url)


def test_rtmp_stream_gives_the_detections_of_the_file(det, scene_jpg):
    with rtmp_server(scene_jpg, fps=10) as url:
        frames = _take(open_sources(url, timeout=15), 5)
    _assert_h264_frames_match(det, frames, scene_jpg, url)


def test_tracker_ids_stay_the_same_on_a_looped_still_image(det, scene_jpg):
    pytest.importorskip("trackers")
    with rtsp_server(scene_jpg, fps=10) as url:
        ids = []
        gen = det.track(url, timeout=10)
        for _frame, tracks in gen:
            ids.append(sorted(tracks.tracker_id.tolist()))
            if len(ids) == 15:
                break
        gen.close()
    # the trackers package gives ids from a track's second frame; ByteTrack starts tracks at score >= 0.5
    expected = det.detect(cv2.imread(str(scene_jpg)))
    assert ids[0] == [] and len(ids[1]) == int((expected.scores >= 0.5).sum()) > 0
    assert all(x == ids[1] for x in ids[1:]), ids


def test_live_save_splits_annotated_video(det, scene_jpg, tmp_path):
    with rtsp_server(scene_jpg, fps=10) as url:
        code = main(["detect", url, "--save", str(tmp_path), "--split", "0.3", "--max-frames", "12", "--no-progress",
                     "--backend", "ort"])  # fmt: skip
    assert code == 0
    parts = sorted(tmp_path.glob("*.mp4"))
    assert len(parts) >= 2, parts
    cap = cv2.VideoCapture(str(parts[0]))
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (320, 320, 3)
    assert not list(tmp_path.glob(".*partial*"))


# ------------------------------------------------------------------------------------------- cameras
class _FakeCamera:
    """A camera at 200 fps, for what no device here can show: latest-frame dropping of a fast source."""

    def __init__(self, index, *args):
        self.index, self.k = index, 0

    def isOpened(self):  # noqa: N802 - OpenCV's name
        return self.index == 0

    def read(self):
        time.sleep(0.005)
        self.k += 1
        return True, np.full((48, 64, 3), self.k % 256, np.uint8)

    def release(self):
        pass


def test_camera_keeps_only_the_latest_frame(monkeypatch):
    monkeypatch.setattr(cv2, "VideoCapture", _FakeCamera)
    reader = open_sources("0")
    frames = []
    with reader:
        for f in reader:
            frames.append(f)
            time.sleep(0.05)  # a slow consumer
            if len(frames) == 5:
                break
    gaps = np.diff([f.index for f in frames])
    assert (gaps > 1).all()  # stale frames skipped
    assert reader.stats[0].dropped >= 5
    assert int(frames[-1].image[0, 0, 0]) == (frames[-1].index + 1) % 256
    assert threading.active_count() < 50


def test_a_camera_that_does_not_exist_is_a_typed_error():
    t0 = time.perf_counter()
    with pytest.raises(SourceError, match="camera 9: no such camera"):
        list(open_sources("9", timeout=2))
    assert time.perf_counter() - t0 < 2.5


def test_two_sources_come_in_batches_of_one_frame_each(tmp_path, scene_jpg):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(3):
            cv2.imwrite(str(tmp_path / name / f"{i}.png"), cv2.imread(str(scene_jpg)))
    with open_sources([str(tmp_path / "a"), str(tmp_path / "b")]) as reader:
        batches = list(reader.batches())
    got = [(f.source_index, f.index) for b in batches for f in b]
    assert sorted(got) == [(s, i) for s in (0, 1) for i in range(3)]
    assert all(len({f.source_index for f in b}) == len(b) for b in batches)  # never two frames of one source
    assert max(len(b) for b in batches) == 2


def test_video_url_gives_every_frame(scene_jpg, tmp_path):
    clip = tmp_path / "clip.mp4"
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 320))
    for k in range(7):
        w.write(np.full((320, 320, 3), 30 * k, np.uint8))
    w.release()
    with mjpeg_server(scene_jpg, video=clip) as url:
        frames = list(open_sources(url + "/clip.mp4", timeout=5))
    assert [f.index for f in frames] == list(range(7))
    grey = np.array([np.median(f.image) for f in frames])
    assert (np.diff(grey) > 20).all()  # every frame, in order (mp4v's YUV range shifts the exact levels)


def test_detect_stream_on_a_failing_source_names_it(det):
    with pytest.raises(StreamError) as e:
        list(det.detect_stream("rtsp://u:pw@127.0.0.1:1/x"))
    assert isinstance(e.value.__cause__, SourceError) and "rtsp://u:***@127.0.0.1:1/x" in str(e.value)


def test_screen_without_mss_says_how_to_install():
    import importlib.util

    if importlib.util.find_spec("mss") is not None:
        pytest.skip("mss is installed here")
    with pytest.raises(BackendNotInstalledError, match=r"lite-detect\[screen\]"):
        list(open_sources("screen"))


def test_live_sources_are_refused_with_ray(capsys):
    assert main(["detect", "rtsp://u:pw@cam/x", "--ray"]) == 2
    err = capsys.readouterr().err
    assert "--ray runs on image files" in err and "rtsp://u:***@cam/x" in err and "pw@" not in err


class _DeadCamera(_FakeCamera):
    def read(self):
        return False, None


def test_a_camera_that_opens_but_gives_no_frame(monkeypatch):
    monkeypatch.setattr(cv2, "VideoCapture", _DeadCamera)
    with pytest.raises(SourceError, match="camera 0: opened but gives no frame"):
        list(open_sources(0))
    with pytest.raises(InputError, match="empty string"):
        parse_source("  ")
