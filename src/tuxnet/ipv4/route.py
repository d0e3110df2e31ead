"""IPv4 route lookups for packets (net/ipv4/route.c): ``ns.route.output`` and ``ns.route.input``.

Guarantees:
- ``output`` is ip_route_output_key_hash_rcu: a given source must be one of our addresses
  (ENETUNREACH; multicast/broadcast/zero sources EINVAL), an ``oif`` must exist (ENODEV) and be up
  (ENETUNREACH), limited broadcast and link-local multicast go straight out of ``oif``, a missing
  route with an ``oif`` is taken as on-link, local destinations go through ``lo``, and the source
  address is the route's prefsrc or inet_select_addr's choice. Reject routes raise their errno:
  unreachable EHOSTUNREACH, prohibit EACCES, blackhole EINVAL, no route ENETUNREACH.
- ``input`` is ip_route_input_slow: martian sources and destinations are refused with their drop
  reason and no ICMP; broadcast and local destinations are delivered (source validated by
  fib_validate_source: accept_local, rp_filter strict/loose); others are forwarded only when the
  input device forwards (else EHOSTUNREACH), with RTCF_DOREDIRECT when the packet leaves by the device
  it came in on towards a directly connected source (send_redirects). A failed lookup raises
  ``RouteInputError`` with the ICMP that ip_error sends (net 3/0, host 3/1, filtered 3/13, none for
  blackhole or when not forwarding) and counts InNoRoutes / InAddrErrors as ip_error does.
- ``update_pmtu`` records a path-MTU exception on the route's next hop (fib_nh_exception) that
  expires after ``net.ipv4.route.mtu_expires`` seconds of virtual time; MTUs below
  ``route.min_pmtu`` are raised to it and locked. ``Rtable.mtu`` is the exception, else the route's
  ``mtu`` metric, else the device MTU.
- Lookups are cached per namespace and flow key; the cache is tied to ``ns.fib.genid`` (every route,
  rule, address and device change bumps it) and, for input, to the sysctls the decision reads.
"""

from __future__ import annotations

import errno
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.core.trace import SkbDropReason
from tuxnet.ipv4.devinet import RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE
from tuxnet.ipv4.fib_semantics import (
    LOOPBACK_IFINDEX,
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RTN_BROADCAST,
    RTN_LOCAL,
    RTN_MULTICAST,
    RTN_UNICAST,
    RTN_UNREACHABLE,
    FibNh,
    Fnhe,
)

if TYPE_CHECKING:
    from tuxnet.drivers.netdevice import NetDevice
    from tuxnet.ipv4.fib_trie import FibAlias
    from tuxnet.netns import Namespace
    from tuxnet.skb import SkBuff

# include/uapi/linux/in_route.h
RTCF_NOTIFY = 0x00010000
RTCF_DIRECTDST = 0x00020000
RTCF_REDIRECTED = 0x00040000
RTCF_TPROXY = 0x00080000
RTCF_FAST = 0x00200000
RTCF_MASQ = 0x00400000
RTCF_SNAT = 0x00800000
RTCF_DOREDIRECT = 0x01000000
RTCF_DIRECTSRC = 0x04000000
RTCF_DNAT = 0x08000000
RTCF_BROADCAST = 0x10000000
RTCF_MULTICAST = 0x20000000
RTCF_REJECT = 0x40000000
RTCF_LOCAL = 0x80000000
# the order iproute2's print_cache_flags names them
RTCF_NAMES = ((RTCF_LOCAL, "local"), (RTCF_REJECT, "reject"), (RTCF_MULTICAST, "mc"),
              (RTCF_BROADCAST, "brd"), (RTCF_DNAT, "dst-nat"), (RTCF_SNAT, "src-nat"), (RTCF_MASQ, "masq"),
              (RTCF_DIRECTDST, "dst-direct"), (RTCF_DIRECTSRC, "src-direct"), (RTCF_REDIRECTED, "redirected"),
              (RTCF_DOREDIRECT, "redirect"), (RTCF_FAST, "fastroute"), (RTCF_NOTIFY, "notify"),
              (RTCF_TPROXY, "tproxy"))

