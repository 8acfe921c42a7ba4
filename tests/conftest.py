"""Shared fixtures: where the real models and images live (../shared or $LITE_SHARED)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_root() -> Path | None:
    """The shared assets folder, or None when it is absent."""
    env = os.environ.get("LITE_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared")
    for c in candidates:
        if (c / "models").is_dir():
            return c
    return None


SHARED = shared_root()
needs_shared = pytest.mark.skipif(SHARED is None, reason="../shared (or $LITE_SHARED) is absent: no real models")


@pytest.fixture(scope="session")
def shared() -> Path:
    """Path of the shared assets; skips the test when the folder is absent."""
    if SHARED is None:
        pytest.skip("../shared (or $LITE_SHARED) is absent: no real models")
    return SHARED


@pytest.fixture(scope="session")
def onnx_dir(shared: Path) -> Path:
    return shared / "models" / "yolov6lite" / "onnx"


@pytest.fixture(scope="session")
def ncnn_dir(shared: Path) -> Path:
    return shared / "models" / "yolov6lite" / "ncnn"


@pytest.fixture(scope="session")
def images_dir(shared: Path) -> Path:
    return shared / "images"


@pytest.fixture(scope="session")
def bus_path(images_dir: Path) -> Path:
    return images_dir / "bus.jpg"
