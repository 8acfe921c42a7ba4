"""The command line on every task: ``lite detect`` with masks and keypoints, ``lite classify``, ``lite eval`` (segm,
top-1 / top-5), ``lite info`` and ``lite bench`` on segmentation, pose and classification models, and
``detect_stream`` on segmentation and pose models.

The models are lite's own demo task models (`lite.demo.task_model_path`), run on drawn scenes; the real
third-party files of ``../shared/models/foreign_tasks`` are used where present.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from lite.cli import main
from lite.core.errors import AssumedDefaultWarning
from lite.data import rle
from lite.demo import task_model_path
from lite.demo.scenes import SHAPE_NAMES, make_diamond_scene, make_instance_scene, make_single_shape

pytest.importorskip("onnxruntime")

SEG, POSE, CLS = (str(task_model_path(t)) for t in ("segment", "pose", "classify"))


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> dict[str, Path]:
    """Two segmentation scenes and two pose scenes as PNG files (lossless: the saved drawings compare exactly)."""
    root = tmp_path_factory.mktemp("task_scenes")
    (root / "seg").mkdir()
    (root / "pose").mkdir()
    for i in range(2):
        seg = make_instance_scene(np.random.default_rng(40 + i), count=(3, 4))
        cv2.imwrite(str(root / "seg" / f"s{i}.png"), seg.image)
        cv2.imwrite(str(root / "pose" / f"p{i}.png"), make_diamond_scene(np.random.default_rng(50 + i)).image)
    return {"seg": root / "seg", "pose": root / "pose"}


def _detector(model: str):
    from lite.cv import Detector

    return Detector.from_file(model, threads=1)


def _classifier(model: str = CLS, **kw):
    from lite.cv import Classifier

    return Classifier.from_file(model, threads=1, **kw)


# ---------------------------------------------------------------------------------------------- lite detect
def test_detect_segmentation_draws_masks_and_writes_coco_rle(scenes, tmp_path, capsys):
    img_path = scenes["seg"] / "s0.png"
    out = tmp_path / "out"
    assert main(["detect", str(img_path), "-m", SEG, "--threads", "1", "--save", str(out), "--json",
                 str(out / "d.json")]) == 0  # fmt: skip
    assert "task segment" in capsys.readouterr().out
    img = cv2.imread(str(img_path))
    with _detector(SEG) as det:
        d = det.detect(img)
    assert d.masks is not None and len(d) >= 1 and d.masks.any(axis=(1, 2)).all()
    saved = cv2.imread(str(out / "s0_detections.png"))
    np.testing.assert_array_equal(saved, d.draw(img))  # the masks blended in, as Detections.draw does
    boxes_only = type(d)(d.xyxy, d.scores, d.class_ids, d.names)
    assert not np.array_equal(saved, boxes_only.draw(img))
    records = json.loads((out / "d.json").read_text())
    assert len(records) == len(d)
    for rec, m in zip(records, d.masks, strict=True):
        assert rec["segmentation"]["size"] == [img.shape[0], img.shape[1]]
        np.testing.assert_array_equal(rle.decode(rec["segmentation"]), m)
        assert "keypoints" not in rec


def test_detect_pose_writes_keypoints_to_json_and_jsonl(scenes, tmp_path):
    img_path = scenes["pose"] / "p0.png"
    out = tmp_path / "out"
    assert main(["detect", str(img_path), "-m", POSE, "--threads", "1", "--save", str(out), "--json",
                 str(out / "p.json")]) == 0  # fmt: skip
    img = cv2.imread(str(img_path))
    with _detector(POSE) as det:
        d = det.detect(img)
    assert d.keypoints is not None and d.keypoints.shape[1:] == (4, 3) and len(d) >= 1
    np.testing.assert_array_equal(cv2.imread(str(out / "p0_detections.png")), d.draw(img))
    records = json.loads((out / "p.json").read_text())
    got = np.array([r["keypoints"] for r in records]).reshape(-1, 4, 3)
    np.testing.assert_allclose(got, d.keypoints, atol=1e-3)
    # --jsonl (the frame loop of lite.cli._live): keypoints per frame, for every image of the folder
    lines = tmp_path / "p.jsonl"
    assert main(["detect", str(scenes["pose"]), "-m", POSE, "--threads", "1", "--jsonl", str(lines),
                 "--no-progress"]) == 0  # fmt: skip
    frames = [json.loads(s) for s in lines.read_text().splitlines()]
    assert len(frames) == 2
    first = next(f for f in frames if f["path"].endswith("p0.png"))
    np.testing.assert_allclose(np.array(first["keypoints"]), d.keypoints, atol=0.01)
    assert "segmentation" not in first


def test_detect_segmentation_folder_video_and_jsonl(scenes, tmp_path):
    """Folders go through detect_stream, videos through their frame loop, --jsonl through lite.cli._live."""
    res = tmp_path / "f.json"
    assert main(["detect", str(scenes["seg"]), "-m", SEG, "--threads", "1", "--json", str(res), "--no-progress"]) == 0
    records = json.loads(res.read_text())
    with _detector(SEG) as det:
        want = {p.name: det.detect(str(p)) for p in sorted(scenes["seg"].iterdir())}
    assert len(records) == sum(len(d) for d in want.values())
    for name, d in want.items():
        mine = [r for r in records if r["file_name"] == name]
        np.testing.assert_array_equal(np.stack([rle.decode(r["segmentation"]) for r in mine]), d.masks)
    video = tmp_path / "clip.avi"
    frames = [cv2.imread(str(p)) for p in sorted(scenes["seg"].iterdir())]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, frames[0].shape[1::-1])
    for f in frames:
        writer.write(f)
    writer.release()
    vres = tmp_path / "v.json"
    assert main(["detect", str(video), "-m", SEG, "--threads", "1", "--json", str(vres), "--save", str(tmp_path / "v"),
                 "--no-progress"]) == 0  # fmt: skip
    vrec = json.loads(vres.read_text())
    assert vrec and all("segmentation" in r for r in vrec) and {r["image_id"] for r in vrec} == {0, 1}
    assert (tmp_path / "v" / "clip_detections.mp4").is_file()
    lines = tmp_path / "s.jsonl"
    assert main(["detect", str(scenes["seg"]), "-m", SEG, "--threads", "1", "--jsonl", str(lines),
                 "--no-progress"]) == 0  # fmt: skip
    for line in lines.read_text().splitlines():
        f = json.loads(line)
        d = want[Path(f["path"]).name]
        np.testing.assert_array_equal(np.stack([rle.decode(s) for s in f["segmentation"]]), d.masks)


def test_detect_refuses_a_classifier_naming_lite_classify(scenes, tmp_path, capsys):
    img = str(scenes["seg"] / "s0.png")
    assert main(["detect", img, "-m", CLS]) == 2
    err = capsys.readouterr().err
    assert "classify model" in err and "lite classify" in err
    assert main(["detect", img, "-m", CLS, "--jsonl", str(tmp_path / "x.jsonl")]) == 2  # the frame loop's path
    assert "lite classify" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()


# ---------------------------------------------------------------------------------------------- lite classify
@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    """A folder per class of drawn single shapes (the demo classifier's task), 3 images per class."""
    root = tmp_path_factory.mktemp("shapes")
    rng = np.random.default_rng(31)
    counts = dict.fromkeys(SHAPE_NAMES, 0)
    lines = []
    while min(counts.values()) < 3:
        img, cid = make_single_shape(rng)
        name = SHAPE_NAMES[cid]
        if counts[name] >= 3:
            continue
        (root / name).mkdir(exist_ok=True)
        cv2.imwrite(str(root / name / f"{name}{counts[name]}.png"), img)
        lines.append(f"{name}/{name}{counts[name]}.png {cid}")
        counts[name] += 1
    (root / "val.txt").write_text("\n".join(lines) + "\n")
    return root


def test_classify_help_names_the_demo_default():
    from lite.cli import build_parser

    text = build_parser()._subparsers._group_actions[0].choices["classify"].format_help()
    assert "demo classifier" in text and "--top-k" in text and "--labels" in text and "lite detect" in text


def test_classify_without_arguments_runs_the_demo_on_a_shape(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["classify", "--save", str(out), "--json", str(out / "c.json"), "--seed", "3"]) == 0
    text = capsys.readouterr().out
    img, truth = make_single_shape(np.random.default_rng(3))
    with _classifier() as clf:
        c = clf.classify(img)
    assert "lite-demo-shapes-cls.onnx: task classify, family yolov8-cls" in text
    assert f"ground truth: {SHAPE_NAMES[truth]}" in text and f"{c.top1.name} {c.top1.score:.3f}" in text
    [rec] = json.loads((out / "c.json").read_text())
    assert rec["class_ids"] == c.class_ids.tolist() and rec["names"] == c.labels and len(rec["scores"]) == 5
    np.testing.assert_array_equal(cv2.imread(str(out / "shape_classes.png")), c.draw(img))


def test_classify_folder_top_k_json_and_failures(shapes, tmp_path, capsys):
    res = tmp_path / "c.json"
    assert main(["classify", str(shapes / "*" / "*.png"), "--top-k", "3", "--json", str(res), "--save",
                 str(tmp_path / "s"), "--threads", "1", "--no-progress"]) == 0  # fmt: skip
    records = json.loads(res.read_text())
    paths = sorted(shapes.glob("*/*.png"))
    assert sorted(r["source"] for r in records) == sorted(map(str, paths))
    with _classifier() as clf:
        for r in records:
            c = clf.classify(r["source"], top_k=3)
            assert r["class_ids"] == c.class_ids.tolist() and r["names"] == c.labels
            np.testing.assert_allclose(r["scores"], c.scores, atol=1e-5)
    assert len(list((tmp_path / "s").glob("*_classes.png"))) == len(paths)
    capsys.readouterr()
    # an unreadable image: recorded, the others classified, exit 1
    bad = tmp_path / "bad"
    bad.mkdir()
    cv2.imwrite(str(bad / "a.png"), cv2.imread(str(paths[0])))
    (bad / "b.png").write_bytes(b"not a png")
    res2 = tmp_path / "c2.json"
    assert main(["classify", str(bad), "--json", str(res2), "--no-progress"]) == 1
    assert "1 of 2 images failed" in capsys.readouterr().err
    assert [Path(r["source"]).name for r in json.loads(res2.read_text())] == ["a.png"]
    assert main(["classify", str(bad), "--fail-fast", "--no-progress"]) == 2
    # outputs are planned before the model runs: an existing --json is not replaced without --exist-ok
    assert main(["classify", str(bad / "a.png"), "--json", str(res2)]) == 2
    assert "--exist-ok" in capsys.readouterr().err


def test_classify_refuses_a_detector_naming_lite_detect(scenes, capsys):
    for model in (SEG, POSE):
        assert main(["classify", str(scenes["seg"] / "s0.png"), "-m", model]) == 2
        err = capsys.readouterr().err
        assert "not an image classifier" in err and "lite detect" in err


def test_classify_mobilenet_with_a_labels_file(shared, capsys):
    model = shared / "models/foreign_tasks/classify/mobilenetv2-12-int8.onnx"
    labels = model.parent / "imagenet_labels.txt"
    if not model.is_file():
        pytest.skip(f"{model} is absent")
    with pytest.warns(AssumedDefaultWarning, match="imagenet"):
        code = main(["classify", str(shared / "images/zidane.jpg"), "-m", str(model), "--labels", str(labels),
                     "--threads", "1"])  # fmt: skip
    assert code == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("zidane.jpg:"))
    assert line.startswith("zidane.jpg: stage ")  # the README's top-1 (819 stage)


