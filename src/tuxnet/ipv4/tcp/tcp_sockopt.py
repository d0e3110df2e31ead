"""TCP socket options and TCP_INFO (do_tcp_setsockopt / do_tcp_getsockopt / tcp_get_info of
net/ipv4/tcp.c).

Guarantees, as Linux 6.x: TCP_MAXSEG 88..32767 (0 clears; reads the current MSS, or the user's
value before connecting); TCP_NODELAY pushes pending data at once; TCP_CORK holds partial segments
until uncorked; TCP_KEEPIDLE 1..32767 s (rearming the keepalive timer), TCP_KEEPINTVL 1..32767,
TCP_KEEPCNT 1..127, TCP_SYNCNT 1..127, TCP_LINGER2 (seconds, -1 = no FIN_WAIT2), TCP_DEFER_ACCEPT
(seconds rounded to SYN-ACK timeouts), TCP_WINDOW_CLAMP, TCP_QUICKACK, TCP_USER_TIMEOUT (ms),
TCP_NOTSENT_LOWAT, TCP_INQ (0 or 1: tcp_recvmsg then attaches a TCP_CM_INQ cmsg with
``tcp_inq_hint``), TCP_CONGESTION (a name; ENOENT if unknown, the name back on read); TCP_INFO
returns ``struct tcp_info`` in the kernel's byte layout (up to tcpi_total_rto_time); other
options are ENOPROTOOPT; out-of-range values EINVAL.
"""

from __future__ import annotations

import errno
import struct
from typing import Any

from tuxnet.core.errors import oserror
from tuxnet.ipv4.tcp import cong, tcp_chrono, tcp_data, tcp_fastopen, tcp_output, tcp_timer
from tuxnet.ipv4.tcp.tcp_sock import (
    HZ,
    MAX_TCP_KEEPCNT,
    MAX_TCP_KEEPIDLE,
    MAX_TCP_KEEPINTVL,
    MAX_TCP_SYNCNT,
    MAX_TCP_WINDOW,
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_ESTABLISHED,
    TCP_FIN_TIMEOUT_MAX,
    TCP_LISTEN,
    TCP_MIN_MSS,
    TCP_NAGLE_CORK,
    TCP_NAGLE_OFF,
    TCP_NAGLE_PUSH,
    U32,
    TcpSock,
    tcpf,
)
from tuxnet.sock.sockopt import int_val
from tuxnet.wire.seqnum import seq_before

TCP_NODELAY = 1
TCP_MAXSEG = 2
TCP_CORK = 3
TCP_KEEPIDLE = 4
TCP_KEEPINTVL = 5
TCP_KEEPCNT = 6
TCP_SYNCNT = 7
TCP_LINGER2 = 8
TCP_DEFER_ACCEPT = 9
TCP_WINDOW_CLAMP = 10
TCP_INFO = 11
TCP_QUICKACK = 12
TCP_CONGESTION = 13
TCP_USER_TIMEOUT = 18
TCP_FASTOPEN = 23
TCP_NOTSENT_LOWAT = 25
TCP_INQ = 36
TCP_CM_INQ = TCP_INQ  # the cmsg type tcp_recvmsg attaches when TCP_INQ is on
TCP_FASTOPEN_CONNECT = 30
TCP_FASTOPEN_KEY = 33
TCP_FASTOPEN_NO_COOKIE = 34

_INT = struct.Struct("=i")
TCPI_OPT_TIMESTAMPS = 1
TCPI_OPT_SACK = 2
TCPI_OPT_WSCALE = 4
TCPI_OPT_ECN = 8
TCPI_OPT_SYN_DATA = 32

