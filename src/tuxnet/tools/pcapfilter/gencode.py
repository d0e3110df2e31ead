"""Code generation for filter primitives, mirroring libpcap 1.10's gencode.c for DLT_EN10MB.

Each ``gen_*`` method builds a small intermediate form (tuples, see below) with the same tests,
in the same order and with the same short-circuit structure as the BPF blocks libpcap emits, so
that the compiled filter matches the same packets and rejects a packet whenever the BPF program
would read past its end.  Error messages are libpcap's, raised as :class:`FilterSyntaxError`.

Values (32-bit unsigned):
  ("k", n)                  immediate; ("kf", n) a constant folded from arithmetic
  ("len",)                  the packet's wire length (``len``)
  ("ld", size, base, k)     load ``size`` bytes at ``base + k`` (``base`` a value or None)
  ("msh", k)                ``4*(pkt[k] & 0xf)``, BPF's ``ldxb`` (IPv4 header length)
  ("alu", op, a, b)         ``+ - * / % & | ^ << >>``
  ("neg", a)
Booleans:
  ("cmp", op, a, b[, meta])  op in eq, gt, ge, set (``a & b != 0``); ``b`` a value; ``meta``
                            (optimizer errors, known value of a, known value of b)
  ("and", a, b), ("or", a, b), ("not", a), ("true",)
"""

from __future__ import annotations

import ipaddress
from typing import Any

from . import names
from .errors import FilterSyntaxError

Node = tuple[Any, ...]

ETHERMTU = 1500
ETHERTYPE_IP = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_REVARP = 0x8035
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_ATALK = 0x809B
ETHERTYPE_AARP = 0x80F3
ETHERTYPE_IPX = 0x8137
ETHERTYPE_PPPOED = 0x8863
LLCSAP_IP = 0x06
LLCSAP_ISONS = 0xFE
LLCSAP_NETBEUI = 0xF0
LLCSAP_IPX = 0xE0
LLCSAP_8021D = 0x42
IPPROTO_FRAGMENT = 44
ISO_ESIS, ISO_ISIS, ISO_CLNP = 0x82, 0x83, 0x81

TRUE: Node = ("true",)

# Qualifier values (gencode.h Q_*); a qualifier is the triple (proto, dir, addr).
Q_DEFAULT = "default"
Q_UNDEF = "undef"
QERR = (Q_UNDEF, Q_UNDEF, Q_UNDEF)

# Protocols whose packets carry an IPv4/IPv6 transport header (gen_load's transport case).
_TRANSPORT = ("sctp", "tcp", "udp", "icmp", "igmp", "igrp", "pim", "vrrp", "carp")
_NETWORK = ("ip", "arp", "rarp", "atalk", "decnet", "sca", "lat", "moprc", "mopdl", "ip6")
_ETHERTYPE_OF = {"ip": ETHERTYPE_IP, "arp": ETHERTYPE_ARP, "rarp": ETHERTYPE_REVARP,
                 "ip6": ETHERTYPE_IPV6, "atalk": ETHERTYPE_ATALK, "aarp": ETHERTYPE_AARP,
                 "decnet": 0x6003, "lat": 0x6004, "sca": 0x6007, "mopdl": 0x6001,
                 "moprc": 0x6002}
# gen_proto's refusals per protocol qualifier
_PROTO_BOGUS = {
    "arp": "arp does not encapsulate another protocol",
    "rarp": "rarp does not encapsulate another protocol",
    "atalk": "AppleTalk encapsulation is not specifiable",
    "decnet": "DECNET encapsulation is not specifiable",
    "lat": "LAT does not encapsulate another protocol",
    "sca": "SCA does not encapsulate another protocol",
    "moprc": "MOPRC does not encapsulate another protocol",
    "mopdl": "MOPDL does not encapsulate another protocol",
    "aarp": "AARP does not encapsulate another protocol",
}
# gen_host's refusals per protocol qualifier ("%s" is "host" or "net")
_HOST_NOT_IMPLEMENTED = {"atalk": "AppleTalk", "aarp": "AARP", "lat": "LAT", "sca": "SCA",
                         "moprc": "MOPRC", "mopdl": "MOPDL", "iso": "ISO", "ipx": "IPX"}
_WLAN_DIRS = {"addr1": "'addr1' and 'address1'", "addr2": "'addr2' and 'address2'",
              "addr3": "'addr3' and 'address3'", "addr4": "'addr4' and 'address4'",
              "ra": "'ra'", "ta": "'ta'"}


def _err(msg: str) -> FilterSyntaxError:
    return FilterSyntaxError(msg)


