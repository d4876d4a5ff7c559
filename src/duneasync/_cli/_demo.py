"""``duneasync demo``: the main job, end to end, against the fake Dune in process.

No key and no network: the fake Dune API (``duneasync.testing``) answers in process, on the
premium plan's rate limits. The demo submits a few hundred executions and a pipeline, watches
them all through one client (one scheduler, one rate budget), reads one large result in
parallel pages, and prints a one-line summary.

The simulation is deterministic for a seed: each execution's fate (how long it queues and runs,
how it ends) depends on its index only, so the summary's counts are the same on every run.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping

import anyio
import httpx

from .._client import DuneClient
from .._models import (
    ExecutionStatus,
    MaterializedViewRefreshNode,
    PipelineNode,
    PipelineStatus,
    QueryExecutionNode,
)
from .._watch import Watch
from ..testing import (
    CANCELLED,
    COMPLETED_PARTIAL,
    ExecutionScript,
    FakeDune,
    Table,
)
from ._display import Display, make_display, short_state
from ._exits import ExitCode
from ._live import LiveBoard, budget_line
from ._runtime import RequestCounter, interruptible

__all__ = ["DemoSummary", "demo_main"]

PLAN = "premium"
# Ten saved queries share the simulated executions, each run with its own parameter.
_QUERIES = range(1001, 1011)
_LARGE_QUERY = 4242
_PIPELINE_QUERIES = (2001, 2002, 2003, 2004)
_VIEW = "dune.demo.result_daily_volume"
_SUBMITTERS = 16
_ERRORS = (
    "line 4:11: Column 'amount_usd' cannot be resolved",
    "Query exceeded the maximum execution time of 30 minutes",
    "line 1:15: mismatched input 'form'. Expecting: ',', 'FROM'",
)


def _script(seed: int, index: int) -> ExecutionScript:
    """Decide one execution's fate from its index alone (so every run counts the same)."""
    rng = random.Random(f"duneasync-demo:{seed}:{index}")
    pending = rng.uniform(0.0, 2.0)
    executing = rng.uniform(0.5, 6.0)
    fate = rng.random()
    if fate < 0.06:
        return ExecutionScript.failed(
            rng.choice(_ERRORS),
            line=rng.randint(1, 9),
            column=rng.randint(1, 40),
            pending=pending,
            executing=executing,
        )
    if fate < 0.09:
        return ExecutionScript.ending(CANCELLED, pending=pending, executing=executing)
    if fate < 0.10:
        return ExecutionScript(
            pending_seconds=pending,
            executing_seconds=executing,
            final_state=COMPLETED_PARTIAL,
            partial_rows=10,
        )
    return ExecutionScript.completed(pending=pending, executing=executing)


def build_fake(seed: int, rows: int) -> FakeDune:
    """Return the fake Dune the demo runs against, with its queries, view and large result."""
    fake = FakeDune(plan=PLAN, seed=seed)

    def by_index(parameters: Mapping[str, object]) -> ExecutionScript:
        return _script(seed, int(str(parameters.get("n", 0))))

    for query_id in _QUERIES:
        fake.add_query(
            query_id, Table.generated(20 + query_id % 7 * 13, seed=query_id), script=by_index
        )
    quick = ExecutionScript.completed(pending=0.2, executing=1.0)
    fake.add_query(_LARGE_QUERY, Table.generated(rows, seed=seed), script=quick)
    fake.add_query(_PIPELINE_QUERIES[0], Table.generated(50, seed=1), script=quick)
    fake.add_materialized_view(_VIEW, script=quick, depends_on=[_PIPELINE_QUERIES[0]])
    for query_id in _PIPELINE_QUERIES[1:]:
        fake.add_query(query_id, Table.generated(30, seed=query_id), script=quick)
    return fake


def pipeline_nodes() -> list[PipelineNode]:
    """A five-node pipeline: a query, the view it feeds, two queries on it, one joining them."""
    first, left, right, last = _PIPELINE_QUERIES
    return [
        PipelineNode(id=1, query_execution=QueryExecutionNode(query_id=first)),
        PipelineNode(
            id=2,
            dependencies=[1],
            materialized_view_refresh=MaterializedViewRefreshNode(name=_VIEW),
        ),
        PipelineNode(id=3, dependencies=[2], query_execution=QueryExecutionNode(query_id=left)),
        PipelineNode(id=4, dependencies=[2], query_execution=QueryExecutionNode(query_id=right)),
        PipelineNode(id=5, dependencies=[3, 4], query_execution=QueryExecutionNode(query_id=last)),
    ]


@dataclasses.dataclass
class DemoSummary:
    """What the demo did, for its last line."""

    executions: int = 0
    states: Counter[str] = dataclasses.field(default_factory=Counter[str])
    pipeline_nodes: int = 0
    pipeline_completed: int = 0
    requests: int = 0
    rate_limited: int = 0
    result_rows: int = 0
    result_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def finished(self) -> int:
        """Executions seen in a terminal state."""
        return sum(self.states.values())

    def line(self) -> str:
        """The summary line, stable enough for scripts and tests to read."""
        states = ", ".join(f"{name} {n}" for name, n in self.states.most_common())
        return (
            f"demo: {self.executions} executions, {self.finished} finished ({states}),"
            f" pipeline {self.pipeline_completed}/{self.pipeline_nodes} nodes,"
            f" {self.requests:,} requests, {self.rate_limited} rate-limited,"
            f" result {self.result_rows:,} rows in {self.result_seconds:.1f} s"
        )