# ---------------------------------------------------------------------------------------------- lite eval
def test_eval_classifier_top1_top5_from_folders_and_a_labels_file(shapes, tmp_path, capsys):
    metrics, preds = tmp_path / "m.json", tmp_path / "p.json"
    assert main(["eval", "--model", CLS, "--images", str(shapes), "--json", str(metrics), "--predictions", str(preds),
                 "--threads", "1", "--no-progress"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    with _classifier() as clf:
        tops = {p: clf.classify(p).class_ids.tolist() for p in sorted(shapes.glob("*/*.png"))}
    truth = {p: SHAPE_NAMES.index(p.parent.name) for p in tops}
    top1 = np.mean([tops[p][0] == truth[p] for p in tops])
    top5 = np.mean([truth[p] in tops[p][:5] for p in tops])
    m = json.loads(metrics.read_text())
    assert m["task"] == "classify" and m["num_images"] == len(tops) == 18
    assert m["top1"] == pytest.approx(top1) and m["top5"] == pytest.approx(top5)
    assert top1 >= 0.7  # the demo classifier on held-out drawings
    assert f"top-1 {top1:.4f}  top-5 {top5:.4f}" in out and "a folder per class (by name)" in out
    p = json.loads(preds.read_text())
    assert len(p) == 18 and all(r["label"] == truth[Path(r["source"])] for r in p)
    # the same images through a labels file (paths relative to --images)
    m2 = tmp_path / "m2.json"
    assert main(["eval", "--model", CLS, "--images", str(shapes), "--classes-from", str(shapes / "val.txt"),
                 "--json", str(m2), "--no-progress"]) == 0  # fmt: skip
    assert json.loads(m2.read_text())["top1"] == pytest.approx(top1)
    capsys.readouterr()
    # COCO options do not apply to a classifier; a detector without --ann is told what it needs
    assert main(["eval", "--model", CLS, "--images", str(shapes), "--ann", str(metrics)]) == 2
    assert "image classifier" in capsys.readouterr().err
    assert main(["eval", "--model", SEG, "--images", str(shapes)]) == 2
    assert "segment model: expected --ann" in capsys.readouterr().err


def _instance_dataset(root: Path, n: int) -> Path:
    """COCO annotations (RLE masks) of drawn segmentation scenes."""
    rng = np.random.default_rng(99)
    (root / "images").mkdir(parents=True)
    images, anns = [], []
    for i in range(n):
        s = make_instance_scene(rng)
        cv2.imwrite(str(root / "images" / f"{i}.png"), s.image)
        images.append({"id": i + 1, "file_name": f"{i}.png", "height": 160, "width": 160})
        for (x1, y1, x2, y2), c, m in zip(s.boxes.tolist(), s.class_ids.tolist(), s.masks, strict=True):
            box = [x1, y1, x2 - x1, y2 - y1]
            seg = rle.encode(m, compressed=False)
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": c + 1, "bbox": box,
                         "area": float(m.sum()), "iscrowd": 0, "segmentation": seg})  # fmt: skip
    cats = [{"id": k + 1, "name": name} for k, name in enumerate(SHAPE_NAMES)]
    ann = root / "instances.json"
    ann.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return ann


