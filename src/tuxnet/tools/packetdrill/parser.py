"""packetdrill script parser: text -> ``Script`` AST, following packetdrill's parser.y grammar.

Grammar (see ``../shared/conformance/packetdrill/google/syntax.md``)::

    script  := option* [`init command`] event+ [`cleanup command`]
    option  := --name[=value]                 (value: int, word, "string", address, word=word ...)
    event   := time action
    time    := N | +N | * | N~N | +N~+N        (seconds; N integer or decimal)
    action  := packet | syscall | `command` | %{ python code }%
    packet  := (<|>) encap* [ip_info] ( tcp | udp (N) | icmp type [code] [mtu N] [id N] [[echoed]] )
    tcp     := [P > P] flags S:E(L) [ack N] [win N] [urg N] [<options> | <...>] [{fuzz}]
    syscall := [...T] name(args) = expr [ERRNO (strerror)] [(note)]

Guarantees:
- Every node has the 1-based ``line`` it starts on (an event's line is its timestamp's, as in
  packetdrill); errors raise ``PacketdrillSyntaxError`` with ``path:line: message`` in packetdrill's
  wording ("parse error at '...'", "semantic error: ...").
- Times are integer microseconds computed as packetdrill does (``(s64)(secs * 1.0e6)``).
- packetdrill's semantic checks are applied: value ranges (u32 sequence numbers, u16 ports/window/
  MSS, u8 wscale...), ``end == start + len`` for ``S:E(L)``, ``*`` and time ranges and ``<...>``
  only on outbound packets, non-backwards ranges, the 40-byte TCP option limit, FO cookie and MD5
  hex strings.
- Symbols defined with ``defines=`` or a ``--define=NAME=VALUE`` option are substituted for WORD
  tokens, as packetdrill's ``-D`` does (a value in quotes becomes a STRING, in backquotes a command).
- Syscall expressions keep packetdrill's structure: ints (``Int``, with ``hex``), symbols (``Word``),
  strings, ``...``, ``a|b``, ``name=value``, arrays ``[..]``, brace lists ``{..}``, and the special
  structs (sockaddr, msghdr, iovec, pollfd, epoll_event, linger, cmsg, scm_timestamping,
  sock_extended_err, inet_addr(), mpls stack, GRE header).

Extensions (accepted although packetdrill would not): an unknown TCP option keyword is kept as a
generic ``TcpOption`` with its raw arguments; an errno note may contain reserved words.
packetdrill has no include directive; the init/cleanup commands are the only way scripts share
setup, and they are kept as text for the runner.
"""

from __future__ import annotations  # noqa: I001 (the AST names below are imported as one wrapped block)

from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from tuxnet.tools.packetdrill import (
    Binary, Cmsg, Code, Command, EllipsisExpr, Epollev, Event, EventTime, Expr, FuzzParam, GreEncap,
    GreHeader, IcmpEchoed, IcmpPacket, In6Addr, InAddr, Int, Iovec, IpEncap, IpInfo, Linger, ListExpr,
    MplsEncap, MplsEntry, MplsStack, Msghdr, Option, Pollfd, ScmTimestamping, Script, Sockaddr,
    SockExtendedErr, Str, Syscall, TcpOption, TcpPacket, UdpPacket, Word,
)  # fmt: skip
from tuxnet.tools.packetdrill.lexer import KEYWORDS, PacketdrillSyntaxError, Token, tokenize

__all__ = ["parse_file", "parse_script"]

U8, U16, U20, U32 = 0xFF, 0xFFFF, 0xFFFFF, 0xFFFFFFFF
MAX_TCP_OPTION_BYTES = 40
TCPOLEN_FASTOPEN_BASE = 2  # kind, length
TCPOLEN_EXP_FASTOPEN_BASE = 4  # kind, length, 2-byte magic
MAX_TCP_FAST_OPEN_COOKIE_BYTES = MAX_TCP_OPTION_BYTES - TCPOLEN_FASTOPEN_BASE
MAX_TCP_FAST_OPEN_EXP_COOKIE_BYTES = MAX_TCP_OPTION_BYTES - TCPOLEN_EXP_FASTOPEN_BASE
TCP_MD5_DIGEST_LEN = 16


