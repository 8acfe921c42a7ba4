"""Procedural shape scenes: a deterministic, offline source of labelled detection images.

Each scene is a textured, gradient or striped background with clutter (lines, arcs and
zig-zags that are *not* objects), then 1-12 filled shapes of six classes at sizes from about
12 px to about half the image, in varied colours and fills, with mild occlusion, then a
little blur and noise. Labels are the tight boxes of the *visible* pixels of each shape;
placements that would hide more than a third of an earlier shape are rejected, so every
labelled shape stays recognisable.

Only numpy and OpenCV are needed. Everything is drawn from the ``numpy.random.Generator``
passed in, so a seed fixes the scene exactly.

Example:
    ```python
    import numpy as np

    from lite.demo.scenes import make_scene

    rng = np.random.default_rng(0)
    image, boxes, class_ids = make_scene(rng, size=(320, 320))
    print(image.shape, boxes.dtype, class_ids.dtype)
    # (320, 320, 3) float32 int64
    ```
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = [
    "SHAPE_NAMES",
    "DIAMOND_KEYPOINTS",
    "InstanceScene",
    "make_scene",
    "make_instance_scene",
    "make_diamond_scene",
    "make_single_shape",
    "write_dataset",
    "scene_to_coco",
]

SHAPE_NAMES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ring")
"""Class names, index ``i`` is class id ``i`` (COCO category id ``i + 1``)."""

_SHIFT = 4  # sub-pixel bits used by cv2.fillPoly
_SCALE = float(1 << _SHIFT)
_MAX_HIDDEN = 0.33  # at most this fraction of an earlier shape may be covered by later ones
_MIN_RADIUS = 7.0  # circumradius in px: boxes from ~12 px


# --------------------------------------------------------------------------- shapes
def _rot(points: np.ndarray, theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return points @ np.array([[c, s], [-s, c]], dtype=np.float64)


def _ngon(n: int, radius: float, theta: float, aspect: float = 1.0) -> np.ndarray:
    a = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    pts = np.stack([np.cos(a) * radius, np.sin(a) * radius * aspect], axis=1)
    return _rot(pts, theta)


def _shape_polygons(cls: int, radius: float, rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Polygons (centred at 0) to fill and polygons to cut out for shape class ``cls``.

    Args:
        cls: Index into `SHAPE_NAMES`.
        radius: Circumradius in pixels.
        rng: Random generator (rotation, aspect, proportions).

    Returns:
        ``(fill, holes)``: lists of ``(k, 2)`` float arrays of x, y offsets.
    """
    theta = float(rng.uniform(0.0, 2.0 * np.pi))
    name = SHAPE_NAMES[cls]
    if name == "circle":
        return [_ngon(72, radius, theta, float(rng.uniform(0.85, 1.0)))], []
    if name == "square":
        return [_ngon(4, radius, theta)], []
    if name == "triangle":
        return [_ngon(3, radius, theta)], []
    if name == "star":
        n = 5
        inner = radius * float(rng.uniform(0.36, 0.46))
        a = np.linspace(0.0, 2.0 * np.pi, 2 * n, endpoint=False)
        r = np.where(np.arange(2 * n) % 2 == 0, radius, inner)
        return [_rot(np.stack([np.cos(a) * r, np.sin(a) * r], axis=1), theta)], []
    if name == "cross":
        h = radius * float(rng.uniform(0.27, 0.35))  # half arm width: blocky, unlike a star
        e = radius / np.sqrt(1.0 + (h / radius) ** 2)  # arm end so the corners sit on the circle
        pts = np.array(
            [[-h, -e], [h, -e], [h, -h], [e, -h], [e, h], [h, h], [h, e], [-h, e], [-h, h], [-e, h], [-e, -h], [-h, -h]]
        )
        return [_rot(pts, theta)], []
    if name == "ring":
        aspect = float(rng.uniform(0.85, 1.0))
        inner = float(rng.uniform(0.5, 0.65))
        return [_ngon(72, radius, theta, aspect)], [_ngon(72, radius * inner, theta, aspect)]
    raise ValueError(f"unknown shape class {cls}")


