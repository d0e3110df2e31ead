"""TCP input state machine: every state but LISTEN-requests and TIME_WAIT (net/ipv4/tcp_input.c).

Guarantees, as Linux 6.x (RFC 9293 3.10.7 as Linux implements it):
- ``tcp_rcv_established``: header prediction (pure ACKs and in-order data with the expected
  flags, window and timestamp take the fast path: TCPHPHits/TCPHPAcks), else the slow path:
  ``tcp_validate_incoming`` then ACK, urgent data, data, output and ACK scheduling.
- ``tcp_validate_incoming``: PAWS (RFC 7323 5: an old timestamp drops the segment with a dupack,
  PAWSEstab, unless it is an RST or a disordered pure dupack); sequence acceptability against
  RCV.WUP/RCV.NXT+RCV.WND (dupack when unacceptable, rate limited by tcp_invalid_ratelimit); RST
  per RFC 5961 3.2 (reset only on an exact RCV.NXT match, or RCV.NXT-1 after a FIN, or the highest
  SACK block; otherwise a challenge ACK); SYN per RFC 5961 4.2 (challenge ACK, TCPSYNChallenge),
  except the SYN-ACK of a simultaneous open.
- ``tcp_rcv_synsent_state_process``: an ACK outside (ISS, SND.NXT] gets an RST (the reset rule
  of RFC 9293, from the caller), an RST with an acceptable ACK refuses the connection
  (ECONNREFUSED), a SYN-ACK completes it (options negotiated, MSS synced, ESTABLISHED, ACK sent);
  a SYN alone is a simultaneous open (SYN_RECV, SYN-ACK sent).
- ``tcp_rcv_state_process``: SYN_RECV -> ESTABLISHED on an acceptable ACK, FIN_WAIT1 -> FIN_WAIT2
  when our FIN is ACKed (orphans go to the FIN_WAIT2 TIME_WAIT bucket), CLOSING -> TIME_WAIT,
  LAST_ACK -> CLOSED; data after a shutdown of reading resets the connection (RFC 1122 4.2.2.13,
  TCPAbortOnData); ``tcp_fin`` moves ESTABLISHED -> CLOSE_WAIT, FIN_WAIT1 -> CLOSING,
  FIN_WAIT2 -> TIME_WAIT. ``tcp_reset`` sets ECONNREFUSED in SYN_SENT, EPIPE in CLOSE_WAIT,
  ECONNRESET otherwise. ``tcp_set_state`` keeps CurrEstab and EstabResets as Linux counts them.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from tuxnet.core.trace import SkbDropReason
from tuxnet.ipv4.tcp import cong, tcp_ack, tcp_chrono, tcp_ctl, tcp_data, tcp_ecn, tcp_fastopen, tcp_output
from tuxnet.ipv4.tcp.tcp_flags import FLAG_DATA, FLAG_NO_CHALLENGE_ACK, FLAG_SLOWPATH, FLAG_UPDATE_TS_RECENT
from tuxnet.ipv4.tcp.tcp_minisocks import ktime_get_seconds
from tuxnet.ipv4.tcp.tcp_sock import (
    ICSK_TIME_DACK,
    ICSK_TIME_RETRANS,
    NSEC_PER_JIFFY,
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    SHUTDOWN_MASK,
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_DELACK_MAX,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT1,
    TCP_FIN_WAIT2,
    TCP_LAST_ACK,
    TCP_LISTEN,
    TCP_MAX_QUICKACKS,
    TCP_MAX_WSCALE,
    TCP_PAWS_WINDOW,
    TCP_RTO_MAX,
    TCP_SACK_SEEN,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    TCP_TIME_WAIT,
    TCP_TIMEOUT_MIN,
    TCP_TIMEWAIT_LEN,
    TCP_URG_NOTYET,
    TCP_URG_VALID,
    TCPHDR_ACK,
    TCPHDR_FIN,
    TCPHDR_PSH,
    TCPHDR_RST,
    TCPHDR_SYN,
    TCPHDR_URG,
    TCPOLEN_TSTAMP_ALIGNED,
    U32,
    RxOpt,
    RxSeg,
    rx_truesize,
    tcpf,
)
from tuxnet.sock.msg_zerocopy import skb_queue_zcopy_purge
from tuxnet.wire.seqnum import seq_after, seq_before, seq_between, seq_sub
from tuxnet.wire.tcp import (
    TcpOptMss,
    TcpOptSack,
    TcpOptSackPerm,
    TcpOptTimestamp,
    TcpOptWscale,
)

if TYPE_CHECKING:
    from tuxnet.ipv4.tcp.tcp_sock import TcpCb, TcpSock
    from tuxnet.skb import SkBuff

_ALIGNED_TS = b"\x01\x01\x08\x0a"


# ---------------------------------------------------------------------------------------- options
def _parse(rx: RxOpt, cb: TcpCb, ns: object, estab: bool) -> None:
    """tcp_parse_options into ``rx``: MSS/WSCALE/SACK_PERM only on SYNs outside ESTABLISHED."""
    v = ns.sysctl.v  # type: ignore[attr-defined]
    rx.saw_tstamp = False
    rx.saw_unknown = False
    rx.sack_blocks = ()
    syn = bool(cb.tcp_flags & TCPHDR_SYN)
    for opt in cb.hdr.options:
        t = type(opt)
        if t is TcpOptTimestamp:
            if (estab and rx.tstamp_ok) or (not estab and v["net.ipv4.tcp_timestamps"]):
                rx.saw_tstamp = True
                rx.rcv_tsval = opt[0]
                rx.rcv_tsecr = opt[1]
        elif t is TcpOptSack:
            if rx.sack_ok:
                rx.sack_blocks = cb.sack_blocks = opt[0]
        elif t is TcpOptMss:
            if syn and not estab and opt[0]:
                mss = opt[0]
                if rx.user_mss and rx.user_mss < mss:
                    mss = rx.user_mss
                rx.mss_clamp = mss
        elif t is TcpOptWscale:
            if syn and not estab and v["net.ipv4.tcp_window_scaling"]:
                rx.wscale_ok = True
                # Linux clamps an illegal shift (> 14) with a warning
                rx.snd_wscale = min(opt[0], TCP_MAX_WSCALE)
        elif t is TcpOptSackPerm:
            if syn and not estab and v["net.ipv4.tcp_sack"]:
                rx.sack_ok = TCP_SACK_SEEN
        elif opt.kind > 1:
            rx.saw_unknown = True


def parse_options_into(net: object, cb: TcpCb, rx: RxOpt | None = None,
                       mss_clamp: int = 536, user_mss: int = 0) -> RxOpt | None:
    """Parse a segment's options into a fresh tcp_options_received (None when there are none), with
    estab=0 as Linux does outside full sockets: the timestamp counts whenever the sysctl is on."""
    if cb.doff <= 5:
        return None
    if rx is None:
        rx = RxOpt()
        rx.mss_clamp = mss_clamp
        rx.user_mss = user_mss
    _parse(rx, cb, net.ns, estab=False)  # type: ignore[attr-defined]
    return rx


def tcp_fast_parse_options(tp: TcpSock, cb: TcpCb) -> bool:
    """Timestamps in Linux's aligned layout are taken directly; else the full walk (estab rules)."""
    rx = tp.rx_opt
    if cb.doff == 5:
        rx.saw_tstamp = False
        rx.sack_blocks = ()
        return False
    raw = cb.hdr.options_bytes
    if rx.tstamp_ok and cb.doff == 8 and raw[:4] == _ALIGNED_TS:
        rx.saw_tstamp = True
        rx.sack_blocks = ()
        rx.rcv_tsval = int.from_bytes(raw[4:8], "big")
        ecr = int.from_bytes(raw[8:12], "big")
        rx.rcv_tsecr = (ecr - tp.tsoffset) & U32 if ecr else 0
        return True
    _parse(rx, cb, tp.ns, estab=True)
    if rx.saw_tstamp and rx.rcv_tsecr:
        rx.rcv_tsecr = (rx.rcv_tsecr - tp.tsoffset) & U32
    return True


