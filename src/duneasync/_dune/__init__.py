"""Dune on the watch engine: the two status sources, waits, watchers and ``run_many``."""

from __future__ import annotations

from ._batch import BatchRun, QuerySpec, RunOutcome, Via
from ._pipeline import PipelineWatch
from ._pipelines import Pipelines
from ._sources import DuneExecutionSource, DunePipelineSource
from ._watching import Watching, raise_for_outcome

__all__ = [
    "BatchRun",
    "DuneExecutionSource",
    "DunePipelineSource",
    "PipelineWatch",
    "Pipelines",
    "QuerySpec",
    "RunOutcome",
    "Via",
    "Watching",
    "raise_for_outcome",
]
