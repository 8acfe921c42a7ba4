"""Building TensorRT engines from ONNX (the backend side): profiles, INT8 calibration, stages of a build.

`build_engine_file` is the builder both [`lite.backends.trt.TrtBackend`][lite.backends.trt.TrtBackend] (when it opens
an ``.onnx``) and the converter [`lite.convert.trt.build_engine`][lite.convert.trt.build_engine] use. It avoids the
classic pitfalls of the PyTorch → ONNX → TensorRT path:

* **Parse errors are never ignored.** The ONNX file is parsed once; a failed parse raises
  [`ConversionError`][lite.errors.ConversionError] listing every parser error with its node and message.
* **Explicit batch only** (the only mode of TensorRT 10): shapes come from the ONNX inputs.
* **Optimisation profiles are derived, not guessed.** `compute_profiles` keeps every fixed
  dimension of the ONNX input, maps a symbolic batch to ``batch=(min, opt, max)`` and symbolic
  H/W to ``input_hw``; asking for a batch or size the ONNX fixes otherwise is an error.
* **INT8 calibration sees exactly what inference sees**: `CalibrationBatches` letterboxes
  a folder of images with lite's own [`Letterbox`][lite.ops.letterbox.Letterbox] at the engine's
  input shape; the calibration cache is reused when present. An exception while reading a batch
  is kept (TensorRT would swallow it and calibrate on fewer images) and re-raised after the build.
* **FP32 parity**: ``tf32=False`` clears ``BuilderFlag.TF32`` (on by default on Ampere and newer).
* **The timing cache is merged, not overwritten**, under a file lock.
* **No silent failure**: ``build_serialized_network`` returning None is a ConversionError that
  carries TensorRT's own error messages. Outputs are written atomically.

The pure-Python parts (profiles, calibration batches and feed, precision names, cache keys)
import nothing heavy and are tested without TensorRT.

TensorRT 11 removed the weakly typed precision flags (``BuilderFlag.FP16``/``INT8``) and the
INT8 calibrator API: with TensorRT 11, ``fp16``/``int8`` raise a ConversionError that says so
(build from an FP16 / Q-DQ ONNX, or install ``tensorrt<11``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lite.backends._trt_cache import atomic_write_bytes, cache_key, file_sha256, files_digest, update_file_locked
from lite.backends._trt_runtime import (
    Dim,
    import_tensorrt,
    init_plugins,
    network_inputs,
    onnx_external_data,
    onnx_inputs,
    parse_onnx,
    recent_errors,
)
from lite.errors import ConversionError, InputError, ModelNotFoundError
from lite.io import IMAGE_SUFFIXES  # the one list of image suffixes

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_HW_PROFILE",
    "IMAGE_SUFFIXES",
    "BuildOptions",
    "CalibrationBatches",
    "CalibrationFeed",
    "ProfileShape",
    "build_engine_file",
    "calibration_digest",
    "compute_profiles",
    "engine_cache_key",
    "list_images",
    "normalize_batch",
    "normalize_hw",
    "precision_name",
]

log = logging.getLogger("lite.trt")

DEFAULT_BATCH: tuple[int, int, int] = (1, 1, 8)
"""``(min, opt, max)`` batch for an ONNX input with a symbolic batch when ``batch`` is not given."""

DEFAULT_HW_PROFILE: tuple[tuple[int, int], tuple[int, int], tuple[int, int]] = ((64, 64), (640, 640), (640, 640))
"""``(min, opt, max)`` ``(H, W)`` for an ONNX input with symbolic H, W when ``input_hw`` is not given:
anything from 64×64 up to 640×640 (YOLOv6's default size, and every rectangular letterbox of it)."""


HW = tuple[int, int]


# ----------------------------------------------------------------------------------------------
# profiles (pure Python)
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProfileShape:
    """The shape range of one engine input: what ``profile.set_shape(name, min, opt, max)`` takes."""

    name: str
    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]

    @property
    def is_static(self) -> bool:
        """True when min, opt and max are one shape (no profile needed for this input)."""
        return self.min == self.opt == self.max

    def contains(self, shape: Sequence[int]) -> bool:
        """Whether a concrete shape lies within ``[min, max]`` on every axis."""
        return len(shape) == len(self.min) and all(
            lo <= int(d) <= hi for d, lo, hi in zip(shape, self.min, self.max, strict=True)
        )

    def __str__(self) -> str:
        if self.is_static:
            return f"{self.name}: {_fmt(self.opt)}"
        return f"{self.name}: min {_fmt(self.min)}, opt {_fmt(self.opt)}, max {_fmt(self.max)}"


