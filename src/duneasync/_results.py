"""Results at scale: every row of a result, in parallel pages, streamed or whole, JSON or CSV.

Each public method comes in two forms that share all their code: one for an execution
(``execution_id``) and one for the latest result of a saved query (``query_id``, no execution
credits). The engines live in ``_paging`` (JSON pages), ``_csv`` (CSV) and ``_frames``
(dataframes); this module only wires them to the client.

Streaming methods (``iter_*``) fetch ``concurrency`` pages at a time and leave no request
running while the caller holds a page, so breaking out of the loop is always safe. Whole-result
methods (``get_*``, ``download_csv``) keep ``concurrency`` requests in flight while they consume,
inside a task group that ends before they return.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, overload

import msgspec

from ._csv import CSVDownload, CSVReader, write_atomically
from ._errors import ResultChangedError
from ._frames import arrow_table, polars_frame
from ._models import ExecutionResult, ResultData
from ._paging import (
    DEFAULT_CONCURRENCY,
    STREAM_CONCURRENCY,
    PageReader,
    ResultSource,
    iter_in_batches,
    merge_metadata,
    run_in_order,
)

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa
    from typing_extensions import Unpack

    from ._options import ResultFilters
    from ._transport import Transport

__all__ = ["ResultsMixin"]

RowT = TypeVar("RowT")
Destination = str | os.PathLike[str] | BinaryIO


class ResultsMixin:
    """The result-reading methods of ``DuneClient`` (paging, streaming, CSV, dataframes)."""

    _transport: Transport

    # -- JSON pages -------------------------------------------------------------------------

    @overload
    def iter_result_pages(
        self,
        execution_id: str,
        *,
        row_type: None = None,
        page_size: int | None = None,
        concurrency: int = STREAM_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> AsyncGenerator[ExecutionResult[dict[str, Any]], None]: ...

    @overload
    def iter_result_pages(
        self,
        execution_id: str,
        *,
        row_type: type[RowT],
        page_size: int | None = None,
        concurrency: int = STREAM_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> AsyncGenerator[ExecutionResult[RowT], None]: ...

    async def iter_result_pages(
        self,
        execution_id: str,
        *,
        row_type: type[Any] | None = None,
        page_size: int | None = None,
        concurrency: int = STREAM_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> AsyncGenerator[ExecutionResult[Any], None]:
        """Yield every page of an execution's result, in order, fetching pages in parallel.

        The first page tells the row and column counts; the rest are then requested by offset,
        ``concurrency`` at a time, and yielded strictly in row order. Each page is decoded only
        when its turn comes: memory holds ``concurrency`` undecoded bodies and one decoded page,
        whatever the size of the result. Every row is yielded exactly once, even when requests
        fail and are retried or the server returns fewer rows than asked.

        Args:
            execution_id: The execution.
            row_type: Decode rows straight into this type (a msgspec Struct, a TypedDict, a
                dataclass, a tuple type) in the same pass as the JSON; dicts by default.
            page_size: Rows per request. By default the most that fits the server's
                250,000-datapoint cap for the result's column count.
            concurrency: Most page requests in flight at once (all share the rate budget).
                Memory holds that many undecoded page bodies plus the page being read.
            **filters: ``columns``, ``filters``, ``sort_by``, ``allow_partial_results``,
                ``ignore_max_datapoints_per_request`` (see ``ResultFilters``).

        Raises:
            PartialResultError: The result is partial and ``allow_partial_results`` was not set.
            ResultNotReadyError: The execution has not finished yet.
            ExecutionFailedError: It failed (likewise cancelled, expired).
            ResultChangedError: The result changed while being read.
        """
        source = ResultSource.execution(execution_id)
        async with aclosing(
            self._pages(source, row_type, page_size, concurrency, filters)
        ) as pages:
            async for page in pages:
                yield page

    @overload
    def iter_latest_result_pages(
        self,
        query_id: int,
        *,
        row_type: None = None,
        page_size: int | None = None,
        concurrency: int = STREAM_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> AsyncGenerator[ExecutionResult[dict[str, Any]], None]: ...

    @overload
    def iter_latest_result_pages(
        self,
        query_id: int,
        *,
        row_type: type[RowT],
        page_size: int | None = None,
        concurrency: int = STREAM_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> AsyncGenerator[ExecutionResult[RowT], None]: ...

    async def iter_latest_result_pages(
        self,
        query_id: int,
        *,
        row_type: type[Any] | None = None,
        page_size: int | None = None,
        concurrency: int = STREAM_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> AsyncGenerator[ExecutionResult[Any], None]:
        """Yield every page of the latest result of a saved query (see ``iter_result_pages``).

        Raises:
            ResultChangedError: A newer execution became the latest result while it was read.
        """
        source = ResultSource.latest(query_id)
        async with aclosing(
            self._pages(source, row_type, page_size, concurrency, filters)
        ) as pages:
            async for page in pages:
                yield page

    # -- rows -------------------------------------------------------------------------------

    @overload
    def iter_rows(
        self,
        execution_id: str,
        *,
        row_type: None = None,
        page_size: int | None = None,
        concurrency: int = STREAM_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> AsyncGenerator[dict[str, Any], None]: ...

    @overload
    def iter_rows(
        self,
        execution_id: str,
        *,
        row_type: type[RowT],
        page_size: int | None = None,
        concurrency: int = STREAM_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> AsyncGenerator[RowT, None]: ...

    async def iter_rows(
        self,
        execution_id: str,
        *,
        row_type: type[Any] | None = None,
        page_size: int | None = None,
        concurrency: int = STREAM_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> AsyncGenerator[Any, None]:
        """Yield every row of an execution's result, in order, in bounded memory.

        Takes the same arguments as ``iter_result_pages`` and raises the same errors.
        """
        source = ResultSource.execution(execution_id)
        async with aclosing(self._rows(source, row_type, page_size, concurrency, filters)) as rows:
            async for row in rows:
                yield row

    @overload
    def iter_latest_rows(
        self,
        query_id: int,
        *,
        row_type: None = None,
        page_size: int | None = None,
        concurrency: int = STREAM_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> AsyncGenerator[dict[str, Any], None]: ...

    @overload
    def iter_latest_rows(
        self,
        query_id: int,
        *,
        row_type: type[RowT],
        page_size: int | None = None,
        concurrency: int = STREAM_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> AsyncGenerator[RowT, None]: ...

    async def iter_latest_rows(
        self,
        query_id: int,
        *,
        row_type: type[Any] | None = None,
        page_size: int | None = None,
        concurrency: int = STREAM_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> AsyncGenerator[Any, None]:
        """Yield every row of the latest result of a saved query (see ``iter_rows``)."""
        source = ResultSource.latest(query_id)
        async with aclosing(self._rows(source, row_type, page_size, concurrency, filters)) as rows:
            async for row in rows:
                yield row

    # -- whole results ----------------------------------------------------------------------

    @overload
    async def get_all_results(
        self,
        execution_id: str,
        *,
        row_type: None = None,
        page_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> ExecutionResult[dict[str, Any]]: ...

    @overload
    async def get_all_results(
        self,
        execution_id: str,
        *,
        row_type: type[RowT],
        page_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> ExecutionResult[RowT]: ...

    async def get_all_results(
        self,
        execution_id: str,
        *,
        row_type: type[Any] | None = None,
        page_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> ExecutionResult[Any]:
        """Return an execution's whole result as one ``ExecutionResult``.

        Every row is in ``.rows`` (``.result.rows``), in order; ``next_offset`` and
        ``next_uri`` are None; the status fields are the execution's. In the metadata,
        ``row_count`` is the rows delivered, ``total_row_count`` what the server reported,
        ``datapoint_count`` and ``result_set_bytes`` describe the rows delivered. A partial
        result read with ``allow_partial_results=True`` says so in ``.is_partial``.

        Takes the same arguments as ``iter_result_pages`` and raises the same errors; pages
        are fetched ``concurrency`` at a time while earlier ones are decoded.
        """
        source = ResultSource.execution(execution_id)
        return await self._all(source, row_type, page_size, concurrency, filters)

    @overload
    async def get_all_latest_results(
        self,
        query_id: int,
        *,
        row_type: None = None,
        page_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> ExecutionResult[dict[str, Any]]: ...

    @overload
    async def get_all_latest_results(
        self,
        query_id: int,
        *,
        row_type: type[RowT],
        page_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> ExecutionResult[RowT]: ...

    async def get_all_latest_results(
        self,
        query_id: int,
        *,
        row_type: type[Any] | None = None,
        page_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> ExecutionResult[Any]:
        """Return the whole latest result of a saved query (see ``get_all_results``)."""
        source = ResultSource.latest(query_id)
        return await self._all(source, row_type, page_size, concurrency, filters)

    # -- CSV --------------------------------------------------------------------------------

    async def iter_csv(
        self,
        execution_id: str,
        *,
        page_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> AsyncGenerator[bytes, None]:
        """Yield an execution's whole result as CSV bytes: the header once, then every row.

        One chunk per page; no more than ``concurrency`` pages are held at once. The CSV is the
        server's own (values as Dune writes them, e.g. ``4.474223e+06`` for large counts).
        Arguments and errors as for ``iter_result_pages``.
        """
        reader = self._csv_reader(
            ResultSource.execution(execution_id), page_size, concurrency, filters
        )
        async with aclosing(reader.chunks()) as chunks:
            async for chunk in chunks:
                yield chunk

    async def iter_latest_csv(
        self,
        query_id: int,
        *,
        page_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> AsyncGenerator[bytes, None]:
        """Yield the latest result of a saved query as CSV bytes (see ``iter_csv``).

        Every page is read from the execution the first request found, so the chunks never mix
        two executions even if a newer one becomes the latest meanwhile.
        """
        reader = self._csv_reader(ResultSource.latest(query_id), page_size, concurrency, filters)
        async with aclosing(reader.chunks()) as chunks:
            async for chunk in chunks:
                yield chunk

    async def download_csv(
        self,
        execution_id: str,
        destination: Destination,
        *,
        page_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> CSVDownload:
        """Write an execution's whole result as CSV to a file, in bounded memory.

        Args:
            execution_id: The execution.
            destination: A path, written atomically (a temporary file beside it is renamed
                over it at the end, so a failure leaves no half file and an existing file
                untouched), or a binary file-like object, written as pages arrive.
            page_size: Rows per request (see ``iter_result_pages``).
            concurrency: Most page requests in flight at once.
            **filters: As for ``iter_result_pages``.

        Returns:
            What was written: rows, bytes, columns, the execution and whether it was partial.
        """
        source = ResultSource.execution(execution_id)
        return await self._download(source, destination, page_size, concurrency, filters)

    async def download_latest_csv(
        self,
        query_id: int,
        destination: Destination,
        *,
        page_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> CSVDownload:
        """Write the latest result of a saved query as CSV (see ``download_csv``)."""
        source = ResultSource.latest(query_id)
        return await self._download(source, destination, page_size, concurrency, filters)

    # -- dataframes -------------------------------------------------------------------------

    async def get_polars(
        self,
        execution_id: str,
        *,
        page_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> pl.DataFrame:
        """Return an execution's whole result as a polars DataFrame, built page by page.

        Each page becomes a typed frame as soon as it arrives (see ``duneasync.to_polars`` for
        the type mapping), so the rows are never all held as Python objects. Needs
        ``duneasync[polars]``. Arguments and errors as for ``iter_result_pages``.
        """
        return await self._polars(
            ResultSource.execution(execution_id), page_size, concurrency, filters
        )

    async def get_latest_polars(
        self,
        query_id: int,
        *,
        page_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> pl.DataFrame:
        """Return the latest result of a saved query as a polars DataFrame (see ``get_polars``)."""
        return await self._polars(ResultSource.latest(query_id), page_size, concurrency, filters)

    async def get_arrow(
        self,
        execution_id: str,
        *,
        page_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> pa.Table:
        """Return an execution's whole result as a ``pyarrow.Table``, built page by page.

        One record batch per page (see ``duneasync.to_arrow`` for the type mapping). Needs
        ``duneasync[arrow]``. Arguments and errors as for ``iter_result_pages``.
        """
        return await self._arrow(
            ResultSource.execution(execution_id), page_size, concurrency, filters
        )

    async def get_latest_arrow(
        self,
        query_id: int,
        *,
        page_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **filters: Unpack[ResultFilters],
    ) -> pa.Table:
        """Return the latest result of a saved query as a ``pyarrow.Table`` (see ``get_arrow``)."""
        return await self._arrow(ResultSource.latest(query_id), page_size, concurrency, filters)

    # -- shared code ------------------------------------------------------------------------

    def _reader(
        self,
        source: ResultSource,
        row_type: type[Any] | None,
        page_size: int | None,
        concurrency: int,
        filters: ResultFilters,
    ) -> PageReader:
        return PageReader(
            self._transport,
            source,
            row_type=row_type,
            filters=dict(filters),
            page_size=page_size,
            concurrency=concurrency,
        )

    def _csv_reader(
        self, source: ResultSource, page_size: int | None, concurrency: int, filters: ResultFilters
    ) -> CSVReader:
        return CSVReader(
            self._transport,
            source,
            filters=dict(filters),
            page_size=page_size,
            concurrency=concurrency,
        )

    async def _pages(
        self,
        source: ResultSource,
        row_type: type[Any] | None,
        page_size: int | None,
        concurrency: int,
        filters: ResultFilters,
    ) -> AsyncGenerator[ExecutionResult[Any], None]:
        reader = self._reader(source, row_type, page_size, concurrency, filters)
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

    async def _rows(
        self,
        source: ResultSource,
        row_type: type[Any] | None,
        page_size: int | None,
        concurrency: int,
        filters: ResultFilters,
    ) -> AsyncGenerator[Any, None]:
        async with aclosing(
            self._pages(source, row_type, page_size, concurrency, filters)
        ) as pages:
            async for page in pages:
                for row in page.rows:
                    yield row
                del page  # let the page go before the next one is decoded

    async def _all(
        self,
        source: ResultSource,
        row_type: type[Any] | None,
        page_size: int | None,
        concurrency: int,
        filters: ResultFilters,
    ) -> ExecutionResult[Any]:
        reader = self._reader(source, row_type, page_size, concurrency, filters)
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
                f"{source.description} delivered {len(rows)} rows, not its {total}; read it again"
            )
        page_bytes = None if None in sizes else sum(s for s in sizes if s is not None)
        result = first.result or ResultData[Any]()
        merged = merge_metadata(result.metadata, len(rows), page_bytes)
        whole = msgspec.structs.replace(result, rows=rows, metadata=merged)
        return msgspec.structs.replace(first, result=whole, next_offset=None, next_uri=None)

    async def _download(
        self,
        source: ResultSource,
        destination: Destination,
        page_size: int | None,
        concurrency: int,
        filters: ResultFilters,
    ) -> CSVDownload:
        reader = self._csv_reader(source, page_size, concurrency, filters)
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

    async def _frames(
        self,
        source: ResultSource,
        page_size: int | None,
        concurrency: int,
        filters: ResultFilters,
        build: Any,
    ) -> list[Any]:
        reader = self._reader(source, None, page_size, concurrency, filters)
        first = await reader.first_page()
        metadata = first.metadata
        names = list(metadata.column_names) if metadata is not None else []
        types = list(metadata.column_types) if metadata is not None else []
        chunks = [build(first.rows, names, types)]

        async def take(page: ExecutionResult[Any]) -> None:
            chunks.append(build(page.rows, names, types))

        await run_in_order(reader.plan(first), reader.fetch_range, take, concurrency=concurrency)
        return chunks

    async def _polars(
        self, source: ResultSource, page_size: int | None, concurrency: int, filters: ResultFilters
    ) -> pl.DataFrame:
        chunks = await self._frames(source, page_size, concurrency, filters, polars_frame)
        import polars

        frame: pl.DataFrame = polars.concat(chunks, how="vertical")
        return frame

    async def _arrow(
        self, source: ResultSource, page_size: int | None, concurrency: int, filters: ResultFilters
    ) -> pa.Table:
        chunks = await self._frames(source, page_size, concurrency, filters, arrow_table)
        import pyarrow

        return pyarrow.concat_tables(chunks)


def _page_bytes(page: ExecutionResult[Any]) -> int | None:
    metadata = page.metadata
    return metadata.result_set_bytes if metadata is not None else None
