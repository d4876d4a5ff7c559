"""Result tables the fake serves: explicit rows, or rows computed on demand from their index.

A generated table stores nothing per row: row `i` is a pure function of `(seed, column, i)`, so a
five-million-row result costs the fake a few hundred bytes and any page of it can be built
directly, in any order, from any thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

__all__ = ["SAMPLE_COLUMNS", "Column", "Table"]

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX = 0xBF58476D1CE4E5B9
_SYMBOLS = ("WETH", "USDC", "DAI", "WBTC", "UNI", "LINK", "AAVE", "MKR", "CRV", "LDO", "ARB", "OP")
_BASE_DAY = date(2024, 1, 1)
_SECONDS_PER_ROW = 12
_PERIOD = 1 << 16
_BLOCK = 1 << 12
_NUMERIC_PREFIXES = ("bigint", "integer", "int", "smallint", "tinyint", "double", "real")
_NUMERIC_PREFIXES_WIDE = ("decimal", "uint256", "int256")


@dataclass(frozen=True)
class Column:
    """One result column: its name and its Dune (Trino) type name.

    Attributes:
        name: The column name as it appears in `column_names` and in every row.
        type: The Dune type, e.g. `varchar`, `bigint`, `double`, `boolean`, `date`,
            `timestamp with time zone`, `uint256`, `varbinary`, `array(varchar)`.
        null_fraction: For generated tables only, the share of rows whose value is null.
    """

    name: str
    type: str
    null_fraction: float = 0.0

    @property
    def is_numeric(self) -> bool:
        """Whether filters compare this column's values with number literals."""
        return self.type.startswith(_NUMERIC_PREFIXES + _NUMERIC_PREFIXES_WIDE)


SAMPLE_COLUMNS: tuple[Column, ...] = (
    Column("id", "bigint"),
    Column("amount", "double"),
    Column("symbol", "varchar"),
    Column("block_time", "timestamp with time zone"),
    Column("address", "varbinary"),
    Column("maybe_count", "bigint", null_fraction=0.1),
)
"""The ready-made six-column shape of `Table.generated`, also used by benchmarks."""


def _hashes(seed: int, column: int, indices: Sequence[int]) -> list[int]:
    # A multiply-xorshift mix: cheap enough to run inline for millions of cells, and every bit
    # of the row index reaches every bit of the output.
    salt = ((seed + 1) * _GOLDEN ^ (column + 1) * _MIX) & _MASK
    mixed = [((i ^ salt) * _GOLDEN) & _MASK for i in indices]
    return [((h ^ (h >> 29)) * _MIX) & _MASK for h in mixed]


def _day(offset: int, cache: dict[int, str] = {}) -> str:  # noqa: B006 - a deliberate memo
    text = cache.get(offset)
    if text is None:
        text = cache[offset] = (_BASE_DAY + timedelta(days=offset)).isoformat()
    return text


