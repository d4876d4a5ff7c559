"""A stateful, deterministic fake of the Dune API for tests, demos and benchmarks.

```python
from duneasync.testing import FakeDune, ManualClock, Table, ExecutionScript

clock = ManualClock()
fake = FakeDune(clock=clock)
fake.add_query(1234, Table.generated(1_000), script=ExecutionScript.completed(executing=5))
async with httpx.AsyncClient(transport=fake.transport(), base_url="https://api.dune.com") as http:
    ...
```

See `docs/testing.md` for the behaviours it implements and the choices it makes.
"""

from duneasync.testing._clock import Clock, ManualClock
from duneasync.testing._executions import ExecutionTruth
from duneasync.testing._fake import DEFAULT_API_KEY, FakeDune
from duneasync.testing._faults import Fault, Faults
from duneasync.testing._http import ENDPOINTS, Delivery, FakeResponse
from duneasync.testing._inprocess import FakeTransport
from duneasync.testing._ratelimit import PLANS, RatePlan
from duneasync.testing._results import DATAPOINT_CAP
from duneasync.testing._scripts import (
    CANCELLED,
    COMPLETED,
    COMPLETED_PARTIAL,
    EXECUTING,
    EXPIRED,
    FAILED,
    PENDING,
    ExecutionError,
    ExecutionScript,
)
from duneasync.testing._server import FakeServer
from duneasync.testing._state import Stats
from duneasync.testing._tables import SAMPLE_COLUMNS, Column, Table

__all__ = [
    "CANCELLED",
    "COMPLETED",
    "COMPLETED_PARTIAL",
    "DATAPOINT_CAP",
    "DEFAULT_API_KEY",
    "ENDPOINTS",
    "EXECUTING",
    "EXPIRED",
    "FAILED",
    "PENDING",
    "PLANS",
    "SAMPLE_COLUMNS",
    "Clock",
    "Column",
    "Delivery",
    "ExecutionError",
    "ExecutionScript",
    "ExecutionTruth",
    "FakeDune",
    "FakeResponse",
    "FakeServer",
    "FakeTransport",
    "Fault",
    "Faults",
    "ManualClock",
    "RatePlan",
    "Stats",
    "Table",
]
