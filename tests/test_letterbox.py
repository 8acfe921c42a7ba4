"""Tests of lite.ops.letterbox: YOLOv6's exact arithmetic, the box round trip, and the fast path."""

from __future__ import annotations

import math
import threading

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lite.core.errors import ImageError, InputError
from lite.ops.letterbox import Letterbox, LetterboxTransform, letterbox, letterbox_geometry, letterbox_image


def _yolov6_reference(hw, new_shape, *, auto=False, scaleup=True, stride=32):
    """YOLOv6's letterbox arithmetic, written out independently (auto as 'smallest stride multiple').

    Returns (r, (new_w, new_h), (top, bottom, left, right), (H, W)).
    """
    h, w = hw
    if isinstance(new_shape, int):
        new_shape = (new_shape, new_shape)
    r = min(new_shape[0] / h, new_shape[1] / w)
    if not scaleup:
        r = min(r, 1.0)
    new_unpad = max(1, int(round(w * r))), max(1, int(round(h * r)))
    if auto:
        big_h = math.ceil(new_unpad[1] / stride) * stride
        big_w = math.ceil(new_unpad[0] / stride) * stride
    else:
        big_h, big_w = new_shape
    dw, dh = big_w - new_unpad[0], big_h - new_unpad[1]
    dw /= 2
    dh /= 2
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    return r, new_unpad, (top, bottom, left, right), (big_h, big_w)


def _slow_tensor(padded_bgr: np.ndarray) -> np.ndarray:
    """The obvious (1, 3, H, W) float32 RGB / 255 conversion."""
    return np.ascontiguousarray(padded_bgr[:, :, ::-1].transpose(2, 0, 1))[None].astype(np.float32) / np.float32(255)


def _random_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


# ----------------------------------------------------------------------------- exact YOLOv6 numbers


@pytest.mark.parametrize(
    ("hw", "size", "kw", "ratio", "resized_hw", "pads_tblr", "dst"),
    [
        # bus.jpg, 810 x 1080 (w x h) -> 320: r = 320/1080 = 0.2963; w*r = 240.0, h*r = 320.0;
        # dw = 320 - 240 = 80 -> 40.0: left = round(39.9) = 40, right = round(40.1) = 40; dh = 0.
        ((1080, 810), 320, {}, 320 / 1080, (320, 240), (0, 0, 40, 40), (320, 320)),
        # 1000 x 333 -> 320: r = min(320/333, 320/1000) = 0.32; h*r = 106.56 -> 107;
        # dh = 213 -> 106.5: top = round(106.4) = 106, bottom = round(106.6) = 107.
        ((333, 1000), 320, {}, 0.32, (107, 320), (106, 107, 0, 0), (320, 320)),
        # 2 x 4 -> 5: r = min(5/4, 5/2) = 1.25; w*r = 2.5 -> Python round = 2 (ties to even);
        # dw = 3 -> 1.5: left = round(1.4) = 1, right = round(1.6) = 2.
        ((4, 2), 5, {}, 1.25, (5, 2), (0, 0, 1, 2), (5, 5)),
        # 810 x 1080 -> 333 (odd): r = 333/1080 = 0.30833; w*r = 249.75 -> 250; dw = 83 -> 41.5: 41 | 42.
        ((1080, 810), 333, {}, 333 / 1080, (333, 250), (0, 0, 41, 42), (333, 333)),
        # rectangular target (H, W) = (320, 640): r = min(320/1080, 640/810) = 0.2963; dw = 400 -> 200 | 200.
        ((1080, 810), (320, 640), {}, 320 / 1080, (320, 240), (0, 0, 200, 200), (320, 640)),
        # scaleup=False: 100 x 50 -> 320 keeps r = 1: dw = 220 -> 110 | 110, dh = 270 -> 135 | 135.
        ((50, 100), 320, {"scaleup": False}, 1.0, (50, 100), (135, 135, 110, 110), (320, 320)),
        # scaleup=True enlarges it: r = 3.2, (320, 160): dh = 160 -> 80 | 80.
        ((50, 100), 320, {}, 3.2, (160, 320), (80, 80, 0, 0), (320, 320)),
        # auto: bus -> 320 is 240 wide -> W' = ceil(240/32)*32 = 256: dw = 16 -> 8 | 8.
        ((1080, 810), 320, {"auto": True}, 320 / 1080, (320, 240), (0, 0, 8, 8), (320, 256)),
        # auto: 1280 x 720 -> 640: r = 0.5, (360, 640): H' = 384, dh = 24 -> 12 | 12.
        ((720, 1280), 640, {"auto": True}, 0.5, (360, 640), (12, 12, 0, 0), (384, 640)),
        # auto with stride 64: 360 -> H' = 384 (6 * 64) as well.
        ((720, 1280), 640, {"auto": True, "stride": 64}, 0.5, (360, 640), (12, 12, 0, 0), (384, 640)),
        # stride 100: H' = 400, dh = 40 -> 20 | 20; W' = ceil(6.4) * 100 = 700 (> 640), dw = 60 -> 30 | 30.
        ((720, 1280), 640, {"auto": True, "stride": 100}, 0.5, (360, 640), (20, 20, 30, 30), (400, 700)),
    ],
)
def test_exact_yolov6_numbers(hw, size, kw, ratio, resized_hw, pads_tblr, dst):
    t = letterbox_geometry(hw, size, **kw)
    assert t.ratio == pytest.approx(ratio, rel=1e-12)
    assert t.resized_shape == resized_hw
    top, bottom, left, right = pads_tblr
    assert t.pad == (left, top)
    assert t.src_shape == hw
    assert t.dst_shape == dst == (resized_hw[0] + top + bottom, resized_hw[1] + left + right)
    # The independent reference agrees, and the padded image has exactly that shape.
    r, new_unpad, pads, big = _yolov6_reference(hw, size, **kw)
    assert (r, new_unpad[::-1], pads, big) == (t.ratio, resized_hw, pads_tblr, dst)
    img = np.zeros((*hw, 3), np.uint8)
    padded, t2 = letterbox_image(img, size, **kw)
    assert padded.shape == (*dst, 3)
    assert t2 == t


