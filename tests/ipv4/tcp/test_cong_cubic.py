"""CUBIC follows RFC 9438's window curve in Linux's integer arithmetic; HyStart ends slow start."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable

import pytest

from tuxnet.ipv4.tcp.cong import (
    CA_EVENT_TX_START,
    TCP_INFINITE_SSTHRESH,
    AckSample,
    CongState,
    TcpCaState,
    cubic,
    tcp_assign_congestion_control,
    tcp_ca_event,
    tcp_init_congestion_control,
    tcp_jiffies32,
    tcp_set_ca_state,
)
from tuxnet.snmp import TcpExtMib

T0 = 1_000_000  # us: flows start one second into the run
C = 0.4  # RFC 9438 section 5.1
BETA = 717 / 1024  # Linux's beta_cubic (RFC 9438: 0.7)


class Flow:
    """A bulk, cwnd-limited sender over a fixed path, driven by its ACK clock.

    Each packet is one sequence number. A packet sent at ``t`` leaves the bottleneck after
    ``service_us`` (FIFO) and is ACKed ``rtt_us + extra_rtt(t)`` later; every ACK feeds
    pkts_acked and cong_avoid, then the sender refills the window.
    """

    def __init__(
        self,
        *,
        rtt_us: int,
        cwnd: int,
        ssthresh: int | None = None,
        service_us: int = 0,
        spacing_us: int | None = None,
        extra_rtt: Callable[[int], int] | None = None,
    ) -> None:
        tp = CongState(rng=random.Random(7), tcpext=TcpExtMib())
        tp.sk_state = 1
        tp.tcp_mstamp = T0
        tcp_assign_congestion_control(tp, "cubic")
        tcp_init_congestion_control(tp)
        tp.snd_cwnd = cwnd
        if ssthresh is not None:
            tp.snd_ssthresh = ssthresh
        tp.is_cwnd_limited = True
        self.tp = tp
        self.ops = tp.icsk_ca_ops
        self.rtt_us = rtt_us
        self.service_us = service_us
        self.extra_rtt = extra_rtt or (lambda t: 0)
        self.link_free = 0
        self.heap: list[tuple[int, int, int]] = []
        self.sending = True
        self.now = T0
        spacing = rtt_us // cwnd if spacing_us is None else spacing_us
        for i in range(cwnd):
            self._send(T0 + i * spacing)

    def _send(self, t: int) -> None:
        tp = self.tp
        depart = max(t, self.link_free) + self.service_us
        self.link_free = depart
        heapq.heappush(self.heap, (depart + self.rtt_us + self.extra_rtt(t), tp.snd_nxt, t))
        tp.snd_nxt += 1
        tp.packets_out += 1
        tp.lsndtime = tcp_jiffies32(tp)

    def run_until(self, t_end: int, on_ack: Callable[[Flow], None] | None = None) -> None:
        tp, ops = self.tp, self.ops
        while self.heap and self.heap[0][0] <= t_end:
            t, seq, sent = heapq.heappop(self.heap)
            self.now = tp.tcp_mstamp = t
            tp.packets_out -= 1
            tp.snd_una = seq + 1
            tp.delivered += 1
            ops.pkts_acked(tp, AckSample(1, t - sent, tp.packets_out))
            ops.cong_avoid(tp, tp.snd_una, 1)
            if on_ack is not None:
                on_ack(self)
            while self.sending and tp.packets_out < tp.snd_cwnd:
                self._send(t)
        self.now = tp.tcp_mstamp = t_end

    def loss(self) -> None:
        """A loss episode: ssthresh from the algorithm; recovery leaves cwnd at ssthresh."""
        tp = self.tp
        tp.snd_ssthresh = self.ops.ssthresh(tp)
        tp.snd_cwnd = tp.snd_ssthresh
        tp.snd_cwnd_cnt = 0


def flow_after_loss(rtt_us: int = 100_000) -> tuple[Flow, int, int]:
    """A flow that learned the path's delay, then lost at W_max; returns (flow, W_max, cwnd)."""
    f = Flow(rtt_us=rtt_us, cwnd=100, ssthresh=100)
    f.run_until(T0 + 3 * rtt_us)
    w_max = f.tp.snd_cwnd
    f.loss()
    return f, w_max, f.tp.snd_cwnd


def rfc9438_w_cubic(t: float, w_max: float, cwnd_epoch: float) -> float:
    k = ((w_max - cwnd_epoch) / C) ** (1 / 3)  # RFC 9438 eq. 2
    return C * (t - k) ** 3 + w_max  # RFC 9438 eq. 1


