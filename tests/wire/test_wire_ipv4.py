"""IPv4 header and options: Linux golden frames, ip_rcv_core() checks, ip_options_compile() checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_golden import (
    BASIC,
    R_FRAG1,
    R_FRAG2,
    R_RR_REPLY,
    R_RR_REQUEST,
    ROUTER,
    SYN,
)

from tuxnet.wire.addr import ip_aton
from tuxnet.wire.checksum import inet_checksum
from tuxnet.wire.errors import WireError
from tuxnet.wire.ipv4 import (
    IP_DF,
    IpOption,
    IpOptType,
    IpProto,
    Ipv4Header,
    ip_decrease_ttl,
    ip_fast_csum,
    ip_send_check,
    pack_ip_options,
    parse_ip_options,
)

# IPv4 header of a SYN from 10.0.0.1 to 10.0.0.2 sent by Linux 6.18 (golden/veth_basic.pcap frame 4).
SYN_IPH = bytes.fromhex("4500003cb29b40004006741e0a0000010a000002")


def test_golden_syn_header():
    assert BASIC[SYN][14:34] == SYN_IPH
    iph = Ipv4Header.parse(SYN_IPH + bytes(40), verify_checksum=True)
    assert (iph.version, iph.ihl, iph.hlen, iph.tos, iph.tot_len, iph.id) == (4, 5, 20, 0, 60, 0xB29B)
    assert iph.df and not iph.mf and iph.frag_offset == 0 and not iph.is_fragment
    assert (iph.ttl, iph.protocol, iph.check) == (64, IpProto.TCP, 0x741E)
    assert iph.protocol is IpProto.TCP
    assert (iph.saddr, iph.daddr, iph.options) == (ip_aton("10.0.0.1"), ip_aton("10.0.0.2"), b"")
    assert iph.payload_len == 40
    assert iph.pack() == SYN_IPH
    assert iph.pack(compute_checksum=False) == SYN_IPH
    buf = bytearray(20)
    assert iph.pack_into(buf) == 20 and bytes(buf) == SYN_IPH


def test_golden_fragments():
    # ping -s 1600 through a 1500-byte MTU: two fragments, MF then offset 1480 (veth_router frames 8, 9).
    first = Ipv4Header.parse(ROUTER[R_FRAG1], 14, verify_checksum=True)
    second = Ipv4Header.parse(ROUTER[R_FRAG2], 14, verify_checksum=True)
    assert (
        first.mf and not first.df and first.frag_offset == 0 and first.is_fragment and first.tot_len == 1500
    )
    assert not second.mf and second.frag_offset == 1480 and second.is_fragment and second.tot_len == 148
    assert first.id == second.id == 52329
    assert second.pack() == ROUTER[R_FRAG2][14:34]


def test_golden_record_route():
    # ping -R: the request leaves with NOP + RR (39 bytes, 9 slots, the sender's address already
    # recorded: pointer 8); the reply comes back with 5 addresses recorded, pointer 24, then EOL.
    req = Ipv4Header.parse(ROUTER[R_RR_REQUEST], 14, verify_checksum=True)
    assert req.ihl == 15 and req.hlen == 60 and len(req.options) == 40
    nop, rr = req.parse_options()
    assert nop.type is IpOptType.NOOP and rr.type is IpOptType.RR and rr.length == 39
    assert rr.pointer == 8 and rr.addrs[0] == ip_aton("10.1.0.1") and rr.addrs[1:] == [0] * 8
    rep = Ipv4Header.parse(ROUTER[R_RR_REPLY], 14, verify_checksum=True)
    rr, end = rep.parse_options()
    assert rr.pointer == 24 and end.type is IpOptType.END
    recorded = rr.addrs[: (rr.pointer - 4) // 4]
    assert recorded == [ip_aton(a) for a in ("10.1.0.1", "10.2.0.254", "10.2.0.2", "10.2.0.2", "10.1.0.254")]
    assert rep.pack() == ROUTER[R_RR_REPLY][14:74]
    assert pack_ip_options(rep.parse_options()) + bytes(0) == rep.options[:40]


def test_decoded_option_views():
    ts = IpOption(
        IpOptType.TIMESTAMP, bytes([13, 0x21]) + (7).to_bytes(4, "big") + (9).to_bytes(4, "big") + bytes(8)
    )
    assert ts.pointer == 13 and ts.ts_overflow == 2 and ts.ts_flags == 1
    assert ts.ts_entries == [(7, 9), (0, 0)]
    ra = IpOption.router_alert()
    assert ra.pack() == bytes([148, 4, 0, 0]) and ra.ra_value == 0 and ra.pointer is None
    assert parse_ip_options(ra.pack() + b"\1\0\0\0") == [ra, IpOption(1), IpOption(0)]
    assert IpOption.record_route(2).pack() == bytes([7, 11, 4]) + bytes(8)


def test_ip_rcv_core_errors_and_reasons():
    def err(buf, **kw):
        with pytest.raises(WireError) as info:
            Ipv4Header.parse(buf, **kw)
        return info.value.reason

    assert err(SYN_IPH[:19]) == "IP_INHDR"  # shorter than struct iphdr: pskb_may_pull -> inhdr_error
    assert err(b"\x65" + SYN_IPH[1:] + bytes(40)) == "IP_INHDR"  # version 6
    assert err(b"\x44" + SYN_IPH[1:] + bytes(40)) == "IP_INHDR"  # ihl 4
    assert err(b"\x46" + SYN_IPH[1:] + b"\1\1") == "IP_INHDR"  # ihl 6, options cut
    assert err(SYN_IPH + bytes(39)) == "PKT_TOO_SMALL"  # tot_len 60 > 59 bytes: InTruncatedPkts
    short = bytearray(SYN_IPH)
    short[2:4] = (19).to_bytes(2, "big")
    assert err(bytes(short)) == "IP_INHDR"  # tot_len < ihl*4
    bad = bytearray(SYN_IPH + bytes(40))
    bad[8] = 63  # TTL changed without fixing the checksum
    assert err(bytes(bad), verify_checksum=True) == "IP_CSUM"
    Ipv4Header.parse(bytes(bad))  # not verified: accepted
    # Quoted headers in ICMP errors: tot_len larger than what is quoted is fine with check_len=False.
    assert Ipv4Header.parse(SYN_IPH + bytes(8), check_len=False).tot_len == 60


def test_option_errors_carry_pointer():
    def ptr(opts):
        with pytest.raises(WireError) as info:
            parse_ip_options(opts)
        assert info.value.reason == "IP_INHDR"
        return info.value.pointer

    assert ptr(b"\x07") == 20  # no length byte
    assert ptr(b"\x01\x07\x01\x00") == 21  # length < 2
    assert ptr(b"\x07\x09\x04\x00") == 20  # length past the option area
    assert ptr(b"\x07\x02\x00\x00") == 21  # RR shorter than 3
    assert ptr(b"\x07\x07\x03\0\0\0\0\0") == 22  # RR pointer < 4
    assert ptr(b"\x07\x07\x06\0\0\0\0\0") == 22  # RR pointer inside the option but past the last slot
    assert ptr(b"\x07\x03\x04\x07\x03\x04\0\0") == 23  # second RR
    assert ptr(b"\x83\x03\x04\x89\x03\x04\0\0") == 23  # LSRR then SSRR
    assert ptr(b"\x44\x03\x05\x00") == 21  # TS shorter than 4
    assert ptr(b"\x44\x04\x04\x00") == 22  # TS pointer < 5
    assert ptr(b"\x44\x08\x05\x01\0\0\0\0") == 22  # TS addr+time needs 8 bytes at the pointer
    assert ptr(b"\x44\x04\x05\xf0") == 23  # full TS with overflow 15
    assert ptr(b"\x94\x03\x00\x00") == 21  # RA shorter than 4
    # A full RR (pointer past the end) and a full TS with room in the overflow counter are fine.
    assert len(parse_ip_options(b"\x07\x07\x08\0\0\0\0\0")) == 2
    assert parse_ip_options(b"\x44\x04\x05\x10")[0].ts_overflow == 1
    assert parse_ip_options(b"\x44\x08\x05\x07\0\0\0\0")[0].ts_flags == 7  # unknown flag: accepted on input
    # Unknown options are kept as they are.
    assert parse_ip_options(b"\x99\x04\xab\xcd") == [IpOption(0x99, b"\xab\xcd")]


def test_ip_decrease_ttl_golden():
    # ip_forward on the router turned TTL 64 into 63 in the RR reply; check the same on the SYN header.
    buf = bytearray(SYN_IPH)
    assert ip_decrease_ttl(buf) == 63
    assert buf[8] == 63 and inet_checksum(buf) == 0
    assert int.from_bytes(buf[10:12], "big") == 0x751E


def test_ip_send_check_and_fast_csum():
    buf = bytearray(b"xx" + SYN_IPH)
    buf[12:14] = b"\0\0"
    assert ip_fast_csum(buf, 2) != 0
    ip_send_check(buf, 2)
    assert bytes(buf[2:]) == SYN_IPH and ip_fast_csum(buf, 2) == 0


def test_flag_setters():
    iph = Ipv4Header()
    iph.df = True
    iph.mf = True
    iph.frag_offset = 1480
    assert iph.frag_off == IP_DF | 0x2000 | 185
    iph.df = False
    iph.mf = False
    assert iph.frag_off == 185 and iph.is_fragment
    with pytest.raises(ValueError):
        iph.frag_offset = 3
    assert "Ipv4Header(version=4" in repr(iph)


def test_options_are_padded_and_limited():
    iph = Ipv4Header(
        saddr=1, daddr=2, protocol=IpProto.UDP, tot_len=24, options=IpOption.router_alert().pack()[:3]
    )
    assert iph.ihl == 6
    raw = iph.pack()
    assert len(raw) == 24 and raw[20:] == b"\x94\x04\x00\x00" and inet_checksum(raw) == 0
    with pytest.raises(WireError):
        Ipv4Header(options=bytes(41)).pack()
    with pytest.raises(WireError):
        Ipv4Header(ttl=256).pack()


u8 = st.integers(0, 255)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 2**32 - 1)
headers = st.builds(
    Ipv4Header,
    tos=u8,
    tot_len=st.integers(60, 0xFFFF),
    id=u16,
    frag_off=u16,
    ttl=u8,
    protocol=u8,
    check=u16,
    saddr=u32,
    daddr=u32,
    options=st.integers(0, 10).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n)),
)


@given(headers)
def test_roundtrip(iph):
    raw = iph.pack(compute_checksum=False)
    assert len(raw) == iph.hlen
    assert Ipv4Header.parse(raw, check_len=False) == iph
    sent = iph.pack()
    back = Ipv4Header.parse(sent + bytes(iph.tot_len - iph.hlen), verify_checksum=True)
    assert back.pack() == sent and back.protocol == iph.protocol


@settings(max_examples=300, deadline=None)
@given(headers.filter(lambda h: h.ttl > 1))
def test_decrease_ttl_matches_recompute(iph):
    buf = bytearray(iph.pack())
    ttl = ip_decrease_ttl(buf)
    iph.ttl -= 1
    assert ttl == iph.ttl and bytes(buf) == iph.pack()
