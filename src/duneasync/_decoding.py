"""Decoding response bodies: one msgspec decoder per type, built once and reused."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import httpx
import msgspec

from ._errors import decode_error
from ._models import ExecutionResult

__all__ = ["decode_with", "decoding", "decoding_results", "results_decoder"]

T = TypeVar("T")


@functools.cache
def _decoder(type_: Hashable) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(type_)


def results_decoder(row_type: type[Any] | None) -> msgspec.json.Decoder[ExecutionResult[Any]]:
    """Return the decoder of a results page whose rows are ``row_type`` (dicts for None)."""
    return _decoder(ExecutionResult[row_type or dict[str, Any]])  # type: ignore[misc]  # a runtime type


def decode_with(decoder: msgspec.json.Decoder[T], response: httpx.Response) -> T:
    """Decode a response body, turning a bad body into ``ResponseDecodeError``."""
    try:
        return decoder.decode(response.content)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise decode_error(response.request, response, str(exc)) from exc


def decoding(type_: type[T]) -> Callable[[httpx.Response], T]:
    """Return a function that decodes a response body into ``type_``."""
    decoder: msgspec.json.Decoder[T] = _decoder(type_)  # type: ignore[arg-type]  # classes hash
    return functools.partial(decode_with, decoder)


def decoding_results(row_type: type[Any] | None) -> Callable[[httpx.Response], Any]:
    """Return a function that decodes a results page with rows of ``row_type``."""
    return functools.partial(decode_with, results_decoder(row_type))
