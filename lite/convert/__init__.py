"""Model conversion: ONNX → NCNN (pnnx), ONNX → MNN (MNN's converter), ONNX → TensorRT, and any registered target.

Every converter writes a ``<model file name>.lite.json`` sidecar next to its output with the class
names, strides, input size and output layout taken from the ONNX file, and the family, decoder and task
(detect, segment, pose, classify) the resolver finds, so a converted model opens as the same task with no
arguments, and checks the converted model against ONNX Runtime before writing it.

Output files: by default in the **current directory** (``m.onnx`` → ``./m.ncnn.param``), or
``out`` (a file, or a folder: ``<folder>/<stem>.<suffix>``), the same rule for every target
(`output_path`). An existing output is never replaced unless ``force=True`` (the check
comes before any work), and every file is written to a temporary name in the destination folder
and renamed into place when the whole set is complete.

Targets register with `register_converter` (see ``docs/architecture.md``). `quantize` makes an int8 model for
the CPU (OpenVINO through NNCF, or ONNX Runtime QDQ), measured against the fp32 one (``docs/quantization.md``).

Example:
    ```python
    from lite.convert import convert, onnx_to_ncnn
    from lite.cv import YOLOv6

    param = onnx_to_ncnn("yolov6lite_s_320_raw.onnx")                        # ./yolov6lite_s_320_raw.ncnn.param
    mnn = convert("yolov6lite_s_320_raw.onnx", "mnn", "models/", fp16=True)  # models/yolov6lite_s_320_raw.mnn
    YOLOv6(param).detect("bus.jpg")
    ```

Nothing heavy is imported here: pnnx and the MNN converter run as child processes, and
``onnx`` is imported when a conversion starts.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from lite.convert._registry import (
    ConverterInfo,
    ConverterOption,
    check_options,
    declared_options,
    get,
    known,
    output_path,
    register_converter,
)

__all__ = [
    "ConverterInfo",
    "ConverterOption",
    "check_options",
    "declared_options",
    "convert",
    "get",
    "known",
    "onnx_to_mnn",
    "onnx_to_ncnn",
    "output_path",
    "quantize",
    "register_converter",
]


def convert(
    onnx: str | Path, to: str, out: str | Path | None = None, *, fp16: bool = False, force: bool = False, **options: Any
) -> Path:
    """Convert an ONNX model to the target ``to`` (one of `known`: ``"ncnn"``, ``"mnn"``, ``"trt"`` …).

    Args:
        onnx: The ONNX file.
        to: Target name.
        out: Output file or folder (default: the current directory; see `output_path`).
        fp16: FP16 weights (NCNN, MNN) or FP16 kernels (TensorRT).
        force: Replace existing output files.
        **options: Passed to the target's converter (`onnx_to_ncnn`, `onnx_to_mnn`,
            `lite.convert.trt.build_engine` …).

    Returns:
        The converted model's path.

    Raises:
        UnknownConverterError: An unknown target (the message lists the known ones).
        InputError: An option the target's converter does not take, or a bad ``out``.
        OutputExistsError: An output exists and ``force`` is False (before any work).
    """
    info = get(to)
    check_options(info.name, options)
    return info.fn(onnx, info.output_path(onnx, out), fp16=fp16, force=force, **options)


_LAZY = {"onnx_to_ncnn": "lite.convert.ncnn", "onnx_to_mnn": "lite.convert.mnn", "quantize": "lite.convert._quantize"}


def __getattr__(name: str) -> Any:
    # the converter functions load on first use: ``lite --help`` lists the targets without importing them
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lite.convert' has no attribute {name!r}")
