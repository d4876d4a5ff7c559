"""The pytest plugin's fixtures give a fresh fake on a manual clock and a client wired to it."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from duneasync.testing import ExecutionScript, FakeDune, ManualClock, Table

pytestmark = pytest.mark.anyio

CLIENT_READY = hasattr(importlib.import_module("duneasync"), "DuneClient")


def test_fake_dune_is_fresh_and_runs_on_the_manual_clock(
    fake_dune: FakeDune, fake_dune_clock: ManualClock
) -> None:
    assert fake_dune.stats.total_requests == 0
    assert fake_dune.plan is None
    fake_dune_clock.advance(12.5)
    assert fake_dune.now() == 12.5


@pytest.mark.skipif(not CLIENT_READY, reason="duneasync.DuneClient is not written yet")
async def test_fake_dune_client_talks_to_the_fake_in_process(
    fake_dune: FakeDune, fake_dune_clock: ManualClock, fake_dune_client: Any
) -> None:
    fake_dune.add_query(7, Table.generated(3), script=ExecutionScript.completed(executing=2))
    started = await fake_dune_client.execute_query(7)
    fake_dune_clock.advance(2)
    status = await fake_dune_client.get_execution_status(started.execution_id)
    assert status.state == "QUERY_STATE_COMPLETED"
    assert fake_dune.stats.requests == {"execute_query": 1, "execution_status": 1}
