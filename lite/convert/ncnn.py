"""ONNX → NCNN through pnnx.

pnnx (the ``pnnx`` wheel) reads ONNX directly. Its Python helpers (``pnnx.convert``) import
torch, ignore ``fp16`` for shape-only calls and hide the exit status, so this module runs the
executable the wheel bundles (``<site-packages>/pnnx/pnnx``) in a temporary folder, where it
writes its many side files (``*.pnnx.param``, ``*_pnnx.py``, ``*.pnnx.onnx``, ``*_ncnn.py``…),
and keeps only the ``.ncnn.param``/``.ncnn.bin`` pair. ``fp16=0`` is passed unless FP16 is
asked for (pnnx's default stores FP16 weights).

Output blobs are named ``out0, out1, …`` in the ONNX output order and the input ``in0``; the
sidecar records which ONNX output each blob was.

One ONNX pattern is rewritten before pnnx sees it: a ``Gather`` on the channel axis with a
constant index list (how some exporters write a channel shuffle) is converted by pnnx as a
select of one element on the wrong axis, which gives wrong shapes and can crash NCNN. A
channel-shuffle permutation becomes ``Reshape → Transpose → Reshape`` (which pnnx turns into
NCNN's shape-free ``ShuffleChannel``); any other channel selection becomes an exact 1×1
convolution with one-hot weights. Every conversion is then verified against ONNX Runtime.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lite.backends._onnx_rewrite import rewrite_channel_selects, rewrite_channel_shuffles
from lite.convert._common import Conversion, onnx_nodes
from lite.convert._onnx_meta import graph_io
from lite.convert._registry import ConverterOption, register_converter
from lite.core.errors import BackendNotInstalledError

__all__ = ["onnx_to_ncnn", "pnnx_executable", "prepare_for_pnnx"]

_TODO = re.compile(r"^todo\s+(\S+)", re.MULTILINE)


def pnnx_executable() -> Path:
    """The pnnx executable bundled in the ``pnnx`` wheel (found without importing the package).

    Raises:
        BackendNotInstalledError: pnnx is not installed.
    """
    spec = importlib.util.find_spec("pnnx")
    if spec is None or not spec.submodule_search_locations:
        raise BackendNotInstalledError(
            "ONNX -> NCNN needs pnnx, which is not installed; install it with: pip install 'lite-detect[convert]'"
        )
    exe = Path(next(iter(spec.submodule_search_locations))) / ("pnnx.exe" if os.name == "nt" else "pnnx")
    if not exe.is_file():
        raise BackendNotInstalledError(f"the pnnx package has no executable at {exe}; reinstall pnnx")
    return exe


def prepare_for_pnnx(model: Any, input_shape: Sequence[int]) -> tuple[Any, list[str]]:
    """Rewrite channel-axis ``Gather`` nodes with constant indices into forms pnnx converts right.

    Channel shuffles become ``Reshape → Transpose → Reshape`` with fixed shapes, any other constant channel
    selection a one-hot 1×1 convolution (`lite.backends._onnx_rewrite`).

    Args:
        model: The ONNX ``ModelProto`` (not modified).
        input_shape: The shape the conversion traces with (for shape inference).

    Returns:
        ``(model to convert, names of the rewritten nodes)``.
    """
    shuffled, names = rewrite_channel_shuffles(model, input_shape, dynamic=False)
    selected, more = rewrite_channel_selects(shuffled, input_shape)
    return selected, names + more


def _unsupported(log: str, param_text: str, model: Any) -> list[str]:
    """Ops pnnx left unconverted: its ``todo <op>`` lines and layer types NCNN does not know."""
    types = list(dict.fromkeys(_TODO.findall(log)))
    layer_names: dict[str, str] = {}
    if importlib.util.find_spec("ncnn") is not None:
        import ncnn

        for line in param_text.splitlines()[2:]:
            tok = line.split()
            if len(tok) >= 2 and ncnn.layer_to_index(tok[0]) < 0:
                layer_names.setdefault(tok[0], tok[1])
                if tok[0] not in types:
                    types.append(tok[0])
    else:
        for line in param_text.splitlines()[2:]:
            tok = line.split()
            if len(tok) >= 2 and tok[0] in types:
                layer_names.setdefault(tok[0], tok[1])
    layers = {t: f", NCNN layer {name!r}" for t, name in layer_names.items()}
    return [f"op {t!r} ({onnx_nodes(model, t)}{layers.get(t, '')})" for t in types]


@register_converter(
    "ncnn",
    suffixes=(".ncnn.param", ".ncnn.bin"),
    help="NCNN .param + .bin with pnnx",
    options=(
        ConverterOption(
            "input_shape",
            "ints",
            "shape to trace a dynamic-shape ONNX with, e.g. 1,3,640,640",
            metavar="N,C,H,W",
            count=4,
        ),
    ),
)
def onnx_to_ncnn(
    onnx: str | Path,
    out: str | Path | None = None,
    fp16: bool = False,
    input_shape: Sequence[int] | None = None,
    *,
    force: bool = False,
    verify: bool = True,
    progress: bool | None = None,
    timeout: float = 1800.0,
) -> Path:
    """Convert an ONNX model to an NCNN ``.param``/``.bin`` pair with pnnx.

    Args:
        onnx: The ONNX file.
        out: The ``.param`` to write (its ``.bin`` goes beside it) or a folder (``<folder>/<model>.ncnn.param``;
            default: the current directory). See [`lite.convert.output_path`][lite.convert.output_path].
        fp16: Store FP16 weights (half the size; results differ slightly).
        input_shape: Shape to trace with, such as ``(1, 3, 640, 640)`` (default: the ONNX
            input's fixed shape; open dimensions from the metadata input size, else 640).
        force: Replace existing output files (otherwise an existing one is an error before any work).
        verify: Run the converted model against ONNX Runtime on a test tensor (in a child
            process) and refuse a conversion that disagrees.
        progress: Stage lines on stderr (None: when stderr is a terminal).
        timeout: Seconds pnnx may take.

    Returns:
        The ``.param`` path. A ``<model>.ncnn.param.lite.json`` sidecar beside it carries the class
        names, strides, input size and layout, so the model opens with no arguments.

    Raises:
        ModelNotFoundError: The ONNX file does not exist.
        OutputExistsError: An output file exists and ``force`` is False.
        BackendNotInstalledError: pnnx or onnx is missing.
        ConversionError: pnnx failed, or left ops NCNN does not support (named with their ONNX
            nodes), or the converted model crashes NCNN.
        VerificationError: The converted model's outputs differ from ONNX Runtime's.
    """
    job = Conversion("ncnn", onnx, out, force=force, stages=4, verify=verify, progress=progress,
                     input_shape=input_shape)  # fmt: skip
    exe = pnnx_executable()
    shape = job.shape
    job.stage(f"preparing the graph for pnnx (input {'x'.join(map(str, shape))})")
    prepared, rewritten = prepare_for_pnnx(job.model, shape)
    with tempfile.TemporaryDirectory(prefix="lite-pnnx-") as tmp:
        work = Path(tmp)
        if prepared is job.model:
            shutil.copyfile(job.src, work / "model.onnx")
        else:
            import onnx as onnx_lib

            onnx_lib.save(prepared, os.fspath(work / "model.onnx"))
        job.stage(f"running pnnx (fp16={int(fp16)})")
        cmd = [os.fspath(exe), "model.onnx", f"inputshape=[{','.join(map(str, shape))}]f32", f"fp16={int(fp16)}",
               "device=cpu"]  # fmt: skip
        status, log = job.run("pnnx", cmd, timeout=timeout, cwd=tmp)
        param_tmp, bin_tmp = work / "model.ncnn.param", work / "model.ncnn.bin"
        if status != 0 or not param_tmp.is_file() or not bin_tmp.is_file():
            raise job.failed("pnnx", f"exit status {status}" if status else "no .ncnn.param/.ncnn.bin written", log)
        problems = _unsupported(log, param_tmp.read_text(encoding="utf-8", errors="replace"), job.model)
        if problems:
            raise job.unsupported("NCNN does not support (pnnx left them unconverted)", problems)
        _, onnx_outputs = graph_io(job.model)
        job.check_and_place(
            param_tmp,
            [param_tmp, bin_tmp],
            fp16=fp16,
            converter="pnnx",
            output_names={f"out{i}": name for i, (name, _) in enumerate(onnx_outputs)},
            extra={"rewritten_for_pnnx": ",".join(rewritten)} if rewritten else None,
        )
    return job.finish(f"{job.dst} + {job.files[1].name}")
