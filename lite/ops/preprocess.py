"""Pre-processing as data: how a model family wants its input tensor.

A `PreprocessConfig` says everything about the pixels a model expects — channel order, scale,
mean / std, pad value, where the padding goes, keep-ratio vs stretch, and whether a dynamic model's
input is padded only to the next stride multiple. Each family class carries one as a class attribute
(like timm's pretrained configs). The one shared [`Letterbox`][lite.ops.letterbox.Letterbox] renders the
resized and padded ``uint8`` BGR canvas; `normalize` turns a canvas into the ``float32`` NCHW
tensor the config describes (so an engine that normalises natively can take the canvas instead).

Arithmetic: with ``mean`` and ``std`` both None, each plane is divided by ``1 / scale`` (exact float32
division: for the default ``scale = 1/255`` this is YOLOv6's ``tensor.float() / 255`` bit for bit);
otherwise ``(pixel · scale − mean) / std`` per channel, folded into one multiply-add per plane.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from lite.core.errors import InputError

__all__ = [
    "PreprocessConfig",
    "normalize",
    "normalize_into",
    "COLORS",
    "PAD_ALIGNS",
    "RESIZE_MODES",
    "ROUNDINGS",
    "IMAGENET_CONFIG",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
]

COLORS = ("rgb", "bgr")
PAD_ALIGNS = ("center", "topleft")
RESIZE_MODES = ("letterbox", "stretch", "center_crop")
#: Spellings accepted for `RESIZE_MODES` (a plain resize is ``"stretch"``).
_RESIZE_ALIASES = {"resize": "stretch", "plain": "stretch", "centercrop": "center_crop"}
#: How the letterbox turns ``n · r`` into a pixel count: YOLOv6/ultralytics ``round``, YOLOX/NanoDet ``truncate``.
ROUNDINGS = ("round", "truncate")


def _triple(value: Any, name: str, *, positive: bool = False) -> tuple[float, float, float] | None:
    if value is None:
        return None
    vals = (value,) * 3 if np.ndim(value) == 0 else tuple(np.asarray(value, dtype=np.float64).ravel())
    if len(vals) != 3 or not all(math.isfinite(float(v)) for v in vals) or (positive and min(vals) <= 0):
        need = "positive finite numbers" if positive else "finite numbers"
        raise InputError(
            f"PreprocessConfig.{name}: expected one number or three {need} (one per channel, in the model's "
            f"channel order); got {value!r}"
        )
    return float(vals[0]), float(vals[1]), float(vals[2])


def _pad_value(value: Any) -> tuple[int, int, int]:
    vals = (value,) * 3 if np.ndim(value) == 0 else tuple(np.asarray(value).ravel())
    out: list[int] = []
    for v in vals:
        try:
            iv = operator.index(v)
        except TypeError:
            break
        if isinstance(v, bool) or not 0 <= iv <= 255:
            break
        out.append(iv)
    if len(out) != 3 or len(vals) != 3:
        raise InputError(
            f"PreprocessConfig.pad_value: expected an int in [0, 255] or a BGR triple of them; got {value!r}"
        )
    return out[0], out[1], out[2]


def _choice(value: Any, allowed: tuple[str, ...], name: str, aliases: dict[str, str] | None = None) -> str:
    key = str(value).strip().lower().replace("-", "").replace("_", "") if isinstance(value, str) else None
    key = (aliases or {}).get(key, key) if key is not None else None
    if key not in allowed:
        raise InputError(f"PreprocessConfig.{name}: expected one of {list(allowed)}; got {value!r}")
    return key


@dataclass(frozen=True)
class PreprocessConfig:
    """How one model family wants its input (validated on construction; immutable).

    Attributes:
        color: Channel order of the model's input, ``"rgb"`` or ``"bgr"`` (images are BGR in lite).
        scale: Factor applied to ``uint8`` pixels before mean / std: ``1/255`` for ``[0, 1]``,
            ``1.0`` for ``0–255``.
        mean: Per-channel mean subtracted after scaling, in the model's channel order (None: none).
        std: Per-channel divisor applied after the mean, in the model's channel order (None: none).
        pad_value: Letterbox padding, one int in ``[0, 255]`` or a BGR triple (raw pixel value).
        pad_align: ``"center"`` (padding split evenly, odd pixel bottom/right) or ``"topleft"``
            (the image at the top-left corner, padding at the right and bottom).
        resize: ``"letterbox"`` (keep the aspect ratio, pad), ``"stretch"`` (a plain resize to the input
            size, no padding; the x and y scales differ; ``"resize"`` is accepted for it) or
            ``"center_crop"`` (classifiers: resize the short side to ``short_side``, keeping the ratio, then
            cut the input size out of the centre; torchvision's ``Resize(short_side)`` + ``CenterCrop``).
        short_side: With ``"center_crop"``: the short side after resizing (ImageNet: 256 for a 224 crop).
            None: the smallest resize that covers the input size (no margin cropped on the short side).
        pad_to_stride: For dynamic-shape models, pad only up to the next multiple of the largest
            stride (a non-square input such as 320×256), instead of to the full input size.
        rounding: How the resized size ``n · r`` becomes pixels: ``"round"`` (YOLOv6, ultralytics) or
            ``"truncate"`` (``int(n · r)``: the YOLOX and NanoDet demos).

    Example:
        ```python
        from lite.cv import YOLOX, NanoDet
        from lite.ops.preprocess import PreprocessConfig

        yolox = PreprocessConfig(color="bgr", scale=1.0, pad_align="topleft", rounding="truncate")
        nanodet = PreprocessConfig(color="bgr", scale=1.0, mean=(103.53, 116.28, 123.675),
                                   std=(57.375, 57.12, 58.395), pad_value=0, rounding="truncate")
        print(yolox)
        # PreprocessConfig(color='bgr', scale=1.0, mean=None, std=None, pad_value=114, pad_align='topleft', ...)
        assert yolox == YOLOX.preprocess_config and nanodet == NanoDet.preprocess_config
        ```
    """

    color: str = "rgb"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    pad_value: int | tuple[int, int, int] = 114
    pad_align: str = "center"
    resize: str = "letterbox"
    pad_to_stride: bool = False
    rounding: str = "round"
    short_side: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "color", _choice(self.color, COLORS, "color"))
        try:
            scale = float(self.scale)
        except (TypeError, ValueError):
            scale = float("nan")
        if isinstance(self.scale, bool) or not math.isfinite(scale) or scale <= 0:
            raise InputError(
                f"PreprocessConfig.scale: expected a positive number (1/255 for [0, 1] inputs, 1.0 for 0-255); "
                f"got {self.scale!r}"
            )
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "mean", _triple(self.mean, "mean"))
        object.__setattr__(self, "std", _triple(self.std, "std", positive=True))
        pv = _pad_value(self.pad_value)
        object.__setattr__(self, "pad_value", pv[0] if pv[0] == pv[1] == pv[2] else pv)
        aliases = {"centre": "center", "centred": "center", "top": "topleft"}
        object.__setattr__(self, "pad_align", _choice(self.pad_align, PAD_ALIGNS, "pad_align", aliases))
        object.__setattr__(self, "resize", _choice(self.resize, RESIZE_MODES, "resize", _RESIZE_ALIASES))
        object.__setattr__(self, "rounding", _choice(self.rounding, ROUNDINGS, "rounding"))
        if not isinstance(self.pad_to_stride, bool | np.bool_):
            raise InputError(f"PreprocessConfig.pad_to_stride: expected True or False; got {self.pad_to_stride!r}")
        object.__setattr__(self, "pad_to_stride", bool(self.pad_to_stride))
        if self.resize != "letterbox" and self.pad_to_stride:
            raise InputError(f"PreprocessConfig: resize={self.resize!r} has no padding; pad_to_stride must be False")
        if self.short_side is not None:
            bad_type = isinstance(self.short_side, bool) or not isinstance(self.short_side, int | np.integer)
            if bad_type or self.short_side < 1:
                raise InputError(
                    f"PreprocessConfig.short_side: expected a positive int or None; got {self.short_side!r}"
                )
            if self.resize != "center_crop":
                raise InputError(
                    f"PreprocessConfig.short_side: only used with resize='center_crop'; got resize={self.resize!r}"
                )
            object.__setattr__(self, "short_side", int(self.short_side))

    @property
    def pad_bgr(self) -> tuple[int, int, int]:
        """The pad value as a BGR triple."""
        pv = self.pad_value
        return (pv, pv, pv) if isinstance(pv, int) else pv  # type: ignore[return-value]

    @property
    def plain(self) -> bool:
        """True when the tensor is only the scaled pixels (no mean / std)."""
        return self.mean is None and self.std is None

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel ``(a, b)`` in the model's channel order with ``tensor = pixel · a + b``."""
        mean = np.asarray(self.mean if self.mean is not None else (0.0, 0.0, 0.0), np.float64)
        std = np.asarray(self.std if self.std is not None else (1.0, 1.0, 1.0), np.float64)
        return (self.scale / std).astype(np.float32), (-mean / std).astype(np.float32)

    def describe(self) -> str:
        """One-line human description, e.g. ``rgb, /255, pad 114 center, letterbox``."""
        parts = [self.color, f"/{1 / self.scale:g}" if self.scale != 1.0 else "0-255"]
        if self.mean is not None:
            parts.append("mean " + ",".join(f"{v:g}" for v in self.mean))
        if self.std is not None:
            parts.append("std " + ",".join(f"{v:g}" for v in self.std))
        parts.append(f"pad {self.pad_value} {self.pad_align}")
        if self.resize == "center_crop":
            parts[-1] = "center crop" + (f" of short side {self.short_side}" if self.short_side else "")
        else:
            parts.append(self.resize + (" to stride multiple" if self.pad_to_stride else ""))
        if self.rounding != "round":
            parts.append(f"{self.rounding} resized size")
        return ", ".join(parts)


#: YOLOv6's (and ultralytics') preprocessing: RGB, /255, centred letterbox padded with 114.
DEFAULT_CONFIG = PreprocessConfig()

#: ImageNet's per-channel mean and std of RGB pixels in ``[0, 1]``.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: The ImageNet classification preset (torchvision / ONNX Model Zoo ResNet, MobileNet...): RGB, short side
#: resized to 256, the 224 × 224 centre (the model's input size) cut out, /255, ImageNet mean / std.
IMAGENET_CONFIG = PreprocessConfig(mean=IMAGENET_MEAN, std=IMAGENET_STD, resize="center_crop", short_side=256)


def normalize_into(canvas: np.ndarray, config: PreprocessConfig, out_chw: np.ndarray) -> np.ndarray:
    """Writes the normalised ``(3, H, W)`` ``float32`` planes of a BGR ``uint8`` canvas into ``out_chw``.

    Args:
        canvas: ``(H, W, 3)`` BGR ``uint8`` image (a letterbox canvas).
        config: The model's preprocessing.
        out_chw: ``(3, H, W)`` ``float32`` destination (e.g. one image of a batch tensor).

    Returns:
        ``out_chw``.
    """
    b, g, r = cv2.split(canvas)  # cheap uint8 planes, each contiguous
    planes = (r, g, b) if config.color == "rgb" else (b, g, r)
    if config.plain:
        # Exact float32 division, like YOLOv6's ``tensor.float() / 255`` (multiplying by 1/255 is off by 1 ulp).
        div = np.float32(1.0 / config.scale)
        for i, p in enumerate(planes):
            np.divide(p, div, out=out_chw[i], dtype=np.float32)
    else:
        a, c = config.affine()
        for i, p in enumerate(planes):
            np.multiply(p, a[i], out=out_chw[i], dtype=np.float32)
            out_chw[i] += c[i]
    return out_chw


def normalize(canvas: np.ndarray | Sequence[np.ndarray], config: PreprocessConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Turns one BGR ``uint8`` canvas (or several of one shape) into the ``float32`` NCHW tensor.

    Args:
        canvas: ``(H, W, 3)`` BGR ``uint8`` image, or a sequence / ``(B, H, W, 3)`` array of them.
        config: The model's preprocessing (default: RGB, /255).

    Returns:
        A new C-contiguous ``(B, 3, H, W)`` ``float32`` tensor.

    Raises:
        InputError: The canvas is not ``uint8`` ``(H, W, 3)``, or the canvases differ in shape.
    """
    canvases = [canvas] if isinstance(canvas, np.ndarray) and canvas.ndim == 3 else list(canvas)
    if not canvases or any(
        not isinstance(c, np.ndarray) or c.dtype != np.uint8 or c.ndim != 3 or c.shape[2] != 3 for c in canvases
    ):
        raise InputError("normalize: expected BGR uint8 canvases of shape (H, W, 3) (from Letterbox.canvas())")
    shape = canvases[0].shape
    if any(c.shape != shape for c in canvases):
        raise InputError(f"normalize: expected canvases of one shape; got {[c.shape for c in canvases]}")
    out = np.empty((len(canvases), 3, shape[0], shape[1]), np.float32)
    for i, c in enumerate(canvases):
        normalize_into(np.ascontiguousarray(c), config, out[i])
    return out
