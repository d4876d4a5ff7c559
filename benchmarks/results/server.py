"""Serve generated results from the fake Dune API over loopback, for the benchmark's contenders.

``python -m benchmarks.results.server ROWS [ROWS...]`` registers one query per size (ids 1, 2,
...), executes each once, prints ``{"base_url": ..., "executions": [...]}`` on one line and
serves until killed.

Result pages are served *stored*: the first request for a given path and query string renders
the page with the fake (slowly: Python building megabytes of JSON or CSV), and every later
request with the same path and query string gets the same bytes back at once. Real Dune serves
stored results too, and the harness makes one untimed warm-up pass per contender, so the timed
runs measure what the issue's reference figures measure: the client's cost of reading pages,
not a Python server's cost of writing them.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
from collections.abc import Mapping

import anyio

from duneasync.testing import ExecutionScript, FakeDune, Table
from duneasync.testing._http import FakeResponse
from duneasync.testing._server import serving

KEY = "benchmark-key"


class StoredResults(FakeDune):
    """The fake, with every successful GET of a results page kept after its first rendering."""

    def __init__(self, *, api_key: str) -> None:
        super().__init__(api_key=api_key)
        self._stored: dict[tuple[str, str], FakeResponse] = {}
        self._rendering = threading.Lock()

    def handle(
        self,
        method: str,
        path: str,
        query: str | Mapping[str, str] = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        *,
        scheme: str = "https",
    ) -> FakeResponse:
        """Answer like the fake, from the store for a results page it has already rendered."""
        if method != "GET" or "/results" not in path or not isinstance(query, str):
            return super().handle(method, path, query, headers, body, scheme=scheme)
        key = (path, query)
        stored = self._stored.get(key)
        if stored is None:
            # One rendering at a time: the warm-up pass is sequential per page anyway, and two
            # threads building the same 7 MB page would only double the work.
            with self._rendering:
                stored = self._stored.get(key)
                if stored is None:
                    stored = super().handle(method, path, query, headers, body, scheme=scheme)
                    if stored.status != 200:
                        return stored
                    self._stored[key] = stored
        # A copy with its own header list: the server adds headers to the response it sends.
        return dataclasses.replace(stored, headers=list(stored.headers))


async def _serve(sizes: list[int]) -> None:
    fake = StoredResults(api_key=KEY)
    executions: list[str] = []
    for query_id, rows in enumerate(sizes, start=1):
        table = Table.generated(rows)
        fake.add_query(query_id, table, script=ExecutionScript.completed())
        answer = fake.handle(
            "POST", f"/api/v1/query/{query_id}/execute", "", {"X-Dune-Api-Key": KEY}
        )
        executions.append(json.loads(answer.body)["execution_id"])
        # Generate the values once now, so the warm-up pass does not pay for the fake's own
        # warm-up either.
        for column in range(len(table.columns)):
            table.column_values(column, range(min(rows, 1 << 16)))
    async with serving(fake, "127.0.0.1", 0) as server:
        print(json.dumps({"base_url": server.base_url, "executions": executions}), flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(_serve, [int(arg) for arg in sys.argv[1:]])