# --------------------------------------------------------------------------- colours
def _random_colour(rng: np.random.Generator) -> np.ndarray:
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(40, 255), rng.uniform(50, 255)]]], dtype=np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def _contrasting_colour(rng: np.random.Generator, against: np.ndarray, min_dist: float = 90.0) -> np.ndarray:
    best, best_d = _random_colour(rng), -1.0
    for _ in range(12):
        c = _random_colour(rng) if best_d >= 0 else best
        d = float(np.linalg.norm(c - against))
        if d > best_d:
            best, best_d = c, d
        if d >= min_dist:
            break
    if best_d < min_dist:  # push away from the background
        direction = np.where(against > 127, -1.0, 1.0).astype(np.float32)
        best = np.clip(against + direction * min_dist / np.sqrt(3.0) * 1.2, 0, 255).astype(np.float32)
    return best


# --------------------------------------------------------------------------- backgrounds
def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A float32 BGR background: gradient, smooth texture, stripes or flat, with optional noise."""
    kind = int(rng.integers(0, 4))
    yy = np.arange(h, dtype=np.float32)[:, None]
    xx = np.arange(w, dtype=np.float32)[None, :]
    if kind == 0:  # linear gradient
        a = rng.uniform(0, 2 * np.pi)
        t = xx * np.cos(a) + yy * np.sin(a)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
        c1, c2 = _random_colour(rng), _random_colour(rng)
        img = c1[None, None] * (1 - t[..., None]) + c2[None, None] * t[..., None]
    elif kind == 1:  # smooth blotchy texture
        cells = int(rng.integers(3, 12))
        small = rng.uniform(0, 1, size=(cells, max(2, cells * w // max(h, 1)), 3)).astype(np.float32)
        tex = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        base = _random_colour(rng)
        amp = rng.uniform(30, 110)
        img = np.clip(base[None, None] + (tex - 0.5) * amp * 2, 0, 255)
    elif kind == 2:  # stripes or checker, low contrast
        a = rng.uniform(0, np.pi)
        period = rng.uniform(6, 40)
        u = (xx * np.cos(a) + yy * np.sin(a)) * 2 * np.pi / period
        pat = np.sin(u)
        if rng.random() < 0.4:
            v = (-xx * np.sin(a) + yy * np.cos(a)) * 2 * np.pi / period
            pat = np.sign(np.sin(u) * np.sin(v))
        c1, c2 = _random_colour(rng), _random_colour(rng)
        mix = 0.5 + 0.5 * pat[..., None] * rng.uniform(0.15, 0.45)
        img = c1[None, None] * mix + c2[None, None] * (1 - mix)
    else:  # flat
        img = np.broadcast_to(_random_colour(rng)[None, None], (h, w, 3)).copy()
    img = img.astype(np.float32)
    if rng.random() < 0.6:  # fine grain texture
        sigma = rng.uniform(3, 14)
        grain = rng.standard_normal((h, w, 1), dtype=np.float32) * np.float32(sigma)
        if rng.random() < 0.5:
            grain = cv2.GaussianBlur(grain, (0, 0), rng.uniform(0.6, 2.0))[..., None] * 1.5
        img = img + grain
    return np.clip(img, 0, 255)


def _clutter(rng: np.random.Generator, img: np.ndarray, count: int, max_thickness: int) -> None:
    """Draw ``count`` non-object strokes (lines, arcs, zig-zags, specks) onto ``img`` in place."""
    h, w = img.shape[:2]
    for _ in range(count):
        colour = tuple(float(c) for c in _random_colour(rng))
        thick = int(rng.integers(1, max_thickness + 1))
        kind = rng.random()
        if kind < 0.45:
            p1 = (int(rng.integers(-20, w + 20)), int(rng.integers(-20, h + 20)))
            p2 = (int(rng.integers(-20, w + 20)), int(rng.integers(-20, h + 20)))
            cv2.line(img, p1, p2, colour, thick, cv2.LINE_AA)
        elif kind < 0.7:
            centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = (int(rng.integers(8, max(w, h) // 2)), int(rng.integers(8, max(w, h) // 2)))
            start = float(rng.uniform(0, 360))
            span = float(rng.uniform(30, 200))
            cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), start, start + span, colour, thick, cv2.LINE_AA)
        elif kind < 0.9:
            n = int(rng.integers(3, 7))
            x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
            steps = rng.normal(0, max(w, h) / 8, size=(n, 2))
            pts = np.cumsum(np.vstack([[x0, y0], steps]), axis=0).astype(np.int32)
            cv2.polylines(img, [pts], False, colour, thick, cv2.LINE_AA)
        else:  # a few specks, far smaller than any object
            for _ in range(int(rng.integers(3, 15))):
                c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
                cv2.circle(img, c, int(rng.integers(1, 3)), colour, -1, cv2.LINE_AA)


# --------------------------------------------------------------------------- scenes
def _fill_texture(rng: np.random.Generator, colour: np.ndarray, hh: int, ww: int) -> np.ndarray:
    """The paint of one shape over its ``hh x ww`` ROI: flat, gradient or speckled."""
    kind = rng.random()
    paint = np.broadcast_to(colour[None, None], (hh, ww, 3)).astype(np.float32)
    if kind < 0.35:
        a = rng.uniform(0, 2 * np.pi)
        t = np.arange(ww, dtype=np.float32)[None, :] * np.cos(a) + np.arange(hh, dtype=np.float32)[:, None] * np.sin(a)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1.0) - 0.5
        paint = paint + t[..., None] * rng.uniform(20, 70)
    elif kind < 0.55:
        paint = paint + rng.standard_normal((hh, ww, 1), dtype=np.float32) * np.float32(rng.uniform(4, 14))
    return paint


def make_scene(
    rng: np.random.Generator, size: tuple[int, int] = (320, 320)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one labelled scene.

    Args:
        rng: The random generator; the scene depends only on its state.
        size: ``(H, W)`` of the image in pixels.

    Returns:
        ``(image, boxes, class_ids)``: a BGR ``uint8`` image ``(H, W, 3)``, ``float32``
        boxes ``(n, 4)`` as ``x1, y1, x2, y2`` pixel edges (tight around the visible
        pixels of each shape), and ``int64`` class ids ``(n,)`` indexing `SHAPE_NAMES`.
    """
    h, w = int(size[0]), int(size[1])
    if h < 32 or w < 32:
        raise ValueError(f"scene size must be at least 32x32, got {size}")
    img = _background(rng, h, w)
    _clutter(rng, img, int(rng.integers(0, 9)), max_thickness=4)

    owner = np.full((h, w), -1, dtype=np.int32)  # which shape owns each pixel (topmost)
    counts: list[int] = []  # visible pixel count per placed shape
    classes: list[int] = []
    rois: list[tuple[int, int, int, int]] = []
    max_r = max(_MIN_RADIUS + 1.0, min(h, w) / 4.0)
    n_objects = int(rng.integers(1, 13))
    for _ in range(n_objects):
        for _attempt in range(8):
            cls = int(rng.integers(0, len(SHAPE_NAMES)))
            r = float(np.exp(rng.uniform(np.log(_MIN_RADIUS), np.log(max_r))))
            cx = float(rng.uniform(r + 1, w - r - 1))
            cy = float(rng.uniform(r + 1, h - r - 1))
            fill, holes = _shape_polygons(cls, r, rng)
            x0, y0 = max(int(np.floor(cx - r)) - 2, 0), max(int(np.floor(cy - r)) - 2, 0)
            x1, y1 = min(int(np.ceil(cx + r)) + 3, w), min(int(np.ceil(cy + r)) + 3, h)
            alpha = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
            off = np.array([cx - x0, cy - y0])
            cv2.fillPoly(alpha, [np.round((p + off) * _SCALE).astype(np.int32) for p in fill], 255, cv2.LINE_AA, _SHIFT)
            for p in holes:
                cv2.fillPoly(alpha, [np.round((p + off) * _SCALE).astype(np.int32)], 0, cv2.LINE_AA, _SHIFT)
            solid = alpha >= 128
            if not solid.any():
                continue
            covered = owner[y0:y1, x0:x1][solid]
            covered = covered[covered >= 0]
            if covered.size:
                hit = np.bincount(covered, minlength=len(counts))
                if np.any(hit > _MAX_HIDDEN * np.maximum(np.asarray(counts), 1)):
                    continue
                for j in np.nonzero(hit)[0]:
                    counts[j] -= int(hit[j])
            break
        else:
            continue
        roi = img[y0:y1, x0:x1]
        bg_mean = roi[solid].mean(axis=0)
        colour = _contrasting_colour(rng, bg_mean)
        paint = _fill_texture(rng, colour, y1 - y0, x1 - x0)
        if rng.random() < 0.3 and min(y1 - y0, x1 - x0) > 20:  # outlined shape
            inner = cv2.erode(alpha, np.ones((3, 3), np.uint8), iterations=int(rng.integers(1, 3)))
            edge = (alpha.astype(np.int32) - inner) > 64
            tone = np.clip(colour * rng.choice([0.45, 1.6]), 0, 255)
            paint[edge] = tone
        a = alpha.astype(np.float32)[..., None] / 255.0
        roi[:] = roi * (1 - a) + paint * a
        owner[y0:y1, x0:x1][solid] = len(counts)
        counts.append(int(solid.sum()))
        classes.append(cls)
        rois.append((x0, y0, x1, y1))

    _clutter(rng, img, int(rng.integers(0, 3)), max_thickness=1)  # thin strokes over everything
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 1.0)))
    if rng.random() < 0.7:
        img = img + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(1, 6))
    image = np.clip(np.round(img), 0, 255).astype(np.uint8)

    boxes, ids = [], []
    for k, (x0, y0, x1, y1) in enumerate(rois):
        ys, xs = np.nonzero(owner[y0:y1, x0:x1] == k)
        if ys.size < 12:
            continue
        boxes.append([x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1])
        ids.append(classes[k])
    return (
        image,
        np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        np.asarray(ids, dtype=np.int64).reshape(-1),
    )


