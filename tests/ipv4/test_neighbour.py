"""The neighbour state machine through ``ns.arp.output`` in a two-host lab (net/core/neighbour.c).

h1 (10.0.0.1/24, eth0) -- veth -- h2 (10.0.0.2/24, eth0). IP packets are built by hand and handed to
``h1.arp.output`` as ip_finish_output2 would; what leaves and arrives is read off device taps.
Test packets go to 10.99.0.x through h2 as a gateway, so a non-forwarding h2 drops them silently
whatever IP layer it runs.
"""

from __future__ import annotations

import errno
import struct

import pytest

from tuxnet.core.loop import NSEC_PER_MSEC, NSEC_PER_SEC
from tuxnet.core.trace import SkbDropReason
from tuxnet.drivers.netdevice import IFF_NOARP
from tuxnet.ipv4.neighbour import (
    NUD_DELAY,
    NUD_FAILED,
    NUD_INCOMPLETE,
    NUD_NOARP,
    NUD_NONE,
    NUD_PERMANENT,
    NUD_PROBE,
    NUD_REACHABLE,
    NUD_STALE,
    SKB_TRUESIZE_ETH_FRAME,
    skb_truesize,
)
from tuxnet.lab.lab import Lab
from tuxnet.skb import SkBuff
from tuxnet.wire.addr import ip_aton
from tuxnet.wire.ipv4 import Ipv4Header

A1 = ip_aton("10.0.0.1")
A2 = ip_aton("10.0.0.2")
BCAST = ip_aton("10.0.0.255")
NOBODY = ip_aton("10.0.0.99")
FAR = ip_aton("10.99.0.1")
BMAC = b"\xff" * 6
S = NSEC_PER_SEC


class Cap:
    """A device tap: (time, outgoing, frame bytes)."""

    def __init__(self, ns, dev) -> None:
        self.ns = ns
        self.frames: list[tuple[int, bool, bytes]] = []
        dev.taps.append(self.tap)

    def tap(self, skb: SkBuff, outgoing: bool) -> None:
        self.frames.append((self.ns.now, outgoing, skb.mac_bytes()))

    def sent(self, ethertype: int | None = None) -> list[tuple[int, bytes]]:
        return [(t, f) for t, o, f in self.frames
                if o and (ethertype is None or struct.unpack_from("!H", f, 12)[0] == ethertype)]


def until(lab: Lab, t_ns: int) -> None:
    """Run the lab up to exactly ``t_ns`` (integer ns, no float rounding)."""
    lab.loop.run_until(t_ns)


def lab2(seed: int = 1):
    lab = Lab(seed)
    h1, h2 = lab.add_host("h1"), lab.add_host("h2")
    d1, d2 = lab.add_link(h1, "eth0", h2, "eth0")
    h1.devinet.add(d1, A1, 24, broadcast=BCAST)
    h2.devinet.add(d2, A2, 24, broadcast=BCAST)
    lab.run(0)
    return lab, h1, h2, d1, d2


def ip_skb(n: int, saddr: int = A1, daddr: int = FAR, size: int = 32) -> SkBuff:
    payload = n.to_bytes(4, "big") + bytes(size - 4)
    hdr = Ipv4Header(saddr=saddr, daddr=daddr, protocol=253, tot_len=20 + size, id=n).pack()
    skb = SkBuff.alloc(20 + size)
    skb.put_data(hdr + payload)
    skb.reset_network_header()
    skb.protocol = 0x0800
    return skb


def arp_req_bytes(src_mac: bytes, sip: int, tip: int, dst: bytes = BMAC, op: int = 1,
                  tha: bytes = bytes(6)) -> bytes:
    return (dst + src_mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, op)
            + src_mac + sip.to_bytes(4, "big") + tha + tip.to_bytes(4, "big"))


class IcmpStub:
    def __init__(self) -> None:
        self.calls: list[tuple[bytes, int, int]] = []

    def send(self, skb: SkBuff, type: int, code: int, info: int = 0) -> None:
        self.calls.append((skb.bytes(), type, code))


