"""Export checks: run a reference (a PyTorch module) and an exported model on the same inputs and compare.

The PyTorch side of [`lite.tools.parity`][lite.tools.parity] (lite's one comparator): the exported model runs through
lite's own backends ([`lite.tools.parity.run_backend`][lite.tools.parity.run_backend]), so the same check covers ONNX
Runtime,
NCNN and MNN, and the outputs are compared by [`lite.tools.parity.diff_outputs`][lite.tools.parity.diff_outputs]
element-wise
(``|target − ref| <= atol + rtol·|ref|``); latencies are the median of a few runs on the first sample.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lite import backends
from lite.core.errors import InputError, VerificationError
from lite.tools.parity import Comparison, diff_outputs, feed_for, run_backend, to_numpy

__all__ = [
    "convert_and_verify",
    "ENGINE_NAMES",
    "flatten_outputs",
    "median_ms",
    "normalize_samples",
    "random_samples",
    "run_reference",
    "verify_backend",
    "verify_onnx",
]

#: Display names of lite's backends in reports.
ENGINE_NAMES = backends.titles()  # display name of every registered backend (OpenVINO included)

Sample = tuple[Any, ...]


def normalize_samples(samples: Any) -> list[Sample]:
    """Samples as a list of input tuples.

    Accepts one tensor/array (one sample of a single-input model), a tuple of them (one sample of a
    multi-input model is ambiguous with several single-input samples, so a *tuple* means one
    multi-input sample and a *list* means several samples), or a list of tensors/tuples.
    """
    if _is_tensor(samples):
        return [(samples,)]
    if isinstance(samples, tuple):
        return [samples]
    if isinstance(samples, list):
        if not samples:
            raise InputError("samples: expected at least one input, got an empty list")
        return [s if isinstance(s, tuple) else (s,) for s in samples]
    raise InputError(f"samples: expected a tensor, an array, a tuple or a list of them; got {type(samples).__name__}")


def _is_tensor(x: Any) -> bool:
    return isinstance(x, np.ndarray) or (type(x).__module__.startswith("torch") and hasattr(x, "detach"))


def _to_torch(x: Any) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x


def flatten_outputs(out: Any) -> list[np.ndarray]:
    """A model's output (tensor, tuple/list, dict, nested) as a flat list of numpy arrays, in order."""
    if isinstance(out, dict):
        return [a for v in out.values() for a in flatten_outputs(v)]
    if isinstance(out, list | tuple):
        return [a for v in out for a in flatten_outputs(v)]
    if _is_tensor(out):
        return [to_numpy(out)]
    if isinstance(out, int | float | bool):
        return [np.asarray(out)]
    raise InputError(f"cannot compare a model output of type {type(out).__name__}; expected tensors")


def run_reference(reference: Callable[..., Any], sample: Sample) -> list[np.ndarray]:
    """Run a PyTorch module (or any callable of tensors) on one sample without gradients."""
    import torch

    with torch.inference_mode():
        return flatten_outputs(reference(*(_to_torch(x) for x in sample)))


def random_samples(sample: Sample, n: int, *, seed: int = 0, batch: int | None = None) -> list[Sample]:
    """``n`` random inputs shaped (and ranged) like ``sample``.

    Floats in [0, 1] (images) stay uniform in [0, 1]; other floats follow the sample's mean and
    standard deviation; integers are drawn between the sample's min and max. ``batch`` replaces the
    first dimension (to exercise a dynamic batch axis).
    """
    rng = np.random.default_rng(seed)
    out: list[Sample] = []
    for _ in range(n):
        items = []
        for x in sample:
            a = to_numpy(x)
            shape = (batch, *a.shape[1:]) if batch is not None and a.ndim else a.shape
            if a.dtype.kind == "f":
                lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 1.0)
                if lo >= 0.0 and hi <= 1.0:
                    r = rng.random(shape)
                else:
                    r = rng.standard_normal(shape) * (float(a.std()) or 1.0) + float(a.mean())
                items.append(r.astype(a.dtype))
            elif a.dtype.kind in "iu":
                lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 1)
                items.append(rng.integers(lo, hi + 1, size=shape).astype(a.dtype))
            elif a.dtype.kind == "b":
                items.append(rng.random(shape) < 0.5)
            else:
                raise InputError(f"cannot make random inputs of dtype {a.dtype}")
        out.append(tuple(_to_torch(i) for i in items))
    return out


