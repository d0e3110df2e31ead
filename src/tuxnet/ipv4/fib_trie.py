"""One routing table (net/ipv4/fib_trie.c): longest-prefix match over route aliases.

Storage is one dict per prefix length, ``{prefix: [FibAlias, ...]}``, visited from the longest
length present to the shortest: for Python this beats walking an LC-trie node by node, and it gives
exactly the trie's answer, backtracking included (a prefix whose aliases are all unusable falls
through to the next shorter one).

Guarantees, as fib_table_insert / fib_table_lookup / fib_table_delete:
- Aliases of one prefix are ordered by tos descending, then priority (metric) ascending; ``append``
  puts a route after its equals, ``prepend`` and plain add before them.
- ``add`` (NLM_F_EXCL) refuses any route with the same prefix, tos and priority (EEXIST);
  ``append``/``prepend`` refuse only an identical one; ``replace`` swaps the first equal;
  ``change`` (no NLM_F_CREATE) fails with ENOENT when nothing is there.
- A lookup skips aliases whose tos does not match (route tos == flow tos & 0x1c, as
  fib_dscp_masked_match), whose scope is narrower than asked, and whose next hop is dead, has the
  wrong oif, or is linkdown where ``ignore_routes_with_linkdown`` is set. A reject type (blackhole,
  unreachable, prohibit, throw) ends the lookup with its error (throw: EAGAIN, "try the next rule").
- Delete matches tos exactly and, where given, type, scope, prefsrc, protocol, device, gateway,
  priority and metrics (fib_nh_match), first match wins; nothing found is ESRCH.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import Any

from tuxnet.ipv4.fib_semantics import (
    FIB_ERR,
    RT_SCOPE_NOWHERE,
    RTNH_F_DEAD,
    RTNH_F_LINKDOWN,
    FibConfig,
    FibInfo,
    RouteError,
    metrics_match,
    nh_match,
)

# include/uapi/linux/netlink.h
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_APPEND = 0x800

# INET_DSCP_LEGACY_TOS_MASK: only these bits of a flow's tos select a tos-specific route
TOS_MATCH_MASK = 0x1C

_MASKS = tuple((0xFFFFFFFF << (32 - p)) & 0xFFFFFFFF for p in range(33))


class FibAlias:
    """struct fib_alias: the key part of a route (prefix, tos, type, table) and its FibInfo."""

    __slots__ = ("dst", "plen", "tos", "type", "fi", "table")

    def __init__(self, dst: int, plen: int, tos: int, type: int, fi: FibInfo, table: int) -> None:
        self.dst = dst
        self.plen = plen
        self.tos = tos
        self.type = type
        self.fi = fi
        self.table = table

    @property
    def scope(self) -> int:
        return self.fi.scope

    @property
    def nh(self) -> Any:
        return self.fi.nh

    def __repr__(self) -> str:
        from tuxnet.wire.addr import ip_ntoa

        return f"<FibAlias {ip_ntoa(self.dst)}/{self.plen} type={self.type} table={self.table}>"


class FibTable:
    """struct fib_table: one routing table (``ip route show table ID``)."""

    __slots__ = ("id", "by_plen", "levels", "num_default", "tb_default", "fib")

    def __init__(self, table_id: int, fib: Any = None) -> None:
        self.id = table_id
        self.fib = fib
        self.by_plen: dict[int, dict[int, list[FibAlias]]] = {}
        # (plen, mask, dict) from the longest prefix to the shortest: the lookup walk
        self.levels: list[tuple[int, int, dict[int, list[FibAlias]]]] = []
        self.num_default = 0
        self.tb_default = -1

    def _relevel(self) -> None:
        self.levels = [(p, _MASKS[p], self.by_plen[p]) for p in sorted(self.by_plen, reverse=True)]

    def __len__(self) -> int:
        return sum(len(lst) for d in self.by_plen.values() for lst in d.values())

    # ------------------------------------------------------------------ lookup
    def lookup(self, daddr: int, tos: int, oif: int, scope: int, ignore_linkstate: bool = False
               ) -> FibAlias | int:
        """fib_table_lookup: the matching alias, or an errno (EAGAIN: nothing here / throw)."""
        ftos = tos & TOS_MATCH_MASK
        for _plen, mask, d in self.levels:
            lst = d.get(daddr & mask)
            if lst is None:
                continue
            for fa in lst:
                r = check_alias(fa, ftos, oif, scope, ignore_linkstate)
                if r is not None:
                    return r
        return errno.EAGAIN

    # ------------------------------------------------------------------ changes
    def insert(self, cfg: FibConfig, fi: FibInfo) -> FibAlias | None:
        """fib_table_insert after fib_create_info; returns the new alias (None: kept the identical one)."""
        plen = cfg.dst_len
        key = cfg.dst
        d = self.by_plen.get(plen)
        lst = d.get(key) if d is not None else None
        tos = cfg.tos
        prio = fi.priority
        pos = len(lst) if lst else 0
        if lst:
            pos = _find_pos(lst, tos, prio)
        nlflags = cfg.nlflags
        if lst and pos < len(lst) and lst[pos].tos == tos and lst[pos].fi.priority == prio:
            if nlflags & NLM_F_EXCL:
                raise RouteError(errno.EEXIST)
            first = pos
            match = -1
            i = pos
            fkey = fi.key()
            while i < len(lst):
                fa = lst[i]
                if fa.tos != tos or fa.fi.priority != prio:
                    break
                if fa.type == cfg.type and fa.fi.key() == fkey:
                    match = i
                    break
                i += 1
            if nlflags & NLM_F_REPLACE:
                if match >= 0:
                    if match == first:
                        return None
                    raise RouteError(errno.EEXIST)
                new = FibAlias(key, plen, tos, cfg.type, fi, self.id)
                old = lst[first]
                old.fi.dead = True
                lst[first] = new
                self._changed(old, removed=True)
                self._changed(new)
                return new
            if match >= 0:
                raise RouteError(errno.EEXIST)
            if nlflags & NLM_F_APPEND:
                pos = i
            else:
                pos = first
        if not nlflags & NLM_F_CREATE:
            raise RouteError(errno.ENOENT)
        new = FibAlias(key, plen, tos, cfg.type, fi, self.id)
        if d is None:
            d = self.by_plen[plen] = {}
            self._relevel()
        if lst is None:
            lst = d[key] = []
        lst.insert(pos, new)
        if plen == 0:
            self.num_default += 1
        self._changed(new)
        return new

    def delete(self, cfg: FibConfig) -> FibAlias:
        """fib_table_delete: remove the first alias matching the request (ESRCH if none)."""
        d = self.by_plen.get(cfg.dst_len)
        lst = d.get(cfg.dst) if d is not None else None
        if not lst:
            raise RouteError(errno.ESRCH)
        for fa in lst:
            if fa.tos != cfg.tos:
                continue
            fi = fa.fi
            if ((not cfg.type or fa.type == cfg.type)
                    and (cfg.scope == RT_SCOPE_NOWHERE or fi.scope == cfg.scope)
                    and (not cfg.prefsrc or fi.prefsrc == cfg.prefsrc)
                    and (not cfg.protocol or fi.protocol == cfg.protocol)
                    and nh_match(cfg, fi) and metrics_match(cfg, fi)):
                self.remove(fa)
                return fa
        raise RouteError(errno.ESRCH)

    def remove(self, fa: FibAlias) -> None:
        d = self.by_plen[fa.plen]
        lst = d[fa.dst]
        lst.remove(fa)
        fa.fi.dead = True
        if not lst:
            del d[fa.dst]
            if not d:
                del self.by_plen[fa.plen]
                self._relevel()
        if fa.plen == 0:
            self.num_default -= 1
        self._changed(fa, removed=True)

    def flush_dead(self) -> int:
        """fib_table_flush: drop aliases whose FibInfo is dead (RTNH_F_DEAD)."""
        dead = [fa for fa in self.aliases() if fa.fi.flags & RTNH_F_DEAD]
        for fa in dead:
            self.remove(fa)
        return len(dead)

    def _changed(self, fa: FibAlias, removed: bool = False) -> None:
        if self.fib is not None:
            self.fib.table_changed(self, fa, removed)

    # ------------------------------------------------------------------ dump
    def aliases(self) -> Iterator[FibAlias]:
        """Every alias in dump order: prefixes ascending, a longer prefix first for equal keys."""
        keys = sorted((k, -p) for p, d in self.by_plen.items() for k in d)
        for k, negp in keys:
            yield from list(self.by_plen[-negp][k])


def check_alias(fa: FibAlias, ftos: int, oif: int, scope: int,
                ignore_linkstate: bool) -> FibAlias | int | None:
    """One alias of fib_table_lookup's inner loop: the alias, an errno, or None to go on."""
    if fa.tos and fa.tos != ftos:
        return None
    fi = fa.fi
    if fi.scope < scope:
        return None
    err = FIB_ERR[fa.type]
    if err:
        return err
    if fi.flags & RTNH_F_DEAD:
        return None
    nh = fi.nh
    nhf = nh.flags
    if nhf:
        if nhf & RTNH_F_DEAD:
            return None
        if nhf & RTNH_F_LINKDOWN and not ignore_linkstate and _ignore_linkdown(nh.dev):
            return None
    if oif and oif != nh.oif:
        return None
    return fa


