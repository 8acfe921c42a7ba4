"""Multi-object tracking: track ids on `Detections`, through Roboflow's ``trackers`` package.

lite does not implement a tracker: `Tracker` wraps one tracker of the ``trackers`` package
(``pip install 'lite-detect[track]'``) — ByteTrack by default, SORT or OC-SORT on request — and
returns `Detections` with ``tracker_id`` (supervision's convention: one int per detection). Only
confirmed tracks are returned; detections the tracker has not (yet) given an id are left out.
One `Tracker` holds the state of one source: `TrackerSet` keeps one per source.

`Trails` remembers the last centres of every track and draws them.

Example:
    ```python
    # not run: needs a video file (tests/test_track.py tracks real frames)
    from lite.cv import Detector

    det = Detector.from_file("yolov6lite_s_320_decoded.onnx")
    for frame, tracks in det.track("clip.mp4"):
        print(frame.index, tracks.tracker_id)
    ```
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np

from lite.core.errors import BackendNotInstalledError, InputError
from lite.data.detections import PALETTE, Detections

__all__ = ["TRACKERS", "Tracker", "TrackerSet", "Trails", "detect_frames", "track_source"]

#: Tracker names lite accepts -> class of the ``trackers`` package.
TRACKERS: dict[str, str] = {"bytetrack": "ByteTrackTracker", "sort": "SORTTracker", "ocsort": "OCSORTTracker"}

#: Settings lite passes unless the caller sets them: a track is confirmed on its first matched frame,
#: so a new object gets its id at once (the package's default waits for more frames).
_DEFAULTS: dict[str, dict[str, Any]] = {
    "bytetrack": {"minimum_consecutive_frames": 1, "track_activation_threshold": 0.5},
    "sort": {"minimum_consecutive_frames": 1},
    "ocsort": {"minimum_consecutive_frames": 1},
}


def _tracker_class(name: str) -> Any:
    if not isinstance(name, str) or name.lower() not in TRACKERS:
        raise InputError(f"tracker: expected one of {', '.join(TRACKERS)}; got {name!r}")
    try:
        import trackers
    except ImportError as e:
        raise BackendNotInstalledError(
            "tracking needs the trackers package (and supervision): pip install 'lite-detect[track]'"
        ) from e
    cls = getattr(trackers, TRACKERS[name.lower()], None)
    if cls is None:
        from importlib import metadata

        version = metadata.version("trackers")
        raise BackendNotInstalledError(
            f"tracker {name.lower()!r}: the installed trackers package ({version}) has no {TRACKERS[name.lower()]}; "
            "install the release lite names: pip install -U 'lite-detect[track]'"
        )
    return cls


class Tracker:
    """The track state of one source.

    Args:
        tracker: ``"bytetrack"`` (default), ``"sort"`` or ``"ocsort"``.
        frame_rate: Frames per second of the source (how long a lost track is kept depends on it).
        **options: Passed to the ``trackers`` class (e.g. ``lost_track_buffer``, ``minimum_iou_threshold``).

    Raises:
        InputError: Unknown tracker name.
        BackendNotInstalledError: The ``trackers`` package is not installed.
    """

    def __init__(self, tracker: str = "bytetrack", *, frame_rate: float = 30.0, **options: Any) -> None:
        cls = _tracker_class(tracker)
        import supervision  # the trackers package's own dependency: its detections type

        self._sv = supervision
        self.name = tracker.lower()
        settings = {**_DEFAULTS[self.name], "frame_rate": float(frame_rate), **options}
        try:
            self._tracker = cls(**settings)
        except TypeError as e:
            raise InputError(f"tracker {self.name!r}: {e}") from e

    def update(self, detections: Detections) -> Detections:
        """Advance the tracks by one frame.

        Args:
            detections: This frame's detections.

        Returns:
            The detections that belong to a confirmed track, in their original order, with ``tracker_id``
            (their masks and keypoints kept).
        """
        # only what the trackers read (boxes, scores, classes) and the row of each: names and masks would be
        # copied and indexed through supervision for nothing (benchmarks/bench_streams.py, "lite's part")
        sv_dets = self._sv.Detections(
            xyxy=detections.xyxy.copy(),
            confidence=detections.scores.copy(),
            class_id=detections.class_ids.copy(),
            data={"lite_index": np.arange(len(detections))},
        )
        out = self._tracker.update(sv_dets)
        tids = np.asarray(out.tracker_id if out.tracker_id is not None else [], dtype=np.int64)
        index = np.asarray(out.data.get("lite_index", np.zeros(0, np.int64)), dtype=np.int64)
        keep = tids >= 0
        index, tids = index[keep], tids[keep]
        order = np.argsort(index, kind="stable")
        return dataclasses.replace(detections[index[order]], tracker_id=tids[order])

    def reset(self) -> None:
        """Forget every track (a new scene or a reconnected stream that jumped)."""
        self._tracker.reset()


class TrackerSet:
    """One `Tracker` per source, made on first use (the sources read together by `lite.data.sources`).

    Args:
        tracker: Tracker name for every source.
        **options: `Tracker` options.
    """

    def __init__(self, tracker: str = "bytetrack", **options: Any) -> None:
        _tracker_class(tracker)  # a bad name or a missing package fails before the first frame
        self.tracker, self.options = tracker, options
        self._by_source: dict[int, Tracker] = {}

    def update(self, source_index: int, detections: Detections) -> Detections:
        """`Tracker.update` with the tracker of ``source_index``."""
        t = self._by_source.get(source_index)
        if t is None:
            t = self._by_source[source_index] = Tracker(self.tracker, **self.options)
        return t.update(detections)


class Trails:
    """The last ``length`` box centres of every track, drawn as polylines.

    Args:
        length: Centres kept per track.
    """

    def __init__(self, length: int = 30) -> None:
        self.length = int(length)
        self._points: dict[int, deque] = {}

    def update(self, detections: Detections) -> None:
        """Add this frame's centres; tracks absent from the frame keep their trail until they come back."""
        if detections.tracker_id is None:
            return
        centres = (detections.xyxy[:, :2] + detections.xyxy[:, 2:]) / 2
        for tid, c in zip(detections.tracker_id.tolist(), centres.tolist(), strict=True):
            self._points.setdefault(tid, deque(maxlen=self.length)).append(c)

    def draw(self, img: np.ndarray, detections: Detections, thickness: int = 2) -> np.ndarray:
        """Draw the boxes (with ``#id``) and the trails of the tracks present in ``detections`` on a copy."""
        out = detections.draw(img)
        if detections.tracker_id is None:
            return out
        for tid in detections.tracker_id.tolist():
            pts = self._points.get(tid)
            if pts and len(pts) > 1:
                poly = np.round(np.asarray(pts)).astype(np.int32)
                cv2.polylines(out, [poly], False, PALETTE[tid % len(PALETTE)], thickness, cv2.LINE_AA)
        return out

    def __iter__(self) -> Iterator[int]:
        return iter(self._points)


