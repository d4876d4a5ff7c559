"""Extension points: build on duneasync's rate gate, poll scheduler and watchers.

What most code never needs, kept out of the top level: a ``RequestGate`` of your own in front
of every request, the ``PollScheduler`` and ``watch`` for any ``StatusSource`` (another
execution API, say), and ``GenericExecutionSource``, an adapter for a generic execution API
that shows the watch engine knows nothing of Dune::

    from duneasync.extend import GenericExecutionSource, watch

    budget = RateBudget(read=100)
    source = GenericExecutionSource(base_url=url, api_key=key, http=http, gate=budget)
    async with watch(source, ids, budget=budget) as watcher:
        async for status in watcher.as_completed():
            ...
"""

from ._budget import BudgetStats
from ._gate import Bucket, RequestGate, SlotClaim
from ._generic import GenericExecutionError, GenericExecutionSource, GenericExecutionStatus
from ._publish import publish
from ._setup import DEFAULT_BASE_URL
from ._watch import Phase, PollScheduler, Progress, SavedItem, StatusSource, watch

__all__ = [
    "DEFAULT_BASE_URL",
    "Bucket",
    "BudgetStats",
    "GenericExecutionError",
    "GenericExecutionSource",
    "GenericExecutionStatus",
    "Phase",
    "PollScheduler",
    "Progress",
    "RequestGate",
    "SavedItem",
    "SlotClaim",
    "StatusSource",
    "watch",
]

publish(__name__, __all__, globals())
