"""The request core: every request the client sends, from URL to decoded value.

``RequestCore`` builds the URL and the auth header, applies the timeouts, passes the rate gate,
runs the one retry loop and decodes the answer inside it. Two entry points:

- ``send``: a request whose body is small (statuses, executions, one page on request);
- ``read``: a GET whose body may be megabytes (result pages), read as the chunks it arrived in.

Both hand the response to a ``decode`` function *inside* ``RetryPolicy.call``: a body that does
not decode, or arrives shorter than announced, is retried like any failed GET, and nothing
around the core retries again. A dependency's exception (httpx's transport and decoding errors)
becomes a duneasync error here, at the one place where httpx is called.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

import anyio
import httpx
import msgspec

from ._describe import describe_request
from ._errors import ResponseDecodeError, UnsafeURLError, decode_error, status_error
from ._gate import Bucket, RequestGate, SlotClaim
from ._ratelimit import RateLimitInfo, parse_rate_limits
from ._retry import RetryPolicy
from ._translate import connection_error, encoding_error
from ._version import __version__

__all__ = ["Body", "RequestCore"]

logger = logging.getLogger("duneasync")

T = TypeVar("T")
Method = Literal["GET", "POST", "PATCH", "DELETE"]

_API_PREFIX = "/api/v1"
_JSON_ENCODER = msgspec.json.Encoder()
_URL_CACHE = 1024


class Body:
    """A response and its body, read apart from it (see ``RequestCore.read``).

    Attributes:
        response: The 2xx response, which does not hold the body.
        chunks: The body as the chunks it arrived in.
    """

    __slots__ = ("chunks", "response")

    def __init__(self, response: httpx.Response, chunks: list[bytes]) -> None:
        self.response = response
        self.chunks = chunks

    @property
    def size(self) -> int:
        """The body's length in bytes."""
        return sum(map(len, self.chunks))

    def content(self) -> bytes:
        """The body in one piece (a lone chunk is handed back as it is, without a copy)."""
        return b"".join(self.chunks)

    def error(self, problem: str) -> ResponseDecodeError:
        """Describe a body that is broken or cut short (retried on GET)."""
        return decode_error(self.response.request, self.response, problem, content=self.content())


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default_port = {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, url.host, url.port or default_port)