def tcp_store_ts_recent(tp: TcpSock) -> None:
    tp.rx_opt.ts_recent = tp.rx_opt.rcv_tsval
    tp.rx_opt.ts_recent_stamp = ktime_get_seconds(tp.ns)


def tcp_paws_check(tp: TcpSock, paws_win: int) -> bool:
    rx = tp.rx_opt
    if seq_sub(rx.ts_recent, rx.rcv_tsval) <= paws_win:
        return True
    if ktime_get_seconds(tp.ns) - rx.ts_recent_stamp >= 0x7FFFFFFF:
        return True
    return not rx.ts_recent


def tcp_replace_ts_recent(tp: TcpSock, seq: int) -> None:
    if tp.rx_opt.saw_tstamp and not seq_after(seq, tp.rcv_wup) and tcp_paws_check(tp, 0):
        tcp_store_ts_recent(tp)


def tcp_tsval_replay(tp: TcpSock) -> int:
    """How far back an old TSval may be for a disordered pure ACK (6.15+: RTO at 1200 Hz, since
    some peers use such a clock)."""
    return tp.icsk_rto * 1200 // 1000


def tcp_disordered_ack_check(tp: TcpSock, cb: TcpCb) -> SkbDropReason | None:
    """Why a segment failing PAWS is dropped, or None for a harmless reordered duplicate ACK."""
    seq = cb.seq
    ack = cb.ack_seq
    reason = SkbDropReason.TCP_RFC7323_PAWS
    if not cb.tcp_flags & TCPHDR_ACK or seq != cb.end_seq:
        return reason  # not a pure ACK
    if seq != tp.rcv_nxt:
        return SkbDropReason.TCP_RFC7323_PAWS_ACK if seq_before(seq, tp.rcv_nxt) else reason
    if ack != tp.snd_una:
        return reason  # not a duplicate ACK
    if tcp_ack.tcp_may_update_window(tp, ack, seq, cb.window << tp.rx_opt.snd_wscale):
        return reason
    if seq_sub(tp.rx_opt.ts_recent, tp.rx_opt.rcv_tsval) > tcp_tsval_replay(tp):
        return reason
    return None


