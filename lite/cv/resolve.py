"""The family resolver: outputs + metadata + the caller's hints + the family records → a `Resolution` with reasons.

`resolve` is pure: it builds no model and runs no engine. What only an engine can tell — output shapes at an
input size for shape-free engines (NCNN), the values of one blank inference to settle a tie — it asks for in
`Resolution.needs_shapes` / `Resolution.needs_values`; the caller (`lite.cv.family.detect_family`) runs those
and calls `resolve` again with them in `Observed`. `input_size_for` and `hints_for` are the one reading of a
family's input size and decoder hints, shared with `Detector`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lite.core.errors import InputError, LayoutError
from lite.data.metadata import ModelMeta
from lite.ops.decoders import Hints, Plan, get_decoder, match_outputs

__all__ = [
    "Observed", "Resolution", "ResolveHints", "SizeSource", "resolve", "input_size_for", "hints_for", "parse_anchors"
]  # fmt: skip

HW = tuple[int, int]


class SizeSource:
    """Values of ``input_size_source``: why a model runs at its input size."""

    FIXED = "model file (fixed input shape)"
    ARGUMENT = "input_size argument"
    METADATA = "model metadata"
    HUB = "hub manifest"
    LAYOUT = "layout default"
    INFERRED = "inferred from the output shapes"
    DEFAULT = "family default"


def as_size(size: int | Sequence[int], what: str) -> HW:
    """``N`` or ``(H, W)`` as a pair of positive ints.

    Raises:
        InputError: Not a positive size.
    """
    if isinstance(size, int | np.integer):
        size = (int(size), int(size))
    pair = tuple(int(s) for s in size)
    if len(pair) != 2 or min(pair) <= 0:
        raise InputError(f"{what}: expected a positive int or (height, width), got {pair!r}")
    return pair  # type: ignore[return-value]


def input_size_for(
    fixed: HW | None,
    argument: int | Sequence[int] | None,
    meta_size: HW | None,
    hub_size: HW | None,
    default: HW,
    model_name: str,
) -> tuple[HW, str]:
    """The input size and its source: fixed in the file, else the argument, the metadata, the hub, the default.

    Raises:
        InputError: A size argument a fixed-input model cannot take, or not a positive size.
    """
    if fixed is not None:
        if argument is not None and as_size(argument, "input_size") != fixed:
            raise InputError(
                f"input_size: {model_name} has a fixed input of {fixed[0]}x{fixed[1]}, got input_size={argument}; "
                f"re-export the model with that size or with dynamic H, W"
            )
        return fixed, SizeSource.FIXED
    if argument is not None:
        return as_size(argument, "input_size"), SizeSource.ARGUMENT
    if meta_size is not None:
        return meta_size, SizeSource.METADATA
    if hub_size is not None:
        return hub_size, SizeSource.HUB
    return tuple(default), SizeSource.DEFAULT  # type: ignore[return-value]


def parse_anchors(value: Any, what: str) -> tuple[tuple[tuple[float, float], ...], ...]:
    """Anchors per level as ``((w, h), ...)``: from ``[[w, h, w, h, ...], ...]`` or ``[[(w, h), ...], ...]``.

    Raises:
        InputError: Not positive, finite pairs, or not the same count per level.
    """
    try:
        levels = []
        for lv in value:
            flat = np.asarray(lv, dtype=np.float64).ravel()
            if flat.size < 2 or flat.size % 2 or not np.isfinite(flat).all() or (flat <= 0).any():
                raise ValueError
            levels.append(tuple((float(a), float(b)) for a, b in flat.reshape(-1, 2)))
        if not levels or len({len(lv) for lv in levels}) != 1:
            raise ValueError
    except (TypeError, ValueError):
        raise InputError(
            f"{what}: expected anchors per level in pixels, e.g. [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], "
            f"[116, 90, 156, 198, 373, 326]] (the same count per level); got {value!r}"
        ) from None
    return tuple(levels)


def hints_for(
    meta: ModelMeta,
    input_hw: HW,
    *,
    anchors: Any = None,
    reg_max: int | None = None,
    box_first: bool | None = None,
    sigmoid: bool | None = None,
    default_strides: tuple[int, ...] | None = None,
    default_anchors: Any = None,
) -> Hints:
    """The decoder hints of one family for a model: the caller's settings over the metadata over the defaults.

    ``anchors`` are already parsed (``((w, h), ...)`` per level); metadata anchors are parsed here.
    """
    from lite.data.metadata import parse_value

    strides = meta.strides if meta.strides and len(meta.strides) > 1 else None
    if anchors is None and meta.extra.get("anchors"):
        anchors = parse_anchors(parse_value(meta.extra["anchors"]), "metadata 'anchors'")
    kpt_shape = None
    if meta.extra.get("kpt_shape"):
        from lite.ops.keypoints import check_kpt_shape

        kpt_shape = check_kpt_shape(parse_value(meta.extra["kpt_shape"]))
    return Hints(
        input_hw=input_hw,
        num_classes=len(meta.names) if meta.names is not None else None,
        strides=strides,
        layout=meta.layout,
        anchors=anchors or default_anchors,
        end2end=meta.flag("end2end"),
        reg_max=reg_max,
        default_strides=default_strides,
        box_first=box_first if box_first is not None else meta.flag("box_first"),
        sigmoid=sigmoid if sigmoid is not None else meta.flag("sigmoid"),
        anchors_assumed=anchors is None,
        kpt_shape=kpt_shape,
        max_stride=_metadata_max_stride(meta),
    )


def _metadata_max_stride(meta: ModelMeta) -> int | None:
    """The largest stride when the model's metadata gives only that (ultralytics' ``stride``); a ``strides=``
    argument of one value is checked against the outputs instead (`Detector`), not used to read them."""
    if not meta.strides or len(meta.strides) != 1 or "argument" in meta.source_of("strides"):
        return None
    return meta.strides[0]


@dataclass(frozen=True)
class ResolveHints:
    """What is known besides the outputs: the model's metadata and the caller's arguments.

    Attributes:
        model_name: The file name, for messages.
        meta: The model's metadata (file, sidecar) with the caller's ``names`` / ``strides`` / ``layout`` on top.
        named: ``(family, reason)`` when the metadata or the hub names the family.
        fixed_hw: The input size fixed in the file (None: dynamic).
        input_size: The ``input_size`` argument.
        hub_size: The hub manifest's size for this model.
        knobs: The caller's decoder settings (``anchors`` parsed, ``reg_max``, ``box_first``, ``sigmoid``).
    """

    model_name: str
    meta: ModelMeta
    named: tuple[str, str] | None = None
    fixed_hw: HW | None = None
    input_size: int | Sequence[int] | None = None
    hub_size: HW | None = None
    knobs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Observed:
    """What the caller observed by running the engine.

    Attributes:
        declared: Output shapes the engine declares (None: shape-free, e.g. NCNN: see ``by_size``).
        by_size: Output shapes of one blank inference at each input size asked for.
        values: Outputs of one blank inference per ``(family, input size)`` asked for (ties).
    """

    declared: Mapping[str, tuple] | None = None
    by_size: Mapping[HW, Mapping[str, tuple]] = field(default_factory=dict)
    values: Mapping[tuple[str, HW], Mapping[str, np.ndarray]] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolution:
    """The resolver's answer.

    Attributes:
        family: The family (None until resolved, or when the metadata names one the caller must look up).
        task: What the outputs are (``"detect"``).
        plan: The chosen family's most confident decoder plan (None when the family came from the metadata).
        input_hw: The family's input size, and ``input_size_source`` where it came from.
        reasons: Why: which metadata key, which output signature and confidences, which tie-break.
        needs_shapes: Input sizes at which the caller must report output shapes (then resolve again).
        needs_values: ``(family, input size)`` blank inferences the caller must run to settle a tie.
        candidates: The families still tied (for `AmbiguousModelError`).
    """

    family: str | None
    task: str = "detect"
    plan: Plan | None = None
    input_hw: HW | None = None
    input_size_source: str | None = None
    reasons: tuple[str, ...] = ()
    needs_shapes: tuple[HW, ...] = ()
    needs_values: tuple[tuple[str, HW], ...] = ()
    candidates: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


def _shapes(observed: Observed, hw: HW) -> Mapping[str, tuple] | None:
    return observed.declared if observed.declared is not None else observed.by_size.get(hw)


def _family_plan(
    record: Any, observed: Observed, hints: ResolveHints, errors: list[str]
) -> tuple[list[Plan], HW, str, bool]:
    """``(plans, input size, its source, shapes missing)`` of one family's reading of the outputs."""
    hw, source = input_size_for(
        hints.fixed_hw, hints.input_size, hints.meta.input_size, hints.hub_size, record.input_size, hints.model_name
    )
    shapes = _shapes(observed, hw)
    if shapes is None:
        return [], hw, source, True
    kw = {k: v for k, v in hints.knobs.items() if k in record.knob_names()}
    kw.update(default_strides=record.strides, default_anchors=record.anchors)
    reasons: list[str] = []
    plans = match_outputs(shapes, hints_for(hints.meta, hw, **kw), record.decoder_names, reasons)
    if plans and plans[0].size_mismatch and source == SizeSource.DEFAULT and plans[0].fits:
        hw = plans[0].fits[0]
        shapes = _shapes(observed, hw)
        if shapes is None:
            return [], hw, source, True
        plans = match_outputs(shapes, hints_for(hints.meta, hw, **kw), record.decoder_names, reasons)
    if not plans:
        errors += [f"{record.name}: {r}" for r in reasons]
    return plans, hw, source, False


