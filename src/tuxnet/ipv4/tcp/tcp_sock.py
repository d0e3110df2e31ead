"""The TCP socket: ``struct tcp_sock`` with its inet/icsk/sock parts, the segment records, constants.

Mirrors include/linux/tcp.h (``struct tcp_sock``), include/net/inet_connection_sock.h
(``icsk_*``), include/net/tcp.h (constants, ``TCP_SKB_CB``) and include/net/tcp_states.h.

Guarantees:
- ``TcpSock`` carries every field the engine and congestion control read, under the kernel's names
  and units (it extends ``cong.CongState``): sequence numbers are u32 and compared only through
  ``tuxnet.wire.seqnum``; ``tcp_clock_cache`` is ns, ``tcp_mstamp`` and ``*_us`` are us; ``icsk_rto``,
  ``icsk_ack.ato`` and other ``*_jiffies`` quantities are jiffies with HZ=1000 (ms); TSval/TSecr and
  ``retrans_stamp`` count TS ticks (ms, TCP_TS_HZ=1000); ``lsndtime``, ``rcv_tstamp`` and
  ``icsk_ack.lrcvtime`` are ``tcp_jiffies32`` values.
- Defaults are those of tcp_init_sock() / sock_init_data(): cwnd 10, ssthresh infinite, rto 1 s,
  mss_cache 536, sk_sndbuf/sk_rcvbuf from tcp_wmem[1]/tcp_rmem[1], reordering from tcp_reordering.
- ``TcpSkb`` is one segment of the write or retransmit queue (``TCP_SKB_CB``: seq, end_seq,
  tcp_flags, sacked, tx; ``skb_mstamp_ns``); tuxnet has no TSO, so every segment is at most one MSS
  and ``tcp_skb_pcount`` is 1. ``RxSeg`` is a received segment in the receive or out-of-order queue.
- ``SkTimer`` is a kernel timer (sk_reset_timer/sk_stop_timer) that re-arms lazily: pushing the
  expiry later costs no heap work, which matters because every ACK re-arms the RTO.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from tuxnet.ipv4.tcp.cong import INITIAL_JIFFIES, CongState
from tuxnet.ipv4.tcp.rate import TcpSkbTx
from tuxnet.sock.sock import SockWakeups

if TYPE_CHECKING:
    from tuxnet.core.loop import Loop, Timer
    from tuxnet.netns import Namespace

U32 = 0xFFFFFFFF
HZ = 1000
NSEC_PER_JIFFY = 1_000_000
NSEC_PER_MSEC = 1_000_000
NSEC_PER_USEC = 1000
USEC_PER_MSEC = 1000
# TCP's clock (tcp_clock_ns: the monotonic clock) reads 1 s at virtual time 0, as if the lab host
# had booted a moment earlier: Linux's stamps are never 0, and 0 means "unset" in fields such as
# retrans_stamp and rack.mstamp.  Timers run on the loop's clock: subtract the base to arm them.
TCP_CLOCK_BASE_NS = 1_000_000_000
NSEC_PER_SEC = 1_000_000_000


class TcpState(IntEnum):
    """include/net/tcp_states.h."""

    TCP_ESTABLISHED = 1
    TCP_SYN_SENT = 2
    TCP_SYN_RECV = 3
    TCP_FIN_WAIT1 = 4
    TCP_FIN_WAIT2 = 5
    TCP_TIME_WAIT = 6
    TCP_CLOSE = 7
    TCP_CLOSE_WAIT = 8
    TCP_LAST_ACK = 9
    TCP_LISTEN = 10
    TCP_CLOSING = 11
    TCP_NEW_SYN_RECV = 12


TCP_ESTABLISHED = TcpState.TCP_ESTABLISHED
TCP_SYN_SENT = TcpState.TCP_SYN_SENT
TCP_SYN_RECV = TcpState.TCP_SYN_RECV
TCP_FIN_WAIT1 = TcpState.TCP_FIN_WAIT1
TCP_FIN_WAIT2 = TcpState.TCP_FIN_WAIT2
TCP_TIME_WAIT = TcpState.TCP_TIME_WAIT
TCP_CLOSE = TcpState.TCP_CLOSE
TCP_CLOSE_WAIT = TcpState.TCP_CLOSE_WAIT
TCP_LAST_ACK = TcpState.TCP_LAST_ACK
TCP_LISTEN = TcpState.TCP_LISTEN
TCP_CLOSING = TcpState.TCP_CLOSING
TCP_NEW_SYN_RECV = TcpState.TCP_NEW_SYN_RECV


def tcpf(*states: int) -> int:
    """TCPF_* mask of states."""
    m = 0
    for s in states:
        m |= 1 << s
    return m


# ss(8)/netstat names, as tcp_state_name / sk_state names in /proc
STATE_NAMES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
               6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING",
               12: "NEW_SYN_RECV"}

# TCPHDR_* flag bits (include/net/tcp.h)
TCPHDR_FIN = 0x01
TCPHDR_SYN = 0x02
TCPHDR_RST = 0x04
TCPHDR_PSH = 0x08
TCPHDR_ACK = 0x10
TCPHDR_URG = 0x20
TCPHDR_ECE = 0x40
TCPHDR_CWR = 0x80

# TCP_SKB_CB(skb)->sacked bits
TCPCB_SACKED_ACKED = 0x01
TCPCB_SACKED_RETRANS = 0x02
TCPCB_LOST = 0x04
TCPCB_TAGBITS = 0x07
TCPCB_REPAIRED = 0x10
TCPCB_EVER_RETRANS = 0x80
TCPCB_RETRANS = TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS | TCPCB_REPAIRED

# --- constants (include/net/tcp.h), times in jiffies (ms) unless the name says otherwise ---------
# L1_CACHE_ALIGN(128 + MAX_HEADER) with LL_MAX_HEADER 32, as on the 6.18 kernel used as the
# reference: a connected CUBIC socket reports SO_SNDBUF 46080 (BBR 69120).  Kernels built with
# LL_MAX_HEADER 128 (WLAN, Hyper-V) have 320 here and show the familiar 87040.
MAX_TCP_HEADER = 256
MAX_TCP_WINDOW = 32767
TCP_MIN_MSS = 88
TCP_MIN_SND_MSS = 48
TCP_BASE_MSS = 1024
TCP_MSS_DEFAULT = 536
TCP_INIT_CWND = 10
TCP_MAX_QUICKACKS = 16
TCP_MAX_WSCALE = 14
TCP_FASTRETRANS_THRESH = 3
TCP_MAX_REORDERING = 300
TCP_URG_VALID = 0x0100
TCP_URG_NOTYET = 0x0200
TCP_URG_READ = 0x0400
TCP_RETR1 = 3
TCP_RETR2 = 15
TCP_SYN_RETRIES = 6
TCP_SYNACK_RETRIES = 5
TCP_TIMEWAIT_LEN = 60 * HZ
TCP_FIN_TIMEOUT = TCP_TIMEWAIT_LEN
TCP_FIN_TIMEOUT_MAX = 120 * HZ
TCP_DELACK_MAX = HZ // 5
TCP_DELACK_MIN = HZ // 25
TCP_ATO_MIN = HZ // 25
TCP_RTO_MAX = 120 * HZ
TCP_RTO_MIN = HZ // 5
TCP_TIMEOUT_MIN = 2
TCP_TIMEOUT_INIT = 1 * HZ
TCP_TIMEOUT_FALLBACK = 3 * HZ
TCP_RESOURCE_PROBE_INTERVAL = HZ // 2
TCP_KEEPALIVE_TIME = 120 * 60 * HZ
TCP_KEEPALIVE_PROBES = 9
TCP_KEEPALIVE_INTVL = 75 * HZ
MAX_TCP_KEEPIDLE = 32767
MAX_TCP_KEEPINTVL = 32767
MAX_TCP_KEEPCNT = 127
MAX_TCP_SYNCNT = 127
TCP_PAWS_24DAYS = 60 * 60 * 24 * 24
TCP_PAWS_MSL = 60
TCP_PAWS_WINDOW = 1
TCP_TS_HZ = 1000
TCP_SYNQ_INTERVAL = HZ // 5
TCP_RACK_RECOVERY_THRESH = 16
TCP_NUM_SACKS = 4
TCP_RMEM_TO_WIN_SCALE = 8
# 6.x: sk->scaling_ratio starts at 50 % until real skb len/truesize ratios are measured
TCP_DEFAULT_SCALING_RATIO = 1 << (TCP_RMEM_TO_WIN_SCALE - 1)
TCPOLEN_TSTAMP_ALIGNED = 12
TCPOLEN_SACK_BASE_ALIGNED = 4
TCPOLEN_SACK_PERBLOCK = 8
MAX_TCP_OPTION_SPACE = 40
SOCK_MIN_SNDBUF = 2 * 2304
SOCK_MIN_RCVBUF = 2304

# struct sk_buff / skb_shared_info overheads on x86-64, for truesize accounting
SKB_STRUCT = 256
SKB_SHINFO = 320
NET_SKB_PAD = 64


def skb_data_align(n: int) -> int:
    return (n + 63) & ~63


def skb_truesize(n: int) -> int:
    """SKB_TRUESIZE(n): n bytes of head plus the sk_buff and skb_shared_info structs."""
    return n + SKB_STRUCT + SKB_SHINFO


def rx_truesize(frame_len: int) -> int:
    """The truesize of a received frame of ``frame_len`` bytes (a linear skb from a driver)."""
    return skb_data_align(frame_len + NET_SKB_PAD) + SKB_STRUCT + SKB_SHINFO


# icsk_pending (which timer the retransmit timer is armed as)
ICSK_TIME_RETRANS = 1
ICSK_TIME_DACK = 2
ICSK_TIME_PROBE0 = 3
ICSK_TIME_LOSS_PROBE = 5
ICSK_TIME_REO_TIMEOUT = 6

# icsk_ack.pending bits
ICSK_ACK_SCHED = 1
ICSK_ACK_TIMER = 2
ICSK_ACK_PUSHED = 4
ICSK_ACK_PUSHED2 = 8
ICSK_ACK_NOW = 16
ICSK_ACK_NOMEM = 32

# nonagle
TCP_NAGLE_OFF = 1
TCP_NAGLE_CORK = 2
TCP_NAGLE_PUSH = 4

# sk_shutdown
RCV_SHUTDOWN = 1
SEND_SHUTDOWN = 2
SHUTDOWN_MASK = 3

# sk_userlocks
SOCK_SNDBUF_LOCK = 1
SOCK_RCVBUF_LOCK = 2
SOCK_BINDADDR_LOCK = 4
SOCK_BINDPORT_LOCK = 8

# rx_opt.sack_ok bits
TCP_SACK_SEEN = 1
TCP_DSACK_SEEN = 4

# tcp_recovery sysctl bits
TCP_RACK_LOSS_DETECTION = 0x1
TCP_RACK_STATIC_REO_WND = 0x2
TCP_RACK_NO_DUPTHRESH = 0x4


def tcp_clock_ns(ns: Namespace) -> int:
    """tcp_clock_ns: the namespace's monotonic clock as TCP stamps it."""
    return ns.loop.now_ns + TCP_CLOCK_BASE_NS


