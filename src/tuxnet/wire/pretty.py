"""tcpdump's one-line packet decode (tcpdump 4.99 output for Ethernet frames).

``format_packet(frame, ts_ns=...)`` gives the line ``tcpdump -nn`` prints for an Ethernet frame:
``-e`` (``link=True``) adds the link-layer header, ``-v`` (``verbose=1``) the IPv4 header fields
and TCP checksums (and, as tcpdump does, further lines for the packet an ICMP error quotes or an
HTTP message's text), ``numeric=False`` names well-known ports as ``tcpdump -n`` does.  The
decoders follow print-ether.c, print-arp.c, print-ip.c, print-icmp.c, print-udp.c,
print-tcp.c, print-domain.c and print-ascii.c: ARP, IPv4 (fragments, options), ICMP, UDP (DNS
on ports 53 and 5353, ``UDP, length N`` for ports it does not decode), TCP (flags, options,
HTTP/SSH/FTP/SMTP first lines), basic IPv6 and ICMPv6, 802.1Q tags, and a hex dump for other
EtherTypes.  Bytes that end early print tcpdump's ``[|proto]`` markers.

Headers are decoded with the :mod:`tuxnet.wire` codecs.  TCP sequence numbers are printed
relative to the first ACK-bearing segment of each connection, as tcpdump does, when the caller
keeps a :class:`TcpdumpState` across packets; ``hexdump_X`` and ``ascii_A`` give ``-X``/``-A``.
Timestamps are the time of day of the virtual clock (``HH:MM:SS.ffffff``, UTC).
"""

from __future__ import annotations

import ipaddress
import struct

from .arp import ArpPacket
from .checksum import csum_fold, csum_partial
from .errors import WireError
from .ethernet import EthHeader
from .icmp import IcmpHeader
from .ipv4 import Ipv4Header
from .tcp import TcpHeader
from .udp import UdpHeader

__all__ = ["TcpdumpState", "ascii_A", "format_packet", "format_timestamp", "hexdump_X", "link_header_len"]

_M32 = 0xFFFFFFFF
_NS = 1_000_000_000

