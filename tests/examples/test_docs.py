"""Every public name has a docstring, so the API reference (mkdocstrings) renders it."""

from __future__ import annotations

import pytest

import duneasync
import duneasync.testing

griffe = pytest.importorskip("griffe", reason="griffe comes with the docs dependencies")


@pytest.mark.parametrize("module", [duneasync, duneasync.testing])
def test_every_public_name_has_a_docstring(module: object) -> None:
    loaded = griffe.load(module.__name__, search_paths=[duneasync.__path__[0] + "/.."])
    names = [name for name in module.__all__ if not name.startswith("__")]  # type: ignore[attr-defined]

    undocumented = [name for name in names if not loaded[name].docstring]

    assert undocumented == []
