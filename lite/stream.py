"""Overlapped streams: prepare the next item while the engine runs the current one.

`overlapped` runs a three-stage pipeline over any iterable:

* ``prepare(item)`` in a worker thread (``lite-prepare``): reading the iterable itself (a video
  capture decodes there), loading and letterboxing the image;
* ``run(prepared)`` in the caller's thread: the engine call;
* ``finish(prepared, outputs)`` in a second worker thread (``lite-finish``): decode, NMS,
  boxes back to the image.

Results come out in input order. Engines (ONNX Runtime, NCNN, MNN), OpenCV's decoders and
resizers and numpy's large-array loops release the GIL, so the stages really overlap; how
much that buys depends on the spare cores (``benchmarks/bench_speed.py`` measures it).

At most ``depth`` prepared items wait for the engine and at most ``depth`` finished ones wait
for the consumer, so memory stays bounded whatever the length of the stream.

Errors are carried to the caller in order: every result before the failing item is yielded,
then `StreamError` is raised with the item's index and source (the original exception
is its ``__cause__``), and the stream ends. Closing the generator early (``break``,
``gen.close()``, garbage collection) or an interrupt (Ctrl-C) stops and joins both worker
threads before control returns: no thread outlives the stream.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from lite.errors import InputError, StreamError

__all__ = ["overlapped", "StreamError", "describe_source"]

T = TypeVar("T")
P = TypeVar("P")
R = TypeVar("R")
O = TypeVar("O")  # noqa: E741

_POLL_S = 0.05  # how often a blocked stage looks at the stop flag
_JOIN_S = 10.0  # how long closing waits for a worker to finish its current item


@dataclass
class _Item:
    index: int
    source: Any
    value: Any = None  # prepared value, then (prepared, outputs), then the finished result


@dataclass
class _Failure:
    index: int
    source: Any
    stage: str
    error: BaseException


class _End:
    pass


_END = _End()


def describe_source(source: Any) -> str:
    """A short description of a stream item for error messages (paths as is, arrays by shape)."""
    shape = getattr(source, "shape", None)
    if shape is not None:
        return f"{type(source).__name__} of shape {tuple(shape)}"
    text = str(source) if isinstance(source, str | os.PathLike) else repr(source)
    return text if len(text) <= 200 else text[:197] + "..."


def _put(q: queue.Queue, value: Any, stop: threading.Event) -> bool:
    """Put ``value`` into a bounded queue unless the stream is stopped; False if it was."""
    while not stop.is_set():
        try:
            q.put(value, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, stop: threading.Event | None = None) -> Any:
    """Get from a queue, waking up regularly so Ctrl-C and a stop request are seen."""
    while True:
        try:
            return q.get(timeout=_POLL_S)
        except queue.Empty:
            if stop is not None and stop.is_set():
                return _END


def _producer(items: Iterable[Any], prepare: Callable[[Any], Any], out: queue.Queue, stop: threading.Event) -> None:
    index, source = 0, None
    try:
        it = iter(items)
        while not stop.is_set():
            source = None
            try:
                source = next(it)
            except StopIteration:
                break
            value = prepare(source)
            if not _put(out, _Item(index, source, value), stop):
                return
            index += 1
    except BaseException as e:  # noqa: BLE001 - carried to the caller, in order
        _put(out, _Failure(index, source, "prepare", e), stop)
        return
    _put(out, _END, stop)


def _finisher(finish: Callable[[Any, Any], Any], inbox: queue.Queue, out: queue.Queue, stop: threading.Event) -> None:
    while True:
        rec = _get(inbox, stop)
        if isinstance(rec, _End | _Failure):
            out.put(rec)
            return
        try:
            prepared, outputs = rec.value
            rec.value = finish(prepared, outputs)
        except BaseException as e:  # noqa: BLE001 - carried to the caller, in order
            out.put(_Failure(rec.index, rec.source, "post-process", e))
            return
        out.put(rec)


def overlapped(
    items: Iterable[T],
    prepare: Callable[[T], P],
    run: Callable[[P], R],
    finish: Callable[[P, R], O],
    *,
    depth: int = 2,
) -> Iterator[O]:
    """Run ``finish(p, run(p))`` with ``p = prepare(item)`` for every item, the stages overlapped.

    Args:
        items: Any iterable (read in the ``prepare`` thread).
        prepare: Called in a worker thread on each item (decode, letterbox).
        run: Called in the consuming thread on each prepared value (the engine).
        finish: Called in a second worker thread with the prepared value and ``run``'s result.
        depth: Items allowed to wait between two stages (>= 1).

    Yields:
        ``finish``'s results, in the order of ``items``.

    Raises:
        StreamError: An item failed in a stage (after every earlier result was yielded); its
            ``index``, ``source`` and ``stage`` say which and where, ``__cause__`` is the original error.
        InputError: ``depth`` < 1.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise InputError(f"depth: expected a positive integer, got {depth!r}")
    return _overlapped(items, prepare, run, finish, depth)


def _overlapped(items: Iterable[Any], prepare: Callable, run: Callable, finish: Callable, depth: int) -> Iterator[Any]:
    stop = threading.Event()
    prepared_q: queue.Queue = queue.Queue(maxsize=depth)
    to_finish: queue.Queue = queue.Queue()  # bounded by `pending` below
    finished: queue.Queue = queue.Queue()
    workers = [
        threading.Thread(target=_producer, args=(items, prepare, prepared_q, stop), name="lite-prepare", daemon=True),
        threading.Thread(target=_finisher, args=(finish, to_finish, finished, stop), name="lite-finish", daemon=True),
    ]
    for w in workers:
        w.start()
    pending = 0  # items handed to the finisher and not yet yielded

    def emit(rec: Any) -> Any:
        if isinstance(rec, _Failure):
            raise StreamError(
                f"stream item {rec.index} ({describe_source(rec.source)}) failed in {rec.stage}: "
                f"{type(rec.error).__name__}: {rec.error}",
                index=rec.index,
                source=rec.source,
                stage=rec.stage,
            ) from rec.error
        return rec.value

    try:
        ended = False
        while not ended:
            rec = _get(prepared_q)
            if isinstance(rec, _End | _Failure):
                to_finish.put(rec)
                ended = True
                break
            try:
                outputs = run(rec.value)
            except Exception as e:  # noqa: BLE001 - carried in order, after the earlier results
                to_finish.put(_Failure(rec.index, rec.source, "inference", e))
                break
            rec.value = (rec.value, outputs)
            to_finish.put(rec)
            pending += 1
            while pending >= depth or not finished.empty():  # keep the finished backlog bounded
                out = _get(finished)
                if isinstance(out, _End):
                    break
                pending -= 1
                yield emit(out)
        while True:  # drain what is left, in order, up to the end or the failure
            out = _get(finished)
            if isinstance(out, _End):
                return
            yield emit(out)
    finally:
        stop.set()
        to_finish.put(_END)
        for w in workers:
            w.join(_JOIN_S)
