"""tcpdump's UDP and DNS: print-udp.c (ports, lengths, the IPv6 checksum check, the port demux)
and print-domain.c (queries and answers, mDNS classes, name compression)."""

from __future__ import annotations

import ipaddress
import struct

from tuxnet.wire.ipv4 import Ipv4Header
from tuxnet.wire.udp import UdpHeader

from .common import PrinterBase, Trunc, ip4, printable, v6_sum_ok

# fmt: off
_DNS_TYPES = {
    1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 10: "NULL", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT",
    17: "RP", 18: "AFSDB", 28: "AAAA", 29: "LOC", 33: "SRV", 35: "NAPTR", 39: "DNAME", 41: "OPT",
    43: "DS", 44: "SSHFP", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 50: "NSEC3", 52: "TLSA", 64: "SVCB",
    65: "HTTPS", 99: "SPF", 251: "IXFR", 252: "AXFR", 255: "ANY", 256: "URI", 257: "CAA",
}
# fmt: on
_DNS_CLASSES = {3: "CHAOS", 4: "HS", 254: "NONE", 255: "ANY"}
# fmt: off
_DNS_RCODES = {
    0: "", 1: " FormErr", 2: " ServFail", 3: " NXDomain", 4: " NotImp", 5: " Refused", 6: " YXDomain",
    7: " YXRRSet", 8: " NXRRSet", 9: " NotAuth", 10: " NotZone",
}
# fmt: on
_DNS_OPS = {0: "", 1: " inv_q", 2: " stat", 4: " notify", 5: " update"}


