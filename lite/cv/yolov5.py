"""YOLOv5 (ultralytics/yolov5) and YOLOv5-Lite detectors."""

from __future__ import annotations

from lite.cv.detector import Detector
from lite.cv.family import register_family
from lite.cv.records import RECORDS


@register_family(record=RECORDS["yolov5"])
class YOLOv5(Detector):
    """YOLOv5 and YOLOv5-Lite: the decoded ``(B, 3·cells, 5+nc)`` output or the raw anchor heads.

    The ONNX export's decoded output is used when present (the raw per-level outputs the export
    leaves beside it are ignored); raw anchor heads ``(B, 3, H, W, 5+nc)`` or NCNN's ``(3, H·W, 5+nc)``
    are decoded with the standard anchors unless ``anchors=`` says otherwise (YOLOv5-Lite 1.0 models
    use other anchors). Preprocessing: RGB, /255, letterbox padded with 114, centred (YOLOv5's
    ``letterbox``); YOLOv5-Lite's own demo pads right and bottom: pass
    ``preprocess=dataclasses.replace(YOLOv5.preprocess_config, pad_align="topleft")`` to match it exactly.

    Example:
        ```python
        from dataclasses import replace

        from lite.cv import YOLOv5

        print(YOLOv5("yolov5n_int8_640.onnx").detect("bus.jpg"))  # ultralytics/yolov5 ONNX export
        # Detections(5): person 0.80, bus 0.77, person 0.77, person 0.71, ...
        lite_s = YOLOv5("v5lite-s.param", input_size=416)  # YOLOv5-Lite-s, NCNN (dynamic input)
        print(lite_s.detect("bus.jpg"))
        # Detections(7): person 0.89, bus 0.86, person 0.81, person 0.80, ...
        demo = replace(YOLOv5.preprocess_config, pad_align="topleft")  # as YOLOv5-Lite's own demo pads
        print(YOLOv5("v5lite-s.param", input_size=416, preprocess=demo).detect("bus.jpg"))
        # Detections(4): person 0.90, person 0.82, bus 0.78, person 0.71
        ```
    """
