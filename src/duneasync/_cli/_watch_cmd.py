"""``duneasync watch``: follow executions and pipelines until every one has finished."""

from __future__ import annotations

import dataclasses
import sys
from contextlib import AsyncExitStack

import anyio

from .._dune import PipelineWatch
from .._errors import APIError
from .._models import ExecutionState, ExecutionStatus, PipelineStatus
from .._watch import Watch
from ._commands import status_table
from ._exits import ExitCode
from ._live import LiveBoard
from ._output import render_table
from ._runtime import Session
from ._wait import describe_status

__all__ = ["watch"]

# With more executions than this, finishing ones are not noted one by one (the board counts
# them); failures always are.
_NOTE_EACH = 20
_OK_STATES = (ExecutionState.COMPLETED, ExecutionState.COMPLETED_PARTIAL)


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


@dataclasses.dataclass
class _Outcome:
    executions: dict[str, ExecutionStatus] = dataclasses.field(
        default_factory=dict[str, ExecutionStatus]
    )
    pipelines: dict[str, PipelineStatus] = dataclasses.field(
        default_factory=dict[str, PipelineStatus]
    )
    api_errors: int = 0

    def exit_code(self) -> ExitCode:
        if self.api_errors:
            return ExitCode.API_ERROR
        failed = any(status.state not in _OK_STATES for status in self.executions.values())
        failed = failed or any(
            not all(node.is_success for node in status.node_executions)
            for status in self.pipelines.values()
        )
        return ExitCode.EXECUTION_FAILED if failed else ExitCode.OK


async def watch(session: Session) -> int:
    """Watch until every execution and pipeline is terminal; print their final states.

    Exits 0 when all completed, 1 when one failed, was cancelled or expired, 3 when one could
    not be watched (e.g. an unknown id), 4 on ``--timeout``.
    """
    args = session.args
    dune = session.dune
    ids = _unique(list(args.execution_ids))
    for execution_id in ids:
        session.tracker.watch(execution_id)
    board = LiveBoard(dune, session.counter, session.display, "watching")
    board.ids = ids
    outcome = _Outcome()
    async with AsyncExitStack() as stack:
        watcher = await stack.enter_async_context(dune.watch_executions(ids, timeout=args.timeout))
        board.watch = watcher
        for pipeline_id in _unique(list(args.pipeline)):
            board.pipelines.append(
                await stack.enter_async_context(
                    dune.pipelines.watch(pipeline_id, timeout=args.timeout)
                )
            )
        async with anyio.create_task_group() as drawing:
            drawing.start_soon(board.run)
            async with anyio.create_task_group() as following:
                following.start_soon(_follow_executions, session, watcher, len(ids), outcome)
                for pipeline in board.pipelines:
                    following.start_soon(_follow_pipeline, session, pipeline, outcome)
            drawing.cancel_scope.cancel()
        board.refresh()
    _print_finals(ids, outcome)
    return outcome.exit_code()


async def _follow_executions(
    session: Session, watcher: Watch[ExecutionStatus], watched: int, outcome: _Outcome
) -> None:
    while True:
        try:
            async for final in watcher.as_completed():
                _finished(session, final, watched)
                if final.execution_id is not None:
                    outcome.executions[final.execution_id] = final
        except APIError as error:  # noqa: PERF203 - a rare failure; the loop resumes the watch
            # One bad id must not end the watch of the others: say so and go on.
            outcome.api_errors += 1
            session.display.note(f"error: {error}")
        else:
            return


def _finished(session: Session, final: ExecutionStatus, watched: int) -> None:
    if final.execution_id is not None:
        session.tracker.finish(final.execution_id)
    if watched <= _NOTE_EACH or final.state not in _OK_STATES:
        session.display.note(f"{final.execution_id}: {describe_status(final)}")


async def _follow_pipeline(session: Session, pipeline: PipelineWatch, outcome: _Outcome) -> None:
    pid = pipeline.pipeline_execution_id
    async for node in pipeline.as_completed():
        where = f" (execution {node.execution_id})" if node.execution_id else ""
        error = f": {node.error}" if node.error else ""
        session.display.note(f"pipeline {pid} node {node.id}: {node.status}{where}{error}")
    outcome.pipelines[pid] = await pipeline.wait()


def _print_finals(ids: list[str], outcome: _Outcome) -> None:
    if ids:
        known = [outcome.executions[eid] for eid in ids if eid in outcome.executions]
        sys.stdout.write(status_table(known))
    for pid, status in outcome.pipelines.items():
        rows = [
            [
                str(node.id),
                node.kind,
                node.status or "",
                node.execution_id or "",
                node.error or "",
            ]
            for node in status.node_executions
        ]
        sys.stdout.write(f"pipeline {pid}: {status.status}\n")
        sys.stdout.write(
            render_table(
                ("node", "kind", "status", "execution_id", "error"), rows, rich=sys.stdout.isatty()
            )
        )
    sys.stdout.flush()
