"""Keypoints of YOLOv8 / YOLO11 pose models: the columns after the box and class scores.

A pose export's candidate row is ``4 box + nc class scores + K * D`` keypoint values, where ``kpt_shape = [K, D]``
comes from the model's metadata (``[17, 3]`` for COCO people): ``x, y`` in network-input pixels and, with
``D = 3``, a visibility score (ultralytics' export already applies its sigmoid). `split_pose_rows` checks and
splits the row; `keypoints_to_original` maps the kept keypoints back to the image exactly as
`LetterboxTransform.to_original` maps boxes (``(x - left) / r``, clipped to the image; ultralytics'
``scale_coords``). With ``D = 2`` every score is 1.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

from lite.core.errors import InputError, ModelOutputError
from lite.ops.letterbox import LetterboxTransform

__all__ = ["check_kpt_shape", "split_pose_rows", "keypoints_to_original"]


def check_kpt_shape(kpt_shape: Sequence[int]) -> tuple[int, int]:
    """``(K, D)`` from metadata ``kpt_shape`` (``D`` 2 or 3).

    Raises:
        InputError: Not a pair of positive ints with ``D`` in (2, 3).
    """
    try:
        k, d = (operator.index(v) for v in kpt_shape)
    except (TypeError, ValueError) as e:
        raise InputError(f"kpt_shape: expected [K, 2] or [K, 3] (ultralytics metadata), got {kpt_shape!r}") from e
    if k < 1 or d not in (2, 3):
        raise InputError(f"kpt_shape: expected [K, 2] or [K, 3] with K >= 1, got {list(kpt_shape)}")
    return k, d


def split_pose_rows(
    rows: np.ndarray, num_classes: int, kpt_shape: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split pose candidate rows ``(N, 4 + nc + K * D)`` into boxes, class scores and ``(N, K, 3)`` keypoints.

    Args:
        rows: Candidates on the first axis (``output0[0].T``).
        num_classes: ``nc`` (1 for people).
        kpt_shape: ``[K, D]`` from the metadata.

    Returns:
        ``(cxcywh (N, 4), class scores (N, nc), keypoints (N, K, 3))``; keypoints float32 ``x, y, score`` in
        input pixels (score 1 when ``D = 2``).

    Raises:
        ModelOutputError: The row width disagrees with ``4 + nc + K * D`` (the message says both).
    """
    k, d = check_kpt_shape(kpt_shape)
    r = np.asarray(rows)
    want = 4 + int(num_classes) + k * d
    if r.ndim != 2 or r.shape[1] != want:
        raise ModelOutputError(
            f"pose output: expected rows of 4 box + {num_classes} classes + {k}x{d} keypoint values = {want} "
            f"(metadata kpt_shape {[k, d]}), got shape {r.shape}; the metadata and the model disagree"
        )
    raw = r[:, 4 + int(num_classes) :].reshape(r.shape[0], k, d).astype(np.float32)
    kpts = raw if d == 3 else np.concatenate([raw, np.ones((r.shape[0], k, 1), np.float32)], axis=2)
    return r[:, :4], r[:, 4 : 4 + int(num_classes)], kpts


def keypoints_to_original(keypoints: np.ndarray, transform: LetterboxTransform) -> np.ndarray:
    """Map ``(n, K, 3)`` keypoints from input pixels to original-image pixels (scores unchanged).

    Raises:
        InputError: ``keypoints`` is not ``(n, K, 3)``.
    """
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.ndim != 3 or kp.shape[2] != 3:
        raise InputError(f"keypoints: expected shape (n, K, 3) = x, y, score, got {kp.shape}")
    left, top = transform.pad
    h, w = transform.src_shape
    rx, ry = transform.ratio_xy or (transform.ratio, transform.ratio)
    out = kp.copy()
    out[..., 0] = np.clip((kp[..., 0] - left) / rx, 0.0, w)
    out[..., 1] = np.clip((kp[..., 1] - top) / ry, 0.0, h)
    return out
