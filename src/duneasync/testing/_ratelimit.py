"""Dune's two per-key rate budgets, as sliding windows on the fake's clock."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

__all__ = ["PLANS", "Budget", "RateLimiter", "RatePlan", "Verdict"]

Budget = Literal["write", "read"]


@dataclass(frozen=True)
class RatePlan:
    """Request budgets per API key: at most `write` executions and `read` reads per window.

    Attributes:
        write: Requests allowed on the execute endpoints per window.
        read: Requests allowed on the status, results, cancel and pipeline-read endpoints.
        window: The window length in seconds.
    """

    write: int
    read: int
    window: float = 60.0

    def __post_init__(self) -> None:
        if self.write < 1 or self.read < 1 or self.window <= 0:
            raise ValueError("quotas must be at least 1 and the window positive")


PLANS: dict[str, RatePlan] = {
    "free": RatePlan(write=15, read=40),
    "plus": RatePlan(write=70, read=200),
    "premium": RatePlan(write=350, read=1000),
}
"""Dune's published plans by name: requests per 60 seconds for each budget."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of asking for one request: allowed or not, and the headers to send."""

    allowed: bool
    headers: dict[str, str]
    retry_after: int = 0


class _Window:
    def __init__(self, quota: int, window: float) -> None:
        self.quota = quota
        self.window = window
        self.stamps: deque[float] = deque()

    def expire(self, now: float) -> None:
        while self.stamps and self.stamps[0] + self.window <= now:
            self.stamps.popleft()

    def remaining(self) -> int:
        return self.quota - len(self.stamps)

    def seconds_until_free(self, now: float) -> int:
        # Rounded up so that a client sleeping this long is certainly allowed again.
        if not self.stamps:
            return 0
        return max(1, math.ceil(self.stamps[0] + self.window - now))


class RateLimiter:
    """Sliding-window budgets for one API key: at most `quota` requests in any window."""

    def __init__(self, plan: RatePlan) -> None:
        self.plan = plan
        self._windows: dict[Budget, _Window] = {
            "write": _Window(plan.write, plan.window),
            "read": _Window(plan.read, plan.window),
        }
        window = _seconds(plan.window)
        self._policy = f'"write";q={plan.write};w={window}, "read";q={plan.read};w={window}'

    def acquire(self, budget: Budget, now: float) -> Verdict:
        """Spend one request of `budget` if there is room; a refusal spends nothing."""
        for w in self._windows.values():
            w.expire(now)
        spent = self._windows[budget]
        allowed = spent.remaining() > 0
        retry_after = 0
        if allowed:
            spent.stamps.append(now)
        else:
            retry_after = spent.seconds_until_free(now)
        return Verdict(allowed, self._headers(now), retry_after)

    def _headers(self, now: float) -> dict[str, str]:
        parts = [
            f'"{name}";r={w.remaining()};t={w.seconds_until_free(now)}'
            for name, w in self._windows.items()
        ]
        return {"RateLimit-Policy": self._policy, "RateLimit": ", ".join(parts)}


def _seconds(window: float) -> str:
    return str(int(window)) if float(window).is_integer() else f"{window:g}"
