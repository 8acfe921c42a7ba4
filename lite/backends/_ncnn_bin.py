"""Check that an NCNN ``.bin`` is the one its ``.param`` was written with.

NCNN reads the ``.bin`` as one stream: layer by layer, in ``.param`` order, each layer with
weights reads a fixed sequence of arrays whose element counts follow from its parameters
(a ``Convolution`` reads ``6=weight_data_size`` weights, then ``0=num_output`` biases when
``5=bias_term``…). NCNN itself only notices a ``.bin`` that is too *short*; one that is too long
(the same architecture at a larger width) loads, and the network computes garbage.

``check_bin`` walks the same stream without loading it: for each array it reads the
storage tag where NCNN reads one, works out the bytes that array takes and moves on; the
``.bin`` must end exactly where the last array ends. Two kinds of read exist
(``ModelBin::load(w, type)``):

- ``type=1``: ``w`` raw float32 values, no tag (biases, batch-norm statistics, int8 scales).
- ``type=0``: a 4-byte tag, then the data in the format the tag names:
  ``0x01306B47`` fp16 (``2·w`` bytes padded to 4), ``0x000D4B38`` int8 (``w`` bytes padded to 4),
  ``0x0002C056`` or ``0`` fp32 (``4·w`` bytes), any other tag a 256-entry float32 codebook followed
  by ``w`` one-byte indices padded to 4.

The per-layer read sequences below were read off NCNN's ``load_model`` implementations.

**Layer types lite cannot count.** A type with weights that lite has no sequence for (a layer
added to NCNN after this table, a block-quantized ``Gemm``/``MultiHeadAttention``) cannot be
counted. Lite does not guess: it checks the stream up to the first such layer (those reads must
fit, with valid sizes) and warns once that the rest of the ``.bin`` was not checked, naming the
layer. Layer types NCNN has that read no weights are listed in ``WEIGHTLESS``; a type in
neither list is treated as uncountable, the same way.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from lite.core.errors import ModelLoadError

if TYPE_CHECKING:
    from lite.backends.ncnn import NcnnLayer

__all__ = ["WEIGHTLESS", "BinReport", "bin_reads", "check_bin"]

TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38
TAG_FP32_SCALED = 0x0002C056

#: NCNN layer types that read nothing from the ``.bin``.
WEIGHTLESS = frozenset(
    {
        "AbsVal", "ArgMax", "BinaryOp", "BNLL", "Cast", "CELU", "Clip", "Concat", "CopyTo", "Crop", "CumulativeSum",
        "DeepCopy", "DetectionOutput", "Diag", "Dropout", "Einsum", "Eltwise", "ELU", "Erf", "Exp", "ExpandDims",
        "Flatten", "Flip", "Fold", "GELU", "GLU", "GridSample", "HardSigmoid", "HardSwish", "Input",
        "InverseSpectrogram", "Interp", "Log", "LRN", "MatMul", "Mish", "MVN", "Noop", "Packing", "Permute",
        "PixelShuffle", "Pooling", "Pooling1D", "Pooling3D", "Power", "PriorBox", "Proposal", "PSROIPooling",
        "Reduction", "ReLU", "Reorg", "Reshape", "ROIAlign", "ROIPooling", "RotaryEmbed", "SDPA", "SELU", "Shrink",
        "ShuffleChannel", "Sigmoid", "Slice", "Softmax", "Softplus", "Spectrogram", "Split", "SPP", "Squeeze",
        "StatisticsPooling", "Swish", "TanH", "Threshold", "Tile", "UnaryOp", "Unfold", "YoloDetectionOutput",
        "Yolov3DetectionOutput"
    }
)  # fmt: skip

Read = tuple[int, int]  # (element count, load type)


def _conv(layer: NcnnLayer, dynamic_key: int = 19) -> list[Read] | None:
    """Convolution-like layers: weights (tagged), bias (raw)."""
    if layer.int_param(dynamic_key):
        return []
    reads = [(layer.int_param(6), 0)]
    if layer.int_param(5):
        reads.append((layer.int_param(0), 1))
    return reads


def _convolution(layer: NcnnLayer) -> list[Read] | None:
    reads = _conv(layer)
    if reads and layer.int_param(8):  # int8: per-output weight scales, one input scale, maybe an output scale
        reads += [(layer.int_param(0), 1), (1, 1)]
        if layer.int_param(8) > 100:
            reads.append((1, 1))
    return reads


def _depthwise(layer: NcnnLayer) -> list[Read] | None:
    reads = _conv(layer)
    term = layer.int_param(8)
    if reads and term:
        if term in (1, 101):
            reads += [(layer.int_param(7, 1), 1), (1, 1)]
        elif term in (2, 102):
            reads += [(1, 1), (1, 1)]
        if term > 100:
            reads.append((1, 1))
    return reads


def _deconv(layer: NcnnLayer) -> list[Read] | None:
    return _conv(layer, dynamic_key=28)


def _static_conv(layer: NcnnLayer) -> list[Read] | None:  # the 3-D variants have no dynamic weights
    return _conv(layer, dynamic_key=-1)


def _inner_product(layer: NcnnLayer) -> list[Read] | None:
    reads = [(layer.int_param(2), 0)]
    if layer.int_param(1):
        reads.append((layer.int_param(0), 1))
    if layer.int_param(8):
        reads += [(layer.int_param(0), 1), (1, 1)]
    return reads


def _batchnorm(layer: NcnnLayer) -> list[Read]:
    return [(layer.int_param(0), 1)] * 4


def _scale(layer: NcnnLayer) -> list[Read]:
    size = layer.int_param(0)
    if size == -233:
        return []
    return [(size, 1)] * (2 if layer.int_param(1) else 1)


def _memory_data(layer: NcnnLayer) -> list[Read]:
    w, h, d, c = (layer.int_param(k) for k in (0, 1, 11, 2))
    load_type = layer.int_param(21, 1)
    if d:
        count = w * h * d * c
    elif c:
        count = w * h * c
    elif h:
        count = w * h
    elif w:
        count = w
    else:
        return []  # a 0x0x0 MemoryData reads nothing
    return [(count, load_type)]


def _affine(count_key: int, affine_key: int, n: int) -> Callable[..., list[Read]]:
    def reads(layer: NcnnLayer) -> list[Read]:
        return [(layer.int_param(count_key), 1)] * n if layer.int_param(affine_key, 1) else []

    return reads


def _embed(layer: NcnnLayer) -> list[Read]:
    reads = [(layer.int_param(3), 0)]
    if layer.int_param(2):
        reads.append((layer.int_param(0), 1))
    if layer.int_param(18):
        reads.append((1, 1))
    return reads


def _dequantize(layer: NcnnLayer) -> list[Read]:
    reads = [(layer.int_param(0, 1), 1)]
    if layer.int_param(1):
        reads.append((layer.int_param(1), 1))
    return reads


def _requantize(layer: NcnnLayer) -> list[Read]:
    reads = [(layer.int_param(0, 1), 1), (layer.int_param(1, 1), 1)]
    if layer.int_param(2):
        reads.append((layer.int_param(2), 1))
    return reads


def _padding(layer: NcnnLayer) -> list[Read]:
    n = layer.int_param(6)
    return [(n, 1)] if n else []


def _recurrent(gates: int) -> Callable[..., list[Read] | None]:
    """RNN (1 gate), GRU (3), LSTM (4): input weights, biases, hidden weights (all tagged), int8 scales."""

    def reads(layer: NcnnLayer) -> list[Read] | None:
        num_output, size_all, direction = layer.int_param(0), layer.int_param(1), layer.int_param(2)
        dirs = 2 if direction == 2 else 1
        hidden = layer.int_param(3, num_output) if gates == 4 else num_output
        if hidden <= 0:
            return None
        per_dir_in = size_all // dirs // hidden // gates
        bias_rows = {1: 1, 3: 4, 4: 4}[gates]
        out = [
            (per_dir_in * hidden * gates * dirs, 0),
            (hidden * bias_rows * dirs, 0),
            (num_output * hidden * gates * dirs, 0),
        ]
        if gates == 4 and num_output != hidden:
            out.append((hidden * num_output * dirs, 0))
        if layer.int_param(8):
            out += [(hidden * gates * dirs, 1)] * 2
        return out

    return reads


def _gemm(layer: NcnnLayer) -> list[Read] | None:
    term = layer.int_param(18)
    if term >= 400:  # block-quantized weights: packed layouts that change between NCNN releases
        return None
    m, n, k = layer.int_param(7), layer.int_param(8), layer.int_param(9)
    reads: list[Read] = []
    if layer.int_param(4) == 1:
        reads.append((m * k, 0))
    if layer.int_param(5) == 1:
        reads.append((n * k, 0))
    bc = layer.int_param(10)
    if layer.int_param(6) == 1 and bc != -1:
        sizes = {0: 1, 1: m, 2: m, 3: n * m, 4: n}
        if bc not in sizes:
            return None
        reads.append((sizes[bc], 0))
    if term:
        if layer.int_param(4) == 1:
            reads.append((m, 1))
        if layer.int_param(5) == 1:
            reads.append((1, 1))
    return reads


def _mha(layer: NcnnLayer) -> list[Read] | None:
    term = layer.int_param(18)
    if term >= 400:
        return None
    embed, size = layer.int_param(0), layer.int_param(2)
    if embed <= 0:
        return None
    qdim = size // embed
    kdim, vdim = layer.int_param(3, embed), layer.int_param(4, embed)
    reads = [(embed * qdim, 0), (embed, 1), (embed * kdim, 0), (embed, 1), (embed * vdim, 0), (embed, 1)]
    reads += [(qdim * embed, 0), (qdim, 1)]
    if term:
        reads += [(embed, 1)] * 3 + [(1, 1)]
    return reads


_READS: dict[str, Callable[..., list[Read] | None]] = {
    "Convolution": _convolution,
    "ConvolutionDepthWise": _depthwise,
    "Convolution1D": _conv,
    "ConvolutionDepthWise1D": _conv,
    "Convolution3D": _static_conv,
    "ConvolutionDepthWise3D": _static_conv,
    "Deconvolution": _deconv,
    "DeconvolutionDepthWise": _deconv,
    "Deconvolution1D": _deconv,
    "DeconvolutionDepthWise1D": _deconv,
    "Deconvolution3D": _static_conv,
    "DeconvolutionDepthWise3D": _static_conv,
    "DeformableConv2D": _static_conv,
    "InnerProduct": _inner_product,
    "BatchNorm": _batchnorm,
    "Bias": lambda layer: [(layer.int_param(0), 1)],
    "Scale": _scale,
    "PReLU": lambda layer: [(layer.int_param(0), 1)],
    "MemoryData": _memory_data,
    "InstanceNorm": _affine(0, 2, 2),
    "LayerNorm": _affine(0, 2, 2),
    "GroupNorm": _affine(1, 3, 2),
    "RMSNorm": _affine(0, 2, 1),
    "Normalize": lambda layer: [(layer.int_param(3), 1)],
    "Embed": _embed,
    "Quantize": lambda layer: [(layer.int_param(0, 1), 1)],
    "Dequantize": _dequantize,
    "Requantize": _requantize,
    "Padding": _padding,
    "RNN": _recurrent(1),
    "GRU": _recurrent(3),
    "LSTM": _recurrent(4),
    "Gemm": _gemm,
    "MultiHeadAttention": _mha,
}


def bin_reads(layer: NcnnLayer) -> list[Read] | None:
    """The ``(count, type)`` arrays ``layer`` reads from the ``.bin``, in order; None when lite cannot tell."""
    if layer.type in WEIGHTLESS:
        return []
    fn = _READS.get(layer.type)
    return fn(layer) if fn is not None else None


def _align4(n: int) -> int:
    return (n + 3) & ~3


@dataclass(frozen=True)
class BinReport:
    """What ``check_bin`` found.

    Attributes:
        expected: Bytes the ``.param``'s layers read (up to ``uncounted``, when set).
        size: Bytes in the ``.bin``.
        uncounted: Type of the first layer lite could not count (the check stopped there), or None.
    """

    expected: int
    size: int
    uncounted: str | None = None


def check_bin(layers: list[NcnnLayer], bin_path: Path, param_path: Path | None) -> BinReport:
    """Walk ``bin_path`` the way NCNN reads it for ``layers``; raise when it is not their ``.bin``.

    Args:
        layers: The ``.param``'s layers (``lite.backends.ncnn.NcnnLayer``), in file order.
        bin_path: The weights file.
        param_path: The ``.param`` (for messages).

    Raises:
        ModelLoadError: An array runs past the end of the file (truncated, or another model's
            ``.bin``), an array with a negative or zero count, or bytes left over at the end
            (another model's ``.bin``); the message names both files and the layer.
    """
    size = bin_path.stat().st_size
    pname = param_path.name if param_path is not None else "the .param"
    fix = f"use the .bin that was converted together with {pname}, or pass bin_path= to it"
    offset = 0
    with open(bin_path, "rb") as f:
        for layer in layers:
            reads = bin_reads(layer)
            if reads is None:
                warnings.warn(
                    f"{bin_path.name} was checked against {pname} only up to layer {layer.name!r} "
                    f"({layer.type}, line {layer.line}): lite cannot count the weights a {layer.type} layer reads, "
                    f"so it cannot tell whether the rest of the .bin belongs to this .param",
                    RuntimeWarning,
                    stacklevel=4,
                )
                return BinReport(offset, size, layer.type)
            for count, kind in reads:
                start = offset
                if count <= 0:
                    raise ModelLoadError(
                        f"{pname}: layer {layer.name!r} ({layer.type}, line {layer.line}) declares {count} weights "
                        f"to read from {bin_path.name}; the .param is corrupt"
                    )
                offset += _array_bytes(f, offset, count, kind)
                if offset > size:
                    raise ModelLoadError(
                        f"{bin_path} does not match {param_path}: layer {layer.name!r} ({layer.type}, line "
                        f"{layer.line}) reads {count} weights from byte {start}, past the end of the .bin "
                        f"({size} bytes); the .bin is truncated or belongs to another model; {fix}"
                    )
    if offset != size:
        raise ModelLoadError(
            f"{bin_path} does not match {param_path}: the .param's layers read {offset} bytes of weights but the "
            f".bin has {size} bytes ({size - offset} bytes too many); it belongs to another model "
            f"(the same architecture at another size?); {fix}"
        )
    return BinReport(offset, size, None)


def _array_bytes(f: IO[bytes], offset: int, count: int, kind: int) -> int:
    """Bytes one ``ModelBin::load(count, kind)`` takes at ``offset`` (reads the tag for ``kind == 0``)."""
    if kind == 1:
        return 4 * count
    if kind != 0:
        raise ModelLoadError(f"NCNN load type {kind} does not exist (expected 0 or 1)")
    f.seek(offset)
    head = f.read(4)
    if len(head) < 4:
        return 4 + 4 * count  # past the end either way: the caller reports it
    tag = int.from_bytes(head, "little")
    if tag == TAG_FP16:
        return 4 + _align4(2 * count)
    if tag == TAG_INT8:
        return 4 + _align4(count)
    if tag == TAG_FP32_SCALED or tag == 0:
        return 4 + 4 * count
    return 4 + 256 * 4 + _align4(count)  # a codebook of 256 floats, then one index byte per weight
