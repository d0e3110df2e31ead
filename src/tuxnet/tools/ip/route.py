"""``ip route``: show/list, flush, get, add/del/change/append/replace/prepend (ip/iproute.c).

Output is print_route's, field by field, including trailing spaces; ``get`` prints the cloned route
with its ``cache`` line (flags such as ``<local,brd>``, PMTU ``expires``/``mtu``, ``iif``) exactly as
iproute2 does, and a lookup error as ``RTNETLINK answers: <strerror>`` with exit code 2.
"""

from __future__ import annotations

import errno
from typing import Any

from tuxnet.ipv4.devinet import RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE
from tuxnet.ipv4.fib_semantics import (
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RTAX_INDEX,
    RTAX_NAMES,
    RTN_ANYCAST,
    RTN_BROADCAST,
    RTN_LOCAL,
    RTN_MULTICAST,
    RTN_NAT,
    RTN_UNICAST,
    RTN_UNSPEC,
    RTNH_F_DEAD,
    RTNH_F_LINKDOWN,
    RTNH_F_ONLINK,
    RTNH_F_PERVASIVE,
    RTPROT_BOOT,
    FibConfig,
)
from tuxnet.ipv4.fib_trie import NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE
from tuxnet.tools.ip.common import (
    Args,
    IpExit,
    Opts,
    dsfield_a2n,
    dsfield_n2a,
    duparg2,
    fmt_prefix,
    get_addr,
    get_prefix,
    get_u32,
    invarg,
    matches,
    nodev,
    proto_a2n,
    proto_n2a,
    rtnl_error,
    rtntype_a2n,
    scope_a2n,
    scope_n2a,
    table_a2n,
    table_n2a,
)
from tuxnet.wire.addr import ip_ntoa

RTM_F_OFFLOAD_FAILED = 0x20000000  # iproute2 reads RTCF_MULTICAST of a cloned route as this flag

_HELP = """Usage: ip route { list | flush } SELECTOR
       ip route save SELECTOR
       ip route restore
       ip route showdump
       ip route get [ ROUTE_GET_FLAGS ] ADDRESS
                            [ from ADDRESS iif STRING ]
                            [ oif STRING ] [ tos TOS ]
                            [ mark NUMBER ] [ vrf NAME ]
                            [ uid NUMBER ] [ ipproto PROTOCOL ]
                            [ sport NUMBER ] [ dport NUMBER ]
       ip route { add | del | change | append | replace } ROUTE
SELECTOR := [ root PREFIX ] [ match PREFIX ] [ exact PREFIX ]
            [ table TABLE_ID ] [ vrf NAME ] [ proto RTPROTO ]
            [ type TYPE ] [ scope SCOPE ]
ROUTE := NODE_SPEC [ INFO_SPEC ]
NODE_SPEC := [ TYPE ] PREFIX [ tos TOS ]
             [ table TABLE_ID ] [ proto RTPROTO ]
             [ scope SCOPE ] [ metric METRIC ]
             [ ttl-propagate { enabled | disabled } ]
INFO_SPEC := { NH | nhid ID } OPTIONS FLAGS [ nexthop NH ]...
NH := [ encap ENCAPTYPE ENCAPHDR ] [ via [ FAMILY ] ADDRESS ]
      [ dev STRING ] [ weight NUMBER ] NHFLAGS
FAMILY := [ inet | inet6 | mpls | bridge | link ]
OPTIONS := FLAGS [ mtu NUMBER ] [ advmss NUMBER ] [ as [ to ] ADDRESS ]
           [ rtt TIME ] [ rttvar TIME ] [ reordering NUMBER ]
           [ window NUMBER ] [ cwnd NUMBER ] [ initcwnd NUMBER ]
           [ ssthresh NUMBER ] [ realms REALM ] [ src ADDRESS ]
           [ rto_min TIME ] [ hoplimit NUMBER ] [ initrwnd NUMBER ]
           [ features FEATURES ] [ quickack BOOL ] [ congctl NAME ]
           [ pref PREF ] [ expires TIME ] [ fastopen_no_cookie BOOL ]
TYPE := { unicast | local | broadcast | multicast | throw |
          unreachable | prohibit | blackhole | nat }
TABLE_ID := [ local | main | default | all | NUMBER ]
SCOPE := [ host | link | global | NUMBER ]
NHFLAGS := [ onlink | pervasive ]
RTPROTO := [ kernel | boot | static | NUMBER ]
PREF := [ low | medium | high ]
TIME := NUMBER[s|ms]
BOOL := [1|0]
FEATURES := ecn
"""