def ts_ms(stamp_ns: int) -> int:
    """tcp_ns_to_ts / tcp_clock_ms: a TCP-clock stamp (ns) in TS-clock ticks (ms)."""
    return (stamp_ns // NSEC_PER_MSEC) & U32


def tcp_jiffies32(ns: Namespace) -> int:
    """The namespace's jiffies (HZ=1000), offset by INITIAL_JIFFIES like a freshly booted kernel."""
    return (INITIAL_JIFFIES + ns.loop.now_ns // NSEC_PER_JIFFY) & U32


def jiffies_delta(a: int, b: int) -> int:
    """(s32)(a - b) for two jiffies values."""
    d = (a - b) & U32
    return d - (1 << 32) if d & 0x80000000 else d


class SkTimer:
    """A socket timer: ``reset(when_ns)`` arms or moves it, ``stop()`` disarms it, ``fn()`` runs at expiry.

    Moving the expiry later keeps the already queued loop timer, which re-arms itself when it fires
    early, as mod_timer on a timer wheel costs nothing more for a later expiry.
    """

    __slots__ = ("loop", "fn", "expires", "_handle")

    def __init__(self, loop: Loop, fn: Callable[[], Any]) -> None:
        self.loop = loop
        self.fn = fn
        self.expires: int | None = None
        self._handle: Timer | None = None

    def reset(self, when: int) -> None:
        self.expires = when
        h = self._handle
        if h is not None:
            if h.when <= when:
                return
            h.cancel()
        self._handle = self.loop.call_at_ns(when, self._fire)

    def stop(self) -> None:
        self.expires = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def pending(self) -> bool:
        return self.expires is not None

    def _fire(self) -> None:
        self._handle = None
        exp = self.expires
        if exp is None:
            return
        if self.loop.now_ns < exp:
            self._handle = self.loop.call_at_ns(exp, self._fire)
            return
        self.expires = None
        self.fn()


class TcpSkb:
    """One segment of the write/retransmit queue: TCP_SKB_CB fields and the payload bytes."""

    __slots__ = ("seq", "end_seq", "tcp_flags", "sacked", "data", "skb_mstamp_ns", "tx", "eor",
                 "first_tx_ns", "urg", "overhead", "zc", "nr_frags", "tx_flags", "tskey", "txstamp_ack")

    def __init__(self, seq: int, flags: int, data: bytes = b"") -> None:
        self.seq = seq
        self.data = data
        self.tcp_flags = flags
        n = len(data) + (1 if flags & (TCPHDR_SYN | TCPHDR_FIN) else 0)
        self.end_seq = (seq + n) & U32
        self.sacked = 0
        self.skb_mstamp_ns = 0
        self.tx: TcpSkbTx | None = None
        self.eor = False
        self.first_tx_ns = 0
        self.urg = 0
        self.overhead = 0  # the skb's share of sk_wmem_queued beyond its payload
        # skb_shared_info: the MSG_ZEROCOPY uarg and its page frags (sock/msg_zerocopy.py), the
        # SO_TIMESTAMPING request and key (sock/timestamping.py)
        self.zc: Any = None
        self.nr_frags = 0
        self.tx_flags = 0
        self.tskey = 0
        self.txstamp_ack = 0

    @property
    def len(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return (f"<TcpSkb {self.seq}:{self.end_seq} len={len(self.data)} f=0x{self.tcp_flags:02x} "
                f"s=0x{self.sacked:02x}>")


class TcpCb:
    """TCP_SKB_CB of a received segment: the parsed header and where its payload lies."""

    __slots__ = ("seq", "end_seq", "ack_seq", "tcp_flags", "window", "urg_ptr", "doff", "hdr", "sack_blocks",
                 "ip_dsfield", "saddr", "daddr", "sport", "dport", "payload_off", "payload_len", "tcp_tw_isn",
                 "ttl", "gso_size")

    def __init__(self) -> None:
        self.seq = 0
        self.end_seq = 0
        self.ack_seq = 0
        self.tcp_flags = 0
        self.window = 0
        self.urg_ptr = 0
        self.doff = 5
        self.hdr: Any = None
        self.sack_blocks: tuple[tuple[int, int], ...] = ()
        self.ip_dsfield = 0
        self.saddr = 0
        self.daddr = 0
        self.sport = 0
        self.dport = 0
        self.payload_off = 0
        self.payload_len = 0
        self.tcp_tw_isn = 0
        self.ttl = 0
        self.gso_size = 0  # the skb's gso_size: a GRO packet's segment size


class RxSeg:
    """A received segment in the receive queue or the out-of-order queue (payload only)."""

    __slots__ = ("seq", "end_seq", "data", "fin", "truesize", "tstamp")

    def __init__(self, seq: int, end_seq: int, data: bytearray, fin: bool, truesize: int) -> None:
        self.seq = seq
        self.end_seq = end_seq
        self.data = data
        self.fin = fin
        self.truesize = truesize
        self.tstamp: int | None = None  # skb->tstamp: when it arrived (receive timestamps)

    def __repr__(self) -> str:
        return f"<RxSeg {self.seq}:{self.end_seq} len={len(self.data)}{' FIN' if self.fin else ''}>"


class RxOpt:
    """struct tcp_options_received."""

    __slots__ = ("ts_recent_stamp", "ts_recent", "rcv_tsval", "rcv_tsecr", "saw_tstamp", "tstamp_ok",
                 "dsack", "wscale_ok", "sack_ok", "snd_wscale", "rcv_wscale", "num_sacks", "user_mss",
                 "mss_clamp", "saw_unknown", "sack_blocks")

    def __init__(self) -> None:
        self.ts_recent_stamp = 0  # seconds (ktime_get_seconds) when ts_recent was stored
        self.ts_recent = 0
        self.rcv_tsval = 0
        self.rcv_tsecr = 0
        self.saw_tstamp = False
        self.tstamp_ok = False
        self.dsack = False
        self.wscale_ok = False
        self.sack_ok = 0
        self.snd_wscale = 0
        self.rcv_wscale = 0
        self.num_sacks = 0
        self.user_mss = 0
        self.mss_clamp = 0
        self.saw_unknown = False
        self.sack_blocks: tuple[tuple[int, int], ...] = ()  # SACK option of the segment being handled

    def clear(self) -> None:
        """tcp_clear_options."""
        self.tstamp_ok = False
        self.sack_ok = 0
        self.wscale_ok = False
        self.snd_wscale = 0
        self.saw_tstamp = False
        self.sack_blocks = ()


class IcskAck:
    """icsk->icsk_ack: delayed-ACK state."""

    __slots__ = ("pending", "quick", "pingpong", "retry", "ato", "timeout", "lrcvtime", "last_seg_size",
                 "rcv_mss")

    def __init__(self) -> None:
        self.pending = 0
        self.quick = 0
        self.pingpong = 0
        self.retry = 0
        self.ato = 0
        self.timeout = 0  # absolute ns of the delayed ACK
        self.lrcvtime = 0
        self.last_seg_size = 0
        self.rcv_mss = 0


class Rack:
    """tp->rack (RFC 8985 state)."""

    __slots__ = ("mstamp", "rtt_us", "end_seq", "last_delivered", "reo_wnd_steps", "reo_wnd_persist",
                 "dsack_seen", "advanced")

    def __init__(self) -> None:
        self.mstamp = 0
        self.rtt_us = 0
        self.end_seq = 0
        self.last_delivered = 0
        self.reo_wnd_steps = 1
        self.reo_wnd_persist = 0
        self.dsack_seen = False
        self.advanced = False


class TcpSock(CongState, SockWakeups):
    """A TCP socket (struct sock + inet_sock + inet_connection_sock + tcp_sock)."""

    __slots__ = (
        # sock / inet_sock
        "ns", "net", "sk_socket", "sk_err", "sk_err_soft", "sk_shutdown", "sk_userlocks", "sk_rcvbuf",
        "sk_sndbuf", "sk_wmem_queued", "sk_rmem_alloc", "sk_rcvlowat", "sk_lingertime", "sock_flags",
        "sk_bound_dev_if", "sk_mark", "sk_priority", "sk_reuse", "sk_reuseport", "sk_write_pending",
        "sk_max_ack_backlog", "sk_ack_backlog", "sk_dst", "sk_dst_gen", "sk_drops", "sk_route_caps",
        "inet_saddr", "inet_rcv_saddr", "inet_sport", "inet_daddr", "inet_dport", "inet_num", "inet_id",
        "tos", "ttl", "pmtudisc", "sk_receive_queue", "sk_write_queue", "tcp_rtx_queue", "nonblock",
        # inet_connection_sock
        "icsk_rto", "icsk_rto_min", "icsk_backoff", "icsk_retransmits", "icsk_probes_out",
        "icsk_probes_tstamp", "icsk_pending", "icsk_timeout", "icsk_ack", "icsk_user_timeout",
        "icsk_syn_retries", "icsk_pmtu_cookie", "icsk_ext_hdr_len", "icsk_accept_queue",
        "icsk_retransmit_timer", "icsk_delack_timer", "sk_timer", "pacing_timer", "compressed_ack_timer",
        "listener", "req", "syn_queue_len", "syn_queue_young", "synflood_warned",
        # tcp_sock
        "rcv_nxt", "copied_seq", "rcv_wup", "snd_sml", "rcv_tstamp", "snd_wl1", "snd_wnd", "max_window",
        "window_clamp", "rcv_ssthresh", "rcv_wnd", "pushed_seq", "snd_up", "urg_seq", "urg_data",
        "rx_opt", "tsoffset", "advmss", "tcp_header_len", "nonagle", "mdev_max_us", "rttvar_us",
        "rtt_seq", "reordering", "reord_seen", "undo_marker", "undo_retrans", "high_seq",
        "retrans_stamp", "total_retrans", "total_rto", "total_rto_recoveries", "total_rto_time",
        "rto_stamp", "bytes_acked", "bytes_received", "bytes_sent", "bytes_retrans", "segs_in",
        "segs_out", "data_segs_in", "data_segs_out", "dsack_dups", "duplicate_sack", "selective_acks",
        "recv_sack_cache", "highest_sack", "lost_skb_hint", "retransmit_skb_hint", "lost_cnt_hint",
        "rack", "tlp_high_seq", "tlp_retrans", "frto", "is_sack_reneg", "snd_cwnd_used",
        "cwnd_usage_seq", "prr_delivered", "prr_out", "keepalive_time", "keepalive_intvl",
        "keepalive_probes", "linger2", "rcvq_space_space", "rcvq_space_seq", "rcvq_space_time",
        "rcv_rtt_est_rtt_us", "rcv_rtt_est_seq", "rcv_rtt_est_time", "rcv_rtt_last_tsecr",
        "out_of_order_queue", "compressed_ack", "compressed_ack_rcv_nxt", "dup_ack_counter",
        "last_oow_ack_time", "scaling_ratio", "rcv_ooopack", "snd_ssthresh_saved", "syn_data",
        "ecn_flags", "chrono_start", "rate_sample", "ca_name_hint", "isn", "rcv_isn", "bytes_in_flight",
        "app_limited_chrono", "tcp_usec_ts", "delivered_ce_seen", "notsent_lowat", "defer_accept",
        "window_clamp_user", "connect_waiters", "fastopen_rsk", "lingering", "tsorted_sent_queue",
        "pred_flags", "sk_cred", "sk_uid", "recverr", "freebind", "transparent", "bind_address_no_port",
        "mc_ttl", "mc_loop", "mc_index", "mc_addr", "mc_all", "uc_index", "hdrincl", "nodefrag",
        "sk_family", "sk_type", "sk_protocol", "recvmsg_inq", "sk_error_queue", "sk_tsflags",
        "sk_tskey", "sk_zckey", "chrono_type", "chrono_stat",
        # Fast Open (tcp_fastopen.py)
        "fastopen_req", "fastopen_connect", "fastopen_no_cookie", "defer_connect", "syn_fastopen",
        "syn_fastopen_exp", "syn_fastopen_ch", "syn_data_acked", "syn_fastopen_child", "fastopen_client_fail",
        "fastopen_ctx", "fastopen_max_qlen", "fastopen_qlen",
    )  # fmt: skip

    def __init__(self, ns: Namespace, net: Any) -> None:
        super().__init__(rng=random.Random(ns.rng.getrandbits(64)), tcpext=ns.mib.tcpext)
        v = ns.sysctl.v
        self.ns = ns
        self.net = net
        self.sk_socket: Any = None
        self.sk_err = 0
        self.sk_err_soft = 0
        self.sk_shutdown = 0
        self.sk_userlocks = 0
        self.sk_rcvbuf = int(v["net.ipv4.tcp_rmem"][1])  # type: ignore[index]
        self.sk_sndbuf = int(v["net.ipv4.tcp_wmem"][1])  # type: ignore[index]
        self.sk_wmem_queued = 0
        self.sk_rmem_alloc = 0
        self.sk_error_queue: deque[Any] = deque()  # sock/errqueue.py entries
        self.sk_tsflags = 0  # SO_TIMESTAMPING flags
        self.sk_tskey = 0  # OPT_ID key base
        self.sk_zckey = 0  # next MSG_ZEROCOPY notification id
        self.sk_rcvlowat = 1
        self.sk_lingertime = 0
        self.sock_flags: set[str] = set()  # SOCK_DEAD, SOCK_DONE, SOCK_LINGER, SOCK_KEEPOPEN, SOCK_URGINLINE
        self.sk_bound_dev_if = 0
        self.sk_mark = 0
        self.sk_priority = 0
        self.sk_reuse = 0
        self.sk_reuseport = 0
        self.sk_write_pending = 0
        self.sk_max_ack_backlog = 0
        self.sk_ack_backlog = 0
        self.sk_dst: Any = None
        self.sk_dst_gen = -1
        self.sk_drops = 0
        self.sk_route_caps = 0
        self.inet_saddr = 0
        self.inet_rcv_saddr = 0
        self.inet_sport = 0
        self.inet_daddr = 0
        self.inet_dport = 0
        self.inet_num = 0
        self.inet_id = 0
        self.tos = 0
        self.ttl = 0  # 0: the route's hop limit / ip_default_ttl
        self.pmtudisc = 1  # IP_PMTUDISC_WANT; TCP sends DF unless IP_PMTUDISC_DONT
        self.sk_receive_queue: deque[RxSeg] = deque()
        self.sk_write_queue: deque[TcpSkb] = deque()
        self.tcp_rtx_queue: list[TcpSkb] = []
        self.nonblock = False
        # icsk
        self.icsk_rto = TCP_TIMEOUT_INIT
        self.icsk_rto_min = TCP_RTO_MIN
        self.icsk_backoff = 0
        self.icsk_retransmits = 0
        self.icsk_probes_out = 0
        self.icsk_probes_tstamp = 0
        self.icsk_pending = 0
        self.icsk_timeout = 0
        self.icsk_ack = IcskAck()
        self.icsk_user_timeout = 0
        self.icsk_syn_retries = 0
        self.icsk_pmtu_cookie = 0
        self.icsk_ext_hdr_len = 0
        self.icsk_accept_queue: deque[Any] = deque()
        loop = ns.loop
        self.icsk_retransmit_timer = SkTimer(loop, self._write_timer)
        self.icsk_delack_timer = SkTimer(loop, self._delack_timer)
        self.sk_timer = SkTimer(loop, self._keepalive_timer)
        self.pacing_timer = SkTimer(loop, self._pacing_timer)
        self.compressed_ack_timer = SkTimer(loop, self._compressed_ack_timer)
        self.listener: Any = None
        self.req: Any = None
        self.syn_queue_len = 0
        self.syn_queue_young = 0
        self.synflood_warned = False
        # tcp_sock
        self.rcv_nxt = 0
        self.copied_seq = 0
        self.rcv_wup = 0
        self.snd_sml = 0
        self.rcv_tstamp = 0
        self.snd_wl1 = 0
        self.snd_wnd = 0
        self.max_window = 0
        self.window_clamp = 0
        self.rcv_ssthresh = 0
        self.rcv_wnd = 0
        self.pushed_seq = 0
        self.snd_up = 0
        self.urg_seq = 0
        self.urg_data = 0
        self.rx_opt = RxOpt()
        self.rx_opt.mss_clamp = TCP_MSS_DEFAULT
        self.tsoffset = 0
        self.advmss = 0
        self.tcp_header_len = 20
        self.nonagle = 0
        self.mdev_max_us = 0
        self.rttvar_us = 0
        self.rtt_seq = 0
        self.reordering = int(v["net.ipv4.tcp_reordering"])  # type: ignore[call-overload]
        self.reord_seen = 0
        self.undo_marker = 0
        self.undo_retrans = -1
        self.high_seq = 0
        self.retrans_stamp = 0
        self.total_retrans = 0
        self.total_rto = 0
        self.total_rto_recoveries = 0
        self.total_rto_time = 0
        self.rto_stamp = 0
        self.bytes_acked = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        self.bytes_retrans = 0
        self.segs_in = 0
        self.segs_out = 0
        self.data_segs_in = 0
        self.data_segs_out = 0
        self.dsack_dups = 0
        self.duplicate_sack: list[int] = [0, 0]
        self.selective_acks: list[list[int]] = []
        self.recv_sack_cache: list[tuple[int, int]] = [(0, 0)] * 4
        self.highest_sack: TcpSkb | None = None
        self.lost_skb_hint: TcpSkb | None = None
        self.retransmit_skb_hint: TcpSkb | None = None
        self.lost_cnt_hint = 0
        self.rack = Rack()
        self.tlp_high_seq = 0
        self.tlp_retrans = False
        self.frto = False
        self.is_sack_reneg = False
        self.snd_cwnd_used = 0
        self.cwnd_usage_seq = 0
        self.prr_delivered = 0
        self.prr_out = 0
        self.keepalive_time = 0  # 0: net.ipv4.tcp_keepalive_time (seconds -> jiffies at use)
        self.keepalive_intvl = 0
        self.keepalive_probes = 0
        self.linger2 = 0
        self.rcvq_space_space = 0
        self.rcvq_space_seq = 0
        self.rcvq_space_time = 0
        self.rcv_rtt_est_rtt_us = 0
        self.rcv_rtt_est_seq = 0
        self.rcv_rtt_est_time = 0
        self.rcv_rtt_last_tsecr = 0
        self.out_of_order_queue: list[RxSeg] = []
        self.compressed_ack = 0
        self.compressed_ack_rcv_nxt = 0
        self.dup_ack_counter = 0
        self.last_oow_ack_time = 0
        self.scaling_ratio = TCP_DEFAULT_SCALING_RATIO
        self.rcv_ooopack = 0
        self.snd_ssthresh_saved = 0
        self.syn_data = False
        self.ecn_flags = 0
        self.chrono_start = 0  # tcp_chrono_*: jiffies when the running chronograph started
        self.chrono_type = 0  # TCP_CHRONO_UNSPEC
        self.chrono_stat = [0, 0, 0]  # jiffies busy, rwnd limited, sndbuf limited
        self.rate_sample: Any = None
        self.ca_name_hint = ""
        self.isn = 0
        self.rcv_isn = 0
        self.bytes_in_flight = 0
        self.app_limited_chrono = 0
        self.tcp_usec_ts = False
        self.delivered_ce_seen = 0
        self.notsent_lowat = 0
        self.recvmsg_inq = False  # TCP_INQ: a TCP_CM_INQ cmsg with each recvmsg
        self.defer_accept = 0
        self.window_clamp_user = 0
        self.connect_waiters = 0
        self.fastopen_rsk: Any = None
        self.fastopen_req: Any = None
        self.fastopen_connect = False
        self.fastopen_no_cookie = False
        self.defer_connect = False
        self.syn_fastopen = False
        self.syn_fastopen_exp = False
        self.syn_fastopen_ch = False
        self.syn_data_acked = False
        self.syn_fastopen_child = False
        self.fastopen_client_fail = 0
        self.fastopen_ctx: Any = None
        self.fastopen_max_qlen = 0
        self.fastopen_qlen = 0
        self.lingering = False
        # tsorted_sent_queue: sent segments in order of their last transmission (RACK)
        self.tsorted_sent_queue: OrderedDict[int, TcpSkb] = OrderedDict()
        self.pred_flags = False
        # inet_sock state the shared IP-level socket options touch
        self.sk_cred: Any = None
        self.sk_uid = 0
        self.recverr = False
        self.freebind = False
        self.transparent = False
        self.bind_address_no_port = False
        self.mc_ttl = 1
        self.mc_loop = 1
        self.mc_index = 0
        self.mc_addr = 0
        self.mc_all = 1
        self.uc_index = 0
        self.hdrincl = False
        self.nodefrag = False
        self.sk_family = 2
        self.sk_type = 1
        self.sk_protocol = 6
        rto_min_us = v.get("net.ipv4.tcp_rto_min_us")
        if rto_min_us:
            self.icsk_rto_min = -(-int(rto_min_us) // 1000)  # type: ignore[call-overload]
        self.tcp_mstamp_refresh()

    # ------------------------------------------------------------------ clocks
    def tcp_mstamp_refresh(self) -> None:
        """tcp_mstamp_refresh: the event's ns and us clocks."""
        now = self.ns.loop.now_ns + TCP_CLOCK_BASE_NS
        self.tcp_clock_cache = now
        self.tcp_mstamp = now // NSEC_PER_USEC

    def tcp_time_stamp_ts(self) -> int:
        """tcp_time_stamp_ts (ms ticks of the TS clock, without tsoffset)."""
        return (self.tcp_mstamp // USEC_PER_MSEC) & U32

    def jiffies(self) -> int:
        return tcp_jiffies32(self.ns)

    # ------------------------------------------------------------------ state helpers
    @property
    def state(self) -> TcpState:
        return TcpState(self.sk_state)

    def sock_flag(self, flag: str) -> bool:
        return flag in self.sock_flags

    def tcp_is_sack(self) -> bool:
        return bool(self.rx_opt.sack_ok)

    def tcp_is_reno(self) -> bool:
        return not self.rx_opt.sack_ok

    def tcp_wnd_end(self) -> int:
        return (self.snd_una + self.snd_wnd) & U32

    def tcp_receive_window(self) -> int:
        win = (self.rcv_wup + self.rcv_wnd - self.rcv_nxt) & U32
        return 0 if win & 0x80000000 else win

    def tcp_send_head(self) -> TcpSkb | None:
        return self.sk_write_queue[0] if self.sk_write_queue else None

    def tcp_rtx_queue_head(self) -> TcpSkb | None:
        return self.tcp_rtx_queue[0] if self.tcp_rtx_queue else None

    def tcp_write_queue_empty(self) -> bool:
        return not self.sk_write_queue

    def tcp_win_from_space(self, space: int) -> int:
        """__tcp_win_from_space: the part of a buffer usable as window, by the measured ratio."""
        return (space * self.scaling_ratio) >> TCP_RMEM_TO_WIN_SCALE

    def tcp_space(self) -> int:
        return self.tcp_win_from_space(self.sk_rcvbuf - self.sk_rmem_alloc)

    def tcp_full_space(self) -> int:
        return self.tcp_win_from_space(self.sk_rcvbuf)

    def inet_csk_ack_scheduled(self) -> bool:
        return bool(self.icsk_ack.pending & ICSK_ACK_SCHED)

    def inet_csk_schedule_ack(self) -> None:
        self.icsk_ack.pending |= ICSK_ACK_SCHED

    def inet_csk_in_pingpong_mode(self) -> bool:
        return self.icsk_ack.pingpong >= int(self.ns.sysctl.v.get("net.ipv4.tcp_pingpong_thresh", 1))

    def inet_csk_enter_pingpong_mode(self) -> None:
        self.icsk_ack.pingpong = int(self.ns.sysctl.v.get("net.ipv4.tcp_pingpong_thresh", 1))

    def inet_csk_exit_pingpong_mode(self) -> None:
        self.icsk_ack.pingpong = 0

    def tcp_rto_min(self) -> int:
        return self.icsk_rto_min

    def tcp_rto_min_us(self) -> int:
        return self.icsk_rto_min * 1000

    def tcp_rto_max(self) -> int:
        return int(self.ns.sysctl.v.get("net.ipv4.tcp_rto_max_ms", TCP_RTO_MAX))

    def keepalive_time_when(self) -> int:
        return self.keepalive_time or int(self.ns.sysctl.v["net.ipv4.tcp_keepalive_time"]) * HZ  # type: ignore[call-overload]

    def keepalive_intvl_when(self) -> int:
        return self.keepalive_intvl or int(self.ns.sysctl.v["net.ipv4.tcp_keepalive_intvl"]) * HZ  # type: ignore[call-overload]

    def keepalive_probes_n(self) -> int:
        return self.keepalive_probes or int(self.ns.sysctl.v["net.ipv4.tcp_keepalive_probes"])  # type: ignore[call-overload]

    def tcp_fin_time(self) -> int:
        """tcp_fin_time: FIN_WAIT2 lifetime of an orphan, at least 3.5 RTO (jiffies)."""
        fin_timeout = self.linger2 or int(self.ns.sysctl.v["net.ipv4.tcp_fin_timeout"]) * HZ  # type: ignore[call-overload]
        rto = self.icsk_rto
        if fin_timeout < (rto << 2) - (rto >> 1):
            fin_timeout = (rto << 2) - (rto >> 1)
        return fin_timeout

    # ------------------------------------------------------------------ struct proto hooks
    def init(self) -> None:
        """sk_prot->init (tcp_v4_init_sock): nothing can fail here."""

    def close(self) -> None:
        """sk_prot->close, as inet_create uses it when init fails."""
        from tuxnet.ipv4.tcp import tcp

        tcp.tcp_close(self)

    def keepalive(self, val: bool) -> None:
        """sk_prot->keepalive (tcp_set_keepalive), called by SO_KEEPALIVE before the flag changes."""
        from tuxnet.ipv4.tcp import tcp_timer

        tcp_timer.tcp_set_keepalive(self, val)

    # ------------------------------------------------------------------ timers (dispatch to tcp_timer)
    def _write_timer(self) -> None:
        from tuxnet.ipv4.tcp import tcp_timer

        tcp_timer.tcp_write_timer(self)

    def _delack_timer(self) -> None:
        from tuxnet.ipv4.tcp import tcp_timer

        tcp_timer.tcp_delack_timer(self)

    def _keepalive_timer(self) -> None:
        from tuxnet.ipv4.tcp import tcp_timer

        tcp_timer.tcp_keepalive_timer(self)

    def _pacing_timer(self) -> None:
        from tuxnet.ipv4.tcp import tcp_timer

        tcp_timer.tcp_pace_kick(self)

    def _compressed_ack_timer(self) -> None:
        from tuxnet.ipv4.tcp import tcp_timer

        tcp_timer.tcp_compressed_ack_kick(self)

    def __repr__(self) -> str:
        from tuxnet.wire.addr import ip_ntoa

        return (f"<TcpSock {STATE_NAMES.get(self.sk_state, self.sk_state)} "
                f"{ip_ntoa(self.inet_rcv_saddr)}:{self.inet_num} -> "
                f"{ip_ntoa(self.inet_daddr)}:{self.inet_dport} ns={self.ns.name}>")
