"""Windowed min/max filter: Kathleen Nichols' algorithm, as lib/win_minmax.c and include/linux/win_minmax.h.

Guarantees:
- Constant space (three ``(t, v)`` samples: best, 2nd best, 3rd best) and constant time per update.
- ``minmax_running_max`` / ``minmax_running_min`` return the max (min) of the samples whose time lies
  within ``win`` of the newest sample, almost always exactly (the 2nd and 3rd choices are kept spread
  over the window, which bounds the error when the data is monotonic).
- Times and values are u32 and time differences wrap modulo 2**32, exactly as the kernel's
  ``u32 dt = val->t - m->s[0].t``. The unit of ``t`` is the caller's: BBR uses packet-timed round
  trips, TCP's ``rtt_min`` uses jiffies.

Users: BBR's bandwidth filter (``bbr->bw``, window 10 rounds) and TCP's ``tp->rtt_min``
(window ``tcp_min_rtt_wlen`` seconds), read with ``tcp_min_rtt()``.
"""

from __future__ import annotations

__all__ = ["Minmax", "minmax_get", "minmax_reset", "minmax_running_max", "minmax_running_min"]

_U32 = 0xFFFFFFFF


class Minmax:
    """struct minmax: ``s`` holds three ``(t, v)`` samples; ``s[0]`` is the current best.

    A fresh filter is all zeros, like the kernel's zeroed struct.
    """

    __slots__ = ("s",)

    def __init__(self, t: int = 0, v: int = 0) -> None:
        self.s: list[tuple[int, int]] = [(t, v), (t, v), (t, v)]

    def get(self) -> int:
        return self.s[0][1]

    def reset(self, t: int, meas: int) -> int:
        return minmax_reset(self, t, meas)

    def running_max(self, win: int, t: int, meas: int) -> int:
        return minmax_running_max(self, win, t, meas)

    def running_min(self, win: int, t: int, meas: int) -> int:
        return minmax_running_min(self, win, t, meas)

    def __repr__(self) -> str:
        return f"Minmax({self.s!r})"


def minmax_get(m: Minmax) -> int:
    """The current windowed best value (minmax_get)."""
    return m.s[0][1]


def minmax_reset(m: Minmax, t: int, meas: int) -> int:
    """Forget everything: all three choices become ``(t, meas)``."""
    val = (t & _U32, meas & _U32)
    m.s = [val, val, val]
    return val[1]


def _subwin_update(m: Minmax, win: int, val: tuple[int, int]) -> int:
    """As time advances, update the 1st, 2nd and 3rd choices (minmax_subwin_update)."""
    s = m.s
    dt = (val[0] - s[0][0]) & _U32
    if dt > win:
        # Passed the entire window without a new best: promote the 2nd and 3rd choices; the 2nd
        # may itself be outside the window, so this may have to happen twice.
        s[0], s[1], s[2] = s[1], s[2], val
        if ((val[0] - s[0][0]) & _U32) > win:
            s[0], s[1], s[2] = s[1], s[2], val
    elif s[1][0] == s[0][0] and dt > win // 4:
        # A quarter of the window without a new best: take a 2nd choice from the 2nd quarter.
        s[1] = s[2] = val
    elif s[2][0] == s[1][0] and dt > win // 2:
        # Half the window without a new best: take a 3rd choice from the last half.
        s[2] = val
    return s[0][1]


def minmax_running_max(m: Minmax, win: int, t: int, meas: int) -> int:
    """Add a sample and return the windowed maximum."""
    val = (t & _U32, meas & _U32)
    s = m.s
    if val[1] >= s[0][1] or ((val[0] - s[2][0]) & _U32) > win:
        return minmax_reset(m, val[0], val[1])  # new max, or nothing left in the window
    if val[1] >= s[1][1]:
        s[1] = s[2] = val
    elif val[1] >= s[2][1]:
        s[2] = val
    return _subwin_update(m, win, val)


def minmax_running_min(m: Minmax, win: int, t: int, meas: int) -> int:
    """Add a sample and return the windowed minimum."""
    val = (t & _U32, meas & _U32)
    s = m.s
    if val[1] <= s[0][1] or ((val[0] - s[2][0]) & _U32) > win:
        return minmax_reset(m, val[0], val[1])  # new min, or nothing left in the window
    if val[1] <= s[1][1]:
        s[1] = s[2] = val
    elif val[1] <= s[2][1]:
        s[2] = val
    return _subwin_update(m, win, val)
