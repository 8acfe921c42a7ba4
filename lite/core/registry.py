"""The one registry mechanism of lite's registries (backends, converters, decoders, families): a `Registry` (a dict
that refuses a second owner of a name and lists the known names for an unknown one) and plug-in discovery
(`import_submodules`: import a package's plug-in modules once)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from lite.core.errors import InputError, LiteError

__all__ = ["Registry", "import_submodules"]

V = TypeVar("V")


class Registry(dict[str, V]):
    """Name → entry for one kind of plug-in (a plain dict for reading).

    Args:
        kind: What the entries are, for messages (``"decoder"``, ``"model family"``...).
        unknown: The error an unknown name raises (its message lists the known names).
        owner: The identity of an entry's owner (a class, a function's module): registering a name again is
            allowed only for the same owner (a module imported twice), else refused.
    """

    def __init__(
        self, kind: str, unknown: type[LiteError] = InputError, owner: Callable[[Any], Any] = lambda v: v
    ) -> None:
        super().__init__()
        self.kind, self.unknown, self.owner = kind, unknown, owner

    def add(self, name: str, entry: V) -> V:
        """Register ``entry`` under ``name``.

        Raises:
            InputError: ``name`` is already registered by another owner.
        """
        old = self.get(name)
        if old is not None and self.owner(old) != self.owner(entry):
            raise InputError(f"{self.kind} {name!r} is already registered by {_describe(self.owner(old))}")
        self[name] = entry
        return entry

    def copy(self) -> Registry[V]:  # type: ignore[override]
        """A registry with the same rules and entries (e.g. to register throwaway plug-ins and drop them)."""
        twin: Registry[V] = Registry(self.kind, self.unknown, self.owner)
        twin.update(self)
        return twin

    def lookup(self, name: str) -> V:
        """The entry of ``name``.

        Raises:
            LiteError: ``unknown``, listing the known names.
        """
        try:
            return self[name]
        except (KeyError, TypeError):
            raise self.unknown(f"unknown {self.kind} {name!r}; registered {self.kind}s: {', '.join(self)}") from None


def _describe(owner: Any) -> str:
    return getattr(owner, "__qualname__", None) or str(owner)

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
