"""Waiting for and watching Dune executions: the client's watch component.

``Watching`` joins the watch engine to Dune: it owns the client's one ``PollScheduler`` and the
two Dune status sources, and builds every watcher, wait and batch run on them. ``DuneClient``
holds one and exposes its methods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .._budget import RateBudget
from .._core import RequestCore
from .._errors import execution_error
from .._executions import Executions, Parameters
from .._models import ExecutionResult, ExecutionStatus, PipelineStatus
from .._results import ResultReader, ResultSource
from .._watch import ItemProgress, PollPolicy, PollScheduler, Watch, WatchState
from ._batch import BatchRun, QuerySpec, Via, as_spec
from ._pipeline import PipelineWatch
from ._sources import DuneExecutionSource, DunePipelineSource

__all__ = ["Watching", "raise_for_outcome"]


def raise_for_outcome(status: ExecutionStatus) -> ExecutionStatus:
    """Return a completed status (partial included); raise the execution error of any other.

    Raises:
        ExecutionFailedError: ``QUERY_STATE_FAILED``, with the server's error.
        ExecutionCancelledError: ``QUERY_STATE_CANCELLED``.
        ExecutionExpiredError: ``QUERY_STATE_EXPIRED``.
        ExecutionError: A terminal state this release does not know.
    """
    error = execution_error(status)
    if error is not None:
        raise error
    return status


class Watching:
    """The client's waits and watchers, on one scheduler shared within the rate budget.

    Args:
        core: The request core (its gate, when a ``RateBudget``, paces the scheduler).
        executions: The execution endpoints polls and submissions go through.
        policy: How watchers and waits poll.
    """

    def __init__(
        self, core: RequestCore, executions: Executions, *, policy: PollPolicy | None = None
    ) -> None:
        self._core = core
        self._executions = executions
        self._policy = policy
        self._scheduler: PollScheduler | None = None
        self._execution_source = DuneExecutionSource(executions)
        self._pipeline_source = DunePipelineSource(executions)

    def __repr__(self) -> str:
        return f"Watching(scheduler={self._scheduler!r})"

    @property
    def rate_budget(self) -> RateBudget | None:
        """The client's rate budget, when it has one."""
        gate = self._core.gate
        return gate if isinstance(gate, RateBudget) else None

    @property
    def scheduler(self) -> PollScheduler:
        """The poll scheduler shared by every watcher and wait (made on first use)."""
        if self._scheduler is None:
            self._scheduler = PollScheduler(budget=self.rate_budget, policy=self._policy)
        return self._scheduler

    def watch_executions(
        self,
        execution_ids: Iterable[str] | WatchState = (),
        *,
        timeout: float | None = None,
        on_progress: Callable[[ItemProgress], None] | None = None,
        cancel_on_exit: bool = False,
    ) -> Watch[ExecutionStatus]:
        """Watch many executions at once (see ``DuneClient.watch_executions``)."""
        return Watch(
            self.scheduler,
            self._execution_source,
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
        """Watch a pipeline execution and its nodes (see ``Pipelines.watch``)."""
        watch: Watch[PipelineStatus] = Watch(
            self.scheduler,
            self._pipeline_source,
            [pipeline_execution_id],
            timeout=timeout,
            on_progress=on_progress,
            cancel_on_exit=cancel_on_exit,
        )
        return PipelineWatch(watch, pipeline_execution_id)

    async def wait_for_execution(
        self, execution_id: str, *, timeout: float | None = None, cancel_on_timeout: bool = False
    ) -> ExecutionStatus:
        """Wait until the execution finishes (see ``DuneClient.wait_for_execution``)."""
        async with self.watch_executions(
            [execution_id], timeout=timeout, cancel_on_exit=cancel_on_timeout
        ) as watcher:
            final = (await watcher.wait())[execution_id]
        if final is None:  # pragma: no cover - a watch ends with a status or raises
            raise RuntimeError(f"the watch of {execution_id} ended without a status")
        return raise_for_outcome(final)

    async def refresh(self, query_id: int) -> str:
        """Execute a query whose stored result is too old and wait until it completes."""
        execution = await self._executions.execute_query(query_id)
        status = await self.wait_for_execution(execution.execution_id)
        return status.execution_id or execution.execution_id

    async def run_query(
        self,
        query_id: int,
        *,
        parameters: Parameters | None,
        performance: str | None,
        timeout: float | None,
        row_type: type[Any] | None,
        allow_partial_results: bool,
    ) -> ExecutionResult[Any]:
        """Execute a saved query, wait for it and read all its rows (see ``DuneClient``)."""
        started = await self._executions.execute_query(
            query_id, parameters=parameters, performance=performance
        )
        return await self._wait_and_read(
            started.execution_id, timeout, row_type, allow_partial_results
        )

    async def run_sql(
        self,
        sql: str,
        *,
        performance: str | None,
        timeout: float | None,
        row_type: type[Any] | None,
        allow_partial_results: bool,
    ) -> ExecutionResult[Any]:
        """Execute raw SQL, wait for it and read all its rows (see ``DuneClient``)."""
        started = await self._executions.execute_sql(sql, performance=performance)
        return await self._wait_and_read(
            started.execution_id, timeout, row_type, allow_partial_results
        )

    def reader(
        self, execution_id: str, row_type: type[Any] | None, allow_partial: bool
    ) -> ResultReader[Any]:
        """Return a reader of an execution's result."""
        return ResultReader(
            self._core,
            ResultSource.execution(execution_id),
            row_type=row_type,
            filters={"allow_partial_results": allow_partial} if allow_partial else None,
        )

    async def _wait_and_read(
        self,
        execution_id: str,
        timeout: float | None,
        row_type: type[Any] | None,
        allow_partial: bool,
    ) -> ExecutionResult[Any]:
        await self.wait_for_execution(execution_id, timeout=timeout)
        return await self.reader(execution_id, row_type, allow_partial).all()

    def run_many(
        self,
        queries: Sequence[int | QuerySpec],
        *,
        via: Via,
        timeout: float | None,
        fetch_results: bool,
        row_type: type[Any] | None,
        allow_partial_results: bool,
    ) -> BatchRun:
        """Run many saved queries, yielding each outcome (see ``DuneClient.run_many``)."""
        return BatchRun(
            self._executions,
            self,
            [as_spec(query) for query in queries],
            via=via,
            timeout=timeout,
            fetch_results=fetch_results,
            row_type=row_type,
            allow_partial_results=allow_partial_results,
        )