def resolved_lab(seed: int = 1, base_ms: int | None = None):
    """Both hosts up, h1's entry for A2 REACHABLE since t=0 (first packet sent at t=0)."""
    lab, h1, h2, d1, d2 = lab2(seed)
    if base_ms is not None:
        h1.sysctl.set("net.ipv4.neigh.eth0.base_reachable_time_ms", base_ms)
    h1.arp.output(ip_skb(0), d1, A2)
    lab.run(0)
    n = h1.arp.lookup_noref(A2, d1)
    assert n is not None and n.nud_state == NUD_REACHABLE
    return lab, h1, h2, d1, d2, n


# ---------------------------------------------------------------- resolution
def test_resolution_sends_exact_arp_and_flushes_queue_in_order():
    lab, h1, h2, d1, d2 = lab2()
    c1 = Cap(h1, d1)
    pkts = [ip_skb(i) for i in range(3)]
    ip_bytes = [p.bytes() for p in pkts]
    for p in pkts:
        h1.arp.output(p, d1, A2)
    n = h1.arp.lookup_noref(A2, d1)
    assert n.nud_state == NUD_INCOMPLETE and n.mac is None and len(n.arp_queue) == 3
    lab.run(0)
    out = c1.sent()
    # one broadcast request (42 bytes, no padding: what Linux puts on a veth), then the 3 packets
    assert out[0][1] == arp_req_bytes(d1.mac, A1, A2)
    assert len(out[0][1]) == 42
    assert [f for _, f in out[1:]] == [d2.mac + d1.mac + b"\x08\x00" + b for b in ip_bytes]
    # h2's reply, byte for byte
    rx = [f for _, o, f in c1.frames if not o]
    assert rx == [arp_req_bytes(d2.mac, A2, A1, dst=d1.mac, op=2, tha=d1.mac)]
    assert n.nud_state == NUD_REACHABLE and n.mac == d2.mac and n.state_name == "REACHABLE"
    assert not n.arp_queue and n.arp_queue_len_bytes == 0
    # probes: set to ucast_solicit, one broadcast sent (as `ip -s neigh` shows "probes 4")
    assert n.probes == 4
    # h2 learnt h1 from the request (neigh_event_ns): STALE
    m = h2.arp.lookup_noref(A1, d2)
    assert m.nud_state == NUD_STALE and m.mac == d1.mac
    assert h1.arp.stats.allocs == 1 and h1.arp.stats.res_failed == 0
    assert h2.arp.stats.lookups >= 1


@pytest.mark.parametrize(("retrans_ms", "mcast", "ucast"), [(1000, 3, 3), (250, 5, 3), (1000, 1, 2)])
def test_unresolved_probes_then_failed_with_icmp_errors(retrans_ms, mcast, ucast):
    lab, h1, h2, d1, d2 = lab2()
    h1.sysctl.set("net.ipv4.neigh.eth0.retrans_time_ms", retrans_ms)
    h1.sysctl.set("net.ipv4.neigh.eth0.mcast_solicit", mcast)
    h1.sysctl.set("net.ipv4.neigh.eth0.ucast_solicit", ucast)
    h1.icmp = IcmpStub()
    c1 = Cap(h1, d1)
    pkts = [ip_skb(i) for i in range(2)]
    want = [p.bytes() for p in pkts]
    for p in pkts:
        h1.arp.output(p, d1, NOBODY)
    step = retrans_ms * NSEC_PER_MSEC
    n = h1.arp.lookup_noref(NOBODY, d1)
    until(lab, mcast * step - 1)
    assert n.nud_state == NUD_INCOMPLETE
    until(lab, mcast * step)
    assert n.nud_state == NUD_FAILED and n.mac is None
    arps = c1.sent(0x0806)
    assert [t for t, _ in arps] == [i * step for i in range(mcast)]
    assert all(f == arp_req_bytes(d1.mac, A1, NOBODY) for _, f in arps)
    assert n.probes == ucast + mcast
    assert h1.drops[SkbDropReason.NEIGH_FAILED] == 2
    assert h1.icmp.calls == [(b, 3, 1) for b in want]
    assert h1.arp.stats.res_failed == 1
    assert not c1.sent(0x0800)
    lab.run(30)
    assert len(c1.sent(0x0806)) == mcast  # FAILED is quiet until the next packet
    # the next packet starts a new round of broadcast probes
    h1.arp.output(ip_skb(9), d1, NOBODY)
    assert n.nud_state == NUD_INCOMPLETE and len(c1.sent(0x0806)) == mcast + 1


