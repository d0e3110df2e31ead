"""tcpdump's IPv4 and ICMP: print-ip.c (header, ``-v`` fields and options, fragments, the
protocol demux) and print-icmp.c (echo, unreachables, redirects, time exceeded and the quoted
packet an error carries)."""

from __future__ import annotations

import struct

from tuxnet.wire.checksum import csum_fold, csum_partial
from tuxnet.wire.errors import WireError
from tuxnet.wire.icmp import IcmpHeader
from tuxnet.wire.ipv4 import Ipv4Header

from .common import PrinterBase, Trunc, ip4

# fmt: off
IPPROTOS = {
    0: "Options", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 8: "EGP", 9: "IGRP", 17: "UDP", 33: "DCCP",
    41: "IPv6", 43: "Routing", 44: "Fragment", 46: "RSVP", 47: "GRE", 50: "ESP", 51: "AH",
    55: "Mobile IP", 58: "ICMPv6", 62: "Mobile IP (old)", 88: "EIGRP", 89: "OSPF", 103: "PIM",
    108: "Compressed IP", 112: "VRRP", 113: "PGM", 132: "SCTP", 135: "Mobility",
}
# getprotobynumber() names tcpdump -n prints for a non-first fragment
_PROTO_NAMES = {
    1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah", 58: "ipv6-icmp",
    89: "ospf", 103: "pim", 112: "vrrp", 132: "sctp",
}
_ICMP_SIMPLE = {
    0: "echo reply", 4: "source quench", 8: "echo request", 10: "router solicitation",
    13: "time stamp request", 14: "time stamp reply", 15: "information request", 16: "information reply",
    17: "address mask request",
}
_UNREACH = {
    0: "net {} unreachable", 1: "host {} unreachable", 5: "{} unreachable - source route failed",
    6: "net {} unreachable - unknown", 7: "host {} unreachable - unknown",
    8: "{} unreachable - source host isolated", 9: "net {} unreachable - admin prohibited",
    10: "host {} unreachable - admin prohibited", 11: "net {} unreachable - tos prohibited",
    12: "host {} unreachable - tos prohibited", 13: "host {} unreachable - admin prohibited filter",
    14: "host {} unreachable - host precedence violation", 15: "host {} unreachable - precedence cutoff",
}
_IPOPT_NAMES = {
    0: "EOL", 1: "NOP", 68: "timestamp", 130: "security", 7: "RR", 137: "SSRR", 131: "LSRR", 148: "RA",
    82: "traceroute",
}
# fmt: on


