"""One execution's server-side truth, computed lazily from the clock, and its status bodies."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from duneasync.testing._clock import ZERO_TIME, WallTime
from duneasync.testing._scripts import (
    CANCELLED,
    COMPLETED,
    COMPLETED_PARTIAL,
    EXECUTING,
    EXPIRED,
    PENDING,
    TERMINAL_STATES,
    ExecutionScript,
)
from duneasync.testing._tables import Table

__all__ = ["Execution", "ExecutionTruth", "IdMaker"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class IdMaker:
    """Make ULID-shaped identifiers like Dune's (`01HKZJ2683PHF9Q9PHHQ8FW4Q1`), deterministically.

    The first ten characters encode the wall-clock millisecond, as in a real ULID, and the rest
    come from a generator seeded by the fake's seed, so a run is reproducible.
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"ids:{seed}")

    def make(self, millis: int) -> str:
        """Return a fresh identifier stamped with `millis` since the Unix epoch."""
        value = (millis & ((1 << 48) - 1)) << 80 | self._rng.getrandbits(80)
        chars: list[str] = []
        for _ in range(26):
            value, digit = divmod(value, 32)
            chars.append(_CROCKFORD[digit])
        return "".join(reversed(chars))


@dataclass(frozen=True)
class ExecutionTruth:
    """What the fake knows about an execution at one instant, on the fake's own clock.

    Benchmarks compare `ended_at` with the moment a client noticed the end to measure detection
    lag; tests use `state` to check what the server did behind a dropped connection.

    Attributes:
        execution_id: The execution's identifier.
        query_id: The query it ran, `None` for raw SQL.
        state: The `QUERY_STATE_*` string at that instant.
        submitted_at: Clock reading at submission.
        started_at: Clock reading when it started executing, or `None` if it has not.
        ended_at: Clock reading when it reached its terminal state, or `None` if it has not.
        cancelled_at: Clock reading of its cancellation, if cancelled.
    """

    execution_id: str
    query_id: int | None
    state: str
    submitted_at: float
    started_at: float | None
    ended_at: float | None
    cancelled_at: float | None


