"""nox sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s docs``."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite with every CPU engine installed."""
    session.install("torch==2.13.0")
    session.install("-e", ".[dev,all]")
    session.install("--no-deps", "yolov6detect==0.4.1")
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the code."""
    session.install("ruff")
    session.run("ruff", "check", "lite", "tests", "examples", "benchmarks", "scripts", "noxfile.py")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs strictly."""
    session.install("-e", ".[dev]")
    session.run("mkdocs", "build", "--strict")
