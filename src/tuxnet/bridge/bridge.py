"""The Linux Ethernet bridge: a switch made of netdevices (net/bridge/br_device.c, br_if.c, br_input.c,
br_forward.c, br_stp_if.c without the spanning tree protocol).

Guarantees, as Linux with ``stp_state 0`` (the default) and no VLAN filtering:
- ``create_bridge(ns, "br0")`` registers a device of kind ``bridge`` with qdisc ``noqueue`` and a random
  MAC. Until a MAC is set by hand (``set_mac`` or ``create_bridge(mac=...)``: NET_ADDR_SET), the bridge
  takes the numerically lowest MAC of its ports, and 00:00:00:00:00:00 once its last port leaves
  (br_stp_recalculate_bridge_id).
- ``add_port(dev)``/``del_port(dev)`` are br_add_if/br_del_if: the port's ``master`` is the bridge and
  its ``rx_handler`` is br_handle_frame; a local (``permanent``) FDB entry holds the port's MAC. The
  bridge MTU follows the smallest port MTU unless set by hand (br_mtu_auto_adjust).
- A port forwards while both it and the bridge are up and it has carrier; otherwise it is
  ``disabled`` and what it learned is flushed. Without STP a port goes straight to ``forwarding``
  (br_make_forwarding with BR_NO_STP), whatever ``forward_delay`` is. The bridge has carrier exactly
  when one port forwards; its operstate is UNKNOWN until a port state was first computed.
- Receive (br_handle_frame, br_handle_frame_finish): the source MAC is learned on the ingress port
  (multicast or zero sources are dropped, MAC_INVALID_SOURCE); unicast to a learned MAC goes out of
  that one port, unknown unicast, broadcast and multicast are flooded to every forwarding port but the
  ingress one (br_flood, honouring the per-port ``flood``/``mcast_flood``/``bcast_flood`` flags; no
  IGMP snooping, so multicast floods like broadcast); frames for a local entry (the bridge's MAC) and
  broadcast/multicast go up the bridge device's own stack (br_pass_frame_up), with ``skb.dev`` the
  bridge, so an IP address on the bridge works. 01:80:c2:00:00:0X (link-local) frames are not
  bridged except the STP group address while STP is off; PAUSE frames are dropped.
- Transmit from the bridge (br_dev_xmit): FDB lookup, else flood. Hairpin is off unless a port's
  ``hairpin`` flag is set.
- Counters as Linux: ports count what their driver sends and receives; the bridge device counts frames
  it passes up (rx bytes without the Ethernet header, dev_sw_netstats_rx_add) and frames sent from it
  (tx bytes with the header).
- Frames that cannot go anywhere are dropped with BRIDGE_NO_PORT (Linux: kfree_skb, reason not
  specified); bridge netfilter (ebtables, br_netfilter) is not modelled.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from tuxnet.bridge.fdb import BR_FDB_LOCAL, Fdb, is_valid_ether_addr
from tuxnet.core.errors import oserror
from tuxnet.core.loop import NSEC_PER_SEC
from tuxnet.core.trace import SkbDropReason
from tuxnet.drivers.netdevice import ARPHRD_ETHER, IFF_LOOPBACK, IFF_PROMISC, IFF_UP, NetDevice
from tuxnet.skb import Csum, PacketType, SkBuff
from tuxnet.wire.ethernet_consts import ETH_DATA_LEN, ETH_HLEN

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

# port states (include/uapi/linux/if_bridge.h)
BR_STATE_DISABLED = 0
BR_STATE_LISTENING = 1
BR_STATE_LEARNING = 2
BR_STATE_FORWARDING = 3
BR_STATE_BLOCKING = 4
BR_STATE_NAMES = ("disabled", "listening", "learning", "forwarding", "blocking")

# port flags (include/linux/if_bridge.h)
BR_HAIRPIN_MODE = 1 << 0
BR_LEARNING = 1 << 5
BR_FLOOD = 1 << 6
BR_PROXYARP = 1 << 8
BR_MCAST_FLOOD = 1 << 11
BR_BCAST_FLOOD = 1 << 14
BR_ISOLATED = 1 << 16
BR_DEFAULT_PORT_FLAGS = BR_LEARNING | BR_FLOOD | BR_MCAST_FLOOD | BR_BCAST_FLOOD  # new_nbp

# enum br_pkt_type
BR_PKT_UNICAST = 0
BR_PKT_MULTICAST = 1
BR_PKT_BROADCAST = 2

BR_NO_STP = 0
BR_MAX_PORTS = 1 << 10
VLAN_HLEN = 4
BROADCAST_MAC = b"\xff" * 6
ZERO_MAC = b"\x00" * 6
LINK_LOCAL_PREFIX = b"\x01\x80\xc2\x00\x00"  # 01:80:C2:00:00:0X, IEEE 802.1D Table 7-10


class BridgePort:
    """struct net_bridge_port: one device enslaved to a bridge."""

    __slots__ = ("br", "dev", "port_no", "state", "flags", "priority", "path_cost", "group_fwd_mask")

    def __init__(self, br: BridgeDevice, dev: NetDevice, port_no: int) -> None:
        self.br = br
        self.dev = dev
        self.port_no = port_no
        self.state = BR_STATE_DISABLED
        self.flags = BR_DEFAULT_PORT_FLAGS
        self.priority = 0x8000 >> 10  # 32: "priority 32" in ``bridge link``
        self.path_cost = 2 if dev.kind == "veth" else 100  # port_cost(): veth reports 10 Gb/s
        self.group_fwd_mask = 0

    # flags as ``bridge link set dev X learning on`` names them
    def _flag(self, bit: int) -> bool:
        return bool(self.flags & bit)

    def _set_flag(self, bit: int, on: bool) -> None:
        self.flags = self.flags | bit if on else self.flags & ~bit

    learning = property(lambda self: self._flag(BR_LEARNING), lambda self, v: self._set_flag(BR_LEARNING, v))
    flood = property(lambda self: self._flag(BR_FLOOD), lambda self, v: self._set_flag(BR_FLOOD, v))
    mcast_flood = property(lambda self: self._flag(BR_MCAST_FLOOD),
                           lambda self, v: self._set_flag(BR_MCAST_FLOOD, v))
    bcast_flood = property(lambda self: self._flag(BR_BCAST_FLOOD),
                           lambda self, v: self._set_flag(BR_BCAST_FLOOD, v))
    hairpin = property(lambda self: self._flag(BR_HAIRPIN_MODE),
                       lambda self, v: self._set_flag(BR_HAIRPIN_MODE, v))
    isolated = property(lambda self: self._flag(BR_ISOLATED), lambda self, v: self._set_flag(BR_ISOLATED, v))

    @property
    def state_name(self) -> str:
        return BR_STATE_NAMES[self.state]

    def state_should_learn(self) -> bool:
        """nbp_state_should_learn."""
        return self.state in (BR_STATE_LEARNING, BR_STATE_FORWARDING)

    def should_deliver(self, skb: SkBuff) -> bool:
        """should_deliver: not back out of the ingress port (unless hairpin), only while forwarding,
        and not between two isolated ports."""
        return ((self.flags & BR_HAIRPIN_MODE or skb.dev is not self.dev)
                and self.state == BR_STATE_FORWARDING
                and not (self.flags & BR_ISOLATED and _src_port_isolated(skb)))

    # ------------------------------------------------------------ receive
    def handle_frame(self, skb: SkBuff) -> bool:
        """br_handle_frame, the port's rx_handler: True when the bridge consumed the frame."""
        if skb.pkt_type == PacketType.LOOPBACK:
            return False
        br = self.br
        ns = br.ns
        buf = skb.buf
        m = skb.mac_header
        src = bytes(buf[m + 6:m + 12])
        if not is_valid_ether_addr(src):
            ns.kfree_skb(skb, SkbDropReason.MAC_INVALID_SOURCE)
            return True
        dest = bytes(buf[m:m + 6])
        if dest[:5] == LINK_LOCAL_PREFIX:
            fwd_mask = self.group_fwd_mask  # | br->group_fwd_mask_required (0: no port asks for more)
            low = dest[5]
            if low == 0x00:  # bridge group address: forwarded while STP is off, to keep loop detection
                if br.stp_enabled != BR_NO_STP and not fwd_mask & 1:
                    self.local_finish(src)
                    return False
            elif low == 0x01:  # IEEE MAC control (PAUSE)
                ns.kfree_skb(skb, SkbDropReason.MAC_IEEE_MAC_CONTROL)
                return True
            else:
                fwd_mask |= br.group_fwd_mask
                if not fwd_mask & (1 << low):
                    # NF_BR_LOCAL_IN -> br_handle_local_finish: learn, then the port's own stack
                    self.local_finish(src)
                    return False
        if self.state in (BR_STATE_FORWARDING, BR_STATE_LEARNING):
            if dest == br.mac:
                skb.pkt_type = PacketType.HOST
            br.handle_frame_finish(self, skb, dest, src)
            return True
        ns.kfree_skb(skb, SkbDropReason.BRIDGE_INGRESS_STP_STATE)
        return True

    def local_finish(self, src: bytes) -> None:
        """__br_handle_local_finish: link-local frames still teach the FDB."""
        if self.flags & BR_LEARNING and self.state_should_learn():
            self.br.fdb.update(self, src, 0)

    def __repr__(self) -> str:
        return f"<BridgePort {self.dev.name} master {self.br.name} {self.state_name}>"


