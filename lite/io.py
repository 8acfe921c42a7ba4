"""Turning whatever a user passes as an image into a BGR ``uint8`` array.

:func:`load_image` is the one place where input images are interpreted; everything after
it (letterbox, backends, drawing) can rely on a C-contiguous ``(H, W, 3)`` ``uint8`` array in
OpenCV's BGR channel order. What it accepts:

* ``str`` / :class:`os.PathLike`: read with OpenCV (``cv2.IMREAD_COLOR``: gray and 16-bit files
  become 8-bit BGR, alpha is dropped, EXIF orientation is applied). A missing path raises
  :class:`~lite.errors.ImageNotFoundError`; a directory or a file OpenCV cannot decode raises
  :class:`~lite.errors.ImageError`. URLs are not fetched.
* ``bytes`` / ``bytearray`` / ``memoryview``: the *encoded* contents of an image file (JPEG, PNG,
  ...), decoded with ``cv2.imdecode``. Raw pixel buffers are not guessed: wrap them with
  ``np.frombuffer(data, np.uint8).reshape(H, W, 3)``.
* numpy arrays, in OpenCV's channel order:

  - ``uint8`` ``(H, W, 3)`` BGR: returned as is (no copy when C-contiguous);
  - ``(H, W)`` or ``(H, W, 1)`` grayscale: replicated to BGR;
  - ``(H, W, 4)`` BGRA: alpha dropped (not composited);
  - ``float16`` / ``float32`` / ``float64`` in ``[0, 1]`` with any of those layouts: ``round(x * 255)``.
    Values outside ``[0, 1]`` by more than half a grey level, NaN or inf raise ``ImageError``.
  - Every other dtype raises ``ImageError``: ``bool``, ``complex``, ``object``, strings, and integer
    types other than ``uint8`` -- ``uint16`` included, because its range (full 16-bit, 12-bit
    sensor data, ...) cannot be guessed safely; scale it yourself (the message says how).

* PIL images (recognised without importing PIL): converted to RGB (``L``, ``LA``, ``P``, ``RGBA``,
  ``CMYK``, ... ; alpha dropped), then to BGR. 16-bit and 32-bit modes (``I;16``, ``I``, ``F``)
  follow the array rules above instead of being silently clipped.

Everything else -- ``None``, empty or zero-sized arrays, wrong ``ndim`` or channel counts,
lists, tensors -- raises :class:`~lite.errors.ImageError` (a ``ValueError``) saying what was
expected, what came, and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lite.errors import ImageError, ImageNotFoundError

__all__ = ["load_image", "load_images"]

EXPECTED = "expected an image as a BGR uint8 array of shape (H, W, 3), a path or a PIL image"
_FLOAT_TOL = 0.5 / 255  # a float value may overshoot [0, 1] by less than half a grey level
_FLOAT_SIZES = (2, 4, 8)  # float16, float32, float64


def load_image(source: Any) -> np.ndarray:
    """Loads or converts one image to a C-contiguous BGR ``uint8`` array of shape ``(H, W, 3)``.

    Args:
        source: A path (``str`` / ``os.PathLike``), encoded image ``bytes``, a numpy array
            (BGR ``uint8``, grayscale, BGRA, or float in ``[0, 1]``) or a PIL image. See the
            module docstring for the exact rules.

    Returns:
        The BGR ``uint8`` image. A C-contiguous BGR ``uint8`` array is returned as is, not copied.

    Raises:
        ImageNotFoundError: ``source`` is a path that does not exist (a ``FileNotFoundError``).
        ImageError: ``source`` is not a usable image (a ``ValueError``): ``None``, an empty
            array, a wrong shape or dtype, float values outside ``[0, 1]``, an unreadable file,
            undecodable bytes or an unsupported type.
    """
    if isinstance(source, np.ndarray):
        return _from_array(np.asarray(source))
    if isinstance(source, str | os.PathLike):
        return _from_path(source)
    if isinstance(source, bytes | bytearray | memoryview):
        return _from_bytes(source)
    if _is_pil(source):
        return _from_pil(source)
    raise ImageError(f"{EXPECTED}; got {_describe(source)}.{_hint_for(source)}")


def load_images(sources: Any) -> list[np.ndarray]:
    """Loads several images with :func:`load_image`.

    Args:
        sources: An iterable of anything :func:`load_image` accepts, or a ``(N, H, W, C)``
            array (one image per first index). A single image (a path, an array of ``ndim``
            at most 3, bytes or a PIL image) is accepted too and gives a one-element list.

    Returns:
        One BGR ``uint8`` ``(H, W, 3)`` array per source, in order.

    Raises:
        ImageNotFoundError: A path does not exist; the message starts with its index.
        ImageError: A source is not a usable image (the message starts with its index), or
            ``sources`` is empty.
    """
    if _is_single(sources):
        return [load_image(sources)]
    if not isinstance(sources, Iterable):
        raise ImageError(f"expected an iterable of images (paths, arrays or PIL images); got {_describe(sources)}.")
    out = []
    for i, src in enumerate(sources):
        try:
            out.append(load_image(src))
        except (ImageError, ImageNotFoundError) as e:
            raise type(e)(f"sources[{i}]: {e}") from e
    if not out:
        raise ImageError("expected at least one image; got an empty sequence. Pass one or more images.")
    return out


# --------------------------------------------------------------------------- sources


def _from_path(source: str | os.PathLike) -> np.ndarray:
    raw = os.fspath(source)
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    if not text:
        raise ImageError(f"{EXPECTED}; got an empty string. Pass the path of an image file.")
    path = Path(text)
    if not path.exists():
        if text.startswith(("http://", "https://")):
            raise ImageNotFoundError(
                f"expected a local image file; got the URL {text!r}. lite does not download images: "
                "download it first and pass the file path (or the bytes)."
            )
        raise ImageNotFoundError(
            f"image file not found: {text!r} (expected an existing image file; resolved to {path.absolute()}). "
            "Check the path and the working directory."
        )
    if path.is_dir():
        raise ImageError(f"expected an image file; got the directory {text!r}. Pass the path of one image file.")
    img = cv2.imread(text, cv2.IMREAD_COLOR)
    if img is None:
        # cv2.imread cannot open some paths (non-ASCII names on Windows): decode the bytes ourselves.
        try:
            data = np.fromfile(path, np.uint8)
        except OSError as e:
            raise ImageError(
                f"expected a readable image file; cannot read {text!r}: {e}. Check its permissions."
            ) from e
        img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise ImageError(
            f"expected an image file OpenCV can decode (JPEG, PNG, BMP, TIFF, WebP, ...); got {text!r}, "
            f"which is not a decodable image ({path.stat().st_size} bytes: empty, corrupt or another format). "
            "Check that the file is an image."
        )
    return np.ascontiguousarray(img)


def _from_bytes(source: bytes | bytearray | memoryview) -> np.ndarray:
    try:
        data = np.frombuffer(source, np.uint8)
    except (ValueError, BufferError) as e:  # a non-contiguous memoryview
        raise ImageError(f"expected contiguous encoded image bytes; got a buffer numpy cannot read ({e}).") from e
    if data.size == 0:
        raise ImageError("expected the encoded bytes of an image file (JPEG, PNG, ...); got 0 bytes.")
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        head = bytes(data[:8])
        raise ImageError(
            f"expected the encoded bytes of an image file (JPEG, PNG, ...); got {data.size} bytes starting with "
            f"{head!r} that OpenCV cannot decode. For raw pixels use np.frombuffer(data, np.uint8).reshape(H, W, 3)."
        )
    return np.ascontiguousarray(img)


def _is_pil(obj: Any) -> bool:
    """True for PIL images, decided from the class's module (never imports PIL)."""
    return any(getattr(c, "__module__", "").startswith("PIL") for c in type(obj).__mro__[:-1]) and hasattr(
        obj, "convert"
    )


