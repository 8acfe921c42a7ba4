"""Tests of lite's demo detector: output layouts, decoding contract, size budget, loss, checkpoints, export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

# the demo detector is training code, not part of the package: it lives in examples/demo_training/
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "demo_training"))

from demo_detector import (  # noqa: E402
    STRIDES,
    DemoConfig,
    DemoDetector,
    DetectionLoss,
    count_parameters,
    decode_raw_outputs,
    export_onnx,
    letterbox,
    load_checkpoint,
    save_checkpoint,
)

NC = 6
IMG = 320


def _random_model(layout: str = "decoded", seed: int = 0) -> DemoDetector:
    """A model whose every weight and BN statistic is random, so outputs are not trivially constant."""
    torch.manual_seed(seed)
    model = DemoDetector(DemoConfig(), export_layout=layout)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.normal_(0.0, 0.1)
            elif name.endswith("running_var"):
                b.uniform_(0.5, 2.0)
    return model.eval().double()


def _hand_decode(raw: list[np.ndarray]) -> np.ndarray:
    """Decode per-level ``[l, t, r, b, scores]`` maps by the YOLOv6 formula, independently of the library."""
    rows = []
    for level, s in zip(raw, STRIDES, strict=True):
        _, c, h, w = level.shape
        for i in range(h):
            for j in range(w):
                cell = level[0, :, i, j]
                lft, top, rgt, bot = cell[:4]
                x1, y1 = (j + 0.5 - lft) * s, (i + 0.5 - top) * s
                x2, y2 = (j + 0.5 + rgt) * s, (i + 0.5 + bot) * s
                rows.append([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, 1.0, *cell[4:]])
    return np.asarray(rows)[None]


def test_output_shapes() -> None:
    x = torch.rand(2, 3, IMG, IMG, dtype=torch.float64)
    model = _random_model("decoded")
    with torch.no_grad():
        dec = model(x)
    n = sum((IMG // s) ** 2 for s in STRIDES)
    assert n == 2100
    assert tuple(dec.shape) == (2, n, 5 + NC)
    model.export_layout = "raw"
    with torch.no_grad():
        raw = model(x)
    assert isinstance(raw, tuple) and len(raw) == 3
    for r, s in zip(raw, STRIDES, strict=True):
        assert tuple(r.shape) == (2, 4 + NC, IMG // s, IMG // s)
    model.train()
    out = model(x)
    assert tuple(out["dist"].shape) == (2, n, 4)
    assert tuple(out["logits"].shape) == (2, n, NC)
    assert tuple(out["anchors"].shape) == (n, 2) and tuple(out["strides"].shape) == (n,)


def test_decoded_matches_hand_decoded_raw() -> None:
    x = torch.rand(1, 3, IMG, IMG, dtype=torch.float64)
    model = _random_model("decoded", seed=1)
    with torch.no_grad():
        dec = model(x).numpy()
        model.export_layout = "raw"
        raw = [r.numpy() for r in model(x)]
    # the random weights give a real spread of distances and scores
    assert raw[0][:, :4].std() > 1e-3 and raw[0][:, 4:].std() > 1e-3
    assert np.all(np.concatenate([r[:, :4].ravel() for r in raw]) >= 0)
    hand = _hand_decode(raw)
    np.testing.assert_allclose(dec, hand, atol=1e-4, rtol=0)
    np.testing.assert_allclose(decode_raw_outputs(raw), hand, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(dec[..., 4], 1.0)
    assert dec[..., 5:].min() >= 0 and dec[..., 5:].max() <= 1


def test_parameter_budget() -> None:
    n = count_parameters(DemoDetector(DemoConfig()))
    assert 50_000 < n <= 700_000


def test_bad_layout() -> None:
    with pytest.raises(ValueError):
        DemoDetector(DemoConfig(), export_layout="5d")


def test_loss_and_assignment() -> None:
    torch.manual_seed(0)
    model = DemoDetector(DemoConfig()).train()
    crit = DetectionLoss(NC)
    targets = [
        (torch.tensor([[20.0, 30.0, 34.0, 44.0], [100.0, 80.0, 260.0, 240.0]]), torch.tensor([0, 3])),
        (torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)),
    ]
    out = model(torch.rand(2, 3, IMG, IMG))
    loss, parts = crit(out, targets)
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    assert model.heads[0].cls_pred.bias.grad is not None
    assert parts["fg"] > 0
    # every object, small or large, gets anchors inside it
    with torch.no_grad():
        s = out["strides"][None, :, None]
        d = out["dist"]
        pb = torch.cat([out["anchors"][None] - d[..., :2] * s, out["anchors"][None] + d[..., 2:] * s], -1)
        gb, gl, gm = crit.pad_targets(targets)
        fg, tboxes, tscores = crit.assign(out["logits"].sigmoid(), pb, out["anchors"], gb, gl, gm)
    assert not fg[1].any()
    for box in targets[0][0]:
        hit = fg[0] & (tboxes[0] == box).all(-1)
        assert hit.any()
        a = out["anchors"][hit]
        assert torch.all((a[:, 0] > box[0]) & (a[:, 0] < box[2]) & (a[:, 1] > box[1]) & (a[:, 1] < box[3]))
    assert torch.all(tscores[0][fg[0]].argmax(-1) == torch.where(tboxes[0][fg[0]][:, 0] == 20.0, 0, 3))


def test_letterbox() -> None:
    img = np.full((100, 100, 3), 7, np.uint8)
    out, r, (px, py) = letterbox(img, 320)
    assert out.shape == (320, 320, 3) and r == 3.2 and (px, py) == (0.0, 0.0)
    img = np.full((240, 320, 3), 7, np.uint8)
    out, r, (px, py) = letterbox(img, 320)
    assert out.shape == (320, 320, 3) and r == 1.0 and (px, py) == (0.0, 40.0)
    assert out[0, 0, 0] == 114 and out[40, 0, 0] == 7 and out[279, 0, 0] == 7 and out[280, 0, 0] == 114
    out, r, (px, py) = letterbox(np.full((640, 480, 3), 7, np.uint8), 320)
    assert r == 0.5 and (px, py) == (40.0, 0.0) and out[:, :40].max() == 114 and out[:, 40:280].max() == 7


def test_checkpoint_roundtrip(tmp_path: Path) -> None:
    model = _random_model().float()
    path = save_checkpoint(model, tmp_path / "m.pt", {"note": "x"})
    back = load_checkpoint(path)
    assert back.config == model.config
    x = torch.rand(1, 3, IMG, IMG)
    with torch.no_grad():
        torch.testing.assert_close(back(x), model(x))


@pytest.mark.parametrize("layout", ["decoded", "raw"])
def test_export_onnx(tmp_path: Path, layout: str) -> None:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = _random_model(seed=2).float()
    path = export_onnx(model, tmp_path / f"m_{layout}.onnx", layout=layout)
    proto = onnx.load(str(path))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["names"]) == list(DemoConfig().names)
    assert json.loads(meta["strides"]) == list(STRIDES)
    assert json.loads(meta["input_size"]) == [IMG, IMG]
    assert meta["layout"] == layout and meta["model"] == "lite-demo-shapes"
    assert path.stat().st_size <= 3_000_000
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["images"]
    names = [o.name for o in sess.get_outputs()]
    assert names == (["outputs"] if layout == "decoded" else ["out0", "out1", "out2"])
    for o in sess.get_outputs():
        assert len(o.shape) in (3, 4)  # no 5-D tensors
    x = torch.rand(1, 3, IMG, IMG)
    got = sess.run(None, {"images": x.numpy()})
    model.export_layout = layout
    with torch.no_grad():
        want = model(x)
    want = [want] if layout == "decoded" else list(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w.numpy(), atol=1e-3, rtol=1e-4)
