"""Faults on demand, in process: scripted exactly or random from a seed, never corrupting state."""

from __future__ import annotations

import anyio
import httpx
import msgspec
import pytest

from duneasync.testing import ExecutionScript, FakeDune, Fault, Faults, ManualClock, Table

from .conftest import client_for, completed_query, execute

pytestmark = pytest.mark.anyio


@pytest.fixture
def limited(clock: ManualClock) -> FakeDune:
    fake = FakeDune(clock=clock, plan="free")
    completed_query(fake, 1, Table.generated(10))
    return fake


async def test_drop_before_raises_connect_error_and_the_server_did_nothing(
    limited: FakeDune,
) -> None:
    limited.inject(Fault.DROP_BEFORE, endpoint="execute_query")
    async with client_for(limited) as http:
        with pytest.raises(httpx.ConnectError):
            await http.post("/api/v1/query/1/execute", json={})
        assert limited.execution_ids() == []
        ok = await http.post("/api/v1/query/1/execute", json={})
    assert ok.headers["RateLimit"].startswith('"write";r=14;'), "the dropped request spent nothing"
    assert limited.stats.faults_injected == {"drop_before": 1}
    assert limited.stats.requests == {"execute_query": 2}


async def test_drop_after_raises_read_error_but_the_execution_was_created(
    limited: FakeDune,
) -> None:
    limited.inject(Fault.DROP_AFTER, endpoint="execute_query")
    async with client_for(limited) as http:
        with pytest.raises(httpx.ReadError):
            await http.post("/api/v1/query/1/execute", json={})
        (created,) = limited.execution_ids()
        status = await http.get(f"/api/v1/execution/{created}/status")
    assert status.json()["state"] == "QUERY_STATE_COMPLETED"
    assert limited.stats.executions_created == 1


@pytest.mark.parametrize(
    ("fault", "code", "content_type"),
    [
        (Fault.HTTP_500, 500, "application/json"),
        (Fault.HTTP_502, 502, "text/html"),
        (Fault.HTTP_503, 503, "text/plain"),
    ],
)
async def test_server_errors_are_answered_without_acting(
    limited: FakeDune, fault: Fault, code: int, content_type: str
) -> None:
    limited.inject(fault, endpoint="execute_query", times=3)
    async with client_for(limited) as http:
        answers = [await http.post("/api/v1/query/1/execute", json={}) for _ in range(4)]
    assert [a.status_code for a in answers] == [code, code, code, 200]
    assert answers[0].headers["content-type"] == content_type
    if fault is Fault.HTTP_502:
        assert answers[0].text.startswith("<html>")
    assert limited.stats.executions_created == 1
    assert answers[3].headers["RateLimit"].startswith('"write";r=14;')


async def test_scripted_faults_only_strike_their_endpoint(limited: FakeDune) -> None:
    limited.inject(Fault.HTTP_503, endpoint="execution_status", times=2)
    async with client_for(limited) as http:
        eid = await execute(http, 1)
        codes = [(await http.get(f"/api/v1/execution/{eid}/status")).status_code for _ in range(3)]
    assert codes == [503, 503, 200]


async def test_slow_answers_wait_then_answer_in_full(limited: FakeDune) -> None:
    limited.inject(Fault.SLOW, endpoint="execute_query", delay=0.02)
    async with client_for(limited) as http:
        started = anyio.current_time()
        response = await http.post("/api/v1/query/1/execute", json={})
        elapsed = anyio.current_time() - started
    assert response.status_code == 200
    assert elapsed >= 0.02
    assert limited.stats.faults_injected == {"slow": 1}


async def test_truncated_bodies_announce_more_than_they_carry(limited: FakeDune) -> None:
    async with client_for(limited) as http:
        eid = await execute(http, 1)
        limited.inject(Fault.TRUNCATE)
        response = await http.get(f"/api/v1/execution/{eid}/results")
        whole = await http.get(f"/api/v1/execution/{eid}/results")
    assert int(response.headers["content-length"]) == len(whole.content)
    assert response.content == whole.content[: len(whole.content) // 2]
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(response.content)


async def outcomes(fake: FakeDune, n: int) -> list[str]:
    async def one(http: httpx.AsyncClient) -> str:
        try:
            response = await http.get("/api/v1/execution/x/status")
        except httpx.ConnectError:
            return "connect"
        except httpx.ReadError:
            return "read"
        return str(response.status_code)

    async with client_for(fake) as http:
        return [await one(http) for _ in range(n)]


RANDOM = Faults(http_500=0.1, http_502=0.1, http_503=0.1, drop_before=0.1, drop_after=0.1)


async def test_random_faults_are_a_function_of_the_seed(clock: ManualClock) -> None:
    first = await outcomes(FakeDune(clock=clock, seed=7, faults=RANDOM), 200)
    again = await outcomes(FakeDune(clock=clock, seed=7, faults=RANDOM), 200)
    other = await outcomes(FakeDune(clock=clock, seed=8, faults=RANDOM), 200)
    assert first == again
    assert first != other
    assert set(first) == {"404", "500", "502", "503", "connect", "read"}
    assert 70 < first.count("404") < 130


async def test_random_faults_restrict_to_endpoints_and_can_be_switched_off(
    fake: FakeDune,
) -> None:
    fake.set_faults(Faults(http_500=1.0, endpoints=frozenset({"execute_query"})))
    assert await outcomes(fake, 5) == ["404"] * 5
    fake.set_faults(Faults(http_500=1.0))
    assert await outcomes(fake, 2) == ["500"] * 2
    fake.inject(Fault.HTTP_503)
    fake.clear_faults()
    assert await outcomes(fake, 2) == ["404"] * 2


async def test_random_faults_never_corrupt_state(clock: ManualClock) -> None:
    """Whatever struck, every execution the server created is whole and consistent."""
    faults = Faults(
        http_500=0.1, http_502=0.05, drop_before=0.1, drop_after=0.1, truncate=0.1, seed=3
    )
    fake = FakeDune(clock=clock, faults=faults)
    fake.add_query(1, Table.generated(20), script=ExecutionScript.completed(executing=1))
    acknowledged: list[str] = []
    async with client_for(fake) as http:
        for _ in range(60):
            try:
                response = await http.post("/api/v1/query/1/execute", json={})
            except httpx.TransportError:
                continue
            if response.status_code == 200:
                try:
                    acknowledged.append(response.json()["execution_id"])
                except ValueError:
                    continue
        fake.set_faults(None)
        clock.advance(2)
        for eid in fake.execution_ids():
            body = (await http.get(f"/api/v1/execution/{eid}/results")).json()
            assert body["result"]["metadata"]["total_row_count"] == 20
    created = fake.execution_ids()
    assert set(acknowledged) < set(created), "drops after acting created unacknowledged work"
    assert fake.stats.executions_created == len(created)
    assert sum(fake.stats.faults_injected.values()) > 10


def test_faults_validate_their_fractions() -> None:
    with pytest.raises(ValueError, match="add up"):
        Faults(http_500=0.7, drop_after=0.7)
    with pytest.raises(ValueError, match="times"):
        FakeDune().inject(Fault.SLOW, times=0)
