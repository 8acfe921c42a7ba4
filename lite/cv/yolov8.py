"""Ultralytics YOLOv8 / YOLO11 detectors (one class: the export layout is the same)."""

from __future__ import annotations

from lite.cv.detector import Detector
from lite.cv.family import register_family
from lite.cv.records import RECORDS


@register_family(record=RECORDS["yolov8"])
class YOLOv8(Detector):
    """Ultralytics YOLOv8 / YOLO11 (and YOLOv5u, YOLOv9/10 exported by ultralytics' Detect head).

    Reads the ``(B, 4+nc, N)`` output (boxes in input pixels, sigmoided class scores, no objectness,
    anchors on the last axis) and the end-to-end ``(B, K, 6)`` export. Class names, ``imgsz`` and the
    largest stride come from the ONNX metadata ultralytics writes (``names`` is a Python dict literal,
    parsed with ``ast.literal_eval``). Preprocessing: RGB, /255, centred letterbox padded with 114.

    Example:
        ```python
        from lite.cv import YOLOv8

        det = YOLOv8("yolov8n_int8.onnx")  # names and input size from ultralytics' metadata
        print(det.detect("bus.jpg"))
        # Detections(5): person 0.90, person 0.90, person 0.89, bus 0.83, ...
        ```
    """


#: YOLO11 exports have the same layout and metadata: the same class.
YOLO11 = YOLOv8
