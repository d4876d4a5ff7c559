"""Reading Dune's rate-limit headers (IETF draft ``RateLimit`` and ``RateLimit-Policy``).

Both headers are lists with one entry per policy, e.g.::

    RateLimit-Policy: "write";q=15;w=60, "read";q=40;w=60
    RateLimit: "write";r=14;t=0, "read";r=39;t=52

Parsing is a pure function of the header values; nothing here sends or waits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import msgspec

__all__ = ["RateLimitInfo", "RateLimitPolicy", "RateLimitState", "parse_rate_limits"]


class RateLimitPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """A quota: ``quota`` requests per ``window`` seconds."""

    name: str
    quota: int | None = None
    window: float | None = None


class RateLimitState(msgspec.Struct, frozen=True, kw_only=True):
    """What is left of a policy's quota when the response was sent.

    Attributes:
        remaining: Requests left in the window (a positive value promises nothing).
        reset: Seconds until quota frees up.
    """

    name: str
    remaining: int | None = None
    reset: float | None = None


class RateLimitInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The rate-limit headers of one response, by policy name (``read``, ``write``, ``ip``).

    Attributes:
        policies: The quotas announced in ``RateLimit-Policy``.
        states: What remains of each, from ``RateLimit``.
        received_at: When the response arrived, on the event loop's clock.
    """

    policies: dict[str, RateLimitPolicy] = {}
    states: dict[str, RateLimitState] = {}
    received_at: float = 0.0


_QUOTED_NAME = re.compile(r'"(.*?)"(?=;|$)')


def _split_list(value: str) -> list[str]:
    """Split a structured-field list on commas outside quoted strings."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
            current.append(char)
        elif char == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    items.append("".join(current).strip())
    return [item for item in items if item]


def _parse_item(item: str) -> tuple[str, dict[str, str]]:
    """Read ``"name";k=v;k=v`` into the name and its parameters."""
    # A quoted name may itself hold ';' (structured-field strings can): it ends at the quote
    # that is followed by ';' or by the end of the item.
    quoted = _QUOTED_NAME.match(item)
    if quoted is not None:
        name, rest = quoted.group(1), item[quoted.end() + 1 :]
    else:
        name, _, rest = item.partition(";")
    params: dict[str, str] = {}
    for part in rest.split(";"):
        key, sep, val = part.partition("=")
        if sep:
            params[key.strip().lower()] = val.strip().strip('"')
    return name.strip().strip('"'), params


def _number(params: Mapping[str, str], key: str) -> float | None:
    raw = params.get(key)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _integer(params: Mapping[str, str], key: str) -> int | None:
    value = _number(params, key)
    return int(value) if value is not None else None


def parse_rate_limits(headers: Mapping[str, str], *, received_at: float) -> RateLimitInfo | None:
    """Read the rate-limit headers of a response.

    Args:
        headers: The response headers (case-insensitive mapping, such as ``httpx.Headers``).
        received_at: The clock reading to stamp the result with.

    Returns:
        The parsed headers, or None when the response carries neither header. Malformed entries
        are skipped rather than raised: rate-limit headers advise, they never fail a request.
    """
    policy_header = headers.get("ratelimit-policy")
    state_header = headers.get("ratelimit")
    if policy_header is None and state_header is None:
        return None
    policies: dict[str, RateLimitPolicy] = {}
    for item in _split_list(policy_header or ""):
        name, params = _parse_item(item)
        if name:
            policies[name] = RateLimitPolicy(
                name=name, quota=_integer(params, "q"), window=_number(params, "w")
            )
    states: dict[str, RateLimitState] = {}
    for item in _split_list(state_header or ""):
        name, params = _parse_item(item)
        if name:
            states[name] = RateLimitState(
                name=name, remaining=_integer(params, "r"), reset=_number(params, "t")
            )
    return RateLimitInfo(policies=policies, states=states, received_at=received_at)
