"""Computer-vision models: they speak images and `Detections`, never engines.

Families (each a `Detector` subclass that is mostly data): `YOLOv5`, `YOLOv6`, `YOLOv7`,
`YOLOv8` (alias `YOLO11`), `YOLOX`, `NanoDet`, `RTDETR`. `Detector.from_file`
picks the family from the file; `get_family` / `family_names` look them up by name.
"""

from lite.cv.detector import Detector
from lite.cv.family import family_names, get_family, register_family
from lite.cv.image_model import ImageModel
from lite.cv.nanodet import NanoDet
from lite.cv.rtdetr import RTDETR
from lite.cv.yolov5 import YOLOv5
from lite.cv.yolov6 import YOLOv6
from lite.cv.yolov7 import YOLOv7
from lite.cv.yolov8 import YOLO11, YOLOv8
from lite.cv.yolox import YOLOX

__all__ = [
    "Detector",
    "ImageModel",
    "NanoDet",
    "RTDETR",
    "YOLO11",
    "YOLOX",
    "YOLOv5",
    "YOLOv6",
    "YOLOv7",
    "YOLOv8",
    "family_names",
    "get_family",
    "register_family",
]
