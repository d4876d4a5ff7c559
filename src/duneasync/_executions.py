"""The execution endpoints: start executions and pipelines, read their statuses, cancel them.

``Executions`` is a resource object: it holds the request core and turns each call into one
request. ``DuneClient`` exposes its methods under the names ``dune-client`` users know
(``execute_query``, ``get_execution_status``...); the watchers and ``run_many`` use it directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx
import msgspec

from ._checks import check_execution_id, check_query_id
from ._core import RequestCore
from ._decoding import decoding
from ._errors import ConfigurationError
from ._gate import SlotClaim
from ._models import (
    ExecutionResponse,
    ExecutionStatus,
    Pipeline,
    PipelineExecutionResponse,
    PipelineNode,
    PipelineStatus,
    QueryPipeline,
    encode_parameters,
)
from ._retry import RetryPolicy

__all__ = ["Executions", "Parameters"]

T = TypeVar("T")

Parameters = Mapping[str, Any]
"""Query parameters by name: strings, numbers, booleans, dates or datetimes."""

# A poll is re-polled by the scheduler that sent it, never retried by the request core as well.
_POLL = RetryPolicy.never()
# Built once: statuses are the most frequent requests there are.
_EXECUTION_STATUS = decoding(ExecutionStatus)
_PIPELINE_STATUS = decoding(PipelineStatus)


def _execute_body(parameters: Parameters | None, performance: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if parameters:
        body["query_parameters"] = encode_parameters(dict(parameters))
    if performance is not None:
        body["performance"] = performance
    return body


class _CancelResponse(msgspec.Struct):
    success: bool = False


class Executions:
    """Executions and pipelines: one method, one request.

    Args:
        core: Sends the requests.
    """

    def __init__(self, core: RequestCore) -> None:
        self._core = core

    def __repr__(self) -> str:
        return "Executions()"

    async def execute_query(
        self, query_id: int, *, parameters: Parameters | None = None, performance: str | None = None
    ) -> ExecutionResponse:
        """Start an execution of a saved query (never sent twice unless surely not acted on)."""
        path = f"/query/{check_query_id(query_id)}/execute"
        body = _execute_body(parameters, performance)
        return await self._core.send(
            "POST", path, bucket="write", json=body, decode=decoding(ExecutionResponse)
        )

    async def execute_sql(self, sql: str, *, performance: str | None = None) -> ExecutionResponse:
        """Start an execution of raw SQL."""
        if not isinstance(sql, str) or not sql.strip():
            raise ConfigurationError("sql must be a non-empty string")
        body: dict[str, Any] = {"sql": sql}
        if performance is not None:
            body["performance"] = performance
        return await self._core.send(
            "POST", "/sql/execute", bucket="write", json=body, decode=decoding(ExecutionResponse)
        )

    async def status(self, execution_id: str) -> ExecutionStatus:
        """Return the current status of an execution."""
        path = f"/execution/{check_execution_id(execution_id)}/status"
        return await self._core.send("GET", path, bucket="read", decode=_EXECUTION_STATUS)

    async def poll(self, execution_id: str, claim: SlotClaim | None) -> ExecutionStatus:
        """Return an execution's status for a scheduler: in the background, not retried."""
        path = f"/execution/{check_execution_id(execution_id)}/status"
        return await self._poll(path, _EXECUTION_STATUS, claim)

    async def cancel(self, execution_id: str) -> bool:
        """Ask the server to cancel an execution; return whether it accepted."""
        path = f"/execution/{check_execution_id(execution_id)}/cancel"
        answer = await self._core.send(
            "POST", path, bucket="read", decode=decoding(_CancelResponse)
        )
        return bool(answer.success)

    async def execute_pipeline(
        self,
        pipeline: Pipeline | list[PipelineNode] | None = None,
        *,
        query_id: int | None = None,
        performance: str | None = None,
        parameters: Parameters | None = None,
    ) -> PipelineExecutionResponse:
        """Start a pipeline: the nodes given, or the one Dune builds from a query's lineage."""
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
        return await self._core.send(
            "POST",
            "/pipelines/execute",
            bucket="write",
            json=body,
            decode=decoding(PipelineExecutionResponse),
        )

    async def execute_query_pipeline(
        self, query_id: int, *, performance: str = "medium", parameters: Parameters | None = None
    ) -> PipelineExecutionResponse:
        """Start the pipeline Dune builds from a saved query's lineage."""
        path = f"/query/{check_query_id(query_id)}/pipeline/execute"
        body = _execute_body(parameters, performance)
        return await self._core.send(
            "POST", path, bucket="write", json=body, decode=decoding(PipelineExecutionResponse)
        )

    async def query_pipeline(self, query_id: int) -> Pipeline:
        """Return the pipeline Dune builds from a saved query's lineage."""
        path = f"/query/{check_query_id(query_id)}/pipeline"
        answer = await self._core.send("GET", path, bucket="read", decode=decoding(QueryPipeline))
        return answer.pipeline or Pipeline()

    async def pipeline_status(self, pipeline_execution_id: str) -> PipelineStatus:
        """Return the status of a pipeline execution and of every node in it (one request)."""
        path = _pipeline_path(pipeline_execution_id)
        return await self._core.send("GET", path, bucket="read", decode=_PIPELINE_STATUS)

    async def poll_pipeline(
        self, pipeline_execution_id: str, claim: SlotClaim | None
    ) -> PipelineStatus:
        """Return a pipeline's status for a scheduler: in the background, not retried."""
        return await self._poll(_pipeline_path(pipeline_execution_id), _PIPELINE_STATUS, claim)

    async def _poll(
        self, path: str, decode: Callable[[httpx.Response], T], claim: SlotClaim | None
    ) -> T:
        return await self._core.send(
            "GET", path, bucket="read", decode=decode, background=True, claim=claim, retry=_POLL
        )


def _pipeline_path(pipeline_execution_id: str) -> str:
    pid = check_execution_id(pipeline_execution_id, what="pipeline_execution_id")
    return f"/pipelines/executions/{pid}/status"


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
