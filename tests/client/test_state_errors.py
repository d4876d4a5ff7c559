"""One mapping from an execution's state to its error, the same for waits, reads and pipelines.

``execution_error`` is a pure function; ``wait_for_execution``, the result reader and
``RunOutcome.exception`` all go through it, so a failed execution reads the same everywhere.
"""

from __future__ import annotations

import pytest

from duneasync import (
    ExecutionCancelledError,
    ExecutionError,
    ExecutionExpiredError,
    ExecutionFailedError,
    ExecutionState,
    ExecutionStatus,
    PartialResultError,
    QueryError,
    QuerySpec,
    ResultNotReadyError,
    RunOutcome,
)
from duneasync._errors import execution_error
from duneasync._states import canonical_state

ERRORS = [
    (ExecutionState.FAILED, ExecutionFailedError),
    (ExecutionState.CANCELLED, ExecutionCancelledError),
    (ExecutionState.EXPIRED, ExecutionExpiredError),
]


def status(state: str, **fields: object) -> ExecutionStatus:
    return ExecutionStatus(execution_id="01EX", state=state, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("state", [ExecutionState.COMPLETED, ExecutionState.COMPLETED_PARTIAL])
def test_completed_states_are_no_error(state: ExecutionState) -> None:
    assert execution_error(status(state.value)) is None


@pytest.mark.parametrize(("state", "error"), ERRORS)
def test_each_unsuccessful_state_has_its_own_error(state: ExecutionState, error: type) -> None:
    raised = execution_error(status(state.value))

    assert type(raised) is error
    assert raised.execution_id == "01EX"
    assert str(raised).startswith("execution 01EX ")


def test_a_failure_carries_the_servers_error_in_its_message() -> None:
    failed = status("QUERY_STATE_FAILED", error=QueryError(type="Syntax", message="near 'x'"))

    raised = execution_error(failed)

    assert isinstance(raised, ExecutionFailedError)
    assert str(raised) == "execution 01EX failed: Syntax: near 'x'"
    assert raised.error is failed.error


def test_a_partial_result_is_an_error_only_where_partial_results_were_not_asked_for() -> None:
    partial = status("QUERY_STATE_COMPLETED_PARTIAL")

    assert execution_error(partial, allow_partial=True) is None
    assert isinstance(execution_error(partial, allow_partial=False), PartialResultError)


def test_an_unfinished_execution_has_no_result_yet() -> None:
    raised = execution_error(status("QUERY_STATE_EXECUTING"), allow_partial=False)

    assert isinstance(raised, ResultNotReadyError)
    assert "wait for it" in str(raised)


def test_a_terminal_state_this_release_does_not_know_is_read_when_it_has_rows() -> None:
    unknown = status("QUERY_STATE_ARCHIVED", is_execution_finished=True)

    assert execution_error(unknown, has_result=True) is None
    raised = execution_error(unknown)
    assert type(raised) is ExecutionError
    assert "QUERY_STATE_ARCHIVED" in str(raised)


def test_the_message_names_the_result_as_the_caller_does() -> None:
    raised = execution_error(status("QUERY_STATE_CANCELLED"), what="the latest result of query 7")

    assert str(raised) == "the latest result of query 7 was cancelled"


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("completed", "QUERY_STATE_COMPLETED"),
        ("FAILED", "QUERY_STATE_FAILED"),
        ("cancelled", "QUERY_STATE_CANCELLED"),
        ("expired", "QUERY_STATE_EXPIRED"),
        ("pending", "QUERY_STATE_PENDING"),
        ("running", "QUERY_STATE_EXECUTING"),
        ("QUERY_STATE_COMPLETED_PARTIAL", "QUERY_STATE_COMPLETED_PARTIAL"),
        ("skipped", "skipped"),
        (None, None),
    ],
)
def test_pipeline_node_words_name_the_same_states_as_executions(
    word: str | None, state: str | None
) -> None:
    assert canonical_state(word) == state


@pytest.mark.parametrize(("state", "error"), ERRORS)
def test_a_run_outcome_raises_what_a_wait_would_raise(state: ExecutionState, error: type) -> None:
    outcome = RunOutcome(
        index=2, query=QuerySpec(query_id=9), execution_id="01EX", state=state.value, error="boom"
    )

    raised = outcome.exception()

    assert type(raised) is error
    assert raised.execution_id == "01EX"
    assert str(raised).startswith("query 9 (#2) ")


def test_a_completed_run_outcome_has_no_exception() -> None:
    outcome = RunOutcome(index=0, query=QuerySpec(query_id=9), state="QUERY_STATE_COMPLETED")

    assert outcome.ok
    assert outcome.exception() is None