class IpPrinter(PrinterBase):
    """print-ip.c and print-icmp.c; ``ip_demux`` hands TCP and UDP to those printers."""

    def ip(self, off: int, length: int) -> None:
        """print-ip.c ip_print(); ``length`` is what the layer below says the packet spans."""
        self.proto = "ip"
        p = self.p
        if len(p) > off and p[off] >> 4 != 4:
            ver = p[off] >> 4
            self.w("IP6, wrong link-layer encapsulation (invalid)" if ver == 6 else f"IP{ver} (invalid)")
            return
        if not self.eflag:
            self.w("IP ")
        if len(p) - off < 20:
            raise Trunc("ip")
        if length < 20:
            self.w(f"truncated-ip {length}")
            return
        hlen = (p[off] & 15) * 4
        if hlen < 20:
            self.w(f"bad-hlen {hlen}")
            return
        try:
            iph = Ipv4Header.parse(p, off, False, False)
        except WireError:
            raise Trunc("ip") from None
        tot = iph.tot_len
        if length < tot:
            self.w(f"truncated-ip - {tot - length} bytes missing! ")
        if tot < hlen:
            self.w(f"bad-len {tot}")
            return
        end = off + min(length, tot)  # the snapshot is cut to the IP payload
        self.snapend = min(len(p), end)
        plen = tot - hlen
        proto = int(iph.protocol)
        frag_off = iph.frag_off
        if self.v:
            self.ip_verbose(iph, off, hlen)
        src, dst = ip4(iph.saddr), ip4(iph.daddr)
        if frag_off & 0x1FFF == 0:
            if proto not in (6, 17, 132, 33):  # those print the addresses with the ports
                self.w(f"{src} > {dst}: ")
            self.ip_demux(off + hlen, plen, proto, bool(frag_off & 0x2000), iph)
        else:
            self.w(f"{src} > {dst}: {self.proto_name(proto)}")

    def proto_name(self, proto: int) -> str:
        name = None if self.numeric else _PROTO_NAMES.get(proto)
        return name or f"ip-proto-{proto}"

    def ip_verbose(self, iph: Ipv4Header, off: int, hlen: int) -> None:
        tos = iph.tos
        ecn = {0: "", 1: ",ECT(1)", 2: ",ECT(0)", 3: ",CE"}[tos & 3]
        self.w(f"(tos 0x{tos:x}{ecn}")
        if iph.ttl >= 1:
            self.w(f", ttl {iph.ttl}")
        fl = iph.frag_off
        names = [n for bit, n in ((0x2000, "+"), (0x4000, "DF"), (0x8000, "rsvd")) if fl & bit]
        proto = int(iph.protocol)
        self.w(
            f", id {iph.id}, offset {(fl & 0x1FFF) * 8}, flags [{', '.join(names) or 'none'}], "
            f"proto {IPPROTOS.get(proto, 'unknown')} ({proto}), length {iph.tot_len}"
        )
        if hlen > 20:
            self.w(", options (")
            self.w(_ip_options(self.p[off + 20 : off + hlen]))
            self.w(")")
        if off + hlen <= len(self.p):
            s = csum_fold(csum_partial(self.p[off : off + hlen]))
            if s != 0:
                fixed = bytearray(self.p[off : off + hlen])
                fixed[10:12] = b"\0\0"
                self.w(f", bad cksum {iph.check:x} (->{csum_fold(csum_partial(fixed)):x})!")
        self.w(")\n    ")

    def ip_demux(self, off: int, length: int, proto: int, fragmented: bool, iph: Ipv4Header) -> None:
        if proto == 6:
            self.tcp(off, length, iph, fragmented)
        elif proto == 17:
            self.udp(off, length, iph, fragmented)
        elif proto == 1:
            self.icmp(off, length, iph, fragmented)
        elif proto in (132, 33):
            self.proto = "sctp" if proto == 132 else "dccp"
            if self.snapend - off < 4:
                self.addrs(iph, None, None, "tcp")
                raise Trunc(self.proto)
            sport, dport = struct.unpack_from("!HH", self.p, off)
            self.addrs(iph, sport, dport, "tcp")
            self.w(self.proto)
        else:
            self.w(f" {self.proto_name(proto)} {length}")

    # -- ICMP ----------------------------------------------------------------------------------
    def icmp(self, off: int, plen: int, iph: Ipv4Header, fragmented: bool) -> None:
        self.proto = "icmp"
        end = self.snapend
        if end - off < 4:
            raise Trunc("icmp", jump=True)
        t, code = self.p[off], self.p[off + 1]
        try:
            ic = IcmpHeader.parse(self.p, off, end)
        except WireError:
            raise Trunc("icmp", jump=True) from None
        quoted_ip: Ipv4Header | None = None
        text = _ICMP_SIMPLE.get(t, f"type-#{t}")
        if t in (0, 8):
            text = f"echo {'reply' if t == 0 else 'request'}, id {ic.echo_id}, seq {ic.echo_seq}"
        elif t == 3:
            quoted_ip, qrest = self._quoted(ic)
            qdst = ip4(quoted_ip.daddr)
            if code == 2:
                text = f"{qdst} protocol {int(quoted_ip.protocol)} unreachable"
            elif code == 3:
                if len(qrest) < 4:
                    raise Trunc("icmp", jump=True)
                dport = int.from_bytes(qrest[2:4], "big")
                qp = int(quoted_ip.protocol)
                if qp == 6:
                    text = f"{qdst} tcp port {self.port(dport, 'tcp')} unreachable"
                elif qp == 17:
                    text = f"{qdst} udp port {self.port(dport, 'udp')} unreachable"
                else:
                    sport = int.from_bytes(qrest[0:2], "big")
                    text = f"{qdst} protocol {qp} port {sport} unreachable"
            elif code == 4:
                text = (
                    f"{qdst} unreachable - need to frag (mtu {ic.mtu})"
                    if ic.mtu
                    else f"{qdst} unreachable - need to frag"
                )
            else:
                text = _UNREACH.get(code, "{} unreachable - #" + str(code)).format(qdst)
        elif t == 5:
            quoted_ip, _ = self._quoted(ic)
            fmt = {
                0: "redirect {} to net {}",
                1: "redirect {} to host {}",
                2: "redirect-tos {} to net {}",
                3: "redirect-tos {} to host {}",
            }.get(code, f"redirect-#{code} {{}} to {{}}")
            text = fmt.format(ip4(quoted_ip.daddr), ip4(ic.gateway))
        elif t == 11:
            text = {0: "time exceeded in-transit", 1: "ip reassembly time exceeded"}.get(
                code, f"time exceeded-#{code}"
            )
        elif t == 12:
            text = f"parameter problem - code {code}" if code else f"parameter problem - octet {ic.pointer}"
        elif t == 13:
            text = f"time stamp query id {ic.echo_id} seq {ic.echo_seq}"
        elif t == 18:
            if len(ic.payload) < 4:
                raise Trunc("icmp", jump=True)
            text = f"address mask is 0x{int.from_bytes(ic.payload[:4], 'big'):08x}"
        self.w(f"ICMP {text}, length {plen}")
        if self.v and not fragmented and off + plen <= len(self.p):
            s = csum_fold(csum_partial(self.p[off : off + plen]))
            if s:
                fixed = bytearray(self.p[off : off + plen])
                fixed[2:4] = b"\0\0"
                self.w(f" (wrong icmp cksum {ic.check:x} (->{csum_fold(csum_partial(fixed)):x})!)")
        if self.v and t in (3, 4, 5, 11, 12) and len(ic.payload) >= 20:
            self.w("\n\t")
            q = type(self)(ic.payload, self.numeric, self.eflag, self.v, None)
            qlen = int.from_bytes(ic.payload[2:4], "big")
            try:
                q.ip(0, qlen)
            except Trunc as tr:
                q.w(f" [|{tr.proto}]")
            self.w("".join(q.out))

    @staticmethod
    def _quoted(ic: IcmpHeader) -> tuple[Ipv4Header, bytes]:
        try:
            return ic.parse_quoted()
        except WireError:
            raise Trunc("icmp") from None


