"""Instance masks: YOLO prototype masks and Mask R-CNN mask pasting, in pure numpy + OpenCV.

**Prototype masks** (YOLOv5-seg, YOLOv8-seg, YOLO11-seg). The model gives ``nm`` (32) prototype planes
``(nm, Hp, Wp)`` at a quarter of the input size and, per candidate, ``nm`` coefficients. For the boxes NMS kept
— and only those — `prototype_masks` reproduces ultralytics' prediction masks (``ultralytics/utils/ops.py``,
``process_mask(..., upsample=True)`` for ``masks.data``; ``scale_masks`` + ``crop_mask`` for
``retina_masks=True``):

1. logits ``coef @ protos`` (``sigmoid > 0.5`` is ``logit > 0``, so no sigmoid is computed);
2. upsampled bilinearly (half-pixel centres, edge replicated: ``F.interpolate(..., mode="bilinear")``);
3. cropped to the box: pixel ``(i, j)`` is kept when ``x1 <= j < x2`` and ``y1 <= i < y2`` (``crop_mask``);
4. thresholded at ``logit > 0``.

``space="input"`` gives the masks at the network input size (ultralytics' ``masks.data``). ``space="image"``
(the default) gives them in the original image like the boxes: the part of the input that holds the resized
image (the `LetterboxTransform`'s padding removed, as ``scale_masks`` does) is stretched over the original image
and the mask is cropped to the box after `LetterboxTransform.to_original`. Upsampling and un-letterboxing are one
bilinear sampling from the prototypes (no intermediate input-size mask; the README of
``models/foreign_tasks`` lists the areas it is checked against), evaluated only inside each box, so the time and
the memory follow the kept instances: ``(n, h, w)`` booleans for ``n`` kept boxes.

**Mask R-CNN masks** (torchvision's ONNX export: ``(n, 1, M, M)`` probabilities, ``M = 28``): `paste_masks`
follows torchvision's ``paste_masks_in_image``: each mask padded by one zero pixel, its box scaled by
``(M + 2) / M`` about the centre and truncated to integers, the mask resized bilinearly to
``(y2 - y1 + 1, x2 - x1 + 1)`` and pasted; then thresholded at 0.5.
"""

from __future__ import annotations

import cv2
import numpy as np

from lite.core.errors import InputError, ModelOutputError
from lite.ops.candidates import logit
from lite.ops.letterbox import LetterboxTransform

__all__ = ["prototype_masks", "paste_masks", "split_seg_rows", "MASK_SPACES"]

MASK_SPACES = ("image", "input")


def _logit(threshold: float) -> float:
    """The mask threshold as a logit (`lite.ops.candidates.logit`), checked to be a probability."""
    if not 0.0 < float(threshold) < 1.0:
        raise InputError(f"threshold: expected a probability in (0, 1), got {threshold!r}")
    return logit(float(threshold))


def _check_protos(protos: np.ndarray, coefficients: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, ...]:
    p = np.asarray(protos)
    if p.ndim == 4 and p.shape[0] == 1:
        p = p[0]
    if p.ndim != 3:
        raise ModelOutputError(f"mask prototypes: expected shape (nm, Hp, Wp) or (1, nm, Hp, Wp), got {p.shape}")
    c = np.asarray(coefficients, dtype=np.float32)
    if c.ndim != 2 or c.shape[1] != p.shape[0]:
        raise ModelOutputError(
            f"mask coefficients: expected shape (n, {p.shape[0]}) to match the {p.shape[0]} prototypes, got {c.shape}"
        )
    b = np.asarray(boxes, dtype=np.float64)
    if b.shape != (c.shape[0], 4):
        raise InputError(f"boxes: expected shape ({c.shape[0]}, 4) (one per coefficient row), got {b.shape}")
    if not (np.isfinite(c).all() and np.isfinite(b).all()):
        raise ModelOutputError("mask coefficients or boxes: got NaN or inf")
    return p.astype(np.float32, copy=False), c, b


