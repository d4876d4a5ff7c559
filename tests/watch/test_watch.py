"""Watching executions: outcomes as values, coalescing, deadlines, cancellation, adding ids."""

from __future__ import annotations

import anyio
import pytest

from duneasync import (
    DuneClient,
    ExecutionCancelledError,
    ExecutionExpiredError,
    ExecutionFailedError,
    ExecutionState,
    ExecutionStatus,
    ItemProgress,
    NotFoundError,
    WatchTimeoutError,
)
from duneasync.testing import (
    CANCELLED,
    COMPLETED_PARTIAL,
    EXPIRED,
    ExecutionScript,
    FakeDune,
)

from .conftest import client_for

pytestmark = pytest.mark.anyio


async def submit(dune: DuneClient, fake: FakeDune, *scripts: ExecutionScript) -> list[str]:
    fake.queue_scripts(*scripts)
    return [(await dune.execute_query(1)).execution_id for _ in scripts]


def status_requests(fake: FakeDune) -> int:
    return fake.stats.requests.get("execution_status", 0)


async def test_every_terminal_outcome_is_a_distinguishable_value(
    dune: DuneClient, fake: FakeDune
) -> None:
    ids = await submit(
        dune,
        fake,
        ExecutionScript.completed(executing=2),
        ExecutionScript.ending(COMPLETED_PARTIAL, executing=3),
        ExecutionScript.failed("Error: division by zero", executing=4),
        ExecutionScript.ending(CANCELLED, executing=5),
        ExecutionScript.ending(EXPIRED, executing=6),
    )
    async with dune.watch_executions(ids) as watcher:
        seen = [status async for status in watcher.as_completed()]
    assert [s.execution_id for s in seen] == ids  # in completion order
    assert [s.known_state for s in seen] == [
        ExecutionState.COMPLETED,
        ExecutionState.COMPLETED_PARTIAL,
        ExecutionState.FAILED,
        ExecutionState.CANCELLED,
        ExecutionState.EXPIRED,
    ]
    assert seen[2].error is not None
    assert seen[2].error.message == "Error: division by zero"


@pytest.mark.parametrize(
    ("script", "error"),
    [
        (ExecutionScript.failed("Error: boom", executing=2), ExecutionFailedError),
        (ExecutionScript.ending(CANCELLED, executing=2), ExecutionCancelledError),
        (ExecutionScript.ending(EXPIRED, executing=2), ExecutionExpiredError),
    ],
)
async def test_wait_for_execution_raises_the_matching_error(
    dune: DuneClient, fake: FakeDune, script: ExecutionScript, error: type[Exception]
) -> None:
    [execution_id] = await submit(dune, fake, script)
    with pytest.raises(error) as caught:
        await dune.wait_for_execution(execution_id)
    assert caught.value.status.execution_id == execution_id  # type: ignore[attr-defined]


async def test_wait_for_execution_returns_the_final_status(
    dune: DuneClient, fake: FakeDune
) -> None:
    [execution_id] = await submit(dune, fake, ExecutionScript.completed(pending=2, executing=3))
    status = await dune.wait_for_execution(execution_id)
    assert status.state == ExecutionState.COMPLETED
    # Polled once a second (steady policy) until the end at 5 s: nothing polled twice at once.
    assert status_requests(fake) == 5


async def test_watchers_and_waits_of_one_execution_share_one_poll_stream(
    dune: DuneClient, fake: FakeDune
) -> None:
    [execution_id] = await submit(dune, fake, ExecutionScript.completed(executing=8))
    finals: list[ExecutionStatus] = []

    async def watch_it() -> None:
        async with dune.watch_executions([execution_id]) as watcher:
            finals.extend([s async for s in watcher.as_completed()])

    async def wait_it() -> None:
        finals.append(await dune.wait_for_execution(execution_id))

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch_it)
        tg.start_soon(watch_it)
        tg.start_soon(wait_it)
    assert len(finals) == 3
    assert all(s.state == ExecutionState.COMPLETED for s in finals)
    # One poll a second from 1 s to 8 s, whoever is watching: 8, not 24.
    assert status_requests(fake) == 8
    assert dune.scheduler.watched == 0


async def test_changes_report_every_state_in_order(dune: DuneClient, fake: FakeDune) -> None:
    ids = await submit(dune, fake, ExecutionScript.completed(pending=2.5, executing=2))
    async with dune.watch_executions(ids) as watcher:
        states = [s.state async for s in watcher.changes()]
    assert states == [
        ExecutionState.PENDING,
        ExecutionState.EXECUTING,
        ExecutionState.COMPLETED,
    ]


