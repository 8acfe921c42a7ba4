"""Post-training int8 quantization of an ONNX detector for the CPU: OpenVINO through NNCF, or ONNX Runtime QDQ.

`quantize` calibrates on real images prepared exactly as the detector prepares them (the model's own
`PreprocessConfig` and letterbox, read from the opened fp32 detector), keeps the end of the network in float, checks
the int8 model's detections against the fp32 model's (`lite.tools.parity.match_detections`), measures both models' speed
on this CPU (bare engine calls, alternated) and, given evaluation images, both COCO APs. The int8 model and its
``.lite.json`` sidecar (the model's metadata plus a ``quantization`` record: calibration set, settings, APs, speeds)
are written atomically, never over an existing file unless ``force``.

**What stays in float.** The *float tail of depth k* is every operation after which at most ``k`` weighted layers
(convolutions, matrix products) lie on the way to an output: depth 0 is the decoding arithmetic after the last
convolutions (sigmoids, box maths, concatenations), depth 1 adds the last convolution of each head branch (and
YOLOv8's distribution-focal ``Conv``), and so on into the head. It is read off the graph itself, for any family.
Without evaluation images the tail of depth `DEFAULT_DEPTH` stays float. With them the depth is *measured*:
the smallest depth whose AP drop is within ``max_drop`` (a binary search over the depths, each one quantized,
evaluated, kept or rejected); when no depth that leaves most convolutions int8 keeps the accuracy, nothing is
written and a `QuantizationError` says what was reached.

Heavy packages (``onnx``, ``onnxruntime``, ``openvino``, ``nncf``) are imported inside the functions that use them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lite.backends._onnx import QUANT_OPS, is_quantized
from lite.core.errors import (
    BackendNotInstalledError,
    InputError,
    ModelNotFoundError,
    QuantizationError,
    VerificationError,
)
from lite.core.files import OutputSet, refuse_overwrite
from lite.data.metadata import sidecar_path

__all__ = [
    "DEFAULT_DEPTH",
    "INT8_MATCH",
    "METHODS",
    "PAYS",
    "TARGETS",
    "QuantizationError",
    "QuantizeResult",
    "float_tail",
    "is_quantized",
    "quantize",
    "quantized_path",
    "tail_depths",
]

#: Targets: the engine that runs the int8 model and the suffix of the file written.
TARGETS = {"openvino": ".int8.xml", "ort": ".int8.onnx"}
#: int8 must be more than this many times faster than fp32 to be worth it (`QuantizeResult.pays`).
PAYS = 1.05
#: How the float layers are chosen with evaluation images (`quantize`'s ``method``).
METHODS = ("float_tail", "accuracy_control")
#: Float tail depth used when no evaluation images are given (decoding arithmetic + each branch's last layer).
DEFAULT_DEPTH = 1
#: How int8 detections must agree with fp32 ones (`lite.tools.parity.match_detections`): same class, IoU ≥ ``iou``,
#: score within ``score_tol``, and over the checked images at least ``fraction`` of the detections matched.
#: Measured (score threshold 0.25, 8 images of val2017_128, NNCF, float tail depth 1): YOLOv8n OpenVINO int8
#: calibrated on real images matched 0.86-0.95 of its detections at IoU 0.6 with scores within 0.15; calibrated on
#: 32 all-zero images, 0.00 (its best score on the first image: 0.011); on 32 uniform-noise images, 0.89 — the check
#: refuses a calibration that destroys the model, not a merely unrepresentative one (``--eval``'s AP measures that).
INT8_MATCH = {"iou": 0.6, "score_tol": 0.15, "fraction": 0.7}
#: ONNX ops with weights (what int8 speeds up), and OpenVINO's.
_ONNX_WEIGHTED = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
_OV_WEIGHTED = frozenset({"Convolution", "GroupConvolution", "ConvolutionBackpropData", "MatMul"})
#: A depth is only tried while at least this share of the weighted layers stays int8 (else int8 cannot pay).
_MIN_INT8_SHARE = 0.5
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass
class QuantizeResult:
    """What `quantize` made and measured.

    Attributes:
        path: The int8 model (``.int8.xml`` with its ``.bin``, or ``.int8.onnx``).
        target: ``"openvino"`` or ``"ort"``.
        depth: Float tail depth used; ``float_layers`` names the layers kept in float.
        method: ``"float_tail"`` (the float tail of ``depth`` kept float) or ``"accuracy_control"`` (NNCF's
            ``quantize_with_accuracy_control``: the layers whose int8 cost most AP reverted to float).
        float_layers: Names of the weighted layers left in float.
        fp32_ms: Median bare call of the fp32 model on the target engine (ms).
        int8_ms: Median bare call of the int8 model (ms).
        ort_fp32_ms: Median bare ``session.run`` of the fp32 ONNX on ONNX Runtime (ms).
        fp32_ap: COCO AP of the fp32 model on the evaluation images (None without them).
        int8_ap: COCO AP of the int8 model.
        tried: Per depth tried, its AP (None: not evaluated).
        match: Mean share of fp32 detections matched by the int8 model on the checked images.
        threads: Engine threads of the speed measurement.
        calib: Calibration folder and image count.
        notes: Warnings raised on the way (same folders, speed not gained...).
    """

    path: Path
    target: str
    depth: int
    float_layers: list[str]
    fp32_ms: float
    int8_ms: float
    ort_fp32_ms: float
    fp32_ap: float | None = None
    int8_ap: float | None = None
    tried: dict[int, float | None] = field(default_factory=dict)
    method: str = "float_tail"
    match: float = 1.0
    threads: int | None = None
    calib: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def speedup(self) -> float:
        """fp32 time / int8 time on the target engine."""
        return self.fp32_ms / self.int8_ms

    @property
    def speedup_vs_ort(self) -> float:
        """ONNX Runtime fp32 time / int8 time."""
        return self.ort_fp32_ms / self.int8_ms

    @property
    def pays(self) -> bool:
        """int8 is more than `PAYS`× faster than fp32 both on the same engine and on ONNX Runtime (an int8 model
        slower than the fp32 model on another engine is not worth it either)."""
        return min(self.speedup, self.speedup_vs_ort) > PAYS

    def verdict(self) -> str | None:
        """Why int8 is not worth it here, in one sentence (None when it pays)."""
        if self.speedup <= PAYS:
            return (
                f"int8 is not faster here ({self.speedup:.2f}x the fp32 model on {self.target}, <= {PAYS}x): keep "
                "the fp32 model (depthwise networks gain little from int8 on CPUs)"
            )
        if self.speedup_vs_ort <= PAYS:
            return (
                f"int8 on {self.target} is not faster than the fp32 model on ONNX Runtime ({self.speedup_vs_ort:.2f}x, "
                f"<= {PAYS}x): keep the fp32 model on ONNX Runtime"
            )
        return None

    def record(self) -> dict[str, Any]:
        """The JSON-ready record written into the sidecar."""
        out = asdict(self)
        out["path"] = self.path.name
        out["tried"] = {str(k): v for k, v in self.tried.items()}
        out.update(speedup=round(self.speedup, 3), speedup_vs_ort=round(self.speedup_vs_ort, 3), pays=self.pays)
        return out

    def kept(self) -> str:
        """How the float layers were chosen, in words."""
        if self.method == "accuracy_control":
            return "NNCF accuracy control"
        return f"float tail depth {self.depth}"

    def summary(self) -> str:
        """Lines for the command line: speeds, APs and the verdict."""
        ap = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        lines = [
            f"{'model':<10}{'ms/call':>10}{'AP':>9}",
            f"{'fp32':<10}{self.fp32_ms:>10.2f}{ap(self.fp32_ap):>9}   ({self.target}; ONNX Runtime fp32: "
            f"{self.ort_fp32_ms:.2f} ms)",
            f"{'int8':<10}{self.int8_ms:>10.2f}{ap(self.int8_ap):>9}",
            f"int8 is {self.speedup:.2f}x the fp32 speed on {self.target} "
            f"({self.speedup_vs_ort:.2f}x ONNX Runtime fp32), {self.threads or 'default'} thread(s); "
            f"{self.kept()} ({len(self.float_layers)} weighted layers float)",
        ]
        why = self.verdict()
        if why:
            lines.append(why)
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# graph reading
# ----------------------------------------------------------------------------------------------
def tail_depths(nodes: Sequence[tuple[str, bool, Sequence[str]]]) -> dict[str, int]:
    """Per node, the most weighted layers on any path from it (itself included) to an output.

    Args:
        nodes: ``(name, weighted, consumer names)`` per node, in topological order.

    Returns:
        Name → depth (decoding arithmetic after the last convolutions: 0; the last convolution of a branch: 1).
    """
    depth: dict[str, int] = {}
    for name, weighted, consumers in reversed(nodes):
        after = max((depth[c] for c in consumers if c in depth), default=0)
        depth[name] = after + int(weighted)
    return depth


def float_tail(nodes: Sequence[tuple[str, bool, Sequence[str]]], depth: int) -> list[str]:
    """Names of the nodes in the float tail of ``depth`` (see the module docs), in graph order."""
    d = tail_depths(nodes)
    return [name for name, _, _ in nodes if d[name] <= depth]


def _onnx_nodes(model: Any) -> list[tuple[str, bool, list[str]]]:
    """``(name, weighted, consumers)`` of every ONNX node (unnamed nodes get their first output's name)."""
    names = [n.name or n.output[0] for n in model.graph.node]
    readers: dict[str, list[str]] = {}
    for name, node in zip(names, model.graph.node, strict=True):
        for x in node.input:
            readers.setdefault(x, []).append(name)
    return [
        (name, node.op_type in _ONNX_WEIGHTED, [r for o in node.output for r in readers.get(o, [])])
        for name, node in zip(names, model.graph.node, strict=True)
    ]


def _ov_nodes(model: Any) -> list[tuple[str, bool, list[str]]]:
    """``(friendly name, weighted, consumers)`` of every OpenVINO op (parameters, constants, results left out)."""
    skip = {"Parameter", "Constant", "Result"}
    out = []
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        if kind in skip:
            continue
        consumers = [t.get_node().get_friendly_name() for o in op.outputs() for t in o.get_target_inputs()]
        out.append((op.get_friendly_name(), kind in _OV_WEIGHTED, consumers))
    return out


def _max_depth(nodes: Sequence[tuple[str, bool, Sequence[str]]]) -> int:
    """The largest depth that leaves at least `_MIN_INT8_SHARE` of the weighted layers int8."""
    d = tail_depths(nodes)
    weighted = sorted(d[n] for n, w, _ in nodes if w)
    if not weighted:
        return 0
    keep = weighted[int(len(weighted) * (1 - _MIN_INT8_SHARE))]
    return max(0, keep - 1)


# ----------------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------------
def _images(folder: str | Path, what: str, limit: int | None) -> list[Path]:
    """The image files of a folder (sorted by name), the first ``limit``."""
    p = Path(folder)
    if not p.is_dir():
        raise InputError(f"{what}: expected a folder of images, got {p} (not a directory)")
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in _IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{what}: no images ({'/'.join(_IMAGE_SUFFIXES)}) in {p}")
    if limit is not None:
        if limit < 1:
            raise InputError(f"images: expected a positive count, got {limit}")
        files = files[:limit]
    return files


def quantized_path(onnx: str | Path, out: str | Path | None, to: str) -> Path:
    """Where the int8 model goes: ``out`` (a file with the target's suffix, or a folder), else
    ``./<stem>.int8.xml`` / ``./<stem>.int8.onnx`` in the current directory."""
    suffix = TARGETS[to]
    name = Path(onnx).stem + suffix
    if out is None:
        return Path.cwd() / name
    o = Path(out)
    if o.is_dir() or not o.suffix or str(out).endswith(("/", os.sep)):
        return o / name
    if o.suffix.lower() != "." + suffix.rsplit(".", 1)[-1]:
        raise InputError(f"out: expected a folder or a {suffix} file for --to {to}, got {out}")
    return o


def _outputs(primary: Path, to: str) -> list[Path]:
    files = [primary, primary.with_suffix(".bin")] if to == "openvino" else [primary]
    return [*files, sidecar_path(primary)]


def _import_nncf() -> Any:
    """``import nncf`` with OpenVINO's telemetry hidden (nncf reports through ``openvino_telemetry`` otherwise)."""
    from lite.backends.openvino import import_openvino

    import_openvino()
    if "nncf" in sys.modules:
        return sys.modules["nncf"]
    hide = "openvino_telemetry" not in sys.modules
    if hide:
        sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]
    try:
        import nncf
    except ImportError as e:
        raise BackendNotInstalledError(
            "OpenVINO int8 quantization needs nncf: pip install 'lite-detect[quantize]'"
        ) from e
    finally:
        if hide and sys.modules.get("openvino_telemetry", 0) is None:
            del sys.modules["openvino_telemetry"]
    nncf.set_log_level(logging.ERROR)  # its INFO lines list every ignored node
    return nncf


