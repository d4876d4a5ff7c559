"""``PipelineWatch``: every node of a pipeline execution, from one status request per poll."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING

from .._models import PipelineNodeExecution, PipelineStatus
from .._watch import ItemProgress, Watch

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["PipelineWatch"]


class PipelineWatch:
    """Watch one pipeline execution and each of its nodes.

    Made by ``dune.pipelines.watch``. One pipeline-status request per poll reports every
    node, whatever their number::

        async with dune.pipelines.watch(pipeline_execution_id) as pipeline:
            async for node in pipeline.as_completed():
                logger.info("node %s: %s (%s)", node.id, node.status, node.execution_id)
    """

    def __init__(self, watch: Watch[PipelineStatus], pipeline_execution_id: str) -> None:
        self._watch = watch
        self.pipeline_execution_id = pipeline_execution_id

    def __repr__(self) -> str:
        return f"PipelineWatch({self.pipeline_execution_id!r})"

    async def __aenter__(self) -> Self:
        await self._watch.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._watch.__aexit__(exc_type, exc, tb)

    def status(self) -> PipelineStatus | None:
        """Return the latest status seen of the pipeline and its nodes."""
        return self._watch.status(self.pipeline_execution_id)

    def progress(self) -> ItemProgress:
        """Return the pipeline's progress (``percent``: share of nodes finished)."""
        return self._watch.progress(self.pipeline_execution_id)

    def changes(self) -> AsyncIterator[PipelineStatus]:
        """Yield the pipeline's status each time it or one of its nodes changes."""
        return self._watch.changes()

    async def as_completed(self) -> AsyncIterator[PipelineNodeExecution]:
        """Yield each node as it finishes, then the nodes that never ran once the pipeline ends.

        A node's outcome is a value: ``status`` is ``completed``, ``failed``, ``cancelled``...
        with ``error`` and ``execution_id`` (its results are read through it).

        Raises:
            WatchTimeoutError: The deadline passed first.
        """
        seen: set[int | None] = set()
        last: PipelineStatus | None = None
        async for status in self._watch.changes():
            last = status
            for node in status.node_executions:
                if node.is_finished and node.id not in seen:
                    seen.add(node.id)
                    yield node
        if last is not None:
            for node in last.node_executions:
                if node.id not in seen:
                    seen.add(node.id)
                    yield node

    async def wait(self) -> PipelineStatus:
        """Wait until the pipeline finishes and return its final status.

        Raises:
            WatchTimeoutError: The deadline passed first.
        """
        final = (await self._watch.wait()).get(self.pipeline_execution_id)
        if final is None:  # pragma: no cover - a watch ends with a status or raises
            raise RuntimeError("the pipeline watch ended without a status")
        return final
