"""Non-maximum suppression: the one NMS implementation the whole library uses.

Inputs are *already filtered* candidates: the decoders threshold the scores and keep a
top-k by score before calling NMS, so ``n`` is typically 5-300 and at worst a few
thousand. The algorithm is the classic greedy one: sort by score (descending, stable, so
ties keep the lower input index first), keep the best box, drop every remaining box whose
IoU with it is **strictly greater** than the threshold, repeat.

Each step compares the best remaining box(es) with the boxes still in the pool, vectorised
with numpy. To keep the per-step numpy overhead down for small inputs, a step may take a
block of the ``k`` best remaining boxes at once (``k * remaining <= 4096`` IoU values, so
``k = 1`` -- one box per step -- whenever more than 2048 boxes remain); the block is then
resolved in exact greedy order with Python-int bitsets. The IoU work is bounded, so there
is never an ``n x n`` matrix for large ``n``; the result is identical to the textbook loop.

Class-aware suppression shifts every box by ``class_id * span`` (``span`` a power of two
above ``2 * max|coordinate| + 1``: the usual ``class_id * (max coordinate + 1)`` trick, made
safe for negative coordinates) so boxes of different classes can never overlap, then runs
one class-agnostic pass. The arithmetic is float64, where that shift is exact for float32
coordinates, so the result is the same as running the greedy pass separately per class.

IoU here has no "+1 pixel" convention: the area of ``(x1, y1, x2, y2)`` is
``max(x2 - x1, 0) * max(y2 - y1, 0)``. A box of zero area has IoU 0 with every box
(including an identical zero-area box), so it neither suppresses nor is suppressed.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from lite.core.errors import InputError
from lite.ops.options import NMS_MODES, DetectOptions, NmsMode, check_fraction, check_nms_mode, check_positive_int

__all__ = ["NmsMode", "NMS_MODES", "box_iou", "nms_indices", "nms_keep", "nms"]

# NmsMode / NMS_MODES (the accepted values of ``mode`` in `nms`) are defined with the other detection
# options in lite.ops.options and re-exported here.

_EMPTY_IDX = np.zeros(0, dtype=np.int64)


# --------------------------------------------------------------------------- validation


def _as_boxes(boxes: np.ndarray, name: str = "boxes") -> np.ndarray:
    """Return ``boxes`` as a float64 ``(n, 4)`` array (``[]`` becomes ``(0, 4)``)."""
    b = np.asarray(boxes)
    if b.dtype.kind not in "fiu":
        raise InputError(f"{name}: expected a numeric (n, 4) array of xyxy boxes, got dtype {b.dtype}")
    if b.ndim != 2 or b.shape[1] != 4:
        if b.size == 0 and b.ndim == 1:
            return np.zeros((0, 4), dtype=np.float64)
        raise InputError(f"{name}: expected shape (n, 4) (xyxy boxes), got shape {b.shape}")
    return b.astype(np.float64, copy=False)


def _as_scores(scores: np.ndarray, n: int) -> np.ndarray:
    s = np.asarray(scores)
    if s.dtype.kind not in "fiu":
        raise InputError(f"scores: expected a numeric (n,) array, got dtype {s.dtype}")
    if s.shape != (n,):
        raise InputError(f"scores: expected shape ({n},) to match boxes {(n, 4)}, got shape {s.shape}")
    return s


def _as_class_ids(class_ids: np.ndarray, n: int) -> np.ndarray:
    c = np.asarray(class_ids)
    if c.shape != (n,):
        raise InputError(f"class_ids: expected shape ({n},) to match boxes {(n, 4)}, got shape {c.shape}")
    if c.dtype.kind in "iu":
        return c.astype(np.int64, copy=False)
    if c.dtype.kind == "f" and (n == 0 or (np.isfinite(c).all() and (c == np.floor(c)).all())):
        return c.astype(np.int64)
    raise InputError(f"class_ids: expected integer class ids, got dtype {c.dtype} with non-integral values")


def _check_threshold(iou_threshold: float) -> float:
    return check_fraction(iou_threshold, "iou_threshold")


def _check_max_det(max_det: int) -> int:
    return check_positive_int(max_det, "max_det")


def _check_finite(b: np.ndarray, s: np.ndarray) -> None:
    if not np.isfinite(b).all():
        raise InputError("boxes: expected finite coordinates, got NaN or inf")
    if not np.isfinite(s).all():
        raise InputError("scores: expected finite scores, got NaN or inf")


# --------------------------------------------------------------------------- core


def _areas(b: np.ndarray) -> np.ndarray:
    """Box areas, negative widths/heights counting as zero."""
    w = b[:, 2] - b[:, 0]
    h = b[:, 3] - b[:, 1]
    np.maximum(w, 0.0, out=w)
    np.maximum(h, 0.0, out=h)
    return w * h


def _offset_by_class(b: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
    """Per-box shift ``class_id * span`` that makes boxes of different classes disjoint.

    ``span`` is the smallest power of two above ``2 * max|coordinate| + 1``, so every class
    lives in its own band ``(k * span - span / 2, k * span + span / 2)`` even with negative
    coordinates or class ids, and (being a power of two) adding it to float32 coordinates is
    exact in float64.
    """
    amax = max(-float(b.min()), float(b.max()))
    return class_ids * math.ldexp(1.0, math.frexp(2.0 * amax + 1.0)[1])


#: Most IoU values computed at once: a block of the ``k`` best remaining boxes is
#: compared with the ``m`` remaining ones, ``k = budget // m`` (``k = 1``, the plain
#: one-box-per-step greedy loop, once ``m > budget // 2``). Memory stays O(n).
_IOU_BLOCK_BUDGET = 4096


def _pack(b: np.ndarray, order: np.ndarray, offset: np.ndarray | None) -> np.ndarray:
    """The sorted candidates as one contiguous ``(6, n)`` float64 table.

    Rows: ``x1, y1, -x2, -y2, area, input index``. Storing ``-x2, -y2`` lets a single
    ``np.maximum`` produce both the top-left and (negated) bottom-right corners of an
    intersection; negation is exact, so the IoU is bit-identical to the textbook formula.
    Areas (``max(x2 - x1, 0) * max(y2 - y1, 0)``) are taken before the class offset.
    """
    t = np.empty((6, order.shape[0]), dtype=np.float64)
    np.take(b.T, order, axis=1, out=t[:4])
    np.negative(t[2:4], out=t[2:4])
    wh = t[:2] + t[2:4]  # = -(w, h)
    np.minimum(wh, 0.0, out=wh)
    np.multiply(wh[0], wh[1], out=t[4])
    if offset is not None:
        o = offset[order]
        t[:2] += o
        t[2:4] -= o
    t[5] = order
    return t


def _greedy(t: np.ndarray, thr: float, max_det: int, clusters: list[list[int]] | None) -> list[int]:
    """Greedy NMS over the packed table ``t`` (see `_pack`), best box first.

    Returns the input indices of the kept boxes in order. When ``clusters`` is a list, one
    list per kept box is appended to it: the input index of the box itself followed by
    those of the boxes it suppressed (in score order).
    """
    keep: list[int] = []
    while t.shape[1]:
        m = t.shape[1]
        k = min(m, _IOU_BLOCK_BUDGET // m)
        if k <= 1:
            # One leader against the rest.
            keep.append(int(t[5, 0]))
            done = len(keep) >= max_det
            a0 = t[4, 0]
            if m == 1 or a0 <= 0.0 or (done and clusters is None):
                # a zero-area box has IoU 0 with everything: it suppresses nothing
                if clusters is not None:
                    clusters.append([keep[-1]])
                t = t[:, 1:]
            else:
                rest = t[:, 1:]
                c = np.maximum(t[:4, :1], rest[:4])
                wh = c[:2] + c[2:]  # = -(w, h) of the intersection
                np.minimum(wh, 0.0, out=wh)
                inter = wh[0] * wh[1]
                alive = inter / (a0 + rest[4] - inter) <= thr  # union >= a0 > 0
                if clusters is not None:
                    clusters.append([keep[-1], *rest[5, ~alive].astype(np.int64).tolist()])
                t = np.compress(alive, rest, axis=1)
            if done:
                break
            continue
        # A block of the k best boxes against all m remaining ones.
        lead = t[:, :k]
        c = np.maximum(lead[:4, :, None], t[:4, None, :])  # (4, k, m)
        wh = c[:2] + c[2:]
        np.minimum(wh, 0.0, out=wh)
        inter = wh[0] * wh[1]
        union = lead[4][:, None] + t[4][None, :] - inter
        np.maximum(union, 5e-324, out=union)  # 0 only when inter is 0 too: IoU 0, no 0/0
        over = np.packbits(inter / union > thr, axis=1, bitorder="little")
        nb = over.shape[1]
        rows = over.tobytes()
        ids = t[5].tolist() if clusters is not None else lead[5].tolist()
        alive = (1 << m) - 1
        full = False
        for r in range(k):
            if not (alive >> r) & 1:
                continue
            keep.append(int(ids[r]))
            # the alive boxes after r that r overlaps: bits > r of its row
            hit = alive & int.from_bytes(rows[r * nb : (r + 1) * nb], "little") & ~((2 << r) - 1)
            alive &= ~hit
            if clusters is not None:
                members = [keep[-1]]
                while hit:
                    low = hit & -hit
                    members.append(int(ids[low.bit_length() - 1]))
                    hit ^= low
                clusters.append(members)
            if len(keep) >= max_det:
                full = True
                break
        if full:
            break
        alive >>= k
        if not alive:
            break
        mask = np.unpackbits(
            np.frombuffer(alive.to_bytes((m - k + 7) // 8, "little"), dtype=np.uint8), count=m - k, bitorder="little"
        ).view(bool)
        t = np.compress(mask, t[:, k:], axis=1)
    return keep


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU between two sets of xyxy boxes.

    No "+1 pixel" convention. Pairs whose union is zero (both boxes of zero area) get
    IoU 0. Boxes with ``x2 < x1`` or ``y2 < y1`` count as zero-area.

    Args:
        a: ``(n, 4)`` boxes ``x1, y1, x2, y2``.
        b: ``(m, 4)`` boxes ``x1, y1, x2, y2``.

    Returns:
        A float64 ``(n, m)`` array of IoU values in ``[0, 1]``.

    Raises:
        InputError: If either argument is not a numeric ``(k, 4)`` array.
    """
    a = _as_boxes(a, "a")
    b = _as_boxes(b, "b")
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    wh = np.minimum(a[:, None, 2:], b[None, :, 2:]) - lt
    np.maximum(wh, 0.0, out=wh)
    inter = wh[..., 0] * wh[..., 1]
    union = _areas(a)[:, None] + _areas(b)[None, :] - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def nms_indices(
    boxes: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray | None = None,
    *,
    iou_threshold: float = DetectOptions.iou,
    agnostic: bool = False,
    max_det: int = DetectOptions.max_det,
) -> np.ndarray:
    """Hard (greedy) NMS returning the indices of the kept boxes.

    A box is suppressed when its IoU with an already kept box (of the same class, unless
    agnostic) is strictly greater than ``iou_threshold``.

    Args:
        boxes: ``(n, 4)`` xyxy boxes.
        scores: ``(n,)`` scores; higher is better. Ties keep the lower input index first.
        class_ids: ``(n,)`` integer class ids, or None to ignore classes.
        iou_threshold: IoU above which a box is suppressed, in ``[0, 1]``.
        agnostic: Ignore ``class_ids`` and suppress across classes.
        max_det: Keep at most this many boxes (the greedy loop stops there).

    Returns:
        int64 indices into the inputs of the kept boxes, sorted by score descending.

    Raises:
        InputError: On wrong shapes, mismatched lengths, non-finite values, a threshold
            outside ``[0, 1]`` or a non-positive ``max_det``.
    """
    b = _as_boxes(boxes)
    n = b.shape[0]
    s = _as_scores(scores, n)
    c = None if class_ids is None else _as_class_ids(class_ids, n)
    thr = _check_threshold(iou_threshold)
    max_det = _check_max_det(max_det)
    if n == 0:
        return _EMPTY_IDX.copy()
    _check_finite(b, s)
    return _hard_keep(b, s, None if agnostic else c, thr, max_det)


