"""The IPv4 FIB of one namespace (net/ipv4/fib_frontend.c): tables, route changes, address routes.

``ns.fib`` owns the routing tables (local 255, main 254, default 253, others created on demand by
``ip route add ... table N``), the policy rules (``ns.fib.rules``, tuxnet.ipv4.rules) and the routes
the kernel itself keeps in step with addresses and devices:

- fib_add_ifaddr: an address adds ``local ADDR`` (table local, scope host, src = its primary), and
  while its device is up the subnet broadcast (for prefixes shorter than /31), an explicit ``brd``
  address, and the prefix route in main (``proto kernel scope link src ADDR``; none for a /32 whose
  prefix is the address itself, for a secondary, or with ``noprefixroute``; a ``local`` prefix route
  on loopback). Modern kernels add no network-address (``x.x.x.0``) broadcast route.
- fib_del_ifaddr removes what no remaining address still needs; deleting the last address of a
  device kills every route through it (fib_disable_ip with force).
- Device down: next hops through it die (host-scope local routes survive) and dead routes are
  flushed; device up: address routes come back. Carrier loss marks routes ``linkdown``.
- ``lookup_flow`` is fib_lookup: while no custom rule was ever added, local and main are searched
  as one merged table, then default when nothing matched there (EAGAIN); afterwards through the
  rules (fib_rules_lookup).

Every change bumps ``genid`` (rt_cache_flush), which invalidates ``ns.route``'s route cache.
Errors are ``RouteError`` (an OSError with Linux's errno and the kernel's extack text).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from tuxnet.ipv4.devinet import (
    IFA_F_NOPREFIXROUTE,
    IFA_F_SECONDARY,
    RT_SCOPE_HOST,
    RT_SCOPE_LINK,
    RT_SCOPE_NOWHERE,
    RT_SCOPE_UNIVERSE,
    InIfaddr,
)
from tuxnet.ipv4.fib_semantics import (
    FIB_PROPS,
    LOOPBACK_IFINDEX,
    RT_TABLE_DEFAULT,
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RT_TABLE_UNSPEC,
    RTN_ANYCAST,
    RTN_BLACKHOLE,
    RTN_BROADCAST,
    RTN_LOCAL,
    RTN_MULTICAST,
    RTN_NAMES,
    RTN_PROHIBIT,
    RTN_THROW,
    RTN_UNICAST,
    RTN_UNREACHABLE,
    RTN_UNSPEC,
    RTNH_F_DEAD,
    RTNH_F_LINKDOWN,
    RTNH_F_ONLINK,
    RTPROT_BOOT,
    RTPROT_KERNEL,
    RTPROT_STATIC,
    FibConfig,
    FibInfo,
    RouteError,
    create_info,
    sync_down_dev,
    sync_up,
)
from tuxnet.ipv4.fib_trie import (
    NLM_F_APPEND,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REPLACE,
    FibAlias,
    FibTable,
    lookup_merged,
)

if TYPE_CHECKING:
    from tuxnet.drivers.netdevice import NetDevice
    from tuxnet.netns import Namespace

__all__ = [
    "RTN_UNSPEC", "RTN_UNICAST", "RTN_LOCAL", "RTN_BROADCAST", "RTN_ANYCAST", "RTN_MULTICAST",
    "RTN_BLACKHOLE", "RTN_UNREACHABLE", "RTN_PROHIBIT", "RTN_THROW", "RTN_NAMES",
    "RT_TABLE_UNSPEC", "RT_TABLE_DEFAULT", "RT_TABLE_MAIN", "RT_TABLE_LOCAL",
    "RTPROT_KERNEL", "RTPROT_BOOT", "RTPROT_STATIC", "RTNH_F_DEAD", "RTNH_F_LINKDOWN", "RTNH_F_ONLINK",
    "NLM_F_APPEND", "NLM_F_CREATE", "NLM_F_EXCL", "NLM_F_REPLACE",
    "Fib", "FibAlias", "FibConfig", "FibInfo", "FibTable", "RouteError", "init_fib",
]

IFF_LOOPBACK = 0x8


class Fib:
    """Per-namespace FIB (``ns.fib``)."""

    def __init__(self, ns: Namespace) -> None:
        from tuxnet.ipv4.rules import FibRules

        self.ns = ns
        self.tables: dict[int, FibTable] = {}
        self.local = self.new_table(RT_TABLE_LOCAL)
        self.main = self.new_table(RT_TABLE_MAIN)
        self.default = self.new_table(RT_TABLE_DEFAULT)
        self._merged = [self.local, self.main]
        self.genid = 0
        self.has_custom_rules = False  # net->ipv4.fib_has_custom_rules: never cleared, as Linux
        self.has_custom_local_routes = False
        self.ever_up: set[int] = set()  # ifindexes of devices brought up at least once (``ip link``)
        self.rules = FibRules(self)
        ns.netdev_notifier.append(self._netdev_event)
        ns.inetaddr_notifier.append(self._inetaddr_event)

    # ------------------------------------------------------------------ tables
    def new_table(self, table_id: int) -> FibTable:
        """fib_new_table: the table, created on first use."""
        if table_id == RT_TABLE_UNSPEC:
            table_id = RT_TABLE_MAIN
        tb = self.tables.get(table_id)
        if tb is None:
            tb = self.tables[table_id] = FibTable(table_id, self)
        return tb

    def get_table(self, table_id: int) -> FibTable | None:
        return self.tables.get(RT_TABLE_MAIN if table_id == RT_TABLE_UNSPEC else table_id)

    def table_changed(self, tb: FibTable, fa: FibAlias, removed: bool) -> None:
        self.genid += 1

    def flush_cache(self) -> None:
        """rt_cache_flush: every cached route lookup is stale."""
        self.genid += 1

    def all_aliases(self) -> list[FibAlias]:
        return [fa for tb in self.tables.values() for fa in tb.aliases()]

    def infos_by_dev(self, dev: NetDevice) -> list[FibInfo]:
        return [fa.fi for tb in self.tables.values() for lst in _lists(tb) for fa in lst
                if fa.fi.nh.dev is dev]

    def flush_dead(self) -> int:
        """fib_flush."""
        n = 0
        for tb in list(self.tables.values()):
            n += tb.flush_dead()
        if n:
            self.flush_cache()
        return n

    # ------------------------------------------------------------------ lookups
    def lookup_flow(self, daddr: int, saddr: int, tos: int, oif: int, iif: int, mark: int, uid: int = 0,
                    scope: int = RT_SCOPE_UNIVERSE, ignore_linkstate: bool = False) -> FibAlias | int:
        """fib_lookup: the matching route alias, or an errno (ENETUNREACH, EHOSTUNREACH, EACCES,
        EINVAL). Without custom rules local+main are one merged table, then default is tried."""
        if not self.has_custom_rules:
            r = lookup_merged(self._merged, daddr, tos, oif, scope, ignore_linkstate)
            if type(r) is not int or r != errno.EAGAIN:
                return r
            r = self.default.lookup(daddr, tos, oif, scope, ignore_linkstate)
            if type(r) is int and r == errno.EAGAIN:
                return errno.ENETUNREACH
            return r
        return self.rules.lookup(daddr, saddr, tos, oif, iif, mark, uid, scope, ignore_linkstate)

    def addr_type_table(self, addr: int, tb_id: int, dev: NetDevice | None = None) -> int:
        """__inet_dev_addr_type: the route type of ``addr`` in one table (RTN_UNICAST if unknown)."""
        if addr == 0 or addr == 0xFFFFFFFF or (addr & 0xFF000000) == 0:
            return RTN_BROADCAST
        if (addr & 0xF0000000) == 0xE0000000:
            return RTN_MULTICAST
        tb = self.tables.get(tb_id)
        if tb is None:
            return RTN_BROADCAST
        if tb_id in (RT_TABLE_LOCAL, RT_TABLE_MAIN) and not self.has_custom_rules:
            # merged local/main: the local table sees main's routes too (fib_trie alias table)
            r = lookup_merged(self._merged, addr, 0, 0, RT_SCOPE_UNIVERSE)
        else:
            r = tb.lookup(addr, 0, 0, RT_SCOPE_UNIVERSE)
        if type(r) is int:
            return RTN_UNICAST
        if dev is None or dev is r.fi.nh.dev:
            return r.type
        return RTN_UNICAST

    def addr_type(self, addr: int, dev: NetDevice | None = None) -> int:
        """inet_addr_type / inet_dev_addr_type: RTN_LOCAL for our own addresses, and so on."""
        return self.addr_type_table(addr, RT_TABLE_LOCAL, dev)

    def dev_addr_type_table(self, addr: int, dev: NetDevice) -> int:
        """inet_addr_type_dev_table: the device only picks the table (l3mdev); the lookup itself
        is not limited to it (__inet_dev_addr_type is called with dev NULL)."""
        return self.addr_type_table(addr, RT_TABLE_LOCAL, None)

    # ------------------------------------------------------------------ route changes
    def check_config(self, cfg: FibConfig) -> None:
        """rtm_to_fib_config / fib_table_insert's early checks."""
        if not 0 <= cfg.dst_len <= 32:
            raise RouteError(errno.EINVAL)
        if cfg.dst_len < 32 and cfg.dst & ~((0xFFFFFFFF << (32 - cfg.dst_len)) & 0xFFFFFFFF):
            raise RouteError(errno.EINVAL, "Invalid prefix for given prefix length")
        if cfg.tos & 3:
            raise RouteError(errno.EINVAL, "Invalid dsfield (tos): ECN bits must be 0")
        if cfg.oif and cfg.oif not in self.ns.by_index:
            raise RouteError(errno.ENODEV)

    def add_route(self, cfg: FibConfig) -> FibAlias | None:
        """inet_rtm_newroute: ``ip route add|append|prepend|replace|change``."""
        self.check_config(cfg)
        tb = self.new_table(cfg.table) if cfg.nlflags & NLM_F_CREATE else self.get_table(cfg.table)
        if tb is None:
            raise RouteError(errno.ESRCH)
        fi = create_info(self, cfg)
        fa = tb.insert(cfg, fi)
        if cfg.type == RTN_LOCAL:
            self.has_custom_local_routes = True
        return fa

    def del_route(self, cfg: FibConfig) -> FibAlias:
        """inet_rtm_delroute: ``ip route del``."""
        self.check_config(cfg)
        tb = self.get_table(cfg.table)
        if tb is None:
            raise RouteError(errno.ESRCH, "FIB table does not exist")
        return tb.delete(cfg)

    def _magic(self, add: bool, rtype: int, dst: int, plen: int, prim: InIfaddr, priority: int = 0) -> None:
        """fib_magic: the kernel's own route changes for an address (errors are ignored)."""
        table = RT_TABLE_MAIN if rtype == RTN_UNICAST else RT_TABLE_LOCAL
        cfg = FibConfig(dst, plen, table=table, type=rtype, protocol=RTPROT_KERNEL,
                        scope=RT_SCOPE_HOST if rtype == RTN_LOCAL else RT_SCOPE_LINK,
                        priority=priority, prefsrc=prim.local, oif=prim.dev.ifindex,
                        nlflags=NLM_F_CREATE | NLM_F_APPEND)
        tb = self.new_table(table)
        try:
            if add:
                tb.insert(cfg, create_info(self, cfg))
            else:
                tb.delete(cfg)
        except RouteError:
            pass

    # ------------------------------------------------------------------ address routes
    def add_ifaddr(self, ifa: InIfaddr) -> None:
        """fib_add_ifaddr."""
        dev = ifa.dev
        prim = ifa
        mask = ifa.mask
        addr = ifa.local
        prefix = ifa.address & mask
        if ifa.flags & IFA_F_SECONDARY:
            p = _ifa_byprefix(dev, prefix, mask)
            if p is None:
                return
            prim = p
        self._magic(True, RTN_LOCAL, addr, 32, prim)
        if not dev.is_up:
            return
        if ifa.broadcast and ifa.broadcast != 0xFFFFFFFF:
            self._magic(True, RTN_BROADCAST, ifa.broadcast, 32, prim)
        ptype = RTN_LOCAL if dev.flags & IFF_LOOPBACK else RTN_UNICAST
        secondary = ifa.flags & IFA_F_SECONDARY
        if (prefix & 0xFF000000) and not secondary and (prefix != addr or ifa.prefixlen < 32):
            if not ifa.flags & IFA_F_NOPREFIXROUTE:
                self._magic(True, ptype, prefix, ifa.prefixlen, prim, ifa.metric)
            if ifa.prefixlen < 31:
                self._magic(True, RTN_BROADCAST, prefix | (~mask & 0xFFFFFFFF), 32, prim)

    def del_ifaddr(self, ifa: InIfaddr, iprim: InIfaddr | None = None) -> None:
        """fib_del_ifaddr: remove the address's routes that no remaining address still needs."""
        dev = ifa.dev
        in_dev = dev.in_dev
        prim = ifa
        mask = ifa.mask
        brd = ifa.address | (~mask & 0xFFFFFFFF)
        any_ = ifa.address & mask
        LOCAL_OK, BRD_OK, BRD0_OK, BRD1_OK = 1, 2, 4, 8
        ok = 0
        subnet = False
        gone = True
        same_prefsrc = False
        if ifa.flags & IFA_F_SECONDARY:
            p = _ifa_byprefix(dev, any_, mask)
            if p is None:
                # the primary went first (tuxnet's devinet order): drop the secondary's local route
                self._del_local_any(ifa)
                return
            prim = p
        elif (any_ & 0xFF000000) and (any_ != ifa.local or ifa.prefixlen < 32):
            if not ifa.flags & IFA_F_NOPREFIXROUTE:
                ptype = RTN_LOCAL if dev.flags & IFF_LOOPBACK else RTN_UNICAST
                self._magic(False, ptype, any_, ifa.prefixlen, prim)
            subnet = True
        prim1: InIfaddr | None = None
        for ifa1 in (in_dev.ifa_list if in_dev is not None else []):
            if ifa1 is ifa:
                gone = False
                continue
            if iprim is not None and ifa1.mask == iprim.mask and iprim.match(ifa1.address):
                continue
            if ifa1.flags & IFA_F_SECONDARY:
                if ifa1.mask == prim.mask and prim.match(ifa1.address):
                    prim1 = prim
                else:
                    if not same_prefsrc:
                        continue
                    if prim1 is None or ifa1.mask != prim1.mask or not prim1.match(ifa1.address):
                        prim1 = _ifa_byprefix(dev, ifa1.address & ifa1.mask, ifa1.mask)
                    if prim1 is None or prim1.local != prim.local:
                        continue
            else:
                if prim.local != ifa1.local:
                    continue
                prim1 = ifa1
                if prim is not prim1:
                    same_prefsrc = True
            if ifa.local == ifa1.local:
                ok |= LOCAL_OK
            if ifa.broadcast == ifa1.broadcast:
                ok |= BRD_OK
            if brd == ifa1.broadcast:
                ok |= BRD1_OK
            if any_ == ifa1.broadcast:
                ok |= BRD0_OK
            if prim1 is ifa1 and ifa1.prefixlen < 31:
                brd1 = ifa1.address | (~ifa1.mask & 0xFFFFFFFF)
                any1 = ifa1.address & ifa1.mask
                if any1 & 0xFF000000:
                    if ifa.broadcast in (brd1, any1):
                        ok |= BRD_OK
                    if brd in (brd1, any1):
                        ok |= BRD1_OK
                    if any_ in (brd1, any1):
                        ok |= BRD0_OK
        if not ok & BRD_OK:
            self._magic(False, RTN_BROADCAST, ifa.broadcast, 32, prim)
        if subnet and ifa.prefixlen < 31:
            if not ok & BRD1_OK:
                self._magic(False, RTN_BROADCAST, brd, 32, prim)
            if not ok & BRD0_OK:
                self._magic(False, RTN_BROADCAST, any_, 32, prim)
        if not ok & LOCAL_OK:
            self._magic(False, RTN_LOCAL, ifa.local, 32, prim)
            # stray routes whose prefsrc was this address go too
            if (gone and self.dev_addr_type_table(ifa.local, dev) != RTN_LOCAL
                    and self._sync_down_addr(ifa.local)):
                self.flush_dead()

    def _del_local_any(self, ifa: InIfaddr) -> None:
        cfg = FibConfig(ifa.local, 32, table=RT_TABLE_LOCAL, type=RTN_LOCAL, protocol=RTPROT_KERNEL,
                        scope=RT_SCOPE_HOST, oif=ifa.dev.ifindex)
        try:
            self.local.delete(cfg)
        except RouteError:
            pass

    def _sync_down_addr(self, local: int) -> int:
        """fib_sync_down_addr: routes whose preferred source was this address die."""
        n = 0
        for tb in self.tables.values():
            for lst in _lists(tb):
                for fa in lst:
                    if fa.fi.prefsrc == local and not fa.fi.flags & RTNH_F_DEAD:
                        fa.fi.flags |= RTNH_F_DEAD
                        n += 1
        return n

    def disable_ip(self, dev: NetDevice, event: str, force: bool) -> None:
        """fib_disable_ip."""
        sync_down_dev(self, dev, event, force)
        self.flush_dead()
        self.flush_cache()

    # ------------------------------------------------------------------ notifiers
    def _inetaddr_event(self, event: str, ifa: InIfaddr) -> None:
        """fib_inetaddr_event."""
        if event == "add":
            self.add_ifaddr(ifa)
            if ifa.dev.is_up:
                sync_up(self, ifa.dev, RTNH_F_DEAD)
        elif event == "del":
            self.del_ifaddr(ifa)
            in_dev = ifa.dev.in_dev
            if in_dev is not None and not in_dev.ifa_list:
                self.disable_ip(ifa.dev, "down", True)
        self.flush_cache()

    def _netdev_event(self, event: str, dev: NetDevice) -> None:
        """fib_netdev_event."""
        if event == "register":
            self.rules.dev_event(event, dev)
        elif event == "unregister":
            self.ever_up.discard(dev.ifindex)
            self.disable_ip(dev, "unregister", True)
            self.rules.dev_event(event, dev)
        elif event == "up":
            self.ever_up.add(dev.ifindex)
            if dev.in_dev is not None:
                for ifa in list(dev.in_dev.ifa_list):
                    self.add_ifaddr(ifa)
            sync_up(self, dev, RTNH_F_DEAD)
        elif event == "down":
            self.disable_ip(dev, "down", False)
        elif event == "change":
            if dev.is_up and dev.carrier:
                sync_up(self, dev, RTNH_F_LINKDOWN)
            else:
                sync_down_dev(self, dev, "change", False)
        elif event == "mtu":
            self._sync_mtu(dev)
        elif event == "rename":
            self.rules.dev_event(event, dev)
        self.flush_cache()

    def _sync_mtu(self, dev: NetDevice) -> None:
        """fib_sync_mtu / fib_nhc_update_mtu: learned PMTUs above the new device MTU shrink."""
        for fi in self.infos_by_dev(dev):
            for fnhe in fi.nh.exceptions.values():
                if fnhe.pmtu > dev.mtu and not fnhe.locked:
                    fnhe.pmtu = dev.mtu


def _lists(tb: FibTable) -> list[list[FibAlias]]:
    return [lst for d in tb.by_plen.values() for lst in d.values()]


def _ifa_byprefix(dev: NetDevice, prefix: int, mask: int) -> InIfaddr | None:
    """inet_ifa_byprefix: the primary address of this subnet on the device."""
    if dev.in_dev is None:
        return None
    for ifa in dev.in_dev.ifa_list:
        if not ifa.flags & IFA_F_SECONDARY and ifa.mask == mask and (ifa.address & mask) == prefix:
            return ifa
    return None


def init_fib(ns: Namespace) -> Fib:
    return Fib(ns)


# re-exported for the tools and the route layer
FIB_SCOPES = (RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST, RT_SCOPE_NOWHERE)
TYPE_ERRORS = {t: p[0] for t, p in FIB_PROPS.items()}
LO_IFINDEX = LOOPBACK_IFINDEX
