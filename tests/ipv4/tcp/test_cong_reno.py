"""Reno: slow start doubles cwnd per round trip, congestion avoidance adds one MSS, loss halves."""

from __future__ import annotations

import pytest

from tuxnet.ipv4.tcp.cong import (
    CongState,
    find,
    tcp_assign_congestion_control,
    tcp_cong_avoid_ai,
    tcp_init_congestion_control,
    tcp_slow_start,
)

TCP_ESTABLISHED = 1


def reno_sock(cwnd: int = 10, ssthresh: int | None = None) -> CongState:
    tp = CongState()
    tp.sk_state = TCP_ESTABLISHED
    tcp_assign_congestion_control(tp, "reno")
    tcp_init_congestion_control(tp)
    tp.snd_cwnd = cwnd
    if ssthresh is not None:
        tp.snd_ssthresh = ssthresh
    return tp


def one_round_trip(tp: CongState, acks_per_packet: int = 1) -> None:
    """A cwnd-limited round: cwnd packets sent, ACKed one (or a stretch of several) at a time."""
    ops = tp.icsk_ca_ops
    tp.is_cwnd_limited = True
    tp.max_packets_out = tp.snd_cwnd
    sent = tp.snd_cwnd
    acked = 0
    while acked < sent:
        n = min(acks_per_packet, sent - acked)
        tp.snd_una += n
        ops.cong_avoid(tp, tp.snd_una, n)
        acked += n


@pytest.mark.parametrize("stretch", [1, 2, 3])
def test_slow_start_doubles_then_one_mss_per_rtt(stretch):
    ssthresh = 160
    tp = reno_sock(cwnd=10, ssthresh=ssthresh)
    expected = 10
    history = []
    for _ in range(8):
        one_round_trip(tp, stretch)
        expected = min(2 * expected, ssthresh) if expected < ssthresh else expected + 1
        history.append(tp.snd_cwnd)
        assert tp.snd_cwnd == expected, history
    assert history[:4] == [20, 40, 80, 160]
    assert history[4:] == [161, 162, 163, 164]


def test_slow_start_leftover_acks_carry_into_congestion_avoidance():
    tp = reno_sock(cwnd=78, ssthresh=80)
    assert tcp_slow_start(tp, 5) == 3
    assert tp.snd_cwnd == 80
    tp = reno_sock(cwnd=78, ssthresh=80)
    tp.is_cwnd_limited = True
    find("reno").cong_avoid(tp, 0, 5)
    assert (tp.snd_cwnd, tp.snd_cwnd_cnt) == (80, 3)


@pytest.mark.parametrize("cwnd", [1, 2, 3, 4, 5, 10, 99, 100, 1001])
def test_loss_halves_with_floor_of_two(cwnd):
    tp = reno_sock(cwnd=cwnd)
    assert find("reno").ssthresh(tp) == max(cwnd // 2, 2)


def test_growth_only_when_cwnd_limited():
    tp = reno_sock(cwnd=20, ssthresh=10)  # congestion avoidance
    ops = find("reno")
    tp.is_cwnd_limited = False
    for _ in range(100):
        ops.cong_avoid(tp, 0, 1)
    assert tp.snd_cwnd == 20 and tp.snd_cwnd_cnt == 0
    # In slow start an application-limited flow may still grow to twice what it used.
    tp = reno_sock(cwnd=10, ssthresh=1000)
    tp.max_packets_out = 8
    for _ in range(20):
        ops.cong_avoid(tp, 0, 1)
    assert tp.snd_cwnd == 2 * tp.max_packets_out


def test_cwnd_clamp_is_respected():
    tp = reno_sock(cwnd=10, ssthresh=1000)
    tp.snd_cwnd_clamp = 25
    for _ in range(4):
        one_round_trip(tp)
    assert tp.snd_cwnd == 25
    tp.snd_ssthresh = 5
    one_round_trip(tp)
    assert tp.snd_cwnd == 25


def test_additive_increase_applies_credit_from_a_larger_window_gently():
    tp = reno_sock(cwnd=10, ssthresh=5)
    tp.snd_cwnd_cnt = 30  # credit earned while w was larger
    tcp_cong_avoid_ai(tp, 10, 1)
    assert (tp.snd_cwnd, tp.snd_cwnd_cnt) == (11, 1)
    tcp_cong_avoid_ai(tp, 11, 25)  # a stretch ACK worth two increments
    assert (tp.snd_cwnd, tp.snd_cwnd_cnt) == (13, 26 - 2 * 11)


def test_undo_restores_the_larger_window():
    tp = reno_sock(cwnd=7)
    tp.prior_cwnd = 20
    assert find("reno").undo_cwnd(tp) == 20
    tp.snd_cwnd = 30
    assert find("reno").undo_cwnd(tp) == 30
