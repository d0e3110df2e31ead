"""IPv4 header and options (RFC 791, RFC 1812 section 5.2.4, RFC 2113 Router Alert).

Mirrors ``struct iphdr`` (include/uapi/linux/ip.h), the receive checks of ip_rcv_core()
(net/ipv4/ip_input.c), the option checks ip_options_compile() (net/ipv4/ip_options.c) applies
to a received packet, and ip_decrease_ttl()/ip_send_check() (include/net/ip.h).

Addresses are host-order ints.  ``frag_off`` is the raw 16-bit field (flags + offset in 8-byte
units); the properties ``df``, ``mf``, ``frag_offset`` (bytes) read and write its parts.
``options`` is the raw option bytes, kept verbatim; ``ihl`` is derived from them (``pack`` pads
them with EOL to a multiple of 4), so the two can never disagree.  :meth:`Ipv4Header.parse_options`
gives a decoded, validated view.

Errors carry the drop reason ip_rcv_core() would use: ``IP_INHDR`` (InHdrErrors) for a short
buffer, bad version, ihl < 5 or tot_len < ihl*4; ``IP_CSUM`` (InCsumErrors, also counted as
InHdrErrors by Linux) for a bad checksum; ``PKT_TOO_SMALL`` (InTruncatedPkts) when tot_len is
larger than the buffer.  Option errors carry ``IP_INHDR`` and the Parameter Problem pointer.
"""

from __future__ import annotations

import struct
from enum import IntEnum

from .base import Fields
from .checksum import csum_fold, csum_partial
from .errors import WireError

__all__ = [
    "IPOPT_TS_PRESPEC",
    "IPOPT_TS_TSANDADDR",
    "IPOPT_TS_TSONLY",
    "IP_CE",
    "IP_DF",
    "IP_MF",
    "IP_OFFSET",
    "MAX_IPOPTLEN",
    "IpOptType",
    "IpOption",
    "IpProto",
    "Ipv4Header",
    "ip_decrease_ttl",
    "ip_fast_csum",
    "ip_send_check",
    "pack_ip_options",
    "parse_ip_options",
]

IP_CE = 0x8000  # "congestion", the reserved bit
IP_DF = 0x4000
IP_MF = 0x2000
IP_OFFSET = 0x1FFF
MAX_IPOPTLEN = 40
IPOPT_TS_TSONLY = 0
IPOPT_TS_TSANDADDR = 1
IPOPT_TS_PRESPEC = 3


class IpProto(IntEnum):
    """``IPPROTO_*`` (include/uapi/linux/in.h)."""

    IP = 0
    ICMP = 1
    IGMP = 2
    IPIP = 4
    TCP = 6
    EGP = 8
    PUP = 12
    UDP = 17
    IDP = 22
    TP = 29
    DCCP = 33
    IPV6 = 41
    RSVP = 46
    GRE = 47
    ESP = 50
    AH = 51
    ICMPV6 = 58
    MTP = 92
    BEETPH = 94
    ENCAP = 98
    PIM = 103
    COMP = 108
    L2TP = 115
    SCTP = 132
    UDPLITE = 136
    MPLS = 137
    ETHERNET = 143
    RAW = 255


class IpOptType(IntEnum):
    """``IPOPT_*`` option types (include/uapi/linux/ip.h): copied flag, class and number in one byte."""

    END = 0  # IPOPT_EOL
    NOOP = 1  # IPOPT_NOP
    RR = 7
    TIMESTAMP = 68
    SEC = 130
    LSRR = 131
    CIPSO = 134
    SID = 136
    SSRR = 137
    RA = 148


_PROTO_GET = IpProto._value2member_map_.get
_OPT_GET = IpOptType._value2member_map_.get
_IPH = struct.Struct("!BBHHHBBHII")
_U32 = struct.Struct("!I")
_ROUTE_TYPES = (IpOptType.RR, IpOptType.LSRR, IpOptType.SSRR)


