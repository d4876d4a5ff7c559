"""Resume: the ids are the token; a watch saved as JSON picks up where it stopped."""

from __future__ import annotations

import json

import anyio
import pytest

from duneasync import DuneClient, ExecutionState, WatchState
from duneasync.testing import ExecutionScript, FakeDune

from .conftest import client_for

pytestmark = pytest.mark.anyio


async def test_a_saved_watch_resumes_in_a_new_client(fake: FakeDune) -> None:
    fake.queue_scripts(
        ExecutionScript.completed(executing=2),
        ExecutionScript.completed(executing=40),
        ExecutionScript.failed("Error: late", executing=60),
    )
    async with client_for(fake) as first:
        ids = [(await first.execute_query(1)).execution_id for _ in range(3)]
        async with first.watch_executions(ids) as watcher:
            await anyio.sleep(20)
            text = watcher.save().to_json()
    saved = json.loads(text)  # plain JSON
    assert {item["key"] for item in saved["items"]} == set(ids)

    state = WatchState.from_json(text)
    assert state.done == [ids[0]]
    assert state.unfinished == ids[1:]
    # "After a restart": a new client, given the saved state.
    async with client_for(fake) as second, second.watch_executions(state) as watcher:
        assert watcher.progress(ids[1]).elapsed == pytest.approx(20.0)
        assert watcher.progress(ids[0]).phase == "done"  # known without a request
        finals = [s async for s in watcher.as_completed()]
    assert [(s.execution_id, s.state) for s in finals] == [
        (ids[1], ExecutionState.COMPLETED),
        (ids[2], ExecutionState.FAILED),
    ]


async def test_run_query_returns_every_row(dune: DuneClient, fake: FakeDune) -> None:
    fake.queue_scripts(ExecutionScript.completed(pending=1, executing=3))
    result = await dune.run_query(1, timeout=60)
    assert result.state == ExecutionState.COMPLETED
    assert len(result.rows) == 25


async def test_run_sql_raises_for_a_failed_execution(dune: DuneClient, fake: FakeDune) -> None:
    from duneasync import ExecutionFailedError

    fake.add_sql("select 1", fake_table(), script=ExecutionScript.failed("Error: nope"))
    with pytest.raises(ExecutionFailedError, match="Error: nope"):
        await dune.run_sql("select 1")


def fake_table():  # type: ignore[no-untyped-def]
    from duneasync.testing import Table

    return Table.generated(2)
