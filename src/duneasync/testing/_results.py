"""Results paging: the query-string options, the server-side caps, and the JSON and CSV bodies."""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import msgspec

from duneasync.testing._filters import (
    FilterError,
    apply_filters,
    apply_sort,
    parse_filters,
    parse_sort,
)
from duneasync.testing._tables import Table

__all__ = [
    "DATAPOINT_CAP",
    "BadRequestError",
    "Page",
    "ResultOptions",
    "build_page",
    "parse_options",
]

DATAPOINT_CAP = 250_000
"""Dune answers at most this many datapoints (rows x columns) per response by default."""

_ENCODER = msgspec.json.Encoder()
_TRUE = ("true", "1")
_FALSE = ("false", "0")


class BadRequestError(ValueError):
    """A request the fake answers with 400 and this message."""


@dataclass(frozen=True)
class ResultOptions:
    """The query-string options of every results call, validated."""

    limit: int | None = None
    offset: int | None = None
    columns: tuple[str, ...] | None = None
    sample_count: int | None = None
    filters: str | None = None
    sort_by: str | None = None
    allow_partial_results: bool = False
    ignore_max_datapoints_per_request: bool = False

    def next_query(self, next_offset: int) -> str:
        """Return the query string of the next page: these options at `next_offset`."""
        pairs: list[tuple[str, str]] = [("offset", str(next_offset))]
        if self.limit is not None:
            pairs.append(("limit", str(self.limit)))
        if self.columns is not None:
            pairs.append(("columns", ",".join(self.columns)))
        if self.filters is not None:
            pairs.append(("filters", self.filters))
        if self.sort_by is not None:
            pairs.append(("sort_by", self.sort_by))
        if self.allow_partial_results:
            pairs.append(("allow_partial_results", "true"))
        if self.ignore_max_datapoints_per_request:
            pairs.append(("ignore_max_datapoints_per_request", "true"))
        return urlencode(pairs)


def _int(query: Mapping[str, str], name: str, minimum: int) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"{name} must be an integer") from None
    if value < minimum:
        raise BadRequestError(f"{name} must be at least {minimum}")
    return value


def _bool(query: Mapping[str, str], name: str) -> bool:
    raw = query.get(name)
    if raw is None:
        return False
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise BadRequestError(f"{name} must be true or false")


def parse_options(query: Mapping[str, str]) -> ResultOptions:
    """Validate the results options of a request.

    Raises:
        BadRequestError: On a malformed value, or `sample_count` combined with
            `limit`, `offset` or `filters`.
    """
    columns_raw = query.get("columns")
    columns = None
    if columns_raw is not None:
        columns = tuple(name.strip() for name in columns_raw.split(","))
        if not all(columns):
            raise BadRequestError("columns must be a comma-separated list of column names")
    options = ResultOptions(
        limit=_int(query, "limit", 1),
        offset=_int(query, "offset", 0),
        columns=columns,
        sample_count=_int(query, "sample_count", 1),
        filters=query.get("filters") or None,
        sort_by=query.get("sort_by") or None,
        allow_partial_results=_bool(query, "allow_partial_results"),
        ignore_max_datapoints_per_request=_bool(query, "ignore_max_datapoints_per_request"),
    )
    if options.sample_count is not None and (
        options.limit is not None or options.offset is not None or options.filters is not None
    ):
        raise BadRequestError("sample_count cannot be combined with limit, offset or filters")
    return options


