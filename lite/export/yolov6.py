"""Export meituan/YOLOv6 training checkpoints to ONNX: ``decoded``, ``raw`` (decode-free) or ``end2end``.

A YOLOv6 checkpoint (``{"model": ..., "ema": ..., "epoch": ...}``, written by its trainer in half
precision) pickles the model object itself, so loading one needs YOLOv6's ``yolov6`` package
importable: ``pip install --no-deps yolov6detect`` (the official code on PyPI) or a checkout of
the repository on ``sys.path``. The PyPI package's ``__init__`` imports torchvision only for its
high-level helper; `import_yolov6` makes the package importable without running that
``__init__``, so the model code works where torchvision is not installed.

Before export the model is put in deploy form as YOLOv6's own ``export_onnx.py`` does: RepVGG
blocks re-parameterised (``switch_to_deploy``), Conv+BN fused, ``nn.SiLU`` replaced by
``x * sigmoid(x)``. Layouts:

* ``decoded``: YOLOv6's export output, one ``(B, N, 5+nc)`` tensor ``outputs``
  ``[cx, cy, w, h, obj=1, class scores…]`` in input pixels;
* ``raw``: the decode-free head for NCNN/MNN: per level ``out{i}`` ``(B, nc+4, H/s, W/s)``,
  sigmoided class scores first, then l, t, r, b distances in stride units from the cell centre
  (the layout of the official YOLOv6Lite NCNN models; YOLOv6's decoders read it as ``raw``);
* ``end2end``: ``decoded`` + ONNX NonMaxSuppression with the outputs of YOLOv6's
  ``export_onnx.py --end2end --ort`` (see [`lite.export.end2end`][lite.export.end2end]).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import runpy
import sys
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from lite.core.errors import BackendNotInstalledError, InputError, ModelLoadError, ModelNotFoundError
from lite.export.report import ExportReport

__all__ = [
    "LAYOUTS",
    "ExportOptions",
    "YOLOv6NotInstalledError",
    "build_yolov6",
    "export_yolov6",
    "import_yolov6",
    "load_yolov6_checkpoint",
    "prepare_yolov6",
    "save_yolov6_checkpoint",
    "yolov6_config",
    "yolov6_export_module",
]

LAYOUTS = ("decoded", "raw", "end2end")
INSTALL_HINT = (
    "install YOLOv6's code with: pip install --no-deps yolov6detect "
    "(the official meituan/YOLOv6 code on PyPI; --no-deps because it requires torchvision), "
    "or put a checkout of https://github.com/meituan/YOLOv6 on sys.path (PYTHONPATH=/path/to/YOLOv6)"
)
_YOLOV6_MODULES = ("yolov6.layers.common", "yolov6.models.yolo", "yolov6.models.effidehead")


class YOLOv6NotInstalledError(BackendNotInstalledError):
    """YOLOv6's ``yolov6`` package (needed to unpickle or build its models) cannot be imported."""


# ----------------------------------------------------------------------------------------------
# importing YOLOv6's code
# ----------------------------------------------------------------------------------------------
def _find_yolov6() -> Any:
    try:
        return importlib.util.find_spec("yolov6")
    except (ImportError, ValueError):
        return None


def import_yolov6() -> ModuleType:
    """Make YOLOv6's ``yolov6`` package importable and return it.

    When the package is not imported yet, its module object is created from its spec *without
    running its* ``__init__`` (which, in the PyPI ``yolov6detect`` build, imports torchvision for a
    helper lite does not use) and registered in ``sys.modules``; submodules such as
    ``yolov6.models.yolo`` then import normally, and ``torch.load`` can unpickle checkpoints.

    Raises:
        YOLOv6NotInstalledError: The package is not installed, or one of its model modules
            cannot be imported (the message names the missing dependency).
    """
    existing = sys.modules.get("yolov6")
    if existing is None:
        spec = _find_yolov6()
        if spec is None or not spec.submodule_search_locations:
            raise YOLOv6NotInstalledError(f"YOLOv6's 'yolov6' package is not importable; {INSTALL_HINT}")
        pkg = importlib.util.module_from_spec(spec)  # the package object; its __init__ is not executed
        try:
            from importlib.metadata import PackageNotFoundError, version

            pkg.__version__ = version("yolov6detect")
        except PackageNotFoundError:
            pkg.__version__ = "unknown"
        sys.modules["yolov6"] = pkg
    else:
        pkg = existing
    try:
        for name in _YOLOV6_MODULES:
            importlib.import_module(name)
    except ImportError as e:
        if existing is None:
            for name in [m for m in sys.modules if m == "yolov6" or m.startswith("yolov6.")]:
                del sys.modules[name]
        raise YOLOv6NotInstalledError(
            f"YOLOv6's model code at {list(getattr(pkg, '__path__', []))} cannot be imported: {e}. "
            f"Install the missing module (YOLOv6's models need torch, numpy and PyYAML), or {INSTALL_HINT}"
        ) from e
    return pkg