# struct tcp_info (include/uapi/linux/tcp.h) as Linux 6.18 has it: 280 bytes, ending with the
# AccECN counters (always 0 here: no ECN)
TCP_INFO_FIELDS = (
    ("tcpi_state", "B"), ("tcpi_ca_state", "B"), ("tcpi_retransmits", "B"), ("tcpi_probes", "B"),
    ("tcpi_backoff", "B"), ("tcpi_options", "B"), ("tcpi_wscale", "B"), ("tcpi_flags", "B"),
    ("tcpi_rto", "I"), ("tcpi_ato", "I"), ("tcpi_snd_mss", "I"), ("tcpi_rcv_mss", "I"),
    ("tcpi_unacked", "I"), ("tcpi_sacked", "I"), ("tcpi_lost", "I"), ("tcpi_retrans", "I"),
    ("tcpi_fackets", "I"), ("tcpi_last_data_sent", "I"), ("tcpi_last_ack_sent", "I"),
    ("tcpi_last_data_recv", "I"), ("tcpi_last_ack_recv", "I"), ("tcpi_pmtu", "I"),
    ("tcpi_rcv_ssthresh", "I"), ("tcpi_rtt", "I"), ("tcpi_rttvar", "I"), ("tcpi_snd_ssthresh", "I"),
    ("tcpi_snd_cwnd", "I"), ("tcpi_advmss", "I"), ("tcpi_reordering", "I"), ("tcpi_rcv_rtt", "I"),
    ("tcpi_rcv_space", "I"), ("tcpi_total_retrans", "I"), ("tcpi_pacing_rate", "Q"),
    ("tcpi_max_pacing_rate", "Q"), ("tcpi_bytes_acked", "Q"), ("tcpi_bytes_received", "Q"),
    ("tcpi_segs_out", "I"), ("tcpi_segs_in", "I"), ("tcpi_notsent_bytes", "I"), ("tcpi_min_rtt", "I"),
    ("tcpi_data_segs_in", "I"), ("tcpi_data_segs_out", "I"), ("tcpi_delivery_rate", "Q"),
    ("tcpi_busy_time", "Q"), ("tcpi_rwnd_limited", "Q"), ("tcpi_sndbuf_limited", "Q"),
    ("tcpi_delivered", "I"), ("tcpi_delivered_ce", "I"), ("tcpi_bytes_sent", "Q"),
    ("tcpi_bytes_retrans", "Q"), ("tcpi_dsack_dups", "I"), ("tcpi_reord_seen", "I"),
    ("tcpi_rcv_ooopack", "I"), ("tcpi_snd_wnd", "I"), ("tcpi_rcv_wnd", "I"), ("tcpi_rehash", "I"),
    ("tcpi_total_rto", "H"), ("tcpi_total_rto_recoveries", "H"), ("tcpi_total_rto_time", "I"),
    ("tcpi_received_ce", "I"), ("tcpi_delivered_e1_bytes", "I"), ("tcpi_delivered_e0_bytes", "I"),
    ("tcpi_delivered_ce_bytes", "I"), ("tcpi_received_e1_bytes", "I"), ("tcpi_received_e0_bytes", "I"),
    ("tcpi_received_ce_bytes", "I"), ("tcpi_accecn_fail_mode", "H"), ("tcpi_accecn_opt_seen", "H"),
)
_TCP_INFO = struct.Struct("=" + "".join(f for _, f in TCP_INFO_FIELDS))


