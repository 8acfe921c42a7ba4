"""The frame loop of ``lite detect`` / ``lite track`` on cameras, streams, the screen and source lists.

Frames come from `lite.data.sources` (latest frame for live sources, every frame for files); frames of
several sources that are ready together run as one batch when the engine takes a batch. Outputs:
``--jsonl`` (one JSON line per frame, a file or ``-`` for stdout), ``--save DIR`` (annotated video per
source, split every ``--split`` seconds), ``--show`` (an OpenCV window) and a status line (FPS,
latency capture → result, dropped frames) on stderr. A source that fails ends with its typed error
after everything before it was written.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add_live_arguments", "live_engine_options", "refuse_live_on_ray", "run_live", "wants_live"]

_FILE_KINDS = ("image", "folder", "glob", "video")


def add_live_arguments(p: argparse.ArgumentParser) -> None:
    """The options of live sources (cameras, streams, screen, source lists)."""
    g = p.add_argument_group("live sources (cameras, rtsp/rtmp/http streams, screen, .txt source lists)")
    g.add_argument("--show", action="store_true", help="show the annotated frames in a window (needs a display)")
    g.add_argument("--jsonl", default=None, metavar="FILE",
                   help="one JSON line per frame to FILE ('-': stdout)")  # fmt: skip
    g.add_argument("--split", type=float, default=300.0, metavar="S",
                   help="with --save: start a new video file every S seconds of a live source")  # fmt: skip
    g.add_argument("--timeout", type=float, default=10.0, metavar="S", help="seconds to open or read a stream")
    g.add_argument("--reconnect", type=int, default=3, metavar="N",
                   help="reconnection attempts of a dropped stream (exponential back-off)")  # fmt: skip
    g.add_argument("--stall", type=float, default=None, metavar="S",
                   help="a live source without a frame for S seconds is an error (default: 2x --timeout)")  # fmt: skip
    g.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N frames")
    g.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")


def wants_live(args: argparse.Namespace) -> bool:
    """Whether ``lite detect`` runs the frame loop: a non-file source or an option only it has."""
    if getattr(args, "show", False) or getattr(args, "jsonl", None) is not None:
        return True
    if getattr(args, "max_frames", None) is not None or getattr(args, "duration", None) is not None:
        return True
    from lite.data.sources import is_source_list, parse_sources

    if not args.source:
        return False
    if any(is_source_list(s) for s in args.source):
        return True
    return any(s.kind not in _FILE_KINDS for s in parse_sources(args.source))


def live_engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """Engine options of the frame loop: ONNX Runtime's idle threads sleep instead of spinning (``spinning=False``).

    The loop shares the CPU with the reader threads (FFmpeg decoding) and, here, other programs: spinning
    threads take CPU from them while the engine waits for a frame. Measured with four 10 fps RTSP streams,
    Lite-S 320, 2 shared cores, runs interleaved (``benchmarks/bench_streams.py``, docs/streams.md): 7.0-8.9
    instead of 3.5-4.0 frames per second and stream, capture-to-result latency p50 18-53 instead of 267-308 ms.
    Other engines take no such option; a model named by hub name keeps the backend's default.
    """
    from lite import backends
    from lite.core.errors import LiteError

    model = args.model
    if model is None:
        from lite.hub import default_model

        model = default_model()
    try:
        name = args.backend or backends.backend_for_path(model)
    except LiteError:  # a hub name (no suffix): its backend is known only once it resolves
        return {}
    return {"spinning": False} if name == "ort" else {}


def refuse_live_on_ray(args: argparse.Namespace) -> None:
    """``--ray`` runs on image files: refuse cameras, streams, the screen and the live-only options, saying why."""
    from lite.core.errors import InputError
    from lite.data.sources import parse_sources

    if not args.source:
        return
    live = [s.name for s in parse_sources(args.source) if s.kind not in _FILE_KINDS]
    if live or args.show or args.jsonl is not None:
        what = f"the live source {live[0]}" if live else "--show / --jsonl"
        raise InputError(f"--ray runs on image files (folders, globs, lists of paths); got {what}: drop --ray")


# ---------------------------------------------------------------------------------------------- outputs
def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:80] or "source"


class _JsonLines:
    """One line per frame, to stdout or to a file written beside its final name and renamed when closed."""

    def __init__(self, target: str | None, exist_ok: bool) -> None:
        self.target, self._f, self._tmp = target, None, None
        if target is None:
            return
        if target == "-":
            self._f = sys.stdout
            return
        from lite.core.files import temp_path_beside
        from lite.data.outputs import plan_outputs

        plan_outputs([Path(target)], exist_ok=exist_ok, flag="--exist-ok")
        self._tmp = temp_path_beside(target)
        self._f = open(self._tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, record: dict[str, Any]) -> None:
        if self._f is not None:
            self._f.write(json.dumps(record) + "\n")

    def close(self) -> None:
        """Keep what was written (also after an error: complete lines up to it)."""
        if self._f is None or self._f is sys.stdout:
            return
        self._f.close()
        os.replace(self._tmp, self.target)


class _VideoSink:
    """Annotated video of one source, a new file every ``split`` seconds, each renamed into place when complete.

    A live source's frame rate is what lite delivers (frames are dropped when the detector is slower), so the
    first frames of each file are held until their capture times give the rate (``fps``: files, or too few frames).
    """

    _PROBE = 10  # frames held to measure a live source's delivered rate

    def __init__(self, folder: Path, name: str, split: float, fps: float | None, exist_ok: bool) -> None:
        self.folder, self.stem, self.split, self.fps, self.exist_ok = folder, _slug(name), split, fps, exist_ok
        self.writer, self.part, self.started, self.tmp, self.final = None, 0, 0.0, None, None
        self.pending: list[tuple[np.ndarray, float]] = []
        self.written: list[Path] = []

    def write(self, img: np.ndarray, now: float) -> None:
        if self.writer is not None and now - self.started >= self.split:
            self.close()
        if self.writer is not None:
            self.writer.write(img)
            return
        self.pending.append((img, now))
        if self.fps is not None or len(self.pending) >= self._PROBE:
            self._open()

    def _rate(self) -> float:
        if self.fps is not None:
            return self.fps
        t = [p[1] for p in self.pending]
        span = t[-1] - t[0] if len(t) > 1 else 0.0
        return float(np.clip((len(t) - 1) / span, 1.0, 60.0)) if span > 0 else 10.0

    def _open(self) -> None:
        import cv2

        self.part += 1
        self.final = self.folder / f"{self.stem}_{self.part:03d}.mp4"
        if self.final.exists() and not self.exist_ok:
            from lite.core.errors import OutputExistsError

            raise OutputExistsError(f"{self.final} exists; pass --exist-ok to replace it, or choose another --save")
        self.tmp = self.final.with_name(f".{self.final.stem}.partial.mp4")
        h, w = self.pending[0][0].shape[:2]
        self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), self._rate(), (w, h))
        if not self.writer.isOpened():
            from lite.core.errors import OutputError

            raise OutputError(f"OpenCV cannot write the video {self.final} (mp4v codec unavailable)")
        self.started = self.pending[0][1]
        for img, _ in self.pending:
            self.writer.write(img)
        self.pending = []

    def close(self) -> None:
        if self.writer is None and self.pending:
            self._open()
        if self.writer is None:
            return
        self.writer.release()
        os.replace(self.tmp, self.final)
        self.written.append(self.final)
        self.writer = None


def _check_display() -> None:
    """Refuse ``--show`` up front where no window can open, saying why."""
    import cv2

    from lite.core.errors import OutputError

    gui = re.search(r"GUI:\s*(\S+)", cv2.getBuildInformation())
    if gui is not None and gui.group(1).upper() == "NONE":
        raise OutputError(
            f"--show: this OpenCV ({cv2.__version__}) is built without a GUI, so it cannot open a window. "
            f"{_gui_build_hint()} Or keep it and use --save DIR / --jsonl FILE"
        )
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise OutputError(
            "--show: no display (DISPLAY is not set): run it on a desktop, under a virtual display "
            "(xvfb-run lite detect ... --show), or use --save DIR / --jsonl FILE"
        )


def _gui_build_hint() -> str:
    """How to get OpenCV's GUI build in place of the installed headless wheel (both own the ``cv2`` module)."""
    from importlib import metadata

    for headless, gui in (("opencv-python-headless", "opencv-python"),
                          ("opencv-contrib-python-headless", "opencv-contrib-python")):  # fmt: skip
        with contextlib.suppress(metadata.PackageNotFoundError):
            version = metadata.version(headless)
            return (f"For windows, swap the {headless} wheel for the GUI build of the same version (both own the cv2 "
                    f"module): pip uninstall -y {headless} && pip install '{gui}=={version}'.")  # fmt: skip
    return "For windows, install an OpenCV built with a GUI (Qt, GTK, Win32 or Cocoa), e.g. pip install opencv-python."


