"""``DuneClient``: the one object users hold, built from parts it owns (no base class).

It owns a request core (``RequestCore``), the execution endpoints (``Executions``), the watch
component (``Watching``) and the ``pipelines`` resource, and hands out a ``ResultReader`` per
result; its methods are one-line delegates (see docs/architecture.md).
"""

from __future__ import annotations

from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from ._budget import RateBudget
from ._decoding import decoding_results
from ._dune import BatchRun, Pipelines, QuerySpec, Via, Watching
from ._executions import Executions, Parameters
from ._models import CSVPage, ExecutionResponse, ExecutionResult, ExecutionStatus, PipelineStatus
from ._ratelimit import RateLimitInfo
from ._results import ResultReader, ResultSource, RowT, csv_page_of
from ._retry import RetryPolicy
from ._setup import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, wire
from ._watch import ItemProgress, PollPolicy, PollScheduler, Watch, WatchState

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from typing_extensions import Self, Unpack

    from ._gate import RequestGate
    from ._options import ResultFilters, ResultOptions

__all__ = ["DEFAULT_BASE_URL", "DuneClient"]


class DuneClient:
    """An async client for the Dune API.

    Use it as an async context manager so its connections are closed::

        async with DuneClient() as dune:
            execution = await dune.execute_query(1234)
            await dune.wait_for_execution(execution.execution_id)
            rows = await dune.results(execution.execution_id).all()

    Args:
        api_key: The API key; None reads the ``DUNE_API_KEY`` environment variable. It is sent
            only in the ``X-Dune-Api-Key`` header and never shown.
        base_url: The API's origin.
        timeout: Per-request timeout, in seconds or as an ``httpx.Timeout``.
        http_client: An ``httpx.AsyncClient`` to send with; the caller keeps ownership and
            closes it. Its base URL and headers are not used.
        transport: An httpx transport for the client's own ``httpx.AsyncClient`` (e.g. the fake
            Dune's in-process transport, or ``AiohttpTransport``). Exclusive with ``http_client``.
        retry: The retry policy; ``RetryPolicy.no_wait()`` keeps tests fast.
        gate: A rate gate every request passes through (see ``duneasync.extend.RequestGate``).
        plan: Keep within a Dune plan's rate budget: ``"free"``, ``"plus"`` or ``"premium"``
            (the server's rate-limit headers then correct it). Exclusive with ``gate``.
        rate_budget: A ``RateBudget`` to keep within, instead of ``plan``.
        poll_policy: How watchers and waits poll (intervals, concurrency).

    Raises:
        ConfigurationError: No API key was given or found, or the options conflict.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        gate: RequestGate | None = None,
        plan: str | None = None,
        rate_budget: RateBudget | None = None,
        poll_policy: PollPolicy | None = None,
    ) -> None:
        wiring = wire(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            http_client=http_client,
            transport=transport,
            retry=retry,
            gate=gate,
            plan=plan,
            rate_budget=rate_budget,
        )
        self._http, self._owns_http, self._core = wiring.http, wiring.owns_http, wiring.core
        self._executions = Executions(self._core)
        self._watching = Watching(self._core, self._executions, policy=poll_policy)
        self.pipelines = Pipelines(self._executions, self._watching)
        """Pipelines: ``execute``, ``status``, ``watch``... (see ``Pipelines``)."""

    def __repr__(self) -> str:
        return f"DuneClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client's connections (not those of an ``http_client`` it was given)."""
        if self._owns_http:
            await self._http.aclose()

    @property
    def base_url(self) -> str:
        """The origin every request goes to."""
        return str(self._core.base_url)

    @property
    def rate_limits(self) -> RateLimitInfo | None:
        """The rate-limit headers of the latest response that carried them."""
        return self._core.rate_limits

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._core.retry

    @property
    def rate_budget(self) -> RateBudget | None:
        """The client's rate budget, when it has one (``plan=`` or ``rate_budget=``)."""
        return self._watching.rate_budget

    @property
    def scheduler(self) -> PollScheduler:
        """The client's poll scheduler, shared by every watcher and wait."""
        return self._watching.scheduler

    # -- results ----------------------------------------------------------------------------

    def results(
        self,
        execution_id: str,
        *,
        row_type: type[RowT] | None = None,
        **filters: Unpack[ResultFilters],
    ) -> ResultReader[RowT]:
        """Return a reader of an execution's result: pages, rows, all, CSV, a file, frames.

        Args:
            execution_id: The execution.
            row_type: Decode rows straight into this type (a msgspec Struct, a TypedDict, a
                dataclass, a tuple type) in the same pass as the JSON; dicts by default.
            **filters: ``columns``, ``filters``, ``sort_by``, ``allow_partial_results``,
                ``ignore_max_datapoints_per_request`` (see ``ResultFilters``).

        Raises:
            ConfigurationError: A malformed id or option (nothing is sent).
        """
        source = ResultSource.execution(execution_id)
        return ResultReader(self._core, source, row_type=row_type, filters=filters)

    def latest_results(
        self,
        query_id: int,
        *,
        row_type: type[RowT] | None = None,
        max_age: float | timedelta | None = None,
        **filters: Unpack[ResultFilters],
    ) -> ResultReader[RowT]:
        """Return a reader of the latest result of a saved query (no execution credits).

        Args:
            query_id: The saved query.
            row_type: As for ``results``.
            max_age: The oldest result to accept, in seconds or as a ``timedelta``. An older
                one (or one with no end time) makes the reader execute the query, wait for it
                and read the new execution instead: that costs execution credits.
            **filters: As for ``results``.
        """
        return ResultReader(
            self._core,
            ResultSource.latest(query_id),
            row_type=row_type,
            filters=filters,
            max_age=max_age,
            refresh=self._watching.refresh,
            query_id=query_id,
        )

    async def get_execution_results(
        self, execution_id: str, **options: Unpack[ResultOptions]
    ) -> ExecutionResult[dict[str, Any]]:
        """Return one page of an execution's results: ``results(id).page(**options)``."""
        return await self.results(execution_id).page(**options)

    async def get_execution_results_csv(
        self, execution_id: str, **options: Unpack[ResultOptions]
    ) -> CSVPage:
        """Return one page of an execution's results as CSV (``results(id).csv_page(...)``)."""
        return await self.results(execution_id).csv_page(**options)

    async def get_latest_result(
        self,
        query_id: int,
        *,
        max_age: float | timedelta | None = None,
        **options: Unpack[ResultOptions],
    ) -> ExecutionResult[dict[str, Any]]:
        """Return one page of a saved query's latest result (``latest_results(id).page()``)."""
        return await self.latest_results(query_id, max_age=max_age).page(**options)

    async def get_latest_result_csv(
        self,
        query_id: int,
        *,
        max_age: float | timedelta | None = None,
        **options: Unpack[ResultOptions],
    ) -> CSVPage:
        """Return one page of a saved query's latest result as CSV."""
        return await self.latest_results(query_id, max_age=max_age).csv_page(**options)

    async def get_next_results(
        self, page: ExecutionResult[Any], *, row_type: type[Any] | None = None
    ) -> ExecutionResult[Any] | None:
        """Follow a page's ``next_uri`` (never to another origin), or return None after the last."""
        if page.next_uri is None:
            return None
        return await self._core.follow(page.next_uri, decode=decoding_results(row_type))

    async def get_next_results_csv(self, page: CSVPage) -> CSVPage | None:
        """Follow a CSV page's ``next_uri`` (never to another origin), or return None after it."""
        if page.next_uri is None:
            return None
        return await self._core.follow(page.next_uri, decode=csv_page_of)

    # -- executions -------------------------------------------------------------------------

    async def execute_query(
        self, query_id: int, *, parameters: Parameters | None = None, performance: str | None = None
    ) -> ExecutionResponse:
        """Start an execution of a saved query, with parameters by name and an engine tier.

        Never sent twice unless the server certainly did not act on it (a 429, or a connection
        that failed before sending): one call costs at most one execution.
        """
        return await self._executions.execute_query(
            query_id, parameters=parameters, performance=performance
        )

    async def execute_sql(self, sql: str, *, performance: str | None = None) -> ExecutionResponse:
        """Start an execution of raw SQL (DuneSQL); never sent twice, as ``execute_query``."""
        return await self._executions.execute_sql(sql, performance=performance)

    async def get_execution_status(self, execution_id: str) -> ExecutionStatus:
        """Return the current status of an execution."""
        return await self._executions.status(execution_id)

    async def cancel_execution(self, execution_id: str) -> bool:
        """Ask the server to cancel an execution; return whether it accepted."""
        return await self._executions.cancel(execution_id)

    async def get_pipeline_status(self, pipeline_execution_id: str) -> PipelineStatus:
        """Return the status of a pipeline execution and its nodes (``pipelines.status``)."""
        return await self._executions.pipeline_status(pipeline_execution_id)

    # -- waiting and watching ---------------------------------------------------------------

    async def wait_for_execution(
        self, execution_id: str, *, timeout: float | None = None, cancel_on_timeout: bool = False
    ) -> ExecutionStatus:
        """Wait until the execution finishes and return its final status (polls are shared).

        Args:
            execution_id: The execution.
            timeout: Seconds until ``WatchTimeoutError`` (None: as long as it takes).
            cancel_on_timeout: Cancel the execution if the wait ends unfinished (timeout or
                cancellation of the caller).

        Raises:
            ExecutionFailedError: It failed (the server's error is on ``.error``); likewise
                ``ExecutionCancelledError`` and ``ExecutionExpiredError``.
            WatchTimeoutError: The deadline passed; ``.last_status`` is the last status seen.
        """
        return await self._watching.wait_for_execution(
            execution_id, timeout=timeout, cancel_on_timeout=cancel_on_timeout
        )

    def watch_executions(
        self,
        execution_ids: Iterable[str] | WatchState = (),
        *,
        timeout: float | None = None,
        on_progress: Callable[[ItemProgress], None] | None = None,
        cancel_on_exit: bool = False,
    ) -> Watch[ExecutionStatus]:
        """Watch many executions at once, within the client's rate budget (see ``Watch``).

        Use it as ``async with``; watchers of one execution share its polls, and leaving the
        block stops polling (the executions keep running unless ``cancel_on_exit``).

        Args:
            execution_ids: The executions, or a saved ``WatchState`` to resume.
            timeout: Seconds from entering the block until waiting raises
                ``WatchTimeoutError`` (with the last statuses seen).
            on_progress: Called with an execution's progress on each change.
            cancel_on_exit: Cancel the unfinished executions when the block is left, even if
                the caller is being cancelled.
        """
        return self._watching.watch_executions(
            execution_ids, timeout=timeout, on_progress=on_progress, cancel_on_exit=cancel_on_exit
        )

    async def run_query(
        self,
        query_id: int,
        *,
        parameters: Parameters | None = None,
        performance: str | None = None,
        timeout: float | None = None,
        row_type: type[RowT] | None = None,
        allow_partial_results: bool = False,
    ) -> ExecutionResult[RowT]:
        """Execute a saved query, wait for it, and return all its rows.

        Args:
            query_id: The saved query.
            parameters: Query parameters by name.
            performance: ``"medium"`` or ``"large"``.
            timeout: Seconds the wait may take (submission and reading results not included).
            row_type: Decode rows into this type (dicts by default).
            allow_partial_results: Accept a truncated result (``QUERY_STATE_COMPLETED_PARTIAL``).

        Raises:
            ExecutionFailedError: The execution failed (likewise cancelled, expired).
            PartialResultError: Its result was truncated and partial results were not allowed.
            WatchTimeoutError: The deadline passed (the execution keeps running).
        """
        return await self._watching.run_query(
            query_id,
            parameters=parameters,
            performance=performance,
            timeout=timeout,
            row_type=row_type,
            allow_partial_results=allow_partial_results,
        )

    async def run_sql(
        self,
        sql: str,
        *,
        performance: str | None = None,
        timeout: float | None = None,
        row_type: type[RowT] | None = None,
        allow_partial_results: bool = False,
    ) -> ExecutionResult[RowT]:
        """Execute raw SQL (DuneSQL), wait for it, and return all its rows, as ``run_query``."""
        return await self._watching.run_sql(
            sql,
            performance=performance,
            timeout=timeout,
            row_type=row_type,
            allow_partial_results=allow_partial_results,
        )

    def run_many(
        self,
        queries: Sequence[int | QuerySpec],
        *,
        via: Via = "pipeline",
        timeout: float | None = None,
        fetch_results: bool = False,
        row_type: type[Any] | None = None,
        allow_partial_results: bool = False,
    ) -> BatchRun:
        """Run many saved queries; iterate the ``BatchRun`` for each outcome as it finishes.

        ``via="pipeline"`` submits them as one pipeline (one write request; one status request
        per poll reports them all); ``via="executions"`` one by one (one write request each).

        Args:
            queries: Query ids, or ``QuerySpec`` with parameters and performance.
            via: ``"pipeline"`` or ``"executions"``.
            timeout: Seconds from entering the block until waiting raises
                ``WatchTimeoutError``.
            fetch_results: Read each completed query's rows into ``RunOutcome.result``.
            row_type: Decode rows into this type.
            allow_partial_results: Accept truncated results.
        """
        return self._watching.run_many(
            queries,
            via=via,
            timeout=timeout,
            fetch_results=fetch_results,
            row_type=row_type,
            allow_partial_results=allow_partial_results,
        )
