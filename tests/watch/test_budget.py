"""The rate budget: never over quota in any window, paused by the server, foreground first."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest

from duneasync import ConfigurationError, RateBudget, RetryPolicy
from duneasync._core import RequestCore
from duneasync.extend import SlotClaim

pytestmark = pytest.mark.anyio


def answer(status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers)


@asynccontextmanager
async def core_behind(gate: RateBudget) -> AsyncIterator[RequestCore]:
    """A request core whose every request passes ``gate`` to a server that answers at once."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    async with httpx.AsyncClient(transport=transport) as http:
        yield RequestCore(
            api_key="test-api-key",
            base_url=httpx.URL("https://api.dune.com"),
            http=http,
            retry=RetryPolicy.no_wait(),
            gate=gate,
        )


async def poll(core: RequestCore, *, claim: SlotClaim | None = None) -> None:
    """Send one status poll, a background read, through ``core``."""
    await core.send(
        "GET",
        "/execution/01HKZJ2683PHF9Q9PHHQ8FW4Q1/status",
        bucket="read",
        decode=lambda response: None,
        background=True,
        claim=claim,
    )


def max_in_window(stamps: list[float], window: float) -> int:
    return max(sum(1 for t in stamps if s <= t < s + window) for s in stamps)


async def test_never_more_requests_in_a_window_than_the_quota() -> None:
    budget = RateBudget(read=10, write=5, window=60, reserve=0)
    sent: list[float] = []

    async def request(background: bool) -> None:
        await budget.acquire("read", background=background)
        sent.append(anyio.current_time())
        await anyio.sleep(0.05)  # the answer takes a while
        budget.record("read", answer())

    async with anyio.create_task_group() as tg:
        for n in range(45):
            tg.start_soon(request, n % 3 == 0)
    assert len(sent) == 45
    assert max_in_window(sent, 60.0) == 10
    assert budget.stats().sent == {"read": 45, "write": 0}


async def test_background_requests_are_paced_over_the_window() -> None:
    budget = RateBudget(read=60, window=60, reserve=0)
    sent: list[float] = []
    for _ in range(5):
        await budget.acquire("read", background=True)
        sent.append(anyio.current_time())
        budget.record("read", answer())
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert all(gap == pytest.approx(1.0) for gap in gaps)


async def test_a_429_pauses_the_whole_bucket_for_retry_after() -> None:
    budget = RateBudget(read=100, window=60)
    await budget.acquire("read", background=False)
    start = anyio.current_time()
    budget.record("read", answer(429, {"Retry-After": "7"}))
    await budget.acquire("read", background=False)  # a different request waits too
    assert anyio.current_time() - start == pytest.approx(7.0)
    await budget.acquire("write", background=False)  # the other bucket does not
    assert anyio.current_time() - start == pytest.approx(7.0)
    stats = budget.stats()
    assert stats.rate_limited == {"read": 1, "write": 0}
    assert stats.paused_seconds["read"] == pytest.approx(7.0)


async def test_remaining_zero_pauses_until_the_reset_time() -> None:
    budget = RateBudget(read=100)
    await budget.acquire("read", background=False)
    start = anyio.current_time()
    budget.record("read", answer(headers={"RateLimit": '"write";r=3;t=1, "read";r=0;t=12'}))
    await budget.acquire("read", background=False)
    assert anyio.current_time() - start == pytest.approx(12.0)


async def test_the_servers_policy_replaces_the_assumed_quota() -> None:
    budget = RateBudget.for_plan("premium", share=0.5)
    assert budget.quota("read") == 500
    await budget.acquire("read", background=False)
    budget.record(
        "read", answer(headers={"RateLimit-Policy": '"write";q=15;w=60, "read";q=40;w=60'})
    )
    assert budget.quota("read") == 20
    assert budget.stats().window["read"] == 60


async def test_a_budget_that_does_not_follow_the_server_keeps_its_quota() -> None:
    budget = RateBudget(read=7, follow_server=False)
    await budget.acquire("read", background=False)
    budget.record("read", answer(headers={"RateLimit-Policy": '"read";q=40;w=60'}))
    assert budget.quota("read") == 7


