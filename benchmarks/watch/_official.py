"""The official client (dune-client) in scenario 1, run in the benchmark venv.

``python _official.py BASE_URL API_KEY --count 300 --stagger 0 --ping 5`` does what its
``run_query`` does, once per execution, all under ``asyncio.gather``: execute, then
``get_execution_status`` every ``--ping`` seconds until a terminal state. A status call that
still fails after the client's own retries (five attempts on 429) is counted and the loop
goes on, as a caller must do to get an answer at all. Prints one JSON line: when each
execution's terminal state was learned (``time.monotonic``, the server's clock too), and the
errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from dune_client.client_async import AsyncDuneClient
from dune_client.models import ExecutionState
from dune_client.query import QueryBase
from dune_client.types import QueryParameter


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    detected: dict[str, float] = {}
    errors = 0
    terminal = ExecutionState.terminal_states()
    start = time.monotonic()
    async with AsyncDuneClient(args.api_key, base_url=args.base_url) as dune:

        async def one(n: int) -> None:
            nonlocal errors
            await asyncio.sleep(max(0.0, start + n * args.stagger / args.count - time.monotonic()))
            query = QueryBase(query_id=1, params=[QueryParameter.number_type("n", n)])
            job_id = (await dune.execute_query(query)).execution_id
            while True:
                try:
                    status = await dune.get_execution_status(job_id)
                except Exception:  # retries exhausted (429s): poll again later
                    errors += 1
                else:
                    if status.state in terminal:
                        detected[job_id] = time.monotonic()
                        return
                await asyncio.sleep(args.ping)

        await asyncio.gather(*(one(n) for n in range(args.count)))
    return {"detected": detected, "errors": errors, "wall": time.monotonic() - start}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("api_key")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--stagger", type=float, default=0.0)
    parser.add_argument("--ping", type=float, default=5.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args))), flush=True)


if __name__ == "__main__":
    main()
