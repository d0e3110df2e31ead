"""TCP socket calls: inet_stream_ops (net/ipv4/af_inet.c) and the tcp_* calls of net/ipv4/tcp.c.

Guarantees, as Linux 6.x (errnos as Linux returns them):
- connect (__inet_stream_connect/tcp_v4_connect): EISCONN when connected, EALREADY while
  connecting, EINPROGRESS for a started connect (the facade's plain calls never block); routing
  errors (ENETUNREACH ...) come back at once; a failed attempt reports its error once (ECONNREFUSED
  after an RST, ETIMEDOUT after the SYN retries, EHOSTUNREACH after an ICMP error), through the
  next connect() or SO_ERROR. AF_UNSPEC disconnects (an RST in synchronized states).
- listen: backlog clamped to net.core.somaxconn; EINVAL unless CLOSE/LISTEN; EADDRINUSE if the port
  conflicts. accept: EINVAL unless listening, EAGAIN with an empty accept queue.
- send (tcp_sendmsg): EPIPE when not connected or after shutdown(SHUT_WR) (a pending error such
  as ECONNRESET is reported first), EAGAIN while connecting or when the send buffer is full;
  skbs up to the size goal, PSH on the last of a write, MSG_EOR ends an skb (later writes never
  join it), MSG_MORE/TCP_CORK hold data back, MSG_OOB sets the urgent pointer. recv
  (tcp_recvmsg): data, b"" at EOF, ENOTCONN for a listening or never connected socket, a
  pending error first (ECONNRESET), MSG_PEEK, MSG_WAITALL, MSG_OOB (urgent byte, EINVAL without
  one), MSG_TRUNC; reading opens the window (tcp_cleanup_rbuf) and feeds receive-buffer autotuning.
- shutdown: SHUT_WR sends FIN (tcp_close_state), ENOTCONN on a closed socket, SYN_SENT and
  listening sockets are disconnected. close (__tcp_close): unread data -> RST (TCPAbortOnClose),
  SO_LINGER with 0 -> RST (tcp_disconnect, TCPAbortOnData as Linux counts it), else FIN and the
  orphan finishes in the stack (FIN_WAIT2 bounded by tcp_fin_timeout). A lingering close() does
  not block here: the calls of the facade never sleep.
- Options: TCP_NODELAY, TCP_MAXSEG, TCP_CORK, TCP_KEEPIDLE/INTVL/CNT, TCP_SYNCNT, TCP_LINGER2,
  TCP_DEFER_ACCEPT, TCP_WINDOW_CLAMP, TCP_INFO (struct tcp_info bytes, or ``tcp_get_info`` as a
  dict), TCP_QUICKACK, TCP_CONGESTION (ENOENT for an unknown algorithm), TCP_USER_TIMEOUT,
  TCP_NOTSENT_LOWAT; IPPROTO_IP options through the shared ip_setsockopt.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING

from tuxnet.core.errors import oserror
from tuxnet.ipv4.tcp import (
    cong,
    tcp_ack,
    tcp_chrono,
    tcp_ctl,
    tcp_data,
    tcp_fastopen,
    tcp_input,
    tcp_output,
    tcp_timer,
)
from tuxnet.ipv4.tcp.rate import tcp_rate_check_app_limited
from tuxnet.ipv4.tcp.tcp_sock import (
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    SHUTDOWN_MASK,
    SOCK_BINDADDR_LOCK,
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT1,
    TCP_FIN_WAIT2,
    TCP_LAST_ACK,
    TCP_LISTEN,
    TCP_NAGLE_CORK,
    TCP_NAGLE_PUSH,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    TCP_TIME_WAIT,
    TCP_TIMEWAIT_LEN,
    TCP_URG_READ,
    TCP_URG_VALID,
    TCPHDR_ACK,
    TCPHDR_PSH,
    U32,
    TcpSkb,
    TcpSock,
    tcpf,
)
from tuxnet.sock import msg_zerocopy, timestamping
from tuxnet.sock.af_inet import (
    RecvResult,
)
from tuxnet.sock.constants import (
    EPOLLERR,
    EPOLLHUP,
    EPOLLIN,
    EPOLLOUT,
    EPOLLPRI,
    EPOLLRDHUP,
    EPOLLRDNORM,
    EPOLLWRNORM,
    MSG_DONTWAIT,
    MSG_EOR,
    MSG_ERRQUEUE,
    MSG_MORE,
    MSG_OOB,
    MSG_PEEK,
    MSG_TRUNC,
    MSG_WAITALL,
    MSG_ZEROCOPY,
    SIOCATMARK,
    SIOCINQ,
    SIOCOUTQ,
    SIOCOUTQNSD,
    SOL_TCP,
)
from tuxnet.sock.errqueue import ip_recv_error
from tuxnet.wire.seqnum import seq_after, seq_before

if TYPE_CHECKING:
    pass

SS_DISCONNECTING = 4
TCP_CM_INQ = 36  # tcp_sockopt.TCP_CM_INQ (that module imports this one)
_INT = struct.Struct("=i")

# tcp_close_state: the next state and whether a FIN goes out
_NEW_STATE = {TCP_ESTABLISHED: (TCP_FIN_WAIT1, True), TCP_SYN_SENT: (TCP_CLOSE, False),
              TCP_SYN_RECV: (TCP_FIN_WAIT1, True), TCP_FIN_WAIT1: (TCP_FIN_WAIT1, False),
              TCP_FIN_WAIT2: (TCP_FIN_WAIT2, False), TCP_TIME_WAIT: (TCP_CLOSE, False),
              TCP_CLOSE: (TCP_CLOSE, False), TCP_CLOSE_WAIT: (TCP_LAST_ACK, True),
              TCP_LAST_ACK: (TCP_LAST_ACK, False), TCP_LISTEN: (TCP_CLOSE, False),
              TCP_CLOSING: (TCP_CLOSING, False)}


def sock_error(tp: TcpSock) -> int:
    """sock_error: the pending error, cleared (0 if none)."""
    err = tp.sk_err
    tp.sk_err = 0
    return err


def tcp_close_state(tp: TcpSock) -> bool:
    new, fin = _NEW_STATE.get(tp.sk_state, (TCP_CLOSE, False))
    tcp_input.tcp_set_state(tp, new)
    return fin


# ---------------------------------------------------------------------------------------- write space
def sk_stream_memory_free(tp: TcpSock, wake: int = 0) -> bool:
    if tp.sk_wmem_queued >= tp.sk_sndbuf:
        return False
    lowat = tp.notsent_lowat or int(tp.ns.sysctl.v["net.ipv4.tcp_notsent_lowat"])  # type: ignore[call-overload]
    return (((tp.write_seq - tp.snd_nxt) & U32) << wake) < lowat


def sk_stream_is_writeable(tp: TcpSock) -> bool:
    return (tp.sk_sndbuf - tp.sk_wmem_queued >= tp.sk_wmem_queued >> 1) and sk_stream_memory_free(tp, 1)


def tcp_check_space(tp: TcpSock) -> None:
    """After ACKs freed memory: grow the send buffer and wake a writer that found no space."""
    if "SOCK_NOSPACE" in tp.sock_flags:
        if (not tp.sk_userlocks & 1 and tp.snd_cwnd > cong.tcp_packets_in_flight(tp)):
            tcp_ack.tcp_sndbuf_expand(tp)
            tp.snd_cwnd_stamp = tp.jiffies()
        if sk_stream_is_writeable(tp):
            tp.sock_flags.discard("SOCK_NOSPACE")
            tp.sk_write_space()
            tcp_chrono.tcp_chrono_stop(tp, tcp_chrono.TCP_CHRONO_SNDBUF_LIMITED)


# ---------------------------------------------------------------------------------------- poll
def tcp_poll(tp: TcpSock) -> int:
    state = tp.sk_state
    if state == TCP_LISTEN:
        return EPOLLIN | EPOLLRDNORM if tp.icsk_accept_queue else 0
    mask = 0
    shutdown = tp.sk_shutdown
    if shutdown == SHUTDOWN_MASK or state == TCP_CLOSE:
        mask |= EPOLLHUP
    if shutdown & RCV_SHUTDOWN:
        mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP
    if state != TCP_SYN_SENT and (state != TCP_SYN_RECV or tp.fastopen_rsk is not None):
        target = max(tp.sk_rcvlowat, 1)
        if tp.urg_data and tp.urg_seq == tp.copied_seq and not tp.sock_flag("SOCK_URGINLINE"):
            target += 1
        avail = (tp.rcv_nxt - tp.copied_seq) & U32
        if avail and avail < 0x80000000 and (avail >= target
                                             or tp.tcp_receive_window() <= tp.icsk_ack.rcv_mss):
            mask |= EPOLLIN | EPOLLRDNORM
        if not shutdown & SEND_SHUTDOWN:
            if sk_stream_is_writeable(tp):
                mask |= EPOLLOUT | EPOLLWRNORM
            else:
                tp.sock_flags.add("SOCK_NOSPACE")
        else:
            mask |= EPOLLOUT | EPOLLWRNORM
        if tp.urg_data & TCP_URG_VALID:
            mask |= EPOLLPRI
    elif state == TCP_SYN_SENT and tp.defer_connect:
        # a deferred Fast Open connect: writable, so that write() sends the SYN with data
        mask |= EPOLLOUT | EPOLLWRNORM
    if tp.sk_err or tp.sk_error_queue:
        mask |= EPOLLERR
    return mask


# ---------------------------------------------------------------------------------------- connect
def tcp_v4_connect(tp: TcpSock, daddr: int, dport: int) -> None:
    ns = tp.ns
    net = tp.net
    if (daddr & 0xF0000000) == 0xE0000000 or daddr == 0xFFFFFFFF:
        raise oserror(errno.ENETUNREACH)
    try:
        rt = ns.route.output(daddr, tp.inet_saddr, tp.tos & 0x1E, tp.sk_bound_dev_if, tp.sk_mark)
    except OSError as e:
        if e.errno == errno.ENETUNREACH:
            ns.mib.ip.OutNoRoutes += 1
        raise
    if rt.flags & 0x30000000:  # RTCF_MULTICAST | RTCF_BROADCAST
        raise oserror(errno.ENETUNREACH)
    if not tp.inet_saddr:
        tp.inet_saddr = rt.src
    tp.inet_rcv_saddr = tp.inet_saddr
    tp.inet_dport = dport
    tp.inet_daddr = daddr
    tp.icsk_ext_hdr_len = 0
    tp.rx_opt.mss_clamp = 536
    tcp_input.tcp_set_state(tp, TCP_SYN_SENT)
    try:
        net.inet_hash_connect(tp)
    except OSError:
        tcp_input.tcp_set_state(tp, TCP_CLOSE)
        tp.inet_dport = 0
        if not tp.sk_userlocks & SOCK_BINDADDR_LOCK:
            tp.inet_saddr = tp.inet_rcv_saddr = 0
        raise
    tp.sk_dst = rt
    tp.sk_dst_gen = ns.fib.genid
    if not tp.write_seq:
        tp.write_seq = net.secure_tcp_seq(tp.inet_saddr, tp.inet_daddr, tp.inet_sport, dport)
    tp.tsoffset = net.secure_tcp_ts_off(tp.inet_saddr, tp.inet_daddr)
    tp.inet_id = ns.rng.getrandbits(16)
    tp.isn = tp.write_seq
    if tcp_fastopen.tcp_fastopen_defer_connect(tp):
        return  # TCP_FASTOPEN_CONNECT with a cookie: the first write sends the SYN with data
    err = tcp_ctl.tcp_connect(tp, rt)
    if err:
        tcp_input.tcp_set_state(tp, TCP_CLOSE)
        tp.inet_dport = 0
        raise oserror(-err)


def tcp_disconnect(tp: TcpSock) -> None:
    """ABORT (RFC 9293 3.10.5): an RST in synchronized states, everything forgotten."""
    old = tp.sk_state
    if old != TCP_CLOSE:
        tcp_input.tcp_set_state(tp, TCP_CLOSE)
    if old == TCP_LISTEN:
        inet_csk_listen_stop(tp)
    elif (1 << old) & tcpf(TCP_ESTABLISHED, TCP_CLOSE_WAIT, TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_SYN_RECV) or (
            tp.snd_nxt != tp.write_seq and (1 << old) & tcpf(TCP_CLOSING, TCP_LAST_ACK)):
        tcp_ctl.tcp_send_active_reset(tp)
        tp.sk_err = errno.ECONNRESET
    elif old == TCP_SYN_SENT:
        tp.sk_err = errno.ECONNRESET
    tcp_input.tcp_clear_xmit_timers(tp)
    tp.sk_receive_queue.clear()
    tp.sk_rmem_alloc = 0
    tp.copied_seq = tp.rcv_nxt
    tp.urg_data = 0
    tcp_input.tcp_write_queue_purge(tp)
    tp.out_of_order_queue.clear()
    tp.inet_dport = 0
    if not tp.sk_userlocks & SOCK_BINDADDR_LOCK:
        tp.inet_saddr = tp.inet_rcv_saddr = 0
    tp.sk_shutdown = 0
    tp.sock_flags.discard("SOCK_DONE")
    tp.srtt_us = 0
    tp.mdev_us = 0
    tp.rcv_rtt_last_tsecr = 0
    tp.write_seq = (tp.write_seq + tp.max_window + 2) & U32 or 1
    tp.snd_cwnd = cong.TCP_INIT_CWND
    tp.snd_cwnd_cnt = 0
    tp.is_cwnd_limited = False
    tp.max_packets_out = 0
    tp.window_clamp = 0
    tp.delivered = tp.delivered_ce = 0
    tp.icsk_backoff = 0
    tp.icsk_probes_out = 0
    tp.icsk_rto = 1000
    tp.icsk_rto_min = tp.tcp_rto_min()
    tp.snd_ssthresh = cong.TCP_INFINITE_SSTHRESH
    cong.tcp_set_ca_state(tp, cong.TCP_CA_Open)
    tp.rx_opt.clear()
    tp.rx_opt.num_sacks = 0
    tp.selective_acks.clear()
    tp.rx_opt.ts_recent = tp.rx_opt.ts_recent_stamp = 0
    tp.sk_dst = None
    cong.tcp_cleanup_congestion_control(tp)
    # the Fast Open fields
    if tp.fastopen_rsk is not None:
        tcp_fastopen.reqsk_fastopen_remove(tp, tp.fastopen_rsk, False)
    tp.fastopen_req = None
    tp.defer_connect = False
    tp.fastopen_client_fail = 0
    tp.syn_data_acked = False
    tp.sk_state_change()


def inet_csk_listen_stop(tp: TcpSock) -> None:
    """Children not yet accepted are aborted and forgotten."""
    net = tp.net
    while tp.icsk_accept_queue:
        child = tp.icsk_accept_queue.popleft()
        tp.sk_ack_backlog -= 1
        tcp_disconnect(child)
        child.sock_flags.add("SOCK_DEAD")
        child.sk_socket = None
        net.inet_csk_destroy_sock(child)


# ---------------------------------------------------------------------------------------- send
def tcp_send_mss(tp: TcpSock) -> int:
    return tcp_output.tcp_current_mss(tp)


def forced_push(tp: TcpSock) -> bool:
    return seq_after(tp.write_seq, (tp.pushed_seq + (tp.max_window >> 1)) & U32)


def tcp_mark_push(tp: TcpSock, skb: TcpSkb) -> None:
    skb.tcp_flags |= TCPHDR_PSH
    tp.pushed_seq = tp.write_seq


def tcp_push(tp: TcpSock, flags: int, mss_now: int, nonagle: int) -> None:
    wq = tp.sk_write_queue
    if not wq:
        return
    skb = wq[-1]
    if not flags & MSG_MORE or forced_push(tp):
        tcp_mark_push(tp, skb)
    if flags & MSG_OOB:
        tp.snd_up = tp.write_seq
    # tcp_should_autocork needs skbs still in a qdisc or driver (sk_wmem_alloc): our devices
    # transmit synchronously, so autocorking never applies here.
    if flags & MSG_MORE:
        nonagle = TCP_NAGLE_CORK
    tcp_output.__tcp_push_pending_frames(tp, mss_now, nonagle)


def tcp_sendmsg(tp: TcpSock, data: bytes, flags: int, iov: list[int] | None = None) -> int:
    """Copy ``data`` into the write queue as far as the send buffer allows; push; return bytes taken.
    With MSG_ZEROCOPY on a SO_ZEROCOPY socket the send gets a notification id (msg_zerocopy.py) and
    its user buffers (``iov``: their lengths, one buffer by default) become page frags, at most
    MAX_SKB_FRAGS per segment; a send that takes nothing gives the id back."""
    uarg = tcp_zerocopy_uarg(tp, data, flags)
    try:
        copied = tcp_sendmsg_locked(tp, data, flags, uarg, iov)
    except OSError:
        if uarg is not None:
            msg_zerocopy.msg_zerocopy_put_abort(uarg, True)
        raise
    if uarg is not None:
        msg_zerocopy.net_zcopy_put(uarg)
    return copied


def tcp_zerocopy_uarg(tp: TcpSock, data: bytes, flags: int) -> msg_zerocopy.UbufInfo | None:
    """The start of tcp_sendmsg_locked: a MSG_ZEROCOPY send on a SO_ZEROCOPY socket takes its
    notification id (extending the unsent tail's uarg when it can)."""
    if flags & MSG_ZEROCOPY and data and "SOCK_ZEROCOPY" in tp.sock_flags:
        wq = tp.sk_write_queue
        return msg_zerocopy.msg_zerocopy_realloc(tp, len(data), wq[-1].zc if wq else None)
    return None


def tcp_sendmsg_locked(tp: TcpSock, data: bytes, flags: int, uarg: msg_zerocopy.UbufInfo | None,
                       iov: list[int] | None = None) -> int:
    """tcp_sendmsg with the send's uarg already taken (the caller puts or aborts it)."""
    if iov is None:
        iov = [len(data)]
    # Is sending application-limited? tcp_sendmsg_locked() asks once per call, before it waits for
    # the connection or copies anything; this (with the TLS/BPF send paths) is Linux's only caller:
    # tcp_ack() never marks the flow, so a sender that keeps the socket full is not app-limited.
    tcp_rate_check_app_limited(tp)
    st = tp.sk_state
    passive_fastopen = st == TCP_SYN_RECV and tp.fastopen_rsk is not None
    if st not in (TCP_ESTABLISHED, TCP_CLOSE_WAIT) and not passive_fastopen:
        # sk_stream_wait_connect (a passive Fast Open socket may send before the handshake ends)
        if tp.sk_err:
            raise oserror(sock_error(tp))
        if st not in (TCP_SYN_SENT, TCP_SYN_RECV):
            raise oserror(sock_error(tp) or errno.EPIPE)
        raise oserror(errno.EAGAIN)
    if tp.sk_err or tp.sk_shutdown & SEND_SHUTDOWN:
        raise oserror(sock_error(tp) or errno.EPIPE)
    tp.tcp_mstamp_refresh()
    mss_now = tcp_send_mss(tp)
    size_goal = tcp_output.tcp_xmit_size_goal(tp, mss_now)
    wq = tp.sk_write_queue
    view = memoryview(data)
    copied = 0
    total = len(data)
    new_segment = False
    while copied < total:
        skb = wq[-1] if wq else None
        copy = size_goal - len(skb.data) if skb is not None else 0
        if copy <= 0 or skb is None or skb.eor or skb.tcp_flags & 0x01 or new_segment:
            new_segment = False
            if not sk_stream_memory_free(tp):
                tp.sock_flags.add("SOCK_NOSPACE")
                if copied:
                    tcp_push(tp, flags & ~MSG_MORE, mss_now, TCP_NAGLE_PUSH)
                    timestamping.tcp_tx_timestamp(tp)
                    return copied
                raise oserror(errno.EAGAIN)
            skb = TcpSkb(tp.write_seq, TCPHDR_ACK)
            tcp_chrono.tcp_add_write_queue_tail(tp, skb)
            tp.sk_wmem_queued += tcp_output.TCP_SKB_OVERHEAD
            skb.overhead = tcp_output.TCP_SKB_OVERHEAD
            tcp_ack.tcp_slow_start_after_idle_check(tp)  # tcp_skb_entail
            copy = size_goal
        copy = min(copy, total - copied)
        if uarg is not None:
            # skb_zerocopy_iter_stream: the user pages become frags of this segment; a segment out
            # of frag slots (EMSGSIZE) or holding another send's uarg (EEXIST) is pushed and closed
            copy = _zerocopy_frags(tp, skb, uarg, iov, copied, copy)
            if not copy:
                tcp_mark_push(tp, skb)
                new_segment = True
                continue
        elif skb.zc is not None:
            # copied bytes after a zerocopy frag need a frag slot of their own
            if skb.nr_frags >= msg_zerocopy.MAX_SKB_FRAGS:
                tcp_mark_push(tp, skb)
                new_segment = True
                continue
            skb.nr_frags += 1
        chunk = view[copied:copied + copy].tobytes()
        skb.data = skb.data + chunk if skb.data else chunk
        if not copied:
            skb.tcp_flags &= ~TCPHDR_PSH
        tp.write_seq = (tp.write_seq + copy) & U32
        skb.end_seq = (skb.end_seq + copy) & U32
        tp.sk_wmem_queued += copy
        copied += copy
        if copied == total:
            if flags & MSG_EOR:
                skb.eor = True  # later writes start a new skb; nothing is ever merged across it
            break
        if len(skb.data) < size_goal or flags & MSG_OOB:
            continue
        if forced_push(tp):
            tcp_mark_push(tp, skb)
            tcp_output.__tcp_push_pending_frames(tp, mss_now, TCP_NAGLE_PUSH)
        elif skb is tp.tcp_send_head():
            tcp_output.tcp_push_one(tp, mss_now)
    if copied:
        timestamping.tcp_tx_timestamp(tp)
        tcp_push(tp, flags, mss_now, tp.nonagle)
    return copied


def _zerocopy_frags(tp: TcpSock, skb: TcpSkb, uarg: msg_zerocopy.UbufInfo, iov: list[int], start: int,
                    copy: int) -> int:
    """How many of ``copy`` bytes (from offset ``start`` of the send) fit in ``skb`` as page frags;
    the segment takes a reference to the uarg and the pages' size in sk_wmem_queued (truesize)."""
    if skb.zc is not None and skb.zc is not uarg:
        return 0
    if skb.zc is None and skb.data:
        skb.nr_frags = max(skb.nr_frags, 1)  # the copied bytes' page frag
    room = msg_zerocopy.MAX_SKB_FRAGS - skb.nr_frags
    if room <= 0:
        return 0
    frags = msg_zerocopy.zerocopy_frags(iov, start, copy)[:room]
    n = sum(frags)
    if n:
        skb.nr_frags += len(frags)
        # a pinned page costs its whole size (truesize += PAGE_ALIGN); the caller adds the n bytes
        extra = msg_zerocopy.PAGE_SIZE * len(frags) - n
        skb.overhead += extra
        tp.sk_wmem_queued += extra
        msg_zerocopy.skb_zcopy_set(skb, uarg)
    return n


# ---------------------------------------------------------------------------------------- receive
def tcp_recv_urg(tp: TcpSock, length: int, flags: int) -> RecvResult:
    if tp.sock_flag("SOCK_URGINLINE") or not tp.urg_data or tp.urg_data == TCP_URG_READ:
        raise oserror(errno.EINVAL)
    if tp.sk_state == TCP_CLOSE and not tp.sock_flag("SOCK_DONE"):
        raise oserror(errno.ENOTCONN)
    if tp.urg_data & TCP_URG_VALID:
        c = tp.urg_data & 0xFF
        if not flags & MSG_PEEK:
            tp.urg_data = TCP_URG_READ
        if length > 0:
            return bytes((c,)), None, MSG_OOB, []
        return b"", None, MSG_OOB | MSG_TRUNC, []
    if tp.sk_state == TCP_CLOSE or tp.sk_shutdown & RCV_SHUTDOWN:
        return b"", None, 0, []
    raise oserror(errno.EAGAIN)


def _readable_bytes(tp: TcpSock) -> tuple[int, bool]:
    """(bytes ready before the next urgent mark or FIN, FIN reached)."""
    avail = 0
    fin = False
    for seg in tp.sk_receive_queue:
        avail += len(seg.data)
        if seg.fin:
            fin = True
            break
    return avail, fin


def tcp_inq(tp: TcpSock) -> int:
    """tcp_inq (SIOCINQ): bytes readable before the urgent mark, the FIN not counted."""
    if (1 << tp.sk_state) & tcpf(TCP_SYN_SENT, TCP_SYN_RECV):
        return 0
    if (tp.sock_flag("SOCK_URGINLINE") or not tp.urg_data or seq_before(tp.urg_seq, tp.copied_seq)
            or not seq_before(tp.urg_seq, tp.rcv_nxt)):
        answ = (tp.rcv_nxt - tp.copied_seq) & U32
        if answ and tp.sock_flag("SOCK_DONE"):
            answ -= 1  # the FIN's sequence number
        return answ
    return (tp.urg_seq - tp.copied_seq) & U32


def tcp_inq_hint(tp: TcpSock) -> int:
    """tcp_inq_hint (the TCP_CM_INQ value): rcv_nxt - copied_seq, and 1 after a FIN with nothing left
    ("tell the user-space to continue reading")."""
    inq = (tp.rcv_nxt - tp.copied_seq) & U32
    if inq >= 0x80000000:
        inq = 0
    if not inq and tp.sock_flag("SOCK_DONE"):
        inq = 1
    return inq


def tcp_ioctl(tp: TcpSock, cmd: int) -> int:
    """tcp_ioctl: SIOCINQ (FIONREAD), SIOCATMARK, SIOCOUTQ (not yet acked) and SIOCOUTQNSD (not yet
    sent); EINVAL on a listener, ENOTTY for other commands (ENOIOCTLCMD through sock_do_ioctl)."""
    if cmd == SIOCATMARK:
        return int(bool(tp.urg_data) and tp.urg_seq == tp.copied_seq)
    if cmd not in (SIOCINQ, SIOCOUTQ, SIOCOUTQNSD):
        raise oserror(errno.ENOTTY)
    if tp.sk_state == TCP_LISTEN:
        raise oserror(errno.EINVAL)
    if cmd == SIOCINQ:
        return tcp_inq(tp)
    if (1 << tp.sk_state) & tcpf(TCP_SYN_SENT, TCP_SYN_RECV):
        return 0
    return (tp.write_seq - (tp.snd_una if cmd == SIOCOUTQ else tp.snd_nxt)) & U32


def tcp_recvmsg(tp: TcpSock, length: int, flags: int, nonblock: bool) -> RecvResult:
    """tcp_recvmsg: the error queue (MSG_ERRQUEUE), else tcp_recvmsg_locked, then the TCP_CM_INQ
    cmsg when TCP_INQ is on."""
    if flags & MSG_ERRQUEUE:
        return ip_recv_error(tp, length)  # inet_recv_error
    inq = tp.recvmsg_inq and tp.sk_state != TCP_LISTEN
    data, addr, mflags, anc = tcp_recvmsg_locked(tp, length, flags, nonblock)
    if inq:
        anc = [*anc, (SOL_TCP, TCP_CM_INQ, _INT.pack(tcp_inq_hint(tp)))]
    return data, addr, mflags, anc


def tcp_recvmsg_locked(tp: TcpSock, length: int, flags: int, nonblock: bool) -> RecvResult:
    if tp.sk_state == TCP_LISTEN:
        raise oserror(errno.ENOTCONN)
    if flags & MSG_OOB:
        return tcp_recv_urg(tp, length, flags)
    peek = bool(flags & MSG_PEEK)
    target = min(max(tp.sk_rcvlowat, 1), length) if length else 0
    if flags & MSG_WAITALL and not peek:
        target = length
    if not nonblock and not flags & MSG_DONTWAIT and length:
        # a sleeper waits until the target is there (or EOF / an error), taking nothing before
        avail, fin = _readable_bytes(tp)
        if (avail < target and not fin and not tp.sk_err and tp.sk_state != TCP_CLOSE
                and not tp.sk_shutdown & RCV_SHUTDOWN):
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
    out: list[bytes] = []
    copied = 0
    rx_tstamp: int | None = None
    seq = tp.copied_seq
    q = tp.sk_receive_queue
    idx = 0
    while copied < length:
        if tp.urg_data and tp.urg_seq == seq and copied:
            break  # stop at the urgent mark
        seg = q[idx] if idx < len(q) else None
        if seg is None:
            if copied:
                break
            if tp.sock_flag("SOCK_DONE"):
                break
            if tp.sk_err:
                raise oserror(sock_error(tp))
            if tp.sk_shutdown & RCV_SHUTDOWN:
                break
            if tp.sk_state == TCP_CLOSE:
                raise oserror(errno.ENOTCONN)  # a never connected socket
            raise oserror(errno.EAGAIN)
        offset = (seq - seg.seq) & U32
        if offset < len(seg.data):
            used = min(len(seg.data) - offset, length - copied)
            if tp.urg_data:
                urg_offset = (tp.urg_seq - seq) & U32
                if urg_offset < used:
                    if not urg_offset:
                        if not tp.sock_flag("SOCK_URGINLINE"):
                            seq = (seq + 1) & U32
                            offset += 1
                            used -= 1
                    else:
                        used = urg_offset
            if used > 0:
                rx_tstamp = seg.tstamp  # tcp_update_recv_tstamps
                if not flags & MSG_TRUNC:
                    out.append(bytes(seg.data[offset:offset + used]))
                seq = (seq + used) & U32
                copied += used
            if not peek:
                _eat(tp, seg, (seq - seg.seq) & U32)
            if tp.urg_data and seq_after(seq, tp.urg_seq):
                tp.urg_data = 0
                tcp_input.tcp_fast_path_check(tp)
            if not peek:
                tp.copied_seq = seq
            if (seq - seg.seq) & U32 < len(seg.data):
                if peek:
                    idx += 1
                continue
        if seg.fin:
            seq = (seq + 1) & U32
            if not peek:
                q.popleft()
                tp.copied_seq = seq
            break
        if peek:
            idx += 1
        else:
            q.popleft()
    if not peek:
        tp.copied_seq = seq
        if copied:
            tcp_data.tcp_rcv_space_adjust(tp)
        tcp_data.__tcp_cleanup_rbuf(tp, copied)
    anc = timestamping.tcp_recv_timestamp(tp, rx_tstamp) if rx_tstamp is not None else []  # TCP_CMSG_TS
    return b"".join(out), None, 0, anc


def _eat(tp: TcpSock, seg: object, consumed: int) -> None:
    """Free what was read from the head segment (its memory, proportionally)."""
    data = seg.data  # type: ignore[attr-defined]
    if consumed <= 0:
        return
    n = min(consumed, len(data))
    total = len(data)
    dec = seg.truesize * n // total if total else seg.truesize  # type: ignore[attr-defined]
    del data[:n]
    seg.seq = (seg.seq + n) & U32  # type: ignore[attr-defined]
    seg.truesize -= dec  # type: ignore[attr-defined]
    tp.sk_rmem_alloc -= dec


# ---------------------------------------------------------------------------------------- close
def tcp_shutdown(tp: TcpSock, how: int) -> None:
    if not how & SEND_SHUTDOWN:
        return
    open_states = tcpf(TCP_ESTABLISHED, TCP_SYN_SENT, TCP_SYN_RECV, TCP_CLOSE_WAIT)
    if (1 << tp.sk_state) & open_states and tcp_close_state(tp):
        tcp_ctl.tcp_send_fin(tp)


def tcp_close(tp: TcpSock) -> None:
    """__tcp_close: the descriptor is closed; the connection finishes as an orphan."""
    net = tp.net
    ns = tp.ns
    tp.sk_shutdown = SHUTDOWN_MASK
    if tp.sk_state == TCP_LISTEN:
        tcp_input.tcp_set_state(tp, TCP_CLOSE)
        inet_csk_listen_stop(tp)
        _orphan(tp)
        net.inet_csk_destroy_sock(tp)
        return
    data_was_unread = 0
    while tp.sk_receive_queue:
        seg = tp.sk_receive_queue.popleft()
        data_was_unread += len(seg.data)
    tp.sk_rmem_alloc = 0
    if tp.sk_state == TCP_CLOSE:
        _orphan(tp)
        net.inet_csk_destroy_sock(tp)
        return
    if data_was_unread:
        # RFC 2525 2.17: unread data was discarded, zap the connection
        ns.mib.tcpext.TCPAbortOnClose += 1
        tcp_input.tcp_set_state(tp, TCP_CLOSE)
        tcp_ctl.tcp_send_active_reset(tp)
    elif tp.sock_flag("SOCK_LINGER") and not tp.sk_lingertime:
        tcp_disconnect(tp)
        ns.mib.tcpext.TCPAbortOnData += 1
    elif tcp_close_state(tp):
        tcp_ctl.tcp_send_fin(tp)
    state = tp.sk_state
    _orphan(tp)
    net.orphan_count += 1
    tp.lingering = True
    if state != TCP_CLOSE and tp.sk_state == TCP_CLOSE:
        return
    if tp.sk_state == TCP_FIN_WAIT2:
        if tp.linger2 < 0:
            tcp_input.tcp_set_state(tp, TCP_CLOSE)
            tcp_ctl.tcp_send_active_reset(tp)
            ns.mib.tcpext.TCPAbortOnLinger += 1
        else:
            tmo = tp.tcp_fin_time()
            if tmo > TCP_TIMEWAIT_LEN:
                tcp_timer.inet_csk_reset_keepalive_timer(tp, tmo - TCP_TIMEWAIT_LEN)
            else:
                from tuxnet.ipv4.tcp import tcp_minisocks

                tcp_minisocks.tcp_time_wait(net, tp, TCP_FIN_WAIT2, tmo)
                return
    if tp.sk_state == TCP_CLOSE:
        net.inet_csk_destroy_sock(tp)


def _orphan(tp: TcpSock) -> None:
    tp.sock_flags.add("SOCK_DEAD")
    tp.sk_socket = None


# ---------------------------------------------------------------------------------------- options


# ---------------------------------------------------------------------------------------- proto_ops
