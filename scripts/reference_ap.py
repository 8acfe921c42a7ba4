"""COCO AP of the foreign models with each family's *own* demo-style pipeline, independent of lite.

Preprocessing and decoding are written here from each source's demo code as described in
``../shared/models/foreign/README.md`` (OpenCV resize, numpy decode, OpenCV NMS), using no lite
code except the pycocotools evaluation; the engines are called directly (ONNX Runtime, NCNN).
The candidates, thresholds and NMS match ``lite eval``'s defaults (conf 0.03, class-aware NMS at
IoU 0.65, 300 detections, every class above conf per anchor), so the AP printed here is the one
``lite eval`` must come close to::

    python scripts/reference_ap.py ../shared [yolov8 yolov5 yolox nanodet]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

CONF, IOU, MAX_DET = 0.03, 0.65, 300
# fmt: off
COCO80_TO_91 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32,
                33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
                60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90]
# fmt: on


def letterbox_centre(
    img: np.ndarray, size: int, pad: int, truncate: bool = False
) -> tuple[np.ndarray, float, float, float]:
    """Ultralytics-style: scale to fit, pad both sides equally. Returns (canvas, r, left, top).

    ``truncate``: the resized size is ``int(w * r)`` (NanoDet's demo ``resize_uniform`` floors it), not rounded.
    """
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    nw, nh = (int(w * r), int(h * r)) if truncate else (int(round(w * r)), int(round(h * r)))
    dw, dh = (size - nw) / 2, (size - nh) / 2
    resized = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    canvas = cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(pad, pad, pad))
    return canvas, r, left, top


def letterbox_topleft(img: np.ndarray, size: int, pad: int) -> tuple[np.ndarray, float, float, float]:
    """YOLOX-style: scale to fit, pad right and bottom."""
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    canvas = np.full((size, size, 3), pad, np.uint8)
    resized = cv2.resize(img, (int(w * r), int(h * r)), interpolation=cv2.INTER_LINEAR)
    canvas[: resized.shape[0], : resized.shape[1]] = resized
    return canvas, r, 0.0, 0.0


def select(boxes_xyxy: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (anchor, class) above CONF, class-aware NMS, the MAX_DET best."""
    idx, cls = np.nonzero(scores > CONF)
    if len(idx) == 0:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, int)
    b, s = boxes_xyxy[idx], scores[idx, cls]
    xywh = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
    keep = cv2.dnn.NMSBoxesBatched(xywh.tolist(), s.tolist(), cls.tolist(), CONF, IOU)
    keep = np.asarray(keep, int).ravel()
    keep = keep[np.argsort(-s[keep], kind="stable")][:MAX_DET]
    return b[keep], s[keep], cls[keep]


def cxcywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    return np.concatenate([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], axis=1)


