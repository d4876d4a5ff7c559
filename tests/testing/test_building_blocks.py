"""The pieces tests build scenarios from: clocks, tables and scripts, and their validation."""

from __future__ import annotations

import threading

import pytest

from duneasync.testing import (
    COMPLETED,
    FAILED,
    SAMPLE_COLUMNS,
    Column,
    ExecutionScript,
    FakeDune,
    ManualClock,
    Table,
)


def test_manual_clock_moves_only_forward_and_is_thread_safe() -> None:
    clock = ManualClock(5.0)
    assert clock() == 5.0
    assert clock.advance(1.5) == 6.5
    clock.set(10.0)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(9.0)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    workers = [
        threading.Thread(target=lambda: [clock.advance(1) for _ in range(1000)]) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert clock() == 4010.0


def test_explicit_tables_check_their_rows() -> None:
    columns = [Column("a", "bigint"), Column("b", "varchar")]
    assert Table(columns, [(1, "x"), {"b": "y"}]).rows() == [(1, "x"), (None, "y")]
    with pytest.raises(ValueError, match="2 values"):
        Table(columns, [(1,)])
    with pytest.raises(ValueError, match="unknown columns"):
        Table(columns, [{"c": 1}])
    with pytest.raises(ValueError, match="duplicate"):
        Table([Column("a", "bigint"), Column("a", "double")])
    with pytest.raises(TypeError):
        FakeDune().add_query(1, "not a table")  # type: ignore[arg-type]


def test_generated_rows_are_pure_functions_of_their_index() -> None:
    big = Table.generated(5_000_000, seed=9)
    small = Table.generated(10, seed=9)
    assert len(big) == 5_000_000
    assert big.rows([3, 4_999_999])[0] == small.rows([3])[0]
    assert big.rows(range(100_000, 100_003)) == big.rows([100_000, 100_001, 100_002])
    assert big.head(4).rows() == big.rows(range(4))
    assert [c.name for c in SAMPLE_COLUMNS] == big.column_names
    every_type = [
        Column(name, kind)
        for name, kind in [
            ("b", "boolean"),
            ("d", "date"),
            ("u", "uint256"),
            ("arr", "array(varchar)"),
            ("x", "varchar"),
            ("i", "integer"),
        ]
    ]
    (row,) = Table.generated(1, columns=every_type).rows()
    assert isinstance(row[0], bool)
    assert row[1] == "2024-01-01"
    assert isinstance(row[2], int)
    assert isinstance(row[3], list)
    assert isinstance(row[4], str)
    assert isinstance(row[5], int)
    with pytest.raises(ValueError, match="negative"):
        Table.generated(-1)


def test_scripts_validate_their_shape() -> None:
    assert ExecutionScript().final_state == COMPLETED
    assert ExecutionScript(final_state=FAILED).error is not None
    with pytest.raises(ValueError, match="terminal"):
        ExecutionScript(final_state="QUERY_STATE_EXECUTING")
    with pytest.raises(ValueError, match="negative"):
        ExecutionScript(pending_seconds=-1)
    with pytest.raises(ValueError, match="queue_position"):
        ExecutionScript(queue_position=0)


def test_handle_is_usable_without_any_transport() -> None:
    fake = FakeDune(clock=ManualClock())
    fake.add_query(1, Table.generated(2), script=ExecutionScript.completed())
    headers = {"x-dune-api-key": fake.api_key}
    created = fake.handle("POST", "/api/v1/query/1/execute", "", headers, b"")
    assert created.status == 200
    assert created.endpoint == "execute_query"
    assert created.header("content-type") == "application/json"
    bad_body = fake.handle("POST", "/api/v1/query/1/execute", "", headers, b"[1]")
    assert bad_body.status == 400
    not_json = fake.handle("POST", "/api/v1/query/1/execute", "", headers, b"{")
    assert not_json.status == 400
