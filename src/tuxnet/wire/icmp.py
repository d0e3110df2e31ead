"""ICMP messages (RFC 792, RFC 1191 path MTU, RFC 1812 section 4.3).

Mirrors ``struct icmphdr`` and the ``ICMP_*`` numbers of include/uapi/linux/icmp.h, and the
receive checks of icmp_rcv() (net/ipv4/icmp.c): at least the 8-byte header, and the checksum
over the whole message when asked.

The 4 "rest of header" bytes (Linux's ``union un``) are kept as one 32-bit int ``rest``; the
accessors read and write its views: ``echo_id``/``echo_seq`` (echo, timestamp), ``mtu``
(fragmentation needed, RFC 1191: low 16 bits), ``gateway`` (redirect), ``pointer`` (parameter
problem: high byte).  ``payload`` is everything after the header: the echo data, or for errors
the quoted original IP header and at least 8 bytes of its payload, which :meth:`parse_quoted`
decodes.  Codes are enum members for DEST_UNREACH, REDIRECT and TIME_EXCEEDED, ints otherwise.
"""

from __future__ import annotations

import struct
from enum import IntEnum

from .base import Fields
from .checksum import csum_fold, csum_partial
from .errors import WireError
from .ipv4 import Ipv4Header

__all__ = [
    "NR_ICMP_TYPES",
    "NR_ICMP_UNREACH",
    "IcmpHeader",
    "IcmpRedirectCode",
    "IcmpTimeExceededCode",
    "IcmpType",
    "IcmpUnreachCode",
    "icmp_is_err",
]

NR_ICMP_TYPES = 18
NR_ICMP_UNREACH = 15


class IcmpType(IntEnum):
    """ICMP message types (include/uapi/linux/icmp.h; 9/10 from RFC 1256)."""

    ECHOREPLY = 0
    DEST_UNREACH = 3
    SOURCE_QUENCH = 4
    REDIRECT = 5
    ECHO = 8
    ROUTERADVERT = 9
    ROUTERSOLICIT = 10
    TIME_EXCEEDED = 11
    PARAMETERPROB = 12
    TIMESTAMP = 13
    TIMESTAMPREPLY = 14
    INFO_REQUEST = 15
    INFO_REPLY = 16
    ADDRESS = 17
    ADDRESSREPLY = 18
    EXT_ECHO = 42  # RFC 8335
    EXT_ECHOREPLY = 43


class IcmpUnreachCode(IntEnum):
    """Codes for DEST_UNREACH (RFC 792, RFC 1122, RFC 1812)."""

    NET_UNREACH = 0
    HOST_UNREACH = 1
    PROT_UNREACH = 2
    PORT_UNREACH = 3
    FRAG_NEEDED = 4  # next-hop MTU in the low 16 bits of ``rest`` (RFC 1191)
    SR_FAILED = 5
    NET_UNKNOWN = 6
    HOST_UNKNOWN = 7
    HOST_ISOLATED = 8
    NET_ANO = 9
    HOST_ANO = 10
    NET_UNR_TOS = 11
    HOST_UNR_TOS = 12
    PKT_FILTERED = 13
    PREC_VIOLATION = 14
    PREC_CUTOFF = 15


class IcmpRedirectCode(IntEnum):
    """Codes for REDIRECT."""

    REDIR_NET = 0
    REDIR_HOST = 1
    REDIR_NETTOS = 2
    REDIR_HOSTTOS = 3


class IcmpTimeExceededCode(IntEnum):
    """Codes for TIME_EXCEEDED."""

    EXC_TTL = 0
    EXC_FRAGTIME = 1


def icmp_is_err(icmp_type: int) -> bool:
    """True for the types Linux reports to sockets as errors (icmp_is_err()); REDIRECT is not one."""
    return icmp_type == 3 or icmp_type == 4 or icmp_type == 11 or icmp_type == 12


_TYPE_GET = IcmpType._value2member_map_.get
_CODE_MAPS = {
    3: IcmpUnreachCode._value2member_map_.get,
    5: IcmpRedirectCode._value2member_map_.get,
    11: IcmpTimeExceededCode._value2member_map_.get,
}
_ICMP = struct.Struct("!BBHI")


