"""The bridge forwarding database (net/bridge/br_fdb.c): learning, local entries, ageing, user entries.

Guarantees, as br_fdb.c:
- Entries are keyed by (MAC, VLAN id); tuxnet has no VLAN filtering, so the id is always 0 (a kernel
  built with CONFIG_BRIDGE_VLAN_FILTERING also keeps a "vlan 1" copy of each local entry; one built
  without it, like the reference kernel these outputs were checked on, shows none).
- A dump lists entries newest first (``hlist_add_head`` on ``br->fdb_list``); changing an entry's
  port does not move it.
- Learning (``br_fdb_update``) never overwrites a local entry, is off while ``ageing_time`` is 0
  ("some users want to always flood") and moves a learned MAC to the port it was last seen on.
- Ageing is ``br_fdb_cleanup``: a periodic job (first run 100 ms after the bridge opens) deletes every
  dynamic entry whose ``updated + ageing_time <= now`` and sleeps until the next entry is due (at least
  10 ms, at most ``ageing_time``). Between expiry and the next run an entry dumps as "stale".
- Local entries (``permanent``) exist for each port's MAC and for the bridge's own MAC when no port
  has it; ``fdb_delete_local`` hands an entry to another port (or to the bridge) with the same MAC
  instead of deleting it.
- ``add``/``delete`` are br_fdb_add/br_fdb_delete (``bridge fdb add|del ... master``) and raise
  ``OSError`` with the errno the kernel returns.

Also here: the device unicast/multicast address lists that ``ndo_dflt_fdb_add``/``ndo_dflt_fdb_dump``
use for ``self`` entries on ordinary devices (dev_uc_add/dev_mc_add), kept beside the device.
"""

from __future__ import annotations

import errno
import weakref
from typing import TYPE_CHECKING

from tuxnet.core.errors import oserror
from tuxnet.core.loop import NSEC_PER_MSEC

if TYPE_CHECKING:
    from tuxnet.bridge.bridge import BridgeDevice, BridgePort
    from tuxnet.core.loop import Timer
    from tuxnet.drivers.netdevice import NetDevice

# enum net_bridge_fdb_flags (net/bridge/br_private.h), as bit masks
BR_FDB_LOCAL = 1 << 0
BR_FDB_STATIC = 1 << 1
BR_FDB_STICKY = 1 << 2
BR_FDB_ADDED_BY_USER = 1 << 3
BR_FDB_ADDED_BY_EXT_LEARN = 1 << 4
BR_FDB_OFFLOADED = 1 << 5
BR_FDB_DYNAMIC_LEARNED = 1 << 9

# include/uapi/linux/neighbour.h
NUD_REACHABLE = 0x02
NUD_STALE = 0x04
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
NTF_USE = 0x01
NTF_SELF = 0x02
NTF_MASTER = 0x04
NTF_STICKY = 0x40

# include/uapi/linux/netlink.h (RTM_NEWNEIGH flags)
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_APPEND = 0x800

GC_MIN_DELAY_NS = 10 * NSEC_PER_MSEC  # "Cleanup minimum 10 milliseconds apart"
GC_FIRST_DELAY_NS = 100 * NSEC_PER_MSEC  # br_stp_enable_bridge: mod_delayed_work(..., HZ / 10)


def is_multicast_ether_addr(addr: bytes) -> bool:
    return bool(addr[0] & 1)


def is_zero_ether_addr(addr: bytes) -> bool:
    return addr == b"\x00" * 6


def is_valid_ether_addr(addr: bytes) -> bool:
    """is_valid_ether_addr: not multicast (so not broadcast) and not all zeros."""
    return not addr[0] & 1 and addr != b"\x00" * 6


