"""Letterbox resizing, exactly as YOLOv6 does it, and the inverse mapping for boxes.

A letterbox keeps the aspect ratio: the image is scaled by one ratio ``r`` so it fits the
network input, and the rest is padded with a constant grey (114). The arithmetic follows
YOLOv6's ``yolov6/data/data_augment.py::letterbox``:

* ``r = min(H / h, W / w)`` for a target ``(H, W)`` and a source ``(h, w)``; with
  ``scaleup=False`` also ``r = min(r, 1.0)`` (only ever shrink).
* The resized size is ``(int(round(w * r)), int(round(h * r)))`` with Python's ``round``
  (ties to even); ``PreprocessConfig(rounding="truncate")`` gives ``int(w * r)`` as the YOLOX and
  NanoDet demos do. It is clamped to at least 1 pixel, where YOLOv6 would crash on a 0-pixel
  resize (only possible for extreme aspect ratios such as 1 x 2000).
* The padding is split evenly, the odd pixel going to the bottom / right:
  ``top = int(round(dh / 2 - 0.1))``, ``bottom = int(round(dh / 2 + 0.1))`` (same for left and right).
* ``pad_align="topleft"`` puts the image at the top-left corner (all padding right and bottom, as
  YOLOX does); ``resize="stretch"`` resizes to the input size without keeping the ratio (no padding;
  `LetterboxTransform.ratio_xy` holds the two scales); ``resize="center_crop"`` (classifiers) resizes the
  short side to ``short_side`` (torchvision's ``Resize``: the long side ``int(short_side * long / short)``) and
  cuts the input size out of the centre (``CenterCrop``: ``top = int(round((h' - H) / 2))``); the transform's
  ``pad`` is then negative (the crop offset), so `LetterboxTransform.to_original` still maps back.
* ``auto=True`` (rectangular inference) pads only up to the smallest multiple of ``stride`` that
  holds the resized image in each dimension: ``H' = ceil(round(h * r) / stride) * stride``. When
  the requested size is a multiple of the stride this is what YOLOv6's ``np.mod(dw, stride)``
  produces; for other requested sizes it is still a multiple of the stride (YOLOv6's is not).

Three entry points share that arithmetic:

* `letterbox_geometry` -- the numbers only (no pixels), as a `LetterboxTransform`.
* `letterbox_image` -- the padded BGR ``uint8`` image, for drawing and calibration.
* `Letterbox` -- the fast, caching pre-processor of the hot path. `Letterbox.canvas`
  renders the padded ``uint8`` BGR canvas (cached, no allocation per call); calling the letterbox
  also normalises it (`lite.ops.preprocess.normalize_into`, per its
  `PreprocessConfig`) into the network tensor: by default
  ``(1, 3, H, W)`` ``float32`` RGB in ``[0, 1]``.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from lite.core.errors import ImageError, InputError
from lite.ops.preprocess import DEFAULT_CONFIG, PreprocessConfig, normalize_into

__all__ = ["LetterboxTransform", "letterbox_geometry", "letterbox_image", "Letterbox", "letterbox"]

_GEOMETRY_CACHE_LIMIT = 256  # distinct (source shape, destination) pairs one Letterbox remembers
_CANVAS_CACHE_LIMIT = 8  # distinct destination shapes one thread keeps a padded canvas for


@dataclass(frozen=True)
class LetterboxTransform:
    """How an original image maps into the network input, and back.

    Input pixel ``(x, y)`` corresponds to original pixel ``((x - left) / ratio, (y - top) / ratio)``.

    Attributes:
        ratio: Scale factor ``r`` applied to the original image (YOLOv6's ``r``).
        pad: ``(left, top)`` padding in input pixels (negative: the offset of a centre crop).
        src_shape: ``(h, w)`` of the original image.
        dst_shape: ``(H, W)`` of the network input.
        ratio_xy: ``(rx, ry)`` when the two axes are scaled differently (``resize="stretch"``);
            None when both use ``ratio``.
    """

    ratio: float
    pad: tuple[int, int]
    src_shape: tuple[int, int]
    dst_shape: tuple[int, int]
    ratio_xy: tuple[float, float] | None = None
    rounding: str = "round"

    @property
    def resized_shape(self) -> tuple[int, int]:
        """``(h', w')`` of the resized image inside the padding: ``round(h * r)``, ``round(w * r)`` (or ``int(...)``
        with ``rounding="truncate"``)."""
        h, w = self.src_shape
        if self.ratio_xy is not None:
            return _scaled(h, self.ratio_xy[1]), _scaled(w, self.ratio_xy[0])
        return _scaled(h, self.ratio, self.rounding), _scaled(w, self.ratio, self.rounding)

    def to_original(self, xyxy: np.ndarray) -> np.ndarray:
        """Maps boxes from network-input pixels back to original-image pixels.

        Args:
            xyxy: Boxes ``(n, 4)`` as ``x1, y1, x2, y2`` in input pixels (any leading
                dimensions are allowed; an empty array gives ``(0, 4)``).

        Returns:
            ``float32`` boxes of the same shape: ``(x - left) / r`` and ``(y - top) / r``,
            clipped to ``[0, w] x [0, h]`` of the original image.

        Raises:
            InputError: ``xyxy`` does not have 4 values per box.
        """
        b = _as_boxes(xyxy)
        left, top = self.pad
        h, w = self.src_shape
        rx, ry = self.ratio_xy or (self.ratio, self.ratio)
        out = np.empty(b.shape, np.float32)
        out[..., 0::2] = np.clip((b[..., 0::2] - left) / rx, 0.0, w)
        out[..., 1::2] = np.clip((b[..., 1::2] - top) / ry, 0.0, h)
        return out

    def to_input(self, xyxy: np.ndarray) -> np.ndarray:
        """Maps boxes from original-image pixels to network-input pixels (the forward map).

        Args:
            xyxy: Boxes ``(n, 4)`` as ``x1, y1, x2, y2`` in original-image pixels.

        Returns:
            ``float32`` boxes of the same shape: ``x * r + left`` and ``y * r + top`` (not clipped).

        Raises:
            InputError: ``xyxy`` does not have 4 values per box.
        """
        b = _as_boxes(xyxy)
        left, top = self.pad
        rx, ry = self.ratio_xy or (self.ratio, self.ratio)
        out = np.empty(b.shape, np.float32)
        out[..., 0::2] = b[..., 0::2] * rx + left
        out[..., 1::2] = b[..., 1::2] * ry + top
        return out


def letterbox_geometry(
    src_hw: Sequence[int],
    size: int | Sequence[int],
    *,
    stride: int = 32,
    auto: bool = False,
    scaleup: bool = True,
    dst_shape: Sequence[int] | None = None,
    pad_align: str = "center",
    resize: str = "letterbox",
    rounding: str = "round",
    short_side: int | None = None,
) -> LetterboxTransform:
    """Computes a letterbox's ratio and padding without touching pixels.

    Args:
        src_hw: ``(h, w)`` of the original image (an image's ``.shape`` works too).
        size: Requested network input size, an ``int`` for a square or ``(H, W)``.
        stride: The model's largest stride; only used with ``auto``.
        auto: Pad only to the smallest multiple of ``stride`` holding the resized image.
        scaleup: Allow enlarging images smaller than ``size``; ``False`` only shrinks.
        dst_shape: Pad to this ``(H, W)`` instead (the ratio still comes from ``size``); used to
            give a batch one common shape. It must hold the resized image.
        pad_align: ``"center"`` or ``"topleft"`` (all padding right and bottom).
        resize: ``"letterbox"`` (keep the ratio), ``"stretch"`` (fill ``size``, no padding) or
            ``"center_crop"`` (resize the short side to ``short_side``, cut ``size`` out of the centre).
        short_side: The short side before the centre crop (None: the smallest resize covering ``size``).
        rounding: ``"round"`` (YOLOv6) or ``"truncate"`` (YOLOX, NanoDet) the resized size ``n · r``.

    Returns:
        The `LetterboxTransform`.

    Raises:
        InputError: A size, shape or stride is not a positive integer, or ``dst_shape`` is too small.
    """
    return _geometry(
        _as_src_hw(src_hw),
        _as_hw(size, "size"),
        _as_stride(stride),
        bool(auto),
        bool(scaleup),
        None if dst_shape is None else _as_hw(dst_shape, "dst_shape"),
        *_as_modes(pad_align, resize, rounding, short_side),
    )


def letterbox_image(
    img: np.ndarray,
    size: int | Sequence[int],
    *,
    stride: int = 32,
    auto: bool = False,
    scaleup: bool = True,
    fill: int | Sequence[int] = 114,
    dst_shape: Sequence[int] | None = None,
    pad_align: str = "center",
    resize: str = "letterbox",
    short_side: int | None = None,
) -> tuple[np.ndarray, LetterboxTransform]:
    """Letterboxes an image and returns it as a padded BGR ``uint8`` image.

    This is the straightforward (resize, then ``cv2.copyMakeBorder``) implementation, for
    drawing, calibration data and as the reference of `Letterbox`.

    Args:
        img: BGR ``uint8`` image ``(h, w, 3)`` (see [`lite.data.io.load_image`][lite.data.io.load_image] for
            other inputs).
        size: Requested network input size, an ``int`` or ``(H, W)``.
        stride: The model's largest stride; only used with ``auto``.
        auto: Pad only to the smallest multiple of ``stride`` holding the resized image.
        scaleup: Allow enlarging images smaller than ``size``.
        fill: Padding value, one ``int`` or a BGR triple.
        dst_shape: Pad to this ``(H, W)`` instead of the computed shape (see `letterbox_geometry`).
        pad_align: ``"center"`` or ``"topleft"``.
        resize: ``"letterbox"``, ``"stretch"`` or ``"center_crop"``.
        short_side: The short side before a centre crop (see `letterbox_geometry`).

    Returns:
        ``(padded, transform)``: a new ``(H, W, 3)`` ``uint8`` BGR image and its transform.

    Raises:
        ImageError: ``img`` is not a non-empty BGR ``uint8`` array of shape ``(h, w, 3)``.
        InputError: A size or option is invalid.
    """
    img = _check_bgr(img)
    fill3 = _as_fill(fill)
    t = letterbox_geometry(
        img.shape[:2],
        size,
        stride=stride,
        auto=auto,
        scaleup=scaleup,
        dst_shape=dst_shape,
        pad_align=pad_align,
        resize=resize,
        short_side=short_side,
    )
    nh, nw = t.resized_shape
    if (nh, nw) != img.shape[:2]:
        img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    (left, top), (dh, dw) = t.pad, t.dst_shape
    if left < 0 or top < 0:  # centre crop
        return img[-top : -top + dh, -left : -left + dw].copy(), t
    padded = cv2.copyMakeBorder(
        img, top, dh - nh - top, left, dw - nw - left, cv2.BORDER_CONSTANT, value=tuple(float(v) for v in fill3)
    )
    return padded, t


class Letterbox:
    """The fast letterbox pre-processor: BGR ``uint8`` image -> padded canvas -> network tensor.

    Each call resizes straight into a view of a cached, already padded canvas (the padding
    is only re-painted when the geometry changes), then normalises it per ``config``
    (`lite.ops.preprocess.normalize_into`; by default ``CHW`` ``float32`` RGB divided by 255,
    one vectorised division per plane). `canvas` stops after the first step. Canvases are
    kept per thread, so one instance may be shared by threads.

    Args:
        size: Network input size, an ``int`` or ``(H, W)``.
        stride: The model's largest stride; only used with ``auto``.
        auto: Rectangular inference: pad only to the smallest multiple of ``stride``.
        scaleup: Allow enlarging images smaller than ``size``.
        fill: Padding value, one ``int`` or a BGR triple (default: ``config.pad_value``; YOLOv6: 114).
        config: The model's `PreprocessConfig` (colour order, scale,
            mean / std, pad value, alignment, stretch); default: YOLOv6's (RGB, /255, 114, centred).

    Raises:
        InputError: A size or option is invalid.

    Example:
        ```python
        import cv2
        import numpy as np

        from lite.ops.letterbox import Letterbox

        pre = Letterbox(320)
        tensor, t = pre(cv2.imread("bus.jpg"))  # bus.jpg is 810 x 1080 (w x h)
        print(tensor.shape, tensor.dtype, t.pad)
        # (1, 3, 320, 320) float32 (40, 0)
        boxes_in_input_pixels = np.array([[40.0, 0.0, 280.0, 320.0]])  # the resized image's area
        print(t.to_original(boxes_in_input_pixels).tolist())  # back to the 810 x 1080 image
        # [[0.0, 0.0, 810.0, 1080.0]]
        ```
    """

    def __init__(
        self,
        size: int | Sequence[int],
        *,
        stride: int = 32,
        auto: bool = False,
        scaleup: bool = True,
        fill: int | Sequence[int] | None = None,
        config: PreprocessConfig | None = None,
    ) -> None:
        if config is not None and not isinstance(config, PreprocessConfig):
            raise InputError(f"config: expected a lite.ops.preprocess.PreprocessConfig; got {type(config).__name__}")
        self.config: PreprocessConfig = config or DEFAULT_CONFIG
        self.size: tuple[int, int] = _as_hw(size, "size")
        self.stride: int = _as_stride(stride)
        self.auto: bool = bool(auto)
        self.scaleup: bool = bool(scaleup)
        self.fill: tuple[int, int, int] = _as_fill(self.config.pad_bgr if fill is None else fill)
        self._modes = (self.config.pad_align, self.config.resize, self.config.rounding, self.config.short_side)
        self._fill_px = np.array(self.fill, np.uint8)
        self._geometries: dict[tuple[int, int, tuple[int, int] | None], LetterboxTransform] = {}
        self._local = threading.local()

    def __repr__(self) -> str:
        return (
            f"Letterbox(size={self.size}, stride={self.stride}, auto={self.auto}, "
            f"scaleup={self.scaleup}, fill={self.fill}, config={self.config})"
        )

    def geometry(self, src_hw: Sequence[int], dst_shape: Sequence[int] | None = None) -> LetterboxTransform:
        """The (cached) transform this pre-processor applies to an image of shape ``src_hw``.

        Args:
            src_hw: ``(h, w)`` of the original image.
            dst_shape: Optional ``(H, W)`` to pad to instead of the computed shape.

        Returns:
            The `LetterboxTransform`.

        Raises:
            InputError: ``src_hw`` or ``dst_shape`` is invalid, or ``dst_shape`` is too small.
        """
        src = _as_src_hw(src_hw)
        return self._geometry(src[0], src[1], None if dst_shape is None else _as_hw(dst_shape, "dst_shape"))

    def _geometry(self, h: int, w: int, dst_shape: tuple[int, int] | None = None) -> LetterboxTransform:
        key = (h, w, dst_shape)
        t = self._geometries.get(key)
        if t is None:
            t = _geometry((h, w), self.size, self.stride, self.auto, self.scaleup, dst_shape, *self._modes)
            if len(self._geometries) >= _GEOMETRY_CACHE_LIMIT:
                self._geometries.clear()
            self._geometries[key] = t
        return t

    def __call__(self, img: np.ndarray) -> tuple[np.ndarray, LetterboxTransform]:
        """Letterboxes one image into a network tensor.

        Args:
            img: BGR ``uint8`` image ``(h, w, 3)``.

        Returns:
            ``(tensor, transform)``: a new C-contiguous ``(1, 3, H, W)`` ``float32`` RGB tensor in
            ``[0, 1]``, and the transform to map boxes back with.

        Raises:
            ImageError: ``img`` is not a non-empty BGR ``uint8`` array of shape ``(h, w, 3)``.
        """
        img = _check_bgr(img)
        t = self._geometry(img.shape[0], img.shape[1])
        out = np.empty((1, 3, *t.dst_shape), np.float32)
        self._render(img, t, out[0])
        return out, t

    def canvas(self, img: np.ndarray, dst_shape: Sequence[int] | None = None) -> tuple[np.ndarray, LetterboxTransform]:
        """Letterboxes one image into this thread's cached ``uint8`` BGR canvas (no normalisation).

        The canvas is reused by the next call with the same destination shape on this thread:
        consume it (e.g. with `lite.ops.preprocess.normalize`) or copy it before then.

        Args:
            img: BGR ``uint8`` image ``(h, w, 3)``.
            dst_shape: Optional ``(H, W)`` to pad to instead of the computed shape.

        Returns:
            ``(canvas, transform)``: the ``(H, W, 3)`` ``uint8`` canvas and its transform.

        Raises:
            ImageError: ``img`` is not a non-empty BGR ``uint8`` array of shape ``(h, w, 3)``.
        """
        img = _check_bgr(img)
        t = self._geometry(img.shape[0], img.shape[1], None if dst_shape is None else _as_hw(dst_shape, "dst_shape"))
        return self._paint(img, t), t

    def batch(
        self, imgs: Sequence[np.ndarray], dst_shape: Sequence[int] | None = None
    ) -> tuple[np.ndarray, list[LetterboxTransform]]:
        """Letterboxes several images into one ``(B, 3, H, W)`` tensor.

        Without ``auto`` every image gets the configured size. With ``auto`` each image's own
        stride-multiple shape is computed and all are padded to the largest height and width
        among them. ``dst_shape`` forces one shape for all (each image still scaled by the
        ratio ``size`` gives it, then padded evenly).

        Args:
            imgs: BGR ``uint8`` images ``(h, w, 3)``; sizes may differ.
            dst_shape: Optional common ``(H, W)``; must hold every resized image.

        Returns:
            ``(tensor, transforms)``: a new ``(B, 3, H, W)`` ``float32`` tensor and one transform per image.

        Raises:
            ImageError: An image is not a BGR ``uint8`` array of shape ``(h, w, 3)``.
            InputError: ``imgs`` is empty, or ``dst_shape`` is invalid or too small.
        """
        checked, common, ts = self._batch_geometry(imgs, dst_shape)
        out = np.empty((len(checked), 3, *common), np.float32)
        for i, (im, t) in enumerate(zip(checked, ts, strict=True)):
            self._render(im, t, out[i])
        return out, ts

    def canvas_batch(
        self, imgs: Sequence[np.ndarray], dst_shape: Sequence[int] | None = None
    ) -> tuple[np.ndarray, list[LetterboxTransform]]:
        """Letterboxes several images into one ``(B, H, W, 3)`` ``uint8`` BGR canvas batch (no normalisation).

        The same geometry as `batch` (one common shape), for engines that normalise the canvas themselves.

        Args:
            imgs: BGR ``uint8`` images ``(h, w, 3)``; sizes may differ.
            dst_shape: Optional common ``(H, W)``; must hold every resized image.

        Returns:
            ``(canvases, transforms)``: a new ``(B, H, W, 3)`` ``uint8`` array and one transform per image.

        Raises:
            ImageError: An image is not a BGR ``uint8`` array of shape ``(h, w, 3)``.
            InputError: ``imgs`` is empty, or ``dst_shape`` is invalid or too small.
        """
        checked, common, ts = self._batch_geometry(imgs, dst_shape)
        out = np.empty((len(checked), *common, 3), np.uint8)
        for i, (im, t) in enumerate(zip(checked, ts, strict=True)):
            out[i] = self._paint(im, t)
        return out, ts

    def _batch_geometry(
        self, imgs: Sequence[np.ndarray], dst_shape: Sequence[int] | None
    ) -> tuple[list[np.ndarray], tuple[int, int], list[LetterboxTransform]]:
        """The checked images, their common ``(H, W)`` and their transforms (shared by `batch` and `canvas_batch`)."""
        if isinstance(imgs, np.ndarray) and imgs.ndim == 3:
            imgs = [imgs]
        checked = []
        for i, im in enumerate(imgs):
            try:
                checked.append(_check_bgr(im))
            except ImageError as e:
                raise ImageError(f"imgs[{i}]: {e}") from None
        if not checked:
            raise InputError("expected at least one image in the batch; got an empty sequence")
        if dst_shape is None:
            ts = [self._geometry(im.shape[0], im.shape[1]) for im in checked]
            common = (max(t.dst_shape[0] for t in ts), max(t.dst_shape[1] for t in ts))
            if any(t.dst_shape != common for t in ts):
                ts = [self._geometry(im.shape[0], im.shape[1], common) for im in checked]
        else:
            common = _as_hw(dst_shape, "dst_shape")
            ts = [self._geometry(im.shape[0], im.shape[1], common) for im in checked]
        return checked, common, ts

    def _render(self, img: np.ndarray, t: LetterboxTransform, out_chw: np.ndarray) -> None:
        """Resizes ``img`` into this thread's padded canvas for ``t`` and writes the normalised CHW to ``out_chw``."""
        normalize_into(self._paint(img, t), self.config, out_chw)

    def _paint(self, img: np.ndarray, t: LetterboxTransform) -> np.ndarray:
        """Resizes ``img`` into this thread's padded canvas for ``t``; returns the canvas."""
        canvas = self._canvas_for(t)
        nh, nw = t.resized_shape
        left, top = t.pad
        if left < 0 or top < 0:  # centre crop: the resized image is larger than the canvas
            dh, dw = t.dst_shape
            res = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nh, nw) != img.shape[:2] else img
            np.copyto(canvas, res[-top : -top + dh, -left : -left + dw])
            return canvas
        view = canvas[top : top + nh, left : left + nw]
        if img.shape[0] == nh and img.shape[1] == nw:
            np.copyto(view, img)
        else:
            res = cv2.resize(img, (nw, nh), dst=view, interpolation=cv2.INTER_LINEAR)
            if res is not view and not np.may_share_memory(res, canvas):  # OpenCV allocated instead
                view[...] = res
        return canvas

    def _canvas_for(self, t: LetterboxTransform) -> np.ndarray:
        """This thread's canvas of shape ``t.dst_shape``, with the padding ``t`` needs already painted."""
        try:
            canvases = self._local.canvases
        except AttributeError:
            canvases = self._local.canvases = {}
        entry = canvases.get(t.dst_shape)
        if entry is None:
            if len(canvases) >= _CANVAS_CACHE_LIMIT:
                canvases.clear()
            entry = canvases[t.dst_shape] = [np.empty((*t.dst_shape, 3), np.uint8), None]
        canvas = entry[0]
        rect = (*t.pad, *t.resized_shape)  # left, top, h', w'
        if entry[1] != rect and rect[0] >= 0 and rect[1] >= 0:  # (a centre crop covers the whole canvas)
            # Paint everything outside the new image rectangle; the inside is overwritten by the resize.
            left, top, nh, nw = rect
            fill = self._fill_px
            canvas[:top] = fill
            canvas[top + nh :] = fill
            canvas[top : top + nh, :left] = fill
            canvas[top : top + nh, left + nw :] = fill
            entry[1] = rect
        return canvas


