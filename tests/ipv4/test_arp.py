"""ARP receive and transmit (net/ipv4/arp.c): hand-made frames injected on a veth, answers read off taps.

h1 (10.0.0.1/24 eth0) -- veth -- h2 (10.0.0.2/24 eth0); some tests add a second link to h3.
"""

from __future__ import annotations

import struct

import pytest

from tuxnet.core.trace import SkbDropReason
from tuxnet.ipv4.neighbour import NUD_REACHABLE, NUD_STALE
from tuxnet.lab.lab import Lab
from tuxnet.skb import SkBuff
from tuxnet.wire.addr import ip_aton
from tuxnet.wire.ipv4 import Ipv4Header

A1 = ip_aton("10.0.0.1")
A2 = ip_aton("10.0.0.2")
BCAST = ip_aton("10.0.0.255")
BMAC = b"\xff" * 6
M2 = bytes.fromhex("02000000aa02")
M3 = bytes.fromhex("02000000aa03")
S = 1_000_000_000


class Cap:
    def __init__(self, ns, dev) -> None:
        self.ns = ns
        self.frames: list[tuple[int, bool, bytes]] = []
        dev.taps.append(self.tap)

    def tap(self, skb: SkBuff, outgoing: bool) -> None:
        self.frames.append((self.ns.now, outgoing, skb.mac_bytes()))

    def rx(self, ethertype: int = 0x0806) -> list[bytes]:
        return [f for _, o, f in self.frames if not o and f[12:14] == ethertype.to_bytes(2, "big")]

    def tx(self, ethertype: int = 0x0806) -> list[bytes]:
        return [f for _, o, f in self.frames if o and f[12:14] == ethertype.to_bytes(2, "big")]


def arp_frame(op: int, sha: bytes, sip: int, tha: bytes, tip: int, *, dst: bytes = BMAC,
              src: bytes | None = None, htype: int = 1, ptype: int = 0x0800, hlen: int = 6,
              plen: int = 4) -> bytes:
    return (dst + (src or sha) + b"\x08\x06" + struct.pack("!HHBBH", htype, ptype, hlen, plen, op)
            + sha + sip.to_bytes(4, "big") + tha + tip.to_bytes(4, "big"))


def inject(dev, frame: bytes) -> None:
    """Transmit a raw frame on ``dev`` (its peer receives it through the normal rx path)."""
    dev.queue_xmit(SkBuff.from_bytes(frame))


def lab2(seed: int = 3):
    lab = Lab(seed)
    h1, h2 = lab.add_host("h1"), lab.add_host("h2")
    d1, d2 = lab.add_link(h1, "eth0", h2, "eth0")
    h1.devinet.add(d1, A1, 24, broadcast=BCAST)
    h2.devinet.add(d2, A2, 24, broadcast=BCAST)
    lab.run(0)
    return lab, h1, h2, d1, d2


def ip_skb(saddr: int, daddr: int) -> SkBuff:
    hdr = Ipv4Header(saddr=saddr, daddr=daddr, protocol=253, tot_len=28).pack()
    skb = SkBuff.alloc(28)
    skb.put_data(hdr + bytes(8))
    skb.reset_network_header()
    skb.protocol = 0x0800
    return skb


def resolve(lab, ns, dev, nexthop):
    ns.arp.output(ip_skb(dev.in_dev.ifa_list[0].local, ip_aton("10.99.0.1")), dev, nexthop)
    lab.run(0)
    return ns.arp.lookup_noref(nexthop, dev)


# ---------------------------------------------------------------- requests for us
def test_request_for_us_is_answered_and_the_sender_learnt():
    lab, h1, h2, d1, d2 = lab2()
    c1 = Cap(h1, d1)
    inject(d1, arp_frame(1, d1.mac, A1, bytes(6), A2))
    lab.run(0)
    assert c1.rx() == [arp_frame(2, d2.mac, A2, d1.mac, A1, dst=d1.mac)]
    n = h2.arp.lookup_noref(A1, d2)
    assert n.nud_state == NUD_STALE and n.mac == d1.mac
    # a request from a new address for the same IP overrides at once (neigh_event_ns: OVERRIDE)
    inject(d1, arp_frame(1, M2, A1, bytes(6), A2))
    lab.run(0)
    assert n.mac == M2 and n.nud_state == NUD_STALE
    assert c1.rx()[-1] == arp_frame(2, d2.mac, A2, M2, A1, dst=M2)


def test_padded_request_is_answered():
    lab, h1, h2, d1, d2 = lab2()
    c1 = Cap(h1, d1)
    inject(d1, arp_frame(1, d1.mac, A1, bytes(6), A2) + bytes(18))  # 60-byte minimum frame
    lab.run(0)
    assert c1.rx() == [arp_frame(2, d2.mac, A2, d1.mac, A1, dst=d1.mac)]


