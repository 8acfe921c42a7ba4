"""Where lite keeps caches and downloaded models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lite.core.errors import HubError


def _user_cache_root() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))


def cache_dir() -> Path:
    """Engine and build caches: ``$LITE_CACHE``, else ``<user cache dir>/lite``."""
    env = os.environ.get("LITE_CACHE")
    return _folder(Path(env).expanduser(), "LITE_CACHE") if env else _user_cache_root() / "lite"


def home_dir() -> Path:
    """Local model folder for hub names: ``$LITE_HOME``, else ``<user cache dir>/lite/models``."""
    env = os.environ.get("LITE_HOME")
    return _folder(Path(env).expanduser(), "LITE_HOME") if env else _user_cache_root() / "lite" / "models"


def _folder(path: Path, variable: str) -> Path:
    """``path`` from ``$variable``, refused when it exists and is not a folder.

    Raises:
        HubError: ``path`` is an existing file (the message names the variable).
    """
    if path.exists() and not path.is_dir():
        raise HubError(
            f"${variable}={str(path)!r} is a file; expected a folder (existing or not) where lite keeps its files. "
            f"Point ${variable} at a folder, or unset it to use the default"
        )
    return path