def _hard_keep(b: np.ndarray, s: np.ndarray, c: np.ndarray | None, thr: float, max_det: int) -> np.ndarray:
    """Greedy hard NMS of checked, non-empty ``float64`` boxes: kept indices, best first (``c`` None: agnostic)."""
    order = np.argsort(-s, kind="stable")
    offset = _offset_by_class(b, c) if c is not None else None
    return np.asarray(_greedy(_pack(b, order, offset), thr, max_det, None), dtype=np.int64)


def nms_checked(
    boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, *, iou_threshold: float, mode: str, max_det: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`nms` of candidates a decoder made: finite float32 ``(n, 4)`` boxes, float32 scores, int64 class ids,
    and validated options (`DetectOptions`). Skips `nms`'s argument checks (the per-call path); same result.
    """
    if mode == "blend" or boxes.dtype != np.float32 or scores.dtype != np.float32 or class_ids.dtype != np.int64:
        return nms(boxes, scores, class_ids, iou_threshold=iou_threshold, mode=mode, max_det=max_det)  # type: ignore[arg-type]
    if boxes.shape[0] == 0:
        return _empty_result()
    c = class_ids if mode == "class_aware" else None
    keep = _hard_keep(boxes.astype(np.float64), scores, c, iou_threshold, max_det)
    return boxes[keep], scores[keep], class_ids[keep]


def nms_keep(
    boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float, mode: str, max_det: int
) -> np.ndarray:
    """The kept indices of `nms_checked`'s hard modes (``"class_aware"``, ``"agnostic"``), best first: for
    candidates whose other columns (mask coefficients, keypoints) follow the kept rows."""
    if boxes.shape[0] == 0:
        return _EMPTY_IDX.copy()
    c = np.asarray(class_ids, np.int64) if mode == "class_aware" else None
    return _hard_keep(np.asarray(boxes, np.float64), np.asarray(scores, np.float32), c, iou_threshold, max_det)


def _empty_result() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)


def nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray | None,
    *,
    iou_threshold: float = DetectOptions.iou,
    mode: NmsMode = DetectOptions.nms,  # type: ignore[assignment]
    max_det: int = DetectOptions.max_det,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-maximum suppression returning the surviving detections.

    Modes:
        ``"class_aware"``: greedy hard NMS within each class.
        ``"agnostic"``: greedy hard NMS across all classes.
        ``"blend"``: blending NMS. Greedy by score within each class, the current best box
        and every remaining box of its class with IoU > ``iou_threshold`` form a cluster
        (removed from the pool). Each cluster gives one box whose coordinates are the
        average of its members weighted by ``softmax(scores)`` (``exp(s) / sum(exp(s))``),
        whose score is ``sum(weight * score)`` and whose class is the cluster's class.
        At most ``max_det`` clusters are formed.

    Args:
        boxes: ``(n, 4)`` xyxy boxes.
        scores: ``(n,)`` scores; ties keep the lower input index first.
        class_ids: ``(n,)`` integer class ids; None puts every box in class 0.
        iou_threshold: IoU above which a box is suppressed (or merged), in ``[0, 1]``.
        mode: One of ``"class_aware"``, ``"agnostic"``, ``"blend"``.
        max_det: Maximum number of output detections.

    Returns:
        ``(boxes, scores, class_ids)``: float32 ``(k, 4)``, float32 ``(k,)``, int64 ``(k,)``,
        sorted by score descending (stable).

    Raises:
        InputError: On wrong shapes, mismatched lengths, non-finite values, an unknown
            mode, a threshold outside ``[0, 1]`` or a non-positive ``max_det``.
    """
    check_nms_mode(mode, "mode")
    if class_ids is None:
        class_ids = np.zeros(np.shape(scores)[:1], dtype=np.int64)
    if mode != "blend":
        b = _as_boxes(boxes)
        c = _as_class_ids(class_ids, b.shape[0])
        keep = nms_indices(b, scores, c, iou_threshold=iou_threshold, agnostic=mode == "agnostic", max_det=max_det)
        s = np.asarray(scores)
        return b[keep].astype(np.float32), s[keep].astype(np.float32), c[keep]

    b = _as_boxes(boxes)
    n = b.shape[0]
    s = _as_scores(scores, n).astype(np.float64, copy=False)
    c = _as_class_ids(class_ids, n)
    thr = _check_threshold(iou_threshold)
    max_det = _check_max_det(max_det)
    if n == 0:
        return _empty_result()
    _check_finite(b, s)
    order = np.argsort(-s, kind="stable")
    clusters: list[list[int]] = []
    keep = _greedy(_pack(b, order, _offset_by_class(b, c)), thr, max_det, clusters)
    sizes = np.fromiter(map(len, clusters), dtype=np.int64, count=len(clusters))
    members = np.fromiter(itertools.chain.from_iterable(clusters), dtype=np.int64, count=int(sizes.sum()))
    starts = np.zeros(len(clusters), dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    sm = s[members]
    # softmax within each cluster; the leader holds the cluster's max score
    e = np.exp(sm - np.repeat(s[keep], sizes))
    denom = np.add.reduceat(e, starts)
    out_boxes = np.add.reduceat(e[:, None] * b[members], starts, axis=0) / denom[:, None]
    out_scores = np.add.reduceat(e * sm, starts) / denom
    out_cls = c[keep]
    o = np.argsort(-out_scores, kind="stable")
    return out_boxes[o].astype(np.float32), out_scores[o].astype(np.float32), out_cls[o]
