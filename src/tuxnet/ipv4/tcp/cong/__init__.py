"""Pluggable TCP congestion control: ``tcp_congestion_ops``, the registry and the socket-side calls.

Mirrors net/ipv4/tcp_cong.c and the congestion-control parts of include/net/tcp.h. Algorithms are
``TcpCongestionOps`` records of plain functions taking the socket ``tp`` (the kernel's ``sk``/``tp``
in one object), registered by name: ``reno`` (``cong/reno.py``), ``cubic`` (``cong/cubic.py``) and
``bbr`` (``cong/bbr.py``), in that order, so ``available()`` lists ``reno cubic bbr`` like
``/proc/sys/net/ipv4/tcp_available_congestion_control`` on a stock kernel with bbr loaded.

Registry (tcp_cong.c): ``tcp_register_congestion_control`` (alias ``register_congestion_control``)
rejects ops missing ``ssthresh``, ``undo_cwnd`` or both of ``cong_avoid``/``cong_control`` with
EINVAL (tcp_validate_congestion_control; the kernel requires ``undo_cwnd`` too, so we do) and a
duplicate name with EEXIST. ``tcp_ca_find``/``find``, ``available()``,
``tcp_get_available_congestion_control()``. ``tcp_set_congestion_control`` (setsockopt
TCP_CONGESTION) fails with ENOENT for an unknown name and EPERM for an algorithm outside the allowed
list without CAP_NET_ADMIN (tuxnet hosts run as root, so ``cap_net_admin`` defaults to True).

The socket: ``CongState`` holds every ``tcp_sock``/``inet_connection_sock``/``sock`` field the
algorithms read or write, under the kernel's names; TCP's socket class inherits it (or provides the
same attributes). Units are the kernel's: ``tcp_mstamp`` and all ``*_mstamp`` in us,
``tcp_clock_cache``/``tcp_wstamp_ns`` in ns, ``srtt_us`` is 8 x the smoothed RTT in us (``<< 3``),
``mdev_us`` 4 x, ``lsndtime`` in jiffies, rates in bytes per second, windows in packets.

========================  ===========================================================  ==========
attribute                 meaning                                                      CC access
========================  ===========================================================  ==========
snd_cwnd, snd_ssthresh    congestion window / slow start threshold (packets)           read/write
snd_cwnd_cnt              linear increase counter                                      read/write
snd_cwnd_clamp            upper bound of snd_cwnd                                      read
snd_cwnd_stamp            jiffies of the last cwnd change (TCP's; kept for CC users)   -
prior_cwnd                cwnd before entering loss recovery (TCP sets)                read
prior_ssthresh            ssthresh saved for undo (reset by tcp_init_cong..._control)  write
mss_cache                 current effective MSS                                        read
srtt_us, mdev_us          smoothed RTT << 3, mean deviation << 2                       read
rtt_min                   ``Minmax`` windowed min RTT (us), read with tcp_min_rtt()    read
packets_out, sacked_out,  RFC 6675 pipe accounting; tcp_packets_in_flight()            read
lost_out, retrans_out
max_packets_out           max packets_out in the last window (tcp_cwnd_validate)       read
is_cwnd_limited           cwnd was fully used in the last window                       read
delivered, delivered_ce   packets delivered (ACKed or SACKed) / with CE mark           read
lost                      packets marked lost, total                                   read
app_limited               delivered mark where app-limited ends (0 = not limited)      read/write
delivered_mstamp,         delivery rate bookkeeping (tcp_rate.c)                       read/write
first_tx_mstamp, rate_*
tcp_mstamp                time of the current event (us), refreshed by TCP             read
tcp_clock_cache           same instant in ns; tcp_wstamp_ns: earliest departure (EDT)  read
lsndtime                  jiffies of the last data sent (for idle restart)             read
snd_una, snd_nxt,         sequence numbers (u32)                                       read
write_seq
icsk_ca_state             TCP_CA_Open/Disorder/CWR/Recovery/Loss                       read
icsk_ca_ops, ca_priv      the algorithm and its private state (``inet_csk_ca(tp)``)     -
sk_pacing_rate            pacing rate, bytes/s; the output path honours it             write
sk_max_pacing_rate        SO_MAX_PACING_RATE cap                                       read
sk_pacing_status          SK_PACING_NONE / NEEDED / FQ                                 read/write
sk_pacing_shift           TSQ/TSO autosize shift (10)                                  read
sk_gso_max_size           0: tuxnet devices have no GSO                                read
sk_wmem_alloc             bytes of this socket queued below TCP (qdisc, driver)        read
sk_state                  TCP state number (TCP_CLOSE=7, TCP_LISTEN=10, ...)           read
ca_rng                    ``random.Random`` seeded by the namespace (BBR's phase)       read
tcpext                    the namespace's TcpExt MIB, or None                          counters
========================  ===========================================================  ==========

The TCP engine drives an algorithm as Linux does:

- connect/accept: ``tcp_assign_congestion_control(tp, default_name)`` when the socket is created
  (default from sysctl ``net.ipv4.tcp_congestion_control``), ``tcp_init_congestion_control(tp)``
  when the connection is established; ``tcp_cleanup_congestion_control(tp)`` on destroy. Send ECT
  (INET_ECN_xmit) when ``tcp_ca_needs_ecn(tp)``.
- setsockopt TCP_CONGESTION: ``tcp_set_congestion_control(tp, name, allowed=...)``.
- every ACK (tcp_ack): per newly (s)acked segment ``rate.tcp_rate_skb_delivered``; then
  ``ops.pkts_acked(tp, AckSample(...))`` if set (tcp_clean_rtx_queue); ``tcp_in_ack_event(tp, flags)``;
  ``rate.tcp_rate_gen(...)``; then tcp_cong_control(): ``ops.cong_control(tp, ack, flag, rs)`` if the
  algorithm has one (BBR), else PRR while in CWR/Recovery or ``ops.cong_avoid(tp, ack, acked)`` when
  tcp_may_raise_cwnd(), followed by TCP's tcp_update_pacing_rate().
- entering CWR/Recovery/Loss: ``snd_ssthresh = ops.ssthresh(tp)`` (after setting ``prior_cwnd``);
  ``tcp_set_ca_state(tp, state)`` for every CA state change; undo: ``snd_cwnd = ops.undo_cwnd(tp)``.
- events: ``tcp_ca_event(tp, CA_EVENT_TX_START)`` when sending after idle with nothing in flight,
  ``CA_EVENT_CWND_RESTART`` on restart after idle, ``CA_EVENT_COMPLETE_CWR``, ``CA_EVENT_LOSS`` on
  RTO, ``CA_EVENT_ECN_IS_CE``/``CA_EVENT_ECN_NO_CE`` for DCTCP-style algorithms.

Time: ``tcp_jiffies32(tp)`` derives jiffies (HZ=1000) from ``tp.tcp_mstamp``, offset by the
kernel's INITIAL_JIFFIES (-300 s) so jiffy 0, which means "unset" in several algorithms, is not
met until five virtual minutes in, as on a freshly booted Linux host.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection
from enum import IntEnum
from typing import Any

from tuxnet.core.errors import errno, oserror
from tuxnet.ipv4.tcp.minmax import Minmax
from tuxnet.ipv4.tcp.rate import (
    tcp_left_out,
    tcp_min_rtt,
    tcp_packets_in_flight,
    tcp_stamp_us_delta,
)

__all__ = [
    "CA_ACK_ECE",
    "CA_ACK_SLOWPATH",
    "CA_ACK_WIN_UPDATE",
    "HZ",
    "SK_PACING_FQ",
    "SK_PACING_NEEDED",
    "SK_PACING_NONE",
    "TCP_CA_NAME_MAX",
    "TCP_CONG_NEEDS_ECN",
    "TCP_CONG_NON_RESTRICTED",
    "TCP_INFINITE_SSTHRESH",
    "TCP_INIT_CWND",
    "AckSample",
    "CongState",
    "TcpCaEvent",
    "TcpCaState",
    "TcpCongestionOps",
    "available",
    "find",
    "inet_csk_ca",
    "register_congestion_control",
    "tcp_assign_congestion_control",
    "tcp_ca_event",
    "tcp_ca_find",
    "tcp_ca_needs_ecn",
    "tcp_cleanup_congestion_control",
    "tcp_cong_avoid_ai",
    "tcp_get_allowed_congestion_control",
    "tcp_get_available_congestion_control",
    "tcp_in_ack_event",
    "tcp_in_slow_start",
    "tcp_init_congestion_control",
    "tcp_is_cwnd_limited",
    "tcp_jiffies32",
    "tcp_left_out",
    "tcp_min_rtt",
    "tcp_packets_in_flight",
    "tcp_register_congestion_control",
    "tcp_reinit_congestion_control",
    "tcp_set_allowed_congestion_control",
    "tcp_set_ca_state",
    "tcp_set_congestion_control",
    "tcp_set_default_congestion_control",
    "tcp_slow_start",
    "tcp_snd_cwnd",
    "tcp_snd_cwnd_set",
    "tcp_stamp_us_delta",
    "tcp_unregister_congestion_control",
    "usecs_to_jiffies",
]

U32 = 0xFFFFFFFF
U64 = (1 << 64) - 1

HZ = 1000  # CONFIG_HZ; one jiffy is 1 ms
USEC_PER_SEC = 1_000_000
USEC_PER_MSEC = 1000
USEC_PER_JIFFY = USEC_PER_SEC // HZ
INITIAL_JIFFIES = (-300 * HZ) & U32  # include/linux/jiffies.h: wrap five minutes after boot

TCP_INIT_CWND = 10
TCP_INFINITE_SSTHRESH = 0x7FFFFFFF
TCP_MSS_DEFAULT = 536
TCP_CA_NAME_MAX = 16

# tcp_congestion_ops.flags
TCP_CONG_NON_RESTRICTED = 0x1  # usable without CAP_NET_ADMIN
TCP_CONG_NEEDS_ECN = 0x2  # requires ECN/ECT set on all packets

# sk->sk_pacing_status
SK_PACING_NONE = 0
SK_PACING_NEEDED = 1
SK_PACING_FQ = 2

# in_ack_event() flags
CA_ACK_SLOWPATH = 1 << 0  # in slow path processing
CA_ACK_WIN_UPDATE = 1 << 1  # ACK updated window
CA_ACK_ECE = 1 << 2  # ECE bit is set on ack

# TCP states the registry looks at (include/net/tcp_states.h).
TCP_CLOSE = 7
TCP_LISTEN = 10


class TcpCaState(IntEnum):
    """icsk_ca_state: the sender's congestion-avoidance state (include/net/tcp.h)."""

    TCP_CA_Open = 0
    TCP_CA_Disorder = 1
    TCP_CA_CWR = 2
    TCP_CA_Recovery = 3
    TCP_CA_Loss = 4


