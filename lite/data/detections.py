"""The detection result type every detector in lite returns.

`Detections` holds ``n`` boxes in original-image pixels with their scores and class
ids, plus the class names of the model. It is an immutable value: the arrays are validated,
converted (``xyxy``/``scores`` float32, ``class_ids`` int64) and stored read-only on
construction; indexing returns new objects.

Example:
    ```python
    import cv2

    from lite.cv import YOLOv6

    detector = YOLOv6("yolov6lite_s_320_decoded.onnx")
    img = cv2.imread("bus.jpg")
    dets = detector(img)
    print(dets)                      # Detections(9): person 0.87, bus 0.86, person 0.86, ...
    people = dets[dets.class_ids == 0]
    for d in dets:
        print(d.name, round(d.score, 2), d.xyxy)
    cv2.imwrite("out.jpg", dets.draw(img))
    ```
"""

from __future__ import annotations

import colorsys
import json
import operator
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import cv2
import numpy as np

from lite.core.errors import BackendNotInstalledError, ImageError, InputError
from lite.data import rle

__all__ = ["Detection", "Detections"]

#: Items shown by ``repr()`` before it ends with an ellipsis.
_REPR_ITEMS = 10


def _make_palette(n: int = 32) -> tuple[tuple[int, int, int], ...]:
    """``n`` well-separated, saturated BGR colours (hues stepped by the golden ratio)."""
    out = []
    for i in range(n):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.8 if i % 2 else 0.65, 0.95)
        out.append((round(b * 255), round(g * 255), round(r * 255)))
    return tuple(out)


#: The fixed colour of class ``k`` is ``PALETTE[k % len(PALETTE)]`` (BGR).
PALETTE: tuple[tuple[int, int, int], ...] = _make_palette()


class Detection(NamedTuple):
    """One detection, as yielded by iterating over `Detections`."""

    xyxy: tuple[float, float, float, float]
    score: float
    class_id: int
    name: str


def _label(class_id: int, names: tuple[str, ...]) -> str:
    return names[class_id] if 0 <= class_id < len(names) else f"class_{class_id}"


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _in_float32_range(a: np.ndarray) -> np.ndarray:
    """Elementwise: finite and representable as float32 (False for NaN and inf)."""
    if a.dtype.kind != "f":
        return np.ones(a.shape, dtype=bool)
    return np.abs(a) <= np.finfo(np.float32).max


def _coerce_names(names: Any) -> tuple[str, ...]:
    if isinstance(names, str):
        raise InputError(f"names: expected a sequence of class names, got the single string {names!r}")
    if isinstance(names, Mapping):
        # {0: "person", 1: "bicycle", ...} as some exporters write it
        try:
            keys = sorted(int(k) for k in names)
        except (TypeError, ValueError) as e:
            raise InputError(f"names: expected a mapping int class id -> name, got keys {list(names)[:5]}") from e
        if keys and keys[0] < 0:
            raise InputError(f"names: expected class ids >= 0 as keys, got {keys[0]}")
        lookup = {int(k): v for k, v in names.items()}
        names = [lookup.get(i, f"class_{i}") for i in range(keys[-1] + 1 if keys else 0)]
    try:
        out = tuple(names)
    except TypeError as e:
        raise InputError(f"names: expected a sequence of class names, got {type(names).__name__}") from e
    bad = [x for x in out if not isinstance(x, str)]
    if bad:
        raise InputError(f"names: expected str class names, got {type(bad[0]).__name__} {bad[0]!r}")
    return tuple(map(str, out))  # plain str, also for numpy string arrays


def _coerce_masks(masks: Any, n: int) -> np.ndarray | None:
    """``None`` or a read-only boolean ``(n, H, W)`` array (0/1 numbers accepted)."""
    if masks is None:
        return None
    m = np.asarray(masks)
    if m.ndim != 3 or m.shape[0] != n:
        raise InputError(f"masks: expected a boolean (n, H, W) array with n = {n} (one per box), got shape {m.shape}")
    if m.dtype != bool and (m.dtype.kind not in "iuf" or not np.isin(m, (0, 1)).all()):
        raise InputError(f"masks: expected booleans (or 0/1 values), got dtype {m.dtype} with other values")
    return np.array(m, dtype=bool)


