"""lite.tools.eval beyond boxes: segm and keypoint mAP through pycocotools, top-1 / top-5 accuracy."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from lite.core.errors import ImageNotFoundError, InputError
from lite.tools.eval import (
    EvalResult,
    coco_results,
    evaluate,
    images_from_folders,
    images_from_labels_file,
    score_results,
    stat_names,
    topk_accuracy,
)

pytest.importorskip("pycocotools")


def _square_dataset(n_images: int = 4) -> tuple[dict, list[np.ndarray]]:
    """COCO annotations of filled squares (RLE segmentation, 4 corner keypoints) and the masks."""
    from lite.data import rle

    rng = np.random.default_rng(0)
    images, anns, masks = [], [], []
    for i in range(n_images):
        images.append({"id": i + 1, "file_name": f"{i}.png", "height": 64, "width": 80})
        for _ in range(2):
            x, y, s = (int(v) for v in rng.integers([2, 2, 12], [50, 30, 28]))
            m = np.zeros((64, 80), bool)
            m[y : y + s, x : x + s] = True
            kp = [x, y, 2, x + s, y, 2, x + s, y + s, 2, x, y + s, 2]
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "bbox": [x, y, s, s],
                         "area": float(s * s), "iscrowd": 0, "segmentation": rle.encode(m, compressed=False),
                         "keypoints": kp, "num_keypoints": 4})  # fmt: skip
            masks.append(m)
    cats = [{"id": 1, "name": "square", "keypoints": ["tl", "tr", "br", "bl"], "skeleton": []}]
    return {"images": images, "annotations": anns, "categories": cats}, masks


def test_segm_and_keypoints_of_the_truth_score_1():
    data, masks = _square_dataset()
    results = []
    for a, m in zip(data["annotations"], masks, strict=True):
        x, y, w, h = a["bbox"]
        kp = np.asarray(a["keypoints"], np.float64).reshape(4, 3)
        kp[:, 2] = 0.9
        results += coco_results(a["image_id"], np.array([[x, y, x + w, y + h]]), np.array([0.9]), np.array([0]),
                                [1], masks=m[None], keypoints=kp[None])  # fmt: skip
    segm, _ = evaluate(data, results, iou_type="segm")
    assert segm[0] == pytest.approx(1.0)
    kps, _ = evaluate(data, results, iou_type="keypoints")
    assert len(kps) == len(stat_names("keypoints")) == 10 and kps[0] == pytest.approx(1.0)
    # a mask shifted by 3 px: lower segm AP, same bbox AP
    shifted = [dict(r, segmentation=_shift(r["segmentation"], 3)) for r in results]
    assert evaluate(data, shifted, iou_type="segm")[0][0] < 0.9
    assert evaluate(data, shifted, iou_type="bbox")[0][0] == pytest.approx(1.0)
    r = score_results(data, data["images"], results, {}, out_json=None, seconds=0.0, mapping="given",
                      iou_type="keypoints")  # fmt: skip
    assert isinstance(r, EvalResult) and r.APs == -1.0
    ap = r.AP
    assert ap == pytest.approx(1.0)
    assert json.loads(json.dumps(r.to_dict()))["iou_type"] == "keypoints"


def _shift(seg: dict, dx: int) -> dict:
    from lite.data import rle

    return rle.encode(np.roll(rle.decode(seg), dx, axis=1))


def test_segm_needs_masks_in_results_and_annotations():
    data, _ = _square_dataset(1)
    boxes_only = coco_results(1, np.array([[0, 0, 5, 5]]), np.array([0.5]), np.array([0]), [1])
    with pytest.raises(InputError, match="segmentation model"):
        evaluate(data, boxes_only, iou_type="segm")
    with pytest.raises(InputError, match="iou_type"):
        evaluate(data, boxes_only, iou_type="mask")
    no_kpts = {**data, "annotations": [{k: v for k, v in a.items() if k != "keypoints"} for a in data["annotations"]]}
    kp_res = coco_results(1, np.array([[0, 0, 5, 5]]), np.array([0.5]), np.array([0]), [1],
                          keypoints=np.zeros((1, 4, 3)))  # fmt: skip
    with pytest.raises(InputError, match="annotations have no 'keypoints'"):
        evaluate(no_kpts, kp_res, iou_type="keypoints")


def test_yolov8n_seg_segm_ap_on_coco128(shared):
    """segm AP of the real int8 yolov8n-seg on COCO128 polygons: lite's ops + plain ONNX Runtime + lite NMS."""
    from test_task_ops import _session, seg_decode

    from lite.data.coco import COCO80_TO_91
    from lite.ops.masks import prototype_masks

    model = shared / "models/foreign_tasks/segment/yolov8n-seg_int8_320.onnx"
    root = shared / "coco/train2017_128_segm"
    if not model.is_file() or not (root / "instances.json").is_file():
        pytest.skip("yolov8n-seg or COCO128 segm is absent")
    data = json.loads((root / "instances.json").read_text())
    images = data["images"][:16]
    s = _session(model)
    results = []
    for rec in images:
        img = cv2.imread(str(root / "images" / rec["file_name"]))
        boxes, scores, ids, coef, protos, t = seg_decode(s, img)
        masks = prototype_masks(protos, coef, boxes, t)
        results += coco_results(rec["id"], t.to_original(boxes), scores, ids, COCO80_TO_91, masks=masks)
    ids = [r["id"] for r in images]
    segm, summary = evaluate(data, results, image_ids=ids, iou_type="segm")
    bbox, _ = evaluate(data, results, image_ids=ids, iou_type="bbox")
    # yolov8n-seg reaches ~0.30 mask mAP on COCO val at 640; at 320, int8, conf 0.25 and on 16 images: lower
    print(f"segm AP {segm[0]:.4f} AP50 {segm[1]:.4f}; bbox AP {bbox[0]:.4f} AP50 {bbox[1]:.4f}")
    assert 0.15 < segm[0] < bbox[0] + 0.05, summary
    assert segm[1] > 0.3, summary