TCP_CA_Open = TcpCaState.TCP_CA_Open
TCP_CA_Disorder = TcpCaState.TCP_CA_Disorder
TCP_CA_CWR = TcpCaState.TCP_CA_CWR
TCP_CA_Recovery = TcpCaState.TCP_CA_Recovery
TCP_CA_Loss = TcpCaState.TCP_CA_Loss


class TcpCaEvent(IntEnum):
    """enum tcp_ca_event: events passed to ``cwnd_event``."""

    CA_EVENT_TX_START = 0  # first transmit when no packets in flight
    CA_EVENT_CWND_RESTART = 1  # congestion window restart
    CA_EVENT_COMPLETE_CWR = 2  # end of congestion recovery
    CA_EVENT_LOSS = 3  # loss timeout
    CA_EVENT_ECN_NO_CE = 4  # ECT set, but not CE marked
    CA_EVENT_ECN_IS_CE = 5  # received CE marked IP packet


CA_EVENT_TX_START = TcpCaEvent.CA_EVENT_TX_START
CA_EVENT_CWND_RESTART = TcpCaEvent.CA_EVENT_CWND_RESTART
CA_EVENT_COMPLETE_CWR = TcpCaEvent.CA_EVENT_COMPLETE_CWR
CA_EVENT_LOSS = TcpCaEvent.CA_EVENT_LOSS
CA_EVENT_ECN_NO_CE = TcpCaEvent.CA_EVENT_ECN_NO_CE
CA_EVENT_ECN_IS_CE = TcpCaEvent.CA_EVENT_ECN_IS_CE