def _contradicted(plan: Plan, values: Mapping[str, np.ndarray], hw: HW) -> bool:
    """Whether one blank inference's values contradict a plan (its decoder refuses them)."""
    dec = get_decoder(plan.decoder)
    try:
        plan = dec.refine(plan, values)
        return dec.check(plan, values, hw) is not None or not all(
            np.isfinite(np.asarray(v)).all() for v in values.values()
        )
    except (LayoutError, InputError, KeyError, ValueError):
        return True


def _decoder_owner(
    tied: list[str], scores: Mapping[str, tuple[Plan, HW, str]], records: Mapping[str, Any]
) -> tuple[list[str], str | None]:
    """Tied families reading the outputs with the same decoder: the family that owns it (its highest priority)
    wins, since the others only borrow it (YOLOv7's decoded output is YOLOv5's); the reason says so."""
    decoders = {scores[n][0].decoder for n in tied}
    if len(decoders) != 1:
        return tied, None
    dec = decoders.pop()
    ranked = sorted(tied, key=lambda n: -records[n].priority(dec))
    if records[ranked[0]].priority(dec) == records[ranked[1]].priority(dec):
        return tied, None
    others = ", ".join(repr(n) for n in ranked[1:])
    return [ranked[0]], (
        f"{others} also read{'s' if len(ranked) == 2 else ''} it with decoder {dec!r}, which family "
        f"{ranked[0]!r} owns (priority {records[ranked[0]].priority(dec)}): {ranked[0]!r}; pass family= for another"
    )


