"""Reading a whole result as CSV: parallel pages, the header once, atomic file writes.

CSV pages carry no metadata, so a read starts with a one-row JSON request that tells the state,
the execution, the total row count and the columns. The CSV pages are then read from that
execution's own endpoint: even when the source is "the latest result of a query", every page
comes from the same execution and two results can never be mixed in one file.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from contextlib import aclosing, suppress
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import anyio
import anyio.to_thread
import httpx
import msgspec

from .._core import Body, RequestCore
from .._decoding import decode_bytes, results_decoder
from .._errors import ConfigurationError, ResultChangedError
from .._models import CSVPage, ExecutionResult, ResultMetadata
from ._flow import Range, iter_in_batches, run_in_order
from ._source import ReadOptions, ResultSource, check_state

__all__ = ["CSVDownload", "CSVReader", "csv_page_of", "header_count", "write_atomically"]

logger = logging.getLogger("duneasync")


class CSVDownload(msgspec.Struct, frozen=True, kw_only=True):
    """What ``ResultReader.download`` wrote.

    Attributes:
        execution_id: The execution whose result was written.
        row_count: Rows written (the header line not counted).
        bytes_written: Bytes written, header included.
        column_names: The columns, in file order.
        is_partial: Whether the result was truncated by the server (read with
            ``allow_partial_results=True``).
        path: The file written, or None for a file-like destination.
    """

    execution_id: str | None
    row_count: int
    bytes_written: int
    column_names: list[str]
    is_partial: bool = False
    path: str | None = None


_HEADER_DIGITS = 19  # longer than any row offset or body length a server can mean


def header_count(headers: httpx.Headers, name: str) -> int | None:
    """Read a header that holds a count of rows or bytes; None when absent or not a count.

    Only ASCII digits count (``str.isdigit`` accepts ``²`` and other digits ``int`` refuses),
    and no more of them than any real count needs.
    """
    raw = headers.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    if not raw or len(raw) > _HEADER_DIGITS or not (raw.isascii() and raw.isdigit()):
        return None
    return int(raw)


def csv_page_of(response: httpx.Response) -> CSVPage:
    """Read a CSV page and the paging headers that come with it."""
    return CSVPage(
        data=response.content,
        next_offset=header_count(response.headers, "x-dune-next-offset"),
        next_uri=response.headers.get("x-dune-next-uri") or None,
    )


class _CSVBody(NamedTuple):
    """One CSV page: its chunks and where the server says the next page starts."""

    chunks: list[bytes]
    next_offset: int | None


def _whole_csv(body: Body) -> _CSVBody:
    """Check a CSV body against its ``Content-Length`` (inside the retry loop, see the core).

    CSV has no structure that would reveal a cut body, so its length is compared with the one
    announced (when the body is not compressed, and so comparable).
    """
    headers = body.response.headers
    announced = header_count(headers, "content-length")
    if "content-encoding" not in headers and announced is not None:
        size = body.size
        if size != announced:
            raise body.error(f"the CSV body holds {size} of {announced} bytes")
    return _CSVBody(body.chunks, header_count(headers, "x-dune-next-offset"))


class CSVReader:
    """Read one result as CSV pages, in parallel and in order, with the header only once.

    Args:
        core: Sends the requests.
        source: The execution or query whose result is read.
        options: The read's checked options (filters, page size, concurrency).
    """

    def __init__(self, core: RequestCore, source: ResultSource, *, options: ReadOptions) -> None:
        self._options = options
        self._params = options.params
        self.allow_partial = options.allow_partial
        self.concurrency = options.concurrency
        self._core = core
        self.source = source
        self.probe: ExecutionResult[Any] | None = None
        self.total: int | None = None
        self.page_size = 1
        self._path = source.path + "/csv"
        self._header: bytes | None = None
        self.rows_written = 0

    async def start(self) -> Iterator[Range]:
        """Learn the result's shape from a one-row JSON page and plan the CSV ranges (lazily)."""
        params = {**self._params, "offset": "0", "limit": "1"}
        probe = await self._core.read(self.source.path, params=params, decode=_decode_probe)
        check_state(probe, self.source, allow_partial=self.allow_partial)
        self.probe = probe
        if probe.execution_id:
            # Pin every CSV page to the execution the probe saw (see the module docstring).
            self._path = ResultSource.execution(probe.execution_id).path + "/csv"
        metadata = probe.metadata or ResultMetadata()
        self.total = metadata.total_row_count
        self.page_size = self._options.rows_per_page(len(metadata.column_names) or 1)
        return self._ranges()

    def _ranges(self) -> Iterator[Range]:
        total = self.total
        if total is None:
            yield (0, None)
        elif total == 0:
            yield (0, 0)
        else:
            for lo in range(0, total, self.page_size):
                yield (lo, min(lo + self.page_size, total))

    @property
    def column_names(self) -> list[str]:
        """The result's columns, as the probe reported them."""
        metadata = self.probe.metadata if self.probe is not None else None
        return list(metadata.column_names) if metadata is not None else []

    async def fetch_range(self, start: int, stop: int | None) -> list[tuple[int, list[bytes]]]:
        """Fetch rows ``[start, stop)`` as CSV bodies (header included), with their row counts.

        Each body is kept as the chunks it arrived in: written to a file one after the other,
        they never need joining into one more copy of the page.
        """
        bodies: list[tuple[int, list[bytes]]] = []
        offset = start
        while True:
            limit = self.page_size if stop is None else max(1, min(self.page_size, stop - offset))
            params = {**self._params, "offset": str(offset), "limit": str(limit)}
            page = await self._core.read(self._path, params=params, decode=_whole_csv)
            next_offset = page.next_offset
            if next_offset is not None and (
                next_offset <= offset or (stop is not None and next_offset > stop)
            ):
                raise ResultChangedError(
                    f"{self.source.description}: the CSV page at offset {offset} says the next"
                    f" starts at {next_offset}; refusing to skip or repeat rows"
                )
            total = self.total
            if next_offset is None and stop is not None and total is not None and stop < total:
                raise ResultChangedError(
                    f"{self.source.description} ended before row {stop} although it has"
                    f" {total} rows; read it again"
                )
            if next_offset is not None:
                rows = next_offset - offset
            else:
                rows = max(0, total - offset) if total is not None else -1
            bodies.append((rows, page.chunks))
            if next_offset is None or (stop is not None and next_offset >= stop):
                return bodies
            offset = next_offset

    def strip(self, chunks: list[bytes]) -> list[bytes | memoryview]:
        """Return a page's rows, dropping its header line after the first page's.

        The header is cut off through a memoryview: slicing the bytes would copy the page.
        """
        if chunks and b"\n" not in chunks[0]:
            chunks = [b"".join(chunks)]  # a header longer than a chunk: rare, and small
        first = chunks[0] if chunks else b""
        cut = first.find(b"\n") + 1 if first else 0
        header = first[:cut] if cut else first
        if self._header is None:
            self._header = header
            return list(chunks)
        if header != self._header:
            raise ResultChangedError(
                f"{self.source.description}: a CSV page came with other columns than the first;"
                " read it again"
            )
        return [memoryview(first)[cut:], *chunks[1:]] if cut else []

    def _count(self, rows: int) -> None:
        if rows >= 0:
            self.rows_written += rows

    async def run(self, consume: Callable[[list[bytes | memoryview]], Awaitable[None]]) -> None:
        """Read the whole result and hand each page's chunks (header first) to ``consume``."""
        ranges = await self.start()

        async def on_page(page: tuple[int, list[bytes]]) -> None:
            self._count(page[0])
            await consume(self.strip(page[1]))

        await run_in_order(ranges, self.fetch_range, on_page, concurrency=self.concurrency)

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """Yield the whole result as CSV chunks, header first, without tasks left between chunks."""
        ranges = await self.start()
        batches = iter_in_batches(ranges, self.fetch_range, concurrency=self.concurrency)
        async with aclosing(batches):
            async for rows, chunks in batches:
                self._count(rows)
                yield b"".join(self.strip(chunks))