class AckSample:
    """struct ack_sample, passed to ``pkts_acked``: ``rtt_us`` is -1 when the ACK gave no sample."""

    __slots__ = ("pkts_acked", "rtt_us", "in_flight")

    def __init__(self, pkts_acked: int, rtt_us: int, in_flight: int) -> None:
        self.pkts_acked = pkts_acked
        self.rtt_us = rtt_us
        self.in_flight = in_flight

    def __repr__(self) -> str:
        return f"AckSample(pkts_acked={self.pkts_acked}, rtt_us={self.rtt_us}, in_flight={self.in_flight})"


class CongState:
    """The socket fields congestion control reads and writes, with tcp_init_sock()'s defaults.

    TCP's socket inherits this class (adding its own ``__slots__``); tests use it directly as a fake
    socket. See the module docstring for each attribute's meaning and unit.
    """

    __slots__ = (
        "snd_cwnd", "snd_ssthresh", "snd_cwnd_cnt", "snd_cwnd_clamp", "snd_cwnd_stamp", "prior_cwnd",
        "prior_ssthresh", "mss_cache", "srtt_us", "mdev_us", "rtt_min", "packets_out", "sacked_out",
        "lost_out", "retrans_out", "max_packets_out", "is_cwnd_limited", "delivered", "delivered_ce",
        "lost", "app_limited", "delivered_mstamp", "first_tx_mstamp", "rate_delivered",
        "rate_interval_us", "rate_app_limited", "tcp_mstamp", "tcp_clock_cache", "tcp_wstamp_ns",
        "lsndtime", "snd_una", "snd_nxt", "write_seq", "icsk_ca_state", "icsk_ca_ops",
        "icsk_ca_initialized", "icsk_ca_setsockopt", "icsk_ca_dst_locked", "ca_priv", "sk_pacing_rate",
        "sk_max_pacing_rate", "sk_pacing_status", "sk_pacing_shift", "sk_gso_max_size", "sk_wmem_alloc",
        "sk_state", "ca_rng", "tcpext",
    )  # fmt: skip

    def __init__(self, *, rng: random.Random | None = None, tcpext: Any = None) -> None:
        self.snd_cwnd = TCP_INIT_CWND
        self.snd_ssthresh = TCP_INFINITE_SSTHRESH
        self.snd_cwnd_cnt = 0
        self.snd_cwnd_clamp = U32
        self.snd_cwnd_stamp = 0
        self.prior_cwnd = 0
        self.prior_ssthresh = 0
        self.mss_cache = TCP_MSS_DEFAULT
        self.srtt_us = 0
        self.mdev_us = 0
        self.rtt_min = Minmax()
        self.rtt_min.reset(INITIAL_JIFFIES, U32)  # tcp_init_sock: minmax_reset(.., ~0U)
        self.packets_out = 0
        self.sacked_out = 0
        self.lost_out = 0
        self.retrans_out = 0
        self.max_packets_out = 0
        self.is_cwnd_limited = False
        self.delivered = 0
        self.delivered_ce = 0
        self.lost = 0
        self.app_limited = U32  # tcp_init_sock: ~0U, a bubble in the pipe until at least the first ACK
        self.delivered_mstamp = 0
        self.first_tx_mstamp = 0
        self.rate_delivered = 0
        self.rate_interval_us = 0
        self.rate_app_limited = True
        self.tcp_mstamp = 0
        self.tcp_clock_cache = 0
        self.tcp_wstamp_ns = 0
        self.lsndtime = 0
        self.snd_una = 0
        self.snd_nxt = 0
        self.write_seq = 0
        self.icsk_ca_state: int = TCP_CA_Open
        self.icsk_ca_ops: TcpCongestionOps | None = None
        self.icsk_ca_initialized = False
        self.icsk_ca_setsockopt = False
        self.icsk_ca_dst_locked = False
        self.ca_priv: Any = None
        self.sk_pacing_rate = U64  # sock_init_data: ~0UL
        self.sk_max_pacing_rate = U64
        self.sk_pacing_status = SK_PACING_NONE
        self.sk_pacing_shift = 10
        self.sk_gso_max_size = 0
        self.sk_wmem_alloc = 0
        self.sk_state = TCP_CLOSE
        self.ca_rng = rng
        self.tcpext = tcpext


