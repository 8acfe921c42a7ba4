"""A griffe extension for the API reference: parameter defaults shown as values, not as the names they come from.

``conf: float = DetectOptions.conf`` would show ``DetectOptions.conf`` (or just ``conf``) in the
Default column; the reader wants ``0.25``. For every function, a default that is a name or an
attribute (``DetectOptions.conf``, ``RTOL``) is evaluated in its module, and replaced by the
value's ``repr`` when that is a plain literal (number, string, bool, None, or a tuple of them).
mkdocs.yml enables it (``extensions: [docs/griffe_defaults.py]``); ``tests/test_first_hour.py``
checks that the reference pages show no unevaluated name.
"""

from __future__ import annotations

import importlib
from typing import Any

import griffe

_LITERALS = (int, float, str, bool, type(None))


def _plain(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_plain(v) for v in value)
    return isinstance(value, _LITERALS)


def literal_default(module: str, expression: str) -> str | None:
    """``repr`` of ``expression`` evaluated in ``module`` when it is a plain literal, else None."""
    try:
        namespace = vars(importlib.import_module(module))
        value = eval(expression, dict(namespace))  # noqa: S307 - names and attributes of lite's own modules
    except Exception:  # noqa: BLE001 - a default the docs cannot evaluate keeps its text
        return None
    return repr(value) if _plain(value) else None


def _replace(func: griffe.Function) -> None:
    for param in func.parameters:
        if isinstance(param.default, griffe.ExprAttribute | griffe.ExprName):
            value = literal_default(func.module.path, str(param.default))
            if value is not None:
                param.default = value


def _walk(obj: griffe.Object) -> None:
    for member in obj.members.values():
        if member.is_alias:
            continue
        if member.is_function:
            _replace(member)
        elif member.is_class or member.is_module:
            _walk(member)
        elif member.is_attribute and obj.is_class and isinstance(member.value, griffe.ExprAttribute | griffe.ExprName):
            value = literal_default(member.module.path, str(member.value))  # a dataclass field's default
            if value is not None:
                member.value = value


class LiteralDefaults(griffe.Extension):
    """Replace name and attribute defaults with their literal values (dataclass ``__init__`` included)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Once the package is loaded: dataclass fields too, before griffe builds their ``__init__``."""
        _walk(pkg)

    on_package_loaded = on_package  # the hook's name in griffe < 1.14
