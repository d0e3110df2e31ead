"""tcpdump's link layer: print-ether.c (Ethernet II, 802.3 lengths, 802.1Q/QinQ tags, the
EtherType demux) and print-arp.c (ARP and RARP requests and replies)."""

from __future__ import annotations

import struct

from tuxnet.wire.arp import ArpPacket
from tuxnet.wire.errors import WireError
from tuxnet.wire.ethernet import EthHeader

from .common import PrinterBase, Trunc, ip4, mac

# fmt: off
ETHERTYPES = {
    0x0800: "IPv4", 0x0806: "ARP", 0x8035: "Reverse ARP", 0x8100: "802.1Q", 0x86DD: "IPv6",
    0x88A8: "802.1Q-QinQ", 0x9100: "802.1Q-9100", 0x9200: "802.1Q-9200", 0x88CC: "LLDP",
    0x9000: "Loopback", 0x8863: "PPPoE D", 0x8864: "PPPoE S", 0x8847: "MPLS unicast",
    0x8848: "MPLS multicast", 0x888E: "EAPOL", 0x8809: "Slow Protocols", 0x88F7: "PTP",
    0x809B: "Appletalk", 0x80F3: "Appletalk ARP", 0x8137: "IPX", 0x6003: "DN", 0x6004: "LAT",
    0x6001: "MOP DL", 0x6002: "MOP RC",
}
_ARPOPS = {
    1: "Request", 2: "Reply", 3: "Reverse Request", 4: "Reverse Reply", 8: "Inverse Request",
    9: "Inverse Reply", 10: "NACK Reply",
}
# fmt: on


def link_header_len(frame: bytes) -> int:
    """Bytes of link-layer header tcpdump skips for ``-X``/``-A`` (14, plus 4 per VLAN tag)."""
    off = 12
    while len(frame) >= off + 2 and int.from_bytes(frame[off : off + 2], "big") in (
        0x8100,
        0x88A8,
        0x9100,
        0x9200,
    ):
        off += 4
    return min(off + 2, len(frame))


class EtherPrinter(PrinterBase):
    """print-ether.c and print-arp.c; ``ethertype`` hands IPv4 and IPv6 to those printers."""

    def ether(self, length: int) -> int:
        """print-ether.c ether_common_print(); returns the link-layer header length."""
        p = self.p
        caplen = len(p)
        if length < caplen:
            self.w(f"[length {length} < caplen {caplen}] (invalid)")
            return length
        if caplen < 14:
            raise Trunc("ether")
        try:
            eth = EthHeader.parse(p)
        except WireError:
            eth = None
        src, dst = p[6:12], p[0:6]
        if self.eflag:
            self.w(f"{mac(src)} > {mac(dst)}, ")
        off = 12
        printed_length = False
        while True:
            ltype = int.from_bytes(p[off : off + 2], "big")
            off += 2
            if ltype <= 1500:
                if self.eflag:
                    self.w(f"802.3, length {ltype}: ")
                else:
                    self.w(f"{mac(src)} > {mac(dst)}, 802.3, length {ltype}: ")
                self.default_print(p[off : off + ltype])
                return off
            if ltype in (0x8100, 0x88A8, 0x9100, 0x9200):
                if self.eflag:
                    self.w(f"ethertype {ETHERTYPES.get(ltype, 'Unknown')} (0x{ltype:04x})")
                    self.w(f", length {length}: " if not printed_length else ", ")
                    printed_length = True
                if caplen - off < 4:
                    self.proto = "vlan"
                    raise Trunc("vlan")
                if self.eflag:
                    if eth is not None and off == 14 and eth.vlan_tci is not None:
                        tci = eth.vlan_tci
                    else:
                        tci = int.from_bytes(p[off : off + 2], "big")
                    dei = ", DEI" if tci & 0x1000 else ""
                    self.w(f"vlan {tci & 0xFFF}, p {tci >> 13}{dei}, ")
                off += 2
                continue
            if self.eflag:
                self.w(f"ethertype {ETHERTYPES.get(ltype, 'Unknown')} (0x{ltype:04x})")
                self.w(f", length {length}: " if not printed_length else ", ")
            hdrlen = off
            if not self.ethertype(ltype, off, length - off):
                if not self.eflag:
                    self.w(
                        f"{mac(src)} > {mac(dst)}, ethertype {ETHERTYPES.get(ltype, 'Unknown')} "
                        f"(0x{ltype:04x}), length {length}: "
                    )
                self.default_print(p[off:])
            return hdrlen

    def ethertype(self, ltype: int, off: int, length: int) -> bool:
        if ltype == 0x0800:
            self.ip(off, length)
        elif ltype in (0x0806, 0x8035):
            self.arp(off, length)
        elif ltype == 0x86DD:
            self.ip6(off, length)
        else:
            return False
        return True

    # -- ARP -----------------------------------------------------------------------------------
    def arp(self, off: int, length: int) -> None:
        self.proto = "arp"
        p = self.p
        if len(p) - off < 8:
            raise Trunc("arp")
        hrd, pro, hln, pln, op = struct.unpack_from("!HHBBH", p, off)
        if len(p) - off < 8 + 2 * hln + 2 * pln:
            raise Trunc("arp")
        if not self.eflag:
            self.w("ARP, ")
        if pro != 0x0800 or pln != 4 or hln != 6 or hrd != 1 or self.v:
            hw = "Ethernet" if hrd == 1 else f"Unknown Hardware ({hrd})"
            pr = ETHERTYPES.get(pro, f"Unknown Protocol (0x{pro:04x})")
            self.w(f"{hw} (len {hln}), {pr} (len {pln})")
            if not self.v or hln != 6 or pln != 4:
                self.w(f", length {length}")
                return
        try:
            a = ArpPacket.parse(p, off)
        except WireError:
            raise Trunc("arp") from None
        self.w(f"{', ' if self.v else ''}{_ARPOPS.get(int(a.op), f'Unknown ({int(a.op)})')} ")
        op = int(a.op)
        if op == 1:
            self.w(f"who-has {ip4(a.tpa)}")
            if any(a.tha):
                self.w(f" ({mac(a.tha)})")
            self.w(f" tell {ip4(a.spa)}")
        elif op == 2:
            self.w(f"{ip4(a.spa)} is-at {mac(a.sha)}")
        elif op in (3, 8):
            self.w(f"who-is {mac(a.tha)} tell {mac(a.sha)}")
        elif op == 4:
            self.w(f"{mac(a.tha)} at {ip4(a.tpa)}")
        elif op == 9:
            self.w(f"{mac(a.sha)} at {ip4(a.spa)}")
        else:
            self.default_print(p[off:])
            return
        self.w(f", length {length}")
