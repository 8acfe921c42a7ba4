"""What the ONNX converters share: the ONNX side of a conversion.

(The steps around the converter tool itself are in `lite.convert._common`.)

* `onnx_meta` — class names, strides, input size, family and decoder of an ONNX model (and the
  output layout of a YOLOv6 one), from its ``metadata_props`` (and its own sidecar), from its graph and
  from the family resolver, for the sidecar of the converted model.
* `verify_conversion` — run the converted model and the ONNX model (ONNX Runtime) on the
  same test tensor and compare their outputs with [`lite.tools.parity`][lite.tools.parity]. It runs in a child process:
  a badly
  converted graph can crash the engine (a segmentation fault in NCNN, for instance), and that must not
  take the caller down.

Nothing heavy is imported at module level (``onnx`` is imported inside the functions).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from lite.backends._capture import clean_engine_text
from lite.backends._onnx import Dims, graph_io, load_onnx
from lite.core.errors import ConversionError, InputError, VerificationError
from lite.data.metadata import ModelMeta, read_model_meta

if TYPE_CHECKING:
    from lite.tools.parity import OutputDiff

__all__ = [
    "graph_io",
    "graph_meta",
    "input_shape_for",
    "load_onnx",
    "onnx_meta",
    "verify_conversion",
]

_VERIFY_TAG = "LITE-VERIFY "


def _static_hw(dims: Dims) -> tuple[int, int] | None:
    if len(dims) != 4:
        return None
    h, w = dims[2], dims[3]
    return (h, w) if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0 else None


def graph_meta(model: Any, names: Sequence[str] | None = None) -> ModelMeta:
    """Input size, YOLOv6 output layout and strides read from an ONNX graph.

    The layout comes from YOLOv6's `detect_layout` on the output shapes (which family the model is, and so
    whether that layout means anything, is the resolver's answer: see `onnx_meta`); strides from the
    feature-map sizes (per-level heads) or from the anchor count (flat outputs).
    A graph whose outputs match no detector layout gets only its input size.
    """
    from lite.ops.decoders.yolov6 import detect_layout, spec_strides

    ins, outs = graph_io(model)
    hw = _static_hw(ins[0][1]) if ins else None
    shapes = dict(outs)
    try:
        spec = detect_layout(shapes, num_classes=len(names) if names else None, input_hw=hw)
    except InputError:  # not a detector output layout lite knows: record what is certain only
        return ModelMeta(input_size=hw)
    strides = spec_strides(spec, shapes, hw) if hw is not None else None
    return ModelMeta(strides=strides, input_size=hw, layout=spec.layout.value)


class Resolved(NamedTuple):
    """What the resolver makes of an ONNX model, for the sidecar of its conversions (see `resolved_family`)."""

    #: The family name, or None when it was an assumed default (a classifier with no metadata: the preset is
    #: said again, in a warning, when the converted model is opened).
    family: str | None
    #: The decoder of its outputs (``yolov8_seg``, ``classify``...).
    decoder: str
    #: ``"detect"``, ``"segment"``, ``"pose"`` or ``"classify"``.
    task: str
    #: The YOLOv6 output layout, or None.
    layout: str | None


def resolved_family(path: str | Path) -> Resolved | None:
    """The family, decoder, task and YOLOv6 layout of an ONNX model, as `ImageModel.from_file` resolves it.

    The file is opened with ONNX Runtime (the resolver may run a blank inference to settle a tie). None when
    ONNX Runtime is not installed or cannot load the model (TensorRT plugin ops...), or when the model is no
    image model lite reads (no family fits, several fit equally, or its outputs are a task lite has no decoder
    for): the converted model is then resolved when it is opened.
    """
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import warnings

    from lite import backends
    from lite.core.errors import (
        AmbiguousModelError,
        AssumedDefaultWarning,
        LayoutError,
        ModelLoadError,
        TaskNotSupportedError,
    )
    from lite.cv.detector import Detector
    from lite.cv.family import detect_family

    try:
        be = backends.create(path, "ort", threads=1)
    except ModelLoadError:  # ops ONNX Runtime does not have: the engine's own check says what it makes of them
        return None
    with warnings.catch_warnings(record=True) as caught:  # the warnings are the converted model's to give
        warnings.simplefilter("always")
        try:  # what ImageModel.from_file does, without a fused preprocessing graph for a detector
            fam = detect_family(be, str(path), {})
            model = fam(be, fuse_preprocess=False) if issubclass(fam, Detector) else fam(be)
        except (LayoutError, AmbiguousModelError, TaskNotSupportedError):
            be.close()
            return None
        except BaseException:
            be.close()
            raise
    try:
        plan = model.plan
        if model.family is None or plan is None:
            return None
        assumed = any(issubclass(w.category, AssumedDefaultWarning) for w in caught)
        spec = getattr(model, "spec", None)
        family = None if assumed and model.task == "classify" else model.family
        return Resolved(family, plan.decoder, model.task, spec.layout.value if spec is not None else None)
    finally:
        model.close()


def onnx_meta(path: str | Path, model: Any | None = None) -> ModelMeta:
    """Everything a converted model should carry, from an ONNX file.

    ``metadata_props`` and the ONNX file's own sidecar win over what the graph says. The ``family`` and
    ``decoder`` (in ``extra``) are the resolver's (`resolved_family`); a ``layout`` read from the graph is kept
    only when the model is read by one of YOLOv6's layouts (a declared one is kept as declared).

    Args:
        path: The ONNX file.
        model: The loaded ``ModelProto`` (loaded from ``path`` when omitted).
    """
    model = load_onnx(path) if model is None else model
    props = {p.key: p.value for p in model.metadata_props}
    declared = read_model_meta(path, props)
    meta = graph_meta(model, declared.names)
    found = resolved_family(path)
    meta.layout = found.layout if found is not None else None
    meta.sources.pop("layout", None)
    meta = meta.merged(declared)
    if found is not None:
        meta.extra.update(decoder=found.decoder, task=found.task)
        if found.family is not None:
            meta.extra["family"] = found.family
    return meta


def input_shape_for(model: Any, input_shape: Sequence[int] | None, meta: ModelMeta) -> tuple[int, ...]:
    """The concrete input shape a conversion traces with.

    A fixed ONNX input is used as is (``input_shape`` must agree); open dimensions take
    ``input_shape``, else batch 1, 3 channels and the metadata input size (else 640).

    Raises:
        InputError: ``input_shape`` disagrees with a fixed ONNX input, or is not 4 positive ints.
    """
    ins, _ = graph_io(model)
    if len(ins) != 1:
        raise InputError(f"lite converts single-input models; this one has inputs {[n for n, _ in ins]}")
    name, dims = ins[0]
    if input_shape is not None:
        shape = tuple(int(d) for d in input_shape)
        if len(shape) != len(dims) or min(shape) <= 0:
            raise InputError(f"input_shape: expected {len(dims)} positive ints like {dims}, got {tuple(input_shape)}")
        for i, (want, got) in enumerate(zip(dims, shape, strict=True)):
            if isinstance(want, int) and want > 0 and want != got:
                raise InputError(
                    f"input_shape: the ONNX input {name!r} is fixed at {dims}, got {shape} (axis {i}); "
                    f"omit input_shape or export the ONNX with that size"
                )
        return shape
    fill = [1, 3, *(meta.input_size or (640, 640))] if len(dims) == 4 else [1] * len(dims)
    return tuple(d if isinstance(d, int) and d > 0 else fill[i] for i, d in enumerate(dims))


def verify_conversion(
    onnx_path: str | Path,
    model_path: str | Path,
    backend: str,
    input_shape: Sequence[int],
    *,
    rtol: float,
    timeout: float = 600.0,
) -> list[OutputDiff]:
    """Run the converted model and the ONNX model on one test tensor and compare, in a child process.

    The test tensor is uniform noise in [0, 1) (seed 0) of ``input_shape``. The comparison is
    [`lite.tools.parity.diff_outputs`][lite.tools.parity.diff_outputs] (outputs paired as in
    [`lite.tools.parity.match_outputs`][lite.tools.parity.match_outputs]), with the relative L2 error as the verdict.
    Without
    ONNX Runtime the converted model is only run, not compared.

    Returns:
        One [`OutputDiff`][lite.tools.parity.OutputDiff] per ONNX output (empty when ONNX Runtime is not installed).

    Raises:
        ConversionError: The converted model does not load, crashes the engine, or cannot run.
        VerificationError: An output's relative L2 error exceeds ``rtol``, or has no counterpart.
    """
    import lite

    root = str(Path(lite.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    code = "from lite.convert._onnx_meta import _verify_child; _verify_child()"
    args = [os.fspath(onnx_path), os.fspath(model_path), backend, json.dumps(list(input_shape)), repr(float(rtol))]
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, errors="replace", env=env, timeout=timeout
    )
    name = Path(model_path).name
    if proc.returncode != 0:
        tail = "; ".join(clean_engine_text(proc.stderr)[-4:])
        if proc.returncode < 0:
            sig = signal.Signals(-proc.returncode).name
            raise ConversionError(
                f"the converted model {name} crashed {backend} ({sig}) on a test input: the conversion is broken"
                + (f" ({tail})" if tail else "")
            )
        raise ConversionError(f"the converted model {name} could not be run by {backend}: {tail}")
    line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith(_VERIFY_TAG)), None)
    if line is None:
        raise ConversionError(f"verifying {name} printed no result (stdout: {proc.stdout[-300:]!r})")
    from lite.tools.parity import OutputDiff

    result = json.loads(line[len(_VERIFY_TAG) :])
    diffs = [OutputDiff(**{**d, "shape": tuple(d["shape"])}) for d in result["diffs"]]
    bad = [d for d in diffs if not d.ok]
    if bad:
        detail = ", ".join(
            f"{d.ref}: no output of the same shape"
            if d.name is None
            else f"{d.ref} vs {d.name}: rel L2 {d.rel_l2:.3g}, max|diff| {d.max_abs:.3g}"
            for d in bad
        )
        raise VerificationError(
            f"the converted model {name} disagrees with the ONNX model on a test input beyond rel L2 {rtol:g}: "
            f"{detail}; the conversion is wrong (report the model and converter version)"
        )
    return diffs


def _verify_child() -> None:
    """Child-process side of `verify_conversion` (argv: onnx, model, backend, shape JSON, rtol)."""
    import dataclasses
    import importlib.util

    import numpy as np

    from lite import backends
    from lite.tools.parity import diff_outputs, run_backend

    onnx_path, model_path, backend, shape_json, rtol = sys.argv[1:6]
    shape = tuple(json.loads(shape_json))
    converted = backends.create(model_path, backend, threads=1)  # a check, not a race: no thread contention
    rng = np.random.default_rng(0)
    if converted.inputs[0].dtype.kind == "f":
        x = rng.random(shape, dtype=np.float32)
    else:
        x = rng.integers(0, 256, shape).astype(converted.inputs[0].dtype)
    (out,) = run_backend(converted, [(x,)])
    diffs: list[dict[str, Any]] = []
    if importlib.util.find_spec("onnxruntime") is not None:
        (ref,) = run_backend(onnx_path, [(x,)], "ort", threads=1)
        # the verdict is the relative L2 error alone (max |diff| is reported, not bounded)
        found, _ = diff_outputs([ref], [out], rtol=float(rtol), atol=math.inf)
        diffs = [dataclasses.asdict(d) for d in found]
    print(_VERIFY_TAG + json.dumps({"diffs": diffs, "outputs": {k: list(v.shape) for k, v in out.items()}}), flush=True)