class TcpCongestionOps:
    """struct tcp_congestion_ops: a named record of callbacks, each taking the socket first.

    Required: ``ssthresh(tp) -> int``, ``undo_cwnd(tp) -> int`` and ``cong_avoid(tp, ack, acked)`` or
    ``cong_control(tp, ack, flag, rs)``. Optional: ``init(tp)``, ``release(tp)``,
    ``set_state(tp, new_state)``, ``cwnd_event(tp, event)``, ``in_ack_event(tp, flags)``,
    ``pkts_acked(tp, AckSample)``, ``min_tso_segs(tp) -> int``, ``sndbuf_expand(tp) -> int``,
    ``get_info(tp) -> dict``. ``priv_factory`` builds the zeroed private state (``icsk_ca_priv``)
    that ``tcp_assign_congestion_control`` puts in ``tp.ca_priv`` before ``init`` runs.
    """

    __slots__ = (
        "name", "flags", "priv_factory", "init", "release", "ssthresh", "cong_avoid", "set_state",
        "cwnd_event", "in_ack_event", "pkts_acked", "min_tso_segs", "cong_control", "undo_cwnd",
        "sndbuf_expand", "get_info",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        *,
        flags: int = 0,
        priv_factory: Callable[[], Any] | None = None,
        init: Callable[[Any], None] | None = None,
        release: Callable[[Any], None] | None = None,
        ssthresh: Callable[[Any], int] | None = None,
        cong_avoid: Callable[[Any, int, int], None] | None = None,
        set_state: Callable[[Any, int], None] | None = None,
        cwnd_event: Callable[[Any, int], None] | None = None,
        in_ack_event: Callable[[Any, int], None] | None = None,
        pkts_acked: Callable[[Any, AckSample], None] | None = None,
        min_tso_segs: Callable[[Any], int] | None = None,
        cong_control: Callable[[Any, int, int, Any], None] | None = None,
        undo_cwnd: Callable[[Any], int] | None = None,
        sndbuf_expand: Callable[[Any], int] | None = None,
        get_info: Callable[[Any], dict[str, int]] | None = None,
    ) -> None:
        self.name = name
        self.flags = flags
        self.priv_factory = priv_factory
        self.init = init
        self.release = release
        self.ssthresh = ssthresh
        self.cong_avoid = cong_avoid
        self.set_state = set_state
        self.cwnd_event = cwnd_event
        self.in_ack_event = in_ack_event
        self.pkts_acked = pkts_acked
        self.min_tso_segs = min_tso_segs
        self.cong_control = cong_control
        self.undo_cwnd = undo_cwnd
        self.sndbuf_expand = sndbuf_expand
        self.get_info = get_info

    def __repr__(self) -> str:
        return f"<TcpCongestionOps {self.name}>"


