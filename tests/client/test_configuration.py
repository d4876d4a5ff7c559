"""Building a client: where the key comes from, who owns the connections, which origin."""

from __future__ import annotations

import httpx
import pytest
import respx

from duneasync import ConfigurationError, DuneClient, RetryPolicy

from .helpers import API_KEY, EXECUTION_ID, client_for, new_router, payload


def test_a_missing_api_key_is_a_configuration_error_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DUNE_API_KEY", raising=False)

    with pytest.raises(ConfigurationError, match="DUNE_API_KEY"):
        DuneClient()


@pytest.mark.parametrize("key", ["", "   "])
def test_an_empty_api_key_is_refused_even_when_the_environment_has_one(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("DUNE_API_KEY", "from-the-environment")

    with pytest.raises(ConfigurationError, match="no Dune API key"):
        DuneClient(key)


def test_an_empty_environment_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNE_API_KEY", "")

    with pytest.raises(ConfigurationError):
        DuneClient()


@pytest.mark.anyio
async def test_the_key_is_read_from_the_environment_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch, router: respx.MockRouter
) -> None:
    monkeypatch.setenv("DUNE_API_KEY", "env-key-123")
    route = router.get(f"/execution/{EXECUTION_ID}/status").respond(json={})

    async with client_for(router, api_key=None) as dune:
        await dune.get_execution_status(EXECUTION_ID)

    assert route.calls.last.request.headers["X-Dune-Api-Key"] == "env-key-123"


@pytest.mark.anyio
async def test_a_given_key_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, router: respx.MockRouter
) -> None:
    monkeypatch.setenv("DUNE_API_KEY", "env-key-123")
    route = router.get(f"/execution/{EXECUTION_ID}/status").respond(json={})

    async with client_for(router) as dune:
        await dune.get_execution_status(EXECUTION_ID)

    assert route.calls.last.request.headers["X-Dune-Api-Key"] == API_KEY


def test_http_client_and_transport_together_are_refused() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    with pytest.raises(ConfigurationError, match="not both"):
        DuneClient(API_KEY, http_client=httpx.AsyncClient(), transport=transport)


@pytest.mark.parametrize(
    "base_url",
    ["ftp://api.dune.com", "api.dune.com", "https://", "https://user:secret@api.dune.com"],
)
def test_a_base_url_that_is_not_a_plain_http_origin_is_refused(base_url: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        DuneClient(API_KEY, base_url=base_url)


@pytest.mark.anyio
async def test_a_caller_http_client_is_used_and_left_open(router: respx.MockRouter) -> None:
    route = router.get(f"/execution/{EXECUTION_ID}/status").respond(
        json=payload("status_completed.json")
    )
    mine = httpx.AsyncClient(
        transport=httpx.MockTransport(router.async_handler),
        base_url="https://elsewhere.example",
        headers={"X-Dune-Api-Key": "not-this-one"},
    )

    async with DuneClient(API_KEY, http_client=mine, retry=RetryPolicy.no_wait()) as dune:
        status = await dune.get_execution_status(EXECUTION_ID)

    assert status.is_finished
    request = route.calls.last.request
    assert request.url.host == "api.dune.com"
    assert request.headers["X-Dune-Api-Key"] == API_KEY
    assert not mine.is_closed
    # Still usable by its owner after the DuneClient is gone.
    response = await mine.get(f"https://api.dune.com/api/v1/execution/{EXECUTION_ID}/status")
    assert response.status_code == 200
    await mine.aclose()


@pytest.mark.anyio
async def test_a_base_url_with_a_path_prefixes_every_request(anyio_backend: str) -> None:
    router = respx.MockRouter(base_url="http://localhost:8080/dune/api/v1")
    route = router.get(f"/execution/{EXECUTION_ID}/status").respond(json={})

    async with DuneClient(
        API_KEY,
        base_url="http://localhost:8080/dune/?ignored=1#frag",
        transport=httpx.MockTransport(router.async_handler),
    ) as dune:
        await dune.get_execution_status(EXECUTION_ID)
        assert dune.base_url == "http://localhost:8080/dune"

    assert str(route.calls.last.request.url) == (
        f"http://localhost:8080/dune/api/v1/execution/{EXECUTION_ID}/status"
    )


def test_the_client_exposes_its_origin_and_retry_policy() -> None:
    policy = RetryPolicy(attempts=2)
    dune = client_for(new_router(), retry=policy)

    assert dune.base_url == "https://api.dune.com"
    assert dune.retry is policy
    assert dune.rate_limits is None
