"""The TensorRT engine cache: keys, atomic writes, and the "stale engine → rebuild" decision.

A TensorRT engine is only valid for the TensorRT version and the GPU (compute capability) that
built it, and it bakes in the precision and the optimisation profiles. The cache key therefore
hashes all of them together with the ONNX file's sha256, so a change in any one of them misses
the cache instead of loading a wrong or unloadable engine.

Files several processes share (the timing cache) are updated under an exclusive file lock
(`file_lock`, `update_file_locked`), so concurrent builds merge instead of losing
each other's entries.

Nothing here imports TensorRT: the TensorRT calls are passed in as callables (see
`load_or_rebuild`, `update_file_locked`), so the decisions are testable on a machine
without a GPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from lite.core.errors import InputError, ModelLoadError
from lite.core.files import atomic_write_bytes
from lite.core.files import sha256_file as file_sha256

__all__ = [
    "CACHE_SUBDIR",
    "atomic_write_bytes",
    "cache_key",
    "engine_cache_dir",
    "engine_cache_path",
    "file_lock",
    "file_sha256",
    "files_digest",
    "load_or_rebuild",
    "update_file_locked",
]

CACHE_SUBDIR = "trt"
"""Sub-folder of `lite.core.cache.cache_dir` holding built engines."""

T = TypeVar("T")

Shape = Sequence[int]
ProfileTriple = tuple[Shape, Shape, Shape]


def files_digest(paths: Iterable[str | Path]) -> str:
    """Hex sha256 over the names and contents of several files, in the given order.

    Two sets of files give the same digest only when they hold the same names with the same bytes
    (a file replaced by another of the same size changes it).
    """
    h = hashlib.sha256()
    for p in paths:
        p = Path(p)
        h.update(f"{p.name}\0{file_sha256(p)}\0".encode())
    return h.hexdigest()


def engine_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The engine cache folder: ``cache_dir`` if given, else ``lite.core.cache.cache_dir() / "trt"``
    (``$LITE_CACHE/trt`` when ``LITE_CACHE`` is set)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    from lite.core.cache import cache_dir as lite_cache_dir

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
        "format": 2,
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


@contextlib.contextmanager
def file_lock(path: str | Path, timeout: float = 600.0, poll: float = 0.05) -> Iterator[Path]:
    """Hold an exclusive advisory lock on ``path`` (created if absent) against other processes and threads.

    POSIX ``flock`` (``msvcrt.locking`` on Windows) on a file of its own: every holder opens the
    file itself, so two threads of one process exclude each other too.

    Args:
        path: The lock file (e.g. ``<cache file>.lock``); it is left in place.
        timeout: Seconds to wait for the lock.
        poll: Seconds between attempts.

    Raises:
        TimeoutError: The lock was not acquired within ``timeout`` (the message names the file).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"could not lock {path} within {timeout:g} s: another process holds it (a build in "
                    f"progress?); wait for it, or delete the file if no such process exists"
                )
            time.sleep(poll)
        try:
            yield path
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def update_file_locked(
    path: str | Path, merge: Callable[[bytes | None], bytes | bytearray | memoryview], timeout: float = 600.0
) -> Path:
    """Read-merge-write ``path`` under `file_lock` (``<path>.lock``), writing atomically.

    Used for the TensorRT timing cache: ``merge`` receives what is on disk now (None when the file
    does not exist), combines it with this process's entries and returns the bytes to write.
    Because the read and the write happen under one lock, two processes finishing builds at once
    both keep their entries (the second merges into what the first wrote).

    Returns:
        ``path`` as a Path.
    """
    path = Path(path)
    with file_lock(path.with_name(path.name + ".lock"), timeout=timeout):
        old = path.read_bytes() if path.is_file() else None
        return atomic_write_bytes(path, merge(old))