def _ip_options(opts: bytes) -> str:
    """ip_optprint() of print-ip.c."""
    out: list[str] = []
    i = 0
    sep = ""
    while i < len(opts):
        out.append(sep)
        sep = ","
        code = opts[i]
        out.append(_IPOPT_NAMES.get(code, f"unknown {code}"))
        if code in (0, 1):
            olen = 1
        else:
            if i + 1 >= len(opts):
                out.append(" [|ip]")
                break
            olen = opts[i + 1]
            if olen < 2:
                out.append(f" [bad length {olen}]")
                break
        if olen > len(opts) - i:
            out.append(f" [bad length {olen}]")
            break
        body = opts[i : i + olen]
        if code == 0:
            break
        if code in (7, 131, 137):
            if olen < 3:
                out.append(f" [bad length {olen}]")
            else:
                if (olen + 1) & 3:
                    out.append(f" [bad length {olen}]")
                ptr = body[2] - 1
                if ptr < 3 or (ptr + 1) & 3 or ptr > olen + 1:
                    out.append(f" [bad ptr {body[2]}]")
                for j in range(3, olen, 4):
                    if j + 4 > olen:
                        break
                    out.append(f" {ip4(int.from_bytes(body[j : j + 4], 'big'))}")
                    if ptr > j:
                        out.append(",")
        elif code == 148:
            if olen < 4:
                out.append(f" [bad length {olen}]")
            elif int.from_bytes(body[2:4], "big"):
                out.append(f" value {int.from_bytes(body[2:4], 'big')}")
        i += olen
    return "".join(out)
