"""The ``duneasync`` command: argument parsing, dispatch, and turning failures into exit codes."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .._client import DEFAULT_BASE_URL
from .._version import __version__
from ._commands import cancel, results, run, status
from ._exits import EXIT_CODES_HELP, ExitCode, describe, exit_code_for
from ._output import FORMATS
from ._runtime import Command, Tracker, execute, leaf_error

__all__ = ["build_parser", "main"]

_DESCRIPTION = """\
Run Dune Analytics queries from the shell: start them, watch them, fetch their results.

Try it without a key:  duneasync demo
Against the real API, put your key in DUNE_API_KEY (never on the command line), then e.g.
  duneasync run 1234 --param chain=ethereum --format csv --output out.csv
"""


def _parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    return name.strip(), value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _connection_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection")
    group.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        help="API origin (default %(default)s); point it at `python -m duneasync.testing serve`",
    )
    group.add_argument(
        "--api-key-env",
        default="DUNE_API_KEY",
        metavar="NAME",
        help="environment variable holding the API key (default %(default)s)",
    )
    group.add_argument(
        "--http-timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="timeout of each HTTP request (default %(default)g)",
    )
    _common_options(parent)
    return parent


def _common_options(parent: argparse.ArgumentParser) -> None:
    group = parent.add_argument_group("display")
    group.add_argument(
        "--progress",
        choices=("auto", "rich", "plain", "none"),
        default="auto",
        help="progress on stderr: a live panel on a terminal (with duneasync[cli]),"
        " plain lines otherwise (default %(default)s)",
    )
    group.add_argument(
        "-q",
        "--quiet",
        dest="progress",
        action="store_const",
        const="none",
        help="no progress output (same as --progress none)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log retries and rate-limit waits (-vv: every request)",
    )
    group.add_argument(
        "--backend",
        choices=("asyncio", "trio"),
        default="asyncio",
        help="event loop to run on (default %(default)s)",
    )


def _output_options(*, table_default: bool = True) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("output")
    group.add_argument(
        "--format",
        "-f",
        choices=FORMATS,
        default=None,
        help="table on a terminal, csv otherwise (json: one array; jsonl: one row per line)"
        if table_default
        else "output format",
    )
    group.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the result to FILE (created only once complete) instead of stdout",
    )
    group.add_argument(
        "--limit",
        type=_positive_int,
        metavar="N",
        help="read at most N rows",
    )
    group.add_argument(
        "--page-size",
        type=_positive_int,
        metavar="N",
        help="rows per request (default: as many as the server sends)",
    )
    group.add_argument(
        "--allow-partial",
        action="store_true",
        help="accept a result Dune truncated (QUERY_STATE_COMPLETED_PARTIAL)",
    )
    return parent


def _execution_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("execution")
    group.add_argument(
        "--performance",
        choices=("medium", "large"),
        help="engine tier (default: Dune's)",
    )
    group.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="give up waiting after SECONDS (exit 4; the execution keeps running)",
    )
    group.add_argument(
        "--no-wait",
        action="store_true",
        help="print the execution id and exit without waiting",
    )
    group.add_argument(
        "--cancel-on-interrupt",
        action="store_true",
        help="on Ctrl-C, cancel the execution on Dune (by default it keeps running)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="duneasync",
        description=_DESCRIPTION,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"duneasync {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    connection = _connection_options()
    output = _output_options()
    execution = _execution_options()

    def add(
        name: str, help_: str, parents: list[argparse.ArgumentParser]
    ) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help_,
            description=help_[0].upper() + help_[1:] + ".",
            parents=parents,
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    demo = argparse.ArgumentParser(add_help=False)
    _common_options(demo)
    sub = add("demo", "run the main job against a fake Dune in process: no key, no network", [demo])
    sub.add_argument(
        "--executions",
        type=_positive_int,
        default=300,
        metavar="N",
        help="simulated executions to submit and watch (default %(default)s)",
    )
    sub.add_argument(
        "--rows",
        type=_positive_int,
        default=100_000,
        metavar="N",
        help="rows in the large result fetched at the end (default %(default)s)",
    )
    sub.add_argument("--seed", type=int, default=6, help="seed of the simulation")

    sub = add(
        "run",
        "execute a saved query, wait for it and print its result",
        [execution, output, connection],
    )
    sub.add_argument("query_id", type=_positive_int, metavar="QUERY_ID")
    sub.add_argument(
        "--param",
        "-p",
        type=_parameter,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a query parameter (repeat for several)",
    )

    sub = add(
        "sql", "execute raw SQL, wait for it and print its result", [execution, output, connection]
    )
    sub.add_argument("sql_text", metavar="SQL", help="the DuneSQL text, or - to read it from stdin")

    sub = add("status", "print the status of executions", [connection])
    sub.add_argument("execution_ids", nargs="+", metavar="EXECUTION_ID")
    sub.add_argument("--format", "-f", choices=("table", "json"), default="table")

    sub = add(
        "watch", "watch executions (and pipelines) until every one has finished", [connection]
    )
    sub.add_argument("execution_ids", nargs="*", metavar="EXECUTION_ID")
    sub.add_argument(
        "--pipeline",
        action="append",
        default=[],
        metavar="ID",
        help="a pipeline execution to watch, node by node (repeat for several)",
    )
    sub.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="stop watching after SECONDS (exit 4; the executions keep running)",
    )

    sub = add("results", "print the result of a finished execution", [output, connection])
    sub.add_argument("execution_id", nargs="?", metavar="EXECUTION_ID")
    sub.add_argument(
        "--query",
        type=_positive_int,
        metavar="QUERY_ID",
        help="instead: the latest stored result of a saved query (costs no execution credits)",
    )

    sub = add("cancel", "cancel executions (exit 1 if Dune refuses one)", [connection])
    sub.add_argument("execution_ids", nargs="+", metavar="EXECUTION_ID")
    return parser


def _command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Command:
    if args.command in ("run", "sql"):
        if args.command == "sql" and args.sql_text == "-":
            args.sql_text = sys.stdin.read()
        if args.no_wait and (args.output or args.format or args.limit):
            parser.error("--no-wait prints only the execution id: drop the output options")
        return run
    if args.command == "results":
        if (args.execution_id is None) == (args.query is None):
            parser.error("results needs an EXECUTION_ID or --query QUERY_ID (one of them)")
        return results
    if args.command == "status":
        return status
    if args.command == "cancel":
        return cancel
    if args.command == "watch":
        if not args.execution_ids and not args.pipeline:
            parser.error("watch needs at least one EXECUTION_ID or --pipeline ID")
        from ._watch_cmd import watch

        return watch
    raise AssertionError(f"unhandled command {args.command!r}")  # pragma: no cover


def _configure_logging(verbosity: int) -> None:
    if verbosity <= 0:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("duneasync")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbosity == 1 else logging.DEBUG)


def _report_interrupt(tracker: Tracker) -> None:
    # Reached only where no signal handler could be installed (Windows, a non-main thread):
    # the event loop is gone, so say what is known without asking Dune.
    running = tracker.running_started()
    for execution_id in running:
        sys.stderr.write(
            f"interrupted: execution {execution_id} may still be running on Dune"
            f" (stop it with: duneasync cancel {execution_id})\n"
        )
    if not running:
        sys.stderr.write("interrupted\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``duneasync`` command line and return its exit code.

    Args:
        argv: The arguments, without the program name; ``sys.argv[1:]`` when None.

    Returns:
        The exit code: 0 success, 1 an execution failed, 2 usage error, 3 API error,
        4 timeout, 5 output error, 130 interrupted (see ``duneasync --help``).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "demo":
            from ._demo import demo_main

            return demo_main(args)
        command = _command(args, parser)
    except SystemExit as exc:  # argparse exits for --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else ExitCode.USAGE
    _configure_logging(args.verbose)
    tracker = Tracker(cancel_on_interrupt=getattr(args, "cancel_on_interrupt", False))
    try:
        return execute(args, command, tracker)
    except KeyboardInterrupt:
        _report_interrupt(tracker)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): not an error worth a message.
        _silence_stdout()
        return ExitCode.OUTPUT_ERROR
    except Exception as exc:
        error = leaf_error(exc)
        code = exit_code_for(error)
        if code is None:
            raise
        sys.stderr.write(f"duneasync: error: {describe(error)}\n")
        return code


def _silence_stdout() -> None:
    # Python flushes stdout at exit and would complain about the closed pipe a second time.
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
