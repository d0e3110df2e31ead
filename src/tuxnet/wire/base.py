"""Shared helpers for the wire codecs: "enum or int" lookups and a field-based ``__eq__``/``__repr__``.

Wire enums are ``IntEnum``; a value the enum does not know is kept as the plain ``int`` (Linux
passes unknown EtherTypes, protocols and ICMP types up unchanged, and so must we).  The lookup is a
dict ``get`` on the enum's value map, so it costs one hash probe per field on the hot path instead
of an ``Enum.__call__``.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

__all__ = ["Fields", "enum_lookup", "enum_or_int"]

E = TypeVar("E", bound=Enum)


def enum_or_int(cls: type[E], value: int) -> E | int:
    """Return the member of ``cls`` with ``value``, or ``value`` itself when ``cls`` has none."""
    return cls._value2member_map_.get(value, value)  # type: ignore[return-value]


def enum_lookup(cls: type[E]) -> Callable[[int], E | int]:
    """Return a fast one-argument ``enum_or_int(cls, .)`` for use in parsers."""
    get = cls._value2member_map_.get

    def lookup(value: int) -> E | int:
        return get(value, value)  # type: ignore[return-value]

    lookup.__name__ = f"lookup_{cls.__name__}"
    return lookup


def _fmt(value: Any) -> str:
    if isinstance(value, Enum):
        return f"{type(value).__name__}.{value.name}"
    return repr(value)


class Fields:
    """Mixin for ``__slots__`` records: equality and repr over the names in ``_FIELDS``."""

    __slots__ = ()
    _FIELDS: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._FIELDS)

    __hash__ = None  # type: ignore[assignment]  # mutable records

    def __repr__(self) -> str:
        args = ", ".join(f"{f}={_fmt(getattr(self, f))}" for f in self._FIELDS)
        return f"{type(self).__name__}({args})"