class RequestCore:
    """Send requests to one Dune origin with the key, the rate gate and the retry policy.

    Args:
        api_key: Sent in the ``X-Dune-Api-Key`` header, nowhere else.
        base_url: The API's origin, already checked.
        http: The ``httpx.AsyncClient`` whose pool and timeouts are used.
        retry: The retry policy of every request.
        gate: The rate gate every request passes (None: none).
        owned_transport: The httpx transport ``http`` was built around, when the client built
            it: requests are handed to it straight, skipping the AsyncClient's machinery.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: httpx.URL,
        http: httpx.AsyncClient,
        retry: RetryPolicy,
        gate: RequestGate | None = None,
        owned_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self._http = http
        self._owned_transport = owned_transport
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
        return f"RequestCore(base_url={str(self.base_url)!r})"

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

    def resolve(self, uri: str) -> tuple[str, dict[str, str]]:
        """Turn a link from the server (``next_uri``) into an API path and its parameters.

        Raises:
            UnsafeURLError: The link points away from the configured origin or outside the API,
                or is not a URL at all.
        """
        try:
            target = self.base_url.join(uri)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise self._unsafe(
                "the server's next page link is not a URL; refusing to follow it"
            ) from exc
        if _origin(target) != _origin(self.base_url):
            raise self._unsafe(
                f"the server's next page link points at {target.host!r}, not the configured"
                f" {self.base_url.host!r}; refusing to send the API key there"
            )
        api_root = self.url("").path
        if not target.path.startswith(api_root + "/"):
            raise self._unsafe(
                f"the server's next page link {target.path!r} is outside the API ({api_root!r})"
            )
        return target.path.removeprefix(api_root), dict(target.params.multi_items())

    def _unsafe(self, message: str) -> UnsafeURLError:
        # The link was never requested: the error names the origin it would have gone with.
        return UnsafeURLError(message, request=httpx.Request("GET", self.base_url))

    async def follow(self, uri: str, *, decode: Callable[[httpx.Response], T]) -> T:
        """GET a link the server gave (``next_uri``), once it is known to be safe to follow.

        Raises:
            UnsafeURLError: The link points away from the configured origin or the API.
        """
        path, params = self.resolve(uri)
        return await self.send("GET", path, bucket="read", params=params, decode=decode)

    async def send(
        self,
        method: Method,
        path: str,
        *,
        bucket: Bucket,
        decode: Callable[[httpx.Response], T],
        params: Mapping[str, str] | None = None,
        json: Any = None,
        background: bool = False,
        claim: SlotClaim | None = None,
        retry: RetryPolicy | None = None,
    ) -> T:
        """Send a request, retrying as the policy allows, and return its decoded 2xx answer.

        Args:
            method: GET (retried freely) or a write (retried only when surely not acted on).
            path: The path under ``/api/v1``.
            bucket: The rate budget the request spends.
            decode: Turns the 2xx response into the value returned. It runs inside the retry
                loop, so a GET whose body arrives cut short or malformed is sent again.
            params: Query-string parameters.
            json: A body to send as JSON.
            background: True for polling, which yields to other requests at the rate gate.
            claim: A slot already taken from the gate, which this request spends.
            retry: Another policy for this request: a poll is re-polled by its scheduler, not
                retried here (``RetryPolicy.never()``).

        Raises:
            APIStatusError: A non-2xx answer (after retries, where allowed).
            APIConnectionError: No answer (after retries, where allowed).
            ResponseDecodeError: A 2xx whose body does not decode.
        """

        async def attempt() -> T:
            request = self._build(method, path, params, json)
            response = await self._send_once(request, bucket, background=background, claim=claim)
            return decode(response)

        policy = retry or self.retry
        return await policy.call(attempt, idempotent=method == "GET")

    async def read(
        self,
        path: str,
        *,
        decode: Callable[[Body], T],
        params: Mapping[str, str] | None = None,
    ) -> T:
        """Send a GET for a large body, read it as it arrives and return ``decode(body)``.

        The body is handed to ``decode`` apart from the response, which never holds it: an httpx
        response sits in a reference cycle (it and its stream point at each other), so a body
        kept in it lives on until the cyclic garbage collector runs, and pages of megabytes would
        pile up by the dozen. A body cut off while it streams, or refused by ``decode`` as
        broken, is retried like any failed GET.

        Raises:
            APIStatusError: A non-2xx answer (after retries).
            APIConnectionError: No answer, or no whole body (after retries).
            ResponseDecodeError: The body does not decode (after retries, unless it is whole).
        """

        async def attempt() -> T:
            request = self._build("GET", path, params, None)
            response = await self._send_once(request, "read", stream=True)
            return decode(Body(response, await _read_body(request, response)))

        return await self.retry.call(attempt, idempotent=True)

    def _build(
        self, method: str, path: str, params: Mapping[str, str] | None, json: Any
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

    async def _send_once(
        self,
        request: httpx.Request,
        bucket: Bucket,
        *,
        background: bool = False,
        claim: SlotClaim | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        gate = self.gate
        # Inline, not a helper coroutine: this runs for every request, and without a gate (or
        # with a claim that pays) it must cost no awaitable at all.
        if gate is not None and not (claim is not None and claim.spend(gate, bucket)):
            await gate.acquire(bucket, background=background)
        started = anyio.current_time()
        try:
            response = await self._exchange(request, stream=stream)
        except (httpx.TransportError, httpx.DecodingError) as exc:
            if gate is not None:
                gate.record(bucket, None)
            logger.debug("%s -> %s", describe_request(request), type(exc).__name__)
            if isinstance(exc, httpx.DecodingError):
                raise encoding_error(request, None, exc) from exc
            raise connection_error(request, exc) from exc
        except BaseException:
            # Cancelled mid-flight: the request may have reached the server, so it counts as
            # spent, and the gate's slot is released now rather than left to expire.
            if gate is not None:
                gate.record(bucket, None)
            raise
        now = anyio.current_time()
        policy, state = response.headers.get("ratelimit-policy"), response.headers.get("ratelimit")
        if policy is not None or state is not None:
            self._rate_headers = (policy, state, now)
        if gate is not None:
            gate.record(bucket, response)
        if logger.isEnabledFor(logging.DEBUG):  # the message's arguments cost per request
            logger.debug(
                "%s -> %d in %.3f s", describe_request(request), response.status_code, now - started
            )
        if response.is_success:
            return response
        if stream:
            # The error's message quotes the body: read it, then let the response keep it.
            chunks = await _read_body(request, response)
            response = httpx.Response(
                response.status_code,
                headers=response.headers,
                content=b"".join(chunks),
                request=request,
                extensions=response.extensions,
            )
        raise status_error(request, response)

    async def _exchange(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        if self._owned_transport is None:
            # Never follow redirects: the key is a custom header, which httpx would carry along.
            return await self._http.send(request, stream=stream, follow_redirects=False)
        # A transport the client was given and owns: hand it the request without the
        # AsyncClient's machinery (auth, cookie jar, redirects, hooks), none of which applies
        # here and which cost more CPU than the aiohttp transport itself.
        response = await self._owned_transport.handle_async_request(request)
        response.request = request
        if not stream:
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response


async def _read_body(request: httpx.Request, response: httpx.Response) -> list[bytes]:
    """Read a streamed body as the chunks it arrives in, and close the response."""
    try:
        return [chunk async for chunk in response.aiter_bytes()]
    except httpx.TransportError as exc:
        raise connection_error(request, exc) from exc
    except httpx.DecodingError as exc:
        raise encoding_error(request, response, exc) from exc
    finally:
        await response.aclose()
