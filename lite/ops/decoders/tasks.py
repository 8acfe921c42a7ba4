"""Which task a model's outputs belong to, when it is not box detection (pose keypoints, instance masks,
whole-image classification).

Detection decoders read ``(B, 4+nc, N)`` and friends; a YOLOv8-pose ``(B, 56, N)`` or YOLOv8-seg ``(B, 116, N)``
output has the same rank and would read as a detector with 52 or 112 classes. `find_task` recognises those
signatures (and the ultralytics ``task`` / ``kpt_shape`` metadata) so that a detector refuses them by name.
"""

from __future__ import annotations

from collections.abc import Mapping

from lite.ops.decoders.base import Shape, int_dim

__all__ = ["find_task", "POSE_CHANNELS", "SEGMENT_CHANNELS", "MASK_COEFFICIENTS"]

#: YOLOv8/YOLO11-pose: 4 box + 1 person score + 17 keypoints x (x, y, visibility).
POSE_CHANNELS = 4 + 1 + 17 * 3
#: Mask coefficients per box of the YOLOv8/YOLO11-seg head (one per prototype).
MASK_COEFFICIENTS = 32
#: YOLOv8/YOLO11-seg on COCO: 4 box + 80 classes + 32 mask coefficients.
SEGMENT_CHANNELS = 4 + 80 + MASK_COEFFICIENTS

_META_TASKS = {"pose": "pose", "segment": "segment", "seg": "segment", "classify": "classify", "obb": "obb"}


def find_task(
    shapes: Mapping[str, Shape], metadata: Mapping[str, str], num_names: int | None
) -> tuple[str, str] | None:
    """``(task, reason)`` when the outputs or metadata say the model is not a box detector, else None.

    Args:
        shapes: Output name → shape.
        metadata: The model's raw metadata (ultralytics writes ``task`` and, for pose, ``kpt_shape``).
        num_names: Class names given (argument, metadata...): a detector with that many classes is believed.
    """
    task = str(metadata.get("task", "")).strip().lower()
    if task in _META_TASKS:
        return _META_TASKS[task], f"the model's metadata says task={task!r}"
    if "kpt_shape" in metadata:
        return "pose", f"the model's metadata has kpt_shape={metadata['kpt_shape']}"
    if len(shapes) == 1:
        name, shape = next(iter(shapes.items()))
        nc = int_dim(shape[1]) if len(shape) == 2 else None
        if nc is not None and nc >= 2:
            return "classify", (
                f"its one output {name}{list(shape)} is one score per class for the whole image (an image "
                f"classifier such as ResNet, MobileNet or YOLOv8-cls), not boxes"
            )
    three = {n: s for n, s in shapes.items() if len(s) == 3}
    four = {n: s for n, s in shapes.items() if len(s) == 4}
    if len(three) != 1 or len(shapes) > 2:
        return None
    name, shape = next(iter(three.items()))
    c, n = int_dim(shape[1]), int_dim(shape[2])
    if c is None or (n is not None and c >= n):
        return None  # not channels-first (B, C, N)
    if len(four) == 1:
        pname, pshape = next(iter(four.items()))
        k = int_dim(pshape[1])
        if k is not None and c > 4 + k:
            return "segment", (
                f"output {name}{list(shape)} beside {pname}{list(pshape)} is a segmentation head: 4 box values, "
                f"{c - 4 - k} classes and {k} mask coefficients per anchor, with {k} mask prototypes"
            )
        return None
    if len(shapes) != 1 or num_names is not None:
        return None
    if c == POSE_CHANNELS:
        return "pose", (
            f"output {name}{list(shape)} is a YOLOv8/YOLO11-pose head (4 box values, 1 person score, "
            f"17 keypoints x 3), not a detector with {c - 4} classes (pass names= with {c - 4} names if it is one)"
        )
    if c == SEGMENT_CHANNELS:
        return "segment", (
            f"output {name}{list(shape)} is a YOLOv8/YOLO11-seg head (4 box values, 80 classes, "
            f"{MASK_COEFFICIENTS} mask coefficients), not a detector with {c - 4} classes "
            f"(pass names= with {c - 4} names if it is one)"
        )
    return None
