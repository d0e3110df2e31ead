"""Loss recovery: SACK scoreboard, the CA state machine, undo, PRR, RACK-TLP.

Mirrors the recovery half of net/ipv4/tcp_input.c (tcp_sacktag_write_queue, tcp_fastretrans_alert,
tcp_enter_loss, tcp_try_undo_*, tcp_cwnd_reduction), net/ipv4/tcp_recovery.c (RACK) and the tail
loss probe of net/ipv4/tcp_output.c (tcp_schedule_loss_probe, tcp_send_loss_probe).

Guarantees, as Linux 6.x with tcp_recovery=1 and tcp_early_retrans=3:
- SACK blocks (RFC 2018) are validated (tcp_is_sackblock_valid), a first block below the ACK or
  inside the second is a D-SACK (RFC 2883: TCPDSACKRecv / TCPDSACKOfoRecv, dubious ones ignored);
  each newly SACKed segment is tagged S, clears L (and R when it was lost), counts sacked_out and
  delivered, feeds RACK and rate sampling; SACKs below a never-retransmitted hole raise reordering.
- The CA state machine Open/Disorder/CWR/Recovery/Loss follows tcp_fastretrans_alert: RACK
  (RFC 8985) marks segments lost when a later-sent one is delivered and RACK.rtt + reo_wnd has
  passed (else arms the reordering timer); without SACK NewReno (RFC 6582) marks the head on 3
  dupacks and on partial ACKs. Entering Recovery saves ssthresh for undo and starts PRR (RFC 6937,
  tcp_cwnd_reduction, forcing the first fast retransmit). Undo (Eifel via TSecr, D-SACK, F-RTO
  RFC 5682 in Loss) restores cwnd with ``undo_cwnd`` and counts TCPFullUndo/TCPPartialUndo/
  TCPDSACKUndo/TCPLossUndo/TCPSpuriousRTOs.
- RTO: tcp_enter_loss marks everything lost (SACKed segments stay, unless reneged), sets
  ssthresh by the algorithm, cwnd = in_flight + 1, CA_Loss.
- TLP: after sending, a probe timer of 2*srtt (+rto_min with one packet out) fires once per
  episode: new data if the window allows, else the last segment again (TCPLossProbes;
  TCPLossProbeRecovery when the probe repaired a loss).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.ipv4.tcp import cong, tcp_ack, tcp_ctl, tcp_output, tcp_sacktag
from tuxnet.ipv4.tcp.tcp_ecn import TCP_ECN_OK, TCP_ECN_QUEUE_CWR
from tuxnet.ipv4.tcp.tcp_flags import (
    FLAG_DATA_SACKED,
    FLAG_DSACK_TLP,
    FLAG_ECE,
    FLAG_LOST_RETRANS,
    FLAG_NOT_DUP,
    FLAG_ORIG_SACK_ACKED,
    FLAG_SACK_RENEGING,
    FLAG_SET_XMIT_TIMER,
    FLAG_SND_UNA_ADVANCED,
    REXMIT_LOST,
    REXMIT_NEW,
    REXMIT_NONE,
    ref_jiffies_ms,
    usecs_to_jiffies,
)
from tuxnet.ipv4.tcp.tcp_sock import (
    ICSK_TIME_LOSS_PROBE,
    ICSK_TIME_REO_TIMEOUT,
    ICSK_TIME_RETRANS,
    TCP_NAGLE_OFF,
    TCP_RACK_LOSS_DETECTION,
    TCP_RACK_NO_DUPTHRESH,
    TCP_RACK_RECOVERY_THRESH,
    TCP_RACK_STATIC_REO_WND,
    TCP_RTO_MAX,
    TCP_SYN_SENT,
    TCP_TIMEOUT_INIT,
    TCP_TIMEOUT_MIN,
    TCPCB_EVER_RETRANS,
    TCPCB_LOST,
    TCPCB_RETRANS,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
    U32,
    ts_ms,
)
from tuxnet.wire.seqnum import seq_after, seq_before

if TYPE_CHECKING:
    from tuxnet.ipv4.tcp.rate import RateSample
    from tuxnet.ipv4.tcp.tcp_sock import TcpSkb, TcpSock

Open, Disorder, CWR, Recovery, Loss = (cong.TCP_CA_Open, cong.TCP_CA_Disorder, cong.TCP_CA_CWR,
                                      cong.TCP_CA_Recovery, cong.TCP_CA_Loss)


# ---------------------------------------------------------------------------------------- helpers


def tcp_is_rack(tp: TcpSock) -> bool:
    return bool(int(tp.ns.sysctl.v["net.ipv4.tcp_recovery"]) & TCP_RACK_LOSS_DETECTION)  # type: ignore[call-overload]


def tcp_clear_retrans(tp: TcpSock) -> None:
    tp.retrans_out = 0
    tp.lost_out = 0
    tp.undo_marker = 0
    tp.undo_retrans = -1
    tp.sacked_out = 0


def tcp_clear_all_retrans_hints(tp: TcpSock) -> None:
    tp.lost_skb_hint = None
    tp.retransmit_skb_hint = None


def tcp_init_undo(tp: TcpSock) -> None:
    tp.undo_marker = tp.snd_una
    tp.undo_retrans = tp.retrans_out or -1


def tcp_verify_retransmit_hint(tp: TcpSock, skb: TcpSkb) -> None:
    hint = tp.retransmit_skb_hint
    if ((hint is None and tp.retrans_out >= tp.lost_out)
            or (hint is not None and seq_before(skb.seq, hint.seq))):
        tp.retransmit_skb_hint = skb


def tcp_mark_skb_lost(tp: TcpSock, skb: TcpSkb) -> None:
    sacked = skb.sacked
    if sacked & TCPCB_SACKED_ACKED:
        return
    tcp_verify_retransmit_hint(tp, skb)
    if sacked & TCPCB_LOST:
        if sacked & TCPCB_SACKED_RETRANS:
            # a retransmission lost again
            skb.sacked &= ~TCPCB_SACKED_RETRANS
            tp.retrans_out -= 1
            tp.ns.mib.tcpext.TCPLostRetransmit += 1
            tp.lost += 1
    else:
        tp.lost_out += 1
        skb.sacked |= TCPCB_LOST
        tp.lost += 1


def tcp_skb_spurious_retrans(tp: TcpSock, skb: TcpSkb) -> bool:
    sent_ts = ts_ms(skb.skb_mstamp_ns)
    return bool(skb.sacked & TCPCB_RETRANS) and tcp_tsopt_ecr_before(tp, sent_ts)


def tcp_tsopt_ecr_before(tp: TcpSock, when: int) -> bool:
    rx = tp.rx_opt
    return rx.saw_tstamp and rx.rcv_tsecr != 0 and seq_before(rx.rcv_tsecr, when)


def tcp_packet_delayed(tp: TcpSock) -> bool:
    """Nothing was retransmitted, or the echoed timestamp predates the first retransmission."""
    return bool(tp.retrans_stamp) and tcp_tsopt_ecr_before(tp, tp.retrans_stamp)


def tcp_any_retrans_done(tp: TcpSock) -> bool:
    if tp.retrans_out:
        return True
    head = tp.tcp_rtx_queue_head()
    return head is not None and bool(head.sacked & TCPCB_EVER_RETRANS)


# ---------------------------------------------------------------------------------------- SACK


# ---------------------------------------------------------------------------------------- Reno


def tcp_newreno_mark_lost(tp: TcpSock, snd_una_advanced: bool) -> None:
    state = tp.icsk_ca_state
    if (state < Recovery and tp.sacked_out >= tp.reordering) or (state == Recovery and snd_una_advanced):
        head = tp.tcp_rtx_queue_head()
        if head is None or head.sacked & TCPCB_LOST:
            return
        tcp_mark_skb_lost(tp, head)


# ---------------------------------------------------------------------------------------- RACK
def tcp_rack_advance(tp: TcpSock, sacked: int, end_seq: int, xmit_time_us: int) -> None:
    rtt_us = max(tp.tcp_mstamp - xmit_time_us, 0)
    if rtt_us < cong.tcp_min_rtt(tp) and sacked & TCPCB_RETRANS:
        return  # ambiguous: the original may have been delivered
    rack = tp.rack
    rack.advanced = True
    rack.rtt_us = rtt_us
    if xmit_time_us > rack.mstamp or (xmit_time_us == rack.mstamp and seq_after(end_seq, rack.end_seq)):
        rack.mstamp = xmit_time_us
        rack.end_seq = end_seq


def tcp_rack_reo_wnd(tp: TcpSock) -> int:
    if not tp.reord_seen:
        if tp.icsk_ca_state >= Recovery:
            return 0
        if tp.sacked_out >= tp.reordering and not (
                int(tp.ns.sysctl.v["net.ipv4.tcp_recovery"]) & TCP_RACK_NO_DUPTHRESH):  # type: ignore[call-overload]
            return 0
    return min((cong.tcp_min_rtt(tp) >> 2) * tp.rack.reo_wnd_steps, tp.srtt_us >> 3)


def tcp_rack_skb_timeout(tp: TcpSock, skb: TcpSkb, reo_wnd: int) -> int:
    return tp.rack.rtt_us + reo_wnd - max(tp.tcp_mstamp - skb.skb_mstamp_ns // 1000, 0)


def tcp_rack_detect_loss(tp: TcpSock) -> int:
    """Mark lost every segment sent before the RACK segment whose time is up; the longest wait left."""
    reo_timeout = 0
    reo_wnd = tcp_rack_reo_wnd(tp)
    rack = tp.rack
    tq = tp.tsorted_sent_queue
    for key, skb in list(tq.items()):
        sacked = skb.sacked
        if sacked & TCPCB_LOST and not sacked & TCPCB_SACKED_RETRANS:
            continue
        t = skb.skb_mstamp_ns // 1000
        if not (rack.mstamp > t or (rack.mstamp == t and seq_after(rack.end_seq, skb.end_seq))):
            break
        remaining = tcp_rack_skb_timeout(tp, skb, reo_wnd)
        if remaining <= 0:
            tcp_mark_skb_lost(tp, skb)
            del tq[key]
        else:
            reo_timeout = max(reo_timeout, remaining)
    return reo_timeout


def tcp_rack_mark_lost(tp: TcpSock) -> bool:
    if not tp.rack.advanced:
        return False
    tp.rack.advanced = False
    timeout = tcp_rack_detect_loss(tp)
    if timeout:
        # usecs_to_jiffies(timeout) + TCP_TIMEOUT_MIN, in the reference kernel's jiffies
        timeout = ref_jiffies_ms(timeout, TCP_TIMEOUT_MIN)
        tcp_output.inet_csk_reset_xmit_timer(tp, ICSK_TIME_REO_TIMEOUT, timeout, tp.icsk_rto)
    return bool(timeout)


def tcp_rack_reo_timeout(tp: TcpSock) -> None:
    """The reordering window passed: mark the expired segments lost and retransmit them."""
    lost = tp.lost
    prior_inflight = cong.tcp_packets_in_flight(tp)
    tcp_rack_detect_loss(tp)
    if prior_inflight != cong.tcp_packets_in_flight(tp):
        if tp.icsk_ca_state != Recovery:
            tcp_enter_recovery(tp, False)
            ops = tp.icsk_ca_ops
            if ops is None or ops.cong_control is None:
                tcp_cwnd_reduction(tp, 1, tp.lost - lost, 0)
        tcp_ctl.tcp_xmit_retransmit_queue(tp)
    if tp.icsk_pending != ICSK_TIME_RETRANS:
        tcp_ack.tcp_rearm_rto(tp)


def tcp_rack_update_reo_wnd(tp: TcpSock, rs: RateSample) -> None:
    if int(tp.ns.sysctl.v["net.ipv4.tcp_recovery"]) & TCP_RACK_STATIC_REO_WND or not rs.prior_delivered:  # type: ignore[call-overload]
        return
    rack = tp.rack
    if seq_before(rs.prior_delivered, rack.last_delivered):
        rack.dsack_seen = False
    if rack.dsack_seen:
        rack.reo_wnd_steps = min(0xFF, rack.reo_wnd_steps + 1)
        rack.dsack_seen = False
        rack.last_delivered = tp.delivered
        rack.reo_wnd_persist = TCP_RACK_RECOVERY_THRESH
    elif not rack.reo_wnd_persist:
        rack.reo_wnd_steps = 1


# ---------------------------------------------------------------------------------------- loss state
def tcp_timeout_mark_lost(tp: TcpSock) -> None:
    rtx = tp.tcp_rtx_queue
    head = rtx[0] if rtx else None
    is_reneg = head is not None and bool(head.sacked & TCPCB_SACKED_ACKED)
    if is_reneg:
        tp.ns.mib.tcpext.TCPSACKReneging += 1
        tp.sacked_out = 0
        tp.is_sack_reneg = True
    elif tp.tcp_is_reno():
        tp.sacked_out = 0
    rack = tcp_is_rack(tp)
    for skb in rtx:
        if is_reneg:
            skb.sacked &= ~TCPCB_SACKED_ACKED
        elif rack and skb is not head and tcp_rack_skb_timeout(tp, skb, 0) > 0:
            continue  # recently sent: not lost yet
        tcp_mark_skb_lost(tp, skb)
    tcp_clear_all_retrans_hints(tp)


def tcp_enter_loss(tp: TcpSock) -> None:
    """RTO: everything outstanding is presumed lost; cwnd restarts from in-flight + 1."""
    v = tp.ns.sysctl.v
    new_recovery = tp.icsk_ca_state < Recovery
    tcp_timeout_mark_lost(tp)
    # reduce ssthresh if it has not yet been made inside this window
    if (tp.icsk_ca_state <= Disorder or not seq_after(tp.high_seq, tp.snd_una)
            or (tp.icsk_ca_state == Loss and not tp.icsk_retransmits)):
        tp.prior_ssthresh = tcp_output.tcp_current_ssthresh(tp)
        tp.prior_cwnd = tp.snd_cwnd
        tp.snd_ssthresh = tp.icsk_ca_ops.ssthresh(tp)  # type: ignore[union-attr]
        cong.tcp_ca_event(tp, cong.CA_EVENT_LOSS)
        tcp_init_undo(tp)
    tp.snd_cwnd = cong.tcp_packets_in_flight(tp) + 1
    tp.snd_cwnd_cnt = 0
    tp.snd_cwnd_stamp = tp.jiffies()
    reordering = int(v["net.ipv4.tcp_reordering"])  # type: ignore[call-overload]
    if tp.icsk_ca_state <= Disorder and tp.sacked_out >= reordering:
        tp.reordering = min(tp.reordering, reordering)
    cong.tcp_set_ca_state(tp, Loss)
    tp.high_seq = tp.snd_nxt
    # F-RTO (RFC 5682 3.1 step 1) unless a recovery was already under way
    tp.frto = bool(v["net.ipv4.tcp_frto"]) and (new_recovery or bool(tp.icsk_retransmits))


def tcp_check_sack_reneging(tp: TcpSock, flag: int) -> bool:
    if flag & FLAG_SACK_RENEGING and flag & FLAG_SND_UNA_ADVANCED:
        delay = max(usecs_to_jiffies(tp.srtt_us >> 4), 10)
        tcp_output.inet_csk_reset_xmit_timer(tp, ICSK_TIME_RETRANS, delay, TCP_RTO_MAX)
        return True
    return False


def tcp_time_to_recover(tp: TcpSock, flag: int) -> bool:
    if tp.lost_out:
        return True  # the loss is proven
    return not tcp_is_rack(tp) and tp.sacked_out + 1 > tp.reordering


def tcp_mark_head_lost(tp: TcpSock, packets: int, mark_head: bool) -> None:
    """RFC 6675: a segment is lost once ``reordering`` SACKed segments lie above it."""
    cnt = 0
    loss_high = tp.snd_nxt
    for skb in tp.tcp_rtx_queue:
        if seq_after(skb.end_seq, loss_high):
            break
        if skb.sacked & TCPCB_SACKED_ACKED:
            cnt += 1
        if cnt > packets:
            break
        if not skb.sacked & TCPCB_LOST:
            tcp_mark_skb_lost(tp, skb)
        if mark_head:
            break


def tcp_update_scoreboard(tp: TcpSock, fast_rexmit: bool) -> None:
    if tp.tcp_is_sack():
        sacked_upto = tp.sacked_out - tp.reordering
        if sacked_upto >= 0:
            tcp_mark_head_lost(tp, sacked_upto, False)
        elif fast_rexmit:
            tcp_mark_head_lost(tp, 1, True)


# ---------------------------------------------------------------------------------------- undo
def tcp_undo_cwnd_reduction(tp: TcpSock, unmark_loss: bool) -> None:
    if unmark_loss:
        for skb in tp.tcp_rtx_queue:
            skb.sacked &= ~TCPCB_LOST
        tp.lost_out = 0
        tcp_clear_all_retrans_hints(tp)
    if tp.prior_ssthresh:
        tp.snd_cwnd = tp.icsk_ca_ops.undo_cwnd(tp)  # type: ignore[union-attr]
        if tp.prior_ssthresh > tp.snd_ssthresh:
            tp.snd_ssthresh = tp.prior_ssthresh
    tp.snd_cwnd_stamp = tp.jiffies()
    tp.undo_marker = 0
    tp.rack.advanced = True  # make RACK re-examine losses


def tcp_may_undo(tp: TcpSock) -> bool:
    return bool(tp.undo_marker) and (not tp.undo_retrans or tcp_packet_delayed(tp))


def tcp_is_non_sack_preventing_reopen(tp: TcpSock) -> bool:
    if tp.snd_una == tp.high_seq and tp.tcp_is_reno():
        # hold the state until something above high_seq is ACKed (RFC 6582)
        if not tcp_any_retrans_done(tp):
            tp.retrans_stamp = 0
        return True
    return False


def tcp_try_undo_recovery(tp: TcpSock) -> bool:
    ext = tp.ns.mib.tcpext
    if tcp_may_undo(tp):
        tcp_undo_cwnd_reduction(tp, False)
        if tp.icsk_ca_state == Loss:
            ext.TCPLossUndo += 1
        else:
            ext.TCPFullUndo += 1
    elif tp.rack.reo_wnd_persist:
        tp.rack.reo_wnd_persist -= 1
    if tcp_is_non_sack_preventing_reopen(tp):
        return True
    cong.tcp_set_ca_state(tp, Open)
    tp.is_sack_reneg = False
    return False


def tcp_try_undo_dsack(tp: TcpSock) -> bool:
    if tp.undo_marker and not tp.undo_retrans:
        tp.rack.reo_wnd_persist = min(TCP_RACK_RECOVERY_THRESH, tp.rack.reo_wnd_persist + 1)
        tcp_undo_cwnd_reduction(tp, False)
        tp.ns.mib.tcpext.TCPDSACKUndo += 1
        return True
    return False


def tcp_try_undo_loss(tp: TcpSock, frto_undo: bool) -> bool:
    ext = tp.ns.mib.tcpext
    if frto_undo or tcp_may_undo(tp):
        tcp_undo_cwnd_reduction(tp, True)
        ext.TCPLossUndo += 1
        if frto_undo:
            ext.TCPSpuriousRTOs += 1
        tp.icsk_retransmits = 0
        if tcp_is_non_sack_preventing_reopen(tp):
            return True
        if frto_undo or tp.tcp_is_sack():
            cong.tcp_set_ca_state(tp, Open)
            tp.is_sack_reneg = False
        return True
    return False


def tcp_try_undo_spurious_syn(tp: TcpSock) -> None:
    """A SYN/SYN-ACK timeout was spurious if the ACK echoes the original SYN's timestamp."""
    syn_stamp = tp.retrans_stamp
    if tp.undo_marker and syn_stamp and tp.rx_opt.saw_tstamp and syn_stamp == tp.rx_opt.rcv_tsecr:
        tp.undo_marker = 0


