"""Detection options: score and IoU thresholds, ``max_det``, the NMS mode — defined and checked once.

`DetectOptions` is the one place where these options have their defaults and their checks.
`lite.cv.Detector` holds one (constructor arguments) and derives a copy per call (``detect(img, conf=0.5)``);
`lite.ops.decoders` and `lite.ops.nms` check their arguments with the same validators, so every entry point
rejects the same values with the same messages.

A wrong *type* (``conf="0.5"``, ``conf=None``, ``max_det=2.5``) raises
`InputTypeError` (a `LiteError`, a `ValueError` and a `TypeError`); a wrong *value*
(``conf=1.5``, ``pre_nms_topk=0``) raises `InputError` (a `ValueError`).

Example:
    ```python
    from lite.ops.options import DetectOptions

    opts = DetectOptions(conf=0.4)
    per_call = opts.updated({"iou": 0.6})
    assert (per_call.conf, per_call.iou, per_call.max_det) == (0.4, 0.6, 100)
    ```
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, get_args

from lite.core.errors import InputError, InputTypeError

__all__ = ["DetectOptions", "NMS_MODES", "NmsMode", "check_fraction", "check_positive_int", "check_nms_mode"]

NmsMode = Literal["class_aware", "agnostic", "blend"]
NMS_MODES: tuple[str, ...] = get_args(NmsMode)


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def check_fraction(value: Any, name: str, what: str = "a number in [0, 1]") -> float:
    """``value`` as a float in ``[0, 1]``.

    Raises:
        InputTypeError: Not a real number (a string, None, a bool).
        InputError: NaN or outside ``[0, 1]``.
    """
    if type(value) is float and 0.0 <= value <= 1.0:  # the common case, checked per call: no more work
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{name}: expected {what}, got {value!r} of type {_type_name(value)}")
    f = float(value)
    if math.isnan(f) or not 0.0 <= f <= 1.0:
        raise InputError(f"{name}: expected {what}, got {value!r}")
    return f


def check_positive_int(value: Any, name: str) -> int:
    """``value`` as a positive ``int``.

    Raises:
        InputTypeError: Not an integer (a float, a string, None, a bool).
        InputError: Zero or negative.
    """
    if type(value) is int and value >= 1:  # the common case, checked per call: no more work
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{name}: expected a positive integer, got {value!r} of type {_type_name(value)}")
    if value < 1:
        raise InputError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def check_nms_mode(value: Any, name: str = "nms") -> str:
    """``value`` if it names an NMS mode.

    Raises:
        InputTypeError: Not a string.
        InputError: A string that is not one of `NMS_MODES`.
    """
    if not isinstance(value, str):
        raise InputTypeError(f"{name}: expected one of {NMS_MODES}, got {value!r} of type {_type_name(value)}")
    if value not in NMS_MODES:
        raise InputError(f"{name}: expected one of {NMS_MODES}, got {value!r}")
    return value


def _check_bool(value: Any, name: str) -> bool:
    if value is True or value is False:
        return value
    if not isinstance(value, bool) and type(value).__name__ != "bool_":  # numpy.bool_ without importing numpy
        raise InputTypeError(f"{name}: expected True or False, got {value!r} of type {_type_name(value)}")
    return bool(value)


@dataclass(frozen=True)
class DetectOptions:
    """What a detection keeps: the validated options of `Detector.detect`.

    Attributes:
        conf: Score threshold in ``[0, 1]`` (score = objectness · class probability).
        iou: NMS IoU threshold in ``[0, 1]``.
        max_det: Detections kept per image (≥ 1).
        nms: NMS mode: ``"class_aware"``, ``"agnostic"`` or ``"blend"``.
        multi_label: Every class above ``conf`` for an anchor is a candidate (COCO evaluation).
        pre_nms_topk: Candidates per image, highest scores first, that reach NMS (≥ 1).

    Raises:
        InputTypeError: On construction, an option of the wrong type (also a `TypeError`).
        InputError: On construction, an option with a wrong value (also a `ValueError`).
    """

    conf: float = 0.25
    iou: float = 0.45
    max_det: int = 100
    nms: str = "class_aware"
    multi_label: bool = False
    pre_nms_topk: int = 3000

    def __post_init__(self) -> None:
        checked = {
            "conf": check_fraction(self.conf, "conf", "a score threshold in [0, 1]"),
            "iou": check_fraction(self.iou, "iou", "an IoU threshold in [0, 1]"),
            "max_det": check_positive_int(self.max_det, "max_det"),
            "nms": check_nms_mode(self.nms),
            "multi_label": _check_bool(self.multi_label, "multi_label"),
            "pre_nms_topk": check_positive_int(self.pre_nms_topk, "pre_nms_topk"),
        }
        for k, v in checked.items():  # store plain Python values (np.float32(0.3) -> 0.3 as float)
            object.__setattr__(self, k, v)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names, in declaration order."""
        return tuple(f.name for f in fields(cls))

    def updated(self, overrides: dict[str, Any]) -> DetectOptions:
        """A validated copy with ``overrides`` applied (None values mean "keep").

        ``nms_mode`` is accepted as another name of ``nms``.

        Raises:
            InputError: An unknown option name (the message lists the known ones) or a wrong value.
            InputTypeError: A wrong type.
        """
        if not overrides:
            return self
        changes = dict(overrides)
        if "nms_mode" in changes:
            changes["nms"] = changes.pop("nms_mode")
        unknown = sorted(set(changes) - set(_NAMES))
        if unknown:
            raise InputError(f"unknown detect() options {unknown}; expected some of {list(self.names())}")
        changes = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **changes) if changes else self

    def as_kwargs(self) -> dict[str, Any]:
        """The options by name: the keyword arguments of YOLOv6's `postprocess` and `postprocess_plan`."""
        return {name: getattr(self, name) for name in _NAMES}


_NAMES: tuple[str, ...] = DetectOptions.names()
