"""The image-classification result type: the top-k classes of one image.

`Classifications` holds ``k`` class ids with their scores (probabilities, best first) and the model's
class names. Like `lite.data.detections.Detections` it is an immutable, validated value: arrays are
converted (``class_ids`` int64, ``scores`` float32) and stored read-only on construction.

Example:
    ```python
    import numpy as np

    from lite.data.classifications import Classifications
    from lite.ops.classify import to_probabilities, top_k

    logits = np.array([[0.1, 2.0, -1.0, 1.5]], np.float32)
    ids, scores = top_k(to_probabilities(logits)[0], k=2)
    c = Classifications(ids, scores, names=["cat", "dog", "bird", "fox"])
    print(c)  # Classifications(2): dog 0.55, fox 0.34
    print(c.top1.name, c.to_json())
    ```
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import cv2
import numpy as np

from lite.core.errors import ImageError, InputError
from lite.data.detections import _coerce_names, _label, _readonly

__all__ = ["Classification", "Classifications"]


class Classification(NamedTuple):
    """One class of a `Classifications` result."""

    class_id: int
    score: float
    name: str


@dataclass(frozen=True, eq=False, repr=False)
class Classifications:
    """The top-k classes of one image, best first.

    Attributes:
        class_ids: ``(k,)`` int64 class ids (``>= 0``, distinct).
        scores: ``(k,)`` float32 scores (probabilities for a softmax head), non-increasing.
        names: Class names indexed by class id; empty when unknown (then ``class_<id>``).

    Raises:
        InputError: On wrong shapes, mismatched lengths, non-finite scores, negative, repeated or
            non-integral class ids, or scores not sorted best first.
    """

    class_ids: np.ndarray
    scores: np.ndarray
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        cls = np.asarray(self.class_ids)
        if cls.size == 0:
            cls = cls.reshape(0)
        if cls.ndim != 1:
            raise InputError(f"class_ids: expected a (k,) array, got shape {cls.shape}")
        if cls.dtype.kind == "f" and cls.size and not (np.isfinite(cls).all() and (cls == np.floor(cls)).all()):
            raise InputError(f"class_ids: expected integer ids, got non-integral values ({cls.dtype})")
        if cls.dtype.kind not in "fiu" and cls.size:
            raise InputError(f"class_ids: expected integer ids, got dtype {cls.dtype}")
        cls = np.array(cls, dtype=np.int64)
        if cls.size and cls.min() < 0:
            raise InputError(f"class_ids: expected ids >= 0, got {int(cls.min())}")
        if np.unique(cls).size != cls.size:
            raise InputError(f"class_ids: expected distinct ids (a top-k list), got {cls.tolist()}")
        scores = np.asarray(self.scores)
        if scores.size == 0:
            scores = scores.reshape(0)
        if scores.dtype.kind not in "fiu" and scores.size:
            raise InputError(f"scores: expected numbers, got dtype {scores.dtype}")
        if scores.shape != cls.shape:
            raise InputError(f"scores: expected shape {cls.shape} to match class_ids, got shape {scores.shape}")
        scores = np.array(scores, dtype=np.float32)
        if not np.isfinite(scores).all():
            raise InputError(f"scores: expected finite values, got {scores.tolist()}")
        if scores.size > 1 and (np.diff(scores) > 0).any():
            raise InputError(f"scores: expected best first (non-increasing), got {scores.tolist()}")
        object.__setattr__(self, "class_ids", _readonly(cls))
        object.__setattr__(self, "scores", _readonly(scores))
        object.__setattr__(self, "names", _coerce_names(self.names))

    @classmethod
    def _trusted(cls, class_ids: np.ndarray, scores: np.ndarray, names: tuple[str, ...]) -> Classifications:
        """Build from arrays known to be valid (`lite.ops.classify.top_k` of finite probabilities: int64 distinct
        ids, float32 scores best first; names already a tuple of str); no checks."""
        self = object.__new__(cls)
        object.__setattr__(self, "class_ids", _readonly(class_ids))
        object.__setattr__(self, "scores", _readonly(scores))
        object.__setattr__(self, "names", names)
        return self

    # ------------------------------------------------------------------ container protocol

    def __len__(self) -> int:
        return int(self.class_ids.shape[0])

    def __iter__(self) -> Iterator[Classification]:
        for cid, score, name in zip(self.class_ids.tolist(), self.scores.tolist(), self.labels, strict=True):
            yield Classification(cid, score, name)

    def __getitem__(self, i: int) -> Classification:
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"Classifications index: expected an int, got {type(i).__name__}")
        if not -n <= int(i) < n:
            raise IndexError(f"index {int(i)} out of range for Classifications({n})")
        j = int(i) % n
        return Classification(int(self.class_ids[j]), float(self.scores[j]), self.labels[j])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Classifications):
            return NotImplemented
        return (
            self.names == other.names
            and np.array_equal(self.class_ids, other.class_ids)
            and np.array_equal(self.scores, other.scores)
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def labels(self) -> list[str]:
        """Class name of each entry (``"class_<id>"`` when the name is unknown)."""
        return [_label(c, self.names) for c in self.class_ids.tolist()]

    @property
    def top1(self) -> Classification:
        """The best class.

        Raises:
            InputError: The result is empty.
        """
        if not len(self):
            raise InputError("top1: this classification result is empty")
        return self[0]

    def __repr__(self) -> str:
        if not len(self):
            return "Classifications(0)"
        items = ", ".join(f"{n} {s:.2f}" for n, s in zip(self.labels, self.scores.tolist(), strict=True))
        return f"Classifications({len(self)}): {items}"

    __str__ = __repr__

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable ``class_ids``, ``scores``, ``labels`` (per entry) and ``names`` (the model's)."""
        return {
            "class_ids": self.class_ids.tolist(),
            "scores": self.scores.tolist(),
            "labels": self.labels,
            "names": list(self.names),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Classifications:
        """Inverse of `to_dict` (``labels`` is derived and ignored; ``names`` optional).

        Raises:
            InputError: A required key is missing or a value is invalid.
        """
        if not isinstance(d, Mapping) or "class_ids" not in d or "scores" not in d:
            got = sorted(d) if isinstance(d, Mapping) else type(d).__name__
            raise InputError(f"expected a dict with class_ids and scores (names optional), got {got}")
        return cls(d["class_ids"], d["scores"], tuple(d.get("names", ())))

    def to_json(self, **json_kw: Any) -> str:
        """`to_dict` as a JSON string; keyword arguments go to `json.dumps`."""
        return json.dumps(self.to_dict(), **json_kw)

    @classmethod
    def from_json(cls, s: str | bytes) -> Classifications:
        """Inverse of `to_json`."""
        return cls.from_dict(json.loads(s))

    # ------------------------------------------------------------------ drawing

    def draw(self, img: np.ndarray, *, font_scale: float = 0.6, max_lines: int = 5) -> np.ndarray:
        """Write the top classes ("name 0.93", best first) at the top-left of a copy of ``img``.

        Args:
            img: BGR ``uint8`` image ``(H, W, 3)`` or grey ``(H, W)``.
            font_scale: OpenCV font scale (> 0).
            max_lines: At most this many classes are written (>= 1).

        Returns:
            The annotated ``(H, W, 3)`` uint8 copy.

        Raises:
            ImageError: ``img`` is not a uint8 BGR or grey image.
            InputError: On a bad ``font_scale`` or ``max_lines``.
        """
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.size == 0:
            got = f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
            raise ImageError(f"img: expected a non-empty uint8 (H, W, 3) BGR image, got {got}")
        if img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 1):
            out = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        elif img.ndim == 3 and img.shape[2] == 3:
            out = img.copy()
        else:
            raise ImageError(f"img: expected shape (H, W, 3) (BGR) or (H, W), got {img.shape}")
        if not font_scale > 0:
            raise InputError(f"font_scale: expected a number > 0, got {font_scale!r}")
        if isinstance(max_lines, bool) or not isinstance(max_lines, (int, np.integer)) or max_lines < 1:
            raise InputError(f"max_lines: expected an int >= 1, got {max_lines!r}")
        font, thick = cv2.FONT_HERSHEY_SIMPLEX, 1
        y = 2
        for entry in list(self)[: int(max_lines)]:
            text = f"{entry.name} {entry.score:.2f}"
            (tw, th), base = cv2.getTextSize(text, font, font_scale, thick)
            cv2.rectangle(out, (2, y), (6 + tw, y + th + base + 4), (0, 0, 0), cv2.FILLED)
            cv2.putText(out, text, (4, y + th + 2), font, font_scale, (255, 255, 255), thick, cv2.LINE_AA)
            y += th + base + 6
        return out
