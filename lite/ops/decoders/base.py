"""The decoder registry: each output layout is a class that says which outputs it reads and how sure it is.

A `Decoder` looks at output names and shapes (`Decoder.match`) and returns a
`Plan` — which outputs, how many classes, which strides, and a ``confidence`` in ``[0, 1]`` —
or None. After the first real inference `Decoder.refine` settles what only values tell (e.g.
whether scores are logits) and `Decoder.check` refuses values that contradict the layout.
`Decoder.candidates` turns outputs into thresholded, top-k candidates in input pixels; the
shared threshold / top-k helpers and the shared NMS (`postprocess_plan`) are the same for all.

Register a decoder with `register_decoder`; `get_decoder` raises
[`InputError`][lite.core.errors.InputError] listing the known names; `match_outputs` runs them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, TypeVar

import numpy as np

from lite.core.errors import InputError, ModelOutputError
from lite.core.registry import Registry
from lite.ops import grids
from lite.ops.candidates import Candidates, finish, refuse_saturated, select, sigmoid, topk
from lite.ops.options import DetectOptions

__all__ = [
    "Shape",
    "Hints",
    "Plan",
    "Decoder",
    "register_decoder",
    "get_decoder",
    "decoder_names",
    "match_outputs",
    "postprocess_plan",
    "run_plan",
    "select",
    "topk",
    "sigmoid",
    "scores_are_probabilities",
    "scores_are_logits",
]

Shape = tuple[int | str | None, ...]

#: Above this many classes a model's class count is not believed without names saying so.
MAX_PLAUSIBLE_CLASSES = 2000

def scores_are_probabilities(scores: np.ndarray) -> bool:
    """True when every score lies in ``[0, 1]`` (already through a sigmoid), False for logits."""
    return bool(scores.size == 0 or (scores.min() >= -1e-3 and scores.max() <= 1 + 1e-3))


def scores_are_logits(scores: np.ndarray, what: str, *, may_be_logits: bool) -> bool:
    """Whether ``scores`` are logits (a sigmoid is due), from one inference; refuses values no layout explains.

    Probabilities lie in ``[0, 1]``; logits of a real head go negative (most anchors score low). Scores above 1
    that are never negative are neither: a quantized export whose score range saturated (e.g. 1.253 at most,
    0 elsewhere) — a sigmoid would make every 0 a 0.5.

    Args:
        scores: The score values of the first inference.
        what: The decoder and columns, for the message (``"decoder 'yolov8', rows 4-83"``).
        may_be_logits: The decoder's layout allows logits (False: its scores are always probabilities).

    Raises:
        ModelOutputError: Saturated scores, or logits where the layout has probabilities.
    """
    if scores.size == 0 or scores_are_probabilities(scores):
        return False
    refuse_saturated(scores, what)
    lo, hi = float(np.nanmin(scores)), float(np.nanmax(scores))
    if not may_be_logits:
        raise ModelOutputError(
            f"{what}: this layout's scores are probabilities (sigmoid inside the model), but the first inference "
            f"gives values from {lo:.4g} to {hi:.4g}: the outputs are not this layout, or the export is broken"
        )
    return True


@dataclass(frozen=True)
class Hints:
    """What is known about a model besides its outputs (all optional).

    Attributes:
        input_hw: Network input ``(H, W)`` the shapes were taken at.
        num_classes: Class count from the names (metadata or argument).
        strides: Strides from metadata or the caller.
        layout: A YOLOv6 layout forced by the caller or metadata.
        anchors: YOLOv5 anchors per level, ``((w, h), ...)`` per level.
        end2end: The model says it has NMS inside (ultralytics ``end2end`` metadata).
        reg_max: NanoDet's distribution size minus one.
        default_strides: The family's usual strides (first tried).
        box_first: YOLOv6 ``raw`` layout: channel order given by the caller or metadata.
        sigmoid: YOLOv6 ``raw`` layout: whether class outputs are logits, given by the caller or metadata.
        anchors_assumed: ``anchors`` are a family default, not from the model's metadata or the caller.
        kpt_shape: Pose models: ``(K, D)`` keypoints per instance and values per keypoint (ultralytics metadata
            ``kpt_shape``).
        max_stride: The largest stride, when the metadata gives only that (ultralytics' and YOLOv5's ``stride``):
            only stride sets ending there are tried.
    """

    input_hw: tuple[int, int] | None = None
    num_classes: int | None = None
    strides: tuple[int, ...] | None = None
    layout: str | None = None
    anchors: tuple[tuple[tuple[float, float], ...], ...] | None = None
    end2end: bool | None = None
    reg_max: int | None = None
    default_strides: tuple[int, ...] | None = None
    box_first: bool | None = None
    sigmoid: bool | None = None
    anchors_assumed: bool = False
    kpt_shape: tuple[int, int] | None = None
    max_stride: int | None = None

    def stride_sets(self) -> list[tuple[int, ...]]:
        """Stride sets to try: the given ones only, else the family's, then the usual ones (only those ending at
        ``max_stride`` when it is known; a single level of it when none does)."""
        if self.strides:
            return [tuple(self.strides)]
        sets = [tuple(self.default_strides)] if self.default_strides else []
        sets += [s for s in grids.STRIDE_SETS if s not in sets]
        if self.max_stride is None:
            return sets
        return [s for s in sets if max(s) == self.max_stride] or [(self.max_stride,)]


@dataclass(frozen=True)
class Plan:
    """How to read one model's outputs: the result of `Decoder.match`.

    Attributes:
        decoder: Registered decoder name.
        names: Output names used, in decode order.
        num_classes: Class count (None: not known until the first inference).
        strides: Strides per level (empty: not applicable or not known yet).
        confidence: How sure the decoder is that the outputs are its layout, in ``[0, 1]``.
        options: Decoder-specific settings (anchors, reg_max, offsets, sigmoid...).
        resolved: Whether the value-dependent settings were settled by `Decoder.refine`.
        fits: Input sizes ``(H, W)`` the outputs fit, when they do not fit ``Hints.input_hw``
            (empty when they fit or when it cannot be told).
        size_mismatch: The outputs do not fit the input size they were taken at.
    """

    decoder: str
    names: tuple[str, ...]
    num_classes: int | None
    strides: tuple[int, ...] = ()
    confidence: float = 1.0
    options: Mapping[str, Any] = field(default_factory=dict)
    resolved: bool = False
    fits: tuple[tuple[int, int], ...] = ()
    size_mismatch: bool = False

    def with_options(self, **kw: Any) -> Plan:
        """A copy with ``options`` updated."""
        return replace(self, options={**self.options, **kw})

    def describe(self) -> str:
        """One-line description, e.g. ``yolov8: (B, 4+nc, N), strides 8,16,32, 80 classes``."""
        dec = get_decoder(self.decoder)
        parts = [f"{self.decoder}: {dec.signature}"]
        extra = dec.describe_options(self)
        if extra:
            parts.append(extra)
        if self.strides:
            parts.append("strides " + ",".join(map(str, self.strides)))
        if self.num_classes is not None:
            parts.append(f"{self.num_classes} classes")
        return ", ".join(parts)


class Decoder:
    """Base class of a registered output layout (see the module docstring)."""

    #: Registry name, set by `register_decoder`.
    name: ClassVar[str] = ""
    #: The task whose outputs it reads (``"detect"``, ``"segment"``, ``"pose"``, ``"classify"``): the result a
    #: model built on it returns (`lite.cv.tasks.TASKS`).
    task: ClassVar[str] = "detect"
    #: The outputs it reads, for messages and ``lite info``.
    signature: ClassVar[str] = ""
    #: NMS is inside the model: only the threshold and ``max_det`` apply.
    end2end: ClassVar[bool] = False
    #: Input size the layout's models usually have when nothing else says (None: the family's).
    default_input_size: ClassVar[tuple[int, int] | None] = None
    #: PreprocessConfig fields this layout's models use unlike the rest of their family (applied unless
    #: the caller passes ``preprocess=``), e.g. NanoDet-m pads only to the next multiple of 32.
    preprocess_overrides: ClassVar[Mapping[str, Any]] = {}

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        """A plan when the outputs are this layout, else None (never raises for a foreign layout)."""
        raise NotImplementedError

    def refine(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> Plan:
        """Settle value-dependent settings from one real inference (default: nothing to settle)."""
        return replace(plan, resolved=True)

    def check(self, plan: Plan, outputs: Mapping[str, np.ndarray], input_hw: tuple[int, int]) -> str | None:
        """Why these values contradict the layout (a sentence), or None when they agree."""
        return None

    def candidates(
        self,
        plan: Plan,
        outputs: Mapping[str, np.ndarray],
        input_hw: tuple[int, int],
        *,
        conf: float,
        multi_label: bool,
        pre_nms_topk: int,
    ) -> list[Candidates]:
        """Per-image thresholded, top-k candidates in input pixels (xyxy)."""
        raise NotImplementedError

    def describe_options(self, plan: Plan) -> str:
        """Decoder-specific part of `Plan.describe`."""
        return ""

    def instance_fields(
        self, plan: Plan, kept: Candidates, outputs: Mapping[str, np.ndarray], index: int, transform: Any
    ) -> dict[str, Any]:
        """A task's per-instance results (``masks``, ``keypoints``) of one image's kept candidates, in
        original-image pixels (``transform``: its `LetterboxTransform`); boxes-only decoders give none."""
        return {}

    def class_scores(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """The class-score block of the first image of a batch (None: the decoder does not expose it): the
        first inference warns when it is constant (a quantization that destroyed the head finds nothing)."""
        return None

    def plan(self, names: Sequence[str], num_classes: int | None, **kw: Any) -> Plan:
        """A `Plan` of this decoder."""
        return Plan(self.name, tuple(names), num_classes, **kw)

    def match_flat(
        self,
        shapes: Mapping[str, Shape],
        hints: Hints,
        *,
        extra: int,
        channels_first: bool,
        confidence: float,
        unknown_rows: float | None = None,
    ) -> Plan | None:
        """`match` of a layout with one flat output: ``(B, extra + nc, N)`` when ``channels_first``, else
        ``(B, N, extra + nc)`` (``extra`` box and objectness columns before the classes; see `flat_plan`)."""
        one = single_3d(shapes)
        if one is None:
            return None
        name, a, b = one
        c, rows = (a, b) if channels_first else (b, a)
        if c is None or c <= extra or (rows is not None and c >= rows):
            return None
        return self.flat_plan(name, c - extra, rows, hints, confidence, unknown_rows=unknown_rows)

    def flat_plan(
        self,
        name: str,
        nc: int,
        rows: int | None,
        hints: Hints,
        confidence: float,
        *,
        unknown_rows: float | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Plan | None:
        """The plan of one flat output (one row or column per cell) with ``nc`` classes, or None when no real
        model has that class count.

        The confidence is 0.3 when the rows do not fit the input size, ``unknown_rows`` (when given) for an
        output whose row count is dynamic, else ``confidence`` adjusted by `class_confidence`.
        """
        if not plausible_classes(nc, rows, hints):
            return None
        strides, mismatch, fits = flat_strides(rows, hints)
        if mismatch:
            conf = 0.3
        elif rows is None and unknown_rows is not None:
            conf = unknown_rows
        else:
            conf = class_confidence(nc, hints, confidence)
        return self.plan(
            (name,), nc, strides=strides, confidence=conf, options=dict(options or {}), size_mismatch=mismatch,
            fits=fits,
        )  # fmt: skip


_REGISTRY: Registry[Decoder] = Registry("decoder", owner=type)
D = TypeVar("D", bound=type[Decoder])


def register_decoder(name: str) -> Callable[[D], D]:
    """Class decorator registering a `Decoder` subclass under ``name``.

    Raises:
        InputError: ``name`` is already registered by another class.
    """

    def deco(cls: D) -> D:
        cls.name = name
        _REGISTRY.add(name, cls())
        return cls

    return deco


def get_decoder(name: str) -> Decoder:
    """The registered decoder ``name``.

    Raises:
        InputError: Unknown name; the message lists the registered ones.
    """
    return _REGISTRY.lookup(name)


def decoder_names() -> tuple[str, ...]:
    """Registered decoder names, in registration order."""
    return tuple(_REGISTRY)


def match_outputs(
    shapes: Mapping[str, Shape],
    hints: Hints,
    decoders: Sequence[str] | None = None,
    reasons: list[str] | None = None,
) -> list[Plan]:
    """Every decoder's plan for these outputs (of ``decoders``, default all), most confident first.

    A decoder that refuses with an [`InputError`][lite.core.errors.InputError] adds its message to ``reasons``.
    """
    plans = []
    for name in decoders or decoder_names():
        try:
            p = get_decoder(name).match(shapes, hints)
        except InputError as e:
            if reasons is not None and str(e) not in reasons:
                reasons.append(str(e))
            p = None
        if p is not None:
            plans.append(p)
    return sorted(plans, key=lambda p: -p.confidence)


def postprocess_plan(
    plan: Plan, outputs: Mapping[str, np.ndarray], input_hw: tuple[int, int], **options: Any
) -> list[Candidates]:
    """Candidates, then the shared final stage ([`finish`][lite.ops.candidates.finish]): per-image final
    detections in input pixels, sorted by score.

    Args:
        plan: The decoder's plan (see `match_outputs`).
        outputs: Output name → array from one inference (a batch).
        input_hw: Network input (H, W).
        **options: `DetectOptions` fields, as for YOLOv6's `postprocess`.

    Raises:
        InputError: An output the plan reads is missing, or an option with a wrong name, value or type.
        ModelOutputError: Non-finite (NaN/inf) boxes or scores among the candidates.
    """
    return run_plan(plan, outputs, input_hw, _DEFAULTS.updated(options))


_DEFAULTS = DetectOptions()


def run_plan(
    plan: Plan, outputs: Mapping[str, np.ndarray], input_hw: tuple[int, int], opts: DetectOptions
) -> list[Candidates]:
    """[`postprocess_plan`][lite.ops.decoders.postprocess_plan] with options validated already (a `DetectOptions`,
    e.g. a detector's defaults): the per-call path of `lite.cv.Detector`, with no option re-checked per call.

    Raises:
        InputError: An output the plan reads is missing.
        ModelOutputError: Non-finite (NaN/inf) boxes or scores among the candidates.
    """
    for n in plan.names:
        if n not in outputs:
            missing = [n for n in plan.names if n not in outputs]
            raise InputError(f"outputs {missing} expected by decoder {plan.decoder!r} are missing; got {list(outputs)}")
    dec = _REGISTRY.get(plan.decoder) or get_decoder(plan.decoder)
    cands = dec.candidates(
        plan, outputs, input_hw, conf=opts.conf, multi_label=opts.multi_label, pre_nms_topk=opts.pre_nms_topk
    )
    return finish(cands, iou=opts.iou, max_det=opts.max_det, nms_mode=opts.nms, end2end=dec.end2end)


# -- shared helpers for flat (rows = cells) layouts -------------------------------------------
def int_dim(d: Any) -> int | None:
    """``d`` when it is a fixed int dimension, else None."""
    return int(d) if isinstance(d, int | np.integer) and not isinstance(d, bool) else None


def single_3d(shapes: Mapping[str, Shape]) -> tuple[str, int | None, int | None] | None:
    """``(name, dim1, dim2)`` when the model has exactly one output and it is 3-D (None dims: dynamic), else None."""
    if len(shapes) != 1:
        return None
    name, shape = next(iter(shapes.items()))
    if len(shape) != 3:
        return None
    return name, int_dim(shape[1]), int_dim(shape[2])


def flat_strides(
    rows: int | None, hints: Hints, per_cell: int = 1
) -> tuple[tuple[int, ...], bool, tuple[tuple[int, int], ...]]:
    """``(strides, size_mismatch, fits)`` for a flat output of ``rows`` rows at ``hints.input_hw``.

    When the rows or the input size are unknown: ``((), False, ())`` (settled at decode time).
    """
    if rows is None or hints.input_hw is None:
        return (), False, ()
    sets = hints.stride_sets()
    found = grids.infer_strides(rows, hints.input_hw, sets, per_cell)
    if found is not None:
        return found, False, ()
    fits: list[tuple[int, int]] = []
    for ss in sets:
        fits += [f for f in grids.sizes_fitting(rows, ss, per_cell) if f not in fits]
    return (), True, tuple(fits)


def plausible_classes(nc: int, rows: int | None, hints: Hints) -> bool:
    """A class count a real model can have: positive, matching the names when known, not absurd."""
    if nc < 1:
        return False
    if hints.num_classes is not None:
        return nc == hints.num_classes
    if nc > MAX_PLAUSIBLE_CLASSES:
        return False
    return rows is None or nc < rows


def class_confidence(nc: int, hints: Hints, base: float) -> float:
    """``base``, raised a little when the class count is confirmed by names or is COCO's 80."""
    if hints.num_classes is not None and nc == hints.num_classes:
        return min(1.0, base + 0.1)
    return base + (0.05 if nc == 80 else 0.0)


def runtime_strides(plan: Plan, rows: int, input_hw: tuple[int, int], per_cell: int = 1, sets=None) -> tuple[int, ...]:
    """The plan's strides, checked against the rows at this input size (dynamic models, NCNN)."""
    if plan.strides and grids.count_cells(input_hw, plan.strides, per_cell) == rows:
        return plan.strides
    found = grids.infer_strides(rows, input_hw, sets or ([plan.strides] if plan.strides else None), per_cell)
    if found is None:
        from lite.core.errors import ModelOutputError

        h, w = input_hw
        raise ModelOutputError(
            f"decoder {plan.decoder!r}: {rows} output rows do not fit input {h}x{w} "
            f"(strides {plan.strides or 'any usual set'}); run the model at the input size it was built for "
            f"(pass input_size=) or pass strides="
        )
    return found