def test_topk_accuracy_and_label_sources(tmp_path):
    r = topk_accuracy([[1, 2, 3], [0, 2, 1], [2, 0, 1]], [1, 1, 5], k=2, images=["a", "b", "c"])
    assert (r.top1, r.top5, r.num_images) == (pytest.approx(1 / 3), pytest.approx(1 / 3), 3)
    assert r.errors == (("b", 1, 0), ("c", 5, 2))
    r = topk_accuracy([[1, 2, 3], [0, 2, 1]], [1, 2], k=2)
    assert (r.top1, r.top5) == (0.5, 1.0)
    img = np.zeros((8, 8, 3), np.uint8)
    for cls in ("square", "circle"):
        (tmp_path / "f" / cls).mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(tmp_path / "f" / cls / f"{i}.png"), img)
    (tmp_path / "f" / "circle" / "notes.txt").write_text("not an image")
    pairs = images_from_folders(tmp_path / "f")
    assert [(p.parent.name, c) for p, c in pairs] == [("circle", 0), ("circle", 0), ("square", 1), ("square", 1)]
    by_name = images_from_folders(tmp_path / "f", names=["circle", "triangle", "Square"])
    assert [c for _, c in by_name] == [0, 0, 2, 2]
    with pytest.raises(InputError, match="not one of the model's class names"):
        images_from_folders(tmp_path / "f", names=["star"])
    labels = tmp_path / "f" / "val.txt"
    labels.write_text("# image label\nsquare/0.png 3\ncircle/1.png, circle\n\n")
    assert [(p.name, c) for p, c in images_from_labels_file(labels, names=["a", "b", "circle", "square"])] == [
        ("0.png", 3),
        ("1.png", 2),
    ]
    labels.write_text("square/9.png 3\n")
    with pytest.raises(ImageNotFoundError, match="9.png"):
        images_from_labels_file(labels)
    labels.write_text("square/0.png\n")
    with pytest.raises(InputError, match="expected '<image> <label>'"):
        images_from_labels_file(labels)


def test_cli_scores_a_results_file(tmp_path, capsys):
    from lite.cli import main

    data, masks = _square_dataset(2)
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(data))
    results = []
    for a, m in zip(data["annotations"], masks, strict=True):
        x, y, w, h = a["bbox"]
        results += coco_results(a["image_id"], np.array([[x, y, x + w, y + h]]), np.array([0.8]), np.array([0]),
                                [1], masks=m[None])  # fmt: skip
    res = tmp_path / "res.json"
    res.write_text(json.dumps(results))
    out = tmp_path / "m.json"
    assert main(["eval", "--results", str(res), "--ann", str(ann), "--iou-type", "segm", "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["iou_type"] == "segm" and metrics["AP"] == pytest.approx(1.0)
    assert main(["eval", "--results", str(res), "--ann", str(ann), "--iou-type", "keypoints"]) == 2
    assert "pose model" in capsys.readouterr().err
    assert main(["eval", "--ann", str(ann)]) == 2
    assert "either --model" in capsys.readouterr().err


def test_cli_refuses_segm_for_a_box_model(tmp_path, capsys):
    from lite.cli import main
    from lite.demo.scenes import write_dataset
    from lite.hub import default_model

    ann = write_dataset(tmp_path / "scenes", 1, seed=5)
    code = main(["eval", "--model", str(default_model()), "--images", str(ann.parent / "images"), "--ann", str(ann),
                 "--iou-type", "segm", "--no-progress"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "boxes only" in err and "segment" in err
