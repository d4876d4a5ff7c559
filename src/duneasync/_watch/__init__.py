"""Watching executions and pipelines: one rate-aware scheduler per client."""

from __future__ import annotations

from ._methods import WatchMixin

__all__ = ["WatchMixin"]