def letterbox(img: np.ndarray, size: int | Sequence[int], **kw: Any) -> tuple[np.ndarray, LetterboxTransform]:
    """Convenience: ``Letterbox(size, **kw)(img)`` (no caching across calls).

    Args:
        img: BGR ``uint8`` image ``(h, w, 3)``.
        size: Network input size, an ``int`` or ``(H, W)``.
        **kw: ``stride``, ``auto``, ``scaleup``, ``fill`` as for `Letterbox`.

    Returns:
        ``(tensor, transform)`` as `Letterbox.__call__`.
    """
    return Letterbox(size, **kw)(img)


# --------------------------------------------------------------------------- helpers


def _scaled(n: int, r: float, rounding: str = "round") -> int:
    """YOLOv6's ``int(round(n * r))`` (``rounding="truncate"``: YOLOX's and NanoDet's ``int(n * r)``), at least 1."""
    return max(1, int(n * r) if rounding == "truncate" else int(round(n * r)))


def _geometry(
    src_hw: tuple[int, int],
    size: tuple[int, int],
    stride: int,
    auto: bool,
    scaleup: bool,
    dst_shape: tuple[int, int] | None,
    pad_align: str = "center",
    resize: str = "letterbox",
    rounding: str = "round",
    short_side: int | None = None,
) -> LetterboxTransform:
    h, w = src_hw
    if resize == "center_crop":
        if dst_shape is not None and dst_shape != size:
            raise InputError(f"resize='center_crop' cuts the input size {size}; got dst_shape={dst_shape}")
        return _center_crop(src_hw, size, short_side)
    if resize == "stretch":
        hh, ww = dst_shape or size
        if dst_shape is not None and dst_shape != size:
            raise InputError(f"resize='stretch' fills the input size {size}; got dst_shape={dst_shape}")
        return LetterboxTransform(min(hh / h, ww / w), (0, 0), (h, w), (hh, ww), (ww / w, hh / h))
    r = min(size[0] / h, size[1] / w)
    if not scaleup:
        r = min(r, 1.0)
    nh, nw = _scaled(h, r, rounding), _scaled(w, r, rounding)
    if dst_shape is not None:
        if dst_shape[0] < nh or dst_shape[1] < nw:
            raise InputError(
                f"expected dst_shape to hold the resized image of shape ({nh}, {nw}); got dst_shape={dst_shape}. "
                "Pass a larger dst_shape or none at all."
            )
        dh_total, dw_total = dst_shape[0] - nh, dst_shape[1] - nw
    elif auto:
        dh_total, dw_total = -(-nh // stride) * stride - nh, -(-nw // stride) * stride - nw
    else:
        dh_total, dw_total = size[0] - nh, size[1] - nw
    if pad_align == "topleft":
        top, left = 0, 0
    else:
        top, left = int(round(dh_total / 2 - 0.1)), int(round(dw_total / 2 - 0.1))
    return LetterboxTransform(r, (left, top), (h, w), (nh + dh_total, nw + dw_total), rounding=rounding)


def _center_crop(src_hw: tuple[int, int], size: tuple[int, int], short_side: int | None) -> LetterboxTransform:
    """torchvision's ``Resize(short_side)`` then ``CenterCrop(size)``, as a transform with a negative pad."""
    h, w = src_hw
    hh, ww = size
    if short_side is None:  # the smallest resize that covers the crop
        r = max(hh / h, ww / w)
        nh, nw = max(hh, _scaled(h, r)), max(ww, _scaled(w, r))
    elif h <= w:
        nh, nw = short_side, max(1, int(short_side * w / h))
    else:
        nh, nw = max(1, int(short_side * h / w)), short_side
    if nh < hh or nw < ww:
        raise InputError(
            f"center crop: the image resized to short side {short_side} is {nh}x{nw} (h x w), smaller than the "
            f"crop {hh}x{ww}; expected short_side >= the crop size (ImageNet: 256 for 224)"
        )
    top, left = int(round((nh - hh) / 2.0)), int(round((nw - ww) / 2.0))
    return LetterboxTransform(min(nh / h, nw / w), (-left, -top), (h, w), (hh, ww), (nw / w, nh / h))


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool | np.bool_):
        return None
    try:
        v = operator.index(value)
    except TypeError:
        return None
    return v if v > 0 else None


