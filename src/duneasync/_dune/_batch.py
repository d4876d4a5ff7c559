"""``run_many``: submit many queries, as one pipeline or one by one, and yield each outcome."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import anyio
import msgspec

from .._errors import APIStatusError, ExecutionError, PipelineRefusedError, execution_error
from .._executions import Executions
from .._models import (
    ExecutionResult,
    ExecutionStatus,
    PipelineNode,
    PipelineNodeExecution,
    QueryError,
    QueryExecutionNode,
    encode_parameters,
)
from .._states import ExecutionState, canonical_state
from .._watch import Watch, running
from ._pipeline import PipelineWatch

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._watching import Watching

__all__ = ["BatchRun", "PipelineRefusedError", "QuerySpec", "RunOutcome"]

Via = Literal["pipeline", "executions"]


class QuerySpec(msgspec.Struct, frozen=True, kw_only=True):
    """One query to run: its id, parameters and engine tier.

    Attributes:
        query_id: The saved query.
        parameters: Its parameters by name.
        performance: ``"medium"`` or ``"large"``.
    """

    query_id: int
    parameters: Mapping[str, Any] | None = None
    performance: str | None = None


class RunOutcome(msgspec.Struct, kw_only=True):
    """How one query of a batch ended.

    Attributes:
        index: Its position in the batch.
        query: What was run.
        execution_id: Its execution (results are read through it), None if it never ran.
        state: Its terminal state as a ``QUERY_STATE_*`` string (pipeline words are mapped:
            ``completed``, ``failed``, ``cancelled``; others are kept as sent).
        error: The server's error message, if it failed.
        status: Its execution status (``via="executions"``).
        node: Its pipeline node (``via="pipeline"``).
        result: Its rows, when results were asked for and it completed.
    """

    index: int
    query: QuerySpec
    execution_id: str | None = None
    state: str | None = None
    error: str | None = None
    status: ExecutionStatus | None = None
    node: PipelineNodeExecution | None = None
    result: ExecutionResult[Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether the query completed (partial results included)."""
        return self.state in (ExecutionState.COMPLETED, ExecutionState.COMPLETED_PARTIAL)

    def exception(self) -> ExecutionError | None:
        """Return the error this outcome means, None when it completed.

        The same error ``wait_for_execution`` raises for the same state: ``ExecutionFailedError``
        with the server's message, ``ExecutionCancelledError``...
        """
        status = self.status
        if status is None:
            error = QueryError(message=self.error) if self.error is not None else None
            status = ExecutionStatus(execution_id=self.execution_id, state=self.state, error=error)
        return execution_error(status, what=f"query {self.query.query_id} (#{self.index})")


def as_spec(query: int | QuerySpec) -> QuerySpec:
    """Accept a bare query id where a ``QuerySpec`` is expected."""
    return query if isinstance(query, QuerySpec) else QuerySpec(query_id=query)