async def test_foreground_requests_overtake_waiting_polls() -> None:
    budget = RateBudget(read=2, window=10, reserve=0)
    order: list[str] = []
    for _ in range(2):
        await budget.acquire("read", background=False)
        budget.record("read", answer())

    async def request(name: str, background: bool) -> None:
        await budget.acquire("read", background=background)
        order.append(name)
        budget.record("read", answer())

    async with anyio.create_task_group() as tg:
        tg.start_soon(request, "poll", True)
        await anyio.sleep(1)
        tg.start_soon(request, "results", False)
    assert order == ["results", "poll"]


async def test_polls_leave_the_reserve_to_foreground_requests() -> None:
    budget = RateBudget(read=4, window=60, reserve=1)
    start = anyio.current_time()
    for _ in range(3):
        await budget.acquire("read", background=False)
        budget.record("read", answer())
    with anyio.move_on_after(30):
        await budget.acquire("read", background=True)
        pytest.fail("a poll took the reserved slot")
    await budget.acquire("read", background=False)  # the reserve is there for this
    assert anyio.current_time() - start == pytest.approx(30.0)


async def test_an_unused_claim_is_given_back() -> None:
    budget = RateBudget(read=1, window=60, reserve=0)
    start = anyio.current_time()
    claim = await budget.claim("read")
    budget.settle(claim)
    await budget.acquire("read", background=False)
    assert anyio.current_time() == start
    assert budget.stats().sent["read"] == 1


async def test_a_claim_is_spent_by_the_request_it_is_handed_to() -> None:
    budget = RateBudget(read=1, window=60, reserve=0)
    async with core_behind(budget) as core:
        start = anyio.current_time()
        claim = await budget.claim("read")
        with anyio.fail_after(1):  # a claim left unspent would hold the only slot for good
            await poll(core, claim=claim)  # spends the claim: no second slot, no wait
        budget.settle(claim)  # nothing to give back
        assert budget.stats().sent["read"] == 1
        assert anyio.current_time() == start

        await poll(core)  # without a claim: through the gate, full until the window moves on
        assert budget.stats().sent["read"] == 2
        assert anyio.current_time() - start == pytest.approx(60.0)


async def test_a_claim_from_another_budget_or_bucket_is_not_spent() -> None:
    budget = RateBudget(read=1, write=1, window=60, reserve=0)
    other = RateBudget(read=1, window=60, reserve=0)
    async with core_behind(budget) as core:
        start = anyio.current_time()
        foreign = await other.claim("read")
        await poll(core, claim=foreign)  # passes the gate as usual
        other.settle(foreign)  # not spent, so given back
        assert other.stats().sent == {"read": 0, "write": 0}
        assert budget.stats().sent == {"read": 1, "write": 0}
        assert anyio.current_time() == start

        for_writes = await budget.claim("write")
        await poll(core, claim=for_writes)  # a read: waits for the read bucket as usual
        budget.settle(for_writes)  # not spent, so given back
        assert budget.stats().sent == {"read": 2, "write": 0}
        assert anyio.current_time() - start == pytest.approx(60.0)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown plan"):
        RateBudget.for_plan("gold")
    with pytest.raises(ConfigurationError):
        RateBudget(read=0)
    with pytest.raises(ConfigurationError):
        RateBudget(share=1.5)


async def test_the_default_reserve_is_lent_to_polls_until_a_foreground_request_comes() -> None:
    budget = RateBudget(read=40, window=60)  # reserve: 40 // 20 = 2
    for _ in range(40):  # no foreground request yet: polls may spend the whole quota
        await budget.acquire("read", background=True)
        budget.record("read", answer())
    assert budget.stats().sent["read"] == 40

    await budget.acquire("read", background=False)  # a foreground request waits its turn...
    budget.record("read", answer())
    assert budget.rate("read") == pytest.approx(38 / 60)  # ...and the reserve is kept again


async def test_an_explicit_reserve_is_never_lent() -> None:
    budget = RateBudget(read=4, window=60, reserve=1)
    assert budget.rate("read") == pytest.approx(3 / 60)
