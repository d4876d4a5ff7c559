"""Sending one request: URL, auth header, timeouts, retries and the rate gate.

Everything the client sends goes through ``Transport.send`` (or ``Transport.get_chunks`` for
large result bodies), so the key handling, the retry rules and the rate budget live in one
place.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
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
    "with_body",
]

logger = logging.getLogger("duneasync")

T = TypeVar("T")

Bucket = Literal["read", "write"]
"""Dune's two per-key budgets: ``write`` for executions, ``read`` for everything else."""

_API_PREFIX = "/api/v1"
_EXECUTION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_JSON_ENCODER = msgspec.json.Encoder()
_URL_CACHE = 1024
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
        direct: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self._api_key = api_key
        self._http = http
        self._direct = direct
        self.retry = retry
        self.gate = gate
        self._rate_headers: tuple[str | None, str | None, float] | None = None
        self._rate_limits: RateLimitInfo | None = None
        # Built once: per-request header merging and URL re-parsing were a measurable share
        # of the client's CPU per request (docs/benchmarks-watch.md, benchmark 3).
        self._headers = httpx.Headers(
            {
                "X-Dune-Api-Key": api_key,
                "User-Agent": f"duneasync/{__version__}",
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",
            }
        )
        self._json_headers = httpx.Headers(
            dict(self._headers, **{"Content-Type": "application/json"})
        )
        self._prefix = str(self.url(""))
        self._urls: dict[str, httpx.URL] = {}
        self._extensions = {"timeout": http.timeout.as_dict()}

    def __repr__(self) -> str:
        return f"Transport(base_url={str(self.base_url)!r})"

    @property
    def rate_limits(self) -> RateLimitInfo | None:
        """The rate-limit headers of the latest response that carried them."""
        # Parsed when asked for, not per response: most responses are never looked at.
        if self._rate_headers is not None:
            policy, state, received_at = self._rate_headers
            headers = {
                name: value
                for name, value in (("ratelimit-policy", policy), ("ratelimit", state))
                if value is not None
            }
            self._rate_limits = parse_rate_limits(headers, received_at=received_at)
            self._rate_headers = None
        return self._rate_limits

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
        # Built directly rather than by ``AsyncClient.build_request``: the client's own headers
        # and cookies are not used (see DuneClient's ``http_client``), its timeout is.
        if json is None:
            content, headers = None, self._headers
        else:
            content, headers = _JSON_ENCODER.encode(json), self._json_headers
        url = self._urls.get(path)
        if url is None:
            # Polls repeat the same few paths; parsing a URL costs more than sending it.
            if len(self._urls) >= _URL_CACHE:
                self._urls.clear()
            url = self._urls[path] = httpx.URL(self._prefix + path)
        return httpx.Request(
            method,
            url,
            params=params,
            content=content,
            headers=headers,
            extensions=dict(self._extensions),  # per request: httpx may add its own keys
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

        async def attempt() -> httpx.Response | T:
            request = self._build(method, path, params, json)
            response = await self._send_once(request, bucket=bucket, background=background)
            return response if decode is None else decode(response)

        return await self.retry.call(attempt, idempotent=method == "GET")

    async def get_chunks(
        self, path: str, *, params: Mapping[str, str] | None = None
    ) -> tuple[httpx.Response, list[bytes]]:
        """Send a GET, retrying as the policy allows, and return its 2xx response and body.

        The body is read as it arrives and handed back, as the chunks it arrived in, apart from
        the response, which never holds it. An httpx response sits in a reference cycle (it and
        its stream point at each other), so a body kept in it lives on until the cyclic garbage
        collector runs: pages of megabytes would pile up by the dozen. A body cut off while it
        streams is retried like any failed GET.

        Raises:
            APIStatusError: A non-2xx answer (after retries).
            APIConnectionError: No answer, or no whole body (after retries).
        """

        async def attempt() -> tuple[httpx.Response, list[bytes]]:
            request = self._build("GET", path, params, None)
            response = await self._send_once(request, bucket="read", background=False, stream=True)
            try:
                chunks = [chunk async for chunk in response.aiter_bytes()]
            except httpx.TransportError as exc:
                raise _connection_error(request, exc) from exc
            finally:
                await response.aclose()
            return response, chunks

        return await self.retry.call(attempt, idempotent=True)

    async def get_body(
        self, path: str, *, params: Mapping[str, str] | None = None
    ) -> tuple[httpx.Response, bytes]:
        """Like ``get_chunks``, with the body in one piece (to decode it)."""
        response, chunks = await self.get_chunks(path, params=params)
        # bytes.join hands back a lone chunk as it is, without a copy.
        return response, b"".join(chunks)

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
            response = await self._exchange(request, stream=stream)
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
        policy, state = response.headers.get("ratelimit-policy"), response.headers.get("ratelimit")
        if policy is not None or state is not None:
            self._rate_headers = (policy, state, now)
        if self.gate is not None:
            self.gate.record(bucket, response)
        if logger.isEnabledFor(logging.DEBUG):  # the message's arguments cost per request
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

    async def _exchange(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        if self._direct is None:
            # Never follow redirects: the key is a custom header, which httpx would carry along.
            return await self._http.send(request, stream=stream, follow_redirects=False)
        # A transport the client was given and owns: hand it the request without the
        # AsyncClient's machinery (auth, cookie jar, redirects, hooks), none of which applies
        # here and which cost more CPU than the aiohttp transport itself.
        response = await self._direct.handle_async_request(request)
        response.request = request
        if not stream:
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response


def with_body(response: httpx.Response, body: bytes) -> httpx.Response:
    """Return a copy of a response read by ``Transport.get_body`` that holds its body.

    For errors that describe the body, which is rare enough to pay for the copy.
    """
    return httpx.Response(
        response.status_code, headers=response.headers, content=body, request=response.request
    )


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
