"""The candidate machinery every decoder shares, below the decoders: `Candidates` (boxes, scores, class ids in
input pixels), score selection (`select`: threshold, multi-label, logits), `topk`, `sigmoid`, the refusal of
saturated scores, and the final stage `finish` (NaN/inf refused, then NMS or, for end-to-end models, the first
``max_det``). `lite.ops.decoders` build on it; nothing here knows a layout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lite.core.errors import InputError, ModelOutputError
from lite.ops.nms import nms_checked, nms_keep

__all__ = ["Candidates", "select", "topk", "sigmoid", "logit", "refuse_saturated", "check_finite_candidates", "finish"]


@dataclass
class Candidates:
    """Per-image detections in input pixels (before or after NMS).

    ``extra`` holds a task's own columns per candidate (a segmentation model's mask coefficients, a pose model's
    keypoints, flattened): they follow the candidates through thresholding, top-k and NMS, so that masks and
    keypoints are built only for what NMS kept.
    """

    boxes: np.ndarray  # (n, 4) float32 xyxy
    scores: np.ndarray  # (n,) float32
    class_ids: np.ndarray  # (n,) int64
    extra: np.ndarray | None = None  # (n, E) float32, or None

    def __len__(self) -> int:
        return len(self.scores)

    def take(self, index: np.ndarray | slice) -> Candidates:
        """The candidates at ``index`` (indices or a slice), ``extra`` included."""
        extra = None if self.extra is None else self.extra[index]
        return Candidates(self.boxes[index], self.scores[index], self.class_ids[index], extra)

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    @classmethod
    def top_of_levels(
        cls, boxes: Sequence[np.ndarray], scores: Sequence[np.ndarray], class_ids: Sequence[np.ndarray], k: int
    ) -> Candidates:
        """One image's candidates from per-level parts: concatenated, then the ``k`` best by score (empty if none)."""
        if not scores:
            return cls.empty()
        sc = np.concatenate(scores)
        order = topk(sc, k)
        return cls(
            np.concatenate(boxes)[order].astype(np.float32, copy=False),
            sc[order].astype(np.float32, copy=False),
            np.concatenate(class_ids)[order].astype(np.int64, copy=False),
        )


def refuse_saturated(scores: np.ndarray, what: str) -> None:
    """Scores above 1 that are never negative are neither probabilities nor logits: refuse them (no sigmoid)."""
    if scores.size and float(scores.max()) > 1 + 1e-3 and float(scores.min()) >= -1e-3:
        raise ModelOutputError(
            f"{what}: the scores of the first inference reach {float(scores.max()):.4g} yet are never negative: "
            f"neither probabilities (at most 1) nor logits (negative for most anchors) but saturated, as a "
            f"quantized export whose score range overflowed gives; a sigmoid would turn every 0 into 0.5. Export "
            f"or quantize the model again keeping the detection head in float"
        )


def logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


_NO_INDEX = np.zeros(0, np.int64)
_NO_SCORE = np.zeros(0, np.float32)
_NO_INDEX.flags.writeable = _NO_SCORE.flags.writeable = False