def detect_frames(detector: Any, images: list[np.ndarray]) -> list[Detections]:
    """Detections of frames from several sources: one batched engine call where the model takes a batch."""
    if len(images) > 1:
        return detector.detect_batch(images)
    return [detector.detect(img) for img in images]


def track_source(
    detector: Any,
    source: Any,
    *,
    tracker: str = "bytetrack",
    tracker_options: dict[str, Any] | None = None,
    **reader_options: Any,
) -> Iterator[tuple[Any, Detections]]:
    """Detect and track objects in every frame of ``source`` (what `Detector.track` runs).

    Args:
        detector: A `lite.cv.Detector` (any family, any engine).
        source: A source string as `lite.data.sources` reads it, a camera index, or a list of them.
        tracker: ``"bytetrack"``, ``"sort"`` or ``"ocsort"``.
        tracker_options: Passed to the tracker (`Tracker`).
        **reader_options: `lite.data.sources.open_sources` options (``timeout``, ``reconnect``, ``stall``...).

    Yields:
        ``(frame, detections)``: the `lite.data.sources.Frame` and its tracked `Detections` (with ``tracker_id``),
        one tracker state per source.

    Raises:
        SourceError: A source failed, after every frame before the failure was yielded.
    """
    from lite.data.sources import open_sources

    tracks = TrackerSet(tracker, **(tracker_options or {}))
    with open_sources(source, **reader_options) as reader:
        for batch in reader.batches():
            for frame, d in zip(batch, detect_frames(detector, [f.image for f in batch]), strict=True):
                yield frame, tracks.update(frame.source_index, d)
