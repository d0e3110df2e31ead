"""``ip rule``: show/list, add, del, flush (ip/iprule.c), printed as print_rule does."""

from __future__ import annotations

from typing import Any

from tuxnet.ipv4.fib_semantics import RT_TABLE_MAIN, RTPROT_KERNEL
from tuxnet.ipv4.rules import (
    FIB_RULE_INVERT,
    FR_ACT_GOTO,
    FR_ACT_NOP,
    FR_ACT_TO_TBL,
    UID_MAX,
    FibRule,
)
from tuxnet.tools.ip.common import (
    RTN_N2A,
    Args,
    IpExit,
    Opts,
    dsfield_a2n,
    dsfield_n2a,
    get_prefix,
    get_u32,
    invarg,
    matches,
    proto_a2n,
    proto_n2a,
    rtnl_error,
    rtntype_a2n,
    table_a2n,
    table_n2a,
)
from tuxnet.wire.addr import ip_ntoa

_HELP = """Usage: ip rule { add | del } SELECTOR ACTION
       ip rule { flush | save | restore }
       ip rule [ list [ SELECTOR ]]
SELECTOR := [ not ] [ from PREFIX ] [ to PREFIX ] [ tos TOS ]
            [ fwmark FWMARK[/MASK] ]
            [ iif STRING ] [ oif STRING ] [ pref NUMBER ] [ l3mdev ]
            [ uidrange NUMBER-NUMBER ]
            [ ipproto PROTOCOL ]
            [ sport [ NUMBER | NUMBER-NUMBER ]
            [ dport [ NUMBER | NUMBER-NUMBER ] ]
ACTION := [ table TABLE_ID ]
          [ protocol PROTO ]
          [ nat ADDRESS ]
          [ realms [SRCREALM/]DSTREALM ]
          [ goto NUMBER ]
          SUPPRESSOR
SUPPRESSOR := [ suppress_prefixlength NUMBER ]
              [ suppress_ifgroup DEVGROUP ]
TABLE_ID := [ local | main | default | NUMBER ]
"""


def do_iprule(ns: Any, argv: list[str], opts: Opts) -> int:
    if opts.family not in (0, 4):
        if opts.json:
            opts.out.write("[]\n")
        return 0
    if not argv:
        return _list(ns, [], opts)
    cmd, rest = argv[0], argv[1:]
    if matches(cmd, "add"):
        return _modify(ns, rest, add=True)
    if matches(cmd, "delete"):
        return _modify(ns, rest, add=False)
    if matches(cmd, "list") or matches(cmd, "show") or cmd == "lst":
        return _list(ns, rest, opts)
    if matches(cmd, "flush"):
        ns.fib.rules.flush()
        return 0
    if matches(cmd, "help"):
        raise IpExit(255, _HELP)
    raise IpExit(255, f'Command "{cmd}" is unknown, try "ip rule help".')


def format_rule(ns: Any, r: FibRule, opts: Opts) -> tuple[str, dict[str, Any]]:
    """print_rule."""
    j: dict[str, Any] = {"priority": r.pref}
    s = f"{r.pref}:\t"
    if r.flags & FIB_RULE_INVERT:
        s += "not "
        j["not"] = None
    if r.src_len:
        s += f"from {ip_ntoa(r.src)}"
        j["src"] = ip_ntoa(r.src)
        if r.src_len != 32:
            s += f"/{r.src_len}"
            j["srclen"] = r.src_len
    else:
        s += "from all"
        j["src"] = "all"
    if r.dst_len:
        s += f" to {ip_ntoa(r.dst)}"
        j["dst"] = ip_ntoa(r.dst)
        if r.dst_len != 32:
            s += f"/{r.dst_len}"
            j["dstlen"] = r.dst_len
    if r.tos:
        s += f" tos {dsfield_n2a(r.tos)}"
        j["tos"] = dsfield_n2a(r.tos)
    if r.mark or r.mark_mask:
        s += f" fwmark {r.mark:#x}"
        j["fwmark"] = f"{r.mark:#x}"
        if r.mark_mask != 0xFFFFFFFF:
            s += f"/{r.mark_mask:#x}"
            j["fwmask"] = f"{r.mark_mask:#x}"
    if r.iifname:
        s += f" iif {r.iifname}"
        j["iif"] = r.iifname
        if r.iifindex == -1:
            s += " [detached]"
            j["iif_detached"] = None
    if r.oifname:
        s += f" oif {r.oifname}"
        j["oif"] = r.oifname
        if r.oifindex == -1:
            s += " [detached]"
            j["oif_detached"] = None
    if (r.uid_start, r.uid_end) != (0, UID_MAX):
        s += f" uidrange {r.uid_start}-{r.uid_end}"
        j["uid_start"] = r.uid_start
        j["uid_end"] = r.uid_end
    if r.table:
        s += f" lookup {table_n2a(r.table)}"
        j["table"] = table_n2a(r.table)
        if r.suppress_prefixlen != -1:
            s += f" suppress_prefixlength {r.suppress_prefixlen}"
            j["suppress_prefixlen"] = r.suppress_prefixlen
        if r.suppress_ifgroup != -1:
            g = "default" if r.suppress_ifgroup == 0 else str(r.suppress_ifgroup)
            s += f" suppress_ifgroup {g}"
            j["suppress_ifgroup"] = g
    if r.action == FR_ACT_GOTO:
        s += f" goto {r.target}"
        j["goto"] = r.target
        if r.ctarget is None:
            s += " [unresolved]"
            j["unresolved"] = None
    elif r.action == FR_ACT_NOP:
        s += " nop"
        j["nop"] = None
    elif r.action != FR_ACT_TO_TBL:
        s += f" {RTN_N2A.get(r.action, str(r.action))}"
        j["action"] = RTN_N2A.get(r.action, str(r.action))
    if (r.proto and r.proto != RTPROT_KERNEL) or opts.details:
        s += f" proto {proto_n2a(r.proto)}"
        j["protocol"] = proto_n2a(r.proto)
    return s, j