def test_duplicate_address_probe_answered_without_learning():
    lab, h1, h2, d1, d2 = lab2()
    c1 = Cap(h1, d1)
    inject(d1, arp_frame(1, M2, 0, bytes(6), A2))  # RFC 5227 probe: sender IP 0
    inject(d1, arp_frame(1, M2, 0, bytes(6), ip_aton("10.0.0.77")))  # not ours: silence
    lab.run(0)
    assert c1.rx() == [arp_frame(2, d2.mac, A2, M2, 0, dst=M2)]
    assert not h2.arp.entries()


def _three_hosts():
    lab, h1, h2, d1, d2 = lab2()
    h3 = lab.add_host("h3")
    e2, e3 = lab.add_link(h2, "eth1", h3, "eth0")
    h2.devinet.add(e2, ip_aton("10.1.0.2"), 24, broadcast=ip_aton("10.1.0.255"))
    h3.devinet.add(e3, ip_aton("10.1.0.3"), 24, broadcast=ip_aton("10.1.0.255"))
    lab.run(0)
    return lab, h1, h2, d1, d2


@pytest.mark.parametrize(("mode", "scope"), [(0, "dev"), (1, "dev"), (1, "all"), (2, "dev"), (8, "dev")])
def test_arp_ignore(mode, scope):
    lab, h1, h2, d1, d2 = _three_hosts()
    h2.sysctl.set(f"net.ipv4.conf.{'eth0' if scope == 'dev' else 'all'}.arp_ignore", mode)
    c1 = Cap(h1, d1)
    other_if = ip_aton("10.1.0.2")  # configured on h2's eth1, asked for on eth0
    far_sender = ip_aton("10.5.5.5")  # not in eth0's subnet
    inject(d1, arp_frame(1, d1.mac, A1, bytes(6), other_if))
    inject(d1, arp_frame(1, d1.mac, A1, bytes(6), A2))
    inject(d1, arp_frame(1, M2, far_sender, bytes(6), A2, src=M2))
    lab.run(0)
    answered = [(struct.unpack_from("!I", f, 28)[0], f[32:38]) for f in c1.rx()]
    expect = {
        0: [(other_if, d1.mac), (A2, d1.mac), (A2, M2)],
        1: [(A2, d1.mac), (A2, M2)],
        2: [(A2, d1.mac)],  # the far sender is not in the subnet of 10.0.0.2
        8: [],
    }[mode]
    assert answered == expect
    # an unanswered request teaches nothing
    learnt = sorted(n.ip for n in h2.arp.entries())
    assert learnt == sorted({A1 if tha == d1.mac else far_sender for _, tha in expect})


# ---------------------------------------------------------------- our requests
@pytest.mark.parametrize(("announce", "saddr", "want"), [
    (0, "192.168.5.1", "192.168.5.1"),  # any local address
    (1, "192.168.5.1", "10.0.0.1"),  # not in the target's subnet: inet_select_addr
    (1, "10.0.0.1", "10.0.0.1"),
    (2, "10.0.0.1", "10.0.0.1"),
    (2, "192.168.5.1", "10.0.0.1"),
    (0, "172.16.0.9", "10.0.0.1"),  # a forwarded packet's source is not ours
])
def test_arp_announce_picks_the_request_source(announce, saddr, want):
    lab, h1, h2, d1, d2 = lab2()
    h3 = lab.add_host("h3")
    e1, _ = lab.add_link(h1, "eth1", h3, "eth0")
    h1.devinet.add(e1, ip_aton("192.168.5.1"), 24, broadcast=ip_aton("192.168.5.255"))
    h1.sysctl.set("net.ipv4.conf.eth0.arp_announce", announce)
    c1 = Cap(h1, d1)
    h1.arp.output(ip_skb(ip_aton(saddr), ip_aton("10.99.0.1")), d1, A2)
    lab.run(0)
    req = c1.tx()[0]
    assert req == arp_frame(1, d1.mac, ip_aton(want), bytes(6), A2)