# fmt: off
ETHERTYPES = {
    0x0800: "IPv4", 0x0806: "ARP", 0x8035: "Reverse ARP", 0x8100: "802.1Q", 0x86DD: "IPv6",
    0x88A8: "802.1Q-QinQ", 0x9100: "802.1Q-9100", 0x9200: "802.1Q-9200", 0x88CC: "LLDP",
    0x9000: "Loopback", 0x8863: "PPPoE D", 0x8864: "PPPoE S", 0x8847: "MPLS unicast",
    0x8848: "MPLS multicast", 0x888E: "EAPOL", 0x8809: "Slow Protocols", 0x88F7: "PTP",
    0x809B: "Appletalk", 0x80F3: "Appletalk ARP", 0x8137: "IPX", 0x6003: "DN", 0x6004: "LAT",
    0x6001: "MOP DL", 0x6002: "MOP RC",
}
IPPROTOS = {
    0: "Options", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 8: "EGP", 9: "IGRP", 17: "UDP", 33: "DCCP",
    41: "IPv6", 43: "Routing", 44: "Fragment", 46: "RSVP", 47: "GRE", 50: "ESP", 51: "AH",
    55: "Mobile IP", 58: "ICMPv6", 62: "Mobile IP (old)", 88: "EIGRP", 89: "OSPF", 103: "PIM",
    108: "Compressed IP", 112: "VRRP", 113: "PGM", 132: "SCTP", 135: "Mobility",
}
# /etc/services names tcpdump -n prints for ports (the common ones)
_TCP_PORT_NAMES = {
    7: "echo", 9: "discard", 13: "daytime", 19: "chargen", 20: "ftp-data", 21: "ftp", 22: "ssh",
    23: "telnet", 25: "smtp", 37: "time", 43: "whois", 53: "domain", 70: "gopher", 79: "finger",
    80: "http", 110: "pop3", 111: "sunrpc", 113: "auth", 119: "nntp", 143: "imap2", 179: "bgp",
    389: "ldap", 443: "https", 445: "microsoft-ds", 465: "submissions", 587: "submission", 636: "ldaps",
    873: "rsync", 993: "imaps", 995: "pop3s", 3306: "mysql", 5432: "postgresql", 6379: "redis",
    8080: "http-alt",
}
_UDP_PORT_NAMES = {
    7: "echo", 9: "discard", 13: "daytime", 19: "chargen", 37: "time", 53: "domain", 67: "bootps",
    68: "bootpc", 69: "tftp", 111: "sunrpc", 123: "ntp", 137: "netbios-ns", 138: "netbios-dgm",
    161: "snmp", 162: "snmp-trap", 500: "isakmp", 514: "syslog", 520: "route", 546: "dhcpv6-client",
    547: "dhcpv6-server", 1812: "radius", 5353: "mdns",
}
# getprotobynumber() names tcpdump -n prints for a non-first fragment
_PROTO_NAMES = {
    1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah", 58: "ipv6-icmp",
    89: "ospf", 103: "pim", 112: "vrrp", 132: "sctp",
}
_ARPOPS = {
    1: "Request", 2: "Reply", 3: "Reverse Request", 4: "Reverse Reply", 8: "Inverse Request",
    9: "Inverse Reply", 10: "NACK Reply",
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
_TCPOPT_NAMES = {
    0: "eol", 1: "nop", 2: "mss", 3: "wscale", 4: "sackOK", 5: "sack", 6: "echo", 7: "echoreply", 8: "TS",
    11: "cc", 12: "ccnew", 13: "", 19: "md5", 20: "scps", 28: "uto", 29: "tcp-ao", 30: "mptcp", 34: "tfo",
    254: "exp",
}
# fmt: on
_TCP_FLAGS = (
    (0x01, "F"),
    (0x02, "S"),
    (0x04, "R"),
    (0x08, "P"),
    (0x10, "."),
    (0x20, "U"),
    (0x40, "E"),
    (0x80, "W"),
)
_HTTP_CMDS = frozenset(
    "OPTIONS GET HEAD POST PUT DELETE TRACE CONNECT PATCH COPY LOCK MOVE POLL BCOPY BMOVE MKCOL LABEL "
    "MERGE SEARCH UNLOCK REPORT UPDATE NOTIFY BDELETE CHECKIN PROPFIND CHECKOUT CCM_POST SUBSCRIBE "
    "PROPPATCH BPROPFIND BPROPPATCH UNCHECKOUT MKACTIVITY MKWORKSPACE UNSUBSCRIBE RPC_CONNECT "
    "VERSION-CONTROL BASELINE-CONTROL".split()
)
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
# fmt: off
_ICMP6 = {
    1: "destination unreachable", 2: "packet too big", 3: "time exceeded", 4: "parameter problem",
    128: "echo request", 129: "echo reply", 130: "multicast listener query",
    131: "multicast listener report", 132: "multicast listener done", 133: "router solicitation",
    134: "router advertisement", 135: "neighbor solicitation", 136: "neighbor advertisement",
    137: "redirect", 143: "multicast listener report v2",
}
# fmt: on


class _Trunc(Exception):
    """A field lies past the captured bytes: tcpdump prints `` [|proto]`` and stops.

    ``jump`` marks the truncations tcpdump reports by unwinding to its top level (its GET_*
    macros) rather than from the printer itself; then ``-X``/``-A`` dump the frame from its
    first byte instead of from after the link-layer header."""

    def __init__(self, proto: str, jump: bool = False) -> None:
        self.proto = proto
        self.jump = jump


class TcpdumpState:
    """Per-connection initial sequence numbers, for tcpdump's relative TCP numbers.

    Mirrors print-tcp.c's ``tcp_seq_hash``: a connection is recorded (or reset, on SYN) by the
    first segment carrying ACK; later ACK-bearing segments print seq and ack relative to it.
    Keep one per capture; ``format_packet`` without a state prints absolute numbers, like
    ``tcpdump -S``.
    """

    __slots__ = ("_conns",)

    def __init__(self) -> None:
        self._conns: dict[tuple[bytes, bytes, int, int], list[int]] = {}

    def relative(
        self, src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int
    ) -> tuple[int, int, int, int, bool]:
        """(seq, ack, base seq, base ack, reversed) as tcp_print() computes them."""
        rev = sport > dport or (sport == dport and src > dst)
        key = (dst, src, dport, sport) if rev else (src, dst, sport, dport)
        th = self._conns.get(key)
        if th is None or flags & 0x02:
            th = [ack - 1 & _M32, seq] if rev else [seq, ack - 1 & _M32]  # [th_seq, th_ack]
            self._conns[key] = th
        elif rev:
            seq, ack = (seq - th[1]) & _M32, (ack - th[0]) & _M32
        else:
            seq, ack = (seq - th[0]) & _M32, (ack - th[1]) & _M32
        return seq, ack, th[0], th[1], rev

    def clear(self) -> None:
        self._conns.clear()


def format_timestamp(ts_ns: int) -> str:
    """``HH:MM:SS.ffffff``: the time of day (UTC) of a nanosecond timestamp."""
    secs, ns = divmod(ts_ns, _NS)
    secs %= 86400
    return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}.{ns // 1000:06d}"


def _v6_sum_ok(src: bytes, dst: bytes, nh: int, segment: bytes) -> tuple[bool, int]:
    """(checksum correct, the correct value) for an upper-layer segment over IPv6 (RFC 8200 8.1)."""
    pseudo = src + dst + len(segment).to_bytes(4, "big") + bytes((0, 0, 0, nh))
    field = {6: 16, 17: 6, 58: 2}[nh]
    zeroed = segment[:field] + b"\0\0" + segment[field + 2 :]
    good = csum_fold(csum_partial(zeroed, csum_partial(pseudo)))
    return good == int.from_bytes(segment[field : field + 2], "big"), good


def _ip4(addr: int) -> str:
    return f"{addr >> 24}.{(addr >> 16) & 255}.{(addr >> 8) & 255}.{addr & 255}"


def _mac(b: bytes) -> str:
    return bytes(b).hex(":")


def _printable(c: int) -> bool:
    return 0x20 <= c < 0x7F


class _Printer:
    def __init__(
        self, frame: bytes, numeric: bool, link: bool, verbose: int, state: TcpdumpState | None
    ) -> None:
        self.p = bytes(frame)
        self.numeric = numeric
        self.eflag = link
        self.v = verbose
        self.state = state
        self.out: list[str] = []
        self.proto = "ether"
        self.snapend = len(self.p)  # where the bytes of the current packet end
        self.v6: tuple[bytes, bytes] | None = None  # IPv6 source and destination, when inside IPv6
        self.suppress_default = False  # -x/-X print the data, so unknown payloads are not dumped

    def w(self, s: str) -> None:
        self.out.append(s)

    # -- link layer ----------------------------------------------------------------------------
    def ether(self, length: int) -> int:
        """print-ether.c ether_common_print(); returns the link-layer header length."""
        p = self.p
        caplen = len(p)
        if length < caplen:
            self.w(f"[length {length} < caplen {caplen}] (invalid)")
            return length
        if caplen < 14:
            raise _Trunc("ether")
        try:
            eth = EthHeader.parse(p)
        except WireError:
            eth = None
        src, dst = p[6:12], p[0:6]
        if self.eflag:
            self.w(f"{_mac(src)} > {_mac(dst)}, ")
        off = 12
        printed_length = False
        while True:
            ltype = int.from_bytes(p[off : off + 2], "big")
            off += 2
            if ltype <= 1500:
                if self.eflag:
                    self.w(f"802.3, length {ltype}: ")
                else:
                    self.w(f"{_mac(src)} > {_mac(dst)}, 802.3, length {ltype}: ")
                self.default_print(p[off : off + ltype])
                return off
            if ltype in (0x8100, 0x88A8, 0x9100, 0x9200):
                if self.eflag:
                    self.w(f"ethertype {ETHERTYPES.get(ltype, 'Unknown')} (0x{ltype:04x})")
                    self.w(f", length {length}: " if not printed_length else ", ")
                    printed_length = True
                if caplen - off < 4:
                    self.proto = "vlan"
                    raise _Trunc("vlan")
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
                        f"{_mac(src)} > {_mac(dst)}, ethertype {ETHERTYPES.get(ltype, 'Unknown')} "
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

    def default_print(self, data: bytes) -> None:
        if not self.suppress_default:
            self.w(_hex_ascii(data, "\n\t"))

    # -- ARP -----------------------------------------------------------------------------------
    def arp(self, off: int, length: int) -> None:
        self.proto = "arp"
        p = self.p
        if len(p) - off < 8:
            raise _Trunc("arp")
        hrd, pro, hln, pln, op = struct.unpack_from("!HHBBH", p, off)
        if len(p) - off < 8 + 2 * hln + 2 * pln:
            raise _Trunc("arp")
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
            raise _Trunc("arp") from None
        self.w(f"{', ' if self.v else ''}{_ARPOPS.get(int(a.op), f'Unknown ({int(a.op)})')} ")
        op = int(a.op)
        if op == 1:
            self.w(f"who-has {_ip4(a.tpa)}")
            if any(a.tha):
                self.w(f" ({_mac(a.tha)})")
            self.w(f" tell {_ip4(a.spa)}")
        elif op == 2:
            self.w(f"{_ip4(a.spa)} is-at {_mac(a.sha)}")
        elif op in (3, 8):
            self.w(f"who-is {_mac(a.tha)} tell {_mac(a.sha)}")
        elif op == 4:
            self.w(f"{_mac(a.tha)} at {_ip4(a.tpa)}")
        elif op == 9:
            self.w(f"{_mac(a.sha)} at {_ip4(a.spa)}")
        else:
            self.default_print(p[off:])
            return
        self.w(f", length {length}")

    # -- IPv4 ----------------------------------------------------------------------------------
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
            raise _Trunc("ip")
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
            raise _Trunc("ip") from None
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
        src, dst = _ip4(iph.saddr), _ip4(iph.daddr)
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
                raise _Trunc(self.proto)
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
            raise _Trunc("icmp", jump=True)
        t, code = self.p[off], self.p[off + 1]
        try:
            ic = IcmpHeader.parse(self.p, off, end)
        except WireError:
            raise _Trunc("icmp", jump=True) from None
        quoted_ip: Ipv4Header | None = None
        text = _ICMP_SIMPLE.get(t, f"type-#{t}")
        if t in (0, 8):
            text = f"echo {'reply' if t == 0 else 'request'}, id {ic.echo_id}, seq {ic.echo_seq}"
        elif t == 3:
            quoted_ip, qrest = self._quoted(ic)
            qdst = _ip4(quoted_ip.daddr)
            if code == 2:
                text = f"{qdst} protocol {int(quoted_ip.protocol)} unreachable"
            elif code == 3:
                if len(qrest) < 4:
                    raise _Trunc("icmp", jump=True)
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
            text = fmt.format(_ip4(quoted_ip.daddr), _ip4(ic.gateway))
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
                raise _Trunc("icmp", jump=True)
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
            q = _Printer(ic.payload, self.numeric, self.eflag, self.v, None)
            qlen = int.from_bytes(ic.payload[2:4], "big")
            try:
                q.ip(0, qlen)
            except _Trunc as tr:
                q.w(f" [|{tr.proto}]")
            self.w("".join(q.out))

    @staticmethod
    def _quoted(ic: IcmpHeader) -> tuple[Ipv4Header, bytes]:
        try:
            return ic.parse_quoted()
        except WireError:
            raise _Trunc("icmp") from None

    # -- UDP -----------------------------------------------------------------------------------
    def port(self, port: int, proto: str) -> str:
        if self.numeric:
            return str(port)
        names = _TCP_PORT_NAMES if proto == "tcp" else _UDP_PORT_NAMES
        return names.get(port, str(port))

    def addrs(
        self, iph: Ipv4Header | tuple[str, str], sport: int | None, dport: int | None, proto: str
    ) -> None:
        src, dst = iph if isinstance(iph, tuple) else (_ip4(iph.saddr), _ip4(iph.daddr))
        if sport is None or dport is None:
            self.w(f"{src} > {dst}:")
        else:
            self.w(f"{src}.{self.port(sport, proto)} > {dst}.{self.port(dport, proto)}: ")

    def udp(self, off: int, length: int, iph: Ipv4Header | tuple[str, str], fragmented: bool) -> None:
        self.proto = "udp"
        end = self.snapend
        if end - off < 4:
            self.addrs(iph, None, None, "udp")
            raise _Trunc("udp")
        sport, dport = struct.unpack_from("!HH", self.p, off)
        if length < 8:
            self.addrs(iph, sport, dport, "udp")
            self.w(f" truncated-udp {length}")
            return
        if end - off < 8:
            self.addrs(iph, sport, dport, "udp")
            raise _Trunc("udp")
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
            ok, good = _v6_sum_ok(*self.v6, 17, self.p[off : off + 8 + length])
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
            raise _Trunc("domain")
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
                    raise _Trunc("domain")
            self.w(f" {an}/{ns}/{ar}")
            for i in range(an):
                if i:
                    if cp >= len(d):
                        raise _Trunc("domain")
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
                    raise _Trunc("domain")
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
            raise _Trunc("domain")
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
            raise _Trunc("domain")
        if typ == 1 and rdlen >= 4:
            self.w(f" {_ip4(int.from_bytes(d[rp : rp + 4], 'big'))}")
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

    # -- TCP -----------------------------------------------------------------------------------
    def tcp(
        self,
        off: int,
        length: int,
        iph: Ipv4Header | tuple[str, str],
        fragmented: bool,
        v6: tuple[bytes, bytes] | None = None,
    ) -> None:
        self.proto = "tcp"
        end = self.snapend
        p = self.p
        if end - off < 4:
            self.addrs(iph, None, None, "tcp")
            raise _Trunc("tcp")
        sport, dport = struct.unpack_from("!HH", p, off)
        self.addrs(iph, sport, dport, "tcp")
        if end - off < 20:
            raise _Trunc("tcp")
        hlen = (p[off + 12] >> 4) * 4
        if hlen < 20:
            self.w(f" tcp {length - hlen} [bad hdr length {hlen} - too short, < 20]")
            return
        seq, ack = struct.unpack_from("!II", p, off + 4)
        flags = p[off + 13]
        win, _sum, urp = struct.unpack_from("!HHH", p, off + 14)
        names = "".join(n for bit, n in _TCP_FLAGS if flags & bit) or "none"
        self.w(f"Flags [{names}]")
        thseq = thack = 0
        rev = False
        if self.state is not None and flags & 0x10:
            if isinstance(iph, Ipv4Header):
                src, dst = iph.saddr.to_bytes(4, "big"), iph.daddr.to_bytes(4, "big")
            else:
                src, dst = v6 or (b"", b"")
            seq, ack, thseq, thack, rev = self.state.relative(src, dst, sport, dport, seq, ack, flags)
        if hlen > length:
            self.w(f" [bad hdr length {hlen} - too long, > {length}]")
            return
        if self.v and not fragmented and off + length <= len(p):
            if isinstance(iph, Ipv4Header):
                try:
                    th = TcpHeader.parse(p, off, off + length)
                    good = th.compute_checksum(iph.saddr, iph.daddr, p[off + hlen : off + length])
                except WireError:
                    good = _sum
            else:
                good = _v6_sum_ok(*(v6 or (b"", b"")), 6, p[off : off + length])[1]
            self.w(f", cksum 0x{_sum:04x}")
            self.w(" (correct)" if good == _sum else f" (incorrect -> 0x{good:04x})")
        length -= hlen
        if self.v > 1 or length > 0 or flags & 0x07:
            self.w(f", seq {seq}")
            if length > 0:
                self.w(f":{(seq + length) & _M32}")
        if flags & 0x10:
            self.w(f", ack {ack}")
        self.w(f", win {win}")
        if flags & 0x20:
            self.w(f", urg {urp}")
        if hlen > 20:
            self.w(", options [")
            self.tcp_options(off + 20, hlen - 20, rev, thseq, thack)
            self.w("]")
        self.w(f", length {length}")
        if length <= 0:
            return
        data = p[off + hlen : end]
        if flags & 0x04 and self.v:
            # print_tcp_rst_data(): RFC 1122 lets a RST carry text explaining it
            whole = len(p) >= off + hlen + length
            n = min(length, 30)
            self.w((" [RST" if whole else " [!RST") + ("+" if length > 30 else "") + " ")
            self.w("".join(_fn_char(c) for c in p[off + hlen : min(off + hlen + n, end)]) + "]")
            return
        ports = (sport, dport)
        if 80 in ports or 8080 in ports:
            self.w(": ")
            self.txtproto(data, length, "HTTP", http=True)
        elif 22 in ports:
            self.ssh(data)
        elif 21 in ports:
            self.w(": ")
            self.txtproto(data, length, "FTP")
        elif 25 in ports:
            self.w(": ")
            self.txtproto(data, length, "SMTP")

    def tcp_options(self, off: int, hlen: int, rev: bool, thseq: int, thack: int) -> None:
        p = self.p
        ch = ""
        cp = off
        try:
            while hlen > 0:
                self.w(ch)
                if cp >= self.snapend:
                    raise _Trunc("tcp", jump=True)
                opt = p[cp]
                cp += 1
                if opt in (0, 1):
                    olen = 1
                else:
                    if cp >= self.snapend:
                        raise _Trunc("tcp", jump=True)
                    olen = p[cp]
                    cp += 1
                    if olen < 2 or olen > hlen:
                        raise _BadOpt
                    hlen -= 1
                hlen -= 1
                self.w(_TCPOPT_NAMES.get(opt, f"unknown-{opt}"))

                def need(n: int, cp: int = cp, hlen: int = hlen) -> None:
                    if n > hlen:
                        raise _BadOpt
                    if cp + n > self.snapend:
                        raise _Trunc("tcp", jump=True)

                if opt == 2:
                    datalen = 2
                    need(2)
                    self.w(f" {int.from_bytes(p[cp : cp + 2], 'big')}")
                elif opt == 3:
                    datalen = 1
                    need(1)
                    self.w(f" {p[cp]}")
                elif opt == 5:
                    datalen = olen - 2
                    if datalen % 8:
                        self.w(" invalid sack")
                    else:
                        self.w(f" {datalen // 8} ")
                        for i in range(0, datalen, 8):
                            need(i + 8)
                            s, e = struct.unpack_from("!II", p, cp + i)
                            base = thseq if rev else thack
                            self.w(f"{{{(s - base) & _M32}:{(e - base) & _M32}}}")
                elif opt in (11, 12, 13):
                    datalen = 4
                    need(4)
                    self.w(f" {int.from_bytes(p[cp : cp + 4], 'big')}")
                elif opt == 8:
                    datalen = 8
                    need(8)
                    tsval, tsecr = struct.unpack_from("!II", p, cp)
                    self.w(f" val {tsval} ecr {tsecr}")
                elif opt in (0, 1, 4):
                    datalen = 0
                else:
                    datalen = olen - 2
                    for i in range(datalen):
                        need(i + 1)
                        self.w(f"{' 0x' if i == 0 else ''}{p[cp + i]:02x}")
                cp += datalen
                hlen -= datalen
                datalen += 1 if opt in (0, 1) else 2
                if datalen != olen:
                    self.w(f"[len {olen}]")
                ch = ","
                if opt == 0:
                    break
        except _BadOpt:
            self.w("[bad opt]")
            if ch:
                self.w("]")
            raise _Stop from None
        except _Trunc:
            raise

    def txtproto(self, data: bytes, length: int, name: str, http: bool = False) -> None:
        """print-txtproto: the protocol name, then the first line (all lines with -v)."""
        data = data[:length]
        complete = len(data) >= length
        show = not http
        if http:
            tok, idx = _fetch_token(data, 0, complete)
            if tok is not None:
                if tok.upper() in _HTTP_CMDS:
                    show = True
                tok, idx = _fetch_token(data, idx, complete)
                if tok is not None and len(tok) == 3 and tok.isdigit():
                    show = True
        self.w(name)
        if not show:
            return
        proto = name.lower()
        if self.v:
            self.w(f", length: {length}")
            idx = 0
            while idx < len(data):
                line, nxt = _txt_line(data, idx)
                if line is None:
                    break
                if nxt is None:
                    if not complete:
                        raise _Trunc(proto, jump=True)
                    self.w("\n\t" + line)
                    raise _Trunc(proto, jump=True)
                self.w("\n\t" + line)
                idx = nxt
        else:
            line, nxt = _txt_line(data, 0)
            if line is not None:
                if nxt is None and not complete:
                    raise _Trunc(proto, jump=True)
                self.w(": " + line)
                if nxt is None:
                    raise _Trunc(proto, jump=True)

    def ssh(self, data: bytes) -> None:
        if not data.startswith(b"SSH-"):
            return
        for i in range(4, len(data)):
            c = data[i]
            if c == 0x0A or (c == 0x0D and data[i + 1 : i + 2] == b"\n"):
                self.w(": SSH: " + data[:i].decode("ascii"))
                return
            if c == 0x0D or not _printable(c):
                return

    # -- IPv6 (enough for the frames a dual-stack neighbour sends) ------------------------------
    def ip6(self, off: int, length: int) -> None:
        self.proto = "ip6"
        p = self.p
        if not self.eflag:
            self.w("IP6 ")
        if len(p) - off < 40:
            raise _Trunc("ip6")
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
                ok, good = _v6_sum_ok(src.packed, dst.packed, 58, p[cp : cp + plen])
                chk = int.from_bytes(p[cp + 2 : cp + 4], "big")
                self.w("[icmp6 sum ok] " if ok else f"[bad icmp6 cksum 0x{chk:04x} -> 0x{good:04x}!] ")
            self.icmp6(cp, plen)
        else:
            self.w(f"{src} > {dst}: ip-proto-{nh} {plen}")

    def icmp6(self, off: int, length: int) -> None:
        self.proto = "icmp6"
        p = self.p
        if self.snapend - off < 4:
            raise _Trunc("icmp6")
        t = p[off]
        name = _ICMP6.get(t, f"unknown icmp6 type ({t})")
        self.w(f"ICMP6, {name}")
        if t in (128, 129):
            if self.snapend - off < 8:
                raise _Trunc("icmp6")
            ident, seq = struct.unpack_from("!HH", p, off + 4)
            self.w(f", id {ident}, seq {seq}")
        elif t in (135, 136):
            if self.snapend - off < 24:
                raise _Trunc("icmp6")
            tgt = ipaddress.IPv6Address(p[off + 8 : off + 24])
            self.w(f", {'who has' if t == 135 else 'tgt is'} {tgt}")
        if not self.v:
            self.w(f", length {length}")


class _BadOpt(Exception):
    pass


class _Stop(Exception):
    """The decoder printed its own ending; stop without a truncation marker."""


def _fn_char(c: int) -> str:
    """fn_print_char(): ``M-`` for 8-bit bytes, ``^X`` for control characters."""
    out = ""
    if c >= 0x80:
        c &= 0x7F
        out = "M-"
    if not 0x20 <= c < 0x7F:
        return out + "^" + chr(c ^ 0x40)
    return out + chr(c)


def _fetch_token(data: bytes, idx: int, complete: bool) -> tuple[str | None, int]:
    """print-txtproto.c fetch_token(): the token at ``idx`` and where the next one starts (no
    token when it runs past the captured bytes)."""
    start = idx
    n = len(data)
    while True:
        if idx >= n:
            if not complete:
                return None, idx
            break
        c = data[idx]
        if c >= 0x80:
            return None, idx
        if c in b" \t\r\n":
            break
        if not _printable(c) or idx - start >= 127:
            return None, idx
        idx += 1
    if idx == start:
        return None, idx
    tok = data[start:idx].decode("ascii")
    while idx < n:
        c = data[idx]
        if c in b"\r\n" or not _printable(c) or c not in b" \t":
            break
        idx += 1
    return tok, idx


def _txt_line(data: bytes, idx: int) -> tuple[str | None, int | None]:
    """print_txt_line(): (line, index after it); (line, None) when cut; (None, _) for binary."""
    start = idx
    n = len(data)
    while idx < n:
        c = data[idx]
        if c == 0x0A:
            return data[start:idx].decode("ascii"), idx + 1
        if c == 0x0D:
            if idx + 1 >= n:
                return None, None
            if data[idx + 1] == 0x0A:
                return data[start:idx].decode("ascii"), idx + 2
            return None, None
        if not _printable(c) and c != 0x09:
            return None, None
        idx += 1
    return data[start:idx].decode("ascii"), None


def _dns_skip_name(d: bytes, cp: int) -> int:
    """The offset after the (possibly compressed) name at ``cp``."""
    while True:
        if cp >= len(d):
            raise _Trunc("domain")
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
            raise _Trunc("domain")
        n = d[cp]
        if n == 0:
            break
        if n & 0xC0 == 0xC0:
            if cp + 1 >= len(d):
                raise _Trunc("domain")
            cp = ((n & 0x3F) << 8) | d[cp + 1]
            hops += 1
            if hops > 64:
                return "<LOOP>"
            continue
        label = d[cp + 1 : cp + 1 + n]
        if len(label) < n:
            raise _Trunc("domain")
        labels.append("".join(chr(c) if _printable(c) and c not in b".\\" else f"\\{c:03d}" for c in label))
        cp += 1 + n
    return ".".join(labels) + "." if labels else "."


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
                    out.append(f" {_ip4(int.from_bytes(body[j : j + 4], 'big'))}")
                    if ptr > j:
                        out.append(",")
        elif code == 148:
            if olen < 4:
                out.append(f" [bad length {olen}]")
            elif int.from_bytes(body[2:4], "big"):
                out.append(f" value {int.from_bytes(body[2:4], 'big')}")
        i += olen
    return "".join(out)


def _hex_ascii(data: bytes, ident: str, offset: int = 0) -> str:
    """print-ascii.c hex_and_ascii_print_with_offset()."""
    out: list[str] = []
    for base in range(0, len(data), 16):
        chunk = data[base : base + 16]
        hexstuff = "".join(
            f" {chunk[i]:02x}{chunk[i + 1]:02x}" if i + 1 < len(chunk) else f" {chunk[i]:02x}"
            for i in range(0, len(chunk), 2)
        )
        asc = "".join(chr(c) if 0x21 <= c < 0x7F else "." for c in chunk)
        out.append(f"{ident}0x{offset + base:04x}: {hexstuff:<40}  {asc}")
    return "".join(out)


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


def hexdump_X(frame: bytes, *, link: bool = False) -> str:
    """The ``-X`` hex and ASCII dump (``-XX`` with ``link=True``): lines starting with a tab,
    joined by newlines, to print after the packet's line."""
    data = frame if link else frame[link_header_len(frame) :]
    return _hex_ascii(bytes(data), "\n\t")[1:]


def ascii_A(frame: bytes, *, link: bool = False) -> str:
    """The ``-A`` ASCII dump (``-AA`` with ``link=True``), to print on the lines after the
    packet's line: non-printing bytes as dots, CR before LF dropped."""
    data = bytes(frame if link else frame[link_header_len(frame) :])
    out: list[str] = []
    n = len(data)
    for i, c in enumerate(data):
        if c == 0x0D:
            if n - i - 1 > 1 and data[i + 1] != 0x0A:
                out.append(".")
        elif 0x21 <= c < 0x7F or c in (0x09, 0x20, 0x0A):
            out.append(chr(c))
        else:
            out.append(".")
    return "".join(out)


def format_packet(
    frame: bytes,
    *,
    ts_ns: int | None = None,
    numeric: bool = True,
    link: bool = False,
    verbose: int = 0,
    state: TcpdumpState | None = None,
    wirelen: int | None = None,
    hex_ascii: int = 0,
    ascii: int = 0,
) -> str:
    """The text tcpdump prints for an Ethernet frame (no trailing newline; ``-v`` may add lines).

    ``ts_ns`` prefixes the time of day (omit it for ``-t``); ``numeric=False`` names ports
    (``-n`` rather than ``-nn``); ``link`` is ``-e``; ``verbose`` counts ``-v``; ``state`` keeps
    relative TCP sequence numbers across calls; ``wirelen`` is the frame's length on the wire
    when ``frame`` holds only the captured part.  ``hex_ascii`` counts ``-X`` (2: ``-XX``, the
    link-layer header too) and ``ascii`` counts ``-A``: the dump follows on the next lines.
    """
    pr = _Printer(frame, numeric, link, verbose, state)
    pr.suppress_default = bool(hex_ascii)
    hdrlen = 0
    try:
        hdrlen = pr.ether(len(frame) if wirelen is None else wirelen)
    except _Trunc as tr:
        pr.w(f" [|{tr.proto}]")
        hdrlen = 0 if tr.jump else min(link_header_len(frame), len(frame))
    except _Stop:
        hdrlen = link_header_len(frame)
    except (struct.error, IndexError, ValueError, UnicodeDecodeError):
        # a field the decoders did not bound-check: report it as tcpdump reports a short packet
        pr.w(f" [|{pr.proto}]")
        hdrlen = 0
    text = "".join(pr.out)
    if ts_ns is not None:
        text = f"{format_timestamp(ts_ns)} {text}"
    start = 0 if (hex_ascii > 1 or (ascii > 1 and not hex_ascii)) else hdrlen
    if hex_ascii:
        if len(frame) > start:
            text += "\n" + _hex_ascii(bytes(frame[start:]), "\n\t")[1:]
    elif ascii and len(frame) > start:
        text += "\n" + ascii_A(frame[start:], link=True)
    return text