def _from_pil(im: Any) -> np.ndarray:
    mode = getattr(im, "mode", "?")
    try:
        if mode in ("I", "F") or str(mode).startswith("I;"):
            # 16/32-bit data: never let PIL clip it silently; the array rules decide (and explain).
            return _from_array(np.asarray(im), source=f"a PIL image of mode {mode!r}")
        rgb = np.asarray(im if mode == "RGB" else im.convert("RGB"))
    except ImageError:
        raise
    except Exception as e:  # PIL raises ValueError/OSError/... for modes it cannot convert
        raise ImageError(
            f"{EXPECTED}; got a PIL image of mode {mode!r} that cannot be converted to RGB ({e}). "
            "Convert it yourself with image.convert('RGB')."
        ) from e
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageError(f"{EXPECTED}; got a PIL image of mode {mode!r} and size {getattr(im, 'size', '?')} (empty?).")
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _from_array(a: np.ndarray, source: str = "") -> np.ndarray:
    # Fast path: already what everything downstream expects.
    if a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3 and a.shape[0] > 0 and a.shape[1] > 0:
        return a if a.flags.c_contiguous else np.ascontiguousarray(a)
    got = source or _describe(a)
    if a.ndim not in (2, 3):
        hint = " For a batch of images use load_images()." if a.ndim == 4 else ""
        raise ImageError(f"expected an image array of shape (H, W) or (H, W, C); got {got} ({a.ndim} dims).{hint}")
    if a.ndim == 3 and a.shape[2] not in (1, 3, 4):
        hint = (
            " It looks channels-first (C, H, W): pass img.transpose(1, 2, 0)."
            if a.shape[0] in (1, 3, 4)
            else " Pass 1 (gray), 3 (BGR) or 4 (BGRA) channels."
        )
        raise ImageError(f"expected an image array (H, W, C) with C = 1 (gray), 3 (BGR) or 4 (BGRA); got {got}.{hint}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ImageError(
            f"expected a non-empty image array (H, W > 0); got {got}. "
            "Check how the image was produced (a failed read, an empty crop?)."
        )
    if a.dtype != np.uint8:
        a = _to_uint8(a, got)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        return cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_GRAY2BGR)
    if a.shape[2] == 4:
        return cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(a)


