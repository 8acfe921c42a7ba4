"""``lite detect [SOURCE]``: run a detector on an image, a folder, a glob or a video.

Without SOURCE, a synthetic shapes scene (`lite.demo.scenes.make_scene`) is drawn and
detected with the bundled demo model, so the command shows real detections on a fresh,
offline machine::

    lite detect --save out/                 # synthetic scene + demo model
    lite detect bus.jpg --model yolov6lite_s_320_decoded.onnx --save out/ --json out/dets.json
    lite detect 'images/*.jpg' --model yolov6lite-s
    lite detect clip.mp4 --model model.onnx --save out/      # annotated out/clip_detections.mp4
    lite detect bus.jpg --save . --exist-ok    # writes ./bus_detections.jpg, replacing an earlier one

Segmentation and pose models (``yolov8n-seg.onnx``, ``yolov8n-pose.onnx``, lite's demo task models) run
the same way: saved images show the masks and keypoints, ``--json`` records carry COCO ``segmentation`` (RLE)
and ``keypoints``, ``--jsonl`` lines ``segmentation`` and ``keypoints`` per frame. An image classifier is
refused with a message naming ``lite classify``.

An image that cannot be read in a folder or glob does not stop the run: its error is recorded,
the other images are detected and every output is written, and the command ends with a summary
of the failures and exit status 1 (``--fail-fast`` stops at the first one, exit status 2).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lite.cli._common import (
    add_command,
    add_detector_arguments,
    add_no_progress_argument,
    detector_options,
    model_files,
)
from lite.cli._live import add_live_arguments, live_engine_options, refuse_live_on_ray, run_live, wants_live
from lite.cli._ray import add_ray_arguments, ray_requested
from lite.core.progress import ProgressBar
from lite.data.outputs import annotated_name, atomic_path, check_video, plan_outputs, write_image
from lite.ops.options import DetectOptions

__all__ = ["describe", "register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``detect`` subcommand."""
    p = add_command(
        subparsers,
        "detect",
        run,
        help="detect objects (boxes, masks, keypoints) in images, folders, globs or videos",
        description=(
            "Detect objects in SOURCE: an image, a folder of images, a glob ('imgs/*.jpg') or a video. "
            "Without SOURCE, a synthetic shapes scene is generated and run through the model "
            "(by default lite's bundled demo model). Segmentation and pose models draw their masks and "
            "keypoints and write them to --json (COCO segmentation RLE, keypoints) and --jsonl; "
            "for an image classifier use lite classify."
        ),
    )
    p.add_argument("source", nargs="*", default=[],
                   help="image(s), folder, glob, video, camera index, rtsp/rtmp/http URL, 'screen' or a .txt list "
                        "of sources (default: a synthetic scene)")  # fmt: skip
    p.add_argument("-m", "--model", default=None, help="model file or hub name (default: the bundled demo model)")
    add_detector_arguments(p, conf=DetectOptions.conf, iou=DetectOptions.iou, max_det=DetectOptions.max_det)
    p.add_argument("--save", type=Path, default=None, metavar="DIR",
                   help="write annotated copies here as <name>_detections.<ext> (never replaces an input)")  # fmt: skip
    json_help = "write COCO-style results JSON here (with segmentation RLE / keypoints of seg / pose models)"
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help=json_help)
    p.add_argument("--exist-ok", action="store_true",
                   help="replace existing output files (without it, lite refuses before it starts)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic scene (no SOURCE)")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="one line per image for folders and globs, with its own time (images then run one by one)",
    )
    p.add_argument("--fail-fast", action="store_true",
                   help="stop at the first image that cannot be read or detected (default: record it, go on, "
                        "exit 1 with a summary at the end)")  # fmt: skip
    add_no_progress_argument(p)
    add_ray_arguments(p)
    add_live_arguments(p)


def _image_id(path: Path, index: int) -> int | str:
    return int(path.stem) if path.stem.isdigit() else index


