"""The model-family registry and how `Detector.from_file` tells a model's family.

A family is a [`Detector`][lite.cv.detector.Detector] subclass registered with `register_family`;
`get_family` looks one up by name or alias (unknown: [`InputError`][lite.errors.InputError] listing
them), `family_names` lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from lite.errors import AmbiguousModelError, InputError, LayoutError

if TYPE_CHECKING:
    from lite.backends.base import Backend
    from lite.cv.detector import Detector
    from lite.cv.records import FamilyRecord
    from lite.ops.decoders import Plan

__all__ = ["register_family", "get_family", "family_names", "families_for_decoder", "detect_family"]

_FAMILIES: dict[str, type[Detector]] = {}
_ALIASES: dict[str, str] = {}
F = TypeVar("F", bound="type[Detector]")


def register_family(
    name: str | None = None, *, aliases: Sequence[str] = (), record: FamilyRecord | None = None
) -> Callable[[F], F]:
    """Class decorator registering a Detector subclass as family ``name`` (plus ``aliases``).

    With a ``record`` (`lite.cv.records.FamilyRecord`) the name, aliases and every default (decoders by priority,
    preprocessing, input size, strides, anchors) come from it.

    Raises:
        InputError: ``name`` is already registered by another class.
    """

    def deco(cls: F) -> F:
        fam = name or (record.name if record is not None else None)
        if fam is None:
            raise InputError("register_family: give a name or a record")
        old = _FAMILIES.get(fam)
        if old is not None and old.__qualname__ != cls.__qualname__:
            raise InputError(f"model family {fam!r} is already registered by {old.__qualname__}")
        if record is not None:
            cls.record = record
            cls.decoders = record.decoder_names
            cls.preprocess_config = record.preprocess
            cls.default_input_size = record.input_size
            cls.default_strides = record.strides
            cls.default_anchors = record.anchors
            cls.input_multiple = record.input_multiple
        cls.family = fam
        _FAMILIES[fam] = cls
        for a in (*aliases, *(record.aliases if record is not None else ())):
            _ALIASES[a] = fam
        return cls

    return deco


def _key(name: str) -> str:
    return str(name).strip().lower().replace("-", "").replace("_", "")


def get_family(name: str) -> type[Detector]:
    """The family class for ``name`` or an alias (``"yolo11"`` → YOLOv8).

    Raises:
        InputError: Unknown name; the message lists the known ones.
    """
    _load()
    key = _key(name) if isinstance(name, str) else None
    for n in _FAMILIES:
        if key == _key(n):
            return _FAMILIES[n]
    for a, n in _ALIASES.items():
        if key == _key(a):
            return _FAMILIES[n]
    raise InputError(
        f"unknown model family {name!r}; expected one of {list(family_names())} (or an alias: {sorted(_ALIASES)})"
    )


def family_names() -> tuple[str, ...]:
    """Registered family names (aliases not included): the built-in ones in a fixed order, then the others."""
    _load()
    builtin = ("yolov5", "yolov6", "yolov8", "yolox", "nanodet")
    return tuple(n for n in builtin if n in _FAMILIES) + tuple(n for n in _FAMILIES if n not in builtin)


def families_for_decoder(decoder: str) -> tuple[str, ...]:
    """The families whose outputs may have layout ``decoder``."""
    _load()
    return tuple(n for n, cls in _FAMILIES.items() if decoder in cls.decoders)


def family_knobs() -> dict[str, tuple[str, ...]]:
    """Every family's keyword arguments (`ImageModel.knobs`), by family name."""
    _load()
    return {n: cls.knobs() for n, cls in _FAMILIES.items()}


def describe_plans(plans: Sequence[Plan]) -> str:
    """``family 'yolov8' (yolov8: (B, 4+nc, N) ..., confidence 0.85)`` for each plan."""
    parts = []
    for p in plans:
        fams = "/".join(families_for_decoder(p.decoder)) or "?"
        parts.append(f"family {fams!r} ({p.describe()}, confidence {p.confidence:.2f})")
    return "; ".join(parts)


def _load() -> None:
    if not _FAMILIES:
        import lite.cv  # noqa: F401  (registers the built-in families)