def _fmt(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape)


def _is_fixed(d: Any) -> bool:
    return isinstance(d, int | np.integer) and not isinstance(d, bool) and int(d) > 0


def normalize_batch(batch: int | str | Sequence[int] | None) -> tuple[int, int, int] | None:
    """``batch`` as ``(min, opt, max)``.

    Accepts None, one int (a fixed batch), ``"1,4,8"`` / ``"8"``, or a sequence of 1 or 3 ints.

    Raises:
        InputError: Not positive integers with ``min <= opt <= max``.
    """
    if batch is None:
        return None
    raw: Sequence[Any]
    if isinstance(batch, str):
        raw = [p.strip() for p in batch.replace("x", ",").split(",") if p.strip()]
    elif isinstance(batch, int | np.integer):
        raw = [batch]
    else:
        raw = list(batch)
    try:
        vals = [int(v) for v in raw]
    except (TypeError, ValueError) as e:
        raise InputError(f"batch: expected an int or 'min,opt,max' of ints, got {batch!r}") from e
    if len(vals) == 1:
        vals = vals * 3
    if len(vals) != 3 or min(vals) < 1 or not vals[0] <= vals[1] <= vals[2]:
        raise InputError(f"batch: expected positive (min, opt, max) with min <= opt <= max, got {batch!r}")
    return (vals[0], vals[1], vals[2])


def normalize_hw(input_hw: Any) -> tuple[HW, HW, HW] | None:
    """``input_hw`` as ``((h, w) min, (h, w) opt, (h, w) max)``.

    Accepts None, one int (square, fixed), ``(h, w)`` (fixed), or three ``(h, w)`` pairs
    (a dynamic H/W profile).

    Raises:
        InputError: Anything else, non-positive sizes, or min > opt > max.
    """
    if input_hw is None:
        return None
    try:
        if isinstance(input_hw, int | np.integer):
            hw = (int(input_hw), int(input_hw))
            triple = (hw, hw, hw)
        elif len(input_hw) == 2 and all(isinstance(v, int | np.integer) for v in input_hw):
            hw = (int(input_hw[0]), int(input_hw[1]))
            triple = (hw, hw, hw)
        elif len(input_hw) == 3:
            pairs = []
            for p in input_hw:
                p = (int(p), int(p)) if isinstance(p, int | np.integer) else (int(p[0]), int(p[1]))
                pairs.append(p)
            triple = (pairs[0], pairs[1], pairs[2])
        else:
            raise ValueError
    except (TypeError, ValueError, IndexError) as e:
        raise InputError(
            f"input_hw: expected an int, (h, w), or ((h, w) min, (h, w) opt, (h, w) max); got {input_hw!r}"
        ) from e
    lo, opt, hi = triple
    if min(*lo, *opt, *hi) < 1 or not all(lo[i] <= opt[i] <= hi[i] for i in range(2)):
        raise InputError(f"input_hw: expected positive sizes with min <= opt <= max per axis, got {input_hw!r}")
    return triple


