"""Results paging, caps, column selection, sampling, filters, sorting, CSV and partial results."""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from duneasync.testing import (
    COMPLETED_PARTIAL,
    DATAPOINT_CAP,
    Column,
    ExecutionScript,
    FakeDune,
    ManualClock,
    Table,
)

from .conftest import client_for, completed_query, execute

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    # Paging logic lives in the sans-io core; running it on both backends would only repeat
    # what test_lifecycle and test_faults already show about the transport.
    return "asyncio"


SMALL = Table(
    [Column("n", "bigint"), Column("name", "varchar"), Column("score", "double")],
    [
        (1, "ada", 9.5),
        (2, "bob", None),
        (3, "cyd", 7.25),
        {"n": 4, "name": "it's", "score": 1e20},
        (5, "eve", 7.25),
    ],
)


async def results(http: httpx.AsyncClient, eid: str, **params: object) -> httpx.Response:
    return await http.get(f"/api/v1/execution/{eid}/results", params=params)


@pytest.fixture
async def small(fake: FakeDune, http: httpx.AsyncClient) -> str:
    completed_query(fake, 1, SMALL)
    return await execute(http, 1)


async def test_limit_and_offset_page_through_with_next_offset_and_next_uri(
    small: str, http: httpx.AsyncClient
) -> None:
    first = (await results(http, small, limit=2)).json()
    assert [r["n"] for r in first["result"]["rows"]] == [1, 2]
    assert first["result"]["metadata"]["row_count"] == 2
    assert first["result"]["metadata"]["total_row_count"] == 5
    assert first["next_offset"] == 2
    uri = urlsplit(first["next_uri"])
    assert (uri.scheme, uri.netloc, uri.path) == (
        "https",
        "api.dune.com",
        f"/api/v1/execution/{small}/results",
    )
    assert parse_qs(uri.query) == {"offset": ["2"], "limit": ["2"]}
    second = (await http.get(first["next_uri"])).json()
    assert [r["n"] for r in second["result"]["rows"]] == [3, 4]
    last = (await http.get(second["next_uri"])).json()
    assert [r["n"] for r in last["result"]["rows"]] == [5]
    assert "next_offset" not in last
    assert "next_uri" not in last


async def test_rows_are_objects_keyed_by_column_and_nulls_are_null(
    small: str, http: httpx.AsyncClient
) -> None:
    rows = (await results(http, small)).json()["result"]["rows"]
    assert rows[1] == {"n": 2, "name": "bob", "score": None}
    assert rows[3]["name"] == "it's"


async def test_server_caps_rows_per_page_and_next_offset_says_where_to_go_on(
    clock: ManualClock,
) -> None:
    fake = FakeDune(clock=clock, max_page_rows=3)
    completed_query(fake, 1, Table.generated(10))
    async with client_for(fake) as http:
        eid = await execute(http, 1)
        seen: list[int] = []
        offset = 0
        pages = 0
        while True:
            body = (await results(http, eid, limit=1000, offset=offset)).json()
            rows = body["result"]["rows"]
            assert len(rows) <= 3
            seen += [r["id"] for r in rows]
            pages += 1
            if "next_offset" not in body:
                break
            offset = body["next_offset"]
    assert seen == list(range(10))
    assert pages == 4


async def test_next_uri_uses_the_host_the_request_came_to(
    fake: FakeDune, clock: ManualClock
) -> None:
    completed_query(fake, 1, SMALL)
    async with httpx.AsyncClient(
        transport=fake.transport(),
        base_url="http://localhost:9999",
        headers={"X-Dune-Api-Key": fake.api_key},
    ) as http:
        eid = await execute(http, 1)
        body = (await results(http, eid, limit=1, columns="name")).json()
    assert body["next_uri"].startswith(f"http://localhost:9999/api/v1/execution/{eid}/results?")
    assert parse_qs(urlsplit(body["next_uri"]).query)["columns"] == ["name"]


async def test_datapoint_cap_limits_rows_unless_ignored(
    fake: FakeDune, http: httpx.AsyncClient
) -> None:
    completed_query(fake, 1, Table.generated(50_000))
    eid = await execute(http, 1)
    per_page = DATAPOINT_CAP // 6
    capped = (await results(http, eid)).json()
    assert capped["result"]["metadata"]["row_count"] == per_page == 41_666
    assert capped["next_offset"] == per_page
    asked_too_much = (await results(http, eid, limit=50_000)).json()
    assert asked_too_much["result"]["metadata"]["row_count"] == per_page
    two_columns = (await results(http, eid, columns="id,symbol")).json()
    assert two_columns["result"]["metadata"]["row_count"] == 50_000
    assert two_columns["result"]["metadata"]["datapoint_count"] == 100_000
    ignored = (await results(http, eid, ignore_max_datapoints_per_request="true")).json()
    assert ignored["result"]["metadata"]["row_count"] == 50_000
    assert "next_offset" not in ignored


