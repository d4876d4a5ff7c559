"""Executions follow their script on the fake's clock: pending, executing, then terminal."""

from __future__ import annotations

import re

import httpx
import pytest

from duneasync.testing import (
    CANCELLED,
    COMPLETED,
    COMPLETED_PARTIAL,
    EXECUTING,
    EXPIRED,
    FAILED,
    PENDING,
    ExecutionScript,
    FakeDune,
    ManualClock,
    Table,
)

from .conftest import execute

pytestmark = pytest.mark.anyio

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


async def status(http: httpx.AsyncClient, execution_id: str) -> dict[str, object]:
    response = await http.get(f"/api/v1/execution/{execution_id}/status")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_execution_moves_from_pending_to_executing_to_completed(
    fake: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    fake.add_query(1, Table.generated(5), script=ExecutionScript.completed(pending=2, executing=3))
    response = await http.post("/api/v1/query/1/execute", json={})
    assert response.json()["state"] == PENDING
    eid = response.json()["execution_id"]
    assert len(eid) == 26

    pending = await status(http, eid)
    assert pending["state"] == PENDING
    assert pending["is_execution_finished"] is False
    assert pending["expires_at"] == "1970-01-01T00:00:00Z"
    assert "execution_started_at" not in pending

    clock.advance(2.0)
    executing = await status(http, eid)
    assert executing["state"] == EXECUTING
    assert "queue_position" not in executing
    assert executing["execution_started_at"] == "2025-01-06T09:30:02Z"

    clock.advance(2.999)
    assert (await status(http, eid))["state"] == EXECUTING
    clock.advance(0.001)
    done = await status(http, eid)
    assert done["state"] == COMPLETED
    assert done["is_execution_finished"] is True
    assert done["execution_ended_at"] == "2025-01-06T09:30:05Z"
    assert done["expires_at"] == "2025-04-06T09:30:05Z"
    metadata = done["result_metadata"]
    assert isinstance(metadata, dict)
    assert metadata["total_row_count"] == 5
    assert metadata["datapoint_count"] == 30
    assert metadata["pending_time_millis"] == 2000
    assert metadata["execution_time_millis"] == 3000


async def test_queue_position_counts_down_while_pending(
    fake: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    script = ExecutionScript(pending_seconds=10, executing_seconds=1, queue_position=5)
    fake.add_query(1, Table.generated(1), script=script)
    eid = await execute(http, 1)
    positions = []
    for _ in range(10):
        positions.append((await status(http, eid))["queue_position"])
        clock.advance(1.0)
    assert positions == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert (await status(http, eid))["state"] == EXECUTING


async def test_timestamps_have_nanosecond_fractions_without_trailing_zeros(
    fake: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    fake.add_query(1, Table.generated(1), script=ExecutionScript.completed(executing=0.123456789))
    clock.advance(0.5)
    eid = await execute(http, 1)
    clock.advance(1.0)
    body = await status(http, eid)
    assert body["submitted_at"] == "2025-01-06T09:30:00.5Z"
    assert body["execution_ended_at"] == "2025-01-06T09:30:00.623456789Z"
    for key in ("submitted_at", "execution_started_at", "execution_ended_at", "expires_at"):
        assert RFC3339.match(str(body[key])), body[key]


async def test_failed_execution_reports_its_error_with_position(
    fake: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    script = ExecutionScript.failed("line 3: no such column", line=3, column=7, executing=1)
    fake.add_query(1, Table.generated(1), script=script)
    eid = await execute(http, 1)
    clock.advance(1)
    body = await status(http, eid)
    assert body["state"] == FAILED
    assert body["is_execution_finished"] is True
    assert body["error"] == {
        "type": "FAILED_TYPE_EXECUTION_FAILED",
        "message": "line 3: no such column",
        "metadata": {"line": 3, "column": 7},
    }
    assert "result_metadata" not in body
    results = (await http.get(f"/api/v1/execution/{eid}/results")).json()
    assert results["state"] == FAILED
    assert "result" not in results
    assert results["error"]["message"] == "line 3: no such column"


@pytest.mark.parametrize("final", [CANCELLED, EXPIRED, COMPLETED_PARTIAL])
async def test_every_terminal_state_can_be_scripted(
    fake: FakeDune, clock: ManualClock, http: httpx.AsyncClient, final: str
) -> None:
    fake.add_query(1, Table.generated(3), script=ExecutionScript.ending(final, executing=4))
    eid = await execute(http, 1)
    clock.advance(4)
    body = await status(http, eid)
    assert body["state"] == final
    assert body["is_execution_finished"] is True
    assert ("cancelled_at" in body) == (final == CANCELLED)


async def test_completed_results_expire_after_their_ttl(
    fake: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    fake.add_query(1, Table.generated(3), script=ExecutionScript(results_ttl_seconds=100))
    eid = await execute(http, 1)
    clock.advance(99.9)
    assert (await status(http, eid))["state"] == COMPLETED
    clock.advance(0.1)
    assert (await status(http, eid))["state"] == EXPIRED
    results = (await http.get(f"/api/v1/execution/{eid}/results")).json()
    assert results["state"] == EXPIRED
    assert "result" not in results


async def test_cancel_stops_a_running_execution_and_only_once(
    fake: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    fake.add_query(1, Table.generated(1), script=ExecutionScript.completed(pending=1, executing=9))
    eid = await execute(http, 1)
    clock.advance(2.25)
    first = await http.post(f"/api/v1/execution/{eid}/cancel")
    assert first.json() == {"success": True}
    clock.advance(100)
    body = await status(http, eid)
    assert body["state"] == CANCELLED
    assert body["cancelled_at"] == "2025-01-06T09:30:02.25Z"
    assert body["execution_ended_at"] == body["cancelled_at"]
    again = await http.post(f"/api/v1/execution/{eid}/cancel")
    assert again.json() == {"success": False}
    truth = fake.execution(eid)
    assert (truth.state, truth.ended_at, truth.cancelled_at) == (CANCELLED, 2.25, 2.25)


async def test_cancel_of_a_finished_execution_fails_and_of_an_unknown_one_is_404(
    fake: FakeDune, http: httpx.AsyncClient
) -> None:
    fake.add_query(1, Table.generated(1), script=ExecutionScript.completed())
    eid = await execute(http, 1)
    assert (await http.post(f"/api/v1/execution/{eid}/cancel")).json() == {"success": False}
    missing = await http.post("/api/v1/execution/01NOPE/cancel")
    assert missing.status_code == 404
    assert "error" in missing.json()


async def test_execution_truth_reports_server_side_end_on_the_fake_clock(
    fake: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    fake.add_query(1, Table.generated(1), script=ExecutionScript.completed(pending=1, executing=2))
    clock.advance(10)
    eid = await execute(http, 1)
    truth = fake.execution(eid)
    assert (truth.state, truth.submitted_at, truth.started_at, truth.ended_at) == (
        PENDING,
        10,
        None,
        None,
    )
    clock.advance(5)
    truth = fake.execution(eid)
    assert (truth.state, truth.started_at, truth.ended_at) == (COMPLETED, 11, 13)
    assert fake.execution_ids() == [eid]


async def test_scripts_come_from_queue_then_query_then_parameters(
    fake: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    def by_parameter(parameters: object) -> ExecutionScript:
        assert isinstance(parameters, dict)
        return ExecutionScript.failed() if parameters.get("fail") else ExecutionScript.completed()

    fake.add_query(1, Table.generated(1), script=by_parameter)
    fake.queue_scripts(ExecutionScript.ending(CANCELLED))
    queued = await execute(http, 1)
    failing = await execute(http, 1, query_parameters={"fail": True})
    passing = await execute(http, 1, query_parameters={"fail": False})
    assert [fake.execution(e).state for e in (queued, failing, passing)] == [
        CANCELLED,
        FAILED,
        COMPLETED,
    ]


async def test_query_parameters_and_performance_are_read_from_the_query_string_too(
    fake: FakeDune, http: httpx.AsyncClient
) -> None:
    seen: list[object] = []

    def table(parameters: object) -> Table:
        seen.append(parameters)
        return Table.generated(1)

    fake.add_query(1, table, script=ExecutionScript.completed())
    response = await http.post(
        "/api/v1/query/1/execute",
        params={"query_parameters": '{"n": 3}', "performance": "large"},
    )
    assert response.status_code == 200
    assert seen == [{"n": 3}]
    bad = await http.post("/api/v1/query/1/execute", params={"performance": "huge"})
    assert bad.status_code == 400
    bad_json = await http.post("/api/v1/query/1/execute", params={"query_parameters": "{"})
    assert bad_json.status_code == 400


async def test_default_scripts_are_random_but_fixed_by_the_seed() -> None:
    async def durations(seed: int) -> list[float]:
        clock = ManualClock()
        fake = FakeDune(clock=clock, seed=seed, auto_queries=True)
        transport = fake.transport()
        async with httpx.AsyncClient(transport=transport, base_url="https://api.dune.com") as c:
            c.headers["X-Dune-Api-Key"] = fake.api_key
            ids = [await execute(c, 7) for _ in range(5)]
        clock.advance(10_000)
        ends = [fake.execution(e) for e in ids]
        return [t.ended_at - t.submitted_at for t in ends if t.ended_at is not None]

    first, again, other = await durations(1), await durations(1), await durations(2)
    assert first == again
    assert first != other
    assert len(set(first)) == 5
    assert all(0.05 < d < 60 for d in first)


async def test_unknown_query_is_404_unless_auto_queries(clock: ManualClock) -> None:
    for auto, expected in ((False, 404), (True, 200)):
        fake = FakeDune(clock=clock, auto_queries=auto)
        async with httpx.AsyncClient(
            transport=fake.transport(),
            base_url="https://api.dune.com",
            headers={"X-Dune-Api-Key": fake.api_key},
        ) as c:
            response = await c.post("/api/v1/query/424242/execute", json={})
            assert response.status_code == expected
            if auto:
                clock.advance(1e6)
                eid = response.json()["execution_id"]
                meta = (await c.get(f"/api/v1/execution/{eid}/status")).json()["result_metadata"]
                assert meta["total_row_count"] == 10 + (424242 * 7919) % 991
            else:
                assert response.json() == {"error": "Query not found"}


async def test_raw_sql_runs_registered_text_and_fails_unregistered_text(
    fake: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    fake.add_sql("select  1\n as x", Table.generated(2), script=ExecutionScript.completed())
    ok = await http.post(
        "/api/v1/sql/execute", json={"sql": "select 1 as x", "performance": "medium"}
    )
    unknown = await http.post("/api/v1/sql/execute", json={"sql": "select 2"})
    assert ok.status_code == unknown.status_code == 200
    clock.advance(1e6)
    assert fake.execution(ok.json()["execution_id"]).state == COMPLETED
    failed = await status(http, unknown.json()["execution_id"])
    assert failed["state"] == FAILED
    assert "not registered" in str(failed["error"])
    assert "query_id" not in failed
    empty = await http.post("/api/v1/sql/execute", json={"performance": "medium"})
    assert empty.status_code == 400


async def test_inflight_limit_is_reported_while_reached_and_freed_by_ends_and_cancels(
    fake: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    # The default fake allows 3 interactive executions in flight, as small plans do.
    fake.add_query(1, Table.generated(1), script=ExecutionScript.completed(executing=10))
    fake.add_query(2, Table.generated(1), script=ExecutionScript.completed(executing=20))
    short = [await execute(http, 1) for _ in range(2)]
    long = await execute(http, 2)

    body = await status(http, long)
    assert body["max_inflight_interactive_executions"] == 3
    assert body["max_inflight_interactive_reached"] == 3

    clock.advance(10)  # the two short ones end
    assert "max_inflight_interactive_reached" not in await status(http, long)

    again = [await execute(http, 1) for _ in range(2)]
    assert (await status(http, long))["max_inflight_interactive_reached"] == 3
    await http.post(f"/api/v1/execution/{again[0]}/cancel")
    assert "max_inflight_interactive_reached" not in await status(http, long)
    assert short != again
