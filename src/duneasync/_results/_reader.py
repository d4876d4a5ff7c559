"""``ResultReader``: one result, read any way: a page, every page or row, the whole, CSV, frames.

``dune.results(execution_id)`` and ``dune.latest_results(query_id)`` return one; each way of
reading is written once here, for both sources and every ``row_type``. The engines live in
``_pages`` (JSON pages), ``_csv`` (CSV) and ``_frames`` (dataframes).

Streaming methods (``pages``, ``rows``, ``csv``) fetch ``concurrency`` pages at a time and leave
no request running while the caller holds a page, so breaking out of the loop is always safe.
Whole-result methods (``all``, ``download``, ``polars``, ``arrow``) keep ``concurrency`` requests
in flight while they consume, inside a task group that ends before they return.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, BinaryIO, Generic

import httpx
import msgspec
from typing_extensions import TypeVar

from .._core import RequestCore
from .._decoding import decoding_results
from .._errors import ConfigurationError, ResultChangedError
from .._frames import arrow_table, polars_frame
from .._models import CSVPage, ExecutionResult, ResultData
from .._options import result_params
from ._csv import CSVDownload, CSVReader, csv_page_of, write_atomically
from ._flow import iter_in_batches, run_in_order
from ._latest import Freshness, MaxAge, Refresh, as_max_age, is_stale
from ._pages import PageReader, merge_metadata
from ._source import DEFAULT_CONCURRENCY, STREAM_CONCURRENCY, ReadOptions, ResultSource

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa
    from typing_extensions import Unpack

    from .._options import ResultFilters, ResultOptions

__all__ = ["Destination", "MaxAge", "Refresh", "ResultReader", "RowT"]

RowT = TypeVar("RowT", default=dict[str, Any])
"""The type of a result's rows: dicts unless a ``row_type`` says otherwise."""

Destination = str | os.PathLike[str] | BinaryIO
"""Where ``download`` writes: a path (written atomically) or a binary file-like object."""

_PAGING = ("limit", "offset", "sample_count")