def _as_hw(value: Any, name: str) -> tuple[int, int]:
    """``int`` or ``(H, W)`` -> ``(H, W)`` of positive ints."""
    single = _positive_int(value)
    if single is not None:
        return single, single
    if not isinstance(value, str | bytes) and isinstance(value, Sequence | np.ndarray) and len(value) == 2:
        hw = (_positive_int(value[0]), _positive_int(value[1]))
        if hw[0] is not None and hw[1] is not None:
            return hw  # type: ignore[return-value]
    raise InputError(f"expected {name} as a positive int or an (H, W) pair of positive ints; got {value!r}")


def _as_src_hw(value: Any) -> tuple[int, int]:
    """``(h, w)`` (or an image shape ``(h, w, c)``) -> ``(h, w)`` of positive ints."""
    if not isinstance(value, str | bytes) and isinstance(value, Sequence | np.ndarray) and len(value) in (2, 3):
        return _as_hw(tuple(value[:2]), "src_hw")
    raise InputError(f"expected src_hw as an (h, w) pair of positive ints; got {value!r}")


def _as_modes(
    pad_align: Any, resize: Any, rounding: Any = "round", short_side: Any = None
) -> tuple[str, str, str, int | None]:
    """Validates ``pad_align``, ``resize``, ``rounding`` and ``short_side`` through `PreprocessConfig`."""
    c = PreprocessConfig(pad_align=pad_align, resize=resize, rounding=rounding, short_side=short_side)
    return c.pad_align, c.resize, c.rounding, c.short_side


