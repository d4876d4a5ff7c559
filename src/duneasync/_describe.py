"""How messages name requests and quote bodies, and the headers errors are built from.

Pure functions of what came over the wire; the API key is never among their inputs.
"""

from __future__ import annotations

import math
from typing import Any

import httpx
import msgspec

__all__ = ["body_excerpt", "describe_request", "error_message", "parse_retry_after"]

# Longest excerpt of an unexpected body quoted in a message: enough to recognise a proxy's HTML
# page, short enough to keep the message on one line.
_EXCERPT = 120


class _ErrorBody(msgspec.Struct):
    error: Any = None


_ERROR_BODY = msgspec.json.Decoder(_ErrorBody)


def describe_request(request: httpx.Request) -> str:
    """Name a request in a message: method and path, never the query string or headers."""
    return f"{request.method} {request.url.path}"


def body_excerpt(content: bytes) -> str:
    """Quote the start of an unexpected body on one line."""
    text = " ".join(content[:_EXCERPT].decode("utf-8", "replace").split())
    return text + ("..." if len(content) > _EXCERPT else "")


def error_message(content: bytes) -> str | None:
    """Return the ``error`` field of Dune's JSON error body, or None for any other body."""
    try:
        body = _ERROR_BODY.decode(content)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if isinstance(body.error, str):
        return body.error
    if isinstance(body.error, dict):
        # Some gateways nest the message: {"error": {"message": "..."}}.
        message = body.error.get("message")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        return message if isinstance(message, str) else None
    return None


def parse_retry_after(value: str | None) -> float | None:
    """Read ``Retry-After`` as seconds (Dune sends delta-seconds; dates are not used)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    # inf, nan and negative values are no delay a server can mean: ignore them.
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
