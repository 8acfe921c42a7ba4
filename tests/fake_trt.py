"""A fake ``tensorrt`` (TensorRT 10 Python bindings) and a fake ``cuda.bindings.runtime``, for CPU tests.

TensorRT cannot be installed here (no GPU). These fakes let the CPU test suite drive lite's real TensorRT
code — `build_engine_file`, `TrtBackend`, the INT8 calibrator, the timing cache — through the same calls it
makes on a GPU. They are written to the TensorRT 10 binding signatures (``python/src/infer/pyCore.cpp``,
``pyGraph.cpp``, ``pyInt8.cpp``, ``parsers/pyOnnx.cpp`` of NVIDIA/TensorRT 10.x) and to cuda-python 12.6+'s
``cuda.bindings.runtime`` (every call returns a tuple whose first item is a ``cudaError_t``):

* every class has ``__slots__``: an attribute TensorRT 10 does not have is an AttributeError, on read
  and on write; every method takes exactly the binding's arguments (a wrong call is a TypeError);
* TensorRT 10 behaviour lite relies on is reproduced: explicit batch only, a profile needed for dynamic
  inputs, a calibration profile needed for INT8 with dynamic inputs, plugins needing
  ``init_libnvinfer_plugins``, an exception raised in ``get_batch`` swallowed (taken as "no more data"),
  ``build_serialized_network`` returning None with the reason on the logger, data-dependent outputs
  asking the ``IOutputAllocator`` for memory, ``execute_async_v3`` returning False on failure;
* "device" memory is host memory (``ctypes``), so a copy to the device and back really moves bytes, and
  the engine really runs: it runs the ONNX model with ONNX Runtime on the bytes at the tensor addresses.

What it does NOT prove: that TensorRT builds or runs a given graph, kernels, numerics, timing. Those
need ``scripts/gpu_check.sh`` on a GPU.

Use `install` (a context manager) or the ``fake_trt`` fixture of ``tests/test_trt_fake.py``.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import hashlib
import importlib.machinery
import json
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

VERSION = "10.16.0.72"

# ================================================================================================
# cuda.bindings.runtime
# ================================================================================================


class cudaError_t(enum.IntEnum):  # noqa: N801 (cuda-python's names)
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorMemoryAllocation = 2
    cudaErrorInvalidDevice = 101
    cudaErrorNoDevice = 100


class cudaMemcpyKind(enum.IntEnum):  # noqa: N801
    cudaMemcpyHostToHost = 0
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2
    cudaMemcpyDeviceToDevice = 3


class cudaStream_t:  # noqa: N801
    __slots__ = ("_id",)

    def __init__(self, ident: int) -> None:
        self._id = ident

    def __int__(self) -> int:
        return self._id

    def getPtr(self) -> int:  # noqa: N802
        return self._id


class _DeviceProp:
    __slots__ = ("major", "minor", "name", "totalGlobalMem")

    def __init__(self, name: bytes, major: int, minor: int) -> None:
        self.name, self.major, self.minor, self.totalGlobalMem = name, major, minor, 8 << 30


class FakeCuda:
    """The state behind the fake ``cuda.bindings.runtime``: devices, allocations, streams, calls.

    Attributes:
        devices: ``(name, (major, minor))`` per device.
        device_memory: pointer → (ctypes buffer, device it was allocated on).
        host_memory: pointer → pinned ctypes buffer.
        frees: ``(pointer, allocation device, current device at free time)`` per ``cudaFree``.
        fail: CUDA call name → error code it returns next (once).
        raise_runtime_error: Make every call raise RuntimeError (cuda-python 12.0-12.5 without a driver).
    """

    def __init__(self, devices: int = 1) -> None:
        self.devices = [(f"Fake GPU {i}".encode() + b"\0" * 8, (8, 6)) for i in range(devices)]
        self.device_memory: dict[int, tuple[Any, int]] = {}
        self.host_memory: dict[int, Any] = {}
        self.streams: set[int] = set()
        self.frees: list[tuple[int, int, int]] = []
        self.fail: dict[str, cudaError_t] = {}
        self.raise_runtime_error = False
        self._local = threading.local()
        self._next_stream = 1

    # -- helpers
    @property
    def current(self) -> int:
        return getattr(self._local, "device", 0)

    def _enter(self, name: str) -> cudaError_t:
        if self.raise_runtime_error:
            raise RuntimeError(f'Function "cuGetProcAddress" not found (calling {name})')
        return self.fail.pop(name, cudaError_t.cudaSuccess)

    def _known(self, ptr: int) -> bool:
        return (
            ptr in self.device_memory
            or ptr in self.host_memory
            or any(buf_ptr <= ptr < buf_ptr + ctypes.sizeof(buf) for buf_ptr, (buf, _) in self.device_memory.items())
        )

    def module(self) -> types.ModuleType:
        """The ``cuda.bindings.runtime`` module object."""
        m = types.ModuleType("cuda.bindings.runtime")
        m.cudaError_t = cudaError_t
        m.cudaMemcpyKind = cudaMemcpyKind
        m.cudaStream_t = cudaStream_t
        m.cudaStreamNonBlocking = 1
        for name in (
            "cudaGetErrorName", "cudaGetErrorString", "cudaGetDeviceCount", "cudaSetDevice", "cudaGetDevice",
            "cudaGetDeviceProperties", "cudaMalloc", "cudaFree", "cudaMallocHost", "cudaFreeHost",
            "cudaMemcpyAsync", "cudaStreamCreateWithFlags", "cudaStreamSynchronize", "cudaStreamDestroy",
        ):  # fmt: skip
            setattr(m, name, getattr(self, name))
        return m

    # -- the runtime API (cuda-python signatures: positional, tuple results)
    def cudaGetErrorName(self, error: cudaError_t) -> tuple[cudaError_t, bytes]:  # noqa: N802
        return cudaError_t.cudaSuccess, cudaError_t(error).name.encode()

    def cudaGetErrorString(self, error: cudaError_t) -> tuple[cudaError_t, bytes]:  # noqa: N802
        return cudaError_t.cudaSuccess, f"fake description of {cudaError_t(error).name}".encode()

    def cudaGetDeviceCount(self) -> tuple[cudaError_t, int]:  # noqa: N802
        err = self._enter("cudaGetDeviceCount")
        return (err, 0) if err else (err, len(self.devices))

    def cudaSetDevice(self, device: int) -> tuple[cudaError_t]:  # noqa: N802
        err = self._enter("cudaSetDevice")
        if not err and not 0 <= device < len(self.devices):
            err = cudaError_t.cudaErrorInvalidDevice
        if not err:
            self._local.device = device
        return (err,)

    def cudaGetDevice(self) -> tuple[cudaError_t, int]:  # noqa: N802
        return self._enter("cudaGetDevice"), self.current

    def cudaGetDeviceProperties(self, device: int) -> tuple[cudaError_t, Any]:  # noqa: N802
        err = self._enter("cudaGetDeviceProperties")
        if err or not 0 <= device < len(self.devices):
            return (err or cudaError_t.cudaErrorInvalidDevice, None)
        name, (major, minor) = self.devices[device]
        return cudaError_t.cudaSuccess, _DeviceProp(name, major, minor)

    def cudaMalloc(self, size: int) -> tuple[cudaError_t, int]:  # noqa: N802
        err = self._enter("cudaMalloc")
        if err:
            return err, 0
        buf = (ctypes.c_ubyte * int(size))()
        ptr = ctypes.addressof(buf)
        self.device_memory[ptr] = (buf, self.current)
        return cudaError_t.cudaSuccess, ptr

    def cudaFree(self, devPtr: int) -> tuple[cudaError_t]:  # noqa: N802, N803
        err = self._enter("cudaFree")
        if err:
            return (err,)
        if devPtr not in self.device_memory:
            return (cudaError_t.cudaErrorInvalidValue,)
        _, device = self.device_memory.pop(devPtr)
        self.frees.append((devPtr, device, self.current))
        return (cudaError_t.cudaSuccess,)

    def cudaMallocHost(self, size: int) -> tuple[cudaError_t, int]:  # noqa: N802
        err = self._enter("cudaMallocHost")
        if err:
            return err, 0
        buf = (ctypes.c_ubyte * int(size))()
        self.host_memory[ctypes.addressof(buf)] = buf
        return cudaError_t.cudaSuccess, ctypes.addressof(buf)

    def cudaFreeHost(self, ptr: int) -> tuple[cudaError_t]:  # noqa: N802
        err = self._enter("cudaFreeHost")
        if not err and self.host_memory.pop(ptr, None) is None:
            err = cudaError_t.cudaErrorInvalidValue
        return (err,)

    def cudaMemcpyAsync(self, dst: int, src: int, count: int, kind: cudaMemcpyKind, stream: Any) -> tuple[Any]:  # noqa: N802
        err = self._enter("cudaMemcpyAsync")
        if err:
            return (err,)
        if not isinstance(kind, cudaMemcpyKind) or int(stream) not in self.streams:
            return (cudaError_t.cudaErrorInvalidValue,)
        if not (self._known(dst) and self._known(src)):
            return (cudaError_t.cudaErrorInvalidValue,)
        ctypes.memmove(dst, src, count)
        return (cudaError_t.cudaSuccess,)

    def cudaStreamCreateWithFlags(self, flags: int) -> tuple[cudaError_t, Any]:  # noqa: N802
        err = self._enter("cudaStreamCreateWithFlags")
        if err:
            return err, None
        ident, self._next_stream = self._next_stream, self._next_stream + 1
        self.streams.add(ident)
        return cudaError_t.cudaSuccess, cudaStream_t(ident)

    def cudaStreamSynchronize(self, stream: Any) -> tuple[cudaError_t]:  # noqa: N802
        err = self._enter("cudaStreamSynchronize")
        return (err or (cudaError_t.cudaSuccess if int(stream) in self.streams else cudaError_t.cudaErrorInvalidValue),)

    def cudaStreamDestroy(self, stream: Any) -> tuple[cudaError_t]:  # noqa: N802
        err = self._enter("cudaStreamDestroy")
        if not err:
            self.streams.discard(int(stream))
        return (err,)


# ================================================================================================
# tensorrt
# ================================================================================================
def _enum(name: str, members: list[str]) -> type[enum.IntEnum]:
    return enum.IntEnum(name, [(m, i) for i, m in enumerate(members)])


DataType = _enum("DataType", ["FLOAT", "HALF", "INT8", "INT32", "BOOL", "UINT8", "FP8", "BF16", "INT64", "INT4"])
TensorIOMode = _enum("TensorIOMode", ["NONE", "INPUT", "OUTPUT"])
TensorFormat = _enum("TensorFormat", ["LINEAR", "CHW2", "HWC8", "CHW4", "CHW16", "CHW32", "DHWC8", "HWC"])
MemoryPoolType = _enum("MemoryPoolType", ["WORKSPACE", "DLA_MANAGED_SRAM", "DLA_LOCAL_DRAM", "DLA_GLOBAL_DRAM",
                                          "TACTIC_DRAM", "TACTIC_SHARED_MEMORY"])  # fmt: skip
BuilderFlag = _enum("BuilderFlag", ["FP16", "INT8", "DEBUG", "GPU_FALLBACK", "REFIT", "DISABLE_TIMING_CACHE",
                                    "TF32", "SPARSE_WEIGHTS", "SAFETY_SCOPE", "OBEY_PRECISION_CONSTRAINTS",
                                    "PREFER_PRECISION_CONSTRAINTS", "DIRECT_IO", "REJECT_EMPTY_ALGORITHMS",
                                    "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME", "FP8", "BF16"])  # fmt: skip
NetworkDefinitionCreationFlag = _enum("NetworkDefinitionCreationFlag", ["EXPLICIT_BATCH", "STRONGLY_TYPED"])
CalibrationAlgoType = _enum("CalibrationAlgoType", ["LEGACY_CALIBRATION", "ENTROPY_CALIBRATION",
                                                    "ENTROPY_CALIBRATION_2", "MINMAX_CALIBRATION"])  # fmt: skip

_ONNX_DTYPES = {1: "FLOAT", 10: "HALF", 3: "INT8", 6: "INT32", 7: "INT64", 9: "BOOL", 2: "UINT8"}
_NP = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32, "INT64": np.int64,
       "BOOL": np.bool_, "UINT8": np.uint8}  # fmt: skip
_PLUGIN_OPS = {"EfficientNMS_TRT", "BatchedNMSDynamic_TRT"}


class Dims(tuple):
    """TensorRT's Dims: a sequence of ints (-1 for a dynamic dimension)."""

    __slots__ = ()


