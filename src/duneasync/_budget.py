"""The shared rate budget: a request gate that keeps every request within Dune's quotas.

Dune counts requests per API key in two sliding windows, ``read`` and ``write`` (see the rate
limits in the API notes). ``RateBudget`` mirrors them on the client's side so that a client never
sends more than the quota in any window, whatever the number of callers:

- a sliding window per bucket, counting each request from the moment its answer arrived (the
  server counted it no later than that, so the mirror is never behind the server's window), and
  counting requests still in flight as spent;
- a pacer for background requests (polls), which spreads them evenly over the window instead of
  spending the whole quota in one burst and then starving for a minute;
- foreground requests (result fetches, cancels, executions) go first: background acquisitions
  wait while a foreground one waits, and leave ``reserve`` requests of each window untouched
  (the default reserve only once a foreground request has been seen within the window);
- the server keeps it honest: ``RateLimit-Policy`` replaces the assumed quota, ``RateLimit``
  with ``r=0`` pauses the bucket until ``t``, and a 429 pauses the whole bucket, not just the
  one request, for ``Retry-After`` seconds.

Polling schedulers may also *claim* a slot before choosing what to poll (``claim``), so that
the choice is made with the freshest information once the budget allows a request; the claim
travels with the request, as an argument, to the request core, which spends it at the gate.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import deque
from typing import Literal

import anyio
import httpx

from ._describe import parse_retry_after
from ._errors import ConfigurationError
from ._gate import Bucket, RequestGate
from ._ratelimit import parse_rate_limits

__all__ = ["PLANS", "BudgetClaim", "BudgetStats", "RateBudget"]

logger = logging.getLogger("duneasync")

PlanName = Literal["free", "plus", "premium"]

PLANS: dict[str, tuple[int, int]] = {
    "free": (15, 40),
    "plus": (70, 200),
    "premium": (350, 1000),
}
"""Dune's published quotas per minute, by plan: ``(write, read)``."""

# A request that never reported back (its task was cancelled between the gate and the answer)
# stops counting as in flight after this long, and then counts as sent at that moment.
_LEASE = 120.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class BudgetStats:
    """The budget's counters, for progress displays and benchmarks.

    Attributes:
        sent: Requests that passed the gate, per bucket.
        rate_limited: 429 answers seen, per bucket.
        paused_seconds: Total time each bucket spent paused by the server (429, ``r=0``).
        quota: The quota in force per bucket (None: not known, no limit applied).
        window: The window in force per bucket, in seconds.
    """

    sent: dict[str, int]
    rate_limited: dict[str, int]
    paused_seconds: dict[str, float]
    quota: dict[str, int | None]
    window: dict[str, float]

    @property
    def requests(self) -> int:
        """Requests sent, all buckets together."""
        return sum(self.sent.values())

    @property
    def total_rate_limited(self) -> int:
        """429 answers seen, all buckets together."""
        return sum(self.rate_limited.values())


class BudgetClaim:
    """A request slot taken ahead of the request, spent by the request it is handed to.

    Made by ``RateBudget.claim``; give it back with ``RateBudget.settle`` if no request spent it.
    """

    __slots__ = ("bucket", "budget", "used")

    def __init__(self, budget: RateBudget, bucket: Bucket) -> None:
        self.budget = budget
        self.bucket: Bucket = bucket
        self.used = False

    def spend(self, gate: RequestGate, bucket: Bucket) -> bool:
        """Spend the slot on a request to ``gate`` in ``bucket``; False if it cannot pay for it."""
        if self.used or gate is not self.budget or bucket != self.bucket:
            return False
        self.used = True
        return True


