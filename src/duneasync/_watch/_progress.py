"""What a watcher reports: per-item progress, a summary and a saved state."""

from __future__ import annotations

import msgspec

from ._source import Phase

__all__ = ["ItemProgress", "SavedItem", "WatchState", "WatchSummary"]


class ItemProgress(msgspec.Struct, frozen=True, kw_only=True):
    """The latest known progress of one watched item.

    Attributes:
        key: The item's id (an execution id, a pipeline execution id...).
        state: The source's state word, None before the first answer.
        phase: ``pending``, ``executing`` or ``done`` (``pending`` before the first answer).
        queue_position: Position in the queue while pending, when known.
        percent: Progress in percent, when the source reports it.
        step: What the item is doing now, when the source says.
        elapsed: Seconds since it was submitted or first watched.
        polls: Polls spent on it.
    """

    key: str
    state: str | None
    phase: Phase
    queue_position: int | None = None
    percent: float | None = None
    step: str | None = None
    elapsed: float = 0.0
    polls: int = 0


class WatchSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Counts for a progress bar.

    Attributes:
        total: Items the watcher follows (done ones included).
        pending: Items queued (or not answered yet).
        executing: Items running.
        done: Items in a terminal state, or whose watch ended with an error.
        requests: Polls the client's scheduler has sent (all watchers together).
        rate_limited: 429 answers the client's budget has seen.
        paused_seconds: Time the budget spent paused by the server.
        poll_errors: Polls that failed (and were tried again, or ended an item).
    """

    total: int
    pending: int
    executing: int
    done: int
    requests: int
    rate_limited: int = 0
    paused_seconds: float = 0.0
    poll_errors: int = 0


class SavedItem(msgspec.Struct, frozen=True, kw_only=True):
    """One item of a saved watch.

    Attributes:
        key: The item's id.
        elapsed: Seconds it had been running when saved.
        state: Its last known state word.
        phase: Its last known phase.
    """

    key: str
    elapsed: float = 0.0
    state: str | None = None
    phase: Phase = "pending"


class WatchState(msgspec.Struct, frozen=True, kw_only=True):
    """A watch saved as plain JSON, to resume after a restart.

    The ids are the resume token: watching them again is enough. The saved ages keep the poll
    intervals of long-running items long, and the items already done need no request.

    Attributes:
        version: The format version.
        items: Every item the watch followed.
    """

    version: int = 1
    items: list[SavedItem] = []

    @property
    def unfinished(self) -> list[str]:
        """The ids still to watch."""
        return [item.key for item in self.items if item.phase != "done"]

    @property
    def done(self) -> list[str]:
        """The ids that had reached a terminal state."""
        return [item.key for item in self.items if item.phase == "done"]

    def to_json(self) -> str:
        """Return the state as JSON text."""
        return _ENCODER.encode(self).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> WatchState:
        """Read a state saved with ``to_json``."""
        return _DECODER.decode(text)


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(WatchState)
