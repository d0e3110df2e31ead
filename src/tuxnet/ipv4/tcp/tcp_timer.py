"""TCP timers: retransmission, persist (zero window probe), delayed ACK, keepalive, FIN_WAIT2
(net/ipv4/tcp_timer.c), plus the pacing and compressed-ACK hrtimers of tcp_output.c/tcp_input.c.

Guarantees, as Linux 6.x:
- RTO: TCPTimeouts, the failure counters of the state it interrupts, tcp_enter_loss, the head is
  retransmitted, the RTO doubles (bounded by tcp_rto_max, 120 s). A connection times out (ETIMEDOUT,
  TCPAbortOnTimeout) when ``tcp_retransmits_timed_out`` says so: the time since the first
  retransmission exceeds the model timeout of tcp_retries2 backoffs from 200 ms (924.6 s for 15).
- SYN_SENT: tcp_syn_linear_timeouts (4 on 6.x kernels) retransmissions keep the initial 1 s, then
  the timeout doubles; after tcp_syn_retries + tcp_syn_linear_timeouts retransmissions the connect
  fails: SYNs at 0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s and ETIMEDOUT at 131 s with the defaults
  (older kernels, linear_timeouts 0: 0, 1, 3, 7, 15, 31, 63 and 127 s).
- Persist: probes (TCPWinProbe) back off from the RTO, never time out while the peer ACKs them
  (RFC 1122 4.2.2.17), except with TCP_USER_TIMEOUT or for orphans.
- Delayed ACK: a missed delayed ACK inflates the ATO (or leaves pingpong mode): DelayedACKs.
- Keepalive (SO_KEEPALIVE): idle tcp_keepalive_time (or TCP_KEEPIDLE), then a probe every
  tcp_keepalive_intvl, and after tcp_keepalive_probes unanswered probes an RST and ETIMEDOUT.
- An orphan in FIN_WAIT2 is reset after tcp_fin_timeout when longer than TIME_WAIT's 60 s.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from tuxnet.ipv4.tcp import cong, tcp_ack, tcp_ctl, tcp_output
from tuxnet.ipv4.tcp.tcp_sock import (
    ICSK_ACK_TIMER,
    ICSK_TIME_LOSS_PROBE,
    ICSK_TIME_PROBE0,
    ICSK_TIME_REO_TIMEOUT,
    ICSK_TIME_RETRANS,
    NSEC_PER_JIFFY,
    TCP_ATO_MIN,
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT1,
    TCP_FIN_WAIT2,
    TCP_LAST_ACK,
    TCP_LISTEN,
    TCP_RESOURCE_PROBE_INTERVAL,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    TCP_TIMEOUT_INIT,
    TCP_TIMEWAIT_LEN,
    U32,
    tcpf,
)

if TYPE_CHECKING:
    from tuxnet.ipv4.tcp.tcp_sock import TcpSock


def tcp_model_timeout(tp: TcpSock, boundary: int, rto_base: int) -> int:
    """Milliseconds that ``boundary`` exponentially backed-off retransmissions from ``rto_base`` take."""
    rto_max = tp.tcp_rto_max()
    linear_backoff_thresh = (rto_max // rto_base).bit_length() - 1
    if boundary <= linear_backoff_thresh:
        return ((2 << boundary) - 1) * rto_base
    return ((2 << linear_backoff_thresh) - 1) * rto_base + (boundary - linear_backoff_thresh) * rto_max


def retransmits_timed_out(tp: TcpSock, boundary: int, timeout: int) -> bool:
    if not tp.icsk_retransmits:
        return False
    start_ts = tp.retrans_stamp
    if timeout == 0:
        rto_base = tp.tcp_rto_min()
        if (1 << tp.sk_state) & tcpf(TCP_SYN_SENT, TCP_SYN_RECV):
            rto_base = TCP_TIMEOUT_INIT
        timeout = tcp_model_timeout(tp, boundary, rto_base)
    d = (tp.tcp_time_stamp_ts() - start_ts - timeout) & U32
    return d < 0x80000000


def tcp_write_err(tp: TcpSock) -> None:
    from tuxnet.ipv4.tcp import tcp_input

    tp.sk_err = tp.sk_err_soft or errno.ETIMEDOUT
    tcp_input.tcp_write_queue_purge(tp)
    tcp_input.tcp_done(tp)
    if not tp.sock_flag("SOCK_DEAD"):
        tp.sk_error_report()
    tp.ns.mib.tcpext.TCPAbortOnTimeout += 1


def tcp_orphan_retries(tp: TcpSock, alive: bool) -> int:
    retries = int(tp.ns.sysctl.v["net.ipv4.tcp_orphan_retries"])  # type: ignore[call-overload]
    if tp.sk_err_soft and not alive:
        retries = 0
    if retries == 0 and alive:
        retries = 8  # over 100 s with the minimal RTO of 200 ms
    return retries


def tcp_out_of_resources(tp: TcpSock, do_reset: bool) -> bool:
    """Orphans beyond tcp_max_orphans are killed (with an RST if they sent recently)."""
    net = tp.net
    max_orphans = int(tp.ns.sysctl.v.get("net.ipv4.tcp_max_orphans", 65536))  # type: ignore[call-overload]
    if net.orphan_count <= max_orphans:
        return False
    from tuxnet.ipv4.tcp import tcp_input

    if ((tp.jiffies() - tp.lsndtime) & U32) <= TCP_TIMEWAIT_LEN or (not tp.snd_wnd and not tp.packets_out):
        do_reset = True
    if do_reset:
        tcp_ctl.tcp_send_active_reset(tp)
    tcp_input.tcp_done(tp)
    tp.ns.mib.tcpext.TCPAbortOnMemory += 1
    return True


def tcp_write_timeout(tp: TcpSock) -> bool:
    """True when the connection has given up (the error is reported)."""
    v = tp.ns.sysctl.v
    expired = False
    if (1 << tp.sk_state) & tcpf(TCP_SYN_SENT, TCP_SYN_RECV):
        retry_until = tp.icsk_syn_retries or int(v["net.ipv4.tcp_syn_retries"])  # type: ignore[call-overload]
        max_retransmits = retry_until
        if tp.sk_state == TCP_SYN_SENT:
            # Linux 6.x: the first tcp_syn_linear_timeouts retransmissions come on top
            max_retransmits += int(v.get("net.ipv4.tcp_syn_linear_timeouts", 0))  # type: ignore[call-overload]
        expired = tp.icsk_retransmits >= max_retransmits
    else:
        if retransmits_timed_out(tp, int(v["net.ipv4.tcp_retries1"]), 0):  # type: ignore[call-overload]
            tp.sk_dst = None  # dst_negative_advice: look the route up again
        retry_until = int(v["net.ipv4.tcp_retries2"])  # type: ignore[call-overload]
        if tp.sock_flag("SOCK_DEAD"):
            alive = tp.icsk_rto < tp.tcp_rto_max()
            retry_until = tcp_orphan_retries(tp, alive)
            do_reset = alive or not retransmits_timed_out(tp, retry_until, 0)
            if tcp_out_of_resources(tp, do_reset):
                return True
    if not expired:
        expired = retransmits_timed_out(tp, retry_until, tp.icsk_user_timeout)
    if expired:
        tcp_write_err(tp)
        return True
    return False


def tcp_clamp_rto_to_user_timeout(tp: TcpSock) -> int:
    user_timeout = tp.icsk_user_timeout
    if not user_timeout:
        return tp.icsk_rto
    elapsed = (tp.tcp_time_stamp_ts() - tp.retrans_stamp) & U32
    remaining = user_timeout - elapsed
    if remaining <= 0:
        return 1  # the user timeout has passed: fire as soon as possible
    return min(tp.icsk_rto, remaining)


def tcp_update_rto_stats(tp: TcpSock) -> None:
    if not tp.icsk_retransmits:
        tp.total_rto_recoveries += 1
        tp.rto_stamp = tp.tcp_time_stamp_ts()
    tp.icsk_retransmits += 1
    tp.total_rto += 1


def tcp_retransmit_timer(tp: TcpSock) -> None:
    from tuxnet.ipv4.tcp import tcp_recovery

    ns = tp.ns
    v = ns.sysctl.v
    if tp.fastopen_rsk is not None:
        # a Fast Open child resends only its SYN-ACK until the handshake completes
        from tuxnet.ipv4.tcp import tcp_fastopen

        tcp_fastopen.tcp_fastopen_synack_timer(tp)
        return
    if not tp.packets_out:
        return
    skb = tp.tcp_rtx_queue_head()
    if skb is None:
        return
    tp.tlp_high_seq = 0
    if (not tp.snd_wnd and not tp.sock_flag("SOCK_DEAD")
            and not (1 << tp.sk_state) & tcpf(TCP_SYN_SENT, TCP_SYN_RECV)):
        # the receiver shrank its window to zero: retransmissions become zero-window probes and
        # the connection does not time out (unless the peer stays silent beyond tcp_rto_max)
        if ((tp.jiffies() - tp.rcv_tstamp) & U32) > tp.tcp_rto_max():
            tcp_write_err(tp)
            return
        tcp_recovery.tcp_enter_loss(tp)
        tcp_ctl.tcp_retransmit_skb(tp, skb)
        tp.sk_dst = None
    else:
        ns.mib.tcpext.TCPTimeouts += 1
        if tcp_write_timeout(tp):
            return
        if tp.icsk_retransmits == 0:
            ext = ns.mib.tcpext
            state = tp.icsk_ca_state
            if state == cong.TCP_CA_Recovery:
                if tp.tcp_is_sack():
                    ext.TCPSackRecoveryFail += 1
                else:
                    ext.TCPRenoRecoveryFail += 1
            elif state == cong.TCP_CA_Loss:
                ext.TCPLossFailures += 1
            elif state == cong.TCP_CA_Disorder or tp.sacked_out:
                if tp.tcp_is_sack():
                    ext.TCPSackFailures += 1
                else:
                    ext.TCPRenoFailures += 1
        tcp_recovery.tcp_enter_loss(tp)
        tcp_update_rto_stats(tp)
        head = tp.tcp_rtx_queue_head()
        if head is not None and tcp_ctl.tcp_retransmit_skb(tp, head) > 0:
            tcp_output.inet_csk_reset_xmit_timer(tp, ICSK_TIME_RETRANS, TCP_RESOURCE_PROBE_INTERVAL,
                                                 tp.tcp_rto_max())
            return
    # exponential backoff, except for the first linear SYN timeouts of Linux 6.x
    if (tp.sk_state != TCP_SYN_SENT
            or tp.total_rto > int(v.get("net.ipv4.tcp_syn_linear_timeouts", 0))):  # type: ignore[call-overload]
        tp.icsk_backoff += 1
        tp.icsk_rto = min(tp.icsk_rto << 1, tp.tcp_rto_max())
    tcp_output.inet_csk_reset_xmit_timer(tp, ICSK_TIME_RETRANS, tcp_clamp_rto_to_user_timeout(tp),
                                         tp.tcp_rto_max())
    if retransmits_timed_out(tp, int(v["net.ipv4.tcp_retries1"]) + 1, 0):  # type: ignore[call-overload]
        tp.sk_dst = None


def tcp_probe_timer(tp: TcpSock) -> None:
    skb = tp.tcp_send_head()
    if tp.packets_out or skb is None:
        tp.icsk_probes_out = 0
        tp.icsk_probes_tstamp = 0
        return
    if not tp.icsk_probes_tstamp:
        tp.icsk_probes_tstamp = tp.jiffies()
    elif tp.icsk_user_timeout and ((tp.jiffies() - tp.icsk_probes_tstamp) & U32) >= tp.icsk_user_timeout:
        tcp_write_err(tp)
        return
    max_probes = int(tp.ns.sysctl.v["net.ipv4.tcp_retries2"])  # type: ignore[call-overload]
    if tp.sock_flag("SOCK_DEAD"):
        rto_max = tp.tcp_rto_max()
        alive = min(tp.icsk_rto << min(tp.icsk_backoff, 31), rto_max) < rto_max
        max_probes = tcp_orphan_retries(tp, alive)
        if not alive and tp.icsk_backoff >= max_probes:
            tcp_write_err(tp)
            return
        if tcp_out_of_resources(tp, True):
            return
    if tp.icsk_probes_out >= max_probes:
        tcp_write_err(tp)
    else:
        tcp_ctl.tcp_send_probe0(tp)


def tcp_write_timer(tp: TcpSock) -> None:
    """The retransmit timer fired as RETRANS, PROBE0, LOSS_PROBE or REO_TIMEOUT."""
    from tuxnet.ipv4.tcp import tcp_recovery

    if (1 << tp.sk_state) & tcpf(TCP_CLOSE, TCP_LISTEN) or not tp.icsk_pending:
        return
    now = tp.ns.loop.now_ns
    if tp.icsk_timeout > now:
        tp.icsk_retransmit_timer.reset(tp.icsk_timeout)
        return
    tp.tcp_mstamp_refresh()
    event = tp.icsk_pending
    if event == ICSK_TIME_REO_TIMEOUT:
        tcp_recovery.tcp_rack_reo_timeout(tp)
    elif event == ICSK_TIME_LOSS_PROBE:
        tcp_recovery.tcp_send_loss_probe(tp)
    elif event == ICSK_TIME_RETRANS:
        tp.icsk_pending = 0
        tcp_retransmit_timer(tp)
    elif event == ICSK_TIME_PROBE0:
        tp.icsk_pending = 0
        tcp_probe_timer(tp)


def tcp_delack_timer(tp: TcpSock) -> None:
    from tuxnet.ipv4.tcp import tcp_data

    if (1 << tp.sk_state) & tcpf(TCP_CLOSE, TCP_LISTEN):
        return
    if tp.compressed_ack:
        tp.tcp_mstamp_refresh()
        tcp_data.tcp_sack_compress_send_ack(tp)
        return
    ack = tp.icsk_ack
    if not ack.pending & ICSK_ACK_TIMER:
        return
    if ack.timeout > tp.ns.loop.now_ns:
        tp.icsk_delack_timer.reset(ack.timeout)
        return
    ack.pending &= ~ICSK_ACK_TIMER
    if tp.inet_csk_ack_scheduled():
        if not tp.inet_csk_in_pingpong_mode():
            ack.ato = min(ack.ato << 1, tp.icsk_rto)  # delayed ACK missed: inflate ATO
        else:
            tp.inet_csk_exit_pingpong_mode()
            ack.ato = TCP_ATO_MIN
        tp.tcp_mstamp_refresh()
        tcp_ctl.tcp_send_ack(tp)
        tp.ns.mib.tcpext.DelayedACKs += 1


def keepalive_time_elapsed(tp: TcpSock) -> int:
    now = tp.jiffies()
    return min((now - tp.icsk_ack.lrcvtime) & U32, (now - tp.rcv_tstamp) & U32)


def inet_csk_reset_keepalive_timer(tp: TcpSock, when: int) -> None:
    tp.sk_timer.reset(tp.ns.loop.now_ns + when * NSEC_PER_JIFFY)


def tcp_keepalive_timer(tp: TcpSock) -> None:
    """sk_timer: keepalive probes, and the end of an orphan's long FIN_WAIT2."""
    from tuxnet.ipv4.tcp import tcp_input, tcp_minisocks

    if tp.sk_state == TCP_LISTEN:
        return
    tp.tcp_mstamp_refresh()
    if tp.sk_state == TCP_FIN_WAIT2 and tp.sock_flag("SOCK_DEAD"):
        if tp.linger2 >= 0:
            tmo = tp.tcp_fin_time() - TCP_TIMEWAIT_LEN
            if tmo > 0:
                tcp_minisocks.tcp_time_wait(tp.net, tp, TCP_FIN_WAIT2, tmo)
                return
        tcp_ctl.tcp_send_active_reset(tp)
        tcp_input.tcp_done(tp)
        return
    if not tp.sock_flag("SOCK_KEEPOPEN") or (1 << tp.sk_state) & tcpf(TCP_CLOSE, TCP_SYN_SENT):
        return
    elapsed = tp.keepalive_time_when()
    if not (tp.packets_out or tp.sk_write_queue):
        elapsed = keepalive_time_elapsed(tp)
        if elapsed >= tp.keepalive_time_when():
            user_timeout = tp.icsk_user_timeout
            if ((user_timeout and elapsed >= user_timeout and tp.icsk_probes_out > 0)
                    or (not user_timeout and tp.icsk_probes_out >= tp.keepalive_probes_n())):
                tcp_ctl.tcp_send_active_reset(tp)
                tcp_write_err(tp)
                return
            if tcp_ctl.tcp_write_wakeup(tp, "TCPKeepAlive") <= 0:
                tp.icsk_probes_out += 1
                elapsed = tp.keepalive_intvl_when()
            else:
                elapsed = TCP_RESOURCE_PROBE_INTERVAL  # local congestion: try harder
        else:
            elapsed = tp.keepalive_time_when() - elapsed
    inet_csk_reset_keepalive_timer(tp, elapsed)


