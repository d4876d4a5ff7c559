"""Pytest fixtures for testing code against a fake Dune, registered as the `duneasync` plugin.

`fake_dune` is a fresh `FakeDune` on the `ManualClock` that `fake_dune_clock` returns;
`fake_dune_client` is a `duneasync.DuneClient` talking to it in process. The async fixture runs
under anyio's pytest plugin: mark tests `@pytest.mark.anyio`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from duneasync.testing._clock import ManualClock
from duneasync.testing._fake import FakeDune

if TYPE_CHECKING:
    from duneasync import DuneClient

__all__ = ["fake_dune", "fake_dune_client", "fake_dune_clock"]


@pytest.fixture
def fake_dune_clock() -> ManualClock:
    """Return the manual clock `fake_dune` runs on; advance it to move executions along."""
    return ManualClock()


@pytest.fixture
def fake_dune(fake_dune_clock: ManualClock) -> FakeDune:
    """Return a fresh fake Dune API on a manual clock, with no rate limits and no faults."""
    return FakeDune(clock=fake_dune_clock)


@pytest.fixture
async def fake_dune_client(fake_dune: FakeDune) -> AsyncIterator[DuneClient]:
    """Yield a `duneasync.DuneClient` wired to `fake_dune` in process, closed afterwards."""
    # Imported here so the fake never depends on the client it is used to test.
    from duneasync import DuneClient

    async with DuneClient(api_key=fake_dune.api_key, transport=fake_dune.transport()) as client:
        yield client
