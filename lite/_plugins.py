"""Registry discovery shared by lite's registries (backends, converters): import a package's plug-in modules once."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Collection

__all__ = ["import_submodules"]

_DONE: set[str] = set()


def import_submodules(package: str, skip: Collection[str] = ()) -> None:
    """Import, once per process, every module of ``package`` whose name starts with no ``_`` and is not in ``skip``.

    Each such module registers what it defines (``@register_backend``, ``@register_converter``) when imported;
    plug-in modules import nothing heavy at module level, so this is cheap.
    """
    if package in _DONE:
        return
    _DONE.add(package)
    pkg = sys.modules.get(package) or importlib.import_module(package)
    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_") and mod.name not in skip:
            importlib.import_module(f"{package}.{mod.name}")