class FdbEntry:
    """struct net_bridge_fdb_entry. ``dst`` is the port (None: the bridge device itself)."""

    __slots__ = ("addr", "vlan_id", "dst", "flags", "updated", "used")

    def __init__(self, addr: bytes, vlan_id: int, dst: BridgePort | None, flags: int, now: int) -> None:
        self.addr = addr
        self.vlan_id = vlan_id
        self.dst = dst
        self.flags = flags
        self.updated = now
        self.used = now

    @property
    def is_local(self) -> bool:
        return bool(self.flags & BR_FDB_LOCAL)

    @property
    def is_static(self) -> bool:
        return bool(self.flags & BR_FDB_STATIC)

    def __repr__(self) -> str:
        port = self.dst.dev.name if self.dst is not None else "(bridge)"
        return f"<FdbEntry {self.addr.hex(':')} vlan {self.vlan_id} {port} flags={self.flags:#x}>"


class Fdb:
    """One bridge's forwarding database and its ageing job."""

    __slots__ = ("br", "table", "_gc_timer", "n_learned", "max_learned")

    def __init__(self, br: BridgeDevice) -> None:
        self.br = br
        # dict order is insertion order: a dump walks it backwards, newest first, like fdb_list
        self.table: dict[tuple[bytes, int], FdbEntry] = {}
        self._gc_timer: Timer | None = None
        self.n_learned = 0
        self.max_learned = 0  # fdb_max_learned: 0 = no limit

    # ------------------------------------------------------------ lookup
    def find(self, addr: bytes, vid: int = 0) -> FdbEntry | None:
        """br_fdb_find_rcu."""
        return self.table.get((addr, vid))

    def entries(self) -> list[FdbEntry]:
        """All entries in dump order (newest first)."""
        return list(reversed(self.table.values()))

    def hold_time(self) -> int:
        """hold_time(): forward_delay only while an STP topology change runs; tuxnet has no STP."""
        return self.br.ageing_time_ns

    def has_expired(self, f: FdbEntry, now: int) -> bool:
        return (not f.flags & (BR_FDB_STATIC | BR_FDB_ADDED_BY_EXT_LEARN)
                and f.updated + self.hold_time() <= now)

    def to_nud(self, f: FdbEntry, now: int) -> int:
        """fdb_to_nud: the neighbour state a dump reports."""
        if f.flags & BR_FDB_LOCAL:
            return NUD_PERMANENT
        if f.flags & BR_FDB_STATIC:
            return NUD_NOARP
        if self.has_expired(f, now):
            return NUD_STALE
        return NUD_REACHABLE

    # ------------------------------------------------------------ create/delete
    def _create(self, source: BridgePort | None, addr: bytes, vid: int, flags: int) -> FdbEntry | None:
        """fdb_create."""
        learned = not flags & (BR_FDB_ADDED_BY_USER | BR_FDB_LOCAL)
        if learned:
            if self.max_learned and self.n_learned >= self.max_learned:
                return None
            flags |= BR_FDB_DYNAMIC_LEARNED
            self.n_learned += 1
        f = FdbEntry(addr, vid, source, flags, self.br.ns.now)
        self.table[(addr, vid)] = f
        return f

    def _delete(self, f: FdbEntry) -> None:
        """fdb_delete. Static entries would also leave the ports' unicast filters (fdb_del_hw_addr);
        every port of a bridge without VLAN filtering is promiscuous, so there is nothing to undo."""
        if self.table.get((f.addr, f.vlan_id)) is f:
            del self.table[(f.addr, f.vlan_id)]
        if f.flags & BR_FDB_DYNAMIC_LEARNED:
            f.flags &= ~BR_FDB_DYNAMIC_LEARNED
            self.n_learned -= 1

    def _delete_local(self, p: BridgePort | None, f: FdbEntry) -> None:
        """fdb_delete_local: keep the entry if another port, or the bridge, has the same MAC."""
        for op in self.br.ports:
            if op is not p and op.dev.mac == f.addr:
                f.dst = op
                f.flags &= ~BR_FDB_ADDED_BY_USER
                return
        if p is not None and self.br.mac == f.addr:
            f.dst = None
            f.flags &= ~BR_FDB_ADDED_BY_USER
            return
        self._delete(f)

    def add_local(self, source: BridgePort | None, addr: bytes, vid: int = 0) -> int:
        """fdb_add_local: 0, or -EINVAL for an address that cannot be local."""
        if not is_valid_ether_addr(addr):
            return -errno.EINVAL
        f = self.find(addr, vid)
        if f is not None:
            # "it is okay to have multiple ports with same address, just use the first one"
            if f.flags & BR_FDB_LOCAL:
                return 0
            self._delete(f)  # br_warn: adding interface with same address as a received packet
        if self._create(source, addr, vid, BR_FDB_LOCAL | BR_FDB_STATIC) is None:
            return -errno.ENOMEM
        return 0

    def find_delete_local(self, p: BridgePort | None, addr: bytes, vid: int = 0) -> None:
        f = self.find(addr, vid)
        if (f is not None and f.flags & BR_FDB_LOCAL and not f.flags & BR_FDB_ADDED_BY_USER
                and f.dst is p):
            self._delete_local(p, f)

    def changeaddr(self, p: BridgePort, newaddr: bytes) -> None:
        """br_fdb_changeaddr: a port's MAC changed; move its local entry."""
        for f in self.entries():
            if f.dst is p and f.flags & BR_FDB_LOCAL and not f.flags & BR_FDB_ADDED_BY_USER:
                self._delete_local(p, f)
                break  # no VLANs: the port has one local entry
        self.add_local(p, newaddr, 0)

    def change_mac_address(self, newaddr: bytes) -> None:
        """br_fdb_change_mac_address: the bridge device's own MAC changes to ``newaddr``."""
        f = self.find(self.br.mac, 0)
        if (f is not None and f.flags & BR_FDB_LOCAL and f.dst is None
                and not f.flags & BR_FDB_ADDED_BY_USER):
            self._delete_local(None, f)
        self.add_local(None, newaddr, 0)

    def delete_by_port(self, p: BridgePort, vid: int = 0, do_all: bool = False) -> None:
        """br_fdb_delete_by_port: flush what a port learned (``do_all``: static and local too)."""
        for f in self.entries():
            if f.dst is not p:
                continue
            if not do_all and (f.flags & BR_FDB_STATIC
                               or (f.flags & BR_FDB_ADDED_BY_EXT_LEARN and not f.flags & BR_FDB_OFFLOADED)
                               or (vid and f.vlan_id != vid)):
                continue
            if f.flags & BR_FDB_LOCAL:
                self._delete_local(p, f)
            else:
                self._delete(f)

    def flush(self) -> None:
        """br_fdb_flush with an empty description: every entry that is not local goes (what
        ``ip link set BR type bridge fdb_flush`` does, which keeps ``permanent`` entries)."""
        for f in self.entries():
            if not f.flags & BR_FDB_LOCAL:
                self._delete(f)

    # ------------------------------------------------------------ learning
    def update(self, source: BridgePort, addr: bytes, vid: int = 0, flags: int = 0) -> None:
        """br_fdb_update: learn ``addr`` behind ``source``."""
        if self.hold_time() == 0:
            return
        f = self.table.get((addr, vid))
        if f is not None:
            if f.flags & BR_FDB_LOCAL:
                return  # "received packet on %s with own address as source address"
            f.updated = self.br.ns.now
            if f.dst is not source and not f.flags & BR_FDB_STICKY:
                f.dst = source
                f.flags &= ~BR_FDB_ADDED_BY_EXT_LEARN
            if flags & BR_FDB_ADDED_BY_USER:
                f.flags |= BR_FDB_ADDED_BY_USER
                if f.flags & BR_FDB_DYNAMIC_LEARNED:
                    f.flags &= ~BR_FDB_DYNAMIC_LEARNED
                    self.n_learned -= 1
        else:
            self._create(source, addr, vid, flags)

    # ------------------------------------------------------------ ageing
    def start_gc(self, delay_ns: int = GC_FIRST_DELAY_NS) -> None:
        """(Re)schedule br_fdb_cleanup ``delay_ns`` from now (mod_delayed_work)."""
        self.stop_gc()
        loop = self.br.ns.loop
        self._gc_timer = loop.call_at_ns(loop.now_ns + delay_ns, self.cleanup)

    def stop_gc(self) -> None:
        if self._gc_timer is not None:
            self._gc_timer.cancel()
            self._gc_timer = None

    def cleanup(self) -> None:
        """br_fdb_cleanup: delete expired dynamic entries, sleep until the next one is due."""
        self._gc_timer = None
        delay = self.hold_time()
        work_delay = delay
        now = self.br.ns.now
        for f in self.entries():
            if f.flags & (BR_FDB_STATIC | BR_FDB_ADDED_BY_EXT_LEARN):
                continue
            this_timer = f.updated + delay
            if this_timer > now:
                work_delay = min(work_delay, this_timer - now)
            else:
                self._delete(f)
        self.start_gc(max(work_delay, GC_MIN_DELAY_NS))

    # ------------------------------------------------------------ user requests (RTM_NEWNEIGH/DELNEIGH)
    def add(self, source: BridgePort | None, addr: bytes, state: int, nlh_flags: int,
            ndm_flags: int = 0, vid: int = 0) -> None:
        """br_fdb_add + fdb_add_entry. ``source`` None: an entry for the bridge device itself."""
        if not state & (NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE):
            raise oserror(errno.EINVAL, f"bridge: RTM_NEWNEIGH with invalid state {state:#x}")
        if is_zero_ether_addr(addr):
            raise oserror(errno.EINVAL, "bridge: RTM_NEWNEIGH with invalid ether address")
        if vid:
            # br_vlan_find() finds nothing: no VLANs are configured on a tuxnet bridge
            raise oserror(errno.EINVAL, f"bridge: RTM_NEWNEIGH with unconfigured vlan {vid}")
        if ndm_flags & NTF_USE:
            if source is None:
                raise oserror(errno.EINVAL, "bridge: RTM_NEWNEIGH with NTF_USE is not supported")
            if source.state_should_learn():
                self.update(source, addr, 0, BR_FDB_ADDED_BY_USER)
            return
        is_sticky = bool(ndm_flags & NTF_STICKY)
        if (source is not None and not state & (NUD_PERMANENT | NUD_NOARP)
                and not source.state_should_learn()):
            raise oserror(errno.EPERM)
        if source is None and not state & NUD_PERMANENT:
            raise oserror(errno.EINVAL, f"bridge: RTM_NEWNEIGH {self.br.name} without NUD_PERMANENT")
        if is_sticky and state & NUD_PERMANENT:
            raise oserror(errno.EINVAL)
        now = self.br.ns.now
        f = self.find(addr, 0)
        modified = False
        if f is None:
            if not nlh_flags & NLM_F_CREATE:
                raise oserror(errno.ENOENT)
            f = self._create(source, addr, 0, BR_FDB_ADDED_BY_USER)
            if f is None:
                raise oserror(errno.ENOMEM)
            modified = True
        else:
            if nlh_flags & NLM_F_EXCL:
                raise oserror(errno.EEXIST)
            if f.dst is not source:
                f.dst = source
                modified = True
            f.flags |= BR_FDB_ADDED_BY_USER
            if f.flags & BR_FDB_DYNAMIC_LEARNED:
                f.flags &= ~BR_FDB_DYNAMIC_LEARNED
                self.n_learned -= 1
        if self.to_nud(f, now) != state:
            if state & NUD_PERMANENT:
                f.flags |= BR_FDB_LOCAL | BR_FDB_STATIC
            elif state & NUD_NOARP:
                f.flags = (f.flags & ~BR_FDB_LOCAL) | BR_FDB_STATIC
            else:
                f.flags &= ~(BR_FDB_LOCAL | BR_FDB_STATIC)
            modified = True
        if is_sticky != bool(f.flags & BR_FDB_STICKY):
            f.flags ^= BR_FDB_STICKY
            modified = True
        f.used = now
        if modified:
            f.updated = now

    def delete(self, source: BridgePort | None, addr: bytes, vid: int = 0) -> None:
        """br_fdb_delete / fdb_delete_by_addr_and_port: ENOENT unless the entry points at ``source``."""
        if vid:
            raise oserror(errno.EINVAL, f"bridge: RTM_DELNEIGH with unconfigured vlan {vid}")
        f = self.find(addr, 0)
        if f is None or f.dst is not source:
            raise oserror(errno.ENOENT)
        self._delete(f)


