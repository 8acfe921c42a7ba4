"""YOLOX detectors (Megvii)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from lite.backends.base import Backend
from lite.cv.detector import Detector
from lite.cv.family import register_family
from lite.ops.preprocess import PreprocessConfig

#: YOLOX >= 0.1.1: BGR, 0-255, no normalisation, image at the top-left, padding 114 right and bottom; the demo's
#: ``preproc`` truncates the resized size (``int(w * r)``).
YOLOX_PREPROCESS = PreprocessConfig(color="bgr", scale=1.0, pad_value=114, pad_align="topleft", rounding="truncate")
#: YOLOX before 0.1.1: RGB, /255, ImageNet mean / std (in RGB order), same top-left padding.
YOLOX_LEGACY_PREPROCESS = PreprocessConfig(
    color="rgb", scale=1 / 255, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), pad_value=114,
    pad_align="topleft", rounding="truncate",
)  # fmt: skip


@register_family("yolox")
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

    decoders: ClassVar[tuple[str, ...]] = ("yolox",)
    default_input_size: ClassVar[tuple[int, int]] = (640, 640)
    default_strides: ClassVar[tuple[int, ...] | None] = (8, 16, 32)
    preprocess_config: ClassVar[PreprocessConfig] = YOLOX_PREPROCESS

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
