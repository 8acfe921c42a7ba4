"""CUDA memory and streams for the TensorRT backend, through cuda-python's runtime bindings.

Everything here goes through one `CudaRuntime`, which imports ``cuda.bindings.runtime``
(``cuda.cudart`` on cuda-python older than 12.6) when it is created, never at module import.
Every runtime call's return code is checked: a failure raises [`CudaError`][lite.core.errors.CudaError]
whose message carries the CUDA error name (``cudaErrorMemoryAllocation``...) and string.

`HostDeviceBuffer` pairs a pinned (page-locked) host buffer with a device buffer of the
same capacity for one I/O tensor. It is reused across calls and re-allocated only when a tensor
needs more bytes than it holds; `HostDeviceBuffer.free` is idempotent.
"""

from __future__ import annotations

import ctypes
import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from lite.core.errors import BackendNotInstalledError, CudaError

__all__ = [
    "CudaRuntime",
    "GpuInfo",
    "HostDeviceBuffer",
    "Stream",
    "load_cudart",
]


def load_cudart() -> ModuleType:
    """Import cuda-python's runtime module (new layout first, then the pre-12.6 one).

    Raises:
        BackendNotInstalledError: cuda-python is not installed (the message names the ``trt`` extra).
    """
    errors = []
    for name in ("cuda.bindings.runtime", "cuda.cudart"):
        try:
            return importlib.import_module(name)
        except ImportError as e:
            errors.append(f"{name}: {e}")
    raise BackendNotInstalledError(
        "backend 'trt' needs cuda-python for device memory, which is not installed "
        f"({'; '.join(errors)}); install it with: pip install 'lite-detect[trt]'"
    )


@dataclass(frozen=True)
class GpuInfo:
    """The identity of a CUDA device, as far as TensorRT engines care.

    Attributes:
        index: CUDA device ordinal.
        name: Device name, e.g. ``"NVIDIA GeForce RTX 3090"``.
        compute_capability: ``(major, minor)``, e.g. ``(8, 6)``.
    """

    index: int
    name: str
    compute_capability: tuple[int, int]

    @property
    def sm(self) -> str:
        """Compute capability as TensorRT names it, e.g. ``"sm86"``."""
        return f"sm{self.compute_capability[0]}{self.compute_capability[1]}"


class CudaRuntime:
    """Checked wrappers around the few CUDA runtime calls lite needs.

    Args:
        cudart: The runtime module (default: `load_cudart`).
    """

    def __init__(self, cudart: ModuleType | None = None) -> None:
        self.rt = cudart if cudart is not None else load_cudart()
        self._success = self.rt.cudaError_t.cudaSuccess

    # -- error checking -------------------------------------------------------------------
    def error_name(self, err: Any) -> str:
        """The CUDA name of an error code (``"cudaErrorInvalidValue"``), or its repr if unknown."""
        code, name = self.rt.cudaGetErrorName(err)
        if code == self._success and name:
            return name.decode() if isinstance(name, bytes) else str(name)
        return repr(err)

    def error_string(self, err: Any) -> str:
        """CUDA's description of an error code ('' if unavailable)."""
        code, text = self.rt.cudaGetErrorString(err)
        if code == self._success and text:
            return text.decode() if isinstance(text, bytes) else str(text)
        return ""

    def call(self, what: str, fn: Any, *args: Any) -> Any:
        """Call a ``cudart`` function and `check` its result.

        cuda-python 12.0-12.5 raise a RuntimeError (instead of returning an error code) when the CUDA
        driver library cannot be loaded; that becomes a CudaError too.

        Raises:
            CudaError: The call raised a RuntimeError or returned an error code.
        """
        try:
            result = fn(*args)
        except RuntimeError as e:
            raise CudaError(
                f"{what} failed: {e} (cuda-python could not use the CUDA driver: TensorRT needs an NVIDIA GPU "
                f"and its driver; check nvidia-smi)"
            ) from e
        return self.check(result, what)

    def check(self, result: Any, what: str) -> Any:
        """Check a cuda-python result ``(err, *values)`` and return the values.

        Args:
            result: What a ``cudart`` call returned: a tuple whose first item is a ``cudaError_t``.
            what: The call, for the message (e.g. ``"cudaMalloc(1048576)"``).

        Returns:
            None for no value, the value for one, else the tuple of values.

        Raises:
            CudaError: The code is not ``cudaSuccess``; the message names the CUDA error.
        """
        if not isinstance(result, tuple):
            result = (result,)
        err, values = result[0], result[1:]
        if err != self._success:
            text = self.error_string(err)
            hint = ""
            name = self.error_name(err)
            if name in ("cudaErrorInsufficientDriver", "cudaErrorNoDevice"):
                hint = "; TensorRT needs an NVIDIA GPU with a driver recent enough for this CUDA version"
            raise CudaError(f"{what} failed: {name}" + (f" ({text})" if text else "") + hint)
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    # -- devices --------------------------------------------------------------------------
    def device_count(self) -> int:
        """Number of CUDA devices visible."""
        return int(self.call("cudaGetDeviceCount()", self.rt.cudaGetDeviceCount))

    def set_device(self, index: int) -> None:
        """Make ``index`` the current device of the calling thread."""
        self.call(f"cudaSetDevice({index})", self.rt.cudaSetDevice, int(index))

    def device_info(self, index: int) -> GpuInfo:
        """Name and compute capability of device ``index``."""
        props = self.call(f"cudaGetDeviceProperties({index})", self.rt.cudaGetDeviceProperties, int(index))
        name = props.name
        if isinstance(name, bytes | bytearray):
            name = bytes(name).split(b"\0", 1)[0].decode(errors="replace")
        return GpuInfo(int(index), str(name).strip(), (int(props.major), int(props.minor)))

    # -- memory ---------------------------------------------------------------------------
    def malloc(self, nbytes: int) -> int:
        """Allocate device memory; returns the device pointer."""
        return int(self.call(f"cudaMalloc({nbytes})", self.rt.cudaMalloc, int(nbytes)))

    def free(self, ptr: int) -> None:
        """Free device memory from `malloc`."""
        self.call(f"cudaFree({ptr:#x})", self.rt.cudaFree, int(ptr))

    def malloc_host(self, nbytes: int) -> int:
        """Allocate pinned (page-locked) host memory; returns the host pointer."""
        return int(self.call(f"cudaMallocHost({nbytes})", self.rt.cudaMallocHost, int(nbytes)))

    def free_host(self, ptr: int) -> None:
        """Free pinned host memory from `malloc_host`."""
        self.call(f"cudaFreeHost({ptr:#x})", self.rt.cudaFreeHost, int(ptr))

    def memcpy_htod_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        """Queue a host → device copy on ``stream``."""
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self.call("cudaMemcpyAsync(H2D)", self.rt.cudaMemcpyAsync, int(dst), int(src), int(nbytes), kind, stream)

    def memcpy_dtoh_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        """Queue a device → host copy on ``stream``."""
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self.call("cudaMemcpyAsync(D2H)", self.rt.cudaMemcpyAsync, int(dst), int(src), int(nbytes), kind, stream)

    # -- streams --------------------------------------------------------------------------
    def stream_create(self) -> Any:
        """Create a non-blocking stream; returns the ``cudaStream_t``."""
        flags = self.rt.cudaStreamNonBlocking
        return self.call("cudaStreamCreateWithFlags()", self.rt.cudaStreamCreateWithFlags, flags)

    def stream_synchronize(self, stream: Any) -> None:
        """Wait until every operation queued on ``stream`` is done."""
        self.call("cudaStreamSynchronize()", self.rt.cudaStreamSynchronize, stream)

    def stream_destroy(self, stream: Any) -> None:
        """Destroy a stream from `stream_create`."""
        self.call("cudaStreamDestroy()", self.rt.cudaStreamDestroy, stream)


