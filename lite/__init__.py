"""lite: one object detector, every inference engine.

``import lite`` is cheap: it imports no engine, and even the submodules are loaded on first use.

The public API is importable from the top level (each name is loaded when first used):

Example:
    ```python
    from lite import Detector

    det = Detector.from_file("yolov6lite_s_320_decoded.onnx")  # the family is read from the model
    dets = det.detect("bus.jpg")
    ```
"""

from __future__ import annotations

import importlib
from typing import Any

from lite.core.errors import (
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

# ``lite.tools.eval`` (COCO evaluation) and ``lite.tools.bench`` load on first use but stay out of ``__all__``:
# ``from lite import *`` must not replace the builtin ``eval``. ``lite.compare`` is always the function
# (the parity module is ``lite.tools.parity``), whatever was imported before.
__all__ = [
    "BackendNotInstalledError",
    "Detections",
    "Detector",
    "DeviceError",
    "ImageError",
    "InputError",
    "LiteError",
    "ModelLoadError",
    "ModelNotFoundError",
    "NanoDet",
    "UnknownBackendError",
    "YOLO11",
    "YOLOX",
    "YOLOv5",
    "YOLOv6",
    "YOLOv8",
    "__version__",
    "backends",
    "compare",
    "convert",
    "cv",
    "export",
    "hub",
    "load_image",
    "load_images",
    "ops",
]

_LAZY_ATTRS = {
    "Detections": ("lite.data.detections", "Detections"),
    **{name: ("lite.cv", name) for name in ("Detector", "NanoDet", "YOLO11", "YOLOX", "YOLOv5", "YOLOv6", "YOLOv8")},
    "compare": ("lite.tools.parity", "compare"),
    "load_image": ("lite.data.io", "load_image"),
    "load_images": ("lite.data.io", "load_images"),
}
#: ``lite.<name>`` → the module it loads (the layer packages and the tools people reach for by name).
_LAZY_MODULES = {
    **{name: f"lite.{name}" for name in ("backends", "convert", "core", "cv", "data", "export", "hub", "ops", "tools")},
    "eval": "lite.tools.eval",
    "bench": "lite.tools.bench",
    "parity": "lite.tools.parity",
    "stream": "lite.data.stream",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_ATTRS:
        module, attr = _LAZY_ATTRS[name]
        value = getattr(importlib.import_module(module), attr)
    elif name in _LAZY_MODULES:
        value = importlib.import_module(_LAZY_MODULES[name])
    else:
        raise AttributeError(f"module 'lite' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
