"""Raw exceptions made typed (issue 20): image size limits, metadata bounds; the typed cases are in bad_input_cases."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_cli import lite

import lite.data.io as lite_io
from lite.core.errors import ImageError, ModelLoadError
from lite.data.io import header_size, load_image
from lite.data.metadata import MAX_METADATA_DEPTH, check_metadata_text, from_mapping


def _huge_png(path: Path, w: int = 200_000, h: int = 200_000) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + ihdr + chunk(b"IDAT", zlib.compress(bytes(100))) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("ext", [".jpg", ".png", ".bmp", ".webp", ".ppm", ".pgm", ".tif"])
def test_header_size_reads_every_common_format(ext):
    img = np.zeros((37, 53, 3), np.uint8)
    ok, enc = cv2.imencode(ext, img[:, :, 0] if ext == ".pgm" else img)
    assert ok
    expected = None if ext == ".tif" else (53, 37)  # TIFF: decoded under OpenCV's own limit only
    assert header_size(enc.tobytes()) == expected
    assert header_size(enc.tobytes()[:6]) is None  # cut short: unknown, never an exception


def test_header_size_of_a_jpeg_with_exif_before_its_frame(bus_path):
    assert header_size(bus_path.read_bytes()[:65536]) == cv2.imread(str(bus_path)).shape[1::-1]


def test_pixel_limit_is_documented_and_overridable(bus_path, monkeypatch):
    assert lite_io.MAX_IMAGE_PIXELS == 1 << 28 and "MAX_IMAGE_PIXELS" in lite_io.__doc__
    h, w = cv2.imread(str(bus_path)).shape[:2]
    monkeypatch.setattr(lite_io, "MAX_IMAGE_PIXELS", w * h - 1)
    with pytest.raises(ImageError, match=f"the header says {w}x{h}"):
        load_image(bus_path)
    with pytest.raises(ImageError, match="encoded bytes: the header says"):
        load_image(bus_path.read_bytes())
    monkeypatch.setattr(lite_io, "MAX_IMAGE_PIXELS", w * h)
    assert load_image(bus_path).shape == (h, w, 3)


def test_opencvs_own_limit_is_typed_too(tmp_path, monkeypatch):
    monkeypatch.setattr(lite_io, "MAX_IMAGE_PIXELS", None)  # lite's limit off: OpenCV's refusal is still typed
    with pytest.raises(ImageError, match="OPENCV_IO_MAX_IMAGE_PIXELS"):
        load_image(_huge_png(tmp_path / "huge.png"))


def test_lite_detect_refuses_a_huge_header_without_a_traceback(onnx_dir, bus_path, tmp_path, monkeypatch):
    model = onnx_dir / "yolov6lite_s_320_decoded.onnx"
    huge = _huge_png(tmp_path / "huge.png")
    proc = lite("detect", huge, "--model", model, ok=False)
    assert proc.returncode == 2 and "the header says 200000x200000" in proc.stderr and "Traceback" not in proc.stderr
    monkeypatch.setenv("LITE_MAX_IMAGE_PIXELS", "100")
    proc = lite("detect", bus_path, "--model", model, ok=False)
    assert proc.returncode == 2 and "at most 100 pixels" in proc.stderr


def test_metadata_bounds():
    ok = "[" * MAX_METADATA_DEPTH + "]" * MAX_METADATA_DEPTH
    assert check_metadata_text(ok, "x") == ok
    with pytest.raises(ModelLoadError, match="nested 17 deep"):
        check_metadata_text("[" + ok + "]", "x")
    with pytest.raises(ModelLoadError, match="expected at most 1,048,576 characters"):
        from_mapping({"names": "a," * (1 << 20)}, "the metadata of m.onnx")
    with pytest.raises(ModelLoadError, match="the metadata of m.onnx: key 'anything'"):
        from_mapping({"anything": "{" * 100_000}, "the metadata of m.onnx")  # every value, not only known keys
    assert from_mapping({"names": '["a(b)", "c"]'}).names == ("a(b)", "c")


def test_mnn_model_converted_at_a_fixed_size_says_so(onnx_dir, tmp_path):
    """A decoded graph converted at 320 keeps reshapes for 320: at 640 MNN fails, and lite says why (as NCNN)."""
    from lite.convert import onnx_to_mnn
    from lite.core.errors import InputSizeError
    from lite.cv import YOLOv6

    mnn = onnx_to_mnn(onnx_dir / "yolov6lite_s_320_decoded.onnx", tmp_path / "d.mnn", verify=False, progress=False)
    with pytest.raises(InputSizeError, match=r"d\.mnn is fixed at 320x320: .* at 640x640: .*input_size=320"):
        YOLOv6(mnn, input_size=640, threads=1)
    with pytest.raises(InputSizeError, match=r"at 384x384 \(nor at 640x640\)"):
        YOLOv6(mnn, input_size=384, threads=1)
    assert YOLOv6(mnn, threads=1).input_hw == (320, 320)


# ----------------------------------------------------------------------------------------------
# engine and converter messages: no colour codes, no CPU-vendor noise, no traceback frames, no op '|'
# ----------------------------------------------------------------------------------------------
def test_engine_text_is_cleaned_for_messages():
    from lite.backends._capture import clean_engine_text, engine_said

    said = (
        "\x1b[31mlayer Foo not exists or registered\x1b[0m\n"
        "Unknown CPU vendor. cpuinfo_vendor value: 0\n"
        "Traceback (most recent call last):\n"
        '  File "<string>", line 3, in <module>\n'
        "    main()\n"
        "    ^^^^^^\n"
        "RuntimeError: Converted Failed!\n"
    )
    assert clean_engine_text(said) == ["layer Foo not exists or registered", "RuntimeError: Converted Failed!"]
    text = engine_said("NCNN", said)
    assert text == " (NCNN said: layer Foo not exists or registered RuntimeError: Converted Failed!)"
    assert "\x1b" not in text and "CPU vendor" not in text and "Traceback" not in text and 'File "' not in text


def test_conversion_failure_quotes_the_cleaned_log(onnx_dir):
    from lite.convert._common import Conversion

    job = Conversion("mnn", onnx_dir / "yolov6lite_s_320_raw.onnx", stages=2, verify=False, progress=False)
    log = 'Traceback (most recent call last):\n  File "x.py", line 1\n    f()\n\x1b[33mValueError: bad axis\x1b[0m\n'
    msg = str(job.failed("MNN's converter", "exit status 1", log))
    assert msg.endswith("(exit status 1): ValueError: bad axis"), msg


def test_mnn_refused_ops_never_include_the_separator():
    from lite.convert.mnn import rejected_ops

    log = "[ERROR] These Op Not Support: ONNX::ConvInteger | ONNX::FusedMatMul | \nConverted Failed!\n"
    assert rejected_ops(log) == ["ConvInteger", "FusedMatMul"]
    assert rejected_ops("These Op Not Support: ONNX::A | ONNX::B\nThese Op Not Support: ONNX::A") == ["A", "B"]


# ----------------------------------------------------------------------------------------------
# one comparator, one tolerance rule: lite convert and lite compare agree on a quantized model
# ----------------------------------------------------------------------------------------------
def test_output_tolerances_rule():
    import math

    import lite.cli.compare as cli
    from lite.tools.parity import ATOL, QUANTIZED_RTOL, RTOL, output_tolerances

    assert output_tolerances(quantized=False) == (RTOL, ATOL)
    assert output_tolerances(quantized=True) == (QUANTIZED_RTOL, math.inf)
    assert output_tolerances(quantized=True, rtol=1e-3, atol=0.05) == (1e-3, 0.05)  # given values win
    assert cli.QUANTIZED_RTOL == QUANTIZED_RTOL


def test_convert_and_compare_agree_on_an_int8_model(shared, tmp_path, capfd):
    from lite.convert import convert
    from lite.tools.parity import compare

    src = shared / "models" / "foreign" / "yolov8" / "yolov8n_int8.onnx"
    xml = convert(src, "openvino", tmp_path, progress=True)  # verified against ONNX Runtime
    err = capfd.readouterr().err
    assert "rel L2 <= 0.03; quantized (int8) model" in err, err
    bus = shared / "images" / "bus.jpg"
    report = compare([src, xml], bus, threads=1)
    assert report.ok, report.table()  # was FAIL (max|diff| 41 > 0.05) right after "verified"
    assert "max|diff| not bounded" in report.table() and "note: quantized (int8) model" in report.table()
    strict = compare([src, xml], bus, threads=1, rtol=1e-3, atol=0.05)  # the user's own tolerances are kept
    assert not strict.ok and "note: quantized" in strict.table()