class IHostMemory(bytes):
    """TensorRT's IHostMemory: supports the buffer protocol (``memoryview``, ``bytes``), ``nbytes``."""

    __slots__ = ()

    @property
    def nbytes(self) -> int:
        return len(self)

    @property
    def dtype(self) -> Any:
        return DataType.UINT8


class ILogger:
    __slots__ = ("__dict__",)  # subclasses add attributes

    class Severity(enum.IntEnum):
        INTERNAL_ERROR = 0
        ERROR = 1
        WARNING = 2
        INFO = 3
        VERBOSE = 4

    def __init__(self) -> None:
        pass

    def log(self, severity: Any, msg: str) -> None:
        raise NotImplementedError("ILogger.log is pure virtual")


class _State:
    """Process-wide state of the fake library (what tests inspect)."""

    def __init__(self) -> None:
        self.plugins_logger: Any = None
        self.builds: list[dict[str, Any]] = []
        self.executions = 0
        self.fail_execute = False  # make execute_async_v3 log an error and return False


STATE = _State()


def init_libnvinfer_plugins(logger: Any, namespace: str) -> bool:
    if not isinstance(namespace, str):
        raise TypeError("init_libnvinfer_plugins(): incompatible function arguments")
    STATE.plugins_logger = logger
    return True