def test_eval_segm_on_the_demo_segmenter(tmp_path, capsys):
    pytest.importorskip("pycocotools")
    ann = _instance_dataset(tmp_path / "d", 10)
    out = tmp_path / "m.json"
    assert main(["eval", "--model", SEG, "--images", str(ann.parent / "images"), "--ann", str(ann), "--iou-type",
                 "segm", "--threads", "1", "--json", str(out), "--no-progress"]) == 0  # fmt: skip
    m = json.loads(out.read_text())
    assert m["iou_type"] == "segm" and 0.4 < m["AP"] <= 1.0, m  # measured 0.53 on 12 scenes of seed 99
    # the shifted truth scores lower: the masks, not the boxes, are scored
    data = json.loads(ann.read_text())
    for a in data["annotations"]:
        a["segmentation"] = rle.encode(np.roll(rle.decode(a["segmentation"]), 6, axis=1), compressed=False)
    ann.write_text(json.dumps(data))
    assert main(["eval", "--model", SEG, "--images", str(ann.parent / "images"), "--ann", str(ann), "--iou-type",
                 "segm", "--threads", "1", "--json", str(out), "--no-progress"]) == 0  # fmt: skip
    assert json.loads(out.read_text())["AP"] < m["AP"] - 0.1


def test_eval_segm_yolov8n_seg_on_coco128(shared, tmp_path):
    pytest.importorskip("pycocotools")
    model = shared / "models/foreign_tasks/segment/yolov8n-seg_int8_320.onnx"
    root = shared / "coco/train2017_128_segm"
    if not model.is_file() or not (root / "instances.json").is_file():
        pytest.skip("yolov8n-seg or COCO128 segm is absent")
    out = tmp_path / "m.json"
    assert main(["eval", "--model", str(model), "--images", str(root / "images"), "--ann", str(root / "instances.json"),
                 "--iou-type", "segm", "--limit", "12", "--conf", "0.25", "--threads", "1", "--json", str(out),
                 "--no-progress"]) == 0  # fmt: skip
    m = json.loads(out.read_text())
    # all 128 images at lite's eval defaults (conf 0.03): segm AP 0.269, AP50 0.414 (docs/evaluation.md)
    assert m["iou_type"] == "segm" and 0.15 < m["AP"] < 0.6 and m["AP50"] > 0.3, m


