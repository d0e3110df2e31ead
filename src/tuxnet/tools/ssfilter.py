"""ss's filter expressions (iproute2 misc/ssfilter.y with ssfilter.h, and parse_hostcond and
run_ssfilter of misc/ss.c).

Guarantees: the grammar of ssfilter.y (``dst``/``src`` HOSTCOND, ``dport``/``sport`` with
``= != < > <= >=`` and their word forms, ``dev``, ``autobound``, ``and`` ``or`` ``not`` ``( )``,
juxtaposition is ``and``), grouped strictly left to right as bison builds the left-recursive
exprlist; host conditions as parse_hostcond reads them for inet (``[addr][/plen][:port]``, ``*``,
``[addr]:port``, ports by number or service name); ``run_filter`` evaluates the tree on one socket
as run_ssfilter does. What ss exits 1 for raises :class:`FilterError` with ss's message; a grammar
error raises :class:`FilterSyntaxError` (ss prints bison's "syntax error!" and its usage, exit 255).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuxnet.netns import Namespace
    from tuxnet.tools.ss import Rec

# a few /etc/services entries (getservbyport/getservbyname); same name for tcp and udp
SERVICES = {7: "echo", 9: "discard", 13: "daytime", 19: "chargen", 20: "ftp-data", 21: "ftp", 22: "ssh",
            23: "telnet", 25: "smtp", 53: "domain", 67: "bootps", 68: "bootpc", 69: "tftp", 80: "http",
            110: "pop3", 123: "ntp", 143: "imap2", 161: "snmp", 162: "snmp-trap", 179: "bgp", 389: "ldap",
            443: "https", 514: "syslog", 546: "dhcpv6-client", 547: "dhcpv6-server", 853: "domain-s",
            993: "imaps", 995: "pop3s", 3306: "mysql", 5353: "mdns", 5432: "postgresql", 8080: "http-alt"}


class FilterError(Exception):
    """A filter word ss cannot parse: ss prints the message and exits 1."""


class FilterSyntaxError(Exception):
    """The words do not form an expression of ssfilter.y."""


class Cond:
    """An ssfilter node: kind in AND OR NOT DCOND SCOND D_GE D_LE S_GE S_LE DEV AUTO."""

    __slots__ = ("kind", "a", "b", "port", "net", "iface")

    def __init__(self, kind: str, a: Any = None, b: Any = None) -> None:
        self.kind, self.a, self.b = kind, a, b
        self.port = -1
        self.net: ipaddress.IPv4Network | None = None
        self.iface = 0


def ephemeral_port(ns: Namespace, port: int) -> bool:
    """``port`` lies in ip_local_port_range (the ``autobound`` condition; ss names no such port)."""
    lo, hi = (int(x) for x in ns.sysctl.v.get("net.ipv4.ip_local_port_range", (32768, 60999)))  # type: ignore[union-attr]
    return lo <= port <= hi


def run_filter(ns: Namespace, f: Cond, r: Rec) -> bool:
    k = f.kind
    if k == "AND":
        return run_filter(ns, f.a, r) and run_filter(ns, f.b, r)
    if k == "OR":
        return run_filter(ns, f.a, r) or run_filter(ns, f.b, r)
    if k == "NOT":
        return not run_filter(ns, f.a, r)
    if k == "AUTO":
        return ephemeral_port(ns, r.lport)
    if k == "DEV":
        return r.iface == f.iface
    c: Cond = f.a
    if k in ("DCOND", "SCOND"):
        port, addr = (r.rport, r.raddr) if k == "DCOND" else (r.lport, r.laddr)
        if c.port != -1 and c.port != port:
            return False
        return c.net is None or ipaddress.IPv4Address(addr) in c.net
    port = r.rport if k[0] == "D" else r.lport
    return port >= c.port if k.endswith("GE") else port <= c.port


def parse_hostcond(ns: Namespace, tok: str, is_port: bool, dbs: int) -> Cond:
    """parse_hostcond for inet: [addr][/plen][:port], ``*``, ``[addr]:port``; ports by number or name."""
    a = Cond("HOST")
    addr = tok
    for pfx in ("inet:",):
        if addr.startswith(pfx):
            addr = addr[len(pfx):]
    port: str | None
    if addr.startswith("["):
        end = addr.find("]")
        if end < 0:
            raise FilterError("Cannot parse dst/src address.\n")
        addr, port = addr[1:end], addr[end + 1:]
    elif addr.startswith("*"):
        addr, port = "*", addr[1:]
    else:
        base = addr.find("/") if "/" in addr else 0
        i = addr.rfind(":", base)
        port = addr[i:] if i >= 0 else None
        if i >= 0:
            addr = addr[:i]
    if is_port:
        port, addr = tok, ""
    if port:
        port = port[1:] if port.startswith(":") else port
        if port and port != "*":
            try:
                a.port = int(port, 0)
            except ValueError:
                num = next((p for p, nm in SERVICES.items() if nm == port), None)
                if num is None:
                    msg = f'Error: "{port}" does not look like a port.\nCannot parse dst/src address.\n'
                    raise FilterError(msg) from None
                a.port = num
    if not is_port and addr and addr != "*":
        try:
            a.net = ipaddress.IPv4Network(addr, strict=False)
        except ValueError:
            host = ns.sockets.hosts.get(addr.lower()) if hasattr(ns, "sockets") else None
            if host is None:
                raise FilterError(f'Error: an inet prefix is expected rather than "{addr}".\n'
                                  "Cannot parse dst/src address.\n") from None
            a.net = ipaddress.IPv4Network((host, 32))
    return a


_OPS = {"!": "!", "not": "!", "&": "&", "&&": "&", "and": "&", "|": "|", "||": "|", "or": "|", "(": "(",
        ")": ")", ">=": "GE", "ge": "GE", "geq": "GE", "<=": "LE", "le": "LE", "leq": "LE", "!=": "NE",
        "ne": "NE", "neq": "NE", "=": "=", "==": "=", "eq": "=", ">": ">", "gt": ">", "<": "<", "lt": "<"}
_KEYS = {"dst": "DCOND", "src": "SCOND", "dport": "DPORT", "sport": "SPORT", "dev": "DEVNAME",
         "autobound": "AUTOBOUND"}


def _lex(ns: Namespace, words: list[str], dbs: int) -> list[tuple[str, Any]]:
    """ssfilter.y's yylex: operators, keywords, device names, host conditions."""
    toks: list[tuple[str, Any]] = []
    tok_type = ""
    for w in " ".join(words).split():
        if w in _OPS:
            toks.append((_OPS[w], None))
        elif w in _KEYS:
            tok_type = _KEYS[w]
            toks.append((tok_type, None))
        elif w in ("fwmark", "cgroup"):
            raise FilterError(f"Cannot parse {'mark' if w == 'fwmark' else 'cgroup'} {w}.\n")
        elif tok_type == "DEVNAME":
            dev = ns.devices.get(w)
            if dev is None and not w.isdigit():
                raise FilterError("Cannot parse device.\n")
            toks.append(("DEVCOND", dev.ifindex if dev is not None else int(w)))
        else:
            toks.append(("HOSTCOND", parse_hostcond(ns, w, tok_type in ("SPORT", "DPORT"), dbs)))
    return toks


