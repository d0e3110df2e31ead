"""Hypothesis fuzzing: every parser, fed arbitrary or mutated bytes at any offset, returns or raises
WireError, never anything else (DESIGN.md testing layer 1)."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from wire_golden import BASIC, ROUTER, SACK

from tuxnet.wire.arp import ArpPacket
from tuxnet.wire.errors import WireError
from tuxnet.wire.ethernet import EthHeader
from tuxnet.wire.icmp import IcmpHeader
from tuxnet.wire.ipv4 import Ipv4Header, parse_ip_options
from tuxnet.wire.pcap import PcapReader
from tuxnet.wire.tcp import TcpHeader, parse_tcp_options
from tuxnet.wire.udp import UdpHeader, udp_checksum_ok


def attempt(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except WireError as exc:
        assert isinstance(exc, ValueError) and exc.reason
        return None


def exercise_ip(buf, off, verify):
    ip = attempt(Ipv4Header.parse, buf, off, verify_checksum=verify, check_len=verify)
    if ip is None:
        return
    attempt(ip.parse_options)
    assert ip.pack(compute_checksum=False) == bytes(buf[off : off + ip.hlen])
    l4, end = off + ip.hlen, off + ip.tot_len
    tcp = attempt(TcpHeader.parse, buf, l4, end)
    if tcp is not None:
        tcp.options  # noqa: B018 - decoding must not raise
        tcp.timestamp()
        assert tcp.pack() == bytes(buf[l4 : l4 + tcp.hlen])
    udp = attempt(UdpHeader.parse, buf, l4, end)
    if udp is not None:
        udp_checksum_ok(ip.saddr, ip.daddr, buf[l4 : l4 + udp.length])
    icmp = attempt(IcmpHeader.parse, buf, l4, end, verify_checksum=verify)
    if icmp is not None:
        quoted = attempt(icmp.parse_quoted)
        if quoted is not None:
            attempt(UdpHeader.parse, quoted[1], check_len=False)
            attempt(quoted[0].parse_options)


def decode_frame(buf: bytes, verify: bool) -> None:
    eth = attempt(EthHeader.parse, buf)
    if eth is None:
        return
    assert eth.pack() == buf[: eth.hlen]
    attempt(ArpPacket.parse, buf, eth.hlen)
    exercise_ip(buf, eth.hlen, verify)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=160), st.integers(0, 170), st.booleans())
def test_every_parser_on_arbitrary_bytes(data, off, verify):
    attempt(EthHeader.parse, data, off)
    attempt(ArpPacket.parse, data, off)
    attempt(UdpHeader.parse, data, off)
    attempt(IcmpHeader.parse, data, off, verify_checksum=verify)
    exercise_ip(data, off, verify)
    tcp = attempt(TcpHeader.parse, data, off)
    if tcp is not None:
        tcp.options  # noqa: B018
    attempt(parse_ip_options, data[:40])
    parse_tcp_options(data[:40])  # never raises at all: Linux just stops walking


# Valid-looking input reaches deeper code: take real Linux frames and damage them.
GOLDEN_FRAMES = [f for f in BASIC + ROUTER + SACK if len(f) < 200]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(GOLDEN_FRAMES),
    st.lists(st.tuples(st.integers(0, 199), st.integers(0, 255)), max_size=6),
    st.integers(0, 200),
    st.booleans(),
)
def test_mutated_linux_frames(frame, edits, cut, verify):
    buf = bytearray(frame)
    for pos, value in edits:
        if pos < len(buf):
            buf[pos] = value
    decode_frame(bytes(buf[: max(cut, 14)]) if cut < len(buf) else bytes(buf), verify)
    decode_frame(bytes(buf), verify)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=44))
def test_ip_option_bytes(opts):
    # Through the header (ihl covers the options), not just the option walker.
    n = min(len(opts), 40) & ~3
    hdr = bytes([0x45 + n // 4]) + bytes(19) + opts[:n]
    ip = Ipv4Header.parse(hdr, check_len=False)
    parsed = attempt(ip.parse_options)
    if parsed is not None:
        for opt in parsed:
            opt.pointer, opt.addrs, opt.ts_entries, opt.ts_flags, opt.ts_overflow, opt.ra_value  # noqa: B018


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=100))
def test_pcap_reader_on_garbage(data):
    for head in (b"", bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")):
        try:
            for _ in PcapReader(io.BytesIO(head + data)):
                pass
        except WireError:
            pass
