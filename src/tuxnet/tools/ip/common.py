"""Shared pieces of the ``ip`` tool: argument helpers, name tables and errors as iproute2 has them.

Error helpers raise ``IpExit`` with iproute2's exact wording and exit code: ``invarg`` and ``duparg``
exit 255 (iproute2's ``exit(-1)``), ``Cannot find device`` exits 1, a refused netlink request exits 2
and prints the kernel's extack message (``Error: ....``) or ``RTNETLINK answers: <strerror>``.
Name tables are iproute2's built-in /etc/iproute2 defaults (rt_tables, rt_protos, rt_scopes,
rt_dsfield); the host's files are never read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

from tuxnet.wire.addr import ip_aton, ip_ntoa, parse_prefix

T = TypeVar("T")


class IpExit(Exception):
    """Leave the command with ``rc`` after printing ``msg`` to stderr (when given)."""

    def __init__(self, rc: int, msg: str = "") -> None:
        super().__init__(msg)
        self.rc = rc
        self.msg = msg


class Opts:
    """Global options (``ip -4 -s -d -j -p -br -o``)."""

    __slots__ = ("family", "stats", "details", "json", "pretty", "brief", "oneline", "out", "err")

    def __init__(self, out: Any, err: Any) -> None:
        self.family = 0
        self.stats = 0
        self.details = 0
        self.json = False
        self.pretty = False
        self.brief = False
        self.oneline = False
        self.out = out
        self.err = err

    def dump_json(self, obj: Any) -> None:
        if self.pretty:
            self.out.write(json.dumps(obj, indent=4) + "\n")
        else:
            self.out.write(json.dumps(obj, separators=(",", ":")) + "\n")


def matches(word: str, full: str) -> bool:
    """iproute2 matches(): ``word`` is a non-empty prefix of ``full``."""
    return bool(word) and full.startswith(word)


def invarg(msg: str, arg: str) -> IpExit:
    return IpExit(255, f'Error: argument "{arg}" is wrong: {msg}\n')


def duparg(key: str, arg: str) -> IpExit:
    return IpExit(255, f'Error: duplicate "{key}": "{arg}" is the second value.')


def duparg2(key: str, arg: str) -> IpExit:
    return IpExit(255, f'Error: either "{key}" is duplicate, or "{arg}" is a garbage.')


def incomplete() -> IpExit:
    return IpExit(255, 'Command line is not complete. Try option "help"')


def nodev(name: str) -> IpExit:
    return IpExit(1, f'Cannot find device "{name}"')


def rtnl_error(e: OSError) -> IpExit:
    """A request the kernel refused: its extack message, else strerror (exit 2)."""
    ext = getattr(e, "extack", "")
    if ext:
        return IpExit(2, f"Error: {ext}.")
    return IpExit(2, f"RTNETLINK answers: {os.strerror(e.errno or 0)}")


class Args:
    """argv cursor with iproute2's NEXT_ARG semantics."""

    __slots__ = ("argv", "i")

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.i = 0

    def __bool__(self) -> bool:
        return self.i < len(self.argv)

    def peek(self) -> str:
        return self.argv[self.i]

    def take(self) -> str:
        a = self.argv[self.i]
        self.i += 1
        return a

    def next(self) -> str:
        """NEXT_ARG(): the value after a keyword (incomplete command line if missing)."""
        if self.i >= len(self.argv):
            raise incomplete()
        return self.take()

    def next_as(self, conv: Callable[[str], T | None], msg: str) -> T:
        """NEXT_ARG() and its conversion (an ``*_a2n`` lookup, ``get_u32``...): ``invarg(msg)`` when the
        conversion fails (returns None or raises ValueError), as iproute2's
        ``if (rtnl_rtprot_a2n(&id, *argv)) invarg(msg, *argv);`` does."""
        v = self.next()
        try:
            r = conv(v)
        except ValueError:
            r = None
        if r is None:
            raise invarg(msg, v)
        return r


# ---------------------------------------------------------------------- addresses
def get_addr(text: str) -> int:
    """get_addr for inet: "Error: inet address is expected rather than ..." (exit 1)."""
    try:
        return ip_aton(text)
    except ValueError:
        raise IpExit(1, f'Error: inet address is expected rather than "{text}".') from None


def get_prefix(text: str, *, any_ok: bool = True) -> tuple[int, int]:
    """get_prefix: ``default``/``any``/``all`` are 0/0; a bare address is /32."""
    if text in ("default", "any", "all"):
        return 0, 0
    try:
        return parse_prefix(text)
    except ValueError:
        what = "any valid prefix" if any_ok else "inet prefix"
        raise IpExit(1, f'Error: {what} is expected rather than "{text}".') from None


