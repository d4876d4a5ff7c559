"""Checks of what callers give, made before anything is sent."""

from __future__ import annotations

import re

import httpx

from ._errors import ConfigurationError

__all__ = ["check_execution_id", "check_query_id", "parse_base_url"]

_EXECUTION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def check_query_id(query_id: int) -> int:
    """Refuse a query id that is not a positive integer, before it reaches a URL path."""
    if isinstance(query_id, bool) or not isinstance(query_id, int) or query_id <= 0:
        raise ConfigurationError(f"query_id must be a positive integer, not {query_id!r}")
    return query_id


def check_execution_id(execution_id: str, *, what: str = "execution_id") -> str:
    """Refuse an id with characters Dune never uses, so no input can change a URL path."""
    if not isinstance(execution_id, str) or not _EXECUTION_ID.fullmatch(execution_id):
        raise ConfigurationError(
            f"{what} must be 1-128 letters, digits, '-' or '_', not {execution_id!r}"
        )
    return execution_id


def parse_base_url(base_url: str) -> httpx.URL:
    """Check the API origin given by the caller and drop what must not be there."""
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError(f"base_url is not a URL: {base_url!r}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"base_url must be an http(s) URL, not {base_url!r}")
    if url.userinfo:
        raise ConfigurationError("base_url must not carry credentials")
    return url.copy_with(path=url.path.rstrip("/"), query=None, fragment=None)
