"""Build TensorRT engines from ONNX: explicit batch, profiles, FP16/INT8, timing cache.

:func:`build_engine` is the one entry point (``lite convert --to trt`` calls it). It avoids the
classic pitfalls of the PyTorch → ONNX → TensorRT path:

* **Parse errors are never ignored.** The ONNX file is parsed once; a failed parse raises
  :class:`~lite.errors.ConversionError` listing every parser error with its node and message.
* **Explicit batch only** (the only mode of TensorRT 10): shapes come from the ONNX inputs.
* **Optimisation profiles are derived, not guessed.** :func:`compute_profiles` keeps every fixed
  dimension of the ONNX input, maps a symbolic batch to ``batch=(min, opt, max)`` and symbolic
  H/W to ``input_hw``; asking for a batch or size the ONNX fixes otherwise is an error.
* **INT8 calibration sees exactly what inference sees**: :class:`CalibrationBatches` letterboxes
  a folder of images with lite's own :class:`~lite.ops.letterbox.Letterbox` at the engine's
  input shape; the calibration cache is reused when present.
* **No silent failure**: ``build_serialized_network`` returning None is a ConversionError that
  carries TensorRT's own error messages. Outputs are written atomically.

The pure-Python parts (profiles, calibration batches, precision names) import nothing heavy and
are tested without TensorRT; TensorRT is imported inside the functions that call it.

TensorRT 11 removed the weakly typed precision flags (``BuilderFlag.FP16``/``INT8``) and the
INT8 calibrator API: with TensorRT 11, ``fp16``/``int8`` raise a ConversionError that says so
(build from an FP16 / Q-DQ ONNX, or install ``tensorrt<11``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lite.backends._trt_cache import atomic_write_bytes, cache_key, engine_cache_path, file_sha256
from lite.convert._registry import register_converter
from lite.errors import BackendNotInstalledError, ConversionError, InputError

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_HW_PROFILE",
    "CalibrationBatches",
    "ProfileShape",
    "build_engine",
    "calibration_digest",
    "compute_profiles",
    "engine_cache_key",
    "list_images",
    "normalize_batch",
    "normalize_hw",
    "onnx_inputs",
    "precision_name",
]

log = logging.getLogger("lite.convert.trt")

DEFAULT_BATCH: tuple[int, int, int] = (1, 1, 8)
"""``(min, opt, max)`` batch for an ONNX input with a symbolic batch when ``batch`` is not given."""

DEFAULT_HW_PROFILE: tuple[tuple[int, int], tuple[int, int], tuple[int, int]] = ((64, 64), (640, 640), (640, 640))
"""``(min, opt, max)`` ``(H, W)`` for an ONNX input with symbolic H, W when ``input_hw`` is not given:
anything from 64×64 up to 640×640 (YOLOv6's default size, and every rectangular letterbox of it)."""

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

Dim = int | str | None
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
    :data:`DEFAULT_BATCH`); symbolic H and W of an NCHW input (axes 2, 3) get ``input_hw``
    (default :data:`DEFAULT_HW_PROFILE`). A dimension is symbolic when it is a name (``"batch"``),
    None, or ≤ 0 (TensorRT's -1).

    Args:
        inputs: ``(name, shape)`` per network input, in order.
        batch: ``(min, opt, max)`` batch, one int, or ``"1,4,8"`` (see :func:`normalize_batch`).
        input_hw: Image size: int, ``(h, w)``, or three ``(h, w)`` for a dynamic range.

    Returns:
        One :class:`ProfileShape` per input.

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

    Each batch is ``letterbox.batch(images)`` of lite's own :class:`~lite.ops.letterbox.Letterbox`
    at the input's ``(H, W)``: ``(B, 3, H, W)`` float32 RGB in [0, 1], exactly what inference
    feeds the engine. A last batch with fewer than ``B`` images is dropped (a calibration batch
    must have the profile's shape).

    Args:
        images: Image files (or a folder, see :func:`list_images`).
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
        """A short digest of the calibration set (file names and sizes), for cache keys."""
        return calibration_digest(self.paths)


# ----------------------------------------------------------------------------------------------
# ONNX inputs, cache keys
# ----------------------------------------------------------------------------------------------
def onnx_inputs(onnx_path: str | Path) -> list[tuple[str, tuple[Dim, ...]]]:
    """``(name, shape)`` of each real ONNX graph input (initializers excluded), read with ``onnx``.

    Symbolic dimensions are their names (or None when unnamed).

    Raises:
        BackendNotInstalledError: ``onnx`` is not installed.
        ConversionError: The file is not a readable ONNX model.
    """
    from lite.backends._onnx import graph_io, load_onnx

    return graph_io(load_onnx(onnx_path, weights=False))[0]


def onnx_inputs_via_trt(
    trt: Any, onnx_path: str | Path, logger: Any | None = None
) -> list[tuple[str, tuple[Dim, ...]]]:
    """The ONNX inputs as TensorRT's parser sees them (for machines without the ``onnx`` package).

    Dynamic dimensions (-1) become None.
    """
    logger = logger or make_logger(trt)
    builder = trt.Builder(logger)
    network, _parser = parse_onnx(trt, builder, logger, Path(onnx_path))
    return [(n, tuple(d if d > 0 else None for d in shape)) for n, shape in network_inputs(network)]


def calibration_digest(calib_images: str | Path | Sequence[str | Path]) -> str:
    """A short digest of a calibration image set (file names and sizes), for cache keys."""
    import hashlib

    paths = list_images(calib_images) if isinstance(calib_images, str | Path) else [Path(p) for p in calib_images]
    h = hashlib.sha256()
    for p in paths:
        h.update(f"{p.name}:{p.stat().st_size};".encode())
    return h.hexdigest()[:16]


def onnx_metadata(onnx_path: str | Path) -> dict[str, str]:
    """The ONNX file's ``metadata_props`` (empty when ``onnx`` is not installed)."""
    from lite.backends._onnx import metadata_props

    try:
        return metadata_props(onnx_path)
    except BackendNotInstalledError:
        return {}


def engine_cache_key(
    onnx_path: str | Path,
    *,
    trt_version: str,
    gpu_name: str,
    compute_capability: tuple[int, int],
    fp16: bool = False,
    int8: bool = False,
    calib_digest: str | None = None,
    batch: Any = None,
    input_hw: Any = None,
    workspace_gb: float | None = None,
    inputs: Sequence[tuple[str, Sequence[Dim]]] | None = None,
) -> tuple[str, list[ProfileShape]]:
    """The cache key of the engine :func:`build_engine` would make, and the profiles it would use.

    Args:
        onnx_path: The ONNX file (hashed).
        trt_version: TensorRT version the engine is only valid for.
        gpu_name: GPU the engine is only valid for.
        compute_capability: That GPU's compute capability.
        fp16: FP16 kernels.
        int8: INT8 kernels.
        calib_digest: Digest of the INT8 calibration set.
        batch: As for :func:`build_engine`.
        input_hw: As for :func:`build_engine`.
        workspace_gb: Workspace limit (changes the tactics available).
        inputs: The ONNX inputs (default: read with :func:`onnx_inputs`).
    """
    if inputs is None:
        inputs = onnx_inputs(onnx_path)
    profiles = compute_profiles(inputs, batch=batch, input_hw=input_hw)
    extra: dict[str, Any] = {"workspace_gb": workspace_gb}
    if int8:
        extra["calibration"] = calib_digest
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


def default_engine_path(onnx_path: str | Path, key: str, cache_dir: str | Path | None = None) -> Path:
    """Cache location of an engine (see :func:`lite.backends._trt_cache.engine_cache_path`)."""
    return engine_cache_path(key, onnx_path, cache_dir)


# ----------------------------------------------------------------------------------------------
# TensorRT
# ----------------------------------------------------------------------------------------------
def import_tensorrt() -> Any:
    """Import ``tensorrt`` (10 or later) or raise an ImportError naming the ``trt`` extra."""
    from lite.backends import require

    trt = require("tensorrt", "trt")
    major = _major(getattr(trt, "__version__", "0"))
    if major < 10:
        raise BackendNotInstalledError(
            f"lite needs TensorRT 10 or later (name-based I/O tensors); found tensorrt {trt.__version__}. "
            f"Install it with: pip install 'lite-detect[trt]'"
        )
    return trt


def _major(version: str) -> int:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return 0


def make_logger(trt: Any, verbose: bool = False) -> Any:
    """A ``trt.ILogger`` that forwards to Python logging and remembers errors for messages."""

    class _Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            sev = trt.ILogger.Severity
            if severity in (sev.ERROR, sev.INTERNAL_ERROR):
                self.errors.append(str(msg))
                log.error("TensorRT: %s", msg)
            elif severity == sev.WARNING:
                log.warning("TensorRT: %s", msg)
            elif verbose:
                log.info("TensorRT: %s", msg)

    return _Logger()


def parser_errors(parser: Any) -> list[str]:
    """Every error an ``OnnxParser`` recorded, as ``"node N (Op 'name'): message"`` lines."""
    lines = []
    for i in range(parser.num_errors):
        err = parser.get_error(i)
        parts = []
        node = _call(err, "node")
        name = _call(err, "node_name")
        op = _call(err, "node_operator")
        if node is not None and node >= 0:
            parts.append(f"node {node}")
        if op or name:
            parts.append(f"({op or '?'} {name!r})" if name else f"({op})")
        code = _call(err, "code")
        where = " ".join(parts)
        suffix = f" [{code}]" if code is not None else ""
        lines.append(f"{where + ': ' if where else ''}{_call(err, 'desc')}{suffix}")
    return lines


def _call(obj: Any, attr: str) -> Any:
    fn = getattr(obj, attr, None)
    return fn() if callable(fn) else None


def parse_onnx(trt: Any, builder: Any, logger: Any, onnx_path: Path) -> tuple[Any, Any]:
    """Parse an ONNX file into a new explicit-batch network (once), checking the result.

    Raises:
        ConversionError: The parser failed; the message lists every error with its node.
    """
    network = builder.create_network(_network_flags(trt))
    parser = trt.OnnxParser(network, logger)
    ok = parser.parse(onnx_path.read_bytes(), str(onnx_path))
    errors = parser_errors(parser)
    if not ok or errors:
        detail = "\n  ".join(errors) or "no parser error recorded; " + "; ".join(logger.errors[-5:])
        raise ConversionError(f"TensorRT could not parse {onnx_path} ({len(errors)} error(s)):\n  {detail}")
    return network, parser


def _network_flags(trt: Any) -> int:
    """Creation flags: 0 on TensorRT 10+ (explicit batch is the only mode, the old flag is gone)."""
    flag = getattr(getattr(trt, "NetworkDefinitionCreationFlag", None), "EXPLICIT_BATCH", None)
    if flag is not None and _major(trt.__version__) < 10:  # pragma: no cover - import_tensorrt refuses < 10
        return 1 << int(flag)
    return 0


def network_inputs(network: Any) -> list[tuple[str, tuple[int, ...]]]:
    """``(name, shape)`` of the parsed network's inputs (-1 for dynamic dimensions)."""
    return [
        (network.get_input(i).name, tuple(int(d) for d in network.get_input(i).shape))
        for i in range(network.num_inputs)
    ]


def make_calibrator(trt: Any, batches: CalibrationBatches, cache_path: Path | None) -> Any:
    """An ``IInt8EntropyCalibrator2`` fed by ``batches`` through one device buffer.

    The calibration cache is read from ``cache_path`` when it exists (TensorRT then skips the
    images) and written there atomically after calibration.
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
            self.iterator = iter(batches)
            self.count = 0

        def get_batch_size(self) -> int:
            return batches.batch_size

        def get_batch(self, names: list[str], *args: Any) -> list[int] | None:
            try:
                batch = next(self.iterator)
            except StopIteration:
                return None
            host = self.buffer.host_array(batch.shape, np.float32)
            np.copyto(host, batch)
            self.rt.memcpy_htod_async(self.buffer.device_ptr, self.buffer.host_ptr, batch.nbytes, self.stream.stream)
            self.stream.synchronize()
            self.count += 1
            return [self.buffer.device_ptr for _ in names]

        def read_calibration_cache(self) -> bytes | None:
            if cache_path is not None and cache_path.is_file():
                log.info("using INT8 calibration cache %s", cache_path)
                return cache_path.read_bytes()
            return None

        def write_calibration_cache(self, cache: Any) -> None:
            if cache_path is not None:
                atomic_write_bytes(cache_path, bytes(cache))

        def close(self) -> None:
            self.buffer.free()
            self.stream.close()

    return _Calibrator()


@register_converter(
    "trt", suffixes=(".engine",), accepts=(".engine", ".plan"), aliases=("tensorrt",), end2end=True,
    help="TensorRT engine (needs an NVIDIA GPU)",
)  # fmt: skip
def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path | None = None,
    *,
    force: bool = False,
    fp16: bool = False,
    int8: bool = False,
    calib_images: str | Path | Sequence[str | Path] | None = None,
    calib_cache: str | Path | None = None,
    batch: int | str | Sequence[int] | None = None,
    input_hw: Any = None,
    workspace_gb: float | None = None,
    timing_cache: str | Path | None = None,
    verbose: bool = False,
) -> Path:
    """Build a TensorRT engine from an ONNX file.

    Args:
        onnx_path: The ONNX model.
        engine_path: Output ``.engine``/``.plan`` file, or a folder (``<folder>/<stem>.engine``; default: the
            current directory). See :func:`lite.convert.output_path`.
        force: Replace an existing engine and sidecar (otherwise an existing one is an error before any work).
        fp16: Allow FP16 kernels (TensorRT 10's ``BuilderFlag.FP16``).
        int8: INT8 with entropy calibration; needs ``calib_images`` or an existing ``calib_cache``.
        calib_images: Folder (or list) of calibration images, letterboxed at the input shape.
        calib_cache: Calibration cache file, reused when present and written after calibration
            (default with INT8: ``<engine>.calib``).
        batch: ``(min, opt, max)`` batch for a dynamic-batch ONNX (int, "1,4,8" or 3 ints).
        input_hw: Size for a dynamic-H/W ONNX: int, ``(h, w)``, or three ``(h, w)`` (min, opt, max).
        workspace_gb: Workspace memory pool limit in GiB (default: TensorRT's, the device memory).
        timing_cache: Timing cache file, loaded when present and saved after the build.
        verbose: TensorRT's verbose log (to the ``lite.convert.trt`` logger).

    Returns:
        The engine path. The engine and a ``<engine>.lite.json`` sidecar (``m.engine.lite.json``, the ONNX
        metadata: class names, strides, which an engine file cannot hold) are written to temporary names
        beside their destination and renamed into place together.

    Raises:
        ModelNotFoundError: ``onnx_path`` does not exist.
        OutputExistsError: The engine or its sidecar exists and ``force`` is False.
        BackendNotInstalledError: TensorRT (10+) is not installed.
        ConversionError: Parse errors (each with node and message), an unsupported precision,
            a failed build (``build_serialized_network`` returned None).
        InputError: Invalid ``batch``/``input_hw``/``workspace_gb``, or calibration data.
    """
    from lite.convert._common import prepare_outputs

    onnx_path = Path(onnx_path)
    engine_path = prepare_outputs("trt", onnx_path, engine_path, force)[0]
    if workspace_gb is not None and not workspace_gb > 0:
        raise InputError(f"workspace_gb: expected a positive number of GiB, got {workspace_gb!r}")
    if int8 and calib_images is None and (calib_cache is None or not Path(calib_cache).is_file()):
        raise InputError(
            "int8=True needs calibration data: pass calib_images (a folder of representative images) "
            "or calib_cache (an existing calibration cache file)"
        )
    normalize_batch(batch)
    normalize_hw(input_hw)

    trt = import_tensorrt()
    logger = make_logger(trt, verbose)
    trt.init_libnvinfer_plugins(logger, "")
    builder = trt.Builder(logger)
    network, parser = parse_onnx(trt, builder, logger, onnx_path)
    profiles = compute_profiles(network_inputs(network), batch=batch, input_hw=input_hw)

    config = builder.create_builder_config()
    if workspace_gb is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    profile = None
    if any(not p.is_static for p in profiles):
        profile = builder.create_optimization_profile()
        for p in profiles:
            profile.set_shape(p.name, p.min, p.opt, p.max)
        config.add_optimization_profile(profile)
    for flag_name, wanted in (("FP16", fp16), ("INT8", int8)):
        if not wanted:
            continue
        flag = getattr(trt.BuilderFlag, flag_name, None)
        if flag is None:
            raise ConversionError(
                f"tensorrt {trt.__version__} has no BuilderFlag.{flag_name}: TensorRT 11 removed weakly typed "
                f"precision flags. Build from an ONNX already in {flag_name.lower()} (FP16 weights / Q-DQ nodes), "
                f"or install tensorrt<11 ('pip install \"tensorrt>=10,<11\"')"
            )
        config.set_flag(flag)

    calibrator = None
    if int8:
        calib_path = Path(calib_cache) if calib_cache is not None else engine_path.with_suffix(".calib")
        image_inputs = [p for p in profiles if len(p.opt) == 4]
        if len(profiles) != 1 or not image_inputs:
            raise ConversionError(
                f"INT8 calibration supports one NCHW image input; {onnx_path.name} has {[str(p) for p in profiles]}"
            )
        if calib_images is not None:
            batches = CalibrationBatches(calib_images, image_inputs[0].opt)
        else:  # the cache alone is enough: TensorRT reads it and never asks for a batch
            batches = _NoBatches(image_inputs[0].opt)
        calibrator = make_calibrator(trt, batches, calib_path)
        config.int8_calibrator = calibrator
        if profile is not None and hasattr(config, "set_calibration_profile"):
            config.set_calibration_profile(profile)

    timing = _load_timing_cache(config, timing_cache)

    log.info("building %s engine from %s (%s)", precision_name(fp16, int8), onnx_path, "; ".join(map(str, profiles)))
    t0 = time.perf_counter()
    try:
        serialized = builder.build_serialized_network(network, config)
    finally:
        if calibrator is not None:
            calibrator.close()
    if serialized is None:
        detail = "; ".join(logger.errors[-10:]) or "no error message from TensorRT (run with verbose=True)"
        raise ConversionError(f"TensorRT failed to build an engine from {onnx_path}: {detail}")
    _write_engine(onnx_path, engine_path, memoryview(serialized))
    log.info("built %s in %.1f s", engine_path, time.perf_counter() - t0)
    if timing is not None and timing_cache is not None:
        atomic_write_bytes(timing_cache, memoryview(config.get_timing_cache().serialize()))
    del parser
    return engine_path


class _NoBatches(CalibrationBatches):
    """Calibration from an existing cache only: the shape, but no images."""

    def __init__(self, input_shape: Sequence[int]) -> None:
        self.shape = tuple(int(d) for d in input_shape)
        self.batch_size = self.shape[0]
        self.paths: list[Path] = []

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(())


def _load_timing_cache(config: Any, timing_cache: str | Path | None) -> Any:
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


def _write_engine(onnx_path: Path, engine_path: Path, data: memoryview) -> None:
    """Write the engine and its sidecar (when the ONNX carries metadata) together, atomically."""
    import json

    from lite.files import OutputSet
    from lite.metadata import ModelMeta, from_mapping, read_sidecar, sidecar_path

    meta = from_mapping(onnx_metadata(onnx_path)).merged(read_sidecar(onnx_path))
    with OutputSet() as out:
        out.stage(engine_path).write_bytes(data)
        if meta != ModelMeta():
            out.stage(sidecar_path(engine_path)).write_text(json.dumps(meta.to_json_dict(), indent=2) + "\n")
