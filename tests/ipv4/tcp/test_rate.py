"""Delivery-rate samples as net/ipv4/tcp_rate.c produces them."""

from __future__ import annotations

import pytest

from tuxnet.ipv4.tcp.cong import HZ, CongState, tcp_jiffies32
from tuxnet.ipv4.tcp.rate import (
    SKB_TRUESIZE_1,
    TCPCB_EVER_RETRANS,
    TCPCB_RETRANS,
    TCPCB_SACKED_ACKED,
    RateSample,
    tcp_rate_check_app_limited,
    tcp_rate_gen,
    tcp_rate_skb_delivered,
    tcp_rate_skb_sent,
)

MSS = 1000


class Seg:
    __slots__ = ("seq", "end_seq", "sacked", "skb_mstamp_ns", "tx")

    def __init__(self, seq: int, t_us: int) -> None:
        self.seq, self.end_seq, self.sacked, self.tx = seq, seq + MSS, 0, None
        self.skb_mstamp_ns = t_us * 1000


class Conn:
    """A connection's delivery accounting: send segments, (s)ack them, produce rate samples."""

    def __init__(self, min_rtt_us: int | None = None) -> None:
        tp = CongState()
        tp.mss_cache = MSS
        tp.snd_cwnd = 1000
        tp.app_limited = 0
        self.tp = tp
        self.segs: dict[int, Seg] = {}
        if min_rtt_us is not None:
            tp.rtt_min.reset(0, min_rtt_us)

    def send(self, t_us: int) -> Seg:
        tp = self.tp
        tp.tcp_mstamp = t_us
        s = Seg(tp.snd_nxt, t_us)
        tcp_rate_skb_sent(tp, s)
        tp.packets_out += 1
        tp.snd_nxt = tp.write_seq = s.end_seq
        self.segs[s.seq] = s
        return s

    def ack(
        self, t_us: int, *segs: Seg, sack: bool = False, lost: int = 0, reneg: bool = False
    ) -> RateSample:
        tp = self.tp
        tp.tcp_mstamp = t_us
        rs = RateSample(prior_in_flight=tp.packets_out)
        for s in segs:
            if sack:
                s.sacked |= TCPCB_SACKED_ACKED
            tcp_rate_skb_delivered(tp, s, rs)
            if sack:
                tp.sacked_out += 1
            else:
                tp.packets_out -= 1
            tp.delivered += 1
        if segs and not reneg and not segs[-1].sacked & TCPCB_RETRANS:
            # tcp_ack_update_rtt() before tcp_rate_gen(); Karn: no RTT from retransmissions
            rtt = t_us - segs[-1].skb_mstamp_ns // 1000
            tp.rtt_min.running_min(300 * HZ, tcp_jiffies32(tp), rtt)
        tcp_rate_gen(tp, len(segs), lost, reneg, rs)
        return rs


def test_sent_snapshot_starts_a_sample_when_nothing_is_in_flight():
    c = Conn()
    c.tp.delivered = 7
    s0 = c.send(1000)
    assert (c.tp.first_tx_mstamp, c.tp.delivered_mstamp) == (1000, 1000)
    assert (s0.tx.delivered, s0.tx.delivered_mstamp, s0.tx.first_tx_mstamp) == (7, 1000, 1000)
    s1 = c.send(3000)  # something in flight: the sample still starts at the first send
    assert (s1.tx.delivered_mstamp, s1.tx.first_tx_mstamp) == (1000, 1000)
    assert not s1.tx.is_app_limited


def test_steady_ack_clock_measures_the_bottleneck_rate():
    # A 1 packet/ms FIFO bottleneck on a 50 ms path (BDP 51 packets) with 60 packets in flight:
    # the queue keeps the bottleneck busy, ACKs come 1 ms apart and each releases one packet.
    c = Conn()
    link_free = 0
    acks: list[tuple[int, Seg]] = []

    def send(t: int) -> None:
        nonlocal link_free
        link_free = max(t, link_free) + 1000
        acks.append((link_free + 50_000, c.send(t)))

    for _ in range(60):
        send(10_000)
    rates = []
    for _ in range(300):
        t_ack, seg = acks.pop(0)
        rs = c.ack(t_ack, seg)
        rates.append(rs.delivered / rs.interval_us)
        send(t_ack)
    # From the third window on (the first two still include the initial burst), exactly 1/ms.
    assert rates[120:] == [pytest.approx(1 / 1000)] * 180
    assert rates[0] < 1 / 1000 / 10  # the first sample covers a whole RTT for one packet


def test_ack_compression_uses_the_longer_send_phase():
    c = Conn()
    c.send(1000)
    first = c.ack(50_000, c.segs[0])  # nothing else in flight: a plain sample
    assert first.delivered == 1
    segs = [c.send(50_000 + i * 2000) for i in range(10)]  # sent over 18 ms
    rs = c.ack(100_000, *segs)  # all ten ACKed at once (stretched/compressed)
    assert rs.snd_interval_us == 18_000
    assert rs.rcv_interval_us == 100_000 - 50_000
    assert rs.interval_us == max(rs.snd_interval_us, rs.rcv_interval_us)
    assert rs.delivered == 10 and rs.acked_sacked == 10