# ----------------------------------------------------------------------------------------------
# the two quantizers: one int8 model file per call, in a work folder
# ----------------------------------------------------------------------------------------------
def _ov_products(model: Any) -> list[str]:
    """Names of the OpenVINO ``Multiply`` ops whose two factors are both activations: HardSwish's x·hsigmoid(x)
    (which lite's in-memory ``HardSigmoid`` rewrite leaves as plain ops), squeeze-and-excitation scaling, SiLU's
    x·σ(x). Quantizing both factors of such a product compounds their rounding, and the product has no weights
    for int8 to speed up: measured on YOLOv6Lite-S (val2017_128), NNCF int8 loses 0.107 AP with them quantized and
    0.004 with them in float."""

    def constant(node: Any) -> bool:
        while node.get_type_name() == "Convert":  # fp16-compressed constants
            node = node.input_value(0).get_node()
        return node.get_type_name() == "Constant"

    return [
        op.get_friendly_name()
        for op in model.get_ordered_ops()
        if op.get_type_name() == "Multiply" and not any(constant(v.get_node()) for v in op.input_values())
    ]


def _ov_scope(nncf: Any, model: Any, depth: int) -> tuple[Any, list[str]]:
    """NNCF's ignored scope: the float tail of ``depth`` and the activation products (`_ov_products`); and the
    tail's names."""
    tail = float_tail(_ov_nodes(model), depth)
    names = list(dict.fromkeys([*tail, *_ov_products(model)]))
    return (nncf.IgnoredScope(names=names, validate=False) if names else None), tail


