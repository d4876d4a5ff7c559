"""The client against the fake Dune API, in process and over loopback sockets.

Each test runs five ways: (in-process transport, loopback server) x (asyncio, trio), and the
loopback server through ``AiohttpTransport`` on asyncio. The fake runs
on a ``ManualClock`` that the test moves, so an execution's life takes no real time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from duneasync import (
    AiohttpTransport,
    APIConnectionError,
    AuthenticationError,
    DuneClient,
    ExecutionState,
    ExecutionStatus,
    MaterializedViewRefreshNode,
    NotFoundError,
    Pipeline,
    PipelineNode,
    PipelineStatus,
    QueryExecutionNode,
    RetryPolicy,
)
from duneasync.testing import Column, ExecutionScript, FakeDune, Fault, ManualClock, Table

pytestmark = pytest.mark.anyio

QUERY_ID = 1234
VIEW = "dune.team.result_daily"
DOWNSTREAM_QUERY_ID = 99
ROWS = 25


@pytest.fixture
def clock() -> ManualClock:
    """The fake's clock; tests move it to move executions along."""
    return ManualClock()


SYMBOLS = ("WETH", "USDC", "DAI", "WBTC", "UNI")


def table(n_rows: int) -> Table:
    """An explicit table of ``n_rows`` rows: ``id`` (the row index) and ``symbol``."""
    columns = [Column("id", "bigint"), Column("symbol", "varchar")]
    return Table(columns, [(i, SYMBOLS[i % len(SYMBOLS)]) for i in range(n_rows)])


@pytest.fixture
def fake(clock: ManualClock) -> FakeDune:
    """A fake with a 25-row query that queues 1 s and runs 2 s, and a lineage behind another."""
    fake = FakeDune(clock=clock)
    fake.add_query(QUERY_ID, table(ROWS), script=ExecutionScript.completed(pending=1, executing=2))
    fake.add_materialized_view(VIEW, table(2), depends_on=[QUERY_ID])
    fake.add_query(DOWNSTREAM_QUERY_ID, table(3), depends_on=[VIEW])
    return fake


@pytest.fixture(params=["in-process", "loopback", "aiohttp"])
def wiring(
    request: pytest.FixtureRequest, fake: FakeDune, anyio_backend: str
) -> Iterator[dict[str, Any]]:
    """How the client reaches the fake: in process, or over loopback with httpx or aiohttp."""
    if request.param == "in-process":
        yield {"transport": fake.transport()}
        return
    transport: dict[str, Any] = {}
    if request.param == "aiohttp":
        if anyio_backend != "asyncio":
            pytest.skip("AiohttpTransport runs on asyncio only")
        pytest.importorskip("aiohttp")
        transport = {"transport": AiohttpTransport()}
    with fake.serve() as server:
        yield {"base_url": server.base_url, **transport}


@pytest.fixture
async def dune(
    fake: FakeDune, wiring: dict[str, Any], anyio_backend: str
) -> AsyncIterator[DuneClient]:
    """A client of the fake with a zero-wait retry policy."""
    async with DuneClient(fake.api_key, retry=RetryPolicy.no_wait(), **wiring) as client:
        yield client


async def poll(dune: DuneClient, clock: ManualClock, execution_id: str) -> list[ExecutionStatus]:
    """Poll an execution every half second of fake time until it finishes."""
    seen = [await dune.get_execution_status(execution_id)]
    while not seen[-1].is_finished:
        assert len(seen) < 100, "the execution never finished"
        clock.advance(0.5)
        seen.append(await dune.get_execution_status(execution_id))
    return seen


async def poll_pipeline(dune: DuneClient, clock: ManualClock, pipeline_id: str) -> PipelineStatus:
    """Poll a pipeline every second of fake time until it finishes."""
    for _ in range(200):
        status = await dune.get_pipeline_status(pipeline_id)
        if status.is_finished:
            return status
        clock.advance(1)
    raise AssertionError("the pipeline never finished")


async def test_an_execution_is_polled_to_completion_and_read_page_by_page(
    dune: DuneClient, fake: FakeDune, clock: ManualClock
) -> None:
    started = await dune.execute_query(QUERY_ID, performance="medium")
    assert started.state == ExecutionState.PENDING

    statuses = await poll(dune, clock, started.execution_id)

    states = [status.state for status in statuses]
    assert states[0] == ExecutionState.PENDING
    assert ExecutionState.EXECUTING in states
    assert states[-1] == ExecutionState.COMPLETED
    final = statuses[-1]
    assert final.execution_started_at is not None
    assert final.execution_ended_at is not None
    assert final.result_metadata is not None
    assert final.result_metadata.total_row_count == ROWS

    page = await dune.get_execution_results(started.execution_id, limit=10)
    pages = [page]
    while (page := await dune.get_next_results(page)) is not None:
        pages.append(page)

    assert [len(p.rows) for p in pages] == [10, 10, 5]
    assert [p.metadata.row_count for p in pages if p.metadata] == [10, 10, 5]
    assert {p.metadata.total_row_count for p in pages if p.metadata} == {ROWS}
    assert [row["id"] for p in pages for row in p.rows] == list(range(ROWS))
    assert pages[-1].next_offset is None
    assert fake.stats.executions_created == 1


