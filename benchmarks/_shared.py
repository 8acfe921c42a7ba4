"""Where the benchmark scripts find the shared assets (models, images): never copied into the repository."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_root(given: str | os.PathLike | None = None) -> Path:
    """The shared assets folder: ``given`` (a script's ``--shared``), else ``$LITE_SHARED``, else ``../shared``.

    Raises:
        SystemExit: None of them holds a ``models`` folder.
    """
    for c in (given, os.environ.get("LITE_SHARED"), REPO.parent / "shared"):
        if c and (Path(c) / "models").is_dir():
            return Path(c)
    raise SystemExit(
        "shared assets not found: pass --shared (where the script takes it), set LITE_SHARED or put them at ../shared"
    )
