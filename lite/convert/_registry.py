"""The converter registry: conversion targets, the files each writes, and where they go.

A converter is one function ``fn(onnx, out=None, fp16=False, *, force=False, ...) -> Path``
registered with `register_converter`, naming the file suffixes it writes. Everything else
— ``lite convert --to`` choices, `lite.convert.convert`, ``lite export --to``, the output
path rules, the overwrite check — comes from here.

The converter of target ``NAME`` is in ``lite/convert/NAME.py`` (any module of `lite.convert`
whose name does not start with ``_``): `known` lists the targets from the module names
without importing them (so ``lite --help`` stays instant), and `get` imports a target's
module when it is first used, which registers it.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from lite.core.errors import InputError, UnknownConverterError
from lite.core.registry import Registry, import_submodules

__all__ = ["ConverterInfo", "get", "known", "output_path", "register_converter"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ConverterInfo:
    """What the registry knows about one conversion target.

    Attributes:
        name: The target name (``lite convert --to NAME``).
        module: Module of the converter function.
        function: Name of the converter function (looked up at call time).
        suffixes: The converted model's default suffix first (``".ncnn.param"``), then its
            companion files' (``".ncnn.bin"``).
        accepts: Suffixes an ``out`` file path may end with (default: the last part of the first suffix).
        end2end: The target runs end-to-end models (ONNX NonMaxSuppression inside).
        help: One line for ``lite convert --help``.
    """

    name: str
    module: str
    function: str
    suffixes: tuple[str, ...]
    accepts: tuple[str, ...]
    end2end: bool
    help: str
    registered: Callable[..., Path] | None = field(default=None, repr=False, compare=False)

    @property
    def fn(self) -> Callable[..., Path]:
        """The converter function: its module's attribute of that name when there is one (so a wrapped or
        patched function is the one called), else the function that was registered."""
        module = sys.modules.get(self.module) or importlib.import_module(self.module)
        found = getattr(module, self.function, None)
        return found if callable(found) else self.registered  # type: ignore[return-value]

    def parameters(self) -> set[str]:
        """Names of the options the converter function declares."""
        return set(inspect.signature(self.fn).parameters)

    def takes(self, option: str) -> bool:
        """Whether the converter accepts ``option`` (declared, or through ``**kwargs``)."""
        params = inspect.signature(self.fn).parameters.values()
        return option in self.parameters() or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)

    def output_path(self, onnx: str | Path, out: str | Path | None = None) -> Path:
        """Where the converted model goes (see `output_path`)."""
        return output_path(onnx, out, self.name)

    def outputs(self, primary: str | Path) -> list[Path]:
        """Every file a conversion to ``primary`` writes: the model, its companions, its ``.lite.json`` sidecar."""
        from lite.data.metadata import sidecar_path

        primary = Path(primary)
        companions = [primary.with_suffix("." + s.rsplit(".", 1)[-1]) for s in self.suffixes[1:]]
        return [primary, *companions, sidecar_path(primary)]


_REGISTRY: Registry[ConverterInfo] = Registry("converter", owner=lambda info: (info.module, info.function))
_ALIASES: dict[str, str] = {}


def register_converter(
    name: str,
    *,
    suffixes: Sequence[str],
    accepts: Sequence[str] | None = None,
    aliases: Sequence[str] = (),
    end2end: bool = False,
    help: str = "",
) -> Callable[[F], F]:
    """Function decorator that registers a converter for the target ``name``.

    Args:
        name: Target name users pass as ``to=`` / ``--to``.
        suffixes: The converted model's default suffix first, then its companion files'.
        accepts: Suffixes an ``out`` file may end with (default: the last part of ``suffixes[0]``).
        aliases: Other names of the target (``"tensorrt"`` for ``"trt"``).
        end2end: The target runs models with ONNX NonMaxSuppression inside.
        help: One line for the command line's help.
    """
    if not suffixes:
        raise ValueError(f"converter {name!r}: expected at least one suffix")

    def wrap(fn: F) -> F:
        ok = tuple(accepts) if accepts else ("." + suffixes[0].rsplit(".", 1)[-1],)
        doc = help or (fn.__doc__ or "").split("\n")[0]
        _REGISTRY.add(name, ConverterInfo(name, fn.__module__, fn.__name__, tuple(suffixes), ok, end2end, doc, fn))
        for alias in aliases:
            _ALIASES[alias] = name
        return fn

    return wrap


def _discover() -> None:
    """Import every converter module of `lite.convert` once, so that its converters register."""
    import_submodules("lite.convert")


def _module_names() -> set[str]:
    package = sys.modules["lite.convert"]
    return {m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")}


def known() -> list[str]:
    """Names of every conversion target (sorted): the converter modules of `lite.convert` (not imported)
    and any target registered from elsewhere."""
    return sorted(_module_names() | set(_REGISTRY))


def get(name: str) -> ConverterInfo:
    """The registry entry of a target name (aliases such as ``"tensorrt"`` accepted).

    Raises:
        UnknownConverterError: The name is not registered; the message lists the known ones.
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in _REGISTRY and key in _module_names():
        importlib.import_module(f"lite.convert.{key}")  # registers the target
    if key not in _REGISTRY:
        _discover()  # aliases are known once every converter module registered
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        raise UnknownConverterError(f"unknown target {name!r} for conversion; known targets: {', '.join(known())}")
    return _REGISTRY[key]


def output_path(onnx: str | Path, out: str | Path | None, to: str) -> Path:
    """Where a conversion of ``onnx`` to ``to`` writes its model — the same rule for every target.

    * ``out`` None: ``<current directory>/<onnx stem><suffix>`` (``m.onnx`` → ``./m.ncnn.param``,
      ``./m.mnn``, ``./m.engine``), never beside the source model.
    * ``out`` a folder — an existing one, a path without a suffix, or one ending in a separator:
      ``<out>/<onnx stem><suffix>``.
    * ``out`` a file path: used as is; it must end in a suffix the target writes.

    A pure function: it neither reads nor writes anything but ``out``'s type on disk.

    Raises:
        InputError: ``out`` is a file path with a suffix the target does not write.
        UnknownConverterError: ``to`` is not a registered target.
    """
    info = get(to)
    name = Path(onnx).stem + info.suffixes[0]
    if out is None:
        return Path.cwd() / name
    o = Path(out)
    if o.is_dir() or not o.suffix or str(out).endswith(("/", os.sep)):
        return o / name
    if o.suffix.lower() not in info.accepts:
        raise InputError(f"out: expected a folder or a {'/'.join(info.accepts)} file for --to {info.name}, got {out}")
    return o


def check_options(to: str, options: dict[str, Any], flags: dict[str, str] | None = None) -> None:
    """Refuse options the target's converter does not take, naming the targets that do.

    Args:
        to: The target.
        options: Option name → value (only those given count).
        flags: Option name → how the user spelled it (``"int8"`` → ``"--int8"``).

    Raises:
        InputError: An option the converter does not take.
    """
    info = get(to)
    foreign = [k for k in options if not info.takes(k)]
    if not foreign:
        return
    flags = flags or {}
    takers = [n for n in known() if all(get(n).takes(k) for k in foreign)]
    where = f"--to {'/'.join(takers)} only" if takers else "no conversion target"
    shown = ", ".join(flags.get(k, k) for k in foreign)
    raise InputError(f"{shown} apply to {where}, not --to {info.name}")
