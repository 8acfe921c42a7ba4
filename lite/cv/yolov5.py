"""YOLOv5 (ultralytics/yolov5) and YOLOv5-Lite detectors."""

from __future__ import annotations

from typing import ClassVar

from lite.cv.detector import Detector
from lite.cv.family import register_family
from lite.ops.decoders.yolo import YOLOV5_ANCHORS
from lite.ops.preprocess import PreprocessConfig


@register_family("yolov5")
class YOLOv5(Detector):
    """YOLOv5 and YOLOv5-Lite: the decoded ``(B, 3·cells, 5+nc)`` output or the raw anchor heads.

    The ONNX export's decoded output is used when present (the raw per-level outputs the export
    leaves beside it are ignored); raw anchor heads ``(B, 3, H, W, 5+nc)`` or NCNN's ``(3, H·W, 5+nc)``
    are decoded with the standard anchors unless ``anchors=`` says otherwise (YOLOv5-Lite 1.0 models
    use other anchors). Preprocessing: RGB, /255, letterbox padded with 114, centred (YOLOv5's
    ``letterbox``); YOLOv5-Lite's own demo pads right and bottom: pass
    ``preprocess=YOLOv5.preprocess_config.__class__(pad_align="topleft")`` to match it exactly.

    Example:
        ```python
        from lite.cv import YOLOv5
        dets = YOLOv5("v5lite-s.param", input_size=416).detect("bus.jpg")
        ```
    """

    decoders: ClassVar[tuple[str, ...]] = ("yolov5", "yolov5_anchors")
    default_input_size: ClassVar[tuple[int, int]] = (640, 640)
    default_strides: ClassVar[tuple[int, ...] | None] = (8, 16, 32)
    default_anchors = YOLOV5_ANCHORS
    preprocess_config: ClassVar[PreprocessConfig] = PreprocessConfig(color="rgb", scale=1 / 255, pad_value=114)
