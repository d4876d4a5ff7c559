"""Reading a whole JSON result page by page: the plan, parallel fetches handed over in order.

How a read goes:

1. The first page is fetched alone. When the column count is not known yet, it asks for few
   rows (``_PROBE_ROWS``) so that no column count can make it overflow the server's datapoint cap.
2. Its metadata gives the total row count and the column count, which fix the page size
   (``page_size_for``). The remaining rows are cut into ranges of one page each.
3. Ranges are fetched by offset, up to ``concurrency`` at once, and handed over strictly in order.
   A range the server answers with fewer rows than asked (it may lower ``limit``) is completed by
   further requests from where the server stopped, so rows are never skipped or repeated.
4. Every page is checked against the first: same execution, same state, same total and
   columns. A mismatch raises ``ResultChangedError`` instead of mixing two results.

Paging is by ``offset`` rather than by following ``next_uri``: the API key never goes anywhere
but the configured origin, and pages can be requested in parallel.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
import msgspec

from ._decoding import results_decoder
from ._errors import (
    ConfigurationError,
    ExecutionCancelledError,
    ExecutionError,
    ExecutionExpiredError,
    ExecutionFailedError,
    PartialResultError,
    ResultChangedError,
    ResultNotReadyError,
    decode_error,
)
from ._models import ExecutionResult, ExecutionState, ExecutionStatus, ResultMetadata
from ._options import result_params
from ._transport import check_execution_id, check_query_id, with_body

if TYPE_CHECKING:
    import httpx

    from ._transport import Transport

__all__ = [
    "DATAPOINT_CAP",
    "DEFAULT_CONCURRENCY",
    "STREAM_CONCURRENCY",
    "Fetched",
    "PageReader",
    "ResultSource",
    "page_size_for",
    "run_in_order",
    "status_of",
]

logger = logging.getLogger("duneasync")

DATAPOINT_CAP = 250_000
"""The most datapoints (rows x columns) Dune answers per request by default."""

DEFAULT_CONCURRENCY = 4
"""Pages requested at once by default: enough to hide the server's latency, light on the budget."""

STREAM_CONCURRENCY = 2
"""Pages requested at once by default by the row and page iterators (``iter_rows`` etc.).

Lower than ``DEFAULT_CONCURRENCY``: a streaming read is meant to take the same memory for any
result, and each request in flight holds a page body. Two keep one page arriving while
another is decoded.
"""

# The first page's size when the column count is unknown: under the datapoint cap for results of
# up to 250 columns, and small enough that learning the shape costs one quick round trip.
_PROBE_ROWS = 1_000
# Options that belong to a single page; a whole-result read decides them itself.
_PAGING_OPTIONS = frozenset({"limit", "offset", "sample_count"})

T = TypeVar("T")
RowT = TypeVar("RowT")


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
    """Raise the error that fits an execution with no usable result; return if it has one.

    Raises:
        PartialResultError: A truncated result that was not asked for.
        ExecutionFailedError: The execution failed.
        ExecutionCancelledError: It was cancelled.
        ExecutionExpiredError: Its result expired.
        ResultNotReadyError: It has not finished yet.
        ExecutionError: It finished in a state this release does not know, without a result.
    """
    state = page.state
    what = source.description
    if state == ExecutionState.COMPLETED:
        return
    if state == ExecutionState.COMPLETED_PARTIAL:
        if allow_partial:
            return
        raise PartialResultError(
            f"{what} is partial (QUERY_STATE_COMPLETED_PARTIAL: the server truncated it at its"
            " storage cap); pass allow_partial_results=True to read the rows it kept",
            status=status_of(page),
        )
    if state == ExecutionState.FAILED:
        raise ExecutionFailedError(f"{what} failed: {page.error}", status=status_of(page))
    if state == ExecutionState.CANCELLED:
        raise ExecutionCancelledError(f"{what} was cancelled", status=status_of(page))
    if state == ExecutionState.EXPIRED:
        raise ExecutionExpiredError(
            f"{what} has expired; execute the query again", status=status_of(page)
        )
    if page.result is not None:
        # A state invented after this release, with rows: read them rather than refuse.
        logger.info("reading %s in unknown state %s", what, state)
        return
    if not page.is_finished:
        raise ResultNotReadyError(
            f"{what} is not finished yet ({state}); wait for it before reading its result",
            status=status_of(page),
        )
    raise ExecutionError(f"{what} ended in state {state} without a result", status=status_of(page))


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


