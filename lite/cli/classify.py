"""``lite classify [SOURCE]``: the top-k classes of images with an image classifier.

Without ``--model`` the bundled demo classifier (``lite-demo-shapes-cls``: the six synthetic shapes, 64x64,
`lite.demo.task_model_path`) runs, as ``lite detect`` runs its demo detector; without SOURCE a synthetic
shape (`lite.demo.scenes.make_single_shape`) is drawn and classified, so the command works offline::

    lite classify                                        # a synthetic shape + the demo classifier
    lite classify bus.jpg --model mobilenetv2-12-int8.onnx --labels imagenet_labels.txt --top-k 3
    lite classify 'images/*.jpg' --model yolov8n-cls.onnx --json classes.json --save out/

Each image prints one line (its classes best first, with their scores); ``--json`` writes one record per
image (``source``, ``class_ids``, ``scores``, ``names``), ``--save`` the images with their classes written on
them as ``<name>_classes.<ext>``. A detector, segmentation or pose model is refused with a message naming
``lite detect``. As with ``lite detect``, an image of a folder or glob that cannot be read is recorded and
the others classified (exit status 1 with a summary; ``--fail-fast`` stops at the first, exit status 2).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lite.cli._common import (
    CLASSIFIER_FAMILIES,
    add_command,
    add_engine_arguments,
    add_input_size_argument,
    add_no_progress_argument,
    engine_options,
    model_files,
)

__all__ = ["describe_top", "record", "register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``classify`` subcommand."""
    p = add_command(
        subparsers,
        "classify",
        run,
        help="top-k classes of images with an image classifier",
        description=(
            "Classify SOURCE (an image, a folder of images or a glob) with an image classifier: the top-k "
            "classes of each image. Without --model, lite's bundled demo classifier (lite-demo-shapes-cls: "
            "six synthetic shapes) runs; without SOURCE a synthetic shape is drawn and classified. "
            "For detection, segmentation and pose models use lite detect."
        ),
    )
    p.add_argument("source", nargs="*", default=[],
                   help="image(s), folder or glob (default: a synthetic shape)")  # fmt: skip
    p.add_argument(
        "-m", "--model", default=None, help="classifier file or hub name (default: the demo lite-demo-shapes-cls)"
    )
    p.add_argument("--labels", type=Path, default=None, metavar="FILE",
                   help="class names, one a line (line number = class id); default: the model's metadata")  # fmt: skip
    p.add_argument("-k", "--top-k", type=int, default=5, help="classes shown and written per image")
    p.add_argument("--family", default=None, choices=CLASSIFIER_FAMILIES,
                   help="classifier family: its preprocessing (default: read from the model's metadata, else the "
                        "imagenet preset, with a warning)")  # fmt: skip
    add_engine_arguments(p)
    add_input_size_argument(p, help="network input N or H W (dynamic-shape classifiers)")
    save_help = "write the images with their classes as <name>_classes.<ext> here (never replaces an input)"
    p.add_argument("--save", type=Path, default=None, metavar="DIR", help=save_help)
    p.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="write one record per image here: source, class_ids, scores, names")  # fmt: skip
    p.add_argument("--exist-ok", action="store_true",
                   help="replace existing output files (without it, lite refuses before it starts)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic shape (no SOURCE)")
    p.add_argument("--fail-fast", action="store_true",
                   help="stop at the first image that cannot be read or classified (default: record it, go on, "
                        "exit 1 with a summary at the end)")  # fmt: skip
    add_no_progress_argument(p)


# ----------------------------------------------------------------------------------------------
# output helpers
# ----------------------------------------------------------------------------------------------
def describe_top(c: Any) -> str:
    """``"golf cart 0.374, minibus 0.374, jeep 0.075"``: the classes of a `Classifications`, best first."""
    return ", ".join(f"{name} {score:.3f}" for name, score in zip(c.labels, c.scores.tolist(), strict=True))


def record(source: str, c: Any) -> dict[str, Any]:
    """The ``--json`` record of one image: ``source``, ``class_ids``, ``scores`` (5 decimals), ``names``."""
    return {
        "source": source,
        "class_ids": c.class_ids.tolist(),
        "scores": [round(s, 5) for s in c.scores.tolist()],
        "names": c.labels,
    }


def _outputs(kind: str, paths: Sequence[Path], save: Path | None) -> dict[str, Path]:
    """Where each annotated image goes: input path (or ``"shape"``, ``"shape_classes"``) -> output path."""
    from lite.data.outputs import CLASSES_TAG, annotated_name

    if save is None:
        return {}
    if kind == "scene":
        return {"shape": save / "shape.png", "shape_classes": save / f"shape{CLASSES_TAG}.png"}
    return {str(p): save / annotated_name(p, tag=CLASSES_TAG) for p in paths}


