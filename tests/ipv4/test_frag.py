"""Fragmentation on output and reassembly on input (ip_output.c / ip_fragment.c / inet_fragment.c)."""

from __future__ import annotations

import pytest
from test_ip_topology import H1, H2, Capture, Topo, echo_skb, inject, ip_packet

from tuxnet.core.trace import SkbDropReason as R
from tuxnet.skb import SkBuff

IP_MF = 0x2000


def fragments(data: bytes, mtu: int, proto: int = 253, ident: int = 7, saddr: int = H1, daddr: int = H2,
              tos: int = 0, df: bool = False) -> list[bytes]:
    """RFC 791 fragmentation, computed independently of the stack: (mtu - 20) & ~7 per piece."""
    step = (mtu - 20) & ~7
    out = []
    for off in range(0, len(data), step):
        piece = data[off:off + step]
        last = off + step >= len(data)
        fo = (off >> 3) | (0 if last else IP_MF) | (0x4000 if df else 0)
        out.append(ip_packet(saddr, daddr, proto, piece, ident=ident, frag_off=fo, tos=tos))
    return out


def check_cover(frags: list, total: int, mtu: int) -> None:
    """Offsets 8-byte aligned, MF on all but the last, pieces contiguous from 0 to ``total``."""
    pos = 0
    for i, (iph, payload) in enumerate(sorted(frags, key=lambda f: f[0].frag_offset)):
        assert iph.tot_len <= mtu
        assert iph.frag_offset == pos and pos % 8 == 0
        assert iph.mf == (i < len(frags) - 1)
        pos += len(payload)
    assert pos == total


def test_4000_bytes_over_1500_then_1400():
    t = Topo(mtu1=1500, mtu2=1400)
    cap1, cap2 = Capture(t.h1e), Capture(t.h2e)
    data = bytes(i * 7 & 0xFF for i in range(4000 - 8))
    t.h1.ip.send(echo_skb(0x99, 1, data), 0, H2, 1, df=False)
    t.run()
    out1 = cap1.ip(outgoing=True)
    check_cover(out1, 4000, 1500)
    assert [iph.tot_len for iph, _ in out1] == [20 + 1480, 20 + 1480, 20 + 4000 - 2 * 1480]
    assert len({iph.id for iph, _ in out1}) == 1
    # r1 re-fragments what does not fit 1400: each 1480-byte piece becomes 1376 + 104, MF kept
    in2 = cap2.ip(outgoing=False, proto=1)
    requests = [f for f in in2 if f[0].saddr == H1]
    check_cover(requests, 4000, 1400)
    step = (1400 - 20) & ~7
    assert sorted(len(p) for _, p in requests) == sorted([step, 1480 - step] * 2 + [4000 - 2 * 1480])
    assert all(iph.ttl == 63 for iph, _ in requests)
    # the request reassembled at h2 is echoed whole; the reply, fragmented by h2 for its 1400 MTU,
    # is reassembled at h1 and carries exactly the bytes sent
    (reply,) = t.replies["h1"]
    assert reply[8:] == data
    assert (t.h1.mib.ip.FragOKs, t.h1.mib.ip.FragCreates) == (1, 3)
    assert (t.r1.mib.ip.FragOKs, t.r1.mib.ip.FragCreates) == (2, 4)
    assert (t.h2.mib.ip.ReasmReqds, t.h2.mib.ip.ReasmOKs, t.h2.mib.ip.InDelivers) == (5, 1, 1)
    assert (t.h1.mib.ip.ReasmReqds, t.h1.mib.ip.ReasmOKs) == (3, 1)
    assert t.h2.mib.ip.OutRequests == 1 and t.h2.mib.ip.OutTransmits == 3
    assert sum(ns.drops.total() for ns in (t.h1, t.r1, t.h2)) == 0