def _coerce_keypoints(keypoints: Any, n: int) -> np.ndarray | None:
    """``None`` or a float32 ``(n, K, 3)`` array of finite ``x, y, score`` rows."""
    if keypoints is None:
        return None
    k = np.asarray(keypoints)
    if k.dtype.kind not in "fiu":
        raise InputError(f"keypoints: expected a numeric (n, K, 3) array, got dtype {k.dtype}")
    if k.ndim != 3 or k.shape[0] != n or k.shape[2] != 3 or k.shape[1] < 1:
        raise InputError(
            f"keypoints: expected shape (n, K, 3) = x, y, score with n = {n} and K >= 1, got shape {k.shape}"
        )
    if not _in_float32_range(k).all():
        raise InputError("keypoints: expected finite float32 values, got NaN or inf")
    return np.array(k, dtype=np.float32)


def _coerce_skeleton(skeleton: Any, k: int | None) -> tuple[tuple[int, int], ...]:
    try:
        pairs = tuple((operator.index(a), operator.index(b)) for a, b in skeleton)
    except (TypeError, ValueError) as e:
        raise InputError(f"skeleton: expected (i, j) pairs of keypoint indices, got {skeleton!r:.80}") from e
    if pairs and k is None:
        raise InputError("skeleton: given without keypoints; pass keypoints=(n, K, 3) too")
    bad = [p for p in pairs if not (0 <= p[0] < (k or 0) and 0 <= p[1] < (k or 0))]
    if bad:
        raise InputError(f"skeleton: expected keypoint indices in [0, {k}), got the pair {bad[0]}")
    return pairs


def _optional_equal(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))


def _masks_from_rle(rles: Any, shape: Any, n: int) -> np.ndarray | None:
    """Masks from a list of COCO RLE dicts (``to_dict``'s ``masks``); None when absent."""
    if rles is None:
        return None
    if isinstance(rles, Mapping) or not isinstance(rles, Sequence | np.ndarray):
        raise InputError(f"masks: expected a list of COCO RLE dicts (one per detection), got {type(rles).__name__}")
    if len(rles) != n:
        raise InputError(f"masks: expected {n} RLE dicts (one per detection), got {len(rles)}")
    if n == 0:
        h, w = (int(v) for v in shape) if shape is not None else (0, 0)
        return np.zeros((0, h, w), bool)
    decoded = [rle.decode(r) for r in rles]
    if len({m.shape for m in decoded}) != 1:
        raise InputError(f"masks: expected RLEs of one image size, got sizes {sorted({m.shape for m in decoded})}")
    return np.stack(decoded)


def _image_hw(row: Mapping[str, Any]) -> tuple[int, int] | None:
    """``(image_height, image_width)`` of a result row (the mask size of an image with no detection), if given."""
    h, w = row.get("image_height"), row.get("image_width")
    return (int(h), int(w)) if h and w else None


def _keypoints_from_lists(kpts: Any, k: Any, n: int) -> np.ndarray | None:
    """Keypoints from ``[[x, y, score], ...]`` lists (``to_dict``'s ``keypoints``); None when absent."""
    if kpts is None:
        return None
    if n == 0:
        return np.zeros((0, int(k or 1), 3), np.float32)
    try:
        return np.asarray(kpts, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"keypoints: expected [[x, y, score], ...] per detection, got {kpts!r:.80}") from e


