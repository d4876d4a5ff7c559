"""Progress on stderr: a live panel with rich on a terminal, plain lines everywhere else.

Data goes to stdout and progress to stderr, so ``duneasync results ID > out.csv`` still shows
progress, and a pipe or a log file gets one line per change instead of escape codes.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Mapping
from types import TracebackType
from typing import IO, TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Board", "Display", "DisplayMode", "make_display", "short_state"]

DisplayMode = Literal["auto", "rich", "plain", "none"]

# How often plain mode may repeat a changed summary line: often enough to show life in a CI
# log, rarely enough not to flood it.
_PLAIN_INTERVAL = 2.0


def short_state(state: str | None) -> str:
    """Drop the ``QUERY_STATE_`` prefix: ``COMPLETED`` reads better in a narrow display."""
    if not state:
        return "UNKNOWN"
    return state.removeprefix("QUERY_STATE_")


@dataclasses.dataclass(frozen=True)
class Board:
    """A snapshot of long-running work.

    Attributes:
        title: What is going on, e.g. ``watching`` or ``downloading``.
        done: Units finished.
        total: Units expected, None when unknown.
        unit: What is counted, e.g. ``executions`` or ``rows``.
        counts: Units by state, shown in this order.
        extra: One more line of facts (requests spent, rate limits, 429s).
        plain: Whether plain mode prints it; False for boards that only animate what the
            noted lines already say (a single execution's state and elapsed time).
    """

    title: str
    done: int = 0
    total: int | None = None
    unit: str = ""
    counts: Mapping[str, int] = dataclasses.field(default_factory=dict[str, int])
    extra: str = ""
    plain: bool = True

    def line(self) -> str:
        """Render the snapshot as one plain line."""
        parts = [f"{self.title}: {self.done:,}" + (f"/{self.total:,}" if self.total else "")]
        if self.unit:
            parts[0] += f" {self.unit}"
        if self.counts:
            parts.append(", ".join(f"{name} {n:,}" for name, n in self.counts.items() if n))
        if self.extra:
            parts.append(self.extra)
        return " | ".join(part for part in parts if part)


class Display(Protocol):
    """Where progress goes. Use as a context manager; ``close`` leaves the last state shown."""

    def note(self, text: str) -> None:
        """Print a line that stays (an event worth keeping, e.g. a state change)."""
        ...

    def update(self, board: Board) -> None:
        """Replace the live summary."""
        ...

    def flush(self) -> None:
        """Show the latest summary now, even if plain mode was holding it back."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class _Base:
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop updating; overridden by displays that hold state."""

    def flush(self) -> None:
        """Show the latest summary now; overridden by displays that hold it back."""


class NullDisplay(_Base):
    """Show nothing (``--quiet``)."""

    def note(self, text: str) -> None:
        """Drop the line."""

    def update(self, board: Board) -> None:
        """Drop the summary."""


class PlainDisplay(_Base):
    """One line per event and a summary line whenever it changed, at most every few seconds.

    Args:
        stream: Where to write (stderr).
        interval: Least seconds between two summary lines; the last one is always written.
    """

    def __init__(self, stream: IO[str], *, interval: float = _PLAIN_INTERVAL) -> None:
        self._stream = stream
        self._interval = interval
        self._last_at = -float("inf")
        self._printed: str | None = None
        self._pending: str | None = None

    def note(self, text: str) -> None:
        """Write the line at once."""
        self._write(text)

    def update(self, board: Board) -> None:
        """Write the summary if it changed and the interval has passed; else keep it for later."""
        if not board.plain:
            return
        text = board.line()
        if text == self._printed:
            self._pending = None
            return
        now = time.monotonic()
        if now - self._last_at >= self._interval:
            self._emit(text, now)
        else:
            self._pending = text

    def flush(self) -> None:
        """Write the latest summary if it was held back."""
        if self._pending is not None:
            self._emit(self._pending, time.monotonic())

    def close(self) -> None:
        """Write the latest summary if it was held back, so the log ends on the final state."""
        self.flush()

    def _emit(self, text: str, now: float) -> None:
        self._write(text)
        self._printed = text
        self._pending = None
        self._last_at = now

    def _write(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()


class RichDisplay(_Base):
    """A live panel: a progress bar, counts by state and an extra line, redrawn in place."""

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console, Group
        from rich.live import Live
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.text import Text

        self._console = Console(file=stream, stderr=stream is sys.stderr)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            console=self._console,
        )
        self._task = self._progress.add_task("", total=None, unit="")
        self._counts = Text()
        self._extra = Text(style="dim")
        self._text_cls = Text
        self._live = Live(
            Group(self._progress, self._counts, self._extra),
            console=self._console,
            refresh_per_second=8,
            transient=False,
        )
        self._live.start()

    def note(self, text: str) -> None:
        """Print above the live panel."""
        self._live.console.print(text, highlight=False, markup=False)

    def update(self, board: Board) -> None:
        """Redraw the panel."""
        self._progress.update(
            self._task,
            description=board.title,
            completed=board.done,
            total=board.total,
            unit=board.unit,
        )
        counts = self._text_cls()
        for name, n in board.counts.items():
            if n:
                counts.append(f"{name} ", style=_STATE_STYLES.get(name, "bold"))
                counts.append(f"{n:,}  ")
        self._counts.plain = ""
        self._counts.append_text(counts)
        self._extra.plain = board.extra

    def close(self) -> None:
        """Stop redrawing, leaving the final panel on screen."""
        self._live.stop()


_STATE_STYLES = {
    "COMPLETED": "bold green",
    "COMPLETED_PARTIAL": "bold yellow",
    "FAILED": "bold red",
    "CANCELLED": "bold magenta",
    "EXPIRED": "bold magenta",
    "EXECUTING": "bold cyan",
    "PENDING": "bold blue",
}


def _rich_available() -> bool:
    import importlib.util

    # Probe without importing: rich is an optional extra (duneasync[cli]).
    return importlib.util.find_spec("rich") is not None


def make_display(mode: DisplayMode = "auto", stream: IO[str] | None = None) -> Display:
    """Pick the display: rich when asked or when stderr is a terminal and rich is installed.

    Args:
        mode: ``auto``, ``rich``, ``plain`` or ``none``.
        stream: Where progress goes; stderr by default.
    """
    out = stream if stream is not None else sys.stderr
    if mode == "none":
        return NullDisplay()
    if mode == "plain":
        return PlainDisplay(out)
    interactive = out.isatty() and os.environ.get("TERM") != "dumb"
    if (mode == "rich" or interactive) and _rich_available():
        return RichDisplay(out)
    return PlainDisplay(out)
