"""The loopback fake Dune of the benchmarks, in its own process (it must not share our GIL).

Every execution of query 1 runs for a lognormal time drawn from its parameter ``n`` and the
seed, so the client side can be compared with the server's truth. Commands on stdin, one per
line, answered with one JSON line: ``truth`` (every execution's submission and end times on the
server's monotonic clock, which on Linux is the client's too) and ``stats``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys

from duneasync.testing import ExecutionScript, FakeDune, RatePlan, Table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--read", type=int, required=True)
    parser.add_argument("--write", type=int, required=True)
    parser.add_argument("--median", type=float, default=2.0)
    parser.add_argument("--cap", type=float, default=9.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache-inflight", action="store_true")
    args = parser.parse_args()

    def script(parameters: object) -> ExecutionScript:
        n = int(dict(parameters).get("n", 0))  # type: ignore[call-overload]
        rng = random.Random(f"{args.seed}:{n}")
        seconds = min(args.cap, rng.lognormvariate(math.log(args.median), 0.8))
        return ExecutionScript.completed(executing=seconds)

    fake = FakeDune(plan=RatePlan(write=args.write, read=args.read, window=60), seed=args.seed)
    fake.add_query(1, Table.generated(5), script=script)
    if args.cache_inflight:
        # The fake counts unfinished executions by scanning them all on every status request;
        # with 10,000 running that, not the client, would set the pace. The count is only
        # reported in the status body, so a count half a second old does no harm here.
        state = fake._state  # benchmark-only patch of the fake's bookkeeping
        count_now = state.inflight_count
        cached = [-1.0, 0]

        def inflight_count(now: float) -> int:
            if now - cached[0] >= 0.5:
                cached[:] = [now, count_now(now)]
            return int(cached[1])

        state.inflight_count = inflight_count  # type: ignore[method-assign]
    with fake.serve() as server:
        print(server.base_url, flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "truth":
                rows = []
                for execution_id in fake.execution_ids():
                    truth = fake.execution(execution_id)
                    rows.append([execution_id, truth.submitted_at, truth.ended_at, truth.state])
                print(json.dumps(rows), flush=True)
            elif command == "stats":
                stats = fake.stats
                print(
                    json.dumps(
                        {"requests": dict(stats.requests), "rate_limited": stats.rate_limited}
                    ),
                    flush=True,
                )
            elif command == "quit":
                break


if __name__ == "__main__":
    main()
