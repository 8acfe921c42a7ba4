"""Model hub: short names (``"yolov6lite-s"``) for known models, resolved to files on disk.

A name resolves to a file in the local model folder, `lite.core.cache.home_dir`
(``$LITE_HOME``, default ``<user cache dir>/lite/models``). A file already there is checked
against the sha256 the manifest records; a missing file with a known URL is downloaded
(streamed to a temporary file, checked, then renamed). Without network access the error
says which URL to fetch and where to put the file. A file the manifest has no sha256 for
cannot be checked: lite says so once per file with an `UnverifiedModelWarning`
(`verified` tells which names are checked).

A name may carry a format after a colon: ``"yolov6lite-s:onnx"`` (the default format is the
one `ModelEntry.default_format` names). The project's own demo model,
``lite-demo-shapes``, ships with lite and needs no download (`default_model`).

Examples:
    ```python
    import lite
    from lite import hub

    print(hub.list_models()[:3])
    # ['yolov6n', 'yolov6s', 'yolov6m']
    path = hub.resolve("yolov6lite-s")          # downloads once, then checks the sha256
    det = lite.YOLOv6("yolov6lite-s")            # the same, through the detector
    ```
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from lite.core.cache import home_dir
from lite.core.errors import ChecksumError, HubError, UnverifiedModelWarning
from lite.hub.download import download, sha256_file
from lite.hub.manifest import ModelEntry, ModelFile, ModelFormat, entries, load_manifest, normalize

__all__ = [
    "DEMO_MODEL",
    "ModelEntry",
    "ModelFile",
    "ModelFormat",
    "default_model",
    "download",
    "get",
    "info",
    "list_models",
    "markdown_table",
    "resolve",
    "sha256_file",
    "verified",
]

DEMO_MODEL = "lite-demo-shapes"
"""Hub name of lite's own demo detector (bundled, no download)."""

_PACKAGE_DIR = Path(__file__).resolve().parent


def list_models() -> list[str]:
    """Names of every model the hub knows, in manifest order."""
    return [e.name for e in entries()]


def _split(name: str) -> tuple[str, str | None]:
    base, sep, fmt = str(name).partition(":")
    return base, (fmt.strip() or None) if sep else None


def get(name: str) -> ModelEntry:
    """The manifest entry for ``name`` (a ``:format`` suffix is ignored).

    Raises:
        HubError: Unknown name; the message lists the known names.
    """
    base, _ = _split(name)
    key = normalize(base)
    for e in entries():
        if normalize(e.name) == key:
            return e
    raise HubError(f"unknown model name {base!r}; known names: {', '.join(list_models())}")


_WARNED_UNVERIFIED: set[Path] = set()


def verified(name: str) -> bool:
    """Whether every file of ``name``'s default format has a sha256 in the manifest (so lite checks it)."""
    e = get(name)
    return not e.bundled and all(f.sha256 for f in e.format().files)


def _warn_unverified(path: Path, fmt: ModelFormat) -> None:
    """Warn once per file that ``path`` cannot be checked (the manifest has no sha256 for it)."""
    key = path.absolute()
    if key in _WARNED_UNVERIFIED:
        return
    _WARNED_UNVERIFIED.add(key)
    warnings.warn(
        f"{path}: unverified: the manifest records no sha256 for this file ({fmt.origin}), so lite cannot check "
        "that it is the right model; a wrong file under this name would load silently",
        UnverifiedModelWarning,
        stacklevel=4,
    )


def _check(path: Path, expected: str | None, where: str = "") -> None:
    if expected is None:
        return
    got = sha256_file(path)
    if got != expected.lower():
        raise ChecksumError(
            f"{path}: sha256 mismatch: expected {expected.lower()}, got {got}{where}. The file is corrupt or "
            f"another version: delete it and resolve the name again"
        )


def _demo_candidates() -> list[Path]:
    # A source checkout (editable install) has the model in <repo>/hub/; a wheel carries it
    # inside the package, in lite/demo/.
    return [_PACKAGE_DIR.parents[1] / "hub" / f"{DEMO_MODEL}.onnx", _PACKAGE_DIR.parent / "demo" / f"{DEMO_MODEL}.onnx"]


