"""ICMP and UDP codecs: Linux golden frames, checksums, quoted headers, length checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire_golden import (
    BASIC,
    ECHO_REPLY,
    ECHO_REQUEST,
    ICMP_PORT_UNREACH,
    R_FRAG_NEEDED,
    R_TIME_EXCEEDED,
    ROUTER,
    UDP_TO_CLOSED_PORT,
)

from tuxnet.wire.addr import ip_aton
from tuxnet.wire.errors import WireError
from tuxnet.wire.icmp import (
    IcmpHeader,
    IcmpRedirectCode,
    IcmpTimeExceededCode,
    IcmpType,
    IcmpUnreachCode,
    icmp_is_err,
)
from tuxnet.wire.ipv4 import IpProto, Ipv4Header
from tuxnet.wire.udp import UdpHeader, udp_checksum_ok

A1, A2 = ip_aton("10.0.0.1"), ip_aton("10.0.0.2")

# UDP "ping" from 10.0.0.1:57779 to 10.0.0.2:5555 and the ICMP port unreachable Linux 6.18 answered
# with (golden/veth_basic.pcap frames 19 and 20, from the IP header on).
UDP_IP = bytes.fromhex("45000020c1364000401165940a0000010a000002e1b315b3000c159c70696e67")
UNREACH_IP = bytes.fromhex(
    "45c0003cde450000400187b90a0000020a000001"
    "0303111d00000000"
    "45000020c1364000401165940a0000010a000002e1b315b3000c159c70696e67"
)


def test_golden_udp():
    assert BASIC[UDP_TO_CLOSED_PORT][14:] == UDP_IP
    udp = UdpHeader.parse(UDP_IP, 20)
    assert (udp.sport, udp.dport, udp.length, udp.check) == (57779, 5555, 12, 0x159C)
    assert udp_checksum_ok(A1, A2, UDP_IP[20:])
    assert udp.compute_checksum(A1, A2, b"ping") == 0x159C
    assert udp.pack(A1, A2, b"ping") == UDP_IP[20:28]
    assert udp.pack() == UDP_IP[20:28]
    buf = bytearray(8)
    assert udp.pack_into(buf, 0, A1, A2, b"ping") == 8 and bytes(buf) == UDP_IP[20:28]
    assert not udp_checksum_ok(A1, A2 + 1, UDP_IP[20:])


def test_golden_port_unreachable():
    assert BASIC[ICMP_PORT_UNREACH][14:] == UNREACH_IP
    iph = Ipv4Header.parse(UNREACH_IP, verify_checksum=True)
    assert iph.tos == 0xC0 and iph.protocol is IpProto.ICMP  # Linux sends errors with TOS 0xc0
    icmp = IcmpHeader.parse(UNREACH_IP, 20, verify_checksum=True)
    assert icmp.type is IcmpType.DEST_UNREACH and icmp.code is IcmpUnreachCode.PORT_UNREACH
    assert icmp.check == 0x111D and icmp.rest == 0 and icmp_is_err(icmp.type)
    quoted, rest = icmp.parse_quoted()
    assert quoted == Ipv4Header.parse(UDP_IP) and rest == UDP_IP[20:]
    assert UdpHeader.parse(rest).dport == 5555
    assert icmp.pack() == UNREACH_IP[20:]
    assert (
        IcmpHeader.error(IcmpType.DEST_UNREACH, IcmpUnreachCode.PORT_UNREACH, UDP_IP).pack()
        == UNREACH_IP[20:]
    )


def test_golden_echo():
    frame = BASIC[ECHO_REQUEST]
    icmp = IcmpHeader.parse(frame, 34, verify_checksum=True)
    assert icmp.type is IcmpType.ECHO and icmp.code == 0
    assert (icmp.echo_id, icmp.echo_seq, len(icmp.payload)) == (3495, 1, 56)
    assert icmp.payload[16:] == bytes(range(0x10, 0x38))  # ping's pattern after its 16-byte timeval
    assert IcmpHeader.echo(3495, 1, icmp.payload).pack() == frame[34:]
    reply = IcmpHeader.parse(BASIC[ECHO_REPLY], 34, verify_checksum=True)
    assert reply.type is IcmpType.ECHOREPLY and reply.payload == icmp.payload
    assert IcmpHeader.echo(3495, 1, icmp.payload, reply=True).pack() == BASIC[ECHO_REPLY][34:]


def test_golden_time_exceeded_and_frag_needed():
    te = IcmpHeader.parse(ROUTER[R_TIME_EXCEEDED], 34, verify_checksum=True)
    assert te.type is IcmpType.TIME_EXCEEDED and te.code is IcmpTimeExceededCode.EXC_TTL
    quoted, rest = te.parse_quoted()
    assert quoted.ttl == 1 and quoted.daddr == ip_aton("10.2.0.2") and len(rest) == 64
    # Router with a 1400-byte next hop: code 4 with the MTU in the low 16 bits (RFC 1191); Linux
    # quotes as much of the packet as fits in 576 bytes.
    frame = ROUTER[R_FRAG_NEEDED]
    fn = IcmpHeader.parse(frame, 34, verify_checksum=True)
    assert fn.code is IcmpUnreachCode.FRAG_NEEDED and fn.mtu == 1400 and fn.rest == 1400
    quoted, rest = fn.parse_quoted()
    assert quoted.tot_len == 1478 and quoted.df and len(fn.payload) == 576 - 28
    assert fn.pack() == frame[34:]


def test_accessors():
    h = IcmpHeader(IcmpType.ECHO)
    h.echo_id = 0x1234
    h.echo_seq = 0xBEEF
    assert h.rest == 0x1234BEEF and h.rest_bytes == b"\x12\x34\xbe\xef"
    h = IcmpHeader(IcmpType.REDIRECT, IcmpRedirectCode.REDIR_HOST)
    h.gateway = ip_aton("10.0.0.254")
    assert h.gateway == 0x0A0000FE
    h = IcmpHeader(IcmpType.PARAMETERPROB)
    h.pointer = 22
    assert h.rest == 22 << 24 and h.pointer == 22
    h = IcmpHeader(IcmpType.DEST_UNREACH, IcmpUnreachCode.FRAG_NEEDED)
    h.mtu = 1280
    assert h.mtu == 1280
    assert [c.value for c in IcmpUnreachCode] == list(range(16))
    assert not icmp_is_err(IcmpType.REDIRECT) and not icmp_is_err(IcmpType.ECHO)


def test_icmp_errors():
    with pytest.raises(WireError, match="truncated"):
        IcmpHeader.parse(bytes(7))
    with pytest.raises(WireError, match="truncated"):
        IcmpHeader.parse(bytes(20), 10, end=17)
    bad = bytearray(UNREACH_IP)
    bad[-1] ^= 1
    with pytest.raises(WireError) as info:
        IcmpHeader.parse(bad, 20, verify_checksum=True)
    assert info.value.reason == "ICMP_CSUM"
    with pytest.raises(WireError):
        IcmpHeader(3, 3, payload=b"\x45\0\0").parse_quoted()
    with pytest.raises(WireError):
        IcmpHeader(300).pack()


def test_icmp_end_excludes_padding():
    frame = BASIC[ECHO_REQUEST] + bytes(10)
    icmp = IcmpHeader.parse(frame, 34, end=98, verify_checksum=True)
    assert len(icmp.payload) == 56


def test_unknown_types_and_codes_kept():
    h = IcmpHeader.parse(IcmpHeader(200, 77, rest=5, payload=b"x").pack())
    assert h.type == 200 and type(h.type) is int and h.code == 77
    h = IcmpHeader.parse(IcmpHeader(3, 99).pack())
    assert h.type is IcmpType.DEST_UNREACH and h.code == 99 and type(h.code) is int


def test_udp_zero_checksum_rules():
    # RFC 768: a computed 0 is sent as 0xFFFF; a received 0 means "no checksum".
    udp = UdpHeader(1000, 2000, 12)
    base = udp.compute_checksum(A1, A2, b"ab\0\0")
    payload = b"ab" + base.to_bytes(2, "big")
    assert udp.compute_checksum(A1, A2, payload) == 0xFFFF
    datagram = udp.pack(A1, A2, payload) + payload
    assert datagram[6:8] == b"\xff\xff" and udp_checksum_ok(A1, A2, datagram)
    assert udp_checksum_ok(A1, A2, UdpHeader(1, 2, 9, 0).pack() + b"z")
    assert not udp_checksum_ok(A1, A2, b"\0" * 7)


def test_udp_length_checks():
    with pytest.raises(WireError, match="truncated"):
        UdpHeader.parse(bytes(7))
    with pytest.raises(WireError, match="bad length 7"):
        UdpHeader.parse(UdpHeader(1, 2, 7).pack())
    with pytest.raises(WireError, match="bad length 13"):
        UdpHeader.parse(UDP_IP[:20] + UdpHeader(1, 2, 13).pack() + b"ping", 20)
    # Shorter than the buffer (padding follows) is fine; the caller trims to ``length``.
    assert UdpHeader.parse(UDP_IP + bytes(6), 20).length == 12
    # Quoted in ICMP: only 8 bytes present, length refers to the original.
    assert UdpHeader.parse(UDP_IP[20:28], check_len=False).length == 12
    with pytest.raises(WireError):
        UdpHeader(70000, 1).pack()


u16 = st.integers(0, 0xFFFF)


@given(st.integers(0, 255), st.integers(0, 255), u16, st.integers(0, 2**32 - 1), st.binary(max_size=100))
def test_icmp_roundtrip(t, c, check, rest, payload):
    h = IcmpHeader(t, c, check, rest, payload)
    assert IcmpHeader.parse(h.pack(compute_checksum=False)) == h
    raw = h.pack()
    assert IcmpHeader.parse(raw, verify_checksum=True).pack() == raw
    buf = bytearray(len(raw) + 3)
    assert h.pack_into(buf, 3) == len(raw) and bytes(buf[3:]) == raw


@given(u16, u16, st.binary(max_size=100), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_udp_roundtrip(sport, dport, payload, src, dst):
    h = UdpHeader(sport, dport, 8 + len(payload))
    raw = h.pack(src, dst, payload) + payload
    back = UdpHeader.parse(raw)
    assert (back.sport, back.dport, back.length) == (sport, dport, len(raw)) and back.check != 0
    assert udp_checksum_ok(src, dst, raw)
    assert UdpHeader.parse(back.pack() + payload) == back
