"""Dune's two status sources for the watch engine: executions, and pipeline executions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .._executions import Executions
from .._gate import SlotClaim
from .._models import ExecutionStatus, PipelineStatus
from .._retry import is_retryable, server_wait
from .._states import ExecutionState
from .._watch import Phase, Progress

__all__ = ["DuneExecutionSource", "DunePipelineSource"]

_PHASES: dict[str, Phase] = {
    ExecutionState.PENDING.value: "pending",
    ExecutionState.EXECUTING.value: "executing",
}


def _transient(error: Exception) -> bool:
    # The request core's own rule for a GET: what it would have retried, the scheduler re-polls
    # (429, 5xx, no answer, a body cut short); a 404 or a body that does not fit ends the watch.
    return is_retryable(error, idempotent=True)


class DuneExecutionSource:
    """Dune executions, one status request per key (``GET /execution/{id}/status``)."""

    max_batch = 1

    def __init__(self, executions: Executions) -> None:
        self._executions = executions

    def __repr__(self) -> str:
        return "DuneExecutionSource()"

    async def fetch(
        self, keys: Sequence[str], *, claim: SlotClaim | None
    ) -> Mapping[str, ExecutionStatus]:
        """Fetch the status of each execution (in practice, one), spending ``claim``."""
        found: dict[str, ExecutionStatus] = {}
        for key in keys:
            found[key] = await self._executions.poll(key, claim)
            claim = None
        return found

    def describe(self, status: ExecutionStatus) -> Progress:
        """Describe an execution status; the server's ``is_execution_finished`` decides."""
        state = status.state or ""
        phase: Phase = "done" if status.is_finished else _PHASES.get(state, "executing")
        return Progress(state=state, phase=phase, queue_position=status.queue_position)

    def is_transient(self, error: Exception) -> bool:
        """Say whether a failed poll may succeed later (see the request core's retry rule)."""
        return _transient(error)

    def server_wait(self, error: Exception) -> float:
        """Return the ``Retry-After`` of a 429, 0 for any other failure."""
        return server_wait(error)

    async def cancel(self, key: str) -> None:
        """Cancel the execution."""
        await self._executions.cancel(key)


class DunePipelineSource:
    """Dune pipeline executions: one request reports the pipeline and every node in it."""

    max_batch = 1

    def __init__(self, executions: Executions) -> None:
        self._executions = executions

    def __repr__(self) -> str:
        return "DunePipelineSource()"

    async def fetch(
        self, keys: Sequence[str], *, claim: SlotClaim | None
    ) -> Mapping[str, PipelineStatus]:
        """Fetch the status of each pipeline execution (in practice, one), spending ``claim``."""
        found: dict[str, PipelineStatus] = {}
        for key in keys:
            found[key] = await self._executions.poll_pipeline(key, claim)
            claim = None
        return found

    def describe(self, status: PipelineStatus) -> Progress:
        """Describe a pipeline: done when it says so, with the share of nodes finished."""
        nodes = status.node_executions
        finished = sum(1 for node in nodes if node.is_finished)
        word = (status.status or "").lower()
        phase: Phase = (
            "done" if status.is_finished else ("pending" if word == "pending" else "executing")
        )
        percent = 100.0 * finished / len(nodes) if nodes else None
        running = [str(node.id) for node in nodes if not node.is_finished and node.status]
        step = f"nodes running: {', '.join(running)}" if running and phase != "done" else None
        return Progress(state=status.status or "", phase=phase, percent=percent, step=step)

    def is_transient(self, error: Exception) -> bool:
        """Say whether a failed poll may succeed later (see the request core's retry rule)."""
        return _transient(error)

    def server_wait(self, error: Exception) -> float:
        """Return the ``Retry-After`` of a 429, 0 for any other failure."""
        return server_wait(error)

    async def cancel(self, key: str) -> None:
        """Cancel every unfinished node's execution (Dune has no pipeline cancel call)."""
        status = await self._executions.pipeline_status(key)
        for node in status.node_executions:
            if not node.is_finished and node.execution_id:
                await self._executions.cancel(node.execution_id)
