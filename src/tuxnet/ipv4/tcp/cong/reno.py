"""TCP Reno (NewReno) congestion control, as ``tcp_reno`` in net/ipv4/tcp_cong.c.

Guarantees (RFC 5681 as Linux implements it):
- Nothing grows unless the flow is cwnd-limited (``tcp_is_cwnd_limited``, RFC 7661 spirit).
- Slow start while ``snd_cwnd < snd_ssthresh``: cwnd += packets ACKed (``tcp_slow_start``), which
  doubles cwnd per round trip; packets ACKed beyond ssthresh carry over to congestion avoidance.
- Congestion avoidance: cwnd += 1 per cwnd packets ACKed (``tcp_cong_avoid_ai``), i.e. one MSS per
  round trip.
- On loss or ECN: ``ssthresh = max(cwnd / 2, 2)``; TCP's recovery (PRR) then brings cwnd down to it.
- Undo after a spurious reduction: ``max(cwnd, prior_cwnd)``.
"""

from __future__ import annotations

from typing import Any

from tuxnet.ipv4.tcp.cong import (
    TCP_CONG_NON_RESTRICTED,
    TcpCongestionOps,
    tcp_cong_avoid_ai,
    tcp_in_slow_start,
    tcp_is_cwnd_limited,
    tcp_slow_start,
)

__all__ = ["tcp_reno", "tcp_reno_cong_avoid", "tcp_reno_ssthresh", "tcp_reno_undo_cwnd"]


def tcp_reno_cong_avoid(tp: Any, ack: int, acked: int) -> None:
    """Jacobson's slow start and congestion avoidance (SIGCOMM '88)."""
    if not tcp_is_cwnd_limited(tp):
        return
    if tcp_in_slow_start(tp):  # in the "safe" area, increase
        acked = tcp_slow_start(tp, acked)
        if not acked:
            return
    tcp_cong_avoid_ai(tp, tp.snd_cwnd, acked)  # in the dangerous area, increase slowly


def tcp_reno_ssthresh(tp: Any) -> int:
    """Half the congestion window, at least 2."""
    return max(tp.snd_cwnd >> 1, 2)


def tcp_reno_undo_cwnd(tp: Any) -> int:
    return max(tp.snd_cwnd, tp.prior_cwnd)


tcp_reno = TcpCongestionOps(
    "reno",
    flags=TCP_CONG_NON_RESTRICTED,
    ssthresh=tcp_reno_ssthresh,
    cong_avoid=tcp_reno_cong_avoid,
    undo_cwnd=tcp_reno_undo_cwnd,
)
