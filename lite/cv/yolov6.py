"""YOLOv6 (and YOLOv6Lite) detectors on any backend."""

from __future__ import annotations

from lite.cv.detector import Detector
from lite.cv.family import register_family
from lite.cv.records import RECORDS


@register_family(record=RECORDS["yolov6"])
class YOLOv6(Detector):
    """YOLOv6 / YOLOv6Lite on any backend, with no argument saying which export layout it is.

    Reads pre-decoded ``(B, N, 5+nc)`` exports, YOLOv6 0.1's raw anchor-grid output, raw
    per-level heads (the decode-free NCNN/MNN style, 3 or 4 levels), and end-to-end NMS
    outputs (TensorRT EfficientNMS, ONNX Runtime NMS). Defaults follow YOLOv6's own
    inference: 640×640 input for dynamic-shape models, letterbox with fill 114, COCO-80 names.

    Example:
        ```python
        import cv2

        from lite.cv import YOLOv6

        det = YOLOv6("yolov6lite_s_320_decoded.onnx")   # backend from the suffix
        dets = det.detect(cv2.imread("bus.jpg"))
        print(dets)
        # Detections(9): person 0.87, bus 0.86, person 0.86, person 0.67, ...
        ```

    See [`lite.cv.detector.Detector`][lite.cv.detector.Detector] for the arguments.
    """
