"""IPv4 input and the per-namespace IP layer ``ns.ip`` (net/ipv4/ip_input.c, net/ipv4/protocol.c).

Guarantees, as Linux 6.x:
- ``ip_rcv`` (``ns.ptype[ETH_P_IP]``) is ip_rcv_core: frames for another host (PACKET_OTHERHOST)
  are dropped before anything is counted; then InReceives/InOctets and the ECN counters
  (InNoECTPkts...). A header shorter than 20 bytes, version != 4, ihl < 5, or ihl*4 beyond the data:
  InHdrErrors, IP_INHDR. A bad header checksum (always verified): InCsumErrors and InHdrErrors,
  IP_CSUM. tot_len beyond the data: InTruncatedPkts, PKT_TOO_SMALL; tot_len < ihl*4: InHdrErrors.
  Link padding beyond tot_len is trimmed. Nothing from the network ever raises.
- PRE_ROUTING, then ``ns.route.input``: a refusal drops the packet with the route's reason (the
  route layer counts InNoRoutes/InAddrErrors as ip_error does) and, when it names an ICMP
  unreachable, sends it under ip_error's per-sender token bucket (5 at once, then 1 per second).
- Options (ihl > 5) are compiled as ip_rcv_options: a malformed one gets ICMP parameter problem
  (12/0 with the pointer) and InHdrErrors; a source route is dropped unless accept_source_route
  (all AND device). Record route and timestamp are filled in and kept.
- Broadcast and multicast deliveries count In{Bcast,Mcast}{Pkts,Octets}. Local delivery reassembles
  fragments (``ip_fragment.IpFrags``), runs LOCAL_IN, pulls the IP header (``skb.data`` at L4,
  ``skb.network_header`` still at the IP header), offers the packet to every ``raw_deliver`` hook
  (``fn(skb) -> bool``: True when a raw socket took a copy; hooks copy what they keep), then to the
  protocol handler registered for its protocol (``register_protocol``; a handler returning a
  negative int -P resubmits the packet as protocol P). InDelivers counts what a handler or a raw
  socket got; with neither: InUnknownProtos, ICMP protocol unreachable (3/2), IP_NOPROTO.
- ``Ipv4`` also owns the IP ID buckets, the inet_peer cache (``ns.ip.peers``) and the reassembly
  queues (``ns.ip.frags``); output and forwarding are in ip_output.py and ip_forward.py.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.core.trace import SkbDropReason
from tuxnet.ipv4.fib_semantics import RTN_BROADCAST, RTN_MULTICAST
from tuxnet.ipv4.ip_forward import IpForward
from tuxnet.ipv4.ip_fragment import IP_DEFRAG_LOCAL_DELIVER, IpFrags
from tuxnet.ipv4.ip_options import OptionError, ip_options_compile, ip_options_rcv_srr
from tuxnet.ipv4.ip_output import IpOutput
from tuxnet.ipv4.protocol import HZ, InetPeers, jiffies
from tuxnet.ipv4.route import RouteInputError
from tuxnet.netfilter.hooks import NF_INET_LOCAL_IN, NF_INET_PRE_ROUTING
from tuxnet.skb import PacketType
from tuxnet.wire.ethernet_consts import ETH_P_IP

if TYPE_CHECKING:
    from tuxnet.drivers.netdevice import NetDevice
    from tuxnet.netns import Namespace
    from tuxnet.skb import SkBuff

_U32 = struct.Struct("!I")
_OTHERHOST = PacketType.OTHERHOST

# ip_error's token bucket (net/ipv4/route.c)
IP_RT_ERROR_COST = HZ
IP_RT_ERROR_BURST = 5 * HZ

ICMP_DEST_UNREACH = 3
ICMP_PROT_UNREACH = 2
ICMP_PARAMETERPROB = 12

Handler = Callable[["SkBuff"], Any]
ErrHandler = Callable[["SkBuff", int, int, int], Any]


class Ipv4(IpOutput, IpForward):
    """``ns.ip``: the IPv4 packet layer of one namespace."""

    __slots__ = ("ns", "protos", "err_handlers", "raw_deliver", "raw_error", "frags", "peers", "idents",
                 "ident_key", "_nf_ops")

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.protos: dict[int, Handler] = {}
        self.err_handlers: dict[int, ErrHandler] = {}
        # raw_local_deliver: fn(skb) -> True when a raw socket took a copy
        self.raw_deliver: list[Callable[[SkBuff], Any]] = []
        # raw_icmp_error: fn(skb, protocol, icmp_type, icmp_code, info) for raw sockets of the
        # quoted protocol (skb.data at the quoted IP header)
        self.raw_error: list[Callable[[SkBuff, int, int, int, int], Any]] = []
        self.frags = IpFrags(ns)
        self.peers = InetPeers(ns)
        self.idents: dict[int, list[int]] = {}
        self.ident_key = ns.rng.getrandbits(64)  # net->ipv4.ip_id_key
        self._nf_ops = ns.nf.ops
        ns.ptype[ETH_P_IP] = self.ip_rcv

    # ------------------------------------------------------------ protocol table
    def register_protocol(self, proto: int, handler: Handler, err_handler: ErrHandler | None = None) -> None:
        """inet_add_protocol: one handler per protocol number (EEXIST when taken)."""
        if not 0 <= proto <= 255:
            raise oserror(errno.EINVAL, f"protocol {proto}")
        if proto in self.protos:
            raise oserror(errno.EEXIST, f"protocol {proto} already has a handler")
        self.protos[proto] = handler
        if err_handler is not None:
            self.err_handlers[proto] = err_handler

    def unregister_protocol(self, proto: int) -> None:
        """inet_del_protocol."""
        self.protos.pop(proto, None)
        self.err_handlers.pop(proto, None)

    # ------------------------------------------------------------ receive
    def ip_rcv(self, skb: SkBuff, dev: NetDevice) -> None:
        """ip_rcv / ip_rcv_core: validate the header, then PRE_ROUTING."""
        ns = self.ns
        if skb.pkt_type == _OTHERHOST:
            # the interface is promiscuous: drop all the crap it receives unseen
            ns.kfree_skb(skb, SkbDropReason.OTHERHOST)
            return
        mib = ns.mib.ip
        ext = ns.mib.ipext
        buf = skb.buf
        d = skb.data
        n = skb.tail - d
        mib.InReceives += 1
        ext.InOctets += n
        if n < 20:
            return self._inhdr_error(skb, SkbDropReason.IP_INHDR)
        vihl = buf[d]
        hl = (vihl & 15) << 2
        if vihl >> 4 != 4 or hl < 20:
            return self._inhdr_error(skb, SkbDropReason.IP_INHDR)
        ecn = buf[d + 1] & 3
        if ecn == 0:
            ext.InNoECTPkts += 1
        elif ecn == 1:
            ext.InECT1Pkts += 1
        elif ecn == 2:
            ext.InECT0Pkts += 1
        else:
            ext.InCEPkts += 1
        if n < hl:
            return self._inhdr_error(skb, SkbDropReason.IP_INHDR)
        # ip_fast_csum: the header's words sum to 0xFFFF exactly when they are 0 modulo 0xFFFF
        if int.from_bytes(buf[d:d + hl], "big") % 0xFFFF:
            ext.InCsumErrors += 1
            return self._inhdr_error(skb, SkbDropReason.IP_CSUM)
        tot = (buf[d + 2] << 8) | buf[d + 3]
        if n < tot:
            ext.InTruncatedPkts += 1
            ns.kfree_skb(skb, SkbDropReason.PKT_TOO_SMALL)
            return
        if tot < hl:
            return self._inhdr_error(skb, SkbDropReason.IP_INHDR)
        if n > tot:
            skb.tail = d + tot  # pskb_trim_rcsum: Ethernet padding
        skb.network_header = d
        skb.transport_header = d + hl
        # memset(IPCB(skb), 0): no options, no fragment size; and a packet arriving here never
        # keeps a sender's permission to be fragmented
        skb.cb = None
        skb.frag_max_size = 0
        skb.ignore_df = False
        skb.in_dev = dev
        skb.dev = dev
        if ns.tracer.active:
            ns.trace("ip_rcv", skb, dev=dev.name, len=tot)
        if self._nf_ops[NF_INET_PRE_ROUTING]:
            ns.nf.hook(NF_INET_PRE_ROUTING, skb, dev, None, self.ip_rcv_finish)
            return
        self.ip_rcv_finish(skb)

    def _inhdr_error(self, skb: SkBuff, reason: SkbDropReason) -> None:
        self.ns.mib.ip.InHdrErrors += 1
        self.ns.kfree_skb(skb, reason)

    def ip_rcv_finish(self, skb: SkBuff) -> None:
        """ip_rcv_finish_core: route the packet, process options, then dst_input."""
        ns = self.ns
        buf = skb.buf
        nh = skb.network_header
        dev = skb.dev
        rt = skb.dst
        if rt is None:  # a packet looped back through lo keeps its output route (skb_valid_dst)
            saddr = _U32.unpack_from(buf, nh + 12)[0]
            daddr = _U32.unpack_from(buf, nh + 16)[0]
            try:
                rt = ns.route.input(skb, daddr, saddr, buf[nh + 1], dev)
            except RouteInputError as e:
                if e.icmp is not None:
                    self._ip_error_icmp(skb, saddr, e.icmp[0], e.icmp[1])
                ns.kfree_skb(skb, e.reason)
                return
            skb.dst = rt
        if buf[nh] != 0x45:
            if not self.ip_rcv_options(skb, dev):
                return
            rt = skb.dst  # a source route may have re-routed the packet
        t = rt.rt_type
        if t == RTN_MULTICAST:
            ext = ns.mib.ipext
            ext.InMcastPkts += 1
            ext.InMcastOctets += skb.tail - skb.data
        elif t == RTN_BROADCAST:
            ext = ns.mib.ipext
            ext.InBcastPkts += 1
            ext.InBcastOctets += skb.tail - skb.data
        if rt.is_local:
            self.ip_local_deliver(skb)
        elif rt.is_forward:
            self.ip_forward(skb)
        else:
            ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)

    def _ip_error_icmp(self, skb: SkBuff, saddr: int, icmp_type: int, code: int) -> None:
        """ip_error's per-sender token bucket in front of the ICMP unreachable."""
        peer = self.peers.get(saddr)
        now = jiffies(self.ns)
        tokens = peer.rate_tokens + now - peer.rate_last
        if tokens > IP_RT_ERROR_BURST:
            tokens = IP_RT_ERROR_BURST
        peer.rate_last = now
        send = tokens >= IP_RT_ERROR_COST
        if send:
            tokens -= IP_RT_ERROR_COST
        peer.rate_tokens = tokens
        if send:
            self.ns.icmp.send(skb, icmp_type, code, 0)

    def ip_rcv_options(self, skb: SkBuff, dev: NetDevice) -> bool:
        """ip_rcv_options: False when the packet was dropped."""
        ns = self.ns
        nh = skb.network_header
        optlen = ((skb.buf[nh] & 15) << 2) - 20
        try:
            opt = ip_options_compile(ns, skb.buf, nh, optlen, skb)
        except OptionError as e:
            ns.icmp.send(skb, ICMP_PARAMETERPROB, 0, e.pointer << 24)
            ns.mib.ip.InHdrErrors += 1
            ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
            return False
        skb.cb = opt
        if opt.srr:
            # IN_DEV_SOURCE_ROUTE is all && device
            if not ns.sysctl.conf_and(dev.name, "accept_source_route"):
                ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
                return False
            if not ip_options_rcv_srr(ns, skb, opt, dev):
                ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
                return False
            rt = skb.dst
            if not rt.is_local and not rt.is_forward:
                ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
                return False
        return True

    # ------------------------------------------------------------ local delivery
    def ip_local_deliver(self, skb: SkBuff) -> None:
        """ip_local_deliver: reassemble, LOCAL_IN, then the protocol."""
        buf = skb.buf
        nh = skb.network_header
        if buf[nh + 6] & 0x3F or buf[nh + 7]:
            skb = self.frags.defrag(skb, IP_DEFRAG_LOCAL_DELIVER)  # type: ignore[assignment]
            if skb is None:
                return
        if self._nf_ops[NF_INET_LOCAL_IN]:
            self.ns.nf.hook(NF_INET_LOCAL_IN, skb, skb.dev, None, self.ip_local_deliver_finish)
            return
        self.ip_local_deliver_finish(skb)

    def ip_local_deliver_finish(self, skb: SkBuff) -> None:
        nh = skb.network_header
        buf = skb.buf
        if self.ns.tracer.active:
            self.ns.trace("ip_local_deliver", skb, proto=buf[nh + 9], len=skb.tail - nh)
        d = nh + ((buf[nh] & 15) << 2)
        skb.data = d
        skb.transport_header = d
        self.ip_protocol_deliver(skb, buf[nh + 9])

    def ip_protocol_deliver(self, skb: SkBuff, proto: int) -> None:
        """ip_protocol_deliver_rcu: raw sockets first, then the protocol's handler."""
        ns = self.ns
        while True:
            raw = False
            if self.raw_deliver:
                for fn in self.raw_deliver:
                    if fn(skb):
                        raw = True
            handler = self.protos.get(proto)
            if handler is not None:
                ret = handler(skb)
                if type(ret) is int and ret < 0:
                    proto = -ret  # resubmit as another protocol (encapsulation)
                    continue
                ns.mib.ip.InDelivers += 1
                return
            if raw:
                ns.mib.ip.InDelivers += 1
                ns.consume_skb(skb)
                return
            ns.mib.ip.InUnknownProtos += 1
            ns.icmp.send(skb, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 0)
            ns.kfree_skb(skb, SkbDropReason.IP_NOPROTO)
            return

    def defrag(self, skb: SkBuff, user: int = IP_DEFRAG_LOCAL_DELIVER) -> SkBuff | None:
        """ip_defrag for other users (conntrack): the reassembled skb, or None while incomplete."""
        return self.frags.defrag(skb, user)


def init_ip(ns: Namespace) -> Ipv4:
    return Ipv4(ns)
