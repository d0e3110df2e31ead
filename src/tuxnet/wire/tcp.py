"""TCP header and options (RFC 9293, RFC 7323 window scale and timestamps, RFC 2018 SACK).

Mirrors ``struct tcphdr`` (include/uapi/linux/tcp.h), the header checks of tcp_v4_rcv()
(net/ipv4/tcp_ipv4.c: at least 20 bytes, ``doff >= 5``, ``doff * 4`` bytes present), the option
walk of tcp_parse_options() (net/ipv4/tcp_input.c) and the option layout of tcp_options_write()
(net/ipv4/tcp_output.c).

Options are kept two ways.  ``options_bytes`` is the raw option area as received (or as encoded
when options were assigned), so a parsed header packs back byte for byte, even when its options
are malformed.  ``options`` is a tuple of immutable option objects decoded lazily on first use
(parsing a header costs one struct unpack); assign a new sequence to change them.  ``doff`` is
derived from the option bytes and can never disagree with them.  Options are emitted in the
order given and the area is padded to a multiple of 4 with zero (EOL) bytes (RFC 9293 3.1);
:func:`linux_syn_options` and :func:`linux_data_options` give the exact NOP-aligned layouts
Linux sends.

Parsing options follows tcp_parse_options(): EOL ends the walk; a NOP is one byte; a length
below 2 ("silly option") or running past the option area ("partial option") ends the walk
without error, keeping what was decoded so far; a known kind with the wrong length (MSS not 4,
SACK not 2 + 8n ...) is not an error either: Linux skips it, and here it is kept as
:class:`TcpOptUnknown` so it re-encodes unchanged.  Values are not judged (a window scale above
14 is kept; tcp_input clamps it, as Linux does with a warning).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from enum import IntFlag
from operator import itemgetter
from typing import ClassVar, Self

from .base import Fields
from .checksum import csum_fold, csum_partial, pseudo_header_sum
from .errors import WireError

__all__ = [
    "MAX_TCP_OPTION_SPACE",
    "TCPOPT_EOL",
    "TCPOPT_EXP",
    "TCPOPT_FASTOPEN",
    "TCPOPT_FASTOPEN_MAGIC",
    "TCPOPT_MSS",
    "TCPOPT_NOP",
    "TCPOPT_SACK",
    "TCPOPT_SACK_PERM",
    "TCPOPT_TIMESTAMP",
    "TCPOPT_WINDOW",
    "TcpFlags",
    "TcpHeader",
    "TcpOptEol",
    "TcpOptFastopen",
    "TcpOptMss",
    "TcpOptNop",
    "TcpOptSack",
    "TcpOptSackPerm",
    "TcpOptTimestamp",
    "TcpOptUnknown",
    "TcpOptWscale",
    "TcpOption",
    "encode_tcp_options",
    "linux_data_options",
    "linux_syn_options",
    "parse_tcp_options",
    "tcp_checksum_ok",
]

TCPOPT_EOL = 0
TCPOPT_NOP = 1
TCPOPT_MSS = 2
TCPOPT_WINDOW = 3
TCPOPT_SACK_PERM = 4
TCPOPT_SACK = 5
TCPOPT_TIMESTAMP = 8
TCPOPT_FASTOPEN = 34  # RFC 7413
TCPOPT_EXP = 254  # RFC 6994 experimental option; Fast Open's pre-RFC form with magic 0xF989
TCPOPT_FASTOPEN_MAGIC = 0xF989
MAX_TCP_OPTION_SPACE = 40
_IPPROTO_TCP = 6


class TcpFlags(IntFlag):
    """The flag byte of the TCP header (``TCPHDR_*`` in include/net/tcp.h)."""

    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10
    URG = 0x20
    ECE = 0x40
    CWR = 0x80


# Every byte value is a combination of the 8 flags: decode by indexing, no Enum call per packet.
_FLAGS: tuple[TcpFlags, ...] = tuple(TcpFlags(i) for i in range(256))


# -- options ------------------------------------------------------------------------------------
class TcpOption(tuple):
    """Base of the immutable option values.  Equality includes the class, unlike plain tuples."""

    __slots__ = ()
    kind: ClassVar[int] = -1
    _fields: ClassVar[tuple[str, ...]] = ()

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(self)))

    def __repr__(self) -> str:
        args = ", ".join(f"{f}={v!r}" for f, v in zip(self._fields, self, strict=True))
        return f"{type(self).__name__}({args})"

    def pack(self) -> bytes:
        raise NotImplementedError


class TcpOptEol(TcpOption):
    """End of option list (kind 0)."""

    __slots__ = ()
    kind = TCPOPT_EOL

    def __new__(cls) -> Self:
        return tuple.__new__(cls, ())

    def pack(self) -> bytes:
        return b"\x00"


class TcpOptNop(TcpOption):
    """No-operation, used for alignment (kind 1)."""

    __slots__ = ()
    kind = TCPOPT_NOP

    def __new__(cls) -> Self:
        return tuple.__new__(cls, ())

    def pack(self) -> bytes:
        return b"\x01"


class TcpOptMss(TcpOption):
    """Maximum segment size (kind 2, length 4)."""

    __slots__ = ()
    kind = TCPOPT_MSS
    _fields = ("mss",)
    mss = property(itemgetter(0))

    def __new__(cls, mss: int) -> Self:
        return tuple.__new__(cls, (mss,))

    def pack(self) -> bytes:
        return _OPT_MSS.pack(TCPOPT_MSS, 4, self[0])


class TcpOptWscale(TcpOption):
    """Window scale shift count (kind 3, length 3; RFC 7323)."""

    __slots__ = ()
    kind = TCPOPT_WINDOW
    _fields = ("shift",)
    shift = property(itemgetter(0))

    def __new__(cls, shift: int) -> Self:
        return tuple.__new__(cls, (shift,))

    def pack(self) -> bytes:
        return bytes((TCPOPT_WINDOW, 3, self[0]))


class TcpOptSackPerm(TcpOption):
    """SACK permitted (kind 4, length 2; RFC 2018)."""

    __slots__ = ()
    kind = TCPOPT_SACK_PERM

    def __new__(cls) -> Self:
        return tuple.__new__(cls, ())

    def pack(self) -> bytes:
        return b"\x04\x02"


class TcpOptSack(TcpOption):
    """SACK blocks as ``(left, right)`` sequence-number pairs (kind 5, length 2 + 8n; RFC 2018)."""

    __slots__ = ()
    kind = TCPOPT_SACK
    _fields = ("blocks",)
    blocks = property(itemgetter(0))

    def __new__(cls, blocks: Iterable[tuple[int, int]]) -> Self:
        return tuple.__new__(cls, (tuple((left, right) for left, right in blocks),))

    def pack(self) -> bytes:
        blocks = self[0]
        out = bytearray((TCPOPT_SACK, 2 + 8 * len(blocks)))
        for left, right in blocks:
            out += _SACK_BLOCK.pack(left, right)
        return bytes(out)


class TcpOptTimestamp(TcpOption):
    """Timestamps TSval/TSecr (kind 8, length 10; RFC 7323)."""

    __slots__ = ()
    kind = TCPOPT_TIMESTAMP
    _fields = ("tsval", "tsecr")
    tsval = property(itemgetter(0))
    tsecr = property(itemgetter(1))

    def __new__(cls, tsval: int, tsecr: int) -> Self:
        return tuple.__new__(cls, (tsval, tsecr))

    def pack(self) -> bytes:
        return _OPT_TS.pack(TCPOPT_TIMESTAMP, 10, self[0], self[1])


class TcpOptFastopen(TcpOption):
    """TCP Fast Open cookie (RFC 7413: kind 34, length 2 + cookie), or its experimental form (kind 254,
    magic 0xF989, length 4 + cookie) when ``exp``.  An empty cookie is a cookie request.  The cookie's
    length is not judged here (tcp_parse_fastopen_option does: 4..16 bytes, even)."""

    __slots__ = ()
    _fields = ("cookie", "exp")
    cookie = property(itemgetter(0))
    exp = property(itemgetter(1))

    def __new__(cls, cookie: bytes = b"", exp: bool = False) -> Self:
        return tuple.__new__(cls, (bytes(cookie), bool(exp)))

    @property
    def kind(self) -> int:  # type: ignore[override]
        return TCPOPT_EXP if self[1] else TCPOPT_FASTOPEN

    def pack(self) -> bytes:
        if self[1]:
            return bytes((TCPOPT_EXP, 4 + len(self[0]), 0xF9, 0x89)) + self[0]
        return bytes((TCPOPT_FASTOPEN, 2 + len(self[0]))) + self[0]


class TcpOptUnknown(TcpOption):
    """Any other option, or a known kind with a length Linux ignores; re-emitted as is."""

    __slots__ = ()
    _fields = ("kind", "data")
    kind = property(itemgetter(0))  # type: ignore[assignment]
    data = property(itemgetter(1))

    def __new__(cls, kind: int, data: bytes = b"") -> Self:
        return tuple.__new__(cls, (kind, bytes(data)))

    def pack(self) -> bytes:
        return bytes((self[0], len(self[1]) + 2)) + self[1]


_OPT_MSS = struct.Struct("!BBH")
_OPT_TS = struct.Struct("!BBII")
_SACK_BLOCK = struct.Struct("!II")
_TS_BODY = struct.Struct("!II")
_NOP = TcpOptNop()
_EOL = TcpOptEol()
_SACK_PERM = TcpOptSackPerm()
_ALIGNED_TS = b"\x01\x01\x08\x0a"  # NOP, NOP, TIMESTAMP, 10: tcp_parse_aligned_timestamp()


def parse_tcp_options(raw: bytes | bytearray | memoryview) -> tuple[TcpOption, ...]:
    """Decode an option area as tcp_parse_options() walks it (see the module docstring)."""
    out: list[TcpOption] = []
    n = len(raw)
    i = 0
    while i < n:
        kind = raw[i]
        if kind == TCPOPT_EOL:
            out.append(_EOL)
            break
        if kind == TCPOPT_NOP:
            out.append(_NOP)
            i += 1
            continue
        if n - i < 2:
            break  # no room for a length byte: Linux stops ("length < 2")
        size = raw[i + 1]
        if size < 2 or size > n - i:
            break  # "silly option" or "don't parse partial options": Linux stops, no error
        if kind == TCPOPT_TIMESTAMP and size == 10:
            out.append(TcpOptTimestamp(*_TS_BODY.unpack_from(raw, i + 2)))
        elif kind == TCPOPT_MSS and size == 4:
            out.append(TcpOptMss((raw[i + 2] << 8) | raw[i + 3]))
        elif kind == TCPOPT_WINDOW and size == 3:
            out.append(TcpOptWscale(raw[i + 2]))
        elif kind == TCPOPT_SACK_PERM and size == 2:
            out.append(_SACK_PERM)
        elif kind == TCPOPT_SACK and size >= 10 and not (size - 2) & 7:
            out.append(TcpOptSack([_SACK_BLOCK.unpack_from(raw, j) for j in range(i + 2, i + size, 8)]))
        elif kind == TCPOPT_FASTOPEN:
            out.append(TcpOptFastopen(bytes(raw[i + 2 : i + size])))
        elif kind == TCPOPT_EXP and size >= 4 and raw[i + 2] == 0xF9 and raw[i + 3] == 0x89:
            out.append(TcpOptFastopen(bytes(raw[i + 4 : i + size]), True))
        else:
            out.append(TcpOptUnknown(kind, bytes(raw[i + 2 : i + size])))
        i += size
    return tuple(out)


def encode_tcp_options(options: Iterable[TcpOption]) -> bytes:
    """Encode options in order and pad with zero (EOL) bytes to a multiple of 4."""
    raw = b"".join([o.pack() for o in options])
    pad = -len(raw) & 3
    if pad:
        raw += bytes(pad)
    if len(raw) > MAX_TCP_OPTION_SPACE:
        raise WireError(f"tcp: {len(raw)} option bytes > {MAX_TCP_OPTION_SPACE}", "NOT_SPECIFIED")
    return raw


def linux_syn_options(
    mss: int, sack: bool = True, ts: tuple[int, int] | None = None, wscale: int | None = None,
    fastopen: TcpOptFastopen | None = None,
) -> tuple[TcpOption, ...]:
    """The options of a Linux SYN or SYN-ACK, in tcp_options_write()'s order and alignment.

    MSS; then with timestamps either SACK_PERM + TIMESTAMP (12 bytes) or NOP, NOP, TIMESTAMP;
    then, without timestamps, NOP, NOP, SACK_PERM; then NOP, WSCALE; then the Fast Open cookie,
    followed by NOP, NOP when its length is 2 modulo 4.  Verified against SYNs captured from
    Linux 6.18 on a veth pair (tests/wire/golden/veth_basic.pcap).
    """
    opts: list[TcpOption] = [TcpOptMss(mss)]
    if ts is not None:
        opts += (_SACK_PERM,) if sack else (_NOP, _NOP)
        opts.append(TcpOptTimestamp(ts[0], ts[1]))
    elif sack:
        opts += (_NOP, _NOP, _SACK_PERM)
    if wscale is not None:
        opts += (_NOP, TcpOptWscale(wscale))
    if fastopen is not None:
        opts.append(fastopen)
        if len(fastopen.pack()) & 3 == 2:
            opts += (_NOP, _NOP)
    return tuple(opts)


def linux_data_options(
    ts: tuple[int, int] | None = None, sack_blocks: Sequence[tuple[int, int]] = ()
) -> tuple[TcpOption, ...]:
    """The options of an established-state Linux segment: NOP, NOP, TIMESTAMP; NOP, NOP, SACK.

    As tcp_options_write() lays them out (and tcp_established_options() limits the SACK blocks
    to what fits: 4 without timestamps, 3 with).
    """
    opts: list[TcpOption] = []
    if ts is not None:
        opts += (_NOP, _NOP, TcpOptTimestamp(ts[0], ts[1]))
    if sack_blocks:
        opts += (_NOP, _NOP, TcpOptSack(sack_blocks))
    return tuple(opts)


# -- header -------------------------------------------------------------------------------------
_TCP = struct.Struct("!HHIIBBHHH")


class TcpHeader(Fields):
    """A TCP header: ``TcpHeader(sport, dport, seq, ack, flags, window, check, urg_ptr, options)``.

    ``res1`` is the 4 reserved bits next to ``doff``, kept so odd packets re-encode unchanged.
    """

    __slots__ = (
        "_opts",
        "_raw",
        "ack",
        "check",
        "dport",
        "flags",
        "res1",
        "seq",
        "sport",
        "urg_ptr",
        "window",
    )
    _FIELDS = (
        "sport",
        "dport",
        "seq",
        "ack",
        "doff",
        "res1",
        "flags",
        "window",
        "check",
        "urg_ptr",
        "options_bytes",
    )
    LEN = 20

    def __init__(
        self,
        sport: int,
        dport: int,
        seq: int = 0,
        ack: int = 0,
        flags: int = 0,
        window: int = 0,
        check: int = 0,
        urg_ptr: int = 0,
        options: Iterable[TcpOption] = (),
        res1: int = 0,
    ) -> None:
        self.sport = sport
        self.dport = dport
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.check = check
        self.urg_ptr = urg_ptr
        self.res1 = res1
        if options:
            opts = tuple(options)
            self._raw = encode_tcp_options(opts)
            self._opts: tuple[TcpOption, ...] | None = opts
        else:
            self._raw = b""
            self._opts = ()

    # -- derived fields and options -------------------------------------------------------------
    @property
    def doff(self) -> int:
        """Data offset in 32-bit words."""
        return 5 + (len(self._raw) >> 2)

    @property
    def hlen(self) -> int:
        """Header length in bytes (``doff * 4``)."""
        return 20 + len(self._raw)

    @property
    def options(self) -> tuple[TcpOption, ...]:
        """The decoded options (decoded on first access and cached)."""
        opts = self._opts
        if opts is None:
            opts = self._opts = parse_tcp_options(self._raw)
        return opts

    @options.setter
    def options(self, options: Iterable[TcpOption]) -> None:
        opts = tuple(options)
        self._raw = encode_tcp_options(opts)
        self._opts = opts

    @property
    def options_bytes(self) -> bytes:
        """The raw option area (a multiple of 4 bytes)."""
        return self._raw

    @options_bytes.setter
    def options_bytes(self, raw: bytes) -> None:
        if len(raw) & 3 or len(raw) > MAX_TCP_OPTION_SPACE:
            raise WireError(
                f"tcp: option area of {len(raw)} bytes is not a multiple of 4 up to 40", "NOT_SPECIFIED"
            )
        self._raw = bytes(raw)
        self._opts = None

    def timestamp(self) -> tuple[int, int] | None:
        """``(tsval, tsecr)`` if a timestamp option is present, else None.

        Fast path for Linux's aligned NOP, NOP, TIMESTAMP layout (tcp_parse_aligned_timestamp()),
        falling back to the full option walk.
        """
        raw = self._raw
        if len(raw) >= 12 and raw[:4] == _ALIGNED_TS:
            return _TS_BODY.unpack_from(raw, 4)
        for opt in self.options:
            if type(opt) is TcpOptTimestamp:
                return opt[0], opt[1]
        return None

    # -- codec ----------------------------------------------------------------------------------
    @classmethod
    def parse(cls, buf: bytes | bytearray | memoryview, off: int = 0, end: int | None = None) -> TcpHeader:
        """Parse the header at ``buf[off:]`` (``end``: where the IP payload ends, default end of buf).

        Raises :class:`WireError` (reason ``PKT_TOO_SMALL``, as tcp_v4_rcv()) when fewer than 20
        bytes are present, ``doff < 5`` (the case Linux also counts in InErrs) or ``doff * 4``
        runs past ``end``.
        """
        if end is None or end > len(buf):
            end = len(buf)
        avail = end - off
        if avail < 20:
            raise WireError(f"tcp: truncated header ({max(avail, 0)} bytes)")
        sport, dport, seq, ack, offres, flags, window, check, urg = _TCP.unpack_from(buf, off)
        hlen = (offres >> 4) << 2
        if hlen < 20:
            raise WireError(f"tcp: bad data offset {offres >> 4}")
        if hlen > avail:
            raise WireError(f"tcp: data offset {offres >> 4} runs past the {avail} bytes of the segment")
        hdr = cls(sport, dport, seq, ack, _FLAGS[flags], window, check, urg, (), offres & 15)
        if hlen > 20:
            hdr._raw = bytes(buf[off + 20 : off + hlen])
            hdr._opts = None
        return hdr

    def compute_checksum(self, saddr: int, daddr: int, payload: bytes | bytearray | memoryview = b"") -> int:
        """Checksum of pseudo header, this header (its own ``check`` ignored) and ``payload``."""
        raw = self._raw
        seq = self.seq
        ack = self.ack
        total = (
            pseudo_header_sum(saddr, daddr, _IPPROTO_TCP, 20 + len(raw) + len(payload))
            + self.sport
            + self.dport
            + (seq >> 16)
            + (seq & 0xFFFF)
            + (ack >> 16)
            + (ack & 0xFFFF)
            + ((5 + (len(raw) >> 2)) << 12 | self.res1 << 8 | self.flags)
            + self.window
            + self.urg_ptr
        )
        if raw:
            total = csum_partial(raw, total)
        return csum_fold(csum_partial(payload, total) if payload else total)

    def pack(
        self,
        saddr: int | None = None,
        daddr: int | None = None,
        payload: bytes | bytearray | memoryview = b"",
    ) -> bytes:
        """Header and option bytes.  With ``saddr``/``daddr`` the checksum is computed over pseudo
        header, header and ``payload``; without them ``self.check`` is written."""
        raw = self._raw
        try:
            check = (
                self.check if saddr is None or daddr is None else self.compute_checksum(saddr, daddr, payload)
            )
            hdr = _TCP.pack(
                self.sport,
                self.dport,
                self.seq,
                self.ack,
                (5 + (len(raw) >> 2)) << 4 | self.res1,
                self.flags,
                self.window,
                check,
                self.urg_ptr,
            )
        except (struct.error, TypeError) as exc:
            raise WireError(f"tcp: cannot encode {self!r}: {exc}", "NOT_SPECIFIED") from None
        return hdr + raw if raw else hdr

    def pack_into(
        self,
        buf: bytearray | memoryview,
        off: int = 0,
        saddr: int | None = None,
        daddr: int | None = None,
        payload: bytes | bytearray | memoryview = b"",
    ) -> int:
        """Write header and options into ``buf`` at ``off``; returns the header length."""
        raw = self._raw
        try:
            check = (
                self.check if saddr is None or daddr is None else self.compute_checksum(saddr, daddr, payload)
            )
            _TCP.pack_into(
                buf,
                off,
                self.sport,
                self.dport,
                self.seq,
                self.ack,
                (5 + (len(raw) >> 2)) << 4 | self.res1,
                self.flags,
                self.window,
                check,
                self.urg_ptr,
            )
        except (struct.error, TypeError) as exc:
            raise WireError(f"tcp: cannot encode {self!r}: {exc}", "NOT_SPECIFIED") from None
        if raw:
            buf[off + 20 : off + 20 + len(raw)] = raw
        return 20 + len(raw)


def tcp_checksum_ok(saddr: int, daddr: int, segment: bytes | bytearray | memoryview) -> bool:
    """Verify a received segment (header + payload) against the IPv4 pseudo header."""
    return csum_fold(csum_partial(segment, pseudo_header_sum(saddr, daddr, _IPPROTO_TCP, len(segment)))) == 0
