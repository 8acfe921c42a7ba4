"""The documentation: builds with ``mkdocs build --strict``, and its generated parts are current."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_models_page_matches_the_manifest():
    gen = _load("gen_models", DOCS / "gen_models.py")
    committed = (DOCS / "models.md").read_text(encoding="utf-8")
    assert committed == gen.render(), "docs/models.md is stale: run `python docs/gen_models.py`"
    for name in ("yolov6n", "yolov6l6", "yolov6lite-s", "lite-demo-shapes"):
        assert f"`{name}`" in committed


def test_cli_reference_covers_every_subcommand():
    hooks = _load("docs_hooks", DOCS / "hooks.py")
    text = hooks.cli_reference()
    from lite.cli import build_parser

    parser = build_parser()
    names = [n for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict) for n in a.choices]
    assert names, "no subcommands registered"
    for name in names:
        assert f"## lite {name}" in text and f"usage: lite {name}" in text


def test_mkdocs_build_strict(tmp_path: Path):
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None:
        pytest.skip("mkdocs / mkdocstrings are not installed (pip install 'lite-detect[dev]')")
    site = tmp_path / "site"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(REPO / "mkdocs.yml"), "-d", str(site)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    models = (site / "models" / "index.html").read_text(encoding="utf-8")
    assert "yolov6lite-s" in models and "Mobile Benchmark" in models
    hub_ref = (site / "reference" / "hub" / "index.html").read_text(encoding="utf-8")
    assert "resolve" in hub_ref and "ChecksumError" in hub_ref
    cli = (site / "cli" / "index.html").read_text(encoding="utf-8")
    assert "usage: lite detect" in cli
    # rendered as users see it: the material theme, docstring examples as highlighted code, no raw Sphinx roles
    assert 'class="md-header' in hub_ref
    example = re.search(r'<div class="[^"]*highlight[^"]*"><pre>.*?</pre>', hub_ref, re.S)
    assert example and "list_models" in re.sub(r"<[^>]+>", "", example.group(0))
    io_ref = (site / "reference" / "io" / "index.html").read_text(encoding="utf-8")
    assert ":class:" not in io_ref and ":func:" not in io_ref
    assert 'href="../errors/#lite.core.errors.ImageNotFoundError"' in io_ref  # a cross-reference became a link
    bad = (site / "bad-inputs" / "index.html").read_text(encoding="utf-8")
    assert "InputTypeError" in bad and "pre_nms_topk" in bad
