"""TensorRT adapter (``backend="trt"``): ``.engine`` / ``.plan`` files, or an ``.onnx`` it builds and caches.

Written against TensorRT 10's name-based I/O API (``num_io_tensors``, ``get_tensor_name``,
``set_input_shape``, ``set_tensor_address``, ``execute_async_v3``); nothing of the removed
bindings API. Device memory, pinned host memory and the stream come from cuda-python
(`lite.backends._cuda`), every call checked.

What the adapter guarantees:

* Input specs (names, dtypes including FP16/INT8/INT32/INT64/BOOL, shapes with ``-1`` as
  symbolic dimensions) come from the engine. An FP16 input gets FP16 data: the base class casts
  float feeds to the spec dtype.
* Output shapes are read from the execution context after ``set_input_shape``, every call,
  never assumed from the ONNX or hard-coded. Outputs whose size depends on the data (ONNX
  ``NonMaxSuppression``/``NonZero``) are allocated by TensorRT through an ``IOutputAllocator``
  and get the shape TensorRT reports after the run.
* I/O tensors in a vectorized (non-LINEAR) memory format are refused at load (lite copies dense
  row-major arrays).
* A shape outside the engine's optimisation profile is an [`InputError`][lite.core.errors.InputError]
  naming the allowed range (a batch larger than the profile's maximum is split into chunks;
  only inputs with a batch axis are split).
* One lock per backend serialises inference, `TrtBackend.raw_runner`'s calls and
  `TrtBackend.close` (closing from another thread never frees buffers under a running kernel).
* ``.onnx`` files are built once per cache key (ONNX and external-data contents, precision, TF32,
  profiles, calibration, TensorRT version, GPU; see
  `lite.backends._trt_build.engine_cache_key`) and cached under ``$LITE_CACHE/trt``; a
  cached engine that no longer deserializes is rebuilt with a warning.
* The TensorRT plugins are registered once per process, with the one process-wide logger
  (`lite.backends._trt_runtime.init_plugins`), before deserializing, so end-to-end engines
  with ``EfficientNMS_TRT`` load.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lite.backends import register_backend
from lite.backends.base import Backend, TensorSpec
from lite.core.errors import CudaError, DeviceError, InputError, ModelLoadError

__all__ = [
    "TrtBackend",
    "batch_chunks",
    "batch_inputs",
    "check_profile",
    "numpy_dtype",
    "parse_device",
    "split_feed",
    "tensor_spec",
]

_DTYPES: dict[str, np.dtype] = {
    "FLOAT": np.dtype(np.float32),
    "HALF": np.dtype(np.float16),
    "INT8": np.dtype(np.int8),
    "UINT8": np.dtype(np.uint8),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "BOOL": np.dtype(np.bool_),
}

_BUILD_DEFAULTS: dict[str, Any] = {
    "fp16": False,
    "int8": False,
    "calib_images": None,
    "calib_cache": None,
    "batch": None,
    "input_hw": None,
    "workspace_gb": None,
    "tf32": True,
    "preprocess": None,
}


# ----------------------------------------------------------------------------------------------
# pure helpers (no TensorRT)
# ----------------------------------------------------------------------------------------------
def parse_device(device: str | None) -> int:
    """CUDA device index of a device string: ``"cuda"``, ``"cuda:1"``, ``"gpu"``, ``"gpu:0"``.

    Raises:
        DeviceError: ``"cpu"`` or anything else (TensorRT runs on NVIDIA GPUs only).
    """
    text = "cuda" if device is None else str(device).strip().lower()
    kind, _, index = text.partition(":")
    if kind in ("cuda", "gpu", "trt", "tensorrt") and (not index or index.isdigit()):
        return int(index or 0)
    raise DeviceError(
        f"backend 'trt' runs on NVIDIA GPUs only: expected device 'cuda' or 'cuda:N', got {device!r}"
        + (
            " (for the CPU use backend='ort', or pass device='cuda' explicitly with backend='trt')"
            if kind == "cpu"
            else ""
        )
    )


def numpy_dtype(trt_dtype: Any) -> np.dtype:
    """numpy dtype of a TensorRT ``DataType`` (or its name, e.g. ``"HALF"``).

    Raises:
        ModelLoadError: A type numpy cannot hold on the host (BF16, FP8, INT4, FP4).
    """
    name = trt_dtype if isinstance(trt_dtype, str) else getattr(trt_dtype, "name", str(trt_dtype).split(".")[-1])
    try:
        return _DTYPES[name.upper()]
    except KeyError:
        raise ModelLoadError(
            f"TensorRT I/O type {name} has no numpy equivalent; lite supports {sorted(_DTYPES)} for engine inputs "
            f"and outputs (re-export with FP32/FP16 I/O)"
        ) from None


def tensor_spec(name: str, dims: Sequence[int], dtype: np.dtype, is_input: bool) -> TensorSpec:
    """A TensorSpec from an engine tensor: ``-1`` dimensions become symbolic names.

    Axis 0 is ``"batch"``; axes 2 and 3 of a 4-D input are ``"height"`` and ``"width"``; any
    other dynamic axis is ``"<name>:<axis>"``.
    """
    dims = [int(d) for d in dims]
    shape: list[int | str] = []
    for axis, d in enumerate(dims):
        if d >= 0:
            shape.append(d)
        elif axis == 0:
            shape.append("batch")
        elif is_input and len(dims) == 4 and axis in (2, 3):
            shape.append("height" if axis == 2 else "width")
        else:
            shape.append(f"{name}:{axis}")
    return TensorSpec(name, tuple(shape), np.dtype(dtype))


def check_profile(name: str, shape: Sequence[int], lo: Sequence[int], hi: Sequence[int]) -> None:
    """Raise InputError when ``shape`` lies outside the profile range ``[lo, hi]``.

    The message gives the allowed range per axis.
    """
    shape = tuple(int(d) for d in shape)
    lo, hi = tuple(int(d) for d in lo), tuple(int(d) for d in hi)
    if len(shape) != len(lo):
        raise InputError(f"input {name!r}: expected rank {len(lo)}, got shape {shape}")
    bad = [i for i, (d, a, b) in enumerate(zip(shape, lo, hi, strict=True)) if not a <= d <= b]
    if bad:
        ranges = ", ".join(f"{a}" if a == b else f"{a}..{b}" for a, b in zip(lo, hi, strict=True))
        axes = ", ".join(f"axis {i}: {shape[i]} not in {lo[i]}..{hi[i]}" for i in bad)
        raise InputError(
            f"input {name!r}: shape {shape} is outside the engine's optimisation profile ({ranges}); {axes}. "
            f"Rebuild the engine with a wider profile (batch=(min, opt, max) / input_hw=...)"
        )


def batch_chunks(n: int, max_batch: int) -> list[slice]:
    """Slices splitting a batch of ``n`` into chunks of at most ``max_batch``."""
    if n < 1 or max_batch < 1:
        raise InputError(f"batch_chunks: expected positive sizes, got n={n}, max_batch={max_batch}")
    return [slice(i, min(i + max_batch, n)) for i in range(0, n, max_batch)]


def batch_inputs(specs: Sequence[TensorSpec]) -> list[str]:
    """Names of the inputs whose axis 0 is a symbolic batch (the ones a too-large batch is split on)."""
    return [s.name for s in specs if s.rank_known and len(s.shape) > 0 and s.dim(0) == "batch"]


def split_feed(feed: Mapping[str, np.ndarray], batched: Sequence[str], chunk: slice) -> dict[str, np.ndarray]:
    """One chunk of a feed: ``chunk`` of axis 0 of the ``batched`` inputs, every other input whole."""
    return {k: (v[chunk] if k in batched else v) for k, v in feed.items()}


class DynamicOutputs:
    """Memory for outputs whose shape depends on the data, handed to TensorRT on request.

    The plain-Python half of the ``IOutputAllocator`` the adapter registers for such outputs:
    TensorRT asks for ``size`` bytes during the run (`reallocate`), and reports the
    output's shape once it knows it (`notify_shape`). An exception while allocating is
    kept in `error` (TensorRT's binding would swallow it) and answered with a null pointer,
    which fails the run; the adapter then raises the kept exception.

    Args:
        buffer_for: Tensor name → its `HostDeviceBuffer`.
    """

    def __init__(self, buffer_for: Callable[[str], Any]) -> None:
        self._buffer_for = buffer_for
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.error: BaseException | None = None

    def reallocate(self, name: str, size: int) -> int:
        """Device pointer of at least ``size`` bytes for output ``name`` (grown when needed); 0 on failure."""
        try:
            buf = self._buffer_for(name)
            buf.ensure(int(size))
            return int(buf.device_ptr)
        except BaseException as e:  # kept: TensorRT would swallow it
            self.error = e
            return 0

    def raise_error(self) -> None:
        """Re-raise (once) an exception `reallocate` kept."""
        if self.error is not None:
            err, self.error = self.error, None
            raise err

    def notify_shape(self, name: str, shape: Sequence[int]) -> None:
        """Remember the output's shape for this run."""
        self.shapes[name] = tuple(int(d) for d in shape)

    def take_shape(self, name: str) -> tuple[int, ...] | None:
        """The shape reported for ``name`` in this run (and forget it), or None when none was."""
        return self.shapes.pop(name, None)


def _output_allocator(trt: Any, outputs: DynamicOutputs) -> Any:
    """A ``trt.IOutputAllocator`` delegating to ``outputs`` (TensorRT 10 names both reallocate calls)."""

    class _Allocator(trt.IOutputAllocator):
        def __init__(self) -> None:
            trt.IOutputAllocator.__init__(self)

        def reallocate_output(self, tensor_name: str, memory: int, size: int, alignment: int) -> int:
            return outputs.reallocate(tensor_name, size)

        def reallocate_output_async(self, tensor_name: str, memory: int, size: int, alignment: int, stream: int) -> int:
            return outputs.reallocate(tensor_name, size)

        def notify_shape(self, tensor_name: str, shape: Any) -> None:
            outputs.notify_shape(tensor_name, tuple(shape))

    return _Allocator()


# ----------------------------------------------------------------------------------------------
# the adapter
# ----------------------------------------------------------------------------------------------
@register_backend(
    "trt",
    suffixes=(".engine", ".plan", ".onnx"),
    default_for=(".engine", ".plan"),
    title="TensorRT",
    # the real runtime module: a bare ``cuda`` namespace package (cuda-pathfinder alone) is not cuda-python
    requires=("tensorrt", "cuda.bindings.runtime|cuda.cudart"),
    extra="trt",
)
class TrtBackend(Backend):
    """A TensorRT engine on one GPU.

    Args:
        model_path: ``.engine`` / ``.plan`` (a serialized engine), or ``.onnx`` (built, then cached).
        device: ``"cuda"`` or ``"cuda:N"`` (``"cpu"`` is an error: TensorRT runs on NVIDIA GPUs).
        threads: Ignored (TensorRT runs on the GPU); accepted for the common backend signature.
        fp16: ``.onnx`` only: allow FP16 kernels.
        int8: ``.onnx`` only: INT8 with entropy calibration (needs ``calib_images`` or ``calib_cache``).
        calib_images: ``.onnx`` only: folder of calibration images.
        calib_cache: ``.onnx`` only: INT8 calibration cache file (reused when present).
        batch: ``.onnx`` only: ``(min, opt, max)`` batch profile for a dynamic-batch ONNX.
        input_hw: ``.onnx`` only: ``(h, w)`` or ``((h, w) min, opt, max)`` for a dynamic-H/W ONNX.
        workspace_gb: ``.onnx`` only: builder workspace limit in GiB.
        tf32: ``.onnx`` only: allow TF32 for FP32 layers (TensorRT's default); False for FP32 parity.
        preprocess: ``.onnx`` with ``int8`` and ``calib_images``: the model's
            `PreprocessConfig` (the calibration images are fed exactly
            as inference feeds them; the model layer passes its family's).
        cache_dir: Engine cache folder (default ``$LITE_CACHE/trt``).
        rebuild: Ignore a cached engine and build again.
        verbose: TensorRT's verbose log (to the ``lite.trt`` logger).

    Raises:
        BackendNotInstalledError: ``tensorrt`` or ``cuda-python`` is missing (an ImportError).
        DeviceError: A device other than ``cuda[:N]``.
        CudaError: No usable GPU/driver, or a CUDA call failed.
        ModelLoadError: The engine cannot be deserialized (another TensorRT version or GPU), or
            has I/O tensors in a non-LINEAR format.
        ConversionError: Building from ``.onnx`` failed.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        device: str | None = "cuda",
        threads: int | None = None,
        fp16: bool = False,
        int8: bool = False,
        calib_images: str | Path | None = None,
        calib_cache: str | Path | None = None,
        batch: Any = None,
        input_hw: Any = None,
        workspace_gb: float | None = None,
        tf32: bool = True,
        preprocess: Any = None,
        cache_dir: str | Path | None = None,
        rebuild: bool = False,
        verbose: bool = False,
    ) -> None:
        from lite.backends import _trt_runtime as rt

        self._closed = True
        trt = rt.import_tensorrt()  # first: a missing engine is an ImportError naming the extra
        from lite.backends._cuda import CudaRuntime, Stream

        super().__init__(model_path, device=device or "cuda", threads=threads)
        self.device_index = parse_device(device)
        self._trt = trt
        self._rt = CudaRuntime()
        count = self._rt.device_count()
        if self.device_index >= count:
            raise DeviceError(f"device {device!r}: only {count} CUDA device(s) visible (cuda:0..cuda:{count - 1})")
        self._rt.set_device(self.device_index)
        self.gpu = self._rt.device_info(self.device_index)
        self._logger = rt.init_plugins(trt)  # EfficientNMS_TRT & co. before any deserialize; one logger
        if verbose:
            rt.get_logger(trt, verbose=True)
        self._runtime = trt.Runtime(self._logger)
        self.built = False

        options = {
            "fp16": fp16,
            "int8": int8,
            "calib_images": calib_images,
            "calib_cache": calib_cache,
            "batch": batch,
            "input_hw": input_hw,
            "workspace_gb": workspace_gb,
            "tf32": tf32,
            "preprocess": preprocess,
        }
        if self.model_path.suffix.lower() == ".onnx":
            self.engine = self._engine_from_onnx(options, cache_dir, rebuild, verbose)
            self._metadata = rt.onnx_metadata(self.model_path)
        else:
            given = [k for k, default in _BUILD_DEFAULTS.items() if options[k] != default]
            if given:
                raise InputError(
                    f"{given} are engine build options, for .onnx models; {self.model_path.name} is already a "
                    f"built engine (its precision and profiles are fixed). Pass the .onnx, or drop them"
                )
            self.engine_path = self.model_path
            mark = rt.error_mark(self._logger)
            self.engine = self._deserialize(self.model_path.read_bytes())
            if self.engine is None:
                raise ModelLoadError(
                    f"TensorRT {trt.__version__} could not deserialize {self.model_path} on {self.gpu.name} "
                    f"({self.gpu.sm}): engines only load with the TensorRT version and GPU architecture that built "
                    f"them (or the file is not an engine). Rebuild it from the ONNX here "
                    f"(`lite convert --to trt` or open the .onnx with backend='trt'). "
                    f"TensorRT said: {rt.recent_errors(self._logger, since=mark) or 'nothing'}"
                )
        mark = rt.error_mark(self._logger)
        self.context = self.engine.create_execution_context()
        if self.context is None:
            raise CudaError(
                f"TensorRT could not create an execution context for {self.model_path} (out of GPU memory?): "
                f"{rt.recent_errors(self._logger, since=mark) or 'no message'}"
            )
        self._stream = Stream(self._rt)
        self._closed = False
        self._lock = threading.RLock()
        self._buffers: dict[str, Any] = {}
        self._dynamic = DynamicOutputs(self._buffer)
        try:
            self._read_io()
        except BaseException:
            self.close()
            raise

    # -- loading -----------------------------------------------------------------------------
    def _deserialize(self, data: bytes) -> Any:
        return self._runtime.deserialize_cuda_engine(data)

    def _engine_from_onnx(self, options: dict[str, Any], cache_dir: Any, rebuild: bool, verbose: bool) -> Any:
        from lite.backends import _trt_build as build
        from lite.backends import _trt_runtime as rt
        from lite.backends._trt_cache import engine_cache_dir, engine_cache_path, load_or_rebuild
        from lite.core.errors import BackendNotInstalledError

        trt = self._trt
        build.BuildOptions(**options).check()  # argument errors before hashing files or building
        try:
            inputs = rt.onnx_inputs(self.model_path)
        except BackendNotInstalledError:  # no `onnx` package: let TensorRT's parser read the inputs
            inputs = rt.onnx_inputs_via_trt(trt, self.model_path)
        digest = None
        if options["int8"] and options["calib_images"] is not None:
            digest = build.calibration_digest(options["calib_images"], options["preprocess"])
        key, profiles = build.engine_cache_key(
            self.model_path,
            trt_version=trt.__version__,
            gpu_name=self.gpu.name,
            compute_capability=self.gpu.compute_capability,
            fp16=bool(options["fp16"]),
            int8=bool(options["int8"]),
            calib_digest=digest,
            calib_cache=options["calib_cache"],
            batch=options["batch"],
            input_hw=options["input_hw"],
            workspace_gb=options["workspace_gb"],
            tf32=bool(options["tf32"]),
            inputs=inputs,
        )
        self.profiles = profiles
        self.cache_key = key
        path = engine_cache_path(key, self.model_path, cache_dir)
        if rebuild:
            path.unlink(missing_ok=True)
        timing = engine_cache_dir(cache_dir) / f"timing-trt{trt.__version__}-{self.gpu.sm}.cache"
        build_options = build.BuildOptions(**options, timing_cache=timing, verbose=verbose)

        def make() -> Path:
            return build.build_engine_file(self.model_path, path, build_options)

        engine, self.built = load_or_rebuild(path, self._deserialize, make)
        self.engine_path = path
        return engine

    def _read_io(self) -> None:
        from lite.backends._trt_runtime import io_format_problem, output_plan

        trt, engine = self._trt, self.engine
        self._ranges: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        inputs, outputs, formats = [], [], {}
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            fmt = engine.get_tensor_format(name)
            formats[name] = getattr(fmt, "name", str(fmt).split(".")[-1])
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            dtype = numpy_dtype(engine.get_tensor_dtype(name))
            spec = tensor_spec(name, tuple(engine.get_tensor_shape(name)), dtype, is_input)
            if is_input:
                inputs.append(spec)
                if not spec.is_static:
                    lo, opt, hi = engine.get_tensor_profile_shape(name, 0)
                    self._ranges[name] = (tuple(int(d) for d in lo), tuple(int(d) for d in hi))
                    self.context.set_input_shape(name, tuple(int(d) for d in opt))  # to classify the outputs
            else:
                outputs.append(spec)
        problem = io_format_problem(formats, self.model_path.name)
        if problem:
            raise ModelLoadError(problem)
        self._inputs, self._outputs = inputs, outputs
        self._out_names = [s.name for s in outputs]
        self._batched = batch_inputs(inputs)
        plan = output_plan({s.name: tuple(self.context.get_tensor_shape(s.name)) for s in outputs})
        self._dds = [n for n in self._out_names if plan[n] == "data-dependent"]
        if self._dds:
            self._allocator = _output_allocator(trt, self._dynamic)  # kept alive: TensorRT holds a raw pointer
            for name in self._dds:
                if not self.context.set_output_allocator(name, self._allocator):
                    raise ModelLoadError(f"TensorRT refused an output allocator for the data-dependent output {name!r}")

    # -- inference -----------------------------------------------------------------------------
    def _buffer(self, name: str) -> Any:
        from lite.backends._cuda import HostDeviceBuffer

        buf = self._buffers.get(name)
        if buf is None:
            buf = self._buffers[name] = HostDeviceBuffer(self._rt, name)
        return buf

    def _infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        chunks = self._chunks(feed)
        if len(chunks) == 1:
            return self._run(feed)
        parts = [self._run(split_feed(feed, self._batched, c)) for c in chunks]
        return {n: np.concatenate([p[n] for p in parts], axis=0) for n in self._out_names}

    def _chunks(self, feed: Mapping[str, np.ndarray]) -> list[slice]:
        """One slice, or several when the batch exceeds the profile maximum (and only the batch does).

        Only inputs with a batch axis are split (`split_feed`); chunking needs every output
        to have a batch axis too, and no data-dependent output.
        """
        outputs_batched = not self._dds and all(s.rank_known and s.dim(0) == "batch" for s in self._outputs)
        for name in self._batched:
            if name not in self._ranges or not outputs_batched:
                continue
            lo, hi = self._ranges[name]
            shape = feed[name].shape
            rest_ok = all(a <= d <= b for d, a, b in zip(shape[1:], lo[1:], hi[1:], strict=False))
            if len(shape) == len(lo) and rest_ok and shape[0] > hi[0] >= lo[0]:
                return batch_chunks(shape[0], hi[0])
        return [slice(None)]

    def _run(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._lock:
            self._check_open()
            self._enqueue(feed)
            self._stream.synchronize()
            return {n: self._buffers[n].host_array(s, d).copy() for n, (s, d) in self._out_shapes.items()}

    def _check_open(self) -> None:
        if self._closed:
            raise CudaError(f"{self!r} is closed")

    def _enqueue(self, feed: Mapping[str, np.ndarray]) -> None:
        """Set shapes and addresses, queue H2D copies, the engine, and D2H copies (no sync)."""
        from lite.backends._trt_runtime import error_mark, recent_errors

        ctx, rt, stream = self.context, self._rt, self._stream.stream
        rt.set_device(self.device_index)
        for spec in self._inputs:
            arr = feed[spec.name]
            if spec.name in self._ranges:
                lo, hi = self._ranges[spec.name]
                check_profile(spec.name, arr.shape, lo, hi)
            mark = error_mark(self._logger)
            if not ctx.set_input_shape(spec.name, tuple(int(d) for d in arr.shape)):
                raise InputError(
                    f"input {spec.name!r}: TensorRT rejected shape {tuple(arr.shape)} "
                    f"(engine shape {spec.shape}): {recent_errors(self._logger, since=mark)}"
                )
            buf = self._buffer(spec.name)
            buf.ensure(arr.nbytes)
            np.copyto(buf.host_array(arr.shape, arr.dtype), arr)
            ctx.set_tensor_address(spec.name, buf.device_ptr)
            rt.memcpy_htod_async(buf.device_ptr, buf.host_ptr, arr.nbytes, stream)
        static: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        for spec in self._outputs:
            if spec.name in self._dds:
                continue  # TensorRT asks the output allocator for memory during the run
            shape = tuple(int(d) for d in ctx.get_tensor_shape(spec.name))
            buf = self._buffer(spec.name)
            buf.ensure(int(np.prod(shape, dtype=np.int64)) * spec.dtype.itemsize)
            ctx.set_tensor_address(spec.name, buf.device_ptr)
            static[spec.name] = (shape, spec.dtype)
        self._execute()
        dynamic = self._dynamic_shapes()
        # in the engine's output order (the base class's contract), data-dependent outputs in their place
        out_shapes = {n: static[n] if n in static else dynamic[n] for n in self._out_names}
        for name, (shape, dtype) in out_shapes.items():
            buf = self._buffers[name]
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if nbytes:
                rt.memcpy_dtoh_async(buf.host_ptr, buf.device_ptr, nbytes, stream)
        self._out_shapes = out_shapes

    def _execute(self) -> None:
        """``execute_async_v3`` on this backend's stream; a False return is a CudaError with TensorRT's errors."""
        from lite.backends._trt_runtime import error_mark, recent_errors

        mark = error_mark(self._logger)
        if not self.context.execute_async_v3(self._stream.handle):
            self._dynamic.raise_error()  # an allocation failure of a data-dependent output, if that was it
            raise CudaError(
                f"TensorRT execute_async_v3 failed for {self.model_path.name}: "
                f"{recent_errors(self._logger, since=mark) or 'no message'}"
            )

    def _dynamic_shapes(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Shapes TensorRT reported for the data-dependent outputs of the run just queued."""
        if not self._dds:
            return {}
        shapes = {n: self._dynamic.take_shape(n) for n in self._dds}
        if any(v is None for v in shapes.values()):  # not reported at enqueue time: wait for the run
            self._stream.synchronize()
            shapes = {n: v if v is not None else self._dynamic.take_shape(n) for n, v in shapes.items()}
        missing = [n for n, v in shapes.items() if v is None]
        if missing:
            raise CudaError(f"TensorRT reported no shape for the data-dependent outputs {missing}")
        dtypes = {s.name: s.dtype for s in self._outputs}
        for name, shape in shapes.items():
            self._buffer(name).ensure(int(np.prod(shape, dtype=np.int64)) * dtypes[name].itemsize)
        return {n: (shape, dtypes[n]) for n, shape in shapes.items()}

    def raw_runner(self, feed: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        """``execute_async_v3`` + stream sync alone, on inputs already on the device (the baseline).

        Each call takes the backend's lock and fails cleanly once the backend is closed.
        """
        checked = self.check_feed(dict(feed))
        self._run(checked)  # sets shapes, allocates and fills the device buffers once
        stream, lock = self._stream, self._lock

        def run() -> None:
            with lock:
                self._check_open()
                self._rt.set_device(self.device_index)  # the calling thread may have another current device
                self._execute()
                stream.synchronize()

        return run

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        """Free device and pinned buffers, the stream, the context and the engine (idempotent).

        Takes the backend's lock: a run in progress on another thread finishes first.
        """
        lock = getattr(self, "_lock", None)
        if lock is None or getattr(self, "_closed", True):
            return
        with lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._rt.set_device(self.device_index)  # free on the engine's device, not the caller's current one
                self._stream.synchronize()
            finally:
                buffers, self._buffers = self._buffers, {}
                for buf in buffers.values():
                    buf.free()
                self._stream.close()
                self.context = None
                self.engine = None

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()
