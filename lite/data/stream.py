"""Overlapped streams: prepare the next item while the engine runs the current one.

`overlapped` runs a pipeline over any iterable:

* reading the iterable in a ``lite-source`` thread (a video capture or a camera blocks there);
* ``prepare(item)`` in a ``lite-prepare`` thread: loading and letterboxing the image;
* ``run(prepared)`` in the caller's thread: the engine call;
* ``finish(prepared, outputs)`` in a ``lite-finish`` thread: decode, NMS, boxes back to the image.

Results come out in input order, each one as soon as it is finished: on a live source (a camera
giving a frame a second) a result waits for its own engine call and post-processing, never for the
next frame. Engines (ONNX Runtime, NCNN, MNN), OpenCV's decoders and resizers and numpy's large-array
loops release the GIL, so the stages really overlap; how much that buys depends on the spare cores
(``benchmarks/bench_speed.py`` measures it).

At most ``depth`` prepared items wait for the engine and at most ``depth`` finished ones wait
for the consumer, so memory stays bounded whatever the length of the stream.

Errors (``on_error``): ``"raise"`` (default) yields every result before the failing item, then raises
`StreamError` with the item's index and source (the original exception is its ``__cause__``) and
the stream ends; ``"skip"`` drops the failing item and goes on; ``"record"`` yields the `StreamError`
in the item's place and goes on. A failure of the iterable itself always ends the stream (a Python
generator that raised cannot give more items) and is raised with ``stage="prepare"``.

Closing the generator early (``break``, ``gen.close()``, garbage collection) or an interrupt (Ctrl-C)
returns within about 0.1 s, even while the source blocks: the prepare and finish threads are joined;
a ``lite-source`` thread stuck inside the iterable's ``__next__`` (a stalled camera) is a daemon that
is left there and ends as soon as that call returns, without reading another item or running any lite
code.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from lite.core.errors import InputError, StreamError

__all__ = ["ON_ERROR", "overlapped", "StreamError", "describe_source"]

T = TypeVar("T")
P = TypeVar("P")
R = TypeVar("R")
O = TypeVar("O")  # noqa: E741

#: The values of ``on_error``.
ON_ERROR: tuple[str, ...] = ("raise", "skip", "record")
_POLL_S = 0.02  # how often a blocked stage looks at the stop flag
_JOIN_S = 10.0  # how long closing waits for a prepare/finish call in progress (lite code, short)
_READER_JOIN_S = 0.2  # how long closing waits for the reader; longer means it is blocked in the source


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
    fatal: bool = False  # the stream cannot go on after it (the iterable itself failed)

    def as_error(self) -> StreamError:
        err = StreamError(
            f"stream item {self.index} ({describe_source(self.source)}) failed in {self.stage}: "
            f"{type(self.error).__name__}: {self.error}",
            index=self.index,
            source=self.source,
            stage=self.stage,
        )
        err.__cause__ = self.error
        return err


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


def _reader(items: Iterable[Any], out: queue.Queue, stop: threading.Event) -> None:
    """Read the iterable (only that: a source that blocks holds no lite code)."""
    index = 0
    try:
        it = iter(items)
        while not stop.is_set():
            try:
                source = next(it)
            except StopIteration:
                break
            if stop.is_set() or not _put(out, _Item(index, source), stop):
                return
            index += 1
    except BaseException as e:  # noqa: BLE001 - carried to the caller, in order
        _put(out, _Failure(index, None, "prepare", e, fatal=True), stop)
        return
    _put(out, _END, stop)


def _preparer(prepare: Callable[[Any], Any], inbox: queue.Queue, out: queue.Queue, stop: threading.Event) -> None:
    while True:
        rec = _get(inbox, stop)
        if isinstance(rec, _End | _Failure):
            _put(out, rec, stop)
            return
        try:
            rec.value = prepare(rec.source)
        except BaseException as e:  # noqa: BLE001 - carried to the caller, in order
            rec = _Failure(rec.index, rec.source, "prepare", e)
        if not _put(out, rec, stop):
            return


def _finisher(finish: Callable[[Any, Any], Any], inbox: queue.Queue, out: queue.Queue, stop: threading.Event) -> None:
    while True:
        rec = _get(inbox, stop)
        if isinstance(rec, _End):
            out.put(rec)
            return
        if isinstance(rec, _Item):
            try:
                prepared, outputs = rec.value
                rec.value = finish(prepared, outputs)
            except BaseException as e:  # noqa: BLE001 - carried to the caller, in order
                rec = _Failure(rec.index, rec.source, "post-process", e)
        out.put(rec)


def overlapped(
    items: Iterable[T],
    prepare: Callable[[T], P],
    run: Callable[[P], R],
    finish: Callable[[P, R], O],
    *,
    depth: int = 2,
    on_error: str = "raise",
) -> Iterator[O]:
    """Run ``finish(p, run(p))`` with ``p = prepare(item)`` for every item, the stages overlapped.

    Args:
        items: Any iterable (read in the ``lite-source`` thread).
        prepare: Called in a worker thread on each item (decode, letterbox).
        run: Called in the consuming thread on each prepared value (the engine).
        finish: Called in a second worker thread with the prepared value and ``run``'s result.
        depth: Items allowed to wait between two stages (>= 1).
        on_error: What a failing item does: ``"raise"`` (end the stream with `StreamError`),
            ``"skip"`` (drop it, go on) or ``"record"`` (yield its `StreamError` in its place, go on).

    Yields:
        ``finish``'s results, in the order of ``items`` (with ``"record"``, a `StreamError` for a failed item).

    Raises:
        StreamError: An item failed in a stage (after every earlier result was yielded); its
            ``index``, ``source`` and ``stage`` say which and where, ``__cause__`` is the original error.
        InputError: ``depth`` < 1, or an unknown ``on_error``.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise InputError(f"depth: expected a positive integer, got {depth!r}")
    if on_error not in ON_ERROR:
        raise InputError(f"on_error: expected one of {', '.join(map(repr, ON_ERROR))}; got {on_error!r}")
    return _overlapped(items, prepare, run, finish, depth, on_error)


