"""Whole results against the fake Dune API: faults, server caps, partial results, memory."""

from __future__ import annotations

import gc
import io
import tracemalloc

import pytest
from typing_extensions import Buffer

from duneasync import DuneClient, PartialResultError, RetryPolicy
from duneasync.testing import (
    COMPLETED_PARTIAL,
    DEFAULT_API_KEY,
    ExecutionScript,
    FakeDune,
    Fault,
    Table,
)

from .conftest import ClientFactory, completed_execution

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "fault", [Fault.HTTP_500, Fault.HTTP_502, Fault.DROP_AFTER, Fault.TRUNCATE]
)
async def test_rows_are_exact_when_page_requests_fail(
    clients: ClientFactory, fake: FakeDune, fault: Fault
) -> None:
    dune = clients(fake.transport())
    execution_id = await completed_execution(dune, fake, Table.generated(6_000))
    fake.inject(fault, endpoint="execution_results", times=3)
    result = await dune.results(execution_id).all(page_size=700, concurrency=4)
    assert [row["id"] for row in result.rows] == list(range(6_000))
    assert fake.stats.faults_injected[fault.value] == 3


@pytest.mark.parametrize("fault", [Fault.HTTP_503, Fault.DROP_BEFORE, Fault.TRUNCATE])
async def test_csv_is_exact_when_page_requests_fail(
    clients: ClientFactory, fake: FakeDune, fault: Fault
) -> None:
    dune = clients(fake.transport())
    execution_id = await completed_execution(dune, fake, Table.generated(3_000))
    fake.inject(fault, endpoint="execution_results_csv", times=2)
    sink = io.BytesIO()
    summary = await dune.results(execution_id).download(sink, page_size=400)
    lines = sink.getvalue().decode().splitlines()
    assert lines[0].startswith("id,amount,symbol")
    assert [int(line.split(",", 1)[0]) for line in lines[1:]] == list(range(3_000))
    assert summary.row_count == 3_000


async def test_a_server_page_cap_below_the_page_size_is_followed(clients: ClientFactory) -> None:
    fake = FakeDune(max_page_rows=450)
    dune = clients(fake.transport())
    execution_id = await completed_execution(dune, fake, Table.generated(5_000))
    reader = dune.results(execution_id)
    rows = [row["id"] async for row in reader.rows(page_size=2_000)]
    assert rows == list(range(5_000))
    csv = b"".join([chunk async for chunk in reader.csv(page_size=2_000)])
    assert len(csv.splitlines()) == 5_001


async def test_the_datapoint_cap_is_never_exceeded(clients: ClientFactory, fake: FakeDune) -> None:
    dune = clients(fake.transport())
    execution_id = await completed_execution(dune, fake, Table.generated(50_000))
    result = await dune.results(execution_id).all()
    assert len(result.rows) == 50_000
    # 1,000 rows to learn the shape, then 41,666 rows (6 columns) fill the second page.
    assert fake.stats.requests["execution_results"] == 3


async def test_partial_results_both_ways(clients: ClientFactory, fake: FakeDune) -> None:
    dune = clients(fake.transport())
    script = ExecutionScript(final_state=COMPLETED_PARTIAL, partial_rows=1_500)
    execution_id = await completed_execution(dune, fake, Table.generated(4_000), script=script)
    refusing = dune.results(execution_id)
    with pytest.raises(PartialResultError):
        await refusing.all()
    with pytest.raises(PartialResultError):
        await refusing.download(io.BytesIO())
    accepting = dune.results(execution_id, allow_partial_results=True)
    result = await accepting.all(page_size=600)
    assert result.is_partial
    assert [row["id"] for row in result.rows] == list(range(1_500))
    summary = await accepting.download(io.BytesIO())
    assert summary.is_partial
    assert summary.row_count == 1_500


async def test_the_latest_result_of_a_query(clients: ClientFactory, fake: FakeDune) -> None:
    dune = clients(fake.transport())
    await completed_execution(dune, fake, Table.generated(2_345))
    reader = dune.latest_results(1)
    result = await reader.all(page_size=1_000)
    assert [row["id"] for row in result.rows] == list(range(2_345))
    csv = b"".join([chunk async for chunk in reader.csv(page_size=1_000)])
    assert len(csv.splitlines()) == 2_346


class _Discard(io.BytesIO):
    """A binary sink that keeps nothing, so only the client's own memory is measured."""

    def write(self, data: Buffer, /) -> int:
        return memoryview(data).nbytes


async def _peak(rows: int, *, csv: bool) -> int:
    """Return the most memory a streaming read of ``rows`` rows took (tracemalloc's peak)."""
    fake = FakeDune()
    table = Table.generated(rows)
    # The fake keeps the values it generates; fill that cache now so the measure sees only
    # what reading costs.
    for column in range(len(table.columns)):
        table.column_values(column, range(rows))
    # Over a real socket: what keeps a body alive may be in the HTTP stack, not only in ours.
    with fake.serve() as server:
        dune = DuneClient(DEFAULT_API_KEY, base_url=server.base_url, retry=RetryPolicy.no_wait())
        async with dune:
            execution_id = await completed_execution(dune, fake, table)
            return await _measure(dune, execution_id, rows, csv=csv)


async def _measure(dune: DuneClient, execution_id: str, rows: int, *, csv: bool) -> int:
    gc.collect()
    # With the cyclic collector off, only reference counting frees memory: a page kept alive by
    # a reference cycle (as an httpx response keeps its body) stays until the end of the read,
    # deterministically, instead of until a full collection happens to run.
    gc.disable()
    tracemalloc.start()
    try:
        if csv:
            summary = await dune.results(execution_id).download(_Discard(), page_size=_PAGE)
            count = summary.row_count
        else:
            count = 0
            async for _row in dune.results(execution_id).rows(page_size=_PAGE):
                count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert count == rows
    return peak


_PAGE = 2_000  # rows: a JSON page body of about 350 kB, a CSV page of about 200 kB


@pytest.mark.parametrize("csv", [False, True], ids=["rows", "download"])
async def test_streaming_memory_does_not_grow_with_the_result(csv: bool) -> None:
    await _peak(2_000, csv=csv)  # warm caches and imports outside the measure
    small = await _peak(8 * _PAGE, csv=csv)
    large = await _peak(40 * _PAGE, csv=csv)
    # 32 more pages, the same pages in flight: the peak stays where it was, but for the small
    # cyclic objects each request leaves to the (here disabled) collector, about 20 kB each.
    # Keeping each page's body alive instead adds 200-350 kB a page: 6 MB or more.
    assert large < small + 3_000_000, (small, large)
