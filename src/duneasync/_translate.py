"""httpx's failures as duneasync errors: the one place where they are translated.

The request core calls httpx and hands every ``httpx.TransportError`` and ``httpx.DecodingError``
it meets to these functions, so that no dependency's exception reaches a caller, and whether
the request may have reached the server is decided once.
"""

from __future__ import annotations

import httpx

from ._describe import describe_request
from ._errors import APIConnectionError, APITimeoutError, ResponseDecodeError, decode_error

__all__ = ["connection_error", "encoding_error"]

# Failures that happen before a byte of the request reaches the server: the server cannot have
# acted, so even a POST may be sent again.
_BEFORE_SENDING = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def connection_error(request: httpx.Request, exc: httpx.TransportError) -> APIConnectionError:
    """Describe a request that got no usable answer, and whether it may have been sent."""
    where = describe_request(request)
    kind = type(exc).__name__
    if isinstance(exc, httpx.LocalProtocolError):
        # httpx refused to write the request (e.g. a header value it cannot carry): nothing was
        # sent, and its message may quote the header, the key included, so it is not copied.
        return APIConnectionError(
            f"{where}: the request could not be written ({kind}); check the API key and the"
            " arguments for characters HTTP cannot carry",
            request=request,
            request_sent=False,
        )
    sent = False if isinstance(exc, _BEFORE_SENDING) else None
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"{where} timed out ({kind})", request=request, request_sent=sent)
    # httpx messages name the host and the OS error, never headers, so they are safe to quote.
    return APIConnectionError(
        f"{where}: could not get an answer from {request.url.host} ({kind}: {exc})",
        request=request,
        request_sent=sent,
    )


def encoding_error(
    request: httpx.Request, response: httpx.Response | None, exc: httpx.DecodingError
) -> ResponseDecodeError:
    """Describe a body that httpx could not decode (a lying ``Content-Encoding``)."""
    # A body whose Content-Encoding lies (says gzip, is plain): broken like a body cut short.
    readable = httpx.Response(
        response.status_code if response is not None else 200,
        headers={}
        if response is None
        else {"content-type": response.headers.get("content-type", "")},
        request=request,
    )
    return decode_error(request, readable, f"its Content-Encoding does not decode ({exc})")
