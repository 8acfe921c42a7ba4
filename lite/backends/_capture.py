"""Capture what C code in an engine prints, at the file-descriptor level.

NCNN writes its errors to stderr (``ModelBin read … failed``, ``layer … not exists or
registered``) and MNN prints to stdout (``Reshape error …``, its precision choice, load errors),
both from C, past Python's ``sys.stdout``/``sys.stderr``. While lite loads or probes a model it
points the process's file descriptors 1 and 2 at a temporary file for the duration of the call
only; what the engine said goes into lite's own error when one follows and is dropped when all
went well (it is kept at DEBUG level in the ``lite.engines`` logger, for whoever wants it).

The redirection is process-wide while it lasts: output other threads write to fd 1 or 2 during
a model load (or the first run at a new input shape) is captured too. lite never holds it
around ordinary inferences. Captures are serialised by one process-wide lock (two threads
swapping the same descriptors at once could leave one pointing at the other's temporary file).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from lite.core.errors import InputError

__all__ = ["Captured", "capture_output", "clean_engine_text", "engine_said", "run_captured"]

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")  # colour and cursor codes (NCNN, pnnx, MNN's logger)
#: Lines engines print that say nothing about the model (ONNX Runtime's cpuinfo on virtual CPUs).
_NOISE = re.compile(r"Unknown CPU vendor|cpuinfo_vendor|Error in cpuinfo", re.IGNORECASE)
_TRACEBACK_FRAME = re.compile(r"^(Traceback \(most recent call last\):|\s+File \"|\s{4}|\s*[~^]+\s*$)")


def clean_engine_text(text: str) -> list[str]:
    """The lines of what an engine or a converter printed, fit for an error message.

    ANSI colour codes, lines that say nothing about the model (ONNX Runtime's "Unknown CPU vendor")
    and Python traceback frames (a converter child's ``Traceback`` and ``File "…"`` lines; the final
    exception line stays) are removed, as are blank lines.
    """
    lines = []
    for line in _ANSI.sub("", text).splitlines():
        if not line.strip() or _NOISE.search(line) or _TRACEBACK_FRAME.match(line):
            continue
        lines.append(line.strip())
    return lines


T = TypeVar("T")

_LOG = logging.getLogger("lite.engines")
#: The most of an engine's output an error message quotes (the end of it, where the cause is).
MAX_QUOTE = 600
_LOCK = threading.RLock()  # one capture at a time per process (re-entrant: a capture may nest in one thread)


class Captured:
    """Text a ``capture_output`` block wrote to the captured file descriptors."""

    text: str = ""


def _flush_c_stdio() -> None:
    """Flush C's stdio buffers (fully buffered when fd 1 is a pipe or a file) into the current fds."""
    if os.name == "posix":
        ctypes.CDLL(None).fflush(None)


def _flush_python() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()


@contextlib.contextmanager
def capture_output(fds: tuple[int, ...] = (1, 2), *, what: str = "") -> Iterator[Captured]:
    """Point file descriptors ``fds`` at one temporary file for the block; yield what was written.

    Python's streams are flushed first and C's stdio buffers before the descriptors are
    restored, so nothing written inside leaks out later. A descriptor that is not open (a
    daemon with fd 1 closed) is left alone.

    Args:
        fds: The descriptors to capture (default: stdout and stderr).
        what: What the block does (e.g. ``"NCNN load of m.param"``), for the DEBUG log record.
    """
    with _LOCK, _redirected(fds) as captured:
        yield captured
    if captured.text.strip():
        _LOG.debug("%s printed: %s", what or "engine", captured.text.strip())


@contextlib.contextmanager
def _redirected(fds: tuple[int, ...]) -> Iterator[Captured]:
    captured = Captured()
    _flush_python()
    saved: dict[int, int] = {}
    for fd in fds:
        with contextlib.suppress(OSError):
            saved[fd] = os.dup(fd)
    if not saved:
        yield captured
        return
    try:
        with tempfile.TemporaryFile() as sink:
            for fd in saved:
                os.dup2(sink.fileno(), fd)
            try:
                yield captured
            finally:
                _flush_c_stdio()
                for fd, copy in saved.items():
                    os.dup2(copy, fd)
                sink.seek(0)
                captured.text = sink.read().decode("utf-8", "replace")
    finally:
        for copy in saved.values():
            os.close(copy)


def engine_said(engine: str, text: str) -> str:
    """``" (NCNN said: …)"`` for an error message, or ``""`` when the engine said nothing.

    Cleaned by `clean_engine_text`, whitespace collapsed; a long text keeps its end, where engines print the cause.
    """
    said = " ".join(" ".join(clean_engine_text(text)).split())
    if not said:
        return ""
    if len(said) > MAX_QUOTE:
        said = "…" + said[-MAX_QUOTE:]
    return f" ({engine} said: {said})"


def run_captured(engine: str, what: str, run: Callable[[], T]) -> T:
    """Call ``run`` with the engine's output captured (`capture_output`); an `InputError` it raises is
    raised again, of the same class, with what the engine printed appended (`engine_said`), outside the capture.

    Adapters call it for the first run at each input shape (NCNN, MNN), where an engine explains a
    shape it cannot run; later runs at a seen shape call the engine directly.
    """
    error: InputError | None = None
    with capture_output(what=what) as said:
        try:
            return run()
        except InputError as e:
            error = e
    raise type(error)(f"{error}{engine_said(engine, said.text)}") from error.__cause__  # the same class
