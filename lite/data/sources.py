"""Sources of frames: files, folders, globs, videos, cameras, network streams, the screen, source lists.

One string names a source, and every entry point (`lite detect SOURCE`, ``Detector.detect_stream(SOURCE)``,
``Detector.track(SOURCE)``) reads it the same way (`parse_source`):

==========================================  ============  =====================================
source string                               kind          frames
==========================================  ============  =====================================
``bus.jpg``, ``imgs/``, ``'imgs/*.jpg'``    image/folder  every image, in order
``clip.mp4``                                video         every frame
``0``, ``1``                                camera        live (latest frame)
``rtsp://``, ``rtmp://`` URLs               stream        live (latest frame), reconnects
``http(s)://…`` (MJPEG, ``.m3u8`` HLS)      stream        live (latest frame), reconnects
``http(s)://…/x.jpg``                       url-image     one image, downloaded
``http(s)://…/x.mp4``                       url-video     every frame
``screen``, ``screen:2``                    screen        live (needs ``pip install mss``)
``cams.txt`` (one source per line)          list          every source above, read together
==========================================  ============  =====================================

`open_sources` starts one reader thread per source and gives `Frame` objects (image, source id, frame
index, timestamp). Files are read frame by frame with back-pressure (nothing is skipped). Live sources
keep only their latest frame: a frame the consumer did not take before the next one arrived is dropped
and counted (`SourceStats.dropped`), so the queue never grows and latency stays bounded.

A network stream whose reads fail is reopened with exponential back-off (``reconnect`` attempts, each
open bounded by ``timeout``); then the source ends with `StreamLostError`. A live source that delivers
no frame for ``stall`` seconds ends with `StreamStalledError`, never a hang. A source that cannot be
opened (unreachable host, a path that is not a stream, a camera that does not exist) ends with
`SourceError` naming it within ``timeout``. In a list, a failing source ends alone; the others go on,
and the reader raises the collected errors (`SourcesFailedError`) only after every frame was given.

User names and passwords in URLs never appear in names, messages or logs: `mask_url` turns
``rtsp://user:pw@host/x`` into ``rtsp://user:***@host/x``.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lite.core.errors import (
    BackendNotInstalledError,
    ImageNotFoundError,
    InputError,
    SourceError,
    SourcesFailedError,
    StreamLostError,
    StreamStalledError,
)
from lite.data.io import IMAGE_SUFFIXES, VIDEO_SUFFIXES, load_image, resolve_source

__all__ = [
    "Frame",
    "FrameReader",
    "LIVE_KINDS",
    "SourceSpec",
    "SourceStats",
    "is_source_list",
    "mask_url",
    "open_sources",
    "parse_source",
    "parse_sources",
]

#: Kinds read in latest-frame mode (stale frames dropped and counted).
LIVE_KINDS = frozenset({"camera", "stream", "screen"})
_STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "rtmps://", "http://", "https://", "udp://", "tcp://", "srt://")
_LIST_SUFFIXES = (".txt", ".streams")
_POLL_S = 0.05
_MAX_DOWNLOAD = 256 << 20  # bytes of a single image URL


# --------------------------------------------------------------------------- naming


def mask_url(text: str) -> str:
    """``text`` with the password of a URL replaced by ``***`` (``rtsp://user:***@host/x``); other text as is."""
    if "://" not in text or "@" not in text:
        return text
    parts = urllib.parse.urlsplit(text)
    if parts.password is None and parts.username is None:
        return text
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    netloc = f"{user}:***@{host}" if parts.password is not None else f"{user}@{host}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class SourceSpec:
    """One parsed source string.

    Attributes:
        kind: ``"image"``, ``"folder"``, ``"glob"``, ``"video"``, ``"camera"``, ``"stream"``,
            ``"url-image"``, ``"url-video"`` or ``"screen"``.
        target: What is opened: a path, a URL (with its credentials), a camera index or a monitor number.
        name: The source id shown in messages, logs and JSON (credentials masked).
        paths: The image files of an image, folder or glob source.
    """

    kind: str
    target: Any
    name: str
    paths: tuple[Path, ...] = ()

    @property
    def live(self) -> bool:
        """Whether frames come in real time (latest-frame mode) rather than from a file."""
        return self.kind in LIVE_KINDS


def _url_kind(text: str) -> str:
    path = urllib.parse.urlsplit(text).path.lower()
    if not text.startswith(("http://", "https://")):
        return "stream"
    suffix = os.path.splitext(path)[1]
    if suffix in IMAGE_SUFFIXES:
        return "url-image"
    if suffix in VIDEO_SUFFIXES:
        return "url-video"
    return "stream"  # MJPEG, HLS (.m3u8) and anything else FFmpeg reads as a stream


def parse_source(source: str | os.PathLike | int) -> list[SourceSpec]:
    """Read one source string (see the module docstring); a source list file gives one spec per line.

    Args:
        source: A path, folder, glob, video, camera index, URL, ``"screen"`` or a ``.txt`` list of sources.

    Returns:
        The sources it names, in order.

    Raises:
        ImageNotFoundError: A local path that does not exist, or a folder/glob without images.
        InputError: An empty source string, or an empty source list.
    """
    if isinstance(source, int) and not isinstance(source, bool):
        return [SourceSpec("camera", source, f"camera {source}")]
    text = os.fspath(source)
    text = text.decode() if isinstance(text, bytes) else text
    stripped = text.strip()
    if not stripped:
        raise InputError("source: expected a path, a URL, a camera index or 'screen'; got an empty string")
    if stripped.isdigit():
        return [SourceSpec("camera", int(stripped), f"camera {int(stripped)}")]
    if stripped.lower().startswith(_STREAM_SCHEMES):
        return [SourceSpec(_url_kind(stripped), stripped, mask_url(stripped))]
    if stripped == "screen" or (stripped.startswith("screen:") and stripped[7:].isdigit()):
        monitor = int(stripped[7:]) if ":" in stripped else 1
        return [SourceSpec("screen", monitor, stripped)]
    if is_source_list(text):
        return _read_list(Path(text))
    kind, paths = resolve_source(text)
    return [SourceSpec(kind, paths[0] if kind == "video" else text, text, tuple(paths))]


def _read_list(path: Path) -> list[SourceSpec]:
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    entries = [ln for ln in lines if ln and not ln.startswith("#")]
    if not entries:
        raise InputError(f"{path}: expected one source per line (paths, URLs, camera indices); the list is empty")
    out: list[SourceSpec] = []
    for entry in entries:
        if Path(entry).suffix.lower() in _LIST_SUFFIXES:
            raise InputError(f"{path}: a source list may not name another list ({mask_url(entry)})")
        try:
            out += parse_source(entry)
        except (ImageNotFoundError, InputError) as e:  # a bad entry fails alone when the reader runs
            out.append(SourceSpec("missing", e, mask_url(entry)))
    return out


def is_source_list(source: str | os.PathLike | int) -> bool:
    """Whether ``source`` names a text file listing sources (``.txt`` / ``.streams``)."""
    if isinstance(source, int):
        return False
    path = Path(os.fspath(source))
    return path.suffix.lower() in _LIST_SUFFIXES and path.is_file()


def parse_sources(sources: str | os.PathLike | int | Sequence[str | os.PathLike | int]) -> list[SourceSpec]:
    """`parse_source` over one source or several (a shell-expanded glob gives several)."""
    if isinstance(sources, str | os.PathLike | int):
        return parse_source(sources)
    out: list[SourceSpec] = []
    for s in sources:
        out += parse_source(s)
    if not out:
        raise InputError("sources: expected at least one source; got none")
    return out


# --------------------------------------------------------------------------- frames


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame of a source.

    Attributes:
        image: The BGR ``uint8`` ``(H, W, 3)`` frame.
        source: The source id (its masked name).
        source_index: Position of the source among those read together.
        index: Frame number within the source (counts dropped frames too, so gaps show drops).
        timestamp: Wall-clock capture time (``time.time()``).
        captured: Monotonic capture time (``time.perf_counter()``), for latency.
        path: The image or video file, for file sources.
    """

    image: np.ndarray
    source: str
    source_index: int
    index: int
    timestamp: float
    captured: float
    path: Path | None = None


@dataclass
class SourceStats:
    """Counters of one source.

    Attributes:
        name: The source id.
        frames: Frames read from the source.
        delivered: Frames handed to the consumer.
        dropped: Stale frames replaced by a newer one before the consumer took them (live sources).
        reconnects: Times the stream was reopened.
        error: Why the source ended early (None: it ended normally or is still running).
    """

    name: str
    frames: int = 0
    delivered: int = 0
    dropped: int = 0
    reconnects: int = 0
    error: BaseException | None = None


class _End:
    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


@dataclass
class _Channel:
    """What one reader thread hands to the consumer: a latest-frame slot (live) or a bounded queue (files)."""

    spec: SourceSpec
    position: int
    latest: bool
    depth: int
    stats: SourceStats
    items: deque = field(default_factory=deque)
    last_frame: float = field(default_factory=time.perf_counter)
    ended: bool = False  # the consumer took the end (or closed the reader)
    abandoned: bool = False  # the consumer gave up on it (stalled): frames arriving later are discarded


# --------------------------------------------------------------------------- opening


def _capture(target: Any, timeout: float) -> Any:
    """A ``cv2.VideoCapture`` of ``target`` with open/read timeouts where the FFmpeg backend takes them."""
    # FFmpeg's own log lines may quote a URL with its password: keep them off unless the user asked for them
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if isinstance(target, int):
        return cv2.VideoCapture(target)
    ms = int(timeout * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
    return cv2.VideoCapture(str(target), cv2.CAP_FFMPEG, params)


def _open_capture(spec: SourceSpec, timeout: float) -> Any:
    cap = _capture(spec.target, timeout)
    if cap.isOpened():
        return cap
    cap.release()
    if spec.kind == "camera":
        raise SourceError(
            f"camera {spec.target}: no such camera (OpenCV cannot open device {spec.target}"
            f"{', /dev/video' + str(spec.target) + ' missing' if os.name == 'posix' else ''}). "
            "Check the index (0 is the first camera) and that no other program holds it.",
            source=spec.name,
        )
    if spec.kind == "video":
        raise SourceError(f"{spec.name}: OpenCV cannot open the video (unsupported codec or not a video)",
                          source=spec.name)  # fmt: skip
    raise SourceError(
        f"{spec.name}: cannot open the stream within {timeout:g} s (host or port unreachable, wrong path, "
        "credentials refused, or not a video stream). Check the URL with ffprobe or VLC.",
        source=spec.name,
    )


def _download(spec: SourceSpec, timeout: float) -> np.ndarray:
    try:
        with urllib.request.urlopen(spec.target, timeout=timeout) as r:  # noqa: S310 - http(s) only (parse_source)
            data = r.read(_MAX_DOWNLOAD + 1)
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise SourceError(f"{spec.name}: cannot download the image ({mask_url(str(reason))})",
                          source=spec.name) from None  # fmt: skip
    if len(data) > _MAX_DOWNLOAD:
        raise SourceError(f"{spec.name}: the image is larger than {_MAX_DOWNLOAD >> 20} MiB", source=spec.name)
    try:
        return load_image(data)
    except InputError as e:
        raise SourceError(f"{spec.name}: the downloaded data is not an image ({e})", source=spec.name) from None


def _grab_screen(monitor: int) -> Callable[[], np.ndarray]:
    try:
        import mss  # optional extra: pip install 'lite-detect[screen]'
    except ImportError as e:
        raise BackendNotInstalledError(
            "the 'screen' source needs the mss package: pip install 'lite-detect[screen]' (or pip install mss)"
        ) from e
    sct = mss.mss()
    if not 0 <= monitor < len(sct.monitors):
        raise SourceError(f"screen:{monitor}: no such monitor ({len(sct.monitors) - 1} found; 0 is all of them)",
                          source=f"screen:{monitor}")  # fmt: skip
    area = sct.monitors[monitor]
    return lambda: np.ascontiguousarray(np.asarray(sct.grab(area))[:, :, :3])


# --------------------------------------------------------------------------- the reader


class FrameReader:
    """Frames of one or several sources, read by one thread per source (made by `open_sources`).

    Iterate it for single frames, or call `batches` for one frame per ready source at a time.
    Use it as a context manager (or call `close`) so the reader threads and captures end.

    Attributes:
        specs: The sources read.
        stats: One `SourceStats` per source, live counters.
    """

    def __init__(
        self,
        specs: Sequence[SourceSpec],
        *,
        timeout: float = 10.0,
        reconnect: int = 3,
        stall: float | None = None,
        depth: int = 4,
        latest: bool | None = None,
    ) -> None:
        if timeout <= 0 or reconnect < 0 or depth < 1 or (stall is not None and stall <= 0):
            raise InputError(
                f"expected timeout > 0, reconnect >= 0, depth >= 1 and stall > 0 (or None); got timeout={timeout}, "
                f"reconnect={reconnect}, depth={depth}, stall={stall}"
            )
        self.specs = list(specs)
        self.timeout, self.reconnect, self.depth = float(timeout), int(reconnect), int(depth)
        self.stall = float(stall) if stall is not None else max(2.0 * self.timeout, 10.0)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self.stats = [SourceStats(s.name) for s in self.specs]
        self._channels = [
            _Channel(s, i, s.live if latest is None else latest, self.depth, st)
            for i, (s, st) in enumerate(zip(self.specs, self.stats, strict=True))
        ]
        self._threads = [
            threading.Thread(target=self._read, args=(i,), name=f"lite-source-{i}", daemon=True)
            for i in range(len(self.specs))
        ]
        self._next = 0
        for t in self._threads:
            t.start()

    # -- reader threads -------------------------------------------------------------
    def _read(self, i: int) -> None:
        ch = self._channels[i]
        try:
            for image, path in self._frames(ch):
                if not self._put(ch, image, path):
                    return
            self._finish(ch, None)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, which raises it
            self._finish(ch, e)

    def _frames(self, ch: _Channel) -> Iterator[tuple[np.ndarray, Path | None]]:
        spec = ch.spec
        if spec.kind == "missing":
            raise spec.target
        if spec.kind in ("image", "folder", "glob"):
            for p in spec.paths:
                yield load_image(str(p)), p
        elif spec.kind == "url-image":
            yield _download(spec, self.timeout), None
        elif spec.kind == "screen":
            grab = _grab_screen(spec.target)
            while not self._stop.is_set():
                yield grab(), None
        else:
            yield from self._capture_frames(ch)

    def _capture_frames(self, ch: _Channel) -> Iterator[tuple[np.ndarray, Path | None]]:
        spec = ch.spec
        network = spec.kind == "stream"
        path = spec.target if spec.kind == "video" else None
        cap = _open_capture(spec, self.timeout)
        try:
            while not self._stop.is_set():
                ok, frame = cap.read()
                if ok and frame is not None:
                    yield frame, path
                    continue
                if not network:  # end of a file, or a camera that stopped
                    if spec.kind == "camera" and ch.stats.frames == 0:
                        raise SourceError(f"camera {spec.target}: opened but gives no frame", source=spec.name)
                    return
                cap.release()
                cap = self._reopen(ch)
        finally:
            cap.release()

    def _reopen(self, ch: _Channel) -> Any:
        """Reopen a network stream with exponential back-off; `StreamLostError` when every attempt fails."""
        spec, last = ch.spec, None
        for attempt in range(self.reconnect):
            if self._stop.wait(min(0.5 * 2**attempt, 8.0)):
                raise StreamLostError(f"{spec.name}: closed while reconnecting", source=spec.name)
            try:
                cap = _open_capture(spec, self.timeout)
            except SourceError as e:
                last = e
                continue
            ch.stats.reconnects += 1
            return cap
        raise StreamLostError(
            f"{spec.name}: the stream stopped after {ch.stats.frames} frames and {self.reconnect} reconnection "
            f"attempts failed" + (f" ({last})" if last else "") + ". Results so far are kept; check the camera or "
            "server, or raise --reconnect / --timeout.",
            source=spec.name,
        )

    def _put(self, ch: _Channel, image: np.ndarray, path: Path | None) -> bool:
        now = time.perf_counter()
        with self._cond:
            if ch.ended or ch.abandoned:
                return False
            frame = Frame(image, ch.spec.name, ch.position, ch.stats.frames, time.time(), now, path)
            ch.stats.frames += 1
            ch.last_frame = now
            if ch.latest:
                if ch.items:
                    ch.items.clear()
                    ch.stats.dropped += 1
                ch.items.append(frame)
            else:
                while len(ch.items) >= ch.depth and not self._stop.is_set():
                    self._cond.wait(_POLL_S)
                if self._stop.is_set():
                    return False
                ch.items.append(frame)
            self._cond.notify_all()
        return True

    def _finish(self, ch: _Channel, error: BaseException | None) -> None:
        with self._cond:
            if not ch.ended and not ch.abandoned:
                ch.items.append(_End(error))
            self._cond.notify_all()

    # -- consumer -----------------------------------------------------------------------
    def _check_stalls(self) -> None:
        now = time.perf_counter()
        for ch in self._channels:
            if ch.latest and not ch.ended and not ch.abandoned and not ch.items and now - ch.last_frame > self.stall:
                ch.abandoned = True
                ch.items.append(
                    _End(
                        StreamStalledError(
                            f"{ch.spec.name}: no frame for {self.stall:g} s (stalled after {ch.stats.frames} frames)"
                            ". Results so far are kept; raise --stall if the source is slow.",
                            source=ch.spec.name,
                        )
                    )
                )

    def batches(self, max_batch: int | None = None) -> Iterator[list[Frame]]:
        """Frames of every source, at most one per source per batch, as soon as one is ready.

        Args:
            max_batch: At most this many frames per batch (None: one per source).

        Yields:
            Non-empty lists of `Frame`, from different sources.

        Raises:
            SourceError: The only source failed (after its frames were given), e.g. `StreamLostError`.
            SourcesFailedError: Some of several sources failed; the others were read to their end.
        """
        limit = max_batch or len(self._channels)
        errors: list[BaseException] = []
        try:
            while True:
                batch, open_channels = self._take(limit, errors)
                if batch:
                    yield batch
                elif not open_channels:
                    break
        finally:
            self.close()
        self._raise(errors)

    def _take(self, limit: int, errors: list[BaseException]) -> tuple[list[Frame], bool]:
        with self._cond:
            only_files = not any(ch.latest for ch in self._channels)
            while True:
                open_channels = [ch for ch in self._channels if not ch.ended]
                ready = [ch for ch in open_channels if ch.items]
                # files only: a frame of every open file per batch; with live sources: whatever is ready
                if (ready and (not only_files or len(ready) == len(open_channels))) or not open_channels:
                    break
                self._cond.wait(_POLL_S)
                self._check_stalls()
            batch: list[Frame] = []
            n = len(self._channels)
            for k in range(n):
                ch = self._channels[(self._next + k) % n]
                if not ch.items or ch.ended or len(batch) >= limit:
                    continue
                item = ch.items.popleft()
                if isinstance(item, _End):
                    ch.ended = True
                    ch.items.clear()
                    if item.error is not None:
                        ch.stats.error = item.error
                        errors.append(item.error)
                    continue
                ch.stats.delivered += 1
                batch.append(item)
            self._next = (self._next + 1) % max(n, 1)
            self._cond.notify_all()
            return batch, not all(ch.ended for ch in self._channels)

    def _raise(self, errors: list[BaseException]) -> None:
        if not errors:
            return
        if len(self.specs) == 1:
            raise errors[0]
        lines = "; ".join(str(e) for e in errors)
        raise SourcesFailedError(
            f"{len(errors)} of {len(self.specs)} sources failed (the others were read to their end): {lines}",
            errors=tuple(errors),
        ) from errors[0]

    def __iter__(self) -> Iterator[Frame]:
        for batch in self.batches(1):
            yield batch[0]

    def close(self) -> None:
        """Stop the reader threads and release the captures (waits briefly for each thread)."""
        self._stop.set()
        with self._cond:
            for ch in self._channels:
                ch.ended = True
            self._cond.notify_all()
        for t, ch in zip(self._threads, self._channels, strict=True):
            if t is not threading.current_thread():
                # a stalled reader may sit in a blocking read until its timeout: it exits then, on its own
                t.join(0.2 if ch.abandoned else self.timeout + 1.0)

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def live(self) -> bool:
        """Whether any source is live."""
        return any(s.live for s in self.specs)

    @property
    def dropped(self) -> int:
        """Stale frames dropped over every source."""
        return sum(s.dropped for s in self.stats)


def open_sources(
    sources: str | os.PathLike | int | Sequence[str | os.PathLike | int] | Sequence[SourceSpec],
    **options: Any,
) -> FrameReader:
    """Open one or several sources (strings as `parse_source` reads them) and start reading.

    Args:
        sources: A source string, a camera index, a list of them, or parsed `SourceSpec` objects.
        **options: `FrameReader` options: ``timeout`` (s per open/read), ``reconnect`` (attempts),
            ``stall`` (s without a frame), ``depth`` (queued frames per file source), ``latest``
            (force latest-frame mode on or off; default: on for live sources).

    Returns:
        The running `FrameReader`.
    """
    if (
        isinstance(sources, Sequence)
        and not isinstance(sources, str)
        and all(isinstance(s, SourceSpec) for s in sources)
    ):
        specs = list(sources)
    else:
        specs = parse_sources(sources)  # type: ignore[arg-type]
    return FrameReader(specs, **options)
