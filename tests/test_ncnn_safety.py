"""NCNN safety: graphs with post-processing layers are refused at load (they crash or mislead), a
``.bin`` must be exactly the one its ``.param`` reads, and what NCNN prints goes into lite's errors.

The small models here are written by hand (``.param`` text and ``.bin`` bytes) so that each
storage format NCNN reads is exercised, and NCNN itself loads and runs each one, which checks
that lite's byte counting is NCNN's.
"""

from __future__ import annotations

import itertools
import logging
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ncnn")

from lite.backends._ncnn_bin import TAG_FP16, TAG_FP32_SCALED, TAG_INT8, bin_reads, check_bin  # noqa: E402
from lite.backends.ncnn import UNSUPPORTED_LAYERS, NcnnBackend, NcnnLayer, parse_param  # noqa: E402
from lite.core.errors import ModelLoadError  # noqa: E402
from lite.cv.yolov6 import YOLOv6  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _write(folder: Path, name: str, layers: list[str], blobs: int, weights: bytes) -> Path:
    param = folder / f"{name}.param"
    param.write_text(f"7767517\n{len(layers)} {blobs}\n" + "\n".join(layers) + "\n")
    (folder / f"{name}.bin").write_bytes(weights)
    return param


def _tagged(values: np.ndarray, fmt: str) -> bytes:
    """One ``ModelBin::load(w, 0)`` record: tag + data in format ``fmt``, padded to 4 bytes as NCNN reads it."""
    v = np.asarray(values, np.float32).ravel()
    if fmt == "fp32":
        return struct.pack("<I", 0) + v.tobytes()
    if fmt == "fp32_scaled":
        return struct.pack("<I", TAG_FP32_SCALED) + v.tobytes()
    if fmt == "fp16":
        data = v.astype(np.float16).tobytes()
        return struct.pack("<I", TAG_FP16) + data + b"\0" * (-len(data) % 4)
    if fmt == "int8":
        data = np.clip(np.round(v * 100), -127, 127).astype(np.int8).tobytes()
        return struct.pack("<I", TAG_INT8) + data + b"\0" * (-len(data) % 4)
    if fmt == "codebook":  # any other non-zero tag: 256 float32 values, then one index byte per weight
        book = np.linspace(-1, 1, 256, dtype=np.float32)
        idx = np.abs(v[:, None] - book[None, :]).argmin(axis=1).astype(np.uint8).tobytes()
        return struct.pack("<I", 0x01020304) + book.tobytes() + idx + b"\0" * (-len(idx) % 4)
    raise ValueError(fmt)


def _raw(values: np.ndarray) -> bytes:
    """One ``ModelBin::load(w, 1)`` record: float32 values, no tag."""
    return np.asarray(values, np.float32).ravel().tobytes()


def _small_model(folder: Path, fmt: str) -> Path:
    """3 -> 3 (3x3 conv, 81 weights: an odd fp16/int8 byte count) -> BatchNorm -> DW conv -> InnerProduct.

    Int8 weights go with int8 layers (``8=1``), which also read their weight and input scales."""
    rng = np.random.default_rng(0)
    q = " 8=1" if fmt == "int8" else ""
    layers = [
        "Input in0 0 1 in0 0=8 1=8 2=3",
        f"Convolution conv 1 1 in0 c 0=3 1=3 4=1 5=1 6=81{q}",
        "BatchNorm bn 1 1 c b 0=3",
        f"ConvolutionDepthWise dw 1 1 b d 0=3 1=3 4=1 5=0 6=27 7=3{q}",
        "Pooling gap 1 1 d p 0=1 4=1",
        f"InnerProduct fc 1 1 p out 0=5 1=1 2=15{q}",
    ]
    scales = (lambda n: _raw(np.full(n, 100.0)) + _raw([50.0])) if q else (lambda n: b"")
    data = _tagged(rng.normal(0, 0.3, 81), fmt) + _raw(rng.normal(0, 0.1, 3)) + scales(3)
    data += _raw([1, 1, 1]) + _raw([0, 0, 0]) + _raw([1, 1, 1]) + _raw([0, 0, 0])  # slope, mean, var, bias
    data += _tagged(rng.normal(0, 0.3, 27), fmt) + scales(3)
    data += _tagged(rng.normal(0, 0.3, 15), fmt) + _raw(np.zeros(5)) + scales(5)
    return _write(folder, f"small_{fmt}", layers, 6, data)


# -- the .bin belongs to the .param -----------------------------------------------------