def test_padding_is_114_and_tensor_is_rgb():
    blue = np.zeros((1080, 810, 3), np.uint8)
    blue[..., 0] = 255  # pure blue in BGR
    padded, t = letterbox_image(blue, 320)
    assert t.pad == (40, 0)
    left, nw = t.pad[0], t.resized_shape[1]
    assert (padded[:, :left] == 114).all() and (padded[:, left + nw :] == 114).all()
    # A constant image stays constant through the resize (it happens before padding: no blending).
    assert (padded[:, left : left + nw] == (255, 0, 0)).all()

    x, t_fast = Letterbox(320)(blue)
    assert t_fast == t
    assert x.shape == (1, 3, 320, 320) and x.dtype == np.float32 and x.flags.c_contiguous
    inside = x[0, :, :, left : left + nw]
    assert (inside[2] == 1.0).all()  # channel 2 is blue in RGB
    assert (inside[0] == 0.0).all() and (inside[1] == 0.0).all()
    pad_value = np.float32(114) / np.float32(255)
    assert (x[0, :, :, :left] == pad_value).all() and (x[0, :, :, left + nw :] == pad_value).all()
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_custom_fill():
    img = np.zeros((10, 20, 3), np.uint8)
    padded, _ = letterbox_image(img, 20, fill=(1, 2, 3))
    assert (padded[:5] == (1, 2, 3)).all()
    x, _ = Letterbox(20, fill=7)(img)
    assert (x[0, :, :5] == np.float32(7) / np.float32(255)).all()
    with pytest.raises(InputError):
        Letterbox(20, fill=300)
    with pytest.raises(InputError):
        Letterbox(20, fill=(1, 2))


def test_bus_jpg(bus_path):
    img = cv2.imread(str(bus_path))
    x, t = Letterbox(320)(img)
    assert img.shape[:2] == (1080, 810)
    assert x.shape == (1, 3, 320, 320)
    assert t.pad == (40, 0) and t.resized_shape == (320, 240)
    np.testing.assert_array_equal(x, _slow_tensor(letterbox_image(img, 320)[0]))


# ----------------------------------------------------------------------------- geometry properties

sizes = st.one_of(
    st.integers(1, 40).map(lambda k: 32 * k),  # multiples of 32
    st.integers(1, 1300),  # anything, odd sizes included
    st.tuples(st.integers(1, 40).map(lambda k: 32 * k), st.integers(1, 40).map(lambda k: 32 * k)),
    st.tuples(st.integers(1, 1300), st.integers(1, 1300)),
)


