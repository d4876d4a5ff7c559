"""Every endpoint method sends the documented request and decodes the documented answer."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
import msgspec
import pytest
import respx

from duneasync import (
    CSVPage,
    DuneClient,
    ExecutionResponse,
    ExecutionState,
    MaterializedViewRefreshNode,
    Pipeline,
    PipelineNode,
    QueryExecutionNode,
)

from .helpers import (
    API,
    API_KEY,
    EXECUTION_ID,
    PIPELINE_EXECUTION_ID,
    openapi_example,
    payload,
    payload_bytes,
    query_of,
    sent_json,
)

pytestmark = pytest.mark.anyio


class TableCount(msgspec.Struct):
    """A row of the seed result, typed."""

    TableName: str
    ct: int


def assert_authenticated(request: httpx.Request) -> None:
    assert request.headers["X-Dune-Api-Key"] == API_KEY
    assert "api_key" not in request.url.params


def assert_json_post(request: httpx.Request, path: str) -> Any:
    assert request.method == "POST"
    assert request.url.path == path
    assert request.url.query == b""
    assert request.headers["Content-Type"] == "application/json"
    assert_authenticated(request)
    return sent_json(request)


# -- executions ---------------------------------------------------------------------------------


async def test_execute_query_posts_parameters_and_performance(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.post("/query/1234/execute").respond(
        json=openapi_example("models.ExecuteQueryResponse")
    )

    execution = await dune.execute_query(
        1234, parameters={"chain": "ethereum", "min_value": 10}, performance="large"
    )

    body = assert_json_post(route.calls.last.request, "/api/v1/query/1234/execute")
    assert body == {
        "query_parameters": {"chain": "ethereum", "min_value": 10},
        "performance": "large",
    }
    assert execution == ExecutionResponse(
        execution_id="01HKZJ2683PHF9Q9PHHQ8FW4Q1", state="QUERY_STATE_PENDING"
    )


async def test_execute_query_without_options_posts_an_empty_object(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.post("/query/1234/execute").respond(json={"execution_id": EXECUTION_ID})

    execution = await dune.execute_query(1234)

    assert assert_json_post(route.calls.last.request, "/api/v1/query/1234/execute") == {}
    assert execution.execution_id == EXECUTION_ID
    assert execution.state is None


async def test_execute_query_writes_dates_and_times_as_dune_reads_them(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.post("/query/1234/execute").respond(json={"execution_id": EXECUTION_ID})
    paris = timezone(timedelta(hours=2))

    await dune.execute_query(
        1234,
        parameters={
            "day": date(2024, 12, 20),
            "since": datetime(2024, 12, 20, 13, 4, 18, tzinfo=paris),
            "naive": datetime(2024, 1, 2, 3, 4, 5),
        },
    )

    assert sent_json(route.calls.last.request)["query_parameters"] == {
        "day": "2024-12-20 00:00:00",
        "since": "2024-12-20 11:04:18",
        "naive": "2024-01-02 03:04:05",
    }


async def test_execute_sql_posts_the_sql_and_performance(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.post("/sql/execute").respond(json=openapi_example("models.ExecuteQueryResponse"))

    execution = await dune.execute_sql("select 1 as one", performance="medium")

    body = assert_json_post(route.calls.last.request, "/api/v1/sql/execute")
    assert body == {"sql": "select 1 as one", "performance": "medium"}
    assert execution.execution_id == "01HKZJ2683PHF9Q9PHHQ8FW4Q1"
    assert execution.state == ExecutionState.PENDING


async def test_execute_sql_without_performance_sends_only_the_sql(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.post("/sql/execute").respond(json={"execution_id": EXECUTION_ID})

    await dune.execute_sql("select 1")

    assert sent_json(route.calls.last.request) == {"sql": "select 1"}


async def test_get_execution_status_decodes_the_executing_seed(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.get(f"/execution/{EXECUTION_ID}/status").respond(
        json=payload("status_executing.json")
    )

    status = await dune.get_execution_status(EXECUTION_ID)

    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.path == f"/api/v1/execution/{EXECUTION_ID}/status"
    assert request.url.query == b""
    assert request.content == b""
    assert_authenticated(request)
    assert status.execution_id == EXECUTION_ID
    assert status.query_id == 980708
    assert status.state == ExecutionState.EXECUTING
    assert status.known_state is ExecutionState.EXECUTING
    assert not status.is_finished
    assert status.submitted_at == datetime(2022, 8, 29, 6, 33, 24, 913138, tzinfo=timezone.utc)
    # Nanoseconds are cut to what a datetime holds; the zero time means "not set".
    assert status.execution_started_at == datetime(
        2022, 8, 29, 6, 33, 24, 916543, tzinfo=timezone.utc
    )
    assert status.expires_at is None
    assert status.execution_ended_at is None
    assert status.result_metadata is None


async def test_get_execution_status_decodes_the_completed_seed(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    router.get(f"/execution/{EXECUTION_ID}/status").respond(json=payload("status_completed.json"))

    status = await dune.get_execution_status(EXECUTION_ID)

    assert status.state == ExecutionState.COMPLETED
    assert status.is_finished
    assert status.expires_at == datetime(2024, 8, 28, 6, 36, 41, 588470, tzinfo=timezone.utc)
    assert status.execution_ended_at == datetime(
        2022, 8, 29, 6, 36, 41, 588467, tzinfo=timezone.utc
    )
    metadata = status.result_metadata
    assert metadata is not None
    assert metadata.column_names == ["ct", "TableName"]
    assert metadata.total_row_count == 8
    assert metadata.datapoint_count == 16
    assert metadata.result_set_bytes == 194
    assert metadata.pending_time_millis == 8
    assert metadata.execution_time_millis == 24


async def test_get_execution_status_decodes_every_field_of_the_openapi_example(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    example = openapi_example("models.GetExecutionStatusResponse")
    example["execution_cost_credits"] = 0.25
    execution_id = example["execution_id"]
    router.get(f"/execution/{execution_id}/status").respond(json=example)

    status = await dune.get_execution_status(execution_id)

    nanos = datetime(2024, 12, 20, 11, 4, 18, 724658, tzinfo=timezone.utc)
    assert status.query_id == 1234
    assert status.state == "QUERY_STATE_COMPLETED"
    assert status.is_execution_finished is True
    assert status.is_finished
    assert status.submitted_at == nanos
    assert status.execution_started_at == nanos
    assert status.execution_ended_at == nanos
    assert status.expires_at == nanos
    assert status.cancelled_at == nanos
    assert status.queue_position == 1
    assert status.max_inflight_interactive_executions == 3
    assert status.max_inflight_interactive_reached == 5
    assert status.execution_cost_credits == 0.25
    assert status.error is not None
    assert status.error.type == "syntax_error"
    assert status.error.message == "Error: Line 1:1: mismatched input 'selecdt'"
    assert status.error.metadata is not None
    assert (status.error.metadata.line, status.error.metadata.column) == (10, 73)
    assert str(status.error) == (
        "syntax_error: Error: Line 1:1: mismatched input 'selecdt' (line 10, column 73)"
    )
    metadata = status.result_metadata
    assert metadata is not None
    assert metadata.column_types == ["double", "varchar", "bigint"]
    assert metadata.row_count == 10
    assert metadata.total_row_count == 1000
    assert metadata.total_result_set_bytes == 10000


async def test_cancel_execution_posts_without_a_body_and_reports_success(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.post(f"/execution/{EXECUTION_ID}/cancel").respond(json={"success": True})

    accepted = await dune.cancel_execution(EXECUTION_ID)

    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.path == f"/api/v1/execution/{EXECUTION_ID}/cancel"
    assert request.content == b""
    assert_authenticated(request)
    assert accepted is True


@pytest.mark.parametrize("body", [{"success": False}, {}], ids=["refused", "silent"])
async def test_cancel_execution_reports_a_refusal(
    dune: DuneClient, router: respx.MockRouter, body: dict[str, Any]
) -> None:
    router.post(f"/execution/{EXECUTION_ID}/cancel").respond(json=body)

    assert await dune.cancel_execution(EXECUTION_ID) is False


# -- results ------------------------------------------------------------------------------------


async def test_get_execution_results_decodes_the_seed_page(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.get(f"/execution/{EXECUTION_ID}/results").respond(
        json=payload("results_completed.json")
    )

    page = await dune.get_execution_results(EXECUTION_ID)

    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.path == f"/api/v1/execution/{EXECUTION_ID}/results"
    assert request.url.query == b""
    assert_authenticated(request)
    assert page.execution_id == EXECUTION_ID
    assert page.state == ExecutionState.COMPLETED
    assert page.is_finished
    assert not page.is_partial
    assert len(page.rows) == 8
    assert page.rows[0] == {"TableName": "eth_blocks", "ct": 6296}
    assert page.rows[5] == {"TableName": "sol_transactions", "ct": 37185158}
    assert page.metadata is not None
    assert page.metadata.column_names == ["ct", "TableName"]
    assert page.metadata.total_row_count == 8
    assert page.next_offset is None
    assert page.next_uri is None


async def test_get_execution_results_sends_every_option_on_the_query_string(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.get(f"/execution/{EXECUTION_ID}/results").respond(
        json=payload("results_completed.json")
    )

    await dune.get_execution_results(
        EXECUTION_ID,
        limit=100,
        offset=200,
        columns=["ct", "TableName"],
        filters="ct > 10000",
        sort_by=["ct desc", "TableName"],
        allow_partial_results=True,
        ignore_max_datapoints_per_request=False,
    )

    assert query_of(route.calls.last.request) == {
        "limit": "100",
        "offset": "200",
        "columns": "ct,TableName",
        "filters": "ct > 10000",
        "sort_by": "ct desc,TableName",
        "allow_partial_results": "true",
        "ignore_max_datapoints_per_request": "false",
    }


async def test_get_execution_results_sends_sample_count_alone(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.get(f"/execution/{EXECUTION_ID}/results").respond(
        json=payload("results_completed.json")
    )

    await dune.get_execution_results(EXECUTION_ID, sample_count=3, columns="ct")

    assert query_of(route.calls.last.request) == {"sample_count": "3", "columns": "ct"}


async def test_results_page_decodes_rows_into_the_row_type(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    router.get(f"/execution/{EXECUTION_ID}/results").respond(json=payload("results_completed.json"))

    page = await dune.results(EXECUTION_ID, row_type=TableCount).page()

    assert page.rows[1] == TableCount(TableName="eth_traces", ct=4474223)
    assert all(isinstance(row, TableCount) for row in page.rows)


async def test_get_execution_results_reports_row_counts_as_sent(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    body = payload("results_completed.json")
    body["result"]["rows"] = body["result"]["rows"][:2]
    body["result"]["metadata"].update(row_count=2, total_row_count=8)
    body.update(next_offset=2, next_uri=f"{API}/execution/{EXECUTION_ID}/results?offset=2&limit=2")
    router.get(f"/execution/{EXECUTION_ID}/results").respond(json=body)

    page = await dune.get_execution_results(EXECUTION_ID, limit=2)

    assert page.metadata is not None
    assert page.metadata.row_count == 2
    assert page.metadata.total_row_count == 8
    assert page.next_offset == 2
    assert len(page.rows) == 2


async def test_get_execution_results_decodes_the_openapi_example(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    example = openapi_example("models.ReadExecutionResultResponse")
    router.get(f"/execution/{example['execution_id']}/results").respond(json=example)

    page = await dune.get_execution_results(example["execution_id"])

    assert page.next_offset == 100
    assert page.next_uri == example["next_uri"]
    assert page.rows == []
    assert page.metadata is not None
    assert page.metadata.row_count == 10
    assert page.metadata.total_row_count == 1000


async def test_get_execution_results_csv_returns_the_body_and_next_page_headers(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    csv = payload_bytes("results_completed.csv")
    next_uri = f"{API}/execution/{EXECUTION_ID}/results/csv?offset=8&limit=8"
    route = router.get(f"/execution/{EXECUTION_ID}/results/csv").respond(
        content=csv,
        headers={
            "Content-Type": "text/csv",
            "x-dune-next-offset": "8",
            "x-dune-next-uri": next_uri,
        },
    )

    page = await dune.get_execution_results_csv(EXECUTION_ID, limit=8, columns="ct,TableName")

    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.path == f"/api/v1/execution/{EXECUTION_ID}/results/csv"
    assert query_of(request) == {"limit": "8", "columns": "ct,TableName"}
    assert_authenticated(request)
    assert page == CSVPage(data=csv, next_offset=8, next_uri=next_uri)
    assert b"4.474223e+06,eth_traces" in page.data


async def test_get_execution_results_csv_last_page_has_no_next_offset(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    router.get(f"/execution/{EXECUTION_ID}/results/csv").respond(
        content=payload_bytes("results_completed.csv"), headers={"Content-Type": "text/csv"}
    )

    page = await dune.get_execution_results_csv(EXECUTION_ID)

    assert page.next_offset is None
    assert page.next_uri is None


async def test_get_latest_result_reads_the_query_results_with_options(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.get("/query/980708/results").respond(json=payload("results_completed.json"))

    page = await dune.get_latest_result(980708, limit=5, allow_partial_results=False)

    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.path == "/api/v1/query/980708/results"
    assert query_of(request) == {"limit": "5", "allow_partial_results": "false"}
    assert_authenticated(request)
    assert page.query_id == 980708
    assert len(page.rows) == 8


async def test_latest_results_page_decodes_rows_into_the_row_type(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    router.get("/query/980708/results").respond(json=payload("results_completed.json"))

    page = await dune.latest_results(980708, row_type=TableCount).page()

    assert page.rows[-1] == TableCount(TableName="optimism_transactions", ct=120973)


async def test_get_latest_result_csv_reads_the_query_csv(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    csv = payload_bytes("results_completed.csv")
    route = router.get("/query/980708/results/csv").respond(
        content=csv, headers={"Content-Type": "text/csv", "x-dune-next-offset": "4"}
    )

    page = await dune.get_latest_result_csv(980708, limit=4, offset=0)

    request = route.calls.last.request
    assert request.url.path == "/api/v1/query/980708/results/csv"
    assert query_of(request) == {"limit": "4", "offset": "0"}
    assert_authenticated(request)
    assert page.data == csv
    assert page.next_offset == 4


async def test_get_next_results_follows_next_uri_with_its_query_string(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    first = openapi_example("models.ReadExecutionResultResponse")
    execution_id = first["execution_id"]
    router.get(f"/execution/{execution_id}/results", params={"offset": "0"}).respond(json=first)
    last = payload("results_completed.json")
    route = router.get(f"/execution/{execution_id}/results", params={"offset": "100"}).respond(
        json=last
    )
    page = await dune.get_execution_results(execution_id, offset=0)

    following = await dune.get_next_results(page)

    request = route.calls.last.request
    assert request.url.path == f"/api/v1/execution/{execution_id}/results"
    assert query_of(request) == {"offset": "100", "limit": "100"}
    assert_authenticated(request)
    assert following is not None
    assert len(following.rows) == 8
    assert await dune.get_next_results(following) is None
    assert len(router.calls) == 2


async def test_get_next_results_follows_a_relative_next_uri(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    first = payload("results_completed.json")
    first["next_uri"] = f"/api/v1/execution/{EXECUTION_ID}/results?offset=8&limit=8"
    route = router.get(f"/execution/{EXECUTION_ID}/results").respond(json=first)
    page = await dune.get_execution_results(EXECUTION_ID)

    following = await dune.get_next_results(page, row_type=TableCount)

    assert query_of(route.calls.last.request) == {"offset": "8", "limit": "8"}
    assert following is not None
    assert isinstance(following.rows[0], TableCount)


async def test_get_next_results_csv_follows_the_next_uri_header(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    csv = payload_bytes("results_completed.csv")
    header, *rows = csv.splitlines(keepends=True)
    first_uri = f"{API}/execution/{EXECUTION_ID}/results/csv?offset=4&limit=4"
    route = router.get(f"/execution/{EXECUTION_ID}/results/csv").mock(
        side_effect=[
            httpx.Response(
                200,
                content=header + b"".join(rows[:4]),
                headers={"x-dune-next-offset": "4", "x-dune-next-uri": first_uri},
            ),
            httpx.Response(200, content=header + b"".join(rows[4:])),
        ]
    )
    page = await dune.get_execution_results_csv(EXECUTION_ID, limit=4)

    following = await dune.get_next_results_csv(page)

    assert query_of(route.calls.last.request) == {"offset": "4", "limit": "4"}
    assert_authenticated(route.calls.last.request)
    assert following is not None
    assert following.data.endswith(b"120973,optimism_transactions\n")
    assert following.next_offset is None
    assert await dune.get_next_results_csv(following) is None
    assert route.call_count == 2


# -- pipelines ----------------------------------------------------------------------------------


async def test_pipelines_execute_posts_the_nodes(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.post("/pipelines/execute").respond(
        json=openapi_example("models.ExecutePipelineResponse")
    )
    nodes = [
        PipelineNode(
            id=1,
            query_execution=QueryExecutionNode(
                query_id=1234, performance="medium", query_parameters={"chain": "ethereum"}
            ),
        ),
        PipelineNode(
            id=2,
            dependencies=[1],
            materialized_view_refresh=MaterializedViewRefreshNode(name="mv_1"),
        ),
    ]

    started = await dune.pipelines.execute(Pipeline(nodes=nodes))

    body = assert_json_post(route.calls.last.request, "/api/v1/pipelines/execute")
    assert body == {
        "pipeline": {
            "nodes": [
                {
                    "id": 1,
                    "query_execution": {
                        "query_id": 1234,
                        "performance": "medium",
                        "query_parameters": {"chain": "ethereum"},
                    },
                },
                {
                    "id": 2,
                    "dependencies": [1],
                    "materialized_view_refresh": {"name": "mv_1"},
                },
            ]
        }
    }
    assert started.pipeline_execution_id == "01HKZJ2683PHF9Q9PHHQ8FW4Q1"


async def test_pipelines_execute_accepts_a_plain_list_of_nodes(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.post("/pipelines/execute").respond(
        json={"pipeline_execution_id": PIPELINE_EXECUTION_ID}
    )

    await dune.pipelines.execute(
        [PipelineNode(id=7, query_execution=QueryExecutionNode(query_id=1))]
    )

    assert sent_json(route.calls.last.request) == {
        "pipeline": {"nodes": [{"id": 7, "query_execution": {"query_id": 1}}]}
    }


async def test_pipelines_execute_posts_a_query_lineage_body(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.post("/pipelines/execute").respond(
        json={"pipeline_execution_id": PIPELINE_EXECUTION_ID}
    )

    started = await dune.pipelines.execute(
        query_id=1234, performance="large", parameters={"chain": "base"}
    )

    body = assert_json_post(route.calls.last.request, "/api/v1/pipelines/execute")
    assert body == {
        "query_id": 1234,
        "performance": "large",
        "query_parameters": {"chain": "base"},
    }
    assert started.pipeline_execution_id == PIPELINE_EXECUTION_ID


async def test_pipelines_execute_lineage_posts_performance_and_parameters(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.post("/query/1234/pipeline/execute").respond(
        json=openapi_example("models.ExecuteQueryPipelineResponse")
    )

    started = await dune.pipelines.execute_lineage(1234, parameters={"chain": "base"})

    body = assert_json_post(route.calls.last.request, "/api/v1/query/1234/pipeline/execute")
    # The OpenAPI description makes performance required: the default is sent.
    assert body == {"query_parameters": {"chain": "base"}, "performance": "medium"}
    assert started.pipeline_execution_id == "01HKZJ2683PHF9Q9PHHQ8FW4Q1"


async def test_pipelines_lineage_decodes_query_and_materialized_view_nodes(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.get("/query/1234/pipeline").respond(json=payload("query_pipeline.json"))

    pipeline = await dune.pipelines.lineage(1234)

    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.path == "/api/v1/query/1234/pipeline"
    assert_authenticated(request)
    first, second = pipeline.nodes
    assert first.id == 1
    assert first.query_execution == QueryExecutionNode(
        query_id=1234, performance="medium", query_parameters={"chain": "ethereum"}
    )
    assert first.materialized_view_refresh is None
    assert second.dependencies == [1]
    assert second.materialized_view_refresh == MaterializedViewRefreshNode(
        name="mv_1", performance="medium"
    )


async def test_pipelines_lineage_decodes_the_openapi_example(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    router.get("/query/1234/pipeline").respond(
        json=openapi_example("models.GetQueryPipelineResponse")
    )

    pipeline = await dune.pipelines.lineage(1234)

    (node,) = pipeline.nodes
    assert node.id == 1
    assert node.query_execution is not None
    assert node.query_execution.query_id == 1234


async def test_pipelines_lineage_without_a_pipeline_is_empty(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    router.get("/query/1234/pipeline").respond(json={})

    assert await dune.pipelines.lineage(1234) == Pipeline(nodes=[])


async def test_get_pipeline_status_reports_every_node_from_one_request(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    route = router.get(f"/pipelines/executions/{PIPELINE_EXECUTION_ID}/status").respond(
        json=payload("pipeline_status.json")
    )

    status = await dune.get_pipeline_status(PIPELINE_EXECUTION_ID)

    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.path == f"/api/v1/pipelines/executions/{PIPELINE_EXECUTION_ID}/status"
    assert_authenticated(request)
    assert route.call_count == 1
    assert status.status == "executing"
    assert not status.is_finished
    query_node, view_node = status.node_executions
    assert (query_node.id, query_node.kind, query_node.status) == (1, "query", "completed")
    assert query_node.execution_id == "01HKZJ2683PHF9Q9PHHQ8FW4Q1"
    assert query_node.query_execution_status is not None
    assert query_node.query_execution_status.query_id == 1234
    assert query_node.is_finished
    assert query_node.is_success
    assert (view_node.id, view_node.kind, view_node.status) == (2, "materialized_view", "executing")
    assert view_node.materialized_view_refresh_status is not None
    assert view_node.materialized_view_refresh_status.name == "mv_1"
    assert view_node.execution_id == "01HKZJ2683PHF9Q9PHHQ8FW4Q2"
    assert not view_node.is_finished


async def test_get_pipeline_status_decodes_failures_and_unknown_node_kinds(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    router.get(f"/pipelines/executions/{PIPELINE_EXECUTION_ID}/status").respond(
        json=payload("pipeline_status_failed.json")
    )

    status = await dune.get_pipeline_status(PIPELINE_EXECUTION_ID)

    assert status.status == "failed"
    assert status.is_finished
    assert status.error == "node 2 failed"
    _, view_node, unknown = status.node_executions
    assert view_node.error == "table mv_1 is archived"
    assert view_node.is_finished
    assert not view_node.is_success
    assert unknown.id == 3
    assert unknown.kind == "unknown"
    assert unknown.status is None
    assert unknown.execution_id is None


async def test_the_rate_limit_headers_of_the_latest_response_are_exposed(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    router.get(f"/execution/{EXECUTION_ID}/status").respond(
        json={},
        headers={
            "RateLimit-Policy": '"write";q=15;w=60, "read";q=40;w=60',
            "RateLimit": '"write";r=15;t=0, "read";r=38;t=41',
        },
    )
    router.get(f"/execution/{EXECUTION_ID}/results").respond(json={})

    await dune.get_execution_status(EXECUTION_ID)
    await dune.get_execution_results(EXECUTION_ID)  # no headers: the last ones are kept

    limits = dune.rate_limits
    assert limits is not None
    assert limits.policies["read"].quota == 40
    assert limits.states["read"].remaining == 38
    assert limits.states["read"].reset == 41
    assert limits.states["write"].remaining == 15
