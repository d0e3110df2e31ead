"""ss(8) of iproute2 6.1: socket statistics of a namespace (misc/ss.c, misc/ssfilter.y).

Guarantees:
- Options ``-t -u -w -x -a -l -n -r -o -e -m -p -i -s -4 -6 -H -O -A QUERY -f FAMILY``, the state
  filter (``state NAME``, ``exclude NAME`` with ss's names and the groups ``all connected
  synchronized bucket big``) and the filter expression of ssfilter.y (``dst``/``src`` HOSTCOND,
  ``dport``/``sport`` with ``= != < > <= >=`` and their word forms, ``dev``, ``autobound``, ``and``
  ``or`` ``not`` ``( )``, juxtaposition is ``and``; evaluated left to right as bison builds it).
- Output is laid out as ss renders it when stdout is not a terminal (render_calc_width in compact
  mode): every field is a token, a column is as wide as its longest token plus its left delimiter,
  Local/Peer Address are right-aligned, the others left-aligned and padded, so headers, trailing
  spaces and the ``-i``/``-m`` second lines (part of the Process column, after "\\n\\t") come out
  byte for byte as ss prints them. Netid is shown only when more than one socket table is asked for,
  State only when more than one state is.
- Sockets come from the namespace's tables in the order the kernel dumps them: raw, udp, then tcp
  (listeners, then the established hash with TIME_WAIT and request socks). Recv-Q/Send-Q, timers,
  tcp_info, skmem and the shutdown arrows follow inet_diag (tcp_diag_get_info, inet_sk_diag_fill,
  inet_twsk_diag_fill, inet_req_diag_fill); ``-i`` prints tcp_stats_print's fields in its order and
  units, with sprint_bw's rates (``-n`` prints them as plain numbers, as ss does).
- ``-p``: tuxnet has no processes. A tool or application that opens sockets names itself with
  ``set_owner(ns, sock, comm, pid)`` (pids from ``alloc_pid``, per namespace, from 100); any other
  socket shows ``users:(("tuxnet",pid=1,fd=N))``: the namespace itself, with the socket's fd.
- ``-e``: ``uid:`` (when not root), ``ino:``, ``sk:`` (a cookie given at first dump, per namespace,
  as sock_gen_cookie does lazily); no ``cgroup:`` (tuxnet has no cgroups).
- ``-s`` reads /proc/net/sockstat and Tcp CurrEstab exactly as print_summary does, so it always
  agrees with them. Unix, packet and netlink sockets do not exist in tuxnet: ``-x`` lists nothing.
- Errors and exit codes as ss: ``ss: wrong state name: X`` (255), a filter syntax error prints
  bison's message, " Sorry." and the usage (255), unknown options print the usage (255).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any, TextIO

from tuxnet.tools.ssfilter import (
    SERVICES,
    FilterError,
    FilterSyntaxError,
    ephemeral_port,
    parse_filter,
    run_filter,
)

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

# ---------------------------------------------------------------------------------- tables, states
TCP_DB, MPTCP_DB, DCCP_DB, UDP_DB, RAW_DB, UNIX_DG_DB, UNIX_ST_DB, UNIX_SQ_DB = range(8)
PACKET_DG_DB, PACKET_R_DB, NETLINK_DB, SCTP_DB, VSOCK_ST_DB, VSOCK_DG_DB, TIPC_DB, XDP_DB = range(8, 16)
MAX_DB = 16
SS_ESTABLISHED, SS_SYN_SENT, SS_SYN_RECV, SS_FIN_WAIT1, SS_FIN_WAIT2, SS_TIME_WAIT = range(1, 7)
SS_CLOSE, SS_CLOSE_WAIT, SS_LAST_ACK, SS_LISTEN, SS_CLOSING, SS_MAX = range(7, 13)
SS_ALL = (1 << SS_MAX) - 1
SS_CONN = SS_ALL & ~((1 << SS_LISTEN) | (1 << SS_CLOSE) | (1 << SS_TIME_WAIT) | (1 << SS_SYN_RECV))
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_TIPC, AF_VSOCK, AF_XDP = 1, 2, 10, 16, 17, 30, 40, 44
UNIX_DBM = (1 << UNIX_DG_DB) | (1 << UNIX_ST_DB) | (1 << UNIX_SQ_DB)
INET_DBM = (1 << TCP_DB) | (1 << MPTCP_DB) | (1 << UDP_DB) | (1 << DCCP_DB) | (1 << SCTP_DB) | (1 << RAW_DB)
_INET_FAMS = (1 << AF_INET) | (1 << AF_INET6)
_ONE = 1 << SS_CLOSE
# default_dbs: (states, families) per table; default_afs: (dbs, states) per family
DEFAULT_DBS = {TCP_DB: (SS_CONN, _INET_FAMS), MPTCP_DB: (SS_CONN, _INET_FAMS), DCCP_DB: (SS_CONN, _INET_FAMS),
               UDP_DB: (1 << SS_ESTABLISHED, _INET_FAMS), RAW_DB: (1 << SS_ESTABLISHED, _INET_FAMS),
               UNIX_DG_DB: (_ONE, 1 << AF_UNIX), UNIX_ST_DB: (SS_CONN, 1 << AF_UNIX),
               UNIX_SQ_DB: (SS_CONN, 1 << AF_UNIX), PACKET_DG_DB: (_ONE, 1 << AF_PACKET),
               PACKET_R_DB: (_ONE, 1 << AF_PACKET), NETLINK_DB: (_ONE, 1 << AF_NETLINK),
               SCTP_DB: (SS_CONN, _INET_FAMS), VSOCK_ST_DB: (SS_CONN, 1 << AF_VSOCK),
               VSOCK_DG_DB: (SS_CONN, 1 << AF_VSOCK),
               TIPC_DB: ((1 << SS_ESTABLISHED) | (1 << SS_LISTEN) | (1 << SS_CLOSE), 1 << AF_TIPC),
               XDP_DB: (_ONE, 1 << AF_XDP)}
DEFAULT_AFS = {AF_INET: (INET_DBM, SS_CONN), AF_INET6: (INET_DBM, SS_CONN), AF_UNIX: (UNIX_DBM, SS_CONN),
               AF_PACKET: ((1 << PACKET_DG_DB) | (1 << PACKET_R_DB), _ONE),
               AF_NETLINK: (1 << NETLINK_DB, _ONE),
               AF_VSOCK: ((1 << VSOCK_ST_DB) | (1 << VSOCK_DG_DB), SS_CONN),
               AF_TIPC: (1 << TIPC_DB, DEFAULT_DBS[TIPC_DB][0]), AF_XDP: (1 << XDP_DB, _ONE)}
_ALL_DBS = [UDP_DB, DCCP_DB, TCP_DB, MPTCP_DB, RAW_DB, UNIX_ST_DB, UNIX_DG_DB, UNIX_SQ_DB, PACKET_R_DB,
            PACKET_DG_DB, NETLINK_DB, SCTP_DB, VSOCK_ST_DB, VSOCK_DG_DB, XDP_DB]
DB_NAMES: dict[str, list[int]] = {
    "all": _ALL_DBS, "inet": [UDP_DB, DCCP_DB, TCP_DB, MPTCP_DB, SCTP_DB, RAW_DB], "udp": [UDP_DB],
    "dccp": [DCCP_DB], "tcp": [TCP_DB], "mptcp": [MPTCP_DB], "sctp": [SCTP_DB], "raw": [RAW_DB],
    "unix": [UNIX_ST_DB, UNIX_DG_DB, UNIX_SQ_DB], "unix_stream": [UNIX_ST_DB], "u_str": [UNIX_ST_DB],
    "unix_dgram": [UNIX_DG_DB], "u_dgr": [UNIX_DG_DB], "unix_seqpacket": [UNIX_SQ_DB], "u_seq": [UNIX_SQ_DB],
    "packet": [PACKET_R_DB, PACKET_DG_DB], "packet_raw": [PACKET_R_DB], "p_raw": [PACKET_R_DB],
    "packet_dgram": [PACKET_DG_DB], "p_dgr": [PACKET_DG_DB], "netlink": [NETLINK_DB], "tipc": [TIPC_DB],
    "vsock": [VSOCK_ST_DB, VSOCK_DG_DB], "vsock_stream": [VSOCK_ST_DB], "v_str": [VSOCK_ST_DB],
    "vsock_dgram": [VSOCK_DG_DB], "v_dgr": [VSOCK_DG_DB], "xdp": [XDP_DB]}
SSTATE_NAME = ["UNKNOWN", "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "UNCONN",
               "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING"]
SSTATE_NAMEL = ["UNKNOWN", "established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2", "time-wait",
                "unconnected", "close-wait", "last-ack", "listening", "closing"]
PROTO_NAMES = {0: "ip", 1: "icmp", 2: "igmp", 4: "ipencap", 6: "tcp", 17: "udp", 47: "gre", 50: "esp",
               51: "ah", 89: "ospf", 132: "sctp", 255: "raw"}
TMR_NAME = ["off", "on", "keepalive", "timewait", "persist", "unknown"]
USAGE = """Usage: ss [ OPTIONS ]
       ss [ OPTIONS ] [ FILTER ]
   -h, --help          this message
   -V, --version       output version information
   -n, --numeric       don't resolve service names
   -r, --resolve       resolve host names
   -a, --all           display all sockets
   -l, --listening     display listening sockets
   -o, --options       show timer information
   -e, --extended      show detailed socket information
   -m, --memory        show socket memory usage
   -p, --processes     show process using socket
   -i, --info          show internal TCP information
   -s, --summary       show socket usage summary
   -4, --ipv4          display only IP version 4 sockets
   -6, --ipv6          display only IP version 6 sockets
   -t, --tcp           display only TCP sockets
   -u, --udp           display only UDP sockets
   -w, --raw           display only RAW sockets
   -x, --unix          display only Unix domain sockets
   -f, --family=FAMILY display sockets of type FAMILY
       FAMILY := {inet|inet6|link|unix|netlink|vsock|tipc|xdp|help}
   -H, --no-header     Suppress header line
   -O, --oneline       socket's data printed on a single line
   -A, --query=QUERY, --socket=QUERY
       QUERY := {all|inet|tcp|mptcp|udp|raw|unix|unix_dgram|unix_stream|unix_seqpacket|packet|packet_raw|packet_dgram|netlink|dccp|sctp|vsock_stream|vsock_dgram|tipc|xdp}[,QUERY]
       FILTER := [ state STATE-FILTER ] [ EXPRESSION ]
       STATE-FILTER := {all|connected|synchronized|bucket|big|TCP-STATES}
         TCP-STATES := {established|syn-sent|syn-recv|fin-wait-{1,2}|time-wait|closed|close-wait|last-ack|listening|closing}