# --- parser ---------------------------------------------------------------------------------------

_KIND_NAMES = {kind: word for word, kind in KEYWORDS.items()} | {"ELLIPSIS": "..."}
_ECN = {"NO_ECN": "noecn", "ECT0": "ect0", "ECT1": "ect1", "CE": "ce", "ECT01": "ect01"}
_OPTION_LEN = {"nop": 1, "eol": 1, "mss": 4, "wscale": 3, "sackOK": 2, "TS": 10}


def parse_script(text: str, path: str = "<script>", defines: Mapping[str, str] | None = None) -> Script:
    """Parse a packetdrill script given as text."""
    return _Parser(tokenize(text, path), path, defines).script()


def parse_file(path: str | Path, defines: Mapping[str, str] | None = None) -> Script:
    """Parse a .pkt file."""
    p = Path(path)
    return parse_script(p.read_text(encoding="utf-8", errors="surrogateescape"), str(p), defines)


class _Parser:
    __slots__ = ("toks", "i", "path", "defines")

    def __init__(self, toks: list[Token], path: str, defines: Mapping[str, str] | None) -> None:
        self.toks = toks
        self.i = 0
        self.path = path
        self.defines: dict[str, str] = dict(defines or {})
        if self.defines:
            self._substitute(0)

    # -- token helpers

    def _substitute(self, start: int) -> None:
        """Replace defined symbols in WORD tokens (packetdrill's word() with -D definitions)."""
        for k in range(start, len(self.toks)):
            t = self.toks[k]
            if t.kind == "WORD" and t.text in self.defines:
                v = self.defines[t.text]
                if v[:1] == '"' and v[-1:] == '"' and len(v) >= 2:
                    self.toks[k] = Token("STRING", v, v[1:-1], t.line)
                elif v[:1] == "`" and v[-1:] == "`" and len(v) >= 2:
                    self.toks[k] = Token("BACK_QUOTED", v, v[1:-1], t.line)
                else:
                    self.toks[k] = Token("WORD", v, v, t.line)

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def at(self, *kinds: str) -> bool:
        return self.toks[self.i].kind in kinds

    def next(self) -> Token:
        t = self.toks[self.i]
        if t.kind != "EOF":
            self.i += 1
        return t

    def accept(self, kind: str) -> Token | None:
        if self.toks[self.i].kind == kind:
            return self.next()
        return None

    def expect(self, kind: str, what: str | None = None) -> Token:
        t = self.toks[self.i]
        if t.kind != kind:
            self.fail(f"expecting {what or _KIND_NAMES.get(kind) or repr(kind)}")
        return self.next()

    def expects(self, *kinds: str) -> None:
        for kind in kinds:
            self.expect(kind)

    def int_value(self) -> int:
        return int(self.expect("INTEGER", "an integer").value)  # type: ignore[call-overload]

    def fail(self, message: str, tok: Token | None = None) -> NoReturn:
        t = tok or self.toks[self.i]
        shown = "end of file" if t.kind == "EOF" else t.text
        raise PacketdrillSyntaxError(self.path, t.line, f"parse error at '{shown}': syntax error, {message}")

    def semantic(self, line: int, message: str) -> NoReturn:
        raise PacketdrillSyntaxError(self.path, line, f"semantic error: {message}")

    def integer(self, what: str = "an integer") -> Token:
        return self.expect("INTEGER", what)

    def ranged(self, tok: Token, limit: int, message: str) -> int:
        v = tok.value
        assert isinstance(v, int)
        if not 0 <= v <= limit:
            self.semantic(tok.line, message)
        return v

    # -- script structure

    def script(self) -> Script:
        options = []
        while self.at("OPTION"):
            options.append(self.option())
        init = None
        if self.at("BACK_QUOTED"):
            t = self.next()
            init = Command(str(t.value), t.line)
        events = []
        while self.at("+", "*", "INTEGER", "FLOAT"):
            events.append(self.event())
        if not events:
            self.fail("expecting an event (a time followed by a packet, system call or command)")
        cleanup = None
        if self.at("BACK_QUOTED"):
            t = self.next()
            cleanup = Command(str(t.value), t.line)
        if not self.at("EOF"):
            self.fail("expecting an event time")
        return Script(self.path, tuple(options), init, tuple(events), cleanup)

    def option(self) -> Option:
        t = self.next()
        name = str(t.value)
        if not self.accept("="):
            return Option(name, None, t.line)
        v = self.tok
        if v.kind == "WORD" and self.peek().kind == "=":
            self.next()
            self.next()
            rhs = self.tok
            if rhs.kind not in ("WORD", "STRING", "BACK_QUOTED"):
                self.fail("expecting a word, string or `command` after '='")
            self.next()
            value = f"{v.text}={rhs.text}"
            if name == "define":
                self.defines[v.text] = rhs.text
                self._substitute(self.i)
            return Option(name, value, t.line)
        if v.kind in ("INTEGER", "WORD", "IPV4_ADDR", "IPV6_ADDR", "IPV4", "IPV6"):
            self.next()
            return Option(name, v.text, t.line)
        if v.kind == "STRING":
            self.next()
            return Option(name, str(v.value), t.line)
        self.fail("expecting an option value")

    def time_value(self) -> int:
        t = self.tok
        if t.kind == "FLOAT":
            self.next()
            secs = float(t.value)  # type: ignore[arg-type]
            if secs < 0:
                self.semantic(t.line, "negative time")
            return int(secs * 1.0e6)  # (s64)(secs * 1.0e6), truncating like C
        if t.kind == "INTEGER":
            self.next()
            if int(t.value) < 0:  # type: ignore[call-overload]
                self.semantic(t.line, "negative time")
            return int(t.value) * 1_000_000  # type: ignore[call-overload]
        self.fail("expecting a time")

    def event_time(self) -> tuple[EventTime, int]:
        if self.accept("*"):
            return EventTime("any"), self.toks[self.i - 1].line
        if self.accept("+"):
            line = self.tok.line
            start = self.time_value()
            if self.accept("~"):
                self.expect("+", "'+' (a relative range is +N~+M)")
                return EventTime("relative_range", start, self.time_value()), line
            return EventTime("relative", start), line
        line = self.tok.line
        start = self.time_value()
        if self.accept("~"):
            return EventTime("absolute_range", start, self.time_value()), line
        return EventTime("absolute", start), line

    def event(self) -> Event:
        time, line = self.event_time()
        t = self.tok
        action: TcpPacket | UdpPacket | IcmpPacket | Syscall | Command | Code
        if t.kind in ("<", ">"):
            action = self.packet()
        elif t.kind == "BACK_QUOTED":
            self.next()
            action = Command(str(t.value), t.line)
        elif t.kind == "CODE":
            self.next()
            action = Code(str(t.value), t.line)
        elif t.kind in ("WORD", "ELLIPSIS"):
            action = self.syscall()
        else:
            self.fail("expecting a packet, system call, `command` or %{ code }%")
        if time.end_usecs is not None and time.end_usecs < time.usecs:
            self.semantic(line, "time range is backwards")
        outbound = isinstance(action, (TcpPacket, UdpPacket, IcmpPacket)) and action.direction == ">"
        if time.kind == "any" and not outbound:
            self.semantic(line, "event time <star> can only be used with outbound packets")
        if time.kind in ("absolute_range", "relative_range") and not outbound:
            self.semantic(line, "event time range can only be used with outbound packets")
        return Event(time, action, line)

    # -- packets

    def packet(self) -> TcpPacket | UdpPacket | IcmpPacket:
        d = self.next()
        direction = d.kind
        encap: list[IpEncap | GreEncap | MplsEncap] = []
        while self.at("IPV4", "IPV6", "GRE", "MPLS"):
            encap.append(self.encapsulation())
        ip = self.opt_ip_info()
        if ip is not None and ip.ecn == "ect01" and direction != ">":
            self.semantic(d.line, "[ect01] can only be used with outbound packets")
        if self.accept("UDP"):
            src, dst = self.opt_port_info()
            self.expect("(", "'(' before the UDP payload length")
            n = self.ranged(self.integer(), U16, "UDP payload size out of range")
            self.expect(")")
            if ip is not None and ip.ecn is not None and ip.ecn != "ect01":
                self.semantic(d.line, "ECN can only be used with TCP packets")
            return UdpPacket(direction, n, ip, src, dst, tuple(encap), d.line)
        if self.accept("ICMP"):
            return self.icmp(direction, ip, tuple(encap), d.line)
        src, dst = self.opt_port_info()
        flags = self.flags()
        start, end, length = self.seq()
        ack = win = urg = None
        if self.accept("ACK"):
            ack = self.ranged(self.integer(), U32, "TCP ack sequence number out of range")
        if self.accept("WIN"):
            win = self.ranged(self.integer(), U16, "TCP window value out of range")
        if self.accept("URG"):
            urg = self.ranged(self.integer(), U16, "urg_ptr value out of range")
        options: tuple[TcpOption, ...] | None = ()
        if self.at("<"):
            lt = self.next()
            if self.accept("ELLIPSIS"):
                self.expect(">", "'>' after '<...'")
                if direction != ">":
                    self.semantic(lt.line, "<...> for TCP options can only be used with outbound packets")
                options = None
            else:
                options = self.tcp_options()
        fuzz = self.fuzz() if self.at("{") else ()
        return TcpPacket(
            direction,
            flags,
            start,
            end,
            length,
            ack,
            win,
            urg,
            options,
            ip,
            src,
            dst,
            tuple(encap),
            fuzz,
            d.line,
        )

    def encapsulation(self) -> IpEncap | GreEncap | MplsEncap:
        t = self.next()
        if t.kind in ("IPV4", "IPV6"):
            ip = self.opt_ip_info()
            addr = "IPV4_ADDR" if t.kind == "IPV4" else "IPV6_ADDR"
            src = self.expect(addr, f"an {t.text} address").text
            self.expect(">")
            dst = self.expect(addr, f"an {t.text} address").text
            self.expect(":", "':' after the encapsulation header")
            return IpEncap(4 if t.kind == "IPV4" else 6, src, dst, ip)
        if t.kind == "GRE":
            header = None
            if not self.at(":"):
                self.accept(",")
                header = self.gre_header()
            self.expect(":", "':' after the GRE header")
            return GreEncap(header)
        entries = self.mpls_stack()
        self.expect(":", "':' after the MPLS label stack")
        return MplsEncap(entries)

    def opt_ip_info(self) -> IpInfo | None:
        close = {"(": ")", "[": "]"}.get(self.tok.kind)
        if close is None:
            return None
        kinds = ("NO_ECN", "ECT0", "ECT1", "CE", "ECT01", "TOS", "FLOWLABEL", "TTL")
        if self.peek().kind not in kinds:
            return None  # '(' of a udp payload length, '[' of something else
        self.next()
        ecn = tos = flow = ttl = None
        t = self.tok
        if t.kind == "TTL":
            self.next()
            ttl = self.ranged(self.integer(), U8, "ttl out of range for 8 bits")
        elif t.kind == "FLOWLABEL":
            flow = self.flow_label()
        else:
            if t.kind == "TOS":
                self.next()
                tos = self.ranged(
                    self.expect("HEX_INTEGER", "a hex TOS value"), U8, "tos out of range for 8 bits"
                )
            else:
                ecn = _ECN[self.next().kind]
            if self.accept(","):
                if not self.at("FLOWLABEL"):
                    self.fail("expecting flowlabel")
                flow = self.flow_label()
        self.expect(close, f"'{close}'")
        return IpInfo(ecn, tos, flow, ttl)

    def flow_label(self) -> int:
        self.next()
        return self.ranged(
            self.expect("HEX_INTEGER", "a hex flow label"), U20, "flowlabel out of range for 20 bits"
        )

    def opt_port_info(self) -> tuple[int | None, int | None]:
        if self.at("INTEGER") and self.peek().kind == ">":
            src = self.ranged(self.next(), U16, "src port out of range")
            self.next()
            dst = self.ranged(self.integer("a destination port"), U16, "dst port out of range")
            return src, dst
        return None, None

    def flags(self) -> str:
        if self.accept("-"):
            return ""  # no TCP flags set
        if self.accept("."):
            return "."
        word = ""
        if self.at("WORD"):
            word = self.next().text
        if self.at("FLOAT"):  # AccECN: "S.1", ".5" (ack_and_ace)
            return word + self.next().text
        if not word:
            self.fail("expecting TCP flags")
        if self.accept("."):
            return word + "."
        return word

    def seq(self) -> tuple[int, int, int]:
        st = self.integer("a start sequence number")
        self.expect(":", "':' in S:E(L)")
        en = self.integer("an end sequence number")
        self.expect("(", "'(' in S:E(L)")
        ln = self.integer("a payload length")
        self.expect(")", "')' in S:E(L)")
        start = self.ranged(st, U32, "TCP start sequence number out of range")
        end = self.ranged(en, U32, "TCP end sequence number out of range")
        length = self.ranged(ln, U16, "TCP payload size out of range")
        if end != start + length:
            self.semantic(st.line, "inconsistent TCP sequence numbers and payload size")
        return start, end, length

    def tcp_options(self) -> tuple[TcpOption, ...]:
        opts = [self.tcp_option()]
        while self.accept(","):
            opts.append(self.tcp_option())
        gt = self.expect(">", "',' or '>' in the TCP option list")
        total = 0
        for o in opts:
            total += _option_len(o)
            if total > MAX_TCP_OPTION_BYTES:
                self.semantic(gt.line, "TCP option list too long")
        return tuple(opts)

    def tcp_option(self) -> TcpOption:
        t = self.next()
        k = t.kind
        if k == "NOP":
            return TcpOption("nop")
        if k == "EOL":
            return TcpOption("eol")
        if k == "MSS":
            return TcpOption("mss", self.ranged(self.integer(), U16, "mss value out of range"))
        if k == "WSCALE":
            return TcpOption(
                "wscale", self.ranged(self.integer(), U8, "window scale shift count out of range")
            )
        if k == "SACKOK":
            return TcpOption("sackOK")
        if k == "SACK":
            blocks = []
            while self.at("INTEGER"):
                left = self.ranged(self.next(), U32, "TCP SACK left sequence number out of range")
                self.expect(":", "':' in a SACK block")
                right = self.ranged(self.integer(), U32, "TCP SACK right sequence number out of range")
                blocks.append((left, right))
            if not blocks:
                self.fail("expecting SACK blocks (left:right)")
            return TcpOption("sack", blocks=tuple(blocks))
        if k == "TIMESTAMP":
            self.expect("VAL")
            val = self.ranged(self.integer(), U32, "ts val out of range")
            self.expect("ECR")
            ecr = self.ranged(self.integer(), U32, "ecr val out of range")
            return TcpOption("TS", val=val, ecr=ecr)
        if k in ("FAST_OPEN", "FAST_OPEN_EXP", "MD5"):
            cookie = ""
            if self.at("WORD", "INTEGER"):
                cookie = self.next().text
            elif k == "MD5":
                self.fail("expecting an MD5 digest")
            self._check_hex(t, cookie, k)
            return TcpOption({"FAST_OPEN": "FO", "FAST_OPEN_EXP": "FOEXP", "MD5": "md5"}[k], cookie=cookie)
        if k == "WORD":  # an option packetdrill does not know: keep it generic
            args = []
            while not self.at(",", ">", "EOF"):
                args.append(self.next().text)
            return TcpOption(t.text, args=tuple(args))
        self.fail("expecting a TCP option", t)

    def _check_hex(self, t: Token, hexstr: str, kind: str) -> None:
        if kind == "MD5":
            if len(hexstr) // 2 > TCP_MD5_DIGEST_LEN:
                self.semantic(t.line, "TCP MD5 digest longer than 16 bytes")
            if len(hexstr) % 2 or not _is_hex(hexstr):  # two hex digits per byte
                self.semantic(t.line, "TCP MD5 digest is not a valid hex string")
            return
        if len(hexstr) % 2:
            self.semantic(t.line, "TCP fast open cookie has an odd number of digits")
        limit = (
            MAX_TCP_FAST_OPEN_EXP_COOKIE_BYTES if kind == "FAST_OPEN_EXP" else MAX_TCP_FAST_OPEN_COOKIE_BYTES
        )
        if len(hexstr) // 2 > limit:
            n = len(hexstr) // 2
            self.semantic(
                t.line, f"TCP fast open cookie of {n} bytes exceeds maximum cookie length of {limit} bytes"
            )
        if not _is_hex(hexstr):
            self.semantic(t.line, f"TCP fast open cookie '{hexstr}' is not a valid hex string")

    def fuzz(self) -> tuple[FuzzParam, ...]:
        self.next()
        params = []
        while True:
            action = self.expect("WORD", "mut, trun or ins")
            header = self.expect("WORD", "ip or tcp")
            if action.text not in ("mut", "trun", "ins") or header.text not in ("ip", "tcp"):
                self.fail("expecting '<mut|trun|ins> <ip|tcp> <field>'", action)
            if self.at("INTEGER") and self.peek().kind == "-":
                a = self.next().text
                self.next()
                fld = f"{a}-{self.integer().text}"
            elif self.at("INTEGER"):
                fld = f"{self.next().text} {self.integer().text}"
            elif self.at("MSS", "WORD"):
                fld = self.next().text
            else:
                self.fail("expecting a field name, position or offset")
            params.append(FuzzParam(action.text, header.text, fld))
            if not self.accept(";"):
                break
        self.expect("}", "'}' closing the fuzz block")
        return tuple(params)

    def icmp(self, direction: str, ip: IpInfo | None, encap: tuple, line: int) -> IcmpPacket:
        icmp_type = self.expect("WORD", "an ICMP type").text
        code = self.next().text if self.at("WORD") else None
        mtu = echo_id = None
        if self.accept("MTU"):
            mtu = self.int_value()
        if self.accept("ID"):
            echo_id = self.int_value()
        echoed = None
        if self.accept("["):
            if self.accept("UDP") or self.accept("RAW"):
                proto = "udp" if self.toks[self.i - 1].kind == "UDP" else "raw"
                self.expect("(")
                n = self.int_value()
                self.expect(")")
                echoed = IcmpEchoed(proto, 0, 0, n)
            else:
                start, end, length = self.seq()
                echoed = IcmpEchoed("tcp", start, end, length)
            self.expect("]", "']' after the echoed packet")
        return IcmpPacket(direction, icmp_type, code, mtu, echo_id, echoed, ip, encap, line)

    def mpls_stack(self) -> tuple[MplsEntry, ...]:
        entries = []
        while self.at("(") and self.peek().kind == "LABEL":
            self.next()
            self.next()
            label = self.int_value()
            self.expects(",", "TC")
            tc = self.int_value()
            self.expect(",")
            bottom = False
            if self.accept("["):
                s = self.expect("WORD", "[S]")
                if s.text != "S":
                    self.semantic(s.line, "expected [S] for MPLS label stack bottom")
                self.expects("]", ",")
                bottom = True
            self.expect("TTL")
            ttl = self.int_value()
            self.expect(")")
            entries.append(MplsEntry(label, tc, bottom, ttl))
        return tuple(entries)

    def gre_header(self) -> GreHeader:
        self.expect("FLAGS")
        flags = 0
        if self.accept("["):
            while True:
                if self.accept("NONE"):
                    pass
                elif self.accept("CHECKSUM"):
                    self.expect("PRESENT")
                    flags |= 0x8000
                elif self.accept("KEY"):
                    self.expect("PRESENT")
                    flags |= 0x2000
                elif self.accept("SEQUENCE"):
                    self.expect("PRESENT")
                    flags |= 0x1000
                else:
                    self.fail("expecting none, checksum present, key present or sequence# present")
                if not self.accept(","):
                    break
            self.expect("]")
        else:
            flags = self.any_int()
        self.accept(",")
        self.expect("SUM")
        gsum = self.any_int()
        self.accept(",")
        self.expect("OFF")
        off = self.any_int()
        self.accept(",")
        self.expect("KEY")
        self.accept("=")
        key = self.any_int()
        self.accept(",")
        self.expect("SEQ")
        return GreHeader(flags, gsum, off, key, self.any_int())

    def any_int(self) -> int:
        if self.at("INTEGER", "HEX_INTEGER"):
            return int(self.next().value)  # type: ignore[call-overload]
        self.fail("expecting an integer")

    # -- system calls and expressions

    def syscall(self) -> Syscall:
        end_usecs = None
        if self.accept("ELLIPSIS"):
            end_usecs = self.time_value()
        name = self.expect("WORD", "a system call name")
        self.expect("(", "'(' after the system call name")
        args: list[Expr] = []
        if not self.accept(")"):
            args.append(self.expression())
            while self.accept(","):
                args.append(self.expression())
            self.expect(")", "',' or ')' in the argument list")
        self.expect("=", "'=' and the expected result")
        result = self.expression()
        errno = strerror = note = None
        if self.at("WORD"):
            errno = self.next().text
            strerror = self.note()
            if strerror is None:
                self.fail("expecting '(' and the error text after the errno name")
        if self.at("("):
            note = self.note()
        return Syscall(name.text, tuple(args), result, errno, strerror, note, end_usecs, name.line)

    def note(self) -> str | None:
        if not self.accept("("):
            return None
        words = []
        while not self.at(")", "EOF"):
            t = self.next()
            if not (t.kind == "WORD" or t.kind.isupper() and t.kind != "EOF" and t.text.isidentifier()):
                self.fail("expecting words in the note", t)
            words.append(t.text)
        if not words:
            self.fail("expecting words in the note")
        self.expect(")", "')' closing the note")
        return " ".join(words)

    def expression(self) -> Expr:
        lhs = self.primary()
        if self.accept("|"):
            return Binary("|", lhs, self.expression())  # bison shifts: right associative
        return lhs

    def primary(self) -> Expr:
        t = self.tok
        k = t.kind
        if k == "ELLIPSIS":
            self.next()
            return EllipsisExpr()
        if k in ("INTEGER", "HEX_INTEGER"):
            self.next()
            return Int(int(t.value), k == "HEX_INTEGER")  # type: ignore[call-overload]
        if k == "WORD":
            self.next()
            if self.accept("="):
                return Binary("=", Word(t.text), self.expression())
            return Word(t.text)
        if k == "STRING":
            self.next()
            if self.accept("ELLIPSIS"):
                return Str(str(t.value), ellipsis=True)
            expr: Expr = Str(str(t.value))
            while self.at("STRING"):
                expr = Binary(".", expr, Str(str(self.next().value)))
            return expr
        if k == "[":
            self.next()
            items = self.expr_list("]")
            return ListExpr(items)
        if k in ("INET_ADDR", "INET6_ADDR"):
            self.next()
            self.expect("(")
            addr = str(self.expect("STRING", "a quoted address").value)
            self.expect(")")
            return InAddr(addr) if k == "INET_ADDR" else In6Addr(addr)
        if k == "{":
            return self.brace()
        self.fail("expecting an expression")

    def expr_list(self, close: str) -> tuple[Expr, ...]:
        items: list[Expr] = []
        if self.accept(close):
            return ()
        items.append(self.expression())
        while self.accept(","):
            items.append(self.expression())
        self.expect(close, f"',' or '{close}'")
        return tuple(items)

    def brace(self) -> Expr:
        """``{...}``: one of packetdrill's structs, chosen by its first member, else a brace list."""
        self.next()
        k = self.tok.kind
        if k == "SA_FAMILY":
            self.expects("SA_FAMILY", "=")
            family = self.expect("WORD", "AF_INET or AF_INET6").text
            self.expects(",", "SIN_PORT", "=", "_HTONS_", "(")
            port = self.int_value()
            self.expects(")", ",", "SIN_ADDR", "=", "INET_ADDR", "(")
            addr = str(self.expect("STRING", "a quoted address").value)
            self.expects(")", "}")
            return Sockaddr(family, port, addr)
        if k == "MSG_NAME":
            self.expects("MSG_NAME", "(", "ELLIPSIS", ")", "=", "ELLIPSIS", ",", "MSG_IOV", "(")
            iov_len = self.int_value()
            self.expects(")", "=", "[")
            iov = ListExpr(self.expr_list("]"))
            self.expect(",")
            flags = self.field("MSG_FLAGS")
            control = None
            if self.accept(","):
                self.expects("MSG_CONTROL", "=", "[")
                control = ListExpr(self.expr_list("]"))
            self.expect("}")
            return Msghdr(iov_len, iov, flags, control)
        if k == "CMSG_LEVEL":
            return Cmsg(*self.fields("CMSG_LEVEL", "CMSG_TYPE", "CMSG_DATA"))
        if k == "SCM_SEC":
            self.expects("SCM_SEC", "=")
            sec = self.int_value()
            self.expects(",", "SCM_NSEC", "=")
            nsec = self.int_value()
            self.expect("}")
            return ScmTimestamping(sec, nsec)
        if k == "EE_ERRNO":
            return SockExtendedErr(
                *self.fields("EE_ERRNO", "EE_ORIGIN", "EE_TYPE", "EE_CODE", "EE_INFO", "EE_DATA")
            )
        if k == "ELLIPSIS" and [self.peek(j).kind for j in (1, 2, 3)] == [",", "INTEGER", "}"]:
            self.expects("ELLIPSIS", ",")
            n = self.int_value()
            self.expect("}")
            return Iovec(n)
        if k == "FD":
            fd = self.field("FD")
            self.expect(",")
            events = self.field("EVENTS")
            revents = self.field("REVENTS") if self.accept(",") else None
            self.expect("}")
            return Pollfd(fd, events, revents)
        if k == "EVENTS":
            events = self.field("EVENTS")
            self.expect(",")
            member = self.tok
            if member.kind not in ("FD", "PTR", "U32", "U64"):
                self.fail("expecting fd, ptr, u32 or u64")
            value = self.field(member.kind)
            self.expect("}")
            return Epollev(events, member.text, value)
        if k == "ONOFF":
            self.expects("ONOFF", "=")
            onoff = self.int_value()
            self.expects(",", "LINGER", "=")
            linger = self.int_value()
            self.expect("}")
            return Linger(onoff, linger)
        if k == "FLAGS":
            header = self.gre_header()
            self.expect("}")
            return header
        if k == "}" or (k == "(" and self.peek().kind == "LABEL"):
            entries = self.mpls_stack()
            self.expect("}")
            return MplsStack(entries)
        return ListExpr(self.expr_list("}"), brace=True)

    def field(self, kind: str) -> Expr:
        """``name=expression`` for a reserved member name."""
        self.expects(kind, "=")
        return self.expression()

    def fields(self, *kinds: str) -> list[Expr]:
        """``{a=x, b=y, ...}`` after the '{', through the closing '}'."""
        vals = []
        for i, kind in enumerate(kinds):
            if i:
                self.expect(",")
            vals.append(self.field(kind))
        self.expect("}")
        return vals


def _is_hex(s: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in s)


def _option_len(o: TcpOption) -> int:
    """Bytes on the wire, for packetdrill's 40-byte option-list check."""
    if o.kind in _OPTION_LEN:
        return _OPTION_LEN[o.kind]
    if o.kind == "sack":
        return 2 + 8 * len(o.blocks)
    if o.kind == "md5":
        return 2 + len(o.cookie or "") // 2
    if o.kind == "FO":
        return 2 + len(o.cookie or "") // 2
    if o.kind == "FOEXP":
        return 4 + len(o.cookie or "") // 2
    return 2 + len(o.args)  # unknown: kind, length and the raw arguments as bytes, at least