class _Bucket:
    """The client's mirror of one server-side window."""

    def __init__(self, quota: int | None, window: float, reserve: int | None) -> None:
        self.quota = quota
        self.window = window
        self.reserve_setting = reserve
        self.done: deque[float] = deque()  # answer times of requests still inside the window
        self.inflight: deque[float] = deque()  # gate times of requests not answered yet
        self.paused_until = -math.inf
        self.next_background = -math.inf  # the pacer's next allowed background send
        self.foreground_waiting = 0
        self.last_foreground = -math.inf  # when the latest foreground request passed the gate
        self.lending = True  # the default reserve is lent to polls (see ``reserve``)
        self.sent = 0
        self.rate_limited = 0
        self.paused_seconds = 0.0
        self.changed: anyio.Event | None = None

    @property
    def reserve(self) -> int:
        if self.quota is None:
            return 0
        if self.reserve_setting is not None:
            return min(self.reserve_setting, self.quota - 1)
        # One request in twenty stays free for foreground work, none on tiny quotas; while no
        # foreground request has come for a whole window, polls may spend it too: leaving it
        # idle made polling lag behind a round-robin poller (docs/benchmarks-watch.md), and a
        # foreground request that comes then still goes first, waiting at most for one slot.
        return 0 if self.lending else self.quota // 20

    def expire(self, now: float) -> None:
        self.lending = self.last_foreground + self.window <= now
        while self.inflight and self.inflight[0] + _LEASE <= now:
            self.done.append(self.inflight.popleft() + _LEASE)
        while self.done and self.done[0] + self.window <= now:
            self.done.popleft()

    def delay(self, now: float, *, background: bool) -> float:
        """Return how long until a request may go (0: now; inf: when an answer arrives)."""
        self.expire(now)
        wait = max(0.0, self.paused_until - now)
        if self.quota is None:
            return wait
        limit = self.quota - (self.reserve if background else 0)
        used = len(self.done) + len(self.inflight)
        if used >= limit:
            excess = used - limit  # this many must leave the window first
            if excess < len(self.done):
                wait = max(wait, self.done[excess] + self.window - now)
            else:
                wait = math.inf  # only in-flight requests hold the slots: wait for answers
        if background:
            wait = max(wait, self.next_background - now)
        return wait

    def take(self, now: float, *, background: bool) -> None:
        self.inflight.append(now)
        self.sent += 1
        if not background:
            self.last_foreground = now
            self.lending = False
        if background and self.quota is not None:
            spacing = self.window / max(1, self.quota - self.reserve)
            self.next_background = max(self.next_background, now) + spacing

    def answered(self, now: float) -> None:
        if self.inflight:
            self.inflight.popleft()
            self.done.append(now)

    def pause(self, until: float, now: float) -> None:
        if until > self.paused_until:
            self.paused_seconds += until - max(now, self.paused_until)
            self.paused_until = until

    def notify(self) -> None:
        if self.changed is not None:
            self.changed.set()
            self.changed = None


