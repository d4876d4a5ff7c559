"""Reading a whole result page by page, into a row writer or as the server's CSV."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from .._client import DuneClient
from .._models import CSVPage, ExecutionResult
from .._options import ResultFilters, ResultOptions
from .._results import ResultReader
from ._display import Board, Display
from ._output import RowWriter, Sink, split_csv_header

__all__ = ["ResultSource", "copy_csv", "copy_rows"]


@dataclasses.dataclass(frozen=True)
class ResultSource:
    """Which result to read: an execution's, or the latest stored one of a saved query.

    Attributes:
        execution_id: The execution, or None when ``query_id`` is given.
        query_id: A saved query whose latest result is read (no execution credits).
        allow_partial: Read a truncated (``COMPLETED_PARTIAL``) result.
        limit: Most rows to read, None for all.
        page_size: Rows asked per page, None to let the server choose.
    """

    execution_id: str | None = None
    query_id: int | None = None
    allow_partial: bool = False
    limit: int | None = None
    page_size: int | None = None

    def options(self, offset: int, read: int) -> ResultOptions:
        """Return the options of the page starting at ``offset``, ``read`` rows in."""
        options: ResultOptions = {"offset": offset}
        want = self.page_size
        if self.limit is not None:
            left = self.limit - read
            want = left if want is None else min(want, left)
        if want is not None:
            options["limit"] = want
        if self.allow_partial:
            options["allow_partial_results"] = True
        return options

    def name(self) -> str:
        """Name the result in a message."""
        if self.execution_id is not None:
            return f"execution {self.execution_id}"
        return f"query {self.query_id}"


def _board(read: int, total: int | None, extra: str = "") -> Board:
    return Board("downloading", done=read, total=total, unit="rows", extra=extra)


def _filters(source: ResultSource) -> ResultFilters:
    return {"allow_partial_results": True} if source.allow_partial else {}


def _reader(dune: DuneClient, source: ResultSource) -> ResultReader[dict[str, Any]]:
    filters = _filters(source)
    if source.execution_id is not None:
        return dune.results(source.execution_id, **filters)
    assert source.query_id is not None  # one of the two is always set
    return dune.latest_results(source.query_id, **filters)


def _pages(dune: DuneClient, source: ResultSource) -> AsyncGenerator[ExecutionResult[Any], None]:
    return _reader(dune, source).pages(page_size=source.page_size)


def _csv_chunks(dune: DuneClient, source: ResultSource) -> AsyncGenerator[bytes, None]:
    return _reader(dune, source).csv(page_size=source.page_size)


async def _csv_page(dune: DuneClient, source: ResultSource, options: ResultOptions) -> CSVPage:
    return await _reader(dune, source).csv_page(**options)


async def copy_rows(
    dune: DuneClient, source: ResultSource, writer: RowWriter, display: Display
) -> int:
    """Read every page (up to ``source.limit`` rows) into ``writer``; return the row count.

    Pages come from the client's parallel, in-order paging, so a large result downloads at the
    speed of several connections while memory holds only the pages in flight.
    """
    read = 0
    started = False
    async with aclosing(_pages(dune, source)) as pages:
        async for page in pages:
            metadata = page.metadata
            if not started:
                writer.start(metadata.column_names if metadata is not None else [])
                started = True
            rows = page.rows
            if source.limit is not None:
                rows = rows[: source.limit - read]
            writer.rows(rows)
            read += len(rows)
            total = metadata.total_row_count if metadata is not None else None
            if source.limit is not None and total is not None:
                total = min(total, source.limit)
            display.update(_board(read, total))
            if source.limit is not None and read >= source.limit:
                break
    writer.finish()
    return read


async def copy_csv(
    dune: DuneClient,
    source: ResultSource,
    sink: Sink,
    display: Display,
    *,
    total: int | None = None,
) -> int | None:
    """Copy the server's CSV to ``sink``, with one header line for the whole result.

    Args:
        dune: The client.
        source: The result to read.
        sink: Where the CSV goes.
        display: Shows rows copied so far.
        total: Rows in the whole result, when the caller knows (for the progress bar).

    Returns:
        Rows copied when the count is known, else None.
    """
    if source.limit is not None:
        return await _copy_csv_prefix(dune, source, sink, display, total=total)
    copied: int = 0
    async with aclosing(_csv_chunks(dune, source)) as chunks:
        async for chunk in chunks:
            sink.write(chunk)
            # Lines, not rows (a quoted value may hold a newline): only for the progress bar.
            copied += chunk.count(b"\n")
            display.update(_board(max(copied - 1, 0), total))
    if total is not None:
        display.update(_board(total, total))
    return total


async def _copy_csv_prefix(
    dune: DuneClient, source: ResultSource, sink: Sink, display: Display, *, total: int | None
) -> int | None:
    """Copy the first ``source.limit`` rows of the server's CSV, asking for no more than that.

    The server counts rows for ``limit`` and ``offset``, so the pages are read in turn: each
    one says where the next starts, and the CSV itself is never parsed.
    """
    assert source.limit is not None  # the caller checked
    if total is not None:
        total = min(total, source.limit)
    offset = 0
    while True:
        page = await _csv_page(dune, source, source.options(offset, offset))
        header, body = split_csv_header(page.data)
        sink.write(header + body if offset == 0 else body)
        if page.next_offset is None or page.next_offset <= offset:
            break
        # The next page starts where this one ended: the offset counts the rows copied.
        offset = page.next_offset
        display.update(_board(offset, total))
        if offset >= source.limit:
            return offset
    if total is not None:
        display.update(_board(total, total))
    return total
