"""CUBIC congestion control with HyStart, as net/ipv4/tcp_cubic.c (the kernel's default algorithm).

Window growth in congestion avoidance follows RFC 9438's cubic function of the time ``t`` since the
last reduction (the "epoch"),

    W_cubic(t) = C * (t - K)^3 + W_max,    K = cbrt(W_max * (1 - beta) / C),

with C = 0.4 (``bic_scale`` 41 / 1024 * 10) and beta = 717/1024 ~ 0.7, computed in the kernel's
integer arithmetic so the numbers match Linux bit for bit: ``K`` in 1/1024 s via ``cubic_root``
(a 64-entry table and one Newton-Raphson step, ~0.2% error) of ``cube_factor * (W_max - cwnd)``,
the target one ``delay_min`` ahead (``t += delay_min``), and ``ca.cnt`` = ACKs per +1 packet.

Linux details kept (where they differ from RFC 9438, Linux wins):
- Time is jiffies (HZ=1000, ``tcp_jiffies32``) in ``bictcp_update`` and us (``tp.tcp_mstamp``) in
  HyStart, as in the kernel; ``ca.cnt`` is recomputed at most once per jiffy.
- Fast convergence: a loss below the previous W_max sets W_max = cwnd * (1 + beta) / 2.
- TCP friendliness (RFC 9438 section 4.3 "Reno-friendly region"): a Reno-like window estimate
  ``tcp_cwnd`` grows one packet per ``cwnd * beta_scale / 8`` ACKs, beta_scale = 8(1+b)/3/(1-b) = 15,
  and caps ``cnt`` so CUBIC is never slower than it.
- Growth is capped at one packet per two ACKed (``cnt >= 2``): cwnd at most x1.5 per round trip;
  with no W_max yet (first epoch), ``cnt <= 20`` (5% per round trip).
- ``ssthresh = max(cwnd * 717 / 1024, 2)``; undo via ``tcp_reno_undo_cwnd``.
- HyStart (hybrid slow start) from ``hystart_low_window`` = 16 packets, both detectors on
  (``hystart_detect`` = 3). ACK train: a round's ACKs keep arriving within ``hystart_ack_delta_us``
  = 2 ms of each other for longer than delay_min / 2 (delay_min for a paced flow). Delay: after
  HYSTART_MIN_SAMPLES = 8 RTT samples in a round, the round's minimum exceeds
  ``delay_min + clamp(delay_min / 8, 4 ms, 16 ms)``. Either ends slow start (ssthresh = cwnd) and
  counts TcpExt TCPHystartTrainDetect/TCPHystartTrainCwnd or TCPHystartDelayDetect/DelayCwnd in
  ``tp.tcpext``. A round ends when snd_una passes the snd_nxt recorded at its start.
- Idle restart: on CA_EVENT_TX_START the epoch start moves forward by the idle time so the cubic
  curve does not credit the idle period (``cubictcp_cwnd_event``); needs ``tp.lsndtime`` (jiffies).
- ``hystart_ack_delay`` uses ``sk_gso_max_size``, which is 0 on tuxnet's GSO-less devices, as it is
  on a Linux socket routed over a device without GSO: the cushion is 0.

Module parameters are module globals with the kernel's names and defaults (``beta``, ``bic_scale``,
``fast_convergence``, ``tcp_friendliness``, ``hystart``, ``hystart_detect``, ``hystart_low_window``,
``hystart_ack_delta_us``, ``initial_ssthresh``); ``beta_scale``, ``cube_rtt_scale`` and ``cube_factor``
are precomputed from them at import, as cubictcp_register() does.
"""

from __future__ import annotations

from typing import Any

from tuxnet.ipv4.tcp.cong import (
    CA_EVENT_TX_START,
    HZ,
    SK_PACING_NONE,
    AckSample,
    TCP_CA_Loss,
    TcpCongestionOps,
    tcp_cong_avoid_ai,
    tcp_in_slow_start,
    tcp_is_cwnd_limited,
    tcp_jiffies32,
    tcp_slow_start,
    usecs_to_jiffies,
)
from tuxnet.ipv4.tcp.cong.reno import tcp_reno_undo_cwnd
from tuxnet.wire.seqnum import seq_after