def tcp_try_undo_partial(tp: TcpSock, prior_snd_una: int) -> tuple[bool, bool | None]:
    """Returns (stop, do_lost or None when unchanged)."""
    if tp.undo_marker and tcp_packet_delayed(tp):
        # plain luck: the hole was filled by the delayed original, not the retransmission
        tcp_sacktag.tcp_check_sack_reordering(tp, prior_snd_una, True)
        if tp.retrans_out:
            return True, None
        if not tcp_any_retrans_done(tp):
            tp.retrans_stamp = 0
        tcp_undo_cwnd_reduction(tp, True)
        tp.ns.mib.tcpext.TCPPartialUndo += 1
        tcp_try_keep_open(tp)
        return False, None
    return False, tcp_force_fast_retransmit(tp)


# ---------------------------------------------------------------------------------------- PRR
def tcp_init_cwnd_reduction(tp: TcpSock) -> None:
    tp.high_seq = tp.snd_nxt
    tp.tlp_high_seq = 0
    tp.snd_cwnd_cnt = 0
    tp.prior_cwnd = tp.snd_cwnd
    tp.prr_delivered = 0
    tp.prr_out = 0
    tp.snd_ssthresh = tp.icsk_ca_ops.ssthresh(tp)  # type: ignore[union-attr]
    if tp.ecn_flags & TCP_ECN_OK:  # tcp_ecn_queue_cwr
        tp.ecn_flags |= TCP_ECN_QUEUE_CWR


