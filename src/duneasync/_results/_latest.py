"""The latest result of a saved query: how old it is, and refreshing it when too old."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from .._errors import ConfigurationError
from .._models import ExecutionResult

__all__ = ["Freshness", "MaxAge", "Refresh", "as_max_age", "is_stale"]

MaxAge = float | timedelta
"""How old a stored result may be: seconds, or a ``timedelta``."""

Refresh = Callable[[int], Awaitable[str]]
"""Execute a saved query, wait until it completes and return the execution's id."""


def is_stale(page: ExecutionResult[Any], max_age: timedelta) -> bool:
    """Say whether a stored result ended longer than ``max_age`` ago (or has no end time)."""
    ended = page.execution_ended_at or page.submitted_at
    if ended is None:
        return True
    if ended.tzinfo is None:  # a server that leaves out the offset means UTC, as Dune does
        ended = ended.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc) - ended > max_age


def as_max_age(value: MaxAge | None) -> timedelta | None:
    """Check a ``max_age`` argument and return it as a ``timedelta``."""
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigurationError(f"max_age must be seconds >= 0 or a timedelta, not {value!r}")
    return timedelta(seconds=value)


class Freshness:
    """How a latest result too old for the caller is refreshed."""

    def __init__(self, query_id: int, max_age: timedelta, refresh: Refresh) -> None:
        self.query_id = query_id
        self.max_age = max_age
        self.refresh = refresh
