"""TCP header and options: Linux golden segments, tcp_options_write() layouts, tcp_parse_options() rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_golden import ACK, BASIC, DATA_HELLO, SACK, SYN, SYN_NO_SACK, SYN_NO_TS, SYNACK

from tuxnet.wire.addr import ip_aton
from tuxnet.wire.errors import WireError
from tuxnet.wire.tcp import (
    TcpFlags,
    TcpHeader,
    TcpOptEol,
    TcpOptFastopen,
    TcpOptMss,
    TcpOptNop,
    TcpOptSack,
    TcpOptSackPerm,
    TcpOptTimestamp,
    TcpOptUnknown,
    TcpOptWscale,
    encode_tcp_options,
    linux_data_options,
    linux_syn_options,
    parse_tcp_options,
    tcp_checksum_ok,
)

A1, A2 = ip_aton("10.0.0.1"), ip_aton("10.0.0.2")

# SYNs from 10.0.0.1 as Linux 6.18 sent them (golden/veth_basic.pcap frames 4, 15, 17), TCP header only.
# Default sysctls: mss 1460, sackOK, TS, nop, wscale 10.
SYN_HEX = "c4f01f90e08ac38400000000a002faf0a2c70000020405b40402080a080105b1000000000103030a"
# net.ipv4.tcp_sack=0: mss, nop, nop, TS, nop, wscale.
SYN_NOSACK_HEX = "afb42329bb36ea6200000000a002faf0980c0000020405b40101080a8550a636000000000103030a"
# net.ipv4.tcp_timestamps=0: mss, nop, nop, sackOK, nop, wscale.
SYN_NOTS_HEX = "d8fa232a97ee781c000000008002faf053eb0000020405b4010104020103030a"


def tcp_of(frame: bytes) -> bytes:
    return frame[34:]


def test_golden_syn():
    raw = bytes.fromhex(SYN_HEX)
    assert tcp_of(BASIC[SYN]) == raw
    th = TcpHeader.parse(raw)
    assert (th.sport, th.dport, th.seq, th.ack) == (50416, 8080, 3767190404, 0)
    assert th.flags == TcpFlags.SYN and type(th.flags) is TcpFlags
    assert (th.doff, th.hlen, th.window, th.check, th.urg_ptr, th.res1) == (10, 40, 64240, 0xA2C7, 0, 0)
    assert th.options == (
        TcpOptMss(1460),
        TcpOptSackPerm(),
        TcpOptTimestamp(134284721, 0),
        TcpOptNop(),
        TcpOptWscale(10),
    )
    assert th.timestamp() == (134284721, 0)
    assert tcp_checksum_ok(A1, A2, raw)
    assert th.pack() == raw
    assert th.pack(A1, A2) == raw
    assert th.compute_checksum(A1, A2) == 0xA2C7
    built = TcpHeader(
        50416,
        8080,
        3767190404,
        0,
        TcpFlags.SYN,
        64240,
        options=linux_syn_options(1460, sack=True, ts=(134284721, 0), wscale=10),
    )
    assert built.pack(A1, A2) == raw
    buf = bytearray(44)
    assert built.pack_into(buf, 4, A1, A2) == 40 and bytes(buf[4:]) == raw


@pytest.mark.parametrize(
    ("index", "hexdata", "sack", "ts"),
    [
        (SYN, SYN_HEX, True, (134284721, 0)),
        (SYN_NO_SACK, SYN_NOSACK_HEX, False, (2236655158, 0)),
        (SYN_NO_TS, SYN_NOTS_HEX, True, None),
    ],
)
def test_linux_syn_layouts(index, hexdata, sack, ts):
    raw = bytes.fromhex(hexdata)
    assert tcp_of(BASIC[index]) == raw
    th = TcpHeader.parse(raw)
    assert th.options_bytes == encode_tcp_options(linux_syn_options(1460, sack, ts, 10))
    assert th.options == linux_syn_options(1460, sack, ts, 10)
    assert tcp_checksum_ok(A1, A2, raw)


def test_linux_syn_layout_variants():
    assert encode_tcp_options(linux_syn_options(1460, False, None, None)) == bytes.fromhex("020405b4")
    assert encode_tcp_options(linux_syn_options(1460, False, None, 7)) == bytes.fromhex("020405b401030307")
    assert encode_tcp_options(linux_syn_options(536, True, (1, 2), None)) == bytes.fromhex(
        "020402180402080a0000000100000002"
    )


def test_golden_synack_and_data():
    synack = TcpHeader.parse(tcp_of(BASIC[SYNACK]))
    assert synack.flags == TcpFlags.SYN | TcpFlags.ACK and synack.ack == 3767190405
    assert synack.options == linux_syn_options(1460, True, (3318475618, 134284721), 10)
    assert tcp_checksum_ok(A2, A1, tcp_of(BASIC[SYNACK]))
    ack = TcpHeader.parse(tcp_of(BASIC[ACK]))
    assert ack.flags == TcpFlags.ACK and ack.window == 63
    assert ack.options == linux_data_options(ts=(134284722, 3318475618))
    seg = tcp_of(BASIC[DATA_HELLO])
    data = TcpHeader.parse(seg)
    assert data.flags == TcpFlags.PSH | TcpFlags.ACK and seg[data.hlen :] == b"hello"
    assert data.pack(A1, A2, b"hello") == seg[:32]
    assert data.compute_checksum(A1, A2, b"hello") == data.check


def test_golden_sack():
    # ACKs from the receiver of a transfer with lost segments (golden/veth_sack.pcap).
    one = TcpHeader.parse(tcp_of(SACK[0]))
    assert one.options == (
        TcpOptNop(),
        TcpOptNop(),
        TcpOptTimestamp(3145263090, 3656615461),
        TcpOptNop(),
        TcpOptNop(),
        TcpOptSack([(573151995, 573153443)]),
    )
    two = TcpHeader.parse(tcp_of(SACK[1]))
    assert two.options[-1].blocks == ((573162131, 573163579), (573151995, 573160683))
    assert two.options == linux_data_options((3145263090, 3656615461), two.options[-1].blocks)
    for frame in SACK:
        th = TcpHeader.parse(tcp_of(frame))
        assert tcp_checksum_ok(A2, A1, tcp_of(frame))
        assert th.pack(A2, A1) == tcp_of(frame)
        th.options = th.options  # re-encoding the decoded options gives the same bytes
        assert th.pack(A2, A1) == tcp_of(frame)


def test_header_errors():
    raw = bytes.fromhex(SYN_HEX)
    with pytest.raises(WireError, match="truncated"):
        TcpHeader.parse(raw[:19])
    bad = bytearray(raw)
    bad[12] = 0x40  # doff 4
    with pytest.raises(WireError, match="bad data offset 4"):
        TcpHeader.parse(bad)
    with pytest.raises(WireError, match="runs past"):
        TcpHeader.parse(raw[:39])
    with pytest.raises(WireError, match="runs past"):
        TcpHeader.parse(raw, 0, end=30)
    with pytest.raises(WireError):
        TcpHeader(1, 2, options=[TcpOptSack([(1, 2)] * 4), TcpOptMss(1), TcpOptWscale(1)])  # 41 bytes
    with pytest.raises(WireError):
        TcpHeader(70000, 1).pack()
    th = TcpHeader(1, 2)
    with pytest.raises(WireError):
        th.options_bytes = b"\1\1\1"


def test_parse_options_like_linux():
    nop, eol = TcpOptNop(), TcpOptEol()
    # EOL ends the walk; what follows is padding.
    assert parse_tcp_options(b"\x02\x04\x05\xb4\x00\x03\x03\x07") == (TcpOptMss(1460), eol)
    # Silly option (length < 2): stop, keep what was decoded.
    assert parse_tcp_options(b"\x01\x01\x08\x01\x02\x04\x05\xb4") == (nop, nop)
    # Partial option (length past the area): stop.
    assert parse_tcp_options(b"\x01\x08\x0a\x00\x00\x00") == (nop,)
    # Last byte is a kind with no room for its length: stop.
    assert parse_tcp_options(b"\x01\x01\x01\x03") == (nop, nop, nop)
    # Known kinds with the wrong length are skipped by Linux; kept here as unknown, re-encoded as is.
    odd = b"\x02\x03\x05\x03\x04\x0e\x00\x05\x06\x00\x00\x00\x00\x01\x01\x01"
    parsed = parse_tcp_options(odd)
    assert parsed == (
        TcpOptUnknown(2, b"\x05"),
        TcpOptUnknown(3, b"\x0e\x00"),
        TcpOptUnknown(5, b"\0\0\0\0"),
        nop,
        nop,
        nop,
    )
    assert encode_tcp_options(parsed) == odd
    # Unknown kinds (MD5 signature, kind 19, 18 bytes) are kept.
    md5 = b"\x13\x12" + bytes(range(16)) + b"\x00\x00"
    assert parse_tcp_options(md5) == (TcpOptUnknown(19, bytes(range(16))), eol)
    # Values are not judged: wscale 15 is kept (tcp_input clamps to 14).
    assert parse_tcp_options(b"\x03\x03\x0f\x00") == (TcpOptWscale(15), eol)


def test_malformed_options_survive_repacking():
    # doff 7: NOP, then a timestamp whose length (10) runs past the 7 remaining bytes.
    raw = bytes.fromhex("0001000200000001000000007010010000000000") + b"\x01\x08\x0a" + bytes(5)
    th = TcpHeader.parse(raw)
    assert th.options == (TcpOptNop(),)
    assert th.pack() == raw  # raw option bytes kept even after decoding them


def test_timestamp_fast_and_slow_paths():
    assert TcpHeader(1, 2, options=linux_data_options((5, 6))).timestamp() == (5, 6)
    assert TcpHeader(1, 2, options=[TcpOptTimestamp(7, 8)]).timestamp() == (7, 8)
    assert TcpHeader(1, 2, options=[TcpOptMss(1)]).timestamp() is None
    assert TcpHeader(1, 2).timestamp() is None


def test_option_values_are_immutable_and_typed():
    assert TcpOptMss(4) != TcpOptWscale(4) and TcpOptNop() != TcpOptEol() and TcpOptMss(4) != (4,)
    assert TcpOptMss(4) == TcpOptMss(4) and hash(TcpOptMss(4)) == hash(TcpOptMss(4))
    assert TcpOptUnknown(30, b"ab").kind == 30 and TcpOptMss(1).kind == 2
    assert repr(TcpOptTimestamp(1, 2)) == "TcpOptTimestamp(tsval=1, tsecr=2)"
    with pytest.raises(AttributeError):
        TcpOptMss(4).mss = 5
    th = TcpHeader(1, 2, flags=TcpFlags.SYN | TcpFlags.ECE | TcpFlags.CWR)
    assert "TcpFlags" in repr(th)


def test_flags_byte_and_reserved_bits_roundtrip():
    raw = bytearray(TcpHeader(1, 2, flags=0xFF).pack())
    raw[12] |= 0x0F  # reserved bits (AccECN's AE among them) are kept
    th = TcpHeader.parse(raw)
    assert th.res1 == 15 and th.flags == 0xFF and th.pack() == bytes(raw)


# -- properties ---------------------------------------------------------------------------------
u32 = st.integers(0, 2**32 - 1)
u16 = st.integers(0, 0xFFFF)
single_options = st.one_of(
    st.builds(TcpOptMss, u16),
    st.builds(TcpOptWscale, st.integers(0, 255)),
    st.just(TcpOptSackPerm()),
    st.just(TcpOptNop()),
    st.builds(TcpOptTimestamp, u32, u32),
    st.builds(TcpOptSack, st.lists(st.tuples(u32, u32), min_size=1, max_size=3)),
    st.builds(TcpOptFastopen, st.binary(max_size=6), st.booleans()),
    # kinds the codec decodes (TS 8, Fast Open 34, and 254 with the Fast Open magic) are not unknown
    st.builds(TcpOptUnknown, st.integers(6, 255).filter(lambda k: k not in (8, 34)), st.binary(max_size=6))
    .filter(lambda o: not (o.kind == 254 and o.data[:2] == b"\xf9\x89")),
)
option_lists = st.lists(single_options, max_size=8).filter(
    lambda opts: sum(len(o.pack()) for o in opts) <= 40
)


@settings(max_examples=200, deadline=None)
@given(u16, u16, u32, u32, st.integers(0, 255), u16, u16, u16, option_lists, st.binary(max_size=40), u32, u32)
def test_roundtrip(sport, dport, seq, ack, flags, window, check, urg, options, payload, src, dst):
    th = TcpHeader(sport, dport, seq, ack, flags, window, check, urg, options)
    raw = th.pack()
    assert len(raw) == th.hlen == 4 * th.doff
    back = TcpHeader.parse(raw + payload)
    assert back == th
    # Padding to 4 bytes appears as a trailing EOL.
    padded = len(encode_tcp_options(options)) != sum(len(o.pack()) for o in options)
    assert back.options == tuple(options) + ((TcpOptEol(),) if padded else ())
    seg = th.pack(src, dst, payload) + payload
    assert tcp_checksum_ok(src, dst, seg)


@given(st.binary(max_size=40))
def test_option_walk_reencodes_up_to_where_it_stopped(raw):
    opts = parse_tcp_options(raw)
    enc = b"".join(o.pack() for o in opts)
    assert raw.startswith(enc)