def get_u32(text: str) -> int:
    """get_u32 with base 0 (decimal, 0x hex, 0 octal)."""
    try:
        v = int(text, 0)
    except ValueError:
        if text.isdigit():
            v = int(text, 8)
        else:
            raise
    if not 0 <= v <= 0xFFFFFFFF:
        raise ValueError(text)
    return v


def fmt_prefix(addr: int, plen: int) -> str:
    return ip_ntoa(addr) if plen == 32 else f"{ip_ntoa(addr)}/{plen}"


# ---------------------------------------------------------------------- name tables
RT_TABLES = {255: "local", 254: "main", 253: "default", 0: "unspec"}
RT_PROTOS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated", 9: "ra", 10: "mrt",
             11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp", 15: "ntk", 16: "dhcp", 18: "keepalived",
             42: "babel", 99: "openr", 186: "bgp", 187: "isis", 188: "ospf", 189: "rip", 192: "eigrp"}
RT_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
RT_DSFIELD = {0x0: "default", 0x28: "AF11", 0x30: "AF12", 0x38: "AF13", 0x48: "AF21", 0x50: "AF22",
              0x58: "AF23", 0x68: "AF31", 0x70: "AF32", 0x78: "AF33", 0x88: "AF41", 0x90: "AF42",
              0x98: "AF43", 0x20: "CS1", 0x40: "CS2", 0x60: "CS3", 0x80: "CS4", 0xA0: "CS5", 0xC0: "CS6",
              0xE0: "CS7", 0xB8: "EF"}
RTN_TYPES = {"unicast": 1, "local": 2, "broadcast": 3, "brd": 3, "anycast": 4, "multicast": 5,
             "blackhole": 6, "unreachable": 7, "prohibit": 8, "throw": 9, "nat": 10, "xresolve": 11}
RTN_N2A = {0: "none", 1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole",
           7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat", 11: "xresolve"}


def _a2n(table: dict[int, str], text: str) -> int | None:
    for k, v in table.items():
        if v == text:
            return k
    try:
        return get_u32(text)
    except ValueError:
        return None


def table_a2n(text: str) -> int | None:
    return _a2n(RT_TABLES, text)


def table_n2a(tid: int) -> str:
    return RT_TABLES.get(tid, str(tid))


def proto_a2n(text: str) -> int | None:
    v = _a2n(RT_PROTOS, text)
    return v if v is None or v < 256 else None


def proto_n2a(p: int) -> str:
    return RT_PROTOS.get(p, str(p))


def scope_a2n(text: str) -> int | None:
    if text == "universe":
        return 0
    v = _a2n(RT_SCOPES, text)
    return v if v is None or v < 256 else None


def scope_n2a(s: int) -> str:
    return RT_SCOPES.get(s, str(s))


def dsfield_a2n(text: str) -> int | None:
    for k, v in RT_DSFIELD.items():
        if v == text:
            return k
    try:
        v = int(text, 16)
    except ValueError:
        return None
    return v if v < 256 else None


def dsfield_n2a(v: int) -> str:
    return RT_DSFIELD.get(v, f"0x{v:02x}")


def rtntype_a2n(text: str) -> int | None:
    if text in RTN_TYPES:
        return RTN_TYPES[text]
    try:
        v = get_u32(text)
    except ValueError:
        return None
    return v if v < 256 else None


# ---------------------------------------------------------------------- link flags
_LINK_FLAGS = ((0x8, "LOOPBACK"), (0x2, "BROADCAST"), (0x10, "POINTOPOINT"), (0x1000, "MULTICAST"),
               (0x80, "NOARP"), (0x200, "ALLMULTI"), (0x100, "PROMISC"), (0x400, "MASTER"), (0x800, "SLAVE"),
               (0x4, "DEBUG"), (0x8000, "DYNAMIC"), (0x4000, "AUTOMEDIA"), (0x2000, "PORTSEL"),
               (0x20, "NOTRAILERS"), (0x1, "UP"), (0x10000, "LOWER_UP"), (0x20000, "DORMANT"),
               (0x40000, "ECHO"))


def link_flag_names(flags: int, mdown: bool = False) -> list[str]:
    """print_link_flags."""
    out = []
    if flags & 0x1 and not flags & 0x40:
        out.append("NO-CARRIER")
    for bit, name in _LINK_FLAGS:
        if flags & bit:
            out.append(name)
    if mdown:
        out.append("M-DOWN")
    return out
