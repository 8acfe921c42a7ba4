"""Fetching model files: a streamed urllib download to a temporary file, checked, then renamed.

Nothing here needs a package beyond the standard library; the progress bar uses ``tqdm``
when it is installed and a plain line on stderr otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lite.errors import ChecksumError, HubError

__all__ = ["download", "sha256_file"]

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


class _LineProgress:
    """Fallback progress display when tqdm is absent: a line on stderr every 10 %."""

    def __init__(self, total: int | None, desc: str) -> None:
        self.total, self.desc, self.done, self._next = total, desc, 0, 0.1

    def update(self, n: int) -> None:
        self.done += n
        if self.total and self.done / self.total >= self._next:
            pct = 100 * self.done / self.total
            print(f"{self.desc}: {pct:3.0f}% of {self.total / 1e6:.1f} MB", file=sys.stderr, flush=True)
            while self._next <= self.done / self.total:
                self._next += 0.1

    def close(self) -> None:
        if not self.total:
            print(f"{self.desc}: {self.done / 1e6:.1f} MB", file=sys.stderr, flush=True)


def _progress_bar(total: int | None, desc: str, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return _LineProgress(total, desc)
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, file=sys.stderr)


def _offline_error(url: str, dest: Path, reason: object) -> HubError:
    return HubError(
        f"could not download {url} ({reason}). Without network access, fetch that URL elsewhere and put the "
        f"file at {dest}"
    )


def download(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 30.0,
    opener: Callable[..., Any] | None = None,
) -> Path:
    """Download ``url`` to ``dest``: stream to a temporary file beside it, verify, then rename.

    The destination never holds a partial or unverified file: the data goes to
    ``.<name>.<random>.part`` in the same folder and is renamed over ``dest`` (an atomic
    replace) only after the whole body arrived and its sha256 matched.

    Args:
        url: ``https://``, ``http://`` or ``file://`` URL.
        dest: Final file path (parents are created).
        sha256: Expected hex digest; None skips the check.
        progress: Show a progress bar on stderr (tqdm when installed).
        timeout: Socket timeout in seconds for connecting and for each read.
        opener: ``urlopen``-compatible callable (default `urllib.request.urlopen`).

    Returns:
        ``dest`` as a `Path`.

    Raises:
        HubError: The URL cannot be reached or read (offline, refused, timeout, HTTP error);
            the message names the URL and where to put the file by hand.
        ChecksumError: The downloaded bytes do not have the expected sha256 (nothing is kept).
    """
    import urllib.error
    import urllib.request  # here, not at import time: it pulls in http.client, email and ssl

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    open_url = opener or urllib.request.urlopen
    try:
        response = open_url(url, timeout=timeout)
    except (urllib.error.URLError, OSError, ValueError) as e:  # URLError and timeouts are OSErrors
        raise _offline_error(url, dest, getattr(e, "reason", e)) from e

    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    try:
        with response, os.fdopen(fd, "wb") as out:
            length = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
            total = int(length) if length and str(length).isdigit() else None
            bar = _progress_bar(total, dest.name, progress)
            try:
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except OSError as e:  # connection reset or timeout mid-transfer
                        raise _offline_error(url, dest, e) from e
                    if not chunk:
                        break
                    out.write(chunk)
                    h.update(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
        got = h.hexdigest()
        if sha256 is not None and got != sha256.lower():
            raise ChecksumError(
                f"download of {url} for {dest.name}: sha256 mismatch: expected {sha256.lower()}, got {got}. "
                f"The file was not saved; the server may hold another version, or the transfer was corrupted"
            )
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return dest
