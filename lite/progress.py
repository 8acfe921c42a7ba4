"""A progress bar for loops over images or frames: tqdm on stderr when installed, else nothing.

tqdm is optional (``pip install 'lite-detect[progress]'``) and imported only when a bar is made.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["ProgressBar"]


class ProgressBar:
    """A tqdm bar on stderr when it is wanted and tqdm is installed; without tqdm, one note on stderr instead.

    Args:
        total: Number of steps (None: unknown, as for a stream).
        desc: Label in front of the bar.
        enabled: Show a bar at all.
        unit: What one step is (``"img"``, ``"frame"``).
        **options: More ``tqdm`` arguments (such as ``leave=False``).
    """

    def __init__(self, total: int | None, desc: str, *, enabled: bool = True, unit: str = "img", **options: Any):
        self.bar = None
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
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