def tcp_cwnd_reduction(tp: TcpSock, newly_acked_sacked: int, newly_lost: int, flag: int) -> None:
    """RFC 6937 PRR: proportional reduction above ssthresh, slow start (PRR-SSRB) below it."""
    delta = tp.snd_ssthresh - cong.tcp_packets_in_flight(tp)
    if newly_acked_sacked <= 0 or not tp.prior_cwnd:
        return
    tp.prr_delivered += newly_acked_sacked
    if delta < 0:
        dividend = tp.snd_ssthresh * tp.prr_delivered + tp.prior_cwnd - 1
        sndcnt = dividend // tp.prior_cwnd - tp.prr_out
    else:
        sndcnt = max(tp.prr_delivered - tp.prr_out, newly_acked_sacked)
        if flag & FLAG_SND_UNA_ADVANCED and not newly_lost:
            sndcnt += 1
        sndcnt = min(delta, sndcnt)
    # force a fast retransmit upon entering fast recovery
    sndcnt = max(sndcnt, 0 if tp.prr_out else 1)
    tp.snd_cwnd = cong.tcp_packets_in_flight(tp) + sndcnt


def tcp_end_cwnd_reduction(tp: TcpSock) -> None:
    ops = tp.icsk_ca_ops
    if ops is not None and ops.cong_control is not None:
        return
    if tp.snd_ssthresh < cong.TCP_INFINITE_SSTHRESH and (tp.icsk_ca_state == CWR or tp.undo_marker):
        tp.snd_cwnd = tp.snd_ssthresh
        tp.snd_cwnd_stamp = tp.jiffies()
    cong.tcp_ca_event(tp, cong.CA_EVENT_COMPLETE_CWR)


