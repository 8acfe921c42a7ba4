"""Export a PyTorch image classifier (ResNet, MobileNet...) to ONNX, verified against PyTorch.

The classic deployment path (PyTorch → ONNX → TensorRT FP16/INT8) for classifiers: `export_classifier` probes the
model (its output must be ``(N, num_classes)``), optionally appends a softmax (so the file gives probabilities
like ultralytics' ``-cls`` exports), exports through `lite.export.torch_to_onnx` (checked, simplified, compared
with PyTorch in ONNX Runtime) and writes ultralytics-style metadata — ``task: classify``, ``names``, ``imgsz`` —
plus the preprocessing it expects (``preprocess``: the `PreprocessConfig` fields as JSON; ImageNet's preset by
default). ``to=("ncnn", "mnn", "openvino", "tensorrt", ...)`` converts the file with `lite.convert` and compares
each engine with PyTorch as well.

Example:
    ```python
    # not run: needs a trained torch classifier (resnet50) and its class names
    from lite.export.classifier import export_classifier

    report = export_classifier(resnet50, "resnet50.onnx", img_size=224, names=imagenet_names)
    print(report)  # PyTorch vs ONNX Runtime: max abs diff, MSE, relative L2, latencies
    ```
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lite.core.errors import BackendNotInstalledError, InputError
from lite.export.report import ExportReport
from lite.ops.preprocess import IMAGENET_CONFIG, PreprocessConfig

__all__ = ["export_classifier", "load_factory"]


def _hw(img_size: int | Sequence[int]) -> tuple[int, int]:
    sizes = [img_size] if isinstance(img_size, int) else list(img_size)
    if len(sizes) not in (1, 2) or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
        raise InputError(f"img_size: expected a positive int or (H, W), got {img_size!r}")
    return (sizes[0], sizes[-1])


def export_classifier(
    model: Any,
    out: str | Path,
    *,
    img_size: int | Sequence[int] = 224,
    names: Sequence[str] | None = None,
    preprocess: PreprocessConfig = IMAGENET_CONFIG,
    softmax: bool = False,
    dynamic_batch: bool = False,
    opset: int = 17,
    simplify: bool = True,
    verify: bool = True,
    rtol: float = 1e-3,
    atol: float = 1e-4,
    to: Sequence[str] = (),
    exporter: str = "auto",
) -> ExportReport:
    """Export a ``torch.nn.Module`` classifier to ONNX with classification metadata, verified against PyTorch.

    Args:
        model: The classifier; ``model(x)`` of a ``(1, 3, H, W)`` float32 tensor returns ``(1, num_classes)``.
        out: Output ``.onnx`` path.
        img_size: Input size ``N`` or ``(H, W)`` (ImageNet: 224).
        names: Class names (``len == num_classes``), written to the metadata; None: none written.
        preprocess: What the model expects (default: ImageNet's short side 256 → centre crop, mean / std).
        softmax: Append a softmax so the file outputs probabilities (ultralytics' ``-cls`` convention);
            default False (logits, like torchvision and the ONNX Model Zoo).
        dynamic_batch: Make the batch dimension symbolic.
        opset: ONNX opset.
        simplify: Run onnxslim.
        verify: Compare ONNX Runtime (and each ``to`` engine) with PyTorch; ONNX Runtime out of tolerance is a
            `VerificationError`, a converted engine out of tolerance is reported (``report.passed`` False).
        rtol: Relative tolerance of the comparisons.
        atol: Absolute tolerance.
        to: Also convert to these `lite.convert` targets and compare them with PyTorch.
        exporter: ``"auto"``, ``"legacy"`` or ``"dynamo"`` (see `torch_to_onnx`).

    Returns:
        The `ExportReport` (files, metadata, comparisons).

    Raises:
        InputError: Not a torch module, an output that is not ``(1, num_classes)``, or names of the wrong length.
        BackendNotInstalledError: torch (or onnx / onnxruntime) is missing.
        VerificationError: ONNX Runtime differs from PyTorch beyond the tolerance.
    """
    from lite.export.onnx import torch_to_onnx

    try:
        import torch
    except ImportError as e:
        raise BackendNotInstalledError(
            "export_classifier needs PyTorch: pip install torch (the CPU wheel is enough)"
        ) from e
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"model: expected a torch.nn.Module classifier, got {type(model).__name__}")
    if not isinstance(preprocess, PreprocessConfig):
        raise InputError(
            f"preprocess: expected a lite.ops.preprocess.PreprocessConfig, got {type(preprocess).__name__}"
        )
    h, w = _hw(img_size)
    net = torch.nn.Sequential(model, torch.nn.Softmax(dim=1)) if softmax else model
    was_training = net.training
    net.eval()
    sample = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        probe = net(sample)
    if not isinstance(probe, torch.Tensor) or probe.ndim != 2 or probe.shape[0] != 1:
        got = tuple(probe.shape) if isinstance(probe, torch.Tensor) else type(probe).__name__
        raise InputError(
            f"model: expected a classifier whose output is (N, num_classes), got {got}; export detectors with "
            "export_yolov6 or torch_to_onnx"
        )
    num_classes = int(probe.shape[1])
    if names is not None and len(names) != num_classes:
        raise InputError(f"names: expected {num_classes} class names (the model's outputs), got {len(names)}")
    meta = {
        "family": "imagenet",  # lite's generic classifier; the preprocessing below is the model's own
        "task": "classify",
        "imgsz": f"[{h}, {w}]",
        "num_classes": str(num_classes),
        "output": "probabilities" if softmax else "logits",
        "preprocess": json.dumps(dataclasses.asdict(preprocess)),
    }
    if names is not None:
        meta["names"] = repr(dict(enumerate(str(n) for n in names)))
    try:
        report = torch_to_onnx(net, sample, out, opset=opset, dynamic_batch=dynamic_batch,
                               output_names=["output0"], simplify=simplify, metadata=meta, verify=verify,
                               rtol=rtol, atol=atol, exporter=exporter)  # type: ignore[arg-type]  # fmt: skip
        if to:
            from lite.export.verify import convert_and_verify

            files, comparisons = convert_and_verify(report.path, net, sample, to, verify=verify, rtol=rtol, atol=atol)
            report.files += files
            report.comparisons += comparisons
    finally:
        net.train(was_training)
    return report


def load_factory(spec: str, *, num_classes: int | None = None, weights: str | Path | None = None) -> Any:
    """The ``torch.nn.Module`` that ``FILE.py:FACTORY`` (or ``package.module:FACTORY``) builds, in eval mode, with
    a ``state_dict`` from ``weights`` loaded into it (strict: every key must match).

    Raises:
        InputError: A malformed spec, a missing file or function, or weights that do not fit the module.
        ModelNotFoundError: The weights file does not exist.
    """
    import importlib
    import importlib.util

    from lite.core.errors import ModelNotFoundError

    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise InputError(f"--classifier: expected FILE.py:FACTORY or module:FACTORY, got {spec!r}")
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise InputError(f"--classifier: no such file {where!r}")
            mod_spec = importlib.util.spec_from_file_location(f"lite_user_{path.stem}", path)
            module = importlib.util.module_from_spec(mod_spec)  # type: ignore[arg-type]
            mod_spec.loader.exec_module(module)  # type: ignore[union-attr]
        else:
            module = importlib.import_module(where)
    except ImportError as e:
        raise InputError(f"--classifier: cannot import {where!r}: {e}") from e
    factory = getattr(module, name, None)
    if not callable(factory):
        raise InputError(f"--classifier: {where!r} has no function {name!r}")
    net = factory(num_classes=num_classes) if num_classes is not None else factory()
    if weights is not None:
        import torch

        w = Path(weights)
        if not w.is_file():
            raise ModelNotFoundError(f"--weights: no such file {str(w)!r}")
        state = torch.load(w, map_location="cpu", weights_only=True)
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise InputError(f"--weights: {w.name} does not fit {spec}: {str(e)[:400]}") from None
    return net.eval()
