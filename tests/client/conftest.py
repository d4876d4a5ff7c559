"""Fixtures of the client tests: a respx router and a client answered by it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import respx

from duneasync import DuneClient

from .helpers import client_for, new_router


@pytest.fixture
def router() -> respx.MockRouter:
    """A router standing in for the Dune API; routes are added by each test."""
    return new_router()


@pytest.fixture
async def dune(router: respx.MockRouter, anyio_backend: str) -> AsyncIterator[DuneClient]:
    """A client with the test key, a zero-wait retry policy, answered by ``router``."""
    async with client_for(router) as client:
        yield client