def tcp_enter_cwr(tp: TcpSock) -> None:
    tp.prior_ssthresh = 0
    if tp.icsk_ca_state < CWR:
        tp.undo_marker = 0
        tcp_init_cwnd_reduction(tp)
        cong.tcp_set_ca_state(tp, CWR)


def tcp_try_keep_open(tp: TcpSock) -> None:
    state = Disorder if (cong.tcp_left_out(tp) or tcp_any_retrans_done(tp)) else Open
    if tp.icsk_ca_state != state:
        cong.tcp_set_ca_state(tp, state)
        tp.high_seq = tp.snd_nxt


def tcp_try_to_open(tp: TcpSock, flag: int) -> None:
    if not tcp_any_retrans_done(tp):
        tp.retrans_stamp = 0
    if flag & FLAG_ECE:
        tcp_enter_cwr(tp)
    if tp.icsk_ca_state != CWR:
        tcp_try_keep_open(tp)


def tcp_enter_recovery(tp: TcpSock, ece_ack: bool) -> None:
    ext = tp.ns.mib.tcpext
    if tp.tcp_is_reno():
        ext.TCPRenoRecovery += 1
    else:
        ext.TCPSackRecovery += 1
    tp.prior_ssthresh = 0
    tcp_init_undo(tp)
    if tp.icsk_ca_state not in (CWR, Recovery):
        if not ece_ack:
            tp.prior_ssthresh = tcp_output.tcp_current_ssthresh(tp)
        tcp_init_cwnd_reduction(tp)
    cong.tcp_set_ca_state(tp, Recovery)


