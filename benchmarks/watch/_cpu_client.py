"""One contender of the per-request CPU benchmark, run in its own process.

``python _cpu_client.py CONTENDER BASE_URL API_KEY --requests N --inflight 64`` starts one
execution, then sends ``N`` status requests for it with ``--inflight`` in flight at once, and
prints one JSON line: the client process's CPU seconds (user + system, ``getrusage``) spent on
those requests, divided by ``N``. A warm-up of a few hundred requests runs first and is not
counted. Every contender reads the body and decodes its JSON, as any client must.

Contenders: ``official`` (dune-client's ``AsyncDuneClient``, needs the benchmark venv),
``httpx``, ``aiohttp`` (the plain libraries), ``duneasync-httpx``, ``duneasync-aiohttp``
(asyncio) and ``duneasync-trio`` (trio, native httpx transport).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

WARMUP = 300


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def start_execution(base_url: str, api_key: str) -> str:
    request = urllib.request.Request(
        f"{base_url}/api/v1/query/1/execute",
        data=b'{"query_parameters": {"n": 0}}',
        headers={"X-Dune-Api-Key": api_key, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:  # loopback only
        return str(json.loads(response.read())["execution_id"])


async def drive(one: Callable[[], Awaitable[object]], total: int, inflight: int) -> None:
    """Send ``total`` requests with ``inflight`` workers (anyio: runs on asyncio and trio)."""
    import anyio

    left = total

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await one()

    async with anyio.create_task_group() as tg:
        for _ in range(inflight):
            tg.start_soon(worker)


async def measure(
    one: Callable[[], Awaitable[object]], requests: int, inflight: int
) -> dict[str, Any]:
    await drive(one, WARMUP, inflight)
    before, wall = cpu(), time.perf_counter()
    await drive(one, requests, inflight)
    spent, wall = cpu() - before, time.perf_counter() - wall
    return {"cpu_per_request_us": 1e6 * spent / requests, "requests": requests, "wall": wall}


async def official(url: str, key: str, eid: str, n: int, inflight: int) -> dict[str, Any]:
    from dune_client.client_async import AsyncDuneClient

    async with AsyncDuneClient(key, base_url=url, connection_limit=inflight) as dune:
        return await measure(lambda: dune.get_execution_status(eid), n, inflight)


async def plain_httpx(url: str, key: str, eid: str, n: int, inflight: int) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=inflight, max_keepalive_connections=inflight)
    target = f"{url}/api/v1/execution/{eid}/status"
    async with httpx.AsyncClient(limits=limits, headers={"X-Dune-Api-Key": key}) as http:

        async def one() -> object:
            response = await http.get(target)
            response.raise_for_status()
            return json.loads(response.content)

        return await measure(one, n, inflight)


async def plain_aiohttp(url: str, key: str, eid: str, n: int, inflight: int) -> dict[str, Any]:
    import aiohttp

    target = f"{url}/api/v1/execution/{eid}/status"
    connector = aiohttp.TCPConnector(limit=inflight)
    async with aiohttp.ClientSession(
        connector=connector, headers={"X-Dune-Api-Key": key}
    ) as session:

        async def one() -> object:
            async with session.get(target) as response:
                response.raise_for_status()
                return json.loads(await response.read())

        return await measure(one, n, inflight)


async def with_duneasync(
    url: str, key: str, eid: str, n: int, inflight: int, *, transport: str
) -> dict[str, Any]:
    from duneasync import AiohttpTransport, DuneClient

    options: dict[str, Any] = {}
    if transport == "aiohttp":
        options["transport"] = AiohttpTransport(limit=inflight)
    async with DuneClient(key, base_url=url, **options) as dune:
        return await measure(lambda: dune.get_execution_status(eid), n, inflight)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("contender")
    parser.add_argument("base_url")
    parser.add_argument("api_key")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--inflight", type=int, default=64)
    args = parser.parse_args()
    eid = start_execution(args.base_url, args.api_key)
    call = (args.base_url, args.api_key, eid, args.requests, args.inflight)
    if args.contender == "duneasync-trio":
        import trio

        result = trio.run(lambda: with_duneasync(*call, transport="httpx"))
    else:
        import asyncio  # the asyncio contenders, by definition

        runners: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
            "official": lambda: official(*call),
            "httpx": lambda: plain_httpx(*call),
            "aiohttp": lambda: plain_aiohttp(*call),
            "duneasync-httpx": lambda: with_duneasync(*call, transport="httpx"),
            "duneasync-aiohttp": lambda: with_duneasync(*call, transport="aiohttp"),
        }
        result = asyncio.run(runners[args.contender]())  # type: ignore[arg-type]
    print(json.dumps({"contender": args.contender, **result}), flush=True)


if __name__ == "__main__":
    main()
