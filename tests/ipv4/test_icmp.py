"""ICMP: echo and timestamp replies, error rules, rate limits, delivery of errors to protocols."""

from __future__ import annotations

import struct

from test_ip_topology import H1, H2, R1A, R1B, Capture, Topo, echo_skb, inject, ip_packet

from tuxnet.core.trace import SkbDropReason as R
from tuxnet.skb import Csum, SkBuff
from tuxnet.wire.addr import ip_aton
from tuxnet.wire.icmp import IcmpHeader


def test_echo_reply_fields():
    t = Topo()
    cap = Capture(t.h2e)
    t.h1.ip.send(echo_skb(0xBEEF, 42, b"0123456789" * 5), 0, H2, 1, tos=0x28)
    t.run()
    (_, (rep, icmp)) = cap.icmp()
    # from the address pinged, same TOS, no DF (the ICMP socket uses IP_PMTUDISC_DONT), TTL 64
    assert (rep.saddr, rep.daddr, rep.tos, rep.df, rep.ttl, rep.id != 0) == (H2, H1, 0x28, False, 64, True)
    assert (icmp.type, icmp.code, icmp.echo_id, icmp.echo_seq) == (0, 0, 0xBEEF, 42)
    assert icmp.payload == b"0123456789" * 5


def test_echo_to_router_answered_from_the_address_pinged():
    t = Topo()
    cap = Capture(t.h1e)
    t.h1.ip.send(echo_skb(), 0, R1B, 1)  # r1's far address, reached through r1's near interface
    t.run()
    ((rep, icmp),) = cap.icmp(outgoing=False)
    assert (rep.saddr, icmp.type) == (R1B, 0)


def test_echo_ignore_all():
    t = Topo()
    t.h2.sysctl.set("net.ipv4.icmp_echo_ignore_all", "1")
    t.h1.ip.send(echo_skb(), 0, H2, 1)
    t.run()
    assert t.replies["h1"] == [] and t.h2.mib.icmp.InEchos == 1 and t.h2.mib.icmp.OutMsgs == 0
    assert t.h2.drops.total() == 0  # consumed, not dropped


def test_broadcast_echo_ignored_by_default_answered_when_allowed():
    t = Topo()
    bcast = ip_aton("10.0.2.255")
    pkt = ip_packet(R1B, bcast, 1, IcmpHeader.echo(1, 1, b"bc").pack())
    inject(t.h2e, pkt, dst_mac=b"\xff" * 6)
    t.run()
    assert t.h2.mib.icmp.InErrors == 1 and t.h2.drops.by_reason == {R.INVALID_PROTO: 1}
    assert t.h2.mib.ipext.InBcastPkts == 1
    t.h2.sysctl.set("net.ipv4.icmp_echo_ignore_broadcasts", "0")
    cap = Capture(t.h2e)
    inject(t.h2e, pkt, dst_mac=b"\xff" * 6)
    t.run()
    ((rep, icmp),) = cap.icmp(outgoing=True)
    assert (rep.saddr, rep.daddr, icmp.type) == (H2, R1B, 0)  # from our unicast address


def test_timestamp_reply_uses_virtual_time():
    t = Topo()
    t.run(3.25)  # 3250 ms after (virtual) midnight
    cap = Capture(t.h2e)
    req = IcmpHeader(13, 0, 0, (5 << 16) | 6, struct.pack("!III", 123456, 0, 0)).pack()
    t.h1.ip.send(SkBuff.from_bytes(req), 0, H2, 1)
    t.run(0.01)
    ((rep, icmp),) = cap.icmp(outgoing=True)
    orig, recv, xmit = struct.unpack("!III", icmp.payload)
    assert (icmp.type, icmp.code, icmp.rest, orig) == (14, 0, (5 << 16) | 6, 123456)
    assert recv == xmit == 3250  # answered at once, at 3.25 s of virtual time
    assert t.h2.mib.icmp.InTimestamps == 1 and t.h2.mib.icmp.OutTimestampReps == 1


def test_bad_checksum_counted_when_not_offloaded():
    t = Topo()
    msg = bytearray(IcmpHeader.echo(1, 1, b"data").pack())
    msg[2] ^= 0xFF
    frame = t.h2e.mac + b"\x02\0\0\0\0\x99\x08\x00" + ip_packet(H1, H2, 1, bytes(msg))
    skb = SkBuff.from_bytes(frame)
    skb.ip_summed = Csum.NONE  # as from a real wire: the checksum must be verified in software
    t.h2e.netif_rx(skb)
    t.run()
    icmp = t.h2.mib.icmp
    assert (icmp.InMsgs, icmp.InCsumErrors, icmp.InErrors, icmp.InEchos) == (1, 1, 1, 0)
    assert t.h2.drops.by_reason == {R.ICMP_CSUM: 1} and t.replies["h1"] == []


