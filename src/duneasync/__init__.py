"""duneasync: an asyncio- and trio-native client for the Dune Analytics API.

Start with ``DuneClient``; test against ``duneasync.testing.FakeDune``. Every body the API
sends is in ``duneasync.models``; what to build your own gate, scheduler or status source on
is in ``duneasync.extend``.
"""

from ._aiohttp import AiohttpTransport
from ._budget import RateBudget
from ._client import DuneClient
from ._dune import BatchRun, Pipelines, PipelineWatch, QuerySpec, RunOutcome
from ._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BillingLimitError,
    ConfigurationError,
    DuneError,
    ExecutionCancelledError,
    ExecutionError,
    ExecutionExpiredError,
    ExecutionFailedError,
    NotFoundError,
    PartialResultError,
    PermissionDeniedError,
    PipelineRefusedError,
    RateLimitError,
    ResponseDecodeError,
    ResponseValidationError,
    ResultChangedError,
    ResultNotReadyError,
    ServerError,
    UnsafeURLError,
    WaitTimeoutError,
    WatchTimeoutError,
)
from ._frames import to_arrow, to_polars
from ._models import (
    CSVPage,
    ExecutionResponse,
    ExecutionResult,
    ExecutionStatus,
    MaterializedViewRefreshNode,
    Pipeline,
    PipelineExecutionResponse,
    PipelineNode,
    PipelineNodeExecution,
    PipelineStatus,
    QueryError,
    QueryExecutionNode,
    ResultMetadata,
)
from ._options import ResultFilters, ResultOptions
from ._publish import publish
from ._results import CSVDownload, ResultReader
from ._retry import RetryPolicy
from ._states import ExecutionState
from ._version import __version__
from ._watch import ItemProgress, PollPolicy, Watch, WatchState, WatchSummary

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AiohttpTransport",
    "AuthenticationError",
    "BadRequestError",
    "BatchRun",
    "BillingLimitError",
    "CSVDownload",
    "CSVPage",
    "ConfigurationError",
    "DuneClient",
    "DuneError",
    "ExecutionCancelledError",
    "ExecutionError",
    "ExecutionExpiredError",
    "ExecutionFailedError",
    "ExecutionResponse",
    "ExecutionResult",
    "ExecutionState",
    "ExecutionStatus",
    "ItemProgress",
    "MaterializedViewRefreshNode",
    "NotFoundError",
    "PartialResultError",
    "PermissionDeniedError",
    "Pipeline",
    "PipelineExecutionResponse",
    "PipelineNode",
    "PipelineNodeExecution",
    "PipelineRefusedError",
    "PipelineStatus",
    "PipelineWatch",
    "Pipelines",
    "PollPolicy",
    "QueryError",
    "QueryExecutionNode",
    "QuerySpec",
    "RateBudget",
    "RateLimitError",
    "ResponseDecodeError",
    "ResponseValidationError",
    "ResultChangedError",
    "ResultFilters",
    "ResultMetadata",
    "ResultNotReadyError",
    "ResultOptions",
    "ResultReader",
    "RetryPolicy",
    "RunOutcome",
    "ServerError",
    "UnsafeURLError",
    "WaitTimeoutError",
    "Watch",
    "WatchState",
    "WatchSummary",
    "WatchTimeoutError",
    "__version__",
    "to_arrow",
    "to_polars",
]

publish(__name__, __all__, globals())
