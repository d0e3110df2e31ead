"""Processing incoming ACKs: tcp_ack and its helpers (the ACK half of net/ipv4/tcp_input.c).

Guarantees, as Linux 6.x:
- ``tcp_ack``: an ACK older than snd_una by more than max_window gets a challenge ACK (RFC 5961
  5.2) and is dropped, an ACK above snd_nxt is dropped (RFC 9293 3.10.7.4), an old ACK still feeds
  its SACK blocks; the send window is updated under RFC 9293's WL1/WL2 rule
  (``tcp_may_update_window``), snd_una advances (bytes_acked), the retransmit queue is cleaned,
  RTT is sampled (Karn: never from retransmitted data; timestamps only when the ACK advances
  snd_una), SACK/recovery runs when the ACK is dubious, then delivery-rate sampling and congestion
  control (``cong_control`` or PRR/``cong_avoid``) and the recovery retransmissions.
- RTT estimation is tcp_rtt_estimator (Jacobson/Karels with Linux's mdev_max: srtt_us is 8x,
  mdev_us 4x, rttvar never below tcp_rto_min), RTO = srtt + rttvar (so at least srtt + 200 ms),
  bounded by tcp_rto_max (120 s); a valid sample resets icsk_backoff (RFC 6298 5.7).
- Counters: TCPHPAcks, TCPPureAcks, TCPDelivered(CE), TCPChallengeACK, TCPACKSkippedChallenge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.ipv4.tcp import cong, tcp_chrono, tcp_ctl, tcp_output, tcp_sacktag
from tuxnet.ipv4.tcp.rate import RateSample, tcp_rate_gen, tcp_rate_skb_delivered
from tuxnet.ipv4.tcp.tcp_flags import (
    ACK_TOO_OLD,
    ACK_UNSENT_DATA,
    FLAG_ACK_MAYBE_DELAYED,
    FLAG_ACKED,
    FLAG_CA_ALERT,
    FLAG_DATA,
    FLAG_DATA_ACKED,
    FLAG_DSACKING_ACK,
    FLAG_ECE,
    FLAG_FORWARD_PROGRESS,
    FLAG_NO_CHALLENGE_ACK,
    FLAG_NOT_DUP,
    FLAG_ORIG_SACK_ACKED,
    FLAG_RETRANS_DATA_ACKED,
    FLAG_SACK_RENEGING,
    FLAG_SET_XMIT_TIMER,
    FLAG_SLOWPATH,
    FLAG_SND_UNA_ADVANCED,
    FLAG_SYN_ACKED,
    FLAG_UPDATE_TS_RECENT,
    FLAG_WIN_UPDATE,
    REXMIT_NONE,
    USEC_PER_SEC,
    SackTagState,
    usecs_to_jiffies,
)
from tuxnet.ipv4.tcp.tcp_sock import (
    ICSK_TIME_LOSS_PROBE,
    ICSK_TIME_PROBE0,
    ICSK_TIME_REO_TIMEOUT,
    ICSK_TIME_RETRANS,
    INITIAL_JIFFIES,
    MAX_TCP_HEADER,
    TCP_RTO_MAX,
    TCPCB_LOST,
    TCPCB_RETRANS,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
    TCPHDR_SYN,
    U32,
    tcp_clock_ns,
)
from tuxnet.sock.msg_zerocopy import skb_zcopy_clear
from tuxnet.sock.timestamping import tcp_ack_tstamp
from tuxnet.wire.seqnum import seq_after, seq_before, seq_between

if TYPE_CHECKING:
    from tuxnet.ipv4.tcp.tcp_sock import TcpCb, TcpSock

# ---------------------------------------------------------------------------------------- RTT / RTO
def __tcp_set_rto(tp: TcpSock) -> int:
    """RTO = srtt + rttvar, in jiffies (RFC 6298 2.3 with Linux's rttvar >= rto_min)."""
    return usecs_to_jiffies((tp.srtt_us >> 3) + tp.rttvar_us)


def tcp_set_rto(tp: TcpSock) -> None:
    tp.icsk_rto = min(__tcp_set_rto(tp), tp.tcp_rto_max())


def tcp_rtt_estimator(tp: TcpSock, mrtt_us: int) -> None:
    """Van Jacobson's SIGCOMM '88 estimator as Linux refines it (mdev_max, Eifel-like damping)."""
    m = mrtt_us
    srtt = tp.srtt_us
    if srtt != 0:
        m -= srtt >> 3
        srtt += m
        if m < 0:
            m = -m
            m -= tp.mdev_us >> 2
            if m > 0:
                m >>= 3
        else:
            m -= tp.mdev_us >> 2
        tp.mdev_us += m
        if tp.mdev_us > tp.mdev_max_us:
            tp.mdev_max_us = tp.mdev_us
            if tp.mdev_max_us > tp.rttvar_us:
                tp.rttvar_us = tp.mdev_max_us
        if seq_after(tp.snd_una, tp.rtt_seq):
            if tp.mdev_max_us < tp.rttvar_us:
                tp.rttvar_us -= (tp.rttvar_us - tp.mdev_max_us) >> 2
            tp.rtt_seq = tp.snd_nxt
            tp.mdev_max_us = tp.tcp_rto_min_us()
    else:
        srtt = m << 3
        tp.mdev_us = m << 1
        tp.rttvar_us = max(tp.mdev_us, tp.tcp_rto_min_us())
        tp.mdev_max_us = tp.rttvar_us
        tp.rtt_seq = tp.snd_nxt
    tp.srtt_us = max(1, srtt)


def tcp_update_rtt_min(tp: TcpSock, rtt_us: int, flag: int) -> None:
    wlen = int(tp.ns.sysctl.v["net.ipv4.tcp_min_rtt_wlen"]) * 1000  # type: ignore[call-overload]
    if flag & FLAG_ACK_MAYBE_DELAYED and rtt_us > cong.tcp_min_rtt(tp):
        return  # a suspected delayed ACK would make the filter overestimate the path delay
    tp.rtt_min.running_min(wlen, tp.jiffies(), rtt_us or 1000)


def tcp_ack_update_rtt(tp: TcpSock, flag: int, seq_rtt_us: int, sack_rtt_us: int, ca_rtt_us: int,
                       rs: RateSample) -> bool:
    if seq_rtt_us < 0:
        seq_rtt_us = sack_rtt_us
    rx = tp.rx_opt
    # RFC 7323 RTTM: a TSecr sample only from an ACK that advances the left edge
    if seq_rtt_us < 0 and rx.saw_tstamp and rx.rcv_tsecr and flag & (FLAG_ACKED):
        delta = (tp.tcp_time_stamp_ts() - rx.rcv_tsecr) & U32
        if delta < 0x7FFFFFFF // 1000:
            seq_rtt_us = max(delta, 1) * 1000
            ca_rtt_us = seq_rtt_us
    rs.rtt_us = ca_rtt_us
    if seq_rtt_us < 0:
        return False
    tcp_update_rtt_min(tp, ca_rtt_us, flag)
    tcp_rtt_estimator(tp, seq_rtt_us)
    tcp_set_rto(tp)
    tp.icsk_backoff = 0  # RFC 6298: reset the backoff only on a valid RTT measurement
    return True


def tcp_synack_rtt_meas(tp: TcpSock, req: object | None) -> None:
    """RTT from the (last) SYN-ACK to the ACK that completed the handshake."""
    rs = RateSample()
    rtt_us = -1
    if req is not None and not req.num_retrans and req.snt_synack:  # type: ignore[attr-defined]
        rtt_us = max(tcp_clock_ns(tp.ns) // 1000 - req.snt_synack, 0)  # type: ignore[attr-defined]
    tcp_ack_update_rtt(tp, FLAG_SYN_ACKED, rtt_us, -1, rtt_us, rs)


def tcp_rto_delta_us(tp: TcpSock) -> int:
    skb = tp.tcp_rtx_queue_head()
    rto_us = tp.icsk_rto * 1000
    if skb is not None:
        return skb.skb_mstamp_ns // 1000 + rto_us - tp.tcp_mstamp
    return rto_us


def tcp_rearm_rto(tp: TcpSock) -> None:
    """RFC 6298 5.3: restart the retransmit timer after forward progress (or stop it)."""
    if tp.fastopen_rsk is not None:
        return
    if not tp.packets_out:
        tcp_output.inet_csk_clear_xmit_timer(tp, ICSK_TIME_RETRANS)
        return
    rto = tp.icsk_rto
    if tp.icsk_pending in (ICSK_TIME_REO_TIMEOUT, ICSK_TIME_LOSS_PROBE):
        # offset the time elapsed since the regular RTO would have been armed
        rto = usecs_to_jiffies(max(tcp_rto_delta_us(tp), 1))
    tcp_output.tcp_reset_xmit_timer(tp, ICSK_TIME_RETRANS, rto, TCP_RTO_MAX)


def tcp_set_xmit_timer(tp: TcpSock) -> None:
    from tuxnet.ipv4.tcp import tcp_recovery

    if not tcp_recovery.tcp_schedule_loss_probe(tp, True):
        tcp_rearm_rto(tp)


# ---------------------------------------------------------------------------------------- cwnd
def tcp_update_pacing_rate(tp: TcpSock) -> None:
    """sk_pacing_rate: 200 % of cwnd*mss/srtt in slow start, 120 % in congestion avoidance."""
    v = tp.ns.sysctl.v
    rate = tp.mss_cache * ((USEC_PER_SEC // 100) << 3)
    if tp.snd_cwnd < tp.snd_ssthresh // 2:
        rate *= int(v["net.ipv4.tcp_pacing_ss_ratio"])  # type: ignore[call-overload]
    else:
        rate *= int(v["net.ipv4.tcp_pacing_ca_ratio"])  # type: ignore[call-overload]
    rate *= max(tp.snd_cwnd, tp.packets_out)
    if tp.srtt_us:
        rate //= tp.srtt_us
    tp.sk_pacing_rate = min(rate, tp.sk_max_pacing_rate)


def tcp_in_cwnd_reduction(tp: TcpSock) -> bool:
    return tp.icsk_ca_state in (cong.TCP_CA_CWR, cong.TCP_CA_Recovery)


def tcp_may_raise_cwnd(tp: TcpSock, flag: int) -> bool:
    if tp.reordering > int(tp.ns.sysctl.v["net.ipv4.tcp_reordering"]):  # type: ignore[call-overload]
        return bool(flag & FLAG_FORWARD_PROGRESS)
    return bool(flag & FLAG_DATA_ACKED)


def tcp_cong_control(tp: TcpSock, ack: int, acked_sacked: int, flag: int, rs: RateSample) -> None:
    from tuxnet.ipv4.tcp import tcp_recovery

    ops = tp.icsk_ca_ops
    if ops is not None and ops.cong_control is not None:
        ops.cong_control(tp, ack, flag, rs)
        return
    if tcp_in_cwnd_reduction(tp):
        tcp_recovery.tcp_cwnd_reduction(tp, acked_sacked, rs.losses, flag)
    elif tcp_may_raise_cwnd(tp, flag):
        if ops is not None and ops.cong_avoid is not None:
            ops.cong_avoid(tp, ack, acked_sacked)
        tp.snd_cwnd_stamp = tp.jiffies()
    tcp_update_pacing_rate(tp)


# ---------------------------------------------------------------------------------------- window
def tcp_may_update_window(tp: TcpSock, ack: int, ack_seq: int, nwin: int) -> bool:
    """RFC 9293 3.10.7.4: SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK); Linux also
    takes a larger window from the same segment."""
    return (seq_after(ack, tp.snd_una) or seq_after(ack_seq, tp.snd_wl1)
            or (ack_seq == tp.snd_wl1 and nwin > tp.snd_wnd))


def tcp_snd_una_update(tp: TcpSock, ack: int) -> None:
    tp.bytes_acked += (ack - tp.snd_una) & U32
    tp.snd_una = ack


def tcp_ack_update_window(tp: TcpSock, cb: TcpCb, ack: int, ack_seq: int) -> int:
    flag = 0
    nwin = cb.window
    if not cb.tcp_flags & TCPHDR_SYN:
        nwin <<= tp.rx_opt.snd_wscale
    if tcp_may_update_window(tp, ack, ack_seq, nwin):
        flag |= FLAG_WIN_UPDATE
        tp.snd_wl1 = ack_seq
        if tp.snd_wnd != nwin:
            tp.snd_wnd = nwin
            if tp.sk_write_queue:
                tcp_slow_start_after_idle_check(tp)
            if nwin > tp.max_window:
                tp.max_window = nwin
                tcp_output.tcp_sync_mss(tp, tp.icsk_pmtu_cookie)
    tcp_snd_una_update(tp, ack)
    return flag


def tcp_slow_start_after_idle_check(tp: TcpSock) -> None:
    ops = tp.icsk_ca_ops
    if (not tp.ns.sysctl.v["net.ipv4.tcp_slow_start_after_idle"] or tp.packets_out
            or (ops is not None and ops.cong_control is not None)):
        return
    delta = (tp.jiffies() - tp.lsndtime) & U32
    if delta & 0x80000000 == 0 and delta > tp.icsk_rto:
        tcp_output.tcp_cwnd_restart(tp, delta)


# ---------------------------------------------------------------------------------------- challenge ACK
def __tcp_oow_rate_limited(tp: TcpSock, counter: str, holder: object, attr: str) -> bool:
    ns = tp.ns
    last = getattr(holder, attr)
    now = tp.jiffies()
    if last:
        elapsed = (now - last) & U32
        if elapsed < 0x80000000 and elapsed < int(ns.sysctl.v["net.ipv4.tcp_invalid_ratelimit"]):  # type: ignore[call-overload]
            setattr(ns.mib.tcpext, counter, getattr(ns.mib.tcpext, counter) + 1)
            return True
    setattr(holder, attr, now or 1)
    return False


def tcp_oow_rate_limited(tp: TcpSock, cb: TcpCb, counter: str) -> bool:
    """Rate-limit dupacks answering out-of-window SYNs or pure ACKs (ACK loops, RFC 5961 spirit)."""
    if cb.seq != cb.end_seq and not cb.tcp_flags & TCPHDR_SYN:
        return False
    return __tcp_oow_rate_limited(tp, counter, tp, "last_oow_ack_time")


def tcp_send_challenge_ack(tp: TcpSock) -> None:
    """RFC 5961 7: per-socket rate limit, then the namespace's tcp_challenge_ack_limit per second."""
    ns = tp.ns
    if __tcp_oow_rate_limited(tp, "TCPACKSkippedChallenge", tp, "last_oow_ack_time"):
        return
    limit = int(ns.sysctl.v["net.ipv4.tcp_challenge_ack_limit"])  # type: ignore[call-overload]
    net = tp.net
    if limit != 0x7FFFFFFF:
        now = ns.loop.now_ns // 1_000_000_000
        if now != net.challenge_timestamp:
            half = (limit + 1) >> 1
            net.challenge_timestamp = now
            net.challenge_count = ns.rng.randint(half, limit + half - 1)
        if net.challenge_count <= 0:
            return
        net.challenge_count -= 1
    ns.mib.tcpext.TCPChallengeACK += 1
    tcp_ctl.tcp_send_ack(tp)


# ---------------------------------------------------------------------------------------- rtx queue
def tcp_clean_rtx_queue(tp: TcpSock, prior_fack: int, prior_snd_una: int, sack: SackTagState,
                        ece_ack: bool, ack_ttl: int = 0) -> int:
    """Drop what snd_una covers from the retransmit queue; RTT sample, delivery counting."""
    from tuxnet.ipv4.tcp import tcp_recovery

    first_ackt = 0
    last_ackt = 0
    prior_sacked = tp.sacked_out
    reord = tp.snd_nxt
    fully_acked = True
    sack_rtt_us = -1
    seq_rtt_us = -1
    ca_rtt_us = -1
    pkts_acked = 0
    flag = 0
    rtx = tp.tcp_rtx_queue
    n = 0
    skb = None
    for skb in rtx:
        if seq_after(skb.end_seq, tp.snd_una):
            # a partially acked segment: trim what was acked, it stays queued
            if not seq_after(tp.snd_una, skb.seq):
                break
            if skb.txstamp_ack:
                tcp_ack_tstamp(tp, skb, prior_snd_una, ack_ttl)
            tcp_ctl.tcp_trim_head(tp, skb, (tp.snd_una - skb.seq) & U32)
            fully_acked = False
            break
        sacked = skb.sacked
        if sacked & TCPCB_RETRANS:
            if sacked & TCPCB_SACKED_RETRANS:
                tp.retrans_out -= 1
            flag |= FLAG_RETRANS_DATA_ACKED
        elif not sacked & TCPCB_SACKED_ACKED:
            last_ackt = skb.skb_mstamp_ns // 1000
            if not first_ackt:
                first_ackt = last_ackt
            if seq_before(skb.seq, reord):
                reord = skb.seq
            if not seq_after(skb.end_seq, tp.high_seq):
                flag |= FLAG_ORIG_SACK_ACKED
        if sacked & TCPCB_SACKED_ACKED:
            tp.sacked_out -= 1
        elif tp.tcp_is_sack():
            tp.delivered += 1
            if ece_ack:
                tp.delivered_ce += 1
            if not tcp_recovery.tcp_skb_spurious_retrans(tp, skb):
                tcp_recovery.tcp_rack_advance(tp, sacked, skb.end_seq, skb.skb_mstamp_ns // 1000)
        if sacked & TCPCB_LOST:
            tp.lost_out -= 1
        tp.packets_out -= 1
        pkts_acked += 1
        tcp_rate_skb_delivered(tp, skb, sack.rate)
        if not skb.tcp_flags & TCPHDR_SYN:
            flag |= FLAG_DATA_ACKED
        else:
            flag |= FLAG_SYN_ACKED
            tp.retrans_stamp = 0
        if skb.txstamp_ack:
            tcp_ack_tstamp(tp, skb, prior_snd_una, ack_ttl)
        if skb.zc is not None:
            skb_zcopy_clear(skb)  # freeing the acked skb releases its pages: the uarg may complete
        tp.sk_wmem_queued -= skb.overhead + len(skb.data)
        tp.tsorted_sent_queue.pop(id(skb), None)
        if skb is tp.retransmit_skb_hint:
            tp.retransmit_skb_hint = None
        if skb is tp.lost_skb_hint:
            tp.lost_skb_hint = None
        n += 1
    else:
        skb = None
    if n:
        if tp.highest_sack is not None and tp.highest_sack in rtx[:n]:
            tp.highest_sack = rtx[n] if n < len(rtx) else None
        del rtx[:n]
    if not rtx:
        tcp_chrono.tcp_chrono_stop(tp, tcp_chrono.TCP_CHRONO_BUSY)
    if seq_between(tp.snd_up, prior_snd_una, tp.snd_una):
        tp.snd_up = tp.snd_una
    head = rtx[0] if rtx else None
    if head is not None and head.sacked & TCPCB_SACKED_ACKED:
        flag |= FLAG_SACK_RENEGING
    if first_ackt and not flag & FLAG_RETRANS_DATA_ACKED:
        seq_rtt_us = max(tp.tcp_mstamp - first_ackt, 0)
        ca_rtt_us = max(tp.tcp_mstamp - last_ackt, 0)
        if (pkts_acked == 1 and fully_acked and not prior_sacked
                and ((tp.snd_una - prior_snd_una) & U32) < tp.mss_cache
                and sack.rate.prior_delivered + 1 == tp.delivered
                and not flag & (FLAG_CA_ALERT | FLAG_SYN_ACKED)):
            # conservatively a delayed ACK: a lone runt over the round trip
            flag |= FLAG_ACK_MAYBE_DELAYED
    if sack.first_sackt:
        sack_rtt_us = max(tp.tcp_mstamp - sack.first_sackt, 0)
        ca_rtt_us = max(tp.tcp_mstamp - sack.last_sackt, 0)
    rtt_update = tcp_ack_update_rtt(tp, flag, seq_rtt_us, sack_rtt_us, ca_rtt_us, sack.rate)
    if flag & FLAG_ACKED:
        flag |= FLAG_SET_XMIT_TIMER
        if tp.tcp_is_reno():
            tcp_sacktag.tcp_remove_reno_sacks(tp, pkts_acked, ece_ack)
            if flag & FLAG_RETRANS_DATA_ACKED:
                flag &= ~FLAG_ORIG_SACK_ACKED
        else:
            if seq_before(reord, prior_fack):
                tcp_sacktag.tcp_check_sack_reordering(tp, reord, False)
            delta = prior_sacked - tp.sacked_out
            tp.lost_cnt_hint -= min(tp.lost_cnt_hint, delta)
    elif (head is not None and rtt_update and sack_rtt_us >= 0
          and sack_rtt_us > max(tp.tcp_mstamp - head.skb_mstamp_ns // 1000, 0)):
        # the SACK RTT comes from data sent after the head: re-arm so loss recovery keeps going
        flag |= FLAG_SET_XMIT_TIMER
    ops = tp.icsk_ca_ops
    if ops is not None and ops.pkts_acked is not None:
        ops.pkts_acked(tp, cong.AckSample(pkts_acked, sack.rate.rtt_us,
                                          tp.mss_cache * ((tp.delivered - sack.rate.prior_delivered) & U32)))
    return flag


def tcp_ack_probe(tp: TcpSock) -> None:
    """An ACK while probing a zero window: stop the persist timer once the window opens."""
    head = tp.tcp_send_head()
    if head is None:
        return
    if not seq_after(head.end_seq, tp.tcp_wnd_end()):
        tp.icsk_backoff = 0
        tp.icsk_probes_tstamp = 0
        tcp_output.inet_csk_clear_xmit_timer(tp, ICSK_TIME_PROBE0)
    else:
        when = tcp_output.tcp_probe0_when(tp, TCP_RTO_MAX)
        tcp_output.tcp_reset_xmit_timer(tp, ICSK_TIME_PROBE0, when, TCP_RTO_MAX)


def tcp_ack_is_dubious(tp: TcpSock, flag: int) -> bool:
    return (not flag & FLAG_NOT_DUP) or bool(flag & FLAG_CA_ALERT) or tp.icsk_ca_state != cong.TCP_CA_Open


def tcp_newly_delivered(tp: TcpSock, prior_delivered: int, flag: int) -> int:
    delivered = (tp.delivered - prior_delivered) & U32
    ext = tp.ns.mib.tcpext
    ext.TCPDelivered += delivered
    if flag & FLAG_ECE:
        ext.TCPDeliveredCE += delivered
    return delivered


def tcp_ack(tp: TcpSock, cb: TcpCb, flag: int) -> int:
    """Process the ACK of an incoming segment: 1 accepted, 0 old (ignored), <0 drop."""
    from tuxnet.ipv4.tcp import tcp_input, tcp_recovery

    ns = tp.ns
    rs = RateSample()
    sack = SackTagState(rs)
    prior_snd_una = tp.snd_una
    is_sack_reneg = tp.is_sack_reneg
    ack_seq = cb.seq
    ack = cb.ack_seq
    prior_packets = tp.packets_out
    delivered = tp.delivered
    lost = tp.lost
    if seq_before(ack, prior_snd_una):
        # RFC 5961 5.2 blind data injection mitigation
        # never accept an ACK for bytes we did not send
        max_window = min(tp.max_window, tp.bytes_acked)
        if seq_before(ack, (prior_snd_una - max_window) & U32):
            if not flag & FLAG_NO_CHALLENGE_ACK:
                tcp_send_challenge_ack(tp)
            return ACK_TOO_OLD
        # old ACK: its SACK blocks may still tell us something
        if cb.sack_blocks:
            flag |= tcp_sacktag.tcp_sacktag_write_queue(tp, cb, prior_snd_una, sack)
            rexmit = tcp_recovery.tcp_fastretrans_alert(tp, prior_snd_una, 0, [flag])
            tcp_newly_delivered(tp, delivered, flag)
            tcp_recovery.tcp_xmit_recovery(tp, rexmit)
        return 0
    if seq_after(ack, tp.snd_nxt):
        return ACK_UNSENT_DATA
    if seq_after(ack, prior_snd_una):
        flag |= FLAG_SND_UNA_ADVANCED
        tp.icsk_retransmits = 0
    prior_fack = tcp_sacktag.tcp_highest_sack_seq(tp) if tp.tcp_is_sack() else tp.snd_una
    rs.prior_in_flight = cong.tcp_packets_in_flight(tp)
    if flag & FLAG_UPDATE_TS_RECENT:
        tcp_input.tcp_replace_ts_recent(tp, cb.seq)
    if (flag & (FLAG_SLOWPATH | FLAG_SND_UNA_ADVANCED)) == FLAG_SND_UNA_ADVANCED:
        # window constant, pure forward advance (the fast path checked the window)
        tp.snd_wl1 = ack_seq
        tcp_snd_una_update(tp, ack)
        flag |= FLAG_WIN_UPDATE
        cong.tcp_in_ack_event(tp, cong.CA_ACK_WIN_UPDATE)
        ns.mib.tcpext.TCPHPAcks += 1
    else:
        ack_ev_flags = cong.CA_ACK_SLOWPATH
        if ack_seq != cb.end_seq:
            flag |= FLAG_DATA
        else:
            ns.mib.tcpext.TCPPureAcks += 1
        flag |= tcp_ack_update_window(tp, cb, ack, ack_seq)
        if cb.sack_blocks:
            flag |= tcp_sacktag.tcp_sacktag_write_queue(tp, cb, prior_snd_una, sack)
        if cb.tcp_flags & 0x40 and not cb.tcp_flags & TCPHDR_SYN and tp.ecn_flags & 1:
            flag |= FLAG_ECE
            ack_ev_flags |= cong.CA_ACK_ECE
        if sack.sack_delivered:
            tp.delivered += sack.sack_delivered
            if flag & FLAG_ECE:
                tp.delivered_ce += sack.sack_delivered
        if flag & FLAG_WIN_UPDATE:
            ack_ev_flags |= cong.CA_ACK_WIN_UPDATE
        cong.tcp_in_ack_event(tp, ack_ev_flags)
    tp.sk_err_soft = 0
    tp.icsk_probes_out = 0
    tp.rcv_tstamp = tp.jiffies()
    if not prior_packets:
        # no_queue: nothing outstanding
        if flag & FLAG_DSACKING_ACK:
            tcp_recovery.tcp_fastretrans_alert(tp, prior_snd_una, 0, [flag])
            tcp_newly_delivered(tp, delivered, flag)
        tcp_ack_probe(tp)
        if tp.tlp_high_seq:
            tcp_recovery.tcp_process_tlp_ack(tp, ack, flag)
        return 1
    flag |= tcp_clean_rtx_queue(tp, prior_fack, prior_snd_una, sack, bool(flag & FLAG_ECE), cb.ttl)
    tcp_recovery.tcp_rack_update_reo_wnd(tp, rs)
    if tp.tlp_high_seq:
        tcp_recovery.tcp_process_tlp_ack(tp, ack, flag)
    rexmit = REXMIT_NONE
    flagbox = [flag]
    if tcp_ack_is_dubious(tp, flag):
        num_dupack = 0
        if not flag & (FLAG_SND_UNA_ADVANCED | FLAG_NOT_DUP | FLAG_DSACKING_ACK):
            num_dupack = 1
        rexmit = tcp_recovery.tcp_fastretrans_alert(tp, prior_snd_una, num_dupack, flagbox)
    flag = flagbox[0]
    if flag & FLAG_SET_XMIT_TIMER:
        tcp_set_xmit_timer(tp)
    if flag & FLAG_FORWARD_PROGRESS or not flag & FLAG_NOT_DUP:
        sk_dst_confirm(tp)
    delivered = tcp_newly_delivered(tp, delivered, flag)
    lost = (tp.lost - lost) & U32
    rs.is_ack_delayed = bool(flag & FLAG_ACK_MAYBE_DELAYED)
    tcp_rate_gen(tp, delivered, lost, is_sack_reneg, rs)
    tcp_cong_control(tp, ack, delivered, flag, rs)
    tcp_recovery.tcp_xmit_recovery(tp, rexmit)
    return 1


def sk_dst_confirm(tp: TcpSock) -> None:
    """The path works: confirm the neighbour (saves ARP probes), as dst_confirm_neigh."""
    arp = getattr(tp.ns, "arp", None)
    confirm = getattr(arp, "neigh_confirm", None)
    rt = tp.sk_dst
    if confirm is not None and rt is not None:
        confirm(rt.nexthop(tp.inet_daddr), rt.dev)


# ---------------------------------------------------------------------------------------- send buffer
def tcp_sndbuf_expand(tp: TcpSock) -> None:
    """Grow sk_sndbuf to hold 2 (or the algorithm's factor) congestion windows of worst-case skbs."""
    per_mss = max(tp.rx_opt.mss_clamp, tp.mss_cache) + MAX_TCP_HEADER + 320
    per_mss = (1 << (per_mss - 1).bit_length()) + 256
    nr_segs = max(cong.TCP_INIT_CWND, tp.snd_cwnd, tp.reordering + 1)
    ops = tp.icsk_ca_ops
    sndmem = ops.sndbuf_expand(tp) if ops is not None and ops.sndbuf_expand is not None else 2
    sndmem *= nr_segs * per_mss
    if tp.sk_sndbuf < sndmem:
        tp.sk_sndbuf = min(sndmem, int(tp.ns.sysctl.v["net.ipv4.tcp_wmem"][2]))  # type: ignore[index]


_unused = (INITIAL_JIFFIES, ICSK_TIME_RETRANS)