def _log(logger: Any, severity: Any, msg: str) -> None:
    logger.log(severity, msg)


# ---------------------------------------------------------------------------------------------- network
class ITensor:
    __slots__ = ("_name", "_shape", "_dtype")

    def __init__(self, name: str, shape: tuple[int, ...], dtype: Any) -> None:
        self._name, self._shape, self._dtype = name, Dims(shape), dtype

    @property
    def name(self) -> str:
        return self._name

    @property
    def shape(self) -> Dims:
        return self._shape

    @property
    def dtype(self) -> Any:
        return self._dtype


class INetworkDefinition:
    __slots__ = ("_inputs", "_outputs", "_onnx", "_flags", "_symbolic", "_plugins")

    def __init__(self, flags: int) -> None:
        self._flags = flags
        self._inputs: list[ITensor] = []
        self._outputs: list[ITensor] = []
        self._onnx: str | None = None
        self._symbolic: dict[str, list[str | None]] = {}
        self._plugins: list[str] = []

    @property
    def num_inputs(self) -> int:
        return len(self._inputs)

    @property
    def num_outputs(self) -> int:
        return len(self._outputs)

    @property
    def num_layers(self) -> int:
        return 0 if self._onnx is None else 1

    def get_input(self, index: int) -> ITensor:
        return self._inputs[index]

    def get_output(self, index: int) -> ITensor:
        return self._outputs[index]


