"""Reading results: one ``ResultReader`` per result, and the engines behind it."""

from __future__ import annotations

from ._csv import CSVDownload, csv_page_of
from ._reader import Destination, MaxAge, Refresh, ResultReader, RowT
from ._source import DATAPOINT_CAP, ResultSource

__all__ = [
    "DATAPOINT_CAP",
    "CSVDownload",
    "Destination",
    "MaxAge",
    "Refresh",
    "ResultReader",
    "ResultSource",
    "RowT",
    "csv_page_of",
]
