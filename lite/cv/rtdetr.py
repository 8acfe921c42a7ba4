"""RT-DETR (and D-FINE, DEIM: the same raw heads) detectors, added by following docs/architecture.md's checklist.

An export without the post-processor has two outputs: ``(B, Q, 4)`` boxes (normalised ``cx, cy, w, h``) and
``(B, Q, nc)`` class logits; decoding is the registered ``detr`` decoder (`lite.ops.decoders.detr`): top scores
over every (query, class) pair, no NMS. Preprocessing (RT-DETR's ``Resize`` + ``ToTensor``): the image resized
to the input size without keeping its aspect ratio, RGB, /255.
"""

from __future__ import annotations

from lite.cv.detector import Detector
from lite.cv.family import register_family
from lite.cv.records import FamilyRecord
from lite.ops.preprocess import PreprocessConfig

__all__ = ["RTDETR", "RTDETR_RECORD"]

RTDETR_RECORD = FamilyRecord(
    "rtdetr",
    decoders=(("detr", 1),),
    preprocess=PreprocessConfig(color="rgb", scale=1 / 255, resize="stretch"),
    input_size=(640, 640),
    aliases=("rt-detr", "dfine", "d-fine"),
)


@register_family(record=RTDETR_RECORD)
class RTDETR(Detector):
    """RT-DETR / D-FINE: ``(B, Q, 4)`` normalised boxes + ``(B, Q, nc)`` logits, 640×640, stretched resize.

    Example:
        ```python
        # not run: no RT-DETR export in the shared models (tests/test_rtdetr.py uses hand-built ones)
        from lite.cv import RTDETR

        print(RTDETR("rtdetr_r18vd.onnx").detect("bus.jpg"))
        ```
    """
