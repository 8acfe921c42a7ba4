"""YOLOv7 (WongKinYiu/yolov7) detectors: its record and class, added by following docs/architecture.md's checklist.

YOLOv7's exports have YOLOv5's layouts: the decoded ``(B, 3·cells, 5+nc)`` output (``export.py --grid``) and the
raw anchor heads ``(B, 3, H, W, 5+nc)``, decoded as YOLOv5 does (``xy = (2σ − 0.5 + grid)·s``,
``wh = (2σ)²·anchor``) with YOLOv7's own anchors. It borrows YOLOv5's decoders (priority 0: YOLOv5 owns them), so a
file without metadata resolves to ``yolov5`` — the same boxes for the decoded output; open anchor heads with
``YOLOv7(path)`` or ``family="yolov7"`` to use YOLOv7's anchors.
"""

from __future__ import annotations

from lite.cv.detector import Detector
from lite.cv.family import register_family
from lite.cv.records import ROUND_RGB, FamilyRecord, Knob

__all__ = ["YOLOv7", "YOLOV7_ANCHORS", "YOLOV7_RECORD"]

#: YOLOv7's anchors (cfg/deploy/yolov7.yaml), pixels, ``(w, h)`` per anchor, P3-P5.
YOLOV7_ANCHORS = (
    ((12.0, 16.0), (19.0, 36.0), (40.0, 28.0)),
    ((36.0, 75.0), (76.0, 55.0), (72.0, 146.0)),
    ((142.0, 110.0), (192.0, 243.0), (459.0, 401.0)),
)

YOLOV7_RECORD = FamilyRecord(
    "yolov7",
    decoders=(("yolov5", 0), ("yolov5_anchors", 0)),
    preprocess=ROUND_RGB,  # RGB, /255, centred letterbox padded with 114, rounded (utils/datasets.py letterbox)
    strides=(8, 16, 32),
    anchors=YOLOV7_ANCHORS,
    knobs=(Knob("anchors", "[[w, h, ...] per level]", "anchor sizes in pixels (default: YOLOv7's anchors)"),),
)


@register_family(record=YOLOV7_RECORD)
class YOLOv7(Detector):
    """YOLOv7: the decoded ``(B, N, 5+nc)`` output or the raw anchor heads with YOLOv7's anchors.

    Example:
        ```python
        # not run: no YOLOv7 export in the shared models (tests/test_yolov7.py uses hand-built ones)
        from lite.cv import YOLOv7

        det = YOLOv7("yolov7-tiny.onnx")  # an export of WongKinYiu/yolov7 (export.py)
        print(det.detect("bus.jpg"))
        ```
    """
