"""Running one command: the client, the display, Ctrl-C, and what was left running remotely."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import cast

import anyio
import anyio.abc
import httpx

from .._budget import RateBudget
from .._client import DuneClient
from .._watch import PollPolicy
from ._display import Display, make_display
from ._exits import CLIError, ExitCode

__all__ = ["RequestCounter", "Session", "Tracker", "execute"]


@dataclasses.dataclass
class RequestCounter:
    """Requests sent and 429s met, counted by the HTTP client's response hook."""

    requests: int = 0
    rate_limited: int = 0

    async def on_response(self, response: httpx.Response) -> None:
        """Count one response (httpx calls this for every one, retries included)."""
        self.requests += 1
        if response.status_code == 429:
            self.rate_limited += 1


@dataclasses.dataclass
class Tracker:
    """Executions the command started or watches, with the last state it saw of each.

    After Ctrl-C this says what is still running on Dune: stopping the command never stops
    the remote work unless ``cancel_on_interrupt`` asks for exactly that.
    """

    started: dict[str, bool] = dataclasses.field(default_factory=dict[str, bool])
    watched: dict[str, bool] = dataclasses.field(default_factory=dict[str, bool])
    cancel_on_interrupt: bool = False

    def start(self, execution_id: str) -> None:
        """Record an execution this command started."""
        self.started[execution_id] = False

    def watch(self, execution_id: str) -> None:
        """Record an execution this command watches but did not start."""
        self.watched.setdefault(execution_id, False)

    def finish(self, execution_id: str) -> None:
        """Record that an execution reached a terminal state."""
        if execution_id in self.started:
            self.started[execution_id] = True
        if execution_id in self.watched:
            self.watched[execution_id] = True

    def running_started(self) -> list[str]:
        """Executions this command started that were not seen to finish."""
        return [eid for eid, done in self.started.items() if not done]

    def running_watched(self) -> list[str]:
        """Executions watched (not started here) that were not seen to finish."""
        return [eid for eid, done in self.watched.items() if not done]


@dataclasses.dataclass
class Session:
    """What a command runs with."""

    args: argparse.Namespace
    dune: DuneClient
    display: Display
    counter: RequestCounter
    tracker: Tracker


Command = Callable[[Session], Awaitable[int]]


def read_api_key(env_name: str) -> str:
    """Read the key from the environment; it is never taken as an argument (shell history)."""
    import os

    key = os.environ.get(env_name, "").strip()
    if not key:
        hint = "" if env_name == "DUNE_API_KEY" else " (named by --api-key-env)"
        raise CLIError(
            f"no API key: set the {env_name} environment variable{hint};"
            " try `duneasync demo` to see duneasync work without one"
        )
    return key


def leaf_error(error: BaseException) -> BaseException:
    """Unwrap exception groups of one exception (task groups wrap what they carry).

    Groups are recognised by their ``exceptions`` tuple, which covers the built-in class and
    the ``exceptiongroup`` backport of Python 3.10 alike.
    """
    while True:
        inner: object = getattr(error, "exceptions", None)
        if not isinstance(inner, tuple) or len(cast("tuple[object, ...]", inner)) != 1:
            return error
        only = cast("tuple[object, ...]", inner)[0]
        if not isinstance(only, BaseException):
            return error
        error = only


def _can_trap_signals() -> bool:
    # Signal handlers can only be installed from the main thread, and asyncio cannot install
    # them at all on Windows; there Ctrl-C arrives as KeyboardInterrupt, handled by main().
    return sys.platform != "win32" and threading.current_thread() is threading.main_thread()


async def _trap_signals(
    scope: anyio.CancelScope,
    interrupted: anyio.Event,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for _ in signals:
            interrupted.set()
            scope.cancel()
            return


async def interruptible(work: Callable[[], Awaitable[int]]) -> int | None:
    """Run ``work``; return its exit code, or None if Ctrl-C (or SIGTERM) stopped it."""
    interrupted = anyio.Event()
    result: int | None = None
    async with anyio.create_task_group() as tg:
        if _can_trap_signals():
            await tg.start(_trap_signals, tg.cancel_scope, interrupted)
        result = await work()
        tg.cancel_scope.cancel()
    return None if interrupted.is_set() else result


async def after_interrupt(session: Session) -> None:
    """Say what was left running on Dune, cancelling what the user asked to cancel."""
    tracker = session.tracker
    started = tracker.running_started()
    note = session.display.note
    if started and tracker.cancel_on_interrupt:
        # Shielded: the command's own scope is cancelled, but these requests must go out.
        with anyio.move_on_after(15, shield=True) as scope:
            for execution_id in started:
                accepted = await session.dune.cancel_execution(execution_id)
                tracker.finish(execution_id)
                note(
                    f"interrupted: cancelled execution {execution_id} on Dune"
                    if accepted
                    else f"interrupted: Dune refused to cancel {execution_id} (finished already?)"
                )
        if scope.cancelled_caught:
            note("interrupted: gave up cancelling after 15 s")
        started = tracker.running_started()
    for execution_id in started:
        note(
            f"interrupted: execution {execution_id} is still running on Dune"
            f" (stop it with: duneasync cancel {execution_id})"
        )
    watched = tracker.running_watched()
    if watched:
        note(
            f"interrupted: stopped watching; {len(watched)} execution(s) may still be running"
            " on Dune (watching never cancels them)"
        )
    if not started and not watched:
        note("interrupted: no execution was left running on Dune")


def http_client(counter: RequestCounter, timeout: float) -> httpx.AsyncClient:
    """Build the HTTP client every request goes through, counting responses."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        event_hooks={"response": [counter.on_response]},
        follow_redirects=False,
    )


async def _run_session(args: argparse.Namespace, command: Command, tracker: Tracker) -> int:
    key = read_api_key(args.api_key_env)
    counter = RequestCounter()
    async with http_client(counter, args.http_timeout) as http:
        dune = DuneClient(
            key,
            base_url=args.base_url,
            http_client=http,
            # Learn the key's quotas from Dune's RateLimit-Policy header and stay within them.
            rate_budget=RateBudget(),
            # Someone is waiting at a terminal: look sooner than a background service would.
            poll_policy=PollPolicy(first_delay=0.25, min_interval=0.5),
        )
        with make_display(args.progress) as display:
            session = Session(args, dune, display, counter, tracker)
            code = await interruptible(lambda: command(session))
            if code is None:
                await after_interrupt(session)
                return ExitCode.INTERRUPTED
            return code


def execute(args: argparse.Namespace, command: Command, tracker: Tracker | None = None) -> int:
    """Run a command against the API on the chosen event loop and return its exit code.

    Raises:
        BaseException: What the command raised, unwrapped from task groups; ``main`` turns
            expected failures into one line and an exit code.
    """
    tracker = tracker if tracker is not None else Tracker()
    try:
        return anyio.run(_run_session, args, command, tracker, backend=args.backend)
    except BaseException as exc:
        leaf = leaf_error(exc)
        if leaf is exc:
            raise
        raise leaf from None
