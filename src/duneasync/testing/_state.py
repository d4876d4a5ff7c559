"""The fake's state: registered queries, SQL and views, executions, pipelines and counters.

Nothing here locks: `FakeDune` holds its lock around every call into this module.
"""

from __future__ import annotations

import heapq
import random
import re
import zlib
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from duneasync.testing._clock import WallTime
from duneasync.testing._executions import Execution, IdMaker
from duneasync.testing._pipelines import NodeKey, NodeSpec, PipelineRun
from duneasync.testing._scripts import (
    COMPLETED,
    COMPLETED_PARTIAL,
    EXPIRED,
    ExecutionScript,
    ScriptSource,
    TableSource,
    random_script,
)
from duneasync.testing._tables import Column, Table

__all__ = ["Definition", "FakeState", "Stats", "normalize_sql"]

_UNREGISTERED = Table([Column("_col0", "varchar")])


def normalize_sql(sql: str) -> str:
    """Return `sql` with runs of whitespace collapsed, the form SQL is matched in."""
    return re.sub(r"\s+", " ", sql).strip()


@dataclass
class Definition:
    """A registered query, SQL text or materialized view."""

    table: TableSource
    script: ScriptSource | None = None
    depends_on: tuple[NodeKey, ...] = ()
    query_id: int | None = None

    def make_table(self, parameters: Mapping[str, object]) -> Table:
        """Return the table for one execution with these parameters."""
        return self.table if isinstance(self.table, Table) else self.table(parameters)

    def make_script(self, parameters: Mapping[str, object]) -> ExecutionScript | None:
        """Return the script for one execution, `None` to fall back to the default."""
        if self.script is None or isinstance(self.script, ExecutionScript):
            return self.script
        return self.script(parameters)


@dataclass(frozen=True)
class Stats:
    """A snapshot of the fake's counters.

    Attributes:
        requests: Requests received per endpoint name, whatever their answer (401, 429 and
            faulted requests included).
        executions_created: Executions created, pipeline nodes included.
        pipelines_created: Pipeline executions created.
        rate_limited: 429 answers sent.
        unauthorized: 401 answers sent.
        faults_injected: Faults that struck, per fault value (e.g. `"drop_after"`).
    """

    requests: Mapping[str, int]
    executions_created: int
    pipelines_created: int
    rate_limited: int
    unauthorized: int
    faults_injected: Mapping[str, int]

    @property
    def total_requests(self) -> int:
        """Return the number of requests received on every endpoint."""
        return sum(self.requests.values())


