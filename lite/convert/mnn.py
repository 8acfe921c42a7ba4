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

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lite.convert._onnx_meta import Progress, graph_io, input_shape_for, load_onnx, onnx_meta, verify_conversion
from lite.errors import BackendNotInstalledError, ConversionError, InputError
from lite.metadata import write_sidecar

__all__ = ["onnx_to_mnn"]

#: Relative L2 error a conversion may show against ONNX Runtime (FP32 / FP16 weights).
VERIFY_RTOL = {False: 1e-4, True: 1e-2}
_CHILD = "import sys, _tools; ok = _tools.mnnconvert(['mnnconvert'] + sys.argv[1:]); sys.exit(0 if ok else 3)"
_NOT_SUPPORTED = re.compile(r"These Op Not Support:\s*(.*)")


def _out_path(src: Path, out: str | Path | None) -> Path:
    if out is None:
        return src.with_suffix(".mnn")
    o = Path(out)
    if o.is_dir() or not o.suffix or str(out).endswith(("/", os.sep)):
        return o / (src.stem + ".mnn")
    if o.suffix != ".mnn":
        raise InputError(f"out: expected a .mnn path or a folder for an MNN model, got {out}")
    return o


def onnx_to_mnn(
    onnx: str | Path,
    out: str | Path | None = None,
    fp16: bool = False,
    *,
    verify: bool = True,
    progress: bool | None = None,
    timeout: float = 1800.0,
) -> Path:
    """Convert an ONNX model to ``.mnn`` with MNN's converter.

    Args:
        onnx: The ONNX file.
        out: The ``.mnn`` to write, or a folder (a path without a suffix; default: ``<model>.mnn`` next to
            the ONNX file).
        fp16: Store convolution weights as FP16 (``--fp16``; half the size, results differ slightly).
        verify: Run the converted model against ONNX Runtime on a test tensor (in a child
            process) and refuse a conversion that disagrees.
        progress: Stage lines on stderr (None: when stderr is a terminal).
        timeout: Seconds the converter may take.

    Returns:
        The ``.mnn`` path. A ``<model>.mnn.lite.json`` sidecar beside it carries the class names,
        strides, input size and layout, so the model opens with no arguments.

    Raises:
        ModelNotFoundError: The ONNX file does not exist.
        BackendNotInstalledError: MNN or onnx is missing.
        ConversionError: The converter failed or rejected ops (named with their ONNX nodes),
            or the output does not load or run.
        VerificationError: The converted model's outputs differ from ONNX Runtime's.
    """
    src = Path(onnx)
    stage = Progress("mnn", 4 if verify else 3, progress)
    stage(f"reading {src.name}")
    model = load_onnx(src)
    meta = onnx_meta(src, model)
    shape = input_shape_for(model, None, meta)
    dst = _out_path(src, out)
    if importlib.util.find_spec("_tools") is None:
        raise BackendNotInstalledError(
            "ONNX -> MNN needs the MNN wheel (its compiled converter _tools), which is not installed; "
            "install it with: pip install 'lite-detect[convert]'"
        )
    with tempfile.TemporaryDirectory(prefix="lite-mnn-") as tmp:
        tmp_out = Path(tmp) / "model.mnn"
        stage(f"running MNN's converter (fp16={int(fp16)})")
        args = ["-f", "ONNX", "--modelFile", os.fspath(src), "--MNNModel", os.fspath(tmp_out), "--bizCode", "lite"]
        if fp16:
            args.append("--fp16")
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, errors="replace", timeout=timeout
            )
        except subprocess.TimeoutExpired as e:
            raise ConversionError(f"MNN's converter did not finish converting {src} within {timeout:.0f} s") from e
        log = proc.stdout + "\n" + proc.stderr
        rejected = [op for m in _NOT_SUPPORTED.finditer(log) for op in m.group(1).split()]
        if rejected:
            problems = []
            for op in dict.fromkeys(rejected):
                op_type = op.split("::", 1)[-1]
                nodes = [n.name or n.output[0] for n in model.graph.node if n.op_type == op_type]
                listed = ", ".join(repr(x) for x in nodes[:5])
                where = f"ONNX node(s) {listed}" if nodes else "no ONNX node of that type"
                problems.append(f"op {op_type!r} ({where})")
            raise ConversionError(
                f"{src.name} uses ops that MNN's converter does not support: {'; '.join(problems)}. "
                f"Re-export the model without them, or convert to another target (--to ncnn, --to trt)"
            )
        if proc.returncode != 0 or "Converted Failed" in log or not tmp_out.is_file() or tmp_out.stat().st_size == 0:
            tail = " | ".join(ln for ln in log.strip().splitlines()[-6:] if ln.strip())
            raise ConversionError(f"MNN's converter could not convert {src} (exit status {proc.returncode}): {tail}")
        if verify:
            stage("checking the MNN model against ONNX Runtime")
            verify_conversion(src, tmp_out, "mnn", shape, rtol=VERIFY_RTOL[bool(fp16)])
        stage(f"writing {dst.name} and the metadata sidecar")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(os.fspath(tmp_out), os.fspath(dst))
    _, onnx_outputs = graph_io(model)
    meta.extra.update(
        {
            "source": src.name,
            "converter": f"MNN {_version('MNN')}" + (" fp16" if fp16 else ""),
            "output_names": json.dumps({name: name for name, _ in onnx_outputs}),
        }
    )
    write_sidecar(dst, meta)
    stage.done(f"{dst}")
    return dst


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
