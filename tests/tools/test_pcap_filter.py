"""Unit tests of the pcap-filter compiler: semantics on hand-built frames, libpcap's error
wording, and fuzzing (no exception but FilterSyntaxError from the compiler, none at all from a
compiled filter).  tests/differential/test_tcpdump_filter*.py compare with the real tcpdump."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuxnet.tools.pcap_filter import FilterSyntaxError, compile_filter, filter_source
from tuxnet.tools.pcapfilter.lexer import tokenize

MAC1 = bytes.fromhex("020000000001")
MAC2 = bytes.fromhex("020000000002")
BCAST = b"\xff" * 6


def ip4(a: str) -> bytes:
    return bytes(int(x) for x in a.split("."))


def eth(dst: bytes, src: bytes, etype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", etype) + payload


def ipv4(src: str, dst: str, proto: int, payload: bytes, *, frag: int = 0, ihl: int = 5) -> bytes:
    opts = b"\x01" * (4 * (ihl - 5))
    total = 4 * ihl + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, frag, 64, proto, 0, ip4(src), ip4(dst))
    return hdr + opts + payload


def tcp(sport: int, dport: int, flags: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, flags, 1000, 0, 0) + payload


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def arp(op: int, sha: bytes, spa: str, tha: bytes, tpa: str) -> bytes:
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + ip4(spa) + tha + ip4(tpa)


SYN = eth(MAC2, MAC1, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, tcp(40000, 80, 0x02)))
SYNACK = eth(MAC1, MAC2, 0x0800, ipv4("10.0.0.2", "10.0.0.1", 6, tcp(80, 40000, 0x12)))
DNS = eth(MAC2, MAC1, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, udp(5353, 53, b"q" * 12)))
ARP_REQ = eth(BCAST, MAC1, 0x0806, arp(1, MAC1, "10.0.0.1", b"\0" * 6, "10.0.0.2"))
ECHO = b"\x08\x00\x00\x00\x00\x01\x00\x01" + b"x" * 56
PING = eth(MAC2, MAC1, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 1, ECHO))
FRAG2 = eth(MAC2, MAC1, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, tcp(80, 80, 0x02), frag=185))
OPTS = eth(MAC2, MAC1, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, tcp(40001, 443, 0x10), ihl=6))
VLAN_SYN = SYN[:12] + b"\x81\x00\x00\x64" + SYN[12:]
MCAST = eth(bytes.fromhex("01005e0000fb"), MAC1, 0x0800, ipv4("10.0.0.1", "224.0.0.251", 17, udp(5353, 5353)))
FRAMES = {"syn": SYN, "synack": SYNACK, "dns": DNS, "arp": ARP_REQ, "ping": PING, "frag2": FRAG2,
          "opts": OPTS, "vlan": VLAN_SYN, "mcast": MCAST}


def matching(expr: str, **kw: object) -> set[str]:
    f = compile_filter(expr, **kw)  # type: ignore[arg-type]
    return {name for name, fr in FRAMES.items() if f(fr)}


@pytest.mark.parametrize(("expr", "want"), [
    ("", set(FRAMES)),
    ("tcp", {"syn", "synack", "frag2", "opts"}),
    ("tcp port 80", {"syn", "synack"}),  # frag2 is a non-first fragment: no ports
    ("port 80 or 443", {"syn", "synack", "opts"}),
    ("port 80 or 443 and src 10.0.0.1", {"syn", "opts"}),  # and/or group to the left
    ("host 10.0.0.2 and not port 53", {"syn", "synack", "arp", "ping", "frag2", "opts"}),
    ("arp and host 10.0.0.2", {"arp"}),  # ARP target protocol address
    ("src host 10.0.0.1 or 10.0.0.9", {"syn", "dns", "arp", "ping", "frag2", "opts", "mcast"}),
    ("udp dst port domain", {"dns"}),
    ("portrange 40000-40001", {"syn", "synack", "opts"}),
    ("icmp[icmptype] = icmp-echo", {"ping"}),
    ("tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn", {"syn"}),
    ("tcp[tcpflags] = tcp-syn|tcp-ack", {"synack"}),
    ("ip[0] & 0xf > 5", {"opts"}),
    ("tcp[2:2] = 443", {"opts"}),  # transport offset follows the IP header length
    ("ip[6:2] & 0x1fff != 0", {"frag2"}),
    ("ether src 02:00:00:00:00:01", {"syn", "dns", "arp", "ping", "frag2", "opts", "vlan", "mcast"}),
    ("ether dst 02:00:00:00:00:01", {"synack"}),
    ("broadcast", {"arp"}),
    ("multicast", {"arp", "mcast"}),
    ("ip multicast", {"mcast"}),
    ("vlan", {"vlan"}),
    ("vlan 100 and tcp port 80", {"vlan"}),
    ("vlan 101", set()),
    ("ether proto 0x0806", {"arp"}),
    ("ether proto \\arp or ip proto \\udp", {"arp", "dns", "mcast"}),
    ("net 224.0.0.0/4", {"mcast"}),
    ("net 10.0.0.0 mask 255.255.255.0", set(FRAMES) - {"vlan"}),
    ("less 50", {"arp", "mcast"}),
    ("greater 90", {"ping"}),
    ("len = 54", {"syn", "synack", "dns", "frag2"}),
    ("tcp[100:4] = 0", set()),  # past the end: rejected, even under not
    ("not tcp[100:4] = 0", {"dns", "arp", "ping", "vlan", "mcast", "frag2"}),
])
def test_semantics(expr: str, want: set[str]) -> None:
    assert matching(expr) == want


def test_out_of_bounds_rejects_whole_filter() -> None:
    short = SYN[:30]  # IPv4, but cut inside the IP header
    assert not compile_filter("ip[16:4] = 0 or ip")(short)
    assert compile_filter("ip or ip[16:4] = 0")(short)
    assert not compile_filter("ether[0:2] = 0")(b"\x00")


def test_wire_length_and_arithmetic() -> None:
    f = compile_filter("len > 1000")
    assert not f(SYN) and f(SYN, 1500)
    assert compile_filter("ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2) = 0")(SYN)
    assert compile_filter("ether[0] << ether[1] = 0")(b"\x01\x21" + b"\0" * 12)  # shift >= 32 gives 0
    assert not compile_filter("ether[0] / ether[1] = 0")(b"\x05\x00")  # runtime division by zero
    # % and ^ have no precedence in libpcap's grammar: they take the rest as right operand
    assert compile_filter("ether[0] * 2 % 3 = 0x0a")(b"\x05")
    assert compile_filter("ether[0] % 3 * 2 = 5")(b"\x05")


def test_netmask_and_resolver() -> None:
    bcast = eth(BCAST, MAC1, 0x0800, ipv4("10.0.0.1", "10.0.0.255", 17, udp(137, 137)))
    assert not compile_filter("ip broadcast")(bcast)
    assert compile_filter("ip broadcast", netmask=0xFFFFFF00)(bcast)
    f = compile_filter("host h2", resolve_host=lambda name: ["10.0.0.2"] if name == "h2" else [])
    assert f(SYN) and not f(MCAST)
    with pytest.raises(FilterSyntaxError, match="unknown host 'h3'"):
        compile_filter("host h3", resolve_host=lambda name: [])


@pytest.mark.parametrize(("expr", "message"), [
    ("port 99999", "illegal port number 99999 > 65535"),
    ("portrange 5-99999", "illegal port number 99999 > 65535"),
    ("host foo", "unknown host 'foo'"),
    ("port nosuchservice", "unknown port 'nosuchservice'"),
    ("udp port http", "port 'http' is tcp"),
    ("ip proto foo", "unknown ip proto 'foo'"),
    ("ether proto foo", "unknown ether proto 'foo'"),
    ("tcp and 80", "syntax error in filter expression"),
    ("tcp port", "can't parse filter expression: syntax error"),
    ("(tcp", "can't parse filter expression: syntax error"),
    ("tcp)", "can't parse filter expression: syntax error"),
    ("host 1.2.3.4 @", "can't parse filter expression: syntax error"),
    ("ip proto icmp", "can't parse filter expression: syntax error"),  # icmp is a keyword: \icmp
    ("08 = 1", "number 08 contains non-octal digit"),
    ("0x100000000 = 1", "number 0x100000000 overflows 32 bits"),
    ("ether host 01:02:03:04:05", "bogus ethernet address 01:02:03:04:"),
    ("ether[0:3] = 1", "data size must be 1, 2, or 4"),
    ("ether[0] / 0 = 1", "division by zero"),
    ("ether[0] % (3 - 3) = 1", "modulus by zero"),
    # libpcap looks at the divisor's first statement: here the index of ip[0]
    ("ip[2:2] / (ip[0] & 0xf) > 3", "division by zero"),
    ("ether[0] << 32 = 1", "shift by more than 31 bits"),
    ("host 10.0.0.256", "invalid IPv4 address '10.0.0.256'"),
    ("net 10.0.0.1/8", 'non-network bits set in "10.0.0.1/8"'),
    ("net 10.0.0.0/33", "mask length must be <= 32"),
    ("host 10.0.0.0/8", "Mask syntax for networks only"),
    ("port 1.2.3.4", "'port' modifier applied to ip host"),
    ("ether src 1.2.3.4", "illegal link layer address"),
    ("host 02:00:00:00:00:01", "ethernet address used in non-ether expression"),
    ("tcp host 1.2.3.4", "'tcp' modifier applied to host"),
    ("tcp proto 6", "'tcp proto' is bogus"),
    ("arp proto 6", "arp does not encapsulate another protocol"),
    ("tcp broadcast", "only link-layer/IP broadcast filters supported"),
    ("vlan 5000", "VLAN tag 5000 greater than maximum 4095"),
    ("ip and arp", "expression rejects all packets"),
    ("tcp and udp", "expression rejects all packets"),
    ("src 10.0.0.1 and src 10.0.0.2", "expression rejects all packets"),
    ("ether", "link layer applied in wrong context"),
    ("inbound", "inbound/outbound not supported on Ethernet when reading savefiles"),
])
def test_error_wording(expr: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        compile_filter(expr)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_lexer_longest_match() -> None:
    text = "tcp-syn tcp ip6 10.0.0.1 1000-2000 0x800 02:00:00:00:00:01 && || != \\tcp"
    kinds = [t.kind for t in tokenize(text)]
    assert kinds == ["NUM", "TCP", "IPV6", "HID", "ID", "NUM", "EID", "AND", "OR", "NEQ", "ID", "EOF"]
    assert [t.kind for t in tokenize("2001:db8::1 0200.0000.0001 $1a")][:3] == ["HID6", "EID", "AID"]


def test_source_is_plain_python() -> None:
    src = filter_source("tcp port 80")
    assert src.startswith("def _filter(p, wirelen=None):")
    compile(src, "<test>", "exec")


def test_deep_nesting_is_handled() -> None:
    f = compile_filter("(" * 40 + "tcp" + ")" * 40)
    assert f(SYN)
    f = compile_filter(" or ".join(f"host 10.0.{i // 250}.{i % 250}" for i in range(300)))
    assert f(SYN)
    with pytest.raises(FilterSyntaxError):
        compile_filter("(" * 5000 + "tcp" + ")" * 5000)


ALPHABET = st.sampled_from(
    list("()[]:!<>=&|^+-*/%0123456789abcdefx .\\$@") + [
        " and ", " or ", " not ", "tcp", "udp", "ip", "ip6", "host ", "net ", "port ", "src ", "dst ",
        "ether", "proto ", "portrange ", "vlan ", "len", "less ", "greater ", "broadcast", "multicast",
        "10.0.0.1", "02:00:00:00:00:01", "::1", "/8", " mask ", "tcp-syn", "icmptype", "1000-2000",
        "icmp", "arp", "byte ", "gateway ", "protochain ", "mpls", "llc", "\\tcp", "0x800",
    ]
)
EXPRS = st.lists(ALPHABET, max_size=25).map("".join)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRS | st.text(max_size=40))
def test_fuzz_compile_raises_only_filter_syntax_error(expr: str) -> None:
    try:
        compile_filter(expr)
    except FilterSyntaxError:
        pass


FILTERS = [
    "tcp port 80", "host 10.0.0.1 or arp", "tcp[((tcp[12]&0xf0)>>2):4] = 0x47455420",
    "ip[2:2] / (ip[1] & 0xf) > 3", "vlan and udp portrange 1-1024", "ether[ether[0]:4] != 0",
    "icmp[icmptype] = icmp-echo or icmp6", "ip6 net 2001:db8::/32 or ip multicast", "len - 14 != ip[2:2]",
    "ether[0] << ether[1] >> ether[2] = ether[3] % (ether[4] + 1)", "udp[8:4] ^ 0xffffffff < 7",
]
COMPILED = [compile_filter(e) for e in FILTERS]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=120), st.integers(min_value=0, max_value=65535))
def test_fuzz_filters_never_raise(frame: bytes, wirelen: int) -> None:
    for f in COMPILED:
        assert f(frame) in (True, False)
        assert f(frame, wirelen) in (True, False)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(FRAMES.values())), st.lists(st.tuples(st.integers(0, 80), st.integers(0, 255)),
                                                          max_size=6), st.integers(0, 100))
def test_fuzz_mutated_frames_never_raise(frame: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    b = bytearray(frame)
    for pos, val in flips:
        if pos < len(b):
            b[pos] = val
    data = bytes(b[: max(0, len(b) - cut)])
    for f in COMPILED:
        f(data)
