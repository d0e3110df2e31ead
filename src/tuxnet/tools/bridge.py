"""bridge(8) from iproute2 6.1: ``bridge [-s] fdb {show|add|append|replace|del}`` and ``bridge [-d] link``.

``bridge fdb show`` walks devices in ifindex order as the kernel's rtnl_fdb_dump does: for a bridge
port, the bridge's entries that point at it (newest first), then the device's own ``self`` entries;
for a bridge, its ``self`` entries, then the entries that belong to the bridge itself. Lines read
``02:00:00:00:00:01 dev veth0 master br0 `` (learned), ``... master br0 permanent`` (local),
``... master br0 static`` and ``01:00:5e:00:00:01 dev br0 self permanent``; ``-s`` adds
``used SECONDS/SECONDS``. Compared with a Linux 6.x kernel the only lines missing are the IPv6
multicast ones (33:33:...: all-nodes, solicited-node, all-snoopers): tuxnet has no IPv6.

``bridge fdb add|append|replace|del ADDR dev DEV [master|self] [local|static|dynamic] [vlan VID]``
goes through rtnl_fdb_add/rtnl_fdb_del: ``master`` (the default for ports is ``self``, as the tool
assumes) reaches the port's bridge, ``self`` the device itself (a bridge, or an ordinary device's
address lists). Errors read ``RTNETLINK answers: File exists`` etc.; usage errors exit 255 like the
tool (``Device and address are required arguments.``, ``Invalid mac address X``).
"""

from __future__ import annotations

import errno
import re
from typing import TYPE_CHECKING, TextIO

from tuxnet.bridge.bridge import BridgeDevice, BridgePort
from tuxnet.bridge.fdb import (
    BR_FDB_STICKY,
    NLM_F_APPEND,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REPLACE,
    NTF_MASTER,
    NTF_SELF,
    NTF_STICKY,
    NTF_USE,
    NUD_NOARP,
    NUD_PERMANENT,
    NUD_REACHABLE,
    NUD_STALE,
    dflt_fdb_add,
    dflt_fdb_addrs,
    dflt_fdb_del,
)
from tuxnet.core.errors import oserror
from tuxnet.core.loop import NSEC_PER_SEC
from tuxnet.drivers.netdevice import ARPHRD_ETHER
from tuxnet.tools.ip.common import matches
from tuxnet.wire.addr import mac_ntoa

if TYPE_CHECKING:
    from tuxnet.drivers.netdevice import NetDevice
    from tuxnet.netns import Namespace

USAGE = (
    "Usage: bridge [ OPTIONS ] OBJECT { COMMAND | help }\n"
    "       bridge [ -force ] -batch filename\n"
    "where  OBJECT := { link | fdb | mdb | vlan | monitor }\n"
    "       OPTIONS := { -V[ersion] | -s[tatistics] | -d[etails] |\n"
    "                    -o[neline] | -t[imestamp] | -n[etns] name |\n"
    "                    -c[ompressvlans] -color -p[retty] -j[son] }\n"
)
FDB_USAGE = (
    "Usage: bridge fdb { add | append | del | replace } ADDR dev DEV\n"
    "              [ self ] [ master ] [ use ] [ router ] [ extern_learn ]\n"
    "              [ sticky ] [ local | static | dynamic ] [ vlan VID ]\n"
    "              { [ dst IPADDR ] [ port PORT] [ vni VNI ] | [ nhid NHID ] }\n"
    "\t       [ via DEV ] [ src_vni VNI ]\n"
    "       bridge fdb [ show [ br BRDEV ] [ brport DEV ] [ vlan VID ]\n"
    "              [ state STATE ] [ dynamic ] ]\n"
    "       bridge fdb get [ to ] LLADDR [ br BRDEV ] { brport | dev } DEV\n"
    "              [ vlan VID ] [ vni VNI ] [ self ] [ master ] [ dynamic ]\n"
    "       bridge fdb flush dev DEV [ brport DEV ] [ vlan VID ]\n"
    "              [ self ] [ master ] [ [no]permanent | [no]static | [no]dynamic ]\n"
    "              [ [no]added_by_user ] [ [no]extern_learn ] [ [no]sticky ]\n"
    "              [ [no]offloaded ]\n"
)
LINK_USAGE = (
    "Usage: bridge link set dev DEV [ cost COST ] [ priority PRIO ] [ state STATE ]\n"
    "                               [ guard {on | off} ]\n"
    "                               [ hairpin {on | off} ]\n"
    "                               [ fastleave {on | off} ]\n"
    "                               [ root_block {on | off} ]\n"
    "                               [ learning {on | off} ]\n"
    "                               [ learning_sync {on | off} ]\n"
    "                               [ flood {on | off} ]\n"
    "                               [ mcast_flood {on | off} ]\n"
    "                               [ bcast_flood {on | off} ]\n"
    "                               [ mcast_to_unicast {on | off} ]\n"
    "                               [ neigh_suppress {on | off} ]\n"
    "                               [ vlan_tunnel {on | off} ]\n"
    "                               [ isolated {on | off} ]\n"
    "                               [ locked {on | off} ]\n"
    "                               [ hwmode {vepa | veb} ]\n"
    "                               [ backup_port DEVICE ] [ nobackup_port ]\n"
    "                               [ self ] [ master ]\n"
    "       bridge link show [dev DEV]\n"
)