def resolve(observed: Observed, hints: ResolveHints, records: Mapping[str, Any]) -> Resolution:
    """The family of a model from its outputs, metadata and the caller's hints (pure: no engine, no model).

    Args:
        observed: Output shapes (declared or per input size) and blank-inference values the caller ran.
        hints: Metadata and arguments.
        records: Family name → `FamilyRecord` (`lite.cv.records.RECORDS` plus registered third-party ones).

    Returns:
        A `Resolution`; when it ``needs_shapes`` or ``needs_values`` the caller provides them and calls again.
        ``family`` is None with empty needs when no family reads the outputs (see ``errors``) or several
        tie (see ``candidates``).
    """
    if hints.named is not None:
        fam, why = hints.named
        return Resolution(fam, reasons=(f"family {fam!r} from {why}",))
    errors: list[str] = []
    scores: dict[str, tuple[Plan, HW, str]] = {}
    missing: list[HW] = []
    for name, rec in records.items():
        plans, hw, source, lacks = _family_plan(rec, observed, hints, errors)
        if lacks:
            missing.append(hw)
        elif plans:
            scores[name] = (plans[0], hw, source)
    if missing:
        return Resolution(None, needs_shapes=tuple(dict.fromkeys(missing)))
    if not scores:
        return Resolution(None, errors=tuple(errors))
    top = max(p.confidence for p, _, _ in scores.values())
    best = [n for n, (p, _, _) in scores.items() if abs(p.confidence - top) < 1e-9]
    ranked = ", ".join(
        f"{n} {p.confidence:.2f}" for n, (p, _, _) in sorted(scores.items(), key=lambda kv: -kv[1][0].confidence)
    )
    shapes = _shapes(observed, scores[best[0]][1]) or {}
    outs = ", ".join(f"{n}{list(s)}" for n, s in shapes.items())
    reasons = [f"no family in the metadata; output signature {outs}: families that read it, by confidence: {ranked}"]
    if len(best) > 1:
        best, shared = _decoder_owner(best, scores, records)
        if shared:
            reasons.append(shared)
    if len(best) > 1:
        needed = tuple((n, scores[n][1]) for n in best if (n, scores[n][1]) not in observed.values)
        if needed:
            return Resolution(None, needs_values=needed, reasons=tuple(reasons))
        kept = [n for n in best if not _contradicted(scores[n][0], observed.values[(n, scores[n][1])], scores[n][1])]
        if len(kept) == 1:
            reasons.append(f"tie {best} settled by one blank inference: its values contradict all but {kept[0]!r}")
            best = kept
    if len(best) != 1:
        return Resolution(None, reasons=tuple(reasons), candidates=tuple(best))
    plan, hw, source = scores[best[0]]
    return Resolution(best[0], plan=plan, input_hw=hw, input_size_source=source, reasons=tuple(reasons))
