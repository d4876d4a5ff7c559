"""``AiohttpTransport`` behaves as the native transport against the fake over loopback.

asyncio only: aiohttp runs on nothing else (under trio it refuses, which is tested too). The fake
runs on a ``ManualClock`` that the tests move, so an execution's life takes no real time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from duneasync import (
    AiohttpTransport,
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    DuneClient,
    ExecutionState,
    ExecutionStatus,
    NotFoundError,
    RetryPolicy,
    ServerError,
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


async def test_an_execution_is_polled_to_completion_and_read_page_by_page(
    dune: DuneClient, fake: FakeDune, clock: ManualClock
) -> None:
    started = await dune.execute_query(QUERY_ID, parameters={"n": 1}, performance="medium")
    assert started.state == ExecutionState.PENDING

    statuses = await poll(dune, clock, started.execution_id)

    assert statuses[-1].state == ExecutionState.COMPLETED
    pages = [await dune.get_execution_results(started.execution_id, limit=10)]
    while (following := await dune.get_next_results(pages[-1])) is not None:
        pages.append(following)
    assert [len(p.rows) for p in pages] == [10, 10, 5]
    assert [row["id"] for p in pages for row in p.rows] == list(range(ROWS))
    assert fake.stats.executions_created == 1


async def test_results_options_reach_the_server_encoded_once(
    dune: DuneClient, clock: ManualClock
) -> None:
    started = await dune.execute_query(QUERY_ID)
    await poll(dune, clock, started.execution_id)

    page = await dune.get_execution_results(
        started.execution_id, limit=10, columns=["id", "symbol"], filters="id >= 22"
    )

    assert [row["id"] for row in page.rows] == [22, 23, 24]


async def test_csv_pages_follow_the_next_page_headers(dune: DuneClient, clock: ManualClock) -> None:
    started = await dune.execute_query(QUERY_ID)
    await poll(dune, clock, started.execution_id)

    page = await dune.get_execution_results_csv(started.execution_id, limit=10)
    pages = [page]
    while (following := await dune.get_next_results_csv(pages[-1])) is not None:
        pages.append(following)

    assert [p.next_offset for p in pages] == [10, 20, None]
    rows = [row for p in pages for row in csv.DictReader(io.StringIO(p.data.decode()))]
    assert [int(row["id"]) for row in rows] == list(range(ROWS))


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


async def test_a_missing_execution_is_not_found(dune: DuneClient) -> None:
    with pytest.raises(NotFoundError):
        await dune.get_execution_status("01-no-such-execution")


async def test_a_wrong_key_is_an_authentication_error(fake: FakeDune, server: FakeServer) -> None:
    async with DuneClient(
        "not-the-key", base_url=server.base_url, transport=AiohttpTransport()
    ) as dune:
        with pytest.raises(AuthenticationError, match="answered 401"):
            await dune.execute_query(QUERY_ID)

    assert fake.stats.executions_created == 0


async def test_a_post_whose_connection_drops_after_the_server_acted_is_not_retried(
    dune: DuneClient, fake: FakeDune
) -> None:
    fake.inject(Fault.DROP_AFTER, endpoint="execute_query")

    with pytest.raises(APIConnectionError) as caught:
        await dune.execute_query(QUERY_ID)

    assert caught.value.request_sent is not False
    assert fake.stats.requests["execute_query"] == 1
    assert fake.stats.executions_created == 1


async def test_a_post_dropped_on_the_socket_before_acting_is_not_retried(
    dune: DuneClient, fake: FakeDune
) -> None:
    # Over a socket, a closed connection looks the same before or after acting.
    fake.inject(Fault.DROP_BEFORE, endpoint="execute_query")

    with pytest.raises(APIConnectionError):
        await dune.execute_query(QUERY_ID)

    assert fake.stats.requests["execute_query"] == 1
    assert fake.stats.executions_created == 0


async def test_a_post_answered_500_is_not_retried(dune: DuneClient, fake: FakeDune) -> None:
    fake.inject(Fault.HTTP_500, endpoint="execute_query")

    with pytest.raises(ServerError, match="answered 500"):
        await dune.execute_query(QUERY_ID)

    assert fake.stats.requests["execute_query"] == 1


async def test_a_get_survives_proxy_errors_dropped_connections_and_cut_bodies(
    dune: DuneClient, fake: FakeDune
) -> None:
    started = await dune.execute_query(QUERY_ID)
    for fault in (Fault.HTTP_502, Fault.HTTP_503, Fault.DROP_AFTER, Fault.TRUNCATE):
        fake.inject(fault, endpoint="execution_status")

    status = await dune.get_execution_status(started.execution_id)

    assert status.execution_id == started.execution_id
    assert fake.stats.requests["execution_status"] == 5


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
