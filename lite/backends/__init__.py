"""Backend registry: inference engines behind one tensor-level interface.

Adapters register with `register_backend`, naming the file suffixes they open and the
pip extra that installs their engine. Registering imports nothing heavy: an adapter imports
its engine package only when it is instantiated (see `require`). Every module in this
package except ``base`` is an adapter and is discovered automatically.

Example:
    ```python
    from lite import backends

    print(backends.available())     # the engines installed here, e.g. ['mnn', 'ncnn', 'ort']
    be = backends.create("yolov6lite_s_320_decoded.onnx")   # suffix -> "ort"
    print(be.name, be.inputs[0])
    ```
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from lite.backends.base import Backend, TensorSpec
from lite.core.errors import (
    BackendNotInstalledError,
    InputError,
    ModelLoadError,
    ModelNotFoundError,
    UnknownBackendError,
)
from lite.core.registry import Registry, import_submodules

__all__ = [
    "Backend",
    "BackendInfo",
    "TensorSpec",
    "available",
    "backend_for_path",
    "create",
    "get",
    "known",
    "register_backend",
    "require",
    "titles",
    "format_of",
]

DIST_NAME = "lite-detect"


@dataclass(frozen=True)
class BackendInfo:
    """What the registry knows about one adapter without importing its engine."""

    name: str
    cls: type[Backend]
    suffixes: tuple[str, ...]
    default_for: tuple[str, ...]
    requires: tuple[str, ...]
    extra: str
    title: str = ""

    @property
    def installed(self) -> bool:
        """True when every engine module the adapter needs can be found (nothing is imported)."""
        return all(_module_exists(m) for m in self.requires)

    @property
    def options(self) -> tuple[str, ...]:
        """The keyword options the adapter accepts (``device``, ``threads`` and its own), read from its ``__init__``."""
        params = inspect.signature(self.cls.__init__).parameters.values()
        return tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY)

    def check_options(self, options: Any, owner: str = "") -> None:
        """Refuse keywords the adapter does not accept, listing the ones it does.

        Raises:
            InputError: An unknown option (``owner`` prefixes the message, e.g. the family's valid keywords).
        """
        bad = sorted(k for k in options if k not in self.options)
        if bad:
            raise InputError(
                f"unknown keyword argument{'s' if len(bad) > 1 else ''} {', '.join(bad)}: "
                + (f"{owner}; " if owner else "")
                + f"backend {self.name!r} options are {', '.join(self.options)}"
            )


_REGISTRY: Registry[BackendInfo] = Registry("backend", UnknownBackendError, owner=lambda info: info.cls)
_ALIASES: dict[str, str] = {"onnxruntime": "ort", "tensorrt": "trt"}

B = TypeVar("B", bound=type[Backend])


def register_backend(
    name: str,
    *,
    suffixes: tuple[str, ...],
    requires: tuple[str, ...],
    extra: str,
    default_for: tuple[str, ...] | None = None,
    title: str | None = None,
) -> Callable[[B], B]:
    """Class decorator that registers an adapter.

    Args:
        name: Backend name users pass as ``backend=``.
        suffixes: File suffixes the adapter can open (lower case, with the dot).
        requires: Importable module names of the engine (checked with ``find_spec``, not imported);
            ``"a|b"`` is satisfied by either module (a package that moved its modules between versions).
        extra: The pip extra that installs the engine.
        default_for: Suffixes for which this backend is chosen when none is named
            (default: all of ``suffixes``).
        title: The engine's display name (``"ONNX Runtime"``), for messages and ``lite info`` (default: ``name``).
    """

    def wrap(cls: B) -> B:
        cls.name = name
        cls.suffixes = tuple(suffixes)
        cls.extra = extra
        _REGISTRY.add(name, BackendInfo(
            name, cls, tuple(suffixes), tuple(suffixes if default_for is None else default_for), tuple(requires), extra,
            title or name,
        ))  # fmt: skip
        return cls

    return wrap


def _discover() -> None:
    """Import every adapter module of this package once (adapters import no engine at module level)."""
    import_submodules(__name__, skip=("base",))


def _module_exists(name: str) -> bool:
    """Whether ``name`` (or, for ``"a|b"``, any of the alternatives) can be imported (nothing is imported
    but the parent packages ``find_spec`` needs)."""
    for alternative in name.split("|"):
        try:
            if importlib.util.find_spec(alternative.strip()) is not None:
                return True
        except (ImportError, ValueError):
            continue
    return False


def titles() -> dict[str, str]:
    """Display name of every registered backend (``{"ort": "ONNX Runtime", ...}``), sorted by name."""
    _discover()
    return {n: _REGISTRY[n].title for n in sorted(_REGISTRY)}


def format_of(path: str | Path) -> str | None:
    """The model format of ``path`` from its suffix: the one engine that opens it (``".xml"`` → ``"OpenVINO"``;
    a ``.bin`` beside an NCNN ``.param`` → ``"NCNN"``), the suffix itself when several engines open it
    (``"ONNX"``), or None when no backend opens it."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".bin" and p.with_suffix(".param").exists():
        suffix = ".param"
    _discover()
    owners = [info.title for info in _REGISTRY.values() if suffix in info.suffixes]
    if not owners:
        return None
    return owners[0] if len(owners) == 1 else suffix.lstrip(".").upper()


def known() -> list[str]:
    """Names of every registered backend, installed or not (sorted)."""
    _discover()
    return sorted(_REGISTRY)


def available() -> list[str]:
    """Names of the backends whose engine packages are installed here (sorted)."""
    _discover()
    return sorted(n for n, info in _REGISTRY.items() if info.installed)


def get(name: str) -> BackendInfo:
    """Registry entry of a backend name (aliases such as ``"onnxruntime"`` accepted).

    Raises:
        UnknownBackendError: The name is not registered; the message lists the known ones.
    """
    _discover()
    key = _ALIASES.get(name.lower(), name.lower()) if isinstance(name, str) else name
    if key not in _REGISTRY:
        raise UnknownBackendError(f"unknown backend {name!r}; known backends: {', '.join(known())}")
    return _REGISTRY[key]


def backend_for_path(path: str | Path) -> str:
    """Name of the backend that opens ``path`` by default, from its suffix.

    Raises:
        UnknownBackendError: No backend opens that suffix; the message lists the suffixes.
    """
    _discover()
    suffix = Path(path).suffix.lower()
    for info in _REGISTRY.values():
        if suffix in info.default_for:
            return info.name
    opened = sorted({s for info in _REGISTRY.values() for s in info.suffixes})
    what = f"{suffix} files" if suffix else "files without a suffix"
    param = Path(path).with_suffix(".param")
    hint = f" (for NCNN pass the .param file, {param.name}; its .bin is found beside it)" if suffix == ".bin" else ""
    raise UnknownBackendError(
        f"expected a model file with one of the suffixes {', '.join(opened)}; got {path}, and no backend opens "
        f"{what}{hint}. Pass a model file, or name a backend with backend= ({', '.join(known())})"
    )


def _suffix_owners(suffix: str) -> list[str]:
    return sorted(info.name for info in _REGISTRY.values() if suffix in info.suffixes)


def _check_path(path: Path) -> None:
    """A model path must be an existing file; a folder gets a message naming the model files inside."""
    if not path.exists():
        raise ModelNotFoundError(f"model file not found: {path} (absolute: {path.resolve()})")
    if path.is_dir():
        _discover()
        suffixes = {s for info in _REGISTRY.values() for s in info.suffixes}
        inside = sorted(p.name for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
        hint = f"; it holds {', '.join(inside[:5])}{' ...' if len(inside) > 5 else ''}" if inside else ""
        raise ModelLoadError(
            f"expected a model file ({', '.join(sorted(suffixes))}); got the directory {path}{hint}. "
            "Pass the path of the model file itself"
        )


def _check_backend_opens(info: BackendInfo, path: Path) -> None:
    """A named backend must open the file's suffix when another backend owns it (``backend="ncnn"`` on ``.onnx``)."""
    suffix = path.suffix.lower()
    owners = _suffix_owners(suffix)
    if suffix and owners and info.name not in owners:
        raise UnknownBackendError(
            f"backend {info.name!r} opens {', '.join(info.suffixes)} files; got {path.name} ({suffix}), which "
            f"{' or '.join(repr(o) for o in owners)} opens. Leave backend= unset to choose from the suffix, or "
            f"convert the model first (e.g. lite convert {path.name} --to {info.name})"
        )


def create(model_path: str | Path, backend: str | None = None, **options: Any) -> Backend:
    """Open a model file with a backend.

    Args:
        model_path: The model file.
        backend: Backend name; None chooses one from the file suffix.
        **options: Passed to the adapter (``device``, ``threads``, engine-specific options).

    Raises:
        ModelNotFoundError: The file does not exist.
        ModelLoadError: ``model_path`` is a directory (the message names model files inside).
        UnknownBackendError: Unknown backend name or suffix, or a named backend that does not open the
            file's suffix while another backend does (``backend="ncnn"`` on an ``.onnx``).
        BackendNotInstalledError: The engine package is missing (an ``ImportError``).
        InputError: An option the adapter does not accept (the message lists the ones it does).
    """
    path = Path(model_path)
    _check_path(path)
    if backend is not None:
        info = get(backend)
        _check_backend_opens(info, path)
    else:
        info = get(backend_for_path(path))
    info.check_options(options)
    return info.cls(path, **options)


def require(module: str, backend: str, extra: str | None = None) -> ModuleType:
    """Import an engine package for an adapter, or raise an ImportError naming the pip extra.

    Args:
        module: Module to import, e.g. ``"onnxruntime"``.
        backend: The backend that needs it (for the message).
        extra: The pip extra to suggest (default: the backend's).
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        hint = extra or (get(backend).extra if backend in _REGISTRY else backend)
        raise BackendNotInstalledError(
            f"backend {backend!r} needs the {module!r} package, which is not installed "
            f"({e}); install it with: pip install '{DIST_NAME}[{hint}]'"
        ) from e
