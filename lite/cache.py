"""Where lite keeps caches and downloaded models."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _user_cache_root() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))


def cache_dir() -> Path:
    """Engine and build caches: ``$LITE_CACHE``, else ``<user cache dir>/lite``."""
    env = os.environ.get("LITE_CACHE")
    return Path(env).expanduser() if env else _user_cache_root() / "lite"


def home_dir() -> Path:
    """Local model folder for hub names: ``$LITE_HOME``, else ``<user cache dir>/lite/models``."""
    env = os.environ.get("LITE_HOME")
    return Path(env).expanduser() if env else _user_cache_root() / "lite" / "models"