def _quantize_openvino(
    src: Path, tensors: list[np.ndarray], input_name: str, depth: int, work: Path
) -> tuple[Path, list[str]]:
    """NNCF post-training quantization (MIXED preset: symmetric weights, asymmetric activations) of the model as
    the OpenVINO backend reads it; the float tail of ``depth`` and the activation products in NNCF's ignored scope.
    Returns the IR and the weighted layers left float."""
    from lite.backends.openvino import import_openvino, read_onnx

    ov = import_openvino()
    nncf = _import_nncf()
    model = read_onnx(ov.Core(), src, rewrite=True).model
    scope, _ = _ov_scope(nncf, model, depth)
    dataset = nncf.Dataset(tensors, lambda t: {input_name: t})
    q = nncf.quantize(
        model, dataset, preset=nncf.QuantizationPreset.MIXED, subset_size=len(tensors), ignored_scope=scope
    )
    xml = work / f"int8_d{depth}.xml"
    ov.save_model(q, os.fspath(xml), compress_to_fp16=False)
    return xml, _ov_float_layers(q)


#: Detection settings of the AP measured during NNCF's accuracy control: `lite.tools.eval.coco`'s defaults
#: (YOLOv6's evaluator), so that the AP it keeps is the AP ``lite eval`` reports.
EVAL_SETTINGS = {"conf": 0.03, "iou": 0.65, "max_det": 300, "multi_label": True, "pre_nms_topk": 30000}
#: Evaluation images on which NNCF's accuracy control ranks the quantized layers (one AP per layer group: YOLOv8n
#: has 64 groups); the AP that must stay within ``max_drop`` is measured on every evaluation image.
RANKING_IMAGES = 32