__all__ = [
    "BICTCP_BETA_SCALE",
    "BICTCP_HZ",
    "HYSTART_ACK_TRAIN",
    "HYSTART_DELAY",
    "HYSTART_MIN_SAMPLES",
    "Bictcp",
    "bictcp_update",
    "cubic_root",
    "cubictcp",
    "cubictcp_acked",
    "cubictcp_cong_avoid",
    "cubictcp_cwnd_event",
    "cubictcp_init",
    "cubictcp_recalc_ssthresh",
    "cubictcp_state",
    "hystart_delay_thresh",
]

U32 = 0xFFFFFFFF
U64 = (1 << 64) - 1

BICTCP_BETA_SCALE = 1024  # scale factor for beta: max_cwnd = snd_cwnd * beta
BICTCP_HZ = 10  # BIC HZ 2^10 = 1024

# The two methods of hybrid slow start.
HYSTART_ACK_TRAIN = 0x1
HYSTART_DELAY = 0x2

HYSTART_MIN_SAMPLES = 8  # delay samples per round for detecting a delay increase
HYSTART_DELAY_MIN = 4000  # us
HYSTART_DELAY_MAX = 16000  # us
USEC_PER_MSEC = 1000
USEC_PER_SEC = 1_000_000

# Module parameters (/sys/module/tcp_cubic/parameters), with the kernel's defaults.
fast_convergence = 1
beta = 717  # = 717/1024 (BICTCP_BETA_SCALE)
initial_ssthresh = 0
bic_scale = 41
tcp_friendliness = 1
hystart = 1
hystart_detect = HYSTART_ACK_TRAIN | HYSTART_DELAY
hystart_low_window = 16
hystart_ack_delta_us = 2000
# the names /sys/module/tcp_cubic/parameters/ lists (all 0644: writable at run time)
MODULE_PARAMETERS = ("fast_convergence", "beta", "initial_ssthresh", "bic_scale", "tcp_friendliness",
                     "hystart", "hystart_detect", "hystart_low_window", "hystart_ack_delta_us")

# Precomputed scale factors (cubictcp_register), based on an SRTT of 100 ms.
beta_scale = 8 * (BICTCP_BETA_SCALE + beta) // 3 // (BICTCP_BETA_SCALE - beta)
cube_rtt_scale = bic_scale * 10  # 1024 * c / rtt
# K = cubic_root((wmax - cwnd) * rtt / c) in units of 1/1024 s: 2^(10 + 3 * BICTCP_HZ) / (c / rtt)
cube_factor = (1 << (10 + 3 * BICTCP_HZ)) // (bic_scale * 10)


def _s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x & 0x80000000 else x


def hystart_delay_thresh(x: int) -> int:
    """HYSTART_DELAY_THRESH: clamp(x, 4 ms, 16 ms)."""
    return min(max(x, HYSTART_DELAY_MIN), HYSTART_DELAY_MAX)


class Bictcp:
    """struct bictcp: CUBIC's private state (all u32 / u8 fields, zero when fresh)."""

    __slots__ = (
        "cnt",  # increase cwnd by 1 after this many ACKs
        "last_max_cwnd",  # last maximum snd_cwnd (W_max)
        "last_cwnd",  # the last snd_cwnd
        "last_time",  # time (jiffies) when last_cwnd was updated
        "bic_origin_point",  # origin point of the cubic function
        "bic_K",  # time to origin point from the beginning of the epoch, 1/1024 s
        "delay_min",  # min delay (us)
        "epoch_start",  # beginning of an epoch (jiffies), 0 = none
        "ack_cnt",  # number of ACKs
        "tcp_cwnd",  # estimated Reno cwnd
        "sample_cnt",  # number of samples to decide curr_rtt
        "found",  # the exit point is found?
        "round_start",  # beginning of each round (us)
        "end_seq",  # end_seq of the round
        "last_ack",  # last time when the ACK spacing is close (us)
        "curr_rtt",  # the minimum RTT of the current round (us)
    )

    def __init__(self) -> None:
        for f in self.__slots__:
            setattr(self, f, 0)

    def __repr__(self) -> str:
        return "Bictcp(" + ", ".join(f"{f}={getattr(self, f)}" for f in self.__slots__) + ")"


