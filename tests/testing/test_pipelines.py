"""Pipelines run their nodes in dependency order, and one node's failure stops its dependants."""

from __future__ import annotations

import httpx
import pytest

from duneasync.testing import ExecutionScript, FakeDune, ManualClock, Table

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    # Pipeline scheduling lives in the sans-io core; one backend is enough to exercise it.
    return "asyncio"


def query_node(node_id: int, query_id: int, *deps: int, **extra: object) -> dict[str, object]:
    return {
        "id": node_id,
        "dependencies": list(deps),
        "query_execution": {"query_id": query_id, "performance": "medium", **extra},
    }


def view_node(node_id: int, name: str, *deps: int) -> dict[str, object]:
    return {
        "id": node_id,
        "dependencies": list(deps),
        "materialized_view_refresh": {"name": name, "performance": "large"},
    }


async def start(http: httpx.AsyncClient, nodes: list[dict[str, object]]) -> str:
    response = await http.post("/api/v1/pipelines/execute", json={"pipeline": {"nodes": nodes}})
    assert response.status_code == 200, response.text
    return str(response.json()["pipeline_execution_id"])


async def pipeline_status(http: httpx.AsyncClient, pid: str) -> dict[str, object]:
    response = await http.get(f"/api/v1/pipelines/executions/{pid}/status")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def statuses(body: dict[str, object]) -> dict[int, str]:
    nodes = body["node_executions"]
    assert isinstance(nodes, list)
    out: dict[int, str] = {}
    for node in nodes:
        detail = node.get("query_execution_status") or node["materialized_view_refresh_status"]
        out[node["id"]] = detail["status"]
    return out


@pytest.fixture
def diamond(fake: FakeDune) -> FakeDune:
    """1 (2 s) and view `mv` (3 s) feed 3 (1 s)."""
    fake.add_query(1, Table.generated(2), script=ExecutionScript.completed(executing=2))
    fake.add_query(3, Table.generated(4), script=ExecutionScript.completed(executing=1))
    fake.add_materialized_view(
        "dune.team.mv", Table.generated(3), script=ExecutionScript.completed(executing=3)
    )
    return fake


