"""Pipelines: every node from one status request per poll; run_many through one pipeline."""

from __future__ import annotations

import pytest

from duneasync import (
    DuneClient,
    ExecutionState,
    MaterializedViewRefreshNode,
    PipelineNode,
    PipelineRefusedError,
    QueryExecutionNode,
    QuerySpec,
    RunOutcome,
)
from duneasync.testing import CANCELLED, ExecutionScript, FakeDune, Table

pytestmark = pytest.mark.anyio


def requests(fake: FakeDune, endpoint: str) -> int:
    return fake.stats.requests.get(endpoint, 0)


async def test_a_pipeline_of_both_node_kinds_is_watched_with_one_request_per_poll(
    dune: DuneClient, fake: FakeDune
) -> None:
    fake.add_query(2, Table.generated(5), script=ExecutionScript.completed(executing=3))
    fake.add_materialized_view("dune.team.prices", script=ExecutionScript.completed(executing=6))
    fake.add_query(3, Table.generated(5), script=ExecutionScript.failed("Error: bad", executing=2))
    started = await dune.pipelines.execute(
        [
            PipelineNode(id=1, query_execution=QueryExecutionNode(query_id=2)),
            PipelineNode(
                id=2, materialized_view_refresh=MaterializedViewRefreshNode(name="dune.team.prices")
            ),
            PipelineNode(id=3, query_execution=QueryExecutionNode(query_id=3)),
        ]
    )
    async with dune.pipelines.watch(started.pipeline_execution_id) as pipeline:
        nodes = [node async for node in pipeline.as_completed()]
        final = pipeline.status()
    assert [(n.id, n.kind, n.status) for n in nodes] == [
        (3, "query", "failed"),
        (1, "query", "completed"),
        (2, "materialized_view", "completed"),
    ]
    assert nodes[0].error == "Error: bad"
    assert all(n.execution_id for n in nodes)
    assert final is not None
    assert final.status == "failed"
    polls = dune.scheduler.polls_sent
    assert requests(fake, "pipeline_status") == polls == 6  # once a second, 1 s to 6 s
    assert requests(fake, "execution_status") == 0


async def test_nodes_that_never_ran_are_reported_when_the_pipeline_ends(
    dune: DuneClient, fake: FakeDune
) -> None:
    fake.add_query(2, Table.generated(5), script=ExecutionScript.ending(CANCELLED, executing=2))
    fake.add_query(3, Table.generated(5))
    started = await dune.pipelines.execute(
        [
            PipelineNode(id=1, query_execution=QueryExecutionNode(query_id=2)),
            PipelineNode(id=2, dependencies=[1], query_execution=QueryExecutionNode(query_id=3)),
        ]
    )
    async with dune.pipelines.watch(started.pipeline_execution_id) as pipeline:
        nodes = [(node.id, node.status) async for node in pipeline.as_completed()]
    assert nodes == [(1, "cancelled"), (2, "cancelled")]


async def test_run_many_uses_one_write_and_one_read_per_poll(
    dune: DuneClient, fake: FakeDune
) -> None:
    for query_id, seconds in ((11, 4.0), (12, 2.0), (13, 6.0)):
        fake.add_query(
            query_id, Table.generated(3), script=ExecutionScript.completed(executing=seconds)
        )
    queries = [11, QuerySpec(query_id=12, parameters={"n": 5}), QuerySpec(query_id=13)]
    outcomes: list[RunOutcome] = []
    async with dune.run_many(queries, fetch_results=True) as run:
        outcomes.extend([outcome async for outcome in run])
    assert [(o.index, o.query.query_id) for o in outcomes] == [(1, 12), (0, 11), (2, 13)]
    assert all(o.state == ExecutionState.COMPLETED and o.ok for o in outcomes)
    assert all(o.result is not None and len(o.result.rows) == 3 for o in outcomes)
    assert requests(fake, "execute_pipeline") == 1
    assert requests(fake, "execute_query") == 0
    assert requests(fake, "pipeline_status") == dune.scheduler.polls_sent == 6
    assert requests(fake, "execution_status") == 0


async def test_a_refused_pipeline_says_so_and_starts_nothing(
    dune: DuneClient, fake: FakeDune
) -> None:
    with pytest.raises(PipelineRefusedError, match="via='executions'"):
        async with dune.run_many([404404]):
            pytest.fail("the block must not run")
    assert fake.stats.executions_created == 0


async def test_run_many_one_by_one_yields_each_execution_as_it_ends(
    dune: DuneClient, fake: FakeDune
) -> None:
    fake.queue_scripts(
        ExecutionScript.completed(executing=5),
        ExecutionScript.failed("Error: nope", executing=2),
    )
    async with dune.run_many([1, 1], via="executions") as run:
        outcomes = [outcome async for outcome in run]
    assert [(o.index, o.state) for o in outcomes] == [
        (1, ExecutionState.FAILED),
        (0, ExecutionState.COMPLETED),
    ]
    assert outcomes[0].error is not None
    assert "Error: nope" in outcomes[0].error
    assert requests(fake, "execute_query") == 2
