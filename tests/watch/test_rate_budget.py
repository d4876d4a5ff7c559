"""Watchers within the rate budget, against a fake Dune that enforces it."""

from __future__ import annotations

import itertools

import anyio
import httpx
import pytest

from duneasync import DuneClient, PollPolicy, RateBudget, RetryPolicy
from duneasync.testing import ExecutionScript, FakeDune, RatePlan, Table

pytestmark = pytest.mark.anyio


class Recording(httpx.AsyncBaseTransport):
    """Note when each request reaches the fake, and its answer's status."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, strip: bool = False) -> None:
        self.inner = inner
        self.strip = strip
        self.log: list[tuple[float, str, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.strip:  # like a proxy that drops the RateLimit headers: only 429s tell
            for name in ("RateLimit", "RateLimit-Policy"):
                del response.headers[name]
        self.log.append((anyio.current_time(), request.url.path, response.status_code))
        return response


def most_in_any_window(stamps: list[float], window: float) -> int:
    return max((sum(1 for t in stamps if s <= t < s + window) for s in stamps), default=0)


async def start_many(
    fake: FakeDune, count: int, seconds: float, *, strip: bool = False
) -> tuple[list[str], Recording]:
    fake.add_query(1, Table.generated(5), script=ExecutionScript.completed(executing=seconds))
    recording = Recording(fake.transport(), strip=strip)
    async with DuneClient(fake.api_key, transport=fake.transport()) as submitter:
        ids = [(await submitter.execute_query(1)).execution_id for _ in range(count)]
    return ids, recording


async def test_polls_never_exceed_the_budget_and_meet_no_429() -> None:
    fake = FakeDune(clock=anyio.current_time, plan=RatePlan(write=1000, read=20, window=60))
    ids, recording = await start_many(fake, 30, seconds=45)
    async with DuneClient(
        fake.api_key,
        transport=recording,
        rate_budget=RateBudget(read=20, write=1000, window=60),
        poll_policy=PollPolicy(growth=0.0, jitter=0.1),
    ) as dune:
        async with dune.watch_executions(ids) as watcher:
            finished = [s async for s in watcher.as_completed()]
        summary = watcher.summary()
    assert len(finished) == 30
    stamps = [t for t, _, _ in recording.log]
    assert most_in_any_window(stamps, 60.0) <= 20
    assert fake.stats.rate_limited == 0
    assert summary.rate_limited == 0
    # The budget was the limit, and it was spent: about 20 requests a minute.
    minutes = (stamps[-1] - stamps[0]) / 60
    assert len(stamps) >= 19 * minutes


async def test_a_429_pauses_every_poll_for_retry_after() -> None:
    # The client believes in 100 reads a minute; the server allows 5 and answers 429 after.
    fake = FakeDune(clock=anyio.current_time, plan=RatePlan(write=1000, read=5, window=60))
    ids, recording = await start_many(fake, 20, seconds=300, strip=True)
    async with DuneClient(
        fake.api_key,
        transport=recording,
        retry=RetryPolicy.never(),
        rate_budget=RateBudget(read=100, write=1000, follow_server=False),
        poll_policy=PollPolicy(growth=0.0, jitter=0.0),
    ) as dune:
        watcher = dune.watch_executions(ids)
        with anyio.move_on_after(100):
            async with watcher:
                await watcher.wait()
        summary = watcher.summary()
    refused = [(t, status) for t, _, status in recording.log if status == 429]
    assert refused
    first_429 = refused[0][0]
    frees_at = recording.log[0][0] + 60  # the fake's Retry-After points at its oldest slot
    after = [t for t, _, _ in recording.log if t > first_429]
    # Nothing at all was sent while the budget was paused, though 19 polls were due meanwhile.
    assert after
    assert min(after) >= frees_at
    # Each 429 costs one request, never a burst of them: at most one per window.
    assert most_in_any_window([t for t, _ in refused], 60.0) == 1
    assert summary.rate_limited == len(refused)
    assert summary.paused_seconds > 0


async def test_results_are_not_starved_by_polling() -> None:
    fake = FakeDune(clock=anyio.current_time, plan=RatePlan(write=1000, read=10, window=60))
    ids, recording = await start_many(fake, 50, seconds=600)
    async with (
        DuneClient(
            fake.api_key,
            transport=recording,
            rate_budget=RateBudget(read=10, write=1000, reserve=0),
            poll_policy=PollPolicy(growth=0.0, jitter=0.0),
        ) as dune,
        dune.watch_executions(ids),
    ):
        await anyio.sleep(30)  # polls have used the budget up to now, and want more
        asked = anyio.current_time()
        await dune.get_execution_status(ids[0])  # a foreground read
        waited = anyio.current_time() - asked
    # It took the next free slot, ahead of the 50 overdue polls: at most one pacing step.
    assert waited <= 6.0 + 1e-6
    assert fake.stats.rate_limited == 0


async def test_idle_budget_polls_items_early_but_never_twice_within_early_interval() -> None:
    fake = FakeDune(clock=anyio.current_time)
    ids, recording = await start_many(fake, 1, 20.0)
    policy = PollPolicy(first_delay=1.0, min_interval=5.0, growth=0.0, jitter=0.0)
    async with DuneClient(
        fake.api_key,
        transport=recording,
        retry=RetryPolicy.no_wait(),
        rate_budget=RateBudget(read=600, write=1000),
        poll_policy=policy,
    ) as dune:
        await dune.wait_for_execution(ids[0])

    polls = [t for t, path, _ in recording.log if path.endswith("/status")]
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    # The schedule alone asks for a poll every 5 s; the idle budget pays for one every 0.5 s.
    assert min(gaps) >= policy.early_interval - 1e-9
    assert max(gaps) <= policy.early_interval + 0.2


async def test_without_a_budget_polls_follow_the_intervals_only() -> None:
    fake = FakeDune(clock=anyio.current_time)
    ids, recording = await start_many(fake, 1, 20.0)
    policy = PollPolicy(first_delay=1.0, min_interval=5.0, growth=0.0, jitter=0.0)
    async with DuneClient(
        fake.api_key, transport=recording, retry=RetryPolicy.no_wait(), poll_policy=policy
    ) as dune:
        await dune.wait_for_execution(ids[0])

    polls = [t for t, path, _ in recording.log if path.endswith("/status")]
    assert len(polls) == 5  # at 1, 6, 11, 16 and 21 s
