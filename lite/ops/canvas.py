"""Batches of letterbox canvases, for engines that normalise the ``uint8`` canvas themselves.

:meth:`lite.ops.letterbox.Letterbox.canvas` renders one image into a cached canvas;
:func:`canvas_batch` stacks several into one ``(B, H, W, 3)`` ``uint8`` array with the same
geometry rules as :meth:`~lite.ops.letterbox.Letterbox.batch` (one common shape: the largest
height and width among the images' own shapes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lite.errors import InputError
from lite.ops.letterbox import Letterbox, LetterboxTransform

__all__ = ["canvas_batch"]


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