def grid_centres(size_hw: tuple[int, int], strides: tuple[int, ...], offset: float) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) cell positions (x, y) in grid units (+offset) and the (N,) stride of each, row-major per level."""
    pts, ss = [], []
    for s in strides:
        gh, gw = -(-size_hw[0] // s), -(-size_hw[1] // s)
        y, x = np.mgrid[0:gh, 0:gw]
        pts.append(np.stack([x.ravel(), y.ravel()], 1) + offset)
        ss.append(np.full(gh * gw, s))
    return np.concatenate(pts).astype(np.float32), np.concatenate(ss).astype(np.float32)


class Yolov8:
    size = 640

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        self.sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"], sess_options=_one_thread(ort))

    def __call__(self, img: np.ndarray):
        canvas, r, left, top = letterbox_centre(img, self.size, 114)
        x = canvas[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255
        out = self.sess.run(None, {"images": x})[0][0].T  # (8400, 84)
        b, s, c = select(cxcywh_to_xyxy(out[:, :4]), out[:, 4:])
        return _unletterbox(b, r, left, top), s, c


class Yolov5(Yolov8):
    def __call__(self, img: np.ndarray):
        canvas, r, left, top = letterbox_centre(img, self.size, 114)
        x = canvas[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255
        out = self.sess.run(["output"], {"images": x})[0][0]  # (25200, 85), decoded
        b, s, c = select(cxcywh_to_xyxy(out[:, :4]), out[:, 5:] * out[:, 4:5])
        return _unletterbox(b, r, left, top), s, c


class Yolox(Yolov8):
    size = 416

    def __call__(self, img: np.ndarray):
        canvas, r, _, _ = letterbox_topleft(img, self.size, 114)
        x = canvas.transpose(2, 0, 1)[None].astype(np.float32)  # BGR, 0-255
        out = self.sess.run(None, {"images": x})[0][0]  # (3549, 85), raw grid
        grid, stride = grid_centres((self.size, self.size), (8, 16, 32), 0.0)
        xy = (out[:, :2] + grid) * stride[:, None]
        wh = np.exp(out[:, 2:4]) * stride[:, None]
        b, s, c = select(cxcywh_to_xyxy(np.concatenate([xy, wh], 1)), out[:, 5:] * out[:, 4:5])
        return b / r, s, c


class NanodetPlus:
    size = 416
    mean = np.array([103.53, 116.28, 123.675], np.float32)
    std = np.array([57.375, 57.12, 58.395], np.float32)

    def __init__(self, path: Path) -> None:
        import ncnn

        self.ncnn = ncnn
        self.net = ncnn.Net()
        opt = self.net.opt
        opt.num_threads = 1
        # FP32 throughout, as lite runs NCNN (NCNN's x86 defaults use fp16/bf16 storage where the CPU has them)
        opt.use_fp16_storage = opt.use_fp16_packed = opt.use_fp16_arithmetic = opt.use_bf16_storage = False
        self.net.load_param(str(path))
        self.net.load_model(str(path.with_suffix(".bin")))

    def __call__(self, img: np.ndarray):
        canvas, r, left, top = letterbox_centre(img, self.size, 0, truncate=True)
        # BGR; contiguous and referenced: Mat(array) borrows the memory until clone() copies it
        x = np.ascontiguousarray(((canvas.astype(np.float32) - self.mean) / self.std).transpose(2, 0, 1))
        ex = self.net.create_extractor()
        ex.input("data", self.ncnn.Mat(x).clone())
        out = np.array(ex.extract("output")[1])  # (3598, 112)
        del ex
        cls, reg = out[:, :80], out[:, 80:].reshape(-1, 4, 8)
        prob = np.exp(reg - reg.max(-1, keepdims=True))
        prob /= prob.sum(-1, keepdims=True)
        dist = (prob * np.arange(8, dtype=np.float32)).sum(-1)  # (N, 4): l, t, r, b in stride units
        grid, stride = grid_centres((self.size, self.size), (8, 16, 32, 64), 0.0)
        centre = grid * stride[:, None]
        d = dist * stride[:, None]
        boxes = np.concatenate([centre - d[:, :2], centre + d[:, 2:]], 1)
        b, s, c = select(boxes, cls)
        return _unletterbox(b, r, left, top), s, c


def _one_thread(ort):
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    return so


def _unletterbox(b: np.ndarray, r: float, left: float, top: float) -> np.ndarray:
    return (b - np.array([left, top, left, top], np.float32)) / r


MODELS = {
    "yolov8": (Yolov8, "yolov8/yolov8n_int8.onnx"),
    "yolov5": (Yolov5, "yolov5/yolov5n_int8_640.onnx"),
    "yolox": (Yolox, "yolox/yolox_nano_416.onnx"),
    "nanodet": (NanodetPlus, "nanodet_plus/nanodet-plus-m_416.param"),
}


def evaluate(shared: Path, family: str) -> tuple[float, float, float]:
    """(AP, AP50, seconds) of one family's reference pipeline on val2017_128."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    cls, rel = MODELS[family]
    model = cls(shared / "models" / "foreign" / rel)
    root = shared / "coco" / "val2017_128"
    gt = COCO(str(root / "instances.json"))
    results = []
    t0 = time.perf_counter()
    for rec in gt.dataset["images"]:
        img = cv2.imread(str(root / "images" / rec["file_name"]))
        h, w = img.shape[:2]
        boxes, scores, classes = model(img)
        boxes = np.clip(boxes, 0, [w, h, w, h])
        for b, s, c in zip(boxes, scores, classes, strict=True):
            results.append({
                "image_id": rec["id"], "category_id": COCO80_TO_91[int(c)],
                "bbox": [round(float(b[0]), 3), round(float(b[1]), 3), round(float(b[2] - b[0]), 3),
                         round(float(b[3] - b[1]), 3)],
                "score": round(float(s), 5),
            })  # fmt: skip
    seconds = time.perf_counter() - t0
    dt = gt.loadRes(results)
    ev = COCOeval(gt, dt, "bbox")
    ev.params.imgIds = [r["id"] for r in gt.dataset["images"]]
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return float(ev.stats[0]), float(ev.stats[1]), seconds


def main(argv: list[str]) -> int:
    shared = Path(argv[0]) if argv else Path(__file__).resolve().parents[2] / "shared"
    families = argv[1:] or list(MODELS)
    rows = {f: evaluate(shared, f) for f in families}
    print("\n| family | AP 0.50:0.95 | AP50 | s / 128 images |\n|---|---|---|---|")
    for f, (ap, ap50, sec) in rows.items():
        print(f"| {f} | {ap:.4f} | {ap50:.4f} | {sec:.1f} |")
    print(json.dumps({f: [round(a, 4), round(b, 4)] for f, (a, b, _) in rows.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
