"""NanoDet-Plus and NanoDet(-m) detectors (GFL heads with distribution focal loss)."""

from __future__ import annotations

from typing import ClassVar

from lite.cv.detector import Detector
from lite.cv.family import register_family
from lite.ops.preprocess import PreprocessConfig

#: NanoDet's demo preprocessing: BGR, mean / std in BGR order on 0-255 values, centred padding with 0,
#: square input (NanoDet-Plus); NanoDet-m's per-level layout pads only to the next multiple of 32 (320x256). Both
#: demos truncate the resized size (``resize_uniform``'s ``floor``, NanoDet-m's ``int`` scale).
NANODET_PREPROCESS = PreprocessConfig(
    color="bgr", scale=1.0, mean=(103.53, 116.28, 123.675), std=(57.375, 57.12, 58.395), pad_value=0,
    pad_align="center", rounding="truncate",
)  # fmt: skip


@register_family("nanodet", aliases=("nanodet_plus", "nanodet-plus"))
class NanoDet(Detector):
    """NanoDet-Plus (one ``(B, N, nc + 4·(reg_max+1))`` output, priors without offset, 416 by default) and
    NanoDet-m (``cls_pred_stride_*`` / ``dis_pred_stride_*`` per level, centres +0.5, 320 by default).

    Distances are the expectation of a softmax over ``reg_max + 1`` bins, times the stride.

    Example:
        ```python
        from lite.cv import NanoDet

        dets = NanoDet("nanodet-plus-m_416.param").detect("bus.jpg")  # NanoDet-Plus-m, NCNN
        print(dets)
        # Detections(9): person 0.77, bus 0.76, person 0.73, person 0.64, ...
        print(NanoDet("nanodet-m.param").detect("bus.jpg"))  # NanoDet-m: one output pair per level
        # Detections(8): bus 0.80, person 0.77, person 0.62, person 0.49, ...
        ```
    """

    decoders: ClassVar[tuple[str, ...]] = ("nanodet_plus", "nanodet")
    default_input_size: ClassVar[tuple[int, int]] = (416, 416)
    default_strides: ClassVar[tuple[int, ...] | None] = (8, 16, 32, 64)
    preprocess_config: ClassVar[PreprocessConfig] = NANODET_PREPROCESS
    #: NanoDet-Plus runs at 416 with a stride-64 level (ceil): inputs need only be multiples of 32.
    input_multiple: ClassVar[int | None] = 32
