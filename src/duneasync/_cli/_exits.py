"""Exit codes scripts can rely on, and the one-line message for every expected failure."""

from __future__ import annotations

import enum

from .._errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    DuneError,
    ExecutionError,
    ExecutionFailedError,
    PartialResultError,
    ResultChangedError,
    WaitTimeoutError,
)

__all__ = ["EXIT_CODES_HELP", "CLIError", "ExitCode", "describe", "exit_code_for"]


class ExitCode(enum.IntEnum):
    """What the process exit status means."""

    OK = 0
    EXECUTION_FAILED = 1
    USAGE = 2
    API_ERROR = 3
    TIMEOUT = 4
    OUTPUT_ERROR = 5
    INTERRUPTED = 130


EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    an execution failed, was cancelled, expired or was cut short (partial result)
  2    usage error: bad arguments, no API key, an output file that cannot be written
  3    API error: the Dune API refused the request or could not be reached
  4    timeout: --timeout passed before the executions finished
  5    the output could not be written (disk full, closed pipe)
  130  interrupted (Ctrl-C); remote executions keep running unless --cancel-on-interrupt
"""


class CLIError(Exception):
    """An expected failure of the command line itself, with its exit code.

    Attributes:
        code: The exit status to end with.
    """

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code


def exit_code_for(error: BaseException) -> ExitCode | None:
    """Return the exit code of an expected failure, or None for a bug (it keeps its traceback)."""
    if isinstance(error, CLIError):
        return error.code
    if isinstance(error, ConfigurationError):
        return ExitCode.USAGE
    if isinstance(error, ExecutionError):
        return ExitCode.EXECUTION_FAILED
    if isinstance(error, WaitTimeoutError):
        return ExitCode.TIMEOUT
    if isinstance(error, (APIError, ResultChangedError)):
        return ExitCode.API_ERROR
    if isinstance(error, OSError):
        return ExitCode.OUTPUT_ERROR
    return None


def describe(error: BaseException) -> str:
    """Say what went wrong on one line, with a hint where the usual fix is known."""
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, ExecutionFailedError) and error.error is not None:
        text = f"execution {error.execution_id} failed: {error.error}"
    elif isinstance(error, PartialResultError):
        text += " (pass --allow-partial to accept a truncated result)"
    elif isinstance(error, AuthenticationError):
        text += " (check the key in DUNE_API_KEY, or the variable named by --api-key-env)"
    elif isinstance(error, OSError) and not isinstance(error, DuneError):
        target = f" {error.filename}" if error.filename else ""
        text = f"could not write{target}: {error.strerror or text}"
    return text
