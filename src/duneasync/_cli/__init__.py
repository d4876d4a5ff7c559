"""The ``duneasync`` command line (``python -m duneasync``); see ``duneasync --help``."""

from ._main import main

__all__ = ["main"]
