"""The fake's sense of time: an injectable monotonic clock and Dune-style timestamps.

Everything the fake decides (execution lifecycles, rate-limit windows) reads one clock, a plain
`Callable[[], float]` in seconds. Wall-clock timestamps in response bodies are derived from a fixed
epoch plus the clock's offset since the fake was created, so two runs with the same clock
produce byte-identical bodies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeAlias

__all__ = ["ZERO_TIME", "Clock", "ManualClock", "WallTime"]

Clock: TypeAlias = Callable[[], float]
"""A monotonic clock: a function returning seconds."""

ZERO_TIME = "1970-01-01T00:00:00Z"
"""How Dune writes an unset time (seen for `expires_at` while a query executes)."""

_NANOS = 1_000_000_000


class ManualClock:
    """A clock that moves only when told to, so lifecycle tests run in microseconds.

    It is safe to read and move from several threads, as the loopback server reads it from its
    own thread while the test moves it.

    Args:
        start: The initial reading, in seconds.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self():.6f})"

    def advance(self, seconds: float) -> float:
        """Move the clock forward and return the new reading.

        Raises:
            ValueError: If `seconds` is negative: a monotonic clock never goes back.
        """
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, t: float) -> None:
        """Set the clock to an absolute reading, which must not be in its past.

        Raises:
            ValueError: If `t` is earlier than the current reading.
        """
        with self._lock:
            if t < self._now:
                raise ValueError("a monotonic clock cannot go backwards")
            self._now = t


class WallTime:
    """Turn clock readings into RFC 3339 timestamps with nanoseconds, written as Go writes them.

    Dune is a Go service: its timestamps carry up to nine fraction digits with trailing zeros
    trimmed (`.58847Z`), and no fraction at all on a whole second. Mimicking that exercises the
    client's parser on every width it will meet.

    Args:
        epoch: The wall-clock instant that `origin` stands for.
        origin: The clock reading at `epoch`.
    """

    def __init__(self, epoch: datetime, origin: float) -> None:
        if epoch.tzinfo is None:
            raise ValueError("epoch must be timezone-aware")
        self._epoch_seconds = int(epoch.timestamp())
        self._epoch_nanos = epoch.microsecond * 1000
        self._origin = origin

    def nanos(self, t: float) -> int:
        """Return nanoseconds since the Unix epoch at clock reading `t`."""
        offset_ns = round((t - self._origin) * _NANOS)
        return self._epoch_seconds * _NANOS + self._epoch_nanos + offset_ns

    def millis(self, t: float) -> int:
        """Return milliseconds since the Unix epoch at clock reading `t`."""
        return self.nanos(t) // 1_000_000

    def format(self, t: float) -> str:
        """Return the timestamp for clock reading `t`."""
        total_ns = self.nanos(t)
        seconds, nanos = divmod(total_ns, _NANOS)
        stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        if nanos == 0:
            return f"{stamp}Z"
        return f"{stamp}.{nanos:09d}".rstrip("0") + "Z"
