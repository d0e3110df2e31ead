"""``ip link``: show, add (veth, bridge), set, del (ip/iplink.c, ip/ipaddress.c print_linkinfo)."""

from __future__ import annotations

from typing import Any

from tuxnet.tools.ip.common import (
    Args,
    IpExit,
    Opts,
    duparg2,
    get_u32,
    link_flag_names,
    matches,
    nodev,
    rtnl_error,
)
from tuxnet.wire.addr import mac_aton, mac_ntoa

ARPHRD_NAMES = {1: "ether", 772: "loopback", 0xFFFE: "none"}
_HELP = ('Usage: ip link add [link DEV | parentdev NAME] [ name ] NAME\n'
         '\t\t    [ txqueuelen PACKETS ]\n'
         '\t\t    [ address LLADDR ]\n'
         '\t\t    [ broadcast LLADDR ]\n'
         '\t\t    [ mtu MTU ] [index IDX ]\n'
         '\t\t    type TYPE [ ARGS ]\n'
         '\n'
         '\tip link delete { DEVICE | dev DEVICE | group DEVGROUP } type TYPE [ ARGS ]\n'
         '\n'
         '\tip link set { DEVICE | dev DEVICE | group DEVGROUP }\n'
         '\t\t\t[ { up | down } ]\n'
         '\t\t\t[ name NEWNAME ]\n'
         '\t\t\t[ address LLADDR ]\n'
         '\t\t\t[ mtu MTU ]\n'
         '\t\t\t[ txqueuelen PACKETS ]\n'
         '\t\t\t[ master DEVICE ][ nomaster ]\n'
         '\n'
         '\tip link show [ DEVICE | group GROUP ] [up] [master DEV] [type ETYPE]\n')


def do_iplink(ns: Any, argv: list[str], opts: Opts) -> int:
    if not argv:
        return show(ns, [], opts, with_addrs=False)
    cmd, rest = argv[0], argv[1:]
    if matches(cmd, "add"):
        return _add(ns, rest)
    if matches(cmd, "set") or matches(cmd, "change"):
        return _set(ns, rest)
    if matches(cmd, "delete"):
        return _delete(ns, rest)
    if matches(cmd, "show") or matches(cmd, "lst") or matches(cmd, "list"):
        return show(ns, rest, opts, with_addrs=False)
    if matches(cmd, "help"):
        raise IpExit(255, _HELP)
    raise IpExit(255, f'Command "{cmd}" is unknown, try "ip link help".')


# ---------------------------------------------------------------------- printing
def ifname_text(ns: Any, dev: Any) -> str:
    """NAME or NAME@LINK (veth peer: its name in this namespace, else ifN)."""
    peer = getattr(dev, "peer", None)
    if peer is None:
        return dev.name
    if peer.ns is ns:
        return f"{dev.name}@{peer.name}"
    return f"{dev.name}@if{peer.ifindex}"


def _mdown(ns: Any, dev: Any) -> bool:
    peer = getattr(dev, "peer", None)
    return peer is not None and peer.ns is ns and not peer.is_up


def qdisc_name(dev: Any) -> str:
    # a device shows noop until it is first brought up (dev_activate attaches its qdisc)
    if not dev.is_up and dev.ifindex not in dev.ns.fib.ever_up:
        return "noop"
    q = getattr(dev, "qdisc", None)
    return getattr(q, "kind", "noqueue") or "noqueue"


def dev_flags(dev: Any) -> int:
    """dev_get_flags (Linux sets no IFF_MASTER/IFF_SLAVE for a bridge and its ports)."""
    return int(dev.display_flags())