def _eval_items(ref: Any, images: Path, ann: Path) -> tuple[dict[str, Any], Any, list[tuple[np.ndarray, Any, int]]]:
    """The annotations, category map and ``(tensor, transform, image id)`` of every evaluation image, prepared by
    the fp32 detector's own preprocessing."""
    from lite.tools.eval import annotated_images, category_map

    data, folder, records = annotated_images(images, ann)
    cmap = category_map(data["categories"], ref.names)
    return data, cmap, [(*ref.preprocess(str(folder / r["file_name"])), r["id"]) for r in records]


def _coco_validation(ref: Any, data: dict[str, Any], cmap: Any) -> Callable[[Any, Any], float]:
    """NNCF's ``validation_fn``: the COCO AP of an OpenVINO compiled model, its outputs decoded by the fp32
    detector's own post-processing (same layout, same settings as `lite.tools.eval.coco`)."""
    from lite.tools.eval import coco_results, evaluate

    names = [s.name for s in ref.backend.outputs]

    def validate(compiled: Any, items: Any) -> float:
        results: list[dict[str, Any]] = []
        ids = []
        for tensor, transform, image_id in items:
            got = compiled({0: tensor})
            outputs = {n: got[o] for n, o in zip(names, compiled.outputs, strict=True)}
            d = ref.postprocess(outputs, [transform], **EVAL_SETTINGS)[0]
            results += coco_results(image_id, d.xyxy, d.scores, d.class_ids, cmap)
            ids.append(image_id)
        return float(evaluate(data, results, image_ids=ids)[0][0])

    return validate


def _ov_float_layers(model: Any) -> list[str]:
    """Weighted OpenVINO ops left float by NNCF: their weights are still a plain float ``Constant`` (NNCF stores the
    weights of the layers it quantizes as int8 constants dequantized by ``Convert`` → ``Multiply``). The activation
    side cannot tell: NNCF moves activation quantizers up through ``Concat`` and ``Split``."""
    return [
        op.get_friendly_name()
        for op in model.get_ordered_ops()
        if op.get_type_name() in _OV_WEIGHTED and op.input_value(1).get_node().get_type_name() == "Constant"
    ]


