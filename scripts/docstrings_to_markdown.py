"""Rewrite Sphinx-style docstring markup as the Markdown that mkdocstrings renders.

* Sphinx roles (``:class:`~lite.core.errors.ImageError```, ``:func:`load_image```, ``:meth:``...) become
  mkdocstrings cross-references (``[ImageError][lite.core.errors.ImageError]``) when the target is an object
  the API reference renders (a module named by a ``::: module`` line in ``docs/reference/*.md``, or
  a public member of one), and plain code (```load_image```) otherwise.
* ``Example:`` / ``Examples:`` sections written as doctest lines (``>>> ...``) and ``Example::``
  literal blocks become fenced ``python`` blocks (doctest output lines become ``# output`` comments),
  which render as code and which ``tests/test_docstring_examples.py`` runs.

Usage::

    python scripts/docstrings_to_markdown.py                 # every file under lite/
    python scripts/docstrings_to_markdown.py lite/cv/*.py    # some files
    python scripts/docstrings_to_markdown.py --check         # exit 1 if a file would change

Idempotent: running it again changes nothing.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROLE = re.compile(r":(?:py:)?(class|func|meth|attr|mod|data|exc|obj|const):`(~?)([^`]+)`")
SECTION = re.compile(r"^(?P<indent>\s*)(?P<title>Examples?)(?P<colons>::?)\s*$")


def rendered_modules(root: Path = ROOT) -> list[str]:
    """The objects the API reference renders with ``::: name`` (modules or classes)."""
    names = []
    for page in sorted((root / "docs" / "reference").glob("*.md")):
        names += re.findall(r"^:::\s*([\w.]+)", page.read_text(encoding="utf-8"), re.M)
    return names


def _is_rendered(target: str, rendered: list[str]) -> bool:
    for name in rendered:
        if target == name:
            return True
        if target.startswith(name + "."):
            rest = target[len(name) + 1 :].split(".")
            return not any(part.startswith("_") for part in rest)
    return False


def convert_roles(text: str, rendered: list[str]) -> str:
    """Sphinx roles -> ``[name][target]`` cross-references or ```code```."""

    def repl(m: re.Match[str]) -> str:
        short, target = m.group(2) == "~", m.group(3).strip()
        target = target.removesuffix("()")
        shown = target.rsplit(".", 1)[-1] if short else target
        if target.startswith("lite.") and _is_rendered(target, rendered):
            return f"[`{shown}`][{target}]"
        return f"`{shown}`"

    return ROLE.sub(repl, text)


def _fence(body: list[str], indent: str) -> list[str]:
    """Doctest or literal lines (already dedented to ``indent``) as one fenced python block."""
    code: list[str] = []
    doctest = any(line.strip().startswith(">>>") for line in body)
    for line in body:
        stripped = line.strip()
        if not doctest:
            code.append(line[len(indent) :] if line.startswith(indent) else stripped)
        elif stripped.startswith(">>>") or stripped.startswith("..."):
            code.append(stripped[4:] if len(stripped) > 3 else "")
        elif stripped:
            code.append(f"# {stripped}")  # the doctest's expected output
        else:
            code.append("")
    while code and not code[-1].strip():
        code.pop()
    while code and not code[0].strip():
        code.pop(0)
    return [f"{indent}```python", *[f"{indent}{c}" if c else "" for c in code], f"{indent}```"]


def convert_examples(text: str) -> str:
    """``Example:`` doctest sections and ``Example::`` literal blocks -> fenced python blocks."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = SECTION.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent = m.group("indent")
        j = i + 1
        body: list[str] = []
        while j < len(lines):
            line = lines[j]
            if line.strip() and (len(line) - len(line.lstrip())) <= len(indent):
                break
            if line.strip().startswith(('"""', "'''")):
                break
            body.append(line)
            j += 1
        content = [b for b in body if b.strip()]
        if not content or content[0].strip().startswith("```"):
            out.append(lines[i])
            i += 1
            continue
        trailing = 0
        while body and not body[-1].strip():
            body.pop()
            trailing += 1
        inner = min(len(b) - len(b.lstrip()) for b in content)
        out.append(f"{indent}{m.group('title')}:")
        out += _fence(body, " " * inner)
        out += [""] * trailing
        i = j
    return "\n".join(out)


def convert(text: str, rendered: list[str]) -> str:
    """Both rewrites."""
    return convert_examples(convert_roles(text, rendered))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="Python files (default: every file under lite/)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    args = parser.parse_args(argv)
    files = args.files or sorted((ROOT / "lite").rglob("*.py"))
    rendered = rendered_modules()
    changed = []
    for f in files:
        old = f.read_text(encoding="utf-8")
        new = convert(old, rendered)
        if new != old:
            changed.append(f)
            if not args.check:
                f.write_text(new, encoding="utf-8")
    for f in changed:
        print(f"{'would change' if args.check else 'changed'}: {f}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
