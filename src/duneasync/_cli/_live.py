"""The live board of many executions and pipelines: counts by state, requests, rate budget."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import anyio

from .._client import DuneClient
from .._dune import PipelineWatch
from .._models import ExecutionStatus
from .._watch import Watch
from ._display import Board, Display, short_state
from ._runtime import RequestCounter

__all__ = ["LiveBoard", "budget_line", "state_counts"]

# Counts are shown in this order; states this release does not know come after them.
_ORDER = (
    "PENDING",
    "EXECUTING",
    "COMPLETED",
    "COMPLETED_PARTIAL",
    "FAILED",
    "CANCELLED",
    "EXPIRED",
)
_REFRESH = 0.1


def state_counts(watch: Watch[ExecutionStatus], ids: Sequence[str]) -> dict[str, int]:
    """Count the watched executions by their latest state (PENDING before the first answer)."""
    found = Counter(
        short_state(status.state) if (status := watch.status(eid)) is not None else "PENDING"
        for eid in ids
    )
    ordered = {name: found.pop(name) for name in _ORDER if name in found}
    ordered.update(sorted(found.items()))
    return ordered


def budget_line(dune: DuneClient, counter: RequestCounter) -> str:
    """Say what was spent: requests, each rate window's use against its quota, and 429s."""
    parts = [f"{counter.requests:,} requests"]
    info = dune.rate_limits
    if info is not None:
        for name in ("read", "write"):
            policy = info.policies.get(name)
            state = info.states.get(name)
            if policy is None or state is None or policy.quota is None:
                continue
            if state.remaining is None:
                continue
            window = f"{policy.window:g} s" if policy.window is not None else "window"
            used = policy.quota - state.remaining
            parts.append(f"{name} {used:,}/{policy.quota:,} per {window}")
    parts.append(f"{counter.rate_limited:,} rate-limited (429)")
    return ", ".join(parts)


def pipeline_counts(pipelines: Sequence[PipelineWatch]) -> tuple[int, int]:
    """Return (nodes finished, nodes known) over every watched pipeline."""
    done = total = 0
    for pipeline in pipelines:
        status = pipeline.status()
        if status is None:
            continue
        total += len(status.node_executions)
        done += sum(node.is_finished for node in status.node_executions)
    return done, total


class LiveBoard:
    """Redraws the board of a watch until stopped.

    Args:
        dune: The client (for the rate-limit headers).
        counter: The request counter.
        display: Where the board goes.
        title: The board's title.
    """

    def __init__(
        self, dune: DuneClient, counter: RequestCounter, display: Display, title: str
    ) -> None:
        self._dune = dune
        self._counter = counter
        self._display = display
        self._title = title
        self.watch: Watch[ExecutionStatus] | None = None
        self.ids: list[str] = []
        self.pipelines: list[PipelineWatch] = []
        self.total: int | None = None

    def board(self) -> Board:
        """Return the board as it stands."""
        counts: dict[str, int] = {}
        done = 0
        if self.watch is not None:
            counts = state_counts(self.watch, self.ids)
            done = self.watch.summary().done
        extra = budget_line(self._dune, self._counter)
        if self.pipelines:
            nodes_done, nodes = pipeline_counts(self.pipelines)
            seen = f"{nodes_done}/{nodes} nodes" if nodes else "not seen yet"
            extra = f"pipeline {seen}, " + extra
        total = self.total if self.total is not None else len(self.ids)
        return Board(
            self._title, done=done, total=total, unit="executions", counts=counts, extra=extra
        )

    def refresh(self) -> None:
        """Show the board now, in plain mode too."""
        self._display.update(self.board())
        self._display.flush()

    async def run(self) -> None:
        """Redraw every tenth of a second until cancelled."""
        while True:
            self._display.update(self.board())
            await anyio.sleep(_REFRESH)
