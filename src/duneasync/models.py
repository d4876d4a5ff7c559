"""Every body the Dune API sends or takes, as msgspec Structs with the wire names.

The ones most code names are also importable from ``duneasync`` itself. Every field the
server may leave out has a default and unknown fields are ignored, so a newer server still
decodes.
"""

from ._models import (
    CSVPage,
    ExecutionResponse,
    ExecutionResult,
    ExecutionStatus,
    MaterializedViewRefreshNode,
    Pipeline,
    PipelineExecutionResponse,
    PipelineMaterializedViewRefreshStatus,
    PipelineNode,
    PipelineNodeExecution,
    PipelineQueryExecutionStatus,
    PipelineStatus,
    QueryError,
    QueryErrorMetadata,
    QueryExecutionNode,
    QueryPipeline,
    ResultData,
    ResultMetadata,
)
from ._publish import publish
from ._ratelimit import RateLimitInfo, RateLimitPolicy, RateLimitState
from ._results import DATAPOINT_CAP
from ._states import ExecutionState

__all__ = [
    "DATAPOINT_CAP",
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
    "RateLimitInfo",
    "RateLimitPolicy",
    "RateLimitState",
    "ResultData",
    "ResultMetadata",
]

publish(__name__, __all__, globals())
