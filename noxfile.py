"""Development sessions: ``nox`` runs lint, type checks, tests and the docs build."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "docs"]
nox.options.reuse_existing_virtualenvs = True
nox.needs_version = ">=2024.4.15"

PYPROJECT = nox.project.load_toml("pyproject.toml")
SUPPORTED = ["3.10", "3.11", "3.12", "3.13"]


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff, and the import layering with import-linter."""
    session.install("-e", ".", *_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Check the package with mypy --strict and pyright (strict)."""
    session.install("-e", ".[polars,arrow,aiohttp]", *_group("typecheck"))
    session.run("mypy")
    session.run("pyright")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite on asyncio and trio."""
    session.install("-e", ".[cli,polars,arrow,aiohttp]", *_group("test"))
    session.run("pytest", *session.posargs)


@nox.session(name="tests-all", python=SUPPORTED)
def tests_all(session: nox.Session) -> None:
    """Run the test suite on every supported Python found on this machine."""
    tests(session)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site, failing on any warning."""
    session.install("-e", ".", *_group("docs"))
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", "site", env={"NO_MKDOCS_2_WARNING": "1"}
    )