def _meta_family(raw: Mapping[str, str], source: str | None) -> tuple[str, str] | None:
    """``(family, reason)`` when the model's metadata (or hub entry) names the family, else None."""
    fam = raw.get("family")
    if fam:
        return str(fam), f"metadata key 'family' = {fam!r}"
    for fam_name, cls in _FAMILIES.items():  # each record's identifying metadata
        for rule in cls.record.identify if cls.record is not None else ():
            if rule.matches(raw):
                return fam_name, rule.describe(raw)
    if source and "." not in source.rsplit("/", 1)[-1]:
        try:
            from lite.hub import get

            hub_family = get(source).family
        except Exception:  # noqa: BLE001 - not a hub name
            return None
        fam = "yolov6" if hub_family in ("yolov6", "yolov6lite", "lite-demo") else hub_family
        return fam, f"hub manifest entry {source!r} (family {hub_family!r})"
    return None


def detect_family(
    backend: Backend, source: str | None, kwargs: Mapping[str, Any], reasons: list[str] | None = None
) -> type[Detector]:
    """The family of an opened model: from its metadata, else from the outputs (see `Detector.from_file`).

    ``reasons`` (when given) receives why: which metadata key, which output signature, which tie-break.

    Raises:
        AmbiguousModelError: Several families fit equally.
        LayoutError: No family fits.
    """
    from lite.cv.detector import refuse_other_task
    from lite.metadata import read_model_meta, sidecar_path

    _load()
    raw = dict(backend.metadata)
    side = sidecar_path(backend.model_path)
    if side.is_file():
        import json

        try:
            data = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}  # an unreadable sidecar is reported when the family opens the model
        if isinstance(data, dict):
            extra = data.get("extra")
            fam = data.get("family") or (extra.get("family") if isinstance(extra, dict) else None)
            if fam:
                raw["family"] = fam
    why = reasons if reasons is not None else []
    named = _meta_family(raw, source)
    if named is not None:
        if side.is_file() and "family" in raw and raw["family"] == named[0]:
            named = (named[0], f"metadata sidecar {side.name} (key 'family' = {named[0]!r})")
        why.append(f"family {named[0]!r} from {named[1]}")
        return get_family(named[0])

    # From the outputs: every family reads them as it would; the most confident family wins.
    meta = _meta_with_arguments(read_model_meta(backend.model_path, backend.metadata), kwargs)
    if all(s.rank_known for s in backend.outputs):
        refuse_other_task(backend, {s.name: tuple(s.shape) for s in backend.outputs}, meta)
    scores: dict[str, tuple[float, type[Detector]]] = {}
    errors: list[str] = []
    probed: dict[tuple[int, int], dict[str, tuple]] = {}  # one blank inference per input size at most
    for name in family_names():
        cls = _FAMILIES[name]
        probe = cls.__new__(cls)
        probe._source_name = source
        try:
            reasons: list[str] = []
            shapes, plans = _family_plans(probe, backend, meta, kwargs, probed, reasons)
            errors += [f"{name}: {r}" for r in reasons if not plans]
        except (LayoutError, InputError) as e:
            if not isinstance(e, LayoutError) and str(e).startswith(("input_size", "layout:", "strides:")):
                raise  # the caller's argument is wrong whatever the family: say that first
            errors.append(f"{name}: {e}")
            continue
        if plans:
            scores[name] = (plans[0].confidence, cls)
    if not scores:
        raise LayoutError(_no_family_message(backend, meta, errors))
    top = max(c for c, _ in scores.values())
    best = [n for n, (c, _) in scores.items() if abs(c - top) < 1e-9]
    outs = ", ".join(f"{s.name}{list(s.shape)}" for s in backend.outputs)
    ranked = ", ".join(f"{n} {c:.2f}" for n, (c, _) in sorted(scores.items(), key=lambda kv: -kv[1][0]))
    why.append(f"no family in the metadata; output signature {outs}: families that read it, by confidence: {ranked}")
    if len(best) > 1:
        tied = list(best)
        best = _settle_by_values(backend, best, kwargs, source) or best
        if len(best) == 1:
            why.append(f"tie {tied} settled by one blank inference: its values contradict all but {best[0]!r}")
    if len(best) != 1:
        raise AmbiguousModelError(
            f"{backend.model_path.name}: the outputs fit several model families equally: {best}; "
            f"pass family= one of them (e.g. Detector.from_file(model, family={best[0]!r}))",
            tuple(best),
        )
    return _FAMILIES[best[0]]


