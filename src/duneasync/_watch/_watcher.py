"""``Watch``: follow a set of items through the shared scheduler, inside an ``async with``."""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import anyio

from .._budget import RateBudget
from .._errors import WatchTimeoutError
from ._policy import PollPolicy
from ._progress import ItemProgress, SavedItem, WatchState, WatchSummary
from ._scheduler import Item, PollScheduler
from ._source import StatusSource

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Watch", "watch"]

logger = logging.getLogger("duneasync")

S = TypeVar("S")

# How long a cancel requested by cancel_on_exit may take, cancellation of the caller or not.
_CANCEL_TIMEOUT = 10.0


class Watch(Generic[S]):
    """Follow many items at once; yield each as it finishes, or every change.

    Made by ``DuneClient.watch_executions`` (statuses are ``ExecutionStatus``) or by
    ``duneasync.extend.watch`` for any ``StatusSource``. Use it as an async context manager:
    leaving the block stops every poll it caused and leaves nothing running::

        async with dune.watch_executions(ids, timeout=600) as watcher:
            async for status in watcher.as_completed():
                logger.info("%s ended %s", status.execution_id, status.state)

    Args:
        scheduler: The scheduler that polls.
        source: Where statuses come from.
        keys: Ids to watch, or a saved ``WatchState`` to resume.
        timeout: Seconds from entering the block after which waiting raises
            ``WatchTimeoutError`` (None: no deadline).
        on_progress: Called with an item's progress on each change (state, queue position,
            percent...). Keep it quick: it runs in the scheduler's task.
        cancel_on_exit: Ask the source to cancel the unfinished items when the block is left,
            even when the caller is being cancelled (shielded, bounded in time).
        cancel_timeout: Seconds the cancel requests may take.
        changes_buffer: Most changes kept for each ``changes()`` iterator that falls behind.
    """

    def __init__(
        self,
        scheduler: PollScheduler,
        source: StatusSource[S],
        keys: Iterable[str] | WatchState = (),
        *,
        timeout: float | None = None,
        on_progress: Callable[[ItemProgress], None] | None = None,
        cancel_on_exit: bool = False,
        cancel_timeout: float = _CANCEL_TIMEOUT,
        changes_buffer: int = 100_000,
    ) -> None:
        if timeout is not None and not timeout >= 0:
            raise ValueError("timeout must be a non-negative number of seconds or None")
        self._scheduler = scheduler
        self._source = source
        self._initial = keys
        self._timeout = timeout
        self._on_progress = on_progress
        self._cancel_on_exit = cancel_on_exit
        self._cancel_timeout = cancel_timeout
        self._changes_buffer = changes_buffer
        self._deadline = math.inf
        self._items: dict[str, Item[S]] = {}
        self._finished: dict[str, S | None] = {}
        self._saved_done: dict[str, SavedItem] = {}
        self._completed: deque[S] = deque()
        self._errors: deque[Exception] = deque()
        self._listeners: list[deque[S]] = []
        self._news: anyio.Event | None = None
        self._stack: AsyncExitStack | None = None

    def __repr__(self) -> str:
        return f"Watch(watching={len(self._items)}, done={len(self._finished)})"

    # -- the context ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("a Watch can be entered once")
        stack = AsyncExitStack()
        await stack.enter_async_context(self._scheduler.session())
        self._stack = stack
        if self._timeout is not None:
            self._deadline = anyio.current_time() + self._timeout
        initial = self._initial
        if isinstance(initial, WatchState):
            for saved in initial.items:
                if saved.phase == "done":
                    self._saved_done[saved.key] = saved
                    self._finished[saved.key] = None
                else:
                    self.add(saved.key, _age=saved.elapsed)
        else:
            for key in initial:
                self.add(key)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        unfinished = list(self._items)
        for item in self._items.values():
            self._scheduler.unsubscribe(item, self)
        self._items.clear()
        try:
            if self._cancel_on_exit and unfinished:
                await self._cancel_remote(unfinished)
        finally:
            if stack is not None:
                await stack.__aexit__(exc_type, exc, tb)

    async def _cancel_remote(self, keys: list[str]) -> None:
        # Shielded: the caller may be leaving because it was cancelled, and asked for this.
        with anyio.CancelScope(shield=True), anyio.move_on_after(self._cancel_timeout):
            for key in keys:
                try:
                    await self._source.cancel(key)
                except Exception as exc:  # noqa: PERF203  # one failure must not stop the rest
                    logger.warning("could not cancel %s on exit: %s", key, exc)

    # -- adding and reading -----------------------------------------------------------------------

    @property
    def deadline(self) -> float:
        """The watch's deadline on the event loop's clock (inf: none)."""
        return self._deadline

    def add(self, key: str, *, _age: float = 0.0) -> None:
        """Watch one more item, while the watch runs.

        Adding an item already watched (or already finished here) does nothing.
        """
        if self._stack is None:
            raise RuntimeError("add() needs the watch to be entered (async with)")
        if key in self._items or key in self._finished:
            return
        self._items[key] = self._scheduler.subscribe(self._source, key, self, age=_age)

    def status(self, key: str) -> S | None:
        """Return the latest status seen of an item (None before its first answer)."""
        item = self._items.get(key)
        if item is not None:
            return item.status
        return self._finished.get(key)

    def progress(self, key: str) -> ItemProgress:
        """Return the latest known progress of an item."""
        item = self._items.get(key)
        if item is not None:
            return _progress_of(item)
        if key in self._saved_done:
            saved = self._saved_done[key]
            return ItemProgress(key=key, state=saved.state, phase="done", elapsed=saved.elapsed)
        status = self._finished.get(key)
        if key not in self._finished:
            raise KeyError(key)
        state = self._source.describe(status).state if status is not None else None
        return ItemProgress(key=key, state=state, phase="done")

    def summary(self) -> WatchSummary:
        """Return counts for a progress bar: items by phase, requests spent, 429s seen."""
        pending = executing = 0
        for item in self._items.values():
            if item.progress is None or item.progress.phase == "pending":
                pending += 1
            else:
                executing += 1
        budget = self._scheduler.budget
        stats = budget.stats() if budget is not None else None
        return WatchSummary(
            total=len(self._items) + len(self._finished),
            pending=pending,
            executing=executing,
            done=len(self._finished),
            requests=self._scheduler.polls_sent,
            rate_limited=stats.total_rate_limited if stats is not None else 0,
            paused_seconds=sum(stats.paused_seconds.values()) if stats is not None else 0.0,
            poll_errors=self._scheduler.poll_errors,
        )

    def save(self) -> WatchState:
        """Return the watch's state, to save as JSON (``to_json``) and resume after a restart."""
        now = anyio.current_time()
        items = [
            SavedItem(
                key=key,
                elapsed=now - item.started,
                state=item.progress.state if item.progress else None,
                phase=item.progress.phase if item.progress else "pending",
            )
            for key, item in self._items.items()
        ]
        for key, status in self._finished.items():
            saved = self._saved_done.get(key)
            if saved is not None:
                items.append(saved)
            else:
                state = self._source.describe(status).state if status is not None else None
                items.append(SavedItem(key=key, state=state, phase="done"))
        return WatchState(items=items)

    @property
    def unfinished(self) -> list[str]:
        """The ids still watched."""
        return list(self._items)

    # -- iterating --------------------------------------------------------------------------------

    async def as_completed(self) -> AsyncIterator[S]:
        """Yield each item's terminal status as it arrives, until none is left unfinished.

        Terminal outcomes are values: a failed or cancelled execution is yielded like a
        completed one. Items added while iterating are waited for too.

        Raises:
            WatchTimeoutError: The deadline passed first; it carries the last statuses seen.
            APIError: Polling an item failed for good (e.g. its id does not exist); the other
                items are still watched, and ``as_completed`` may be called again.
        """
        while True:
            if self._errors:
                raise self._errors.popleft()
            if self._completed:
                yield self._completed.popleft()
                continue
            if not self._items:
                return
            await self._wait_for_news()

    async def changes(self) -> AsyncIterator[S]:
        """Yield every change of every item (e.g. PENDING, EXECUTING, COMPLETED), in order.

        The latest status of each item already answered comes first. Ends when every item is
        finished.

        Raises:
            WatchTimeoutError: The deadline passed first.
        """
        backlog: deque[S] = deque(maxlen=self._changes_buffer)
        for item in self._items.values():
            if item.status is not None:
                backlog.append(item.status)
        self._listeners.append(backlog)
        try:
            while True:
                if backlog:
                    yield backlog.popleft()
                    continue
                if not self._items:
                    return
                await self._wait_for_news()
        finally:
            # By identity: deques compare by content, so ``remove`` would take the first empty
            # backlog it meets, another listener's, and leave this one to grow unread.
            self._listeners = [listener for listener in self._listeners if listener is not backlog]

    async def wait(self) -> dict[str, S | None]:
        """Wait until every item is finished and return each one's final status, by id.

        Raises:
            WatchTimeoutError: The deadline passed first.
            APIError: Polling an item failed for good.
        """
        async for _ in self.as_completed():
            pass
        return dict(self._finished)

    async def _wait_for_news(self) -> None:
        if self._news is None:
            self._news = anyio.Event()
        news = self._news
        with anyio.move_on_at(self._deadline):
            await news.wait()
            return
        raise self._timeout_error()

    def _timeout_error(self) -> WatchTimeoutError:
        unfinished = {key: item.status for key, item in self._items.items()}
        return WatchTimeoutError(
            f"{len(unfinished)} of {len(unfinished) + len(self._finished)} watched items"
            f" unfinished after {self._timeout:g} s",
            unfinished=unfinished,
        )

    # -- the Subscriber protocol ------------------------------------------------------------------

    def deliver(self, item: Item[Any], *, changed: bool, terminal: bool) -> None:
        """Take a poll's answer from the scheduler."""
        status = cast("S", item.status)  # set by the poll being delivered
        if changed or terminal:
            for listener in self._listeners:
                listener.append(status)
        if terminal:
            self._items.pop(item.key, None)
            self._finished[item.key] = status
            self._completed.append(status)
        if changed and self._on_progress is not None:
            try:
                self._on_progress(_progress_of(item))
            except Exception:
                logger.exception("on_progress callback failed for %s", item.key)
        self._wake()

    def fail(self, item: Item[Any], error: Exception) -> None:
        """Take a poll failure that ends an item's watch."""
        self._items.pop(item.key, None)
        self._finished[item.key] = item.status
        self._errors.append(error)
        self._wake()

    def _wake(self) -> None:
        if self._news is not None:
            self._news.set()
            self._news = None


