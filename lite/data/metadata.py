"""Model metadata: class names, strides, input size and layout that travel with a model.

Sources, later ones winning: the model file's own metadata (ONNX ``metadata_props``, read by the
backend), a sidecar ``<model file name>.lite.json`` (e.g. ``m.mnn.lite.json``) written next to
converted models, then the caller's arguments. Values in ONNX metadata are strings: JSON
(``["person", ...]``, ``[8, 16, 32]``, ``[320, 320]``) or a Python literal (``{0: 'person', ...}``).
"""

from __future__ import annotations

import ast
import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lite.core.errors import InputError, MetadataWarning, ModelLoadError
from lite.core.files import atomic_write_bytes
from lite.data.coco import canonical_names

SIDECAR_SUFFIX = ".lite.json"
#: Keys kept in `ModelMeta.extra` that a sidecar writes at its top level: the resolved family and its decoder.
TOP_EXTRA_KEYS = ("family", "decoder")
#: Longest metadata text lite parses (a value, or a whole sidecar file), in characters.
MAX_METADATA_CHARS = 1 << 20
#: Deepest nesting of brackets in a metadata value lite parses (class names need 2).
MAX_METADATA_DEPTH = 16

_KEYS = {
    "names": ("names", "class_names", "labels"),
    "strides": ("strides", "stride"),
    "input_size": ("input_size", "imgsz", "img_size"),
    "layout": ("layout",),
}


@dataclass
class ModelMeta:
    """What a detector needs to know about a model beyond its tensors (None = unknown)."""

    names: tuple[str, ...] | None = None
    strides: tuple[int, ...] | None = None
    input_size: tuple[int, int] | None = None
    layout: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    #: Where each known field came from (``"names"`` → ``"the metadata of m.onnx"``), for messages.
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    def merged(self, other: ModelMeta) -> ModelMeta:
        """A copy where every field ``other`` knows overrides this one's."""
        fields = ("names", "strides", "input_size", "layout")
        sources = {
            f: (other.sources if getattr(other, f) is not None else self.sources).get(f, "")
            for f in fields
            if getattr(other, f) is not None or getattr(self, f) is not None
        }
        return ModelMeta(
            names=other.names if other.names is not None else self.names,
            strides=other.strides if other.strides is not None else self.strides,
            input_size=other.input_size if other.input_size is not None else self.input_size,
            layout=other.layout if other.layout is not None else self.layout,
            extra={**self.extra, **other.extra},
            sources={k: v for k, v in sources.items() if v},
        )

    @classmethod
    def from_arguments(
        cls, names: Sequence[str] | None = None, strides: Sequence[int] | None = None, layout: str | None = None
    ) -> ModelMeta:
        """What a caller's ``names=`` / ``strides=`` / ``layout=`` arguments say (their source recorded)."""
        meta = cls(
            names=tuple(names) if names is not None else None,
            strides=tuple(int(s) for s in strides) if strides is not None else None,
            layout=layout,
        )
        meta.sources = {f: f"the {f}= argument" for f in ("names", "strides", "layout") if getattr(meta, f) is not None}
        return meta

    def source_of(self, name: str) -> str:
        """Where field ``name`` came from (``"the metadata of m.onnx"``, ``"the names= argument"``...)."""
        return self.sources.get(name, "the model's metadata")

    def flag(self, key: str) -> bool | None:
        """The boolean ``extra[key]`` (read by `parse_bool`), or None when the key is absent.

        Raises:
            InputError: The value is not a boolean (``true``/``false``, ``1``/``0``, ``yes``/``no``).
        """
        value = self.extra.get(key)
        if value is None:
            return None
        flag = parse_bool(value)
        if flag is None:
            raise InputError(f"model metadata {key}={value!r}: expected true or false")
        return flag

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the sidecar format): ``extra``'s ``family`` and ``decoder`` are top-level keys."""
        d = asdict(self)
        d.pop("sources")  # where the facts came from is not itself metadata
        extra = dict(d.pop("extra"))
        d.update({k: extra.pop(k) for k in TOP_EXTRA_KEYS if k in extra})
        d["extra"] = extra
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items() if v not in (None, {})}

    def to_strings(self) -> dict[str, str]:
        """String values for ONNX ``metadata_props`` (JSON-encoded)."""
        skip = ("extra", "layout", *TOP_EXTRA_KEYS)
        out = {k: json.dumps(v) for k, v in self.to_json_dict().items() if k not in skip}
        if self.layout:
            out["layout"] = self.layout
        out.update(self.extra)
        return out


