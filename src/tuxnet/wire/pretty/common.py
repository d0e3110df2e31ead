"""What every tcpdump printer shares: the output buffer, truncation, addresses, ports and dumps.

Mirrors tcpdump's netdissect.h/util-print.c (``ND_PRINT``, the ``[|proto]`` truncation marker,
``tcpport_string``/``udpport_string``, ``ts_format``) and print-ascii.c (the hex and ASCII dump).
:class:`PrinterBase` holds the decoding state of one frame; the protocol printers of this package
are mixins over it, combined into one printer in ``tuxnet.wire.pretty``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.wire.checksum import csum_fold, csum_partial
from tuxnet.wire.ipv4 import Ipv4Header

if TYPE_CHECKING:
    from .tcp import TcpdumpState

_NS = 1_000_000_000

# fmt: off
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
# fmt: on


class Trunc(Exception):
    """A field lies past the captured bytes: tcpdump prints `` [|proto]`` and stops.

    ``jump`` marks the truncations tcpdump reports by unwinding to its top level (its GET_*
    macros) rather than from the printer itself; then ``-X``/``-A`` dump the frame from its
    first byte instead of from after the link-layer header."""

    def __init__(self, proto: str, jump: bool = False) -> None:
        self.proto = proto
        self.jump = jump


class Stop(Exception):
    """The decoder printed its own ending; stop without a truncation marker."""


def format_timestamp(ts_ns: int) -> str:
    """``HH:MM:SS.ffffff``: the time of day (UTC) of a nanosecond timestamp."""
    secs, ns = divmod(ts_ns, _NS)
    secs %= 86400
    return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}.{ns // 1000:06d}"


def v6_sum_ok(src: bytes, dst: bytes, nh: int, segment: bytes) -> tuple[bool, int]:
    """(checksum correct, the correct value) for an upper-layer segment over IPv6 (RFC 8200 8.1)."""
    pseudo = src + dst + len(segment).to_bytes(4, "big") + bytes((0, 0, 0, nh))
    field = {6: 16, 17: 6, 58: 2}[nh]
    zeroed = segment[:field] + b"\0\0" + segment[field + 2 :]
    good = csum_fold(csum_partial(zeroed, csum_partial(pseudo)))
    return good == int.from_bytes(segment[field : field + 2], "big"), good


def ip4(addr: int) -> str:
    return f"{addr >> 24}.{(addr >> 16) & 255}.{(addr >> 8) & 255}.{addr & 255}"


def mac(b: bytes) -> str:
    return bytes(b).hex(":")


def printable(c: int) -> bool:
    return 0x20 <= c < 0x7F


def hex_and_ascii(data: bytes, ident: str, offset: int = 0) -> str:
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


class PrinterBase:
    """One frame's decoding state (netdissect_options and the snapshot end) and the helpers every
    protocol printer uses; each ``print-*.c`` of tcpdump is a mixin over it."""

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

    def default_print(self, data: bytes) -> None:
        if not self.suppress_default:
            self.w(hex_and_ascii(data, "\n\t"))

    def port(self, port: int, proto: str) -> str:
        if self.numeric:
            return str(port)
        names = _TCP_PORT_NAMES if proto == "tcp" else _UDP_PORT_NAMES
        return names.get(port, str(port))

    def addrs(
        self, iph: Ipv4Header | tuple[str, str], sport: int | None, dport: int | None, proto: str
    ) -> None:
        src, dst = iph if isinstance(iph, tuple) else (ip4(iph.saddr), ip4(iph.daddr))
        if sport is None or dport is None:
            self.w(f"{src} > {dst}:")
        else:
            self.w(f"{src}.{self.port(sport, proto)} > {dst}.{self.port(dport, proto)}: ")
