"""Fetching ranges of a result in parallel and handing their pages over strictly in order.

Two shapes, both structured: ``run_in_order`` keeps ``concurrency`` fetches in flight while a
consumer runs inside the task group (whole-result sinks: a list, a file, a frame);
``iter_in_batches`` closes each batch's task group before yielding, so that a caller holding a
page (or breaking out of its loop) never leaves a request running.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

__all__ = ["Range", "iter_in_batches", "run_in_order"]

T = TypeVar("T")

Range = tuple[int, int | None]
"""Rows ``[start, stop)`` of a result; ``stop`` None for the end of the result."""


@dataclass
class _Slot(Generic[T]):
    """A range of rows being fetched, and what came of it."""

    start: int
    stop: int | None
    done: anyio.Event = field(default_factory=anyio.Event)
    pages: list[T] = field(default_factory=list[T])
    error: Exception | None = None

    def outcome(self) -> list[T]:
        if self.error is not None:
            raise self.error
        return self.pages


async def _fill(slot: _Slot[T], fetch: Callable[[int, int | None], Awaitable[list[T]]]) -> None:
    # Failures are kept for the consumer, who raises them in row order: a failed range is
    # reported where it sits in the result, and the task group never sees a child fail.
    try:
        slot.pages = await fetch(slot.start, slot.stop)
    except Exception as exc:
        slot.error = exc
    finally:
        slot.done.set()


async def run_in_order(
    ranges: Iterable[Range],
    fetch: Callable[[int, int | None], Awaitable[list[T]]],
    consume: Callable[[T], Awaitable[None]],
    *,
    concurrency: int,
) -> None:
    """Fetch ranges up to ``concurrency`` at once and consume their pages strictly in order.

    The consumer runs inside the task group, so this suits whole-result sinks (a list, a file, a
    frame). At most ``concurrency`` ranges are fetched or waiting at any time, plus the one being
    consumed: memory is bounded by pages in flight, not by the result.
    """
    pending = iter(ranges)
    window: deque[_Slot[T]] = deque()
    failure: Exception | None = None
    async with anyio.create_task_group() as tg:

        def refill() -> None:
            while len(window) < concurrency:
                bounds = next(pending, None)
                if bounds is None:
                    return
                slot: _Slot[T] = _Slot(*bounds)
                window.append(slot)
                tg.start_soon(_fill, slot, fetch)

        refill()
        try:
            while window:
                head = window[0]
                await head.done.wait()
                window.popleft()
                refill()  # keep the network busy while this range is consumed
                for page in head.outcome():
                    await consume(page)
        except Exception as exc:
            # Raised inside the group, the error would come out wrapped in an ExceptionGroup;
            # stop the other fetches and raise it as itself once the group has closed.
            failure = exc
            tg.cancel_scope.cancel()
    if failure is not None:
        raise failure


async def iter_in_batches(
    ranges: Iterable[Range],
    fetch: Callable[[int, int | None], Awaitable[list[T]]],
    *,
    concurrency: int,
) -> AsyncGenerator[T, None]:
    """Fetch ranges ``concurrency`` at a time and yield their pages in order.

    Unlike ``run_in_order`` no task is left running while the caller holds a page: each batch's
    task group closes before its pages are yielded. A caller may break out of its loop at any
    point without leaving requests behind, even without closing the iterator.
    """
    pending = iter(ranges)
    while True:
        batch: list[_Slot[T]] = [
            _Slot(*bounds) for bounds in itertools.islice(pending, concurrency)
        ]
        if not batch:
            return
        async with anyio.create_task_group() as tg:
            for slot in batch:
                tg.start_soon(_fill, slot, fetch)
        for index, slot in enumerate(batch):
            pages = slot.outcome()
            batch[index] = _Slot(slot.start, slot.stop)  # let the pages go once yielded
            for page in pages:
                yield page
