"""The demo (the README's first command) and ``watch`` over many executions."""

from __future__ import annotations

import re
import subprocess
import sys

import anyio

from duneasync import DuneClient
from duneasync.testing import ExecutionScript, FakeDune, Table

from .conftest import CLI, FAILS, QUICK
from .test_interrupt import cli_env

SUMMARY = re.compile(
    r"^demo: 300 executions, 300 finished \((?P<states>[A-Z_ 0-9,]+)\),"
    r" pipeline 5/5 nodes, (?P<requests>[\d,]+) requests, 0 rate-limited,"
    r" result 100,000 rows in \d+\.\d s$"
)


def test_demo_runs_the_main_job_in_a_subprocess_and_ends_with_its_summary(
    fake: FakeDune,
) -> None:
    env = cli_env(fake)
    del env["DUNE_API_KEY"]  # the demo needs no key

    done = subprocess.run(
        [sys.executable, "-m", "duneasync", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    found = SUMMARY.match(line)
    assert found is not None, line
    states = dict(item.rsplit(" ", 1) for item in found["states"].split(", "))
    # The simulation is seeded: every run meets the same fates.
    assert states == {
        "COMPLETED": "274",
        "FAILED": "16",
        "CANCELLED": "8",
        "COMPLETED_PARTIAL": "2",
    }
    # Every execution and the pipeline cost at least one poll each, plus 302 submissions.
    assert int(found["requests"].replace(",", "")) > 300 + 302
    assert "Traceback" not in done.stderr
    assert "pipeline completed" in done.stderr


def test_watch_reports_every_final_state_and_exits_1_on_a_failure(cli: CLI, fake: FakeDune) -> None:
    fake.queue_scripts(*[ExecutionScript.completed(0.1, 0.3 + i / 10) for i in range(4)])
    ids = [cli("run", str(QUICK), "--no-wait").out.strip() for _ in range(4)]
    failed = cli("run", str(FAILS), "--no-wait").out.strip()

    all_ok = cli("watch", *ids)
    one_failed = cli("watch", *ids, failed)

    assert all_ok.code == 0, all_ok.err
    rows = [line.split() for line in all_ok.out.splitlines()[2:]]
    assert [(row[0], row[1]) for row in rows] == [(eid, "COMPLETED") for eid in ids]
    assert one_failed.code == 1
    assert one_failed.out.splitlines()[-1].split()[:2] == [failed, "FAILED"]
    assert f"{failed}: FAILED" in one_failed.err


def test_watch_a_pipeline_node_by_node(cli: CLI, fake: FakeDune) -> None:
    quick = ExecutionScript.completed(0.1, 0.2)
    fake.add_query(7, Table.generated(5), script=quick)
    fake.add_query(8, Table.generated(5), script=quick, depends_on=[7])

    async def start() -> str:
        async with DuneClient(fake.api_key, base_url=cli.server.base_url) as dune:
            return (await dune.pipelines.execute_lineage(8)).pipeline_execution_id

    pipeline_id = anyio.run(start)
    result = cli("watch", "--pipeline", pipeline_id)

    assert result.code == 0, result.err
    assert f"pipeline {pipeline_id}: completed" in result.out
    assert result.err.count(f"pipeline {pipeline_id} node") == 2


def test_watch_of_an_unknown_pipeline_is_an_api_error(cli: CLI) -> None:
    result = cli("watch", "--pipeline", "01NOSUCHPIPELINE")

    assert result.code == 3
    assert "404" in result.err