async def test_ids_can_be_added_while_watching(dune: DuneClient, fake: FakeDune) -> None:
    first, second = await submit(
        dune, fake, ExecutionScript.completed(executing=3), ExecutionScript.completed(executing=9)
    )
    done: list[str | None] = []
    async with dune.watch_executions([first]) as watcher:
        async for status in watcher.as_completed():
            done.append(status.execution_id)
            if status.execution_id == first:
                watcher.add(second)
                watcher.add(first)  # already finished here: ignored
    assert done == [first, second]


async def test_a_deadline_raises_with_the_last_status_seen(
    dune: DuneClient, fake: FakeDune
) -> None:
    [execution_id] = await submit(dune, fake, ExecutionScript.completed(executing=600))
    start = anyio.current_time()
    with pytest.raises(WatchTimeoutError) as caught:
        await dune.wait_for_execution(execution_id, timeout=30)
    assert anyio.current_time() - start == pytest.approx(30.0)
    last = caught.value.last_status
    assert isinstance(last, ExecutionStatus)
    assert last.state == ExecutionState.EXECUTING
    assert caught.value.unfinished == {execution_id: last}
    assert fake.execution(execution_id).state == ExecutionState.EXECUTING  # not cancelled


async def test_leaving_the_block_stops_polling_and_cancels_nothing(
    dune: DuneClient, fake: FakeDune
) -> None:
    ids = await submit(dune, fake, *[ExecutionScript.completed(executing=100)] * 3)
    with anyio.move_on_after(10):
        async with dune.watch_executions(ids) as watcher:
            await watcher.wait()
    polls = status_requests(fake)
    assert polls > 0
    await anyio.sleep(200)  # the executions end meanwhile; nobody asks
    assert status_requests(fake) == polls
    assert dune.scheduler.watched == 0
    assert fake.stats.requests.get("cancel_execution", 0) == 0
    assert all(fake.execution(i).state == ExecutionState.COMPLETED for i in ids)


async def test_cancel_on_exit_sends_exactly_one_cancel_even_when_cancelled(
    dune: DuneClient, fake: FakeDune
) -> None:
    done, running = await submit(
        dune, fake, ExecutionScript.completed(executing=1), ExecutionScript.completed(executing=100)
    )
    with anyio.move_on_after(5):  # the caller is cancelled while watching
        async with dune.watch_executions([done, running], cancel_on_exit=True) as watcher:
            await watcher.wait()
    assert fake.stats.requests.get("cancel_execution", 0) == 1
    assert fake.execution(running).state == ExecutionState.CANCELLED
    assert fake.execution(done).state == ExecutionState.COMPLETED


async def test_an_unknown_execution_ends_its_watch_with_the_error(
    dune: DuneClient, fake: FakeDune
) -> None:
    [good] = await submit(dune, fake, ExecutionScript.completed(executing=2))
    async with dune.watch_executions(["01NOSUCHEXECUTION", good]) as watcher:
        with pytest.raises(NotFoundError):
            async for _ in watcher.as_completed():
                pass
        final = [s.execution_id async for s in watcher.as_completed()]  # the others go on
    assert final == [good]


async def test_progress_and_summary_describe_each_item(dune: DuneClient, fake: FakeDune) -> None:
    fake.queue_scripts(
        ExecutionScript(pending_seconds=5, executing_seconds=5, queue_position=3),
        ExecutionScript.completed(executing=2),
    )
    queued, quick = [(await dune.execute_query(1)).execution_id for _ in range(2)]
    seen: list[ItemProgress] = []
    async with dune.watch_executions([queued, quick], on_progress=seen.append) as watcher:
        await anyio.sleep(1.5)
        progress = watcher.progress(queued)
        assert progress.phase == "pending"
        assert progress.queue_position is not None
        assert progress.queue_position >= 2
        assert progress.elapsed == pytest.approx(1.5)
        summary = watcher.summary()
        assert (summary.pending, summary.executing, summary.done, summary.total) == (1, 1, 0, 2)
        await watcher.wait()
        summary = watcher.summary()
        assert (summary.pending, summary.executing, summary.done) == (0, 0, 2)
        assert summary.requests == status_requests(fake)
        assert watcher.progress(quick).phase == "done"
    assert {p.key for p in seen} == {queued, quick}
    assert seen[-1].phase == "done"


async def test_watchers_on_asyncio_and_trio_leave_no_scheduler_running(fake: FakeDune) -> None:
    async with client_for(fake) as dune:
        [execution_id] = await submit(dune, fake, ExecutionScript.completed(executing=3))
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(dune.wait_for_execution, execution_id)
        # Five sessions took turns running one scheduler; none is left.
        assert dune.scheduler.watched == 0
        assert status_requests(fake) == 3