def test_sample_is_taken_from_the_most_recently_sent_segment():
    c = Conn()
    c.tp.delivered = 5
    early = c.send(1000)
    late = [c.send(2000), c.send(2000)]  # same send time: the higher sequence wins
    rs = RateSample()
    c.tp.tcp_mstamp = 60_000
    for s in (late[1], early, late[0]):
        tcp_rate_skb_delivered(c.tp, s, rs)
    assert rs.last_end_seq == late[1].end_seq
    assert c.tp.first_tx_mstamp == 2000
    assert rs.interval_us == 2000 - 1000


def test_invalid_samples():
    c = Conn()
    s = c.send(0)  # sent at time 0: no timing information (delivered_mstamp 0 means unset)
    rs = c.ack(40_000, s)
    assert (rs.delivered, rs.interval_us, rs.acked_sacked) == (-1, -1, 1)
    s = c.send(100_000)
    rs = c.ack(140_000, s, reneg=True)  # SACK reneging: the sample may overestimate
    assert (rs.delivered, rs.interval_us) == (-1, -1)


def test_interval_shorter_than_min_rtt_is_dropped():
    c = Conn(min_rtt_us=30_000)
    s = c.send(1000)
    s.sacked |= TCPCB_EVER_RETRANS  # a spurious retransmission, ACKed 20 ms after it was resent
    rs = c.ack(21_000, s)
    assert rs.interval_us == -1 and rs.delivered == 1 and rs.is_retrans
    s = c.send(50_000)
    rs = c.ack(90_000, s)
    assert rs.interval_us == 40_000


def test_sacked_segment_does_not_sample_twice():
    c = Conn()
    a, b = c.send(1000), c.send(2000)
    rs = c.ack(50_000, b, sack=True)
    assert rs.delivered == 1 and rs.interval_us > 0
    assert b.tx.delivered_mstamp == 0  # marked off
    rs2 = RateSample()
    tcp_rate_skb_delivered(c.tp, b, rs2)  # its later cumulative ACK contributes nothing
    assert rs2.prior_mstamp == 0 and rs2.last_end_seq == 0
    rs3 = c.ack(51_000, a)
    assert rs3.delivered == 2  # a was sent before b was SACKed: both count since a's send


def test_retransmission_flag_and_ce_count():
    c = Conn()
    s = c.send(1000)
    s.sacked |= TCPCB_EVER_RETRANS
    c.tp.delivered_ce = 3
    rs = c.ack(50_000, s)
    assert rs.is_retrans
    assert rs.delivered_ce == 3


def test_app_limited_marking_and_clearing():
    c = Conn()
    tp = c.tp
    for i in range(4):
        c.send(1000 + i)
    tp.delivered = 10
    tp.write_seq = tp.snd_nxt + MSS  # a full segment waiting: not app-limited
    tcp_rate_check_app_limited(tp)
    assert tp.app_limited == 0
    tp.write_seq = tp.snd_nxt + MSS - 1
    for blocker in ("cwnd", "wmem", "lost"):
        tp.snd_cwnd, tp.sk_wmem_alloc, tp.lost_out = 1000, 0, 0
        if blocker == "cwnd":
            tp.snd_cwnd = 4
        elif blocker == "wmem":
            tp.sk_wmem_alloc = SKB_TRUESIZE_1
        else:
            tp.lost_out = 1
        tcp_rate_check_app_limited(tp)
        assert tp.app_limited == 0, blocker
    tp.snd_cwnd, tp.sk_wmem_alloc, tp.lost_out = 1000, 0, 0
    tcp_rate_check_app_limited(tp)
    assert tp.app_limited == 10 + 4  # delivered + in flight: the bubble's end
    bubble = c.send(5000)
    assert bubble.tx.is_app_limited
    rs = c.ack(60_000, bubble)
    assert rs.is_app_limited and tp.app_limited == 14  # delivered 11, not past the mark yet
    tp.delivered = 14
    c.ack(61_000, c.segs[0])
    assert tp.app_limited == 0  # the bubble was ACKed and is gone
    empty = Conn()
    empty.tp.write_seq = empty.tp.snd_nxt
    tcp_rate_check_app_limited(empty.tp)
    assert empty.tp.app_limited == 1  # never 0, which means "not limited"


def test_highest_app_limited_rate_is_kept():
    c = Conn()
    tp = c.tp
    s = c.send(1000)
    c.ack(11_000, s)  # 1 packet in 10 ms, not app-limited
    assert (tp.rate_delivered, tp.rate_interval_us, tp.rate_app_limited) == (1, 10_000, False)
    tp.app_limited = tp.delivered + 5
    s = c.send(20_000)
    c.ack(60_000, s)  # app-limited and slower: ignored
    assert (tp.rate_delivered, tp.rate_interval_us) == (1, 10_000)
    tp.app_limited = tp.delivered + 5
    a, b = c.send(70_000), c.send(70_000)
    c.ack(75_000, a, b)  # app-limited but faster: kept
    assert (tp.rate_delivered, tp.rate_interval_us, tp.rate_app_limited) == (2, 5_000, True)


def test_jiffies_follow_tcp_mstamp():
    tp = CongState()
    tp.tcp_mstamp = 0
    j0 = tcp_jiffies32(tp)
    tp.tcp_mstamp = 2_500_999
    assert (tcp_jiffies32(tp) - j0) & 0xFFFFFFFF == 2_500 * HZ // 1000
