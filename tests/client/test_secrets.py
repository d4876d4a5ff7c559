"""The API key never shows: not in repr, errors, logs or URLs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import httpx
import pytest
import respx

from duneasync import DuneClient, DuneError, RetryPolicy

from .helpers import API_KEY, EXECUTION_ID, client_for, error_body, payload

pytestmark = pytest.mark.anyio

STATUS = f"/execution/{EXECUTION_ID}/status"


def assert_no_key(text: str) -> None:
    assert API_KEY not in text
    # Not even a recognisable part of it.
    assert API_KEY[-12:] not in text


def test_repr_and_str_of_the_client_hide_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNE_API_KEY", API_KEY)
    for dune in (DuneClient(API_KEY), DuneClient()):
        assert repr(dune) == "DuneClient(base_url='https://api.dune.com')"
        assert_no_key(str(dune))


async def test_the_key_never_appears_in_errors_logs_or_urls(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="duneasync")
    html_502 = b"<html><head><title>502 Bad Gateway</title></head></html>"
    foreign = payload("results_completed.json")
    foreign["next_uri"] = "https://evil.example/api/v1/execution/X/results?offset=8"
    router.get(STATUS).mock(
        side_effect=[
            httpx.Response(200, json=payload("status_completed.json")),  # success
            httpx.Response(503),  # retried, then
            httpx.ConnectError,  # retried, then
            httpx.Response(429, json=error_body("slow"), headers={"Retry-After": "1"}),
            httpx.Response(200, json={}),  # success after retries
            *(
                httpx.Response(code, json=error_body(f"failed with {code}"))
                for code in range(400, 405)
            ),
            httpx.Response(502, content=html_502),
            httpx.Response(200, content=b'{"state": "QUERY_ST'),
            httpx.ReadTimeout,
        ]
    )
    router.post("/query/1234/execute").mock(
        side_effect=[
            httpx.Response(429, json=error_body("slow"), headers={"Retry-After": "1"}),
            httpx.Response(200, json={"execution_id": EXECUTION_ID}),
            httpx.Response(500, json=error_body("Internal error")),
            httpx.ReadTimeout,
            httpx.Response(200, json={"state": "no id"}),
        ]
    )
    router.get(f"/execution/{EXECUTION_ID}/results").respond(json=foreign)

    errors: list[BaseException] = []

    async def collect(call: Callable[[], Awaitable[object]]) -> None:
        try:
            await call()
        except DuneError as error:
            errors.append(error)

    async with client_for(router, retry=RetryPolicy.no_wait(attempts=5)) as dune:
        await dune.get_execution_status(EXECUTION_ID)
        await dune.get_execution_status(EXECUTION_ID)
        async with client_for(router, retry=RetryPolicy.never()) as once:
            for _ in range(8):
                await collect(lambda: once.get_execution_status(EXECUTION_ID))
            await dune.execute_query(1234)
            for _ in range(3):
                await collect(lambda: once.execute_query(1234))
        page = await dune.get_execution_results(EXECUTION_ID)
        await collect(lambda: dune.get_next_results(page))
        await collect(lambda: dune.get_execution_results(EXECUTION_ID, sample_count=1, limit=1))
        await collect(lambda: dune.get_execution_status("../x"))
        await collect(lambda: dune.execute_query(-1))
        assert_no_key(repr(dune))

    kinds = {type(error).__name__ for error in errors}
    assert kinds >= {
        "BadRequestError",
        "AuthenticationError",
        "BillingLimitError",
        "PermissionDeniedError",
        "NotFoundError",
        "ServerError",
        "ResponseDecodeError",
        "APITimeoutError",
        "UnsafeURLError",
        "ConfigurationError",
    }
    for error in errors:
        chain: BaseException | None = error
        while chain is not None:
            assert_no_key(str(chain))
            assert_no_key(repr(chain))
            assert_no_key(repr(chain.args))
            chain = chain.__cause__

    levels = {record.levelno for record in caplog.records}
    assert {logging.DEBUG, logging.INFO} <= levels, "expected request and retry log lines"
    for record in caplog.records:
        assert_no_key(record.getMessage())
    assert_no_key(caplog.text)

    assert len(router.calls) == 19
    for call in router.calls:
        assert call.request.headers["X-Dune-Api-Key"] == API_KEY
        assert_no_key(str(call.request.url))
        assert_no_key(repr(call.request))
