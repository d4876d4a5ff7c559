"""Shared constants and builders for the client tests."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import httpx
import respx

from duneasync import DuneClient, RetryPolicy

# Distinctive, so that any leak is easy to spot in a message, a log line or a URL.
API_KEY = "sk-dune-TEST-7f3a9c1e5b2d"
BASE_URL = "https://api.dune.com"
API = f"{BASE_URL}/api/v1"
EXECUTION_ID = "01GBM4W2N0NMCGPZYW8AYK4YF1"
PIPELINE_EXECUTION_ID = "01HKZJ2683PHF9Q9PHHQ8FW4Q1"

PAYLOADS = Path(__file__).parent / "payloads"
OPENAPI = Path(__file__).parents[1] / "data" / "dune-openapi.json"

_MISSING: Any = object()


def payload(name: str) -> Any:
    """Return a recorded JSON payload, decoded."""
    return json.loads((PAYLOADS / name).read_bytes())


def payload_bytes(name: str) -> bytes:
    """Return a recorded payload as the server sent it."""
    return (PAYLOADS / name).read_bytes()


@functools.cache
def _openapi() -> dict[str, Any]:
    return json.loads(OPENAPI.read_bytes())  # type: ignore[no-any-return]


def openapi_example(schema_name: str) -> dict[str, Any]:
    """Build a body from the ``example`` values of an OpenAPI schema (``models.X``).

    Properties without an example are left out, as a server may leave them out.
    """
    schemas = _openapi()["components"]["schemas"]
    built = _example(schemas[schema_name], schemas)
    assert isinstance(built, dict)
    return built


def _example(schema: dict[str, Any], schemas: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return _example(schemas[schema["$ref"].rsplit("/", 1)[1]], schemas)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = _example(part, schemas)
            if isinstance(value, dict):
                merged.update(value)
        return merged or _MISSING
    if "example" in schema:
        return schema["example"]
    if "properties" in schema:
        built = {name: _example(sub, schemas) for name, sub in schema["properties"].items()}
        return {name: value for name, value in built.items() if value is not _MISSING}
    if schema.get("type") == "array" and "items" in schema:
        item = _example(schema["items"], schemas)
        return _MISSING if item is _MISSING else [item]
    return _MISSING


def openapi_operation(method: str, path: str) -> dict[str, Any]:
    """Return the OpenAPI operation of ``method`` on ``path`` (``/v1/...``)."""
    return _openapi()["paths"][path][method.lower()]  # type: ignore[no-any-return]


def new_router() -> respx.MockRouter:
    """Return a router for the Dune API; an unrouted request fails the test."""
    return respx.MockRouter(base_url=API, assert_all_called=False)


def client_for(
    router: respx.MockRouter,
    *,
    retry: RetryPolicy | None = None,
    api_key: str | None = API_KEY,
    **kwargs: Any,
) -> DuneClient:
    """Return a client whose requests are answered by ``router``."""
    return DuneClient(
        api_key,
        transport=httpx.MockTransport(router.async_handler),
        retry=retry if retry is not None else RetryPolicy.no_wait(),
        **kwargs,
    )


def error_body(message: str) -> dict[str, str]:
    """Return Dune's JSON error body."""
    return {"error": message}


def sent_json(request: httpx.Request) -> Any:
    """Return the JSON body of a request."""
    return json.loads(request.content)


def query_of(request: httpx.Request) -> dict[str, str]:
    """Return the query string of a request as a dict (each name once)."""
    items = request.url.params.multi_items()
    assert len({name for name, _ in items}) == len(items), f"repeated parameter in {items}"
    return dict(items)
