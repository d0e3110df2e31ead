"""Route entries and their next hops (net/ipv4/fib_semantics.c): fib_info, fib_nh, fib_create_info.

Guarantees:
- ``create_info`` validates a route the way fib_create_info / fib_check_nh do and raises
  ``RouteError`` carrying Linux's errno and, where the kernel sets one, its extack message (what
  ``ip`` prints as ``Error: ....``): a gateway must be reachable on-link (a lookup with scope >= link),
  ``onlink`` needs an up device, a device route needs an up device, a host-scope route cannot have a
  gateway, a reject route cannot name a device or gateway, a prefsrc must be a local address.
- ``FibInfo.key()`` is what fib_find_info compares, so two routes are "the same" exactly when the
  kernel would share one fib_info (the duplicate test of ``ip route add``/``append``).
- ``sync_down_dev``/``sync_up`` set RTNH_F_DEAD / RTNH_F_LINKDOWN as fib_sync_down_dev / fib_sync_up:
  host-scope next hops (local routes) survive a plain ``down`` and die only on unregister.
- The per-next-hop PMTU exceptions (struct fib_nh_exception) live on ``FibNh.exceptions``.

Constants: route types (RTN_*), tables, scopes, protocols, next-hop flags, metric names (RTAX_*).
Only single-next-hop routes are modelled (no ``nexthop via A nexthop via B`` multipath).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from tuxnet.ipv4.devinet import (
    RT_SCOPE_HOST,
    RT_SCOPE_LINK,
    RT_SCOPE_NOWHERE,
    RT_SCOPE_UNIVERSE,
)

if TYPE_CHECKING:
    from tuxnet.drivers.netdevice import NetDevice

# include/uapi/linux/rtnetlink.h
RTN_UNSPEC = 0
RTN_UNICAST = 1
RTN_LOCAL = 2
RTN_BROADCAST = 3
RTN_ANYCAST = 4
RTN_MULTICAST = 5
RTN_BLACKHOLE = 6
RTN_UNREACHABLE = 7
RTN_PROHIBIT = 8
RTN_THROW = 9
RTN_NAT = 10
RTN_XRESOLVE = 11
RTN_NAMES = {0: "none", 1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast",
             6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat", 11: "xresolve"}

RT_TABLE_UNSPEC = 0
RT_TABLE_COMPAT = 252
RT_TABLE_DEFAULT = 253
RT_TABLE_MAIN = 254
RT_TABLE_LOCAL = 255

RTPROT_UNSPEC = 0
RTPROT_REDIRECT = 1
RTPROT_KERNEL = 2
RTPROT_BOOT = 3
RTPROT_STATIC = 4

# include/uapi/linux/rtnetlink.h RTNH_F_*
RTNH_F_DEAD = 1
RTNH_F_PERVASIVE = 2
RTNH_F_ONLINK = 4
RTNH_F_OFFLOAD = 8
RTNH_F_LINKDOWN = 16
RTNH_COMPARE_MASK = RTNH_F_DEAD | RTNH_F_LINKDOWN | RTNH_F_OFFLOAD

# RTAX_* metrics in kernel order (what ``ip route`` prints after the route, in this order)
RTAX_NAMES = ("lock", "mtu", "window", "rtt", "rttvar", "ssthresh", "cwnd", "advmss", "reordering",
              "hoplimit", "initcwnd", "features", "rto_min", "initrwnd", "quickack", "congctl",
              "fastopen_no_cookie")
RTAX_INDEX = {n: i + 1 for i, n in enumerate(RTAX_NAMES)}

# fib_props[]: (error, minimum scope) per route type (net/ipv4/fib_semantics.c)
FIB_PROPS: dict[int, tuple[int, int]] = {
    RTN_UNSPEC: (0, RT_SCOPE_NOWHERE),
    RTN_UNICAST: (0, RT_SCOPE_UNIVERSE),
    RTN_LOCAL: (0, RT_SCOPE_HOST),
    RTN_BROADCAST: (0, RT_SCOPE_LINK),
    RTN_ANYCAST: (0, RT_SCOPE_LINK),
    RTN_MULTICAST: (0, RT_SCOPE_UNIVERSE),
    RTN_BLACKHOLE: (errno.EINVAL, RT_SCOPE_UNIVERSE),
    RTN_UNREACHABLE: (errno.EHOSTUNREACH, RT_SCOPE_UNIVERSE),
    RTN_PROHIBIT: (errno.EACCES, RT_SCOPE_UNIVERSE),
    RTN_THROW: (errno.EAGAIN, RT_SCOPE_UNIVERSE),
    RTN_NAT: (errno.EINVAL, RT_SCOPE_NOWHERE),
    RTN_XRESOLVE: (errno.EINVAL, RT_SCOPE_NOWHERE),
}
FIB_ERR = {t: p[0] for t, p in FIB_PROPS.items()}

LOOPBACK_IFINDEX = 1


class RouteError(OSError):
    """A refused route or rule change: errno plus the kernel's extack message (may be empty)."""

    def __init__(self, code: int, msg: str = "") -> None:
        import os

        super().__init__(code, os.strerror(code))
        self.extack = msg