class BatchRun:
    """Many queries in flight; iterate it for each outcome as it finishes.

    Made by ``DuneClient.run_many``::

        async with dune.run_many([1, 2, QuerySpec(query_id=3, parameters={"n": 5})]) as run:
            async for outcome in run:
                logger.info("query %d: %s (%s)", outcome.index, outcome.state, outcome.execution_id)
    """

    def __init__(
        self,
        executions: Executions,
        watching: Watching,
        queries: Sequence[QuerySpec],
        *,
        via: Via,
        timeout: float | None,
        fetch_results: bool,
        row_type: type[Any] | None,
        allow_partial_results: bool,
    ) -> None:
        if via not in ("pipeline", "executions"):
            raise ValueError(f"via must be 'pipeline' or 'executions', not {via!r}")
        if not queries:
            raise ValueError("run_many needs at least one query")
        self._executions = executions
        self._watching = watching
        self.queries = list(queries)
        self.via = via
        self._timeout = timeout
        self._fetch = fetch_results
        self._row_type = row_type
        self._allow_partial = allow_partial_results
        self._stack = AsyncExitStack()
        self._pipeline: PipelineWatch | None = None
        self._watch: Watch[ExecutionStatus] | None = None
        self._index: dict[str, int] = {}
        self._submitted = 0
        self._submit_error: Exception | None = None
        self._news: anyio.Event | None = None
        self.pipeline_execution_id: str | None = None

    def __repr__(self) -> str:
        return f"BatchRun(queries={len(self.queries)}, via={self.via!r})"

    async def __aenter__(self) -> Self:
        async with AsyncExitStack() as stack:
            if self.via == "pipeline":
                await self._start_pipeline(stack)
            else:
                await self._start_executions(stack)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.__aexit__(exc_type, exc, tb)

    async def _start_pipeline(self, stack: AsyncExitStack) -> None:
        nodes = [
            PipelineNode(
                id=index + 1,
                query_execution=QueryExecutionNode(
                    query_id=spec.query_id,
                    performance=spec.performance,
                    query_parameters=encode_parameters(dict(spec.parameters))
                    if spec.parameters
                    else None,
                ),
            )
            for index, spec in enumerate(self.queries)
        ]
        try:
            started = await self._executions.execute_pipeline(nodes)
        except APIStatusError as exc:
            raise PipelineRefusedError(
                f"the server refused to run {len(nodes)} queries as one pipeline"
                f" ({exc.status_code}: {exc.body_message or exc.message}); nothing was started."
                " To submit them one by one (one write request each), use via='executions'",
                request=exc.request,
                response=exc.response,
                body_message=exc.body_message,
            ) from exc
        self.pipeline_execution_id = started.pipeline_execution_id
        watch = self._watching.watch_pipeline(started.pipeline_execution_id, timeout=self._timeout)
        self._pipeline = await stack.enter_async_context(watch)

    async def _start_executions(self, stack: AsyncExitStack) -> None:
        watch = self._watching.watch_executions((), timeout=self._timeout)
        self._watch = await stack.enter_async_context(watch)
        await stack.enter_async_context(running(self._submit_all))

    async def _submit_all(self) -> None:
        # Errors are handed to the iterating caller rather than raised here, where they would
        # reach it wrapped in an exception group.
        assert self._watch is not None  # set before this task starts
        try:
            for spec in self.queries:
                response = await self._executions.execute_query(
                    spec.query_id, parameters=spec.parameters, performance=spec.performance
                )
                self._index[response.execution_id] = self._submitted
                self._submitted += 1
                self._watch.add(response.execution_id)
                self._wake()
        except Exception as exc:
            self._submit_error = exc
            self._wake()

    def _wake(self) -> None:
        if self._news is not None:
            self._news.set()
            self._news = None

    def __aiter__(self) -> AsyncIterator[RunOutcome]:
        return self._outcomes()

    async def _outcomes(self) -> AsyncIterator[RunOutcome]:
        if self._pipeline is not None:
            async for node in self._pipeline.as_completed():
                yield await self._node_outcome(node)
            return
        watch = self._watch
        if watch is None:
            raise RuntimeError("iterate a BatchRun inside its async with block")
        done = 0
        while True:
            async for status in watch.as_completed():
                done += 1
                yield await self._status_outcome(status)
            if self._submit_error is not None:
                raise self._submit_error
            if done == len(self.queries):
                return
            if done == self._submitted:  # the rest are still being submitted
                self._news = news = anyio.Event()
                await news.wait()

    async def _node_outcome(self, node: PipelineNodeExecution) -> RunOutcome:
        index = (node.id or 0) - 1
        spec = self.queries[index] if 0 <= index < len(self.queries) else QuerySpec(query_id=0)
        outcome = RunOutcome(
            index=index,
            query=spec,
            execution_id=node.execution_id,
            state=canonical_state(node.status),
            error=node.error,
            node=node,
        )
        await self._attach_results(outcome)
        return outcome

    async def _status_outcome(self, status: ExecutionStatus) -> RunOutcome:
        index = self._index.get(status.execution_id or "", -1)
        outcome = RunOutcome(
            index=index,
            query=self.queries[index],
            execution_id=status.execution_id,
            state=status.state,
            error=str(status.error) if status.error is not None else None,
            status=status,
        )
        await self._attach_results(outcome)
        return outcome

    async def _attach_results(self, outcome: RunOutcome) -> None:
        if not self._fetch or not outcome.ok or outcome.execution_id is None:
            return
        reader = self._watching.reader(outcome.execution_id, self._row_type, self._allow_partial)
        outcome.result = await reader.all()
