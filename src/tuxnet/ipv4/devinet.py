"""IPv4 addresses on devices (net/ipv4/devinet.c): in_device, in_ifaddr, primaries and secondaries.

- An address whose subnet already has a primary on the device becomes a secondary (IFA_F_SECONDARY).
- Deleting a primary deletes its secondaries, or promotes the first one when
  ``net.ipv4.conf.DEV.promote_secondaries`` is set (__inet_del_ifa).
- Bringing ``lo`` up adds 127.0.0.1/8 scope host, as inetdev_event(NETDEV_UP) does for loopback.
- ``inet_select_addr`` picks a source address as Linux does: a primary address of the device whose
  scope is wide enough, preferring one on the destination's subnet, else one from any other device
  whose scope is not link.

Listeners on ``ns.inetaddr_notifier`` (the FIB's fib_inetaddr_event) add and remove the local,
broadcast and prefix routes.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from tuxnet.core.errors import oserror
from tuxnet.wire.addr import ip_ntoa as _ntoa
from tuxnet.wire.addr import prefix_mask

if TYPE_CHECKING:
    from tuxnet.drivers.netdevice import NetDevice
    from tuxnet.netns import Namespace

# include/uapi/linux/rtnetlink.h enum rt_scope_t
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_SITE = 200
RT_SCOPE_LINK = 253
RT_SCOPE_HOST = 254
RT_SCOPE_NOWHERE = 255
SCOPE_NAMES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}

# include/uapi/linux/if_addr.h
IFA_F_SECONDARY = 0x01
IFA_F_NODAD = 0x02
IFA_F_PERMANENT = 0x80
IFA_F_NOPREFIXROUTE = 0x200

LOOPBACK_NET = 0x7F000000


class InIfaddr:
    """struct in_ifaddr: one IPv4 address on one device."""

    __slots__ = ("dev", "local", "address", "prefixlen", "mask", "broadcast", "label", "scope", "flags",
                 "proto", "metric")

    def __init__(self, dev: NetDevice, local: int, prefixlen: int, *, peer: int | None = None,
                 broadcast: int = 0, label: str | None = None, scope: int = RT_SCOPE_UNIVERSE,
                 flags: int = IFA_F_PERMANENT, metric: int = 0, proto: int = 0) -> None:
        self.dev = dev
        self.local = local
        self.address = peer if peer is not None else local  # IFA_ADDRESS (peer on point-to-point)
        self.prefixlen = prefixlen
        self.mask = prefix_mask(prefixlen)
        self.broadcast = broadcast
        self.label = label or dev.name
        self.scope = scope
        self.flags = flags
        self.metric = metric
        self.proto = proto

    @property
    def secondary(self) -> bool:
        return bool(self.flags & IFA_F_SECONDARY)

    @property
    def prefix(self) -> int:
        return self.address & self.mask

    def match(self, addr: int) -> bool:
        """inet_ifa_match: same subnet."""
        return ((addr ^ self.address) & self.mask) == 0

    def __repr__(self) -> str:
        return f"<InIfaddr {_ntoa(self.local)}/{self.prefixlen} dev {self.dev.name}>"


class InDevice:
    """struct in_device: the IPv4 state of one device."""

    __slots__ = ("dev", "ifa_list")

    def __init__(self, dev: NetDevice) -> None:
        self.dev = dev
        self.ifa_list: list[InIfaddr] = []

    def primaries(self) -> list[InIfaddr]:
        return [i for i in self.ifa_list if not i.flags & IFA_F_SECONDARY]


class DevInet:
    """Per-namespace address management (``ns.devinet``)."""

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        ns.netdev_notifier.append(self._netdev_event)

    def _netdev_event(self, event: str, dev: NetDevice) -> None:
        if event == "register":
            dev.in_dev = InDevice(dev)
        elif event == "up" and dev.kind == "loopback":
            if not any(i.local == 0x7F000001 for i in dev.in_dev.ifa_list):
                self.add(dev, 0x7F000001, 8, scope=RT_SCOPE_HOST, broadcast=0)
        elif event == "unregister":
            for ifa in list(dev.in_dev.ifa_list) if dev.in_dev else []:
                self.delete(dev, ifa.local, ifa.prefixlen)

    # ------------------------------------------------------------------
    def add(self, dev: NetDevice, local: int, prefixlen: int, *, peer: int | None = None,
            broadcast: int | None = None, label: str | None = None, scope: int | None = None,
            noprefixroute: bool = False, metric: int = 0) -> InIfaddr:
        """inet_rtm_newaddr / __inet_insert_ifa."""
        if not 0 <= prefixlen <= 32:
            raise oserror(errno.EINVAL)
        in_dev: InDevice = dev.in_dev
        for ifa in in_dev.ifa_list:
            if ifa.local == local and ifa.prefixlen == prefixlen and ifa.address == (peer or local):
                raise oserror(errno.EEXIST, "RTNETLINK answers: File exists")
        if scope is None:
            scope = RT_SCOPE_HOST if (local & 0xFF000000) == LOOPBACK_NET else RT_SCOPE_UNIVERSE
        flags = IFA_F_PERMANENT | (IFA_F_NOPREFIXROUTE if noprefixroute else 0)
        ifa = InIfaddr(dev, local, prefixlen, peer=peer, broadcast=broadcast or 0, label=label,
                       scope=scope, flags=flags, metric=metric)
        # an address in the subnet of an existing primary (same mask and scope) is a secondary
        for prim in in_dev.ifa_list:
            if (not prim.flags & IFA_F_SECONDARY and prim.mask == ifa.mask and prim.match(local)):
                if prim.scope != ifa.scope:
                    raise oserror(errno.EINVAL)
                ifa.flags |= IFA_F_SECONDARY
                break
        if ifa.flags & IFA_F_SECONDARY:
            in_dev.ifa_list.append(ifa)
        else:
            # primaries go after the last primary, before secondaries (__inet_insert_ifa)
            idx = len([i for i in in_dev.ifa_list if not i.flags & IFA_F_SECONDARY])
            in_dev.ifa_list.insert(idx, ifa)
        self.ns.inetaddr_event("add", ifa)
        return ifa

    def delete(self, dev: NetDevice, local: int, prefixlen: int | None = None) -> InIfaddr:
        """inet_rtm_deladdr / __inet_del_ifa (with secondary promotion)."""
        in_dev: InDevice = dev.in_dev
        target = None
        for ifa in in_dev.ifa_list:
            if ifa.local == local and (prefixlen is None or ifa.prefixlen == prefixlen):
                target = ifa
                break
        if target is None:
            raise oserror(errno.EADDRNOTAVAIL, "RTNETLINK answers: Cannot assign requested address")
        in_dev.ifa_list.remove(target)
        if not target.flags & IFA_F_SECONDARY:
            promote = self.ns.sysctl.conf(dev.name, "promote_secondaries")
            subnet = [i for i in in_dev.ifa_list if i.flags & IFA_F_SECONDARY and i.mask == target.mask
                      and target.match(i.local)]
            if promote and subnet:
                self.ns.inetaddr_event("del", target)
                first = subnet[0]
                first.flags &= ~IFA_F_SECONDARY
                # the promoted address's routes are re-added as a primary's
                self.ns.inetaddr_event("del", first)
                self.ns.inetaddr_event("add", first)
                return target
            for sec in subnet:
                in_dev.ifa_list.remove(sec)
                self.ns.inetaddr_event("del", sec)
        self.ns.inetaddr_event("del", target)
        return target

    def flush(self, dev: NetDevice) -> None:
        for ifa in list(reversed(dev.in_dev.ifa_list)):
            if ifa in dev.in_dev.ifa_list:
                self.delete(dev, ifa.local, ifa.prefixlen)

    # ------------------------------------------------------------------
    def all_addrs(self) -> list[InIfaddr]:
        out: list[InIfaddr] = []
        for dev in self.ns.devices.values():
            if dev.in_dev is not None:
                out.extend(dev.in_dev.ifa_list)
        return out

    def ifa_for_local(self, local: int) -> InIfaddr | None:
        for ifa in self.all_addrs():
            if ifa.local == local:
                return ifa
        return None

    def select_addr(self, dev: NetDevice | None, dst: int, scope: int) -> int:
        """inet_select_addr: the source address for sending to ``dst`` out of ``dev``."""
        addr = 0
        if dev is not None and dev.in_dev is not None:
            for ifa in dev.in_dev.ifa_list:
                if ifa.flags & IFA_F_SECONDARY:
                    continue
                if min(ifa.scope, RT_SCOPE_LINK if dev.kind != "loopback" else ifa.scope) > scope:
                    continue
                if not dst or ifa.match(dst):
                    return ifa.local
                if not addr:
                    addr = ifa.local
            if addr:
                return addr
        # Not found on the device: any primary of scope < link, scope <= wanted, on any device
        # (in ifindex order, for_each_netdev_rcu).
        for d in sorted(self.ns.devices.values(), key=lambda d: d.ifindex):
            if d.in_dev is None:
                continue
            for ifa in d.in_dev.ifa_list:
                if ifa.flags & IFA_F_SECONDARY:
                    continue
                if ifa.scope != RT_SCOPE_LINK and ifa.scope <= scope:
                    return ifa.local
        return 0


def init_devinet(ns: Namespace) -> DevInet:
    return DevInet(ns)
