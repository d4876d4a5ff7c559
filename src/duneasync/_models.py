"""The Dune API's bodies as msgspec Structs, with wire names kept as they are.

Every field the server may leave out has a default, and unknown fields are ignored, so a newer
server still decodes (see msgspec's schema-evolution guide). States stay raw strings: the
``ExecutionState`` constants name the known ones, and ``is_execution_finished`` from the server
decides terminality when it is present.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from ._states import TERMINAL_STATES, ExecutionState

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = [
    "CSVPage",
    "ExecutionResponse",
    "ExecutionResult",
    "ExecutionState",
    "ExecutionStatus",
    "MaterializedViewRefreshNode",
    "Pipeline",
    "PipelineExecutionResponse",
    "PipelineMaterializedViewRefreshStatus",
    "PipelineNode",
    "PipelineNodeExecution",
    "PipelineQueryExecutionStatus",
    "PipelineStatus",
    "QueryError",
    "QueryErrorMetadata",
    "QueryExecutionNode",
    "QueryPipeline",
    "ResultData",
    "ResultMetadata",
]

RowT = TypeVar("RowT")

# The server writes "no time yet" as the Unix epoch (e.g. expires_at while executing).
_ZERO_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _absent_if_zero(value: datetime | None) -> datetime | None:
    return None if value == _ZERO_TIME else value


class QueryErrorMetadata(msgspec.Struct, kw_only=True):
    """Where in the SQL a syntax error is."""

    line: int | None = None
    column: int | None = None


class QueryError(msgspec.Struct, kw_only=True):
    """The server's description of a failed execution."""

    type: str | None = None
    message: str | None = None
    metadata: QueryErrorMetadata | None = None

    def __str__(self) -> str:
        text = self.message or "no message"
        if self.type:
            text = f"{self.type}: {text}"
        if self.metadata is not None and self.metadata.line is not None:
            text += f" (line {self.metadata.line}, column {self.metadata.column})"
        return text


class ResultMetadata(msgspec.Struct, kw_only=True):
    """Shape and size of a result, as the server reported it (never summed across pages).

    ``row_count`` counts the rows of one page; ``total_row_count`` the whole result's.
    """

    column_names: list[str] = []
    column_types: list[str] = []
    row_count: int | None = None
    total_row_count: int | None = None
    result_set_bytes: int | None = None
    total_result_set_bytes: int | None = None
    datapoint_count: int | None = None
    pending_time_millis: int | None = None
    execution_time_millis: int | None = None


class _StatusFields(msgspec.Struct, kw_only=True):
    """Fields shared by the status and the results bodies."""

    execution_id: str | None = None
    query_id: int | None = None
    state: str | None = None
    is_execution_finished: bool | None = None
    submitted_at: datetime | None = None
    execution_started_at: datetime | None = None
    execution_ended_at: datetime | None = None
    expires_at: datetime | None = None
    cancelled_at: datetime | None = None
    error: QueryError | None = None

    def __post_init__(self) -> None:
        self.submitted_at = _absent_if_zero(self.submitted_at)
        self.execution_started_at = _absent_if_zero(self.execution_started_at)
        self.execution_ended_at = _absent_if_zero(self.execution_ended_at)
        self.expires_at = _absent_if_zero(self.expires_at)
        self.cancelled_at = _absent_if_zero(self.cancelled_at)

    @property
    def is_finished(self) -> bool:
        """Whether the execution is terminal.

        The server's own ``is_execution_finished`` decides when present, so a state invented after
        this release is still judged right; otherwise the known terminal states do.
        """
        if self.is_execution_finished is not None:
            return self.is_execution_finished
        return self.state in TERMINAL_STATES

    @property
    def known_state(self) -> ExecutionState | None:
        """The state as a known constant, or None for a state this release does not know."""
        try:
            return ExecutionState(self.state)
        except ValueError:
            return None


class ExecutionStatus(_StatusFields, kw_only=True):
    """The status of an execution (``GET /execution/{id}/status``)."""

    queue_position: int | None = None
    max_inflight_interactive_executions: int | None = None
    max_inflight_interactive_reached: int | None = None
    execution_cost_credits: float | None = None
    result_metadata: ResultMetadata | None = None


class ResultData(msgspec.Struct, Generic[RowT], kw_only=True):
    """One page of rows and the result's metadata."""

    rows: list[RowT] = []
    metadata: ResultMetadata | None = None
    update_type: str | None = None


class ExecutionResult(_StatusFields, Generic[RowT], kw_only=True):
    """One page of an execution's results (``GET /execution/{id}/results``).

    Rows are ``dict[str, Any]`` unless a ``row_type`` was asked for. ``next_offset`` is where the
    next page starts, None on the last page.
    """

    result: ResultData[RowT] | None = None
    next_offset: int | None = None
    next_uri: str | None = None

    @property
    def rows(self) -> list[RowT]:
        """The rows of this page (empty when the execution has no result yet)."""
        return self.result.rows if self.result is not None else []

    @property
    def metadata(self) -> ResultMetadata | None:
        """The result's metadata, when the server sent it."""
        return self.result.metadata if self.result is not None else None

    @property
    def is_partial(self) -> bool:
        """Whether the server truncated this result (``QUERY_STATE_COMPLETED_PARTIAL``)."""
        return self.state == ExecutionState.COMPLETED_PARTIAL

    def to_polars(self) -> pl.DataFrame:
        """Return the rows as a polars DataFrame, typed from the result's column types.

        Needs the ``duneasync[polars]`` extra. See ``duneasync.to_polars``.
        """
        from ._frames import to_polars  # the frames module imports polars lazily

        return to_polars(self)

    def to_arrow(self) -> pa.Table:
        """Return the rows as a ``pyarrow.Table``, typed from the result's column types.

        Needs the ``duneasync[arrow]`` extra. See ``duneasync.to_arrow``.
        """
        from ._frames import to_arrow

        return to_arrow(self)


