"""Execution states: the constants Dune documents, and one name for each state.

Kept apart from the models so that the error tree can map states without importing them.
"""

from __future__ import annotations

import enum

__all__ = ["TERMINAL_STATES", "ExecutionState", "canonical_state"]


class ExecutionState(str, enum.Enum):
    """The execution states Dune documents.

    ``ExecutionStatus.state`` stays a plain string so that a state added later still decodes;
    compare it with these constants (``status.state == ExecutionState.COMPLETED``).
    """

    PENDING = "QUERY_STATE_PENDING"
    EXECUTING = "QUERY_STATE_EXECUTING"
    COMPLETED = "QUERY_STATE_COMPLETED"
    COMPLETED_PARTIAL = "QUERY_STATE_COMPLETED_PARTIAL"
    FAILED = "QUERY_STATE_FAILED"
    CANCELLED = "QUERY_STATE_CANCELLED"
    EXPIRED = "QUERY_STATE_EXPIRED"

    def __str__(self) -> str:
        return self.value

    @property
    def is_terminal(self) -> bool:
        """Whether an execution in this state will not change any more."""
        return self not in (ExecutionState.PENDING, ExecutionState.EXECUTING)


TERMINAL_STATES = frozenset(s.value for s in ExecutionState if s.is_terminal)


_WORDS = {state.value.removeprefix("QUERY_STATE_"): state.value for state in ExecutionState}
_WORDS["RUNNING"] = ExecutionState.EXECUTING.value


def canonical_state(state: str | None) -> str | None:
    """Name a state the way an execution does.

    A pipeline node's ``completed`` and an execution's ``QUERY_STATE_COMPLETED`` are one state;
    a word this release does not know is kept as sent.
    """
    if state is None:
        return None
    return _WORDS.get(state.strip().upper().removeprefix("QUERY_STATE_"), state)
