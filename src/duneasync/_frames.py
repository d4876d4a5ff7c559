"""Results as dataframes: Dune's column types mapped to the nearest exact polars and Arrow types.

=========================================  ===========================  ===================
Dune type                                  polars                       Arrow
=========================================  ===========================  ===================
``varchar``, ``char(n)``                   ``String``                   ``string``
``bigint``, ``integer``                    ``Int64``, ``Int32``         ``int64``, ``int32``
``smallint``, ``tinyint``                  ``Int16``, ``Int8``          ``int16``, ``int8``
``double``, ``real``                       ``Float64``, ``Float32``     ``float64``, ``float32``
``boolean``                                ``Boolean``                  ``bool``
``date``                                   ``Date``                     ``date32``
``timestamp(p) with time zone``            ``Datetime("us", "UTC")``    ``timestamp[us, UTC]``
``timestamp(p)``                           ``Datetime("us")``           ``timestamp[us]``
``array(T)``                               ``List(T)``                  ``list<T>``
``uint256``, ``int256``, ``varbinary``,    ``String``                   ``string``
``decimal``, ``json``, anything else
=========================================  ===========================  ===================

Types with no lossless equivalent stay strings: 256-bit integers do not fit 64 or 128 bits,
``varbinary`` arrives as ``0x`` hex text, and a value that is not a string already (a 256-bit
number, a map) is written as its JSON text, so nothing is rounded or dropped.

polars and pyarrow are optional (``duneasync[polars]``, ``duneasync[arrow]``) and imported only
when a frame is asked for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from ._errors import ConfigurationError

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from ._models import ExecutionResult

__all__ = ["DuneType", "arrow_table", "parse_dune_type", "polars_frame", "to_arrow", "to_polars"]

_INTEGERS = {
    "bigint": "int64",
    "integer": "int32",
    "int": "int32",
    "smallint": "int16",
    "tinyint": "int8",
}
_FLOATS = {"double": "float64", "real": "float32"}
_ARRAY = re.compile(r"array\((?P<inner>.*)\)")
_TIMESTAMP = re.compile(r"timestamp(\(\d+\))?(?P<tz> with time zone)?")
_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True)
class DuneType:
    """A Dune column type reduced to what a frame needs.

    Attributes:
        kind: ``string``, ``int8`` ... ``int64``, ``float32``, ``float64``, ``bool``, ``date``,
            ``timestamp``, ``timestamptz``, ``list``, or ``text`` (no lossless equivalent: kept as
            text).
        inner: The element type of a ``list``.
    """

    kind: str
    inner: DuneType | None = None


def parse_dune_type(name: str) -> DuneType:
    """Map a Dune (Trino) type name to its frame kind; an unknown type becomes ``text``."""
    text = " ".join(name.strip().lower().split())
    if text == "varchar" or text.startswith(("varchar(", "char(")) or text == "char":
        return DuneType("string")
    if text in _INTEGERS:
        return DuneType(_INTEGERS[text])
    if text in _FLOATS:
        return DuneType(_FLOATS[text])
    if text == "boolean":
        return DuneType("bool")
    if text == "date":
        return DuneType("date")
    found = _TIMESTAMP.fullmatch(text)
    if found is not None:
        return DuneType("timestamptz" if found.group("tz") else "timestamp")
    found = _ARRAY.fullmatch(text)
    if found is not None:
        return DuneType("list", parse_dune_type(found.group("inner")))
    return DuneType("text")


def _as_text(values: Sequence[Any]) -> list[str | None]:
    return [v if isinstance(v, str) or v is None else _ENCODER.encode(v).decode() for v in values]


def _prepare(kind: DuneType, values: Sequence[Any]) -> list[Any]:
    """Turn JSON values into what the frame library builds from (text kinds become strings)."""
    if kind.kind == "text":
        return _as_text(values)
    if kind.kind == "list" and kind.inner is not None:
        inner = kind.inner
        return [None if v is None else _prepare(inner, v) for v in values]
    return list(values)


def _columns(rows: Sequence[Any], names: Sequence[str]) -> list[list[Any]]:
    if not rows:
        return [[] for _ in names]
    if isinstance(rows[0], msgspec.Struct):
        rows = [msgspec.structs.asdict(row) for row in rows]
    elif not isinstance(rows[0], Mapping):
        raise ConfigurationError("frames are built from dict or msgspec.Struct rows")
    return [[row.get(name) for row in rows] for name in names]


def _names_and_types(
    metadata_names: Sequence[str], metadata_types: Sequence[str], rows: Sequence[Any]
) -> tuple[list[str], list[DuneType]]:
    names = list(metadata_names)
    if not names and rows:
        first = rows[0]
        names = list(msgspec.structs.asdict(first) if isinstance(first, msgspec.Struct) else first)
    types = [parse_dune_type(t) for t in metadata_types]
    if len(types) != len(names):
        types = [DuneType("inferred")] * len(names)
    return names, types


# -- polars ----------------------------------------------------------------------------------


def _import_polars() -> Any:
    try:
        import polars
    except ImportError as exc:
        raise ImportError("to_polars needs polars: pip install 'duneasync[polars]'") from exc
    return polars


def _polars_dtype(pl: Any, kind: DuneType) -> Any:
    simple = {
        "string": pl.String,
        "text": pl.String,
        "int8": pl.Int8,
        "int16": pl.Int16,
        "int32": pl.Int32,
        "int64": pl.Int64,
        "float32": pl.Float32,
        "float64": pl.Float64,
        "bool": pl.Boolean,
        "date": pl.Date,
        "timestamp": pl.Datetime("us"),
        "timestamptz": pl.Datetime("us", "UTC"),
    }
    if kind.kind == "list" and kind.inner is not None:
        return pl.List(_polars_dtype(pl, kind.inner))
    return simple.get(kind.kind)


def _polars_parse(pl: Any, expr: Any, kind: DuneType) -> Any:
    """Return an expression that turns the raw column (text for temporal kinds) into ``kind``."""
    if kind.kind == "date":
        return expr.str.slice(0, 10).str.to_date("%Y-%m-%d")
    if kind.kind in ("timestamp", "timestamptz"):
        zone = "UTC" if kind.kind == "timestamptz" else None
        return expr.str.replace(r" UTC$", "Z").str.to_datetime(time_unit="us", time_zone=zone)
    if (
        kind.kind == "list"
        and kind.inner is not None
        and kind.inner.kind in ("date", "timestamp", "timestamptz", "list")
    ):
        return expr.list.eval(_polars_parse(pl, pl.element(), kind.inner))
    return expr


def _raw_polars_dtype(pl: Any, kind: DuneType) -> Any:
    if kind.kind in ("date", "timestamp", "timestamptz"):
        return pl.String
    if kind.kind == "list" and kind.inner is not None:
        return pl.List(_raw_polars_dtype(pl, kind.inner))
    return _polars_dtype(pl, kind)


def polars_frame(
    rows: Sequence[Any], column_names: Sequence[str], column_types: Sequence[str]
) -> pl.DataFrame:
    """Build a polars DataFrame from rows, typed from Dune's column types (see the module table)."""
    pl = _import_polars()
    names, types = _names_and_types(column_names, column_types, rows)
    series: list[Any] = []
    for name, kind, values in zip(names, types, _columns(rows, names), strict=True):
        if kind.kind == "inferred":
            series.append(pl.Series(name, values))
            continue
        raw = pl.Series(
            name, _prepare(kind, values), dtype=_raw_polars_dtype(pl, kind), strict=True
        )
        series.append(raw)
    frame = pl.DataFrame(series)
    parsed = [
        _polars_parse(pl, pl.col(name), kind).alias(name)
        for name, kind in zip(names, types, strict=False)
        if kind.kind != "inferred" and _raw_polars_dtype(pl, kind) != _polars_dtype(pl, kind)
    ]
    return frame.with_columns(parsed) if parsed else frame  # type: ignore[no-any-return]


