"""The one place that knows strides, feature-map sizes and grid / prior coordinates.

Every decoder asks this module: how many cells a set of strides gives at an input size
(``ceil(H / s) · ceil(W / s)`` per level, as a padded convolution produces), which stride set
explains a number of rows, which input sizes explain it, what stride a feature map of a given
size has, and the (cached) cell coordinates of every level, row-major per level, levels by
increasing stride.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

from lite.core.errors import InputError

__all__ = [
    "STRIDE_SETS",
    "level_sizes",
    "count_cells",
    "infer_strides",
    "strides_from_maps",
    "sizes_fitting",
    "cell_grid",
    "priors",
    "map_priors",
]

#: Stride sets tried, in order, when a model does not say its strides.
STRIDE_SETS: tuple[tuple[int, ...], ...] = ((8, 16, 32), (8, 16, 32, 64), (16, 32, 64), (8, 16), (32,), (16, 32))


def level_sizes(input_hw: Sequence[int], strides: Iterable[int]) -> list[tuple[int, int]]:
    """``(ceil(H / s), ceil(W / s))`` per stride."""
    h, w = int(input_hw[0]), int(input_hw[1])
    return [(math.ceil(h / s), math.ceil(w / s)) for s in strides]


def count_cells(input_hw: Sequence[int], strides: Iterable[int], per_cell: int = 1) -> int:
    """Total grid cells over the levels (times ``per_cell`` anchors per cell)."""
    return per_cell * sum(h * w for h, w in level_sizes(input_hw, strides))


def infer_strides(
    num_rows: int,
    input_hw: Sequence[int],
    candidates: Sequence[Sequence[int]] | None = None,
    per_cell: int = 1,
) -> tuple[int, ...] | None:
    """The first stride set whose grids at ``input_hw`` hold exactly ``num_rows`` rows, or None.

    Args:
        num_rows: Rows (anchors, priors) of a flat output.
        input_hw: Network input ``(H, W)``.
        candidates: Stride sets to try (default `STRIDE_SETS`).
        per_cell: Anchors per cell (3 for YOLOv5's anchor-based outputs).
    """
    for ss in candidates or STRIDE_SETS:
        if count_cells(input_hw, ss, per_cell) == num_rows:
            return tuple(int(s) for s in ss)
    return None


def strides_from_maps(sizes: Sequence[tuple[int, int]], input_hw: Sequence[int]) -> tuple[int, ...]:
    """The stride of each ``(h, w)`` feature map at ``input_hw`` (``H / h``, which must be whole and match W).

    Raises:
        InputError: A map size is not the input size divided by a whole stride.
    """
    out = []
    for h, w in sizes:
        s = input_hw[0] / h
        if abs(s - round(s)) > 1e-6 or abs(input_hw[1] / w - s) > 1e-6:
            raise InputError(
                f"cannot infer the stride of a {h}x{w} feature map from input "
                f"{input_hw[0]}x{input_hw[1]}; pass strides="
            )
        out.append(round(s))
    return tuple(out)


def sizes_fitting(
    num_rows: int,
    strides: Sequence[int],
    per_cell: int = 1,
    *,
    lo: int = 32,
    hi: int = 2048,
) -> list[tuple[int, int]]:
    """Square input sizes (multiples of the largest stride in ``[lo, hi]``) giving exactly ``num_rows`` rows."""
    step = max(strides)
    sizes = range(max(step, lo - lo % step), hi + 1, step)
    return [(n, n) for n in sizes if count_cells((n, n), strides, per_cell) == num_rows]


@lru_cache(maxsize=64)
def cell_grid(h: int, w: int, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``(gx, gy)`` ``float32`` cell coordinates of an ``h × w`` map, row-major, plus ``offset``."""
    gy, gx = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    return gx.ravel() + np.float32(offset), gy.ravel() + np.float32(offset)


@lru_cache(maxsize=32)
def priors(
    input_hw: tuple[int, int], strides: tuple[int, ...], offset: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(gx, gy, stride)`` per cell of every level concatenated (levels in ``strides`` order).

    ``gx, gy`` are in cells (plus ``offset``: 0.5 for cell centres); multiply by ``stride`` for pixels.
    The arrays are cached: do not modify them.
    """
    return map_priors(tuple(level_sizes(input_hw, strides)), tuple(strides), offset)


@lru_cache(maxsize=32)
def map_priors(
    sizes: tuple[tuple[int, int], ...], strides: tuple[int, ...], offset: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`priors` of feature maps of the given ``(h, w)`` sizes (as the outputs have them), one stride each."""
    gxs, gys, ss = [], [], []
    for (h, w), s in zip(sizes, strides, strict=True):
        gx, gy = cell_grid(h, w, offset)
        gxs.append(gx)
        gys.append(gy)
        ss.append(np.full(h * w, s, np.float32))
    out = np.concatenate(gxs), np.concatenate(gys), np.concatenate(ss)
    for a in out:
        a.flags.writeable = False
    return out
