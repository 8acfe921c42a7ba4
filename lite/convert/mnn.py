"""ONNX → MNN with the converter compiled into the MNN wheel.

The wheel's ``mnnconvert`` console script and ``MNN.tools.mnnconvert.main`` are *not* used:
after converting they import ``MNN.tools.utils.log``, which runs ``pip install`` and sends
telemetry. The converter itself is the compiled function ``_tools.mnnconvert(argv)`` (a
top-level extension module of the wheel); this module calls exactly that, in a child Python
process, because:

* it prints its log (and unsupported-op messages) from C code to stdout, which a child's pipe
  captures cleanly without touching the caller's file descriptors during a long conversion;
* a converter crash on a malformed model cannot take the caller down;
* it returns True even when the conversion failed, so the log and the output file are what
  tell success: the output must exist, load and run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import tempfile
from pathlib import Path

from lite.convert._common import Conversion, onnx_nodes
from lite.convert._onnx_meta import graph_io
from lite.convert._registry import register_converter
from lite.core.errors import BackendNotInstalledError

__all__ = ["onnx_to_mnn", "rejected_ops"]

_CHILD = "import sys, _tools; ok = _tools.mnnconvert(['mnnconvert'] + sys.argv[1:]); sys.exit(0 if ok else 3)"
_NOT_SUPPORTED = re.compile(r"These Op Not Support:\s*(.*)")


def rejected_ops(log: str) -> list[str]:
    """The op types MNN's converter refused, in order, once each.

    It prints ``These Op Not Support: ONNX::A | ONNX::B`` (the ``|`` separates names; it is not an op).
    """
    names = [op for m in _NOT_SUPPORTED.finditer(log) for op in re.split(r"[\s|]+", m.group(1)) if op]
    return list(dict.fromkeys(op.split("::", 1)[-1] for op in names))


@register_converter("mnn", suffixes=(".mnn",), help="MNN .mnn with MNN's converter")
def onnx_to_mnn(
    onnx: str | Path,
    out: str | Path | None = None,
    fp16: bool = False,
    *,
    force: bool = False,
    verify: bool = True,
    progress: bool | None = None,
    timeout: float = 1800.0,
) -> Path:
    """Convert an ONNX model to ``.mnn`` with MNN's converter.

    Args:
        onnx: The ONNX file.
        out: The ``.mnn`` to write, or a folder (``<folder>/<model>.mnn``; default: the current directory).
            See [`lite.convert.output_path`][lite.convert.output_path].
        fp16: Store convolution weights as FP16 (``--fp16``; half the size, results differ slightly).
        force: Replace existing output files (otherwise an existing one is an error before any work).
        verify: Run the converted model against ONNX Runtime on a test tensor (in a child
            process) and refuse a conversion that disagrees.
        progress: Stage lines on stderr (None: when stderr is a terminal).
        timeout: Seconds the converter may take.

    Returns:
        The ``.mnn`` path. A ``<model>.mnn.lite.json`` sidecar beside it carries the class names,
        strides, input size and layout, so the model opens with no arguments.

    Raises:
        ModelNotFoundError: The ONNX file does not exist.
        OutputExistsError: An output file exists and ``force`` is False.
        BackendNotInstalledError: MNN or onnx is missing.
        ConversionError: The converter failed or rejected ops (named with their ONNX nodes),
            or the output does not load or run.
        VerificationError: The converted model's outputs differ from ONNX Runtime's.
    """
    job = Conversion("mnn", onnx, out, force=force, stages=3, verify=verify, progress=progress)
    if importlib.util.find_spec("_tools") is None:
        raise BackendNotInstalledError(
            "ONNX -> MNN needs the MNN wheel (its compiled converter _tools), which is not installed; "
            "install it with: pip install 'lite-detect[convert]'"
        )
    with tempfile.TemporaryDirectory(prefix="lite-mnn-") as tmp:
        tmp_out = Path(tmp) / "model.mnn"
        job.stage(f"running MNN's converter (fp16={int(fp16)})")
        args = ["-f", "ONNX", "--modelFile", os.fspath(job.src), "--MNNModel", os.fspath(tmp_out), "--bizCode", "lite"]
        if fp16:
            args.append("--fp16")
        status, log = job.run("MNN's converter", [sys.executable, "-c", _CHILD, *args], timeout=timeout)
        op_types = rejected_ops(log)
        if op_types:
            problems = [f"op {t!r} ({onnx_nodes(job.model, t)})" for t in op_types]
            raise job.unsupported("MNN's converter does not support", problems)
        if status != 0 or "Converted Failed" in log or not tmp_out.is_file() or tmp_out.stat().st_size == 0:
            raise job.failed("MNN's converter", f"exit status {status}", log)
        _, onnx_outputs = graph_io(job.model)
        job.check_and_place(
            tmp_out, [tmp_out], fp16=fp16, converter="MNN", output_names={name: name for name, _ in onnx_outputs}
        )
    return job.finish()
