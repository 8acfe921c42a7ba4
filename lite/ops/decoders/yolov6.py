"""YOLOv6's output layouts: the layout arithmetic and its four registered decoders.

Layouts (`Layout`):

* ``decoded``: one ``(B, N, 5+nc)`` tensor ``[cx, cy, w, h, obj, classes…]`` in input pixels
  (YOLOv6's ``export_onnx.py``; obj is a column of ones from release 0.2 on, a real objectness
  in 0.1), or ``(B, N, 4+nc)`` without obj.
* ``anchor_grid``: YOLOv6 0.1's decode-free ("for-ncnn") export, ``(B, N, 5+nc)`` raw:
  ``cx = (dx + gx)·s``, ``w = exp(dw)·s``, sigmoid on obj and classes.
* ``raw``: one ``(B, 4+nc, H/s, W/s)`` head tensor per level with l, t, r, b distances in stride
  units from the cell centre; classes first (YOLOv6, the Lite NCNN models) or box first,
  sigmoided or logits — both detected from the values, or given.
* ``end2end``: NMS inside the model: ``num_dets, det_boxes, det_scores, det_classes``
  (TensorRT EfficientNMS with int32, or ONNX Runtime NonMaxSuppression with int64 and -1 padding).

`detect_layout` reads the layout from the outputs' names and shapes (and, when given,
their values); `candidates` decodes outputs into per-image ``(boxes, scores, class_ids)`` in
input pixels after the confidence threshold and top-k by score; `postprocess` is that and NMS.
Scores are thresholded before any per-anchor max, boxes are computed only for candidates, and NMS only sees
the top-k candidates — no work grows with anchors × classes beyond one comparison.

The registered decoders: ``decoded`` (also settles YOLOv6 0.1's raw ``anchor_grid`` from the values),
``anchor_grid`` (when forced), ``raw`` (per-level heads ``(B, 4+nc, H/s, W/s)``) and ``end2end``; each keeps
its `DecodeSpec` in its plan's options. The shared candidate machinery (`Candidates`, top-k, `finish`) lives in
[`lite.ops.candidates`][lite.ops.candidates].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from lite.core.errors import InputError
from lite.data.coco import COCO_NAMES
from lite.ops import grids
from lite.ops.candidates import Candidates, finish, refuse_saturated, select, sigmoid, topk
from lite.ops.decoders import base
from lite.ops.decoders.base import Decoder, Hints, Plan, Shape, register_decoder
from lite.ops.options import DetectOptions, check_fraction, check_positive_int

__all__ = [
    "Layout",
    "DecodeSpec",
    "detect_layout",
    "refine_layout",
    "candidates",
    "postprocess",
    "infer_strides",
    "spec_strides",
    "YOLOv6Decoded",
    "YOLOv6AnchorGrid",
    "YOLOv6Raw",
    "YOLOv6End2End",
    "negative_size_fraction",
]

END2END_NAMES = ("num_dets", "det_boxes", "det_scores", "det_classes")
_STRIDE_SETS = grids.STRIDE_SETS


class Layout(str, Enum):
    """The output layouts `candidates` understands (``"heads"``, the old name of ``raw``, is accepted)."""

    DECODED = "decoded"
    ANCHOR_GRID = "anchor_grid"
    RAW = "raw"
    END2END = "end2end"

    @classmethod
    def parse(cls, value: Layout | str) -> Layout:
        """A layout from its name or an alias (``heads`` → raw, ``e2e`` → end2end, ``grid`` → anchor_grid).

        Raises:
            InputError: Not a layout name; the message lists them.
        """
        if isinstance(value, Layout):
            return value
        key = str(value).strip().lower().replace("-", "_")
        key = {"heads": "raw", "e2e": "end2end", "end_to_end": "end2end", "grid": "anchor_grid"}.get(key, key)
        try:
            return cls(key)
        except ValueError:
            raise InputError(f"unknown layout {value!r}; expected one of {[m.value for m in cls]}") from None


@dataclass(frozen=True)
class DecodeSpec:
    """How to read a model's outputs.

    Attributes:
        layout: The output layout.
        names: Output names used, in decode order (levels by increasing stride for ``raw``;
            ``num_dets, det_boxes, det_scores, det_classes`` for ``end2end``).
        num_classes: Number of classes (None: not known yet, e.g. end-to-end models).
        has_obj: ``decoded``/``anchor_grid``: column 4 is an objectness score.
        box_first: ``raw``: channels are ``[l, t, r, b, classes…]`` (else ``[classes…, l, t, r, b]``).
        sigmoid: ``raw``/``anchor_grid``: class scores (and obj) are logits needing a sigmoid.
        strides: Strides per level (``raw``, ``anchor_grid``); empty = infer from the input size.
        resolved: Whether value-based properties (channel order, sigmoid, obj) were settled.
    """

    layout: Layout
    names: tuple[str, ...]
    num_classes: int | None = None
    has_obj: bool = True
    box_first: bool = False
    sigmoid: bool = False
    strides: tuple[int, ...] = ()
    resolved: bool = False

    def describe(self) -> str:
        """One-line human description, e.g. for ``lite info``."""
        parts = [self.layout.value]
        if self.layout is Layout.RAW:
            parts.append("box first" if self.box_first else "classes first")
            parts.append("class logits" if self.sigmoid else "sigmoided classes")
        elif self.layout in (Layout.DECODED, Layout.ANCHOR_GRID):
            parts.append("with obj" if self.has_obj else "no obj")
        if self.strides:
            parts.append("strides " + ",".join(map(str, self.strides)))
        if self.num_classes is not None:
            parts.append(f"{self.num_classes} classes")
        return ", ".join(parts)


# ----------------------------------------------------------------------------------------------
# layout detection
# ----------------------------------------------------------------------------------------------
def detect_layout(
    outputs: Mapping[str, Shape],
    *,
    num_classes: int | None = None,
    layout: Layout | str | None = None,
    strides: Sequence[int] | None = None,
    input_hw: tuple[int, int] | None = None,
) -> DecodeSpec:
    """Work out the layout from output names and shapes.

    Args:
        outputs: Output name → shape (ints, symbolic names or None), in the model's order.
        num_classes: Known class count (e.g. from metadata); disambiguates ``4+nc`` / ``5+nc``.
        layout: Force a layout instead of detecting it.
        strides: Strides per level when known (else inferred from the input size at decode time).
        input_hw: Network input size, to check strides against (optional).

    Raises:
        InputError: The outputs match no known layout (the message lists them).
    """
    names = list(outputs)
    shapes = {n: tuple(outputs[n]) for n in names}
    forced = Layout.parse(layout) if layout is not None else None
    desc = ", ".join(f"{n}{list(s)}" for n, s in shapes.items())
    st = tuple(int(s) for s in strides) if strides else ()

    if forced is Layout.END2END or (forced is None and _looks_end2end(names, shapes)):
        return DecodeSpec(Layout.END2END, _end2end_order(names, shapes), num_classes, resolved=True)

    four_d = [n for n in names if len(shapes[n]) == 4]
    if forced is Layout.RAW or (forced is None and len(four_d) == len(names) and len(names) >= 1):
        if not four_d:
            raise InputError(f"layout 'raw' needs 4-D outputs (B, 4+nc, H/s, W/s); got {desc}")
        chans = {shapes[n][1] for n in four_d}
        if len(chans) != 1 or not isinstance(next(iter(chans)), int) or next(iter(chans)) < 5:
            raise InputError(f"per-level heads must share one channel count 4+nc ≥ 5; got {desc}")
        if len(four_d) not in RAW_LEVELS:
            raise InputError(
                f"YOLOv6 per-level heads come in {' or '.join(map(str, RAW_LEVELS))} levels (strides 8-32 or 8-64); "
                f"got {len(four_d)} 4-D output{'s' if len(four_d) > 1 else ''} {desc}: a single-level head "
                f"(e.g. FastestDet's (1, 85, 22, 22)) is no YOLOv6 layout"
            )
        c = next(iter(chans))
        nc = c - 4
        if num_classes is not None and num_classes != nc:
            raise InputError(
                f"per-level heads have {c} channels = 4 + {nc} classes, but {num_classes} names were given"
            )
        order = sorted(four_d, key=lambda n: -_area(shapes[n]))  # largest map first = smallest stride
        return DecodeSpec(Layout.RAW, tuple(order), nc, strides=st)

    three_d = [n for n in names if len(shapes[n]) == 3]
    if forced in (Layout.DECODED, Layout.ANCHOR_GRID) or (forced is None and len(three_d) == 1 and len(names) == 1):
        if not three_d:
            raise InputError(f"layout {forced.value if forced else 'decoded'!r} needs one (B, N, C) output; got {desc}")
        name = three_d[0]
        c = shapes[name][2]
        if not isinstance(c, int) or c < 5:
            raise InputError(f"output {name!r}: expected (B, N, 4+nc) or (B, N, 5+nc) with a fixed C ≥ 5; got {desc}")
        if num_classes is not None:
            if c == 5 + num_classes:
                has_obj = True
            elif c == 4 + num_classes and c != 5 + len(COCO_NAMES):
                has_obj = False
            elif c == 4 + num_classes:  # 85 columns: COCO's 80 classes after objectness, never 81 without it
                raise InputError(
                    f"output {name!r} has {c} columns = cx, cy, w, h, objectness + {c - 5} classes; the "
                    f"{num_classes} names fit only by reading the objectness column as a class: "
                    f"pass names= with {c - 5} names, one per class of the model"
                )
            else:
                raise InputError(
                    f"output {name!r} has {c} columns; with {num_classes} classes expected "
                    f"{5 + num_classes} (with obj) or {4 + num_classes} (without); "
                    f"pass names= with one name per class of the model"
                )
        else:
            has_obj = c != 84  # 85 = COCO with obj; 84 = COCO without; others assume YOLOv6's obj column
        nc = c - 5 if has_obj else c - 4
        return DecodeSpec(forced or Layout.DECODED, (name,), nc, has_obj=has_obj, strides=st)

    raise InputError(
        f"cannot tell the output layout from the outputs {desc}: expected one (B, N, 5+nc) tensor, "
        f"per-level (B, 4+nc, H/s, W/s) heads, or end-to-end outputs {END2END_NAMES}; "
        f"pass layout= one of {[m.value for m in Layout]}"
    )


#: Level counts of YOLOv6's per-level heads (strides 8, 16, 32 and the P6 models' 64).
RAW_LEVELS = (3, 4)


def _area(shape: tuple) -> int:
    h, w = shape[2], shape[3]
    return (h if isinstance(h, int) else 0) * (w if isinstance(w, int) else 0)


def _looks_end2end(names: list[str], shapes: dict[str, tuple]) -> bool:
    if set(END2END_NAMES) <= set(names):
        return True
    if len(names) != 4:
        return False
    ranks = sorted(len(s) for s in shapes.values())
    return ranks == [2, 2, 2, 3] and any(s[-1] == 4 for s in shapes.values() if len(s) == 3)


def _end2end_order(names: list[str], shapes: dict[str, tuple]) -> tuple[str, ...]:
    if set(END2END_NAMES) <= set(names):
        return END2END_NAMES
    boxes = next(n for n in names if len(shapes[n]) == 3)
    rest = [n for n in names if n != boxes]
    num = next((n for n in rest if shapes[n][-1] == 1), rest[0])
    rest = [n for n in rest if n != num]
    # of the last two, the one whose name mentions score is the scores; else keep model order
    scores = next((n for n in rest if "score" in n.lower()), rest[0])
    classes = next(n for n in rest if n != scores)
    return (num, boxes, scores, classes)


def refine_layout(spec: DecodeSpec, outputs: Mapping[str, np.ndarray]) -> DecodeSpec:
    """Settle the value-dependent properties of a spec from one real inference.

    * ``raw``: channel order (the 4-channel box block has the larger mean: distances are
      positive, class scores are small probabilities or negative logits) and whether classes are
      logits (any value outside [0, 1]).
    * ``decoded`` vs ``anchor_grid``: decoded scores lie in [0, 1]; raw anchor-grid logits do not.
    * ``end2end``: class count unknown until now; nothing else to settle.

    A spec that is already resolved, or was forced by the caller, is returned unchanged.
    """
    if spec.resolved:
        return spec
    if spec.layout is Layout.RAW:
        first = np.asarray(outputs[spec.names[0]], dtype=np.float32)
        c = first.shape[1]
        head, tail = first[:, :4], first[:, c - 4 :]
        box_first = float(head.mean()) > float(tail.mean())
        cls = first[:, 4:] if box_first else first[:, : c - 4]
        refuse_saturated(cls, "YOLOv6 per-level heads, class channels")
        sig = bool(cls.min() < 0.0 or cls.max() > 1.0)
        return replace(spec, box_first=box_first, sigmoid=sig, resolved=True)
    if spec.layout in (Layout.DECODED, Layout.ANCHOR_GRID):
        out = np.asarray(outputs[spec.names[0]])
        lo = 4
        scores = out[..., lo:]
        refuse_saturated(scores, "YOLOv6 (B, N, 5+nc), columns 4+")
        raw = bool(scores.min() < -1e-3 or scores.max() > 1 + 1e-3)
        layout = Layout.ANCHOR_GRID if raw else Layout.DECODED
        if spec.layout is Layout.ANCHOR_GRID:
            layout = Layout.ANCHOR_GRID
        return replace(spec, layout=layout, sigmoid=layout is Layout.ANCHOR_GRID, resolved=True)
    return replace(spec, resolved=True)


# ----------------------------------------------------------------------------------------------
# decoding
# ----------------------------------------------------------------------------------------------
def infer_strides(num_anchors: int, input_hw: tuple[int, int]) -> tuple[int, ...] | None:
    """The usual YOLO stride set whose grids at ``input_hw`` hold exactly ``num_anchors`` cells, or None."""
    return grids.infer_strides(num_anchors, input_hw)


def spec_strides(
    spec: DecodeSpec, shapes: Mapping[str, Sequence[Any]], input_hw: tuple[int, int]
) -> tuple[int, ...] | None:
    """The strides the decoder reads a YOLOv6 layout with at ``input_hw``: input size / feature-map size
    (raw heads), or the stride set whose grids hold the row count (decoded, anchor grid); None when unknown."""
    if spec.strides:
        return spec.strides
    if spec.layout is Layout.RAW:
        sizes = []
        for name in spec.names:
            shape = tuple(shapes.get(name, ()))
            if len(shape) != 4 or not all(isinstance(d, int | np.integer) and d > 0 for d in shape[2:]):
                return None
            sizes.append((int(shape[2]), int(shape[3])))
        try:
            return grids.strides_from_maps(sizes, input_hw)
        except InputError:
            return None
    if spec.layout in (Layout.DECODED, Layout.ANCHOR_GRID):
        shape = tuple(shapes.get(spec.names[0], ()))
        n = shape[1] if len(shape) == 3 else None
        return grids.infer_strides(int(n), input_hw) if isinstance(n, int | np.integer) else None
    return None


def _anchor_strides(n: int, input_hw: tuple[int, int], strides: tuple[int, ...]) -> tuple[int, ...]:
    sets = [strides] if strides else list(_STRIDE_SETS)
    found = grids.infer_strides(n, input_hw, sets)
    if found is None:
        h, w = input_hw
        raise InputError(f"{n} anchors do not match any stride set {sets} at input {h}x{w}; pass strides=")
    return found


def candidates(
    outputs: Mapping[str, np.ndarray],
    spec: DecodeSpec,
    input_hw: tuple[int, int],
    *,
    conf: float = DetectOptions.conf,
    multi_label: bool = DetectOptions.multi_label,
    pre_nms_topk: int = DetectOptions.pre_nms_topk,
) -> list[Candidates]:
    """Decode outputs into per-image candidates in input pixels (thresholded, top-k, not NMS'd).

    Args:
        outputs: Output name → array from one inference (a batch).
        spec: The layout (see `detect_layout` / `refine_layout`).
        input_hw: Network input (H, W) the batch was run at.
        conf: Score threshold (score = obj · class).
        multi_label: Keep every class above ``conf`` for an anchor (COCO evaluation) instead of the best.
        pre_nms_topk: Keep at most this many candidates per image, the highest scores.
    """
    conf = check_fraction(conf, "conf", "a score threshold in [0, 1]")
    pre_nms_topk = check_positive_int(pre_nms_topk, "pre_nms_topk")
    missing = [n for n in spec.names if n not in outputs]
    if missing:
        raise InputError(f"outputs {missing} expected by layout {spec.layout.value} are missing; got {list(outputs)}")
    return decode_checked(outputs, spec, input_hw, conf, multi_label, pre_nms_topk)


def decode_checked(
    outputs: Mapping[str, np.ndarray],
    spec: DecodeSpec,
    input_hw: tuple[int, int],
    conf: float,
    multi_label: bool,
    pre_nms_topk: int,
) -> list[Candidates]:
    """`candidates` with validated options and outputs present (the registered YOLOv6 decoders' per-call path,
    after `lite.ops.decoders.run_plan` checked them)."""
    spec = refine_layout(spec, outputs)
    if spec.layout is Layout.END2END:
        return _end2end(outputs, spec, conf, pre_nms_topk)
    if spec.layout is Layout.RAW:
        return _raw(outputs, spec, input_hw, conf, multi_label, pre_nms_topk)
    return _flat(outputs, spec, input_hw, conf, multi_label, pre_nms_topk)


def _flat(outputs, spec, input_hw, conf, multi_label, k) -> list[Candidates]:
    out = np.asarray(outputs[spec.names[0]])
    if out.dtype != np.float32:
        out = out.astype(np.float32)
    grid = spec.layout is Layout.ANCHOR_GRID
    if grid:
        strides = _anchor_strides(out.shape[1], input_hw, spec.strides)
        gx, gy, gs = grids.priors(tuple(input_hw), strides, 0.0)
    c0 = 5 if spec.has_obj else 4
    results = []
    for b in range(out.shape[0]):
        rows = out[b]
        cls = rows[:, c0:]
        skip = 0
        if spec.has_obj:
            obj = rows[:, 4]
            if grid:
                obj = sigmoid(obj)
                cls = sigmoid(cls) * obj[:, None]
            elif obj.min() < 1.0:  # a real objectness (YOLOv6 0.1); 0.2+ exports write ones
                cls = cls * obj[:, None]
            else:
                skip = c0  # compare the contiguous rows, not the strided class columns
        elif grid:
            cls = sigmoid(cls)
        else:
            skip = c0
        a, c, s = select(rows if skip else cls, conf, multi_label, skip=skip)
        if len(a) == 0:
            results.append(Candidates.empty())
            continue
        order = topk(s, k)
        a, c, s = a[order], c[order], s[order]
        xywh = rows[a, :4]
        if grid:
            st = gs[a]
            cx = (xywh[:, 0] + gx[a]) * st
            cy = (xywh[:, 1] + gy[a]) * st
            w = np.exp(xywh[:, 2]) * st
            h = np.exp(xywh[:, 3]) * st
            w, h = np.maximum(w, 0), np.maximum(h, 0)  # a negative size from a model is an empty box, not x2 < x1
            boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
        else:  # the same arithmetic on the (n, 2) centre and size columns at once
            ctr, half = xywh[:, :2], np.maximum(xywh[:, 2:], 0) / 2
            boxes = np.concatenate((ctr - half, ctr + half), axis=1)
        results.append(Candidates(boxes, s, c))
    return results


def _raw(outputs, spec, input_hw, conf, multi_label, k) -> list[Candidates]:
    levels = [np.asarray(outputs[n]) for n in spec.names]
    sizes = tuple((lv.shape[2], lv.shape[3]) for lv in levels)
    strides = _raw_strides(spec.strides, sizes, tuple(input_hw))
    gx, gy, gs, starts = _level_table(sizes, strides)
    nc = levels[0].shape[1] - 4
    box_sl = slice(0, 4) if spec.box_first else slice(nc, nc + 4)
    cls_sl = slice(4, 4 + nc) if spec.box_first else slice(0, nc)
    results = []
    for b in range(levels[0].shape[0]):
        anchors, dists, scores, classes = [], [], [], []
        for lv, (h, w), start in zip(levels, sizes, starts, strict=True):
            flat = lv[b].reshape(lv.shape[1], h * w)
            a, c, sc = select(flat[cls_sl], conf, multi_label, logits=spec.sigmoid, classes_first=True)
            if len(a):  # cls: (nc, hw), contiguous: no transpose
                dists.append(flat[box_sl][:, a])
                anchors.append(a + start)
                scores.append(sc)
                classes.append(c)
        if not scores:
            results.append(Candidates.empty())
            continue
        sc = np.concatenate(scores) if len(scores) > 1 else scores[0]
        order = topk(sc, k)  # boxes only for the k kept: the same arithmetic per box, fewer boxes
        a = (np.concatenate(anchors) if len(anchors) > 1 else anchors[0])[order]
        dist = (np.concatenate(dists, axis=1) if len(dists) > 1 else dists[0])[:, order].astype(np.float32)
        x, y = gx[a], gy[a]
        x1, y1 = x - dist[0], y - dist[1]
        # l + r < 0 (negative distances) would give x2 < x1: clamp to an empty box
        x2, y2 = np.maximum(x + dist[2], x1), np.maximum(y + dist[3], y1)
        boxes = np.stack([x1, y1, x2, y2], axis=1)
        boxes *= gs[a][:, None]
        cl = np.concatenate(classes) if len(classes) > 1 else classes[0]
        results.append(Candidates(boxes, sc[order].astype(np.float32, copy=False), cl[order]))
    return results


@lru_cache(maxsize=32)
def _raw_strides(given: tuple[int, ...], sizes: tuple[tuple[int, int], ...], input_hw: tuple[int, int]):
    """The levels' strides: the given ones (one per level), else from the map sizes; cached per model and input
    size (the per-call path reads them, never re-derives them)."""
    if given:
        if len(given) != len(sizes):
            raise InputError(f"{len(given)} strides given {given} but the model has {len(sizes)} levels")
        return given
    return grids.strides_from_maps(sizes, input_hw)


@lru_cache(maxsize=32)
def _level_table(
    sizes: tuple[tuple[int, int], ...], strides: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """Cell centres ``(gx, gy)`` in cells and the stride of every cell of the levels, concatenated
    (`lite.ops.grids.map_priors`, read-only), and the first cell of each level."""
    starts = tuple(int(n) for n in np.cumsum([0] + [h * w for h, w in sizes[:-1]]))
    return (*grids.map_priors(sizes, strides, 0.5), starts)


def _end2end(outputs, spec, conf, k) -> list[Candidates]:
    num, boxes, scores, classes = (np.asarray(outputs[n]) for n in spec.names)
    num = num.reshape(num.shape[0], -1)[:, 0].astype(np.int64)
    results = []
    for b in range(boxes.shape[0]):
        n = int(min(max(num[b], 0), boxes.shape[1]))
        bx = boxes[b, :n].astype(np.float32)
        bx[:, 2:] = np.maximum(bx[:, 2:], bx[:, :2])
        sc = scores[b, :n].astype(np.float32)
        cl = classes[b, :n].astype(np.int64)
        keep = (cl >= 0) & (sc >= conf)
        bx, sc, cl = bx[keep], sc[keep], cl[keep]
        order = topk(sc, k)
        results.append(Candidates(bx[order], sc[order], cl[order]))
    return results


def postprocess(
    outputs: Mapping[str, np.ndarray], spec: DecodeSpec, input_hw: tuple[int, int], **options: Any
) -> list[Candidates]:
    """Decode (`candidates`) and NMS: per-image final detections in input pixels, sorted by score.

    End-to-end outputs are already NMS'd: only the threshold and ``max_det`` apply.

    Args:
        outputs: Output name → array from one inference (a batch).
        spec: The layout.
        input_hw: Network input (H, W).
        **options: `DetectOptions` fields, defaults for the rest: ``conf``, ``iou``, ``max_det``,
            ``nms`` (or ``nms_mode``: ``"class_aware"``, ``"agnostic"`` or ``"blend"``), ``multi_label``,
            ``pre_nms_topk``.

    Raises:
        InputError: An unknown option or an option with a wrong value or type (checked by `DetectOptions`).
        ModelOutputError: The model produced non-finite (NaN/inf) boxes or scores among the candidates.
    """
    opts = DetectOptions().updated(options)
    cands = candidates(
        outputs, spec, input_hw, conf=opts.conf, multi_label=opts.multi_label, pre_nms_topk=opts.pre_nms_topk
    )
    end2end = spec.layout is Layout.END2END
    return finish(cands, iou=opts.iou, max_det=opts.max_det, nms_mode=opts.nms, end2end=end2end)


#: Share of rows with a negative width or height above which "decoded" boxes are not decoded boxes.
NEGATIVE_SIZE_LIMIT = 0.2


def negative_size_fraction(rows: np.ndarray, wh: slice = slice(2, 4)) -> float:
    """Share of rows ``(..., C)`` whose width or height column is negative."""
    sizes = np.asarray(rows)[..., wh]
    return float((sizes < 0).any(axis=-1).mean()) if sizes.size else 0.0


class _YOLOv6Layout(Decoder):
    layout: ClassVar[Layout]

    def _spec(self, shapes: Mapping[str, Shape], hints: Hints) -> DecodeSpec | None:
        spec = detect_layout(  # an InputError says why none of YOLOv6's layouts fits
            shapes,
            num_classes=hints.num_classes,
            layout=hints.layout,
            strides=hints.strides,
            input_hw=hints.input_hw,
        )
        forced = {k: v for k, v in (("box_first", hints.box_first), ("sigmoid", hints.sigmoid)) if v is not None}
        if forced and spec.layout is Layout.RAW:
            spec = replace(spec, **forced)
            if len(forced) == 2:
                spec = replace(spec, resolved=True)
        return spec

    def refine(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> Plan:
        spec: DecodeSpec = plan.options["spec"]
        forced = plan.options.get("forced", {})
        new = refine_layout(spec, outputs)
        if forced:  # what the caller or the metadata said wins over what the values suggest
            new = replace(new, **forced)
        return replace(plan.with_options(spec=new), num_classes=new.num_classes, resolved=True)

    def candidates(self, plan, outputs, input_hw, *, conf, multi_label, pre_nms_topk):
        spec: DecodeSpec = plan.options["spec"]
        return decode_checked(outputs, spec, input_hw, conf, multi_label, pre_nms_topk)  # run_plan checked them

    def describe_options(self, plan: Plan) -> str:
        parts = plan.options["spec"].describe().split(", ")
        return ", ".join(p for p in parts if not p.startswith("strides") and not p.endswith(" classes"))

    def _plan(self, spec: DecodeSpec, hints: Hints, confidence: float, **kw) -> Plan:
        forced = {k: v for k, v in (("box_first", hints.box_first), ("sigmoid", hints.sigmoid)) if v is not None}
        strides = kw.pop("strides", spec.strides)
        return self.plan(
            spec.names,
            spec.num_classes,
            strides=tuple(strides),
            confidence=confidence,
            options={"spec": spec, "forced": forced if spec.layout is Layout.RAW else {}},
            resolved=spec.resolved,
            **kw,
        )


class _Flat(_YOLOv6Layout):
    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        spec = self._spec(shapes, hints)
        if spec is None or spec.layout is not self.layout:
            return None
        shape = tuple(shapes[spec.names[0]])
        rows = base.int_dim(shape[1])
        nc = spec.num_classes or 0
        if not base.plausible_classes(nc, rows, hints):
            return None
        strides, mismatch, fits = base.flat_strides(rows, hints)
        three = mismatch and hints.input_hw is not None and rows is not None
        if three and grids.infer_strides(rows, hints.input_hw, hints.stride_sets(), per_cell=3):  # type: ignore[arg-type]
            return None  # three anchors per cell: YOLOv5's decoded output, never YOLOv6's
        conf = base.class_confidence(nc, hints, 0.75) if rows is not None else 0.5
        if mismatch:
            conf = 0.3
        return self._plan(spec, hints, conf, strides=strides or spec.strides, size_mismatch=mismatch, fits=fits)

    def check(self, plan: Plan, outputs: Mapping[str, np.ndarray], input_hw: tuple[int, int]) -> str | None:
        spec: DecodeSpec = plan.options["spec"]
        if spec.layout is not Layout.DECODED:
            return None
        out = np.asarray(outputs[spec.names[0]])
        frac = negative_size_fraction(out)
        if frac > NEGATIVE_SIZE_LIMIT:
            return (
                f"{frac:.0%} of the 'decoded' rows have a negative width or height, so columns 2-3 are not box "
                f"sizes: this is a raw grid output (offsets and log-sizes, as YOLOX exports), not YOLOv6's decoded one"
            )
        # Decoded centres spread over the image; raw offsets (a few cells) all sit near the origin.
        near_origin = float(((np.abs(out[..., 0]) < 4) & (np.abs(out[..., 1]) < 4)).mean()) if out.size else 0.0
        if near_origin > 0.5:
            return (
                f"{near_origin:.0%} of the 'decoded' box centres lie within 4 pixels of the image corner, so columns "
                f"0-1 are not centres in pixels: this is a raw grid output (offsets in cells, as YOLOX exports)"
            )
        return None


@register_decoder("decoded")
class YOLOv6Decoded(_Flat):
    """YOLOv6 ``(B, N, 5+nc)`` / ``(B, N, 4+nc)`` decoded boxes (raw anchor-grid settled from the values)."""

    signature = "(B, N, 5+nc) cx,cy,w,h,obj,classes in input pixels, N = cells"
    layout = Layout.DECODED


@register_decoder("anchor_grid")
class YOLOv6AnchorGrid(_Flat):
    """YOLOv6 0.1's raw anchor-grid ``(B, N, 5+nc)`` (matched when the layout is given as ``anchor_grid``)."""

    signature = "(B, N, 5+nc) raw offsets, log-sizes and logits, N = cells"
    layout = Layout.ANCHOR_GRID


@register_decoder("raw")
class YOLOv6Raw(_YOLOv6Layout):
    """YOLOv6 per-level heads ``(B, 4+nc, H/s, W/s)`` (l, t, r, b distances from cell centres)."""

    signature = "per level (B, 4+nc, H/s, W/s)"
    layout = Layout.RAW

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        spec = self._spec(shapes, hints)
        if spec is None or spec.layout is not Layout.RAW:
            return None
        if not base.plausible_classes(spec.num_classes or 0, None, hints):
            return None
        sizes = [(base.int_dim(shapes[n][2]), base.int_dim(shapes[n][3])) for n in spec.names]
        strides: tuple[int, ...] = tuple(spec.strides)
        mismatch, fits = False, ()
        if hints.input_hw is not None and all(h and w for h, w in sizes):
            hw = hints.input_hw
            if strides:
                mismatch = grids.level_sizes(hw, strides) != sizes
            else:
                try:
                    strides = grids.strides_from_maps(sizes, hw)  # type: ignore[arg-type]
                except InputError:
                    mismatch = True
            if mismatch:
                s0 = strides[0] if strides else 8
                h0, w0 = sizes[0]
                fits = ((h0 * s0, w0 * s0),)  # type: ignore[operator]
        conf = base.class_confidence(spec.num_classes or 0, hints, 0.8)
        return self._plan(spec, hints, 0.3 if mismatch else conf, strides=strides, size_mismatch=mismatch, fits=fits)


@register_decoder("end2end")
class YOLOv6End2End(_YOLOv6Layout):
    """End-to-end outputs ``num_dets, det_boxes, det_scores, det_classes`` (EfficientNMS / ONNX NMS)."""

    signature = "num_dets, det_boxes, det_scores, det_classes (NMS inside)"
    layout = Layout.END2END
    end2end = True

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        spec = self._spec(shapes, hints)
        if spec is None or spec.layout is not Layout.END2END:
            return None
        return self._plan(spec, hints, 1.0 if set(END2END_NAMES) <= set(shapes) else 0.8)