def _accuracy_control_openvino(
    src: Path,
    tensors: list[np.ndarray],
    ref: Any,
    eval_images: Path,
    eval_ann: Path,
    max_drop: float,
    work: Path,
) -> tuple[Path, list[str]]:
    """NNCF's ``quantize_with_accuracy_control``: the whole network int8 (the decoding arithmetic, float tail of
    depth 0, in float), then the layers whose int8 costs most AP (ranked by measured COCO AP on the evaluation
    images) reverted to float one group at a time until the AP is within ``max_drop`` of fp32. Returns the IR and
    the weighted layers left float; a `QuantizationError` when NNCF cannot reach the accuracy."""
    from lite.backends.openvino import import_openvino, read_onnx

    ov = import_openvino()
    nncf = _import_nncf()
    from nncf.quantization.advanced_parameters import AdvancedAccuracyRestorerParameters

    model = read_onnx(ov.Core(), src, rewrite=True).model
    scope, _ = _ov_scope(nncf, model, 0)
    data, cmap, items = _eval_items(ref, eval_images, eval_ann)
    try:
        q = nncf.quantize_with_accuracy_control(
            model,
            nncf.Dataset(tensors, lambda t: {ref.input_name: t}),
            nncf.Dataset(items),
            _coco_validation(ref, data, cmap),
            max_drop=max_drop,
            preset=nncf.QuantizationPreset.MIXED,
            subset_size=len(tensors),
            ignored_scope=scope,
            advanced_accuracy_restorer_parameters=AdvancedAccuracyRestorerParameters(
                ranking_subset_size=min(RANKING_IMAGES, len(items))
            ),
        )
    except RuntimeError as e:  # nncf raises RuntimeError subclasses when the accuracy cannot be reached
        raise QuantizationError(
            f"NNCF's accuracy control could not keep the AP of {src.name} within {max_drop} of fp32: {e}. Keep the "
            "fp32 model, or allow a larger --max-drop"
        ) from e
    xml = work / "int8_accuracy_control.xml"
    ov.save_model(q, os.fspath(xml), compress_to_fp16=False)
    return xml, _ov_float_layers(q)


class _Reader:
    """The calibration images for ``onnxruntime.quantization`` (its ``CalibrationDataReader`` protocol)."""

    def __init__(self, tensors: list[np.ndarray], name: str) -> None:
        self._it = iter(tensors)
        self._name = name

    def get_next(self) -> dict[str, np.ndarray] | None:
        t = next(self._it, None)
        return None if t is None else {self._name: t}


def _name_nodes(model: Any) -> int:
    """Name every unnamed node of an ``onnx.ModelProto`` after its first output (as `_onnx_nodes` calls it), in
    place; returns how many were named. ``quantize_static``'s ``nodes_to_exclude`` matches names only: unnamed, the
    float tail of YOLOv6Lite's decoded export (134 of its 479 nodes have no name, its final ``Concat`` of boxes and
    scores among them) was quantized, scores and pixel coordinates on one uint8 scale, and every score became 0."""
    taken = {n.name for n in model.graph.node if n.name}
    named = 0
    for n in model.graph.node:
        if not n.name:
            name = n.output[0] if n.output[0] not in taken else f"{n.output[0]}__lite_node"
            n.name = name
            taken.add(name)
            named += 1
    return named


def _onnx_products(model: Any) -> list[str]:
    """Names of the ONNX ``Mul`` nodes whose two factors are both activations (neither an initializer nor a
    ``Constant``): kept float for the reason `_ov_products` gives."""
    consts = {t.name for t in model.graph.initializer}
    consts |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    return [
        n.name or n.output[0] for n in model.graph.node if n.op_type == "Mul" and not any(i in consts for i in n.input)
    ]


def _quantize_ort(
    src: Path, tensors: list[np.ndarray], input_name: str, depth: int, work: Path
) -> tuple[Path, list[str]]:
    """ONNX Runtime static QDQ quantization (per-channel int8 weights, uint8 activations, min-max calibration); the
    float tail of ``depth`` and the activation products (`_onnx_products`) excluded. Returns the ONNX file and the
    weighted layers left float."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepped = work / "prepped.onnx"
    if not prepped.exists():
        quant_pre_process(os.fspath(src), os.fspath(prepped), skip_symbolic_shape=True)
        model = onnx.load(os.fspath(prepped))
        if _name_nodes(model):  # nodes_to_exclude matches node names: an unnamed node could not be kept float
            onnx.save(model, os.fspath(prepped))
    model = onnx.load(os.fspath(prepped))
    nodes = _onnx_nodes(model)
    tail = float_tail(nodes, depth)
    weighted = {n for n, w, _ in nodes if w}
    exclude = list(dict.fromkeys([*tail, *_onnx_products(model)]))
    out = work / f"int8_d{depth}.onnx"
    quantize_static(
        os.fspath(prepped),
        os.fspath(out),
        _Reader(tensors, input_name),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=exclude,
    )
    return out, [n for n in tail if n in weighted]


_QUANTIZERS: dict[str, Callable[..., tuple[Path, list[str]]]] = {"openvino": _quantize_openvino, "ort": _quantize_ort}


# ----------------------------------------------------------------------------------------------
# measuring
# ----------------------------------------------------------------------------------------------
def _open(path: Path, to: str, family: str, meta_json: dict[str, Any], threads: int | None) -> Any:
    """A detector on a (work or final) model file with the fp32 model's metadata written beside it."""
    from lite.cv.detector import Detector

    sidecar_path(path).write_text(json.dumps(meta_json), encoding="utf-8")
    return Detector.from_file(path, family=family, backend=to, threads=threads, fuse_preprocess=False)


