"""OpenVINO adapter (``backend="openvino"``, OpenVINO IR ``.xml``/``.bin`` and ``.onnx`` files).

Models are read with ``openvino.Core().read_model`` only (never ``convert_model`` or ``ovc``, which carry
telemetry), and ``openvino`` is imported without its telemetry (`import_openvino`: a bare ``import openvino``
sends a usage event and writes a client id under ``~/intel`` unless the user opted out). Models are compiled for one
device: ``"CPU"`` by default; ``"GPU"``, ``"GPU.1"``, ``"NPU"``, ``"AUTO"``,
``"AUTO:GPU,CPU"``, ``"HETERO:…"`` and ``"MULTI:…"`` are passed through to OpenVINO. A device that is not in
``Core().available_devices`` is a [`DeviceError`][lite.core.errors.DeviceError] listing the ones that are; nothing
falls back
to another device.

Precision is FP32 unless asked: ``INFERENCE_PRECISION_HINT`` is set to ``f32`` explicitly, because OpenVINO's
own default on CPUs with AMX or AVX512-BF16 is bf16, which moves YOLO scores by up to 0.07. ``precision="bf16"``
or ``"f16"`` opts in; the precision the compiled model reports is checked, so a CPU without bf16 is an error
rather than a silent FP32 run.

Two guards against silently wrong outputs on ``.onnx`` files (OpenVINO 2026.4 computes the YOLOv6Lite ONNX
files wrongly, 0 of 9 detections on bus.jpg, because of their ``Gather``-based channel shuffle):

* ``rewrite=True`` (default): the graph is rewritten in memory before OpenVINO reads it
  (`lite.backends._onnx_rewrite.rewrite_channel_shuffles`: the shuffle becomes
  ``Reshape → Transpose → Reshape``, which OpenVINO fuses into its ``ShuffleChannels``); the file on disk is never
  written. The same pass rewrites ``HardSigmoid`` into a form OpenVINO fuses into its convolutions
  (`rewrite_hard_sigmoids`), which halves Lite-S's inference time on CPU.
* ``parity_check`` (default: when ONNX Runtime is installed): at load, one probe input (uniform noise, seed 0)
  runs through OpenVINO and through ONNX Runtime on the original file; a disagreement beyond the tolerance is a
  [`VerificationError`][lite.core.errors.VerificationError]. An IR file has no ONNX to compare with:
  ``lite convert --to openvino`` runs that check before it writes the IR.

Dynamic batch, height and width are kept as the model declares them (OpenVINO compiles dynamic shapes).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from lite.backends import register_backend, require
from lite.backends._onnx import QUANTIZED_RTOL, is_quantized
from lite.backends.base import Backend, TensorSpec
from lite.core.checks import check_threads
from lite.core.errors import DeviceError, InputError, ModelLoadError, ModelNotFoundError, VerificationError

__all__ = [
    "PARITY_RTOL",
    "PRECISIONS",
    "QUANTIZED_RTOL",
    "OnnxRead",
    "OpenVinoBackend",
    "import_openvino",
    "probe_input",
    "read_onnx",
    "resolve_device",
]

#: Accepted ``precision=`` values (OpenVINO's ``INFERENCE_PRECISION_HINT`` names).
PRECISIONS = ("f32", "bf16", "f16")
#: Relative L2 error allowed between OpenVINO and ONNX Runtime in the load-time check, per precision.
#: FP32 agrees to about 1e-6 on YOLO models and bf16 to 0.03-0.08 (YOLOv6Lite S/M/L); the broken shuffle is off by
#: 0.6-1.4.
PARITY_RTOL = {"f32": 1e-3, "bf16": 0.15, "f16": 0.15}
#: Inputs of at most this many pixels (H · W) fuse the preprocessing unless told (`fuse_by_default_for`).
FUSE_UP_TO_PIXELS = 320 * 320
#: Devices whose name is followed by a list of devices (``AUTO:GPU,CPU``).
_META_DEVICES = ("AUTO", "MULTI", "HETERO", "BATCH")


def import_openvino() -> ModuleType:
    """``import openvino`` without its telemetry.

    ``openvino/__init__`` imports its model converter (``openvino.tools.ovc``), which at import time sends a
    ``general_import`` event through the ``openvino-telemetry`` package (a dependency of the wheel) and writes a
    client id to ``~/intel``, unless the user opted out with ``opt_in_out --opt_out``. The converter falls back to a
    no-op stub when ``openvino_telemetry`` cannot be imported, so the package is hidden for the duration of the
    import (and only then: a later ``import openvino_telemetry`` by the user works as usual). When ``openvino`` or
    ``openvino_telemetry`` is already imported, whoever imported it made that choice and nothing is changed.

    Raises:
        BackendNotInstalledError: openvino is not installed (``pip install 'lite-detect[openvino]'``).
    """
    if "openvino" in sys.modules:
        return sys.modules["openvino"]
    hide = "openvino_telemetry" not in sys.modules
    if hide:
        sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]  # import now raises ImportError
    try:
        return require("openvino", "openvino")
    finally:
        if hide and "openvino_telemetry" in sys.modules and sys.modules["openvino_telemetry"] is None:
            del sys.modules["openvino_telemetry"]


def resolve_device(device: str, available: list[str]) -> str:
    """OpenVINO's device name for ``device`` (``"cpu"`` → ``"CPU"``), checked against the available devices.

    Args:
        device: ``"CPU"``, ``"GPU"``, ``"GPU.1"``, ``"NPU"``, ``"AUTO"``, ``"AUTO:GPU,CPU"``… (any case).
        available: ``Core().available_devices``.

    Raises:
        DeviceError: A device (or a device listed after ``AUTO:``/``MULTI:``/``HETERO:``) that is not available.
    """
    if not isinstance(device, str) or not device.strip():
        raise DeviceError(f"device: expected an OpenVINO device name such as 'CPU', got {device!r}")
    kind, sep, rest = device.strip().partition(":")
    kind = kind.upper()
    if kind in _META_DEVICES:
        listed = [d.strip().upper() for d in rest.split(",") if d.strip()]
        if kind != "AUTO" and not listed:
            raise DeviceError(f"device {device!r}: {kind} needs a device list, e.g. '{kind}:GPU,CPU'")
        targets = [d.lstrip("-") for d in listed]
        name = kind + (":" + ",".join(listed) if listed else "")
    elif sep:
        raise DeviceError(
            f"device {device!r} is not an OpenVINO device name; backend 'openvino' takes names like 'CPU', 'GPU', "
            f"'GPU.1', 'NPU', 'AUTO'; available here: {', '.join(available) or 'none'}"
        )
    else:
        targets, name = [kind], kind
    missing = [t for t in targets if not any(a.upper() == t or a.upper().split(".")[0] == t for a in available)]
    if missing:
        raise DeviceError(
            f"OpenVINO device {', '.join(missing)} is not available (requested {device!r}); available devices: "
            f"{', '.join(available) or 'none'}. Pick one of those (lite does not fall back to another device); "
            "GPU and NPU need their drivers installed"
        )
    return name


def probe_input(spec: TensorSpec, hw: tuple[int, int]) -> np.ndarray:
    """The load-time check's input: uniform noise in [0, 1) (seed 0); open dimensions batch 1, 3, then ``hw``."""
    fill = [1, 3, *hw] if len(spec.shape) == 4 else [1] * len(spec.shape)
    shape = tuple(d if isinstance(d, int) else fill[i] for i, d in enumerate(spec.shape))
    rng = np.random.default_rng(0)
    if spec.dtype.kind == "f":
        return rng.random(shape, dtype=np.float32).astype(spec.dtype)
    return rng.integers(0, 256, shape).astype(spec.dtype)


