"""Where results go and in what shape: JSON, JSON lines, CSV or a table, to stdout or a file.

A file is written under a temporary name and renamed once complete, so an interrupted or
failed download never leaves a truncated file that looks finished.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import IO, Any, Literal, Protocol

import msgspec

from ._exits import CLIError, ExitCode

__all__ = [
    "FORMATS",
    "Format",
    "RowWriter",
    "Sink",
    "cell",
    "make_row_writer",
    "render_table",
    "split_csv_header",
]

Format = Literal["table", "csv", "json", "jsonl"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json", "jsonl")

_ENCODER = msgspec.json.Encoder()
# Columns wider than this are cut in a table (the full value is in --format csv/json).
_MAX_CELL = 48


class Sink:
    """A binary destination: stdout, or a file that appears only when complete.

    Args:
        path: The file to write, or None (or ``-``) for stdout.
    """

    def __init__(self, path: str | None) -> None:
        self.path = None if path in (None, "-") else path
        self._file: IO[bytes] | None = None
        self._tmp: str | None = None

    @property
    def is_terminal(self) -> bool:
        """Whether the output is an interactive terminal (stdout not redirected)."""
        return self.path is None and sys.stdout.isatty()

    def open(self) -> None:
        """Open the destination now, so an unwritable path fails before any request.

        Raises:
            CLIError: The file cannot be created (exit code 2).
        """
        if self.path is None:
            sys.stdout.flush()
            self._file = sys.stdout.buffer
            return
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            handle, self._tmp = tempfile.mkstemp(
                dir=directory, prefix=f".{os.path.basename(self.path)}.", suffix=".part"
            )
        except OSError as exc:
            raise CLIError(
                f"cannot write {self.path}: {exc.strerror or exc}", ExitCode.USAGE
            ) from exc
        self._file = os.fdopen(handle, "wb")

    def write(self, data: bytes) -> None:
        """Write bytes."""
        if self._file is None:
            self.open()
        assert self._file is not None  # opened just above
        self._file.write(data)

    def commit(self) -> None:
        """Finish: flush stdout, or move the complete file into place."""
        if self._file is None:
            self.open()
        assert self._file is not None  # opened just above
        if self.path is None:
            self._file.flush()
            return
        self._file.close()
        assert self._tmp is not None  # set with the file
        # mkstemp creates the file private (0600); give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self._tmp, 0o666 & ~umask)
        shutil.move(self._tmp, self.path)
        self._tmp = None

    def abort(self) -> None:
        """Give up: remove the partial file (stdout keeps what it got)."""
        if self.path is None or self._file is None:
            return
        self._file.close()
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            self._tmp = None


def cell(value: Any) -> str:
    """Render one value for a table or a plain line: strings as they are, the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return _ENCODER.encode(value).decode()


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def render_table(columns: Sequence[str], rows: Sequence[Sequence[str]], *, rich: bool) -> str:
    """Lay out rows as an aligned text table (boxed by rich on a terminal when installed)."""
    if rich:
        try:
            return _rich_table(columns, rows)
        except ImportError:
            pass
    # The last column is not clipped: it pushes nothing out of line (errors are often there).
    last = len(columns) - 1
    clipped = [
        [_clip(value) if i < last else " ".join(value.split()) for i, value in enumerate(row)]
        for row in rows
    ]
    widths = [len(name) for name in columns]
    for row in clipped:
        widths = [max(width, len(value)) for width, value in zip(widths, row, strict=False)]
    lines = [
        "  ".join(name.ljust(width) for name, width in zip(columns, widths, strict=False)).rstrip()
    ]
    lines.append("  ".join("-" * width for width in widths))
    lines += [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)).rstrip() for row in clipped
    ]
    return "\n".join(lines) + "\n"


def _rich_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns, show_lines=False, header_style="bold")
    for row in rows:
        table.add_row(*(_clip(value) for value in row))
    console = Console(file=sys.stdout, force_terminal=True)
    with console.capture() as captured:
        console.print(table)
    return captured.get()


class RowWriter(Protocol):
    """Writes decoded rows in one format."""

    def start(self, columns: Sequence[str]) -> None:
        """Begin, knowing the column names (in the server's order)."""
        ...

    def rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Write a batch of rows."""
        ...

    def finish(self) -> None:
        """Write whatever closes the document."""
        ...


class _JSONArray:
    """One JSON array of row objects, written as rows arrive (no whole result in memory)."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._first = True

    def start(self, columns: Sequence[str]) -> None:
        self._sink.write(b"[")

    def rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            self._sink.write(b"\n" if self._first else b",\n")
            self._sink.write(_ENCODER.encode(row))
            self._first = False

    def finish(self) -> None:
        self._sink.write(b"]\n" if self._first else b"\n]\n")


class _JSONLines:
    """One JSON object per line."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    def start(self, columns: Sequence[str]) -> None:
        pass

    def rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            self._sink.write(_ENCODER.encode(row) + b"\n")

    def finish(self) -> None:
        pass


class _Table:
    """A table laid out once every row is known (tables are for a screenful, not a dump)."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._columns: list[str] = []
        self._cells: list[list[str]] = []

    def start(self, columns: Sequence[str]) -> None:
        self._columns = list(columns)

    def rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not self._columns and rows:
            self._columns = list(rows[0])
        self._cells += [[cell(row.get(name)) for name in self._columns] for row in rows]

    def finish(self) -> None:
        if not self._columns:
            self._sink.write(b"(no columns)\n")
            return
        text = render_table(self._columns, self._cells, rich=self._sink.is_terminal)
        self._sink.write(text.encode())


def make_row_writer(format_: Format, sink: Sink) -> RowWriter:
    """Return the writer of a row format (CSV is written from the server's CSV, not here)."""
    if format_ == "json":
        return _JSONArray(sink)
    if format_ == "jsonl":
        return _JSONLines(sink)
    if format_ == "table":
        return _Table(sink)
    raise ValueError(f"no row writer for {format_!r}")


def split_csv_header(data: bytes) -> tuple[bytes, bytes]:
    """Split a CSV page into its header line (with its newline) and the rows after it.

    The header ends at the first newline outside double quotes, so a quoted column name that
    contains a newline does not cut it short.
    """
    quoted = False
    for index, byte in enumerate(data):
        if byte == 0x22:  # '"'; an escaped quote ("") toggles twice and cancels out
            quoted = not quoted
        elif byte == 0x0A and not quoted:
            return data[: index + 1], data[index + 1 :]
    return data, b""