def compute_profiles(
    inputs: Sequence[tuple[str, Sequence[Dim]]],
    *,
    batch: int | str | Sequence[int] | None = None,
    input_hw: Any = None,
) -> list[ProfileShape]:
    """Derive each input's ``(min, opt, max)`` shape from its ONNX shape.

    Fixed dimensions stay. A symbolic batch (axis 0) gets ``batch`` (default
    `DEFAULT_BATCH`); symbolic H and W of an NCHW input (axes 2, 3) get ``input_hw``
    (default `DEFAULT_HW_PROFILE`). A dimension is symbolic when it is a name (``"batch"``),
    None, or ≤ 0 (TensorRT's -1).

    Args:
        inputs: ``(name, shape)`` per network input, in order.
        batch: ``(min, opt, max)`` batch, one int, or ``"1,4,8"`` (see `normalize_batch`).
        input_hw: Image size: int, ``(h, w)``, or three ``(h, w)`` for a dynamic range.

    Returns:
        One `ProfileShape` per input.

    Raises:
        InputError: ``batch``/``input_hw`` asks for a size a fixed ONNX dimension contradicts, or
            an input has a symbolic dimension lite cannot derive (not batch, H or W).
    """
    b = normalize_batch(batch)
    hw = normalize_hw(input_hw)
    profiles = []
    for name, shape in inputs:
        shape = list(shape)
        lo, opt, hi = [], [], []
        for axis, d in enumerate(shape):
            if _is_fixed(d):
                d = int(d)
                if axis == 0 and b is not None and (b[0], b[2]) != (d, d):
                    raise InputError(
                        f"batch={b}: the ONNX input {name!r} has a fixed batch of {d} (shape {_shape_str(shape)}); "
                        f"re-export it with a dynamic batch axis, or leave batch unset"
                    )
                if len(shape) == 4 and axis in (2, 3) and hw is not None:
                    want = {hw[0][axis - 2], hw[2][axis - 2]}
                    if want != {d}:
                        raise InputError(
                            f"input_hw={input_hw!r}: the ONNX input {name!r} has a fixed "
                            f"{'height' if axis == 2 else 'width'} of {d} (shape {_shape_str(shape)}); re-export "
                            f"it with dynamic H/W or at that size, or leave input_hw unset"
                        )
                lo.append(d)
                opt.append(d)
                hi.append(d)
            elif axis == 0:
                bb = b or DEFAULT_BATCH
                lo.append(bb[0])
                opt.append(bb[1])
                hi.append(bb[2])
            elif len(shape) == 4 and axis in (2, 3):
                tri = hw or DEFAULT_HW_PROFILE
                lo.append(tri[0][axis - 2])
                opt.append(tri[1][axis - 2])
                hi.append(tri[2][axis - 2])
            else:
                raise InputError(
                    f"the ONNX input {name!r} has a symbolic dimension {d!r} at axis {axis} "
                    f"(shape {_shape_str(shape)}); lite derives profiles only for the batch (axis 0) and the "
                    f"H, W (axes 2, 3) of NCHW inputs; re-export it with that axis fixed"
                )
        profiles.append(ProfileShape(str(name), tuple(lo), tuple(opt), tuple(hi)))
    return profiles


def _shape_str(shape: Sequence[Dim]) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def precision_name(fp16: bool, int8: bool) -> str:
    """The precision tag used in cache keys and messages: fp32, fp16, int8, int8+fp16."""
    if int8:
        return "int8+fp16" if fp16 else "int8"
    return "fp16" if fp16 else "fp32"


