"""The generic neighbour table: NUD state machine, timers, unresolved queue, GC (net/core/neighbour.c).

One ``NeighTable`` per protocol (ARP's is ``ipv4.arp.ArpTable``, ``ns.arp``); the protocol supplies the
constructor, ``solicit`` and ``error_report`` (``struct neigh_ops``). Guarantees, as Linux 6.x:

- Entries are keyed by (address, device). States are the NUD_* bits; ``neigh_update`` (__neigh_update),
  ``neigh_timer_handler`` and ``event_send`` (__neigh_event_send) move them exactly as the kernel:
  NONE/FAILED --send--> INCOMPLETE (probes start at ucast_solicit, so mcast_solicit broadcast
  solicitations retrans_time apart, then FAILED); REACHABLE --reachable_time--> STALE (or DELAY when
  used in the last delay_first_probe_time); STALE --send--> DELAY --delay_first_probe_time--> REACHABLE
  if confirmed meanwhile, else PROBE (ucast_solicit unicast probes) --> FAILED. Every timer is at
  least 10 ms (HZ/100) away.
- ``reachable_time`` is neigh_rand_reach_time(base_reachable_time): uniform in [base/2, 3*base/2),
  drawn from ``ns.rng`` per device parms when the device appears, when base_reachable_time_ms changes
  and every 300 s (first after 20 reachable times), as neigh_periodic_work does.
- ``neigh_confirm`` only stamps ``confirmed`` (Linux's neigh_confirm/dst_confirm_neigh): the state
  moves at the next timer (DELAY -> REACHABLE, REACHABLE stays REACHABLE), as in the kernel.
- While INCOMPLETE, packets wait on ``arp_queue``, bounded by unres_qlen_bytes counted in
  ``skb_truesize``; an arriving packet that does not fit pushes out the OLDEST ones (NEIGH_QUEUEFULL,
  ``unres_discards``). Resolution flushes the queue through the output path; failure hands each
  packet to ``error_report`` (ARP: ICMP host unreachable, NEIGH_FAILED). Entries removed while
  packets wait drop them with QUEUE_PURGE (neigh_destroy's __skb_queue_purge, Linux 6.7+).
- Sending on a NUD_CONNECTED entry does not touch ``used`` (the kernel's connected/hh output path
  does not either), so an entry in use still goes REACHABLE -> STALE -> DELAY.
- GC: an allocation finding gc_thresh3 entries (or gc_thresh2 and no flush for 5 s) runs
  neigh_forced_gc (unreferenced FAILED/NOARP entries or ones not updated for 5 s, oldest first); if
  that frees nothing at gc_thresh3 the table is full (``table_fulls``, ENOBUFS). Periodic GC runs
  every base_reachable_time/2 and removes unreferenced FAILED entries and entries unused for
  gc_stale_time, but only while the table holds at least gc_thresh1 entries. Departure: Linux keeps
  the periodic work always queued; here its timer is armed only while entries >= gc_thresh1 (it
  does nothing else then), so an idle lab can run out of events. Linux's ``gc_interval`` is unused
  by the kernel since 3.3 and is ignored here too. An entry with a pending timer holds a reference
  (neigh_add_timer's neigh_hold) and is never collected.
- Statistics: ``stats`` holds struct neigh_statistics (``ip -s ntable``, /proc/net/stat/arp_cache).
- Per-device parameters come from ``ns.sysctl.neigh(dev, key)`` at each use; writing unres_qlen
  rewrites unres_qlen_bytes (unres_qlen * SKB_TRUESIZE(ETH_FRAME_LEN)) and the reverse, as
  neigh_proc_dointvec_unres_qlen does.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.core.loop import NSEC_PER_MSEC, NSEC_PER_SEC, Timer
from tuxnet.core.trace import SkbDropReason
from tuxnet.wire.ethernet_consts import ETH_P_IP

if TYPE_CHECKING:
    from tuxnet.drivers.netdevice import NetDevice
    from tuxnet.netns import Namespace
    from tuxnet.skb import SkBuff

# include/uapi/linux/neighbour.h
NUD_NONE = 0x00
NUD_INCOMPLETE = 0x01
NUD_REACHABLE = 0x02
NUD_STALE = 0x04
NUD_DELAY = 0x08
NUD_PROBE = 0x10
NUD_FAILED = 0x20
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
# include/net/neighbour.h
NUD_IN_TIMER = NUD_INCOMPLETE | NUD_REACHABLE | NUD_DELAY | NUD_PROBE
NUD_VALID = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY
NUD_CONNECTED = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE

# How ``ip neigh`` names each state (iproute2 prints nothing at all for NONE).
NUD_STATE_NAMES = {
    NUD_NONE: "NONE", NUD_INCOMPLETE: "INCOMPLETE", NUD_REACHABLE: "REACHABLE", NUD_STALE: "STALE",
    NUD_DELAY: "DELAY", NUD_PROBE: "PROBE", NUD_FAILED: "FAILED", NUD_NOARP: "NOARP",
    NUD_PERMANENT: "PERMANENT",
}

# ndm_flags
NTF_USE = 0x01
NTF_PROXY = 0x08
NTF_EXT_LEARNED = 0x10
NTF_ROUTER = 0x80

# __neigh_update flags (include/net/neighbour.h)
NEIGH_UPDATE_F_OVERRIDE = 1 << 0
NEIGH_UPDATE_F_WEAK_OVERRIDE = 1 << 1
NEIGH_UPDATE_F_OVERRIDE_ISROUTER = 1 << 2
NEIGH_UPDATE_F_USE = 1 << 3
NEIGH_UPDATE_F_MANAGED = 1 << 4
NEIGH_UPDATE_F_EXT_LEARNED = 1 << 5
NEIGH_UPDATE_F_ISROUTER = 1 << 6
NEIGH_UPDATE_F_ADMIN = 1 << 7

NEIGH_TIMER_MIN_NS = 10 * NSEC_PER_MSEC  # HZ/100
USER_HZ_NS = 10 * NSEC_PER_MSEC  # locktime, proxy_delay, anycast_delay are in USER_HZ ticks
FORCED_GC_AGE_NS = 5 * NSEC_PER_SEC
REACH_RECOMPUTE_NS = 300 * NSEC_PER_SEC

# SKB_TRUESIZE(X) = X + SKB_DATA_ALIGN(sizeof(struct sk_buff)) + SKB_DATA_ALIGN(sizeof(skb_shared_info))
# on x86_64 (256 + 320); SKB_TRUESIZE(ETH_FRAME_LEN) = 2090, read off a real kernel.
SKB_STRUCT_TRUESIZE = 256
SKB_SHINFO_TRUESIZE = 320
SKB_TRUESIZE_ETH_FRAME = 1514 + SKB_STRUCT_TRUESIZE + SKB_SHINFO_TRUESIZE
_KMALLOC_SIZES = (512, 1024, 2048, 4096, 8192)


def skb_truesize(skb: SkBuff) -> int:
    """skb->truesize of a buffer like ``skb``: __alloc_skb rounds data + shared info up to a kmalloc
    bucket (a power of two here; page-order beyond 8 KiB) and adds struct sk_buff."""
    size = ((len(skb.buf) + 63) & ~63) + SKB_SHINFO_TRUESIZE
    for bucket in _KMALLOC_SIZES:
        if size <= bucket:
            return bucket + SKB_STRUCT_TRUESIZE
    return (1 << (size - 1).bit_length()) + SKB_STRUCT_TRUESIZE


class NeighStatistics:
    """struct neigh_statistics (``ip -s ntable`` "stats" lines, /proc/net/stat/arp_cache)."""

    __slots__ = ("allocs", "destroys", "hash_grows", "res_failed", "lookups", "hits", "rcv_probes_mcast",
                 "rcv_probes_ucast", "periodic_gc_runs", "forced_gc_runs", "unres_discards", "table_fulls")

    def __init__(self) -> None:
        for f in self.__slots__:
            setattr(self, f, 0)

    def as_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in self.__slots__}


class Neighbour:
    """struct neighbour: one (address, device) entry. Times are ns timestamps (``ns.now``)."""

    __slots__ = ("tbl", "key", "dev", "ha", "nud_state", "type", "flags", "probes", "confirmed",
                 "updated", "used", "timer", "arp_queue", "arp_queue_len_bytes", "dead", "protocol")

    def __init__(self, tbl: NeighTable, key: int, dev: NetDevice, now: int) -> None:
        self.tbl = tbl
        self.key = key
        self.dev = dev
        self.ha = bytes(6)
        self.nud_state = NUD_NONE
        self.type = 0  # RTN_* of the address (arp_constructor)
        self.flags = 0
        self.probes = 0
        self.confirmed = now
        self.updated = now
        self.used = now
        self.timer: Timer | None = None
        self.arp_queue: deque[SkBuff] = deque()
        self.arp_queue_len_bytes = 0
        self.dead = True  # until linked into the table, as neigh_alloc leaves it
        self.protocol = 0

    # fields ``ip neigh`` shows
    @property
    def ip(self) -> int:
        return self.key

    @property
    def state(self) -> int:
        return self.nud_state

    @property
    def state_name(self) -> str:
        return NUD_STATE_NAMES.get(self.nud_state, f"0x{self.nud_state:x}")

    @property
    def mac(self) -> bytes | None:
        """The link-layer address, only while valid (neigh_fill_info puts NDA_LLADDR if NUD_VALID)."""
        return self.ha if self.nud_state & NUD_VALID else None

    @property
    def is_router(self) -> bool:
        return bool(self.flags & NTF_ROUTER)

    def __repr__(self) -> str:
        from tuxnet.wire.addr import ip_ntoa

        return f"<Neighbour {ip_ntoa(self.key)} dev {self.dev.name} {self.state_name}>"


NotifyFn = Callable[[str, Neighbour], None]


class NeighTable:
    """struct neigh_table. Subclasses provide ``constructor``, ``solicit`` and ``error_report``."""

    id = "neigh"
    protocol = ETH_P_IP

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.stats = NeighStatistics()
        self.hash: dict[tuple[int, NetDevice], Neighbour] = {}
        self.gc_list: dict[Neighbour, None] = {}  # insertion-ordered set, oldest first
        self.hash_shift = 3
        self.last_flush = ns.now
        self._reach: dict[str, list[int]] = {}  # device parms name -> [base_ns, reachable_time_ns]
        self.last_rand = ns.now
        # neigh_table_init: the first recomputation comes 20 reachable times after start
        self.last_rand = ns.now + self.reachable_time_of("default") * 20
        self._gc_timer: Timer | None = None
        self._watched: set[str] = set()
        # RTM_NEWNEIGH / RTM_DELNEIGH / RTM_GETNEIGH (app probes) listeners, for ``ip monitor``.
        self.notifier: list[NotifyFn] = []
        self._watch_unres("default")

    # ------------------------------------------------------------ protocol hooks (struct neigh_ops)
    def constructor(self, n: Neighbour) -> bool:
        return True

    def solicit(self, n: Neighbour, skb: SkBuff | None) -> None:
        pass

    def error_report(self, n: Neighbour, skb: SkBuff) -> None:
        self.ns.kfree_skb(skb, SkbDropReason.NEIGH_FAILED)

    def hash_key(self, key: int, dev: NetDevice) -> int:
        return key

    # ------------------------------------------------------------ parameters
    def parm(self, dev: NetDevice, key: str) -> int:
        return self.ns.sysctl.neigh(dev.name, key)

    def _gparm(self, key: str) -> int:
        return self.ns.sysctl.v[f"net.ipv4.neigh.default.{key}"]  # type: ignore[return-value]

    def retrans_time(self, dev: NetDevice) -> int:
        return max(self.parm(dev, "retrans_time_ms") * NSEC_PER_MSEC, NEIGH_TIMER_MIN_NS)

    def delay_probe_time(self, dev: NetDevice) -> int:
        return self.parm(dev, "delay_first_probe_time") * NSEC_PER_SEC

    def reachable_time(self, dev: NetDevice) -> int:
        """parms->reachable_time of the device (ns)."""
        return self.reachable_time_of(dev.name)

    def reachable_time_of(self, name: str) -> int:
        now = self.ns.now
        if self._reach and now > self.last_rand + REACH_RECOMPUTE_NS:
            self.last_rand = now
            for parms, ent in self._reach.items():
                ent[0] = self._base_reachable(parms)
                ent[1] = self.neigh_rand_reach_time(ent[0])
        base = self._base_reachable(name)
        ent = self._reach.get(name)
        if ent is None or ent[0] != base:
            # neigh_parms_alloc, or a write to base_reachable_time_ms (neigh_proc_base_reachable_time)
            ent = self._reach[name] = [base, self.neigh_rand_reach_time(base)]
        return ent[1]

    def _base_reachable(self, name: str) -> int:
        return self.ns.sysctl.neigh(name, "base_reachable_time_ms") * NSEC_PER_MSEC

    def neigh_rand_reach_time(self, base: int) -> int:
        """Uniform in [base/2, 3*base/2), as get_random_u32_below(base) + (base >> 1)."""
        return self.ns.rng.randrange(base) + (base >> 1) if base > 0 else 0

    def max_probes(self, n: Neighbour) -> int:
        """neigh_max_probes: unicast + app + (mcast_resolicit in PROBE, else mcast_solicit)."""
        dev = n.dev
        mcast = "mcast_resolicit" if n.nud_state & NUD_PROBE else "mcast_solicit"
        return self.parm(dev, "ucast_solicit") + self.parm(dev, "app_solicit") + self.parm(dev, mcast)

    def parms_add(self, dev: NetDevice) -> None:
        """neigh_parms_alloc for a new device: draw its reachable_time; keep unres_qlen in step."""
        self._reach.pop(dev.name, None)
        self.reachable_time_of(dev.name)
        self._watch_unres(dev.name)

    def parms_release(self, dev: NetDevice) -> None:
        self._reach.pop(dev.name, None)

    def _watch_unres(self, name: str) -> None:
        if name in self._watched:
            return
        self._watched.add(name)
        sysctl = self.ns.sysctl
        k_qlen = f"net.ipv4.neigh.{name}.unres_qlen"
        k_bytes = f"net.ipv4.neigh.{name}.unres_qlen_bytes"

        def qlen_written(_key: str, value: Any) -> None:
            if k_bytes in sysctl.v:
                sysctl.v[k_bytes] = int(value) * SKB_TRUESIZE_ETH_FRAME

        def bytes_written(_key: str, value: Any) -> None:
            if k_qlen in sysctl.v:
                sysctl.v[k_qlen] = int(value) // SKB_TRUESIZE_ETH_FRAME

        sysctl.watch(k_qlen, qlen_written)
        sysctl.watch(k_bytes, bytes_written)

    # ------------------------------------------------------------ lookup and creation
    def lookup(self, key: int, dev: NetDevice) -> Neighbour | None:
        """neigh_lookup: counts ``lookups`` and ``hits``."""
        self.stats.lookups += 1
        n = self.hash.get((self.hash_key(key, dev), dev))
        if n is not None:
            self.stats.hits += 1
        return n

    def lookup_noref(self, key: int, dev: NetDevice) -> Neighbour | None:
        """__neigh_lookup_noref: the output path's lookup, no statistics."""
        return self.hash.get((self.hash_key(key, dev), dev))

    def lookup_create(self, key: int, dev: NetDevice) -> Neighbour | None:
        """__neigh_lookup(tbl, key, dev, creat=1); None when creation fails."""
        n = self.lookup(key, dev)
        if n is not None:
            return n
        try:
            return self.create(key, dev)
        except OSError:
            return None

    def create(self, key: int, dev: NetDevice, *, exempt_from_gc: bool | None = None,
               flags: int = 0) -> Neighbour:
        """___neigh_create: raises OSError(ENOBUFS) when the table is full, EINVAL if the
        constructor refuses. Loopback entries are exempt from GC accounting (__neigh_create)."""
        from tuxnet.drivers.netdevice import IFF_LOOPBACK

        if exempt_from_gc is None:
            exempt_from_gc = bool(dev.flags & IFF_LOOPBACK)
        key = self.hash_key(key, dev)
        existing = self.hash.get((key, dev))
        if existing is not None:
            return existing
        n = self._alloc(key, dev, exempt_from_gc, flags)
        if not self.constructor(n):
            self.stats.destroys += 1  # neigh_release -> neigh_destroy
            raise oserror(errno.EINVAL)
        now = self.ns.now
        n.confirmed = now - (self._base_reachable(dev.name) << 1)
        if len(self.hash) + 1 > (1 << self.hash_shift):
            self.hash_shift += 1  # neigh_hash_grow
            self.stats.hash_grows += 1
        n.dead = False
        if not exempt_from_gc:
            self.gc_list[n] = None
        self.hash[(key, dev)] = n
        ns = self.ns
        if ns.tracer.active:
            ns.trace("neigh_create", None, tbl=self.id, dev=dev.name, key=key, gc_exempt=exempt_from_gc)
        if self._gc_timer is None and len(self.hash) >= self._gparm("gc_thresh1"):
            self._arm_periodic()
        return n

    def _alloc(self, key: int, dev: NetDevice, exempt_from_gc: bool, flags: int) -> Neighbour:
        """neigh_alloc: forced GC at gc_thresh2/3, ENOBUFS when still full at gc_thresh3."""
        now = self.ns.now
        if not exempt_from_gc:
            entries = len(self.gc_list)
            thresh3 = self._gparm("gc_thresh3")
            crowded = entries >= thresh3 or (entries >= self._gparm("gc_thresh2")
                                             and now > self.last_flush + FORCED_GC_AGE_NS)
            if crowded and not self.forced_gc(entries + 1) and entries >= thresh3:
                self.stats.table_fulls += 1  # "arp_cache: neighbor table overflow!"
                raise oserror(errno.ENOBUFS, f"{self.id}: neighbor table overflow!")
        n = Neighbour(self, key, dev, now)
        n.flags = flags
        self.stats.allocs += 1
        return n

    # ------------------------------------------------------------ removal
    def _unlink(self, n: Neighbour) -> None:
        """Out of the hash (neigh_mark_dead), then neigh_cleanup_and_release + neigh_destroy."""
        if n.dead:
            return
        self.hash.pop((n.key, n.dev), None)
        self.gc_list.pop(n, None)
        n.dead = True
        self._del_timer(n)
        self._notify("delneigh", n)
        self.stats.destroys += 1
        self._purge(n)

    def _purge(self, n: Neighbour) -> None:
        q = n.arp_queue
        while q:
            self.ns.kfree_skb(q.popleft(), SkbDropReason.QUEUE_PURGE)
        n.arp_queue_len_bytes = 0

    def remove_one(self, n: Neighbour) -> bool:
        """neigh_remove_one: only an unreferenced entry (no timer pending) goes."""
        if n.timer is not None or n.dead:
            return False
        self._unlink(n)
        return True

    def flush_dev(self, dev: NetDevice | None, skip_perm: bool) -> None:
        """neigh_flush_dev: every entry of ``dev`` (every entry when None), timers stopped."""
        for n in [n for n in self.hash.values() if dev is None or n.dev is dev]:
            if skip_perm and n.nud_state & NUD_PERMANENT:
                continue
            self._unlink(n)

    def ifdown(self, dev: NetDevice | None) -> None:
        """neigh_ifdown: device down/unregistered or its last IPv4 address gone (arp_ifdown)."""
        self.flush_dev(dev, skip_perm=False)

    def carrier_down(self, dev: NetDevice) -> None:
        """neigh_carrier_down: lost carrier; static entries stay."""
        self.flush_dev(dev, skip_perm=True)

    def changeaddr(self, dev: NetDevice) -> None:
        """neigh_changeaddr: the device's own address (or NOARP flag) changed."""
        self.flush_dev(dev, skip_perm=False)

    # ------------------------------------------------------------ garbage collection
    def forced_gc(self, gc_entries: int) -> int:
        """neigh_forced_gc: shrink toward gc_thresh2; returns how many entries went."""
        self.stats.forced_gc_runs += 1
        max_clean = gc_entries - self._gparm("gc_thresh2")
        now = self.ns.now
        tref = now - FORCED_GC_AGE_NS
        shrunk = 0
        for n in list(self.gc_list):
            if n.timer is not None:
                continue  # referenced by its timer
            st = n.nud_state
            if (st in (NUD_FAILED, NUD_NOARP) or not tref <= n.updated <= now) and self.remove_one(n):
                shrunk += 1
            if shrunk >= max_clean:
                break
        self.last_flush = now
        return shrunk

    def _arm_periodic(self) -> None:
        delay = max(self._base_reachable("default") >> 1, NEIGH_TIMER_MIN_NS)
        self._gc_timer = self.ns.loop.call_later_ns(delay, self.periodic_work)

    def periodic_work(self) -> None:
        """neigh_periodic_work: every base_reachable_time/2 while entries >= gc_thresh1."""
        self._gc_timer = None
        self.stats.periodic_gc_runs += 1
        self.reachable_time_of("default")  # the 300 s reachable_time recomputation
        now = self.ns.now
        if len(self.hash) >= self._gparm("gc_thresh1"):
            for n in list(self.hash.values()):
                st = n.nud_state
                if st & (NUD_PERMANENT | NUD_IN_TIMER) or n.flags & NTF_EXT_LEARNED:
                    continue
                if n.used < n.confirmed <= now:
                    n.used = n.confirmed
                stale = self.parm(n.dev, "gc_stale_time") * NSEC_PER_SEC
                if n.timer is None and (st == NUD_FAILED or not n.used <= now < n.used + stale):
                    self._unlink(n)
        if self._gc_timer is None and len(self.hash) >= self._gparm("gc_thresh1"):
            self._arm_periodic()

    # ------------------------------------------------------------ timers
    def _add_timer(self, n: Neighbour, when: int) -> None:
        if n.timer is not None:
            n.timer.cancel()  # Linux warns "double timer add"; keep one timer
        n.timer = self.ns.loop.call_at_ns(when, self.timer_handler, n)

    def _del_timer(self, n: Neighbour) -> None:
        if n.timer is not None:
            n.timer.cancel()
            n.timer = None

    def timer_handler(self, n: Neighbour) -> None:
        """neigh_timer_handler."""
        n.timer = None
        if n.dead:
            return
        state = n.nud_state
        if not state & NUD_IN_TIMER:
            return
        ns = self.ns
        now = ns.now
        dev = n.dev
        nxt = now + NSEC_PER_SEC
        notify = False
        if state & NUD_REACHABLE:
            reach = self.reachable_time(dev)
            delay = self.delay_probe_time(dev)
            if now <= n.confirmed + reach:
                nxt = n.confirmed + reach  # still alive
            elif now <= n.used + delay:
                n.nud_state = NUD_DELAY
                n.updated = now
                nxt = now + delay
            else:
                n.nud_state = NUD_STALE
                n.updated = now
                notify = True
        elif state & NUD_DELAY:
            if now <= n.confirmed + self.delay_probe_time(dev):
                n.nud_state = NUD_REACHABLE
                n.updated = now
                notify = True
                nxt = n.confirmed + self.reachable_time(dev)
            else:
                n.nud_state = NUD_PROBE
                n.updated = now
                n.probes = 0
                notify = True
                nxt = now + self.retrans_time(dev)
        else:  # INCOMPLETE or PROBE
            nxt = now + self.retrans_time(dev)
        if ns.tracer.active:
            ns.trace("neigh_timer_handler", None, tbl=self.id, dev=dev.name, key=n.key,
                     old=NUD_STATE_NAMES.get(state), new=n.state_name, probes=n.probes)
        if n.nud_state & (NUD_INCOMPLETE | NUD_PROBE) and n.probes >= self.max_probes(n):
            n.nud_state = NUD_FAILED
            self.invalidate(n)
            self._notify("newneigh", n)
            return
        if notify:
            self._notify("newneigh", n)
        if n.nud_state & NUD_IN_TIMER:
            self._add_timer(n, max(nxt, now + NEIGH_TIMER_MIN_NS))
        if n.nud_state & (NUD_INCOMPLETE | NUD_PROBE):
            self.probe(n)

    def probe(self, n: Neighbour) -> None:
        """neigh_probe: solicit with the newest queued packet (its source picks the ARP sender)."""
        q = n.arp_queue
        self.solicit(n, q[-1] if q else None)
        n.probes += 1

    def invalidate(self, n: Neighbour) -> None:
        """neigh_invalidate: resolution failed; every queued packet to error_report."""
        self.stats.res_failed += 1
        n.updated = self.ns.now
        q = n.arp_queue
        while n.nud_state == NUD_FAILED and q:
            skb = q.popleft()
            n.arp_queue_len_bytes -= skb_truesize(skb)
            self.error_report(n, skb)
        self._purge(n)

    # ------------------------------------------------------------ output
    def event_send(self, n: Neighbour, skb: SkBuff | None) -> bool:
        """neigh_event_send: True when ``skb`` was queued or dropped, False when it may go now."""
        now = self.ns.now
        n.used = now
        state = n.nud_state
        if state & (NUD_CONNECTED | NUD_DELAY | NUD_PROBE):
            return False
        if n.dead:
            if state & NUD_STALE:
                return False
            if skb is not None:
                self.ns.kfree_skb(skb, SkbDropReason.NEIGH_DEAD)
            return True
        dev = n.dev
        immediate_probe = False
        if not state & (NUD_STALE | NUD_INCOMPLETE):
            if self.parm(dev, "mcast_solicit") + self.parm(dev, "app_solicit"):
                n.probes = self.parm(dev, "ucast_solicit")
                self._del_timer(n)
                n.nud_state = NUD_INCOMPLETE
                n.updated = now
                immediate_probe = True
                self._add_timer(n, now + self.retrans_time(dev))
            else:
                n.nud_state = NUD_FAILED
                n.updated = now
                if skb is not None:
                    self.ns.kfree_skb(skb, SkbDropReason.NEIGH_FAILED)
                return True
        elif state & NUD_STALE:
            self._del_timer(n)
            n.nud_state = NUD_DELAY
            n.updated = now
            self._add_timer(n, now + self.delay_probe_time(dev))
        rc = False
        if n.nud_state == NUD_INCOMPLETE:
            if skb is not None:
                self._enqueue(n, skb)
            rc = True
        if immediate_probe:
            self.probe(n)
        return rc

    def _enqueue(self, n: Neighbour, skb: SkBuff) -> None:
        """Queue behind resolution; make room by dropping the oldest (unres_qlen_bytes)."""
        limit = self.parm(n.dev, "unres_qlen_bytes")
        size = skb_truesize(skb)
        q = n.arp_queue
        while n.arp_queue_len_bytes + size > limit and q:
            old = q.popleft()
            n.arp_queue_len_bytes -= skb_truesize(old)
            self.ns.kfree_skb(old, SkbDropReason.NEIGH_QUEUEFULL)
            self.stats.unres_discards += 1
        if skb.network_header < 0:
            skb.network_header = skb.data
        q.append(skb)
        n.arp_queue_len_bytes += size

    def neigh_output(self, n: Neighbour, skb: SkBuff) -> None:
        """n->output: connected_output while NUD_CONNECTED, else neigh_resolve_output."""
        if n.nud_state & NUD_CONNECTED or not self.event_send(n, skb):
            self.xmit(n, skb)

    def xmit(self, n: Neighbour, skb: SkBuff) -> None:
        """dev_hard_header with the neighbour's address, then dev_queue_xmit."""
        if skb.network_header < 0:
            skb.network_header = skb.data
        else:
            skb.data = skb.network_header  # __skb_pull(skb, skb_network_offset(skb))
        dev = n.dev
        dev.hard_header(skb, skb.protocol or self.protocol, n.ha)
        dev.queue_xmit(skb)

    # ------------------------------------------------------------ updates
    def update(self, n: Neighbour, lladdr: bytes | None, new: int, flags: int) -> int:
        """__neigh_update; returns 0 or a negative errno (-EPERM, -EINVAL) as the kernel."""
        old = n.nud_state
        if n.dead:
            return -errno.EPERM
        if not flags & NEIGH_UPDATE_F_ADMIN and old & (NUD_NOARP | NUD_PERMANENT):
            return -errno.EPERM
        ns = self.ns
        now = ns.now
        if ns.tracer.active:
            ns.trace("neigh_update", None, tbl=self.id, dev=n.dev.name, key=n.key,
                     old=NUD_STATE_NAMES.get(old), new=NUD_STATE_NAMES.get(new), flags=flags)
        if flags & (NEIGH_UPDATE_F_USE | NEIGH_UPDATE_F_MANAGED):
            n.nud_state = old & ~NUD_PERMANENT
            return 0
        if not new & NUD_VALID:
            self._del_timer(n)
            n.nud_state = new
            notify = bool(old & NUD_VALID)
            if old & (NUD_INCOMPLETE | NUD_PROBE) and new & NUD_FAILED:
                self.invalidate(n)
                notify = True
            if notify:
                self._notify("newneigh", n)
            if (new ^ old) & NUD_PERMANENT:
                self._update_gc_list(n)
            return 0
        # Compare the proposed address with the cached one.
        if lladdr is not None:
            ha_changed = not (old & NUD_VALID and lladdr == n.ha)
        else:
            if not old & NUD_VALID:
                return -errno.EINVAL  # "No link layer address given"
            ha_changed = False
        if new & NUD_CONNECTED:
            n.confirmed = now
        if old & NUD_VALID:
            if ha_changed and not flags & NEIGH_UPDATE_F_OVERRIDE:
                if flags & NEIGH_UPDATE_F_WEAK_OVERRIDE and old & NUD_CONNECTED:
                    ha_changed = False
                    new = NUD_STALE
                else:
                    return 0
            elif not ha_changed and new == NUD_STALE and not flags & NEIGH_UPDATE_F_ADMIN:
                new = old  # a valid entry with the same address is not downgraded to STALE
        if new != old or ha_changed:
            n.updated = now
        notify = False
        if new != old:
            self._del_timer(n)
            if new & NUD_PROBE:
                n.probes = 0
            if new & NUD_IN_TIMER:
                self._add_timer(n, now + (self.reachable_time(n.dev) if new & NUD_REACHABLE else 0))
            n.nud_state = new
            notify = True
        if ha_changed:
            assert lladdr is not None
            n.ha = bytes(lladdr)
            if not new & NUD_CONNECTED:
                n.confirmed = now - (self._base_reachable(n.dev.name) << 1)
            notify = True
        if notify:
            self._notify("newneigh", n)
        if new != old and not old & NUD_VALID:
            self._process_arp_queue(n)
        if (new ^ old) & NUD_PERMANENT:
            self._update_gc_list(n)
        return 0

    def _process_arp_queue(self, n: Neighbour) -> None:
        """Resolved: send what waited, through the entry's output path (may move STALE -> DELAY)."""
        q = n.arp_queue
        while n.nud_state & NUD_VALID and q:
            skb = q.popleft()
            n.arp_queue_len_bytes -= skb_truesize(skb)
            self.neigh_output(n, skb)
        self._purge(n)

    def _update_gc_list(self, n: Neighbour) -> None:
        """neigh_update_gc_list: PERMANENT (and externally learned) entries are off the GC list."""
        if n.dead:
            return
        exempt = bool(n.nud_state & NUD_PERMANENT or n.flags & NTF_EXT_LEARNED)
        if exempt:
            self.gc_list.pop(n, None)
        elif n not in self.gc_list:
            self.gc_list[n] = None

    def neigh_confirm(self, key: int, dev: NetDevice) -> None:
        """dst_confirm_neigh -> neigh_confirm: a reachability confirmation from an upper layer (a TCP
        ACK). Stamps ``confirmed``; DELAY turns REACHABLE at its timer instead of probing."""
        n = self.hash.get((self.hash_key(key, dev), dev))
        if n is not None:
            n.confirmed = self.ns.now

    def _notify(self, event: str, n: Neighbour) -> None:
        for fn in self.notifier:
            fn(event, n)

    # ------------------------------------------------------------ administration (ip neigh)
    def entries(self, dev: NetDevice | None = None) -> list[Neighbour]:
        """Every entry (NOARP ones included: ``ip neigh show`` hides them unless ``nud all``)."""
        return [n for n in self.hash.values() if dev is None or n.dev is dev]

    def add(self, ip: int, dev: NetDevice, lladdr: bytes | None = None, state: int = NUD_PERMANENT, *,
            create: bool = True, excl: bool = True, replace: bool = False, use: bool = False,
            protocol: int = 0) -> Neighbour:
        """neigh_add (RTM_NEWNEIGH). ``ip neigh add`` = create+excl, ``replace`` = create+replace,
        ``change`` = replace only. Raises EEXIST, ENOENT, EINVAL, ENOBUFS as the kernel."""
        if lladdr is not None and len(lladdr) < 6:
            raise oserror(errno.EINVAL, "Error: Invalid link address.")
        flags = NEIGH_UPDATE_F_ADMIN | NEIGH_UPDATE_F_OVERRIDE | NEIGH_UPDATE_F_OVERRIDE_ISROUTER
        n = self.lookup(ip, dev)
        if n is None:
            if not create:
                raise oserror(errno.ENOENT)
            n = self.create(ip, dev, exempt_from_gc=bool(state & NUD_PERMANENT))
        else:
            if excl:
                raise oserror(errno.EEXIST)
            if not replace:
                flags &= ~(NEIGH_UPDATE_F_OVERRIDE | NEIGH_UPDATE_F_OVERRIDE_ISROUTER)
        if protocol:
            n.protocol = protocol
        if use:
            self.event_send(n, None)
            return n
        err = self.update(n, bytes(lladdr[:6]) if lladdr is not None else None, state, flags)
        if err:
            raise oserror(-err, "Error: No link layer address given." if err == -errno.EINVAL else None)
        return n

    def delete(self, ip: int, dev: NetDevice) -> None:
        """neigh_delete (RTM_DELNEIGH): to FAILED (queued packets reported), then out of the table."""
        n = self.lookup(ip, dev)
        if n is None:
            raise oserror(errno.ENOENT)
        self.update(n, None, NUD_FAILED, NEIGH_UPDATE_F_OVERRIDE | NEIGH_UPDATE_F_ADMIN)
        self.remove_one(n)

    def flush(self, dev: NetDevice | None = None, states: int = ~(NUD_PERMANENT | NUD_NOARP)) -> int:
        """``ip neigh flush``: delete each entry whose state is in ``states`` (default: all but
        PERMANENT and NOARP, as iproute2; NONE entries match when bit 0x100 is set). Returns the
        number deleted."""
        count = 0
        for n in self.entries(dev):
            st = n.nud_state
            if (st & states) or (st == NUD_NONE and states & 0x100):
                if n.dead:
                    continue
                self.update(n, None, NUD_FAILED, NEIGH_UPDATE_F_OVERRIDE | NEIGH_UPDATE_F_ADMIN)
                if self.remove_one(n):
                    count += 1
        return count

    def parms_info(self, name: str = "default") -> dict[str, int]:
        """One parms block as ``ip ntable show`` prints it (times in ms, queue in packets)."""
        sysctl = self.ns.sysctl

        def p(key: str) -> int:
            return sysctl.neigh(name, key)

        return {
            "refcnt": 1, "reachable": self.reachable_time_of(name) // NSEC_PER_MSEC,
            "base_reachable": p("base_reachable_time_ms"), "retrans": p("retrans_time_ms"),
            "gc_stale": p("gc_stale_time") * 1000, "delay_probe": p("delay_first_probe_time") * 1000,
            "queue": p("unres_qlen"), "app_probes": p("app_solicit"), "ucast_probes": p("ucast_solicit"),
            "mcast_probes": p("mcast_solicit"), "mcast_reprobes": p("mcast_resolicit"),
            "anycast_delay": p("anycast_delay") * 10, "proxy_delay": p("proxy_delay") * 10,
            "proxy_queue": p("proxy_qlen"), "locktime": p("locktime") * 10,
        }

    def table_info(self) -> dict[str, int]:
        """The table-wide part of ``ip ntable show`` (thresholds, gc_int in ms, sizes)."""
        return {
            "thresh1": self._gparm("gc_thresh1"), "thresh2": self._gparm("gc_thresh2"),
            "thresh3": self._gparm("gc_thresh3"), "gc_int": self._gparm("gc_interval") * 1000,
            "entries": len(self.hash), "gc_entries": len(self.gc_list), "hash_shift": self.hash_shift,
            "last_flush": self.last_flush, "last_rand": self.last_rand,
        }

    @property
    def gc_entries(self) -> int:
        return len(self.gc_list)

    def __len__(self) -> int:
        return len(self.hash)