IP_MAX_MTU = 0xFFF0
IGMP_ALL_HOSTS = 0xE0000001
NSEC_PER_SEC = 1_000_000_000
NUD_INCOMPLETE = 0x01
NUD_REACHABLE = 0x02
NUD_VALID = 0x80 | 0x40 | 0x02 | 0x10 | 0x04 | 0x08
_CACHE_MAX = 8192
# per-device sysctls an input decision reads (the input cache is keyed on their values)
_INPUT_CONF = ("forwarding", "rp_filter", "accept_local", "send_redirects", "shared_media", "route_localnet",
               "src_valid_mark")


class RouteInputError(Exception):
    """ip_route_input refused the packet: drop it with ``reason``; send ``icmp`` (type, code) if set.

    ``errno`` is what ``ip route get ... iif DEV`` reports for the same lookup."""

    def __init__(self, reason: SkbDropReason, icmp: tuple[int, int] | None = None,
                 err: int = errno.EINVAL) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.icmp = icmp
        self.errno = err


class Rtable:
    """struct rtable: the result of a route lookup, attached to a packet as ``skb.dst``."""

    __slots__ = ("rt_type", "dev", "gateway", "src", "flags", "iif", "table", "error", "is_local",
                 "is_forward", "metrics", "tos", "daddr", "nh", "ns", "is_input", "prefixlen", "orig_oif")

    def __init__(self, ns: Namespace, rt_type: int, dev: NetDevice, flags: int, daddr: int) -> None:
        self.ns = ns
        self.rt_type = rt_type
        self.dev = dev
        self.flags = flags
        self.daddr = daddr
        self.gateway = 0
        self.src = 0
        self.iif = 0
        self.table = 0  # the table the lookup matched in (0: none, e.g. limited broadcast)
        self.error = 0
        self.is_local = False
        self.is_forward = False
        self.is_input = False
        self.metrics: dict[str, int] = {}
        self.tos = 0
        self.nh: FibNh | None = None
        self.prefixlen = 32
        self.orig_oif = 0

    def nexthop(self, daddr: int) -> int:
        """rt_nexthop: the gateway, or the destination itself when on-link."""
        return self.gateway or daddr

    def exception(self) -> Fnhe | None:
        """The live PMTU exception for this destination (find_exception; expired ones are removed)."""
        nh = self.nh
        if nh is None or not nh.exceptions:
            return None
        fnhe = nh.exceptions.get(self.daddr)
        if fnhe is not None and self.ns.now >= fnhe.expires:
            del nh.exceptions[self.daddr]
            return None
        return fnhe

    @property
    def mtu(self) -> int:
        """ipv4_mtu: learned PMTU, else the ``mtu`` metric, else the device MTU."""
        fnhe = self.exception()
        mtu = fnhe.pmtu if fnhe is not None else 0
        if not mtu:
            mtu = self.metrics.get("mtu", 0)
        if not mtu:
            mtu = self.dev.mtu
            if self.metrics.get("lock", 0) & 2 and self.gateway and mtu > 576:
                mtu = 576  # ip_mtu_locked: a locked mtu metric of 0 through a gateway
        return min(mtu, IP_MAX_MTU)

    @property
    def uses_gateway(self) -> bool:
        return bool(self.gateway)

    def __repr__(self) -> str:
        from tuxnet.wire.addr import ip_ntoa

        gw = f" via {ip_ntoa(self.gateway)}" if self.gateway else ""
        return f"<Rtable type={self.rt_type}{gw} dev={self.dev.name} flags=0x{self.flags:x}>"


def _src_reason(v: int) -> SkbDropReason:
    """fib_validate_source_reason: EXDEV is the rp_filter, anything else a bad (local) source."""
    return SkbDropReason.IP_RPFILTER if v == -errno.EXDEV else SkbDropReason.IP_LOCAL_SOURCE


