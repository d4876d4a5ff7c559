"""Auth by `X-Dune-Api-Key`, and the two sliding-window budgets with their headers and 429s."""

from __future__ import annotations

import httpx
import pytest

from duneasync.testing import FakeDune, ManualClock, RatePlan, Table

from .conftest import client_for, completed_query, execute

pytestmark = pytest.mark.anyio


async def test_wrong_or_missing_key_is_401_and_changes_nothing(fake: FakeDune) -> None:
    completed_query(fake, 1, Table.generated(1))
    async with client_for(fake, key="wrong") as http:
        response = await http.post("/api/v1/query/1/execute", json={})
    assert response.status_code == 401
    assert response.json() == {"error": "invalid API Key"}
    async with httpx.AsyncClient(transport=fake.transport(), base_url="https://x") as bare:
        assert (await bare.get("/api/v1/execution/x/status")).status_code == 401
    assert fake.stats.executions_created == 0
    assert fake.stats.unauthorized == 2
    assert "test-api-key" not in repr(fake)


async def test_api_key_query_parameter_is_accepted_like_dune_does(fake: FakeDune) -> None:
    async with httpx.AsyncClient(transport=fake.transport(), base_url="https://x") as bare:
        response = await bare.get("/api/v1/execution/x/status", params={"api_key": fake.api_key})
    assert response.status_code == 404


async def test_unknown_paths_are_404(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/v1/nothing/here")).status_code == 404
    assert (await http.get("/api/v1/query/1/execute")).status_code == 404


async def test_no_plan_means_no_rate_limit_headers(fake: FakeDune, http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/execution/x/status")
    assert "ratelimit" not in response.headers
    assert fake.plan is None


async def test_free_plan_headers_count_down_each_budget(clock: ManualClock) -> None:
    fake = FakeDune(clock=clock, plan="free")
    completed_query(fake, 1, Table.generated(1))
    async with client_for(fake) as http:
        first = await http.post("/api/v1/query/1/execute", json={})
        assert first.headers["RateLimit-Policy"] == '"write";q=15;w=60, "read";q=40;w=60'
        assert first.headers["RateLimit"] == '"write";r=14;t=60, "read";r=40;t=0'
        clock.advance(10.2)
        read = await http.get(f"/api/v1/execution/{first.json()['execution_id']}/status")
        assert read.headers["RateLimit"] == '"write";r=14;t=50, "read";r=39;t=60'
        missing = await http.get("/api/v1/execution/nope/status")
        assert missing.status_code == 404
        assert missing.headers["RateLimit"] == '"write";r=14;t=50, "read";r=38;t=60'


async def test_write_budget_refuses_at_its_edge_and_recovers_after_retry_after(
    clock: ManualClock,
) -> None:
    fake = FakeDune(clock=clock, plan="free")
    completed_query(fake, 1, Table.generated(1))
    async with client_for(fake) as http:
        for _ in range(15):
            await execute(http, 1)
            clock.advance(1.0)
        # 15 requests at t = 0..14; at t = 15 the window is full until t = 60.
        refused = await http.post("/api/v1/query/1/execute", json={})
        assert refused.status_code == 429
        assert "error" in refused.json()
        assert refused.headers["Retry-After"] == "45"
        assert refused.headers["RateLimit"].startswith('"write";r=0;t=45')
        again = await http.post("/api/v1/query/1/execute", json={})
        assert again.status_code == 429, "a 429 spends no budget, so nothing has freed up"
        reads = await http.get("/api/v1/execution/nope/status")
        assert reads.status_code == 404, "the read budget is separate"
        clock.advance(44.999)
        assert (await http.post("/api/v1/query/1/execute", json={})).status_code == 429
        clock.advance(0.001)
        assert (await http.post("/api/v1/query/1/execute", json={})).status_code == 200
        assert (await http.post("/api/v1/query/1/execute", json={})).status_code == 429
    assert fake.stats.rate_limited == 4
    assert fake.stats.executions_created == 16


async def test_window_slides_rather_than_resetting(clock: ManualClock) -> None:
    fake = FakeDune(clock=clock, plan=RatePlan(write=2, read=3, window=10))
    async with client_for(fake) as http:
        codes = []
        for step in (0.0, 4.0, 4.0, 1.0, 0.5, 0.5, 0.5):
            clock.advance(step)
            codes.append((await http.get("/api/v1/execution/x/status")).status_code)
    # Times 0, 4, 8 fill the window; 9 and 9.5 are refused; at 10 the first slot frees; 10.5
    # is refused again until 14.
    assert codes == [404, 404, 404, 429, 429, 404, 429]


@pytest.mark.parametrize(
    ("plan", "write", "read"), [("free", 15, 40), ("plus", 70, 200), ("premium", 350, 1000)]
)
async def test_published_plans_have_their_quotas(
    clock: ManualClock, plan: str, write: int, read: int
) -> None:
    fake = FakeDune(clock=clock, plan=plan)
    async with client_for(fake) as http:
        response = await http.get("/api/v1/execution/x/status")
    assert response.headers["RateLimit-Policy"] == f'"write";q={write};w=60, "read";q={read};w=60'
    with pytest.raises(ValueError, match="unknown plan"):
        FakeDune(plan="gold")