# ----------------------------------------------------------------------------------------------
# output helpers
# ----------------------------------------------------------------------------------------------
def describe(class_ids: Sequence[int], names: Sequence[str]) -> str:
    """``"5 detections (4 person, 1 bus)"`` (classes by count, then name)."""
    n = len(class_ids)
    counts = Counter(names[int(c)] if 0 <= int(c) < len(names) else str(int(c)) for c in class_ids)
    text = f"{n} detection{'s' if n != 1 else ''}"
    if counts:
        text += " (" + ", ".join(f"{k} {name}" for name, k in sorted(counts.items(), key=lambda x: (-x[1], x[0]))) + ")"
    return text


def _outputs(kind: str, paths: Sequence[Path], save: Path | None) -> dict[str, Path]:
    """Where each annotated output goes: input path (or ``"scene"``, ``"scene_detections"``) -> output path."""
    if save is None:
        return {}
    if kind == "scene":
        return {"scene": save / "scene.jpg", "scene_detections": save / "scene_detections.jpg"}
    if kind == "video":
        return {str(paths[0]): save / annotated_name(paths[0], ".mp4")}
    return {str(p): save / annotated_name(p) for p in paths}


def _plan(kind: str, paths: Sequence[Path], args: argparse.Namespace) -> dict[str, Path]:
    """Every output path, checked before the detector opens.

    Never an input (an image, the model, its weights or sidecar, even with --exist-ok); an existing
    file only with --exist-ok.
    """
    outputs = _outputs(kind, paths, args.save)
    files = list(outputs.values()) + ([args.json] if args.json is not None else [])
    plan_outputs(files, inputs=[*paths, *model_files(args.model)], exist_ok=args.exist_ok, flag="--exist-ok")
    return outputs


# ----------------------------------------------------------------------------------------------
# the command
# ----------------------------------------------------------------------------------------------
def _open_detector(args: argparse.Namespace, **engine: Any) -> Any:
    """The detector of ``args``; ``engine``: more backend options (the live loop's, `live_engine_options`)."""
    from lite.cv import Detector

    options = detector_options(args) | engine  # checks --input-size before a download
    model = args.model
    if model is None:
        from lite.hub import default_model

        model = default_model()
    return Detector.from_file(model, **options)


def run(args: argparse.Namespace) -> int:
    """Run ``lite detect``; returns the exit code."""
    if ray_requested(args):  # detections from a Ray cluster
        from lite.cli._ray import run_detect

        refuse_live_on_ray(args)  # cameras and streams are read here, not on a cluster

        return run_detect(args)
    if wants_live(args):  # cameras, streams, screen, source lists, --show/--jsonl (lite.cli._live)
        det = _open_detector(args, **live_engine_options(args))
        try:
            return run_live(args, det)
        finally:
            det.close()
    from lite.data.io import resolve_sources  # sources: images, folders, globs, videos (lite.data.io imports OpenCV)
    from lite.tools.eval import default_category_ids, write_results

    kind, paths = resolve_sources(args.source) if args.source else ("scene", [])
    args.outputs = _plan(kind, paths, args)  # refuses before any work when it could not write or would replace
    det = _open_detector(args)
    h, w = det.input_hw  # every run says the input size and where it came from
    task = "" if det.task == "detect" else f"task {det.task}, "  # segment: masks, pose: keypoints
    print(f"{det.backend.model_path.name}: {task}family {det.family}, input {h}x{w} (from {det.input_size_source})")
    names = det.names
    cats = default_category_ids(names)
    records: list[dict[str, Any]] = []
    failed: list[tuple[Path, BaseException]] = []
    try:
        if kind == "scene":
            _run_scene(det, args, records, cats)
        elif kind == "video":
            _run_video(det, paths[0], args, records, cats)
        else:
            failed = _run_images(det, kind, paths, args, records, cats)
    finally:
        det.close()
    if args.json is not None:
        write_results(records, args.json)  # atomic: complete, or the old file left as it was
        print(f"results: {args.json} ({len(records)} detections)")
    if failed:
        _report_failures(failed, len(paths))
        return 1
    return 0


