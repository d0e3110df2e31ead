"""IP options on the packet path (net/ipv4/ip_options.c).

Guarantees, as Linux:
- ``ip_options_compile`` validates the options of a received header in place and records where
  RR, TIMESTAMP, source route and Router Alert sit (offsets from the IP header, like ``opt->rr``).
  With a route (a received packet) it also fills the next Record Route slot with the receiving
  address (spec_dst) and a TIMESTAMP slot with the time, advancing the pointers, as
  __ip_options_compile does; an error gives the Parameter Problem pointer (``OptionError``).
  Without a packet (options a local sender asks for, ip_options_get) it advances the RR/TS pointers
  so ``ip_options_build`` fills the first slot with the sender's own address, and takes the first
  hop of a source route out of the list into ``faddr``.
- ``ip_forward_options`` overwrites the RR slot with the outgoing address and follows a source
  route hit; ``ip_options_fragment`` turns options without the copied flag into NOOPs for the
  fragments after the first (the header keeps its length); ``ip_options_echo`` builds the options
  of a reply (RR and TS carried on, a source route reversed); ``ip_options_rcv_srr`` walks a
  source route through our own addresses (only reached when accept_source_route allows it).
- Timestamps are milliseconds since midnight UT of virtual time (inet_current_timestamp).
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.ipv4.devinet import RT_SCOPE_LINK, RT_SCOPE_UNIVERSE

if TYPE_CHECKING:
    from tuxnet.netns import Namespace
    from tuxnet.skb import SkBuff

IPOPT_END = 0
IPOPT_NOOP = 1
IPOPT_RR = 7
IPOPT_TIMESTAMP = 68
IPOPT_SEC = 130
IPOPT_LSRR = 131
IPOPT_CIPSO = 134
IPOPT_SID = 136
IPOPT_SSRR = 137
IPOPT_RA = 148
IPOPT_COPY = 0x80
IPOPT_TS_TSONLY = 0
IPOPT_TS_TSANDADDR = 1
IPOPT_TS_PRESPEC = 3

_U32 = struct.Struct("!I")
_MS_PER_DAY = 86_400_000


class OptionError(Exception):
    """A malformed option: ``pointer`` is the byte offset from the IP header for ICMP 12/0."""

    def __init__(self, pointer: int) -> None:
        super().__init__(pointer)
        self.pointer = pointer


class IpOpt:
    """struct ip_options: where the options of one header sit and what is left to fill."""

    __slots__ = ("optlen", "srr", "rr", "ts", "router_alert", "cipso", "is_strictroute", "srr_is_hit",
                 "is_changed", "rr_needaddr", "ts_needtime", "ts_needaddr", "faddr", "nexthop", "data")

    def __init__(self, optlen: int = 0) -> None:
        self.optlen = optlen
        self.srr = self.rr = self.ts = self.router_alert = self.cipso = 0
        self.is_strictroute = self.srr_is_hit = self.is_changed = False
        self.rr_needaddr = self.ts_needtime = self.ts_needaddr = False
        self.faddr = 0
        self.nexthop = 0
        self.data = bytearray()  # the option bytes for a locally built header (opt->__data)


def inet_current_timestamp(ns: Namespace) -> int:
    """Milliseconds since midnight UT, in virtual time."""
    return (ns.loop.now_ns // 1_000_000) % _MS_PER_DAY


def fib_compute_spec_dst(ns: Namespace, skb: SkBuff) -> int:
    """fib_compute_spec_dst: our address as seen by the packet's sender (the source of a reply)."""
    from tuxnet.ipv4.route import RTCF_BROADCAST, RTCF_LOCAL, RTCF_MULTICAST

    rt = skb.dst
    nh = skb.network_header
    if rt is not None and (rt.flags & (RTCF_BROADCAST | RTCF_MULTICAST | RTCF_LOCAL)) == RTCF_LOCAL:
        return _U32.unpack_from(skb.buf, nh + 16)[0]
    saddr = _U32.unpack_from(skb.buf, nh + 12)[0]
    scope = RT_SCOPE_UNIVERSE
    if saddr & 0xFF000000:
        try:
            src = ns.route.output(saddr).src  # the preferred source of the route back
        except OSError:
            src = 0
        if src:
            return src
    else:
        scope = RT_SCOPE_LINK
    return ns.devinet.select_addr(skb.dev, saddr, scope)