_SIMPLE_METRICS = ("advmss", "reordering", "hoplimit", "window", "cwnd", "initcwnd", "ssthresh", "initrwnd",
                   "quickack", "fastopen_no_cookie")


def usage() -> IpExit:
    return IpExit(255, _HELP)


def do_iproute(ns: Any, argv: list[str], opts: Opts) -> int:
    if not argv:
        return _list(ns, [], opts, flush=False)
    cmd = argv[0]
    rest = argv[1:]
    if matches(cmd, "add"):
        return _modify(ns, rest, opts, NLM_F_CREATE | NLM_F_EXCL, delete=False)
    if matches(cmd, "change") or cmd == "chg":
        return _modify(ns, rest, opts, NLM_F_REPLACE, delete=False)
    if matches(cmd, "replace"):
        return _modify(ns, rest, opts, NLM_F_CREATE | NLM_F_REPLACE, delete=False)
    if matches(cmd, "prepend"):
        return _modify(ns, rest, opts, NLM_F_CREATE, delete=False)
    if matches(cmd, "append"):
        return _modify(ns, rest, opts, NLM_F_CREATE | NLM_F_APPEND, delete=False)
    if matches(cmd, "delete"):
        return _modify(ns, rest, opts, 0, delete=True)
    if matches(cmd, "list") or matches(cmd, "show") or cmd == "lst":
        return _list(ns, rest, opts, flush=False)
    if matches(cmd, "get"):
        return _get(ns, rest, opts)
    if matches(cmd, "flush"):
        return _list(ns, rest, opts, flush=True)
    if matches(cmd, "help"):
        raise usage()
    raise IpExit(255, f'Command "{cmd}" is unknown, try "ip route help".')


# ---------------------------------------------------------------------- formatting
def _metrics_text(metrics: dict[str, int], json_out: dict[str, Any] | None = None) -> str:
    """print_rta_metrics."""
    lock = metrics.get("lock", 0)
    parts = []
    for name in RTAX_NAMES[1:]:
        idx = RTAX_INDEX[name]
        if name not in metrics and not lock & (1 << idx):
            continue
        val = metrics.get(name, 0)
        text = name + " " + ("lock " if lock & (1 << idx) else "")
        if name in ("rtt", "rttvar", "rto_min"):
            if name == "rtt":
                val //= 8
            elif name == "rttvar":
                val //= 4
            text += (f"{val / 1e3:g}s " if val >= 1000 else f"{val}ms ")
        elif name == "features":
            text += ("ecn " if val & 1 else f"0x{val:x} ")
        else:
            text += f"{val} "
        if json_out is not None:
            json_out[name] = val
        parts.append(text)
    return "".join(parts)


def _flags_text(flags: int) -> list[str]:
    """print_rt_flags."""
    names = []
    for bit, name in ((RTNH_F_DEAD, "dead"), (RTNH_F_ONLINK, "onlink"), (RTNH_F_PERVASIVE, "pervasive"),
                      (8, "offload"), (64, "trap"), (0x100, "notify"), (RTNH_F_LINKDOWN, "linkdown"),
                      (32, "unresolved"), (0x4000, "rt_offload"), (0x8000, "rt_trap"),
                      (RTM_F_OFFLOAD_FAILED, "rt_offload_failed")):
        if flags & bit:
            names.append(name)
    return names


