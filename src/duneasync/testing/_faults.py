"""Faults on demand: random by fraction from a seed, or scripted for the next N requests.

A fault never corrupts the fake's state: the ones that strike before the server acts
(5xx answers, a connection dropped before acting) leave state untouched and spend no rate
budget, and the ones that strike after (a connection dropped after acting, a slow answer, a
truncated body) happen to a request that was fully and correctly processed.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field

__all__ = ["Fault", "FaultPlan", "Faults"]


class Fault(enum.Enum):
    """The ways a request can go wrong."""

    HTTP_500 = "http_500"
    """Answer 500 `{"error": "Internal error"}` without acting."""
    HTTP_502 = "http_502"
    """Answer 502 with an HTML page, as a proxy in front of Dune does, without acting."""
    HTTP_503 = "http_503"
    """Answer 503 with a plain-text body, as an overloaded proxy does, without acting."""
    DROP_BEFORE = "drop_before"
    """Drop the connection without acting (in process: `httpx.ConnectError`)."""
    DROP_AFTER = "drop_after"
    """Act, then drop the connection without answering (in process: `httpx.ReadError`)."""
    SLOW = "slow"
    """Act, then wait before answering."""
    TRUNCATE = "truncate"
    """Act, then send only the first half of the body (over loopback, then close)."""

    @property
    def before_acting(self) -> bool:
        """Whether the fault strikes before the server acts on the request."""
        return self in (Fault.HTTP_500, Fault.HTTP_502, Fault.HTTP_503, Fault.DROP_BEFORE)


@dataclass(frozen=True)
class Faults:
    """Random faults: the fraction of requests that meet each fault.

    Fractions add up to at most 1; each request draws once from a generator seeded by `seed`
    (the fake's seed if `None`), so the same requests in the same order meet the same faults.

    Attributes:
        http_500: Fraction answered 500.
        http_502: Fraction answered 502 with an HTML body.
        http_503: Fraction answered 503.
        drop_before: Fraction dropped before acting.
        drop_after: Fraction dropped after acting.
        slow: Fraction answered after `slow_seconds`.
        truncate: Fraction whose body is cut in half.
        slow_seconds: The delay of a slow answer, in real seconds.
        endpoints: Endpoint names the faults apply to; `None` means every endpoint.
        seed: The generator's seed.
    """

    http_500: float = 0.0
    http_502: float = 0.0
    http_503: float = 0.0
    drop_before: float = 0.0
    drop_after: float = 0.0
    slow: float = 0.0
    truncate: float = 0.0
    slow_seconds: float = 0.5
    endpoints: frozenset[str] | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        fractions = [f for _, f in self.fractions()]
        if any(f < 0 for f in fractions) or sum(fractions) > 1.0 + 1e-9:
            raise ValueError("fault fractions must be non-negative and add up to at most 1")

    def fractions(self) -> list[tuple[Fault, float]]:
        """Return each fault with its fraction, in a fixed order."""
        return [
            (Fault.HTTP_500, self.http_500),
            (Fault.HTTP_502, self.http_502),
            (Fault.HTTP_503, self.http_503),
            (Fault.DROP_BEFORE, self.drop_before),
            (Fault.DROP_AFTER, self.drop_after),
            (Fault.SLOW, self.slow),
            (Fault.TRUNCATE, self.truncate),
        ]


@dataclass
class _Injection:
    fault: Fault
    endpoint: str | None
    times: int
    delay: float


@dataclass(frozen=True)
class Strike:
    """A fault chosen for one request, with the delay of a slow answer."""

    fault: Fault
    delay: float = 0.0


@dataclass
class FaultPlan:
    """The faults waiting for requests: scripted injections first, then random ones."""

    random_faults: Faults | None = None
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random)
    _injections: list[_Injection] = field(default_factory=list[_Injection])

    def __post_init__(self) -> None:
        self.configure(self.random_faults)

    def configure(self, faults: Faults | None) -> None:
        """Replace the random faults and restart their generator from its seed."""
        self.random_faults = faults
        seed = self.seed if faults is None or faults.seed is None else faults.seed
        self._rng = random.Random(f"faults:{seed}")

    def inject(self, fault: Fault, endpoint: str | None, times: int, delay: float) -> None:
        """Make the next `times` requests to `endpoint` (any if `None`) meet `fault`."""
        if times < 1:
            raise ValueError("times must be at least 1")
        self._injections.append(_Injection(fault, endpoint, times, delay))

    def pending_injections(self) -> int:
        """Return how many scripted faults are still waiting."""
        return sum(i.times for i in self._injections)

    def clear(self) -> None:
        """Forget every scripted and random fault."""
        self._injections.clear()
        self.configure(None)

    def pick(self, endpoint: str) -> Strike | None:
        """Return the fault this request meets, if any."""
        for injection in self._injections:
            if injection.endpoint in (None, endpoint):
                injection.times -= 1
                if injection.times == 0:
                    self._injections.remove(injection)
                return Strike(injection.fault, injection.delay)
        faults = self.random_faults
        if faults is None:
            return None
        # One draw per request, whether or not the endpoint is eligible, keeps the sequence of
        # faults a function of the request sequence alone.
        draw = self._rng.random()
        if faults.endpoints is not None and endpoint not in faults.endpoints:
            return None
        for fault, fraction in faults.fractions():
            if draw < fraction:
                return Strike(fault, faults.slow_seconds)
            draw -= fraction
        return None