@settings(max_examples=200, deadline=None)
@given(
    h=st.integers(1, 2000),
    w=st.integers(1, 2000),
    size=sizes,
    auto=st.booleans(),
    scaleup=st.booleans(),
    stride=st.sampled_from([8, 16, 32, 64]),
    data=st.data(),
)
def test_round_trip_and_yolov6_arithmetic(h, w, size, auto, scaleup, stride, data):
    t = letterbox_geometry((h, w), size, stride=stride, auto=auto, scaleup=scaleup)

    # Same numbers as the written-out YOLOv6 formula.
    r, new_unpad, (top, bottom, left, right), big = _yolov6_reference(
        (h, w), size, auto=auto, scaleup=scaleup, stride=stride
    )
    assert t.ratio == r
    assert t.resized_shape == (new_unpad[1], new_unpad[0])
    assert t.pad == (left, top)
    assert t.dst_shape == big
    nh, nw = t.resized_shape
    assert min(top, bottom, left, right) >= 0
    assert bottom - top in (0, 1) and right - left in (0, 1)
    assert t.dst_shape == (nh + top + bottom, nw + left + right)
    if not scaleup:
        assert t.ratio <= 1.0
    if auto:
        for d, n in zip(t.dst_shape, t.resized_shape, strict=True):
            assert d % stride == 0 and d - stride < n <= d  # a multiple, and the smallest one
    else:
        assert t.dst_shape == ((size, size) if isinstance(size, int) else tuple(size))

    # Random boxes inside the image survive to_input -> to_original.
    n = data.draw(st.integers(0, 5))
    coords = data.draw(
        st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)), min_size=n, max_size=n)
    )
    u = np.array(coords, np.float64).reshape(n, 4)
    boxes = np.stack(
        [
            np.minimum(u[:, 0], u[:, 2]) * w,
            np.minimum(u[:, 1], u[:, 3]) * h,
            np.maximum(u[:, 0], u[:, 2]) * w,
            np.maximum(u[:, 1], u[:, 3]) * h,
        ],
        axis=1,
    )
    fwd = t.to_input(boxes)
    assert fwd.dtype == np.float32 and fwd.shape == (n, 4)
    back = t.to_original(fwd)
    assert back.dtype == np.float32 and back.shape == (n, 4)
    np.testing.assert_allclose(back, boxes, rtol=0, atol=1e-3 * max(h, w))
    # Inside the image means inside the resized area of the input.
    assert (fwd[:, 0::2] >= left - 1e-3).all() and (fwd[:, 0::2] <= left + t.ratio * w + 1e-3).all()
    assert (fwd[:, 1::2] >= top - 1e-3).all() and (fwd[:, 1::2] <= top + t.ratio * h + 1e-3).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    h=st.integers(8, 1400),
    w=st.integers(8, 1400),
    size=st.one_of(
        st.sampled_from([64, 160, 320, 333, 416, 640]),
        st.tuples(st.sampled_from([96, 320, 321]), st.sampled_from([128, 320, 640, 655])),
    ),
    auto=st.booleans(),
    scaleup=st.booleans(),
    data=st.data(),
)
def test_drawn_box_lands_at_to_input(h, w, size, auto, scaleup, data):
    """Pixel-level check: a white box in a black image ends up where to_input says (within ~1 px)."""
    t = letterbox_geometry((h, w), size, auto=auto, scaleup=scaleup)
    r = t.ratio
    min_side = max(2, math.ceil(4 / r))  # at least ~4 input pixels, and > 1 / r source pixels
    assume(min_side <= min(h, w))
    x1 = data.draw(st.integers(0, w - min_side))
    y1 = data.draw(st.integers(0, h - min_side))
    x2 = data.draw(st.integers(x1 + min_side, w))
    y2 = data.draw(st.integers(y1 + min_side, h))
    img = np.zeros((h, w, 3), np.uint8)
    img[y1:y2, x1:x2] = 255
    padded, t2 = letterbox_image(img, size, auto=auto, scaleup=scaleup)
    assert t2 == t

    bright = padded[:, :, 0] > 127  # the padding (114) is below the threshold
    ys, xs = np.nonzero(bright)
    assert xs.size, "the box vanished"
    found = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)  # pixel edges
    expected = t.to_input(np.array([[x1, y1, x2, y2]], np.float64))[0]
    np.testing.assert_allclose(found, expected, rtol=0, atol=1.0 + 1e-3)
    # And it maps back onto the drawn box (within 1 input pixel, i.e. 1 / r source pixels).
    back = t.to_original(found[None])[0]
    np.testing.assert_allclose(back, [x1, y1, x2, y2], rtol=0, atol=(1.0 + 1e-3) / r)


