"""End-to-end ONNX: append ONNX ``NonMaxSuppression`` to a decoded YOLOv6 graph, and check the result.

The appended tail reproduces the outputs of YOLOv6's ``export_onnx.py --end2end --ort``:

* ``num_dets`` int64 ``[B, 1]``: detections of each image;
* ``det_boxes`` float32 ``[B, R, 4]`` (x1, y1, x2, y2 in input pixels);
* ``det_scores`` float32 ``[B, R]``;
* ``det_classes`` int64 ``[B, R]``;

with ``R = K + 1``: the ``K`` boxes NMS selected in the whole batch, sorted by score, then one
all-zero row of class -1 (rows that belong to another image of the batch are zero with class -1
too). NMS is per class (``max_per_class`` boxes per class and image), on ``score = obj · class``
above ``score_threshold``, suppressing IoU above ``iou_threshold``.

Why graph surgery rather than a PyTorch module: PyTorch has no NMS operator without
torchvision, so an "exportable" NMS module can only be a fake whose ``forward`` returns
placeholder indices and whose ONNX symbolic emits the real op (YOLOv6's own approach). That
ties the export to the TorchScript exporter's symbolic API, and the PyTorch forward can never
be compared with the ONNX graph. Appending nodes with ``onnx.helper`` works on any decoded ONNX
file (from either exporter, or an existing model such as the shared YOLOv6Lite ones), and the
result is verified against the decoded outputs + lite's own NMS (`verify_end2end`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lite.core.errors import ConversionError, InputError, VerificationError
from lite.export.verify import median_ms, normalize_samples, run_reference
from lite.tools.parity import Boxes, Comparison, OutputDiff, match_detections, to_numpy

__all__ = ["END2END_OUTPUTS", "add_onnx_nms", "reference_end2end", "verify_end2end"]

END2END_OUTPUTS = ("num_dets", "det_boxes", "det_scores", "det_classes")
_INT64_MAX = np.iinfo(np.int64).max


class _Builder:
    """Appends nodes and constants with unique names to a graph."""

    def __init__(self, graph: Any, opset: int, prefix: str = "lite_nms") -> None:
        self.graph = graph
        self.opset = opset
        self.prefix = prefix
        self.n = 0
        self.taken = {n for node in graph.node for n in (*node.input, *node.output)}
        self.taken |= {i.name for i in graph.initializer} | {i.name for i in graph.input}

    def name(self, hint: str) -> str:
        self.n += 1
        out = f"{self.prefix}/{hint}_{self.n}"
        if out in self.taken:
            raise ConversionError(f"cannot append NMS: the graph already has a tensor named {out!r}")
        self.taken.add(out)
        return out

    def const(self, value: Any, hint: str = "const", dtype: Any = None) -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.graph.initializer.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(
        self,
        op_type: str,
        inputs: Sequence[str],
        hint: str | None = None,
        outputs: int | Sequence[str] = 1,
        **attrs: Any,
    ) -> Any:
        from onnx import helper

        if isinstance(outputs, int):
            outs = [self.name(hint or op_type.lower()) for _ in range(outputs)]
        else:
            outs = list(outputs)
        self.graph.node.append(
            helper.make_node(op_type, list(inputs), outs, name=self.name(f"{op_type}_node"), **attrs)
        )
        return outs[0] if len(outs) == 1 else outs

    def unsqueeze(self, x: str, axes: Sequence[int]) -> str:
        if self.opset >= 13:
            return self.op("Unsqueeze", [x, self.const(list(axes), "axes", np.int64)])
        return self.op("Unsqueeze", [x], axes=list(axes))

    def slice(self, x: str, start: int, end: int, axis: int) -> str:
        return self.op(
            "Slice",
            [
                x,
                self.const([start], "starts", np.int64),
                self.const([end], "ends", np.int64),
                self.const([axis], "axes", np.int64),
            ],
        )


def add_onnx_nms(
    model: Any,
    out_path: str | Path | None = None,
    *,
    score_threshold: float = 0.25,
    iou_threshold: float = 0.45,
    max_per_class: int = 100,
    output: str | None = None,
) -> Any:
    """Append YOLOv6's ``--end2end --ort`` NMS tail to a decoded model (see the module docstring).

    Args:
        model: ``onnx.ModelProto`` or path of a model whose output is ``(B, N, 5+nc)``
            ``[cx, cy, w, h, obj, classes…]`` in input pixels (float32); not modified.
        out_path: Where to save the end-to-end model (None: only return it).
        score_threshold: NMS score threshold (on ``obj · class``).
        iou_threshold: NMS IoU threshold.
        max_per_class: Boxes kept per class and image.
        output: The decoded output to use (default: the model's only output).

    Returns:
        The new ``onnx.ModelProto`` (also saved when ``out_path`` is given).

    Raises:
        ConversionError: The model's opset is below 11, its output is not a float (B, N, C ≥ 6)
            tensor, or the result fails ``onnx.checker``.
    """
    import onnx
    from onnx import TensorProto, helper

    from lite.export.onnx import onnx_opset

    if not 0.0 <= score_threshold <= 1.0 or not 0.0 <= iou_threshold <= 1.0:
        raise InputError(f"thresholds must be in [0, 1], got score {score_threshold}, IoU {iou_threshold}")
    if max_per_class < 1:
        raise InputError(f"max_per_class: expected a positive integer, got {max_per_class}")
    src = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
    proto = onnx.ModelProto()
    proto.CopyFrom(src)
    opset = onnx_opset(proto)
    if opset < 11:
        raise ConversionError(f"end-to-end NMS needs opset >= 11 (NonMaxSuppression, GatherND, Pad); model has {opset}")
    g = proto.graph
    outs = {o.name: o for o in g.output}
    if output is None:
        if len(outs) != 1:
            raise ConversionError(f"the model has outputs {list(outs)}; name the decoded one with output=")
        output = next(iter(outs))
    if output not in outs:
        raise ConversionError(f"output {output!r} not in the model outputs {list(outs)}")
    vi = outs[output]
    tt = vi.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim]
    if tt.elem_type != TensorProto.FLOAT or len(dims) != 3 or not (isinstance(dims[2], int) and dims[2] >= 6):
        raise ConversionError(
            f"output {output!r}: expected float32 (B, N, 5+nc) decoded boxes, got "
            f"{TensorProto.DataType.Name(tt.elem_type)} {dims}"
        )
    b = _Builder(g, opset)
    box = b.slice(output, 0, 4, 2)
    conf = b.slice(output, 4, 5, 2)
    cls = b.slice(output, 5, _INT64_MAX, 2)
    score = b.op("Mul", [cls, conf], "score")
    to_xyxy = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [-0.5, 0, 0.5, 0], [0, -0.5, 0, 0.5]], np.float32)
    xyxy = b.op("MatMul", [box, b.const(to_xyxy, "cxcywh_to_xyxy")], "xyxy")
    score_t = b.op("Transpose", [score], "scores_bcn", perm=[0, 2, 1])
    sel = b.op(
        "NonMaxSuppression",
        [
            xyxy,
            score_t,
            b.const([max_per_class], "max_per_class", np.int64),
            b.const([iou_threshold], "iou_threshold", np.float32),
            b.const([score_threshold], "score_threshold", np.float32),
        ],
        "selected",
    )
    sel_score = b.op("GatherND", [score_t, sel], "sel_score")
    batch_idx = b.op("Gather", [sel, b.const(0, "i0", np.int64)], "batch_idx", axis=1)
    class_idx = b.op("Gather", [sel, b.const(1, "i1", np.int64)], "class_idx", axis=1)
    box_idx = b.op("Gather", [sel, b.const([0, 2], "i02", np.int64)], "box_idx", axis=1)
    sel_box = b.op("GatherND", [xyxy, box_idx], "sel_box")
    # one row per selection for every image; rows of other images are zeroed with class -1
    n_batch = b.op("Gather", [b.op("Shape", [output]), b.const(0, "i0", np.int64)], "batch")
    images = b.op("Range", [b.const(0, "zero", np.int64), n_batch, b.const(1, "one", np.int64)], "images")
    mask = b.op("Equal", [b.unsqueeze(batch_idx, [0]), b.unsqueeze(images, [1])], "mask")
    zero_f = b.const(0.0, "zero_f", np.float32)
    boxes_b = b.op("Where", [b.unsqueeze(mask, [2]), b.unsqueeze(sel_box, [0]), zero_f], "boxes_b")
    scores_b = b.op("Where", [mask, b.unsqueeze(sel_score, [0]), zero_f], "scores_b")
    labels_b = b.op("Where", [mask, b.unsqueeze(class_idx, [0]), b.const(-1, "minus1", np.int64)], "labels_b")
    # the trailing all-zero row of class -1
    pad3 = b.const([0, 0, 0, 0, 1, 0], "pads3", np.int64)
    pad2 = b.const([0, 0, 0, 1], "pads2", np.int64)
    boxes_p = b.op("Pad", [boxes_b, pad3, zero_f], "boxes_p")
    scores_p = b.op("Pad", [scores_b, pad2, zero_f], "scores_p")
    labels_p = b.op("Pad", [labels_b, pad2, b.const(-1, "minus1", np.int64)], "labels_p")
    rows = b.slice(b.op("Shape", [scores_p]), 1, 2, 0)
    det_scores, order = b.op(
        "TopK", [scores_p, rows], outputs=["det_scores", b.name("order")], axis=1, largest=1, sorted=1
    )
    b.op("GatherElements", [labels_p, order], outputs=["det_classes"], axis=1)
    order4 = b.op("Tile", [b.unsqueeze(order, [2]), b.const([1, 1, 4], "tile4", np.int64)], "order4")
    b.op("GatherElements", [boxes_p, order4], outputs=["det_boxes"], axis=1)
    positive = b.op("Cast", [b.op("Greater", [det_scores, zero_f])], "positive", to=TensorProto.INT64)
    if opset >= 13:
        b.op("ReduceSum", [positive, b.const([1], "axis1", np.int64)], outputs=["num_dets"], keepdims=1)
    else:
        b.op("ReduceSum", [positive], outputs=["num_dets"], axes=[1], keepdims=1)

    batch_dim = dims[0] if dims[0] is not None else "batch"
    del g.output[:]
    g.output.extend(
        [
            helper.make_tensor_value_info("num_dets", TensorProto.INT64, [batch_dim, 1]),
            helper.make_tensor_value_info("det_boxes", TensorProto.FLOAT, [batch_dim, "num_rows", 4]),
            helper.make_tensor_value_info("det_scores", TensorProto.FLOAT, [batch_dim, "num_rows"]),
            helper.make_tensor_value_info("det_classes", TensorProto.INT64, [batch_dim, "num_rows"]),
        ]
    )
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as e:
        raise ConversionError(f"the end-to-end graph fails onnx.checker: {e}") from e
    if out_path is not None:
        onnx.save(proto, str(out_path))
    return proto


def reference_end2end(
    decoded: np.ndarray,
    *,
    score_threshold: float = 0.25,
    iou_threshold: float = 0.45,
    max_per_class: int = 100,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """What the end-to-end graph should return, computed with lite's decoder and NMS.

    Per image: every (anchor, class) pair above the threshold is a candidate (multi-label, as
    ONNX NMS works per class), class-aware NMS, then at most ``max_per_class`` per class.

    Returns:
        Per image ``(boxes xyxy (n, 4), scores (n,), class ids (n,))`` sorted by score.
    """
    from lite.ops.decoders.yolov6 import DecodeSpec, Layout, candidates
    from lite.ops.nms import nms

    decoded = np.asarray(decoded, np.float32)
    spec = DecodeSpec(Layout.DECODED, ("outputs",), decoded.shape[2] - 5, has_obj=True, resolved=True)
    n = decoded.shape[1] * (decoded.shape[2] - 5)
    cands = candidates({"outputs": decoded}, spec, (1, 1), conf=score_threshold, multi_label=True, pre_nms_topk=n)
    out = []
    for c in cands:
        if len(c) == 0:
            out.append((np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)))
            continue
        boxes, scores, cls = nms(
            c.boxes, c.scores, c.class_ids, iou_threshold=iou_threshold, mode="class_aware", max_det=len(c)
        )
        keep = np.ones(len(scores), bool)
        for k in np.unique(cls):
            idx = np.flatnonzero(cls == k)
            keep[idx[max_per_class:]] = False
        out.append((boxes[keep], scores[keep], cls[keep]))
    return out


def _read_end2end(outputs: dict[str, np.ndarray]) -> list[Boxes]:
    num = outputs["num_dets"].reshape(-1)
    res = []
    for i in range(len(num)):
        n = int(num[i])
        cls = outputs["det_classes"][i, :n].astype(np.int64)
        keep = cls >= 0
        res.append(Boxes(outputs["det_boxes"][i, :n][keep], outputs["det_scores"][i, :n][keep], cls[keep]))
    return res


def _match(ref: Boxes, got: Boxes, rtol: float, atol: float) -> tuple[bool, float, float, float, float, int, str]:
    """Pair the detections one to one ([`lite.tools.parity.match_detections`][lite.tools.parity.match_detections], any
    overlap
    within a class) and check each pair's box and score element-wise;
    ``(ok, max box diff, max score diff, sse, ref_sq, bad, why)``."""
    if len(ref.scores) != len(got.scores):
        why = f"{len(ref.scores)} reference detections, {len(got.scores)} in the model"
        return False, math.inf, 0.0, 0.0, 0.0, 0, why
    dd = match_detections(ref, got, iou=0.0, score_tol=math.inf, conf=-math.inf)
    if dd.matched < dd.n_ref:
        paired = {i for i, _ in dd.pairs}
        cls = next(int(ref.class_ids[i]) for i in range(dd.n_ref) if i not in paired)
        return False, math.inf, 0.0, 0.0, 0.0, 0, f"class {cls}: fewer detections in the model"
    i, j = (np.array(ix, np.int64) for ix in zip(*dd.pairs, strict=True)) if dd.pairs else (np.zeros(0, np.int64),) * 2
    ref_vals = np.concatenate([ref.xyxy[i].astype(np.float64), ref.scores[i, None].astype(np.float64)], axis=1)
    got_vals = np.concatenate([got.xyxy[j].astype(np.float64), got.scores[j, None].astype(np.float64)], axis=1)
    d = np.abs(got_vals - ref_vals)
    bad = int((d > atol + rtol * np.abs(ref_vals)).sum())
    bmax = float(d[:, :4].max()) if len(d) else 0.0
    smax = float(d[:, 4].max()) if len(d) else 0.0
    return bad == 0, bmax, smax, float(np.square(d).sum()), float(np.square(ref_vals).sum()), bad, ""


def verify_end2end(
    reference: Callable[..., Any] | None,
    onnx_path: str | Path,
    samples: Any,
    *,
    score_threshold: float = 0.25,
    iou_threshold: float = 0.45,
    max_per_class: int = 100,
    reference_outputs: Sequence[np.ndarray] | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-3,
    runs: int = 5,
    raise_on_failure: bool = True,
) -> Comparison:
    """Check an end-to-end ONNX model against decoded outputs + lite's NMS (`reference_end2end`).

    Args:
        reference: A module returning the decoded ``(B, N, 5+nc)`` tensor (the model before NMS),
            the path of the decoded ONNX model the end-to-end one was made from (run in ONNX
            Runtime: the NMS tail is then checked on exactly the scores it sees, free of the near-tie
            reorderings that 1e-6 score differences cause in greedy NMS), or None with
            ``reference_outputs``.
        onnx_path: The end-to-end ONNX model.
        samples: Inputs (see [`lite.export.verify.normalize_samples`][lite.export.verify.normalize_samples]).
        score_threshold: The thresholds the model was built with.
        iou_threshold: The thresholds the model was built with.
        max_per_class: The thresholds the model was built with.
        reference_outputs: Decoded arrays per sample instead of running ``reference``.
        rtol: Relative tolerance on box coordinates and scores.
        atol: Absolute tolerance (pixels, score units).
        runs: Runs per latency measurement.
        raise_on_failure: Raise `VerificationError` on a mismatch.

    Returns:
        A `Comparison` over the matched detections (``det_boxes`` and ``det_scores``); it
        passes when every image has the same detections (count, classes, boxes and scores within
        tolerance).
    """
    from lite.backends import create

    batch = normalize_samples(samples)
    ref_name = "PyTorch + lite NMS"
    if isinstance(reference, str | Path):
        ref_name = "decoded ONNX + lite NMS"
        with create(reference, "ort") as dec:
            names = [s.name for s in dec.inputs]
            reference_outputs = [
                next(iter(dec.infer({n: to_numpy(x) for n, x in zip(names, s, strict=True)}).values())) for s in batch
            ]
        reference = None
    elif reference_outputs is None:
        if reference is None:
            raise InputError("verify_end2end: pass the decoded reference model or reference_outputs")
        reference_outputs = [run_reference(reference, s)[0] for s in batch]
    ok = True
    notes: list[str] = []
    bmax = smax = sse = ref_sq = 0.0
    bad = n_boxes = n_dets = 0
    with create(onnx_path, "ort") as be:
        missing = [n for n in END2END_OUTPUTS if n not in {s.name for s in be.outputs}]
        if missing:
            raise VerificationError(f"{onnx_path} lacks the end-to-end outputs {missing}")
        feeds = [{s.name: to_numpy(x) for s, x in zip(be.inputs, sample, strict=True)} for sample in batch]
        for k, (feed, dec) in enumerate(zip(feeds, reference_outputs, strict=True)):
            want = reference_end2end(
                dec, score_threshold=score_threshold, iou_threshold=iou_threshold, max_per_class=max_per_class
            )
            got = _read_end2end(be.infer(feed))
            for img, (r, g) in enumerate(zip(want, got, strict=True)):
                good, bm, sm, e, rq, nb, why = _match(Boxes(*r), g, rtol, atol)
                n_dets += len(r[1])
                n_boxes += 5 * len(r[1])
                if not good:
                    ok = False
                    notes.append(f"sample {k} image {img}: " + (why or f"{nb} values out of tolerance"))
                bmax, smax, sse, ref_sq, bad = max(bmax, bm), max(smax, sm), sse + e, ref_sq + rq, bad + nb
        target_ms = median_ms(be.raw_runner(feeds[0]), runs) if runs > 0 else None
    ref_ms = None
    if reference is not None and runs > 0:
        ref_ms = median_ms(lambda: run_reference(reference, batch[0]), runs)
    notes.insert(
        0,
        f"end2end: {n_dets} detection(s) over {len(batch)} input(s) compared with lite NMS "
        f"(score > {score_threshold}, IoU {iou_threshold}, {max_per_class} per class); "
        f"max box diff {bmax:.2e} px, max score diff {smax:.2e}",
    )
    if n_dets == 0:
        notes.append("end2end: no detection above the score threshold: the NMS comparison is vacuous")
    name = "det_boxes+det_scores"
    diffs = [OutputDiff(name, name, (n_dets, 5), max(bmax, smax), sse, ref_sq, n_boxes, bad, ok)]
    comp = Comparison(
        ref_name, "ONNX Runtime end2end", diffs, len(batch), rtol, atol, ref_ms, target_ms, ok=ok, notes=notes
    )
    if raise_on_failure and not ok:
        raise VerificationError(
            f"the end-to-end model {onnx_path} does not match decoded outputs + lite NMS:\n" + "\n".join(notes)
        )
    return comp
