"""Public names say where users import them from: in reprs, tracebacks and pickles."""

from __future__ import annotations

import importlib
import pickle
import traceback

import httpx
import msgspec
import pytest

import duneasync
import duneasync.extend

PUBLIC_MODULES = ["duneasync", "duneasync.models", "duneasync.extend"]


def test_an_error_names_its_public_class_in_a_traceback() -> None:
    request = httpx.Request("GET", "https://api.dune.com/api/v1/execution/01EX/status")
    error = duneasync.NotFoundError(
        "GET /api/v1/execution/01EX/status answered 404 Not Found",
        request=request,
        response=httpx.Response(404, request=request),
    )

    text = "".join(traceback.format_exception(error))

    assert repr(duneasync.NotFoundError) == "<class 'duneasync.NotFoundError'>"
    assert "duneasync.NotFoundError: GET /api/v1/execution/01EX/status" in text
    assert "_errors" not in text


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_classes_and_functions_live_in_a_public_module(module_name: str) -> None:
    module = importlib.import_module(module_name)
    private = []
    for name in module.__all__:
        value = getattr(module, name)
        if isinstance(value, type) and issubclass(value, msgspec.Struct):
            continue  # msgspec resolves a Struct's annotations through its own module
        if callable(value) and value.__module__.startswith("duneasync._"):
            private.append(name)

    assert private == []


def test_extension_points_say_they_come_from_extend() -> None:
    assert duneasync.extend.PollScheduler.__module__ == "duneasync.extend"
    assert duneasync.extend.watch.__module__ == "duneasync.extend"


def test_a_policy_pickles_through_its_public_name() -> None:
    policy = duneasync.RetryPolicy.no_wait(attempts=3)

    assert pickle.loads(pickle.dumps(policy)) == policy