@dataclass
class FakeState:
    """Everything the fake remembers."""

    seed: int
    wall: WallTime
    auto_queries: bool = False
    queries: dict[int, Definition] = field(default_factory=dict[int, Definition])
    sql: dict[str, Definition] = field(default_factory=dict[str, Definition])
    views: dict[str, Definition] = field(default_factory=dict[str, Definition])
    queued_scripts: deque[ExecutionScript] = field(default_factory=deque[ExecutionScript])
    executions: dict[str, Execution] = field(default_factory=dict[str, Execution])
    pipelines: dict[str, PipelineRun] = field(default_factory=dict[str, PipelineRun])
    inflight: set[str] = field(default_factory=set[str])
    # Unfinished executions by scheduled end, so counting them costs the ones that ended since
    # the last count, not a scan of every execution (10,000 running made the scan the fake's
    # bottleneck). A cancelled one leaves `inflight` when it is cancelled.
    ending: list[tuple[float, str]] = field(default_factory=list[tuple[float, str]])
    requests: Counter[str] = field(default_factory=Counter[str])
    faults: Counter[str] = field(default_factory=Counter[str])
    counters: Counter[str] = field(default_factory=Counter[str])

    def __post_init__(self) -> None:
        self._ids = IdMaker(self.seed)
        self._serial = 0

    def stats(self) -> Stats:
        """Return a snapshot of the counters."""
        return Stats(
            requests=dict(self.requests),
            executions_created=self.counters["executions"],
            pipelines_created=self.counters["pipelines"],
            rate_limited=self.counters["rate_limited"],
            unauthorized=self.counters["unauthorized"],
            faults_injected=dict(self.faults),
        )

    def reset_stats(self) -> None:
        """Zero every counter."""
        self.requests.clear()
        self.faults.clear()
        self.counters.clear()

    def new_id(self, at: float) -> str:
        """Return a fresh ULID-shaped identifier stamped with clock reading `at`."""
        return self._ids.make(self.wall.millis(at))

    def query(self, query_id: int) -> Definition | None:
        """Return a query's definition, inventing one in auto mode."""
        found = self.queries.get(query_id)
        if found is None and self.auto_queries:
            rows = 10 + (query_id * 7919) % 991
            found = self.queries[query_id] = Definition(Table.generated(rows, seed=query_id))
        return found

    def view(self, name: str) -> Definition | None:
        """Return a materialized view's definition, inventing one in auto mode."""
        found = self.views.get(name)
        if found is None and self.auto_queries:
            seed = zlib.crc32(name.encode())
            found = self.views[name] = Definition(Table.generated(10 + seed % 991, seed=seed))
        return found

    def sql_definition(self, sql: str) -> Definition | None:
        """Return the definition registered for this SQL text, inventing one in auto mode."""
        key = normalize_sql(sql)
        found = self.sql.get(key)
        if found is None and self.auto_queries:
            seed = zlib.crc32(key.encode())
            found = self.sql[key] = Definition(Table.generated(10 + seed % 991, seed=seed))
        return found

    def _script(
        self, definition: Definition | None, parameters: Mapping[str, object]
    ) -> ExecutionScript:
        self._serial += 1
        if definition is None:
            # Unregistered SQL in strict mode: fail loudly, in the place a test will look.
            return ExecutionScript.failed(
                "fake Dune: this SQL was not registered with FakeDune.add_sql()",
                error_type="FAILED_TYPE_UNREGISTERED_SQL",
            )
        if self.queued_scripts:
            return self.queued_scripts.popleft()
        script = definition.make_script(parameters)
        if script is not None:
            return script
        return random_script(random.Random(f"script:{self.seed}:{self._serial}"))

    def start(
        self,
        definition: Definition | None,
        at: float,
        *,
        query_id: int | None,
        performance: str = "medium",
        parameters: Mapping[str, object] | None = None,
    ) -> Execution:
        """Create an execution submitted at clock reading `at`."""
        params = dict(parameters or {})
        script = self._script(definition, params)
        table = _UNREGISTERED if definition is None else definition.make_table(params)
        execution = Execution(self.new_id(at), query_id, at, script, table, performance, params)
        self.executions[execution.execution_id] = execution
        self.inflight.add(execution.execution_id)
        heapq.heappush(self.ending, (execution.scheduled_end, execution.execution_id))
        self.counters["executions"] += 1
        return execution

    def inflight_count(self, now: float) -> int:
        """Return how many executions are unfinished at `now`, forgetting finished ones."""
        while self.ending and self.ending[0][0] <= now:
            _, execution_id = heapq.heappop(self.ending)
            self.inflight.discard(execution_id)
        return len(self.inflight)

    def cancelled(self, execution_id: str) -> None:
        """Forget a cancelled execution from the unfinished ones."""
        self.inflight.discard(execution_id)

    def start_node(self, node: NodeSpec, at: float) -> Execution:
        """Create the execution of one pipeline node, submitted at `at`."""
        if node.view is not None:
            view = self.views.get(node.view)
            query_id = None if view is None else view.query_id
            return self.start(view, at, query_id=query_id, performance=node.performance)
        definition = self.query(node.query_id or 0)
        return self.start(
            definition,
            at,
            query_id=node.query_id,
            performance=node.performance,
            parameters=node.parameters,
        )

    def depends_on(self, key: NodeKey) -> Sequence[NodeKey]:
        """Return the upstream lineage of a query or view (nothing for unknown ones)."""
        kind, ident = key
        found = self.views.get(str(ident)) if kind == "view" else self.queries.get(int(ident))
        return () if found is None else found.depends_on

    def latest_completed(self, query_id: int, now: float) -> Execution | None:
        """Return the query's execution that completed last by `now`, if any."""
        best: Execution | None = None
        for execution in self.executions.values():
            if execution.query_id != query_id:
                continue
            if execution.state(now) not in (COMPLETED, COMPLETED_PARTIAL, EXPIRED):
                continue
            ended = execution.ended_at(now)
            if best is None or (ended or 0.0) >= (best.ended_at(now) or 0.0):
                best = execution
        return best

    def advance_pipelines(self, now: float, run: PipelineRun) -> None:
        """Let a pipeline catch up with the clock."""
        start: Callable[[NodeSpec, float], Execution] = self.start_node
        run.advance(now, start)