class Builder:
    __slots__ = ("_logger",)

    def __init__(self, logger: ILogger) -> None:
        if not isinstance(logger, ILogger):
            raise TypeError("Builder(): incompatible constructor arguments (logger: tensorrt.ILogger)")
        self._logger = logger

    def create_network(self, flags: int = 0) -> INetworkDefinition:
        return INetworkDefinition(int(flags))

    def create_builder_config(self) -> IBuilderConfig:
        return IBuilderConfig()

    def create_optimization_profile(self) -> IOptimizationProfile:
        return IOptimizationProfile()

    @property
    def platform_has_fast_fp16(self) -> bool:
        return True

    @property
    def platform_has_fast_int8(self) -> bool:
        return True

    def build_serialized_network(self, network: INetworkDefinition, config: IBuilderConfig) -> IHostMemory | None:
        if not isinstance(network, INetworkDefinition) or not isinstance(config, IBuilderConfig):
            raise TypeError("build_serialized_network(): incompatible function arguments")
        return _Build(self._logger, network, config).run()


class _Build:
    """What the fake builder does: check the profiles, calibrate, record the timing cache, serialize."""

    def __init__(self, logger: Any, network: INetworkDefinition, config: IBuilderConfig) -> None:
        self.logger, self.network, self.config = logger, network, config

    def error(self, msg: str) -> None:
        _log(self.logger, ILogger.Severity.ERROR, msg)

    def run(self) -> IHostMemory | None:
        net, cfg = self.network, self.config
        if net._onnx is None:
            self.error("Network must have at least one output")
            return None
        profiles = self.profiles()
        if profiles is None:
            return None
        calibration = None
        if BuilderFlag.INT8 in cfg._flags:
            calibration = self.calibrate(profiles)
            if calibration is None:
                return None
        if cfg._timing_cache is not None and BuilderFlag.DISABLE_TIMING_CACHE not in cfg._flags:
            cfg._timing_cache._entries.add(hashlib.sha256(Path(net._onnx).read_bytes()).hexdigest()[:16])
        blob = {
            "magic": "fake-trt-engine",
            "version": VERSION,
            "onnx": net._onnx,
            "inputs": [(t.name, list(t.shape), t.dtype.name) for t in net._inputs],
            "outputs": [(t.name, list(t.shape), t.dtype.name) for t in net._outputs],
            "symbolic": net._symbolic,
            "profiles": {n: [list(s) for s in triple] for n, triple in profiles.items()},
            "flags": sorted(f.name for f in cfg._flags),
            "calibration": calibration,
            "plugins": net._plugins,
        }
        STATE.builds.append(blob)
        return IHostMemory(json.dumps(blob).encode())

    def profiles(self) -> dict[str, tuple[tuple[int, ...], ...]] | None:
        net, cfg = self.network, self.config
        dynamic = [t for t in net._inputs if any(d < 0 for d in t.shape)]
        if not dynamic:
            return {t.name: (tuple(t.shape),) * 3 for t in net._inputs}
        if not cfg._profiles:
            self.error(f"Network has dynamic or shape inputs, but no optimization profile has been defined "
                       f"({dynamic[0].name}).")  # fmt: skip
            return None
        profile = cfg._profiles[0]
        out = {}
        for t in net._inputs:
            triple = profile._shapes.get(t.name)
            if triple is None:
                if t in dynamic:
                    self.error(f"{t.name}: dynamic input is missing dimensions in profile 0.")
                    return None
                triple = (tuple(t.shape),) * 3
            for lo, opt, hi, d in zip(*triple, t.shape, strict=True):
                if not lo <= opt <= hi or (d >= 0 and not lo == hi == d):
                    self.error(f"{t.name}: profile {triple} does not match the network input {tuple(t.shape)}")
                    return None
            out[t.name] = triple
        return out

    def calibrate(self, profiles: dict[str, Any]) -> dict[str, Any] | None:
        net, cfg = self.network, self.config
        calibrator = cfg._calibrator
        if calibrator is None:
            self.error("INT8 requested but no calibrator and no dynamic ranges set")
            return None
        dynamic = any(any(d < 0 for d in t.shape) for t in net._inputs)
        if dynamic and cfg._calibration_profile is None:
            self.error("Calibration profile must be set when the network has dynamic inputs")
            return None
        shapes = cfg._calibration_profile._shapes if dynamic else profiles
        cache = calibrator.read_calibration_cache()
        if cache is not None:
            text = bytes(memoryview(cache)).decode(errors="replace")
            if not text.startswith("TRT-"):
                self.error("Calibration cache is invalid")
                return None
            return {"from_cache": True, "amax": float(text.split("amax=")[1].split()[0]), "batches": 0}
        names = [t.name for t in net._inputs]
        batch_size = calibrator.get_batch_size()
        amax, batches = 0.0, 0
        shape = tuple(shapes[names[0]][1])
        while True:
            try:
                ptrs = calibrator.get_batch(names)
            except Exception as e:  # the binding prints and takes it as "no more batches"
                print(f"[fake tensorrt] get_batch raised {e!r}", file=sys.stderr)
                ptrs = None
            if not ptrs:
                break
            if len(ptrs) != len(names) or shape[0] != batch_size:
                self.error(f"get_batch returned {ptrs!r} for {names}")
                return None
            count = int(np.prod(shape))
            data = np.frombuffer((ctypes.c_float * count).from_address(int(ptrs[0])), np.float32, count)
            amax = max(amax, float(np.abs(data).max()))
            batches += 1
        if batches == 0:
            self.error("Calibration failure occurred with no scaling factors detected.")
            return None
        calibrator.write_calibration_cache(memoryview(f"TRT-10160-EntropyCalibration2\namax={amax!r}\n".encode()))
        return {"from_cache": False, "amax": amax, "batches": batches}