def link_header(ns: Any, dev: Any, opts: Opts, *, mode: bool) -> tuple[str, dict[str, Any]]:
    """print_linkinfo: the first two lines (and -s statistics)."""
    flags = link_flag_names(dev_flags(dev), _mdown(ns, dev))
    j: dict[str, Any] = {"ifindex": dev.ifindex}
    peer = getattr(dev, "peer", None)
    if peer is not None:
        j["link_index"] = peer.ifindex
        if peer.ns is ns:
            j["link"] = peer.name
            del j["link_index"]
    j["ifname"] = dev.name
    j["flags"] = flags
    j["mtu"] = dev.mtu
    j["qdisc"] = qdisc_name(dev)
    s = f"{dev.ifindex}: {ifname_text(ns, dev)}: <{','.join(flags)}> mtu {dev.mtu} qdisc {qdisc_name(dev)} "
    if dev.master is not None:
        s += f"master {dev.master.name} "
        j["master"] = dev.master.name
    s += f"state {dev.operstate} "
    j["operstate"] = dev.operstate
    if mode:
        s += "mode DEFAULT "
        j["linkmode"] = "DEFAULT"
    s += "group default "
    j["group"] = "default"
    s += f"qlen {dev.txqueuelen}"
    j["txqlen"] = dev.txqueuelen
    ltype = ARPHRD_NAMES.get(dev.type, str(dev.type))
    if opts.family == 4 and not mode:
        return s + "\n", j  # ``ip -4 addr`` leaves out the link-layer line
    s += f"\n    link/{ltype} {mac_ntoa(dev.mac)} brd {mac_ntoa(dev.broadcast)}"
    j["link_type"] = ltype
    j["address"] = mac_ntoa(dev.mac)
    j["broadcast"] = mac_ntoa(dev.broadcast)
    if peer is not None and peer.ns is not ns:
        s += f" link-netns {peer.ns.name}"
        j["link_netnsid"] = 0
    if opts.details:
        s += f" promiscuity 0 minmtu {dev.min_mtu} maxmtu {dev.max_mtu} "
        kind = getattr(dev, "kind", "")
        if kind in ("veth", "bridge"):
            s += f"\n    {kind} "
    s += "\n"
    if opts.stats:
        s += stats_text(dev.stats)
        st = dev.stats
        j["stats64"] = {"rx": {"bytes": st.rx_bytes, "packets": st.rx_packets, "errors": st.rx_errors,
                               "dropped": st.rx_dropped, "over_errors": st.rx_over_errors,
                               "multicast": st.multicast},
                        "tx": {"bytes": st.tx_bytes, "packets": st.tx_packets, "errors": st.tx_errors,
                               "dropped": st.tx_dropped, "carrier_errors": st.tx_carrier_errors,
                               "collisions": st.collisions}}
    return s, j


def stats_text(st: Any) -> str:
    """print_link_stats64 (one -s)."""
    cols = [10, 7, 6, 7, 7, 7, 10, 9]
    rx = (st.rx_bytes, st.rx_packets, st.rx_errors, st.rx_dropped, st.rx_missed_errors, st.multicast)
    tx = (st.tx_bytes, st.tx_packets, st.tx_errors, st.tx_dropped, st.tx_carrier_errors, st.collisions)
    for vals in (rx, tx):
        for i, v in enumerate(vals):
            cols[i] = max(cols[i], len(str(v)))

    def head(tag: str, h4: str, h5: str) -> str:
        return (f"    {tag}: {'bytes':>{cols[0] - 4}} {'packets':>{cols[1]}} {'errors':>{cols[2]}} "
                f"{'dropped':>{cols[3]}} {h4:>{cols[4]}} {h5:>{cols[5]}} {'':>{cols[6]}}\n")

    def row(vals: tuple[int, ...]) -> str:
        return "    " + "".join(f"{v:>{cols[i]}} " for i, v in enumerate(vals)) + "\n"

    return head("RX", "missed", "mcast") + row(rx) + head("TX", "carrier", "collsns") + row(tx)


def _show_filter(ns: Any, args: Args) -> tuple[Any, bool, str | None, Any]:
    dev = None
    up = False
    kind = None
    master = None
    while args:
        a = args.take()
        if a == "up":
            up = True
        elif a == "type":
            kind = args.next()
        elif a == "master":
            name = args.next()
            master = ns.devices.get(name)
            if master is None:
                raise IpExit(1, f'Device "{name}" does not exist.')
        elif a in ("dev", "label", "scope", "to", "primary", "secondary", "dynamic", "permanent", "group"):
            if a in ("dev",):
                name = args.next()
                dev = ns.devices.get(name)
                if dev is None:
                    raise IpExit(1, f'Device "{name}" does not exist.')
            elif a in ("label", "scope", "to", "group"):
                args.next()
        else:
            if dev is not None:
                raise duparg2("dev", a)
            dev = ns.devices.get(a)
            if dev is None:
                raise IpExit(1, f'Device "{a}" does not exist.')
    return dev, up, kind, master


