"""struct net_device and the core receive/transmit path (net/core/dev.c).

Transmit: ``dev_queue_xmit(skb)`` -> root qdisc enqueue -> ``qdisc_run`` -> ``dev_hard_start_xmit``
(packet taps see the frame here, as dev_queue_xmit_nit) -> the driver's ``ndo_start_xmit``.
A device whose qdisc is ``noqueue`` (veth, bridge, lo) transmits directly, as Linux does.

Receive: a driver hands a frame to ``netif_rx`` -> per-device backlog (bounded by
``net.core.netdev_max_backlog``, drop reason CPU_BACKLOG) -> NAPI: one poll per softirq pass handles
at most ``weight`` (``net.core.dev_weight``, 64) packets and reschedules itself while work is left ->
``netif_receive_skb``: taps, the rx_handler (a bridge port), then the protocol handler by ethertype
(``ns.ptype``: ip_rcv, arp_rcv). Unknown ethertypes are dropped with UNHANDLED_PROTO.

Statistics are ``struct rtnl_link_stats64``'s fields, shown by ``ip -s link``.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.core.trace import SkbDropReason
from tuxnet.skb import Csum, PacketType, SkBuff
from tuxnet.wire.ethernet_consts import ETH_HLEN, ETH_P_8021Q, ETH_P_ARP, ETH_P_IP

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

# include/uapi/linux/if.h
IFF_UP = 0x1
IFF_BROADCAST = 0x2
IFF_DEBUG = 0x4
IFF_LOOPBACK = 0x8
IFF_POINTOPOINT = 0x10
IFF_RUNNING = 0x40
IFF_NOARP = 0x80
IFF_PROMISC = 0x100
IFF_MULTICAST = 0x1000
IFF_LOWER_UP = 0x10000
IFF_DORMANT = 0x20000

ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
ARPHRD_NONE = 0xFFFE

_ETH = struct.Struct("!6s6sH")


class DevStats:
    """rtnl_link_stats64 (the counters ``ip -s link`` prints)."""

    __slots__ = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors",
                 "rx_dropped", "tx_dropped", "multicast", "collisions", "rx_length_errors",
                 "rx_over_errors", "rx_crc_errors", "rx_frame_errors", "rx_fifo_errors",
                 "rx_missed_errors", "tx_aborted_errors", "tx_carrier_errors", "tx_fifo_errors",
                 "tx_heartbeat_errors", "tx_window_errors", "rx_nohandler")

    def __init__(self) -> None:
        for f in self.__slots__:
            setattr(self, f, 0)

    def as_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in self.__slots__}


Tap = Callable[[SkBuff, bool], None]  # (skb whose mac_header..tail is the frame, outgoing)


def tap_frame(skb: SkBuff) -> bytes:
    """The frame a packet capture records for ``skb`` (from its link-layer header to its tail), with
    a transport checksum left to the "hardware" (CHECKSUM_PARTIAL) completed on the copy, as
    skb_checksum_help would complete it on its way to a real wire: what ``tcpdump -w`` and lab
    captures write carries the checksums the wire does. ``skb`` itself is not changed.

    Linux's own taps see the unfinished checksum (tcpdump on a veth shows "incorrect" ones); tuxnet
    completes it because its captures stand for what crosses the link.
    """
    start = skb.mac_header if skb.mac_header >= 0 else skb.data
    frame = bytes(skb.buf[start:skb.tail])
    if skb.ip_summed == Csum.PARTIAL:
        from tuxnet.sched.netem import skb_checksum_help  # sched imports this module

        copy = SkBuff.from_bytes(frame)
        skb_checksum_help(copy)
        frame = bytes(copy.buf[copy.data:copy.tail])
    return frame


class NetDevice:
    """A network device in one namespace. Subclasses implement ``ndo_start_xmit``."""

    kind = "generic"
    default_qdisc = "noqueue"
    # GSO_MAX_SEGS: the most segments one GSO packet to this device may carry; `ip link set DEV
    # gso_max_segs N` lowers it and TCP's packets follow (sk_setup_caps -> sk_gso_max_segs)
    gso_max_segs = 65535

    def __init__(self, ns: Namespace, name: str, *, mac: bytes | None = None, mtu: int = 1500,
                 type: int = ARPHRD_ETHER, flags: int = IFF_BROADCAST | IFF_MULTICAST,
                 txqueuelen: int = 1000) -> None:
        if len(name) > 15 or not name or "/" in name or name in (".", "..") or any(c.isspace() for c in name):
            # dev_valid_name(): IFNAMSIZ is 16 with the NUL
            raise ValueError(f"\"{name}\" is not a valid device name")
        self.ns = ns
        self.name = name
        self.ifindex = 0  # set by Namespace.register_netdevice
        self.type = type
        self.mac = mac if mac is not None else ns.random_mac()
        self.perm_mac = self.mac
        self.broadcast = b"\xff" * 6
        self.mtu = mtu
        self.min_mtu = 68
        self.max_mtu = 65535
        self.flags = flags
        self.carrier = True
        self.txqueuelen = txqueuelen
        self.stats = DevStats()
        self.master: NetDevice | None = None
        self.rx_handler: Callable[[SkBuff], bool] | None = None  # True = consumed (bridge port)
        self.rx_handler_data: Any = None
        self.taps: list[Tap] = []
        self.in_dev: Any = None  # IPv4 per-device state (ipv4.devinet.InDevice)
        self.group = 0
        self.alias = ""
        self.backlog: deque[SkBuff] = deque()
        self.napi_scheduled = False
        self.qdisc: Any = None
        self.link_netns: Any = None  # for ``ip link`` "link-netns"
        from tuxnet.sched import make_default_qdisc  # late: sched imports this module
        self.qdisc = make_default_qdisc(self)

    # ----------------------------------------------------------- state
    @property
    def is_up(self) -> bool:
        return bool(self.flags & IFF_UP)

    @property
    def running(self) -> bool:
        """netif_running && netif_carrier_ok: can pass packets."""
        return bool(self.flags & IFF_UP) and self.carrier

    @property
    def operstate(self) -> str:
        if self.type == ARPHRD_LOOPBACK:
            return "UNKNOWN"
        if not self.flags & IFF_UP:
            return "DOWN"
        return "UP" if self.carrier else "DOWN"

    def display_flags(self) -> int:
        """Flags as ``ip link`` shows them: RUNNING/LOWER_UP only with carrier."""
        f = self.flags
        if f & IFF_UP and self.carrier:
            f |= IFF_RUNNING | IFF_LOWER_UP
        return f

    def open(self) -> None:
        """dev_open: IFF_UP, then NETDEV_UP notifiers (addresses' routes come back)."""
        if self.flags & IFF_UP:
            return
        self.flags |= IFF_UP
        self.ns.netdev_event("up", self)

    def close(self) -> None:
        """dev_close: flush the backlog and qdisc, then NETDEV_DOWN notifiers (routes flushed)."""
        if not self.flags & IFF_UP:
            return
        self.flags &= ~IFF_UP
        self.backlog.clear()
        if self.qdisc is not None:
            self.qdisc.reset()
        self.ns.netdev_event("down", self)

    def set_carrier(self, on: bool) -> None:
        if self.carrier == on:
            return
        self.carrier = on
        self.ns.netdev_event("change", self)

    def set_mtu(self, mtu: int) -> None:
        if not (self.min_mtu <= mtu <= self.max_mtu):
            raise ValueError(f"mtu {mtu} out of range {self.min_mtu}..{self.max_mtu}")
        self.mtu = mtu
        self.ns.netdev_event("mtu", self)

    def set_mac(self, mac: bytes) -> None:
        self.mac = mac
        self.ns.netdev_event("mac", self)

    # ----------------------------------------------------------- transmit
    def hard_header(self, skb: SkBuff, proto: int, dst_mac: bytes, src_mac: bytes | None = None) -> None:
        """dev_hard_header / eth_header: push the link-layer header."""
        off = skb.push(ETH_HLEN)
        _ETH.pack_into(skb.buf, off, dst_mac, src_mac or self.mac, proto)
        skb.mac_header = off
        skb.protocol = proto

    def queue_xmit(self, skb: SkBuff) -> None:
        """dev_queue_xmit: through the root qdisc (or straight out for noqueue devices)."""
        skb.dev = self
        ns = self.ns
        if not self.flags & IFF_UP:
            self.stats.tx_dropped += 1
            ns.kfree_skb(skb, SkbDropReason.DEV_READY)
            return
        if ns.tracer.active:
            ns.trace("net_dev_queue", skb, dev=self.name, len=skb.len)
        if skb.shinfo is not None:
            from tuxnet.sock.timestamping import SCM_TSTAMP_SCHED, skb_tstamp_dev

            skb_tstamp_dev(skb, SCM_TSTAMP_SCHED)  # __dev_queue_xmit: SKBTX_SCHED_TSTAMP
        q = self.qdisc
        if q is None or q.noqueue:
            self.hard_start_xmit(skb)
            return
        q.enqueue(skb)
        q.run()

    def hard_start_xmit(self, skb: SkBuff) -> None:
        """dev_hard_start_xmit: taps see the outgoing frame, then the driver sends it."""
        if self.taps:
            if skb.mac_header < 0:
                skb.mac_header = skb.data
            for tap in self.taps:
                tap(skb, True)
        ns = self.ns
        if ns.tracer.active:
            ns.trace("net_dev_xmit", skb, dev=self.name, len=skb.len)
        if skb.shinfo is not None:
            # what every tuxnet driver does first: loopback, veth and tun/tap copy the frame out of
            # any zerocopy pages (skb_orphan_frags_rx), and take the software timestamp
            # (skb_tx_timestamp)
            from tuxnet.sock.msg_zerocopy import skb_orphan_frags_rx
            from tuxnet.sock.timestamping import SCM_TSTAMP_SND, skb_tstamp_dev

            skb_orphan_frags_rx(skb.shinfo[0].zc)
            skb_tstamp_dev(skb, SCM_TSTAMP_SND)
        self.ndo_start_xmit(skb)

    def ndo_start_xmit(self, skb: SkBuff) -> None:
        raise NotImplementedError

    # ----------------------------------------------------------- receive
    def netif_rx(self, skb: SkBuff) -> None:
        """enqueue_to_backlog: queue a received frame and schedule this device's NAPI poll."""
        ns = self.ns
        if not self.flags & IFF_UP:
            ns.kfree_skb(skb, SkbDropReason.DEV_READY)
            self.stats.rx_dropped += 1
            return
        if len(self.backlog) >= ns.sysctl.v["net.core.netdev_max_backlog"]:
            self.stats.rx_dropped += 1
            ns.kfree_skb(skb, SkbDropReason.CPU_BACKLOG)
            return
        self.backlog.append(skb)
        if not self.napi_scheduled:
            self.napi_scheduled = True
            ns.loop.call_soon_ns(self.napi_poll)

    def napi_poll(self) -> None:
        """process_backlog: at most ``dev_weight`` packets, then yield to other work (net_rx_action)."""
        budget = self.ns.sysctl.v["net.core.dev_weight"]
        backlog = self.backlog
        receive = self.netif_receive_skb
        while backlog and budget > 0:
            budget -= 1
            receive(backlog.popleft())
        if backlog:
            self.ns.napi_polls_rescheduled += 1
            self.ns.loop.call_soon_ns(self.napi_poll)
        else:
            self.napi_scheduled = False

    def eth_type_trans(self, skb: SkBuff) -> int:
        """Classify the frame (pkt_type), set mac_header, pull the Ethernet header; return the proto."""
        buf = skb.buf
        d = skb.data
        skb.mac_header = d
        dst = buf[d:d + 6]
        if dst[0] & 1:
            skb.pkt_type = PacketType.BROADCAST if dst == self.broadcast else PacketType.MULTICAST
        elif dst != self.mac:
            skb.pkt_type = PacketType.OTHERHOST
        else:
            skb.pkt_type = PacketType.HOST
        proto = (buf[d + 12] << 8) | buf[d + 13]
        skb.data = d + ETH_HLEN
        skb.protocol = proto
        return proto

    def netif_receive_skb(self, skb: SkBuff) -> None:
        """__netif_receive_skb_core: taps, rx_handler (bridge), then the L3 handler."""
        ns = self.ns
        skb.dev = self
        # loopback has Ethernet header_ops too (loopback_xmit runs eth_type_trans)
        eth = self.type == ARPHRD_ETHER or self.type == ARPHRD_LOOPBACK
        if skb.len < ETH_HLEN and eth:
            self.stats.rx_length_errors += 1
            self.stats.rx_errors += 1
            ns.kfree_skb(skb, SkbDropReason.PKT_TOO_SMALL)
            return
        st = self.stats
        st.rx_packets += 1
        st.rx_bytes += skb.len
        if eth:
            proto = self.eth_type_trans(skb)
            if skb.pkt_type == PacketType.MULTICAST:
                st.multicast += 1
        else:
            skb.mac_header = skb.data
            proto = skb.protocol
        if ns.tracer.active:
            ns.trace("netif_receive_skb", skb, dev=self.name, len=skb.len, proto=f"0x{proto:04x}")
        if self.taps:
            for tap in self.taps:
                tap(skb, False)
        if self.rx_handler is not None and self.rx_handler(skb):
            return
        if proto == ETH_P_8021Q:
            st.rx_nohandler += 1
            ns.kfree_skb(skb, SkbDropReason.UNHANDLED_PROTO)
            return
        handler = ns.ptype.get(proto)
        if handler is None:
            st.rx_nohandler += 1
            ns.kfree_skb(skb, SkbDropReason.UNHANDLED_PROTO)
            return
        handler(skb, self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} ifindex={self.ifindex} ns={self.ns.name}>"


__all__ = ["NetDevice", "DevStats", "ETH_P_IP", "ETH_P_ARP", "IFF_UP", "IFF_LOOPBACK", "IFF_NOARP"]
