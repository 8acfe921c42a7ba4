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

__all__ = ["ConverterInfo", "ConverterOption", "declared_options", "get", "known", "output_path", "register_converter"]

F = TypeVar("F", bound=Callable[..., Any])


#: `ConverterOption.type` values: how the command-line flag reads.
OPTION_TYPES = ("on", "off", "str", "float", "ints")


@dataclass(frozen=True)
class ConverterOption:
    """One option of a converter that the command line offers as a flag (declared by its registration).

    Attributes:
        name: The converter's keyword argument (``"workspace_gb"``).
        type: ``"on"``: a switch that passes True (``--int8``); ``"off"``: a switch that passes False
            (``--no-tf32``); ``"str"``, ``"float"``: one value; ``"ints"``: ``count`` comma-separated positive ints.
        help: One line for ``lite convert --help``.
        flag: The command-line flag (default ``--<name>`` with dashes, ``--no-<name>`` for ``"off"``).
        metavar: How the value is shown in the help (``"GB"``).
        count: ``"ints"``: how many.
    """

    name: str
    type: str
    help: str
    flag: str = ""
    metavar: str | None = None
    count: int = 0

    def __post_init__(self) -> None:
        if self.type not in OPTION_TYPES:
            raise ValueError(f"converter option {self.name!r}: type must be one of {OPTION_TYPES}, got {self.type!r}")
        if self.type == "ints" and self.count < 1:
            raise ValueError(f"converter option {self.name!r}: type 'ints' needs count >= 1, got {self.count}")
        if not self.flag:
            dashed = self.name.replace("_", "-")
            object.__setattr__(self, "flag", f"--no-{dashed}" if self.type == "off" else f"--{dashed}")

    @property
    def switch(self) -> bool:
        """Whether the flag takes no value."""
        return self.type in ("on", "off")

    def value(self, given: Any) -> Any:
        """The converter's argument from what the command line parsed (None: not given).

        Raises:
            InputError: An ``"ints"`` or ``"float"`` value that is not one.
        """
        if given is None or given is False:
            return None
        if self.type in ("on", "off"):
            return self.type == "on"
        if self.type == "float":
            try:
                return float(given)
            except ValueError:
                raise InputError(f"{self.flag}: expected a number, got {given!r}") from None
        if self.type == "ints":
            return _ints(str(given), self.flag, self.count)
        return given


def _ints(text: str, what: str, count: int) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError as e:
        raise InputError(f"{what}: expected {count} comma-separated integers, got {text!r}") from e
    if len(values) != count or min(values) <= 0:
        raise InputError(f"{what}: expected {count} positive comma-separated integers, got {text!r}")
    return values


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
        options: The converter's own options the command line offers (``--int8``...).
    """

    name: str
    module: str
    function: str
    suffixes: tuple[str, ...]
    accepts: tuple[str, ...]
    end2end: bool
    help: str
    options: tuple[ConverterOption, ...] = ()
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
    options: Sequence[ConverterOption] = (),
) -> Callable[[F], F]:
    """Function decorator that registers a converter for the target ``name``.

    Args:
        name: Target name users pass as ``to=`` / ``--to``.
        suffixes: The converted model's default suffix first, then its companion files'.
        accepts: Suffixes an ``out`` file may end with (default: the last part of ``suffixes[0]``).
        aliases: Other names of the target (``"tensorrt"`` for ``"trt"``).
        end2end: The target runs models with ONNX NonMaxSuppression inside.
        help: One line for the command line's help.
        options: The converter's own options that ``lite convert`` offers as flags (each a keyword argument
            of the function); the flags, and the "applies to --to X only" check, come from these.

    Raises:
        ValueError: No suffix, or an option the function does not take.
    """
    if not suffixes:
        raise ValueError(f"converter {name!r}: expected at least one suffix")

    def wrap(fn: F) -> F:
        ok = tuple(accepts) if accepts else ("." + suffixes[0].rsplit(".", 1)[-1],)
        doc = help or (fn.__doc__ or "").split("\n")[0]
        params = inspect.signature(fn).parameters
        untaken = [o.name for o in options if o.name not in params]
        if untaken:
            raise ValueError(f"converter {name!r}: options {untaken} are not parameters of {fn.__name__}")
        info = ConverterInfo(
            name, fn.__module__, fn.__name__, tuple(suffixes), ok, end2end, doc, tuple(options), registered=fn
        )
        _REGISTRY.add(name, info)
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


def declared_options() -> dict[str, tuple[ConverterOption, tuple[str, ...]]]:
    """Every converter option a registration declares: name → (the option, the targets declaring it), in
    target then declaration order (imports every converter module).

    Raises:
        ValueError: Two converters declare the same option name with different flags or types.
    """
    _discover()
    found: dict[str, tuple[ConverterOption, tuple[str, ...]]] = {}
    for target in sorted(_REGISTRY):
        for opt in _REGISTRY[target].options:
            if opt.name in found:
                first, targets = found[opt.name]
                if (first.flag, first.type, first.count) != (opt.flag, opt.type, opt.count):
                    raise ValueError(
                        f"converter option {opt.name!r}: --to {target} declares it as {opt.flag} ({opt.type}), "
                        f"--to {'/'.join(targets)} as {first.flag} ({first.type})"
                    )
                found[opt.name] = (first, (*targets, target))
            else:
                found[opt.name] = (opt, (target,))
    return found


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