class Fnhe:
    """struct fib_nh_exception: a learned path MTU towards one destination through one next hop."""

    __slots__ = ("daddr", "pmtu", "expires", "locked")

    def __init__(self, daddr: int, pmtu: int, expires: int, locked: bool) -> None:
        self.daddr = daddr
        self.pmtu = pmtu
        self.expires = expires
        self.locked = locked


class FibNh:
    """struct fib_nh: one next hop (device, optional gateway, scope, flags)."""

    __slots__ = ("dev", "oif", "gw", "scope", "flags", "weight", "exceptions")

    def __init__(self, oif: int = 0, gw: int = 0, flags: int = 0) -> None:
        self.dev: NetDevice | None = None
        self.oif = oif
        self.gw = gw
        self.scope = RT_SCOPE_NOWHERE
        self.flags = flags
        self.weight = 1
        self.exceptions: dict[int, Fnhe] = {}

    def key(self) -> tuple[int, int, int]:
        return (self.oif, self.gw, self.flags & ~RTNH_COMPARE_MASK)


class FibInfo:
    """struct fib_info: everything about a route but its key (prefix, tos, type, table)."""

    __slots__ = ("protocol", "scope", "prefsrc", "priority", "metrics", "nh", "flags", "type", "table",
                 "dead")

    def __init__(self, *, protocol: int, scope: int, prefsrc: int, priority: int, metrics: dict[str, int],
                 nh: FibNh, flags: int, type: int, table: int) -> None:
        self.protocol = protocol
        self.scope = scope
        self.prefsrc = prefsrc
        self.priority = priority
        self.metrics = metrics
        self.nh = nh
        self.flags = flags
        self.type = type
        self.table = table
        self.dead = False

    def key(self) -> tuple[Any, ...]:
        """What fib_find_info compares (net/ipv4/fib_semantics.c fib_info_hashfn + fib_find_info)."""
        return (self.protocol, self.scope, self.prefsrc, self.priority, tuple(sorted(self.metrics.items())),
                self.flags & ~RTNH_COMPARE_MASK, self.type, self.nh.key())

    def uses_dev(self, dev: NetDevice) -> bool:
        return self.nh.dev is dev


class FibConfig:
    """struct fib_config: one ``ip route add/del`` request after parsing."""

    __slots__ = ("dst", "dst_len", "tos", "table", "type", "scope", "protocol", "priority", "prefsrc",
                 "oif", "gw", "flags", "metrics", "nlflags")

    def __init__(self, dst: int = 0, dst_len: int = 0, *, tos: int = 0, table: int = RT_TABLE_MAIN,
                 type: int = RTN_UNICAST, scope: int = RT_SCOPE_UNIVERSE, protocol: int = RTPROT_BOOT,
                 priority: int = 0, prefsrc: int = 0, oif: int = 0, gw: int = 0, flags: int = 0,
                 metrics: dict[str, int] | None = None, nlflags: int = 0) -> None:
        self.dst = dst
        self.dst_len = dst_len
        self.tos = tos
        self.table = table
        self.type = type
        self.scope = scope
        self.protocol = protocol
        self.priority = priority
        self.prefsrc = prefsrc
        self.oif = oif
        self.gw = gw
        self.flags = flags
        self.metrics = metrics or {}
        self.nlflags = nlflags


