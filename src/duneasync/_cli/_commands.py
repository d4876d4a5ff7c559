"""The commands that talk to the API one execution at a time: run, sql, results, status, cancel."""

from __future__ import annotations

import sys
from typing import Any

import msgspec

from .._models import ExecutionStatus
from ._display import short_state
from ._exits import ExitCode
from ._fetch import ResultSource, copy_csv, copy_rows
from ._output import Format, Sink, cell, make_row_writer, render_table
from ._runtime import Session
from ._wait import describe_status, follow, require_result

__all__ = ["cancel", "results", "run", "status", "status_table"]

# A table is for reading on screen: without --limit it shows this many rows and says how many
# more there are. The other formats write everything.
TABLE_ROWS = 100


def _format(session: Session, sink: Sink) -> Format:
    chosen: Format | None = session.args.format
    if chosen is not None:
        return chosen
    # A person at a terminal wants a table; a pipe or a file wants every row, as CSV.
    return "table" if sink.is_terminal else "csv"


async def _write_result(
    session: Session,
    source: ResultSource,
    sink: Sink,
    total: int | None,
) -> int | None:
    """Write a finished result in the chosen format; return the rows written when known."""
    format_ = _format(session, sink)
    display = session.display
    if format_ == "csv":
        return await copy_csv(session.dune, source, sink, display, total=total)
    clipped = False
    if format_ == "table" and source.limit is None:
        clipped = total is None or total > TABLE_ROWS
        source = ResultSource(
            source.execution_id, source.query_id, source.allow_partial, TABLE_ROWS, source.page_size
        )
    written = await copy_rows(session.dune, source, make_row_writer(format_, sink), display)
    if clipped and total is not None and total > written:
        display.note(
            f"showing the first {written:,} of {total:,} rows"
            " (use --limit N, --format csv|json or --output FILE for more)"
        )
    return written


def _source(session: Session, **ids: Any) -> ResultSource:
    args = session.args
    return ResultSource(
        allow_partial=args.allow_partial,
        limit=args.limit,
        page_size=args.page_size,
        **ids,
    )


def _saved(sink: Sink, rows: int | None) -> str:
    count = f"{rows:,} rows" if rows is not None else "result"
    return f"{count} written to {sink.path}"


async def run(session: Session) -> int:
    """Start a saved query (``run``) or raw SQL (``sql``), wait for it and write its result."""
    args = session.args
    dune = session.dune
    sink = Sink(None if args.no_wait else args.output)
    if not args.no_wait:
        sink.open()  # an unwritable --output fails here, before an execution is paid for
    try:
        if args.command == "run":
            response = await dune.execute_query(
                args.query_id, parameters=dict(args.param), performance=args.performance
            )
        else:
            response = await dune.execute_sql(args.sql_text, performance=args.performance)
        execution_id = response.execution_id
        session.tracker.start(execution_id)
        if args.no_wait:
            sys.stdout.write(execution_id + "\n")
            sys.stdout.flush()
            return ExitCode.OK
        session.display.note(f"started execution {execution_id}")
        final = await follow(
            dune, execution_id, session.display, timeout=args.timeout, tracker=session.tracker
        )
        total = require_result(final, allow_partial=args.allow_partial)
        rows = await _write_result(
            session, _source(session, execution_id=execution_id), sink, total
        )
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    if sink.path is not None:
        session.display.note(_saved(sink, rows))
    return ExitCode.OK


async def results(session: Session) -> int:
    """Write the result of a finished execution, or the latest result of a saved query."""
    args = session.args
    sink = Sink(args.output)
    sink.open()
    try:
        total: int | None = None
        if args.query:
            source = _source(session, query_id=args.query)
        else:
            # The status first: it says whether there is a result at all, and how big it is.
            final = await session.dune.get_execution_status(args.execution_id)
            total = require_result(final, allow_partial=args.allow_partial)
            source = _source(session, execution_id=args.execution_id)
        rows = await _write_result(session, source, sink, total)
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    if sink.path is not None:
        session.display.note(_saved(sink, rows))
    return ExitCode.OK


_STATUS_COLUMNS = (
    "execution_id",
    "state",
    "query_id",
    "submitted_at",
    "ended_at",
    "rows",
    "detail",
)


def _status_row(status: ExecutionStatus) -> list[str]:
    metadata = status.result_metadata
    rows = metadata.total_row_count if metadata is not None else None
    detail = ""
    if status.error is not None:
        detail = str(status.error)
    elif status.queue_position is not None and not status.is_finished:
        detail = f"queue position {status.queue_position}"
    ended = status.execution_ended_at or status.cancelled_at
    return [
        status.execution_id or "",
        short_state(status.state),
        cell(status.query_id),
        status.submitted_at.isoformat() if status.submitted_at else "",
        ended.isoformat() if ended else "",
        cell(rows),
        detail,
    ]


def status_table(statuses: list[ExecutionStatus]) -> str:
    """Lay out statuses as a table: id, state, query, times, rows and error or queue position."""
    rows = [_status_row(s) for s in statuses]
    return render_table(_STATUS_COLUMNS, rows, rich=sys.stdout.isatty())


async def status(session: Session) -> int:
    """Print the status of each execution, as a table or as JSON."""
    args = session.args
    statuses = [await session.dune.get_execution_status(eid) for eid in args.execution_ids]
    if args.format == "json":
        sys.stdout.write(msgspec.json.encode(statuses).decode() + "\n")
    else:
        sys.stdout.write(status_table(statuses))
    sys.stdout.flush()
    return ExitCode.OK


async def cancel(session: Session) -> int:
    """Ask Dune to cancel each execution; exit 1 if it refused any (e.g. already finished)."""
    refused = 0
    for execution_id in session.args.execution_ids:
        accepted = await session.dune.cancel_execution(execution_id)
        if accepted:
            sys.stdout.write(f"{execution_id}: cancelled\n")
        else:
            refused += 1
            current = await session.dune.get_execution_status(execution_id)
            sys.stdout.write(f"{execution_id}: not cancelled ({describe_status(current)})\n")
    sys.stdout.flush()
    return ExitCode.EXECUTION_FAILED if refused else ExitCode.OK