class IpOption(Fields):
    """One IP option: ``type`` and the ``data`` after the type and length bytes.

    END and NOOP are single bytes and have empty ``data``.  Every option, known or not, is
    kept losslessly, so ``pack_ip_options(parse_ip_options(b))`` gives ``b`` back up to the END.
    """

    __slots__ = ("data", "type")
    _FIELDS = ("type", "data")

    def __init__(self, type: int, data: bytes = b"") -> None:
        self.type = type
        self.data = data

    @classmethod
    def record_route(cls, slots: int = 9) -> IpOption:
        """An empty Record Route option with ``slots`` address slots (ping -R uses 9)."""
        return cls(IpOptType.RR, bytes([4]) + bytes(4 * slots))

    @classmethod
    def router_alert(cls, value: int = 0) -> IpOption:
        """Router Alert (RFC 2113); value 0 means "examine packet"."""
        return cls(IpOptType.RA, value.to_bytes(2, "big"))

    @property
    def length(self) -> int:
        """Bytes on the wire."""
        return 1 if self.type <= 1 else 2 + len(self.data)

    @property
    def pointer(self) -> int | None:
        """The 1-based pointer of RR, LSRR, SSRR and TIMESTAMP; None for other options."""
        if self.type in _ROUTE_TYPES or self.type == IpOptType.TIMESTAMP:
            return self.data[0] if self.data else None
        return None

    @property
    def addrs(self) -> list[int]:
        """The address slots of a route option (filled ones are those before ``pointer``)."""
        if self.type not in _ROUTE_TYPES:
            return []
        d = self.data
        return [_U32.unpack_from(d, i)[0] for i in range(1, len(d) - 3, 4)]

    @property
    def ts_overflow(self) -> int:
        """TIMESTAMP overflow counter (high nibble of the fourth byte)."""
        return self.data[1] >> 4 if self.type == IpOptType.TIMESTAMP and len(self.data) > 1 else 0

    @property
    def ts_flags(self) -> int:
        """TIMESTAMP flag: IPOPT_TS_TSONLY, IPOPT_TS_TSANDADDR or IPOPT_TS_PRESPEC."""
        return self.data[1] & 15 if self.type == IpOptType.TIMESTAMP and len(self.data) > 1 else 0

    @property
    def ts_entries(self) -> list[tuple[int | None, int]]:
        """TIMESTAMP slots as ``(addr or None, timestamp)``; filled ones are those before ``pointer``."""
        if self.type != IpOptType.TIMESTAMP or len(self.data) < 2:
            return []
        d = self.data
        if self.ts_flags == IPOPT_TS_TSONLY:
            return [(None, _U32.unpack_from(d, i)[0]) for i in range(2, len(d) - 3, 4)]
        return [(_U32.unpack_from(d, i)[0], _U32.unpack_from(d, i + 4)[0]) for i in range(2, len(d) - 7, 8)]

    @property
    def ra_value(self) -> int | None:
        """Router Alert value (0: examine packet), None for other options."""
        return int.from_bytes(self.data[:2], "big") if self.type == IpOptType.RA else None

    def pack(self) -> bytes:
        if self.type <= 1:
            return bytes((self.type,))
        if len(self.data) > MAX_IPOPTLEN - 2:
            raise WireError(
                f"ip option {self.type}: {len(self.data)} data bytes is too long", "NOT_SPECIFIED"
            )
        return bytes((self.type, len(self.data) + 2)) + bytes(self.data)


def _opt_error(what: str, pointer: int) -> WireError:
    return WireError(f"ipv4 options: {what} (pointer {pointer})", "IP_INHDR", pointer)


