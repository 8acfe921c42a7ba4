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

Only the standard library is imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from lite.errors import OutputExistsError

__all__ = ["OutputSet", "atomic_write_bytes", "refuse_overwrite", "sha256_file", "temp_path_beside"]

_CHUNK = 1 << 20


def sha256_file(path: str | Path, chunk: int = _CHUNK) -> str:
    """Hex sha256 of a file, read in chunks (1 MiB by default)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def temp_path_beside(path: str | Path, suffix: str = ".part") -> Path:
    """A new, empty temporary file in ``path``'s folder (created, with parents), named ``.<name>.<random><suffix>``.

    A rename from there to ``path`` stays on one file system, so it is atomic.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(tmp)


def atomic_write_bytes(path: str | Path, data: bytes | bytearray | memoryview) -> Path:
    """Write ``data`` to ``path`` atomically: a temp file in the same folder, fsync, ``os.replace``.

    A reader never sees a half-written file, and a failed write leaves no temp file behind.

    Returns:
        ``path`` as a Path.
    """
    path = Path(path)
    tmp = temp_path_beside(path, ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
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
    an interrupt the temporary files are removed and no destination is touched.

    Example:
        ```python
        import tempfile
        from pathlib import Path

        from lite.files import OutputSet

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
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.discard()
                raise
        else:
            self.discard()

    def __iter__(self) -> Iterator[tuple[Path, Path]]:
        return iter(list(self._staged))
