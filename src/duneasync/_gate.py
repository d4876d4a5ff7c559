"""What every request passes through before it is sent: the gate protocol and its buckets.

The request core asks a ``RequestGate`` before each request and tells it the answer after;
``RateBudget`` is the gate duneasync ships. A scheduler that wants to choose *what* to send only
once the gate allows *a* request takes a ``SlotClaim`` first and hands it to the request, in
the call's arguments.
"""

from __future__ import annotations

from typing import Literal, Protocol

import httpx

__all__ = ["Bucket", "RequestGate", "SlotClaim"]

Bucket = Literal["read", "write"]
"""Dune's two per-key budgets: ``write`` for executions, ``read`` for everything else."""


class SlotClaim(Protocol):
    """A request slot taken ahead of the request (see ``RateBudget.claim``)."""

    def spend(self, gate: RequestGate, bucket: Bucket) -> bool:
        """Spend the slot on a request to ``gate`` in ``bucket``; False if it cannot be.

        A claim taken from another gate, for another bucket, or already spent cannot pay for
        the request, which then passes the gate as usual.
        """
        ...


class RequestGate(Protocol):
    """What the request core asks before each request and tells after it (the rate budget)."""

    async def acquire(self, bucket: Bucket, *, background: bool) -> None:
        """Wait until a request of ``bucket`` may be sent.

        ``background`` marks polling, which yields to result fetches and cancels.
        """
        ...

    def record(self, bucket: Bucket, response: httpx.Response | None) -> None:
        """Learn from the answer (rate headers, 429s); None when no answer came."""
        ...
