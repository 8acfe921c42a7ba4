"""Synthetic tracking sequences: shapes of `lite.demo.scenes` moving, crossing and occluding, with true ids.

`write_sequence` writes a MOTChallenge-format sequence (``img1/000001.jpg``..., ``gt/gt.txt``,
``seqinfo.ini``) that lite's demo detector sees: objects start on the left and right edges and move
across, so their paths cross; later objects pass in front of earlier ones. Each ground-truth row
is the box of the object's *visible* pixels; an object less than ``min_visible`` visible is written
with the "consider" flag 0 (MOTChallenge's convention: neither a miss nor, when matched, a false
positive; `lite.tools.mot.evaluate` reads it so).

Example:
    ```python
    from lite.demo.tracks import write_sequence

    seq = write_sequence("crossing", n_frames=60, seed=0)
    # lite eval --mot crossing     (MOTA, IDF1, HOTA of the demo detector + ByteTrack)
    ```
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from lite.demo.scenes import SHAPE_NAMES, _background, _contrasting_colour, _shape_polygons

__all__ = ["make_sequence", "write_sequence"]

_SHIFT = 4


def _alpha(cls: int, radius: float, rng: np.random.Generator, size: int) -> np.ndarray:
    """The shape's coverage (uint8) in a ``size x size`` patch centred on it."""
    fill, holes = _shape_polygons(cls, radius, rng)
    alpha = np.zeros((size, size), np.uint8)
    off = np.array([size / 2, size / 2])
    pts = lambda p: np.round((p + off) * (1 << _SHIFT)).astype(np.int32)  # noqa: E731
    cv2.fillPoly(alpha, [pts(p) for p in fill], 255, cv2.LINE_AA, _SHIFT)
    for p in holes:
        cv2.fillPoly(alpha, [pts(p)], 0, cv2.LINE_AA, _SHIFT)
    return alpha


def make_sequence(
    rng: np.random.Generator,
    n_frames: int = 60,
    n_objects: int = 6,
    size: tuple[int, int] = (320, 320),
    min_visible: float = 0.4,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Draw a sequence of frames with moving, crossing shapes.

    Args:
        rng: The random generator; the sequence depends only on its state.
        n_frames: Frames to draw.
        n_objects: Moving shapes (ids ``1..n_objects``, drawn in that order: higher ids pass in front).
        size: ``(H, W)`` of the frames.
        min_visible: Visible fraction under which an object's row is marked "not considered".

    Returns:
        ``(frames, gt)``: BGR ``uint8`` frames, and ground truth rows
        ``[frame (1-based), id, x, y, w, h, consider (0/1), class id, visible fraction]``.
    """
    h, w = int(size[0]), int(size[1])
    background = _background(rng, h, w)
    objs = []
    per_side = (n_objects + 1) // 2
    lanes = [rng.permutation(per_side), rng.permutation(per_side)]  # start heights: apart on each edge
    for k in range(n_objects):
        cls = int(rng.integers(0, len(SHAPE_NAMES)))
        r = float(rng.uniform(16, 30))
        patch = int(2 * r + 6)
        alpha = _alpha(cls, r, rng, patch)
        left = k % 2 == 0
        x = r + 2 if left else w - r - 2
        lane = int(lanes[k % 2][k // 2])
        y = float(np.clip((lane + 0.5) * h / per_side + rng.uniform(-0.15, 0.15) * h / per_side, r + 2, h - r - 2))
        speed = float(rng.uniform(2.0, 4.0))
        vx = speed if left else -speed
        vy = float(rng.uniform(-1.0, 1.0))
        colour = _contrasting_colour(rng, background[int(y), int(x)])
        objs.append({"cls": cls, "r": r, "alpha": alpha, "x": x, "y": y, "vx": vx, "vy": vy, "colour": colour})
    frames, rows = [], []
    for f in range(n_frames):
        img = background.copy()
        owner = np.full((h, w), -1, np.int32)
        areas = []
        for k, o in enumerate(objs):
            a, p = o["alpha"], o["alpha"].shape[0]
            x0, y0 = int(round(o["x"])) - p // 2, int(round(o["y"])) - p // 2
            sx0, sy0 = max(0, -x0), max(0, -y0)
            sx1, sy1 = min(p, w - x0), min(p, h - y0)
            sub = a[sy0:sy1, sx0:sx1].astype(np.float32)[..., None] / 255.0
            roi = img[y0 + sy0 : y0 + sy1, x0 + sx0 : x0 + sx1]
            roi[:] = roi * (1 - sub) + o["colour"] * sub
            owner[y0 + sy0 : y0 + sy1, x0 + sx0 : x0 + sx1][sub[..., 0] >= 0.5] = k
            areas.append(int((a >= 128).sum()))
        noisy = img + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(2.0)
        frames.append(np.clip(np.round(noisy), 0, 255).astype(np.uint8))
        for k, o in enumerate(objs):
            ys, xs = np.nonzero(owner == k)
            if ys.size < 12:
                continue
            visible = ys.size / max(areas[k], 1)
            x1, y1, x2, y2 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
            rows.append([f + 1, k + 1, x1, y1, x2 - x1, y2 - y1, int(visible >= min_visible), o["cls"], visible])
        for o in objs:  # move, bouncing off the edges
            o["x"] += o["vx"]
            o["y"] += o["vy"]
            if not o["r"] < o["x"] < w - o["r"]:
                o["vx"] = -o["vx"]
            if not o["r"] < o["y"] < h - o["r"]:
                o["vy"] = -o["vy"]
    return frames, np.asarray(rows, dtype=np.float64).reshape(-1, 9)


def write_sequence(
    out_dir: str | Path, n_frames: int = 60, n_objects: int = 6, seed: int = 0, size: tuple[int, int] = (320, 320)
) -> Path:
    """Write a `make_sequence` sequence in MOTChallenge format: ``img1/``, ``gt/gt.txt``, ``seqinfo.ini``.

    Args:
        out_dir: The sequence folder (created).
        n_frames: Frames.
        n_objects: Moving shapes.
        seed: Seed of ``numpy.random.default_rng``: the same seed writes the same sequence.
        size: ``(H, W)`` of the frames.

    Returns:
        The sequence folder.
    """
    out = Path(out_dir)
    (out / "img1").mkdir(parents=True, exist_ok=True)
    (out / "gt").mkdir(exist_ok=True)
    frames, gt = make_sequence(np.random.default_rng(seed), n_frames, n_objects, size)
    for i, img in enumerate(frames, start=1):
        if not cv2.imwrite(str(out / "img1" / f"{i:06d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise OSError(f"could not write {out / 'img1' / f'{i:06d}.jpg'}")
    lines = [
        f"{int(r[0])},{int(r[1])},{r[2]:.0f},{r[3]:.0f},{r[4]:.0f},{r[5]:.0f},{int(r[6])},{int(r[7]) + 1},{r[8]:.3f}"
        for r in gt
    ]
    (out / "gt" / "gt.txt").write_text("\n".join(lines) + "\n")
    (out / "seqinfo.ini").write_text(
        f"[Sequence]\nname={out.name}\nimDir=img1\nframeRate=30\nseqLength={n_frames}\n"
        f"imWidth={size[1]}\nimHeight={size[0]}\nimExt=.jpg\n"
    )
    return out
