"""Decoders of the tasks beyond box detection, and how a task is told from a model's outputs.

=================  =================================================================================
decoder            outputs (task)
=================  =================================================================================
``yolov8_seg``     ultralytics ``(B, 4+nc+nm, N)`` + prototypes ``(B, nm, H/4, W/4)`` (segment)
``yolov5_seg``     YOLOv5-seg ``(B, N, 5+nc+nm)`` + prototypes ``(B, nm, H/4, W/4)`` (segment)
``yolov8_pose``    ultralytics ``(B, 4+nc+K·D, N)``, ``K, D`` from metadata ``kpt_shape`` (pose)
``classify``       one ``(B, C)`` score row per image: logits or probabilities (classify)
=================  =================================================================================

The segmentation and pose decoders give the shared `Candidates` with the task's columns in ``extra`` (mask
coefficients, flattened keypoints): thresholding, top-k and the one NMS (`lite.ops.candidates.finish`) are the
detectors', and `Decoder.instance_fields` builds masks (`lite.ops.masks.prototype_masks`) or keypoints only for
what NMS kept. The classifier decoder reads no boxes: `ClassifyDecoder.probabilities`.

`find_task` recognises another task's signature (and the ultralytics ``task`` / ``kpt_shape`` metadata) so that a
model class without that task refuses it by name instead of reading it as boxes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from lite.core.errors import InputError, ModelOutputError
from lite.ops.candidates import Candidates
from lite.ops.classify import to_probabilities
from lite.ops.decoders import base
from lite.ops.decoders.base import Decoder, Hints, Plan, Shape, int_dim, register_decoder
from lite.ops.decoders.yolov6 import NEGATIVE_SIZE_LIMIT, negative_size_fraction
from lite.ops.keypoints import check_kpt_shape, keypoints_to_original
from lite.ops.masks import prototype_masks

__all__ = [
    "find_task", "TASK_NAMES", "META_TASKS", "POSE_CHANNELS", "SEGMENT_CHANNELS", "MASK_COEFFICIENTS",
    "YOLOv8SegDecoder", "YOLOv5SegDecoder", "YOLOv8PoseDecoder", "ClassifyDecoder",
]  # fmt: skip

#: The tasks lite's decoders read, in the order lite lists them.
TASK_NAMES = ("detect", "segment", "pose", "classify")

#: YOLOv8/YOLO11-pose: 4 box + 1 person score + 17 keypoints x (x, y, visibility).
POSE_CHANNELS = 4 + 1 + 17 * 3
#: Mask coefficients per box of the YOLOv8/YOLO11-seg head (one per prototype).
MASK_COEFFICIENTS = 32
#: YOLOv8/YOLO11-seg on COCO: 4 box + 80 classes + 32 mask coefficients.
SEGMENT_CHANNELS = 4 + 80 + MASK_COEFFICIENTS

#: Task names in model metadata (ultralytics ``task``) → lite's task names (``obb``: rotated boxes, not read).
META_TASKS = {
    "detect": "detect", "segment": "segment", "seg": "segment", "pose": "pose", "classify": "classify",
    "cls": "classify", "obb": "obb",
}  # fmt: skip


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
    if task in META_TASKS and META_TASKS[task] != "detect":
        return META_TASKS[task], f"the model's metadata says task={task!r}"
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


def _xyxy(cx: np.ndarray, cy: np.ndarray, w: np.ndarray, h: np.ndarray) -> np.ndarray:
    w, h = np.maximum(w, 0), np.maximum(h, 0)
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)


def _split_protos(shapes: Mapping[str, Shape]) -> tuple[str, str, int] | None:
    """``(rows output, prototypes output, nm)`` of a two-output segmentation model (one 3-D, one 4-D), else None."""
    if len(shapes) != 2:
        return None
    three = [n for n, s in shapes.items() if len(s) == 3]
    four = [n for n, s in shapes.items() if len(s) == 4]
    if len(three) != 1 or len(four) != 1:
        return None
    nm = int_dim(shapes[four[0]][1])
    if nm is None or nm < 1:
        return None
    return three[0], four[0], nm


def _seg_outputs(
    shapes: Mapping[str, Shape], hints: Hints, *, channels_first: bool
) -> tuple[str, str, int, int, int | None] | None:
    """``(rows output, prototypes output, nm, columns per row, rows)`` of a segmentation model whose rows are
    ``(B, C, N)`` (``channels_first``) or ``(B, N, C)``, with prototypes at a quarter of the input; else None."""
    found = _split_protos(shapes)
    if found is None:
        return None
    rows_name, proto_name, nm = found
    a, b = int_dim(shapes[rows_name][1]), int_dim(shapes[rows_name][2])
    c, n = (a, b) if channels_first else (b, a)
    if c is None or (n is not None and c >= n) or not _protos_fit(shapes[proto_name], hints):
        return None
    return rows_name, proto_name, nm, c, n


def _protos_fit(shape: Shape, hints: Hints) -> bool:
    """Prototypes at a quarter of the input (unknown sizes fit)."""
    hp, wp = int_dim(shape[2]), int_dim(shape[3])
    if hints.input_hw is None or hp is None or wp is None:
        return True
    return (hp * 4, wp * 4) == tuple(hints.input_hw)


class _ChannelsFirst(Decoder):
    """Shared part of the ultralytics ``(B, 4 + nc + extra, N)`` task heads (anchors on the last axis)."""

    def _extra_width(self, plan: Plan) -> int:
        raise NotImplementedError

    def refine(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> Plan:
        out = np.asarray(outputs[plan.names[0]])
        nc = int(plan.num_classes or 0)
        logits = base.scores_are_logits(out[:, 4 : 4 + nc], f"decoder {self.name!r}, rows 4+", may_be_logits=False)
        return replace(plan.with_options(logits=logits), resolved=True)

    def check(self, plan: Plan, outputs: Mapping[str, np.ndarray], input_hw: tuple[int, int]) -> str | None:
        frac = negative_size_fraction(np.swapaxes(np.asarray(outputs[plan.names[0]])[:, :4], 1, 2))
        if frac > NEGATIVE_SIZE_LIMIT:
            return f"{frac:.0%} of the boxes have a negative width or height: rows 0-3 are not cx, cy, w, h"
        return None

    def class_scores(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> np.ndarray | None:
        return np.asarray(outputs[plan.names[0]])[0, 4 : 4 + int(plan.num_classes or 0)]

    def candidates(self, plan, outputs, input_hw, *, conf, multi_label, pre_nms_topk):
        out = np.asarray(outputs[plan.names[0]], dtype=np.float32)
        nc = int(plan.num_classes or 0)
        width = self._extra_width(plan)
        if out.shape[1] != 4 + nc + width:
            raise ModelOutputError(
                f"decoder {self.name!r}: expected {4 + nc + width} rows (4 box + {nc} classes + {width}), got "
                f"{out.shape[1]}"
            )
        logits = bool(plan.options.get("logits", False))
        results = []
        for b in range(out.shape[0]):
            a, c, s = base.select(out[b, 4 : 4 + nc], conf, multi_label, logits=logits, classes_first=True)
            if len(a) == 0:
                results.append(_empty_with(width))
                continue
            order = base.topk(s, pre_nms_topk)
            a, c, s = a[order], c[order], s[order]
            cx, cy, w, h = out[b, :4][:, a]
            extra = np.ascontiguousarray(out[b, 4 + nc :][:, a].T)
            results.append(Candidates(_xyxy(cx, cy, w, h), s, c, extra))
        return results


def _empty_with(width: int) -> Candidates:
    e = Candidates.empty()
    return Candidates(e.boxes, e.scores, e.class_ids, np.zeros((0, width), np.float32))


def _masks_of(plan: Plan, kept: Candidates, outputs: Mapping[str, np.ndarray], index: int, transform: Any) -> dict:
    protos = np.asarray(outputs[plan.names[1]])[index]
    coef = kept.extra if kept.extra is not None else np.zeros((0, protos.shape[0]), np.float32)
    return {"masks": prototype_masks(protos, coef, kept.boxes, transform)}


@register_decoder("yolov8_seg")
class YOLOv8SegDecoder(_ChannelsFirst):
    """Ultralytics YOLOv8/YOLO11-seg: ``(B, 4+nc+nm, N)`` rows and ``(B, nm, H/4, W/4)`` mask prototypes."""

    signature = "(B, 4+nc+nm, N) cx,cy,w,h,classes,mask coefficients + (B, nm, H/4, W/4) prototypes"
    task = "segment"

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        found = _seg_outputs(shapes, hints, channels_first=True)
        if found is None:
            return None
        rows_name, proto_name, nm, c, n = found
        plan = self.flat_plan(rows_name, c - 4 - nm, n, hints, 0.9, unknown_rows=0.85, options={"nm": nm})
        return None if plan is None else replace(plan, names=(rows_name, proto_name))

    def _extra_width(self, plan: Plan) -> int:
        return int(plan.options["nm"])

    def describe_options(self, plan: Plan) -> str:
        return f"{plan.options['nm']} mask prototypes"

    def instance_fields(self, plan, kept, outputs, index, transform):
        return _masks_of(plan, kept, outputs, index, transform)


@register_decoder("yolov5_seg")
class YOLOv5SegDecoder(Decoder):
    """YOLOv5-seg: ``(B, N, 5+nc+nm)`` rows (score = obj · cls) and ``(B, nm, H/4, W/4)`` mask prototypes."""

    signature = "(B, 3*cells, 5+nc+nm) cx,cy,w,h,obj,classes,mask coefficients + (B, nm, H/4, W/4) prototypes"
    task = "segment"

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        found = _seg_outputs(shapes, hints, channels_first=False)
        if found is None:
            return None
        rows_name, proto_name, nm, c, n = found
        nc = c - 5 - nm
        if not base.plausible_classes(nc, n, hints):
            return None
        strides, mismatch, fits = base.flat_strides(n, hints, per_cell=3)
        conf = 0.3 if mismatch else base.class_confidence(nc, hints, 0.9)
        return self.plan(
            (rows_name, proto_name), nc, strides=strides, confidence=conf, options={"nm": nm},
            size_mismatch=mismatch, fits=fits,
        )  # fmt: skip

    def describe_options(self, plan: Plan) -> str:
        return f"{plan.options['nm']} mask prototypes"

    def check(self, plan: Plan, outputs: Mapping[str, np.ndarray], input_hw: tuple[int, int]) -> str | None:
        frac = negative_size_fraction(np.asarray(outputs[plan.names[0]]))
        if frac > NEGATIVE_SIZE_LIMIT:
            return f"{frac:.0%} of the rows have a negative width or height: columns 2-3 are not box sizes"
        return None

    def class_scores(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> np.ndarray | None:
        rows = np.asarray(outputs[plan.names[0]])[0]
        return rows[:, 5 : 5 + int(plan.num_classes or 0)] * rows[:, 4:5]

    def candidates(self, plan, outputs, input_hw, *, conf, multi_label, pre_nms_topk):
        out = np.asarray(outputs[plan.names[0]], dtype=np.float32)
        nc, nm = int(plan.num_classes or 0), int(plan.options["nm"])
        results = []
        for b in range(out.shape[0]):
            rows = out[b]
            cand = np.flatnonzero(rows[:, 4] > conf)  # score = obj * cls <= obj
            a, c, s = base.select(rows[cand, 5 : 5 + nc] * rows[cand, 4:5], conf, multi_label)
            if len(a) == 0:
                results.append(_empty_with(nm))
                continue
            order = base.topk(s, pre_nms_topk)
            a, c, s = cand[a[order]], c[order], s[order]
            cx, cy, w, h = rows[a, :4].T
            extra = np.ascontiguousarray(rows[a, 5 + nc :])
            results.append(Candidates(_xyxy(cx, cy, w, h), s.astype(np.float32), c, extra))
        return results

    def instance_fields(self, plan, kept, outputs, index, transform):
        return _masks_of(plan, kept, outputs, index, transform)


@register_decoder("yolov8_pose")
class YOLOv8PoseDecoder(_ChannelsFirst):
    """Ultralytics YOLOv8/YOLO11-pose: ``(B, 4+nc+K·D, N)``; ``K, D`` from the metadata's ``kpt_shape`` (without
    it: the COCO people head, 1 class and 17 x 3)."""

    signature = "(B, 4+nc+K*D, N) cx,cy,w,h,classes,keypoints x,y(,visibility) (metadata kpt_shape [K, D])"
    task = "pose"

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        one = base.single_3d(shapes)
        if one is None:
            return None
        name, c, n = one
        if c is None or (n is not None and c >= n):
            return None
        if hints.kpt_shape is not None:
            k, d = hints.kpt_shape
            if c - 4 - k * d < 1:
                raise InputError(
                    f"decoder {self.name!r}: the metadata's kpt_shape [{k}, {d}] needs more than {4 + k * d} rows "
                    f"(4 box + classes + {k}x{d}); output {name} has {c}: the metadata and the model disagree"
                )
            conf = 0.95
        elif c == POSE_CHANNELS:
            k, d, conf = 17, 3, 0.85  # the COCO people head, told from its width alone
        else:
            return None
        plan = self.flat_plan(name, c - 4 - k * d, n, hints, conf, unknown_rows=conf, options={"kpt_shape": (k, d)})
        if plan is not None and hints.kpt_shape is not None:
            plan = replace(plan, confidence=max(plan.confidence, 0.95) if not plan.size_mismatch else plan.confidence)
        return plan

    def _extra_width(self, plan: Plan) -> int:
        k, d = plan.options["kpt_shape"]
        return int(k) * int(d)

    def describe_options(self, plan: Plan) -> str:
        k, d = plan.options["kpt_shape"]
        return f"{k} keypoints x {d}"

    def instance_fields(self, plan, kept, outputs, index, transform):
        k, d = check_kpt_shape(plan.options["kpt_shape"])
        raw = (kept.extra if kept.extra is not None else np.zeros((0, k * d), np.float32)).reshape(-1, k, d)
        if d == 2:
            raw = np.concatenate([raw, np.ones((*raw.shape[:2], 1), np.float32)], axis=2)
        return {"keypoints": keypoints_to_original(raw, transform)}


@register_decoder("classify")
class ClassifyDecoder(Decoder):
    """One ``(B, C)`` row of class scores per image (ResNet, MobileNet, YOLOv8-cls...): logits or probabilities."""

    signature = "(B, C) one score per class for the whole image"
    task = "classify"

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        if len(shapes) != 1:
            return None
        name, shape = next(iter(shapes.items()))
        c = int_dim(shape[1]) if len(shape) == 2 else None
        if c is None or c < 2 or (hints.num_classes is not None and hints.num_classes != c):
            return None
        return self.plan((name,), c, confidence=base.class_confidence(c, hints, 0.9))

    def probabilities(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """``(B, C)`` float32 probabilities (softmax unless the rows already are probabilities)."""
        return to_probabilities(np.asarray(outputs[plan.names[0]]))

    def candidates(self, plan, outputs, input_hw, *, conf, multi_label, pre_nms_topk):
        raise InputError(
            f"decoder {self.name!r} reads whole-image class scores, not boxes: open the model with "
            f"lite.cv.Classifier (or ImageModel.from_file) and call classify()"
        )
