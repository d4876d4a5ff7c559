"""Sending one request: URL, auth header, timeouts, retries and the rate gate.

Everything the client sends goes through ``Transport.send`` (or ``Transport.stream``), so the
key handling, the retry rules and the rate budget live in one place.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal, Protocol, TypeVar, overload

import anyio
import httpx
import msgspec

from ._errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    UnsafeURLError,
    describe_request,
    status_error,
)
from ._ratelimit import RateLimitInfo, parse_rate_limits
from ._retry import RetryPolicy
from ._version import __version__

__all__ = [
    "Bucket",
    "RequestGate",
    "Transport",
    "check_execution_id",
    "check_query_id",
    "parse_base_url",
]

logger = logging.getLogger("duneasync")

T = TypeVar("T")

Bucket = Literal["read", "write"]
"""Dune's two per-key budgets: ``write`` for executions, ``read`` for everything else."""

_API_PREFIX = "/api/v1"
_EXECUTION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_JSON_ENCODER = msgspec.json.Encoder()
# Failures that happen before a byte of the request reaches the server: the server cannot have
# acted, so even a POST may be sent again.
_BEFORE_SENDING = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class RequestGate(Protocol):
    """What the transport asks before each request and tells after it (the rate budget)."""

    async def acquire(self, bucket: Bucket, *, background: bool) -> None:
        """Wait until a request of ``bucket`` may be sent.

        ``background`` marks polling, which yields to result fetches and cancels.
        """
        ...

    def record(self, bucket: Bucket, response: httpx.Response | None) -> None:
        """Learn from the answer (rate headers, 429s); None when no answer came."""
        ...


def check_query_id(query_id: int) -> int:
    """Refuse a query id that is not a positive integer, before it reaches a URL path."""
    if isinstance(query_id, bool) or not isinstance(query_id, int) or query_id <= 0:
        raise ConfigurationError(f"query_id must be a positive integer, not {query_id!r}")
    return query_id


def check_execution_id(execution_id: str, *, what: str = "execution_id") -> str:
    """Refuse an id with characters Dune never uses, so no input can change a URL path."""
    if not isinstance(execution_id, str) or not _EXECUTION_ID.fullmatch(execution_id):
        raise ConfigurationError(
            f"{what} must be 1-128 letters, digits, '-' or '_', not {execution_id!r}"
        )
    return execution_id