def tcp_process_loss(tp: TcpSock, flag: int, num_dupack: int) -> int:
    """An ACK in CA_Loss: undo if the RTO was spurious (F-RTO), else retransmit more."""
    recovered = not seq_before(tp.snd_una, tp.high_seq)
    if flag & FLAG_SND_UNA_ADVANCED and tcp_try_undo_loss(tp, False):
        return REXMIT_NONE
    if tp.frto:
        # F-RTO step 3.b: the timeout was spurious if never-retransmitted data got (s)acked
        if flag & FLAG_ORIG_SACK_ACKED and tcp_try_undo_loss(tp, True):
            return REXMIT_NONE
        if seq_after(tp.snd_nxt, tp.high_seq):
            if flag & FLAG_DATA_SACKED or num_dupack:
                tp.frto = False  # step 3.a: the loss was real
        elif flag & FLAG_SND_UNA_ADVANCED and not recovered:
            tp.high_seq = tp.snd_nxt
            # step 2.b: try to send new data, once cwnd is updated
            if tp.sk_write_queue and seq_after(tp.tcp_wnd_end(), tp.snd_nxt):
                return REXMIT_NEW
            tp.frto = False
    if recovered:
        tcp_try_undo_recovery(tp)
        return REXMIT_NONE
    if tp.tcp_is_reno():
        if seq_after(tp.snd_nxt, tp.high_seq) and num_dupack:
            tcp_sacktag.tcp_add_reno_sack(tp, num_dupack, bool(flag & FLAG_ECE))
        elif flag & FLAG_SND_UNA_ADVANCED:
            tp.sacked_out = 0
    return REXMIT_LOST