# --- helpers from include/net/tcp.h and tcp_cong.c -----------------------------------------------


def tcp_jiffies32(tp: Any) -> int:
    """tcp_jiffies32 for the current event, derived from ``tp.tcp_mstamp`` (see module docstring)."""
    return (INITIAL_JIFFIES + tp.tcp_mstamp // USEC_PER_JIFFY) & U32


def usecs_to_jiffies(us: int) -> int:
    """Rounds up, as the kernel's usecs_to_jiffies()."""
    return (us + USEC_PER_JIFFY - 1) // USEC_PER_JIFFY


def msecs_to_jiffies(ms: int) -> int:
    return (ms * HZ + 999) // 1000


def inet_csk_ca(tp: Any) -> Any:
    """The algorithm's private state."""
    return tp.ca_priv


def tcp_snd_cwnd(tp: Any) -> int:
    return tp.snd_cwnd


def tcp_snd_cwnd_set(tp: Any, val: int) -> None:
    tp.snd_cwnd = val


def tcp_in_slow_start(tp: Any) -> bool:
    return tp.snd_cwnd < tp.snd_ssthresh


def tcp_is_cwnd_limited(tp: Any) -> bool:
    """Was cwnd the limit on sending? In slow start, allow cwnd to grow to twice what was used."""
    if tp.is_cwnd_limited:
        return True
    if tp.snd_cwnd < tp.snd_ssthresh:
        return tp.snd_cwnd < 2 * tp.max_packets_out
    return False


def tcp_slow_start(tp: Any, acked: int) -> int:
    """Slow start (RFC 5681 with RFC 3465 byte counting in packets); returns the ACKed packets left over.

    A stretch ACK of N packets counts as N ACKs of one; cwnd stops at ssthresh and the remainder is
    returned to be used in congestion avoidance. (Linux does not cap N at 2 as RFC 3465's L=2 would.)
    """
    cwnd = min(tp.snd_cwnd + acked, tp.snd_ssthresh)
    acked -= cwnd - tp.snd_cwnd
    tp.snd_cwnd = min(cwnd, tp.snd_cwnd_clamp)
    return acked


def tcp_cong_avoid_ai(tp: Any, w: int, acked: int) -> None:
    """Additive increase: cwnd += 1 per ``w`` packets ACKed (``snd_cwnd_cnt`` accumulates credit)."""
    # If credits accumulated at a higher w, apply them gently now.
    if tp.snd_cwnd_cnt >= w:
        tp.snd_cwnd_cnt = 0
        tp.snd_cwnd += 1
    tp.snd_cwnd_cnt += acked
    if tp.snd_cwnd_cnt >= w:
        delta = tp.snd_cwnd_cnt // w
        tp.snd_cwnd_cnt -= delta * w
        tp.snd_cwnd += delta
    tp.snd_cwnd = min(tp.snd_cwnd, tp.snd_cwnd_clamp)


def tcp_ca_needs_ecn(tp: Any) -> bool:
    ops = tp.icsk_ca_ops
    return ops is not None and bool(ops.flags & TCP_CONG_NEEDS_ECN)


def tcp_ca_event(tp: Any, event: int) -> None:
    ops = tp.icsk_ca_ops
    if ops is not None and ops.cwnd_event is not None:
        ops.cwnd_event(tp, event)


def tcp_in_ack_event(tp: Any, flags: int) -> None:
    ops = tp.icsk_ca_ops
    if ops is not None and ops.in_ack_event is not None:
        ops.in_ack_event(tp, flags)


def tcp_set_ca_state(tp: Any, ca_state: int) -> None:
    """Tell the algorithm about a CA state change, then record it (the algorithm sees the old state)."""
    ops = tp.icsk_ca_ops
    if ops is not None and ops.set_state is not None:
        ops.set_state(tp, ca_state)
    tp.icsk_ca_state = ca_state


# --- the registry ----------------------------------------------------------------------------------

_tcp_cong_list: list[TcpCongestionOps] = []


def tcp_ca_find(name: str) -> TcpCongestionOps | None:
    for ca in _tcp_cong_list:
        if ca.name == name:
            return ca
    return None


find = tcp_ca_find


def tcp_validate_congestion_control(ca: TcpCongestionOps) -> None:
    """All algorithms must implement ssthresh, undo_cwnd and cong_avoid or cong_control (EINVAL)."""
    if ca.ssthresh is None or ca.undo_cwnd is None or (ca.cong_avoid is None and ca.cong_control is None):
        raise oserror(errno.EINVAL, f"{ca.name} does not implement required ops")


def tcp_register_congestion_control(ca: TcpCongestionOps) -> None:
    """Add an algorithm at the end of the list; EINVAL for missing ops, EEXIST for a taken name."""
    tcp_validate_congestion_control(ca)
    if not ca.name or len(ca.name) >= TCP_CA_NAME_MAX:
        raise oserror(errno.EINVAL, f"congestion control name {ca.name!r} must be 1-15 characters")
    if tcp_ca_find(ca.name) is not None:
        raise oserror(errno.EEXIST, f"{ca.name} already registered")
    _tcp_cong_list.append(ca)


register_congestion_control = tcp_register_congestion_control


def tcp_unregister_congestion_control(ca: TcpCongestionOps) -> None:
    if ca in _tcp_cong_list:
        _tcp_cong_list.remove(ca)


def available() -> tuple[str, ...]:
    """Registered algorithm names in list order."""
    return tuple(ca.name for ca in _tcp_cong_list)


def tcp_get_available_congestion_control() -> str:
    """The text of /proc/sys/net/ipv4/tcp_available_congestion_control."""
    return " ".join(available())


def tcp_get_allowed_congestion_control(allowed: Collection[str] | None = None) -> str:
    """The text of tcp_allowed_congestion_control: allowed algorithms in list order.

    ``allowed`` is the namespace's allowed set; None means the algorithms flagged
    TCP_CONG_NON_RESTRICTED.
    """
    names = [ca.name for ca in _tcp_cong_list if _is_allowed(ca, allowed)]
    return " ".join(names)


def tcp_set_allowed_congestion_control(val: str) -> tuple[str, ...]:
    """Validate a new allowed list (space separated); ENOENT if a name is not registered."""
    names = tuple(n for n in val.split(" ") if n)
    for name in names:
        if tcp_ca_find(name) is None:
            raise oserror(errno.ENOENT, f"unknown congestion control {name!r}")
    return names


def tcp_set_default_congestion_control(name: str) -> TcpCongestionOps:
    """Validate a new default (sysctl tcp_congestion_control); ENOENT if unknown.

    The kernel also marks the default TCP_CONG_NON_RESTRICTED; the namespace's sysctl writer should
    add it to its allowed list, as that list is per namespace here.
    """
    ca = tcp_ca_find(name)
    if ca is None:
        raise oserror(errno.ENOENT, f"unknown congestion control {name!r}")
    return ca


def _is_allowed(ca: TcpCongestionOps, allowed: Collection[str] | None) -> bool:
    if allowed is None:
        return bool(ca.flags & TCP_CONG_NON_RESTRICTED)
    return ca.name in allowed


def _new_priv(ca: TcpCongestionOps) -> Any:
    return ca.priv_factory() if ca.priv_factory is not None else None


def tcp_assign_congestion_control(tp: Any, default: str = "cubic") -> None:
    """Give a new socket the namespace's default algorithm (reno if the default is gone)."""
    ca = tcp_ca_find(default) or tcp_ca_find("reno")
    if ca is None:  # pragma: no cover - reno is registered at import
        raise oserror(errno.ENOENT, "no congestion control registered")
    tp.icsk_ca_ops = ca
    tp.ca_priv = _new_priv(ca)


def tcp_init_congestion_control(tp: Any) -> None:
    """Run the algorithm's init when the connection starts (tcp_init_transfer)."""
    ca = tp.icsk_ca_ops
    tp.prior_ssthresh = 0
    if ca.init is not None:
        ca.init(tp)
    tp.icsk_ca_initialized = True


def tcp_cleanup_congestion_control(tp: Any) -> None:
    ca = tp.icsk_ca_ops
    if ca is not None and tp.icsk_ca_initialized and ca.release is not None:
        ca.release(tp)
    tp.icsk_ca_initialized = False


def tcp_reinit_congestion_control(tp: Any, ca: TcpCongestionOps) -> None:
    """Switch algorithm; initialise it at once unless the socket is closed or listening."""
    tcp_cleanup_congestion_control(tp)
    tp.icsk_ca_ops = ca
    tp.icsk_ca_setsockopt = True
    tp.ca_priv = _new_priv(ca)
    if tp.sk_state not in (TCP_CLOSE, TCP_LISTEN):
        tcp_init_congestion_control(tp)


def tcp_set_congestion_control(
    tp: Any, name: str, *, cap_net_admin: bool = True, allowed: Collection[str] | None = None
) -> None:
    """setsockopt(TCP_CONGESTION): ENOENT for an unknown name, EPERM if not allowed and not admin.

    The name is cut to TCP_CA_NAME_MAX - 1 characters first, as the kernel copies at most that many
    from user space. ``allowed`` is the namespace's tcp_allowed_congestion_control (which includes
    the default); None means the algorithms flagged TCP_CONG_NON_RESTRICTED.
    """
    if tp.icsk_ca_dst_locked:
        raise oserror(errno.EPERM, "congestion control locked by the route")
    name = name.split("\0", 1)[0][: TCP_CA_NAME_MAX - 1]
    ca = tcp_ca_find(name)
    if ca is not None and ca is tp.icsk_ca_ops:
        tp.icsk_ca_setsockopt = True  # no change asking for the existing value
        return
    if ca is None:
        raise oserror(errno.ENOENT, f"unknown congestion control {name!r}")
    if not (_is_allowed(ca, allowed) or cap_net_admin):
        raise oserror(errno.EPERM, f"congestion control {name!r} is not allowed")
    tcp_reinit_congestion_control(tp, ca)


# Built-in algorithms register in the kernel's order: reno (tcp_cong.c), cubic, bbr.
from tuxnet.ipv4.tcp.cong import bbr as bbr  # noqa: E402
from tuxnet.ipv4.tcp.cong import cubic as cubic  # noqa: E402
from tuxnet.ipv4.tcp.cong import reno as reno  # noqa: E402

tcp_register_congestion_control(reno.tcp_reno)
tcp_register_congestion_control(cubic.cubictcp)
tcp_register_congestion_control(bbr.tcp_bbr_cong_ops)