# ----------------------------------------------------------------------------------------------
# calibration data (pure Python)
# ----------------------------------------------------------------------------------------------
def list_images(folder: str | Path, limit: int | None = None) -> list[Path]:
    """Image files in ``folder`` (not recursive), sorted by name, at most ``limit``.

    Raises:
        InputError: The folder does not exist or holds no image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"calibration images: {folder} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"calibration images: no {'/'.join(IMAGE_SUFFIXES)} files in {folder}")
    return files[:limit] if limit else files


class CalibrationBatches:
    """Letterboxed calibration batches of the engine's input shape, from image files.

    Each batch is ``letterbox.batch(images)`` of lite's own [`Letterbox`][lite.ops.letterbox.Letterbox]
    at the input's ``(H, W)``: ``(B, 3, H, W)`` float32 RGB in [0, 1], exactly what inference
    feeds the engine. A last batch with fewer than ``B`` images is dropped (a calibration batch
    must have the profile's shape).

    Args:
        images: Image files (or a folder, see `list_images`).
        input_shape: The engine input's ``(B, 3, H, W)`` (the calibration profile's opt shape).
        limit: Use at most this many images.

    Raises:
        InputError: A shape that is not ``(B, 3, H, W)``, or fewer images than one batch.
    """

    def __init__(self, images: str | Path | Sequence[str | Path], input_shape: Sequence[int], limit: int | None = None):
        from lite.ops.letterbox import Letterbox

        shape = tuple(int(d) for d in input_shape)
        if len(shape) != 4 or shape[1] != 3 or min(shape) < 1:
            raise InputError(f"calibration needs an NCHW 3-channel input shape, got {shape}")
        self.shape = shape
        self.batch_size = shape[0]
        if isinstance(images, str | Path):
            paths = list_images(images, limit)
        else:
            paths = [Path(p) for p in images][:limit] if limit else [Path(p) for p in images]
        if len(paths) < self.batch_size:
            raise InputError(f"calibration needs at least one batch of {self.batch_size} images, got {len(paths)}")
        self.paths = paths
        self.letterbox = Letterbox((shape[2], shape[3]))

    def __len__(self) -> int:
        """Number of full batches."""
        return len(self.paths) // self.batch_size

    def __iter__(self) -> Iterator[np.ndarray]:
        from lite.io import load_image

        for i in range(len(self)):
            chunk = self.paths[i * self.batch_size : (i + 1) * self.batch_size]
            tensor, _ = self.letterbox.batch([load_image(p) for p in chunk], dst_shape=self.shape[2:])
            yield np.ascontiguousarray(tensor, dtype=np.float32)

    @property
    def nbytes(self) -> int:
        """Bytes of one batch."""
        return int(np.prod(self.shape)) * 4

    def digest(self) -> str:
        """A short digest of the calibration set (file names and contents), for cache keys."""
        return calibration_digest(self.paths)


class _NoBatches(CalibrationBatches):
    """Calibration from an existing cache only: the shape, but no images."""

    def __init__(self, input_shape: Sequence[int]) -> None:
        self.shape = tuple(int(d) for d in input_shape)
        self.batch_size = self.shape[0]
        self.paths: list[Path] = []

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(())


def calibration_digest(calib_images: str | Path | Sequence[str | Path]) -> str:
    """A short digest of a calibration image set: file names and contents (for cache keys)."""
    paths = list_images(calib_images) if isinstance(calib_images, str | Path) else [Path(p) for p in calib_images]
    return files_digest(paths)[:16]


class CalibrationFeed:
    """The Python side of the INT8 calibrator: one batch per ``get_batch`` call, errors kept.

    TensorRT's binding catches any exception raised in ``get_batch``, prints it and takes it as
    "no more batches": calibration would silently use fewer images, or the build would fail
    without its cause. The feed catches the exception itself, remembers it in `error`,
    answers None (end of data) from then on, and `raise_error` re-raises it once the build
    has returned.

    Args:
        batches: Iterable of ``(B, 3, H, W)`` float32 arrays.
        upload: Copies one batch to the device and returns its device pointer.
    """

    def __init__(self, batches: Iterable[np.ndarray], upload: Callable[[np.ndarray], int]) -> None:
        self._batches = iter(batches)
        self._upload = upload
        self.count = 0
        self.error: BaseException | None = None

    def get_batch(self, names: Sequence[str]) -> list[int] | None:
        """Device pointers of the next batch, one per input name, or None (no more data, or an error)."""
        if self.error is not None:
            return None
        try:
            batch = next(self._batches)
            ptr = self._upload(batch)
        except StopIteration:
            return None
        except BaseException as e:  # kept for raise_error: TensorRT would swallow it
            self.error = e
            log.error("INT8 calibration failed on batch %d: %s: %s", self.count + 1, type(e).__name__, e)
            return None
        self.count += 1
        return [int(ptr) for _ in names]

    def guard(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call ``fn`` (a cache read/write callback), keeping any exception like `get_batch` does."""
        try:
            return fn(*args)
        except BaseException as e:  # kept for raise_error: TensorRT would swallow it
            if self.error is None:
                self.error = e
            return None

    def raise_error(self) -> None:
        """Re-raise the exception a callback raised, if any (call after the build)."""
        if self.error is not None:
            err, self.error = self.error, None
            raise err