# ---------------------------------------------------------------- device address lists
class DevAddrLists:
    """A device's secondary unicast and multicast lists (dev->uc, dev->mc) as ``self`` fdb entries."""

    __slots__ = ("uc", "mc")

    def __init__(self) -> None:
        self.uc: list[bytes] = []
        self.mc: list[bytes] = []


_DEV_ADDRS: weakref.WeakKeyDictionary[NetDevice, DevAddrLists] = weakref.WeakKeyDictionary()


def dev_addr_lists(dev: NetDevice) -> DevAddrLists:
    lists = _DEV_ADDRS.get(dev)
    if lists is None:
        lists = _DEV_ADDRS[dev] = DevAddrLists()
    return lists


def dflt_fdb_add(dev: NetDevice, addr: bytes, state: int, nlh_flags: int, vid: int = 0) -> None:
    """ndo_dflt_fdb_add: ``bridge fdb add ADDR dev DEV self`` on an ordinary device."""
    if state and not state & NUD_PERMANENT:
        raise oserror(errno.EINVAL, f"{dev.name}: default FDB implementation only supports local addresses")
    if vid:
        raise oserror(errno.EINVAL, "vlans aren't supported yet for dev_uc|mc_add()")
    lists = dev_addr_lists(dev)
    target = lists.mc if is_multicast_ether_addr(addr) and addr[:5] != b"\x01\x80\xc2\x00\x00" else lists.uc
    if addr in target:
        if nlh_flags & NLM_F_EXCL:
            raise oserror(errno.EEXIST)
        return
    target.append(addr)