def ip_rt_get_source(ns: Namespace, skb: SkBuff, rt: Any) -> int:
    """ip_rt_get_source: the address we use on the packet's outgoing route."""
    nh = skb.network_header
    if not rt.is_input:  # an output route: our own source address
        return _U32.unpack_from(skb.buf, nh + 12)[0]
    daddr = _U32.unpack_from(skb.buf, nh + 16)[0]
    return ns.devinet.select_addr(rt.dev, rt.nexthop(daddr), RT_SCOPE_UNIVERSE)


def ip_options_compile(ns: Namespace, buf: bytearray, base: int, optlen: int,
                       skb: SkBuff | None) -> IpOpt:
    """__ip_options_compile over ``buf[base+20 : base+20+optlen]``; ``base`` is the IP header.

    ``skb`` is the received packet (its options are filled in as Linux does) or None for options
    a local sender supplies (then ``buf`` holds them after a 20-byte gap, as opt->__data does).
    Raises ``OptionError`` with the Parameter Problem pointer.
    """
    opt = IpOpt(optlen)
    rt = skb.dst if skb is not None else None
    p = base + 20
    end = p + optlen
    spec_dst = 0
    while p < end:
        t = buf[p]
        if t == IPOPT_END:
            for q in range(p + 1, end):
                if buf[q] != IPOPT_END:
                    buf[q] = IPOPT_END
                    opt.is_changed = True
            break
        if t == IPOPT_NOOP:
            p += 1
            continue
        left = end - p
        if left < 2:
            raise OptionError(p - base)
        ol = buf[p + 1]
        if ol < 2 or ol > left:
            raise OptionError(p - base)
        if t in (IPOPT_SSRR, IPOPT_LSRR):
            if ol < 3:
                raise OptionError(p + 1 - base)
            if buf[p + 2] < 4:
                raise OptionError(p + 2 - base)
            if opt.srr:
                raise OptionError(p - base)  # RFC 1812 5.2.4.1: one source route only
            if skb is None:
                if buf[p + 2] != 4 or ol < 7 or (ol - 3) & 3:
                    raise OptionError(p + 1 - base)
                opt.faddr = _U32.unpack_from(buf, p + 3)[0]
                if ol > 7:
                    buf[p + 3:p + ol - 4] = buf[p + 7:p + ol]
            opt.is_strictroute = t == IPOPT_SSRR
            opt.srr = p - base
        elif t == IPOPT_RR:
            if opt.rr:
                raise OptionError(p - base)
            if ol < 3:
                raise OptionError(p + 1 - base)
            ptr = buf[p + 2]
            if ptr < 4:
                raise OptionError(p + 2 - base)
            if ptr <= ol:
                if ptr + 3 > ol:
                    raise OptionError(p + 2 - base)
                if rt is not None:
                    spec_dst = spec_dst or fib_compute_spec_dst(ns, skb)  # type: ignore[arg-type]
                    _U32.pack_into(buf, p + ptr - 1, spec_dst)
                    opt.is_changed = True
                buf[p + 2] = ptr + 4
                opt.rr_needaddr = True
            opt.rr = p - base
        elif t == IPOPT_TIMESTAMP:
            if opt.ts:
                raise OptionError(p - base)
            if ol < 4:
                raise OptionError(p + 1 - base)
            ptr = buf[p + 2]
            if ptr < 5:
                raise OptionError(p + 2 - base)
            flag = buf[p + 3] & 0xF
            if ptr <= ol:
                timeptr = -1
                if ptr + 3 > ol:
                    raise OptionError(p + 2 - base)
                if flag == IPOPT_TS_TSONLY:
                    if skb is not None:
                        timeptr = p + ptr - 1
                    opt.ts_needtime = True
                    buf[p + 2] = ptr + 4
                elif flag == IPOPT_TS_TSANDADDR:
                    if ptr + 7 > ol:
                        raise OptionError(p + 2 - base)
                    if rt is not None:
                        spec_dst = spec_dst or fib_compute_spec_dst(ns, skb)  # type: ignore[arg-type]
                        _U32.pack_into(buf, p + ptr - 1, spec_dst)
                        timeptr = p + ptr + 3
                    opt.ts_needaddr = opt.ts_needtime = True
                    buf[p + 2] = ptr + 8
                elif flag == IPOPT_TS_PRESPEC:
                    if ptr + 7 > ol:
                        raise OptionError(p + 2 - base)
                    from tuxnet.ipv4.fib import RTN_UNICAST

                    if ns.fib.addr_type(_U32.unpack_from(buf, p + ptr - 1)[0]) != RTN_UNICAST:
                        if skb is not None:
                            timeptr = p + ptr + 3
                        opt.ts_needtime = True
                        buf[p + 2] = ptr + 8
                # other flags: accepted unchanged from the network (root may set them locally)
                if timeptr >= 0:
                    _U32.pack_into(buf, timeptr, inet_current_timestamp(ns))
                    opt.is_changed = True
            elif flag != IPOPT_TS_PRESPEC:
                overflow = buf[p + 3] >> 4
                if overflow == 15:
                    raise OptionError(p + 3 - base)
                if skb is not None:
                    buf[p + 3] = flag | ((overflow + 1) << 4)
                    opt.is_changed = True
            opt.ts = p - base
        elif t == IPOPT_RA:
            if ol < 4:
                raise OptionError(p + 1 - base)
            if buf[p + 2] == 0 and buf[p + 3] == 0:
                opt.router_alert = p - base
        elif t == IPOPT_CIPSO:
            if opt.cipso:
                raise OptionError(p - base)
            opt.cipso = p - base
        # SEC, SID and unknown options pass untouched
        p += ol
    return opt


