"""The model-family registry and how `Detector.from_file` tells a model's family.

A family is a [`Detector`][lite.cv.detector.Detector] subclass registered with `register_family`;
`get_family` looks one up by name or alias (unknown: [`InputError`][lite.core.errors.InputError] listing
them), `family_names` lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from lite.core.errors import AmbiguousModelError, InputError, LayoutError
from lite.core.registry import Registry

if TYPE_CHECKING:
    from lite.backends.base import Backend
    from lite.cv.detector import Detector
    from lite.cv.records import FamilyRecord
    from lite.cv.resolve import Resolution
    from lite.ops.decoders import Plan

__all__ = [
    "register_family", "get_family", "family_names", "families_for_decoder", "detect_family", "named_family",
    "metadata_task", "open_model", "check_task",
]  # fmt: skip

_FAMILIES: Registry[type[Detector]] = Registry("model family", owner=lambda cls: cls.__qualname__)
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
        _FAMILIES.add(fam, cls)  # a name taken by another class is refused
        if record is not None:
            from lite.cv.records import RECORDS

            RECORDS.setdefault(record.name, record)  # a family defined outside records.py joins the table
            cls.record = record
            cls.decoders = record.decoder_names
            cls.preprocess_config = record.preprocess
            cls.default_input_size = record.input_size
            cls.default_strides = record.strides
            cls.default_anchors = record.anchors
            cls.input_multiple = record.input_multiple
        cls.family = fam
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


def metadata_task(raw: Mapping[str, str]) -> str | None:
    """The task the metadata states (ultralytics ``task``: ``detect``, ``segment``, ``pose``, ``classify``, ``obb``;
    ``kpt_shape`` alone: ``pose``), else None."""
    from lite.ops.decoders.tasks import META_TASKS

    task = str(raw.get("task", "")).strip().lower()
    if task in META_TASKS:
        return META_TASKS[task]
    return "pose" if "kpt_shape" in raw else None


def named_family(raw: Mapping[str, str], source: str | None, task: str | None = None) -> tuple[str, str] | None:
    """``(family, reason)`` when the model's metadata (or hub entry) names the family, else None.

    A record's identifying metadata names it only for a task it reads: the task the metadata states, else
    ``task`` (the task the caller asks for), else detection (ultralytics metadata names ``yolov8`` for a detector,
    a segmenter or a pose model and ``yolov8-cls`` for a classifier).
    """
    _load()
    fam = raw.get("family")
    if fam:
        return str(fam), f"metadata key 'family' = {fam!r}"
    want = metadata_task(raw) or task
    for fam_name, cls in _FAMILIES.items():  # each record's identifying metadata
        rec = cls.record
        if rec is None or (want is not None and want not in rec.tasks) or (want is None and "detect" not in rec.tasks):
            continue
        for rule in rec.identify:
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
    from lite.cv.records import RECORDS
    from lite.data.metadata import read_model_meta, sidecar_path

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
    named = named_family(raw, source)
    if named is not None and side.is_file() and raw.get("family") == named[0]:
        named = (named[0], f"metadata sidecar {side.name} (key 'family' = {named[0]!r})")
    meta = _meta_with_arguments(read_model_meta(backend.model_path, backend.metadata), kwargs)
    declared = {s.name: tuple(s.shape) for s in backend.outputs} if all(s.rank_known for s in backend.outputs) else None
    if declared is not None and named is None:
        every_task = tuple(dict.fromkeys(t for r in RECORDS.values() for t in r.tasks))
        refuse_other_task(backend, declared, meta, every_task, None)
    res = _resolve_with(backend, source, kwargs, meta, named, declared)
    why.extend(res.reasons)
    if res.family is not None:
        return get_family(res.family)
    if res.candidates:
        best = list(res.candidates)
        raise AmbiguousModelError(
            f"{backend.model_path.name}: the outputs fit several model families equally: {best}; "
            f"pass family= one of them (e.g. Detector.from_file(model, family={best[0]!r}))",
            tuple(best),
        )
    raise LayoutError(_no_family_message(backend, meta, res.errors))


def _resolve_with(
    backend: Backend, source: str | None, kwargs: Mapping[str, Any], meta: Any, named: Any, declared: Any
) -> Resolution:
    """Run the pure resolver, running for it the blank inferences it asks for (shapes, tie-breaking values)."""
    from lite.cv.image_model import hub_input_size
    from lite.cv.resolve import Observed, ResolveHints, parse_anchors, resolve
    from lite.ops.preprocess import normalize

    if len(backend.inputs) != 1:
        raise InputError(
            f"an image model needs a model with one image input; {backend.model_path} has {backend.inputs}"
        )
    spec = backend.inputs[0]
    anchors = kwargs.get("anchors")
    knobs = {
        "anchors": parse_anchors(anchors, "anchors") if anchors is not None else None,
        **{k: kwargs.get(k) for k in ("reg_max", "box_first", "sigmoid")},
    }
    fixed = spec.static_hw if spec.rank_known else None
    hints = ResolveHints(
        backend.model_path.name,
        meta,
        named,
        fixed_hw=fixed,
        input_size=kwargs.get("input_size"),
        hub_size=hub_input_size(source, backend.model_path) if fixed is None else None,
        knobs={k: v for k, v in knobs.items() if v is not None},
    )
    records = {n: cls.record for n, cls in _FAMILIES.items() if cls.record is not None}
    by_size: dict[tuple[int, int], dict[str, tuple]] = {}
    values: dict[tuple[str, tuple[int, int]], dict[str, np.ndarray]] = {}
    while True:
        res = resolve(Observed(declared, by_size, values), hints, records)
        for hw in res.needs_shapes:
            outs = backend.infer({spec.name: np.zeros((1, 3, *hw), np.float32)})
            by_size[hw] = {k: tuple(v.shape) for k, v in outs.items()}
        for fam, hw in res.needs_values:  # one blank inference, preprocessed as that family would
            cfg = records[fam].preprocess
            canvas = np.empty((*hw, 3), np.uint8)
            canvas[:] = np.array(cfg.pad_bgr, np.uint8)
            values[(fam, hw)] = backend.infer({spec.name: normalize(canvas, cfg)})
        if not res.needs_shapes and not res.needs_values:
            return res


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
    from lite.data.metadata import ModelMeta

    return meta.merged(ModelMeta.from_arguments(kwargs.get("names"), kwargs.get("strides"), kwargs.get("layout")))


def open_model(
    model: Any,
    *,
    family: str | None = None,
    task: str | None = None,
    api: str = "ImageModel.from_file",
    tasks: Sequence[str] | None = None,
    **kwargs: Any,
) -> Any:
    """Open ``model`` as the family it is (given, named by its metadata, or told by its outputs) and return the
    family class's instance: a `Detector` for boxes, masks and keypoints, a `Classifier` for class scores.

    Args:
        model: Model file, hub name or opened backend.
        family: Family name (None: read from the model).
        task: The task required (None: any); another task is a `TaskNotSupportedError` naming both.
        api: The caller's name, for messages.
        tasks: The tasks the caller returns results for (None: every task); a model of another task is refused
            before it is opened as its family.
        **kwargs: The family class's arguments and backend options.

    Raises:
        TaskNotSupportedError: The model's task is not ``task`` or not among ``tasks``.
        InputError, AmbiguousModelError, LayoutError: As `lite.cv.Detector.from_file`.
    """
    from lite import backends
    from lite.backends.base import Backend
    from lite.cv.detector import Detector, _owners_of
    from lite.cv.image_model import ImageModel, check_backend_options
    from lite.cv.records import RECORDS

    _check_task_name(task)
    if family is not None:
        fam = get_family(family)
        _refuse_task(fam, None, task, tasks, api, str(model))
        return check_task(fam(model, **kwargs), task, opened_here=True)
    Detector._check_layout_argument(kwargs.get("layout"))  # YOLOv6's layouts: the only ones layout= names
    for rec in RECORDS.values():  # a keyword out of its range, before any engine or resolver sees it
        for knob in rec.knobs:
            knob.check(kwargs.get(knob.name), rec.name)
    source = None if isinstance(model, Backend) else str(model)
    every = [k for ks in family_knobs().values() for k in ks]
    every = sorted(set(every), key=every.index)
    if isinstance(model, Backend):
        be = model
    else:
        opts = {k: kwargs.pop(k) for k in list(kwargs) if k not in every and k != "backend"}
        if kwargs.get("device") is not None:
            opts["device"] = kwargs["device"]
        path, backend = ImageModel._resolve(model), kwargs.pop("backend", None)
        check_backend_options(path, backend, opts, every, f"{api} (any family)")
        be = backends.create(path, backend, threads=kwargs.get("threads"), **opts)
        kwargs.pop("device", None)
    try:
        reasons: list[str] = []
        fam = detect_family(be, source, kwargs, reasons)
        _refuse_task(fam, reasons, task, tasks, api, be.model_path.name)
        own = set(fam.knobs())
        foreign = sorted(k for k in kwargs if k not in own and k not in ("backend", "threads"))
        if foreign:
            raise InputError(
                _owners_of(foreign) + f", and {be.model_path.name} was read as family {fam.family!r}, which takes "
                f"{', '.join(fam.knobs())}: drop it, or pass family= to open the model as another family"
            )
        # the opened backend is handed over: a hub file's size comes from its name and sha256 (hub_input_size)
        obj = fam(be, **{k: v for k, v in kwargs.items() if k not in ("backend", "threads")})
        obj.family_reasons = tuple(reasons)
        return check_task(obj, task, opened_here=False)
    except BaseException:
        if not isinstance(model, Backend):
            be.close()
        raise


def _check_task_name(task: str | None) -> None:
    from lite.ops.decoders.tasks import TASK_NAMES

    if task is not None and task not in TASK_NAMES:
        raise InputError(f"task: expected one of {list(TASK_NAMES)}, got {task!r}")


def _refuse_task(
    fam: Any, reasons: Sequence[str] | None, task: str | None, tasks: Sequence[str] | None, api: str, name: str
) -> None:
    """Refuse a family whose tasks the caller cannot return (a classifier given to a detector API)."""
    from lite.core.errors import TaskNotSupportedError
    from lite.cv.records import TASK_APIS, TASK_RESULTS

    own = fam.record.tasks if fam.record is not None else ("detect",)
    wanted = [t for t in own if (tasks is None or t in tasks) and (task is None or t == task)]
    if wanted:
        return
    found = own[0]
    why = "; ".join(reasons or ()) or f"family {fam.family!r}"
    if task is not None and (tasks is None or task in tasks):
        raise TaskNotSupportedError(
            f"{name}: task={task!r} asks for {TASK_RESULTS[task]}, but {why} is a {found} model "
            f"({TASK_RESULTS[found]}); use a {task} export of the model, or drop task= to take what it gives",
            found,
            why,
        )
    use = TASK_APIS[found]
    asked = f"task={task!r}" if task is not None else f"{api} ({', '.join(tasks or ())})"
    raise TaskNotSupportedError(f"{name}: a {found} model ({why}), not what {asked} reads: {use}", found, why)


def check_task(obj: Any, task: str | None, *, opened_here: bool) -> Any:
    """``obj`` when its task is ``task`` (or no task is asked); else closed and refused, naming both."""
    from lite.core.errors import TaskNotSupportedError
    from lite.cv.records import TASK_RESULTS

    if task is None or obj.task == task:
        return obj
    found, name = obj.task, obj.backend.model_path.name
    if opened_here:
        obj.close()
    decoder = obj.plan.decoder if obj.plan is not None else "?"
    raise TaskNotSupportedError(
        f"{name}: task={task!r} asks for {TASK_RESULTS[task]}, but the model is a {found} model (decoder "
        f"{decoder}: {TASK_RESULTS[found]} only); use a {task} export of the model, or drop task= to take what it "
        f"gives",
        found,
        f"decoder {obj.plan.decoder if obj.plan is not None else '?'}",
    )
