"""The TensorRT engine cache: keys, atomic writes, and the "stale engine → rebuild" decision.

A TensorRT engine is only valid for the TensorRT version and the GPU (compute capability) that
built it, and it bakes in the precision and the optimisation profiles. The cache key therefore
hashes all of them together with the ONNX file's sha256, so a change in any one of them misses
the cache instead of loading a wrong or unloadable engine.

Nothing here imports TensorRT: the TensorRT calls are passed in as callables (see
`load_or_rebuild`), so the decisions are testable on a machine without a GPU.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from lite.errors import InputError, ModelLoadError

__all__ = [
    "CACHE_SUBDIR",
    "atomic_write_bytes",
    "cache_key",
    "engine_cache_dir",
    "engine_cache_path",
    "file_sha256",
    "load_or_rebuild",
]

CACHE_SUBDIR = "trt"
"""Sub-folder of `lite.cache.cache_dir` holding built engines."""

T = TypeVar("T")

Shape = Sequence[int]
ProfileTriple = tuple[Shape, Shape, Shape]


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def engine_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The engine cache folder: ``cache_dir`` if given, else ``lite.cache.cache_dir() / "trt"``
    (``$LITE_CACHE/trt`` when ``LITE_CACHE`` is set)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    from lite.cache import cache_dir as lite_cache_dir

    return lite_cache_dir() / CACHE_SUBDIR


def _norm_profiles(profiles: Mapping[str, ProfileTriple] | Sequence[Any]) -> list[list[Any]]:
    """Profiles as a canonical JSON-able list: ``[[name, [min], [opt], [max]], ...]`` sorted by name."""
    if isinstance(profiles, Mapping):
        items = [(name, *triple) for name, triple in profiles.items()]
    else:
        items = []
        for p in profiles:
            if hasattr(p, "name") and hasattr(p, "min"):
                items.append((p.name, p.min, p.opt, p.max))
            else:
                items.append(tuple(p))
    out = []
    for item in items:
        if len(item) != 4:
            raise InputError(f"a profile is (name, min, opt, max); got {item!r}")
        name, lo, opt, hi = item
        out.append([str(name), [int(d) for d in lo], [int(d) for d in opt], [int(d) for d in hi]])
    return sorted(out, key=lambda r: r[0])


def cache_key(
    onnx_sha256: str,
    *,
    precision: str,
    profiles: Mapping[str, ProfileTriple] | Sequence[Any],
    trt_version: str,
    gpu_name: str,
    compute_capability: tuple[int, int] | str,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """A hex digest naming one engine build.

    Args:
        onnx_sha256: sha256 of the ONNX file (`file_sha256`).
        precision: ``"fp32"``, ``"fp16"``, ``"int8"``, ``"int8+fp16"``.
        profiles: Optimisation profiles, as ``{name: (min, opt, max)}`` or objects with
            ``name``/``min``/``opt``/``max`` (order does not matter).
        trt_version: ``tensorrt.__version__``.
        gpu_name: Device name.
        compute_capability: ``(major, minor)`` or ``"8.6"``.
        extra: Anything else the build depends on (workspace, calibration data digest...).

    Returns:
        A 64-character hex sha256; equal inputs give equal keys, any change gives another key.
    """
    cc = compute_capability
    if not isinstance(cc, str):
        cc = ".".join(str(int(c)) for c in cc)
    doc = {
        "format": 1,
        "onnx_sha256": str(onnx_sha256),
        "precision": str(precision),
        "profiles": _norm_profiles(profiles),
        "tensorrt": str(trt_version),
        "gpu": str(gpu_name),
        "compute_capability": cc,
        "extra": {str(k): _jsonable(v) for k, v in sorted((extra or {}).items())},
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _jsonable(v: Any) -> Any:
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in sorted(v.items())}
    if isinstance(v, Sequence):
        return [_jsonable(x) for x in v]
    return repr(v)


def engine_cache_path(key: str, onnx_path: str | Path, cache_dir: str | Path | None = None) -> Path:
    """Where the engine for ``key`` lives: ``<cache>/<onnx stem>-<key[:16]>.engine``."""
    stem = Path(onnx_path).stem or "model"
    return engine_cache_dir(cache_dir) / f"{stem}-{key[:16]}.engine"


def atomic_write_bytes(path: str | Path, data: bytes | bytearray | memoryview) -> Path:
    """Write ``data`` to ``path`` atomically: a temp file in the same folder, fsync, ``os.replace``.

    A reader never sees a half-written file, and a failed write leaves no temp file behind.

    Returns:
        ``path`` as a Path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_or_rebuild(
    engine_path: str | Path,
    deserialize: Callable[[bytes], T | None],
    rebuild: Callable[[], Any],
) -> tuple[T, bool]:
    """Load a cached engine, building it when absent and rebuilding it when it is stale.

    1. If ``engine_path`` exists, ``deserialize(bytes)`` it. A result of None or an exception
       means the file is corrupt or was built by another TensorRT version or GPU: a
       ``RuntimeWarning`` says so, the file is deleted, and step 2 follows.
    2. ``rebuild()`` writes a new engine at ``engine_path``; it is then deserialized, and must
       load this time.

    Args:
        engine_path: The cache entry.
        deserialize: Bytes → engine, or None when they cannot be loaded (TensorRT's
            ``Runtime.deserialize_cuda_engine``).
        rebuild: Writes a fresh engine to ``engine_path`` (the builder).

    Returns:
        ``(engine, built)``: ``built`` is True when ``rebuild`` ran.

    Raises:
        ModelLoadError: A freshly built engine cannot be deserialized either.
    """
    path = Path(engine_path)
    if path.is_file():
        reason = ""
        try:
            engine = deserialize(path.read_bytes())
        except Exception as e:  # deserializers raise their own types; the reason goes in the warning
            engine, reason = None, f"{type(e).__name__}: {e}"
        if engine is not None:
            return engine, False
        warnings.warn(
            f"cached TensorRT engine {path} could not be deserialized"
            f"{' (' + reason + ')' if reason else ''}: it is corrupt or was built by another TensorRT version "
            f"or GPU; deleting it and rebuilding",
            RuntimeWarning,
            stacklevel=3,
        )
        path.unlink(missing_ok=True)
    rebuild()
    if not path.is_file():
        raise ModelLoadError(f"the engine build reported success but wrote no file at {path}")
    engine = deserialize(path.read_bytes())
    if engine is None:
        raise ModelLoadError(
            f"a freshly built TensorRT engine {path} could not be deserialized; see the TensorRT log above"
        )
    return engine, True