def make_calibrator(trt: Any, batches: CalibrationBatches, cache_path: Path | None) -> Any:
    """An ``IInt8EntropyCalibrator2`` fed by ``batches`` through one device buffer.

    The calibration cache is read from ``cache_path`` when it exists (TensorRT then skips the
    images) and written there atomically after calibration. ``calibrator.feed`` is the
    `CalibrationFeed`; call ``calibrator.feed.raise_error()`` after the build.
    """
    from lite.backends._cuda import CudaRuntime, HostDeviceBuffer, Stream

    base = getattr(trt, "IInt8EntropyCalibrator2", None)
    if base is None:
        raise ConversionError(
            f"tensorrt {trt.__version__} has no IInt8EntropyCalibrator2 (TensorRT 11 removed implicit INT8 "
            f"calibration); quantize the ONNX with Q/DQ nodes instead, or install tensorrt<11"
        )

    class _Calibrator(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            self.rt = CudaRuntime()
            self.stream = Stream(self.rt)
            self.buffer = HostDeviceBuffer(self.rt, "calibration")
            self.buffer.ensure(batches.nbytes)
            self.feed = CalibrationFeed(batches, self._upload)

        def _upload(self, batch: np.ndarray) -> int:
            np.copyto(self.buffer.host_array(batch.shape, np.float32), batch)
            self.rt.memcpy_htod_async(self.buffer.device_ptr, self.buffer.host_ptr, batch.nbytes, self.stream.stream)
            self.stream.synchronize()
            return self.buffer.device_ptr

        def get_batch_size(self) -> int:
            return batches.batch_size

        def get_batch(self, names: list[str], *args: Any) -> list[int] | None:
            return self.feed.get_batch(names)

        def read_calibration_cache(self) -> bytes | None:
            return self.feed.guard(self._read)

        def write_calibration_cache(self, cache: Any) -> None:
            self.feed.guard(self._write, cache)

        def _read(self) -> bytes | None:
            if cache_path is not None and cache_path.is_file():
                log.info("using INT8 calibration cache %s", cache_path)
                return cache_path.read_bytes()
            return None

        def _write(self, cache: Any) -> None:
            if cache_path is not None:
                atomic_write_bytes(cache_path, bytes(cache))

        def close(self) -> None:
            self.buffer.free()
            self.stream.close()

    return _Calibrator()


# ----------------------------------------------------------------------------------------------
# cache key
# ----------------------------------------------------------------------------------------------
def calibration_key(calib_digest: str | None, calib_cache: str | Path | None) -> dict[str, str | None]:
    """What decides an INT8 engine's scales: the cache file's contents when it exists (TensorRT then
    reads it and never looks at the images), else the calibration images' digest."""
    if calib_cache is not None and Path(calib_cache).is_file():
        return {"cache_sha256": file_sha256(calib_cache)}
    return {"images": calib_digest}


def engine_cache_key(
    onnx_path: str | Path,
    *,
    trt_version: str,
    gpu_name: str,
    compute_capability: tuple[int, int],
    fp16: bool = False,
    int8: bool = False,
    calib_digest: str | None = None,
    calib_cache: str | Path | None = None,
    batch: Any = None,
    input_hw: Any = None,
    workspace_gb: float | None = None,
    tf32: bool = True,
    inputs: Sequence[tuple[str, Sequence[Dim]]] | None = None,
) -> tuple[str, list[ProfileShape]]:
    """The cache key of the engine `build_engine_file` would make, and the profiles it would use.

    The key hashes everything that decides the engine: the ONNX file and its external-data files
    (contents), the precision and TF32, the profiles, the workspace, the TensorRT version, the GPU,
    and for INT8 the calibration (`calibration_key`: the cache file's contents when it
    exists, else the images' names and contents).

    Args:
        onnx_path: The ONNX file (hashed, with its external-data files).
        trt_version: TensorRT version the engine is only valid for.
        gpu_name: GPU the engine is only valid for.
        compute_capability: That GPU's compute capability.
        fp16: FP16 kernels.
        int8: INT8 kernels.
        calib_digest: Digest of the INT8 calibration images (`calibration_digest`).
        calib_cache: INT8 calibration cache file (its contents count when it exists).
        batch: As for `build_engine_file`.
        input_hw: As for `build_engine_file`.
        workspace_gb: Workspace limit (changes the tactics available).
        tf32: TF32 kernels allowed for FP32 layers.
        inputs: The ONNX inputs (default: read with `onnx_inputs`).
    """
    if inputs is None:
        inputs = onnx_inputs(onnx_path)
    profiles = compute_profiles(inputs, batch=batch, input_hw=input_hw)
    external = onnx_external_data(onnx_path)
    extra: dict[str, Any] = {
        "workspace_gb": workspace_gb,
        "tf32": bool(tf32),
        "external_data": None if external is None else files_digest(external),
    }
    if int8:
        extra["calibration"] = calibration_key(calib_digest, calib_cache)
    key = cache_key(
        file_sha256(onnx_path),
        precision=precision_name(fp16, int8),
        profiles=profiles,
        trt_version=trt_version,
        gpu_name=gpu_name,
        compute_capability=compute_capability,
        extra=extra,
    )
    return key, profiles


# ----------------------------------------------------------------------------------------------
# the build, stage by stage
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BuildOptions:
    """Everything `build_engine_file` takes besides the two paths (see there)."""

    fp16: bool = False
    int8: bool = False
    calib_images: str | Path | Sequence[str | Path] | None = None
    calib_cache: str | Path | None = None
    batch: int | str | Sequence[int] | None = None
    input_hw: Any = None
    workspace_gb: float | None = None
    tf32: bool = True
    timing_cache: str | Path | None = None
    verbose: bool = False

    def check(self) -> None:
        """Argument errors, before TensorRT is imported.

        Raises:
            InputError: A bad workspace, batch or size, or INT8 without calibration data.
        """
        if self.workspace_gb is not None and not self.workspace_gb > 0:
            raise InputError(f"workspace_gb: expected a positive number of GiB, got {self.workspace_gb!r}")
        has_cache = self.calib_cache is not None and Path(self.calib_cache).is_file()
        if self.int8 and self.calib_images is None and not has_cache:
            raise InputError(
                "int8=True needs calibration data: pass calib_images (a folder of representative images) "
                "or calib_cache (an existing calibration cache file)"
            )
        normalize_batch(self.batch)
        normalize_hw(self.input_hw)


def build_engine_file(onnx_path: str | Path, engine_path: str | Path, options: BuildOptions | None = None) -> Path:
    """Build a TensorRT engine from an ONNX file and write it atomically to ``engine_path``.

    Stages: check the arguments, parse the ONNX (`parse_onnx`),
    configure the builder (`_configure`: workspace, profile, precision flags, TF32), attach
    the INT8 calibrator and the timing cache, build (`_serialize`), write, merge the timing
    cache back (`_save_timing_cache`).

    Raises:
        ModelNotFoundError: ``onnx_path`` does not exist.
        BackendNotInstalledError: TensorRT (10+) is not installed.
        ConversionError: Parse errors (each with node and message), an unsupported precision,
            a failed build (``build_serialized_network`` returned None).
        InputError: Invalid options or calibration data.
        Exception: Whatever an INT8 calibration batch raised (re-raised after the build).
    """
    options = options or BuildOptions()
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    if not onnx_path.is_file():
        raise ModelNotFoundError(f"ONNX file not found: {onnx_path} (absolute: {onnx_path.resolve()})")
    options.check()

    trt = import_tensorrt()
    logger = init_plugins(trt)
    if options.verbose:
        logger.verbose = True
    builder = trt.Builder(logger)
    network, parser = parse_onnx(trt, builder, logger, onnx_path)
    profiles = compute_profiles(network_inputs(network), batch=options.batch, input_hw=options.input_hw)
    config, profile = _configure(trt, builder, profiles, options)
    calibrator = _attach_calibrator(trt, config, profile, profiles, onnx_path, engine_path, options)
    timing = _attach_timing_cache(config, options.timing_cache)

    what = precision_name(options.fp16, options.int8) + ("" if options.tf32 else ", no TF32")
    log.info("building %s engine from %s (%s)", what, onnx_path, "; ".join(map(str, profiles)))
    t0 = time.perf_counter()
    serialized = _serialize(builder, network, config, calibrator, onnx_path, logger)
    atomic_write_bytes(engine_path, memoryview(serialized))
    log.info("built %s in %.1f s", engine_path, time.perf_counter() - t0)
    if timing is not None and options.timing_cache is not None:
        _save_timing_cache(config, options.timing_cache)
    del parser
    return engine_path


def _configure(trt: Any, builder: Any, profiles: list[ProfileShape], options: BuildOptions) -> tuple[Any, Any]:
    """A builder config with the workspace limit, one optimisation profile (when any input is dynamic),
    the precision flags and TF32. Returns ``(config, profile or None)``."""
    config = builder.create_builder_config()
    if options.workspace_gb is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(options.workspace_gb * (1 << 30)))
    profile = None
    if any(not p.is_static for p in profiles):
        profile = builder.create_optimization_profile()
        for p in profiles:
            profile.set_shape(p.name, p.min, p.opt, p.max)
        config.add_optimization_profile(profile)
    for flag_name in precision_flags(options.fp16, options.int8):
        flag = getattr(trt.BuilderFlag, flag_name, None)
        if flag is None:
            raise ConversionError(
                f"tensorrt {trt.__version__} has no BuilderFlag.{flag_name}: TensorRT 11 removed weakly typed "
                f"precision flags. Build from an ONNX already in {flag_name.lower()} (FP16 weights / Q-DQ nodes), "
                f"or install tensorrt<11 ('pip install \"lite-detect[trt-cu12]\"')"
            )
        config.set_flag(flag)
    tf32 = getattr(trt.BuilderFlag, "TF32", None)
    if not options.tf32 and tf32 is not None:
        config.clear_flag(tf32)  # on by default on Ampere+: FP32 layers would run in TF32
    return config, profile