def test_extreme_aspect_ratio_keeps_one_pixel():
    # 1 x 2000 -> 320: YOLOv6 would resize to 0 pixels wide; we keep 1.
    t = letterbox_geometry((2000, 1), 320)
    assert t.resized_shape == (320, 1) and t.dst_shape == (320, 320)
    x, _ = Letterbox(320)(np.full((2000, 1, 3), 200, np.uint8))
    assert x.shape == (1, 3, 320, 320)


# ----------------------------------------------------------------------------- fast path == slow path


def test_fast_tensor_equals_slow_path_with_changing_geometry():
    rng = np.random.default_rng(0)
    shapes = [(1080, 810), (1080, 810), (480, 640), (100, 50), (320, 320), (480, 640), (7, 3), (1080, 810), (640, 479)]
    images = [_random_image(rng, h, w) for h, w in shapes]  # repeated shapes get new content
    for kw in ({}, {"auto": True}, {"scaleup": False}, {"auto": True, "scaleup": False, "stride": 64}):
        for size in (320, (256, 416), 333):
            pre = Letterbox(size, **kw)
            previous: list[tuple[np.ndarray, np.ndarray]] = []
            for img in images:
                x, t = pre(img)
                padded, t_ref = letterbox_image(img, size, **kw)
                assert t == t_ref
                assert x.flags.c_contiguous and x.dtype == np.float32
                np.testing.assert_array_equal(x, _slow_tensor(padded))
                previous.append((x, x.copy()))
            # Every call returned a fresh array that later calls did not touch.
            for x, snapshot in previous:
                np.testing.assert_array_equal(x, snapshot)


def test_same_geometry_new_content_and_no_resize_case():
    rng = np.random.default_rng(1)
    pre = Letterbox(64)
    for _ in range(3):
        for shape in ((64, 32), (64, 64), (32, 64)):  # no resize needed: a plain copy into the canvas
            img = _random_image(rng, *shape)
            x, t = pre(img)
            assert t.ratio == 1.0
            np.testing.assert_array_equal(x, _slow_tensor(letterbox_image(img, 64)[0]))


def test_non_contiguous_input():
    rng = np.random.default_rng(2)
    big = _random_image(rng, 300, 400)
    for view in (big[10:210, 20:370], big[::2, ::-1], big[:, :, ::-1]):
        x, _ = Letterbox(128)(view)
        np.testing.assert_array_equal(x, _slow_tensor(letterbox_image(np.ascontiguousarray(view), 128)[0]))


def test_letterbox_function_matches_class():
    rng = np.random.default_rng(3)
    img = _random_image(rng, 120, 90)
    x1, t1 = letterbox(img, 96, auto=True, stride=16)
    x2, t2 = Letterbox(96, auto=True, stride=16)(img)
    assert t1 == t2 and t1.dst_shape == (96, 80)
    np.testing.assert_array_equal(x1, x2)