def _overlapped(
    items: Iterable[Any], prepare: Callable, run: Callable, finish: Callable, depth: int, on_error: str
) -> Iterator[Any]:
    stop = threading.Event()
    read_q: queue.Queue = queue.Queue(maxsize=depth)
    prepared_q: queue.Queue = queue.Queue(maxsize=depth)
    to_finish: queue.Queue = queue.Queue()  # bounded by `pending` below
    finished: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_reader, args=(items, read_q, stop), name="lite-source", daemon=True)
    workers = [
        threading.Thread(target=_preparer, args=(prepare, read_q, prepared_q, stop), name="lite-prepare", daemon=True),
        threading.Thread(target=_finisher, args=(finish, to_finish, finished, stop), name="lite-finish", daemon=True),
    ]
    reader.start()
    for w in workers:
        w.start()
    pending = 0  # items handed to the finisher and not yet yielded

    def emit(rec: Any) -> Iterator[Any]:
        """The consumer's view of one finished record (nothing for a skipped failure)."""
        if isinstance(rec, _Failure):
            if on_error == "raise" or rec.fatal:
                raise rec.as_error() from rec.error
            if on_error == "record":
                yield rec.as_error()
            return
        yield rec.value

    try:
        while True:
            rec = _get(prepared_q)
            if isinstance(rec, _End) or (isinstance(rec, _Failure) and (rec.fatal or on_error == "raise")):
                to_finish.put(rec)
                break
            if isinstance(rec, _Item):
                try:
                    rec.value = (rec.value, run(rec.value))
                except Exception as e:  # noqa: BLE001 - carried in order, after the earlier results
                    rec = _Failure(rec.index, rec.source, "inference", e)
                    if on_error == "raise":
                        to_finish.put(rec)
                        break
            to_finish.put(rec)  # failures too: they keep their place in the order
            pending += 1
            # yield what is finished; wait for the finisher when the engine has nothing else to do,
            # so that a result never waits for the next input
            while pending and (pending >= depth or not finished.empty() or prepared_q.empty()):
                out = _get(finished)
                pending -= 1
                yield from emit(out)
        while True:  # drain what is left, in order, up to the end or the failure
            out = _get(finished)
            if isinstance(out, _End):
                return
            yield from emit(out)
    finally:
        stop.set()
        to_finish.put(_END)
        for w in workers:
            w.join(_JOIN_S)
        # a reader blocked inside the source is left there: it ends as soon as that call returns
        reader.join(_READER_JOIN_S)