class _Cfg(dict):
    """A dict with attribute access (what YOLOv6's ``build_network`` expects of its config)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as e:
            raise AttributeError(key) from e

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value


def _wrap(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _Cfg({k: _wrap(v) for k, v in value.items()})
    return value


def yolov6_config(config: str | Path | Mapping[str, Any]) -> _Cfg:
    """A YOLOv6 model config, as its tools use it (``training_mode`` defaults to ``"repvgg"``).

    Args:
        config: A config name shipped with the package (``"yolov6n"``, ``"yolov6s6"``, …), a path to
            a config ``.py`` file, or a mapping with a ``model`` entry.

    Raises:
        InputError: No such config, or it has no ``model`` dict.
    """
    if isinstance(config, Mapping):
        raw = dict(config)
    else:
        path = Path(config)
        if not path.suffix:
            pkg = import_yolov6()
            path = Path(next(iter(pkg.__path__))) / "configs" / f"{config}.py"
        if not path.is_file():
            raise InputError(f"YOLOv6 config {config!r}: no file {path}")
        raw = {
            k: v for k, v in runpy.run_path(str(path)).items() if not k.startswith("_") and isinstance(v, dict | str)
        }
    if not isinstance(raw.get("model"), Mapping):
        raise InputError(f"YOLOv6 config {config!r}: expected a 'model' dict, got keys {sorted(raw)}")
    cfg = _wrap(raw)
    cfg.setdefault("training_mode", "repvgg")
    return cfg


def build_yolov6(config: str | Path | Mapping[str, Any], num_classes: int = 80, *, seed: int | None = None) -> Any:
    """Build a YOLOv6 model (random weights, training form) from a config with YOLOv6's own code.

    Args:
        config: See `yolov6_config`.
        num_classes: Number of classes.
        seed: ``torch.manual_seed`` before building (reproducible weights).
    """
    import torch

    import_yolov6()
    from yolov6.models.yolo import build_model

    if seed is not None:
        torch.manual_seed(seed)
    return build_model(yolov6_config(config), num_classes, "cpu")


def save_yolov6_checkpoint(model: Any, path: str | Path, *, epoch: int = 0) -> Path:
    """Save a model the way YOLOv6's trainer does: ``{"model", "ema"}`` deep copies in half precision."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {
        "model": copy.deepcopy(model).half(),
        "ema": copy.deepcopy(model).half(),
        "updates": 0,
        "optimizer": None,
        "epoch": epoch,
    }
    torch.save(ckpt, path)
    return path


