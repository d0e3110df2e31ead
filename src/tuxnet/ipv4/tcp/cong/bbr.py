"""BBR v1 (Bottleneck Bandwidth and RTT) congestion control, as net/ipv4/tcp_bbr.c.

BBR paces at its model of the path rather than reacting to loss. On every ACK (``bbr_main``, the
``cong_control`` callback, fed a ``RateSample`` from ``tuxnet.ipv4.tcp.rate``):

    bottleneck_bw = windowed max(delivered / interval, 10 packet-timed rounds)   (minmax filter)
    min_rtt       = windowed min(rtt, 10 s)
    pacing_rate   = pacing_gain * bw * 99%      -> ``tp.sk_pacing_rate`` (bytes/s)
    cwnd          = cwnd_gain * bw * min_rtt + quantization budget, at least 4 packets

Modes: STARTUP (gain 2/ln2 = 2885/1000, until the bw stops growing 25% for 3 rounds), DRAIN (pacing
gain 1000/2885 until inflight <= BDP), PROBE_BW (pacing gain cycle [5/4, 3/4, 1, 1, 1, 1, 1, 1] of
min_rtt-long phases, cwnd gain 2, starting at a random phase other than 3/4), PROBE_RTT (entered when
min_rtt was not refreshed for 10 s: cwnd 4 for max(200 ms, one round), then back to PROBE_BW or
STARTUP). Long-term (policer) detection: two 4..16-round intervals with >= 20% loss and consistent
throughput switch to pacing at their average ``lt_bw`` for 48 rounds. Loss recovery: packet
conservation for the first round of Recovery, restore the saved cwnd afterwards.

Integer arithmetic, bit fields, u32 wrap-around and the order of operations are the kernel's, so with
the same inputs the numbers match Linux: bandwidth in packets/us << 24 (BW_SCALE), gains << 8
(BBR_SCALE), jiffies (HZ=1000) for min_rtt_stamp/probe_rtt_done_stamp, us for the rest.

tuxnet specifics (documented simplifications):
- The random start phase of the gain cycle comes from ``tp.ca_rng`` (a seeded ``random.Random``
  from the namespace); without one, a private ``random.Random(0)`` made at ``bbr_init`` is used.
  The global ``random`` module is never touched.
- TSO autosizing: tuxnet sends one MSS per segment, but ``bbr_tso_segs_goal`` is still computed as
  Linux computes it (it only depends on the pacing rate and MSS, and Linux applies it on GSO-less
  devices too), so the cwnd quantization budget (+3 goals, rounded up to even, +2 in the 5/4 phase)
  matches Linux. ``bbr_min_tso_segs`` (1 below 1.2 Mbit/s, else 2) is exported as the
  ``min_tso_segs`` callback. MAX_TCP_HEADER is taken as 320 (x86-64 distribution kernels).
- ``bbr_packets_in_net_at_edt`` uses ``tp.tcp_clock_cache`` and ``tp.tcp_wstamp_ns`` (ns): a TCP
  that does not schedule departure times in the future leaves them equal, and the correction is 0.
"""

from __future__ import annotations

import random
from enum import IntEnum
from typing import Any

from tuxnet.ipv4.tcp.cong import (
    CA_EVENT_TX_START,
    HZ,
    SK_PACING_NEEDED,
    SK_PACING_NONE,
    TCP_CONG_NON_RESTRICTED,
    TCP_INFINITE_SSTHRESH,
    TCP_INIT_CWND,
    TCP_CA_Loss,
    TCP_CA_Open,
    TCP_CA_Recovery,
    TcpCongestionOps,
    msecs_to_jiffies,
    tcp_jiffies32,
)
from tuxnet.ipv4.tcp.minmax import Minmax, minmax_reset, minmax_running_max
from tuxnet.ipv4.tcp.rate import RateSample, tcp_min_rtt, tcp_packets_in_flight, tcp_stamp_us_delta
from tuxnet.wire.seqnum import seq_after, seq_before

__all__ = [
    "BBR_SCALE",
    "BBR_UNIT",
    "BW_SCALE",
    "BW_UNIT",
    "CYCLE_LEN",
    "Bbr",
    "BbrMode",
    "bbr_bdp",
    "bbr_bw",
    "bbr_bw_to_pacing_rate",
    "bbr_cwnd_gain",
    "bbr_drain_gain",
    "bbr_high_gain",
    "bbr_init",
    "bbr_main",
    "bbr_max_bw",
    "bbr_min_tso_segs",
    "bbr_pacing_gain",
    "bbr_rate_bytes_per_sec",
    "bbr_set_state",
    "bbr_ssthresh",
    "bbr_undo_cwnd",
    "bbr_update_model",
    "tcp_bbr_cong_ops",
]

U32 = 0xFFFFFFFF
U64 = (1 << 64) - 1
USEC_PER_SEC = 1_000_000
USEC_PER_MSEC = 1000
NSEC_PER_USEC = 1000

# Rate in pkt/us scaled by 2^24: ~715 bps per unit, 0.06 pps .. 256 Mpps in a u32.
BW_SCALE = 24
BW_UNIT = 1 << BW_SCALE
BBR_SCALE = 8  # scaling factor for fractions (gains)
BBR_UNIT = 1 << BBR_SCALE

