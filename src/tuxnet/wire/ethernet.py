"""Ethernet II header with an optional 802.1Q tag (IEEE 802.3, IEEE 802.1Q).

Mirrors ``struct ethhdr`` / ``struct vlan_ethhdr`` (include/uapi/linux/if_ether.h,
include/linux/if_vlan.h) and the ``ETH_P_*`` numbers.  Like Linux's hardware-accelerated VLAN
path (``skb->vlan_proto``/``skb->vlan_tci``) one outer tag, TPID 0x8100 or 0x88A8, is taken
out of the header; an inner tag (QinQ) stays in the payload with its EtherType.  Values below
0x0600 are 802.3 length fields (eth_type_trans()) and, like unknown EtherTypes, are kept as ints.
MAC addresses are 6-byte ``bytes``.
"""

from __future__ import annotations

import struct
from enum import IntEnum

from .base import Fields
from .errors import WireError

__all__ = [
    "ETH_ALEN",
    "ETH_DATA_LEN",
    "ETH_FRAME_LEN",
    "ETH_HLEN",
    "ETH_P_802_3_MIN",
    "ETH_ZLEN",
    "VLAN_HLEN",
    "EthHeader",
    "EtherType",
]

ETH_ALEN = 6
ETH_HLEN = 14
VLAN_HLEN = 4
ETH_ZLEN = 60  # minimum frame without FCS; shorter frames are padded by the sender
ETH_DATA_LEN = 1500
ETH_FRAME_LEN = 1514
ETH_P_802_3_MIN = 0x0600
VLAN_VID_MASK = 0x0FFF
VLAN_PRIO_SHIFT = 13
VLAN_CFI_MASK = 0x1000


class EtherType(IntEnum):
    """``ETH_P_*`` protocol numbers (include/uapi/linux/if_ether.h)."""

    LOOP = 0x0060
    IPV4 = 0x0800  # ETH_P_IP
    ARP = 0x0806
    RARP = 0x8035
    VLAN = 0x8100  # ETH_P_8021Q
    IPV6 = 0x86DD
    SLOW = 0x8809  # LACP, marker
    MPLS_UC = 0x8847
    MPLS_MC = 0x8848
    PAE = 0x888E  # 802.1X
    QINQ = 0x88A8  # ETH_P_8021AD
    LLDP = 0x88CC
    PTP = 0x88F7  # ETH_P_1588
    LOOPBACK = 0x9000


_ETYPE_GET = EtherType._value2member_map_.get
_ETH = struct.Struct("!6s6sH")
_VLAN = struct.Struct("!HH")
_ETH_VLAN = struct.Struct("!6s6sHHH")
_TPID_VLAN = 0x8100
_TPID_QINQ = 0x88A8


class EthHeader(Fields):
    """An Ethernet header; ``vlan_tci`` is None for an untagged frame.

    ``ethertype`` is the protocol of the payload (the inner EtherType when tagged), an
    :class:`EtherType` member or a plain int when unknown.
    """

    __slots__ = ("dst", "ethertype", "src", "vlan_proto", "vlan_tci")
    _FIELDS = ("dst", "src", "ethertype", "vlan_tci", "vlan_proto")
    LEN = ETH_HLEN

    def __init__(
        self,
        dst: bytes,
        src: bytes,
        ethertype: int,
        vlan_tci: int | None = None,
        vlan_proto: int = EtherType.VLAN,
    ) -> None:
        self.dst = dst
        self.src = src
        self.ethertype = ethertype
        self.vlan_tci = vlan_tci
        self.vlan_proto = vlan_proto

    @property
    def hlen(self) -> int:
        """Bytes of header on the wire: 14, or 18 with a tag."""
        return ETH_HLEN if self.vlan_tci is None else ETH_HLEN + VLAN_HLEN

    @property
    def vlan_id(self) -> int | None:
        """The 12-bit VLAN id, or None when untagged."""
        return None if self.vlan_tci is None else self.vlan_tci & VLAN_VID_MASK

    @property
    def vlan_pcp(self) -> int:
        """The 3-bit priority code point (0 when untagged)."""
        return 0 if self.vlan_tci is None else self.vlan_tci >> VLAN_PRIO_SHIFT

    @property
    def vlan_dei(self) -> int:
        """The drop-eligible bit (formerly CFI)."""
        return 0 if self.vlan_tci is None else (self.vlan_tci >> 12) & 1

    @staticmethod
    def make_tci(vid: int, pcp: int = 0, dei: int = 0) -> int:
        """Build a TCI from its parts."""
        return (pcp & 7) << VLAN_PRIO_SHIFT | (dei & 1) << 12 | (vid & VLAN_VID_MASK)

    @classmethod
    def parse(cls, buf: bytes | bytearray | memoryview, off: int = 0) -> EthHeader:
        """Parse the header at ``buf[off:]``; raises :class:`WireError` when truncated."""
        try:
            dst, src, etype = _ETH.unpack_from(buf, off)
            if etype in (_TPID_VLAN, _TPID_QINQ):
                tci, inner = _VLAN.unpack_from(buf, off + ETH_HLEN)
                return cls(dst, src, _ETYPE_GET(inner, inner), tci, _ETYPE_GET(etype, etype))
        except struct.error:
            raise WireError(f"ethernet: truncated header ({max(len(buf) - off, 0)} bytes)") from None
        return cls(dst, src, _ETYPE_GET(etype, etype))

    def _check(self) -> None:
        if len(self.dst) != ETH_ALEN or len(self.src) != ETH_ALEN:
            raise WireError(f"ethernet: MAC addresses must be {ETH_ALEN} bytes", "NOT_SPECIFIED")

    def pack(self) -> bytes:
        """The header bytes (14, or 18 with a tag)."""
        self._check()
        try:
            if self.vlan_tci is None:
                return _ETH.pack(self.dst, self.src, self.ethertype)
            return _ETH_VLAN.pack(self.dst, self.src, self.vlan_proto, self.vlan_tci, self.ethertype)
        except struct.error as exc:
            raise WireError(f"ethernet: cannot encode {self!r}: {exc}", "NOT_SPECIFIED") from None

    def pack_into(self, buf: bytearray | memoryview, off: int = 0) -> int:
        """Write the header into ``buf`` at ``off``; returns the number of bytes written."""
        self._check()
        try:
            if self.vlan_tci is None:
                _ETH.pack_into(buf, off, self.dst, self.src, self.ethertype)
                return ETH_HLEN
            _ETH_VLAN.pack_into(buf, off, self.dst, self.src, self.vlan_proto, self.vlan_tci, self.ethertype)
            return ETH_HLEN + VLAN_HLEN
        except struct.error as exc:
            raise WireError(f"ethernet: cannot encode {self!r}: {exc}", "NOT_SPECIFIED") from None
