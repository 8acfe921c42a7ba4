"""NanoDet-Plus and NanoDet(-m) detectors (GFL heads with distribution focal loss)."""

from __future__ import annotations

from lite.cv.detector import Detector
from lite.cv.family import register_family
from lite.cv.records import NANODET_PREPROCESS, RECORDS

__all__ = ["NanoDet", "NANODET_PREPROCESS"]


@register_family(record=RECORDS["nanodet"])
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

    # Every default (decoders, preprocessing, 416 input, strides 8-64, inputs in multiples of 32: NanoDet-Plus's
    # stride-64 level is ceil-sized) is in its record, lite.cv.records.RECORDS["nanodet"].