class _Allocator(Protocol):
    def malloc(self, nbytes: int) -> int: ...
    def free(self, ptr: int) -> None: ...
    def malloc_host(self, nbytes: int) -> int: ...
    def free_host(self, ptr: int) -> None: ...


class Stream:
    """One CUDA stream, destroyed by `close` (idempotent).

    Args:
        runtime: The checked runtime.
    """

    def __init__(self, runtime: CudaRuntime) -> None:
        self._rt = runtime
        self._stream: Any = runtime.stream_create()

    @property
    def handle(self) -> int:
        """The stream as an integer, the form TensorRT's ``execute_async_v3`` takes."""
        if self._stream is None:
            raise CudaError("the CUDA stream was already destroyed (the backend is closed)")
        return int(self._stream)

    @property
    def stream(self) -> Any:
        """The ``cudaStream_t`` object."""
        if self._stream is None:
            raise CudaError("the CUDA stream was already destroyed (the backend is closed)")
        return self._stream

    def synchronize(self) -> None:
        """Block until the stream's work is done."""
        self._rt.stream_synchronize(self.stream)

    def close(self) -> None:
        """Destroy the stream (safe to call twice)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            self._rt.stream_destroy(stream)


class HostDeviceBuffer:
    """Pinned host memory and device memory of the same capacity, for one I/O tensor.

    `ensure` grows both when a tensor needs more bytes than the current capacity (the
    old ones are freed first), and does nothing otherwise, so steady-state inference allocates
    nothing. `host_array` is a numpy view of the pinned memory.

    Args:
        allocator: Object with ``malloc``/``free``/``malloc_host``/``free_host``
            (a `CudaRuntime`).
        name: Tensor name, for messages.
    """

    def __init__(self, allocator: _Allocator, name: str = "") -> None:
        self._alloc = allocator
        self.name = name
        self.capacity = 0
        self.host_ptr = 0
        self.device_ptr = 0
        self.allocations = 0  # how many times memory was (re)allocated, for tests and diagnostics

    def ensure(self, nbytes: int) -> bool:
        """Make room for ``nbytes``; returns True when it had to (re)allocate."""
        nbytes = max(int(nbytes), 1)
        if nbytes <= self.capacity:
            return False
        self.free()
        host = self._alloc.malloc_host(nbytes)
        try:
            device = self._alloc.malloc(nbytes)
        except BaseException:
            self._alloc.free_host(host)
            raise
        self.host_ptr, self.device_ptr, self.capacity = host, device, nbytes
        self.allocations += 1
        return True

    def host_array(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A numpy view of the pinned host memory with this shape and dtype (must fit)."""
        dtype = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        nbytes = count * dtype.itemsize
        if nbytes > self.capacity or not self.host_ptr:
            raise CudaError(
                f"buffer {self.name!r}: {nbytes} bytes requested but {self.capacity} allocated (call ensure first)"
            )
        raw = (ctypes.c_ubyte * max(nbytes, 1)).from_address(self.host_ptr)
        return np.frombuffer(raw, dtype=dtype, count=count).reshape(shape)

    def free(self) -> None:
        """Release both buffers (safe to call twice)."""
        host, device = self.host_ptr, self.device_ptr
        self.host_ptr = self.device_ptr = 0
        self.capacity = 0
        try:
            if device:
                self._alloc.free(device)
        finally:
            if host:
                self._alloc.free_host(host)
