"""Classification post-processing: logits or probabilities in, top-k class ids and scores out.

A classifier's output row is either logits (ImageNet zoo models such as ResNet and MobileNet) or already
probabilities (ultralytics' ``-cls`` exports end with a softmax). `to_probabilities` tells them apart from the
values themselves — a row already in ``[0, 1]`` that sums to 1 (within ``1e-3``) is kept, anything else gets a
softmax — and `top_k` sorts (ties: the lower class id first, so the order never depends on the sort's luck).
"""

from __future__ import annotations

import operator

import numpy as np

from lite.core.errors import InputError, ModelOutputError

__all__ = ["is_probabilities", "softmax", "to_probabilities", "top_k"]

_SUM_TOLERANCE = 1e-3


def _as_rows(scores: np.ndarray) -> np.ndarray:
    a = np.asarray(scores)
    if a.dtype.kind not in "fiu":
        raise InputError(f"classifier output: expected numbers, got dtype {a.dtype}")
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[1] < 1:
        raise InputError(f"classifier output: expected shape (num_classes,) or (N, num_classes), got {a.shape}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ModelOutputError("classifier output: got NaN or inf scores (a broken export or input)")
    return a


def is_probabilities(scores: np.ndarray) -> bool:
    """True when every row is in ``[0, 1]`` and sums to 1 within ``1e-3`` (a softmax already applied)."""
    a = _as_rows(scores)
    return bool(a.min() >= 0.0 and a.max() <= 1.0 and np.abs(a.sum(axis=1) - 1.0).max() <= _SUM_TOLERANCE)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (max-subtracted), returned as float32 of the same 2-D shape."""
    a = _as_rows(logits)
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def to_probabilities(scores: np.ndarray) -> np.ndarray:
    """``(N, C)`` float32 probabilities: the rows as they are when `is_probabilities`, else their softmax.

    Args:
        scores: ``(C,)`` or ``(N, C)`` logits or probabilities.

    Raises:
        InputError: Not a 1-D or 2-D numeric array.
        ModelOutputError: NaN or inf in the scores.
    """
    a = _as_rows(scores)
    if is_probabilities(a):
        return a.astype(np.float32)
    return softmax(a)


def top_k(probabilities: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best classes of one row, best first; equal scores keep the lower class id first.

    Args:
        probabilities: ``(C,)`` scores of one image (or ``(1, C)``).
        k: How many (clipped to ``C``); >= 1.

    Returns:
        ``(class_ids, scores)``: int64 ``(min(k, C),)`` and float32 ``(min(k, C),)``.

    Raises:
        InputError: More than one row, or ``k`` not a positive int.
    """
    try:
        kk = operator.index(k)
    except TypeError:
        kk = 0
    if isinstance(k, bool) or kk < 1:
        raise InputError(f"k: expected a positive int, got {k!r}")
    a = _as_rows(probabilities)
    if a.shape[0] != 1:
        raise InputError(f"top_k: expected the scores of one image, got {a.shape[0]} rows; call it per row")
    row = a[0].astype(np.float32, copy=False)
    kk = min(kk, row.size)
    if kk < row.size:  # the k best by a partition, then ordered; ties keep the lower id (a stable sort of ids)
        cut = np.partition(row, row.size - kk)[row.size - kk]
        cand = np.flatnonzero(row >= cut)
        order = cand[np.argsort(-row[cand], kind="stable")][:kk]
    else:
        order = np.argsort(-row, kind="stable")
    return order.astype(np.int64), row[order]