def _ignore_linkdown(ns: Any, dev: Any) -> bool:
    v = ns.sysctl.v
    return bool(v.get("net.ipv4.conf.all.ignore_routes_with_linkdown", 0)
                or v.get(f"net.ipv4.conf.{dev.name}.ignore_routes_with_linkdown", 0))


def route_flags(ns: Any, fa: Any) -> int:
    """fib_dump_info's rtm_flags: route flags plus the next hop's dead/onlink/linkdown."""
    fi = fa.fi
    nh = fi.nh
    flags = fi.flags & ~(RTNH_F_DEAD | RTNH_F_LINKDOWN)
    flags |= nh.flags & (RTNH_F_ONLINK | RTNH_F_PERVASIVE)
    if nh.flags & RTNH_F_DEAD:
        flags |= RTNH_F_DEAD
    if nh.flags & RTNH_F_LINKDOWN:
        flags |= RTNH_F_LINKDOWN
        if nh.dev is not None and _ignore_linkdown(ns, nh.dev):
            flags |= RTNH_F_DEAD
    return flags


class Filter:
    __slots__ = ("tb", "proto", "scope", "type", "oif", "via", "prefsrc", "rdst", "mdst", "tos")

    def __init__(self) -> None:
        self.tb = RT_TABLE_MAIN
        self.proto: int | None = None
        self.scope: int | None = None
        self.type: int | None = None
        self.oif: Any = None
        self.via: int | None = None
        self.prefsrc: int | None = None
        self.rdst: tuple[int, int] | None = None
        self.mdst: tuple[int, int] | None = None
        self.tos: int | None = None

    def accepts(self, fa: Any) -> bool:
        fi = fa.fi
        if self.tb and fa.table != self.tb:
            return False
        if self.proto is not None and fi.protocol != self.proto:
            return False
        if self.scope is not None and fi.scope != self.scope:
            return False
        if self.type is not None and fa.type != self.type:
            return False
        if self.tos is not None and fa.tos != self.tos:
            return False
        if self.oif is not None and fi.nh.dev is not self.oif:
            return False
        if self.via is not None and fi.nh.gw != self.via:
            return False
        if self.prefsrc is not None and fi.prefsrc != self.prefsrc:
            return False
        if self.rdst is not None:
            a, p = self.rdst
            if p > fa.plen or _mismatch(fa.dst, a, p):
                return False
        if self.mdst is not None:
            a, p = self.mdst
            if p < fa.plen or _mismatch(fa.dst, a, fa.plen):
                return False
        return True


def _mismatch(x: int, y: int, plen: int) -> bool:
    mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF if plen else 0
    return bool((x ^ y) & mask)


def format_route(ns: Any, fa: Any, opts: Opts, flt: Filter | None = None) -> tuple[str, dict[str, Any]]:
    """print_route for a FIB entry: the text line and the JSON object."""
    flt = flt or Filter()
    fi = fa.fi
    nh = fi.nh
    j: dict[str, Any] = {}
    s = ""
    if (fa.type != RTN_UNICAST or opts.details) and flt.type is None:
        s += RTN_N2A_TYPE(fa.type) + " "
        j["type"] = RTN_N2A_TYPE(fa.type)
    dst = "default" if fa.plen == 0 else fmt_prefix(fa.dst, fa.plen)
    s += dst + " "
    j["dst"] = dst
    if fa.tos and flt.tos is None:
        s += f"tos {dsfield_n2a(fa.tos)} "
        j["tos"] = dsfield_n2a(fa.tos)
    if nh.gw and flt.via is None:
        s += f"via {ip_ntoa(nh.gw)} "
        j["gateway"] = ip_ntoa(nh.gw)
    if nh.dev is not None and flt.oif is None:
        s += f"dev {nh.dev.name} "
        j["dev"] = nh.dev.name
    if (fa.table != RT_TABLE_MAIN or opts.details) and not flt.tb:
        s += f"table {table_n2a(fa.table)} "
        j["table"] = table_n2a(fa.table)
    if (fi.protocol != RTPROT_BOOT or opts.details) and flt.proto is None:
        s += f"proto {proto_n2a(fi.protocol)} "
        j["protocol"] = proto_n2a(fi.protocol)
    if (fi.scope != RT_SCOPE_UNIVERSE or opts.details) and flt.scope is None:
        s += f"scope {scope_n2a(fi.scope)} "
        j["scope"] = scope_n2a(fi.scope)
    if fi.prefsrc and flt.prefsrc is None:
        s += f"src {ip_ntoa(fi.prefsrc)} "
        j["prefsrc"] = ip_ntoa(fi.prefsrc)
    if fi.priority:
        s += f"metric {fi.priority} "
        j["metric"] = fi.priority
    fl = _flags_text(route_flags(ns, fa))
    s += "".join(f + " " for f in fl)
    j["flags"] = fl
    if fi.metrics:
        mj: dict[str, Any] = {}
        s += _metrics_text(fi.metrics, mj)
        j["metrics"] = [mj]
    return s, j