class IOptimizationProfile:
    __slots__ = ("_shapes",)

    def __init__(self) -> None:
        self._shapes: dict[str, tuple[tuple[int, ...], ...]] = {}

    def set_shape(self, input: str, min: Any, opt: Any, max: Any) -> None:  # noqa: A002 (binding names)
        self._shapes[str(input)] = (tuple(int(d) for d in min), tuple(int(d) for d in opt),
                                    tuple(int(d) for d in max))  # fmt: skip

    def get_shape(self, input: str) -> list[Dims]:  # noqa: A002
        return [Dims(s) for s in self._shapes.get(input, ())]


class ITimingCache:
    __slots__ = ("_entries", "_version")

    def __init__(self, entries: set[str], version: str) -> None:
        self._entries, self._version = set(entries), version

    def serialize(self) -> IHostMemory:
        return IHostMemory(b"FAKETC\n" + json.dumps({"trt": self._version, "entries": sorted(self._entries)}).encode())

    def combine(self, input_cache: ITimingCache, ignore_mismatch: bool) -> bool:
        if not isinstance(input_cache, ITimingCache):
            raise TypeError("combine(): incompatible function arguments")
        if input_cache._version != self._version and not ignore_mismatch:
            return False
        self._entries |= input_cache._entries
        return True

    def reset(self) -> bool:
        self._entries.clear()
        return True


class IBuilderConfig:
    __slots__ = ("_flags", "_pools", "_profiles", "_calibrator", "_calibration_profile", "_timing_cache")

    def __init__(self) -> None:
        self._flags = {BuilderFlag.TF32}  # on by default, as on Ampere+
        self._pools: dict[Any, int] = {}
        self._profiles: list[IOptimizationProfile] = []
        self._calibrator: Any = None
        self._calibration_profile: IOptimizationProfile | None = None
        self._timing_cache: ITimingCache | None = None

    def set_memory_pool_limit(self, pool: Any, pool_size: int) -> None:
        if not isinstance(pool, MemoryPoolType) or not isinstance(pool_size, int):
            raise TypeError("set_memory_pool_limit(): incompatible function arguments")
        self._pools[pool] = pool_size

    def get_memory_pool_limit(self, pool: Any) -> int:
        return self._pools.get(pool, 8 << 30)

    def add_optimization_profile(self, profile: IOptimizationProfile) -> int:
        self._profiles.append(profile)
        return len(self._profiles) - 1

    @property
    def num_optimization_profiles(self) -> int:
        return len(self._profiles)

    def set_flag(self, flag: Any) -> None:
        if not isinstance(flag, BuilderFlag):
            raise TypeError("set_flag(): incompatible function arguments")
        self._flags.add(flag)

    def clear_flag(self, flag: Any) -> None:
        if not isinstance(flag, BuilderFlag):
            raise TypeError("clear_flag(): incompatible function arguments")
        self._flags.discard(flag)

    def get_flag(self, flag: Any) -> bool:
        return flag in self._flags

    @property
    def int8_calibrator(self) -> Any:
        return self._calibrator

    @int8_calibrator.setter
    def int8_calibrator(self, calibrator: Any) -> None:
        if calibrator is not None and not isinstance(calibrator, IInt8Calibrator):
            raise TypeError("int8_calibrator: expected a tensorrt.IInt8Calibrator")
        self._calibrator = calibrator

    def set_calibration_profile(self, profile: IOptimizationProfile) -> bool:
        self._calibration_profile = profile
        return True

    def get_calibration_profile(self) -> IOptimizationProfile | None:
        return self._calibration_profile

    def create_timing_cache(self, serialized_timing_cache: Any) -> ITimingCache | None:
        data = bytes(memoryview(serialized_timing_cache))
        if not data:
            return ITimingCache(set(), VERSION)
        if not data.startswith(b"FAKETC\n"):
            return None  # TensorRT logs an error and returns nullptr for a blob it cannot read
        blob = json.loads(data[len(b"FAKETC\n") :])
        return ITimingCache(set(blob["entries"]), blob["trt"])

    def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool:
        if not isinstance(cache, ITimingCache) or not isinstance(ignore_mismatch, bool):
            raise TypeError("set_timing_cache(): incompatible function arguments")
        if cache._version != VERSION and not ignore_mismatch:
            return False
        self._timing_cache = cache
        return True

    def get_timing_cache(self) -> ITimingCache | None:
        return self._timing_cache


