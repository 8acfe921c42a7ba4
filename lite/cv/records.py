"""Model families as data: one frozen `FamilyRecord` per family (timm's pretrained-config style).

A record holds everything lite knows about a family: its task, its decoders with an explicit priority, its
`PreprocessConfig` (resize rounding rule included), its default input size, strides and anchors, the schema of
its own keyword arguments (`Knob`) and the metadata that identifies it (`MetaRule`). A family class
(`lite.cv.YOLOX`...) takes every default from its record; `Detector.from_file` reads the records' metadata rules
to name a family from a file's metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lite.core.errors import InputError
from lite.ops.decoders.yolo import YOLOV5_ANCHORS
from lite.ops.preprocess import IMAGENET_CONFIG, PreprocessConfig

__all__ = ["Knob", "MetaRule", "FamilyRecord", "RECORDS", "record_of", "TASK_RESULTS", "TASK_APIS"]

Anchors = tuple[tuple[tuple[float, float], ...], ...]

#: What a model of each task returns, for messages.
TASK_RESULTS = {"detect": "boxes", "segment": "masks", "pose": "keypoints", "classify": "class scores"}
#: The API that reads each task, for the messages that refuse a model given to another one.
TASK_APIS = {
    "detect": "open it with Detector.from_file (or ImageModel.from_file; lite detect on the command line)",
    "segment": "open it with Detector.from_file (or ImageModel.from_file; lite detect on the command line)",
    "pose": "open it with Detector.from_file (or ImageModel.from_file; lite detect on the command line)",
    "classify": "open it with lite.cv.Classifier (or ImageModel.from_file; lite classify on the command line)",
}


@dataclass(frozen=True)
class Knob:
    """One keyword argument a family takes beyond the common ones.

    Attributes:
        name: The keyword.
        type: Its type, as written in the docs (``"bool"``, ``"int >= 1"``...).
        doc: What it does.
        range: A numeric keyword's ``(lowest, highest)`` allowed values, both included (None: no bound on that
            side); `check` enforces it, and that the value is an int (or a float when a bound is one).
            None: not a numeric keyword.
    """

    name: str
    type: str
    doc: str
    range: tuple[float | None, float | None] | None = None

    def describe(self) -> str:
        """``name (type): doc``."""
        return f"{self.name} ({self.type}): {self.doc}"

    def check(self, value: Any, family: str) -> None:
        """Refuse a value outside the keyword's `range` (or not a number, for a numeric keyword).

        Raises:
            InputError: The value is not a number in range; the message gives the range and the family.
        """
        if self.range is None or value is None:
            return
        lo, hi = self.range
        whole = all(b is None or isinstance(b, int) for b in (lo, hi))
        kinds = (int, np.integer) if whole else (int, float, np.integer, np.floating)
        if (
            isinstance(value, bool)
            or not isinstance(value, kinds)
            or (lo is not None and value < lo)
            or (hi is not None and value > hi)
        ):
            bounds = " and ".join(f"{op} {b:g}" for op, b in ((">=", lo), ("<=", hi)) if b is not None)
            raise InputError(
                f"{self.name}: expected {'an int' if whole else 'a number'} {bounds} (family {family!r}: "
                f"{self.doc}), got {value!r}"
            )


@dataclass(frozen=True)
class MetaRule:
    """Metadata that names a family: every key of ``all_of`` present, none of ``none_of``, and (when given) the
    value of ``key`` containing ``contains`` (case-insensitive).

    Attributes:
        why: How the rule reads in `lite info`'s reasons (``"ultralytics ONNX metadata"``).
    """

    why: str
    all_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()
    key: str | None = None
    contains: str | None = None

    def matches(self, raw: Mapping[str, str]) -> bool:
        """Whether the raw metadata satisfies the rule."""
        if not all(k in raw for k in self.all_of) or any(k in raw for k in self.none_of):
            return False
        if self.key is not None:
            return self.key in raw and str(self.contains or "").lower() in str(raw[self.key]).lower()
        return bool(self.all_of)

    def describe(self, raw: Mapping[str, str]) -> str:
        """The reason, naming the keys (and value) that matched."""
        if self.key is not None:
            return f"{self.why} (key {self.key!r} = {raw[self.key]!r})"
        keys = " and ".join(repr(k) for k in self.all_of)
        return f"{self.why} (key{'s' if len(self.all_of) > 1 else ''} {keys})"


@dataclass(frozen=True)
class FamilyRecord:
    """Everything lite knows about one family.

    Attributes:
        name: Registry name (``family=``).
        decoders: ``(decoder name, priority)``: the registered decoders its outputs may have; among readings of
            equal confidence the higher priority wins. Each decoder says its task (`Decoder.task`): the
            family's `tasks` are theirs.
        preprocess: Its input preprocessing, resize rounding rule included (the family's own demo).
        input_size: Input size of dynamic-shape models when nothing else says.
        strides: Strides tried first when the model does not say.
        anchors: YOLOv5-style anchors per level (None: the family has no anchors).
        knobs: Its own keyword arguments (beyond `COMMON_KNOBS`).
        identify: Metadata that names the family.
        aliases: Other names for ``family=``.
        input_multiple: Dynamic inputs must be a multiple of this (None: the model's largest stride).
    """

    name: str
    decoders: tuple[tuple[str, int], ...]
    preprocess: PreprocessConfig
    input_size: tuple[int, int] = (640, 640)
    strides: tuple[int, ...] | None = None
    anchors: Anchors | None = None
    knobs: tuple[Knob, ...] = ()
    identify: tuple[MetaRule, ...] = ()
    aliases: tuple[str, ...] = ()
    input_multiple: int | None = None
    notes: Mapping[str, str] = field(default_factory=dict)

    @property
    def decoder_names(self) -> tuple[str, ...]:
        """Decoder names, highest priority first."""
        return tuple(n for n, _ in sorted(self.decoders, key=lambda d: -d[1]))

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks its decoders read (``"detect"``, ``"segment"``, ``"pose"``, ``"classify"``), in
        `lite.ops.decoders.tasks.TASK_NAMES` order."""
        from lite.ops.decoders import get_decoder
        from lite.ops.decoders.tasks import TASK_NAMES

        own = {get_decoder(d).task for d, _ in self.decoders}
        return tuple(t for t in TASK_NAMES if t in own)

    def decoders_for(self, task: str) -> tuple[str, ...]:
        """Its decoder names of one task, highest priority first."""
        from lite.ops.decoders import get_decoder

        return tuple(d for d in self.decoder_names if get_decoder(d).task == task)

    def priority(self, decoder: str) -> int:
        """The priority of one of its decoders (0 for another family's)."""
        return dict(self.decoders).get(decoder, 0)

    def knob_names(self) -> tuple[str, ...]:
        """Its own keyword names."""
        return tuple(k.name for k in self.knobs)


_YOLOV6_LAYOUT = Knob("layout", "str", "force the output layout: 'decoded', 'anchor_grid', 'raw' or 'end2end'")
_BOX_FIRST = Knob("box_first", "bool", "'raw' heads: the channel order (True: l,t,r,b then classes)")
_SIGMOID = Knob("sigmoid", "bool", "'raw' heads: the class outputs are logits needing a sigmoid")
_ANCHORS = Knob("anchors", "[[w, h, ...] per level]", "anchor sizes in pixels (default: YOLOv5's standard anchors)")
_REG_MAX = Knob(
    "reg_max", "int >= 1", "distribution bins minus one (default: from the outputs, else 7)", range=(1, None)
)
_LEGACY = Knob("legacy_normalization", "bool", "the pre-0.1.1 models' RGB, /255, ImageNet mean/std")

#: RGB, /255, centred letterbox padded with 114, rounded resized size (YOLOv6's and ultralytics' ``letterbox``).
ROUND_RGB = PreprocessConfig(color="rgb", scale=1 / 255, pad_value=114)
#: YOLOX >= 0.1.1: BGR, 0-255, no normalisation, image at the top-left, padding 114 right and bottom; the demo's
#: ``preproc`` truncates the resized size (``int(w * r)``).
YOLOX_PREPROCESS = PreprocessConfig(color="bgr", scale=1.0, pad_value=114, pad_align="topleft", rounding="truncate")
#: YOLOX before 0.1.1: RGB, /255, ImageNet mean / std (in RGB order), same top-left padding.
YOLOX_LEGACY_PREPROCESS = PreprocessConfig(
    color="rgb", scale=1 / 255, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), pad_value=114,
    pad_align="topleft", rounding="truncate",
)  # fmt: skip
#: NanoDet's demo preprocessing: BGR, mean / std in BGR order on 0-255 values, centred padding with 0,
#: square input (NanoDet-Plus); NanoDet-m's per-level layout pads only to the next multiple of 32 (320x256). Both
#: demos truncate the resized size (``resize_uniform``'s ``floor``, NanoDet-m's ``int`` scale).
NANODET_PREPROCESS = PreprocessConfig(
    color="bgr", scale=1.0, mean=(103.53, 116.28, 123.675), std=(57.375, 57.12, 58.395), pad_value=0,
    pad_align="center", rounding="truncate",
)  # fmt: skip

#: Ultralytics YOLOv8/YOLO11-cls (``classify_transforms``): RGB, /255, the short side resized to the input size,
#: then the centre cut out; no mean / std.
ULTRALYTICS_CLS_PREPROCESS = PreprocessConfig(color="rgb", scale=1 / 255, resize="center_crop")
_ULTRALYTICS_META = (
    MetaRule("ultralytics ONNX metadata", key="author", contains="ultralytics"),
    MetaRule("ultralytics ONNX metadata", all_of=("task", "imgsz")),
)

RECORDS: dict[str, FamilyRecord] = {
    r.name: r
    for r in (
        FamilyRecord(
            "yolov5",
            decoders=(("yolov5", 2), ("yolov5_anchors", 1), ("yolov5_seg", 1)),
            preprocess=ROUND_RGB,
            strides=(8, 16, 32),
            anchors=YOLOV5_ANCHORS,
            knobs=(_ANCHORS,),
            identify=(
                MetaRule(
                    "ultralytics/yolov5 export metadata (exactly 'stride' and 'names')",
                    all_of=("names", "stride"),
                    none_of=("strides", "layout", "task"),
                ),
            ),
        ),
        FamilyRecord(
            "yolov6",
            decoders=(("decoded", 4), ("anchor_grid", 3), ("raw", 2), ("end2end", 1)),
            preprocess=PreprocessConfig(),
            knobs=(_YOLOV6_LAYOUT, _BOX_FIRST, _SIGMOID),
        ),
        FamilyRecord(
            "yolov8",
            decoders=(("yolov8", 2), ("yolov8_end2end", 1), ("yolov8_seg", 2), ("yolov8_pose", 2)),
            preprocess=ROUND_RGB,
            strides=(8, 16, 32),
            identify=_ULTRALYTICS_META,
            aliases=("yolo11", "ultralytics"),
        ),
        FamilyRecord(
            "yolov8-cls",
            decoders=(("classify", 1),),
            preprocess=ULTRALYTICS_CLS_PREPROCESS,
            input_size=(224, 224),
            input_multiple=1,
            identify=_ULTRALYTICS_META,
            aliases=("yolo11-cls", "yolov8_cls", "yolo11_cls"),
            notes={"preprocess": "ultralytics classify_transforms: short side to the input size, centre crop, /255"},
        ),
        FamilyRecord(
            "imagenet",
            decoders=(("classify", 2),),
            preprocess=IMAGENET_CONFIG,
            input_size=(224, 224),
            input_multiple=1,
            aliases=("resnet", "mobilenet", "torchvision"),
            notes={
                "preprocess": "the ImageNet preset (torchvision / ONNX Model Zoo): RGB, short side 256, centre crop "
                "224, /255, mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)"
            },
        ),
        FamilyRecord(
            "yolox",
            decoders=(("yolox", 1),),
            preprocess=YOLOX_PREPROCESS,
            strides=(8, 16, 32),
            knobs=(_LEGACY,),
        ),
        FamilyRecord(
            "nanodet",
            decoders=(("nanodet_plus", 2), ("nanodet", 1)),
            preprocess=NANODET_PREPROCESS,
            input_size=(416, 416),
            strides=(8, 16, 32, 64),
            knobs=(_REG_MAX,),
            aliases=("nanodet_plus", "nanodet-plus"),
            input_multiple=32,
        ),
    )
}


def record_of(name: str) -> FamilyRecord:
    """The record of a built-in family (KeyError for another name)."""
    return RECORDS[name]
