"""tcpdump's one-line packet decode (tcpdump 4.99 output for Ethernet frames).

``format_packet(frame, ts_ns=...)`` gives the line ``tcpdump -nn`` prints for an Ethernet frame:
``-e`` (``link=True``) adds the link-layer header, ``-v`` (``verbose=1``) the IPv4 header fields
and TCP checksums (and, as tcpdump does, further lines for the packet an ICMP error quotes or an
HTTP message's text), ``numeric=False`` names well-known ports as ``tcpdump -n`` does.  The
decoders follow print-ether.c, print-arp.c, print-ip.c, print-icmp.c, print-udp.c,
print-tcp.c, print-domain.c and print-ascii.c: ARP, IPv4 (fragments, options), ICMP, UDP (DNS
on ports 53 and 5353, ``UDP, length N`` for ports it does not decode), TCP (flags, options,
HTTP/SSH/FTP/SMTP first lines), basic IPv6 and ICMPv6, 802.1Q tags, and a hex dump for other
EtherTypes.  Bytes that end early print tcpdump's ``[|proto]`` markers.

Headers are decoded with the :mod:`tuxnet.wire` codecs.  TCP sequence numbers are printed
relative to the first ACK-bearing segment of each connection, as tcpdump does, when the caller
keeps a :class:`TcpdumpState` across packets; ``hexdump_X`` and ``ascii_A`` give ``-X``/``-A``.
Timestamps are the time of day of the virtual clock (``HH:MM:SS.ffffff``, UTC).

The printers are split as tcpdump's ``print-*.c`` files are: :mod:`.common` (netdissect.h,
util-print.c, print-ascii.c), :mod:`.ether` (Ethernet, 802.1Q, ARP), :mod:`.ip` (IPv4, ICMP),
:mod:`.ip6` (IPv6, ICMPv6), :mod:`.udp` (UDP, DNS) and :mod:`.tcp` (TCP, text protocols); each
is a mixin over :class:`~.common.PrinterBase`, and this module combines them into one printer.
"""

from __future__ import annotations

import struct

from .common import PrinterBase, Stop, Trunc, format_timestamp, hex_and_ascii
from .ether import EtherPrinter, link_header_len
from .ip import IpPrinter
from .ip6 import Ip6Printer
from .tcp import TcpdumpState, TcpPrinter
from .udp import UdpPrinter

__all__ = ["TcpdumpState", "ascii_A", "format_packet", "format_timestamp", "hexdump_X", "link_header_len"]


class _Printer(EtherPrinter, IpPrinter, Ip6Printer, UdpPrinter, TcpPrinter, PrinterBase):
    """tcpdump's printers for one frame: each protocol's methods come from its module's mixin."""


def hexdump_X(frame: bytes, *, link: bool = False) -> str:
    """The ``-X`` hex and ASCII dump (``-XX`` with ``link=True``): lines starting with a tab,
    joined by newlines, to print after the packet's line."""
    data = frame if link else frame[link_header_len(frame) :]
    return hex_and_ascii(bytes(data), "\n\t")[1:]


def ascii_A(frame: bytes, *, link: bool = False) -> str:
    """The ``-A`` ASCII dump (``-AA`` with ``link=True``), to print on the lines after the
    packet's line: non-printing bytes as dots, CR before LF dropped."""
    data = bytes(frame if link else frame[link_header_len(frame) :])
    out: list[str] = []
    n = len(data)
    for i, c in enumerate(data):
        if c == 0x0D:
            if n - i - 1 > 1 and data[i + 1] != 0x0A:
                out.append(".")
        elif 0x21 <= c < 0x7F or c in (0x09, 0x20, 0x0A):
            out.append(chr(c))
        else:
            out.append(".")
    return "".join(out)


def format_packet(
    frame: bytes,
    *,
    ts_ns: int | None = None,
    numeric: bool = True,
    link: bool = False,
    verbose: int = 0,
    state: TcpdumpState | None = None,
    wirelen: int | None = None,
    hex_ascii: int = 0,
    ascii: int = 0,
) -> str:
    """The text tcpdump prints for an Ethernet frame (no trailing newline; ``-v`` may add lines).

    ``ts_ns`` prefixes the time of day (omit it for ``-t``); ``numeric=False`` names ports
    (``-n`` rather than ``-nn``); ``link`` is ``-e``; ``verbose`` counts ``-v``; ``state`` keeps
    relative TCP sequence numbers across calls; ``wirelen`` is the frame's length on the wire
    when ``frame`` holds only the captured part.  ``hex_ascii`` counts ``-X`` (2: ``-XX``, the
    link-layer header too) and ``ascii`` counts ``-A``: the dump follows on the next lines.
    """
    pr = _Printer(frame, numeric, link, verbose, state)
    pr.suppress_default = bool(hex_ascii)
    hdrlen = 0
    try:
        hdrlen = pr.ether(len(frame) if wirelen is None else wirelen)
    except Trunc as tr:
        pr.w(f" [|{tr.proto}]")
        hdrlen = 0 if tr.jump else min(link_header_len(frame), len(frame))
    except Stop:
        hdrlen = link_header_len(frame)
    except (struct.error, IndexError, ValueError, UnicodeDecodeError):
        # a field the decoders did not bound-check: report it as tcpdump reports a short packet
        pr.w(f" [|{pr.proto}]")
        hdrlen = 0
    text = "".join(pr.out)
    if ts_ns is not None:
        text = f"{format_timestamp(ts_ns)} {text}"
    start = 0 if (hex_ascii > 1 or (ascii > 1 and not hex_ascii)) else hdrlen
    if hex_ascii:
        if len(frame) > start:
            text += "\n" + hex_and_ascii(bytes(frame[start:]), "\n\t")[1:]
    elif ascii and len(frame) > start:
        text += "\n" + ascii_A(frame[start:], link=True)
    return text