# ---------------------------------------------------------------------------------------------- parser
class ParserError:
    __slots__ = ("_node", "_op", "_name", "_desc")

    def __init__(self, node: int, op: str, name: str, desc: str) -> None:
        self._node, self._op, self._name, self._desc = node, op, name, desc

    def code(self) -> int:
        return 8  # ErrorCode.kUNSUPPORTED_NODE

    def desc(self) -> str:
        return self._desc

    def file(self) -> str:
        return "ModelImporter.cpp"

    def func(self) -> str:
        return "parseGraph"

    def line(self) -> int:
        return 0

    def node(self) -> int:
        return self._node

    def node_name(self) -> str:
        return self._name

    def node_operator(self) -> str:
        return self._op


class OnnxParser:
    __slots__ = ("_network", "_logger", "_errors")

    def __init__(self, network: INetworkDefinition, logger: ILogger) -> None:
        if not isinstance(network, INetworkDefinition) or not isinstance(logger, ILogger):
            raise TypeError("OnnxParser(): incompatible constructor arguments")
        self._network, self._logger, self._errors = network, logger, []

    @property
    def num_errors(self) -> int:
        return len(self._errors)

    def get_error(self, index: int) -> ParserError:
        return self._errors[index]

    def clear_errors(self) -> None:
        self._errors.clear()

    def parse(self, model: bytes, path: str | None = None) -> bool:
        raise NotImplementedError("the fake parses files only (parse_from_file), as lite does")

    def parse_from_file(self, model: str) -> bool:
        import onnx

        if not isinstance(model, str):
            raise TypeError("parse_from_file(): incompatible function arguments (model: str)")
        graph = onnx.load(model, load_external_data=False).graph
        net = self._network
        for i, node in enumerate(graph.node):
            if node.op_type in _PLUGIN_OPS or node.domain == "TRT":
                if STATE.plugins_logger is None:
                    self._errors.append(ParserError(i, node.op_type, node.name,
                                                    f"Plugin not found, are the plugin name, version, and "
                                                    f"namespace correct? ({node.op_type})"))  # fmt: skip
                    return False
                net._plugins.append(node.op_type)
        init = {t.name for t in graph.initializer}
        for vi, target in ((graph.input, net._inputs), (graph.output, net._outputs)):
            for v in vi:
                if v.name in init:
                    continue
                tt = v.type.tensor_type
                dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
                net._symbolic[v.name] = [d.dim_param if d.HasField("dim_param") else None for d in tt.shape.dim]
                target.append(ITensor(v.name, tuple(dims), DataType[_ONNX_DTYPES[tt.elem_type]]))
        net._onnx = str(Path(model).resolve())
        return True


# ---------------------------------------------------------------------------------------------- runtime
class IOutputAllocator:
    __slots__ = ("__dict__",)

    def __init__(self) -> None:
        pass


class IInt8Calibrator:
    __slots__ = ("__dict__",)

    def __init__(self) -> None:
        pass

    def get_algorithm(self) -> Any:
        return CalibrationAlgoType.ENTROPY_CALIBRATION_2


class IInt8EntropyCalibrator2(IInt8Calibrator):
    __slots__ = ()


class Runtime:
    __slots__ = ("_logger",)

    def __init__(self, logger: ILogger) -> None:
        if not isinstance(logger, ILogger):
            raise TypeError("Runtime(): incompatible constructor arguments")
        self._logger = logger

    def deserialize_cuda_engine(self, serialized_engine: Any) -> ICudaEngine | None:
        try:
            blob = json.loads(bytes(memoryview(serialized_engine)))
            ok = blob.get("magic") == "fake-trt-engine"
        except (ValueError, UnicodeDecodeError, AttributeError):
            ok = False
        if not ok:
            _log(self._logger, ILogger.Severity.ERROR, "IRuntime::deserializeCudaEngine: Error Code 1: "
                 "Serialization (Serialization assertion magicTagRead == kMAGIC_TAG failed.Magic tag does not "
                 "match)")  # fmt: skip
            return None
        if blob["version"] != VERSION:
            _log(self._logger, ILogger.Severity.ERROR, f"The engine plan file is not compatible with this version "
                 f"of TensorRT, expecting library version {VERSION} got {blob['version']}")  # fmt: skip
            return None
        if blob["plugins"] and STATE.plugins_logger is None:
            _log(self._logger, ILogger.Severity.ERROR, f"getPluginCreator could not find plugin {blob['plugins'][0]}")
            return None
        return ICudaEngine(blob, self._logger)


