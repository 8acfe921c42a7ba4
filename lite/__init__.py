"""lite: one object detector, every inference engine.

``import lite`` is cheap: it imports no engine, and even the submodules are loaded on first use.

Example:
    ```python
    from lite.cv import YOLOv6

    det = YOLOv6("yolov6lite_s_320_decoded.onnx")
    dets = det.detect("bus.jpg")
    ```
"""

from __future__ import annotations

import importlib
from typing import Any

from lite.errors import (
    BackendNotInstalledError,
    DeviceError,
    ImageError,
    InputError,
    LiteError,
    ModelLoadError,
    ModelNotFoundError,
    UnknownBackendError,
)

__version__ = "0.1.0"

# ``lite.eval`` (COCO evaluation) and ``lite.bench`` load on first use but stay out of ``__all__``:
# ``from lite import *`` must not replace the builtin ``eval``. ``lite.compare`` is always the function
# (the parity module is ``lite.parity``), whatever was imported before.
__all__ = [
    "BackendNotInstalledError",
    "Detections",
    "DeviceError",
    "ImageError",
    "InputError",
    "LiteError",
    "ModelLoadError",
    "ModelNotFoundError",
    "UnknownBackendError",
    "YOLOv6",
    "__version__",
    "backends",
    "compare",
    "convert",
    "cv",
    "export",
    "hub",
    "ops",
]

_LAZY_ATTRS = {
    "Detections": ("lite.detections", "Detections"),
    "YOLOv6": ("lite.cv.yolov6", "YOLOv6"),
    "compare": ("lite.parity", "compare"),
}
_LAZY_MODULES = {"backends", "convert", "cv", "eval", "export", "hub", "ops", "bench", "parity", "stream"}


def __getattr__(name: str) -> Any:
    if name in _LAZY_ATTRS:
        module, attr = _LAZY_ATTRS[name]
        value = getattr(importlib.import_module(module), attr)
    elif name in _LAZY_MODULES:
        value = importlib.import_module(f"lite.{name}")
    else:
        raise AttributeError(f"module 'lite' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
