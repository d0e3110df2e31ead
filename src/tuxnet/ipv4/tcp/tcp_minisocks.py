"""Mini sockets: request socks (SYN_RECV) and TIME_WAIT socks (net/ipv4/tcp_minisocks.c,
net/ipv4/inet_connection_sock.c request queue and reqsk timer, net/ipv4/inet_timewait_sock.c).

Guarantees, as Linux 6.x:
- A SYN to a listener creates a ``RequestSock`` (state TCP_NEW_SYN_RECV, hashed in the
  established table) and a SYN-ACK; the SYN-ACK is retransmitted at 1, 3, 7, 15, 31 s
  (tcp_synack_retries=5, each timeout doubling from 1 s) and the request dropped at 63 s.
- ``tcp_check_req`` handles segments for a request as Linux does: a retransmitted SYN re-sends
  the SYN-ACK, an ACK that does not acknowledge our ISN gets an RST from the listener, out-of-window
  or PAWS-failing segments get an ACK, RST or SYN kill the request (EmbryonicRsts), and the valid
  ACK creates the child socket (tcp_create_openreq_child) unless the accept queue is full
  (ListenOverflows, ListenDrops; the ACK is then ignored unless tcp_abort_on_overflow).
- ``tcp_time_wait`` replaces a closing socket by a ``TimewaitSock`` (TIME_WAIT for 60 s, or the
  FIN_WAIT2 substate of an orphan for tcp_fin_timeout); ``tcp_timewait_state_process`` ACKs
  retransmitted FINs (restarting the 60 s), is killed by an in-window RST (TIME_WAIT
  assassination, rfc1337=0), accepts a new SYN with a higher sequence number or timestamp (a new
  incarnation, ISN = old snd_nxt + 65537), ACKs everything else out of window (rate limited).
  Counters: TW (expired), TWKilled, TWRecycled, PAWSTimewait, TCPTimeWaitOverflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuxnet.core.trace import SkbDropReason
from tuxnet.ipv4.tcp import cong, tcp_output
from tuxnet.ipv4.tcp.tcp_sock import (
    HZ,
    NSEC_PER_JIFFY,
    TCP_FIN_WAIT2,
    TCP_NEW_SYN_RECV,
    TCP_PAWS_MSL,
    TCP_RTO_MAX,
    TCP_SYN_RECV,
    TCP_TIME_WAIT,
    TCP_TIMEOUT_INIT,
    TCP_TIMEWAIT_LEN,
    TCPHDR_ACK,
    TCPHDR_FIN,
    TCPHDR_RST,
    TCPHDR_SYN,
    TCPOLEN_TSTAMP_ALIGNED,
    U32,
    SkTimer,
    TcpSock,
    tcp_clock_ns,
    ts_ms,
)
from tuxnet.wire.seqnum import seq_after, seq_before, seq_between, seq_sub

if TYPE_CHECKING:
    from tuxnet.ipv4.tcp.tcp_ipv4 import TcpNet
    from tuxnet.ipv4.tcp.tcp_sock import RxOpt, TcpCb
    from tuxnet.skb import SkBuff

TCP_TW_SUCCESS = 0
TCP_TW_RST = 1
TCP_TW_ACK = 2
TCP_TW_SYN = 3


def ktime_get_seconds(ns: Any) -> int:
    """Monotonic seconds; the lab clock starts at 0, a booted kernel's at a few seconds: +1 keeps 0
    meaning "never" for ts_recent_stamp."""
    return ns.loop.now_ns // 1_000_000_000 + 1


def tcp_paws_check(rx: RxOpt, ts_recent: int, ts_recent_stamp: int, now_s: int, paws_win: int) -> bool:
    """True if the timestamp passes PAWS (RFC 7323 5.3): not older than ts_recent by more than
    ``paws_win``, or ts_recent unusable (stale beyond TCP_PAWS_WRAP, or 0 as some stacks send)."""
    if seq_sub(ts_recent, rx.rcv_tsval) <= paws_win:
        return True
    if now_s - ts_recent_stamp >= 0x7FFFFFFF:
        return True
    return not ts_recent


def tcp_paws_reject(rx: RxOpt, ts_recent: int, ts_recent_stamp: int, now_s: int, rst: bool) -> bool:
    if tcp_paws_check(rx, ts_recent, ts_recent_stamp, now_s, 0):
        return False
    # an RST may be older than ts_recent by up to MSL
    return not (rst and now_s - ts_recent_stamp >= TCP_PAWS_MSL)


def tcp_in_window(seq: int, end_seq: int, s_win: int, e_win: int) -> bool:
    if seq == s_win:
        return True
    if seq_after(end_seq, s_win) and seq_before(seq, e_win):
        return True
    return seq == e_win and seq == end_seq


# ---------------------------------------------------------------------------------------- requests
class RequestSock:
    """struct tcp_request_sock: a connection request in SYN_RECV, waiting for the final ACK."""

    __slots__ = ("listener", "net", "sk_state", "ir_loc_addr", "ir_rmt_addr", "ir_num", "ir_rmt_port",
                 "ir_iif", "rcv_isn", "rcv_nxt", "snt_isn", "snt_synack", "ts_recent", "ts_off", "mss",
                 "tstamp_ok", "sack_ok", "wscale_ok", "snd_wscale", "rcv_wscale", "rsk_rcv_wnd",
                 "rsk_window_clamp", "num_timeout", "num_retrans", "timeout", "acked", "last_oow_ack_time",
                 "snt_tsval_first", "snt_tsval_last", "ecn_ok", "syn_tos", "rsk_timer", "syncookie",
                 "linked", "ir_mark", "tfo_listener")

    def __init__(self, listener: TcpSock, net: TcpNet) -> None:
        self.listener = listener
        self.net = net
        self.sk_state = TCP_NEW_SYN_RECV
        self.ir_loc_addr = 0
        self.ir_rmt_addr = 0
        self.ir_num = 0
        self.ir_rmt_port = 0
        self.ir_iif = 0
        self.rcv_isn = 0
        self.rcv_nxt = 0
        self.snt_isn = 0
        self.snt_synack = 0  # us of the first SYN-ACK
        self.ts_recent = 0
        self.ts_off = 0
        self.mss = 0
        self.tstamp_ok = False
        self.sack_ok = 0
        self.wscale_ok = False
        self.snd_wscale = 0
        self.rcv_wscale = 0
        self.rsk_rcv_wnd = 0
        self.rsk_window_clamp = 0
        self.num_timeout = 0
        self.num_retrans = 0
        self.timeout = TCP_TIMEOUT_INIT
        self.acked = False
        self.last_oow_ack_time = 0
        self.snt_tsval_first = 0
        self.snt_tsval_last = 0
        self.ecn_ok = False
        self.syn_tos = 0
        self.rsk_timer = SkTimer(listener.ns.loop, self._timer)
        self.syncookie = False
        self.linked = False
        self.ir_mark = 0
        self.tfo_listener = False

    def key(self) -> tuple[int, int, int, int]:
        return (self.ir_loc_addr, self.ir_num, self.ir_rmt_addr, self.ir_rmt_port)

    def reqsk_timeout(self, max_timeout: int) -> int:
        return min(self.timeout << self.num_timeout, max_timeout)

    def _timer(self) -> None:
        reqsk_timer_handler(self)

    def __repr__(self) -> str:
        return (f"<RequestSock {self.ir_loc_addr:#x}:{self.ir_num} <- "
                f"{self.ir_rmt_addr:#x}:{self.ir_rmt_port}>")


def tcp_synack_window(req: RequestSock) -> int:
    return min(req.rsk_rcv_wnd, 65535)


def tcp_openreq_init_rwin(req: RequestSock, listener: TcpSock, rt: object) -> None:
    full_space = listener.tcp_full_space()
    mss = tcp_output.tcp_mss_clamp(listener, tcp_output.dst_metric_advmss(listener.ns, rt))
    req.rsk_window_clamp = listener.window_clamp or int(getattr(rt, "metrics", {}).get("window", 0))
    if listener.sk_userlocks & 2 and (req.rsk_window_clamp > full_space or req.rsk_window_clamp == 0):
        req.rsk_window_clamp = full_space
    rcv_wnd = int(getattr(rt, "metrics", {}).get("initrwnd", 0))
    if rcv_wnd and full_space < rcv_wnd * mss:
        full_space = rcv_wnd * mss
    req.rsk_rcv_wnd, req.rsk_window_clamp, req.rcv_wscale = tcp_output.tcp_select_initial_window(
        listener, full_space, mss - (TCPOLEN_TSTAMP_ALIGNED if req.tstamp_ok else 0), req.rsk_window_clamp,
        req.wscale_ok, rcv_wnd)


def reqsk_timer_handler(req: RequestSock) -> None:
    """SYN-ACK retransmission (inet_csk reqsk timer), pruning old requests when the queue fills."""
    listener = req.listener
    ns = listener.ns
    if listener.sk_state != 10 or not req.linked:
        req.net.reqsk_queue_drop(req)
        return
    max_retries = listener.icsk_syn_retries or int(ns.sysctl.v["net.ipv4.tcp_synack_retries"])  # type: ignore[call-overload]
    qlen = listener.syn_queue_len
    if (qlen << 1) > max(8, listener.sk_max_ack_backlog):
        young = listener.syn_queue_young << 1
        while max_retries > 2:
            if qlen < young:
                break
            max_retries -= 1
            young <<= 1
    expire = req.num_timeout >= max_retries
    ns.mib.tcpext.TCPTimeouts += 1  # tcp_syn_ack_timeout
    if not expire:
        req.net.tcp_rtx_synack(req)
        if req.num_timeout == 0:
            listener.syn_queue_young -= 1
        req.num_timeout += 1
        req.rsk_timer.reset(ns.loop.now_ns + req.reqsk_timeout(TCP_RTO_MAX) * NSEC_PER_JIFFY)
        return
    req.net.reqsk_queue_drop(req)


def tcp_check_req(net: TcpNet, sk: TcpSock, skb: SkBuff, cb: TcpCb, req: RequestSock) -> TcpSock | None:
    """Process a segment for a request; returns the child, the listener (to send an RST), or None."""
    from tuxnet.ipv4.tcp import tcp_input

    ns = sk.ns
    flg = cb.tcp_flags & (TCPHDR_RST | TCPHDR_SYN | TCPHDR_ACK)
    paws_reject = False
    tsecr_reject = False
    tmp = tcp_input.parse_options_into(net, cb)
    if tmp is not None and tmp.saw_tstamp:
        if tmp.rcv_tsecr:
            if req.tstamp_ok:
                tsecr_reject = not seq_between(tmp.rcv_tsecr, req.snt_tsval_first, req.snt_tsval_last)
            tmp.rcv_tsecr = (tmp.rcv_tsecr - req.ts_off) & U32
        stamp = ktime_get_seconds(ns) - req.reqsk_timeout(TCP_RTO_MAX) // HZ
        paws_reject = tcp_paws_reject(tmp, req.ts_recent, stamp, ktime_get_seconds(ns),
                                      bool(cb.tcp_flags & TCPHDR_RST))
    # a retransmitted SYN: send the SYN-ACK again and restart its timer
    if cb.seq == req.rcv_isn and flg == TCPHDR_SYN and not paws_reject:
        if (not net.oow_rate_limited(cb, req, "TCPACKSkippedSynRecv") and net.tcp_rtx_synack(req) == 0
                and req.rsk_timer.pending()):
            req.rsk_timer.reset(ns.loop.now_ns + req.reqsk_timeout(TCP_RTO_MAX) * NSEC_PER_JIFFY)
        ns.consume_skb(skb)
        return None
    # an ACK that does not acknowledge our SYN: the listener answers with an RST
    if flg & TCPHDR_ACK and cb.ack_seq != ((req.snt_isn + 1) & U32):
        return sk
    if (paws_reject or tsecr_reject
            or not tcp_in_window(cb.seq, cb.end_seq, req.rcv_nxt,
                                 (req.rcv_nxt + tcp_synack_window(req)) & U32)):
        # out of window: ACK and drop
        if not flg & TCPHDR_RST and not net.oow_rate_limited(cb, req, "TCPACKSkippedSynRecv"):
            net.tcp_v4_reqsk_send_ack(sk, cb, req)
        if paws_reject:
            ns.mib.tcpext.PAWSEstab += 1
            reason = SkbDropReason.TCP_INVALID_SEQUENCE
        elif tsecr_reject:
            ns.mib.tcpext.TSEcrRejected += 1
            reason = SkbDropReason.TCP_INVALID_SEQUENCE
        else:
            reason = SkbDropReason.TCP_OVERWINDOW
        ns.kfree_skb(skb, reason)
        return None
    if tmp is not None and tmp.saw_tstamp and not seq_after(cb.seq, req.rcv_nxt):
        req.ts_recent = tmp.rcv_tsval
    if cb.seq == req.rcv_isn:
        flg &= ~TCPHDR_SYN  # truncate the SYN: it lies before the window
    if flg & (TCPHDR_RST | TCPHDR_SYN):
        ns.mib.tcp.AttemptFails += 1
        return _embryonic_reset(net, sk, skb, cb, req, flg)
    if not flg & TCPHDR_ACK:
        ns.kfree_skb(skb, SkbDropReason.TCP_FLAGS)
        return None
    if req.num_timeout < sk.defer_accept and cb.end_seq == ((req.rcv_isn + 1) & U32):
        req.acked = True
        ns.mib.tcpext.TCPDeferAcceptDrop += 1
        ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
        return None
    child = net.tcp_v4_syn_recv_sock(sk, cb, req)
    if child is None:
        # listen overflow: leave the request; the peer retransmits
        if not ns.sysctl.v["net.ipv4.tcp_abort_on_overflow"]:
            req.acked = True
            ns.kfree_skb(skb, SkbDropReason.TCP_LISTEN_OVERFLOW)
            return None
        return _embryonic_reset(net, sk, skb, cb, req, flg)
    from tuxnet.ipv4.tcp import tcp_ack

    tcp_ack.tcp_synack_rtt_meas(child, req)
    # inet_csk_complete_hashdance: the request leaves the SYN queue, the child joins the accept queue
    net.reqsk_queue_drop(req, replaced=child)
    sk.icsk_accept_queue.append(child)
    sk.sk_ack_backlog += 1
    return child


def _embryonic_reset(net: TcpNet, sk: TcpSock, skb: SkBuff, cb: TcpCb, req: RequestSock, flg: int) -> None:
    if not flg & TCPHDR_RST:
        net.tcp_v4_send_reset(sk, cb)
    if net.reqsk_queue_drop(req):
        sk.ns.mib.tcpext.EmbryonicRsts += 1
    sk.ns.kfree_skb(skb, SkbDropReason.TCP_RESET)
    return None


def tcp_create_openreq_child(net: TcpNet, listener: TcpSock, req: RequestSock, cb: TcpCb) -> TcpSock:
    """inet_csk_clone_lock + tcp_create_openreq_child: the full socket for an accepted request."""
    ns = listener.ns
    newtp = TcpSock(ns, net)
    newtp.sk_state = TCP_SYN_RECV
    # inherited from the listener (sock_copy)
    for attr in ("sk_rcvbuf", "sk_sndbuf", "sk_userlocks", "sk_reuse", "sk_reuseport", "sk_rcvlowat",
                 "sk_lingertime", "sk_mark",
                 "sk_priority", "sk_bound_dev_if", "tos", "ttl", "pmtudisc", "nonagle", "keepalive_time",
                 "keepalive_intvl", "keepalive_probes", "linger2", "icsk_user_timeout", "icsk_syn_retries",
                 "window_clamp_user", "notsent_lowat", "icsk_rto_min", "recvmsg_inq", "sk_tsflags"):
        setattr(newtp, attr, getattr(listener, attr))
    newtp.sock_flags = {f for f in listener.sock_flags
                        if f in ("SOCK_KEEPOPEN", "SOCK_LINGER", "SOCK_URGINLINE", "SOCK_ZEROCOPY",
                                 "SOCK_RCVTSTAMP")}
    newtp.rx_opt.user_mss = listener.rx_opt.user_mss
    # congestion control: the listener's if set by setsockopt, else the default
    if listener.icsk_ca_setsockopt and listener.icsk_ca_ops is not None:
        newtp.icsk_ca_ops = listener.icsk_ca_ops
        newtp.ca_priv = listener.icsk_ca_ops.priv_factory() if listener.icsk_ca_ops.priv_factory else None
        newtp.icsk_ca_setsockopt = True
    else:
        cong.tcp_assign_congestion_control(newtp, str(ns.sysctl.v["net.ipv4.tcp_congestion_control"]))
    seq = (req.rcv_isn + 1) & U32
    newtp.rcv_wup = newtp.copied_seq = newtp.rcv_nxt = seq
    newtp.segs_in = 1
    seq = (req.snt_isn + 1) & U32
    newtp.snd_sml = newtp.snd_una = newtp.snd_nxt = newtp.snd_up = seq
    newtp.snd_wl1 = req.rcv_isn
    jiffies = newtp.jiffies()
    newtp.rtt_min.reset(jiffies, U32)
    newtp.icsk_ack.lrcvtime = jiffies
    newtp.lsndtime = jiffies
    newtp.total_retrans = req.num_retrans
    newtp.write_seq = newtp.pushed_seq = seq
    newtp.isn = req.snt_isn
    newtp.rcv_isn = req.rcv_isn
    rx = newtp.rx_opt
    rx.tstamp_ok = req.tstamp_ok
    rx.sack_ok = req.sack_ok
    newtp.window_clamp = req.rsk_window_clamp
    newtp.rcv_ssthresh = req.rsk_rcv_wnd
    newtp.rcv_wnd = req.rsk_rcv_wnd
    rx.wscale_ok = req.wscale_ok
    if rx.wscale_ok:
        rx.snd_wscale = req.snd_wscale
        rx.rcv_wscale = req.rcv_wscale
    else:
        rx.snd_wscale = rx.rcv_wscale = 0
        newtp.window_clamp = min(newtp.window_clamp, 65535)
    newtp.snd_wnd = cb.window << rx.snd_wscale
    newtp.max_window = newtp.snd_wnd
    if rx.tstamp_ok:
        rx.ts_recent = req.ts_recent
        rx.ts_recent_stamp = ktime_get_seconds(ns)
        newtp.tcp_header_len = 20 + TCPOLEN_TSTAMP_ALIGNED
    else:
        rx.ts_recent_stamp = 0
        newtp.tcp_header_len = 20
    if req.num_timeout:
        newtp.total_rto = req.num_timeout
        newtp.undo_marker = req.snt_isn
        newtp.retrans_stamp = ts_ms(req.snt_synack * 1000)
    newtp.tsoffset = req.ts_off
    if cb.payload_len >= 536:
        newtp.icsk_ack.last_seg_size = cb.payload_len
    rx.mss_clamp = req.mss
    if req.ecn_ok:
        newtp.ecn_flags = 1
    if newtp.sock_flag("SOCK_KEEPOPEN"):
        newtp.sk_timer.reset(ns.loop.now_ns + newtp.keepalive_time_when() * NSEC_PER_JIFFY)
    ns.mib.tcp.PassiveOpens += 1
    return newtp


# ---------------------------------------------------------------------------------------- TIME_WAIT
class TimewaitSock:
    """struct tcp_timewait_sock: what a closed connection leaves for 2*MSL."""

    __slots__ = ("net", "ns", "sk_state", "tw_substate", "tw_rcv_saddr", "tw_daddr", "tw_num", "tw_dport",
                 "tw_rcv_nxt", "tw_snd_nxt", "tw_rcv_wnd", "tw_ts_recent", "tw_ts_recent_stamp",
                 "tw_ts_offset", "tw_rcv_wscale", "tw_entry_stamp", "tw_last_oow_ack_time", "tw_mark",
                 "tw_tos", "tw_ttl", "tw_bound_dev_if", "tw_kill", "tw_timer", "reuse", "tw_expires",
                 "linked")

    def __init__(self, net: TcpNet, sk: TcpSock, state: int) -> None:
        self.net = net
        self.ns = sk.ns
        self.sk_state = TCP_TIME_WAIT
        self.tw_substate = state
        self.tw_rcv_saddr = sk.inet_rcv_saddr
        self.tw_daddr = sk.inet_daddr
        self.tw_num = sk.inet_num
        self.tw_dport = sk.inet_dport
        self.tw_rcv_nxt = sk.rcv_nxt
        self.tw_snd_nxt = sk.snd_nxt
        self.tw_rcv_wnd = sk.tcp_receive_window()
        self.tw_ts_recent = sk.rx_opt.ts_recent
        self.tw_ts_recent_stamp = sk.rx_opt.ts_recent_stamp
        self.tw_ts_offset = sk.tsoffset
        self.tw_rcv_wscale = sk.rx_opt.rcv_wscale
        self.tw_entry_stamp = ts_ms(tcp_clock_ns(sk.ns))  # tcp_clock_ms
        self.tw_last_oow_ack_time = 0
        self.tw_mark = sk.sk_mark
        self.tw_tos = sk.tos
        self.tw_ttl = sk.ttl
        self.tw_bound_dev_if = sk.sk_bound_dev_if
        self.tw_kill = False
        self.tw_timer = SkTimer(sk.ns.loop, self._expire)
        self.reuse = sk.sk_reuse
        self.tw_expires = 0
        self.linked = False

    def key(self) -> tuple[int, int, int, int]:
        return (self.tw_rcv_saddr, self.tw_num, self.tw_daddr, self.tw_dport)

    def schedule(self, timeo: int) -> None:
        """__inet_twsk_schedule: (re)arm the TIME_WAIT timer ``timeo`` jiffies from now."""
        self.tw_kill = timeo <= 4 * HZ
        self.tw_expires = self.ns.loop.now_ns + timeo * NSEC_PER_JIFFY
        self.tw_timer.reset(self.tw_expires)

    def _expire(self) -> None:
        ext = self.ns.mib.tcpext
        if self.tw_kill:
            ext.TWKilled += 1
        else:
            ext.TW += 1
        self.net.inet_twsk_kill(self)

    def __repr__(self) -> str:
        return f"<TimewaitSock {self.tw_rcv_saddr:#x}:{self.tw_num} -> {self.tw_daddr:#x}:{self.tw_dport}>"


def tcp_time_wait(net: TcpNet, sk: TcpSock, state: int, timeo: int) -> None:
    """Move a closing socket to TIME_WAIT (or FIN_WAIT2 for an orphan) and close the full socket."""
    from tuxnet.ipv4.tcp import tcp_input

    ns = sk.ns
    if net.tw_count >= int(ns.sysctl.v["net.ipv4.tcp_max_tw_buckets"]):  # type: ignore[call-overload]
        ns.mib.tcpext.TCPTimeWaitOverflow += 1
    else:
        tw = TimewaitSock(net, sk, state)
        rto = (sk.icsk_rto << 2) - (sk.icsk_rto >> 1)
        if timeo < rto:
            timeo = rto
        if state == TCP_TIME_WAIT:
            timeo = TCP_TIMEWAIT_LEN
        net.inet_twsk_hashdance(tw, sk)
        tw.schedule(timeo)
    tcp_input.tcp_done(sk)


def tcp_timewait_state_process(net: TcpNet, tw: TimewaitSock, skb: SkBuff, cb: TcpCb) -> int:
    from tuxnet.ipv4.tcp import tcp_input

    ns = tw.ns
    paws_reject = False
    saw_tstamp = False
    rcv_tsval = 0
    now_s = ktime_get_seconds(ns)
    flags = cb.tcp_flags
    if cb.doff > 5 and tw.tw_ts_recent_stamp:
        tmp = tcp_input.parse_options_into(net, cb)
        if tmp is not None and tmp.saw_tstamp:
            saw_tstamp = True
            rcv_tsval = tmp.rcv_tsval
            paws_reject = tcp_paws_reject(tmp, tw.tw_ts_recent, tw.tw_ts_recent_stamp, now_s,
                                          bool(flags & TCPHDR_RST))
    rcv_nxt = tw.tw_rcv_nxt
    if tw.tw_substate == TCP_FIN_WAIT2:
        # repeat the checks of tcp_rcv_state_process
        if paws_reject or not tcp_in_window(cb.seq, cb.end_seq, rcv_nxt, (rcv_nxt + tw.tw_rcv_wnd) & U32):
            return _tw_oow(net, tw, cb, "TCPACKSkippedFinWait2")
        if flags & TCPHDR_RST:
            net.inet_twsk_deschedule_put(tw)
            return TCP_TW_SUCCESS
        if flags & TCPHDR_SYN and not seq_before(cb.seq, rcv_nxt):
            return TCP_TW_RST
        if not flags & TCPHDR_ACK or not seq_after(cb.end_seq, rcv_nxt) or cb.end_seq == cb.seq:
            return TCP_TW_SUCCESS  # a dup ACK
        if not flags & TCPHDR_FIN or cb.end_seq != ((rcv_nxt + 1) & U32):
            return TCP_TW_RST  # new data after half-duplex close
        # the FIN arrived: the true TIME_WAIT state
        tw.tw_substate = TCP_TIME_WAIT
        tw.tw_rcv_nxt = cb.end_seq
        if saw_tstamp:
            ts = ts_ms(tcp_clock_ns(ns))
            tw.tw_entry_stamp = ts
            tw.tw_ts_recent_stamp = now_s
            tw.tw_ts_recent = rcv_tsval
        tw.schedule(TCP_TIMEWAIT_LEN)
        return TCP_TW_ACK
    # the real TIME_WAIT state (RFC 1122 4.2.2.13)
    if not paws_reject and cb.seq == rcv_nxt and (cb.seq == cb.end_seq or flags & TCPHDR_RST):
        # an in-window segment can only be an RST or a bare ACK
        if flags & TCPHDR_RST:
            if not ns.sysctl.v["net.ipv4.tcp_rfc1337"]:
                # TIME_WAIT assassination (RFC 1337 hazard H2), as Linux does by default
                net.inet_twsk_deschedule_put(tw)
                return TCP_TW_SUCCESS
        else:
            tw.schedule(TCP_TIMEWAIT_LEN)
        if saw_tstamp:
            tw.tw_ts_recent = rcv_tsval
            tw.tw_ts_recent_stamp = now_s
        return TCP_TW_SUCCESS
    # a new SYN is accepted if it cannot be an old duplicate
    if (flags & TCPHDR_SYN and not flags & (TCPHDR_RST | TCPHDR_ACK) and not paws_reject
            and (seq_after(cb.seq, rcv_nxt)
                 or (saw_tstamp and ((tw.tw_ts_recent - rcv_tsval) & U32) >= 0x80000000))):
        isn = (tw.tw_snd_nxt + 65535 + 2) & U32
        cb.tcp_tw_isn = isn or 1
        return TCP_TW_SYN
    if paws_reject:
        ns.mib.tcpext.PAWSTimewait += 1
    if not flags & TCPHDR_RST:
        # reset the TIME_WAIT timer, unless it is an ACKless SYN below rcv_nxt
        if paws_reject or flags & TCPHDR_ACK:
            tw.schedule(TCP_TIMEWAIT_LEN)
        return _tw_oow(net, tw, cb, "TCPACKSkippedTimeWait")
    return TCP_TW_SUCCESS


def _tw_oow(net: TcpNet, tw: TimewaitSock, cb: TcpCb, counter: str) -> int:
    if not net.oow_rate_limited(cb, tw, counter, attr="tw_last_oow_ack_time"):
        return TCP_TW_ACK
    return TCP_TW_SUCCESS


_unused = (TCPHDR_FIN,)