async def test_results_are_read_by_offset_with_options(
    dune: DuneClient, clock: ManualClock
) -> None:
    started = await dune.execute_query(QUERY_ID)
    await poll(dune, clock, started.execution_id)

    page = await dune.get_execution_results(
        started.execution_id, offset=20, limit=10, columns=["id", "symbol"]
    )

    assert [row["id"] for row in page.rows] == [20, 21, 22, 23, 24]
    assert set(page.rows[0]) == {"id", "symbol"}
    assert page.next_offset is None


async def test_csv_pages_follow_the_next_page_headers(dune: DuneClient, clock: ManualClock) -> None:
    started = await dune.execute_query(QUERY_ID)
    await poll(dune, clock, started.execution_id)

    page = await dune.get_execution_results_csv(started.execution_id, limit=10)
    assert page.next_offset == 10
    pages = [page]
    while (following := await dune.get_next_results_csv(pages[-1])) is not None:
        pages.append(following)

    assert [p.next_offset for p in pages] == [10, 20, None]
    rows = [row for p in pages for row in list(csv.DictReader(io.StringIO(p.data.decode())))]
    assert [int(row["id"]) for row in rows] == list(range(ROWS))


async def test_the_latest_result_of_a_query_is_read_without_executing(
    dune: DuneClient, fake: FakeDune, clock: ManualClock
) -> None:
    with pytest.raises(NotFoundError):
        await dune.get_latest_result(QUERY_ID)
    started = await dune.execute_query(QUERY_ID)
    await poll(dune, clock, started.execution_id)

    latest = await dune.get_latest_result(QUERY_ID, limit=5)
    latest_csv = await dune.get_latest_result_csv(QUERY_ID, limit=5)

    assert latest.execution_id == started.execution_id
    assert [row["id"] for row in latest.rows] == [0, 1, 2, 3, 4]
    assert latest_csv.next_offset == 5
    assert latest_csv.data.count(b"\n") == 6
    assert fake.stats.executions_created == 1


async def test_raw_sql_executes_and_fails_with_the_server_error(
    dune: DuneClient, fake: FakeDune, clock: ManualClock
) -> None:
    fake.add_sql("select 1 as one", Table([Column("one", "bigint")], [[1]]))
    fake.add_sql(
        "selecdt 1",
        Table([Column("one", "bigint")]),
        script=ExecutionScript.failed(line=1, column=1, executing=1),
    )

    good = await dune.execute_sql("select 1 as one")
    bad = await dune.execute_sql("selecdt 1", performance="large")
    await poll(dune, clock, good.execution_id)
    failed = (await poll(dune, clock, bad.execution_id))[-1]

    assert (await dune.get_execution_results(good.execution_id)).rows == [{"one": 1}]
    assert failed.state == ExecutionState.FAILED
    assert failed.is_finished
    assert failed.error is not None
    assert failed.error.message == "Error: Line 1:1: mismatched input 'selecdt'"


async def test_a_running_execution_is_cancelled(
    dune: DuneClient, fake: FakeDune, clock: ManualClock
) -> None:
    fake.queue_scripts(ExecutionScript.completed(executing=600))
    started = await dune.execute_query(QUERY_ID)
    clock.advance(1)

    assert await dune.cancel_execution(started.execution_id) is True

    status = await dune.get_execution_status(started.execution_id)
    assert status.state == ExecutionState.CANCELLED
    assert status.is_finished
    assert fake.execution(started.execution_id).state == ExecutionState.CANCELLED


async def test_a_query_pipeline_runs_every_node_of_its_lineage(
    dune: DuneClient, fake: FakeDune, clock: ManualClock
) -> None:
    pipeline = await dune.pipelines.lineage(DOWNSTREAM_QUERY_ID)
    kinds = [
        "view" if node.materialized_view_refresh is not None else "query" for node in pipeline.nodes
    ]
    assert kinds == ["query", "view", "query"]

    started = await dune.pipelines.execute_lineage(DOWNSTREAM_QUERY_ID, performance="large")
    status = await poll_pipeline(dune, clock, started.pipeline_execution_id)

    assert status.status == "completed"
    assert [node.kind for node in status.node_executions] == [
        "query",
        "materialized_view",
        "query",
    ]
    assert all(node.is_success for node in status.node_executions)
    last = status.node_executions[-1].execution_id
    assert last is not None
    assert len((await dune.get_execution_results(last)).rows) == 3
    assert fake.stats.pipelines_created == 1


