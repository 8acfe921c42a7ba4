"""Computer-vision models: they speak images, `Detections` and `Classifications`, never engines.

Families (each a class that is mostly data, from `lite.cv.records`): detectors `YOLOv5`, `YOLOv6`, `YOLOv7`,
`YOLOv8` (alias `YOLO11`; its segmentation and pose exports too), `YOLOX`, `NanoDet`, `RTDETR`, `MaskRCNN`; classifiers
`YOLOv8Classifier`, `ImageNetClassifier` (both `Classifier`). `ImageModel.from_file` opens any model as what it
is; `Detector.from_file` opens boxes, masks and keypoints models; `get_family` / `family_names` look families up.
"""

from lite.cv.classifier import Classifier, ImageNetClassifier, YOLOv8Classifier
from lite.cv.detector import Detector
from lite.cv.family import family_names, get_family, register_family
from lite.cv.image_model import ImageModel
from lite.cv.maskrcnn import MaskRCNN
from lite.cv.nanodet import NanoDet
from lite.cv.rtdetr import RTDETR
from lite.cv.yolov5 import YOLOv5
from lite.cv.yolov6 import YOLOv6
from lite.cv.yolov7 import YOLOv7
from lite.cv.yolov8 import YOLO11, YOLOv8
from lite.cv.yolox import YOLOX

__all__ = [
    "Classifier",
    "Detector",
    "ImageNetClassifier",
    "ImageModel",
    "MaskRCNN",
    "NanoDet",
    "RTDETR",
    "YOLO11",
    "YOLOX",
    "YOLOv5",
    "YOLOv6",
    "YOLOv7",
    "YOLOv8",
    "YOLOv8Classifier",
    "family_names",
    "get_family",
    "register_family",
]