GSO_LEGACY_MAX_SIZE = 65536
MAX_TCP_HEADER = 320


class BbrMode(IntEnum):
    BBR_STARTUP = 0  # ramp up sending rate rapidly to fill pipe
    BBR_DRAIN = 1  # drain any queue created during startup
    BBR_PROBE_BW = 2  # discover, share bw: pace around estimated bw
    BBR_PROBE_RTT = 3  # cut inflight to min to probe min_rtt


BBR_STARTUP = BbrMode.BBR_STARTUP
BBR_DRAIN = BbrMode.BBR_DRAIN
BBR_PROBE_BW = BbrMode.BBR_PROBE_BW
BBR_PROBE_RTT = BbrMode.BBR_PROBE_RTT

CYCLE_LEN = 8  # number of phases in a pacing gain cycle
bbr_bw_rtts = CYCLE_LEN + 2  # window length of the bw filter (rounds)
bbr_min_rtt_win_sec = 10  # window length of the min_rtt filter (s)
bbr_probe_rtt_mode_ms = 200  # minimum time at bbr_cwnd_min_target in PROBE_RTT
bbr_min_tso_rate = 1200000  # skip TSO below this bandwidth (bits/s)
bbr_pacing_margin_percent = 1  # pace ~1% below the estimated bw to keep the bottleneck queue low
# 2/ln(2): the smallest gain that doubles the sending rate each RTT, like slow start.
bbr_high_gain = BBR_UNIT * 2885 // 1000 + 1
bbr_drain_gain = BBR_UNIT * 1000 // 2885  # drain STARTUP's queue in about one round
bbr_cwnd_gain = BBR_UNIT * 2  # tolerates delayed/stretched ACKs
bbr_pacing_gain = (
    BBR_UNIT * 5 // 4,  # probe for more available bw
    BBR_UNIT * 3 // 4,  # drain queue and/or yield bw to other flows
    BBR_UNIT, BBR_UNIT, BBR_UNIT,  # cruise at 1.0 * bw to utilize the pipe
    BBR_UNIT, BBR_UNIT, BBR_UNIT,  # without creating excess queue
)  # fmt: skip
bbr_cycle_rand = 7  # randomize the starting gain cycling phase over N phases
bbr_cwnd_min_target = 4  # ACK-every-other-packet needs 4 packets in flight
bbr_full_bw_thresh = BBR_UNIT * 5 // 4  # bw grew significantly (1.25x): maybe more available
bbr_full_bw_cnt = 3  # rounds without significant growth => pipe full
bbr_lt_intvl_min_rtts = 4  # minimum rounds in a long-term sampling interval
bbr_lt_loss_thresh = 50  # lost/delivered > 20% (50/256): lossy, maybe policed
bbr_lt_bw_ratio = BBR_UNIT // 8  # two intervals' bw within 1/8: consistent
bbr_lt_bw_diff = 4000 // 8  # ... or within 4 kbit/s
bbr_lt_bw_max_rtts = 48  # use lt_bw for this many rounds once policed
bbr_extra_acked_gain = BBR_UNIT  # gain for adding extra_acked to the target cwnd
bbr_extra_acked_win_rtts = 5  # window of the extra_acked max filter (rounds)
bbr_ack_epoch_acked_reset_thresh = 1 << 20  # reset the sampling epoch beyond this
bbr_extra_acked_max_us = 100 * 1000  # clamp the aggregation cwnd increment to 100 ms of bw


def _s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x & 0x80000000 else x


class Bbr:
    """struct bbr: BBR's private state. Bit-field widths are honoured where they can overflow."""

    __slots__ = (
        "min_rtt_us", "min_rtt_stamp", "probe_rtt_done_stamp", "bw", "rtt_cnt", "next_rtt_delivered",
        "cycle_mstamp", "mode", "prev_ca_state", "packet_conservation", "round_start", "idle_restart",
        "probe_rtt_round_done", "lt_is_sampling", "lt_rtt_cnt", "lt_use_bw", "lt_bw", "lt_last_delivered",
        "lt_last_stamp", "lt_last_lost", "pacing_gain", "cwnd_gain", "full_bw_reached", "full_bw_cnt",
        "cycle_idx", "has_seen_rtt", "prior_cwnd", "full_bw", "ack_epoch_mstamp", "extra_acked",
        "ack_epoch_acked", "extra_acked_win_rtts", "extra_acked_win_idx", "rng",
    )  # fmt: skip

    def __init__(self) -> None:
        for f in self.__slots__:
            setattr(self, f, 0)
        self.bw = Minmax()
        self.extra_acked = [0, 0]
        self.rng: random.Random | None = None

    def __repr__(self) -> str:
        return (
            f"Bbr(mode={BbrMode(self.mode).name}, bw={self.bw.get()}, min_rtt_us={self.min_rtt_us}, "
            f"pacing_gain={self.pacing_gain}, cwnd_gain={self.cwnd_gain}, cycle_idx={self.cycle_idx}, "
            f"full_bw_reached={self.full_bw_reached}, rtt_cnt={self.rtt_cnt})"
        )