@pytest.mark.parametrize("cwnd", [2, 3, 10, 100, 1000, 12345])
def test_ssthresh_is_beta_times_cwnd(cwnd):
    f = Flow(rtt_us=50_000, cwnd=cwnd, ssthresh=cwnd)
    assert f.ops.ssthresh(f.tp) == max(cwnd * 717 // 1024, 2)
    assert abs(max(cwnd * BETA, 2) - f.ops.ssthresh(f.tp)) < 1


def test_cubic_root_matches_cbrt_over_the_kernel_input_range():
    rng = random.Random(3)
    for _ in range(2000):
        a = cubic.cube_factor * rng.randrange(1, 1_000_000)
        exact = a ** (1 / 3)
        assert abs(cubic.cubic_root(a) - exact) / exact < 0.005
    for a in range(64):  # the table alone, rounded to the nearest integer
        assert abs(cubic.cubic_root(a) - a ** (1 / 3)) < 0.53


def test_k_for_beta_0_7():
    f, w_max, w0 = flow_after_loss()
    f.run_until(f.now + 50_000)  # first ACKs of the new epoch compute K
    ca = f.tp.ca_priv
    assert ca.last_max_cwnd == w_max and ca.bic_origin_point == w_max
    k_rfc = ((w_max - w0) / C) ** (1 / 3)
    assert ca.bic_K / 1024 == pytest.approx(k_rfc, rel=0.005)
    # RFC 9438 section 4.2 with cwnd_epoch = beta * W_max: K = cbrt(W_max * (1 - beta) / C)
    assert k_rfc == pytest.approx((w_max * (1 - 0.7) / C) ** (1 / 3), rel=0.02)


def test_window_follows_the_cubic_function(monkeypatch):
    monkeypatch.setattr(cubic, "tcp_friendliness", 0)  # stay on the pure cubic curve
    f, w_max, w0 = flow_after_loss()
    epoch = f.now
    k = ((w_max - w0) / C) ** (1 / 3)
    samples = [0.5, 1.0, 2.0, 3.0, k, 5.0, 6.0, 7.0, 8.0]
    for t in samples:
        f.run_until(epoch + int(t * 1e6))
        expected = rfc9438_w_cubic(t, w_max, w0)
        # Integer window, integer time (jiffies) and the target one delay_min ahead: within 2.
        assert abs(f.tp.snd_cwnd - expected) <= 2, (t, f.tp.snd_cwnd, expected)
    # Concave below W_max, plateau around K, convex above.
    assert f.tp.snd_cwnd > w_max + 10


def test_tcp_friendly_region_grows_like_reno_at_short_rtt():
    rtt = 10_000
    f, w_max, w0 = flow_after_loss(rtt)
    epoch = f.now
    f.run_until(epoch + 2_000_000)
    rounds = 2_000_000 / rtt
    alpha = 3 * (1 - 0.7) / (1 + 0.7)  # RFC 9438 section 4.3
    reno_friendly = w0 + alpha * rounds
    assert f.tp.snd_cwnd == pytest.approx(reno_friendly, rel=0.05)
    assert f.tp.snd_cwnd > rfc9438_w_cubic(2.0, w_max, w0) + 50


@pytest.mark.parametrize("fast", [1, 0])
def test_fast_convergence_lowers_w_max(monkeypatch, fast):
    monkeypatch.setattr(cubic, "fast_convergence", fast)
    f, w_max, w0 = flow_after_loss()
    f.run_until(f.now + 500_000)
    cwnd2 = f.tp.snd_cwnd
    assert cwnd2 < w_max
    f.loss()
    ca = f.tp.ca_priv
    if fast:
        assert ca.last_max_cwnd == cwnd2 * (1024 + 717) // 2048
        assert abs(ca.last_max_cwnd - cwnd2 * (1 + 0.7) / 2) < 1  # RFC 9438 section 4.7
        assert ca.last_max_cwnd < cwnd2
    else:
        assert ca.last_max_cwnd == cwnd2
    assert ca.epoch_start == 0 and f.tp.snd_cwnd == cwnd2 * 717 // 1024


def test_loss_state_resets_the_epoch_and_hystart_round():
    f, _, _ = flow_after_loss()
    f.run_until(f.now + 200_000)
    tcp_set_ca_state(f.tp, TcpCaState.TCP_CA_Loss)
    ca = f.tp.ca_priv
    assert (ca.last_max_cwnd, ca.epoch_start, ca.bic_K, ca.delay_min, ca.cnt) == (0, 0, 0, 0, 0)
    assert ca.end_seq == f.tp.snd_nxt and ca.curr_rtt == 0xFFFFFFFF and ca.sample_cnt == 0


def _exit_log(flow: Flow, log: list[tuple[int, int]]) -> None:
    if flow.tp.ca_priv.found and not log:
        log.append((flow.now, flow.tp.snd_cwnd))


def test_hystart_delay_increase_ends_slow_start():
    switch = T0 + 250_000

    def run(bump_us: int) -> tuple[Flow, list[tuple[int, int]]]:
        f = Flow(
            rtt_us=100_000,
            cwnd=10,
            service_us=100,
            spacing_us=3000,  # ACKs > hystart_ack_delta_us apart: no ACK train
            extra_rtt=lambda t: bump_us if t >= switch else 0,
        )
        log: list[tuple[int, int]] = []
        f.run_until(T0 + 700_000, lambda fl: _exit_log(fl, log))
        return f, log

    # delay_min = 100.1 ms; threshold = clamp(delay_min / 8, 4 ms, 16 ms) = 12.5 ms
    f, log = run(20_000)
    mib = f.tp.tcpext
    assert log, "HyStart did not end slow start on a 20 ms delay increase"
    exit_time, exit_cwnd = log[0]
    assert f.tp.ca_priv.delay_min == 100_100
    assert f.tp.snd_ssthresh == exit_cwnd >= cubic.hystart_low_window
    assert (mib.TCPHystartDelayDetect, mib.TCPHystartDelayCwnd) == (1, exit_cwnd)
    assert mib.TCPHystartTrainDetect == 0
    assert exit_time > switch + 100_000  # reacts to the delayed packets' ACKs
    assert f.tp.snd_cwnd < 2 * exit_cwnd  # no more doubling

    g, log2 = run(10_000)  # below the threshold: slow start continues
    assert not log2 and g.tp.snd_ssthresh == TCP_INFINITE_SSTHRESH
    assert g.tp.tcpext.TCPHystartDelayDetect == 0
    assert g.tp.snd_cwnd > 4 * exit_cwnd


def test_hystart_ack_train_ends_slow_start():
    # A 1 ms/packet bottleneck spreads each round's ACKs into a train; it ends slow start once a
    # round's train lasts more than delay_min / 2 (no pacing).
    f = Flow(rtt_us=100_000, cwnd=10, service_us=1000, spacing_us=0)
    log: list[tuple[int, int]] = []
    f.run_until(T0 + 1_000_000, lambda fl: _exit_log(fl, log))
    mib = f.tp.tcpext
    assert log
    _, exit_cwnd = log[0]
    ca = f.tp.ca_priv
    assert (mib.TCPHystartTrainDetect, mib.TCPHystartTrainCwnd, mib.TCPHystartDelayDetect) == (
        1,
        exit_cwnd,
        0,
    )
    assert f.tp.snd_ssthresh == exit_cwnd
    # The train that fired spans more than delay_min/2 of ACKs 1 ms apart, and no queueing delay
    # had built up yet (the round's min RTT is still delay_min), so the delay detector was silent.
    assert exit_cwnd > ca.delay_min // 2 // 1000
    assert ca.curr_rtt == ca.delay_min == 101_000


def test_hystart_waits_for_the_low_window():
    f = Flow(rtt_us=100_000, cwnd=4, spacing_us=3000, extra_rtt=lambda t: 50_000 if t > T0 else 0)
    f.run_until(T0 + 250_000)  # two rounds below 16 packets, RTT up by 50 ms
    assert f.tp.snd_cwnd < cubic.hystart_low_window
    assert f.tp.snd_ssthresh == TCP_INFINITE_SSTHRESH and not f.tp.ca_priv.found


@pytest.mark.parametrize("notify", [True, False])
def test_idle_restart_shifts_the_epoch(notify):
    busy, w_max, _ = flow_after_loss()
    idle, _, _ = flow_after_loss()
    start = busy.now
    busy.run_until(start + 4_000_000)

    idle.run_until(start + 2_000_000)
    idle.sending = False  # the application stops writing: the window drains
    idle.tp.is_cwnd_limited = False
    idle.run_until(start + 7_000_000)  # five seconds with nothing in flight
    assert idle.tp.packets_out == 0
    idle.sending = True
    idle.tp.is_cwnd_limited = True
    if notify:
        tcp_ca_event(idle.tp, CA_EVENT_TX_START)  # tcp_event_data_sent() with nothing in flight
    cwnd = idle.tp.snd_cwnd
    for i in range(cwnd):
        idle._send(idle.now + i * idle.rtt_us // cwnd)
    idle.run_until(start + 9_000_000)
    if notify:  # the idle time is not credited: back on the busy flow's curve
        assert abs(idle.tp.snd_cwnd - busy.tp.snd_cwnd) <= 3, (idle.tp.snd_cwnd, busy.tp.snd_cwnd)
    else:
        assert idle.tp.snd_cwnd > busy.tp.snd_cwnd + 10