def RTN_N2A_TYPE(t: int) -> str:
    from tuxnet.tools.ip.common import RTN_N2A

    return RTN_N2A.get(t, str(t))


# ---------------------------------------------------------------------- list / flush
def _parse_filter(ns: Any, args: Args, flush: bool) -> Filter:
    flt = Filter()
    while args:
        a = args.take()
        if matches(a, "table"):
            v = args.next()
            if v == "all":
                flt.tb = 0
            elif v == "cache":
                flt.tb = -1
            else:
                tid = table_a2n(v)
                if tid is None:
                    raise invarg("table id value is invalid\n", v)
                flt.tb = tid
        elif a == "cache" or matches(a, "cloned"):
            flt.tb = -1
        elif matches(a, "protocol"):
            flt.proto = args.next_as(proto_a2n, '"protocol" value is invalid\n')
        elif matches(a, "scope"):
            flt.scope = args.next_as(scope_a2n, "invalid \"scope\" value\n")
        elif matches(a, "type"):
            flt.type = args.next_as(rtntype_a2n, "node type value is invalid\n")
        elif a in ("dev", "oif"):
            name = args.next()
            dev = ns.devices.get(name)
            if dev is None:
                raise nodev(name)
            flt.oif = dev
        elif a == "via":
            v = args.next()
            if v == "inet":
                v = args.next()
            flt.via = get_addr(v)
        elif a == "src":
            flt.prefsrc = get_addr(args.next())
        elif a in ("tos", "dsfield"):
            flt.tos = args.next_as(dsfield_a2n, "TOS value is invalid\n")
        elif a == "root":
            flt.rdst = get_prefix(args.next())
        elif matches(a, "match"):
            flt.mdst = get_prefix(args.next())
        else:
            if a in ("exact", "to"):
                a = args.next()
            flt.mdst = flt.rdst = get_prefix(a)
    return flt


def _list(ns: Any, argv: list[str], opts: Opts, *, flush: bool) -> int:
    if opts.family not in (0, 4):
        if opts.json:
            opts.out.write("[]\n")
        return 0
    if flush and not argv:
        raise IpExit(1, '"ip route flush" requires arguments.')
    args = Args(argv)
    flt = _parse_filter(ns, args, flush)
    fib = ns.fib
    if flt.tb == -1:
        return _list_cache(ns, opts, flush)
    if flt.tb and flt.tb not in fib.tables:
        if flush:
            return 0
        raise IpExit(2, "Error: ipv4: FIB table does not exist.\nDump terminated")
    tables = sorted(fib.tables.values(), key=lambda t: ((t.id & 0xFF), -t.id))
    selected = [fa for tb in tables if not flt.tb or tb.id == flt.tb
                for fa in tb.aliases() if flt.accepts(fa)]
    if flush:
        for fa in selected:
            tb = fib.tables.get(fa.table)
            if tb is not None and not fa.fi.dead:
                tb.remove(fa)
        return 0
    out = opts.out
    js = []
    for fa in selected:
        text, j = format_route(ns, fa, opts, flt)
        if opts.json:
            js.append(j)
        else:
            out.write(text + "\n")
    if opts.json:
        opts.dump_json(js)
    return 0


