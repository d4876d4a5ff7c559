"""The sans-io vocabulary: a response plus how to deliver it, and the route table."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from duneasync.testing._ratelimit import Budget
from duneasync.testing._results import encode_json

__all__ = [
    "ENDPOINTS",
    "Delivery",
    "FakeResponse",
    "Route",
    "error",
    "json_response",
    "match_route",
    "parse_query",
]


class Delivery(enum.Enum):
    """How an adapter must deliver a response."""

    NORMAL = "normal"
    DROP = "drop"
    """Close the connection without answering."""
    DROP_BEFORE_SENDING = "drop_before_sending"
    """Same on the wire; in process, fail as if the connection never carried the request."""
    TRUNCATE = "truncate"
    """Announce the whole body but send only its first half, then close."""


@dataclass
class FakeResponse:
    """What the core answers: status, headers and body, plus delivery instructions.

    Attributes:
        status: The HTTP status code.
        headers: Response headers, in order.
        body: The full body.
        delivery: How the adapter must deliver it.
        delay: Real seconds to wait before delivering it.
        endpoint: The stable endpoint name, or `None` for an unknown route.
    """

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    body: bytes = b""
    delivery: Delivery = Delivery.NORMAL
    delay: float = 0.0
    endpoint: str | None = None

    def header(self, name: str) -> str | None:
        """Return the first header called `name` (any case), if present."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


def json_response(status: int, body: Mapping[str, object]) -> FakeResponse:
    """Return a JSON response."""
    return FakeResponse(status, [("Content-Type", "application/json")], encode_json(body))


def error(status: int, message: str) -> FakeResponse:
    """Return Dune's error shape, `{"error": message}`."""
    return json_response(status, {"error": message})


@dataclass(frozen=True)
class Route:
    """An endpoint: method, path pattern, stable name and the rate budget it spends."""

    method: str
    pattern: re.Pattern[str]
    name: str
    budget: Budget


def _route(method: str, path: str, name: str, budget: Budget) -> Route:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return Route(method, re.compile(f"/api/v1{pattern}"), name, budget)


ENDPOINTS: tuple[Route, ...] = (
    _route("POST", "/query/{query_id}/execute", "execute_query", "write"),
    _route("POST", "/sql/execute", "execute_sql", "write"),
    _route("GET", "/execution/{execution_id}/status", "execution_status", "read"),
    _route("GET", "/execution/{execution_id}/results", "execution_results", "read"),
    _route("GET", "/execution/{execution_id}/results/csv", "execution_results_csv", "read"),
    _route("GET", "/query/{query_id}/results", "query_results", "read"),
    _route("GET", "/query/{query_id}/results/csv", "query_results_csv", "read"),
    _route("POST", "/execution/{execution_id}/cancel", "cancel_execution", "read"),
    _route("POST", "/pipelines/execute", "execute_pipeline", "write"),
    _route("POST", "/query/{query_id}/pipeline/execute", "execute_query_pipeline", "write"),
    _route("GET", "/query/{query_id}/pipeline", "query_pipeline", "read"),
    _route("GET", "/pipelines/executions/{pipeline_id}/status", "pipeline_status", "read"),
)
"""Every endpoint the fake serves, with the stable name `stats.requests` counts it under."""


def match_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """Return the route serving `method path` and its path parameters, if any."""
    path = path.rstrip("/") or "/"
    for route in ENDPOINTS:
        found = route.pattern.fullmatch(path)
        if found is not None and route.method == method.upper():
            return route, found.groupdict()
    return None


def parse_query(query: str | Mapping[str, str]) -> dict[str, str]:
    """Return the query parameters as a dict, the first value winning for repeated names."""
    if not isinstance(query, str):
        return dict(query)
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(key, value)
    return params