def tcp_force_fast_retransmit(tp: TcpSock) -> bool:
    return seq_after(tcp_sacktag.tcp_highest_sack_seq(tp), (tp.snd_una + tp.reordering * tp.mss_cache) & U32)


def tcp_identify_packet_loss(tp: TcpSock, flagbox: list[int]) -> None:
    if not tp.tcp_rtx_queue:
        return
    if tp.tcp_is_reno():
        tcp_newreno_mark_lost(tp, bool(flagbox[0] & FLAG_SND_UNA_ADVANCED))
    elif tcp_is_rack(tp):
        prior_retrans = tp.retrans_out
        if tcp_rack_mark_lost(tp):
            flagbox[0] &= ~FLAG_SET_XMIT_TIMER
        if prior_retrans > tp.retrans_out:
            flagbox[0] |= FLAG_LOST_RETRANS


def tcp_fastretrans_alert(tp: TcpSock, prior_snd_una: int, num_dupack: int, flagbox: list[int]) -> int:
    """The CA state machine for a dubious ACK; returns what to retransmit (REXMIT_*)."""
    flag = flagbox[0]
    ece_ack = bool(flag & FLAG_ECE)
    do_lost = bool(num_dupack) or (bool(flag & FLAG_DATA_SACKED) and tcp_force_fast_retransmit(tp))
    fast_rexmit = False
    if not tp.packets_out and tp.sacked_out:
        tp.sacked_out = 0
    if ece_ack:
        tp.prior_ssthresh = 0
    if tcp_check_sack_reneging(tp, flag):
        return REXMIT_NONE
    state = tp.icsk_ca_state
    if state == Open:
        tp.retrans_stamp = 0
    elif not seq_before(tp.snd_una, tp.high_seq):
        if state == CWR:
            # CWR is held until something above high_seq is ACKed
            if tp.snd_una != tp.high_seq:
                tcp_end_cwnd_reduction(tp)
                cong.tcp_set_ca_state(tp, Open)
        elif state == Recovery:
            if tp.tcp_is_reno():
                tp.sacked_out = 0
            if tcp_try_undo_recovery(tp):
                return REXMIT_NONE
            tcp_end_cwnd_reduction(tp)
    state = tp.icsk_ca_state
    if state == Recovery:
        if not flag & FLAG_SND_UNA_ADVANCED:
            if tp.tcp_is_reno():
                tcp_sacktag.tcp_add_reno_sack(tp, num_dupack, ece_ack)
        else:
            stop, lost = tcp_try_undo_partial(tp, prior_snd_una)
            if stop:
                return REXMIT_NONE
            if lost is not None:
                do_lost = lost
        if tcp_try_undo_dsack(tp):
            tcp_try_keep_open(tp)
        tcp_identify_packet_loss(tp, flagbox)
        if tp.icsk_ca_state != Recovery:
            if not tcp_time_to_recover(tp, flag):
                return REXMIT_NONE
            tcp_enter_recovery(tp, ece_ack)
    elif state == Loss:
        rexmit = tcp_process_loss(tp, flag, num_dupack)
        tcp_identify_packet_loss(tp, flagbox)
        if not (tp.icsk_ca_state == Open or flagbox[0] & FLAG_LOST_RETRANS):
            return rexmit
        return _alert_default(tp, flag, num_dupack, ece_ack, flagbox, do_lost, rexmit)
    else:
        return _alert_default(tp, flag, num_dupack, ece_ack, flagbox, do_lost, REXMIT_NONE)
    if not tcp_is_rack(tp) and do_lost:
        tcp_update_scoreboard(tp, fast_rexmit)
    return REXMIT_LOST


