"""TCP sequence-number arithmetic modulo 2**32 (RFC 9293 section 3.4, RFC 1982).

Mirrors before()/after()/between() in include/net/tcp.h: ``a`` is before ``b`` when the signed
32-bit difference ``a - b`` is negative.  Sequence numbers in tuxnet are compared only through
these helpers, never with plain ``<``.  As in Linux, two numbers exactly 2**31 apart are each
"before" the other.
"""

from __future__ import annotations

__all__ = ["SEQ_MOD", "seq_add", "seq_after", "seq_before", "seq_between", "seq_max", "seq_min", "seq_sub"]

SEQ_MOD = 1 << 32
_MASK = 0xFFFFFFFF
_SIGN = 0x80000000


def seq_before(a: int, b: int) -> bool:
    """``a`` precedes ``b``: (s32)(a - b) < 0 (Linux before())."""
    return ((a - b) & _MASK) >= _SIGN


def seq_after(a: int, b: int) -> bool:
    """``a`` follows ``b``: before(b, a) (Linux after())."""
    return ((b - a) & _MASK) >= _SIGN


def seq_between(seq: int, low: int, high: int) -> bool:
    """``low <= seq <= high`` modulo 2**32: high - low >= seq - low (Linux between())."""
    return ((high - low) & _MASK) >= ((seq - low) & _MASK)


def seq_add(a: int, n: int) -> int:
    """``a + n`` modulo 2**32 (``n`` may be negative)."""
    return (a + n) & _MASK


def seq_sub(a: int, b: int) -> int:
    """Signed distance ``a - b`` as a 32-bit two's-complement value, in -2**31 .. 2**31 - 1."""
    d = (a - b) & _MASK
    return d - SEQ_MOD if d >= _SIGN else d


def seq_max(a: int, b: int) -> int:
    """The later of ``a`` and ``b`` (``after(a, b) ? a : b``)."""
    return a if ((b - a) & _MASK) >= _SIGN else b


def seq_min(a: int, b: int) -> int:
    """The earlier of ``a`` and ``b``."""
    return a if ((a - b) & _MASK) >= _SIGN else b