async def test_columns_select_and_order_and_unknown_column_is_400(
    small: str, http: httpx.AsyncClient
) -> None:
    body = (await results(http, small, columns="score,n")).json()
    assert body["result"]["rows"][0] == {"score": 9.5, "n": 1}
    assert list(body["result"]["rows"][0]) == ["score", "n"]
    assert body["result"]["metadata"]["column_names"] == ["score", "n"]
    assert body["result"]["metadata"]["column_types"] == ["double", "bigint"]
    bad = await results(http, small, columns="n,nope")
    assert bad.status_code == 400
    assert "nope" in bad.json()["error"]


async def test_sample_count_returns_spread_rows_and_rejects_paging_or_filters(
    small: str, http: httpx.AsyncClient
) -> None:
    body = (await results(http, small, sample_count=2)).json()
    assert [r["n"] for r in body["result"]["rows"]] == [1, 3]
    assert "next_offset" not in body
    for extra in ({"limit": 1}, {"offset": 1}, {"filters": "n > 1"}):
        response = await results(http, small, sample_count=2, **extra)
        assert response.status_code == 400, extra


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("n = 3", [3]),
        ("n != 3", [1, 2, 4, 5]),
        ("n <> 3", [1, 2, 4, 5]),
        ("n > 3", [4, 5]),
        ("n >= 3", [3, 4, 5]),
        ("n < 3", [1, 2]),
        ("n <= 3", [1, 2, 3]),
        ("score = 7.25 AND n > 3", [5]),
        ("score < 8", [3, 5]),
        ("name = 'it''s'", [4]),
        ("name > 'b' and name < 'd'", [2, 3]),
        ('"n" = 1', [1]),
    ],
)
async def test_filters_support_a_documented_subset(
    small: str, http: httpx.AsyncClient, expression: str, expected: list[int]
) -> None:
    body = (await results(http, small, filters=expression)).json()
    assert [r["n"] for r in body["result"]["rows"]] == expected
    assert body["result"]["metadata"]["total_row_count"] == len(expected)


@pytest.mark.parametrize(
    "expression",
    ["n = ", "n ~ 3", "nope = 1", "n = 1 OR n = 2", "n = 'x'", "name = 3", "n in (1, 2)", "'a'"],
)
async def test_filters_outside_the_subset_are_400(
    small: str, http: httpx.AsyncClient, expression: str
) -> None:
    response = await results(http, small, filters=expression)
    assert response.status_code == 400
    assert response.json()["error"]


async def test_sort_by_orders_rows_with_nulls_last_and_pages_in_that_order(
    small: str, http: httpx.AsyncClient
) -> None:
    desc = (await results(http, small, sort_by="score desc, n desc")).json()
    assert [r["n"] for r in desc["result"]["rows"]] == [4, 1, 5, 3, 2]
    asc = (await results(http, small, sort_by="score", limit=3)).json()
    assert [r["n"] for r in asc["result"]["rows"]] == [3, 5, 1]
    rest = (await http.get(asc["next_uri"])).json()
    assert [r["n"] for r in rest["result"]["rows"]] == [4, 2]
    for bad in ("nope", "n sideways", "n asc desc"):
        assert (await results(http, small, sort_by=bad)).status_code == 400


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": "x"}, {"offset": -1}, {"allow_partial_results": "maybe"}],
)
async def test_malformed_options_are_400(
    small: str, http: httpx.AsyncClient, params: dict[str, object]
) -> None:
    assert (await results(http, small, **params)).status_code == 400


async def test_partial_results_need_allow_partial_results(
    fake: FakeDune, http: httpx.AsyncClient
) -> None:
    script = ExecutionScript(final_state=COMPLETED_PARTIAL, partial_rows=2)
    fake.add_query(1, SMALL, script=script)
    eid = await execute(http, 1)
    refused = await results(http, eid)
    assert refused.status_code == 400
    assert "allow_partial_results" in refused.json()["error"]
    assert (await http.get(f"/api/v1/execution/{eid}/results/csv")).status_code == 400
    allowed = (await results(http, eid, allow_partial_results="true")).json()
    assert allowed["state"] == COMPLETED_PARTIAL
    assert [r["n"] for r in allowed["result"]["rows"]] == [1, 2]
    assert allowed["result"]["metadata"]["total_row_count"] == 2
    status = (await http.get(f"/api/v1/execution/{eid}/status")).json()
    assert status["result_metadata"]["total_row_count"] == 2