def _as_stride(value: Any) -> int:
    s = _positive_int(value)
    if s is None:
        raise InputError(f"expected stride as a positive int (the model's largest stride, e.g. 32); got {value!r}")
    return s


def _as_fill(value: Any) -> tuple[int, int, int]:
    """``int`` or a BGR triple of ints in ``[0, 255]`` -> triple."""
    vals: tuple[Any, ...] = (value,) * 3 if np.ndim(value) == 0 else tuple(np.asarray(value).ravel())
    ok = len(vals) == 3
    ints: list[int] = []
    for v in vals if ok else ():
        try:
            iv = operator.index(v)
        except TypeError:
            ok = False
            break
        ok = ok and 0 <= iv <= 255 and not isinstance(v, bool)
        ints.append(iv)
    if not ok:
        raise InputError(f"expected fill as an int in [0, 255] or a BGR triple of them; got {value!r}")
    return ints[0], ints[1], ints[2]


def _as_boxes(xyxy: Any) -> np.ndarray:
    b = np.asarray(xyxy, dtype=np.float64)
    if b.size == 0 and (b.ndim < 2 or b.shape[-1] != 4):
        return b.reshape(0, 4)
    if b.ndim == 0 or b.shape[-1] != 4:
        raise InputError(
            f"expected boxes as an (n, 4) array of x1, y1, x2, y2; got shape {b.shape}. Pass boxes[:, :4] if needed."
        )
    return b


def _check_bgr(img: Any) -> np.ndarray:
    """Returns ``img`` (made C-contiguous when needed) if it is a non-empty BGR ``uint8`` ``(h, w, 3)`` array."""
    if (
        not isinstance(img, np.ndarray)
        or img.dtype != np.uint8
        or img.ndim != 3
        or img.shape[2] != 3
        or img.shape[0] == 0
        or img.shape[1] == 0
    ):
        got = f"array of shape {img.shape}, dtype {img.dtype}" if isinstance(img, np.ndarray) else type(img).__name__
        raise ImageError(
            f"expected a BGR uint8 array of shape (H, W, 3); got {got}. "
            "Convert the input with lite.data.io.load_image() first "
            "(it accepts paths, gray, BGRA, float and PIL images)."
        )
    if not img.flags.c_contiguous:
        img = np.ascontiguousarray(img)
    return img
