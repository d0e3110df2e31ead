"""Sans-I/O wire codecs: bytes in, header objects out, and back.

One module per format, each mirroring its Linux header and RFC: ``ethernet``, ``arp``, ``ipv4``
(+ options), ``icmp``, ``udp``, ``tcp`` (+ options), ``checksum`` (RFC 1071/1624), ``seqnum``
(TCP sequence arithmetic), ``addr`` (IPv4 ints, MAC bytes), ``pcap`` (capture files) and
``pretty`` (tcpdump-style one-line decode).  Parsers raise only :class:`WireError`.

Import the submodule you need (``from tuxnet.wire.ipv4 import Ipv4Header``); this package only
re-exports the error type, so importing it stays cheap.
"""

from .errors import WireError

__all__ = ["WireError"]