def _open_classifier(args: argparse.Namespace) -> Any:
    from lite.cv import Classifier

    options = engine_options(args)  # checks --input-size before the model opens
    model = args.model
    if model is None:
        from lite.demo import task_model_path

        model = task_model_path("classify")
    return Classifier.from_file(model, top_k=args.top_k, labels=args.labels, **options)


# ----------------------------------------------------------------------------------------------
# the command
# ----------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    """Run ``lite classify``; returns the exit code."""
    from lite.core.errors import InputError
    from lite.data.io import resolve_sources
    from lite.data.outputs import plan_outputs, write_json

    kind, paths = resolve_sources(args.source) if args.source else ("scene", [])
    if kind == "video":
        raise InputError(
            f"lite classify reads images (files, folders, globs); got the video {paths[0]}: extract its frames "
            "(e.g. with ffmpeg) into a folder and classify the folder"
        )
    args.outputs = _outputs(kind, paths, args.save)
    files = list(args.outputs.values()) + ([args.json] if args.json is not None else [])
    inputs = [*paths, *model_files(args.model), *([args.labels] if args.labels is not None else [])]
    plan_outputs(files, inputs=inputs, exist_ok=args.exist_ok, flag="--exist-ok")  # before any work
    clf = _open_classifier(args)
    h, w = clf.input_hw
    print(f"{clf.backend.model_path.name}: task classify, family {clf.family}, input {h}x{w} "
          f"(from {clf.input_size_source}), {clf.num_classes} classes")  # fmt: skip
    records: list[dict[str, Any]] = []
    try:
        if kind == "scene":
            _run_shape(clf, args, records)
            failed: list[tuple[Path, BaseException]] = []
        else:
            failed = _run_images(clf, kind, paths, args, records)
    finally:
        clf.close()
    if args.json is not None:
        write_json(args.json, records)  # atomic: complete, or the old file left as it was
        print(f"results: {args.json} ({len(records)} image{'s' if len(records) != 1 else ''})")
    if failed:
        import sys

        print(f"lite classify: {len(failed)} of {len(paths)} images failed (the others were classified and "
              "written):", file=sys.stderr)  # fmt: skip
        for path, e in failed:
            print(f"  {path}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


def _run_shape(clf: Any, args: argparse.Namespace, records: list[dict[str, Any]]) -> None:
    import numpy as np

    from lite.data.outputs import write_image
    from lite.demo.scenes import SHAPE_NAMES, make_single_shape

    img, truth = make_single_shape(np.random.default_rng(args.seed))
    t0 = time.perf_counter()
    c = clf.classify(img)
    ms = (time.perf_counter() - t0) * 1e3
    print(f"synthetic shape (seed {args.seed}, {img.shape[0]}x{img.shape[1]}): {describe_top(c)} in {ms:.1f} ms")
    print(f"  ground truth: {SHAPE_NAMES[truth]}")
    records.append(record("shape.png", c))
    if args.save is not None:
        write_image(args.outputs["shape"], img)
        write_image(args.outputs["shape_classes"], c.draw(img))
        print(f"saved: {args.outputs['shape']}, {args.outputs['shape_classes']}")


def _run_images(
    clf: Any, kind: str, paths: list[Path], args: argparse.Namespace, records: list[dict[str, Any]]
) -> list[tuple[Path, BaseException]]:
    """Classify every image, one line each; returns the images that failed (--fail-fast, one image: raised)."""
    from lite.core.errors import LiteError
    from lite.core.progress import ProgressBar
    from lite.data.io import load_image
    from lite.data.outputs import write_image

    single = kind == "image"
    bar = ProgressBar(len(paths), kind, enabled=not single and not args.no_progress)
    failed: list[tuple[Path, BaseException]] = []
    total_ms = 0.0
    try:
        for path in paths:
            bar.update()
            t0 = time.perf_counter()
            try:
                img = load_image(str(path))
                c = clf.classify(img)
            except LiteError as e:
                if args.fail_fast or single:
                    raise
                failed.append((path, e))
                bar.write(f"{path.name}: failed: {e}")
                continue
            ms = (time.perf_counter() - t0) * 1e3
            total_ms += ms
            bar.write(f"{path.name}: {describe_top(c)} in {ms:.1f} ms")
            records.append(record(str(path), c))
            if args.save is not None:
                write_image(args.outputs[str(path)], c.draw(img))
    finally:
        bar.close()
    done = len(paths) - len(failed)
    if not single and done:
        print(f"{done} images, {total_ms / done:.1f} ms/image ({clf.backend.name}, input "
              f"{clf.input_hw[0]}x{clf.input_hw[1]})")  # fmt: skip
    if args.save is not None and done:
        print(f"saved: {done} annotated image{'s' if done != 1 else ''} in {args.save}")
    return failed