def select(
    cls: np.ndarray,
    conf: float,
    multi_label: bool,
    *,
    logits: bool = False,
    classes_first: bool = False,
    skip: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Threshold a class-score matrix; return anchor indices, class ids and scores.

    Args:
        cls: ``(N, nc)`` scores, or ``(nc, N)`` with ``classes_first`` (per-level heads, no transpose).
        conf: Score threshold.
        multi_label: Every (anchor, class) above the threshold, instead of each anchor's best class.
        logits: Scores are logits: threshold at logit(conf), sigmoid only the survivors.
        classes_first: Layout of ``cls``.
        skip: ``(N, skip + nc)`` rows whose first ``skip`` columns are not scores (box, objectness): the
            contiguous rows are compared at once, faster than a strided ``rows[:, skip:]`` view; not with
            ``classes_first``.

    All scores are compared once; the per-anchor max runs only over the few anchors that passed.
    """
    thr = logit(conf) if logits else conf
    if skip:
        hit = cls > thr
        hit[:, :skip] = False
        idx = np.flatnonzero(hit)
        cls_all, cls = cls, cls[:, skip:]
    else:
        idx = np.flatnonzero(cls > thr)
    if len(idx) == 0:
        return _NO_INDEX, _NO_INDEX, _NO_SCORE
    n = cls.shape[1]
    if skip:  # indices into the full rows: same order (row-major), columns shifted by skip
        major, minor = np.divmod(idx, n + skip)
        if multi_label:
            a, c, s = major, minor - skip, cls_all[major, minor]
        else:
            a = major
            if len(a) > 1:
                a = a[np.concatenate(([True], a[1:] != a[:-1]))]
            sub = cls[a]
            c = sub.argmax(axis=1)
            s = sub[np.arange(len(a)), c]
    elif multi_label:
        major, minor = np.divmod(idx, n)
        a, c = (minor, major) if classes_first else (major, minor)
        s = cls[major, minor]
    elif classes_first:
        hit = np.zeros(n, bool)  # idx runs class by class, so anchors repeat out of order: a mask sorts them
        hit[idx % n] = True
        a = np.flatnonzero(hit)
        sub = cls[:, a]
        c = sub.argmax(axis=0)
        s = sub[c, np.arange(len(a))]
    else:
        a = idx // n  # sorted already (row-major), so dropping repeats needs no sort
        if len(a) > 1:
            a = a[np.concatenate(([True], a[1:] != a[:-1]))]
        sub = cls[a]
        c = sub.argmax(axis=1)
        s = sub[np.arange(len(a)), c]
    if logits:
        s = sigmoid(s)
    return a.astype(np.int64, copy=False), c.astype(np.int64, copy=False), s.astype(np.float32, copy=False)


def topk(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, sorted by score descending (stable for ties)."""
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        return part[np.argsort(-scores[part], kind="stable")]
    return np.argsort(-scores, kind="stable")


def check_finite_candidates(cands: Sequence[Candidates]) -> None:
    """Raise `ModelOutputError` when a candidate box or score is NaN or inf (a broken model, fp16 overflow).

    Runs on the thresholded candidates (at most ``pre_nms_topk`` per image), before NMS.
    """
    for i, c in enumerate(cands):
        if len(c) and not (np.isfinite(c.boxes).all() and np.isfinite(c.scores).all()):
            raise ModelOutputError(
                f"the model produced non-finite boxes or scores (NaN/inf) for image {i} of the batch; check the "
                f"model (e.g. fp16 overflow) or run it with fp16 off"
            )


def finish(cands: Sequence[Candidates], *, iou: float, max_det: int, nms_mode: str, end2end: bool) -> list[Candidates]:
    """The final stage shared by every layout: refuse NaN/inf, then per-image NMS (or, when ``end2end``:
    the model ran NMS already, keep the first ``max_det``).

    Raises:
        ModelOutputError: Non-finite (NaN/inf) boxes or scores among the candidates.
    """
    check_finite_candidates(cands)  # NaN/inf is a broken model: say so before NMS sees it
    if end2end:
        return [c.take(slice(0, max_det)) for c in cands]
    final = []
    for c in cands:
        if len(c) == 0:
            final.append(c)
        elif nms_mode != "blend":  # hard NMS keeps rows: every column (a task's too) follows them
            final.append(c.take(nms_keep(c.boxes, c.scores, c.class_ids, iou, nms_mode, max_det)))
        elif c.extra is None:  # blend NMS averages boxes into new ones
            boxes, scores, cls = nms_checked(
                c.boxes, c.scores, c.class_ids, iou_threshold=iou, mode=nms_mode, max_det=max_det
            )
            final.append(Candidates(boxes, scores, cls))
        else:
            raise InputError(
                "nms='blend' averages boxes, so no candidate's mask or keypoints belong to the result: use "
                "nms='class_aware' or 'agnostic' with a segmentation or pose model"
            )
    return final