def bbr_full_bw_reached(tp: Any) -> bool:
    """Do we estimate that STARTUP filled the pipe?"""
    return bool(tp.ca_priv.full_bw_reached)


def bbr_max_bw(tp: Any) -> int:
    """Windowed max recent bandwidth sample, pkts/us << BW_SCALE."""
    bbr: Bbr = tp.ca_priv
    return bbr.bw.s[0][1]


def bbr_bw(tp: Any) -> int:
    """Estimated bandwidth of the path, pkts/us << BW_SCALE (lt_bw when policed)."""
    bbr: Bbr = tp.ca_priv
    return bbr.lt_bw if bbr.lt_use_bw else bbr_max_bw(tp)


def bbr_extra_acked(tp: Any) -> int:
    """Maximum extra ACKed in the past k..2k rounds, k = bbr_extra_acked_win_rtts."""
    bbr: Bbr = tp.ca_priv
    return max(bbr.extra_acked[0], bbr.extra_acked[1])


def bbr_rate_bytes_per_sec(tp: Any, rate: int, gain: int) -> int:
    """Rate in bytes/s with a gain and the pacing margin; the order avoids u64 overflow."""
    rate = (rate * tp.mss_cache) & U64
    rate = (rate * gain) & U64
    rate >>= BBR_SCALE
    rate = (rate * (USEC_PER_SEC // 100 * (100 - bbr_pacing_margin_percent))) & U64
    return rate >> BW_SCALE


def bbr_bw_to_pacing_rate(tp: Any, bw: int, gain: int) -> int:
    """A BBR bw and gain as a pacing rate in bytes/s, capped by SO_MAX_PACING_RATE."""
    return min(bbr_rate_bytes_per_sec(tp, bw, gain), tp.sk_max_pacing_rate)


def bbr_init_pacing_rate_from_rtt(tp: Any) -> None:
    """Initial pacing rate: high_gain * cwnd / RTT (srtt, or 1 ms before any RTT sample)."""
    bbr: Bbr = tp.ca_priv
    if tp.srtt_us:  # any RTT sample yet?
        rtt_us = max(tp.srtt_us >> 3, 1)
        bbr.has_seen_rtt = 1
    else:  # no RTT sample yet: nominal default RTT
        rtt_us = USEC_PER_MSEC
    bw = (tp.snd_cwnd * BW_UNIT) // rtt_us
    tp.sk_pacing_rate = bbr_bw_to_pacing_rate(tp, bw, bbr_high_gain)


def bbr_set_pacing_rate(tp: Any, bw: int, gain: int) -> None:
    """Pace at bw * gain; before the pipe is full, never lower the rate."""
    bbr: Bbr = tp.ca_priv
    rate = bbr_bw_to_pacing_rate(tp, bw, gain)
    if not bbr.has_seen_rtt and tp.srtt_us:
        bbr_init_pacing_rate_from_rtt(tp)
    if bbr.full_bw_reached or rate > tp.sk_pacing_rate:
        tp.sk_pacing_rate = rate


def bbr_min_tso_segs(tp: Any) -> int:
    """Override of sysctl tcp_min_tso_segs: 1 below bbr_min_tso_rate, else 2."""
    return 1 if tp.sk_pacing_rate < (bbr_min_tso_rate >> 3) else 2


def bbr_tso_segs_goal(tp: Any) -> int:
    """tcp_tso_autosize() ignoring the device's GSO limit (see module docstring)."""
    nbytes = min(tp.sk_pacing_rate >> tp.sk_pacing_shift, GSO_LEGACY_MAX_SIZE - 1 - MAX_TCP_HEADER)
    segs = max(nbytes // tp.mss_cache, bbr_min_tso_segs(tp))
    return min(segs, 0x7F)


def bbr_save_cwnd(tp: Any) -> None:
    """Save the "last known good" cwnd to restore after losses or PROBE_RTT."""
    bbr: Bbr = tp.ca_priv
    if bbr.prev_ca_state < TCP_CA_Recovery and bbr.mode != BBR_PROBE_RTT:
        bbr.prior_cwnd = tp.snd_cwnd  # this cwnd is good enough
    else:  # loss recovery or PROBE_RTT have temporarily cut cwnd
        bbr.prior_cwnd = max(bbr.prior_cwnd, tp.snd_cwnd)


def bbr_cwnd_event(tp: Any, event: int) -> None:
    bbr: Bbr = tp.ca_priv
    if event == CA_EVENT_TX_START and tp.app_limited:
        bbr.idle_restart = 1
        bbr.ack_epoch_mstamp = tp.tcp_mstamp
        bbr.ack_epoch_acked = 0
        # Restarting from idle and app-limited: pace at the estimated bw, no need for more speed.
        if bbr.mode == BBR_PROBE_BW:
            bbr_set_pacing_rate(tp, bbr_bw(tp), BBR_UNIT)
        elif bbr.mode == BBR_PROBE_RTT:
            bbr_check_probe_rtt_done(tp)


def bbr_bdp(tp: Any, bw: int, gain: int) -> int:
    """ceil(bw * min_rtt * gain) in packets; TCP_INIT_CWND before any valid RTT sample."""
    bbr: Bbr = tp.ca_priv
    if bbr.min_rtt_us == U32:  # no valid RTT samples yet
        return TCP_INIT_CWND
    w = (bw * bbr.min_rtt_us) & U64
    # Apply the gain, remove the BW_SCALE shift and round up to avoid a negative feedback loop.
    return (((((w * gain) & U64) >> BBR_SCALE) + BW_UNIT - 1) // BW_UNIT) & U32


def bbr_quantization_budget(tp: Any, cwnd: int) -> int:
    """Budget for full-sized skbs in the sender's qdisc, TSO engine and the receiver's GRO."""
    bbr: Bbr = tp.ca_priv
    cwnd += 3 * bbr_tso_segs_goal(tp)  # allow enough full-sized skbs in flight
    cwnd = (cwnd + 1) & ~1  # reduce delayed ACKs by rounding up to an even number
    # Ensure gain cycling gets inflight above BDP even for small BDPs.
    if bbr.mode == BBR_PROBE_BW and bbr.cycle_idx == 0:
        cwnd += 2
    return cwnd & U32


def bbr_inflight(tp: Any, bw: int, gain: int) -> int:
    """Target inflight from min RTT and the bottleneck bandwidth."""
    return bbr_quantization_budget(tp, bbr_bdp(tp, bw, gain))


def bbr_packets_in_net_at_edt(tp: Any, inflight_now: int) -> int:
    """Packets likely in the network when the next skb departs at its earliest departure time."""
    bbr: Bbr = tp.ca_priv
    now_ns = tp.tcp_clock_cache
    edt_ns = max(tp.tcp_wstamp_ns, now_ns)
    interval_us = (edt_ns - now_ns) // NSEC_PER_USEC
    interval_delivered = ((bbr_bw(tp) * interval_us) >> BW_SCALE) & U32
    inflight_at_edt = inflight_now
    if bbr.pacing_gain > BBR_UNIT:  # increasing inflight
        inflight_at_edt += bbr_tso_segs_goal(tp)  # include the EDT skb
    if interval_delivered >= inflight_at_edt:
        return 0
    return inflight_at_edt - interval_delivered


def bbr_ack_aggregation_cwnd(tp: Any) -> int:
    """cwnd increment for the estimated ACK aggregation."""
    aggr_cwnd = 0
    if bbr_extra_acked_gain and bbr_full_bw_reached(tp):
        max_aggr_cwnd = (bbr_bw(tp) * bbr_extra_acked_max_us) // BW_UNIT
        aggr_cwnd = (bbr_extra_acked_gain * bbr_extra_acked(tp)) >> BBR_SCALE
        aggr_cwnd = min(aggr_cwnd, max_aggr_cwnd)
    return aggr_cwnd


def bbr_set_cwnd_to_recover_or_restore(tp: Any, rs: RateSample, acked: int) -> tuple[bool, int]:
    """Packet conservation in the first round of Recovery; restore cwnd when recovery ends.

    Returns (using packet conservation?, new cwnd).
    """
    bbr: Bbr = tp.ca_priv
    prev_state = bbr.prev_ca_state
    state = tp.icsk_ca_state
    cwnd = tp.snd_cwnd
    # An ACK for P packets should release at most 2*P packets: deduct the lost packets here, then
    # bbr_set_cwnd() slow-starts toward the target.
    if rs.losses > 0:
        cwnd = max(cwnd - rs.losses, 1)
    if state == TCP_CA_Recovery and prev_state != TCP_CA_Recovery:
        # Starting the first round of Recovery: packet conservation.
        bbr.packet_conservation = 1
        bbr.next_rtt_delivered = tp.delivered  # start a round now
        # Cut unused cwnd from app behavior, TSQ or TSO deferral.
        cwnd = tcp_packets_in_flight(tp) + acked
    elif prev_state >= TCP_CA_Recovery and state < TCP_CA_Recovery:
        # Exiting loss recovery: restore the cwnd saved before recovery.
        cwnd = max(cwnd, bbr.prior_cwnd)
        bbr.packet_conservation = 0
    bbr.prev_ca_state = state
    if bbr.packet_conservation:
        return True, max(cwnd, tcp_packets_in_flight(tp) + acked)
    return False, cwnd


def bbr_set_cwnd(tp: Any, rs: RateSample, acked: int, bw: int, gain: int) -> None:
    """Slow-start toward the target cwnd, or snap down to it once the pipe has been filled."""
    bbr: Bbr = tp.ca_priv
    cwnd = tp.snd_cwnd
    if acked:  # else no packet fully ACKed: just apply the caps
        conserving, cwnd = bbr_set_cwnd_to_recover_or_restore(tp, rs, acked)
        if not conserving:
            target_cwnd = bbr_bdp(tp, bw, gain)
            # Excess ACKed data that seems due to aggregation of data and/or ACKs.
            target_cwnd += bbr_ack_aggregation_cwnd(tp)
            target_cwnd = bbr_quantization_budget(tp, target_cwnd)
            if bbr.full_bw_reached:  # only cut cwnd if we filled the pipe
                cwnd = min(cwnd + acked, target_cwnd)
            elif cwnd < target_cwnd or tp.delivered < TCP_INIT_CWND:
                cwnd = cwnd + acked
            cwnd = max(cwnd, bbr_cwnd_min_target)
    tp.snd_cwnd = min(cwnd, tp.snd_cwnd_clamp)  # apply the global cap
    if bbr.mode == BBR_PROBE_RTT:  # drain the queue, refresh min_rtt
        tp.snd_cwnd = min(tp.snd_cwnd, bbr_cwnd_min_target)


def bbr_is_next_cycle_phase(tp: Any, rs: RateSample) -> bool:
    """End the gain cycle phase when it has lasted min_rtt and/or reached its inflight target."""
    bbr: Bbr = tp.ca_priv
    is_full_length = tcp_stamp_us_delta(tp.delivered_mstamp, bbr.cycle_mstamp) > bbr.min_rtt_us
    # A gain of 1.0 paces at the estimated bw: just use wall clock time.
    if bbr.pacing_gain == BBR_UNIT:
        return is_full_length
    inflight = bbr_packets_in_net_at_edt(tp, rs.prior_in_flight)
    bw = bbr_max_bw(tp)
    # A gain > 1.0 probes by raising inflight to at least gain * BDP, which may take more than
    # min_rtt on a LAN; stop early on loss, as a shallow buffer may not hold that much.
    if bbr.pacing_gain > BBR_UNIT:
        return is_full_length and (bool(rs.losses) or inflight >= bbr_inflight(tp, bw, bbr.pacing_gain))
    # A gain < 1.0 drains the queue we added; once inflight is down to BDP it is drained.
    return is_full_length or inflight <= bbr_inflight(tp, bw, BBR_UNIT)


def bbr_advance_cycle_phase(tp: Any) -> None:
    bbr: Bbr = tp.ca_priv
    bbr.cycle_idx = (bbr.cycle_idx + 1) & (CYCLE_LEN - 1)
    bbr.cycle_mstamp = tp.delivered_mstamp


def bbr_update_cycle_phase(tp: Any, rs: RateSample) -> None:
    """Gain cycling: cycle the pacing gain to converge to a fair share of the bandwidth."""
    bbr: Bbr = tp.ca_priv
    if bbr.mode == BBR_PROBE_BW and bbr_is_next_cycle_phase(tp, rs):
        bbr_advance_cycle_phase(tp)


def bbr_reset_startup_mode(tp: Any) -> None:
    tp.ca_priv.mode = BBR_STARTUP


def bbr_reset_probe_bw_mode(tp: Any) -> None:
    """Enter PROBE_BW at a random phase; never the 3/4 phase first (idx 7 - rand(7), then +1)."""
    bbr: Bbr = tp.ca_priv
    bbr.mode = BBR_PROBE_BW
    if bbr.rng is None:
        bbr.rng = tp.ca_rng if tp.ca_rng is not None else random.Random(0)
    bbr.cycle_idx = CYCLE_LEN - 1 - bbr.rng.randrange(bbr_cycle_rand)  # get_random_u32_below()
    bbr_advance_cycle_phase(tp)  # flip to the next phase of the gain cycle


def bbr_reset_mode(tp: Any) -> None:
    if not bbr_full_bw_reached(tp):
        bbr_reset_startup_mode(tp)
    else:
        bbr_reset_probe_bw_mode(tp)


def bbr_reset_lt_bw_sampling_interval(tp: Any) -> None:
    """Start a new long-term sampling interval."""
    bbr: Bbr = tp.ca_priv
    bbr.lt_last_stamp = (tp.delivered_mstamp // USEC_PER_MSEC) & U32
    bbr.lt_last_delivered = tp.delivered
    bbr.lt_last_lost = tp.lost
    bbr.lt_rtt_cnt = 0


def bbr_reset_lt_bw_sampling(tp: Any) -> None:
    """Completely reset long-term bandwidth sampling."""
    bbr: Bbr = tp.ca_priv
    bbr.lt_bw = 0
    bbr.lt_use_bw = 0
    bbr.lt_is_sampling = 0
    bbr_reset_lt_bw_sampling_interval(tp)


def bbr_lt_bw_interval_done(tp: Any, bw: int) -> None:
    """A long-term sampling interval is done: are we policed?"""
    bbr: Bbr = tp.ca_priv
    if bbr.lt_bw:  # do we have bw from a previous interval?
        # Is the new bw close to the lt_bw of the previous interval? (abs() of the s32 difference)
        diff = abs(_s32(bw - bbr.lt_bw))
        if (diff * BBR_UNIT <= bbr_lt_bw_ratio * bbr.lt_bw) or (
            bbr_rate_bytes_per_sec(tp, diff, BBR_UNIT) <= bbr_lt_bw_diff
        ):
            # All criteria are met: estimate we're policed.
            bbr.lt_bw = (bw + bbr.lt_bw) >> 1  # average of the 2 intervals
            bbr.lt_use_bw = 1
            bbr.pacing_gain = BBR_UNIT  # try to avoid drops
            bbr.lt_rtt_cnt = 0
            return
    bbr.lt_bw = bw
    bbr_reset_lt_bw_sampling_interval(tp)


def bbr_lt_bw_sampling(tp: Any, rs: RateSample) -> None:
    """Detect token-bucket policers: 2 consecutive lossy intervals with consistent throughput."""
    bbr: Bbr = tp.ca_priv
    if bbr.lt_use_bw:  # already using the long-term rate
        if bbr.mode == BBR_PROBE_BW and bbr.round_start:
            bbr.lt_rtt_cnt = (bbr.lt_rtt_cnt + 1) & 0x7F
            if bbr.lt_rtt_cnt >= bbr_lt_bw_max_rtts:
                bbr_reset_lt_bw_sampling(tp)  # stop using lt_bw
                bbr_reset_probe_bw_mode(tp)  # restart gain cycling
        return

    # Wait for the first loss before sampling, to let the policer exhaust its tokens; starting
    # earlier includes bursts that over-estimate the bw.
    if not bbr.lt_is_sampling:
        if not rs.losses:
            return
        bbr_reset_lt_bw_sampling_interval(tp)
        bbr.lt_is_sampling = 1

    # To avoid underestimates, reset sampling if we run out of data.
    if rs.is_app_limited:
        bbr_reset_lt_bw_sampling(tp)
        return

    if bbr.round_start:
        bbr.lt_rtt_cnt = (bbr.lt_rtt_cnt + 1) & 0x7F  # count round trips in this interval
    if bbr.lt_rtt_cnt < bbr_lt_intvl_min_rtts:
        return  # the sampling interval needs to be longer
    if bbr.lt_rtt_cnt > 4 * bbr_lt_intvl_min_rtts:
        bbr_reset_lt_bw_sampling(tp)  # the interval is too long
        return

    # End the interval on a loss, when the policer's tokens are likely exhausted.
    if not rs.losses:
        return

    # Packets lost and delivered in the interval; is lost/delivered >= lt_loss_thresh?
    lost = (tp.lost - bbr.lt_last_lost) & U32
    delivered = (tp.delivered - bbr.lt_last_delivered) & U32
    if not delivered or (lost << BBR_SCALE) < bbr_lt_loss_thresh * delivered:
        return

    # Average delivery rate in the interval.
    t = ((tp.delivered_mstamp // USEC_PER_MSEC) - bbr.lt_last_stamp) & U32
    if _s32(t) < 1:
        return  # less than one ms: wait
    if t >= U32 // USEC_PER_MSEC:  # would overflow when multiplied
        bbr_reset_lt_bw_sampling(tp)
        return
    t *= USEC_PER_MSEC
    bw = (delivered * BW_UNIT) // t
    bbr_lt_bw_interval_done(tp, bw & U32)


def bbr_update_bw(tp: Any, rs: RateSample) -> None:
    """Take a bandwidth sample from the rate sample; count packet-timed rounds."""
    bbr: Bbr = tp.ca_priv
    bbr.round_start = 0
    if rs.delivered < 0 or rs.interval_us <= 0:
        return  # not a valid observation

    # Have we reached the next round trip?
    if not seq_before(rs.prior_delivered, bbr.next_rtt_delivered):
        bbr.next_rtt_delivered = tp.delivered
        bbr.rtt_cnt = (bbr.rtt_cnt + 1) & U32
        bbr.round_start = 1
        bbr.packet_conservation = 0

    bbr_lt_bw_sampling(tp, rs)

    # delivered / interval, scaled first as the ratio is << 1 packet/us for most connections.
    bw = (rs.delivered * BW_UNIT) // rs.interval_us

    # App-limited samples represent the application rather than the network: only take them if they
    # describe the path at least as well as the current model.
    if not rs.is_app_limited or bw >= bbr_max_bw(tp):
        minmax_running_max(bbr.bw, bbr_bw_rtts, bbr.rtt_cnt, bw & U32)


def bbr_update_ack_aggregation(tp: Any, rs: RateSample) -> None:
    """Windowed max of extra data ACKed beyond max_bw * interval (ACK aggregation)."""
    bbr: Bbr = tp.ca_priv
    if not bbr_extra_acked_gain or rs.acked_sacked <= 0 or rs.delivered < 0 or rs.interval_us <= 0:
        return

    if bbr.round_start:
        bbr.extra_acked_win_rtts = min(0x1F, bbr.extra_acked_win_rtts + 1)
        if bbr.extra_acked_win_rtts >= bbr_extra_acked_win_rtts:
            bbr.extra_acked_win_rtts = 0
            bbr.extra_acked_win_idx = 0 if bbr.extra_acked_win_idx else 1
            bbr.extra_acked[bbr.extra_acked_win_idx] = 0

    # Packets expected to be delivered over the epoch.
    epoch_us = tcp_stamp_us_delta(tp.delivered_mstamp, bbr.ack_epoch_mstamp) & U32
    expected_acked = ((bbr_bw(tp) * epoch_us) // BW_UNIT) & U32

    # Reset the epoch if the ACK rate is below the expected rate, or after very many ACKs.
    if bbr.ack_epoch_acked <= expected_acked or (
        bbr.ack_epoch_acked + rs.acked_sacked >= bbr_ack_epoch_acked_reset_thresh
    ):
        bbr.ack_epoch_acked = 0
        bbr.ack_epoch_mstamp = tp.delivered_mstamp
        expected_acked = 0

    # Excess data delivered, beyond what was expected.
    bbr.ack_epoch_acked = min(0xFFFFF, bbr.ack_epoch_acked + rs.acked_sacked)
    extra_acked = (bbr.ack_epoch_acked - expected_acked) & U32
    extra_acked = min(extra_acked, tp.snd_cwnd)
    if extra_acked > bbr.extra_acked[bbr.extra_acked_win_idx]:
        bbr.extra_acked[bbr.extra_acked_win_idx] = extra_acked & 0xFFFF


def bbr_check_full_bw_reached(tp: Any, rs: RateSample) -> None:
    """STARTUP filled the pipe if bw grew less than 25% in 3 non-app-limited rounds."""
    bbr: Bbr = tp.ca_priv
    if bbr.full_bw_reached or not bbr.round_start or rs.is_app_limited:
        return
    bw_thresh = (bbr.full_bw * bbr_full_bw_thresh) >> BBR_SCALE
    if bbr_max_bw(tp) >= bw_thresh:
        bbr.full_bw = bbr_max_bw(tp)
        bbr.full_bw_cnt = 0
        return
    bbr.full_bw_cnt += 1
    bbr.full_bw_reached = 1 if bbr.full_bw_cnt >= bbr_full_bw_cnt else 0


def bbr_check_drain(tp: Any, rs: RateSample) -> None:
    """If the pipe is probably full, drain the queue and then enter steady state."""
    bbr: Bbr = tp.ca_priv
    if bbr.mode == BBR_STARTUP and bbr.full_bw_reached:
        bbr.mode = BBR_DRAIN  # drain the queue we created
        tp.snd_ssthresh = bbr_inflight(tp, bbr_max_bw(tp), BBR_UNIT)
    # Fall through to check whether inflight is already small.
    if bbr.mode == BBR_DRAIN and bbr_packets_in_net_at_edt(tp, tcp_packets_in_flight(tp)) <= bbr_inflight(
        tp, bbr_max_bw(tp), BBR_UNIT
    ):
        bbr_reset_probe_bw_mode(tp)  # we estimate the queue is drained


def bbr_check_probe_rtt_done(tp: Any) -> None:
    bbr: Bbr = tp.ca_priv
    now = tcp_jiffies32(tp)
    if not (bbr.probe_rtt_done_stamp and seq_after(now, bbr.probe_rtt_done_stamp)):
        return
    bbr.min_rtt_stamp = now  # wait a while until PROBE_RTT
    tp.snd_cwnd = max(tp.snd_cwnd, bbr.prior_cwnd)
    bbr_reset_mode(tp)


def bbr_update_min_rtt(tp: Any, rs: RateSample) -> None:
    """Track the 10 s min RTT; enter PROBE_RTT when it expires, leave after 200 ms and a round."""
    bbr: Bbr = tp.ca_priv
    now = tcp_jiffies32(tp)
    filter_expired = seq_after(now, (bbr.min_rtt_stamp + bbr_min_rtt_win_sec * HZ) & U32)
    if rs.rtt_us >= 0 and (rs.rtt_us < bbr.min_rtt_us or (filter_expired and not rs.is_ack_delayed)):
        bbr.min_rtt_us = rs.rtt_us & U32
        bbr.min_rtt_stamp = now

    if bbr_probe_rtt_mode_ms > 0 and filter_expired and not bbr.idle_restart and bbr.mode != BBR_PROBE_RTT:
        bbr.mode = BBR_PROBE_RTT  # dip, drain queue
        bbr_save_cwnd(tp)  # note cwnd so we can restore it
        bbr.probe_rtt_done_stamp = 0

    if bbr.mode == BBR_PROBE_RTT:
        # Ignore low rate samples during this mode.
        tp.app_limited = ((tp.delivered + tcp_packets_in_flight(tp)) & U32) or 1
        # Maintain min packets in flight for max(200 ms, 1 round).
        if not bbr.probe_rtt_done_stamp and tcp_packets_in_flight(tp) <= bbr_cwnd_min_target:
            bbr.probe_rtt_done_stamp = (now + msecs_to_jiffies(bbr_probe_rtt_mode_ms)) & U32
            bbr.probe_rtt_round_done = 0
            bbr.next_rtt_delivered = tp.delivered
        elif bbr.probe_rtt_done_stamp:
            if bbr.round_start:
                bbr.probe_rtt_round_done = 1
            if bbr.probe_rtt_round_done:
                bbr_check_probe_rtt_done(tp)
    # Restart after idle ends only once we process a new S/ACK for data.
    if rs.delivered > 0:
        bbr.idle_restart = 0


def bbr_update_gains(tp: Any) -> None:
    bbr: Bbr = tp.ca_priv
    mode = bbr.mode
    if mode == BBR_STARTUP:
        bbr.pacing_gain = bbr_high_gain
        bbr.cwnd_gain = bbr_high_gain
    elif mode == BBR_DRAIN:
        bbr.pacing_gain = bbr_drain_gain  # slow, to drain
        bbr.cwnd_gain = bbr_high_gain  # keep cwnd
    elif mode == BBR_PROBE_BW:
        bbr.pacing_gain = BBR_UNIT if bbr.lt_use_bw else bbr_pacing_gain[bbr.cycle_idx]
        bbr.cwnd_gain = bbr_cwnd_gain
    else:  # BBR_PROBE_RTT
        bbr.pacing_gain = BBR_UNIT
        bbr.cwnd_gain = BBR_UNIT


def bbr_update_model(tp: Any, rs: RateSample) -> None:
    bbr_update_bw(tp, rs)
    bbr_update_ack_aggregation(tp, rs)
    bbr_update_cycle_phase(tp, rs)
    bbr_check_full_bw_reached(tp, rs)
    bbr_check_drain(tp, rs)
    bbr_update_min_rtt(tp, rs)
    bbr_update_gains(tp)


def bbr_main(tp: Any, ack: int, flag: int, rs: RateSample) -> None:
    """The ``cong_control`` callback: update the model, then set pacing rate and cwnd."""
    bbr: Bbr = tp.ca_priv
    bbr_update_model(tp, rs)
    bw = bbr_bw(tp)
    bbr_set_pacing_rate(tp, bw, bbr.pacing_gain)
    bbr_set_cwnd(tp, rs, rs.acked_sacked, bw, bbr.cwnd_gain)


def bbr_init(tp: Any) -> None:
    bbr: Bbr = tp.ca_priv
    bbr.rng = tp.ca_rng if tp.ca_rng is not None else random.Random(0)
    bbr.prior_cwnd = 0
    tp.snd_ssthresh = TCP_INFINITE_SSTHRESH
    bbr.rtt_cnt = 0
    bbr.next_rtt_delivered = tp.delivered
    bbr.prev_ca_state = TCP_CA_Open
    bbr.packet_conservation = 0

    bbr.probe_rtt_done_stamp = 0
    bbr.probe_rtt_round_done = 0
    bbr.min_rtt_us = tcp_min_rtt(tp)
    bbr.min_rtt_stamp = tcp_jiffies32(tp)

    minmax_reset(bbr.bw, bbr.rtt_cnt, 0)  # init max bw to 0

    bbr.has_seen_rtt = 0
    bbr_init_pacing_rate_from_rtt(tp)

    bbr.round_start = 0
    bbr.idle_restart = 0
    bbr.full_bw_reached = 0
    bbr.full_bw = 0
    bbr.full_bw_cnt = 0
    bbr.cycle_mstamp = 0
    bbr.cycle_idx = 0
    bbr_reset_lt_bw_sampling(tp)
    bbr_reset_startup_mode(tp)

    bbr.ack_epoch_mstamp = tp.tcp_mstamp
    bbr.ack_epoch_acked = 0
    bbr.extra_acked_win_rtts = 0
    bbr.extra_acked_win_idx = 0
    bbr.extra_acked = [0, 0]

    if tp.sk_pacing_status == SK_PACING_NONE:  # cmpxchg(NONE -> NEEDED)
        tp.sk_pacing_status = SK_PACING_NEEDED


def bbr_sndbuf_expand(tp: Any) -> int:
    """Provision 3 * cwnd of send buffer since BBR may slow-start even during recovery."""
    return 3


def bbr_undo_cwnd(tp: Any) -> int:
    """Spurious slow-down: reset full-pipe detection; BBR does not cut cwnd on loss, so keep it."""
    bbr: Bbr = tp.ca_priv
    bbr.full_bw = 0
    bbr.full_bw_cnt = 0
    bbr_reset_lt_bw_sampling(tp)
    return tp.snd_cwnd


def bbr_ssthresh(tp: Any) -> int:
    """Entering loss recovery: save cwnd for when we exit or undo recovery; ssthresh unchanged."""
    bbr_save_cwnd(tp)
    return tp.snd_ssthresh


def bbr_get_info(tp: Any) -> dict[str, int]:
    """struct tcp_bbr_info (INET_DIAG_BBRINFO), as ``ss -i`` shows it: bw in bytes/s."""
    bbr: Bbr = tp.ca_priv
    bw = (bbr_bw(tp) * tp.mss_cache * USEC_PER_SEC) >> BW_SCALE
    return {
        "bbr_bw_lo": bw & U32,
        "bbr_bw_hi": bw >> 32,
        "bbr_min_rtt": bbr.min_rtt_us,
        "bbr_pacing_gain": bbr.pacing_gain,
        "bbr_cwnd_gain": bbr.cwnd_gain,
    }


def bbr_set_state(tp: Any, new_state: int) -> None:
    """An RTO (Loss state) ends the round and counts as a loss for long-term sampling."""
    bbr: Bbr = tp.ca_priv
    if new_state == TCP_CA_Loss:
        rs = RateSample(losses=1)
        bbr.prev_ca_state = TCP_CA_Loss
        bbr.full_bw = 0
        bbr.round_start = 1  # treat RTO like the end of a round
        bbr_lt_bw_sampling(tp, rs)


tcp_bbr_cong_ops = TcpCongestionOps(
    "bbr",
    flags=TCP_CONG_NON_RESTRICTED,
    priv_factory=Bbr,
    init=bbr_init,
    cong_control=bbr_main,
    sndbuf_expand=bbr_sndbuf_expand,
    undo_cwnd=bbr_undo_cwnd,
    cwnd_event=bbr_cwnd_event,
    ssthresh=bbr_ssthresh,
    min_tso_segs=bbr_min_tso_segs,
    get_info=bbr_get_info,
    set_state=bbr_set_state,
)