def tcp_sequence(tp: TcpSock, seq: int, end_seq: int) -> SkbDropReason | None:
    """RFC 9293 3.10.7.4 acceptability, against RCV.WUP so a delayed ACK's window still counts.
    Linux 6.17+: a segment that starts in the window but ends beyond it is only accepted while
    the receive queue is empty.

    The right edge is the current window's, even when a memory squeeze (ICSK_ACK_NOMEM in
    tcp_select_window) has just retracted it: a segment past a zero window is refused, its ACK
    unprocessed, although an earlier window covered it. That is 6.18's behaviour, measured on the
    6.18.44 kernel (tests/differential/test_tcp_shrink.py: a pure ACK at the peer's snd_nxt after the
    squeeze gets a dupack and counts in BeyondWindow). RFC 7323 2.4 wants such segments honoured up
    to the largest window ever advertised; Linux does that from 7.1 ("tcp: implement RFC 7323 window
    retraction receiver requirements", rcv_mwnd_seq), which tuxnet does not mirror yet. Squeezes stay
    rare here because tcp_can_ingest lets a segment overshoot sk_rcvbuf, as 6.18 does."""
    if seq_before(end_seq, tp.rcv_wup):
        return SkbDropReason.TCP_OLD_SEQUENCE
    right = (tp.rcv_nxt + tp.tcp_receive_window()) & U32
    if seq_after(end_seq, right):
        if seq_after(seq, right):
            return SkbDropReason.TCP_INVALID_SEQUENCE
        if tp.sk_receive_queue:
            return SkbDropReason.TCP_INVALID_END_SEQUENCE
    return None


# ---------------------------------------------------------------------------------------- state changes
def tcp_set_state(tp: TcpSock, state: int) -> None:
    ns = tp.ns
    old = tp.sk_state
    mib = ns.mib.tcp
    if state == TCP_ESTABLISHED:
        if old != TCP_ESTABLISHED:
            mib.CurrEstab += 1
    elif state == TCP_CLOSE_WAIT:
        if old == TCP_SYN_RECV:
            mib.CurrEstab += 1
    else:
        if state == TCP_CLOSE:
            if old in (TCP_CLOSE_WAIT, TCP_ESTABLISHED):
                mib.EstabResets += 1
            tp.net.unhash(tp)
            if not tp.sk_userlocks & 8:  # SOCK_BINDPORT_LOCK
                tp.net.inet_put_port(tp)
        if old in (TCP_ESTABLISHED, TCP_CLOSE_WAIT):
            mib.CurrEstab -= 1
    tp.sk_state = state


def tcp_clear_xmit_timers(tp: TcpSock) -> None:
    tp.icsk_retransmit_timer.stop()
    tp.icsk_delack_timer.stop()
    tp.pacing_timer.stop()
    tp.compressed_ack_timer.stop()
    tp.icsk_pending = 0
    tp.icsk_ack.pending = 0


def tcp_done(tp: TcpSock) -> None:
    if tp.sk_state in (TCP_SYN_SENT, TCP_SYN_RECV):
        tp.ns.mib.tcp.AttemptFails += 1
    if tp.fastopen_rsk is not None:
        tcp_fastopen.reqsk_fastopen_remove(tp, tp.fastopen_rsk, False)
    tcp_set_state(tp, TCP_CLOSE)
    tcp_clear_xmit_timers(tp)
    tp.sk_shutdown = SHUTDOWN_MASK
    if not tp.sock_flag("SOCK_DEAD"):
        tp.sk_state_change()
    else:
        tp.net.inet_csk_destroy_sock(tp)


def tcp_write_queue_purge(tp: TcpSock) -> None:
    skb_queue_zcopy_purge(tp.tcp_rtx_queue)
    skb_queue_zcopy_purge(tp.sk_write_queue)
    tp.sk_write_queue.clear()
    tp.tcp_rtx_queue.clear()
    tcp_chrono.tcp_chrono_stop(tp, tcp_chrono.TCP_CHRONO_BUSY)
    tp.tsorted_sent_queue.clear()
    tp.sk_wmem_queued = 0
    tp.packets_out = 0
    tp.retrans_out = tp.lost_out = tp.sacked_out = 0
    tp.undo_marker = 0
    tp.undo_retrans = -1
    tp.highest_sack = None
    tp.lost_skb_hint = tp.retransmit_skb_hint = None
    tp.icsk_backoff = 0


def tcp_reset(tp: TcpSock) -> None:
    """An acceptable RST: the error the application sees depends on the state."""
    st = tp.sk_state
    if st == TCP_SYN_SENT:
        tp.sk_err = errno.ECONNREFUSED
    elif st == TCP_CLOSE_WAIT:
        tp.sk_err = errno.EPIPE
    elif st == TCP_CLOSE:
        return
    else:
        tp.sk_err = errno.ECONNRESET
    tcp_write_queue_purge(tp)
    tcp_done(tp)
    if not tp.sock_flag("SOCK_DEAD"):
        tp.sk_error_report()


def tcp_fin(tp: TcpSock) -> None:
    """The FIN is in sequence: the peer will send no more (RFC 9293 3.10.7.4 eighth step)."""
    tp.inet_csk_schedule_ack()
    tp.sk_shutdown |= RCV_SHUTDOWN
    tp.sock_flags.add("SOCK_DONE")
    st = tp.sk_state
    if st in (TCP_SYN_RECV, TCP_ESTABLISHED):
        tcp_set_state(tp, TCP_CLOSE_WAIT)
        tp.inet_csk_enter_pingpong_mode()
    elif st == TCP_FIN_WAIT1:
        # simultaneous close: ACK the FIN and enter CLOSING
        tcp_ctl.tcp_send_ack(tp)
        tcp_set_state(tp, TCP_CLOSING)
    elif st == TCP_FIN_WAIT2:
        tcp_ctl.tcp_send_ack(tp)
        from tuxnet.ipv4.tcp import tcp_minisocks

        tcp_minisocks.tcp_time_wait(tp.net, tp, TCP_TIME_WAIT, 0)
    # out-of-order data beyond the FIN is dropped
    tp.out_of_order_queue.clear()
    if tp.tcp_is_sack():
        tp.selective_acks.clear()
        tp.rx_opt.num_sacks = 0
        tp.rx_opt.dsack = False
    if not tp.sock_flag("SOCK_DEAD"):
        tp.sk_state_change()


def tcp_reset_check(tp: TcpSock, cb: TcpCb) -> bool:
    """Accept an RST at RCV.NXT - 1 after a FIN (macOS sends FIN then RST with the FIN's seq)."""
    return (cb.seq == ((tp.rcv_nxt - 1) & U32)
            and bool((1 << tp.sk_state) & tcpf(TCP_CLOSE_WAIT, TCP_LAST_ACK, TCP_CLOSING)))


def tcp_drop(tp: TcpSock, skb: SkBuff, reason: SkbDropReason) -> None:
    tp.sk_drops += 1
    tp.ns.kfree_skb(skb, reason)


def tcp_validate_incoming(tp: TcpSock, skb: SkBuff, cb: TcpCb, syn_inerr: bool) -> bool:
    ns = tp.ns
    flags = cb.tcp_flags
    # RFC 7323: PAWS first
    if tcp_fast_parse_options(tp, cb) and tp.rx_opt.saw_tstamp and not tcp_paws_check(tp, TCP_PAWS_WINDOW):
        why = tcp_disordered_ack_check(tp, cb)
        if why is not None and not flags & TCPHDR_RST:  # an RST is accepted even if it failed PAWS
            if flags & TCPHDR_SYN:
                return _syn_challenge(tp, skb, syn_inerr)
            if why is SkbDropReason.TCP_RFC7323_PAWS_ACK:
                # old ACKs are common: counted, no dupack
                ns.mib.tcpext.PAWSOldAck += 1
            else:
                ns.mib.tcpext.PAWSEstab += 1
                if not tcp_ack.tcp_oow_rate_limited(tp, cb, "TCPACKSkippedPAWS"):
                    tcp_data.tcp_send_dupack(tp, cb)
            tcp_drop(tp, skb, why)
            return False
    # step 1: the sequence number
    why = tcp_sequence(tp, cb.seq, cb.end_seq)
    if why is not None:
        if not flags & TCPHDR_RST:
            if flags & TCPHDR_SYN:
                return _syn_challenge(tp, skb, syn_inerr)
            if why is not SkbDropReason.TCP_OLD_SEQUENCE:
                ns.mib.tcpext.BeyondWindow += 1
            if not tcp_ack.tcp_oow_rate_limited(tp, cb, "TCPACKSkippedSeq"):
                tcp_data.tcp_send_dupack(tp, cb)
        elif tcp_reset_check(tp, cb):
            tcp_reset(tp)
            ns.consume_skb(skb)
            return False
        tcp_drop(tp, skb, why)
        return False
    # step 2: the RST bit (RFC 5961 3.2)
    if flags & TCPHDR_RST:
        if cb.seq == tp.rcv_nxt or tcp_reset_check(tp, cb):
            tcp_reset(tp)
            ns.consume_skb(skb)
            return False
        if tp.tcp_is_sack() and tp.rx_opt.num_sacks > 0:
            max_sack = tp.selective_acks[0][1]
            for sp in tp.selective_acks[1:tp.rx_opt.num_sacks]:
                if seq_after(sp[1], max_sack):
                    max_sack = sp[1]
            if cb.seq == max_sack:
                tcp_reset(tp)
                ns.consume_skb(skb)
                return False
        tcp_ack.tcp_send_challenge_ack(tp)
        tcp_drop(tp, skb, SkbDropReason.TCP_RESET)
        return False
    # step 4: a SYN in a synchronized state (RFC 5961 4.2), but the SYN-ACK of a simultaneous open
    if flags & TCPHDR_SYN:
        if (tp.sk_state == TCP_SYN_RECV and tp.sk_socket is not None and flags & TCPHDR_ACK
                and ((cb.seq + 1) & U32) == cb.end_seq and ((cb.seq + 1) & U32) == tp.rcv_nxt
                and cb.ack_seq == tp.snd_nxt):
            return True
        return _syn_challenge(tp, skb, syn_inerr)
    return True


def _syn_challenge(tp: TcpSock, skb: SkBuff, syn_inerr: bool) -> bool:
    ns = tp.ns
    if syn_inerr:
        ns.mib.tcp.InErrs += 1
    ns.mib.tcpext.TCPSYNChallenge += 1
    tcp_ack.tcp_send_challenge_ack(tp)
    tcp_drop(tp, skb, SkbDropReason.TCP_FLAGS)
    return False


# ---------------------------------------------------------------------------------------- established
def _payload(skb: SkBuff, cb: TcpCb) -> bytearray:
    off = cb.payload_off
    return skb.buf[off:off + cb.payload_len]


def _truesize(cb: TcpCb) -> int:
    return rx_truesize(cb.payload_len + cb.doff * 4 + 20 + 14)


def tcp_fast_path_check(tp: TcpSock) -> None:
    if not tp.out_of_order_queue and tp.rcv_wnd and tp.sk_rmem_alloc < tp.sk_rcvbuf and not tp.urg_data:
        tp.pred_flags = True


