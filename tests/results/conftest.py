"""Fixtures of the results tests: clients over the scripted mini server or the fake Dune."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from duneasync import DuneClient, RetryPolicy
from duneasync.testing import DEFAULT_API_KEY, ExecutionScript, FakeDune, Table

ClientFactory = Callable[[httpx.AsyncBaseTransport], DuneClient]


@pytest.fixture
async def clients() -> AsyncIterator[ClientFactory]:
    """Build clients on a given transport with a zero-wait retry policy; close them after."""
    made: list[DuneClient] = []

    def make(transport: httpx.AsyncBaseTransport) -> DuneClient:
        client = DuneClient(DEFAULT_API_KEY, transport=transport, retry=RetryPolicy.no_wait())
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def fake() -> FakeDune:
    """A fresh fake Dune API, without rate limits or faults unless a test adds them."""
    return FakeDune()


async def completed_execution(
    dune: DuneClient, fake: FakeDune, table: Table, *, script: ExecutionScript | None = None
) -> str:
    """Register ``table`` as query 1 of the fake, execute it and return the execution id."""
    fake.add_query(1, table, script=script or ExecutionScript.completed())
    return (await dune.execute_query(1)).execution_id
