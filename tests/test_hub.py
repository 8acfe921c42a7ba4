"""lite.hub: names to verified local files, downloads (file:// URLs), offline and checksum errors."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import lite.hub as hub
from lite.core.errors import ChecksumError, HubError
from lite.hub import manifest as manifest_mod

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model folder as $LITE_HOME."""
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("LITE_HOME", str(folder))
    return folder


@pytest.fixture()
def custom_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point the hub at a manifest written by the test; returns a function that writes one."""

    def write(models: list[dict]) -> None:
        path = tmp_path / "manifest.json"
        path.write_text(json.dumps({"schema": 1, "sources": {}, "models": models}))
        monkeypatch.setattr(manifest_mod, "MANIFEST_PATH", path)
        manifest_mod.load_manifest.cache_clear()
        manifest_mod.entries.cache_clear()

    yield write
    manifest_mod.load_manifest.cache_clear()
    manifest_mod.entries.cache_clear()


def _model(name: str, files: list[dict]) -> dict:
    return {
        "name": name,
        "title": name,
        "family": "test",
        "classes": "coco80",
        "input_size": [64, 64],
        "strides": [8, 16, 32],
        "map": None,
        "map_source": None,
        "license": "test",
        "default_format": "onnx",
        "formats": {"onnx": {"layout": "decoded", "origin": "test", "files": files}},
    }


def _payload(tmp_path: Path, size: int = 3_000_000) -> tuple[Path, str]:
    src = tmp_path / "server" / "weights.bin"
    src.parent.mkdir()
    src.write_bytes(np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes())
    return src, hashlib.sha256(src.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- manifest
def test_manifest_lists_the_yolov6_family():
    names = hub.list_models()
    expected = ["yolov6n", "yolov6s", "yolov6m", "yolov6l", "yolov6n6", "yolov6s6", "yolov6m6", "yolov6l6"]
    expected += ["yolov6lite-s", "yolov6lite-m", "yolov6lite-l", "lite-demo-shapes"]
    assert names == expected
    for e in manifest_mod.entries():
        assert e.default_format in e.formats
        assert e.input_size[0] % max(e.strides) == 0
        if e.family.startswith("yolov6"):
            assert e.classes == "coco80" and e.map is not None and e.map_source is not None


def test_every_shipped_sha256_matches_the_shared_official_files(shared: Path):
    folders = [shared / "models" / "yolov6lite" / "onnx", shared / "models" / "yolov6lite" / "ncnn"]
    local = {p.name: p for d in folders for p in d.iterdir()}
    checked = 0
    for e in manifest_mod.entries():
        for fmt in e.formats.values():
            for f in fmt.files:
                if f.file in local:
                    assert f.sha256 == hub.sha256_file(local[f.file]), f.file
                    checked += 1
    assert checked == 13  # 6 NCNN files + 7 ONNX files


def test_unknown_name_lists_the_known_names():
    with pytest.raises(HubError) as ei:
        hub.resolve("yolov7-tiny")
    msg = str(ei.value)
    assert "yolov7-tiny" in msg and "yolov6lite-s" in msg and "lite-demo-shapes" in msg
    assert isinstance(ei.value, LookupError)


def test_unknown_format_lists_the_formats():
    with pytest.raises(HubError, match="ncnn"):
        hub.resolve("yolov6lite-s:tflite")


def test_info_describes_files_and_local_state(home: Path):
    d = hub.info("YOLOv6Lite_S")  # case, '-' and '_' do not matter
    assert d["name"] == "yolov6lite-s" and d["folder"] == str(home)
    assert d["formats"]["ncnn"]["files"][1]["file"] == "yolov6-lite-s.bin"
    assert d["local"]["ncnn"] == {"path": str(home / "yolov6-lite-s.param"), "present": False}
    assert "Mobile Benchmark" in d["map_source"]


# --------------------------------------------------------------------------- resolve: local files
def test_resolve_finds_a_verified_local_file(home: Path, onnx_dir: Path):
    shutil.copy(onnx_dir / "yolov6lite_s_320_decoded.onnx", home)
    path = hub.resolve("yolov6lite-s:onnx", download=False)
    assert path == home / "yolov6lite_s_320_decoded.onnx"
    assert hub.resolve("yolov6lite-s", format="onnx") == path


def test_resolve_ncnn_needs_both_files(home: Path, ncnn_dir: Path):
    shutil.copy(ncnn_dir / "yolov6-lite-s.param", home)
    with pytest.raises(HubError) as ei:
        hub.resolve("yolov6lite-s", download=False)
    assert "yolov6-lite-s.bin" in str(ei.value) and "raw.githubusercontent.com/meituan/YOLOv6" in str(ei.value)
    shutil.copy(ncnn_dir / "yolov6-lite-s.bin", home)
    assert hub.resolve("yolov6lite-s", download=False) == home / "yolov6-lite-s.param"


def test_checksum_mismatch_of_a_local_file_is_an_error(home: Path):
    bad = home / "yolov6lite_s_320_decoded.onnx"
    bad.write_bytes(b"not the model")
    with pytest.raises(ChecksumError) as ei:
        hub.resolve("yolov6lite-s:onnx")
    msg = str(ei.value)
    assert str(bad) in msg
    assert "f92ced18099222bacfcab4b3c69af8a2224b05aff17d9a6fb659a95503286214" in msg  # expected
    assert hashlib.sha256(b"not the model").hexdigest() in msg  # got
    assert isinstance(ei.value, ValueError)


def test_a_file_without_url_says_where_to_put_it(home: Path):
    with pytest.raises(HubError) as ei:
        hub.resolve("yolov6n6")
    assert str(home / "yolov6n6.onnx") in str(ei.value)


# --------------------------------------------------------------------------- downloads
def test_download_from_file_url_is_verified_and_atomic(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    src, digest = _payload(tmp_path)
    dest = tmp_path / "cache" / "weights.bin"
    out = hub.download(src.as_uri(), dest, sha256=digest, progress=True)
    assert out == dest and dest.read_bytes() == src.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["weights.bin"]  # no .part file left
    err = capsys.readouterr().err
    assert "weights.bin" in err and "100%" in err  # the progress bar ran to the end


def test_download_checksum_mismatch_keeps_nothing(tmp_path: Path):
    src, digest = _payload(tmp_path, 1000)
    dest = tmp_path / "cache" / "weights.bin"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as ei:
        hub.download(src.as_uri(), dest, sha256=wrong, progress=False)
    assert wrong in str(ei.value) and digest in str(ei.value) and src.as_uri() in str(ei.value)
    assert list(dest.parent.iterdir()) == []


def test_resolve_downloads_then_uses_the_local_copy(home: Path, tmp_path: Path, custom_manifest):
    src, digest = _payload(tmp_path, 200_000)
    custom_manifest([_model("tiny", [{"file": "tiny.onnx", "url": src.as_uri(), "sha256": digest}])])
    path = hub.resolve("tiny", progress=False)
    assert path == home / "tiny.onnx" and hub.sha256_file(path) == digest
    src.unlink()  # the second resolve must not touch the network
    assert hub.resolve("tiny", progress=False) == path


def test_resolve_rejects_a_download_with_the_wrong_checksum(home: Path, tmp_path: Path, custom_manifest):
    src, digest = _payload(tmp_path, 5000)
    custom_manifest([_model("tiny", [{"file": "tiny.onnx", "url": src.as_uri(), "sha256": "ab" * 32}])])
    with pytest.raises(ChecksumError, match=digest):
        hub.resolve("tiny", progress=False)
    assert list(home.iterdir()) == []


def test_offline_error_names_the_folder_and_the_url(home: Path, custom_manifest):
    url = "http://127.0.0.1:9/x.onnx"  # discard port: nothing listens, the connection is refused
    custom_manifest([_model("offline", [{"file": "x.onnx", "url": url}])])
    with pytest.raises(HubError) as ei:
        hub.resolve("offline", progress=False, timeout=5)
    msg = str(ei.value)
    assert url in msg and str(home / "x.onnx") in msg
    assert list(home.iterdir()) == []


def test_download_false_does_not_fetch(home: Path, tmp_path: Path, custom_manifest):
    src, digest = _payload(tmp_path, 100)
    custom_manifest([_model("tiny", [{"file": "tiny.onnx", "url": src.as_uri(), "sha256": digest}])])
    with pytest.raises(HubError, match="download=False"):
        hub.resolve("tiny", download=False)
    assert not (home / "tiny.onnx").exists()


# --------------------------------------------------------------------------- detector integration
def test_yolov6_by_hub_name_onnx(home: Path, onnx_dir: Path, bus_path: Path):
    pytest.importorskip("onnxruntime")
    from lite.cv import YOLOv6

    shutil.copy(onnx_dir / "yolov6lite_s_320_decoded.onnx", home)
    det = YOLOv6("yolov6lite-s:onnx")
    assert det.backend.model_path == home / "yolov6lite_s_320_decoded.onnx"
    names = {det.names[c] for c in det.detect(bus_path).class_ids}
    assert {"bus", "person"} <= names


def test_yolov6_by_hub_name_default_ncnn(home: Path, ncnn_dir: Path, bus_path: Path):
    from lite import backends
    from lite.cv import YOLOv6

    if "ncnn" not in backends.available():
        pytest.skip("the ncnn backend is not available")
    for f in ("yolov6-lite-s.param", "yolov6-lite-s.bin"):
        shutil.copy(ncnn_dir / f, home)
    det = YOLOv6("yolov6lite-s")
    assert det.backend.name == "ncnn"
    names = {det.names[c] for c in det.detect(bus_path).class_ids}
    assert {"bus", "person"} <= names


# --------------------------------------------------------------------------- the bundled demo model
def test_default_model_matches_its_record():
    try:
        path = hub.default_model()
    except HubError as e:
        assert "lite-demo-shapes.onnx" in str(e) and "train_demo_detector.py" in str(e)
        pytest.skip("the demo model is not committed yet")
    record = json.loads(path.with_suffix(".json").read_text()) if path.with_suffix(".json").is_file() else None
    if record is not None:
        assert hub.sha256_file(path) == record["sha256"]
    assert hub.resolve("lite-demo-shapes") == path
    assert path.stat().st_size <= 3_000_000


def test_default_model_is_checked_against_its_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    checkout, package = tmp_path / "repo" / "hub", tmp_path / "site" / "lite" / "hub"
    checkout.mkdir(parents=True)
    package.mkdir(parents=True)
    candidates = [checkout / "lite-demo-shapes.onnx", package / "lite-demo-shapes.onnx"]
    monkeypatch.setattr(hub, "_demo_candidates", lambda: candidates)
    with pytest.raises(HubError, match="train_demo_detector.py"):
        hub.default_model()

    model = package / "lite-demo-shapes.onnx"  # a wheel install: only the packaged copy
    model.write_bytes(b"demo weights")
    assert hub.default_model() == model  # no record: nothing to check against
    record = model.with_suffix(".json")
    record.write_text(json.dumps({"sha256": hashlib.sha256(b"demo weights").hexdigest()}))
    assert hub.default_model() == model == hub.resolve("lite-demo-shapes")
    record.write_text(json.dumps({"sha256": "1" * 64}))
    with pytest.raises(ChecksumError, match="1" * 64):
        hub.default_model()

    (checkout / "lite-demo-shapes.onnx").write_bytes(b"checkout copy")  # a source checkout wins
    assert hub.default_model() == checkout / "lite-demo-shapes.onnx"
