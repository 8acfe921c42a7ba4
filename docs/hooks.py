"""mkdocs hooks: the command-line reference is filled in from lite's own argument parsers.

``docs/cli.md`` holds the marker ``<!-- lite-cli-help -->``; at build time it is replaced by the
``--help`` text of ``lite`` and of every subcommand, so the page cannot drift from the code.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- lite-cli-help -->"
WIDTH = "100"


def cli_reference() -> str:
    """Markdown with the help text of ``lite`` and each subcommand, in name order."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from lite.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH  # argparse wraps at the terminal width: fix it for a stable page
    try:
        parser = build_parser()
        blocks = ["## lite", "", "```text", parser.format_help().rstrip(), "```", ""]
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for name, sub in sorted(subs[0].choices.items()) if subs else []:
            blocks += [f"## lite {name}", "", "```text", sub.format_help().rstrip(), "```", ""]
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    return "\n".join(blocks)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """mkdocs hook: expand the CLI marker."""
    if MARKER in markdown:
        return markdown.replace(MARKER, cli_reference())
    return markdown
