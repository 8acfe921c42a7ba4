"""``lite convert MODEL.onnx --to TARGET``: convert an ONNX model for another engine.

The converted model gets a ``.lite.json`` sidecar with the class names, strides, input size,
family, decoder and task (``detect``, ``segment``, ``pose``, ``classify``; and a YOLOv6 layout), so that it
reopens as the same task with no argument, and is checked against ONNX Runtime before it is written::

    lite convert yolov6lite_s_320_raw.onnx --to ncnn            # ./yolov6lite_s_320_raw.ncnn.param/.bin
    lite convert yolov6lite_s_320_raw.onnx --to mnn --fp16 -o models/
    lite convert model.onnx --to trt --fp16 --batch 1,4,8 --workspace 4 -o engines/ --force
    lite convert yolox_s.onnx --to trt --int8 --calib-images coco/ --family yolox --device cuda:1

Outputs go to the current directory unless ``--out/-o`` names a file or a folder (the same rule
for every target); an existing output is an error before any work unless ``--force``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lite.cli._common import add_command, defer_arguments


def register(subparsers: Any) -> None:
    """Add the ``convert`` subcommand (its ``--to`` choices are the registered converters).

    The flags every target takes are added here; each converter's own flags (``--int8``, ``--input-shape``...)
    come from its registration (`lite.convert.ConverterOption`) and are added when ``lite convert`` is parsed
    or its help shown, so that no converter module is imported for the other commands.
    """
    from lite.convert import known

    targets = known()  # module names: no converter is imported for --help
    p = add_command(
        subparsers,
        "convert",
        run,
        help="convert an ONNX model for another engine (" + ", ".join(targets) + ")",
        description="Convert an ONNX model for another engine. The output carries the model's metadata in a "
        ".lite.json sidecar and is checked against ONNX Runtime (NCNN, MNN) before it is written. Outputs go to "
        "the current directory unless --out names a file or a folder; existing files are kept unless --force.",
    )
    p.add_argument("model", help="the .onnx file")
    p.add_argument("--to", required=True, choices=targets, help="target format (the registered converters)")
    p.add_argument(
        "-o",
        "--out",
        default=None,
        help="output file, or a folder: <folder>/<model><suffix> (default: the current directory)",
    )
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--fp16", action="store_true", help="FP16 weights (ncnn, mnn) or FP16 kernels (trt)")
    p.add_argument("--no-verify", action="store_true", help="skip the check against ONNX Runtime")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    defer_arguments(p, _add_converter_options)


def _add_converter_options(p: argparse.ArgumentParser) -> None:
    """One flag per option the converters' registrations declare, grouped by the targets that take it."""
    from lite.convert import declared_options

    groups: dict[tuple[str, ...], Any] = {}
    for opt, targets in declared_options().values():
        if targets not in groups:
            groups[targets] = p.add_argument_group(f"--to {'/'.join(targets)} only")
        kw: dict[str, Any] = {"dest": opt.name, "help": opt.help}
        if opt.switch:
            kw["action"] = "store_true"
        else:
            kw.update(default=None, metavar=opt.metavar)
        groups[targets].add_argument(opt.flag, **kw)


def _options(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """The converter options the user gave (options left at their default are not passed), and their flags."""
    from lite.convert import declared_options

    given: dict[str, Any] = {"verify": False if args.no_verify else None}
    flags = {"verify": "--no-verify"}
    for name, (opt, _) in declared_options().items():
        given[name] = opt.value(getattr(args, name, None))
        flags[name] = opt.flag
    return {k: v for k, v in given.items() if v is not None}, flags


def run(args: argparse.Namespace) -> int:
    """Convert; print the output path on stdout."""
    from lite.convert import check_options, convert, get

    options, flags = _options(args)
    check_options(args.to, options, flags)  # before any work: options of another target are an error
    if "progress" in get(args.to).parameters():
        options["progress"] = not args.quiet
    out = convert(args.model, args.to, args.out, fp16=args.fp16, force=args.force, **options)
    print(out)
    sys.stdout.flush()
    return 0
