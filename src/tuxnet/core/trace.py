"""Tracepoints and drop reasons: every drop goes through ``kfree_skb`` with a reason.

Mirrors include/net/dropreason-core.h (``enum skb_drop_reason``) and the tracepoints
``net:net_dev_xmit``, ``net:netif_receive_skb``, ``skb:kfree_skb`` and ``skb:consume_skb``.
A ``Tracer`` belongs to the lab; it costs one attribute test per tracepoint while nobody listens.
Each namespace counts drops per reason (``ns.drops``), which ``nstat``-style tools and tests read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff


class SkbDropReason(Enum):
    """The subset of Linux's drop reasons that tuxnet's code paths can produce (same names)."""

    NOT_SPECIFIED = "NOT_SPECIFIED"
    NO_SOCKET = "NO_SOCKET"
    PKT_TOO_SMALL = "PKT_TOO_SMALL"
    TCP_CSUM = "TCP_CSUM"
    UDP_CSUM = "UDP_CSUM"
    ICMP_CSUM = "ICMP_CSUM"
    NETFILTER_DROP = "NETFILTER_DROP"
    OTHERHOST = "OTHERHOST"
    IP_CSUM = "IP_CSUM"
    IP_INHDR = "IP_INHDR"
    IP_RPFILTER = "IP_RPFILTER"
    IP_NOPROTO = "IP_NOPROTO"
    IP_INADDRERRORS = "IP_INADDRERRORS"
    IP_INNOROUTES = "IP_INNOROUTES"
    IP_OUTNOROUTES = "IP_OUTNOROUTES"
    IP_LOCAL_SOURCE = "IP_LOCAL_SOURCE"
    IP_INVALID_SOURCE = "IP_INVALID_SOURCE"
    IP_INVALID_DEST = "IP_INVALID_DEST"
    PKT_TOO_BIG = "PKT_TOO_BIG"
    SOCKET_RCVBUFF = "SOCKET_RCVBUFF"
    PROTO_MEM = "PROTO_MEM"
    NEIGH_CREATEFAIL = "NEIGH_CREATEFAIL"
    NEIGH_FAILED = "NEIGH_FAILED"
    NEIGH_QUEUEFULL = "NEIGH_QUEUEFULL"
    NEIGH_DEAD = "NEIGH_DEAD"
    QDISC_DROP = "QDISC_DROP"
    CPU_BACKLOG = "CPU_BACKLOG"
    UNHANDLED_PROTO = "UNHANDLED_PROTO"
    DEV_HDR = "DEV_HDR"
    DEV_READY = "DEV_READY"
    HDR_TRUNC = "HDR_TRUNC"
    INVALID_PROTO = "INVALID_PROTO"
    DUP_FRAG = "DUP_FRAG"
    FRAG_REASM_TIMEOUT = "FRAG_REASM_TIMEOUT"
    FRAG_TOO_FAR = "FRAG_TOO_FAR"
    FRAG_REASM_NOMEM = "FRAG_REASM_NOMEM"  # tuxnet name: ip_frag_mem limit hit (ipfrag_high_thresh)
    TTL_EXCEEDED = "TTL_EXCEEDED"  # Linux: IP_INHDR + IpExtInHdrErrors? no: ip_forward uses this path
    NOMEM = "NOMEM"
    NETEM_LOSS = "NETEM_LOSS"  # tuxnet: netem's random loss (Linux counts it as a qdisc drop)
    NETEM_CORRUPT_FCS = "NETEM_CORRUPT_FCS"
    LINK_DOWN = "LINK_DOWN"  # tuxnet: peer of a veth or a cable is down (Linux: veth drops, tx_dropped)
    BRIDGE_NO_PORT = "BRIDGE_NO_PORT"
    MAC_INVALID_SOURCE = "MAC_INVALID_SOURCE"  # br_handle_frame: multicast or all-zero source MAC
    MAC_IEEE_MAC_CONTROL = "MAC_IEEE_MAC_CONTROL"  # 01:80:c2:00:00:01 (PAUSE) is never bridged
    BRIDGE_INGRESS_STP_STATE = "BRIDGE_INGRESS_STP_STATE"  # ingress port is not learning/forwarding
    IP_FRAG_NEEDED_DF = "IP_FRAG_NEEDED_DF"  # DF set and the packet is larger than the MTU
    BLACKHOLE = "BLACKHOLE"
    UNREACHABLE_ROUTE = "UNREACHABLE_ROUTE"
    ICMP_RATELIMIT = "ICMP_RATELIMIT"
    TCP_INVALID_SEQUENCE = "TCP_INVALID_SEQUENCE"
    TCP_RESET = "TCP_RESET"
    TCP_FLAGS = "TCP_FLAGS"
    TCP_OLD_DATA = "TCP_OLD_DATA"
    TCP_OVERWINDOW = "TCP_OVERWINDOW"
    TCP_OFOMERGE = "TCP_OFOMERGE"
    TCP_LISTEN_OVERFLOW = "TCP_LISTEN_OVERFLOW"
    TCP_ZEROWINDOW = "TCP_ZEROWINDOW"
    TCP_OLD_SEQUENCE = "TCP_OLD_SEQUENCE"
    TCP_INVALID_END_SEQUENCE = "TCP_INVALID_END_SEQUENCE"
    TCP_RFC7323_PAWS = "TCP_RFC7323_PAWS"
    TCP_RFC7323_PAWS_ACK = "TCP_RFC7323_PAWS_ACK"
    TCP_RFC7323_TSECR = "TCP_RFC7323_TSECR"
    TCP_OLD_ACK = "TCP_OLD_ACK"
    TCP_TOO_OLD_ACK = "TCP_TOO_OLD_ACK"
    TCP_ACK_UNSENT_DATA = "TCP_ACK_UNSENT_DATA"
    TCP_OFO_DROP = "TCP_OFO_DROP"
    TCP_OFO_QUEUE_PRUNE = "TCP_OFO_QUEUE_PRUNE"
    TCP_CLOSE = "TCP_CLOSE"
    TCP_ABORT_ON_DATA = "TCP_ABORT_ON_DATA"
    TCP_INVALID_ACK_SEQUENCE = "TCP_INVALID_ACK_SEQUENCE"
    TCP_INVALID_SYN = "TCP_INVALID_SYN"
    SOCKET_CLOSE = "SOCKET_CLOSE"
    TAP_FILTER = "TAP_FILTER"
    IP_LOCALNET = "IP_LOCALNET"  # loopback address from/to a device without route_localnet
    QUEUE_PURGE = "QUEUE_PURGE"  # __skb_queue_purge (6.7+): e.g. a neighbour's unresolved queue flushed


@dataclass(slots=True)
class TraceEvent:
    """One tracepoint hit: time, namespace, tracepoint name, the packet id and its fields."""

    ts_ns: int
    ns: str
    point: str
    skb_id: int
    fields: dict[str, Any]

    def __str__(self) -> str:
        f = " ".join(f"{k}={v}" for k, v in self.fields.items())
        return f"{self.ts_ns / 1e9:12.9f} {self.ns:<8} {self.point:<20} skb={self.skb_id} {f}"


class Tracer:
    """Fan-out of tracepoints to subscribers (ftrace/perf in miniature). ``active`` gates the cost."""

    __slots__ = ("active", "_subs", "events", "record", "only_skb")

    def __init__(self) -> None:
        self.active = False
        self._subs: list[Callable[[TraceEvent], None]] = []
        self.events: list[TraceEvent] = []
        self.record = False
        self.only_skb: set[int] | None = None

    def subscribe(self, fn: Callable[[TraceEvent], None]) -> None:
        self._subs.append(fn)
        self.active = True

    def start_recording(self, only_skb: set[int] | None = None) -> None:
        self.record = True
        self.only_skb = only_skb
        self.active = True

    def stop(self) -> None:
        self.record = False
        self._subs.clear()
        self.active = False

    def emit(self, ts_ns: int, ns: str, point: str, skb: SkBuff | None, **fields: Any) -> None:
        sid = skb.id if skb is not None else 0
        if self.only_skb is not None and sid not in self.only_skb:
            return
        ev = TraceEvent(ts_ns, ns, point, sid, fields)
        if self.record:
            self.events.append(ev)
        for fn in self._subs:
            fn(ev)

    def journey(self, skb_id: int) -> list[TraceEvent]:
        """Every recorded stage one packet passed, in order (its 'packet journey')."""
        return [e for e in self.events if e.skb_id == skb_id]


class DropStats:
    """Per-namespace drop counters by reason (what ``dropwatch`` / ``perf`` on kfree_skb show)."""

    __slots__ = ("by_reason",)

    def __init__(self) -> None:
        self.by_reason: Counter[SkbDropReason] = Counter()

    def __getitem__(self, reason: SkbDropReason) -> int:
        return self.by_reason[reason]

    def total(self) -> int:
        return sum(self.by_reason.values())
