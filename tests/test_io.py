"""Tests of lite.data.io.load_image / load_images: every accepted input converts right, every bad one raises clearly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from lite.core.errors import ImageError, ImageNotFoundError
from lite.data.io import load_image, load_images

RNG = np.random.default_rng(0)
BGR = RNG.integers(0, 256, (7, 5, 3), dtype=np.uint8)


def _check_bgr(img: np.ndarray, shape: tuple[int, int]) -> None:
    assert isinstance(img, np.ndarray)
    assert img.dtype == np.uint8 and img.shape == (*shape, 3) and img.flags.c_contiguous


# ----------------------------------------------------------------------------- arrays


def test_bgr_uint8_is_returned_as_is():
    assert load_image(BGR) is BGR


def test_non_contiguous_bgr_is_made_contiguous():
    view = BGR[:, ::-1]
    out = load_image(view)
    _check_bgr(out, (7, 5))
    np.testing.assert_array_equal(out, view)


@pytest.mark.parametrize("gray", [BGR[:, :, 1].copy(), BGR[:, :, 1:2].copy(), BGR[:, :, 1]])
def test_gray_to_bgr(gray):
    out = load_image(gray)
    _check_bgr(out, (7, 5))
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], BGR[:, :, 1])


def test_bgra_drops_alpha():
    bgra = np.dstack([BGR, np.full((7, 5), 9, np.uint8)])
    out = load_image(bgra)
    _check_bgr(out, (7, 5))
    np.testing.assert_array_equal(out, BGR)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("channels", [None, 1, 3, 4])
def test_float_in_unit_range(dtype, channels):
    gray3 = np.repeat(BGR[:, :, :1], 3, axis=2)
    u8, expected = {
        None: (BGR[:, :, 0], gray3),
        1: (BGR[:, :, :1], gray3),
        3: (BGR, BGR),
        4: (np.dstack([BGR, BGR[:, :, :1]]), BGR),
    }[channels]
    f = (u8.astype(np.float64) / 255).astype(dtype)
    out = load_image(f)
    _check_bgr(out, (7, 5))
    np.testing.assert_array_equal(out, expected)  # k / 255 * 255 rounds back to k, even in float16


def test_float_rounding_and_tolerance():
    f = np.array([[0.0, 0.5, 1.0, 1.0 + 1e-4, -1e-4, 0.2 / 255]], np.float32)
    out = load_image(f)
    np.testing.assert_array_equal(out[0, :, 0], [0, 128, 255, 255, 0, 0])


@pytest.mark.parametrize(
    ("arr", "match"),
    [
        (np.full((4, 4, 3), 1.01, np.float32), r"\[0, 1\]"),
        (np.full((4, 4, 3), -0.01, np.float64), r"\[0, 1\]"),
        (np.full((4, 4, 3), 255.0, np.float32), "Divide by 255"),
        (np.array([[0.5, np.nan]], np.float32), "NaN"),
        (np.array([[0.5, np.inf]], np.float64), r"\[0, 1\]"),
        (np.zeros((4, 4), np.uint16), "16-bit"),
        (np.zeros((4, 4, 3), np.int64), "astype"),
        (np.zeros((4, 4, 3), np.int8), "dtype int8"),
        (np.zeros((4, 4, 3), bool), "dtype bool"),
        (np.zeros((4, 4, 3), np.complex64), "dtype complex64"),
        (np.zeros((4, 4, 3), object), "dtype object"),
        (np.array([]), r"shape \(0,\)"),
        (np.zeros((0, 5, 3), np.uint8), "non-empty"),
        (np.zeros((5, 0), np.uint8), "non-empty"),
        (np.zeros((0, 0, 3), np.float32), "non-empty"),
        (np.zeros(5, np.uint8), "1 dims"),
        (np.array(3, np.uint8), "0 dims"),
        (np.zeros((2, 4, 4, 3), np.uint8), "load_images"),
        (np.zeros((4, 4, 2), np.uint8), "C = 1"),
        (np.zeros((4, 4, 5), np.uint8), "C = 1"),
        (np.zeros((3, 64, 64), np.uint8), r"channels-first"),
    ],
)
def test_bad_arrays(arr, match):
    with pytest.raises(ImageError, match=match) as info:
        load_image(arr)
    assert isinstance(info.value, ValueError)
    assert "expected" in str(info.value) and "got" in str(info.value)


# ----------------------------------------------------------------------------- other sources


def test_path_str_and_pathlike(tmp_path: Path):
    p = tmp_path / "img.png"  # PNG: lossless, so the pixels round-trip exactly
    assert cv2.imwrite(str(p), BGR)
    for src in (str(p), p):
        out = load_image(src)
        _check_bgr(out, (7, 5))
        np.testing.assert_array_equal(out, BGR)


def test_gray_and_bgra_files_load_as_bgr(tmp_path: Path):
    gray, bgra = tmp_path / "g.png", tmp_path / "a.png"
    cv2.imwrite(str(gray), BGR[:, :, 0])
    cv2.imwrite(str(bgra), np.dstack([BGR, np.zeros((7, 5), np.uint8)]))
    np.testing.assert_array_equal(load_image(gray), np.repeat(BGR[:, :, :1], 3, axis=2))
    np.testing.assert_array_equal(load_image(bgra), BGR)


def test_non_ascii_path(tmp_path: Path):
    p = tmp_path / "bïld ünïcode.png"
    cv2.imencode(".png", BGR)[1].tofile(p)
    np.testing.assert_array_equal(load_image(p), BGR)


def test_real_jpeg(bus_path):
    img = load_image(bus_path)
    _check_bgr(img, (1080, 810))


def test_missing_path(tmp_path: Path):
    missing = tmp_path / "nope.jpg"
    for src in (missing, str(missing)):
        with pytest.raises(ImageNotFoundError, match="nope.jpg") as info:
            load_image(src)
        assert isinstance(info.value, FileNotFoundError)
        assert "expected" in str(info.value)
    with pytest.raises(FileNotFoundError, match="download"):
        load_image("https://example.com/bus.jpg")


@pytest.mark.parametrize("content", [b"", b"this is not an image", b"\x89PNG\r\n\x1a\n truncated"])
def test_unreadable_file(tmp_path: Path, content: bytes):
    p = tmp_path / "broken.jpg"
    p.write_bytes(content)
    with pytest.raises(ImageError, match="broken.jpg") as info:
        load_image(p)
    assert isinstance(info.value, ValueError) and not isinstance(info.value, FileNotFoundError)


def test_directory_and_empty_string(tmp_path: Path):
    with pytest.raises(ImageError, match="directory"):
        load_image(tmp_path)
    with pytest.raises(ImageError, match="empty string"):
        load_image("")


def test_encoded_bytes():
    png = cv2.imencode(".png", BGR)[1]
    for src in (png.tobytes(), bytearray(png.tobytes()), memoryview(png.tobytes())):
        np.testing.assert_array_equal(load_image(src), BGR)
    with pytest.raises(ImageError, match="0 bytes"):
        load_image(b"")
    with pytest.raises(ImageError, match="np.frombuffer"):
        load_image(BGR.tobytes())  # raw pixels are not guessed


@pytest.mark.parametrize(
    ("source", "match"),
    [
        (None, "got None"),
        ([[1, 2, 3]], "load_images"),
        ((1, 2), "tuple"),
        (3, "int"),
        (3.5, "float"),
        ({"a": 1}, "dict"),
        (object(), "object"),
    ],
)
def test_bad_types(source, match):
    with pytest.raises(ImageError, match=match) as info:
        load_image(source)
    message = str(info.value)
    assert message.startswith("expected an image as a BGR uint8 array of shape (H, W, 3), a path or a PIL image; got")
    assert isinstance(info.value, ValueError)


# ----------------------------------------------------------------------------- PIL


def test_pil_modes():
    pil = pytest.importorskip("PIL.Image")
    rgb = BGR[:, :, ::-1]
    np.testing.assert_array_equal(load_image(pil.fromarray(np.ascontiguousarray(rgb), "RGB")), BGR)
    rgba = pil.fromarray(np.dstack([rgb, np.full((7, 5), 3, np.uint8)]), "RGBA")
    np.testing.assert_array_equal(load_image(rgba), BGR)
    gray = pil.fromarray(BGR[:, :, 0], "L")
    np.testing.assert_array_equal(load_image(gray), np.repeat(BGR[:, :, :1], 3, axis=2))
    pal = gray.convert("P")
    _check_bgr(load_image(pal), (7, 5))
    f = pil.fromarray((BGR[:, :, 0] / 255).astype(np.float32), "F")
    np.testing.assert_array_equal(load_image(f), np.repeat(BGR[:, :, :1], 3, axis=2))
    out = load_image(pil.new("RGB", (3, 2), (10, 20, 30)))
    _check_bgr(out, (2, 3))
    assert (out == (30, 20, 10)).all()


def test_pil_errors():
    pil = pytest.importorskip("PIL.Image")
    with pytest.raises(ImageError, match="16-bit"):
        load_image(pil.fromarray(np.full((3, 3), 4000, np.uint16)))  # never silently clipped to 255
    with pytest.raises(ImageError, match="PIL"):
        load_image(pil.new("RGB", (0, 0)))


def test_pil_file_image(tmp_path: Path):
    pil = pytest.importorskip("PIL.Image")
    p = tmp_path / "img.png"
    cv2.imwrite(str(p), BGR)
    with pil.open(p) as im:  # a PngImageFile: a PIL subclass from another PIL module
        np.testing.assert_array_equal(load_image(im), BGR)


def test_no_pil_import_for_other_inputs():
    code = (
        "import sys, numpy as np\n"
        "from lite.data.io import load_image\n"
        "load_image(np.zeros((2, 2), np.uint8))\n"
        "try:\n    load_image([1])\nexcept ValueError:\n    pass\n"
        "assert 'PIL' not in sys.modules, 'PIL imported'\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=root, timeout=60)


# ----------------------------------------------------------------------------- load_images


def test_load_images_mixed(tmp_path: Path):
    p = tmp_path / "img.png"
    cv2.imwrite(str(p), BGR)
    out = load_images([p, str(p), BGR, BGR[:, :, 0], (BGR / 255).astype(np.float32)])
    assert len(out) == 5
    for img in out[:3] + out[4:]:
        np.testing.assert_array_equal(img, BGR)
    assert out[2] is BGR
    _check_bgr(out[3], (7, 5))


def test_load_images_single_and_batch_array(tmp_path: Path):
    p = tmp_path / "img.png"
    cv2.imwrite(str(p), BGR)
    assert len(load_images(str(p))) == 1  # a path is one image, not a sequence of characters
    assert len(load_images(p)) == 1
    assert load_images(BGR)[0] is BGR
    batch = np.stack([BGR, BGR[::-1]])
    out = load_images(batch)
    assert len(out) == 2
    np.testing.assert_array_equal(out[1], BGR[::-1])
    assert len(load_images(x for x in (BGR, BGR))) == 2


def test_load_images_errors(tmp_path: Path):
    with pytest.raises(ImageError, match=r"sources\[1\].*got None"):
        load_images([BGR, None])
    with pytest.raises(ImageNotFoundError, match=r"sources\[0\].*missing.png"):
        load_images([tmp_path / "missing.png"])
    with pytest.raises(ImageError, match="at least one"):
        load_images([])
    with pytest.raises(ImageError):
        load_images(None)
    with pytest.raises(ImageError, match="iterable"):
        load_images(3)
