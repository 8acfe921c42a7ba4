"""Segmentation, pose and classification on every engine: converted with ``lite convert``, opened with no argument
(the sidecar only), compared with ONNX Runtime through `lite.tools.parity.compare` (masks by mask IoU, keypoints by
pixel distance, classifiers by top-k and class probabilities); the TensorRT code path through the fake TensorRT.

Tolerances are the measured ones (docs/conversion.md, ``python scripts/task_parity.py``): on lite's demo models every
engine's outputs agree with ONNX Runtime to ~1e-4, masks to IoU >= 0.9996 and classifier probabilities to ~1e-6;
the demo pose model's scores saturate at 1.0, so a one-ulp difference can let NMS keep a neighbouring anchor: its
boxes then differ by IoU >= 0.968 and its keypoints by <= 2.7 px.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from lite.core.errors import AssumedDefaultWarning, ConversionError, ModelLoadError
from lite.demo import task_model_path
from lite.demo.scenes import make_diamond_scene, make_instance_scene, make_single_shape
from lite.tools.parity import compare

pytest.importorskip("onnxruntime")
ENGINES = [e for e, m in (("ncnn", "ncnn"), ("mnn", "MNN"), ("openvino", "openvino")) if importlib.util.find_spec(m)]
TASKS = ("segment", "pose", "classify")
CONF = {"segment": 0.1, "pose": 0.25, "classify": 0.25}  # the demo models' recorded thresholds
#: ``compare`` tolerances per task (measured, see the module docstring): pose boxes IoU 0.95 (anchor ties).
TOL = {
    "segment": {"iou": 0.99, "mask_iou": 0.99},
    "pose": {"iou": 0.95, "kpt_px": 3.0},
    "classify": {"score_tol": 1e-4},
}


def scene(task: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if task == "segment":
        return make_instance_scene(rng).image
    if task == "pose":
        return make_diamond_scene(rng).image
    return make_single_shape(rng)[0]


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict[tuple[str, str], Path]:
    """Every demo task model converted to every engine installed (``lite.convert.convert``, verified)."""
    from lite.convert import convert

    out = tmp_path_factory.mktemp("task_engines")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {(t, e): convert(task_model_path(t), e, out / e) for t in TASKS for e in ENGINES}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("task", TASKS)
def test_converted_task_model_opens_as_its_task_and_agrees_with_onnxruntime(converted, task, engine):
    from lite.cv import ImageModel

    path = converted[(task, engine)]
    side = json.loads(Path(str(path) + ".lite.json").read_text())
    assert side["extra"]["task"] == task
    assert side["family"] == ("yolov8-cls" if task == "classify" else "yolov8")
    assert side["decoder"] == {"segment": "yolov8_seg", "pose": "yolov8_pose", "classify": "classify"}[task]
    with warnings.catch_warnings():
        warnings.simplefilter("error", AssumedDefaultWarning)  # the sidecar says the family: nothing assumed
        ref = ImageModel.from_file(task_model_path(task), threads=1)
        got = ImageModel.from_file(path, threads=1)
    assert (type(got), got.task, got.input_hw) == (type(ref), task, ref.input_hw)
    if task == "pose":
        img = scene(task, 1)
        assert got.detect(img).keypoint_names == ref.detect(img).keypoint_names == ("top", "right", "bottom", "left")
    for seed in (1, 2, 3):
        img = scene(task, seed)
        report = compare([task_model_path(task), path], img, conf=CONF[task], threads=1, **TOL[task])
        assert report.ok, report.table()
        run = report.runs[1]
        if task == "classify":
            assert run.top_k_diff is not None and run.top_k_diff.ids_equal
            assert got.classify(img).class_ids.tolist() == ref.classify(img).class_ids.tolist()
            continue
        dd = run.detection_diff
        assert dd is not None and dd.n_ref >= 1 and dd.matched == dd.n_ref == dd.n
        if task == "segment":
            assert dd.min_mask_iou is not None and dd.min_mask_iou >= 0.99 and dd.max_kpt_px is None
        else:
            assert dd.max_kpt_px is not None and dd.max_kpt_px <= 3.0 and dd.min_mask_iou is None
    ref.close()
    got.close()


def test_the_report_shows_masks_keypoints_and_top_k(converted):
    seg = compare([task_model_path("segment"), converted[("segment", ENGINES[0])]], scene("segment", 1), conf=0.1)
    assert "min mask IoU" in seg.table() and "mask IoU >= 0.95" in seg.table()
    assert seg.to_dict()["runs"][1]["detection_diff"]["min_mask_iou"] >= 0.99
    pose = compare([task_model_path("pose"), converted[("pose", ENGINES[0])]], scene("pose", 1), iou=0.95)
    assert "max keypoint dist" in pose.table() and "with keypoints" in pose.table()
    cls = compare([task_model_path("classify"), converted[("classify", ENGINES[0])]], scene("classify", 1), top_k=3)
    text = cls.table()
    assert "top-3 classes" in text and "same ids and order" in text and "class probability" in text
    assert cls.to_dict()["runs"][1]["top_k_diff"]["ids_equal"] is True and len(cls.runs[0].top_k) == 3


def test_a_moved_keypoint_or_a_shrunk_mask_fails_the_comparison():
    from lite.data.detections import Detections
    from lite.tools.parity import diff_top_k, match_detections

    masks = np.zeros((1, 20, 20), bool)
    masks[0, 2:12, 2:12] = True
    kpts = np.array([[[5.0, 5.0, 0.9], [10.0, 10.0, 0.9]]], np.float32)
    box = np.array([[2, 2, 12, 12]], np.float32)
    ref = Detections(box, np.array([0.9], np.float32), np.array([0]), masks=masks, keypoints=kpts)
    assert match_detections(ref, ref).ok
    shrunk = masks.copy()
    shrunk[0, 2:12, 10:12] = False  # IoU 0.8
    d = match_detections(ref, Detections(box, ref.scores, ref.class_ids, masks=shrunk, keypoints=kpts))
    assert d.min_mask_iou == pytest.approx(0.8) and not d.ok
    moved = kpts.copy()
    moved[0, 1, :2] += (3.0, 4.0)  # 5 px
    d = match_detections(ref, Detections(box, ref.scores, ref.class_ids, masks=masks, keypoints=moved), kpt_px=4.0)
    assert d.max_kpt_px == pytest.approx(5.0) and not d.ok
    d = match_detections(ref, Detections(box, ref.scores, ref.class_ids))  # no masks, no keypoints at all
    assert (d.min_mask_iou, d.max_kpt_px, d.ok) == (0.0, float("inf"), False)
    p = np.array([0.5, 0.3, 0.2])
    assert diff_top_k(p, p, k=2).ok
    swapped = diff_top_k(p, np.array([0.3, 0.5, 0.2]), k=2)
    assert not swapped.ok and not swapped.top1_equal and swapped.max_score_diff == pytest.approx(0.2)


def test_cli_compare_on_a_segmenter_a_pose_model_and_a_classifier(converted, tmp_path, capsys):
    from lite.cli import main

    for task, extra in (("segment", ["--conf", "0.1"]), ("pose", ["--iou", "0.95"]), ("classify", ["--top-k", "2"])):
        image = tmp_path / f"{task}.png"
        cv2.imwrite(str(image), scene(task, 2))
        args = [str(task_model_path(task)), str(converted[(task, ENGINES[-1])]), "--image", str(image)]
        assert main(["compare", *args, "--threads", "1", *extra]) == 0
        out = capsys.readouterr().out
        assert f"reference ({task})" in out and "result: PASS" in out
        want = {"segment": "min mask IoU", "pose": "max keypoint dist", "classify": "top-2"}[task]
        assert want in out
    # a tolerance no engine meets: exit status 1
    image = tmp_path / "segment.png"
    args = [str(task_model_path("segment")), str(converted[("segment", ENGINES[-1])]), "--image", str(image)]
    assert main(["compare", *args, "--conf", "0.1", "--score-tol", "0", "--tol", "0"]) == 1
    assert "result: FAIL" in capsys.readouterr().out


# ------------------------------------------------------------------------------ converted files without a sidecar
def test_without_its_sidecar_a_segmenter_is_still_recognised_from_its_two_outputs(converted, shared, tmp_path):
    onnx = pytest.importorskip("onnx")
    from lite.cv import ImageModel

    if "ncnn" in ENGINES:  # an NCNN file carries nothing but its graph
        param = converted[("segment", "ncnn")]
        for f in (param, param.with_suffix(".bin")):
            shutil.copy(f, tmp_path / f.name)
        with ImageModel.from_file(tmp_path / param.name, threads=1) as bare:
            assert (bare.task, bare.plan.decoder) == ("segment", "yolov8_seg")
    # the real YOLOv8n-seg stripped of its metadata: the same masks, from its two outputs alone
    path = shared / "models" / "foreign_tasks" / "segment" / "yolov8n-seg_int8_320.onnx"
    m = onnx.load(str(path))
    del m.metadata_props[:]
    onnx.save(m, str(tmp_path / "seg.onnx"))
    with ImageModel.from_file(tmp_path / "seg.onnx", threads=1) as bare, ImageModel.from_file(path, threads=1) as full:
        assert (bare.task, bare.plan.decoder, bare.input_hw) == ("segment", "yolov8_seg", (320, 320))
        image = shared / "images" / "bus.jpg"
        a, b = full.detect(image), bare.detect(image)
        assert len(a) == len(b) == 4
        np.testing.assert_array_equal(a.masks, b.masks)
        np.testing.assert_array_equal(a.class_ids, b.class_ids)


def test_without_metadata_a_56_channel_pose_head_is_read_as_pose(shared, tmp_path):
    """The YOLO11n-pose export stripped of its metadata (what an NCNN or MNN conversion carries)."""
    onnx = pytest.importorskip("onnx")
    from lite.cv import ImageModel

    m = onnx.load(str(shared / "models" / "foreign_tasks" / "pose" / "yolo11n-pose_int8_degenerate.onnx"))
    del m.metadata_props[:]
    onnx.save(m, str(tmp_path / "pose.onnx"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its constant score channel (DegenerateOutputWarning)
        model = ImageModel.from_file(tmp_path / "pose.onnx", threads=1)
    assert (model.task, model.plan.decoder, model.plan.options["kpt_shape"]) == ("pose", "yolov8_pose", (17, 3))
    model.close()


def test_a_pose_sidecar_without_kpt_shape_is_refused_not_read_as_a_detector(converted, tmp_path):
    """17 channels are 4 box + 1 class + 4 x 3 keypoints only if kpt_shape says so: without it, with the sidecar's
    task and one class name, no layout fits and the model is refused (a typed error naming kpt_shape)."""
    from lite.core.errors import LayoutError
    from lite.cv import ImageModel

    path = converted[("pose", ENGINES[0])]
    for f in path.parent.glob(path.name.split(".")[0] + "*"):
        shutil.copy(f, tmp_path / f.name)
    side = Path(str(tmp_path / path.name) + ".lite.json")
    data = json.loads(side.read_text())
    del data["extra"]["kpt_shape"]
    side.write_text(json.dumps(data))
    with pytest.raises(LayoutError, match="kpt_shape"):
        ImageModel.from_file(tmp_path / path.name, threads=1)


def test_without_its_sidecar_a_classifier_warns_that_its_preset_is_assumed(converted, tmp_path):
    from lite.cv import ImageModel

    path = converted[("classify", ENGINES[0])]
    for f in path.parent.glob(path.name.split(".")[0] + "*"):
        if not f.name.endswith(".lite.json"):
            shutil.copy(f, tmp_path / f.name)
    with pytest.warns(AssumedDefaultWarning, match="imagenet"):
        m = ImageModel.from_file(tmp_path / path.name, threads=1)
    assert m.task == "classify" and m.family == "imagenet"
    m.close()


# ------------------------------------------------------------------------------ the real int8 files
@pytest.mark.skipif("openvino" not in ENGINES, reason="needs openvino")
def test_int8_yolov8n_seg_on_openvino_gives_the_onnxruntime_masks(shared, tmp_path):
    from lite.convert import convert

    onnx_path = shared / "models" / "foreign_tasks" / "segment" / "yolov8n-seg_int8_320.onnx"
    xml = convert(onnx_path, "openvino", tmp_path, verify=False)  # the comparison below is the check
    side = json.loads(Path(str(xml) + ".lite.json").read_text())
    assert (side["extra"]["task"], side["decoder"], side["input_size"], len(side["names"])) == (
        "segment", "yolov8_seg", [320, 320], 80
    )  # fmt: skip
    # int8 dynamic quantization rounds differently per engine; measured on bus and zidane: prototypes rel L2 0.032,
    # boxes IoU >= 0.987, masks IoU >= 0.967
    report = compare([onnx_path, xml], shared / "images" / "bus.jpg", threads=1, rtol=0.05, iou=0.95, mask_iou=0.95)
    assert report.ok, report.table()
    assert [r.task for r in report.runs] == ["segment", "segment"]
    dd = report.runs[1].detection_diff
    assert dd.n_ref == dd.matched == 4 and 0.95 <= dd.min_mask_iou < 1.0  # the README's four instances


def test_int8_graphs_the_converters_cannot_take_are_refused_by_op(shared, tmp_path):
    from lite.convert import convert

    root = shared / "models" / "foreign_tasks"
    if "mnn" in ENGINES:
        with pytest.raises(ConversionError, match="ConvInteger"):
            convert(root / "segment" / "yolov8n-seg_int8_320.onnx", "mnn", tmp_path)
    if "openvino" in ENGINES:
        with pytest.raises(ModelLoadError, match="QLinearConv"):
            convert(root / "classify" / "mobilenetv2-12-int8.onnx", "openvino", tmp_path)
    assert not any(tmp_path.iterdir())  # nothing left behind


# ------------------------------------------------------------------------------ the TensorRT code path (fake)
def test_tensorrt_path_reads_every_task(tmp_path):
    """Through the fake TensorRT (it runs the ONNX graph): two outputs with 4-D prototypes, a pose head, (1, C)
    class scores go through the TRT backend's output handling, the verification and the sidecar."""
    pytest.importorskip("onnx")
    import fake_trt

    from lite.cv import ImageModel

    with fake_trt.install():
        from lite.backends.trt import TrtBackend
        from lite.convert import convert

        for task in TASKS:
            image = tmp_path / f"{task}.png"
            cv2.imwrite(str(image), scene(task, 5))
            engine = convert(task_model_path(task), "trt", tmp_path / f"{task}.engine", verify=image)
            side = json.loads(Path(str(engine) + ".lite.json").read_text())
            assert side["extra"]["task"] == task
            be = TrtBackend(engine)
            shapes = {s.name: tuple(s.shape) for s in be.outputs}
            be.close()
            want = {
                "segment": {"output0": (1, 42, 400), "output1": (1, 32, 40, 40)},
                "pose": {"output0": (1, 17, 400)},
                "classify": {"output0": (1, 6)},
            }[task]
            assert shapes == want
            ref = ImageModel.from_file(task_model_path(task), threads=1)
            got = ImageModel.from_file(engine)
            assert (got.backend.name, got.task, type(got)) == ("trt", task, type(ref))
            img = scene(task, 6)
            if task == "classify":
                assert got.classify(img).class_ids.tolist() == ref.classify(img).class_ids.tolist()
            else:
                a, b = ref.detect(img), got.detect(img)
                assert len(a) >= 1
                np.testing.assert_allclose(b.xyxy, a.xyxy, atol=1e-3)
                if task == "segment":
                    np.testing.assert_array_equal(b.masks, a.masks)
                else:
                    np.testing.assert_allclose(b.keypoints, a.keypoints, atol=1e-3)
            got.close()
            ref.close()
        assert fake_trt.STATE.executions >= 6  # verification and the runs above went through the engine
        # INT8: calibrated through the preprocessing of the family its metadata identifies (task + imgsz:
        # yolov8-cls), judged on its class probabilities
        calib = tmp_path / "calib"
        calib.mkdir()
        for i in range(3):
            cv2.imwrite(str(calib / f"{i}.png"), scene("classify", 10 + i))
        engine = convert(task_model_path("classify"), "trt", tmp_path / "cls8.engine", int8=True, calib_images=calib,
                         verify=tmp_path / "classify.png")  # fmt: skip
        assert engine.is_file() and fake_trt.STATE.builds[-1]["calibration"]["amax"] <= 1.0  # RGB / 255
