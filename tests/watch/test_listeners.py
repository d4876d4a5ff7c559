"""Many ``changes()`` listeners at once, as a web app with several browsers open has them."""

from __future__ import annotations

from contextlib import aclosing

import anyio
import pytest

from duneasync import DuneClient, ExecutionState, ExecutionStatus
from duneasync.testing import ExecutionScript, FakeDune

pytestmark = pytest.mark.anyio

LISTENERS = 6


async def test_six_listeners_on_six_executions_each_see_their_own_to_the_end(
    dune: DuneClient, fake: FakeDune
) -> None:
    # As a web app serves six browsers from one watch: each stream follows one execution and
    # stops when it ends, while the others go on. A stream that stops must take its own backlog
    # away, not another listener's (equal, because empty) one.
    fake.queue_scripts(*(ExecutionScript.completed(executing=2 + 3 * i) for i in range(LISTENERS)))
    ids = [(await dune.execute_query(1)).execution_id for _ in range(LISTENERS)]
    seen: dict[str, list[ExecutionStatus]] = {execution_id: [] for execution_id in ids}

    async with dune.watch_executions(ids, timeout=600) as watcher:

        async def stream(execution_id: str) -> None:
            async with aclosing(watcher.changes()) as changes:
                async for status in changes:
                    if status.execution_id != execution_id:
                        continue
                    seen[execution_id].append(status)
                    if status.is_finished:
                        return

        with anyio.fail_after(600):
            async with anyio.create_task_group() as tg:
                for execution_id in ids:
                    tg.start_soon(stream, execution_id)

    for execution_id, statuses in seen.items():
        assert statuses, execution_id
        assert statuses[-1].state == ExecutionState.COMPLETED, execution_id


async def test_six_listeners_of_one_watch_each_see_every_change(
    dune: DuneClient, fake: FakeDune
) -> None:
    fake.queue_scripts(*(ExecutionScript.completed(executing=2 + i) for i in range(LISTENERS)))
    ids = [(await dune.execute_query(1)).execution_id for _ in range(LISTENERS)]
    seen: list[list[ExecutionStatus]] = [[] for _ in range(LISTENERS)]

    async with dune.watch_executions(ids, timeout=600) as watcher:

        async def listen(index: int) -> None:
            async for status in watcher.changes():
                seen[index].append(status)

        async with anyio.create_task_group() as tg:
            for index in range(LISTENERS):
                tg.start_soon(listen, index)

    finals = [
        {s.execution_id for s in statuses if s.state == ExecutionState.COMPLETED}
        for statuses in seen
    ]
    assert finals == [set(ids)] * LISTENERS
