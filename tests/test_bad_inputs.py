"""Every bad input of `bad_input_cases.CASES` raises its typed error with its message; docs/bad-inputs.md is current."""

from __future__ import annotations

import builtins
import importlib.util
import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from bad_input_cases import CASES, Case

import lite.core.errors
from lite import backends, hub
from lite.cv import YOLOv6
from lite.data.io import load_image, load_images

REPO = Path(__file__).resolve().parents[1]


def _nan_model(path: Path) -> Path:
    """A real ONNX model in the decoded layout whose first anchors have NaN boxes and a high score."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    out = np.zeros((1, 2125, 85), np.float32)
    out[0, :, 0:4] = [160, 160, 20, 20]
    out[0, :3, 0:4] = np.nan
    out[0, :3, 4] = 1.0
    out[0, :3, 5] = 0.9
    nodes = [
        helper.make_node("ReduceMax", ["images"], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["z", "const"], ["outputs"]),
    ]
    graph = helper.make_graph(
        nodes,
        "nan_boxes",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 320, 320])],
        [helper.make_tensor_value_info("outputs", TensorProto.FLOAT, [1, 2125, 85])],
        initializer=[
            numpy_helper.from_array(np.zeros((1,), np.float32), "zero"),
            numpy_helper.from_array(out, "const"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _sidecar(tmp: Path, model: Path | None, content: str) -> dict[str, Any]:
    m = tmp / "m.onnx"
    m.symlink_to(model)
    (tmp / "m.onnx.lite.json").write_text(content, encoding="utf-8")
    return {"SIDECAR_MODEL": m}


def _setup(name: str | None, tmp: Path, model: Path | None, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    if name is None:
        return {}
    if name == "video_file":
        video = tmp / "clip.mp4"
        w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (64, 48))
        for _ in range(2):
            w.write(np.zeros((48, 64, 3), np.uint8))
        w.release()
        return {"VIDEO": video}
    if name == "truncated_bytes":
        ok, enc = cv2.imencode(".jpg", (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8))
        return {"TRUNCATED_JPEG_BYTES": enc.tobytes()[: enc.size // 2]}
    if name == "dir_named_onnx":
        (tmp / "x.onnx").mkdir()
        return {"DIR_ONNX": tmp / "x.onnx"}
    if name == "plain_dir":
        folder = tmp / "models"
        folder.mkdir()
        (folder / "m.onnx").write_bytes(b"not really a model")
        return {"DIR": folder}
    if name == "bin_file":
        (tmp / "m.bin").write_bytes(b"\0" * 16)
        return {}
    if name == "tflite_file":
        (tmp / "m.tflite").write_bytes(b"\0" * 16)
        return {}
    if name == "sidecar_strides_zero":
        return _sidecar(tmp, model, json.dumps({"strides": [0]}))
    if name == "sidecar_input_size_zero":
        return _sidecar(tmp, model, json.dumps({"input_size": [0, 0]}))
    if name == "sidecar_names_number":
        return _sidecar(tmp, model, json.dumps({"names": 5}))
    if name == "sidecar_bad_bool":
        return _sidecar(tmp, model, json.dumps({"box_first": "sometimes"}))
    if name == "sidecar_not_json":
        return _sidecar(tmp, model, "{strides: [8, 16]")
    if name == "nan_model":
        return {"NAN_MODEL": _nan_model(tmp / "nan_boxes.onnx")}
    if name == "lite_home_file":
        f = tmp / "not-a-folder"
        f.write_text("x")
        monkeypatch.setenv("LITE_HOME", str(f))
        return {}
    return _setup_issue20(name, tmp, model, monkeypatch)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _setup_issue20(name: str, tmp: Path, model: Path | None, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    if name == "huge_png":  # a valid PNG header that claims 200000 x 200000 pixels, 45 bytes in all
        ihdr = struct.pack(">IIBBBBB", 200_000, 200_000, 8, 2, 0, 0, 0)
        data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IEND", b"")
        (tmp / "huge.png").write_bytes(data)
        return {"HUGE_PNG": tmp / "huge.png"}
    if name == "hub_param_dir":
        (tmp / "home" / "yolov6-lite-s.param").mkdir(parents=True)
        monkeypatch.setenv("LITE_HOME", str(tmp / "home"))
        return {}
    deep = "[" * 200_000 + "]" * 200_000
    if name == "sidecar_names_deep":
        return _sidecar(tmp, model, '{"names": ' + deep + "}")
    if name == "onnx_names_deep":
        import onnx

        m = onnx.load(str(model))
        m.metadata_props.add(key="names", value=deep)
        onnx.save(m, str(tmp / "deep.onnx"))
        return {"DEEP_MODEL": tmp / "deep.onnx"}
    raise AssertionError(f"unknown setup {name!r}")
    raise AssertionError(f"unknown setup {name!r}")


@pytest.fixture(scope="module")
def det_model(request) -> tuple[Path, Any, np.ndarray] | None:
    from conftest import SHARED

    if SHARED is None:
        return None
    model = SHARED / "models" / "yolov6lite" / "onnx" / "yolov6lite_s_320_decoded.onnx"
    det = YOLOv6(model, threads=1)
    request.addfinalizer(det.close)
    return model, det, cv2.imread(str(SHARED / "images" / "bus.jpg"))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, det_model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if case.needs_model and det_model is None:
        pytest.skip("../shared (or $LITE_SHARED) is absent: no real models")
    model, det, img = det_model if det_model is not None else (None, None, None)
    monkeypatch.chdir(tmp_path)
    names = {
        "YOLOv6": YOLOv6, "load_image": load_image, "load_images": load_images, "backends": backends, "hub": hub,
        "np": np, "MODEL": model, "DET": det, "IMG": img, "TMP": tmp_path,
    }  # fmt: skip
    names.update(_setup(case.setup, tmp_path, model, monkeypatch))
    error = getattr(lite.core.errors, case.error)
    also = getattr(builtins, case.also)
    pattern = ".*".join(re.escape(part.strip(" ")) for part in case.message.split("…"))
    with pytest.raises(error, match=pattern) as info:
        eval(case.code, names)  # noqa: S307 - the case's code is the documented user input
    assert isinstance(info.value, lite.core.errors.LiteError) and isinstance(info.value, also), type(info.value).__mro__
    assert type(info.value) is error, f"expected exactly {case.error}, got {type(info.value).__name__}"


def test_every_error_class_is_a_lite_error_and_a_builtin():
    for name in lite.core.errors.__all__:
        cls = getattr(lite.core.errors, name)
        if issubclass(cls, Warning):
            assert issubclass(cls, lite.core.errors.LiteWarning) or cls is lite.core.errors.LiteWarning
            continue
        assert issubclass(cls, lite.core.errors.LiteError)
        if cls is not lite.core.errors.LiteError:
            assert any(b in cls.__mro__ for b in (ValueError, TypeError, OSError, ImportError, RuntimeError,
                                                   LookupError, AssertionError)), name  # fmt: skip


def test_type_errors_are_still_input_errors():
    """Code that caught InputError / ImageError before keeps working: the TypeError classes derive from them."""
    assert issubclass(lite.core.errors.InputTypeError, lite.core.errors.InputError)
    assert issubclass(lite.core.errors.InputTypeError, TypeError)
    assert issubclass(lite.core.errors.ImageTypeError, lite.core.errors.ImageError)
    assert issubclass(lite.core.errors.ImageTypeError, TypeError)


def test_docs_table_is_current():
    spec = importlib.util.spec_from_file_location("gen_bad_inputs", REPO / "docs" / "gen_bad_inputs.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    committed = (REPO / "docs" / "bad-inputs.md").read_text(encoding="utf-8")
    assert committed == gen.render(), "docs/bad-inputs.md is stale: run `python docs/gen_bad_inputs.py`"
    assert all(f"`{c.code}`".replace("|", "\\|") in committed for c in CASES)