def _list(ns: Any, argv: list[str], opts: Opts) -> int:
    js = []
    for r in ns.fib.rules:
        text, j = format_rule(ns, r, opts)
        if opts.json:
            js.append(j)
        else:
            opts.out.write(text + "\n")
    if opts.json:
        opts.dump_json(js)
    return 0


def _modify(ns: Any, argv: list[str], *, add: bool) -> int:
    """iprule_modify."""
    if not add and not argv:
        raise IpExit(1, '"ip rule del" requires arguments.')
    args = Args(argv)
    kw: dict[str, Any] = {}
    pref_given = False
    table_ok = False
    action = FR_ACT_TO_TBL if add else 0
    table = 0
    while args:
        a = args.take()
        if a == "not":
            kw["invert"] = True
        elif a == "from":
            kw["src"], kw["src_len"] = get_prefix(args.next())
        elif a == "to":
            kw["dst"], kw["dst_len"] = get_prefix(args.next())
        elif matches(a, "preference") or matches(a, "order") or matches(a, "priority"):
            kw["pref"] = args.next_as(get_u32, "preference value is invalid\n")
            pref_given = True
        elif a == "tos" or matches(a, "dsfield"):
            kw["tos"] = args.next_as(dsfield_a2n, "TOS value is invalid\n")
        elif a == "fwmark":
            v = args.next()
            mark, _, mask = v.partition("/")
            try:
                kw["mark"] = get_u32(mark)
            except ValueError:
                raise invarg("fwmark value is invalid\n", mark) from None
            if mask:
                try:
                    kw["mark_mask"] = get_u32(mask)
                except ValueError:
                    raise invarg("fwmask value is invalid\n", mask) from None
        elif matches(a, "realms") or matches(a, "tun_id") or a in ("ipproto", "sport", "dport", "l3mdev"):
            if a != "l3mdev":
                args.next()
        elif matches(a, "protocol"):
            kw["proto"] = args.next_as(proto_a2n, '"protocol" value is invalid\n')
        elif matches(a, "table") or a == "lookup":
            table = args.next_as(table_a2n, "invalid table ID\n")
            table_ok = True
        elif matches(a, "suppress_prefixlength") or a == "sup_pl":
            v = args.next()
            try:
                pl = int(v, 0)
            except ValueError:
                pl = -1
            if pl < 0:
                raise invarg("suppress_prefixlength value is invalid\n", v)
            kw["suppress_prefixlen"] = pl
        elif matches(a, "suppress_ifgroup") or a == "sup_group":
            v = args.next()
            try:
                kw["suppress_ifgroup"] = 0 if v == "default" else get_u32(v)
            except ValueError:
                raise invarg("Invalid \"suppress_ifgroup\" value\n", v) from None
        elif a in ("dev", "iif"):
            kw["iifname"] = args.next()
        elif a == "oif":
            kw["oifname"] = args.next()
        elif a == "uidrange":
            v = args.next()
            lo, _, hi = v.partition("-")
            try:
                kw["uid_start"], kw["uid_end"] = int(lo), int(hi)
            except ValueError:
                raise invarg("invalid UID range\n", v) from None
        else:
            if a == "type":
                a = args.next()
            if matches(a, "help"):
                raise IpExit(255, _HELP)
            if matches(a, "goto"):
                action = FR_ACT_GOTO
                kw["target"] = args.next_as(get_u32, "invalid target\n")
            elif matches(a, "nop"):
                action = FR_ACT_NOP
            else:
                t = rtntype_a2n(a)
                if t is None:
                    raise invarg("Failed to parse rule type", a)
                action = t
            table_ok = True
    if add and not table_ok:
        table = RT_TABLE_MAIN
    rule = FibRule(action=action, table=table, **kw)
    rules = ns.fib.rules
    try:
        if add:
            if rule.action == FR_ACT_GOTO and pref_given and rule.target <= rule.pref:
                raise _backward()
            if rule.action == FR_ACT_GOTO and not pref_given and rule.target <= rules.default_pref():
                raise _backward()
            rules.add(rule, pref_given=pref_given)
        else:
            rules.delete(rule, pref_given=pref_given)
    except OSError as e:
        raise rtnl_error(e) from None
    return 0


def _backward() -> OSError:
    from tuxnet.ipv4.fib_semantics import RouteError

    return RouteError(22, "Backward goto not supported")
