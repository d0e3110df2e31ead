"""``ip address``: show, add, del, flush (ip/ipaddress.c)."""

from __future__ import annotations

import errno
from typing import Any

from tuxnet.ipv4.devinet import IFA_F_NOPREFIXROUTE, IFA_F_PERMANENT, IFA_F_SECONDARY
from tuxnet.tools.ip.common import (
    Args,
    IpExit,
    Opts,
    duparg2,
    get_addr,
    get_prefix,
    get_u32,
    matches,
    nodev,
    rtnl_error,
    scope_a2n,
    scope_n2a,
)
from tuxnet.wire.addr import ip_ntoa

_HELP = """Usage: ip address {add|change|replace} IFADDR dev IFNAME [ LIFETIME ]
                                                      [ CONFFLAG-LIST ]
       ip address del IFADDR dev IFNAME [mngtmpaddr]
       ip address {save|flush} [ dev IFNAME ] [ scope SCOPE-ID ]
                            [ to PREFIX ] [ FLAG-LIST ] [ label LABEL ] [up]
       ip address [ show [ dev IFNAME ] [ scope SCOPE-ID ] [ master DEVICE ]
                         [ nomaster ]
                         [ type TYPE ] [ to PREFIX ] [ FLAG-LIST ]
                         [ label LABEL ] [up] [ vrf NAME ]
                         [ proto ADDRPROTO ] ]
"""


def do_ipaddr(ns: Any, argv: list[str], opts: Opts) -> int:
    from tuxnet.tools.ip.link import show

    if not argv:
        return show(ns, [], opts, with_addrs=True)
    cmd, rest = argv[0], argv[1:]
    if matches(cmd, "add"):
        return _modify(ns, rest, "add", opts)
    if matches(cmd, "change") or matches(cmd, "replace"):
        return _modify(ns, rest, "replace", opts)
    if matches(cmd, "delete"):
        return _modify(ns, rest, "del", opts)
    if matches(cmd, "list") or matches(cmd, "show") or cmd == "lst":
        return show(ns, rest, opts, with_addrs=True)
    if matches(cmd, "flush"):
        return _flush(ns, rest)
    if matches(cmd, "help"):
        raise IpExit(255, _HELP)
    raise IpExit(255, f'Command "{cmd}" is unknown, try "ip address help".')


def _fmt_local(ifa: Any) -> str:
    if ifa.address != ifa.local:
        return f"{ip_ntoa(ifa.local)} peer {ip_ntoa(ifa.address)}/{ifa.prefixlen}"
    return f"{ip_ntoa(ifa.local)}/{ifa.prefixlen}"


def addr_lines(ifas: list[Any], opts: Opts) -> tuple[str, list[dict[str, Any]]]:
    """print_addrinfo for each IPv4 address of one device."""
    s = ""
    js = []
    for ifa in ifas:
        j: dict[str, Any] = {"family": "inet", "local": ip_ntoa(ifa.local)}
        line = f"    inet {_fmt_local(ifa)} "
        if ifa.address != ifa.local:
            j["address"] = ip_ntoa(ifa.address)
        j["prefixlen"] = ifa.prefixlen
        if ifa.broadcast:
            line += f"brd {ip_ntoa(ifa.broadcast)} "
            j["broadcast"] = ip_ntoa(ifa.broadcast)
        line += f"scope {scope_n2a(ifa.scope)} "
        j["scope"] = scope_n2a(ifa.scope)
        if ifa.flags & IFA_F_SECONDARY:
            line += "secondary "
            j["secondary"] = True
        if not ifa.flags & IFA_F_PERMANENT:
            line += "dynamic "
            j["dynamic"] = True
        if ifa.flags & IFA_F_NOPREFIXROUTE:
            line += "noprefixroute "
            j["noprefixroute"] = True
        line += ifa.label
        j["label"] = ifa.label
        j["valid_life_time"] = 4294967295
        j["preferred_life_time"] = 4294967295
        s += line + "\n       valid_lft forever preferred_lft forever\n"
        js.append(j)
    return s, js


def brief_addrs(ifas: list[Any]) -> str:
    return "".join(f"{_fmt_local(ifa)} " for ifa in ifas)