def check_read_options(
    filters: Mapping[str, object], *, page_size: int | None, concurrency: int
) -> tuple[dict[str, str], bool]:
    """Validate a whole-result read's options.

    Returns:
        The query-string parameters every page request carries, and whether the caller accepts
        a partial result. The server is always asked for partial results: the client decides,
        so that a refusal is ``PartialResultError`` with the execution's status rather than a
        bare 400, whichever way the server handles the flag.
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
    return params, allow_partial


def page_decoder(row_type: type[Any] | None) -> msgspec.json.Decoder[ExecutionResult[Any]]:
    """Return the cached decoder of a results page with rows of ``row_type``."""
    return results_decoder(row_type)


@dataclass
class _Slot(Generic[T]):
    """A range of rows being fetched, and what came of it."""

    start: int
    stop: int | None
    done: anyio.Event = field(default_factory=anyio.Event)
    pages: list[T] = field(default_factory=list[T])
    error: Exception | None = None

    def outcome(self) -> list[T]:
        if self.error is not None:
            raise self.error
        return self.pages


async def _fill(slot: _Slot[T], fetch: Callable[[int, int | None], Awaitable[list[T]]]) -> None:
    # Failures are kept for the consumer, who raises them in row order: a failed range is
    # reported where it sits in the result, and the task group never sees a child fail.
    try:
        slot.pages = await fetch(slot.start, slot.stop)
    except Exception as exc:
        slot.error = exc
    finally:
        slot.done.set()


async def run_in_order(
    ranges: list[tuple[int, int | None]],
    fetch: Callable[[int, int | None], Awaitable[list[T]]],
    consume: Callable[[T], Awaitable[None]],
    *,
    concurrency: int,
) -> None:
    """Fetch ranges up to ``concurrency`` at once and consume their pages strictly in order.

    The consumer runs inside the task group, so this suits whole-result sinks (a list, a file, a
    frame). At most ``concurrency`` ranges are fetched or waiting at any time, plus the one being
    consumed: memory is bounded by pages in flight, not by the result.
    """
    pending = iter(ranges)
    window: deque[_Slot[T]] = deque()
    failure: Exception | None = None
    async with anyio.create_task_group() as tg:

        def refill() -> None:
            while len(window) < concurrency:
                bounds = next(pending, None)
                if bounds is None:
                    return
                slot: _Slot[T] = _Slot(*bounds)
                window.append(slot)
                tg.start_soon(_fill, slot, fetch)

        refill()
        try:
            while window:
                head = window[0]
                await head.done.wait()
                window.popleft()
                refill()  # keep the network busy while this range is consumed
                for page in head.outcome():
                    await consume(page)
        except Exception as exc:
            # Raised inside the group, the error would come out wrapped in an ExceptionGroup;
            # stop the other fetches and raise it as itself once the group has closed.
            failure = exc
            tg.cancel_scope.cancel()
    if failure is not None:
        raise failure


async def iter_in_batches(
    ranges: list[tuple[int, int | None]],
    fetch: Callable[[int, int | None], Awaitable[list[T]]],
    *,
    concurrency: int,
) -> AsyncGenerator[T, None]:
    """Fetch ranges ``concurrency`` at a time and yield their pages in order.

    Unlike ``run_in_order`` no task is left running while the caller holds a page: each batch's
    task group closes before its pages are yielded. A caller may break out of its loop at any
    point without leaving requests behind, even without closing the iterator.
    """
    for first in range(0, len(ranges), concurrency):
        batch: list[_Slot[T]] = [_Slot(*bounds) for bounds in ranges[first : first + concurrency]]
        async with anyio.create_task_group() as tg:
            for slot in batch:
                tg.start_soon(_fill, slot, fetch)
        for index, slot in enumerate(batch):
            pages = slot.outcome()
            batch[index] = _Slot(slot.start, slot.stop)  # let the pages go once yielded
            for page in pages:
                yield page


class Fetched:
    """The undecoded answer to a range's first request (see ``PageReader.prefetch``).

    Attributes:
        start: The range's first row.
        stop: The row after its last; None for the end of the result.
    """

    def __init__(self, start: int, stop: int | None, response: httpx.Response, body: bytes) -> None:
        self.start = start
        self.stop = stop
        self._answer: tuple[httpx.Response, bytes] | None = (response, body)

    def take(self) -> tuple[httpx.Response, bytes]:
        """Hand over the response and body, and let go of them (each is taken once)."""
        answer = self._answer
        if answer is None:
            raise RuntimeError("this body was already taken")  # pragma: no cover
        self._answer = None
        return answer


@dataclass
class _Shape:
    """What the first page told about the whole result."""

    first: ExecutionResult[Any]
    total: int | None
    column_names: list[str]


class PageReader:
    """Read one result as JSON pages, in parallel and in order.

    Args:
        transport: Sends the requests (rate budget and retries included).
        source: The execution or query whose result is read.
        row_type: Decode rows into this type; dicts when None.
        filters: ``columns``, ``filters``, ``sort_by``, ``allow_partial_results``,
            ``ignore_max_datapoints_per_request``.
        page_size: Rows per request; None chooses from the column count.
        concurrency: Most requests in flight at once.
    """

    def __init__(
        self,
        transport: Transport,
        source: ResultSource,
        *,
        row_type: type[Any] | None,
        filters: Mapping[str, object],
        page_size: int | None,
        concurrency: int,
    ) -> None:
        self._params, self.allow_partial = check_read_options(
            filters, page_size=page_size, concurrency=concurrency
        )
        self._transport = transport
        self.source = source
        self._decoder = page_decoder(row_type)
        self._requested_size = page_size
        self.concurrency = concurrency
        self._ignore_cap = self._params.get("ignore_max_datapoints_per_request") == "true"
        columns = self._params.get("columns")
        self._known_columns = len(columns.split(",")) if columns else None
        self._shape: _Shape | None = None
        self.page_size = self._size(self._known_columns)

    def _size(self, columns: int | None) -> int:
        if columns is None:
            return min(self._requested_size or _PROBE_ROWS, _PROBE_ROWS)
        return page_size_for(columns, requested=self._requested_size, ignore_cap=self._ignore_cap)

    async def _get(
        self, offset: int, limit: int, *, fetched: Fetched | None = None
    ) -> ExecutionResult[Any]:
        # ``fetched``: the body of this very request, already read by ``prefetch``.
        params = {**self._params, "offset": str(offset), "limit": str(limit)}
        attempts = self._transport.retry.attempts
        for attempt in range(1, attempts + 1):
            if fetched is not None and attempt == 1:
                response, body = fetched.take()
            else:
                response, body = await self._transport.get_body(self.source.path, params=params)
            try:
                return self._decoder.decode(body)
            except msgspec.ValidationError as exc:
                # The body is whole but does not fit the row type: sending again cannot help.
                raise decode_error(response.request, with_body(response, body), str(exc)) from exc
            except msgspec.DecodeError as exc:
                # A body cut short on the way decodes as broken JSON: a GET may simply be re-sent.
                if attempt >= attempts:
                    readable = with_body(response, body)
                    raise decode_error(response.request, readable, str(exc)) from exc
                logger.info(
                    "re-reading %s at offset %d: body did not decode",
                    self.source.description,
                    offset,
                )
        raise AssertionError("unreachable")  # pragma: no cover

    async def first_page(self) -> ExecutionResult[Any]:
        """Fetch the first page and learn the result's shape from it."""
        page = await self._get(0, self.page_size)
        check_state(page, self.source, allow_partial=self.allow_partial)
        metadata = page.metadata or ResultMetadata()
        self._shape = _Shape(page, metadata.total_row_count, list(metadata.column_names))
        if metadata.column_names:
            self.page_size = self._size(len(metadata.column_names))
        self._check_page(page, 0, None)
        return page

    @property
    def shape(self) -> _Shape:
        """The shape learnt from the first page."""
        if self._shape is None:
            raise RuntimeError("first_page() has not run")  # pragma: no cover
        return self._shape

    def plan(self, first: ExecutionResult[Any]) -> list[tuple[int, int | None]]:
        """Cut the rows after the first page into one range per page.

        Without a total row count the rest is one open range, read one page after another.
        """
        if first.next_offset is None:
            return []
        start = len(first.rows)
        total = self.shape.total
        if total is None:
            return [(start, None)]
        return [(lo, min(lo + self.page_size, total)) for lo in range(start, total, self.page_size)]

    def _check_page(self, page: ExecutionResult[Any], offset: int, stop: int | None) -> None:
        shape = self.shape
        first = shape.first
        what = self.source.description
        check_state(page, self.source, allow_partial=self.allow_partial)
        if page.execution_id != first.execution_id:
            raise ResultChangedError(
                f"{what} moved from execution {first.execution_id} to {page.execution_id} while"
                " it was being read; read it again"
            )
        metadata = page.metadata or ResultMetadata()
        if page.state != first.state or metadata.total_row_count != shape.total:
            raise ResultChangedError(
                f"{what} changed while being read (state {first.state} -> {page.state}, total"
                f" rows {shape.total} -> {metadata.total_row_count}); read it again"
            )
        if (
            metadata.column_names
            and shape.column_names
            and metadata.column_names != shape.column_names
        ):
            raise ResultChangedError(f"{what} changed columns while being read; read it again")
        rows = len(page.rows)
        end = offset + rows
        if page.next_offset is not None and page.next_offset != end:
            raise ResultChangedError(
                f"{what}: the page at offset {offset} holds {rows} rows but says the next starts"
                f" at {page.next_offset}; refusing to skip or repeat rows"
            )
        total = shape.total
        if page.next_offset is None and stop is not None and end < stop:
            raise ResultChangedError(
                f"{what} ended at row {end} although it has {total} rows; read it again"
            )
        if total is not None and end >= total and page.next_offset is not None:
            raise ResultChangedError(f"{what} has more rows than its total of {total}")

    def _limit(self, offset: int, stop: int | None) -> int:
        return self.page_size if stop is None else min(self.page_size, stop - offset)

    async def prefetch(self, start: int, stop: int | None) -> list[Fetched]:
        """Read the body of the first request of a range, leaving it undecoded.

        For streaming: bodies wait as bytes, several times smaller than decoded rows, and
        ``fetch_range(..., fetched=...)`` decodes each one only when its turn comes.
        """
        limit = self._limit(start, stop)
        params = {**self._params, "offset": str(start), "limit": str(limit)}
        response, body = await self._transport.get_body(self.source.path, params=params)
        return [Fetched(start, stop, response, body)]

    async def fetch_range(
        self, start: int, stop: int | None, *, fetched: Fetched | None = None
    ) -> list[ExecutionResult[Any]]:
        """Fetch rows ``[start, stop)`` (to the end if None) in as many pages as needed.

        Args:
            start: The first row.
            stop: The row after the last; None for the end of the result.
            fetched: The range's first body, read by ``prefetch``; its request is not re-sent.
        """
        pages: list[ExecutionResult[Any]] = []
        offset = start
        while stop is None or offset < stop:
            limit = self._limit(offset, stop)
            page = await self._get(offset, limit, fetched=fetched)
            fetched = None
            if stop is not None and len(page.rows) > stop - offset and page.result is not None:
                # The server ignored the limit: keep only this range's rows, the next range
                # fetches the others.
                page = msgspec.structs.replace(
                    page,
                    result=msgspec.structs.replace(
                        page.result, rows=page.result.rows[: stop - offset]
                    ),
                    next_offset=stop,
                )
            self._check_page(page, offset, stop)
            if not page.rows:
                if page.next_offset is None and stop is None:
                    return pages
                raise ResultChangedError(
                    f"{self.source.description} returned no rows at offset {offset}; read it again"
                )
            pages.append(page)
            offset += len(page.rows)
            if page.next_offset is None:
                break
            if stop is not None and offset < stop:
                logger.debug(
                    "server returned %d of %d rows at %d: fetching the rest",
                    len(page.rows),
                    limit,
                    offset,
                )
        return pages


def merge_metadata(
    first: ResultMetadata | None, delivered: int, page_bytes: int | None
) -> ResultMetadata:
    """Describe a whole result read page by page.

    ``row_count`` is the rows delivered and ``datapoint_count`` follows from it; the totals are
    the server's; ``result_set_bytes`` is the sum of the pages' own sizes (None if a page had
    none). Nothing is summed that the server already gave as a total.
    """
    base = first or ResultMetadata()
    columns = len(base.column_names) if base.column_names else None
    return msgspec.structs.replace(
        base,
        row_count=delivered,
        datapoint_count=delivered * columns if columns is not None else None,
        result_set_bytes=page_bytes,
    )
