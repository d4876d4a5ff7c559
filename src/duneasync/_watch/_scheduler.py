"""One poll scheduler per client: an agenda of watched items, a dispatcher and a few workers.

Watched items sit in an agenda ordered by when they are next due (``_agenda``). One dispatcher
task sleeps until the earliest is due (or until an item is added), takes a request slot from the
rate budget, and only then chooses what to poll: the items that are due, nearest deadline
first, then most overdue. The slot travels with the poll, as an argument, to the source that
sends it. A fixed pool of workers sends the polls. Idle items cost nothing between polls: no
task, no timer, only their heap entry.

The scheduler knows nothing of Dune: whether a failed poll may succeed later is the source's
call (``StatusSource.is_transient``), and a poll is never retried inside the source as well.

The scheduler's tasks run in a task group that some caller's ``async with`` owns (a *session*:
every watcher, every wait). The first session runs them; when it ends while other sessions still
need them, the next one takes over, keeping the agenda and every item's state. Nothing outlives
the session that started it.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._budget import BudgetClaim, RateBudget
from .._gate import Bucket
from ._agenda import Agenda, Item, Subscriber, early_at
from ._policy import PollPolicy
from ._scope import running
from ._source import StatusSource

__all__ = ["Item", "PollScheduler", "Subscriber"]

logger = logging.getLogger("duneasync")

S = TypeVar("S")

_Batch = tuple[list[Item[Any]], BudgetClaim | None]
# The longest ``Retry-After`` a failed poll defers its item by: longer asks are cut to it.
_LONGEST_SERVER_WAIT = 300.0


class PollScheduler:
    """Polls many items of any ``StatusSource`` within one rate budget.

    ``DuneClient`` has one, used by every watcher and wait; build one yourself to watch another
    execution API (see ``watch``).

    Args:
        budget: The rate budget polls spend (None: paced by the poll policy only).
        bucket: The budget's bucket polls spend.
        policy: Poll intervals and concurrency.
        seed: Seed of the jitter, for reproducible runs.
    """

    def __init__(
        self,
        *,
        budget: RateBudget | None = None,
        bucket: Bucket = "read",
        policy: PollPolicy | None = None,
        seed: int | None = None,
    ) -> None:
        self.budget = budget
        self.bucket: Bucket = bucket
        self.policy = policy or PollPolicy()
        self._rng = random.Random(seed)
        self._agenda = Agenda()
        self._changed: anyio.Event | None = None
        self._wake_at = -math.inf
        self._engine_lock: anyio.Lock | None = None
        self._free: anyio.Semaphore | None = None
        self.polls_sent = 0
        self.poll_errors = 0

    def __repr__(self) -> str:
        return f"PollScheduler(items={len(self._agenda.items)}, budget={self.budget!r})"

    @property
    def watched(self) -> int:
        """How many items are watched now."""
        return len(self._agenda.items)

    # -- subscriptions (synchronous: callable from anywhere in the event loop's thread) ----------

    def subscribe(
        self,
        source: StatusSource[S],
        key: str,
        subscriber: Subscriber,
        *,
        age: float = 0.0,
    ) -> Item[S]:
        """Follow ``key`` of ``source``; join its poll stream if someone already follows it.

        Args:
            source: Where its statuses come from.
            key: Its id.
            subscriber: Who to tell.
            age: Seconds it has been running already (from a saved state), which lengthens its
                poll intervals.
        """
        now = anyio.current_time()
        item: Item[S] | None = self._agenda.find(source, key)
        if item is None:
            item = Item(source, key, started=now - age)
            self._agenda.add(item)
            self._push_due(item, now + self.policy.first(self._rng))
        item.subscribers[id(subscriber)] = subscriber
        item.deadline = min(item.deadline, subscriber.deadline)
        if item.status is not None:
            subscriber.deliver(item, changed=True, terminal=False)
        return item

    def unsubscribe(self, item: Item[Any], subscriber: Subscriber) -> None:
        """Stop following an item; it stops being polled when nobody follows it."""
        item.subscribers.pop(id(subscriber), None)
        if item.where in ("done", "removed"):
            return
        if item.subscribers:
            item.deadline = min(s.deadline for s in item.subscribers.values())
            return
        self._agenda.forget(item)
        item.where = "removed"

    # -- sessions ---------------------------------------------------------------------------------

    @asynccontextmanager
    async def session(self) -> AsyncGenerator[None]:
        """Keep the scheduler running while the block runs (it runs in one session at a time)."""
        if self._engine_lock is None:
            self._engine_lock = anyio.Lock()
        lock = self._engine_lock
        async with running(lambda: self._standby(lock)):
            yield

    async def _standby(self, lock: anyio.Lock) -> None:
        # Sessions queue on the lock: the holder runs the engine in its own task group; when it
        # leaves, the engine has stopped and the next session starts it again.
        async with lock:
            await self._run_engine()

    async def _run_engine(self) -> None:
        size = self.policy.concurrency
        send, receive = anyio.create_memory_object_stream[_Batch](size)
        self._free = anyio.Semaphore(size)
        try:
            async with anyio.create_task_group() as tg:
                for _ in range(size):
                    tg.start_soon(self._worker, receive)
                tg.start_soon(self._dispatch, send)
        finally:
            # Batches handed out but never picked up go back to the heap, their slots back to
            # the budget, so the next session's engine finds everything as it was.
            while True:
                try:
                    batch, claim = receive.receive_nowait()
                except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                    break
                self._requeue(batch, claim)
            send.close()
            receive.close()
            self._changed = None
            self._wake_at = -math.inf

    # -- the dispatcher ---------------------------------------------------------------------------

    async def _dispatch(self, send: MemoryObjectSendStream[_Batch]) -> None:
        free = self._free
        assert free is not None  # set by _run_engine just before
        while True:
            await free.acquire()
            try:
                batch = await self._next_batch()
            except BaseException:
                free.release()
                raise
            send.send_nowait(batch)  # never blocks: the buffer holds one batch per worker

    async def _next_batch(self) -> _Batch:
        while True:
            now = anyio.current_time()
            delay = self._time_to_next(now)
            if delay > 0:
                await self._sleep(now, delay)
                continue
            claim = None
            if self.budget is not None:
                claim = await self.budget.claim(self.bucket, background=True)
            # Choose only now that the budget allows a request: what is most worth polling may
            # have changed while waiting for the slot.
            batch = self._pick(anyio.current_time())
            if batch:
                return batch, claim
            if claim is not None and self.budget is not None:
                self.budget.settle(claim)

    async def _sleep(self, now: float, delay: float) -> None:
        event = self._changed = anyio.Event()
        self._wake_at = now + delay
        try:
            with anyio.move_on_after(delay):
                await event.wait()
        finally:
            self._wake_at = -math.inf
            self._changed = None

    def _poke(self, at: float) -> None:
        """Wake the dispatcher if it sleeps past ``at``."""
        if self._changed is not None and at < self._wake_at:
            self._changed.set()
            self._changed = None

    # -- choosing what to poll ------------------------------------------------------------------

    def _push_due(self, item: Item[Any], due: float) -> None:
        self._agenda.push_due(item, due)
        self._poke(due)

    def _time_to_next(self, now: float) -> float:
        """Return seconds until something may be polled (0: now; inf: nothing watched)."""
        agenda = self._agenda
        agenda.promote(now)
        if agenda.has_ready():
            return 0.0
        top = agenda.top_due()
        if top is None:
            return math.inf
        at = top.due
        if self._eager():
            at = min(at, early_at(top, self.policy.early_interval))
        return max(0.0, at - now)

    def _pick(self, now: float) -> list[Item[Any]]:
        agenda = self._agenda
        agenda.promote(now)
        first = agenda.pop_ready()
        if first is None and self._eager():
            top = agenda.top_due()
            if top is not None and early_at(top, self.policy.early_interval) <= now:
                agenda.pop_due()
                first = top
        if first is None:
            return []
        batch = [first]
        limit = max(1, first.source.max_batch)
        held: list[Item[Any]] = []
        while len(batch) < limit:
            more = agenda.pop_ready()
            if more is None:
                break
            (batch if more.source is first.source else held).append(more)
        for item in held:
            agenda.push_ready_again(item)
        for item in batch:
            item.where = "inflight"
        return batch

    def _eager(self) -> bool:
        # Early polls spend what a budget leaves idle; without a known quota nothing bounds
        # them, and the intervals alone decide.
        return (
            self.policy.eager
            and self.budget is not None
            and self.budget.quota(self.bucket) is not None
        )

    def _requeue(self, batch: list[Item[Any]], claim: BudgetClaim | None) -> None:
        if claim is not None and self.budget is not None:
            self.budget.settle(claim)
        now = anyio.current_time()
        for item in batch:
            if item.where == "inflight":
                self._push_due(item, now)

    # -- the workers ------------------------------------------------------------------------------

    async def _worker(self, receive: MemoryObjectReceiveStream[_Batch]) -> None:
        async for batch, claim in receive:
            await self._poll(batch, claim)

    async def _poll(self, batch: list[Item[Any]], claim: BudgetClaim | None) -> None:
        source = batch[0].source
        answered = False
        try:
            self.polls_sent += 1
            try:
                found = await source.fetch([item.key for item in batch], claim=claim)
            except Exception as exc:  # a failed poll is data: the item decides
                answered = True
                for item in batch:
                    self._failed(item, exc)
            else:
                answered = True
                now = anyio.current_time()
                for item in batch:
                    status = found.get(item.key)
                    if status is None:
                        self._failed(item, None)
                    else:
                        self._apply(item, status, now)
        finally:
            if claim is not None and self.budget is not None:
                self.budget.settle(claim)
            if not answered:  # cancelled mid-poll: poll again as soon as an engine runs
                self._requeue(batch, None)
            if self._free is not None:
                self._free.release()

    def _apply(self, item: Item[Any], status: object, now: float) -> None:
        if item.where != "inflight":
            return  # nobody follows it any more
        progress = item.source.describe(status)
        changed = progress != item.progress
        item.status = status
        item.progress = progress
        item.polls += 1
        item.errors = 0
        item.last_poll = now
        terminal = progress.phase == "done"
        if terminal:
            item.where = "done"
            self._agenda.drop(item)
        else:
            self._schedule(item, now)
        for subscriber in list(item.subscribers.values()):
            subscriber.deliver(item, changed=changed, terminal=terminal)
        if terminal:
            item.subscribers.clear()

    def _failed(self, item: Item[Any], error: Exception | None) -> None:
        if item.where != "inflight":
            return
        self.poll_errors += 1
        item.polls += 1
        if error is None or item.source.is_transient(error):
            item.errors += 1
            logger.info("poll of %s failed (%s); trying again later", item.key, error)
            asked = item.source.server_wait(error) if error is not None else 0.0
            self._schedule(item, anyio.current_time(), at_least=asked)
            return
        item.where = "done"
        self._agenda.drop(item)
        for subscriber in list(item.subscribers.values()):
            subscriber.fail(item, error)
        item.subscribers.clear()

    def _schedule(self, item: Item[Any], now: float, *, at_least: float = 0.0) -> None:
        interval = self.policy.interval(now - item.started, item.progress, item.errors, self._rng)
        # A wait the server asked for is obeyed, within a bound: a server cannot stop a watch.
        if at_least > 0:
            interval = max(interval, min(at_least, _LONGEST_SERVER_WAIT))
        item.interval = interval
        self._push_due(item, now + interval)