async def test_csv_has_header_and_rows_and_next_page_in_headers(
    small: str, http: httpx.AsyncClient
) -> None:
    response = await http.get(f"/api/v1/execution/{small}/results/csv", params={"limit": 4})
    assert response.headers["content-type"] == "text/csv"
    assert response.headers["x-dune-next-offset"] == "4"
    assert response.headers["x-dune-next-uri"].endswith(f"{small}/results/csv?offset=4&limit=4")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [
        ["n", "name", "score"],
        ["1", "ada", "9.5"],
        ["2", "bob", ""],
        ["3", "cyd", "7.25"],
        ["4", "it's", "1e+20"],
    ]
    last = await http.get(response.headers["x-dune-next-uri"])
    assert last.text == "n,name,score\n5,eve,7.25\n"
    assert "x-dune-next-offset" not in last.headers
    assert "x-dune-next-uri" not in last.headers


async def test_csv_writes_booleans_and_arrays_readably(
    fake: FakeDune, http: httpx.AsyncClient
) -> None:
    table = Table([Column("ok", "boolean"), Column("tags", "array(varchar)")], [(True, ["a", "b"])])
    completed_query(fake, 1, table)
    eid = await execute(http, 1)
    csv_text = (await http.get(f"/api/v1/execution/{eid}/results/csv")).text
    assert csv_text == 'ok,tags\ntrue,"[""a"",""b""]"\n'


async def test_results_of_an_unfinished_execution_carry_status_but_no_result(
    fake: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    fake.add_query(1, SMALL, script=ExecutionScript.completed(executing=5))
    eid = await execute(http, 1)
    body = (await results(http, eid)).json()
    assert body["state"] == "QUERY_STATE_EXECUTING"
    assert body["is_execution_finished"] is False
    assert "result" not in body
    csv_response = await http.get(f"/api/v1/execution/{eid}/results/csv")
    assert csv_response.status_code == 400
    clock.advance(5)
    assert "result" in (await results(http, eid)).json()


async def test_query_results_serve_the_latest_completed_execution(
    fake: FakeDune, clock: ManualClock, http: httpx.AsyncClient
) -> None:
    tables = iter([Table.generated(1), Table.generated(2), Table.generated(3)])
    durations = iter([1.0, 5.0, 2.0])
    fake.add_query(
        1,
        lambda _: next(tables),
        script=lambda _: ExecutionScript.completed(executing=next(durations)),
    )
    none_yet = await http.get("/api/v1/query/1/results")
    assert none_yet.status_code == 404
    assert (await http.get("/api/v1/query/2/results")).status_code == 404
    for _ in range(3):
        await execute(http, 1)
    clock.advance(1.5)
    first = (await http.get("/api/v1/query/1/results")).json()
    assert first["result"]["metadata"]["total_row_count"] == 1
    clock.advance(1.0)
    latest = (await http.get("/api/v1/query/1/results")).json()
    assert latest["result"]["metadata"]["total_row_count"] == 3
    clock.advance(10.0)
    newest = await http.get("/api/v1/query/1/results/csv", params={"limit": 1})
    assert (
        newest.text
        == "id,amount,symbol,block_time,address,maybe_count\n" + newest.text.split("\n")[1] + "\n"
    )
    assert newest.headers["x-dune-next-uri"].startswith(
        "https://api.dune.com/api/v1/query/1/results/csv?"
    )
    assert (await http.get("/api/v1/query/1/results")).json()["result"]["metadata"][
        "total_row_count"
    ] == 2


async def test_generated_tables_are_deterministic_and_page_consistently(
    fake: FakeDune, http: httpx.AsyncClient
) -> None:
    completed_query(fake, 1, Table.generated(200_000, seed=3))
    eid = await execute(http, 1)
    whole = (await results(http, eid, offset=150_000, limit=10)).json()["result"]["rows"]
    again = (await results(http, eid, offset=150_005, limit=5)).json()["result"]["rows"]
    assert whole[5:] == again
    assert [r["id"] for r in whole] == list(range(150_000, 150_010))
    for row in whole:
        assert row["address"].startswith("0x")
        assert len(row["address"]) == 42
        assert row["block_time"].endswith(" UTC")
        assert 0 <= row["amount"] < 10_000
    other_seed = Table.generated(200_000, seed=4).rows([150_000])[0]
    assert other_seed[1] != whole[0]["amount"]
    nulls = sum(
        v is None for (v,) in Table.generated(10_000, columns=[Column("x", "bigint", 0.1)]).rows()
    )
    assert 800 < nulls < 1200
