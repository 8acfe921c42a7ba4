"""Ultralytics YOLOv8 / YOLO11, YOLOv5 (decoded and raw anchor heads) and YOLOX decoders.

* ``yolov8``: one ``(B, 4+nc, N)`` output, ``cx, cy, w, h`` in input pixels then sigmoided class
  scores, anchors on the last axis, no objectness.
* ``yolov8_end2end``: one ``(B, K, 6)`` output ``x1, y1, x2, y2, score, class`` (NMS inside;
  ultralytics metadata ``end2end=True``).
* ``yolov5``: the decoded ``(B, 3·cells, 5+nc)`` output, picked among the raw per-level outputs the
  export leaves in; score = obj · cls.
* ``yolov5_anchors``: raw anchor heads ``(B, A, H, W, 5+nc)`` or NCNN's ``(A, H·W, 5+nc)`` (a batch axis
  in front): sigmoid, ``xy = (2σ − 0.5 + grid)·s``, ``wh = (2σ)²·anchor``.
* ``yolox``: raw grid ``(B, cells, 5+nc)``: ``xy = (p + grid)·s``, ``wh = exp(p)·s``, score = obj · cls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from lite.ops import grids
from lite.ops.candidates import Candidates, finish
from lite.ops.decoders import base
from lite.ops.decoders.base import Decoder, Hints, Plan, Shape, register_decoder
from lite.ops.decoders.yolov6 import NEGATIVE_SIZE_LIMIT, negative_size_fraction

__all__ = ["YOLOv8Decoder", "YOLOv8End2EndDecoder", "YOLOv5Decoder", "YOLOv5AnchorDecoder", "YOLOXDecoder"]

#: YOLOv5's standard anchors (pixels, ``(w, h)`` per anchor), P3-P5 and the P6 models' P3-P6.
YOLOV5_ANCHORS: tuple[tuple[tuple[float, float], ...], ...] = (
    ((10, 13), (16, 30), (33, 23)),
    ((30, 61), (62, 45), (59, 119)),
    ((116, 90), (156, 198), (373, 326)),
)
YOLOV5_P6_ANCHORS: tuple[tuple[tuple[float, float], ...], ...] = (
    ((19, 27), (44, 40), (38, 94)),
    ((96, 68), (86, 152), (180, 137)),
    ((140, 301), (303, 264), (238, 542)),
    ((436, 615), (739, 380), (925, 792)),
)


def _xywh_to_xyxy(cx: np.ndarray, cy: np.ndarray, w: np.ndarray, h: np.ndarray) -> np.ndarray:
    w, h = np.maximum(w, 0), np.maximum(h, 0)
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)


def _one_3d(shapes: Mapping[str, Shape], allow_rank5: bool = False) -> str | None:
    three = [n for n, s in shapes.items() if len(s) == 3]
    others = [n for n, s in shapes.items() if len(s) != 3]
    if len(three) != 1 or (others and not (allow_rank5 and all(len(shapes[n]) == 5 for n in others))):
        return None
    return three[0]


# ----------------------------------------------------------------------------------------------- YOLOv8
@register_decoder("yolov8")
class YOLOv8Decoder(Decoder):
    """Ultralytics ``(B, 4+nc, N)``: boxes in pixels, sigmoided scores, no objectness, anchors last."""

    signature = "(B, 4+nc, N) cx,cy,w,h,classes, anchors on the last axis, no obj"

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        return self.match_flat(shapes, hints, extra=4, channels_first=True, confidence=0.8)

    def refine(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> Plan:
        out = np.asarray(outputs[plan.names[0]])
        logits = base.scores_are_logits(out[:, 4:], f"decoder {self.name!r}, rows 4+", may_be_logits=False)
        return replace(plan.with_options(logits=logits), resolved=True)

    def check(self, plan: Plan, outputs: Mapping[str, np.ndarray], input_hw: tuple[int, int]) -> str | None:
        out = np.asarray(outputs[plan.names[0]])
        frac = negative_size_fraction(np.swapaxes(out[:, :4], 1, 2))
        if frac > NEGATIVE_SIZE_LIMIT:
            return f"{frac:.0%} of the boxes have a negative width or height: rows 0-3 are not cx, cy, w, h"
        return None

    def candidates(self, plan, outputs, input_hw, *, conf, multi_label, pre_nms_topk):
        out = np.asarray(outputs[plan.names[0]], dtype=np.float32)
        logits = bool(plan.options.get("logits", False))
        results = []
        for b in range(out.shape[0]):
            a, c, s = base.select(out[b, 4:], conf, multi_label, logits=logits, classes_first=True)
            if len(a) == 0:
                results.append(Candidates.empty())
                continue
            order = base.topk(s, pre_nms_topk)
            a, c, s = a[order], c[order], s[order]
            cx, cy, w, h = out[b, :4][:, a]
            results.append(Candidates(_xywh_to_xyxy(cx, cy, w, h), s, c))
        return results


@register_decoder("yolov8_end2end")
class YOLOv8End2EndDecoder(Decoder):
    """Ultralytics end-to-end ``(B, K, 6)``: ``x1, y1, x2, y2, score, class`` after NMS inside the model."""

    signature = "(B, K, 6) x1,y1,x2,y2,score,class (NMS inside)"
    end2end = True

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        name = _one_3d(shapes)
        if name is None or len(shapes) != 1 or base.int_dim(shapes[name][2]) != 6 or hints.end2end is False:
            return None
        k = base.int_dim(shapes[name][1])
        if k is not None and hints.input_hw is not None and base.flat_strides(k, hints)[0]:
            return None  # as many rows as grid cells: a raw output, not K detections
        return self.plan((name,), hints.num_classes, confidence=0.95 if hints.end2end else 0.35)

    def candidates(self, plan, outputs, input_hw, *, conf, multi_label, pre_nms_topk):
        out = np.asarray(outputs[plan.names[0]], dtype=np.float32)
        results = []
        for b in range(out.shape[0]):
            rows = out[b]
            keep = rows[:, 4] >= max(conf, 1e-9)
            rows = rows[keep]
            order = base.topk(rows[:, 4], pre_nms_topk)
            rows = rows[order]
            boxes = rows[:, :4].copy()
            boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
            results.append(Candidates(boxes, rows[:, 4].copy(), rows[:, 5].astype(np.int64)))
        return results


# ----------------------------------------------------------------------------------------------- YOLOv5
@register_decoder("yolov5")
class YOLOv5Decoder(Decoder):
    """YOLOv5's decoded ``(B, 3·cells, 5+nc)`` output (the raw per-level outputs beside it are ignored)."""

    signature = "(B, 3*cells, 5+nc) cx,cy,w,h,obj,classes in input pixels"

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        name = _one_3d(shapes, allow_rank5=True)
        if name is None:
            return None
        rows, c = base.int_dim(shapes[name][1]), base.int_dim(shapes[name][2])
        if c is None or c < 6:
            return None
        nc = c - 5
        if not base.plausible_classes(nc, rows, hints):
            return None
        extras = len(shapes) > 1
        strides, mismatch, fits = base.flat_strides(rows, hints, per_cell=3)
        one_per_cell = mismatch and hints.input_hw is not None and not extras
        if one_per_cell and grids.infer_strides(rows, hints.input_hw, hints.stride_sets()):  # type: ignore[arg-type]
            return None  # one row per cell: not YOLOv5's three anchors per cell
        if rows is None:
            conf = 0.95 if extras else 0.4
        else:
            conf = base.class_confidence(nc, hints, 0.85) + (0.1 if extras else 0.0)
        if mismatch:
            conf = 0.3
        return self.plan(
            (name,), nc, strides=strides, confidence=min(conf, 1.0), options={},
            size_mismatch=mismatch, fits=fits,
        )  # fmt: skip

    def check(self, plan: Plan, outputs: Mapping[str, np.ndarray], input_hw: tuple[int, int]) -> str | None:
        frac = negative_size_fraction(outputs[plan.names[0]])
        if frac > NEGATIVE_SIZE_LIMIT:
            return f"{frac:.0%} of the decoded rows have a negative width or height: columns 2-3 are not box sizes"
        return None

    def candidates(self, plan, outputs, input_hw, *, conf, multi_label, pre_nms_topk):
        out = np.asarray(outputs[plan.names[0]], dtype=np.float32)
        results = []
        for b in range(out.shape[0]):
            rows = out[b]
            cand = np.flatnonzero(rows[:, 4] > conf)  # score = obj * cls <= obj: most rows end here
            a, c, s = base.select(rows[cand, 5:] * rows[cand, 4:5], conf, multi_label)
            if len(a) == 0:
                results.append(Candidates.empty())
                continue
            order = base.topk(s, pre_nms_topk)
            a, c, s = cand[a[order]], c[order], s[order]
            cx, cy, w, h = rows[a, :4].T
            results.append(Candidates(_xywh_to_xyxy(cx, cy, w, h), s.astype(np.float32), c))
        return results