class ResultReader(Generic[RowT]):
    """One result, and every way of reading it.

    Made by ``DuneClient.results`` (an execution's result) and ``DuneClient.latest_results``
    (the latest result of a saved query, which costs no execution credits)::

        reader = dune.results(execution_id, columns=["block_time", "amount"])
        async for row in reader.rows():
            ...
        frame = await dune.latest_results(1215383).polars()

    A reader holds no connection and sends nothing until one of its methods is awaited; each
    method reads the result anew.

    Attributes:
        description: How messages name the result.
    """

    def __init__(
        self,
        core: RequestCore,
        source: ResultSource,
        *,
        row_type: type[RowT] | None = None,
        filters: ResultFilters | None = None,
        max_age: MaxAge | None = None,
        refresh: Refresh | None = None,
        query_id: int | None = None,
    ) -> None:
        given = dict(filters or {})
        paging = [name for name in _PAGING if name in given]
        if paging:
            raise ConfigurationError(
                f"{', '.join(paging)} belong to one page: pass them to page() or csv_page()"
            )
        result_params(given)  # refuse unknown or malformed options before anything is sent
        self._core = core
        self._source = source
        self._row_type = row_type
        self._filters: dict[str, Any] = given
        self._freshness: Freshness | None = None
        age = as_max_age(max_age)
        if age is not None and refresh is not None and query_id is not None:
            self._freshness = Freshness(query_id, age, refresh)
        self.description = source.description

    def __repr__(self) -> str:
        return f"ResultReader({self.description!r})"

    # -- one page ---------------------------------------------------------------------------

    async def page(self, **options: Unpack[ResultOptions]) -> ExecutionResult[RowT]:
        """Return one page of the result as JSON.

        Args:
            **options: ``limit``, ``offset``, ``sample_count`` and any of the reader's filters
                to override (see ``ResultOptions``).

        Returns:
            The page, with the status fields, rows, metadata and ``next_offset``.
        """
        params = result_params({**self._filters, **options})
        decode: Callable[[httpx.Response], ExecutionResult[RowT]] = decoding_results(self._row_type)
        page = await self._core.send(
            "GET", self._source.path, bucket="read", params=params, decode=decode
        )
        fresh = self._freshness
        if fresh is None or not is_stale(page, fresh.max_age):
            return page
        source = ResultSource.execution(await fresh.refresh(fresh.query_id))
        return await self._core.send(
            "GET", source.path, bucket="read", params=params, decode=decode
        )

    async def csv_page(self, **options: Unpack[ResultOptions]) -> CSVPage:
        """Return one page of the result as CSV, with where the next page starts.

        With ``max_age`` (``latest_results``), checking the age costs one small JSON read.
        """
        params = result_params({**self._filters, **options})
        source = await self._current()
        return await self._core.send(
            "GET", source.path + "/csv", bucket="read", params=params, decode=csv_page_of
        )

    # -- every page, every row --------------------------------------------------------------

    async def pages(
        self, *, page_size: int | None = None, concurrency: int = STREAM_CONCURRENCY
    ) -> AsyncGenerator[ExecutionResult[RowT], None]:
        """Yield every page of the result, in order, fetching pages in parallel.

        The first page tells the row and column counts; the rest are then requested by offset,
        ``concurrency`` at a time, and yielded strictly in row order. Each page is decoded only
        when its turn comes: memory holds ``concurrency`` undecoded bodies and one decoded page,
        whatever the size of the result. Every row is yielded exactly once, even when requests
        fail and are retried or the server returns fewer rows than asked.

        Args:
            page_size: Rows per request. By default the most that fits the server's
                250,000-datapoint cap for the result's column count.
            concurrency: Most page requests in flight at once (all share the rate budget).

        Raises:
            PartialResultError: The result is partial and ``allow_partial_results`` was not set.
            ResultNotReadyError: The execution has not finished yet.
            ExecutionFailedError: It failed (likewise cancelled, expired).
            ResultChangedError: The result changed while being read.
            ResponseValidationError: A page does not fit ``row_type`` (sent once, not retried).
        """
        reader = await self._page_reader(page_size, concurrency, row_type=self._row_type)
        first = await reader.first_page()
        ranges = reader.plan(first)
        yield first
        # Pages wait as undecoded bodies and are decoded one at a time as the caller reaches
        # them: decoded rows take several times the bytes of their JSON, and holding a batch of
        # them at once is what would make a streaming read's memory a multiple of a page.
        batches = iter_in_batches(ranges, reader.prefetch, concurrency=concurrency)
        async with aclosing(batches):
            async for fetched in batches:
                pages = await reader.fetch_range(fetched.start, fetched.stop, fetched=fetched)
                while pages:
                    # Popped, so that no page outlives its turn here while the next is decoded.
                    yield pages.pop(0)

    async def rows(
        self, *, page_size: int | None = None, concurrency: int = STREAM_CONCURRENCY
    ) -> AsyncGenerator[RowT, None]:
        """Yield every row of the result, in order, in bounded memory.

        Takes the same arguments as ``pages`` and raises the same errors.
        """
        async with aclosing(self.pages(page_size=page_size, concurrency=concurrency)) as pages:
            async for page in pages:
                for row in page.rows:
                    yield row
                del page  # let the page go before the next one is decoded

    async def all(
        self, *, page_size: int | None = None, concurrency: int = DEFAULT_CONCURRENCY
    ) -> ExecutionResult[RowT]:
        """Return the whole result as one ``ExecutionResult``.

        Every row is in ``.rows`` (``.result.rows``), in order; ``next_offset`` and
        ``next_uri`` are None; the status fields are the execution's. In the metadata,
        ``row_count`` is the rows delivered, ``total_row_count`` what the server reported,
        ``datapoint_count`` and ``result_set_bytes`` describe the rows delivered. A partial
        result read with ``allow_partial_results=True`` says so in ``.is_partial``.

        Takes the same arguments as ``pages`` and raises the same errors; pages are fetched
        ``concurrency`` at a time while earlier ones are decoded.
        """
        reader = await self._page_reader(page_size, concurrency, row_type=self._row_type)
        first = await reader.first_page()
        rows: list[Any] = list(first.rows)
        sizes = [_page_bytes(first)]

        async def take(page: ExecutionResult[Any]) -> None:
            rows.extend(page.rows)
            sizes.append(_page_bytes(page))

        await run_in_order(reader.plan(first), reader.fetch_range, take, concurrency=concurrency)
        total = reader.shape.total
        if total is not None and len(rows) != total:
            raise ResultChangedError(
                f"{reader.source.description} delivered {len(rows)} rows, not its {total};"
                " read it again"
            )
        page_bytes = None if None in sizes else sum(s for s in sizes if s is not None)
        result = first.result or ResultData[Any]()
        merged = merge_metadata(result.metadata, len(rows), page_bytes)
        whole = msgspec.structs.replace(result, rows=rows, metadata=merged)
        return msgspec.structs.replace(first, result=whole, next_offset=None, next_uri=None)

    # -- CSV --------------------------------------------------------------------------------

    async def csv(
        self, *, page_size: int | None = None, concurrency: int = DEFAULT_CONCURRENCY
    ) -> AsyncGenerator[bytes, None]:
        """Yield the whole result as CSV bytes: the header once, then every row.

        One chunk per page; no more than ``concurrency`` pages are held at once. The CSV is the
        server's own (values as Dune writes them, e.g. ``4.474223e+06`` for large counts).
        Every page is read from the execution the first request found, so the chunks never mix
        two executions even if a newer one becomes the latest result meanwhile.
        """
        reader = await self._csv_reader(page_size, concurrency)
        async with aclosing(reader.chunks()) as chunks:
            async for chunk in chunks:
                yield chunk

    async def download(
        self,
        destination: Destination,
        *,
        page_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> CSVDownload:
        """Write the whole result as CSV to a file, in bounded memory.

        Args:
            destination: A path, written atomically (a temporary file beside it is renamed
                over it at the end, so a failure leaves no half file and an existing file
                untouched), or a binary file-like object, written as pages arrive.
            page_size: Rows per request (see ``pages``).
            concurrency: Most page requests in flight at once.

        Returns:
            What was written: rows, bytes, columns, the execution and whether it was partial.
        """
        reader = await self._csv_reader(page_size, concurrency)
        written, path = await write_atomically(destination, reader.run)
        probe = reader.probe
        return CSVDownload(
            execution_id=probe.execution_id if probe is not None else None,
            row_count=reader.rows_written,
            bytes_written=written,
            column_names=reader.column_names,
            is_partial=probe is not None and probe.is_partial,
            path=path,
        )

    # -- dataframes -------------------------------------------------------------------------

    async def polars(
        self, *, page_size: int | None = None, concurrency: int = DEFAULT_CONCURRENCY
    ) -> pl.DataFrame:
        """Return the whole result as a polars DataFrame, built page by page.

        Each page becomes a typed frame as soon as it arrives (see ``duneasync.to_polars`` for
        the type mapping), so the rows are never all held as Python objects. Needs
        ``duneasync[polars]``. Arguments and errors as for ``pages``.
        """
        chunks = await self._frames(page_size, concurrency, polars_frame)
        import polars

        frame: pl.DataFrame = polars.concat(chunks, how="vertical")
        return frame

    async def arrow(
        self, *, page_size: int | None = None, concurrency: int = DEFAULT_CONCURRENCY
    ) -> pa.Table:
        """Return the whole result as a ``pyarrow.Table``, built page by page.

        One record batch per page (see ``duneasync.to_arrow`` for the type mapping). Needs
        ``duneasync[arrow]``. Arguments and errors as for ``pages``.
        """
        chunks = await self._frames(page_size, concurrency, arrow_table)
        import pyarrow

        return pyarrow.concat_tables(chunks)

    # -- shared code ------------------------------------------------------------------------

    async def _current(self) -> ResultSource:
        """Return the source to read now: refreshed, or pinned, when ``max_age`` is set."""
        fresh = self._freshness
        if fresh is None:
            return self._source
        decode = decoding_results(None)
        params = {"limit": "1"}
        probe = await self._core.send(
            "GET", self._source.path, bucket="read", params=params, decode=decode
        )
        if is_stale(probe, fresh.max_age):
            return ResultSource.execution(await fresh.refresh(fresh.query_id))
        if probe.execution_id:
            # Fresh enough: read that very execution, so the age checked is the age read.
            return ResultSource.execution(probe.execution_id)
        return self._source

    async def _page_reader(
        self, page_size: int | None, concurrency: int, *, row_type: type[Any] | None = None
    ) -> PageReader:
        # The options are checked before the freshness probe, so that a bad one sends nothing.
        options = ReadOptions.check(self._filters, page_size=page_size, concurrency=concurrency)
        source = await self._current()
        return PageReader(self._core, source, row_type=row_type, options=options)

    async def _csv_reader(self, page_size: int | None, concurrency: int) -> CSVReader:
        options = ReadOptions.check(self._filters, page_size=page_size, concurrency=concurrency)
        return CSVReader(self._core, await self._current(), options=options)

    async def _frames(
        self,
        page_size: int | None,
        concurrency: int,
        build: Callable[[list[Any], list[str], list[str]], Any],
    ) -> list[Any]:
        # Frames are built from dict rows, whatever row_type the reader decodes into.
        reader = await self._page_reader(page_size, concurrency)
        first = await reader.first_page()
        metadata = first.metadata
        names = list(metadata.column_names) if metadata is not None else []
        types = list(metadata.column_types) if metadata is not None else []
        chunks = [build(first.rows, names, types)]

        async def take(page: ExecutionResult[Any]) -> None:
            chunks.append(build(page.rows, names, types))

        await run_in_order(reader.plan(first), reader.fetch_range, take, concurrency=concurrency)
        return chunks


def _page_bytes(page: ExecutionResult[Any]) -> int | None:
    metadata = page.metadata
    return metadata.result_set_bytes if metadata is not None else None
