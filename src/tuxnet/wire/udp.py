"""UDP header (RFC 768).

Mirrors ``struct udphdr`` (include/uapi/linux/udp.h) and the length checks of __udp4_lib_rcv()
(net/ipv4/udp.c): the length field must be at least 8 and no larger than the bytes received
(a shorter length trims the datagram).  Checksums use the IPv4 pseudo header; a computed 0 is
sent as 0xFFFF (RFC 768, Linux's CSUM_MANGLED_0) and a received 0 means "no checksum".
"""

from __future__ import annotations

import struct

from .base import Fields
from .checksum import csum_fold, csum_partial, pseudo_header_sum
from .errors import WireError

__all__ = ["UdpHeader", "udp_checksum_ok"]

_UDP = struct.Struct("!HHHH")
_IPPROTO_UDP = 17


class UdpHeader(Fields):
    """A UDP header: ``UdpHeader(sport, dport, length, check)``; ``length`` counts header + payload."""

    __slots__ = ("check", "dport", "length", "sport")
    _FIELDS = ("sport", "dport", "length", "check")
    LEN = 8

    def __init__(self, sport: int, dport: int, length: int = 8, check: int = 0) -> None:
        self.sport = sport
        self.dport = dport
        self.length = length
        self.check = check

    @classmethod
    def parse(
        cls, buf: bytes | bytearray | memoryview, off: int = 0, end: int | None = None, check_len: bool = True
    ) -> UdpHeader:
        """Parse the header at ``buf[off:]``; ``end`` is where the IP payload ends (default: end of
        ``buf``).  ``check_len=False`` skips the length-field checks (for headers quoted in ICMP)."""
        if end is None or end > len(buf):
            end = len(buf)
        avail = end - off
        if avail < 8:
            raise WireError(f"udp: truncated header ({max(avail, 0)} bytes)")
        sport, dport, length, check = _UDP.unpack_from(buf, off)
        if check_len and (length < 8 or length > avail):
            raise WireError(f"udp: bad length {length} for {avail} bytes")
        return cls(sport, dport, length, check)

    def compute_checksum(self, saddr: int, daddr: int, payload: bytes | bytearray | memoryview = b"") -> int:
        """The checksum of this header (its own ``check`` ignored) and ``payload``; never 0.

        The pseudo header uses ``self.length``, so set it to ``8 + len(payload)`` first.
        """
        n = self.length
        total = pseudo_header_sum(saddr, daddr, _IPPROTO_UDP, n) + self.sport + self.dport + n
        return csum_fold(csum_partial(payload, total)) or 0xFFFF

    def pack(
        self,
        saddr: int | None = None,
        daddr: int | None = None,
        payload: bytes | bytearray | memoryview = b"",
    ) -> bytes:
        """Header bytes.  With ``saddr``/``daddr`` the checksum is computed over the pseudo header,
        this header and ``payload``; without them ``self.check`` is written (0: no checksum)."""
        try:
            check = (
                self.check if saddr is None or daddr is None else self.compute_checksum(saddr, daddr, payload)
            )
            return _UDP.pack(self.sport, self.dport, self.length, check)
        except (struct.error, TypeError) as exc:
            raise WireError(f"udp: cannot encode {self!r}: {exc}", "NOT_SPECIFIED") from None

    def pack_into(
        self,
        buf: bytearray | memoryview,
        off: int = 0,
        saddr: int | None = None,
        daddr: int | None = None,
        payload: bytes | bytearray | memoryview = b"",
    ) -> int:
        """Write the header into ``buf`` at ``off`` (checksum as in :meth:`pack`); returns 8."""
        try:
            check = (
                self.check if saddr is None or daddr is None else self.compute_checksum(saddr, daddr, payload)
            )
            _UDP.pack_into(buf, off, self.sport, self.dport, self.length, check)
        except (struct.error, TypeError) as exc:
            raise WireError(f"udp: cannot encode {self!r}: {exc}", "NOT_SPECIFIED") from None
        return 8


def udp_checksum_ok(saddr: int, daddr: int, datagram: bytes | bytearray | memoryview) -> bool:
    """Verify a received datagram (header + payload, trimmed to its length field).

    A zero checksum field means the sender computed none (RFC 768) and is accepted, as Linux does
    for IPv4 unless the socket asks otherwise (udp_lib_checksum_complete()).
    """
    if len(datagram) < 8:
        return False
    if datagram[6] == 0 and datagram[7] == 0:
        return True
    return (
        csum_fold(csum_partial(datagram, pseudo_header_sum(saddr, daddr, _IPPROTO_UDP, len(datagram)))) == 0
    )