def tcp_set_keepalive(tp: TcpSock, val: bool) -> None:
    if (1 << tp.sk_state) & tcpf(TCP_CLOSE, TCP_LISTEN):
        return
    if val and not tp.sock_flag("SOCK_KEEPOPEN"):
        inet_csk_reset_keepalive_timer(tp, tp.keepalive_time_when())
    elif not val:
        tp.sk_timer.stop()


def tcp_pace_kick(tp: TcpSock) -> None:
    """The pacing timer: resume transmission (tcp_tsq_write)."""
    if (1 << tp.sk_state) & tcpf(TCP_ESTABLISHED, TCP_FIN_WAIT1, TCP_CLOSING, TCP_CLOSE_WAIT, TCP_LAST_ACK):
        tp.tcp_mstamp_refresh()
        if tp.lost_out > tp.retrans_out and tp.snd_cwnd > cong.tcp_packets_in_flight(tp):
            tcp_ctl.tcp_xmit_retransmit_queue(tp)
        tcp_output.tcp_write_xmit(tp, tcp_output.tcp_current_mss(tp), tp.nonagle, 0)


def tcp_compressed_ack_kick(tp: TcpSock) -> None:
    if tp.compressed_ack:
        # one ACK goes out: it is not counted as compressed
        tp.compressed_ack -= 1
        tcp_ctl.tcp_send_ack(tp)


_unused = (tcp_ack, TCP_SYN_RECV, TCP_LAST_ACK, TCP_CLOSE_WAIT, TCP_CLOSING, TCP_FIN_WAIT1)
