"""Files lite writes and checks: one sha256 helper, atomic writes, and all-or-nothing output sets.

Everything that writes a user-visible file (a converted model, its sidecar, a built engine, a
download) goes through here, so that a reader never sees a half-written file and an
interrupted run leaves nothing behind:

* `sha256_file` — the hex digest of a file (model checksums, engine cache keys).
* `atomic_write_bytes` — one file: a temporary file in the destination folder, then a rename.
* `OutputSet` — several files that belong together (an NCNN ``.param`` + ``.bin`` + sidecar):
  each is written to a temporary name beside its destination, and all are renamed into place
  only when the whole set is complete; an error or an interrupt removes the temporary files.
* `refuse_overwrite` — the check, made before any work starts, that the outputs do not
  exist yet (unless the caller was told to overwrite them).
* `check_writable_folder` — the check, before any work, that an output folder exists (or can be
  created) and can be written to.

Files are created with the mode the process's umask gives (``0o666 & ~umask``), like ``open``
does, not the ``0600`` of a bare temporary file. A failed write (a full disk, a read-only folder)
is an `OutputError` (also an ``OSError``) naming the destination, and leaves the destination as it was.

Only the standard library is imported.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from lite.core.errors import LiteError, OutputError, OutputExistsError

__all__ = [
    "OutputSet",
    "atomic_write_bytes",
    "check_writable_folder",
    "file_mode",
    "refuse_overwrite",
    "sha256_file",
    "temp_path_beside",
    "write_error",
]

_CHUNK = 1 << 20
_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    try:  # Linux reports it without changing it (no window in which other threads see another umask)
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # elsewhere os.umask can only be read by setting it: set it back at once
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets from ``open``: ``0o666`` less the process's current umask."""
    return 0o666 & ~_umask()


def write_error(path: str | Path, e: OSError) -> OutputError:
    """The `OutputError` for a failed write of ``path`` (full disk, read-only or missing folder...)."""
    if isinstance(e, OutputError):
        return e
    reason = e.strerror or str(e)
    hint = {
        errno.ENOSPC: "the disk is full: free some space or write elsewhere",
        errno.EDQUOT: "the disk quota is used up: free some space or write elsewhere",
        errno.EACCES: "choose a folder you can write to",
        errno.EPERM: "choose a folder you can write to",
        errno.EROFS: "the file system is read-only: choose another folder",
    }.get(e.errno or 0, "check the output path")
    return OutputError(f"cannot write {path}: {reason}; nothing was written under that name: {hint}")


def check_writable_folder(folder: str | Path) -> Path:
    """Create ``folder`` when missing and check it can be written to, before any work starts.

    Raises:
        OutputError: ``folder`` is a file, cannot be created, or is not writable.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"cannot write into {folder}: it is a file, expected a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the output folder {folder}: {e.strerror or e}") from e
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write into the output folder {folder}: permission denied")
    return folder


def sha256_file(path: str | Path, chunk: int = _CHUNK) -> str:
    """Hex sha256 of a file, read in chunks (1 MiB by default)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def temp_path_beside(path: str | Path, suffix: str = ".part") -> Path:
    """A new, empty temporary file in ``path``'s folder (created, with parents), named ``.<name>.<random><suffix>``.

    A rename from there to ``path`` stays on one file system, so it is atomic. The file has the
    mode the umask gives (`file_mode`), so the renamed file has it too.

    Raises:
        OutputError: The folder cannot be created or written to.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as e:
        raise write_error(path, e) from e
    try:
        os.fchmod(fd, file_mode())
    finally:
        os.close(fd)
    return Path(tmp)


def atomic_write_bytes(path: str | Path, data: bytes | bytearray | memoryview) -> Path:
    """Write ``data`` to ``path`` atomically: a temp file in the same folder, fsync, ``os.replace``.

    A reader never sees a half-written file, and a failed write leaves no temp file behind and
    ``path`` as it was.

    Returns:
        ``path`` as a Path.

    Raises:
        OutputError: The file cannot be written (full disk, read-only folder...).
    """
    path = Path(path)
    tmp = temp_path_beside(path, ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, LiteError):
            raise write_error(path, e) from e
        raise
    return path


def refuse_overwrite(paths: Iterable[str | Path], *, force: bool, flag: str = "--force / force=True") -> None:
    """Raise before any work starts when an output already exists and overwriting was not asked for.

    Raises:
        OutputExistsError: One of ``paths`` exists (the message names every one and ``flag``).
    """
    if force:
        return
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing:
        raise OutputExistsError(
            f"not overwriting {', '.join(existing)}: expected output path(s) that do not exist yet; "
            f"choose another output (--out/-o) or pass {flag} to replace them"
        )


class OutputSet:
    """Files written together, moved into place together.

    Use it as a context manager: `stage` gives a temporary path beside each destination;
    on a clean exit every staged file is renamed onto its destination (the first staged file
    last, so the file a user opens appears only when its companions are there); on an error or
    an interrupt the temporary files are removed and no destination is touched. An ``OSError``
    while writing (a full disk) comes out as an `OutputError` naming the destinations.

    Example:
        ```python
        import tempfile
        from pathlib import Path

        from lite.core.files import OutputSet

        param = Path(tempfile.mkdtemp()) / "model.param"
        with OutputSet() as out:
            out.stage(param).write_text("7767517")
            out.stage(param.with_suffix(".bin")).write_bytes(bytes(16))
        print(sorted(p.name for p in param.parent.iterdir()))  # both in place; after an error, neither
        # ['model.bin', 'model.param']
        ```
    """

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []

    def stage(self, dst: str | Path) -> Path:
        """A temporary path in ``dst``'s folder that becomes ``dst`` when the set is committed."""
        dst = Path(dst)
        tmp = temp_path_beside(dst)
        self._staged.append((tmp, dst))
        return tmp

    def commit(self) -> list[Path]:
        """Rename every staged file onto its destination (the first one last); returns the destinations."""
        done: list[Path] = []
        for tmp, dst in reversed(self._staged):
            os.replace(tmp, dst)
            done.append(dst)
        self._staged.clear()
        return done[::-1]

    def discard(self) -> None:
        """Remove every staged temporary file."""
        for tmp, _ in self._staged:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        self._staged.clear()

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        where = ", ".join(str(dst) for _, dst in self._staged) or "the output"
        if exc_type is None:
            try:
                self.commit()
            except BaseException as e:
                self.discard()
                if isinstance(e, OSError) and not isinstance(e, LiteError):
                    raise write_error(where, e) from e
                raise
        else:
            self.discard()
            if isinstance(exc, OSError) and not isinstance(exc, LiteError):
                raise write_error(where, exc) from exc

    def __iter__(self) -> Iterator[tuple[Path, Path]]:
        return iter(list(self._staged))