def test_fragments_out_of_order_and_duplicates():
    t = Topo()
    got = []
    t.h2.ip.register_protocol(253, lambda skb: got.append(skb.bytes()))
    data = bytes(range(256)) * 12
    frs = fragments(data, 576)
    order = [3, 0, 4, 2, 2, 1, 5] + list(range(6, len(frs)))
    for i in order:
        inject(t.h2e, frs[i])
    t.run()
    assert got == [data]
    ip = t.h2.mib.ip
    assert (ip.ReasmReqds, ip.ReasmOKs, ip.ReasmFails) == (len(order), 1, 0)
    assert t.h2.drops.by_reason == {R.DUP_FRAG: 1}
    # a fragment of the finished datagram arriving later starts a new queue that never completes
    inject(t.h2e, frs[1])
    t.run(31)
    assert ip.ReasmTimeout == 1 and got == [data]


def test_overlapping_fragment_discards_the_queue():
    t = Topo()
    got = []
    t.h2.ip.register_protocol(253, lambda skb: got.append(skb.bytes()))
    data = bytes(2000)
    a, b, c = fragments(data, 820)  # 800-byte pieces
    overlap = ip_packet(H1, H2, 253, bytes(800), ident=7, frag_off=(400 >> 3) | IP_MF)
    for pkt in (a, overlap, b, c):
        inject(t.h2e, pkt)
    t.run()
    assert got == []
    assert t.h2.mib.ipext.ReasmOverlaps == 1
    # the overlap killed the queue; b and c then start a new one, which cannot complete
    assert t.h2.mib.ip.ReasmFails == 1 and len(t.h2.ip.frags.queues) == 1
    assert t.h2.drops.by_reason == {R.NOT_SPECIFIED: 1}


def test_reassembly_timeout_sends_time_exceeded():
    t = Topo()
    cap = Capture(t.h2e)
    frs = fragments(bytes(range(200)) * 10, 576)
    for f in frs[:-1]:
        inject(t.h2e, f)
    t.run(29.9)
    assert t.h2.mib.ip.ReasmTimeout == 0 and len(t.h2.ip.frags.queues) == 1
    t.run(0.2)
    ip = t.h2.mib.ip
    assert (ip.ReasmTimeout, ip.ReasmFails, ip.ReasmOKs) == (1, 1, 0)
    assert t.h2.drops.by_reason == {R.FRAG_REASM_TIMEOUT: len(frs) - 1}
    assert t.h2.ip.frags.queues == {} and t.h2.ip.frags.mem == 0
    ((iph, icmp),) = cap.icmp(outgoing=True)
    assert (iph.saddr, iph.daddr, icmp.type, icmp.code) == (H2, H1, 11, 1)
    quoted, rest = icmp.parse_quoted()
    # the quote is the first fragment: its header (MF set, offset 0) and the start of its data
    assert quoted.mf and quoted.frag_offset == 0 and quoted.id == 7
    assert rest == frs[0][20:20 + len(rest)] and 20 + 8 + 20 + len(rest) == 576


def test_reassembly_timeout_without_first_fragment_is_silent():
    t = Topo()
    frs = fragments(bytes(3000), 1000)
    for f in frs[1:]:
        inject(t.h2e, f)
    t.run(31)
    assert t.h2.mib.ip.ReasmTimeout == 1 and t.h2.mib.icmp.OutMsgs == 0


def test_memory_limit_refuses_fragments():
    t = Topo()
    t.h2.sysctl.set("net.ipv4.ipfrag_high_thresh", "4000")
    frs = fragments(bytes(8000), 1500)
    for f in frs:
        inject(t.h2e, f)
    t.run()
    ip = t.h2.mib.ip
    # Linux refuses every fragment while the queues use more than ipfrag_high_thresh
    assert ip.ReasmOKs == 0 and ip.ReasmFails >= 1
    assert t.h2.drops.by_reason[R.FRAG_REASM_NOMEM] == ip.ReasmFails
    t.run(31)  # the queue times out and frees its memory
    t.h2.sysctl.set("net.ipv4.ipfrag_high_thresh", "4194304")
    got = []
    t.h2.ip.register_protocol(253, lambda skb: got.append(len(skb.bytes())))
    for f in frs:
        inject(t.h2e, f)
    t.run()
    assert got == [8000]


