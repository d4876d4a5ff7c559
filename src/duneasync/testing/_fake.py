"""`FakeDune`: the sans-io core of the fake Dune API and the registry tests script it through."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from duneasync.testing._clock import Clock, WallTime
from duneasync.testing._executions import ExecutionTruth
from duneasync.testing._faults import Fault, FaultPlan, Faults, Strike
from duneasync.testing._handlers import HANDLERS, Context
from duneasync.testing._http import Delivery, FakeResponse, error, match_route, parse_query
from duneasync.testing._pipelines import NodeKey
from duneasync.testing._ratelimit import PLANS, RateLimiter, RatePlan
from duneasync.testing._results import BadRequestError
from duneasync.testing._scripts import ExecutionScript, ScriptSource, TableSource
from duneasync.testing._state import Definition, FakeState, Stats, normalize_sql
from duneasync.testing._tables import Table

if TYPE_CHECKING:
    from duneasync.testing._inprocess import FakeTransport
    from duneasync.testing._server import FakeServer

__all__ = ["DEFAULT_API_KEY", "DEFAULT_START", "FakeDune"]

_log = logging.getLogger("duneasync.testing")

DEFAULT_API_KEY = "test-api-key"
"""The key a `FakeDune` accepts unless given another."""
DEFAULT_START = datetime(2025, 1, 6, 9, 30, tzinfo=timezone.utc)
"""The wall-clock time a `FakeDune` starts at unless given another."""

_BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def _fault_response(strike: Strike) -> FakeResponse:
    if strike.fault is Fault.HTTP_500:
        return error(500, "Internal error")
    if strike.fault is Fault.HTTP_502:
        return FakeResponse(502, [("Content-Type", "text/html")], _BAD_GATEWAY)
    if strike.fault is Fault.HTTP_503:
        return FakeResponse(503, [("Content-Type", "text/plain")], b"Service Unavailable")
    return FakeResponse(0, delivery=Delivery.DROP_BEFORE_SENDING)


class FakeDune:
    """A stateful, deterministic fake of the Dune API.

    The core is `handle`, a function from one request to one response over state guarded by a
    lock, doing no I/O. `transport()` serves it in process to an `httpx.AsyncClient`, and
    `serve()` over real loopback sockets.

    Args:
        api_key: The only key accepted in `X-Dune-Api-Key` (or the `api_key` query parameter).
        plan: The rate plan: `"free"`, `"plus"`, `"premium"`, a `RatePlan`, or `None` for no
            rate limits (the default, so that tests meet limits only when they ask to).
        clock: Monotonic seconds; pass a `ManualClock` to move time by hand.
        seed: Seeds every random choice: identifiers, default scripts, random faults.
        start_datetime: The wall-clock time the clock's reading at construction stands for.
        auto_queries: Invent a deterministic table for unknown query ids, views and SQL
            instead of answering 404 (or failing unregistered SQL).
        max_page_rows: A server-side cap on rows per results page, `None` for none but the
            datapoint cap.
        max_inflight_executions: Reported as `max_inflight_interactive_executions`.
        faults: Random faults to inject.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        plan: str | RatePlan | None = None,
        clock: Clock = time.monotonic,
        seed: int = 0,
        start_datetime: datetime = DEFAULT_START,
        auto_queries: bool = False,
        max_page_rows: int | None = None,
        max_inflight_executions: int = 3,
        faults: Faults | None = None,
    ) -> None:
        if isinstance(plan, str):
            if plan not in PLANS:
                raise ValueError(f"unknown plan {plan!r}; choose from {sorted(PLANS)}")
            plan = PLANS[plan]
        self._api_key = api_key
        self._clock = clock
        self._lock = threading.Lock()
        self._limiter = None if plan is None else RateLimiter(plan)
        self._state = FakeState(seed, WallTime(start_datetime, clock()), auto_queries)
        self._faults = FaultPlan(faults, seed)
        self._max_page_rows = max_page_rows
        self._max_inflight = max_inflight_executions
        self.seed = seed

    def __repr__(self) -> str:
        # The key stays out of the repr on purpose: reprs end up in logs and test reports.
        return f"FakeDune(seed={self.seed}, plan={self.plan!r})"

    @property
    def api_key(self) -> str:
        """Return the accepted API key, for building clients in tests."""
        return self._api_key

    @property
    def plan(self) -> RatePlan | None:
        """Return the rate plan in force, `None` if unlimited."""
        return None if self._limiter is None else self._limiter.plan

    def now(self) -> float:
        """Return the fake's clock reading."""
        return self._clock()

    # -- scripting ---------------------------------------------------------------------------

    def add_query(
        self,
        query_id: int,
        table: TableSource,
        *,
        script: ScriptSource | None = None,
        depends_on: Sequence[int | str] = (),
    ) -> None:
        """Register a saved query.

        Args:
            query_id: The query id clients execute.
            table: Its result, or a function from the execution's parameters to a result.
            script: Its executions' script, or a function from parameters to a script;
                `None` for plausible random durations that complete.
            depends_on: Upstream lineage for pipelines: query ids (int) and materialized
                view names (str).
        """
        self._register_check(table)
        with self._lock:
            self._state.queries[query_id] = Definition(table, script, _keys(depends_on))

    def add_sql(self, sql: str, table: TableSource, *, script: ScriptSource | None = None) -> None:
        """Register raw SQL for `POST /sql/execute`, matched with whitespace collapsed."""
        self._register_check(table)
        with self._lock:
            self._state.sql[normalize_sql(sql)] = Definition(table, script)

    def add_materialized_view(
        self,
        name: str,
        table: TableSource | None = None,
        *,
        script: ScriptSource | None = None,
        depends_on: Sequence[int | str] = (),
        query_id: int | None = None,
    ) -> None:
        """Register a materialized view that pipelines can refresh.

        Args:
            name: The view's name, e.g. `dune.team.result_prices`.
            table: What a refresh execution returns (a small generated table by default).
            script: The refresh execution's script.
            depends_on: Upstream lineage: query ids and view names.
            query_id: The query behind the view, reported in its executions' status.
        """
        resolved = Table.generated(10) if table is None else table
        self._register_check(resolved)
        with self._lock:
            self._state.views[name] = Definition(resolved, script, _keys(depends_on), query_id)

    def queue_scripts(self, *scripts: ExecutionScript) -> None:
        """Make the next executions, of any query, follow these scripts in order."""
        with self._lock:
            self._state.queued_scripts.extend(scripts)

    @staticmethod
    def _register_check(table: object) -> None:
        if not isinstance(table, Table) and not callable(table):
            raise TypeError("table must be a Table or a function returning one")

    # -- faults ------------------------------------------------------------------------------

    def inject(
        self, fault: Fault, *, endpoint: str | None = None, times: int = 1, delay: float = 0.5
    ) -> None:
        """Make the next `times` requests to `endpoint` (any endpoint if `None`) meet `fault`.

        Scripted faults strike before random ones, in the order they were injected.

        Args:
            fault: The fault.
            endpoint: A stable endpoint name such as `"execute_query"`.
            times: How many requests it strikes.
            delay: For `Fault.SLOW`, the real seconds to wait.
        """
        with self._lock:
            self._faults.inject(fault, endpoint, times, delay)

    def set_faults(self, faults: Faults | None) -> None:
        """Replace the random faults (restarting their generator); `None` turns them off."""
        with self._lock:
            self._faults.configure(faults)

    def clear_faults(self) -> None:
        """Forget every scripted and random fault."""
        with self._lock:
            self._faults.clear()

    # -- inspection --------------------------------------------------------------------------

    @property
    def stats(self) -> Stats:
        """Return a snapshot of the counters."""
        with self._lock:
            return self._state.stats()

    def reset_stats(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._state.reset_stats()

    def execution(self, execution_id: str) -> ExecutionTruth:
        """Return the server-side truth about an execution, on the fake's clock.

        Raises:
            KeyError: If no such execution exists.
        """
        with self._lock:
            return self._state.executions[execution_id].truth(self._clock())

    def execution_ids(self) -> list[str]:
        """Return every execution id, oldest first."""
        with self._lock:
            return list(self._state.executions)

    # -- the core ----------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: str | Mapping[str, str] = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        *,
        scheme: str = "https",
    ) -> FakeResponse:
        """Answer one request, doing no I/O.

        Args:
            method: The HTTP method.
            path: The URL path, e.g. `/api/v1/execution/01H.../status`.
            query: The raw query string or its parameters.
            headers: The request headers (any case).
            body: The request body.
            scheme: The scheme the request came over, used in `next_uri`.

        Returns:
            The response, with instructions for the adapter (drop, truncate, delay).
        """
        found = match_route(method, path)
        if found is None:
            return error(404, "Not found")
        route, path_params = found
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        params = parse_query(query)
        with self._lock:
            now = self._clock()
            self._state.requests[route.name] += 1
            strike = self._faults.pick(route.name)
            if strike is not None:
                self._state.faults[strike.fault.value] += 1
                if strike.fault.before_acting:
                    response = _fault_response(strike)
                    response.endpoint = route.name
                    return response
            key = lowered.get("x-dune-api-key") or params.get("api_key")
            if key != self._api_key:
                self._state.counters["unauthorized"] += 1
                return self._finish(error(401, "invalid API Key"), route.name, strike)
            rate_headers: list[tuple[str, str]] = []
            if self._limiter is not None:
                verdict = self._limiter.acquire(route.budget, now)
                rate_headers = list(verdict.headers.items())
                if not verdict.allowed:
                    self._state.counters["rate_limited"] += 1
                    refused = error(429, "Too many requests: rate limit exceeded")
                    refused.headers += [*rate_headers, ("Retry-After", str(verdict.retry_after))]
                    return self._finish(refused, route.name, strike)
        host = lowered.get("host", "api.dune.com")
        context = Context(
            state=self._state,
            lock=self._lock,
            now=now,
            path_params=path_params,
            query=params,
            body=body,
            base_url=f"{scheme}://{host}",
            path=path.rstrip("/"),
            max_page_rows=self._max_page_rows,
            max_inflight=self._max_inflight,
        )
        try:
            response = HANDLERS[route.name](context)
        except BadRequestError as exc:
            response = error(400, str(exc))
        except Exception:
            _log.exception("fake Dune failed on %s %s", method, route.name)
            response = error(500, "Internal error")
        response.headers += rate_headers
        return self._finish(response, route.name, strike)

    @staticmethod
    def _finish(response: FakeResponse, endpoint: str, strike: Strike | None) -> FakeResponse:
        response.endpoint = endpoint
        if strike is None:
            return response
        if strike.fault is Fault.DROP_AFTER:
            response.delivery = Delivery.DROP
        elif strike.fault is Fault.TRUNCATE:
            response.delivery = Delivery.TRUNCATE
        elif strike.fault is Fault.SLOW:
            response.delay = strike.delay
        return response

    # -- adapters ----------------------------------------------------------------------------

    def transport(self) -> FakeTransport:
        """Return an `httpx.AsyncBaseTransport` that serves this fake in process."""
        from duneasync.testing._inprocess import FakeTransport

        return FakeTransport(self)

    @contextmanager
    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, backend: str = "asyncio"
    ) -> Generator[FakeServer, None, None]:
        """Serve this fake over HTTP/1.1 on a loopback socket from a background thread.

        Args:
            host: The address to bind; loopback by default.
            port: The port; 0 picks a free one (read it from `server.base_url`).
            backend: The anyio backend of the server's event loop.

        Yields:
            The running server.
        """
        from duneasync.testing._server import run_in_thread

        with run_in_thread(self, host, port, backend) as server:
            yield server


def _keys(depends_on: Sequence[int | str]) -> tuple[NodeKey, ...]:
    return tuple(
        ("view", dep) if isinstance(dep, str) else ("query", int(dep)) for dep in depends_on
    )