@dataclass
class OnnxRead:
    """An ONNX file read into OpenVINO by `read_onnx`.

    Attributes:
        model: The ``openvino.Model``.
        metadata: The ONNX ``metadata_props``.
        rewritten: Rewrite → names of the nodes it rewrote in memory (``"channel_shuffle"``, ``"hard_sigmoid"``).
        quantized: The graph has quantization ops (a looser tolerance against ONNX Runtime).
    """

    model: Any
    metadata: dict[str, str]
    rewritten: dict[str, list[str]]
    quantized: bool


def read_onnx(core: Any, path: str | Path, *, rewrite: bool = True) -> OnnxRead:
    """Read an ONNX file with ``core.read_model``, rewritten in memory when it has a pattern OpenVINO gets wrong.

    With ``onnx`` installed (it comes with the ``openvino`` extra) the file is parsed once for its metadata, its
    op types and the rewrites: `lite.backends._onnx_rewrite.rewrite_channel_shuffles` (in the form that
    keeps batch, height and width dynamic; a correctness fix) and
    `rewrite_hard_sigmoids` (speed); ``rewrite`` needs it. The file is never
    written.

    Raises:
        ModelLoadError: The file is not a readable ONNX model, or OpenVINO cannot read it.
        BackendNotInstalledError: ``rewrite`` without the onnx package.
    """
    path = Path(path)
    source: Any = os.fspath(path)
    proto, metadata, quantized = None, {}, False
    rewritten: dict[str, list[str]] = {}
    if rewrite or importlib.util.find_spec("onnx") is not None:
        from lite.backends._onnx import metadata_props

        onnx = require("onnx", "openvino")
        try:
            proto = onnx.load(source)
        except Exception as e:
            raise ModelLoadError(f"{path} is not a readable ONNX model: {type(e).__name__}: {e}") from e
        metadata = metadata_props(proto)
        quantized = is_quantized(proto)
    if rewrite and proto is not None:
        from lite.backends._onnx_rewrite import concrete_input_shape, rewrite_channel_shuffles, rewrite_hard_sigmoids

        shape = concrete_input_shape(proto, _meta_hw(metadata) or (640, 640))
        new, rewritten["channel_shuffle"] = rewrite_channel_shuffles(proto, shape, dynamic=True)
        new, rewritten["hard_sigmoid"] = rewrite_hard_sigmoids(new)
        rewritten = {k: v for k, v in rewritten.items() if v}
        if rewritten:
            source = io.BytesIO(new.SerializeToString())
    try:
        model = core.read_model(source)
    except Exception as e:
        raise ModelLoadError(f"OpenVINO could not read {path}: {type(e).__name__}: {str(e).strip()[:500]}") from e
    if proto is None:
        metadata = _onnx_metadata_from_ov(model)
    return OnnxRead(model, metadata, rewritten, quantized)