def _ap(det: Any, images: Path, ann: Path) -> float:
    from lite.tools.eval import coco

    return float(coco(det, images, ann, progress=False).AP)


def _match(ref: Any, det: Any, tensors: list[tuple[np.ndarray, Any]]) -> float:
    """Mean share of the fp32 detections the int8 model matches (`INT8_MATCH`) over prepared inputs."""
    from lite.tools.parity import match_detections

    shares = []
    for tensor, transform in tensors:
        a = ref.postprocess(ref.infer(tensor), [transform])[0]
        b = det.postprocess(det.infer(tensor), [transform])[0]
        d = match_detections(a, b, iou=INT8_MATCH["iou"], score_tol=INT8_MATCH["score_tol"], conf=ref.conf)
        shares.append(d.fraction)
    return float(np.mean(shares))


def time_calls(runners: Mapping[str, Callable[[], Any]], calls: int = 30, warmup: int = 5) -> dict[str, float]:
    """Median ms of each runner, the runners alternated call by call (a burst of load hits all alike)."""
    for fn in runners.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(calls):
        for k, fn in runners.items():
            t0 = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t0) * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


# ----------------------------------------------------------------------------------------------
# quantize
# ----------------------------------------------------------------------------------------------
def _check_inputs(
    src: Path, to: str, calib: Path, eval_images: Any, eval_ann: Any, max_drop: float, method: str, depth: Any
) -> list[str]:
    notes = []
    if not src.is_file():
        raise ModelNotFoundError(f"model not found: {src} (absolute: {src.resolve()})")
    if src.suffix.lower() != ".onnx":
        raise InputError(f"quantize: expected an fp32 .onnx model, got {src.name}; export or convert it to ONNX first")
    if to not in TARGETS:
        raise InputError(f"to: expected one of {sorted(TARGETS)}, got {to!r}")
    if (eval_images is None) != (eval_ann is None):
        raise InputError("eval: give both the evaluation images folder and its COCO annotations JSON, or neither")
    if method not in METHODS:
        raise InputError(f"method: expected one of {list(METHODS)}, got {method!r}")
    if method == "accuracy_control" and (to != "openvino" or eval_images is None or depth is not None):
        raise InputError(
            "method='accuracy_control' is NNCF's (to='openvino') and needs evaluation images, without depth="
        )
    if not (0.0 <= max_drop < 1.0):
        raise InputError(f"max_drop: expected an AP drop in [0, 1), got {max_drop}")
    if eval_images is not None and Path(eval_images).resolve() == calib.resolve():
        notes.append(
            f"the calibration and evaluation images are the same folder ({calib}): the measured AP is optimistic; "
            "evaluate on images the calibration did not see"
        )
    return notes