def parse_value(value: Any) -> Any:
    """A metadata value: JSON or a Python literal when the text is one (``"[8, 16]"`` → ``[8, 16]``), else the
    stripped text; a value that is not a string is returned as it is."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    for loader in (json.loads, ast.literal_eval):
        try:
            return loader(text)
        except (ValueError, SyntaxError, TypeError):
            continue
    return text


def _bad(source: str | None, key: str, expected: str, value: Any) -> ModelLoadError:
    where = source or "model metadata"
    return ModelLoadError(
        f"{where}: key {key!r}: expected {expected}, got {value!r}; fix the value (or delete the key) in {where}"
    )


def _names(v: Any, key: str, source: str | None) -> tuple[str, ...]:
    expected = "a list of class names, a {id: name} mapping or a comma-separated string"
    parsed = parse_value(v)
    if isinstance(parsed, Mapping):
        try:
            order = sorted(parsed, key=lambda k: int(k))
        except (TypeError, ValueError):
            raise _bad(source, key, f"{expected} (with integer ids)", v) from None
        names = tuple(str(parsed[k]) for k in order)
    elif isinstance(parsed, list | tuple) and all(isinstance(x, str | int | float) for x in parsed):
        names = tuple(str(x) for x in parsed)
    elif isinstance(parsed, str) and parsed:
        names = tuple(s.strip() for s in parsed.split(","))
    else:
        raise _bad(source, key, expected, v)
    if not names:
        raise _bad(source, key, f"{expected} (not empty)", v)
    return canonical_names(names)  # the 80 COCO classes in another spelling get lite's one COCO list


def _ints(v: Any, key: str, source: str | None, expected: str) -> tuple[int, ...]:
    parsed = parse_value(v)
    values = (parsed,) if isinstance(parsed, int | float) and not isinstance(parsed, bool) else parsed
    if (
        not isinstance(values, list | tuple)
        or not values
        or not all(isinstance(x, int | float) and not isinstance(x, bool) and float(x).is_integer() for x in values)
        or min(values) <= 0
    ):
        raise _bad(source, key, expected, v)
    return tuple(int(x) for x in values)


def parse_bool(value: Any) -> bool | None:
    """A metadata flag: True for ``"1"``/``"true"``/``"yes"``, False for ``"0"``/``"false"``/``"no"`` (any case,
    spaces ignored), None for any other value."""
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    return None


# Keys a sidecar may carry at the top level besides the aliases in _KEYS ("extra" holds free-form strings).
KNOWN_KEYS = frozenset({"extra", "box_first", "sigmoid", "family", "decoder"})
_BOOL_KEYS = ("box_first", "sigmoid")


def check_metadata_text(text: str, where: str) -> str:
    """Refuse metadata text too long or nested too deep to parse (JSON and literal parsers recurse per level).

    Args:
        text: A metadata value or a whole sidecar file, before it is parsed.
        where: What it is, for the message (``"metadata sidecar m.onnx.lite.json"``, ``"… key 'names'"``).

    Returns:
        ``text``, unchanged.

    Raises:
        ModelLoadError: More than `MAX_METADATA_CHARS` characters, or brackets nested deeper than `MAX_METADATA_DEPTH`.
    """
    if len(text) > MAX_METADATA_CHARS:
        raise ModelLoadError(
            f"{where}: expected at most {MAX_METADATA_CHARS:,} characters of metadata, got {len(text):,}; "
            "the metadata is damaged or not lite's: fix or delete it"
        )
    import numpy as np

    b = np.frombuffer(text.encode("utf-8", errors="replace"), np.uint8)
    step = np.isin(b, (0x5B, 0x7B, 0x28)).astype(np.int32) - np.isin(b, (0x5D, 0x7D, 0x29))  # [{( minus ]})
    depth = int(np.cumsum(step).max()) if b.size else 0
    if depth > MAX_METADATA_DEPTH:
        raise ModelLoadError(
            f"{where}: expected metadata nested at most {MAX_METADATA_DEPTH} levels deep (class names: a list or "
            f"a mapping), got brackets nested {depth} deep; the metadata is damaged or not lite's: fix or delete it"
        )
    return text


def from_mapping(raw: Mapping[str, Any], source: str | None = None, *, strict_keys: bool = False) -> ModelMeta:
    """Read names, strides, input size and layout from a metadata mapping (strings or JSON values).

    Values are checked like arguments: a wrong type or value raises `ModelLoadError` naming
    ``source`` and the key.

    Args:
        raw: The metadata (ONNX ``metadata_props`` strings, or a sidecar's JSON object).
        source: What the mapping comes from (a sidecar path, "``m.onnx`` metadata"), for messages.
        strict_keys: Warn (`MetadataWarning`) about top-level keys lite does not know — for sidecars,
            which lite writes; a model file's own metadata may carry anything.

    Raises:
        ModelLoadError: A known key with a wrong type or value (e.g. ``strides: [0]``, ``input_size: [0, 0]``).
    """
    for key, value in raw.items():  # before any value is parsed
        if isinstance(value, str):
            check_metadata_text(value, f"{source or 'model metadata'}: key {key!r}")
    meta = ModelMeta()
    used: set[str] = set()
    for key in _KEYS["names"]:
        if key in raw:
            meta.names = _names(raw[key], key, source)
            used.add(key)
            break
    for key in _KEYS["strides"]:
        if key in raw:
            meta.strides = _ints(raw[key], key, source, "a list of positive integer strides, e.g. [8, 16, 32]")
            used.add(key)
            break
    for key in _KEYS["input_size"]:
        if key in raw:
            size = _ints(raw[key], key, source, "a positive input size N or [height, width]")
            meta.input_size = (size[0], size[0]) if len(size) == 1 else (size[-2], size[-1])
            used.add(key)
            break
    if "layout" in raw and raw["layout"]:
        meta.layout = _layout(raw["layout"], source)
        used.add("layout")
    extra = raw.get("extra", {})
    if not isinstance(extra, Mapping):
        raise _bad(source, "extra", "a JSON object of strings", extra)
    meta.extra = {str(k): str(v) for k, v in extra.items()}
    where = source or "the metadata"
    meta.sources = {}
    for f, keys in _KEYS.items():
        hit = next((k for k in keys if k in used), None)
        if hit is not None:
            meta.sources[f] = f"{where} (key {hit!r})"
    rest = {k: v for k, v in raw.items() if k not in used and k != "extra"}
    if strict_keys:
        aliases = {k for keys in _KEYS.values() for k in keys}
        unknown = sorted(str(k) for k in rest if k not in KNOWN_KEYS and k not in aliases)
        if unknown:
            warnings.warn(
                f"{source or 'metadata'}: unknown key{'s' if len(unknown) > 1 else ''} {unknown} ignored (known: "
                f"{sorted(aliases | KNOWN_KEYS)}); written by a newer lite? Otherwise check the spelling",
                MetadataWarning,
                stacklevel=3,
            )
    meta.extra.update({str(k): str(v) for k, v in rest.items()})
    for key in _BOOL_KEYS:
        if key in meta.extra and parse_bool(meta.extra[key]) is None:
            raise _bad(source, key, "true or false", meta.extra[key])
    return meta


def _layout(value: Any, source: str | None) -> str:
    """A layout name (its value is checked by the decoder that reads it: lite.ops sits above this module)."""
    if not isinstance(value, str) or not value.strip():
        raise _bad(source, "layout", "a layout name", value)
    return value


def sidecar_path(model_path: str | Path) -> Path:
    """``model.onnx`` → ``model.onnx.lite.json``; ``model.mnn`` → ``model.mnn.lite.json``.

    The full file name is kept so that a model and its conversions in one folder
    (``m.onnx``, ``m.mnn``, ``m.ncnn.param``) each have their own sidecar.
    """
    p = Path(model_path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def read_sidecar(model_path: str | Path) -> ModelMeta:
    """Metadata from the model's sidecar file, or an empty `ModelMeta` when there is none.

    Raises:
        ModelLoadError: The sidecar exists but is not valid JSON, or a key has a wrong type or value.

    Warns:
        MetadataWarning: The sidecar has a key lite does not know (the message names it and the file).
    """
    path = sidecar_path(model_path)
    if not path.is_file():
        return ModelMeta()
    try:
        raw = json.loads(check_metadata_text(path.read_text(encoding="utf-8"), f"metadata sidecar {path}"))
    except (OSError, ValueError) as e:
        if isinstance(e, ModelLoadError):
            raise
        raise ModelLoadError(f"metadata sidecar {path} is not valid JSON: {e}; fix or delete it") from e
    if not isinstance(raw, dict):
        raise ModelLoadError(f"metadata sidecar {path}: expected a JSON object, got {type(raw).__name__}")
    return from_mapping(raw, f"metadata sidecar {path}", strict_keys=True)


def write_sidecar(model_path: str | Path, meta: ModelMeta) -> Path:
    """Write ``meta`` as the model's sidecar JSON, atomically (`lite.core.files.atomic_write_bytes`); returns its
    path."""
    return atomic_write_bytes(sidecar_path(model_path), (json.dumps(meta.to_json_dict(), indent=2) + "\n").encode())


def read_model_meta(model_path: str | Path, file_metadata: Mapping[str, str] | None = None) -> ModelMeta:
    """Everything known about a model from its file and its sidecar (sidecar wins).

    Raises:
        ModelLoadError: A known key of either has a wrong type or value (the message names the file).
    """
    base = from_mapping(file_metadata or {}, f"the metadata of {Path(model_path).name}")
    return base.merged(read_sidecar(model_path))
