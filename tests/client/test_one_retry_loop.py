"""One retry loop: body checks run inside the request's single retry policy, polls are not retried.

Each case pins the exact number of requests the server saw, so that a second loop around the
first (attempts x attempts requests) or a poll retried inside the scheduler's own re-polling
shows up as a wrong count.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import msgspec
import pytest

from duneasync import (
    DuneClient,
    PollPolicy,
    ResponseDecodeError,
    ResponseValidationError,
    ResultReader,
    RetryPolicy,
)
from duneasync.testing import Column, ExecutionScript, FakeDune, Fault, Table

from ..support.virtual_time import VIRTUAL_TIME_BACKENDS

pytestmark = pytest.mark.anyio

ROWS = 10
STEADY = PollPolicy(first_delay=1.0, min_interval=1.0, growth=0.0, jitter=0.0)


@pytest.fixture(params=VIRTUAL_TIME_BACKENDS, ids=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


class Row(msgspec.Struct):
    n: int
    word: str


class WrongRow(msgspec.Struct):
    n: str  # the server sends numbers
    word: str


@pytest.fixture
async def fake(anyio_backend: object) -> FakeDune:
    fake = FakeDune(clock=anyio.current_time, seed=3)
    table = Table(
        [Column("n", "bigint"), Column("word", "varchar")],
        [(i, f"w{i}") for i in range(ROWS)],
    )
    fake.add_query(1, table, script=ExecutionScript.completed(executing=1))
    return fake


def client(fake: FakeDune, *, attempts: int = 5) -> DuneClient:
    return DuneClient(
        fake.api_key,
        transport=fake.transport(),
        retry=RetryPolicy.no_wait(attempts=attempts),
        poll_policy=STEADY,
    )


def requests(fake: FakeDune, endpoint: str) -> int:
    return fake.stats.requests.get(endpoint, 0)


async def finished(dune: DuneClient) -> str:
    execution_id = (await dune.execute_query(1)).execution_id
    await dune.wait_for_execution(execution_id)
    return execution_id


async def test_a_json_page_cut_short_is_sent_again_once(fake: FakeDune) -> None:
    async with client(fake) as dune:
        execution_id = await finished(dune)
        fake.inject(Fault.TRUNCATE, endpoint="execution_results")

        result = await dune.results(execution_id).all()

    assert [row["n"] for row in result.rows] == list(range(ROWS))
    assert requests(fake, "execution_results") == 2


async def test_a_json_page_always_cut_short_costs_exactly_the_policys_attempts(
    fake: FakeDune,
) -> None:
    async with client(fake, attempts=3) as dune:
        execution_id = await finished(dune)
        fake.inject(Fault.TRUNCATE, endpoint="execution_results", times=100)

        with pytest.raises(ResponseDecodeError) as caught:
            await dune.results(execution_id).all()

    assert not isinstance(caught.value, ResponseValidationError)
    assert requests(fake, "execution_results") == 3  # not 3 x 3: one loop


async def test_a_streamed_page_cut_short_is_sent_again_and_no_row_repeats(fake: FakeDune) -> None:
    async with client(fake) as dune:
        execution_id = await finished(dune)
        reader = dune.results(execution_id)
        fake.inject(Fault.TRUNCATE, endpoint="execution_results", times=1)

        rows = [row["n"] async for row in reader.rows(page_size=3)]

    assert rows == list(range(ROWS))
    assert requests(fake, "execution_results") == 4 + 1  # four pages, one of them twice


async def test_a_csv_page_shorter_than_its_content_length_is_sent_again_once(
    fake: FakeDune,
) -> None:
    async with client(fake) as dune:
        execution_id = await finished(dune)
        fake.inject(Fault.TRUNCATE, endpoint="execution_results_csv")

        text = b"".join([chunk async for chunk in dune.results(execution_id).csv()]).decode()

    assert text.splitlines()[0] == "n,word"
    assert len(text.splitlines()) == ROWS + 1
    assert requests(fake, "execution_results_csv") == 2


async def test_a_csv_page_always_cut_short_costs_exactly_the_policys_attempts(
    fake: FakeDune, tmp_path: Path
) -> None:
    async with client(fake, attempts=3) as dune:
        execution_id = await finished(dune)
        fake.inject(Fault.TRUNCATE, endpoint="execution_results_csv", times=100)

        with pytest.raises(ResponseDecodeError, match="CSV body holds"):
            await dune.results(execution_id).download(tmp_path / "result.csv")

    assert requests(fake, "execution_results_csv") == 3
    assert not any(tmp_path.iterdir())  # no half file left behind  # noqa: ASYNC240


async def _rows(reader: ResultReader[Any]) -> list[Any]:
    return [row async for row in reader.rows()]


READS: dict[str, Callable[[ResultReader[Any]], Awaitable[object]]] = {
    "page": lambda reader: reader.page(),
    "all": lambda reader: reader.all(),
    "rows": _rows,
}


@pytest.mark.parametrize("read", sorted(READS))
async def test_rows_that_do_not_fit_the_row_type_are_one_request_and_never_sent_again(
    fake: FakeDune, read: str
) -> None:
    async with client(fake) as dune:
        execution_id = await finished(dune)
        reader = dune.results(execution_id, row_type=WrongRow)

        with pytest.raises(ResponseValidationError, match="Expected `str`, got `int`"):
            await READS[read](reader)

    assert requests(fake, "execution_results") == 1


async def test_rows_that_fit_the_row_type_decode_into_it(fake: FakeDune) -> None:
    async with client(fake) as dune:
        execution_id = await finished(dune)

        rows = [row async for row in dune.results(execution_id, row_type=Row).rows(page_size=4)]

    assert rows[3] == Row(n=3, word="w3")
    assert len(rows) == ROWS


async def test_a_failed_poll_is_polled_again_by_the_scheduler_not_retried_inside(
    fake: FakeDune,
) -> None:
    async with client(fake, attempts=5) as dune:
        execution_id = (await dune.execute_query(1)).execution_id
        fake.inject(Fault.HTTP_503, endpoint="execution_status", times=2)

        status = await dune.wait_for_execution(execution_id)

    assert status.is_finished
    # Each failed request was a poll of its own, re-polled later: had the request core retried
    # inside the poll, the scheduler would have seen no failure at all.
    assert dune.scheduler.poll_errors == 2
    assert requests(fake, "execution_status") == dune.scheduler.polls_sent


async def test_a_status_asked_for_directly_is_retried_by_the_request_core(fake: FakeDune) -> None:
    async with client(fake, attempts=5) as dune:
        execution_id = (await dune.execute_query(1)).execution_id
        fake.inject(Fault.HTTP_503, endpoint="execution_status", times=2)

        status = await dune.get_execution_status(execution_id)

    assert status.execution_id == execution_id
    assert requests(fake, "execution_status") == 3


async def test_a_status_that_does_not_fit_its_model_ends_the_wait_after_one_poll() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        body = {"execution_id": "01HX", "state": "QUERY_STATE_EXECUTING", "submitted_at": "soon"}
        return httpx.Response(200, content=json.dumps(body).encode())

    dune = DuneClient(
        "key",
        transport=httpx.MockTransport(answer),
        retry=RetryPolicy.no_wait(),
        poll_policy=STEADY,
    )
    async with dune:
        with pytest.raises(ResponseValidationError, match="submitted_at"):
            await dune.wait_for_execution("01HX", timeout=600)

    assert len(sent) == 1


@pytest.mark.parametrize(("retry_after", "waited"), [("20", 20.0), ("86400", 300.0)])
async def test_a_poll_refused_with_retry_after_is_polled_again_no_sooner_within_a_bound(
    retry_after: str, waited: float
) -> None:
    asked_at: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked_at.append(anyio.current_time())
        if len(asked_at) == 1:
            return httpx.Response(429, headers={"Retry-After": retry_after}, content=b"{}")
        body = {"execution_id": "01HX", "state": "QUERY_STATE_COMPLETED"}
        return httpx.Response(200, content=json.dumps(body).encode())

    dune = DuneClient(
        "key", transport=httpx.MockTransport(answer), retry=RetryPolicy(), poll_policy=STEADY
    )
    async with dune:
        status = await dune.wait_for_execution("01HX")

    assert status.is_finished
    assert len(asked_at) == 2  # the 429 was not retried inside the poll
    assert asked_at[1] - asked_at[0] == pytest.approx(waited, abs=1.0)
