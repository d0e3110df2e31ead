"""The windowed min/max filter (lib/win_minmax.c) used by BBR's bw filter and TCP's min RTT."""

from __future__ import annotations

import random

import pytest

from tuxnet.ipv4.tcp.cong import CongState
from tuxnet.ipv4.tcp.minmax import Minmax, minmax_get, minmax_running_max, minmax_running_min
from tuxnet.ipv4.tcp.rate import tcp_min_rtt


def test_new_max_replaces_everything():
    m = Minmax()
    assert minmax_running_max(m, 10, 0, 10) == 10
    assert minmax_running_max(m, 10, 3, 12) == 12
    assert m.s == [(3, 12)] * 3


def test_old_max_expires_and_a_later_choice_takes_over():
    m = Minmax()
    minmax_running_max(m, 10, 0, 10)
    assert minmax_running_max(m, 10, 5, 5) == 10  # 2nd choice taken after a quarter window
    assert minmax_running_max(m, 10, 11, 3) == 5  # the max at t=0 left the window (1..11]
    assert minmax_running_max(m, 10, 30, 1) == 1  # nothing left in the window: reset


@pytest.mark.parametrize("kind", ["max", "min"])
def test_estimate_is_a_sample_from_the_window(kind):
    rng = random.Random(11)
    win = 50
    m = Minmax()
    if kind == "min":
        m.reset(0, 0xFFFFFFFF)  # a zeroed filter's min is 0, so users start it at ~0U (tcp_init_sock)
    history: list[tuple[int, int]] = []
    t = 0
    exact = 0
    for _ in range(3000):
        t += rng.randrange(1, 6)
        v = rng.randrange(1000)
        history.append((t, v))
        while t - history[0][0] > win:
            history.pop(0)
        if kind == "max":
            got = minmax_running_max(m, win, t, v)
        else:
            got = minmax_running_min(m, win, t, v)
        in_window = [val for (_, val) in history]
        assert got in in_window
        best = max(in_window) if kind == "max" else min(in_window)
        assert (got >= v) if kind == "max" else (got <= v)
        exact += got == best
    assert exact / 3000 > 0.6  # usually the true windowed extreme; never outside the window


def test_monotonic_decrease_tracks_the_window_edge():
    # The worst case for a three-sample filter: it must still forget values older than the window.
    m = Minmax()
    for t in range(200):
        got = minmax_running_max(m, 20, t, 1000 - t)
        assert 1000 - t <= got <= 1000 - max(0, t - 20)


def test_time_wraps_modulo_2_32():
    m = Minmax()
    t0 = 0xFFFFFFF0
    minmax_running_min(m, 100, t0, 50)
    assert minmax_running_min(m, 100, (t0 + 40) & 0xFFFFFFFF, 70) == 50
    assert minmax_running_min(m, 100, (t0 + 200) & 0xFFFFFFFF, 90) == 90  # 200 > win after wrap


def test_tcp_min_rtt_starts_unknown():
    tp = CongState()
    assert tcp_min_rtt(tp) == 0xFFFFFFFF
    tp.rtt_min.running_min(300_000, 5, 42_000)
    assert tcp_min_rtt(tp) == minmax_get(tp.rtt_min) == 42_000
