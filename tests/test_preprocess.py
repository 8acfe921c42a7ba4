"""PreprocessConfig validation, the canvas / normalize split, alignment, stretch and exact inverses."""

from __future__ import annotations

import numpy as np
import pytest

from lite.core.errors import InputError, LiteError
from lite.ops.letterbox import Letterbox, letterbox_geometry, letterbox_image
from lite.ops.preprocess import PreprocessConfig, normalize


def _img(h: int = 37, w: int = 53, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"color": "rgba"},
        {"scale": 0},
        {"scale": -1.0},
        {"scale": True},
        {"mean": (1, 2)},
        {"std": (1, 0, 1)},
        {"std": (1, float("nan"), 1)},
        {"pad_value": 256},
        {"pad_value": (1, 2)},
        {"pad_align": "bottom"},
        {"resize": "crop"},
        {"pad_to_stride": "yes"},
        {"resize": "stretch", "pad_to_stride": True},
    ],
)
def test_config_validation(kwargs):
    with pytest.raises(InputError) as e:
        PreprocessConfig(**kwargs)
    assert isinstance(e.value, LiteError) and isinstance(e.value, ValueError)


def test_config_normalises_values_and_is_frozen():
    c = PreprocessConfig(color="BGR", mean=100, std=(1, 2, 3), pad_value=(0, 0, 0), pad_align="centre")
    assert (c.color, c.mean, c.std, c.pad_value, c.pad_align) == ("bgr", (100.0,) * 3, (1.0, 2.0, 3.0), 0, "center")
    with pytest.raises(AttributeError):
        c.color = "rgb"  # type: ignore[misc]
    assert PreprocessConfig() == PreprocessConfig(color="rgb", scale=1 / 255, pad_value=114)


def test_default_call_is_canvas_plus_normalize_bit_identical():
    img = _img(300, 200)
    pre = Letterbox(128)
    x, t = pre(img)
    canvas, t2 = pre.canvas(img)
    assert t == t2
    ref, _ = letterbox_image(img, 128)
    np.testing.assert_array_equal(canvas, ref)
    np.testing.assert_array_equal(normalize(canvas), x)
    # YOLOv6's arithmetic: RGB planes, exact float32 division by 255
    expected = (ref[..., ::-1].transpose(2, 0, 1).astype(np.float32) / np.float32(255))[None]
    np.testing.assert_array_equal(x, expected)


def test_bgr_0_255_topleft_like_yolox():
    cfg = PreprocessConfig(color="bgr", scale=1.0, pad_align="topleft")
    img = _img(100, 50)
    x, t = Letterbox(64, config=cfg)(img)
    assert t.pad == (0, 0) and t.resized_shape == (64, 32)
    ref, _ = letterbox_image(img, 64, pad_align="topleft")
    np.testing.assert_array_equal(x[0], ref.transpose(2, 0, 1).astype(np.float32))
    assert (x[0, :, :, 32:] == 114).all()


def test_mean_std_bgr_centred_zero_pad_like_nanodet():
    mean, std = (103.53, 116.28, 123.675), (57.375, 57.12, 58.395)
    cfg = PreprocessConfig(color="bgr", scale=1.0, mean=mean, std=std, pad_value=0)
    img = _img(60, 90)
    x, t = Letterbox(96, config=cfg)(img)
    ref, _ = letterbox_image(img, 96, fill=0)
    expected = (ref.astype(np.float32) - np.float32(mean)) / np.float32(std)
    np.testing.assert_allclose(x[0], expected.transpose(2, 0, 1), atol=1e-5)
    assert t.pad == (0, 16)


def test_pad_to_stride_gives_non_square_input():
    cfg = PreprocessConfig(pad_to_stride=True)
    pre = Letterbox(320, stride=32, auto=cfg.pad_to_stride, config=cfg)
    x, t = pre(np.zeros((810, 1080, 3), np.uint8))  # bus.jpg: 240 x 320 -> 256 x 320
    assert x.shape == (1, 3, 256, 320) and t.pad == (0, 8)


def test_stretch_fills_input_and_inverts():
    cfg = PreprocessConfig(resize="stretch")
    img = _img(100, 200)
    x, t = Letterbox((64, 96), config=cfg)(img)
    assert x.shape == (1, 3, 64, 96) and t.pad == (0, 0) and t.ratio_xy == (96 / 200, 64 / 100)
    boxes = np.array([[10.0, 20.0, 150.0, 90.0]])
    np.testing.assert_allclose(t.to_original(t.to_input(boxes)), boxes, rtol=1e-6)


@pytest.mark.parametrize("align", ["center", "topleft"])
@pytest.mark.parametrize("src", [(810, 1080), (1080, 810), (37, 53), (1, 999)])
def test_inverse_is_exact(align, src):
    t = letterbox_geometry(src, 320, pad_align=align)
    h, w = src
    boxes = np.array([[0, 0, w, h], [w / 4, h / 3, w / 2, h / 2]], np.float64)
    np.testing.assert_allclose(t.to_original(t.to_input(boxes)), boxes, rtol=1e-6, atol=1e-4)
    if align == "topleft":
        assert t.pad == (0, 0)


def test_canvas_is_cached_and_normalize_checks():
    pre = Letterbox(64)
    c1, _ = pre.canvas(_img(30, 60, 1))
    c2, _ = pre.canvas(_img(30, 60, 2))
    assert c1 is c2  # no per-call allocation
    with pytest.raises(InputError):
        normalize(np.zeros((4, 4), np.uint8))
    with pytest.raises(InputError):
        Letterbox(64, config={"color": "bgr"})  # type: ignore[arg-type]