"""  # noqa: E501
SHORT_FLAGS = "dhaletuwxnro460spTbEmMiVvzZKHSO"
LONG_OPTS = {"numeric": "n", "resolve": "r", "options": "o", "extended": "e", "memory": "m", "info": "i",
             "processes": "p", "threads": "T", "tcp": "t", "udp": "u", "raw": "w", "unix": "x", "all": "a",
             "listening": "l", "ipv4": "4", "ipv6": "6", "packet": "0", "summary": "s", "version": "V",
             "help": "h", "no-header": "H", "oneline": "O", "dccp": "d", "sctp": "S", "mptcp": "M",
             "family": "f=", "socket": "A=", "query": "A=", "net": "N=", "filter": "F=", "diag": "D="}


class SsExit(Exception):
    """ss exits: the code, and what it printed to stderr."""

    def __init__(self, code: int, msg: str = "") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def _usage_exit(prefix: str = "") -> SsExit:
    return SsExit(255, prefix + USAGE)


# ---------------------------------------------------------------------------------- owners, cookies
def alloc_pid(ns: Namespace) -> int:
    """A pid for a tool run in the namespace (tuxnet has no processes: numbers from 100 up)."""
    pid = getattr(ns, "_ss_next_pid", 100)
    ns._ss_next_pid = pid + 1  # type: ignore[attr-defined]
    return pid


def set_owner(ns: Namespace, sock: Any, comm: str, pid: int) -> None:
    """Record the program that owns ``sock`` (what ``ss -p`` shows for it)."""
    owners = ns.__dict__.setdefault("_ss_owners", {})
    owners[sock.ino] = (comm[:15], pid)


def _owner(ns: Namespace, ino: int) -> tuple[str, int]:
    return ns.__dict__.get("_ss_owners", {}).get(ino, ("tuxnet", 1))


def _cookie(ns: Namespace, obj: Any) -> int:
    tab = ns.__dict__.setdefault("_ss_cookies", {})
    ent = tab.get(id(obj))
    if ent is None or ent[0] is not obj:
        nxt = ns.__dict__.get("_ss_next_cookie", 1)
        ns._ss_next_cookie = nxt + 1  # type: ignore[attr-defined]
        ent = tab[id(obj)] = (obj, nxt)
    return ent[1]


# ---------------------------------------------------------------------------------- formatting helpers
def print_ms_timer(timeout: int) -> str:
    secs, msecs = timeout // 1000, timeout % 1000
    minutes, secs = secs // 60, secs % 60
    buf = ""
    if minutes:
        msecs = 0
        buf = f"{minutes}min"
        if minutes > 9:
            secs = 0
    if secs:
        if secs > 9:
            msecs = 0
        buf += f"{secs}{'.' if msecs else 'sec'}"
    if msecs:
        buf += f"{msecs:03d}ms"
    return buf


def _g(v: float) -> str:
    """printf %g."""
    return f"{v:g}"


def sprint_bw(bw: float, numeric: bool) -> str:
    if numeric:
        return f"{bw:.0f}"
    for lim, suf in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if bw >= lim:
            return f"{bw / lim:.3g}{suf}"
    return f"{bw:g}"


class Opts:
    __slots__ = ("numeric", "resolve", "options", "details", "users", "mem", "info", "oneline")

    def __init__(self) -> None:
        self.numeric = self.resolve = self.options = self.users = self.mem = self.info = False
        self.oneline = False
        self.details = 0


# ---------------------------------------------------------------------------------- socket records
class Rec:
    """One socket as inet_diag reports it (struct sockstat + the diag attributes ss prints)."""

    __slots__ = ("db", "state", "rq", "wq", "laddr", "lport", "raddr", "rport", "ino", "uid", "iface",
                 "obj", "timer", "expires", "retrans", "shutdown", "skmem", "tcp", "fd")

    def __init__(self, db: int, obj: Any) -> None:
        self.db = db
        self.obj = obj
        self.rq = self.wq = self.ino = self.uid = self.iface = 0
        self.timer = self.expires = self.retrans = 0
        self.shutdown: int | None = None
        self.skmem: tuple[int, ...] | None = None
        self.tcp: Any = None
        self.fd = -1


def _skmem(sk: Any, wmem_queued: int) -> tuple[int, ...]:
    """sk_get_meminfo: r, rb, t, tb, f, w, o, bl, d; f is what is left of the pages charged."""
    r = sk.sk_rmem_alloc
    used = r + wmem_queued
    fwd = -(-used // 4096) * 4096 - used
    wmem = getattr(sk, "sk_wmem_alloc", 0)
    return (r, sk.sk_rcvbuf, wmem, sk.sk_sndbuf, fwd, wmem_queued, 0, 0, sk.sk_drops)


def _full(rec: Rec, sk: Any) -> Rec:
    rec.state = sk.sk_state
    rec.laddr, rec.lport = sk.inet_rcv_saddr, sk.inet_num
    rec.raddr, rec.rport = sk.inet_daddr, sk.inet_dport
    sock = sk.sk_socket
    rec.ino = sock.ino if sock is not None else 0
    rec.fd = sock.fd if sock is not None else -1
    rec.uid = sk.sk_uid
    rec.iface = sk.sk_bound_dev_if
    rec.shutdown = sk.sk_shutdown
    return rec


def _tcp_recs(ns: Namespace) -> list[Rec]:
    from tuxnet.ipv4.tcp.proc import ordered_sockets
    from tuxnet.ipv4.tcp.tcp_sock import (
        ICSK_TIME_LOSS_PROBE,
        ICSK_TIME_PROBE0,
        ICSK_TIME_REO_TIMEOUT,
        ICSK_TIME_RETRANS,
        TCP_LISTEN,
        TCP_NEW_SYN_RECV,
        TCP_TIME_WAIT,
        U32,
    )

    if getattr(ns, "tcp", None) is None:
        return []
    now = ns.loop.now_ns
    out = []
    for sk in ordered_sockets(ns):
        rec = Rec(TCP_DB, sk)
        if sk.sk_state == TCP_TIME_WAIT:  # inet_twsk_diag_fill
            rec.state = sk.tw_substate
            rec.laddr, rec.lport, rec.raddr, rec.rport = sk.tw_rcv_saddr, sk.tw_num, sk.tw_daddr, sk.tw_dport
            rec.timer = 3
            rec.expires = max(0, sk.tw_expires - now) // 1_000_000 if sk.tw_timer.pending() else 0
            rec.iface = sk.tw_bound_dev_if
        elif sk.sk_state == TCP_NEW_SYN_RECV:  # inet_req_diag_fill
            rec.state = SS_SYN_RECV
            rec.laddr, rec.lport = sk.ir_loc_addr, sk.ir_num
            rec.raddr, rec.rport = sk.ir_rmt_addr, sk.ir_rmt_port
            exp = sk.rsk_timer.expires
            rec.timer, rec.retrans = 1, sk.num_timeout
            rec.expires = max(0, exp - now) // 1_000_000 if exp is not None else 0
        else:
            _full(rec, sk)
            if sk.sk_state == TCP_LISTEN:
                rec.rq, rec.wq = sk.sk_ack_backlog, sk.sk_max_ack_backlog
            else:
                d = (sk.rcv_nxt - sk.copied_seq) & U32
                rec.rq = 0 if d & 0x80000000 else d
                rec.wq = (sk.write_seq - sk.snd_una) & U32
            pending = sk.icsk_pending
            if pending in (ICSK_TIME_RETRANS, ICSK_TIME_REO_TIMEOUT, ICSK_TIME_LOSS_PROBE):
                rec.timer, rec.retrans, exp = 1, sk.icsk_retransmits, sk.icsk_timeout
            elif pending == ICSK_TIME_PROBE0:
                rec.timer, rec.retrans, exp = 4, sk.icsk_probes_out, sk.icsk_timeout
            elif sk.sk_timer.pending():
                rec.timer, rec.retrans, exp = 2, sk.icsk_probes_out, sk.sk_timer.expires or now
            else:
                exp = now
            rec.expires = max(0, exp - now) // 1_000_000
            rec.skmem = _skmem(sk, sk.sk_wmem_queued)
            rec.tcp = sk
        out.append(rec)
    return out


def _dgram_recs(ns: Namespace, table: Any, db: int) -> list[Rec]:
    out = []
    for sk in table.sockets() if table is not None else ():
        rec = _full(Rec(db, sk), sk)
        rec.rq, rec.wq = sk.sk_rmem_alloc, sk.sk_wmem_alloc
        if db == RAW_DB:
            rec.lport, rec.rport = sk.inet_num, 0  # raw_diag: the protocol in the source port
        rec.skmem = _skmem(sk, 0)
        out.append(rec)
    return out


# ---------------------------------------------------------------------------------- tcp_info line
def _tcp_info_line(ns: Namespace, rec: Rec, opts: Opts) -> str:
    from tuxnet.ipv4.tcp.tcp_sockopt import TCPI_OPT_ECN, TCPI_OPT_SACK, TCPI_OPT_TIMESTAMPS, TCPI_OPT_WSCALE
    from tuxnet.ipv4.tcp.tcp_sockopt import tcp_get_info as get_info

    tp = rec.tcp
    info = get_info(tp)
    if rec.state == SS_LISTEN:  # tcp_get_info reports only these for a listener
        keep = ("tcpi_state", "tcpi_pacing_rate", "tcpi_max_pacing_rate", "tcpi_reordering", "tcpi_snd_cwnd",
                "tcpi_unacked", "tcpi_sacked")
        info = {k: (v if k in keep else 0) for k, v in info.items()}
    n = opts.numeric
    o: list[str] = []
    opt = info["tcpi_options"]
    if opts.options:
        o += [w for bit, w in ((TCPI_OPT_TIMESTAMPS, " ts"), (TCPI_OPT_SACK, " sack"), (TCPI_OPT_ECN, " ecn"))
              if opt & bit]
    ops = tp.icsk_ca_ops
    if ops is not None:
        o.append(f" {ops.name}")
    if opt & TCPI_OPT_WSCALE:
        o.append(f" wscale:{info['tcpi_wscale'] & 15},{info['tcpi_wscale'] >> 4}")
    if info["tcpi_rto"] and info["tcpi_rto"] != 3000000:
        o.append(f" rto:{_g(info['tcpi_rto'] / 1000)}")
    if info["tcpi_backoff"]:
        o.append(f" backoff:{info['tcpi_backoff']}")
    rtt = info["tcpi_rtt"]
    if rtt:
        o.append(f" rtt:{_g(rtt / 1000)}/{_g(info['tcpi_rttvar'] / 1000)}")
    if info["tcpi_ato"]:
        o.append(f" ato:{_g(info['tcpi_ato'] / 1000)}")
    for key, label in (("tcpi_snd_mss", "mss"), ("tcpi_pmtu", "pmtu"), ("tcpi_rcv_mss", "rcvmss"),
                       ("tcpi_advmss", "advmss"), ("tcpi_snd_cwnd", "cwnd")):
        if info[key]:
            o.append(f" {label}:{info[key]}")
    if info["tcpi_snd_ssthresh"] < 0xFFFF and info["tcpi_snd_ssthresh"]:
        o.append(f" ssthresh:{info['tcpi_snd_ssthresh']}")
    for key, label in (("tcpi_bytes_sent", "bytes_sent"), ("tcpi_bytes_retrans", "bytes_retrans"),
                       ("tcpi_bytes_acked", "bytes_acked"), ("tcpi_bytes_received", "bytes_received"),
                       ("tcpi_segs_out", "segs_out"), ("tcpi_segs_in", "segs_in"),
                       ("tcpi_data_segs_out", "data_segs_out"), ("tcpi_data_segs_in", "data_segs_in")):
        if info[key]:
            o.append(f" {label}:{info[key]}")
    if ops is not None and ops.name == "bbr" and ops.get_info is not None and rec.state != SS_LISTEN:
        b = ops.get_info(tp)
        bw = (b["bbr_bw_hi"] << 32) | b["bbr_bw_lo"]
        o.append(f" bbr:(bw:{sprint_bw(bw * 8.0, n)}bps,mrtt:{_g(b['bbr_min_rtt'] / 1000)}")
        if b["bbr_pacing_gain"]:
            o.append(f",pacing_gain:{_g(b['bbr_pacing_gain'] / 256)}")
        if b["bbr_cwnd_gain"]:
            o.append(f",cwnd_gain:{_g(b['bbr_cwnd_gain'] / 256)}")
        o.append(")")
    if rtt > 0 and info["tcpi_snd_mss"] and info["tcpi_snd_cwnd"]:
        o.append(f" send {sprint_bw(info['tcpi_snd_cwnd'] * info['tcpi_snd_mss'] * 8000000.0 / rtt, n)}bps")
    for key, label in (("tcpi_last_data_sent", "lastsnd"), ("tcpi_last_data_recv", "lastrcv"),
                       ("tcpi_last_ack_recv", "lastack")):
        if info[key]:
            o.append(f" {label}:{info[key]}")
    u64 = (1 << 64) - 1
    pr = info["tcpi_pacing_rate"]
    if pr and pr != u64:
        o.append(f" pacing_rate {sprint_bw(pr * 8.0, n)}bps")
        mpr = info["tcpi_max_pacing_rate"]
        if mpr and mpr != u64:
            o.append(f"/{sprint_bw(mpr * 8.0, n)}bps")
    if info["tcpi_delivery_rate"]:
        o.append(f" delivery_rate {sprint_bw(info['tcpi_delivery_rate'] * 8.0, n)}bps")
    if info["tcpi_delivered"]:
        o.append(f" delivered:{info['tcpi_delivered']}")
    if info["tcpi_delivered_ce"]:
        o.append(f" delivered_ce:{info['tcpi_delivered_ce']}")
    if info["tcpi_flags"] & 1:
        o.append(" app_limited")
    busy = info["tcpi_busy_time"]
    if busy:
        o.append(f" busy:{busy // 1000}ms")
        for key, label in (("tcpi_rwnd_limited", "rwnd_limited"), ("tcpi_sndbuf_limited", "sndbuf_limited")):
            if info[key]:
                o.append(f" {label}:{info[key] // 1000}ms({100.0 * info[key] / busy:.1f}%)")
    if info["tcpi_unacked"]:
        o.append(f" unacked:{info['tcpi_unacked']}")
    if info["tcpi_retrans"] or info["tcpi_total_retrans"]:
        o.append(f" retrans:{info['tcpi_retrans']}/{info['tcpi_total_retrans']}")
    if info["tcpi_lost"]:
        o.append(f" lost:{info['tcpi_lost']}")
    if info["tcpi_sacked"] and rec.state != SS_LISTEN:
        o.append(f" sacked:{info['tcpi_sacked']}")
    for key, label in (("tcpi_dsack_dups", "dsack_dups"), ("tcpi_fackets", "fackets")):
        if info[key]:
            o.append(f" {label}:{info[key]}")
    if info["tcpi_reordering"] != 3:
        o.append(f" reordering:{info['tcpi_reordering']}")
    if info["tcpi_reord_seen"]:
        o.append(f" reord_seen:{info['tcpi_reord_seen']}")
    if info["tcpi_rcv_rtt"]:
        o.append(f" rcv_rtt:{_g(info['tcpi_rcv_rtt'] / 1000)}")
    for key, label in (("tcpi_rcv_space", "rcv_space"), ("tcpi_rcv_ssthresh", "rcv_ssthresh"),
                       ("tcpi_notsent_bytes", "notsent")):
        if info[key]:
            o.append(f" {label}:{info[key]}")
    if info["tcpi_min_rtt"] and info["tcpi_min_rtt"] != 0xFFFFFFFF:
        o.append(f" minrtt:{_g(info['tcpi_min_rtt'] / 1000)}")
    for key, label in (("tcpi_rcv_ooopack", "rcv_ooopack"), ("tcpi_snd_wnd", "snd_wnd")):
        if info[key]:
            o.append(f" {label}:{info[key]}")
    return "".join(o)


def scan_state(name: str) -> int:
    s = name.lower()
    groups = {"close": 1 << SS_CLOSE, "closed": 1 << SS_CLOSE, "syn-rcv": 1 << SS_SYN_RECV,
              "established": 1 << SS_ESTABLISHED, "all": SS_ALL,
              "connected": SS_ALL & ~((1 << SS_CLOSE) | (1 << SS_LISTEN)),
              "synchronized": SS_ALL & ~((1 << SS_CLOSE) | (1 << SS_LISTEN) | (1 << SS_SYN_SENT)),
              "bucket": (1 << SS_SYN_RECV) | (1 << SS_TIME_WAIT),
              "big": SS_ALL & ~((1 << SS_SYN_RECV) | (1 << SS_TIME_WAIT))}
    if s in groups:
        return groups[s]
    for i, n in enumerate(SSTATE_NAMEL):
        if s == n.lower():
            return 1 << i
    raise SsExit(255, f"ss: wrong state name: {name}\n")


# ---------------------------------------------------------------------------------- rendering
COLUMNS = [("Netid", "", "L"), ("State", " ", "L"), ("Recv-Q", " ", "L"), ("Send-Q", " ", "L"),
           ("Local Address:", " ", "R"), ("Port", "", "L"), ("Peer Address:", " ", "R"), ("Port", "", "L"),
           ("Process", "", "L"), ("", "", "L")]


def render(rows: list[list[str]], disabled: set[int]) -> str:
    """render_calc_width (compact: not a terminal) and render(): rows hold one token per column."""
    cols = [i for i in range(len(COLUMNS)) if i not in disabled]
    max_len = dict.fromkeys(cols, 0)
    for row in rows:
        for i, tok in zip(cols, row, strict=True):
            max_len[i] = max(max_len[i], len(tok))
    width: dict[int, int] = {}
    first = True
    for i in cols:
        width[i] = max_len[i] + (len(COLUMNS[i][1]) if not first and max_len[i] else 0)
        if width[i]:
            first = False
    out: list[str] = []
    for row in rows:
        line = []
        started = False
        for i, tok in zip(cols, row, strict=True):
            if not started and not width[i] and not tok:
                continue
            printed = 0
            if started:
                line.append(COLUMNS[i][1])
                printed = len(COLUMNS[i][1])
            started = True
            if width[i] and COLUMNS[i][2] == "R":
                pad = width[i] - len(tok) - printed
                if pad > 0:
                    line.append(" " * pad)
                    printed += pad
            line.append(tok)
            printed += len(tok)
            if width[i] and COLUMNS[i][2] == "L" and width[i] - printed > 0:
                line.append(" " * (width[i] - printed))
        out.append("".join(line) + "\n")
    return "".join(out)


def _serv(ns: Namespace, port: int, db: int, numeric: bool) -> str:
    if port == 0:
        return "*"
    if numeric:
        return str(port)
    if db == RAW_DB:
        return PROTO_NAMES.get(port, str(port))
    if not ephemeral_port(ns, port) and port in SERVICES:
        return SERVICES[port]
    return str(port)


def _host(ns: Namespace, addr: int, opts: Opts) -> str:
    if opts.resolve:
        for name, a in getattr(getattr(ns, "sockets", None), "hosts", {}).items():
            if a == addr:
                return name
    return str(ipaddress.IPv4Address(addr)) if addr else "0.0.0.0"


def _row(ns: Namespace, r: Rec, opts: Opts) -> list[str]:
    netid = {TCP_DB: "tcp", UDP_DB: "udp", RAW_DB: "raw"}[r.db]
    ext: list[str] = []
    if opts.users and r.ino:
        comm, pid = _owner(ns, r.ino)
        ext.append(f' users:(("{comm}",pid={pid},fd={r.fd}))')
    if opts.options and r.timer:
        t = min(r.timer, 5)
        ext.append(f" timer:({TMR_NAME[t]},{print_ms_timer(r.expires)},{r.retrans})")
    if opts.details:
        if r.uid:
            ext.append(f" uid:{r.uid}")
        ext.append(f" ino:{r.ino} sk:{_cookie(ns, r.obj):x}")
        if r.shutdown is not None:
            m = r.shutdown
            ext.append(f" {'-' if m & 1 else '<'}-{'-' if m & 2 else '>'}")
    if opts.mem or (opts.info and r.db != UDP_DB):
        if not opts.oneline:
            ext.append("\n\t")
        if opts.mem and r.skmem is not None:
            m = r.skmem
            ext.append(f" skmem:(r{m[0]},rb{m[1]},t{m[2]},tb{m[3]},f{m[4]},w{m[5]},o{m[6]},bl{m[7]},d{m[8]})")
        if opts.info and r.tcp is not None:
            ext.append(_tcp_info_line(ns, r, opts))
    return [netid, SSTATE_NAME[r.state], f"{r.rq:<6d}", f"{r.wq:<6d}", _host(ns, r.laddr, opts) + ":",
            _serv(ns, r.lport, r.db, opts.numeric), _host(ns, r.raddr, opts) + ":",
            _serv(ns, r.rport, r.db, opts.numeric), "".join(ext), ""]


def summary(ns: Namespace) -> str:
    """print_summary: /proc/net/sockstat and Tcp CurrEstab."""
    from tuxnet.socket import proc_net_sockstat

    s: dict[str, list[int]] = {}
    for line in proc_net_sockstat(ns).splitlines():
        key, _, rest = line.partition(" ")
        s[key] = [int(x) for x in rest.split()[1::2] if x.lstrip("-").isdigit()]
    socks = s.get("sockets:", [0])[0]
    tcp4, orphans, tws, total = (s.get("TCP:", [0, 0, 0, 0, 0]) + [0] * 5)[:4]
    udp4 = s.get("UDP:", [0])[0]
    raw4 = s.get("RAW:", [0])[0]
    frag4 = s.get("FRAG:", [0])[0]
    estab = ns.mib.tcp.CurrEstab if getattr(ns.mib, "tcp", None) is not None else 0
    inet = raw4 + udp4 + tcp4
    return (f"Total: {socks}\n"
            f"TCP:   {total + tws} (estab {estab}, closed {total - (tcp4 - tws)}, orphaned {orphans}, "
            f"timewait {tws})\n\n"
            "Transport Total     IP        IPv6\n"
            f"RAW\t  {raw4:<9d} {raw4:<9d} {0:<9d}\n"
            f"UDP\t  {udp4:<9d} {udp4:<9d} {0:<9d}\n"
            f"TCP\t  {tcp4:<9d} {tcp4:<9d} {0:<9d}\n"
            f"INET\t  {inet:<9d} {inet:<9d} {0:<9d}\n"
            f"FRAG\t  {frag4:<9d} {frag4:<9d} {0:<9d}\n\n")


# ---------------------------------------------------------------------------------- command line
class Filter:
    __slots__ = ("dbs", "states", "families", "do_default")

    def __init__(self) -> None:
        self.dbs = self.states = self.families = 0
        self.do_default = True

    def db_set(self, db: int, enable: bool = True) -> None:
        if enable:
            self.states |= DEFAULT_DBS[db][0]
            self.dbs |= 1 << db
        else:
            self.dbs &= ~(1 << db)
        self.do_default = False

    def af_set(self, af: int) -> None:
        self.states |= DEFAULT_AFS[af][1]
        self.families |= 1 << af
        self.do_default = False

    def db_parse(self, name: str) -> bool:
        enable = not name.startswith("!")
        dbs = DB_NAMES.get(name.lstrip("!"))
        if dbs is None:
            return False
        for db in dbs:
            self.db_set(db, enable)
        return True

    def merge_defaults(self) -> None:
        for db in range(MAX_DB):
            if self.dbs & (1 << db) and not DEFAULT_DBS[db][1] & self.families:
                self.families |= DEFAULT_DBS[db][1]
        for af, (dbs, _) in DEFAULT_AFS.items():
            if self.families & (1 << af) and not dbs & self.dbs:
                self.dbs |= dbs


def _getopt(argv: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """getopt_long with ss's option string (options may follow the filter words, as GNU permutes)."""
    opts: list[tuple[str, str]] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--":
            rest += argv[i:]
            break
        if a.startswith("--") and len(a) > 2:
            name, eq, val = a[2:].partition("=")
            m = [k for k in LONG_OPTS if k.startswith(name)]
            key = name if name in LONG_OPTS else (m[0] if len(m) == 1 else None)
            if key is None:
                raise _usage_exit(f"ss: unrecognized option '{a}'\n" if not m else
                                  f"ss: option '{a}' is ambiguous\n")
            short = LONG_OPTS[key]
            if short.endswith("="):
                if not eq:
                    if i >= len(argv):
                        raise _usage_exit(f"ss: option '--{key}' requires an argument\n")
                    val = argv[i]
                    i += 1
                opts.append((short[0], val))
            else:
                opts.append((short, ""))
        elif a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                c = a[j]
                j += 1
                if c in "fADFN":
                    val = a[j:]
                    if not val:
                        if i >= len(argv):
                            raise _usage_exit(f"ss: option requires an argument -- '{c}'\n")
                        val = argv[i]
                        i += 1
                    opts.append((c, val))
                    break
                if c not in SHORT_FLAGS:
                    raise _usage_exit(f"ss: invalid option -- '{c}'\n")
                opts.append((c, ""))
        else:
            rest.append(a)
    return opts, rest