class _Status:
    """FPS, capture → result latency and dropped frames, printed about once a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.t0, self.last = enabled, time.perf_counter(), 0.0
        self.frames, self.latency_ms = 0, []  # latencies of the last second
        self.run_ms: deque = deque(maxlen=10_000)  # of the whole run (its last 10 000 frames), for the last line

    def update(self, n: int, latencies: list[float], dropped: int, force: bool = False) -> None:
        """Count ``n`` more frames; print about once a second, and the whole run's figures when ``force``."""
        self.frames += n
        self.latency_ms += latencies
        self.run_ms.extend(latencies)
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 1.0 and not force):
            return
        lat = np.asarray((self.run_ms if force else self.latency_ms) or [0.0])
        fps = self.frames / max(now - self.t0, 1e-9)
        end = "\n" if force or not sys.stderr.isatty() else "\r"
        print(f"{self.frames} frames, {fps:.1f} FPS, latency p50 {np.median(lat):.0f} ms p95 "
              f"{np.percentile(lat, 95):.0f} ms, dropped {dropped}", file=sys.stderr, end=end, flush=True)  # fmt: skip
        self.last, self.latency_ms = now, []


# ---------------------------------------------------------------------------------------------- the loop
def _record(frame: Any, d: Any, latency_ms: float) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "source": frame.source,
        "frame": frame.index,
        "timestamp": round(frame.timestamp, 6),
        "latency_ms": round(latency_ms, 2),
        "boxes": np.round(d.xyxy.astype(np.float64), 2).tolist(),
        "scores": np.round(d.scores.astype(np.float64), 4).tolist(),
        "class_ids": d.class_ids.tolist(),
        "names": d.labels,
    }
    if d.masks is not None:  # segmentation: COCO RLE per detection, in frame pixels
        rec["segmentation"] = d.masks_rle()
    if d.keypoints is not None:  # pose: [[x, y, score], ...] per detection
        rec["keypoints"] = np.round(d.keypoints.astype(np.float64), 2).tolist()
    if frame.path is not None:
        rec["path"] = str(frame.path)
    if d.tracker_id is not None:
        rec["tracker_ids"] = d.tracker_id.tolist()
    return rec