def dflt_fdb_del(dev: NetDevice, addr: bytes, state: int, vid: int = 0) -> None:
    """ndo_dflt_fdb_del."""
    if not state & NUD_PERMANENT:
        raise oserror(errno.EINVAL, f"{dev.name}: FDB only supports static addresses")
    lists = dev_addr_lists(dev)
    target = lists.mc if is_multicast_ether_addr(addr) and addr[:5] != b"\x01\x80\xc2\x00\x00" else lists.uc
    if addr not in target:
        raise oserror(errno.ENOENT)
    target.remove(addr)


IPV4_ALL_HOSTS_MAC = bytes.fromhex("01005e000001")  # 224.0.0.1, joined by ip_mc_up on NETDEV_UP
IPV4_ALL_SNOOPERS_MAC = bytes.fromhex("01005e00006a")  # 224.0.0.106, br_multicast_join_snoopers


def dflt_fdb_addrs(dev: NetDevice) -> list[bytes]:
    """The addresses ndo_dflt_fdb_dump reports for ``dev``: its unicast list, then its multicast list.

    The multicast list holds what the IPv4 stack joined: 224.0.0.1 on every Ethernet device while it
    is up (ip_mc_up), and on an up bridge first 224.0.0.106 (multicast snooping joins the snoopers'
    group when the bridge opens). Linux also lists IPv6 groups (33:33:00:00:00:01, the solicited-node
    33:33:ff:xx:xx:xx, 33:33:00:00:00:6a); tuxnet has no IPv6, so those lines never appear.
    """
    from tuxnet.drivers.netdevice import ARPHRD_ETHER, IFF_UP

    lists = _DEV_ADDRS.get(dev)
    out: list[bytes] = list(lists.uc) if lists is not None else []
    if dev.type == ARPHRD_ETHER and dev.flags & IFF_UP and dev.in_dev is not None:
        if dev.kind == "bridge" and getattr(dev, "multicast_snooping", 0):
            out.append(IPV4_ALL_SNOOPERS_MAC)
        out.append(IPV4_ALL_HOSTS_MAC)
    if lists is not None:
        out.extend(lists.mc)
    return out
