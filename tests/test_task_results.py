"""Result types beyond boxes: Detections with masks and keypoints, and Classifications."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lite.core.errors import ImageError, InputError
from lite.data import rle
from lite.data.classifications import Classifications
from lite.data.detections import PALETTE, Detections


def _seg() -> Detections:
    masks = np.zeros((3, 40, 60), bool)
    masks[0, 5:15, 5:25] = True
    masks[1, 20:38, 30:55] = True
    masks[2, 0:3, 0:3] = True
    kpts = np.array(
        [[[5, 5, 0.9], [24, 14, 0.8]], [[30, 20, 0.7], [54, 37, 0.2]], [[1, 1, 0.6], [2, 2, 0.6]]], np.float32
    )
    return Detections(
        [[5, 5, 25, 15], [30, 20, 55, 38], [0, 0, 3, 3]],
        [0.9, 0.8, 0.3],
        [0, 1, 1],
        ("a", "b"),
        masks=masks,
        keypoints=kpts,
        keypoint_names=("tl", "br"),
        skeleton=((0, 1),),
    )


def test_masks_and_keypoints_survive_indexing_and_filtering():
    d = _seg()
    assert d.masks.dtype == bool and not d.masks.flags.writeable and d.keypoints.dtype == np.float32
    np.testing.assert_array_equal(d.mask_areas, [200, 450, 9])
    sub = d[d.class_ids == 1]
    assert len(sub) == 2 and sub.masks.shape == (2, 40, 60) and sub.keypoints.shape == (2, 2, 3)
    np.testing.assert_array_equal(sub.masks, d.masks[1:])
    np.testing.assert_array_equal(sub.keypoints, d.keypoints[1:])
    assert sub.keypoint_names == ("tl", "br") and sub.skeleton == ((0, 1),)
    np.testing.assert_array_equal(d[[2, 0]].mask_areas, [9, 200])
    assert d[-1].masks.shape == (1, 40, 60) and d[1:1].masks.shape == (0, 40, 60)
    assert d != Detections(d.xyxy, d.scores, d.class_ids, d.names)  # masks count in equality


def test_json_round_trip_uses_coco_rle():
    d = _seg()
    s = d.to_json()
    back = Detections.from_json(s)
    assert back == d
    raw = json.loads(s)
    assert raw["masks"][0] == rle.encode(d.masks[0]) and isinstance(raw["masks"][0]["counts"], str)
    empty = d[np.zeros(3, bool)]
    assert Detections.from_json(empty.to_json()) == empty
    plain = Detections([[0, 0, 1, 1]], [0.5], [0])
    assert "masks" not in plain.to_dict() and Detections.from_json(plain.to_json()) == plain


def test_to_coco_carries_segmentation_and_keypoints():
    recs = _seg().to_coco(7)
    assert recs[1]["segmentation"] == rle.encode(_seg().masks[1])
    assert recs[1]["keypoints"] == pytest.approx([30, 20, 0.7, 54, 37, 0.2], abs=1e-3)


def test_record_round_trip_with_rle():
    d = _seg()
    row = {"boxes": d.xyxy.tolist(), "scores": d.scores.tolist(), "class_ids": d.class_ids.tolist(),
           "masks": d.masks_rle(), "keypoints": d.keypoints.tolist()}  # fmt: skip
    back = Detections.from_record(row, names=d.names)
    np.testing.assert_array_equal(back.masks, d.masks)
    np.testing.assert_array_equal(back.keypoints, d.keypoints)


def test_draw_paints_masks_and_keypoints():
    masks = np.zeros((1, 100, 120), bool)
    masks[0, 40:80, 10:50] = True
    d = Detections([[10, 40, 50, 80]], [0.9], [2], masks=masks)
    img = np.full((100, 120, 3), 200, np.uint8)
    out = d.draw(img, thickness=1)
    expected = np.rint(200 * 0.6 + np.asarray(PALETTE[2], np.float32) * 0.4)
    assert (out[50:75, 15:45] == expected).all()  # inside the mask, away from the border and the label
    assert (out[85:, 60:] == 200).all() and (img == 200).all()  # outside untouched; input not modified
    kp = Detections(d.xyxy, d.scores, d.class_ids, masks=masks, keypoints=[[[15, 45, 0.9], [45, 75, 0.9]]],
                    skeleton=[(0, 1)]).draw(img, thickness=1)  # fmt: skip
    assert (kp != out).any() and (kp[60, 60:] == out[60, 60:]).all()
    hidden = Detections(d.xyxy, d.scores, d.class_ids, masks=masks, keypoints=[[[15, 45, 0.1], [45, 75, 0.1]]])
    assert (hidden.draw(img, thickness=1) == out).all()  # low-score keypoints are not drawn
    with pytest.raises(ImageError, match="masks belong to"):
        d.draw(np.zeros((10, 10, 3), np.uint8))


def test_supervision_conversion_keeps_masks_and_keypoints():
    pytest.importorskip("supervision")
    d = _seg()
    sv_d = d.to_supervision()
    np.testing.assert_array_equal(sv_d.mask, d.masks)
    np.testing.assert_array_equal(sv_d.data["keypoints"], d.keypoints)
    kp = d.to_supervision_keypoints()
    np.testing.assert_array_equal(kp.xy, d.keypoints[:, :, :2])
    np.testing.assert_array_equal(kp.keypoint_confidence, d.keypoints[:, :, 2])
    assert len(sv_d[sv_d.class_id == 1]) == 2


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"masks": np.zeros((2, 4, 4), bool)}, "n = 1"),
        ({"masks": np.full((1, 4, 4), 2)}, "0/1"),
        ({"keypoints": np.zeros((1, 3, 2))}, r"\(n, K, 3\)"),
        ({"keypoints": np.full((1, 2, 3), np.nan)}, "finite"),
        ({"keypoints": np.zeros((1, 2, 3)), "keypoint_names": ("a",)}, "2 names"),
        ({"keypoints": np.zeros((1, 2, 3)), "skeleton": ((0, 2),)}, r"\[0, 2\)"),
        ({"skeleton": ((0, 1),)}, "without keypoints"),
    ],
)
def test_bad_masks_and_keypoints_are_refused(kw, match):
    with pytest.raises(InputError, match=match):
        Detections([[0, 0, 1, 1]], [0.5], [0], **kw)


def test_no_masks_is_a_clear_error():
    with pytest.raises(InputError, match="segmentation model"):
        Detections([[0, 0, 1, 1]], [0.5], [0]).masks_rle()
    with pytest.raises(InputError, match="pose model"):
        Detections([[0, 0, 1, 1]], [0.5], [0]).to_supervision_keypoints()


def test_classifications():
    c = Classifications([3, 1, 0], [0.6, 0.3, 0.1], ["a", "b", "c"])
    assert [e.name for e in c] == ["class_3", "b", "a"]
    assert c.top1.class_id == 3 and c[-1].name == "a" and len(c) == 3
    assert Classifications.from_json(c.to_json()) == c
    assert json.loads(c.to_json())["labels"] == ["class_3", "b", "a"]
    assert repr(c) == "Classifications(3): class_3 0.60, b 0.30, a 0.10"
    img = np.zeros((60, 200, 3), np.uint8)
    out = c.draw(img)
    assert out[:20].any() and not img.any()
    with pytest.raises(InputError, match="best first"):
        Classifications([0, 1], [0.1, 0.9])
    with pytest.raises(InputError, match="distinct"):
        Classifications([1, 1], [0.5, 0.5])
    with pytest.raises(InputError, match=">= 0"):
        Classifications([-1], [0.5])
    with pytest.raises(InputError, match="shape"):
        Classifications([0, 1], [0.5])
    with pytest.raises(InputError, match="empty"):
        _ = Classifications([], []).top1
