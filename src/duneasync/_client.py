"""``DuneClient``: one thin method per Dune endpoint."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

import httpx
import msgspec

from ._budget import RateBudget
from ._decoding import decoding, decoding_results
from ._errors import ConfigurationError, UnsafeURLError
from ._models import (
    CSVPage,
    ExecutionResponse,
    ExecutionResult,
    ExecutionStatus,
    Pipeline,
    PipelineExecutionResponse,
    PipelineNode,
    PipelineStatus,
    QueryPipeline,
    encode_parameters,
)
from ._options import result_params
from ._ratelimit import RateLimitInfo
from ._results import ResultsMixin
from ._retry import RetryPolicy
from ._transport import (
    RequestGate,
    Transport,
    check_execution_id,
    check_query_id,
    parse_base_url,
)
from ._watch import PollPolicy, WatchMixin

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

    from ._options import ResultOptions

__all__ = ["DEFAULT_BASE_URL", "DuneClient"]

DEFAULT_BASE_URL = "https://api.dune.com"
"""The origin of Dune's public API."""
_DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

T = TypeVar("T")
RowT = TypeVar("RowT")

MaxAge = float | timedelta
"""How old a stored result may be: seconds, or a ``timedelta``."""

Parameters = Mapping[str, Any]
"""Query parameters by name: strings, numbers, booleans, dates or datetimes."""