class _Parser:
    """ssfilter.y: exprlist is left-recursive, so and/or group strictly left to right."""

    def __init__(self, toks: list[tuple[str, Any]]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, Any]:
        if self.i >= len(self.toks):
            raise SyntaxError
        t = self.toks[self.i]
        self.i += 1
        return t

    def exprlist(self) -> Cond:
        left = self.expr()
        while self.peek() not in (None, ")"):
            if self.peek() in ("|", "&"):
                op = self.take()[0]
                left = Cond("OR" if op == "|" else "AND", left, self.expr())
            else:
                left = Cond("AND", left, self.expr())
        return left

    def host(self) -> Any:
        t, v = self.take()
        if t not in ("HOSTCOND", "DEVCOND"):
            raise SyntaxError
        return v

    def expr(self) -> Cond:
        t, _ = self.take()
        if t == "(":
            e = self.exprlist()
            if self.take()[0] != ")":
                raise SyntaxError
            return e
        if t == "!":
            return Cond("NOT", self.expr())
        if t == "AUTOBOUND":
            return Cond("AUTO")
        if t == "DEVNAME":
            neg = self.peek() == "NE"
            if self.peek() in ("=", "NE"):
                self.take()
            c = Cond("DEV")
            c.iface = self.host()
            return Cond("NOT", c) if neg else c
        if t in ("DCOND", "SCOND"):
            if self.peek() == "=":
                self.take()
            return Cond(t, self.host())
        if t in ("DPORT", "SPORT"):
            d = t[0]
            op = self.peek()
            if op in ("GE", "LE", ">", "<", "=", "NE"):
                self.take()
            else:
                op = "="
            h = self.host()
            if op == "GE":
                return Cond(f"{d}_GE", h)
            if op == "LE":
                return Cond(f"{d}_LE", h)
            if op == ">":
                return Cond("NOT", Cond(f"{d}_LE", h))
            if op == "<":
                return Cond("NOT", Cond(f"{d}_GE", h))
            cond = Cond("DCOND" if d == "D" else "SCOND", h)
            return Cond("NOT", cond) if op == "NE" else cond
        raise SyntaxError


def parse_filter(ns: Namespace, words: list[str], dbs: int) -> Cond | None:
    """The filter expression of ``words``, or None when there is none."""
    toks = _lex(ns, words, dbs)
    if not toks:
        return None
    p = _Parser(toks)
    try:
        f = p.exprlist()
        if p.i != len(toks):
            raise SyntaxError
    except SyntaxError:
        raise FilterSyntaxError from None
    return f