def load_yolov6_checkpoint(path: str | Path, *, prefer_ema: bool = True) -> Any:
    """Load a YOLOv6 checkpoint's model in float32 eval mode (``ema`` when present, as YOLOv6 does).

    Checkpoints are pickles: load only files you trust.

    Raises:
        ModelNotFoundError: No such file.
        YOLOv6NotInstalledError: The ``yolov6`` package is not importable.
        ModelLoadError: Not a YOLOv6 checkpoint.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"checkpoint not found: {path} (absolute: {path.resolve()})")
    import_yolov6()
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=False)
    except ModuleNotFoundError as e:
        raise YOLOv6NotInstalledError(f"{path} needs the module {e.name!r} to load; {INSTALL_HINT}") from e
    except Exception as e:  # pickle/zip errors of a corrupt or foreign file
        raise ModelLoadError(f"cannot load {path} as a PyTorch checkpoint: {type(e).__name__}: {e}") from e
    if isinstance(ckpt, torch.nn.Module):
        model = ckpt
    elif isinstance(ckpt, Mapping):
        model = ckpt.get("ema") if prefer_ema and ckpt.get("ema") is not None else ckpt.get("model")
        if not isinstance(model, torch.nn.Module):
            raise ModelLoadError(
                f"{path}: expected a YOLOv6 checkpoint dict with a 'model' or 'ema' module, got keys {sorted(ckpt)}"
            )
    else:
        raise ModelLoadError(f"{path}: expected a YOLOv6 checkpoint dict, got {type(ckpt).__name__}")
    if not hasattr(model, "detect") or not hasattr(model, "backbone"):
        raise ModelLoadError(f"{path}: the model ({type(model).__name__}) is not a YOLOv6 Model (no backbone/detect)")
    return model.float().eval()


# ----------------------------------------------------------------------------------------------
# deploy form
# ----------------------------------------------------------------------------------------------
def _export_silu() -> Any:
    import torch

    class ExportSiLU(torch.nn.Module):
        """``x * sigmoid(x)``: SiLU as two ops every converter knows."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * torch.sigmoid(x)

    return ExportSiLU


def _fuse_conv_bn(conv: Any, bn: Any) -> Any:
    import torch

    fused = torch.nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        bias=True,
        padding_mode=conv.padding_mode,
    )
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    fused.weight.data = conv.weight.detach() * scale.reshape(-1, 1, 1, 1)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused.bias.data = (bias - bn.running_mean) * scale + bn.bias.detach()
    return fused.requires_grad_(False)


