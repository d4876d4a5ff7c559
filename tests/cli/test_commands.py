"""The commands against the fake Dune over loopback: output, formats and exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from duneasync.testing import FakeDune, Table

from .conftest import CLI, FAILS, PARTIAL, QUICK, QUICK_ROWS, SLOW, error_lines, table_csv


def quick_table() -> Table:
    return Table.generated(QUICK_ROWS, seed=3)


def test_run_csv_is_the_fakes_table_with_one_header(cli: CLI, fake: FakeDune) -> None:
    result = cli("run", str(QUICK), "--format", "csv")

    assert result.code == 0, result.err
    assert result.out == table_csv(quick_table())
    # 1,234 rows at 500 per page: three pages, glued under a single header.
    assert fake.stats.requests["execution_results_csv"] == 3


def test_run_csv_with_limit_stops_after_n_rows(cli: CLI) -> None:
    result = cli("run", str(QUICK), "--format", "csv", "--limit", "700")

    assert result.code == 0, result.err
    assert result.out == table_csv(quick_table().head(700))


def test_results_json_and_jsonl_hold_every_row(cli: CLI, fake: FakeDune) -> None:
    run = cli("run", str(QUICK), "--format", "jsonl", "--page-size", "400")
    execution_id = fake.execution_ids()[-1]
    again = cli("results", execution_id, "--format", "json")

    expected = [
        dict(zip(quick_table().column_names, row, strict=False)) for row in quick_table().rows()
    ]
    assert run.code == 0, run.err
    assert again.code == 0, again.err
    assert [json.loads(line) for line in run.out.splitlines()] == expected
    assert json.loads(again.out) == expected


def test_table_on_a_pipe_is_capped_and_says_how_many_rows_are_left(cli: CLI) -> None:
    result = cli("run", str(QUICK), "--format", "table")

    lines = result.out.splitlines()
    assert result.code == 0
    assert lines[0].split() == quick_table().column_names
    assert len(lines) == 2 + 100  # header, rule, the first hundred rows
    assert "showing the first 100 of 1,234 rows" in result.err


def test_sql_reads_the_registered_result(cli: CLI) -> None:
    result = cli("sql", "select 1   as one", "--format", "csv")

    assert result.code == 0, result.err
    assert result.out == table_csv(Table.generated(3, seed=9))


def test_results_of_a_query_reads_its_latest_result_without_executing(
    cli: CLI, fake: FakeDune
) -> None:
    assert cli("run", str(QUICK), "--no-wait").code == 0
    cli("run", str(QUICK), "--format", "csv", "--limit", "1")  # waits: now one has completed
    executions = fake.stats.executions_created

    result = cli("results", "--query", str(QUICK), "--format", "csv")

    assert result.code == 0, result.err
    assert result.out == table_csv(quick_table())
    assert fake.stats.executions_created == executions


def test_output_file_gets_the_result_and_stdout_stays_empty(cli: CLI, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"

    result = cli("run", str(QUICK), "--output", str(target))

    assert result.code == 0, result.err
    assert result.out == ""
    assert target.read_text() == table_csv(quick_table())  # csv: the default for a file
    assert f"1,234 rows written to {target}" in result.err
    assert os.listdir(tmp_path) == ["out.csv"]


def test_failed_execution_exits_1_with_one_readable_line(cli: CLI, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"

    result = cli("run", str(FAILS), "--output", str(target))

    assert result.code == 1
    assert error_lines(result.err) == [
        f"duneasync: error: execution {result.err.split()[2]} failed:"
        " FAILED_TYPE_EXECUTION_FAILED: line 3:4: mismatched input 'selct' (line 3, column 4)"
    ]
    assert "Traceback" not in result.err
    assert os.listdir(tmp_path) == []  # no half-written file, no temporary left behind


def test_partial_result_exits_1_unless_allowed(cli: CLI) -> None:
    refused = cli("run", str(PARTIAL), "--format", "csv")
    allowed = cli("run", str(PARTIAL), "--format", "csv", "--allow-partial")

    assert refused.code == 1
    assert "--allow-partial" in error_lines(refused.err)[0]
    assert allowed.code == 0, allowed.err
    assert allowed.out == table_csv(Table.generated(50, seed=5).head(20))


def test_timeout_exits_4_and_says_the_execution_keeps_running(cli: CLI, fake: FakeDune) -> None:
    result = cli("run", str(SLOW), "--timeout", "1.5")

    assert result.code == 4
    assert "still EXECUTING after 1.5 s (it keeps running on Dune)" in error_lines(result.err)[0]
    assert fake.execution(fake.execution_ids()[-1]).state == "QUERY_STATE_EXECUTING"


def test_no_wait_prints_only_the_execution_id(cli: CLI, fake: FakeDune) -> None:
    result = cli("run", str(SLOW), "--no-wait", "--param", "days=7")

    assert result.code == 0
    assert result.out == fake.execution_ids()[-1] + "\n"


def test_status_as_json_and_as_a_table(cli: CLI, fake: FakeDune) -> None:
    cli("run", str(SLOW), "--no-wait")
    cli("run", str(FAILS), "--format", "csv")
    slow, failed = fake.execution_ids()[-2:]

    as_json = cli("status", slow, failed, "--format", "json")
    as_table = cli("status", slow, failed)

    assert as_json.code == 0
    assert as_table.code == 0
    states = [item["state"] for item in json.loads(as_json.out)]
    assert states == ["QUERY_STATE_EXECUTING", "QUERY_STATE_FAILED"]
    rows = as_table.out.splitlines()[2:]
    assert rows[0].split()[:3] == [slow, "EXECUTING", str(SLOW)]
    assert rows[1].split()[:3] == [failed, "FAILED", str(FAILS)]
    assert "mismatched input" in rows[1]


def test_cancel_stops_a_running_execution_and_refuses_twice(cli: CLI, fake: FakeDune) -> None:
    execution_id = cli("run", str(SLOW), "--no-wait").out.strip()

    first = cli("cancel", execution_id)
    second = cli("cancel", execution_id)

    assert (first.code, first.out) == (0, f"{execution_id}: cancelled\n")
    assert fake.execution(execution_id).state == "QUERY_STATE_CANCELLED"
    assert second.code == 1
    assert second.out.startswith(f"{execution_id}: not cancelled (CANCELLED")


def test_results_of_an_unfinished_execution_exit_1(cli: CLI) -> None:
    execution_id = cli("run", str(SLOW), "--no-wait").out.strip()

    result = cli("results", execution_id)

    assert result.code == 1
    assert error_lines(result.err) == [
        f"duneasync: error: execution {execution_id} is EXECUTING: no result yet"
        f" (wait for it with: duneasync watch {execution_id})"
    ]


def test_unknown_execution_is_an_api_error(cli: CLI) -> None:
    result = cli("status", "01NOSUCHEXECUTION")

    assert result.code == 3
    assert error_lines(result.err) == [
        "duneasync: error: GET /api/v1/execution/01NOSUCHEXECUTION/status answered 404"
        " Not Found: Execution not found"
    ]


def test_wrong_key_is_an_api_error_with_a_hint(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNE_API_KEY", "not-the-key")

    result = cli("run", str(QUICK))

    assert result.code == 3
    assert "401" in result.err
    assert "check the key in DUNE_API_KEY" in result.err


def test_key_comes_from_the_variable_named_by_api_key_env(
    cli: CLI, fake: FakeDune, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DUNE_API_KEY")
    monkeypatch.setenv("MY_DUNE_KEY", fake.api_key)

    result = cli("run", str(QUICK), "--format", "csv", "--api-key-env", "MY_DUNE_KEY")

    assert result.code == 0, result.err


def test_missing_key_is_a_usage_error_sent_nowhere(
    cli: CLI, fake: FakeDune, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DUNE_API_KEY")

    result = cli("run", str(QUICK))

    assert result.code == 2
    assert error_lines(result.err) == [
        "duneasync: error: no API key: set the DUNE_API_KEY environment variable;"
        " try `duneasync demo` to see duneasync work without one"
    ]
    assert fake.stats.total_requests == 0


def test_unwritable_output_fails_before_paying_for_an_execution(
    cli: CLI, fake: FakeDune, tmp_path: Path
) -> None:
    result = cli("run", str(QUICK), "--output", str(tmp_path / "missing" / "out.csv"))

    assert result.code == 2
    assert error_lines(result.err)[0].startswith(f"duneasync: error: cannot write {tmp_path}")
    assert fake.stats.executions_created == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "abc"],
        ["run", "42", "--param", "no-equals-sign"],
        ["run", "42", "--format", "xml"],
        ["results"],
        ["results", "01ABC", "--query", "42"],
        ["watch"],
        ["frobnicate"],
    ],
)
def test_bad_arguments_exit_2_before_any_request(cli: CLI, fake: FakeDune, argv: list[str]) -> None:
    result = cli(*argv)

    assert result.code == 2
    assert "usage: duneasync" in result.err
    assert fake.stats.total_requests == 0


def test_help_and_version_exit_0(cli: CLI) -> None:
    helped = cli("--help", connect=False)
    version = cli("--version", connect=False)

    assert helped.code == 0
    assert "exit codes:" in helped.out
    assert "130" in helped.out
    assert version.code == 0
    assert version.out.startswith("duneasync ")


def test_csv_cells_survive_a_round_trip_through_csv_readers(cli: CLI) -> None:
    result = cli("run", str(QUICK), "--format", "csv", "--limit", "10")

    rows = list(csv.reader(io.StringIO(result.out)))
    assert rows[0] == quick_table().column_names
    assert [int(row[0]) for row in rows[1:]] == list(range(10))