@dataclass
class Execution:
    """An execution: its script, its table and, if cancelled, when."""

    execution_id: str
    query_id: int | None
    submitted: float
    script: ExecutionScript
    table: Table
    performance: str = "medium"
    parameters: dict[str, object] = field(default_factory=dict[str, object])
    cancelled: float | None = None

    @property
    def scheduled_start(self) -> float:
        """Return when the script starts executing, ignoring cancellation."""
        return self.submitted + self.script.pending_seconds

    @property
    def scheduled_end(self) -> float:
        """Return when the script ends, ignoring cancellation."""
        return self.scheduled_start + self.script.executing_seconds

    def ended_at(self, now: float) -> float | None:
        """Return when the execution reached a terminal state, if it has by `now`."""
        if self.cancelled is not None:
            return self.cancelled
        return self.scheduled_end if now >= self.scheduled_end else None

    def started_at(self, now: float) -> float | None:
        """Return when the execution started executing, if it has by `now`."""
        start = self.scheduled_start
        if self.cancelled is not None and self.cancelled < start:
            return None
        return start if now >= start else None

    def cancelled_at(self, now: float) -> float | None:
        """Return when the execution was cancelled, by a request or by its script."""
        if self.cancelled is not None:
            return self.cancelled
        if self.script.final_state == CANCELLED and now >= self.scheduled_end:
            return self.scheduled_end
        return None

    def expires_at(self) -> float:
        """Return when the results expire (meaningful once ended)."""
        end = self.cancelled if self.cancelled is not None else self.scheduled_end
        if self.cancelled is None and self.script.final_state == EXPIRED:
            return end
        return end + self.script.results_ttl_seconds

    def state(self, now: float) -> str:
        """Return the `QUERY_STATE_*` string at clock reading `now`."""
        if self.cancelled is not None:
            return CANCELLED
        if now < self.scheduled_start:
            return PENDING
        if now < self.scheduled_end:
            return EXECUTING
        final = self.script.final_state
        if final in (COMPLETED, COMPLETED_PARTIAL, EXPIRED) and now >= self.expires_at():
            return EXPIRED
        return final

    def cancel(self, now: float) -> bool:
        """Cancel the execution if it is still running and say whether it was."""
        if self.state(now) in TERMINAL_STATES:
            return False
        self.cancelled = now
        return True

    def stored_table(self) -> Table:
        """Return the rows the server kept: all of them, or the head of a partial result."""
        if self.script.final_state == COMPLETED_PARTIAL and self.script.partial_rows is not None:
            return self.table.head(self.script.partial_rows)
        return self.table

    def truth(self, now: float) -> ExecutionTruth:
        """Return the server-side truth at `now`."""
        return ExecutionTruth(
            execution_id=self.execution_id,
            query_id=self.query_id,
            state=self.state(now),
            submitted_at=self.submitted,
            started_at=self.started_at(now),
            ended_at=self.ended_at(now),
            cancelled_at=self.cancelled_at(now),
        )

    def queue_position(self, now: float) -> int:
        """Return the queue position while pending, counting down linearly to 1."""
        pending = self.script.pending_seconds
        if pending <= 0:
            return 1
        left = (self.scheduled_start - now) / pending
        return max(1, math.ceil(self.script.queue_position * left))

    def common_fields(self, now: float, wall: WallTime) -> dict[str, object]:
        """Return the fields shared by the status and results bodies."""
        state = self.state(now)
        body: dict[str, object] = {"execution_id": self.execution_id}
        if self.query_id is not None:
            body["query_id"] = self.query_id
        body["state"] = state
        body["is_execution_finished"] = state in TERMINAL_STATES
        body["submitted_at"] = wall.format(self.submitted)
        ended = self.ended_at(now)
        body["expires_at"] = wall.format(self.expires_at()) if ended is not None else ZERO_TIME
        started = self.started_at(now)
        if started is not None:
            body["execution_started_at"] = wall.format(started)
        if ended is not None:
            body["execution_ended_at"] = wall.format(ended)
        cancelled = self.cancelled_at(now)
        if cancelled is not None:
            body["cancelled_at"] = wall.format(cancelled)
        if self.script.error is not None and state == self.script.final_state:
            body["error"] = self.script.error.to_json()
        return body

    def result_metadata(self) -> dict[str, object]:
        """Return `result_metadata` for the whole stored result."""
        table = self.stored_table()
        rows = len(table)
        header = sum(len(c.name) for c in table.columns)
        total_bytes = header + round(sum(table.column_bytes) * rows)
        return {
            "column_names": table.column_names,
            "column_types": [c.type for c in table.columns],
            "row_count": rows,
            "total_row_count": rows,
            "result_set_bytes": total_bytes,
            "total_result_set_bytes": total_bytes,
            "datapoint_count": rows * len(table.columns),
            "pending_time_millis": round(self.script.pending_seconds * 1000),
            "execution_time_millis": round(self.script.executing_seconds * 1000),
        }

    def status_body(
        self, now: float, wall: WallTime, max_inflight: int, inflight: int
    ) -> dict[str, object]:
        """Return the body of `GET /execution/{id}/status` at `now`."""
        body = self.common_fields(now, wall)
        state = body["state"]
        if state == PENDING:
            body["queue_position"] = self.queue_position(now)
        body["max_inflight_interactive_executions"] = max_inflight
        if inflight >= max_inflight:
            body["max_inflight_interactive_reached"] = inflight
        if state in TERMINAL_STATES:
            body["execution_cost_credits"] = self.script.cost_credits
        if state in (COMPLETED, COMPLETED_PARTIAL):
            body["result_metadata"] = self.result_metadata()
        return body