def tcp_get_info(tp: TcpSock) -> dict[str, int]:
    """struct tcp_info as a dict (the TCP_INFO getsockopt)."""
    info = dict.fromkeys((n for n, _ in TCP_INFO_FIELDS), 0)
    info["tcpi_state"] = tp.sk_state
    now = tp.jiffies()
    info["tcpi_rto"] = tp.icsk_rto * 1000
    info["tcpi_ato"] = min(tp.icsk_ack.ato, 200) * 1000
    info["tcpi_snd_mss"] = tp.mss_cache
    info["tcpi_rcv_mss"] = tp.icsk_ack.rcv_mss
    info["tcpi_snd_cwnd"] = tp.snd_cwnd
    info["tcpi_reordering"] = tp.reordering
    info["tcpi_snd_ssthresh"] = tp.snd_ssthresh
    info["tcpi_advmss"] = tp.advmss
    info["tcpi_rcv_ssthresh"] = tp.rcv_ssthresh
    info["tcpi_pacing_rate"] = tp.sk_pacing_rate if tp.sk_pacing_rate != cong.U64 else cong.U64
    info["tcpi_max_pacing_rate"] = tp.sk_max_pacing_rate
    if tp.sk_state == TCP_LISTEN:
        info["tcpi_unacked"] = tp.sk_ack_backlog
        info["tcpi_sacked"] = tp.sk_max_ack_backlog
        return info
    rx = tp.rx_opt
    info["tcpi_ca_state"] = tp.icsk_ca_state
    info["tcpi_retransmits"] = tp.icsk_retransmits
    info["tcpi_probes"] = tp.icsk_probes_out
    info["tcpi_backoff"] = tp.icsk_backoff
    opts = 0
    if rx.tstamp_ok:
        opts |= TCPI_OPT_TIMESTAMPS
    if tp.tcp_is_sack():
        opts |= TCPI_OPT_SACK
    if rx.wscale_ok:
        opts |= TCPI_OPT_WSCALE
        info["tcpi_wscale"] = (rx.rcv_wscale << 4) | rx.snd_wscale
    if tp.ecn_flags & 1:
        opts |= TCPI_OPT_ECN
    if tp.syn_data_acked:
        opts |= TCPI_OPT_SYN_DATA
    info["tcpi_options"] = opts
    # tcpi_delivery_rate_app_limited:1, tcpi_fastopen_client_fail:2
    info["tcpi_flags"] = (1 if tp.rate_app_limited else 0) | (tp.fastopen_client_fail & 3) << 1
    info["tcpi_unacked"] = tp.packets_out
    info["tcpi_sacked"] = tp.sacked_out
    info["tcpi_lost"] = tp.lost_out
    info["tcpi_retrans"] = tp.retrans_out
    info["tcpi_last_data_sent"] = (now - tp.lsndtime) & U32
    info["tcpi_last_data_recv"] = (now - tp.icsk_ack.lrcvtime) & U32
    info["tcpi_last_ack_recv"] = (now - tp.rcv_tstamp) & U32
    info["tcpi_pmtu"] = tp.icsk_pmtu_cookie
    info["tcpi_rtt"] = tp.srtt_us >> 3
    info["tcpi_rttvar"] = tp.mdev_us >> 2
    info["tcpi_rcv_rtt"] = tp.rcv_rtt_est_rtt_us >> 3
    info["tcpi_rcv_space"] = tp.rcvq_space_space
    info["tcpi_total_retrans"] = tp.total_retrans
    info["tcpi_bytes_acked"] = tp.bytes_acked
    info["tcpi_bytes_received"] = tp.bytes_received
    info["tcpi_notsent_bytes"] = max(0, (tp.write_seq - tp.snd_nxt) & U32 if not seq_before(
        tp.write_seq, tp.snd_nxt) else 0)
    info["tcpi_segs_out"] = tp.segs_out
    info["tcpi_segs_in"] = tp.segs_in
    info["tcpi_min_rtt"] = cong.tcp_min_rtt(tp)
    info["tcpi_data_segs_in"] = tp.data_segs_in
    info["tcpi_data_segs_out"] = tp.data_segs_out
    if tp.rate_delivered and tp.rate_interval_us:
        info["tcpi_delivery_rate"] = tp.rate_delivered * tp.mss_cache * 1_000_000 // tp.rate_interval_us
    busy, rwnd, sndbuf = tcp_chrono.tcp_get_info_chrono_stats(tp)
    info["tcpi_busy_time"], info["tcpi_rwnd_limited"], info["tcpi_sndbuf_limited"] = busy, rwnd, sndbuf
    info["tcpi_delivered"] = tp.delivered
    info["tcpi_delivered_ce"] = tp.delivered_ce
    info["tcpi_bytes_sent"] = tp.bytes_sent
    info["tcpi_bytes_retrans"] = tp.bytes_retrans
    info["tcpi_dsack_dups"] = tp.dsack_dups
    info["tcpi_reord_seen"] = tp.reord_seen
    info["tcpi_rcv_ooopack"] = tp.rcv_ooopack
    info["tcpi_snd_wnd"] = tp.snd_wnd
    info["tcpi_rcv_wnd"] = tp.rcv_wnd
    info["tcpi_total_rto"] = tp.total_rto & 0xFFFF
    info["tcpi_total_rto_recoveries"] = tp.total_rto_recoveries & 0xFFFF
    rto_time = tp.total_rto_time
    if tp.rto_stamp:
        rto_time += (tp.tcp_time_stamp_ts() - tp.rto_stamp) & U32
    info["tcpi_total_rto_time"] = rto_time & U32
    return info


