"""Fetching model files: a streamed urllib download to a temporary file, checked, then renamed.

Nothing here needs a package beyond the standard library; the progress bar uses ``tqdm``
when it is installed and a plain line on stderr otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lite.core.errors import ChecksumError, HubError
from lite.core.files import sha256_file, temp_path_beside
from lite.core.progress import ProgressBar

__all__ = ["download", "sha256_file"]

_CHUNK = 1 << 20


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

    tmp = temp_path_beside(dest)
    h = hashlib.sha256()
    try:
        with response, open(tmp, "wb") as out:
            length = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
            total = int(length) if length and str(length).isdigit() else None
            bar = ProgressBar(total, dest.name, enabled=progress, unit="B", fallback="lines",
                              unit_scale=True, unit_divisor=1024)  # fmt: skip
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
                    bar.update(len(chunk))
            finally:
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
