"""Serve the fake over real loopback sockets: anyio's TCP listener speaking HTTP/1.1 with h11.

h11 is already installed as a dependency of httpx, so a real server costs no new package, and
it gives exact control of the bytes on the wire: keep-alive, a body announced longer than what
is sent, a connection closed without an answer.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncGenerator, Generator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import anyio.from_thread
import anyio.to_thread
import h11

from duneasync.testing._http import Delivery, FakeResponse

if TYPE_CHECKING:
    from duneasync.testing._fake import FakeDune

__all__ = ["FakeServer", "run_in_thread", "serving"]

_log = logging.getLogger("duneasync.testing")
_READ_SIZE = 65_536
_MAX_REQUEST_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class FakeServer:
    """A running loopback server.

    Attributes:
        host: The bound address.
        port: The bound port.
    """

    host: str
    port: int

    @property
    def base_url(self) -> str:
        """Return the URL to point a client at, e.g. `http://127.0.0.1:54321`."""
        return f"http://{self.host}:{self.port}"


async def _read_request(
    stream: anyio.abc.ByteStream, conn: h11.Connection
) -> tuple[h11.Request, bytes] | None:
    request: h11.Request | None = None
    chunks: list[bytes] = []
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            try:
                data = await stream.receive(_READ_SIZE)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                data = b""
            conn.receive_data(data)
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
            if sum(map(len, chunks)) > _MAX_REQUEST_BODY:
                raise h11.RemoteProtocolError("request body too large")
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None  # h11 emits EndOfMessage only after a Request
            return request, b"".join(chunks)
        elif isinstance(event, h11.ConnectionClosed):
            return None
        else:  # pragma: no cover - h11 emits nothing else on the server side
            raise h11.RemoteProtocolError(f"unexpected event {event!r}")


async def _respond(
    stream: anyio.abc.ByteStream, conn: h11.Connection, response: FakeResponse
) -> bool:
    """Send one response as the fake instructs; return whether the connection stays open."""
    if response.delivery in (Delivery.DROP, Delivery.DROP_BEFORE_SENDING):
        return False
    if response.delay > 0:
        await anyio.sleep(response.delay)
    body = response.body
    headers = [(k.encode(), v.encode()) for k, v in response.headers]
    headers.append((b"Content-Length", str(len(body)).encode()))
    head = conn.send(h11.Response(status_code=response.status, headers=headers))
    assert head is not None  # only ConnectionClosed makes h11 return None
    if response.delivery is Delivery.TRUNCATE:
        await stream.send(head + body[: len(body) // 2])
        return False
    # Small bodies go out with the head in one write; large ones as a second write straight
    # from the encoded bytes, rather than copying megabytes only to save a syscall.
    if len(body) <= _READ_SIZE:
        await stream.send(head + body)
    else:
        await stream.send(head)
        await stream.send(body)
    conn.send_with_data_passthrough(h11.Data(data=body))
    conn.send(h11.EndOfMessage())
    return True


async def _serve_connection(fake: FakeDune, stream: anyio.abc.SocketStream) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_READ_SIZE)
    async with stream:
        try:
            while True:
                received = await _read_request(stream, conn)
                if received is None:
                    return
                request, body = received
                target = request.target.decode("latin-1")
                path, _, query = target.partition("?")
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers}
                # The core runs in a worker thread so that building a large page does not stall
                # the bytes other connections are sending.
                handle = functools.partial(
                    fake.handle, request.method.decode(), path, query, headers, body, scheme="http"
                )
                response = await anyio.to_thread.run_sync(handle)
                if not await _respond(stream, conn, response):
                    return
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            _log.debug("fake Dune: bad request from a client: %s", exc)
            if conn.our_state is h11.SEND_RESPONSE:
                await stream.send(conn.send(h11.Response(status_code=400, headers=[])) or b"")
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return


@asynccontextmanager
async def serving(
    fake: FakeDune, host: str = "127.0.0.1", port: int = 0
) -> AsyncGenerator[FakeServer, None]:
    """Serve `fake` on `host:port` for as long as the context is open.

    Every connection runs in a task group owned by this context: leaving it closes the listener
    and cancels the connections still open.
    """
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    async with listener, anyio.create_task_group() as group:
        bound = listener.extra(anyio.abc.SocketAttribute.local_address)
        server = FakeServer(host=str(bound[0]), port=int(bound[1]))

        async def handler(stream: anyio.abc.SocketStream) -> None:
            await _serve_connection(fake, stream)

        group.start_soon(listener.serve, handler, group)
        try:
            yield server
        finally:
            group.cancel_scope.cancel()


@contextmanager
def run_in_thread(
    fake: FakeDune, host: str, port: int, backend: str
) -> Generator[FakeServer, None, None]:
    """Run `serving` on an event loop of its own in a background thread."""
    with (
        anyio.from_thread.start_blocking_portal(backend) as portal,
        portal.wrap_async_context_manager(serving(fake, host, port)) as server,
    ):
        yield server
