"""Writing outputs without losing a user's file: plan the paths first, never replace silently, write atomically.

Every command that writes files (``lite detect --save/--json`` ...) follows the same three rules:

1. `plan_outputs` checks every output path *before* the work starts: the folder can be created and
   written to, no output is one of the inputs (never allowed), no two outputs collide, and no output
   exists already unless overwriting was asked for (``exist_ok``, the CLI's ``--exist-ok``).
2. `atomic_path` gives a temporary name in the destination folder; the file is moved into place
   (``os.replace``) only when writing finished, and the temporary file is removed on an error or
   Ctrl-C, so no half-written file ever carries the final name.
3. `annotated_name` names annotated copies ``<stem>_detections<suffix>``, so they never take an input's name.

Example:
    ```python
    import tempfile
    from pathlib import Path

    from lite.data.outputs import annotated_name, atomic_path, plan_outputs

    out = Path(tempfile.mkdtemp())
    target = out / annotated_name("bus.jpg")          # bus_detections.jpg
    plan_outputs([target], inputs=[Path("bus.jpg")])  # raises before any work if it cannot write
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"...")                       # becomes `target` only when the block succeeds
    assert target.read_bytes() == b"..."
    ```
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from lite.core.errors import OutputError, OutputExistsError
from lite.core.files import atomic_write_bytes, check_writable_folder, write_error

__all__ = [
    "ANNOTATED_TAG",
    "CLASSES_TAG",
    "annotated_name",
    "atomic_path",
    "check_video",
    "plan_outputs",
    "write_image",
    "write_json",
]

#: Added to the stem of an annotated copy: ``bus.jpg`` -> ``bus_detections.jpg``.
ANNOTATED_TAG = "_detections"
#: The tag of an image annotated with its classes (``lite classify --save``): ``bus.jpg`` -> ``bus_classes.jpg``.
CLASSES_TAG = "_classes"


def annotated_name(source: str | os.PathLike, suffix: str | None = None, *, tag: str = ANNOTATED_TAG) -> str:
    """File name of the annotated copy of ``source``: ``<stem><tag><suffix>`` (tag: ``_detections``; suffix: the
    source's)."""
    p = Path(source)
    return f"{p.stem}{tag}{p.suffix if suffix is None else suffix}"


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def plan_outputs(
    outputs: Sequence[Path],
    *,
    inputs: Sequence[Path] = (),
    exist_ok: bool = False,
    flag: str = "exist_ok=True",
) -> None:
    """Check, before any work, that every output can be written without losing a file.

    The output folders are created when missing.

    Args:
        outputs: Every file the run will write.
        inputs: Files the run reads; an output may never be one of them (even with ``exist_ok``).
        exist_ok: Allow replacing existing files that are not inputs.
        flag: How the caller allows overwriting, for the message (the CLI passes ``"--exist-ok"``).

    Raises:
        OutputExistsError: An output is an input, two outputs are the same file, or an output exists
            and ``exist_ok`` is False (a `FileExistsError`).
        OutputError: An output folder cannot be created or written to, or an output is a folder.
    """
    resolved = [Path(os.path.abspath(p)) for p in outputs]  # normalised: a/../a.jpg is a.jpg
    seen: dict[Path, Path] = {}
    for p in resolved:
        if p in seen:
            raise OutputExistsError(
                f"two outputs would be written to the same file {p}; the inputs have the same name in different "
                "folders: run them separately or into different output folders"
            )
        seen[p] = p
    in_paths = [Path(os.path.abspath(p)) for p in inputs]
    for p in resolved:
        if p in in_paths or any(_same(p, q) for q in in_paths):
            raise OutputExistsError(f"refusing to overwrite the input {p}: choose another output folder or name")
        if p.is_dir():
            raise OutputError(f"cannot write {p}: a folder has that name")
    existing = [p for p in resolved if p.exists()]
    if existing and not exist_ok:
        more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        shown = ", ".join(str(p) for p in existing[:3]) + more
        one = len(existing) == 1
        raise OutputExistsError(
            f"{len(existing)} output file{'' if one else 's'} already exist{'s' if one else ''}: {shown}; "
            f"pass {flag} to replace {'it' if one else 'them'}, or choose another output"
        )
    for folder in dict.fromkeys(p.parent for p in resolved):
        check_writable_folder(folder)


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """A temporary path in ``final``'s folder that becomes ``final`` when the block succeeds.

    The temporary name keeps ``final``'s suffix (writers such as OpenCV choose the format from it)
    and starts with a dot. On any exception, Ctrl-C and SIGTERM (see `lite.cli.main`) included, the
    temporary file is removed and ``final`` is left as it was; an ``OSError`` (a full disk) comes out
    as an `OutputError` naming ``final``.
    """
    final = Path(final)
    tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:8]}.partial{final.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            raise OutputError(f"nothing was written for {final}")
        os.replace(tmp, final)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError) and not isinstance(e, OutputError):
            raise write_error(final, e) from e
        raise


def write_json(path: str | os.PathLike, obj: object) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (complete, or ``path`` left as it was); returns the path.

    Raises:
        OutputError: The file cannot be written (a full disk, a read-only folder).
    """
    import json

    return atomic_write_bytes(Path(path), json.dumps(obj).encode("utf-8"))


def check_video(path: str | os.PathLike, frames: int, final: str | os.PathLike | None = None) -> None:
    """Check a video just written: not empty, readable by OpenCV, with ``frames`` frames, the last one decodable.

    OpenCV's writer reports no error (a full disk gives a short or empty file), so the result is
    read back before it takes its final name.

    Args:
        path: The file written (a temporary name).
        frames: How many frames were written.
        final: The name it is for, in messages (default: ``path``).

    Raises:
        OutputError: The file is empty, unreadable or short of frames.
    """
    import cv2

    name = final if final is not None else path
    size = os.path.getsize(path) if os.path.exists(path) else 0
    if size == 0:
        raise OutputError(f"writing the video {name} failed: the file is empty (a full disk?); nothing was replaced")
    cap = cv2.VideoCapture(os.fspath(path))
    try:
        got = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
        last_ok = False
        if got == frames and frames > 0:
            cap.set(cv2.CAP_PROP_POS_FRAMES, frames - 1)
            last_ok, _ = cap.read()
    finally:
        cap.release()
    if got != frames or not last_ok:
        raise OutputError(
            f"writing the video {name} failed: {frames} frames were written, but the file ({size} bytes) reads back "
            f"with {got}{'' if last_ok or got != frames else ' and an unreadable last frame'} (a full disk?); "
            "nothing was replaced"
        )


def write_image(path: str | os.PathLike, img: object) -> Path:
    """Encode ``img`` (BGR ``uint8``) by ``path``'s suffix and write it atomically; returns the path.

    Raises:
        OutputError: OpenCV cannot encode to that suffix, or the file cannot be written.
    """
    import cv2

    path = Path(path)
    ok, buf = cv2.imencode(path.suffix or ".jpg", img)
    if not ok:
        raise OutputError(f"cannot encode an image as {path.suffix!r} for {path} (use .jpg or .png)")
    return atomic_write_bytes(path, buf)  # the bytes are ready: lite.core.files owns the atomic write (OutputError)