def ip_options_get(ns: Namespace, raw: bytes) -> IpOpt:
    """ip_options_get: compile options a local sender supplies (padded to a multiple of 4)."""
    n = (len(raw) + 3) & ~3
    if n > 40:
        raise oserror(errno.EINVAL, "IP options longer than 40 bytes")
    buf = bytearray(20) + bytes(raw) + bytes(n - len(raw))
    try:
        opt = ip_options_compile(ns, buf, 0, n, None)
    except OptionError:
        raise oserror(errno.EINVAL, "malformed IP options") from None
    opt.data = buf[20:]
    return opt


def ip_options_build(ns: Namespace, skb: SkBuff, opt: IpOpt, daddr: int, rt: Any) -> None:
    """ip_options_build: write ``opt`` into the header at skb.network_header and fill its slots."""
    buf = skb.buf
    nh = skb.network_header
    buf[nh + 20:nh + 20 + opt.optlen] = opt.data
    if opt.srr:
        _U32.pack_into(buf, nh + opt.srr + buf[nh + opt.srr + 1] - 4, daddr)
    if opt.rr_needaddr:
        _U32.pack_into(buf, nh + opt.rr + buf[nh + opt.rr + 2] - 5, ip_rt_get_source(ns, skb, rt))
    if opt.ts_needaddr:
        _U32.pack_into(buf, nh + opt.ts + buf[nh + opt.ts + 2] - 9, ip_rt_get_source(ns, skb, rt))
    if opt.ts_needtime:
        _U32.pack_into(buf, nh + opt.ts + buf[nh + opt.ts + 2] - 5, inet_current_timestamp(ns))


