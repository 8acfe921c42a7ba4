"""PyTorch → ONNX export (lite.export.torch_to_onnx) and standalone verification (verify_onnx)."""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import numpy_helper  # noqa: E402

from lite.core.errors import ConversionError, InputError, VerificationError  # noqa: E402
from lite.data.metadata import ModelMeta, from_mapping  # noqa: E402
from lite.export import ExportReport, read_onnx_metadata, simplify_onnx, torch_to_onnx, verify_onnx  # noqa: E402
from lite.export.onnx import onnx_opset  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # the test machine is shared: one intra-op thread is much faster than oversubscribed ones
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Block(torch.nn.Module):
    """A ResNet basic block."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(c_out)
        self.conv2 = torch.nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c_out)
        self.short = (
            torch.nn.Sequential(torch.nn.Conv2d(c_in, c_out, 1, stride, bias=False), torch.nn.BatchNorm2d(c_out))
            if stride != 1 or c_in != c_out
            else torch.nn.Identity()
        )

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.short(x))


class TinyResNet(torch.nn.Module):
    """A small ResNet-style image classifier (torchvision is not available here)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, 2, 1, bias=False), torch.nn.BatchNorm2d(16),
                                        torch.nn.SiLU())  # fmt: skip
        self.layers = torch.nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2))
        self.head = torch.nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.head(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


def _classifier(seed: int = 0) -> TinyResNet:
    torch.manual_seed(seed)
    m = TinyResNet()
    # non-trivial BatchNorm statistics, so a wrongly folded BN would show
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    return m.eval()


@pytest.fixture(scope="module")
def classifier_export(tmp_path_factory):
    model = _classifier()
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    path = tmp_path_factory.mktemp("export") / "resnet.onnx"
    meta = ModelMeta(names=tuple(f"c{i}" for i in range(10)), input_size=(64, 64), extra={"task": "classify"})
    report = torch_to_onnx(model, x, path, opset=17, metadata=meta, runs=2)
    return model, x, path, report


def test_classifier_export_passes_verification(classifier_export):
    model, x, path, report = classifier_export
    assert isinstance(report, ExportReport)
    assert path.is_file() and report.path == path
    assert report.exporter == "legacy"
    assert report.simplified and report.simplify_error is None
    assert report.inputs == {"images": (1, 3, 64, 64)}
    assert report.outputs == {"output": (1, 10)}
    comp = report.comparison("ONNX Runtime")
    assert comp.passed and report.passed
    assert comp.samples == 3  # the sample + 2 random inputs
    assert comp.max_abs < 1e-4 and comp.mse < 1e-9 and comp.rel_l2 < 1e-5
    assert comp.reference_ms is not None and comp.reference_ms > 0 and comp.target_ms > 0
    text = str(report)
    assert "PyTorch vs ONNX Runtime" in text and "max abs" in text and "MSE" in text and "opset 17" in text
    assert "PyTorch vs ONNX Runtime: max abs" in comp.summary()
    # the file really computes the classifier: ONNX Runtime logits == PyTorch logits
    import onnxruntime as ort

    got = ort.InferenceSession(str(path)).run(None, {"images": x.numpy()})[0]
    np.testing.assert_allclose(got, model(x).detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_requested_opset_is_written(tmp_path, opset):
    model = _classifier()
    path = tmp_path / f"m{opset}.onnx"
    report = torch_to_onnx(model, torch.rand(1, 3, 32, 32), path, opset=opset, verify=False, simplify=False)
    assert onnx_opset(path) == opset == report.opset
    assert not path.with_name(path.name + ".data").exists()  # one self-contained file


def test_metadata_round_trip(classifier_export):
    _, _, path, report = classifier_export
    props = read_onnx_metadata(path)
    assert props == report.metadata
    meta = from_mapping(props)
    assert meta.names == tuple(f"c{i}" for i in range(10))
    assert meta.input_size == (64, 64)
    assert meta.extra == {"task": "classify"}
    # and as lite's backends see it
    from lite.backends import create

    with create(path) as be:
        assert be.metadata == props


def test_detector_metadata_round_trip(tmp_path):
    meta = ModelMeta(names=("cat", "dog"), strides=(8, 16, 32), input_size=(320, 256), layout="raw",
                     extra={"model": "demo"})  # fmt: skip
    path = tmp_path / "m.onnx"
    torch_to_onnx(torch.nn.Conv2d(3, 4, 1), torch.rand(1, 3, 8, 8), path, metadata=meta, verify=False)
    assert from_mapping(read_onnx_metadata(path)) == meta


def _tamper(src, dst, edit) -> None:
    m = onnx.load(str(src))
    edit(m)
    onnx.save(m, str(dst))


def test_tampered_initializer_fails_verification(classifier_export, tmp_path):
    model, x, path, _ = classifier_export

    def scale_first_weight(m):
        init = next(i for i in m.graph.initializer if numpy_helper.to_array(i).ndim == 4)
        w = numpy_helper.to_array(init) * 1.05
        init.CopyFrom(numpy_helper.from_array(w.astype(np.float32), init.name))

    bad = tmp_path / "tampered.onnx"
    _tamper(path, bad, scale_first_weight)
    with pytest.raises(VerificationError, match="does not reproduce PyTorch") as info:
        verify_onnx(model, bad, [x, torch.rand_like(x)])
    assert "off-tolerance" in str(info.value)
    # the untouched file passes the same standalone check
    comp = verify_onnx(model, path, [x, torch.rand_like(x)], runs=0)
    assert comp.passed and comp.samples == 2


def test_swapped_op_fails_verification(classifier_export, tmp_path):
    model, x, path, _ = classifier_export

    def relu_to_sigmoid(m):
        node = next(n for n in m.graph.node if n.op_type == "Relu")
        node.op_type = "Sigmoid"

    bad = tmp_path / "swapped.onnx"
    _tamper(path, bad, relu_to_sigmoid)
    assert onnx.checker.check_model(onnx.load(str(bad))) is None  # still a valid graph
    comp = verify_onnx(model, bad, x, raise_on_failure=False, runs=0)
    assert not comp.passed
    assert comp.outputs[0].mismatched > 0 and comp.max_abs > 1e-3
    with pytest.raises(AssertionError):  # VerificationError is an AssertionError
        verify_onnx(model, bad, x, runs=0)


def test_simplify_fallback_keeps_the_graph(classifier_export):
    _, _, path, _ = classifier_export
    proto = onnx.load(str(path))

    def broken(_model):
        raise RuntimeError("simplifier exploded")

    with pytest.warns(RuntimeWarning, match="simplifier exploded"):
        out, err = simplify_onnx(proto, broken)
    assert out is proto and "simplifier exploded" in err

    def wrong_opset(model):
        model.opset_import[0].version = 9
        return model

    with pytest.warns(RuntimeWarning, match="opset"):
        out, err = simplify_onnx(proto, wrong_opset)
    assert out is proto and onnx_opset(out) == 17

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, err = simplify_onnx(proto)  # onnxslim itself succeeds without a warning
    assert err is None


def test_export_with_failing_simplifier_still_verifies(tmp_path):
    def broken(_model):
        raise ValueError("cannot simplify")

    with pytest.warns(RuntimeWarning, match="cannot simplify"):
        report = torch_to_onnx(_classifier(), torch.rand(1, 3, 32, 32), tmp_path / "m.onnx", simplifier=broken, runs=0)
    assert not report.simplified and "cannot simplify" in report.simplify_error
    assert report.passed and "onnxslim failed" in str(report)


def test_dynamic_batch(tmp_path):
    model = _classifier()
    report = torch_to_onnx(model, torch.rand(1, 3, 32, 32), tmp_path / "dyn.onnx", dynamic_batch=True, runs=0)
    assert report.inputs["images"][0] == "batch" and report.outputs["output"][0] == "batch"
    assert report.passed  # the random inputs had batch 2
    import onnxruntime as ort

    x = torch.rand(3, 3, 32, 32)
    got = ort.InferenceSession(str(report.path)).run(None, {"images": x.numpy()})[0]
    np.testing.assert_allclose(got, model(x).detach().numpy(), rtol=1e-4, atol=1e-5)


class TwoInTwoOut(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, a, b):
        y = self.conv(a) * b
        return {"feat": y, "pooled": (y.mean((2, 3)), y.amax((2, 3)))}


def test_multi_input_multi_output(tmp_path):
    torch.manual_seed(0)
    m = TwoInTwoOut()
    sample = (torch.rand(1, 3, 16, 16), torch.rand(1, 1, 16, 16))
    report = torch_to_onnx(m, sample, tmp_path / "two.onnx", input_names=("a", "b"), runs=0)
    assert list(report.inputs) == ["a", "b"]
    assert list(report.outputs) == ["output0", "output1", "output2"]
    assert report.passed and [o.name for o in report.comparisons[0].outputs] == ["output0", "output1", "output2"]


def test_bad_arguments(tmp_path):
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(InputError, match="input_names"):
        torch_to_onnx(_classifier(), x, tmp_path / "m.onnx", input_names=("a", "b"))
    with pytest.raises(InputError, match="output_names"):
        torch_to_onnx(_classifier(), x, tmp_path / "m.onnx", output_names=("a", "b"))
    with pytest.raises(InputError, match="torch.nn.Module"):
        torch_to_onnx(lambda t: t, x, tmp_path / "m.onnx")
    with pytest.raises(InputError, match="exporter"):
        torch_to_onnx(_classifier(), x, tmp_path / "m.onnx", exporter="magic")


class Unexportable(torch.nn.Module):
    def forward(self, x):
        return torch.linalg.eig(x)[0].real  # no ONNX symbolic


def test_export_failure_is_conversion_error(tmp_path):
    with pytest.raises(ConversionError, match="could not export"):
        torch_to_onnx(Unexportable(), torch.rand(1, 4, 4), tmp_path / "m.onnx", exporter="legacy")


needs_onnxscript = pytest.mark.skipif(
    importlib.util.find_spec("onnxscript") is None, reason="the dynamo exporter needs onnxscript (not installed)"
)


@needs_onnxscript
def test_dynamo_exporter_opset_is_checked(tmp_path):
    model = _classifier()
    x = torch.rand(1, 3, 32, 32)
    # torch 2.13's dynamo exporter has nothing below opset 18 and keeps 18 when conversion fails
    report = torch_to_onnx(model, x, tmp_path / "d18.onnx", opset=18, exporter="dynamo", runs=0)
    assert report.exporter == "dynamo" and onnx_opset(report.path) == 18 and report.passed
    assert not (tmp_path / "d18.onnx.data").exists()  # external_data=False
    try:
        report = torch_to_onnx(model, x, tmp_path / "d13.onnx", opset=13, exporter="dynamo", verify=False)
    except ConversionError as e:
        assert "opset" in str(e)
    else:  # a torch whose version converter succeeds must still have written opset 13
        assert onnx_opset(report.path) == 13


# ----------------------------------------------------------------------------------------------
# the demo detector (examples/demo_training/demo_detector.py)
# ----------------------------------------------------------------------------------------------
def _demo():
    try:
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "demo_training"))
        import demo_detector
    except ImportError as e:
        pytest.skip(f"examples/demo_training/demo_detector.py is not importable: {type(e).__name__}: {e}")
    return demo_detector


