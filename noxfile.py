"""Developer and CI sessions: ``nox -s tests``, ``nox -s lint typing``, ``nox -s bench``."""

from __future__ import annotations

import shutil

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "typing", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite against private Redis-protocol servers; extra args go to pytest.

    The bench extra too: a smoke test runs the benchmarks (uvloop, httptools) on a tiny input.
    """
    session.install("-e", ".[test,bench]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict over src, tests and benchmarks (settings in pyproject.toml)."""
    session.install("-e", ".[test,bench]", "mypy")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks; results go to benchmarks/results/ as JSON."""
    if shutil.which("wrk") is None and shutil.which("apt-get") is not None:
        session.run("apt-get", "update", "-qq", external=True)
        session.run("apt-get", "install", "-y", "-qq", "wrk", external=True)
    session.install("-e", ".[test,bench]")
    session.run("python", "-m", "benchmarks", *session.posargs)