def ip_options_echo(ns: Namespace, skb: SkBuff, sopt: IpOpt | None) -> IpOpt | None:
    """__ip_options_echo: the options of a reply to ``skb`` (None when it carried none).

    Returns None too when the received options cannot be echoed (Linux then sends no reply).
    """
    empty = IpOpt()
    if sopt is None or not sopt.optlen:
        return empty
    buf = skb.buf
    nh = skb.network_header
    d = bytearray()
    dopt = IpOpt()
    if sopt.rr:
        ol = buf[nh + sopt.rr + 1]
        so = buf[nh + sopt.rr + 2]
        dopt.rr = len(d) + 20
        start = len(d)
        d += buf[nh + sopt.rr:nh + sopt.rr + ol]
        if sopt.rr_needaddr and so <= ol:
            if so + 3 > ol:
                return None
            d[start + 2] = so + 4
            dopt.rr_needaddr = True
    if sopt.ts:
        ol = buf[nh + sopt.ts + 1]
        so = buf[nh + sopt.ts + 2]
        dopt.ts = len(d) + 20
        start = len(d)
        d += buf[nh + sopt.ts:nh + sopt.ts + ol]
        if so <= ol:
            if sopt.ts_needaddr:
                if so + 3 > ol:
                    return None
                dopt.ts_needaddr = True
                so += 4
            if sopt.ts_needtime:
                if so + 3 > ol:
                    return None
                if d[start + 3] & 0xF != IPOPT_TS_PRESPEC:
                    dopt.ts_needtime = True
                    so += 4
                elif so + 7 <= ol:
                    from tuxnet.ipv4.fib import RTN_UNICAST

                    if ns.fib.addr_type(_U32.unpack_from(d, start + so - 1)[0]) != RTN_UNICAST:
                        dopt.ts_needtime = True
                        so += 8
            d[start + 2] = so
    if sopt.srr:
        s = nh + sopt.srr
        ol = buf[s + 1]
        so = buf[s + 2]
        if so > ol:
            so = ol + 1
        so -= 4
        hops: list[bytes] = []
        faddr = 0
        doffset = 0
        if so > 3:
            faddr = _U32.unpack_from(buf, s + so - 1)[0]
            so -= 4
            doffset = 4
            while so > 3:
                hops.append(bytes(buf[s + so - 1:s + so + 3]))
                so -= 4
                doffset += 4
            # RFC 1812 requires to fix illegal source routes (the sender listed itself)
            if buf[nh + 12:nh + 16] == buf[s + so + 3:s + so + 7]:
                doffset -= 4
                hops = hops[:max(0, (doffset - 4) // 4)]
        if doffset > 3:
            dopt.faddr = faddr
            dopt.srr = len(d) + 20
            dopt.is_strictroute = sopt.is_strictroute
            # the last slot is filled with the reply's destination by ip_options_build
            d += bytes((buf[s], doffset + 3, 4)) + b"".join(hops) + bytes(4)
    while len(d) & 3:
        d.append(IPOPT_END)
    dopt.optlen = len(d)
    dopt.data = d
    return dopt


def ip_forward_options(ns: Namespace, skb: SkBuff, opt: IpOpt) -> None:
    """ip_forward_options: record our outgoing address and follow a source route hit."""
    buf = skb.buf
    nh = skb.network_header
    rt = skb.dst
    if opt.rr_needaddr:
        o = nh + opt.rr
        _U32.pack_into(buf, o + buf[o + 2] - 5, ip_rt_get_source(ns, skb, rt))
        opt.is_changed = True
    if opt.srr_is_hit:
        o = nh + opt.srr
        srrptr = buf[o + 2]
        srrspace = buf[o + 1]
        while srrptr <= srrspace:
            if srrptr + 3 > srrspace:
                break
            if _U32.unpack_from(buf, o + srrptr - 1)[0] == opt.nexthop:
                break
            srrptr += 4
        if srrptr + 3 <= srrspace:
            opt.is_changed = True
            _U32.pack_into(buf, nh + 16, opt.nexthop)
            _U32.pack_into(buf, o + srrptr - 1, ip_rt_get_source(ns, skb, rt))
            buf[o + 2] = srrptr + 4
        if opt.ts_needaddr:
            t = nh + opt.ts
            _U32.pack_into(buf, t + buf[t + 2] - 9, ip_rt_get_source(ns, skb, rt))
            opt.is_changed = True
    if opt.is_changed:
        opt.is_changed = False
        ip_send_check(buf, nh)


def ip_options_fragment(buf: bytearray, nh: int) -> None:
    """ip_options_fragment: NOOP out options without the copied flag (fragments after the first)."""
    p = nh + 20
    end = nh + ((buf[nh] & 15) << 2)
    while p < end:
        t = buf[p]
        if t == IPOPT_END:
            return
        if t == IPOPT_NOOP:
            p += 1
            continue
        ol = buf[p + 1] if p + 1 < end else 0
        if ol < 2 or ol > end - p:
            return
        if not t & IPOPT_COPY:
            buf[p:p + ol] = bytes((IPOPT_NOOP,)) * ol
        p += ol


def ip_send_check(buf: bytearray, nh: int) -> None:
    """ip_send_check: recompute the header checksum in place."""
    hl = (buf[nh] & 15) << 2
    buf[nh + 10] = buf[nh + 11] = 0
    s = int.from_bytes(buf[nh:nh + hl], "big") % 0xFFFF
    # the words sum to 0 mod 0xFFFF exactly when their ones-complement sum is 0xFFFF
    c = ~s & 0xFFFF if s else 0
    buf[nh + 10] = c >> 8
    buf[nh + 11] = c & 0xFF


def ip_options_rcv_srr(ns: Namespace, skb: SkBuff, opt: IpOpt, dev: Any) -> bool:
    """ip_options_rcv_srr: follow a source route through our own addresses; False = drop."""
    from tuxnet.ipv4.fib import RTN_LOCAL, RTN_UNICAST
    from tuxnet.ipv4.route import RouteInputError
    from tuxnet.skb import PacketType

    rt = skb.dst
    if rt is None:
        return True
    if skb.pkt_type != PacketType.HOST:
        return False
    if rt.rt_type == RTN_UNICAST:
        if not opt.is_strictroute:
            return True
        ns.icmp.send(skb, 12, 0, 16 << 24)
        return False
    if rt.rt_type != RTN_LOCAL:
        return False
    buf = skb.buf
    nh = skb.network_header
    o = nh + opt.srr
    srrptr = buf[o + 2]
    srrspace = buf[o + 1]
    saddr = _U32.unpack_from(buf, nh + 12)[0]
    tos = buf[nh + 1]
    nexthop = 0
    while srrptr <= srrspace:
        if srrptr + 3 > srrspace:
            ns.icmp.send(skb, 12, 0, (opt.srr + 2) << 24)
            return False
        nexthop = _U32.unpack_from(buf, o + srrptr - 1)[0]
        try:
            rt2 = ns.route.input(skb, nexthop, saddr, tos, dev)
        except RouteInputError:
            skb.dst = rt
            return False
        if rt2.rt_type not in (RTN_UNICAST, RTN_LOCAL):
            skb.dst = rt
            return False
        skb.dst = rt2
        if rt2.rt_type != RTN_LOCAL:
            break
        # "superfast loopback forward": the next hop is us too
        _U32.pack_into(buf, nh + 16, nexthop)
        opt.is_changed = True
        srrptr += 4
    if srrptr <= srrspace:
        opt.srr_is_hit = True
        opt.nexthop = nexthop
        opt.is_changed = True
    return True
