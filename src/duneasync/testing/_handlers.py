"""One function per endpoint: from a checked request to a response, over the fake's state.

Each handler holds the lock only while it reads or changes state; building and encoding a
large page happens outside it, from the immutable table, so several pages can be built at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import msgspec

from duneasync.testing._executions import Execution
from duneasync.testing._http import FakeResponse, error, json_response
from duneasync.testing._pipelines import (
    NodeSpec,
    PipelineRun,
    as_object,
    check_parameters,
    check_performance,
    lineage_nodes,
    parse_nodes,
)
from duneasync.testing._results import BadRequestError, build_page, encode_json, parse_options
from duneasync.testing._scripts import COMPLETED, COMPLETED_PARTIAL
from duneasync.testing._state import FakeState

__all__ = ["HANDLERS", "Context"]


@dataclass(frozen=True)
class Context:
    """One request, checked and routed, with what its handler needs."""

    state: FakeState
    lock: threading.Lock
    now: float
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    base_url: str
    path: str
    max_page_rows: int | None
    max_inflight: int

    def json_body(self) -> dict[str, object]:
        """Return the JSON object body, `{}` when empty.

        Raises:
            BadRequestError: If the body is not a JSON object.
        """
        if not self.body.strip():
            return {}
        try:
            decoded = msgspec.json.decode(self.body)
        except msgspec.DecodeError:
            raise BadRequestError("request body is not valid JSON") from None
        payload = as_object(decoded)
        if payload is None:
            raise BadRequestError("request body must be a JSON object")
        return payload

    def option(self, payload: Mapping[str, object], name: str) -> object:
        """Return an execute option from the JSON body, else from the query string.

        The OpenAPI description puts `query_parameters` and `performance` in the query string
        while clients send them in the body; the fake accepts both and the body wins.
        """
        if name in payload:
            return payload[name]
        raw = self.query.get(name)
        if raw is None or name != "query_parameters":
            return raw
        try:
            return msgspec.json.decode(raw)
        except msgspec.DecodeError:
            raise BadRequestError("query_parameters must be a JSON object") from None


def _execute_query(ctx: Context) -> FakeResponse:
    query_id = int(ctx.path_params["query_id"])
    payload = ctx.json_body()
    parameters = check_parameters(ctx.option(payload, "query_parameters"))
    performance = check_performance(ctx.option(payload, "performance"))
    with ctx.lock:
        definition = ctx.state.query(query_id)
        if definition is None:
            return error(404, "Query not found")
        execution = ctx.state.start(
            definition, ctx.now, query_id=query_id, performance=performance, parameters=parameters
        )
        state = execution.state(ctx.now)
    return json_response(200, {"execution_id": execution.execution_id, "state": state})


def _execute_sql(ctx: Context) -> FakeResponse:
    payload = ctx.json_body()
    sql = payload.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise BadRequestError("sql is required")
    performance = check_performance(payload.get("performance"))
    with ctx.lock:
        definition = ctx.state.sql_definition(sql)
        execution = ctx.state.start(definition, ctx.now, query_id=None, performance=performance)
        state = execution.state(ctx.now)
    return json_response(200, {"execution_id": execution.execution_id, "state": state})


def _find(ctx: Context) -> Execution | None:
    return ctx.state.executions.get(ctx.path_params["execution_id"])


def _execution_status(ctx: Context) -> FakeResponse:
    with ctx.lock:
        execution = _find(ctx)
        if execution is None:
            return error(404, "Execution not found")
        inflight = ctx.state.inflight_count(ctx.now)
        body = execution.status_body(ctx.now, ctx.state.wall, ctx.max_inflight, inflight)
    return json_response(200, body)


def _results(ctx: Context, execution: Execution, csv: bool) -> FakeResponse:
    options = parse_options(ctx.query)
    with ctx.lock:
        state = execution.state(ctx.now)
        common = execution.common_fields(ctx.now, ctx.state.wall)
        table = execution.stored_table()
    if state not in (COMPLETED, COMPLETED_PARTIAL):
        if csv:
            return error(400, f"execution is in state {state}: there is no result to export")
        return json_response(200, common)
    if state == COMPLETED_PARTIAL and not options.allow_partial_results:
        raise BadRequestError(
            "this result is partial (QUERY_STATE_COMPLETED_PARTIAL); "
            "pass allow_partial_results=true to read it"
        )
    page = build_page(table, options, max_page_rows=ctx.max_page_rows)
    next_uri = None
    if page.next_offset is not None:
        next_uri = f"{ctx.base_url}{ctx.path}?{options.next_query(page.next_offset)}"
    if csv:
        headers = [("Content-Type", "text/csv")]
        if page.next_offset is not None and next_uri is not None:
            headers += [
                ("x-dune-next-offset", str(page.next_offset)),
                ("x-dune-next-uri", next_uri),
            ]
        return FakeResponse(200, headers, page.csv_body())
    millis = (
        round(execution.script.pending_seconds * 1000),
        round(execution.script.executing_seconds * 1000),
    )
    body = dict(common)
    body["result"] = {"rows": page.json_rows(), "metadata": page.metadata(*millis)}
    if page.next_offset is not None:
        body["next_offset"] = page.next_offset
        body["next_uri"] = next_uri
    return FakeResponse(200, [("Content-Type", "application/json")], encode_json(body))


def _execution_results(ctx: Context, csv: bool = False) -> FakeResponse:
    with ctx.lock:
        execution = _find(ctx)
    if execution is None:
        return error(404, "Execution not found")
    return _results(ctx, execution, csv)


def _query_results(ctx: Context, csv: bool = False) -> FakeResponse:
    query_id = int(ctx.path_params["query_id"])
    with ctx.lock:
        if ctx.state.query(query_id) is None:
            return error(404, "Query not found")
        execution = ctx.state.latest_completed(query_id, ctx.now)
    if execution is None:
        return error(404, f"query {query_id} has no completed execution yet")
    return _results(ctx, execution, csv)


def _cancel(ctx: Context) -> FakeResponse:
    with ctx.lock:
        execution = _find(ctx)
        if execution is None:
            return error(404, "Execution not found")
        success = execution.cancel(ctx.now)
        if success:
            ctx.state.cancelled(execution.execution_id)
    return json_response(200, {"success": success})


def _lineage(ctx: Context, query_id: int, payload: Mapping[str, object]) -> list[NodeSpec]:
    parameters = check_parameters(ctx.option(payload, "query_parameters"))
    performance = check_performance(ctx.option(payload, "performance"))
    return lineage_nodes(query_id, ctx.state.depends_on, performance, parameters)


def _missing(state: FakeState, nodes: list[NodeSpec]) -> str | None:
    for node in nodes:
        if node.view is not None and state.view(node.view) is None:
            return f"materialized view {node.view} not found"
        if node.query_id is not None and state.query(node.query_id) is None:
            return f"query {node.query_id} not found"
    return None


def _start_pipeline(ctx: Context, nodes: Callable[[], list[NodeSpec]]) -> FakeResponse:
    with ctx.lock:
        built = nodes()
        missing = _missing(ctx.state, built)
        if missing is not None:
            return error(404, missing)
        run = PipelineRun(ctx.state.new_id(ctx.now), built, ctx.now)
        ctx.state.pipelines[run.pipeline_execution_id] = run
        ctx.state.counters["pipelines"] += 1
        ctx.state.advance_pipelines(ctx.now, run)
    return json_response(200, {"pipeline_execution_id": run.pipeline_execution_id})


def _execute_pipeline(ctx: Context) -> FakeResponse:
    payload = ctx.json_body()
    pipeline = as_object(payload.get("pipeline"))
    if pipeline is not None:
        raw_nodes = pipeline.get("nodes")
        return _start_pipeline(ctx, lambda: parse_nodes(raw_nodes))
    query_id = payload.get("query_id")
    if isinstance(query_id, int) and not isinstance(query_id, bool):
        return _start_pipeline(ctx, lambda: _lineage(ctx, query_id, payload))
    raise BadRequestError('give either {"pipeline": {"nodes": [...]}} or {"query_id": ...}')


def _execute_query_pipeline(ctx: Context) -> FakeResponse:
    query_id = int(ctx.path_params["query_id"])
    payload = ctx.json_body()
    return _start_pipeline(ctx, lambda: _lineage(ctx, query_id, payload))


def _query_pipeline(ctx: Context) -> FakeResponse:
    query_id = int(ctx.path_params["query_id"])
    with ctx.lock:
        if ctx.state.query(query_id) is None:
            return error(404, "Query not found")
        nodes = _lineage(ctx, query_id, {})
    return json_response(200, {"pipeline": {"nodes": [n.to_json() for n in nodes]}})


def _pipeline_status(ctx: Context) -> FakeResponse:
    with ctx.lock:
        run = ctx.state.pipelines.get(ctx.path_params["pipeline_id"])
        if run is None:
            return error(404, "Pipeline execution not found")
        ctx.state.advance_pipelines(ctx.now, run)
        body = run.status_body(ctx.now)
    return json_response(200, body)


#: The handler of each endpoint, by stable endpoint name.
HANDLERS: dict[str, Callable[[Context], FakeResponse]] = {
    "execute_query": _execute_query,
    "execute_sql": _execute_sql,
    "execution_status": _execution_status,
    "execution_results": _execution_results,
    "execution_results_csv": lambda ctx: _execution_results(ctx, csv=True),
    "query_results": _query_results,
    "query_results_csv": lambda ctx: _query_results(ctx, csv=True),
    "cancel_execution": _cancel,
    "execute_pipeline": _execute_pipeline,
    "execute_query_pipeline": _execute_query_pipeline,
    "query_pipeline": _query_pipeline,
    "pipeline_status": _pipeline_status,
}
