"""``dune.pipelines``: start pipelines, read their statuses and watch every node of one."""

from __future__ import annotations

from collections.abc import Callable

from .._executions import Executions, Parameters
from .._models import Pipeline, PipelineExecutionResponse, PipelineNode, PipelineStatus
from .._watch import ItemProgress
from ._pipeline import PipelineWatch
from ._watching import Watching

__all__ = ["Pipelines"]


class Pipelines:
    """Pipelines of queries and materialized-view refreshes, reached as ``dune.pipelines``.

    A pipeline runs its nodes in dependency order from one write request, and one status
    request reports every node::

        started = await dune.pipelines.execute(query_id=1234)
        async with dune.pipelines.watch(started.pipeline_execution_id) as pipeline:
            async for node in pipeline.as_completed():
                ...
    """

    def __init__(self, executions: Executions, watching: Watching) -> None:
        self._executions = executions
        self._watching = watching

    def __repr__(self) -> str:
        return "Pipelines()"

    async def execute(
        self,
        pipeline: Pipeline | list[PipelineNode] | None = None,
        *,
        query_id: int | None = None,
        performance: str | None = None,
        parameters: Parameters | None = None,
    ) -> PipelineExecutionResponse:
        """Start a pipeline: either the nodes given, or the one Dune builds from a query's lineage.

        Never sent twice unless the server certainly did not act on it.

        Args:
            pipeline: The pipeline's nodes (query executions and materialized-view refreshes).
            query_id: Instead of ``pipeline``: run the pipeline of this query's lineage.
            performance: The engine tier, with ``query_id``.
            parameters: Query parameters, with ``query_id``.

        Raises:
            ConfigurationError: Both or neither of ``pipeline`` and ``query_id``; an empty
                pipeline, duplicate node ids or unknown dependencies (nothing is sent).
        """
        return await self._executions.execute_pipeline(
            pipeline, query_id=query_id, performance=performance, parameters=parameters
        )

    async def execute_lineage(
        self, query_id: int, *, performance: str = "medium", parameters: Parameters | None = None
    ) -> PipelineExecutionResponse:
        """Start the pipeline Dune builds from a saved query's lineage.

        ``POST /query/{query_id}/pipeline/execute``; the same pipeline as
        ``execute(query_id=...)`` through the query's own endpoint.
        """
        return await self._executions.execute_query_pipeline(
            query_id, performance=performance, parameters=parameters
        )

    async def lineage(self, query_id: int) -> Pipeline:
        """Return the pipeline Dune builds from a saved query's lineage, without running it."""
        return await self._executions.query_pipeline(query_id)

    async def status(self, pipeline_execution_id: str) -> PipelineStatus:
        """Return the status of a pipeline execution and of every node in it (one request)."""
        return await self._executions.pipeline_status(pipeline_execution_id)

    def watch(
        self,
        pipeline_execution_id: str,
        *,
        timeout: float | None = None,
        on_progress: Callable[[ItemProgress], None] | None = None,
        cancel_on_exit: bool = False,
    ) -> PipelineWatch:
        """Watch a pipeline execution and each of its nodes, one status request per poll.

        Use it as ``async with``, like ``DuneClient.watch_executions``.

        Args:
            pipeline_execution_id: The pipeline execution.
            timeout: Seconds from entering the block until waiting raises
                ``WatchTimeoutError``.
            on_progress: Called with the pipeline's progress (``percent`` of nodes finished).
            cancel_on_exit: Cancel the unfinished nodes' executions when the block is left.
        """
        return self._watching.watch_pipeline(
            pipeline_execution_id,
            timeout=timeout,
            on_progress=on_progress,
            cancel_on_exit=cancel_on_exit,
        )