@pytest.mark.parametrize("fmt", ["fp32", "fp32_scaled", "fp16", "int8", "codebook"])
def test_every_storage_format_is_counted_like_ncnn(tmp_path, fmt):
    import ncnn

    param = _small_model(tmp_path, fmt)
    bin_path = param.with_suffix(".bin")
    report = check_bin(parse_param(param.read_text()).layers, bin_path, param)
    assert report.expected == report.size == bin_path.stat().st_size and report.uncounted is None
    net = ncnn.Net()  # and NCNN reads the same bytes: it loads and runs the model
    assert net.load_param(str(param)) == 0 and net.load_model(str(bin_path)) == 0
    be = NcnnBackend(param, threads=1)
    assert be.inputs[0].shape == (None, 3, 8, 8)
    out = be.infer(np.ones((1, 3, 8, 8), np.float32))["out"]
    assert out.shape == (1, 5) and np.isfinite(out).all()
    full = bin_path.read_bytes()
    for bad, why in ((full + b"\0\0\0\0", "too many"), (full[:-4], "past the end")):
        bin_path.write_bytes(bad)
        with pytest.raises(ModelLoadError, match=why) as e:
            NcnnBackend(param, threads=1)
        assert param.name in str(e.value) and bin_path.name in str(e.value)


def _ncnn_params(shared: Path) -> list[Path]:
    return sorted((shared / "models").rglob("*.param"))


def test_every_shared_model_loads_with_its_own_bin(shared):
    params = _ncnn_params(shared)
    assert len(params) == 6
    for param in params:
        report = check_bin(parse_param(param.read_text()).layers, param.with_suffix(".bin"), param)
        assert report.expected == report.size and report.uncounted is None, param.name
        assert NcnnBackend(param, threads=1).outputs


def test_a_bin_from_another_model_is_refused(shared, tmp_path):
    """Every .param with every other model's .bin: 30 pairs, each a ModelLoadError naming both files.

    NCNN itself loads most of them without a word (checked below for two), then computes garbage."""
    import ncnn

    params = _ncnn_params(shared)
    for param, other in itertools.permutations(params, 2):
        wrong = other.with_suffix(".bin")
        with pytest.raises(ModelLoadError) as e:
            NcnnBackend(param, threads=1, bin_path=wrong)
        msg = str(e.value)
        assert str(param) in msg and str(wrong) in msg, msg
        assert "belongs to another model" in msg
    ncnn_dir = shared / "models" / "yolov6lite" / "ncnn"
    for small, large in (("s", "m"), ("m", "l")):  # the same architecture, a larger file: NCNN accepts it
        net = ncnn.Net()
        assert net.load_param(str(ncnn_dir / f"yolov6-lite-{small}.param")) == 0
        assert net.load_model(str(ncnn_dir / f"yolov6-lite-{large}.bin")) == 0
    with pytest.raises(ModelLoadError, match=r"yolov6-lite-m\.bin does not match .*yolov6-lite-s\.param"):
        YOLOv6(ncnn_dir / "yolov6-lite-s.param", threads=1, bin_path=ncnn_dir / "yolov6-lite-m.bin")
    nanodet = shared / "models" / "foreign"
    with pytest.raises(ModelLoadError, match=r"nanodet-m\.bin"):
        NcnnBackend(nanodet / "nanodet_plus" / "nanodet-plus-m_416.param", bin_path=nanodet / "nanodet/nanodet-m.bin")


def test_a_truncated_bin_names_the_layer_and_both_files(tmp_path, shared):
    param = shared / "models" / "foreign" / "nanodet_plus" / "nanodet-plus-m_416.param"
    cut = tmp_path / "cut.bin"
    cut.write_bytes(param.with_suffix(".bin").read_bytes()[:-100])
    with pytest.raises(ModelLoadError, match=r"layer '.+' \(Convolution, line \d+\) reads \d+ weights") as e:
        NcnnBackend(param, bin_path=cut)
    assert "cut.bin" in str(e.value) and "nanodet-plus-m_416.param" in str(e.value)


def test_a_layer_lite_cannot_count_stops_the_check_with_a_warning(tmp_path):
    """The rule for layer types without a weight table: check up to them, then say so (never guess)."""
    layers = [
        NcnnLayer("Input", "in0", [], ["in0"], {}, 3),
        NcnnLayer("Convolution", "conv", ["in0"], ["c"], {"0": "2", "1": "1", "6": "6"}, 4),
        NcnnLayer("FutureLayer", "f", ["c"], ["out"], {}, 5),
    ]
    assert bin_reads(layers[2]) is None and bin_reads(layers[0]) == []
    bin_path = tmp_path / "m.bin"
    bin_path.write_bytes(_tagged(np.ones(6), "fp32") + b"\0" * 40)  # 40 bytes the future layer may read
    with pytest.warns(RuntimeWarning, match=r"only up to layer 'f' \(FutureLayer, line 5\)"):
        report = check_bin(layers, bin_path, tmp_path / "m.param")
    assert report.uncounted == "FutureLayer" and report.expected == 28 and report.size == 68
    bin_path.write_bytes(_tagged(np.ones(5), "fp32"))  # but what it can count must still fit
    with pytest.raises(ModelLoadError, match="past the end"):
        check_bin(layers, bin_path, tmp_path / "m.param")


