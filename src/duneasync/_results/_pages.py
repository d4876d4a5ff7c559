"""Reading a whole JSON result page by page: the plan, and each range's pages.

How a read goes:

1. The first page is fetched alone. When the column count is not known yet, it asks for few
   rows (``PROBE_ROWS``) so that no column count can make it overflow the server's datapoint cap.
2. Its metadata gives the total row count and the column count, which fix the page size
   (``page_size_for``). The remaining rows are cut into ranges of one page each, lazily.
3. Ranges are fetched by offset, up to ``concurrency`` at once, and handed over strictly in order
   (``_flow``). A range the server answers with fewer rows than asked (it may lower ``limit``)
   is completed by further requests from where the server stopped, so rows are never skipped or
   repeated.
4. Every page is checked against the first: same execution, same state, same total and
   columns. A mismatch raises ``ResultChangedError`` instead of mixing two results.

Every request goes through ``RequestCore.read`` with its body check inside the one retry loop: a
body that is not whole JSON is re-sent there; a whole body that does not fit ``row_type`` is
one request and a ``ResponseValidationError``. Paging is by ``offset`` rather than by following
``next_uri``: the API key never goes anywhere but the configured origin, and pages can be
requested in parallel.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from .._core import Body, RequestCore
from .._decoding import decode_bytes, results_decoder
from .._errors import ResultChangedError
from .._models import ExecutionResult, ResultMetadata
from ._flow import Range
from ._source import PROBE_ROWS, ReadOptions, ResultSource, check_state

__all__ = ["Fetched", "PageReader", "merge_metadata"]

logger = logging.getLogger("duneasync")


class _Envelope(msgspec.Struct):
    """A results page with its rows left undecoded: decoding it proves the JSON whole."""

    result: msgspec.Raw = msgspec.Raw(b"null")


_ENVELOPE = msgspec.json.Decoder(_Envelope)


class Fetched:
    """A range's first body, checked whole but not decoded (see ``PageReader.prefetch``).

    Attributes:
        start: The range's first row.
        stop: The row after its last; None for the end of the result.
    """

    def __init__(self, start: int, stop: int | None, body: Body) -> None:
        self.start = start
        self.stop = stop
        self._body: Body | None = body

    def take(self) -> Body:
        """Hand over the body, and let go of it (it is taken once)."""
        body = self._body
        if body is None:
            raise RuntimeError("this body was already taken")  # pragma: no cover
        self._body = None
        return body


@dataclass
class _Shape:
    """What the first page told about the whole result."""

    first: ExecutionResult[Any]
    total: int | None
    column_names: list[str]


def _checked_whole(body: Body) -> Body:
    """Refuse a body that is not whole JSON, without decoding its rows (several times cheaper)."""
    content = body.content()
    try:
        _ENVELOPE.decode(content)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise body.error(str(exc)) from exc
    return Body(body.response, [content])


class PageReader:
    """Read one result as JSON pages, in parallel and in order.

    Args:
        core: Sends the requests (rate budget and the one retry loop included).
        source: The execution or query whose result is read.
        row_type: Decode rows into this type; dicts when None.
        options: The read's checked options (filters, page size, concurrency).
    """

    def __init__(
        self,
        core: RequestCore,
        source: ResultSource,
        *,
        row_type: type[Any] | None,
        options: ReadOptions,
    ) -> None:
        self._options = options
        self._params = options.params
        self.allow_partial = options.allow_partial
        self._core = core
        self.source = source
        self._decoder = results_decoder(row_type)
        columns = self._params.get("columns")
        self._known_columns = len(columns.split(",")) if columns else None
        self._shape: _Shape | None = None
        self.page_size = self._size(self._known_columns)

    def _size(self, columns: int | None) -> int:
        if columns is None:
            return min(self._options.page_size or PROBE_ROWS, PROBE_ROWS)
        return self._options.rows_per_page(columns)

    def _page_params(self, offset: int, limit: int) -> dict[str, str]:
        return {**self._params, "offset": str(offset), "limit": str(limit)}

    def _decode(self, body: Body) -> ExecutionResult[Any]:
        return decode_bytes(self._decoder, body.content(), body.response)

    async def _get(self, offset: int, limit: int) -> ExecutionResult[Any]:
        params = self._page_params(offset, limit)
        return await self._core.read(self.source.path, params=params, decode=self._decode)

    async def first_page(self) -> ExecutionResult[Any]:
        """Fetch the first page and learn the result's shape from it."""
        page = await self._get(0, self.page_size)
        check_state(page, self.source, allow_partial=self.allow_partial)
        metadata = page.metadata or ResultMetadata()
        self._shape = _Shape(page, metadata.total_row_count, list(metadata.column_names))
        if metadata.column_names:
            self.page_size = self._size(len(metadata.column_names))
        self._check_page(page, 0, None)
        return page

    @property
    def shape(self) -> _Shape:
        """The shape learnt from the first page."""
        if self._shape is None:
            raise RuntimeError("first_page() has not run")  # pragma: no cover
        return self._shape

    def plan(self, first: ExecutionResult[Any]) -> Iterator[Range]:
        """Cut the rows after the first page into one range per page, as they are asked for.

        Lazily: a total announced by the server is never turned into a list of its pages up
        front. Without a total row count the rest is one open range, read page after page.
        """
        if first.next_offset is None:
            return
        start = len(first.rows)
        total = self.shape.total
        if total is None:
            yield (start, None)
            return
        for lo in range(start, total, self.page_size):
            yield (lo, min(lo + self.page_size, total))

    def _check_page(self, page: ExecutionResult[Any], offset: int, stop: int | None) -> None:
        shape = self.shape
        first = shape.first
        what = self.source.description
        check_state(page, self.source, allow_partial=self.allow_partial)
        if page.execution_id != first.execution_id:
            raise ResultChangedError(
                f"{what} moved from execution {first.execution_id} to {page.execution_id} while"
                " it was being read; read it again"
            )
        metadata = page.metadata or ResultMetadata()
        if page.state != first.state or metadata.total_row_count != shape.total:
            raise ResultChangedError(
                f"{what} changed while being read (state {first.state} -> {page.state}, total"
                f" rows {shape.total} -> {metadata.total_row_count}); read it again"
            )
        if (
            metadata.column_names
            and shape.column_names
            and metadata.column_names != shape.column_names
        ):
            raise ResultChangedError(f"{what} changed columns while being read; read it again")
        rows = len(page.rows)
        end = offset + rows
        if page.next_offset is not None and page.next_offset != end:
            raise ResultChangedError(
                f"{what}: the page at offset {offset} holds {rows} rows but says the next starts"
                f" at {page.next_offset}; refusing to skip or repeat rows"
            )
        total = shape.total
        if page.next_offset is None and stop is not None and end < stop:
            raise ResultChangedError(
                f"{what} ended at row {end} although it has {total} rows; read it again"
            )
        if total is not None and end >= total and page.next_offset is not None:
            raise ResultChangedError(f"{what} has more rows than its total of {total}")

    def _limit(self, offset: int, stop: int | None) -> int:
        return self.page_size if stop is None else min(self.page_size, stop - offset)

    async def prefetch(self, start: int, stop: int | None) -> list[Fetched]:
        """Read the body of the first request of a range, checked whole but left undecoded.

        For streaming: bodies wait as bytes, several times smaller than decoded rows, and
        ``fetch_range(..., fetched=...)`` decodes each one only when its turn comes.
        """
        params = self._page_params(start, self._limit(start, stop))
        body = await self._core.read(self.source.path, params=params, decode=_checked_whole)
        return [Fetched(start, stop, body)]

    async def fetch_range(
        self, start: int, stop: int | None, *, fetched: Fetched | None = None
    ) -> list[ExecutionResult[Any]]:
        """Fetch rows ``[start, stop)`` (to the end if None) in as many pages as needed.

        Args:
            start: The first row.
            stop: The row after the last; None for the end of the result.
            fetched: The range's first body, read by ``prefetch``; its request is not re-sent.
        """
        pages: list[ExecutionResult[Any]] = []
        offset = start
        while stop is None or offset < stop:
            limit = self._limit(offset, stop)
            if fetched is not None:
                page = self._decode(fetched.take())
                fetched = None
            else:
                page = await self._get(offset, limit)
            if stop is not None and len(page.rows) > stop - offset and page.result is not None:
                # The server ignored the limit: keep only this range's rows, the next range
                # fetches the others.
                page = msgspec.structs.replace(
                    page,
                    result=msgspec.structs.replace(
                        page.result, rows=page.result.rows[: stop - offset]
                    ),
                    next_offset=stop,
                )
            self._check_page(page, offset, stop)
            if not page.rows:
                if page.next_offset is None and stop is None:
                    return pages
                raise ResultChangedError(
                    f"{self.source.description} returned no rows at offset {offset}; read it again"
                )
            pages.append(page)
            offset += len(page.rows)
            if page.next_offset is None:
                break
            if stop is not None and offset < stop:
                logger.debug(
                    "server returned %d of %d rows at %d: fetching the rest",
                    len(page.rows),
                    limit,
                    offset,
                )
        return pages


def merge_metadata(
    first: ResultMetadata | None, delivered: int, page_bytes: int | None
) -> ResultMetadata:
    """Describe a whole result read page by page.

    ``row_count`` is the rows delivered and ``datapoint_count`` follows from it; the totals are
    the server's; ``result_set_bytes`` is the sum of the pages' own sizes (None if a page had
    none). Nothing is summed that the server already gave as a total.
    """
    base = first or ResultMetadata()
    columns = len(base.column_names) if base.column_names else None
    return msgspec.structs.replace(
        base,
        row_count=delivered,
        datapoint_count=delivered * columns if columns is not None else None,
        result_set_bytes=page_bytes,
    )
