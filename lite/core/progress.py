"""Progress on stderr, one module for every long-running job lite has.

* `ProgressBar` — a counted loop (images, frames, downloaded bytes): tqdm on stderr when
  installed; without tqdm, either one note or a line every 10 % (``fallback``).
* `Stages` — a job made of named stages (a conversion): ``lite convert (ncnn) [2/4] running pnnx``.

tqdm is optional (``pip install 'lite-detect[progress]'``) and imported only when a bar is made.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Literal

__all__ = ["ProgressBar", "Stages"]


class _LineBar:
    """A bar without tqdm: a line on stderr every 10 % of a known total (the amount at the end otherwise)."""

    def __init__(self, total: int | None, desc: str, unit: str) -> None:
        self.total, self.desc, self.unit, self.done, self._tenth = total, desc, unit, 0, 1

    def _amount(self, n: float) -> str:
        return f"{n / 1e6:.1f} MB" if self.unit == "B" else f"{n:.0f} {self.unit}"

    def update(self, n: int) -> None:
        self.done += n
        if self.total and self.done * 10 >= self._tenth * self.total:  # integers: no drift in the 10 % steps
            pct = 100 * self.done / self.total
            print(f"{self.desc}: {pct:3.0f}% of {self._amount(self.total)}", file=sys.stderr, flush=True)
            while self._tenth * self.total <= self.done * 10:
                self._tenth += 1

    def write(self, text: str) -> None:
        print(text)

    def close(self) -> None:
        if not self.total:
            print(f"{self.desc}: {self._amount(self.done)}", file=sys.stderr, flush=True)


class ProgressBar:
    """A tqdm bar on stderr when it is wanted and tqdm is installed.

    Args:
        total: Number of steps (None: unknown, as for a stream).
        desc: Label in front of the bar.
        enabled: Show a bar at all.
        unit: What one step is (``"img"``, ``"frame"``, ``"B"``).
        fallback: Without tqdm: ``"note"`` prints one note saying how to get a bar; ``"lines"``
            prints a line every 10 % (for downloads, which must show they advance).
        **options: More ``tqdm`` arguments (such as ``leave=False``).
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        *,
        enabled: bool = True,
        unit: str = "img",
        fallback: Literal["note", "lines"] = "note",
        **options: Any,
    ):
        self.bar: Any = None
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            if fallback == "lines":
                self.bar = _LineBar(total, desc, unit)
            else:
                print("note: install tqdm for a progress bar (pip install 'lite-detect[progress]')", file=sys.stderr)
            return
        self.bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, **options)

    def update(self, n: int = 1) -> None:
        """Advance by ``n`` steps."""
        if self.bar is not None:
            self.bar.update(n)

    def write(self, text: str) -> None:
        """Print a line (above the bar when there is one, so the bar stays whole)."""
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text)

    def close(self) -> None:
        """Remove or finish the bar."""
        if self.bar is not None:
            self.bar.close()


class Stages:
    """Stage lines on stderr: ``lite convert (ncnn) [2/4] running pnnx``.

    Args:
        target: What is being made (``"ncnn"``, ``"mnn"``).
        total: Number of stages.
        enabled: Print at all (None: only when stderr is a terminal).
        job: The job's name in each line.
    """

    def __init__(self, target: str, total: int, enabled: bool | None = None, job: str = "lite convert") -> None:
        self.target, self.total, self.step, self.job = target, total, 0, job
        self.enabled = sys.stderr.isatty() if enabled is None else bool(enabled)
        self._t0 = time.perf_counter()

    def __call__(self, message: str) -> None:
        """Announce the next stage."""
        self.step += 1
        if self.enabled:
            print(f"{self.job} ({self.target}) [{self.step}/{self.total}] {message}", file=sys.stderr, flush=True)

    def done(self, message: str) -> None:
        """Announce the end, with the elapsed time."""
        if self.enabled:
            dt = time.perf_counter() - self._t0
            print(f"{self.job} ({self.target}) done in {dt:.1f} s: {message}", file=sys.stderr, flush=True)
