"""Model conversion: ONNX → NCNN (pnnx), ONNX → MNN (MNN's converter), ONNX → TensorRT.

Every converter writes a ``<model file name>.lite.json`` sidecar next to its output with the class
names, strides, input size and output layout taken from the ONNX file, so a converted model
opens with no arguments, and checks the converted model against ONNX Runtime before writing it.

Example:
    >>> from lite.convert import onnx_to_ncnn, onnx_to_mnn
    >>> param = onnx_to_ncnn("yolov6lite_s_320_raw.onnx")        # yolov6lite_s_320_raw.ncnn.param
    >>> mnn = onnx_to_mnn("yolov6lite_s_320_raw.onnx", fp16=True)
    >>> YOLOv6(param).detect("bus.jpg")

Nothing heavy is imported here: pnnx and the MNN converter run as child processes, and
``onnx`` is imported when a conversion starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lite.convert.mnn import onnx_to_mnn
from lite.convert.ncnn import onnx_to_ncnn
from lite.errors import InputError

__all__ = ["TARGETS", "convert", "onnx_to_mnn", "onnx_to_ncnn"]

#: Conversion targets :func:`convert` knows.
TARGETS = ("ncnn", "mnn", "trt")


def convert(onnx: str | Path, to: str, out: str | Path | None = None, *, fp16: bool = False, **options: Any) -> Path:
    """Convert an ONNX model to ``to`` (``"ncnn"``, ``"mnn"`` or ``"trt"``).

    Args:
        onnx: The ONNX file.
        to: Target format.
        out: Output path (see each converter for the default).
        fp16: FP16 weights (NCNN, MNN) or FP16 kernels (TensorRT).
        **options: Passed to the converter (:func:`onnx_to_ncnn`, :func:`onnx_to_mnn`, or
            :func:`lite.convert.trt.build_engine`).

    Returns:
        The converted model's path.

    Raises:
        InputError: An unknown target.
    """
    target = to.lower()
    if target == "ncnn":
        return onnx_to_ncnn(onnx, out, fp16, **options)
    if target == "mnn":
        return onnx_to_mnn(onnx, out, fp16, **options)
    if target in ("trt", "tensorrt"):
        from lite.convert.trt import build_engine

        return build_engine(onnx, out, fp16=fp16, **options)
    raise InputError(f"convert: unknown target {to!r}; expected one of {TARGETS}")
