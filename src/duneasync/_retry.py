"""The one place that decides which failed requests are tried again, and when.

``RetryPolicy.call`` is the only retry loop of the client: the request core runs each request,
body checks and decoding included, inside it, and nothing retries around it.

GETs are idempotent: they are retried on 429, 5xx, connection failures, timeouts and bodies cut
short (not on a whole body that does not fit its model: that is the same on every try). A POST
may start a paid execution, so it is retried only where the server certainly did not act on it:
a 429 (refused before any work), or a connection that failed before the request was sent. A 5xx
or a read timeout after a POST is surfaced: the execution may be running already.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import tenacity

from ._describe import describe_request
from ._errors import (
    APIConnectionError,
    DuneError,
    RateLimitError,
    ResponseDecodeError,
    ResponseValidationError,
    ServerError,
)

__all__ = ["RetryPolicy", "is_retryable", "server_wait"]

logger = logging.getLogger("duneasync")

T = TypeVar("T")


def is_retryable(error: BaseException, *, idempotent: bool) -> bool:
    """Say whether a failed request may be sent again.

    Args:
        error: What the attempt raised.
        idempotent: Whether sending the request twice is harmless (GET).
    """
    if isinstance(error, RateLimitError):
        return True  # a 429 is a refusal: nothing was done, for GET and POST alike
    if isinstance(error, APIConnectionError):
        return idempotent or error.request_sent is False
    if isinstance(error, ResponseValidationError):
        return False  # a whole body that does not fit: the same request gets the same body
    if isinstance(error, (ServerError, ResponseDecodeError)):
        return idempotent
    return False


def server_wait(error: BaseException) -> float:
    """Return the seconds a failed request's server asked to wait (a 429's ``Retry-After``), or 0.

    Used by the retry policy between attempts, and by the watchers' sources between polls.
    """
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        return error.retry_after
    return 0.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How failed requests are retried: bounded by attempts and by total time.

    Waits grow exponentially from ``initial_wait`` to ``max_wait`` with full jitter, and never
    fall short of a 429's ``Retry-After``. A retry whose wait would end past ``timeout`` is not
    made: the last error is raised instead.

    Attributes:
        attempts: Most attempts per request, the first included (1 turns retries off).
        timeout: Seconds from the first attempt after which no new attempt starts.
        initial_wait: Upper bound of the first wait, in seconds.
        max_wait: Cap of the exponential wait (``Retry-After`` may exceed it).
        wait: False turns every wait into zero: for tests, which keep the same attempt counts.
    """

    attempts: int = 5
    timeout: float = 120.0
    initial_wait: float = 0.5
    max_wait: float = 16.0
    wait: bool = True

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.timeout < 0 or self.initial_wait < 0 or self.max_wait < 0:
            raise ValueError("timeout and waits must not be negative")

    @classmethod
    def no_wait(cls, attempts: int = 5) -> RetryPolicy:
        """Return a policy that retries like the default but never sleeps (for tests)."""
        return cls(attempts=attempts, wait=False)

    @classmethod
    def never(cls) -> RetryPolicy:
        """Return a policy that makes one attempt and surfaces its error."""
        return cls(attempts=1)

    def delay(self, attempt: int, error: BaseException | None) -> float:
        """Return the seconds to wait after failed attempt number ``attempt`` (from 1)."""
        if not self.wait:
            return 0.0
        ceiling = min(self.max_wait, self.initial_wait * 2 ** (attempt - 1))
        # Full jitter spreads clients that failed together (random is fine: not security).
        backoff = random.uniform(0, ceiling)
        return backoff if error is None else max(backoff, server_wait(error))

    async def call(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        idempotent: bool,
        clock: Callable[[], float] = anyio.current_time,
    ) -> T:
        """Run ``attempt`` and retry it as this policy allows; return its first success.

        The first attempt runs without a retry controller: nearly every request succeeds at
        once, and building tenacity's controller is a measurable share of a request's CPU.
        Only a failure builds it, and replays the failure as its own first attempt so that
        attempt counts, waits and the deadline stay exactly as if it had run from the start.
        """
        start = clock()
        # The failure to replay; a list because tenacity's controller swallows what the block
        # raises, a flow that type checkers cannot follow through a plain variable.
        replay: list[DuneError] = []
        try:
            return await attempt()
        except DuneError as exc:
            if self.attempts == 1 or not is_retryable(exc, idempotent=idempotent):
                raise
            replay.append(exc)
        async for controller in self.retrying(idempotent=idempotent, clock=clock, start=start):
            with controller:
                if replay:
                    raise replay.pop()
                return await attempt()
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def retrying(
        self,
        *,
        idempotent: bool,
        clock: Callable[[], float] = anyio.current_time,
        start: float | None = None,
    ) -> tenacity.AsyncRetrying:
        """Build the tenacity controller for one request.

        Time is read from ``clock`` (the event loop's by default) rather than tenacity's own
        ``time.monotonic``, so a test clock that jumps also moves the retry deadline.
        """
        start = clock() if start is None else start

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome is not None else None
            return self.delay(state.attempt_number, error)

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= self.attempts:
                return True
            return clock() - start + state.upcoming_sleep > self.timeout

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            request = getattr(error, "request", None)
            logger.info(
                "retrying %s in %.2f s after attempt %d: %s",
                describe_request(request) if request is not None else "request",
                state.upcoming_sleep,
                state.attempt_number,
                type(error).__name__,
            )

        def retry(state: tenacity.RetryCallState) -> bool:
            outcome = state.outcome
            if outcome is None or not outcome.failed:
                return False
            error = outcome.exception()
            return error is not None and is_retryable(error, idempotent=idempotent)

        return tenacity.AsyncRetrying(
            sleep=anyio.sleep,
            stop=stop,
            wait=wait,
            retry=retry,
            before_sleep=before_sleep,
            reraise=True,
        )
