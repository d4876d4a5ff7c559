"""Every error duneasync raises, and the pure mappings from a response or a state to one.

The hierarchy::

    DuneError
    ├── ConfigurationError            bad arguments, caught before any request (also a ValueError)
    ├── APIError                      talking to the API went wrong
    │   ├── APIStatusError            the API answered with a non-2xx status
    │   │   ├── BadRequestError           400
    │   │   ├── AuthenticationError       401
    │   │   ├── BillingLimitError         402
    │   │   ├── PermissionDeniedError     403
    │   │   ├── NotFoundError             404
    │   │   ├── RateLimitError            429, with .retry_after
    │   │   ├── ServerError               5xx, including a proxy's HTML 502/503/504
    │   │   └── PipelineRefusedError      run_many's pipeline was refused; nothing ran
    │   ├── APIConnectionError        no usable answer: DNS, refused, reset, truncated
    │   │   └── APITimeoutError
    │   ├── ResponseDecodeError       a 2xx whose body is broken or cut short (retried on GET)
    │   │   └── ResponseValidationError   a whole body that does not fit its model or row_type
    │   └── UnsafeURLError            a next_uri pointing away from the configured origin
    ├── ExecutionError                an execution ended without a usable result
    │   ├── ExecutionFailedError          QUERY_STATE_FAILED, with the server's error
    │   ├── ExecutionCancelledError       QUERY_STATE_CANCELLED
    │   ├── ExecutionExpiredError         QUERY_STATE_EXPIRED
    │   ├── PartialResultError            QUERY_STATE_COMPLETED_PARTIAL, not asked for
    │   └── ResultNotReadyError           results read before the execution finished
    ├── ResultChangedError            the result behind a paged read changed identity
    └── WaitTimeoutError              a wait's deadline passed (also a TimeoutError)
        └── WatchTimeoutError         a watch's deadline passed, with every unfinished item

Every error reads well on its own (``str(error)``) and never contains the API key: requests carry
the key in a header only, and messages are built from the method, the path and the body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from ._describe import body_excerpt, describe_request, error_message, parse_retry_after
from ._states import ExecutionState, canonical_state

if TYPE_CHECKING:
    from ._models import ExecutionStatus, QueryError

# The public names are re-exported by the package's ``__init__``; this module has no ``__all__``
# so that the tree above stays the one list of them.


class DuneError(Exception):
    """Base of every error raised by duneasync."""


class ConfigurationError(DuneError, ValueError):
    """Arguments that cannot make a valid request, refused before anything is sent."""


class APIError(DuneError):
    """Talking to the Dune API went wrong.

    Attributes:
        request: The request that was sent (its headers hold the key: never log them).
    """

    def __init__(self, message: str, *, request: httpx.Request) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class APIStatusError(APIError):
    """The API answered with an error status.

    Attributes:
        response: The response, body already read.
        status_code: Its HTTP status.
        body_message: The ``error`` field of Dune's JSON error body, when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request,
        response: httpx.Response,
        body_message: str | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.response = response
        self.status_code = response.status_code
        self.body_message = body_message


class BadRequestError(APIStatusError):
    """400: the request was malformed, e.g. unknown parameters or an unparsable filter."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, wrong or revoked."""


class BillingLimitError(APIStatusError):
    """402: the request would exceed the billing cycle's configured limits."""


class PermissionDeniedError(APIStatusError):
    """403: not allowed, e.g. the query is archived, unsaved or private to someone else."""


class NotFoundError(APIStatusError):
    """404: no such query, execution or pipeline."""


class RateLimitError(APIStatusError):
    """429: a rate budget is spent.

    Attributes:
        retry_after: Seconds the server asked to wait (``Retry-After``), when it said.
    """

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request,
        response: httpx.Response,
        body_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, request=request, response=response, body_message=body_message)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx: Dune, or a proxy in front of it, failed."""


class PipelineRefusedError(APIStatusError):
    """The server refused to run the queries as a pipeline.

    Nothing was started. Submitting them one by one instead is the caller's choice:
    ``run_many(queries, via="executions")``, which costs one write request per query.
    """


class APIConnectionError(APIError):
    """No usable answer came back: the connection failed, was reset or was cut short.

    Attributes:
        request_sent: False when the failure certainly happened before the request left (so the
            server cannot have acted on it), True or None otherwise.
    """

    def __init__(
        self, message: str, *, request: httpx.Request, request_sent: bool | None = None
    ) -> None:
        super().__init__(message, request=request)
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """A connect, write, read or pool timeout."""


class ResponseDecodeError(APIError):
    """A successful status whose body is not what the API promises.

    Attributes:
        response: The response, body already read.
    """

    def __init__(self, message: str, *, request: httpx.Request, response: httpx.Response) -> None:
        super().__init__(message, request=request)
        self.response = response


class ResponseValidationError(ResponseDecodeError):
    """A whole, well-formed JSON body that does not fit its model or the ``row_type`` asked for.

    Unlike a body cut short, it is what the server meant to send: sending the request again
    cannot help, so it is never retried (and a watcher stops polling the item).
    """


class UnsafeURLError(APIError):
    """A URL from the server (``next_uri``) points away from the configured origin.

    Following it would send the API key to another host, so duneasync refuses.
    """


class ExecutionError(DuneError):
    """An execution reached a terminal state that has no usable result.

    Attributes:
        status: The execution's final status as the server reported it.
    """

    def __init__(self, message: str, *, status: ExecutionStatus) -> None:
        super().__init__(message)
        self.status = status

    @property
    def execution_id(self) -> str | None:
        """The id of the execution."""
        return self.status.execution_id


class ExecutionFailedError(ExecutionError):
    """The execution failed (``QUERY_STATE_FAILED``).

    Attributes:
        error: The server's error (type, message, line and column), when it sent one.
    """

    @property
    def error(self) -> QueryError | None:
        """The server's description of the failure."""
        return self.status.error


