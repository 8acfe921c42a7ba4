"""lite.data.rle: COCO RLE written without pycocotools, checked against pycocotools itself."""

from __future__ import annotations

import numpy as np
import pytest

from lite.core.errors import InputError
from lite.data import rle


def _masks() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = [np.zeros((0, 7), bool), np.zeros((5, 4), bool), np.ones((3, 6), bool)]
    for _ in range(60):
        h, w = rng.integers(1, 70, 2)
        m = rng.random((h, w)) < rng.random()
        out.append(m)
        blob = np.zeros((h, w), bool)
        blob[rng.integers(0, h) :, rng.integers(0, w) :] = True
        out.append(blob)
    big = np.zeros((480, 640), bool)
    big[100:400, 50:600] = True  # long runs: multi-character numbers and negative differences
    big[200:210, 300:310] = False
    out.append(big)
    return out


def test_encode_decode_match_pycocotools():
    mask_api = pytest.importorskip("pycocotools.mask")
    for m in _masks():
        ref = mask_api.encode(np.asfortranarray(m.astype(np.uint8)))
        mine = rle.encode(m)
        assert mine["size"] == list(ref["size"])
        assert mine["counts"] == ref["counts"].decode("ascii")
        assert rle.area(mine) == int(mask_api.area(ref))
        np.testing.assert_array_equal(rle.decode(mine), m)
        np.testing.assert_array_equal(rle.decode({"size": ref["size"], "counts": ref["counts"]}), m)
        np.testing.assert_array_equal(mask_api.decode({"size": mine["size"], "counts": mine["counts"]}), m)
        plain = rle.encode(m, compressed=False)
        np.testing.assert_array_equal(rle.decode(plain), m)
        if m.size:  # pycocotools' own uncompressed -> compressed conversion agrees
            fr = mask_api.frPyObjects(plain, *m.shape)
            assert fr["counts"] == ref["counts"]


def test_bad_rle_is_refused():
    with pytest.raises(InputError, match="H\\*W"):
        rle.decode({"size": [2, 2], "counts": [1, 2]})
    with pytest.raises(InputError, match="'size'"):
        rle.decode({"counts": [4]})
    with pytest.raises(InputError, match="characters"):
        rle.decode({"size": [2, 2], "counts": "~~"})
    with pytest.raises(InputError, match="0/1"):
        rle.encode(np.full((2, 2), 3))  # not 0/1
    with pytest.raises(InputError, match="one binary"):
        rle.encode(np.zeros((1, 2, 2), bool))
