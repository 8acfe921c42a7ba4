"""COCO class names and category ids.

Detectors trained on COCO predict 80 contiguous class ids ``0..79`` (the "model order"),
while the COCO annotation files and the evaluation server use the original 91-slot
category ids ``1..90`` with gaps (12, 26, 29, 30, 45, 66, 68, 69, 71, 83 are unused).
`COCO80_TO_91` maps the former to the latter.

The names follow the darknet ``coco.names`` spelling (``motorbike``, ``aeroplane``,
``sofa``, ``pottedplant``, ``diningtable``, ``tvmonitor``), which is also what the
project's COCO annotation files use. It is lite's one COCO name list: a model whose metadata
names the 80 COCO classes in another spelling (Ultralytics' ``dining table``, ``tv``,
``motorcycle`` …) gets these names (`canonical_names`, applied where metadata is read), so every
family labels the same class the same way. `COCO_NAME_ALIASES` lists the other spellings.
"""

from __future__ import annotations

import numpy as np

from lite.core.errors import InputError

__all__ = [
    "COCO_NAMES", "COCO80_TO_91", "COCO_NAME_ALIASES", "COCO_KEYPOINT_NAMES", "COCO_SKELETON", "canonical_names",
    "coco80_to_91", "name_key",
]  # fmt: skip

#: The 80 COCO class names, indexed by model class id (0..79).
COCO_NAMES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorbike", "aeroplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag",
    "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat",
    "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle", "wine glass", "cup",
    "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot",
    "hot dog", "pizza", "donut", "cake", "chair", "sofa", "pottedplant", "bed", "diningtable",
    "toilet", "tvmonitor", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
    "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
)  # fmt: skip

#: Other spellings of COCO class names (official COCO / Ultralytics -> darknet), by `name_key`.
COCO_NAME_ALIASES: dict[str, str] = {
    "motorcycle": "motorbike",
    "airplane": "aeroplane",
    "couch": "sofa",
    "tv": "tvmonitor",
    "hairdryer": "hairdrier",
}


def name_key(name: str) -> str:
    """A class name without case, spaces or punctuation, other COCO spellings folded (``"TV"`` -> ``"tvmonitor"``)."""
    key = "".join(ch for ch in str(name).lower() if ch.isalnum())
    return COCO_NAME_ALIASES.get(key, key)


_COCO_KEYS = tuple(name_key(n) for n in COCO_NAMES)


def canonical_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """`COCO_NAMES` when ``names`` are the 80 COCO classes in order in any spelling, else ``names`` unchanged."""
    if len(names) == len(COCO_NAMES) and tuple(name_key(n) for n in names) == _COCO_KEYS:
        return COCO_NAMES
    return names


#: COCO category id (1..90) of each of the 80 model classes, indexed by model class id.
COCO80_TO_91: tuple[int, ...] = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31,
    32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57,
    58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87,
    88, 89, 90,
)  # fmt: skip

_LUT = np.asarray(COCO80_TO_91, dtype=np.int64)


def coco80_to_91(class_ids: np.ndarray) -> np.ndarray:
    """Map model class ids (0..79) to COCO category ids (1..90).

    Args:
        class_ids: Integer array (any shape) of model class ids in ``0..79``; a list or a
            scalar is accepted too.

    Returns:
        An int64 array of the same shape holding the COCO category ids.

    Raises:
        InputError: If the ids are not integers or any id is outside ``0..79``.
    """
    arr = np.asarray(class_ids)
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise InputError(f"class_ids: expected integer class ids in 0..79, got non-integral values ({arr.dtype})")
    elif arr.dtype.kind not in "iu":
        raise InputError(f"class_ids: expected an integer array of class ids in 0..79, got dtype {arr.dtype}")
    ids = arr.astype(np.int64)
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= len(COCO80_TO_91):
        raise InputError(f"class_ids: expected ids in 0..{len(COCO80_TO_91) - 1}, got values in {lo}..{hi}")
    return _LUT[ids]


#: The 17 COCO person keypoints, in the order of COCO's annotations and of YOLOv8/YOLO11-pose.
COCO_KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
)  # fmt: skip
#: COCO's person skeleton as pairs of 0-based keypoint indices (the annotations' ``skeleton``, which is 1-based).
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9), (8, 10),
    (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip
