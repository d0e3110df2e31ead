"""TCP control segments and retransmission (the rest of net/ipv4/tcp_output.c).

Guarantees, as Linux 6.x:
- ACKs: ``tcp_send_ack`` sends at once (seq = tcp_acceptable_seq, the current window, timestamps
  and SACK blocks); ``tcp_send_delayed_ack`` arms the delayed ACK within the ATO (at most 200 ms,
  at most one RTT, 500 ms when not interactive), sending at once if an ACK was already overdue.
- Persist: ``tcp_send_probe0`` (zero-window probe: ``tcp_write_wakeup`` sends what fits the window,
  one MSS at most, else a segment with seq snd_una - 1), backing off exponentially from the RTO
  (TCPWinProbe); keepalive probes use the same segment (TCPKeepAlive).
- ``tcp_send_fin`` merges the FIN into the last unsent segment, or queues a bare FIN, and pushes
  it past Nagle and cwnd; ``tcp_send_active_reset`` sends RST|ACK (OutRsts).
- ``tcp_connect``: tcp_connect_init (MSS from the route, initial window and scale), the SYN (in
  the retransmit queue, TCPSynRetrans on retransmission), ActiveOpens, the 1 s timer.
- ``tcp_retransmit_skb`` trims what was acked, splits to the current MSS and the window, counts
  RetransSegs (TCPRetransFail on error), marks TCPCB_SACKED_RETRANS|EVER_RETRANS and the first
  retransmission's stamp; ``tcp_xmit_retransmit_queue`` sends the lost segments cwnd allows
  (TCPFastRetrans / TCPSlowStartRetrans).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

from tuxnet.core.errors import errno
from tuxnet.ipv4.tcp import cong, tcp_chrono, tcp_ecn
from tuxnet.ipv4.tcp.tcp_output import (
    TCP_SKB_OVERHEAD,
    __tcp_push_pending_frames,
    dst_metric_advmss,
    dst_mtu,
    inet_csk_reset_xmit_timer,
    sk_dst_get,
    tcp_current_mss,
    tcp_event_new_data_sent,
    tcp_fragment,
    tcp_mss_clamp,
    tcp_pacing_check,
    tcp_probe0_when,
    tcp_reset_xmit_timer,
    tcp_select_initial_window,
    tcp_sync_mss,
    tcp_transmit_skb,
)
from tuxnet.ipv4.tcp.tcp_sock import (
    HZ,
    ICSK_ACK_NOW,
    ICSK_ACK_PUSHED,
    ICSK_ACK_SCHED,
    ICSK_ACK_TIMER,
    ICSK_TIME_PROBE0,
    ICSK_TIME_REO_TIMEOUT,
    ICSK_TIME_RETRANS,
    NSEC_PER_JIFFY,
    TCP_CLOSE,
    TCP_DELACK_MAX,
    TCP_DELACK_MIN,
    TCP_MSS_DEFAULT,
    TCP_NAGLE_OFF,
    TCP_RESOURCE_PROBE_INTERVAL,
    TCP_RTO_MAX,
    TCP_TIMEOUT_INIT,
    TCPCB_EVER_RETRANS,
    TCPCB_LOST,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
    TCPHDR_ACK,
    TCPHDR_FIN,
    TCPHDR_PSH,
    TCPHDR_RST,
    TCPHDR_SYN,
    TCPOLEN_TSTAMP_ALIGNED,
    U32,
    TcpSkb,
    ts_ms,
)
from tuxnet.wire.seqnum import seq_before

if TYPE_CHECKING:
    from tuxnet.ipv4.tcp.tcp_sock import TcpSock


def tcp_send_delayed_ack(tp: TcpSock) -> None:
    """Schedule the ACK within ato: at most TCP_DELACK_MAX when interactive or pushed, else HZ/2,
    and never later than one smoothed RTT (RFC 1122 4.2.3.2 allows up to 500 ms)."""
    ack = tp.icsk_ack
    ato = ack.ato
    if ato > TCP_DELACK_MIN:
        max_ato = HZ // 2
        if tp.inet_csk_in_pingpong_mode() or ack.pending & ICSK_ACK_PUSHED:
            max_ato = TCP_DELACK_MAX
        if tp.srtt_us:
            rtt = max(-(-(tp.srtt_us >> 3) // 1000), TCP_DELACK_MIN)  # usecs_to_jiffies rounds up
            if rtt < max_ato:
                max_ato = rtt
        ato = min(ato, max_ato)
    ato = min(ato, TCP_DELACK_MAX)
    now = tp.ns.loop.now_ns
    timeout = now + ato * NSEC_PER_JIFFY
    if ack.pending & ICSK_ACK_TIMER:
        # the delayed ACK timer is about to expire: send the ACK now
        if ack.timeout <= now + (ato >> 2) * NSEC_PER_JIFFY:
            tcp_send_ack(tp)
            return
        if timeout >= ack.timeout:
            timeout = ack.timeout
    ack.pending |= ICSK_ACK_SCHED | ICSK_ACK_TIMER
    ack.timeout = timeout
    tp.icsk_delack_timer.reset(timeout)


def __tcp_send_ack(tp: TcpSock, rcv_nxt: int) -> None:
    if tp.sk_state == TCP_CLOSE:
        return
    tp.tcp_mstamp_refresh()
    buff = TcpSkb(tcp_acceptable_seq(tp), TCPHDR_ACK)
    buff.skb_mstamp_ns = tp.tcp_clock_cache
    tcp_transmit_skb(tp, buff, False, rcv_nxt)


def tcp_send_ack(tp: TcpSock) -> None:
    __tcp_send_ack(tp, tp.rcv_nxt)


def tcp_acceptable_seq(tp: TcpSock) -> int:
    wnd_end = tp.tcp_wnd_end()
    if (not seq_before(wnd_end, tp.snd_nxt)
            or (tp.rx_opt.wscale_ok and ((tp.snd_nxt - wnd_end) & U32) < (1 << tp.rx_opt.rcv_wscale))):
        return tp.snd_nxt
    return wnd_end


def tcp_xmit_probe_skb(tp: TcpSock, urgent: bool, mib: str) -> int:
    """A segment with an out-of-date sequence number (snd_una - 1) to elicit an ACK (probe/keepalive)."""
    tp.tcp_mstamp_refresh()
    ext = tp.ns.mib.tcpext
    setattr(ext, mib, getattr(ext, mib) + 1)
    seq = tp.snd_una if urgent else (tp.snd_una - 1) & U32
    skb = TcpSkb(seq, TCPHDR_ACK)
    skb.skb_mstamp_ns = tp.tcp_clock_cache
    return tcp_transmit_skb(tp, skb, False)


def tcp_write_wakeup(tp: TcpSock, mib: str) -> int:
    """Send new data that fits the window (at most one MSS), else a zero-window probe."""
    if tp.sk_state == TCP_CLOSE:
        return -1
    skb = tp.tcp_send_head()
    if skb is not None and seq_before(skb.seq, tp.tcp_wnd_end()):
        mss = tcp_current_mss(tp)
        seg_size = (tp.tcp_wnd_end() - skb.seq) & U32
        if seq_before(tp.pushed_seq, skb.end_seq):
            tp.pushed_seq = skb.end_seq
        if seg_size < ((skb.end_seq - skb.seq) & U32) or len(skb.data) > mss:
            seg_size = min(seg_size, mss)
            skb.tcp_flags |= TCPHDR_PSH
            if seg_size < len(skb.data):
                tcp_fragment(tp, tp.sk_write_queue, skb, seg_size)
        skb.tcp_flags |= TCPHDR_PSH
        err = tcp_transmit_skb(tp, skb)
        if not err:
            tcp_event_new_data_sent(tp, skb)
        return err
    if seq_between_open(tp.snd_una + 1, tp.snd_up, tp.snd_una + 0xFFFF):
        tcp_xmit_probe_skb(tp, True, mib)
    return tcp_xmit_probe_skb(tp, False, mib)


def seq_between_open(a: int, lo: int, hi: int) -> bool:
    from tuxnet.wire.seqnum import seq_between

    return seq_between(lo & U32, a & U32, hi & U32)


def tcp_send_probe0(tp: TcpSock) -> None:
    """The persist timer fired: probe the zero window, back off exponentially (tcp_send_probe0)."""
    ns = tp.ns
    err = tcp_write_wakeup(tp, "TCPWinProbe")
    if tp.packets_out or tp.tcp_send_head() is None:
        # cancel probe timer, if it is not required
        tp.icsk_probes_out = 0
        tp.icsk_backoff = 0
        tp.icsk_probes_tstamp = 0
        return
    tp.icsk_probes_out += 1
    if err <= 0:
        if tp.icsk_backoff < int(ns.sysctl.v["net.ipv4.tcp_retries2"]):  # type: ignore[call-overload]
            tp.icsk_backoff += 1
        timeout = tcp_probe0_when(tp, TCP_RTO_MAX)
    else:
        timeout = TCP_RESOURCE_PROBE_INTERVAL
    tcp_reset_xmit_timer(tp, ICSK_TIME_PROBE0, timeout, TCP_RTO_MAX)


def tcp_send_fin(tp: TcpSock) -> None:
    """Queue a FIN: merged into the last unsent segment, else a new one; then push."""
    tail = tp.sk_write_queue[-1] if tp.sk_write_queue else None
    if tail is not None:
        tail.tcp_flags |= TCPHDR_FIN
        tail.end_seq = (tail.end_seq + 1) & U32
        tp.write_seq = (tp.write_seq + 1) & U32
    else:
        skb = TcpSkb(tp.write_seq, TCPHDR_ACK | TCPHDR_FIN)
        tcp_chrono.tcp_add_write_queue_tail(tp, skb)
        tp.sk_wmem_queued += TCP_SKB_OVERHEAD
        skb.overhead = TCP_SKB_OVERHEAD
        tp.write_seq = (tp.write_seq + 1) & U32
    __tcp_push_pending_frames(tp, tcp_current_mss(tp), TCP_NAGLE_OFF)


def tcp_send_active_reset(tp: TcpSock) -> None:
    """An RST from a full socket (abort): seq is tcp_acceptable_seq, with ACK."""
    tp.tcp_mstamp_refresh()
    skb = TcpSkb(tcp_acceptable_seq(tp), TCPHDR_ACK | TCPHDR_RST)
    skb.skb_mstamp_ns = tp.tcp_clock_cache
    tcp_transmit_skb(tp, skb, False)
    tp.ns.mib.tcp.OutRsts += 1


def tcp_connect_init(tp: TcpSock, rt: object) -> None:
    ns = tp.ns
    v = ns.sysctl.v
    tp.tcp_header_len = 20 + (TCPOLEN_TSTAMP_ALIGNED if v["net.ipv4.tcp_timestamps"] else 0)
    if tp.rx_opt.user_mss:
        tp.rx_opt.mss_clamp = tp.rx_opt.user_mss
    tp.max_window = 0
    tcp_sync_mss(tp, dst_mtu(rt))
    tp.advmss = tcp_mss_clamp(tp, dst_metric_advmss(ns, rt))
    tcp_initialize_rcv_mss(tp)
    if tp.sk_userlocks & 2 and (tp.window_clamp > tp.tcp_full_space() or tp.window_clamp == 0):
        tp.window_clamp = tp.tcp_full_space()
    ts_adj = tp.tcp_header_len - 20 if tp.rx_opt.ts_recent_stamp else 0
    tp.rcv_wnd, tp.window_clamp, tp.rx_opt.rcv_wscale = tcp_select_initial_window(
        tp, tp.tcp_full_space(), tp.advmss - ts_adj, tp.window_clamp, bool(v["net.ipv4.tcp_window_scaling"]))
    tp.rcv_ssthresh = tp.rcv_wnd
    tp.sk_err = 0
    tp.sock_flags.discard("SOCK_DONE")
    tp.snd_wnd = 0
    tp.snd_wl1 = 0
    tp.sk_write_queue.clear()
    tp.tcp_rtx_queue.clear()
    tp.tsorted_sent_queue.clear()
    tp.snd_una = tp.write_seq
    tp.snd_sml = tp.write_seq
    tp.snd_up = tp.write_seq
    tp.snd_nxt = tp.write_seq
    tp.rcv_nxt = 0
    tp.rcv_wup = 0
    tp.copied_seq = 0
    tp.icsk_rto = TCP_TIMEOUT_INIT
    tp.icsk_retransmits = 0
    tp.retrans_out = tp.lost_out = tp.sacked_out = 0
    tp.undo_marker = 0
    tp.undo_retrans = -1


def tcp_initialize_rcv_mss(tp: TcpSock) -> None:
    hint = min(tp.advmss, tp.mss_cache)
    hint = min(hint, tp.rcv_wnd // 2)
    hint = min(hint, TCP_MSS_DEFAULT)
    tp.icsk_ack.rcv_mss = max(hint, 88)


def tcp_connect(tp: TcpSock, rt: object) -> int:
    """Send the SYN (it sits in the retransmit queue) and arm the retransmit timer."""
    tcp_connect_init(tp, rt)
    tp.tcp_mstamp_refresh()
    skb = TcpSkb(tp.write_seq, TCPHDR_SYN)
    tcp_ecn.tcp_ecn_send_syn(tp, skb)
    tp.write_seq = (tp.write_seq + 1) & U32
    tp.retrans_stamp = tp.tcp_time_stamp_ts()
    tp.sk_wmem_queued += TCP_SKB_OVERHEAD
    skb.overhead = TCP_SKB_OVERHEAD
    tp.packets_out += 1
    tp.tcp_rtx_queue.append(skb)
    tp.highest_sack = skb
    if tp.fastopen_req is not None:
        from tuxnet.ipv4.tcp.tcp_fastopen import tcp_send_syn_data

        err = tcp_send_syn_data(tp, skb)  # the SYN carries data (Fast Open)
    else:
        err = tcp_transmit_skb(tp, skb)
    if err == -errno.ECONNREFUSED:
        return err
    tp.snd_nxt = tp.write_seq
    tp.pushed_seq = tp.write_seq
    if tp.sk_write_queue:  # SYN-data that could not be sent waits in the write queue
        tp.snd_nxt = tp.pushed_seq = tp.sk_write_queue[0].seq
    tp.ns.mib.tcp.ActiveOpens += 1
    inet_csk_reset_xmit_timer(tp, ICSK_TIME_RETRANS, tp.icsk_rto, TCP_RTO_MAX)
    return 0


def tcp_send_synack(tp: TcpSock) -> int:
    """A SYN-ACK from a full socket (simultaneous open, or retransmitted in SYN_RECV)."""
    skb = tp.tcp_rtx_queue_head()
    if skb is None or not skb.tcp_flags & TCPHDR_SYN:
        return -errno.EFAULT
    if not skb.tcp_flags & TCPHDR_ACK:
        skb.tcp_flags |= TCPHDR_ACK
    return tcp_transmit_skb(tp, skb)


def __tcp_retransmit_skb(tp: TcpSock, skb: TcpSkb) -> int:
    ns = tp.ns
    if seq_before(skb.seq, tp.snd_una):
        if skb.tcp_flags & TCPHDR_SYN:
            skb.tcp_flags &= ~TCPHDR_SYN
            skb.seq = (skb.seq + 1) & U32
        if seq_before(skb.seq, tp.snd_una):
            if seq_before(skb.end_seq, tp.snd_una):
                return -errno.EINVAL
            tcp_trim_head(tp, skb, (tp.snd_una - skb.seq) & U32)
    if tp.inet_daddr and sk_dst_get(tp) is None:
        return -errno.EHOSTUNREACH
    cur_mss = tcp_current_mss(tp)
    avail_wnd = (tp.tcp_wnd_end() - skb.seq) & U32
    if avail_wnd == 0 or avail_wnd & 0x80000000:
        # the receiver shrank its window: only the head may go, as a zero-window probe
        if skb.seq != tp.snd_una:
            return -errno.EAGAIN
        avail_wnd = cur_mss
    length = cur_mss
    if length > avail_wnd:
        length = avail_wnd // cur_mss * cur_mss or avail_wnd
    if len(skb.data) > length:
        tcp_fragment(tp, tp.tcp_rtx_queue, skb, length)
    if skb.tcp_flags & tcp_ecn.TCPHDR_SYN_ECN == tcp_ecn.TCPHDR_SYN_ECN:
        tcp_ecn.tcp_ecn_clear_syn(tp, skb)
    ns.mib.tcp.RetransSegs += 1
    if skb.tcp_flags & TCPHDR_SYN:
        ns.mib.tcpext.TCPSynRetrans += 1
    tp.total_retrans += 1
    tp.bytes_retrans += len(skb.data)
    tp.tcp_mstamp_refresh()
    err = tcp_transmit_skb(tp, skb)
    # never take RTT samples from a transmission that may not have happened
    skb.sacked |= TCPCB_EVER_RETRANS
    if err and err != -errno.EBUSY:
        ns.mib.tcpext.TCPRetransFail += 1
    return err


def tcp_retransmit_skb(tp: TcpSock, skb: TcpSkb) -> int:
    err = __tcp_retransmit_skb(tp, skb)
    if err == 0 and not skb.sacked & TCPCB_SACKED_RETRANS:
        skb.sacked |= TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS
        tp.retrans_out += 1
    # the stamp of the first (attempted) retransmission
    if not tp.retrans_stamp:
        tp.retrans_stamp = ts_ms(skb.skb_mstamp_ns)
    if tp.undo_retrans < 0:
        tp.undo_retrans = 0
    tp.undo_retrans += 1
    return err


def tcp_trim_head(tp: TcpSock, skb: TcpSkb, length: int) -> None:
    skb.data = skb.data[length:]
    skb.seq = (skb.seq + length) & U32
    tp.sk_wmem_queued -= length


def rtx_index(tp: TcpSock, skb: TcpSkb | None) -> int:
    """Position of ``skb`` in the retransmit queue (found by sequence number)."""
    rtx = tp.tcp_rtx_queue
    if skb is None or not rtx:
        return 0
    base = rtx[0].seq
    return bisect_left(rtx, (skb.seq - base) & U32, key=lambda s: (s.seq - base) & U32)


def tcp_xmit_retransmit_queue(tp: TcpSock) -> None:
    """Retransmit segments marked lost and not yet retransmitted, within cwnd (PRR shapes cwnd)."""
    ns = tp.ns
    if not tp.packets_out:
        return
    rtx = tp.tcp_rtx_queue
    rtx_head = rtx[0] if rtx else None
    rearm_timer = False
    hole = None
    i = rtx_index(tp, tp.retransmit_skb_hint)
    while i < len(rtx):
        skb = rtx[i]
        i += 1
        if tcp_pacing_check(tp):
            break
        if hole is None:
            tp.retransmit_skb_hint = skb
        if tp.snd_cwnd - cong.tcp_packets_in_flight(tp) <= 0:
            break
        sacked = skb.sacked
        if tp.retrans_out >= tp.lost_out:
            break
        if not sacked & TCPCB_LOST:
            if hole is None and not sacked & (TCPCB_SACKED_RETRANS | TCPCB_SACKED_ACKED):
                hole = skb
            continue
        if sacked & (TCPCB_SACKED_ACKED | TCPCB_SACKED_RETRANS):
            continue
        in_loss = tp.icsk_ca_state == cong.TCP_CA_Loss
        if tcp_retransmit_skb(tp, skb):
            break
        # when tcp_retransmit_skb had to fragment skb (the MSS shrank), the tail part now follows
        # it, LOST and not retransmitted: the walk goes on to it, as skb_rbtree_walk_from does
        if in_loss:
            ns.mib.tcpext.TCPSlowStartRetrans += 1
        else:
            ns.mib.tcpext.TCPFastRetrans += 1
        if tp.icsk_ca_state in (cong.TCP_CA_CWR, cong.TCP_CA_Recovery):
            tp.prr_out += 1
        if skb is rtx_head and tp.icsk_pending != ICSK_TIME_REO_TIMEOUT:
            rearm_timer = True
    if rearm_timer:
        tcp_reset_xmit_timer(tp, ICSK_TIME_RETRANS, tp.icsk_rto, TCP_RTO_MAX)


def tcp_schedule_ack_now(tp: TcpSock) -> None:
    tp.icsk_ack.pending |= ICSK_ACK_SCHED | ICSK_ACK_NOW