class _Demo:
    def __init__(
        self, args: argparse.Namespace, dune: DuneClient, counter: RequestCounter, display: Display
    ) -> None:
        self.args = args
        self.dune = dune
        self.counter = counter
        self.display = display
        self.summary = DemoSummary(executions=args.executions)
        self.board = LiveBoard(dune, counter, display, "watching")
        self.board.total = args.executions

    async def run(self) -> DemoSummary:
        started = time.perf_counter()
        dune = self.dune
        large = await dune.execute_query(_LARGE_QUERY)
        pipeline = await dune.pipelines.execute(pipeline_nodes())
        self.display.note(
            f"started pipeline {pipeline.pipeline_execution_id} (5 nodes)"
            f" and the {self.args.rows:,}-row query {_LARGE_QUERY}"
        )
        async with (
            dune.watch_executions() as watcher,
            dune.pipelines.watch(pipeline.pipeline_execution_id) as pipeline_watch,
            anyio.create_task_group() as drawing,
        ):
            self.board.watch = watcher
            self.board.pipelines.append(pipeline_watch)
            drawing.start_soon(self.board.run)
            async with anyio.create_task_group() as work:
                work.start_soon(self._submit_all, watcher)
                work.start_soon(self._collect, watcher)
                work.start_soon(self._pipeline, pipeline_watch.wait)
            drawing.cancel_scope.cancel()
            self.board.refresh()
        await self._large_result(large.execution_id)
        self.summary.requests = self.counter.requests
        self.summary.rate_limited = self.counter.rate_limited
        self.summary.seconds = time.perf_counter() - started
        return self.summary

    async def _submit_all(self, watcher: Watch[ExecutionStatus]) -> None:
        limiter = anyio.CapacityLimiter(_SUBMITTERS)
        async with anyio.create_task_group() as tg:
            for index in range(self.args.executions):
                tg.start_soon(self._submit, watcher, limiter, index)

    async def _submit(
        self, watcher: Watch[ExecutionStatus], limiter: anyio.CapacityLimiter, index: int
    ) -> None:
        async with limiter:
            query_id = _QUERIES[index % len(_QUERIES)]
            response = await self.dune.execute_query(query_id, parameters={"n": index})
        self.board.ids.append(response.execution_id)
        watcher.add(response.execution_id)

    async def _collect(self, watcher: Watch[ExecutionStatus]) -> None:
        # as_completed ends when nothing is left unfinished, which can happen between two
        # submissions: go on until every execution has been submitted and seen to finish.
        while self.summary.finished < self.args.executions:
            async for final in watcher.as_completed():
                self.summary.states[short_state(final.state)] += 1
            await anyio.sleep(0.05)

    async def _pipeline(self, wait: Callable[[], Awaitable[PipelineStatus]]) -> None:
        final = await wait()
        nodes = final.node_executions
        self.summary.pipeline_nodes = len(nodes)
        self.summary.pipeline_completed = sum(node.is_success for node in nodes)
        self.display.note(
            f"pipeline {final.status}: "
            + ", ".join(f"node {node.id} {node.status}" for node in nodes)
        )

    async def _large_result(self, execution_id: str) -> None:
        await self.dune.wait_for_execution(execution_id)
        started = time.perf_counter()
        result = await self.dune.results(execution_id).all()
        self.summary.result_seconds = time.perf_counter() - started
        self.summary.result_rows = len(result.rows)
        self.display.note(
            f"read the result of query {_LARGE_QUERY}: {len(result.rows):,} rows"
            f" in {self.summary.result_seconds:.1f} s ({budget_line(self.dune, self.counter)})"
        )


async def _run_demo(args: argparse.Namespace) -> int:
    fake = build_fake(args.seed, args.rows)
    counter = RequestCounter()
    http = httpx.AsyncClient(
        transport=fake.transport(), event_hooks={"response": [counter.on_response]}
    )
    async with http, DuneClient(fake.api_key, http_client=http, plan=PLAN) as dune:
        with make_display(args.progress) as display:
            display.note(
                f"fake Dune in process: {PLAN} plan, no key, no network;"
                f" {args.executions} executions, seed {args.seed}"
            )
            demo = _Demo(args, dune, counter, display)
            code = await interruptible(lambda: _finish(demo))
            if code is None:
                display.note("interrupted: the demo ran on a fake Dune, nothing is left running")
                return ExitCode.INTERRUPTED
            return code


async def _finish(demo: _Demo) -> int:
    summary = await demo.run()
    demo.display.note(f"done in {summary.seconds:.1f} s")
    sys.stdout.write(summary.line() + "\n")
    sys.stdout.flush()
    return ExitCode.OK


def demo_main(args: argparse.Namespace) -> int:
    """Run the demo on the chosen event loop; return its exit code."""
    try:
        return anyio.run(_run_demo, args, backend=args.backend)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return ExitCode.INTERRUPTED
