"""Serve the fake in process: an httpx transport with no sockets, for asyncio and trio alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import httpx

from duneasync.testing._http import Delivery

if TYPE_CHECKING:
    from duneasync.testing._fake import FakeDune

__all__ = ["FakeTransport"]


class FakeTransport(httpx.AsyncBaseTransport):
    """An `httpx.AsyncBaseTransport` answering from a `FakeDune`, with its faults made real.

    A connection dropped before the server acted raises `httpx.ConnectError`; one dropped after
    raises `httpx.ReadError`; a slow answer waits with `anyio.sleep`; a truncated body keeps
    its full `Content-Length` but carries only its first half.

    Args:
        fake: The fake to serve.
    """

    def __init__(self, fake: FakeDune) -> None:
        self._fake = fake

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request from the fake."""
        body = await request.aread()
        url = request.url
        response = self._fake.handle(
            request.method,
            url.path,
            url.query.decode("ascii"),
            dict(request.headers),
            body,
            scheme=url.scheme,
        )
        if response.delivery is Delivery.DROP_BEFORE_SENDING:
            raise httpx.ConnectError("fake Dune dropped the connection", request=request)
        if response.delay > 0:
            await anyio.sleep(response.delay)
        if response.delivery is Delivery.DROP:
            raise httpx.ReadError(
                "fake Dune closed the connection without answering", request=request
            )
        content = response.body
        headers = [*response.headers, ("Content-Length", str(len(content)))]
        if response.delivery is Delivery.TRUNCATE:
            content = content[: len(content) // 2]
        return httpx.Response(response.status, headers=headers, content=content, request=request)