class UdpPrinter(PrinterBase):
    """print-udp.c and print-domain.c."""

    def udp(self, off: int, length: int, iph: Ipv4Header | tuple[str, str], fragmented: bool) -> None:
        self.proto = "udp"
        end = self.snapend
        if end - off < 4:
            self.addrs(iph, None, None, "udp")
            raise Trunc("udp")
        sport, dport = struct.unpack_from("!HH", self.p, off)
        if length < 8:
            self.addrs(iph, sport, dport, "udp")
            self.w(f" truncated-udp {length}")
            return
        if end - off < 8:
            self.addrs(iph, sport, dport, "udp")
            raise Trunc("udp")
        uh = UdpHeader.parse(self.p, off, end, check_len=False)
        ulen = uh.length
        if ulen < 8:
            self.addrs(iph, sport, dport, "udp")
            self.w(f" truncated-udplength {ulen}")
            return
        ulen -= 8
        length -= 8
        if ulen < length:
            length = ulen
        self.addrs(iph, sport, dport, "udp")
        if self.v and self.v6 is not None and off + 8 + length <= len(self.p):
            ok, good = v6_sum_ok(*self.v6, 17, self.p[off : off + 8 + length])
            self.w("[udp sum ok] " if ok else f"[bad udp cksum 0x{uh.check:04x} -> 0x{good:04x}!] ")
        data = self.p[off + 8 : end]
        if 53 in (sport, dport) or 5353 in (sport, dport):
            self.proto = "domain"
            self.dns(data, length, 5353 in (sport, dport) and 53 not in (sport, dport))
        elif ulen > length and not fragmented:
            self.w(f"UDP, bad length {ulen} > {length}")
        else:
            self.w(f"UDP, length {ulen}")

    # -- DNS -----------------------------------------------------------------------------------
    def dns(self, d: bytes, length: int, mdns: bool) -> None:
        if length < 12:
            self.w(f"domain [length {length} < 12] (invalid)")
            return
        if len(d) < 12:
            raise Trunc("domain")
        ident, flags, qd, an, ns, ar = struct.unpack_from("!6H", d)
        opcode = (flags >> 11) & 15
        ops = _DNS_OPS.get(opcode, f" op{opcode}")
        cp = 12
        if flags & 0x8000:
            rcode = flags & 15
            self.w(
                f"{ident}{ops}{_DNS_RCODES.get(rcode, f' Resp{rcode}')}{'*' if flags & 0x400 else ''}"
                f"{'' if flags & 0x80 else '-'}{'|' if flags & 0x200 else ''}"
            )
            if qd != 1:
                self.w(f" [{qd}q]")
            for _ in range(qd):
                cp = _dns_skip_name(d, cp) + 4
                if cp > len(d):
                    raise Trunc("domain")
            self.w(f" {an}/{ns}/{ar}")
            for i in range(an):
                if i:
                    if cp >= len(d):
                        raise Trunc("domain")
                    self.w(",")
                cp = self.dns_rr(d, cp, mdns)
        else:
            self.w(f"{ident}{ops}{'+' if flags & 0x100 else ''}{'%' if flags & 0x10 else ''}")
            if flags & 0x6CF:
                self.w(f" [b2&3=0x{flags:x}]")
            if opcode == 1:
                if qd:
                    self.w(f" [{qd}q]")
                if an != 1:
                    self.w(f" [{an}a]")
            else:
                if an:
                    self.w(f" [{an}a]")
                if qd != 1:
                    self.w(f" [{qd}q]")
            if ns:
                self.w(f" [{ns}n]")
            if ar:
                self.w(f" [{ar}au]")
            for i in range(qd):
                if i and cp >= len(d):
                    break
                name_end = _dns_skip_name(d, cp)
                if name_end + 4 > len(d):
                    raise Trunc("domain")
                qtype, qclass = struct.unpack_from("!HH", d, name_end)
                self.w(f" {_DNS_TYPES.get(qtype, f'Type{qtype}')}")
                cls = qclass & 0x7FFF if mdns else qclass
                if cls != 1:
                    self.w(f" {_DNS_CLASSES.get(cls, f'(Class {cls})')}")
                if mdns:
                    self.w(" (QU)" if qclass & 0x8000 else " (QM)")
                self.w(f"? {_dns_name(d, cp)}")
                cp = name_end + 4
        self.w(f" ({length})")

    def dns_rr(self, d: bytes, cp: int, mdns: bool) -> int:
        name_end = _dns_skip_name(d, cp)
        if name_end + 10 > len(d):
            raise Trunc("domain")
        typ, klass, _ttl, rdlen = struct.unpack_from("!HHIH", d, name_end)
        if self.v:
            self.w(f" {_dns_name(d, cp)}")
        cls = klass & 0x7FFF if mdns else klass
        if cls != 1 and typ != 41:
            self.w(f" {_DNS_CLASSES.get(cls, f'(Class {cls})')}")
        if mdns and klass & 0x8000:
            self.w(" (Cache flush)")
        rp = name_end + 10
        end = rp + rdlen
        self.w(f" {_DNS_TYPES.get(typ, f'Type{typ}')}")
        if end > len(d):
            raise Trunc("domain")
        if typ == 1 and rdlen >= 4:
            self.w(f" {ip4(int.from_bytes(d[rp : rp + 4], 'big'))}")
        elif typ == 28 and rdlen >= 16:
            self.w(f" {ipaddress.IPv6Address(d[rp : rp + 16])}")
        elif typ in (2, 5, 12, 39):
            self.w(f" {_dns_name(d, rp)}")
        elif typ == 15:
            self.w(f" {_dns_name(d, rp + 2)} {int.from_bytes(d[rp : rp + 2], 'big')}")
        elif typ == 33:
            prio, weight, port = struct.unpack_from("!HHH", d, rp)
            self.w(f" {_dns_name(d, rp + 6)}:{port} {prio} {weight}")
        elif typ == 16:
            i = rp
            while i < end:
                n = d[i]
                self.w(' "' + d[i + 1 : i + 1 + n].decode("latin-1") + '"')
                i += 1 + n
        elif typ == 41:
            self.w(f" UDPsize={klass}")
            if _ttl & 0x8000:
                self.w(" DO")
        return end


def _dns_skip_name(d: bytes, cp: int) -> int:
    """The offset after the (possibly compressed) name at ``cp``."""
    while True:
        if cp >= len(d):
            raise Trunc("domain")
        n = d[cp]
        if n == 0:
            return cp + 1
        if n & 0xC0 == 0xC0:
            return cp + 2
        cp += 1 + n


def _dns_name(d: bytes, cp: int) -> str:
    """fqdn_print(): labels with a trailing dot, following compression pointers."""
    labels: list[str] = []
    hops = 0
    while True:
        if cp >= len(d):
            raise Trunc("domain")
        n = d[cp]
        if n == 0:
            break
        if n & 0xC0 == 0xC0:
            if cp + 1 >= len(d):
                raise Trunc("domain")
            cp = ((n & 0x3F) << 8) | d[cp + 1]
            hops += 1
            if hops > 64:
                return "<LOOP>"
            continue
        label = d[cp + 1 : cp + 1 + n]
        if len(label) < n:
            raise Trunc("domain")
        labels.append("".join(chr(c) if printable(c) and c not in b".\\" else f"\\{c:03d}" for c in label))
        cp += 1 + n
    return ".".join(labels) + "." if labels else "."