@pytest.mark.parametrize(
    ("line", "reads"),
    [
        ("Convolution c 1 1 a b 0=16 1=3 5=1 6=432 8=2", [(432, 0), (16, 1), (16, 1), (1, 1)]),
        ("Convolution c 1 1 a b 0=16 1=3 5=1 6=432 8=101", [(432, 0), (16, 1), (16, 1), (1, 1), (1, 1)]),
        ("Convolution c 2 1 a w b 0=16 1=3 5=1 6=432 19=1", []),  # dynamic weights come from a blob
        ("ConvolutionDepthWise c 1 1 a b 0=8 1=3 5=0 6=72 7=8 8=1", [(72, 0), (8, 1), (1, 1)]),
        ("Deconvolution d 1 1 a b 0=4 1=2 5=1 6=64", [(64, 0), (4, 1)]),
        ("InnerProduct f 1 1 a b 0=10 1=1 2=200 8=1", [(200, 0), (10, 1), (10, 1), (1, 1)]),
        ("Scale s 1 1 a b 0=8 1=1", [(8, 1), (8, 1)]),
        ("Scale s 2 1 a w b 0=-233", []),
        ("MemoryData m 0 1 b 0=4 1=2 2=3", [(24, 1)]),
        ("LayerNorm n 1 1 a b 0=64 2=0", []),
        ("GroupNorm n 1 1 a b 0=4 1=32", [(32, 1), (32, 1)]),
        ("LSTM l 1 1 a b 0=8 1=512 2=2", [(512, 0), (64, 0), (512, 0)]),
        ("Gemm g 1 1 a b 4=0 5=1 6=1 7=0 8=16 9=32 10=4", [(512, 0), (16, 0)]),
        ("Gemm g 1 1 a b 4=0 5=1 3=1 7=0 8=16 9=32 18=410", None),  # block-quantized: not counted
        ("Padding p 1 1 a b 6=3", [(3, 1)]),
        ("Yolov3DetectionOutput y 1 1 a b 0=80", []),
    ],
)
def test_weight_reads_follow_ncnn_load_model(line, reads):
    layer = parse_param(f"7767517\n2 3\nInput a 0 1 a\n{line}\n").layers[1]
    assert bin_reads(layer) == reads


# -- post-processing layers -----------------------------------------------------------------


def _with_layer(folder: Path, layer_type: str) -> Path:
    """Input -> 1x1 stride-32 conv to 255 channels -> ``layer_type`` (the output)."""
    w = np.random.default_rng(0).normal(0, 0.01, 255 * 3).astype(np.float32)
    layers = [
        "Input in0 0 1 in0",
        "Convolution c1 1 1 in0 f1 0=255 1=1 3=32 5=1 6=765",
        f"{layer_type} det 1 1 f1 output 0=80 1=3 2=0.25 3=0.45 -23304=6,1.0,1.0,2.0,2.0,3.0,3.0",
    ]
    return _write(folder, layer_type.lower(), layers, 3, _tagged(w, "fp32") + _raw(np.zeros(255)))


@pytest.mark.parametrize("layer_type", sorted(UNSUPPORTED_LAYERS))
def test_post_processing_layers_are_refused_at_load(tmp_path, layer_type):
    param = _with_layer(tmp_path, layer_type)
    for load in (lambda: NcnnBackend(param, threads=1), lambda: YOLOv6(param, threads=1)):
        with pytest.raises(ModelLoadError) as e:
            load()
        msg = str(e.value)
        assert f"{layer_type} layer ('det', line 5)" in msg and str(param) in msg
        assert "raw head tensors" in msg and "YOLOv8" in msg


_RAW_NCNN = """
import sys, numpy as np, ncnn
net = ncnn.Net()
net.opt.num_threads = 1
assert net.load_param(sys.argv[1]) == 0 and net.load_model(sys.argv[1][:-6] + ".bin") == 0
ex = net.create_extractor()
ex.input("in0", ncnn.Mat(np.full((3, 320, 320), 0.45, np.float32)).clone())
rc, mat = ex.extract("output")
print("extracted", rc, np.array(mat).shape)
"""

_LITE = """
import sys
from lite.cv.yolov6 import YOLOv6
from lite.core.errors import ModelLoadError
try:
    det = YOLOv6(sys.argv[1], threads=1)
    print("loaded", det.spec)
except ModelLoadError as e:
    print("refused:", e)
"""


