"""A small scripted Dune results server behind ``httpx.MockTransport``.

It serves ``/execution/{id}/results`` and ``/query/{id}/results`` (JSON and CSV) from a list of
rows, and can misbehave on demand: refuse or cut pages at the datapoint cap, lower ``limit``,
fail given requests, report a partial or unfinished state, or switch executions mid-read.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec

COMPLETED = "QUERY_STATE_COMPLETED"
CAP = 250_000
_PATH = re.compile(r"/api/v1/(execution|query)/(?P<ident>[^/]+)/results(?P<csv>/csv)?")


def make_rows(n: int, columns: int = 3) -> list[dict[str, Any]]:
    """Rows whose first column is their index, so order and gaps are easy to check."""
    return [{"id": i, **{f"c{j}": f"v{i}_{j}" for j in range(1, columns)}} for i in range(n)]


@dataclass
class MiniDune:
    """The server's state and its misbehaviours (see the module docstring)."""

    rows: list[dict[str, Any]]
    column_types: list[str] | None = None
    execution_id: str = "01HEXECUTION0000000000000A"
    state: str = COMPLETED
    refuse_over_cap: bool = False
    lower_limit_to: int | None = None
    fail: Callable[[int, dict[str, str]], int | None] = lambda n, params: None
    switch_execution_after: int | None = None
    requests: list[tuple[str, dict[str, str]]] = field(
        default_factory=list[tuple[str, dict[str, str]]]
    )

    @property
    def columns(self) -> list[str]:
        return list(self.rows[0]) if self.rows else ["id"]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.requests.append((request.url.path, params))
        number = len(self.requests)
        status = self.fail(number, params)
        if status is not None:
            return httpx.Response(status, json={"error": "scripted failure"})
        found = _PATH.fullmatch(request.url.path)
        if found is None:
            return httpx.Response(404, json={"error": "not found"})
        execution_id = self.execution_id
        if self.switch_execution_after is not None and number > self.switch_execution_after:
            execution_id = "01HOTHEREXECUTION000000000B"
        columns = params["columns"].split(",") if "columns" in params else self.columns
        total = len(self.rows)
        offset = int(params.get("offset", "0"))
        limit = int(params["limit"]) if "limit" in params else total
        ignore = params.get("ignore_max_datapoints_per_request") == "true"
        if not ignore and limit * len(columns) > CAP:
            if self.refuse_over_cap:
                return httpx.Response(400, json={"error": "too many datapoints requested"})
            limit = CAP // len(columns)
        if self.lower_limit_to is not None:
            limit = min(limit, self.lower_limit_to)
        stop = min(offset + limit, total)
        rows = [{c: row[c] for c in columns} for row in self.rows[offset:stop]]
        next_offset = stop if stop < total else None
        if self.state not in (COMPLETED, "QUERY_STATE_COMPLETED_PARTIAL"):
            body: dict[str, Any] = {
                "execution_id": execution_id,
                "state": self.state,
                "is_execution_finished": self.state
                not in ("QUERY_STATE_PENDING", "QUERY_STATE_EXECUTING"),
            }
            return httpx.Response(200, content=msgspec.json.encode(body))
        if found.group("csv"):
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows([list(r.values()) for r in rows])
            headers = {} if next_offset is None else {"x-dune-next-offset": str(next_offset)}
            return httpx.Response(200, content=out.getvalue().encode(), headers=headers)
        types = self.column_types or ["bigint"] + ["varchar"] * (len(self.columns) - 1)
        by_name = dict(zip(self.columns, types, strict=False))
        body = {
            "execution_id": execution_id,
            "query_id": 7,
            "state": self.state,
            "is_execution_finished": True,
            "result": {
                "rows": rows,
                "metadata": {
                    "column_names": columns,
                    "column_types": [by_name[c] for c in columns],
                    "row_count": len(rows),
                    "total_row_count": total,
                    "result_set_bytes": 10 * len(rows),
                    "total_result_set_bytes": 10 * total,
                    "datapoint_count": len(rows) * len(columns),
                },
            },
        }
        if next_offset is not None:
            body["next_offset"] = next_offset
            body["next_uri"] = f"https://api.dune.com{request.url.path}?offset={next_offset}"
        return httpx.Response(200, content=msgspec.json.encode(body))
