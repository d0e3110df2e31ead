"""Differential test: the same capture and filter expressions given to Debian's tcpdump and to
tuxnet's filter compiler must select the same packets, expression by expression.

The capture holds a mix a lab produces and some it should never see: ARP, ICMP (echo,
unreachable, time exceeded, need-frag), UDP to several ports, a TCP handshake with options,
data, FIN and RST, first and non-first IPv4 fragments, broadcast and multicast, IPv4 options,
truncated frames, an 802.1Q frame, IPv6, 802.3/LLC frames and other ether types.  Every frame is
distinct, so the frames tcpdump writes back with ``-w`` identify the ones it matched.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tuxnet.tools.pcap_filter import FilterSyntaxError, compile_filter

scapy_all = pytest.importorskip("scapy.all")

TCPDUMP = shutil.which("tcpdump")
needs_tcpdump = pytest.mark.skipif(
    TCPDUMP is None, reason="tcpdump is not installed (apt-get install tcpdump)"
)

M1, M2, M3 = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"
BCAST = "ff:ff:ff:ff:ff:ff"


def corpus() -> list[bytes]:
    """Distinct Ethernet frames covering what the expressions below test."""
    from scapy.all import (
        ARP,
        ICMP,
        IP,
        LLC,
        SCTP,
        STP,
        TCP,
        UDP,
        Dot1Q,
        Dot3,
        Ether,
        ICMPv6EchoRequest,
        IPOption_RR,
        IPv6,
        IPv6ExtHdrFragment,
        Raw,
        raw,
    )
    from scapy.layers.dns import DNS, DNSQR

    a, b, c = "10.0.0.1", "10.0.0.2", "192.168.1.7"
    e12 = Ether(src=M1, dst=M2)
    e21 = Ether(src=M2, dst=M1)
    opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]
    frames = [
        Ether(src=M1, dst=BCAST) / ARP(op=1, hwsrc=M1, psrc=a, pdst=b),
        Ether(src=M2, dst=M1) / ARP(op=2, hwsrc=M2, psrc=b, hwdst=M1, pdst=a),
        Ether(src=M3, dst=BCAST, type=0x8035) / ARP(op=3, hwsrc=M3, psrc=c, pdst=c),
        e12 / IP(src=a, dst=b, id=1) / ICMP(type=8, id=1, seq=1) / Raw(b"x" * 56),
        e21 / IP(src=b, dst=a, id=2) / ICMP(type=0, id=1, seq=1) / Raw(b"x" * 56),
        e21 / IP(src=b, dst=a) / ICMP(type=3, code=3) / IP(src=a, dst=b) / UDP(sport=40001, dport=33434),
        e21 / IP(src=c, dst=a) / ICMP(type=11, code=0) / IP(src=a, dst=b, ttl=1) / UDP(dport=33435),
        e21 / IP(src=c, dst=a) / ICMP(type=3, code=4, nexthopmtu=1400) / IP(src=a, dst=b) / TCP(),
        e12 / IP(src=a, dst=b) / UDP(sport=5353, dport=53) / DNS(rd=1, qd=DNSQR(qname="h2.lab")),
        e21 / IP(src=b, dst=a) / UDP(sport=53, dport=5353) / DNS(qr=1, qd=DNSQR(qname="h2.lab")),
        Ether(src=M1, dst=BCAST) / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67),
        e12 / IP(src=a, dst=b) / UDP(sport=1024, dport=123) / Raw(b"\x23" + b"\0" * 47),
        e12 / IP(src=a, dst=b) / UDP(sport=2000, dport=1500) / Raw(b"abc"),
        e12 / IP(src=a, dst=c) / UDP(sport=999, dport=999) / Raw(b"odd"),
        e12 / IP(src=a, dst=b, flags="DF") / TCP(sport=40000, dport=80, flags="S", seq=1000, options=opts),
        e21 / IP(src=b, dst=a, flags="DF") / TCP(sport=80, dport=40000, flags="SA", seq=5000, ack=1001,
                                                   options=opts),
        e12 / IP(src=a, dst=b, flags="DF") / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=5001),
        e12 / IP(src=a, dst=b, flags="DF") / TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=5001)
        / Raw(b"GET / HTTP/1.1\r\n\r\n"),
        e21 / IP(src=b, dst=a, flags="DF") / TCP(sport=80, dport=40000, flags="FA", seq=5001, ack=1019),
        e12 / IP(src=a, dst=b) / TCP(sport=40000, dport=80, flags="R", seq=1019),
        e12 / IP(src=a, dst=c) / TCP(sport=40002, dport=443, flags="S"),
        e12 / IP(src=a, dst=c) / TCP(sport=40003, dport=22, flags="SEC"),
        e12 / IP(src=a, dst=b) / TCP(sport=40004, dport=8080, flags="U", urgptr=1),
        # first and non-first fragment; the second's payload looks like ports 80 -> 80
        e12 / IP(src=a, dst=b, id=777, flags="MF", frag=0, proto=17)
        / Raw(struct.pack("!HHHH", 53, 53, 1508, 0) + b"A" * 1472),
        e12 / IP(src=a, dst=b, id=777, frag=185, proto=17) / Raw(struct.pack("!HH", 80, 80) + b"B" * 20),
        e12 / IP(src=a, dst=b, id=778, flags="MF", frag=0, proto=6)
        / Raw(struct.pack("!HH", 40000, 443) + b"C" * 36),
        e12 / IP(src=a, dst=b, id=778, frag=5, proto=6) / Raw(struct.pack("!HH", 80, 443) + b"D" * 16),
        Ether(src=M1, dst="01:00:5e:00:00:fb") / IP(src=a, dst="224.0.0.251", ttl=255)
        / UDP(sport=5353, dport=5353) / Raw(b"\0" * 12),
        Ether(src=M1, dst="01:00:5e:7f:00:01") / IP(src=a, dst="239.255.0.1") / UDP(sport=9, dport=9),
        Ether(src=M1, dst=BCAST) / IP(src=a, dst="10.0.0.255") / UDP(sport=137, dport=137) / Raw(b"n" * 50),
        e12 / IP(src=a, dst=b, options=[IPOption_RR(routers=["0.0.0.0"])])
        / TCP(sport=40005, dport=80, flags="S"),
        e12 / IP(src=c, dst="192.168.200.9") / TCP(sport=12345, dport=1999, flags="A"),
        e12 / IP(src="172.16.5.4", dst=c, tos=0x10, ttl=3) / UDP(sport=33000, dport=2001),
        e12 / IP(src=a, dst=b) / SCTP(sport=80, dport=9999),
        e12 / IP(src=a, dst=b, ttl=1, id=4242) / UDP(sport=40010, dport=33434) / Raw(b"@" * 24),
        Ether(src=M1, dst=M1) / IP(src=a, dst=a) / UDP(sport=7, dport=7),
        e12 / IP(src=a, dst=b, proto=47) / Raw(b"\x00\x00\x08\x00" + b"g" * 24),
        e12 / IP(src=a, dst=b, proto=2) / Raw(b"\x11\x64\xee\x9b\x00\x00\x00\x00"),
        Ether(src=M1, dst=M2) / Dot1Q(vlan=100) / IP(src=a, dst=b) / TCP(sport=40006, dport=80, flags="S"),
        Ether(src=M1, dst=M2) / Dot1Q(vlan=200) / ARP(psrc=a, pdst=b),
        Ether(src=M1, dst=M2) / Dot1Q(vlan=7) / Dot1Q(vlan=8) / IP(src=a, dst=b) / UDP(dport=53),
        e12 / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(sport=40007, dport=80, flags="S"),
        e21 / IPv6(src="2001:db8::2", dst="2001:db8::1") / UDP(sport=53, dport=5353) / Raw(b"z" * 9),
        e12 / IPv6(src="fe80::1", dst="ff02::1") / ICMPv6EchoRequest(id=3, seq=4),
        e12 / IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(id=9, m=1)
        / UDP(sport=7, dport=53),
        Dot3(src=M1, dst="01:80:c2:00:00:00") / LLC(dsap=0x42, ssap=0x42, ctrl=3) / STP(),
        Dot3(src=M1, dst=M2) / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / Raw(b"\x00\x00\x00\x81\x37" + b"i" * 30),
        Dot3(src=M1, dst=M2) / LLC(dsap=0xFE, ssap=0xFE, ctrl=3) / Raw(b"\x83" + b"o" * 40),
        Ether(src=M1, dst="01:80:c2:00:00:0e", type=0x88CC) / Raw(b"\x02\x07\x04" + b"L" * 40),
        Ether(src=M1, dst=M2, type=0x9000) / Raw(b"\x00\x00" + b"l" * 44),
        Ether(src=M2, dst=M3, type=0x8137) / Raw(b"\xff\xff" + b"x" * 40),
        Ether(src=M2, dst=M3, type=0x8863) / Raw(b"\x11\x09\x00\x00\x00\x00"),
        Ether(src=M2, dst=M3, type=0x809B) / Raw(b"\x00\x10" + b"t" * 44),
        Dot3(src=M2, dst=M3) / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / Raw(b"\x00\x00\x00\x80\xf3" + b"r" * 28),
        Ether(src=M2, dst=M3, type=0x6003) / Raw(b"\x00\x00" + b"d" * 44),
    ]
    out = [raw(f) for f in frames]
    # truncated captures: reads past the end reject the packet in BPF
    syn = out[14]
    assert syn[47] == 0x02, "frame 14 is the SYN"
    out += [syn[:10], syn[:13], syn[:20], syn[:30], syn[:36], syn[:40], syn[:47], syn[:54], b"\x01\x02\x03"]
    out.append(raw(Ether(src=M3, dst=M1) / IP(src=b, dst=a) / UDP(sport=53, dport=53)) + b"\0" * 7)
    assert len(set(out)) == len(out), "corpus frames must be distinct"
    return out


# Expressions checked against tcpdump: everything the compiler is meant to cover.
EXPRESSIONS = [
    "",
    "ip", "arp", "rarp", "icmp", "tcp", "udp", "ip6", "sctp", "igmp", "icmp6", "ether proto 0x88cc",
    "host 10.0.0.2", "src host 10.0.0.1", "dst host 10.0.0.1", "host 192.168.1.7",
    "src or dst host 10.0.0.1", "src and dst host 10.0.0.1",
    "host 10.0.0.1 or 10.0.0.2", "host 10.0.0.1 and not 10.0.0.2", "ip host 10.0.0.2",
    "arp host 10.0.0.2", "rarp host 192.168.1.7", "ip src 10.0.0.1 and ip dst 192.168.1.7",
    "net 10.0.0.0/8", "net 192.168.0.0/16", "net 10.0.0.0 mask 255.0.0.0", "src net 172.16",
    "dst net 192.168.200.0/24", "net 10", "host 10.0", "net 224.0.0.0/4",
    "port 80", "tcp port 80", "udp port 53", "src port 80", "dst port 80", "port 80 or 443",
    "tcp port 80 or 443 or 22", "port 53 and udp", "not port 53", "sctp port 80",
    "portrange 1000-2000", "udp portrange 1-1024", "tcp dst portrange 8000-9000",
    "port domain", "tcp port http", "port \\ntp",
    "ether host 02:00:00:00:00:01", "ether src 02:00:00:00:00:02", "ether dst ff:ff:ff:ff:ff:ff",
    "ether host 02:00:00:00:00:03 or 02:00:00:00:00:02", "ether proto \\arp", "ether proto 0x0800",
    "ether proto 0x8035", "ether proto \\loopback", "ether proto 0x9000 or ether proto 0x8137",
    "ip proto 1", "ip proto \\udp", "ip proto 47", "proto \\tcp", "ip6 proto 17", "ip proto \\sctp",
    "broadcast", "ether broadcast", "multicast", "ether multicast", "ip multicast", "ip broadcast",
    "ip6 multicast", "not broadcast and not multicast",
    "len <= 60", "len > 100", "greater 200", "less 64", "len = 54", "length >= 1000",
    "ip[8] = 1", "ip[8] < 5", "ip[1] != 0", "ip[0] & 0xf != 5", "ip[6:2] & 0x1fff != 0",
    "ip[6:2] & 0x3fff = 0x2000", "ip[2:2] > 500", "ip[9] = 17 and ip[6] & 0x20 != 0",
    "icmp[icmptype] = icmp-echo", "icmp[icmptype] == icmp-echoreply", "icmp[0] = icmp-unreach",
    "icmp[icmptype] = icmp-timxceed", "icmp[icmptype] = icmp-unreach and icmp[icmpcode] = 4",
    "icmp[icmptype] != icmp-echo and icmp[icmptype] != icmp-echoreply",
    "tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn|tcp-ack",
    "tcp[tcpflags] = tcp-ack", "tcp[tcpflags] & tcp-fin != 0", "tcp[tcpflags] & tcp-rst != 0",
    "tcp[tcpflags] & tcp-push != 0", "tcp[13] & (tcp-ece|tcp-cwr) != 0", "tcp[tcpflags] & tcp-urg != 0",
    "tcp[((tcp[12]&0xf0)>>2):4] = 0x47455420", "tcp[0:2] = 40000", "tcp[2:2] < 1024",
    "udp[0:2] = 53 or udp[2:2] = 53", "udp[4:2] > 100", "udp[8] = 0x23",
    "arp[6:2] = 1", "arp[6:2] = 2", "rarp[7] = 3",
    "ether[0] & 1 != 0", "ether[12:2] = 0x0800", "ether[0:4] = 0xffffffff", "ether[6:2] = 0x0200",
    "ether[100] = 0x41", "ether[60:4] != 0", "ether[1000000] = 0 or ip",
    "ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2) != 0",
    "ip[2:2] * 2 / 4 % 7 = 14", "ip[2:2] ^ 0xff > 3 | 1", "ip[0] << 2 >> 1 = 138", "-ip[8] + 256 = 192",
    "len - 14 = ip[2:2]", "ip[8] + 1 > ip[9] - 1", "ip[0] + tcp[0] = 0xc5",
    "vlan", "vlan 100", "vlan and tcp port 80", "vlan 200 and arp", "vlan and vlan 8 and udp port 53",
    "not vlan and ip", "vlan or ip",
    "ip6 host 2001:db8::1", "ip6 net 2001:db8::/32", "host fe80::1", "ip6 dst ff02::1",
    "stp", "llc", "ipx", "iso", "isis", "atalk", "aarp", "pppoed", "decnet",
    "(tcp or udp) and not port 53", "tcp and (port 80 or port 443) and host 10.0.0.2",
    "not (icmp or arp) and host 10.0.0.1", "!tcp && !udp", "ip || arp && !icmp",
    "udp or icmp and host 10.0.0.2", "not not tcp", "(host 10.0.0.1) and (port 80 or 53)",
    "host (10.0.0.2 or 192.168.1.7) and tcp", "port (53 or 80) and src 10.0.0.1",
    "tcp and src port 40000 and tcp[tcpflags] & tcp-syn != 0",
    "icmp or (udp and greater 100)", "ether src 02:00:00:00:00:01 and not ether dst ff:ff:ff:ff:ff:ff",
    "ether host 02:00:00:00:00:01 and (arp or (ip and src port 40000))",
    "byte 23 = 6", "byte 23 > 10", "byte 23 < 2",
]


def read_pcap_frames(data: bytes) -> list[bytes]:
    """The captured bytes of every record of a classic pcap (either byte order)."""
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    out = []
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        out.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return out


def write_pcap(path: Path, frames: list[bytes]) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", i + 1, 0, len(fr), len(fr)))
            f.write(fr)


def tcpdump_matches(pcap: Path, expr: str) -> set[bytes] | str:
    """Frames tcpdump selects, or its error message."""
    r = subprocess.run([TCPDUMP, "-r", str(pcap), "-w", "-", "--", expr], capture_output=True, timeout=60)
    if r.returncode != 0:
        msg = [ln for ln in r.stderr.decode().splitlines() if ln.startswith("tcpdump: ")]
        return msg[0][len("tcpdump: "):] if msg else r.stderr.decode()
    return set(read_pcap_frames(r.stdout))


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    frames = corpus()
    path = tmp_path_factory.mktemp("pcapfilter") / "mix.pcap"
    write_pcap(path, frames)
    return path, frames


def test_expression_list_is_rich() -> None:
    assert len(EXPRESSIONS) >= 60
    assert len(set(EXPRESSIONS)) == len(EXPRESSIONS)


@needs_tcpdump
@pytest.mark.slow
@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_same_packets_as_tcpdump(capture: tuple[Path, list[bytes]], expr: str) -> None:
    path, frames = capture
    real = tcpdump_matches(path, expr)
    assert not isinstance(real, str), f"tcpdump refused {expr!r}: {real}"
    f = compile_filter(expr)
    mine = {fr for fr in frames if f(fr)}
    missing = [frames.index(fr) for fr in real - mine]
    extra = [frames.index(fr) for fr in mine - real]
    assert not missing and not extra, f"{expr!r}: tcpdump-only frames {missing}, tuxnet-only frames {extra}"


def test_tcpdump_is_not_trivially_agreeing(capture: tuple[Path, list[bytes]]) -> None:
    """The corpus separates the expressions: most select some frames but not all."""
    _, frames = capture
    partial = 0
    for expr in EXPRESSIONS:
        f = compile_filter(expr)
        n = sum(1 for fr in frames if f(fr))
        partial += 0 < n < len(frames)
    assert partial >= len(EXPRESSIONS) - 2  # "" and the always-out-of-bounds one


# Expressions tcpdump refuses, with its message (checked against tcpdump when present).
REFUSED = {
    "port 99999": "illegal port number 99999 > 65535",
    "host nosuchhost": "unknown host 'nosuchhost'",
    "tcp and 80": "syntax error in filter expression",
    "ether[0] / 0 = 1": "division by zero",
    "ether[0:3] = 1": "data size must be 1, 2, or 4",
    "host 10.0.0.256": "invalid IPv4 address '10.0.0.256'",
    "net 10.0.0.1/8": 'non-network bits set in "10.0.0.1/8"',
    "08 = 1": "number 08 contains non-octal digit",
    "foo$": "can't parse filter expression: syntax error",
    "ip proto icmp": "can't parse filter expression: syntax error",
    "udp port http": "port 'http' is tcp",
    "ether host 01:02:03:04:05": "bogus ethernet address 01:02:03:04:",
    "ip and arp": "expression rejects all packets",
    "tcp proto 6": "'tcp proto' is bogus",
    "vlan 5000": "VLAN tag 5000 greater than maximum 4095",
    "host 02:00:00:00:00:01": "ethernet address used in non-ether expression",
    "port 1.2.3.4": "'port' modifier applied to ip host",
    "tcp multicast": "link-layer multicast filters supported only on ethernet/FDDI/token ring/"
                     "ARCNET/802.11/ATM LANE/Fibre Channel",
}


@pytest.mark.parametrize("expr", sorted(REFUSED))
def test_refusals_worded_like_libpcap(expr: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        compile_filter(expr)
    assert str(info.value) == REFUSED[expr]


@needs_tcpdump
@pytest.mark.parametrize("expr", sorted(REFUSED))
def test_refusals_match_tcpdump(capture: tuple[Path, list[bytes]], expr: str) -> None:
    assert tcpdump_matches(capture[0], expr) == REFUSED[expr]