def test_batch():
    rng = np.random.default_rng(4)
    imgs = [_random_image(rng, h, w) for h, w in ((1080, 810), (480, 640), (300, 300), (100, 700))]

    pre = Letterbox(320)
    xb, ts = pre.batch(imgs)
    assert xb.shape == (4, 3, 320, 320) and xb.flags.c_contiguous
    for i, img in enumerate(imgs):
        xi, ti = pre(img)
        assert ts[i] == ti
        np.testing.assert_array_equal(xb[i : i + 1], xi)

    auto = Letterbox(320, auto=True)
    xa, ta = auto.batch(imgs)
    own = [auto.geometry(im.shape) for im in imgs]
    common = (max(t.dst_shape[0] for t in own), max(t.dst_shape[1] for t in own))
    assert xa.shape == (4, 3, *common) == (4, 3, 320, 320)
    for i, img in enumerate(imgs):
        padded, t_ref = letterbox_image(img, 320, auto=True, dst_shape=common)
        assert ta[i] == t_ref and ta[i].dst_shape == common
        np.testing.assert_array_equal(xa[i : i + 1], _slow_tensor(padded))

    # A batch of same-aspect images keeps the small auto shape.
    xs, ts2 = auto.batch(imgs[:1] * 2)
    assert xs.shape == (2, 3, 320, 256) and ts2[0] == ts2[1]

    xd, td = pre.batch(imgs[1:3], dst_shape=(352, 384))
    assert xd.shape == (2, 3, 352, 384)
    for i, img in enumerate(imgs[1:3]):
        np.testing.assert_array_equal(xd[i : i + 1], _slow_tensor(letterbox_image(img, 320, dst_shape=(352, 384))[0]))
        assert td[i].dst_shape == (352, 384)

    with pytest.raises(InputError, match="dst_shape"):
        pre.batch(imgs, dst_shape=(100, 100))
    with pytest.raises(InputError):
        pre.batch([])
    with pytest.raises(ImageError, match=r"imgs\[1\]"):
        pre.batch([imgs[0], np.zeros((5, 5), np.uint8)])


def test_threads_share_one_instance():
    rng = np.random.default_rng(5)
    imgs = [_random_image(rng, h, w) for h, w in ((200, 150), (150, 200), (90, 90), (333, 100))]
    refs = [_slow_tensor(letterbox_image(im, 128)[0]) for im in imgs]
    pre = Letterbox(128)
    errors: list[Exception] = []

    def work(offset: int) -> None:
        try:
            for k in range(40):
                j = (k + offset) % len(imgs)
                x, _ = pre(imgs[j])
                np.testing.assert_array_equal(x, refs[j])
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[0]


# ----------------------------------------------------------------------------- transform details and errors


def test_to_original_clips_and_accepts_empty():
    t = letterbox_geometry((1080, 810), 320)
    assert t.to_original(np.zeros((0, 4), np.float32)).shape == (0, 4)
    assert t.to_original(np.zeros((0,))).shape == (0, 4)
    assert t.to_input([]).shape == (0, 4)
    out = t.to_original(np.array([[0, -5, 320, 400]], np.float32))  # reaches into the padding
    np.testing.assert_array_equal(out, [[0, 0, 810, 1080]])
    assert out.dtype == np.float32
    x = t.to_original(np.array([[40, 0, 280, 320]]))  # the exact image area
    np.testing.assert_allclose(x, [[0, 0, 810, 1080]], atol=1e-3)
    batched = t.to_original(np.ones((2, 3, 4)))
    assert batched.shape == (2, 3, 4)
    with pytest.raises(InputError, match=r"\(n, 4\)"):
        t.to_original(np.zeros((3, 5)))
    with pytest.raises(ValueError):
        t.to_input(np.float32(3))


def test_transform_is_frozen_and_hashable():
    t = letterbox_geometry((10, 20), 32)
    assert isinstance(t, LetterboxTransform)
    with pytest.raises(AttributeError):
        t.ratio = 2.0  # type: ignore[misc]
    assert hash(t) == hash(letterbox_geometry((10, 20), 32))
    assert letterbox_geometry(np.zeros((10, 20, 3)).shape, 32) == t  # an image shape works too


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 0},
        {"size": -32},
        {"size": True},
        {"size": 320.0},
        {"size": (320,)},
        {"size": (320, 0)},
        {"size": "320"},
        {"size": 320, "stride": 0},
        {"size": 320, "stride": 2.5},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(InputError):
        Letterbox(**kwargs)
    with pytest.raises(ValueError):
        letterbox_geometry((10, 10), **kwargs)


def test_bad_src_shape():
    with pytest.raises(InputError):
        letterbox_geometry((0, 10), 32)
    with pytest.raises(InputError):
        letterbox_geometry(10, 32)


@pytest.mark.parametrize(
    "img",
    [
        None,
        np.zeros((10, 10), np.uint8),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((10, 10, 3), np.float32),
        np.zeros((0, 10, 3), np.uint8),
        [[1, 2, 3]],
    ],
)
def test_bad_images(img):
    with pytest.raises(ImageError, match="expected a BGR uint8 array"):
        Letterbox(32)(img)
    with pytest.raises(ValueError):
        letterbox_image(img, 32)
