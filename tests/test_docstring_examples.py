"""The ``Example:`` blocks of lite's docstrings run, and print what they say they print.

Every fenced ``python`` block in a docstring under ``lite/`` (read with ``ast``; nothing is imported
to find them) runs in a temporary folder that holds the shared models and images under the names the
examples use (``bus.jpg``, ``yolov6lite_s_320_decoded.onnx``, ``yolov6-lite-s.param``,
``val2017_128/``, and the other families' files from ``models/foreign/*/`` under their own names, e.g.
``yolov8n_int8.onnx``, ``nanodet-plus-m_416.param``; ``models/foreign_tasks/*/`` likewise), with ``$LITE_HOME``
pointing there. A block whose first line is
``# not run: <reason>`` is skipped with that reason. Stated outputs follow the README convention
(see test_readme_examples.py). Also: no Sphinx role is left in a docstring (mkdocstrings shows them raw).
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_readme_examples import matches, stated_outputs

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^([ \t]*)```python\n(.*?)^\1```", re.S | re.M)
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj|const):`")
# Files whose docstrings are not converted yet (none: every module is converted).
PENDING_CONVERSION: tuple[str, ...] = ()


def _docstrings(path: Path) -> list[tuple[str, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                found.append((getattr(node, "name", "<module>"), doc))
    return found


def examples() -> list[tuple[str, str]]:
    out = []
    for path in sorted((REPO / "lite").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        for name, doc in _docstrings(path):
            for k, (_, code) in enumerate(FENCE.findall(doc)):
                out.append((f"{rel}:{name}:{k}", textwrap.dedent(code)))
    return out


EXAMPLES = examples()


def test_docstrings_have_runnable_examples():
    assert len(EXAMPLES) >= 8, [k for k, _ in EXAMPLES]


def test_no_sphinx_roles_left():
    bad = []
    for path in sorted((REPO / "lite").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith(PENDING_CONVERSION):
            continue
        bad += [f"{rel}: {m.group(0)}" for m in ROLE.finditer(path.read_text(encoding="utf-8"))]
    assert not bad, "Sphinx roles left (run scripts/docstrings_to_markdown.py):\n" + "\n".join(bad)


def test_conversion_script_is_idempotent():
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "docstrings_to_markdown.py"), "--check",
         *[str(p) for p in sorted((REPO / "lite").rglob("*.py"))
           if not p.relative_to(REPO).as_posix().startswith(PENDING_CONVERSION)]],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture()
def example_dir(shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "bus.jpg").symlink_to(shared / "images" / "bus.jpg")
    for folder in ("onnx", "ncnn"):
        for f in (shared / "models" / "yolov6lite" / folder).iterdir():
            (tmp_path / f.name).symlink_to(f)
    for f in sorted((shared / "models" / "foreign").glob("*/*")):  # the other families' real exports
        (tmp_path / f.name).symlink_to(f)
    for f in sorted((shared / "models" / "foreign_tasks").glob("*/*")):  # segmentation, pose, classification
        (tmp_path / f.name).symlink_to(f)
    (tmp_path / "val2017_128").symlink_to(shared / "coco" / "val2017_128")
    monkeypatch.setenv("LITE_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("where,code", EXAMPLES, ids=[k for k, _ in EXAMPLES])
def test_docstring_example_runs(where: str, code: str, example_dir: Path) -> None:
    first = code.lstrip().splitlines()[0] if code.strip() else ""
    if first.startswith("# not run:"):
        pytest.skip(first[2:])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, where, "exec"), {"__name__": "__example__"})  # noqa: S102
    printed = buf.getvalue().splitlines()
    for k, (want, got) in enumerate(zip(stated_outputs(code), printed, strict=False)):
        if want is not None:
            assert matches(want, got), f"{where}: print #{k + 1} states {want!r} but prints {got!r}"