@dataclass(frozen=True)
class Page:
    """One page of a result: which rows and columns, and where the next page starts."""

    table: Table
    positions: list[int]
    indices: Sequence[int]
    total_rows: int
    next_offset: int | None

    @property
    def names(self) -> list[str]:
        """Return the selected column names, in answer order."""
        return [self.table.columns[j].name for j in self.positions]

    def metadata(self, pending_millis: int, execution_millis: int) -> dict[str, object]:
        """Return `result.metadata` for this page."""
        cols = [self.table.columns[j] for j in self.positions]
        per_row = sum(self.table.column_bytes[j] for j in self.positions)
        header = sum(len(c.name) for c in cols)
        return {
            "column_names": [c.name for c in cols],
            "column_types": [c.type for c in cols],
            "row_count": len(self.indices),
            "total_row_count": self.total_rows,
            "result_set_bytes": header + round(per_row * len(self.indices)),
            "total_result_set_bytes": header + round(per_row * self.total_rows),
            "datapoint_count": len(self.indices) * len(cols),
            "pending_time_millis": pending_millis,
            "execution_time_millis": execution_millis,
        }

    def _columns(self) -> list[list[object]]:
        return [self.table.column_values(j, self.indices) for j in self.positions]

    def json_rows(self) -> list[msgspec.Struct]:
        """Return the page's rows, encoding as the JSON objects Dune sends.

        Rows are Structs of a type made for these column names: building and encoding them is
        several times faster than dicts, which matters for pages of forty thousand rows.
        """
        row_type = _row_type(tuple(self.names))
        return [row_type(*values) for values in zip(*self._columns(), strict=True)]

    def csv_body(self) -> bytes:
        """Return the page as CSV: a header line, then one line per row."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.names)
        columns = self._columns()
        for k, j in enumerate(self.positions):
            kind = self.table.columns[j].type
            if kind == "boolean" or kind.startswith("array("):
                columns[k] = [_csv_cell(v) for v in columns[k]]
        writer.writerows(zip(*columns, strict=True))
        return out.getvalue().encode()


@functools.lru_cache(maxsize=64)
def _row_type(names: tuple[str, ...]) -> type[msgspec.Struct]:
    fields = [f"c{j}" for j in range(len(names))]
    return msgspec.defstruct(
        "Row",
        fields,
        rename=dict(zip(fields, names, strict=True)),
        array_like=False,
        forbid_unknown_fields=False,
    )


def _csv_cell(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return _ENCODER.encode(value).decode()
    return value


def _positions(table: Table, columns: tuple[str, ...] | None) -> list[int]:
    if columns is None:
        return list(range(len(table.columns)))
    known = {c.name: j for j, c in enumerate(table.columns)}
    unknown = [name for name in columns if name not in known]
    if unknown:
        raise BadRequestError(f"unknown columns: {', '.join(unknown)}")
    return [known[name] for name in columns]


def build_page(table: Table, options: ResultOptions, *, max_page_rows: int | None) -> Page:
    """Pick the rows and columns of one response, applying the server's caps.

    A page holds at most `limit` rows (all remaining rows if no limit), never more than
    `max_page_rows`, and unless `ignore_max_datapoints_per_request` never more than
    `DATAPOINT_CAP // columns` rows.

    Raises:
        BadRequestError: On an unknown column, an unsupported filter or sort, or a sample larger
            than the datapoint cap.
    """
    positions = _positions(table, options.columns)
    try:
        view: Sequence[int] = range(len(table))
        if options.filters is not None:
            view = apply_filters(table, parse_filters(options.filters, table.columns))
        if options.sort_by is not None:
            view = apply_sort(table, view, parse_sort(options.sort_by, table.columns))
    except FilterError as exc:
        raise BadRequestError(str(exc)) from exc
    total = len(view)
    cap = None if options.ignore_max_datapoints_per_request else DATAPOINT_CAP // len(positions)
    if options.sample_count is not None:
        k = min(options.sample_count, total)
        if cap is not None and k > cap:
            raise BadRequestError(
                f"sample_count exceeds the {DATAPOINT_CAP} datapoints per request"
            )
        picked = [view[(n * total) // k] for n in range(k)]
        return Page(table, positions, picked, total, None)
    size = total if options.limit is None else options.limit
    for bound in (cap, max_page_rows):
        if bound is not None:
            size = min(size, bound)
    start = min(options.offset or 0, total)
    stop = min(start + size, total)
    next_offset = stop if stop < total else None
    return Page(table, positions, view[start:stop], total, next_offset)


def encode_json(body: Mapping[str, object]) -> bytes:
    """Encode a response body with the shared encoder."""
    return _ENCODER.encode(body)