def bictcp_reset(ca: Bictcp) -> None:
    """Zero the fields up to ``unused`` in struct bictcp, and ``found``."""
    ca.cnt = ca.last_max_cwnd = ca.last_cwnd = ca.last_time = 0
    ca.bic_origin_point = ca.bic_K = ca.delay_min = ca.epoch_start = 0
    ca.ack_cnt = ca.tcp_cwnd = 0
    ca.found = 0


def bictcp_clock_us(tp: Any) -> int:
    return tp.tcp_mstamp & U32


def bictcp_hystart_reset(tp: Any) -> None:
    """Start a new HyStart round: it ends when snd_una passes the current snd_nxt."""
    ca: Bictcp = tp.ca_priv
    ca.round_start = ca.last_ack = bictcp_clock_us(tp)
    ca.end_seq = tp.snd_nxt
    ca.curr_rtt = U32
    ca.sample_cnt = 0


def cubictcp_init(tp: Any) -> None:
    ca: Bictcp = tp.ca_priv
    bictcp_reset(ca)
    if hystart:
        bictcp_hystart_reset(tp)
    if not hystart and initial_ssthresh:
        tp.snd_ssthresh = initial_ssthresh


def cubictcp_cwnd_event(tp: Any, event: int) -> None:
    """After idle, shift the epoch start by the idle time to stay on the cubic curve."""
    if event == CA_EVENT_TX_START:
        ca: Bictcp = tp.ca_priv
        now = tcp_jiffies32(tp)
        delta = _s32(now - tp.lsndtime)
        # We were application limited (idle) for a while.
        if ca.epoch_start and delta > 0:
            ca.epoch_start = (ca.epoch_start + delta) & U32
            if seq_after(ca.epoch_start, now):
                ca.epoch_start = now


# cbrt(x) MSB values for x MSB values in [0..63]: v = cbrt(x << 18) - 1, cbrt(x) = (v[x] + 10) >> 6.
_CBRT_V = (
    0, 54, 54, 54, 118, 118, 118, 118,
    123, 129, 134, 138, 143, 147, 151, 156,
    157, 161, 164, 168, 170, 173, 176, 179,
    181, 185, 187, 190, 192, 194, 197, 199,
    200, 202, 204, 206, 209, 211, 213, 215,
    217, 219, 221, 222, 224, 225, 227, 229,
    231, 232, 234, 236, 237, 239, 240, 242,
    244, 245, 246, 248, 250, 251, 252, 254,
)  # fmt: skip