def test_no_multicast_probes_fails_at_once():
    lab, h1, h2, d1, d2 = lab2()
    h1.sysctl.set("net.ipv4.neigh.eth0.mcast_solicit", 0)
    c1 = Cap(h1, d1)
    h1.arp.output(ip_skb(1), d1, A2)
    n = h1.arp.lookup_noref(A2, d1)
    assert n.nud_state == NUD_FAILED
    assert h1.drops[SkbDropReason.NEIGH_FAILED] == 1 and not c1.frames


def test_app_solicit_probes_notify_instead_of_sending():
    lab, h1, h2, d1, d2 = lab2()
    h1.sysctl.set("net.ipv4.neigh.eth0.mcast_solicit", 0)
    h1.sysctl.set("net.ipv4.neigh.eth0.app_solicit", 2)
    events: list[str] = []
    h1.arp.notifier.append(lambda ev, n: events.append(ev))
    c1 = Cap(h1, d1)
    h1.arp.output(ip_skb(1), d1, A2)
    lab.run(5)
    assert events.count("getneigh") == 2 and not c1.sent(0x0806)
    assert h1.arp.lookup_noref(A2, d1).nud_state == NUD_FAILED


# ---------------------------------------------------------------- unresolved queue
def test_queue_overflow_drops_oldest():
    lab, h1, h2, d1, d2 = lab2()
    h1.sysctl.set("net.ipv4.neigh.eth0.unres_qlen", 3)
    # neigh_proc_dointvec_unres_qlen: the byte limit follows, in SKB_TRUESIZE(ETH_FRAME_LEN) units
    assert h1.sysctl["net.ipv4.neigh.eth0.unres_qlen_bytes"] == 3 * 2090 == 3 * SKB_TRUESIZE_ETH_FRAME
    h1.sysctl.set("net.ipv4.neigh.eth0.unres_qlen_bytes", 5000)
    assert h1.sysctl["net.ipv4.neigh.eth0.unres_qlen"] == 2
    c2 = Cap(h2, d2)
    h1.sysctl.set("net.ipv4.neigh.eth0.unres_qlen_bytes", 3 * SKB_TRUESIZE_ETH_FRAME)
    pkts = [ip_skb(i) for i in range(10)]
    fits = (3 * SKB_TRUESIZE_ETH_FRAME) // skb_truesize(pkts[0])
    assert 1 <= fits < 10
    for p in pkts:
        h1.arp.output(p, d1, A2)
    assert h1.drops[SkbDropReason.NEIGH_QUEUEFULL] == 10 - fits
    assert h1.arp.stats.unres_discards == 10 - fits
    lab.run(0)
    got = [struct.unpack_from("!I", f, 14 + 20)[0] for _, o, f in c2.frames
           if not o and f[12:14] == b"\x08\x00"]
    assert got == list(range(10 - fits, 10))  # the newest survive, in order


def test_queue_limit_below_one_packet_keeps_the_newest():
    lab, h1, h2, d1, d2 = lab2()
    h1.sysctl.set("net.ipv4.neigh.eth0.unres_qlen_bytes", 1)
    c2 = Cap(h2, d2)
    for i in range(3):
        h1.arp.output(ip_skb(i), d1, A2)
    lab.run(0)
    got = [struct.unpack_from("!I", f, 34)[0] for _, o, f in c2.frames if not o and f[12:14] == b"\x08\x00"]
    assert got == [2] and h1.drops[SkbDropReason.NEIGH_QUEUEFULL] == 2