def _alert_default(tp: TcpSock, flag: int, num_dupack: int, ece_ack: bool, flagbox: list[int],
                   do_lost: bool, rexmit: int) -> int:
    if tp.tcp_is_reno():
        if flag & FLAG_SND_UNA_ADVANCED:
            tp.sacked_out = 0
        tcp_sacktag.tcp_add_reno_sack(tp, num_dupack, ece_ack)
    if tp.icsk_ca_state <= Disorder:
        tcp_try_undo_dsack(tp)
    tcp_identify_packet_loss(tp, flagbox)
    if not tcp_time_to_recover(tp, flag):
        tcp_try_to_open(tp, flag)
        return rexmit
    tcp_enter_recovery(tp, ece_ack)
    if not tcp_is_rack(tp) and do_lost:
        tcp_update_scoreboard(tp, True)
    return REXMIT_LOST


def tcp_xmit_recovery(tp: TcpSock, rexmit: int) -> None:
    if rexmit == REXMIT_NONE or tp.sk_state == TCP_SYN_SENT:
        return
    if rexmit == REXMIT_NEW:
        tcp_output.__tcp_push_pending_frames(tp, tcp_output.tcp_current_mss(tp), TCP_NAGLE_OFF)
        if seq_after(tp.snd_nxt, tp.high_seq):
            return
        tp.frto = False
    tcp_ctl.tcp_xmit_retransmit_queue(tp)


def tcp_simple_retransmit(tp: TcpSock) -> None:
    """PMTU shrank: segments larger than the new MSS are lost; retransmit without cwnd penalty."""
    # a Fast Open SYN is two segments of the queue: after an ICMP "too big" both are lost
    mss = -1 if tp.syn_data and tp.sk_state == TCP_SYN_SENT else tcp_output.tcp_current_mss(tp)
    for skb in tp.tcp_rtx_queue:
        if len(skb.data) > mss:
            tcp_mark_skb_lost(tp, skb)
    tp.retransmit_skb_hint = None
    if not tp.lost_out:
        return
    if tp.tcp_is_reno():
        tcp_sacktag.tcp_limit_reno_sacked(tp)
    if tp.icsk_ca_state != Loss:
        tp.high_seq = tp.snd_nxt
        tp.snd_ssthresh = tcp_output.tcp_current_ssthresh(tp)
        tp.prior_ssthresh = 0
        tp.undo_marker = 0
        cong.tcp_set_ca_state(tp, Loss)
    tcp_ctl.tcp_xmit_retransmit_queue(tp)


