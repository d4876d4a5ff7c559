"""What a result read starts from: its source, its options, its page size.

A ``ResultSource`` names one result (an execution's, or the latest of a saved query) and the
paths it is read from. The options of a whole-result read are checked before any request, and
the page size is chosen so that the server never has to refuse or cut a page.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._checks import check_execution_id, check_query_id
from .._errors import ConfigurationError, execution_error
from .._models import ExecutionResult, ExecutionStatus
from .._options import result_params
from .._states import ExecutionState

__all__ = [
    "DATAPOINT_CAP",
    "DEFAULT_CONCURRENCY",
    "PROBE_ROWS",
    "STREAM_CONCURRENCY",
    "ReadOptions",
    "ResultSource",
    "check_state",
    "page_size_for",
    "status_of",
]

logger = logging.getLogger("duneasync")

DATAPOINT_CAP = 250_000
"""The most datapoints (rows x columns) Dune answers per request by default."""

DEFAULT_CONCURRENCY = 4
"""Pages requested at once by default: enough to hide the server's latency, light on the budget."""

STREAM_CONCURRENCY = 2
"""Pages requested at once by default by the row and page iterators (``rows``, ``pages``...).

Lower than ``DEFAULT_CONCURRENCY``: a streaming read is meant to take the same memory for any
result, and each request in flight holds a page body. Two keep one page arriving while
another is decoded.
"""

PROBE_ROWS = 1_000
"""The first page's size when the column count is unknown.

Under the datapoint cap for results of up to 250 columns, and small enough that learning the
shape costs one quick round trip.
"""

# Options that belong to a single page; a whole-result read decides them itself.
_PAGING_OPTIONS = frozenset({"limit", "offset", "sample_count"})
_KNOWN_STATES = frozenset(state.value for state in ExecutionState)


@dataclass(frozen=True)
class ResultSource:
    """Where a result is read from: one execution, or the latest result of a saved query.

    Attributes:
        path: The JSON results path under ``/api/v1``; ``path + "/csv"`` serves the CSV.
        description: How messages name the result.
        execution_id: The execution, when the source is pinned to one.
    """

    path: str
    description: str
    execution_id: str | None = None

    @classmethod
    def execution(cls, execution_id: str) -> ResultSource:
        """Read the result of one execution."""
        eid = check_execution_id(execution_id)
        return cls(f"/execution/{eid}/results", f"execution {eid}", eid)

    @classmethod
    def latest(cls, query_id: int) -> ResultSource:
        """Read the latest result of a saved query."""
        qid = check_query_id(query_id)
        return cls(f"/query/{qid}/results", f"the latest result of query {qid}")


def status_of(page: ExecutionResult[Any]) -> ExecutionStatus:
    """Return the status fields of a results page as an ``ExecutionStatus``."""
    fields = {
        name: getattr(page, name)
        for name in ExecutionStatus.__struct_fields__
        if hasattr(page, name)
    }
    return ExecutionStatus(**fields, result_metadata=page.metadata)


def check_state(page: ExecutionResult[Any], source: ResultSource, *, allow_partial: bool) -> None:
    """Raise the error of an execution with no usable result (see ``execution_error``).

    Raises:
        PartialResultError: A truncated result that was not asked for.
        ExecutionFailedError: The execution failed (likewise cancelled, expired).
        ResultNotReadyError: It has not finished yet.
        ExecutionError: It finished in a state this release does not know, without a result.
    """
    error = execution_error(
        status_of(page),
        what=source.description,
        allow_partial=allow_partial,
        has_result=page.result is not None,
    )
    if error is not None:
        raise error
    if page.state not in _KNOWN_STATES:
        # A state invented after this release, with rows: read them rather than refuse.
        logger.info("reading %s in unknown state %s", source.description, page.state)


def page_size_for(columns: int, *, requested: int | None, ignore_cap: bool) -> int:
    """Choose how many rows to ask for per page.

    Args:
        columns: The result's column count.
        requested: The caller's page size, if any.
        ignore_cap: Whether the read sets ``ignore_max_datapoints_per_request``.

    Returns:
        ``requested`` if it fits, else the most rows under the datapoint cap, so the server never
        has to refuse or cut a page.
    """
    cap = max(1, DATAPOINT_CAP // max(1, columns))
    if requested is None:
        return cap
    if ignore_cap or requested <= cap:
        return requested
    logger.debug(
        "page_size %d x %d columns exceeds the datapoint cap: using %d", requested, columns, cap
    )
    return cap


@dataclass(frozen=True)
class ReadOptions:
    """A whole-result read's options, checked once, before any request.

    Attributes:
        params: The query-string parameters every page request carries. The server is always
            asked for partial results: the client decides (``allow_partial``), so that a refusal
            is ``PartialResultError`` with the execution's status rather than a bare 400,
            whichever way the server handles the flag.
        allow_partial: Whether the caller accepts a partial result.
        page_size: The caller's rows per request (None: chosen from the column count).
        concurrency: Most requests in flight at once.
    """

    params: dict[str, str]
    allow_partial: bool
    page_size: int | None
    concurrency: int

    @classmethod
    def check(
        cls, filters: Mapping[str, object], *, page_size: int | None, concurrency: int
    ) -> ReadOptions:
        """Check a whole-result read's options.

        Raises:
            ConfigurationError: A paging option (the read pages by itself), a bad page size or
                concurrency, or a bad filter.
        """
        paging = sorted(_PAGING_OPTIONS & set(filters))
        if paging:
            raise ConfigurationError(
                f"{', '.join(paging)} cannot be given to a whole-result read: it pages by itself"
                " (use page_size=, or get_execution_results for one page or a sample)"
            )
        if page_size is not None and (
            isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1
        ):
            raise ConfigurationError(f"page_size must be a positive integer, not {page_size!r}")
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be a positive integer, not {concurrency!r}")
        params = result_params(filters)
        allow_partial = params.get("allow_partial_results") == "true"
        params["allow_partial_results"] = "true"
        return cls(params, allow_partial, page_size, concurrency)

    def rows_per_page(self, columns: int) -> int:
        """Choose the page size for a result of ``columns`` columns (see ``page_size_for``)."""
        ignore_cap = self.params.get("ignore_max_datapoints_per_request") == "true"
        return page_size_for(columns, requested=self.page_size, ignore_cap=ignore_cap)
