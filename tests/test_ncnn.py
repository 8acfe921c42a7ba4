"""NCNN adapter: official YOLOv6Lite NCNN models against the ONNX files in ONNX Runtime, the
1-D Convolution → InnerProduct rewrite, shape-free inputs, batches, and typed load errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ncnn")
pytest.importorskip("onnxruntime")

from lite.backends import create  # noqa: E402
from lite.backends.ncnn import NcnnBackend, parse_param, rewrite_1d_convolutions  # noqa: E402
from lite.core.errors import DeviceError, InputError, ModelLoadError, ModelNotFoundError  # noqa: E402
from lite.cv.yolov6 import YOLOv6  # noqa: E402
from lite.tools.parity import array_diff, match_detections  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SIZES = ("s", "m", "l")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@pytest.fixture(scope="module", params=SIZES)
def pair(request, onnx_dir, ncnn_dir):
    """(ONNX raw detector in ORT, official NCNN detector at 320) for one model size."""
    size = request.param
    ort_det = YOLOv6(onnx_dir / f"yolov6lite_{size}_320_raw.onnx", threads=1)
    ncnn_det = YOLOv6(ncnn_dir / f"yolov6-lite-{size}.param", input_size=320, threads=1)
    yield size, ort_det, ncnn_det
    ort_det.close()
    ncnn_det.close()


@pytest.mark.parametrize("image", ["bus.jpg", "zidane.jpg"])
def test_official_ncnn_matches_onnx_in_ort(pair, images_dir, image):
    size, ort_det, ncnn_det = pair
    path = images_dir / image
    tensor, transform = ort_det.preprocess(path)
    ref, out = ort_det.infer(tensor), ncnn_det.infer(tensor)
    assert set(out) == {"out0", "out1", "out2", "out3"}
    for name in ref:  # the NCNN files hold FP16 weights: raw outputs agree to about 1e-3
        assert out[name].shape == ref[name].shape
        max_abs, rel = array_diff(ref[name], out[name])
        assert max_abs < 5e-3, (size, image, name, max_abs)
        assert rel < 1e-4, (size, image, name, rel)
    a = ort_det.postprocess(ref, [transform])[0]
    b = ncnn_det.detect(path)
    assert len(a) >= 3
    diff = match_detections(a, b, iou=0.99, score_tol=0.01)
    assert diff.matched == len(a) == len(b), diff
    assert diff.max_score_diff <= 0.01 and diff.ok, diff


def test_official_ncnn_needs_no_arguments(ncnn_dir, bus_path):
    det = YOLOv6(ncnn_dir / "yolov6-lite-s.param", threads=1)  # no size, no layout, no names
    # the official file is the hub entry yolov6lite-s (same name and sha256): the same size by path as by name
    assert det.backend.name == "ncnn" and det.input_hw == (320, 320) and det.input_size_source == "hub manifest"
    assert det.spec.layout.value == "raw" and det.spec.strides == ()
    assert det.max_stride == 64
    assert not det.spec.box_first and not det.spec.sigmoid  # classes first, already sigmoided
    dets = det.detect(bus_path)
    assert {"bus", "person"} <= {d.name for d in dets if d.score > 0.5}


def test_io_names_from_the_param(ncnn_dir):
    be = create(ncnn_dir / "yolov6-lite-s.param")
    assert isinstance(be, NcnnBackend)
    assert [s.name for s in be.inputs] == ["in0"]
    assert be.inputs[0].shape == (None, 3, None, None)  # channels read from the first convolution
    assert [s.name for s in be.outputs] == ["out3", "out2", "out1", "out0"]  # file order
    assert all(not s.rank_known for s in be.outputs)
    assert be.supports_batch


@pytest.mark.parametrize(
    ("image", "kwargs"),
    [
        ("bus.jpg", {"input_size": (320, 448)}),  # same scale as 320x320 (height-bound), wider canvas
        ("zidane.jpg", {"input_size": 320, "auto": True}),  # rectangular 192x320, same scale as 320x320
    ],
)
@pytest.mark.parametrize("size", SIZES)
def test_non_square_input_gives_the_same_boxes(ncnn_dir, images_dir, image, kwargs, size):
    """Both runs see the image at the same scale; only the padding differs, so every confident
    detection of the square run is found again, same class, IoU >= 0.9, in original pixels."""
    from lite.ops.nms import box_iou

    param = ncnn_dir / f"yolov6-lite-{size}.param"
    path = images_dir / image
    square = YOLOv6(param, input_size=320, threads=1).detect(path)
    rect_det = YOLOv6(param, threads=1, **kwargs)
    tensor, _ = rect_det.preprocess(path)
    assert tensor.shape[2] != tensor.shape[3]
    rect = rect_det.detect(path)
    confident = square[square.scores >= 0.5]
    assert len(confident) >= 2
    ious = box_iou(confident.xyxy, rect.xyxy) * (confident.class_ids[:, None] == rect.class_ids[None, :])
    assert (ious.max(axis=1) >= 0.9).all(), (size, image, ious.max(axis=1))


def test_batch_is_looped_image_by_image(ncnn_dir, images_dir):
    det = YOLOv6(ncnn_dir / "yolov6-lite-s.param", input_size=320, threads=1)
    a, _ = det.preprocess(images_dir / "bus.jpg")
    b, _ = det.preprocess(images_dir / "zidane.jpg")
    both = det.backend.infer(np.concatenate([a, b]))
    one_a, one_b = det.backend.infer(a), det.backend.infer(b)
    for name in both:
        assert both[name].shape[0] == 2
        np.testing.assert_array_equal(both[name][0], one_a[name][0])
        np.testing.assert_array_equal(both[name][1], one_b[name][0])
    batch = det.detect_batch([images_dir / "bus.jpg", images_dir / "zidane.jpg"])
    assert [len(d) for d in batch] == [
        len(det.detect(images_dir / "bus.jpg")),
        len(det.detect(images_dir / "zidane.jpg")),
    ]


def test_rewrite_turns_se_convolutions_into_inner_products(ncnn_dir):
    text = (ncnn_dir / "yolov6-lite-s.param").read_text()
    param = parse_param(text)
    new, names = rewrite_1d_convolutions(param)
    assert len(names) == 28  # two per squeeze-and-excitation block
    by_name = {layer.name: layer for layer in new.layers}
    first = by_name["convrelu_0"]  # Convolution 0=2 1=1 ... 5=1 6=16 9=1 on the global pooling output
    assert first.type == "InnerProduct"
    assert first.params == {"0": "2", "1": "1", "2": "16", "9": "1"}
    assert by_name["conv_32"].type == "InnerProduct"  # the second 1x1 of the block, fed by the first
    assert by_name["conv_32"].params == {"0": "8", "1": "1", "2": "16"}
    assert by_name["conv_29"].type == "Convolution"  # an ordinary 1x1 on a feature map stays
    assert len(new.layers) == len(param.layers) and new.output_names == param.output_names
    assert parse_param(new.to_text()).to_text() == new.to_text()


@pytest.mark.parametrize("size", SIZES)
def test_rewrite_leaves_outputs_unchanged(ncnn_dir, bus_path, size):
    param = ncnn_dir / f"yolov6-lite-{size}.param"
    fixed = NcnnBackend(param, threads=1)
    raw = NcnnBackend(param, threads=1, rewrite_1d_conv=False)
    assert len(fixed.rewritten) == 28 and raw.rewritten == []
    det = YOLOv6(fixed, input_size=320)
    tensor, _ = det.preprocess(bus_path)
    a, b = raw.infer(tensor), fixed.infer(tensor)
    for name in a:
        max_abs, rel = array_diff(a[name], b[name])
        assert rel < 1e-5 and max_abs < 1e-3, (name, max_abs, rel)  # summation order only


_RUN = """
import sys
from lite.cv.yolov6 import YOLOv6
det = YOLOv6(sys.argv[1], input_size=320, threads=1, rewrite_1d_conv=sys.argv[2] == "1")
for _ in range(2):
    det.detect(sys.argv[3])
