"""The scheduler watches a generic execution API (status running/completed/failed/cancelled)."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from duneasync import ItemProgress, NotFoundError, PollPolicy, RateBudget
from duneasync.extend import GenericExecutionSource, GenericExecutionStatus, watch

pytestmark = pytest.mark.anyio

KEY = "sk_test_generic"


class GenericFake:
    """A tiny server of the generic API: each execution runs for a set time, then ends."""

    def __init__(self, runs: dict[str, tuple[float, str]]) -> None:
        self.start = anyio.current_time()
        self.runs = runs
        self.requests: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        if request.headers.get("X-API-Key") != KEY:
            return httpx.Response(401, json={"error": {"code": "unauthorized", "message": "no"}})
        parts = request.url.path.split("/")
        execution_id = parts[4]
        if execution_id not in self.runs:
            return httpx.Response(
                404, json={"error": {"code": "not_found", "message": "Execution not found"}}
            )
        seconds, final = self.runs[execution_id]
        if parts[5] == "cancel":
            self.runs[execution_id] = (0.0, "cancelled")
            return httpx.Response(200, json={"execution_id": execution_id, "status": "cancelled"})
        elapsed = anyio.current_time() - self.start
        body: dict[str, object] = {"execution_id": execution_id}
        if elapsed < seconds:
            body |= {
                "status": "running",
                "progress": int(100 * elapsed / seconds),
                "current_step": "Analyzing data",
            }
        elif final == "failed":
            body |= {
                "status": "failed",
                "error": {"code": "execution_error", "message": "Task execution failed"},
            }
        else:
            body |= {"status": final, "progress": 100, "result": "done"}
        return httpx.Response(200, content=json.dumps(body).encode())


def source_for(fake: GenericFake, budget: RateBudget | None = None) -> GenericExecutionSource:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))
    return GenericExecutionSource(
        base_url="https://api.example.com", api_key=KEY, http=http, gate=budget
    )


async def test_generic_executions_are_watched_to_their_end_with_progress() -> None:
    fake = GenericFake(
        {"exec_a": (10.0, "completed"), "exec_b": (4.0, "failed"), "exec_c": (6.0, "cancelled")}
    )
    seen: list[ItemProgress] = []
    policy = PollPolicy(min_interval=1.0, growth=0.0, jitter=0.0)
    async with watch(
        source_for(fake), ["exec_a", "exec_b", "exec_c"], policy=policy, on_progress=seen.append
    ) as watcher:
        finals: list[GenericExecutionStatus] = [s async for s in watcher.as_completed()]
    assert [(s.execution_id, s.status) for s in finals] == [
        ("exec_b", "failed"),
        ("exec_c", "cancelled"),
        ("exec_a", "completed"),
    ]
    assert finals[0].error is not None
    assert finals[0].error.message == "Task execution failed"
    percents = [p.percent for p in seen if p.key == "exec_a"]
    assert percents == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    running = next(p for p in seen if p.key == "exec_a")
    assert (running.state, running.phase, running.step) == (
        "running",
        "executing",
        "Analyzing data",
    )
    assert len(fake.requests) == 10 + 4 + 6  # one poll a second each, until each ends


async def test_generic_polls_spend_the_budget_given() -> None:
    fake = GenericFake({f"exec_{n}": (100.0, "completed") for n in range(10)})
    budget = RateBudget(read=6, window=60, reserve=0)
    with anyio.move_on_after(120):
        async with watch(source_for(fake, budget), [f"exec_{n}" for n in range(10)], budget=budget):
            await anyio.sleep(200)
    assert len(fake.requests) == 12  # 6 a minute for 2 minutes, whatever the 10 items want
    assert budget.stats().sent["read"] == 12


async def test_generic_cancel_on_exit_and_unknown_ids() -> None:
    fake = GenericFake({"exec_a": (100.0, "completed")})
    async with watch(source_for(fake), ["exec_a", "missing"], cancel_on_exit=True) as watcher:
        with pytest.raises(NotFoundError, match="Execution not found"):
            await watcher.wait()
    assert fake.requests.count("POST /api/v1/executions/exec_a/cancel") == 1