def _dir_err(dir: str, what: str) -> FilterSyntaxError:
    """The refusal of an 802.11 address qualifier (addr1..addr4, ra, ta) outside 802.11."""
    if dir in ("ra", "ta"):
        return _err(f"{_WLAN_DIRS[dir]} is not a valid qualifier for {what}")
    return _err(f"{_WLAN_DIRS[dir]} are not valid qualifiers for {what}")


def k(n: int) -> Node:
    return ("k", n & 0xFFFFFFFF)


def ld(size: int, off: int, base: Node | None = None) -> Node:
    return ("ld", size, base, off)


def cmp(op: str, a: Node, v: int) -> Node:
    return ("cmp", op, a, k(v))


def gen_and(a: Node, b: Node) -> Node:
    return ("and", a, b)


def gen_or(a: Node, b: Node) -> Node:
    return ("or", a, b)


def gen_not(a: Node) -> Node:
    return ("not", a)


class Arth:
    """An arithmetic value with the protocol checks that must pass before it is computed.

    ``first_imm`` is the constant of the value's first BPF statement when that is ``ld #k``
    (libpcap's gen_arth tests it for "division by zero" and friends, even when the operand is a
    load whose index starts with that constant).  ``known`` is the value libpcap's optimizer
    can compute at compile time, if any.
    """

    __slots__ = ("val", "b", "first_imm", "known", "errs")

    def __init__(self, val: Node, b: Node | None, first_imm: int | None = None,
                 known: int | None = None, errs: tuple[str, ...] = ()) -> None:
        self.val = val
        self.b = b
        self.first_imm = first_imm
        self.known = known
        self.errs = errs  # what the optimizer refuses once it folds this arithmetic


def _atoin(s: str) -> tuple[int, int]:
    """__pcap_atoin(): (address, bits) of a dotted quad with 1 to 4 parts, or (0, -1)."""
    addr = 0
    bits = 0
    for part in s.split("."):
        n = 0
        for ch in part:
            if n > 25:
                return 0, -1
            n = n * 10 + (ord(ch) - 48)
        if n > 255:
            return 0, -1
        addr = (addr << 8) | (n & 0xFF)
        bits += 8
    return addr & 0xFFFFFFFF, bits


def _ether_aton(s: str) -> bytes:
    """pcap_ether_aton(): hex digit pairs with ':', '.' or '-' separators."""
    out = bytearray()
    i = 0
    hexd = "0123456789abcdefABCDEF"
    while i < len(s):
        if s[i] in ":.-":
            i += 1
        d = int(s[i], 16)
        i += 1
        if i < len(s) and s[i] in hexd:
            d = (d << 4) | int(s[i], 16)
            i += 1
        out.append(d)
    return bytes(out)


