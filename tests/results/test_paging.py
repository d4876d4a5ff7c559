"""Whole-result JSON reads: order, exactness, page sizes, states, identity and typed rows."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import msgspec
import pytest

from duneasync import (
    BadRequestError,
    ConfigurationError,
    ExecutionCancelledError,
    ExecutionExpiredError,
    ExecutionFailedError,
    PartialResultError,
    ResponseValidationError,
    ResultChangedError,
    ResultNotReadyError,
    ServerError,
)

from .conftest import ClientFactory
from .minidune import CAP, MiniDune, make_rows

pytestmark = pytest.mark.anyio


def _offsets(server: MiniDune) -> list[int]:
    return [int(params["offset"]) for _, params in server.requests]


async def test_all_rows_arrive_once_and_in_order(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(10_000))
    dune = clients(server.transport())
    result = await dune.results(server.execution_id).all(page_size=700, concurrency=3)
    assert [row["id"] for row in result.rows] == list(range(10_000))
    assert result.next_offset is None
    assert result.next_uri is None
    assert result.execution_id == server.execution_id


async def test_metadata_describes_the_whole_result_not_a_page(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(2_500))
    result = await clients(server.transport()).results(server.execution_id).all(page_size=1_000)
    metadata = result.metadata
    assert metadata is not None
    assert metadata.row_count == 2_500
    assert metadata.total_row_count == 2_500
    assert metadata.datapoint_count == 2_500 * 3
    assert metadata.result_set_bytes == 10 * 2_500  # the pages' own sizes, each counted once
    assert metadata.column_names == ["id", "c1", "c2"]


async def test_pages_are_requested_by_offset_and_limit_without_overlap(
    clients: ClientFactory,
) -> None:
    server = MiniDune(make_rows(5_000))
    await clients(server.transport()).results(server.execution_id).all(page_size=2_000)
    spans = sorted(
        (int(p["offset"]), int(p["offset"]) + int(p["limit"])) for _, p in server.requests
    )
    # A 1,000-row first page learns the shape, then pages of 2,000 cover the rest exactly.
    assert spans == [(0, 1_000), (1_000, 3_000), (3_000, 5_000)]


async def test_failed_page_requests_are_retried_without_gaps_or_duplicates(
    clients: ClientFactory,
) -> None:
    failures = {3: 500, 4: 503, 6: 429, 9: 502}
    server = MiniDune(make_rows(9_000), fail=lambda n, _: failures.get(n))
    reader = clients(server.transport()).results(server.execution_id)
    result = await reader.all(page_size=1_000, concurrency=4)
    assert [row["id"] for row in result.rows] == list(range(9_000))
    assert len(server.requests) == 9 + len(failures)


async def test_a_page_that_keeps_failing_raises_its_error(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(3_000), fail=lambda n, p: 500 if p["offset"] == "2000" else None)
    with pytest.raises(ServerError):
        await clients(server.transport()).results(server.execution_id).all(page_size=1_000)


async def test_default_page_size_keeps_every_page_under_the_datapoint_cap(
    clients: ClientFactory,
) -> None:
    # This server refuses (400) any request over the cap instead of cutting it.
    server = MiniDune(make_rows(30_000, columns=10), refuse_over_cap=True)
    result = await clients(server.transport()).results(server.execution_id).all()
    assert len(result.rows) == 30_000
    limits = {int(p["limit"]) for _, p in server.requests}
    assert max(limits) == CAP // 10
    assert all(limit * 10 <= CAP for limit in limits)


async def test_a_page_size_over_the_cap_is_lowered_to_fit(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(30_000, columns=10), refuse_over_cap=True)
    dune = clients(server.transport())
    rows = [row["id"] async for row in dune.results(server.execution_id).rows(page_size=50_000)]
    assert rows == list(range(30_000))
    assert max(int(p["limit"]) for _, p in server.requests) == CAP // 10


async def test_ignoring_the_cap_lets_the_page_size_through(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(30_000, columns=10), refuse_over_cap=True)
    dune = clients(server.transport())
    reader = dune.results(server.execution_id, ignore_max_datapoints_per_request=True)
    result = await reader.all(page_size=29_000)
    assert len(result.rows) == 30_000
    assert max(int(p["limit"]) for _, p in server.requests) == 29_000


async def test_known_columns_size_even_the_first_page(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(30_000, columns=4))
    reader = clients(server.transport()).results(server.execution_id, columns=["id", "c1"])
    result = await reader.all()
    assert result.rows[5] == {"id": 5, "c1": "v5_1"}
    assert [int(p["limit"]) for _, p in server.requests] == [CAP // 2]


async def test_a_server_that_lowers_the_limit_is_followed_to_the_end(
    clients: ClientFactory,
) -> None:
    server = MiniDune(make_rows(10_000), lower_limit_to=300)
    result = await clients(server.transport()).results(server.execution_id).all(page_size=2_000)
    assert [row["id"] for row in result.rows] == list(range(10_000))
    # Each range continued from where the server stopped: no offset was read twice, and every
    # request after the first started where an earlier one ended.
    offsets = sorted(_offsets(server))
    assert len(offsets) == len(set(offsets))
    ends = {0} | {int(p["offset"]) + min(int(p["limit"]), 300) for _, p in server.requests}
    assert set(offsets) <= ends


async def test_pages_come_in_order_while_requests_overlap(clients: ClientFactory) -> None:
    in_flight = 0
    most = 0
    server = MiniDune(make_rows(20_000))

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        for _ in range(5):
            await anyio.lowlevel.checkpoint()
        in_flight -= 1
        return server.handle(request)

    dune = clients(httpx.MockTransport(handler))
    starts = [
        page.rows[0]["id"]
        async for page in dune.results(server.execution_id).pages(page_size=1_000, concurrency=3)
    ]
    assert starts == list(range(0, 20_000, 1_000))
    assert most == 3
    most = 0
    result = await dune.results(server.execution_id).all(page_size=1_000, concurrency=5)
    assert len(result.rows) == 20_000
    assert most == 5


async def test_breaking_out_of_a_row_loop_leaves_nothing_running(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(10_000))
    dune = clients(server.transport())
    seen = 0
    async with aclosing(
        dune.results(server.execution_id).rows(page_size=1_000, concurrency=2)
    ) as rows:
        async for _row in rows:
            seen += 1
            if seen == 1_500:
                break
    sent = len(server.requests)
    await anyio.sleep(0.01)
    # The first page, then one batch of two: nothing was fetched ahead in the background.
    assert len(server.requests) == sent == 3


async def test_a_different_execution_behind_the_query_is_an_error(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(5_000), switch_execution_after=2)
    dune = clients(server.transport())
    with pytest.raises(ResultChangedError, match="moved from execution"):
        await dune.latest_results(7).all(page_size=1_000, concurrency=1)


async def test_latest_result_of_a_query_reads_every_row(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(3_333))
    dune = clients(server.transport())
    result = await dune.latest_results(7).all(page_size=500)
    assert [row["id"] for row in result.rows] == list(range(3_333))
    assert {path for path, _ in server.requests} == {"/api/v1/query/7/results"}


async def test_a_result_that_shrinks_mid_read_is_an_error(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(5_000))

    def shrink(number: int, _: dict[str, str]) -> None:
        if number == 2:
            del server.rows[3_000:]

    server.fail = shrink
    with pytest.raises(ResultChangedError):
        await clients(server.transport()).results(server.execution_id).all(page_size=1_000)


async def test_partial_result_raises_unless_allowed(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(2_000), state="QUERY_STATE_COMPLETED_PARTIAL")
    dune = clients(server.transport())
    with pytest.raises(PartialResultError) as caught:
        await dune.results(server.execution_id).all()
    assert caught.value.status.state == "QUERY_STATE_COMPLETED_PARTIAL"
    assert caught.value.execution_id == server.execution_id


async def test_partial_result_is_delivered_and_marked_when_allowed(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(2_000), state="QUERY_STATE_COMPLETED_PARTIAL")
    dune = clients(server.transport())
    reader = dune.results(server.execution_id, allow_partial_results=True)
    result = await reader.all(page_size=500)
    assert result.is_partial
    assert len(result.rows) == 2_000


@pytest.mark.parametrize(
    ("state", "error"),
    [
        ("QUERY_STATE_PENDING", ResultNotReadyError),
        ("QUERY_STATE_EXECUTING", ResultNotReadyError),
        ("QUERY_STATE_FAILED", ExecutionFailedError),
        ("QUERY_STATE_CANCELLED", ExecutionCancelledError),
        ("QUERY_STATE_EXPIRED", ExecutionExpiredError),
    ],
)
async def test_an_execution_without_a_result_raises_its_error(
    clients: ClientFactory, state: str, error: type[Exception]
) -> None:
    server = MiniDune(make_rows(10), state=state)
    dune = clients(server.transport())
    with pytest.raises(error):
        await dune.results(server.execution_id).all()
    with pytest.raises(error):
        async for _ in dune.results(server.execution_id).rows():
            pass  # pragma: no cover - nothing is yielded


class Trade(msgspec.Struct):
    id: int
    c1: str


async def test_typed_rows_are_decoded_into_the_callers_struct(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(3_000))
    dune = clients(server.transport())
    reader = dune.results(server.execution_id, row_type=Trade)
    result = await reader.all(page_size=1_000)
    assert result.rows[2_999] == Trade(id=2_999, c1="v2999_1")
    streamed = [row async for row in reader.rows()]
    assert streamed == result.rows


async def test_rows_that_do_not_fit_the_row_type_are_one_request_and_a_validation_error(
    clients: ClientFactory,
) -> None:
    class Wrong(msgspec.Struct):
        id: str

    server = MiniDune(make_rows(10))
    reader = clients(server.transport()).results(server.execution_id, row_type=Wrong)
    with pytest.raises(ResponseValidationError, match="Expected `str`, got `int`"):
        await reader.all()
    assert len(server.requests) == 1
    with pytest.raises(ResponseValidationError, match="Expected `str`, got `int`"):
        async for _ in reader.rows():
            pass  # pragma: no cover - nothing is yielded
    assert len(server.requests) == 2


async def test_an_empty_result_is_one_request(clients: ClientFactory) -> None:
    server = MiniDune([])
    result = await clients(server.transport()).results(server.execution_id).all()
    assert result.rows == []
    assert len(server.requests) == 1


@pytest.mark.parametrize("options", [{"limit": 5}, {"offset": 3}, {"sample_count": 2}])
async def test_single_page_options_are_refused_when_the_reader_is_made(
    clients: ClientFactory, options: dict[str, Any]
) -> None:
    server = MiniDune(make_rows(10))
    dune = clients(server.transport())
    with pytest.raises(ConfigurationError):
        dune.results(server.execution_id, **options)
    with pytest.raises(ConfigurationError):
        dune.latest_results(7, **options)
    assert server.requests == []


@pytest.mark.parametrize("options", [{"page_size": 0}, {"concurrency": 0}])
async def test_paging_options_are_refused_before_sending(
    clients: ClientFactory, options: dict[str, Any]
) -> None:
    server = MiniDune(make_rows(10))
    with pytest.raises(ConfigurationError):
        await clients(server.transport()).results(server.execution_id).all(**options)
    assert server.requests == []


async def test_a_bad_filter_is_the_servers_400(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(10), fail=lambda n, p: 400 if "filters" in p else None)
    with pytest.raises(BadRequestError):
        await clients(server.transport()).results(server.execution_id, filters="x >").all()