def tcp_info_bytes(tp: TcpSock) -> bytes:
    info = tcp_get_info(tp)
    vals = []
    for name, fmt in TCP_INFO_FIELDS:
        v = info[name]
        mask = {"B": 0xFF, "H": 0xFFFF, "I": U32, "Q": (1 << 64) - 1}[fmt]
        vals.append(v & mask)
    return _TCP_INFO.pack(*vals)


def tcp_set_window_clamp(tp: TcpSock, val: int) -> None:
    if not val:
        if tp.sk_state != TCP_CLOSE:
            raise oserror(errno.EINVAL)
        tp.window_clamp = 0
        tp.window_clamp_user = 0
        return
    old = tp.window_clamp
    new = max(val, 2 * 536)  # SOCK_MIN_RCVBUF / 2
    if new == old:
        return
    tp.window_clamp = new
    tp.window_clamp_user = new
    if new < old:
        tp.rcv_ssthresh = min(tp.rcv_ssthresh, new)
    else:
        tp.rcv_ssthresh = max(new, tp.rcv_ssthresh)


def do_tcp_setsockopt(tp: TcpSock, optname: int, value: Any) -> None:
    if optname == TCP_FASTOPEN_KEY:
        key = bytes(value) if not isinstance(value, int) else b""
        if len(key) not in (tcp_fastopen.TCP_FASTOPEN_KEY_LENGTH, 2 * tcp_fastopen.TCP_FASTOPEN_KEY_LENGTH):
            raise oserror(errno.EINVAL)
        tp.fastopen_ctx = tcp_fastopen.FastopenContext(key[:16], key[16:] or None)
        return
    if optname == TCP_CONGESTION:
        if isinstance(value, int):
            raise oserror(errno.EINVAL)
        name = bytes(value).split(b"\0", 1)[0].decode(errors="replace")
        allowed = str(tp.ns.sysctl.v["net.ipv4.tcp_allowed_congestion_control"]).split()
        allowed.append(str(tp.ns.sysctl.v["net.ipv4.tcp_congestion_control"]))
        cong.tcp_set_congestion_control(tp, name, allowed=allowed)
        return
    val = int_val(value)
    if optname == TCP_MAXSEG:
        if val and (val < TCP_MIN_MSS or val > MAX_TCP_WINDOW):
            raise oserror(errno.EINVAL)
        tp.rx_opt.user_mss = val
    elif optname == TCP_NODELAY:
        if val:
            tp.nonagle |= TCP_NAGLE_OFF | TCP_NAGLE_PUSH
            tcp_output.tcp_push_pending_frames(tp)
        else:
            tp.nonagle &= ~TCP_NAGLE_OFF
    elif optname == TCP_CORK:
        if val:
            tp.nonagle |= TCP_NAGLE_CORK
        else:
            tp.nonagle &= ~TCP_NAGLE_CORK
            if tp.nonagle & TCP_NAGLE_OFF:
                tp.nonagle |= TCP_NAGLE_PUSH
            tcp_output.tcp_push_pending_frames(tp)
    elif optname == TCP_KEEPIDLE:
        if val < 1 or val > MAX_TCP_KEEPIDLE:
            raise oserror(errno.EINVAL)
        tp.keepalive_time = val * HZ
        if tp.sock_flag("SOCK_KEEPOPEN") and not (1 << tp.sk_state) & tcpf(TCP_CLOSE, TCP_LISTEN):
            elapsed = tcp_timer.keepalive_time_elapsed(tp)
            elapsed = tp.keepalive_time - elapsed if tp.keepalive_time > elapsed else 0
            tcp_timer.inet_csk_reset_keepalive_timer(tp, elapsed)
    elif optname == TCP_KEEPINTVL:
        if val < 1 or val > MAX_TCP_KEEPINTVL:
            raise oserror(errno.EINVAL)
        tp.keepalive_intvl = val * HZ
    elif optname == TCP_KEEPCNT:
        if val < 1 or val > MAX_TCP_KEEPCNT:
            raise oserror(errno.EINVAL)
        tp.keepalive_probes = val
    elif optname == TCP_SYNCNT:
        if val < 1 or val > MAX_TCP_SYNCNT:
            raise oserror(errno.EINVAL)
        tp.icsk_syn_retries = val
    elif optname == TCP_LINGER2:
        if val < 0:
            tp.linger2 = -1
        elif val > TCP_FIN_TIMEOUT_MAX // HZ:
            tp.linger2 = TCP_FIN_TIMEOUT_MAX
        else:
            tp.linger2 = val * HZ
    elif optname == TCP_DEFER_ACCEPT:
        # secs_to_retrans: the number of SYN-ACK timeouts covering ``val`` seconds
        retrans = 0
        if val > 0:
            timeout, period = 1, 1
            retrans = 1
            while val > period and retrans < 255:
                retrans += 1
                timeout <<= 1
                timeout = min(timeout, 120)
                period += timeout
        tp.defer_accept = retrans
    elif optname == TCP_WINDOW_CLAMP:
        tcp_set_window_clamp(tp, val)
    elif optname == TCP_QUICKACK:
        if not val:
            tp.inet_csk_enter_pingpong_mode()
            return
        tp.inet_csk_exit_pingpong_mode()
        if (1 << tp.sk_state) & tcpf(TCP_ESTABLISHED, TCP_CLOSE_WAIT) and tp.inet_csk_ack_scheduled():
            tp.icsk_ack.pending |= 4  # ICSK_ACK_PUSHED
            tcp_data.__tcp_cleanup_rbuf(tp, 1)
            if not val & 1:
                tp.inet_csk_enter_pingpong_mode()
    elif optname == TCP_USER_TIMEOUT:
        if val < 0:
            raise oserror(errno.EINVAL)
        tp.icsk_user_timeout = val
    elif optname == TCP_NOTSENT_LOWAT:
        tp.notsent_lowat = val & U32
        tp.sk_write_space()
    elif optname == TCP_INQ:
        if val > 1 or val < 0:
            raise oserror(errno.EINVAL)
        tp.recvmsg_inq = bool(val)
    elif optname == TCP_FASTOPEN:
        if val < 0 or not (1 << tp.sk_state) & tcpf(TCP_CLOSE, TCP_LISTEN):
            raise oserror(errno.EINVAL)
        tp.net.fastopen.init_key_once()
        tcp_fastopen.fastopen_queue_tune(tp, val)
    elif optname == TCP_FASTOPEN_CONNECT:
        if val not in (0, 1):
            raise oserror(errno.EINVAL)
        if not tcp_fastopen.sysctl_fastopen(tp.ns) & tcp_fastopen.TFO_CLIENT_ENABLE:
            raise oserror(errno.EOPNOTSUPP)
        if tp.sk_state != TCP_CLOSE:
            raise oserror(errno.EINVAL)
        tp.fastopen_connect = bool(val)
    elif optname == TCP_FASTOPEN_NO_COOKIE:
        if val not in (0, 1) or not (1 << tp.sk_state) & tcpf(TCP_CLOSE, TCP_LISTEN):
            raise oserror(errno.EINVAL)
        tp.fastopen_no_cookie = bool(val)
    elif optname == TCP_INFO:
        raise oserror(errno.ENOPROTOOPT)
    else:
        raise oserror(errno.ENOPROTOOPT)