def _axis_map(
    space: str, transform: LetterboxTransform, proto_hw: tuple[int, int]
) -> tuple[tuple[int, int], tuple[float, float], tuple[float, float]]:
    """Output ``(H, W)`` and the affine ``p = a * x + b`` from output pixel index to prototype coordinate, per axis."""
    hp, wp = proto_hw
    in_h, in_w = transform.dst_shape
    sy, sx = hp / in_h, wp / in_w
    if space == "input":
        return (in_h, in_w), (sx, 0.5 * sx - 0.5), (sy, 0.5 * sy - 0.5)
    h, w = transform.src_shape
    nh, nw = transform.resized_shape
    left, top = transform.pad
    ax, ay = nw / w * sx, nh / h * sy
    return (h, w), (ax, (left + 0.5 * nw / w) * sx - 0.5), (ay, (top + 0.5 * nh / h) * sy - 0.5)


def prototype_masks(
    protos: np.ndarray,
    coefficients: np.ndarray,
    boxes: np.ndarray,
    transform: LetterboxTransform,
    *,
    space: str = "image",
    threshold: float = 0.5,
) -> np.ndarray:
    """Binary masks of the kept boxes of a YOLO segmentation model (as ultralytics predicts them).

    Args:
        protos: ``(nm, Hp, Wp)`` (or ``(1, nm, Hp, Wp)``) mask prototypes (YOLOv8-seg's ``output1``).
        coefficients: ``(n, nm)`` mask coefficients of the boxes NMS kept (never all candidates).
        boxes: ``(n, 4)`` those boxes ``x1, y1, x2, y2`` in network-input pixels (before `to_original`); the
            masks are cropped to them (``space="image"``: to ``transform.to_original(boxes)``).
        transform: The letterbox of the image (`lite.ops.letterbox.Letterbox` gives it).
        space: ``"image"`` (original-image pixels, like the boxes after ``transform.to_original``) or
            ``"input"`` (network-input pixels).
        threshold: Probability above which a pixel is in the mask (``sigmoid(logit) > threshold``).

    Returns:
        ``(n, h, w)`` bool masks (``(n, H, W)`` for ``space="input"``).

    Raises:
        ModelOutputError: Prototypes and coefficients disagree in shape, or hold NaN or inf.
        InputError: A bad ``boxes`` shape, ``space`` or ``threshold``.
    """
    if space not in MASK_SPACES:
        raise InputError(f"space: expected one of {list(MASK_SPACES)}, got {space!r}")
    cut = _logit(threshold)
    p, c, b = _check_protos(protos, coefficients, boxes)
    nm, hp, wp = p.shape
    (out_h, out_w), (ax, bx), (ay, by) = _axis_map(space, transform, (hp, wp))
    n = c.shape[0]
    out = np.zeros((n, out_h, out_w), dtype=bool)
    if n == 0:
        return out
    logits = (c @ p.reshape(nm, -1)).reshape(n, hp, wp)
    if not np.isfinite(np.add.reduce(logits, axis=None, dtype=np.float64)):  # NaN / inf in the prototypes used
        raise ModelOutputError("mask prototypes: got NaN or inf (a broken export or input)")
    crop = (b if space == "input" else transform.to_original(b)).astype(np.float32)
    x_lo, y_lo = np.ceil(crop[:, 0]), np.ceil(crop[:, 1])  # first kept column / row: j >= x1
    x_hi, y_hi = np.ceil(crop[:, 2]), np.ceil(crop[:, 3])  # end (exclusive): j < x2
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for i in range(n):
        ox0, oy0 = max(0, int(x_lo[i])), max(0, int(y_lo[i]))
        ox1, oy1 = min(out_w, int(x_hi[i])), min(out_h, int(y_hi[i]))
        if ox1 <= ox0 or oy1 <= oy0:
            continue
        m = np.array([[ax, 0.0, ax * ox0 + bx], [0.0, ay, ay * oy0 + by]], dtype=np.float64)
        roi = cv2.warpAffine(logits[i], m, (ox1 - ox0, oy1 - oy0), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        np.greater(roi, cut, out=out[i, oy0:oy1, ox0:ox1])
    return out


def paste_masks(
    masks: np.ndarray, boxes: np.ndarray, image_hw: tuple[int, int], *, threshold: float = 0.5, padding: int = 1
) -> np.ndarray:
    """Paste Mask R-CNN's per-box mask probabilities into the image (torchvision's ``paste_masks_in_image``).

    Args:
        masks: ``(n, 1, M, M)`` or ``(n, M, M)`` mask probabilities in ``[0, 1]`` (torchvision: ``M = 28``).
        boxes: ``(n, 4)`` boxes ``x1, y1, x2, y2`` in original-image pixels.
        image_hw: ``(h, w)`` of the original image.
        threshold: Probability above which a pixel is in the mask.
        padding: Zero pixels added around each mask before resizing (torchvision: 1).

    Returns:
        ``(n, h, w)`` bool masks.

    Raises:
        ModelOutputError: ``masks`` is not ``(n, [1,] M, M)`` or holds NaN or inf.
        InputError: A bad ``boxes`` shape, ``image_hw``, ``threshold`` or ``padding``.
    """
    m = np.asarray(masks, dtype=np.float32)
    if m.ndim == 4 and m.shape[1] == 1:
        m = m[:, 0]
    if m.ndim != 3 or m.shape[1] != m.shape[2] or m.shape[1] < 1:
        raise ModelOutputError(f"Mask R-CNN masks: expected shape (n, 1, M, M) or (n, M, M), got {np.shape(masks)}")
    if not np.isfinite(m).all():
        raise ModelOutputError("Mask R-CNN masks: got NaN or inf")
    b = np.asarray(boxes, dtype=np.float64)
    if b.shape != (m.shape[0], 4) or not np.isfinite(b).all():
        raise InputError(f"boxes: expected finite shape ({m.shape[0]}, 4) (one per mask), got {b.shape}")
    h, w = (int(v) for v in image_hw)
    if h < 1 or w < 1:
        raise InputError(f"image_hw: expected a positive (h, w), got {image_hw!r}")
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise InputError(f"padding: expected an int >= 0, got {padding!r}")
    if not 0.0 <= float(threshold) < 1.0:
        raise InputError(f"threshold: expected a probability in [0, 1), got {threshold!r}")
    n, size = m.shape[0], m.shape[1]
    out = np.zeros((n, h, w), dtype=bool)
    if n == 0:
        return out
    padded = np.pad(m, ((0, 0), (padding, padding), (padding, padding)))
    scale = (size + 2 * padding) / size
    half = (b[:, 2:] - b[:, :2]) * 0.5 * scale
    centre = (b[:, 2:] + b[:, :2]) * 0.5
    ib = np.trunc(np.concatenate([centre - half, centre + half], axis=1)).astype(np.int64)  # torch .to(int64)
    for i, (x1, y1, x2, y2) in enumerate(ib.tolist()):
        bw, bh = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
        x0, xe, y0, ye = max(x1, 0), min(x2 + 1, w), max(y1, 0), min(y2 + 1, h)
        if xe <= x0 or ye <= y0:
            continue
        res = cv2.resize(padded[i], (bw, bh), interpolation=cv2.INTER_LINEAR)
        np.greater(res[y0 - y1 : ye - y1, x0 - x1 : xe - x1], threshold, out=out[i, y0:ye, x0:xe])
    return out


def split_seg_rows(rows: np.ndarray, num_classes: int, num_masks: int = 32) -> tuple[np.ndarray, ...]:
    """Split YOLOv8-seg candidate rows ``(N, 4 + nc + nm)`` into boxes, class scores and mask coefficients.

    Args:
        rows: Candidates on the first axis (``output0[0].T``).
        num_classes: ``nc``, from the model's names.
        num_masks: ``nm``, the number of prototypes (``output1.shape[1]``).

    Returns:
        ``(cxcywh (N, 4), class scores (N, nc), coefficients (N, nm))`` as views.

    Raises:
        ModelOutputError: The row width is not ``4 + nc + nm``.
    """
    r = np.asarray(rows)
    want = 4 + int(num_classes) + int(num_masks)
    if r.ndim != 2 or r.shape[1] != want:
        raise ModelOutputError(
            f"segmentation output: expected rows of 4 box + {num_classes} classes + {num_masks} mask coefficients "
            f"= {want} values, got shape {r.shape}; check the class count (metadata names) and the prototypes"
        )
    return r[:, :4], r[:, 4 : 4 + num_classes], r[:, 4 + num_classes :]
