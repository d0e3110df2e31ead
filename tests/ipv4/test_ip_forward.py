"""ip_forward: TTL, forwarding switch, MTU/DF, redirects, counters."""

from __future__ import annotations

from test_ip_topology import H1, H2, R1A, Capture, Topo, echo_skb, inject, ip_packet, route_add, sh

from tuxnet.core.trace import SkbDropReason as R
from tuxnet.skb import SkBuff
from tuxnet.wire.addr import ip_aton


def test_ttl_expiry_gets_time_exceeded_from_router():
    t = Topo()
    cap1 = Capture(t.h1e)
    cap2 = Capture(t.h2e)
    t.h1.ip.send(echo_skb(0x77, 3, b"traceroute-probe"), 0, H2, 1, ttl=1)
    t.run()
    assert cap2.ip() == []  # never reached h2
    ((iph, icmp),) = cap1.icmp(outgoing=False)
    # from r1's address on the link towards h1, TOS internetwork control, fresh TTL
    assert (iph.saddr, iph.daddr, iph.tos, iph.ttl, iph.df) == (R1A, H1, 0xC0, 64, False)
    assert (icmp.type, icmp.code, icmp.rest) == (11, 0, 0)
    quoted, rest = icmp.parse_quoted()
    assert (quoted.saddr, quoted.daddr, quoted.ttl, quoted.protocol) == (H1, H2, 1, 1)
    assert rest[:4] == b"\x08\x00" + rest[2:4] and rest[8:] == b"traceroute-probe"
    assert t.r1.mib.ip.InHdrErrors == 1 and t.r1.mib.ip.ForwDatagrams == 0
    assert t.r1.drops.by_reason == {R.IP_INHDR: 1}
    assert t.r1.mib.icmp.OutTimeExcds == 1 and t.h1.mib.icmp.InTimeExcds == 1


def test_ttl_two_is_forwarded_with_ttl_one():
    t = Topo()
    cap2 = Capture(t.h2e)
    t.h1.ip.send(echo_skb(), 0, H2, 1, ttl=2)
    t.run()
    assert cap2.ip(outgoing=False)[0][0].ttl == 1


def test_forwarding_disabled_drops_as_address_error_without_icmp():
    t = Topo(forward=False)
    cap1 = Capture(t.h1e)
    t.h1.ip.send(echo_skb(), 0, H2, 1)
    t.run()
    assert t.r1.mib.ip.InAddrErrors == 1 and t.r1.mib.ip.ForwDatagrams == 0
    assert t.r1.drops.by_reason == {R.IP_INADDRERRORS: 1}
    assert cap1.icmp(outgoing=False) == []
    # per-device: forwarding on only where the packet comes in is what counts (IN_DEV_FORWARD)
    t.r1.sysctl.set("net.ipv4.conf.eth0.forwarding", "1")
    t.h1.ip.send(echo_skb(), 0, H2, 1)
    t.run()
    assert t.r1.mib.ip.ForwDatagrams >= 1


def test_df_too_big_gets_frag_needed_and_sender_learns_pmtu():
    t = Topo(mtu2=1400)
    cap1 = Capture(t.h1e)
    big = b"B" * (1500 - 20 - 8)
    assert t.h1.ip.send(echo_skb(1, 1, big), 0, H2, 1) == 0  # fits h1's 1500: DF set
    t.run()
    ((iph, icmp),) = cap1.icmp(outgoing=False)
    assert (iph.saddr, icmp.type, icmp.code, icmp.mtu) == (R1A, 3, 4, 1400)
    assert t.r1.mib.ip.FragFails == 1 and t.r1.drops.by_reason == {R.PKT_TOO_BIG: 1}
    # frag needed is never rate limited, and h1 now knows the path MTU
    assert t.h1.route.output(H2).mtu == 1400
    assert "mtu 1400" in sh(t.h1, "ip route get 10.0.2.2")
    # the same datagram again: too big for the learned PMTU, so sent without DF, in fragments
    cap2 = Capture(t.h2e)
    t.h1.ip.send(echo_skb(1, 2, big), 0, H2, 1)
    t.run()
    frags = [iph for iph, _ in cap2.ip(outgoing=False)]
    assert [f.tot_len for f in frags] == [1396, 124] and not any(f.df for f in frags)
    assert t.replies["h1"][-1][8:] == big  # reassembled at h2, echoed, reassembled at h1


def test_forwarding_ignores_learned_pmtu_by_default():
    t = Topo()
    # r1 learned a smaller PMTU towards h2 (as a host would); forwarding uses the device MTU
    t.r1.route.update_pmtu(H2, 1300, saddr=ip_aton("10.0.2.1"))
    assert t.r1.route.output(H2).mtu == 1300
    cap2 = Capture(t.h2e)
    t.h1.ip.send(echo_skb(1, 1, b"x" * 1400), 0, H2, 1)
    t.run()
    assert [iph.tot_len for iph, _ in cap2.ip(outgoing=False)] == [1428]
    t.r1.sysctl.set("net.ipv4.ip_forward_use_pmtu", "1")
    t.h1.ip.send(echo_skb(1, 2, b"x" * 1400), 0, H2, 1)
    t.run()
    assert t.r1.mib.ip.FragFails == 1


