"""Decoding response bodies: one msgspec decoder per type, built once and reused.

A body that is not JSON, or is cut short, is a ``ResponseDecodeError``, which a GET retries; a
whole JSON body that does not fit the type is a ``ResponseValidationError``, which nothing
retries: the same request would bring the same body.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import httpx
import msgspec

from ._errors import decode_error
from ._models import ExecutionResult

__all__ = ["decode_bytes", "decode_with", "decoding", "decoding_results", "results_decoder"]

T = TypeVar("T")


@functools.cache
def _decoder(type_: Hashable) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(type_)


def results_decoder(row_type: type[Any] | None) -> msgspec.json.Decoder[ExecutionResult[Any]]:
    """Return the decoder of a results page whose rows are ``row_type`` (dicts for None)."""
    return _decoder(ExecutionResult[row_type or dict[str, Any]])  # type: ignore[misc]  # a runtime type


def decode_bytes(decoder: msgspec.json.Decoder[T], body: bytes, response: httpx.Response) -> T:
    """Decode a body read apart from its response (see ``RequestCore.read``).

    Raises:
        ResponseDecodeError: The body is not JSON (or was cut short).
        ResponseValidationError: It is JSON that does not fit the decoder's type.
    """
    return _decode(decoder, body, response, apart=True)


def decode_with(decoder: msgspec.json.Decoder[T], response: httpx.Response) -> T:
    """Decode a response body, as ``decode_bytes`` does."""
    return _decode(decoder, response.content, response, apart=False)


def _decode(
    decoder: msgspec.json.Decoder[T], body: bytes, response: httpx.Response, *, apart: bool
) -> T:
    content = body if apart else None  # a response that holds its body needs no copy
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:  # ValidationError included: whole JSON of the wrong shape
        whole = isinstance(exc, msgspec.ValidationError)
        raise decode_error(
            response.request, response, str(exc), whole=whole, content=content
        ) from exc


def decoding(type_: type[T]) -> Callable[[httpx.Response], T]:
    """Return a function that decodes a response body into ``type_``."""
    decoder: msgspec.json.Decoder[T] = _decoder(type_)  # type: ignore[arg-type]  # classes hash
    return functools.partial(decode_with, decoder)


def decoding_results(row_type: type[Any] | None) -> Callable[[httpx.Response], Any]:
    """Return a function that decodes a results page with rows of ``row_type``."""
    return functools.partial(decode_with, results_decoder(row_type))