def do_tcp_getsockopt(tp: TcpSock, optname: int, buflen: int | None) -> int | bytes:
    v = tp.ns.sysctl.v
    if optname == TCP_INFO:
        data = tcp_info_bytes(tp)
        return data[:buflen] if buflen is not None else data[:4]
    if optname == TCP_CONGESTION:
        ops = tp.icsk_ca_ops
        name = (ops.name if ops is not None else "").encode().ljust(16, b"\0")
        return name[:buflen] if buflen is not None else name
    if optname == TCP_FASTOPEN_KEY:
        ctx = tcp_fastopen.tcp_fastopen_get_ctx(tp)
        keys = b"".join(tcp_fastopen.key_to_bytes(k) for k in ctx.keys) if ctx is not None else b""
        return keys[:buflen] if buflen is not None else keys
    if optname == TCP_MAXSEG:
        val = tp.mss_cache
        if tp.rx_opt.user_mss and (1 << tp.sk_state) & tcpf(TCP_CLOSE, TCP_LISTEN):
            val = tp.rx_opt.user_mss
    elif optname == TCP_NODELAY:
        val = 1 if tp.nonagle & TCP_NAGLE_OFF else 0
    elif optname == TCP_CORK:
        val = 1 if tp.nonagle & TCP_NAGLE_CORK else 0
    elif optname == TCP_KEEPIDLE:
        val = tp.keepalive_time_when() // HZ
    elif optname == TCP_KEEPINTVL:
        val = tp.keepalive_intvl_when() // HZ
    elif optname == TCP_KEEPCNT:
        val = tp.keepalive_probes_n()
    elif optname == TCP_SYNCNT:
        val = tp.icsk_syn_retries or int(v["net.ipv4.tcp_syn_retries"])  # type: ignore[call-overload]
    elif optname == TCP_LINGER2:
        val = tp.linger2
        if val >= 0:
            val = (val or int(v["net.ipv4.tcp_fin_timeout"]) * HZ) // HZ  # type: ignore[call-overload]
    elif optname == TCP_DEFER_ACCEPT:
        val = tp.defer_accept
    elif optname == TCP_WINDOW_CLAMP:
        val = tp.window_clamp
    elif optname == TCP_QUICKACK:
        val = 0 if tp.inet_csk_in_pingpong_mode() else 1
    elif optname == TCP_USER_TIMEOUT:
        val = tp.icsk_user_timeout
    elif optname == TCP_FASTOPEN:
        val = tp.fastopen_max_qlen
    elif optname == TCP_FASTOPEN_CONNECT:
        val = int(tp.fastopen_connect)
    elif optname == TCP_FASTOPEN_NO_COOKIE:
        val = int(tp.fastopen_no_cookie)
    elif optname == TCP_NOTSENT_LOWAT:
        val = tp.notsent_lowat  # the per-socket value; 0 means the sysctl applies
        val = _INT.unpack(struct.pack("=I", val & U32))[0]
    elif optname == TCP_INQ:
        val = int(tp.recvmsg_inq)
    else:
        raise oserror(errno.ENOPROTOOPT)
    if buflen is None:
        return val
    return _INT.pack(val)[:buflen]
