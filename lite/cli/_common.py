"""What the subcommands share: their parser, the options they have in common, and reading those back.

Not a subcommand (the dispatcher skips modules starting with ``_``). The ``add_*`` functions
define an option the same way (name, default, help) in every subcommand that has it; the
``*_options`` functions turn the parsed values back into keyword arguments of the library
(`lite.cv.Detector`, [`lite.tools.eval.coco`][lite.tools.eval.coco],
[`lite.tools.bench.benchmark`][lite.tools.bench.benchmark] …), which take them under the same names.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lite.core.errors import InputError

__all__ = [
    "add_command",
    "add_detection_arguments",
    "add_detector_arguments",
    "add_engine_arguments",
    "add_family_argument",
    "add_input_size_argument",
    "add_no_progress_argument",
    "detection_options",
    "detector_options",
    "engine_options",
    "input_size",
    "model_files",
    "plain",
]

INPUT_SIZE_HELP = "network input N or H W (dynamic-shape models)"
#: lite.cv's modules that are not a family (every other module of lite.cv is one family, named as the module).
#: ``classifier`` holds the classifier families (``lite classify --family``: `CLASSIFIER_FAMILIES`).
_NOT_FAMILIES = frozenset({"classifier", "detector", "family", "image_model", "records", "resolve", "track"})
#: The classifier families of lite.cv.classifier (a test keeps them equal to the registry's).
CLASSIFIER_FAMILIES = ("imagenet", "yolov8-cls")


def _family_modules() -> tuple[str, ...]:
    """lite.cv.family_names() read from lite.cv's module names, so that ``lite --help`` imports no numpy
    (a test keeps them equal)."""
    import importlib.util
    import pkgutil

    spec = importlib.util.find_spec("lite.cv")
    found = pkgutil.iter_modules(spec.submodule_search_locations if spec else [])
    return tuple(sorted(m.name for m in found if not m.name.startswith("_") and m.name not in _NOT_FAMILIES))


FAMILIES = _family_modules()
FAMILY_HELP = (
    f"detector family: {', '.join(FAMILIES)} (yolo11 = yolov8); default: read from the model "
    "(metadata, sidecar, or an output only one family has)"
)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default once: not when its help already says it, nor for None, False or [] (no value)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text.lower()
            or default is None
            or default is False
            or default == []
            or (default is argparse.SUPPRESS)
        ):
            return text
        return super()._get_help_string(action)


def model_files(model: str | None) -> list[Path]:
    """The model file, its companion weights (``.bin`` of a ``.param`` / ``.xml``) and its sidecar.

    Commands pass them to `lite.data.outputs.plan_outputs` as inputs, so no output ever replaces them.
    A hub name or the bundled demo model (``None``) gives no path.
    """
    if model is None or not Path(model).exists():
        return []
    from lite.data.metadata import sidecar_path

    p = Path(model)
    files = [p, sidecar_path(p)]
    if p.suffix.lower() in (".param", ".xml"):
        files.append(p.with_suffix(".bin"))
    return files


def plain(text: str) -> str:
    """Help text without reStructuredText/Markdown code markup: ````x```` and ```x``` become ``x``."""
    return re.sub(r"``(.+?)``|`([^`]+)`", lambda m: m.group(1) or m.group(2), text, flags=re.DOTALL)


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: arguments whose list needs imports (`defer_arguments`) are added on first use
    (parsing its arguments, showing its help or usage), so that building the ``lite`` parser stays cheap."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deferred: list[Callable[[argparse.ArgumentParser], None]] = []

    def _add_deferred(self) -> None:
        while self._deferred:
            self._deferred.pop(0)(self)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # noqa: D102
        self._add_deferred()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:  # noqa: D102
        self._add_deferred()
        return super().format_help()

    def format_usage(self) -> str:  # noqa: D102
        self._add_deferred()
        return super().format_usage()


def defer_arguments(p: argparse.ArgumentParser, add: Callable[[argparse.ArgumentParser], None]) -> None:
    """Have ``add(p)`` add arguments when ``p`` is first used (a `CommandParser`), else now."""
    if isinstance(p, CommandParser):
        p._deferred.append(add)
    else:
        add(p)


def add_command(
    subparsers: Any, name: str, run: Callable[[argparse.Namespace], int], *, help: str, description: str
) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` that ``run`` carries out; its help shows every option's default once.

    Docstring markup in ``help`` and ``description`` (````code````) is shown as plain text in a terminal.
    """
    p = subparsers.add_parser(name, help=plain(help), description=plain(description), formatter_class=HelpFormatter)
    p.set_defaults(func=run)
    return p


