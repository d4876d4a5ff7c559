"""What the scheduler watches: a source of statuses, described in the engine's own words.

The scheduler knows nothing of Dune. A ``StatusSource`` fetches the statuses of a batch of keys,
describes each status (its state, whether it is terminal, its progress) and says which failed
polls may succeed later; anything with that shape can be watched: Dune's executions and
pipelines (``duneasync._dune``), or another execution API (``duneasync.extend``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol, TypeVar

import msgspec

from .._gate import SlotClaim

__all__ = ["Phase", "Progress", "StatusSource"]

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

    async def fetch(self, keys: Sequence[str], *, claim: SlotClaim | None) -> Mapping[str, S]:
        """Fetch the current status of each key, with one request per call.

        The request must not be retried here: a failed poll is the scheduler's to repeat, at
        the interval its policy sets. A key missing from the answer counts as a failed poll.

        Args:
            keys: The ids to poll (at most ``max_batch``).
            claim: The rate-budget slot the scheduler took for this request, to be spent by it
                (hand it to the request core or the gate); None without a budget.
        """
        ...

    def is_transient(self, error: Exception) -> bool:
        """Say whether a poll that raised ``error`` may succeed if sent again later.

        True keeps the item watched (polled again, with a longer interval); False ends its
        watch with the error.
        """
        ...

    def server_wait(self, error: Exception) -> float:
        """Return the seconds the server asked to wait after ``error`` (``Retry-After``), or 0.

        The next poll of the item comes no sooner (within a bound the scheduler sets).
        """
        ...

    def describe(self, status: S) -> Progress:
        """Say what a status means: its state, phase (``done`` is terminal) and progress."""
        ...

    async def cancel(self, key: str) -> None:
        """Ask the remote side to stop the item (for ``cancel_on_exit``)."""
        ...