class RateBudget:
    """A rate budget shared by every request of a client (a ``RequestGate``).

    Build it from a plan or from numbers; the server's ``RateLimit-Policy`` header then replaces
    the assumed quotas (scaled by ``share``) unless ``follow_server`` is False::

        DuneClient(plan="plus")                                   # 70 writes, 200 reads / min
        DuneClient(rate_budget=RateBudget(read=100, write=10))     # numbers
        DuneClient(rate_budget=RateBudget(share=0.5))              # learn; use half of it

    Args:
        read: Read requests allowed per window (None: unknown until the server says).
        write: Write requests allowed per window (None: unknown until the server says).
        window: The window, in seconds.
        share: The fraction of each quota this client may use, for keys shared by several
            services.
        follow_server: Adopt the quotas the server announces in ``RateLimit-Policy``.
        reserve: Requests per window that background polls leave to foreground requests
            (None: one in twenty, lent to polls while no foreground request of the bucket has
            passed for a whole window).
    """

    def __init__(
        self,
        *,
        read: int | None = None,
        write: int | None = None,
        window: float = 60.0,
        share: float = 1.0,
        follow_server: bool = True,
        reserve: int | None = None,
    ) -> None:
        for name, value in (("read", read), ("write", write)):
            if value is not None and (isinstance(value, bool) or value < 1):
                raise ConfigurationError(f"{name} quota must be a positive integer, not {value!r}")
        if not window > 0:
            raise ConfigurationError("window must be positive")
        if not 0 < share <= 1:
            raise ConfigurationError("share must be in (0, 1]")
        if reserve is not None and reserve < 0:
            raise ConfigurationError("reserve must not be negative")
        self.share = share
        self.follow_server = follow_server
        self._buckets: dict[Bucket, _Bucket] = {
            "read": _Bucket(_scaled(read, share), window, reserve),
            "write": _Bucket(_scaled(write, share), window, reserve),
        }

    @classmethod
    def for_plan(cls, plan: str, *, share: float = 1.0, follow_server: bool = True) -> RateBudget:
        """Return the budget of a Dune plan: ``"free"``, ``"plus"`` or ``"premium"``."""
        try:
            write, read = PLANS[plan.lower()]
        except KeyError:
            known = ", ".join(PLANS)
            raise ConfigurationError(f"unknown plan {plan!r}; known plans: {known}") from None
        return cls(read=read, write=write, share=share, follow_server=follow_server)

    def __repr__(self) -> str:
        read, write = self._buckets["read"], self._buckets["write"]
        return f"RateBudget(read={read.quota}, write={write.quota}, window={read.window:g})"

    def quota(self, bucket: Bucket) -> int | None:
        """Return the quota in force for a bucket (None when unknown)."""
        return self._buckets[bucket].quota

    def rate(self, bucket: Bucket) -> float | None:
        """Return the background pace of a bucket, in requests per second (None: unlimited)."""
        state = self._buckets[bucket]
        if state.quota is None:
            return None
        return max(1, state.quota - state.reserve) / state.window

    def stats(self) -> BudgetStats:
        """Return a snapshot of the counters."""
        b = self._buckets
        return BudgetStats(
            sent={k: v.sent for k, v in b.items()},
            rate_limited={k: v.rate_limited for k, v in b.items()},
            paused_seconds={k: v.paused_seconds for k, v in b.items()},
            quota={k: v.quota for k, v in b.items()},
            window={k: v.window for k, v in b.items()},
        )

    # -- the RequestGate protocol -------------------------------------------------------------

    async def acquire(self, bucket: Bucket, *, background: bool) -> None:
        """Wait until a request of ``bucket`` may be sent, and count it as sent."""
        await self._wait_and_take(bucket, background=background)

    def record(self, bucket: Bucket, response: httpx.Response | None) -> None:
        """Learn from an answer: free the in-flight slot, follow the headers, pause on 429."""
        state = self._buckets[bucket]
        now = anyio.current_time()
        state.answered(now)
        if response is not None:
            self._learn(bucket, state, response, now)
        state.notify()

    # -- claims, for schedulers -----------------------------------------------------------------

    async def claim(self, bucket: Bucket, *, background: bool = True) -> BudgetClaim:
        """Wait for a slot and take it now, for a request to be chosen and sent next.

        Hand the claim to the request that spends it (``claim=`` of the request core); then call
        ``settle(claim)``, which gives the slot back if no request spent it.
        """
        await self._wait_and_take(bucket, background=background)
        return BudgetClaim(self, bucket)

    def settle(self, claim: BudgetClaim) -> None:
        """Give back a claimed slot that no request spent (a spent one is freed by ``record``)."""
        if claim.used:
            return
        claim.used = True
        state = self._buckets[claim.bucket]
        state.sent -= 1
        if state.inflight:
            state.inflight.pop()
        # Giving back the slot also gives back the pacer's step, so polls keep their pace.
        if state.quota is not None:
            state.next_background -= state.window / max(1, state.quota - state.reserve)
        state.notify()

    # -- internals --------------------------------------------------------------------------------

    async def _wait_and_take(self, bucket: Bucket, *, background: bool) -> None:
        state = self._buckets[bucket]
        if not background:
            state.foreground_waiting += 1
        try:
            while True:
                now = anyio.current_time()
                wait = state.delay(now, background=background)
                if wait <= 0 and not (background and state.foreground_waiting):
                    state.take(now, background=background)
                    return
                if state.changed is None:
                    state.changed = anyio.Event()
                with anyio.move_on_after(wait if wait > 0 else math.inf):
                    await state.changed.wait()
        finally:
            if not background:
                # Background waiters held back for this request may go now.
                state.foreground_waiting -= 1
                state.notify()

    def _learn(self, bucket: Bucket, state: _Bucket, response: httpx.Response, now: float) -> None:
        info = parse_rate_limits(response.headers, received_at=now)
        if info is not None:
            policy = info.policies.get(bucket)
            if self.follow_server and policy is not None and policy.quota:
                quota = _scaled(policy.quota, self.share)
                window = policy.window or state.window
                if (quota, window) != (state.quota, state.window):
                    logger.info(
                        "%s budget: the server announces %s requests per %g s",
                        bucket,
                        policy.quota,
                        window,
                    )
                    state.quota, state.window = quota, window
            current = info.states.get(bucket)
            if current is not None and current.remaining == 0 and current.reset:
                state.pause(now + current.reset, now)
        if response.status_code == 429:
            state.rate_limited += 1
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            # Without Retry-After, wait for a slot of the window to free up.
            pause = (
                retry_after if retry_after is not None else state.window / max(1, state.quota or 1)
            )
            logger.warning("%s budget: 429 received, pausing it for %.1f s", bucket, pause)
            state.pause(now + pause, now)


def _scaled(quota: int | None, share: float) -> int | None:
    return None if quota is None else max(1, math.floor(quota * share))