class ICudaEngine:
    __slots__ = ("_blob", "_logger", "_io")

    def __init__(self, blob: dict[str, Any], logger: Any) -> None:
        self._blob, self._logger = blob, logger
        self._io = [(n, s, d, TensorIOMode.INPUT) for n, s, d in blob["inputs"]] + [
            (n, s, d, TensorIOMode.OUTPUT) for n, s, d in blob["outputs"]
        ]

    def _get(self, name: str) -> tuple[str, list[int], str, Any]:
        for item in self._io:
            if item[0] == name:
                return item
        raise KeyError(name)

    @property
    def num_io_tensors(self) -> int:
        return len(self._io)

    @property
    def num_optimization_profiles(self) -> int:
        return 1

    def get_tensor_name(self, index: int) -> str:
        return self._io[index][0]

    def get_tensor_mode(self, name: str) -> Any:
        return self._get(name)[3]

    def get_tensor_dtype(self, name: str) -> Any:
        return DataType[self._get(name)[2]]

    def get_tensor_shape(self, name: str) -> Dims:
        return Dims(self._get(name)[1])

    def get_tensor_format(self, name: str) -> Any:
        self._get(name)
        return TensorFormat.LINEAR

    def get_tensor_profile_shape(self, name: str, profile_index: int) -> list[Dims]:
        if profile_index != 0 or name not in self._blob["profiles"]:
            _log(self._logger, ILogger.Severity.ERROR, f"get_tensor_profile_shape: no profile for {name!r}")
            return []
        return [Dims(s) for s in self._blob["profiles"][name]]

    def create_execution_context(self, strategy: Any = None) -> IExecutionContext:
        return IExecutionContext(self)


class IExecutionContext:
    __slots__ = ("_engine", "_shapes", "_addresses", "_allocators", "_session", "_shape_cache")

    def __init__(self, engine: ICudaEngine) -> None:
        self._engine = engine
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._addresses: dict[str, int] = {}
        self._allocators: dict[str, IOutputAllocator] = {}
        self._session: Any = None
        self._shape_cache: dict[Any, dict[str, tuple[int, ...]]] = {}

    @property
    def engine(self) -> ICudaEngine:
        return self._engine

    def _error(self, msg: str) -> None:
        _log(self._engine._logger, ILogger.Severity.ERROR, msg)

    def set_input_shape(self, name: str, shape: Any) -> bool:
        lo, _, hi = self._engine._blob["profiles"].get(name, (None, None, None))
        shape = tuple(int(d) for d in shape)
        if lo is None or len(shape) != len(lo) or not all(a <= d <= b for d, a, b in zip(shape, lo, hi, strict=True)):
            self._error(f"IExecutionContext::setInputShape: Error Code 3: API Usage Error ({name}: {shape} is "
                        f"outside the profile {lo}..{hi})")  # fmt: skip
            return False
        self._shapes[name] = shape
        return True

    def _run_onnx(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        import onnxruntime as ort

        if self._session is None:
            self._session = ort.InferenceSession(self._engine._blob["onnx"], providers=["CPUExecutionProvider"])
        return self._session.run(None, feed)

    def get_tensor_shape(self, name: str) -> Dims:
        blob = self._engine._blob
        for n, s, _ in blob["inputs"]:
            if n == name:
                return Dims(self._shapes.get(name, s))
        inputs = {n: self._shapes.get(n) for n, _, _ in blob["inputs"]}
        if any(v is None for v in inputs.values()):
            return Dims(next(s for n, s, _ in blob["outputs"] if n == name))
        key = tuple(inputs.items())
        if key not in self._shape_cache:  # TensorRT's shape inference, by running the model on zeros
            feed = {n: np.zeros(v, _NP[d]) for (n, _, d), v in zip(blob["inputs"], inputs.values(), strict=True)}
            outs = self._run_onnx(feed)
            self._shape_cache[key] = {n: o.shape for (n, _, _), o in zip(blob["outputs"], outs, strict=True)}
        shape = list(self._shape_cache[key][name])
        input_dims = {p for n, _, _ in blob["inputs"] for p in blob["symbolic"][n] if p}
        for axis, param in enumerate(blob["symbolic"][name]):
            if param and param not in input_dims:
                shape[axis] = -1  # data-dependent
        return Dims(shape)

    def set_tensor_address(self, name: str, memory: int) -> bool:
        if not isinstance(memory, int):
            raise TypeError("set_tensor_address(): incompatible function arguments (memory: int)")
        self._addresses[name] = memory
        return True

    def get_tensor_address(self, name: str) -> int:
        return self._addresses.get(name, 0)

    def set_output_allocator(self, name: str, output_allocator: IOutputAllocator) -> bool:
        if not isinstance(output_allocator, IOutputAllocator):
            raise TypeError("set_output_allocator(): incompatible function arguments")
        self._allocators[name] = output_allocator
        return True

    def get_output_allocator(self, name: str) -> IOutputAllocator | None:
        return self._allocators.get(name)

    def execute_async_v3(self, stream_handle: int) -> bool:
        if not isinstance(stream_handle, int):
            raise TypeError("execute_async_v3(): incompatible function arguments (stream_handle: int)")
        blob = self._engine._blob
        if STATE.fail_execute:
            self._error("IExecutionContext::enqueueV3: Error Code 1: Cuda Runtime (an illegal memory access)")
            return False
        if blob["plugins"]:
            self._error("the fake cannot run TensorRT plugins")
            return False
        feed = {}
        for n, _, d in blob["inputs"]:
            if n not in self._shapes or not self._addresses.get(n):
                self._error(f"IExecutionContext::enqueueV3: Error Code 3: input {n!r} has no shape or address")
                return False
            shape, dtype = self._shapes[n], np.dtype(_NP[d])
            count = int(np.prod(shape))
            raw = (ctypes.c_ubyte * (count * dtype.itemsize)).from_address(self._addresses[n])
            feed[n] = np.frombuffer(raw, dtype, count).reshape(shape).copy()
        outs = self._run_onnx(feed)
        for (n, _, d), out in zip(blob["outputs"], outs, strict=True):
            out = np.ascontiguousarray(out.astype(_NP[d], copy=False))
            allocator = self._allocators.get(n)
            if allocator is not None:
                ptr = allocator.reallocate_output_async(n, 0, out.nbytes, 256, stream_handle)
                if not ptr:
                    self._error(f"IOutputAllocator returned nullptr for {n!r}")
                    return False
                allocator.notify_shape(n, Dims(out.shape))
            else:
                ptr = self._addresses.get(n, 0)
                if not ptr:
                    self._error(f"IExecutionContext::enqueueV3: Error Code 3: output {n!r} has no address")
                    return False
            ctypes.memmove(ptr, out.ctypes.data, out.nbytes)
        STATE.executions += 1
        return True


# ================================================================================================
# installing both
# ================================================================================================
def _module(name: str, attrs: dict[str, Any], package: bool = False) -> types.ModuleType:
    m = types.ModuleType(name)
    m.__fake__ = True  # tests check that no fake outlives its `install` block
    m.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=package)
    if package:
        m.__path__ = []
    for k, v in attrs.items():
        setattr(m, k, v)
    return m


