"""A fake Dune served over loopback, and a way to run the CLI against it in process."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest

from duneasync._cli import main
from duneasync.testing import ExecutionScript, FakeDune, FakeServer, Table

# Queries the tests run, each with a script short enough to keep the suite fast.
QUICK = 42  # completes after 0.3 s, 1,234 rows
FAILS = 43  # fails with a syntax error
SLOW = 44  # runs for a minute: for timeouts, cancels and Ctrl-C
PARTIAL = 45  # completes with a truncated result
QUICK_ROWS = 1_234


@dataclass
class Result:
    """What one CLI run did."""

    code: int
    out: str
    err: str


def table_csv(table: Table) -> str:
    """Write a table as CSV the plain way: the text the CLI must reproduce byte for byte."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.column_names)
    writer.writerows(table.rows())
    return out.getvalue()


def make_fake(**options: object) -> FakeDune:
    """Return a fake with the tests' queries registered."""
    fake = FakeDune(seed=11, **options)  # type: ignore[arg-type]
    fake.add_query(
        QUICK, Table.generated(QUICK_ROWS, seed=3), script=ExecutionScript.completed(0.1, 0.2)
    )
    fake.add_query(
        FAILS,
        Table.generated(5),
        script=ExecutionScript.failed("line 3:4: mismatched input 'selct'", line=3, column=4),
    )
    fake.add_query(SLOW, Table.generated(5), script=ExecutionScript.completed(0.0, 60.0))
    fake.add_query(
        PARTIAL,
        Table.generated(50, seed=5),
        script=ExecutionScript(final_state="QUERY_STATE_COMPLETED_PARTIAL", partial_rows=20),
    )
    fake.add_sql(
        "select 1 as one", Table.generated(3, seed=9), script=ExecutionScript.completed(0.1, 0.1)
    )
    return fake


@pytest.fixture
def fake() -> FakeDune:
    """A fresh fake per test, so counters and executions start from zero."""
    return make_fake(max_page_rows=500)


@pytest.fixture
def server(fake: FakeDune) -> Iterator[FakeServer]:
    """The fake over loopback."""
    with fake.serve() as running:
        yield running


class CLI:
    """Runs ``duneasync`` in process against the served fake."""

    def __init__(
        self, server: FakeServer, capsys: pytest.CaptureFixture[str], backend: str
    ) -> None:
        self.server = server
        self._capsys = capsys
        self.backend = backend

    def __call__(self, *argv: str, connect: bool = True) -> Result:
        args: list[str] = list(argv)
        if connect:
            args += ["--base-url", self.server.base_url, "--backend", self.backend]
        self._capsys.readouterr()
        code = main(args)
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def cli(
    server: FakeServer,
    fake: FakeDune,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> CLI:
    """The CLI on asyncio, with the fake's key in DUNE_API_KEY.

    ``test_backends.py`` runs the main paths on trio too; running every test twice would
    double the suite's time for little more confidence.
    """
    monkeypatch.setenv("DUNE_API_KEY", fake.api_key)
    return CLI(server, capsys, "asyncio")


@pytest.fixture
def trio_cli(cli: CLI) -> CLI:
    """The same CLI, on trio (``--backend trio``)."""
    cli.backend = "trio"
    return cli


def error_lines(err: str) -> Sequence[str]:
    """Return the ``duneasync: error:`` lines of stderr."""
    return [line for line in err.splitlines() if line.startswith("duneasync: error:")]