def to_polars(result: ExecutionResult[Any]) -> pl.DataFrame:
    """Return a whole result (e.g. from ``dune.results(id).all()``) as a polars DataFrame.

    Columns are typed from ``result.metadata.column_types`` (see the module's table); rows may
    be dicts or msgspec Structs.
    """
    metadata = result.metadata
    names = metadata.column_names if metadata is not None else []
    types = metadata.column_types if metadata is not None else []
    return polars_frame(result.rows, names, types)


# -- Arrow -----------------------------------------------------------------------------------


def _import_arrow() -> Any:
    try:
        import pyarrow
    except ImportError as exc:
        raise ImportError("to_arrow needs pyarrow: pip install 'duneasync[arrow]'") from exc
    return pyarrow


def _arrow_type(pa: Any, kind: DuneType) -> Any:
    simple = {
        "string": pa.string(),
        "text": pa.string(),
        "int8": pa.int8(),
        "int16": pa.int16(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "float32": pa.float32(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us"),
        "timestamptz": pa.timestamp("us", tz="UTC"),
    }
    if kind.kind == "list" and kind.inner is not None:
        return pa.list_(_arrow_type(pa, kind.inner))
    return simple.get(kind.kind)


def _arrow_text(value: str) -> str:
    # Dune writes "2024-01-01 00:00:12.000 UTC"; Arrow's parser reads an ISO zone designator.
    return value[:-4] + "Z" if value.endswith(" UTC") else value


def _arrow_array(pa: Any, kind: DuneType, values: Sequence[Any]) -> Any:
    if kind.kind == "date":
        return pa.array([None if v is None else v[:10] for v in values], pa.string()).cast(
            pa.date32()
        )
    if kind.kind in ("timestamp", "timestamptz"):
        text = pa.array([None if v is None else _arrow_text(v) for v in values], pa.string())
        if kind.kind == "timestamp":
            return text.cast(pa.timestamp("us"))
        return text.cast(pa.timestamp("us", tz="UTC"))
    if kind.kind == "list" and kind.inner is not None:
        inner = kind.inner
        flat = [item for v in values if v is not None for item in v]
        offsets = [0]
        for v in values:
            offsets.append(offsets[-1] + (len(v) if v is not None else 0))
        mask = pa.array([v is None for v in values], pa.bool_())
        return pa.ListArray.from_arrays(
            pa.array(offsets, pa.int32()), _arrow_array(pa, inner, flat), mask=mask
        )
    return pa.array(_prepare(kind, values), _arrow_type(pa, kind))


def arrow_table(
    rows: Sequence[Any], column_names: Sequence[str], column_types: Sequence[str]
) -> pa.Table:
    """Build an Arrow table from rows, typed from Dune's column types (see the module table)."""
    arrow = _import_arrow()
    names, types = _names_and_types(column_names, column_types, rows)
    arrays = [
        arrow.array(values) if kind.kind == "inferred" else _arrow_array(arrow, kind, values)
        for kind, values in zip(types, _columns(rows, names), strict=True)
    ]
    table: pa.Table = arrow.Table.from_arrays(arrays, names=names)
    return table


def to_arrow(result: ExecutionResult[Any]) -> pa.Table:
    """Return a whole result (e.g. from ``dune.results(id).all()``) as a ``pyarrow.Table``.

    Columns are typed from ``result.metadata.column_types`` (see the module's table); rows may
    be dicts or msgspec Structs.
    """
    metadata = result.metadata
    names = metadata.column_names if metadata is not None else []
    types = metadata.column_types if metadata is not None else []
    return arrow_table(result.rows, names, types)