def _list_cache(ns: Any, opts: Opts, flush: bool) -> int:
    """``ip route show cache``: the PMTU exceptions."""
    if flush:
        for _nh, fnhe in ns.route.exceptions():
            _nh.exceptions.pop(fnhe.daddr, None)
        ns.fib.flush_cache()
        return 0
    for nh, fnhe in ns.route.exceptions():
        dev = f"dev {nh.dev.name} " if nh.dev is not None else ""
        via = f"via {ip_ntoa(nh.gw)} " if nh.gw and nh.scope == RT_SCOPE_LINK else ""
        secs = (fnhe.expires - ns.now) // 1_000_000_000
        lock = "lock " if fnhe.locked else ""
        opts.out.write(f"{ip_ntoa(fnhe.daddr)} {via}{dev}\n"
                       f"    cache expires {secs}sec mtu {lock}{fnhe.pmtu} \n")
    return 0


# ---------------------------------------------------------------------- add / del
def _parse_time_ms(v: str) -> int:
    if v.endswith("ms"):
        return int(v[:-2])
    if v.endswith("s"):
        return int(float(v[:-1]) * 1000)
    return int(v)


def _modify(ns: Any, argv: list[str], opts: Opts, nlflags: int, *, delete: bool) -> int:
    """iproute_modify."""
    args = Args(argv)
    cfg = FibConfig(table=RT_TABLE_MAIN, nlflags=nlflags)
    if delete:
        cfg.protocol = 0
        cfg.type = RTN_UNSPEC
        cfg.scope = RT_SCOPE_UNIVERSE
    else:
        cfg.protocol = RTPROT_BOOT
        cfg.type = RTN_UNICAST
    dst_ok = gw_ok = table_ok = scope_ok = False
    devname: str | None = None
    metrics: dict[str, int] = {}
    lock = 0
    while args:
        a = args.take()
        if a == "src":
            cfg.prefsrc = get_addr(args.next())
        elif a == "via":
            if gw_ok:
                raise IpExit(255, 'Error: duplicate "via": "' + args.peek() + '" is the second value.'
                             if args else 'Command line is not complete. Try option "help"')
            v = args.next()
            if v == "inet":
                v = args.next()
            cfg.gw = get_addr(v)
            gw_ok = True
        elif a in ("tos", "dsfield") or matches(a, "dsfield"):
            cfg.tos = args.next_as(dsfield_a2n, '"tos" value is invalid\n')
        elif a == "expires":
            args.next()
        elif matches(a, "metric") or matches(a, "priority") or a == "preference":
            cfg.priority = args.next_as(get_u32, '"metric" value is invalid\n')
        elif a == "mtu" or a in _SIMPLE_METRICS or a in ("rtt", "rttvar", "rto_min"):
            v = args.next()
            if v == "lock":
                lock |= 1 << RTAX_INDEX[a]
                v = args.next()
            try:
                if a in ("rtt", "rttvar", "rto_min"):
                    ms = _parse_time_ms(v)
                    raw = not (v.endswith("s"))
                    metrics[a] = ms if raw or a == "rto_min" else ms * (8 if a == "rtt" else 4)
                else:
                    metrics[a] = get_u32(v)
            except ValueError:
                raise invarg(f'"{a}" value is invalid\n', v) from None
        elif a == "features":
            v = args.next()
            if v != "ecn":
                raise invarg('"features" value not valid\n', v)
            metrics["features"] = 1
        elif a == "congctl" or matches(a, "realms") or a == "as" or a == "pref":
            args.next()
        elif a == "onlink":
            cfg.flags |= RTNH_F_ONLINK
        elif a == "pervasive":
            cfg.flags |= RTNH_F_PERVASIVE
        elif matches(a, "protocol"):
            cfg.protocol = args.next_as(proto_a2n, '"protocol" value is invalid\n')
        elif matches(a, "table"):
            cfg.table = args.next_as(table_a2n, '"table" value is invalid\n')
            table_ok = True
        elif matches(a, "scope"):
            cfg.scope = args.next_as(scope_a2n, 'invalid "scope" value\n')
            scope_ok = True
        elif a in ("dev", "oif"):
            devname = args.next()
        elif a == "nexthop":
            raise IpExit(255, "Error: tuxnet's ip supports single-nexthop routes only.")
        else:
            if a == "to":
                a = args.next()
            if not a[:1].isdigit():
                t = rtntype_a2n(a)
                if t is not None:
                    cfg.type = t
                    a = args.next()
            if matches(a, "help"):
                raise usage()
            if dst_ok:
                raise duparg2("to", a)
            cfg.dst, cfg.dst_len = get_prefix(a)
            dst_ok = True
    if not dst_ok:
        raise usage()
    if devname is not None:
        dev = ns.devices.get(devname)
        if dev is None:
            raise nodev(devname)
        cfg.oif = dev.ifindex
    if lock:
        metrics["lock"] = lock
    cfg.metrics = metrics
    if not table_ok and cfg.type in (RTN_LOCAL, RTN_BROADCAST, RTN_NAT, RTN_ANYCAST):
        cfg.table = RT_TABLE_LOCAL
    if not scope_ok:
        if cfg.type in (RTN_LOCAL, RTN_NAT):
            cfg.scope = RT_SCOPE_HOST
        elif cfg.type in (RTN_BROADCAST, RTN_MULTICAST, RTN_ANYCAST):
            cfg.scope = RT_SCOPE_LINK
        elif cfg.type in (RTN_UNICAST, RTN_UNSPEC):
            if delete:
                cfg.scope = RT_SCOPE_NOWHERE
            elif not gw_ok:
                cfg.scope = RT_SCOPE_LINK
    try:
        if delete:
            ns.fib.del_route(cfg)
        else:
            ns.fib.add_route(cfg)
    except OSError as e:
        raise rtnl_error(e) from None
    return 0