_MAC = re.compile(r"\s*([0-9a-fA-F]+):([0-9a-fA-F]+):([0-9a-fA-F]+):([0-9a-fA-F]+):([0-9a-fA-F]+):"
                  r"([0-9a-fA-F]+)")
_IFF_NAMES = (("LOOPBACK", 0x8), ("BROADCAST", 0x2), ("POINTOPOINT", 0x10), ("MULTICAST", 0x1000),
              ("NOARP", 0x80), ("ALLMULTI", 0x200), ("PROMISC", 0x100), ("MASTER", 0x400), ("SLAVE", 0x800),
              ("DEBUG", 0x4), ("DYNAMIC", 0x8000), ("AUTOMEDIA", 0x4000), ("PORTSEL", 0x2000),
              ("NOTRAILERS", 0x20), ("UP", 0x1), ("LOWER_UP", 0x10000), ("DORMANT", 0x20000),
              ("ECHO", 0x40000))
IFF_UP, IFF_RUNNING = 0x1, 0x40


class BridgeExit(Exception):
    def __init__(self, rc: int, message: str) -> None:
        super().__init__(message)
        self.rc = rc
        self.message = message


def _next(argv: list[str], i: int) -> str:
    if i + 1 >= len(argv):
        raise BridgeExit(255, 'Command line is not complete. Try option "help"\n')
    return argv[i + 1]


def _port(dev: NetDevice) -> BridgePort | None:
    p = dev.rx_handler_data
    return p if isinstance(p, BridgePort) else None


# ================================================================ fdb show
def state_n2a(state: int) -> str:
    if state & NUD_PERMANENT:
        return "permanent"
    if state & NUD_NOARP:
        return "static"
    if state & NUD_STALE:
        return "stale"
    if state & NUD_REACHABLE:
        return ""
    return f"state={state:#x}"


def _state_a2n(text: str) -> int:
    if matches(text, "permanent"):
        return NUD_PERMANENT
    if matches(text, "static") or matches(text, "temp"):
        return NUD_NOARP
    if matches(text, "stale"):
        return NUD_STALE
    if matches(text, "reachable") or matches(text, "dynamic"):
        return NUD_REACHABLE
    if text == "all":
        return 0xFFFF
    try:
        return int(text, 0)
    except ValueError:
        raise BridgeExit(255, f'Error: argument "{text}" is wrong: invalid state\n') from None


