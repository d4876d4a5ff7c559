"""Benchmark 3 over sockets: per-request client CPU, and 10,000 executions watched at once.

Every contender runs in its own process against one fake Dune process over loopback; the
official client runs in the benchmark venv (``BENCH_PYTHON``, default ``/work/bench-venv``).
"""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from duneasync import AiohttpTransport, DuneClient, PollPolicy, RateBudget
from duneasync.testing import DEFAULT_API_KEY

from ._harness import ROOT, Server

CONTENDERS = (
    "official",
    "httpx",
    "aiohttp",
    "duneasync-httpx",
    "duneasync-aiohttp",
    "duneasync-trio",
)
BENCH_PYTHON = os.environ.get("BENCH_PYTHON", "/work/bench-venv/bin/python")


def per_request_cpu(*, requests: int, rounds: int, inflight: int = 64) -> dict[str, Any]:
    """Return each contender's median CPU per request (and every round's figure)."""
    import json

    server = Server(read=100_000_000, write=100_000_000, median=1e6, cap=1e6)
    script = str(Path(__file__).with_name("_cpu_client.py"))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    rows: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    try:
        for _ in range(rounds):
            # Interleaved rounds: a slow moment of the machine hits every contender alike.
            for name in CONTENDERS:
                python = BENCH_PYTHON if name == "official" else sys.executable
                out = subprocess.run(
                    [
                        python,
                        script,
                        name,
                        server.base_url,
                        DEFAULT_API_KEY,
                        f"--requests={requests}",
                        f"--inflight={inflight}",
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=True,
                ).stdout
                figure = json.loads(out.strip().splitlines()[-1])["cpu_per_request_us"]
                rows[name].append(figure)
                print(f"  {name}: {figure:.0f} us", flush=True)
    finally:
        server.close()
    return {
        "requests": requests,
        "rounds": rounds,
        "inflight": inflight,
        "median_us": {name: statistics.median(values) for name, values in rows.items()},
        "all_us": rows,
    }


def _rss_mb() -> tuple[float, float]:
    """Return the current and the peak resident set size of this process, in MB."""
    current = peak = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            current = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return current, peak


def _reset_peak_rss() -> None:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


async def watched_over_sockets(
    *, count: int, seconds: float, transport: str = "httpx"
) -> dict[str, Any]:
    """Watch ``count`` never-ending executions over loopback; CPU per poll and memory."""
    server = Server(read=60_000, write=10_000_000, median=1e6, cap=1e6, cache_inflight=True)
    try:
        budget = RateBudget(read=60_000, write=10_000_000)  # 1,000 polls/s at most
        options: dict[str, Any] = {}
        if transport == "aiohttp":
            options["transport"] = AiohttpTransport()
        policy = PollPolicy(concurrency=64)
        async with DuneClient(
            DEFAULT_API_KEY,
            base_url=server.base_url,
            rate_budget=budget,
            poll_policy=policy,
            **options,
        ) as dune:
            ids: list[str] = []
            limiter = anyio.CapacityLimiter(64)

            async def submit(n: int) -> None:
                async with limiter:
                    ids.append((await dune.execute_query(1, parameters={"n": n})).execution_id)

            async with anyio.create_task_group() as tg:
                for n in range(count):
                    tg.start_soon(submit, n)
            before = budget.stats().sent["read"]
            _reset_peak_rss()
            base_rss, _ = _rss_mb()
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu = usage.ru_utime + usage.ru_stime
            started = time.perf_counter()
            async with dune.watch_executions(ids):
                await anyio.sleep(seconds)
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu = usage.ru_utime + usage.ru_stime - cpu
            wall = time.perf_counter() - started
            _, peak_rss = _rss_mb()
            polls = budget.stats().sent["read"] - before
        served = server.ask("stats")
    finally:
        server.close()
    return {
        "name": f"{count:,} executions watched for {seconds:g} s over loopback ({transport})",
        "polls": polls,
        "cpu_per_poll_us": 1e6 * cpu / max(polls, 1),
        "cpu_share": cpu / wall,
        "peak_rss_above_base_mb": peak_rss - base_rss,
        "rate_limited": served["rate_limited"],
    }
