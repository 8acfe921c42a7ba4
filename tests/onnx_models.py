"""Hand-built ONNX models for tests: outputs that are constants of given values (no real weights needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def constant_model(path: Path, outputs: dict[str, np.ndarray], hw=(640, 640), metadata: dict | None = None) -> Path:
    """A model whose outputs are constants of the given values (the input is multiplied in by zero)."""
    nodes, outs, inits = [], [], []
    nodes.append(helper.make_node("ReduceMax", ["images"], ["m"], keepdims=0))
    nodes.append(helper.make_node("Mul", ["m", "zero"], ["z"]))
    inits.append(numpy_helper.from_array(np.zeros((1,), np.float32), "zero"))
    for name, value in outputs.items():
        inits.append(numpy_helper.from_array(value.astype(np.float32), f"{name}_c"))
        nodes.append(helper.make_node("Add", [f"{name}_c", "z"], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, *hw])], outs, inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for k, v in (metadata or {}).items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, path)
    return path
