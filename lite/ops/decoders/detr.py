"""DETR-style set predictions (RT-DETR, D-FINE, DEIM exported without their post-processor): no anchors, no NMS.

``detr``: two outputs with one row per query, ``(B, Q, 4)`` boxes as normalised ``cx, cy, w, h`` in ``[0, 1]`` and
``(B, Q, nc)`` class logits (focal-loss style: a sigmoid per class). As RT-DETR's ``RTDETRPostProcessor`` does, the
top scores over every (query, class) pair are kept; the model's queries are already distinct, so no NMS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from lite.ops.candidates import Candidates
from lite.ops.decoders import base
from lite.ops.decoders.base import Decoder, Hints, Plan, Shape, register_decoder

__all__ = ["DETRDecoder"]

#: Boxes outside this range are not normalised ``cx, cy, w, h``.
BOX_RANGE = (-0.1, 1.1)


@register_decoder("detr")
class DETRDecoder(Decoder):
    """``(B, Q, 4)`` normalised boxes + ``(B, Q, nc)`` class logits, one row per query (no NMS)."""

    signature = "(B, Q, 4) normalised cx,cy,w,h + (B, Q, nc) class logits, one row per query"
    end2end = True

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        if len(shapes) != 2 or any(len(s) != 3 for s in shapes.values()):
            return None
        dims = {n: (base.int_dim(s[1]), base.int_dim(s[2])) for n, s in shapes.items()}
        boxes = [n for n, (_, c) in dims.items() if c == 4]
        if len(boxes) != 1:
            return None
        logits = next(n for n in dims if n != boxes[0])
        q, nc = dims[logits]
        if nc is None or q is None or q != dims[boxes[0]][0] or not base.plausible_classes(nc, None, hints):
            return None
        if hints.input_hw is not None and base.flat_strides(q, hints)[0]:
            return None  # as many rows as grid cells: an anchor-based output, not queries
        return self.plan((boxes[0], logits), nc, confidence=base.class_confidence(nc, hints, 0.85))

    def refine(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> Plan:
        scores = np.asarray(outputs[plan.names[1]])
        logits = base.scores_are_logits(scores, f"decoder {self.name!r}, output {plan.names[1]!r}", may_be_logits=True)
        return replace(plan.with_options(logits=logits), resolved=True)

    def check(self, plan: Plan, outputs: Mapping[str, np.ndarray], input_hw: tuple[int, int]) -> str | None:
        boxes = np.asarray(outputs[plan.names[0]])
        lo, hi = (float(boxes.min()), float(boxes.max())) if boxes.size else (0.0, 0.0)
        if lo < BOX_RANGE[0] or hi > BOX_RANGE[1]:
            return (
                f"output {plan.names[0]!r} holds values from {lo:.3g} to {hi:.3g}: not normalised cx, cy, w, h in "
                f"[0, 1] (boxes in pixels come from an export with its post-processor inside)"
            )
        return None

    def candidates(self, plan, outputs, input_hw, *, conf, multi_label, pre_nms_topk):
        boxes = np.asarray(outputs[plan.names[0]], dtype=np.float32)
        scores = np.asarray(outputs[plan.names[1]], dtype=np.float32)
        logits = bool(plan.options.get("logits", True))
        h, w = input_hw
        scale = np.array([w, h, w, h], np.float32)
        results = []
        for b in range(boxes.shape[0]):
            q, c, s = base.select(scores[b], conf, multi_label, logits=logits)
            order = base.topk(s, pre_nms_topk)
            q, c, s = q[order], c[order], s[order]
            cx, cy, bw, bh = (boxes[b, q] * scale).T
            xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1).astype(np.float32)
            results.append(Candidates(xyxy, s.astype(np.float32), c))
        return results
