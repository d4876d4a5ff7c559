"""The main paths again on trio: the CLI runs on either event loop (``--backend``)."""

from __future__ import annotations

import json

from duneasync.testing import FakeDune, Table

from .conftest import CLI, FAILS, QUICK, QUICK_ROWS, SLOW, table_csv


def test_run_on_trio_writes_the_same_csv(trio_cli: CLI) -> None:
    result = trio_cli("run", str(QUICK), "--format", "csv")

    assert result.code == 0, result.err
    assert result.out == table_csv(Table.generated(QUICK_ROWS, seed=3))


def test_failure_timeout_and_cancel_on_trio(trio_cli: CLI, fake: FakeDune) -> None:
    failed = trio_cli("run", str(FAILS))
    timed_out = trio_cli("run", str(SLOW), "--timeout", "1.2")
    execution_id = fake.execution_ids()[-1]
    cancelled = trio_cli("cancel", execution_id)
    status = trio_cli("status", execution_id, "--format", "json")

    assert (failed.code, timed_out.code, cancelled.code, status.code) == (1, 4, 0, 0)
    assert json.loads(status.out)[0]["state"] == "QUERY_STATE_CANCELLED"
