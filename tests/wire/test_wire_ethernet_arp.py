"""Ethernet (+802.1Q) and ARP codecs: golden frames from Linux, round trips, error cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire_golden import ARP_REPLY, ARP_REQUEST, BASIC, SYN

from tuxnet.wire.arp import ArpOp, ArpPacket
from tuxnet.wire.errors import WireError
from tuxnet.wire.ethernet import EtherType, EthHeader

MAC1 = bytes.fromhex("020000000001")
MAC2 = bytes.fromhex("020000000002")

# ARP request from 10.0.0.1 for 10.0.0.2 as Linux 6.18 sent it on a veth (golden/veth_basic.pcap frame 0).
ARP_REQUEST_HEX = "ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002"


def test_golden_arp_request():
    frame = bytes.fromhex(ARP_REQUEST_HEX)
    assert frame == BASIC[ARP_REQUEST]
    eth = EthHeader.parse(frame)
    assert (eth.dst, eth.src, eth.ethertype, eth.vlan_tci, eth.hlen) == (
        b"\xff" * 6,
        MAC1,
        EtherType.ARP,
        None,
        14,
    )
    assert type(eth.ethertype) is EtherType
    arp = ArpPacket.parse(frame, 14)
    assert arp.op is ArpOp.REQUEST
    assert (arp.htype, arp.ptype, arp.hlen, arp.plen) == (1, 0x0800, 6, 4)
    assert (arp.sha, arp.spa, arp.tha, arp.tpa) == (MAC1, 0x0A000001, bytes(6), 0x0A000002)
    assert eth.pack() + arp.pack() == frame


def test_golden_arp_reply_with_padding():
    frame = BASIC[ARP_REPLY]
    arp = ArpPacket.parse(frame + bytes(18), 14)  # padded to the 60-byte Ethernet minimum
    assert arp.op == ArpOp.REPLY and arp.sha == MAC2 and arp.spa == 0x0A000002 and arp.tha == MAC1
    assert arp.pack() == frame[14:]
    buf = bytearray(28)
    assert arp.pack_into(buf) == 28 and bytes(buf) == frame[14:]


def test_golden_ipv4_frame_header():
    eth = EthHeader.parse(BASIC[SYN])
    assert eth.dst == MAC2 and eth.src == MAC1 and eth.ethertype is EtherType.IPV4
    assert eth.pack() == BASIC[SYN][:14]


def test_vlan_tag():
    # 802.1Q tag: TPID 0x8100, PCP 5, DEI 0, VID 100, inner IPv4 (IEEE 802.1Q-2018 9.6).
    frame = MAC2 + MAC1 + bytes.fromhex("8100a0640800") + b"payload"
    eth = EthHeader.parse(frame)
    assert eth.ethertype is EtherType.IPV4 and eth.vlan_proto is EtherType.VLAN
    assert (eth.vlan_id, eth.vlan_pcp, eth.vlan_dei, eth.hlen) == (100, 5, 0, 18)
    assert eth.pack() == frame[:18]
    assert EthHeader.make_tci(100, 5) == 0xA064
    with pytest.raises(WireError):
        EthHeader.parse(frame[:16])  # tag announced, not there


def test_unknown_ethertype_kept_as_int():
    eth = EthHeader.parse(MAC2 + MAC1 + b"\x12\x34")
    assert eth.ethertype == 0x1234 and type(eth.ethertype) is int
    eth = EthHeader.parse(MAC2 + MAC1 + b"\x00\x2e")  # an 802.3 length field
    assert eth.ethertype == 46
    assert eth.pack() == MAC2 + MAC1 + b"\x00\x2e"


def test_ethernet_errors():
    with pytest.raises(WireError, match="truncated"):
        EthHeader.parse(bytes(13))
    with pytest.raises(WireError):
        EthHeader.parse(bytes(20), 10)
    with pytest.raises(WireError):
        EthHeader(b"\1" * 5, MAC1, 0x800).pack()
    with pytest.raises(WireError):
        EthHeader(MAC1, MAC1, 0x10000).pack()
    with pytest.raises(WireError):
        EthHeader(MAC1, MAC1, 0x800).pack_into(bytearray(10))


def test_arp_errors():
    frame = bytes.fromhex(ARP_REQUEST_HEX)
    with pytest.raises(WireError, match="truncated"):
        ArpPacket.parse(frame[:41], 14)
    bad = bytearray(frame)
    bad[14 + 4] = 16  # hlen 16 (e.g. an InfiniBand address): not for an Ethernet device
    with pytest.raises(WireError, match="hlen=16"):
        ArpPacket.parse(bad, 14)
    bad = bytearray(frame)
    bad[14 + 5] = 16
    with pytest.raises(WireError, match="plen=16"):
        ArpPacket.parse(bad, 14)


def test_arp_unknown_op_and_types_kept():
    arp = ArpPacket(77, MAC1, 1, MAC2, 2, htype=6, ptype=0x86DD)
    back = ArpPacket.parse(arp.pack())
    assert back == arp and type(back.op) is int and back.htype == 6


macs = st.binary(min_size=6, max_size=6)
u16 = st.integers(0, 0xFFFF)


@given(macs, macs, u16, st.one_of(st.none(), u16), st.sampled_from([0x8100, 0x88A8]))
def test_ethernet_roundtrip(dst, src, etype, tci, tpid):
    if tci is None and etype in (0x8100, 0x88A8):
        etype = 0x0800  # an untagged header cannot carry a TPID as its EtherType and stay untagged
    eth = EthHeader(dst, src, etype, tci, tpid) if tci is not None else EthHeader(dst, src, etype)
    raw = eth.pack()
    assert len(raw) == eth.hlen
    back = EthHeader.parse(raw + b"x")
    assert back == eth
    buf = bytearray(30)
    assert eth.pack_into(buf, 3) == eth.hlen and bytes(buf[3 : 3 + eth.hlen]) == raw


@given(
    u16, u16, u16, macs, st.integers(0, 2**32 - 1), macs, st.integers(0, 2**32 - 1), st.binary(max_size=20)
)
def test_arp_roundtrip(htype, ptype, op, sha, spa, tha, tpa, pad):
    arp = ArpPacket(op, sha, spa, tha, tpa, htype, ptype)
    assert ArpPacket.parse(arp.pack() + pad) == arp