def _times_of_day() -> list[str]:
    times: list[str] = []
    for k in range(86_400 // _SECONDS_PER_ROW):
        hours, rest = divmod(k * _SECONDS_PER_ROW, 3600)
        minutes, seconds = divmod(rest, 60)
        times.append(f" {hours:02d}:{minutes:02d}:{seconds:02d}.000 UTC")
    return times


_TIMES_OF_DAY = _times_of_day()
_ROWS_PER_DAY = len(_TIMES_OF_DAY)
_ADDRESS_MIX = 0x9E3779B97F4A7C15F39CC0605CEDC8351F2A
_ADDRESS_MASK = (1 << 160) - 1


def _cycle_values(column: Column, position: int, seed: int, indices: range) -> list[object]:
    hs = _hashes(seed, position, indices)
    kind = column.type
    values: list[object]
    if kind.startswith(("bigint", "integer", "int", "smallint", "tinyint")):
        values = [h % 10_000_000 for h in hs]
    elif kind.startswith(("double", "real", "decimal")):
        values = [(h >> 11) * 1.1102230246251565e-12 for h in hs]  # uniform in [0, 10000)
    elif kind.startswith(("uint256", "int256")):
        values = [h * 1_000_000_007 for h in hs]
    elif kind == "boolean":
        values = [h & 1 == 1 for h in hs]
    elif kind == "varbinary":
        values = [f"0x{(h * _ADDRESS_MIX) & _ADDRESS_MASK:040x}" for h in hs]
    elif kind.startswith("array("):
        values = [[_SYMBOLS[h % 12], _SYMBOLS[(h >> 8) % 12]] for h in hs]
    else:
        values = [_SYMBOLS[h % 12] for h in hs]
    if column.null_fraction > 0:
        cut = int(column.null_fraction * 10_000)
        values = [None if (h >> 40) % 10_000 < cut else v for v, h in zip(values, hs, strict=True)]
    return values


def _dates(indices: Sequence[int], times: Sequence[str] | None) -> list[object]:
    out: list[object] = []
    if isinstance(indices, range) and indices.step == 1:
        # Whole runs of one day at a time: one lookup per day, one concatenation per row.
        pos = indices.start
        while pos < indices.stop:
            day, k = divmod(pos, _ROWS_PER_DAY)
            take = min(_ROWS_PER_DAY - k, indices.stop - pos)
            text = _day(day)
            out.extend([text + t for t in times[k : k + take]] if times else [text] * take)
            pos += take
        return out
    if times:
        return [_day(i // _ROWS_PER_DAY) + times[i % _ROWS_PER_DAY] for i in indices]
    return [_day(i // _ROWS_PER_DAY) for i in indices]


class _GeneratedSource:
    """Values of a generated table: pure functions of the row index.

    Row-independent columns repeat with a period of 65,536 rows, computed block by block on
    first use and kept: a page is then a handful of list slices, which is what lets the fake
    serve millions of rows fast while a ten-row table costs next to nothing. The `id` column
    and the time columns follow the index itself.
    """

    def __init__(self, columns: tuple[Column, ...], seed: int) -> None:
        self._columns = columns
        self._seed = seed
        self._blocks: dict[tuple[int, int], list[object]] = {}

    def _block(self, j: int, block: int) -> list[object]:
        values = self._blocks.get((j, block))
        if values is None:
            # Two threads may both compute a block; the results are equal, so either may win.
            rows = range(block * _BLOCK, (block + 1) * _BLOCK)
            values = self._blocks[j, block] = _cycle_values(self._columns[j], j, self._seed, rows)
        return values

    def __call__(self, j: int, indices: Sequence[int]) -> list[object]:
        column = self._columns[j]
        if column.type == "bigint" and column.name == "id":
            return list(indices)
        if column.type.startswith("timestamp"):
            return _dates(indices, _TIMES_OF_DAY)
        if column.type == "date":
            return _dates(indices, None)
        if isinstance(indices, range) and indices.step == 1:
            out: list[object] = []
            pos = indices.start
            while pos < indices.stop:
                block, offset = divmod(pos % _PERIOD, _BLOCK)
                take = min(_BLOCK - offset, indices.stop - pos)
                out.extend(self._block(j, block)[offset : offset + take])
                pos += take
            return out
        return [self._block(j, (i % _PERIOD) // _BLOCK)[i % _BLOCK] for i in indices]


RowSource = Callable[[int, Sequence[int]], list[object]]


class Table:
    """A result table: columns plus rows, either given or generated.

    Args:
        columns: The columns, in order.
        rows: The rows, each a sequence of values in column order or a mapping keyed by column
            name. Values are what the JSON body will carry: numbers, strings, booleans, `None`,
            lists.

    Raises:
        ValueError: If a row does not match the columns.
    """

    def __init__(
        self,
        columns: Sequence[Column],
        rows: Sequence[Sequence[object] | Mapping[str, object]] = (),
    ) -> None:
        self.columns: tuple[Column, ...] = tuple(columns)
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate column names in {names}")
        stored = [self._normalize(row, names) for row in rows]
        self._n_rows = len(stored)
        self._source: RowSource = lambda j, indices: [stored[i][j] for i in indices]
        self._generated_seed: int | None = None

    @staticmethod
    def _normalize(row: Sequence[object] | Mapping[str, object], names: list[str]) -> list[object]:
        if isinstance(row, Mapping):
            unknown = set(row) - set(names)
            if unknown:
                raise ValueError(f"row has unknown columns {sorted(unknown)}")
            return [row.get(name) for name in names]
        if isinstance(row, str) or len(row) != len(names):
            raise ValueError(f"row {row!r} does not have {len(names)} values")
        return list(row)

    @classmethod
    def generated(
        cls, n_rows: int, *, seed: int = 0, columns: Sequence[Column] = SAMPLE_COLUMNS
    ) -> Table:
        """Return a table of `n_rows` rows computed from their index, storing none of them.

        The default columns are `SAMPLE_COLUMNS`: `id` (bigint, the row index), `amount`
        (double), `symbol` (short varchar), `block_time` (timestamp with time zone, 12 s per
        row from 2024-01-01), `address` (varbinary, `0x` + 40 hex digits) and `maybe_count`
        (bigint, about 10% nulls). Other types get plausible values of their kind; a bigint
        column named `id` always holds the row index.

        Raises:
            ValueError: If `n_rows` is negative.
        """
        if n_rows < 0:
            raise ValueError("n_rows must not be negative")
        table = cls(columns)
        table._n_rows = n_rows
        table._source = _GeneratedSource(table.columns, seed)
        table._generated_seed = seed
        return table

    def __repr__(self) -> str:
        kind = "generated" if self._generated_seed is not None else "explicit"
        return f"Table({kind}, {self._n_rows} rows, columns={[c.name for c in self.columns]})"

    def __len__(self) -> int:
        return self._n_rows

    @property
    def column_names(self) -> list[str]:
        """Return the column names, in order."""
        return [c.name for c in self.columns]

    def head(self, n_rows: int) -> Table:
        """Return a view of the first `n_rows` rows, sharing this table's storage."""
        view = Table(self.columns)
        view._n_rows = max(0, min(n_rows, self._n_rows))
        view._source = self._source
        view._generated_seed = self._generated_seed
        return view

    def column_values(self, column: int, indices: Sequence[int]) -> list[object]:
        """Return the values of column number `column` at the given row indices."""
        return self._source(column, indices)

    def rows(self, indices: Sequence[int] | None = None) -> list[tuple[object, ...]]:
        """Return rows as tuples in column order, all of them or those at `indices`."""
        picked = range(self._n_rows) if indices is None else indices
        per_column = [self._source(j, picked) for j in range(len(self.columns))]
        return list(zip(*per_column, strict=True)) if per_column else [() for _ in picked]

    @cached_property
    def column_bytes(self) -> tuple[float, ...]:
        """Return the average raw size of each column's values, in bytes.

        Generated tables estimate it from their first rows: reading five million rows to count
        bytes would defeat the point of generating them.
        """
        sample = range(min(self._n_rows, 256))
        if not sample:
            return tuple(0.0 for _ in self.columns)
        return tuple(
            sum(len(_raw(v)) for v in self._source(j, sample)) / len(sample)
            for j in range(len(self.columns))
        )


def _raw(value: object) -> str:
    return "" if value is None else str(value)
