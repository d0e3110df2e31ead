"""ARP: the IPv4 neighbour table, ARP receive and transmit (net/ipv4/arp.c, RFC 826, RFC 5227).

``ns.arp`` is an ``ArpTable`` (the generic table of ``neighbour.py`` with arp_tbl's operations).
Guarantees, as Linux 6.x:

- ``output(skb, dev, nexthop)`` (ip_finish_output2 -> neigh_output): ``skb.data`` at the IP header;
  pushes the Ethernet header and calls ``dev.queue_xmit`` once the next hop resolves, queues while
  INCOMPLETE. arp_constructor makes entries that need no resolution NUD_NOARP: multicast next hops
  (01:00:5e + low 23 bits, ip_eth_mc_map), broadcast ones (the local table's RTN_BROADCAST, or
  255.255.255.255 / a device's subnet broadcast when there is no FIB yet: ff:ff:ff:ff:ff:ff), and
  every next hop on an IFF_NOARP or loopback device (the device's own address). On loopback and
  point-to-point devices every next hop shares the key 0.0.0.0 (``0.0.0.0 dev lo ... NOARP``).
- Solicitations (arp_solicit): the sender address is the queued packet's source when arp_announce
  allows it (0: any local address; 1: only one in the target's subnet on this device; 2: never),
  else inet_select_addr(dev, target, link scope). While ``probes < ucast_solicit`` (PROBE state) the
  request is unicast to the cached address, then broadcast; the target hardware field is zero.
  ``app_solicit`` probes send nothing on the wire and notify "getneigh" listeners (neigh_app_ns).
- Receive (arp_rcv/arp_process): frames on NOARP devices or not for this host are consumed
  silently; shorter than 28 bytes -> PKT_TOO_SMALL; hlen != 6 or plen != 4, an unknown hardware or
  protocol type, an op other than request/reply, a multicast or (without route_localnet) loopback
  target, or a gratuitous ARP with drop_gratuitous_arp -> NOT_SPECIFIED (all counted in
  ``ns.drops``, never raised). RFC 5227 probes (sender 0.0.0.0) for a local address are answered.
  A request for a local address (the input route lookup, ip_route_input_slow, says RTN_LOCAL;
  without a route module: the local-table type after the martian-source checks) is answered
  unless arp_ignore (0/1/2/3/8) or arp_filter says no, and creates/refreshes a STALE entry for
  the sender (neigh_event_ns). Everything else updates an existing entry: a unicast reply ->
  REACHABLE, requests and broadcast replies -> STALE, a different address only after
  ``locktime`` since the last update unless the packet is a gratuitous ARP. New entries come
  from unsolicited packets only with arp_accept (1, or 2 for a sender in a subnet of the
  receiving device).
- Gratuitous ARP requests (``send_gratuitous``) go out for every address of a device on NETDEV_UP
  and on a MAC change when arp_notify is set (inetdev_send_gratuitous_arp), one softirq pass after
  the event so a veth has its carrier by then.
- Device events: down/unregister and deleting the last IPv4 address flush every entry of the
  device, static ones included (arp_ifdown from fib_disable_ip); losing carrier flushes all but
  PERMANENT entries (arp_evict_nocarrier, default 1); a new MAC or a NOARP flag change flushes all.
- Not modelled: proxy ARP (proxy_arp, proxy_arp_pvlan, ``ip neigh add proxy``), arptables
  (NF_ARP hooks), non-Ethernet link types.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from tuxnet.core.trace import SkbDropReason
from tuxnet.drivers.netdevice import ARPHRD_ETHER, IFF_LOOPBACK, IFF_NOARP, IFF_POINTOPOINT
from tuxnet.ipv4.devinet import RT_SCOPE_HOST, RT_SCOPE_LINK
from tuxnet.ipv4.neighbour import (
    NEIGH_UPDATE_F_OVERRIDE,
    NUD_CONNECTED,
    NUD_NOARP,
    NUD_REACHABLE,
    NUD_STALE,
    USER_HZ_NS,
    Neighbour,
    NeighTable,
)
from tuxnet.skb import PacketType, SkBuff
from tuxnet.wire.addr import is_lbcast, is_loopback, is_multicast, is_zeronet
from tuxnet.wire.arp import ARPHRD_IEEE802, ArpOp, ArpPacket
from tuxnet.wire.errors import WireError
from tuxnet.wire.ethernet_consts import ETH_P_ARP, ETH_P_IP

if TYPE_CHECKING:
    from tuxnet.drivers.netdevice import NetDevice
    from tuxnet.ipv4.devinet import InIfaddr
    from tuxnet.netns import Namespace

# Route types, same values as ipv4/fib.py (include/uapi/linux/rtnetlink.h)
RTN_UNICAST = 1
RTN_LOCAL = 2
RTN_BROADCAST = 3
RTN_MULTICAST = 5

ARPOP_REQUEST = ArpOp.REQUEST
ARPOP_REPLY = ArpOp.REPLY
ARP_HDR_LEN = 28  # arp_hdr_len(dev) for Ethernet: 8 + 2 * (6 + 4)
ICMP_DEST_UNREACH = 3
ICMP_HOST_UNREACH = 1
_SADDR = struct.Struct("!I")
_LL_RESERVED_SPACE = 16  # LL_RESERVED_SPACE(dev) for a 14-byte Ethernet header


def ip_eth_mc_map(addr: int) -> bytes:
    """01:00:5e + the low 23 bits of the group (include/net/ip.h)."""
    return bytes((0x01, 0x00, 0x5E, (addr >> 16) & 0x7F, (addr >> 8) & 0xFF, addr & 0xFF))


# ---------------------------------------------------------------- devinet.c helpers ARP relies on
def confirm_addr_indev(ns: Namespace, dev: NetDevice, dst: int, local: int, scope: int) -> int:
    """confirm_addr_indev (net/ipv4/devinet.c): a local address of ``dev`` (``local`` itself when
    given) of scope <= ``scope`` whose subnet holds ``dst``; 0 when there is none."""
    in_dev = dev.in_dev
    if in_dev is None:
        return 0
    localnet_scope = RT_SCOPE_LINK if ns.sysctl.conf_or(dev.name, "route_localnet") else RT_SCOPE_HOST
    addr = 0
    same = False
    for ifa in in_dev.ifa_list:
        min_scope = min(ifa.scope, localnet_scope)
        if not addr and (local == ifa.local or not local) and min_scope <= scope:
            addr = ifa.local
            if same:
                break
        if not same:
            same = (not local or ifa.match(local)) and (not dst or ifa.match(dst))
            if same and addr:
                if local or not dst:
                    break
                if ifa.match(addr):  # is the selected address in dst's subnet?
                    break
                if min_scope <= scope:  # no: can this one serve instead?
                    addr = ifa.local
                    break
                same = False  # look for a larger subnet holding dst
    return addr if same else 0


def inet_confirm_addr(ns: Namespace, dev: NetDevice | None, dst: int, local: int, scope: int) -> int:
    """inet_confirm_addr: on ``dev``, or on any device (in ifindex order) when ``dev`` is None."""
    if dev is not None:
        return confirm_addr_indev(ns, dev, dst, local, scope)
    for d in sorted(ns.devices.values(), key=lambda d: d.ifindex):
        addr = confirm_addr_indev(ns, d, dst, local, scope)
        if addr:
            return addr
    return 0


def inet_addr_onlink(dev: NetDevice, a: int, b: int) -> bool:
    """inet_addr_onlink: ``a`` (and ``b`` unless 0) inside one subnet of ``dev``."""
    in_dev = dev.in_dev
    return in_dev is not None and any(ifa.match(a) and (not b or ifa.match(b)) for ifa in in_dev.ifa_list)


class ArpTable(NeighTable):
    """arp_tbl of one namespace (``ns.arp``)."""

    id = "arp_cache"
    protocol = ETH_P_IP

    def __init__(self, ns: Namespace) -> None:
        super().__init__(ns)
        self._noarp_flags: dict[NetDevice, int] = {}
        ns.ptype[ETH_P_ARP] = self.arp_rcv
        ns.netdev_notifier.append(self._netdev_event)
        ns.inetaddr_notifier.append(self._inetaddr_event)

    # ------------------------------------------------------------ address classification
    def addr_type(self, addr: int) -> int:
        """inet_addr_type_dev_table(net, dev, addr): the local table's verdict, namespace-wide."""
        fib = getattr(self.ns, "fib", None)
        if fib is not None:
            return fib.addr_type(addr)
        # No FIB in this namespace yet: what the local table would hold.
        if is_zeronet(addr) or is_lbcast(addr):
            return RTN_BROADCAST
        if is_multicast(addr):
            return RTN_MULTICAST
        ifas = self.ns.devinet.all_addrs()
        if any(ifa.local == addr for ifa in ifas):
            return RTN_LOCAL
        if any(ifa.broadcast == addr for ifa in ifas):
            return RTN_BROADCAST
        return RTN_UNICAST

    # ------------------------------------------------------------ neigh_ops
    def hash_key(self, key: int, dev: NetDevice) -> int:
        # arp_constructor / __ipv4_neigh_lookup_noref: one entry per loopback or p2p device
        return 0 if dev.flags & (IFF_LOOPBACK | IFF_POINTOPOINT) else key

    def constructor(self, n: Neighbour) -> bool:
        """arp_constructor: entries needing no resolution start NUD_NOARP with their address."""
        dev = n.dev
        if dev.in_dev is None:
            return False
        n.type = self.addr_type(n.key)
        if n.type == RTN_MULTICAST:
            n.nud_state = NUD_NOARP
            n.ha = ip_eth_mc_map(n.key) if dev.type == ARPHRD_ETHER else dev.broadcast
        elif dev.flags & (IFF_NOARP | IFF_LOOPBACK):
            n.nud_state = NUD_NOARP
            n.ha = dev.mac
        elif n.type == RTN_BROADCAST or dev.flags & IFF_POINTOPOINT:
            n.nud_state = NUD_NOARP
            n.ha = dev.broadcast
        return True

    def solicit(self, n: Neighbour, skb: SkBuff | None) -> None:
        """arp_solicit."""
        dev = n.dev
        if dev.in_dev is None:
            return
        ns = self.ns
        target = n.key
        saddr = 0
        announce = ns.sysctl.conf_max(dev.name, "arp_announce")
        if announce == 1:  # only a source the target can reach on-link
            if skb is not None:
                saddr = _SADDR.unpack_from(skb.buf, skb.network_header + 12)[0]
                if not (self.addr_type(saddr) == RTN_LOCAL and inet_addr_onlink(dev, target, saddr)):
                    saddr = 0
        elif announce != 2 and skb is not None:  # 0 (and unknown values): any local source
            src = _SADDR.unpack_from(skb.buf, skb.network_header + 12)[0]
            if self.addr_type(src) == RTN_LOCAL:
                saddr = src
        if not saddr:
            saddr = ns.devinet.select_addr(dev, target, RT_SCOPE_LINK)
        probes = n.probes - self.parm(dev, "ucast_solicit")
        dst_hw: bytes | None = None
        if probes < 0:
            dst_hw = n.ha  # unicast probe to the address we have
        else:
            probes -= self.parm(dev, "app_solicit")
            if probes < 0:
                self._notify("getneigh", n)  # neigh_app_ns: ask a user-space daemon
                return
        self.arp_send(ARPOP_REQUEST, target, dev, saddr, dst_hw, dev.mac, None)

    def error_report(self, n: Neighbour, skb: SkBuff) -> None:
        """arp_error_report: dst_link_failure -> ipv4_link_failure sends ICMP host unreachable."""
        icmp = getattr(self.ns, "icmp", None)
        if icmp is not None and skb.protocol in (0, ETH_P_IP):
            icmp.send(skb, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH)
        self.ns.kfree_skb(skb, SkbDropReason.NEIGH_FAILED)

    # ------------------------------------------------------------ output
    def output(self, skb: SkBuff, dev: NetDevice, nexthop: int) -> None:
        """Send an IPv4 packet (``skb.data`` at its header) to ``nexthop`` on ``dev``."""
        key = 0 if dev.flags & (IFF_LOOPBACK | IFF_POINTOPOINT) else nexthop
        n = self.hash.get((key, dev))
        if n is None:
            try:
                n = self.create(key, dev)
            except OSError:
                # ip_finish_output2: "No header cache and no neighbour!"
                self.ns.kfree_skb(skb, SkbDropReason.NEIGH_CREATEFAIL)
                return
        if not skb.protocol:
            skb.protocol = ETH_P_IP
        # The connected output path (NUD_CONNECTED) leaves ``used`` alone.
        if n.nud_state & NUD_CONNECTED or not self.event_send(n, skb):
            self.xmit(n, skb)

    # ------------------------------------------------------------ transmit
    def arp_create(self, op: int, dest_ip: int, dev: NetDevice, src_ip: int, dest_hw: bytes | None,
                   src_hw: bytes | None, target_hw: bytes | None) -> SkBuff:
        """arp_create: an Ethernet frame with the 28-byte ARP body (no padding, as on veth)."""
        skb = SkBuff.alloc(ARP_HDR_LEN, headroom=_LL_RESERVED_SPACE)
        skb.reset_network_header()
        off = skb.put(ARP_HDR_LEN)
        src_hw = src_hw if src_hw is not None else dev.mac
        ArpPacket(op, src_hw, src_ip, target_hw if target_hw is not None else bytes(6), dest_ip,
                  htype=dev.type).pack_into(skb.buf, off)
        skb.dev = dev
        dev.hard_header(skb, ETH_P_ARP, dest_hw if dest_hw is not None else dev.broadcast, src_hw)
        return skb

    def arp_send(self, op: int, dest_ip: int, dev: NetDevice, src_ip: int, dest_hw: bytes | None,
                 src_hw: bytes | None, target_hw: bytes | None) -> None:
        """arp_send: nothing on an IFF_NOARP device; else arp_create + arp_xmit."""
        if dev.flags & IFF_NOARP:
            return
        skb = self.arp_create(op, dest_ip, dev, src_ip, dest_hw, src_hw, target_hw)
        ns = self.ns
        if ns.tracer.active:
            ns.trace("arp_send", skb, dev=dev.name, op=int(op), tip=dest_ip, sip=src_ip)
        dev.queue_xmit(skb)  # arp_xmit: NF_ARP_OUT is not modelled

    def send_gratuitous(self, dev: NetDevice, ip: int) -> None:
        """A gratuitous ARP request announcing ``ip`` (sender = target = ip, broadcast)."""
        self.arp_send(ARPOP_REQUEST, ip, dev, ip, None, dev.mac, None)

    # ------------------------------------------------------------ receive
    def arp_rcv(self, skb: SkBuff, dev: NetDevice) -> None:
        """arp_rcv: header sanity, then arp_process."""
        ns = self.ns
        if dev.flags & IFF_NOARP or skb.pkt_type in (PacketType.OTHERHOST, PacketType.LOOPBACK):
            ns.consume_skb(skb)  # "do not tweak dropwatch on an ARP we will ignore"
            return
        try:
            arp = ArpPacket.parse(skb.view())
        except WireError as e:
            # pskb_may_pull failure -> PKT_TOO_SMALL; ar_hln/ar_pln mismatch -> NOT_SPECIFIED
            ns.kfree_skb(skb, SkbDropReason.__members__.get(e.reason, SkbDropReason.NOT_SPECIFIED))
            return
        skb.reset_network_header()
        self.arp_process(skb, dev, arp)

    def arp_process(self, skb: SkBuff, dev: NetDevice, arp: ArpPacket) -> None:
        ns = self.ns
        if dev.in_dev is None:
            ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
            return
        if dev.type == ARPHRD_ETHER:
            bad = arp.htype not in (ARPHRD_ETHER, ARPHRD_IEEE802) or arp.ptype != ETH_P_IP
        else:
            bad = arp.ptype != ETH_P_IP or arp.htype != dev.type
        op = arp.op
        if bad or op not in (ARPOP_REQUEST, ARPOP_REPLY):
            ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
            return
        sha, sip, tha, tip = arp.sha, arp.spa, arp.tha, arp.tpa
        name = dev.name
        sysctl = ns.sysctl
        # Requests for multicast or (unless route_localnet) loopback targets are bogus.
        if is_multicast(tip) or (is_loopback(tip) and not sysctl.conf_or(name, "route_localnet")):
            ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
            return
        if sip == tip and sysctl.conf_or(name, "drop_gratuitous_arp"):
            ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
            return
        if ns.tracer.active:
            ns.trace("arp_process", skb, dev=name, op=int(op), sip=sip, tip=tip)
        if sip == 0:
            # RFC 5227 duplicate address detection probe: answer for our address, learn nothing.
            if (op == ARPOP_REQUEST and self.addr_type(tip) == RTN_LOCAL
                    and not self.arp_ignore(dev, sip, tip)):
                self.arp_send(ARPOP_REPLY, sip, dev, tip, sha, dev.mac, sha)
            ns.consume_skb(skb)
            return
        if op == ARPOP_REQUEST and self._route_input_type(skb, tip, sip, dev) == RTN_LOCAL:
            dont_send = self.arp_ignore(dev, sip, tip)
            if not dont_send and sysctl.conf_or(name, "arp_filter"):
                dont_send = self.arp_filter(sip, tip, dev)
            if not dont_send:
                n = self.neigh_event_ns(sha, sip, dev)
                if n is not None:
                    self.arp_send(ARPOP_REPLY, sip, dev, tip, sha, dev.mac, sha)
            ns.consume_skb(skb)
            return
        # Proxy ARP would answer here for forwarded destinations; it is not modelled (off).

        # Update our ARP tables.
        n = self.lookup(sip, dev)
        addr_type = -1
        accept = self.arp_accept(dev, sip)
        is_garp = False
        if n is not None or accept:
            is_garp, addr_type = self._arp_is_garp(op, sip, tip, sha, tha)
        if accept and n is None and (
                is_garp or (op == ARPOP_REPLY and (
                    addr_type == RTN_UNICAST or (addr_type < 0 and self.addr_type(sip) == RTN_UNICAST)))):
            n = self.lookup_create(sip, dev)
        if n is not None:
            # Back-to-back replies: the FIRST wins for locktime (several proxies may answer).
            locktime = self.parm(dev, "locktime") * USER_HZ_NS
            override = ns.now > n.updated + locktime or is_garp
            # Broadcast replies and requests do not assert reachability.
            state = NUD_REACHABLE if op == ARPOP_REPLY and skb.pkt_type == PacketType.HOST else NUD_STALE
            self.update(n, sha, state, NEIGH_UPDATE_F_OVERRIDE if override else 0)
        ns.consume_skb(skb)

    def _route_input_type(self, skb: SkBuff, tip: int, sip: int, dev: NetDevice) -> int | None:
        """ip_route_input_noref(skb, tip, sip, 0, dev)'s route type, None when it fails."""
        route = getattr(self.ns, "route", None)
        if route is not None:
            from tuxnet.ipv4 import route as route_mod

            # The bare lookup (ip_route_input_slow): a request for another host gives an
            # RTN_UNREACHABLE route, and arp_process never reaches ip_error, so none of the
            # ip_rcv accounting (InAddrErrors, IPReversePathFilter) that route.input adds applies.
            try:
                return route.input_slow(tip, sip, 0, dev, skb.mark).rt_type
            except (route_mod._Martian, route_mod.RouteInputError):
                return None
        # No routing yet: the martian-source checks of ip_route_input_slow, then the local table.
        if is_multicast(sip) or is_lbcast(sip) or is_zeronet(sip):
            return None
        if is_loopback(sip) and not self.ns.sysctl.conf_or(dev.name, "route_localnet"):
            return None
        if not self.ns.sysctl.conf_or(dev.name, "accept_local") and self.addr_type(sip) == RTN_LOCAL:
            return None  # fib_validate_source: our own address as source
        return self.addr_type(tip)

    def _arp_is_garp(self, op: int, sip: int, tip: int, sha: bytes, tha: bytes) -> tuple[bool, int]:
        """arp_is_garp: sender == target (and, for a reply, tha == sha) for a unicast address."""
        is_garp = tip == sip
        if is_garp and op == ARPOP_REPLY:
            is_garp = tha == sha
        addr_type = -1
        if is_garp:
            addr_type = self.addr_type(sip)
            if addr_type != RTN_UNICAST:
                is_garp = False
        return is_garp, addr_type

    def neigh_event_ns(self, lladdr: bytes, saddr: int, dev: NetDevice) -> Neighbour | None:
        """neigh_event_ns: whoever asks for us is about to talk to us: a STALE entry for them."""
        n = self.lookup_create(saddr, dev)
        if n is not None:
            self.update(n, lladdr, NUD_STALE, NEIGH_UPDATE_F_OVERRIDE)
        return n

    def arp_ignore(self, dev: NetDevice, sip: int, tip: int) -> bool:
        """arp_ignore: True = do not answer a request for ``tip`` arriving on ``dev``."""
        mode = self.ns.sysctl.conf_max(dev.name, "arp_ignore")
        on: NetDevice | None = dev
        if mode == 0:
            return False
        if mode == 1:  # only if tip is configured on the incoming interface
            sip = 0
            scope = RT_SCOPE_HOST
        elif mode == 2:  # ... and sip is in its subnet
            scope = RT_SCOPE_HOST
        elif mode == 3:  # not for scope host addresses
            sip = 0
            scope = RT_SCOPE_LINK
            on = None
        else:  # 8: never answer; 4-7 reserved and other values: answer
            return mode == 8
        return not inet_confirm_addr(self.ns, on, sip, tip, scope)

    def arp_accept(self, dev: NetDevice, sip: int) -> bool:
        """arp_accept: may an unsolicited packet create an entry?"""
        mode = self.ns.sysctl.conf_max(dev.name, "arp_accept")
        if mode == 1:
            return True
        if mode == 2:  # only for a sender in a subnet of the receiving device
            return bool(inet_confirm_addr(self.ns, dev, sip, 0, RT_SCOPE_LINK))
        return False

    def arp_filter(self, sip: int, tip: int, dev: NetDevice) -> bool:
        """arp_filter: answer only if our route back to the sender leaves through ``dev``."""
        route = getattr(self.ns, "route", None)
        if route is None:
            return False
        try:
            rt = route.output(sip, tip)
        except OSError:
            return True
        if rt.dev is not dev:
            self.ns.mib.tcpext.ArpFilter += 1
            return True
        return False

    # ------------------------------------------------------------ events
    def _netdev_event(self, event: str, dev: NetDevice) -> None:
        if event == "register":
            self.parms_add(dev)
            self._noarp_flags[dev] = dev.flags & IFF_NOARP
        elif event == "up":
            self._maybe_notify_peers(dev)
        elif event == "mac":
            self.changeaddr(dev)  # arp_netdev_event NETDEV_CHANGEADDR
            self._maybe_notify_peers(dev)  # inetdev_event NETDEV_CHANGEADDR with arp_notify
        elif event == "change":
            noarp = dev.flags & IFF_NOARP
            if self._noarp_flags.get(dev, noarp) != noarp:
                self.changeaddr(dev)
            self._noarp_flags[dev] = noarp
            evict = self.ns.sysctl.v.get(f"net.ipv4.conf.{dev.name}.arp_evict_nocarrier", 1)
            evict_all = self.ns.sysctl.v.get("net.ipv4.conf.all.arp_evict_nocarrier", 1)
            if evict and evict_all and not dev.carrier:  # IN_DEV_ANDCONF
                self.carrier_down(dev)
        elif event == "down":
            self.ifdown(dev)
        elif event == "unregister":
            self.ifdown(dev)
            self.parms_release(dev)
            self._noarp_flags.pop(dev, None)

    def _inetaddr_event(self, event: str, ifa: InIfaddr) -> None:
        # fib_inetaddr_event: the last address gone disables IP on the device (fib_disable_ip).
        if event == "del" and ifa.dev.in_dev is not None and not ifa.dev.in_dev.ifa_list:
            self.ifdown(ifa.dev)

    def _maybe_notify_peers(self, dev: NetDevice) -> None:
        if self.ns.sysctl.conf_max(dev.name, "arp_notify"):
            # Deferred one softirq pass: a veth raises carrier after NETDEV_UP here.
            self.ns.loop.call_soon_ns(self.notify_peers, dev)

    def notify_peers(self, dev: NetDevice) -> None:
        """inetdev_send_gratuitous_arp: one gratuitous request per address of the device."""
        if dev.ns is not self.ns or dev.name not in self.ns.devices or dev.in_dev is None:
            return
        for ifa in list(dev.in_dev.ifa_list):
            self.send_gratuitous(dev, ifa.local)


def init_arp(ns: Namespace) -> ArpTable:
    return ArpTable(ns)


__all__ = ["ArpTable", "confirm_addr_indev", "inet_addr_onlink", "inet_confirm_addr", "init_arp",
           "ip_eth_mc_map"]
