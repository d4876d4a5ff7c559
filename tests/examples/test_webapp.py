"""The web-app example against the fake Dune in process: start a query, stream its status."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

import anyio
import httpx
import msgspec
import pytest
from starlette.applications import Starlette

from duneasync import PollPolicy
from duneasync.testing import ExecutionScript, FakeDune, Table

EXAMPLE = Path(__file__).parents[2] / "examples" / "webapp" / "app.py"
QUERY = 42
FAST = PollPolicy(first_delay=0.05, min_interval=0.1, max_interval=0.2, jitter=0.0)


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webapp_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake() -> FakeDune:
    fake = FakeDune(seed=3)
    fake.add_query(QUERY, Table.generated(10), script=ExecutionScript.completed(0.2, 0.4))
    return fake


@asynccontextmanager
async def running(fake: FakeDune) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (ASGITransport does not) and talk to it in process."""
    app: Starlette = load_example().create_app(
        api_key=fake.api_key, transport=fake.transport(), poll_policy=FAST
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            yield client


def parse_events(body: str) -> list[tuple[str, dict[str, object]]]:
    """Read a text/event-stream body into (event, data) pairs."""
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], msgspec.json.decode(fields["data"])))
    return events


async def stream(
    client: httpx.AsyncClient, execution_id: str
) -> list[tuple[str, dict[str, object]]]:
    response = await client.get(f"/executions/{execution_id}/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_events(response.text)


@pytest.mark.anyio
async def test_start_a_query_and_stream_its_status_until_done(fake: FakeDune) -> None:
    async with running(fake) as client:
        started = await client.post(f"/queries/{QUERY}/executions", json={"parameters": {"d": 7}})
        assert started.status_code == 202
        execution_id = started.json()["execution_id"]
        assert started.json()["events"] == f"http://app/executions/{execution_id}/events"

        events = await stream(client, execution_id)
        latest = await client.get(f"/executions/{execution_id}")

    names = [name for name, _ in events]
    states = [data["state"] for _, data in events]
    assert names[-1] == "done"
    assert names.count("done") == 1
    assert states[-1] == "QUERY_STATE_COMPLETED"
    assert set(states[:-1]) <= {"QUERY_STATE_PENDING", "QUERY_STATE_EXECUTING"}
    assert all(data["execution_id"] == execution_id for _, data in events)
    assert latest.json()["state"] == "QUERY_STATE_COMPLETED"
    assert fake.stats.requests["execute_query"] == 1


@pytest.mark.anyio
async def test_listeners_of_one_execution_share_its_polls(fake: FakeDune) -> None:
    async with running(fake) as client:
        alone = (await client.post(f"/queries/{QUERY}/executions")).json()["execution_id"]
        await stream(client, alone)
        polls_alone = fake.stats.requests["execution_status"]
        fake.reset_stats()

        shared = (await client.post(f"/queries/{QUERY}/executions")).json()["execution_id"]
        results: list[list[tuple[str, dict[str, object]]]] = []

        async def listen() -> None:
            results.append(await stream(client, shared))

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(listen)
        polls_shared = fake.stats.requests["execution_status"]

    assert len(results) == 3
    assert all(events[-1][1]["state"] == "QUERY_STATE_COMPLETED" for events in results)
    # Three listeners, one poll stream: about what a single listener costs, not three times it.
    # Real time paces these polls, so the count moves by one or two between runs (alone: 7 or 8,
    # shared: 10); three streams of their own would cost three times one.
    assert polls_shared < 2 * polls_alone


@pytest.mark.anyio
async def test_a_finished_execution_streams_its_final_status_at_once(fake: FakeDune) -> None:
    async with running(fake) as client:
        execution_id = (await client.post(f"/queries/{QUERY}/executions")).json()["execution_id"]
        await stream(client, execution_id)

        again = await stream(client, execution_id)

    assert [name for name, _ in again] == ["done"]


@pytest.mark.anyio
async def test_unknown_query_and_execution_are_404(fake: FakeDune) -> None:
    async with running(fake) as client:
        query = await client.post("/queries/999/executions")
        execution = await client.get("/executions/01NOSUCHEXECUTION/events")
        bad_id = await client.get("/executions/not%20an%20id/events")

    assert query.status_code == 404
    assert "999" in query.json()["error"]
    assert execution.status_code == 404
    assert bad_id.status_code == 400
