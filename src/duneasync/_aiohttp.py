"""An httpx transport that sends through aiohttp: a cheaper request path on asyncio.

httpx's own connection pool costs several times more CPU per request than aiohttp's when many
requests are in flight (see ``docs/benchmarks-watch.md``). ``AiohttpTransport`` keeps httpx's
request and response objects, so the client, its retry rules and its tests are unchanged, and
hands the bytes to one ``aiohttp.ClientSession``::

    async with DuneClient(transport=AiohttpTransport()) as dune:
        ...

It is asyncio-only by nature (aiohttp runs on asyncio); under trio it raises
``ConfigurationError`` and the native transport should be used. aiohttp is imported only when
the transport is built: ``pip install 'duneasync[aiohttp]'``.

aiohttp and OS errors become the httpx exception of the same meaning, so the client's retry
rules hold: only ``httpx.ConnectError``/``httpx.ConnectTimeout`` (the connection never carried
the request) say "not sent"; everything after that leaves it unknown, and a POST is not resent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx

from ._errors import ConfigurationError

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AiohttpTransport"]

_CHUNK = 65_536
# Bodies up to this size, announced by Content-Length, are read before the response is returned.
_EAGER_LIMIT = 262_144
# Headers aiohttp computes from the body itself; httpx's values would be sent twice.
_BODY_HEADERS = frozenset({"content-length", "transfer-encoding"})


def _import_aiohttp() -> None:
    try:
        import aiohttp  # noqa: F401  # pyright: ignore[reportUnusedImport]  # only checks it is there
    except ImportError as exc:
        raise ConfigurationError(
            "AiohttpTransport needs aiohttp: pip install 'duneasync[aiohttp]'"
        ) from exc


def _map_error(exc: BaseException, request: httpx.Request) -> httpx.TransportError | None:
    """Return the httpx error that means what an aiohttp or OS error means (None: not ours)."""
    import aiohttp  # already imported by the constructor

    message = str(exc) or type(exc).__name__
    # Order matters: the subclasses before their bases.
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        # Refused, unreachable, DNS, TLS handshake: nothing of the request was sent.
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.SocketTimeoutError | asyncio.TimeoutError):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        # Closed without an answer, or with the body cut short: the server may have acted.
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(message, request=request)
    if isinstance(exc, aiohttp.ClientError | OSError):
        # Reset or broken pipe at an unknown point of the exchange: maybe sent.
        return httpx.ReadError(message, request=request)
    return None


class _AiohttpBody(httpx.AsyncByteStream):
    """The body of an aiohttp response, read as httpx asks for it."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(_CHUNK):
                yield chunk
        except Exception as exc:
            mapped = _map_error(exc, self._request)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        # A fully read body gives the connection back to the pool; a partly read one closes it.
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport backed by one ``aiohttp.ClientSession`` (asyncio only).

    Give it to ``DuneClient(transport=AiohttpTransport())``; the client closes it. Redirects are
    never followed and bodies are passed on undecoded (httpx decodes them).

    Args:
        limit: Most connections open at once.
        keepalive_timeout: Seconds an idle connection is kept for reuse.
        session: An ``aiohttp.ClientSession`` to send with instead of building one; the caller
            keeps ownership and closes it. It should have ``auto_decompress=False``.

    Raises:
        ConfigurationError: aiohttp is not installed.
    """

    def __init__(
        self,
        *,
        limit: int = 100,
        keepalive_timeout: float = 15.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        _import_aiohttp()
        if limit < 1:
            raise ConfigurationError("limit must be at least 1")
        self._limit = limit
        self._keepalive_timeout = keepalive_timeout
        self._session = session
        self._owns_session = session is None
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def __repr__(self) -> str:
        return f"AiohttpTransport(limit={self._limit})"

    def _session_now(self) -> aiohttp.ClientSession:
        import aiohttp  # lazy, see the module docstring

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise ConfigurationError(
                "AiohttpTransport runs on asyncio only; under trio use the default transport"
            ) from None
        if self._session is None:
            # Built on first use: an aiohttp session belongs to the running event loop.
            connector = aiohttp.TCPConnector(
                limit=self._limit, keepalive_timeout=self._keepalive_timeout
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                # httpx has already built every header; aiohttp must not add its own.
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
                trust_env=False,
            )
        return self._session

    def _timeout(self, request: httpx.Request) -> aiohttp.ClientTimeout:
        import aiohttp  # lazy, see the module docstring

        given: dict[str, float | None] = request.extensions.get("timeout", {})
        key = (given.get("connect"), given.get("read"), given.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            connect, read, pool = key
            # aiohttp's ``connect`` spans waiting for a pooled connection and opening one.
            waited = None if connect is None or pool is None else connect + pool
            timeout = aiohttp.ClientTimeout(
                total=None, connect=waited, sock_connect=connect, sock_read=read
            )
            self._timeouts[key] = timeout
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request through aiohttp and return its response, body unread."""
        import yarl  # comes with aiohttp

        session = self._session_now()
        headers = [
            (name, value)
            for name, value in request.headers.multi_items()
            if name.lower() not in _BODY_HEADERS
        ]
        body = await request.aread()
        try:
            response = await session.request(
                request.method,
                # httpx has already percent-encoded the URL: aiohttp must not encode it again.
                yarl.URL(str(request.url), encoded=True),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=self._timeout(request),
            )
        except Exception as exc:
            mapped = _map_error(exc, request)
            if mapped is None:
                raise
            raise mapped from exc
        extensions = {
            "http_version": b"HTTP/1.1",
            "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
        }
        size = response.content_length
        if size is None or size > _EAGER_LIMIT:
            return httpx.Response(
                response.status,
                headers=response.raw_headers,
                stream=_AiohttpBody(response, request),
                request=request,
                extensions=extensions,
            )
        # A small body announced by its length is read now, in one call: it frees the
        # connection at once and skips httpx's chunk-by-chunk streaming for status polls.
        try:
            body = await response.read()
        except Exception as exc:
            response.release()
            mapped = _map_error(exc, request)
            if mapped is None:
                raise
            raise mapped from exc
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=httpx.ByteStream(body),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        """Close the session and its connections (not a session the caller gave)."""
        if self._owns_session and self._session is not None:
            session, self._session = self._session, None
            await session.close()