def test_truncated_and_unknown_messages():
    t = Topo()
    inject(t.h2e, ip_packet(H1, H2, 1, b"\x08\x00\x00"))
    unknown = IcmpHeader(42 + 10, 0, 0, 0, b"").pack()
    inject(t.h2e, ip_packet(H1, H2, 1, unknown))
    t.run()
    assert t.h2.mib.icmp.InErrors == 2 and t.h2.mib.icmp.InMsgs == 2
    assert t.h2.drops.by_reason == {R.NOT_SPECIFIED: 1, R.UNHANDLED_PROTO: 1}


def test_echo_reply_without_listener_is_dropped_no_socket():
    t = Topo()
    t.h1.icmp.echo_reply_hooks.clear()
    t.h1.ip.send(echo_skb(), 0, H2, 1)
    t.run()
    assert t.h1.drops.by_reason == {R.NO_SOCKET: 1} and t.h1.mib.icmp.InEchoReps == 1


def test_error_quoting_our_echo_goes_to_error_hooks():
    t = Topo()
    seen = []

    def hook(skb, ty, code, info):
        quoted_icmp = skb.buf[skb.data + 20:skb.data + 28]
        seen.append((ty, code, info, struct.unpack_from("!I", skb.buf, skb.data + 16)[0], quoted_icmp[4:8]))
        return True

    t.h1.icmp.error_hooks.append(hook)
    t.h1.ip.send(echo_skb(0xABCD, 9), 0, H2, 1, ttl=1)
    t.run()
    # skb.data at the quoted IP header: its destination, then the quoted echo's id and sequence
    assert seen == [(11, 0, 0, H2, struct.pack("!HH", 0xABCD, 9))]


def test_error_goes_to_protocol_err_handler_with_info():
    t = Topo(mtu2=1280)
    seen = []
    t.h1.ip.register_protocol(
        253, lambda skb: None,
        lambda skb, ty, code, info: seen.append((ty, code, info, skb.data - skb.transport_header)))
    t.h1.ip.send(SkBuff.from_bytes(bytes(1400)), 0, H2, 253)  # DF (fits h1's MTU), too big for r1-h2
    t.run()
    t.h1.ip.send(SkBuff.from_bytes(bytes(100)), 0, H2, 253)  # fits: h2 has no handler for 253
    t.run()
    assert seen == [(3, 4, 1280, 8), (3, 2, 0, 8)]


def test_no_error_about_icmp_errors_or_later_fragments():
    t = Topo()
    # an ICMP error with TTL 1 through r1: no time exceeded about it
    err = IcmpHeader.error(3, 3, ip_packet(H2, H1, 17, bytes(8))).pack()
    inject(t.r1a, ip_packet(H1, H2, 1, err, ttl=1))
    # a non-first fragment with TTL 1: nothing either; a first fragment does get one
    inject(t.r1a, ip_packet(H1, H2, 253, bytes(16), ttl=1, frag_off=0x2000 | 10))
    t.run()
    assert t.r1.mib.ip.InHdrErrors == 2 and t.r1.mib.icmp.OutMsgs == 0
    inject(t.r1a, ip_packet(H1, H2, 253, bytes(16), ttl=1, frag_off=0x2000))
    t.run()
    assert t.r1.mib.icmp.OutTimeExcds == 1
    # an ICMP echo (not an error) does get one
    inject(t.r1a, ip_packet(H1, H2, 1, IcmpHeader.echo(1, 1).pack(), ttl=1))
    t.run()
    assert t.r1.mib.icmp.OutTimeExcds == 2


def test_quote_is_limited_to_576_bytes():
    t = Topo()
    cap = Capture(t.h1e)
    t.h1.ip.send(SkBuff.from_bytes(bytes(range(256)) * 5), 0, H2, 253)
    t.run()
    ((iph, icmp),) = cap.icmp(outgoing=False)
    assert iph.tot_len == 576 and len(icmp.payload) == 576 - 20 - 8
    quoted, rest = icmp.parse_quoted()
    assert quoted.tot_len == 20 + 1280 and rest == (bytes(range(256)) * 5)[:576 - 48]


def test_inbound_ifaddr_choice():
    t = Topo()
    # h1 reaches r1 through r1's eth0 but r1 answers h1 through eth1 (an odd route back)
    from test_ip_topology import route_add

    route_add(t.r1, "10.0.1.2/32", via=H2)
    route_add(t.h2, "10.0.1.2/32", dev=t.h2e)
    cap2 = Capture(t.h2e)
    t.h1.ip.send(echo_skb(), 0, H2, 1, ttl=1)
    t.run()
    ((iph, icmp),) = [x for x in cap2.icmp(outgoing=False) if x[1].type == 11]
    assert iph.saddr == R1B  # the address of the way out
    t.r1.sysctl.set("net.ipv4.icmp_errors_use_inbound_ifaddr", "1")
    cap2.clear()
    t.h1.ip.send(echo_skb(), 0, H2, 1, ttl=1)
    t.run()
    ((iph, icmp),) = [x for x in cap2.icmp(outgoing=False) if x[1].type == 11]
    assert iph.saddr == R1A  # the address of the way in