def _report_failures(failed: Sequence[tuple[Path, BaseException]], total: int) -> None:
    """The summary on stderr: how many images failed, and why each one."""
    import sys

    print(f"lite detect: {len(failed)} of {total} images failed (the others were detected and written):",
          file=sys.stderr)  # fmt: skip
    for path, e in failed:
        print(f"  {path}: {type(e).__name__}: {e}", file=sys.stderr)


def _detect_timed(det: Any, img: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    d = det.detect(img)
    return d, (time.perf_counter() - t0) * 1e3


def _records(d: Any, image_id: int | str, file_name: str, cats: Sequence[int], names: Sequence[str]) -> list[dict]:
    from lite.tools.eval import coco_results

    return coco_results(image_id, d.xyxy, d.scores, d.class_ids, cats, file_name=file_name, names=names,
                        masks=d.masks, keypoints=d.keypoints)  # fmt: skip


def _run_scene(det: Any, args: argparse.Namespace, records: list, cats: Sequence[int]) -> None:
    import numpy as np

    from lite.demo.scenes import SHAPE_NAMES, make_scene

    img, boxes, class_ids = make_scene(np.random.default_rng(args.seed), size=(320, 320))
    d, ms = _detect_timed(det, img)
    print(f"synthetic scene (seed {args.seed}, 320x320): {describe(d.class_ids, det.names)} in {ms:.1f} ms")
    print(f"  ground truth: {describe(class_ids, SHAPE_NAMES).replace('detection', 'object')}")
    records += _records(d, 1, "scene.jpg", cats, det.names)
    if args.save is not None:
        write_image(args.outputs["scene"], img)
        write_image(args.outputs["scene_detections"], d.draw(img))
        print(f"saved: {args.outputs['scene']}, {args.outputs['scene_detections']}")


def _run_images(
    det: Any, kind: str, paths: list[Path], args: argparse.Namespace, records: list, cats: Sequence[int]
) -> list[tuple[Path, BaseException]]:
    """Detect every image; returns the images that failed (with --fail-fast the first failure is raised)."""
    names = det.names
    single = kind == "image"
    bar = ProgressBar(len(paths), kind, enabled=not single and not args.no_progress)
    total_ms, all_cls, failed = 0.0, [], []
    t_start = time.perf_counter()
    # several images: the next one is read and letterboxed while the engine runs this one (lite.data.stream);
    # with -v (or one image) they run one by one, so each line shows that image's own time
    results = _timed_each(det, paths) if single or args.verbose else _timed_stream(det, paths)
    try:
        for i, (path, outcome) in enumerate(zip(paths, results, strict=True), start=1):
            bar.update()
            if isinstance(outcome, BaseException):
                if args.fail_fast or single:
                    raise outcome
                failed.append((path, outcome.__cause__ or outcome))
                bar.write(f"{path.name}: failed: {outcome.__cause__ or outcome}")
                continue
            ms, d, img = outcome
            total_ms += ms
            all_cls += [int(c) for c in d.class_ids]
            if single or args.verbose:
                bar.write(f"{path.name}: {describe(d.class_ids, names)} in {ms:.1f} ms")
            records += _records(d, _image_id(path, i), path.name, cats, names)
            if args.save is not None:
                write_image(args.outputs[str(path)], d.draw(img))
    finally:
        results.close()
        bar.close()
    done = len(paths) - len(failed)
    if not single and done:
        wall = (time.perf_counter() - t_start) * 1e3
        print(
            f"{done} images: {describe(all_cls, names)}, {wall / done:.1f} ms/image "
            f"({det.backend.name}, input {det.input_hw[0]}x{det.input_hw[1]})"
        )
    if args.save is not None and done:
        print(f"saved: {done} annotated image{'s' if done != 1 else ''} in {args.save}")
    return failed


def _timed_each(det: Any, paths: Sequence[Path]) -> Iterator[tuple[float, Any, Any] | BaseException]:
    """``(ms, detections, image)`` per image, read and detected one by one (the time is that image's own).

    An image that cannot be read or detected gives its error (a `lite.core.errors.LiteError`) in its place.
    """
    from lite.core.errors import LiteError
    from lite.data.io import load_image

    for path in paths:
        t0 = time.perf_counter()
        try:
            img = load_image(str(path))
            d = det.detect(img)
        except LiteError as e:
            yield e
            continue
        yield (time.perf_counter() - t0) * 1e3, d, img


def _timed_stream(det: Any, sources: Sequence[Any]) -> Iterator[tuple[float, Any, Any] | BaseException]:
    """``(ms since the previous result, detections, image)`` from `Detector.detect_stream`.

    A failing item gives its `lite.core.errors.StreamError` in its place, and the stream starts again
    after it, so one unreadable image does not stop the others.
    """
    from lite.core.errors import StreamError

    start = 0
    while start < len(sources):
        stream = det.detect_stream(sources[start:], return_images=True)
        try:
            t0 = time.perf_counter()
            for img, d in stream:
                t1 = time.perf_counter()
                yield (t1 - t0) * 1e3, d, img
                start += 1
                t0 = time.perf_counter()
        except StreamError as e:
            if e.index is None or e.source is None:  # the iterable itself failed: nothing to skip
                raise
            yield e
            start += 1
        finally:
            stream.close()  # joins the stream's threads now, not at garbage collection


def _timed_frames(det: Any, frames: Iterator[Any]) -> Iterator[tuple[float, Any, Any]]:
    """``(ms since the previous result, detections, frame)`` for a video's frames, through `Detector.detect_stream`."""
    stream = det.detect_stream(frames, return_images=True)
    try:
        t0 = time.perf_counter()
        for img, d in stream:
            t1 = time.perf_counter()
            yield (t1 - t0) * 1e3, d, img
            t0 = time.perf_counter()
    finally:
        stream.close()  # joins the stream's threads now, not at garbage collection


def _frames(cap: Any) -> Iterator[Any]:
    while True:
        ok, frame = cap.read()
        if not ok:
            return
        yield frame


def _run_video(det: Any, path: Path, args: argparse.Namespace, records: list, cats: Sequence[int]) -> None:
    import cv2

    from lite.core.errors import ImageError

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ImageError(f"OpenCV cannot open the video {path} (unsupported codec or not a video)")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    out_path = args.outputs.get(str(path))
    bar = ProgressBar(count if count > 0 else None, "video", enabled=not args.no_progress, unit="frame")
    total_ms, all_cls, n = 0.0, [], 0
    frames = _timed_frames(det, _frames(cap))  # frames decode in the stream's worker thread
    with contextlib.ExitStack() as stack:
        # written under a temporary name in the destination folder, renamed when complete; removed on error/Ctrl-C
        tmp = stack.enter_context(atomic_path(out_path)) if out_path is not None else None
        writer = None
        try:
            for n, (ms, d, frame) in enumerate(frames, start=1):  # noqa: B007 - n is the frame count after the loop
                total_ms += ms
                all_cls += [int(c) for c in d.class_ids]
                records += _records(d, n - 1, path.name, cats, det.names)
                if tmp is not None:
                    if writer is None:
                        h, w = frame.shape[:2]
                        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                        if not writer.isOpened():
                            from lite.core.errors import OutputError

                            raise OutputError(f"OpenCV cannot write the video {out_path} (mp4v codec unavailable)")
                    writer.write(d.draw(frame))
                bar.update()
        finally:
            frames.close()  # stops and joins the reader before the capture is released
            bar.close()
            cap.release()
            if writer is not None:
                writer.release()
        if n == 0:
            raise ImageError(f"the video {path} has no readable frame")
        if tmp is not None:
            check_video(tmp, n, out_path)  # OpenCV's writer reports nothing: read the result back before the rename
    print(f"{path.name}: {n} frames, {describe(all_cls, det.names)}, {total_ms / n:.1f} ms/frame")
    if out_path is not None:
        print(f"saved: {out_path}")
