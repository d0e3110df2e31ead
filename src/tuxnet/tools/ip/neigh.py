"""``ip neighbour``: show, add, replace, change, del, flush (ip/ipneigh.c) over ``ns.arp``."""

from __future__ import annotations

from typing import Any

from tuxnet.tools.ip.common import Args, IpExit, Opts, get_addr, get_prefix, matches, nodev, rtnl_error
from tuxnet.wire.addr import ip_ntoa, mac_aton, mac_ntoa

NUD = {"incomplete": 0x01, "reachable": 0x02, "stale": 0x04, "delay": 0x08, "probe": 0x10, "failed": 0x20,
       "noarp": 0x40, "permanent": 0x80, "none": 0x00}
_NUD_ORDER = ((0x01, "INCOMPLETE"), (0x02, "REACHABLE"), (0x04, "STALE"), (0x08, "DELAY"), (0x10, "PROBE"),
              (0x20, "FAILED"), (0x40, "NOARP"), (0x80, "PERMANENT"))
NTF_ROUTER = 0x80


def _table(ns: Any) -> Any:
    arp = getattr(ns, "arp", None)
    if arp is None or not hasattr(arp, "entries"):
        raise IpExit(2, "RTNETLINK answers: Operation not supported")
    return arp


def state_names(state: int) -> list[str]:
    """print_neigh_state."""
    if state == 0:
        return ["NONE"]
    return [n for bit, n in _NUD_ORDER if state & bit]


def do_ipneigh(ns: Any, argv: list[str], opts: Opts) -> int:
    if opts.family not in (0, 4):
        return 0
    if not argv:
        return _show(ns, [], opts, flush=False)
    cmd, rest = argv[0], argv[1:]
    if matches(cmd, "add"):
        return _modify(ns, rest, create=True, excl=True, replace=False)
    if matches(cmd, "change") or cmd == "chg":
        return _modify(ns, rest, create=False, excl=False, replace=True)
    if matches(cmd, "replace"):
        return _modify(ns, rest, create=True, excl=False, replace=True)
    if matches(cmd, "delete"):
        return _delete(ns, rest)
    if matches(cmd, "show") or matches(cmd, "list") or cmd == "lst":
        return _show(ns, rest, opts, flush=False)
    if matches(cmd, "flush"):
        return _show(ns, rest, opts, flush=True)
    raise IpExit(255, f'Command "{cmd}" is unknown, try "ip neigh help".')


def _parse(ns: Any, argv: list[str]) -> tuple[int, Any, bytes | None, int, bool]:
    args = Args(argv)
    ip = None
    dev = None
    lladdr = None
    state = 0x80
    router = False
    while args:
        a = args.take()
        if a == "lladdr":
            v = args.next()
            try:
                lladdr = mac_aton(v)
            except ValueError:
                raise IpExit(1, f'"{v}" is invalid lladdr.') from None
        elif a == "nud":
            v = args.next()
            if v not in NUD:
                raise IpExit(255, f'Error: argument "{v}" is wrong: nud state is bad\n')
            state = NUD[v]
        elif a == "dev":
            name = args.next()
            dev = ns.devices.get(name)
            if dev is None:
                raise nodev(name)
        elif a == "router":
            router = True
        elif a in ("proxy", "extern_learn", "use", "managed"):
            pass
        elif a == "protocol":
            args.next()
        else:
            if a == "to":
                a = args.next()
            ip = get_addr(a)
    if ip is None or dev is None:
        raise IpExit(1, 'Device and destination are required arguments.')
    return ip, dev, lladdr, state, router


def _modify(ns: Any, argv: list[str], *, create: bool, excl: bool, replace: bool) -> int:
    ip, dev, lladdr, state, _router = _parse(ns, argv)
    arp = _table(ns)
    try:
        arp.add(ip, dev, lladdr, state, create=create, excl=excl, replace=replace)
    except OSError as e:
        raise rtnl_error(e) from None
    return 0


def _delete(ns: Any, argv: list[str]) -> int:
    ip, dev, _, _, _ = _parse(ns, argv)
    arp = _table(ns)
    try:
        arp.delete(ip, dev)
    except OSError as e:
        raise rtnl_error(e) from None
    return 0


def _show(ns: Any, argv: list[str], opts: Opts, *, flush: bool) -> int:
    args = Args(argv)
    dev = None
    states = 0xFF & ~0x40 if not flush else ~(0x80 | 0x40)
    states_set = False
    prefix: tuple[int, int] | None = None
    if flush and not argv:
        raise IpExit(1, "Flush requires arguments.")
    while args:
        a = args.take()
        if a == "dev":
            name = args.next()
            dev = ns.devices.get(name)
            if dev is None:
                raise nodev(name)
        elif a == "nud":
            v = args.next()
            if not states_set:
                states = 0
                states_set = True
            if v == "all":
                states = ~0
            elif v in NUD:
                states |= NUD[v] if NUD[v] else 0x100
            else:
                raise IpExit(255, f'Error: argument "{v}" is wrong: nud state is bad\n')
        elif a in ("proxy", "unused", "nomaster"):
            pass
        elif a == "master" or a == "vrf":
            args.next()
        else:
            if a == "to":
                a = args.next()
            prefix = get_prefix(a)
    arp = _table(ns)
    entries = arp.entries(dev)
    if prefix is not None:
        addr, plen = prefix
        mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF if plen else 0
        entries = [n for n in entries if (n.ip ^ addr) & mask == 0]
    if flush:
        n = arp.flush(dev, states)
        _ = n
        return 0
    js = []
    for n in sorted(entries, key=lambda n: (n.dev.ifindex, n.ip)):
        st = n.state
        if not (st & states or (st == 0 and states & 0x100)):
            continue
        s = f"{ip_ntoa(n.ip)} "
        j: dict[str, Any] = {"dst": ip_ntoa(n.ip)}
        if dev is None:
            s += f"dev {n.dev.name} "
            j["dev"] = n.dev.name
        mac = n.mac
        if mac is not None and st & ~(0x01 | 0x20):
            s += f"lladdr {mac_ntoa(mac)} "
            j["lladdr"] = mac_ntoa(mac)
        if getattr(n, "is_router", False):
            s += "router "
            j["router"] = None
        names = state_names(st)
        s += ",".join(names) + " "
        j["state"] = names
        if opts.json:
            js.append(j)
        else:
            opts.out.write(s + "\n")
    if opts.json:
        opts.dump_json(js)
    return 0
