"""Turning ``DuneClient``'s arguments into a request core: checked, then wired.

Every argument is checked here, before anything is built or sent, so that a mistake is one
``ConfigurationError`` that says which argument and why, never a dependency's exception later.
"""

from __future__ import annotations

import math
import os

import httpx

from ._budget import RateBudget
from ._checks import parse_base_url
from ._core import RequestCore
from ._errors import ConfigurationError
from ._gate import RequestGate
from ._retry import RetryPolicy

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "Wiring", "wire"]

DEFAULT_BASE_URL = "https://api.dune.com"
"""The origin of Dune's public API."""

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
"""Per-request timeouts: 30 s to read, 10 s to connect."""


class Wiring:
    """What a client is built from: its request core and the HTTP client under it.

    Attributes:
        core: Sends every request.
        http: The ``httpx.AsyncClient`` in use.
        owns_http: Whether the client built ``http`` (and so closes it).
    """

    __slots__ = ("core", "http", "owns_http")

    def __init__(self, core: RequestCore, http: httpx.AsyncClient, *, owns_http: bool) -> None:
        self.core = core
        self.http = http
        self.owns_http = owns_http


def _api_key(api_key: object) -> str:
    key = api_key if api_key is not None else os.environ.get("DUNE_API_KEY")
    if key is None or (isinstance(key, str) and not key.strip()):
        raise ConfigurationError(
            "no Dune API key: pass api_key=... or set the DUNE_API_KEY environment variable"
        )
    if not isinstance(key, str):
        raise ConfigurationError(f"api_key must be a string, not {type(key).__name__}")
    return key.strip()


def _timeout(timeout: object) -> float | httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ConfigurationError(f"timeout must be seconds or an httpx.Timeout, not {timeout!r}")
    if not (math.isfinite(timeout) and timeout > 0):
        raise ConfigurationError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return float(timeout)


def wire(
    *,
    api_key: str | None,
    base_url: str,
    timeout: float | httpx.Timeout,
    http_client: httpx.AsyncClient | None,
    transport: httpx.AsyncBaseTransport | None,
    retry: RetryPolicy | None,
    gate: RequestGate | None,
    plan: str | None,
    rate_budget: RateBudget | None,
) -> Wiring:
    """Check the client's arguments and build its request core (see ``DuneClient``).

    Raises:
        ConfigurationError: No key, a malformed argument, or options that exclude each other.
    """
    key = _api_key(api_key)
    if http_client is not None and transport is not None:
        raise ConfigurationError("give http_client or transport, not both")
    if sum(option is not None for option in (gate, plan, rate_budget)) > 1:
        raise ConfigurationError("give at most one of gate, plan and rate_budget")
    if plan is not None:
        if not isinstance(plan, str):
            raise ConfigurationError(f"plan must be a plan name such as 'plus', not {plan!r}")
        rate_budget = RateBudget.for_plan(plan)
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ConfigurationError(f"retry must be a RetryPolicy, not {retry!r}")
    origin = parse_base_url(base_url)
    http = http_client or httpx.AsyncClient(
        timeout=_timeout(timeout), transport=transport, follow_redirects=False
    )
    core = RequestCore(
        api_key=key,
        base_url=origin,
        http=http,
        retry=retry or RetryPolicy(),
        gate=gate if rate_budget is None else rate_budget,
        owned_transport=transport,
    )
    return Wiring(core, http, owns_http=http_client is None)