# ---------------------------------------------------------------------- get
def _get(ns: Any, argv: list[str], opts: Opts) -> int:
    """iproute_get."""
    args = Args(argv)
    dst: int | None = None
    src = 0
    src_given = False
    iif = oif = None
    mark = 0
    tos = 0
    uid: int | None = None
    while args:
        a = args.take()
        if a in ("tos", "dsfield") or matches(a, "dsfield"):
            tos = args.next_as(dsfield_a2n, "TOS value is invalid\n")
        elif matches(a, "from"):
            v = args.next()
            src, _ = get_prefix(v, any_ok=False)
            src_given = True
        elif a in ("iif", "input"):
            iif = args.next()
        elif a == "mark":
            mark = args.next_as(get_u32, "invalid mark\n")
        elif a in ("oif", "dev") or matches(a, "output"):
            oif = args.next()
        elif matches(a, "notify") or matches(a, "connected") or matches(a, "fibmatch"):
            pass
        elif a == "uid":
            uid = args.next_as(get_u32, "invalid UID\n")
        elif a in ("ipproto", "sport", "dport", "vrf"):
            args.next()
        else:
            if a == "to":
                a = args.next()
            if matches(a, "help"):
                raise usage()
            d, _ = get_prefix(a, any_ok=False)
            if dst is not None:
                raise duparg2("to", a)
            dst = d
    if dst is None:
        raise IpExit(1, "need at least a destination address")
    in_dev = out_dev = None
    if iif is not None:
        in_dev = ns.devices.get(iif)
        if in_dev is None:
            raise nodev(iif)
    if oif is not None:
        out_dev = ns.devices.get(oif)
        if out_dev is None:
            raise nodev(oif)
    try:
        if in_dev is not None:
            from tuxnet.ipv4.route import _Martian

            try:
                rt = ns.route.input_slow(dst, src, tos, in_dev, mark)
            except _Martian:
                raise OSError(errno.EINVAL, "martian") from None
            if rt.error:
                raise OSError(rt.error, "unreachable")
        else:
            rt = ns.route.output_slow(dst, src, tos, out_dev.ifindex if out_dev else 0, mark,
                                      uid if uid is not None else 0)
    except OSError as e:
        raise rtnl_error(OSError(e.errno, "")) from None
    text, j = format_cloned(ns, rt, dst, src if src_given else 0, mark, uid, opts)
    if opts.json:
        opts.dump_json([j])
    else:
        opts.out.write(text)
    return 0


