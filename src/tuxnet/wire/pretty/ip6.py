"""tcpdump's IPv6 and ICMPv6, as far as the frames a dual-stack neighbour sends: print-ip6.c (the
fixed header, ``-v`` fields, TCP/UDP/ICMPv6 demux) and print-icmp6.c (echo, neighbour discovery)."""

from __future__ import annotations

import ipaddress
import struct

from .common import PrinterBase, Trunc, v6_sum_ok
from .ip import IPPROTOS

# fmt: off
_ICMP6 = {
    1: "destination unreachable", 2: "packet too big", 3: "time exceeded", 4: "parameter problem",
    128: "echo request", 129: "echo reply", 130: "multicast listener query",
    131: "multicast listener report", 132: "multicast listener done", 133: "router solicitation",
    134: "router advertisement", 135: "neighbor solicitation", 136: "neighbor advertisement",
    137: "redirect", 143: "multicast listener report v2",
}
# fmt: on


class Ip6Printer(PrinterBase):
    """print-ip6.c and print-icmp6.c."""

    def ip6(self, off: int, length: int) -> None:
        self.proto = "ip6"
        p = self.p
        if not self.eflag:
            self.w("IP6 ")
        if len(p) - off < 40:
            raise Trunc("ip6")
        plen = int.from_bytes(p[off + 4 : off + 6], "big")
        nh = p[off + 6]
        src = ipaddress.IPv6Address(p[off + 8 : off + 24])
        dst = ipaddress.IPv6Address(p[off + 24 : off + 40])
        if self.v:
            flow = int.from_bytes(p[off : off + 4], "big") & 0xFFFFF
            tc = (int.from_bytes(p[off : off + 2], "big") >> 4) & 0xFF
            self.w("(")
            if tc:
                self.w(f"class 0x{tc:x}, ")
            if flow:
                self.w(f"flowlabel 0x{flow:05x}, ")
            self.w(
                f"hlim {p[off + 7]}, next-header {IPPROTOS.get(nh, 'unknown')} ({nh}) "
                f"payload length: {plen}) "
            )
        self.snapend = min(len(p), off + 40 + plen)
        cp = off + 40
        addrs = (str(src), str(dst))
        self.v6 = (src.packed, dst.packed)
        if nh == 6:
            self.tcp(cp, plen, addrs, False, (src.packed, dst.packed))
        elif nh == 17:
            self.udp(cp, plen, addrs, False)
        elif nh == 58:
            self.w(f"{src} > {dst}: ")
            if self.v and cp + plen <= len(p):
                ok, good = v6_sum_ok(src.packed, dst.packed, 58, p[cp : cp + plen])
                chk = int.from_bytes(p[cp + 2 : cp + 4], "big")
                self.w("[icmp6 sum ok] " if ok else f"[bad icmp6 cksum 0x{chk:04x} -> 0x{good:04x}!] ")
            self.icmp6(cp, plen)
        else:
            self.w(f"{src} > {dst}: ip-proto-{nh} {plen}")

    def icmp6(self, off: int, length: int) -> None:
        self.proto = "icmp6"
        p = self.p
        if self.snapend - off < 4:
            raise Trunc("icmp6")
        t = p[off]
        name = _ICMP6.get(t, f"unknown icmp6 type ({t})")
        self.w(f"ICMP6, {name}")
        if t in (128, 129):
            if self.snapend - off < 8:
                raise Trunc("icmp6")
            ident, seq = struct.unpack_from("!HH", p, off + 4)
            self.w(f", id {ident}, seq {seq}")
        elif t in (135, 136):
            if self.snapend - off < 24:
                raise Trunc("icmp6")
            tgt = ipaddress.IPv6Address(p[off + 8 : off + 24])
            self.w(f", {'who has' if t == 135 else 'tgt is'} {tgt}")
        if not self.v:
            self.w(f", length {length}")
