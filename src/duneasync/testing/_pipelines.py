"""Pipelines: node definitions, lineage, and runs that start each node when its dependencies end.

Node and pipeline status strings share one vocabulary: `pending`, `executing`, `completed`,
`failed`, `cancelled`. A node whose dependency failed or was cancelled never runs: it reports
`cancelled` with an error naming that dependency, and has no `execution_id`. A pipeline is
`pending` until a node executes, `executing` while any node is unfinished after that,
`completed` when every node completed, and `failed` when every node is finished and not all
completed (its `error` names the first node that did not complete).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeGuard, Union, cast

from duneasync.testing._executions import Execution
from duneasync.testing._results import BadRequestError
from duneasync.testing._scripts import (
    CANCELLED,
    COMPLETED,
    COMPLETED_PARTIAL,
    EXECUTING,
    EXPIRED,
    FAILED,
    PENDING,
)

__all__ = ["NodeKey", "NodeSpec", "PipelineRun", "lineage_nodes", "parse_nodes"]

#: A lineage vertex: `("query", query_id)` or `("view", name)`.
NodeKey = Union[tuple[str, int], tuple[str, str]]  # noqa: UP007 - runtime alias on Python 3.10

_NODE_STATUS = {
    PENDING: "pending",
    EXECUTING: "executing",
    COMPLETED: "completed",
    COMPLETED_PARTIAL: "completed",
    EXPIRED: "completed",
    FAILED: "failed",
    CANCELLED: "cancelled",
}
_PERFORMANCE = ("medium", "large")


@dataclass(frozen=True)
class NodeSpec:
    """One pipeline node: a query execution or a materialized-view refresh."""

    id: int
    dependencies: tuple[int, ...]
    query_id: int | None = None
    view: str | None = None
    performance: str = "medium"
    parameters: Mapping[str, object] = field(default_factory=dict[str, object])

    def to_json(self) -> dict[str, object]:
        """Return the wire form used by `GET /query/{id}/pipeline`."""
        body: dict[str, object] = {"id": self.id, "dependencies": list(self.dependencies)}
        if self.view is not None:
            body["materialized_view_refresh"] = {"name": self.view, "performance": self.performance}
        else:
            body["query_execution"] = {
                "query_id": self.query_id,
                "performance": self.performance,
                "query_parameters": dict(self.parameters),
            }
        return body


def check_performance(value: object) -> str:
    """Return a valid performance tier, `medium` when absent.

    Raises:
        BadRequestError: If the value is not `medium` or `large`.
    """
    if value is None:
        return "medium"
    if value not in _PERFORMANCE:
        raise BadRequestError("performance must be medium or large")
    return str(value)


def as_object(value: object) -> dict[str, object] | None:
    """Return a decoded JSON object with typed keys, or `None` if `value` is not one."""
    if not isinstance(value, dict):
        return None
    return {str(k): v for k, v in cast("dict[object, object]", value).items()}


def check_parameters(value: object) -> dict[str, object]:
    """Return query parameters as a dict, empty when absent.

    Raises:
        BadRequestError: If the value is not a JSON object.
    """
    if value is None:
        return {}
    parameters = as_object(value)
    if parameters is None:
        raise BadRequestError("query_parameters must be an object")
    return parameters


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_node(raw: object) -> NodeSpec:
    node = as_object(raw)
    if node is None:
        raise BadRequestError("each pipeline node must be an object")
    node_id, deps = node.get("id"), node.get("dependencies", [])
    if not _is_int(node_id):
        raise BadRequestError("each pipeline node needs an integer id")
    dep_list = cast("list[object]", deps) if isinstance(deps, list) else None
    if dep_list is None or not all(_is_int(d) for d in dep_list):
        raise BadRequestError(f"node {node_id}: dependencies must be a list of node ids")
    dependencies = tuple(d for d in dep_list if _is_int(d))
    query = as_object(node.get("query_execution"))
    view = as_object(node.get("materialized_view_refresh"))
    if (query is None) == (view is None):
        raise BadRequestError(
            f"node {node_id}: give exactly one object of query_execution and "
            "materialized_view_refresh"
        )
    if query is not None:
        qid = query.get("query_id")
        if not _is_int(qid):
            raise BadRequestError(f"node {node_id}: query_execution.query_id must be an integer")
        return NodeSpec(
            node_id,
            dependencies,
            query_id=qid,
            performance=check_performance(query.get("performance")),
            parameters=check_parameters(query.get("query_parameters")),
        )
    assert view is not None  # exactly one of the two is set, checked above
    name = view.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequestError(f"node {node_id}: materialized_view_refresh.name must be a string")
    perf = check_performance(view.get("performance"))
    return NodeSpec(node_id, dependencies, view=name, performance=perf)


def parse_nodes(raw_nodes: object) -> list[NodeSpec]:
    """Parse and check the nodes of a pipeline request; return them in dependency order.

    Raises:
        BadRequestError: On a malformed node, a duplicate id, an unknown dependency or a cycle.
    """
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise BadRequestError("pipeline.nodes must be a non-empty list")
    nodes = [_parse_node(raw) for raw in cast("list[object]", raw_nodes)]
    by_id = {n.id: n for n in nodes}
    if len(by_id) != len(nodes):
        raise BadRequestError("pipeline node ids must be unique")
    for node in nodes:
        missing = [d for d in node.dependencies if d not in by_id]
        if missing:
            raise BadRequestError(f"node {node.id} depends on unknown nodes {missing}")
    ordered: list[NodeSpec] = []
    state: dict[int, str] = {}

    def visit(node: NodeSpec) -> None:
        if state.get(node.id) == "done":
            return
        if state.get(node.id) == "visiting":
            raise BadRequestError(f"pipeline has a dependency cycle through node {node.id}")
        state[node.id] = "visiting"
        for dep in node.dependencies:
            visit(by_id[dep])
        state[node.id] = "done"
        ordered.append(node)

    for node in nodes:
        visit(node)
    return ordered


def lineage_nodes(
    root: int,
    depends_on: Callable[[NodeKey], Sequence[NodeKey]],
    performance: str,
    parameters: Mapping[str, object],
) -> list[NodeSpec]:
    """Build the pipeline that refreshes query `root` and everything upstream of it.

    Nodes are numbered from 1 in dependency order, so the root query is the last node; only the
    root receives `parameters`.

    Raises:
        BadRequestError: If the lineage has a cycle.
    """
    numbers: dict[NodeKey, int] = {}
    nodes: list[NodeSpec] = []
    visiting: set[NodeKey] = set()

    def visit(key: NodeKey) -> int:
        if key in numbers:
            return numbers[key]
        if key in visiting:
            raise BadRequestError(f"lineage has a cycle through {key[0]} {key[1]}")
        visiting.add(key)
        deps = tuple(visit(dep) for dep in depends_on(key))
        number = numbers[key] = len(nodes) + 1
        kind, ident = key
        if kind == "view":
            nodes.append(NodeSpec(number, deps, view=str(ident), performance=performance))
        else:
            params = dict(parameters) if key == ("query", root) else {}
            nodes.append(NodeSpec(number, deps, int(ident), None, performance, params))
        return number

    visit(("query", root))
    return nodes


@dataclass
class PipelineRun:
    """A pipeline execution: its nodes, and the executions started for them so far."""

    pipeline_execution_id: str
    nodes: list[NodeSpec]
    submitted: float
    executions: dict[int, Execution] = field(default_factory=dict[int, Execution])
    blocked: dict[int, int] = field(default_factory=dict[int, int])

    def advance(self, now: float, start: Callable[[NodeSpec, float], Execution]) -> None:
        """Start every node whose dependencies completed by `now`, back-dated to that moment.

        Nothing runs in the background: each read of the pipeline catches up with the clock, and
        back-dating makes the timeline independent of how often anyone looks.
        """
        for node in self.nodes:
            if node.id in self.executions or node.id in self.blocked:
                continue
            ready_at = self.submitted
            for dep in node.dependencies:
                upstream = self.executions.get(dep)
                if dep in self.blocked or (
                    upstream is not None
                    and _NODE_STATUS[upstream.state(now)] in ("failed", "cancelled")
                ):
                    self.blocked[node.id] = dep
                    break
                ended = None if upstream is None else upstream.ended_at(now)
                if ended is None:
                    ready_at = -1.0
                    break
                ready_at = max(ready_at, ended)
            if node.id not in self.blocked and ready_at >= 0:
                self.executions[node.id] = start(node, ready_at)

    def node_status(self, node: NodeSpec, now: float) -> tuple[str, str | None]:
        """Return a node's status string and error message, if any."""
        if node.id in self.blocked:
            return "cancelled", f"dependency node {self.blocked[node.id]} did not complete"
        execution = self.executions.get(node.id)
        if execution is None:
            return "pending", None
        status = _NODE_STATUS.get(execution.state(now), "executing")
        if status == "failed" and execution.script.error is not None:
            return status, execution.script.error.message
        if status == "cancelled":
            return status, "execution was cancelled"
        return status, None

    def status_body(self, now: float) -> dict[str, object]:
        """Return the body of `GET /pipelines/executions/{id}/status` at `now`."""
        entries: list[dict[str, object]] = []
        statuses: list[str] = []
        first_error: str | None = None
        for node in sorted(self.nodes, key=lambda n: n.id):
            status, message = self.node_status(node, now)
            statuses.append(status)
            detail: dict[str, object] = {"status": status}
            if node.view is not None:
                detail["name"] = node.view
                key = "materialized_view_refresh_status"
            else:
                detail["query_id"] = node.query_id
                key = "query_execution_status"
            execution = self.executions.get(node.id)
            if execution is not None:
                detail["execution_id"] = execution.execution_id
            if message is not None:
                detail["error"] = message
                if first_error is None and status in ("failed", "cancelled"):
                    first_error = f"node {node.id} {status}: {message}"
            entries.append({"id": node.id, key: detail})
        body: dict[str, object] = {"status": _overall(statuses)}
        if body["status"] == "failed" and first_error is not None:
            body["error"] = first_error
        body["node_executions"] = entries
        return body


def _overall(statuses: Sequence[str]) -> str:
    if all(s == "completed" for s in statuses):
        return "completed"
    if all(s in ("completed", "failed", "cancelled") for s in statuses):
        return "failed"
    if all(s == "pending" for s in statuses):
        return "pending"
    return "executing"