def run_live(args: argparse.Namespace, det: Any, *, tracker: str | None = None) -> int:
    """Run the frame loop over ``args.source`` with the opened detector ``det``; returns the exit code.

    Raises:
        SourceError: A source failed (after every frame before the failure was written).
        OutputError: ``--show`` without a display, or an output that cannot be written.
    """
    from lite.cv.track import detect_frames
    from lite.data.sources import open_sources

    if args.show:
        _check_display()
    if getattr(args, "json", None) is not None:
        from lite.core.errors import InputError

        raise InputError("--json writes COCO results of image files; for cameras and streams use --jsonl FILE")
    tracks = trails = None
    if tracker is not None:
        from lite.cv.track import TrackerSet

        tracks = TrackerSet(tracker)
        trails = {}
    if args.save is not None:
        from lite.data.outputs import plan_outputs

        plan_outputs([args.save / ".lite-check"], exist_ok=True)  # creates the folder, checks it is writable
    reader = open_sources(args.source, timeout=args.timeout, reconnect=args.reconnect, stall=args.stall)
    jsonl = _JsonLines(args.jsonl, args.exist_ok)
    sinks: dict[int, _VideoSink] = {}
    status = _Status(enabled=not args.no_progress)
    started, total, quit_ = time.perf_counter(), 0, False
    try:
        for batch in reader.batches():
            results = detect_frames(det, [f.image for f in batch])
            done = time.perf_counter()
            latencies = []
            for frame, d in zip(batch, results, strict=True):
                if tracks is not None:
                    d = tracks.update(frame.source_index, d)
                    trails.setdefault(frame.source_index, _trails()).update(d)
                latency = (done - frame.captured) * 1e3
                latencies.append(latency)
                jsonl.write(_record(frame, d, latency))
                if args.save is not None or args.show:
                    img = trails[frame.source_index].draw(frame.image, d) if trails else d.draw(frame.image)
                    quit_ = _output(args, frame, img, sinks, reader) or quit_
            status.update(len(batch), latencies, reader.dropped)
            total += len(batch)
            if (
                quit_
                or (args.max_frames is not None and total >= args.max_frames)
                or (args.duration is not None and time.perf_counter() - started >= args.duration)
            ):
                break
    finally:
        reader.close()
        jsonl.close()
        for sink in sinks.values():
            sink.close()
        if args.show:
            import cv2

            with contextlib.suppress(cv2.error):  # the user may have closed the window already
                cv2.destroyAllWindows()
        status.update(0, [], reader.dropped, force=True)
        _summary(args, reader, sinks)
    return 0


def _trails() -> Any:
    from lite.cv.track import Trails

    return Trails()


def _output(args: argparse.Namespace, frame: Any, img: np.ndarray, sinks: dict, reader: Any) -> bool:
    """Write/show one annotated frame; True when the user pressed ``q`` in the window."""
    if args.save is not None:
        sink = sinks.get(frame.source_index)
        if sink is None:
            fps = None if reader.specs[frame.source_index].live else 30.0  # live: the delivered rate, measured
            sink = sinks[frame.source_index] = _VideoSink(args.save, frame.source, args.split, fps, args.exist_ok)
        sink.write(img, frame.captured)
    if args.show:
        import cv2

        cv2.imshow(f"lite: {frame.source}", img)
        return cv2.waitKey(1) & 0xFF == ord("q")
    return False


def _summary(args: argparse.Namespace, reader: Any, sinks: dict) -> None:
    for st in reader.stats:
        line = f"{st.name}: {st.delivered} frames, {st.dropped} dropped, {st.reconnects} reconnects"
        print(line + (f", ended: {type(st.error).__name__}" if st.error else ""), file=sys.stderr)
    for sink in sinks.values():
        for p in sink.written:
            print(f"saved: {p}")
    if args.jsonl not in (None, "-"):
        print(f"results: {args.jsonl}", file=sys.stderr)
