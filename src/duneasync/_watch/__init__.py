"""Watching executions and pipelines: one rate-aware scheduler per client."""

from __future__ import annotations

from .._errors import PipelineRefusedError, WatchTimeoutError
from ._batch import BatchRun, QuerySpec, RunOutcome
from ._generic import GenericExecutionError, GenericExecutionSource, GenericExecutionStatus
from ._methods import WatchMixin, raise_for_outcome, watch
from ._pipeline import PipelineWatch
from ._policy import PollPolicy
from ._progress import ItemProgress, SavedItem, WatchState, WatchSummary
from ._scheduler import PollScheduler
from ._source import DuneExecutionSource, DunePipelineSource, Phase, Progress, StatusSource
from ._watcher import Watch

__all__ = [
    "BatchRun",
    "DuneExecutionSource",
    "DunePipelineSource",
    "GenericExecutionError",
    "GenericExecutionSource",
    "GenericExecutionStatus",
    "ItemProgress",
    "Phase",
    "PipelineRefusedError",
    "PipelineWatch",
    "PollPolicy",
    "PollScheduler",
    "Progress",
    "QuerySpec",
    "RunOutcome",
    "SavedItem",
    "StatusSource",
    "Watch",
    "WatchMixin",
    "WatchState",
    "WatchSummary",
    "WatchTimeoutError",
    "raise_for_outcome",
    "watch",
]