def tcp_rcv_established(tp: TcpSock, skb: SkBuff, cb: TcpCb) -> None:
    """tcp_rcv_established: header prediction fast path, else the RFC 9293 slow path."""
    ns = tp.ns
    tp.tcp_mstamp_refresh()
    rx = tp.rx_opt
    rx.saw_tstamp = False
    flags = cb.tcp_flags
    if (tp.pred_flags and (flags & ~TCPHDR_PSH) == TCPHDR_ACK and cb.doff * 4 == tp.tcp_header_len
            and (cb.window << rx.snd_wscale) == tp.snd_wnd and cb.seq == tp.rcv_nxt
            and not seq_after(cb.ack_seq, tp.snd_nxt)):
        fast = True
        if tp.tcp_header_len == 20 + TCPOLEN_TSTAMP_ALIGNED:
            raw = cb.hdr.options_bytes
            if raw[:4] != _ALIGNED_TS:
                fast = False
            else:
                rx.saw_tstamp = True
                rx.rcv_tsval = int.from_bytes(raw[4:8], "big")
                ecr = int.from_bytes(raw[8:12], "big")
                rx.rcv_tsecr = (ecr - tp.tsoffset) & U32 if ecr else 0
                rx.sack_blocks = ()
                if seq_sub(rx.rcv_tsval, rx.ts_recent) < 0:
                    fast = False  # PAWS might fail: check in the slow path
        elif cb.doff != 5:
            fast = False
        else:
            rx.sack_blocks = ()
        if fast:
            if cb.payload_len == 0:
                # bulk data transfer: sender side, a pure ACK
                if rx.saw_tstamp and tp.rcv_nxt == tp.rcv_wup:
                    tcp_store_ts_recent(tp)
                tcp_ack.tcp_ack(tp, cb, 0)
                ns.consume_skb(skb)
                tcp_output.tcp_data_snd_check(tp)
                tp.rcv_rtt_last_tsecr = rx.rcv_tsecr
                return
            # bulk data transfer: receiver side (memory not yet reserved: the slow path decides)
            ts = _truesize(cb)
            if not tcp_data.tcp_can_ingest(tp, cb.payload_len):
                return _slow_path(tp, skb, cb)
            if rx.saw_tstamp and tp.rcv_nxt == tp.rcv_wup:
                tcp_store_ts_recent(tp)
            tcp_data.tcp_rcv_rtt_measure_ts(tp, cb)
            ns.mib.tcpext.TCPHPHits += 1
            tcp_data.tcp_queue_rcv(tp, RxSeg(cb.seq, cb.end_seq, _payload(skb, cb), False, ts))
            tcp_data.tcp_event_data_recv(tp, cb, cb.payload_len, ts)
            ack_sent = False
            if cb.ack_seq != tp.snd_una:
                tcp_ack.tcp_ack(tp, cb, FLAG_DATA)
                tcp_output.tcp_data_snd_check(tp)
                ack_sent = not tp.inet_csk_ack_scheduled()
            else:
                tp.snd_wl1 = cb.seq
            if not ack_sent:
                tcp_data.__tcp_ack_snd_check(tp, False)
            ns.consume_skb(skb)
            tcp_data.tcp_data_ready(tp)
            return
    _slow_path(tp, skb, cb)


def _slow_path(tp: TcpSock, skb: SkBuff, cb: TcpCb) -> None:
    if not cb.tcp_flags & (TCPHDR_ACK | TCPHDR_RST | TCPHDR_SYN):
        tcp_drop(tp, skb, SkbDropReason.TCP_FLAGS)
        return
    if not tcp_validate_incoming(tp, skb, cb, True):
        return
    _step5(tp, skb, cb)


def _step5(tp: TcpSock, skb: SkBuff, cb: TcpCb) -> None:
    res = tcp_ack.tcp_ack(tp, cb, FLAG_SLOWPATH | FLAG_UPDATE_TS_RECENT)
    if res < 0:
        tcp_drop(tp, skb, SkbDropReason.TCP_TOO_OLD_ACK if res == tcp_ack.ACK_TOO_OLD
                 else SkbDropReason.TCP_ACK_UNSENT_DATA)
        return
    tcp_data.tcp_rcv_rtt_measure_ts(tp, cb)
    tcp_urg(tp, cb, skb)
    _data_queue(tp, skb, cb)
    if tp.sk_state != TCP_CLOSE:
        tcp_output.tcp_data_snd_check(tp)
        tcp_data.tcp_ack_snd_check(tp)


def _data_queue(tp: TcpSock, skb: SkBuff, cb: TcpCb) -> None:
    if cb.seq == cb.end_seq:
        tp.ns.consume_skb(skb)
        return
    tcp_data.tcp_data_queue(tp, cb, _payload(skb, cb), _truesize(cb), skb)
    tcp_fast_path_check(tp)


def tcp_urg(tp: TcpSock, cb: TcpCb, skb: SkBuff) -> None:
    """Urgent pointer (BSD semantics, tcp_stdurg=0: the pointer is one past the urgent byte)."""
    if cb.tcp_flags & TCPHDR_URG:
        ptr = cb.urg_ptr
        if ptr and not tp.ns.sysctl.v["net.ipv4.tcp_stdurg"]:
            ptr -= 1
        ptr = (ptr + cb.seq) & U32
        if not (seq_after(tp.copied_seq, ptr) or seq_before(ptr, tp.rcv_nxt)
                or (tp.urg_data and not seq_after(ptr, tp.urg_seq))):
            tp.urg_data = TCP_URG_NOTYET
            tp.urg_seq = ptr
            tp.pred_flags = False
    if tp.urg_data == TCP_URG_NOTYET:
        off = (tp.urg_seq - cb.seq) & U32
        if cb.tcp_flags & TCPHDR_SYN:
            off -= 1
        if 0 <= off < cb.payload_len:
            tp.urg_data = TCP_URG_VALID | skb.buf[cb.payload_off + off]
            if not tp.sock_flag("SOCK_DEAD"):
                tp.sk_data_ready()