class _Martian(Exception):
    def __init__(self, reason: SkbDropReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class Route:
    """Per-namespace route lookups (``ns.route``)."""

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.fib = ns.fib
        self._out_cache: dict[tuple[int, ...], Rtable] = {}
        self._in_cache: dict[tuple[Any, ...], Any] = {}
        self._cache_gen = -1
        self._conf_keys: dict[str, Any] = {}
        # multicast groups joined per device (ip_check_mc_rcu); all-hosts is always joined
        self.mc_groups: dict[int, set[int]] = {}

    # ------------------------------------------------------------------ helpers
    def _conf_or(self, dev: NetDevice, key: str) -> bool:
        v = self.ns.sysctl.v
        return bool(v.get(f"net.ipv4.conf.all.{key}", 0) or v.get(f"net.ipv4.conf.{dev.name}.{key}", 0))

    def _conf(self, dev: NetDevice, key: str) -> int:
        return self.ns.sysctl.v.get(f"net.ipv4.conf.{dev.name}.{key}", 0)  # type: ignore[return-value]

    def _rp_filter(self, dev: NetDevice) -> int:
        v = self.ns.sysctl.v
        return max(v.get("net.ipv4.conf.all.rp_filter", 0),  # type: ignore[type-var]
                   v.get(f"net.ipv4.conf.{dev.name}.rp_filter", 0))

    def mc_check(self, dev: NetDevice, group: int) -> bool:
        """ip_check_mc_rcu: has ``dev`` joined ``group``."""
        if group == IGMP_ALL_HOSTS:
            # ip_mc_up joins all-hosts on every IPv4 device that comes up; ip_mc_down leaves it
            return dev.in_dev is not None and dev.is_up
        g = self.mc_groups.get(dev.ifindex)
        return g is not None and group in g

    def mc_join(self, dev: NetDevice, group: int) -> None:
        self.mc_groups.setdefault(dev.ifindex, set()).add(group)
        self.fib.flush_cache()

    def mc_leave(self, dev: NetDevice, group: int) -> None:
        self.mc_groups.get(dev.ifindex, set()).discard(group)
        self.fib.flush_cache()

    def ip_dev_find(self, addr: int) -> NetDevice | None:
        """__ip_dev_find: the device holding local address ``addr`` (or a local-table route to it)."""
        ifa = self.ns.devinet.ifa_for_local(addr)
        if ifa is not None:
            return ifa.dev
        r = self.fib.local.lookup(addr, 0, 0, RT_SCOPE_UNIVERSE)
        if type(r) is not int and r.type == RTN_LOCAL:
            return r.fi.nh.dev
        return None

    def _check_cache(self) -> None:
        if self._cache_gen != self.fib.genid or len(self._out_cache) > _CACHE_MAX or len(
                self._in_cache) > _CACHE_MAX:
            self._out_cache.clear()
            self._in_cache.clear()
            self._cache_gen = self.fib.genid

    # ------------------------------------------------------------------ output
    def output(self, daddr: int, saddr: int = 0, tos: int = 0, oif: int = 0, mark: int = 0,
               uid: int = 0) -> Rtable:
        """ip_route_output_key: the route for a locally generated packet (raises OSError)."""
        if self._cache_gen != self.fib.genid:
            self._check_cache()
        key = (daddr, saddr, tos, oif, mark, uid)
        rt = self._out_cache.get(key)
        if rt is not None:
            return rt
        rt = self.output_slow(daddr, saddr, tos, oif, mark, uid)
        if (daddr & 0xF0000000) != 0xE0000000 and (saddr & 0xFF000000) != 0x7F000000:
            self._check_cache()
            self._out_cache[key] = rt
        return rt

    def output_slow(self, daddr: int, saddr: int = 0, tos: int = 0, oif: int = 0, mark: int = 0,
                    uid: int = 0) -> Rtable:
        """ip_route_output_key_hash_rcu, uncached."""
        ns = self.ns
        tos &= 0xFC
        orig_oif = oif
        flags = 0
        dev_out: NetDevice | None = None
        res: FibAlias | None = None
        rtype = RTN_UNICAST
        if saddr:
            if (saddr & 0xF0000000) == 0xE0000000 or saddr == 0xFFFFFFFF or not saddr & 0xFF000000:
                raise oserror(errno.EINVAL)
            if not oif and ((daddr & 0xF0000000) == 0xE0000000 or daddr == 0xFFFFFFFF):
                dev_out = self.ip_dev_find(saddr)
                if dev_out is None:
                    raise oserror(errno.ENETUNREACH)
                # "special hack": multicast and limited broadcast leave by the source's device
                return self._mkroute_output(None, daddr, saddr, tos, orig_oif, dev_out, flags, rtype)
            if self.ip_dev_find(saddr) is None:
                raise oserror(errno.ENETUNREACH)
        if oif:
            dev_out = ns.by_index.get(oif)
            if dev_out is None:
                raise oserror(errno.ENODEV)
            if not dev_out.is_up or dev_out.in_dev is None:
                raise oserror(errno.ENETUNREACH)
            if (daddr & 0xFFFFFF00) == 0xE0000000 or daddr == 0xFFFFFFFF:
                if not saddr:
                    saddr = ns.devinet.select_addr(dev_out, 0, RT_SCOPE_LINK)
                return self._mkroute_output(None, daddr, saddr, tos, orig_oif, dev_out, flags, rtype)
            if not saddr:
                if (daddr & 0xF0000000) == 0xE0000000:
                    saddr = ns.devinet.select_addr(dev_out, 0, RT_SCOPE_UNIVERSE)
                elif not daddr:
                    saddr = ns.devinet.select_addr(dev_out, 0, RT_SCOPE_HOST)
        if not daddr:
            daddr = saddr
            if not daddr:
                daddr = saddr = 0x7F000001
            return self._mkroute_output(None, daddr, saddr, tos, orig_oif, ns.lo, RTCF_LOCAL, RTN_LOCAL)
        r = self.fib.lookup_flow(daddr, saddr, tos, oif, LOOPBACK_IFINDEX, mark, uid)
        if type(r) is int:
            if oif:
                # "Apparently, routing tables are wrong. Assume, that the destination is on link."
                if not saddr:
                    saddr = ns.devinet.select_addr(dev_out, 0, RT_SCOPE_LINK)
                return self._mkroute_output(None, daddr, saddr, tos, orig_oif, dev_out, flags, RTN_UNICAST)
            raise oserror(r)
        res = r
        fi = res.fi
        if res.type == RTN_LOCAL:
            if not saddr:
                saddr = fi.prefsrc or daddr
            orig_oif = fi.nh.oif
            return self._mkroute_output(res, daddr, saddr, tos, orig_oif, ns.lo, RTCF_LOCAL, RTN_LOCAL)
        if not oif and res.plen == 0 and res.type == RTN_UNICAST:
            tb = self.fib.tables.get(res.table)
            if tb is not None and tb.num_default > 1:
                res = self._select_default(res, tos)
                fi = res.fi
        if not saddr:
            saddr = self.result_prefsrc(res)
        dev_out = fi.nh.dev
        assert dev_out is not None
        return self._mkroute_output(res, daddr, saddr, tos, orig_oif, dev_out, flags, res.type)

    def result_prefsrc(self, res: FibAlias) -> int:
        """fib_result_prefsrc: the route's src, else inet_select_addr(nh dev, gateway, route scope)."""
        fi = res.fi
        if fi.prefsrc:
            return fi.prefsrc
        return self.ns.devinet.select_addr(fi.nh.dev, fi.nh.gw, fi.scope)

    def _mkroute_output(self, res: FibAlias | None, daddr: int, saddr: int, tos: int, orig_oif: int,
                        dev_out: NetDevice, flags: int, rtype: int) -> Rtable:
        """__mkroute_output."""
        if dev_out.in_dev is None:
            raise oserror(errno.EINVAL)
        if (saddr & 0xFF000000) == 0x7F000000 and not dev_out.flags & 0x8 and not self._conf_or(
                dev_out, "route_localnet"):
            raise oserror(errno.EINVAL)
        if daddr == 0xFFFFFFFF:
            rtype = RTN_BROADCAST
        elif (daddr & 0xF0000000) == 0xE0000000:
            rtype = RTN_MULTICAST
        elif not daddr & 0xFF000000:
            raise oserror(errno.EINVAL)
        if dev_out.flags & 0x8:
            flags |= RTCF_LOCAL
        fi = res.fi if res is not None else None
        if rtype == RTN_BROADCAST:
            flags |= RTCF_BROADCAST | RTCF_LOCAL
            fi = None
        elif rtype == RTN_MULTICAST:
            flags |= RTCF_MULTICAST | RTCF_LOCAL
            if not self.mc_check(dev_out, daddr):
                flags &= ~RTCF_LOCAL
            if fi is not None and res is not None and res.plen < 4:
                fi = None  # no gateway for multicast through a default route
        rt = Rtable(self.ns, rtype, dev_out, flags, daddr)
        rt.src = saddr
        rt.orig_oif = orig_oif
        rt.is_local = bool(flags & RTCF_LOCAL)
        if res is not None:
            rt.table = self._res_table(res)
            rt.tos = res.tos
            rt.prefixlen = res.plen
        if fi is not None:
            nh = fi.nh
            if nh.gw and nh.scope == RT_SCOPE_LINK:
                rt.gateway = nh.gw
            rt.metrics = fi.metrics
            rt.nh = nh
        return rt

    def _res_table(self, res: FibAlias) -> int:
        """res->table->tb_id: while local and main are merged (no custom rule yet) both are main."""
        if res.table == RT_TABLE_LOCAL and not self.fib.has_custom_rules:
            return RT_TABLE_MAIN
        return res.table

    def _select_default(self, res: FibAlias, tos: int) -> FibAlias:
        """fib_select_default: among equal default routes, skip gateways whose neighbour is dead."""
        tb = self.fib.tables[res.table]
        lst = tb.by_plen.get(0, {}).get(0, [])
        first: FibAlias | None = None
        fi_fa: FibAlias | None = None
        order = -1
        last_idx = -1
        last_resort: list[FibAlias | None] = [None]
        last_prio = res.fi.priority
        last_tos = 0
        for fa in lst:
            nfi = fa.fi
            if fa.tos and fa.tos != tos & 0x1C:
                continue
            if nfi.priority > last_prio and fa.tos == last_tos:
                if last_tos:
                    continue
                break
            if nfi.flags & 1:
                continue
            last_tos = fa.tos
            last_prio = nfi.priority
            if nfi.scope != res.fi.scope or fa.type != RTN_UNICAST:
                continue
            if not nfi.nh.gw or nfi.nh.scope != RT_SCOPE_LINK:
                continue
            if fi_fa is None:
                if fa is not res:
                    break
                first = fa
            else:
                alive, last_idx = self._detect_death(fi_fa, order, last_resort, last_idx, tb.tb_default)
                if alive:
                    tb.tb_default = order
                    return fi_fa
            fi_fa = fa
            order += 1
        if order <= 0 or fi_fa is None:
            if first is not None:
                tb.tb_default = -1
            return res
        alive, last_idx = self._detect_death(fi_fa, order, last_resort, last_idx, tb.tb_default)
        if alive:
            tb.tb_default = order
            return fi_fa
        tb.tb_default = last_idx
        if last_idx >= 0 and last_resort[0] is not None:
            return last_resort[0]
        return res

    def _detect_death(self, fa: FibAlias, order: int, last_resort: list[FibAlias | None], last_idx: int,
                      dflt: int) -> tuple[bool, int]:
        """fib_detect_death: (alive, last_idx)."""
        state = self._neigh_state(fa.fi.nh.gw, fa.fi.nh.dev)
        if state is None:
            return True, last_idx
        if state == NUD_REACHABLE:
            return True, last_idx
        if state & NUD_VALID and order != dflt:
            return True, last_idx
        if state & NUD_VALID or (last_idx < 0 and order > dflt and state != NUD_INCOMPLETE):
            last_resort[0] = fa
            last_idx = order
        return False, last_idx

    def _neigh_state(self, ip: int, dev: Any) -> int | None:
        arp = getattr(self.ns, "arp", None)
        if arp is None or not hasattr(arp, "entries"):
            return None
        for e in arp.entries():
            if e.ip == ip and e.dev is dev:
                return int(e.state)
        return None

    # ------------------------------------------------------------------ input
    def input(self, skb: SkBuff, daddr: int, saddr: int, tos: int, dev: NetDevice) -> Rtable:
        """ip_route_input_noref: the route for a received packet; raises RouteInputError."""
        if self._cache_gen != self.fib.genid:
            self._check_cache()
        name = dev.name
        getter = self._conf_keys.get(name)
        if getter is None:
            getter = self._conf_keys[name] = itemgetter(*(f"net.ipv4.conf.{s}.{k}" for s in ("all", name)
                                                          for k in _INPUT_CONF))
        try:
            snap = getter(self.ns.sysctl.v)
        except KeyError:  # a device without its conf tree: never cached
            snap = None
        key = (daddr, saddr, tos, dev.ifindex, skb.mark, snap)
        res = self._in_cache.get(key)
        if res is None:
            try:
                res = self.input_slow(daddr, saddr, tos, dev, skb.mark)
            except _Martian as m:
                res = RouteInputError(m.reason, None, errno.EINVAL)
            if snap is not None:
                self._check_cache()
                self._in_cache[key] = res
        if type(res) is Rtable:
            if not res.error:
                return res
            raise self._ip_error(res, dev)
        if res.reason is SkbDropReason.IP_RPFILTER:
            self.ns.mib.tcpext.IPReversePathFilter += 1
        raise res

    def _ip_error(self, rt: Rtable, dev: NetDevice) -> RouteInputError:
        """ip_error: what to do with a packet that hit an unreachable input route."""
        mib = self.ns.mib.ip
        err = rt.error
        if not self._conf(dev, "forwarding"):
            if err == errno.EHOSTUNREACH:
                mib.InAddrErrors += 1
                return RouteInputError(SkbDropReason.IP_INADDRERRORS, None, err)
            if err == errno.ENETUNREACH:
                self.ns.mib.ipext.InNoRoutes += 1
                return RouteInputError(SkbDropReason.IP_INNOROUTES, None, err)
            return RouteInputError(SkbDropReason.NOT_SPECIFIED, None, err)
        if err == errno.EHOSTUNREACH:
            return RouteInputError(SkbDropReason.UNREACHABLE_ROUTE, (3, 1), err)
        if err == errno.ENETUNREACH:
            self.ns.mib.ipext.InNoRoutes += 1
            return RouteInputError(SkbDropReason.IP_INNOROUTES, (3, 0), err)
        if err == errno.EACCES:
            return RouteInputError(SkbDropReason.UNREACHABLE_ROUTE, (3, 13), err)
        reason = SkbDropReason.BLACKHOLE if err == errno.EINVAL else SkbDropReason.NOT_SPECIFIED
        return RouteInputError(reason, None, err)

    def input_slow(self, daddr: int, saddr: int, tos: int, dev: NetDevice, mark: int = 0) -> Rtable:
        """ip_route_input_rcu / ip_route_input_slow, uncached: an Rtable (``error`` set for an
        unreachable result) or ``_Martian``."""
        tos &= 0xFC
        if (daddr & 0xF0000000) == 0xE0000000:
            return self._input_mc(daddr, saddr, tos, dev)
        if dev.in_dev is None:
            raise _Martian(SkbDropReason.NOT_SPECIFIED)
        if (saddr & 0xF0000000) == 0xE0000000 or saddr == 0xFFFFFFFF:
            raise _Martian(SkbDropReason.IP_INVALID_SOURCE)
        res: FibAlias | None = None
        err = 0
        if daddr == 0xFFFFFFFF or (saddr == 0 and daddr == 0):
            return self._brd_input(None, daddr, saddr, tos, dev, mark)
        if not saddr & 0xFF000000:
            raise _Martian(SkbDropReason.IP_INVALID_SOURCE)
        if not daddr & 0xFF000000:
            raise _Martian(SkbDropReason.IP_INVALID_DEST)
        if ((daddr & 0xFF000000) == 0x7F000000 or (saddr & 0xFF000000) == 0x7F000000) and not self._conf_or(
                dev, "route_localnet"):
            raise _Martian(SkbDropReason.IP_LOCALNET)
        forwarding = self._conf(dev, "forwarding")
        r = self.fib.lookup_flow(daddr, saddr, tos, 0, dev.ifindex, mark, 0)
        if type(r) is int:
            err = r if forwarding else errno.EHOSTUNREACH
            return self._local_input(None, daddr, saddr, dev, 0, RTN_UNREACHABLE, err)
        res = r
        if res.type == RTN_BROADCAST:
            return self._brd_input(res, daddr, saddr, tos, dev, mark)
        if res.type == RTN_LOCAL:
            v = self.validate_source(saddr, daddr, tos, 0, dev, mark)
            if v < 0:
                raise _Martian(_src_reason(v))
            return self._local_input(res, daddr, saddr, dev, 0, RTN_LOCAL, 0)
        if not forwarding:
            return self._local_input(None, daddr, saddr, dev, 0, RTN_UNREACHABLE, errno.EHOSTUNREACH)
        if res.type != RTN_UNICAST:
            raise _Martian(SkbDropReason.IP_INVALID_DEST)
        return self._mkroute_input(res, daddr, saddr, tos, dev, mark)

    def _brd_input(self, res: FibAlias | None, daddr: int, saddr: int, tos: int, dev: NetDevice,
                   mark: int) -> Rtable:
        if saddr & 0xFF000000:
            v = self.validate_source(saddr, 0, tos, 0, dev, mark)
            if v < 0:
                raise _Martian(_src_reason(v))
        return self._local_input(res, daddr, saddr, dev, RTCF_BROADCAST, RTN_BROADCAST, 0)

    def _local_input(self, res: FibAlias | None, daddr: int, saddr: int, dev: NetDevice, flags: int,
                     rtype: int, err: int) -> Rtable:
        rt = Rtable(self.ns, rtype, self.ns.lo, flags | RTCF_LOCAL, daddr)
        rt.is_input = True
        rt.iif = dev.ifindex
        rt.src = saddr
        if res is not None:
            rt.table = self._res_table(res)
            rt.tos = res.tos
            rt.prefixlen = res.plen
        if rtype == RTN_UNREACHABLE:
            rt.error = err
            rt.flags &= ~RTCF_LOCAL
        else:
            rt.is_local = True
        return rt

    def _mkroute_input(self, res: FibAlias, daddr: int, saddr: int, tos: int, dev: NetDevice,
                       mark: int) -> Rtable:
        """__mkroute_input: a forwarding route."""
        nh = res.fi.nh
        out_dev = nh.dev
        assert out_dev is not None
        if out_dev.in_dev is None:
            raise _Martian(SkbDropReason.NOT_SPECIFIED)
        v = self.validate_source(saddr, daddr, tos, nh.oif, dev, mark)
        if v < 0:
            raise _Martian(_src_reason(v))
        flags = 0
        if out_dev is dev and v > 0 and self._conf_or(out_dev, "send_redirects") and (
                self._conf_or(out_dev, "shared_media") or self._addr_onlink(out_dev, saddr, nh.gw)):
            flags |= RTCF_DOREDIRECT
        rt = Rtable(self.ns, res.type, out_dev, flags, daddr)
        rt.is_input = True
        rt.is_forward = True
        rt.iif = dev.ifindex
        rt.src = saddr
        rt.table = self._res_table(res)
        rt.tos = res.tos
        rt.prefixlen = res.plen
        if nh.gw and nh.scope == RT_SCOPE_LINK:
            rt.gateway = nh.gw
        rt.metrics = res.fi.metrics
        rt.nh = nh
        return rt

    @staticmethod
    def _addr_onlink(dev: NetDevice, a: int, b: int) -> bool:
        """inet_addr_onlink."""
        return any(ifa.match(a) and (not b or ifa.match(b)) for ifa in dev.in_dev.ifa_list)

    def _input_mc(self, daddr: int, saddr: int, tos: int, dev: NetDevice) -> Rtable:
        """ip_route_input_mc (no multicast forwarding: groups we have not joined are refused)."""
        if dev.in_dev is None or not self.mc_check(dev, daddr):
            raise _Martian(SkbDropReason.IP_INVALID_DEST)
        if (saddr & 0xF0000000) == 0xE0000000 or saddr == 0xFFFFFFFF:
            raise _Martian(SkbDropReason.IP_INVALID_SOURCE)
        if (saddr & 0xFF000000) == 0x7F000000 and not self._conf_or(dev, "route_localnet"):
            raise _Martian(SkbDropReason.IP_LOCALNET)
        if not saddr & 0xFF000000:
            if (daddr & 0xFFFFFF00) != 0xE0000000:
                raise _Martian(SkbDropReason.IP_INVALID_SOURCE)
        else:
            v = self.validate_source(saddr, 0, tos, 0, dev, 0)
            if v < 0:
                raise _Martian(_src_reason(v))
        rt = Rtable(self.ns, RTN_MULTICAST, self.ns.lo, RTCF_MULTICAST | RTCF_LOCAL, daddr)
        rt.is_input = True
        rt.is_local = True
        rt.iif = dev.ifindex
        rt.src = saddr
        return rt

    def validate_source(self, src: int, dst: int, tos: int, oif: int, dev: NetDevice, mark: int) -> int:
        """fib_validate_source: <0 is -errno (EINVAL martian, EXDEV rp_filter), else 0 or 1 (1: the
        source is directly connected through ``dev``)."""
        rpf = self._rp_filter(dev)
        fib = self.fib
        if not rpf and (dev.ifindex != oif or not self._conf_or(dev, "send_redirects")):
            if self._conf_or(dev, "accept_local"):
                return 0
            if not (fib.has_custom_local_routes or fib.has_custom_rules):
                if self.ns.devinet.ifa_for_local(src) is not None:
                    return -errno.EINVAL
                return 0
        accept_local = self._conf_or(dev, "accept_local")
        iif = oif or LOOPBACK_IFINDEX
        fmark = mark if self._conf_or(dev, "src_valid_mark") else 0
        no_addr = not dev.in_dev.ifa_list
        r = fib.lookup_flow(src, dst, tos, 0, iif, fmark, 0)
        if type(r) is int:
            return -errno.EXDEV if rpf else 0
        if r.type != RTN_UNICAST and (r.type != RTN_LOCAL or not accept_local):
            return -errno.EINVAL
        nh = r.fi.nh
        if nh.dev is dev or (r.type == RTN_LOCAL and dev is self.ns.lo):
            return 1 if nh.scope >= RT_SCOPE_HOST else 0
        if no_addr:
            return -errno.EXDEV if rpf else 0
        if rpf == 1:
            return -errno.EXDEV
        r = fib.lookup_flow(src, dst, tos, dev.ifindex, iif, fmark, 0, RT_SCOPE_UNIVERSE, True)
        if type(r) is not int and r.type == RTN_UNICAST:
            return 1 if r.fi.nh.scope >= RT_SCOPE_HOST else 0
        return 0

    # ------------------------------------------------------------------ PMTU
    def update_pmtu(self, daddr: int, mtu: int, *, saddr: int = 0, oif: int = 0, mark: int = 0,
                    tos: int = 0) -> None:
        """__ip_rt_update_pmtu: learn a smaller path MTU towards ``daddr`` (ICMP frag needed)."""
        try:
            rt = self.output_slow(daddr, saddr, tos, oif, mark)
        except OSError:
            return
        if rt.nh is None:
            return
        if rt.metrics.get("lock", 0) & 2:  # dst_metric_locked(RTAX_MTU)
            return
        old = rt.mtu
        if old < mtu:
            return
        v = self.ns.sysctl.v
        lock = False
        min_pmtu = int(v["net.ipv4.route.min_pmtu"])  # type: ignore[call-overload]
        expires_s = int(v["net.ipv4.route.mtu_expires"])  # type: ignore[call-overload]
        if mtu < min_pmtu:
            lock = True
            mtu = min(old, min_pmtu)
        now = self.ns.now
        fnhe = rt.exception()
        if (fnhe is not None and fnhe.pmtu == mtu and not lock
                and now < fnhe.expires - expires_s * NSEC_PER_SEC // 2):
            return
        rt.nh.exceptions[daddr] = Fnhe(daddr, mtu, now + expires_s * NSEC_PER_SEC, lock)
        self.fib.flush_cache()

    def exceptions(self) -> list[tuple[FibNh, Fnhe]]:
        """Live PMTU exceptions (``ip route show cache``)."""
        out = []
        now = self.ns.now
        for fi in {id(fa.fi): fa.fi for fa in self.fib.all_aliases()}.values():
            for fnhe in list(fi.nh.exceptions.values()):
                if now < fnhe.expires:
                    out.append((fi.nh, fnhe))
        return out


def init_route(ns: Namespace) -> Route:
    return Route(ns)


__all__ = ["Route", "Rtable", "RouteInputError", "init_route", "RTCF_LOCAL", "RTCF_BROADCAST",
           "RTCF_MULTICAST", "RTCF_DOREDIRECT", "RTCF_NAMES", "RT_SCOPE_LINK"]