@pytest.mark.parametrize("form", ["nodes", "lineage"])
async def test_pipelines_execute_accepts_nodes_or_a_query_lineage(
    dune: DuneClient, fake: FakeDune, clock: ManualClock, form: str
) -> None:
    if form == "nodes":
        started = await dune.pipelines.execute(
            Pipeline(
                nodes=[
                    PipelineNode(id=1, query_execution=QueryExecutionNode(query_id=QUERY_ID)),
                    PipelineNode(
                        id=2,
                        dependencies=[1],
                        materialized_view_refresh=MaterializedViewRefreshNode(name=VIEW),
                    ),
                ]
            )
        )
    else:
        started = await dune.pipelines.execute(query_id=DOWNSTREAM_QUERY_ID, performance="medium")

    status = await poll_pipeline(dune, clock, started.pipeline_execution_id)

    assert status.status == "completed"
    assert len(status.node_executions) == (2 if form == "nodes" else 3)
    assert fake.stats.pipelines_created == 1


async def test_a_post_whose_connection_drops_after_the_server_acted_is_not_retried(
    dune: DuneClient, fake: FakeDune
) -> None:
    fake.inject(Fault.DROP_AFTER, endpoint="execute_query")

    with pytest.raises(APIConnectionError) as caught:
        await dune.execute_query(QUERY_ID)

    assert caught.value.request_sent is not False
    assert fake.stats.requests["execute_query"] == 1
    assert fake.stats.executions_created == 1


async def test_a_post_dropped_before_the_server_acted_is_retried_only_when_provably_unsent(
    dune: DuneClient, fake: FakeDune, wiring: dict[str, Any]
) -> None:
    fake.inject(Fault.DROP_BEFORE, endpoint="execute_query")

    if "base_url" not in wiring:
        # In process, the drop surfaces as a connect error: certainly not sent, so retried.
        await dune.execute_query(QUERY_ID)
        assert fake.stats.requests["execute_query"] == 2
        assert fake.stats.executions_created == 1
    else:
        # Over a socket, a closed connection looks the same before or after acting: not retried.
        with pytest.raises(APIConnectionError):
            await dune.execute_query(QUERY_ID)
        assert fake.stats.requests["execute_query"] == 1
        assert fake.stats.executions_created == 0


async def test_a_post_answered_500_is_not_retried(dune: DuneClient, fake: FakeDune) -> None:
    fake.inject(Fault.HTTP_500, endpoint="execute_query")

    with pytest.raises(Exception, match="answered 500"):
        await dune.execute_query(QUERY_ID)

    assert fake.stats.requests["execute_query"] == 1
    assert fake.stats.executions_created == 0


async def test_a_get_survives_proxy_errors_and_dropped_connections(
    dune: DuneClient, fake: FakeDune
) -> None:
    started = await dune.execute_query(QUERY_ID)
    for fault in (Fault.HTTP_502, Fault.HTTP_503, Fault.DROP_AFTER, Fault.HTTP_500):
        fake.inject(fault, endpoint="execution_status")

    status = await dune.get_execution_status(started.execution_id)

    assert status.execution_id == started.execution_id
    assert fake.stats.requests["execution_status"] == 5


async def test_a_wrong_key_is_an_authentication_error(
    fake: FakeDune, wiring: dict[str, Any], anyio_backend: str
) -> None:
    async with DuneClient("not-the-key", retry=RetryPolicy.no_wait(), **wiring) as dune:
        with pytest.raises(AuthenticationError, match="answered 401 Unauthorized: invalid API Key"):
            await dune.execute_query(QUERY_ID)

    assert fake.stats.unauthorized == 1
    assert fake.stats.executions_created == 0


async def test_a_get_whose_body_is_cut_short_is_retried(dune: DuneClient, fake: FakeDune) -> None:
    # In process the cut body arrives as a complete 200 whose JSON is truncated; over a socket
    # the connection closes early. Both are retried for a GET.
    started = await dune.execute_query(QUERY_ID)
    fake.inject(Fault.TRUNCATE, endpoint="execution_status")

    status = await dune.get_execution_status(started.execution_id)

    assert status.execution_id == started.execution_id
    assert fake.stats.requests["execution_status"] == 2
