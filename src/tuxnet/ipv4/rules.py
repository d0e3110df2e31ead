"""IPv4 policy routing rules (net/core/fib_rules.c, net/ipv4/fib_rules.c): ``ip rule``.

Guarantees:
- A namespace starts with ``0: lookup local``, ``32766: lookup main``, ``32767: lookup default``
  (protocol kernel), as fib_default_rules_init.
- Rules are kept sorted by priority; a new rule goes after every rule of equal priority. Without
  ``pref`` a rule gets fib_default_rule_pref: one below the second rule's priority when non-zero,
  else 0. An identical rule is refused with EEXIST (rule_exists).
- Selectors (fib_rule_match / fib4_rule_match): ``iif`` (output lookups carry iif lo), ``oif``,
  ``fwmark[/mask]``, uid range, ``from``/``to`` prefixes, ``tos`` (rule tos == flow tos & 0x1c);
  ``not`` inverts the whole match.
- Actions: ``lookup TABLE`` (a missing table or a ``throw`` route continues with the next rule),
  ``goto PREF`` (to the first rule of that priority; resolved again when rules come and go, and
  skipped while unresolved), ``nop``, ``blackhole`` (EINVAL), ``unreachable`` (ENETUNREACH),
  ``prohibit`` (EACCES); ``suppress_prefixlength N`` / ``suppress_ifgroup G`` reject a lookup
  result and continue. Running off the end is ENETUNREACH.
- Adding the first rule switches the FIB to rule-based lookups for good (fib_has_custom_rules).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from tuxnet.ipv4.fib_semantics import (
    LOOPBACK_IFINDEX,
    RT_TABLE_DEFAULT,
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RT_TABLE_UNSPEC,
    RTPROT_KERNEL,
    RouteError,
)
from tuxnet.ipv4.fib_trie import TOS_MATCH_MASK

if TYPE_CHECKING:
    from tuxnet.drivers.netdevice import NetDevice

# include/uapi/linux/fib_rules.h
FR_ACT_UNSPEC = 0
FR_ACT_TO_TBL = 1
FR_ACT_GOTO = 2
FR_ACT_NOP = 3
FR_ACT_BLACKHOLE = 6
FR_ACT_UNREACHABLE = 7
FR_ACT_PROHIBIT = 8
FR_ACT_NAMES = {FR_ACT_TO_TBL: "lookup", FR_ACT_GOTO: "goto", FR_ACT_NOP: "nop",
                FR_ACT_BLACKHOLE: "blackhole", FR_ACT_UNREACHABLE: "unreachable",
                FR_ACT_PROHIBIT: "prohibit"}
FIB_RULE_INVERT = 0x2
FIB_RULE_UNRESOLVED = 0x4
UID_MAX = 0xFFFFFFFF

_MASKS = tuple((0xFFFFFFFF << (32 - p)) & 0xFFFFFFFF for p in range(33))


class FibRule:
    """struct fib_rule + struct fib4_rule."""

    __slots__ = ("pref", "action", "table", "src", "src_len", "srcmask", "dst", "dst_len", "dstmask", "tos",
                 "mark", "mark_mask", "iifname", "iifindex", "oifname", "oifindex", "flags", "target",
                 "ctarget", "suppress_prefixlen", "suppress_ifgroup", "proto", "uid_start", "uid_end")

    def __init__(self, *, pref: int = 0, action: int = FR_ACT_TO_TBL, table: int = RT_TABLE_UNSPEC,
                 src: int = 0, src_len: int = 0, dst: int = 0, dst_len: int = 0, tos: int = 0, mark: int = 0,
                 mark_mask: int | None = None, iifname: str = "", oifname: str = "", invert: bool = False,
                 target: int = 0, suppress_prefixlen: int = -1, suppress_ifgroup: int = -1,
                 proto: int = 0, uid_start: int = 0, uid_end: int = UID_MAX) -> None:
        self.pref = pref
        self.action = action
        self.table = table
        self.src = src
        self.src_len = src_len
        self.srcmask = _MASKS[src_len]
        self.dst = dst
        self.dst_len = dst_len
        self.dstmask = _MASKS[dst_len]
        self.tos = tos
        self.mark = mark
        # a mark without a mask means the whole mark (fib_nl2rule)
        self.mark_mask = (0xFFFFFFFF if mark else 0) if mark_mask is None else mark_mask
        self.iifname = iifname
        self.iifindex = 0
        self.oifname = oifname
        self.oifindex = 0
        self.flags = FIB_RULE_INVERT if invert else 0
        self.target = target
        self.ctarget: FibRule | None = None
        self.suppress_prefixlen = suppress_prefixlen
        self.suppress_ifgroup = suppress_ifgroup
        self.proto = proto
        self.uid_start = uid_start
        self.uid_end = uid_end

    @property
    def invert(self) -> bool:
        return bool(self.flags & FIB_RULE_INVERT)

    def key(self) -> tuple[Any, ...]:
        """The fields rule_exists compares."""
        return (self.action, self.table, self.pref, self.iifname, self.oifname, self.mark, self.mark_mask,
                self.suppress_ifgroup, self.suppress_prefixlen, self.uid_start, self.uid_end, self.proto,
                self.src_len, self.dst_len, self.tos, self.src, self.dst, self.target, self.flags)

    def match(self, daddr: int, saddr: int, tos: int, oif: int, iif: int, mark: int, uid: int) -> bool:
        """fib_rule_match + fib4_rule_match, inverted by ``not``."""
        ok = not ((self.iifindex and self.iifindex != iif)
                  or (self.oifindex and self.oifindex != oif)
                  or (self.mark ^ mark) & self.mark_mask
                  or uid < self.uid_start or uid > self.uid_end
                  or (saddr ^ self.src) & self.srcmask or (daddr ^ self.dst) & self.dstmask
                  or (self.tos and self.tos != tos & TOS_MATCH_MASK))
        return (not ok) if self.flags & FIB_RULE_INVERT else ok


class FibRules:
    """The IPv4 rule list of one namespace (``ns.fib.rules``)."""

    def __init__(self, fib: Any) -> None:
        self.fib = fib
        self.ns = fib.ns
        self.rules: list[FibRule] = [
            FibRule(pref=0, table=RT_TABLE_LOCAL, proto=RTPROT_KERNEL),
            FibRule(pref=0x7FFE, table=RT_TABLE_MAIN, proto=RTPROT_KERNEL),
            FibRule(pref=0x7FFF, table=RT_TABLE_DEFAULT, proto=RTPROT_KERNEL),
        ]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self.rules))

    # ------------------------------------------------------------------ changes
    def default_pref(self) -> int:
        """fib_default_rule_pref."""
        if len(self.rules) >= 2 and self.rules[1].pref:
            return self.rules[1].pref - 1
        return 0

    def add(self, rule: FibRule, *, pref_given: bool = True, excl: bool = True) -> FibRule:
        """fib_nl_newrule."""
        if not pref_given:
            rule.pref = self.default_pref()
        if rule.action == FR_ACT_GOTO:
            if rule.target <= rule.pref:
                raise RouteError(errno.EINVAL, "Backward goto not supported")
        elif rule.target:
            raise RouteError(errno.EINVAL, "Invalid goto without a target")  # FRA_GOTO with another action
        if rule.action == FR_ACT_TO_TBL and rule.table == RT_TABLE_UNSPEC:
            rule.table = self._empty_table()
        if rule.tos & 3:
            raise RouteError(errno.EINVAL, "Invalid dsfield (tos): ECN bits must be 0")
        if rule.src_len > 32 or rule.dst_len > 32:
            raise RouteError(errno.EINVAL)
        if excl and any(r.key() == rule.key() for r in self.rules):
            raise RouteError(errno.EEXIST)
        self._attach(rule)
        if rule.action == FR_ACT_GOTO:
            rule.ctarget = next((r for r in self.rules if r.pref == rule.target), None)
        idx = 0
        for i, r in enumerate(self.rules):
            if r.pref > rule.pref:
                break
            idx = i + 1
        self.rules.insert(idx, rule)
        # goto rules waiting for this priority now point at it
        for r in self.rules:
            if r.action == FR_ACT_GOTO and r.target == rule.pref and r.ctarget is None:
                r.ctarget = rule
        self.fib.has_custom_rules = True
        self.fib.flush_cache()
        return rule

    def _empty_table(self) -> int:
        """fib_empty_table: the first unused table id from 1."""
        for tid in range(1, RT_TABLE_MAIN):
            if tid not in self.fib.tables:
                self.fib.new_table(tid)
                return tid
        raise RouteError(errno.ENOBUFS)

    def find(self, rule: FibRule, *, pref_given: bool) -> FibRule | None:
        """rule_find: the first rule matching every field the request gives."""
        for r in self.rules:
            if rule.action and r.action != rule.action:
                continue
            if rule.table and r.table != rule.table:
                continue
            if pref_given and r.pref != rule.pref:
                continue
            if rule.iifname and r.iifname != rule.iifname:
                continue
            if rule.oifname and r.oifname != rule.oifname:
                continue
            if rule.mark and r.mark != rule.mark:
                continue
            if rule.suppress_ifgroup != -1 and r.suppress_ifgroup != rule.suppress_ifgroup:
                continue
            if rule.suppress_prefixlen != -1 and r.suppress_prefixlen != rule.suppress_prefixlen:
                continue
            if rule.mark_mask and rule.mark and r.mark_mask != rule.mark_mask:
                continue
            if (rule.uid_start, rule.uid_end) != (0, UID_MAX) and (r.uid_start, r.uid_end) != (
                    rule.uid_start, rule.uid_end):
                continue
            if rule.proto and r.proto != rule.proto:
                continue
            if rule.src_len and (r.src_len != rule.src_len or r.src != rule.src):
                continue
            if rule.dst_len and (r.dst_len != rule.dst_len or r.dst != rule.dst):
                continue
            if rule.tos and r.tos != rule.tos:
                continue
            return r
        return None

    def delete(self, rule: FibRule, *, pref_given: bool) -> FibRule:
        """fib_nl_delrule."""
        r = self.find(rule, pref_given=pref_given)
        if r is None:
            raise RouteError(errno.ENOENT)
        self.remove(r)
        return r

    def remove(self, r: FibRule) -> None:
        i = self.rules.index(r)
        del self.rules[i]
        nxt = self.rules[i] if i < len(self.rules) and self.rules[i].pref == r.pref else None
        for other in self.rules:
            if other.ctarget is r:
                other.ctarget = nxt
        self.fib.flush_cache()

    def flush(self) -> None:
        """``ip rule flush``: every rule but those of priority 0 (iproute2 skips them)."""
        for r in [r for r in self.rules if r.pref != 0]:
            self.remove(r)

    def _attach(self, rule: FibRule) -> None:
        devs = self.ns.devices
        rule.iifindex = (devs[rule.iifname].ifindex if rule.iifname in devs else -1) if rule.iifname else 0
        rule.oifindex = (devs[rule.oifname].ifindex if rule.oifname in devs else -1) if rule.oifname else 0

    def dev_event(self, event: str, dev: NetDevice) -> None:
        """fib_rules_event: rules naming a device follow it (attach_rules / detach_rules)."""
        for r in self.rules:
            self._attach(r)
            if event == "unregister":
                if r.iifindex == dev.ifindex:
                    r.iifindex = -1
                if r.oifindex == dev.ifindex:
                    r.oifindex = -1
        self.fib.flush_cache()

    # ------------------------------------------------------------------ lookup
    def lookup(self, daddr: int, saddr: int, tos: int, oif: int, iif: int, mark: int, uid: int,
               scope: int, ignore_linkstate: bool) -> Any:
        """fib_rules_lookup + fib4_rule_action + fib4_rule_suppress: an alias or an errno."""
        tables = self.fib.tables
        rules = self.rules
        n = len(rules)
        i = 0
        while i < n:
            rule = rules[i]
            i += 1
            while True:
                if not rule.match(daddr, saddr, tos, oif, iif, mark, uid):
                    break
                act = rule.action
                if act == FR_ACT_GOTO:
                    target = rule.ctarget
                    if target is None:
                        break
                    rule = target
                    i = rules.index(target) + 1
                    continue
                if act == FR_ACT_NOP:
                    break
                if act == FR_ACT_TO_TBL:
                    tb = tables.get(rule.table)
                    if tb is None:
                        break  # -EAGAIN: the next rule
                    res = tb.lookup(daddr, tos, oif, scope, ignore_linkstate)
                    if type(res) is int:
                        if res == errno.EAGAIN:
                            break
                        return res
                    if self._suppress(rule, res):
                        break
                    return res
                if act == FR_ACT_UNREACHABLE:
                    return errno.ENETUNREACH
                if act == FR_ACT_PROHIBIT:
                    return errno.EACCES
                return errno.EINVAL  # blackhole and unknown actions
        return errno.ENETUNREACH

    @staticmethod
    def _suppress(rule: FibRule, fa: Any) -> bool:
        """fib4_rule_suppress."""
        if fa.plen <= rule.suppress_prefixlen:
            return True
        if rule.suppress_ifgroup != -1:
            dev = fa.fi.nh.dev
            if dev is not None and getattr(dev, "group", 0) == rule.suppress_ifgroup:
                return True
        return False


__all__ = ["FibRule", "FibRules", "FR_ACT_TO_TBL", "FR_ACT_GOTO", "FR_ACT_NOP", "FR_ACT_BLACKHOLE",
           "FR_ACT_UNREACHABLE", "FR_ACT_PROHIBIT", "FR_ACT_NAMES", "LOOPBACK_IFINDEX"]