# ---------------------------------------------------------------------------------------- connect
def tcp_init_transfer(tp: TcpSock) -> None:
    """The connection is established: initial cwnd, congestion control, buffer space."""
    tp.mss_cache = tcp_output.tcp_sync_mss(tp, tp.icsk_pmtu_cookie) if tp.icsk_pmtu_cookie else tp.mss_cache
    if tp.total_retrans > 1 and tp.undo_marker:
        tp.snd_cwnd = 1  # RFC 5681 / 6298: more than one SYN or SYN-ACK was retransmitted
    else:
        rt = tp.sk_dst
        init = int(getattr(rt, "metrics", {}).get("initcwnd", 0)) if rt is not None else 0
        tp.snd_cwnd = min(init or cong.TCP_INIT_CWND, tp.snd_cwnd_clamp)
    tp.snd_cwnd_stamp = tp.jiffies()
    if not tp.icsk_ca_initialized:
        cong.tcp_init_congestion_control(tp)
    tcp_data.tcp_init_buffer_space(tp)


def tcp_finish_connect(tp: TcpSock) -> None:
    tcp_set_state(tp, TCP_ESTABLISHED)
    tp.icsk_ack.lrcvtime = tp.jiffies()
    tcp_init_transfer(tp)
    tp.lsndtime = tp.jiffies()  # no spurious cwnd restart on the first data segment
    if tp.sock_flag("SOCK_KEEPOPEN"):
        tp.sk_timer.reset(tp.ns.loop.now_ns + tp.keepalive_time_when() * NSEC_PER_JIFFY)
    tp.pred_flags = not tp.rx_opt.snd_wscale


def tcp_rcv_synsent_state_process(tp: TcpSock, skb: SkBuff, cb: TcpCb) -> int:
    """1: the caller sends an RST; 0: done; -1: continue with urgent data and output."""
    ns = tp.ns
    rx = tp.rx_opt
    saved_clamp = rx.mss_clamp
    _parse(rx, cb, ns, estab=False)
    foc = tcp_fastopen.parse_fastopen_option(cb)
    if rx.saw_tstamp and rx.rcv_tsecr:
        rx.rcv_tsecr = (rx.rcv_tsecr - tp.tsoffset) & U32
    flags = cb.tcp_flags
    if flags & TCPHDR_ACK:
        # RFC 9293 3.10.7.3: SEG.ACK =< ISS or SEG.ACK > SND.NXT: reset (unless RST)
        if not seq_after(cb.ack_seq, tp.snd_una) or seq_after(cb.ack_seq, tp.snd_nxt):
            if tp.icsk_retransmits == 0:
                # a previous FIN/ACK or RST/ACK might be ignored: retransmit the SYN soon
                tcp_output.inet_csk_reset_xmit_timer(tp, ICSK_TIME_RETRANS, TCP_TIMEOUT_MIN, TCP_RTO_MAX)
            return _synsent_undo(tp, saved_clamp, 1)
        if (rx.saw_tstamp and rx.rcv_tsecr
                and not seq_between(rx.rcv_tsecr, tp.retrans_stamp, tp.tcp_time_stamp_ts())):
            ns.mib.tcpext.PAWSActive += 1
            return _synsent_undo(tp, saved_clamp, 1)
        if flags & TCPHDR_RST:
            tcp_reset(tp)
            ns.consume_skb(skb)
            return 0
        if not flags & TCPHDR_SYN:
            _synsent_undo(tp, saved_clamp, 0)
            tcp_drop(tp, skb, SkbDropReason.TCP_FLAGS)
            return 0
        # our SYN is acknowledged: ESTABLISHED
        tcp_ecn.tcp_ecn_rcv_synack(tp, flags)
        tp.snd_wl1 = cb.seq
        from tuxnet.ipv4.tcp import tcp_recovery

        tcp_recovery.tcp_try_undo_spurious_syn(tp)
        tcp_ack.tcp_ack(tp, cb, FLAG_SLOWPATH)
        tp.rcv_nxt = tp.rcv_wup = (cb.seq + 1) & U32
        tp.rcv_isn = cb.seq
        tp.snd_wnd = cb.window  # RFC 7323: the window of a SYN is never scaled
        if not rx.wscale_ok:
            rx.snd_wscale = rx.rcv_wscale = 0
            tp.window_clamp = min(tp.window_clamp, 65535)
        if rx.saw_tstamp:
            rx.tstamp_ok = True
            tp.tcp_header_len = 20 + TCPOLEN_TSTAMP_ALIGNED
            tp.advmss -= TCPOLEN_TSTAMP_ALIGNED
            tcp_store_ts_recent(tp)
        else:
            tp.tcp_header_len = 20
        tcp_output.tcp_sync_mss(tp, tp.icsk_pmtu_cookie)
        tcp_ctl.tcp_initialize_rcv_mss(tp)
        tp.copied_seq = tp.rcv_nxt
        tcp_finish_connect(tp)
        fastopen_fail = bool(tp.syn_fastopen or tp.syn_data) and tcp_fastopen.tcp_rcv_fastopen_synack(
            tp, skb, cb, foc)
        if not tp.sock_flag("SOCK_DEAD"):
            tp.sk_state_change()
        if fastopen_fail:
            return -1
        if tp.sk_write_pending or tp.defer_accept or tp.inet_csk_in_pingpong_mode():
            # save one ACK: data will follow soon
            tp.inet_csk_schedule_ack()
            tcp_data.tcp_enter_quickack_mode(tp, TCP_MAX_QUICKACKS)
            tcp_output.inet_csk_reset_xmit_timer(tp, ICSK_TIME_DACK, TCP_DELACK_MAX, TCP_RTO_MAX)
            ns.consume_skb(skb)
            return 0
        tcp_ctl.tcp_send_ack(tp)
        return -1
    if flags & TCPHDR_RST:
        _synsent_undo(tp, saved_clamp, 0)
        tcp_drop(tp, skb, SkbDropReason.TCP_RESET)
        return 0
    if rx.ts_recent_stamp and rx.saw_tstamp:
        from tuxnet.ipv4.tcp.tcp_minisocks import tcp_paws_reject

        if tcp_paws_reject(rx, rx.ts_recent, rx.ts_recent_stamp, ktime_get_seconds(ns), False):
            _synsent_undo(tp, saved_clamp, 0)
            tcp_drop(tp, skb, SkbDropReason.TCP_INVALID_SEQUENCE)
            return 0
    if flags & TCPHDR_SYN:
        # crossed SYNs: simultaneous open (or a connect to ourselves)
        tcp_set_state(tp, TCP_SYN_RECV)
        if rx.saw_tstamp:
            rx.tstamp_ok = True
            tcp_store_ts_recent(tp)
            tp.tcp_header_len = 20 + TCPOLEN_TSTAMP_ALIGNED
        else:
            tp.tcp_header_len = 20
        tp.rcv_nxt = tp.copied_seq = tp.rcv_wup = (cb.seq + 1) & U32
        tp.rcv_isn = cb.seq
        tp.snd_wnd = cb.window
        tp.snd_wl1 = cb.seq
        tp.max_window = tp.snd_wnd
        tcp_output.tcp_sync_mss(tp, tp.icsk_pmtu_cookie)
        tcp_ctl.tcp_initialize_rcv_mss(tp)
        tcp_ctl.tcp_send_synack(tp)
        ns.consume_skb(skb)
        return 0
    _synsent_undo(tp, saved_clamp, 0)
    tcp_drop(tp, skb, SkbDropReason.TCP_FLAGS)
    return 0