# ---------------------------------------------------------------- learning rules
def test_gratuitous_arp_updates_an_existing_entry():
    lab, h1, h2, d1, d2 = lab2()
    n = resolve(lab, h1, d1, A2)
    assert n.nud_state == NUD_REACHABLE and n.mac == d2.mac
    # within locktime, but a gratuitous request overrides: new address, STALE (a request)
    inject(d2, arp_frame(1, M2, A2, bytes(6), A2, src=M2))
    lab.run(0)
    assert n.mac == M2 and n.nud_state == NUD_STALE
    # a "gratuitous" reply whose tha differs from sha is not one; within locktime it is ignored
    inject(d2, arp_frame(2, M3, A2, bytes(6), A2, src=M3))
    lab.run(0)
    assert n.mac == M2
    # a proper gratuitous reply (tha == sha) overrides; broadcast, so STALE
    inject(d2, arp_frame(2, M3, A2, M3, A2, src=M3))
    lab.run(0)
    assert n.mac == M3 and n.nud_state == NUD_STALE


@pytest.mark.parametrize(("accept", "sender", "created"), [
    (0, "10.0.0.77", False), (1, "10.0.0.77", True), (2, "10.0.0.77", True), (2, "10.9.9.9", False),
])
def test_arp_accept_governs_entries_from_gratuitous_arp(accept, sender, created):
    lab, h1, h2, d1, d2 = lab2()
    h1.sysctl.set("net.ipv4.conf.eth0.arp_accept", accept)
    sip = ip_aton(sender)
    inject(d2, arp_frame(1, M2, sip, bytes(6), sip, src=M2))
    lab.run(0)
    n = h1.arp.lookup_noref(sip, d1)
    assert (n is not None) == created
    if created:
        assert n.mac == M2 and n.nud_state == NUD_STALE


def test_drop_gratuitous_arp():
    lab, h1, h2, d1, d2 = lab2()
    n = resolve(lab, h1, d1, A2)
    h1.sysctl.set("net.ipv4.conf.all.drop_gratuitous_arp", 1)
    before = h1.drops[SkbDropReason.NOT_SPECIFIED]
    inject(d2, arp_frame(1, M2, A2, bytes(6), A2, src=M2))
    lab.run(0)
    assert n.mac == d2.mac and h1.drops[SkbDropReason.NOT_SPECIFIED] == before + 1


def test_locktime_keeps_the_first_answer():
    lab, h1, h2, d1, d2 = lab2()
    n = resolve(lab, h1, d1, A2)  # updated at t=0
    lab.run(0.5)
    inject(d2, arp_frame(2, M3, A2, d1.mac, A1, dst=d1.mac, src=M3))  # a second "proxy" answers
    lab.run(0)
    assert n.mac == d2.mac and n.nud_state == NUD_REACHABLE
    lab.run(0.6)  # past locktime (1 s = 100 USER_HZ)
    inject(d2, arp_frame(2, M3, A2, d1.mac, A1, dst=d1.mac, src=M3))
    lab.run(0)
    assert n.mac == M3 and n.nud_state == NUD_REACHABLE and n.confirmed == lab.now


def test_unsolicited_replies_create_entries_only_with_arp_accept():
    lab, h1, h2, d1, d2 = lab2()
    x, y = ip_aton("10.0.0.60"), ip_aton("10.0.0.61")
    inject(d2, arp_frame(2, M2, x, d1.mac, A1, dst=d1.mac, src=M2))
    lab.run(0)
    assert h1.arp.lookup_noref(x, d1) is None
    h1.sysctl.set("net.ipv4.conf.eth0.arp_accept", 1)
    inject(d2, arp_frame(2, M2, x, d1.mac, A1, dst=d1.mac, src=M2))
    inject(d2, arp_frame(2, M3, y, d1.mac, A1, dst=BMAC, src=M3))
    lab.run(0)
    assert h1.arp.lookup_noref(x, d1).nud_state == NUD_REACHABLE  # unicast reply
    assert h1.arp.lookup_noref(y, d1).nud_state == NUD_STALE  # broadcast reply


def test_requests_refresh_known_senders_only():
    lab, h1, h2, d1, d2 = lab2()
    n = resolve(lab, h1, d1, A2)
    lab.run(2)
    other = ip_aton("10.0.0.77")
    inject(d2, arp_frame(1, M2, A2, bytes(6), other, src=M2))  # A2 asks for someone else
    inject(d2, arp_frame(1, M3, ip_aton("10.0.0.78"), bytes(6), other, src=M3))
    lab.run(0)
    assert n.mac == M2 and n.nud_state == NUD_STALE
    assert h1.arp.lookup_noref(ip_aton("10.0.0.78"), d1) is None
    assert h1.arp.stats.lookups >= 2 and h1.arp.stats.hits >= 1


