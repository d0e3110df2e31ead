"""Cross-checks with scapy (tests only): scapy builds, tuxnet parses and compares fields; tuxnet
builds, scapy dissects, and scapy's own re-serialisation with recomputed checksums gives the same bytes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

scapy_all = pytest.importorskip("scapy.all")
ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, IPerror, UDPerror = (
    scapy_all.ARP,
    scapy_all.ICMP,
    scapy_all.IP,
    scapy_all.TCP,
    scapy_all.UDP,
    scapy_all.Dot1Q,
    scapy_all.Ether,
    scapy_all.IPerror,
    scapy_all.UDPerror,
)

from tuxnet.wire.addr import ip_aton, ip_ntoa, mac_aton, mac_ntoa  # noqa: E402
from tuxnet.wire.arp import ArpOp, ArpPacket  # noqa: E402
from tuxnet.wire.ethernet import EtherType, EthHeader  # noqa: E402
from tuxnet.wire.icmp import IcmpHeader, IcmpType, IcmpUnreachCode  # noqa: E402
from tuxnet.wire.ipv4 import IpOption, IpProto, Ipv4Header  # noqa: E402
from tuxnet.wire.tcp import (  # noqa: E402
    TcpFlags,
    TcpHeader,
    TcpOptMss,
    TcpOptNop,
    TcpOptSack,
    TcpOptSackPerm,
    TcpOptTimestamp,
    TcpOptWscale,
    linux_syn_options,
    tcp_checksum_ok,
)
from tuxnet.wire.udp import UdpHeader, udp_checksum_ok  # noqa: E402

M1, M2 = "02:00:00:00:00:01", "02:00:00:00:00:02"
S, D = "192.0.2.1", "198.51.100.7"
SCAPY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rechecked(raw: bytes) -> bytes:
    """Let scapy recompute every checksum of a frame it dissected and re-serialise it."""
    pkt = Ether(raw)
    for layer in (IP, TCP, UDP, ICMP):
        if layer in pkt:
            del pkt[layer].chksum
    return bytes(pkt)


def test_scapy_tcp_syn_parsed_by_tuxnet():
    pkt = (
        Ether(src=M1, dst=M2)
        / IP(src=S, dst=D, id=7, ttl=61, tos=0x10, flags="DF")
        / TCP(
            sport=40000,
            dport=80,
            seq=123456789,
            flags="S",
            window=64240,
            options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (11, 0)), ("NOP", None), ("WScale", 7)],
        )
    )
    raw = bytes(pkt)
    eth = EthHeader.parse(raw)
    assert eth.src == mac_aton(M1) and eth.dst == mac_aton(M2) and eth.ethertype is EtherType.IPV4
    ip = Ipv4Header.parse(raw, 14, verify_checksum=True)
    assert (ip_ntoa(ip.saddr), ip_ntoa(ip.daddr), ip.id, ip.ttl, ip.tos, ip.df) == (S, D, 7, 61, 0x10, True)
    assert ip.check == pkt[IP].__class__(bytes(pkt[IP])).chksum
    tcp = TcpHeader.parse(raw, 34, 14 + ip.tot_len)
    assert (tcp.sport, tcp.dport, tcp.seq, tcp.flags, tcp.window) == (
        40000,
        80,
        123456789,
        TcpFlags.SYN,
        64240,
    )
    assert tcp.options == linux_syn_options(1460, True, (11, 0), 7)
    assert tcp_checksum_ok(ip.saddr, ip.daddr, raw[34:])
    assert tcp.check == Ether(raw)[TCP].chksum


def test_tuxnet_frames_dissected_by_scapy():
    payload = b"GET / HTTP/1.0\r\n\r\n"
    tcp = TcpHeader(
        40000,
        80,
        1000,
        2000,
        TcpFlags.PSH | TcpFlags.ACK,
        502,
        options=[
            TcpOptNop(),
            TcpOptNop(),
            TcpOptTimestamp(5, 6),
            TcpOptNop(),
            TcpOptNop(),
            TcpOptSack([(3000, 4000), (5000, 6000)]),
        ],
    )
    tcp_raw = tcp.pack(ip_aton(S), ip_aton(D), payload) + payload
    ip = Ipv4Header(
        tot_len=20 + len(tcp_raw),
        id=99,
        ttl=64,
        protocol=IpProto.TCP,
        saddr=ip_aton(S),
        daddr=ip_aton(D),
        frag_off=0x4000,
    )
    raw = EthHeader(mac_aton(M2), mac_aton(M1), EtherType.IPV4).pack() + ip.pack() + tcp_raw
    pkt = Ether(raw)
    assert pkt[Ether].src == M1 and pkt[IP].src == S and pkt[IP].dst == D and pkt[IP].flags == "DF"
    assert pkt[TCP].flags == "PA" and pkt[TCP].seq == 1000 and pkt[TCP].ack == 2000 and pkt[TCP].window == 502
    assert pkt[TCP].options == [
        ("NOP", None),
        ("NOP", None),
        ("Timestamp", (5, 6)),
        ("NOP", None),
        ("NOP", None),
        ("SAck", (3000, 4000, 5000, 6000)),
    ]
    assert bytes(pkt[TCP].payload) == payload
    assert rechecked(raw) == raw


def test_udp_and_icmp_unreach_both_ways():
    inner = IP(src=S, dst=D, id=1) / UDP(sport=1234, dport=53) / b"query"
    pkt = (
        Ether(src=M1, dst=M2)
        / IP(src=D, dst=S, tos=0xC0)
        / ICMP(type=3, code=4, nexthopmtu=1400)
        / IPerror(bytes(inner)[:28])
    )
    raw = bytes(pkt)
    icmp = IcmpHeader.parse(raw, 34, verify_checksum=True)
    assert (
        icmp.type is IcmpType.DEST_UNREACH and icmp.code is IcmpUnreachCode.FRAG_NEEDED and icmp.mtu == 1400
    )
    quoted, rest = icmp.parse_quoted()
    assert ip_ntoa(quoted.daddr) == D and quoted.protocol is IpProto.UDP
    assert UdpHeader.parse(rest, check_len=False).dport == 53
    # ...and back: tuxnet builds the same message, scapy agrees on every byte including checksums.
    ours = IcmpHeader.error(IcmpType.DEST_UNREACH, IcmpUnreachCode.FRAG_NEEDED, bytes(inner)[:28], rest=1400)
    assert ours.pack() == raw[34:]
    assert isinstance(Ether(raw)[ICMP].payload, IPerror) and UDPerror in Ether(raw)
    udp_raw = bytes(inner[UDP])
    assert udp_checksum_ok(ip_aton(S), ip_aton(D), udp_raw)
    assert UdpHeader(1234, 53, 13).pack(ip_aton(S), ip_aton(D), b"query") == udp_raw[:8]


def test_arp_and_vlan():
    raw = bytes(
        Ether(src=M1, dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=42, prio=3) / ARP(op=1, hwsrc=M1, psrc=S, pdst=D)
    )
    eth = EthHeader.parse(raw)
    assert eth.vlan_id == 42 and eth.vlan_pcp == 3 and eth.ethertype is EtherType.ARP
    arp = ArpPacket.parse(raw, eth.hlen)
    assert (
        arp.op is ArpOp.REQUEST
        and mac_ntoa(arp.sha) == M1
        and ip_ntoa(arp.spa) == S
        and ip_ntoa(arp.tpa) == D
    )
    ours = (
        EthHeader(b"\xff" * 6, mac_aton(M1), EtherType.ARP, EthHeader.make_tci(42, 3)).pack()
        + ArpPacket(ArpOp.REQUEST, mac_aton(M1), ip_aton(S), bytes(6), ip_aton(D)).pack()
    )
    assert ours == raw


def test_ip_options_both_ways():
    pkt = (
        IP(
            src=S,
            dst=D,
            options=[
                scapy_all.IPOption_RR(routers=["10.0.0.1", "0.0.0.0"]),
                scapy_all.IPOption_Router_Alert(),
            ],
        )
        / ICMP()
    )
    raw = bytes(pkt)
    ip = Ipv4Header.parse(raw, verify_checksum=True)
    rr, ra = ip.parse_options()[:2]
    assert rr.addrs == [ip_aton("10.0.0.1"), 0] and rr.pointer == 4 and ra.ra_value == 0
    ours = Ipv4Header(
        tot_len=ip.tot_len,
        id=ip.id,
        ttl=ip.ttl,
        protocol=IpProto.ICMP,
        saddr=ip.saddr,
        daddr=ip.daddr,
        options=ip.options,
    )
    assert ours.pack() == raw[: ip.hlen]
    assert IpOption.router_alert().pack() in raw


u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 2**32 - 1)
addr = st.integers(1, 2**32 - 1)
tcp_opts = st.lists(
    st.one_of(
        st.builds(TcpOptMss, u16),
        st.builds(TcpOptWscale, st.integers(0, 14)),
        st.just(TcpOptSackPerm()),
        st.just(TcpOptNop()),
        st.builds(TcpOptTimestamp, u32, u32),
        st.builds(TcpOptSack, st.lists(st.tuples(u32, u32), min_size=1, max_size=3)),
    ),
    max_size=6,
).filter(lambda o: sum(len(x.pack()) for x in o) <= 40)


@SCAPY
@given(
    u16,
    u16,
    u32,
    u32,
    st.integers(0, 255),
    u16,
    tcp_opts,
    st.binary(max_size=30),
    addr,
    addr,
    st.integers(0, 255),
    u16,
)
def test_tcp_property_against_scapy(
    sport, dport, seq, ack, flags, window, opts, payload, src, dst, ttl, ident
):
    tcp = TcpHeader(sport, dport, seq, ack, flags, window, options=opts)
    tcp_raw = tcp.pack(src, dst, payload) + payload
    ip = Ipv4Header(tot_len=20 + len(tcp_raw), id=ident, ttl=ttl, protocol=IpProto.TCP, saddr=src, daddr=dst)
    raw = EthHeader(mac_aton(M2), mac_aton(M1), EtherType.IPV4).pack() + ip.pack() + tcp_raw
    pkt = Ether(raw)
    assert pkt[IP].src == ip_ntoa(src) and pkt[IP].ttl == ttl and pkt[IP].id == ident
    assert (pkt[TCP].sport, pkt[TCP].dport, pkt[TCP].seq, pkt[TCP].ack) == (sport, dport, seq, ack)
    assert int(pkt[TCP].flags) == flags and pkt[TCP].window == window
    assert rechecked(raw) == raw
    # scapy-built from the dissection -> tuxnet parse gives our header back.
    assert TcpHeader.parse(bytes(pkt[TCP])) == TcpHeader.parse(tcp_raw)


@SCAPY
@given(u16, u16, st.binary(max_size=40), addr, addr)
def test_udp_property_against_scapy(sport, dport, payload, src, dst):
    pkt = IP(src=ip_ntoa(src), dst=ip_ntoa(dst)) / UDP(sport=sport, dport=dport) / payload
    raw = bytes(pkt)
    ip = Ipv4Header.parse(raw, verify_checksum=True)
    udp = UdpHeader.parse(raw, 20)
    assert (udp.sport, udp.dport, udp.length) == (sport, dport, 8 + len(payload))
    assert udp.check == IP(raw)[UDP].chksum and udp_checksum_ok(ip.saddr, ip.daddr, raw[20:])
    assert UdpHeader(sport, dport, 8 + len(payload)).pack(src, dst, payload) == raw[20:28]
    assert ip.pack() == raw[:20]


@SCAPY
@given(st.sampled_from([0, 8]), u16, u16, st.binary(max_size=40))
def test_icmp_echo_property_against_scapy(icmp_type, ident, seq, data):
    raw = bytes(ICMP(type=icmp_type, id=ident, seq=seq) / data)
    h = IcmpHeader.parse(raw, verify_checksum=True)
    assert (h.type, h.echo_id, h.echo_seq, h.payload) == (icmp_type, ident, seq, data)
    assert IcmpHeader(icmp_type, 0, 0, (ident << 16) | seq, data).pack() == raw