def precision_flags(fp16: bool, int8: bool) -> list[str]:
    """The ``trt.BuilderFlag`` names a precision sets (``[]`` for FP32)."""
    return [name for name, wanted in (("FP16", fp16), ("INT8", int8)) if wanted]


def _attach_calibrator(
    trt: Any,
    config: Any,
    profile: Any,
    profiles: list[ProfileShape],
    onnx_path: Path,
    engine_path: Path,
    options: BuildOptions,
) -> Any:
    """For INT8: an entropy calibrator on the config (images letterboxed at the input's opt shape)."""
    if not options.int8:
        return None
    calib_path = Path(options.calib_cache) if options.calib_cache is not None else engine_path.with_suffix(".calib")
    image_inputs = [p for p in profiles if len(p.opt) == 4]
    if len(profiles) != 1 or not image_inputs:
        raise ConversionError(
            f"INT8 calibration supports one NCHW image input; {onnx_path.name} has {[str(p) for p in profiles]}"
        )
    if options.calib_images is not None:
        batches = CalibrationBatches(options.calib_images, image_inputs[0].opt)
    else:  # the cache alone is enough: TensorRT reads it and never asks for a batch
        batches = _NoBatches(image_inputs[0].opt)
    calibrator = make_calibrator(trt, batches, calib_path)
    config.int8_calibrator = calibrator
    if profile is not None and hasattr(config, "set_calibration_profile"):
        config.set_calibration_profile(profile)
    return calibrator


