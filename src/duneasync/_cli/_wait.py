"""Following one execution to its end, showing each state it passes through."""

from __future__ import annotations

from .._client import DuneClient
from .._errors import (
    ExecutionCancelledError,
    ExecutionError,
    ExecutionExpiredError,
    ExecutionFailedError,
    PartialResultError,
    WaitTimeoutError,
)
from .._models import ExecutionState, ExecutionStatus
from ._display import Board, Display, short_state
from ._exits import CLIError, ExitCode
from ._runtime import Tracker

__all__ = ["describe_status", "final_error", "follow", "require_result"]


def describe_status(status: ExecutionStatus) -> str:
    """Say where an execution is, in a few words: state, queue position, rows or error."""
    text = short_state(status.state)
    if status.queue_position is not None and status.state == ExecutionState.PENDING:
        text += f" (queue position {status.queue_position})"
    metadata = status.result_metadata
    if metadata is not None and metadata.total_row_count is not None and status.is_finished:
        text += f", {metadata.total_row_count:,} rows"
    if status.error is not None:
        text += f": {status.error}"
    return text


def final_error(status: ExecutionStatus, *, allow_partial: bool) -> ExecutionError | None:
    """Return the error a terminal status stands for, or None when its result is usable."""
    state = status.state
    name = f"execution {status.execution_id}"
    if state == ExecutionState.FAILED:
        return ExecutionFailedError(f"{name} failed: {status.error}", status=status)
    if state == ExecutionState.CANCELLED:
        return ExecutionCancelledError(f"{name} was cancelled", status=status)
    if state == ExecutionState.EXPIRED:
        return ExecutionExpiredError(f"{name} has expired: its result is gone", status=status)
    if state == ExecutionState.COMPLETED_PARTIAL and not allow_partial:
        return PartialResultError(f"{name} completed with a truncated result", status=status)
    if state != ExecutionState.COMPLETED and state != ExecutionState.COMPLETED_PARTIAL:
        return ExecutionError(f"{name} ended in state {state}", status=status)
    return None


def require_result(status: ExecutionStatus, *, allow_partial: bool) -> int | None:
    """Check that a status has a usable result and return its row count, when known.

    Raises:
        CLIError: The execution has not finished (exit code 1).
        ExecutionError: It failed, was cancelled, expired, or is partial and not allowed.
    """
    if not status.is_finished:
        raise CLIError(
            f"execution {status.execution_id} is {short_state(status.state)}: no result yet"
            f" (wait for it with: duneasync watch {status.execution_id})",
            ExitCode.EXECUTION_FAILED,
        )
    error = final_error(status, allow_partial=allow_partial)
    if error is not None:
        raise error
    metadata = status.result_metadata
    return metadata.total_row_count if metadata is not None else None


async def follow(
    dune: DuneClient,
    execution_id: str,
    display: Display,
    *,
    timeout: float | None,
    tracker: Tracker,
) -> ExecutionStatus:
    """Watch an execution until it is terminal, noting each state it enters.

    The client's watcher polls: soon after the start (a short query is done in a second), then
    less and less often, within the client's rate budget.

    Raises:
        WaitTimeoutError: ``timeout`` seconds passed first (the execution keeps running).
    """
    last: ExecutionStatus | None = None
    try:
        async with dune.watch_executions([execution_id], timeout=timeout) as watcher:
            async for status in watcher.changes():
                if last is None or status.state != last.state:
                    display.note(f"{execution_id}: {describe_status(status)}")
                last = status
                display.update(
                    Board(
                        "waiting",
                        done=1 if status.is_finished else 0,
                        total=1,
                        unit="execution",
                        counts={short_state(status.state): 1},
                        plain=False,
                    )
                )
    except WaitTimeoutError as exc:
        state = short_state(last.state) if last is not None else "not seen yet"
        raise WaitTimeoutError(
            f"execution {execution_id} still {state} after {timeout:g} s"
            " (it keeps running on Dune)",
            last_status=last,
        ) from exc
    final = watcher.status(execution_id)
    if final is None:  # pragma: no cover - a finished watch has seen its item
        raise RuntimeError(f"the watch of {execution_id} ended without a status")
    tracker.finish(execution_id)
    return final
