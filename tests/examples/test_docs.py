"""The API reference shows every public name, and every public method and property of each class.

The reference pages (``docs/reference/*.md``) render modules with mkdocstrings, which sees the
package through griffe: a method griffe does not list on a rendered class (one inherited from a
mixin or a private base, when inherited members are not rendered) or one without a docstring
(``show_if_no_docstring: false``) is missing from the site. These tests read the same pages,
the same options and the same griffe view, and compare them with the package at run time.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

import duneasync

griffe = pytest.importorskip("griffe", reason="griffe comes with the docs dependencies")

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
PUBLIC_MODULES = ["duneasync", "duneasync.models", "duneasync.extend", "duneasync.testing"]


def _rendered_modules() -> list[str]:
    """The identifiers the reference pages render (``::: duneasync.models``)."""
    found: list[str] = []
    for page in sorted(REFERENCE.glob("*.md")):
        found += re.findall(r"^:::\s+(\S+)\s*$", page.read_text(encoding="utf-8"), re.MULTILINE)
    return found


def _renders_inherited_members() -> bool:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    return re.search(r"^\s*inherited_members:\s*true\s*$", config, re.MULTILINE) is not None


@functools.cache
def _loaded(module: str) -> Any:
    return griffe.load(module, search_paths=[str(ROOT / "src")], resolve_aliases=True)


def _public_callables(cls: type) -> dict[str, type]:
    """Public methods and properties of ``cls``, by name, with the class that defines each.

    Members that come from outside duneasync (``Exception.with_traceback``, msgspec's own) are
    documented by their own projects.
    """
    found: dict[str, type] = {}
    for name in dir(cls):
        if name.startswith("_"):
            continue
        definer = next(base for base in cls.__mro__ if name in vars(base))
        if not definer.__module__.startswith("duneasync"):
            continue
        value = inspect.getattr_static(definer, name)
        descriptor = (property, functools.cached_property, classmethod, staticmethod)
        if isinstance(value, descriptor) or inspect.isroutine(value):
            found[name] = definer
    return found


def test_every_public_module_has_a_reference_page() -> None:
    assert sorted(set(PUBLIC_MODULES) - set(_rendered_modules())) == []


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_has_a_docstring(module_name: str) -> None:
    module = importlib.import_module(module_name)
    loaded = _loaded(module_name)
    names = [name for name in module.__all__ if not name.startswith("__")]

    undocumented = [name for name in names if not loaded[name].docstring]

    assert undocumented == []


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_method_and_property_is_in_the_reference(module_name: str) -> None:
    module = importlib.import_module(module_name)
    loaded = _loaded(module_name)
    inherited = _renders_inherited_members()
    missing: list[str] = []
    for name in module.__all__:
        value = getattr(module, name)
        if not inspect.isclass(value):
            continue
        documented = loaded[name].all_members if inherited else loaded[name].members
        for member in _public_callables(value):
            shown = documented.get(member)
            if shown is None or not shown.docstring:
                missing.append(f"{name}.{member}")

    assert missing == []


def test_the_client_is_composed_not_inherited() -> None:
    # Every method the client offers is its own (a delegate to a part it owns): nothing reaches
    # the API reference, or a reader of the code, through a base class.
    for cls in (duneasync.DuneClient, duneasync.ResultReader, duneasync.Pipelines):
        bases = [base for base in cls.__mro__[1:] if base.__module__.startswith("duneasync")]
        assert bases == [], cls
