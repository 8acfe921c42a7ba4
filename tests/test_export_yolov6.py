"""YOLOv6 checkpoint → ONNX round trip with YOLOv6's own code (PyPI ``yolov6detect``, installed with --no-deps).

YOLOv6-N (3 levels) and YOLOv6-N6 (4 levels, strides 8–64) are built from the package's configs
with random weights (fixed seeds, BatchNorm statistics calibrated on random images and a class head
biased so that some scores pass the thresholds), saved as its trainer saves checkpoints (half
precision), then exported in the three layouts. The checks: each export matches PyTorch in ONNX
Runtime; lite's decode of ``raw`` gives the candidates of ``decoded``; ``end2end`` gives what
``decoded`` + lite's NMS give.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from lite.core.errors import InputError  # noqa: E402
from lite.export.yolov6 import YOLOv6NotInstalledError, import_yolov6  # noqa: E402

try:
    import_yolov6()
except YOLOv6NotInstalledError as _e:
    pytest.skip(f"YOLOv6's code is not installed (pip install --no-deps yolov6detect==0.4.1): {_e}",
                allow_module_level=True)  # fmt: skip

import onnxruntime as ort  # noqa: E402

from lite.data.metadata import from_mapping  # noqa: E402
from lite.export.end2end import reference_end2end  # noqa: E402
from lite.export.onnx import onnx_opset, read_onnx_metadata  # noqa: E402
from lite.export.yolov6 import (  # noqa: E402
    build_yolov6,
    export_yolov6,
    load_yolov6_checkpoint,
    prepare_yolov6,
    save_yolov6_checkpoint,
    yolov6_export_module,
)
from lite.ops.candidates import Candidates  # noqa: E402
from lite.ops.decoders.yolov6 import Layout, candidates, detect_layout, postprocess, refine_layout  # noqa: E402

# YOLOv6's anchor code calls torch.meshgrid without indexing=
pytestmark = pytest.mark.filterwarnings("ignore:torch.meshgrid:UserWarning")

#: config → (input size, strides)
CASES = {"yolov6n": (192, (8, 16, 32)), "yolov6n6": (256, (8, 16, 32, 64))}
CONF = 0.25


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core machine: one thread is faster than oversubscribed ones
    yield
    torch.set_num_threads(before)


def make_model(config: str, size: int):
    """A YOLOv6 model with random but informative weights (varied scores and boxes)."""
    model = build_yolov6(config, num_classes=80, seed=0)
    g = torch.Generator().manual_seed(1)
    det = model.detect
    for conv in det.cls_preds:  # YOLOv6 initialises these to constants: every score would be 0.01
        conv.weight.data = torch.randn(conv.weight.shape, generator=g) * 0.03
        conv.bias.data = torch.randn(conv.bias.shape, generator=g) * 0.5 - 3.0
    for conv in det.reg_preds:
        conv.weight.data = torch.randn(conv.weight.shape, generator=g) * 0.02
        conv.bias.data = torch.rand(conv.bias.shape, generator=g) * 2 + 1
    for m in model.modules():  # BatchNorm statistics of real activations, so the input matters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
            m.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(torch.rand(4, 3, size, size, generator=g))
    return model.eval()


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request, tmp_path_factory):
    config = request.param
    size, strides = CASES[config]
    folder = tmp_path_factory.mktemp(config)
    ckpt = save_yolov6_checkpoint(make_model(config, size), folder / f"{config}.pt", epoch=3)
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    # Boxes are in input pixels: at stride 64 a float32 rounding of 1e-4 stride units is ~0.01 px, so the
    # absolute tolerance is in pixels (ONNX Runtime 1.32 vs PyTorch differ by up to 0.016 px on one
    # near-zero box coordinate of yolov6n6; rel L2 stays ~3e-6). Scores are checked again by the detections.
    reports = {
        layout: export_yolov6(ckpt, img_size=size, layout=layout, sample=x, conf=CONF, n_random=1, runs=0, atol=0.05)
        for layout in ("decoded", "raw", "end2end")
    }
    return {"config": config, "size": size, "strides": strides, "ckpt": ckpt, "x": x, "reports": reports}


def run_onnx(path, x) -> dict[str, np.ndarray]:
    sess = ort.InferenceSession(str(path))
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"images": x.numpy()}), strict=True))


def assert_same_candidates(a, b, *, box_atol: float, score_atol: float) -> None:
    """Every detection of ``a`` has one in ``b`` with the same class, box and score (one-to-one)."""
    assert len(a) == len(b) and len(a) > 0
    d = np.abs(a.boxes[:, None, :].astype(np.float64) - b.boxes[None, :, :]).max(axis=2)
    d[a.class_ids[:, None] != b.class_ids[None, :]] = np.inf
    nearest = d.argmin(axis=1)
    assert len(set(nearest.tolist())) == len(a), "two detections matched the same one"
    assert d[np.arange(len(a)), nearest].max() <= box_atol
    np.testing.assert_allclose(a.scores, b.scores[nearest], atol=score_atol)


def test_checkpoint_is_in_trainer_format(case):
    ckpt = torch.load(case["ckpt"], map_location="cpu", weights_only=False)
    assert {"model", "ema", "epoch"} <= set(ckpt) and ckpt["epoch"] == 3
    assert next(ckpt["model"].parameters()).dtype == torch.float16
    model = load_yolov6_checkpoint(case["ckpt"])
    assert next(model.parameters()).dtype == torch.float32 and not model.training
    assert tuple(model.detect.stride.tolist()) == case["strides"]


def test_deploy_form(case):
    model = prepare_yolov6(load_yolov6_checkpoint(case["ckpt"]))
    from yolov6.layers.common import RepVGGBlock

    blocks = [m for m in model.modules() if isinstance(m, RepVGGBlock)]
    assert blocks and all(hasattr(b, "rbr_reparam") and not hasattr(b, "rbr_dense") for b in blocks)
    assert not any(isinstance(m, torch.nn.SiLU | torch.nn.BatchNorm2d) for m in model.modules())
    # deploy form computes what the training form computes
    train_form = load_yolov6_checkpoint(case["ckpt"])
    with torch.no_grad():
        a = yolov6_export_module(train_form, "decoded")(case["x"])
        b = yolov6_export_module(model, "decoded")(case["x"])
    # Fusing BatchNorm into the convolutions reorders float32 sums: on one box coordinate of ~5 px, YOLOv6-N6's
    # random weights gave 0.008 px between the two forms in one run in three (oneDNN picks its kernels per run).
    np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-3, atol=1e-2)


def test_every_layout_matches_pytorch(case):
    for layout, report in case["reports"].items():
        assert report.passed, str(report)
        assert onnx_opset(report.path) == 13
        first = report.comparisons[0]
        assert first.reference == "PyTorch" and first.samples == 2 and first.rel_l2 < 1e-5, layout


def test_output_shapes_and_metadata(case):
    size, strides = case["size"], case["strides"]
    reports = case["reports"]
    n = sum((size // s) ** 2 for s in strides)
    assert reports["decoded"].outputs == {"outputs": (1, n, 85)}
    assert reports["raw"].outputs == {f"out{i}": (1, 84, size // s, size // s) for i, s in enumerate(strides)}
    assert list(reports["end2end"].outputs) == ["num_dets", "det_boxes", "det_scores", "det_classes"]
    for layout in ("decoded", "raw", "end2end"):
        meta = from_mapping(read_onnx_metadata(reports[layout].path))
        assert meta.layout == layout and meta.strides == strides and meta.input_size == (size, size)
        assert meta.names is not None and len(meta.names) == 80 and meta.names[0] == "person"


def test_raw_decodes_to_the_decoded_candidates(case):
    size, x = case["size"], case["x"]
    dec_out = run_onnx(case["reports"]["decoded"].path, x)
    raw_out = run_onnx(case["reports"]["raw"].path, x)
    spec_d = refine_layout(detect_layout({k: v.shape for k, v in dec_out.items()}), dec_out)
    spec_r = refine_layout(detect_layout({k: v.shape for k, v in raw_out.items()}), raw_out)
    # the raw export is read as YOLOv6's own head layout: classes first, already sigmoided
    assert spec_r.layout is Layout.RAW and not spec_r.box_first and not spec_r.sigmoid
    assert spec_d.layout is Layout.DECODED
    for conf in (0.01, CONF):
        (cd,) = candidates(dec_out, spec_d, (size, size), conf=conf, pre_nms_topk=10**6)
        (cr,) = candidates(raw_out, spec_r, (size, size), conf=conf, pre_nms_topk=10**6)
        assert len(cd) > 0
        assert_same_candidates(cr, cd, box_atol=1e-3, score_atol=1e-5)


def test_end2end_equals_decoded_plus_lite_nms(case):
    x = case["x"]
    out = run_onnx(case["reports"]["end2end"].path, x)
    assert out["num_dets"].dtype == np.int64 and out["det_classes"].dtype == np.int64
    k = int(out["num_dets"][0, 0])
    assert out["det_boxes"].shape == (1, k + 1, 4)  # K detections + the trailing zero row, class -1
    assert out["det_classes"][0, k] == -1 and out["det_scores"][0, k] == 0
    assert np.all(np.diff(out["det_scores"][0]) <= 0)  # sorted by score
    # lite's end2end reader
    spec = detect_layout({name: v.shape for name, v in out.items()})
    assert spec.layout is Layout.END2END
    (got,) = postprocess(out, spec, (case["size"],) * 2, conf=0.0, max_det=1000)
    assert len(got) == k > 0

    # 1. exactly what the decoded export + lite's NMS give on the same input
    decoded_onnx = run_onnx(case["reports"]["decoded"].path, x)["outputs"]
    (want,) = reference_end2end(decoded_onnx, score_threshold=CONF, iou_threshold=0.45, max_per_class=100)
    assert_same_candidates(Candidates(*want), got, box_atol=1e-4, score_atol=1e-6)

    # 2. and what PyTorch + lite's NMS give: ONNX Runtime's scores differ from PyTorch's by ~1e-5 and its boxes by
    # up to ~0.02 px at stride 64 (ONNX Runtime 1.32),
    # so a box scored within that of the threshold may go either way (and can only suppress boxes
    # scored lower still): compare the detections clearly above the threshold
    model = prepare_yolov6(load_yolov6_checkpoint(case["ckpt"]))
    with torch.no_grad():
        decoded_torch = yolov6_export_module(model, "decoded")(x).numpy()
    (ref,) = reference_end2end(decoded_torch, score_threshold=CONF, iou_threshold=0.45, max_per_class=100)
    margin = CONF + 1e-3
    ref_sure = Candidates(*(a[ref[1] > margin] for a in ref))
    got_sure = Candidates(got.boxes[got.scores > margin], got.scores[got.scores > margin],
                          got.class_ids[got.scores > margin])  # fmt: skip
    assert abs(len(ref[1]) - k) <= 2
    assert_same_candidates(ref_sure, got_sure, box_atol=0.05, score_atol=1e-4)
    report = case["reports"]["end2end"]
    assert [c.target for c in report.comparisons] == ["ONNX Runtime (before NMS)", "ONNX Runtime end2end"]
    assert report.comparisons[1].passed


def test_lite_detector_reads_the_exports(case):
    from lite.cv.yolov6 import YOLOv6

    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (case["size"] + 40, case["size"], 3), dtype=np.uint8)
    found = {}
    for layout in ("decoded", "raw"):
        with YOLOv6(case["reports"][layout].path, conf=0.05, iou=0.45) as det:
            assert det.input_hw == (case["size"], case["size"])
            found[layout] = det.detect(img)
    raw, dec = (Candidates(d.xyxy, d.scores, d.class_ids) for d in (found["raw"], found["decoded"]))
    assert_same_candidates(raw, dec, box_atol=1e-2, score_atol=1e-5)  # in original-image pixels


@pytest.mark.parametrize("case", ["yolov6n"], indirect=True)  # the CLI once, on YOLOv6-N
def test_cli_dynamic_batch_raw(case, tmp_path, capsys):
    from lite.cli import main

    out = tmp_path / "n_dyn_raw.onnx"
    rc = main(["export", str(case["ckpt"]), "--img", str(case["size"]), "--layout", "raw", "--batch", "dynamic",
               "--out", str(out), "--verify"])  # fmt: skip
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "PyTorch vs ONNX Runtime" in text and "max abs" in text and "ok" in text
    sess = ort.InferenceSession(str(out))
    assert sess.get_inputs()[0].shape[0] == "batch"
    x = torch.rand(3, 3, case["size"], case["size"])
    outs = sess.run(None, {"images": x.numpy()})
    model = prepare_yolov6(load_yolov6_checkpoint(case["ckpt"]))
    with torch.no_grad():
        ref = yolov6_export_module(model, "raw")(x)
    for got, want in zip(outs, ref, strict=True):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-3, atol=1e-4)


def test_bad_arguments(case, tmp_path):
    with pytest.raises(InputError, match="multiple of the largest stride"):
        export_yolov6(case["ckpt"], tmp_path / "m.onnx", img_size=case["size"] + 8, verify=False)
    with pytest.raises(InputError, match="layout"):
        export_yolov6(case["ckpt"], tmp_path / "m.onnx", layout="magic")
    with pytest.raises(InputError, match="NonMaxSuppression"):
        export_yolov6(case["ckpt"], tmp_path / "m.onnx", layout="end2end", to=["ncnn"])


def test_missing_yolov6_is_a_clear_import_error(case, monkeypatch, capsys):
    import lite.export.yolov6 as ex

    for name in [m for m in sys.modules if m == "yolov6" or m.startswith("yolov6.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(ex, "_find_yolov6", lambda: None)
    with pytest.raises(ImportError, match=r"pip install --no-deps yolov6detect") as info:
        load_yolov6_checkpoint(case["ckpt"])
    assert isinstance(info.value, YOLOv6NotInstalledError) and "sys.path" in str(info.value)
    from lite.cli import main

    assert main(["export", str(case["ckpt"]), "--img", str(case["size"])]) == 2
    assert "yolov6detect" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["yolov6n"], indirect=True)  # conversion once, on YOLOv6-N
def test_convert_to_ncnn_and_mnn(case, tmp_path):
    try:
        from lite.convert import onnx_to_mnn, onnx_to_ncnn  # noqa: F401
    except ImportError as e:
        pytest.skip(f"lite.convert.onnx_to_ncnn/onnx_to_mnn are not available yet: {e}")
    # MNN 3.6's fp32 CPU kernels differ from ONNX Runtime by up to 0.021 stride units on the stride-32 box
    # distances of this random-weight network on uniform noise (measured here over 3 inputs; real YOLOv6Lite
    # models agree within 5e-4), beyond the default engine tolerance of 0.01 + 0.01·|ref|.
    report = export_yolov6(case["ckpt"], tmp_path / "n_raw.onnx", img_size=case["size"], layout="raw",
                           to=["ncnn", "mnn"], n_random=1, runs=1, engine_atol=0.05)  # fmt: skip
    targets = [c.target for c in report.comparisons]
    assert targets == ["ONNX Runtime", "NCNN", "MNN"]
    assert all(p.exists() for p in report.files)
    assert report.passed, str(report)
