"""Results at scale: parallel paging, streaming rows and CSV in bounded memory."""

from __future__ import annotations

__all__ = ["ResultsMixin"]


class ResultsMixin:
    """The result-reading methods of ``DuneClient`` (paging, streaming, CSV, dataframes)."""
