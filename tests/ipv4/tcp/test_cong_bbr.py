"""BBR on a fixed-bandwidth path: STARTUP -> DRAIN -> PROBE_BW, gain cycling, PROBE_RTT, policers."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable

import pytest

from tuxnet.ipv4.tcp.cong import (
    CA_EVENT_TX_START,
    HZ,
    TCP_INFINITE_SSTHRESH,
    CongState,
    TcpCaState,
    tcp_assign_congestion_control,
    tcp_ca_event,
    tcp_init_congestion_control,
    tcp_jiffies32,
    tcp_set_ca_state,
)
from tuxnet.ipv4.tcp.cong import bbr as bbrmod
from tuxnet.ipv4.tcp.cong.bbr import (
    BBR_UNIT,
    BW_UNIT,
    BbrMode,
    bbr_bw,
    bbr_main,
)
from tuxnet.ipv4.tcp.rate import (
    RateSample,
    tcp_packets_in_flight,
    tcp_rate_gen,
    tcp_rate_skb_delivered,
    tcp_rate_skb_sent,
)

T0 = 1_000_000  # us
RATE_PPS = 500  # bottleneck: 500 packets/s of 1000 bytes = 4 Mbit/s
RTT_US = 40_000  # propagation round trip
MSS = 1000
SERVICE_US = 1_000_000 // RATE_PPS
MIN_RTT_US = RTT_US + SERVICE_US  # one packet alone: propagation + serialization
BDP = RATE_PPS * MIN_RTT_US / 1e6  # packets


def bw_pps(bw: int) -> float:
    """A BBR bandwidth (packets/us << 24) in packets per second."""
    return bw * 1e6 / BW_UNIT


class Seg:
    """The per-segment record the rate sampler works on."""

    __slots__ = ("seq", "end_seq", "sacked", "skb_mstamp_ns", "tx", "sent_us")


class Path:
    """A BBR sender behind a FIFO bottleneck with an unlimited buffer, ACK per packet.

    Sends are gated by cwnd and by pacing at ``tp.sk_pacing_rate`` after the first ten segments
    (Linux's internal pacing); each ACK runs the rate sampler and ``bbr_main`` as tcp_ack() does.
    """

    def __init__(self, seed: int = 1, extra_rtt: Callable[[int], int] | None = None) -> None:
        tp = CongState(rng=random.Random(seed))
        tp.sk_state = 1
        tp.mss_cache = MSS
        self.tp = tp
        self._set_now(T0)
        tcp_assign_congestion_control(tp, "bbr")
        tcp_init_congestion_control(tp)
        self.bbr = tp.ca_priv
        self.extra_rtt = extra_rtt or (lambda t: 0)
        self.link_free = 0
        self.heap: list[tuple[int, int, Seg]] = []
        self.next_send = T0
        self.segs_out = 0

    def _set_now(self, t: int) -> None:
        tp = self.tp
        self.now = tp.tcp_mstamp = t
        tp.tcp_clock_cache = tp.tcp_wstamp_ns = t * 1000

    def _send(self) -> None:
        tp, t = self.tp, self.now
        s = Seg()
        s.seq, s.end_seq, s.sacked, s.tx, s.sent_us = tp.snd_nxt, tp.snd_nxt + MSS, 0, None, t
        s.skb_mstamp_ns = t * 1000
        tcp_rate_skb_sent(tp, s)
        tp.packets_out += 1
        tp.snd_nxt = tp.write_seq = s.end_seq
        depart = max(t, self.link_free) + SERVICE_US
        self.link_free = depart
        heapq.heappush(self.heap, (depart + RTT_US + self.extra_rtt(t), s.seq, s))
        self.segs_out += 1
        tp.lsndtime = tcp_jiffies32(tp)
        rate = tp.sk_pacing_rate
        self.next_send = t + (MSS * 1_000_000 + rate - 1) // rate if self.segs_out >= 10 else t

    def _ack(self, s: Seg) -> None:
        tp = self.tp
        rs = RateSample(prior_in_flight=tcp_packets_in_flight(tp))
        tcp_rate_skb_delivered(tp, s, rs)
        tp.packets_out -= 1
        tp.delivered += 1
        tp.snd_una = s.end_seq
        rtt = self.now - s.sent_us
        tp.rtt_min.running_min(300 * HZ, tcp_jiffies32(tp), rtt)  # tcp_update_rtt_min
        tp.srtt_us = rtt << 3 if not tp.srtt_us else tp.srtt_us + rtt - (tp.srtt_us >> 3)
        rs.rtt_us = rtt
        tcp_rate_gen(tp, 1, 0, False, rs)
        tp.icsk_ca_ops.cong_control(tp, tp.snd_una, 0, rs)

    def run_until(self, t_end: int, on_ack: Callable[[Path], None] | None = None) -> None:
        tp = self.tp
        while True:
            t_ack = self.heap[0][0] if self.heap else None
            t_send = self.next_send if tcp_packets_in_flight(tp) < tp.snd_cwnd else None
            t = min(x for x in (t_ack, t_send, t_end + 1) if x is not None)
            if t > t_end:
                break
            self._set_now(max(t, self.now))
            if t == t_ack:
                self._ack(heapq.heappop(self.heap)[2])
                if on_ack is not None:
                    on_ack(self)
            else:
                self._send()
        self._set_now(t_end)


class ModeLog:
    """Records every mode change and gain-cycle phase change as (time, value...)."""

    def __init__(self) -> None:
        self.modes: list[tuple[int, int, int]] = []
        self.phases: list[tuple[int, int, int]] = []
        self.cwnd_in_probe_rtt: list[int] = []

    def __call__(self, p: Path) -> None:
        b = p.bbr
        if not self.modes or self.modes[-1][1] != b.mode:
            self.modes.append((p.now, b.mode, p.tp.snd_cwnd))
        if b.mode == BbrMode.BBR_PROBE_BW and (not self.phases or self.phases[-1][1] != b.cycle_idx):
            self.phases.append((p.now, b.cycle_idx, b.pacing_gain))
        if b.mode == BbrMode.BBR_PROBE_RTT:
            self.cwnd_in_probe_rtt.append(p.tp.snd_cwnd)


@pytest.fixture(scope="module")
def long_run() -> tuple[Path, ModeLog]:
    """One 13-second flow shared by the steady-state tests (read-only)."""
    p, log = Path(seed=1), ModeLog()
    p.run_until(T0 + 13_000_000, log)
    return p, log


def test_initial_pacing_rate_is_high_gain_cwnd_over_rtt():
    p = Path()
    expected = 10 * MSS / 1e-3 * 2.885 * 0.99  # no RTT sample: nominal 1 ms
    assert p.tp.sk_pacing_rate == pytest.approx(expected, rel=0.002)
    tp = CongState(rng=random.Random(1))
    tp.mss_cache, tp.srtt_us, tp.sk_state = MSS, 100_000 << 3, 1
    tcp_assign_congestion_control(tp, "bbr")
    tcp_init_congestion_control(tp)
    assert tp.sk_pacing_rate == pytest.approx(10 * MSS / 0.1 * 2.885 * 0.99, rel=0.002)
    assert tp.snd_ssthresh == TCP_INFINITE_SSTHRESH and tp.ca_priv.mode == BbrMode.BBR_STARTUP


def test_startup_drain_probe_bw_and_bandwidth_estimate(long_run):
    p, log = long_run
    order = [m for _, m, _ in log.modes]
    assert order[:3] == [BbrMode.BBR_STARTUP, BbrMode.BBR_DRAIN, BbrMode.BBR_PROBE_BW]
    drain_at = log.modes[1][0]
    assert drain_at < T0 + 1_000_000  # the pipe is found full within a second (~10 rounds)
    assert bw_pps(bbr_bw(p.tp)) == pytest.approx(RATE_PPS, rel=0.02)
    info = p.tp.icsk_ca_ops.get_info(p.tp)
    assert info["bbr_bw_lo"] == pytest.approx(RATE_PPS * MSS, rel=0.02)  # bytes/s
    assert p.bbr.min_rtt_us == info["bbr_min_rtt"] == MIN_RTT_US
    assert p.bbr.full_bw_reached and p.bbr.full_bw_cnt == 3


def test_gains_per_mode():
    p = Path()
    p.run_until(T0 + 2 * MIN_RTT_US)
    assert p.bbr.pacing_gain == p.bbr.cwnd_gain == int(BBR_UNIT * 2.885) + 1  # 2/ln(2)
    seen: dict[int, tuple[int, int]] = {}
    p.run_until(T0 + 3_000_000, lambda q: seen.setdefault(q.bbr.mode, (q.bbr.pacing_gain, q.bbr.cwnd_gain)))
    assert seen[BbrMode.BBR_DRAIN] == (int(BBR_UNIT / 2.885), int(BBR_UNIT * 2.885) + 1)
    assert seen[BbrMode.BBR_PROBE_BW][1] == 2 * BBR_UNIT


def test_probe_bw_gain_cycle_order_and_phase_length(long_run):
    p, log = long_run
    phases = [ph for ph in log.phases if ph[0] < log.modes[3][0]]  # before PROBE_RTT
    assert len(phases) > 3 * 8
    cycle = [BBR_UNIT * 5 // 4, BBR_UNIT * 3 // 4] + [BBR_UNIT] * 6
    for (t1, idx1, gain1), (t2, idx2, _) in zip(phases[1:], phases[2:], strict=False):
        assert idx2 == (idx1 + 1) % 8
        assert gain1 == cycle[idx1]
        assert t2 - t1 >= MIN_RTT_US  # each phase lasts at least min_rtt
    # The 5/4 phase ends when inflight reached 5/4 BDP; the 3/4 phase drains back to BDP.
    assert p.bbr.pacing_gain in cycle


def test_pacing_rate_is_gain_times_bw_less_one_percent():
    p2 = Path(seed=1)
    rates: dict[int, int] = {}
    p2.run_until(T0 + 4_000_000, lambda q: rates.__setitem__(q.bbr.pacing_gain, q.tp.sk_pacing_rate))
    bw_bytes = bw_pps(bbr_bw(p2.tp)) * MSS
    for gain in (BBR_UNIT * 5 // 4, BBR_UNIT * 3 // 4, BBR_UNIT):
        assert rates[gain] == pytest.approx(bw_bytes * gain / BBR_UNIT * 0.99, rel=0.01)


def test_start_phase_is_random_but_seeded():
    first: dict[int, int] = {}
    for seed in range(12):
        p, log = Path(seed=seed), ModeLog()
        p.run_until(T0 + 800_000, log)
        first[seed] = log.phases[0][1]
        assert log.phases[0][1] != 1  # never starts in the 3/4 (drain) phase
    assert len(set(first.values())) >= 3
    p, log = Path(seed=5), ModeLog()
    p.run_until(T0 + 800_000, log)
    assert log.phases[0][1] == first[5]


def test_cwnd_in_probe_bw_is_two_bdp_plus_budget():
    q = Path(seed=2)
    cwnds: set[int] = set()
    q.run_until(T0 + 5_000_000, lambda r: cwnds.add(r.tp.snd_cwnd) if r.now > T0 + 3_000_000 else None)
    # cwnd_gain 2 x BDP, + 3 TSO goals of 2 segments (paced above 1.2 Mbit/s), rounded up to even,
    # + 2 in the 5/4 phase, + a little ACK-aggregation allowance.
    assert min(cwnds) >= 2 * BDP + 6
    assert max(cwnds) <= 2 * BDP + 6 + 2 + 4
    assert q.tp.icsk_ca_ops.min_tso_segs(q.tp) == 2


def test_probe_rtt_after_ten_seconds_without_new_min_rtt(long_run):
    p, log = long_run
    stamp_before = log.modes[2]  # PROBE_BW entry
    probe_rtt = [(t, m, c) for t, m, c in log.modes if m == BbrMode.BBR_PROBE_RTT]
    assert len(probe_rtt) == 1
    entered = probe_rtt[0][0]
    first_min_rtt_sample = log.modes[0][0]  # the first ACK set min_rtt (and is never beaten)
    assert first_min_rtt_sample + 10_000_000 < entered <= first_min_rtt_sample + 10_000_000 + 5_000
    assert stamp_before[0] < entered
    assert log.cwnd_in_probe_rtt and max(log.cwnd_in_probe_rtt) == 4
    exit_idx = [i for i, (_, m, _) in enumerate(log.modes) if m == BbrMode.BBR_PROBE_RTT][0] + 1
    exited, mode_after, cwnd_after = log.modes[exit_idx]
    assert mode_after == BbrMode.BBR_PROBE_BW  # the pipe was full before
    assert exited - entered >= 200_000  # at least bbr_probe_rtt_mode_ms
    assert cwnd_after >= p.bbr.prior_cwnd > 4  # restored
    assert p.bbr.min_rtt_us == MIN_RTT_US


def test_no_probe_rtt_while_min_rtt_keeps_being_refreshed():
    # The path gets 30 ms shorter after 5 s: new, lower RTT samples refresh min_rtt, so the 10 s
    # filter does not expire by 13 s. (BBR v1 keeps a small standing queue from its quantization
    # budget, so only a drop larger than that queue yields a lower sample outside PROBE_RTT.)
    switch = T0 + 5_000_000
    p, log = Path(extra_rtt=lambda t: 30_000 if t < switch else 0), ModeLog()
    p.run_until(T0 + 13_000_000, log)
    assert BbrMode.BBR_PROBE_RTT not in [m for _, m, _ in log.modes]
    assert p.bbr.min_rtt_us < MIN_RTT_US + 30_000
    assert p.bbr.min_rtt_stamp > tcp_jiffies32(p.tp) - 8 * HZ  # refreshed after the switch


def test_recovery_packet_conservation_then_restore():
    p = Path()
    p.run_until(T0 + 3_000_000)
    tp, bbr = p.tp, p.bbr
    good_cwnd = tp.snd_cwnd
    tp.prior_cwnd = tp.snd_cwnd
    assert tp.icsk_ca_ops.ssthresh(tp) == tp.snd_ssthresh  # BBR keeps ssthresh; saves cwnd
    assert bbr.prior_cwnd == good_cwnd
    tcp_set_ca_state(tp, TcpCaState.TCP_CA_Recovery)
    tp.lost_out = 3
    tp.lost += 3
    in_flight = tcp_packets_in_flight(tp)
    rs = RateSample(acked_sacked=2, losses=3, delivered=2, interval_us=MIN_RTT_US, rtt_us=-1)
    bbr_main(tp, 0, 0, rs)
    assert bbr.packet_conservation == 1
    assert tp.snd_cwnd == in_flight + 2  # send what was ACKed, no more
    tp.lost_out = 0
    tcp_set_ca_state(tp, TcpCaState.TCP_CA_Open)
    bbr_main(tp, 0, 0, RateSample(acked_sacked=1, delivered=1, interval_us=MIN_RTT_US, rtt_us=-1))
    assert bbr.packet_conservation == 0
    assert tp.snd_cwnd >= min(good_cwnd, bbrmod.bbr_inflight(tp, bbr_bw(tp), bbr.cwnd_gain))


def test_undo_and_rto_reset_full_pipe_detection():
    p = Path()
    p.run_until(T0 + 3_000_000)
    tp, bbr = p.tp, p.bbr
    assert bbr.full_bw > 0
    cwnd = tp.snd_cwnd
    assert tp.icsk_ca_ops.undo_cwnd(tp) == cwnd
    assert (bbr.full_bw, bbr.full_bw_cnt, bbr.lt_bw, bbr.lt_use_bw) == (0, 0, 0, 0)
    bbr.full_bw = 1
    tcp_set_ca_state(tp, TcpCaState.TCP_CA_Loss)
    assert (bbr.prev_ca_state, bbr.full_bw, bbr.round_start) == (TcpCaState.TCP_CA_Loss, 0, 1)
    assert bbr.lt_is_sampling  # an RTO counts as the first loss for policer detection


def test_idle_restart_paces_at_the_estimated_bandwidth():
    p = Path()
    p.run_until(T0 + 3_000_000)
    tp, bbr = p.tp, p.bbr
    assert bbr.mode == BbrMode.BBR_PROBE_BW
    tp.app_limited = tp.delivered + 1
    tcp_ca_event(tp, CA_EVENT_TX_START)
    assert bbr.idle_restart == 1
    assert tp.sk_pacing_rate == bbrmod.bbr_bw_to_pacing_rate(tp, bbr_bw(tp), BBR_UNIT)


def test_min_tso_segs_threshold():
    tp = CongState()
    tp.sk_pacing_rate = 1_200_000 // 8 - 1
    assert bbrmod.bbr_min_tso_segs(tp) == 1
    tp.sk_pacing_rate = 1_200_000 // 8
    assert bbrmod.bbr_min_tso_segs(tp) == 2


def test_long_term_policer_detection():
    """Two lossy intervals at a consistent rate: BBR paces at their average (lt_bw) for 48 rounds."""
    p = Path()
    p.run_until(T0 + 3_000_000)
    tp, bbr = p.tp, p.bbr
    policed_pps = 300  # tokens arrive at 300 packets/s; half of what we send is dropped
    round_pkts = 12
    now = p.now
    rounds_policed = []
    for _ in range(round_pkts * 60):
        now += 1_000_000 // policed_pps
        p._set_now(now)
        tp.delivered += 1
        tp.lost += 1
        tp.delivered_mstamp = now
        rs = RateSample(
            prior_delivered=tp.delivered - round_pkts,
            delivered=round_pkts,
            interval_us=round_pkts * 1_000_000 // policed_pps,
            acked_sacked=1,
            losses=1,
            rtt_us=MIN_RTT_US,
            prior_in_flight=tcp_packets_in_flight(tp),
        )
        bbr_main(tp, 0, 0, rs)
        if bbr.lt_use_bw:
            rounds_policed.append(bbr.rtt_cnt)
    assert rounds_policed, "policer not detected"
    assert bw_pps(bbr.lt_bw) == pytest.approx(policed_pps, rel=0.02)
    # While policed: bw estimate is lt_bw, no gain cycling; released after bbr_lt_bw_max_rtts rounds.
    assert rounds_policed[-1] - rounds_policed[0] + 1 == bbrmod.bbr_lt_bw_max_rtts
    assert not bbr.lt_use_bw and bbr.mode == BbrMode.BBR_PROBE_BW