def parse_base_url(base_url: str) -> httpx.URL:
    """Check the API origin given by the caller and drop what must not be there."""
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError(f"base_url is not a URL: {base_url!r}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"base_url must be an http(s) URL, not {base_url!r}")
    if url.userinfo:
        raise ConfigurationError("base_url must not carry credentials")
    return url.copy_with(path=url.path.rstrip("/"), query=None, fragment=None)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default_port = {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, url.host, url.port or default_port)


class Transport:
    """Send requests to one Dune origin with the key, the retry policy and the rate gate."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: httpx.URL,
        http: httpx.AsyncClient,
        retry: RetryPolicy,
        gate: RequestGate | None = None,
    ) -> None:
        self.base_url = base_url
        self._api_key = api_key
        self._http = http
        self.retry = retry
        self.gate = gate
        self.rate_limits: RateLimitInfo | None = None
        self._headers = {
            "X-Dune-Api-Key": api_key,
            "User-Agent": f"duneasync/{__version__}",
            "Accept": "application/json",
        }

    def __repr__(self) -> str:
        return f"Transport(base_url={str(self.base_url)!r})"

    def url(self, path: str) -> httpx.URL:
        """Return the absolute URL of an API path such as ``/execution/ID/status``."""
        return self.base_url.copy_with(path=self.base_url.path.rstrip("/") + _API_PREFIX + path)

    def check_same_origin(self, url: str, *, request: httpx.Request) -> httpx.URL:
        """Return ``url`` if it points at the configured origin, else raise ``UnsafeURLError``."""
        target = self.base_url.join(url)
        if _origin(target) != _origin(self.base_url):
            raise UnsafeURLError(
                f"the server's next page link points at {target.host!r}, not the configured"
                f" {self.base_url.host!r}; refusing to send the API key there",
                request=request,
            )
        return target

    def _build(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json: Any,
    ) -> httpx.Request:
        headers = dict(self._headers)
        content: bytes | None = None
        if json is not None:
            content = _JSON_ENCODER.encode(json)
            headers["Content-Type"] = "application/json"
        return self._http.build_request(
            method, self.url(path), params=params, content=content, headers=headers
        )

    @overload
    async def send(
        self,
        method: Literal["GET", "POST"],
        path: str,
        *,
        bucket: Bucket,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        background: bool = False,
        decode: None = None,
    ) -> httpx.Response: ...

    @overload
    async def send(
        self,
        method: Literal["GET", "POST"],
        path: str,
        *,
        bucket: Bucket,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        background: bool = False,
        decode: Callable[[httpx.Response], T],
    ) -> T: ...

    async def send(
        self,
        method: Literal["GET", "POST"],
        path: str,
        *,
        bucket: Bucket,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        background: bool = False,
        decode: Callable[[httpx.Response], T] | None = None,
    ) -> httpx.Response | T:
        """Send a request, retrying as the policy allows, and return its 2xx response.

        Args:
            method: GET (retried freely) or POST (retried only when surely not acted on).
            path: The path under ``/api/v1``.
            bucket: The rate budget the request spends.
            params: Query-string parameters.
            json: A body to send as JSON.
            background: True for polling, which yields to other requests in the rate gate.
            decode: Turns the 2xx response into the value returned. It runs inside the retry
                loop, so a GET whose body arrives cut short or malformed is sent again.

        Raises:
            APIStatusError: A non-2xx answer (after retries, where allowed).
            APIConnectionError: No answer (after retries, where allowed).
        """
        async for attempt in self.retry.retrying(idempotent=method == "GET"):
            with attempt:
                request = self._build(method, path, params, json)
                response = await self._send_once(request, bucket=bucket, background=background)
                return response if decode is None else decode(response)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    @asynccontextmanager
    async def stream(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        background: bool = False,
    ) -> AsyncGenerator[httpx.Response]:
        """Open a GET whose body is read as it arrives (for large CSV pages).

        The status is checked (and retried) before the body is handed over; a failure while the
        body streams is raised as ``APIConnectionError`` and is the caller's to retry.
        """
        request, response = await self._open(path, params, background=background)
        try:
            yield response
        except httpx.TransportError as exc:
            raise _connection_error(request, exc) from exc
        finally:
            await response.aclose()

    async def _open(
        self, path: str, params: Mapping[str, str] | None, *, background: bool
    ) -> tuple[httpx.Request, httpx.Response]:
        async for attempt in self.retry.retrying(idempotent=True):
            with attempt:
                request = self._build("GET", path, params, None)
                response = await self._send_once(
                    request, bucket="read", background=background, stream=True
                )
                return request, response
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def _send_once(
        self,
        request: httpx.Request,
        *,
        bucket: Bucket,
        background: bool,
        stream: bool = False,
    ) -> httpx.Response:
        if self.gate is not None:
            await self.gate.acquire(bucket, background=background)
        started = anyio.current_time()
        try:
            # Never follow redirects: the key is a custom header, which httpx would carry along.
            response = await self._http.send(request, stream=stream, follow_redirects=False)
        except httpx.TransportError as exc:
            if self.gate is not None:
                self.gate.record(bucket, None)
            logger.debug("%s -> %s", describe_request(request), type(exc).__name__)
            raise _connection_error(request, exc) from exc
        except BaseException:
            # Cancelled mid-flight: the request may have reached the server, so it counts as
            # spent, and the gate's slot is released now rather than left to expire.
            if self.gate is not None:
                self.gate.record(bucket, None)
            raise
        now = anyio.current_time()
        info = parse_rate_limits(response.headers, received_at=now)
        if info is not None:
            self.rate_limits = info
        if self.gate is not None:
            self.gate.record(bucket, response)
        logger.debug(
            "%s -> %d in %.3f s", describe_request(request), response.status_code, now - started
        )
        if response.is_success:
            return response
        if stream:
            try:
                await response.aread()
            except httpx.TransportError as exc:
                raise _connection_error(request, exc) from exc
            finally:
                await response.aclose()
        raise status_error(request, response)


def _connection_error(request: httpx.Request, exc: httpx.TransportError) -> APIConnectionError:
    where = describe_request(request)
    kind = type(exc).__name__
    sent = False if isinstance(exc, _BEFORE_SENDING) else None
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"{where} timed out ({kind})", request=request, request_sent=sent)
    # httpx messages name the host and the OS error, never headers, so they are safe to quote.
    return APIConnectionError(
        f"{where}: could not get an answer from {request.url.host} ({kind}: {exc})",
        request=request,
        request_sent=sent,
    )
