"""ONNX → OpenVINO IR (``.xml`` + ``.bin``) through ``openvino.Core().read_model`` and ``openvino.save_model``.

OpenVINO's own converters (``openvino.convert_model``, ``ovc``) are not used: they carry telemetry (and ``openvino``
is imported without it, see :func:`lite.backends.openvino.import_openvino`). The ONNX file is
read exactly as the OpenVINO backend reads it (:func:`lite.backends.openvino.read_onnx`: the ``Gather`` channel
shuffle OpenVINO computes wrongly and the ``HardSigmoid`` it runs slowly are rewritten in memory, with shapes that
stay dynamic), saved into a temporary
folder beside the destination, checked against ONNX Runtime on a test tensor (in a child process), then moved into
place (``.bin`` first, then ``.xml``, each with an atomic rename). An existing output is only replaced with
``force=True``.

``fp16=True`` stores the weights as FP16 (``save_model``'s ``compress_to_fp16``; half the size); the model still
runs at the precision the backend asks for (FP32 by default).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lite.convert._common import VERIFY_RTOL, Conversion, output_path
from lite.convert._onnx_meta import graph_io, verify_conversion
from lite.errors import OutputExistsError

__all__ = ["onnx_to_openvino"]


def onnx_to_openvino(
    onnx: str | Path,
    out: str | Path | None = None,
    fp16: bool = False,
    *,
    verify: bool = True,
    progress: bool | None = None,
    force: bool = False,
) -> Path:
    """Convert an ONNX model to an OpenVINO IR ``.xml``/``.bin`` pair.

    Args:
        onnx: The ONNX file.
        out: The ``.xml`` to write (its ``.bin`` goes beside it) or a folder (a path without a suffix; default:
            ``<model>.xml`` next to the ONNX file).
        fp16: Store FP16 weights (half the size; results differ slightly).
        verify: Run the IR against ONNX Runtime on a test tensor (in a child process) and refuse an IR that
            disagrees.
        progress: Stage lines on stderr (None: when stderr is a terminal).
        force: Replace an existing ``.xml``/``.bin``.

    Returns:
        The ``.xml`` path. A ``<model>.xml.lite.json`` sidecar beside it carries the class names, strides, input
        size and layout, so the model opens with no arguments.

    Raises:
        ModelNotFoundError: The ONNX file does not exist.
        OutputExistsError: The ``.xml`` or ``.bin`` exists and ``force`` is False.
        BackendNotInstalledError: openvino or onnx is missing.
        ModelLoadError: OpenVINO cannot read the ONNX model.
        ConversionError: The IR does not load or crashes OpenVINO.
        VerificationError: The IR's outputs differ from ONNX Runtime's.
    """
    from lite.backends.openvino import QUANTIZED_RTOL, import_openvino, read_onnx

    job = Conversion("openvino", onnx, stages=3, verify=verify, progress=progress)
    xml_out = output_path(job.src, out, ".xml", "OpenVINO")
    bin_out = xml_out.with_suffix(".bin")
    existing = [p for p in (xml_out, bin_out) if p.exists()]
    if existing and not force:
        raise OutputExistsError(
            f"{', '.join(map(str, existing))} already exist{'s' if len(existing) == 1 else ''}; pass force=True "
            "(--force) to replace, or choose another out"
        )
    ov = import_openvino()
    job.stage("reading the ONNX model into OpenVINO (channel-shuffle Gathers and HardSigmoids rewritten)")
    read = read_onnx(ov.Core(), job.src, rewrite=True)
    xml_out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".lite-openvino-", dir=xml_out.parent) as tmp:
        xml_tmp = Path(tmp) / xml_out.name
        ov.save_model(read.model, os.fspath(xml_tmp), compress_to_fp16=bool(fp16))
        if verify:
            job.stage("checking the OpenVINO IR against ONNX Runtime")
            rtol = max(VERIFY_RTOL[bool(fp16)], QUANTIZED_RTOL if read.quantized else 0.0)
            verify_conversion(job.src, xml_tmp, "openvino", job.shape, rtol=rtol)
        job.stage(f"writing {xml_out.name}, {bin_out.name} and the metadata sidecar")
        os.replace(xml_tmp.with_suffix(".bin"), bin_out)
        os.replace(xml_tmp, xml_out)
    _, onnx_outputs = graph_io(job.model)
    return job.finish(
        xml_out,
        converter="openvino",
        fp16=fp16,
        output_names={name: name for name, _ in onnx_outputs},
        extra={f"rewritten_for_openvino_{k}": ",".join(v) for k, v in read.rewritten.items()} or None,
        shown=f"{xml_out} + {bin_out.name}",
    )
