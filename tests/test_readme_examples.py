"""The example outputs written in README.md and the docs are what the examples print.

A Python block whose ``print(...)`` line carries a comment that looks like output
(``print(dets)  # Detections(9): ...``), or is followed by such a comment line, states the
expected output. The block runs in a temporary folder
holding the shared model and image under the names the example uses; each print must give the
stated text (``...`` stands for elided text, e.g. the rest of a list).
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = ("README.md", "docs/index.md", "docs/quickstart.md")
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
PRINT = re.compile(r"^(print\(.*\))\s*#\s?(.*)$")
# a comment states an output when it looks like one: a repr (``Detections(9): ...``, ``{...}``, ``[...]``, a
# number or a string); a comment in words (``# backend, tensors, layout``) describes the line instead
OUTPUT = re.compile(r"^(?:[A-Z]\w*\(|[{\[(\d'\"-])")


def stated_outputs(code: str) -> list[str | None]:
    """For each top-level ``print(`` line of a block, its stated output (None: states none)."""
    lines = code.splitlines()
    out: list[str | None] = []
    for i, line in enumerate(lines):
        if not line.startswith("print("):
            continue
        m = PRINT.match(line)
        after = lines[i + 1][2:].strip() if i + 1 < len(lines) and lines[i + 1].startswith("# ") else ""
        if m and OUTPUT.match(m.group(2).strip()):
            out.append(m.group(2).strip())
        elif OUTPUT.match(after):
            out.append(after)
        else:
            out.append(None)
    return out


def expected_outputs(code: str) -> list[str]:
    """The stated outputs of a block, in order (empty when it states none)."""
    return [s for s in stated_outputs(code) if s is not None]


def blocks_with_outputs() -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        text = (REPO / page).read_text(encoding="utf-8")
        for k, code in enumerate(BLOCK.findall(text)):
            if expected_outputs(code):
                found.append((page, k, code))
    return found


def matches(expected: str, got: str) -> bool:
    """``got`` is ``expected``, where each ``...`` stands for any text (an elided rest of a list or dict)."""
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, got) is not None


def test_readme_states_an_output():
    assert any(page == "README.md" for page, _, _ in blocks_with_outputs())


@pytest.mark.parametrize("page,index,code", blocks_with_outputs(), ids=lambda v: str(v)[:40])
def test_example_prints_what_it_says(page, index, code, shared, tmp_path, monkeypatch):
    (tmp_path / "bus.jpg").symlink_to(shared / "images" / "bus.jpg")
    for model in (shared / "models" / "yolov6lite" / "onnx").glob("*.onnx"):
        (tmp_path / model.name).symlink_to(model)
    monkeypatch.chdir(tmp_path)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, f"{page} block {index}", "exec"), {"__name__": "__example__"})  # noqa: S102
    printed = buf.getvalue().splitlines()
    stated = stated_outputs(code)
    assert len(printed) >= len(stated), printed
    # the top-level prints come first and print one line each in these examples
    for k, (want, got) in enumerate(zip(stated, printed, strict=False)):
        if want is not None:
            assert matches(want, got), f"{page}: print #{k + 1} states {want!r} but prints {got!r}"
