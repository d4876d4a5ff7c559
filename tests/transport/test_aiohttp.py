"""What is particular to ``AiohttpTransport``: encoding, streaming, and failures on the wire.

The behaviours it shares with the native transport run on it in tests/client/test_against_fake.py.
asyncio only: aiohttp runs on nothing else (under trio it refuses, which is tested too). The fake
runs on a ``ManualClock`` that the tests move, so an execution's life takes no real time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from duneasync import (
    AiohttpTransport,
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    DuneClient,
    ExecutionStatus,
    RetryPolicy,
)
from duneasync.testing import (
    Column,
    ExecutionScript,
    FakeDune,
    FakeServer,
    Fault,
    ManualClock,
    Table,
)

pytestmark = pytest.mark.anyio

pytest.importorskip("aiohttp")

QUERY_ID = 1234
ROWS = 25


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp runs on asyncio only."""
    return "asyncio"


@pytest.fixture
def clock() -> ManualClock:
    """The fake's clock; tests move it to move executions along."""
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> FakeDune:
    """A fake with a 25-row query that queues 1 s and runs 2 s."""
    fake = FakeDune(clock=clock)
    columns = [Column("id", "bigint"), Column("symbol", "varchar")]
    table = Table(columns, [(i, f"s{i}") for i in range(ROWS)])
    fake.add_query(QUERY_ID, table, script=ExecutionScript.completed(pending=1, executing=2))
    return fake


@pytest.fixture
def server(fake: FakeDune) -> Iterator[FakeServer]:
    """The fake, served over loopback sockets."""
    with fake.serve() as server:
        yield server


@pytest.fixture
async def dune(fake: FakeDune, server: FakeServer) -> AsyncIterator[DuneClient]:
    """A client of the served fake, sending through aiohttp, with a zero-wait retry policy."""
    async with DuneClient(
        fake.api_key,
        base_url=server.base_url,
        transport=AiohttpTransport(),
        retry=RetryPolicy.no_wait(),
    ) as client:
        yield client


async def poll(dune: DuneClient, clock: ManualClock, execution_id: str) -> list[ExecutionStatus]:
    """Poll an execution every half second of fake time until it finishes."""
    seen = [await dune.get_execution_status(execution_id)]
    while not seen[-1].is_finished:
        assert len(seen) < 100, "the execution never finished"
        clock.advance(0.5)
        seen.append(await dune.get_execution_status(execution_id))
    return seen


async def test_results_options_reach_the_server_encoded_once(
    dune: DuneClient, clock: ManualClock
) -> None:
    started = await dune.execute_query(QUERY_ID)
    await poll(dune, clock, started.execution_id)

    page = await dune.get_execution_results(
        started.execution_id, limit=10, columns=["id", "symbol"], filters="id >= 22"
    )

    assert [row["id"] for row in page.rows] == [22, 23, 24]


async def test_a_csv_body_streams_through_the_transport(
    dune: DuneClient, fake: FakeDune, server: FakeServer, clock: ManualClock
) -> None:
    started = await dune.execute_query(QUERY_ID)
    await poll(dune, clock, started.execution_id)
    url = f"{server.base_url}/api/v1/execution/{started.execution_id}/results/csv"
    headers = {"X-Dune-Api-Key": fake.api_key}

    async with (
        httpx.AsyncClient(transport=AiohttpTransport()) as http,
        http.stream("GET", url, headers=headers) as response,
    ):
        chunks = [chunk async for chunk in response.aiter_raw(16)]

    text = b"".join(chunks).decode()
    assert response.status_code == 200
    assert text.splitlines()[0] == "id,symbol"
    assert len(text.splitlines()) == ROWS + 1


async def test_a_refused_connection_is_a_connect_error_and_a_post_is_retried() -> None:
    # Nothing listens on the port: the request provably never left, so even a POST is resent.
    attempts = 3
    async with DuneClient(
        "key",
        base_url="http://127.0.0.1:9",
        transport=AiohttpTransport(),
        retry=RetryPolicy.no_wait(attempts=attempts),
    ) as dune:
        with pytest.raises(APIConnectionError) as caught:
            await dune.execute_query(QUERY_ID)

    assert caught.value.request_sent is False
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_a_slow_answer_is_a_read_timeout(fake: FakeDune, server: FakeServer) -> None:
    fake.inject(Fault.SLOW, endpoint="execution_status", times=5, delay=0.5)
    async with DuneClient(
        fake.api_key,
        base_url=server.base_url,
        transport=AiohttpTransport(),
        timeout=httpx.Timeout(5.0, read=0.05),
        retry=RetryPolicy.no_wait(),
    ) as dune:
        started = await dune.execute_query(QUERY_ID)
        with pytest.raises(APITimeoutError) as caught:
            await dune.get_execution_status(started.execution_id)

    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_under_trio_it_refuses_with_a_clear_error() -> None:
    transport = AiohttpTransport()
    with pytest.raises(ConfigurationError, match="asyncio only"):
        await transport.handle_async_request(httpx.Request("GET", "http://127.0.0.1:9/"))