def median_ms(fn: Callable[[], Any], runs: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``runs`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(runs, 1)):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(statistics.median(times))


def verify_backend(
    reference: Callable[..., Any] | None,
    model_path: str | Path,
    samples: Any,
    *,
    backend: str = "ort",
    rtol: float = 1e-3,
    atol: float = 1e-4,
    runs: int = 5,
    reference_outputs: Sequence[Sequence[np.ndarray]] | None = None,
    reference_name: str = "PyTorch",
    target_name: str | None = None,
    raise_on_failure: bool = True,
    **backend_options: Any,
) -> Comparison:
    """Run ``model_path`` with a lite backend on ``samples`` and compare with the reference.

    Args:
        reference: The original model (a ``torch.nn.Module`` or any callable of tensors); None when
            ``reference_outputs`` are given.
        model_path: The exported model (``.onnx``, ``.ncnn.param``, ``.mnn`` …).
        samples: Inputs (see `normalize_samples`), fed to the model's inputs in order.
        backend: lite backend name (``"ort"``, ``"ncnn"``, ``"mnn"``).
        rtol: Relative tolerance.
        atol: Absolute tolerance.
        runs: Runs per latency measurement (on the first sample); 0 skips timing.
        reference_outputs: Precomputed reference outputs per sample (skips running ``reference``).
        reference_name: Name of the reference in the report.
        target_name: Name of the target in the report (default: the engine's name).
        raise_on_failure: Raise `VerificationError` when a value is out of tolerance.
        **backend_options: Passed to ``lite.backends.create`` (``threads``, ``device`` …).

    Returns:
        The `Comparison`.

    Raises:
        VerificationError: Outputs differ beyond tolerance (message: the per-output table), or their
            number or sizes differ.
    """
    from lite.backends import create

    batch = normalize_samples(samples)
    if reference is None and reference_outputs is None:
        raise InputError("verify: pass the reference model or its reference_outputs")
    refs = [list(r) for r in reference_outputs] if reference_outputs is not None else None
    if refs is None:
        refs = [run_reference(reference, s) for s in batch]  # type: ignore[arg-type]
    if len(refs) != len(batch):
        raise InputError(f"reference_outputs: expected {len(batch)} entries (one per sample), got {len(refs)}")
    target = target_name or ENGINE_NAMES.get(backend, backend)
    with create(model_path, backend, **backend_options) as be:
        out_names = [s.name for s in be.outputs]
        gots = run_backend(be, batch)
        target_ms = median_ms(be.raw_runner(be.check_feed(feed_for(be, batch[0]))), runs) if runs > 0 else None
    n_ref = len(refs[0])
    if n_ref != len(out_names):
        raise VerificationError(
            f"{target} model {model_path} has {len(out_names)} output(s) {out_names}; the reference has {n_ref}"
        )
    # the reference outputs are positional (a PyTorch module's flattened result): pair them in order
    named_refs = [dict(zip(out_names, r, strict=True)) for r in refs]
    diffs, notes = diff_outputs(
        named_refs, gots, rtol=rtol, atol=atol, elementwise=True, pairs=[(n, n) for n in out_names]
    )
    ref_ms = None
    if reference is not None and runs > 0:
        first = tuple(_to_torch(x) for x in batch[0])
        ref_ms = median_ms(lambda: run_reference(reference, first), runs)
    comp = Comparison(reference_name, target, diffs, len(batch), rtol, atol, ref_ms, target_ms, notes=notes)
    if raise_on_failure and not comp.passed:
        raise VerificationError(
            f"{target} does not reproduce {reference_name} for {model_path}:\n{comp.details()}\n"
            "the export is wrong (an op exported or converted incorrectly), or the tolerance is too tight "
            "for this engine (pass larger rtol/atol)"
        )
    return comp


def verify_onnx(
    reference: Callable[..., Any] | None,
    onnx_path: str | Path,
    samples: Any,
    *,
    rtol: float = 1e-3,
    atol: float = 1e-4,
    runs: int = 5,
    raise_on_failure: bool = True,
    **kwargs: Any,
) -> Comparison:
    """Check an ONNX file against its PyTorch model in ONNX Runtime (CPU).

    Usable on any file, e.g. to check a hand-edited graph::

        comp = verify_onnx(model, "model.onnx", [x1, x2])
        print(comp.summary())

    See `verify_backend` for the arguments.

    Raises:
        VerificationError: The ONNX model's outputs differ from PyTorch's beyond tolerance.
    """
    return verify_backend(
        reference,
        onnx_path,
        samples,
        backend="ort",
        rtol=rtol,
        atol=atol,
        runs=runs,
        raise_on_failure=raise_on_failure,
        **kwargs,
    )


def convert_and_verify(
    onnx_path: Path,
    reference: Callable[..., Any],
    sample: Any,
    engines: Sequence[str],
    *,
    verify: bool = True,
    n_random: int = 2,
    seed: int = 0,
    rtol: float = 1e-2,
    atol: float = 1e-2,
    runs: int = 5,
) -> tuple[list[Path], list[Comparison]]:
    """Convert an exported ONNX file to each engine (`lite.convert`, into its folder, replacing an earlier
    conversion as the export replaced the ONNX) and compare each with the PyTorch ``reference``.

    The converter's own check against ONNX Runtime is skipped: the converted model is compared with PyTorch here
    instead, on ``sample`` and ``n_random`` random inputs, and reported (``raise_on_failure=False``), not raised.

    Returns:
        The converted files and, with ``verify``, one `Comparison` per engine.
    """
    from lite.convert import convert, get

    files: list[Path] = []
    comparisons: list[Comparison] = []
    for engine in engines:
        kwargs = {"verify": False} if "verify" in get(engine).parameters() else {}
        converted = Path(convert(onnx_path, engine, onnx_path.parent, force=True, **kwargs))
        files.append(converted)
        if verify:
            samples = [(sample,), *random_samples((sample,), n_random, seed=seed)]
            comparisons.append(
                verify_backend(reference, converted, samples, backend=engine, rtol=rtol, atol=atol, runs=runs,
                               target_name=ENGINE_NAMES.get(engine, engine), raise_on_failure=False)  # fmt: skip
            )
    return files, comparisons