def _src_port_isolated(skb: SkBuff) -> bool:
    """BR_INPUT_SKB_CB(skb)->src_port_isolated: the ingress port of a received frame is isolated."""
    p = getattr(skb.dev, "rx_handler_data", None)
    return isinstance(p, BridgePort) and bool(p.flags & BR_ISOLATED)


class BridgeDevice(NetDevice):
    """struct net_bridge with its net_device (br_dev_setup)."""

    kind = "bridge"
    default_qdisc = "noqueue"

    def __init__(self, ns: Namespace, name: str, *, mac: bytes | None = None,
                 mtu: int = ETH_DATA_LEN) -> None:
        super().__init__(ns, name, mac=mac, mtu=mtu)
        self.ports: list[BridgePort] = []  # port_list: list_add_rcu puts a new port first
        self.fdb = Fdb(self)
        self.ageing_time_ns = 300 * NSEC_PER_SEC  # BR_DEFAULT_AGEING_TIME
        self.forward_delay_ns = 15 * NSEC_PER_SEC  # used by STP only
        self.stp_enabled = BR_NO_STP
        self.group_fwd_mask = 0
        self.multicast_snooping = 1  # joins 224.0.0.106 on open; no IGMP snooping is modelled
        self.addr_set_by_user = mac is not None  # addr_assign_type == NET_ADDR_SET
        self.mtu_set_by_user = False  # BROPT_MTU_SET_BY_USER
        self.bridge_id = self.mac
        self.oper_known = False  # operstate stays UNKNOWN until a port state is first computed
        self.fdb.add_local(None, self.mac, 0)

    # ------------------------------------------------------------ settings
    @property
    def ageing_time(self) -> float:
        """Seconds a learned entry lives without traffic (``ip link set BR type bridge ageing_time``)."""
        return self.ageing_time_ns / NSEC_PER_SEC

    @ageing_time.setter
    def ageing_time(self, seconds: float) -> None:
        """br_set_ageing_time: store, then run the cleanup at once (mod_delayed_work(..., 0))."""
        if seconds < 0:
            raise oserror(errno.ERANGE)
        self.ageing_time_ns = int(round(seconds * NSEC_PER_SEC))
        if self.is_up:
            self.fdb.start_gc(0)

    @property
    def forward_delay(self) -> float:
        return self.forward_delay_ns / NSEC_PER_SEC

    @forward_delay.setter
    def forward_delay(self, seconds: float) -> None:
        self.forward_delay_ns = int(round(seconds * NSEC_PER_SEC))

    @property
    def operstate(self) -> str:
        if not self.flags & IFF_UP:
            return "DOWN"
        if not self.oper_known:
            return "UNKNOWN"
        return "UP" if self.carrier else "DOWN"

    def port(self, dev: NetDevice) -> BridgePort | None:
        p = dev.rx_handler_data
        return p if isinstance(p, BridgePort) and p.br is self else None

    # ------------------------------------------------------------ open/stop, MAC, MTU
    def open(self) -> None:
        """br_dev_open -> br_stp_enable_bridge: start ageing, enable every operational port."""
        if self.flags & IFF_UP:
            return
        super().open()
        self.fdb.start_gc()
        for p in list(self.ports):
            if _oper_up(p.dev):
                self._enable_port(p)
        if self.ports:
            self._port_state_selection()

    def close(self) -> None:
        """br_dev_stop -> br_stp_disable_bridge: disable every port, stop ageing."""
        if not self.flags & IFF_UP:
            return
        for p in list(self.ports):
            if p.state != BR_STATE_DISABLED:
                self._disable_port(p)
        self.fdb.stop_gc()
        super().close()

    def set_mac(self, mac: bytes) -> None:
        """br_set_mac_address: a MAC set by hand sticks (NET_ADDR_SET)."""
        if not is_valid_ether_addr(mac):
            raise oserror(errno.EADDRNOTAVAIL)
        self.addr_set_by_user = True
        if mac != self.mac:
            self._change_bridge_id(mac)

    def set_mtu(self, mtu: int) -> None:
        """br_change_mtu: a hand-set MTU stops br_mtu_auto_adjust."""
        super().set_mtu(mtu)
        self.mtu_set_by_user = True

    def _change_bridge_id(self, addr: bytes) -> None:
        """br_stp_change_bridge_id: the FDB moves the bridge's local entry, then the MAC changes."""
        self.fdb.change_mac_address(addr)
        self.bridge_id = addr
        NetDevice.set_mac(self, addr)  # NETDEV_CHANGEADDR

    def recalculate_bridge_id(self) -> bool:
        """br_stp_recalculate_bridge_id: the lowest port MAC, unless the user chose one."""
        if self.addr_set_by_user:
            return False
        addr = ZERO_MAC
        for p in self.ports:
            if addr is ZERO_MAC or p.dev.mac < addr:
                addr = p.dev.mac
        if addr == self.bridge_id:
            return False
        self._change_bridge_id(addr)
        return True

    def _mtu_auto_adjust(self) -> None:
        """br_mtu_auto_adjust: the smallest port MTU (ETH_DATA_LEN without ports)."""
        if self.mtu_set_by_user:
            return
        new = min((p.dev.mtu for p in self.ports), default=ETH_DATA_LEN)
        if new != self.mtu:
            NetDevice.set_mtu(self, new)

    # ------------------------------------------------------------ ports (br_if.c)
    def add_port(self, dev: NetDevice) -> BridgePort:
        """br_add_if: enslave ``dev``. Raises OSError as the kernel refuses."""
        if dev.ns is not self.ns:
            raise oserror(errno.EINVAL)
        if dev.flags & IFF_LOOPBACK or dev.type != ARPHRD_ETHER or not is_valid_ether_addr(dev.mac):
            raise oserror(errno.EINVAL)
        if isinstance(dev, BridgeDevice):
            raise oserror(errno.ELOOP, "Error: Can not enslave a bridge to a bridge.")
        if dev.master is not None or dev.rx_handler is not None:
            raise oserror(errno.EBUSY, "Error: Device is already in use.")
        used = {p.port_no for p in self.ports}
        port_no = next((i for i in range(1, BR_MAX_PORTS) if i not in used), 0)
        if not port_no:
            raise oserror(errno.EXFULL)
        p = BridgePort(self, dev, port_no)
        dev.rx_handler = p.handle_frame
        dev.rx_handler_data = p
        dev.master = self
        self.ports.insert(0, p)
        self.fdb.add_local(p, dev.mac, 0)
        self.recalculate_bridge_id()
        if self.flags & IFF_UP:
            if _oper_up(dev):
                self._enable_port(p)
            else:
                # a port that cannot forward yet still makes the bridge re-evaluate its carrier
                # (checked on Linux 6.x: an up bridge gets NO-CARRIER when its first port is down)
                self._port_state_selection()
        self._mtu_auto_adjust()
        return p

    def del_port(self, dev: NetDevice) -> None:
        """br_del_if / del_nbp. Raises EINVAL when ``dev`` is not a port of this bridge."""
        p = self.port(dev)
        if p is None:
            raise oserror(errno.EINVAL)
        self._disable_port(p)
        dev.rx_handler = None
        dev.rx_handler_data = None
        dev.master = None
        self.ports.remove(p)
        self.fdb.delete_by_port(p, 0, do_all=True)
        self._mtu_auto_adjust()
        self.recalculate_bridge_id()

    # ------------------------------------------------------------ port states (br_stp_if.c, no STP)
    def _enable_port(self, p: BridgePort) -> None:
        """br_stp_enable_port: br_init_port (blocking), then state selection makes it forward."""
        p.state = BR_STATE_BLOCKING
        self._port_state_selection()

    def _disable_port(self, p: BridgePort) -> None:
        """br_stp_disable_port: disabled, forget what it learned, recompute carrier."""
        p.state = BR_STATE_DISABLED
        self.fdb.delete_by_port(p, 0, do_all=False)
        self._port_state_selection()

    def _port_state_selection(self) -> None:
        """br_port_state_selection: without STP every enabled port is designated and forwards."""
        live = 0
        for p in self.ports:
            if p.state == BR_STATE_DISABLED:
                continue
            if self.stp_enabled == BR_NO_STP or self.forward_delay_ns == 0:
                p.state = BR_STATE_FORWARDING  # br_make_forwarding
            if p.state == BR_STATE_FORWARDING:
                live += 1
        self.oper_known = True
        self.set_carrier(live > 0)

    def port_carrier_check(self, p: BridgePort) -> None:
        """br_port_carrier_check: follow the port's link state."""
        if not self.flags & IFF_UP:
            return
        if _oper_up(p.dev):
            if p.state == BR_STATE_DISABLED:
                self._enable_port(p)
        elif p.state != BR_STATE_DISABLED:
            self._disable_port(p)

    def netdev_event(self, event: str, dev: NetDevice) -> None:
        """br_device_event, for the ports of this bridge, and the bridge's own unregistration."""
        if dev is self:
            if event == "unregister":
                for p in list(self.ports):
                    self.del_port(p.dev)
                self.fdb.stop_gc()
                if self.netdev_event in self.ns.netdev_notifier:
                    self.ns.netdev_notifier.remove(self.netdev_event)
            return
        p = self.port(dev)
        if p is None:
            return
        if event in ("up", "down", "change"):
            self.port_carrier_check(p)
        elif event == "mac":
            self.fdb.changeaddr(p, dev.mac)
            self.recalculate_bridge_id()
        elif event == "mtu":
            self._mtu_auto_adjust()
        elif event == "unregister":
            self.del_port(dev)

    # ------------------------------------------------------------ receive (br_input.c)
    def handle_frame_finish(self, p: BridgePort, skb: SkBuff, dest: bytes, src: bytes) -> None:
        """br_handle_frame_finish: learn, then deliver locally, forward or flood."""
        ns = self.ns
        if p.state == BR_STATE_DISABLED:
            ns.kfree_skb(skb, SkbDropReason.BRIDGE_INGRESS_STP_STATE)
            return
        state = p.state
        if p.flags & BR_LEARNING:
            self.fdb.update(p, src, 0)
        promisc = bool(self.flags & IFF_PROMISC)
        local_rcv = promisc
        pkt_type = BR_PKT_UNICAST
        if dest[0] & 1:
            if dest == BROADCAST_MAC:
                pkt_type = BR_PKT_BROADCAST
            else:
                pkt_type = BR_PKT_MULTICAST
            local_rcv = True  # no multicast router/querier known: the host gets every group
        if state == BR_STATE_LEARNING:
            ns.kfree_skb(skb, SkbDropReason.BRIDGE_INGRESS_STP_STATE)
            return
        dst = self.fdb.table.get((dest, 0)) if pkt_type == BR_PKT_UNICAST else None
        if dst is not None:
            if dst.flags & BR_FDB_LOCAL:
                self.pass_frame_up(skb)
                return
            dst.used = ns.now
            self.forward(dst.dst, skb, local_rcv, False)
        else:
            self.flood(skb, pkt_type, local_rcv, False)
        if local_rcv:
            self.pass_frame_up(skb)

    def pass_frame_up(self, skb: SkBuff) -> None:
        """br_pass_frame_up: the frame enters the bridge device's own receive path."""
        # br_pass_frame_up counts skb->len after the Ethernet header was pulled
        # (dev_sw_netstats_rx_add); NetDevice.netif_receive_skb counts the frame with it.
        self.stats.rx_bytes -= ETH_HLEN
        skb.data = skb.mac_header
        skb.dev = self
        NetDevice.netif_receive_skb(self, skb)

    # ------------------------------------------------------------ forward (br_forward.c)
    def forward(self, to: BridgePort | None, skb: SkBuff, local_rcv: bool, local_orig: bool) -> None:
        """br_forward: out of one port (a copy when the host also gets the frame)."""
        if to is not None and to.should_deliver(skb):
            if local_rcv:
                self._forward_to(to, skb.copy(), local_orig)
            else:
                self._forward_to(to, skb, local_orig)
            return
        if not local_rcv:
            self.ns.kfree_skb(skb, SkbDropReason.BRIDGE_NO_PORT)

    def flood(self, skb: SkBuff, pkt_type: int, local_rcv: bool, local_orig: bool) -> None:
        """br_flood: every forwarding port but the ingress one, subject to the port's flood flags."""
        prev: BridgePort | None = None
        from_host = skb.dev is self
        for p in self.ports:
            if pkt_type == BR_PKT_UNICAST:
                if not p.flags & BR_FLOOD:
                    continue
            elif pkt_type == BR_PKT_MULTICAST:
                if not p.flags & BR_MCAST_FLOOD and not from_host:
                    continue
            elif not p.flags & BR_BCAST_FLOOD and not from_host:
                continue
            if p.flags & BR_PROXYARP or not p.should_deliver(skb):
                continue
            if prev is not None:
                self._forward_to(prev, skb.copy(), local_orig)  # deliver_clone
            prev = p
        if prev is None:
            if not local_rcv:
                self.ns.kfree_skb(skb, SkbDropReason.BRIDGE_NO_PORT)
            return
        self._forward_to(prev, skb.copy() if local_rcv else skb, local_orig)

    def _forward_to(self, to: BridgePort, skb: SkBuff, local_orig: bool) -> None:
        """__br_forward -> br_forward_finish -> br_dev_queue_push_xmit."""
        dev = to.dev
        skb.dev = dev
        if not local_orig and skb.ip_summed == Csum.COMPLETE:
            skb.ip_summed = Csum.NONE  # skb_forward_csum
        skb.data = skb.mac_header  # skb_push(skb, ETH_HLEN)
        skb.tstamp = 0  # skb_clear_tstamp
        ns = self.ns
        if ns.tracer.active:
            ns.trace("br_forward", skb, br=self.name, dev=dev.name, local_orig=local_orig)
        # is_skb_forwardable: the device is up and the frame fits its MTU plus headers
        if not dev.flags & IFF_UP or skb.len > dev.mtu + ETH_HLEN + VLAN_HLEN:
            ns.kfree_skb(skb, SkbDropReason.PKT_TOO_BIG if dev.flags & IFF_UP else SkbDropReason.DEV_READY)
            return
        dev.queue_xmit(skb)

    # ------------------------------------------------------------ transmit (br_device.c)
    def ndo_start_xmit(self, skb: SkBuff) -> None:
        """br_dev_xmit: a frame the host sends through the bridge."""
        st = self.stats
        st.tx_packets += 1
        st.tx_bytes += skb.len
        skb.mac_header = skb.data
        buf = skb.buf
        d = skb.data
        dest = bytes(buf[d:d + 6])
        if dest == BROADCAST_MAC:
            self.flood(skb, BR_PKT_BROADCAST, False, True)
        elif dest[0] & 1:
            self.flood(skb, BR_PKT_MULTICAST, False, True)
        else:
            dst = self.fdb.table.get((dest, 0))
            if dst is not None:
                self.forward(dst.dst, skb, False, True)
            else:
                self.flood(skb, BR_PKT_UNICAST, False, True)


def _oper_up(dev: NetDevice) -> bool:
    """netif_running(dev) && netif_oper_up(dev)."""
    return bool(dev.flags & IFF_UP) and dev.carrier


def create_bridge(ns: Namespace, name: str, *, mac: bytes | None = None) -> BridgeDevice:
    """``ip link add NAME type bridge``: registered, down, with a random MAC unless ``mac`` is given."""
    br = BridgeDevice(ns, name, mac=mac)
    ns.register_netdevice(br)
    ns.netdev_notifier.append(br.netdev_event)
    return br


def br_add_if(br: BridgeDevice, dev: NetDevice) -> BridgePort:
    return br.add_port(dev)


def br_del_if(br: BridgeDevice, dev: NetDevice) -> None:
    br.del_port(dev)


__all__ = ["BridgeDevice", "BridgePort", "create_bridge", "br_add_if", "br_del_if", "BR_STATE_NAMES",
           "BR_STATE_DISABLED", "BR_STATE_FORWARDING"]