@register_backend("openvino", suffixes=(".xml", ".onnx"), requires=("openvino",), extra="openvino",
                  default_for=(".xml",), title="OpenVINO")  # fmt: skip
class OpenVinoBackend(Backend):
    """An OpenVINO compiled model.

    Fused preprocessing (`fuse_preprocess`: OpenVINO's PrePostProcessor takes the ``uint8`` canvas) is the
    default up to 320×320 inputs (`fuse_by_default_for`). Measured on a 2-core x86 CPU, ``detect()`` on bus.jpg,
    fused vs not, interleaved in one run (medians, 1 thread): Lite-S 320 5.85 vs 6.11 ms (-0.26 ms; 2 threads
    -0.17 ms); YOLOX-nano 416 11.03 vs 10.91 ms (+0.12 ms); YOLOv8n int8 640 96.75 vs 94.48 ms (+2.3 ms; 2 threads
    +2.2 ms): at 640 OpenVINO's conversion of the canvas costs more than numpy's. Fusing compiles a second model,
    which adds to every load (measured 0.32 s for Lite-S, 0.92 s for YOLOv8n int8): at 320 it is won back after
    1,200-1,900 images, so a short run is faster with ``fuse_preprocess=False``.

    Args:
        model_path: OpenVINO IR ``.xml`` (its ``.bin`` beside it) or ``.onnx`` file.
        device: OpenVINO device name: ``"CPU"`` (default; ``"cpu"`` is accepted), ``"GPU"``, ``"GPU.N"``,
            ``"NPU"``, ``"AUTO"``, ``"AUTO:GPU,CPU"``...; checked against ``Core().available_devices``.
        threads: ``INFERENCE_NUM_THREADS`` of the CPU plugin (None: OpenVINO's default, all cores).
        precision: ``"f32"`` (default), or opt in to ``"bf16"`` (CPUs with AMX/AVX512-BF16; scores move by up to
            0.07) or ``"f16"``. The compiled model must report the requested precision.
        rewrite: ``.onnx`` only: rewrite in memory, before reading, the graph patterns OpenVINO computes wrongly
            (the ``Gather`` channel shuffle) or slowly (``HardSigmoid``).
        parity_check: ``.onnx`` only: compare OpenVINO with ONNX Runtime on a probe input at load. None (default):
            when ONNX Runtime is installed; True: always (ONNX Runtime must be installed); False: never.
        probe_size: ``(H, W)`` of the probe input for open height/width (default: the model's metadata
            input size, else 640).
        performance_hint: OpenVINO ``PERFORMANCE_HINT`` (``"LATENCY"``, the default, or ``"THROUGHPUT"``).
        config: More OpenVINO properties for ``compile_model`` (they win over the ones above).

    Attributes:
        rewritten: Rewrite → names of the ONNX nodes it rewrote at load (see `read_onnx`).
        parity: ``(output, max |diff|, rel L2)`` per output of the load-time check (empty when not run).
        precision: The inference precision the compiled model reports.

    Raises:
        ModelNotFoundError: An ``.xml`` without its ``.bin``.
        ModelLoadError: OpenVINO cannot read or compile the model.
        DeviceError: The device is not available, or does not run the requested precision.
        VerificationError: The load-time check found OpenVINO's outputs differ from ONNX Runtime's.
        BackendNotInstalledError: openvino (or, for ``.onnx`` with ``rewrite``, onnx) is not installed.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        device: str = "CPU",
        threads: int | None = None,
        precision: str = "f32",
        rewrite: bool = True,
        parity_check: bool | None = None,
        probe_size: tuple[int, int] | None = None,
        performance_hint: str = "LATENCY",
        config: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(model_path, device=device, threads=threads)
        ov = import_openvino()
        if precision not in PRECISIONS:
            raise InputError(f"precision: expected one of {PRECISIONS}, got {precision!r}")
        check_threads(threads)
        self._ov = ov
        self.core = ov.Core()
        self.device = resolve_device(device, list(self.core.available_devices))
        if threads is not None and self.device != "CPU":
            raise InputError(f"threads applies to the CPU device; got threads={threads} with device {self.device!r}")
        self.rewritten: dict[str, list[str]] = {}
        self.parity: list[tuple[str, float, float]] = []
        self.quantized = False
        is_onnx = self.model_path.suffix.lower() == ".onnx"
        if parity_check and not is_onnx:
            raise InputError(
                f"parity_check=True compares with ONNX Runtime on the ONNX file; {self.model_path.name} is an IR "
                "(lite convert --to openvino checks the IR before writing it)"
            )
        model = self._read_onnx(rewrite) if is_onnx else self._read_ir()
        props: dict[str, Any] = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": performance_hint}
        if threads is not None:
            props["INFERENCE_NUM_THREADS"] = int(threads)
        props.update(config or {})
        self.compiled = self._compile(model, props)
        self._model, self._props = model, props  # kept for fuse_preprocess (a second compiled model)
        self.precision = self._check_precision(precision)
        self._inputs = [_spec(p, i, "input") for i, p in enumerate(self.compiled.inputs)]
        self._outputs = [_spec(p, i, "output") for i, p in enumerate(self.compiled.outputs)]
        self._output_names = [s.name for s in self._outputs]
        self._input_index = {s.name: i for i, s in enumerate(self._inputs)}
        self._request = self.compiled.create_infer_request()
        self._lock = threading.Lock()
        if is_onnx and self._should_check(parity_check):
            hw = probe_size or _meta_hw(self._metadata) or (640, 640)
            rtol = PARITY_RTOL[precision]
            if self.quantized:
                rtol = max(rtol, QUANTIZED_RTOL)
            self.parity = self._check_against_ort(tuple(int(v) for v in hw), rtol, parity_check)

    # -- loading --------------------------------------------------------------------------
    def _compile(self, model: Any, props: Mapping[str, Any], what: str = "") -> Any:
        try:
            return self.core.compile_model(model, self.device, dict(props))
        except Exception as e:  # OpenVINO raises RuntimeError/its own types with a long C++ trace
            raise ModelLoadError(
                f"OpenVINO could not compile {self.model_path}{what} for {self.device} with {dict(props)}: "
                f"{type(e).__name__}: {str(e).strip()[:500]}"
            ) from e

    def _read_ir(self) -> Any:
        weights = self.model_path.with_suffix(".bin")
        if not weights.is_file():
            raise ModelNotFoundError(f"OpenVINO IR {self.model_path} needs its weights {weights}, which do not exist")
        try:
            model = self.core.read_model(os.fspath(self.model_path), os.fspath(weights))
        except Exception as e:
            raise ModelLoadError(
                f"OpenVINO could not read {self.model_path}: {type(e).__name__}: {str(e).strip()[:500]}"
            ) from e
        self._metadata = _ir_metadata(model)
        self.quantized = any(op.get_type_name() == "FakeQuantize" for op in model.get_ops())
        return model

    def _read_onnx(self, rewrite: bool) -> Any:
        read = read_onnx(self.core, self.model_path, rewrite=rewrite)
        self._metadata, self.rewritten, self.quantized = read.metadata, read.rewritten, read.quantized
        return read.model

    def _check_precision(self, requested: str) -> str:
        """The precision the compiled model runs; a DeviceError when the device ignored the request."""
        try:
            got = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        except Exception:  # meta devices (AUTO, MULTI) may not report it
            return requested
        name = got.to_string() if hasattr(got, "to_string") else str(got).lower()
        if name != requested:
            raise DeviceError(
                f"OpenVINO device {self.device} runs {self.model_path.name} in {name}, not the requested {requested} "
                f"(the device has no {requested} support: capabilities "
                f"{self._capabilities()}); use precision='f32' or another device"
            )
        return name

    def _capabilities(self) -> str:
        try:
            return ", ".join(self.core.get_property(self.device, "OPTIMIZATION_CAPABILITIES"))
        except Exception:
            return "unknown"

    # -- the load-time check ----------------------------------------------------------------
    def _should_check(self, parity_check: bool | None) -> bool:
        if parity_check is False:
            return False
        if importlib.util.find_spec("onnxruntime") is not None:
            return True
        if parity_check:
            require("onnxruntime", "openvino", extra="ort")
        return False

    def _check_against_ort(self, hw: tuple[int, int], rtol: float, explicit: bool | None) -> list[tuple]:
        """Run a probe input through OpenVINO and ONNX Runtime; raise VerificationError when they differ."""
        from lite.backends import get

        try:
            ref = get("ort").cls(self.model_path, threads=self.threads if self.device == "CPU" else None)
        except Exception as e:
            if explicit:
                raise
            warnings.warn(
                f"the OpenVINO/ONNX Runtime parity check of {self.model_path.name} was skipped: ONNX Runtime "
                f"cannot load it ({e})",
                RuntimeWarning,
                stacklevel=3,
            )
            return []
        feed = {s.name: probe_input(s, hw) for s in self._inputs}
        try:
            expected = ref.infer(feed)
        finally:
            ref.close()
        got = self._infer(self.check_feed(feed))
        report, bad = [], []
        for name, want in expected.items():
            have = got.get(name)
            if have is None or have.shape != want.shape:
                bad.append(f"{name}: shape {None if have is None else have.shape} vs ONNX Runtime's {want.shape}")
                continue
            max_abs, rel = _diff(want, have)
            report.append((name, max_abs, rel))
            if not rel <= (rtol if want.dtype.kind == "f" else 0.0):
                bad.append(f"{name}: rel L2 {rel:.3g}, max |diff| {max_abs:.3g}")
        if bad:
            raise VerificationError(
                f"OpenVINO {self._ov.__version__} on {self.device} ({self.precision}) disagrees with ONNX Runtime on "
                f"a probe input {feed[self._inputs[0].name].shape} for {self.model_path.name}, beyond rel L2 "
                f"{rtol:g}: {'; '.join(bad)}. Its outputs for this graph would be wrong: run the model with "
                "backend='ort', or report the model and OpenVINO version (parity_check=False skips this check)"
            )
        return report

    # -- fused preprocessing ------------------------------------------------------------------
    fuse_by_default = False

    def fuse_by_default_for(self, input_hw: tuple[int, int]) -> bool:
        """Fuse up to 320×320 inputs (larger ones measured slower fused; see the class docstring)."""
        return input_hw[0] * input_hw[1] <= FUSE_UP_TO_PIXELS

    def _fuse_preprocess(self, config: Any) -> bool:
        """Compile a second model that takes the ``uint8`` canvas (see `lite.backends._ov_fuse`).

        OpenVINO's PrePostProcessor prepends ``u8`` NHWC BGR → ``f32``, ``convert_color`` (RGB models) and the
        scale or mean / std to the model read at load, which is compiled with the same device, threads, precision
        and properties, with its own infer request for `infer_canvas`. `infer` keeps running the float model.
        Returns False (nothing changes) for models without one 4-D float image input.

        Raises:
            ModelLoadError: OpenVINO cannot compile the model with the preprocessing prepended.
        """
        spec = self._inputs[0] if len(self._inputs) == 1 else None
        if spec is None or spec.dtype.kind != "f" or not spec.rank_known or len(spec.shape) != 4:
            return False
        if spec.dim(1) not in (3, None) or self._model is None:
            return False
        from lite.backends._ov_fuse import fuse_preprocess_ov

        try:
            fused = fuse_preprocess_ov(self._ov, self._model, config)
        except ValueError:
            return False
        compiled = self._compile(
            fused, self._props, " with the preprocessing prepended (pass fuse_preprocess=False to the detector)"
        )
        self._fused_compiled = compiled
        self._fused_request = compiled.create_infer_request()
        return True

    def _infer_canvas(self, canvas: np.ndarray) -> dict[str, np.ndarray]:
        with self._lock:
            values = self._fused_request.infer({0: canvas}, share_inputs=True).to_tuple()
        return dict(zip(self._output_names, values, strict=True))

    # -- inference ------------------------------------------------------------------------
    def _infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        indexed = {self._input_index[k]: v for k, v in feed.items()}
        with self._lock:  # one infer request: calls from several threads take turns
            values = self._request.infer(indexed, share_inputs=True).to_tuple()
        return dict(zip(self._output_names, values, strict=True))

    def raw_runner(self, feed: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        """``InferRequest.infer`` alone on a prepared feed, outputs left in OpenVINO's memory (the benchmark floor):
        the float model on a float tensor, the fused one on a ``uint8`` canvas."""
        canvas = self._fused_canvas(feed)
        if canvas is not None:
            request = self._fused_compiled.create_infer_request()  # the fused model on a uint8 canvas
            prepared = {0: np.ascontiguousarray(canvas)}
        else:
            request = self.compiled.create_infer_request()
            prepared = {self._input_index[k]: np.ascontiguousarray(v) for k, v in feed.items()}
        return lambda: request.infer(prepared, share_inputs=True, share_outputs=True)

    def close(self) -> None:
        self._request = self._fused_request = None
        self.compiled = self._fused_compiled = self._model = None


def _spec(port: Any, index: int, kind: str) -> TensorSpec:
    ps = port.get_partial_shape()
    names = port.get_names()
    name = port.get_any_name() if names else f"{kind}{index}"
    dtype = np.dtype(port.get_element_type().to_dtype())
    if ps.rank.is_dynamic:
        return TensorSpec(name, (), dtype, rank_known=False)
    return TensorSpec(name, tuple(d.get_length() if d.is_static else None for d in ps), dtype)


def _diff(want: np.ndarray, have: np.ndarray) -> tuple[float, float]:
    """``(max |diff|, ‖diff‖ / ‖want‖)``; non-finite values are an infinite difference."""
    if want.size == 0:
        return 0.0, 0.0
    a, b = want.astype(np.float64), have.astype(np.float64)
    finite = np.isfinite(a)
    if not np.array_equal(finite, np.isfinite(b)):
        return float("inf"), float("inf")
    d = np.where(finite, a - b, 0.0)
    max_abs = float(np.abs(d).max())
    norm = float(np.linalg.norm(a[finite]))
    return max_abs, float(np.linalg.norm(d)) / norm if norm > 0 else max_abs


def _meta_hw(meta: Mapping[str, str]) -> tuple[int, int] | None:
    """The metadata ``input_size`` (``"[320, 320]"`` or ``"320"``) as ``(H, W)``, None when absent or unreadable."""
    raw = meta.get("input_size") or meta.get("imgsz")
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if isinstance(value, int):
        value = [value, value]
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value):
        return value[0], value[1]
    return None


def _onnx_metadata_from_ov(model: Any) -> dict[str, str]:
    """ONNX ``metadata_props`` as OpenVINO keeps them (``rt_info["framework"]``), when it does."""
    try:
        if model.has_rt_info(["framework"]):
            framework = model.get_rt_info(["framework"]).astype(dict)
            return {str(k): _ov_str(v) for k, v in framework.items()}
    except Exception:
        pass
    return {}


def _ir_metadata(model: Any) -> dict[str, str]:
    """An IR's metadata: the source ONNX's (``rt_info["framework"]``) updated with ``rt_info["lite"]``."""
    meta = _onnx_metadata_from_ov(model)
    try:
        if model.has_rt_info(["lite"]):
            meta.update({str(k): _ov_str(v) for k, v in model.get_rt_info(["lite"]).astype(dict).items()})
    except Exception:
        pass
    return meta


def _ov_str(value: Any) -> str:
    """An rt_info value (an ``OVAny``) as a string."""
    try:
        return str(value.astype(str))
    except Exception:
        return str(value)