def quantize(
    model: str | Path,
    calib: str | Path,
    out: str | Path | None = None,
    *,
    to: str = "openvino",
    images: int | None = 300,
    eval_images: str | Path | None = None,
    eval_ann: str | Path | None = None,
    max_drop: float = 0.01,
    depth: int | None = None,
    method: str = "float_tail",
    threads: int | None = None,
    force: bool = False,
    calls: int = 30,
    progress: Callable[[str], None] | None = None,
) -> QuantizeResult:
    """Quantize an fp32 ONNX detector to int8 for the CPU, measured against the fp32 model.

    Args:
        model: The fp32 ``.onnx`` detector.
        calib: Folder of calibration images (real images of the deployment domain; 100-300 are enough).
        out: The int8 model file (``.int8.xml`` / ``.int8.onnx``) or a folder (default: the current directory).
        to: ``"openvino"`` (NNCF) or ``"ort"`` (ONNX Runtime static QDQ).
        images: Calibration images used (the first ones by name; None: all).
        eval_images: Folder of evaluation images (with ``eval_ann``): the float tail is then chosen by measured AP.
        eval_ann: COCO instances JSON of ``eval_images``.
        max_drop: Largest AP drop accepted (absolute; with evaluation images).
        depth: Float tail depth to use as is (None: the smallest that keeps the AP within ``max_drop`` with evaluation
            images, else `DEFAULT_DEPTH`); with evaluation images its AP is measured and recorded.
        method: With evaluation images, how the float layers are chosen: ``"float_tail"`` (the smallest float tail
            that keeps the AP) or ``"accuracy_control"`` (OpenVINO only: NNCF's ``quantize_with_accuracy_control``,
            layers ranked by measured AP; much slower).
        threads: Engine threads for the speed measurement and evaluation (None: the engine's default).
        force: Replace existing output files.
        calls: Timed calls per model (alternated).
        progress: Called with one line per stage (None: silent).

    Returns:
        The `QuantizeResult` (``result.summary()`` prints speeds, APs and the verdict).

    Raises:
        ModelNotFoundError: The model does not exist.
        InputError: Not an ``.onnx`` model, an already quantized one, a bad folder or option.
        OutputExistsError: An output exists and ``force`` is False (before any work).
        BackendNotInstalledError: nncf / openvino / onnxruntime / onnx / pycocotools missing.
        QuantizationError: No float tail keeps the AP within ``max_drop``.
        VerificationError: The int8 model's detections disagree with the fp32 model's.
    """
    import onnx

    say = progress or (lambda _msg: None)
    src, calib = Path(model), Path(calib)
    notes = _check_inputs(src, to, calib, eval_images, eval_ann, max_drop, method, depth)
    for n in notes:
        warnings.warn(n, UserWarning, stacklevel=2)
    if is_quantized(onnx.load(os.fspath(src), load_external_data=False)):
        raise InputError(
            f"{src.name} is already quantized (it holds {', '.join(sorted(QUANT_OPS & _ops(src)))}); quantize the "
            "fp32 model it was made from"
        )
    dst = quantized_path(src, out, to)
    files = _outputs(dst, to)
    refuse_overwrite(files, force=force)
    calib_files = _images(calib, "calib", images)

    from lite.convert._onnx_meta import load_onnx, onnx_meta
    from lite.cv.detector import Detector

    ref = Detector.from_file(src, backend="ort", threads=threads, fuse_preprocess=False)
    try:
        with tempfile.TemporaryDirectory(prefix="lite-quantize-") as tmp:
            work = Path(tmp)
            meta = onnx_meta(src, load_onnx(src))
            meta_json = meta.to_json_dict()
            say(f"preparing {len(calib_files)} calibration images through {type(ref).__name__}'s preprocessing")
            tensors = [ref.preprocess(str(p))[0] for p in calib_files]
            check_files = calib_files[:8] if eval_images is None else _images(eval_images, "eval", 8)
            checks = [ref.preprocess(str(p)) for p in check_files]
            result = _search(src, to, ref, tensors, checks, work, meta_json, threads, depth, eval_images, eval_ann,
                             max_drop, method, say)  # fmt: skip
            result.notes = notes
            result.calib = {"folder": str(calib.resolve()), "images": len(calib_files),
                            "first": calib_files[0].name, "last": calib_files[-1].name}  # fmt: skip
            say("timing fp32 and int8 (alternated calls)")
            _time(result, ref, src, tensors[0], meta_json, threads, calls)
            made, result.path = result.path, dst
            say(f"writing {', '.join(f.name for f in files)}")
            meta.extra["quantization"] = json.dumps(result.record())
            _write(made, to, files, meta.to_json_dict())
    finally:
        ref.close()
    return result


def _time(
    result: QuantizeResult,
    ref: Any,
    src: Path,
    tensor: np.ndarray,
    meta_json: dict[str, Any],
    threads: int | None,
    calls: int,
) -> None:
    """Time the fp32 ONNX on ONNX Runtime, the fp32 model on the target engine and the int8 model (bare calls,
    alternated); fill the result's speeds and say so when int8 does not pay."""
    from lite.backends import create

    to = result.target
    feed = {ref.input_name: tensor}
    det = _open(result.path, to, ref.family, meta_json, threads)
    same = None if to == "ort" else create(src, to, threads=threads)
    try:
        runners = {"ort": ref.backend.raw_runner(feed), "int8": det.backend.raw_runner(feed)}
        if same is not None:
            runners["fp32"] = same.raw_runner(feed)
        ms = time_calls(runners, calls=calls)
    finally:
        det.close()
        if same is not None:
            same.close()
    result.ort_fp32_ms, result.int8_ms, result.fp32_ms = ms["ort"], ms["int8"], ms.get("fp32", ms["ort"])
    result.threads = threads
    why = result.verdict()
    if why:
        result.notes.append(why)


def _write(made: Path, to: str, files: list[Path], sidecar: dict[str, Any]) -> None:
    """Copy the int8 model (and its ``.bin``) and write its sidecar, all renamed into place together."""
    sources = [made, made.with_suffix(".bin")] if to == "openvino" else [made]
    with OutputSet() as outs:
        for f, d in zip(sources, files, strict=False):
            shutil.copyfile(f, outs.stage(d))
        outs.stage(files[-1]).write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")


def _ops(src: Path) -> set[str]:
    import onnx

    return {n.op_type for n in onnx.load(os.fspath(src), load_external_data=False).graph.node}


