"""The watch engine: one rate-aware scheduler polling many items of any status source.

It knows nothing of Dune: Dune's executions and pipelines are two ``StatusSource`` adapters in
``duneasync._dune``, and any other execution API can be watched the same way.
"""

from __future__ import annotations

from ._policy import PollPolicy
from ._progress import ItemProgress, SavedItem, WatchState, WatchSummary
from ._scheduler import PollScheduler
from ._scope import running
from ._source import Phase, Progress, StatusSource
from ._watcher import Watch, watch

__all__ = [
    "ItemProgress",
    "Phase",
    "PollPolicy",
    "PollScheduler",
    "Progress",
    "SavedItem",
    "StatusSource",
    "Watch",
    "WatchState",
    "WatchSummary",
    "running",
    "watch",
]
