"""TensorRT at run time: the import, the one process-wide logger, ONNX reading, and load-time checks.

This is the backend side of TensorRT. [`lite.backends.trt`][lite.backends.trt] (inference) and
`lite.backends._trt_build` (building engines) use it; [`lite.convert.trt`][lite.convert.trt] (the converter)
uses those, never the reverse.

* `import_tensorrt` imports TensorRT 10+ or raises an ImportError naming the extra.
* `get_logger` returns the **one** ``trt.ILogger`` of the process. TensorRT keeps a raw
  pointer to the logger passed to ``init_libnvinfer_plugins`` (it becomes the plugins' global
  logger) and the Python binding keeps no reference, so a logger that is garbage-collected leaves
  a dangling pointer for the next plugin message. One logger, created once and kept for the life of
  the process, with the plugins registered once with it, avoids that (Polygraphy does the same).
* `onnx_inputs`, `onnx_metadata` and `onnx_external_data` read an ONNX file
  with the ``onnx`` package (no weights loaded).
* `io_format_problem` and `output_plan` are the load-time decisions about an engine's
  I/O tensors, as pure functions of plain values (tested without TensorRT).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lite.core.errors import BackendNotInstalledError, ConversionError

__all__ = [
    "Dim",
    "get_logger",
    "import_tensorrt",
    "init_plugins",
    "io_format_problem",
    "network_inputs",
    "onnx_external_data",
    "onnx_inputs",
    "onnx_inputs_via_trt",
    "onnx_metadata",
    "output_plan",
    "parse_onnx",
    "parser_errors",
    "recent_errors",
    "trt_major",
    "error_mark",
]

log = logging.getLogger("lite.trt")

Dim = int | str | None

NVIDIA_INDEX_NOTE = (
    "The tensorrt-cu12/-cu13 packages on PyPI are source packages that download the TensorRT libraries "
    "from NVIDIA's package index (pypi.nvidia.com) while installing: the machine needs access to it "
    "(or pip's --extra-index-url https://pypi.nvidia.com)"
)
"""What the missing-TensorRT error and the README say about where the TensorRT libraries come from."""

_LOCK = threading.Lock()
_ERRORS_LOCK = threading.Lock()  # not _LOCK: TensorRT logs while init_plugins holds _LOCK
_LOGGER: Any = None
_PLUGINS_READY = False


# ----------------------------------------------------------------------------------------------
# import and logger
# ----------------------------------------------------------------------------------------------
def trt_major(version: str) -> int:
    """The major number of a version string (0 when it does not start with a number)."""
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return 0


def import_tensorrt() -> Any:
    """Import ``tensorrt`` (10 or later) or raise an ImportError naming the ``trt`` extra."""
    from lite.backends import require

    try:
        trt = require("tensorrt", "trt")
    except BackendNotInstalledError as e:
        raise BackendNotInstalledError(f"{e}. {NVIDIA_INDEX_NOTE}") from e
    if trt_major(getattr(trt, "__version__", "0")) < 10:
        raise BackendNotInstalledError(
            f"lite needs TensorRT 10 or later (name-based I/O tensors); found tensorrt {trt.__version__}. "
            f"Install it with: pip install 'lite-detect[trt-cu12]' (or [trt-cu13] with an R580+ driver)"
        )
    return trt


def get_logger(trt: Any | None = None, verbose: bool | None = None) -> Any:
    """The process-wide ``trt.ILogger``: forwards to the ``lite.trt`` logger and keeps recent errors.

    Created on the first call and never freed (TensorRT's plugin registry holds a raw pointer to
    it). ``logger.errors`` holds the last 100 error messages, for exception texts.

    Args:
        trt: The imported ``tensorrt`` module (default: `import_tensorrt`).
        verbose: When given, switch TensorRT's INFO/VERBOSE messages on or off (process-wide).
    """
    global _LOGGER
    with _LOCK:
        if _LOGGER is None:
            _LOGGER = _make_logger(trt if trt is not None else import_tensorrt())
        if verbose is not None:
            _LOGGER.verbose = bool(verbose)
        return _LOGGER


def _make_logger(trt: Any) -> Any:
    class _Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: deque[str] = deque(maxlen=100)
            self.error_count = 0  # errors logged so far (the mark `error_mark` returns)
            self.verbose = False

        def log(self, severity: Any, msg: str) -> None:
            sev = trt.ILogger.Severity
            if severity in (sev.ERROR, sev.INTERNAL_ERROR):
                with _ERRORS_LOCK:
                    self.errors.append(str(msg))
                    self.error_count += 1
                log.error("TensorRT: %s", msg)
            elif severity == sev.WARNING:
                log.warning("TensorRT: %s", msg)
            elif self.verbose:
                log.info("TensorRT: %s", msg)

    return _Logger()


def error_mark(logger: Any) -> int:
    """How many errors ``logger`` has logged so far: pass it to `recent_errors` as ``since``."""
    return int(getattr(logger, "error_count", 0))


def recent_errors(logger: Any, n: int = 3, since: int | None = None) -> str:
    """The last ``n`` TensorRT error messages of ``logger``, joined (empty string when none).

    The logger is process-wide (TensorRT's plugin registry keeps a raw pointer to it), so its errors
    come from every engine of the process. With ``since`` (an `error_mark` taken before the
    call that failed), only the errors logged after it count: not an older failure of another engine.
    Another thread's error logged in between can still appear.
    """
    with _ERRORS_LOCK:
        errors = list(getattr(logger, "errors", ()))
        count = int(getattr(logger, "error_count", len(errors)))
    if since is not None:
        errors = errors[max(0, len(errors) - (count - since)) :] if count > since else []
    return "; ".join(errors[-n:])


def init_plugins(trt: Any | None = None) -> Any:
    """Register TensorRT's plugins (``EfficientNMS_TRT`` & co.) once per process, with `get_logger`.

    Returns:
        The process-wide logger.
    """
    global _PLUGINS_READY
    trt = trt if trt is not None else import_tensorrt()
    logger = get_logger(trt)
    with _LOCK:
        if not _PLUGINS_READY:
            trt.init_libnvinfer_plugins(logger, "")
            _PLUGINS_READY = True
    return logger


# ----------------------------------------------------------------------------------------------
# ONNX files
# ----------------------------------------------------------------------------------------------
def _load_onnx_graph(onnx_path: str | Path, *, needed: bool) -> Any:
    """The ONNX model without external weights, or None when ``onnx`` is missing and not ``needed``."""
    from lite.backends._onnx import load_onnx
    from lite.core.errors import BackendNotInstalledError

    try:
        return load_onnx(onnx_path, weights=False)
    except BackendNotInstalledError:
        if needed:
            raise
        return None


def onnx_inputs(onnx_path: str | Path) -> list[tuple[str, tuple[Dim, ...]]]:
    """``(name, shape)`` of each real ONNX graph input (initializers excluded), read with ``onnx``.

    Symbolic dimensions are their names (or None when unnamed).

    Raises:
        BackendNotInstalledError: ``onnx`` is not installed.
        ConversionError: The file is not a readable ONNX model.
    """
    from lite.backends._onnx import graph_io

    return graph_io(_load_onnx_graph(onnx_path, needed=True))[0]


def onnx_metadata(onnx_path: str | Path) -> dict[str, str]:
    """The ONNX file's ``metadata_props`` (empty when ``onnx`` is not installed)."""
    from lite.backends._onnx import metadata_props

    model = _load_onnx_graph(onnx_path, needed=False)
    return {} if model is None else metadata_props(model)


def onnx_external_data(onnx_path: str | Path) -> list[Path] | None:
    """The external-data files an ONNX model's weights live in (sorted, unique), or None without ``onnx``.

    Raises:
        ConversionError: The file is not a readable ONNX model, or names an external file that
            does not exist.
    """
    model = _load_onnx_graph(onnx_path, needed=False)
    if model is None:
        return None
    folder = Path(onnx_path).parent
    tensors = list(model.graph.initializer) + [
        a.t for node in model.graph.node for a in node.attribute if a.HasField("t")
    ]
    names = set()
    for t in tensors:
        if t.data_location == 1:  # TensorProto.EXTERNAL
            names.update(e.value for e in t.external_data if e.key == "location")
    files = sorted(folder / n for n in names)
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise ConversionError(f"{onnx_path} stores weights in external files that do not exist: {missing}")
    return files


# ----------------------------------------------------------------------------------------------
# TensorRT's ONNX parser
# ----------------------------------------------------------------------------------------------
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

    ``parse_from_file`` lets the parser find external-data weights next to the file.

    Raises:
        ConversionError: The parser failed; the message lists every error with its node.
    """
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    mark = error_mark(logger)
    ok = parser.parse_from_file(str(onnx_path))
    errors = parser_errors(parser)
    if not ok or errors:
        detail = "\n  ".join(errors) or "no parser error recorded; " + recent_errors(logger, 5, since=mark)
        raise ConversionError(f"TensorRT could not parse {onnx_path} ({len(errors)} error(s)):\n  {detail}")
    return network, parser


def network_inputs(network: Any) -> list[tuple[str, tuple[int, ...]]]:
    """``(name, shape)`` of the parsed network's inputs (-1 for dynamic dimensions)."""
    return [
        (network.get_input(i).name, tuple(int(d) for d in network.get_input(i).shape))
        for i in range(network.num_inputs)
    ]


def onnx_inputs_via_trt(trt: Any, onnx_path: str | Path) -> list[tuple[str, tuple[Dim, ...]]]:
    """The ONNX inputs as TensorRT's parser sees them (for machines without the ``onnx`` package).

    Dynamic dimensions (-1) become None.
    """
    logger = get_logger(trt)
    builder = trt.Builder(logger)
    network, _parser = parse_onnx(trt, builder, logger, Path(onnx_path))
    return [(n, tuple(d if d > 0 else None for d in shape)) for n, shape in network_inputs(network)]


# ----------------------------------------------------------------------------------------------
# load-time checks on an engine's I/O tensors (pure functions of plain values)
# ----------------------------------------------------------------------------------------------
def io_format_problem(formats: Mapping[str, str], engine_name: str = "engine") -> str | None:
    """Why an engine's I/O formats cannot be used, or None when every tensor is LINEAR.

    lite copies I/O tensors as dense row-major arrays. A vectorized format (``CHW4``, ``HWC8``,
    ``CHW32``..., possible in an engine built elsewhere with ``--inputIOFormats``) has a different
    memory layout and would be read as garbage, so it is refused at load.

    Args:
        formats: Tensor name → ``trt.TensorFormat`` name (``"LINEAR"``, ``"CHW4"``...).
        engine_name: For the message.
    """
    bad = {n: f for n, f in formats.items() if str(f).upper() != "LINEAR"}
    if not bad:
        return None
    listed = ", ".join(f"{n!r}: {f}" for n, f in bad.items())
    return (
        f"{engine_name} has I/O tensors in a vectorized (non-LINEAR) memory format ({listed}); lite reads and "
        f"writes I/O tensors as dense row-major (LINEAR) arrays. Rebuild the engine with linear I/O "
        f"(trtexec: drop --inputIOFormats/--outputIOFormats, or use fp32:chw / fp16:chw)"
    )


def output_plan(shapes: Mapping[str, Sequence[int]]) -> dict[str, str]:
    """How each output gets its memory: ``"static"`` or ``"data-dependent"``.

    ``shapes`` are the output shapes the execution context reports once every input shape is set
    (``context.get_tensor_shape``). A ``-1`` left there means the size depends on the values
    (ONNX ``NonZero``, ``NonMaxSuppression``): TensorRT allocates such outputs through an
    ``IOutputAllocator`` during inference and reports their shapes afterwards. Every other output
    gets a buffer sized from its shape before inference.
    """
    return {name: "data-dependent" if any(int(d) < 0 for d in shape) else "static" for name, shape in shapes.items()}
