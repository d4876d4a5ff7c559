"""The small, documented subset of Dune's `filters` and `sort_by` the fake understands.

`filters` is one or more comparisons joined by `AND` (any case): `column OP literal` with `OP` one
of `=`, `!=`, `<>`, `>`, `>=`, `<`, `<=`; a literal is a number (`42`, `-1.5`, `1e6`), a
single-quoted string (`'it''s'`) or `true`/`false`. Numeric columns take number literals and the
others take strings (booleans take `true`/`false`); a mismatch is a 400, as is anything else.
Comparisons with null are false, as in SQL. `sort_by` is a comma-separated list of
`column [asc|desc]`; nulls sort last either way, as in Trino.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from duneasync.testing._tables import Column, Table

__all__ = ["FilterError", "apply_filters", "apply_sort", "parse_filters", "parse_sort"]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | '(?P<str>(?:[^']|'')*)'
      | (?P<op>!=|<>|>=|<=|=|>|<)
      | "(?P<qid>[^"]+)"
      | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<>": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class FilterError(ValueError):
    """A `filters` or `sort_by` expression the fake does not understand (answered with 400)."""


@dataclass(frozen=True)
class Condition:
    """One `column OP literal` comparison."""

    column: int
    op: str
    value: object


def _tokens(text: str) -> list[tuple[str, object]]:
    tokens: list[tuple[str, object]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise FilterError(f"cannot parse filters near {text[pos : pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup
        raw = match.group(kind or "")
        if kind == "num":
            tokens.append(("lit", float(raw) if any(c in raw for c in ".eE") else int(raw)))
        elif kind == "str":
            tokens.append(("lit", raw.replace("''", "'")))
        elif kind == "qid":
            tokens.append(("id", raw))
        elif kind == "id" and raw.lower() in ("true", "false"):
            tokens.append(("lit", raw.lower() == "true"))
        else:
            tokens.append((kind or "", raw))
    return tokens


def _check_literal(column: Column, value: object) -> None:
    if column.type == "boolean":
        ok = isinstance(value, bool)
    elif column.is_numeric:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise FilterError(f"cannot compare column {column.name!r} ({column.type}) with {value!r}")


def parse_filters(text: str, columns: Sequence[Column]) -> list[Condition]:
    """Parse a `filters` expression against the table's columns.

    Raises:
        FilterError: If the expression is outside the supported subset or names an unknown
            column.
    """
    positions = {c.name: j for j, c in enumerate(columns)}
    tokens = _tokens(text)
    conditions: list[Condition] = []
    i = 0
    while True:
        if len(tokens) < i + 3:
            raise FilterError("filters must be `column OP literal` joined by AND")
        (k1, name), (k2, op), (k3, value) = tokens[i : i + 3]
        if k1 != "id" or k2 != "op" or k3 != "lit":
            raise FilterError("filters must be `column OP literal` joined by AND")
        if name not in positions:
            raise FilterError(f"unknown column {name!r} in filters")
        column = positions[str(name)]
        _check_literal(columns[column], value)
        conditions.append(Condition(column, str(op), value))
        i += 3
        if i == len(tokens):
            return conditions
        kind, word = tokens[i]
        if kind != "id" or str(word).lower() != "and":
            raise FilterError("only AND may join filter conditions")
        i += 1


def _compare(op: Callable[[Any, Any], bool], value: object, literal: object) -> bool:
    if value is None:
        return False
    if isinstance(literal, (int, float)) and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return False
    try:
        return op(value, literal)
    except TypeError:
        return False


def apply_filters(table: Table, conditions: Sequence[Condition]) -> list[int]:
    """Return the indices of the rows that satisfy every condition, in table order."""
    everything = range(len(table))
    kept: list[int] = list(everything)
    for cond in conditions:
        values = table.column_values(cond.column, kept)
        op = _OPS[cond.op]
        kept = [i for i, v in zip(kept, values, strict=True) if _compare(op, v, cond.value)]
    return kept


def parse_sort(text: str, columns: Sequence[Column]) -> list[tuple[int, bool]]:
    """Parse `sort_by` into (column position, descending) pairs.

    Raises:
        FilterError: If a term is not `column [asc|desc]` or names an unknown column.
    """
    positions = {c.name: j for j, c in enumerate(columns)}
    keys: list[tuple[int, bool]] = []
    for term in text.split(","):
        words = term.split()
        if not words or len(words) > 2:
            raise FilterError(f"cannot parse sort_by term {term!r}")
        name = words[0].strip('"')
        direction = words[1].lower() if len(words) == 2 else "asc"
        if name not in positions or direction not in ("asc", "desc"):
            raise FilterError(f"cannot sort by {term.strip()!r}")
        keys.append((positions[name], direction == "desc"))
    return keys


def apply_sort(table: Table, indices: Sequence[int], keys: Sequence[tuple[int, bool]]) -> list[int]:
    """Return `indices` ordered by the sort keys; the sort is stable and puts nulls last."""
    ordered = list(indices)
    # Sorting by the last key first, then by each earlier key, relies on sort stability to give
    # the combined order without comparing tuples of mixed types.
    for column, descending in reversed(keys):
        values = dict(zip(ordered, table.column_values(column, ordered), strict=True))
        present = [i for i in ordered if values[i] is not None]
        missing = [i for i in ordered if values[i] is None]
        present.sort(key=lambda i: values[i], reverse=descending)  # type: ignore[arg-type,return-value]  # values of one column share a type
        ordered = present + missing
    return ordered
