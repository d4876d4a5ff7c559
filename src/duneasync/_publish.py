"""Giving public names the module users import them from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

__all__ = ["publish"]


def publish(module: str, names: Iterable[str], namespace: Mapping[str, object]) -> None:
    """Set ``__module__`` of the classes and functions ``names`` to the public ``module``.

    Reprs, tracebacks, pickles and the API reference then say ``duneasync.NotFoundError``
    rather than the private module it lives in (``duneasync._errors.NotFoundError``), which may
    move. Names already published by a module nearer the top keep that module.

    msgspec Structs keep their own module: msgspec resolves a Struct's postponed annotations
    (``from __future__ import annotations``) in the namespace of ``__module__``, anew for every
    parametrisation such as ``ExecutionResult[Trade]``, so moving it breaks decoding. Their
    reprs name no module anyway.
    """
    for name in names:
        value: object = namespace[name]
        if isinstance(value, type) and issubclass(value, msgspec.Struct):
            continue
        if not isinstance(value, type) and not callable(value):
            continue  # constants and type aliases have no module of their own
        target: object = value
        current: object = getattr(target, "__module__", None)
        if isinstance(current, str) and current.startswith("duneasync._"):
            setattr(target, "__module__", module)  # noqa: B010  # any class or function