class IcmpHeader(Fields):
    """An ICMP message: ``IcmpHeader(type, code, check, rest, payload)``."""

    __slots__ = ("check", "code", "payload", "rest", "type")
    _FIELDS = ("type", "code", "check", "rest", "payload")
    LEN = 8

    def __init__(self, type: int, code: int = 0, check: int = 0, rest: int = 0, payload: bytes = b"") -> None:
        self.type = type
        self.code = code
        self.check = check
        self.rest = rest
        self.payload = payload

    # -- builders -------------------------------------------------------------------------------
    @classmethod
    def echo(cls, ident: int, seq: int, data: bytes = b"", reply: bool = False) -> IcmpHeader:
        """An echo request (or reply) with identifier ``ident`` and sequence ``seq``."""
        return cls(IcmpType.ECHOREPLY if reply else IcmpType.ECHO, 0, 0, (ident << 16) | seq, data)

    @classmethod
    def error(cls, icmp_type: int, code: int, quoted: bytes, rest: int = 0) -> IcmpHeader:
        """An error message quoting ``quoted`` (the offending IP header and the start of its payload)."""
        return cls(icmp_type, code, 0, rest, quoted)

    # -- views of ``rest`` ----------------------------------------------------------------------
    @property
    def rest_bytes(self) -> bytes:
        """The 4 rest-of-header bytes as on the wire."""
        return self.rest.to_bytes(4, "big")

    @property
    def echo_id(self) -> int:
        return self.rest >> 16

    @echo_id.setter
    def echo_id(self, value: int) -> None:
        self.rest = (value << 16) | (self.rest & 0xFFFF)

    @property
    def echo_seq(self) -> int:
        return self.rest & 0xFFFF

    @echo_seq.setter
    def echo_seq(self, value: int) -> None:
        self.rest = (self.rest & 0xFFFF0000) | value

    @property
    def mtu(self) -> int:
        """Next-hop MTU of DEST_UNREACH/FRAG_NEEDED (RFC 1191); 0 from pre-RFC 1191 routers."""
        return self.rest & 0xFFFF

    @mtu.setter
    def mtu(self, value: int) -> None:
        self.rest = (self.rest & 0xFFFF0000) | value

    @property
    def gateway(self) -> int:
        """The gateway address of a REDIRECT."""
        return self.rest

    @gateway.setter
    def gateway(self, value: int) -> None:
        self.rest = value

    @property
    def pointer(self) -> int:
        """The byte offset of the problem in a PARAMETERPROB."""
        return self.rest >> 24

    @pointer.setter
    def pointer(self, value: int) -> None:
        self.rest = (value << 24) | (self.rest & 0xFFFFFF)

    def parse_quoted(self) -> tuple[Ipv4Header, bytes]:
        """Decode the quoted IP header of an error; returns it and the quoted bytes that follow it.

        The quote is usually cut, so tot_len is not checked against it.  Raises :class:`WireError`
        when no valid IPv4 header is quoted.
        """
        iph = Ipv4Header.parse(self.payload, 0, False, False)
        return iph, self.payload[iph.hlen :]

    # -- codec ----------------------------------------------------------------------------------
    @classmethod
    def parse(
        cls,
        buf: bytes | bytearray | memoryview,
        off: int = 0,
        end: int | None = None,
        verify_checksum: bool = False,
    ) -> IcmpHeader:
        """Parse the message in ``buf[off:end]`` (``end`` defaults to the end of ``buf``; pass
        the IP payload end to leave out link-layer padding)."""
        if end is None or end > len(buf):
            end = len(buf)
        if end - off < 8:
            raise WireError(f"icmp: truncated header ({max(end - off, 0)} bytes)")
        t, c, check, rest = _ICMP.unpack_from(buf, off)
        if verify_checksum and csum_fold(csum_partial(buf[off:end])):
            raise WireError(f"icmp: bad checksum 0x{check:04x}", "ICMP_CSUM")
        code_get = _CODE_MAPS.get(t)
        return cls(_TYPE_GET(t, t), code_get(c, c) if code_get else c, check, rest, bytes(buf[off + 8 : end]))

    def _checksum(self) -> int:
        r = self.rest
        return csum_fold(csum_partial(self.payload, (self.type << 8 | self.code) + (r >> 16) + (r & 0xFFFF)))

    def pack(self, compute_checksum: bool = True) -> bytes:
        """Header and payload; with ``compute_checksum`` the checksum is computed over both
        (``self.check`` is not changed)."""
        try:
            check = self._checksum() if compute_checksum else self.check
            return _ICMP.pack(self.type, self.code, check, self.rest) + bytes(self.payload)
        except (struct.error, TypeError) as exc:
            raise WireError(f"icmp: cannot encode {self!r}: {exc}", "NOT_SPECIFIED") from None

    def pack_into(self, buf: bytearray | memoryview, off: int = 0, compute_checksum: bool = True) -> int:
        """Write header and payload into ``buf`` at ``off``; returns the number of bytes written."""
        try:
            check = self._checksum() if compute_checksum else self.check
            _ICMP.pack_into(buf, off, self.type, self.code, check, self.rest)
        except (struct.error, TypeError) as exc:
            raise WireError(f"icmp: cannot encode {self!r}: {exc}", "NOT_SPECIFIED") from None
        n = len(self.payload)
        buf[off + 8 : off + 8 + n] = self.payload
        return 8 + n