def add_engine_arguments(
    p: argparse.ArgumentParser, *, backend: bool = True, device: bool = True, threads: bool = True
) -> None:
    """``--backend``, ``--device``, ``--threads``: which engine runs the model, where, on how many threads."""
    if backend:
        p.add_argument("--backend", default=None, help="backend name (default: from the model's suffix)")
    if device:
        p.add_argument("--device", default="cpu", help="device, e.g. cpu, cuda:0")
    if threads:
        p.add_argument("--threads", type=int, default=None, help="engine threads (default: the engine's)")


def add_family_argument(p: argparse.ArgumentParser, help: str = FAMILY_HELP) -> None:
    """``--family NAME``: which detector family decodes the model (read back by ``engine_options``)."""
    p.add_argument("--family", default=None, metavar="NAME", help=help)


def add_input_size_argument(p: argparse.ArgumentParser, help: str = INPUT_SIZE_HELP) -> None:
    """``--input-size N`` or ``--input-size H W`` (read back with `input_size`)."""
    p.add_argument("--input-size", type=int, nargs="+", default=None, metavar="N", help=help)


def add_detection_arguments(
    p: argparse.ArgumentParser, *, conf: float, iou: float | None = None, max_det: int | None = None
) -> None:
    """``--conf`` and, when given a default, ``--iou`` and ``--max-det``: what detections are kept."""
    p.add_argument("--conf", type=float, default=conf, help="score threshold")
    if iou is not None:
        p.add_argument("--iou", type=float, default=iou, help="NMS IoU threshold")
    if max_det is not None:
        p.add_argument("--max-det", type=int, default=max_det, help="detections kept per image")


def add_detector_arguments(p: argparse.ArgumentParser, *, conf: float, iou: float, max_det: int) -> None:
    """Everything that opens and runs a detector: the family, engine, detection and ``--input-size`` options."""
    add_family_argument(p)
    add_engine_arguments(p)
    add_detection_arguments(p, conf=conf, iou=iou, max_det=max_det)
    add_input_size_argument(p)


def add_no_progress_argument(p: argparse.ArgumentParser) -> None:
    """``--no-progress``."""
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def input_size(values: Sequence[int] | None) -> int | tuple[int, ...] | None:
    """``--input-size`` as the library takes it: ``N``, ``(H, W)``, or None when not given.

    Raises:
        InputError: Not one or two numbers.
    """
    if values is None:
        return None
    if len(values) not in (1, 2):
        raise InputError(f"--input-size: expected N or H W, got {' '.join(map(str, values))}")
    return values[0] if len(values) == 1 else tuple(values)


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """``family``, ``backend``, ``device``, ``threads`` and ``input_size``: those of them the subcommand has.

    Raises:
        InputError: A wrong ``--input-size``.
    """
    options = {k: getattr(args, k) for k in ("family", "backend", "device", "threads") if hasattr(args, k)}
    if hasattr(args, "input_size"):
        options["input_size"] = input_size(args.input_size)
    return options


def detection_options(args: argparse.Namespace) -> dict[str, Any]:
    """``conf``, ``iou`` and ``max_det``: those of them the subcommand has."""
    return {k: getattr(args, k) for k in ("conf", "iou", "max_det") if hasattr(args, k)}


def detector_options(args: argparse.Namespace) -> dict[str, Any]:
    """`engine_options` and `detection_options` together: the keyword arguments of a detector.

    Raises:
        InputError: A wrong ``--input-size``.
    """
    return engine_options(args) | detection_options(args)