def create_info(fib: Any, cfg: FibConfig) -> FibInfo:
    """fib_create_info: validate a route and build its FibInfo (raises RouteError)."""
    ns = fib.ns
    if cfg.type not in FIB_PROPS or cfg.type in (RTN_NAT, RTN_XRESOLVE):
        raise RouteError(errno.EINVAL, "Invalid route type")
    err, min_scope = FIB_PROPS[cfg.type]
    if min_scope > cfg.scope:
        raise RouteError(errno.EINVAL, "Invalid scope")
    if cfg.flags & (RTNH_F_DEAD | RTNH_F_LINKDOWN):
        raise RouteError(errno.EINVAL, "Invalid rtm_flags - can not contain DEAD or LINKDOWN")
    nh = FibNh(cfg.oif, cfg.gw, cfg.flags & (RTNH_F_ONLINK | RTNH_F_PERVASIVE))
    fi = FibInfo(protocol=cfg.protocol, scope=cfg.scope, prefsrc=cfg.prefsrc, priority=cfg.priority,
                 metrics=dict(cfg.metrics), nh=nh, flags=cfg.flags & ~(RTNH_F_ONLINK | RTNH_F_PERVASIVE),
                 type=cfg.type, table=cfg.table)
    if err:
        if cfg.gw or cfg.oif:
            raise RouteError(errno.EINVAL, "Gateway, device and multipath can not be specified for this "
                                           "route type")
        return fi
    if cfg.scope > RT_SCOPE_HOST:
        raise RouteError(errno.EINVAL, "Invalid scope")
    if cfg.scope == RT_SCOPE_HOST:
        if cfg.gw:
            raise RouteError(errno.EINVAL, "Route with host scope can not have a gateway")
        nh.scope = RT_SCOPE_NOWHERE
        nh.dev = ns.by_index.get(cfg.oif)
        if nh.dev is None:
            raise RouteError(errno.ENODEV)
    else:
        check_nh(fib, nh, cfg.table, cfg.scope)
        if nh.flags & RTNH_F_LINKDOWN:
            fi.flags |= RTNH_F_LINKDOWN
    if fi.prefsrc and not _valid_prefsrc(fib, cfg, fi.prefsrc):
        raise RouteError(errno.EINVAL, "Invalid prefsrc address")
    return fi


def _valid_prefsrc(fib: Any, cfg: FibConfig, prefsrc: int) -> bool:
    """fib_valid_prefsrc."""
    if cfg.type != RTN_LOCAL or not cfg.dst or prefsrc != cfg.dst:
        tb_id = RT_TABLE_LOCAL if cfg.table == RT_TABLE_MAIN else cfg.table
        rc = fib.addr_type_table(prefsrc, tb_id)
        if rc != RTN_LOCAL and tb_id != RT_TABLE_LOCAL:
            rc = fib.addr_type_table(prefsrc, RT_TABLE_LOCAL)
        if rc != RTN_LOCAL:
            return False
    return True