# ---------------------------------------------------------------- bad input
def test_malformed_arp_is_counted_and_dropped_not_raised():
    lab, h1, h2, d1, d2 = lab2()
    c1 = Cap(h1, d1)
    good = arp_frame(1, d1.mac, A1, bytes(6), A2)
    cases = [
        (good[:14 + 20], SkbDropReason.PKT_TOO_SMALL),  # truncated ARP body
        (good[:14], SkbDropReason.PKT_TOO_SMALL),
        (arp_frame(1, d1.mac, A1, bytes(6), A2, hlen=8), SkbDropReason.NOT_SPECIFIED),
        (arp_frame(1, d1.mac, A1, bytes(6), A2, plen=16), SkbDropReason.NOT_SPECIFIED),
        (arp_frame(1, d1.mac, A1, bytes(6), A2, htype=7), SkbDropReason.NOT_SPECIFIED),
        (arp_frame(1, d1.mac, A1, bytes(6), A2, ptype=0x86DD), SkbDropReason.NOT_SPECIFIED),
        (arp_frame(3, d1.mac, A1, bytes(6), A2), SkbDropReason.NOT_SPECIFIED),  # RARP request
        (arp_frame(1, d1.mac, A1, bytes(6), ip_aton("224.0.0.1")), SkbDropReason.NOT_SPECIFIED),
        (arp_frame(1, d1.mac, A1, bytes(6), ip_aton("127.0.0.1")), SkbDropReason.NOT_SPECIFIED),
    ]
    for frame, reason in cases:
        before = h2.drops[reason]
        inject(d1, frame)
        lab.run(0)
        assert h2.drops[reason] == before + 1, frame.hex()
    assert not c1.rx() and not h2.arp.entries()
    # ARP hardware type 6 (IEEE 802) is accepted on Ethernet
    inject(d1, arp_frame(1, d1.mac, A1, bytes(6), A2, htype=6))
    lab.run(0)
    assert len(c1.rx()) == 1


def test_frames_for_other_hosts_are_ignored_silently():
    lab, h1, h2, d1, d2 = lab2()
    c1 = Cap(h1, d1)
    total = h2.drops.total()
    inject(d1, arp_frame(1, d1.mac, A1, bytes(6), A2, dst=M3))  # unicast to another MAC
    inject(d1, arp_frame(1, d1.mac, A1, bytes(6), ip_aton("10.0.0.77")))  # who-has someone else
    lab.run(0)
    assert not c1.rx() and h2.drops.total() == total and not h2.arp.entries()
    # the route lookup for someone else's address is not an IP receive error
    assert h2.mib.ip.InAddrErrors == 0 and h2.mib.ipext.InNoRoutes == 0


def test_arp_filter_answers_only_where_the_route_back_leaves():
    lab, h1, h2, d1, d2 = _three_hosts()
    if getattr(h2, "route", None) is None:
        pytest.skip("arp_filter needs the route module")
    h2.sysctl.set("net.ipv4.conf.all.arp_filter", 1)
    c1 = Cap(h1, d1)
    inject(d1, arp_frame(1, d1.mac, A1, bytes(6), ip_aton("10.1.0.2")))  # route to 10.0.0.1: eth0
    inject(d1, arp_frame(1, M2, ip_aton("10.1.0.3"), bytes(6), A2, src=M2))  # route back: eth1
    lab.run(0)
    assert c1.rx() == [arp_frame(2, d2.mac, ip_aton("10.1.0.2"), d1.mac, A1, dst=d1.mac)]
    assert h2.mib.tcpext.ArpFilter == 1


# ---------------------------------------------------------------- announcements
def test_arp_notify_sends_gratuitous_arp_on_up():
    lab, h1, h2, d1, d2 = lab2()
    c2 = Cap(h2, d2)
    d1.close()
    d1.open()
    lab.run(0)
    assert not c2.rx()  # arp_notify is off by default
    h1.sysctl.set("net.ipv4.conf.eth0.arp_notify", 1)
    h1.devinet.add(d1, ip_aton("10.0.0.11"), 24)  # a secondary: announced too
    d1.close()
    d1.open()
    lab.run(0)
    assert c2.rx() == [arp_frame(1, d1.mac, a, bytes(6), a) for a in (A1, ip_aton("10.0.0.11"))]


def test_mac_change_with_arp_notify_updates_peers():
    lab, h1, h2, d1, d2 = lab2()
    m = resolve(lab, h2, d2, A1)
    assert m.mac == d1.mac
    h1.sysctl.set("net.ipv4.conf.all.arp_notify", 1)
    new = bytes.fromhex("02aabbccdd01")
    d1.set_mac(new)
    lab.run(0)
    assert m.mac == new and m.nud_state == NUD_STALE


def test_send_gratuitous():
    lab, h1, h2, d1, d2 = lab2()
    c1 = Cap(h1, d1)
    h2.arp.send_gratuitous(d2, A2)
    lab.run(0)
    assert c1.rx() == [arp_frame(1, d2.mac, A2, bytes(6), A2)]
