"""IPv4 forwarding (net/ipv4/ip_forward.c, ip_rt_send_redirect of net/ipv4/route.c).

Guarantees, as Linux 6.x (``ns.route.input`` has already refused packets of devices that do not
forward: those never reach here):
- Only packets addressed to us at the link layer (PACKET_HOST) and not owned by a local socket are
  forwarded; others are dropped (NOT_SPECIFIED).
- TTL <= 1: InHdrErrors, ICMP time exceeded (11/0) to the sender, drop IP_INHDR.
- A strict source route that would need a gateway: ICMP 3/5 (source route failed).
- Larger than the outgoing MTU (the route's mtu metric, else the device MTU; learned PMTU only with
  ``ip_forward_use_pmtu``) with DF set, or a reassembled datagram whose largest DF fragment does
  not fit: FragFails, ICMP 3/4 carrying that MTU, drop PKT_TOO_BIG. Without DF it is fragmented
  on output.
- The TTL is decremented in place with the RFC 1624 incremental checksum update
  (ip_decrease_ttl), no copy of the packet. The queueing priority is set from the TOS
  (rt_tos2priority) while ``ip_forward_update_priority`` is on, its default.
- A route marked RTCF_DOREDIRECT (the packet leaves by the device it came in on, towards a sender
  on that link) triggers ICMP redirect (5/1, host) with the next hop, subject to ip_rt_send_redirect's
  backoff per sender: at most ``ip_rt_redirect_number`` (9) redirects, the k-th only after
  ``ip_rt_redirect_load << k`` jiffies, all forgotten after ``ip_rt_redirect_silence`` without any;
  the packet is still forwarded.
- FORWARD hook, then ForwDatagrams, IP options (record route, source route) updated, and output
  through POST_ROUTING with the forwarding MTU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.core.trace import SkbDropReason
from tuxnet.ipv4.ip_options import IpOpt, ip_forward_options
from tuxnet.ipv4.protocol import HZ, jiffies
from tuxnet.ipv4.route import RTCF_DOREDIRECT
from tuxnet.netfilter.hooks import NF_INET_FORWARD
from tuxnet.skb import PacketType, SkBuff

if TYPE_CHECKING:
    from tuxnet.ipv4.protocol import InetPeers
    from tuxnet.netns import Namespace

# net/ipv4/route.c
IP_RT_REDIRECT_NUMBER = 9
IP_RT_REDIRECT_LOAD = HZ // 50
IP_RT_REDIRECT_SILENCE = (HZ // 50) << (IP_RT_REDIRECT_NUMBER + 1)

# ip_tos2prio (net/ipv4/route.c): TC_PRIO_* by the TOS bits (tos & 0x1e) >> 1
IP_TOS2PRIO = (0, 0, 0, 0, 2, 2, 2, 2, 6, 6, 6, 6, 4, 4, 4, 4)

ICMP_DEST_UNREACH = 3
ICMP_FRAG_NEEDED = 4
ICMP_SR_FAILED = 5
ICMP_REDIRECT = 5
ICMP_REDIR_HOST = 1
ICMP_TIME_EXCEEDED = 11
ICMP_EXC_TTL = 0


class IpForward:
    """The forwarding part of ``ns.ip`` (mixed into ``Ipv4``)."""

    __slots__ = ()
    ns: Namespace
    peers: InetPeers
    forward_mtu: Callable[[Any], int]  # the output half
    ip_output_forward: Callable[[SkBuff], int]

    def ip_forward(self, skb: SkBuff) -> None:
        ns = self.ns
        if skb.pkt_type != PacketType.HOST or skb.sk is not None:
            ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
            return
        buf = skb.buf
        nh = skb.network_header
        # RFC 1812 5.3.1: decrement first; a packet that would reach zero dies here
        if buf[nh + 8] <= 1:
            ns.mib.ip.InHdrErrors += 1
            ns.icmp.send(skb, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0)
            ns.kfree_skb(skb, SkbDropReason.IP_INHDR)
            return
        rt = skb.dst
        opt = skb.cb if type(skb.cb) is IpOpt else None
        if opt is not None and opt.is_strictroute and rt.gateway:
            # strict routing permits no gatewaying
            ns.icmp.send(skb, ICMP_DEST_UNREACH, ICMP_SR_FAILED, 0)
            ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
            return
        n = skb.tail - skb.data
        mtu = self.forward_mtu(rt)
        # ip_exceeds_mtu: DF set (a reassembled skb is judged by its largest fragment; conntrack's
        # defragmentation sets ignore_df on what it reassembles)
        if n > mtu and buf[nh + 6] & 0x40 and (skb.frag_max_size > mtu or not skb.ignore_df):
            ns.mib.ip.FragFails += 1
            ns.icmp.send(skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu)
            ns.kfree_skb(skb, SkbDropReason.PKT_TOO_BIG)
            return
        # ip_decrease_ttl: TTL is the high byte of its word, so the checksum rises by 0x0100
        check = ((buf[nh + 10] << 8) | buf[nh + 11]) + 0x0100
        check = (check + (check >= 0xFFFF)) & 0xFFFF
        buf[nh + 10] = check >> 8
        buf[nh + 11] = check & 0xFF
        buf[nh + 8] -= 1
        if ns.tracer.active:
            ns.trace("ip_forward", skb, dev=rt.dev.name, ttl=buf[nh + 8])
        if rt.flags & RTCF_DOREDIRECT and not (opt is not None and opt.srr):
            self.ip_rt_send_redirect(skb)
        # net.ipv4.ip_forward_update_priority (default 1): the queueing priority follows the TOS
        if ns.sysctl.v.get("net.ipv4.ip_forward_update_priority", 1):
            skb.priority = IP_TOS2PRIO[(buf[nh + 1] & 0x1E) >> 1]
        if ns.nf.ops[NF_INET_FORWARD]:
            ns.nf.hook(NF_INET_FORWARD, skb, skb.dev, rt.dev, self.ip_forward_finish)
            return
        self.ip_forward_finish(skb)

    def ip_forward_finish(self, skb: SkBuff) -> int:
        ns = self.ns
        ns.mib.ip.ForwDatagrams += 1
        if type(skb.cb) is IpOpt:
            ip_forward_options(ns, skb, skb.cb)
        skb.tstamp = 0
        return self.ip_output_forward(skb)

    def ip_rt_send_redirect(self, skb: SkBuff) -> None:
        """ip_rt_send_redirect: tell the sender about a better first hop, with exponential backoff."""
        ns = self.ns
        rt = skb.dst
        dev = rt.dev
        if not ns.sysctl.conf_or(dev.name, "send_redirects"):
            return
        buf = skb.buf
        nh = skb.network_header
        saddr = int.from_bytes(buf[nh + 12:nh + 16], "big")
        daddr = int.from_bytes(buf[nh + 16:nh + 20], "big")
        peer = self.peers.get(saddr)
        now = jiffies(ns)
        # no redirected packets during ip_rt_redirect_silence: reset the algorithm
        if now > peer.rate_last + IP_RT_REDIRECT_SILENCE:
            peer.rate_tokens = 0
            peer.n_redirects = 0
        if peer.n_redirects >= IP_RT_REDIRECT_NUMBER:
            # too many ignored redirects: stay silent, remember the last redirected packet
            peer.rate_last = now
            return
        if peer.n_redirects == 0 or now > peer.rate_last + (IP_RT_REDIRECT_LOAD << peer.n_redirects):
            ns.icmp.send(skb, ICMP_REDIRECT, ICMP_REDIR_HOST, rt.nexthop(daddr))
            peer.rate_last = now
            peer.n_redirects += 1
