"""Impossible options, unsafe ids and foreign next-page links are refused before sending."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import respx

from duneasync import (
    ConfigurationError,
    DuneClient,
    MaterializedViewRefreshNode,
    PipelineNode,
    QueryExecutionNode,
    UnsafeURLError,
)

from .helpers import EXECUTION_ID, payload

pytestmark = pytest.mark.anyio

ResultCall = Callable[..., Awaitable[object]]

RESULT_CALLS: dict[str, Callable[[DuneClient], ResultCall]] = {
    "execution-json": lambda dune: lambda **o: dune.get_execution_results(EXECUTION_ID, **o),
    "execution-csv": lambda dune: lambda **o: dune.get_execution_results_csv(EXECUTION_ID, **o),
    "latest-json": lambda dune: lambda **o: dune.get_latest_result(1234, **o),
    "latest-csv": lambda dune: lambda **o: dune.get_latest_result_csv(1234, **o),
}


@pytest.fixture(params=sorted(RESULT_CALLS))
def read_results(request: pytest.FixtureRequest, dune: DuneClient) -> ResultCall:
    """Each of the four results calls, taking the result options."""
    return RESULT_CALLS[request.param](dune)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"sample_count": 10, "limit": 5}, "limit"),
        ({"sample_count": 10, "offset": 5}, "offset"),
        ({"sample_count": 10, "filters": "ct > 1"}, "filters"),
        (
            {"sample_count": 10, "limit": 5, "offset": 0, "filters": "ct > 1"},
            "limit, offset, filters",
        ),
    ],
)
async def test_sample_count_with_paging_or_filters_is_refused_naming_the_clash(
    read_results: ResultCall, router: respx.MockRouter, options: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"sample_count cannot be combined with {named}"):
        await read_results(**options)

    assert len(router.calls) == 0


async def test_an_unknown_result_option_is_refused_by_name(
    read_results: ResultCall, router: respx.MockRouter
) -> None:
    with pytest.raises(ConfigurationError, match=r"unknown result option\(s\): limt, page"):
        await read_results(limt=10, page=2)

    assert len(router.calls) == 0


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": -5}, "limit"),
        ({"limit": "100"}, "limit"),
        ({"limit": 2.5}, "limit"),
        ({"limit": True}, "limit"),
        ({"offset": -1}, "offset"),
        ({"sample_count": 0}, "sample_count"),
        ({"columns": ""}, "columns"),
        ({"columns": []}, "columns"),
        ({"columns": ["ct", ""]}, "columns"),
        ({"columns": ["ct,TableName"]}, "columns"),
        ({"columns": [1, 2]}, "columns"),
        ({"sort_by": "  "}, "sort_by"),
        ({"filters": ""}, "filters"),
        ({"filters": 5}, "filters"),
        ({"allow_partial_results": "yes"}, "allow_partial_results"),
        ({"ignore_max_datapoints_per_request": 1}, "ignore_max_datapoints_per_request"),
    ],
)
async def test_a_bad_option_value_is_refused_by_name(
    read_results: ResultCall, router: respx.MockRouter, options: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        await read_results(**options)

    assert len(router.calls) == 0


BAD_QUERY_IDS = [0, -1, "1234", "1/../2", 12.0, True, None]

QUERY_ID_CALLS: dict[str, Callable[[DuneClient, Any], Awaitable[object]]] = {
    "execute_query": lambda dune, q: dune.execute_query(q),
    "get_latest_result": lambda dune, q: dune.get_latest_result(q),
    "get_latest_result_csv": lambda dune, q: dune.get_latest_result_csv(q),
    "pipelines.execute_lineage": lambda dune, q: dune.pipelines.execute_lineage(q),
    "pipelines.lineage": lambda dune, q: dune.pipelines.lineage(q),
    "pipelines.execute": lambda dune, q: dune.pipelines.execute(query_id=q),
}


@pytest.mark.parametrize("query_id", BAD_QUERY_IDS, ids=repr)
@pytest.mark.parametrize("method", sorted(QUERY_ID_CALLS))
async def test_a_query_id_that_is_not_a_positive_int_is_refused(
    dune: DuneClient, router: respx.MockRouter, method: str, query_id: Any
) -> None:
    with pytest.raises(ConfigurationError):
        await QUERY_ID_CALLS[method](dune, query_id)

    assert len(router.calls) == 0


async def test_a_query_id_refusal_shows_the_value(dune: DuneClient) -> None:
    with pytest.raises(ConfigurationError, match=r"query_id must be a positive integer, not '1/x'"):
        await dune.execute_query("1/x")  # type: ignore[arg-type]


BAD_EXECUTION_IDS = ["../x", "a/b", "a?b", "a#b", "a b", "%2e%2e", "", "x" * 129, 42, None]

EXECUTION_ID_CALLS: dict[str, Callable[[DuneClient, Any], Awaitable[object]]] = {
    "get_execution_status": lambda dune, e: dune.get_execution_status(e),
    "get_execution_results": lambda dune, e: dune.get_execution_results(e),
    "get_execution_results_csv": lambda dune, e: dune.get_execution_results_csv(e),
    "cancel_execution": lambda dune, e: dune.cancel_execution(e),
    "get_pipeline_status": lambda dune, e: dune.get_pipeline_status(e),
}


@pytest.mark.parametrize("execution_id", BAD_EXECUTION_IDS, ids=repr)
@pytest.mark.parametrize("method", sorted(EXECUTION_ID_CALLS))
async def test_an_execution_id_that_could_change_the_path_is_refused(
    dune: DuneClient, router: respx.MockRouter, method: str, execution_id: Any
) -> None:
    with pytest.raises(ConfigurationError, match="must be 1-128 letters, digits"):
        await EXECUTION_ID_CALLS[method](dune, execution_id)

    assert len(router.calls) == 0


@pytest.mark.parametrize("sql", ["", "   \n", None, b"select 1"], ids=repr)
async def test_execute_sql_refuses_empty_or_non_text_sql(
    dune: DuneClient, router: respx.MockRouter, sql: Any
) -> None:
    with pytest.raises(ConfigurationError, match="sql must be a non-empty string"):
        await dune.execute_sql(sql)

    assert len(router.calls) == 0


QUERY_NODE = QueryExecutionNode(query_id=1234)
VIEW_NODE = MaterializedViewRefreshNode(name="mv_1")


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({}, "either pipeline"),
        ({"pipeline": [PipelineNode(id=1, query_execution=QUERY_NODE)], "query_id": 1}, "not both"),
        (
            {"pipeline": [PipelineNode(id=1, query_execution=QUERY_NODE)], "performance": "large"},
            "go on each node",
        ),
        ({"pipeline": []}, "at least one node"),
        (
            {
                "pipeline": [
                    PipelineNode(id=1, query_execution=QUERY_NODE),
                    PipelineNode(id=1, materialized_view_refresh=VIEW_NODE),
                ]
            },
            "unique",
        ),
        (
            {"pipeline": [PipelineNode(id=1, dependencies=[9], query_execution=QUERY_NODE)]},
            r"node 1 depends on unknown node\(s\) \[9\]",
        ),
        ({"pipeline": [PipelineNode(id=1)]}, "node 1 needs exactly one of"),
        (
            {
                "pipeline": [
                    PipelineNode(
                        id=1, query_execution=QUERY_NODE, materialized_view_refresh=VIEW_NODE
                    )
                ]
            },
            "node 1 needs exactly one of",
        ),
    ],
    ids=[
        "neither",
        "both",
        "performance-with-nodes",
        "empty",
        "duplicate-ids",
        "unknown-dependency",
        "no-kind",
        "two-kinds",
    ],
)
async def test_pipelines_execute_refuses_a_pipeline_the_server_would_refuse(
    dune: DuneClient, router: respx.MockRouter, arguments: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ConfigurationError, match=reason):
        await dune.pipelines.execute(**arguments)

    assert len(router.calls) == 0


# -- next-page links ----------------------------------------------------------------------------


FOREIGN_LINKS = [
    "https://evil.example/api/v1/execution/X/results?offset=8",
    "//evil.example/api/v1/execution/X/results?offset=8",
    "https://api.dune.com@evil.example/api/v1/execution/X/results?offset=8",
    "http://api.dune.com/api/v1/execution/X/results?offset=8",
    "https://api.dune.com:8443/api/v1/execution/X/results?offset=8",
    "https://api.dune.com.evil.example/api/v1/execution/X/results?offset=8",
]


@pytest.mark.parametrize("next_uri", FOREIGN_LINKS)
async def test_a_next_uri_to_another_origin_raises_unsafe_url_and_sends_nothing(
    dune: DuneClient, router: respx.MockRouter, next_uri: str
) -> None:
    first = payload("results_completed.json")
    first["next_uri"] = next_uri
    router.get(f"/execution/{EXECUTION_ID}/results").respond(json=first)
    page = await dune.get_execution_results(EXECUTION_ID)

    with pytest.raises(UnsafeURLError) as caught:
        await dune.get_next_results(page)

    assert "refusing to send the API key" in str(caught.value)
    assert [call.request.url.host for call in router.calls] == ["api.dune.com"]


@pytest.mark.parametrize("next_uri", FOREIGN_LINKS)
async def test_a_csv_next_uri_to_another_origin_raises_unsafe_url_and_sends_nothing(
    dune: DuneClient, router: respx.MockRouter, next_uri: str
) -> None:
    router.get(f"/execution/{EXECUTION_ID}/results/csv").respond(
        content=b"ct\n1\n", headers={"x-dune-next-offset": "1", "x-dune-next-uri": next_uri}
    )
    page = await dune.get_execution_results_csv(EXECUTION_ID)

    with pytest.raises(UnsafeURLError):
        await dune.get_next_results_csv(page)

    assert len(router.calls) == 1


async def test_a_next_uri_outside_the_api_is_refused(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    first = payload("results_completed.json")
    first["next_uri"] = "https://api.dune.com/account/delete?confirm=1"
    router.get(f"/execution/{EXECUTION_ID}/results").respond(json=first)
    page = await dune.get_execution_results(EXECUTION_ID)

    with pytest.raises(UnsafeURLError, match="outside the API"):
        await dune.get_next_results(page)

    assert len(router.calls) == 1


async def test_a_next_uri_on_the_configured_origin_with_the_default_port_is_followed(
    dune: DuneClient, router: respx.MockRouter
) -> None:
    first = payload("results_completed.json")
    first["next_uri"] = f"https://api.dune.com:443/api/v1/execution/{EXECUTION_ID}/results?offset=8"
    route = router.get(f"/execution/{EXECUTION_ID}/results").respond(json=first)
    page = await dune.get_execution_results(EXECUTION_ID)

    await dune.get_next_results(page)

    assert route.call_count == 2
