"""ARP packets for Ethernet / IPv4 (RFC 826).

Mirrors ``struct arphdr`` plus the Ethernet/IPv4 address block that arp_process()
(net/ipv4/arp.c) reads after it: 28 bytes.  Like arp_rcv(), a hardware address length other
than 6 or a protocol address length other than 4 is rejected (``WireError``); the hardware and
protocol types are kept as read (arp_process() decides what it accepts: ARPHRD_ETHER or
ARPHRD_IEEE802 with ETH_P_IP).  Bytes after the 28 (Ethernet minimum-frame padding) are ignored.
Protocol addresses are ints, hardware addresses 6-byte ``bytes``.
"""

from __future__ import annotations

import struct
from enum import IntEnum

from .base import Fields
from .errors import WireError

__all__ = ["ARPHRD_ETHER", "ARPHRD_IEEE802", "ETH_P_IP", "ArpOp", "ArpPacket"]

ARPHRD_ETHER = 1
ARPHRD_IEEE802 = 6
ETH_P_IP = 0x0800


class ArpOp(IntEnum):
    """``ARPOP_*`` (include/uapi/linux/if_arp.h)."""

    REQUEST = 1
    REPLY = 2
    RREQUEST = 3
    RREPLY = 4
    InREQUEST = 8
    InREPLY = 9
    NAK = 10


_OP_GET = ArpOp._value2member_map_.get
_ARP = struct.Struct("!HHBBH6sI6sI")


class ArpPacket(Fields):
    """An Ethernet/IPv4 ARP packet: ``ArpPacket(op, sha, spa, tha, tpa)``."""

    __slots__ = ("htype", "op", "ptype", "sha", "spa", "tha", "tpa")
    _FIELDS = ("htype", "ptype", "hlen", "plen", "op", "sha", "spa", "tha", "tpa")
    LEN = 28
    hlen = 6  # the only lengths this codec represents; parse() rejects others
    plen = 4

    def __init__(
        self,
        op: int,
        sha: bytes,
        spa: int,
        tha: bytes,
        tpa: int,
        htype: int = ARPHRD_ETHER,
        ptype: int = ETH_P_IP,
    ) -> None:
        self.op = op
        self.sha = sha
        self.spa = spa
        self.tha = tha
        self.tpa = tpa
        self.htype = htype
        self.ptype = ptype

    @classmethod
    def parse(cls, buf: bytes | bytearray | memoryview, off: int = 0) -> ArpPacket:
        """Parse the 28-byte packet at ``buf[off:]``; trailing bytes are padding."""
        try:
            htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(buf, off)
        except struct.error:
            raise WireError(f"arp: truncated packet ({max(len(buf) - off, 0)} bytes, need 28)") from None
        if hlen != 6 or plen != 4:
            raise WireError(f"arp: unsupported address lengths hlen={hlen} plen={plen}", "NOT_SPECIFIED")
        return cls(_OP_GET(op, op), sha, spa, tha, tpa, htype, ptype)

    def pack(self) -> bytes:
        """The 28 bytes of the packet (no padding: the device pads short frames)."""
        if len(self.sha) != 6 or len(self.tha) != 6:
            raise WireError("arp: hardware addresses must be 6 bytes", "NOT_SPECIFIED")
        try:
            return _ARP.pack(self.htype, self.ptype, 6, 4, self.op, self.sha, self.spa, self.tha, self.tpa)
        except struct.error as exc:
            raise WireError(f"arp: cannot encode {self!r}: {exc}", "NOT_SPECIFIED") from None

    def pack_into(self, buf: bytearray | memoryview, off: int = 0) -> int:
        """Write the packet into ``buf`` at ``off``; returns 28."""
        if len(self.sha) != 6 or len(self.tha) != 6:
            raise WireError("arp: hardware addresses must be 6 bytes", "NOT_SPECIFIED")
        try:
            _ARP.pack_into(
                buf, off, self.htype, self.ptype, 6, 4, self.op, self.sha, self.spa, self.tha, self.tpa
            )
        except struct.error as exc:
            raise WireError(f"arp: cannot encode {self!r}: {exc}", "NOT_SPECIFIED") from None
        return 28
