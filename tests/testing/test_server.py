"""The loopback server: real sockets, HTTP/1.1 keep-alive, large bodies and real faults."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import h11
import httpx
import pytest

from duneasync.testing import ExecutionScript, FakeDune, FakeServer, Fault, ManualClock, Table

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def fake(clock: ManualClock) -> FakeDune:
    fake = FakeDune(clock=clock, plan="plus")
    fake.add_query(1, Table.generated(100_000), script=ExecutionScript.completed(executing=1))
    return fake


@pytest.fixture(params=["asyncio", "trio"])
def server(fake: FakeDune, request: pytest.FixtureRequest) -> Iterator[FakeServer]:
    with fake.serve(backend=request.param) as server:
        yield server


@pytest.fixture
def http(fake: FakeDune, server: FakeServer) -> Iterator[httpx.Client]:
    headers = {"X-Dune-Api-Key": fake.api_key}
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        yield client


def test_serves_the_api_on_a_loopback_port(
    fake: FakeDune, clock: ManualClock, server: FakeServer, http: httpx.Client
) -> None:
    assert server.host == "127.0.0.1"
    assert server.base_url == f"http://127.0.0.1:{server.port}"
    eid = http.post("/api/v1/query/1/execute", json={}).json()["execution_id"]
    assert http.get(f"/api/v1/execution/{eid}/status").json()["state"] == "QUERY_STATE_EXECUTING"
    clock.advance(1)
    page = http.get(f"/api/v1/execution/{eid}/results", params={"limit": 5})
    assert page.headers["RateLimit-Policy"] == '"write";q=70;w=60, "read";q=200;w=60'
    assert page.json()["next_uri"].startswith(f"{server.base_url}/api/v1/execution/{eid}/results?")
    assert http.get("/api/v1/nowhere").status_code == 404


def test_keeps_connections_alive_across_requests(fake: FakeDune, server: FakeServer) -> None:
    conn = h11.Connection(h11.CLIENT)
    with socket.create_connection((server.host, server.port)) as sock:
        for _ in range(3):
            request = h11.Request(
                method="GET",
                target="/api/v1/execution/nope/status",
                headers=[("Host", "127.0.0.1"), ("X-Dune-Api-Key", fake.api_key)],
            )
            sock.sendall((conn.send(request) or b"") + (conn.send(h11.EndOfMessage()) or b""))
            status, body = _read_response(conn, sock)
            assert status == 404
            assert b"error" in body
            conn.start_next_cycle()
    assert fake.stats.requests == {"execution_status": 3}


def _read_response(conn: h11.Connection, sock: socket.socket) -> tuple[int, bytes]:
    status, chunks = 0, []
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(sock.recv(65536))
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            return status, b"".join(chunks)


def test_serves_large_pages_whole_and_pages_through_everything(
    fake: FakeDune, clock: ManualClock, http: httpx.Client
) -> None:
    eid = http.post("/api/v1/query/1/execute", json={}).json()["execution_id"]
    clock.advance(1)
    first = http.get(f"/api/v1/execution/{eid}/results")
    assert len(first.content) > 7_000_000
    assert int(first.headers["content-length"]) == len(first.content)
    body = first.json()
    ids = [row["id"] for row in body["result"]["rows"]]
    while "next_uri" in body:
        body = http.get(body["next_uri"]).json()
        ids += [row["id"] for row in body["result"]["rows"]]
    assert ids == list(range(100_000))
    csv_page = http.get(f"/api/v1/execution/{eid}/results/csv", params={"offset": 99_998})
    assert csv_page.text.count("\n") == 3
    assert "x-dune-next-offset" not in csv_page.headers


def test_drops_connections_before_acting(fake: FakeDune, http: httpx.Client) -> None:
    fake.inject(Fault.DROP_BEFORE, endpoint="execute_query")
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/api/v1/query/1/execute", json={})
    assert fake.execution_ids() == []
    assert http.post("/api/v1/query/1/execute", json={}).status_code == 200


def test_drops_connections_after_acting(fake: FakeDune, http: httpx.Client) -> None:
    fake.inject(Fault.DROP_AFTER, endpoint="execute_query")
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/api/v1/query/1/execute", json={})
    assert len(fake.execution_ids()) == 1


def test_truncates_bodies_short_of_their_content_length(
    fake: FakeDune, clock: ManualClock, http: httpx.Client
) -> None:
    eid = http.post("/api/v1/query/1/execute", json={}).json()["execution_id"]
    clock.advance(1)
    fake.inject(Fault.TRUNCATE, endpoint="execution_results")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.get(f"/api/v1/execution/{eid}/results", params={"limit": 1000})
    assert http.get(f"/api/v1/execution/{eid}/results", params={"limit": 10}).status_code == 200


def test_answers_slowly_and_with_proxy_errors(fake: FakeDune, http: httpx.Client) -> None:
    fake.inject(Fault.SLOW, delay=0.3)
    with pytest.raises(httpx.ReadTimeout):
        http.get("/api/v1/execution/x/status", timeout=0.05)
    fake.inject(Fault.HTTP_502)
    response = http.get("/api/v1/execution/x/status")
    assert response.status_code == 502
    assert "Bad Gateway" in response.text


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cli_prints_its_url_serves_and_exits_cleanly_on_signals(stop: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-m", "duneasync.testing", "serve", "--port", "0"]
    command += ["--plan", "free", "--api-key", "k", "--seed", "5", "--auto-queries"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            with httpx.Client(base_url=url, headers={"X-Dune-Api-Key": "k"}) as http:
                response = http.post("/api/v1/query/77/execute", json={})
            assert response.status_code == 200
            assert response.headers["RateLimit"].startswith('"write";r=14;')
            process.send_signal(stop)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