# ---------------------------------------------------------------- rate limits
def burst_unreachables(t: Topo, n: int) -> None:
    for i in range(n):
        t.h1.ip.send(SkBuff.from_bytes(bytes(8)), 0, H2, 253, ip_id=i)
    t.run(0.001)  # all delivered at the same virtual instant


def test_ratelimit_per_host_burst_of_six():
    t = Topo()
    burst_unreachables(t, 100)
    icmp = t.h2.mib.icmp
    # a new peer's bucket holds XRLIM_BURST_FACTOR (6) * icmp_ratelimit; the global bucket (50)
    # is not the limit here since only sent messages consume its credit
    assert (icmp.OutDestUnreachs, icmp.OutRateLimitHost, icmp.OutRateLimitGlobal) == (6, 94, 0)
    assert t.h2.mib.ip.InUnknownProtos == 100
    t.run(1)  # one token per icmp_ratelimit (1000 ms)
    burst_unreachables(t, 5)
    assert icmp.OutDestUnreachs == 7


def test_ratelimit_global_bucket():
    t = Topo(seed=5)
    t.h2.sysctl.set("net.ipv4.icmp_ratelimit", "0")  # no per-host limit
    burst_unreachables(t, 100)
    icmp = t.h2.mib.icmp
    sent = icmp.OutDestUnreachs
    # 50 credits, each message costs 0, 1 or 2 at random: at least 25 go, and every refused one
    # is counted against the global bucket
    assert 25 <= sent < 100 and icmp.OutRateLimitGlobal == 100 - sent and icmp.OutRateLimitHost == 0
    # the same seed gives the same draw
    t2 = Topo(seed=5)
    t2.h2.sysctl.set("net.ipv4.icmp_ratelimit", "0")
    burst_unreachables(t2, 100)
    assert t2.h2.mib.icmp.OutDestUnreachs == sent
    # 20 ms later the bucket refills by icmp_msgs_per_sec * 20 ms = 20 credits
    t.run(0.02)
    burst_unreachables(t, 100)
    assert 10 <= icmp.OutDestUnreachs - sent <= 100


def test_frag_needed_and_echo_replies_are_not_rate_limited():
    t = Topo(mtu2=1280)
    for i in range(20):
        t.h1.ip.send(SkBuff.from_bytes(bytes(1400)), 0, H2, 253, df=True, ip_id=i)
        t.h1.ip.send(echo_skb(1, i), 0, H2, 1)
    t.run(0.001)
    assert t.r1.mib.icmp.OutDestUnreachs == 20 and t.h2.mib.icmp.OutEchoReps == 20
    assert t.r1.mib.icmp.OutRateLimitHost == t.h2.mib.icmp.OutRateLimitHost == 0


def test_redirect_received_is_counted_and_delivered():
    t = Topo()
    seen = []
    t.h1.ip.register_protocol(253, lambda skb: None,
                              lambda skb, ty, code, info: seen.append((ty, code, info)))
    quoted = ip_packet(H1, ip_aton("192.0.2.1"), 253, bytes(8))
    redirect = IcmpHeader(5, 1, 0, ip_aton("10.0.1.3"), quoted).pack()
    inject(t.h1e, ip_packet(R1A, H1, 1, redirect))
    t.run()
    assert t.h1.mib.icmp.InRedirects == 1 and t.h1.mib.icmpmsg_in[5] == 1
    assert seen == [(5, 1, ip_aton("10.0.1.3"))]


def test_ping_record_route_as_linux_shows_it():
    """``ping -R`` from h1 to h2 on Linux 6.18 prints RR: h1, r1 (out), h2, h2, r1 (out), h1."""
    from tuxnet.wire.ipv4 import Ipv4Header

    t = Topo()
    rrs = []

    def on_reply(skb):
        iph = Ipv4Header.parse(skb.buf, skb.network_header, check_len=False)
        rrs.extend(o.addrs[:(o.pointer - 4) // 4] for o in iph.parse_options() if o.type == 7)
        return True

    t.h1.icmp.echo_reply_hooks[:] = [on_reply]
    rr = b"\x01" + bytes([7, 39, 4]) + bytes(36)  # NOOP + record route with 9 slots, as ping -R
    t.h1.ip.send(echo_skb(), 0, H2, 1, options=rr)
    t.run()
    assert rrs == [[H1, R1B, H2, H2, R1A, H1]]
