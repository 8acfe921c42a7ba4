"""The model manifest: what each hub name means (files, URLs, checksums, geometry, reported mAP).

The manifest is ``lite/hub/manifest.json``, shipped inside the package. Each model has one
or more *formats* (``"onnx"``, ``"ncnn"``, ``"pt"``...), each a list of files that live
together in the local model folder; the first file is the one a backend opens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from lite.core.errors import HubError

__all__ = ["ModelFile", "ModelFormat", "ModelEntry", "MANIFEST_PATH", "load_manifest", "entries", "normalize"]

MANIFEST_PATH = Path(__file__).with_name("manifest.json")


@dataclass(frozen=True)
class ModelFile:
    """One file of a model format.

    Attributes:
        file: File name in the local model folder.
        url: Where to download it from (None: not published; the user places it by hand).
        sha256: Expected hex digest (None: unknown, not checked).
    """

    file: str
    url: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class ModelFormat:
    """One way a model is stored: its files (first = the one to open), output layout and origin."""

    name: str
    files: tuple[ModelFile, ...]
    layout: str
    origin: str

    @property
    def primary(self) -> ModelFile:
        """The file a backend opens (an NCNN ``.param``, an ``.onnx``...)."""
        return self.files[0]


@dataclass(frozen=True)
class ModelEntry:
    """A named model of the hub.

    Attributes:
        name: Hub name (``"yolov6lite-s"``).
        title: Display name (``"YOLOv6Lite-S"``).
        family: ``"yolov6"``, ``"yolov6lite"`` or ``"lite-demo"``.
        classes: ``"coco80"`` or the list of class names.
        input_size: Network input ``(H, W)`` the reported figures use.
        strides: Output strides.
        map: Reported COCO val2017 mAP@0.5:0.95 in percent (None: not a COCO model).
        map_source: Key into the manifest's ``sources`` for where ``map`` comes from.
        license: Licence of the weights.
        default_format: Format [`lite.hub.resolve`][lite.hub.resolve] picks when none is asked for.
        formats: Every format by name.
        bundled: The file ships with lite (the demo model) instead of living in the model folder.
    """

    name: str
    title: str
    family: str
    classes: str | tuple[str, ...]
    input_size: tuple[int, int]
    strides: tuple[int, ...]
    map: float | None
    map_source: str | None
    license: str
    default_format: str
    formats: dict[str, ModelFormat] = field(default_factory=dict)
    bundled: bool = False

    def format(self, name: str | None = None) -> ModelFormat:
        """The format ``name`` (default: `default_format`); HubError lists the known ones."""
        key = name or self.default_format
        if key not in self.formats:
            raise HubError(f"{self.name} has no format {key!r}; it has {sorted(self.formats)}")
        return self.formats[key]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {
            "name": self.name,
            "title": self.title,
            "family": self.family,
            "classes": self.classes if isinstance(self.classes, str) else list(self.classes),
            "input_size": list(self.input_size),
            "strides": list(self.strides),
            "map": self.map,
            "map_source": _sources().get(self.map_source or "", None),
            "license": self.license,
            "default_format": self.default_format,
            "bundled": self.bundled,
            "formats": {
                k: {
                    "layout": f.layout,
                    "origin": f.origin,
                    "files": [{"file": x.file, "url": x.url, "sha256": x.sha256} for x in f.files],
                }
                for k, f in self.formats.items()
            },
        }


def normalize(name: str) -> str:
    """Comparison key of a hub name: case, ``-`` and ``_`` do not matter (``YOLOv6-Lite_S`` = ``yolov6lite-s``)."""
    return name.strip().lower().replace("-", "").replace("_", "")


def _entry(d: dict[str, Any]) -> ModelEntry:
    formats = {
        k: ModelFormat(
            name=k,
            files=tuple(ModelFile(f["file"], f.get("url"), f.get("sha256")) for f in v["files"]),
            layout=v["layout"],
            origin=v["origin"],
        )
        for k, v in d["formats"].items()
    }
    classes = d["classes"]
    return ModelEntry(
        name=d["name"],
        title=d["title"],
        family=d["family"],
        classes=classes if isinstance(classes, str) else tuple(classes),
        input_size=(int(d["input_size"][0]), int(d["input_size"][1])),
        strides=tuple(int(s) for s in d["strides"]),
        map=d.get("map"),
        map_source=d.get("map_source"),
        license=d["license"],
        default_format=d["default_format"],
        formats=formats,
        bundled=bool(d.get("bundled", False)),
    )


@lru_cache(maxsize=1)
def load_manifest() -> dict[str, Any]:
    """The raw manifest JSON (cached)."""
    try:
        return json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise HubError(f"the hub manifest {MANIFEST_PATH} is missing: reinstall lite") from e


def _sources() -> dict[str, str]:
    return dict(load_manifest().get("sources", {}))


@lru_cache(maxsize=1)
def entries() -> tuple[ModelEntry, ...]:
    """Every model of the manifest, in manifest order."""
    return tuple(_entry(d) for d in load_manifest()["models"])