def _serialize(builder: Any, network: Any, config: Any, calibrator: Any, onnx_path: Path, logger: Any) -> Any:
    """``build_serialized_network``; a calibration error is re-raised, a None result is a ConversionError."""
    try:
        serialized = builder.build_serialized_network(network, config)
    finally:
        if calibrator is not None:
            calibrator.close()
    if calibrator is not None:
        calibrator.feed.raise_error()  # the cause TensorRT swallowed, even when the build "succeeded"
    if serialized is None:
        detail = recent_errors(logger, 10) or "no error message from TensorRT (run with verbose=True)"
        raise ConversionError(f"TensorRT failed to build an engine from {onnx_path}: {detail}")
    return serialized


def _attach_timing_cache(config: Any, timing_cache: str | Path | None) -> Any:
    """Load the timing cache file (when given and present) into the config; returns the cache or None."""
    if timing_cache is None:
        return None
    path = Path(timing_cache)
    data = path.read_bytes() if path.is_file() else b""
    cache = config.create_timing_cache(data)
    if cache is None and data:
        log.warning("timing cache %s is not usable by this TensorRT/GPU; starting an empty one", path)
        cache = config.create_timing_cache(b"")
    if cache is None:
        raise ConversionError(f"TensorRT could not create a timing cache (from {path})")
    if not config.set_timing_cache(cache, False):
        log.warning("timing cache %s does not match this TensorRT/GPU; starting an empty one", path)
        cache = config.create_timing_cache(b"")
        config.set_timing_cache(cache, False)
    return cache


def _save_timing_cache(config: Any, timing_cache: str | Path) -> None:
    """Merge this build's timing entries into the file under a lock (``ITimingCache.combine``).

    Another process may have written the file since this build loaded it; its entries are kept.
    """
    built = config.get_timing_cache()

    def merge(on_disk: bytes | None) -> bytes:
        if on_disk:
            disk = config.create_timing_cache(on_disk)
            if disk is not None and disk.combine(built, False):
                return bytes(memoryview(disk.serialize()))
            log.warning("timing cache %s does not match this TensorRT/GPU; replacing it", timing_cache)
        return bytes(memoryview(built.serialize()))

    update_file_locked(timing_cache, merge)
