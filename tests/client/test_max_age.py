"""``get_latest_result(max_age=...)``: a stored result that is too old is refreshed by executing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import pytest

from duneasync import DuneClient, RetryPolicy
from duneasync.testing import Column, ExecutionScript, FakeDune, Table
from tests.support.virtual_time import VIRTUAL_TIME_BACKENDS

pytestmark = pytest.mark.anyio

QUERY_ID = 77
# The fake's wall clock starts here, so its first execution ends "now - (today - 2025-01-06)".
START = datetime(2025, 1, 6, 9, 30, tzinfo=timezone.utc)


@pytest.fixture(params=VIRTUAL_TIME_BACKENDS, ids=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """Virtual clocks: waiting for an execution takes no real time."""
    return request.param


@pytest.fixture
async def fake() -> FakeDune:
    # The fake reads the event loop's (virtual) clock, so executions age as the client waits.
    fake = FakeDune(start_datetime=START, clock=anyio.current_time)
    table = Table([Column("n", "bigint")], [(i,) for i in range(5)])
    fake.add_query(QUERY_ID, table, script=ExecutionScript.completed())
    return fake


async def _stored_result(dune: DuneClient) -> str:
    """Execute once so the query has a latest result, and return that execution's id."""
    first = await dune.execute_query(QUERY_ID)
    await dune.wait_for_execution(first.execution_id)
    return first.execution_id


def _client(fake: FakeDune) -> DuneClient:
    return DuneClient(fake.api_key, transport=fake.transport(), retry=RetryPolicy.no_wait())


async def test_a_result_younger_than_max_age_is_returned_without_executing(fake: FakeDune) -> None:
    async with _client(fake) as dune:
        stored = await _stored_result(dune)
        age = datetime.now(timezone.utc) - START

        page = await dune.get_latest_result(QUERY_ID, max_age=age + timedelta(days=1))

    assert page.execution_id == stored
    assert fake.stats.executions_created == 1


async def test_a_result_older_than_max_age_is_refreshed_by_one_execution(fake: FakeDune) -> None:
    async with _client(fake) as dune:
        stored = await _stored_result(dune)

        page = await dune.get_latest_result(QUERY_ID, max_age=3600, limit=2)

    assert page.execution_id != stored
    assert [row["n"] for row in page.rows] == [0, 1]
    assert fake.stats.executions_created == 2


async def test_the_csv_variant_refreshes_a_stale_result_too(fake: FakeDune) -> None:
    async with _client(fake) as dune:
        await _stored_result(dune)

        fresh = await dune.get_latest_result_csv(QUERY_ID, max_age=timedelta(hours=1))
        kept = await dune.get_latest_result_csv(QUERY_ID, max_age=timedelta(days=3650))

    assert fresh.data.splitlines() == [b"n", b"0", b"1", b"2", b"3", b"4"]
    assert kept.data == fresh.data
    assert fake.stats.executions_created == 2
