"""The agenda of a scheduler: every watched item, by when it is due and how urgent it is.

Two heaps with lazy deletion: ``due`` orders items by the time of their next poll; items whose
time has come move to ``ready``, nearest deadline first for those close to it, then most
overdue. An entry is current while its sequence number is the item's own; a stale one is
skipped when reached, and the heaps are compacted when stale entries outnumber the items.
Pure bookkeeping: no task, no clock of its own, no I/O.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Any, Generic, Literal, Protocol, TypeVar

from ._source import Progress, StatusSource

__all__ = ["Agenda", "Item", "Subscriber", "early_at"]

S = TypeVar("S")

_Where = Literal["due", "ready", "inflight", "done", "removed"]
# An item whose deadline is this many intervals away (at least _URGENT_MIN s) goes first.
_URGENT_INTERVALS = 2.0
_URGENT_MIN = 5.0


class Subscriber(Protocol):
    """What the scheduler tells about the items a watcher follows."""

    @property
    def deadline(self) -> float:
        """The watcher's deadline on the event loop's clock (inf: none)."""
        ...

    def deliver(self, item: Item[Any], *, changed: bool, terminal: bool) -> None:
        """A poll of ``item`` succeeded; ``changed`` when its progress differs from before."""
        ...

    def fail(self, item: Item[Any], error: Exception) -> None:
        """Polling ``item`` failed for good (e.g. 404); it is no longer watched."""
        ...


class Item(Generic[S]):
    """One watched key of one source, shared by every watcher that follows it.

    Attributes:
        source: Where its statuses come from.
        key: Its id in the source.
        started: When it was submitted or first watched, on the event loop's clock.
        status: The latest status seen, None before the first successful poll.
        progress: What that status says.
        polls: Polls sent for it.
        errors: Consecutive failed polls.
        last_poll: When the latest answer arrived.
    """

    __slots__ = (
        "deadline",
        "due",
        "errors",
        "interval",
        "key",
        "last_poll",
        "polls",
        "progress",
        "seq",
        "source",
        "started",
        "status",
        "subscribers",
        "where",
    )

    def __init__(self, source: StatusSource[S], key: str, started: float) -> None:
        self.source = source
        self.key = key
        self.started = started
        self.status: S | None = None
        self.progress: Progress | None = None
        self.polls = 0
        self.errors = 0
        self.last_poll: float | None = None
        self.due = math.inf
        self.interval = 0.0
        self.deadline = math.inf
        self.seq = 0
        self.where: _Where = "due"
        self.subscribers: dict[int, Subscriber] = {}

    def __repr__(self) -> str:
        return f"Item({self.key!r}, {self.where}, polls={self.polls})"


def early_at(item: Item[Any], early_interval: float) -> float:
    """Return when ``item`` may be polled early, on idle budget."""
    # A query just submitted almost never finishes within its first moments (durations are
    # roughly lognormal): an early poll then is a request wasted, so age counts like a poll.
    last = item.last_poll if item.last_poll is not None else item.started
    return last + early_interval


class Agenda:
    """The watched items of one scheduler, in heaps by when they are due."""

    def __init__(self) -> None:
        self.items: dict[tuple[int, str], Item[Any]] = {}
        self._due: list[tuple[float, int, Item[Any]]] = []
        self._ready: list[tuple[int, float, int, Item[Any]]] = []
        self._seq = itertools.count()
        self._stale = 0

    def find(self, source: StatusSource[Any], key: str) -> Item[Any] | None:
        """Return the item of ``key`` in ``source``, if it is watched."""
        return self.items.get((id(source), key))

    def add(self, item: Item[Any]) -> None:
        """Start tracking an item (``push_due`` then schedules it)."""
        self.items[(id(item.source), item.key)] = item

    def push_due(self, item: Item[Any], due: float) -> None:
        """Schedule the next poll of ``item`` at ``due``."""
        item.seq = next(self._seq)
        item.due = due
        item.where = "due"
        heapq.heappush(self._due, (due, item.seq, item))

    def drop(self, item: Item[Any]) -> None:
        """Stop tracking an item that is finished (its heap entries are already gone)."""
        self.items.pop((id(item.source), item.key), None)

    def forget(self, item: Item[Any]) -> None:
        """Stop tracking an item nobody follows any more; its entries go stale."""
        self.drop(item)
        if item.where in ("due", "ready"):
            self._stale += 1
            if self._stale > 64 and self._stale > len(self.items):
                self._compact()

    def _compact(self) -> None:
        """Drop the entries of items nobody follows any more (they are skipped lazily otherwise)."""
        self._due = [e for e in self._due if e[2].where == "due" and e[2].seq == e[1]]
        heapq.heapify(self._due)
        self._ready = [e for e in self._ready if e[3].where == "ready" and e[3].seq == e[2]]
        heapq.heapify(self._ready)
        self._stale = 0

    def promote(self, now: float) -> None:
        """Move the items that are due into the ready heap, nearest deadline first."""
        due = self._due
        while due and due[0][0] <= now:
            at, seq, item = heapq.heappop(due)
            if item.where != "due" or item.seq != seq:
                continue
            item.seq = next(self._seq)
            item.where = "ready"
            urgent = item.deadline - now <= max(_URGENT_MIN, _URGENT_INTERVALS * item.interval)
            rank = (0, item.deadline) if urgent else (1, at)
            heapq.heappush(self._ready, (rank[0], rank[1], item.seq, item))

    def top_due(self) -> Item[Any] | None:
        """Return the item due soonest that is not ready yet."""
        due = self._due
        while due:
            _, seq, item = due[0]
            if item.where == "due" and item.seq == seq:
                return item
            heapq.heappop(due)
        return None

    def has_ready(self) -> bool:
        """Say whether an item is ready to be polled now."""
        while self._ready:
            _, _, seq, item = self._ready[0]
            if item.where == "ready" and item.seq == seq:
                return True
            heapq.heappop(self._ready)
        return False

    def pop_due(self) -> None:
        """Remove the item ``top_due`` returned, to poll it early."""
        heapq.heappop(self._due)

    def pop_ready(self) -> Item[Any] | None:
        """Take the most urgent ready item."""
        ready = self._ready
        while ready:
            _, _, seq, item = heapq.heappop(ready)
            if item.where == "ready" and item.seq == seq:
                return item
        return None

    def push_ready_again(self, item: Item[Any]) -> None:
        """Put back a ready item that did not fit a batch."""
        item.seq = next(self._seq)
        heapq.heappush(self._ready, (1, item.due, item.seq, item))
