"""NCNN adapter (``backend="ncnn"``, a text ``.param`` with its ``.bin`` beside it).

NCNN models are shape-free: the ``.param`` names blobs but declares no output shapes, so the
output specs have ``rank_known=False`` and the detector settles the layout with one
inference. The input spec is ``(batch, C, None, None)``; NCNN itself has no batch axis, so
a batch is run one image at a time (one extractor per image) and the outputs are stacked on
a new leading axis, which makes them look like the ONNX outputs they were converted from.

Input and output blob names come from the ``.param`` itself: the inputs are the tops of the
``Input`` layers, the outputs are the blobs no layer consumes, both in the order the file
declares them.

The ``.param`` is parsed and loaded from memory (``Net.load_param_mem``), which lets the
adapter fix one known defect of older converters on the way: a 1×1 ``Convolution`` applied to
the 1-D output of global pooling (squeeze-and-excitation blocks). NCNN runs such a layer
through a deprecated compatibility path that prints two lines to stderr on *every* inference;
it is the same computation as an ``InnerProduct`` with the same weights (same ``.bin`` layout:
``weight_data_size`` floats behind one 4-byte storage-type tag, then ``num_output`` bias
floats), so the adapter rewrites those layers to ``InnerProduct`` in the in-memory text. The
files are not touched and the results are unchanged.

Before NCNN sees anything, the adapter refuses what it cannot run right:

- graphs with a post-processing or two-stage layer inside (``DetectionOutput``,
  ``YoloDetectionOutput``, ``Yolov3DetectionOutput``, ``PriorBox``, ``Proposal``, ``ROIPooling``,
  ``ROIAlign``, ``PSROIPooling``): their outputs are NCNN's own detections or region features, not
  head tensors lite decodes, and some of them crash the process on inputs they do not expect;
- a ``.bin`` that is not the one the ``.param`` was written with (truncated, or another model's
  weights, which NCNN loads without a word): the ``.bin`` must be exactly as long as the weights
  the ``.param``'s layers read (see ``lite.backends._ncnn_bin``).

An ``Input`` layer that declares its size (``0=w 1=h``) makes the input spec fixed at that size.
What NCNN prints (to stderr, from C) while the model loads, or on the first run at an input
shape, is captured and quoted in lite's error when one follows, and dropped otherwise.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lite.backends import register_backend, require
from lite.backends._capture import capture_output, engine_said, run_captured
from lite.backends._ncnn_bin import check_bin
from lite.backends.base import Backend, TensorSpec
from lite.core.checks import check_threads
from lite.core.errors import DeviceError, InputError, ModelLoadError, ModelNotFoundError

__all__ = ["UNSUPPORTED_LAYERS", "NcnnBackend", "NcnnLayer", "NcnnParam", "parse_param", "rewrite_1d_convolutions"]

MAGIC = "7767517"

#: Layer types lite refuses in an NCNN graph, with what they are.
UNSUPPORTED_LAYERS = {
    "DetectionOutput": "SSD-style decoding and NMS inside NCNN",
    "YoloDetectionOutput": "YOLOv2-style decoding and NMS inside NCNN",
    "Yolov3DetectionOutput": "YOLOv3-style decoding and NMS inside NCNN",
    "PriorBox": "SSD prior boxes (its graph ends in decoding inside NCNN)",
    "Proposal": "region proposals of a two-stage detector",
    "ROIPooling": "per-region pooling of a two-stage detector",
    "ROIAlign": "per-region pooling of a two-stage detector",
    "PSROIPooling": "per-region pooling of a two-stage (R-FCN) detector",
}
SUPPORTED_OUTPUTS = (
    "lite runs NCNN detectors whose outputs are the raw head tensors it decodes itself "
    "(YOLOv5, YOLOv6, YOLOv8, YOLOX and NanoDet layouts), not graphs with post-processing inside"
)

# Layers whose single output has the rank of their (first) input. BinaryOp is handled apart.
_RANK_PRESERVING = frozenset(
    {
        "AbsVal", "BatchNorm", "Bias", "BNLL", "Clip", "Dropout", "ELU", "Erf", "Exp", "GELU",
        "HardSigmoid", "HardSwish", "Log", "Mish", "Noop", "Power", "PReLU", "ReLU", "Scale",
        "SELU", "Sigmoid", "SiLU", "Softmax", "Softplus", "Split", "Swish", "TanH", "Threshold", "UnaryOp",
    }
)  # fmt: skip
# Convolution parameter ids the InnerProduct rewrite understands (any other id: the layer is left alone).
_CONV_SAFE_KEYS = frozenset(
    {"0", "1", "11", "2", "12", "3", "13", "4", "14", "15", "16", "18", "5", "6", "8", "9", "17", "19", "-23310"}
)


@dataclass
class NcnnLayer:
    """One layer line of a text ``.param``.

    Attributes:
        type: Layer type, e.g. ``"Convolution"``.
        name: Layer name.
        bottoms: Input blob names.
        tops: Output blob names.
        params: ``key=value`` parameter tokens in file order (keys as written, arrays as ``-233xx``).
        line: Line number in the file (1-based).
    """

    type: str
    name: str
    bottoms: list[str]
    tops: list[str]
    params: dict[str, str] = field(default_factory=dict)
    line: int = 0

    def param(self, key: int | str, default: str | None = None) -> str | None:
        """The raw value of parameter ``key`` (or ``default``)."""
        return self.params.get(str(key), default)

    def int_param(self, key: int | str, default: int = 0) -> int:
        """Parameter ``key`` as an int (NCNN writes some ints as floats, such as ``1.0``)."""
        raw = self.params.get(str(key))
        return default if raw is None else int(float(raw))

    def to_line(self) -> str:
        """The layer as one ``.param`` line."""
        head = [self.type, self.name, str(len(self.bottoms)), str(len(self.tops)), *self.bottoms, *self.tops]
        return " ".join(head + [f"{k}={v}" for k, v in self.params.items()])


@dataclass
class NcnnParam:
    """A parsed text ``.param``: layers in order, plus the declared blob count."""

    layers: list[NcnnLayer]
    blob_count: int
    path: Path | None = None

    @property
    def inputs(self) -> list[NcnnLayer]:
        """The ``Input`` layers, in file order."""
        return [layer for layer in self.layers if layer.type == "Input"]

    @property
    def input_names(self) -> list[str]:
        """Input blob names (tops of the ``Input`` layers), in file order."""
        return [t for layer in self.inputs for t in layer.tops]

    @property
    def output_names(self) -> list[str]:
        """Blobs that no layer consumes, in the order the file produces them."""
        consumed = {b for layer in self.layers for b in layer.bottoms}
        seen: set[str] = set()
        out = []
        for layer in self.layers:
            for t in layer.tops:
                if t not in consumed and t not in seen:
                    seen.add(t)
                    out.append(t)
        return out

    def consumers(self, blob: str) -> list[NcnnLayer]:
        """Layers that take ``blob`` as an input."""
        return [layer for layer in self.layers if blob in layer.bottoms]

    def to_text(self) -> str:
        """The ``.param`` text (one layer per line)."""
        lines = [MAGIC, f"{len(self.layers)} {self.blob_count}"]
        lines += [layer.to_line() for layer in self.layers]
        return "\n".join(lines) + "\n"


def parse_param(text: str, path: str | Path | None = None) -> NcnnParam:
    """Parse the text of an NCNN ``.param`` file.

    Args:
        text: The file's text.
        path: The file, for error messages.

    Raises:
        ModelLoadError: Not a text ``.param`` (no ``7767517`` magic), a truncated file (fewer
            layer lines than declared, a line with fewer blobs than its counts), or a malformed token.
    """
    where = str(path) if path is not None else "<param text>"
    lines = [(i + 1, ln.strip()) for i, ln in enumerate(text.splitlines())]
    lines = [(i, ln) for i, ln in lines if ln]
    if not lines or lines[0][1] != MAGIC:
        got = lines[0][1][:40] if lines else "an empty file"
        raise ModelLoadError(
            f"{where} is not a text NCNN .param: expected the magic number {MAGIC} on the first line, got {got!r} "
            f"(binary .param.bin files are not supported; convert the model again with pnnx or onnx2ncnn)"
        )
    if len(lines) < 2:
        raise ModelLoadError(f"{where} is truncated: expected a 'layer_count blob_count' line after the magic number")
    try:
        layer_count, blob_count = (int(v) for v in lines[1][1].split())
    except ValueError as e:
        raise ModelLoadError(
            f"{where} line {lines[1][0]}: expected 'layer_count blob_count', got {lines[1][1]!r}"
        ) from e
    body = lines[2:]
    if len(body) < layer_count:
        raise ModelLoadError(
            f"{where} is truncated: it declares {layer_count} layers but has {len(body)} layer lines; "
            f"the file is incomplete, copy or convert it again"
        )
    if len(body) > layer_count:
        raise ModelLoadError(f"{where}: it declares {layer_count} layers but has {len(body)} layer lines")
    layers = [_parse_layer(no, ln, where) for no, ln in body]
    blobs = {b for layer in layers for b in (*layer.bottoms, *layer.tops)}
    if len(blobs) > blob_count:
        raise ModelLoadError(f"{where}: it declares {blob_count} blobs but its layers use {len(blobs)}")
    if not any(layer.type == "Input" for layer in layers):
        raise ModelLoadError(f"{where} has no Input layer, so there is no input blob to feed")
    return NcnnParam(layers, blob_count, Path(path) if path is not None else None)


def _parse_layer(no: int, line: str, where: str) -> NcnnLayer:
    tok = line.split()
    try:
        nb, nt = int(tok[2]), int(tok[3])
    except (IndexError, ValueError) as e:
        raise ModelLoadError(
            f"{where} line {no}: expected 'type name bottom_count top_count ...', got {line[:80]!r}"
        ) from e
    if len(tok) < 4 + nb + nt:
        raise ModelLoadError(
            f"{where} line {no} is truncated: layer {tok[1]!r} declares {nb} inputs and {nt} outputs "
            f"but the line has {len(tok) - 4} names"
        )
    params: dict[str, str] = {}
    for p in tok[4 + nb + nt :]:
        key, eq, value = p.partition("=")
        if not eq or not key.lstrip("-").isdigit() or not value:
            raise ModelLoadError(
                f"{where} line {no}: malformed parameter {p!r} in layer {tok[1]!r} (expected id=value)"
            )
        params[key] = value
    return NcnnLayer(tok[0], tok[1], tok[4 : 4 + nb], tok[4 + nb : 4 + nb + nt], params, no)


def _one_d_blobs(param: NcnnParam, rewritten: set[str]) -> set[str]:
    """Blobs that are certainly 1-D: global pooling outputs and what rank-preserving layers make of them."""
    one_d: set[str] = set()
    for layer in param.layers:
        bottoms_1d = bool(layer.bottoms) and all(b in one_d for b in layer.bottoms)
        if (
            (layer.type == "Pooling" and layer.int_param(4) == 1)
            or layer.type == "Flatten"
            or (layer.type in ("InnerProduct", "BinaryOp") and bottoms_1d)
            or (layer.type in _RANK_PRESERVING and layer.bottoms and layer.bottoms[0] in one_d)
            or layer.name in rewritten
        ):
            one_d.update(layer.tops)
    return one_d


def _as_inner_product(layer: NcnnLayer) -> NcnnLayer | None:
    """The equivalent InnerProduct of a 1×1 Convolution on a 1-D blob, or None when it is not plainly one."""
    if layer.type != "Convolution" or len(layer.bottoms) != 1 or len(layer.tops) != 1:
        return None
    if set(layer.params) - _CONV_SAFE_KEYS:
        return None
    k_w = layer.int_param(1)
    geometry = (
        k_w,
        layer.int_param(11, k_w),
        layer.int_param(2, 1),
        layer.int_param(12, layer.int_param(2, 1)),
        layer.int_param(3, 1),
        layer.int_param(13, layer.int_param(3, 1)),
    )
    if geometry != (1, 1, 1, 1, 1, 1):
        return None
    pads = [layer.int_param(k, 0) for k in ("4", "14", "15", "16")]
    if any(p not in (0, -233, -234) for p in pads):
        return None
    if layer.int_param(8) != 0 or layer.int_param(19) != 0:  # int8 scales / dynamic weights: different layouts
        return None
    num_output, weight_size = layer.int_param(0), layer.int_param(6)
    if num_output <= 0 or weight_size <= 0 or weight_size % num_output:
        return None
    params = {"0": str(num_output), "1": str(layer.int_param(5)), "2": str(weight_size)}
    if layer.int_param(9):
        params["9"] = layer.params["9"]
        if "-23310" in layer.params:
            params["-23310"] = layer.params["-23310"]
    return NcnnLayer("InnerProduct", layer.name, list(layer.bottoms), list(layer.tops), params, layer.line)


def rewrite_1d_convolutions(param: NcnnParam) -> tuple[NcnnParam, list[str]]:
    """Rewrite 1×1 Convolutions on 1-D blobs (after global pooling) as InnerProduct layers.

    Both layers read the same ``.bin`` records in the same order (weights with their storage
    tag, then the bias), so the ``.bin`` is used unchanged. Layers whose parameters do not
    plainly describe a 1×1, stride-1, unpadded, float convolution are left alone.

    Returns:
        ``(new_param, names of the rewritten layers)``; the input is not modified.
    """
    rewritten: set[str] = set()
    layers = list(param.layers)
    changed = True
    while changed:  # a rewritten layer makes its output 1-D, which may enable the next one
        changed = False
        one_d = _one_d_blobs(NcnnParam(layers, param.blob_count), rewritten)
        for i, layer in enumerate(layers):
            if layer.name in rewritten or layer.type != "Convolution" or not layer.bottoms:
                continue
            if layer.bottoms[0] in one_d:
                ip = _as_inner_product(layer)
                if ip is not None:
                    layers[i] = ip
                    rewritten.add(layer.name)
                    changed = True
    names = [layer.name for layer in layers if layer.name in rewritten]
    return NcnnParam(layers, param.blob_count, param.path), names


def refuse_unsupported(param: NcnnParam, path: str | Path | None = None) -> None:
    """Raise when the graph holds a layer type in ``UNSUPPORTED_LAYERS``.

    Raises:
        ModelLoadError: Naming the layer(s), what they are, and what lite supports.
    """
    found = [layer for layer in param.layers if layer.type in UNSUPPORTED_LAYERS]
    if not found:
        return
    first = found[0]
    where = str(path) if path is not None else "the .param"
    others = sorted({layer.type for layer in found[1:]} - {first.type})
    raise ModelLoadError(
        f"{where} holds a {first.type} layer ({first.name!r}, line {first.line}): "
        f"{UNSUPPORTED_LAYERS[first.type]}"
        + (f"; also {', '.join(others)}" if others else "")
        + f". {SUPPORTED_OUTPUTS}; export the model without its post-processing (end the graph at the head "
        f"convolutions) and run it again"
    )


def _default_bin(param_path: Path) -> Path:
    return param_path.with_suffix(".bin")


@register_backend("ncnn", suffixes=(".param",), requires=("ncnn",), extra="ncnn", title="NCNN")
class NcnnBackend(Backend):
    """An NCNN network on the CPU.

    Args:
        model_path: Text ``.param`` file.
        device: ``"cpu"`` (the only device this adapter drives).
        threads: ``opt.num_threads`` (None: NCNN's default, the number of big cores).
        bin_path: The weights (default: the ``.param`` path with suffix ``.bin``).
        fp16: Allow FP16 storage, packing and arithmetic where the CPU supports it (faster on
            ARM, slightly different results). Off by default: results match FP32 engines.
        rewrite_1d_conv: Load 1×1 Convolutions on 1-D blobs as InnerProduct (see the module
            docstring); ``False`` loads the ``.param`` exactly as written.
        light_mode: NCNN's light mode (free intermediate blobs as soon as possible).
        verify_bin: Check that the ``.bin`` is exactly as long as the weights the ``.param``
            reads (see ``lite.backends._ncnn_bin``). ``False`` skips the check: only for a
            graph whose layers lite counts wrongly (please report it).
        openmp_blocktime: Milliseconds NCNN's OpenMP workers spin after a layer before sleeping
            (None: NCNN's default, 20). 0 frees the cores at once for the caller's pre- and
            post-processing (see ``benchmarks/bench_overhead.py``).

    Raises:
        ModelNotFoundError: The ``.param`` or the ``.bin`` is missing.
        ModelLoadError: The ``.param`` is not a text NCNN param or is truncated, it holds a
            layer lite does not run (``UNSUPPORTED_LAYERS``), the ``.bin`` does not belong to
            it, or NCNN rejects a file (the message quotes what NCNN printed).
        DeviceError: A device other than ``"cpu"``.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        device: str = "cpu",
        threads: int | None = None,
        bin_path: str | Path | None = None,
        fp16: bool = False,
        rewrite_1d_conv: bool = True,
        light_mode: bool = True,
        verify_bin: bool = True,
        openmp_blocktime: int | None = None,
    ) -> None:
        super().__init__(model_path, device=device, threads=threads)
        if device.lower() != "cpu":
            raise DeviceError(f"backend 'ncnn' runs on device 'cpu' only; got device={device!r}")
        check_threads(threads)
        param_path = self.model_path
        if not param_path.is_file():
            raise ModelNotFoundError(f"NCNN .param not found: {param_path} (absolute: {param_path.resolve()})")
        self.bin_path = Path(bin_path) if bin_path is not None else _default_bin(param_path)
        if not self.bin_path.is_file():
            raise ModelNotFoundError(
                f"NCNN weights not found: {self.bin_path} (the .bin that goes with {param_path.name}); "
                f"put it beside the .param or pass bin_path="
            )
        try:
            text = param_path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise ModelLoadError(
                f"{param_path} is not a text NCNN .param (binary .param.bin files are not supported): {e}"
            ) from e
        param = parse_param(text, param_path)
        refuse_unsupported(param, param_path)
        as_written = param.layers  # the .bin is checked against the file's own layers
        self.rewritten: list[str] = []
        if rewrite_1d_conv:
            param, self.rewritten = rewrite_1d_convolutions(param)
        self.param = param
        self.fp16 = bool(fp16)

        ncnn = require("ncnn", "ncnn")
        self._ncnn = ncnn
        net = ncnn.Net()
        opt = net.opt
        opt.use_vulkan_compute = False
        opt.lightmode = bool(light_mode)
        for flag in ("use_fp16_storage", "use_fp16_packed", "use_fp16_arithmetic"):
            setattr(opt, flag, self.fp16)
        opt.use_bf16_storage = False
        if threads is not None:
            opt.num_threads = int(threads)
        if openmp_blocktime is not None:
            if isinstance(openmp_blocktime, bool) or not isinstance(openmp_blocktime, int) or openmp_blocktime < 0:
                raise InputError(f"openmp_blocktime: expected milliseconds >= 0, got {openmp_blocktime!r}")
            opt.openmp_blocktime = int(openmp_blocktime)
        with capture_output(what=f"NCNN load of {param_path.name}") as said:
            rc = net.load_param_mem(param.to_text() if self.rewritten else text)
        if rc != 0:
            raise ModelLoadError(
                f"NCNN could not load {param_path} (load_param returned {rc}): a layer type or parameter this NCNN "
                f"({getattr(ncnn, '__version__', '?')}) does not know?" + engine_said("NCNN", said.text)
            )
        if verify_bin:  # after load_param: a layer type NCNN does not know is NCNN's error, not a .bin question
            check_bin(as_written, self.bin_path, param_path)
        with capture_output(what=f"NCNN load of {self.bin_path.name}") as said:
            rc = net.load_model(os.fspath(self.bin_path))
        if rc != 0:
            raise ModelLoadError(
                f"NCNN could not load the weights {self.bin_path} for {param_path.name} (load_model returned {rc}): "
                f"the .bin is truncated or belongs to another .param" + engine_said("NCNN", said.text)
            )
        self.net = net
        self._seen_shapes: set[tuple[Any, ...]] = set()

        channels = self._input_channels(param)
        declared = self._declared_hw(param)
        h, w = declared if declared is not None else (None, None)
        self._inputs = [
            TensorSpec(name, (None, channels.get(name), h, w), np.dtype(np.float32)) for name in param.input_names
        ]
        self._outputs = [TensorSpec(name, (), np.dtype(np.float32), rank_known=False) for name in param.output_names]
        self._input_names = [s.name for s in self._inputs]
        self._output_names = [s.name for s in self._outputs]
        if declared is not None:
            self._metadata["input_size"] = json.dumps(list(declared))

    # -- description ---------------------------------------------------------------------
    @staticmethod
    def _input_channels(param: NcnnParam) -> dict[str, int | None]:
        """Channels per input: the Input layer's ``2=c``, else what the first convolution reading it expects."""
        out: dict[str, int | None] = {}
        for layer in param.inputs:
            c = layer.int_param(2, 0)
            for name in layer.tops:
                if c <= 0:
                    c = 0
                    for consumer in param.consumers(name):
                        if consumer.type == "Convolution":
                            n, kw = consumer.int_param(0), consumer.int_param(1)
                            kh = consumer.int_param(11, kw)
                            size = consumer.int_param(6)
                            if n > 0 and kw > 0 and kh > 0 and size % (n * kw * kh) == 0:
                                c = size // (n * kw * kh)
                            break
                out[name] = c if c > 0 else None
        return out

    @staticmethod
    def _declared_hw(param: NcnnParam) -> tuple[int, int] | None:
        """``(h, w)`` when the one Input layer declares both (``0=w 1=h``): the model's fixed size."""
        inputs = param.inputs
        if len(inputs) != 1:
            return None
        w, h = inputs[0].int_param(0, 0), inputs[0].int_param(1, 0)
        return (h, w) if w > 0 and h > 0 else None

    @property
    def supports_batch(self) -> bool:
        """True: a batch is run image by image (NCNN has no batch axis)."""
        return True

    # -- fused preprocessing ---------------------------------------------------------------
    def _fuse_preprocess(self, config: Any) -> bool:
        """Take the ``uint8`` ``(N, H, W, 3)`` BGR canvas: ``Mat.from_pixels`` + ``substract_mean_normalize``.

        NCNN converts the pixels (swapping B and R for RGB models) and applies
        ``(x - mean) * norm`` per channel in one pass; ``norm = scale / std`` and
        ``mean = mean / scale`` reproduce the config's affine map (a multiply by ``1/255`` where
        numpy divides by 255: within 1 ulp).
        """
        if len(self._inputs) != 1 or self._inputs[0].dim(1) not in (3, None):
            return False
        a, b = config.affine()
        norm = [float(v) for v in a]
        mean = [] if config.plain else [float(-bv / av) for av, bv in zip(a, b, strict=True)]
        pt = self._ncnn.Mat.PixelType
        self._pixels = (int(pt.PIXEL_BGR2RGB if config.color == "rgb" else pt.PIXEL_BGR), mean, norm)
        return True

    def _infer_canvas(self, canvas: np.ndarray) -> dict[str, np.ndarray]:
        per_image = [self._run_one([c], canvas=True) for c in canvas]
        if len(per_image) == 1:
            return {n: o[None] for n, o in zip(self._output_names, per_image[0], strict=True)}
        return {n: np.stack([p[i] for p in per_image]) for i, n in enumerate(self._output_names)}

    def _mat_from_canvas(self, canvas: np.ndarray) -> Any:
        """An NCNN Mat (C, H, W) from one ``(H, W, 3)`` ``uint8`` BGR canvas, normalised."""
        pixel_type, mean, norm = self._pixels
        h, w = canvas.shape[:2]
        mat = self._ncnn.Mat.from_pixels(np.ascontiguousarray(canvas), pixel_type, w, h)  # a copy NCNN owns
        mat.substract_mean_normalize(mean, norm)
        return mat

    # -- inference -----------------------------------------------------------------------
    def _infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        arrays = [feed[n] for n in self._input_names]
        batch = arrays[0].shape[0]
        if any(a.shape[0] != batch for a in arrays):
            raise InputError(
                f"all inputs must share the batch size; got {[tuple(a.shape) for a in arrays]} for {self._input_names}"
            )
        if batch == 1:
            return {n: o[None] for n, o in zip(self._output_names, self._run_one([a[0] for a in arrays]), strict=True)}
        per_image = [self._run_one([a[b] for a in arrays]) for b in range(batch)]
        out: dict[str, np.ndarray] = {}
        for i, name in enumerate(self._output_names):
            shapes = {p[i].shape for p in per_image}
            if len(shapes) != 1:
                raise InputError(f"output {name!r} has different shapes across the batch: {sorted(shapes)}")
            out[name] = np.stack([p[i] for p in per_image])
        return out

    def _run_one(self, images: Sequence[np.ndarray], canvas: bool = False) -> list[np.ndarray]:
        """One image (C, H, W) per input, or one uint8 canvas (H, W, 3) when ``canvas``; the first run at each
        input shape runs with NCNN's output captured."""
        shapes = (canvas, *(tuple(a.shape) for a in images))
        if shapes in self._seen_shapes:
            return self._extract(images, canvas)
        what = f"NCNN run of {self.model_path.name} at {shapes[1:]}"
        outs = run_captured("NCNN", what, lambda: self._extract(images, canvas))
        self._seen_shapes.add(shapes)
        return outs

    def _extract(self, images: Sequence[np.ndarray], canvas: bool = False) -> list[np.ndarray]:
        """One extractor; outputs copied out of NCNN's memory."""
        # clone(): a Mat made from an array borrows its memory without a reference count, and an
        # in-place first layer (a ReLU on the input) then crashes NCNN; a cloned Mat owns its data. The
        # array must stay referenced until clone() has copied it: ``Mat(np.ascontiguousarray(x)).clone()``
        # on a non-contiguous x frees the temporary copy before clone() reads it (garbage inputs)
        if canvas:
            mats = [self._mat_from_canvas(a) for a in images]
        else:
            arrays = [np.ascontiguousarray(a) for a in images]
            mats = [self._ncnn.Mat(a).clone() for a in arrays]
        outs: list[np.ndarray] = []
        with self.net.create_extractor() as ex:
            for name, mat in zip(self._input_names, mats, strict=True):
                rc = ex.input(name, mat)
                if rc != 0:
                    raise InputError(f"NCNN refused input {name!r} of shape {tuple(images[0].shape)} (error {rc})")
            for name in self._output_names:
                rc, mat = ex.extract(name)
                if rc != 0:
                    raise InputError(
                        f"NCNN could not compute output {name!r} of {self.model_path.name} for an input of shape "
                        f"{tuple(images[0].shape)} (error {rc}); the model may need another input size"
                    )
                outs.append(np.array(mat, dtype=np.float32, copy=True))
        return outs

    def raw_runner(self, feed: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        """NCNN's own call on a prepared feed: a new extractor, ``input``, ``extract`` of every output."""
        canvas = self._fused_canvas(feed)
        if canvas is not None:
            mats = {self._input_names[0]: self._mat_from_canvas(canvas[0])}  # a canvas batch (1, H, W, 3)
        else:
            checked = self.check_feed(dict(feed))
            arrays = {n: np.ascontiguousarray(checked[n][0]) for n in self._input_names}  # referenced until cloned
            mats = {n: self._ncnn.Mat(a).clone() for n, a in arrays.items()}
        net, outputs = self.net, list(self._output_names)

        def run() -> None:
            ex = net.create_extractor()
            for n, m in mats.items():
                ex.input(n, m)
            for n in outputs:
                ex.extract(n)

        return run

    def close(self) -> None:
        net = getattr(self, "net", None)
        if net is not None:
            net.clear()
        self.net = None
