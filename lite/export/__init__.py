"""Export PyTorch models to ONNX, and prove the result computes what PyTorch computes.

* `torch_to_onnx`: any ``torch.nn.Module`` → a checked, simplified ONNX file with lite's
  metadata, verified against PyTorch in ONNX Runtime (an `ExportReport`).
* `verify_onnx` / `verify_backend`: the same check for an existing file (any lite backend).
* `export_yolov6`: a meituan/YOLOv6 training checkpoint → ``decoded``, ``raw`` (decode-free
  per-level heads for NCNN/MNN) or ``end2end`` (ONNX NonMaxSuppression inside) ONNX.
* `export_classifier`: any PyTorch image classifier (ResNet, MobileNet...) → ONNX with ``task: classify``
  metadata and its preprocessing (ImageNet's by default), verified against PyTorch (and each ``to`` engine).
* `add_onnx_nms`: append YOLOv6's ``--end2end --ort`` NMS tail to any decoded ONNX model.

Nothing heavy is imported until a function is called.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Comparison",
    "ExportReport",
    "OutputDiff",
    "YOLOv6NotInstalledError",
    "add_onnx_nms",
    "export_classifier",
    "export_yolov6",
    "import_yolov6",
    "load_yolov6_checkpoint",
    "read_onnx_metadata",
    "simplify_onnx",
    "torch_to_onnx",
    "verify_backend",
    "verify_end2end",
    "verify_onnx",
    "write_onnx_metadata",
]

_WHERE = {
    "Comparison": "lite.export.report",
    "ExportReport": "lite.export.report",
    "OutputDiff": "lite.export.report",
    "torch_to_onnx": "lite.export.onnx",
    "simplify_onnx": "lite.export.onnx",
    "read_onnx_metadata": "lite.export.onnx",
    "write_onnx_metadata": "lite.export.onnx",
    "verify_onnx": "lite.export.verify",
    "verify_backend": "lite.export.verify",
    "verify_end2end": "lite.export.end2end",
    "add_onnx_nms": "lite.export.end2end",
    "export_classifier": "lite.export.classifier",
    "export_yolov6": "lite.export.yolov6",
    "import_yolov6": "lite.export.yolov6",
    "load_yolov6_checkpoint": "lite.export.yolov6",
    "YOLOv6NotInstalledError": "lite.export.yolov6",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'lite.export' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
