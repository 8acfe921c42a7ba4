"""``lite detect [SOURCE]``: run a detector on an image, a folder, a glob or a video.

Without SOURCE, a synthetic shapes scene (:func:`lite.data.scenes.make_scene`) is drawn and
detected with the bundled demo model, so the command shows real detections on a fresh,
offline machine::

    lite detect --save out/                 # synthetic scene + demo model
    lite detect bus.jpg --model yolov6lite_s_320_decoded.onnx --save out/ --json out/dets.json
    lite detect 'images/*.jpg' --model yolov6lite-s
    lite detect clip.mp4 --model model.onnx --save out/      # annotated out/clip.mp4
"""

from __future__ import annotations

import argparse
import glob
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lite.cli._common import add_command, add_detector_arguments, add_no_progress_argument, detector_options
from lite.progress import ProgressBar

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pgm", ".ppm")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
_GLOB_CHARS = set("*?[")


def register(subparsers: Any) -> None:
    """Add the ``detect`` subcommand."""
    p = add_command(
        subparsers,
        "detect",
        run,
        help="detect objects in images, folders, globs or videos",
        description=(
            "Detect objects in SOURCE: an image, a folder of images, a glob ('imgs/*.jpg') or a video. "
            "Without SOURCE, a synthetic shapes scene is generated and run through the model "
            "(by default lite's bundled demo model)."
        ),
    )
    p.add_argument("source", nargs="*", default=[],
                   help="image(s), folder, glob or video (default: a synthetic scene)")  # fmt: skip
    p.add_argument("-m", "--model", default=None, help="model file or hub name (default: the bundled demo model)")
    add_detector_arguments(p, conf=0.25, iou=0.45, max_det=100)
    p.add_argument("--save", type=Path, default=None, metavar="DIR", help="write annotated images / videos here")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="write COCO-style results JSON here")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic scene (no SOURCE)")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per image for folders and globs")
    add_no_progress_argument(p)


# ----------------------------------------------------------------------------------------------
# sources
# ----------------------------------------------------------------------------------------------
def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def resolve_source(source: str) -> tuple[str, list[Path]]:
    """Classify SOURCE: ``("image" | "video" | "folder" | "glob", paths)``.

    Raises:
        ImageNotFoundError: SOURCE does not exist, or a folder/glob holds no image.
        ImageError: A file that is neither an image nor a video by its suffix.
    """
    from lite.errors import ImageError, ImageNotFoundError

    p = Path(source)
    if p.is_dir():
        paths = _images_in(p)
        if not paths:
            raise ImageNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {p}")
        return "folder", paths
    if p.is_file():
        suffix = p.suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            return "video", [p]
        if suffix in IMAGE_SUFFIXES or not suffix:
            return "image", [p]
        raise ImageError(
            f"{p}: expected an image ({', '.join(IMAGE_SUFFIXES)}) or a video ({', '.join(VIDEO_SUFFIXES)}); "
            f"got a {suffix} file"
        )
    if _GLOB_CHARS & set(source):
        paths = sorted(Path(m) for m in glob.glob(source, recursive=True))
        paths = [m for m in paths if m.is_file() and m.suffix.lower() in IMAGE_SUFFIXES]
        if not paths:
            raise ImageNotFoundError(f"the pattern {source!r} matches no image file")
        return "glob", paths
    raise ImageNotFoundError(f"source not found: {source!r} (expected an image, a folder, a glob or a video)")


def resolve_sources(sources: Sequence[str]) -> tuple[str, list[Path]]:
    """Classify one or several SOURCE arguments (a shell-expanded glob gives several).

    Several sources give kind ``"files"``: their images in the order given (folders and
    globs expanded). A video must come alone.

    Raises:
        InputError: A video among several sources.
    """
    if len(sources) == 1:
        return resolve_source(sources[0])
    paths: list[Path] = []
    for src in sources:
        kind, found = resolve_source(src)
        if kind == "video":
            from lite.errors import InputError

            raise InputError(f"a video must be the only SOURCE; got {src} among {len(sources)} sources")
        paths += found
    return "files", paths


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


def _annotate(dets: Any, img: Any) -> Any:
    return dets.draw(img)  # an annotated copy


def _write_image(path: Path, img: Any) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"could not write {path} (check the folder and the file suffix)")


# ----------------------------------------------------------------------------------------------
# the command
# ----------------------------------------------------------------------------------------------
def _open_detector(args: argparse.Namespace) -> Any:
    from lite.cv import Detector

    options = detector_options(args)  # checks --input-size before a download
    model = args.model
    if model is None:
        from lite.hub import default_model

        model = default_model()
    return Detector.from_file(model, **options)


