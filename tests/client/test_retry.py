"""What is retried: GETs on every transient failure, POSTs only where the server did not act."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
import respx

from duneasync import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BillingLimitError,
    ConfigurationError,
    DuneClient,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    ResponseValidationError,
    RetryPolicy,
    ServerError,
    UnsafeURLError,
)
from duneasync._retry import is_retryable

from .helpers import EXECUTION_ID, client_for, error_body

Failure = Callable[[], "httpx.Response | type[Exception]"]

FAILURES: dict[str, Failure] = {
    "429": lambda: httpx.Response(
        429, json=error_body("rate limited"), headers={"Retry-After": "1"}
    ),
    "500": lambda: httpx.Response(500, json=error_body("Internal error")),
    "503": lambda: httpx.Response(503, content=b"<html>Service Unavailable</html>"),
    "connect-error": lambda: httpx.ConnectError,
    "read-timeout": lambda: httpx.ReadTimeout,
}

RAISED: dict[str, type[APIError]] = {
    "429": RateLimitError,
    "500": ServerError,
    "503": ServerError,
    "connect-error": APIConnectionError,
    "read-timeout": APITimeoutError,
}

# A POST may start a paid execution: it is sent again only when the server certainly did not act.
POST_RETRIED = {"429", "connect-error"}

Call = Callable[[DuneClient], Awaitable[str | None]]


async def _status(dune: DuneClient) -> str | None:
    return (await dune.get_execution_status(EXECUTION_ID)).execution_id


async def _execute(dune: DuneClient) -> str | None:
    return (await dune.execute_query(1234)).execution_id


ENDPOINTS: dict[str, tuple[str, str, Call]] = {
    "GET-status": ("GET", f"/execution/{EXECUTION_ID}/status", _status),
    "POST-execute": ("POST", "/query/1234/execute", _execute),
}


@pytest.mark.anyio
@pytest.mark.parametrize("failures", [0, 1, 3])
@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
async def test_gets_retry_every_transient_failure_posts_only_when_surely_not_acted_on(
    router: respx.MockRouter, endpoint: str, failure: str, failures: int
) -> None:
    method, path, call = ENDPOINTS[endpoint]
    success = httpx.Response(200, json={"execution_id": EXECUTION_ID})
    route = router.route(method=method, path=path).mock(
        side_effect=[FAILURES[failure]() for _ in range(failures)] + [success]
    )
    retried = method == "GET" or failure in POST_RETRIED

    async with client_for(router, retry=RetryPolicy.no_wait(attempts=5)) as dune:
        if failures == 0 or retried:
            assert await call(dune) == EXECUTION_ID
            assert route.call_count == failures + 1
        else:
            with pytest.raises(RAISED[failure]):
                await call(dune)
            assert route.call_count == 1


@pytest.mark.anyio
async def test_post_execute_is_not_retried_after_500(router: respx.MockRouter) -> None:
    route = router.post("/query/1234/execute").mock(
        side_effect=[
            httpx.Response(500, json=error_body("Internal error")),
            httpx.Response(200, json={"execution_id": EXECUTION_ID}),
        ]
    )

    async with client_for(router, retry=RetryPolicy.no_wait(attempts=5)) as dune:
        with pytest.raises(ServerError, match="POST /api/v1/query/1234/execute answered 500"):
            await dune.execute_query(1234)

    assert route.call_count == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    "method",
    ["execute_sql", "pipelines.execute_lineage", "pipelines.execute", "cancel_execution"],
)
async def test_no_post_is_retried_after_a_read_timeout(
    router: respx.MockRouter, method: str
) -> None:
    route = router.route(method="POST").mock(side_effect=httpx.ReadTimeout)
    calls: dict[str, Callable[[DuneClient], Awaitable[object]]] = {
        "execute_sql": lambda dune: dune.execute_sql("select 1"),
        "pipelines.execute_lineage": lambda dune: dune.pipelines.execute_lineage(1),
        "pipelines.execute": lambda dune: dune.pipelines.execute(query_id=1),
        "cancel_execution": lambda dune: dune.cancel_execution(EXECUTION_ID),
    }

    async with client_for(router, retry=RetryPolicy.no_wait(attempts=5)) as dune:
        with pytest.raises(APITimeoutError) as caught:
            await calls[method](dune)

    assert caught.value.request_sent is None
    assert route.call_count == 1


@pytest.mark.anyio
@pytest.mark.parametrize("code", [400, 401, 402, 403, 404])
async def test_client_errors_are_never_retried(router: respx.MockRouter, code: int) -> None:
    route = router.get(f"/execution/{EXECUTION_ID}/status").respond(code, json=error_body("no"))

    async with client_for(router, retry=RetryPolicy.no_wait(attempts=5)) as dune:
        with pytest.raises(APIError):
            await dune.get_execution_status(EXECUTION_ID)

    assert route.call_count == 1


@pytest.mark.anyio
@pytest.mark.parametrize("attempts", [1, 2, 5])
async def test_a_get_makes_at_most_the_allowed_attempts(
    router: respx.MockRouter, attempts: int
) -> None:
    route = router.get(f"/execution/{EXECUTION_ID}/status").respond(503)

    async with client_for(router, retry=RetryPolicy.no_wait(attempts=attempts)) as dune:
        with pytest.raises(ServerError):
            await dune.get_execution_status(EXECUTION_ID)

    assert route.call_count == attempts


@pytest.mark.anyio
async def test_retry_policy_never_makes_one_attempt(router: respx.MockRouter) -> None:
    route = router.get(f"/execution/{EXECUTION_ID}/status").mock(side_effect=httpx.ConnectError)

    async with client_for(router, retry=RetryPolicy.never()) as dune:
        with pytest.raises(APIConnectionError):
            await dune.get_execution_status(EXECUTION_ID)

    assert route.call_count == 1


@pytest.mark.anyio
async def test_the_last_error_is_raised_when_retries_are_exhausted(
    router: respx.MockRouter,
) -> None:
    route = router.get(f"/execution/{EXECUTION_ID}/status").mock(
        side_effect=[
            httpx.ConnectError,
            httpx.Response(503, json=error_body("first")),
            httpx.Response(502, json=error_body("the last one")),
            httpx.Response(200, json={}),
        ]
    )

    async with client_for(router, retry=RetryPolicy.no_wait(attempts=3)) as dune:
        with pytest.raises(ServerError) as caught:
            await dune.get_execution_status(EXECUTION_ID)

    assert caught.value.status_code == 502
    assert caught.value.body_message == "the last one"
    assert route.call_count == 3


@pytest.mark.anyio
async def test_a_connection_failure_keeps_httpx_error_as_its_cause(
    router: respx.MockRouter,
) -> None:
    router.get(f"/execution/{EXECUTION_ID}/status").mock(side_effect=httpx.ConnectError)

    async with client_for(router, retry=RetryPolicy.never()) as dune:
        with pytest.raises(APIConnectionError) as caught:
            await dune.get_execution_status(EXECUTION_ID)

    error = caught.value
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert error.request_sent is False
    assert str(error).startswith(
        f"GET /api/v1/execution/{EXECUTION_ID}/status: could not get an answer from api.dune.com"
    )


# -- the pure decision --------------------------------------------------------------------------


def _request() -> httpx.Request:
    return httpx.Request("GET", "https://api.dune.com/api/v1/execution/X/status")


def _status_error(cls: type[APIError], code: int) -> APIError:
    request = _request()
    response = httpx.Response(code, request=request)
    return cls("failed", request=request, response=response)  # type: ignore[call-arg]


ERRORS: dict[str, Callable[[], BaseException]] = {
    "429": lambda: _status_error(RateLimitError, 429),
    "5xx": lambda: _status_error(ServerError, 503),
    "connect (not sent)": lambda: APIConnectionError("x", request=_request(), request_sent=False),
    "connect timeout (not sent)": lambda: APITimeoutError(
        "x", request=_request(), request_sent=False
    ),
    "reset (maybe sent)": lambda: APIConnectionError("x", request=_request(), request_sent=None),
    "read timeout (maybe sent)": lambda: APITimeoutError(
        "x", request=_request(), request_sent=None
    ),
    "sent": lambda: APIConnectionError("x", request=_request(), request_sent=True),
    "bad body": lambda: ResponseDecodeError("x", request=_request(), response=httpx.Response(200)),
    "whole body of the wrong shape": lambda: ResponseValidationError(
        "x", request=_request(), response=httpx.Response(200)
    ),
    "400": lambda: _status_error(BadRequestError, 400),
    "401": lambda: _status_error(AuthenticationError, 401),
    "402": lambda: _status_error(BillingLimitError, 402),
    "403": lambda: _status_error(PermissionDeniedError, 403),
    "404": lambda: _status_error(NotFoundError, 404),
    "unsafe url": lambda: UnsafeURLError("x", request=_request()),
    "configuration": lambda: ConfigurationError("x"),
    "a bug": lambda: KeyError("x"),
}

# error -> (retried for a GET, retried for a POST)
TRUTH_TABLE: dict[str, tuple[bool, bool]] = {
    "429": (True, True),
    "5xx": (True, False),
    "connect (not sent)": (True, True),
    "connect timeout (not sent)": (True, True),
    "reset (maybe sent)": (True, False),
    "read timeout (maybe sent)": (True, False),
    "sent": (True, False),
    "bad body": (True, False),
    "whole body of the wrong shape": (False, False),
    "400": (False, False),
    "401": (False, False),
    "402": (False, False),
    "403": (False, False),
    "404": (False, False),
    "unsafe url": (False, False),
    "configuration": (False, False),
    "a bug": (False, False),
}


@pytest.mark.parametrize("name", list(TRUTH_TABLE))
def test_is_retryable_truth_table(name: str) -> None:
    get, post = TRUTH_TABLE[name]
    error = ERRORS[name]()

    assert is_retryable(error, idempotent=True) is get
    assert is_retryable(error, idempotent=False) is post


@pytest.mark.parametrize(
    ("exc", "sent"),
    [
        (httpx.ConnectError, False),
        (httpx.ConnectTimeout, False),
        (httpx.PoolTimeout, False),
        (httpx.ReadTimeout, None),
        (httpx.WriteTimeout, None),
        (httpx.ReadError, None),
        (httpx.RemoteProtocolError, None),
    ],
)
@pytest.mark.anyio
async def test_only_failures_before_sending_count_as_not_sent(
    router: respx.MockRouter, exc: type[Exception], sent: bool | None
) -> None:
    route = router.post("/query/1234/execute").mock(side_effect=exc)

    async with client_for(router, retry=RetryPolicy.no_wait(attempts=3)) as dune:
        with pytest.raises(APIConnectionError) as caught:
            await dune.execute_query(1234)

    assert caught.value.request_sent is sent
    assert route.call_count == (3 if sent is False else 1)


def test_retry_policy_refuses_impossible_bounds() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(timeout=-1)


def test_no_wait_keeps_attempts_and_never_waits() -> None:
    policy = RetryPolicy.no_wait(attempts=4)
    error = _status_error(RateLimitError, 429)
    assert isinstance(error, RateLimitError)
    error.retry_after = 30

    assert policy.attempts == 4
    assert [policy.delay(n, error) for n in (1, 2, 3)] == [0.0, 0.0, 0.0]


def test_backoff_grows_to_its_cap_and_honours_retry_after() -> None:
    policy = RetryPolicy(initial_wait=0.5, max_wait=4.0)
    limited = _status_error(RateLimitError, 429)
    assert isinstance(limited, RateLimitError)
    limited.retry_after = 9

    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (10, 4.0)]:
        assert all(0 <= policy.delay(attempt, None) <= ceiling for _ in range(50))
    assert all(policy.delay(3, limited) == 9 for _ in range(50))