def prepare_yolov6(model: Any) -> Any:
    """Put a YOLOv6 model in deploy form for export (in place; returns it).

    * ``switch_to_deploy()`` on every module that has it (RepVGG blocks → one 3×3 conv);
    * Conv+BN fused in modules with ``conv``, ``bn`` and ``forward_fuse`` (YOLOv6's ``fuse=True``);
    * every ``nn.SiLU`` replaced by ``x * sigmoid(x)``.
    """
    import torch

    model.float().eval()
    for m in list(model.modules()):
        if hasattr(m, "switch_to_deploy"):
            m.switch_to_deploy()
    for m in list(model.modules()):
        conv, bn = getattr(m, "conv", None), getattr(m, "bn", None)
        if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d) and hasattr(m, "forward_fuse"):
            m.conv = _fuse_conv_bn(conv, bn)
            delattr(m, "bn")
            m.forward = m.forward_fuse
    silu = _export_silu()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.SiLU):
                setattr(parent, name, silu())
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def yolov6_export_module(model: Any, layout: str) -> Any:
    """A module whose forward is the export graph of a (prepared) YOLOv6 model for ``layout``.

    ``decoded`` and ``end2end`` return YOLOv6's own decoded head output; ``raw`` returns one
    ``cat([sigmoid(cls), ltrb], 1)`` map per level (the DFL projection applied when the head uses DFL).
    """
    import torch
    import torch.nn.functional as F

    if layout not in LAYOUTS:
        raise InputError(f"layout: expected one of {LAYOUTS}, got {layout!r}")
    det = model.detect
    cls_preds = det.cls_preds_af if hasattr(det, "cls_preds_af") else det.cls_preds
    if hasattr(det, "reg_preds_lrtb"):  # distillation head: a plain l, t, r, b branch
        reg_preds, dfl = det.reg_preds_lrtb, False
    else:
        reg_preds = det.reg_preds_af if hasattr(det, "reg_preds_af") else det.reg_preds
        dfl = bool(getattr(det, "use_dfl", False))

    class YOLOv6Export(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.layout = layout

        def forward(self, x: torch.Tensor) -> Any:
            feats = list(self.model.neck(self.model.backbone(x)))
            if self.layout != "raw":
                with warnings.catch_warnings():  # YOLOv6's anchor code calls meshgrid without indexing=
                    warnings.filterwarnings("ignore", message="torch.meshgrid", category=UserWarning)
                    return self.model.detect(feats)
            outs = []
            for i, f in enumerate(feats):
                f = det.stems[i](f)
                cls = cls_preds[i](det.cls_convs[i](f))
                reg = reg_preds[i](det.reg_convs[i](f))
                if dfl:
                    h, w = reg.shape[2], reg.shape[3]
                    reg = reg.reshape(-1, 4, det.reg_max + 1, h * w).permute(0, 2, 1, 3)
                    reg = det.proj_conv(F.softmax(reg, dim=1)).reshape(-1, 4, h, w)
                outs.append(torch.cat([torch.sigmoid(cls), reg], 1))
            return tuple(outs)

    return YOLOv6Export().eval()


# ----------------------------------------------------------------------------------------------
# the export
# ----------------------------------------------------------------------------------------------
def _size(img_size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(img_size, int):
        return (img_size, img_size)
    vals = [int(v) for v in img_size]
    if len(vals) == 1:
        return (vals[0], vals[0])
    if len(vals) == 2:
        return (vals[0], vals[1])
    raise InputError(f"img_size: expected N or (H, W), got {img_size!r}")


def _class_names(model: Any, nc: int, names: Sequence[str] | None) -> tuple[str, ...]:
    if names is not None:
        names = tuple(str(n) for n in names)
    else:
        found = getattr(model, "names", None)
        if isinstance(found, Mapping):
            found = [found[k] for k in sorted(found)]
        if found is not None and len(found) == nc:
            names = tuple(str(n) for n in found)
        elif nc == 80:
            from lite.data.coco import COCO_NAMES

            names = tuple(COCO_NAMES)
        else:
            names = tuple(f"class{i}" for i in range(nc))
    if len(names) != nc:
        raise InputError(f"names: the model has {nc} classes, got {len(names)} names")
    return names


def _sample_tensor(sample: Any, hw: tuple[int, int], batch: int, seed: int) -> Any:
    import torch

    if sample is None:
        g = torch.Generator().manual_seed(seed)
        return torch.rand((batch, 3, *hw), generator=g)
    if isinstance(sample, torch.Tensor):
        return sample.float()
    from lite.data.io import load_image
    from lite.ops.letterbox import Letterbox

    img = load_image(sample)
    x, _ = Letterbox(hw)(img)
    return torch.from_numpy(np.repeat(x, batch, axis=0))


@dataclass(frozen=True)
class ExportOptions:
    """How `export_yolov6` exports and checks a model (every field is also a keyword of that function).

    Attributes:
        img_size: Input size, ``N`` or ``(H, W)``; multiples of the largest stride.
        layout: ``"decoded"``, ``"raw"`` or ``"end2end"`` (`LAYOUTS`).
        batch: Fixed batch size, or ``"dynamic"``.
        opset: ONNX opset (≥ 11 for ``end2end``).
        simplify: Run onnxslim.
        verify: Compare with PyTorch (ONNX Runtime; then each target in ``to``).
        conf: ``end2end``: NMS score threshold.
        iou: ``end2end``: NMS IoU threshold.
        max_det: ``end2end``: boxes kept per class.
        names: Class names for the metadata (default: the model's, COCO for 80 classes, else ``classN``).
        sample: Verification input: an image (path/array, letterboxed) or a tensor; default random.
        exporter: ``"auto"``, ``"legacy"`` or ``"dynamo"`` (see [`lite.export.onnx`][lite.export.onnx]).
        n_random: Random inputs compared besides the sample.
        rtol: ONNX Runtime tolerance.
        atol: ONNX Runtime tolerance.
        to: Also convert with ``lite.convert`` to these targets (``"ncnn"``, ``"mnn"``, any registered one)
            into the ONNX file's folder, and compare them.
        engine_rtol: Tolerance for the converted models (reported; not raised).
        engine_atol: Tolerance for the converted models (reported; not raised).
        runs: Runs per latency measurement.
        seed: Seed of the random inputs.
    """

    img_size: int | Sequence[int] = 640
    layout: str = "decoded"
    batch: int | str = 1
    opset: int = 13
    simplify: bool = True
    verify: bool = True
    conf: float = 0.25
    iou: float = 0.45
    max_det: int = 100
    names: Sequence[str] | None = None
    sample: Any = None
    exporter: str = "auto"
    n_random: int = 2
    rtol: float = 1e-3
    atol: float = 1e-4
    to: Sequence[str] = ()
    engine_rtol: float = 1e-2
    engine_atol: float = 1e-2
    runs: int = 5
    seed: int = 0

    @property
    def hw(self) -> tuple[int, int]:
        """``img_size`` as ``(H, W)``."""
        return _size(self.img_size)

    @property
    def dynamic(self) -> bool:
        """A dynamic batch axis."""
        return self.batch == "dynamic"

    @property
    def n_batch(self) -> int:
        """The batch of the export sample (1 for a dynamic batch)."""
        return 1 if self.dynamic else int(self.batch)

    def targets(self) -> list[str]:
        """Checked arguments; returns the conversion targets (registered names).

        Raises:
            InputError: A bad layout, batch, opset, or a target that cannot run the layout.
            UnknownConverterError: An unknown conversion target.
        """
        from lite.convert import get

        if self.layout not in LAYOUTS:
            raise InputError(f"layout: expected one of {LAYOUTS}, got {self.layout!r}")
        engines = [get(e.strip()).name for e in self.to if e.strip()]  # an unknown target lists the known ones
        no_nms = [e for e in engines if not get(e).end2end]
        if no_nms and self.layout == "end2end":
            raise InputError(
                f"to: {', '.join(no_nms)} cannot run NonMaxSuppression; convert the 'raw' (or 'decoded') layout instead"
            )
        if self.layout == "end2end" and self.opset < 11:
            raise InputError(f"opset: end2end needs opset >= 11, got {self.opset}")
        if not self.dynamic and (isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1):
            raise InputError(f"batch: expected a positive integer or 'dynamic', got {self.batch!r}")
        self.hw  # noqa: B018  (checks img_size)
        return engines


def _metadata(model: Any, opt: ExportOptions) -> Any:
    """The metadata the exported file carries (names, strides, input size, layout, NMS settings)."""
    from lite.data.metadata import ModelMeta

    strides = tuple(int(s) for s in model.detect.stride.tolist())
    hw = opt.hw
    if hw[0] % max(strides) or hw[1] % max(strides):
        raise InputError(f"img_size: {hw[0]}x{hw[1]} must be a multiple of the largest stride {max(strides)}")
    class_names = _class_names(model, int(model.detect.nc), opt.names)
    extra = {"source": "meituan/YOLOv6 checkpoint", "export": f"lite export --layout {opt.layout}"}
    if opt.layout == "end2end":
        extra.update(
            {
                "nms_score_threshold": str(opt.conf),
                "nms_iou_threshold": str(opt.iou),
                "nms_max_per_class": str(opt.max_det),
            }
        )
    return ModelMeta(names=class_names, strides=strides, input_size=hw, layout=opt.layout, extra=extra)


def _default_out(src: Path | None, opt: ExportOptions) -> Path:
    stem = src.stem if src is not None else "yolov6"
    hw = opt.hw
    size = f"{hw[0]}" if hw[0] == hw[1] else f"{hw[0]}x{hw[1]}"
    return (src.parent if src is not None else Path.cwd()) / f"{stem}_{size}_{opt.layout}.onnx"


def _export_end2end(net: Any, x: Any, out: Path, meta: Any, opt: ExportOptions, common: dict[str, Any]) -> ExportReport:
    """Export the decoded graph, append ONNX NMS, and check the NMS tail on the scores it sees."""
    import onnx

    from lite.export.end2end import add_onnx_nms, verify_end2end
    from lite.export.onnx import io_shapes, torch_to_onnx, write_onnx_metadata
    from lite.export.verify import random_samples

    with tempfile.TemporaryDirectory(prefix="lite-export-") as tmp:
        decoded_path = Path(tmp) / "decoded.onnx"
        report = torch_to_onnx(net, x, decoded_path, **common)
        proto = add_onnx_nms(decoded_path, score_threshold=opt.conf, iou_threshold=opt.iou, max_per_class=opt.max_det)
        write_onnx_metadata(proto, meta)
        onnx.save(proto, str(out))
        report.path = out
        report.inputs, report.outputs = io_shapes(proto)
        report.metadata = {p.key: p.value for p in proto.metadata_props}
        for c in report.comparisons:
            c.target = "ONNX Runtime (before NMS)"
        if opt.verify:
            batch_extra = opt.n_batch + 1 if opt.dynamic else None
            samples = [(x,), *random_samples((x,), opt.n_random, seed=opt.seed, batch=batch_extra)]
            # the NMS tail is checked on the scores it sees: decoded ONNX (verified above) + lite NMS
            report.comparisons.append(
                verify_end2end(
                    decoded_path,
                    out,
                    samples,
                    score_threshold=opt.conf,
                    iou_threshold=opt.iou,
                    max_per_class=opt.max_det,
                    runs=opt.runs,
                )
            )
    return report


def export_yolov6(
    checkpoint: str | Path | Any,
    out: str | Path | None = None,
    options: ExportOptions | None = None,
    **overrides: Any,
) -> ExportReport:
    """Export a YOLOv6 checkpoint (or model) to ONNX in one of `LAYOUTS`, verified against PyTorch.

    Stages: check the options → load and fuse the model → its metadata → export (plus the NMS
    tail for ``end2end``) and compare with PyTorch → convert to each target of ``to`` and compare.

    Args:
        checkpoint: Path of a YOLOv6 ``.pt`` checkpoint, or a YOLOv6 model object.
        out: Output ``.onnx`` path (default ``<checkpoint stem>_<H>[x<W>]_<layout>.onnx`` beside it).
        options: The `ExportOptions` (default: its defaults).
        **overrides: Any field of `ExportOptions` (``img_size=320, layout="raw", to=["ncnn"]`` …).

    Returns:
        The `ExportReport` (``print`` it for the parity table). A converted engine out of
        tolerance is reported (``report.passed`` is False), not raised.

    Raises:
        YOLOv6NotInstalledError: The ``yolov6`` package is missing.
        InputError: A bad option (or a keyword that is not an option).
        ConversionError: Export or conversion failed.
        VerificationError: ONNX Runtime differs from PyTorch beyond ``rtol``/``atol``.
    """
    from lite.export.onnx import torch_to_onnx

    unknown = sorted(set(overrides) - {f.name for f in fields(ExportOptions)})
    if unknown:
        raise InputError(f"export_yolov6: unknown option(s) {unknown}; options are the fields of ExportOptions")
    opt = replace(options or ExportOptions(), **overrides)
    engines = opt.targets()

    src = Path(checkpoint) if isinstance(checkpoint, str | Path) else None
    model = load_yolov6_checkpoint(src) if src is not None else checkpoint
    prepare_yolov6(model)
    meta = _metadata(model, opt)
    out = Path(out) if out is not None else _default_out(src, opt)
    out.parent.mkdir(parents=True, exist_ok=True)

    net = yolov6_export_module(model, opt.layout)
    x = _sample_tensor(opt.sample, opt.hw, opt.n_batch, opt.seed)
    if tuple(x.shape) != (opt.n_batch, 3, *opt.hw):
        raise InputError(f"sample: expected a tensor of shape {(opt.n_batch, 3, *opt.hw)}, got {tuple(x.shape)}")
    out_names = [f"out{i}" for i in range(len(meta.strides))] if opt.layout == "raw" else ["outputs"]
    common = dict(opset=opt.opset, dynamic_batch=opt.dynamic, input_names=("images",), output_names=out_names,
                  simplify=opt.simplify, metadata=meta, verify=opt.verify, rtol=opt.rtol, atol=opt.atol,
                  n_random=opt.n_random, exporter=opt.exporter, runs=opt.runs, seed=opt.seed)  # fmt: skip
    if opt.layout == "end2end":
        report = _export_end2end(net, x, out, meta, opt, common)
    else:
        report = torch_to_onnx(net, x, out, **common)
    from lite.export.verify import convert_and_verify

    files, comparisons = convert_and_verify(report.path, net, x, engines, verify=opt.verify, n_random=opt.n_random,
                                            seed=opt.seed, rtol=opt.engine_rtol, atol=opt.engine_atol, runs=opt.runs)
    report.files += files
    report.comparisons += comparisons
    return report
