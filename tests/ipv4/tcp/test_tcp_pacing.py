"""TCP's internal pacing (EDT), as net/ipv4/tcp_output.c tcp_update_skb_after_send/tcp_pacing_check:
each data packet (a TSO packet as one) pushes the earliest departure ``tcp_wstamp_ns`` later by
its *payload* length at ``sk_pacing_rate`` (the queue skb's len; headers are pushed on the
clone), the first 10 data segments are not paced, and lateness already incurred is credited up to
half a slot. Checked on the departures a capture sees, and on SO_MAX_PACING_RATE, which turns
pacing on."""

from __future__ import annotations

import struct

from tcpharness import Harness, passive_open

from tuxnet.ipv4.tcp import cong, tcp_output
from tuxnet.ipv4.tcp.tcp_sock import TCPHDR_ACK, TcpSkb
from tuxnet.sock.constants import SO_MAX_PACING_RATE, SOL_SOCKET

MSS = 1448  # Flow's MSS 1460 less the timestamp option
NSEC_PER_SEC = 1_000_000_000


def _data(segs: list) -> list:
    return [s for s in segs if s.data]


def _packets(segs: list) -> list[list]:
    """The TSO packets in a run of segments: each ends with PSH (every multi-segment packet has it,
    see test_tcp_offload); its segments share one departure time and the packet is paced as one."""
    pkts: list[list] = []
    cur: list = []
    for s in segs:
        cur.append(s)
        if "P" in s.flags:
            pkts.append(cur)
            cur = []
    for p in pkts:
        assert {s.t for s in p} == {p[0].t}
    return pkts


def _size(pkt: list) -> int:
    return sum(len(s.data) for s in pkt)


def _two_flights(hs: Harness, fl, seconds: float) -> tuple[list, list]:
    """The initial window (10 segments) and, after one ACK for all of it (cwnd doubles, the rest
    may go), the next 10 data segments (a tail loss probe may follow them)."""
    first = [fl.recv() for _ in range(10)]
    assert all(len(s.data) == MSS for s in first)
    fl.send(".")
    hs.run(seconds)
    second = _data(hs.take())[:10]
    assert len(second) == 10 and all(len(s.data) == MSS for s in second)
    assert second[0].seq == first[-1].end_seq and len({s.seq for s in second}) == 10  # new data
    return first, second


def test_so_max_pacing_rate_turns_pacing_on():
    hs = Harness()
    _, conn, _ = passive_open(hs)
    tp = conn.sk
    assert tp.sk_pacing_status == cong.SK_PACING_NONE  # CUBIC does not ask for pacing
    assert conn.getsockopt(SOL_SOCKET, SO_MAX_PACING_RATE) == -1  # ~0U as a C int
    conn.setsockopt(SOL_SOCKET, SO_MAX_PACING_RATE, 1_000_000)
    assert tp.sk_pacing_status == cong.SK_PACING_NEEDED
    assert tp.sk_max_pacing_rate == tp.sk_pacing_rate == 1_000_000
    assert conn.getsockopt(SOL_SOCKET, SO_MAX_PACING_RATE) == 1_000_000
    conn.setsockopt(SOL_SOCKET, SO_MAX_PACING_RATE, struct.pack("=Q", 5 << 32))
    assert conn.getsockopt(SOL_SOCKET, SO_MAX_PACING_RATE, 8) == struct.pack("=Q", 5 << 32)
    assert conn.getsockopt(SOL_SOCKET, SO_MAX_PACING_RATE) == -1  # clamped to ~0U in 32 bits
    assert tp.sk_pacing_rate == 1_000_000  # raising the cap does not raise the rate
    conn.setsockopt(SOL_SOCKET, SO_MAX_PACING_RATE, -1)  # ~0U: unlimited again
    assert tp.sk_max_pacing_rate == (1 << 64) - 1
    assert tp.sk_pacing_status == cong.SK_PACING_NEEDED  # pacing stays on, as Linux's cmpxchg


def test_paced_departures_are_payload_over_rate_apart():
    """At 1 MB/s a 1448-byte segment takes 1.448 ms (charging its 52 header bytes too: 1.5 ms); a
    TSO packet takes its whole payload's time, and its segments leave together."""
    rate = 1_000_000
    hs = Harness()
    _, conn, fl = passive_open(hs)
    conn.setsockopt(SOL_SOCKET, SO_MAX_PACING_RATE, rate)
    conn.send(bytes(MSS * 20))
    first, rest = _two_flights(hs, fl, 0.05)
    # the initial window: two packets of cwnd/2 segments; the first 10 data segments are not
    # paced (data_segs_out < 10 counting the packet's segments), so both leave in one burst
    assert {s.t for s in first} == {first[0].t}
    slot = MSS * NSEC_PER_SEC // rate
    assert slot == 1_448_000
    pkts = _packets(first + rest)
    assert [len(p) for p in pkts[:2]] == [5, 5]
    times = [p[0].t for p in pkts]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps == [0] + [_size(p) * NSEC_PER_SEC // rate for p in pkts[1:-1]]
    assert gaps[1] == 5 * slot


def test_bbr_paces_at_its_pacing_rate():
    hs = Harness(delay_ms=5, sysctls={"net.ipv4.tcp_congestion_control": "bbr"})
    _, conn, fl = passive_open(hs)
    tp = conn.sk
    assert tp.sk_pacing_status == cong.SK_PACING_NEEDED  # bbr_init asks for pacing
    conn.send(bytes(MSS * 20))
    first, rest = _two_flights(hs, fl, 0.05)
    assert {s.t for s in first} == {first[0].t}  # the initial window is not paced
    rate = tp.sk_pacing_rate  # set once by the one ACK (bbr_main), unchanged since
    pkts = _packets(rest)
    assert {len(p) for p in pkts} == {2}  # bbr_min_tso_segs at this rate
    slots = [_size(p) * NSEC_PER_SEC // rate for p in pkts]
    gaps = [b[0].t - a[0].t for a, b in zip(pkts, pkts[1:], strict=False)]
    # The ACK came 10 ms after the first flight's slot ended: that lateness is credited to the
    # next packet's slot, at most half of it (so the one after leaves half a slot later).
    assert gaps == [slots[0] - slots[0] // 2] + slots[1:-1], (gaps, slots)


def test_lateness_credit_is_at_most_half_a_slot():
    """tcp_update_skb_after_send: len_ns -= min(len_ns / 2, tcp_wstamp_ns - prior_wstamp)."""
    hs = Harness()
    _, conn, _ = passive_open(hs)
    tp = conn.sk
    tp.sk_pacing_status, tp.sk_pacing_rate = cong.SK_PACING_NEEDED, 1_000_000
    for data_segs_out, late, advance in ((100, 0, 1_448_000), (100, 300_000, 1_148_000),
                                         (100, 5_000_000, 724_000), (9, 0, 0)):
        tp.data_segs_out = data_segs_out
        prior = hs.now
        tp.tcp_wstamp_ns = prior + late  # as __tcp_transmit_skb's max(tcp_wstamp_ns, clock)
        tcp_output.tcp_update_skb_after_send(tp, TcpSkb(tp.snd_nxt, TCPHDR_ACK, bytes(MSS)), prior)
        assert tp.tcp_wstamp_ns - (prior + late) == advance, (data_segs_out, late)
