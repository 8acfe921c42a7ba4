"""``--ray`` for ``lite detect`` and ``lite eval``: the detections come from a Ray cluster.

Not a subcommand (the dispatcher skips modules starting with ``_``). ``detect`` and ``eval`` add
the argument group with `add_ray_arguments` and hand over to `run_detect` /
`coco_from_args` when ``--ray`` is given::

    lite detect images/ --ray --workers 2 --parquet out/dets/
    lite detect images/ --ray --address ray://head:10001 --json out/dets.json
    lite eval --model m.onnx --images val2017 --ann instances.json --ray
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lite.cli._common import detector_options
from lite.errors import InputError


def add_ray_arguments(p: argparse.ArgumentParser, *, outputs: bool = True) -> None:
    """The ``Ray`` argument group: ``--ray``, ``--address``, ``--workers`` (and ``--parquet`` with ``outputs``)."""
    g = p.add_argument_group("Ray", "run the detector on a Ray cluster (pip install 'lite-detect[ray]')")
    g.add_argument("--ray", action="store_true", help="detect on Ray: one detector per actor")
    g.add_argument(
        "--address",
        default=None,
        help="Ray cluster, e.g. auto or ray://head:10001 (default: $RAY_ADDRESS or a new local Ray)",
    )
    g.add_argument("--workers", type=int, default=None, help="detector actors (default: one per CPU)")
    g.add_argument("--batch-images", type=int, default=16, metavar="N", help="images per Ray batch")
    if outputs:
        g.add_argument("--parquet", type=Path, default=None, metavar="DIR",
                       help="write one row per image (boxes, scores, class ids, names, error) here")  # fmt: skip


def ray_requested(args: argparse.Namespace) -> bool:
    """Whether any option of the Ray group was given (``--ray`` itself, or one that needs it)."""
    return bool(args.ray or args.address or args.workers is not None or getattr(args, "parquet", None) is not None)


def _needs_ray(args: argparse.Namespace) -> None:
    if not args.ray:
        given = [o for o, v in (("--address", args.address), ("--workers", args.workers)) if v is not None]
        given += ["--parquet"] if getattr(args, "parquet", None) is not None else []
        raise InputError(f"{', '.join(given)} need --ray (add --ray to run on a Ray cluster)")
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers: expected >= 1, got {args.workers}")


def _start(args: argparse.Namespace) -> Any:
    from lite.distributed import _ray, connect

    ray = _ray()
    if not ray.is_initialized():
        connect(args.address)
    ray.data.DataContext.get_current().enable_progress_bars = not getattr(args, "no_progress", False)
    return ray


def _check_detect_args(args: argparse.Namespace) -> None:
    _needs_ray(args)
    if not args.source:
        raise InputError("--ray needs a SOURCE: a folder, a glob or image files (the synthetic scene runs locally)")
    if args.save is not None:
        raise InputError("--save is not available with --ray (annotated images stay local); use --json or --parquet")


def run_detect(args: argparse.Namespace) -> int:
    """``lite detect SOURCE --ray``: detections from the cluster; ``--json`` / ``--parquet`` outputs; summary."""
    from lite.cli.detect import _image_id
    from lite.distributed import collect, detect_dataset, model_info, write_parquet
    from lite.eval import coco_results, default_category_ids, write_results
    from lite.io import resolve_sources
    from lite.outputs import atomic_path, plan_outputs

    _check_detect_args(args)
    kind, paths = resolve_sources(args.source)
    if kind == "video":
        raise InputError(f"--ray runs on images; got the video {paths[0]} (run it without --ray)")
    if args.json is not None:  # refused before any work: never an input, existing only with --exist-ok
        plan_outputs([args.json], inputs=paths, exist_ok=args.exist_ok, flag="--exist-ok")
    _start(args)
    model = args.model
    if model is None:
        from lite.hub import default_model

        model = default_model()
    options = detector_options(args)
    family = options.pop("family", None)  # detect_dataset takes it by name
    t0 = time.perf_counter()
    out = detect_dataset(
        [str(p) for p in paths],
        model,
        family=family,
        concurrency=args.workers,
        batch_size=args.batch_images,
        **options,
    )
    summary = None
    if args.parquet is not None:
        if args.json is not None:
            out = out.materialize()  # both outputs from one run
        summary = write_parquet(out, args.parquet)
        print(f"parquet: {args.parquet} ({summary.images} rows)")
    if args.json is not None:
        rows, summary = collect(out)
        info = model_info(model, family=family, **options)
        names = info["names"]
        cats = default_category_ids(names)
        order = {str(p.resolve()): i for i, p in enumerate(paths)}
        rows.sort(key=lambda r: order.get(r["path"], len(order)))
        records: list[dict[str, Any]] = []
        for r in rows:
            if r["error"] is None:
                p = Path(r["path"])
                i = order[r["path"]] + 1
                records += coco_results(
                    _image_id(p, i), r["boxes"], r["scores"], r["class_ids"], cats, file_name=p.name, names=names
                )
        with atomic_path(args.json) as tmp:
            write_results(records, tmp)
        print(f"results: {args.json} ({len(records)} detections)")
    if summary is None:
        _, summary = collect(out)
    print(dataclasses.replace(summary, seconds=time.perf_counter() - t0).report())
    return 1 if summary.failed else 0


def coco_from_args(args: argparse.Namespace) -> Callable[..., Any]:
    """``lite eval --ray``: [`coco_eval`][lite.distributed.coco_eval] with the cluster options of ``args``.

    Takes the arguments [`lite.eval.coco`][lite.eval.coco] takes, so ``lite eval`` calls it in its place.
    """
    from lite.distributed import coco_eval

    _needs_ray(args)
    _start(args)
    return functools.partial(
        coco_eval,
        concurrency=args.workers,
        batch_size=args.batch_images,
    )  # the family comes with the detector options, as for lite eval without --ray


__all__ = ["add_ray_arguments", "coco_from_args", "ray_requested", "run_detect"]