# ---------------------------------------------------------------- timers
def test_reachable_time_is_randomised_per_device_in_half_to_three_halves():
    lab, h1, h2, d1, d2 = lab2()
    base = 30 * S
    r1 = h1.arp.reachable_time(d1)
    assert base // 2 <= r1 < base * 3 // 2
    draws = {Lab(seed).add_host("x").arp.reachable_time_of("default") for seed in range(40)}
    assert len(draws) > 30 and all(base // 2 <= d < base * 3 // 2 for d in draws)
    h1.sysctl.set("net.ipv4.neigh.eth0.base_reachable_time_ms", 2000)
    r2 = h1.arp.reachable_time(d1)
    assert 1 * S <= r2 < 3 * S and r2 == h1.arp.reachable_time(d1)
    # same seed, same draws
    a, b = lab2(7), lab2(7)
    assert a[1].arp.reachable_time(a[3]) == b[1].arp.reachable_time(b[3])


def test_reachable_becomes_stale_after_reachable_time():
    lab, h1, h2, d1, d2, n = resolved_lab()
    reach = h1.arp.reachable_time(d1)
    until(lab, reach)
    assert n.nud_state == NUD_REACHABLE  # now <= confirmed + reachable_time
    until(lab, reach + 10 * NSEC_PER_MSEC - 1)
    assert n.nud_state == NUD_REACHABLE
    until(lab, reach + 10 * NSEC_PER_MSEC)  # re-checked HZ/100 later
    assert n.nud_state == NUD_STALE and n.mac == d2.mac and n.updated == lab.now
    lab.run(600)
    assert n.nud_state == NUD_STALE  # nothing more happens to an idle STALE entry


def test_used_reachable_entry_goes_delay_then_probe_as_the_kernel():
    # base_reachable_time 1 s: the entry expires while its first use (t=0) is within 5 s -> DELAY
    lab, h1, h2, d1, d2, n = resolved_lab(base_ms=1000)
    h2.devices["eth0"].flags |= IFF_NOARP  # h2 stops answering ARP
    c1 = Cap(h1, d1)
    reach = h1.arp.reachable_time(d1)
    until(lab, reach + 10 * NSEC_PER_MSEC)
    assert n.nud_state == NUD_DELAY
    t_delay = n.updated
    assert t_delay == reach + 10 * NSEC_PER_MSEC
    until(lab, t_delay + 5 * S)
    assert n.nud_state == NUD_PROBE
    until(lab, t_delay + 8 * S + S // 2)
    probes = c1.sent(0x0806)
    assert [t - t_delay for t, _ in probes] == [5 * S, 6 * S, 7 * S]
    # unicast to the cached address, target hardware field zero (arp_solicit passes NULL)
    assert all(f == arp_req_bytes(d1.mac, A1, A2, dst=d2.mac) for _, f in probes)
    assert n.nud_state == NUD_FAILED and n.updated == t_delay + 8 * S and n.probes == 3


def test_stale_use_delay_probe_reply_reachable():
    lab, h1, h2, d1, d2, n = resolved_lab()
    lab.run(50)
    assert n.nud_state == NUD_STALE
    c1 = Cap(h1, d1)
    t0 = lab.now
    h1.arp.output(ip_skb(7), d1, A2)
    # sent at once with the STALE address, entry DELAY
    assert c1.sent(0x0800)[0] == (t0, d2.mac + d1.mac + b"\x08\x00" + ip_skb(7).bytes())
    assert n.nud_state == NUD_DELAY and n.used == t0
    until(lab, t0 + 5 * S - 1)
    assert n.nud_state == NUD_DELAY and not c1.sent(0x0806)
    until(lab, t0 + 5 * S)
    # PROBE: one unicast request at once, h2 answers, REACHABLE again
    assert c1.sent(0x0806) == [(t0 + 5 * S, arp_req_bytes(d1.mac, A1, A2, dst=d2.mac))]
    assert n.nud_state == NUD_REACHABLE and n.confirmed == t0 + 5 * S


def test_confirmation_in_delay_avoids_probing():
    lab, h1, h2, d1, d2, n = resolved_lab()
    lab.run(50)
    c1 = Cap(h1, d1)
    t0 = lab.now
    h1.arp.output(ip_skb(1), d1, A2)
    assert n.nud_state == NUD_DELAY
    until(lab, t0 + 2 * S)
    h1.arp.neigh_confirm(A2, d1)  # what TCP does on an ACK (dst_confirm_neigh)
    assert n.nud_state == NUD_DELAY and n.confirmed == t0 + 2 * S
    until(lab, t0 + 5 * S)
    assert n.nud_state == NUD_REACHABLE and not c1.sent(0x0806)
    reach = h1.arp.reachable_time(d1)
    until(lab, t0 + 2 * S + reach)
    assert n.nud_state == NUD_REACHABLE
    until(lab, t0 + 2 * S + reach + 10 * NSEC_PER_MSEC)
    assert n.nud_state == NUD_STALE  # its timer ran from the confirmation


def test_confirmation_keeps_reachable_alive():
    lab, h1, h2, d1, d2, n = resolved_lab()
    reach = h1.arp.reachable_time(d1)
    until(lab, reach - S)
    h1.arp.neigh_confirm(A2, d1)
    until(lab, reach + S // 2)
    assert n.nud_state == NUD_REACHABLE
    until(lab, 2 * reach - S + 10 * NSEC_PER_MSEC)
    assert n.nud_state == NUD_STALE


# ---------------------------------------------------------------- entries that need no ARP
def test_multicast_broadcast_and_noarp_next_hops_need_no_resolution():
    lab, h1, h2, d1, d2 = lab2()
    c1 = Cap(h1, d1)
    for nh in (ip_aton("224.0.0.251"), ip_aton("239.129.2.3"), BCAST, 0xFFFFFFFF):
        h1.arp.output(ip_skb(1, daddr=nh), d1, nh)
    dsts = [f[:6] for _, f in c1.sent()]
    assert dsts == [bytes.fromhex("01005e0000fb"), bytes.fromhex("01005e010203"), BMAC, BMAC]
    assert not c1.sent(0x0806)
    states = {n.ip: n.state_name for n in h1.arp.entries()}
    assert set(states.values()) == {"NOARP"} and len(states) == 4
    # loopback: one entry keyed 0.0.0.0 with lo's own (zero) address
    h1.arp.output(ip_skb(2, daddr=A1), h1.lo, A1)
    lo_n = h1.arp.lookup_noref(0, h1.lo)
    assert lo_n.nud_state == NUD_NOARP and lo_n.mac == bytes(6) and lo_n.ip == 0
    # an IFF_NOARP Ethernet device sends to its own address
    d1.flags |= IFF_NOARP
    h1.arp.output(ip_skb(3), d1, A2)
    assert c1.sent()[-1][1][:6] == d1.mac and not c1.sent(0x0806)


# ---------------------------------------------------------------- administration
def test_static_entry_never_changes():
    lab, h1, h2, d1, d2 = lab2()
    fake = bytes.fromhex("020000000042")
    n = h1.arp.add(A2, d1, fake)
    assert n.nud_state == NUD_PERMANENT and n.state_name == "PERMANENT"
    c1 = Cap(h1, d1)
    h1.arp.output(ip_skb(1), d1, A2)
    assert c1.sent()[0][1][:6] == fake
    # h2 announces its real address: a static entry ignores it (neigh_update without ADMIN)
    h2.arp.send_gratuitous(d2, A2)
    h2.arp.arp_send(2, A1, d2, A2, d1.mac, d2.mac, d1.mac)  # unsolicited unicast reply
    lab.run(200)
    h1.arp.output(ip_skb(2), d1, A2)
    assert n.nud_state == NUD_PERMANENT and n.mac == fake and not c1.sent(0x0806)
    assert n in h1.arp.entries() and n not in h1.arp.gc_list
    # `ip neigh replace` may change it
    h1.arp.add(A2, d1, d2.mac, NUD_PERMANENT, excl=False, replace=True)
    assert n.mac == d2.mac


def test_add_delete_errors_as_the_kernel():
    lab, h1, h2, d1, d2 = lab2()
    mac = bytes.fromhex("020000000001")
    h1.arp.add(A2, d1, mac)
    with pytest.raises(OSError) as e:
        h1.arp.add(A2, d1, mac)
    assert e.value.errno == errno.EEXIST
    with pytest.raises(OSError) as e:
        h1.arp.add(NOBODY, d1, None, create=False, excl=False, replace=True)  # ip neigh change
    assert e.value.errno == errno.ENOENT
    with pytest.raises(OSError) as e:
        h1.arp.add(ip_aton("10.0.0.50"), d1)  # no lladdr: "No link layer address given"
    assert e.value.errno == errno.EINVAL
    # ... and, as on Linux, the entry it created is left behind in state NONE
    assert h1.arp.lookup_noref(ip_aton("10.0.0.50"), d1).nud_state == NUD_NONE
    with pytest.raises(OSError) as e:
        h1.arp.delete(NOBODY, d1)
    assert e.value.errno == errno.ENOENT
    with pytest.raises(OSError) as e:
        h1.arp.add(A1, d1, b"\x02\x00")
    assert e.value.errno == errno.EINVAL
    # add without replace on an existing dynamic entry does not override its address
    h1.arp.delete(A2, d1)
    assert h1.arp.lookup_noref(A2, d1) is None
    h1.arp.add(A2, d1, mac, NUD_STALE)
    h1.arp.add(A2, d1, bytes.fromhex("020000000002"), NUD_STALE, excl=False)
    assert h1.arp.lookup_noref(A2, d1).mac == mac


def test_delete_of_incomplete_entry_reports_its_queue():
    lab, h1, h2, d1, d2 = lab2()
    h1.icmp = IcmpStub()
    h1.arp.output(ip_skb(1), d1, NOBODY)
    h1.arp.delete(NOBODY, d1)
    assert h1.arp.lookup_noref(NOBODY, d1) is None
    assert h1.drops[SkbDropReason.NEIGH_FAILED] == 1 and len(h1.icmp.calls) == 1


def test_flush_spares_permanent_and_noarp():
    lab, h1, h2, d1, d2 = lab2()
    h1.arp.add(ip_aton("10.0.0.7"), d1, bytes.fromhex("020000000007"))
    h1.arp.output(ip_skb(1, daddr=BCAST), d1, BCAST)
    h1.arp.output(ip_skb(2), d1, A2)
    h1.arp.output(ip_skb(3), d1, NOBODY)
    lab.run(0)
    assert h1.arp.flush(d1) == 2
    assert sorted(n.state_name for n in h1.arp.entries(d1)) == ["NOARP", "PERMANENT"]
    assert h1.arp.flush(d1, states=~0) == 2 and not h1.arp.entries(d1)


# ---------------------------------------------------------------- device events
def test_link_down_flushes_everything_and_purges_queues():
    lab, h1, h2, d1, d2, n = resolved_lab()
    h1.arp.add(ip_aton("10.0.0.7"), d1, bytes.fromhex("020000000007"))
    h1.arp.output(ip_skb(1), d1, NOBODY)
    d1.close()
    assert not h1.arp.entries(d1) and n.dead
    assert h1.drops[SkbDropReason.QUEUE_PURGE] == 1
    destroys = h1.arp.stats.destroys
    assert destroys == 3


def test_carrier_loss_keeps_static_entries():
    lab, h1, h2, d1, d2, n = resolved_lab()
    static = h1.arp.add(ip_aton("10.0.0.7"), d1, bytes.fromhex("020000000007"))
    d2.close()  # peer down: h1's eth0 loses carrier
    assert not d1.carrier
    assert h1.arp.entries(d1) == [static]


def test_mac_change_and_last_address_removal_flush():
    lab, h1, h2, d1, d2, n = resolved_lab()
    h1.arp.add(ip_aton("10.0.0.7"), d1, bytes.fromhex("020000000007"))
    d1.set_mac(bytes.fromhex("02aabbccddee"))
    assert not h1.arp.entries(d1)
    h1.arp.output(ip_skb(1), d1, A2)
    lab.run(0)
    assert h1.arp.lookup_noref(A2, d1).nud_state == NUD_REACHABLE
    h1.devinet.delete(d1, A1, 24)
    assert not h1.arp.entries(d1)


# ---------------------------------------------------------------- garbage collection
def _gc_thresholds(ns, t1: int, t2: int, t3: int) -> None:
    for k, v in (("gc_thresh1", t1), ("gc_thresh2", t2), ("gc_thresh3", t3)):
        ns.sysctl.set(f"net.ipv4.neigh.default.{k}", v)


def test_forced_gc_and_table_full():
    lab, h1, h2, d1, d2 = lab2()
    _gc_thresholds(h1, 2, 4, 6)
    # 6 resolutions in flight: every entry holds a timer (a reference), nothing can be collected
    for i in range(6):
        h1.arp.output(ip_skb(i), d1, ip_aton(f"10.0.0.{100 + i}"))
    assert h1.arp.gc_entries == 6
    h1.arp.output(ip_skb(9), d1, ip_aton("10.0.0.200"))
    assert h1.drops[SkbDropReason.NEIGH_CREATEFAIL] == 1
    assert h1.arp.stats.table_fulls == 1 and h1.arp.stats.forced_gc_runs == 1
    with pytest.raises(OSError) as e:
        h1.arp.add(ip_aton("10.0.0.201"), d1, bytes.fromhex("020000000001"), NUD_STALE)
    assert e.value.errno == errno.ENOBUFS
    # static entries are exempt from the count
    h1.arp.add(ip_aton("10.0.0.202"), d1, bytes.fromhex("020000000002"))
    lab.run(3)  # all 6 FAILED now: unreferenced, collectable
    assert sum(n.nud_state == NUD_FAILED for n in h1.arp.entries()) == 6
    assert h1.arp.stats.forced_gc_runs == 2 and h1.arp.stats.table_fulls == 2
    # forced GC frees the oldest collectable entries down to gc_thresh2 (max_clean = 7 - 4)
    h1.arp.output(ip_skb(10), d1, A2)
    assert h1.arp.stats.forced_gc_runs == 3 and h1.arp.gc_entries == 4
    assert sorted(n.ip & 0xFF for n in h1.arp.entries() if n.nud_state == NUD_FAILED) == [103, 104, 105]
    lab.run(0)
    assert h1.arp.lookup_noref(A2, d1).nud_state == NUD_REACHABLE


def test_periodic_gc_only_from_gc_thresh1():
    lab, h1, h2, d1, d2, n = resolved_lab()
    for i in range(3):
        h1.arp.output(ip_skb(i), d1, ip_aton(f"10.0.0.{100 + i}"))
    lab.run(400)  # below gc_thresh1 (128): FAILED and stale entries stay
    assert len(h1.arp.entries(d1)) == 4 and h1.arp.stats.periodic_gc_runs == 0
    assert n.nud_state == NUD_STALE
    _gc_thresholds(h1, 4, 512, 1024)
    static = h1.arp.add(ip_aton("10.0.0.150"), d1, bytes.fromhex("020000000150"))  # 5th: arms the work
    lab.run(20)  # one run (base_reachable_time/2 = 15 s): FAILED go, STALE unused > 60 s goes
    assert h1.arp.stats.periodic_gc_runs == 1
    # (an ICMP error sent to ourselves may have left a lo entry: NOARP, unused for 60 s, gone too)
    assert h1.arp.entries() == [static]
    assert n.dead
    lab.run(600)  # below gc_thresh1 again: the work stopped re-arming, the loop goes idle
    assert h1.arp.stats.periodic_gc_runs == 1


def test_ntable_view_follows_sysctls():
    lab, h1, h2, d1, d2 = lab2()
    info = h1.arp.parms_info("eth0")
    assert info["base_reachable"] == 30000 and 15000 <= info["reachable"] < 45000
    assert info["reachable"] == h1.arp.reachable_time(d1) // NSEC_PER_MSEC
    h1.sysctl.set("net.ipv4.neigh.eth0.unres_qlen_bytes", 10 * SKB_TRUESIZE_ETH_FRAME)
    h1.sysctl.set("net.ipv4.neigh.eth0.locktime", 250)
    info = h1.arp.parms_info("eth0")
    assert info["queue"] == 10 and info["locktime"] == 2500
    t = h1.arp.table_info()
    h1.arp.output(ip_skb(1), d1, A2)
    assert h1.arp.table_info()["entries"] == t["entries"] + 1 == 1


def test_failed_resolution_sends_real_icmp_host_unreachable():
    lab, h1, h2, d1, d2 = lab2()
    if getattr(h1, "icmp", None) is None:
        pytest.skip("needs the ICMP module")
    c1 = Cap(h1, d1)
    for i in range(4):
        h1.arp.output(ip_skb(i), d1, NOBODY)
    lab.run(5)
    # one destination-unreachable/host-unreachable per queued packet (arp_error_report)
    assert h1.mib.icmp.OutDestUnreachs == 4 and h1.mib.icmpmsg_out[3] == 4
    assert not c1.sent(0x0800)  # they go to ourselves, not out of eth0
