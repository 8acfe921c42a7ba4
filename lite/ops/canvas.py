"""The hot path's feeds: letterbox canvases and reusable tensors.

[`lite.ops.letterbox.Letterbox.canvas`][lite.ops.letterbox.Letterbox.canvas] renders one image into a cached canvas;
`canvas_batch` stacks several into one ``(B, H, W, 3)`` ``uint8`` array with the same
geometry rules as [`batch`][lite.ops.letterbox.Letterbox.batch] (one common shape: the largest
height and width among the images' own shapes), for engines that normalise the canvas
themselves. `TensorCache` + `tensor_into` give the float tensor for the others
without a new array per call.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from lite.errors import InputError
from lite.ops.letterbox import Letterbox, LetterboxTransform
from lite.ops.preprocess import normalize_into

__all__ = ["canvas_batch", "TensorCache", "tensor_into"]

_SHAPES_PER_THREAD = 8


def canvas_batch(lb: Letterbox, imgs: Sequence[np.ndarray]) -> tuple[np.ndarray, list[LetterboxTransform]]:
    """Letterboxes BGR ``uint8`` images into one ``(B, H, W, 3)`` ``uint8`` canvas batch.

    Args:
        lb: The letterbox (size, stride, config).
        imgs: BGR ``uint8`` images ``(h, w, 3)``; sizes may differ.

    Returns:
        ``(canvases, transforms)``: a new array and one transform per image.

    Raises:
        InputError: ``imgs`` is empty.
    """
    if len(imgs) == 0:
        raise InputError("expected at least one image in the batch; got an empty sequence")
    ts = [lb.geometry(im.shape[:2]) for im in imgs]
    common = (max(t.dst_shape[0] for t in ts), max(t.dst_shape[1] for t in ts))
    dst = None if all(t.dst_shape == common for t in ts) else common
    out = np.empty((len(imgs), *common, 3), np.uint8)
    transforms = []
    for i, im in enumerate(imgs):
        canvas, t = lb.canvas(im, dst)
        out[i] = canvas
        transforms.append(t)
    return out, transforms


class TensorCache:
    """Reusable ``float32`` tensors, one per shape and thread (a handful of shapes at most)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self, shape: tuple[int, ...]) -> np.ndarray:
        """This thread's tensor of ``shape`` (its contents are whatever the last user left)."""
        try:
            cache = self._local.tensors
        except AttributeError:
            cache = self._local.tensors = {}
        out = cache.get(shape)
        if out is None:
            if len(cache) >= _SHAPES_PER_THREAD:
                cache.clear()
            out = cache[shape] = np.empty(shape, np.float32)
        return out


def tensor_into(lb: Letterbox, img: np.ndarray, cache: TensorCache) -> tuple[np.ndarray, LetterboxTransform]:
    """``lb(img)`` written into this thread's cached ``(1, 3, H, W)`` tensor instead of a new one.

    The result is overwritten by the next call on the same thread with the same shape: consume it
    (or copy it) first. Same values as ``lb(img)``, bit for bit.
    """
    canvas, t = lb.canvas(img)
    out = cache.get((1, 3, *t.dst_shape))
    normalize_into(canvas, lb.config, out[0])
    return out, t
