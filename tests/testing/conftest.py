"""Fixtures for the fake's own tests: a fake on a manual clock and plain httpx clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from duneasync.testing import ExecutionScript, FakeDune, ManualClock, Table, _pytest_plugin

# The plugin is registered through a pytest11 entry point once the package is installed; naming
# its fixtures here makes these tests independent of how the package was installed.
fake_dune = _pytest_plugin.fake_dune
fake_dune_clock = _pytest_plugin.fake_dune_clock
fake_dune_client = _pytest_plugin.fake_dune_client

BASE = "https://api.dune.com"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> FakeDune:
    return FakeDune(clock=clock)


def client_for(fake: FakeDune, *, key: str | None = None) -> httpx.AsyncClient:
    """Return a plain httpx client on the fake, authenticated unless told otherwise."""
    headers = {"X-Dune-Api-Key": fake.api_key if key is None else key}
    return httpx.AsyncClient(transport=fake.transport(), base_url=BASE, headers=headers)


@pytest.fixture
async def http(fake: FakeDune) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(fake) as client:
        yield client


async def execute(http: httpx.AsyncClient, query_id: int, **body: object) -> str:
    """Execute a saved query and return its execution id."""
    response = await http.post(f"/api/v1/query/{query_id}/execute", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["execution_id"])


def completed_query(fake: FakeDune, query_id: int, table: Table, *, seconds: float = 0.0) -> None:
    """Register a query whose executions complete after `seconds` of running."""
    fake.add_query(query_id, table, script=ExecutionScript.completed(executing=seconds))