def show(ns: Any, argv: list[str], opts: Opts, *, with_addrs: bool) -> int:
    """``ip link show`` / ``ip addr show`` (ipaddr_list_flush_or_save)."""
    from tuxnet.tools.ip.addr import addr_lines, brief_addrs

    args = Args(argv)
    one, up, kind, master = _show_filter(ns, args)
    devs = [one] if one is not None else sorted(ns.devices.values(), key=lambda d: d.ifindex)
    if up:
        devs = [d for d in devs if d.is_up]
    if kind is not None:
        devs = [d for d in devs if getattr(d, "kind", "") == kind]
    if master is not None:
        devs = [d for d in devs if d.master is master]
    out = opts.out
    js = []
    for dev in devs:
        ifas = dev.in_dev.ifa_list if dev.in_dev is not None else []
        if with_addrs and opts.family == 4 and not ifas:
            continue
        if opts.brief:
            name = ifname_text(ns, dev)
            if with_addrs:
                out.write(f"{name:<16} {dev.operstate:<14} " + brief_addrs(ifas) + "\n")
            else:
                flags = link_flag_names(dev_flags(dev), _mdown(ns, dev))
                out.write(f"{name:<16} {dev.operstate:<14} {mac_ntoa(dev.mac)} <{','.join(flags)}> \n")
            continue
        text, j = link_header(ns, dev, opts, mode=not with_addrs)
        if with_addrs:
            atext, aj = addr_lines(ifas, opts)
            text += atext
            j["addr_info"] = aj
        if opts.json:
            js.append(j)
        else:
            out.write(text)
    if opts.json:
        opts.dump_json(js)
    return 0


# ---------------------------------------------------------------------- add / set / del
def _add(ns: Any, argv: list[str]) -> int:
    args = Args(argv)
    name = None
    kind = None
    peer = None
    mtu = None
    mac = None
    peer_mac = None
    while args:
        a = args.take()
        if a == "name":
            name = args.next()
        elif a == "type":
            kind = args.next()
            if kind == "veth" and args and args.peek() == "peer":
                args.take()
                while args:
                    p = args.take()
                    if p == "name":
                        peer = args.next()
                    elif p in ("address", "addr"):
                        v = args.next()
                        try:
                            peer_mac = mac_aton(v)
                        except ValueError:
                            raise IpExit(1, f'"{v}" is invalid lladdr.') from None
                    elif p in ("mtu", "txqueuelen", "qlen", "netns"):
                        args.next()
                    elif peer is None:
                        peer = p
            break
        elif a == "mtu":
            mtu = args.next_as(get_u32, 'Invalid "mtu" value\n')
        elif a in ("address", "addr"):
            v = args.next()
            try:
                mac = mac_aton(v)
            except ValueError:
                raise IpExit(1, f'"{v}" is invalid lladdr.') from None
        elif a in ("txqueuelen", "qlen", "link", "index", "broadcast", "numtxqueues", "numrxqueues"):
            args.next()
        else:
            if name is not None:
                raise duparg2("name", a)
            name = a
    if name is None:
        raise IpExit(1, 'Not enough information: "dev" argument is required.')
    if kind is None:
        raise IpExit(2, "Error: Unknown device type.")
    if name in ns.devices or (peer is not None and peer in ns.devices):
        raise IpExit(2, "RTNETLINK answers: File exists")
    try:
        if kind == "veth":
            from tuxnet.drivers.veth import create_veth_pair

            peer_name = peer if peer is not None else _next_name(ns, "veth")
            # veth_newlink registers the peer first, so it gets the lower ifindex
            create_veth_pair(ns, peer_name, ns, name, mac1=peer_mac, mac2=mac, mtu=mtu or 1500)
        elif kind == "bridge":
            try:
                from tuxnet.bridge.bridge import create_bridge
            except ImportError:
                raise IpExit(2, "Error: Unknown device type.") from None
            br = create_bridge(ns, name, mac=mac)
            if mtu:
                br.set_mtu(mtu)
        else:
            raise IpExit(2, "Error: Unknown device type.")
    except ValueError:
        raise IpExit(2, "RTNETLINK answers: Invalid argument") from None
    except OSError as e:
        raise rtnl_error(e) from None
    return 0


def _next_name(ns: Any, base: str) -> str:
    i = 0
    while f"{base}{i}" in ns.devices:
        i += 1
    return f"{base}{i}"


