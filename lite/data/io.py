"""Turning whatever a user passes as an image into a BGR ``uint8`` array.

`load_image` is the one place where input images are interpreted; everything after
it (letterbox, backends, drawing) can rely on a C-contiguous ``(H, W, 3)`` ``uint8`` array in
OpenCV's BGR channel order. What it accepts:

* ``str`` / `os.PathLike`: read with OpenCV (``cv2.IMREAD_COLOR``: gray and 16-bit files
  become 8-bit BGR, alpha is dropped, EXIF orientation is applied). A missing path raises
  [`ImageNotFoundError`][lite.core.errors.ImageNotFoundError]; a directory or a file OpenCV cannot decode raises
  [`ImageError`][lite.core.errors.ImageError]. URLs are not fetched.
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
lists, tensors -- raises `ImageError` (a ``ValueError``) saying what was expected, what came, and
what to do; an object of a type lite does not read at all (``None``, a dict, a list, a tensor)
raises `ImageTypeError`, which is also a ``TypeError``.

A JPEG file that ends before its end-of-image marker -- a truncated or partly downloaded file,
which libjpeg decodes anyway with the missing part grey -- gives the image and a
`TruncatedImageWarning` through `warnings` naming the file. It is a warning rather than an error
because such a file may still be mostly usable; make it an error with
``warnings.simplefilter("error", lite.core.errors.TruncatedImageWarning)``. Truncated JPEG *bytes*
cannot be decoded by OpenCV at all: they raise `ImageError` saying the data is truncated.

Sources for batch work (`resolve_source`, `image_paths`, `batch_sources`): an image path, a
folder (its `IMAGE_SUFFIXES` files), a glob or a video (`VIDEO_SUFFIXES`).

Size limit: before a file or encoded bytes are decoded, the width and height in the header (JPEG,
PNG, GIF, BMP, WebP, PNM) are checked against `MAX_IMAGE_PIXELS` (default 2**28 = 268,435,456
pixels, about 16384 x 16384; a BGR image that size takes 768 MiB). A larger header (a damaged file
or a "decompression bomb" claiming 200000 x 200000 pixels) raises `ImageError` before any memory is
allocated. Override it with ``lite.data.io.MAX_IMAGE_PIXELS = N`` (``None``: no limit of lite's own) or
the environment variable ``LITE_MAX_IMAGE_PIXELS``. OpenCV keeps its own limit of 2**30 pixels
(``OPENCV_IO_MAX_IMAGE_PIXELS``, read when cv2 is imported); an image over it is an `ImageError` too.
"""

from __future__ import annotations

import glob
import os
import re
import struct
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lite.core.errors import ImageError, ImageNotFoundError, ImageTypeError, InputError, TruncatedImageWarning

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_IMAGE_PIXELS",
    "VIDEO_SUFFIXES",
    "batch_sources",
    "image_paths",
    "header_size",
    "is_truncated_jpeg",
    "load_image",
    "load_images",
    "resolve_source",
    "resolve_sources",
]

#: File suffixes lite reads as images (folders and globs keep only these).
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pgm", ".ppm")
#: File suffixes lite reads as videos.
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
_GLOB_CHARS = set("*?[")

EXPECTED = "expected an image as a BGR uint8 array of shape (H, W, 3), a path or a PIL image"
_FLOAT_TOL = 0.5 / 255  # a float value may overshoot [0, 1] by less than half a grey level
_FLOAT_SIZES = (2, 4, 8)  # float16, float32, float64


def _pixel_limit_from_env() -> int | None:
    text = os.environ.get("LITE_MAX_IMAGE_PIXELS", "").strip()
    if not text:
        return 1 << 28
    if text.lower() in ("none", "0", "off"):
        return None
    try:
        return int(text)
    except ValueError as e:
        raise InputError(f"$LITE_MAX_IMAGE_PIXELS: expected a number of pixels (or 'none'), got {text!r}") from e


#: Largest width x height lite decodes from a file or bytes (None: no limit of lite's own); see the module docs.
MAX_IMAGE_PIXELS: int | None = _pixel_limit_from_env()
_HEADER_BYTES = 1 << 18  # read this much of a file to find its size (JPEG EXIF segments come first)


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
    raise ImageTypeError(f"{EXPECTED}; got {_describe(source)}.{_hint_for(source)}")


