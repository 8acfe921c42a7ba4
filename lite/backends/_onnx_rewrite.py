"""In-memory ONNX graph rewrites that give an engine the same computation in a form it handles right.

Some exporters write a channel shuffle (ShuffleNet, YOLOv6Lite) as a ``Gather`` on the channel axis with a
constant permutation. Two engines get that wrong:

* pnnx (ONNX → NCNN) converts it as a select of one element on the wrong axis (wrong shapes, NCNN crashes);
* OpenVINO (measured with 2026.4 on the YOLOv6Lite ONNX files) compiles it into a graph whose outputs are
  silently wrong (0 of 9 detections on bus.jpg; the first divergent node is the 1×1 Conv after the shuffle).

The rewrites here replace such a ``Gather`` by an equivalent that both engines handle: a channel-shuffle
permutation becomes ``Reshape → Transpose → Reshape`` (what pnnx turns into NCNN's ``ShuffleChannel``), any other
constant channel selection an exact 1×1 convolution with one-hot weights. Each function takes an
``onnx.ModelProto``, leaves it untouched and returns ``(new model, names of the rewritten nodes)``; the model is
returned as is when nothing matches. ONNX Runtime gives bit-identical outputs on the rewritten graphs (a
permutation, or a convolution with one non-zero weight of 1.0 per output).

One rewrite is for speed, not correctness: OpenVINO's CPU plugin has no fast kernel for ONNX ``HardSigmoid`` (how
exporters write the HardSwish of YOLOv6Lite, ``x · HardSigmoid(x)``) and runs it as a reference kernel in plain
layout, with a layout conversion before and after each of them (114 in Lite-S: half of its inference time).
`rewrite_hard_sigmoids` writes the same function as ``Clip(x + 3, 0, 6) / 6`` (or ``Clip(αx + β, 0, 1)``),
which OpenVINO fuses into ``HSigmoid``/``HSwish`` inside the convolutions. That one is exact in real arithmetic but
rounds differently (ONNX Runtime's outputs move by float noise, about 1e-4 absolute on Lite-S's raw heads).

Used by the OpenVINO backend (at load, in memory; the user's file is never written) and by the NCNN converter.
``onnx`` is imported only when a rewrite runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ChannelGather",
    "channel_gathers",
    "concrete_input_shape",
    "constant_arrays",
    "rewrite_channel_selects",
    "rewrite_channel_shuffles",
    "rewrite_hard_sigmoids",
    "shuffle_groups",
]


@dataclass(frozen=True)
class ChannelGather:
    """A ``Gather`` on axis 1 of a 4-D float tensor with a constant 1-D index list.

    Attributes:
        position: Index of the node in ``graph.node``.
        shape: ``(N, C, H, W)`` of the gathered tensor at the probe shape.
        indices: The channel indices, made non-negative.
    """

    position: int
    shape: tuple[int, int, int, int]
    indices: np.ndarray


def constant_arrays(model: Any) -> dict[str, np.ndarray]:
    """Name → value of every initializer and ``Constant`` node output of the main graph."""
    from onnx import numpy_helper

    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return consts


def concrete_input_shape(model: Any, hw: Sequence[int] = (640, 640)) -> tuple[int, ...]:
    """A concrete shape for the first graph input: fixed dimensions as declared, open ones filled in.

    Open dimensions take batch 1, 3 channels and ``hw`` for a 4-D input, else 1.
    """
    inits = {t.name for t in model.graph.initializer}
    vi = next(v for v in model.graph.input if v.name not in inits)
    dims = vi.type.tensor_type.shape.dim
    fill = [1, 3, *hw] if len(dims) == 4 else [1] * len(dims)
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else fill[i] for i, d in enumerate(dims))


def _tensor_infos(model: Any, input_shape: Sequence[int]) -> dict[str, Any]:
    """Value infos of every tensor after shape inference with the first input set to ``input_shape``."""
    import onnx
    from onnx import shape_inference

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    inits = {t.name for t in probe.graph.initializer}
    vi = next(v for v in probe.graph.input if v.name not in inits)
    for d, size in zip(vi.type.tensor_type.shape.dim, input_shape, strict=True):
        d.Clear()
        d.dim_value = int(size)
    inferred = shape_inference.infer_shapes(probe)
    return {v.name: v for v in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)}


def channel_gathers(model: Any, input_shape: Sequence[int]) -> list[ChannelGather]:
    """Every ``Gather`` on the channel axis of a 4-D float tensor with a constant 1-D index list.

    Args:
        model: The ``onnx.ModelProto``.
        input_shape: A concrete shape of the first input, for shape inference.
    """
    from onnx import TensorProto, helper

    consts = constant_arrays(model)
    candidates = [
        i
        for i, n in enumerate(model.graph.node)
        if n.op_type == "Gather" and n.input[1] in consts and consts[n.input[1]].ndim == 1
    ]
    if not candidates:
        return []
    infos = _tensor_infos(model, input_shape)
    found = []
    for i in candidates:
        node = model.graph.node[i]
        info = infos.get(node.input[0])
        if info is None or info.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        shape = [d.dim_value if d.HasField("dim_value") else None for d in info.type.tensor_type.shape.dim]
        axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 0)
        if len(shape) != 4 or None in shape or axis % 4 != 1:
            continue
        idx = consts[node.input[1]].astype(np.int64)
        found.append(ChannelGather(i, tuple(shape), np.where(idx < 0, idx + shape[1], idx)))  # type: ignore[arg-type]
    return found


def shuffle_groups(indices: np.ndarray, channels: int) -> int | None:
    """The group count g when ``indices`` is the channel-shuffle permutation of ``channels`` channels, else None.

    The shuffle of g groups reads channel ``i·(C/g) + j`` into position ``j·g + i``.
    """
    if len(indices) != channels:
        return None
    for g in range(2, channels):
        if channels % g == 0 and np.array_equal(indices, np.arange(channels).reshape(g, channels // g).T.ravel()):
            return g
    return None


def rewrite_channel_shuffles(model: Any, input_shape: Sequence[int], *, dynamic: bool = False) -> tuple[Any, list[str]]:
    """Replace channel-shuffle ``Gather`` nodes by ``Reshape → Transpose → Reshape``.

    Args:
        model: The ``onnx.ModelProto`` (not modified).
        input_shape: A concrete shape of the first input, for shape inference.
        dynamic: Write shapes that follow the tensor at run time (``[0, g, C/g, -1]`` then the input's own
            ``Shape``), so the graph keeps working for any batch, height and width. False writes the
            fixed 5-D form ``[N, g, C/g, H, W]`` that pnnx turns into NCNN's ``ShuffleChannel``.

    Returns:
        ``(model, names of the rewritten nodes)``; the same model object when nothing matched.
    """
    from onnx import helper, numpy_helper

    shuffles = {}
    for cg in channel_gathers(model, input_shape):
        groups = shuffle_groups(cg.indices, cg.shape[1])
        if groups is not None:
            shuffles[cg.position] = (cg, groups)
    if not shuffles:
        return model, []
    out, rewritten = _copy_without_nodes(model), []
    for i, node in enumerate(model.graph.node):
        if i not in shuffles:
            out.graph.node.append(node)
            continue
        (n, c, h, w), groups = shuffles[i][0].shape, shuffles[i][1]
        base = node.name or node.output[0]
        first, back = f"{base}__lite_shape5", f"{base}__lite_shape4"
        if dynamic:
            first_shape, perm = np.array([0, groups, c // groups, -1], np.int64), [0, 2, 1, 3]
            out.graph.node.append(helper.make_node("Shape", [node.input[0]], [back], name=back))
        else:
            first_shape, perm = np.array([n, groups, c // groups, h, w], np.int64), [0, 2, 1, 3, 4]
            out.graph.initializer.append(numpy_helper.from_array(np.array([n, c, h, w], np.int64), back))
        out.graph.initializer.append(numpy_helper.from_array(first_shape, first))
        out.graph.node.extend(
            [
                helper.make_node("Reshape", [node.input[0], first], [f"{base}__lite_r5"], name=f"{base}__lite_r5"),
                helper.make_node(
                    "Transpose", [f"{base}__lite_r5"], [f"{base}__lite_t"], name=f"{base}__lite_t", perm=perm
                ),  # fmt: skip
                helper.make_node("Reshape", [f"{base}__lite_t", back], [node.output[0]], name=base),
            ]
        )
        rewritten.append(base)
    _drop_unread_initializers(out, {model.graph.node[i].input[1] for i in shuffles})
    return out, rewritten


def rewrite_channel_selects(model: Any, input_shape: Sequence[int]) -> tuple[Any, list[str]]:
    """Replace constant channel-selection ``Gather`` nodes by an exact 1×1 convolution with one-hot weights.

    Args:
        model: The ``onnx.ModelProto`` (not modified).
        input_shape: A concrete shape of the first input, for shape inference.

    Returns:
        ``(model, names of the rewritten nodes)``; the same model object when nothing matched.
    """
    from onnx import helper, numpy_helper

    selects = {cg.position: cg for cg in channel_gathers(model, input_shape)}
    if not selects:
        return model, []
    out, rewritten = _copy_without_nodes(model), []
    for i, node in enumerate(model.graph.node):
        if i not in selects:
            out.graph.node.append(node)
            continue
        idx, channels = selects[i].indices, selects[i].shape[1]
        base = node.name or node.output[0]
        weight = np.zeros((len(idx), channels, 1, 1), np.float32)
        weight[np.arange(len(idx)), idx] = 1.0
        wname = f"{base}__lite_onehot"
        out.graph.initializer.append(numpy_helper.from_array(weight, wname))
        out.graph.node.append(
            helper.make_node("Conv", [node.input[0], wname], [node.output[0]], name=base, kernel_shape=[1, 1])
        )
        rewritten.append(base)
    _drop_unread_initializers(out, {model.graph.node[i].input[1] for i in selects})
    return out, rewritten


def rewrite_hard_sigmoids(model: Any) -> tuple[Any, list[str]]:
    """Replace ``HardSigmoid(x; α, β)`` by ``Clip(x + 3, 0, 6) / 6`` (α = 1/6, β = 0.5) or ``Clip(αx + β, 0, 1)``.

    Args:
        model: The ``onnx.ModelProto`` (not modified).

    Returns:
        ``(model, names of the rewritten nodes)``; the same model object when there is no ``HardSigmoid``.
    """
    from onnx import helper, numpy_helper

    if not any(n.op_type == "HardSigmoid" and not n.domain for n in model.graph.node):
        return model, []
    out, rewritten = _copy_without_nodes(model), []
    consts: dict[float, str] = {}

    def const(value: float) -> str:
        if value not in consts:
            consts[value] = f"__lite_hsig_{len(consts)}"
            out.graph.initializer.append(numpy_helper.from_array(np.array(value, np.float32), consts[value]))
        return consts[value]

    for node in model.graph.node:
        if node.op_type != "HardSigmoid" or node.domain:
            out.graph.node.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        alpha, beta = float(attrs.get("alpha", 0.2)), float(attrs.get("beta", 0.5))
        base = node.name or node.output[0]
        x, y, mid, clipped = node.input[0], node.output[0], f"{base}__lite_in", f"{base}__lite_clip"
        if np.float32(alpha) == np.float32(1 / 6) and beta == 0.5:  # the HardSwish/HSigmoid form OpenVINO fuses
            steps = [("Add", [x, const(3.0)], mid), ("Clip", [mid, const(0.0), const(6.0)], clipped),
                     ("Div", [clipped, const(6.0)], y)]  # fmt: skip
        else:
            scaled = f"{base}__lite_scaled"
            steps = [("Mul", [x, const(alpha)], scaled), ("Add", [scaled, const(beta)], mid),
                     ("Clip", [mid, const(0.0), const(1.0)], y)]  # fmt: skip
        for i, (op, inputs, output) in enumerate(steps):
            name = base if output == y else f"{base}__lite_{i}"
            out.graph.node.append(helper.make_node(op, inputs, [output], name=name))
        rewritten.append(base)
    return out, rewritten


def _copy_without_nodes(model: Any) -> Any:
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    del out.graph.node[:]
    return out


def _drop_unread_initializers(model: Any, candidates: set[str]) -> None:
    """Remove the ``candidates`` initializers nothing reads any more (all kept when the graph has subgraphs)."""
    if any(a.HasField("g") or len(a.graphs) for n in model.graph.node for a in n.attribute):
        return  # subgraphs may read outer initializers by name
    dropped = candidates - {i for n in model.graph.node for i in n.input}
    if not dropped:
        return
    kept = [t for t in model.graph.initializer if t.name not in dropped]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
