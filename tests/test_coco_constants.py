"""COCO_NAMES / COCO80_TO_91 against the shared COCO files, and coco80_to_91."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lite.core.errors import InputError
from lite.data.coco import COCO80_TO_91, COCO_NAMES, coco80_to_91


def test_shapes_and_ordering():
    assert len(COCO_NAMES) == 80 and len(set(COCO_NAMES)) == 80
    assert len(COCO80_TO_91) == 80 and len(set(COCO80_TO_91)) == 80
    assert COCO_NAMES[:6] == ("person", "bicycle", "car", "motorbike", "aeroplane", "bus")
    assert COCO_NAMES[-1] == "toothbrush"
    assert list(COCO80_TO_91) == sorted(COCO80_TO_91)
    assert COCO80_TO_91[:12] == (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13)
    assert COCO80_TO_91[-1] == 90
    missing = sorted(set(range(1, 91)) - set(COCO80_TO_91))
    assert missing == [12, 26, 29, 30, 45, 66, 68, 69, 71, 83]


def test_names_match_shared_coco_names(shared: Path):
    path = shared / "coco" / "coco.names"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    assert tuple(path.read_text().splitlines()) == COCO_NAMES


def test_category_ids_match_shared_annotations(shared: Path):
    path = shared / "coco" / "val2017_128" / "instances.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    by_name = {c["name"]: c["id"] for c in json.loads(path.read_text())["categories"]}
    assert tuple(by_name[n] for n in COCO_NAMES) == COCO80_TO_91


def test_coco80_to_91():
    out = coco80_to_91(np.array([0, 11, 79]))
    assert out.dtype == np.int64 and out.tolist() == [1, 13, 90]
    assert coco80_to_91(np.arange(80)).tolist() == list(COCO80_TO_91)
    assert coco80_to_91([[0, 1], [2, 3]]).shape == (2, 2)
    assert coco80_to_91(np.array([5.0])).tolist() == [6]
    assert coco80_to_91(np.zeros(0, np.int64)).shape == (0,)
    assert int(coco80_to_91(np.int32(24))) == 27


@pytest.mark.parametrize("bad", [[80], [-1], [0.5], ["a"], [np.nan]])
def test_coco80_to_91_rejects(bad):
    with pytest.raises(InputError, match="expected"):
        coco80_to_91(np.array(bad))
