"""The query-string options of the results endpoints, checked before anything is sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypedDict

from ._errors import ConfigurationError

__all__ = ["ResultFilters", "ResultOptions", "result_params"]


class ResultFilters(TypedDict, total=False):
    """Options that shape which rows and columns a result read returns.

    Attributes:
        columns: Column names to return (a sequence, or a comma-separated string).
        filters: A SQL-WHERE-like expression, e.g. ``"block_number > 100"``.
        sort_by: A SQL-ORDER-BY-like expression (or several), e.g. ``"volume desc"``.
        allow_partial_results: Accept a truncated result (``QUERY_STATE_COMPLETED_PARTIAL``).
        ignore_max_datapoints_per_request: Lift the server's 250,000-datapoint cap per response.
    """

    columns: Sequence[str] | str
    filters: str
    sort_by: Sequence[str] | str
    allow_partial_results: bool
    ignore_max_datapoints_per_request: bool


class ResultOptions(ResultFilters, total=False):
    """Options of a single result page: ``ResultFilters`` plus paging and sampling.

    Attributes:
        limit: Most rows to return (the server may return fewer: follow ``next_offset``).
        offset: First row to return, from 0.
        sample_count: Return this many rows sampled from the result; cannot be combined with
            ``limit``, ``offset`` or ``filters``.
    """

    limit: int
    offset: int
    sample_count: int


_KNOWN = frozenset(ResultOptions.__optional_keys__)
_SAMPLE_EXCLUDES = ("limit", "offset", "filters")


def _joined(name: str, value: object) -> str:
    if isinstance(value, str):
        if not value.strip():
            raise ConfigurationError(f"{name} must not be empty")
        return value
    raw: list[object] = list(value) if isinstance(value, (list, tuple)) else []  # pyright: ignore[reportUnknownArgumentType]
    items = [item for item in raw if isinstance(item, str) and item]
    if not items or len(items) != len(raw):
        raise ConfigurationError(f"{name} must be a non-empty string or list of strings")
    if name == "columns" and any("," in item for item in items):
        raise ConfigurationError("columns must not contain ',' (it separates them on the wire)")
    return ",".join(items)


def _count(name: str, value: object, *, minimum: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return str(value)


def result_params(options: Mapping[str, object]) -> dict[str, str]:
    """Turn result options into query-string parameters, refusing impossible combinations.

    Raises:
        ConfigurationError: An unknown option, a bad value, or ``sample_count`` with ``limit``,
            ``offset`` or ``filters`` (the server refuses that mix).
    """
    unknown = sorted(set(options) - _KNOWN)
    if unknown:
        raise ConfigurationError(f"unknown result option(s): {', '.join(unknown)}")
    given = {name: value for name, value in options.items() if value is not None}
    if "sample_count" in given:
        clashing = [name for name in _SAMPLE_EXCLUDES if name in given]
        if clashing:
            raise ConfigurationError(
                f"sample_count cannot be combined with {', '.join(clashing)}"
                " (the API refuses sampling together with paging or filters)"
            )
    params: dict[str, str] = {}
    for name, value in given.items():
        if name in ("limit", "sample_count"):
            params[name] = _count(name, value, minimum=1)
        elif name == "offset":
            params[name] = _count(name, value, minimum=0)
        elif name in ("columns", "sort_by"):
            params[name] = _joined(name, value)
        elif name == "filters":
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError("filters must be a non-empty string")
            params[name] = value
        else:
            if not isinstance(value, bool):
                raise ConfigurationError(f"{name} must be True or False, not {value!r}")
            params[name] = "true" if value else "false"
    return params
