"""packetdrill: scriptable TCP/UDP/ICMP conformance tests (github.com/google/packetdrill).

This package holds the script language front end (the AST defined here, ``parser``, ``lexer``)
and the runner (``runner``: ``tuxnet packetdrill FILE...``) that replays a script against a fresh
tuxnet host in virtual time.

Public API:
- ``parse_file(path, defines=None) -> Script`` and ``parse_script(text, path, defines=None)``:
  parse a ``.pkt`` script (grammar and checks of packetdrill's parser.y, see ``parser``).
- ``tokenize(text, path)``: the token stream (``lexer``), mostly for diagnostics.
- ``PacketdrillSyntaxError``: raised for lexical, syntax and semantic errors; ``str()`` is
  ``path:line: message`` and the exception has ``path``, ``line`` and ``message``.
- The AST node classes (frozen dataclasses with slots): ``Script``, ``Option``, ``Event``,
  ``EventTime``, the actions ``TcpPacket``, ``UdpPacket``, ``IcmpPacket``, ``Syscall``, ``Command``,
  ``Code`` and their parts (``IpInfo``, ``TcpOption``, ``IcmpEchoed``, encapsulations, expressions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "LINUX_IPV4_DEFINES", "PacketdrillSyntaxError", "Token", "parse_file", "parse_script", "tokenize",
    "Binary", "Cmsg", "Code", "Command", "EllipsisExpr", "Epollev", "Event", "EventTime", "Expr",
    "FuzzParam", "GreEncap", "GreHeader", "IcmpEchoed", "IcmpPacket", "In6Addr", "InAddr", "Int",
    "IpEncap", "IpInfo", "Iovec", "Linger", "ListExpr", "MplsEncap", "MplsEntry", "MplsStack", "Msghdr",
    "Option", "Pollfd", "ScmTimestamping", "Script", "SockExtendedErr", "Sockaddr", "Str", "Syscall",
    "TcpOption", "TcpPacket", "UdpPacket", "Word",
]  # fmt: skip

# The -D definitions packetdrill's run_all.py and the kernel's ksft_runner.sh pass for IPv4 runs;
# the corpus uses them as symbols (``FOEXP TFO_COOKIE``, ``icmp unreachable CODE`` ...).
LINUX_IPV4_DEFINES: dict[str, str] = {
    "TFO_COOKIE": "3021b9d889017eeb",
    "TFO_COOKIE_ZERO": "b7c12350a90dc8f5",
    "CMSG_LEVEL_IP": "SOL_IP",
    "CMSG_TYPE_RECVERR": "IP_RECVERR",
    "CODE": "host_unreachable",
}


# --- the AST -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Int:
    value: int
    hex: bool = False


@dataclass(frozen=True, slots=True)
class Word:
    name: str


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    ellipsis: bool = False  # "abc"... : a prefix


@dataclass(frozen=True, slots=True)
class EllipsisExpr:
    pass


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # "|" (bitwise or), "=" (symbol = value), "." (string concatenation)
    lhs: Expr
    rhs: Expr


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[Expr, ...]
    brace: bool = False  # {a, b} rather than [a, b]


@dataclass(frozen=True, slots=True)
class InAddr:
    addr: str  # inet_addr("...")


@dataclass(frozen=True, slots=True)
class In6Addr:
    addr: str


@dataclass(frozen=True, slots=True)
class Sockaddr:
    family: str
    port: int
    addr: str


@dataclass(frozen=True, slots=True)
class Iovec:
    length: int  # {..., len}


@dataclass(frozen=True, slots=True)
class Msghdr:
    iov_len: int
    iov: ListExpr
    flags: Expr
    control: ListExpr | None = None


@dataclass(frozen=True, slots=True)
class Pollfd:
    fd: Expr
    events: Expr
    revents: Expr | None = None


@dataclass(frozen=True, slots=True)
class Epollev:
    events: Expr
    member: str  # fd, ptr, u32 or u64
    value: Expr


@dataclass(frozen=True, slots=True)
class Linger:
    onoff: int
    linger: int


@dataclass(frozen=True, slots=True)
class Cmsg:
    level: Expr
    type: Expr
    data: Expr


@dataclass(frozen=True, slots=True)
class ScmTimestamping:
    sec: int
    nsec: int


@dataclass(frozen=True, slots=True)
class SockExtendedErr:
    ee_errno: Expr
    ee_origin: Expr
    ee_type: Expr
    ee_code: Expr
    ee_info: Expr
    ee_data: Expr


@dataclass(frozen=True, slots=True)
class MplsEntry:
    label: int
    tc: int
    bottom: bool
    ttl: int


@dataclass(frozen=True, slots=True)
class MplsStack:
    entries: tuple[MplsEntry, ...]


@dataclass(frozen=True, slots=True)
class GreHeader:
    flags: int
    sum: int
    off: int
    key: int
    seq: int


Expr = (
    Int | Word | Str | EllipsisExpr | Binary | ListExpr | InAddr | In6Addr | Sockaddr | Iovec | Msghdr
    | Pollfd | Epollev | Linger | Cmsg | ScmTimestamping | SockExtendedErr | MplsStack | GreHeader
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class IpInfo:
    """``[ect0]``, ``(tos 0x10)``, ``[ttl 64]``, ``[ect1, flowlabel 0x12]``."""

    ecn: str | None = None  # noecn, ect0, ect1, ce, ect01
    tos: int | None = None
    flow_label: int | None = None
    ttl: int | None = None


@dataclass(frozen=True, slots=True)
class IpEncap:
    version: int
    src: str
    dst: str
    ip: IpInfo | None = None


@dataclass(frozen=True, slots=True)
class GreEncap:
    header: GreHeader | None = None


@dataclass(frozen=True, slots=True)
class MplsEncap:
    entries: tuple[MplsEntry, ...]


@dataclass(frozen=True, slots=True)
class TcpOption:
    """One option of ``<...>``: kind is nop, eol, mss, wscale, sackOK, sack, md5, TS, FO, FOEXP or
    an unknown keyword (kept with its raw ``args``)."""

    kind: str
    value: int | None = None  # mss, wscale
    blocks: tuple[tuple[int, int], ...] = ()  # sack
    val: int | None = None  # TS val
    ecr: int | None = None  # TS ecr
    cookie: str | None = None  # FO/FOEXP cookie, md5 digest (hex text)
    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FuzzParam:
    action: str  # mut, trun, ins
    header: str  # ip, tcp
    field: str  # a field name, "a-b" positions, or "offset len"


@dataclass(frozen=True, slots=True)
class TcpPacket:
    direction: str  # "<" inbound (injected), ">" outbound (expected)
    flags: str  # "S.", "P.", ".", "" for "-"
    start_seq: int
    end_seq: int
    payload_len: int
    ack: int | None = None
    win: int | None = None
    urg: int | None = None
    options: tuple[TcpOption, ...] | None = ()  # None: <...>, options not checked
    ip: IpInfo | None = None
    src_port: int | None = None
    dst_port: int | None = None
    encap: tuple[IpEncap | GreEncap | MplsEncap, ...] = ()
    fuzz: tuple[FuzzParam, ...] = ()
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class UdpPacket:
    direction: str
    payload_len: int
    ip: IpInfo | None = None
    src_port: int | None = None
    dst_port: int | None = None
    encap: tuple[IpEncap | GreEncap | MplsEncap, ...] = ()
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class IcmpEchoed:
    """The packet an ICMP error quotes: ``[S:E(L)]``, ``[udp (L)]`` or ``[raw (L)]``."""

    protocol: str  # tcp, udp, raw
    start_seq: int = 0
    end_seq: int = 0
    payload_len: int = 0


@dataclass(frozen=True, slots=True)
class IcmpPacket:
    direction: str
    icmp_type: str
    icmp_code: str | None = None
    mtu: int | None = None
    echo_id: int | None = None
    echoed: IcmpEchoed | None = None
    ip: IpInfo | None = None
    encap: tuple[IpEncap | GreEncap | MplsEncap, ...] = ()
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Syscall:
    name: str
    args: tuple[Expr, ...]
    result: Expr
    errno: str | None = None
    strerror: str | None = None
    note: str | None = None
    end_usecs: int | None = None  # "...T": blocking call expected to return T s after the start
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Command:
    command: str  # shell command between backquotes
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Code:
    code: str  # Python between %{ and }%, stripped
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class EventTime:
    """kind: absolute (N), relative (+N), any (*), absolute_range (N~M), relative_range (+N~+M)."""

    kind: str
    usecs: int = 0
    end_usecs: int | None = None


@dataclass(frozen=True, slots=True)
class Event:
    time: EventTime
    action: TcpPacket | UdpPacket | IcmpPacket | Syscall | Command | Code
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Option:
    name: str
    value: str | None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Script:
    path: str
    options: tuple[Option, ...]
    init_command: Command | None
    events: tuple[Event, ...]
    cleanup_command: Command | None


# The parser builds the nodes above, so it is imported after them.
from tuxnet.tools.packetdrill.lexer import PacketdrillSyntaxError, Token, tokenize  # noqa: E402
from tuxnet.tools.packetdrill.parser import parse_file, parse_script  # noqa: E402