def _synsent_undo(tp: TcpSock, saved_clamp: int, ret: int) -> int:
    tp.rx_opt.clear()
    tp.rx_opt.mss_clamp = saved_clamp
    return ret


def tcp_rcv_state_process(tp: TcpSock, skb: SkBuff, cb: TcpCb) -> int:
    """All states but ESTABLISHED and TIME_WAIT; nonzero: the caller sends an RST."""
    ns = tp.ns
    flags = cb.tcp_flags
    st = tp.sk_state
    if st == TCP_CLOSE:
        tcp_drop(tp, skb, SkbDropReason.NO_SOCKET)
        return 0
    if st == TCP_LISTEN:
        if flags & TCPHDR_ACK:
            return 1
        if flags & TCPHDR_RST:
            tcp_drop(tp, skb, SkbDropReason.TCP_RESET)
            return 0
        if flags & TCPHDR_SYN:
            if flags & TCPHDR_FIN:
                tcp_drop(tp, skb, SkbDropReason.TCP_FLAGS)
                return 0
            tp.net.tcp_conn_request(tp, skb, cb)
            return 0
        tcp_drop(tp, skb, SkbDropReason.TCP_FLAGS)
        return 0
    if st == TCP_SYN_SENT:
        tp.rx_opt.saw_tstamp = False
        tp.tcp_mstamp_refresh()
        queued = tcp_rcv_synsent_state_process(tp, skb, cb)
        if queued >= 0:
            return queued
        tcp_urg(tp, cb, skb)
        ns.consume_skb(skb)
        tcp_output.tcp_data_snd_check(tp)
        return 0
    tp.tcp_mstamp_refresh()
    tp.rx_opt.saw_tstamp = False
    req = tp.fastopen_rsk
    if (req is not None and flags & (TCPHDR_SYN | TCPHDR_RST | TCPHDR_ACK) == TCPHDR_SYN
            and cb.seq == req.rcv_isn):
        # tcp_check_req for a Fast Open child: a retransmitted SYN gets the SYN-ACK again
        tp.net.tcp_rtx_synack(req, tp)
        ns.consume_skb(skb)
        return 0
    if not flags & (TCPHDR_ACK | TCPHDR_RST | TCPHDR_SYN):
        tcp_drop(tp, skb, SkbDropReason.TCP_FLAGS)
        return 0
    if not tcp_validate_incoming(tp, skb, cb, False):
        return 0
    # step 5: the ACK field
    res = tcp_ack.tcp_ack(tp, cb, FLAG_SLOWPATH | FLAG_UPDATE_TS_RECENT | FLAG_NO_CHALLENGE_ACK)
    if res <= 0:
        if tp.sk_state == TCP_SYN_RECV:
            return 1  # send one RST
        if res < 0:
            # an ACK of unsent data or far too old: challenge it.  An old (duplicate) ACK is
            # accepted during closing: its FIN or data still count (Linux 6.5+)
            tcp_ack.tcp_send_challenge_ack(tp)
            tcp_drop(tp, skb, SkbDropReason.TCP_TOO_OLD_ACK if res == tcp_ack.ACK_TOO_OLD
                     else SkbDropReason.TCP_ACK_UNSENT_DATA)
            return 0
    st = tp.sk_state
    if st == TCP_SYN_RECV:
        tp.delivered += 1  # the SYN-ACK's delivery is not tracked in tcp_ack
        if not tp.srtt_us:
            tcp_ack.tcp_synack_rtt_meas(tp, tp.req or tp.fastopen_rsk)
        from tuxnet.ipv4.tcp import tcp_recovery

        if tp.fastopen_rsk is not None:
            tcp_fastopen.tcp_rcv_synrecv_state_fastopen(tp)
        else:
            tcp_recovery.tcp_try_undo_spurious_syn(tp)
            tp.retrans_stamp = 0
            tcp_init_transfer(tp)
            tp.copied_seq = tp.rcv_nxt
        tcp_set_state(tp, TCP_ESTABLISHED)
        tp.sk_state_change()
        tp.snd_una = cb.ack_seq
        tp.snd_wnd = cb.window << tp.rx_opt.snd_wscale
        tp.snd_wl1 = cb.seq
        if tp.rx_opt.tstamp_ok:
            tp.advmss -= TCPOLEN_TSTAMP_ALIGNED
        ops = tp.icsk_ca_ops
        if ops is None or ops.cong_control is None:
            tcp_ack.tcp_update_pacing_rate(tp)
        tp.lsndtime = tp.jiffies()
        tcp_ctl.tcp_initialize_rcv_mss(tp)
        tp.pred_flags = True
    elif st == TCP_FIN_WAIT1:
        if tp.snd_una == tp.write_seq:
            tcp_set_state(tp, TCP_FIN_WAIT2)
            tp.sk_shutdown |= SEND_SHUTDOWN
            if not tp.sock_flag("SOCK_DEAD"):
                tp.sk_state_change()  # wake up a lingering close()
            else:
                r = _fin_wait1_orphan(tp, skb, cb)
                if r is not None:
                    return r
    elif st == TCP_CLOSING:
        if tp.snd_una == tp.write_seq:
            from tuxnet.ipv4.tcp import tcp_minisocks

            tcp_minisocks.tcp_time_wait(tp.net, tp, TCP_TIME_WAIT, 0)
            ns.consume_skb(skb)
            return 0
    elif st == TCP_LAST_ACK and tp.snd_una == tp.write_seq:
        tcp_done(tp)
        ns.consume_skb(skb)
        return 0
    # step 6: the URG bit
    tcp_urg(tp, cb, skb)
    # step 7: the segment text
    st = tp.sk_state
    queued = False
    if st in (TCP_CLOSE_WAIT, TCP_CLOSING, TCP_LAST_ACK) and not seq_before(cb.seq, tp.rcv_nxt):
        pass  # the peer already sent its FIN: nothing more to accept
    elif st in (TCP_CLOSE_WAIT, TCP_CLOSING, TCP_LAST_ACK, TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_ESTABLISHED):
        # RFC 1122 4.2.2.13: new data after we closed for reading: reset
        if (st != TCP_ESTABLISHED and tp.sk_shutdown & RCV_SHUTDOWN and cb.end_seq != cb.seq
                and seq_after((cb.end_seq - (1 if flags & TCPHDR_FIN else 0)) & U32, tp.rcv_nxt)):
            ns.mib.tcpext.TCPAbortOnData += 1
            tcp_reset(tp)
            return 1
        _data_queue(tp, skb, cb)
        queued = True
    if tp.sk_state != TCP_CLOSE:
        tcp_output.tcp_data_snd_check(tp)
        tcp_data.tcp_ack_snd_check(tp)
    if not queued:
        ns.consume_skb(skb)
    return 0