class ExecutionCancelledError(ExecutionError):
    """The execution was cancelled (``QUERY_STATE_CANCELLED``)."""


class ExecutionExpiredError(ExecutionError):
    """The execution's result has expired (``QUERY_STATE_EXPIRED``)."""


class PartialResultError(ExecutionError):
    """A truncated result (``QUERY_STATE_COMPLETED_PARTIAL``) that was not asked for.

    Pass ``allow_partial_results=True`` to receive partial results, marked as such.
    """


class ResultNotReadyError(ExecutionError):
    """The execution has not finished yet (pending or executing), so it has no result to read.

    Wait for it first (e.g. ``await dune.wait_for_execution(execution_id)``), then read again.
    """


class ResultChangedError(DuneError):
    """The result behind a paged read changed identity between two pages.

    Raised instead of silently mixing rows of two executions, e.g. when the latest result of a
    query moved to a new execution while it was being read.
    """


class WaitTimeoutError(DuneError, TimeoutError):
    """A wait's deadline passed before the execution (or pipeline) finished.

    Attributes:
        last_status: The last status seen before the deadline, or None if none was seen.
    """

    def __init__(self, message: str, *, last_status: Any = None) -> None:
        super().__init__(message)
        self.last_status = last_status


class WatchTimeoutError(WaitTimeoutError):
    """A watch's deadline passed with items unfinished.

    Attributes:
        last_status: The last status seen of the first unfinished item (None: never answered).
        unfinished: The last status seen of every unfinished item, by id.
    """

    def __init__(self, message: str, *, unfinished: dict[str, Any]) -> None:
        first = next(iter(unfinished.values()), None)
        super().__init__(message, last_status=first)
        self.unfinished = unfinished


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: BillingLimitError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def status_error(request: httpx.Request, response: httpx.Response) -> APIStatusError:
    """Map an error response to its exception, without I/O.

    Args:
        request: The request that was sent.
        response: Its non-2xx response, body already read.

    Returns:
        The exception for the status: a subclass per status family, ``APIStatusError`` for the
        rest. The caller raises it.
    """
    code = response.status_code
    content = response.content
    body_message = error_message(content)
    reason = response.reason_phrase or httpx.codes.get_reason_phrase(code)
    detail = body_message if body_message is not None else body_excerpt(content)
    message = f"{describe_request(request)} answered {code} {reason}"
    if detail:
        message += f": {detail}"
    cls = _STATUS_CLASSES.get(code)
    if cls is None:
        cls = ServerError if code >= 500 else APIStatusError
    if cls is RateLimitError:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is not None:
            message += f" (retry after {retry_after:g} s)"
        return RateLimitError(
            message,
            request=request,
            response=response,
            body_message=body_message,
            retry_after=retry_after,
        )
    return cls(message, request=request, response=response, body_message=body_message)


def decode_error(
    request: httpx.Request,
    response: httpx.Response,
    problem: str,
    *,
    whole: bool = False,
    content: bytes | None = None,
) -> ResponseDecodeError:
    """Describe a 2xx body that could not be decoded.

    ``whole`` marks a well-formed body that does not fit its model (``ResponseValidationError``,
    which no retry mends); ``content`` is a body read apart from ``response`` (a streamed page),
    which the error's response then holds, so that it can be quoted and read.
    """
    if content is not None:
        response = httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )
    content_type = response.headers.get("content-type", "no content type")
    cls = ResponseValidationError if whole else ResponseDecodeError
    return cls(
        f"{describe_request(request)} answered {response.status_code} with a body that is not"
        f" the expected JSON ({content_type}, {len(response.content)} bytes): {problem};"
        f" body starts {body_excerpt(response.content)!r}",
        request=request,
        response=response,
    )


def execution_error(
    status: ExecutionStatus,
    *,
    what: str | None = None,
    allow_partial: bool = True,
    has_result: bool = False,
) -> ExecutionError | None:
    """Map an execution's state to the error it means, without I/O; None when it is usable.

    The one place where a state (of an execution, a result page or a pipeline node) becomes an
    exception, so every API that waits or reads says the same thing.

    Args:
        status: The execution's status; pipeline node words are understood too.
        what: How the message names it; ``execution <id>`` by default.
        allow_partial: Whether a truncated result (``QUERY_STATE_COMPLETED_PARTIAL``) is usable.
        has_result: Whether rows came with the status: a state invented after this release is
            then usable rather than an error.

    Returns:
        None for a usable outcome, else the error for the caller to raise.
    """
    state = canonical_state(status.state)
    what = what or f"execution {status.execution_id}"
    if state == ExecutionState.COMPLETED:
        return None
    if state == ExecutionState.COMPLETED_PARTIAL:
        if allow_partial:
            return None
        return PartialResultError(
            f"{what} is partial (QUERY_STATE_COMPLETED_PARTIAL: the server truncated it at its"
            " storage cap); pass allow_partial_results=True to read the rows it kept",
            status=status,
        )
    if state == ExecutionState.FAILED:
        reason = f": {status.error}" if status.error is not None else ""
        return ExecutionFailedError(f"{what} failed{reason}", status=status)
    if state == ExecutionState.CANCELLED:
        return ExecutionCancelledError(f"{what} was cancelled", status=status)
    if state == ExecutionState.EXPIRED:
        return ExecutionExpiredError(f"{what} has expired; execute the query again", status=status)
    if has_result:
        return None
    if not status.is_finished:
        return ResultNotReadyError(
            f"{what} is not finished yet ({state}); wait for it before reading its result",
            status=status,
        )
    return ExecutionError(f"{what} ended in state {state} without a result", status=status)
