"""lite's one ONNX file reader: load a model with typed errors, list its inputs and outputs, read its metadata.

Backends (the TensorRT adapter reads an ONNX file's inputs and metadata before building),
converters (``lite.convert``) and the exporter (``lite.export``) all read ONNX files through
these functions. It lives on the backends side so that backends may import it and converters
import it from there (dependencies point from converters to backends, never back).

``onnx`` is imported inside the functions, never at module level.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lite.core.errors import BackendNotInstalledError, ConversionError, ModelNotFoundError

__all__ = ["QUANTIZED_RTOL", "QUANT_OPS", "Dims", "dims", "file_is_quantized", "graph_io", "io_shapes", "is_quantized",
           "load_onnx", "metadata_props"]  # fmt: skip

Dims = tuple[int | str | None, ...]

#: ONNX ops of a quantized (int8) graph.
QUANT_OPS = frozenset({"DynamicQuantizeLinear", "QuantizeLinear", "DequantizeLinear", "MatMulInteger", "ConvInteger",
                       "QLinearConv", "QLinearMatMul", "QLinearAdd", "QLinearMul", "QGemm"})  # fmt: skip
#: Relative L2 error allowed between two engines on a quantized graph: engines round quantized activations
#: differently (measured 4e-3 to 1e-2 on the YOLOv5n/YOLOv8n int8 exports, same detections), and one rounding
#: step of a box coordinate is whole pixels, so the largest difference is not bounded (`lite.tools.parity`).
QUANTIZED_RTOL = 3e-2


def is_quantized(proto: Any) -> bool:
    """Whether an ``onnx.ModelProto`` has quantization ops (`QUANT_OPS`)."""
    return any(n.op_type in QUANT_OPS for n in proto.graph.node)


def file_is_quantized(path: str | os.PathLike[str]) -> bool | None:
    """Whether an ``.onnx`` file has quantization ops; None when the ``onnx`` package is not installed."""
    try:
        import onnx
    except ImportError:
        return None
    return is_quantized(onnx.load(os.fspath(path), load_external_data=False))


def _import_onnx(extra: str = "convert") -> Any:
    try:
        import onnx
    except ImportError as e:
        raise BackendNotInstalledError(
            f"reading ONNX files needs the 'onnx' package ({e}); install it with: pip install 'lite-detect[{extra}]'"
        ) from e
    return onnx


def load_onnx(path: str | Path, *, weights: bool = True, extra: str = "convert") -> Any:
    """Load an ONNX model (``onnx.ModelProto``) with typed errors.

    Args:
        path: The ``.onnx`` file.
        weights: Also load weights stored in external data files (False: the graph and the
            in-file weights only, which is all that shapes and metadata need).
        extra: The pip extra named when ``onnx`` is missing.

    Raises:
        ModelNotFoundError: No such file.
        BackendNotInstalledError: The ``onnx`` package is missing.
        ConversionError: The file is not a readable ONNX model.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelNotFoundError(f"ONNX model not found: {p} (absolute: {p.resolve()})")
    onnx = _import_onnx(extra)
    try:
        return onnx.load(os.fspath(p), load_external_data=weights)
    except Exception as e:  # onnx raises DecodeError, ValueError, OSError... for a file that is not ONNX
        raise ConversionError(f"{p} is not a readable ONNX model: {type(e).__name__}: {e}") from e


def dims(value_info: Any) -> Dims:
    """The dimensions of an ONNX ``ValueInfoProto``: ints when fixed (> 0), else the symbolic name or None."""
    out: list[int | str | None] = []
    for d in value_info.type.tensor_type.shape.dim:
        if d.HasField("dim_value") and d.dim_value > 0:
            out.append(int(d.dim_value))
        else:
            out.append(d.dim_param or None)
    return tuple(out)


def graph_io(model: Any) -> tuple[list[tuple[str, Dims]], list[tuple[str, Dims]]]:
    """``(inputs, outputs)`` of an ONNX graph as ``(name, dims)`` lists; initializers are not inputs."""
    inits = {t.name for t in model.graph.initializer}
    ins = [(vi.name, dims(vi)) for vi in model.graph.input if vi.name not in inits]
    outs = [(vi.name, dims(vi)) for vi in model.graph.output]
    return ins, outs


def io_shapes(model: Any) -> tuple[dict[str, Dims], dict[str, Dims]]:
    """Input and output name → dims of an ONNX model (see `graph_io`)."""
    ins, outs = graph_io(model)
    return dict(ins), dict(outs)


def metadata_props(model: Any) -> dict[str, str]:
    """The ``metadata_props`` of a model, or of an ONNX file (read without its external weights)."""
    if isinstance(model, str | os.PathLike):
        model = load_onnx(model, weights=False)
    return {p.key: p.value for p in model.metadata_props}
