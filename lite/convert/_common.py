"""What the ONNX → NCNN and ONNX → MNN converters share: everything around the converter tool.

`Conversion` is one conversion from start to end: it reads the ONNX model and the
metadata the converted model should carry, announces each stage (`Progress`), runs the
converter tool in a child process with a timeout, checks the result against ONNX Runtime
(`lite.convert._onnx_meta.verify_conversion`, itself in a child process), moves the
output files into place and writes the ``.lite.json`` sidecar. The converter modules keep what
is particular to their tool: its command line, the files it writes, how it reports the ops it
cannot convert.

Nothing heavy is imported at module level (``onnx`` is imported when a conversion starts).
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lite.backends._capture import clean_engine_text
from lite.convert._onnx_meta import input_shape_for, load_onnx, onnx_meta, verify_conversion
from lite.convert._registry import get, known
from lite.core.errors import ConversionError, ModelNotFoundError
from lite.core.files import OutputSet, check_writable_folder, refuse_overwrite
from lite.core.progress import Stages
from lite.data.metadata import sidecar_path

__all__ = ["VERIFY_RTOL", "Conversion", "dist_version", "onnx_nodes", "prepare_outputs"]

#: Relative L2 error a conversion may show against ONNX Runtime (FP32 / FP16 weights).
VERIFY_RTOL = {False: 1e-4, True: 1e-2}


def prepare_outputs(target: str, onnx: str | Path, out: str | Path | None, force: bool) -> list[Path]:
    """Every file a conversion will write (model first, then companions and sidecar), checked before any work.

    Raises:
        ModelNotFoundError: The ONNX file does not exist.
        InputError: ``out`` has a suffix the target does not write.
        OutputExistsError: One of the files exists and ``force`` is False.
        OutputError: The output folder cannot be created or written to (read-only, a file).
    """
    src = Path(onnx)
    if not src.is_file():
        raise ModelNotFoundError(f"ONNX model not found: {src} (absolute: {src.resolve()})")
    info = get(target)
    files = info.outputs(info.output_path(src, out))
    refuse_overwrite(files, force=force)
    for folder in dict.fromkeys(f.parent for f in files):
        check_writable_folder(folder)  # a read-only folder fails now, not after minutes of conversion
    return files


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

    Creating it resolves the output files (refusing existing ones unless ``force``), then
    announces and runs the first stage (reading the ONNX model).

    Args:
        target: The registered target (``"ncnn"``, ``"mnn"``).
        onnx: The ONNX file.
        out: Output file or folder (see [`lite.convert.output_path`][lite.convert.output_path]).
        force: Replace existing output files.
        stages: Number of stages without the check against ONNX Runtime (reading and writing included).
        verify: Check the converted model against ONNX Runtime (one more stage).
        progress: Stage lines on stderr (None: when stderr is a terminal).
        input_shape: Shape to trace with (None: from the ONNX input and its metadata).
        backend: The lite backend that opens the converted model for the check (default: ``target``).

    Attributes:
        src: The ONNX path.
        dst: The converted model's path; ``files`` are every output (model, companions, sidecar).
        model: The loaded ``onnx.ModelProto``.
        meta: What the converted model's sidecar will carry.
        shape: The concrete input shape of the conversion.
        stage: The `Stages` to announce the tool's own stages with.

    Raises:
        ModelNotFoundError: The ONNX file does not exist.
        BackendNotInstalledError: The ``onnx`` package is missing.
        ConversionError: The file is not a readable ONNX model.
        InputError: ``input_shape`` does not fit the model, or ``out`` has the wrong suffix.
        OutputExistsError: An output exists and ``force`` is False.
    """

    def __init__(
        self,
        target: str,
        onnx: str | Path,
        out: str | Path | None = None,
        *,
        force: bool = False,
        stages: int,
        verify: bool,
        progress: bool | None,
        input_shape: Sequence[int] | None = None,
        backend: str | None = None,
    ) -> None:
        self.target = target
        self.backend = backend or target
        self.src = Path(onnx)
        self.files = prepare_outputs(target, self.src, out, force)
        self.dst = self.files[0]
        self.verify = verify
        self.stage = Stages(target, stages + int(verify), progress)
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
        tail = "; ".join(clean_engine_text(log)[-6:])  # no colour codes, traceback frames or CPU-vendor noise
        return ConversionError(f"{tool} could not convert {self.src} ({how}): {tail}")

    def unsupported(self, by: str, problems: Sequence[str]) -> ConversionError:
        """The error for ops the target cannot run (``problems``: one description per op)."""
        others = ", ".join(f"--to {t}" for t in known() if t != self.target)
        return ConversionError(
            f"{self.src.name} uses ops that {by}: {'; '.join(problems)}. "
            f"Re-export the model without them, or convert to another target ({others})"
        )

    def check_and_place(
        self,
        model_file: Path,
        made: Sequence[Path],
        *,
        fp16: bool,
        converter: str,
        output_names: Mapping[str, str],
        extra: Mapping[str, str] | None = None,
        rtol: float | None = None,
        quantized: bool = False,
    ) -> None:
        """Check the converted model against ONNX Runtime (when verifying), then write every output atomically.

        The converted files and the ``.lite.json`` sidecar are copied to temporary names in the
        destination folder and renamed into place together (`lite.core.files.OutputSet`):
        an error or an interrupt leaves no output, complete or partial.

        Args:
            model_file: The converted model as the backend opens it (in the work folder).
            made: The converted files in the work folder, in the order of `files` (model first).
            fp16: The weights are FP16 (a looser tolerance; recorded in the sidecar).
            converter: The converter's distribution (its version is recorded in the sidecar).
            output_names: Converted output name → ONNX output name (recorded in the sidecar).
            extra: More sidecar entries.
            rtol: Relative L2 error allowed against ONNX Runtime (default: `VERIFY_RTOL` for ``fp16``).
            quantized: The ONNX graph is quantized: the tolerance is `lite.tools.parity.output_tolerances`'s
                for quantized models, the one `lite compare` applies to the same pair.

        Raises:
            ConversionError: The converted model does not load or crashes its engine.
            VerificationError: Its outputs differ from ONNX Runtime's.
        """
        if self.verify:
            tol = VERIFY_RTOL[bool(fp16)] if rtol is None else rtol
            how = f"rel L2 <= {tol:g}"
            if quantized:
                from lite.tools.parity import QUANTIZED_HINT, output_tolerances

                tol = max(tol, output_tolerances(quantized=True)[0])
                how = f"rel L2 <= {tol:g}; {QUANTIZED_HINT}"
            self.stage(f"checking the {self.target.upper()} model against ONNX Runtime ({how})")
            verify_conversion(self.src, model_file, self.backend, self.shape, rtol=tol)
        self.stage(f"writing {', '.join(p.name for p in self.files[: len(made)])} and the metadata sidecar")
        self.meta.extra.update(
            {
                "source": self.src.name,
                "converter": f"{converter} {dist_version(converter)}" + (" fp16" if fp16 else ""),
                "output_names": json.dumps(dict(output_names)),
                **(extra or {}),
            }
        )
        with OutputSet() as out:
            for src, dst in zip(made, self.files, strict=False):
                shutil.copyfile(src, out.stage(dst))
            sidecar = out.stage(sidecar_path(self.dst))
            sidecar.write_text(json.dumps(self.meta.to_json_dict(), indent=2) + "\n", encoding="utf-8")

    def finish(self, shown: str | None = None) -> Path:
        """Announce the end and return the converted model's path."""
        self.stage.done(shown or f"{self.dst}")
        return self.dst
