"""When to poll next: intervals that grow with age, jittered, longer for long queues."""

from __future__ import annotations

import dataclasses
import random

from .._errors import ConfigurationError
from ._source import Progress

__all__ = ["PollPolicy"]

_MAX_BACKOFF_STEPS = 64


@dataclasses.dataclass(frozen=True, kw_only=True)
class PollPolicy:
    """How often a watched item is polled.

    An item is first polled ``first_delay`` seconds after it starts being watched. After that
    the interval grows with the item's age (``growth`` times the time since it was submitted or
    first watched), between ``min_interval`` and ``max_interval``: short queries are seen soon,
    long ones cost few requests. While an execution is queued, each position ahead of it adds
    ``per_queue_position`` seconds. Every interval is multiplied by a random factor within
    ``jitter`` of 1, so items submitted together do not poll in lockstep.

    These are the intervals when the budget is plentiful. When it is scarce the scheduler sends
    exactly what the budget allows, serving the most overdue items (and those whose deadline is
    near) first. With ``eager`` (the default) it also spends idle budget on items not yet due,
    but never polls an item twice within ``early_interval``: a budget left unused is latency lost
    (against a round-robin poller spending the same budget, docs/benchmarks-watch.md). Set
    ``eager=False`` to send no more polls than the intervals ask for.

    Attributes:
        first_delay: Seconds from the start of a watch to the first poll.
        min_interval: Shortest interval between two polls of one item.
        max_interval: Longest interval between two polls of one item.
        growth: Interval as a fraction of the item's age.
        per_queue_position: Extra seconds per queue position while pending.
        jitter: Relative spread of the random factor (0.2: between 0.8 and 1.2).
        error_backoff: Factor applied to the interval per consecutive failed poll.
        eager: Spend idle budget on items not due yet (lower latency, more requests, never
            more than the budget; without a rate budget whose quota is known, no effect).
        early_interval: Shortest interval between two polls of one item when the second is
            an early one (``eager``), paid for by budget that would go unused.
        concurrency: Most polls in flight at once, per scheduler.
    """

    first_delay: float = 1.0
    min_interval: float = 0.5
    max_interval: float = 30.0
    growth: float = 0.15
    per_queue_position: float = 0.5
    jitter: float = 0.2
    error_backoff: float = 2.0
    eager: bool = True
    early_interval: float = 0.5
    concurrency: int = 8

    def __post_init__(self) -> None:
        if self.first_delay < 0 or self.min_interval <= 0:
            raise ConfigurationError("first_delay must be >= 0 and min_interval > 0")
        if self.early_interval <= 0:
            raise ConfigurationError("early_interval must be > 0")
        if self.max_interval < self.min_interval:
            raise ConfigurationError("max_interval must be >= min_interval")
        if self.concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        if not 0 <= self.jitter < 1 or self.growth < 0 or self.error_backoff < 1:
            raise ConfigurationError("jitter must be in [0, 1), growth >= 0, error_backoff >= 1")

    def first(self, rng: random.Random) -> float:
        """Return the delay before the first poll."""
        return self.first_delay * self._factor(rng)

    def interval(
        self, age: float, progress: Progress | None, errors: int, rng: random.Random
    ) -> float:
        """Return the delay until the next poll of an item.

        Args:
            age: Seconds since the item was submitted (or first watched).
            progress: What the last poll said, None when it failed.
            errors: Consecutive failed polls.
            rng: The source of jitter.
        """
        base = self.growth * max(age, 0.0)
        if progress is not None and progress.phase == "pending" and progress.queue_position:
            base = max(base, self.per_queue_position * (progress.queue_position - 1))
        base = min(max(base, self.min_interval), self.max_interval)
        if errors:
            # Capped exponent: the interval reaches max_interval long before, and a float power
            # of a thousand failures would overflow.
            backoff = self.error_backoff ** min(errors, _MAX_BACKOFF_STEPS)
            base = min(base * backoff, max(self.max_interval, base))
        return max(self.min_interval, base * self._factor(rng))

    def _factor(self, rng: random.Random) -> float:
        return 1.0 + self.jitter * (2.0 * rng.random() - 1.0) if self.jitter else 1.0
