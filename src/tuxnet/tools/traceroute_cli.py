"""traceroute's command line as its CLIF library parses it (traceroute 2.1.2, libsupp/clif.c).

Guarantees: short options group and take joined or separate arguments (``-q2``, ``-q 2``, ``-nI``);
long options take ``--name=value`` only (traceroute does not set CLIF_MAY_NOEQUAL); ``--`` ends the
options; numbers are parsed as strtoul/strtod/strtol with base 0; the arguments are ``host`` and an
optional ``packetlen``. Errors use CLIF's wording and argc numbering and mean exit 2:
"Bad option `-x' (argc 1)", "Option `-q' (argc 1) requires an argument: `-q nqueries'",
"Cannot handle `-q' option with arg `abc' (argc 2)", "Extra arg `70' (position 3, argc 3)",
"Specify \\"host\\" missing argument.". No arguments at all, or --help, print the help (on stderr,
exit 0, as CLIF_HELP_EMPTY does); -V prints the version.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tuxnet.tools.ping_common import HostError, inet_aton, resolve_host

if TYPE_CHECKING:
    from tuxnet.tools.traceroute import Traceroute

MAX_HOPS = 255
MAX_PROBES = 10
MAX_PACKET_LEN = 65000
DEF_DATA_LEN = 40

VERSION = ("Modern traceroute for Linux, version 2.1.2\n"
           "Copyright (c) 2016  Dmitry Butskoy,   License: GPL v2 or any later\n")
HELP = (
    'Usage:\n'
    '  traceroute [ -46dFITnreAUDV ] [ -f first_ttl ] [ -g gate,... ] [ -i device ] [ -m max_ttl ]'
    ' [ -N squeries ] [ -p port ] [ -t tos ] [ -l flow_label ] [ -w MAX,HERE,NEAR ] [ -q nqueries ]'
    ' [ -s src_addr ] [ -z sendwait ] [ --fwmark=num ] host [ packetlen ]\n'
    'Options:\n'
    '  -4                          Use IPv4\n'
    '  -6                          Use IPv6\n'
    '  -d  --debug                 Enable socket level debugging\n'
    '  -F  --dont-fragment         Do not fragment packets\n'
    '  -f first_ttl  --first=first_ttl\n'
    '                              Start from the first_ttl hop (instead from 1)\n'
    '  -g gate,...  --gateway=gate,...\n'
    '                              Route packets through the specified gateway\n'
    '                              (maximum 8 for IPv4 and 127 for IPv6)\n'
    '  -I  --icmp                  Use ICMP ECHO for tracerouting\n'
    '  -T  --tcp                   Use TCP SYN for tracerouting (default port is 80)\n'
    '  -i device  --interface=device\n'
    '                              Specify a network interface to operate with\n'
    '  -m max_ttl  --max-hops=max_ttl\n'
    '                              Set the max number of hops (max TTL to be\n'
    '                              reached). Default is 30\n'
    '  -N squeries  --sim-queries=squeries\n'
    '                              Set the number of probes to be tried\n'
    '                              simultaneously (default is 16)\n'
    '  -n                          Do not resolve IP addresses to their domain names\n'
    '  -p port  --port=port        Set the destination port to use. It is either\n'
    '                              initial udp port value for "default" method\n'
    '                              (incremented by each probe, default is 33434), or\n'
    '                              initial seq for "icmp" (incremented as well,\n'
    '                              default from 1), or some constant destination\n'
    '                              port for other methods (with default of 80 for\n'
    '                              "tcp", 53 for "udp", etc.)\n'
    '  -t tos  --tos=tos           Set the TOS (IPv4 type of service) or TC (IPv6\n'
    '                              traffic class) value for outgoing packets\n'
    '  -l flow_label  --flowlabel=flow_label\n'
    '                              Use specified flow_label for IPv6 packets\n'
    '  -w MAX,HERE,NEAR  --wait=MAX,HERE,NEAR\n'
    '                              Wait for a probe no more than HERE (default 3)\n'
    '                              times longer than a response from the same hop,\n'
    '                              or no more than NEAR (default 10) times than some\n'
    '                              next hop, or MAX (default 5.0) seconds (float\n'
    '                              point values allowed too)\n'
    '  -q nqueries  --queries=nqueries\n'
    '                              Set the number of probes per each hop. Default is\n'
    '                              3\n'
    '  -r                          Bypass the normal routing and send directly to a\n'
    '                              host on an attached network\n'
    '  -s src_addr  --source=src_addr\n'
    '                              Use source src_addr for outgoing packets\n'
    '  -z sendwait  --sendwait=sendwait\n'
    '                              Minimal time interval between probes (default 0).\n'
    '                              If the value is more than 10, then it specifies a\n'
    '                              number in milliseconds, else it is a number of\n'
    '                              seconds (float point values allowed too)\n'
    '  -e  --extensions            Show ICMP extensions (if present), including MPLS\n'
    '  -A  --as-path-lookups       Perform AS path lookups in routing registries and\n'
    '                              print results directly after the corresponding\n'
    '                              addresses\n'
    '  -M name  --module=name      Use specified module (either builtin or external)\n'
    '                              for traceroute operations. Most methods have\n'
    "                              their shortcuts (`-I' means `-M icmp' etc.)\n"
    '  -O OPTS,...  --options=OPTS,...\n'
    '                              Use module-specific option OPTS for the\n'
    '                              traceroute module. Several OPTS allowed,\n'
    '                              separated by comma. If OPTS is "help", print info\n'
    '                              about available options\n'
    '  --sport=num                 Use source port num for outgoing packets. Implies\n'
    "                              `-N 1'\n"
    '  --fwmark=num                Set firewall mark for outgoing packets\n'
    '  -U  --udp                   Use UDP to particular port for tracerouting\n'
    '                              (instead of increasing the port per each probe),\n'
    '                              default port is 53\n'
    '  -UL                         Use UDPLITE for tracerouting (default dest port\n'
    '                              is 53)\n'
    '  -D  --dccp                  Use DCCP Request for tracerouting (default port\n'
    '                              is 33434)\n'
    '  -P prot  --protocol=prot    Use raw packet of protocol prot for tracerouting\n'
    '  --mtu                       Discover MTU along the path being traced. Implies\n'
    "                              `-F -N 1'\n"
    '  --back                      Guess the number of hops in the backward path and\n'
    '                              print if it differs\n'
    '  -V  --version               Print version info and exit\n'
    '  --help                      Read this help and exit\n'
    '\n'
    'Arguments:\n'
    '+     host          The host to traceroute to\n'
    '      packetlen     The full packet length (default is the length of an IP\n'
    '                    header plus 40). Can be ignored or increased to a minimal\n'
    '                    allowed value\n'
)


class CliError(Exception):
    """A message for stderr and the exit code (2); "help"/"version" ask for those texts."""

    def __init__(self, text: str, code: int = 2) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


def _uint(arg: str) -> int | None:
    """CLIF_set_uint: strtoul(arg, &q, 0) that must consume everything (a '-' wraps, as C's)."""
    m = re.fullmatch(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)", arg)
    if not m:
        return None
    digits = m.group(2)
    v = int(digits, 16) if digits[:2].lower() == "0x" else int(digits, 8) if digits[0] == "0" else int(digits)
    if m.group(1) == "-":
        v = -v & 0xFFFFFFFFFFFFFFFF
    return v & 0xFFFFFFFF


def _double(arg: str) -> tuple[float, str] | None:
    m = re.match(r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)", arg, re.I)
    if not m:
        return None
    return float(m.group()), arg[m.end():]


def _wait(arg: str) -> tuple[float, float, float] | None:
    """set_wait_specs: MAX[,HERE[,NEAR]]; a missing factor is 0 (2.1.2 zeroes both first)."""
    vals = [0.0, 0.0, 0.0]
    rest = arg
    for i in range(3):
        r = _double(rest)
        if r is None:
            return None
        vals[i], rest = r
        if not rest:
            return vals[0], vals[1], vals[2]
        if i == 2:
            return None
        rest = rest[1:]
    return None


# short, long, argument name, destination key, kind
OPTIONS: list[tuple[str | None, str | None, str | None, str, str]] = [
    ("4", None, None, "af4", "flag"), ("6", None, None, "af6", "flag"),
    ("d", "debug", None, "debug", "flag"), ("F", "dont-fragment", None, "dontfrag", "flag"),
    ("f", "first", "first_ttl", "first", "uint"), ("g", "gateway", "gate", "gateways", "several"),
    ("I", "icmp", None, "icmp", "module"), ("T", "tcp", None, "tcp", "module"),
    ("i", "interface", "device", "device", "str"), ("m", "max-hops", "max_ttl", "max_hops", "uint"),
    ("N", "sim-queries", "squeries", "sim", "uint"), ("n", None, None, "noresolve", "flag"),
    ("p", "port", "port", "port", "port"), ("t", "tos", "tos", "tos", "uint"),
    ("l", "flowlabel", "flow_label", "flow_label", "uint"), ("w", "wait", "MAX,HERE,NEAR", "wait", "wait"),
    ("q", "queries", "nqueries", "queries", "uint"), ("r", None, None, "noroute", "flag"),
    ("s", "source", "src_addr", "source", "addr"), ("z", "sendwait", "sendwait", "sendwait", "double"),
    ("e", "extensions", None, "extension", "flag"), ("A", "as-path-lookups", None, "as_lookups", "flag"),
    ("M", "module", "name", "module", "str"), ("O", "options", "OPTS", "mod_opts", "several"),
    (None, "sport", "num", "sport", "port"), (None, "fwmark", "num", "fwmark", "uint"),
    ("U", "udp", None, "udp", "module"), (None, "UL", None, "udplite", "module"),
    ("D", "dccp", None, "dccp", "module"), ("P", "protocol", "prot", "protocol", "raw"),
    (None, "mtu", None, "mtudisc", "flag"), (None, "back", None, "back", "flag"),
    ("V", "version", None, "version", "exit"), (None, "help", None, "help", "exit"),
]
_ABBREV = {"dont-fragment", "extensions"}


def _show(opt: tuple[str | None, str | None, str | None, str, str], short: bool, with_arg: bool) -> str:
    s, lng, argname, _k, kind = opt
    several = ",..." if kind == "several" else ""
    if short:
        return f"-{s}" + (f" {argname}{several}" if with_arg and argname else "")
    dash = "-" if lng == "UL" else "--"
    return f"{dash}{lng}" + (f"={argname}{several}" if with_arg and argname else "")


Opt = tuple[str | None, str | None, str | None, str, str]


def _apply(o: dict[str, Any], opt: Opt, arg: str | None) -> bool:
    """The option's CLIF function: False when it cannot handle the argument."""
    _s, _l, _a, key, kind = opt
    if kind == "flag":
        o[key] = True
    elif kind == "module":
        o["module"] = key
    elif kind == "exit":
        raise CliError(key, 0)
    elif kind == "str":
        o[key] = arg
    elif kind == "uint":
        v = _uint(arg or "")
        if v is None:
            return False
        o[key] = v
    elif kind == "double":
        r = _double(arg or "")
        if r is None or r[1]:
            return False
        o[key] = r[0]
    elif kind == "wait":
        w = _wait(arg or "")
        if w is None:
            return False
        o[key] = w
    elif kind == "port":
        v = _uint(arg or "")
        if v is None:
            services = {"domain": 53, "http": 80, "https": 443, "ssh": 22, "smtp": 25}
            if arg not in services:
                return False
            v = services[arg]
        o[key] = v
    elif kind == "addr":
        a = inet_aton(arg or "")
        if a is None:
            return False
        o[key] = a
    elif kind == "several":
        o.setdefault(key, []).extend(x for x in re.split(r"[ \t,]+", arg or "") if x)
    elif kind == "raw":
        o["module"] = "raw"
        o["protocol"] = arg
    return True


def parse_cmdline(argv: list[str]) -> dict[str, Any]:
    """CLIF_parse_cmdline with traceroute's option and argument lists. argc counts from 1."""
    if not argv:
        raise CliError("help", 0)
    o: dict[str, Any] = {}
    args: list[tuple[str, int]] = []
    options_on = True
    i = 0
    while i < len(argv):
        a = argv[i]
        n = i + 1
        if not options_on or not a.startswith("-") or a == "-":
            args.append((a, n))
            i += 1
            continue
        if a == "--":
            options_on = False
            i += 1
            continue
        if a.startswith("--") or a == "-UL":
            name, eq, val = a[2 if a.startswith("--") else 1:].partition("=")
            cands = [x for x in OPTIONS if x[1] == name and (x[1] != "UL" or a == "-UL")]
            if not cands and len(name) >= 2:
                cands = [x for x in OPTIONS if x[1] in _ABBREV and x[1].startswith(name)]
            if len(cands) != 1 or (eq and not cands[0][2]):
                if eq:
                    raise CliError(f"Bad option `{a}' (with arg `{val}') (argc {n})")
                raise CliError(f"Bad option `{a}' (argc {n})")
            opt = cands[0]
            arg = val if eq else None
            if opt[2] and arg is None:
                raise CliError(f"Option `{_show(opt, False, False)}' (argc {n}) requires an argument: "
                               f"`{_show(opt, False, True)}'")
            if not _apply(o, opt, arg):
                raise CliError(f"Cannot handle `{_show(opt, False, False)}' option with arg `{arg}' "
                               f"(argc {n})")
            i += 1
            continue
        j = 1
        while j < len(a):
            c = a[j]
            opt_s = next((x for x in OPTIONS if x[0] == c), None)
            if opt_s is None:
                raise CliError(f"Bad option `-{c}' (argc {n})")
            arg = None
            if opt_s[2]:
                if j + 1 < len(a):
                    if j != 1:  # inside a group: CLIF_MAY_JOIN_ARG only right after the dash
                        raise CliError(f"Option `-{c}' (argc {n}) requires an argument: "
                                       f"`{_show(opt_s, True, True)}'")
                    arg = a[j + 1:]
                elif i + 1 < len(argv):
                    i += 1
                    n = i + 1
                    arg = argv[i]
                else:
                    raise CliError(f"Option `-{c}' (argc {n}) requires an argument: "
                                   f"`{_show(opt_s, True, True)}'")
            if not _apply(o, opt_s, arg):
                if opt_s[2]:
                    raise CliError(f"Cannot handle `-{c}' option with arg `{arg}' (argc {n})")
                raise CliError(f"Cannot handle `-{c}' option (argc {n})")
            if arg is not None:
                break
            j += 1
        i += 1
    if not args:
        raise CliError('Specify "host" missing argument.')
    if len(args) > 2:
        a, n = args[2]
        raise CliError(f"Extra arg `{a}' (position 3, argc {n})")
    o["host"], o["host_argc"] = args[0]
    if len(args) == 2:
        a, n = args[1]
        m = re.fullmatch(r"\s*[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)", a)
        if not m:
            raise CliError(f'Cannot handle "packetlen" cmdline arg `{a}\' on position 2 (argc {n})')
        d = m.group(1)
        v = int(d, 16) if d[:2].lower() == "0x" else int(d, 8) if d.startswith("0") else int(d)
        o["packetlen"] = -v if a.strip().startswith("-") else v
    return o


def setup(tr: Traceroute, argv: list[str]) -> None:
    """main(): the command line and traceroute's checks of it (ex_error: exit 2)."""
    o = parse_cmdline(argv)  # CliError, or ("help"|"version")
    tr.o = o
    try:
        tr.dst = resolve_host(tr.ns, o["host"])
    except HostError as e:
        tr.err.write(f"{o['host']}: {e}\n")
        raise CliError(f"Cannot handle \"host\" cmdline arg `{o['host']}' on position 1 "
                       f"(argc {o['host_argc']})") from None
    tr.dst_name = o["host"]
    tr.first_hop = o.get("first", 1)
    tr.max_hops = o.get("max_hops", 30)
    tr.sim_probes = o.get("sim", 16)
    tr.probes_per_hop = o.get("queries", 3)
    if "wait" in o:
        tr.wait_secs, tr.here_factor, tr.near_factor = o["wait"]
    tr.send_secs = o.get("sendwait", 0.0)
    if o.get("source"):
        tr.src = o["source"]
    module = o.get("module", "default")
    packet_len = o.get("packetlen", -1)
    if module not in ("default", "udp", "icmp", "tcp"):
        if module in ("udplite", "dccp", "raw"):
            raise CliError(f"tuxnet: the {module} method is not available", 2)
        raise CliError(f"Unknown traceroute module {module}", 2)
    if not tr.first_hop or tr.first_hop > tr.max_hops:
        raise CliError("first hop out of range")
    if tr.max_hops > MAX_HOPS:
        raise CliError(f"max hops cannot be more than {MAX_HOPS}")
    if not tr.probes_per_hop or tr.probes_per_hop > MAX_PROBES:
        raise CliError(f"no more than {MAX_PROBES} probes per hop")
    if tr.wait_secs < 0 or tr.here_factor < 0 or tr.near_factor < 0:
        raise CliError(f"bad wait specifications `{c_g(tr.wait_secs)},{c_g(tr.here_factor)},"
                       f"{c_g(tr.near_factor)}' used")
    if packet_len > MAX_PACKET_LEN:
        raise CliError(f"too big packetlen {packet_len} specified")
    if tr.send_secs < 0:
        raise CliError(f"bad sendtime `{c_g(tr.send_secs)}' specified")
    if tr.send_secs >= 10:
        tr.send_secs /= 1000  # milliseconds
    if o.get("gateways"):
        raise CliError("tuxnet: source routing (-g) is not available", 2)
    if o.get("sport"):
        tr.sim_probes = 1
        tr.here_factor = tr.near_factor = 0
    mod_header = 8 if module in ("default", "udp") else 0
    tr.header_len = 20 + mod_header
    if o.get("mtudisc"):
        o["dontfrag"] = True
        tr.sim_probes = 1
        if packet_len < 0:
            packet_len = MAX_PACKET_LEN
    if packet_len < 0:
        tr.data_len = max(DEF_DATA_LEN - mod_header, 0)
    elif packet_len >= tr.header_len:
        tr.data_len = packet_len - tr.header_len
    from tuxnet.tools.traceroute import Probe

    tr.probes = [Probe() for _ in range(tr.max_hops * tr.probes_per_hop)]


def c_g(v: float) -> str:
    s = f"{v:g}"
    return s