def _progress_of(item: Item[Any]) -> ItemProgress:
    now = anyio.current_time()
    progress = item.progress
    if progress is None:
        return ItemProgress(
            key=item.key, state=None, phase="pending", elapsed=now - item.started, polls=item.polls
        )
    return ItemProgress(
        key=item.key,
        state=progress.state,
        phase=progress.phase,
        queue_position=progress.queue_position,
        percent=progress.percent,
        step=progress.step,
        elapsed=now - item.started,
        polls=item.polls,
    )


def watch(
    source: StatusSource[S],
    keys: Iterable[str] | WatchState = (),
    *,
    scheduler: PollScheduler | None = None,
    budget: RateBudget | None = None,
    policy: PollPolicy | None = None,
    timeout: float | None = None,
    on_progress: Callable[[ItemProgress], None] | None = None,
    cancel_on_exit: bool = False,
) -> Watch[S]:
    """Watch the items of any ``StatusSource`` (see ``GenericExecutionSource``).

    Args:
        source: Where statuses come from.
        keys: Ids to watch, or a saved ``WatchState``.
        scheduler: A scheduler to share with other watches; a new one by default, built from
            ``budget`` and ``policy``.
        budget: The rate budget of a new scheduler.
        policy: The poll policy of a new scheduler.
        timeout: Seconds until waiting raises ``WatchTimeoutError``.
        on_progress: Called with an item's progress on each change.
        cancel_on_exit: Cancel the unfinished items when the block is left.
    """
    if scheduler is None:
        scheduler = PollScheduler(budget=budget, policy=policy)
    return Watch(
        scheduler,
        source,
        keys,
        timeout=timeout,
        on_progress=on_progress,
        cancel_on_exit=cancel_on_exit,
    )
