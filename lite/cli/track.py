"""``lite track SOURCE``: detect and track objects (ids kept across frames) in a video, camera or stream::

lite track clip.mp4 --model yolov6lite_s_320_decoded.onnx --save out/ --jsonl out/tracks.jsonl
lite track rtsp://user:pass@cam/stream --model model.onnx --show
lite track 0 --tracker sort --jsonl -
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lite.cli._common import add_command, add_detector_arguments, add_no_progress_argument
from lite.cli._live import add_live_arguments, live_engine_options, run_live
from lite.ops.options import DetectOptions

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``track`` subcommand."""
    p = add_command(
        subparsers,
        "track",
        run,
        help="track objects in videos, cameras and streams",
        description=(
            "Detect objects in every frame of SOURCE and give each a track id kept across frames "
            "(Roboflow's trackers package: ByteTrack by default). SOURCE is anything `lite detect` reads: a video, "
            "a folder, a camera index, an rtsp/rtmp/http stream, 'screen' or a .txt list of sources."
        ),
    )
    p.add_argument("source", nargs="+", help="video, folder, glob, camera index, stream URL, 'screen' or .txt list")
    p.add_argument("-m", "--model", default=None, help="model file or hub name (default: the bundled demo model)")
    add_detector_arguments(p, conf=DetectOptions.conf, iou=DetectOptions.iou, max_det=DetectOptions.max_det)
    p.add_argument("--tracker", default="bytetrack", choices=("bytetrack", "sort", "ocsort"), help="tracker")
    p.add_argument("--save", type=Path, default=None, metavar="DIR", help="write annotated videos (boxes, ids, trails)")
    p.add_argument("--exist-ok", action="store_true", help="replace existing output files")
    add_no_progress_argument(p)
    add_live_arguments(p)


def run(args: argparse.Namespace) -> int:
    """Run ``lite track``; returns the exit code."""
    from lite.cli.detect import _open_detector
    from lite.cv.track import TrackerSet

    TrackerSet(args.tracker)  # a missing trackers package fails before the model loads
    det = _open_detector(args, **live_engine_options(args))
    try:
        return run_live(args, det, tracker=args.tracker)
    finally:
        det.close()
