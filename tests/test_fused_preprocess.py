"""Pixels into the engine: the preprocessing prepended to an ONNX graph in memory, and the detector hook."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper  # noqa: E402

from lite.backends import create  # noqa: E402
from lite.backends._ort_fuse import fuse_preprocess_model  # noqa: E402
from lite.cv import YOLOv6  # noqa: E402
from lite.ops.canvas import canvas_batch  # noqa: E402
from lite.ops.letterbox import Letterbox  # noqa: E402
from lite.ops.preprocess import PreprocessConfig, normalize  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "hub" / "lite-demo-shapes.onnx"

CONFIGS = {
    "yolov6": PreprocessConfig(),
    "yolox": PreprocessConfig(color="bgr", scale=1.0, pad_align="topleft"),
    "nanodet": PreprocessConfig(color="bgr", scale=1.0, mean=(103.53, 116.28, 123.675), std=(57.375, 57.12, 58.395),
                                pad_value=0),
    "imagenet_rgb": PreprocessConfig(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
}  # fmt: skip


def identity_model(path: Path, elem: int = TensorProto.FLOAT, opset: int = 13) -> Path:
    """A model whose output is its (N, 3, H, W) input: shows exactly what the engine was fed."""
    x = helper.make_tensor_value_info("images", elem, ["n", 3, "h", "w"])
    y = helper.make_tensor_value_info("out", elem, ["n", 3, "h", "w"])
    graph = helper.make_graph([helper.make_node("Identity", ["images"], ["out"])], "identity", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def run_fused(path: Path, config: PreprocessConfig, canvases: np.ndarray) -> np.ndarray:
    fused = fuse_preprocess_model(onnx.load(str(path)), config)
    s = ort.InferenceSession(fused.SerializeToString(), providers=["CPUExecutionProvider"])
    assert s.get_inputs()[0].type == "tensor(uint8)"
    return s.run(None, {"images": canvases})[0]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_prepended_graph_matches_numpy_normalize(tmp_path: Path, name: str) -> None:
    config = CONFIGS[name]
    rng = np.random.default_rng(0)
    canvases = rng.integers(0, 256, size=(2, 48, 64, 3), dtype=np.uint8)
    canvases[0, 0, :3] = [[0, 0, 0], [255, 255, 255], [114, 114, 114]]
    got = run_fused(identity_model(tmp_path / "id.onnx"), config, canvases)
    want = normalize(canvases, config)
    assert got.shape == want.shape == (2, 3, 48, 64) and got.dtype == np.float32
    if config.plain:
        np.testing.assert_array_equal(got, want)  # bit for bit, like YOLOv6's tensor.float() / 255
    else:
        np.testing.assert_array_max_ulp(got, want, maxulp=1)
    # the channel order really is the config's: RGB configs swap B and R, BGR ones do not
    first = canvases[0, 5, 7].astype(np.float64)
    a, b = config.affine()
    order = first[::-1] if config.color == "rgb" else first
    np.testing.assert_allclose(got[0, :, 5, 7], order * a + b, rtol=1e-6, atol=1e-6)


def test_float16_input_is_cast_like_the_feed_check(tmp_path: Path) -> None:
    canvases = np.random.default_rng(1).integers(0, 256, size=(1, 32, 32, 3), dtype=np.uint8)
    got = run_fused(identity_model(tmp_path / "id16.onnx", TensorProto.FLOAT16), PreprocessConfig(), canvases)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, normalize(canvases).astype(np.float16))


def test_old_opset_is_refused_not_rewritten(tmp_path: Path) -> None:
    path = identity_model(tmp_path / "old.onnx", opset=9)
    with pytest.raises(ValueError, match="opset"):
        fuse_preprocess_model(onnx.load(str(path)), PreprocessConfig())
    be = create(path, "ort")
    assert be.fuse_preprocess(PreprocessConfig()) is False
    assert be.inputs[0].dtype == np.float32 and be.fused_config is None
    with pytest.raises(ValueError, match="fuse_preprocess"):
        be.infer_canvas(np.zeros((1, 8, 8, 3), np.uint8))


def test_backend_fuse_keeps_the_file_and_the_float_path(tmp_path: Path) -> None:
    path = identity_model(tmp_path / "id.onnx")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    be = create(path, "ort")
    assert be.fuse_preprocess(CONFIGS["nanodet"]) is True
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    spec = be.inputs[0]  # the model's own input is still what the spec describes
    assert spec.name == "images" and spec.dtype == np.float32 and spec.shape[1] == 3
    assert be.fused_config == CONFIGS["nanodet"]
    assert be.fuse_preprocess(CONFIGS["nanodet"]) is True  # idempotent
    assert be.fuse_preprocess(CONFIGS["yolov6"]) is False  # a second, different config is refused
    canv = np.full((2, 8, 8, 3), 200, np.uint8)
    canv[1] = 7
    np.testing.assert_array_max_ulp(be.infer_canvas(canv)["out"], normalize(canv, CONFIGS["nanodet"]), maxulp=1)
    x = np.random.default_rng(0).random((1, 3, 8, 8), np.float32)
    np.testing.assert_array_equal(be.infer(x)["out"], x)  # a float tensor still runs the model as written
    np.testing.assert_array_equal(be.raw_runner({"images": x})()[0], x)
    with pytest.raises(ValueError, match="canvases"):
        be.infer_canvas(np.zeros((1, 3, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="canvases"):
        be.infer_canvas(np.zeros((1, 8, 8, 3), np.float32))


def test_canvas_batch_matches_letterbox_batch(tmp_path: Path) -> None:
    lb = Letterbox(64, auto=True, stride=32)
    rng = np.random.default_rng(2)
    imgs = [rng.integers(0, 256, size=s, dtype=np.uint8) for s in ((40, 90, 3), (100, 50, 3), (64, 64, 3))]
    canv, ts = canvas_batch(lb, imgs)
    tensor, ts2 = lb.batch(imgs)
    assert ts == ts2 and canv.shape == (3, *tensor.shape[2:], 3)
    np.testing.assert_array_equal(normalize(canv), tensor)


def test_demo_detector_fused_equals_unfused() -> None:
    rng = np.random.default_rng(3)
    from lite.demo.scenes import make_scene

    img = make_scene(rng, size=(300, 420))[0]
    fused, plain = YOLOv6(DEMO, threads=1, fuse_preprocess=True), YOLOv6(DEMO, threads=1)
    assert fused.fused and not plain.fused  # opt-in on ONNX Runtime
    assert fused.info()["fused_preprocess"] is True and plain.info()["fused_preprocess"] is False
    a, b = fused.detect(img), plain.detect(img)
    assert len(a) > 0
    np.testing.assert_array_equal(a.xyxy, b.xyxy)
    np.testing.assert_array_equal(a.scores, b.scores)
    x1, t1 = fused.preprocess(img)  # the public stages keep the float tensor
    x2, t2 = plain.preprocess(img)
    assert x1.dtype == np.float32 and t1 == t2
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(fused.infer(x1)["outputs"], plain.infer(x2)["outputs"])  # float path kept
    c, _ = fused._feed(img)
    assert c.dtype == np.uint8 and c.shape[0] == 1 and c.shape[-1] == 3
    batch_a, batch_b = fused.detect_batch([img, img[:, ::-1]]), plain.detect_batch([img, img[:, ::-1]])
    for da, db in zip(batch_a, batch_b, strict=True):
        np.testing.assert_allclose(da.xyxy, db.xyxy, atol=1e-3)


def test_real_model_fused_outputs_match(shared: Path) -> None:
    import cv2

    model = shared / "models" / "yolov6lite" / "onnx" / "yolov6lite_s_320_raw.onnx"
    img = cv2.imread(str(shared / "images" / "bus.jpg"))
    fused, plain = YOLOv6(model, threads=1, fuse_preprocess=True), YOLOv6(model, threads=1, fuse_preprocess=False)
    xf, tf = fused._feed(img)
    xp, tp = plain.preprocess(img)
    assert tf == tp and xf.dtype == np.uint8
    of, op = fused.infer(xf), plain.infer(xp)
    for k in op:
        np.testing.assert_allclose(of[k], op[k], rtol=0, atol=1e-5)
    df, dp = fused.detect(img), plain.detect(img)
    assert len(df) == len(dp) == 9
    np.testing.assert_allclose(df.xyxy, dp.xyxy, atol=1e-3)


def test_ncnn_fused_from_pixels_matches(shared: Path) -> None:
    pytest.importorskip("ncnn")
    import cv2

    param = shared / "models" / "yolov6lite" / "ncnn" / "yolov6-lite-s.param"
    img = cv2.imread(str(shared / "images" / "bus.jpg"))
    fused = YOLOv6(param, threads=1, input_size=320)  # NCNN fuses by default
    plain = YOLOv6(param, threads=1, input_size=320, fuse_preprocess=False)
    assert fused.fused and not plain.fused
    xf, _ = fused._feed(img)
    xp, _ = plain.preprocess(img)
    assert xf.dtype == np.uint8
    of, op = fused.infer(xf), plain.infer(xp)
    for k in op:  # the input differs by at most 1 ulp (x * (1/255) vs x / 255)
        np.testing.assert_allclose(of[k], op[k], rtol=0, atol=2e-3)
    df, dp = fused.detect(img), plain.detect(img)
    assert len(df) == len(dp) == 9
    np.testing.assert_array_equal(df.class_ids, dp.class_ids)
    np.testing.assert_allclose(df.xyxy, dp.xyxy, atol=0.05)
    # a batch runs image by image through from_pixels too
    batch = fused.detect_batch([img, img])
    np.testing.assert_allclose(batch[1].xyxy, df.xyxy, atol=1e-4)


def test_from_file_passes_fuse_preprocess() -> None:
    from lite.cv.detector import Detector

    assert Detector.from_file(DEMO, threads=1).fused is False  # ONNX Runtime: opt-in (measured no faster)
    assert Detector.from_file(DEMO, threads=1, fuse_preprocess=True).fused is True


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_openvino_prepostprocessor_matches_numpy(tmp_path: Path, name: str) -> None:
    """The PrePostProcessor model the OpenVINO backend compiles for canvases (lite.backends._ov_fuse)."""
    ov = pytest.importorskip("openvino")
    from lite.backends._ov_fuse import fuse_preprocess_ov

    config = CONFIGS[name]
    model = ov.Core().read_model(str(identity_model(tmp_path / "id.onnx")))
    fused = fuse_preprocess_ov(ov, model, config)
    compiled = ov.Core().compile_model(fused, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    canvases = np.random.default_rng(4).integers(0, 256, size=(1, 40, 56, 3), dtype=np.uint8)
    got = compiled.create_infer_request().infer({0: canvases}).to_tuple()[0]
    want = normalize(canvases, config)
    assert got.shape == want.shape
    if config.plain:
        np.testing.assert_array_max_ulp(got, want, maxulp=1)
    else:  # (x - m) / s vs numpy's x * a + b: equal to float32 rounding of the terms (~2.4e-7 at |x·a| < 4)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_tensor_into_reuses_one_array_per_thread_and_matches_letterbox() -> None:
    import threading

    from lite.ops.canvas import TensorCache, tensor_into

    lb = Letterbox(64, config=CONFIGS["nanodet"])
    rng = np.random.default_rng(5)
    a, b = (rng.integers(0, 256, size=(48, 80, 3), dtype=np.uint8) for _ in range(2))
    cache = TensorCache()
    xa, ta = tensor_into(lb, a, cache)
    want_a = lb(a)[0]
    np.testing.assert_array_equal(xa, want_a)
    xb, _ = tensor_into(lb, b, cache)
    assert xb is xa  # the same array, refilled: no allocation per call
    np.testing.assert_array_equal(xb, lb(b)[0])
    other = []
    t = threading.Thread(target=lambda: other.append(tensor_into(lb, a, cache)[0]))
    t.start()
    t.join()
    assert other[0] is not xa  # another thread has its own
    np.testing.assert_array_equal(other[0], want_a)


def test_ort_spinning_option() -> None:
    be = create(DEMO, "ort", threads=2, spinning=False)
    assert be.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    be = create(DEMO, "ort", threads=2, spinning=True)
    assert be.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "1"


def test_ort_fuses_by_default_from_512(shared: Path) -> None:
    from lite.cv.detector import Detector

    v8 = Detector.from_file(shared / "models" / "foreign" / "yolov8" / "yolov8n_int8.onnx", threads=1)
    assert v8.input_hw == (640, 640) and v8.fused  # 640: fused unless told
    s320 = Detector.from_file(shared / "models" / "yolov6lite" / "onnx" / "yolov6lite_s_320_raw.onnx", threads=1)
    assert not s320.fused  # 320: the second session's load time is not won back
    import cv2

    img = cv2.imread(str(shared / "images" / "bus.jpg"))
    plain = Detector.from_file(shared / "models" / "foreign" / "yolov8" / "yolov8n_int8.onnx", threads=1,
                               fuse_preprocess=False)  # fmt: skip
    a, b = v8.detect(img), plain.detect(img)
    np.testing.assert_array_equal(a.class_ids, b.class_ids)
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)