def format_cloned(ns: Any, rt: Any, dst: int, src: int, mark: int, uid: int | None,
                  opts: Opts) -> tuple[str, dict[str, Any]]:
    """rt_fill_info + print_route for a looked-up (cloned) route."""
    from tuxnet.ipv4.route import RTCF_NAMES

    j: dict[str, Any] = {}
    s = ""
    if rt.rt_type != RTN_UNICAST or opts.details:
        s += RTN_N2A_TYPE(rt.rt_type) + " "
        j["type"] = RTN_N2A_TYPE(rt.rt_type)
    s += ip_ntoa(dst) + " "
    j["dst"] = ip_ntoa(dst)
    if src:
        s += f"from {ip_ntoa(src)} "
        j["from"] = ip_ntoa(src)
    if rt.tos:
        s += f"tos {dsfield_n2a(rt.tos)} "
        j["tos"] = dsfield_n2a(rt.tos)
    if rt.gateway:
        s += f"via {ip_ntoa(rt.gateway)} "
        j["gateway"] = ip_ntoa(rt.gateway)
    s += f"dev {rt.dev.name} "
    j["dev"] = rt.dev.name
    if rt.table and (rt.table != RT_TABLE_MAIN or opts.details):
        s += f"table {table_n2a(rt.table)} "
        j["table"] = table_n2a(rt.table)
    if not rt.is_input and rt.src != src:
        s += f"src {ip_ntoa(rt.src)} "
        j["prefsrc"] = ip_ntoa(rt.src)
    rflags = rt.flags & ~0xFFFF
    fl = _flags_text(rflags & RTM_F_OFFLOAD_FAILED)
    s += "".join(f + " " for f in fl)
    j["flags"] = fl
    if mark:
        # iproute2 prints small marks in decimal, from 16 on in hex
        s += f"mark {mark} " if mark < 16 else f"mark 0x{mark:x} "
        j["mark"] = mark
    if not rt.is_input:
        u = uid if uid is not None else 0
        s += f"uid {u} "
        j["uid"] = u
    s += "\n    cache "
    names = [n for bit, n in RTCF_NAMES if rflags & bit]
    if names:
        s += "<" + ",".join(names) + "> "
    j["cache"] = names
    fnhe = rt.exception()
    metrics = dict(rt.metrics)
    if fnhe is not None:
        secs = (fnhe.expires - ns.now) // 1_000_000_000
        s += f"expires {secs}sec "
        j["expires"] = secs
        metrics["mtu"] = fnhe.pmtu
        if fnhe.locked:
            metrics["lock"] = metrics.get("lock", 0) | (1 << RTAX_INDEX["mtu"])
    if metrics:
        mj: dict[str, Any] = {}
        s += _metrics_text(metrics, mj)
        j["metrics"] = [mj]
    if rt.is_input:
        dev = ns.by_index.get(rt.iif)
        name = dev.name if dev is not None else str(rt.iif)
        s += f"iif {name} "
        j["iif"] = name
    return s + "\n", j