def _search(
    src: Path,
    to: str,
    ref: Any,
    tensors: list[np.ndarray],
    checks: list[tuple[np.ndarray, Any]],
    work: Path,
    meta_json: dict[str, Any],
    threads: int | None,
    depth: int | None,
    eval_images: Any,
    eval_ann: Any,
    max_drop: float,
    method: str,
    say: Callable[[str], None],
) -> QuantizeResult:
    """Quantize at the given depth; or, with evaluation images, keep the AP: the smallest float tail that keeps it
    (binary search) or NNCF's accuracy control (OpenVINO, ``method="accuracy_control"``); verify."""
    quantizer = _QUANTIZERS[to]
    made: dict[int, tuple[Path, list[str]]] = {}
    aps: dict[int, float | None] = {}

    def make(k: int) -> tuple[Path, list[str]]:
        if k not in made:
            say(f"quantizing ({to}) with a float tail of depth {k}")
            made[k] = quantizer(src, tensors, ref.input_name, k, work)
        return made[k]

    def ap_of(k: int) -> float:
        path, _ = make(k)
        det = _open(path, to, ref.family, meta_json, threads)
        try:
            aps[k] = _ap(det, Path(eval_images), Path(eval_ann))
        finally:
            det.close()
        say(f"depth {k}: AP {aps[k]:.4f}")
        return aps[k]  # type: ignore[return-value]

    if depth is not None and int(depth) < 0:
        raise InputError(f"depth: expected a float tail depth >= 0, got {depth}")
    fp32_ap = None
    if eval_images is not None:
        say("evaluating the fp32 model")
        fp32_ap = _ap(ref, Path(eval_images), Path(eval_ann))
        say(f"fp32: AP {fp32_ap:.4f}")
    if depth is not None:
        chosen = int(depth)
        if fp32_ap is not None:
            ap_of(chosen)
    elif fp32_ap is not None and method == "accuracy_control":
        say(f"NNCF accuracy control: all int8, then the layers costing most AP back to float (max drop {max_drop})")
        chosen = 0
        made[chosen] = _accuracy_control_openvino(src, tensors, ref, Path(eval_images), Path(eval_ann), max_drop, work)
        if ap_of(chosen) < fp32_ap - max_drop:
            raise QuantizationError(
                f"NNCF's accuracy control left {src.name} at AP {aps[chosen]:.4f} through lite's detector, more than "
                f"{max_drop} below fp32 ({fp32_ap:.4f}). Keep the fp32 model, or allow a larger --max-drop"
            )
    elif fp32_ap is not None:
        import onnx

        nodes = _onnx_nodes(onnx.load(os.fspath(src)))
        found = _smallest_passing(ap_of, fp32_ap - max_drop, _max_depth(nodes))
        if found is None:
            best = max((v, k) for k, v in aps.items() if v is not None)
            raise QuantizationError(
                f"no float tail keeps the AP of {src.name} within {max_drop} of fp32 ({fp32_ap:.4f}) while most "
                f"layers stay int8: depth {best[1]} reached {best[0]:.4f} (tried {_fmt(aps)}). Keep the fp32 model, "
                "or allow a larger --max-drop"
            )
        chosen = found
    else:
        chosen = DEFAULT_DEPTH
    path, floats = make(chosen)
    det = _open(path, to, ref.family, meta_json, threads)
    try:
        share = _match(ref, det, checks)
    finally:
        det.close()
    say(f"int8 detections match {share:.0%} of the fp32 ones on {len(checks)} images")
    if not share >= INT8_MATCH["fraction"]:
        raise VerificationError(
            f"the int8 model of {src.name} matches only {share:.0%} of the fp32 detections on {len(checks)} images "
            f"(expected >= {INT8_MATCH['fraction']:.0%}: same class, IoU >= {INT8_MATCH['iou']}, score within "
            f"{INT8_MATCH['score_tol']}); check that the calibration images are real images of the model's domain"
        )
    return QuantizeResult(
        path=path, target=to, depth=chosen, method=method, float_layers=floats, fp32_ms=math.nan, int8_ms=math.nan,
        ort_fp32_ms=math.nan, fp32_ap=fp32_ap, int8_ap=aps.get(chosen), tried=dict(sorted(aps.items())), match=share,
    )  # fmt: skip


def _smallest_passing(ap_of: Callable[[int], float], floor: float, top: int) -> int | None:
    """The smallest depth in ``0..top`` whose AP reaches ``floor``: depths 0, 1, 2, 4, 8 … until one passes, then a
    binary search between it and the last that failed (AP grows with the float tail, and small tails are the likely
    answer, so few depths are quantized). None when even ``top`` fails."""
    if ap_of(0) >= floor:
        return 0
    failed, k = 0, 1
    while True:
        k = min(k, top)
        if k <= failed:
            return None
        if ap_of(k) >= floor:
            break
        failed, k = k, 2 * k
    while k - failed > 1:  # invariant: failed fails, k passes
        mid = (failed + k) // 2
        if ap_of(mid) >= floor:
            k = mid
        else:
            failed = mid
    return k


def _fmt(aps: Mapping[int, float | None]) -> str:
    return ", ".join(f"depth {k}: {v:.4f}" for k, v in sorted(aps.items()) if v is not None)