def cubic_root(a: int) -> int:
    """Integer cube root of a u64: table lookup, then one Newton-Raphson iteration (avg err ~0.195%)."""
    a &= U64
    b = a.bit_length()  # fls64
    if b < 7:
        return (_CBRT_V[a] + 35) >> 6  # a in [0..63]
    b = ((b * 84) >> 8) - 1
    shift = a >> (b * 3)
    x = (((_CBRT_V[shift] + 10) << b) & U32) >> 6
    # Newton-Raphson: x' = (2 * x + a / x^2) / 3, with x^2 approximated by x * (x - 1)
    x = (2 * x + ((a // (x * (x - 1))) & U32)) & U32
    return ((x * 341) & U32) >> 10


def bictcp_update(ca: Bictcp, cwnd: int, acked: int, now: int) -> None:
    """Compute ``ca.cnt`` for the current cwnd; ``now`` is tcp_jiffies32."""
    ca.ack_cnt = (ca.ack_cnt + acked) & U32  # count the number of ACKed packets

    if ca.last_cwnd == cwnd and _s32(now - ca.last_time) <= HZ // 32:
        return

    # The cubic function updates ca.cnt at most once per jiffy; every cwnd reduction zeroes
    # epoch_start, which forces a recalculation.
    if not (ca.epoch_start and now == ca.last_time):
        ca.last_cwnd = cwnd
        ca.last_time = now

        if ca.epoch_start == 0:
            ca.epoch_start = now  # record the beginning of the epoch
            ca.ack_cnt = acked  # start counting
            ca.tcp_cwnd = cwnd  # sync with cubic
            if ca.last_max_cwnd <= cwnd:
                ca.bic_K = 0
                ca.bic_origin_point = cwnd
            else:
                # K from (wmax - cwnd) * (srtt / HZ) / c * 2^(3 * BICTCP_HZ)
                ca.bic_K = cubic_root(cube_factor * (ca.last_max_cwnd - cwnd))
                ca.bic_origin_point = ca.last_max_cwnd

        # c / rtt * (t - K)^3 with time in 1/1024 s; the target is for one delay_min from now.
        t = _s32(now - ca.epoch_start) & U64
        t = (t + usecs_to_jiffies(ca.delay_min)) & U64
        t = ((t << BICTCP_HZ) & U64) // HZ  # change the unit from HZ to bictcp_HZ

        offs = ca.bic_K - t if t < ca.bic_K else t - ca.bic_K
        delta = (((cube_rtt_scale * offs * offs * offs) & U64) >> (10 + 3 * BICTCP_HZ)) & U32
        if t < ca.bic_K:  # below the origin
            bic_target = (ca.bic_origin_point - delta) & U32
        else:  # above the origin
            bic_target = (ca.bic_origin_point + delta) & U32

        if bic_target > cwnd:
            ca.cnt = cwnd // (bic_target - cwnd)
        else:
            ca.cnt = (100 * cwnd) & U32  # very small increment

        # The initial growth of the cubic function may be too conservative while the available
        # bandwidth is still unknown: at least 5% per RTT.
        if ca.last_max_cwnd == 0 and ca.cnt > 20:
            ca.cnt = 20

    # TCP friendliness: never grow slower than the Reno estimate.
    if tcp_friendliness:
        delta = ((cwnd * beta_scale) & U32) >> 3
        if delta and ca.ack_cnt > delta:
            n = (ca.ack_cnt - 1) // delta  # the kernel's "while (ack_cnt > delta)" loop, at once
            ca.ack_cnt -= n * delta
            ca.tcp_cwnd = (ca.tcp_cwnd + n) & U32
        if ca.tcp_cwnd > cwnd:  # if bic is slower than tcp
            delta = ca.tcp_cwnd - cwnd
            max_cnt = cwnd // delta
            if ca.cnt > max_cnt:
                ca.cnt = max_cnt

    # At most 1 packet per 2 packets ACKed: cwnd grows at most x1.5 per RTT.
    ca.cnt = max(ca.cnt, 2)


def cubictcp_cong_avoid(tp: Any, ack: int, acked: int) -> None:
    ca: Bictcp = tp.ca_priv
    if not tcp_is_cwnd_limited(tp):
        return
    if tcp_in_slow_start(tp):
        acked = tcp_slow_start(tp, acked)
        if not acked:
            return
    bictcp_update(ca, tp.snd_cwnd, acked, tcp_jiffies32(tp))
    tcp_cong_avoid_ai(tp, ca.cnt, acked)


def cubictcp_recalc_ssthresh(tp: Any) -> int:
    """End the epoch, remember W_max (with fast convergence) and return cwnd * beta."""
    ca: Bictcp = tp.ca_priv
    ca.epoch_start = 0  # end of epoch
    cwnd = tp.snd_cwnd
    if cwnd < ca.last_max_cwnd and fast_convergence:
        ca.last_max_cwnd = ((cwnd * (BICTCP_BETA_SCALE + beta)) & U32) // (2 * BICTCP_BETA_SCALE)
    else:
        ca.last_max_cwnd = cwnd
    return max(((cwnd * beta) & U32) // BICTCP_BETA_SCALE, 2)


def cubictcp_state(tp: Any, new_state: int) -> None:
    if new_state == TCP_CA_Loss:
        bictcp_reset(tp.ca_priv)
        bictcp_hystart_reset(tp)


def hystart_ack_delay(tp: Any) -> int:
    """Cushion for TSO/GRO aggregation delays: min(1 ms, 4 * sk_gso_max_size / pacing rate)."""
    rate = tp.sk_pacing_rate
    if not rate:
        return 0
    return min(USEC_PER_MSEC, tp.sk_gso_max_size * 4 * USEC_PER_SEC // rate)


def _mib_add(tp: Any, name: str, n: int) -> None:
    mib = tp.tcpext
    if mib is not None:
        setattr(mib, name, getattr(mib, name) + n)


def hystart_update(tp: Any, delay: int) -> None:
    ca: Bictcp = tp.ca_priv
    if seq_after(tp.snd_una, ca.end_seq):
        bictcp_hystart_reset(tp)

    # HyStart triggers only when cwnd is larger than some threshold.
    if tp.snd_cwnd < hystart_low_window:
        return

    if hystart_detect & HYSTART_ACK_TRAIN:
        now = bictcp_clock_us(tp)
        # First detector: an ACK train (closely spaced ACKs) lasting too long.
        if _s32(now - ca.last_ack) <= hystart_ack_delta_us:
            ca.last_ack = now
            threshold = ca.delay_min + hystart_ack_delay(tp)
            # The train triggers past delay_min/2; pacing may have delayed packets up to RTT/2
            # during slow start, so a paced flow waits for a full delay_min.
            if tp.sk_pacing_status == SK_PACING_NONE:
                threshold >>= 1
            if _s32(now - ca.round_start) > threshold:
                ca.found = 1
                _mib_add(tp, "TCPHystartTrainDetect", 1)
                _mib_add(tp, "TCPHystartTrainCwnd", tp.snd_cwnd)
                tp.snd_ssthresh = tp.snd_cwnd

    if hystart_detect & HYSTART_DELAY:
        # Second detector: the minimum delay of a round's first samples grew too much.
        if ca.curr_rtt > delay:
            ca.curr_rtt = delay
        if ca.sample_cnt < HYSTART_MIN_SAMPLES:
            ca.sample_cnt += 1
        elif ca.curr_rtt > ca.delay_min + hystart_delay_thresh(ca.delay_min >> 3):
            ca.found = 1
            _mib_add(tp, "TCPHystartDelayDetect", 1)
            _mib_add(tp, "TCPHystartDelayCwnd", tp.snd_cwnd)
            tp.snd_ssthresh = tp.snd_cwnd


def cubictcp_acked(tp: Any, sample: AckSample) -> None:
    """Track delay_min and feed HyStart (pkts_acked)."""
    ca: Bictcp = tp.ca_priv
    # Some calls are for duplicates without timestamps.
    if sample.rtt_us < 0:
        return
    # Discard delay samples right after fast recovery.
    if ca.epoch_start and _s32(tcp_jiffies32(tp) - ca.epoch_start) < HZ:
        return
    delay = sample.rtt_us or 1
    # First call, or the link delay decreased.
    if ca.delay_min == 0 or ca.delay_min > delay:
        ca.delay_min = delay
    if not ca.found and tcp_in_slow_start(tp) and hystart:
        hystart_update(tp, delay)


cubictcp = TcpCongestionOps(
    "cubic",
    priv_factory=Bictcp,
    init=cubictcp_init,
    ssthresh=cubictcp_recalc_ssthresh,
    cong_avoid=cubictcp_cong_avoid,
    set_state=cubictcp_state,
    undo_cwnd=tcp_reno_undo_cwnd,
    cwnd_event=cubictcp_cwnd_event,
    pkts_acked=cubictcp_acked,
)
