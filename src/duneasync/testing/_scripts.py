"""What an execution will do: how long it queues, how long it runs, and how it ends."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from duneasync.testing._tables import Table

__all__ = [
    "CANCELLED",
    "COMPLETED",
    "COMPLETED_PARTIAL",
    "EXECUTING",
    "EXPIRED",
    "FAILED",
    "PENDING",
    "TERMINAL_STATES",
    "ExecutionError",
    "ExecutionScript",
    "ScriptSource",
    "TableSource",
    "random_script",
]

PENDING = "QUERY_STATE_PENDING"
"""Queued, waiting for an execution slot."""
EXECUTING = "QUERY_STATE_EXECUTING"
"""Running against the database."""
COMPLETED = "QUERY_STATE_COMPLETED"
"""Finished, with results."""
COMPLETED_PARTIAL = "QUERY_STATE_COMPLETED_PARTIAL"
"""Finished, with results truncated at the storage cap."""
FAILED = "QUERY_STATE_FAILED"
"""Finished with an error."""
CANCELLED = "QUERY_STATE_CANCELLED"
"""Cancelled before it finished."""
EXPIRED = "QUERY_STATE_EXPIRED"
"""Finished, but its results are no longer stored."""
TERMINAL_STATES = frozenset({COMPLETED, COMPLETED_PARTIAL, FAILED, CANCELLED, EXPIRED})

_NINETY_DAYS = 90 * 86_400.0


@dataclass(frozen=True)
class ExecutionError:
    """The error a failed execution reports, as Dune's `error` object.

    Attributes:
        message: The human-readable message.
        type: Dune's error type string.
        line: The line of a syntax error, if any.
        column: The column of a syntax error, if any.
    """

    message: str = "Error: Line 1:1: mismatched input 'selecdt'"
    type: str = "FAILED_TYPE_EXECUTION_FAILED"
    line: int | None = None
    column: int | None = None

    def to_json(self) -> dict[str, object]:
        """Return the wire form, with `metadata` only when a position is known."""
        body: dict[str, object] = {"type": self.type, "message": self.message}
        if self.line is not None or self.column is not None:
            body["metadata"] = {"line": self.line or 0, "column": self.column or 0}
        return body


@dataclass(frozen=True)
class ExecutionScript:
    """The life an execution will lead, measured on the fake's clock from its submission.

    The execution is `QUERY_STATE_PENDING` for `pending_seconds` (its `queue_position` counting
    down from `queue_position` to 1), then `QUERY_STATE_EXECUTING` for `executing_seconds`, then
    `final_state` for good, unless a cancel request ends it first.

    Attributes:
        pending_seconds: Time spent queued.
        executing_seconds: Time spent running.
        final_state: One of the terminal `QUERY_STATE_*` strings. `QUERY_STATE_EXPIRED` means
            the execution completes and its results expire at once.
        error: For `QUERY_STATE_FAILED`, the error to report (a default one if omitted).
        queue_position: The queue position reported on submission.
        results_ttl_seconds: How long completed results live before the state turns
            `QUERY_STATE_EXPIRED` (Dune keeps them about 90 days).
        partial_rows: For `QUERY_STATE_COMPLETED_PARTIAL`, how many rows of the table were
            stored; `None` keeps them all.
        cost_credits: The `execution_cost_credits` reported once finished.
    """

    pending_seconds: float = 0.0
    executing_seconds: float = 0.0
    final_state: str = COMPLETED
    error: ExecutionError | None = None
    queue_position: int = 1
    results_ttl_seconds: float = _NINETY_DAYS
    partial_rows: int | None = None
    cost_credits: float = 10.0

    def __post_init__(self) -> None:
        if self.final_state not in TERMINAL_STATES:
            raise ValueError(f"final_state must be terminal, not {self.final_state!r}")
        if min(self.pending_seconds, self.executing_seconds, self.results_ttl_seconds) < 0:
            raise ValueError("durations must not be negative")
        if self.queue_position < 1:
            raise ValueError("queue_position starts at 1")
        if self.final_state == FAILED and self.error is None:
            object.__setattr__(self, "error", ExecutionError())

    @classmethod
    def completed(cls, pending: float = 0.0, executing: float = 0.0) -> ExecutionScript:
        """Return a script that queues, runs and completes."""
        return cls(pending_seconds=pending, executing_seconds=executing)

    @classmethod
    def failed(
        cls,
        message: str = "Error: Line 1:1: mismatched input 'selecdt'",
        *,
        error_type: str = "FAILED_TYPE_EXECUTION_FAILED",
        line: int | None = None,
        column: int | None = None,
        pending: float = 0.0,
        executing: float = 0.0,
    ) -> ExecutionScript:
        """Return a script that ends in `QUERY_STATE_FAILED` with the given error."""
        error = ExecutionError(message=message, type=error_type, line=line, column=column)
        return cls(
            pending_seconds=pending, executing_seconds=executing, final_state=FAILED, error=error
        )

    @classmethod
    def ending(
        cls, final_state: str, pending: float = 0.0, executing: float = 0.0
    ) -> ExecutionScript:
        """Return a script that ends in `final_state` (e.g. cancelled or expired server-side)."""
        return cls(pending_seconds=pending, executing_seconds=executing, final_state=final_state)


ScriptSource: TypeAlias = ExecutionScript | Callable[[Mapping[str, object]], ExecutionScript]
TableSource: TypeAlias = Table | Callable[[Mapping[str, object]], Table]


def random_script(rng: random.Random) -> ExecutionScript:
    """Return a plausible completed script: lognormal queue and run times.

    Medians are 0.4 s queued and 2 s running, with the long right tail real queries show.
    """
    pending = rng.lognormvariate(math.log(0.4), 0.7)
    executing = rng.lognormvariate(math.log(2.0), 0.8)
    return ExecutionScript(
        pending_seconds=pending,
        executing_seconds=executing,
        queue_position=1 + int(pending * 4),
    )