def load_images(sources: Any) -> list[np.ndarray]:
    """Loads several images with `load_image`.

    Args:
        sources: An iterable of anything `load_image` accepts, or a ``(N, H, W, C)``
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
        raise ImageTypeError(f"expected an iterable of images (paths, arrays or PIL images); got {_describe(sources)}.")
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
    try:
        with open(path, "rb") as f:
            head = f.read(_HEADER_BYTES)
    except OSError as e:
        raise ImageError(f"expected a readable image file; cannot read {text!r}: {e}. Check its permissions.") from e
    _check_pixels(head, repr(text))
    img, data = _decode(lambda: cv2.imread(text, cv2.IMREAD_COLOR), repr(text)), None
    if img is None:
        # cv2.imread cannot open some paths (non-ASCII names on Windows): decode the bytes ourselves.
        try:
            data = np.fromfile(path, np.uint8)
        except OSError as e:
            raise ImageError(
                f"expected a readable image file; cannot read {text!r}: {e}. Check its permissions."
            ) from e
        img = _decode(lambda: cv2.imdecode(data, cv2.IMREAD_COLOR), repr(text)) if data.size else None
    if img is None and data is not None and is_truncated_jpeg(data):
        raise ImageError(
            f"expected a complete image file; got {text!r}, a JPEG that ends before its end-of-image marker "
            "(truncated or partly downloaded) and cannot be decoded. Re-download or re-encode it."
        )
    if img is None:
        raise ImageError(
            f"expected an image file OpenCV can decode (JPEG, PNG, BMP, TIFF, WebP, ...); got {text!r}, "
            f"which is not a decodable image ({path.stat().st_size} bytes: empty, corrupt or another format). "
            "Check that the file is an image."
        )
    if path.suffix.lower() in (".jpg", ".jpeg", ".jpe", ".jfif") or _starts_as_jpeg(path):
        _warn_if_truncated(np.fromfile(path, np.uint8), repr(text))
    return np.ascontiguousarray(img)


def _from_bytes(source: bytes | bytearray | memoryview) -> np.ndarray:
    try:
        data = np.frombuffer(source, np.uint8)
    except (ValueError, BufferError) as e:  # a non-contiguous memoryview
        raise ImageError(f"expected contiguous encoded image bytes; got a buffer numpy cannot read ({e}).") from e
    if data.size == 0:
        raise ImageError("expected the encoded bytes of an image file (JPEG, PNG, ...); got 0 bytes.")
    what = f"the {data.size} encoded bytes"
    _check_pixels(data[:_HEADER_BYTES].tobytes(), what)
    img = _decode(lambda: cv2.imdecode(data, cv2.IMREAD_COLOR), what)
    if img is None and is_truncated_jpeg(data):
        raise ImageError(
            f"expected the encoded bytes of a complete image; got {data.size} bytes of a JPEG that ends before its "
            "end-of-image marker (truncated) and cannot be decoded. Re-download or re-encode it."
        )
    if img is None:
        head = bytes(data[:8])
        raise ImageError(
            f"expected the encoded bytes of an image file (JPEG, PNG, ...); got {data.size} bytes starting with "
            f"{head!r} that OpenCV cannot decode. For raw pixels use np.frombuffer(data, np.uint8).reshape(H, W, 3)."
        )
    _warn_if_truncated(data, f"the {data.size} encoded bytes")
    return np.ascontiguousarray(img)


# --------------------------------------------------------------------------- image size from the header


def _decode(read: Any, what: str) -> np.ndarray | None:
    """Run an OpenCV read; its own refusals (over its pixel limit, a corrupt header) become `ImageError`."""
    try:
        return read()
    except cv2.error as e:
        detail = str(e).strip().splitlines()[-1] if str(e).strip() else "no detail"
        hint = (
            " The image is larger than OpenCV's own limit: set OPENCV_IO_MAX_IMAGE_PIXELS before Python starts."
            if "MAX_IMAGE_PIXELS" in str(e)
            else " Check that the file is a valid image."
        )
        raise ImageError(f"expected an image OpenCV can decode; OpenCV refused {what}: {detail}.{hint}") from e


def _check_pixels(head: bytes, what: str) -> None:
    """Refuse an image whose header claims more than `MAX_IMAGE_PIXELS` pixels, before decoding it."""
    limit = MAX_IMAGE_PIXELS
    size = header_size(head) if limit is not None else None
    if size is None or limit is None:
        return
    w, h = size
    if w * h > limit:
        raise ImageError(
            f"expected an image of at most {limit:,} pixels (lite.data.io.MAX_IMAGE_PIXELS); {what}: the header "
            f"says {w}x{h} = {w * h:,} pixels (a damaged file, or an image made to exhaust memory). If the image "
            "is real, raise the limit: lite.data.io.MAX_IMAGE_PIXELS = N or $LITE_MAX_IMAGE_PIXELS."
        )


_SOF = frozenset([*range(0xC0, 0xD0)]) - {0xC4, 0xC8, 0xCC}  # start-of-frame markers (not DHT, JPG, DAC)
_PNM = re.compile(rb"^P[1-6](?:\s|#[^\n]*\n)+(\d+)(?:\s|#[^\n]*\n)+(\d+)")


def header_size(head: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from the first bytes of an encoded image, without decoding it.

    Reads JPEG (the first start-of-frame segment), PNG, GIF, BMP, WebP and PNM headers; other
    formats, or a header cut short, give None.
    """
    try:
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if head[:2] == b"\xff\xd8":
            return _jpeg_size(head)
        if head[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", head[6:10])
        if head[:2] == b"BM":
            if struct.unpack("<I", head[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER
                return struct.unpack("<HH", head[18:22])
            w, h = struct.unpack("<ii", head[18:26])
            return abs(w), abs(h)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp_size(head)
        m = _PNM.match(head[:512])
        if m:
            return int(m.group(1)), int(m.group(2))
    except struct.error:  # a header cut short
        return None
    return None


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    pos, n = 2, len(head)
    while pos + 4 <= n:
        if head[pos] != 0xFF:
            pos += 1
            continue
        marker = head[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in _RST_OR_STUFFING or marker in (0x01, 0xD8):
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before it
            return None
        if marker in _SOF:
            h, w = struct.unpack(">HH", head[pos + 5 : pos + 9])
            return w, h
        pos += 2 + struct.unpack(">H", head[pos + 2 : pos + 4])[0]
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    kind = head[12:16]
    if kind == b"VP8 ":
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if kind == b"VP8L":
        bits = struct.unpack("<I", head[21:25])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


# --------------------------------------------------------------------------- truncated JPEG files

_RST_OR_STUFFING = frozenset([0x00, 0xFF, *range(0xD0, 0xD8)])  # bytes after 0xFF that do not start a marker


def _starts_as_jpeg(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"\xff\xd8"
    except OSError:
        return False


def is_truncated_jpeg(data: bytes | np.ndarray) -> bool:
    """Whether JPEG bytes end before their end-of-image marker (EOI, ``FF D9``).

    libjpeg decodes such a file anyway ("Premature end of JPEG file") and OpenCV returns an image
    whose missing part is grey. The check walks the marker segments and skips the entropy-coded
    data of each scan (vectorised), so data appended after a complete image (e.g. a motion photo's
    video) does not count as truncation. Bytes that do not start with a JPEG SOI marker give False.

    Args:
        data: The encoded file contents.

    Returns:
        True when the data is a JPEG that stops before its EOI marker.
    """
    buf = np.frombuffer(data, np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1).view(np.uint8)
    n = buf.size
    if n < 2 or buf[0] != 0xFF or buf[1] != 0xD8:
        return False
    raw = buf.tobytes()
    pos = 2
    while True:
        while pos < n and raw[pos] != 0xFF:  # tolerate junk between segments, as libjpeg does
            pos += 1
        while pos < n and raw[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            return True
        marker = raw[pos]
        pos += 1
        if marker == 0xD9:
            return False
        if marker in _RST_OR_STUFFING or marker == 0x01:  # standalone markers
            continue
        if pos + 2 > n:
            return True
        pos += int.from_bytes(raw[pos : pos + 2], "big")
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
            pos = _next_marker(buf, pos)
            if pos < 0:
                return True


def _next_marker(buf: np.ndarray, start: int) -> int:
    """Index of the first 0xFF at or after ``start`` that begins a marker, or -1."""
    if start >= buf.size - 1:
        return -1
    tail = buf[start:]
    ff = np.flatnonzero(tail[:-1] == 0xFF)
    if ff.size == 0:
        return -1
    nxt = tail[ff + 1]
    real = ff[(nxt != 0x00) & (nxt != 0xFF) & ((nxt < 0xD0) | (nxt > 0xD7))]
    return int(real[0]) + start if real.size else -1


def _warn_if_truncated(data: np.ndarray, what: str) -> None:
    if is_truncated_jpeg(data):
        warnings.warn(
            f"{what}: the JPEG data ends before its end-of-image marker (a truncated or partly downloaded file); "
            "the decoder filled the missing part of the image with grey, so detections there are meaningless. "
            "Re-download or re-encode the file; to make this an error use "
            "warnings.simplefilter('error', lite.core.errors.TruncatedImageWarning).",
            TruncatedImageWarning,
            stacklevel=4,
        )


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


# --------------------------------------------------------------------------- sources: files, folders, globs, videos


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def resolve_source(source: str | os.PathLike) -> tuple[str, list[Path]]:
    """Classify one source: ``("image" | "video" | "folder" | "glob", paths)``.

    A folder gives its image files (by suffix, sorted, not recursive); a glob (``"imgs/*.jpg"``,
    ``"**/*.png"``) the image files it matches, sorted; a file its own path.

    Raises:
        ImageNotFoundError: ``source`` does not exist, or a folder/glob holds no image.
        ImageError: A file that is neither an image nor a video by its suffix.
    """
    text = os.fspath(source)
    p = Path(text)
    if p.is_dir():
        paths = _images_in(p)
        if not paths:
            raise ImageNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {p}")
        return "folder", paths
    if p.is_file():
        suffix = p.suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            return "video", [p]
        if suffix in IMAGE_SUFFIXES or not suffix:
            return "image", [p]
        raise ImageError(
            f"{p}: expected an image ({', '.join(IMAGE_SUFFIXES)}) or a video ({', '.join(VIDEO_SUFFIXES)}); "
            f"got a {suffix} file"
        )
    if _GLOB_CHARS & set(text):
        paths = sorted(Path(m) for m in glob.glob(text, recursive=True))
        paths = [m for m in paths if m.is_file() and m.suffix.lower() in IMAGE_SUFFIXES]
        if not paths:
            raise ImageNotFoundError(f"the pattern {text!r} matches no image file")
        return "glob", paths
    raise ImageNotFoundError(f"source not found: {text!r} (expected an image, a folder, a glob or a video)")


def resolve_sources(sources: Sequence[str | os.PathLike]) -> tuple[str, list[Path]]:
    """Classify one or several sources (a shell-expanded glob gives several).

    Several sources give kind ``"files"``: their images in the order given (folders and
    globs expanded). A video must come alone.

    Raises:
        InputError: A video among several sources.
    """
    if len(sources) == 1:
        return resolve_source(sources[0])
    paths: list[Path] = []
    for src in sources:
        kind, found = resolve_source(src)
        if kind == "video":
            raise InputError(f"a video must be the only source; got {os.fspath(src)} among {len(sources)} sources")
        paths += found
    return "files", paths


def image_paths(source: str | os.PathLike) -> list[Path]:
    """The image files one source names: an image path, a folder or a glob (videos are refused).

    Raises:
        ImageNotFoundError: Nothing there, or no image in the folder / matching the glob.
        InputError: ``source`` is a video (read its frames with OpenCV, or use ``lite detect VIDEO``).
    """
    kind, paths = resolve_source(source)
    if kind == "video":
        raise InputError(
            f"expected images; got the video {os.fspath(source)!r}. Read its frames (cv2.VideoCapture) and pass "
            "them as arrays, or run `lite detect VIDEO`"
        )
    return paths


def batch_sources(images: Any) -> list[Any]:
    """The images a batch call (`Detector.detect_batch`) means.

    A ``str`` / ``os.PathLike`` is a source (one image, a folder or a glob: `image_paths`), never a
    sequence of characters; another single image (an array of at most 3 dims, bytes, a PIL image) is a
    batch of one; a ``(N, H, W, C)`` array is N images; anything else is iterated.

    Raises:
        ImageTypeError: ``images`` is neither an image nor an iterable of images.
    """
    if isinstance(images, str | os.PathLike):
        return list(image_paths(images))
    if _is_single(images):
        return [images]
    if not isinstance(images, Iterable):
        raise ImageTypeError(
            f"expected images: a path, a folder, a glob, an image or an iterable of images; got {_describe(images)}."
        )
    return list(images)
