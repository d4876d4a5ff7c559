"""Dataframes: Dune's column types mapped to exact polars and Arrow types, whole or page by page."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from duneasync import DuneClient, to_arrow, to_polars
from duneasync._frames import parse_dune_type
from duneasync.testing import Column, FakeDune, Table

from .conftest import ClientFactory, completed_execution

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")

pytestmark = pytest.mark.anyio

BIG = 2**200 + 12345  # a uint256 no 64- or 128-bit integer holds

COLUMNS = [
    Column("name", "varchar"),
    Column("n", "bigint"),
    Column("small", "integer"),
    Column("x", "double"),
    Column("ok", "boolean"),
    Column("day", "date"),
    Column("at", "timestamp with time zone"),
    Column("tags", "array(varchar)"),
    Column("amount", "uint256"),
    Column("addr", "varbinary"),
]
ROWS = [
    ["a", 1, 2, 1.5, True, "2024-01-02", "2024-01-02 03:04:05.678 UTC", ["x", "y"], BIG, "0xab"],
    [None, None, None, None, None, None, None, None, None, None],
    ["c", -(2**62), 7, -0.25, False, "1999-12-31", "2024-12-20 11:04:18.000 UTC", [], 5, "0x00"],
]
AT = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)


async def _client_and_id(
    clients: ClientFactory, fake: FakeDune, rows: int = 0
) -> tuple[DuneClient, str]:
    dune = clients(fake.transport())
    table = Table.generated(rows) if rows else Table(COLUMNS, ROWS)
    return dune, await completed_execution(dune, fake, table)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("varchar", "string"),
        ("bigint", "int64"),
        ("integer", "int32"),
        ("double", "float64"),
        ("boolean", "bool"),
        ("date", "date"),
        ("timestamp(3) with time zone", "timestamptz"),
        ("timestamp", "timestamp"),
        ("uint256", "text"),
        ("int256", "text"),
        ("varbinary", "text"),
        ("row(a bigint)", "text"),
    ],
)
def test_dune_types_map_to_the_nearest_exact_kind(name: str, kind: str) -> None:
    assert parse_dune_type(name).kind == kind


def test_arrays_map_to_lists_of_their_element_type() -> None:
    parsed = parse_dune_type("array(array(bigint))")
    assert parsed.kind == "list"
    assert parsed.inner is not None
    assert parsed.inner.inner is not None
    assert parsed.inner.inner.kind == "int64"


async def test_to_polars_types_every_column(clients: ClientFactory, fake: FakeDune) -> None:
    dune, execution_id = await _client_and_id(clients, fake)
    frame = to_polars(await dune.results(execution_id).all())
    assert dict(frame.schema) == {
        "name": pl.String,
        "n": pl.Int64,
        "small": pl.Int32,
        "x": pl.Float64,
        "ok": pl.Boolean,
        "day": pl.Date,
        "at": pl.Datetime("us", "UTC"),
        "tags": pl.List(pl.String),
        "amount": pl.String,
        "addr": pl.String,
    }
    first = frame.row(0, named=True)
    assert first["day"] == date(2024, 1, 2)
    assert first["at"] == AT
    assert first["amount"] == str(BIG)  # exact, as text
    assert first["tags"] == ["x", "y"]
    assert frame.row(1) == (None,) * len(COLUMNS)
    assert frame["n"][2] == -(2**62)


async def test_to_arrow_types_every_column(clients: ClientFactory, fake: FakeDune) -> None:
    dune, execution_id = await _client_and_id(clients, fake)
    table = to_arrow(await dune.results(execution_id).all())
    assert table.schema.types == [
        pa.string(),
        pa.int64(),
        pa.int32(),
        pa.float64(),
        pa.bool_(),
        pa.date32(),
        pa.timestamp("us", tz="UTC"),
        pa.list_(pa.string()),
        pa.string(),
        pa.string(),
    ]
    first = table.slice(0, 1).to_pylist()[0]
    assert first["at"] == AT
    assert first["day"] == date(2024, 1, 2)
    assert first["amount"] == str(BIG)
    assert table.slice(1, 1).to_pylist()[0] == dict.fromkeys(table.column_names)


async def test_streamed_frames_equal_the_whole_result_converted(
    clients: ClientFactory, fake: FakeDune
) -> None:
    dune, execution_id = await _client_and_id(clients, fake, rows=5_000)
    reader = dune.results(execution_id)
    whole = await reader.all()
    polars_frame = await reader.polars(page_size=800, concurrency=3)
    assert polars_frame.equals(to_polars(whole))
    assert polars_frame["id"].to_list() == list(range(5_000))
    arrow_table = await reader.arrow(page_size=800)
    assert arrow_table.equals(to_arrow(whole))
    assert arrow_table.schema.field("block_time").type == pa.timestamp("us", tz="UTC")


async def test_an_empty_result_is_an_empty_typed_frame(
    clients: ClientFactory, fake: FakeDune
) -> None:
    dune = clients(fake.transport())
    execution_id = await completed_execution(dune, fake, Table(COLUMNS[:3]))
    frame = await dune.results(execution_id).polars()
    assert frame.height == 0
    assert dict(frame.schema) == {"name": pl.String, "n": pl.Int64, "small": pl.Int32}