class Gen:
    """Per-expression code generator state (libpcap's compiler_state_t for Ethernet)."""

    def __init__(self, netmask: int = 0, resolve_host: Any = None) -> None:
        self.shift = 0  # bytes of VLAN tags the expression has stepped over so far
        self.netmask = netmask
        self.resolve_host = resolve_host

    # -- offsets (gencode.c's OR_* offset relations) ------------------------------------------
    @property
    def off_linktype(self) -> int:
        return 12 + self.shift

    @property
    def off_linkpl(self) -> int:
        return 14 + self.shift

    def load_linkpl(self, off: int, size: int) -> Node:
        return ld(size, self.off_linkpl + off)

    def load_tran_ipv4(self, off: int, size: int) -> Node:
        return ld(size, self.off_linkpl + off, ("msh", self.off_linkpl))

    def load_tran_ipv6(self, off: int, size: int) -> Node:
        return ld(size, self.off_linkpl + 40 + off)

    def bcmp(self, off: int, data: bytes) -> Node:
        """gen_bcmp(): compare bytes, last 4-byte word first, as libpcap orders the loads."""
        b: Node | None = None
        size = len(data)
        while size >= 4:
            t = cmp("eq", ld(4, off + size - 4), int.from_bytes(data[size - 4:size], "big"))
            b = t if b is None else gen_and(b, t)
            size -= 4
        while size >= 2:
            t = cmp("eq", ld(2, off + size - 2), int.from_bytes(data[size - 2:size], "big"))
            b = t if b is None else gen_and(b, t)
            size -= 2
        if size > 0:
            t = cmp("eq", ld(1, off), data[0])
            b = t if b is None else gen_and(b, t)
        assert b is not None
        return b

    def mcmp(self, load: Node, v: int, mask: int) -> Node:
        if mask != 0xFFFFFFFF:
            load = ("alu", "&", load, k(mask))
        return cmp("eq", load, v)

    # -- link layer ------------------------------------------------------------------------
    def not_8023(self) -> Node:
        return gen_not(cmp("gt", ld(2, self.off_linktype), ETHERMTU))

    def gen_snap(self, orgcode: int, ptype: int) -> Node:
        block = bytes([0xAA, 0xAA, 0x03]) + orgcode.to_bytes(3, "big") + ptype.to_bytes(2, "big")
        return self.bcmp(self.off_linkpl, block)

    def gen_linktype(self, proto: int) -> Node:
        """gen_ether_linktype()."""
        lt = ld(2, self.off_linktype)
        if proto in (LLCSAP_ISONS, LLCSAP_IP, LLCSAP_NETBEUI):
            return gen_and(self.not_8023(), cmp("eq", ld(2, self.off_linkpl), (proto << 8) | proto))
        if proto == LLCSAP_IPX:
            b1 = gen_or(cmp("eq", ld(1, self.off_linkpl), LLCSAP_IPX),
                        cmp("eq", ld(2, self.off_linkpl), 0xFFFF))
            b1 = gen_or(self.gen_snap(0, ETHERTYPE_IPX), b1)
            b1 = gen_and(self.not_8023(), b1)
            return gen_or(cmp("eq", lt, ETHERTYPE_IPX), b1)
        if proto in (ETHERTYPE_ATALK, ETHERTYPE_AARP):
            snap = (self.gen_snap(0x080007, ETHERTYPE_ATALK) if proto == ETHERTYPE_ATALK
                    else self.gen_snap(0, ETHERTYPE_AARP))
            return gen_or(cmp("eq", lt, proto), gen_and(self.not_8023(), snap))
        if proto <= ETHERMTU:
            return gen_and(self.not_8023(), cmp("eq", ld(1, self.off_linktype + 2), proto))
        return cmp("eq", lt, proto)

    def ehostop(self, addr: bytes, dir: str) -> Node:
        if dir == "src":
            return self.bcmp(6, addr)
        if dir == "dst":
            return self.bcmp(0, addr)
        if dir == "and":
            return gen_and(self.ehostop(addr, "src"), self.ehostop(addr, "dst"))
        if dir in (Q_DEFAULT, "or"):
            return gen_or(self.ehostop(addr, "src"), self.ehostop(addr, "dst"))
        raise _err(f"{_WLAN_DIRS[dir]} {'is' if dir in ('ra', 'ta') else 'are'} only supported"
                   " on 802.11 with 802.11 headers")

    # -- protocols -------------------------------------------------------------------------
    def gen_ipfrag(self) -> Node:
        return gen_not(cmp("set", self.load_linkpl(6, 2), 0x1FFF))

    def proto_abbrev(self, proto: str) -> Node:
        """gen_proto_abbrev_internal()."""
        if proto in ("sctp", "tcp", "udp", "pim", "ah", "esp"):
            num = {"sctp": 132, "tcp": 6, "udp": 17, "pim": 103, "ah": 51, "esp": 50}[proto]
            return self.gen_proto(num, Q_DEFAULT, Q_DEFAULT)
        if proto in ("icmp", "igmp", "igrp", "vrrp", "carp"):
            num = {"icmp": 1, "igmp": 2, "igrp": 9, "vrrp": 112, "carp": 112}[proto]
            return self.gen_proto(num, "ip", Q_DEFAULT)
        if proto == "icmp6":
            return self.gen_proto(58, "ip6", Q_DEFAULT)
        if proto in _ETHERTYPE_OF:
            return self.gen_linktype(_ETHERTYPE_OF[proto])
        if proto == "link":
            raise _err("link layer applied in wrong context")
        if proto == "iso":
            return self.gen_linktype(LLCSAP_ISONS)
        if proto in ("esis", "isis", "clnp"):
            num = {"esis": ISO_ESIS, "isis": ISO_ISIS, "clnp": ISO_CLNP}[proto]
            return self.gen_proto(num, "iso", Q_DEFAULT)
        if proto == "stp":
            return self.gen_linktype(LLCSAP_8021D)
        if proto == "ipx":
            return self.gen_linktype(LLCSAP_IPX)
        if proto == "netbeui":
            return self.gen_linktype(LLCSAP_NETBEUI)
        if proto == "radio":
            raise _err("'radio' is not a valid protocol type")
        raise _err(f"'{proto}' is not supported by the tuxnet filter compiler")

    def gen_proto(self, v: int, proto: str, dir: str) -> Node:
        if dir != Q_DEFAULT:
            raise _err("direction applied to 'proto'")
        if proto == Q_DEFAULT:
            return gen_or(self.gen_proto(v, "ip", dir), self.gen_proto(v, "ip6", dir))
        if proto == "link":
            return self.gen_linktype(v)
        if proto == "ip":
            return gen_and(self.gen_linktype(ETHERTYPE_IP), cmp("eq", self.load_linkpl(9, 1), v))
        if proto == "ip6":
            viafrag = gen_and(cmp("eq", self.load_linkpl(6, 1), IPPROTO_FRAGMENT),
                              cmp("eq", self.load_linkpl(40, 1), v))
            direct = cmp("eq", self.load_linkpl(6, 1), v)
            return gen_and(self.gen_linktype(ETHERTYPE_IPV6), gen_or(direct, viafrag))
        if proto == "iso":
            return gen_and(self.gen_linktype(LLCSAP_ISONS), cmp("eq", self.load_linkpl(3, 1), v))
        if proto == "isis":
            return gen_and(self.gen_proto(ISO_ISIS, "iso", Q_DEFAULT),
                           cmp("eq", self.load_linkpl(7, 1), v))
        if proto in _PROTO_BOGUS:
            raise _err(_PROTO_BOGUS[proto])
        raise _err(f"'{proto} proto' is bogus")

    # -- hosts and nets --------------------------------------------------------------------
    def hostop(self, addr: int, mask: int, dir: str, ethertype: int, src: int, dst: int) -> Node:
        if dir == "src":
            off = src
        elif dir == "dst":
            off = dst
        elif dir == "and":
            return gen_and(self.hostop(addr, mask, "src", ethertype, src, dst),
                           self.hostop(addr, mask, "dst", ethertype, src, dst))
        elif dir in (Q_DEFAULT, "or"):
            return gen_or(self.hostop(addr, mask, "src", ethertype, src, dst),
                          self.hostop(addr, mask, "dst", ethertype, src, dst))
        else:
            raise _dir_err(dir, "addresses other than 802.11 MAC addresses")
        return gen_and(self.gen_linktype(ethertype), self.mcmp(self.load_linkpl(off, 4), addr, mask))

    def gen_host(self, addr: int, mask: int, proto: str, dir: str, kind: str) -> Node:
        typestr = "net" if kind == "net" else "host"
        if proto == Q_DEFAULT:
            b = gen_or(self.gen_host(addr, mask, "ip", dir, kind),
                       self.gen_host(addr, mask, "arp", dir, kind))
            return gen_or(b, self.gen_host(addr, mask, "rarp", dir, kind))
        if proto == "ip":
            return self.hostop(addr, mask, dir, ETHERTYPE_IP, 12, 16)
        if proto == "arp":
            return self.hostop(addr, mask, dir, ETHERTYPE_ARP, 14, 24)
        if proto == "rarp":
            return self.hostop(addr, mask, dir, ETHERTYPE_REVARP, 14, 24)
        if proto == "link":
            raise _err(f"link-layer modifier applied to {typestr}")
        if proto == "ip6":
            raise _err("'ip6' modifier applied to ip host")
        if proto in _HOST_NOT_IMPLEMENTED:
            raise _err(f"{_HOST_NOT_IMPLEMENTED[proto]} host filtering not implemented")
        if proto == "decnet":
            raise _err("DECnet host filtering is not supported by the tuxnet filter compiler")
        raise _err(f"'{proto}' modifier applied to {typestr}")

    def gen_host6(self, addr: bytes, mask: bytes, proto: str, dir: str, kind: str) -> Node:
        typestr = "net" if kind == "net" else "host"
        if proto in (Q_DEFAULT, "ip6"):
            return self.hostop6(addr, mask, dir)
        if proto == "link":
            raise _err(f"link-layer modifier applied to ip6 {typestr}")
        raise _err(f"'{proto}' modifier applied to ip6 {typestr}")

    def hostop6(self, addr: bytes, mask: bytes, dir: str) -> Node:
        if dir == "src":
            off = 8
        elif dir == "dst":
            off = 24
        elif dir == "and":
            return gen_and(self.hostop6(addr, mask, "src"), self.hostop6(addr, mask, "dst"))
        elif dir in (Q_DEFAULT, "or"):
            return gen_or(self.hostop6(addr, mask, "src"), self.hostop6(addr, mask, "dst"))
        else:
            raise _dir_err(dir, "addresses other than 802.11 MAC addresses")
        words = [self.mcmp(self.load_linkpl(off + 4 * i, 4),
                           int.from_bytes(addr[4 * i:4 * i + 4], "big"),
                           int.from_bytes(mask[4 * i:4 * i + 4], "big")) for i in range(4)]
        b = words[3]
        for i in (2, 1, 0):
            b = gen_and(words[i], b)
        return gen_and(self.gen_linktype(ETHERTYPE_IPV6), b)

    # -- ports -----------------------------------------------------------------------------
    def _portop(self, proto: int, dir: str, atom: Any, v6: bool) -> Node:
        if dir == "src":
            b1 = atom(0)
        elif dir == "dst":
            b1 = atom(2)
        elif dir == "and":
            b1 = gen_and(atom(0), atom(2))
        elif dir in (Q_DEFAULT, "or"):
            b1 = gen_or(atom(0), atom(2))
        else:
            raise _dir_err(dir, "ports")
        if v6:
            return gen_and(cmp("eq", self.load_linkpl(6, 1), proto), b1)
        b0 = gen_and(cmp("eq", self.load_linkpl(9, 1), proto), self.gen_ipfrag())
        return gen_and(b0, b1)

    def _port_any(self, ip_proto: int, dir: str, atom: Any, v6: bool) -> Node:
        b0 = self.gen_linktype(ETHERTYPE_IPV6 if v6 else ETHERTYPE_IP)
        if ip_proto == names.PROTO_UNDEF:
            b1 = gen_or(self._portop(6, dir, atom, v6), self._portop(17, dir, atom, v6))
            b1 = gen_or(self._portop(132, dir, atom, v6), b1)
        else:
            b1 = self._portop(ip_proto, dir, atom, v6)
        return gen_and(b0, b1)

    def gen_port(self, port: int, ip_proto: int, dir: str) -> Node:
        def atom4(off: int) -> Node:
            return cmp("eq", self.load_tran_ipv4(off, 2), port)

        def atom6(off: int) -> Node:
            return cmp("eq", self.load_tran_ipv6(off, 2), port)

        v4 = self._port_any(ip_proto, dir, atom4, False)
        v6 = self._port_any(ip_proto, dir, atom6, True)
        return gen_or(v6, v4)

    def gen_portrange(self, p1: int, p2: int, ip_proto: int, dir: str) -> Node:
        lo, hi = (p1, p2) if p1 <= p2 else (p2, p1)

        def atom4(off: int) -> Node:
            load = self.load_tran_ipv4(off, 2)
            return gen_and(cmp("ge", load, lo), gen_not(cmp("gt", load, hi)))

        def atom6(off: int) -> Node:
            load = self.load_tran_ipv6(off, 2)
            return gen_and(cmp("ge", load, lo), gen_not(cmp("gt", load, hi)))

        v4 = self._port_any(ip_proto, dir, atom4, False)
        v6 = self._port_any(ip_proto, dir, atom6, True)
        return gen_or(v6, v4)

    # -- the qualified-id entry points of the grammar --------------------------------------
    def gen_ncode(self, s: str | None, v: int, q: tuple[str, str, str]) -> Node:
        proto, dir, addr = q
        if s is None:
            vlen = 32
        elif proto == "decnet":
            raise _err("DECnet addresses are not supported by the tuxnet filter compiler")
        else:
            v, vlen = _atoin(s)
            if vlen < 0:
                raise _err(f"invalid IPv4 address '{s}'")
        if addr in (Q_DEFAULT, "host", "net"):
            if proto == "link":
                raise _err("illegal link layer address")
            mask = 0xFFFFFFFF
            if s is None and addr == "net":
                while v and (v & 0xFF000000) == 0:  # promote short net number
                    v = (v << 8) & 0xFFFFFFFF
                    mask = (mask << 8) & 0xFFFFFFFF
            else:  # promote short ipaddr
                v = (v << (32 - vlen)) & 0xFFFFFFFF
                mask = (mask << (32 - vlen)) & 0xFFFFFFFF
            return self.gen_host(v, mask, proto, dir, addr)
        if addr in ("port", "portrange"):
            ip_proto = self._port_proto(proto, addr)
            if v > 65535:
                raise _err(f"illegal port number {v} > 65535")
            if addr == "port":
                return self.gen_port(v, ip_proto, dir)
            return self.gen_portrange(v, v, ip_proto, dir)
        if addr == "gateway":
            raise _err("'gateway' requires a name")
        if addr == "proto":
            return self.gen_proto(v, proto, dir)
        if addr == "protochain":
            return self.gen_protochain(v, proto)
        raise _err("syntax error in filter expression")

    @staticmethod
    def _port_proto(proto: str, addr: str) -> int:
        table = {"udp": names.IPPROTO_UDP, "tcp": names.IPPROTO_TCP, "sctp": names.IPPROTO_SCTP,
                 Q_DEFAULT: names.PROTO_UNDEF}
        if proto not in table:
            raise _err(f"illegal qualifier of '{addr}'")
        return table[proto]

    def gen_scode(self, name: str, q: tuple[str, str, str]) -> Node:
        proto, dir, addr = q
        if addr == "net":
            net = names.NETWORKS.get(name, 0)
            if net == 0:
                raise _err(f"unknown network '{name}'")
            mask = 0xFFFFFFFF
            while net and (net & 0xFF000000) == 0:
                net = (net << 8) & 0xFFFFFFFF
                mask = (mask << 8) & 0xFFFFFFFF
            return self.gen_host(net, mask, proto, dir, addr)
        if addr in (Q_DEFAULT, "host"):
            if proto == "link":
                raise _err(f"unknown ether host '{name}'")
            if proto == "decnet":
                raise _err(f"unknown decnet host name '{name}'")
            addrs = self.resolve_host(name) if self.resolve_host is not None else []
            b: Node | None = None
            for a in addrs:
                ip = ipaddress.ip_address(a)
                if ip.version == 4:
                    if proto == "ip6":
                        continue
                    t = self.gen_host(int(ip), 0xFFFFFFFF, proto, dir, addr)
                else:
                    if proto == "ip":
                        continue
                    t = self.gen_host6(ip.packed, b"\xff" * 16, proto, dir, addr)
                b = t if b is None else gen_or(b, t)
            if b is None:
                suffix = "" if proto == Q_DEFAULT or not addrs else " for specified address family"
                raise _err(f"unknown host '{name}'{suffix}")
            return b
        if addr in ("port", "portrange"):
            if proto not in (Q_DEFAULT, "udp", "tcp", "sctp"):
                raise _err(f"illegal qualifier of '{addr}'")
            if addr == "port":
                found = names.name_to_port(name)
                if found is None:
                    raise _err(f"unknown port '{name}'")
                port, real = found
                real = self._check_named_proto(proto, real, f"port '{name}'")
                return self.gen_port(port, real, dir)
            rng = names.name_to_port_range(name)
            if rng is None:
                raise _err(f"unknown port in range '{name}'")
            p1, p2, real = rng
            real = self._check_named_proto(proto, real, f"port in range '{name}'")
            for p in (p1, p2):
                if p > 65535:
                    raise _err(f"illegal port number {p} > 65535")
            return self.gen_portrange(p1, p2, real, dir)
        if addr == "gateway":
            raise _err("'gateway' not supported in this configuration")
        if addr in ("proto", "protochain"):
            v = self.lookup_proto(name, proto)
            if addr == "proto":
                return self.gen_proto(v, proto, dir)
            return self.gen_protochain(v, proto)
        raise _err("syntax error in filter expression")

    @staticmethod
    def _check_named_proto(proto: str, real: int, what: str) -> int:
        named = {names.IPPROTO_TCP: "tcp", names.IPPROTO_UDP: "udp", names.IPPROTO_SCTP: "sctp"}
        want = {"tcp": names.IPPROTO_TCP, "udp": names.IPPROTO_UDP, "sctp": names.IPPROTO_SCTP}
        if proto in want:
            if real != names.PROTO_UNDEF and real != want[proto]:
                raise _err(f"{what} is {named[real]}")
            return want[proto]
        return real

    @staticmethod
    def lookup_proto(name: str, proto: str) -> int:
        if proto in (Q_DEFAULT, "ip", "ip6"):
            v = names.name_to_proto(name)
            if v == names.PROTO_UNDEF:
                raise _err(f"unknown ip proto '{name}'")
            return v
        if proto == "link":
            v = names.name_to_eproto(name)
            if v == names.PROTO_UNDEF:
                raise _err(f"unknown ether proto '{name}'")
            return v
        if proto == "iso":
            iso = {"esis": ISO_ESIS, "isis": ISO_ISIS, "clnp": ISO_CLNP}
            if name not in iso:
                raise _err(f"unknown osi proto '{name}'")
            return iso[name]
        raise _err(f"unknown protocol: {name}")

    def gen_mcode(self, s1: str, s2: str | None, masklen: int, q: tuple[str, str, str]) -> Node:
        n, nlen = _atoin(s1)
        if nlen < 0:
            raise _err(f"invalid IPv4 address '{s1}'")
        n = (n << (32 - nlen)) & 0xFFFFFFFF
        if s2 is not None:
            m, mlen = _atoin(s2)
            if mlen < 0:
                raise _err(f"invalid IPv4 address '{s2}'")
            m = (m << (32 - mlen)) & 0xFFFFFFFF
            if n & ~m & 0xFFFFFFFF:
                raise _err(f'non-network bits set in "{s1} mask {s2}"')
        else:
            if masklen > 32:
                raise _err("mask length must be <= 32")
            m = 0 if masklen == 0 else (0xFFFFFFFF << (32 - masklen)) & 0xFFFFFFFF
            if n & ~m & 0xFFFFFFFF:
                raise _err(f'non-network bits set in "{s1}/{masklen}"')
        if q[2] == "net":
            return self.gen_host(n, m, q[0], q[1], q[2])
        raise _err("Mask syntax for networks only")

    def gen_mcode6(self, s: str, masklen: int, q: tuple[str, str, str]) -> Node:
        addr = ipaddress.IPv6Address(s).packed
        if masklen > 128:
            raise _err("mask length must be <= 128")
        mask_int = ((1 << 128) - 1) ^ ((1 << (128 - masklen)) - 1)
        if int.from_bytes(addr, "big") & ~mask_int:
            raise _err(f'non-network bits set in "{s}/{masklen}"')
        if q[2] in (Q_DEFAULT, "host"):
            if masklen != 128:
                raise _err("Mask syntax for networks only")
        elif q[2] != "net":
            raise _err("invalid qualifier against IPv6 address")
        return self.gen_host6(addr, mask_int.to_bytes(16, "big"), q[0], q[1], q[2])

    def gen_ecode(self, s: str, q: tuple[str, str, str]) -> Node:
        if q[2] in ("host", Q_DEFAULT) and q[0] == "link":
            return self.ehostop(_ether_aton(s), q[1])
        raise _err("ethernet address used in non-ether expression")

    def gen_protochain(self, v: int, proto: str) -> Node:
        if proto not in (Q_DEFAULT, "ip", "ip6"):
            raise _err("bad protocol applied for 'protochain'")
        raise _err("'protochain' is not supported by the tuxnet filter compiler")

    # -- other primitives ------------------------------------------------------------------
    def gen_broadcast(self, proto: str) -> Node:
        if proto in (Q_DEFAULT, "link"):
            return self.ehostop(b"\xff" * 6, "dst")
        if proto == "ip":
            hostmask = ~self.netmask & 0xFFFFFFFF
            load = self.load_linkpl(16, 4)
            b = gen_or(self.mcmp(load, 0, hostmask), self.mcmp(load, hostmask, hostmask))
            return gen_and(self.gen_linktype(ETHERTYPE_IP), b)
        raise _err("only link-layer/IP broadcast filters supported")

    def gen_multicast(self, proto: str) -> Node:
        if proto in (Q_DEFAULT, "link"):
            return cmp("set", ld(1, 0), 1)
        if proto == "ip":
            return gen_and(self.gen_linktype(ETHERTYPE_IP), cmp("ge", self.load_linkpl(16, 1), 224))
        if proto == "ip6":
            return gen_and(self.gen_linktype(ETHERTYPE_IPV6), cmp("eq", self.load_linkpl(24, 1), 255))
        raise _err("link-layer multicast filters supported only on ethernet/FDDI/token ring/"
                   "ARCNET/802.11/ATM LANE/Fibre Channel")

    def gen_less(self, n: int) -> Node:
        return gen_not(cmp("gt", ("len",), n))

    def gen_greater(self, n: int) -> Node:
        return cmp("ge", ("len",), n)

    def gen_byteop(self, op: str, idx: int, val: int) -> Node:
        load = ld(1, idx)
        if op == "=":
            return cmp("eq", load, val)
        if op == "<":
            return gen_not(cmp("ge", load, val))
        if op == ">":
            return cmp("gt", load, val)
        # libpcap 1.10 emits the ALU op without loading the byte first (its accumulator holds
        # whatever the previous test left); test the byte, as pcap-filter(7) documents.
        return gen_not(cmp("eq", ("alu", op, load, k(val)), 0))

    def gen_vlan(self, vid: int | None) -> Node:
        if vid is not None and vid > 0x0FFF:
            raise _err(f"VLAN tag {vid} greater than maximum 4095")
        b = gen_or(gen_or(self.gen_linktype(0x8100), self.gen_linktype(0x88A8)),
                   self.gen_linktype(0x9100))
        if vid is not None:
            b = gen_and(b, self.mcmp(self.load_linkpl(0, 2), vid, 0x0FFF))
        # the payload and the type field follow the tag for the rest of the expression
        self.shift += 4
        return b

    def gen_llc(self) -> Node:
        return gen_and(self.not_8023(), gen_not(cmp("eq", ld(2, self.off_linkpl), 0xFFFF)))

    def gen_pppoed(self) -> Node:
        return self.gen_linktype(ETHERTYPE_PPPOED)

    # -- arithmetic ------------------------------------------------------------------------
    def gen_load(self, proto: str, inst: Arth, size: int) -> Arth:
        if size not in (1, 2, 4):
            raise _err("data size must be 1, 2, or 4")
        first = inst.first_imm
        if proto == "link":
            return Arth(ld(size, 0, inst.val), inst.b, first, errs=inst.errs)
        if proto in _NETWORK:
            b = self.proto_abbrev(proto)
            if inst.b is not None:
                b = gen_and(inst.b, b)
            return Arth(ld(size, self.off_linkpl, inst.val), b, first, errs=inst.errs)
        if proto in _TRANSPORT:
            x = ("alu", "+", ("msh", self.off_linkpl), inst.val)
            b = gen_and(self.proto_abbrev(proto), self.gen_ipfrag())
            if inst.b is not None:
                b = gen_and(inst.b, b)
            b = gen_and(self.proto_abbrev("ip"), b)
            return Arth(ld(size, self.off_linkpl, x), b, first, errs=inst.errs)
        if proto == "icmp6":
            b = self.proto_abbrev("ip6")
            if inst.b is not None:
                b = gen_and(inst.b, b)
            b = gen_and(b, cmp("eq", self.load_linkpl(6, 1), 58))
            return Arth(ld(size, self.off_linkpl + 40, inst.val), b, first, errs=inst.errs)
        if proto == "radio":
            raise _err("radio information not present in capture")
        raise _err("unsupported index operation")

    @staticmethod
    def gen_loadi(v: int) -> Arth:
        return Arth(k(v), None, v, v)

    @staticmethod
    def gen_loadlen() -> Arth:
        return Arth(("len",), None)

    @staticmethod
    def gen_neg(a: Arth) -> Arth:
        val = ("kf", -a.val[1] & 0xFFFFFFFF) if a.val[0] in ("k", "kf") else ("neg", a.val)
        known = None if a.known is None else -a.known & 0xFFFFFFFF
        return Arth(val, a.b, a.first_imm, known, a.errs)

    @staticmethod
    def gen_arth(op: str, a0: Arth, a1: Arth) -> Arth:
        # gencode.c refuses these before optimizing, looking only at the right operand's first
        # statement; the optimizer refuses them once it knows the operand is a zero constant
        if op == "/" and a1.first_imm == 0:
            raise _err("division by zero")
        if op == "%" and a1.first_imm == 0:
            raise _err("modulus by zero")
        if op in ("<<", ">>") and a1.first_imm is not None and a1.first_imm > 31:
            raise _err("shift by more than 31 bits")
        known = None
        errs = a0.errs + a1.errs
        if a1.known is not None:
            if a1.known == 0 and op in ("/", "%"):
                errs += ("division by zero" if op == "/" else "modulus by zero",)
            elif a0.known is not None:
                known = _fold(op, a0.known, a1.known)
            elif a1.known == 0 and op in ("*", "&"):
                known = 0
            elif a1.known > 31 and op in ("<<", ">>"):
                errs += ("shift by more than 31 bits",)
        elif a0.known == 0 and op in ("*", "/", "%", "&", "<<", ">>"):
            known = 0
        if a0.val[0] in ("k", "kf") and a1.val[0] in ("k", "kf") and not (op in "/%" and a1.val[1] == 0):
            val: Node = ("kf", _fold(op, a0.val[1], a1.val[1]))
        else:
            val = ("alu", op, a0.val, a1.val)
        # libpcap 1.10's gen_arth keeps only the left operand's protocol checks
        return Arth(val, a0.b, a0.first_imm, known, errs)

    @staticmethod
    def gen_relation(op: str, a0: Arth, a1: Arth, reversed_: bool) -> Node:
        # the optional fifth item is for the optimizer checks: (errors, known values, immediates)
        meta = (a0.errs + a1.errs, a0.known, a1.known)
        b: Node = ("cmp", op, a0.val, a1.val, meta)
        if reversed_:
            b = gen_not(b)
        if a0.b is not None:
            tmp = gen_and(a0.b, a1.b) if a1.b is not None else a0.b
        else:
            tmp = a1.b
        return gen_and(tmp, b) if tmp is not None else b


def _fold(op: str, a: int, b: int) -> int:
    if op == "+":
        return (a + b) & 0xFFFFFFFF
    if op == "-":
        return (a - b) & 0xFFFFFFFF
    if op == "*":
        return (a * b) & 0xFFFFFFFF
    if op == "/":
        return a // b
    if op == "%":
        return a % b
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    if op == "<<":
        return (a << b) & 0xFFFFFFFF if b < 32 else 0
    return a >> b if b < 32 else 0