def fdb_show(ns: Namespace, argv: list[str], stats: bool, out: TextIO) -> int:
    filter_dev = br_name = None
    filter_vlan = filter_state = 0
    filter_dynamic = False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("brport", "dev"):
            filter_dev = _next(argv, i)
            i += 1
        elif a == "br":
            br_name = _next(argv, i)
            i += 1
        elif a == "vlan":
            v = _next(argv, i)
            if filter_vlan:
                raise BridgeExit(255, f'Error: duplicate "vlan": "{v}" is the second value.\n')
            filter_vlan = int(v) if v.isdigit() else 0
            i += 1
        elif a == "state":
            filter_state |= _state_a2n(_next(argv, i))
            i += 1
        elif a == "dynamic":
            filter_dynamic = True
        elif matches(a, "help"):
            raise BridgeExit(255, FDB_USAGE)
        i += 1
    br = None
    if br_name is not None:
        br = ns.devices.get(br_name)
        if br is None:
            raise BridgeExit(255, f'Cannot find bridge device "{br_name}"\n')
    fdev = None
    if filter_dev is not None:
        fdev = ns.devices.get(filter_dev)
        if fdev is None:
            raise BridgeExit(255, f'Cannot find device "{filter_dev}"\n')
    now = ns.now
    for idx in sorted(ns.by_index):
        dev = ns.by_index[idx]
        if fdev is not None and dev is not fdev:
            continue
        port = _port(dev)
        if br is not None:
            if dev is not br and port is None:
                continue
            if (port is None or port.br is not br) and not isinstance(dev, BridgeDevice):
                continue
        lines: list[tuple[bytes, int, int, int, BridgeDevice | None, tuple[int, int] | None]] = []
        # (mac, ifindex, ndm_flags, state, master, (used, updated))
        if port is not None:
            pbr = port.br
            for f in pbr.fdb.entries():
                if f.dst is port:
                    sticky = NTF_STICKY if f.flags & BR_FDB_STICKY else 0
                    lines.append((f.addr, dev.ifindex, sticky, pbr.fdb.to_nud(f, now), pbr,
                                  (f.used, f.updated)))
        for addr in dflt_fdb_addrs(dev):
            lines.append((addr, dev.ifindex, NTF_SELF, NUD_PERMANENT, None, None))
        if isinstance(dev, BridgeDevice):
            for f in dev.fdb.entries():
                if f.dst is None:
                    lines.append((f.addr, dev.ifindex, 0, dev.fdb.to_nud(f, now), dev, (f.used, f.updated)))
        for addr, ifindex, flags, state, master, times in lines:
            if filter_state and not state & filter_state:
                continue
            if filter_vlan:
                continue  # every tuxnet entry has vlan 0
            if filter_dynamic and state & NUD_PERMANENT:
                continue
            s = f"{mac_ntoa(addr)} "
            if fdev is None:
                s += f"dev {ns.by_index[ifindex].name} "
            if stats and times is not None:
                used, updated = ((now - t) // NSEC_PER_SEC for t in times)
                s += f"used {used}/{updated} "
            if flags & NTF_SELF:
                s += "self "
            if master is not None:
                s += f"master {master.name} "
            if flags & NTF_STICKY:
                s += "sticky "
            out.write(s + state_n2a(state) + "\n")
    return 0


# ================================================================ fdb add/del
def _parse_mac(text: str) -> bytes | None:
    m = _MAC.match(text)
    if m is None:
        return None
    return bytes(int(g, 16) & 0xFF for g in m.groups())


def fdb_modify(ns: Namespace, cmd: str, argv: list[str]) -> int:
    nlh_flags = {"add": NLM_F_CREATE | NLM_F_EXCL, "append": NLM_F_CREATE | NLM_F_APPEND,
                 "replace": NLM_F_CREATE | NLM_F_REPLACE, "del": 0}[cmd]
    ndm_flags = 0
    state = NUD_NOARP
    devname = addr_text = None
    vid = -1
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "dev":
            devname = _next(argv, i)
            i += 1
        elif a in ("dst", "port", "vni", "via", "src_vni", "nhid"):
            raise BridgeExit(255, f'Error: "{a}" (VXLAN forwarding) is not supported by tuxnet\n')
        elif a == "self":
            ndm_flags |= NTF_SELF
        elif matches(a, "master"):
            ndm_flags |= NTF_MASTER
        elif matches(a, "router") or matches(a, "extern_learn"):
            pass  # NTF_ROUTER only matters to VXLAN; externally learned entries are not modelled
        elif matches(a, "local") or matches(a, "permanent"):
            state |= NUD_PERMANENT
        elif matches(a, "temp") or matches(a, "static"):
            state |= NUD_REACHABLE
        elif matches(a, "dynamic"):
            state = (state | NUD_REACHABLE) & ~NUD_NOARP
        elif matches(a, "vlan"):
            v = _next(argv, i)
            if vid >= 0:
                raise BridgeExit(255, f'Error: either "vlan" is duplicate, or "{v}" is a garbage.\n')
            vid = int(v) if v.isdigit() else 0
            i += 1
        elif matches(a, "use"):
            ndm_flags |= NTF_USE
        elif a == "sticky":
            ndm_flags |= NTF_STICKY
        else:
            if a == "to":
                a = _next(argv, i)
                i += 1
            if matches(a, "help"):
                raise BridgeExit(255, FDB_USAGE)
            if addr_text is not None:
                raise BridgeExit(255, f'Error: either "to" is duplicate, or "{a}" is a garbage.\n')
            addr_text = a
        i += 1
    if devname is None or addr_text is None:
        raise BridgeExit(255, "Device and address are required arguments.\n")
    if not ndm_flags & (NTF_SELF | NTF_MASTER):
        ndm_flags |= NTF_SELF  # "Assume self"
    if not state & (NUD_PERMANENT | NUD_REACHABLE):
        state |= NUD_PERMANENT  # "Assume permanent"
    addr = _parse_mac(addr_text)
    if addr is None:
        raise BridgeExit(255, f"Invalid mac address {addr_text}\n")
    dev = ns.devices.get(devname)
    if dev is None:
        raise BridgeExit(255, f'Cannot find device "{devname}"\n')
    try:
        if cmd == "del":
            rtnl_fdb_del(dev, addr, ndm_flags, state, max(vid, 0))
        else:
            rtnl_fdb_add(dev, addr, ndm_flags, state, nlh_flags, max(vid, 0))
    except OSError as e:
        raise BridgeExit(255, f"RTNETLINK answers: {e.strerror}\n") from None
    return 0


def rtnl_fdb_add(dev: NetDevice, addr: bytes, ndm_flags: int, state: int, nlh_flags: int,
                 vid: int = 0) -> None:
    """rtnl_fdb_add: the master's ndo_fdb_add for a port, then the device's own for ``self``."""
    if dev.type != ARPHRD_ETHER:
        raise oserror(errno.EINVAL, "FDB add only supported for Ethernet devices")
    done = False
    port = _port(dev)
    if (not ndm_flags or ndm_flags & NTF_MASTER) and port is not None:
        port.br.fdb.add(port, addr, state, nlh_flags, ndm_flags, vid)
        ndm_flags &= ~NTF_MASTER
        done = True
    if ndm_flags & NTF_SELF:
        if isinstance(dev, BridgeDevice):
            dev.fdb.add(None, addr, state, nlh_flags, ndm_flags, vid)
        else:
            dflt_fdb_add(dev, addr, state, nlh_flags, vid)
        done = True
    if not done:
        raise oserror(errno.EOPNOTSUPP)


def rtnl_fdb_del(dev: NetDevice, addr: bytes, ndm_flags: int, state: int, vid: int = 0) -> None:
    """rtnl_fdb_del."""
    if dev.type != ARPHRD_ETHER:
        raise oserror(errno.EINVAL)
    done = False
    port = _port(dev)
    if (not ndm_flags or ndm_flags & NTF_MASTER) and port is not None:
        port.br.fdb.delete(port, addr, vid)
        ndm_flags &= ~NTF_MASTER
        done = True
    if ndm_flags & NTF_SELF:
        if isinstance(dev, BridgeDevice):
            dev.fdb.delete(None, addr, vid)
        else:
            dflt_fdb_del(dev, addr, state, vid)
        done = True
    if not done:
        raise oserror(errno.EOPNOTSUPP)


def do_fdb(ns: Namespace, argv: list[str], stats: bool, out: TextIO) -> int:
    if not argv:
        return fdb_show(ns, [], stats, out)
    cmd, rest = argv[0], argv[1:]
    for name in ("add", "append", "replace"):
        if matches(cmd, name):
            return fdb_modify(ns, name, rest)
    if matches(cmd, "delete"):
        return fdb_modify(ns, "del", rest)
    if matches(cmd, "show") or matches(cmd, "lst") or matches(cmd, "list"):
        return fdb_show(ns, rest, stats, out)
    if matches(cmd, "help"):
        raise BridgeExit(255, FDB_USAGE)
    raise BridgeExit(255, f'Command "{cmd}" is unknown, try "bridge fdb help".\n')


# ================================================================ link
def link_flags(ns: Namespace, dev: NetDevice) -> str:
    """bridge/link.c print_link_flags, with M-DOWN when the link (veth peer) index is down here."""
    flags = dev.display_flags()
    parts = []
    if flags & IFF_UP and not flags & IFF_RUNNING:
        parts.append("NO-CARRIER")
    flags &= ~IFF_RUNNING
    for name, bit in _IFF_NAMES:
        if flags & bit:
            flags &= ~bit
            parts.append(name)
    if flags:
        parts.append(f"{flags:x}")
    s = "<" + ",".join(parts)
    peer = getattr(dev, "peer", None)
    if peer is not None:
        link = ns.by_index.get(peer.ifindex)
        if link is None or not link.flags & IFF_UP:
            s += ",M-DOWN"
    return s + "> "


def link_name(ns: Namespace, dev: NetDevice) -> str:
    """The name with ``@LINK``; like ip/bridge, a peer's ifindex is looked up in this namespace."""
    peer = getattr(dev, "peer", None)
    if peer is None:
        return dev.name
    link = ns.by_index.get(peer.ifindex)
    return f"{dev.name}@{link.name if link is not None else f'if{peer.ifindex}'}"


def link_show(ns: Namespace, argv: list[str], details: bool, out: TextIO) -> int:
    filter_dev = None
    i = 0
    while i < len(argv):
        if argv[i] == "dev":
            filter_dev = _next(argv, i)
            i += 1
        elif matches(argv[i], "help"):
            raise BridgeExit(255, LINK_USAGE)
        i += 1
    fdev = None
    if filter_dev is not None:
        fdev = ns.devices.get(filter_dev)
        if fdev is None:
            raise BridgeExit(255, f'Cannot find device "{filter_dev}"\n')
    for idx in sorted(ns.by_index):
        dev = ns.by_index[idx]
        p = _port(dev)
        if p is None or (fdev is not None and dev is not fdev):
            continue
        out.write(f"{dev.ifindex}: {link_name(ns, dev)}: {link_flags(ns, dev)}mtu {dev.mtu} master "
                  f"{p.br.name} state {p.state_name} priority {p.priority} cost {p.path_cost} \n")
        if details:
            def onoff(v: bool) -> str:
                return "on" if v else "off"
            out.write(f"    hairpin {onoff(p.hairpin)} guard off root_block off fastleave off learning "
                      f"{onoff(p.learning)} flood {onoff(p.flood)} mcast_flood {onoff(p.mcast_flood)} "
                      f"bcast_flood {onoff(p.bcast_flood)} mcast_router 1 mcast_to_unicast off "
                      f"neigh_suppress off vlan_tunnel off isolated {onoff(p.isolated)} locked off \n")
    return 0


_LINK_FLAGS = ("hairpin", "learning", "flood", "mcast_flood", "bcast_flood", "isolated")


def link_set(ns: Namespace, argv: list[str]) -> int:
    """``bridge link set dev DEV {learning|flood|mcast_flood|bcast_flood|hairpin|isolated} {on|off}``."""
    devname = None
    changes: list[tuple[str, bool]] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "dev":
            devname = _next(argv, i)
        elif a in _LINK_FLAGS:
            v = _next(argv, i)
            if v not in ("on", "off"):
                raise BridgeExit(255, f'Error: argument of "{a}" must be "on" or "off", not "{v}"\n')
            changes.append((a, v == "on"))
        elif a in ("self", "master"):
            i += 1
            continue
        else:
            raise BridgeExit(255, f'Error: "{a}" is not supported by tuxnet\n' if a != "help" else LINK_USAGE)
        i += 2
    if devname is None:
        raise BridgeExit(255, "Device is a required argument.\n")
    dev = ns.devices.get(devname)
    if dev is None:
        raise BridgeExit(255, f'Cannot find device "{devname}"\n')
    p = _port(dev)
    if p is None:
        raise BridgeExit(255, "RTNETLINK answers: Operation not supported\n")
    for name, on in changes:
        setattr(p, name, on)
    return 0


def do_link(ns: Namespace, argv: list[str], details: bool, out: TextIO) -> int:
    if not argv:
        return link_show(ns, [], details, out)
    cmd, rest = argv[0], argv[1:]
    if matches(cmd, "set") or matches(cmd, "change"):
        return link_set(ns, rest)
    if matches(cmd, "show") or matches(cmd, "lst") or matches(cmd, "list"):
        return link_show(ns, rest, details, out)
    if matches(cmd, "help"):
        raise BridgeExit(255, LINK_USAGE)
    raise BridgeExit(255, f'Command "{cmd}" is unknown, try "bridge link help".\n')


async def main(ns: Namespace, argv: list[str], out: TextIO, err: TextIO) -> int:
    stats = details = False
    i = 0
    while i < len(argv) and argv[i].startswith("-") and len(argv[i]) > 1:
        opt = argv[i][1:] if argv[i].startswith("--") else argv[i]
        if matches(opt, "-statistics"):
            stats = True
        elif matches(opt, "-details"):
            details = True
        elif matches(opt, "-Version"):
            out.write("bridge utility, 6.1.0\n")
            return 0
        elif matches(opt, "-help"):
            err.write(USAGE)
            return 255
        elif opt in ("-oneline", "-o", "-timestamp", "-t", "-compressvlans", "-c", "-color", "-pretty", "-p"):
            pass
        else:
            err.write(f'Option "{argv[i]}" is unknown, try "bridge help".\n')
            return 255
        i += 1
    argv = argv[i:]
    try:
        if not argv:
            err.write(USAGE)
            return 255
        obj, rest = argv[0], argv[1:]
        if matches(obj, "fdb"):
            return do_fdb(ns, rest, stats, out)
        if matches(obj, "link"):
            return do_link(ns, rest, details, out)
        if matches(obj, "help"):
            err.write(USAGE)
            return 255
        err.write(f'Object "{obj}" is unknown, try "bridge help".\n')
        return 255
    except BridgeExit as e:
        err.write(e.message)
        return e.rc


__all__ = ["main", "rtnl_fdb_add", "rtnl_fdb_del", "state_n2a"]