def tcp_non_congestion_loss_retransmit(tp: TcpSock) -> None:
    """Retransmit what was marked lost for a reason other than congestion (Fast Open data a SYN-ACK
    did not acknowledge): the Loss state without a cwnd reduction."""
    if tp.icsk_ca_state != Loss:
        tp.high_seq = tp.snd_nxt
        tp.snd_ssthresh = tcp_output.tcp_current_ssthresh(tp)
        tp.prior_ssthresh = 0
        tp.undo_marker = 0
        cong.tcp_set_ca_state(tp, Loss)
    tcp_ctl.tcp_xmit_retransmit_queue(tp)


# ---------------------------------------------------------------------------------------- TLP
def tcp_schedule_loss_probe(tp: TcpSock, advancing_rto: bool) -> bool:
    """Arm the probe timeout (PTO) of RFC 8985 7.2 when the connection is Open or CWR."""
    early_retrans = int(tp.ns.sysctl.v["net.ipv4.tcp_early_retrans"])  # type: ignore[call-overload]
    if (early_retrans not in (3, 4) or not tp.packets_out or not tp.tcp_is_sack()
            or tp.icsk_ca_state not in (Open, CWR) or tp.fastopen_rsk is not None):
        return False
    if tp.srtt_us:
        timeout_us = tp.srtt_us >> 2
        timeout_us += tp.tcp_rto_min_us() if tp.packets_out == 1 else TCP_TIMEOUT_MIN * 1000
        timeout = usecs_to_jiffies(timeout_us)
    else:
        timeout = TCP_TIMEOUT_INIT
    rto_delta_us = tp.icsk_rto * 1000 if advancing_rto else tcp_ack.tcp_rto_delta_us(tp)
    if rto_delta_us > 0:
        timeout = min(timeout, usecs_to_jiffies(rto_delta_us))
    tcp_output.tcp_reset_xmit_timer(tp, ICSK_TIME_LOSS_PROBE, timeout, TCP_RTO_MAX)
    return True


def tcp_send_loss_probe(tp: TcpSock) -> None:
    """PTO fired: send new data if possible, else retransmit the last segment (one probe per episode)."""
    mss = tcp_output.tcp_current_mss(tp)
    if not tp.tlp_high_seq:
        tp.tlp_retrans = False
        skb = tp.tcp_send_head()
        sent = False
        if skb is not None and tcp_output.tcp_snd_wnd_test(tp, skb, mss):
            pcount = tp.packets_out
            tcp_output.tcp_write_xmit(tp, mss, TCP_NAGLE_OFF, 2)
            sent = tp.packets_out > pcount
        elif tp.tcp_rtx_queue:
            last = tp.tcp_rtx_queue[-1]
            if not tcp_ctl.__tcp_retransmit_skb(tp, last):
                tp.tlp_retrans = True
                sent = True
        else:
            tp.icsk_pending = 0
            return
        if sent:
            tp.tlp_high_seq = tp.snd_nxt
            tp.ns.mib.tcpext.TCPLossProbes += 1
            tp.icsk_pending = 0  # tcp_rearm_rto restarts the timer from now
    tcp_ack.tcp_rearm_rto(tp)


def tcp_process_tlp_ack(tp: TcpSock, ack: int, flag: int) -> None:
    if seq_before(ack, tp.tlp_high_seq):
        return
    if not tp.tlp_retrans:
        tp.tlp_high_seq = 0  # TLP of new data has been acknowledged
    elif flag & FLAG_DSACK_TLP:
        tp.tlp_high_seq = 0  # original and probe both arrived: no loss
    elif seq_after(ack, tp.tlp_high_seq):
        # the probe repaired a loss: reduce cwnd
        tcp_init_cwnd_reduction(tp)
        cong.tcp_set_ca_state(tp, CWR)
        tcp_end_cwnd_reduction(tp)
        tcp_try_keep_open(tp)
        tp.ns.mib.tcpext.TCPLossProbeRecovery += 1
    elif not flag & (FLAG_SND_UNA_ADVANCED | FLAG_NOT_DUP | FLAG_DATA_SACKED):
        tp.tlp_high_seq = 0  # pure dupack: original and probe both arrived


_unused = (ICSK_TIME_LOSS_PROBE,)
