"""/proc/net/tcp and the TCP line of /proc/net/sockstat (net/ipv4/tcp_ipv4.c tcp4_seq_show,
get_tcp4_sock, get_timewait4_sock, get_openreq4; net/ipv4/proc.c).

Guarantees: the header and every line are padded to 149 characters as seq_pad does; addresses are
the raw network-order words printed with %08X (10.9.0.1 is 0100090A on a little-endian host),
ports in host order; timers as Linux reports them (1 retransmit/loss probe/reordering, 2
keepalive or FIN_WAIT2, 3 TIME_WAIT, 4 zero-window probe) with the time left in clock ticks
(USER_HZ=100); rto and ato in clock ticks, the quickack/pingpong word, cwnd and ssthresh (-1 during
the initial slow start). Listeners come first, then the established table in hash-bucket order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuxnet.ipv4.inet_hashtables import inet_ehashfn, net_secret
from tuxnet.ipv4.tcp import cong
from tuxnet.ipv4.tcp.tcp_sock import (
    ICSK_TIME_LOSS_PROBE,
    ICSK_TIME_PROBE0,
    ICSK_TIME_REO_TIMEOUT,
    ICSK_TIME_RETRANS,
    NSEC_PER_JIFFY,
    TCP_LISTEN,
    TCP_NEW_SYN_RECV,
    TCP_SYN_RECV,
    TCP_TIME_WAIT,
    U32,
)
from tuxnet.procfs import register_proc_file

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

TMPSZ = 150
EHASH_SIZE = 65536


def _le(addr: int) -> int:
    """The big-endian address word as a little-endian host prints it."""
    return int.from_bytes(addr.to_bytes(4, "big"), "little")


def _clock_t(ns_delta: int) -> int:
    """jiffies_delta_to_clock_t: non-negative, in USER_HZ (100) ticks."""
    return max(ns_delta, 0) // NSEC_PER_JIFFY // 10


def _kptr(ns: Namespace, ino: int, obj: Any) -> str:
    from tuxnet.socket import kptr

    return kptr(ns, ino if ino else (id(obj) & U32))


def _tcp_line(ns: Namespace, sk: Any, i: int) -> str:
    now = ns.loop.now_ns
    pending = sk.icsk_pending
    if pending in (ICSK_TIME_RETRANS, ICSK_TIME_REO_TIMEOUT, ICSK_TIME_LOSS_PROBE):
        timer, expires = 1, sk.icsk_timeout
    elif pending == ICSK_TIME_PROBE0:
        timer, expires = 4, sk.icsk_timeout
    elif sk.sk_timer.pending():
        timer, expires = 2, sk.sk_timer.expires or now
    else:
        timer, expires = 0, now
    state = sk.sk_state
    if state == TCP_LISTEN:
        rx_queue = sk.sk_ack_backlog
        last = sk.fastopen_max_qlen  # fastopenq->max_qlen
    else:
        rx_queue = max(0, (sk.rcv_nxt - sk.copied_seq) & U32 if not (sk.rcv_nxt - sk.copied_seq) & 0x80000000
                       else 0)
        in_initial_ss = sk.snd_ssthresh >= cong.TCP_INFINITE_SSTHRESH
        last = -1 if in_initial_ss else sk.snd_ssthresh
    sock = sk.sk_socket
    ino = sock.ino if sock is not None else 0
    ref = 2 if state not in (TCP_LISTEN,) and sock is not None and sk.sk_state != 7 else 1
    quick = (sk.icsk_ack.quick << 1) | (1 if sk.inet_csk_in_pingpong_mode() else 0)
    return (f"{i:4d}: {_le(sk.inet_rcv_saddr):08X}:{sk.inet_sport:04X} {_le(sk.inet_daddr):08X}:"
            f"{sk.inet_dport:04X} {state:02X} {(sk.write_seq - sk.snd_una) & U32:08X}:{rx_queue:08X} "
            f"{timer:02X}:{_clock_t(expires - now):08X} {sk.icsk_retransmits:08X} {sk.sk_uid:5d} "
            f"{sk.icsk_probes_out:8d} {ino} {ref} {_kptr(ns, ino, sk)} {sk.icsk_rto // 10} "
            f"{sk.icsk_ack.ato // 10} {quick} {sk.snd_cwnd} {last}")


def _tw_line(ns: Namespace, tw: Any, i: int) -> str:
    delta = (tw.tw_expires - ns.loop.now_ns) if tw.tw_timer.pending() else 0
    return (f"{i:4d}: {_le(tw.tw_rcv_saddr):08X}:{tw.tw_num:04X} {_le(tw.tw_daddr):08X}:{tw.tw_dport:04X} "
            f"{tw.tw_substate:02X} {0:08X}:{0:08X} {3:02X}:{_clock_t(delta):08X} {0:08X} {0:5d} {0:8d} "
            f"0 3 {_kptr(ns, 0, tw)}")


def _req_line(ns: Namespace, req: Any, i: int) -> str:
    expires = req.rsk_timer.expires
    delta = expires - ns.loop.now_ns if expires is not None else 0
    return (f"{i:4d}: {_le(req.ir_loc_addr):08X}:{req.ir_num:04X} {_le(req.ir_rmt_addr):08X}:"
            f"{req.ir_rmt_port:04X} {TCP_SYN_RECV:02X} {0:08X}:{0:08X} {1:02X}:{_clock_t(delta):08X} "
            f"{req.num_timeout:08X} {req.listener.sk_uid:5d} {0:8d} 0 0 {_kptr(ns, 0, req)}")


def ordered_sockets(ns: Namespace) -> list[Any]:
    """Listeners (by port), then the established table in bucket order (its insertion order within)."""
    net = ns.tcp
    out: list[Any] = []
    for port in sorted(net.lhash):
        out.extend(net.lhash[port])
    secret = net_secret(ns, "ehash")
    entries = list(net.ehash.items())
    entries.sort(key=lambda kv: inet_ehashfn(*kv[0], secret) & (EHASH_SIZE - 1))
    out.extend(sk for _, sk in entries)
    return out


def proc_net_tcp(ns: Namespace) -> str:
    header = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
              "inode")
    lines = [header.ljust(TMPSZ - 1)]
    if getattr(ns, "tcp", None) is None:
        return lines[0] + "\n"
    for i, sk in enumerate(ordered_sockets(ns)):
        st = sk.sk_state
        if st == TCP_TIME_WAIT:
            line = _tw_line(ns, sk, i)
        elif st == TCP_NEW_SYN_RECV:
            line = _req_line(ns, sk, i)
        else:
            line = _tcp_line(ns, sk, i)
        lines.append(line.ljust(TMPSZ - 1))
    return "\n".join(lines) + "\n"


register_proc_file("/proc/net/tcp", proc_net_tcp)
