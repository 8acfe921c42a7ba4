"""NanoDet decoders (GFL heads with distribution focal loss).

* ``nanodet_plus``: one ``(B, N, nc + 4·(reg_max+1))`` output (NanoDet-Plus): class scores then four
  distributions per prior; priors at ``(x·s, y·s)`` (no half-cell offset), levels 8, 16, 32, 64.
* ``nanodet``: per-level ``cls_pred_stride_{s}`` ``(B, H·W, nc)`` and ``dis_pred_stride_{s}``
  ``(B, H·W, 4·(reg_max+1))`` (NanoDet-m); priors at ``((x+0.5)·s, (y+0.5)·s)``.

Distance = Σ softmax(logits) · [0 … reg_max] · stride; box = centre ∓ distances.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from lite.ops import grids
from lite.ops.candidates import Candidates
from lite.ops.decoders import base
from lite.ops.decoders.base import Decoder, Hints, Plan, Shape, register_decoder

__all__ = ["NanoDetPlusDecoder", "NanoDetDecoder", "dfl_distances"]

DEFAULT_REG_MAX = 7
_CLS = re.compile(r"^cls_pred_stride_(\d+)$")
_DIS = re.compile(r"^dis_pred_stride_(\d+)$")


def dfl_distances(logits: np.ndarray, reg_max: int) -> np.ndarray:
    """``(n, 4·(reg_max+1))`` distribution logits -> ``(n, 4)`` expected distances in stride units."""
    d = logits.reshape(len(logits), 4, reg_max + 1).astype(np.float32)
    d = np.exp(d - d.max(axis=2, keepdims=True))
    d /= d.sum(axis=2, keepdims=True)
    return d @ np.arange(reg_max + 1, dtype=np.float32)


def _boxes(cx: np.ndarray, cy: np.ndarray, dist: np.ndarray, stride: np.ndarray) -> np.ndarray:
    d = dist * stride[:, None]
    return np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], axis=1).astype(np.float32)


@register_decoder("nanodet_plus")
class NanoDetPlusDecoder(Decoder):
    """NanoDet-Plus concatenated ``(B, N, nc + 4·(reg_max+1))``."""

    signature = "(B, N, nc + 4*(reg_max+1)) class scores then DFL logits"
    default_input_size = (416, 416)

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        one = base.single_3d(shapes)
        if one is None:
            return None
        name, rows, c = one
        if c is None or (rows is not None and c >= rows):
            return None
        if hints.reg_max is not None:
            reg_max = hints.reg_max
        elif hints.num_classes is not None and (c - hints.num_classes) % 4 == 0:
            reg_max = (c - hints.num_classes) // 4 - 1
        else:
            reg_max = DEFAULT_REG_MAX
        if reg_max < 1:
            return None
        h = replace(hints, default_strides=hints.default_strides or (8, 16, 32, 64))
        return self.flat_plan(
            name, c - 4 * (reg_max + 1), rows, h, 0.72, unknown_rows=0.4, options={"reg_max": reg_max, "offset": 0.0}
        )

    def refine(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> Plan:
        out = np.asarray(outputs[plan.names[0]])
        logits = base.scores_are_logits(out[..., : plan.num_classes], f"decoder {self.name!r}", may_be_logits=True)
        return replace(plan.with_options(logits=logits), resolved=True)

    def describe_options(self, plan: Plan) -> str:
        return f"reg_max {plan.options['reg_max']}"

    def candidates(self, plan, outputs, input_hw, *, conf, multi_label, pre_nms_topk):
        out = np.asarray(outputs[plan.names[0]], dtype=np.float32)
        nc, reg_max = int(plan.num_classes), int(plan.options["reg_max"])  # type: ignore[arg-type]
        sets = [plan.strides] if plan.strides else [(8, 16, 32, 64), *grids.STRIDE_SETS]
        strides = base.runtime_strides(plan, out.shape[1], input_hw, sets=sets)
        gx, gy, gs = grids.priors(tuple(input_hw), strides, float(plan.options.get("offset", 0.0)))
        logits = bool(plan.options.get("logits", False))
        results = []
        for b in range(out.shape[0]):
            a, c, s = base.select(out[b, :, :nc], conf, multi_label, logits=logits)
            if len(a) == 0:
                results.append(Candidates.empty())
                continue
            order = base.topk(s, pre_nms_topk)
            a, c, s = a[order], c[order], s[order]
            dist = dfl_distances(out[b, a, nc:], reg_max)
            st = gs[a]
            results.append(Candidates(_boxes(gx[a] * st, gy[a] * st, dist, st), s, c))
        return results


@register_decoder("nanodet")
class NanoDetDecoder(Decoder):
    """NanoDet(-m) per level: ``cls_pred_stride_{s}`` ``(B, H·W, nc)`` and ``dis_pred_stride_{s}``."""

    signature = "per stride s: cls_pred_stride_s (B, H*W, nc) and dis_pred_stride_s (B, H*W, 4*(reg_max+1))"
    default_input_size = (320, 320)
    preprocess_overrides = {"pad_to_stride": True}  # NanoDet-m's demo: 320x256 for a 4:3 image

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        cls = {int(m.group(1)): n for n in shapes if (m := _CLS.match(n))}
        dis = {int(m.group(1)): n for n in shapes if (m := _DIS.match(n))}
        if not cls or set(cls) != set(dis) or len(cls) + len(dis) != len(shapes):
            return None
        strides = tuple(sorted(cls))
        if any(len(shapes[n]) != 3 for n in shapes):
            return None
        ncs = {base.int_dim(shapes[cls[s]][2]) for s in strides}
        regs = {base.int_dim(shapes[dis[s]][2]) for s in strides}
        if len(ncs) != 1 or len(regs) != 1 or None in ncs or None in regs:
            return None
        nc, rc = ncs.pop(), regs.pop()
        if rc % 4 or rc < 8 or not base.plausible_classes(nc, None, hints):  # type: ignore[operator]
            return None
        reg_max = rc // 4 - 1  # type: ignore[operator]
        mismatch, fits = False, ()
        if hints.input_hw is not None:
            want = [h * w for h, w in grids.level_sizes(hints.input_hw, strides)]
            got = [base.int_dim(shapes[cls[s]][1]) for s in strides]
            if None not in got and got != want:
                mismatch = True
                fits = tuple(f for f in grids.sizes_fitting(sum(got), strides)  # type: ignore[arg-type]
                             if [h * w for h, w in grids.level_sizes(f, strides)] == got)  # fmt: skip
        names = tuple(n for s in strides for n in (cls[s], dis[s]))
        return self.plan(
            names, nc, strides=strides, confidence=0.3 if mismatch else 1.0,
            options={"reg_max": reg_max, "offset": 0.5}, size_mismatch=mismatch, fits=fits,
        )  # fmt: skip

    def refine(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> Plan:
        logits = base.scores_are_logits(
            np.asarray(outputs[plan.names[0]]), f"decoder {self.name!r}", may_be_logits=True
        )
        return replace(plan.with_options(logits=logits), resolved=True)

    def describe_options(self, plan: Plan) -> str:
        return f"reg_max {plan.options['reg_max']}, centres +0.5"

    def candidates(self, plan, outputs, input_hw, *, conf, multi_label, pre_nms_topk):
        reg_max, off = int(plan.options["reg_max"]), float(plan.options.get("offset", 0.5))
        logits = bool(plan.options.get("logits", False))
        levels = []
        for i, s in enumerate(plan.strides):
            cls = np.asarray(outputs[plan.names[2 * i]], dtype=np.float32)
            dis = np.asarray(outputs[plan.names[2 * i + 1]], dtype=np.float32)
            (h, w), want = grids.level_sizes(input_hw, (s,))[0], cls.shape[1]
            if h * w != want:
                base.runtime_strides(plan, -1, input_hw)  # raises the size error
            levels.append((cls, dis, h, w, s))
        results = []
        for b in range(levels[0][0].shape[0]):
            bl, sl, cl = [], [], []
            for cls, dis, h, w, s in levels:
                a, c, sc = base.select(cls[b], conf, multi_label, logits=logits)
                if len(a) == 0:
                    continue
                gx, gy = grids.cell_grid(h, w, off)
                st = np.full(len(a), s, np.float32)
                bl.append(_boxes(gx[a] * s, gy[a] * s, dfl_distances(dis[b, a], reg_max), st))
                sl.append(sc)
                cl.append(c)
            results.append(Candidates.top_of_levels(bl, sl, cl, pre_nms_topk))
        return results