def _no_family_message(backend: Backend, meta: Any, errors: Sequence[str]) -> str:
    """Why no family reads the outputs: the outputs, what each family expects, and where the class count came from."""
    from lite.ops.decoders import get_decoder

    outs = ", ".join(f"{s.name}{list(s.shape)}" for s in backend.outputs)
    msg = f"{backend.model_path.name}: no registered family reads the outputs {outs}"
    if errors:
        msg += " (" + " | ".join(errors[:3]) + ")"
    if meta.names is not None:
        msg += f"; the class count {len(meta.names)} comes from {meta.source_of('names')}"
    expected = "; ".join(
        f"{n}: " + " or ".join(get_decoder(d).signature for d in cls.decoders) for n, cls in _FAMILIES.items()
    )
    return msg + f". Known families and the outputs they read: {expected}"


def _meta_with_arguments(meta: Any, kwargs: Mapping[str, Any]) -> Any:
    """The model's metadata with the caller's ``names``, ``strides`` and ``layout`` on top."""
    from lite.metadata import ModelMeta

    return meta.merged(ModelMeta.from_arguments(kwargs.get("names"), kwargs.get("strides"), kwargs.get("layout")))


def _family_plans(
    probe: Detector,
    backend: Backend,
    meta: Any,
    kwargs: Mapping[str, Any],
    probed: dict | None = None,
    reasons: list[str] | None = None,
) -> tuple[dict[str, tuple], list[Plan]]:
    """The plans a family's decoders make for the model, as the family would open it (no side effects)."""
    from lite.cv.image_model import InputSizeSource
    from lite.ops.decoders import match_outputs

    probe.backend = backend
    probe.input_spec = backend.inputs[0]
    probe.input_name = probe.input_spec.name
    probe.meta = meta
    probe._anchors = None
    probe._reg_max = kwargs.get("reg_max")
    probe._box_first = probe._sigmoid = None
    probe._fixed_hw = probe._static_hw()
    probe.input_hw, probe.input_size_source = probe._choose_input_hw(kwargs.get("input_size"))
    probed = {} if probed is None else probed

    def shapes_at(hw: tuple[int, int]) -> dict[str, tuple]:
        if hw not in probed:
            probed[hw] = probe._output_shapes()[0]
        return probed[hw]

    shapes = shapes_at(probe.input_hw)
    plans = match_outputs(shapes, probe._hints(), probe.decoders, reasons)
    if plans and plans[0].size_mismatch and probe.input_size_source == InputSizeSource.DEFAULT and plans[0].fits:
        probe.input_hw = plans[0].fits[0]
        shapes = shapes_at(probe.input_hw)
        plans = match_outputs(shapes, probe._hints(), probe.decoders)
    return shapes, plans


def _settle_by_values(backend: Backend, fams: list[str], kwargs: Mapping[str, Any], source: str | None) -> list[str]:
    """Families whose layout is not contradicted by the values of one blank inference."""
    from lite.metadata import read_model_meta
    from lite.ops.decoders import get_decoder

    meta = _meta_with_arguments(read_model_meta(backend.model_path, backend.metadata), kwargs)
    keep = []
    for name in fams:
        cls = _FAMILIES[name]
        probe = cls.__new__(cls)
        probe._source_name = source
        _, plans = _family_plans(probe, backend, meta, kwargs)
        if not plans:
            continue
        plan = plans[0]
        outs = backend.infer({probe.input_name: probe._blank()})
        dec = get_decoder(plan.decoder)
        try:
            plan = dec.refine(plan, outs)
            if dec.check(plan, outs, probe.input_hw) is None and all(
                np.isfinite(np.asarray(v)).all() for v in outs.values()
            ):
                keep.append(name)
        except (LayoutError, InputError, KeyError, ValueError):
            continue
    return keep