def _to_uint8(a: np.ndarray, got: str) -> np.ndarray:
    """Float ``[0, 1]`` -> ``uint8``; any other non-``uint8`` dtype -> ``ImageError`` with advice."""
    if a.dtype.kind == "f" and a.dtype.itemsize in _FLOAT_SIZES:
        f = a.astype(np.float32) if a.dtype.itemsize == 2 else a
        lo, hi = f.min(), f.max()  # NaN propagates into both; inf fails the range check
        if np.isnan(lo) or np.isnan(hi):
            raise ImageError(
                f"expected a float image with values in [0, 1]; got {got} containing NaN. Replace the NaN values."
            )
        if lo < -_FLOAT_TOL or hi > 1 + _FLOAT_TOL:
            raise ImageError(
                f"expected a float image with values in [0, 1]; got {got} with values in [{lo:.6g}, {hi:.6g}]. "
                "Divide by 255 if it holds 0..255 values (or pass it as uint8); clip or remove out-of-range values."
            )
        return np.clip(np.rint(f * 255), 0, 255).astype(np.uint8)
    if a.dtype == np.uint16:
        advice = (
            "The range of 16-bit data cannot be guessed: for full-range 16-bit use (img // 257).astype(np.uint8), "
            "for N-bit data scale by 255 / (2**N - 1)"
        )
    elif a.dtype.kind in "iu":
        advice = "If the values are already 0..255, pass img.astype(np.uint8)"
    else:
        advice = "Pass uint8 values 0..255 or floats in [0, 1]"
    raise ImageError(f"expected an image of dtype uint8 (or float in [0, 1]); got {got}. {advice}.")


# --------------------------------------------------------------------------- messages


def _describe(obj: Any) -> str:
    if obj is None:
        return "None"
    if isinstance(obj, np.ndarray):
        return f"an array of shape {obj.shape} and dtype {obj.dtype}"
    t = type(obj)
    name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    if isinstance(obj, list | tuple):
        return f"a {name} of length {len(obj)}"
    return f"an object of type {name}"


def _hint_for(obj: Any) -> str:
    if isinstance(obj, list | tuple):
        return " For several images use load_images(); for pixel values use np.asarray(..., np.uint8)."
    module = type(obj).__module__
    if module.startswith(("torch", "tensorflow", "jax")):
        return " Convert the tensor to a numpy (H, W, 3) BGR uint8 array first (e.g. t.cpu().numpy())."
    return ""


def _is_single(obj: Any) -> bool:
    """Whether ``load_images`` should treat ``obj`` as one image rather than a collection."""
    if obj is None or isinstance(obj, str | bytes | bytearray | memoryview | os.PathLike):
        return True
    if isinstance(obj, np.ndarray):
        return obj.ndim != 4
    return _is_pil(obj)
