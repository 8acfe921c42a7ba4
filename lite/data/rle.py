"""COCO run-length encoding (RLE) of binary masks, compatible with pycocotools.

COCO stores a binary ``(H, W)`` mask as the lengths of alternating runs of 0s and 1s, reading the mask in
column-major (Fortran) order and starting with a run of 0s (possibly of length 0). Two spellings exist:

* uncompressed: ``{"size": [H, W], "counts": [int, ...]}`` (the ``iscrowd`` ground truth of COCO);
* compressed: ``{"size": [H, W], "counts": "<str>"}``, pycocotools' ``rleToString`` text: each count (from the
  fourth on, its difference to the count two before) written in 5-bit groups, least significant first, each
  group a character ``48 + bits`` with ``0x20`` set when another group follows (``0x10`` is the sign).

`encode` and `decode` here give the same strings and arrays as ``pycocotools.mask.encode`` / ``decode`` (checked
in ``tests/test_rle.py``) without needing pycocotools, so results serialise to JSON and Parquet everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lite.core.errors import InputError

__all__ = ["encode", "decode", "area", "run_lengths", "counts_to_string", "string_to_counts"]


def _check_mask(mask: Any) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim != 2:
        raise InputError(f"RLE: expected one binary (H, W) mask, got shape {m.shape}")
    if m.dtype != bool:
        if m.dtype.kind not in "iuf" or not np.isin(m, (0, 1)).all():
            raise InputError(f"RLE: expected a boolean (or 0/1) mask, got dtype {m.dtype} with other values")
        m = m.astype(bool)
    return m


def run_lengths(mask: np.ndarray) -> np.ndarray:
    """COCO run lengths of a binary ``(H, W)`` mask (column-major, starting with the 0s).

    Args:
        mask: Boolean (or 0/1) ``(H, W)`` array.

    Returns:
        ``int64`` counts summing to ``H * W``.

    Raises:
        InputError: ``mask`` is not a 2-D binary array.
    """
    flat = _check_mask(mask).ravel(order="F")
    if flat.size == 0:
        return np.zeros(1, np.int64)  # pycocotools: one run of 0 zeros
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate(([0], change, [flat.size]))
    counts = np.diff(edges)
    if flat[0]:  # COCO runs start with the 0s
        counts = np.concatenate(([0], counts))
    return counts.astype(np.int64)


def counts_to_string(counts: np.ndarray | list[int]) -> str:
    """pycocotools' compressed ``counts`` string of a run-length list (``rleToString``)."""
    cnts = [int(c) for c in counts]
    out: list[str] = []
    for i, c in enumerate(cnts):
        x = c - cnts[i - 2] if i > 2 else c
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5  # arithmetic shift, as C's on a signed long
            more = x != -1 if ch & 0x10 else x != 0
            if more:
                ch |= 0x20
            out.append(chr(ch + 48))
    return "".join(out)


def string_to_counts(s: str | bytes) -> np.ndarray:
    """Inverse of `counts_to_string` (pycocotools' ``rleFrString``).

    Raises:
        InputError: The string holds a character outside pycocotools' alphabet or ends mid-number.
    """
    data = s.encode("ascii") if isinstance(s, str) else bytes(s)
    cnts: list[int] = []
    p, n = 0, len(data)
    while p < n:
        x, k, more = 0, 0, True
        c = 0
        while more:
            if p >= n:
                raise InputError("RLE counts string: expected more characters, the last number is cut off")
            c = data[p] - 48
            if not 0 <= c < 64:
                raise InputError(f"RLE counts string: expected characters '0'..'o', got {chr(data[p])!r} at {p}")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
        if c & 0x10:
            x |= -1 << (5 * k)
        if len(cnts) > 2:
            x += cnts[-2]
        cnts.append(x)
    return np.asarray(cnts, dtype=np.int64)


def encode(mask: np.ndarray, *, compressed: bool = True) -> dict[str, Any]:
    """COCO RLE of one binary mask.

    Args:
        mask: Boolean (or 0/1) ``(H, W)`` array.
        compressed: The counts as pycocotools' string (default, what ``pycocotools.mask.encode`` gives, decoded
            to ``str``), or as a plain list of ints (the uncompressed form).

    Returns:
        ``{"size": [H, W], "counts": str | list[int]}``.

    Raises:
        InputError: ``mask`` is not a 2-D binary array.
    """
    m = _check_mask(mask)
    counts = run_lengths(m)
    packed: str | list[int] = counts_to_string(counts) if compressed else counts.tolist()
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": packed}


def _counts(rle: Mapping[str, Any]) -> tuple[int, int, np.ndarray]:
    if not isinstance(rle, Mapping) or "size" not in rle or "counts" not in rle:
        raise InputError(f"RLE: expected a dict with 'size' [H, W] and 'counts', got {rle!r:.80}")
    size = rle["size"]
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError) as e:
        raise InputError(f"RLE size: expected [H, W], got {size!r}") from e
    if h < 0 or w < 0:
        raise InputError(f"RLE size: expected non-negative [H, W], got {size!r}")
    c = rle["counts"]
    counts = string_to_counts(c) if isinstance(c, (str, bytes)) else np.asarray(c, dtype=np.int64).reshape(-1)
    if counts.size and counts.min() < 0:
        raise InputError("RLE counts: expected non-negative run lengths, got a negative one")
    if int(counts.sum()) != h * w:
        raise InputError(f"RLE counts: expected runs summing to H*W = {h * w}, got {int(counts.sum())}")
    return h, w, counts


def decode(rle: Mapping[str, Any]) -> np.ndarray:
    """The boolean ``(H, W)`` mask of a COCO RLE (compressed or not).

    Raises:
        InputError: ``rle`` is not a valid RLE (missing keys, runs not summing to ``H * W``).
    """
    h, w, counts = _counts(rle)
    values = np.zeros(counts.size, dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    return flat.reshape((w, h)).T.copy()


def area(rle: Mapping[str, Any]) -> int:
    """Number of foreground pixels of a COCO RLE (the sum of its odd runs)."""
    return int(_counts(rle)[2][1::2].sum())
