"""ONNX Runtime adapter (``backend="ort"``, ``.onnx`` files).

``device`` picks the execution providers: ``"cpu"``; ``"cuda"`` / ``"cuda:N"`` (CUDA EP, needs
``onnxruntime-gpu``); ``"trt"`` / ``"trt:N"`` (TensorRT EP, then CUDA). ONNX Runtime only *warns*
when it falls back to the CPU; this adapter checks the providers actually running and raises
[`DeviceError`][lite.core.errors.DeviceError] instead, unless ``allow_fallback=True``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lite.backends import register_backend, require
from lite.backends.base import Backend, TensorSpec
from lite.core.checks import check_threads
from lite.core.errors import DeviceError, InputError, ModelLoadError

_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}

_OPT_LEVELS = ("disable", "basic", "extended", "all")


def providers_for_device(device: str, *, fp16: bool = False, cache_dir: str | None = None) -> list[Any]:
    """Execution providers (with options) for a device string.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"trt"`` or ``"trt:N"``.
        fp16: Let the TensorRT EP build FP16 engines.
        cache_dir: Where the TensorRT EP caches its engines (default
            ``$LITE_CACHE/ort-trt/ort<version>-trt<version>``, see `trt_ep_cache_dir`). The folder is
            created here, parents included: the provider creates only the last level
            (``std::filesystem::create_directory``), fails on a missing parent, and ONNX Runtime then
            falls back to CUDA/CPU.

    Raises:
        DeviceError: An unknown device string.
        OSError: The cache folder cannot be created.
    """
    kind, _, index = device.lower().partition(":")
    if index and not index.isdigit():
        raise DeviceError(f"expected a device like 'cpu', 'cuda', 'cuda:0', 'trt:0'; got {device!r}")
    dev_id = int(index or 0)
    if kind == "cpu":
        return ["CPUExecutionProvider"]
    if kind == "cuda":
        return [("CUDAExecutionProvider", {"device_id": dev_id}), "CPUExecutionProvider"]
    if kind in ("trt", "tensorrt"):
        from lite.core.cache import cache_dir as lite_cache_dir

        folder = Path(cache_dir) if cache_dir else _default_trt_ep_cache_dir(lite_cache_dir() / "ort-trt")
        folder.mkdir(parents=True, exist_ok=True)  # the provider would create only the last level
        trt_opts = {
            "device_id": dev_id,
            "trt_fp16_enable": fp16,
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(folder),
        }
        return [
            ("TensorrtExecutionProvider", trt_opts),
            ("CUDAExecutionProvider", {"device_id": dev_id}),
            "CPUExecutionProvider",
        ]
    raise DeviceError(f"backend 'ort' supports devices 'cpu', 'cuda[:N]', 'trt[:N]'; got {device!r}")


_ORT_DISTS = ("onnxruntime-gpu", "onnxruntime")
_TRT_DISTS = ("tensorrt", "tensorrt-cu12", "tensorrt-cu13", "tensorrt-cu12-libs", "tensorrt-cu13-libs", "tensorrt-libs")


def trt_ep_cache_dir(base: str | Path, ort_version: str | None, trt_version: str | None) -> Path:
    """The TensorRT EP's engine cache folder for one ONNX Runtime and one TensorRT version.

    Engines cached by one TensorRT (or one ONNX Runtime build) cannot be loaded by another, and
    ONNX Runtime does not check: each version pair gets its own folder,
    ``<base>/ort<ort_version>-trt<trt_version>`` (``unknown`` for a version that cannot be found).
    """
    return Path(base) / f"ort{ort_version or 'unknown'}-trt{trt_version or 'unknown'}"


def _default_trt_ep_cache_dir(base: Path) -> Path:
    return trt_ep_cache_dir(base, _dist_version(*_ORT_DISTS), _dist_version(*_TRT_DISTS))


def _dist_version(*dists: str) -> str | None:
    """Version of the first installed distribution among ``dists`` (read from metadata, nothing imported)."""
    import importlib.metadata

    for dist in dists:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


@register_backend("ort", suffixes=(".onnx",), requires=("onnxruntime",), extra="ort", title="ONNX Runtime")
class OrtBackend(Backend):
    """ONNX Runtime inference session.

    Fused preprocessing (`fuse_preprocess`) is the default from 512×512 inputs up
    (`fuse_by_default_for`). Measured on a 2-core x86 CPU, 1 thread: at 640 it pays
    (YOLOv8n: ``detect()`` adds 0.89 ms over ``session.run`` instead of 1.63 ms); at 320 the
    prepended ``uint8`` nodes cost about what numpy's normalisation does (within 0.05 ms) while
    building the second session adds about 30 ms to every load.

    Args:
        model_path: ``.onnx`` file.
        device: ``"cpu"`` (default), ``"cuda[:N]"`` or ``"trt[:N]"``.
        threads: ``intra_op_num_threads`` (None: ONNX Runtime's default, all cores).
        optimization: Graph optimisation level: ``"disable"``, ``"basic"``, ``"extended"`` or ``"all"``.
        allow_fallback: Accept a session where ONNX Runtime fell back from the requested
            provider to the CPU (a warning instead of an error).
        fp16: TensorRT EP only: allow FP16 kernels.
        providers: Explicit provider list, overriding ``device``.
        spinning: Whether idle intra-op threads spin (ONNX Runtime's default, True) or sleep. Spinning
            is faster for one image at a time on an idle CPU; with ``detect_stream`` on a CPU whose cores
            the engine already fills, ``False`` leaves the decoding thread room (measured on 2 cores, 2
            threads: 128 COCO images 0.68 s streamed without spinning vs 0.76 s with; one ``detect()`` 5.4
            vs 4.0 ms). On a CPU shared with other work, ``False`` is the faster choice even for one image
            (Lite-S 320, 2 threads, load average 9-19: ``session.run`` 11 vs 28 ms, ``detect()`` 1.08 vs
            1.27 times it; ``benchmarks/bench_overhead.py``).
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        device: str = "cpu",
        threads: int | None = None,
        optimization: str = "all",
        allow_fallback: bool = False,
        fp16: bool = False,
        providers: list[Any] | None = None,
        spinning: bool | None = None,
    ) -> None:
        super().__init__(model_path, device=device, threads=threads)
        ort = require("onnxruntime", "ort")
        if optimization not in _OPT_LEVELS:
            raise InputError(f"optimization: expected one of {_OPT_LEVELS}, got {optimization!r}")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[optimization]
        if check_threads(threads) is not None:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        if spinning is not None:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        requested = providers if providers is not None else providers_for_device(device, fp16=fp16)
        wanted = [p if isinstance(p, str) else p[0] for p in requested]
        installed = ort.get_available_providers()
        missing = [p for p in wanted if p not in installed]
        if missing and not allow_fallback:
            raise DeviceError(
                f"device {device!r} needs ONNX Runtime providers {wanted}, but this onnxruntime has {installed}; "
                f"missing {missing}. For CUDA/TensorRT install onnxruntime-gpu instead of onnxruntime "
                f"(they cannot share an environment), or pass device='cpu'"
            )
        requested = [p for p in requested if (p if isinstance(p, str) else p[0]) in installed]
        self._session_args = (opts, requested)
        try:
            self.session = ort.InferenceSession(os.fspath(self.model_path), sess_options=opts, providers=requested)
        except Exception as e:  # onnxruntime raises its own exception types (InvalidProtobuf, Fail, ...)
            raise ModelLoadError(
                f"ONNX Runtime could not load {self.model_path}: {type(e).__name__}: {str(e).strip()[:500]}"
            ) from e
        running = self.session.get_providers()
        self.providers = running
        primary = wanted[0]
        if primary not in running:
            msg = (
                f"ONNX Runtime fell back from {primary} to {running} for {self.model_path} on device {device!r} "
                f"(the provider failed to initialise: check the CUDA/cuDNN/TensorRT libraries)"
            )
            if not allow_fallback:
                raise DeviceError(msg + "; pass allow_fallback=True to accept the fallback")
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        self._inputs = [_spec(a) for a in self.session.get_inputs()]
        self._outputs = [_spec(a) for a in self.session.get_outputs()]
        self._output_names = [s.name for s in self._outputs]
        self._metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    fuse_by_default = False

    def fuse_by_default_for(self, input_hw: tuple[int, int]) -> bool:
        """Fuse from 512×512 inputs up (below, the load cost outweighs the per-image gain)."""
        return input_hw[0] * input_hw[1] >= 512 * 512

    def _fuse_preprocess(self, config: Any) -> bool:
        """Prepend the preprocessing to the graph in memory (see `lite.backends._ort_fuse`).

        The file is not touched. A second session is built from the edited model and runs
        `infer_canvas`; the plain session is released and rebuilt only if a float tensor
        comes again (`infer`, `raw_runner`). Returns False (nothing changes) without
        the ``onnx`` package, for models whose input is not one float NCHW image, and for
        opsets below 10.
        """
        spec = self._inputs[0] if len(self._inputs) == 1 else None
        if spec is None or spec.dtype.kind != "f" or len(spec.shape) != 4:
            return False
        try:
            import onnx
        except ImportError:
            return False
        from lite.backends._ort_fuse import fuse_preprocess_model

        try:
            fused = fuse_preprocess_model(onnx.load(os.fspath(self.model_path)), config)
        except ValueError:
            return False
        ort = require("onnxruntime", "ort")
        opts, providers = self._session_args
        try:
            session = ort.InferenceSession(fused.SerializeToString(), sess_options=opts, providers=providers)
        except Exception as e:  # onnxruntime raises its own exception types
            raise ModelLoadError(
                f"ONNX Runtime could not load {self.model_path} with the preprocessing prepended "
                f"({type(e).__name__}: {str(e).strip()[:300]}); pass fuse_preprocess=False to the detector"
            ) from e
        self._fused_session = session
        self._fused_name = session.get_inputs()[0].name
        self.session = None  # type: ignore[assignment]  # rebuilt by _plain() if a float tensor comes
        return True

    def _plain(self) -> Any:
        """The session on the model as written (rebuilt after fusing released it)."""
        if self.session is None and getattr(self, "_fused_session", None) is not None:
            ort = require("onnxruntime", "ort")
            opts, providers = self._session_args
            self.session = ort.InferenceSession(os.fspath(self.model_path), sess_options=opts, providers=providers)
        return self.session

    def _infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self._plain().run(self._output_names, feed)
        return dict(zip(self._output_names, values, strict=True))

    def _infer_canvas(self, canvas: np.ndarray) -> dict[str, np.ndarray]:
        values = self._fused_session.run(self._output_names, {self._fused_name: canvas})
        return dict(zip(self._output_names, values, strict=True))

    def raw_runner(self, feed: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        """``session.run`` alone on a prepared feed (the benchmark baseline): the plain session on a
        float tensor, the fused one on a ``uint8`` canvas."""
        prepared, names = dict(feed), self._output_names
        canvas = self._fused_canvas(prepared)
        if canvas is not None:
            session, prepared = self._fused_session, {self._fused_name: canvas}
        else:
            session = self._plain()
        return lambda: session.run(names, prepared)

    def close(self) -> None:
        self.session = None  # type: ignore[assignment]
        self._fused_session = None


def _spec(arg: Any) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) or d is None else str(d) for d in (arg.shape or ()))
    dtype = np.dtype(_ORT_DTYPES.get(arg.type, np.float32))
    return TensorSpec(arg.name, shape, dtype)
