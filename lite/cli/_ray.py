"""``--ray`` for ``lite detect`` and ``lite eval``: the detections come from a Ray cluster.

Not a subcommand (the dispatcher skips modules starting with ``_``). ``detect`` and ``eval`` add
the argument group with `add_ray_arguments` and hand over to `run_detect` /
`coco_from_args` when ``--ray`` is given::

    lite detect images/ --ray --workers 2 --parquet out/dets/
    lite detect s3://bucket/frames/ --ray --address auto --parquet out/dets/ --resume
    lite detect "frames/*.jpg" --ray --cpus-per-worker 0.5 --preserve-order --json out/dets.json
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
from lite.core.errors import InputError


def add_ray_arguments(p: argparse.ArgumentParser, *, outputs: bool = True) -> None:
    """The ``Ray`` argument group: ``--ray``, ``--address``, ``--workers`` (and ``--parquet`` with ``outputs``)."""
    g = p.add_argument_group("Ray", "run the detector on a Ray cluster (pip install 'lite-detect[ray]')")
    g.add_argument("--ray", action="store_true", help="detect on Ray: one detector per actor")
    g.add_argument(
        "--address",
        default=None,
        help="Ray cluster: auto (the cluster of this node) or HEAD_IP:6379 (default: $RAY_ADDRESS or a new local Ray)",
    )
    g.add_argument("--workers", type=int, default=None, help="detector actors (default: one per CPU)")
    g.add_argument("--batch-size", "--batch-images", dest="batch_images", type=int, default=16, metavar="N",
                   help="images per Ray batch (16)")  # fmt: skip
    g.add_argument("--cpus-per-worker", type=float, default=None, metavar="X",
                   help="CPUs each actor reserves (default: sized so that read tasks always find a CPU)")  # fmt: skip
    g.add_argument("--gpus-per-worker", type=float, default=None, metavar="X",
                   help="GPUs each actor reserves (default: 1 for TensorRT or a cuda device, else 0)")  # fmt: skip
    g.add_argument("--preserve-order", action="store_true", help="rows in input order (a slow batch holds back)")
    g.add_argument("--model-on-every-node", choices=("auto", "yes", "no"), default="auto",
                   help="yes: every node opens the model path itself; no: ship the model's bytes through the "
                        "object store; auto: ship on clusters of more than one node")  # fmt: skip
    if outputs:
        g.add_argument("--parquet", type=Path, default=None, metavar="DIR",
                       help="write one row per image (boxes, scores, class ids, names, error) here")  # fmt: skip
        g.add_argument("--resume", action="store_true",
                       help="with --parquet: continue the job that wrote DIR (rows there are skipped)")  # fmt: skip


def _given(args: argparse.Namespace) -> list[str]:
    """The Ray-only options given on the command line."""
    opts = (
        ("--address", args.address is not None),
        ("--workers", args.workers is not None),
        ("--cpus-per-worker", args.cpus_per_worker is not None),
        ("--gpus-per-worker", args.gpus_per_worker is not None),
        ("--preserve-order", args.preserve_order),
        ("--model-on-every-node", args.model_on_every_node != "auto"),
        ("--parquet", getattr(args, "parquet", None) is not None),
        ("--resume", getattr(args, "resume", False)),
    )
    return [o for o, on in opts if on]


def ray_requested(args: argparse.Namespace) -> bool:
    """Whether any option of the Ray group was given (``--ray`` itself, or one that needs it)."""
    return bool(args.ray or _given(args))


def _needs_ray(args: argparse.Namespace) -> None:
    if not args.ray:
        raise InputError(f"{', '.join(_given(args))} need --ray (add --ray to run on a Ray cluster)")
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers: expected >= 1, got {args.workers}")
    if getattr(args, "resume", False) and getattr(args, "parquet", None) is None:
        raise InputError("--resume continues a --parquet output: add --parquet DIR (the folder of the earlier run)")


def _sizing(args: argparse.Namespace) -> dict[str, Any]:
    """The `detect_dataset` keyword arguments of the Ray options."""
    on_every = {"auto": None, "yes": True, "no": False}[args.model_on_every_node]
    return {
        "concurrency": args.workers,
        "batch_size": args.batch_images,
        "num_cpus": args.cpus_per_worker,
        "num_gpus": args.gpus_per_worker,
        "preserve_order": args.preserve_order,
        "model_on_every_node": on_every,
    }


def _start(args: argparse.Namespace) -> Any:
    from lite.tools.distributed import _ray, connect

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
    from lite.data.io import resolve_sources
    from lite.data.outputs import atomic_path, plan_outputs
    from lite.tools.distributed import collect, detect_dataset, detect_to_parquet, model_info, write_parquet
    from lite.tools.eval import coco_results, default_category_ids, write_results

    _check_detect_args(args)
    uris = [s for s in args.source if "://" in str(s)]
    if uris and len(args.source) > 1:
        raise InputError(f"--ray: a URI source ({uris[0]}) must come alone; got {len(args.source)} sources")
    if uris:  # s3://, gs://, file://...: listed and read by Ray's read tasks on the cluster
        data: Any = uris[0]
        paths: list[Path] = []
    else:
        kind, paths = resolve_sources(args.source)
        if kind == "video":
            raise InputError(f"--ray runs on images; got the video {paths[0]} (run it without --ray)")
        data = [str(p) for p in paths]
    if args.json is not None:  # refused before any work: never an input, existing only with --exist-ok
        plan_outputs([args.json], inputs=paths, exist_ok=args.exist_ok, flag="--exist-ok")
    if args.resume and args.json is not None:
        raise InputError("--resume writes --parquet only; drop --json (read the Parquet rows afterwards)")
    _start(args)
    model = args.model
    if model is None:
        from lite.hub import default_model

        model = default_model()
    options = detector_options(args)
    family = options.pop("family", None)  # detect_dataset takes it by name
    t0 = time.perf_counter()
    if args.resume:
        summary = detect_to_parquet(data, model, args.parquet, resume=True, family=family, **_sizing(args), **options)
        print(f"parquet: {args.parquet} ({summary.images} new rows)")
        print(dataclasses.replace(summary, seconds=time.perf_counter() - t0).report())
        return 1 if summary.failed else 0
    out = detect_dataset(data, model, family=family, **_sizing(args), **options)
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
        order = {str(p.resolve()): i for i, p in enumerate(paths)} or {
            r["path"]: i for i, r in enumerate(sorted(rows, key=lambda r: r["path"]))
        }  # URI sources: by path
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
    """``lite eval --ray``: [`coco_eval`][lite.tools.distributed.coco_eval] with the cluster options of ``args``.

    Takes the arguments [`lite.tools.eval.coco`][lite.tools.eval.coco] takes, so ``lite eval`` calls it in its place.
    """
    from lite.tools.distributed import coco_eval

    _needs_ray(args)
    _start(args)
    sizing = _sizing(args)
    sizing.pop("preserve_order")  # the evaluation sorts the rows itself
    return functools.partial(coco_eval, **sizing)  # the family comes with the detector options


__all__ = ["add_ray_arguments", "coco_from_args", "ray_requested", "run_detect"]
