"""Event loops whose clock jumps instead of waiting, for tests of time-driven behaviour.

On trio, ``trio.testing.MockClock(autojump_threshold=0)`` already does this. On asyncio,
``VirtualTimeLoop`` does the same: whenever the loop would block waiting for a timer with no I/O
ready, it advances its clock to that timer instead. Only in-process tests (no sockets) use it:
a real socket answer takes real time, which a jumping clock would misread as a timeout.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any

import trio.testing


class _JumpingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None or self.loop is None:
            return super().select(timeout)
        self.loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on a virtual clock that skips idle waits."""

    def __init__(self) -> None:
        selector = _JumpingSelector()
        super().__init__(selector)
        selector.loop = self
        self._now = 0.0

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += max(seconds, 0.0)


VIRTUAL_TIME_BACKENDS = [
    ("asyncio", {"loop_factory": VirtualTimeLoop}),
    ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}),
]
