"""Error statuses map to the right exception with a readable one-line message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
import respx

from duneasync import (
    APIError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    BillingLimitError,
    DuneClient,
    DuneError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from duneasync._errors import status_error

from .helpers import EXECUTION_ID, client_for

STATUS_CLASSES: list[tuple[int, type[APIStatusError], str]] = [
    (400, BadRequestError, "unknown parameter: limt"),
    (401, AuthenticationError, "invalid API Key"),
    (402, BillingLimitError, "This api request would exceed your configured limits per billing"),
    (403, PermissionDeniedError, "Query is archived"),
    (404, NotFoundError, "Object not found"),
    (429, RateLimitError, "Too many requests"),
    (500, ServerError, "Internal error"),
]

Call = Callable[[DuneClient], Awaitable[object]]

CALLS: list[tuple[str, str, str, Call]] = [
    (
        "GET",
        f"/execution/{EXECUTION_ID}/status",
        f"GET /api/v1/execution/{EXECUTION_ID}/status",
        lambda dune: dune.get_execution_status(EXECUTION_ID),
    ),
    (
        "POST",
        "/query/1234/execute",
        "POST /api/v1/query/1234/execute",
        lambda dune: dune.execute_query(1234, parameters={"x": 1}),
    ),
]


# -- through the client -------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("code", "cls", "detail"), STATUS_CLASSES, ids=[str(code) for code, *_ in STATUS_CLASSES]
)
@pytest.mark.parametrize(
    ("method", "path", "named", "call"), CALLS, ids=[method for method, *_ in CALLS]
)
async def test_an_error_status_raises_its_class_with_a_message_naming_the_request(
    router: respx.MockRouter,
    code: int,
    cls: type[APIStatusError],
    detail: str,
    method: str,
    path: str,
    named: str,
    call: Call,
) -> None:
    route = router.route(method=method, path=path).respond(code, json={"error": detail})

    async with client_for(router, retry=RetryPolicy.never()) as dune:
        with pytest.raises(APIStatusError) as caught:
            await call(dune)

    error = caught.value
    assert type(error) is cls
    assert isinstance(error, APIError)
    assert isinstance(error, DuneError)
    assert error.status_code == code
    assert error.body_message == detail
    assert error.response.status_code == code
    assert error.request.method == method
    assert str(error).startswith(f"{named} answered {code} ")
    assert str(error).endswith(detail)
    assert "\n" not in str(error)
    assert route.call_count == 1


@pytest.mark.anyio
async def test_a_429_message_says_how_long_to_wait(router: respx.MockRouter) -> None:
    router.get(f"/execution/{EXECUTION_ID}/status").respond(
        429, json={"error": "Too many requests"}, headers={"Retry-After": "12"}
    )

    async with client_for(router, retry=RetryPolicy.never()) as dune:
        with pytest.raises(RateLimitError) as caught:
            await dune.get_execution_status(EXECUTION_ID)

    assert caught.value.retry_after == 12
    assert str(caught.value) == (
        f"GET /api/v1/execution/{EXECUTION_ID}/status answered 429 Too Many Requests:"
        " Too many requests (retry after 12 s)"
    )


# -- the pure mapping ---------------------------------------------------------------------------


def error_for(
    code: int,
    content: bytes = b"",
    headers: dict[str, str] | None = None,
    method: str = "GET",
) -> APIStatusError:
    request = httpx.Request(method, f"https://api.dune.com/api/v1/execution/{EXECUTION_ID}/status")
    response = httpx.Response(code, content=content, headers=headers, request=request)
    return status_error(request, response)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, BillingLimitError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (599, ServerError),
        (405, APIStatusError),
        (409, APIStatusError),
        (418, APIStatusError),
        (302, APIStatusError),
    ],
)
def test_status_error_maps_each_status_to_its_class(code: int, cls: type[APIStatusError]) -> None:
    error = error_for(code, b'{"error": "nope"}')

    assert type(error) is cls
    assert error.status_code == code
    assert error.body_message == "nope"


def test_status_error_message_names_method_path_status_and_dune_message() -> None:
    error = error_for(404, b'{"error": "Object not found"}')

    assert str(error) == (
        f"GET /api/v1/execution/{EXECUTION_ID}/status answered 404 Not Found: Object not found"
    )


def test_status_error_message_never_quotes_the_query_string() -> None:
    request = httpx.Request(
        "GET", "https://api.dune.com/api/v1/query/1/results?filters=secret_column%3D1"
    )
    response = httpx.Response(400, json={"error": "bad filter"}, request=request)

    error = status_error(request, response)

    assert "secret_column" not in str(error)
    assert str(error) == "GET /api/v1/query/1/results answered 400 Bad Request: bad filter"


def test_status_error_reads_a_nested_error_message() -> None:
    error = error_for(403, b'{"error": {"code": "forbidden", "message": "not your query"}}')

    assert error.body_message == "not your query"
    assert str(error).endswith(": not your query")


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        (b"<html><body><h1>503 Service Unavailable</h1></body></html>", "<html><body><h1>503"),
        (b'{"message": "upstream timeout"}', '{"message": "upstream timeout"}'),
        (b'{"error": 42}', '{"error": 42}'),
        (b"\xff\xfe not utf-8", "not utf-8"),
    ],
    ids=["html", "other-json", "non-string-error", "binary"],
)
def test_status_error_quotes_the_start_of_a_body_it_does_not_understand(
    content: bytes, shown: str
) -> None:
    error = error_for(503, content)

    assert error.body_message is None
    assert shown in str(error)
    assert str(error).startswith(
        f"GET /api/v1/execution/{EXECUTION_ID}/status answered 503 Service Unavailable: "
    )


def test_status_error_shortens_a_long_body_to_one_line() -> None:
    error = error_for(502, b"<html>\n" + b"x" * 5000 + b"\n</html>")

    assert "\n" not in str(error)
    assert str(error).endswith("...")
    assert len(str(error)) < 250


def test_status_error_with_an_empty_body_ends_at_the_reason() -> None:
    error = error_for(500)

    assert (
        str(error)
        == f"GET /api/v1/execution/{EXECUTION_ID}/status answered 500 Internal Server Error"
    )


@pytest.mark.parametrize(
    ("header", "retry_after"),
    [("7", 7.0), ("0", 0.0), ("1.5", 1.5), (" 30 ", 30.0), ("-3", None), ("soon", None)],
)
def test_status_error_reads_retry_after_seconds(header: str, retry_after: float | None) -> None:
    error = error_for(429, b'{"error": "slow down"}', headers={"Retry-After": header})

    assert isinstance(error, RateLimitError)
    assert error.retry_after == retry_after


def test_status_error_without_retry_after_leaves_it_unknown() -> None:
    error = error_for(429, b'{"error": "slow down"}')

    assert isinstance(error, RateLimitError)
    assert error.retry_after is None
    assert "retry after" not in str(error)
