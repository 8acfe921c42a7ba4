"""Model metadata: class names, strides, input size and layout that travel with a model.

Sources, later ones winning: the model file's own metadata (ONNX ``metadata_props``, read by the
backend), a sidecar ``<model file name>.lite.json`` (e.g. ``m.mnn.lite.json``) written next to
converted models, then the caller's arguments. Values in ONNX metadata are strings: JSON
(``["person", ...]``, ``[8, 16, 32]``, ``[320, 320]``) or a Python literal (``{0: 'person', ...}``).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lite.errors import ModelLoadError

SIDECAR_SUFFIX = ".lite.json"

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

    def merged(self, other: ModelMeta) -> ModelMeta:
        """A copy where every field ``other`` knows overrides this one's."""
        return ModelMeta(
            names=other.names if other.names is not None else self.names,
            strides=other.strides if other.strides is not None else self.strides,
            input_size=other.input_size if other.input_size is not None else self.input_size,
            layout=other.layout if other.layout is not None else self.layout,
            extra={**self.extra, **other.extra},
        )

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the sidecar format)."""
        d = asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items() if v not in (None, {})}

    def to_strings(self) -> dict[str, str]:
        """String values for ONNX ``metadata_props`` (JSON-encoded)."""
        out = {k: json.dumps(v) for k, v in self.to_json_dict().items() if k not in ("extra", "layout")}
        if self.layout:
            out["layout"] = self.layout
        out.update(self.extra)
        return out


def _parse(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    for loader in (json.loads, ast.literal_eval):
        try:
            return loader(text)
        except (ValueError, SyntaxError, TypeError):
            continue
    return text


def _names(v: Any) -> tuple[str, ...] | None:
    v = _parse(v)
    if isinstance(v, Mapping):
        return tuple(str(v[k]) for k in sorted(v, key=lambda k: int(k)))
    if isinstance(v, list | tuple):
        return tuple(str(x) for x in v)
    if isinstance(v, str) and v:
        return tuple(s.strip() for s in v.split(","))
    return None


def _ints(v: Any) -> tuple[int, ...] | None:
    v = _parse(v)
    if isinstance(v, int):
        return (v,)
    if isinstance(v, list | tuple) and all(isinstance(x, int | float) for x in v):
        return tuple(int(x) for x in v)
    return None


def from_mapping(raw: Mapping[str, Any]) -> ModelMeta:
    """Read names, strides, input size and layout from a metadata mapping (strings or JSON values)."""
    meta = ModelMeta()
    used: set[str] = set()
    for key in _KEYS["names"]:
        if key in raw:
            meta.names = _names(raw[key])
            used.add(key)
            break
    for key in _KEYS["strides"]:
        if key in raw:
            meta.strides = _ints(raw[key])
            used.add(key)
            break
    for key in _KEYS["input_size"]:
        if key in raw:
            size = _ints(raw[key])
            if size:
                meta.input_size = (size[0], size[0]) if len(size) == 1 else (size[-2], size[-1])
            used.add(key)
            break
    if "layout" in raw and raw["layout"]:
        meta.layout = str(raw["layout"])
        used.add("layout")
    extra = raw.get("extra")
    meta.extra = {str(k): str(v) for k, v in (extra.items() if isinstance(extra, Mapping) else [])}
    meta.extra.update({str(k): str(v) for k, v in raw.items() if k not in used and k != "extra"})
    return meta


def sidecar_path(model_path: str | Path) -> Path:
    """``model.onnx`` → ``model.onnx.lite.json``; ``model.mnn`` → ``model.mnn.lite.json``.

    The full file name is kept so that a model and its conversions in one folder
    (``m.onnx``, ``m.mnn``, ``m.ncnn.param``) each have their own sidecar.
    """
    p = Path(model_path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def read_sidecar(model_path: str | Path) -> ModelMeta:
    """Metadata from the model's sidecar file, or an empty :class:`ModelMeta` when there is none.

    Raises:
        ModelLoadError: The sidecar exists but is not valid JSON.
    """
    path = sidecar_path(model_path)
    if not path.is_file():
        return ModelMeta()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"metadata sidecar {path} is not valid JSON: {e}; fix or delete it") from e
    if not isinstance(raw, dict):
        raise ModelLoadError(f"metadata sidecar {path}: expected a JSON object, got {type(raw).__name__}")
    return from_mapping(raw)


def write_sidecar(model_path: str | Path, meta: ModelMeta) -> Path:
    """Write ``meta`` as the model's sidecar JSON; returns its path."""
    path = sidecar_path(model_path)
    path.write_text(json.dumps(meta.to_json_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def read_model_meta(model_path: str | Path, file_metadata: Mapping[str, str] | None = None) -> ModelMeta:
    """Everything known about a model from its file and its sidecar (sidecar wins)."""
    base = from_mapping(file_metadata or {})
    return base.merged(read_sidecar(model_path))