def run(ns: Namespace, argv: list[str]) -> tuple[int, str, str]:
    """ss as a function: (exit code, stdout, stderr)."""
    opts, args = _getopt(argv)
    o = Opts()
    f = Filter()
    show_header = True
    do_summary = False
    state_filter = 0
    saw_query = False
    fams = {"inet": AF_INET, "inet6": AF_INET6, "link": AF_PACKET, "unix": AF_UNIX, "netlink": AF_NETLINK,
            "tipc": AF_TIPC, "vsock": AF_VSOCK, "xdp": AF_XDP}
    dbflags = {"d": DCCP_DB, "t": TCP_DB, "S": SCTP_DB, "u": UDP_DB, "w": RAW_DB, "M": MPTCP_DB}
    for c, val in opts:
        if c in dbflags:
            f.db_set(dbflags[c])
        elif c in "46x0":
            f.af_set({"4": AF_INET, "6": AF_INET6, "x": AF_UNIX, "0": AF_PACKET}[c])
        elif c == "n":
            o.numeric = True
        elif c == "r":
            o.resolve = True
        elif c == "o":
            o.options = True
        elif c == "e":
            o.options = True
            o.details += 1
        elif c == "m":
            o.mem = True
        elif c == "i":
            o.info = True
        elif c in "pT":
            o.users = True
        elif c == "a":
            state_filter = SS_ALL
        elif c == "l":
            state_filter = (1 << SS_LISTEN) | (1 << SS_CLOSE)
        elif c == "s":
            do_summary = True
        elif c == "H":
            show_header = False
        elif c == "O":
            o.oneline = True
        elif c == "f":
            if val == "help":
                return 0, USAGE, ""
            if val not in fams:
                raise _usage_exit(f'ss: "{val}" is invalid family\n')
            f.af_set(fams[val])
        elif c == "A":
            if not saw_query:
                f.dbs = 0
                state_filter = state_filter or SS_CONN
                saw_query = True
                f.do_default = False
            for q in val.split(","):
                if not f.db_parse(q):
                    raise _usage_exit(f'ss: "{q}" is illegal socket table id\n')
        elif c in "vV":
            return 0, "ss utility, iproute2-6.1.0\n", ""
        elif c == "h":
            return 0, USAGE, ""
        elif c in "zZ":
            raise SsExit(1, "ss: SELinux is not enabled.\n")
        elif c in "NDFK":
            raise SsExit(1, f"ss: -{c} is not supported by tuxnet's ss\n")
    out = [summary(ns)] if do_summary else []
    if do_summary and f.do_default and not args:
        return 0, "".join(out), ""
    saw_states = False
    while args and args[0] in ("state", "exclude", "excl"):
        if len(args) < 2:
            raise SsExit(255, 'Command line is not complete. Try option "help"\n')
        if args[0] == "state":
            if not saw_states:
                state_filter = 0
            state_filter |= scan_state(args[1])
        else:
            if not saw_states:
                state_filter = SS_ALL
            state_filter &= ~scan_state(args[1])
        saw_states = True
        args = args[2:]
    if f.do_default:
        state_filter = state_filter or SS_CONN
        f.db_parse("all")
    if state_filter:
        f.states = state_filter
    f.merge_defaults()
    for cond, what in ((f.dbs, "socket tables"), (f.families, "families"), (f.states, "socket states")):
        if not cond:
            return 0, "".join(out), f"ss: no {what} to show with such filter.\n"
    try:
        expr = parse_filter(ns, args, f.dbs)
    except FilterError as e:
        raise SsExit(1, str(e)) from None
    except FilterSyntaxError:
        msg = 'ss: bison bellows (while parsing filter): "syntax error!" Sorry.\n'
        raise SsExit(255, msg + USAGE) from None
    disabled: set[int] = set()
    if not f.dbs & (f.dbs - 1):
        disabled.add(0)
    if not f.states & (f.states - 1):
        disabled.add(1)
    rows: list[list[str]] = []
    if show_header:
        rows.append([c[0] for c in COLUMNS])
    if f.families & (1 << AF_INET):
        recs: list[Rec] = []
        if f.dbs & (1 << RAW_DB):
            recs += _dgram_recs(ns, getattr(ns, "raw", None), RAW_DB)
        if f.dbs & (1 << UDP_DB):
            recs += _dgram_recs(ns, getattr(ns, "udp", None), UDP_DB)
        if f.dbs & (1 << TCP_DB):
            recs += _tcp_recs(ns)
        for r in recs:
            if not f.states & (1 << r.state) or (expr is not None and not run_filter(ns, expr, r)):
                continue
            rows.append(_row(ns, r, o))
    keep = [i for i in range(len(COLUMNS)) if i not in disabled]
    out.append(render([[row[i] for i in keep] for row in rows], disabled))
    return 0, "".join(out), ""


async def main(ns: Namespace, argv: list[str], out: TextIO, err: TextIO) -> int:
    try:
        rc, text, errtext = run(ns, argv)
    except SsExit as e:
        err.write(e.msg)
        return e.code
    err.write(errtext)
    out.write(text)
    return rc
