"""Embedding duneasync in an async web app: one client, one watcher, status as server-sent events.

Run it (``pip install starlette uvicorn``)::

    DUNE_API_KEY=... uvicorn examples.webapp.app:app

or against the fake Dune, without a key::

    python -m duneasync.testing serve --port 8765 --auto-queries &
    DUNE_API_KEY=test-api-key DUNE_BASE_URL=http://127.0.0.1:8765 uvicorn examples.webapp.app:app

then::

    curl -X POST localhost:8000/queries/1234/executions -d '{"parameters": {"days": 7}}'
    curl -N localhost:8000/executions/<execution_id>/events

The app opens one ``DuneClient`` in its lifespan and one watcher that every request shares:
however many browsers follow an execution, Dune sees one stream of status polls for it, paced
within the key's rate budget. Closing a stream stops nothing on Dune.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing, asynccontextmanager
from typing import Any

import httpx
import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from duneasync import (
    APIError,
    APIStatusError,
    ConfigurationError,
    DuneClient,
    ExecutionStatus,
    PollPolicy,
    RateBudget,
    Watch,
)
from duneasync.extend import DEFAULT_BASE_URL

_ENCODER = msgspec.json.Encoder()


def _event(name: str, status: ExecutionStatus) -> bytes:
    """One server-sent event: ``event: NAME`` and the status as JSON on one data line."""
    return b"event: " + name.encode() + b"\ndata: " + _ENCODER.encode(status) + b"\n\n"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _api_error(error: APIError) -> JSONResponse:
    # Dune's own 4xx (unknown query, bad parameters, 429) mean something to our caller;
    # anything else is our upstream failing.
    if isinstance(error, APIStatusError) and error.status_code < 500:
        return _error(error.status_code, str(error))
    return _error(502, str(error))


def create_app(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    poll_policy: PollPolicy | None = None,
) -> Starlette:
    """Build the app.

    Args:
        api_key: The Dune key; ``DUNE_API_KEY`` by default (read at startup, not import).
        base_url: The API origin; ``DUNE_BASE_URL`` or Dune's by default.
        transport: An httpx transport for the client (the tests pass the fake's).
        poll_policy: How the shared watcher polls.
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # One client for the whole app: one connection pool, one rate budget learned from
        # Dune's headers, one poll scheduler. The watcher lives as long as the app.
        async with (
            DuneClient(
                api_key,
                base_url=base_url or os.environ.get("DUNE_BASE_URL", DEFAULT_BASE_URL),
                transport=transport,
                rate_budget=RateBudget(),
                poll_policy=poll_policy,
            ) as dune,
            dune.watch_executions() as watcher,
        ):
            app.state.dune = dune
            app.state.watcher = watcher
            yield

    return Starlette(
        routes=[
            Route("/queries/{query_id:int}/executions", start_query, methods=["POST"]),
            Route("/executions/{execution_id}", execution_status, methods=["GET"]),
            Route("/executions/{execution_id}/events", execution_events, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


async def start_query(request: Request) -> Response:
    """Start a saved query; answer 202 with its execution id and where to follow it."""
    dune: DuneClient = request.app.state.dune
    watcher: Watch[ExecutionStatus] = request.app.state.watcher
    body = await request.body()
    try:
        payload: Mapping[str, Any] = msgspec.json.decode(body) if body else {}
        parameters = payload.get("parameters") if isinstance(payload, dict) else None
        execution = await dune.execute_query(request.path_params["query_id"], parameters=parameters)
    except (msgspec.DecodeError, ConfigurationError) as exc:
        return _error(400, str(exc))
    except APIError as exc:
        return _api_error(exc)
    watcher.add(execution.execution_id)  # start polling now, before anyone listens
    events = request.url_for("execution_events", execution_id=execution.execution_id)
    return JSONResponse(
        {"execution_id": execution.execution_id, "state": execution.state, "events": str(events)},
        status_code=202,
    )


async def execution_status(request: Request) -> Response:
    """Return the latest status the shared watcher has seen (no request to Dune)."""
    watcher: Watch[ExecutionStatus] = request.app.state.watcher
    status = watcher.status(request.path_params["execution_id"])
    if status is None:
        return _error(404, "not watched here, or not answered yet")
    return Response(_ENCODER.encode(status), media_type="application/json")


async def execution_events(request: Request) -> Response:
    """Stream an execution's status as server-sent events until it finishes.

    Each change is a ``status`` event; the final status is a ``done`` event, then the stream
    ends. Any execution id may be followed, not only those started here.
    """
    dune: DuneClient = request.app.state.dune
    watcher: Watch[ExecutionStatus] = request.app.state.watcher
    execution_id: str = request.path_params["execution_id"]
    if watcher.status(execution_id) is None:
        # Not seen yet (e.g. started elsewhere): ask once, so that an unknown id is a 404 now
        # rather than a stream that never says anything.
        try:
            await dune.get_execution_status(execution_id)
        except ConfigurationError as exc:
            return _error(400, str(exc))
        except APIError as exc:
            return _api_error(exc)
    watcher.add(execution_id)
    return StreamingResponse(
        _status_events(watcher, execution_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _status_events(
    watcher: Watch[ExecutionStatus], execution_id: str
) -> AsyncIterator[bytes]:
    current = watcher.status(execution_id)
    if current is not None and current.is_finished:
        yield _event("done", current)
        return
    # changes() first replays the latest status of every watched execution, then each change as
    # it happens, to every listener: no change between the check above and here is lost.
    # aclosing: leaving the loop early must close the iterator at once (trio insists).
    async with aclosing(watcher.changes()) as changes:
        async for status in changes:
            if status.execution_id != execution_id:
                continue
            if status.is_finished:
                yield _event("done", status)
                return
            yield _event("status", status)


app = create_app()
