"""The hot path's feeds: letterbox canvases and reusable tensors.

[`lite.ops.letterbox.Letterbox.canvas`][lite.ops.letterbox.Letterbox.canvas] renders one image into a cached canvas;
[`Letterbox.canvas_batch`][lite.ops.letterbox.Letterbox.canvas_batch] stacks several into one
``(B, H, W, 3)`` ``uint8`` array with the geometry of [`batch`][lite.ops.letterbox.Letterbox.batch]
(`canvas_batch` here is kept as a shorthand for it). `TensorCache` + `tensor_into` give the float tensor for the others
without a new array per call.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from lite.ops.letterbox import Letterbox, LetterboxTransform
from lite.ops.preprocess import normalize_into

__all__ = ["canvas_batch", "TensorCache", "tensor_into"]

_SHAPES_PER_THREAD = 8


def canvas_batch(lb: Letterbox, imgs: Sequence[np.ndarray]) -> tuple[np.ndarray, list[LetterboxTransform]]:
    """``lb.canvas_batch(imgs)``: see [`Letterbox.canvas_batch`][lite.ops.letterbox.Letterbox.canvas_batch]."""
    return lb.canvas_batch(imgs)


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
