"""Parser for pcap-filter(7) expressions, following libpcap 1.10's grammar.y.

The parser is recursive descent over the same productions as libpcap's LALR grammar:

* ``and`` and ``or`` have the same precedence and group to the left (``a or b and c`` is
  ``(a or b) and c``); ``not`` binds tighter; arithmetic uses ``| & << >> + - * /`` from
  loosest to tightest, while ``%`` and ``^`` (declared without precedence in grammar.y, so bison
  always shifts them) take everything to their right as the right operand;
* qualifiers are inherited the way grammar.y's ``$<blk>0`` does it: a bare id after ``and``/``or``
  (``host a or b``, ``port 80 or 443``) reuses the qualifiers of the expression on its left, and
  ``host (a or b)`` spreads them inside the parentheses.

Where the LALR parser delays a decision (an operand after ``and``/``or`` may be a new term or a
bare id; ``(`` may open an expression, an arithmetic operand or an id list), this parser first
tries the candidates without generating code ("dry" mode, memoised per position) and then parses
the one that fits for real, so code generation, with its side effects (``vlan`` moves later
offsets) and its errors, runs once and in libpcap's order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import gencode as gc
from .errors import FilterSyntaxError
from .gencode import QERR, Arth, Gen, Node
from .lexer import Token

__all__ = ["parse"]

PNAMES = {
    "LINK": "link", "IP": "ip", "ARP": "arp", "RARP": "rarp", "SCTP": "sctp", "TCP": "tcp",
    "UDP": "udp", "ICMP": "icmp", "IGMP": "igmp", "IGRP": "igrp", "PIM": "pim", "VRRP": "vrrp",
    "CARP": "carp", "ATALK": "atalk", "AARP": "aarp", "DECNET": "decnet", "LAT": "lat",
    "SCA": "sca", "MOPDL": "mopdl", "MOPRC": "moprc", "IPV6": "ip6", "ICMPV6": "icmp6",
    "AH": "ah", "ESP": "esp", "ISO": "iso", "ESIS": "esis", "ISIS": "isis", "L1": "l1",
    "L2": "l2", "IIH": "iih", "LSP": "lsp", "SNP": "snp", "PSNP": "psnp", "CSNP": "csnp",
    "CLNP": "clnp", "STP": "stp", "IPX": "ipx", "NETBEUI": "netbeui", "RADIO": "radio",
}
DQUALS = {"SRC": "src", "DST": "dst", "ADDR1": "addr1", "ADDR2": "addr2", "ADDR3": "addr3",
          "ADDR4": "addr4", "RA": "ra", "TA": "ta"}
AQUALS = {"HOST": "host", "NET": "net", "PORT": "port", "PORTRANGE": "portrange"}
HEAD_ADDR = {"PROTO": "proto", "PROTOCHAIN": "protochain", "GATEWAY": "gateway"}
RELOPS = {">": ("gt", False), "GEQ": ("ge", False), "=": ("eq", False),
          "LEQ": ("gt", True), "<": ("ge", True), "NEQ": ("eq", True)}
# binding power of the arithmetic operators grammar.y gives a precedence to
BINOPS = {"|": 1, "&": 2, "LSH": 3, "RSH": 3, "+": 4, "-": 4, "*": 5, "/": 5}
OPSYM = {"LSH": "<<", "RSH": ">>"}
UMINUS = 6
FOLLOW_OPERAND = ("AND", "OR", ")", "EOF")

ATM_TYPES = ("LANE", "METAC", "BCC", "OAMF4EC", "OAMF4SC", "SC", "ILMIC", "OAM", "OAMF4",
             "CONNECTMSG", "METACONNECT")
ATM_FIELDS = ("VPI", "VCI")
MTP2_TYPES = ("FISU", "LSSU", "MSU", "HFISU", "HLSSU", "HMSU")
MTP3_FIELDS = ("SIO", "OPC", "DPC", "SLS", "HSIO", "HOPC", "HDPC", "HSLS")
PF_NAMES = {"PF_IFNAME": "ifname", "PF_RSET": "ruleset", "PF_RNR": "rnr", "PF_SRNR": "srnr",
            "PF_REASON": "reason", "PF_ACTION": "action"}
UNSUPPORTED_ENCAPS = ("MPLS", "PPPOES", "GENEVE")
ISIS_PDUS = ("L1", "L2", "IIH", "LSP", "SNP", "PSNP", "CSNP")


class _Fail(Exception):
    """The tokens do not fit the production being parsed."""


class Parser:
    def __init__(self, tokens: list[Token], gen: Gen) -> None:
        self.toks = tokens
        self.pos = 0
        self.gen = gen
        self.dry = False
        self.memo: dict[tuple[str, int], tuple[int | None, int]] = {}
        self.furthest = 0  # furthest token looked at, in any mode
        self.real_furthest = 0  # furthest token looked at while generating code

    # -- token access ----------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        idx = min(self.pos + ahead, len(self.toks) - 1)
        if idx > self.furthest:
            self.furthest = idx
        if not self.dry and idx > self.real_furthest:
            self.real_furthest = idx
        return self.toks[idx]

    def kind(self, ahead: int = 0) -> str:
        return self.peek(ahead).kind

    def advance(self) -> Token:
        tok = self.peek()
        if tok.kind != "EOF":
            self.pos += 1
        return tok

    def expect(self, kind: str) -> Token:
        if self.kind() != kind:
            raise _Fail
        return self.advance()

    def sem(self, msg: str) -> None:
        """A semantic error: raised only when generating code."""
        if not self.dry:
            raise FilterSyntaxError(msg)

    def g(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a code generator, unless only checking the syntax."""
        if self.dry:
            return None
        return fn(*args)

    def attempt(self, name: str, fn: Callable[[], object]) -> tuple[int | None, int]:
        """Dry-parse ``fn`` here: (end position or None, furthest token reached)."""
        key = (name, self.pos)
        hit = self.memo.get(key)
        if hit is not None:
            self.furthest = max(self.furthest, hit[1])
            return hit
        saved_pos, saved_dry, saved_far = self.pos, self.dry, self.furthest
        self.dry = True
        self.furthest = self.pos
        try:
            fn()
            end: int | None = self.pos
        except _Fail:
            end = None
        finally:
            reach = self.furthest
            self.pos, self.dry = saved_pos, saved_dry
            self.furthest = max(saved_far, reach)
        self.memo[key] = (end, reach)
        return end, reach

    def choose(self, options: list[tuple[str, Callable[[], object]]]) -> str:
        """Pick the alternative bison would follow: one that parses and is followed by a token
        that can come next; else one that parses; else the one that got furthest (so its
        semantic errors surface, as bison reports them before the syntax error)."""
        results = [(name, *self.attempt(name, fn)) for name, fn in options]
        for name, end, _ in results:
            if end is not None and self.toks[end].kind in FOLLOW_OPERAND:
                return name
        for name, end, _ in results:
            if end is not None:
                return name
        return max(results, key=lambda r: r[2])[0]

    # -- expressions -----------------------------------------------------------------------
    def prog(self) -> Node:
        if self.kind() == "EOF":
            return gc.TRUE
        b, _ = self.expr(QERR)
        if self.kind() != "EOF":
            raise _Fail
        return b

    def expr(self, q0: tuple[str, str, str]) -> tuple[Node, tuple[str, str, str]]:
        b, q = self.term(q0)
        while self.kind() in ("AND", "OR"):
            op = self.advance().kind
            which = self.choose([("term", lambda: self.term(QERR)), ("id", lambda: self.id(QERR))])
            b2, q = self.term(q) if which == "term" else self.id(q)
            b = self.g(gc.gen_and if op == "AND" else gc.gen_or, b, b2)
        return b, q

    def term(self, q0: tuple[str, str, str]) -> tuple[Node, tuple[str, str, str]]:
        k = self.kind()
        if k == "!":
            self.advance()
            b, q = self.term(q0)
            return self.g(gc.gen_not, b), q
        if k == "(":
            which = self.choose([("pexpr", self._paren_expr), ("rel", self.relation)])
            if which == "pexpr":
                b, _ = self._paren_expr(q0)
                return b, q0
            return self.relation(), QERR
        if k in PNAMES:
            k2 = self.kind(1)
            if k2 == "[":
                return self.relation(), QERR
            if k2 in DQUALS or k2 in AQUALS or k2 in HEAD_ADDR:
                return self.head_id()
            if k2 in ("TK_BROADCAST", "TK_MULTICAST", "TYPE", "SUBTYPE", "DIR"):
                return self.other(), QERR
            self.advance()
            if k in ISIS_PDUS:
                self.sem(f"'{PNAMES[k]}' is not supported by the tuxnet filter compiler")
            return self.g(self.gen.proto_abbrev, PNAMES[k]), QERR
        if k in DQUALS or k in AQUALS or k in HEAD_ADDR:
            return self.head_id()
        if k in ("NUM", "-", "LEN"):
            return self.relation(), QERR
        return self.other(), QERR

    def _paren_expr(self, q0: tuple[str, str, str] = QERR) -> tuple[Node, tuple[str, str, str]]:
        self.expect("(")
        b, q = self.expr(q0)
        self.expect(")")
        return b, q

    def head_id(self) -> tuple[Node, tuple[str, str, str]]:
        proto = gc.Q_DEFAULT
        if self.kind() in PNAMES:
            proto = PNAMES[self.advance().kind]
        dir_ = addr = gc.Q_DEFAULT
        k = self.kind()
        if k in DQUALS:
            self.advance()
            dir_ = DQUALS[k]
            if k in ("SRC", "DST") and self.kind() in ("OR", "AND"):
                other = "DST" if k == "SRC" else "SRC"
                if self.kind(1) != other:
                    raise _Fail
                dir_ = "or" if self.advance().kind == "OR" else "and"
                self.advance()
            if self.kind() in AQUALS:
                addr = AQUALS[self.advance().kind]
        elif k in AQUALS:
            addr = AQUALS[self.advance().kind]
        elif k in HEAD_ADDR:
            addr = HEAD_ADDR[self.advance().kind]
        else:
            raise _Fail
        q = (proto, dir_, addr)
        return self.id(q)

    def id(self, q: tuple[str, str, str]) -> tuple[Node, tuple[str, str, str]]:
        k = self.kind()
        if k == "!":
            self.advance()
            b, _ = self.id(q)
            return self.g(gc.gen_not, b), q
        if k == "(":
            if self.attempt("pnum", self.pnum)[0] is not None:
                return self.g(self.gen.gen_ncode, None, self.pnum(), q), q
            self.advance()
            b = self.pid(q)
            self.expect(")")
            return b, q
        if k == "NUM":
            return self.g(self.gen.gen_ncode, None, self.advance().value, q), q
        return self.nid(q), q

    def nid(self, q: tuple[str, str, str]) -> Node:
        tok = self.peek()
        k = tok.kind
        if k == "ID":
            self.advance()
            return self.g(self.gen.gen_scode, tok.value, q)
        if k == "HID":
            self.advance()
            if self.kind() == "/":
                self.advance()
                n = self.expect("NUM").value
                return self.g(self.gen.gen_mcode, tok.text, None, n, q)
            if self.kind() == "NETMASK":
                self.advance()
                m = self.expect("HID").text
                return self.g(self.gen.gen_mcode, tok.text, m, 0, q)
            if q[2] in ("port", "portrange", "proto", "protochain"):
                self.sem(f"'{q[2]}' modifier applied to ip host")
            return self.g(self.gen.gen_ncode, tok.text, 0, q)
        if k == "HID6":
            self.advance()
            masklen = 128
            if self.kind() == "/":
                self.advance()
                masklen = self.expect("NUM").value
            if tok.err:
                self.sem(tok.err)
            return self.g(self.gen.gen_mcode6, tok.text, masklen, q)
        if k == "EID":
            self.advance()
            if tok.err:
                self.sem(tok.err)
            return self.g(self.gen.gen_ecode, tok.text, q)
        if k == "AID":
            self.advance()
            if q[2] in ("host", gc.Q_DEFAULT) and q[0] == "link":
                self.sem("aid supported only on ARCnet")
            self.sem("ARCnet address used in non-arc expression")
            return None  # type: ignore[return-value]
        if k == "!":
            self.advance()
            b, _ = self.id(q)
            return self.g(gc.gen_not, b)
        raise _Fail

    def pid(self, q: tuple[str, str, str]) -> Node:
        if self.kind() in ("NUM", "("):
            b = self.g(self.gen.gen_ncode, None, self.pnum(), q)
            if self.kind() not in ("AND", "OR"):
                raise _Fail
        else:
            b = self.nid(q)
        while self.kind() in ("AND", "OR"):
            op = self.advance().kind
            b2, _ = self.id(q)
            b = self.g(gc.gen_and if op == "AND" else gc.gen_or, b, b2)
        return b

    def pnum(self) -> int:
        if self.kind() == "NUM":
            return self.advance().value  # type: ignore[no-any-return]
        self.expect("(")
        v = self.pnum()
        self.expect(")")
        return v

    # -- arithmetic ------------------------------------------------------------------------
    def relation(self) -> Node:
        a0 = self.arth()
        op = RELOPS.get(self.kind())
        if op is None:
            raise _Fail
        self.advance()
        a1 = self.arth()
        return self.g(self.gen.gen_relation, op[0], a0, a1, op[1])

    def arth(self, min_bp: int = 0) -> Arth:
        lhs = self.primary()
        while True:
            k = self.kind()
            if k in ("%", "^"):
                # no precedence in grammar.y: bison shifts, so the rest is the right operand
                self.advance()
                rhs = self.arth(0)
                lhs = self.g(self.gen.gen_arth, k, lhs, rhs)
                continue
            bp = BINOPS.get(k)
            if bp is None or bp <= min_bp:
                return lhs
            self.advance()
            rhs = self.arth(bp)
            lhs = self.g(self.gen.gen_arth, OPSYM.get(k, k), lhs, rhs)

    def primary(self) -> Arth:
        k = self.kind()
        if k == "NUM":
            return self.g(self.gen.gen_loadi, self.advance().value)
        if k == "(":
            self.advance()
            a = self.arth()
            self.expect(")")
            return a
        if k == "-":
            self.advance()
            return self.g(self.gen.gen_neg, self.arth(UMINUS))
        if k == "LEN":
            self.advance()
            return self.g(self.gen.gen_loadlen)
        if k in PNAMES and self.kind(1) == "[":
            proto = PNAMES[self.advance().kind]
            self.advance()
            index = self.arth()
            size = 1
            if self.kind() == ":":
                self.advance()
                size = self.expect("NUM").value
            self.expect("]")
            return self.g(self.gen.gen_load, proto, index, size)
        raise _Fail

    # -- the "other" primitives ------------------------------------------------------------
    def other(self) -> Node:
        tok = self.advance()
        k = tok.kind
        if k in PNAMES or k in ("TK_BROADCAST", "TK_MULTICAST", "TYPE", "SUBTYPE", "DIR"):
            proto = gc.Q_DEFAULT
            if k in PNAMES:
                proto = PNAMES[k]
                tok = self.advance()
                k = tok.kind
            if k == "TK_BROADCAST":
                return self.g(self.gen.gen_broadcast, proto)
            if k == "TK_MULTICAST":
                return self.g(self.gen.gen_multicast, proto)
            self.advance_any_value()
            if k == "DIR":
                self.sem("frame direction supported only with 802.11 headers")
            self.sem("802.11 link-layer types supported only on 802.11")
            return gc.TRUE
        if k in ("LESS", "GREATER"):
            n = self.expect("NUM").value
            return self.g(self.gen.gen_less if k == "LESS" else self.gen.gen_greater, n)
        if k == "CBYTE":
            idx = self.expect("NUM").value
            op = self.advance().kind
            if op not in ("&", "|", "<", ">", "="):
                raise _Fail
            val = self.expect("NUM").value
            return self.g(self.gen.gen_byteop, op, idx, val)
        if k in ("INBOUND", "OUTBOUND"):
            self.sem("inbound/outbound not supported on Ethernet when reading savefiles")
        elif k == "IFINDEX":
            self.expect("NUM")
            self.sem("ifindex not supported on Ethernet when reading savefiles")
        elif k == "VLAN":
            vid = self.pnum() if self.kind() in ("NUM", "(") else None
            return self.g(self.gen.gen_vlan, vid)
        elif k in UNSUPPORTED_ENCAPS:
            if self.kind() in ("NUM", "("):
                self.pnum()
            self.sem(f"'{tok.text}' is not supported by the tuxnet filter compiler")
        elif k == "PPPOED":
            return self.g(self.gen.gen_pppoed)
        elif k == "LLC":
            if self.kind() in ("ID", "PF_RNR"):
                self.advance()
                self.sem("LLC frame types are not supported by the tuxnet filter compiler")
            return self.g(self.gen.gen_llc)
        elif k in PF_NAMES:
            want = "NUM" if k in ("PF_RNR", "PF_SRNR") else "ID"
            if k == "PF_REASON" and self.kind() == "NUM":
                want = "NUM"
            self.expect(want)
            self.sem(f"{PF_NAMES[k]} supported only on PF linktype")
        elif k in ATM_TYPES:
            self.sem(f"'{tok.text}' supported only on raw ATM")
        elif k in ATM_FIELDS or k in MTP3_FIELDS:
            self.field_value()
            if k in ATM_FIELDS:
                self.sem(f"'{tok.text}' supported only on raw ATM")
            self.sem(f"'{tok.text.removeprefix('h')}' supported only on SS7")
        elif k in MTP2_TYPES:
            hsl = "_HSL" if k.startswith("H") else ""
            self.sem(f"'{tok.text}' supported only on MTP2{hsl}")
        else:
            raise _Fail
        return gc.TRUE

    def advance_any_value(self) -> None:
        """The value after an 802.11 ``type``/``subtype``/``dir`` qualifier."""
        if self.kind() in ("NUM", "ID"):
            self.advance()
            if self.kind() == "SUBTYPE":
                self.advance()
                if self.kind() not in ("NUM", "ID"):
                    raise _Fail
                self.advance()
            return
        raise _Fail

    def field_value(self) -> None:
        """atmvalue / mtp3value: ``NUM``, ``relop NUM`` or ``(NUM or NUM ...)``."""
        k = self.kind()
        if k == "NUM":
            self.advance()
        elif k in RELOPS:
            self.advance()
            self.expect("NUM")
        elif k == "(":
            self.advance()
            self.expect("NUM")
            while self.kind() == "OR":
                self.advance()
                self.expect("NUM")
            self.expect(")")
        else:
            raise _Fail


def _error_token(tokens: list[Token], upto: int) -> Token | None:
    for tok in tokens[:upto + 1]:
        if tok.err:
            return tok
    return None


def parse(tokens: list[Token], gen: Gen) -> Node:
    """Parse and generate code; raises FilterSyntaxError with libpcap's message."""
    p = Parser(tokens, gen)
    try:
        return p.prog()
    except _Fail:
        bad = _error_token(tokens, p.furthest)
        raise FilterSyntaxError(bad.err if bad else "can't parse filter expression: syntax error") from None
    except FilterSyntaxError as e:
        bad = _error_token(tokens, p.real_furthest)
        if bad is not None and bad.err != str(e):
            raise FilterSyntaxError(bad.err) from None
        raise
    except RecursionError:
        raise FilterSyntaxError("can't parse filter expression: memory exhausted") from None