def tensorrt_module() -> types.ModuleType:
    """A fresh fake ``tensorrt`` module."""
    names = [
        "DataType", "TensorIOMode", "TensorFormat", "MemoryPoolType", "BuilderFlag", "NetworkDefinitionCreationFlag",
        "CalibrationAlgoType", "Dims", "IHostMemory", "ILogger", "init_libnvinfer_plugins", "ITensor",
        "INetworkDefinition", "Builder", "IOptimizationProfile", "ITimingCache", "IBuilderConfig", "ParserError",
        "OnnxParser", "IOutputAllocator", "IInt8Calibrator", "IInt8EntropyCalibrator2", "Runtime", "ICudaEngine",
        "IExecutionContext",
    ]  # fmt: skip
    g = globals()
    return _module("tensorrt", {"__version__": VERSION, **{n: g[n] for n in names}})


@contextlib.contextmanager
def install(devices: int = 1) -> Iterator[FakeCuda]:
    """Put the fake ``tensorrt`` and ``cuda.bindings.runtime`` in ``sys.modules``; restore afterwards.

    Also resets lite's process-wide TensorRT state (logger, plugin registration) around the block.

    Yields:
        The `FakeCuda` behind the runtime module (devices, allocations, frees, injected failures).
    """
    from lite.backends import _trt_runtime

    cuda = FakeCuda(devices)
    runtime = cuda.module()
    runtime.__fake__ = True
    runtime.__spec__ = importlib.machinery.ModuleSpec("cuda.bindings.runtime", None)
    modules = {
        "tensorrt": tensorrt_module(),
        "cuda": _module("cuda", {}, package=True),
        "cuda.bindings": _module("cuda.bindings", {"runtime": runtime}, package=True),
        "cuda.bindings.runtime": runtime,
    }
    modules["cuda"].bindings = modules["cuda.bindings"]
    saved = {k: sys.modules.get(k) for k in [*modules, "cuda.cudart"]}
    state = (_trt_runtime._LOGGER, _trt_runtime._PLUGINS_READY)
    global STATE
    STATE = _State()
    sys.modules.update(modules)
    sys.modules.pop("cuda.cudart", None)
    _trt_runtime._LOGGER, _trt_runtime._PLUGINS_READY = None, False
    try:
        yield cuda
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
        _trt_runtime._LOGGER, _trt_runtime._PLUGINS_READY = state
