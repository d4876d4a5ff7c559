"""Run the fake Dune API on a loopback port: `python -m duneasync.testing serve ...`.

It prints its base URL on one line, then serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

import anyio

from duneasync.testing._fake import DEFAULT_API_KEY, FakeDune
from duneasync.testing._ratelimit import PLANS
from duneasync.testing._server import serving

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m duneasync.testing")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the fake Dune API over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    serve.add_argument("--port", type=int, default=8000, help="port, 0 for any free one")
    serve.add_argument(
        "--plan", default="free", choices=[*sorted(PLANS), "none"], help="rate-limit plan"
    )
    serve.add_argument("--api-key", default=DEFAULT_API_KEY, help="the accepted API key")
    serve.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    serve.add_argument(
        "--auto-queries",
        action="store_true",
        help="invent a deterministic result for any query id instead of answering 404",
    )
    serve.add_argument("--max-page-rows", type=int, default=None, help="cap on rows per page")
    return parser


async def _serve(fake: FakeDune, host: str, port: int) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with serving(fake, host, port) as server:
            # The CLI's one output: the URL a client or a script waiting on it needs.
            print(server.base_url, flush=True)
            async for _ in signals:
                return


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and serve until interrupted; return the exit status."""
    args = _parser().parse_args(argv)
    fake = FakeDune(
        api_key=args.api_key,
        plan=None if args.plan == "none" else args.plan,
        seed=args.seed,
        auto_queries=args.auto_queries,
        max_page_rows=args.max_page_rows,
    )
    anyio.run(_serve, fake, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