async def write_atomically(
    destination: str | os.PathLike[str] | BinaryIO,
    produce: Callable[[Callable[[list[bytes | memoryview]], Awaitable[None]]], Awaitable[None]],
) -> tuple[int, str | None]:
    """Write the chunks ``produce`` hands its writer to ``destination``, in order.

    A path is written through a temporary file in the same directory, renamed over the
    destination only once everything is written: a failure leaves no half file behind (and an
    existing file untouched). A binary file-like object is written as chunks arrive.

    Returns:
        The bytes written and the path written, if any.
    """
    written = 0
    if not isinstance(destination, (str, os.PathLike)):
        if not callable(getattr(destination, "write", None)):
            raise ConfigurationError("destination must be a path or a binary file-like object")
        sink = destination

        async def write_to(chunks: list[bytes | memoryview]) -> None:
            nonlocal written
            for chunk in chunks:
                sink.write(chunk)
                written += len(chunk)

        await produce(write_to)
        return written, None

    target = Path(destination)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
    fd = await anyio.to_thread.run_sync(_create, target, temporary)
    try:
        with os.fdopen(fd, "wb") as file:

            async def write_file(chunks: list[bytes | memoryview]) -> None:
                nonlocal written
                # A page is a few megabytes: write it off the event loop.
                await anyio.to_thread.run_sync(file.writelines, chunks)
                written += sum(map(len, chunks))

            await produce(write_file)
        os.replace(temporary, target)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_unlink, temporary)
        raise
    logger.debug("wrote %d bytes of CSV to %s", written, target)
    return written, str(target)


def _decode_probe(body: Body) -> ExecutionResult[Any]:
    return decode_bytes(results_decoder(None), body.content(), body.response)


def _create(target: Path, temporary: Path) -> int:
    if target.is_dir():
        raise ConfigurationError(f"destination {str(target)!r} is a directory")
    # O_EXCL: never write into a file someone else made; mode 0o666 lets the umask decide, as
    # for any new file.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.open(temporary, flags, 0o666)


def _unlink(path: Path) -> None:
    with suppress(FileNotFoundError):
        path.unlink()
