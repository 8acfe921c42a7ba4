"""Mask R-CNN style exports (torchvision's ``maskrcnn_resnet50_fpn`` and its kind): NMS inside the model, one
``(n, 1, M, M)`` mask probability map per kept box, pasted into the image (`lite.ops.masks.paste_masks`).

Outputs (names as torchvision's ONNX export gives them, found by shape when named otherwise): ``boxes (n, 4)``
``x1, y1, x2, y2`` in input pixels, ``labels (n,)`` class ids, ``scores (n,)`` and ``masks (n, 1, M, M)``
(``M = 28``). A leading batch axis of 1 is accepted on each. The row index of each candidate follows it through
thresholding (``extra``), so that only the kept rows' masks are pasted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from lite.ops.candidates import Candidates
from lite.ops.decoders import base
from lite.ops.decoders.base import Decoder, Hints, Plan, Shape, int_dim, register_decoder
from lite.ops.masks import paste_masks

__all__ = ["MaskRCNNDecoder", "MASK_RCNN_OUTPUTS"]

#: The outputs in decode order, as torchvision names them.
MASK_RCNN_OUTPUTS = ("boxes", "labels", "scores", "masks")


def _unbatched(shape: Shape) -> Shape:
    """The shape without a leading batch axis of 1 (boxes ``(1, n, 4)``, masks ``(1, n, 1, M, M)``...)."""
    batched = len(shape) in (2, 3, 5) and int_dim(shape[0]) == 1 and not (len(shape) == 2 and int_dim(shape[1]) == 4)
    return tuple(shape[1:]) if batched else tuple(shape)


def _integral(values: np.ndarray) -> bool:
    v = np.asarray(values)
    return v.dtype.kind in "iu" or bool(np.all(v == np.round(v)))


def _roles(shapes: Mapping[str, Shape]) -> dict[str, str] | None:
    """Output name per role (boxes, labels, scores, masks), by name first, else by shape; None when not this."""
    if len(shapes) != 4:
        return None
    if set(MASK_RCNN_OUTPUTS) <= set(shapes):
        return {r: r for r in MASK_RCNN_OUTPUTS}
    by_rank: dict[int, list[str]] = {}
    for n, s in shapes.items():
        by_rank.setdefault(len(_unbatched(s)), []).append(n)
    if sorted(map(len, by_rank.values())) != [1, 1, 2] or set(by_rank) != {1, 2, 4}:
        return None
    boxes, masks = by_rank[2][0], by_rank[4][0]
    if int_dim(_unbatched(shapes[boxes])[1]) != 4:
        return None
    first, second = by_rank[1]  # labels and scores: told apart by the first inference (ints vs fractions)
    return {"boxes": boxes, "labels": first, "scores": second, "masks": masks}


@register_decoder("maskrcnn")
class MaskRCNNDecoder(Decoder):
    """Mask R-CNN: ``boxes (n, 4)``, ``labels (n,)``, ``scores (n,)``, ``masks (n, 1, M, M)``; NMS inside."""

    signature = "boxes (n, 4) x1,y1,x2,y2 + labels (n,) + scores (n,) + masks (n, 1, M, M) (NMS inside)"
    task = "segment"
    end2end = True

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        roles = _roles(shapes)
        if roles is None:
            return None
        m = _unbatched(shapes[roles["masks"]])
        if int_dim(m[1]) not in (1, None) or (int_dim(m[2]) is not None and int_dim(m[2]) != int_dim(m[3])):
            return None
        named = roles == {r: r for r in MASK_RCNN_OUTPUTS}
        return self.plan(
            tuple(roles[r] for r in MASK_RCNN_OUTPUTS), hints.num_classes, confidence=0.95 if named else 0.8,
            options={"named": named},
        )  # fmt: skip

    def refine(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> Plan:
        """Unnamed outputs: of the two 1-D outputs, the labels are the integer-valued one."""
        boxes, first, second, masks = plan.names
        if not plan.options.get("named") and _integral(outputs[second]) and not _integral(outputs[first]):
            first, second = second, first
        return replace(plan, names=(boxes, first, second, masks), resolved=True)

    def candidates(self, plan, outputs, input_hw, *, conf, multi_label, pre_nms_topk):
        boxes, labels, scores = (np.asarray(outputs[n]) for n in plan.names[:3])
        boxes = boxes.reshape(-1, 4).astype(np.float32)
        scores = scores.reshape(-1).astype(np.float32)
        labels = labels.reshape(-1).astype(np.int64)
        keep = np.flatnonzero(scores >= max(conf, 1e-9))
        keep = keep[base.topk(scores[keep], pre_nms_topk)]
        rows = keep.astype(np.float32)[:, None]  # the row index: its mask is pasted if the row is kept
        return [Candidates(boxes[keep], scores[keep], labels[keep], rows)]

    def class_scores(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> np.ndarray | None:
        return None  # scores after NMS: a constant few of them say nothing about the head

    def instance_fields(self, plan, kept, outputs, index, transform):
        masks = np.asarray(outputs[plan.names[3]])
        masks = masks.reshape(-1, *masks.shape[-2:])
        rows = (kept.extra[:, 0] if kept.extra is not None else np.zeros(0)).astype(np.int64)
        return {"masks": paste_masks(masks[rows], transform.to_original(kept.boxes), transform.src_shape)}