def _modify(ns: Any, argv: list[str], cmd: str, opts: Opts) -> int:
    """ipaddr_modify."""
    args = Args(argv)
    local: tuple[int, int] | None = None
    peer: int | None = None
    brd: int | None = None
    brd_mode = 0
    label = None
    scope = None
    metric = 0
    noprefixroute = False
    devname = None
    while args:
        a = args.take()
        if matches(a, "peer") or matches(a, "remote"):
            peer, plen = get_prefix(args.next())
            if local is not None:
                local = (local[0], plen)
        elif matches(a, "broadcast") or a == "brd":
            v = args.next()
            if v == "+":
                brd_mode = -1
            elif v == "-":
                brd_mode = -2
            else:
                brd = get_addr(v)
        elif a == "anycast":
            args.next()
        elif matches(a, "scope"):
            scope = args.next_as(scope_a2n, "invalid scope value.")
        elif a == "dev":
            devname = args.next()
        elif matches(a, "label"):
            label = args.next()
        elif matches(a, "metric") or matches(a, "priority") or a == "preference":
            metric = args.next_as(get_u32, '"metric" value is invalid\n')
        elif matches(a, "valid_lft") or matches(a, "preferred_lft"):
            args.next()
        elif a == "noprefixroute":
            noprefixroute = True
        elif a in ("home", "nodad", "optimistic", "mngtmpaddr", "autojoin"):
            pass
        else:
            if a == "local":
                a = args.next()
            if local is not None:
                raise duparg2("local", a)
            addr, plen = get_prefix(a)
            given = "/" in a
            local = (addr, plen if given else -1)
    if devname is None:
        raise IpExit(1, 'Not enough information: "dev" argument is required.')
    dev = ns.devices.get(devname)
    if dev is None:
        raise nodev(devname)
    if local is None:
        if cmd == "del":
            raise IpExit(1, '"ip address del" requires at least one argument.')
        raise IpExit(1, 'Not enough information: "local" argument is required.')
    addr, plen = local
    try:
        if cmd == "del":
            if plen < 0:
                opts.err.write("Warning: Executing wildcard deletion to stay compatible with old scripts.\n"
                               f"         Explicitly specify the prefix length ({ip_ntoa(addr)}/32) to "
                               "avoid this warning.\n         This special behaviour is likely to disappear "
                               "in further releases,\n         fix your scripts!\n")
            try:
                ns.devinet.delete(dev, addr, None if plen < 0 else plen)
            except OSError as e:
                if e.errno == errno.EADDRNOTAVAIL:
                    raise IpExit(2, "Error: ipv4: Address not found.") from None
                raise
            return 0
        if plen < 0:
            plen = 32
        if brd_mode and plen <= 30:
            mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
            brd = (addr | (~mask & 0xFFFFFFFF)) if brd_mode == -1 else addr & mask
        if cmd == "replace":
            for ifa in list(dev.in_dev.ifa_list):
                if ifa.local == addr and ifa.prefixlen == plen:
                    ns.devinet.delete(dev, addr, plen)
        if label is not None and not (label == dev.name or label.startswith(dev.name + ":")):
            raise IpExit(1, f'"{label}" is not a valid label')
        ns.devinet.add(dev, addr, plen, peer=peer, broadcast=brd, label=label, scope=scope,
                       noprefixroute=noprefixroute, metric=metric)
    except IpExit:
        raise
    except OSError as e:
        if e.errno == errno.EEXIST:
            raise IpExit(2, "Error: ipv4: Address already assigned.") from None
        raise rtnl_error(e) from None
    return 0


def _flush(ns: Any, argv: list[str]) -> int:
    if not argv:
        raise IpExit(1, "Flush requires arguments.")
    args = Args(argv)
    dev = None
    while args:
        a = args.take()
        if a == "dev":
            a = args.next()
        elif a in ("scope", "label", "to"):
            args.next()
            continue
        elif a in ("primary", "secondary", "permanent", "dynamic", "up"):
            continue
        dev = ns.devices.get(a)
        if dev is None:
            raise IpExit(1, f'Device "{a}" does not exist.')
    devs = [dev] if dev is not None else list(ns.devices.values())
    for d in devs:
        if d.in_dev is not None:
            ns.devinet.flush(d)
    return 0
