"""``lite info MODEL``: what lite sees in a model file.

Format, the backend that opens it, the task (detect, segment, pose or classify), the family and how it was
chosen, input and output tensors, the output layout the decoder detected (with its details), strides, classes, the input
size and why it was chosen, and the file's metadata. The layout is settled with one inference on a blank image, so
value-dependent details (channel order, logits vs probabilities) are the real ones::

    lite info yolov6lite_s_320_decoded.onnx
    lite info yolov6-lite-s.param --input-size 320 --json
    lite info nanodet-plus-m_416.param --family nanodet
    lite info mobilenetv2-12-int8.onnx       # task classify, family imagenet, its preprocessing preset, 1000 classes
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lite import backends
from lite.cli._common import (
    add_command,
    add_engine_arguments,
    add_family_argument,
    add_input_size_argument,
    engine_options,
)


def register(subparsers: Any) -> None:
    """Add the ``info`` subcommand."""
    p = add_command(
        subparsers,
        "info",
        run,
        help="describe a model: format, backend, task, family, tensors, decode layout, classes, metadata",
        description="Describe a model file as lite reads it (runs one inference on a blank image).",
    )
    p.add_argument("model", help="model file or hub name")
    add_family_argument(p)
    add_engine_arguments(p, threads=False)
    add_input_size_argument(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def describe_model(
    model: str | Path,
    backend: str | None = None,
    *,
    family: str | None = None,
    device: str = "cpu",
    input_size: Any = None,
) -> dict[str, Any]:
    """Everything ``lite info`` prints, as a JSON-ready dict: any task (``task``: detect, segment, pose, classify)."""
    import numpy as np

    from lite.cv import ImageModel

    with ImageModel.from_file(model, family=family, backend=backend, device=device, input_size=input_size) as m:
        h, w = m.input_hw
        tensor, t = m.preprocess(np.full((h, w, 3), 114, np.uint8))
        outs = m.infer(tensor)
        shapes = {k: tuple(int(d) for d in v.shape) for k, v in outs.items()}
        if m.task == "classify":
            m.probabilities(outs)  # the scores are read as the classifier reads them
            spec = None
            info = m.info()
        else:
            m.postprocess(outs, [t])  # settles the value-dependent layout details
            info = m.info()
            spec = m.spec
            if not info.get("strides") and spec is not None:
                from lite.ops.decoders.yolov6 import spec_strides

                info["strides"] = list(spec_strides(spec, shapes, (h, w)) or [])
        info["task"] = m.task
        info.setdefault("family", getattr(m, "family", None))
        info.setdefault(
            "family_source", "--family / family=" if family is not None else "read from the model: metadata or outputs"
        )
        path = m.backend.model_path
        info = {
            "model": str(path),
            "format": backends.format_of(path) or path.suffix.lstrip(".").upper() or "unknown",
            "size_bytes": _size(path),
            "task": info.pop("task"),
            **{k: v for k, v in info.items() if k != "model"},
            "output_shapes": {k: list(v) for k, v in shapes.items()},
            "layout_name": spec.layout.value if spec is not None else None,
        }
    return info


def _size(path: Path) -> int | None:
    """File size in bytes; an NCNN ``.param`` counts its ``.bin`` weights too."""
    if not path.is_file():
        return None
    size = path.stat().st_size
    weights = path.with_suffix(".bin")
    if path.suffix.lower() == ".param" and weights.is_file():
        size += weights.stat().st_size
    return size


#: What each task's results carry, after its name in ``lite info``.
_TASK_NOTES = {
    "detect": " (boxes: lite detect)",
    "segment": " (boxes + instance masks: lite detect)",
    "pose": " (boxes + keypoints: lite detect)",
    "classify": " (top-k classes: lite classify)",
}


def _text(info: dict[str, Any]) -> str:
    size = info.get("size_bytes")
    names = info.get("names") or []
    shown = ", ".join(names[:10]) + (f", … ({len(names) - 10} more)" if len(names) > 10 else "")
    lines = [
        f"model      {info['model']}",
        f"format     {info['format']}" + (f" ({size / 1e6:.2f} MB)" if size else ""),
        f"backend    {info['backend']}",
        f"task       {info['task']}" + _TASK_NOTES.get(info["task"], ""),
    ]
    if info.get("family"):
        source = f" ({info['family_source']})" if info.get("family_source") else ""
        lines.append(f"family     {info['family']}{source}")
        lines += [f"  because  {r}" for r in info.get("family_reasons") or []]
    lines += [f"input      {s}" for s in info["inputs"]]
    ran = info.get("output_shapes") or {}
    for spec in info["outputs"]:
        name = spec.split(":")[0]
        shown_shape = "x".join(map(str, ran.get(name, [])))
        lines.append(f"output     {spec}" + (f"  (at {shown_shape})" if spec.endswith("[...]") and shown_shape else ""))
    classify = info["task"] == "classify"
    lines += [
        f"decoder    {info['decoder']}" if classify else f"layout     {info['layout']}",
        f"input size {info['input_size'][0]}x{info['input_size'][1]}"
        + (" (dynamic" if info.get("dynamic_input") else " (fixed")
        + (f"; chosen from: {info['input_size_source']})" if info.get("input_size_source") else ")"),
        f"batch      {info['batch']}",
    ]
    if classify:  # the preprocessing preset matters most for a classifier (resize + centre crop, mean / std)
        lines.append(f"preprocess {info['preprocess']} (the {info['family']} preset; lite classify --family to change)")
    else:
        lines.append(f"strides    {', '.join(map(str, info['strides'])) if info.get('strides') else 'n/a'}")
    lines.append(f"classes    {info['num_classes']}: {shown or '(no names: pass --labels to lite classify)'}"
                 if classify else f"classes    {info['num_classes']}: {shown}")  # fmt: skip
    meta = info.get("metadata") or {}
    if meta:
        lines.append("metadata")
        for k, v in meta.items():
            v = str(v)
            lines.append(f"  {k}: {v if len(v) <= 100 else v[:97] + '...'}")
    else:
        lines.append("metadata   (none)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``lite info``; returns the exit code."""
    info = describe_model(args.model, **engine_options(args))
    print(json.dumps(info, indent=1) if args.json else _text(info))
    return 0