def parse_ip_options(opts: bytes | bytearray | memoryview, base: int = 20) -> list[IpOption]:
    """Decode and validate raw IP options the way ip_options_compile() does for a received packet.

    Parsing stops at END (the rest is padding).  Malformed options raise :class:`WireError`
    whose ``pointer`` is ``base`` + the offset Linux would report in ICMP Parameter Problem
    (``base`` is where the options start in the IP header).  Like Linux this also rejects a
    second RR, TIMESTAMP, source route or CIPSO option (RFC 1812 5.2.4.1) and a full TIMESTAMP
    whose overflow counter is already 15.  Unknown options, and SEC/SID/CIPSO contents, are
    accepted without inspection, as for received packets.
    """
    out: list[IpOption] = []
    n = len(opts)
    i = 0
    seen: set[int] = set()
    while i < n:
        t = opts[i]
        if t == 0:
            out.append(IpOption(IpOptType.END))
            break
        if t == 1:
            out.append(IpOption(IpOptType.NOOP))
            i += 1
            continue
        if n - i < 2:
            raise _opt_error(f"option {t} has no length byte", base + i)
        optlen = opts[i + 1]
        if optlen < 2 or optlen > n - i:
            raise _opt_error(f"option {t} has bad length {optlen}", base + i)
        if t == 131 or t == 137:  # LSRR, SSRR
            if optlen < 3:
                raise _opt_error("source route too short", base + i + 1)
            if opts[i + 2] < 4:
                raise _opt_error("source route pointer < 4", base + i + 2)
            if 131 in seen:
                raise _opt_error("second source route option", base + i)
            seen.add(131)
        elif t == 7:  # RR
            if 7 in seen:
                raise _opt_error("second record route option", base + i)
            seen.add(7)
            if optlen < 3:
                raise _opt_error("record route too short", base + i + 1)
            ptr = opts[i + 2]
            if ptr < 4:
                raise _opt_error("record route pointer < 4", base + i + 2)
            if ptr <= optlen and ptr + 3 > optlen:
                raise _opt_error("record route pointer past the last slot", base + i + 2)
        elif t == 68:  # TIMESTAMP
            if 68 in seen:
                raise _opt_error("second timestamp option", base + i)
            seen.add(68)
            if optlen < 4:
                raise _opt_error("timestamp too short", base + i + 1)
            ptr = opts[i + 2]
            if ptr < 5:
                raise _opt_error("timestamp pointer < 5", base + i + 2)
            if ptr <= optlen:
                flag = opts[i + 3] & 15
                if ptr + 3 > optlen or (flag in (IPOPT_TS_TSANDADDR, IPOPT_TS_PRESPEC) and ptr + 7 > optlen):
                    raise _opt_error("timestamp pointer past the last slot", base + i + 2)
            elif opts[i + 3] >> 4 == 15:
                raise _opt_error("timestamp overflow counter overflowed", base + i + 3)
        elif t == 148:  # RA
            if optlen < 4:
                raise _opt_error("router alert too short", base + i + 1)
        elif t == 134:  # CIPSO
            if 134 in seen:
                raise _opt_error("second CIPSO option", base + i)
            seen.add(134)
        out.append(IpOption(_OPT_GET(t, t), bytes(opts[i + 2 : i + optlen])))
        i += optlen
    return out


def pack_ip_options(options: list[IpOption]) -> bytes:
    """Encode options in order (not padded; :meth:`Ipv4Header.pack` pads to 4 bytes)."""
    raw = b"".join([o.pack() for o in options])
    if len(raw) > MAX_IPOPTLEN:
        raise WireError(f"ipv4 options: {len(raw)} bytes > {MAX_IPOPTLEN}", "NOT_SPECIFIED")
    return raw