def test_a_yolo_detection_output_graph_crashes_ncnn_and_lite_refuses_it(tmp_path):
    """The hand-built YoloDetectionOutput graph segfaults NCNN itself; lite refuses it before NCNN runs it."""
    param = _with_layer(tmp_path, "YoloDetectionOutput")
    raw = subprocess.run([sys.executable, "-c", _RAW_NCNN, str(param)], capture_output=True, text=True, timeout=120)
    if raw.returncode == 0:  # a later NCNN may survive this graph; lite's refusal below must hold either way
        assert "extracted" in raw.stdout
    else:
        assert raw.returncode < 0, raw.stderr  # killed by a signal (SIGSEGV), not a Python error
    run = subprocess.run(
        [sys.executable, "-c", _LITE, str(param)], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("refused:") and "YoloDetectionOutput" in run.stdout
    assert run.stderr == ""


# -- what NCNN prints ------------------------------------------------------------------------


def test_ncnn_load_errors_carry_what_ncnn_printed(tmp_path, ncnn_dir, capfd):
    unknown = _write(tmp_path, "unknown", ["Input in0 0 1 in0", "FancyNewLayer f 1 1 in0 out 0=1"], 2, b"")
    with pytest.raises(ModelLoadError, match=r"NCNN said: layer FancyNewLayer not exists or registered"):
        NcnnBackend(unknown)
    param = tmp_path / "m.param"
    param.write_text((ncnn_dir / "yolov6-lite-s.param").read_text())
    (tmp_path / "m.bin").write_bytes((ncnn_dir / "yolov6-lite-s.bin").read_bytes()[:100_000])
    with pytest.raises(ModelLoadError, match=r"load_model returned -1.*\(NCNN said: ModelBin read .* failed"):
        NcnnBackend(param, verify_bin=False)  # NCNN's own check, when lite's is switched off
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # nothing reached the user's terminal


def test_ncnn_says_nothing_when_all_went_well(ncnn_dir, bus_path, capfd, caplog):
    """Without the 1-D rewrite, NCNN prints 56 lines per run; the first run at a shape (the probe) is lite's to
    capture: nothing reaches fd 2 then, and the text is kept at DEBUG level in the lite.engines logger."""
    with caplog.at_level(logging.DEBUG, logger="lite.engines"):
        det = YOLOv6(ncnn_dir / "yolov6-lite-s.param", input_size=320, threads=1, rewrite_1d_conv=False)
    assert det.spec is not None
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert any("compatibility path is deprecated" in r.getMessage() for r in caplog.records)
    det.detect(bus_path)  # the first detect() feeds a uint8 canvas (a new input shape): captured too
    assert capfd.readouterr().err == ""
    det.detect(bus_path)  # later runs at a seen shape are not captured: NCNN's chatter is its own
    assert "compatibility path is deprecated" in capfd.readouterr().err


def test_captures_from_several_threads_leave_stdout_and_stderr_as_they_were(ncnn_dir, capfd):
    """Loads and first runs at new shapes in 4 threads at once: every capture restores fds 1 and 2."""
    from concurrent.futures import ThreadPoolExecutor

    before = [(os.fstat(fd).st_dev, os.fstat(fd).st_ino) for fd in (1, 2)]

    def load_and_run(k: int) -> tuple[int, ...]:
        be = NcnnBackend(ncnn_dir / "yolov6-lite-s.param", threads=1)
        outs = [be.infer(np.zeros((1, 3, 64 * (k + 1), 64 * (j + 1)), np.float32)) for j in range(3)]
        return tuple(o["out0"].shape[2] for o in outs)

    with ThreadPoolExecutor(4) as pool:
        heights = list(pool.map(load_and_run, range(4)))
    assert heights == [(8 * (k + 1),) * 3 for k in range(4)]
    assert [(os.fstat(fd).st_dev, os.fstat(fd).st_ino) for fd in (1, 2)] == before
    os.write(2, b"still the terminal\n")
    assert capfd.readouterr().err == "still the terminal\n"


def test_the_cli_reports_both_refusals_as_errors(tmp_path, ncnn_dir):
    """`lite info` on a post-processing graph and on a .param with another model's .bin: exit 2, one line."""
    post = _with_layer(tmp_path, "DetectionOutput")
    param = tmp_path / "yolov6-lite-s.param"
    param.write_text((ncnn_dir / "yolov6-lite-s.param").read_text())
    (tmp_path / "yolov6-lite-s.bin").symlink_to(ncnn_dir / "yolov6-lite-m.bin")
    for model, expect in ((post, "holds a DetectionOutput layer"), (param, "yolov6-lite-s.bin does not match")):
        proc = subprocess.run(
            [sys.executable, "-m", "lite", "info", str(model)], capture_output=True, text=True, env=_env(), timeout=120
        )
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.startswith("lite info: error: ") and expect in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1  # lite's message only: no traceback, no NCNN chatter