def test_redirect_when_next_hop_is_on_the_incoming_link():
    t = Topo()
    # r1 reaches 192.0.2.0/24 through 10.0.1.3, a router on h1's own link
    route_add(t.r1, "192.0.2.0/24", via=ip_aton("10.0.1.3"))
    gw = ip_aton("10.0.1.3")
    dst = ip_aton("192.0.2.9")
    cap1 = Capture(t.h1e)
    errs = []
    t.h1.ip.register_protocol(253, lambda skb: None,
                              lambda skb, ty, code, info: errs.append((ty, code, info)))
    for i in range(3):
        t.h1.ip.send(SkBuff.from_bytes(b"port" * 4), 0, dst, 253, ip_id=i)
    t.run(0.001)
    redirects = [(iph, i) for iph, i in cap1.icmp(outgoing=False) if i.type == 5]
    # one redirect (host, with the better gateway); the next must wait ip_rt_redirect_load << 1
    assert [(iph.saddr, i.code, i.gateway) for iph, i in redirects] == [(R1A, 1, gw)]
    quoted, _ = redirects[0][1].parse_quoted()
    assert quoted.daddr == dst
    assert t.r1.mib.ip.ForwDatagrams == 3  # the packets are still forwarded (back out of eth0)
    assert t.r1.mib.icmp.OutRedirects == 1 and t.h1.mib.icmp.InRedirects == 1
    assert errs == [(5, 1, gw)]


def test_redirect_backoff_sends_at_most_nine():
    t = Topo()
    route_add(t.r1, "192.0.2.0/24", via=ip_aton("10.0.1.3"))
    # the better router answers ARP (a static entry): no host unreachables muddle the peer state
    t.r1.arp.add(ip_aton("10.0.1.3"), t.r1a, bytes.fromhex("020000000003"))
    dst = ip_aton("192.0.2.9")
    times = []
    t.h1.ip.register_protocol(253, lambda skb: None,
                              lambda skb, ty, code, info: ty == 5 and times.append(t.lab.now))
    # one packet every 10 ms for 30 s
    for i in range(3000):
        t.h1.ip.send(SkBuff.from_bytes(bytes(8)), 0, dst, 253, ip_id=i)
        t.run(0.01)
    assert len(times) == 9 == t.r1.mib.icmp.OutRedirects
    gaps = [(b - a) // 1_000_000 for a, b in zip(times, times[1:], strict=False)]
    # the k-th redirect waits more than (HZ/50) << k jiffies after the previous one
    assert all(g > 20 << k for k, g in enumerate(gaps, start=1))


def test_send_redirects_off_means_no_redirect():
    t = Topo()
    route_add(t.r1, "192.0.2.0/24", via=ip_aton("10.0.1.3"))
    t.r1.sysctl.set("net.ipv4.conf.all.send_redirects", "0")
    t.r1.sysctl.set("net.ipv4.conf.eth0.send_redirects", "0")
    t.h1.ip.send(SkBuff.from_bytes(b"p"), 0, ip_aton("192.0.2.9"), 253)
    t.run()
    assert t.r1.mib.icmp.OutRedirects == 0 and t.r1.mib.ip.ForwDatagrams == 1


def test_packet_not_for_us_at_link_layer_is_not_forwarded():
    t = Topo()
    inject(t.r1a, ip_packet(H1, H2), dst_mac=b"\x01\x00\x5e\x00\x00\x01")  # multicast MAC, unicast IP
    t.run()
    assert t.r1.mib.ip.ForwDatagrams == 0 and t.r1.drops.total() == 1


def test_forward_counters():
    t = Topo()
    for i in range(5):
        t.h1.ip.send(SkBuff.from_bytes(bytes(100)), 0, H2, 253, ip_id=i)
    t.run()
    ip = t.r1.mib.ip
    # five datagrams out, five protocol unreachables from h2 back (within its per-host burst of 6)
    assert (ip.InReceives, ip.ForwDatagrams, ip.OutRequests, ip.InDelivers) == (10, 10, 0, 0)
    assert ip.OutTransmits == 10 and t.r1.mib.ipext.OutOctets == 5 * 120 + 5 * (20 + 8 + 120)
    assert t.r1.mib.ipext.InOctets == t.r1.mib.ipext.OutOctets


def test_packet_journey_is_traced_hop_by_hop():
    t = Topo()
    t.lab.tracer.start_recording()
    skb = echo_skb()
    t.h1.ip.send(skb, 0, H2, 1)
    t.run()
    journey = [(e.ns, e.point) for e in t.lab.tracer.journey(skb.id) if e.point.startswith("ip_")]
    assert journey == [("h1", "ip_finish_output2"), ("r1", "ip_rcv"), ("r1", "ip_forward"),
                       ("r1", "ip_finish_output2"), ("h2", "ip_rcv"), ("h2", "ip_local_deliver")]


def test_forwarded_priority_follows_tos():
    t = Topo()
    prios = []
    t.r1b.taps.append(lambda skb, out: out and skb.protocol == 0x0800 and prios.append(skb.priority))
    for tos in (0x00, 0x08, 0x10, 0x18):  # best effort, bulk (throughput), interactive (lowdelay), both
        t.h1.ip.send(SkBuff.from_bytes(bytes(8)), 0, H2, 253, tos=tos)
    t.run(0.001)
    assert prios == [0, 2, 6, 4]  # TC_PRIO_BESTEFFORT, BULK, INTERACTIVE, INTERACTIVE_BULK
