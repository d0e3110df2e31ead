"""``ip``: iproute2's ip(8) over a tuxnet namespace (ip/ip.c).

Objects and their abbreviations resolve as iproute2's command table does (the first entry the word
is a prefix of: ``ip a`` address, ``ip r`` route, ``ip ru`` rule, ``ip n`` neighbour, ``ip l`` link).
Global options: ``-4``, ``-s``/``-stats`` (repeatable), ``-d``/``-details``, ``-j``/``-json``,
``-p``/``-pretty``, ``-br``/``-brief``, ``-o``/``-oneline``, ``-f``/``-family inet``, ``-V``.
Output, error wording and exit codes follow iproute2 6.x; nothing raises out of ``main``.
"""

from __future__ import annotations

from typing import Any

from tuxnet.tools.ip.common import IpExit, Opts, matches

# ip.c cmds[] order matters for abbreviations
_OBJECTS = ("address", "addrlabel", "maddress", "route", "rule", "neighbor", "neighbour", "ntable", "ntbl",
            "link", "l2tp", "fou", "ila", "macsec", "tunnel", "tunl", "tuntap", "tap", "token",
            "tcpmetrics", "tcp_metrics", "monitor", "xfrm", "mroute", "mrule", "netns", "netconf", "vrf",
            "sr", "nexthop", "mptcp", "ioam", "help", "stats")

_USAGE = """Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }
       ip [ -force ] -batch filename
where  OBJECT := { address | addrlabel | fou | help | ila | ioam | l2tp | link |
                   macsec | maddress | monitor | mptcp | mroute | mrule |
                   neighbor | neighbour | netconf | netns | nexthop | ntable |
                   ntbl | route | rule | sr | stats | tap | tcpmetrics |
                   token | tunnel | tuntap | vrf | xfrm }
       OPTIONS := { -V[ersion] | -s[tatistics] | -d[etails] | -r[esolve] |
                    -h[uman-readable] | -iec | -j[son] | -p[retty] |
                    -f[amily] { inet | inet6 | mpls | bridge | link } |
                    -4 | -6 | -M | -B | -0 |
                    -l[oops] { maximum-addr-flush-attempts } | -br[ief] |
                    -o[neline] | -t[imestamp] | -ts[hort] | -b[atch] [filename] |
                    -rc[vbuf] [size] | -n[etns] name | -N[umeric] | -a[ll] |
                    -c[olor]}
"""


async def main(ns: Any, argv: list[str], out: Any, err: Any) -> int:
    """Run ``ip ARGV`` in namespace ``ns``; returns the exit code."""
    opts = Opts(out, err)
    try:
        return _run(ns, list(argv), opts)
    except IpExit as e:
        if e.msg:
            err.write(e.msg if e.msg.endswith("\n") else e.msg + "\n")
        return e.rc
    except OSError as e:  # a refusal no handler mapped: reported as the netlink answer it would be
        from tuxnet.tools.ip.common import rtnl_error

        x = rtnl_error(e)
        err.write(x.msg + "\n")
        return x.rc


def _run(ns: Any, argv: list[str], opts: Opts) -> int:
    i = 0
    while i < len(argv) and argv[i].startswith("-") and len(argv[i]) > 1:
        opt = argv[i].lstrip("-")
        if opt == "4":
            opts.family = 4
        elif opt == "6":
            opts.family = 6
        elif opt == "0":
            opts.family = 17
        elif matches(opt, "stats") or matches(opt, "statistics"):
            opts.stats += 1
        elif matches(opt, "details"):
            opts.details += 1
        elif matches(opt, "json"):
            opts.json = True
        elif matches(opt, "pretty"):
            opts.pretty = True
        elif opt in ("br", "brief") or (len(opt) >= 2 and matches(opt, "brief")):
            opts.brief = True
        elif matches(opt, "oneline"):
            opts.oneline = True
        elif matches(opt, "family"):
            i += 1
            if i >= len(argv):
                raise IpExit(255, 'Command line is not complete. Try option "help"')
            fam = argv[i]
            opts.family = {"inet": 4, "inet6": 6, "link": 17}.get(fam, -1)
            if opts.family == -1:
                raise IpExit(255, f'Error: argument "{fam}" is wrong: invalid protocol family\n')
        elif matches(opt, "Version"):
            opts.out.write("ip utility, iproute2-6.1.0, libbpf 1.1.2\n")
            return 0
        elif opt in ("r", "resolve", "N", "Numeric", "c", "color", "a", "all", "h", "human", "human-readable",
                     "iec", "t", "timestamp", "ts", "tshort"):
            pass
        elif matches(opt, "help"):
            opts.err.write(_USAGE)
            return 255
        else:
            raise IpExit(255, f'Option "{argv[i]}" is unknown, try "ip -help".')
        i += 1
    rest = argv[i:]
    if not rest:
        opts.err.write(_USAGE)
        return 255
    obj = rest[0]
    name = next((o for o in _OBJECTS if matches(obj, o)), None)
    if name is None:
        raise IpExit(1, f'Object "{obj}" is unknown, try "ip help".')
    args = rest[1:]
    if name in ("address",):
        from tuxnet.tools.ip import addr

        return addr.do_ipaddr(ns, args, opts)
    if name == "route":
        from tuxnet.tools.ip import route

        return route.do_iproute(ns, args, opts)
    if name == "rule":
        from tuxnet.tools.ip import rule

        return rule.do_iprule(ns, args, opts)
    if name in ("neighbor", "neighbour"):
        from tuxnet.tools.ip import neigh

        return neigh.do_ipneigh(ns, args, opts)
    if name == "link":
        from tuxnet.tools.ip import link

        return link.do_iplink(ns, args, opts)
    if name == "help":
        opts.err.write(_USAGE)
        return 255
    raise IpExit(1, f'Object "{obj}" is not supported by tuxnet\'s ip.')