class Ipv4Header(Fields):
    """An IPv4 header.  Build with keywords: ``Ipv4Header(saddr=a, daddr=b, protocol=IpProto.UDP, ...)``."""

    __slots__ = (
        "check",
        "daddr",
        "frag_off",
        "id",
        "options",
        "protocol",
        "saddr",
        "tos",
        "tot_len",
        "ttl",
        "version",
    )
    _FIELDS = (
        "version",
        "ihl",
        "tos",
        "tot_len",
        "id",
        "frag_off",
        "ttl",
        "protocol",
        "check",
        "saddr",
        "daddr",
        "options",
    )
    LEN = 20

    def __init__(
        self,
        version: int = 4,
        tos: int = 0,
        tot_len: int = 20,
        id: int = 0,
        frag_off: int = 0,
        ttl: int = 64,
        protocol: int = 0,
        check: int = 0,
        saddr: int = 0,
        daddr: int = 0,
        options: bytes = b"",
    ) -> None:
        self.version = version
        self.tos = tos
        self.tot_len = tot_len
        self.id = id
        self.frag_off = frag_off
        self.ttl = ttl
        self.protocol = protocol
        self.check = check
        self.saddr = saddr
        self.daddr = daddr
        self.options = options

    # -- derived fields -------------------------------------------------------------------------
    @property
    def ihl(self) -> int:
        """Header length in 32-bit words (5 + padded options)."""
        return 5 + ((len(self.options) + 3) >> 2)

    @property
    def hlen(self) -> int:
        """Header length in bytes."""
        return 20 + ((len(self.options) + 3) & ~3)

    @property
    def payload_len(self) -> int:
        """``tot_len - hlen``."""
        return self.tot_len - self.hlen

    @property
    def df(self) -> bool:
        return bool(self.frag_off & IP_DF)

    @df.setter
    def df(self, value: bool) -> None:
        self.frag_off = (self.frag_off | IP_DF) if value else (self.frag_off & ~IP_DF)

    @property
    def mf(self) -> bool:
        return bool(self.frag_off & IP_MF)

    @mf.setter
    def mf(self, value: bool) -> None:
        self.frag_off = (self.frag_off | IP_MF) if value else (self.frag_off & ~IP_MF)

    @property
    def frag_offset(self) -> int:
        """Fragment offset in bytes (the field counts 8-byte units)."""
        return (self.frag_off & IP_OFFSET) << 3

    @frag_offset.setter
    def frag_offset(self, nbytes: int) -> None:
        if nbytes & 7 or not 0 <= nbytes <= IP_OFFSET << 3:
            raise ValueError(f"fragment offset {nbytes} is not a multiple of 8 in 0..65528")
        self.frag_off = (self.frag_off & ~IP_OFFSET) | (nbytes >> 3)

    @property
    def is_fragment(self) -> bool:
        """MF set or a non-zero offset (ip_is_fragment())."""
        return bool(self.frag_off & (IP_MF | IP_OFFSET))

    def parse_options(self) -> list[IpOption]:
        """Decoded, validated options (see :func:`parse_ip_options`)."""
        return parse_ip_options(self.options) if self.options else []

    # -- codec ----------------------------------------------------------------------------------
    @classmethod
    def parse(
        cls,
        buf: bytes | bytearray | memoryview,
        off: int = 0,
        verify_checksum: bool = False,
        check_len: bool = True,
    ) -> Ipv4Header:
        """Parse the header at ``buf[off:]`` with ip_rcv_core()'s checks.

        ``check_len=False`` skips the tot_len checks, for headers quoted in ICMP errors whose
        payload was cut.  Trailing bytes beyond tot_len (Ethernet padding) are allowed; the caller
        trims to ``tot_len`` as pskb_trim_rcsum() does.
        """
        try:
            vihl, tos, tot_len, id_, frag_off, ttl, proto, check, saddr, daddr = _IPH.unpack_from(buf, off)
        except struct.error:
            raise WireError(f"ipv4: truncated header ({max(len(buf) - off, 0)} bytes)", "IP_INHDR") from None
        ihl = vihl & 15
        if vihl >> 4 != 4:
            raise WireError(f"ipv4: bad version {vihl >> 4}", "IP_INHDR")
        if ihl < 5:
            raise WireError(f"ipv4: bad header length ihl={ihl}", "IP_INHDR")
        hlen = ihl << 2
        avail = len(buf) - off
        if hlen > avail:
            raise WireError(f"ipv4: truncated options (ihl={ihl}, {avail} bytes)", "IP_INHDR")
        if verify_checksum and csum_fold(csum_partial(buf[off : off + hlen])):
            raise WireError(f"ipv4: bad header checksum 0x{check:04x}", "IP_CSUM")
        if check_len:
            if tot_len > avail:
                raise WireError(f"ipv4: tot_len {tot_len} > {avail} bytes received", "PKT_TOO_SMALL")
            if tot_len < hlen:
                raise WireError(f"ipv4: tot_len {tot_len} < header length {hlen}", "IP_INHDR")
        options = bytes(buf[off + 20 : off + hlen]) if hlen > 20 else b""
        return cls(
            4, tos, tot_len, id_, frag_off, ttl, _PROTO_GET(proto, proto), check, saddr, daddr, options
        )

    def _words(self) -> tuple[int, bytes]:
        opts = self.options
        pad = -len(opts) & 3
        if pad:
            opts = bytes(opts) + bytes(pad)
        if len(opts) > MAX_IPOPTLEN:
            raise WireError(f"ipv4: {len(opts)} option bytes > {MAX_IPOPTLEN}", "NOT_SPECIFIED")
        return (self.version << 4) | (5 + (len(opts) >> 2)), opts

    def _csum(self, vihl: int, opts: bytes) -> int:
        s = self.saddr
        d = self.daddr
        total = (
            ((vihl << 8) | self.tos)
            + self.tot_len
            + self.id
            + self.frag_off
            + ((self.ttl << 8) | self.protocol)
            + (s >> 16)
            + (s & 0xFFFF)
            + (d >> 16)
            + (d & 0xFFFF)
        )
        return csum_fold(csum_partial(opts, total) if opts else total)

    def _fixed(self, compute_checksum: bool) -> tuple[tuple[int, ...], bytes]:
        """The ten fields of the fixed header, in _IPH's order, and the padded options."""
        vihl, opts = self._words()
        check = self._csum(vihl, opts) if compute_checksum else self.check
        return (vihl, self.tos, self.tot_len, self.id, self.frag_off, self.ttl, self.protocol, check,
                self.saddr, self.daddr), opts

    def pack(self, compute_checksum: bool = True) -> bytes:
        """Header bytes; with ``compute_checksum`` the check field is computed (``self.check`` is not
        changed), otherwise ``self.check`` is written as is."""
        try:
            fields, opts = self._fixed(compute_checksum)
            hdr = _IPH.pack(*fields)
        except (struct.error, TypeError) as exc:
            raise WireError(f"ipv4: cannot encode {self!r}: {exc}", "NOT_SPECIFIED") from None
        return hdr + opts if opts else hdr

    def pack_into(self, buf: bytearray | memoryview, off: int = 0, compute_checksum: bool = True) -> int:
        """Write the header into ``buf`` at ``off``; returns the header length."""
        try:
            fields, opts = self._fixed(compute_checksum)
            _IPH.pack_into(buf, off, *fields)
        except (struct.error, TypeError) as exc:
            raise WireError(f"ipv4: cannot encode {self!r}: {exc}", "NOT_SPECIFIED") from None
        if opts:
            buf[off + 20 : off + 20 + len(opts)] = opts
        return 20 + len(opts)