@dataclass(frozen=True, eq=False, repr=False)
class Detections:
    """Detections of one image.

    Attributes:
        xyxy: ``(n, 4)`` float32 boxes ``x1, y1, x2, y2`` in original-image pixels.
        scores: ``(n,)`` float32 confidences.
        class_ids: ``(n,)`` int64 class ids (``>= 0``).
        names: Class names indexed by class id; empty when unknown.
        masks: Optional ``(n, H, W)`` boolean instance masks in original-image pixels (None: the model
            gives none). JSON and Parquet carry them as COCO RLE (`masks_rle`, `lite.data.rle`).
        keypoints: Optional ``(n, K, 3)`` float32 keypoints ``x, y, score`` in original-image pixels.
        keypoint_names: Names of the ``K`` keypoints, when the model says them (else empty).
        skeleton: Pairs of keypoint indices to join when drawing (else empty).
        tracker_id: ``(n,)`` int64 track ids (supervision's convention) when a tracker made them
            (`lite.cv.track`), else None.

    Construction accepts lists or any numeric arrays and converts them; it raises
    [`InputError`][lite.core.errors.InputError] on wrong shapes, mismatched lengths, non-finite
    values, ``x2 < x1`` / ``y2 < y1``, negative or non-integral class ids. The stored
    arrays are read-only copies.
    """

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    names: tuple[str, ...] = ()
    masks: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    keypoint_names: tuple[str, ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()
    tracker_id: np.ndarray | None = None

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy)
        if xyxy.dtype.kind not in "fiu":
            raise InputError(f"xyxy: expected a numeric (n, 4) array, got dtype {xyxy.dtype}")
        if xyxy.size == 0 and xyxy.ndim == 1:
            xyxy = xyxy.reshape(0, 4)
        if xyxy.ndim != 2 or xyxy.shape[1] != 4:
            raise InputError(f"xyxy: expected shape (n, 4), got shape {xyxy.shape}")
        n = xyxy.shape[0]
        bad = ~_in_float32_range(xyxy)
        if bad.any():
            row = int(np.flatnonzero(bad.any(axis=1))[0])
            raise InputError(f"xyxy: expected finite float32 coordinates, got row {row} = {xyxy[row].tolist()}")
        xyxy = np.array(xyxy, dtype=np.float32)
        flipped = (xyxy[:, 2] < xyxy[:, 0]) | (xyxy[:, 3] < xyxy[:, 1])
        if flipped.any():
            row = int(np.flatnonzero(flipped)[0])
            raise InputError(f"xyxy: expected x1 <= x2 and y1 <= y2, got row {row} = {xyxy[row].tolist()}")

        scores = np.asarray(self.scores)
        if scores.dtype.kind not in "fiu":
            raise InputError(f"scores: expected a numeric (n,) array, got dtype {scores.dtype}")
        if scores.size == 0 and n == 0:
            scores = scores.reshape(0)
        if scores.shape != (n,):
            raise InputError(f"scores: expected shape ({n},) to match xyxy {xyxy.shape}, got shape {scores.shape}")
        bad = ~_in_float32_range(scores)
        if bad.any():
            raise InputError(f"scores: expected finite float32 values, got {scores[bad][0]}")
        scores = np.array(scores, dtype=np.float32)

        cls = np.asarray(self.class_ids)
        if cls.size == 0 and n == 0:
            cls = cls.reshape(0).astype(np.int64)
        if cls.shape != (n,):
            raise InputError(f"class_ids: expected shape ({n},) to match xyxy {xyxy.shape}, got shape {cls.shape}")
        if cls.dtype.kind == "f":
            if not (np.isfinite(cls).all() and (cls == np.floor(cls)).all()):
                raise InputError(f"class_ids: expected integer ids, got non-integral values ({cls.dtype})")
        elif cls.dtype.kind not in "iu":
            raise InputError(f"class_ids: expected integer ids, got dtype {cls.dtype}")
        cls = np.array(cls, dtype=np.int64)
        if n and cls.min() < 0:
            raise InputError(f"class_ids: expected ids >= 0, got {int(cls.min())}")

        object.__setattr__(self, "xyxy", _readonly(xyxy))
        object.__setattr__(self, "scores", _readonly(scores))
        object.__setattr__(self, "class_ids", _readonly(cls))
        object.__setattr__(self, "names", _coerce_names(self.names))
        masks = _coerce_masks(self.masks, n)
        kpts = _coerce_keypoints(self.keypoints, n)
        object.__setattr__(self, "masks", None if masks is None else _readonly(masks))
        object.__setattr__(self, "keypoints", None if kpts is None else _readonly(kpts))
        k = None if kpts is None else kpts.shape[1]
        kn = _coerce_names(self.keypoint_names)
        if kn and len(kn) != k:
            raise InputError(f"keypoint_names: expected {k} names (one per keypoint), got {len(kn)}")
        object.__setattr__(self, "keypoint_names", kn)
        object.__setattr__(self, "skeleton", _coerce_skeleton(self.skeleton, k))
        if self.tracker_id is not None:
            tid = np.asarray(self.tracker_id)
            if tid.shape != (n,) or (n and tid.dtype.kind not in "iu"):
                raise InputError(f"tracker_id: expected ({n},) integers or None, got {tid.dtype} {tid.shape}")
            object.__setattr__(self, "tracker_id", _readonly(np.array(tid, dtype=np.int64)))

    @classmethod
    def _trusted(
        cls,
        xyxy: np.ndarray,
        scores: np.ndarray,
        class_ids: np.ndarray,
        names: tuple[str, ...],
        masks: np.ndarray | None = None,
        keypoints: np.ndarray | None = None,
        keypoint_names: tuple[str, ...] = (),
        skeleton: tuple[tuple[int, int], ...] = (),
    ) -> Detections:
        """Build from arrays known to be valid (e.g. a subset of a valid object); no checks."""
        self = object.__new__(cls)
        object.__setattr__(self, "xyxy", _readonly(xyxy))
        object.__setattr__(self, "scores", _readonly(scores))
        object.__setattr__(self, "class_ids", _readonly(class_ids))
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "masks", None if masks is None else _readonly(masks))
        object.__setattr__(self, "keypoints", None if keypoints is None else _readonly(keypoints))
        object.__setattr__(self, "keypoint_names", keypoint_names)
        object.__setattr__(self, "skeleton", skeleton)
        return self

    @classmethod
    def empty(cls, names: Sequence[str] = ()) -> Detections:
        """No detections (with the model's class names, if given)."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), tuple(names))

    # ------------------------------------------------------------------ container protocol

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def __iter__(self) -> Iterator[Detection]:
        labels = self.labels
        for box, score, cid, name in zip(
            self.xyxy.tolist(), self.scores.tolist(), self.class_ids.tolist(), labels, strict=True
        ):
            yield Detection(tuple(box), score, cid, name)

    def __getitem__(self, key: int | slice | np.ndarray | Sequence[int] | Sequence[bool]) -> Detections:
        """Select detections: an int (-> length 1), a slice, a boolean mask or integer indices."""
        n = len(self)
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            i = int(key)
            if not -n <= i < n:
                raise IndexError(f"detection index {i} out of range for Detections({n})")
            i %= n
            sel: slice | np.ndarray = slice(i, i + 1)
        elif isinstance(key, slice):
            sel = key
        else:
            if isinstance(key, (bool, np.bool_)):
                raise TypeError("Detections index: a single bool is not a mask; use an array of n bools")
            arr = np.asarray(key)
            if arr.size == 0:
                sel = np.zeros(0, dtype=np.intp)
            elif arr.dtype == bool:
                if arr.shape != (n,):
                    raise IndexError(f"boolean mask: expected shape ({n},), got shape {arr.shape}")
                sel = arr
            elif arr.dtype.kind in "iu" and arr.ndim == 1:
                if arr.min() < -n or arr.max() >= n:
                    raise IndexError(f"detection indices out of range for Detections({n}): {arr.tolist()}")
                sel = arr
            else:
                raise TypeError(
                    f"Detections index: expected an int, slice, boolean mask or 1-D integer indices, "
                    f"got {type(key).__name__} {getattr(arr, 'dtype', '')}"
                )
        out = Detections._trusted(
            self.xyxy[sel].copy(),
            self.scores[sel].copy(),
            self.class_ids[sel].copy(),
            self.names,
            None if self.masks is None else self.masks[sel].copy(),
            None if self.keypoints is None else self.keypoints[sel].copy(),
            self.keypoint_names,
            self.skeleton,
        )
        if self.tracker_id is not None:
            object.__setattr__(out, "tracker_id", _readonly(self.tracker_id[sel].copy()))
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Detections):
            return NotImplemented
        return (
            self.names == other.names
            and np.array_equal(self.xyxy, other.xyxy)
            and np.array_equal(self.scores, other.scores)
            and np.array_equal(self.class_ids, other.class_ids)
            and _optional_equal(self.masks, other.masks)
            and _optional_equal(self.keypoints, other.keypoints)
            and self.keypoint_names == other.keypoint_names
            and self.skeleton == other.skeleton
            and (self.tracker_id is None) == (other.tracker_id is None)
            and (self.tracker_id is None or np.array_equal(self.tracker_id, other.tracker_id))
        )

    __hash__ = None  # type: ignore[assignment]  # holds arrays: not hashable

    # ------------------------------------------------------------------ derived values

    @property
    def labels(self) -> list[str]:
        """Class name of each detection (``"class_<id>"`` when the name is unknown)."""
        names = self.names
        return [_label(c, names) for c in self.class_ids.tolist()]

    @property
    def mask_areas(self) -> np.ndarray:
        """``(n,)`` int64 pixel count of each mask.

        Raises:
            InputError: These detections have no masks.
        """
        return self._need_masks("mask_areas").sum(axis=(1, 2), dtype=np.int64)

    def masks_rle(self) -> list[dict[str, Any]]:
        """The masks as COCO RLE dicts (pycocotools' compressed string form), one per detection.

        Raises:
            InputError: These detections have no masks.
        """
        return [rle.encode(m) for m in self._need_masks("masks_rle")]

    def _need_masks(self, what: str) -> np.ndarray:
        if self.masks is None:
            raise InputError(
                f"{what}: these detections have no masks (the model gives boxes only); use a segmentation model"
            )
        return self.masks

    @property
    def wh(self) -> np.ndarray:
        """``(n, 2)`` float32 widths and heights."""
        return self.xyxy[:, 2:] - self.xyxy[:, :2]

    @property
    def area(self) -> np.ndarray:
        """``(n,)`` float32 box areas."""
        wh = self.wh
        return wh[:, 0] * wh[:, 1]

    def summary(self) -> dict[str, int]:
        """Count per class name, most frequent first (ties: first seen first)."""
        return dict(Counter(self.labels).most_common())

    def __repr__(self) -> str:
        n = len(self)
        if n == 0:
            return "Detections(0)"
        k = min(n, _REPR_ITEMS)
        items = [f"{name} {s:.2f}" for name, s in zip(self.labels[:k], self.scores[:k].tolist(), strict=True)]
        if n > k:
            items.append("…")
        return f"Detections({n}): " + ", ".join(items)

    __str__ = __repr__

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable lists: ``xyxy``, ``scores``, ``class_ids``, ``names``.

        With masks, ``masks`` holds one COCO RLE dict per detection (compressed counts string); with
        keypoints, ``keypoints`` holds ``[[x, y, score], ...]`` per detection, plus ``keypoint_names`` and
        ``skeleton``. Float32 values become the Python floats they equal exactly, so `from_dict` restores
        an identical object. Tracked detections add ``tracker_id``.
        """
        d: dict[str, Any] = {
            "xyxy": self.xyxy.tolist(),
            "scores": self.scores.tolist(),
            "class_ids": self.class_ids.tolist(),
            "names": list(self.names),
        }
        if self.masks is not None:
            d["masks"] = self.masks_rle()
            d["mask_shape"] = list(self.masks.shape[1:])
        if self.keypoints is not None:
            d["keypoints"] = self.keypoints.tolist()
            d["num_keypoints"] = int(self.keypoints.shape[1])
            d["keypoint_names"] = list(self.keypoint_names)
            d["skeleton"] = [list(p) for p in self.skeleton]
        if self.tracker_id is not None:
            d["tracker_id"] = self.tracker_id.tolist()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Detections:
        """Inverse of `to_dict` (``names`` optional).

        Raises:
            InputError: If a required key is missing or a value is invalid.
        """
        if not isinstance(d, Mapping):
            raise InputError(f"expected a dict with xyxy, scores, class_ids, got {type(d).__name__}")
        missing = [k for k in ("xyxy", "scores", "class_ids") if k not in d]
        if missing:
            raise InputError(
                f"expected keys xyxy, scores, class_ids (names optional), got {sorted(d)}; missing {missing}"
            )
        n = len(d["scores"]) if isinstance(d["scores"], Sequence | np.ndarray) else -1
        return cls(
            d["xyxy"],
            d["scores"],
            d["class_ids"],
            tuple(d.get("names", ())),
            masks=_masks_from_rle(d.get("masks"), d.get("mask_shape"), n),
            keypoints=_keypoints_from_lists(d.get("keypoints"), d.get("num_keypoints"), n),
            keypoint_names=tuple(d.get("keypoint_names") or ()),
            skeleton=tuple(tuple(p) for p in d.get("skeleton") or ()),
            tracker_id=d.get("tracker_id"),
        )

    def to_json(self, **json_kw: Any) -> str:
        """`to_dict` as a JSON string; keyword arguments go to `json.dumps`."""
        return json.dumps(self.to_dict(), **json_kw)

    @classmethod
    def from_json(cls, s: str | bytes) -> Detections:
        """Inverse of `to_json`."""
        return cls.from_dict(json.loads(s))

    @classmethod
    def from_record(cls, row: Mapping[str, Any], names: Sequence[str] | None = None) -> Detections:
        """Read one result row of [`detect_dataset`][lite.tools.distributed.detect_dataset] (from Parquet, JSON or Ray).

        Args:
            row: A mapping with ``boxes`` (``[x1, y1, x2, y2]`` per detection), ``scores``,
                ``class_ids``, and optionally ``names`` (the class name of each detection) and ``error``.
            names: The model's class names. Default: rebuilt from the row's per-detection names
                (class ids that do not occur are named ``class_<id>``).

        Raises:
            InputError: The row is a failed image (its ``error`` is set), or a key is missing or invalid.
        """
        if not isinstance(row, Mapping):
            raise InputError(f"expected a result row (a mapping), got {type(row).__name__}")
        if row.get("error") is not None:
            raise InputError(f"this row is a failed image ({row.get('path')}): {row['error']}")
        missing = [k for k in ("boxes", "scores", "class_ids") if k not in row]
        if missing:
            raise InputError(f"expected a result row with boxes, scores, class_ids; missing {missing}")
        boxes = [np.asarray(b, dtype=np.float64).reshape(-1) for b in row["boxes"]]
        if any(b.size != 4 for b in boxes):
            raise InputError(f"boxes: expected [x1, y1, x2, y2] per detection, got sizes {[b.size for b in boxes]}")
        xyxy = np.stack(boxes) if boxes else np.zeros((0, 4))
        class_ids = np.asarray(row["class_ids"] if len(row["class_ids"]) else [], dtype=np.int64)
        if names is None:
            labels = list(row.get("names") or [])
            table = {int(c): str(n) for c, n in zip(class_ids.tolist(), labels, strict=False)}
            top = max(table, default=-1)
            names = [table.get(i, f"class_{i}") for i in range(top + 1)]
        n = xyxy.shape[0]
        return cls(
            xyxy,
            np.asarray(row["scores"], dtype=np.float64).reshape(-1),
            class_ids,
            tuple(names),
            masks=_masks_from_rle(row.get("masks"), row.get("mask_shape") or _image_hw(row), n),
            keypoints=_keypoints_from_lists(row.get("keypoints"), row.get("num_keypoints"), n),
        )

    def to_coco(
        self, image_id: int | str, category_ids: Sequence[int] | Mapping[int, int] | None = None
    ) -> list[dict[str, Any]]:
        """COCO "results" records, one per detection.

        Args:
            image_id: The image's id in the COCO annotation file.
            category_ids: Class id -> COCO category id, as a sequence indexed by class id
                (e.g. `lite.data.coco.COCO80_TO_91`) or a mapping. Default: the class id.

        Returns:
            ``[{"image_id", "category_id", "bbox": [x, y, w, h], "score"}, ...]`` with the
            bbox rounded to 3 decimals and the score to 5; with masks also ``"segmentation"`` (COCO RLE,
            compressed), with keypoints also ``"keypoints"`` ``[x1, y1, s1, x2, ...]`` (the model's score as
            COCO's third value; pycocotools' keypoint scoring ignores it).

        Raises:
            InputError: If ``image_id`` is not an int or str, or a class id has no category.
        """
        if isinstance(image_id, bool) or not isinstance(image_id, (int, np.integer, str)):
            raise InputError(f"image_id: expected an int (or str), got {type(image_id).__name__}")
        if isinstance(image_id, np.integer):
            image_id = int(image_id)
        cats = self.class_ids.tolist()
        if category_ids is not None:
            if isinstance(category_ids, Mapping):
                lookup = category_ids
            elif isinstance(category_ids, (Sequence, np.ndarray)) and not isinstance(category_ids, str):
                lookup = dict(enumerate(np.asarray(category_ids).tolist()))
            else:
                raise InputError(f"category_ids: expected a sequence or a mapping, got {type(category_ids).__name__}")
            unknown = sorted({c for c in cats if c not in lookup})
            if unknown:
                raise InputError(
                    f"category_ids: expected a category for every class id, got none for {unknown} "
                    f"({len(lookup)} entries given)"
                )
            cats = [int(lookup[c]) for c in cats]
        out = []
        rles = self.masks_rle() if self.masks is not None else None
        kpts = None if self.keypoints is None else np.round(self.keypoints.astype(np.float64), 3)
        for i, ((x1, y1, x2, y2), score, cat) in enumerate(
            zip(self.xyxy.tolist(), self.scores.tolist(), cats, strict=True)
        ):
            bbox = [round(x1, 3), round(y1, 3), round(x2 - x1, 3), round(y2 - y1, 3)]
            rec = {"image_id": image_id, "category_id": cat, "bbox": bbox, "score": round(score, 5)}
            if rles is not None:
                rec["segmentation"] = rles[i]
            if kpts is not None:
                rec["keypoints"] = kpts[i].reshape(-1).tolist()
            out.append(rec)
        return out

    # ------------------------------------------------------------------ drawing / interop

    def draw(
        self, img: np.ndarray, *, thickness: int = 2, font_scale: float = 0.5, show_scores: bool = True
    ) -> np.ndarray:
        """Draw the boxes and labels (and masks and keypoints, when present) on a copy of ``img``.

        Each class has a fixed colour (`PALETTE`); labels ("name 0.93") sit on a filled
        background above the box, or just inside it at the top edge of the image. Masks are
        blended in the class colour (40 %) under the boxes; keypoints with a score >= 0.5 are
        dots joined by the skeleton's lines.

        Args:
            img: BGR ``uint8`` image ``(H, W, 3)``; a grey ``(H, W)`` image is converted.
            thickness: Box line thickness in pixels (>= 1).
            font_scale: OpenCV font scale of the labels (> 0).
            show_scores: Append the score to each label.

        Returns:
            The annotated ``(H, W, 3)`` uint8 copy; ``img`` is not modified.

        Raises:
            ImageError: If ``img`` is not a uint8 BGR or grey image.
            InputError: On a bad ``thickness`` or ``font_scale``.
        """
        if not isinstance(img, np.ndarray):
            raise ImageError(f"img: expected a numpy uint8 (H, W, 3) BGR image, got {type(img).__name__}")
        if img.dtype != np.uint8:
            raise ImageError(f"img: expected dtype uint8, got {img.dtype}")
        if img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 1):
            out = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        elif img.ndim == 3 and img.shape[2] == 3:
            out = img.copy()
        else:
            raise ImageError(f"img: expected shape (H, W, 3) (BGR) or (H, W), got {img.shape}")
        if out.shape[0] == 0 or out.shape[1] == 0:
            raise ImageError(f"img: expected a non-empty image, got shape {img.shape}")
        if isinstance(thickness, bool) or not isinstance(thickness, (int, np.integer)) or thickness < 1:
            raise InputError(f"thickness: expected an int >= 1, got {thickness!r}")
        if not font_scale > 0:
            raise InputError(f"font_scale: expected a number > 0, got {font_scale!r}")

        h, w = out.shape[:2]
        if self.masks is not None:
            self._draw_masks(out)
        font = cv2.FONT_HERSHEY_SIMPLEX
        text_thick = max(1, int(thickness) // 2)
        boxes = np.clip(np.rint(self.xyxy), [0, 0, 0, 0], [w - 1, h - 1, w - 1, h - 1]).astype(int).tolist()
        tids = self.tracker_id.tolist() if self.tracker_id is not None else [None] * len(boxes)
        # lowest score first, so the best detections end up on top
        for (x1, y1, x2, y2), score, cid, name, tid in reversed(
            list(zip(boxes, self.scores.tolist(), self.class_ids.tolist(), self.labels, tids, strict=True))
        ):
            color = PALETTE[(cid if tid is None else tid) % len(PALETTE)]  # tracked: one colour per track
            cv2.rectangle(out, (x1, y1), (x2, y2), color, int(thickness))
            text = f"{name} {score:.2f}" if show_scores else name
            if tid is not None:
                text = f"#{tid} {text}"
            (tw, th), base = cv2.getTextSize(text, font, font_scale, text_thick)
            top = y1 - th - base - 2
            if top < 0:  # no room above the box: put the label inside it
                top = y1
            cv2.rectangle(out, (x1, top), (x1 + tw + 2, top + th + base + 2), color, cv2.FILLED)
            ink = (0, 0, 0) if 0.114 * color[0] + 0.587 * color[1] + 0.299 * color[2] > 140 else (255, 255, 255)
            cv2.putText(out, text, (x1 + 1, top + th + 1), font, font_scale, ink, text_thick, cv2.LINE_AA)
        if self.keypoints is not None:
            self._draw_keypoints(out, int(thickness))
        return out

    def _draw_masks(self, out: np.ndarray) -> None:
        """Blend each mask in its class colour into ``out`` (in place), lowest score first."""
        masks = self.masks
        assert masks is not None
        if masks.shape[1:] != out.shape[:2]:
            raise ImageError(
                f"img: expected the image the masks belong to, of size {masks.shape[1:]} (H, W), got {out.shape[:2]}"
            )
        for m, cid in reversed(list(zip(masks, self.class_ids.tolist(), strict=True))):
            ys, xs = np.nonzero(m)
            if ys.size == 0:
                continue
            color = np.asarray(PALETTE[cid % len(PALETTE)], np.float32)
            px = out[ys, xs].astype(np.float32)
            out[ys, xs] = np.rint(px * 0.6 + color * 0.4).astype(np.uint8)

    def _draw_keypoints(self, out: np.ndarray, thickness: int, min_score: float = 0.5) -> None:
        """Draw visible keypoints (score >= ``min_score``) and the skeleton's lines into ``out``."""
        kpts = self.keypoints
        assert kpts is not None
        radius = max(2, thickness + 1)
        for person, cid in zip(kpts.tolist(), self.class_ids.tolist(), strict=True):
            color = PALETTE[cid % len(PALETTE)]
            pts = [(round(x), round(y)) if s >= min_score else None for x, y, s in person]
            for a, b in self.skeleton:
                if pts[a] is not None and pts[b] is not None:
                    cv2.line(out, pts[a], pts[b], color, thickness, cv2.LINE_AA)
            for p in pts:
                if p is not None:
                    cv2.circle(out, p, radius, (255, 255, 255), cv2.FILLED, cv2.LINE_AA)
                    cv2.circle(out, p, radius, color, 1, cv2.LINE_AA)

    def to_supervision(self) -> Any:
        """Convert to ``supervision.Detections`` (class names in ``data["class_name"]``).

        Masks become its ``mask``; keypoints go to ``data["keypoints"]`` (``(n, K, 3)``) — see
        `to_supervision_keypoints` for supervision's own key-point type.

        Raises:
            BackendNotInstalledError: If the ``supervision`` package is not installed.
        """
        try:
            import supervision as sv
        except ImportError as e:
            raise BackendNotInstalledError(
                "Detections.to_supervision() needs the supervision package: pip install supervision"
            ) from e
        data: dict[str, np.ndarray] = {"class_name": np.array(self.labels, dtype=str)}
        if self.keypoints is not None:
            data["keypoints"] = self.keypoints.copy()
        return sv.Detections(
            xyxy=self.xyxy.copy(),
            mask=None if self.masks is None else self.masks.copy(),
            confidence=self.scores.copy(),
            class_id=self.class_ids.copy(),
            tracker_id=None if self.tracker_id is None else self.tracker_id.copy(),
            data=data,
        )

    def to_supervision_keypoints(self) -> Any:
        """Convert the keypoints to ``supervision.KeyPoints`` (``xy``, ``confidence``, ``class_id``).

        Raises:
            InputError: These detections have no keypoints.
            BackendNotInstalledError: If the ``supervision`` package is not installed.
        """
        if self.keypoints is None:
            raise InputError("to_supervision_keypoints: these detections have no keypoints; use a pose model")
        try:
            import supervision as sv
        except ImportError as e:
            raise BackendNotInstalledError(
                "Detections.to_supervision_keypoints() needs the supervision package: pip install supervision"
            ) from e
        import inspect

        # supervision >= 0.29 names the per-keypoint scores keypoint_confidence (confidence is deprecated)
        params = inspect.signature(sv.KeyPoints).parameters
        score_kw = "keypoint_confidence" if "keypoint_confidence" in params else "confidence"
        return sv.KeyPoints(
            xy=self.keypoints[:, :, :2].copy(),
            class_id=self.class_ids.copy(),
            data={"class_name": np.array(self.labels, dtype=str)},
            **{score_kw: self.keypoints[:, :, 2].copy()},
        )