def test_max_dist_restarts_a_stale_queue():
    t = Topo()
    t.h2.sysctl.set("net.ipv4.ipfrag_max_dist", "4")
    got = []
    t.h2.ip.register_protocol(253, lambda skb: got.append(skb.bytes()))
    slow = fragments(b"s" * 3000, 1000, ident=1)
    inject(t.h2e, slow[0])
    for i in range(6):  # six fragments of other datagrams from the same source in between
        for f in fragments(bytes([i]) * 100, 68, ident=100 + i)[:1]:
            inject(t.h2e, f)
    for f in slow[1:]:
        inject(t.h2e, f)
    t.run()
    assert got == []  # the first fragment was thrown away when the queue restarted
    assert t.h2.drops.by_reason[R.FRAG_TOO_FAR] == 1
    inject(t.h2e, slow[0])
    t.run()
    assert got == [b"s" * 3000]


def test_oversized_reassembly_fails():
    t = Topo()
    got = []
    t.h2.ip.register_protocol(253, lambda skb: got.append(1))
    first = ip_packet(H1, H2, 253, bytes(8), ident=9, frag_off=IP_MF)
    last = ip_packet(H1, H2, 253, bytes(1000), ident=9, frag_off=65000 >> 3)
    # fill the gap so that the queue is complete: 8 .. 65000
    middle = [ip_packet(H1, H2, 253, bytes(1480), ident=9, frag_off=(o >> 3) | IP_MF)
              for o in range(8, 65000, 1480)]
    middle[-1] = ip_packet(H1, H2, 253, bytes(65000 - (8 + 1480 * (len(middle) - 1))), ident=9,
                           frag_off=((8 + 1480 * (len(middle) - 1)) >> 3) | IP_MF)
    for pkt in [first, *middle, last]:
        inject(t.h2e, pkt)
    t.run()
    assert got == [] and t.h2.mib.ip.ReasmFails == 1 and t.h2.mib.ip.ReasmOKs == 0


def test_local_fragmentation_keeps_only_copied_options_after_the_first():
    t = Topo(mtu1=600)
    cap = Capture(t.h1e)
    rr = bytes([7, 7, 4]) + bytes(4) + b"\x01"  # record route (not copied into later fragments), NOOP
    ra = bytes([148, 4, 0, 0])  # router alert: copied flag set
    t.h1.ip.send(SkBuff.from_bytes(bytes(1500)), 0, H2, 253, options=rr + ra)
    t.run()
    frs = cap.ip(outgoing=True)
    assert len(frs) == 3 and all(iph.hlen == 32 for iph, _ in frs)
    first_opts = [o.type for o in frs[0][0].parse_options()]
    later_opts = [o.type for o in frs[1][0].parse_options()]
    assert 7 in first_opts and 148 in first_opts
    assert 7 not in later_opts and 148 in later_opts and later_opts.count(1) == 8
    check_cover(frs, 1500, 600)


def test_df_on_local_send_too_big_is_refused():
    t = Topo()
    cap = Capture(t.h1e)
    seen = []
    t.h1.icmp.error_hooks.append(lambda skb, ty, code, info: seen.append((ty, code, info)) or True)
    rc = t.h1.ip.send(echo_skb(1, 1, bytes(2000)), 0, H2, 1, df=True)
    t.run()
    assert rc == -90  # -EMSGSIZE
    assert t.h1.mib.ip.FragFails == 1 and cap.ip(outgoing=True) == []
    assert t.h1.drops.by_reason == {R.IP_FRAG_NEEDED_DF: 1}
    # "fragmentation needed" to ourselves, as Linux does for a local sender
    assert seen == [(3, 4, 1500)]


@pytest.mark.parametrize("tos_bits, delivered", [((0, 0), True), ((2, 3), True), ((0, 3), False)])
def test_ecn_of_fragments_is_merged(tos_bits, delivered):
    t = Topo()
    got = []
    t.h2.ip.register_protocol(253, lambda skb: got.append(skb.buf[skb.network_header + 1] & 3))
    a, b = fragments(bytes(1000), 600)
    inject(t.h2e, ip_packet(H1, H2, 253, a[20:], ident=7, frag_off=IP_MF, tos=tos_bits[0]))
    inject(t.h2e, ip_packet(H1, H2, 253, b[20:], ident=7, frag_off=(len(a) - 20) >> 3, tos=tos_bits[1]))
    t.run()
    # CE with ECT is CE; CE mixed with not-ECT is invalid and dropped (ip_frag_ecn_table)
    assert got == ([max(tos_bits)] if delivered else [])