def _execute_body(parameters: Parameters | None, performance: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if parameters:
        body["query_parameters"] = encode_parameters(dict(parameters))
    if performance is not None:
        body["performance"] = performance
    return body


def _csv_page(response: httpx.Response) -> CSVPage:
    raw_offset = response.headers.get("x-dune-next-offset")
    next_offset = int(raw_offset) if raw_offset and raw_offset.strip().isdigit() else None
    return CSVPage(
        data=response.content,
        next_offset=next_offset,
        next_uri=response.headers.get("x-dune-next-uri") or None,
    )


class DuneClient(ResultsMixin, WatchMixin):
    """An async client for the Dune API.

    Use it as an async context manager so its connections are closed::

        async with DuneClient() as dune:
            execution = await dune.execute_query(1234)

    Args:
        api_key: The API key; None reads the ``DUNE_API_KEY`` environment variable. It is sent
            only in the ``X-Dune-Api-Key`` header and never shown.
        base_url: The API's origin.
        timeout: Per-request timeout, in seconds or as an ``httpx.Timeout``.
        http_client: An ``httpx.AsyncClient`` to send with; the caller keeps ownership and
            closes it. Its base URL and headers are not used.
        transport: An httpx transport for the client's own ``httpx.AsyncClient`` (e.g. the fake
            Dune's in-process transport). Exclusive with ``http_client``.
        retry: The retry policy; ``RetryPolicy.no_wait()`` keeps tests fast.
        gate: A rate gate every request passes through (see ``RequestGate``).
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
        timeout: float | httpx.Timeout = _DEFAULT_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        gate: RequestGate | None = None,
        plan: str | None = None,
        rate_budget: RateBudget | None = None,
        poll_policy: PollPolicy | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("DUNE_API_KEY")
        if not key or not key.strip():
            raise ConfigurationError(
                "no Dune API key: pass api_key=... or set the DUNE_API_KEY environment variable"
            )
        if http_client is not None and transport is not None:
            raise ConfigurationError("give http_client or transport, not both")
        if sum(option is not None for option in (gate, plan, rate_budget)) > 1:
            raise ConfigurationError("give at most one of gate, plan and rate_budget")
        if plan is not None:
            rate_budget = RateBudget.for_plan(plan)
        self._poll_policy = poll_policy
        origin = parse_base_url(base_url)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=timeout, transport=transport, follow_redirects=False
        )
        self._transport = Transport(
            api_key=key.strip(),
            base_url=origin,
            http=self._http,
            retry=retry or RetryPolicy(),
            gate=gate if rate_budget is None else rate_budget,
            direct=transport,
        )

    def __repr__(self) -> str:
        return f"DuneClient(base_url={str(self._transport.base_url)!r})"

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
        return str(self._transport.base_url)

    @property
    def rate_limits(self) -> RateLimitInfo | None:
        """The rate-limit headers of the latest response that carried them."""
        return self._transport.rate_limits

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._transport.retry

    # -- executions -------------------------------------------------------------------------

    async def execute_query(
        self,
        query_id: int,
        *,
        parameters: Parameters | None = None,
        performance: str | None = None,
    ) -> ExecutionResponse:
        """Start an execution of a saved query.

        The request is never sent twice unless the server certainly did not act on it (a 429,
        or a connection that failed before sending), so one call costs at most one execution.

        Args:
            query_id: The saved query.
            parameters: Query parameters by name.
            performance: The engine tier, ``"medium"`` or ``"large"``.

        Returns:
            The new execution's id and state.
        """
        path = f"/query/{check_query_id(query_id)}/execute"
        body = _execute_body(parameters, performance)
        return await self._transport.send(
            "POST", path, bucket="write", json=body, decode=decoding(ExecutionResponse)
        )

    async def execute_sql(self, sql: str, *, performance: str | None = None) -> ExecutionResponse:
        """Start an execution of raw SQL.

        Args:
            sql: The SQL text (DuneSQL).
            performance: The engine tier, ``"medium"`` or ``"large"``.

        Returns:
            The new execution's id and state.
        """
        if not isinstance(sql, str) or not sql.strip():
            raise ConfigurationError("sql must be a non-empty string")
        body: dict[str, Any] = {"sql": sql}
        if performance is not None:
            body["performance"] = performance
        return await self._transport.send(
            "POST", "/sql/execute", bucket="write", json=body, decode=decoding(ExecutionResponse)
        )

    async def get_execution_status(
        self, execution_id: str, *, background: bool = False
    ) -> ExecutionStatus:
        """Return the current status of an execution.

        Args:
            execution_id: The execution.
            background: Mark the request as polling, which yields to other requests when the
                rate budget is short.
        """
        path = f"/execution/{check_execution_id(execution_id)}/status"
        return await self._transport.send(
            "GET", path, bucket="read", background=background, decode=decoding(ExecutionStatus)
        )

    async def cancel_execution(self, execution_id: str) -> bool:
        """Ask the server to cancel an execution; return whether it accepted."""
        path = f"/execution/{check_execution_id(execution_id)}/cancel"
        answer = await self._transport.send(
            "POST", path, bucket="read", decode=decoding(_CancelResponse)
        )
        return bool(answer.success)

    # -- results ----------------------------------------------------------------------------

    @overload
    async def get_execution_results(
        self, execution_id: str, *, row_type: None = None, **options: Unpack[ResultOptions]
    ) -> ExecutionResult[dict[str, Any]]: ...

    @overload
    async def get_execution_results(
        self, execution_id: str, *, row_type: type[RowT], **options: Unpack[ResultOptions]
    ) -> ExecutionResult[RowT]: ...

    async def get_execution_results(
        self,
        execution_id: str,
        *,
        row_type: type[Any] | None = None,
        **options: Unpack[ResultOptions],
    ) -> ExecutionResult[Any]:
        """Return one page of an execution's results as JSON.

        Args:
            execution_id: The execution.
            row_type: Decode rows straight into this type (a msgspec Struct, a TypedDict, a
                dataclass...) in the same pass as the JSON; rows are dicts by default.
            **options: ``limit``, ``offset``, ``columns``, ``filters``, ``sort_by``,
                ``sample_count``, ``allow_partial_results``,
                ``ignore_max_datapoints_per_request`` (see ``ResultOptions``).

        Returns:
            The page, with the status fields, rows, metadata and ``next_offset``.
        """
        path = f"/execution/{check_execution_id(execution_id)}/results"
        return await self._results_page(path, row_type, options)

    async def get_execution_results_csv(
        self, execution_id: str, **options: Unpack[ResultOptions]
    ) -> CSVPage:
        """Return one page of an execution's results as CSV, with where the next page starts."""
        path = f"/execution/{check_execution_id(execution_id)}/results/csv"
        return await self._csv_page(path, options)

    @overload
    async def get_latest_result(
        self,
        query_id: int,
        *,
        row_type: None = None,
        max_age: MaxAge | None = None,
        **options: Unpack[ResultOptions],
    ) -> ExecutionResult[dict[str, Any]]: ...

    @overload
    async def get_latest_result(
        self,
        query_id: int,
        *,
        row_type: type[RowT],
        max_age: MaxAge | None = None,
        **options: Unpack[ResultOptions],
    ) -> ExecutionResult[RowT]: ...

    async def get_latest_result(
        self,
        query_id: int,
        *,
        row_type: type[Any] | None = None,
        max_age: MaxAge | None = None,
        **options: Unpack[ResultOptions],
    ) -> ExecutionResult[Any]:
        """Return one page of the latest result of a saved query.

        Reading a stored result costs no execution credits. Takes the same options as
        ``get_execution_results``.

        Args:
            query_id: The saved query.
            row_type: Decode rows into this type; dicts by default.
            max_age: The oldest result to accept, in seconds or as a ``timedelta``. An older
                one (or one with no end time) makes the client execute the query, wait for it
                and return the new execution's page instead: that costs execution credits.
            **options: As for ``get_execution_results``.
        """
        path = f"/query/{check_query_id(query_id)}/results"
        page = await self._results_page(path, row_type, options)
        if max_age is None or not _is_stale(page, max_age):
            return page
        execution_id = await self._refresh(query_id)
        return await self.get_execution_results(execution_id, row_type=row_type, **options)

    async def get_latest_result_csv(
        self, query_id: int, *, max_age: MaxAge | None = None, **options: Unpack[ResultOptions]
    ) -> CSVPage:
        """Return one page of the latest result of a saved query as CSV.

        Args:
            query_id: The saved query.
            max_age: As for ``get_latest_result``; checking it costs one small JSON read.
            **options: As for ``get_execution_results``.
        """
        if max_age is not None:
            probe = await self.get_latest_result(query_id, limit=1)
            if _is_stale(probe, max_age):
                execution_id = await self._refresh(query_id)
                return await self.get_execution_results_csv(execution_id, **options)
        path = f"/query/{check_query_id(query_id)}/results/csv"
        return await self._csv_page(path, options)

    async def _refresh(self, query_id: int) -> str:
        """Execute a query whose stored result is too old and wait until it completes."""
        execution = await self.execute_query(query_id)
        status = await self.wait_for_execution(execution.execution_id)
        return status.execution_id or execution.execution_id

    @overload
    async def get_next_results(
        self, page: ExecutionResult[Any], *, row_type: None = None
    ) -> ExecutionResult[dict[str, Any]] | None: ...

    @overload
    async def get_next_results(
        self, page: ExecutionResult[Any], *, row_type: type[RowT]
    ) -> ExecutionResult[RowT] | None: ...

    async def get_next_results(
        self, page: ExecutionResult[Any], *, row_type: type[Any] | None = None
    ) -> ExecutionResult[Any] | None:
        """Follow a page's ``next_uri`` to the next page, or return None after the last one.

        Raises:
            UnsafeURLError: ``next_uri`` points away from the configured origin.
        """
        if page.next_uri is None:
            return None
        return await self._follow(page.next_uri, decoding_results(row_type))

    async def get_next_results_csv(self, page: CSVPage) -> CSVPage | None:
        """Follow a CSV page's ``next_uri``, or return None after the last page.

        Raises:
            UnsafeURLError: ``next_uri`` points away from the configured origin.
        """
        if page.next_uri is None:
            return None
        return await self._follow(page.next_uri, _csv_page)

    async def _follow(self, uri: str, decode: Callable[[httpx.Response], T]) -> T:
        probe = self._http.build_request("GET", uri)
        target = self._transport.check_same_origin(uri, request=probe)
        api_root = self._transport.url("").path
        if not target.path.startswith(api_root + "/"):
            raise UnsafeURLError(
                f"the server's next page link {target.path!r} is outside the API ({api_root!r})",
                request=probe,
            )
        path = target.path.removeprefix(api_root)
        params = dict(target.params.multi_items())
        return await self._transport.send("GET", path, bucket="read", params=params, decode=decode)

    async def _results_page(
        self, path: str, row_type: type[Any] | None, options: Mapping[str, object]
    ) -> ExecutionResult[Any]:
        params = result_params(options)
        return await self._transport.send(
            "GET", path, bucket="read", params=params, decode=decoding_results(row_type)
        )

    async def _csv_page(self, path: str, options: Mapping[str, object]) -> CSVPage:
        params = result_params(options)
        return await self._transport.send(
            "GET", path, bucket="read", params=params, decode=_csv_page
        )

    # -- pipelines --------------------------------------------------------------------------

    async def execute_pipeline(
        self,
        pipeline: Pipeline | list[PipelineNode] | None = None,
        *,
        query_id: int | None = None,
        performance: str | None = None,
        parameters: Parameters | None = None,
    ) -> PipelineExecutionResponse:
        """Start a pipeline: either the nodes given, or the one Dune builds from a query's lineage.

        Args:
            pipeline: The pipeline's nodes (query executions and materialized-view refreshes).
            query_id: Instead of ``pipeline``: run the pipeline of this query's lineage.
            performance: The engine tier, with ``query_id``.
            parameters: Query parameters, with ``query_id``.

        Returns:
            The pipeline execution's id.
        """
        body: dict[str, Any]
        if (pipeline is None) == (query_id is None):
            raise ConfigurationError("give either pipeline (the nodes) or query_id, not both")
        if pipeline is not None:
            if performance is not None or parameters is not None:
                raise ConfigurationError(
                    "performance and parameters go on each node when a pipeline is given"
                )
            nodes = pipeline.nodes if isinstance(pipeline, Pipeline) else list(pipeline)
            _check_nodes(nodes)
            body = {"pipeline": Pipeline(nodes=nodes)}
        else:
            body = {"query_id": check_query_id(query_id)}  # type: ignore[arg-type]
            body.update(_execute_body(parameters, performance))
        return await self._transport.send(
            "POST",
            "/pipelines/execute",
            bucket="write",
            json=body,
            decode=decoding(PipelineExecutionResponse),
        )

    async def execute_query_pipeline(
        self,
        query_id: int,
        *,
        performance: str = "medium",
        parameters: Parameters | None = None,
    ) -> PipelineExecutionResponse:
        """Start the pipeline Dune builds from a saved query's lineage."""
        path = f"/query/{check_query_id(query_id)}/pipeline/execute"
        body = _execute_body(parameters, performance)
        return await self._transport.send(
            "POST", path, bucket="write", json=body, decode=decoding(PipelineExecutionResponse)
        )

    async def get_query_pipeline(self, query_id: int) -> Pipeline:
        """Return the pipeline Dune builds from a saved query's lineage."""
        path = f"/query/{check_query_id(query_id)}/pipeline"
        answer = await self._transport.send(
            "GET", path, bucket="read", decode=decoding(QueryPipeline)
        )
        return answer.pipeline or Pipeline()

    async def get_pipeline_status(
        self, pipeline_execution_id: str, *, background: bool = False
    ) -> PipelineStatus:
        """Return the status of a pipeline execution and of every node in it (one request)."""
        pid = check_execution_id(pipeline_execution_id, what="pipeline_execution_id")
        path = f"/pipelines/executions/{pid}/status"
        return await self._transport.send(
            "GET", path, bucket="read", background=background, decode=decoding(PipelineStatus)
        )


def _is_stale(page: ExecutionResult[Any], max_age: MaxAge) -> bool:
    """Say whether a stored result ended longer than ``max_age`` ago (or has no end time)."""
    limit = max_age if isinstance(max_age, timedelta) else timedelta(seconds=max_age)
    ended = page.execution_ended_at or page.submitted_at
    return ended is None or datetime.now(timezone.utc) - ended > limit


class _CancelResponse(msgspec.Struct):
    success: bool = False


def _check_nodes(nodes: list[PipelineNode]) -> None:
    """Refuse a pipeline the server would refuse: empty, duplicate ids, unknown dependencies."""
    if not nodes:
        raise ConfigurationError("a pipeline needs at least one node")
    ids = [node.id for node in nodes]
    if len(set(ids)) != len(ids):
        raise ConfigurationError("pipeline node ids must be unique")
    for node in nodes:
        if (node.query_execution is None) == (node.materialized_view_refresh is None):
            raise ConfigurationError(
                f"pipeline node {node.id} needs exactly one of query_execution or"
                " materialized_view_refresh"
            )
        missing = [dep for dep in node.dependencies if dep not in ids]
        if missing:
            raise ConfigurationError(
                f"pipeline node {node.id} depends on unknown node(s) {missing}"
            )