def run(args: argparse.Namespace) -> int:
    """Run ``lite detect``; returns the exit code."""
    from lite.eval import default_category_ids, write_results

    det = _open_detector(args)
    names = det.names
    cats = default_category_ids(names)
    records: list[dict[str, Any]] = []
    save: Path | None = args.save
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
    try:
        if not args.source:
            _run_scene(det, args, records, cats)
        else:
            kind, paths = resolve_sources(args.source)
            if kind == "video":
                _run_video(det, paths[0], args, records, cats)
            else:
                _run_images(det, kind, paths, args, records, cats)
    finally:
        det.close()
    if args.json is not None:
        path = write_results(records, args.json)
        print(f"results: {path} ({len(records)} detections)")
    return 0


def _detect_timed(det: Any, img: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    d = det.detect(img)
    return d, (time.perf_counter() - t0) * 1e3


def _records(d: Any, image_id: int | str, file_name: str, cats: Sequence[int], names: Sequence[str]) -> list[dict]:
    from lite.eval import coco_results

    return coco_results(image_id, d.xyxy, d.scores, d.class_ids, cats, file_name=file_name, names=names)


def _run_scene(det: Any, args: argparse.Namespace, records: list, cats: Sequence[int]) -> None:
    import numpy as np

    from lite.data.scenes import SHAPE_NAMES, make_scene

    img, boxes, class_ids = make_scene(np.random.default_rng(args.seed), size=(320, 320))
    d, ms = _detect_timed(det, img)
    print(f"synthetic scene (seed {args.seed}, 320x320): {describe(d.class_ids, det.names)} in {ms:.1f} ms")
    print(f"  ground truth: {describe(class_ids, SHAPE_NAMES).replace('detection', 'object')}")
    records += _records(d, 1, "scene.jpg", cats, det.names)
    if args.save is not None:
        _write_image(args.save / "scene.jpg", img)
        _write_image(args.save / "scene_detections.jpg", _annotate(d, img))
        print(f"saved: {args.save / 'scene.jpg'}, {args.save / 'scene_detections.jpg'}")


def _run_images(
    det: Any, kind: str, paths: list[Path], args: argparse.Namespace, records: list, cats: Sequence[int]
) -> None:
    from lite.io import load_image

    names = det.names
    single = kind == "image"
    bar = ProgressBar(len(paths), kind, enabled=not single and not args.no_progress)
    total_ms, all_cls = 0.0, []
    try:
        for i, path in enumerate(paths, start=1):
            img = load_image(str(path))
            d, ms = _detect_timed(det, img)
            total_ms += ms
            all_cls += [int(c) for c in d.class_ids]
            if single or args.verbose:
                bar.write(f"{path.name}: {describe(d.class_ids, names)} in {ms:.1f} ms")
            records += _records(d, _image_id(path, i), path.name, cats, names)
            if args.save is not None:
                _write_image(args.save / path.name, _annotate(d, img))
            bar.update()
    finally:
        bar.close()
    if not single:
        print(
            f"{len(paths)} images: {describe(all_cls, names)}, {total_ms / len(paths):.1f} ms/image "
            f"({det.backend.name}, input {det.input_hw[0]}x{det.input_hw[1]})"
        )
    if args.save is not None:
        print(f"saved: {len(paths)} annotated image{'s' if len(paths) != 1 else ''} in {args.save}")


def _frames(cap: Any) -> Iterator[Any]:
    while True:
        ok, frame = cap.read()
        if not ok:
            return
        yield frame


def _run_video(det: Any, path: Path, args: argparse.Namespace, records: list, cats: Sequence[int]) -> None:
    import cv2

    from lite.errors import ImageError

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ImageError(f"OpenCV cannot open the video {path} (unsupported codec or not a video)")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    writer = None
    out_path = None if args.save is None else args.save / (path.stem + ".mp4")
    bar = ProgressBar(count if count > 0 else None, "video", enabled=not args.no_progress, unit="frame")
    total_ms, all_cls, n = 0.0, [], 0
    try:
        for n, frame in enumerate(_frames(cap), start=1):  # noqa: B007 - n is the frame count after the loop
            d, ms = _detect_timed(det, frame)
            total_ms += ms
            all_cls += [int(c) for c in d.class_ids]
            records += _records(d, n - 1, path.name, cats, det.names)
            if out_path is not None:
                if writer is None:
                    h, w = frame.shape[:2]
                    writer = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                    if not writer.isOpened():
                        raise OSError(f"OpenCV cannot write the video {out_path} (mp4v codec unavailable)")
                writer.write(_annotate(d, frame))
            bar.update()
    finally:
        bar.close()
        cap.release()
        if writer is not None:
            writer.release()
    if n == 0:
        raise ImageError(f"the video {path} has no readable frame")
    print(f"{path.name}: {n} frames, {describe(all_cls, det.names)}, {total_ms / n:.1f} ms/frame")
    if out_path is not None:
        print(f"saved: {out_path}")
