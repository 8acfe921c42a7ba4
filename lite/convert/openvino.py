"""ONNX → OpenVINO IR (``.xml`` + ``.bin``) through ``openvino.Core().read_model`` and ``openvino.save_model``.

OpenVINO's own converters (``openvino.convert_model``, ``ovc``) are not used: they carry telemetry (and ``openvino``
is imported without it, see [`lite.backends.openvino.import_openvino`][lite.backends.openvino.import_openvino]). The
ONNX file is read exactly as the OpenVINO backend reads it
([`lite.backends.openvino.read_onnx`][lite.backends.openvino.read_onnx]: the ``Gather`` channel shuffle OpenVINO
computes wrongly and the ``HardSigmoid`` it runs slowly are rewritten in memory, with shapes that stay dynamic), saved
into a temporary folder beside the destination, checked against ONNX Runtime on a test tensor (in a child process),
then moved into place (``.bin`` first, then ``.xml``, each with an atomic rename). An existing output is only replaced
with ``force=True``.

``fp16=True`` stores the weights as FP16 (``save_model``'s ``compress_to_fp16``; half the size); the model still
runs at the precision the backend asks for (FP32 by default).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lite.convert._common import Conversion
from lite.convert._onnx_meta import graph_io
from lite.convert._registry import register_converter

__all__ = ["onnx_to_openvino"]


@register_converter("openvino", suffixes=(".xml", ".bin"), help="OpenVINO IR .xml/.bin (read_model + save_model)")
def onnx_to_openvino(
    onnx: str | Path,
    out: str | Path | None = None,
    fp16: bool = False,
    *,
    force: bool = False,
    verify: bool = True,
    progress: bool | None = None,
) -> Path:
    """Convert an ONNX model to an OpenVINO IR ``.xml``/``.bin`` pair.

    Args:
        onnx: The ONNX file.
        out: The ``.xml`` to write (its ``.bin`` goes beside it) or a folder (``<folder>/<model>.xml``; default: the
            current directory). See [`lite.convert.output_path`][lite.convert.output_path].
        fp16: Store FP16 weights (half the size; results differ slightly).
        force: Replace existing output files (otherwise an existing one is an error before any work).
        verify: Run the IR against ONNX Runtime on a test tensor (in a child process) and refuse an IR that
            disagrees.
        progress: Stage lines on stderr (None: when stderr is a terminal).

    Returns:
        The ``.xml`` path. A ``<model>.xml.lite.json`` sidecar beside it carries the class names, strides, input
        size and layout, so the model opens with no arguments.

    Raises:
        ModelNotFoundError: The ONNX file does not exist.
        OutputExistsError: The ``.xml``, ``.bin`` or sidecar exists and ``force`` is False.
        BackendNotInstalledError: openvino or onnx is missing.
        ModelLoadError: OpenVINO cannot read the ONNX model.
        ConversionError: The IR does not load or crashes OpenVINO.
        VerificationError: The IR's outputs differ from ONNX Runtime's.
    """
    from lite.backends.openvino import import_openvino, read_onnx

    job = Conversion("openvino", onnx, out, force=force, stages=3, verify=verify, progress=progress)
    ov = import_openvino()
    job.stage("reading the ONNX model into OpenVINO (channel-shuffle Gathers and HardSigmoids rewritten)")
    read = read_onnx(ov.Core(), job.src, rewrite=True)
    with tempfile.TemporaryDirectory(prefix="lite-openvino-") as tmp:
        xml_tmp = Path(tmp) / "model.xml"
        ov.save_model(read.model, os.fspath(xml_tmp), compress_to_fp16=bool(fp16))
        _, onnx_outputs = graph_io(job.model)
        job.check_and_place(
            xml_tmp,
            [xml_tmp, xml_tmp.with_suffix(".bin")],
            fp16=fp16,
            converter="openvino",
            output_names={name: name for name, _ in onnx_outputs},
            extra={f"rewritten_for_openvino_{k}": ",".join(v) for k, v in read.rewritten.items()} or None,
            quantized=read.quantized,  # the tolerance lite compare applies to the same pair
        )
    return job.finish(f"{job.dst} + {job.files[1].name}")
