"""libpcap capture files (the classic format read by ``tcpdump -r`` and ``tshark -r``).

Format as documented in pcap-savefile(5) and draft-ietf-opsawg-pcap: a 24-byte global header
(magic, version 2.4, thiszone, sigfigs, snaplen, link type) then records of a 16-byte header
(ts_sec, ts_usec or ts_nsec, incl_len, orig_len) and the captured bytes.

:class:`PcapWriter` always writes little-endian nanosecond files (magic 0xa1b23c4d) with
timestamps taken from the integer-nanosecond time the caller passes (the loop's clock, never
the wall clock), so the same run gives the same file byte for byte.  :class:`PcapReader` reads
microsecond (0xa1b2c3d4) and nanosecond files in either byte order and yields
``(ts_ns, orig_len, data)``; a truncated or foreign file raises :class:`WireError` naming the
offset.  pcapng is recognised and refused with a clear message.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO, Self

from .errors import WireError

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_RAW",
    "PCAP_MAGIC_NSEC",
    "PCAP_MAGIC_USEC",
    "PcapReader",
    "PcapWriter",
    "read_pcap",
]

PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_MAGIC_NSEC = 0xA1B23C4D
_PCAPNG_MAGIC = 0x0A0D0D0A
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # raw IPv4/IPv6, no link-layer header
DEFAULT_SNAPLEN = 262144  # tcpdump's MAXIMUM_SNAPLEN
_MAX_RECORD = 0x4000000  # refuse absurd record lengths rather than allocating them

_GLOBAL_LE = struct.Struct("<IHHiIII")
_RECORD_LE = struct.Struct("<IIII")
_NS = 1_000_000_000


class PcapWriter:
    """Write a nanosecond pcap to a binary file object; the global header is written at once.

    ``write(ts_ns, data)`` appends one record and, with ``autoflush`` (the default), flushes so a
    reader of the file sees whole records as soon as they are written.  ``close()`` flushes and
    closes the file; the writer is also a context manager.
    """

    __slots__ = ("autoflush", "count", "file", "linktype", "snaplen")

    def __init__(
        self,
        file: BinaryIO,
        linktype: int = LINKTYPE_ETHERNET,
        snaplen: int = DEFAULT_SNAPLEN,
        autoflush: bool = True,
    ) -> None:
        self.file = file
        self.linktype = linktype
        self.snaplen = snaplen
        self.autoflush = autoflush
        self.count = 0
        file.write(_GLOBAL_LE.pack(PCAP_MAGIC_NSEC, 2, 4, 0, 0, snaplen, linktype))
        file.flush()

    def write(self, ts_ns: int, data: bytes | bytearray | memoryview, orig_len: int | None = None) -> None:
        """Append a packet captured at ``ts_ns`` nanoseconds; it is cut to ``snaplen`` bytes and
        ``orig_len`` (default ``len(data)``) records its length on the wire."""
        if ts_ns < 0:
            raise ValueError(f"pcap: negative timestamp {ts_ns}")
        n = len(data)
        if orig_len is None:
            orig_len = n
        if n > self.snaplen:
            data = data[: self.snaplen]
            n = self.snaplen
        sec, nsec = divmod(ts_ns, _NS)
        self.file.write(_RECORD_LE.pack(sec, nsec, n, orig_len))
        self.file.write(data)
        self.count += 1
        if self.autoflush:
            self.file.flush()

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        self.file.flush()
        self.file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PcapReader:
    """Iterate over the records of a pcap file object: ``for ts_ns, orig_len, data in PcapReader(f)``.

    Attributes after construction: ``linktype``, ``snaplen``, ``nanosecond`` (bool),
    ``byteorder`` ("<" or ">"), ``version`` (major, minor).
    """

    __slots__ = ("_offset", "_record", "byteorder", "file", "linktype", "nanosecond", "snaplen", "version")

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        head = file.read(24)
        if len(head) < 4:
            raise WireError(f"pcap: file too short for a header ({len(head)} bytes)", "NOT_SPECIFIED")
        magic = int.from_bytes(head[:4], "little")
        if magic == _PCAPNG_MAGIC:
            raise WireError("pcap: this is a pcapng file; only classic pcap is supported", "NOT_SPECIFIED")
        for order in ("<", ">"):
            m = int.from_bytes(head[:4], "little" if order == "<" else "big")
            if m in (PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC):
                break
        else:
            raise WireError(f"pcap: bad magic 0x{head[:4].hex()} (not a pcap file)", "NOT_SPECIFIED")
        if len(head) < 24:
            raise WireError(f"pcap: truncated global header ({len(head)} of 24 bytes)", "NOT_SPECIFIED")
        _, major, minor, _, _, snaplen, linktype = struct.unpack(order + "IHHiIII", head)
        if major != 2:
            raise WireError(f"pcap: unsupported version {major}.{minor}", "NOT_SPECIFIED")
        self.byteorder = order
        self.nanosecond = m == PCAP_MAGIC_NSEC
        self.version = (major, minor)
        self.snaplen = snaplen
        self.linktype = linktype & 0x0FFFFFFF  # the high bits carry FCS length flags
        self._record = struct.Struct(order + "IIII")
        self._offset = 24

    def __iter__(self) -> Iterator[tuple[int, int, bytes]]:
        read = self.file.read
        rec = self._record
        scale = 1 if self.nanosecond else 1000
        limit = max(self.snaplen, DEFAULT_SNAPLEN, 1) if self.snaplen <= _MAX_RECORD else _MAX_RECORD
        while True:
            head = read(16)
            if not head:
                return
            off = self._offset
            if len(head) < 16:
                raise WireError(
                    f"pcap: truncated record header at offset {off} ({len(head)} of 16 bytes)",
                    "NOT_SPECIFIED",
                )
            sec, frac, incl, orig = rec.unpack(head)
            if incl > limit:
                raise WireError(
                    f"pcap: record at offset {off} claims {incl} bytes, more than the "
                    f"snapshot length {limit}",
                    "NOT_SPECIFIED",
                )
            data = read(incl)
            if len(data) < incl:
                raise WireError(
                    f"pcap: truncated record at offset {off} ({len(data)} of {incl} bytes)", "NOT_SPECIFIED"
                )
            self._offset = off + 16 + incl
            yield sec * _NS + frac * scale, orig, data


def read_pcap(path: str) -> list[tuple[int, int, bytes]]:
    """All records of the pcap file at ``path``."""
    with open(path, "rb") as f:
        return list(PcapReader(f))
