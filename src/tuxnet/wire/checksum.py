"""The Internet checksum (RFC 1071) and its incremental update (RFC 1624).

Mirrors include/net/checksum.h and lib/checksum.c: ``csum_partial`` accumulates a running
ones-complement sum (Linux's ``__wsum``), ``csum_fold`` folds it to the 16-bit complemented
checksum (``__sum16``), ``csum_tcpudp_nofold`` is :func:`pseudo_header_sum`, and
``csum_replace2``/``csum_replace4`` patch a checksum after a 16/32-bit field changed.

Values are host-order ints: a 16-bit word is the big-endian value of two bytes on the wire, so
``check`` as read by ``struct.unpack("!H")`` can be compared with what these functions return.

Speed: the sum of the 16-bit big-endian words of a buffer is congruent, modulo 0xFFFF, to the
buffer read as one big-endian integer (because 2**16 == 1 mod 0xFFFF).  :func:`csum_partial`
reads the buffer in 4 KiB chunks with ``int.from_bytes`` (each chunk starts at an even offset, so
the chunks simply add up) and reduces once: about 60 us for a 64 KiB buffer on CPython 3.11.
"""

from __future__ import annotations

__all__ = [
    "csum_add",
    "csum_block_add",
    "csum_fold",
    "csum_partial",
    "csum_replace2",
    "csum_replace4",
    "inet_checksum",
    "l4_checksum",
    "pseudo_header_sum",
]

_CHUNK = 4096  # even, so every chunk starts on a 16-bit word boundary
_from_bytes = int.from_bytes


def _fold16(total: int) -> int:
    """Ones-complement fold of a non-negative sum into 0..0xFFFF (0 only for an all-zero sum)."""
    if total <= 0xFFFF:
        return total
    return (total - 1) % 0xFFFF + 1


def csum_partial(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """Ones-complement sum of ``data`` (16-bit big-endian words, odd tail zero-padded) plus ``initial``.

    Returns the running sum folded to 0..0xFFFF, which is a valid ``initial`` for a further call
    (when the next block starts at an even offset; see :func:`csum_block_add`) and a valid input
    to :func:`csum_fold`.
    """
    length = len(data)
    if length <= _CHUNK:
        total = _from_bytes(data, "big")
        if length & 1:
            total <<= 8
    else:
        view = memoryview(data)
        full = length - length % _CHUNK
        total = sum([_from_bytes(view[i : i + _CHUNK], "big") for i in range(0, full, _CHUNK)])
        if full != length:
            tail = _from_bytes(view[full:], "big")
            total += tail << 8 if length & 1 else tail
    return _fold16(_fold16(total) + initial)


def csum_fold(csum: int) -> int:
    """Fold a running sum to 16 bits and complement it: the checksum field value (csum_fold())."""
    while csum >> 16:
        csum = (csum & 0xFFFF) + (csum >> 16)
    return ~csum & 0xFFFF


def csum_add(csum: int, addend: int) -> int:
    """Ones-complement addition of two running sums (csum_add())."""
    return _fold16(csum + addend)


def csum_block_add(csum: int, csum2: int, offset: int) -> int:
    """Add the sum ``csum2`` of a block that starts at byte ``offset`` (csum_block_add()).

    A block at an odd offset has its bytes in the other halves of the words, so its sum is
    byte-swapped before it is added.
    """
    csum2 = _fold16(csum2)
    if offset & 1:
        csum2 = ((csum2 & 0xFF) << 8) | (csum2 >> 8)
    return _fold16(csum + csum2)


def inet_checksum(data: bytes | bytearray | memoryview) -> int:
    """RFC 1071 checksum of ``data``; over a block that contains a correct checksum it is 0."""
    return csum_fold(csum_partial(data))


def pseudo_header_sum(src: int, dst: int, proto: int, length: int) -> int:
    """Running sum of the IPv4 pseudo header of RFC 793/768 (csum_tcpudp_nofold())."""
    return (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + proto + length


def l4_checksum(src: int, dst: int, proto: int, segment: bytes | bytearray | memoryview) -> int:
    """TCP/UDP checksum of ``segment`` (header + payload) with the IPv4 pseudo header.

    To compute a checksum the checksum field inside ``segment`` must be zero; over a received
    segment the result is 0 when the checksum is correct.  UDP's "0 is sent as 0xFFFF" rule
    (RFC 768) is the caller's business (see :mod:`tuxnet.wire.udp`).
    """
    return csum_fold(csum_partial(segment, pseudo_header_sum(src, dst, proto, len(segment))))


def csum_replace2(check: int, old: int, new: int) -> int:
    """New checksum after a 16-bit word changed from ``old`` to ``new``.

    RFC 1624 eqn. 3, ``HC' = ~(~HC + ~m + m')``, as Linux's csum_replace2() computes it; unlike
    eqn. 2 of RFC 1141 it never turns a correct checksum into the -0 form 0xFFFF wrongly.
    """
    total = (~check & 0xFFFF) + (~old & 0xFFFF) + new
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def csum_replace4(check: int, old: int, new: int) -> int:
    """New checksum after a 32-bit field (an IPv4 address) changed: csum_replace4(), RFC 1624 eqn. 3."""
    total = (~check & 0xFFFF) + (~old >> 16 & 0xFFFF) + (~old & 0xFFFF) + (new >> 16) + (new & 0xFFFF)
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
