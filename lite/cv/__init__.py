"""Computer-vision models: they speak images and :class:`~lite.Detections`, never engines."""

from lite.cv.detector import Detector
from lite.cv.yolov6 import YOLOv6

__all__ = ["Detector", "YOLOv6"]
