"""The first hour of a new user (issue 20): the top-level API, one COCO name list, stale text, progress."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_public_api_is_importable_from_the_top_level_and_import_stays_light():
    out = _python(
        "import sys, lite\n"
        "heavy = [m for m in ('numpy', 'cv2', 'lite.cv', 'lite.data.io', 'onnxruntime') if m in sys.modules]\n"
        "print('heavy:', heavy)\n"
        "from lite import Detector, YOLOv6, load_image, Detections, compare\n"
        "import lite.cv, lite.data.io\n"
        "assert Detector is lite.cv.Detector and YOLOv6 is lite.cv.YOLOv6 and load_image is lite.data.io.load_image\n"
        "missing = [n for n in lite.__all__ if getattr(lite, n, None) is None]\n"
        "print('missing:', missing)\n"
    )
    assert "heavy: []" in out and "missing: []" in out, out


def test_one_coco_name_list_for_every_family(shared):
    """A model whose metadata spells COCO the Ultralytics way gets lite's one COCO list, as YOLOv6 has by default."""
    import json

    from lite.cv import Detector
    from lite.data.coco import COCO_NAMES, canonical_names
    from lite.data.metadata import from_mapping

    official = [*COCO_NAMES]
    for darknet, other in (("diningtable", "dining table"), ("tvmonitor", "tv"), ("motorbike", "motorcycle"),
                           ("aeroplane", "airplane"), ("sofa", "couch"), ("pottedplant", "potted plant")):  # fmt: skip
        official[official.index(darknet)] = other
    assert canonical_names(tuple(official)) == COCO_NAMES
    assert from_mapping({"names": json.dumps(dict(enumerate(official)))}).names == COCO_NAMES
    assert canonical_names(("cat", "dog")) == ("cat", "dog")  # another dataset: untouched
    models = shared / "models"
    v8 = Detector.from_file(models / "foreign" / "yolov8" / "yolov8n_int8.onnx", threads=1)
    v6 = Detector.from_file(models / "yolov6lite" / "onnx" / "yolov6lite_s_320_decoded.onnx", threads=1)
    assert v8.names == v6.names == COCO_NAMES


def test_bench_plot_without_matplotlib_fails_before_the_benchmark(onnx_dir, tmp_path, monkeypatch, capsys):
    import lite.tools.bench
    from lite.cli import main

    ran = []
    monkeypatch.setattr(lite.tools.bench, "benchmark", lambda *a, **k: ran.append(a))  # must never be reached
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an environment without matplotlib gives
    model = onnx_dir / "yolov6lite_s_320_decoded.onnx"
    code = main(["bench", "-m", str(model), "--runs", "500", "--plot", str(tmp_path / "b.png")])
    err = capsys.readouterr().err
    assert code == 2 and "plotting needs matplotlib" in err and "lite-detect[plot]" in err
    assert ran == [] and not (tmp_path / "b.png").exists()


def test_bench_shows_progress(onnx_dir, tmp_path):
    from test_cli import lite as run_lite

    model = onnx_dir / "yolov6lite_s_320_decoded.onnx"
    proc = run_lite("bench", "-m", model, "--runs", 10, "--warmup", 1, "--threads", 1)
    assert "[1/1] " in proc.stderr and "1 warm-up + 10 timed runs" in proc.stderr
    assert "run/s" in proc.stderr or "100%" in proc.stderr, proc.stderr  # tqdm's bar (it clears itself), or 10 % lines
    quiet = run_lite("bench", "-m", model, "--runs", 10, "--warmup", 1, "--threads", 1, "--no-progress")
    assert "%" not in quiet.stderr


# ----------------------------------------------------------------------------------------------
# text that goes stale: each check reads the registries, so a new backend or family fails it until documented
# ----------------------------------------------------------------------------------------------
def _registered() -> tuple[list[str], tuple[str, ...]]:
    import lite.backends
    import lite.cv

    return lite.backends.known(), lite.cv.family_names()