def check_nh(fib: Any, nh: FibNh, table: int, scope: int) -> None:
    """fib_check_nh: bind the next hop to its device; raises RouteError as the kernel refuses."""
    ns = fib.ns
    if nh.gw:
        if nh.flags & RTNH_F_ONLINK:
            if scope >= RT_SCOPE_LINK:
                raise RouteError(errno.EINVAL, "Nexthop has invalid scope")
            dev = ns.by_index.get(nh.oif)
            if dev is None:
                raise RouteError(errno.ENODEV, "Nexthop device required for onlink")
            if not dev.is_up:
                raise RouteError(errno.ENETDOWN, "Nexthop device is not up")
            if fib.dev_addr_type_table(nh.gw, dev) != RTN_UNICAST:
                raise RouteError(errno.EINVAL, "Nexthop has invalid gateway")
            if not dev.carrier:
                nh.flags |= RTNH_F_LINKDOWN
            nh.dev = dev
            nh.scope = RT_SCOPE_LINK
            return
        fscope = max(scope + 1, RT_SCOPE_LINK)
        res: Any = None
        tbl = fib.tables.get(table) if table and table != RT_TABLE_MAIN else None
        if tbl is not None:
            res = tbl.lookup(nh.gw, 0, nh.oif, fscope, True)
        if tbl is None or type(res) is int:
            # on error or without a table: a full lookup (the gateway may be in the local table)
            res = fib.lookup_flow(nh.gw, 0, 0, nh.oif, LOOPBACK_IFINDEX, 0, 0, fscope, True)
        if type(res) is int:
            raise RouteError(errno.ENETUNREACH if res == errno.EAGAIN else res, "Nexthop has invalid gateway")
        fa = res
        if fa.type not in (RTN_UNICAST, RTN_LOCAL):
            raise RouteError(errno.EINVAL, "Nexthop has invalid gateway")
        rnh = fa.fi.nh
        nh.scope = fa.fi.scope
        nh.oif = rnh.oif
        nh.dev = rnh.dev
        if nh.dev is None:
            raise RouteError(errno.EINVAL, "No egress device for nexthop gateway")
        if not nh.dev.carrier:
            nh.flags |= RTNH_F_LINKDOWN
        if not nh.dev.is_up:
            raise RouteError(errno.ENETDOWN)
        return
    if nh.flags & (RTNH_F_PERVASIVE | RTNH_F_ONLINK):
        raise RouteError(errno.EINVAL, "Invalid flags for nexthop - PERVASIVE and ONLINK can not be set")
    dev = ns.by_index.get(nh.oif)
    if dev is None or dev.in_dev is None:
        raise RouteError(errno.ENODEV)
    if not dev.is_up:
        raise RouteError(errno.ENETDOWN, "Device for nexthop is not up")
    nh.dev = dev
    nh.scope = RT_SCOPE_HOST
    if not dev.carrier:
        nh.flags |= RTNH_F_LINKDOWN


def nh_match(cfg: FibConfig, fi: FibInfo) -> bool:
    """fib_nh_match for a delete request: the given fields must match (0 = any)."""
    if cfg.priority and cfg.priority != fi.priority:
        return False
    nh = fi.nh
    if cfg.oif and cfg.oif != nh.oif:
        return False
    return not (cfg.gw and cfg.gw != nh.gw)


def metrics_match(cfg: FibConfig, fi: FibInfo) -> bool:
    """fib_metrics_match: every metric given in the request equals the route's."""
    return all(fi.metrics.get(k, 0) == v for k, v in cfg.metrics.items())


def sync_down_dev(fib: Any, dev: NetDevice, event: str, force: bool) -> int:
    """fib_sync_down_dev: mark next hops through ``dev`` dead (down/unregister) or linkdown (change)."""
    scope = -1 if force else RT_SCOPE_NOWHERE
    n = 0
    for fi in fib.infos_by_dev(dev):
        nh = fi.nh
        if nh.flags & RTNH_F_DEAD:
            continue
        if nh.scope == scope:
            continue
        if event in ("down", "unregister"):
            nh.flags |= RTNH_F_DEAD | RTNH_F_LINKDOWN
            fi.flags |= RTNH_F_DEAD | RTNH_F_LINKDOWN
        else:
            nh.flags |= RTNH_F_LINKDOWN
            fi.flags |= RTNH_F_LINKDOWN
        n += 1
    return n


def sync_up(fib: Any, dev: NetDevice, nh_flags: int) -> int:
    """fib_sync_up: clear ``nh_flags`` (DEAD and/or LINKDOWN) on next hops through an up device."""
    if not dev.is_up:
        return 0
    if nh_flags & RTNH_F_DEAD and dev.carrier:
        nh_flags |= RTNH_F_LINKDOWN
    n = 0
    for fi in fib.infos_by_dev(dev):
        nh = fi.nh
        if not nh.flags & nh_flags:
            continue
        nh.flags &= ~nh_flags
        fi.flags &= ~nh_flags
        n += 1
    return n
