"""What the scheduler watches: a source of statuses, and Dune's two sources.

The scheduler knows nothing of Dune. A ``StatusSource`` fetches the statuses of a batch of keys
and describes each status (its state, whether it is terminal, its progress); anything with that
shape can be watched, e.g. the generic execution API of ``_generic.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

import msgspec

from .._models import ExecutionState, ExecutionStatus, PipelineStatus

if TYPE_CHECKING:
    from .._client import DuneClient

__all__ = [
    "DuneExecutionSource",
    "DunePipelineSource",
    "Phase",
    "Progress",
    "StatusSource",
]

S = TypeVar("S")
S_co = TypeVar("S_co", covariant=True)

Phase = Literal["pending", "executing", "done"]
"""Where an item is in its life: queued, running, or terminal (never polled again)."""


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    """What one status says about an item's progress.

    Attributes:
        state: The source's own state word (e.g. ``QUERY_STATE_EXECUTING``, ``running``).
        phase: ``pending``, ``executing`` or ``done``.
        queue_position: Position in the queue while pending, when known.
        percent: Progress in percent, when the source reports it.
        step: What the item is doing now, when the source says.
    """

    state: str
    phase: Phase
    queue_position: int | None = None
    percent: float | None = None
    step: str | None = None


class StatusSource(Protocol[S]):
    """Something whose items can be polled: Dune executions, pipelines, any execution API.

    Attributes:
        max_batch: Most keys one ``fetch`` takes (one request each way: 1 for Dune).
    """

    max_batch: int

    async def fetch(self, keys: Sequence[str]) -> Mapping[str, S]:
        """Fetch the current status of each key, with one request per call.

        A key missing from the answer counts as a failed poll and is tried again later.
        """
        ...

    def describe(self, status: S) -> Progress:
        """Say what a status means: its state, phase (``done`` is terminal) and progress."""
        ...

    async def cancel(self, key: str) -> None:
        """Ask the remote side to stop the item (for ``cancel_on_exit``)."""
        ...


_PHASES: dict[str, Phase] = {
    ExecutionState.PENDING.value: "pending",
    ExecutionState.EXECUTING.value: "executing",
}


class DuneExecutionSource:
    """Dune executions, one status request per key (``GET /execution/{id}/status``)."""

    max_batch = 1

    def __init__(self, client: DuneClient) -> None:
        self._client = client

    async def fetch(self, keys: Sequence[str]) -> Mapping[str, ExecutionStatus]:
        """Fetch the status of each execution (in practice, one)."""
        found: dict[str, ExecutionStatus] = {}
        for key in keys:
            found[key] = await self._client.get_execution_status(key, background=True)
        return found

    def describe(self, status: ExecutionStatus) -> Progress:
        """Describe an execution status; the server's ``is_execution_finished`` decides."""
        state = status.state or ""
        phase: Phase = "done" if status.is_finished else _PHASES.get(state, "executing")
        return Progress(state=state, phase=phase, queue_position=status.queue_position)

    async def cancel(self, key: str) -> None:
        """Cancel the execution."""
        await self._client.cancel_execution(key)


class DunePipelineSource:
    """Dune pipeline executions: one request reports the pipeline and every node in it."""

    max_batch = 1

    def __init__(self, client: DuneClient) -> None:
        self._client = client

    async def fetch(self, keys: Sequence[str]) -> Mapping[str, PipelineStatus]:
        """Fetch the status of each pipeline execution (in practice, one)."""
        found: dict[str, PipelineStatus] = {}
        for key in keys:
            found[key] = await self._client.get_pipeline_status(key, background=True)
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

    async def cancel(self, key: str) -> None:
        """Cancel every unfinished node's execution (Dune has no pipeline cancel call)."""
        status = await self._client.get_pipeline_status(key)
        for node in status.node_executions:
            if not node.is_finished and node.execution_id:
                await self._client.cancel_execution(node.execution_id)
