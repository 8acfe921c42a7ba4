"""A quantized model whose first inference scores nothing warns (`DegenerateOutputWarning`), on real files.

``../shared``'s ``yolox_nano_416_ov_int8_mixed.xml`` is a YOLOX-Nano OpenVINO int8 whose head the quantization
broke (best score 0.004 on bus.jpg where the fp32 model finds a bus at 0.90); the YOLOv8n dynamic int8 file works.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from lite.core.errors import DegenerateOutputWarning, LiteWarning


def _first_detect(model: Path, image: np.ndarray, **kw) -> tuple[int, list[warnings.WarningMessage]]:
    from lite.cv import Detector

    det = Detector.from_file(model, threads=1, **kw)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            found = len(det.detect(image))
            det.detect(image)  # judged once: the second call says nothing more
    finally:
        det.close()
    return found, [w for w in caught if issubclass(w.category, DegenerateOutputWarning)]


def test_broken_openvino_int8_warns_on_its_first_inference(shared: Path) -> None:
    pytest.importorskip("openvino")
    import cv2

    model = shared / "models" / "foreign" / "yolox" / "yolox_nano_416_ov_int8_mixed.xml"
    if not model.is_file():
        pytest.skip(f"{model} is absent")
    found, caught = _first_detect(model, cv2.imread(str(shared / "images" / "bus.jpg")), family="yolox")
    assert found == 0
    assert len(caught) == 1
    w = caught[0].message
    assert isinstance(w, LiteWarning) and w.best < 0.05
    assert "yolox_nano_416_ov_int8_mixed.xml is quantized" in str(w) and "best score" in str(w)


def test_working_int8_and_float_models_on_blank_images_do_not_warn(shared: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import cv2

    int8 = shared / "models" / "foreign" / "yolov8" / "yolov8n_int8.onnx"
    found, caught = _first_detect(int8, cv2.imread(str(shared / "images" / "bus.jpg")))
    assert found >= 4 and not caught
    blank = np.full((480, 640, 3), 114, np.uint8)
    fp32 = shared / "models" / "yolov6lite" / "onnx" / "yolov6lite_s_320_decoded.onnx"
    found, caught = _first_detect(fp32, blank)  # a float model is not judged: a blank image scores nothing
    assert found == 0 and not caught
    found, caught = _first_detect(int8, blank)  # an int8 model on a blank first image: the warning, worded "if"
    assert found == 0 and len(caught) == 1 and "If this image shows objects" in str(caught[0].message)
