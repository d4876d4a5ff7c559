"""Fixtures of the watcher tests: virtual time on both backends, a fake Dune and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from duneasync import DuneClient, PollPolicy, RateBudget, RetryPolicy
from duneasync.testing import FakeDune, Table

from ..support.virtual_time import VIRTUAL_TIME_BACKENDS

#: A policy without jitter and with a fixed 1 s interval, so request counts are exact.
STEADY = PollPolicy(first_delay=1.0, min_interval=1.0, growth=0.0, jitter=0.0)


@pytest.fixture(params=VIRTUAL_TIME_BACKENDS, ids=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Run each test on asyncio and trio, both on a virtual clock that skips idle waits."""
    backend: tuple[str, dict[str, Any]] = request.param
    return backend


@pytest.fixture
async def fake(anyio_backend: object) -> FakeDune:
    """A fake Dune without rate limits whose clock is the event loop's (virtual) clock."""
    fake = FakeDune(clock=anyio.current_time, seed=7)
    fake.add_query(1, Table.generated(25, seed=1))
    return fake


def client_for(
    fake: FakeDune,
    *,
    policy: PollPolicy | None = STEADY,
    budget: RateBudget | None = None,
    plan: str | None = None,
) -> DuneClient:
    """Return a client of ``fake`` that never waits between retries."""
    return DuneClient(
        fake.api_key,
        transport=fake.transport(),
        retry=RetryPolicy.no_wait(),
        poll_policy=policy,
        rate_budget=budget,
        plan=plan,
    )


@pytest.fixture
async def dune(fake: FakeDune) -> AsyncIterator[DuneClient]:
    """A client of ``fake`` with the steady 1 s poll policy."""
    async with client_for(fake) as client:
        yield client
