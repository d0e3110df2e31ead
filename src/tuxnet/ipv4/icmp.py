"""ICMP (net/ipv4/icmp.c, RFC 792, RFC 1122 3.2.2, RFC 1812 4.3): ``ns.icmp``.

Guarantees, as Linux 6.x:
- ``send(skb_in, type, code, info)`` is icmp_send. Nothing is sent about a packet that is not for
  this host at the link layer, that was routed as broadcast/multicast, that is a fragment other
  than the first, that is itself an ICMP error (or an unknown ICMP type) when sending an error, or
  (tuxnet's explicit check of RFC 1812 4.3.2.7, which Linux gets from its martian filter) whose
  source is zero, broadcast or multicast. The message quotes the offending IP header and as much
  of the packet as fits in 576 bytes (never beyond the route MTU). Its source is the address the
  packet was sent to when it was for us, else the route's choice (or the address of the receiving
  device with ``icmp_errors_use_inbound_ifaddr``); errors carry TOS 0xc0 | (tos & 0x1e), DF clear,
  TTL ip_default_ttl, IP options of the offending packet echoed (record route carried on).
- Rate limits: types in ``icmp_ratemask`` (destination unreachable but "fragmentation needed",
  source quench, time exceeded, parameter problem) take a credit from the namespace's bucket of
  ``icmp_msgs_burst`` refilled at ``icmp_msgs_per_sec`` (icmp_global_allow; each message sent
  consumes a random 0..2 credits, from ``ns.rng``), else OutRateLimitGlobal; then a per-destination
  token bucket of ``icmp_ratelimit`` ms (inet_peer_xrlim_allow, bursts of 6), else
  OutRateLimitHost. Packets received on loopback, and messages routed out of loopback, are exempt.
- ``rcv`` (the IPPROTO_ICMP handler): InMsgs; a checksum is verified unless the packet is marked
  CHECKSUM_UNNECESSARY or PARTIAL (InCsumErrors + InErrors, ICMP_CSUM); shorter than 8 bytes: InErrors.
  Per-type In counters (Icmp and IcmpMsg). Unknown types > 18: InErrors, dropped. To a broadcast or
  multicast address only echo, timestamp and address-mask messages are accepted (echo and
  timestamp not even those with ``icmp_echo_ignore_broadcasts``).
- Echo requests are answered (unless ``icmp_echo_ignore_all``) with the same id, sequence and data,
  from the address they were sent to; timestamp requests with ms since midnight UT (virtual time).
- Errors (3, 4, 11, 12) and redirects are handed to the quoted protocol: every ``ns.ip.raw_error``
  hook, then its ``err_handler(skb, type, code, info)`` with ``skb.data`` at the quoted IP header
  (at least its header plus 8 bytes present), ``skb.transport_header`` at the ICMP header, ``info``
  the next-hop MTU for "fragmentation needed" (when ip_no_pmtu_disc allows), the pointer for
  parameter problems, the gateway for redirects, else 0. "Fragmentation needed" also updates the
  path MTU towards the quoted destination through ``ns.route.update_pmtu`` (Linux does this from
  the protocols' err handlers when a socket matches; tuxnet does it once here, so every protocol
  benefits). Fragment reassembly timeouts (11/1) are not passed on, as Linux.
- Hooks for ping/raw sockets: ``echo_reply_hooks`` (``fn(skb) -> bool`` consumed; skb.data at the
  ICMP header) see echo replies, unconsumed ones are dropped NO_SOCKET; ``error_hooks``
  (``fn(skb, type, code, info) -> bool``) see errors quoting an ICMP message we sent (not a reply).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.core.trace import SkbDropReason
from tuxnet.drivers.netdevice import IFF_LOOPBACK
from tuxnet.ipv4.devinet import RT_SCOPE_LINK
from tuxnet.ipv4.fib_semantics import RTN_BROADCAST
from tuxnet.ipv4.ip_options import IpOpt, fib_compute_spec_dst, inet_current_timestamp, ip_options_echo
from tuxnet.ipv4.protocol import HZ, inet_peer_xrlim_allow, jiffies, msecs_to_jiffies
from tuxnet.ipv4.route import RTCF_BROADCAST, RTCF_LOCAL, RTCF_MULTICAST
from tuxnet.skb import Csum, PacketType, SkBuff
from tuxnet.wire.checksum import csum_fold, csum_partial

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

ICMP_ECHOREPLY = 0
ICMP_DEST_UNREACH = 3
ICMP_SOURCE_QUENCH = 4
ICMP_REDIRECT = 5
ICMP_ECHO = 8
ICMP_TIME_EXCEEDED = 11
ICMP_PARAMETERPROB = 12
ICMP_TIMESTAMP = 13
ICMP_TIMESTAMPREPLY = 14
ICMP_ADDRESS = 17
ICMP_ADDRESSREPLY = 18
ICMP_EXT_ECHO = 42
NR_ICMP_TYPES = 18
NR_ICMP_UNREACH = 15
ICMP_FRAG_NEEDED = 4
ICMP_EXC_FRAGTIME = 1
IPPROTO_ICMP = 1
IPTOS_PREC_INTERNETCONTROL = 0xC0
IPTOS_TOS_MASK = 0x1E
INADDR_DUMMY = 0xC0000008  # 192.0.0.8, when no source address exists (RFC 7600)

# icmp_pointers[].error: the types that are error messages
ICMP_ERROR_TYPES = frozenset((1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12))

ICMP_IN_FIELDS = {0: "InEchoReps", 3: "InDestUnreachs", 4: "InSrcQuenchs", 5: "InRedirects",
                  8: "InEchos", 11: "InTimeExcds", 12: "InParmProbs", 13: "InTimestamps",
                  14: "InTimestampReps", 17: "InAddrMasks", 18: "InAddrMaskReps"}

_ICMPH = struct.Struct("!BBHI")
_U32 = struct.Struct("!I")

EchoReplyHook = Callable[[SkBuff], bool]
ErrorHook = Callable[[SkBuff, int, int, int], bool]


def icmp_tag_validation(ns: Namespace, proto: int) -> bool:
    """ip_no_pmtu_disc=3: trust frag-needed only for protocols that validate the quote (none here
    but those registered as such by Linux: TCP and SCTP keep sequence state)."""
    return proto in (6, 132)


class Icmp:
    """``ns.icmp``."""

    __slots__ = ("ns", "echo_reply_hooks", "error_hooks", "credit", "stamp")

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.echo_reply_hooks: list[EchoReplyHook] = []
        self.error_hooks: list[ErrorHook] = []
        # net->ipv4.icmp_global: empty, last refilled long ago (the first call fills it to the burst)
        self.credit = 0
        self.stamp = jiffies(ns) - HZ
        ns.ip.register_protocol(IPPROTO_ICMP, self.rcv, self.err)

    # ------------------------------------------------------------ rate limits
    def global_allow(self) -> bool:
        """icmp_global_allow: is there credit (refilling at most every HZ/50)?"""
        if self.credit > 0:
            return True
        ns = self.ns
        now = jiffies(ns)
        delta = min(now - self.stamp, HZ)
        if delta < HZ // 50:
            return False
        incr = ns.sysctl.v["net.ipv4.icmp_msgs_per_sec"] * delta // HZ
        if not incr:
            return False
        self.stamp = now
        self.credit = min(self.credit + incr, ns.sysctl.v["net.ipv4.icmp_msgs_burst"])
        return True

    def global_consume(self) -> None:
        """icmp_global_consume: one credit on average, randomised (it may go negative)."""
        self.credit -= self.ns.rng.randrange(3)

    def _mask_allow(self, icmp_type: int, code: int) -> bool:
        """icmpv4_mask_allow: types outside icmp_ratemask, and PMTU discovery, are never limited."""
        if icmp_type > NR_ICMP_TYPES:
            return True
        if icmp_type == ICMP_DEST_UNREACH and code == ICMP_FRAG_NEEDED:
            return True
        return not (1 << icmp_type) & self.ns.sysctl.v["net.ipv4.icmp_ratemask"]

    def _global_allow_type(self, icmp_type: int, code: int) -> tuple[bool, bool]:
        """icmpv4_global_allow: (allowed, apply_ratelimit)."""
        if self._mask_allow(icmp_type, code):
            return True, False
        if self.global_allow():
            return True, True
        self.ns.mib.icmp.OutRateLimitGlobal += 1
        return False, False

    def _xrlim_allow(self, rt: Any, daddr: int, apply_ratelimit: bool) -> bool:
        """icmpv4_xrlim_allow: the per-destination bucket (not towards loopback)."""
        if not apply_ratelimit:
            return True
        ns = self.ns
        rc = True
        if not rt.dev.flags & IFF_LOOPBACK:
            timeout = msecs_to_jiffies(ns.sysctl.v["net.ipv4.icmp_ratelimit"])
            rc = inet_peer_xrlim_allow(ns.ip.peers.get(daddr), timeout, jiffies(ns))
        if not rc:
            ns.mib.icmp.OutRateLimitHost += 1
        else:
            self.global_consume()
        return rc

    # ------------------------------------------------------------ sending
    def send(self, skb_in: SkBuff, icmp_type: int, code: int, info: int = 0) -> None:
        """icmp_send: report a problem with ``skb_in`` (its network_header at the IP header)."""
        ns = self.ns
        rt = skb_in.dst
        nh = skb_in.network_header
        buf = skb_in.buf
        if nh < 0 or nh + 20 > skb_in.tail:
            return
        if skb_in.pkt_type != PacketType.HOST:
            return  # no replies to physical multicast/broadcast
        flags = rt.flags if rt is not None else 0  # no route: ip_error's unreachable input route
        if flags & (RTCF_BROADCAST | RTCF_MULTICAST):
            return
        if buf[nh + 6] & 0x1F or buf[nh + 7]:
            return  # only reply to fragment 0
        is_error = icmp_type in ICMP_ERROR_TYPES
        hl = (buf[nh] & 15) << 2
        if is_error and buf[nh + 9] == IPPROTO_ICMP:
            # an ICMP error about an ICMP error would make a mess (unknown types count as errors)
            if nh + hl >= skb_in.tail:
                return
            inner = buf[nh + hl]
            if inner > NR_ICMP_TYPES or inner in ICMP_ERROR_TYPES:
                return
        saddr_in = _U32.unpack_from(buf, nh + 12)[0]
        daddr_in = _U32.unpack_from(buf, nh + 16)[0]
        if not saddr_in & 0xFF000000 or saddr_in == 0xFFFFFFFF or saddr_in & 0xF0000000 == 0xE0000000:
            return
        apply_ratelimit = False
        dev_in = skb_in.dev
        if not (dev_in is not None and dev_in.flags & IFF_LOOPBACK):
            ok, apply_ratelimit = self._global_allow_type(icmp_type, code)
            if not ok:
                return
        saddr = daddr_in
        if not flags & RTCF_LOCAL:
            saddr = 0
            if skb_in.in_dev is not None and ns.sysctl.v["net.ipv4.icmp_errors_use_inbound_ifaddr"]:
                saddr = ns.devinet.select_addr(skb_in.in_dev, saddr_in, RT_SCOPE_LINK)
        tos = buf[nh + 1]
        if is_error:
            tos = (tos & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL
        opt = ip_options_echo(ns, skb_in, skb_in.cb if type(skb_in.cb) is IpOpt else None)
        if opt is None:
            return
        daddr = opt.faddr if opt.srr else saddr_in
        try:
            rt_out = ns.route.output(daddr, saddr, tos & IPTOS_TOS_MASK, 0, 0)
        except OSError:
            return
        if not self._xrlim_allow(rt_out, daddr, apply_ratelimit):
            return
        # RFC 1812 4.3.2.3: as much as we can without exceeding 576 bytes
        room = min(rt_out.mtu, 576) - 20 - opt.optlen - 8
        if room <= 20:
            return  # a tiny MTU: not even the IP header would fit
        data_len = min(skb_in.tail - nh, room)
        src = saddr or rt_out.src or INADDR_DUMMY
        if ns.tracer.active:
            ns.trace("icmp_send", skb_in, type=icmp_type, code=code)
        self._push_reply(icmp_type, code, info, buf[nh:nh + data_len], rt_out, src, saddr_in, tos, opt)

    def _push_reply(self, icmp_type: int, code: int, rest: int, payload: bytes | bytearray, rt: Any,
                    saddr: int, daddr: int, tos: int, opt: IpOpt) -> None:
        """icmp_push_reply: build the message and send it from the namespace's ICMP socket
        (IP_PMTUDISC_DONT: never DF, hashed IP IDs)."""
        n = 8 + len(payload)
        skb = SkBuff.alloc(n)
        off = skb.put(n)
        b = skb.buf
        b[off + 8:off + n] = payload
        _ICMPH.pack_into(b, off, icmp_type, code, 0, rest & 0xFFFFFFFF)
        c = csum_fold(csum_partial(b[off:off + n]))
        b[off + 2] = c >> 8
        b[off + 3] = c & 0xFF
        try:
            self.ns.ip.send(skb, saddr, daddr, IPPROTO_ICMP, rt=rt, tos=tos, df=False, options=opt)
        except OSError:
            self.ns.mib.icmp.OutErrors += 1

    def _reply(self, skb: SkBuff, icmp_type: int, code: int, rest: int, payload: bytes | bytearray) -> None:
        """icmp_reply: answer ``skb`` (an echo or timestamp request) to its sender."""
        ns = self.ns
        opt = ip_options_echo(ns, skb, skb.cb if type(skb.cb) is IpOpt else None)
        if opt is None:
            return
        ok, apply_ratelimit = self._global_allow_type(icmp_type, code)
        if not ok:
            return
        buf = skb.buf
        nh = skb.network_header
        tos = buf[nh + 1]
        daddr = _U32.unpack_from(buf, nh + 12)[0]
        final = daddr
        if opt.srr:
            daddr = opt.faddr
        saddr = fib_compute_spec_dst(ns, skb)
        try:
            rt = ns.route.output(daddr, saddr, tos & IPTOS_TOS_MASK, 0, 0)
        except OSError:
            return
        if self._xrlim_allow(rt, daddr, apply_ratelimit):
            self._push_reply(icmp_type, code, rest, payload, rt, saddr or rt.src, final, tos, opt)

    # ------------------------------------------------------------ receiving
    def rcv(self, skb: SkBuff) -> int:
        """icmp_rcv: skb.data at the ICMP header."""
        ns = self.ns
        mib = ns.mib.icmp
        mib.InMsgs += 1
        buf = skb.buf
        d = skb.data
        n = skb.tail - d
        # skb_checksum_simple_validate(): CHECKSUM_UNNECESSARY and CHECKSUM_PARTIAL skbs are not verified
        if skb.ip_summed != Csum.UNNECESSARY and skb.ip_summed != Csum.PARTIAL \
                and csum_fold(csum_partial(buf[d:skb.tail])):
            mib.InCsumErrors += 1
            mib.InErrors += 1
            ns.kfree_skb(skb, SkbDropReason.ICMP_CSUM)
            return 0
        if n < 8:
            mib.InErrors += 1
            ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
            return 0
        t = buf[d]
        code = buf[d + 1]
        ns.mib.icmpmsg_in[t] += 1
        f = ICMP_IN_FIELDS.get(t)
        if f is not None:
            setattr(mib, f, getattr(mib, f) + 1)
        if t == ICMP_EXT_ECHO:
            # RFC 8335 PROBE: answered only with icmp_echo_enable_probe (not modelled: off by default)
            ns.consume_skb(skb)
            return 0
        if t > NR_ICMP_TYPES:
            # RFC 1122 3.2.2: unknown ICMP message types MUST be silently discarded
            mib.InErrors += 1
            ns.kfree_skb(skb, SkbDropReason.UNHANDLED_PROTO)
            return 0
        rt = skb.dst
        # RFC 1122 3.2.2.6 / 3.2.2.8: echo and timestamp to broadcast may be ignored
        if rt is not None and rt.flags & (RTCF_BROADCAST | RTCF_MULTICAST) and (
                (t in (ICMP_ECHO, ICMP_TIMESTAMP) and ns.sysctl.v["net.ipv4.icmp_echo_ignore_broadcasts"])
                or t not in (ICMP_ECHO, ICMP_TIMESTAMP, ICMP_ADDRESS, ICMP_ADDRESSREPLY)):
            mib.InErrors += 1
            ns.kfree_skb(skb, SkbDropReason.INVALID_PROTO)
            return 0
        if t == ICMP_ECHOREPLY:
            reason = self._ping_rcv(skb)
        elif t in (ICMP_DEST_UNREACH, ICMP_SOURCE_QUENCH, ICMP_TIME_EXCEEDED, ICMP_PARAMETERPROB):
            reason = self._unreach(skb, t, code)
        elif t == ICMP_REDIRECT:
            reason = self._redirect(skb, code)
        elif t == ICMP_ECHO:
            reason = self._echo(skb, code)
        elif t == ICMP_TIMESTAMP:
            reason = self._timestamp(skb)
        else:
            reason = None  # icmp_discard
        if reason is None:
            ns.consume_skb(skb)
        else:
            ns.kfree_skb(skb, reason)
        return 0

    def _ping_rcv(self, skb: SkBuff) -> SkbDropReason | None:
        for fn in self.echo_reply_hooks:
            if fn(skb):
                return None
        return SkbDropReason.NO_SOCKET

    def _echo(self, skb: SkBuff, code: int) -> None:
        """icmp_echo: same code, id, sequence and data back to the sender."""
        if self.ns.sysctl.v["net.ipv4.icmp_echo_ignore_all"]:
            return None
        buf = skb.buf
        d = skb.data
        rest = _U32.unpack_from(buf, d + 4)[0]
        self._reply(skb, ICMP_ECHOREPLY, code, rest, buf[d + 8:skb.tail])
        return None

    def _timestamp(self, skb: SkBuff) -> SkbDropReason | None:
        """icmp_timestamp: originate copied, receive and transmit = ms since midnight UT."""
        buf = skb.buf
        d = skb.data
        if skb.tail - d - 8 < 4:
            self.ns.mib.icmp.InErrors += 1
            return SkbDropReason.PKT_TOO_SMALL
        now = inet_current_timestamp(self.ns)
        payload = bytes(buf[d + 8:d + 12]) + _U32.pack(now) * 2
        self._reply(skb, ICMP_TIMESTAMPREPLY, 0, _U32.unpack_from(buf, d + 4)[0], payload)
        return None

    def _unreach(self, skb: SkBuff, t: int, code: int) -> SkbDropReason | None:
        """icmp_unreach: errors go to the protocol of the quoted packet."""
        ns = self.ns
        buf = skb.buf
        d = skb.data
        q = d + 8
        if skb.tail - q < 20:
            ns.mib.icmp.InErrors += 1
            return SkbDropReason.NOT_SPECIFIED
        if buf[q] & 15 < 5:
            ns.mib.icmp.InErrors += 1
            return SkbDropReason.IP_INHDR  # mangled header
        info = 0
        qproto = buf[q + 9]
        if t == ICMP_DEST_UNREACH:
            if code & 15 == ICMP_FRAG_NEEDED:
                mode = ns.sysctl.v["net.ipv4.ip_no_pmtu_disc"]
                if mode == 2:
                    return None
                if mode == 3 and not icmp_tag_validation(ns, qproto):
                    return None
                if mode in (0, 3):
                    info = (buf[d + 6] << 8) | buf[d + 7]
            if code > NR_ICMP_UNREACH:
                return None
        elif t == ICMP_PARAMETERPROB:
            info = buf[d + 4]
        elif t == ICMP_TIME_EXCEEDED and code == ICMP_EXC_FRAGTIME:
            return None
        qdaddr = _U32.unpack_from(buf, q + 16)[0]
        if (not ns.sysctl.v["net.ipv4.icmp_ignore_bogus_error_responses"]
                and ns.fib.addr_type(qdaddr) == RTN_BROADCAST):
            return None  # a bogus response to a broadcast (check the netmasks on both ends)
        if skb.tail - q < ((buf[q] & 15) << 2) + 8:
            return None
        if t == ICMP_DEST_UNREACH and code == ICMP_FRAG_NEEDED and info:
            ns.route.update_pmtu(qdaddr, info, saddr=_U32.unpack_from(buf, q + 12)[0], tos=buf[q + 1])
        self.socket_deliver(skb, t, code, info)
        return None

    def _redirect(self, skb: SkBuff, code: int) -> SkbDropReason | None:
        """icmp_redirect: hand the new gateway to the quoted protocol (its sockets decide)."""
        ns = self.ns
        d = skb.data
        if skb.tail - d - 8 < 20:
            ns.mib.icmp.InErrors += 1
            return SkbDropReason.PKT_TOO_SMALL
        if skb.tail - d - 8 < ((skb.buf[d + 8] & 15) << 2) + 8:
            ns.mib.icmp.InErrors += 1  # icmp_socket_deliver: not the quoted header + 8 bytes
            return None
        self.socket_deliver(skb, ICMP_REDIRECT, code, _U32.unpack_from(skb.buf, d + 4)[0])
        return None

    def socket_deliver(self, skb: SkBuff, t: int, code: int, info: int) -> None:
        """icmp_socket_deliver: raw sockets of the quoted protocol, then its err_handler."""
        ip = self.ns.ip
        q = skb.data + 8
        qproto = skb.buf[q + 9]
        skb.transport_header = skb.data
        skb.data = q
        for fn in ip.raw_error:
            fn(skb, qproto, t, code, info)
        h = ip.err_handlers.get(qproto)
        if h is not None:
            h(skb, t, code, info)

    def err(self, skb: SkBuff, t: int, code: int, info: int) -> None:
        """icmp_err: an error quoting an ICMP message. Our echo replies need nothing more (the
        PMTU was learned already); anything else came from a ping/raw socket."""
        d = skb.data
        quoted_type = skb.buf[d + ((skb.buf[d] & 15) << 2)]
        if quoted_type == ICMP_ECHOREPLY:
            return
        for fn in self.error_hooks:
            if fn(skb, t, code, info):
                return


def init_icmp(ns: Namespace) -> Icmp:
    return Icmp(ns)