# --------------------------------------------------------------------------- task scenes
#: Keypoint names of the pose demo: the corners of a diamond (a square within 35° of standing on a corner).
DIAMOND_KEYPOINTS: tuple[str, ...] = ("top", "right", "bottom", "left")


@dataclass(frozen=True)
class InstanceScene:
    """One scene of separate (non-overlapping) shapes with per-instance truth.

    Attributes:
        image: BGR ``uint8`` ``(H, W, 3)``.
        boxes: ``(n, 4)`` float32 tight boxes ``x1, y1, x2, y2`` of each mask.
        class_ids: ``(n,)`` int64 indices into `SHAPE_NAMES`.
        masks: ``(n, H, W)`` bool: the pixels of each shape (its anti-aliased coverage >= 50 %).
        corners: ``(n, K, 2)`` float32 polygon corners ``x, y`` (only for `make_diamond_scene`: top, right,
            bottom, left); ``(n, 0, 2)`` otherwise.
    """

    image: np.ndarray
    boxes: np.ndarray
    class_ids: np.ndarray
    masks: np.ndarray
    corners: np.ndarray


def _place_instances(
    rng: np.random.Generator,
    size: tuple[int, int],
    classes: Sequence[int],
    count: tuple[int, int],
    radius: tuple[float, float],
    polygons: Any,
) -> InstanceScene:
    """Draw ``count`` shapes that do not touch (2 px apart) on a background with clutter."""
    h, w = int(size[0]), int(size[1])
    img = _background(rng, h, w)
    _clutter(rng, img, int(rng.integers(0, 5)), max_thickness=3)
    taken = np.zeros((h, w), bool)
    masks, ids, corners = [], [], []
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        for _attempt in range(10):
            cls = int(rng.choice(np.asarray(classes)))
            r = float(np.exp(rng.uniform(np.log(radius[0]), np.log(min(radius[1], min(h, w) / 2 - 2)))))
            cx, cy = float(rng.uniform(r + 1, w - r - 1)), float(rng.uniform(r + 1, h - r - 1))
            fill, holes, pts = polygons(cls, r, rng)
            alpha = np.zeros((h, w), np.uint8)
            off = np.array([cx, cy])
            cv2.fillPoly(alpha, [np.round((p + off) * _SCALE).astype(np.int32) for p in fill], 255, cv2.LINE_AA, _SHIFT)
            for p in holes:
                cv2.fillPoly(alpha, [np.round((p + off) * _SCALE).astype(np.int32)], 0, cv2.LINE_AA, _SHIFT)
            solid = alpha >= 128
            if solid.sum() < 12 or (cv2.dilate(alpha, np.ones((5, 5), np.uint8)) > 0)[taken].any():
                continue
            colour = _contrasting_colour(rng, img[solid].mean(axis=0))
            paint = _fill_texture(rng, colour, h, w)
            a = alpha.astype(np.float32)[..., None] / 255.0
            img = img * (1 - a) + paint * a
            taken |= alpha > 0
            masks.append(solid)
            ids.append(cls)
            corners.append(pts + off)
            break
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 0.8)))
    if rng.random() < 0.7:
        img = img + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(1, 5))
    image = np.clip(np.round(img), 0, 255).astype(np.uint8)
    m = np.asarray(masks, bool).reshape(-1, h, w)
    boxes = np.zeros((len(m), 4), np.float32)
    for i, mi in enumerate(m):
        ys, xs = np.nonzero(mi)
        boxes[i] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    k = corners[0].shape[0] if corners else 0
    return InstanceScene(
        image, boxes, np.asarray(ids, np.int64), m, np.asarray(corners, np.float32).reshape(len(m), k, 2)
    )


