"""The waiting and watching methods of ``DuneClient``."""

from __future__ import annotations

__all__ = ["WatchMixin"]


class WatchMixin:
    """The waiting and watching methods of ``DuneClient`` (wait, run, watch)."""
