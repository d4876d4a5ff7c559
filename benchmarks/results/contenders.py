"""One contender per process: ``python -m benchmarks.results.contenders NAME BASE_URL ID [OUT]``.

Prints one JSON line: wall seconds of the read, rows (or bytes) read, and the process's peak
RSS before and after the read (``ru_maxrss``). Each contender imports only what it needs, so
the official client and aiohttp run from their own virtualenv.
"""

import asyncio
import json
import resource
import sys
import time
from collections.abc import Awaitable, Callable

KEY = "benchmark-key"  # the server is started with it (see server.py)
PAGE = 250_000 // 6


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def official_json(base: str, eid: str, out: str) -> int:
    from dune_client.client_async import AsyncDuneClient

    async with AsyncDuneClient(KEY, base_url=base) as dune:
        result = await dune.get_execution_results(eid)
    return len(result.get_rows())


async def official_csv(base: str, eid: str, out: str) -> int:
    from dune_client.client_async import AsyncDuneClient

    async with AsyncDuneClient(KEY, base_url=base) as dune:
        result = await dune.get_execution_results_csv(eid)
    data = result.data.getvalue()
    with open(out, "wb") as file:  # noqa: ASYNC230 - as a user of the official client would
        file.write(data)
    return len(data)


def _row_type() -> type:
    import msgspec

    class Row(msgspec.Struct):
        id: int
        amount: float
        symbol: str
        block_time: str
        address: str
        maybe_count: int | None

    return Row


async def httpx_typed(base: str, eid: str, out: str) -> int:
    import httpx
    import msgspec

    class Result(msgspec.Struct):
        rows: list[_row_type()]  # type: ignore[valid-type]

    class Page(msgspec.Struct):
        result: Result
        next_offset: int | None = None

    decoder = msgspec.json.Decoder(Page)
    rows: list[object] = []
    offset: int | None = 0
    async with httpx.AsyncClient(base_url=base, headers={"X-Dune-Api-Key": KEY}) as http:
        while offset is not None:
            params = {"limit": PAGE, "offset": offset}
            response = await http.get(f"/api/v1/execution/{eid}/results", params=params)
            response.raise_for_status()
            page = decoder.decode(response.content)
            rows.extend(page.result.rows)
            offset = page.next_offset
    return len(rows)


async def _plain_csv(fetch: Callable[[int], Awaitable[tuple[bytes, str | None]]], out: str) -> int:
    written = 0
    offset: int | None = 0
    with open(out, "wb") as file:  # noqa: ASYNC230 - the plain loop the issue describes
        while offset is not None:
            body, following = await fetch(offset)
            if offset:
                body = body[body.find(b"\n") + 1 :]
            file.write(body)
            written += len(body)
            offset = int(following) if following else None
    return written


async def httpx_csv(base: str, eid: str, out: str) -> int:
    import httpx

    async with httpx.AsyncClient(base_url=base, headers={"X-Dune-Api-Key": KEY}) as http:

        async def fetch(offset: int) -> tuple[bytes, str | None]:
            params = {"limit": PAGE, "offset": offset}
            response = await http.get(f"/api/v1/execution/{eid}/results/csv", params=params)
            response.raise_for_status()
            return response.content, response.headers.get("x-dune-next-offset")

        return await _plain_csv(fetch, out)


async def aiohttp_csv(base: str, eid: str, out: str) -> int:
    import aiohttp

    async with aiohttp.ClientSession(base_url=base, headers={"X-Dune-Api-Key": KEY}) as http:

        async def fetch(offset: int) -> tuple[bytes, str | None]:
            params = {"limit": str(PAGE), "offset": str(offset)}
            async with http.get(f"/api/v1/execution/{eid}/results/csv", params=params) as r:
                r.raise_for_status()
                return await r.read(), r.headers.get("x-dune-next-offset")

        return await _plain_csv(fetch, out)


def _client(base: str, *, aiohttp: bool = False):  # type: ignore[no-untyped-def]
    from duneasync import AiohttpTransport, DuneClient

    if aiohttp:
        return DuneClient(KEY, base_url=base, transport=AiohttpTransport())
    return DuneClient(KEY, base_url=base)


async def duneasync_dicts(base: str, eid: str, out: str) -> int:
    async with _client(base) as dune:
        return len((await dune.results(eid).all()).rows)


async def duneasync_typed(base: str, eid: str, out: str) -> int:
    async with _client(base) as dune:
        return len((await dune.results(eid, row_type=_row_type()).all()).rows)


async def duneasync_rows(base: str, eid: str, out: str) -> int:
    count = 0
    async with _client(base) as dune:
        async for _row in dune.results(eid, row_type=_row_type()).rows():
            count += 1
    return count


async def duneasync_csv(base: str, eid: str, out: str) -> int:
    async with _client(base) as dune:
        return (await dune.results(eid).download(out)).bytes_written


async def duneasync_aiohttp_dicts(base: str, eid: str, out: str) -> int:
    async with _client(base, aiohttp=True) as dune:
        return len((await dune.results(eid).all()).rows)


async def duneasync_aiohttp_typed(base: str, eid: str, out: str) -> int:
    async with _client(base, aiohttp=True) as dune:
        return len((await dune.results(eid, row_type=_row_type()).all()).rows)


async def duneasync_aiohttp_csv(base: str, eid: str, out: str) -> int:
    async with _client(base, aiohttp=True) as dune:
        return (await dune.results(eid).download(out)).bytes_written


CONTENDERS: dict[str, Callable[[str, str, str], Awaitable[int]]] = {
    name: value
    for name, value in globals().items()
    if name.startswith(("official_", "httpx_", "aiohttp_", "duneasync_"))
}


async def _warm(name: str, base: str) -> None:
    if name.startswith("duneasync"):
        async with _client(base, aiohttp="aiohttp" in name):
            pass
    elif name.startswith("official"):
        from dune_client.client_async import AsyncDuneClient

        async with AsyncDuneClient(KEY, base_url=base):
            pass
    elif name.startswith("httpx"):
        import httpx

        async with httpx.AsyncClient(base_url=base):
            pass
    elif name.startswith("aiohttp"):
        import aiohttp

        async with aiohttp.ClientSession(base_url=base):
            pass


def main() -> None:
    name, base, eid = sys.argv[1:4]
    out = sys.argv[4] if len(sys.argv) > 4 else "/dev/null"
    contender = CONTENDERS[name]
    if name.startswith("duneasync"):
        import duneasync  # noqa: F401 - imports before the baseline, as for the others
    elif name.startswith("official"):
        import dune_client.client_async  # noqa: F401
    elif name.startswith("httpx"):
        import httpx  # noqa: F401
        import msgspec  # noqa: F401
    if "aiohttp" in name:
        # Imported lazily by AiohttpTransport and inside the plain loop: not a cost to time.
        import aiohttp  # noqa: F401
    # Build and close the contender's client once, untimed: what is timed is the read, not the
    # modules its HTTP stack imports on first use (httpcore, h11, anyio's backend, ...), which
    # this environment compiles afresh each run (PYTHONDONTWRITEBYTECODE).
    asyncio.run(_warm(name, base))
    baseline = _rss_mb()
    started = time.perf_counter()
    count = asyncio.run(contender(base, eid, out))
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "name": name,
                "seconds": seconds,
                "count": count,
                "baseline_mb": baseline,
                "peak_mb": _rss_mb(),
            }
        )
    )


if __name__ == "__main__":
    main()
