"""Every JSON body the fake sends for executions and pipelines matches Dune's OpenAPI schemas.

The schemas are made strict for the test (no properties beyond those listed), so a misspelt or
invented field fails here rather than in a client.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from duneasync.testing import (
    CANCELLED,
    COMPLETED_PARTIAL,
    ExecutionScript,
    FakeDune,
    Fault,
    ManualClock,
    RatePlan,
    Table,
)

from .conftest import client_for

pytestmark = pytest.mark.anyio

SPEC = json.loads((Path(__file__).parents[1] / "data" / "dune-openapi.json").read_text())
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]


def strict(name: str) -> dict[str, Any]:
    """Return schema `name` with every `$ref` inlined and no extra properties allowed."""

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                ref = node["$ref"].rsplit("/", 1)[-1]
                if ref == "models.Row":
                    # `additionalProperties: {type: object}` is a generator artefact meaning "any
                    # value"; rows hold numbers, strings and nulls.
                    return {"type": "object"}
                return resolve(SCHEMAS[ref])
            out = {k: resolve(v) for k, v in node.items() if k != "example"}
            if out.get("type") == "object" and out.get("properties"):
                out["additionalProperties"] = False
            return out
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(SCHEMAS[name])
    return resolved


class Recorder:
    """Send requests and remember each JSON body with the schema it must match."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.seen: list[tuple[str, str, Any]] = []

    async def call(self, schema: str, method: str, url: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, url, **kwargs)
        if response.status_code != 200:
            schema = f"models.Error{response.status_code if response.status_code != 429 else 400}"
        body = response.json()
        self.seen.append((schema, f"{method} {url} -> {response.status_code}", body))
        return body


async def test_every_body_matches_its_openapi_schema(clock: ManualClock) -> None:
    fake = FakeDune(clock=clock, plan=RatePlan(write=50, read=1000))
    slow = ExecutionScript(pending_seconds=2, executing_seconds=2, queue_position=3)
    fake.add_query(1, Table.generated(30), script=slow, depends_on=["dune.t.mv"])
    fake.add_query(2, Table.generated(3), script=ExecutionScript.failed(line=1, column=2))
    fake.add_query(3, Table.generated(3), script=ExecutionScript(final_state=COMPLETED_PARTIAL))
    fake.add_query(4, Table.generated(3), script=ExecutionScript.ending(CANCELLED))
    fake.add_query(5, Table.generated(3), script=ExecutionScript.completed(executing=1))
    fake.add_materialized_view("dune.t.mv", script=ExecutionScript.completed(executing=1))
    fake.add_sql("select 1", Table.generated(1))
    async with client_for(fake) as http:
        rec = Recorder(http)
        execute = "models.ExecuteQueryResponse"
        status = "models.GetExecutionStatusResponse"
        results = "models.ReadExecutionResultResponse"
        ids = {}
        for qid in (1, 2, 3, 4, 5):
            body = await rec.call(execute, "POST", f"/api/v1/query/{qid}/execute", json={})
            ids[qid] = body["execution_id"]
        await rec.call(execute, "POST", "/api/v1/sql/execute", json={"sql": "select 1"})
        await rec.call(execute, "POST", "/api/v1/sql/execute", json={"sql": "select 2"})
        pipeline = await rec.call(
            "models.ExecutePipelineResponse",
            "POST",
            "/api/v1/pipelines/execute",
            json={
                "pipeline": {
                    "nodes": [
                        {"id": 1, "query_execution": {"query_id": 2}},
                        {"id": 2, "dependencies": [1], "query_execution": {"query_id": 5}},
                        {"id": 3, "materialized_view_refresh": {"name": "dune.t.mv"}},
                    ]
                }
            },
        )
        lineage = await rec.call(
            "models.ExecuteQueryPipelineResponse",
            "POST",
            "/api/v1/query/1/pipeline/execute",
            json={"performance": "medium"},
        )
        await rec.call("models.GetQueryPipelineResponse", "GET", "/api/v1/query/1/pipeline")
        for _ in range(6):
            for eid in ids.values():
                await rec.call(status, "GET", f"/api/v1/execution/{eid}/status")
                await rec.call(results, "GET", f"/api/v1/execution/{eid}/results?limit=7")
            for pid in (pipeline["pipeline_execution_id"], lineage["pipeline_execution_id"]):
                await rec.call(
                    "models.GetPipelineExecutionStatusResponse",
                    "GET",
                    f"/api/v1/pipelines/executions/{pid}/status",
                )
            clock.advance(1)
        await rec.call(
            results, "GET", f"/api/v1/execution/{ids[3]}/results?allow_partial_results=true"
        )
        await rec.call(results, "GET", "/api/v1/query/1/results?limit=2&offset=2")
        await rec.call(
            "models.CancelQueryExecutionResponse", "POST", f"/api/v1/execution/{ids[1]}/cancel"
        )
        await rec.call("", "GET", "/api/v1/execution/nope/status")
        await rec.call("", "GET", f"/api/v1/execution/{ids[1]}/results?limit=-1")
        fake.inject(Fault.HTTP_500)
        await rec.call("", "GET", f"/api/v1/execution/{ids[1]}/status")
    async with client_for(fake, key="bad") as http:
        await Recorder(http).call("", "GET", "/api/v1/execution/x/status")

    schemas = {schema for schema, _, _ in rec.seen}
    assert {"models.Error404", "models.Error400", "models.Error500"} < schemas
    states = {body.get("state") for schema, _, body in rec.seen if schema == status}
    assert {"QUERY_STATE_PENDING", "QUERY_STATE_EXECUTING", "QUERY_STATE_FAILED"} < states
    assert {"QUERY_STATE_CANCELLED", "QUERY_STATE_COMPLETED", COMPLETED_PARTIAL} < states
    pipeline_states = {
        body["status"] for schema, _, body in rec.seen if schema.startswith("models.GetPipeline")
    }
    assert {"executing", "failed", "completed"} <= pipeline_states
    for schema, what, body in rec.seen:
        errors = list(jsonschema.Draft7Validator(strict(schema)).iter_errors(body))
        assert not errors, f"{what}: {errors[0].message}"


def test_strict_schemas_do_reject_invented_fields() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"execution_id": "x", "status": "done"}, strict("models.GetExecutionStatusResponse")
        )
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"node_executions": [{"id": 1, "query_execution_status": {"state": "x"}}]},
            strict("models.GetPipelineExecutionStatusResponse"),
        )