print("ran")
"""


def test_official_models_run_quietly(ncnn_dir, bus_path):
    param = str(ncnn_dir / "yolov6-lite-s.param")
    quiet = subprocess.run(
        [sys.executable, "-c", _RUN, param, "1", str(bus_path)], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.strip() == "ran"
    assert quiet.stderr == ""
    # the same run without the rewrite is what the rewrite fixes: 56 lines per inference (28 layers, 2 lines
    # each); lite captures the first run at each input shape (the probe's float tensor, then the first
    # detect()'s uint8 canvas, which NCNN normalises itself): only the second detection prints
    noisy = subprocess.run(
        [sys.executable, "-c", _RUN, param, "0", str(bus_path)], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert noisy.returncode == 0
    assert noisy.stderr.count("Convolution 1d input compatibility path is deprecated") == 28


def test_bin_path_option(tmp_path, ncnn_dir, bus_path):
    param = tmp_path / "model.param"
    param.write_text((ncnn_dir / "yolov6-lite-s.param").read_text())
    with pytest.raises(ModelNotFoundError, match=r"model\.bin"):
        NcnnBackend(param)
    det = YOLOv6(param, input_size=320, threads=1, bin_path=ncnn_dir / "yolov6-lite-s.bin")
    assert len(det.detect(bus_path)) >= 3


def test_missing_bin_is_model_not_found(tmp_path, ncnn_dir):
    param = tmp_path / "yolov6-lite-s.param"
    param.write_text((ncnn_dir / "yolov6-lite-s.param").read_text())
    with pytest.raises(ModelNotFoundError, match=r"yolov6-lite-s\.bin") as e:
        YOLOv6(param)
    assert isinstance(e.value, FileNotFoundError)


def test_missing_param_is_model_not_found(tmp_path):
    with pytest.raises(ModelNotFoundError, match="nothere.param"):
        NcnnBackend(tmp_path / "nothere.param")


def test_truncated_param_is_a_load_error(tmp_path, ncnn_dir):
    text = (ncnn_dir / "yolov6-lite-s.param").read_text()
    param = tmp_path / "cut.param"
    param.write_text(text[: len(text) // 2])
    (tmp_path / "cut.bin").write_bytes((ncnn_dir / "yolov6-lite-s.bin").read_bytes())
    with pytest.raises(ModelLoadError, match=r"cut\.param") as e:
        YOLOv6(param)
    assert "truncated" in str(e.value)
    assert isinstance(e.value, ValueError)


def test_truncated_bin_is_a_load_error(tmp_path, ncnn_dir):
    param = tmp_path / "m.param"
    param.write_text((ncnn_dir / "yolov6-lite-s.param").read_text())
    (tmp_path / "m.bin").write_bytes((ncnn_dir / "yolov6-lite-s.bin").read_bytes()[:100_000])
    with pytest.raises(ModelLoadError, match=r"m\.bin"):
        NcnnBackend(param)


def test_binary_param_is_a_load_error(tmp_path):
    param = tmp_path / "model.param"
    param.write_bytes(b"\xdd\xcc\xbb\xaa" + bytes(range(200)))
    (tmp_path / "model.bin").write_bytes(b"\0" * 64)
    with pytest.raises(ModelLoadError, match=r"model\.param"):
        NcnnBackend(param)


def test_parse_param_outputs_and_inputs():
    text = "\n".join(
        [
            "7767517",
            "5 6",
            "Input a 0 1 a 0=8 1=4 2=3",
            "Input b 0 1 b",
            "Split s 1 2 a a0 a1",
            "BinaryOp add 2 1 a0 b y 0=0",
            "ReLU r 1 1 a1 z",
        ]
    )
    p = parse_param(text)
    assert p.input_names == ["a", "b"]
    assert p.output_names == ["y", "z"]
    with pytest.raises(ModelLoadError, match="declares 5 layers"):
        parse_param("\n".join(text.splitlines()[:-1]))
    with pytest.raises(ModelLoadError, match="truncated"):
        parse_param(text.replace("BinaryOp add 2 1 a0 b y 0=0", "BinaryOp add 2 1 a0"))


def test_declared_input_size_is_a_fixed_input(tmp_path, ncnn_dir):
    text = (ncnn_dir / "yolov6-lite-s.param").read_text()
    param = tmp_path / "sized.param"
    param.write_text(
        text.replace("Input                    in0                      0 1 in0", "Input in0 0 1 in0 0=448 1=320 2=3")
    )
    (tmp_path / "sized.bin").symlink_to(ncnn_dir / "yolov6-lite-s.bin")
    det = YOLOv6(param, threads=1)
    assert det.input_hw == (320, 448)
    assert det.backend.inputs[0].shape == (None, 3, 320, 448)  # the size the file declares is the model's size
    assert det.backend.metadata["input_size"] == "[320, 448]"
    with pytest.raises(InputError, match="320x448"):
        YOLOv6(param, threads=1, input_size=640)  # not run at a size it does not declare
    with pytest.raises(InputError, match=r"expected 320"):
        det.backend.infer(np.zeros((1, 3, 640, 640), np.float32))


def test_fp16_switch(ncnn_dir, bus_path):
    exact = YOLOv6(ncnn_dir / "yolov6-lite-s.param", input_size=320, threads=1)
    fast = YOLOv6(ncnn_dir / "yolov6-lite-s.param", input_size=320, threads=1, fp16=True)
    assert fast.backend.net.opt.use_fp16_arithmetic and not exact.backend.net.opt.use_fp16_arithmetic
    diff = match_detections(exact.detect(bus_path), fast.detect(bus_path), iou=0.95, score_tol=0.02)
    assert diff.ok, diff


def test_raw_runner_and_errors(ncnn_dir):
    be = NcnnBackend(ncnn_dir / "yolov6-lite-s.param", threads=1)
    x = np.full((1, 3, 128, 128), 0.5, np.float32)
    run = be.raw_runner({"in0": x})
    assert run() is None
    with pytest.raises(InputError):
        be.infer(np.zeros((1, 4, 128, 128), np.float32))  # 3 channels expected
    with pytest.raises(DeviceError):
        NcnnBackend(ncnn_dir / "yolov6-lite-s.param", device="cuda:0")
    be.close()
    be.close()