async def test_nodes_start_when_all_their_dependencies_completed(
    diamond: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    pid = await start(
        http, [query_node(1, 1), view_node(2, "dune.team.mv"), query_node(3, 3, 1, 2)]
    )
    first = await pipeline_status(http, pid)
    assert first["status"] == "executing"
    assert statuses(first) == {1: "executing", 2: "executing", 3: "pending"}
    clock.advance(2.5)
    assert statuses(await pipeline_status(http, pid)) == {
        1: "completed",
        2: "executing",
        3: "pending",
    }
    clock.advance(0.5)
    middle = await pipeline_status(http, pid)
    assert statuses(middle) == {1: "completed", 2: "completed", 3: "executing"}
    clock.advance(1.0)
    done = await pipeline_status(http, pid)
    assert done["status"] == "completed"
    assert "error" not in done
    nodes = {n["id"]: n for n in done["node_executions"]}  # type: ignore[union-attr]
    view = nodes[2]["materialized_view_refresh_status"]
    assert view["name"] == "dune.team.mv"
    last = nodes[3]["query_execution_status"]
    assert last["query_id"] == 3
    truth = diamond.execution(last["execution_id"])
    assert (truth.submitted_at, truth.ended_at) == (3.0, 4.0)
    results = await http.get(f"/api/v1/execution/{last['execution_id']}/results")
    assert results.json()["result"]["metadata"]["total_row_count"] == 4


async def test_a_node_started_late_is_back_dated_however_rarely_anyone_polls(
    diamond: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    pid = await start(http, [query_node(1, 1), query_node(2, 3, 1)])
    clock.advance(100)
    body = await pipeline_status(http, pid)
    assert body["status"] == "completed"
    second = body["node_executions"][1]["query_execution_status"]  # type: ignore[index]
    truth = diamond.execution(second["execution_id"])
    assert (truth.submitted_at, truth.ended_at) == (2.0, 3.0)


async def test_pipeline_is_pending_while_its_first_nodes_queue(
    fake: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    fake.add_query(1, Table.generated(1), script=ExecutionScript.completed(pending=2, executing=1))
    pid = await start(http, [query_node(1, 1)])
    assert (await pipeline_status(http, pid))["status"] == "pending"
    clock.advance(2)
    assert (await pipeline_status(http, pid))["status"] == "executing"


async def test_a_failed_node_cancels_its_dependants_and_fails_the_pipeline(
    diamond: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    diamond.add_query(9, Table.generated(1), script=ExecutionScript.failed("boom", executing=1))
    pid = await start(
        http, [query_node(1, 9), query_node(2, 3, 1), query_node(3, 3, 2), query_node(4, 1)]
    )
    clock.advance(1)
    running = await pipeline_status(http, pid)
    assert statuses(running) == {1: "failed", 2: "cancelled", 3: "cancelled", 4: "executing"}
    assert running["status"] == "executing"
    clock.advance(1)
    body = await pipeline_status(http, pid)
    assert statuses(body) == {1: "failed", 2: "cancelled", 3: "cancelled", 4: "completed"}
    assert body["status"] == "failed"
    assert body["error"] == "node 1 failed: boom"
    nodes = body["node_executions"]
    assert isinstance(nodes, list)
    assert nodes[0]["query_execution_status"]["error"] == "boom"
    dependant = nodes[1]["query_execution_status"]
    assert dependant["error"] == "dependency node 1 did not complete"
    assert "execution_id" not in dependant


async def test_cancelling_a_node_execution_cancels_its_dependants(
    diamond: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    pid = await start(http, [query_node(1, 1), query_node(2, 3, 1)])
    body = await pipeline_status(http, pid)
    eid = body["node_executions"][0]["query_execution_status"]["execution_id"]  # type: ignore[index]
    assert (await http.post(f"/api/v1/execution/{eid}/cancel")).json() == {"success": True}
    body = await pipeline_status(http, pid)
    assert statuses(body) == {1: "cancelled", 2: "cancelled"}
    assert body["status"] == "failed"


async def test_lineage_defines_the_query_pipeline_and_both_ways_to_run_it(
    fake: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    fast = ExecutionScript.completed(executing=1)
    fake.add_query(10, Table.generated(1), script=fast)
    fake.add_materialized_view("dune.t.mv", script=fast, depends_on=[10], query_id=11)
    seen: list[object] = []

    def table(parameters: object) -> Table:
        seen.append(parameters)
        return Table.generated(1)

    fake.add_query(12, table, script=fast, depends_on=[10, "dune.t.mv"])
    definition = (await http.get("/api/v1/query/12/pipeline")).json()
    assert definition == {
        "pipeline": {
            "nodes": [
                query_node(1, 10, query_parameters={}),
                {
                    "id": 2,
                    "dependencies": [1],
                    "materialized_view_refresh": {"name": "dune.t.mv", "performance": "medium"},
                },
                query_node(3, 12, 1, 2, query_parameters={}),
            ]
        }
    }
    large = (await http.get("/api/v1/query/12/pipeline", params={"performance": "large"})).json()
    assert {n["id"]: n for n in large["pipeline"]["nodes"]}[2]["materialized_view_refresh"][
        "performance"
    ] == "large"
    by_path = await http.post(
        "/api/v1/query/12/pipeline/execute",
        json={"performance": "medium", "query_parameters": {"day": "2024-01-01"}},
    )
    by_body = await http.post(
        "/api/v1/pipelines/execute", json={"query_id": 12, "performance": "medium"}
    )
    clock.advance(3)
    for response in (by_path, by_body):
        body = await pipeline_status(http, response.json()["pipeline_execution_id"])
        assert body["status"] == "completed"
        assert statuses(body) == {1: "completed", 2: "completed", 3: "completed"}
        view = body["node_executions"][1]["materialized_view_refresh_status"]  # type: ignore[index]
        assert fake.execution(view["execution_id"]).query_id == 11
    assert seen == [{"day": "2024-01-01"}, {}]
    assert fake.stats.pipelines_created == 2
    assert fake.stats.executions_created == 6


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"pipeline": {"nodes": []}},
        {"pipeline": {"nodes": [{"id": 1, "dependencies": []}]}},
        {"pipeline": {"nodes": [query_node(1, 1), query_node(1, 1)]}},
        {"pipeline": {"nodes": [query_node(1, 1, 2)]}},
        {"pipeline": {"nodes": [query_node(1, 1, 2), query_node(2, 1, 1)]}},
        {"pipeline": {"nodes": [{**query_node(1, 1), **view_node(1, "x")}]}},
        {"pipeline": {"nodes": [query_node(1, 1, performance="huge")]}},
        {"pipeline": {"nodes": [{"id": "one", "query_execution": {"query_id": 1}}]}},
    ],
)
async def test_malformed_pipelines_are_400(
    diamond: FakeDune, http: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await http.post("/api/v1/pipelines/execute", json=body)
    assert response.status_code == 400
    assert response.json()["error"]
    assert diamond.stats.pipelines_created == 0


async def test_unknown_queries_views_and_pipelines_are_404(
    diamond: FakeDune, http: httpx.AsyncClient
) -> None:
    unknown_query = await http.post(
        "/api/v1/pipelines/execute", json={"pipeline": {"nodes": [query_node(1, 404)]}}
    )
    unknown_view = await http.post(
        "/api/v1/pipelines/execute", json={"pipeline": {"nodes": [view_node(1, "nope")]}}
    )
    assert (unknown_query.status_code, unknown_view.status_code) == (404, 404)
    assert (await http.get("/api/v1/query/404/pipeline")).status_code == 404
    assert (await http.post("/api/v1/query/404/pipeline/execute", json={})).status_code == 404
    assert (await http.get("/api/v1/pipelines/executions/nope/status")).status_code == 404
    assert diamond.stats.executions_created == 0


async def test_lineage_cycles_are_400(fake: FakeDune, http: httpx.AsyncClient) -> None:
    fake.add_query(1, Table.generated(1), depends_on=[2])
    fake.add_query(2, Table.generated(1), depends_on=[1])
    assert (await http.get("/api/v1/query/1/pipeline")).status_code == 400