class ExecutionResponse(msgspec.Struct, kw_only=True):
    """The answer to an execute request."""

    execution_id: str
    state: str | None = None


class CSVPage(msgspec.Struct, kw_only=True):
    """One page of results as CSV bytes, header line included.

    Attributes:
        data: The CSV text as the server sent it.
        next_offset: Where the next page starts (``x-dune-next-offset``), None on the last page.
        next_uri: The server's link to the next page (``x-dune-next-uri``).
    """

    data: bytes
    next_offset: int | None = None
    next_uri: str | None = None


class QueryExecutionNode(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A pipeline node that executes a saved query."""

    query_id: int
    performance: str | None = None
    query_parameters: dict[str, Any] | None = None


class MaterializedViewRefreshNode(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A pipeline node that refreshes a materialized view."""

    name: str
    performance: str | None = None


class PipelineNode(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One node of a pipeline: exactly one of ``query_execution`` or ``materialized_view_refresh``.

    A node starts once every node whose id is in ``dependencies`` has completed.
    """

    id: int
    dependencies: list[int] = []
    query_execution: QueryExecutionNode | None = None
    materialized_view_refresh: MaterializedViewRefreshNode | None = None


class Pipeline(msgspec.Struct, kw_only=True):
    """A pipeline definition: nodes run in dependency order."""

    nodes: list[PipelineNode] = []


class QueryPipeline(msgspec.Struct, kw_only=True):
    """A query's pipeline, built by Dune from its lineage (``GET /query/{id}/pipeline``)."""

    pipeline: Pipeline | None = None


class PipelineExecutionResponse(msgspec.Struct, kw_only=True):
    """The answer to a pipeline execute request."""

    pipeline_execution_id: str


# Pipeline and node statuses are lower-case words; the documented ones are pending, executing and
# completed, and failures come in several spellings. Anything that is not known to be in progress
# counts as terminal, so that a new failure word ends a watch instead of prolonging it forever.
_ACTIVE_STATUSES = frozenset({"pending", "executing", "running", "queued", "submitted", ""})


def _is_active(status: str | None) -> bool:
    word = (status or "").lower().removeprefix("query_state_")
    return word in _ACTIVE_STATUSES


class PipelineQueryExecutionStatus(msgspec.Struct, kw_only=True):
    """The status of a pipeline node that executes a query."""

    status: str | None = None
    query_id: int | None = None
    execution_id: str | None = None
    error: str | None = None


class PipelineMaterializedViewRefreshStatus(msgspec.Struct, kw_only=True):
    """The status of a pipeline node that refreshes a materialized view."""

    status: str | None = None
    name: str | None = None
    execution_id: str | None = None
    error: str | None = None


class PipelineNodeExecution(msgspec.Struct, kw_only=True):
    """One node of a pipeline execution.

    A query node, a materialized-view node, or a kind this release does not know (both detail
    fields None; it still decodes).
    """

    id: int | None = None
    query_execution_status: PipelineQueryExecutionStatus | None = None
    materialized_view_refresh_status: PipelineMaterializedViewRefreshStatus | None = None

    @property
    def _detail(
        self,
    ) -> PipelineQueryExecutionStatus | PipelineMaterializedViewRefreshStatus | None:
        return self.query_execution_status or self.materialized_view_refresh_status

    @property
    def kind(self) -> str:
        """``"query"``, ``"materialized_view"`` or ``"unknown"``."""
        if self.query_execution_status is not None:
            return "query"
        if self.materialized_view_refresh_status is not None:
            return "materialized_view"
        return "unknown"

    @property
    def status(self) -> str | None:
        """The node's status word, whatever its kind."""
        detail = self._detail
        return detail.status if detail is not None else None

    @property
    def execution_id(self) -> str | None:
        """The execution behind the node, whose results the execution endpoints serve."""
        detail = self._detail
        return detail.execution_id if detail is not None else None

    @property
    def error(self) -> str | None:
        """The node's error message, if it failed."""
        detail = self._detail
        return detail.error if detail is not None else None

    @property
    def is_finished(self) -> bool:
        """Whether the node will not change any more."""
        return self.kind != "unknown" and not _is_active(self.status)

    @property
    def is_success(self) -> bool:
        """Whether the node completed."""
        return (self.status or "").lower().removeprefix("query_state_") == "completed"


class PipelineStatus(msgspec.Struct, kw_only=True):
    """The status of a pipeline execution and of every node in it, from one request."""

    status: str | None = None
    error: str | None = None
    node_executions: list[PipelineNodeExecution] = []

    @property
    def is_finished(self) -> bool:
        """Whether the pipeline as a whole will not change any more."""
        return self.status is not None and not _is_active(self.status)


def encode_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """Write query parameters as Dune reads them: dates and times in its text format."""
    encoded: dict[str, Any] = {}
    for name, value in parameters.items():
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value = value.astimezone(timezone.utc).replace(tzinfo=None)
            encoded[name] = value.strftime("%Y-%m-%d %H:%M:%S")
        elif isinstance(value, date):
            encoded[name] = value.strftime("%Y-%m-%d 00:00:00")
        else:
            encoded[name] = value
    return encoded
