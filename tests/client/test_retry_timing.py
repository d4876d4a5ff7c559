"""Retry waits, on a virtual clock: Retry-After is obeyed and the time budget is kept.

Every test here runs on an event loop whose clock jumps over sleeps, so waiting 30 seconds takes
no real time and ``anyio.current_time()`` differences measure exactly what the client waited.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
import respx

from duneasync import RateLimitError, RetryPolicy, ServerError

from ..support.virtual_time import VIRTUAL_TIME_BACKENDS
from .helpers import EXECUTION_ID, client_for, error_body

pytestmark = pytest.mark.anyio

STATUS = f"/execution/{EXECUTION_ID}/status"


@pytest.fixture(params=VIRTUAL_TIME_BACKENDS, ids=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """Run each test on asyncio and trio, both on a virtual clock."""
    return request.param


class Answers:
    """Answer requests in turn (the last answer repeats) and note when each one came."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.times: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.times.append(anyio.current_time())
        return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]

    @property
    def gaps(self) -> list[float]:
        return [
            later - earlier for earlier, later in zip(self.times[:-1], self.times[1:], strict=True)
        ]


def rate_limited(seconds: str) -> httpx.Response:
    return httpx.Response(
        429, json=error_body("Too many requests"), headers={"Retry-After": seconds}
    )


def ok() -> httpx.Response:
    return httpx.Response(200, json={"execution_id": EXECUTION_ID})


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_retry_after_is_obeyed_by_the_default_policy(
    router: respx.MockRouter, method: str
) -> None:
    answers = Answers(rate_limited("7"), rate_limited("20"), ok())
    path = STATUS if method == "GET" else "/query/1234/execute"
    router.route(method=method, path=path).mock(side_effect=answers)

    async with client_for(router, retry=RetryPolicy()) as dune:
        started = anyio.current_time()
        if method == "GET":
            await dune.get_execution_status(EXECUTION_ID)
        else:
            await dune.execute_query(1234)
        waited = anyio.current_time() - started

    assert len(answers.times) == 3
    first, second = answers.gaps
    # At least what the server asked; the default backoff is shorter, so it adds nothing.
    assert first == pytest.approx(7, abs=1e-6)
    assert second == pytest.approx(20, abs=1e-6)
    assert waited == pytest.approx(27, abs=1e-6)


async def test_backoff_without_retry_after_stays_within_the_policy(
    router: respx.MockRouter,
) -> None:
    answers = Answers(httpx.Response(503), httpx.Response(503), httpx.Response(503), ok())
    router.get(STATUS).mock(side_effect=answers)

    async with client_for(router, retry=RetryPolicy(initial_wait=1, max_wait=2)) as dune:
        await dune.get_execution_status(EXECUTION_ID)

    first, second, third = answers.gaps
    assert 0 <= first <= 1
    assert 0 <= second <= 2
    assert 0 <= third <= 2


async def test_a_retry_after_beyond_the_time_budget_is_not_waited_for(
    router: respx.MockRouter,
) -> None:
    answers = Answers(rate_limited("30"), ok())
    router.get(STATUS).mock(side_effect=answers)

    async with client_for(router, retry=RetryPolicy(timeout=10)) as dune:
        started = anyio.current_time()
        with pytest.raises(RateLimitError) as caught:
            await dune.get_execution_status(EXECUTION_ID)
        waited = anyio.current_time() - started

    assert caught.value.retry_after == 30
    assert len(answers.times) == 1
    assert waited == pytest.approx(0, abs=1e-6)


async def test_retries_stop_at_the_time_budget_and_raise_the_last_error(
    router: respx.MockRouter,
) -> None:
    # Waits of exactly 2 s: attempts at 0, 2 and 4 s; a fourth at 6 s would pass the 5 s budget.
    answers = Answers(rate_limited("2"))
    router.get(STATUS).mock(side_effect=answers)
    policy = RetryPolicy(attempts=100, timeout=5, initial_wait=0, max_wait=0)

    async with client_for(router, retry=policy) as dune:
        started = anyio.current_time()
        with pytest.raises(RateLimitError):
            await dune.get_execution_status(EXECUTION_ID)
        waited = anyio.current_time() - started

    assert [time - started for time in answers.times] == pytest.approx([0, 2, 4], abs=1e-6)
    assert waited == pytest.approx(4, abs=1e-6)


async def test_retries_stop_at_the_attempt_bound_before_the_time_budget(
    router: respx.MockRouter,
) -> None:
    answers = Answers(httpx.Response(500, json=error_body("Internal error")))
    router.get(STATUS).mock(side_effect=answers)
    policy = RetryPolicy(attempts=3, timeout=3600, initial_wait=1, max_wait=1)

    async with client_for(router, retry=policy) as dune:
        started = anyio.current_time()
        with pytest.raises(ServerError, match="Internal error"):
            await dune.get_execution_status(EXECUTION_ID)
        waited = anyio.current_time() - started

    assert len(answers.times) == 3
    assert waited <= 2


async def test_no_wait_policy_retries_without_letting_time_pass(
    router: respx.MockRouter,
) -> None:
    answers = Answers(rate_limited("60"), rate_limited("60"), ok())
    router.get(STATUS).mock(side_effect=answers)

    async with client_for(router, retry=RetryPolicy.no_wait()) as dune:
        started = anyio.current_time()
        await dune.get_execution_status(EXECUTION_ID)
        waited = anyio.current_time() - started

    assert len(answers.times) == 3
    assert waited == pytest.approx(0, abs=1e-6)