def _level_stride(cells: int, input_hw: tuple[int, int], choices=(8, 16, 32, 64, 128)) -> int | None:
    for s in choices:
        if grids.count_cells(input_hw, (s,)) == cells:
            return s
    return None


@register_decoder("yolov5_anchors")
class YOLOv5AnchorDecoder(Decoder):
    """YOLOv5 raw anchor heads: ``(B, A, H, W, 5+nc)`` per level, or NCNN's ``(B, A, H·W, 5+nc)``."""

    signature = "per level (B, 3, H, W, 5+nc) or (B, 3, H*W, 5+nc) raw logits"

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        ranks = {len(s) for s in shapes.values()}
        if ranks not in ({5}, {4}) or not 1 <= len(shapes) <= 5:
            return None
        rank = ranks.pop()
        shp = {n: tuple(s) for n, s in shapes.items()}
        a = {base.int_dim(s[1]) for s in shp.values()}
        c = {base.int_dim(s[-1]) for s in shp.values()}
        if len(a) != 1 or len(c) != 1 or None in a or None in c:
            return None
        na, cc = a.pop(), c.pop()
        if not 1 <= na <= 9 or cc < 6:  # type: ignore[operator]
            return None
        nc = cc - 5  # type: ignore[operator]
        if not base.plausible_classes(nc, None, hints):
            return None

        def cells(s: Shape) -> int:
            if rank == 5:
                return (base.int_dim(s[2]) or 0) * (base.int_dim(s[3]) or 0)
            return base.int_dim(s[2]) or 0

        order = sorted(shp, key=lambda n: -cells(shp[n]))
        anchors = hints.anchors or (YOLOV5_ANCHORS if len(order) <= 3 else YOLOV5_P6_ANCHORS)[: len(order)]
        if len(anchors) != len(order) or any(len(lv) != na for lv in anchors):
            return None
        default = tuple(hints.strides or hints.default_strides or (8, 16, 32, 64, 128))[: len(order)]
        strides: tuple[int, ...] = ()
        mismatch, fits = False, ()
        known = all(cells(shp[n]) > 0 for n in order)
        if hints.input_hw is not None and known:
            found = [_level_stride(cells(shp[n]), hints.input_hw, (hints.strides[i],) if hints.strides else
                                   (8, 16, 32, 64, 128)) for i, n in enumerate(order)]  # fmt: skip
            if None in found:
                mismatch = True
                total = sum(cells(shp[n]) for n in order)
                fits = tuple(grids.sizes_fitting(total, default))
            else:
                strides = tuple(found)  # type: ignore[arg-type]
        conf = 0.3 if mismatch else base.class_confidence(nc, hints, 0.85)
        return self.plan(
            tuple(order), nc, strides=strides or default, confidence=conf,
            options={
                "anchors": tuple(tuple(tuple(map(float, p)) for p in lv) for lv in anchors),
                "rank": rank,
                "anchors_assumed": hints.anchors is None or hints.anchors_assumed,
            },
            size_mismatch=mismatch, fits=fits,
        )  # fmt: skip

    def refine(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> Plan:
        first = np.asarray(outputs[plan.names[0]])
        logits = base.scores_are_logits(first[..., 4:], f"decoder {self.name!r}, columns 4+", may_be_logits=True)
        return replace(plan.with_options(logits=logits), resolved=True)

    #: Share of kept boxes, collapsed (a side under 2 px) or duplicated, that says the anchors are wrong.
    IMPLAUSIBLE_SHARE = 0.5

    def check(self, plan: Plan, outputs: Mapping[str, np.ndarray], input_hw: tuple[int, int]) -> str | None:
        """With assumed (default) anchors: refuse a first inference whose kept boxes are mostly collapsed or
        duplicated (boxes decoded with another model's anchors shrink to nothing and repeat)."""
        if not plan.options.get("anchors_assumed"):
            return None
        cands = self.candidates(plan, outputs, input_hw, conf=0.25, multi_label=False, pre_nms_topk=1000)
        kept = finish(cands[:1], iou=0.45, max_det=300, nms_mode="class_aware", end2end=False)[0]
        if len(kept) < 3:
            return None
        b = kept.boxes
        collapsed = ((b[:, 2] - b[:, 0]) < 2) | ((b[:, 3] - b[:, 1]) < 2)
        rounded = np.round(b).astype(np.int64)
        _, inverse, counts = np.unique(rounded, axis=0, return_inverse=True, return_counts=True)
        duplicated = counts[inverse.ravel()] > 1  # the same box (to the pixel) kept more than once
        bad = float((collapsed | duplicated).mean())
        if bad <= self.IMPLAUSIBLE_SHARE:
            return None
        anchors = [[v for wh in lv for v in wh] for lv in plan.options["anchors"]]
        return (
            f"{bad:.0%} of the {len(b)} boxes kept are collapsed (a side under 2 pixels) or duplicated, which "
            f"the assumed default anchors {anchors} give when the model was trained with others (YOLOv5-Lite v1.0 "
            f"files, for example): pass anchors=[[w, h, w, h, w, h], ...] per level, as the model's training config "
            f"says, or a model whose metadata carries 'anchors'"
        )

    def describe_options(self, plan: Plan) -> str:
        return "anchors " + " ".join(",".join(f"{w:g}x{h:g}" for w, h in lv) for lv in plan.options["anchors"])

    def candidates(self, plan, outputs, input_hw, *, conf, multi_label, pre_nms_topk):
        logits = bool(plan.options.get("logits", True))
        act = base.sigmoid if logits else (lambda x: x)
        levels = []
        for i, name in enumerate(plan.names):
            arr = np.asarray(outputs[name], dtype=np.float32)
            if arr.ndim == 5:
                h, w = arr.shape[2], arr.shape[3]
                arr = arr.reshape(arr.shape[0], arr.shape[1], h * w, arr.shape[4])
                s = int(round(input_hw[0] / h))
            else:
                s = _level_stride(arr.shape[2], input_hw, (plan.strides[i],) if i < len(plan.strides) else
                                  (8, 16, 32, 64, 128)) or _level_stride(arr.shape[2], input_hw)  # fmt: skip
                if s is None:
                    base.runtime_strides(plan, -1, input_hw)  # raises the size error
                h, w = grids.level_sizes(input_hw, (s,))[0]  # type: ignore[arg-type]
            levels.append((arr, h, w, s, np.asarray(plan.options["anchors"][i], np.float32)))
        obj_thr = math.log(conf / (1 - conf)) if logits and 0 < conf < 1 else conf
        results = []
        for b in range(levels[0][0].shape[0]):
            boxes_l, scores_l, cls_l = [], [], []
            for arr, h, w, s, anchors in levels:
                p = arr[b].reshape(-1, arr.shape[3])  # (A*HW, 5+nc), anchor-major
                rows = np.flatnonzero(p[:, 4] > obj_thr)  # score = obj * cls <= obj
                if len(rows) == 0:
                    continue
                sub = p[rows]
                scores = act(sub[:, 5:]) * act(sub[:, 4:5])
                a, c, sc = base.select(scores, conf, multi_label)
                if len(a) == 0:
                    continue
                r = rows[a]
                cell, anc = r % (h * w), r // (h * w)
                gx, gy = grids.cell_grid(h, w)
                t = act(p[r, :4])
                cx = (t[:, 0] * 2 - 0.5 + gx[cell]) * s
                cy = (t[:, 1] * 2 - 0.5 + gy[cell]) * s
                bw = (t[:, 2] * 2) ** 2 * anchors[anc, 0]
                bh = (t[:, 3] * 2) ** 2 * anchors[anc, 1]
                boxes_l.append(_xywh_to_xyxy(cx, cy, bw, bh))
                scores_l.append(sc)
                cls_l.append(c)
            results.append(Candidates.top_of_levels(boxes_l, scores_l, cls_l, pre_nms_topk))
        return results


# ----------------------------------------------------------------------------------------------- YOLOX
@register_decoder("yolox")
class YOLOXDecoder(Decoder):
    """YOLOX raw grid ``(B, cells, 5+nc)``: offsets in cells, log-sizes, obj, classes."""

    signature = "(B, cells, 5+nc) grid offsets, log-sizes, obj, classes"
    #: Largest plausible log-size: exp(12)·8 is already 1.3 M pixels.
    MAX_LOG_SIZE = 12.0

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        return self.match_flat(shapes, hints, extra=5, channels_first=False, confidence=0.75, unknown_rows=0.45)

    def refine(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> Plan:
        out = np.asarray(outputs[plan.names[0]])
        logits = base.scores_are_logits(out[..., 4:], f"decoder {self.name!r}, columns 4+", may_be_logits=True)
        return replace(plan.with_options(logits=logits), resolved=True)

    def check(self, plan: Plan, outputs: Mapping[str, np.ndarray], input_hw: tuple[int, int]) -> str | None:
        out = np.asarray(outputs[plan.names[0]])
        big = float(np.abs(out[..., 2:4]).max()) if out.size else 0.0
        if big > self.MAX_LOG_SIZE:
            return (
                f"columns 2-3 reach {big:.0f}, far too large for log-sizes (exp of it is no box): these look like "
                "decoded box sizes in pixels, not YOLOX's raw grid output"
            )
        small = float((np.abs(out[..., :2]) < 4).mean()) if out.size else 1.0
        if small < 0.5:
            return (
                f"only {small:.0%} of columns 0-1 are offsets of a few cells: they look like box centres in "
                "pixels (a decoded output), not YOLOX's raw grid output"
            )
        return None

    def candidates(self, plan, outputs, input_hw, *, conf, multi_label, pre_nms_topk):
        out = np.asarray(outputs[plan.names[0]], dtype=np.float32)
        logits = bool(plan.options.get("logits", False))
        strides = base.runtime_strides(plan, out.shape[1], input_hw, sets=None if plan.strides else grids.STRIDE_SETS)
        gx, gy, gs = grids.priors(tuple(input_hw), strides, 0.0)
        results = []
        for b in range(out.shape[0]):
            rows = out[b]
            obj = base.sigmoid(rows[:, 4]) if logits else rows[:, 4]
            cand = np.flatnonzero(obj > conf) if conf > 0 else np.arange(len(obj))
            cls = rows[cand, 5:]
            cls = (base.sigmoid(cls) if logits else cls) * obj[cand, None]
            a, c, s = base.select(cls, conf, multi_label)
            if len(a) == 0:
                results.append(Candidates.empty())
                continue
            order = base.topk(s, pre_nms_topk)
            a, c, s = cand[a[order]], c[order], s[order]
            st = gs[a]
            p = rows[a, :4]
            cx, cy = (p[:, 0] + gx[a]) * st, (p[:, 1] + gy[a]) * st
            w, h = np.exp(np.minimum(p[:, 2], 30)) * st, np.exp(np.minimum(p[:, 3], 30)) * st
            results.append(Candidates(_xywh_to_xyxy(cx, cy, w, h), s.astype(np.float32), c))
        return results