def _fin_wait1_orphan(tp: TcpSock, skb: SkBuff, cb: TcpCb) -> int | None:
    """Our FIN was ACKed on an orphan: FIN_WAIT2 lives on as a TIME_WAIT bucket (tcp_fin_timeout)."""
    from tuxnet.ipv4.tcp import tcp_minisocks

    ns = tp.ns
    if tp.linger2 < 0:
        tcp_done(tp)
        ns.mib.tcpext.TCPAbortOnData += 1
        return 1
    if cb.end_seq != cb.seq and seq_after((cb.end_seq - (1 if cb.tcp_flags & TCPHDR_FIN else 0)) & U32,
                                          tp.rcv_nxt):
        # out-of-order data or FIN after close()
        tcp_done(tp)
        ns.mib.tcpext.TCPAbortOnData += 1
        return 1
    tmo = tp.tcp_fin_time()
    if tmo > TCP_TIMEWAIT_LEN:
        tp.sk_timer.reset(ns.loop.now_ns + (tmo - TCP_TIMEWAIT_LEN) * NSEC_PER_JIFFY)
    elif cb.tcp_flags & TCPHDR_FIN:
        # keep the full socket to process the FIN (it would otherwise be lost)
        tp.sk_timer.reset(ns.loop.now_ns + tmo * NSEC_PER_JIFFY)
    else:
        tcp_minisocks.tcp_time_wait(tp.net, tp, TCP_FIN_WAIT2, tmo)
        ns.consume_skb(skb)
        return 0
    return None


_unused = (TCPHDR_FIN, TCP_CLOSING)
