"""CSV reads: the header once, every row in order, pinned to one execution, atomic files."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from duneasync import PartialResultError, ResultChangedError, ServerError

from .conftest import ClientFactory
from .minidune import MiniDune, make_rows

pytestmark = pytest.mark.anyio


def _files(directory: Path) -> list[Path]:
    return list(directory.iterdir())


def _parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


async def test_csv_writes_the_header_once_then_every_row(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(5_000))
    dune = clients(server.transport())
    data = b"".join([chunk async for chunk in dune.results(server.execution_id).csv(page_size=700)])
    lines = _parse(data)
    assert lines[0] == ["id", "c1", "c2"]
    assert [int(line[0]) for line in lines[1:]] == list(range(5_000))
    csv_requests = [p for path, p in server.requests if path.endswith("/csv")]
    assert len(csv_requests) == 8  # 5,000 rows in pages of 700


async def test_download_to_a_path_reports_what_it_wrote(
    clients: ClientFactory, tmp_path: Path
) -> None:
    server = MiniDune(make_rows(3_000))
    target = tmp_path / "out.csv"
    reader = clients(server.transport()).results(server.execution_id)
    summary = await reader.download(target, page_size=1_000)
    data = target.read_bytes()
    assert summary.row_count == 3_000
    assert summary.bytes_written == len(data)
    assert summary.execution_id == server.execution_id
    assert summary.column_names == ["id", "c1", "c2"]
    assert summary.path == str(target)
    assert len(_parse(data)) == 3_001
    assert _files(tmp_path) == [target]


async def test_download_to_a_file_object(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(1_200))
    sink = io.BytesIO()
    reader = clients(server.transport()).results(server.execution_id)
    summary = await reader.download(sink, page_size=500)
    assert summary.path is None
    assert _parse(sink.getvalue())[1:] == [[str(i), f"v{i}_1", f"v{i}_2"] for i in range(1_200)]


async def test_a_failed_download_leaves_no_file_and_an_old_file_untouched(
    clients: ClientFactory, tmp_path: Path
) -> None:
    server = MiniDune(
        make_rows(3_000), fail=lambda n, p: 500 if p.get("offset") == "2000" else None
    )
    reader = clients(server.transport()).results(server.execution_id)
    target = tmp_path / "out.csv"
    target.write_bytes(b"previous\n")
    with pytest.raises(ServerError):
        await reader.download(target, page_size=1_000)
    assert target.read_bytes() == b"previous\n"
    assert _files(tmp_path) == [target]


async def test_a_failed_download_to_a_new_path_creates_nothing(
    clients: ClientFactory, tmp_path: Path
) -> None:
    server = MiniDune(make_rows(3_000), state="QUERY_STATE_COMPLETED_PARTIAL")
    with pytest.raises(PartialResultError):
        await clients(server.transport()).results(server.execution_id).download(tmp_path / "x.csv")
    assert _files(tmp_path) == []


async def test_csv_pages_of_the_latest_result_come_from_one_execution(
    clients: ClientFactory,
) -> None:
    server = MiniDune(make_rows(2_000))
    dune = clients(server.transport())
    data = b"".join([chunk async for chunk in dune.latest_results(7).csv(page_size=500)])
    assert len(_parse(data)) == 2_001
    paths = [path for path, _ in server.requests]
    assert paths[0] == "/api/v1/query/7/results"
    assert set(paths[1:]) == {f"/api/v1/execution/{server.execution_id}/results/csv"}


async def test_failed_csv_pages_are_retried_in_place(clients: ClientFactory) -> None:
    failures = {2: 500, 4: 503, 5: 502}
    server = MiniDune(make_rows(4_000), fail=lambda n, _: failures.get(n))
    reader = clients(server.transport()).results(server.execution_id)
    data = b"".join([chunk async for chunk in reader.csv(page_size=1_000)])
    assert [int(line[0]) for line in _parse(data)[1:]] == list(range(4_000))


async def test_a_page_with_other_columns_is_an_error(clients: ClientFactory) -> None:
    server = MiniDune(make_rows(2_000))

    def rename(number: int, _: dict[str, str]) -> None:
        if number == 3:
            server.rows = [{"other": r["id"], "c1": r["c1"], "c2": r["c2"]} for r in server.rows]

    server.fail = rename
    reader = clients(server.transport()).results(server.execution_id)
    with pytest.raises(ResultChangedError, match="other columns"):
        async for _ in reader.csv(page_size=500, concurrency=1):
            pass


async def test_an_empty_result_is_its_header(clients: ClientFactory) -> None:
    server = MiniDune([])
    reader = clients(server.transport()).results(server.execution_id)
    data = b"".join([chunk async for chunk in reader.csv()])
    assert data == b"id\n"
