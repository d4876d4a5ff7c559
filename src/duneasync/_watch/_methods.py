"""The waiting and watching methods of ``DuneClient``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from .._budget import RateBudget
from .._errors import (
    ExecutionCancelledError,
    ExecutionError,
    ExecutionExpiredError,
    ExecutionFailedError,
)
from .._models import ExecutionResult, ExecutionState, ExecutionStatus, PipelineStatus
from ._batch import BatchRun, QuerySpec, Via, as_spec
from ._pipeline import PipelineWatch
from ._policy import PollPolicy
from ._progress import ItemProgress, WatchState
from ._scheduler import PollScheduler
from ._source import DuneExecutionSource, DunePipelineSource, StatusSource
from ._watcher import Watch

if TYPE_CHECKING:
    from .._client import DuneClient, Parameters
    from .._transport import Transport

__all__ = ["WatchMixin", "raise_for_outcome", "watch"]

S = TypeVar("S")
RowT = TypeVar("RowT")

_SUCCESS = (ExecutionState.COMPLETED.value, ExecutionState.COMPLETED_PARTIAL.value)
_ERRORS: dict[str, type[ExecutionError]] = {
    ExecutionState.FAILED.value: ExecutionFailedError,
    ExecutionState.CANCELLED.value: ExecutionCancelledError,
    ExecutionState.EXPIRED.value: ExecutionExpiredError,
}


def raise_for_outcome(status: ExecutionStatus) -> ExecutionStatus:
    """Return a completed status (partial included); raise the execution error of any other.

    Raises:
        ExecutionFailedError: ``QUERY_STATE_FAILED``, with the server's error.
        ExecutionCancelledError: ``QUERY_STATE_CANCELLED``.
        ExecutionExpiredError: ``QUERY_STATE_EXPIRED``.
        ExecutionError: A terminal state this release does not know.
    """
    if status.state in _SUCCESS:
        return status
    cls = _ERRORS.get(status.state or "", ExecutionError)
    message = f"execution {status.execution_id} ended {status.state}"
    if status.error is not None:
        message += f": {status.error}"
    raise cls(message, status=status)


def watch(
    source: StatusSource[S],
    keys: Iterable[str] | WatchState = (),
    *,
    scheduler: PollScheduler | None = None,
    budget: RateBudget | None = None,
    policy: PollPolicy | None = None,
    timeout: float | None = None,
    on_progress: Callable[[ItemProgress], None] | None = None,
    cancel_on_exit: bool = False,
) -> Watch[S]:
    """Watch the items of any ``StatusSource`` (see ``GenericExecutionSource``).

    Args:
        source: Where statuses come from.
        keys: Ids to watch, or a saved ``WatchState``.
        scheduler: A scheduler to share with other watches; a new one by default, built from
            ``budget`` and ``policy``.
        budget: The rate budget of a new scheduler.
        policy: The poll policy of a new scheduler.
        timeout: Seconds until waiting raises ``WatchTimeoutError``.
        on_progress: Called with an item's progress on each change.
        cancel_on_exit: Cancel the unfinished items when the block is left.
    """
    if scheduler is None:
        scheduler = PollScheduler(budget=budget, policy=policy)
    return Watch(
        scheduler,
        source,
        keys,
        timeout=timeout,
        on_progress=on_progress,
        cancel_on_exit=cancel_on_exit,
    )


class WatchMixin:
    """The waiting and watching methods of ``DuneClient`` (wait, run, watch)."""

    _transport: Transport
    _poll_policy: PollPolicy | None = None
    _scheduler: PollScheduler | None = None
    _execution_source: DuneExecutionSource | None = None
    _pipeline_source: DunePipelineSource | None = None

    def _dune(self) -> DuneClient:
        return cast("DuneClient", self)

    @property
    def scheduler(self) -> PollScheduler:
        """The client's poll scheduler, shared by every watcher and wait."""
        if self._scheduler is None:
            gate = self._transport.gate
            budget = gate if isinstance(gate, RateBudget) else None
            self._scheduler = PollScheduler(budget=budget, policy=self._poll_policy)
        return self._scheduler

    @property
    def rate_budget(self) -> RateBudget | None:
        """The client's rate budget, when it has one (``plan=`` or ``rate_budget=``)."""
        gate = self._transport.gate
        return gate if isinstance(gate, RateBudget) else None

    def _executions(self) -> DuneExecutionSource:
        if self._execution_source is None:
            self._execution_source = DuneExecutionSource(self._dune())
        return self._execution_source

    def _pipelines(self) -> DunePipelineSource:
        if self._pipeline_source is None:
            self._pipeline_source = DunePipelineSource(self._dune())
        return self._pipeline_source

    def watch_executions(
        self,
        execution_ids: Iterable[str] | WatchState = (),
        *,
        timeout: float | None = None,
        on_progress: Callable[[ItemProgress], None] | None = None,
        cancel_on_exit: bool = False,
    ) -> Watch[ExecutionStatus]:
        """Watch many executions at once, within the client's rate budget.

        Use it as ``async with``; ``add()`` more ids while it runs. Watchers of the same
        execution share its polls. Leaving the block stops polling; the executions keep running
        unless ``cancel_on_exit`` is True::

            async with dune.watch_executions(ids, timeout=900) as watcher:
                async for status in watcher.as_completed():
                    ...

        Args:
            execution_ids: The executions, or a saved ``WatchState`` to resume.
            timeout: Seconds from entering the block until waiting raises
                ``WatchTimeoutError`` (with the last statuses seen).
            on_progress: Called with an execution's progress on each change.
            cancel_on_exit: Cancel the unfinished executions when the block is left, even if
                the caller is being cancelled.
        """
        return Watch(
            self.scheduler,
            self._executions(),
            execution_ids,
            timeout=timeout,
            on_progress=on_progress,
            cancel_on_exit=cancel_on_exit,
        )

    def watch_pipeline(
        self,
        pipeline_execution_id: str,
        *,
        timeout: float | None = None,
        on_progress: Callable[[ItemProgress], None] | None = None,
        cancel_on_exit: bool = False,
    ) -> PipelineWatch:
        """Watch a pipeline execution and each of its nodes, one status request per poll.

        Args:
            pipeline_execution_id: The pipeline execution.
            timeout: Seconds from entering the block until waiting raises
                ``WatchTimeoutError``.
            on_progress: Called with the pipeline's progress (``percent`` of nodes finished).
            cancel_on_exit: Cancel the unfinished nodes' executions when the block is left.
        """
        watch: Watch[PipelineStatus] = Watch(
            self.scheduler,
            self._pipelines(),
            [pipeline_execution_id],
            timeout=timeout,
            on_progress=on_progress,
            cancel_on_exit=cancel_on_exit,
        )
        return PipelineWatch(watch, pipeline_execution_id)

    async def wait_for_execution(
        self,
        execution_id: str,
        *,
        timeout: float | None = None,
        cancel_on_timeout: bool = False,
    ) -> ExecutionStatus:
        """Wait until the execution finishes and return its final status.

        Concurrent waits and watchers of the same execution share one poll stream.

        Args:
            execution_id: The execution.
            timeout: Seconds until ``WatchTimeoutError`` (None: wait as long as it takes).
            cancel_on_timeout: Cancel the execution if the wait ends unfinished (timeout or
                cancellation of the caller).

        Returns:
            The final status: ``QUERY_STATE_COMPLETED`` or ``QUERY_STATE_COMPLETED_PARTIAL``.

        Raises:
            ExecutionFailedError: It failed (the server's error is on ``.error``).
            ExecutionCancelledError: It was cancelled.
            ExecutionExpiredError: Its results expired.
            WatchTimeoutError: The deadline passed; ``.last_status`` is the last status seen.
        """
        async with self.watch_executions(
            [execution_id], timeout=timeout, cancel_on_exit=cancel_on_timeout
        ) as watcher:
            final = (await watcher.wait())[execution_id]
        if final is None:  # pragma: no cover - a watch ends with a status or raises
            raise RuntimeError(f"the watch of {execution_id} ended without a status")
        return raise_for_outcome(final)

    @overload
    async def run_query(
        self,
        query_id: int,
        *,
        parameters: Parameters | None = None,
        performance: str | None = None,
        timeout: float | None = None,
        row_type: None = None,
        allow_partial_results: bool = False,
    ) -> ExecutionResult[dict[str, Any]]: ...

    @overload
    async def run_query(
        self,
        query_id: int,
        *,
        parameters: Parameters | None = None,
        performance: str | None = None,
        timeout: float | None = None,
        row_type: type[RowT],
        allow_partial_results: bool = False,
    ) -> ExecutionResult[RowT]: ...

    async def run_query(
        self,
        query_id: int,
        *,
        parameters: Parameters | None = None,
        performance: str | None = None,
        timeout: float | None = None,
        row_type: type[Any] | None = None,
        allow_partial_results: bool = False,
    ) -> ExecutionResult[Any]:
        """Execute a saved query, wait for it, and return all its rows.

        Args:
            query_id: The saved query.
            parameters: Query parameters by name.
            performance: ``"medium"`` or ``"large"``.
            timeout: Seconds the wait may take (submission and reading results not included).
            row_type: Decode rows into this type (dicts by default).
            allow_partial_results: Accept a truncated result (``QUERY_STATE_COMPLETED_PARTIAL``).

        Raises:
            ExecutionFailedError: The execution failed, with the server's error.
            ExecutionCancelledError: It was cancelled.
            ExecutionExpiredError: Its results expired.
            PartialResultError: Its result was truncated and partial results were not allowed.
            WatchTimeoutError: The deadline passed (the execution keeps running).
        """
        dune = self._dune()
        started = await dune.execute_query(query_id, parameters=parameters, performance=performance)
        return await self._wait_and_read(
            started.execution_id, timeout, row_type, allow_partial_results
        )

    @overload
    async def run_sql(
        self,
        sql: str,
        *,
        performance: str | None = None,
        timeout: float | None = None,
        row_type: None = None,
        allow_partial_results: bool = False,
    ) -> ExecutionResult[dict[str, Any]]: ...

    @overload
    async def run_sql(
        self,
        sql: str,
        *,
        performance: str | None = None,
        timeout: float | None = None,
        row_type: type[RowT],
        allow_partial_results: bool = False,
    ) -> ExecutionResult[RowT]: ...

    async def run_sql(
        self,
        sql: str,
        *,
        performance: str | None = None,
        timeout: float | None = None,
        row_type: type[Any] | None = None,
        allow_partial_results: bool = False,
    ) -> ExecutionResult[Any]:
        """Execute raw SQL, wait for it, and return all its rows (see ``run_query``)."""
        started = await self._dune().execute_sql(sql, performance=performance)
        return await self._wait_and_read(
            started.execution_id, timeout, row_type, allow_partial_results
        )

    async def _wait_and_read(
        self,
        execution_id: str,
        timeout: float | None,
        row_type: type[Any] | None,
        allow_partial: bool,
    ) -> ExecutionResult[Any]:
        await self.wait_for_execution(execution_id, timeout=timeout)
        return await self._dune().get_all_results(
            execution_id, row_type=row_type, allow_partial_results=allow_partial
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
        """Run many saved queries and yield each outcome as it finishes.

        With ``via="pipeline"`` (the default) the queries are submitted as one pipeline of
        independent nodes: one write request, and one status request per poll reports them
        all. If the server refuses the pipeline, ``PipelineRefusedError`` says so and nothing
        runs; ``via="executions"`` submits them one by one instead (one write request each).

        Args:
            queries: Query ids, or ``QuerySpec`` with parameters and performance.
            via: ``"pipeline"`` or ``"executions"``.
            timeout: Seconds from entering the block until waiting raises
                ``WatchTimeoutError``.
            fetch_results: Read each completed query's rows (through its execution id) into
                ``RunOutcome.result``.
            row_type: Decode rows into this type.
            allow_partial_results: Accept truncated results.
        """
        return BatchRun(
            self._dune(),
            [as_spec(query) for query in queries],
            via=via,
            timeout=timeout,
            fetch_results=fetch_results,
            row_type=row_type,
            allow_partial_results=allow_partial_results,
        )