def test_docs_home_and_readme_name_every_backend_and_family():
    backends, families = _registered()
    assert "openvino" in backends and "nanodet" in families  # the registries are read, not empty
    for page in ("README.md", "docs/index.md"):
        text = (REPO / page).read_text(encoding="utf-8")
        missing = [b for b in backends if f"`{b}`" not in text]
        assert not missing, f"{page} does not name the backend(s) {missing} (as `name`)"
        missing = [f for f in families if f not in text.lower()]
        assert not missing, f"{page} does not name the family(ies) {missing}"
    home = (REPO / "docs" / "index.md").read_text(encoding="utf-8")
    number = {3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven"}.get(len(backends))
    assert f"**{number} engines.**" in home, f"docs/index.md should say **{number} engines.**"


def test_package_descriptions_name_every_family_and_engine():
    import tomllib
    import yaml

    _, families = _registered()
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["description"]
    site = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))["site_description"]
    assert project == site
    assert all(f in project.lower() for f in families), project
    assert "OpenVINO" in project and not project.split(": ", 1)[-1].startswith("YOLOv6 on")


def test_readme_says_where_the_snippet_model_comes_from():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    snippet = readme.split("```python", 1)[1].split("```", 1)[0]
    model = "yolov6lite_s_320_decoded.onnx"
    assert f'YOLOv6("{model}")' in snippet
    before = snippet.split(f'YOLOv6("{model}")', 1)[0]
    assert model in before and "lite export yolov6lite_s.pt --img 320" in before  # said before it is used


def test_help_texts_show_no_docstring_markup():
    import argparse

    from lite.cli import build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, sub in subs.items():
        text = sub.format_help()
        assert "``" not in text, f"lite {name} -h shows raw double backticks"


def test_ci_run_says_what_it_installs():
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    installs = [ln for ln in script.splitlines() if "pip install" in ln and not ln.lstrip().startswith("#")]
    quiet = [ln for ln in installs if " -q" in ln or "--quiet" in ln]
    assert not quiet, f".ci/run installs silently: {quiet}"
    bare = [ln for ln in installs if "python -m pip install" in ln and "$@" not in ln]
    assert not bare, f".ci/run installs without saying what (use pip_install): {bare}"
    assert 'echo "== pip install $*"' in script


def test_api_reference_defaults_are_values_not_names():
    """The Default column of the API reference (mkdocstrings) shows ``0.25``, not ``conf`` / ``DetectOptions.conf``."""
    import importlib.util
    import re

    import yaml

    griffe = __import__("pytest").importorskip("griffe")
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    python = next(p["mkdocstrings"] for p in config["plugins"] if isinstance(p, dict) and "mkdocstrings" in p)
    extensions = python["handlers"]["python"]["options"]["extensions"]
    assert "docs/griffe_defaults.py:LiteralDefaults" in extensions
    spec = importlib.util.spec_from_file_location("griffe_defaults", REPO / "docs" / "griffe_defaults.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    loaded = griffe.load_extensions(module.LiteralDefaults())
    lite_pkg = griffe.load("lite", search_paths=[str(REPO)], extensions=loaded)
    assert {p.name: p.default for p in lite_pkg["cv.detector.Detector.__init__"].parameters}["conf"] == "0.25"
    rendered = []
    for page in sorted((REPO / "docs" / "reference").glob("*.md")):
        rendered += re.findall(r"^:::\s*lite\.([\w.]+)", page.read_text(encoding="utf-8"), re.M)
    left = []

    def walk(obj):
        for member in obj.members.values():
            if member.is_alias or member.name.startswith("_") and member.name != "__init__":
                continue
            if member.is_function:
                left.extend(f"{member.path}({p.name}={p.default})" for p in member.parameters
                            if isinstance(p.default, griffe.ExprAttribute | griffe.ExprName)
                            and module.literal_default(member.module.path, str(p.default)) is not None)  # fmt: skip
            elif member.is_class or member.is_module:
                walk(member)

    for path in rendered:
        walk(lite_pkg[path])
    assert not left, f"defaults shown as names in the API reference: {left[:5]}"
