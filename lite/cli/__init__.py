"""The ``lite`` command line.

Every module in this package (except those starting with ``_``) is a subcommand and defines
``register(subparsers)``, which adds its parser and sets ``func(args) -> int`` as the default.
Subcommand modules import heavy packages only inside ``func``, so ``lite --help`` is fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import pkgutil
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

from lite import __version__
from lite.cli._common import CommandParser
from lite.core.errors import LiteError


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every discovered subcommand."""
    parser = argparse.ArgumentParser(prog="lite", description="One object detector, every inference engine.")
    parser.add_argument("--version", action="version", version=f"lite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}").register(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process gets SIGTERM, so that it unwinds as on Ctrl-C.

    Every ``finally`` and every cleanup of a partial output (`lite.data.outputs.atomic_path`,
    `lite.core.files.OutputSet`) runs before the process exits with status 143 (128 + SIGTERM).
    """


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(f"terminated by signal {signum}")


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While the command runs, SIGTERM raises `Terminated` (only the main thread can set a handler)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lite`` console script; returns the exit code.

    0: done; 1: done, but some items failed (listed on stderr); 2: an error (the message on stderr);
    130: interrupted (Ctrl-C); 143: terminated (SIGTERM). Partial outputs are removed on 130 and 143.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with _sigterm_unwinds():
            return int(args.func(args) or 0)
    except LiteError as e:
        print(f"lite {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
