"""An adapter for a generic execution API, proof that the watch engine does not know Dune.

The API (``GET /api/v1/executions/{execution_id}/status`` with an ``X-API-Key`` header) answers
``{"execution_id", "status": "running" | "completed" | "failed" | "cancelled", "progress": 0-100,
"current_step", "result", "error": {"code", "message", "details"}, ...}``. Its progress percent
and current step reach ``ItemProgress`` and the ``on_progress`` callbacks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import msgspec

from ._checks import check_execution_id, parse_base_url
from ._errors import APIConnectionError, decode_error, status_error
from ._gate import RequestGate, SlotClaim
from ._retry import is_retryable, server_wait
from ._watch import Phase, Progress

__all__ = ["GenericExecutionError", "GenericExecutionSource", "GenericExecutionStatus"]

_ACTIVE: dict[str, Phase] = {
    "pending": "pending",
    "queued": "pending",
    "created": "pending",
    "running": "executing",
    "executing": "executing",
    "in_progress": "executing",
}


class GenericExecutionError(msgspec.Struct, kw_only=True):
    """The error of a failed execution."""

    code: str | None = None
    message: str | None = None
    details: str | None = None


class GenericExecutionStatus(msgspec.Struct, kw_only=True):
    """The status of one execution of the generic API; unknown fields are ignored."""

    execution_id: str | None = None
    status: str | None = None
    progress: float | None = None
    current_step: str | None = None
    result: Any = None
    error: GenericExecutionError | None = None
    metadata: dict[str, Any] | None = None
    updated_at: str | None = None
    completed_at: str | None = None
    failed_at: str | None = None

    @property
    def is_finished(self) -> bool:
        """Whether the execution will not change any more (any status not known as active)."""
        return (self.status or "").lower() not in _ACTIVE


_DECODER = msgspec.json.Decoder(GenericExecutionStatus)


class GenericExecutionSource:
    """Executions of the generic API, one status request per poll, through an optional gate.

    Args:
        base_url: The API's origin, e.g. ``https://api.example.com``.
        api_key: Sent in the ``X-API-Key`` header.
        http: The ``httpx.AsyncClient`` to send with (the caller closes it).
        gate: A rate gate (e.g. a ``RateBudget``) every request passes through. Give the
            same budget to the scheduler that watches this source: the slots it claims for
            polls are spent at this gate, and without one they are given back unspent.
    """

    max_batch = 1

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        http: httpx.AsyncClient,
        gate: RequestGate | None = None,
    ) -> None:
        self._base = parse_base_url(base_url)
        self._headers = {"X-API-Key": api_key, "Accept": "application/json"}
        self._http = http
        self._gate = gate

    def __repr__(self) -> str:
        return f"GenericExecutionSource(base_url={str(self._base)!r})"

    async def fetch(
        self, keys: Sequence[str], *, claim: SlotClaim | None = None
    ) -> Mapping[str, GenericExecutionStatus]:
        """Fetch the status of each execution (in practice, one), spending ``claim``."""
        found: dict[str, GenericExecutionStatus] = {}
        for key in keys:
            response = await self._send(
                "GET", f"/api/v1/executions/{check_execution_id(key)}/status", claim
            )
            claim = None
            try:
                found[key] = _DECODER.decode(response.content)
            except msgspec.ValidationError as exc:
                raise decode_error(response.request, response, str(exc), whole=True) from exc
            except msgspec.DecodeError as exc:
                raise decode_error(response.request, response, str(exc)) from exc
        return found

    def is_transient(self, error: Exception) -> bool:
        """Say whether a failed poll may succeed later: 429, 5xx, no answer, a body cut short."""
        return is_retryable(error, idempotent=True)

    def server_wait(self, error: Exception) -> float:
        """Return the ``Retry-After`` of a 429, 0 for any other failure."""
        return server_wait(error)

    def describe(self, status: GenericExecutionStatus) -> Progress:
        """Describe a status: ``completed``/``failed``/``cancelled`` and unknown words are done."""
        word = (status.status or "").lower()
        phase: Phase = "done" if status.is_finished else _ACTIVE[word]
        step = status.current_step
        if status.error is not None and status.error.message:
            step = status.error.message
        return Progress(state=word, phase=phase, percent=status.progress, step=step)

    async def cancel(self, key: str) -> None:
        """Cancel an execution (``POST /api/v1/executions/{id}/cancel``)."""
        await self._send("POST", f"/api/v1/executions/{check_execution_id(key)}/cancel")

    async def _send(self, method: str, path: str, claim: SlotClaim | None = None) -> httpx.Response:
        request = self._http.build_request(
            method,
            self._base.copy_with(path=self._base.path.rstrip("/") + path),
            headers=self._headers,
        )
        gate = self._gate
        if gate is not None and not (claim is not None and claim.spend(gate, "read")):
            await gate.acquire("read", background=method == "GET")
        try:
            response = await self._http.send(request)
        except httpx.TransportError as exc:
            if self._gate is not None:
                self._gate.record("read", None)
            raise APIConnectionError(
                f"{method} {path}: no answer from {request.url.host} ({type(exc).__name__})",
                request=request,
            ) from exc
        if self._gate is not None:
            self._gate.record("read", response)
        if not response.is_success:
            raise status_error(request, response)
        return response