# ---------------------------------------------------------------------------------------------- info, bench
@pytest.mark.parametrize(("model", "task"), [(SEG, "segment"), (POSE, "pose"), (CLS, "classify")])
def test_info_says_the_task(model, task, capsys):
    assert main(["info", model]) == 0
    text = capsys.readouterr().out
    assert f"task       {task}" in text and "family     yolov8" in text
    assert main(["info", model, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["task"] == task
    if task == "classify":
        assert info["family"] == "yolov8-cls" and info["num_classes"] == 6 and info["names"] == list(SHAPE_NAMES)
        assert "preprocess rgb, /255, center crop (the yolov8-cls preset" in text and "classes    6: circle" in text
    else:
        assert "strides" in text and info["decoder"] == ("yolov8_seg" if task == "segment" else "yolov8_pose")


def test_info_of_mobilenet_names_the_imagenet_preset(shared, capsys):
    model = shared / "models/foreign_tasks/classify/mobilenetv2-12-int8.onnx"
    if not model.is_file():
        pytest.skip(f"{model} is absent")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AssumedDefaultWarning)
        assert main(["info", str(model)]) == 0
    text = capsys.readouterr().out
    assert "family     imagenet" in text and "classes    1000" in text
    assert "mean 0.485,0.456,0.406, std 0.229,0.224,0.225, center crop of short side 256" in text


def test_bench_times_classify_and_segmentation(capsys):
    from lite.tools.bench import benchmark

    img = make_instance_scene(np.random.default_rng(40), count=(3, 4)).image
    seg = benchmark(SEG, image=img, runs=3, warmup=1, threads=1)
    with _detector(SEG) as det:
        n = len(det.detect(img))
    assert seg.task == "segment" and seg.num_detections == n >= 1 and seg.stages["post"].median > 0
    cls = benchmark(CLS, runs=3, warmup=1, threads=1, top_k=2)
    assert cls.task == "classify" and cls.num_detections == 2 and cls.to_dict()["task"] == "classify"
    assert main(["bench", "-m", CLS, "-m", SEG, "--runs", "2", "--warmup", "0", "--threads", "1", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "lite-demo-shapes-cls.onnx [ort]" in text and "top-5 classes" in text
    assert "lite-demo-shapes-seg.onnx [ort]" in text
    assert main(["bench", "-m", CLS, "--runs", "1", "--conf", "0.5"]) == 2  # a classifier has no score threshold
    assert "conf" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- detect_stream
@pytest.mark.parametrize("task", ["segment", "pose"])
def test_detect_stream_gives_the_masks_and_keypoints_of_detect(task, scenes):
    folder = scenes["seg" if task == "segment" else "pose"]
    paths = sorted(folder.iterdir())
    imgs = [cv2.imread(str(p)) for p in paths] * 2  # arrays and paths, several in flight
    with _detector(SEG if task == "segment" else POSE) as det:
        want = [det.detect(im) for im in imgs]
        got = list(det.detect_stream(imgs))
        from_paths = list(det.detect_stream([str(p) for p in paths]))
    assert len(got) == len(want)
    for g, w in zip(got + from_paths, want + want[: len(paths)], strict=True):
        assert g == w  # boxes, scores, classes, masks / keypoints
        assert (g.masks if task == "segment" else g.keypoints) is not None and len(g) >= 1


def test_eval_keypoints_on_the_demo_pose_model(tmp_path):
    """``--iou-type keypoints`` through the normal path: the demo pose model on drawn diamonds (corners as truth)."""
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(7)
    (tmp_path / "images").mkdir()
    images, anns = [], []
    for i in range(8):
        s = make_diamond_scene(rng)
        cv2.imwrite(str(tmp_path / "images" / f"{i}.png"), s.image)
        images.append({"id": i + 1, "file_name": f"{i}.png", "height": 160, "width": 160})
        for (x1, y1, x2, y2), m, corners in zip(s.boxes.tolist(), s.masks, s.corners, strict=True):
            kp = np.concatenate([corners, np.full((len(corners), 1), 2.0)], axis=1).reshape(-1).tolist()
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                         "area": float(m.sum()), "iscrowd": 0, "keypoints": kp, "num_keypoints": 4})  # fmt: skip
    ann = tmp_path / "instances.json"
    cats = [{"id": 1, "name": "square", "keypoints": ["top", "right", "bottom", "left"], "skeleton": []}]
    ann.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    out = tmp_path / "m.json"
    assert main(["eval", "--model", POSE, "--images", str(tmp_path / "images"), "--ann", str(ann), "--iou-type",
                 "keypoints", "--threads", "1", "--json", str(out), "--no-progress"]) == 0  # fmt: skip
    m = json.loads(out.read_text())
    assert m["iou_type"] == "keypoints" and m["AP"] > 0.5, m
