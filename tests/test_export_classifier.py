"""lite.export.export_classifier: a ResNet defined in torch itself → ONNX, verified against PyTorch."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lite.core.errors import InputError

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
nn = torch.nn


class Basic(nn.Module):
    """ResNet's basic block (torchvision's layout, written here: the torchvision wheels do not load)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (x if self.down is None else self.down(x)))


class TinyResNet(nn.Module):
    def __init__(self, num_classes: int = 10, width: int = 8) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))  # fmt: skip
        chans = [width, width * 2, width * 4, width * 8]
        layers, cin = [], width
        for i, c in enumerate(chans):
            layers += [Basic(cin, c, 1 if i == 0 else 2), Basic(c, c, 1)]
            cin = c
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


def test_resnet_exports_with_classify_metadata(tmp_path):
    import onnxruntime as ort

    from lite.export import export_classifier, read_onnx_metadata
    from lite.ops.classify import to_probabilities, top_k

    torch.manual_seed(0)
    net = TinyResNet(10)
    for m in net.modules():  # non-trivial BatchNorm statistics, so folding them is exercised
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    names = [f"c{i}" for i in range(10)]
    report = export_classifier(net, tmp_path / "resnet.onnx", img_size=64, names=names, dynamic_batch=True,
                               to=("openvino",))  # fmt: skip
    assert report.passed, str(report)
    assert [c.target for c in report.comparisons][0] == "ONNX Runtime" and len(report.comparisons) == 2
    meta = read_onnx_metadata(report.path)
    assert meta["task"] == "classify" and meta["imgsz"] == "[64, 64]" and meta["output"] == "logits"
    assert eval(meta["names"])[3] == "c3"  # noqa: S307 - the ultralytics spelling of names, written by us
    assert json.loads(meta["preprocess"])["short_side"] == 256
    x = np.random.default_rng(1).random((3, 3, 64, 64), dtype=np.float32)  # dynamic batch
    logits = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"]).run(None, {"images": x})[0]
    with torch.no_grad():
        ref = net.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(logits, ref, rtol=1e-3, atol=1e-4)
    assert top_k(to_probabilities(logits[:1])[0], 3)[0].tolist() == np.argsort(-ref[0])[:3].tolist()
    assert net.training is False  # restored to what it was (eval, set above)


def test_softmax_head_and_bad_models(tmp_path):
    from lite.export import export_classifier, read_onnx_metadata
    from lite.ops.classify import is_probabilities

    net = TinyResNet(4).eval()
    report = export_classifier(net, tmp_path / "p.onnx", img_size=(32, 48), softmax=True)
    meta = read_onnx_metadata(report.path)
    assert meta["output"] == "probabilities" and meta["imgsz"] == "[32, 48]"
    import onnxruntime as ort

    out = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"]).run(
        None, {"images": np.zeros((1, 3, 32, 48), np.float32)}
    )[0]
    assert is_probabilities(out)
    with pytest.raises(InputError, match="4 class names"):
        export_classifier(net, tmp_path / "n.onnx", img_size=32, names=["a"])
    with pytest.raises(InputError, match=r"\(N, num_classes\)"):
        export_classifier(nn.Conv2d(3, 4, 3), tmp_path / "c.onnx", img_size=32)
    with pytest.raises(InputError, match="torch.nn.Module"):
        export_classifier(lambda x: x, tmp_path / "f.onnx")


def test_lite_export_classifier_from_a_factory_file_with_weights(tmp_path, bus_path):
    """``lite export --classifier FILE.py:FACTORY --weights W``: the module built, its weights loaded, exported,
    verified; the file opens as a classifier with its own preprocessing (no preset warning) and names."""
    import warnings

    from test_cli import lite

    from lite.core.errors import AssumedDefaultWarning
    from lite.cv import ImageModel
    from lite.export.classifier import load_factory

    factory = tmp_path / "nets.py"
    factory.write_text(
        "from torch import nn\n"
        "def tiny(num_classes=5):\n"
        "    return nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),\n"
        "                         nn.Linear(8, num_classes))\n"
    )
    net = load_factory(f"{factory}:tiny", num_classes=3)
    torch.save(net.state_dict(), tmp_path / "w.pt")
    (tmp_path / "names.txt").write_text("cat\ndog\nfox\n")
    out = tmp_path / "tiny.onnx"
    run = lite("export", "--classifier", f"{factory}:tiny", "--num-classes", "3", "--weights", tmp_path / "w.pt",
               "--img", "64", "--names", tmp_path / "names.txt", "--out", out, "--verify")  # fmt: skip
    assert "PyTorch vs ONNX Runtime" in run.stdout and "ok" in run.stdout
    with warnings.catch_warnings():
        warnings.simplefilter("error", AssumedDefaultWarning)
        clf = ImageModel.from_file(out)
    assert clf.task == "classify" and clf.names == ("cat", "dog", "fox") and clf.family == "imagenet"
    x, _ = clf.preprocess(bus_path)
    want = torch.softmax(net(torch.from_numpy(x)), 1).detach().numpy()[0]
    got = clf.classify(bus_path)
    np.testing.assert_allclose(got.scores, np.sort(want)[::-1], atol=1e-5)
    with pytest.raises(InputError, match="does not fit"):
        load_factory(f"{factory}:tiny", num_classes=4, weights=tmp_path / "w.pt")
    with pytest.raises(InputError, match="has no function 'nope'"):
        load_factory(f"{factory}:nope")
    bad = lite("export", "--classifier", "nofile.py:tiny", ok=False)
    assert bad.returncode == 2 and "no such file 'nofile.py'" in bad.stderr