def _set(ns: Any, argv: list[str]) -> int:
    args = Args(argv)
    devname = None
    ops: list[tuple[str, Any]] = []
    while args:
        a = args.take()
        if a == "up":
            ops.append(("up", None))
        elif a == "down":
            ops.append(("down", None))
        elif a == "name":
            ops.append(("name", args.next()))
        elif matches(a, "mtu"):
            ops.append(("mtu", args.next_as(get_u32, 'Invalid "mtu" value\n')))
        elif a in ("address", "addr") or matches(a, "address"):
            v = args.next()
            try:
                ops.append(("address", mac_aton(v)))
            except ValueError:
                raise IpExit(1, f'"{v}" is invalid lladdr.') from None
        elif a == "master":
            ops.append(("master", args.next()))
        elif a == "nomaster":
            ops.append(("nomaster", None))
        elif matches(a, "txqueuelen") or a in ("qlen", "txqlen"):
            ops.append(("txqlen", args.next_as(get_u32, 'Invalid "txqueuelen" value\n')))
        elif a == "gso_max_segs":
            msg = 'Invalid "gso_max_segs" value\n'
            ops.append(("gso_max_segs", args.next_as(lambda v: n if (n := get_u32(v)) is not None
                                                     and n <= 65535 else None, msg)))  # GSO_MAX_SEGS
        elif a in ("arp", "multicast", "allmulticast", "promisc", "carrier", "dynamic", "trailers"):
            v = args.next()
            if v not in ("on", "off"):
                raise IpExit(255, f'Error: argument of "{a}" must be "on" or "off", not "{v}"')
            ops.append((a, v == "on"))
        elif a == "alias":
            ops.append(("alias", args.next()))
        elif a == "group":
            args.next()
        elif a == "dev":
            if devname is not None:
                raise duparg2("dev", args.peek() if args else a)
            devname = args.next()
        else:
            if devname is not None:
                raise duparg2("dev", a)
            devname = a
    if devname is None:
        raise IpExit(1, 'Not enough information: "dev" argument is required.')
    dev = ns.devices.get(devname)
    if dev is None:
        raise nodev(devname)
    for op, v in ops:
        _apply(ns, dev, op, v)
    return 0


def _apply(ns: Any, dev: Any, op: str, v: Any) -> None:
    if op == "up":
        dev.open()
    elif op == "down":
        dev.close()
    elif op == "name":
        if v == dev.name:
            return
        if dev.is_up:
            raise IpExit(2, "RTNETLINK answers: Device or resource busy")
        if v in ns.devices:
            raise IpExit(2, "RTNETLINK answers: File exists")
        ns.rename_netdevice(dev, v)
        ns.netdev_event("rename", dev)
    elif op == "mtu":
        if v < dev.min_mtu:
            raise IpExit(2, "Error: mtu less than device minimum.")
        if v > dev.max_mtu:
            raise IpExit(2, "Error: mtu greater than device maximum.")
        dev.set_mtu(v)
    elif op == "address":
        if v[0] & 1 or v == bytes(6):
            raise IpExit(2, "RTNETLINK answers: Cannot assign requested address")
        dev.set_mac(v)
    elif op == "master":
        br = ns.devices.get(v)
        if br is None:
            raise IpExit(1, f'Device "{v}" does not exist.')
        if getattr(br, "kind", "") != "bridge" or not hasattr(br, "add_port"):
            raise IpExit(2, "RTNETLINK answers: Operation not supported")
        if dev.master is br:
            return
        if dev.master is not None:
            dev.master.del_port(dev)
        try:
            br.add_port(dev)
        except OSError as e:
            raise rtnl_error(e) from None
    elif op == "nomaster":
        if dev.master is not None and hasattr(dev.master, "del_port"):
            dev.master.del_port(dev)
    elif op == "txqlen":
        dev.txqueuelen = v
    elif op == "gso_max_segs":
        dev.gso_max_segs = v
    elif op == "carrier":
        dev.set_carrier(v)
    elif op == "arp":
        if v:
            dev.flags &= ~0x80
        else:
            dev.flags |= 0x80
        ns.netdev_event("change", dev)
    elif op == "promisc":
        dev.flags = dev.flags | 0x100 if v else dev.flags & ~0x100
    elif op == "multicast":
        dev.flags = dev.flags | 0x1000 if v else dev.flags & ~0x1000
    elif op == "allmulticast":
        dev.flags = dev.flags | 0x200 if v else dev.flags & ~0x200
    elif op == "alias":
        dev.alias = v


def _delete(ns: Any, argv: list[str]) -> int:
    args = Args(argv)
    devname = None
    while args:
        a = args.take()
        if a == "dev":
            devname = args.next()
        elif a == "type":
            args.next()
        elif devname is None:
            devname = a
        else:
            raise duparg2("dev", a)
    if devname is None:
        raise IpExit(1, 'Not enough information: "dev" argument is required.')
    dev = ns.devices.get(devname)
    if dev is None:
        raise nodev(devname)
    if dev is ns.lo:
        raise IpExit(2, "RTNETLINK answers: Operation not supported")
    if dev.master is not None and hasattr(dev.master, "del_port"):
        dev.master.del_port(dev)
    peer = getattr(dev, "peer", None)
    ns.unregister_netdevice(dev)
    if peer is not None:
        # veth_dellink: the peer goes with it
        peer.peer = None
        dev.peer = None
        if peer.ns.devices.get(peer.name) is peer:
            peer.ns.unregister_netdevice(peer)
    return 0