def test_demo_detector_export(tmp_path):
    dd = _demo()
    from lite.ops.decoders.yolov6 import DecodeSpec, Layout, candidates

    torch.manual_seed(0)
    size = 128
    cfg = dd.DemoConfig(img_size=size)
    model = dd.DemoDetector(cfg, export_layout="decoded").eval()
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(3))
    meta = ModelMeta(names=tuple(cfg.names), strides=tuple(dd.STRIDES), input_size=(size, size), layout="decoded")
    dec = torch_to_onnx(model, x, tmp_path / "demo_decoded.onnx", opset=13, output_names=["outputs"], metadata=meta,
                        n_random=1, runs=0)  # fmt: skip
    assert dec.passed and dec.outputs["outputs"][2] == 5 + cfg.nc
    model.export_layout = "raw"
    raw_names = [f"out{i}" for i in range(len(dd.STRIDES))]
    raw = torch_to_onnx(model, x, tmp_path / "demo_raw.onnx", opset=13, output_names=raw_names, n_random=1, runs=0)
    assert raw.passed and list(raw.outputs) == raw_names
    # lite's decoder reads both exports to the same candidates
    import onnxruntime as ort

    o_dec = ort.InferenceSession(str(dec.path)).run(None, {"images": x.numpy()})
    o_raw = ort.InferenceSession(str(raw.path)).run(None, {"images": x.numpy()})
    spec_d = DecodeSpec(Layout.DECODED, ("outputs",), cfg.nc, has_obj=True, resolved=True)
    spec_r = DecodeSpec(Layout.RAW, tuple(raw_names), cfg.nc, box_first=True, sigmoid=False,
                        strides=tuple(dd.STRIDES), resolved=True)  # fmt: skip
    (cd,) = candidates({"outputs": o_dec[0]}, spec_d, (size, size), conf=0.0, pre_nms_topk=10**6)
    (cr,) = candidates(dict(zip(raw_names, o_raw, strict=True)), spec_r, (size, size), conf=0.0, pre_nms_topk=10**6)
    assert len(cd) == len(cr) == o_dec[0].shape[1]
    assert_same_candidates(cd, cr, box_atol=1e-3, score_atol=1e-5)


def assert_same_candidates(a, b, *, box_atol: float, score_atol: float) -> None:
    """Every candidate of ``a`` has one in ``b`` of the same class, box and score (one-to-one)."""
    assert len(a) == len(b) and len(a) > 0
    d = np.abs(a.boxes[:, None, :].astype(np.float64) - b.boxes[None, :, :]).max(axis=2)
    d[a.class_ids[:, None] != b.class_ids[None, :]] = np.inf
    nearest = d.argmin(axis=1)
    assert len(set(nearest.tolist())) == len(a), "two candidates matched the same one"
    assert d[np.arange(len(a)), nearest].max() <= box_atol
    np.testing.assert_allclose(a.scores, b.scores[nearest], atol=score_atol)
