"""YOLOX detectors (Megvii)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lite.backends.base import Backend
from lite.cv.detector import Detector
from lite.cv.family import register_family
from lite.cv.records import RECORDS, YOLOX_LEGACY_PREPROCESS, YOLOX_PREPROCESS
from lite.ops.preprocess import PreprocessConfig


@register_family(record=RECORDS["yolox"])
class YOLOX(Detector):
    """YOLOX: the raw grid output ``(B, cells, 5+nc)`` of the official export (``decode_in_inference=False``).

    Decode: strides 8, 16, 32, ``xy = (p + grid)·s``, ``wh = exp(p)·s``, score = obj · cls.
    Preprocessing: BGR, values 0–255, no normalisation, resize keeping the ratio with the padding
    (114) at the right and bottom. ``legacy_normalization=True`` selects the pre-0.1.1 models'
    RGB /255 with ImageNet mean / std.

    Args:
        model: Model file, hub name or opened backend.
        legacy_normalization: Use the pre-0.1.1 preprocessing (RGB, /255, ImageNet mean / std).
        **kwargs: As [`Detector`][lite.cv.detector.Detector].

    Example:
        ```python
        from lite.cv import YOLOX

        dets = YOLOX("yolox_nano_416.onnx").detect("bus.jpg")
        print(dets)
        # Detections(4): bus 0.90, person 0.86, person 0.81, person 0.70
        ```
    """

    def __init__(
        self,
        model: str | Path | Backend,
        backend: str | None = None,
        *,
        legacy_normalization: bool = False,
        preprocess: PreprocessConfig | None = None,
        **kwargs: Any,
    ) -> None:
        if legacy_normalization and preprocess is None:
            preprocess = YOLOX_LEGACY_PREPROCESS
        super().__init__(model, backend, preprocess=preprocess, **kwargs)


__all__: Sequence[str] = ["YOLOX", "YOLOX_PREPROCESS", "YOLOX_LEGACY_PREPROCESS"]