def _demo_record(model: Path) -> dict[str, Any] | None:
    rec = model.with_suffix(".json")
    if not rec.is_file():
        return None
    try:
        return json.loads(rec.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise HubError(f"{rec}: the demo model's record is not valid JSON ({e})") from e


def default_model() -> Path:
    """Path of lite's bundled demo detector ``lite-demo-shapes.onnx`` (6 shape classes, 320×320).

    Looks in the source checkout's ``hub/`` folder, then inside the installed package, and
    checks the file against the sha256 in the ``lite-demo-shapes.json`` record beside it
    when that record exists.

    Raises:
        HubError: The model is in neither place.
        ChecksumError: The file does not match its record.
    """
    for path in _demo_candidates():
        if path.is_file():
            record = _demo_record(path)
            if record is not None:
                _check(path, record.get("sha256"), f" (recorded in {path.with_suffix('.json').name})")
            return path
    where = " or ".join(str(p) for p in _demo_candidates())
    raise HubError(
        f"the demo model {DEMO_MODEL}.onnx is not installed: looked for {where}. Reinstall lite, or train and "
        f"export it with examples/demo_training/train_demo_detector.py --export hub/{DEMO_MODEL}.onnx"
    )


def _ensure(
    mf: ModelFile, fmt: ModelFormat, folder: Path, *, download_ok: bool, progress: bool, timeout: float
) -> Path:
    path = folder / mf.file
    if path.is_file():
        if mf.sha256 is None:
            _warn_unverified(path, fmt)
        _check(path, mf.sha256)
        return path
    if path.exists():  # a folder (or a device...) under the file's name: no download could put the file there
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise HubError(
            f"expected the model file {mf.file} at {path}, but that path is {kind}: move it away (or set $LITE_HOME "
            f"to another folder) and lite will {'download' if mf.url else 'look for'} the file there"
        )
    if mf.url is None:
        raise HubError(
            f"{mf.file} is not in the model folder {folder} and has no download URL ({fmt.origin}): put the file "
            f"at {path} (the folder is $LITE_HOME)"
        )
    if not download_ok:
        raise HubError(f"{mf.file} is not at {path} and download=False: fetch {mf.url} and put it at {path}")
    try:
        got = download(mf.url, path, sha256=mf.sha256, progress=progress, timeout=timeout)
    except HubError as e:
        raise HubError(f"{e} (the model folder is $LITE_HOME, now {folder})") from e
    if mf.sha256 is None:
        _warn_unverified(got, fmt)
    return got


def resolve(
    name: str, *, format: str | None = None, download: bool = True, progress: bool = True, timeout: float = 30.0
) -> Path:
    """Resolve a hub name to a verified local file, downloading it when needed.

    Args:
        name: Hub name (``"yolov6lite-s"``), optionally with a format: ``"yolov6lite-s:onnx"``.
        format: Format to resolve (overrides a ``:format`` suffix); default: the model's default.
        download: Download missing files that have a URL (False: raise instead).
        progress: Show a download progress bar on stderr.
        timeout: Network timeout in seconds.

    Returns:
        The file a backend opens (for NCNN the ``.param``; its ``.bin`` is resolved too).

    Raises:
        HubError: Unknown name or format (the message lists the known ones); a file is missing
            and cannot be downloaded (the message names the URL and ``<LITE_HOME>/<file>``).
        ChecksumError: A local or downloaded file does not have the recorded sha256.
    """
    entry = get(name)
    fmt = entry.format(format or _split(name)[1])
    if entry.bundled:
        return default_model()
    folder = home_dir()
    paths = [_ensure(f, fmt, folder, download_ok=download, progress=progress, timeout=timeout) for f in fmt.files]
    return paths[0]


def info(name: str) -> dict[str, Any]:
    """What the hub knows about ``name``: the manifest entry plus where its files are (or would be) locally."""
    entry = get(name)
    d = entry.to_dict()
    if entry.bundled:
        try:
            d["local"] = {entry.default_format: {"path": str(default_model()), "present": True}}
        except HubError:
            d["local"] = {entry.default_format: {"path": None, "present": False}}
        return d
    folder = home_dir()
    d["folder"] = str(folder)
    d["local"] = {
        k: {"path": str(folder / f.primary.file), "present": all((folder / x.file).is_file() for x in f.files)}
        for k, f in entry.formats.items()
    }
    return d


def _classes_cell(e: ModelEntry) -> str:
    if isinstance(e.classes, str):
        return "COCO-80" if e.classes == "coco80" else e.classes
    return f"{len(e.classes)} shapes" if e.family == "lite-demo" else f"{len(e.classes)}"


def markdown_table() -> str:
    """The model table of the docs, generated from the manifest (``docs/models.md`` embeds it).

    Returns:
        Markdown: one row per model, then the list of sources for the mAP figures.
    """
    sources = load_manifest().get("sources", {})
    keys = {k: i + 1 for i, k in enumerate(sources)}
    lines = [
        "| Name | Model | Input | Strides | Classes | mAP<sup>val</sup> 0.5:0.95 | Default format | Other formats | "
        "Download | sha256 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for e in entries():
        fmt = e.format()
        mp = "—" if e.map is None else f"{e.map:.1f} [{keys[e.map_source]}]" if e.map_source else f"{e.map:.1f}"
        others = ", ".join(f"`{k}`" for k in e.formats if k != e.default_format) or "—"
        if e.bundled:
            dl = "bundled"
        elif all(f.url for f in fmt.files):
            dl = ", ".join(f"[{f.file if len(fmt.files) == 1 else Path(f.file).suffix}]({f.url})" for f in fmt.files)
        else:
            dl = "place by hand"
        sha = "recorded" if all(f.sha256 for f in fmt.files) else ("in record" if e.bundled else "—")
        lines.append(
            f"| `{e.name}` | {e.title} | {e.input_size[0]}×{e.input_size[1]} | {', '.join(map(str, e.strides))} | "
            f"{_classes_cell(e)} | {mp} | `{e.default_format}` ({fmt.layout}) | {others} | {dl} | {sha} |"
        )
    lines.append("")
    lines += [f"{keys[k]}. {v}" for k, v in sources.items()]
    return "\n".join(lines) + "\n"
