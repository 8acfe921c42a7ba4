"""What the ONNX → NCNN and ONNX → MNN converters share: everything around the converter tool.

:class:`Conversion` is one conversion from start to end: it reads the ONNX model and the
metadata the converted model should carry, announces each stage (:class:`Progress`), runs the
converter tool in a child process with a timeout, checks the result against ONNX Runtime
(:func:`lite.convert._onnx_meta.verify_conversion`, itself in a child process), moves the
output files into place and writes the ``.lite.json`` sidecar. The converter modules keep what
is particular to their tool: its command line, the files it writes, how it reports the ops it
cannot convert.

Nothing heavy is imported at module level (``onnx`` is imported when a conversion starts).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lite.convert._onnx_meta import input_shape_for, load_onnx, onnx_meta, verify_conversion
from lite.errors import ConversionError, InputError
from lite.metadata import write_sidecar

__all__ = ["VERIFY_RTOL", "Conversion", "Progress", "dist_version", "onnx_nodes", "output_path"]

#: Relative L2 error a conversion may show against ONNX Runtime (FP32 / FP16 weights).
VERIFY_RTOL = {False: 1e-4, True: 1e-2}
#: Targets named in "convert to another target" advice.
_TARGETS = ("ncnn", "mnn", "trt")


class Progress:
    """Stage lines on stderr: ``lite convert (ncnn) [2/4] running pnnx``.

    Args:
        target: What is being made (``"ncnn"``, ``"mnn"``).
        total: Number of stages.
        enabled: Print at all (None: only when stderr is a terminal).
    """

    def __init__(self, target: str, total: int, enabled: bool | None = None) -> None:
        self.target, self.total, self.step = target, total, 0
        self.enabled = sys.stderr.isatty() if enabled is None else bool(enabled)
        self._t0 = time.perf_counter()

    def __call__(self, message: str) -> None:
        """Announce the next stage."""
        self.step += 1
        if self.enabled:
            print(f"lite convert ({self.target}) [{self.step}/{self.total}] {message}", file=sys.stderr, flush=True)

    def done(self, message: str) -> None:
        """Announce the end, with the elapsed time."""
        if self.enabled:
            dt = time.perf_counter() - self._t0
            print(f"lite convert ({self.target}) done in {dt:.1f} s: {message}", file=sys.stderr, flush=True)


def output_path(src: Path, out: str | Path | None, suffix: str, kind: str) -> Path:
    """Where a converted model goes.

    Args:
        src: The ONNX file.
        out: A file path ending in the last part of ``suffix``, a folder (an existing one, a path
            without a suffix or one ending in a separator), or None (next to ``src``).
        suffix: What replaces ``.onnx`` in a default file name (``".mnn"``, ``".ncnn.param"``).
        kind: The model kind, for the error message (``"MNN"``).

    Raises:
        InputError: ``out`` is a file path with another suffix.
    """
    if out is None:
        return src.with_name(src.stem + suffix)
    o = Path(out)
    if o.is_dir() or not o.suffix or str(out).endswith(("/", os.sep)):
        return o / (src.stem + suffix)
    ext = "." + suffix.rsplit(".", 1)[-1]
    if o.suffix != ext:
        raise InputError(f"out: expected a {ext} path or a folder for an {kind} model, got {out}")
    return o


def onnx_nodes(model: Any, op_type: str) -> str:
    """``"ONNX node(s) 'a', 'b'"``: the first five nodes of an op type (case-insensitive), for error messages."""
    nodes = [n.name or n.output[0] for n in model.graph.node if n.op_type.lower() == op_type.lower()]
    return f"ONNX node(s) {', '.join(repr(x) for x in nodes[:5])}" if nodes else "no ONNX node of that type"


def dist_version(dist: str) -> str:
    """The installed version of a distribution (``"unknown"`` when it has no metadata)."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class Conversion:
    """One ONNX conversion: the source model and its metadata, the stages, the converter run, the outputs.

    Creating it announces and runs the first stage (reading the ONNX model).

    Args:
        target: The backend that runs the converted model (``"ncnn"``, ``"mnn"``).
        onnx: The ONNX file.
        stages: Number of stages without the check against ONNX Runtime (reading and writing included).
        verify: Check the converted model against ONNX Runtime (one more stage).
        progress: Stage lines on stderr (None: when stderr is a terminal).
        input_shape: Shape to trace with (None: from the ONNX input and its metadata).

    Attributes:
        src: The ONNX path.
        model: The loaded ``onnx.ModelProto``.
        meta: What the converted model's sidecar will carry.
        shape: The concrete input shape of the conversion.
        stage: The :class:`Progress` to announce the tool's own stages with.

    Raises:
        ModelNotFoundError: The ONNX file does not exist.
        BackendNotInstalledError: The ``onnx`` package is missing.
        ConversionError: The file is not a readable ONNX model.
        InputError: ``input_shape`` does not fit the model.
    """

    def __init__(
        self,
        target: str,
        onnx: str | Path,
        *,
        stages: int,
        verify: bool,
        progress: bool | None,
        input_shape: Sequence[int] | None = None,
    ) -> None:
        self.target = target
        self.src = Path(onnx)
        self.verify = verify
        self.stage = Progress(target, stages + int(verify), progress)
        self.stage(f"reading {self.src.name}")
        self.model = load_onnx(self.src)
        self.meta = onnx_meta(self.src, self.model)
        self.shape = input_shape_for(self.model, input_shape, self.meta)

    def run(self, tool: str, cmd: Sequence[str], *, timeout: float, cwd: str | Path | None = None) -> tuple[int, str]:
        """Run the converter tool; ``(exit status, stdout and stderr)``.

        Raises:
            ConversionError: The tool did not finish within ``timeout`` seconds.
        """
        try:
            proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, errors="replace", timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise ConversionError(f"{tool} did not finish converting {self.src} within {timeout:.0f} s") from e
        return proc.returncode, proc.stdout + "\n" + proc.stderr

    def failed(self, tool: str, how: str, log: str) -> ConversionError:
        """The error for a tool run that produced no usable model, with the last lines of its log."""
        tail = " | ".join(ln for ln in log.strip().splitlines()[-6:] if ln.strip())
        return ConversionError(f"{tool} could not convert {self.src} ({how}): {tail}")

    def unsupported(self, by: str, problems: Sequence[str]) -> ConversionError:
        """The error for ops the target cannot run (``problems``: one description per op)."""
        others = ", ".join(f"--to {t}" for t in _TARGETS if t != self.target)
        return ConversionError(
            f"{self.src.name} uses ops that {by}: {'; '.join(problems)}. "
            f"Re-export the model without them, or convert to another target ({others})"
        )

    def check_and_place(self, model_file: Path, moves: Sequence[tuple[Path, Path]], *, fp16: bool) -> None:
        """Check the converted model against ONNX Runtime (when verifying), then move its files into place.

        Args:
            model_file: The converted model as the backend opens it (in the work folder).
            moves: ``(work file, destination)`` pairs.
            fp16: The weights are FP16 (a looser tolerance).

        Raises:
            ConversionError: The converted model does not load or crashes its engine.
            VerificationError: Its outputs differ from ONNX Runtime's.
        """
        if self.verify:
            self.stage(f"checking the {self.target.upper()} model against ONNX Runtime")
            verify_conversion(self.src, model_file, self.target, self.shape, rtol=VERIFY_RTOL[bool(fp16)])
        self.stage(f"writing {', '.join(dst.name for _, dst in moves)} and the metadata sidecar")
        for tmp, dst in moves:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(os.fspath(tmp), os.fspath(dst))

    def finish(
        self,
        dst: Path,
        *,
        converter: str,
        fp16: bool,
        output_names: Mapping[str, str],
        extra: Mapping[str, str] | None = None,
        shown: str | None = None,
    ) -> Path:
        """Write the sidecar of the converted model ``dst``, announce the end and return ``dst``.

        Args:
            dst: The converted model.
            converter: The converter's distribution (its version is recorded with it).
            fp16: The weights are FP16 (recorded).
            output_names: Converted output name → ONNX output name.
            extra: More sidecar entries.
            shown: What the last stage line shows (default: ``dst``).
        """
        self.meta.extra.update(
            {
                "source": self.src.name,
                "converter": f"{converter} {dist_version(converter)}" + (" fp16" if fp16 else ""),
                "output_names": json.dumps(dict(output_names)),
                **(extra or {}),
            }
        )
        write_sidecar(dst, self.meta)
        self.stage.done(shown or f"{dst}")
        return dst