def _ignore_linkdown(dev: Any) -> bool:
    """ip_ignore_linkdown: conf all/DEV ignore_routes_with_linkdown (IN_DEV_ORCONF)."""
    if dev is None:
        return False
    v = dev.ns.sysctl.v
    return bool(v.get("net.ipv4.conf.all.ignore_routes_with_linkdown", 0)
                or v.get(f"net.ipv4.conf.{dev.name}.ignore_routes_with_linkdown", 0))


def _find_pos(lst: list[FibAlias], tos: int, prio: int) -> int:
    """fib_find_alias: index of the first alias not ordered before (tos desc, priority asc)."""
    for i, fa in enumerate(lst):
        if fa.tos > tos:
            continue
        if fa.fi.priority >= prio or fa.tos < tos:
            return i
    return len(lst)


def lookup_merged(tables: list[FibTable], daddr: int, tos: int, oif: int, scope: int,
                  ignore_linkstate: bool = False) -> FibAlias | int:
    """Lookup in several tables as one trie (local and main merged while no custom rule exists:
    fib_trie's ``fib_unmerge`` has not run). At equal prefix length the first table's aliases come
    first, as a higher tb_id sorts first in a leaf."""
    ftos = tos & TOS_MATCH_MASK
    plens = sorted({p for t in tables for p in t.by_plen}, reverse=True)
    for plen in plens:
        key = daddr & _MASKS[plen]
        for t in tables:
            d = t.by_plen.get(plen)
            if d is None:
                continue
            lst = d.get(key)
            if lst is None:
                continue
            for fa in lst:
                r = check_alias(fa, ftos, oif, scope, ignore_linkstate)
                if r is not None:
                    return r
    return errno.EAGAIN
