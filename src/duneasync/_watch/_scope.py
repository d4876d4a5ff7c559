"""A task group whose body's own errors come out as they were raised, not in a group."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import anyio

__all__ = ["running"]


@asynccontextmanager
async def running(*tasks: Callable[[], Coroutine[Any, Any, object]]) -> AsyncGenerator[None]:
    """Run ``tasks`` while the block runs; cancel them when it ends.

    An error raised by the block itself reaches the caller unwrapped (a bare task group would
    wrap it in an exception group), so ``except WatchTimeoutError`` works around a watcher.
    Cancellation passes through the task group untouched.
    """
    error: Exception | None = None
    async with anyio.create_task_group() as tg:
        for task in tasks:
            tg.start_soon(task)
        try:
            yield
        except Exception as exc:  # re-raised below, once the tasks are gone
            error = exc
        finally:
            tg.cancel_scope.cancel()
    if error is not None:
        raise error