def ip_fast_csum(buf: bytes | bytearray | memoryview, off: int = 0) -> int:
    """Checksum over the header at ``off`` (ihl read from the buffer): 0 when the header is intact."""
    hlen = (buf[off] & 15) << 2
    return csum_fold(csum_partial(buf[off : off + hlen]))


def ip_send_check(buf: bytearray | memoryview, off: int = 0) -> None:
    """Recompute the header checksum in place (ip_send_check())."""
    buf[off + 10] = 0
    buf[off + 11] = 0
    check = ip_fast_csum(buf, off)
    buf[off + 10] = check >> 8
    buf[off + 11] = check & 0xFF


def ip_decrease_ttl(buf: bytearray | memoryview, off: int = 0) -> int:
    """Decrement the TTL of the header at ``off`` in place, patching the checksum; returns the new TTL.

    As Linux's ip_decrease_ttl(): TTL is the high byte of its 16-bit word, so the word drops by
    0x0100 and the checksum rises by 0x0100 with end-around carry (RFC 1624), and a result of
    0xFFFF is written as 0.  The caller checks ``ttl > 1`` first, as ip_forward() does.
    """
    check = ((buf[off + 10] << 8) | buf[off + 11]) + 0x0100
    check = (check + (check >= 0xFFFF)) & 0xFFFF
    buf[off + 10] = check >> 8
    buf[off + 11] = check & 0xFF
    ttl = (buf[off + 8] - 1) & 0xFF
    buf[off + 8] = ttl
    return ttl
