"""Overlapped streams: ordered results, errors with the failing item, bounded read-ahead, clean shutdown."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from lite.core.errors import ImageNotFoundError, InputError, StreamError
from lite.data.stream import overlapped

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "hub" / "lite-demo-shapes.onnx"


def lite_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name in ("lite-source", "lite-prepare", "lite-finish")]


def test_results_in_order_with_stages_in_their_threads() -> None:
    seen: dict[str, set[str]] = {"prepare": set(), "run": set(), "finish": set()}

    def prepare(x: int) -> int:
        seen["prepare"].add(threading.current_thread().name)
        time.sleep(0.001 * (x % 3))  # uneven stage times must not reorder anything
        return x * 10

    def run(p: int) -> int:
        seen["run"].add(threading.current_thread().name)
        return p + 1

    def finish(p: int, r: int) -> tuple[int, int]:
        seen["finish"].add(threading.current_thread().name)
        return p, r

    out = list(overlapped(range(50), prepare, run, finish, depth=3))
    assert out == [(10 * i, 10 * i + 1) for i in range(50)]
    assert seen == {"prepare": {"lite-prepare"}, "run": {threading.current_thread().name}, "finish": {"lite-finish"}}
    assert not lite_threads()


def test_read_ahead_is_bounded() -> None:
    pulled = []

    def source():
        for i in range(1000):
            pulled.append(i)
            yield i

    gen = overlapped(source(), lambda x: x, lambda p: p, lambda p, r: r, depth=2)
    assert next(gen) == 0
    time.sleep(0.2)  # give the producer every chance to run ahead
    assert len(pulled) <= 8  # depth waiting for the engine + depth finished + the ones in hand
    gen.close()
    assert not lite_threads()


@pytest.mark.parametrize("stage", ["prepare", "inference", "post-process"])
def test_error_carried_in_order_with_the_failing_item(stage: str) -> None:
    def maybe_fail(where: str, x: int) -> int:
        if where == stage and x == 3:
            raise ValueError(f"boom at {x}")
        return x

    gen = overlapped(
        [f"item{i}" for i in range(8)],
        lambda s: maybe_fail("prepare", int(s[4:])),
        lambda p: maybe_fail("inference", p),
        lambda p, r: maybe_fail("post-process", r),
    )
    got = []
    with pytest.raises(StreamError) as info:
        for r in gen:
            got.append(r)
    assert got == [0, 1, 2]  # every earlier result first
    e = info.value
    assert (e.index, e.source, e.stage) == (3, "item3", stage)
    assert isinstance(e.__cause__, ValueError) and "item3" in str(e) and "boom at 3" in str(e)
    assert not lite_threads()


def test_failing_iterable_is_reported() -> None:
    def source():
        yield 1
        raise OSError("camera unplugged")

    with pytest.raises(StreamError, match="camera unplugged") as info:
        list(overlapped(source(), lambda x: x, lambda p: p, lambda p, r: r))
    assert info.value.index == 1 and info.value.source is None and info.value.stage == "prepare"
    assert not lite_threads()


def test_interrupt_stops_and_joins_the_workers() -> None:
    def run(p: int) -> int:
        if p == 5:
            raise KeyboardInterrupt  # what Ctrl-C raises in the consuming (main) thread
        return p

    with pytest.raises(KeyboardInterrupt):
        list(overlapped(range(10_000), lambda x: x, run, lambda p, r: r))
    assert not lite_threads()


def test_early_close_with_slow_prepare_joins() -> None:
    gen = overlapped(range(100), lambda x: time.sleep(0.01) or x, lambda p: p, lambda p, r: r)
    assert [next(gen) for _ in range(3)] == [0, 1, 2]
    gen.close()
    assert not lite_threads()
    del gen


def test_bad_depth() -> None:
    with pytest.raises(InputError, match="depth"):
        overlapped([1], lambda x: x, lambda p: p, lambda p, r: r, depth=0)
    with pytest.raises(InputError, match="on_error"):
        overlapped([1], lambda x: x, lambda p: p, lambda p, r: r, on_error="ignore")


def test_live_source_result_leaves_before_the_next_item() -> None:
    """One item every 0.4 s: each result is out about one engine call after its item, not one interval."""
    arrived: dict[int, float] = {}

    def camera():
        for i in range(4):
            if i:
                time.sleep(0.4)
            arrived[i] = time.perf_counter()
            yield i

    lags = []
    for r in overlapped(camera(), lambda x: x, lambda p: time.sleep(0.02) or p, lambda p, r: r):
        lags.append(time.perf_counter() - arrived[r])
    assert len(lags) == 4
    assert max(lags) < 0.3, lags  # the old behaviour held each result until the next item: >= 0.4 s
    assert not lite_threads()


def test_close_returns_fast_while_the_source_blocks() -> None:
    release = threading.Event()

    def stalled_camera():
        yield 0
        yield 1
        release.wait(30)  # a camera that stopped sending frames
        yield 2

    gen = overlapped(stalled_camera(), lambda x: x, lambda p: p, lambda p, r: r)
    assert [next(gen), next(gen)] == [0, 1]
    t0 = time.perf_counter()
    gen.close()
    assert time.perf_counter() - t0 < 0.5
    left = [t.name for t in lite_threads()]
    assert left == ["lite-source"]  # only the reader, blocked inside the camera's own __next__
    release.set()  # the camera wakes: the reader ends without reading on or running any lite code
    deadline = time.perf_counter() + 5
    while lite_threads() and time.perf_counter() < deadline:
        time.sleep(0.01)
    assert not lite_threads()


@pytest.mark.parametrize("stage", ["prepare", "inference", "post-process"])
def test_on_error_skip_and_record_go_on(stage: str) -> None:
    def maybe_fail(where: str, x: int) -> int:
        if where == stage and x in (2, 5):
            raise ValueError(f"boom at {x}")
        return x

    def make(on_error: str):
        return overlapped(
            range(8),
            lambda x: maybe_fail("prepare", x),
            lambda p: maybe_fail("inference", p),
            lambda p, r: maybe_fail("post-process", r),
            on_error=on_error,
        )

    assert list(make("skip")) == [0, 1, 3, 4, 6, 7]
    got = list(make("record"))
    assert [g for g in got if not isinstance(g, StreamError)] == [0, 1, 3, 4, 6, 7]
    errs = [(k, g) for k, g in enumerate(got) if isinstance(g, StreamError)]
    assert [k for k, _ in errs] == [2, 5]  # in the failed item's place
    assert all(e.stage == stage and isinstance(e.__cause__, ValueError) for _, e in errs)
    assert [e.index for _, e in errs] == [2, 5]
    assert not lite_threads()


def test_on_error_skip_still_raises_when_the_iterable_fails() -> None:
    def source():
        yield 1
        raise OSError("camera unplugged")

    got = []
    with pytest.raises(StreamError, match="camera unplugged"):
        for r in overlapped(source(), lambda x: x, lambda p: p, lambda p, r: r, on_error="skip"):
            got.append(r)
    assert got == [1]
    assert not lite_threads()


def test_detect_stream_equals_detect(tmp_path: Path) -> None:
    import cv2

    from lite.cv import YOLOv6
    from lite.demo.scenes import make_scene

    rng = np.random.default_rng(0)
    imgs = [make_scene(rng, size=(240 + 16 * i, 320))[0] for i in range(6)]
    paths = []
    for i, im in enumerate(imgs[:3]):
        p = tmp_path / f"{i}.png"
        cv2.imwrite(str(p), im)
        paths.append(p)
    items = paths + imgs[3:]  # paths and arrays mixed
    with YOLOv6(DEMO, threads=1) as det:
        want = [det.detect(x) for x in items]
        got = list(det.detect_stream(items))
        pairs = list(det.detect_stream(items, return_images=True, conf=0.5))
        assert det.detect_batch(items) is not None
        batch = det.detect_batch(items)
    assert sum(len(d) for d in want) > 0
    for a, b, c in zip(want, got, batch, strict=True):
        np.testing.assert_array_equal(a.xyxy, b.xyxy)
        np.testing.assert_array_equal(a.xyxy, c.xyxy)
    assert all(d.scores.min(initial=1.0) >= 0.5 for _, d in pairs)
    np.testing.assert_array_equal(pairs[4][0], imgs[4])
    assert not lite_threads()


def test_detect_stream_missing_file(tmp_path: Path) -> None:
    from lite.cv import YOLOv6

    with YOLOv6(DEMO, threads=1) as det:
        img = np.full((64, 64, 3), 90, np.uint8)
        got = []
        with pytest.raises(StreamError) as info:
            for d in det.detect_stream([img, img, tmp_path / "missing.jpg", img]):
                got.append(d)
        assert len(got) == 2
        assert info.value.index == 2 and isinstance(info.value.__cause__, ImageNotFoundError)
        skipped = list(det.detect_stream([img, tmp_path / "missing.jpg", img], on_error="skip"))
        assert len(skipped) == 2 and all(isinstance(d, type(got[0])) for d in skipped)
        with pytest.raises(InputError, match="unknown detect"):
            det.detect_stream([img], bogus=1)
        with pytest.raises(ImageNotFoundError):  # detect_batch keeps detect()'s error types
            det.detect_batch([img, tmp_path / "missing.jpg"])
    assert not lite_threads()


def test_ctrl_c_in_a_real_process_stops_promptly(tmp_path: Path) -> None:
    """SIGINT while a stream runs: KeyboardInterrupt reaches the caller, the workers are joined, the process exits."""
    import signal
    import subprocess
    import sys

    script = tmp_path / "run.py"
    script.write_text(
        "import itertools, sys, threading, numpy as np\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from lite.cv import YOLOv6\n"
        f"det = YOLOv6({str(DEMO)!r}, threads=1)\n"
        "frames = (np.full((240, 320, 3), i % 255, np.uint8) for i in itertools.count())\n"
        "try:\n"
        "    for i, d in enumerate(det.detect_stream(frames)):\n"
        "        if i == 3:\n"
        "            print('running', flush=True)\n"
        "except KeyboardInterrupt:\n"
        "    alive = [t.name for t in threading.enumerate() if t.name.startswith('lite-')]\n"
        "    print('interrupted', alive, flush=True)\n"
        "    sys.exit(3)\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "running"
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 3 and "interrupted []" in out
