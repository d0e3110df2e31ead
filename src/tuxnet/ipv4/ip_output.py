"""IPv4 output (net/ipv4/ip_output.c, the ip_select_ident half of net/ipv4/route.c).

Guarantees, as Linux 6.x:
- ``send`` is ip_queue_xmit / ip_build_and_send_pkt for a packet whose ``skb.data`` is at its L4
  header: it routes (``ns.route.output``; a failure counts OutNoRoutes, drops IP_OUTNOROUTES and
  raises the OSError), pushes a 20-byte header plus options, picks TTL (route hoplimit metric, else
  ip_default_ttl; 1 for multicast), DF and the IP ID, then ip_local_out. Its return value is 0, or
  ``-EMSGSIZE`` when this layer had to drop the packet as too big with DF set (as the kernel's
  return path reports it; delivery later on - neighbour resolution, qdiscs - is asynchronous).
- DF (``df``): ``None`` is a datagram socket's default, IP_PMTUDISC_WANT (or DONT with
  ``ip_no_pmtu_disc``): DF only when the datagram fits the path MTU, and it may be fragmented
  locally (__ip_make_skb, ``ignore_df``). ``True`` is IP_PMTUDISC_DO (and what TCP uses): DF always,
  never fragmented here; too big means FragFails, an ICMP "fragmentation needed" to ourselves (so
  the sender's protocol learns the MTU, as Linux does) and -EMSGSIZE. ``False`` is
  IP_PMTUDISC_DONT: no DF.
- IP ID (ip_select_ident_segs): a connected socket (``sk.inet_daddr`` non-zero) numbers its own
  packets from ``sk.inet_id`` (which it advances); otherwise DF packets that may not be fragmented
  carry ID 0, and everything else draws from 2048 hash buckets keyed by (daddr, saddr, protocol)
  with a per-namespace key, each bucket advancing by a random amount below the jiffies elapsed
  since its last use (ip_idents_reserve), all randomness from ``ns.rng``.
- ip_local_out counts OutRequests, fills tot_len and the checksum and runs LOCAL_OUT; dst_output
  sends unicast through POST_ROUTING and ip_finish_output, broadcast (and multicast to a group this
  host joined) also loops a copy back to this host (ip_mc_output / dev_loopback_xmit).
- ip_finish_output fragments what exceeds the MTU (a forwarded packet's MTU ignores learned PMTU
  unless ``ip_forward_use_pmtu``): ip_do_fragment's slow path, 8-byte aligned offsets, MF on all
  but the last (kept when fragmenting a non-last fragment), non-copied options NOOPed after the
  first fragment, FragCreates per fragment, FragOKs per datagram. ip_finish_output2 counts
  OutTransmits/OutOctets (and Out{Bcast,Mcast}{Pkts,Octets}) per packet actually sent and hands it to
  ``ns.arp.output(skb, rt.dev, nexthop)``.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.core.trace import SkbDropReason
from tuxnet.ipv4.fib_semantics import RTN_BROADCAST, RTN_MULTICAST
from tuxnet.ipv4.ip_options import (
    IpOpt,
    ip_options_build,
    ip_options_fragment,
    ip_options_get,
    ip_send_check,
)
from tuxnet.ipv4.protocol import jiffies
from tuxnet.ipv4.route import RTCF_BROADCAST, RTCF_LOCAL, RTCF_MULTICAST
from tuxnet.netfilter.hooks import NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING
from tuxnet.skb import MAX_HEADER, PacketType, SkBuff
from tuxnet.wire.ethernet_consts import ETH_P_IP

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

IP_DF = 0x4000
IP_MF = 0x2000
IP_OFFSET = 0x1FFF
IP_MAX_MTU = 0xFFF0
IPPROTO_ICMP = 1
IP_IDENTS_SZ = 2048

_IPH = struct.Struct("!BBHHHBBHII")
_U32 = struct.Struct("!I")

# ICMP type -> the Icmp MIB counter Linux derives from IcmpMsg (icmpmibmap, net/ipv4/proc.c)
ICMP_OUT_FIELDS = {0: "OutEchoReps", 3: "OutDestUnreachs", 4: "OutSrcQuenchs", 5: "OutRedirects",
                   8: "OutEchos", 11: "OutTimeExcds", 12: "OutParmProbs", 13: "OutTimestamps",
                   14: "OutTimestampReps", 17: "OutAddrMasks", 18: "OutAddrMaskReps"}


def icmp_out_count(ns: Namespace, icmp_type: int) -> None:
    """icmp_out_count: OutMsgs and the per-type counters."""
    mib = ns.mib.icmp
    mib.OutMsgs += 1
    ns.mib.icmpmsg_out[icmp_type] += 1
    f = ICMP_OUT_FIELDS.get(icmp_type)
    if f is not None:
        setattr(mib, f, getattr(mib, f) + 1)


def copy_metadata(to: SkBuff, frm: SkBuff) -> None:
    """ip_copy_metadata: what a fragment inherits from its datagram."""
    to.dev = frm.dev
    to.in_dev = frm.in_dev
    to.dst = frm.dst
    to.protocol = frm.protocol
    to.pkt_type = frm.pkt_type
    to.priority = frm.priority
    to.mark = frm.mark
    to.sk = frm.sk
    to.tstamp = frm.tstamp
    to.nfct = frm.nfct
    to.ctinfo = frm.ctinfo
    to.ignore_df = frm.ignore_df
    to.tos = frm.tos


class IpOutput:
    """The output half of ``ns.ip`` (mixed into ``Ipv4``)."""

    __slots__ = ()
    ns: Namespace
    idents: dict[int, list[int]]
    ident_key: int
    ip_rcv: Callable[[SkBuff, Any], None]  # the input half

    # ------------------------------------------------------------ IP ID
    def select_ident(self, daddr: int, saddr: int, proto: int, segs: int = 1) -> int:
        """__ip_select_ident / ip_idents_reserve: the next ID of this flow's hash bucket."""
        bucket = hash((daddr, saddr, proto, self.ident_key)) & (IP_IDENTS_SZ - 1)
        b = self.idents.get(bucket)
        ns = self.ns
        if b is None:
            # ip_idents starts random, ip_tstamps at zero (ip_rt_init)
            b = self.idents[bucket] = [ns.rng.getrandbits(32), 0]
        now = jiffies(ns)
        delta = 0
        if b[1] != now:
            if now > b[1]:
                delta = ns.rng.randrange(now - b[1])
            b[1] = now
        b[0] = (b[0] + segs + delta) & 0xFFFFFFFF
        return (b[0] - segs) & 0xFFFF

    # ------------------------------------------------------------ send
    def send(self, skb: SkBuff, saddr: int, daddr: int, proto: int, *, rt: Any = None, tos: int = 0,
             ttl: int | None = None, df: bool | None = None, mark: int = 0, oif: int = 0, sk: Any = None,
             ip_id: int | None = None, options: bytes | IpOpt = b"") -> int:
        """Send the L4 packet in ``skb`` (data at its header) from ``saddr`` (0: the route's) to
        ``daddr``. Raises OSError for local routing errors (after counting and dropping)."""
        ns = self.ns
        if isinstance(options, IpOpt):
            opt: IpOpt | None = options if options.optlen else None
        else:
            opt = ip_options_get(ns, options) if options else None
        # a source route sends the packet to its first hop; the final address goes in the option
        fl_daddr = opt.faddr if opt is not None and opt.srr else daddr
        if rt is None:
            try:
                rt = ns.route.output(fl_daddr, saddr, tos, oif, mark)
            except OSError:
                ns.mib.ip.OutNoRoutes += 1
                ns.kfree_skb(skb, SkbDropReason.IP_OUTNOROUTES)
                raise
        if not saddr:
            saddr = rt.src
        optlen = opt.optlen if opt is not None else 0
        hl = 20 + optlen
        tot_len = skb.tail - skb.data + hl
        if tot_len > 0xFFFF:
            ns.kfree_skb(skb, SkbDropReason.PKT_TOO_BIG)
            raise oserror(errno.EMSGSIZE, f"IP datagram of {tot_len} bytes")
        transport = skb.data
        nh = skb.push(hl)
        skb.network_header = nh
        skb.transport_header = nh + hl
        if df is None:
            # datagram default, IP_PMTUDISC_WANT: DF only when it fits (ip_dont_fragment)
            ignore_df = True
            frag = IP_DF if (not ns.sysctl.v["net.ipv4.ip_no_pmtu_disc"] and tot_len <= rt.mtu
                             and not rt.metrics.get("lock", 0) & 2) else 0
        elif df:
            ignore_df = False
            frag = IP_DF
        else:
            ignore_df = True
            frag = 0
        if ttl is None:
            ttl = 1 if rt.rt_type == RTN_MULTICAST else (rt.metrics.get("hoplimit")
                                                           or ns.sysctl.v["net.ipv4.ip_default_ttl"])
        if ip_id is None:
            if sk is not None and getattr(sk, "inet_daddr", 0):
                ip_id = sk.inet_id & 0xFFFF
                sk.inet_id = (sk.inet_id + 1) & 0xFFFF
            elif frag and not ignore_df:
                ip_id = 0
            else:
                ip_id = self.select_ident(fl_daddr, saddr, proto)
        _IPH.pack_into(skb.buf, nh, 0x40 | (hl >> 2), tos & 0xFF, tot_len, ip_id & 0xFFFF, frag, ttl, proto,
                       0, saddr, fl_daddr)
        skb.ignore_df = ignore_df
        skb.dst = rt
        skb.mark = mark
        skb.sk = sk
        skb.tos = tos
        skb.protocol = ETH_P_IP
        if opt is not None:
            ip_options_build(ns, skb, opt, daddr, rt)
        if proto == IPPROTO_ICMP and skb.tail > transport:
            icmp_out_count(ns, skb.buf[transport])  # __ip_make_skb / raw_send_hdrinc
        return self.ip_local_out(skb)

    def ip_local_out(self, skb: SkBuff) -> int:
        """__ip_local_out: OutRequests, tot_len and checksum, LOCAL_OUT, dst_output."""
        ns = self.ns
        ns.mib.ip.OutRequests += 1
        buf = skb.buf
        nh = skb.network_header
        n = skb.tail - nh
        buf[nh + 2] = n >> 8
        buf[nh + 3] = n & 0xFF
        ip_send_check(buf, nh)
        skb.protocol = ETH_P_IP
        if ns.nf.ops[NF_INET_LOCAL_OUT]:
            ns.nf.hook(NF_INET_LOCAL_OUT, skb, None, skb.dst.dev, self.dst_output)
            return 0
        return self.dst_output(skb)

    def dst_output(self, skb: SkBuff) -> int:
        rt = skb.dst
        f = rt.flags
        if f & (RTCF_BROADCAST | RTCF_MULTICAST) and f & RTCF_LOCAL and rt.dev is not self.ns.lo:
            return self.ip_mc_output(skb)
        return self.ip_output(skb)

    # ------------------------------------------------------------ output
    def ip_output(self, skb: SkBuff) -> int:
        """ip_output: POST_ROUTING then ip_finish_output (for locally generated packets)."""
        dev = skb.dst.dev
        skb.dev = dev
        skb.protocol = ETH_P_IP
        ns = self.ns
        if ns.nf.ops[NF_INET_POST_ROUTING]:
            ns.nf.hook(NF_INET_POST_ROUTING, skb, skb.in_dev, dev, self.ip_finish_output)
            return 0
        return self.ip_finish_output(skb)

    def ip_output_forward(self, skb: SkBuff) -> int:
        """ip_output for a forwarded packet (IPSKB_FORWARDED: the MTU ignores learned PMTU)."""
        dev = skb.dst.dev
        indev = skb.dev
        skb.dev = dev
        ns = self.ns
        if ns.nf.ops[NF_INET_POST_ROUTING]:
            ns.nf.hook(NF_INET_POST_ROUTING, skb, indev, dev, self.ip_finish_output_forward)
            return 0
        return self.ip_finish_output_forward(skb)

    def ip_mc_output(self, skb: SkBuff) -> int:
        """ip_mc_output: broadcasts (and multicasts to a joined group) also come back to us."""
        rt = skb.dst
        dev = rt.dev
        skb.dev = dev
        skb.protocol = ETH_P_IP
        ns = self.ns
        if rt.flags & RTCF_MULTICAST:
            self._loopback_copy(skb, dev)
            if skb.buf[skb.network_header + 8] == 0:  # multicast with TTL 0 stays on this host
                ns.consume_skb(skb)
                return 0
        elif rt.flags & RTCF_BROADCAST:
            self._loopback_copy(skb, dev)
        if ns.nf.ops[NF_INET_POST_ROUTING]:
            ns.nf.hook(NF_INET_POST_ROUTING, skb, None, dev, self.ip_finish_output)
            return 0
        return self.ip_finish_output(skb)

    def _loopback_copy(self, skb: SkBuff, dev: Any) -> None:
        """dev_loopback_xmit: a copy goes up our own receive path (PACKET_LOOPBACK, no taps)."""
        c = skb.copy()
        c.data = c.network_header
        c.mac_header = c.data
        c.pkt_type = PacketType.LOOPBACK
        c.dst = skb.dst  # delivered by the output route, as the clone keeps its dst
        c.sk = None
        self.ns.loop.call_soon_ns(self.ip_rcv, c, dev)

    def ip_finish_output(self, skb: SkBuff) -> int:
        """__ip_finish_output: fragment if needed (ip_skb_dst_mtu of a local packet)."""
        mtu = skb.dst.mtu
        if skb.tail - skb.data > mtu or skb.frag_max_size:
            return self.ip_fragment(skb, mtu)
        return self.ip_finish_output2(skb)

    def ip_finish_output_forward(self, skb: SkBuff) -> int:
        rt = skb.dst
        mtu = self.forward_mtu(rt)
        if skb.tail - skb.data > mtu or skb.frag_max_size:
            return self.ip_fragment(skb, mtu)
        return self.ip_finish_output2(skb)

    def forward_mtu(self, rt: Any) -> int:
        """ip_dst_mtu_maybe_forward(dst, forwarding=true): the route's mtu metric, else the device's."""
        if self.ns.sysctl.v["net.ipv4.ip_forward_use_pmtu"] or rt.metrics.get("lock", 0) & 2:
            return rt.mtu
        mtu = rt.metrics.get("mtu") or rt.dev.mtu
        return mtu if mtu < IP_MAX_MTU else IP_MAX_MTU

    def ip_finish_output2(self, skb: SkBuff) -> int:
        """ip_finish_output2: count, pick the next hop, hand to the neighbour layer."""
        ns = self.ns
        rt = skb.dst
        n = skb.tail - skb.data
        t = rt.rt_type
        ext = ns.mib.ipext
        if t == RTN_MULTICAST:
            ext.OutMcastPkts += 1
            ext.OutMcastOctets += n
        elif t == RTN_BROADCAST:
            ext.OutBcastPkts += 1
            ext.OutBcastOctets += n
        ns.mib.ip.OutTransmits += 1
        ext.OutOctets += n
        nexthop = rt.gateway or _U32.unpack_from(skb.buf, skb.network_header + 16)[0]
        if ns.tracer.active:
            ns.trace("ip_finish_output2", skb, dev=rt.dev.name, nexthop=nexthop, len=n)
        ns.arp.output(skb, rt.dev, nexthop)
        return 0

    # ------------------------------------------------------------ fragmentation
    def ip_fragment(self, skb: SkBuff, mtu: int) -> int:
        """ip_fragment: DF packets that may not be fragmented are refused with ICMP 3/4."""
        ns = self.ns
        buf = skb.buf
        nh = skb.network_header
        if not buf[nh + 6] & 0x40:
            return self.ip_do_fragment(skb, mtu)
        if not skb.ignore_df or (skb.frag_max_size and skb.frag_max_size > mtu):
            ns.mib.ip.FragFails += 1
            ns.icmp.send(skb, 3, 4, mtu)
            # Linux frees it with plain kfree_skb; tuxnet names why
            ns.kfree_skb(skb, SkbDropReason.IP_FRAG_NEEDED_DF)
            return -errno.EMSGSIZE
        return self.ip_do_fragment(skb, mtu)

    def ip_do_fragment(self, skb: SkBuff, mtu: int) -> int:
        """ip_do_fragment (slow path): cut the payload into MTU-sized, 8-byte aligned pieces."""
        ns = self.ns
        mib = ns.mib.ip
        buf = skb.buf
        nh = skb.network_header
        if skb.frag_max_size and skb.frag_max_size < mtu:
            mtu = skb.frag_max_size
        hlen = (buf[nh] & 15) << 2
        mtu -= hlen  # room for data
        if mtu < 8:
            mib.FragFails += 1
            ns.kfree_skb(skb, SkbDropReason.PKT_TOO_BIG)
            return -errno.EINVAL
        frag_off = (buf[nh + 6] << 8) | buf[nh + 7]
        offset = (frag_off & IP_OFFSET) << 3
        not_last = frag_off & IP_MF
        # IPSKB_FRAG_PMTU (a reassembled DF datagram): the fragments keep DF
        keep_df = frag_off & IP_DF if skb.frag_max_size else 0
        hdr = bytearray(buf[nh:nh + hlen])
        ptr = nh + hlen
        left = skb.tail - ptr
        first = True
        output = self.ip_finish_output2
        while left > 0:
            ln = left if left <= mtu else mtu
            if ln < left:
                ln &= ~7
            f = SkBuff.alloc(hlen + ln, MAX_HEADER)
            fb = f.buf
            o = f.data
            fb[o:o + hlen] = hdr
            fb[o + hlen:o + hlen + ln] = buf[ptr:ptr + ln]
            f.tail = o + hlen + ln
            f.network_header = o
            f.transport_header = o + hlen
            fo = (offset >> 3) | keep_df
            if ln < left or not_last:
                fo |= IP_MF
            fb[o + 6] = fo >> 8
            fb[o + 7] = fo & 0xFF
            tl = hlen + ln
            fb[o + 2] = tl >> 8
            fb[o + 3] = tl & 0xFF
            ip_send_check(fb, o)
            copy_metadata(f, skb)
            if first:
                # later fragments carry only the options with the copied flag (ip_options_fragment)
                ip_options_fragment(hdr, 0)
                first = False
            mib.FragCreates += 1
            if ns.tracer.active:
                ns.trace("ip_fragment", f, parent=skb.id, offset=offset, len=tl, mf=bool(fo & IP_MF))
            output(f)
            left -= ln
            ptr += ln
            offset += ln
        mib.FragOKs += 1
        ns.consume_skb(skb)
        return 0
