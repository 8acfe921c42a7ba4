"""``lite bench``: latency of every pipeline stage against the engine's raw call.

Several ``--model`` values, several ``--backend`` values, or both (paired in order) are
compared in one table::

    lite bench --model yolov6lite_s_320_decoded.onnx --threads 2
    lite bench --model yolov6lite_s_320_decoded.onnx --model yolov6-lite-s.param --input-size 320 --plot b.png
    lite bench --model model.onnx --backend ort --backend mnn --json bench.json
    lite bench --model yolov8n-seg.onnx --model mobilenetv2-12-int8.onnx    # segmentation, classification
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lite.cli._common import (
    FAMILY_HELP,
    add_command,
    add_engine_arguments,
    add_family_argument,
    add_input_size_argument,
    add_no_progress_argument,
    detector_options,
)
from lite.ops.options import DetectOptions


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand."""
    p = add_command(
        subparsers,
        "bench",
        run,
        help="per-stage latency (pre / infer / post / end-to-end) vs the engine's raw call, any task",
        description=(
            "Benchmark models and backends: warm-up, then median, mean ± std and p90 of pre-processing, "
            "inference, post-processing and end-to-end detect() (with a segmentation model's masks, a pose "
            "model's keypoints) or classify() (a classifier), next to the engine's bare inference call "
            "on a prepared tensor, and the ratio end-to-end / raw."
        ),
    )
    p.add_argument("-m", "--model", action="append", required=True, help="model file or hub name (repeatable)")
    p.add_argument("--backend", action="append", default=None, help="backend name (repeatable)")
    add_family_argument(p, help=FAMILY_HELP + "; one family for every --model")
    add_engine_arguments(p, backend=False)
    p.add_argument("--runs", type=int, default=100, help="timed iterations")
    p.add_argument("--warmup", type=int, default=10, help="untimed iterations first")
    p.add_argument("--image", default=None, help="image to run on (default: a synthetic scene, 480x640 HxW)")
    add_input_size_argument(p)
    conf_help = f"a detector's score threshold (default: {DetectOptions.conf}; not for classifiers)"
    p.add_argument("--conf", type=float, default=None, help=conf_help)
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the results JSON here")
    p.add_argument("--plot", type=Path, default=None, metavar="FILE.png",
                   help="save a bar chart (needs matplotlib: checked before the benchmark starts)")  # fmt: skip
    add_no_progress_argument(p)


def pairs(models: list[str], backends: list[str] | None) -> list[tuple[str, str | None]]:
    """The (model, backend) runs: one backend for all models, one model on each backend, or paired in order.

    Raises:
        InputError: Several models and several backends in different numbers.
    """
    from lite.core.errors import InputError

    if not backends:
        return [(m, None) for m in models]
    if len(backends) == 1:
        return [(m, backends[0]) for m in models]
    if len(models) == 1:
        return [(models[0], b) for b in backends]
    if len(models) == len(backends):
        return list(zip(models, backends, strict=True))
    raise InputError(
        f"got {len(models)} --model and {len(backends)} --backend values: pass one backend, one model, "
        "or as many backends as models (paired in order)"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``lite bench``; returns the exit code."""
    from lite.data.io import load_image
    from lite.data.outputs import plan_outputs
    from lite.tools.bench import benchmark, format_table, plot, require_matplotlib, write_json

    options = detector_options(args)  # its backend (the --backend list) is replaced per run, from pairs()
    if options.get("conf") is None:  # a detector's own default; a classifier takes no --conf
        options.pop("conf", None)
    runs = pairs(args.model, args.backend)
    if args.plot is not None:
        require_matplotlib()  # before minutes of benchmarking, not after
    outputs = [p for p in (args.json, args.plot) if p is not None]
    plan_outputs(outputs, exist_ok=True)  # the folders exist and can be written to, before the runs
    image = load_image(args.image) if args.image is not None else None
    results = []
    for k, (model, backend) in enumerate(runs, start=1):
        print(f"[{k}/{len(runs)}] {model}{f' on {backend}' if backend else ''}: {args.warmup} warm-up + "
              f"{args.runs} timed runs", file=sys.stderr, flush=True)  # fmt: skip
        opts = options | {"backend": backend}
        results.append(
            benchmark(model, image=image, runs=args.runs, warmup=args.warmup, progress=not args.no_progress, **opts)
        )
    print(f"image: {args.image or 'synthetic scene 480x640 (HxW)'}")
    print(format_table(results))
    if args.json is not None:
        print(f"results: {write_json(results, args.json)}")
    if args.plot is not None:
        print(f"plot: {plot(results, args.plot)}")
    return 0