def make_instance_scene(
    rng: np.random.Generator,
    size: tuple[int, int] = (160, 160),
    *,
    count: tuple[int, int] = (1, 4),
    radius: tuple[float, float] = (16.0, 56.0),
) -> InstanceScene:
    """A segmentation scene: 1-4 separate shapes of all six classes with their masks (the segmentation demo's data).

    Args:
        rng: The random generator; the scene depends only on its state.
        size: ``(H, W)``.
        count: Fewest and most shapes.
        radius: Smallest and largest circumradius in pixels.
    """

    def polygons(cls: int, r: float, g: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
        fill, holes = _shape_polygons(cls, r, g)
        return fill, holes, np.zeros((0, 2))

    return _place_instances(rng, size, range(len(SHAPE_NAMES)), count, radius, polygons)


def make_diamond_scene(
    rng: np.random.Generator,
    size: tuple[int, int] = (160, 160),
    *,
    count: tuple[int, int] = (1, 3),
    radius: tuple[float, float] = (16.0, 56.0),
) -> InstanceScene:
    """A pose scene: 1-3 separate diamonds (squares turned 10-80° from axis-aligned) and their four corners.

    Within 35° of standing on a corner, each diamond has one top-most, right-most, bottom-most and left-most
    corner, so the keypoints `DIAMOND_KEYPOINTS` are well defined. Class id 1 (``"square"``).
    """

    def polygons(cls: int, r: float, g: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
        theta = float(g.uniform(-35.0, 35.0)) * np.pi / 180.0
        a = theta + np.array([1.5, 0.0, 0.5, 1.0]) * np.pi  # angles of the top, right, bottom, left corners
        pts = np.stack([np.cos(a) * r, np.sin(a) * r], axis=1)
        return [pts], [], pts

    return _place_instances(rng, size, (SHAPE_NAMES.index("square"),), count, radius, polygons)


def make_single_shape(
    rng: np.random.Generator, size: tuple[int, int] = (64, 64), radius: tuple[float, float] = (12.0, 30.0)
) -> tuple[np.ndarray, int]:
    """A classification image: one shape of a random class; returns ``(image, class_id)``."""
    scene = _place_instances(rng, size, range(len(SHAPE_NAMES)), (1, 1), radius, _classify_polygons)
    return scene.image, int(scene.class_ids[0])


def _classify_polygons(
    cls: int, r: float, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    fill, holes = _shape_polygons(cls, r, rng)
    return fill, holes, np.zeros((0, 2))


# --------------------------------------------------------------------------- COCO
def scene_to_coco(
    image_id: int, file_name: str, size: tuple[int, int], boxes: np.ndarray, class_ids: np.ndarray, first_ann_id: int
) -> tuple[dict, list[dict]]:
    """COCO ``image`` record and ``annotations`` of one scene.

    Args:
        image_id: The COCO image id.
        file_name: Image file name relative to the images folder.
        size: ``(H, W)`` of the image.
        boxes: ``(n, 4)`` ``x1, y1, x2, y2`` boxes.
        class_ids: ``(n,)`` class indices (category id is index + 1).
        first_ann_id: Id of the first annotation.

    Returns:
        ``(image_record, annotations)``.
    """
    image = {"id": int(image_id), "file_name": file_name, "height": int(size[0]), "width": int(size[1])}
    anns = []
    for k, (b, c) in enumerate(zip(boxes.tolist(), class_ids.tolist(), strict=True)):
        bw, bh = b[2] - b[0], b[3] - b[1]
        anns.append(
            {
                "id": first_ann_id + k,
                "image_id": int(image_id),
                "category_id": int(c) + 1,
                "bbox": [float(b[0]), float(b[1]), float(bw), float(bh)],
                "area": float(bw * bh),
                "iscrowd": 0,
            }
        )
    return image, anns


def write_dataset(
    out_dir: str | Path, n: int, seed: int, size: tuple[int, int] | Sequence[tuple[int, int]] = (320, 320)
) -> Path:
    """Write ``n`` scenes as ``out_dir/images/NNNNNN.jpg`` plus COCO ``out_dir/instances.json``.

    Args:
        out_dir: Output folder (created).
        n: Number of scenes.
        seed: Seed of ``numpy.random.default_rng``; the same seed writes the same dataset.
        size: ``(H, W)`` of every scene, or a sequence of sizes used in turn.

    Returns:
        Path of ``instances.json``. Its image ``file_name`` entries are relative to
        ``out_dir/images``; categories have ids ``1..nc`` named after `SHAPE_NAMES`.
    """
    out = Path(out_dir)
    img_dir = out / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    sizes = [tuple(size)] if isinstance(size[0], int) else [tuple(s) for s in size]  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    images, annotations = [], []
    for i in range(n):
        hw = sizes[i % len(sizes)]
        image, boxes, class_ids = make_scene(rng, hw)  # type: ignore[arg-type]
        name = f"{i:06d}.jpg"
        if not cv2.imwrite(str(img_dir / name), image, [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise OSError(f"could not write {img_dir / name}")
        rec, anns = scene_to_coco(i + 1, name, hw, boxes, class_ids, len(annotations) + 1)  # type: ignore[arg-type]
        images.append(rec)
        annotations.extend(anns)
    coco = {
        "info": {"description": f"lite procedural shapes, seed {seed}, {n} images", "version": "1"},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": name, "supercategory": "shape"} for i, name in enumerate(SHAPE_NAMES)],
    }
    path = out / "instances.json"
    path.write_text(json.dumps(coco))
    return path
