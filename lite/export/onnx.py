"""PyTorch → ONNX in one call: export at a pinned opset, check, simplify, add metadata, verify.

Which exporter. ``torch.onnx.export`` has two: the TorchScript-based ("legacy") one and, the
default since PyTorch 2.9, the ``torch.export``-based ("dynamo") one, which needs the
``onnxscript`` package. As of torch 2.13 the dynamo exporter only has implementations from opset
18 on: asked for a lower opset it exports at 18 and *tries* a version conversion, keeping 18 when
that fails (it does for simple CNNs at opsets 11–17), and by default it writes the weights to a
separate ``.data`` file. Deployment toolchains (pnnx/NCNN, MNN, TensorRT 8) want a self-contained
file at a known opset, so:

* ``exporter="auto"`` (default) uses the legacy exporter while torch still ships it (it writes
  exactly the requested opset, one file) and falls back to dynamo, with a warning, only when
  the legacy exporter fails or is gone;
* ``exporter="dynamo"`` always passes ``external_data=False`` (one file);
* whatever the exporter, the written ``opset_import`` is checked against the request: a
  mismatch is a [`ConversionError`][lite.core.errors.ConversionError] (``"auto"`` first tries the other exporter).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from lite.backends._onnx import io_shapes, metadata_props
from lite.core.errors import ConversionError, InputError
from lite.data.metadata import ModelMeta
from lite.export.report import ExportReport
from lite.export.verify import normalize_samples, random_samples, run_reference, verify_onnx

__all__ = [
    "Exporter",
    "export_graph",
    "onnx_opset",
    "read_onnx_metadata",
    "simplify_onnx",
    "torch_to_onnx",
    "write_onnx_metadata",
]

Exporter = Literal["auto", "legacy", "dynamo"]
_EXPORTERS = ("auto", "legacy", "dynamo")


# ----------------------------------------------------------------------------------------------
# exporters
# ----------------------------------------------------------------------------------------------
def _export_params() -> set[str]:
    import torch

    return set(inspect.signature(torch.onnx.export).parameters)


def _dynamo_available() -> bool:
    return "dynamo" in _export_params() and importlib.util.find_spec("onnxscript") is not None


def _run_legacy(model, args, path, opset, input_names, output_names, dynamic_axes) -> None:
    import torch

    kwargs: dict[str, Any] = {
        "opset_version": opset,
        "input_names": list(input_names),
        "output_names": list(output_names),
        "dynamic_axes": dynamic_axes,
        "do_constant_folding": True,
    }
    if "dynamo" in _export_params():
        kwargs["dynamo"] = False
    with warnings.catch_warnings():
        # chosen on purpose (see the module docstring); shape-specialisation warnings are
        # covered by the verification that runs the exported graph on other inputs
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message="The feature will be removed.*")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        with torch.no_grad():
            torch.onnx.export(model, args, str(path), **kwargs)


def _run_dynamo(model, args, path, opset, input_names, output_names, dynamic_axes) -> None:
    import torch

    if importlib.util.find_spec("onnxscript") is None:
        raise ConversionError(
            "the dynamo ONNX exporter needs the 'onnxscript' package: pip install onnxscript (or use exporter='legacy')"
        )
    with torch.no_grad():
        torch.onnx.export(
            model,
            args,
            str(path),
            dynamo=True,
            opset_version=opset,
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes=dynamic_axes,
            external_data=False,
            verbose=False,
            optimize=True,
        )


def onnx_opset(path_or_model: Any) -> int:
    """The default-domain opset version an ONNX model imports."""
    import onnx

    m = path_or_model if isinstance(path_or_model, onnx.ModelProto) else onnx.load(str(path_or_model))
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    raise ConversionError(f"ONNX model {path_or_model} imports no default-domain opset")


def export_graph(
    model: Any,
    args: tuple,
    path: str | Path,
    *,
    opset: int,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]] | None = None,
    exporter: Exporter = "auto",
) -> str:
    """Run ``torch.onnx.export`` and make sure the file has the requested opset.

    Returns:
        The exporter that wrote the file: ``"legacy"`` or ``"dynamo"``.

    Raises:
        ConversionError: Every candidate exporter failed or wrote another opset (the message has
            each one's error).
    """
    if exporter not in _EXPORTERS:
        raise InputError(f"exporter: expected one of {_EXPORTERS}, got {exporter!r}")
    path = Path(path)
    # "auto": legacy first (exact opset, one file), dynamo as the fallback when it can run
    auto = ["legacy"] + (["dynamo"] if _dynamo_available() else [])
    candidates = auto if exporter == "auto" else [exporter]
    run = {"legacy": _run_legacy, "dynamo": _run_dynamo}
    errors: list[str] = []
    for i, name in enumerate(candidates):
        for stale in (path, path.with_name(path.name + ".data")):
            stale.unlink(missing_ok=True)
        try:
            run[name](model, args, path, opset, input_names, output_names, dynamic_axes)
        except Exception as e:  # torch raises many types (RuntimeError, TorchExportError, UnsupportedOperatorError…)
            errors.append(f"{name} exporter: {type(e).__name__}: {str(e).strip()[:800]}")
        else:
            written = onnx_opset(path)
            if written == opset:
                if errors:
                    warnings.warn(
                        f"exported with the {name} exporter after: {'; '.join(errors)}", RuntimeWarning, stacklevel=3
                    )
                return name
            errors.append(
                f"{name} exporter wrote opset {written}, not the requested {opset}"
                + (" (the dynamo exporter has no implementations below opset 18)" if name == "dynamo" else "")
            )
        if i + 1 < len(candidates):
            warnings.warn(f"{errors[-1]}; retrying with the {candidates[i + 1]} exporter", RuntimeWarning, stacklevel=3)
    raise ConversionError(
        f"could not export {type(model).__name__} to ONNX opset {opset}: "
        + "; ".join(errors)
        + ". Check the model runs in eval mode on the sample; try another opset or exporter= "
        + f"{[e for e in _EXPORTERS if e != exporter]}"
    )


# ----------------------------------------------------------------------------------------------
# graph post-processing
# ----------------------------------------------------------------------------------------------
def simplify_onnx(model: Any, simplifier: Callable[[Any], Any] | None = None) -> tuple[Any, str | None]:
    """Simplify an ONNX model (onnxslim by default), keeping the original if that fails.

    A failed simplification is not fatal: the unsimplified graph is valid, so it is returned
    with a `RuntimeWarning` naming the error.

    Args:
        model: ``onnx.ModelProto`` (not modified).
        simplifier: Callable ``ModelProto -> ModelProto`` (default ``onnxslim.slim``).

    Returns:
        ``(model, None)`` on success, ``(original model, error message)`` on failure.
    """
    import onnx

    original_opset = onnx_opset(model)
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    try:
        if simplifier is None:
            try:
                import onnxslim
            except ImportError as e:
                raise ImportError(f"onnxslim is not installed ({e}): pip install onnxslim") from e
            simplifier = onnxslim.slim
        out = simplifier(copy)
        if not isinstance(out, onnx.ModelProto):
            raise TypeError(f"the simplifier returned {type(out).__name__}, expected an onnx.ModelProto")
        onnx.checker.check_model(out)
        if onnx_opset(out) != original_opset:
            raise ValueError(f"the simplified graph has opset {onnx_opset(out)}, expected {original_opset}")
    except Exception as e:  # a simplifier may raise anything; the unsimplified graph stays usable
        msg = f"{type(e).__name__}: {str(e).strip()[:300]}"
        warnings.warn(
            f"ONNX simplification failed ({msg}); keeping the unsimplified graph", RuntimeWarning, stacklevel=2
        )
        return model, msg
    return out, None


def _meta_strings(metadata: ModelMeta | Mapping[str, Any] | None) -> dict[str, str]:
    if metadata is None:
        return {}
    if isinstance(metadata, ModelMeta):
        return metadata.to_strings()
    if isinstance(metadata, Mapping):
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    raise InputError(f"metadata: expected a lite.data.metadata.ModelMeta or a mapping, got {type(metadata).__name__}")


def write_onnx_metadata(model: Any, metadata: ModelMeta | Mapping[str, Any]) -> Any:
    """Set ONNX ``metadata_props`` (replacing keys already there).

    Args:
        model: ``onnx.ModelProto`` (modified in place) or a path (rewritten).
        metadata: A [`ModelMeta`][lite.data.metadata.ModelMeta] (written as ``to_strings()``) or a mapping
            (non-string values JSON-encoded).

    Returns:
        The model proto, or the path when a path was given.
    """
    import onnx

    strings = _meta_strings(metadata)
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
    kept = [(p.key, p.value) for p in proto.metadata_props if p.key not in strings]
    del proto.metadata_props[:]
    for k, v in [*kept, *strings.items()]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    if isinstance(model, onnx.ModelProto):
        return proto
    onnx.save(proto, str(model))
    return model


def read_onnx_metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file as a dict (read with ``onnx``, weights not loaded)."""
    return metadata_props(path)


# ----------------------------------------------------------------------------------------------
# the one-call export
# ----------------------------------------------------------------------------------------------
def torch_to_onnx(
    model: Any,
    sample: Any,
    path: str | Path,
    opset: int = 17,
    *,
    dynamic_batch: bool = False,
    input_names: Sequence[str] = ("images",),
    output_names: Sequence[str] | None = None,
    simplify: bool = True,
    metadata: ModelMeta | Mapping[str, Any] | None = None,
    verify: bool = True,
    rtol: float = 1e-3,
    atol: float = 1e-4,
    n_random: int = 2,
    exporter: Exporter = "auto",
    runs: int = 5,
    seed: int = 0,
    simplifier: Callable[[Any], Any] | None = None,
) -> ExportReport:
    """Export a PyTorch model to ONNX, check it, simplify it, and prove it computes the same.

    Steps: ``torch.onnx.export`` at exactly ``opset`` (see the module docstring for the exporter
    choice) → ``onnx.checker.check_model`` → onnxslim (falls back to the unsimplified graph with a
    warning) → ``metadata_props`` → ONNX Runtime vs PyTorch on ``sample`` and ``n_random`` random
    inputs of the same shape (batch + 1 when ``dynamic_batch``, to exercise the dynamic axis).

    Args:
        model: Any ``torch.nn.Module`` (put in eval mode for the export; its mode is restored after).
        sample: One input tensor, or a tuple of tensors for a multi-input model (CPU, float32 for images).
        path: Where to write the ``.onnx`` file (folders are created).
        opset: ONNX opset to write.
        dynamic_batch: Make dimension 0 of every input and output symbolic (``"batch"``).
        input_names: Names of the inputs, in ``forward`` order.
        output_names: Names of the outputs (flattened ``forward`` result order); default ``output``
            or ``output0, output1, …``.
        simplify: Run onnxslim.
        metadata: [`ModelMeta`][lite.data.metadata.ModelMeta] (class names, strides, input size, layout) or a
            mapping, written to ``metadata_props``.
        verify: Compare ONNX Runtime with PyTorch; out of tolerance is a `VerificationError`.
        rtol: Relative tolerance of the verification.
        atol: Absolute tolerance of the verification.
        n_random: Random inputs compared besides ``sample``.
        exporter: ``"auto"``, ``"legacy"`` or ``"dynamo"``.
        runs: Runs per latency measurement.
        seed: Seed of the random inputs.
        simplifier: Replace onnxslim (``ModelProto -> ModelProto``).

    Returns:
        An [`ExportReport`][lite.export.report.ExportReport]; ``print(report)`` shows the parity table.

    Raises:
        InputError: A bad argument (names count, sample type).
        ConversionError: Export or ``check_model`` failed.
        VerificationError: ONNX Runtime's outputs differ from PyTorch's beyond tolerance.
    """
    import onnx
    import torch

    t0 = time.perf_counter()
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if isinstance(sample, list):
        raise InputError("sample: expected one input tensor (or a tuple for a multi-input model), got a list")
    (args,) = normalize_samples(sample)
    args = tuple(torch.from_numpy(a) if not isinstance(a, torch.Tensor) else a for a in args)
    input_names = list(input_names)
    if len(input_names) != len(args):
        raise InputError(f"input_names: expected {len(args)} name(s) for the sample's inputs, got {input_names}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    was_training = model.training
    model.eval()
    try:
        ref0 = run_reference(model, args)
        if output_names is None:
            output_names = ["output"] if len(ref0) == 1 else [f"output{i}" for i in range(len(ref0))]
        output_names = list(output_names)
        if len(output_names) != len(ref0):
            raise InputError(f"output_names: the model returns {len(ref0)} tensor(s), got names {output_names}")
        dynamic_axes = {n: {0: "batch"} for n in input_names + output_names} if dynamic_batch else None
        used = export_graph(
            model,
            args,
            path,
            opset=opset,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            exporter=exporter,
        )
        proto = onnx.load(str(path))
        try:
            onnx.checker.check_model(proto)
        except onnx.checker.ValidationError as e:
            raise ConversionError(f"the exported {path} fails onnx.checker: {e}") from e
        simp_error = None
        if simplify:
            proto, simp_error = simplify_onnx(proto, simplifier)
        strings = _meta_strings(metadata)
        if strings:
            write_onnx_metadata(proto, strings)
        onnx.save(proto, str(path))
        ins, outs = io_shapes(proto)
        report = ExportReport(
            path=path,
            opset=opset,
            exporter=used,
            simplified=simplify and simp_error is None,
            inputs=ins,
            outputs=outs,
            metadata={p.key: p.value for p in proto.metadata_props},
            simplify_error=simp_error,
        )
        if verify:
            batch = int(args[0].shape[0]) + 1 if dynamic_batch and args[0].ndim else None
            extra = random_samples(args, n_random, seed=seed, batch=batch)
            samples = [args, *extra]
            refs = [ref0] + [run_reference(model, s) for s in extra]
            report.comparisons.append(
                verify_onnx(model, path, samples, rtol=rtol, atol=atol, runs=runs, reference_outputs=refs)
            )
    finally:
        model.train(was_training)
    report.seconds = time.perf_counter() - t0
    return report
