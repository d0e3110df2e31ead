"""tcpdump(8) in a namespace: live capture on a device's taps, pcap files written and read.

Syntax, messages and exit codes follow Debian 12's tcpdump 4.99.3 with libpcap 1.10.3::

    tcpdump [-AdDehlnNSvxX#] [-c count] [--count] [-i interface] [-Q in|out|inout] [-r file]
            [-s snaplen] [-t...] [-w file] [--print] [--number] [--micro|--nano] [expression]

What it guarantees:

- Options are parsed as GNU getopt_long does for tcpdump (clustered short options, option
  arguments attached or separate, options after the expression, unique prefixes of long
  options); the remaining words are joined with spaces into the filter expression, compiled by
  :mod:`tuxnet.tools.pcap_filter` (errors: ``tcpdump: <libpcap's message>``, exit 1).  Host names
  in the expression resolve to the lab's nodes, as an ``/etc/hosts`` listing them would.
- Live capture (no ``-r``) taps the device (``dev.taps``: each frame once per direction, as
  dev_queue_xmit_nit / deliver_skb).  Without ``-i`` the device is the first of libpcap 1.10's
  pcap_findalldevs() order (up and running non-loopback devices by ifindex, then ``any``, then
  ``lo``, then the rest), as tcpdump picks it; ``-D`` lists that order.  Each packet is written to
  ``out`` as it arrives, so a capture running beside other commands shows its lines in time
  order.  The capture ends after ``-c`` packets or when its coroutine is cancelled (``timeout``,
  Ctrl-C); then tcpdump's three statistics lines go to ``err`` and the exit status is 0.  An
  interrupted printing capture first ends the line, as tcpdump's ``putchar('\\n')`` does.
- ``-i any`` captures on every device with the LINUX_SLL2 link type tcpdump 4.99 selects for
  ``any`` (interface name and direction in front of each line; ``-w`` writes SLL2 records, which
  tcpdump and tshark read).  The filter then runs on the device's Ethernet frame; the
  expressions libpcap refuses for SLL2 (link-layer addresses, ``broadcast``/``multicast``,
  ``vlan``, ``mpls``) are refused with libpcap's messages.  As libpcap does, outgoing frames on
  ``lo`` are not delivered (each looped packet shows once, as it comes in).
- ``-w FILE`` writes a classic pcap: microsecond timestamps by default like tcpdump, nanosecond
  with ``--nano`` / ``--time-stamp-precision=nano``; records cut to the snapshot length
  (``-s``, default 262144).  Checksums the lab leaves to the "hardware" (CHECKSUM_PARTIAL) are
  filled in for the capture, as a NIC would put them on the wire (``tap_frame``, which lab
  captures share).  ``-r FILE`` reads microsecond and nanosecond pcap files in either byte order
  (EN10MB and LINUX_SLL2); libpcap's errors for missing, unreadable, foreign and truncated files
  are reproduced.
- Lines are tuxnet's :func:`tuxnet.wire.pretty.format_packet` (``-n``/``-nn``, ``-e``, ``-v``,
  ``-x``/``-xx``, ``-X``/``-XX``, ``-A``, relative TCP sequence numbers unless ``-S``).
  Timestamps are the virtual clock's (or the file's) time of day in UTC: the lab has no time
  zone, and the differential tests run Debian's tcpdump with ``TZ=UTC``.

Not provided (refused with a message): ``-q``, file rotation (``-C``/``-G``/``-W``/``-z``),
``-F``, ``-V``, ``-y``, ``-L``, ``-j``/``-J``, ``-E``/``-M``, ``-I``, ``-d`` and ``-B``.
"""

from __future__ import annotations

import asyncio
import io
import struct
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from tuxnet.drivers.netdevice import tap_frame
from tuxnet.skb import PacketType
from tuxnet.tools.pcap_filter import FilterSyntaxError, compile_filter
from tuxnet.wire.pretty import TcpdumpState, format_packet, hexdump_X, link_header_len

if TYPE_CHECKING:
    from collections.abc import Callable

    from tuxnet.drivers.netdevice import NetDevice
    from tuxnet.netns import Namespace
    from tuxnet.skb import SkBuff

PROG = "tcpdump"
MAXIMUM_SNAPLEN = 262144
DLT_EN10MB = 1
DLT_LINUX_SLL2 = 276
SLL2_HDR_LEN = 20
_DLT_NAMES = {
    DLT_EN10MB: ("EN10MB", "Ethernet"), 113: ("LINUX_SLL", "Linux cooked v1"),
    DLT_LINUX_SLL2: ("LINUX_SLL2", "Linux cooked v2"), 101: ("RAW", "Raw IP"), 0: ("NULL", "BSD loopback"),
}
_USEC_MAGIC, _NSEC_MAGIC = 0xA1B2C3D4, 0xA1B23C4D
_NS = 1_000_000_000

# Debian's binary prints a third line with the OpenSSL version it links; tuxnet links none.
VERSION = "tcpdump version 4.99.3\nlibpcap version 1.10.3 (with TPACKET_V3)\n"
USAGE = """Usage: tcpdump [-AbdDefhHIJKlLnNOpqStuUvxX#] [ -B size ] [ -c count ] [--count]
\t\t[ -C file_size ] [ -E algo:secret ] [ -F file ] [ -G seconds ]
\t\t[ -i interface ] [ --immediate-mode ] [ -j tstamptype ]
\t\t[ -M secret ] [ --number ] [ --print ] [ -Q in|out|inout ]
\t\t[ -r file ] [ -s snaplen ] [ -T type ] [ --version ]
\t\t[ -V file ] [ -w file ] [ -W filecount ] [ -y datalinktype ]
\t\t[ --time-stamp-precision precision ] [ --micro ] [ --nano ]
\t\t[ -z postrotate-command ] [ -Z user ] [ expression ]
"""
# tcpdump 4.99's getopt string: a trailing ':' marks an option taking an argument
_SHORT = "aAbB:c:C:dDeE:fF:G:hHi:Ij:JKlLm:M:nNOpqQ:r:s:StT:uUvV:w:W:xXy:Yz:Z:#"
_LONG = {
    "buffer-size": ("B", True), "list-interfaces": ("D", False), "help": ("h", False),
    "interface": ("i", True), "monitor-mode": ("I", False), "time-stamp-type": ("j", True),
    "list-time-stamp-types": ("J", False), "micro": ("micro", False), "nano": ("nano", False),
    "time-stamp-precision": ("precision", True), "dont-verify-checksums": ("K", False),
    "list-data-link-types": ("L", False), "no-optimize": ("O", False),
    "no-promiscuous-mode": ("p", False), "direction": ("Q", True), "snapshot-length": ("s", True),
    "packet-buffered": ("U", False), "linktype": ("y", True), "immediate-mode": ("immediate", False),
    "debug-filter-parser": ("Y", False), "relinquish-privileges": ("Z", True), "count": ("count", False),
    "fp-type": ("fp-type", False), "number": ("#", False), "print": ("print", False),
    "version": ("version", False),
}
# accepted and without effect in the lab (promiscuity, buffering, privileges, optimisation, -K:
# lab frames carry correct checksums)
_NOOP = set("aflpuUKOZb") | {"immediate", "fp-type"}
_UNSUPPORTED = set("qCGWzFVyLjJEMIdBHmNTY")
_COUNTERS = {"n": "numeric", "v": "verbose", "x": "xflag", "X": "Xflag", "A": "Aflag", "t": "tflag"}
_FLAGS = {"e": "eflag", "S": "absolute_seq", "#": "number", "print": "print_too", "nano": "nano",
          "count": "count_mode", "D": "list_devices"}
_SLL_DIR = {PacketType.HOST: "In", PacketType.BROADCAST: "B", PacketType.MULTICAST: "M",
            PacketType.OTHERHOST: "P", PacketType.OUTGOING: "Out"}


class _Exit(Exception):
    """Stop with an exit status after the message ``text`` (written to stderr)."""

    def __init__(self, text: str, status: int = 1) -> None:
        self.text = text
        self.status = status


def _fatal(msg: str) -> _Exit:
    return _Exit(f"{PROG}: {msg}\n")


def _usage_error(msg: str) -> _Exit:
    return _Exit(f"{PROG}: {msg}\n{VERSION}{USAGE}")


@dataclass
class Options:
    count: int = 0
    count_mode: bool = False
    device: str | None = None
    list_devices: bool = False
    direction: str = "inout"
    rfile: str | None = None
    wfile: str | None = None
    snaplen: int = 0
    numeric: int = 0
    eflag: bool = False
    verbose: int = 0
    xflag: int = 0
    Xflag: int = 0
    Aflag: int = 0
    tflag: int = 0
    absolute_seq: bool = False
    number: bool = False
    print_too: bool = False
    nano: bool = False
    expr: str = ""
    words: list[str] = field(default_factory=list)


def _long_option(arg: str, rest: list[str]) -> tuple[str, str | None]:
    name, eq, value = arg[2:].partition("=")
    matches = [n for n in _LONG if n == name] or [n for n in _LONG if n.startswith(name)]
    if len(matches) != 1:
        if matches:
            raise _usage_error(f"option '{arg.split('=')[0]}' is ambiguous; possibilities:"
                               + "".join(f" '--{m}'" for m in matches))
        raise _usage_error(f"unrecognized option '{arg}'")
    key, needs = _LONG[matches[0]]
    if not needs:
        if eq:
            raise _usage_error(f"option '--{matches[0]}' doesn't allow an argument")
        return key, None
    if not eq:
        if not rest:
            raise _usage_error(f"option '--{matches[0]}' requires an argument")
        value = rest.pop(0)
    return key, value


def _int_arg(text: str) -> int | None:
    """strtol(text, &end, 0) accepting only a complete number, as tcpdump's parsers check."""
    t = text.strip()
    try:
        neg = t.startswith("-")
        body = t.lstrip("+-")
        if body[:2].lower() == "0x":
            v = int(body[2:], 16)
        elif body.startswith("0") and len(body) > 1:
            v = int(body, 8)
        else:
            v = int(body, 10)
    except ValueError:
        return None
    return -v if neg else v


def parse_args(argv: list[str]) -> tuple[Options, str | None]:
    """Options and, for ``-h``/``--version``, the text to print and exit 0 with."""
    o = Options()
    rest = list(argv)
    opts: list[tuple[str, str | None]] = []
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            o.words += rest
            break
        if arg.startswith("--"):
            opts.append(_long_option(arg, rest))
        elif arg.startswith("-") and arg != "-":
            i = 1
            while i < len(arg):
                c = arg[i]
                pos = _SHORT.find(c)
                if pos < 0 or c == ":":
                    raise _usage_error(f"invalid option -- '{c}'")
                if pos + 1 < len(_SHORT) and _SHORT[pos + 1] == ":":
                    if i + 1 < len(arg):
                        opts.append((c, arg[i + 1:]))
                    elif rest:
                        opts.append((c, rest.pop(0)))
                    else:
                        raise _usage_error(f"option requires an argument -- '{c}'")
                    break
                opts.append((c, None))
                i += 1
        else:
            o.words.append(arg)  # GNU getopt permutes: options may follow the expression
    for key, val in opts:
        if key in _COUNTERS:
            setattr(o, _COUNTERS[key], getattr(o, _COUNTERS[key]) + 1)
        elif key in _FLAGS:
            setattr(o, _FLAGS[key], True)
        elif key == "c":
            n = _int_arg(val or "")
            if n is None or n <= 0:
                raise _fatal(f"invalid packet count {val}")
            o.count = n
        elif key in ("i", "r", "w"):
            setattr(o, {"i": "device", "r": "rfile", "w": "wfile"}[key], val)
        elif key == "Q":
            if val not in ("in", "out", "inout"):
                raise _fatal(f"unknown capture direction `{val}'")
            o.direction = val
        elif key == "s":
            n = _int_arg(val or "")
            if n is None or n < 0 or n > MAXIMUM_SNAPLEN:
                raise _fatal(f"invalid snaplen {val} (must be >= 0 and <= {MAXIMUM_SNAPLEN})")
            o.snaplen = n
        elif key == "micro":
            o.nano = False
        elif key == "precision":
            if val not in ("micro", "nano"):
                raise _fatal(f"unsupported time stamp precision {val}")
            o.nano = val == "nano"
        elif key == "h":
            return o, VERSION + USAGE
        elif key == "version":
            return o, VERSION
        elif key in _NOOP:
            pass
        elif key in _UNSUPPORTED:
            # Capture-file rotation, BPF dumps, link-type changes and quick output are not part
            # of tuxnet's tcpdump: say so rather than silently doing something else.
            raise _fatal(f"option -{key} is not supported by tuxnet's tcpdump")
    o.expr = " ".join(o.words)
    return o, None


# ------------------------------------------------------------------------- devices
def findalldevs(ns: Namespace) -> list[tuple[str, NetDevice | None]]:
    """pcap_findalldevs() order on Linux with libpcap 1.10: (name, device or None for ``any``).

    Sorted by libpcap's figure of merit (not running, not up, disconnected, loopback are each
    worse), ``any`` after the connected non-loopback devices and before ``lo``; ties keep the
    kernel's (ifindex) order."""

    def merit(dev: NetDevice | None) -> int:
        if dev is None:
            return 0x0FFFFFFF
        n = 0
        if not dev.running:
            n |= 0x80000000
        if not dev.is_up:
            n |= 0x40000000
        loop = dev.kind == "loopback"
        if not loop and dev.operstate == "DOWN":
            n |= 0x20000000
        if loop:
            n |= 0x10000000
        return n

    devs: list[tuple[str, NetDevice | None]] = [
        (d.name, d) for d in sorted(ns.devices.values(), key=lambda d: d.ifindex)]
    devs.append(("any", None))
    return sorted(devs, key=lambda nd: merit(nd[1]))


def _list_line(i: int, name: str, dev: NetDevice | None) -> str:
    if dev is None:
        return f"{i}.any (Pseudo-device that captures on all interfaces) [Up, Running]"
    flags = [f for f, on in (("Up", dev.is_up), ("Running", dev.running),
                             ("Loopback", dev.kind == "loopback")) if on]
    text = ", ".join(flags) or "none"
    if dev.kind != "loopback":  # libpcap reads the connection status from operstate
        text += ", Connected" if dev.operstate == "UP" else ", Disconnected"
    return f"{i}.{name} [{text}]"


def _open_device(ns: Namespace, name: str) -> tuple[str, NetDevice | None]:
    """open_interface(): the device (None for ``any``), or tcpdump's error."""
    if name == "any":
        return name, None
    dev = ns.devices.get(name)
    if dev is None:
        if name.isdigit():  # parse_interface_number(): a 1-based index into the device list
            devs = findalldevs(ns)
            n = int(name)
            if not 1 <= n <= len(devs):
                raise _fatal("Invalid adapter index")
            return _open_device(ns, devs[n - 1][0])
        raise _Exit(f"{PROG}: {name}: No such device exists\n(No such device exists)\n")
    if not dev.is_up:
        raise _fatal(f"{name}: That device is not up")
    return name, dev


def _sll2_check(expr: str) -> None:
    """The link-layer tests libpcap's gencode refuses for DLT_LINUX_SLL2, with its messages."""
    from tuxnet.tools.pcapfilter.lexer import tokenize

    try:
        toks = tokenize(expr)
    except FilterSyntaxError:
        return  # the compiler reports it
    prev = ""
    for t in toks:
        kind, text = t.kind, t.text
        if kind == "EID" or (prev == "ether" and kind in ("HOST", "SRC", "DST")):
            raise _fatal("ethernet addresses supported only on ethernet/FDDI/token ring/802.11/"
                         "ATM LANE/Fibre Channel")
        if kind == "TK_BROADCAST" and prev not in ("ip", "ip6"):
            raise _fatal("not a broadcast link")
        if kind == "TK_MULTICAST" and prev not in ("ip", "ip6"):
            raise _fatal("link-layer multicast filters supported only on ethernet/FDDI/token ring/"
                         "ARCNET/802.11/ATM LANE/Fibre Channel")
        if kind == "VLAN":
            raise _fatal("no VLAN support for Linux cooked v2")
        if kind == "MPLS":
            raise _fatal("no MPLS support for Linux cooked v2")
        if kind == "GATEWAY":
            raise _fatal("'gateway' not supported in this configuration")
        prev = text.lower()


def _resolver(ns: Namespace) -> Callable[[str], list[str]]:
    """Host names in filters: the lab's node names (their first address), like /etc/hosts."""

    def resolve(name: str) -> list[str]:
        lab = getattr(ns, "lab", None)
        node = getattr(lab, "nodes", {}).get(name) if lab is not None else None
        ip = node.IP() if node is not None else None
        return [ip] if ip else []

    return resolve


def _netmask(dev: NetDevice | None) -> int:
    """pcap_lookupnet(): the device's first IPv4 netmask (0 when it has none, as tcpdump uses)."""
    if dev is not None and dev.in_dev is not None:
        for ifa in dev.in_dev.ifa_list:
            return ifa.mask
    return 0


# ------------------------------------------------------------------------- pcap files
class _Writer:
    """pcap_dump: a classic pcap in tcpdump's precision (wire/pcap.py's writer is nanosecond only)."""

    def __init__(self, f: BinaryIO, linktype: int, snaplen: int, nano: bool) -> None:
        self.f = f
        self.nano = nano
        f.write(struct.pack("<IHHiIII", _NSEC_MAGIC if nano else _USEC_MAGIC, 2, 4, 0, 0, snaplen, linktype))
        f.flush()

    def write(self, ts_ns: int, data: bytes, orig_len: int) -> None:
        sec, frac = divmod(ts_ns, _NS)
        if not self.nano:
            frac //= 1000
        self.f.write(struct.pack("<IIII", sec, frac, len(data), orig_len) + data)
        self.f.flush()  # -U: readers see whole records at once

    def close(self) -> None:
        self.f.close()


class _Reader:
    """pcap_open_offline + pcap_next_ex for classic pcap, with libpcap's error texts."""

    def __init__(self, path: str) -> None:
        try:
            self.f: BinaryIO = open(path, "rb")  # noqa: SIM115 (closed by close())
        except IsADirectoryError as e:  # fopen() succeeds on a directory; the first read fails
            raise _fatal(f"error reading dump file: {e.strerror}") from None
        except OSError as e:
            raise _fatal(f"{path}: {e.strerror}") from None
        try:
            head = self.f.read(4)
        except OSError as e:
            self.f.close()
            raise _fatal(f"error reading dump file: {e.strerror}") from None
        if len(head) < 4:
            self.close()
            raise _fatal(f"truncated dump file; tried to read 4 file header bytes, only got {len(head)}")
        magic_le, magic_be = struct.unpack("<I", head)[0], struct.unpack(">I", head)[0]
        if magic_le == 0x0A0D0D0A:
            # libpcap reads pcapng too; tuxnet's tcpdump reads the classic format only.
            self.close()
            raise _fatal(f"{path}: pcapng files are not supported by tuxnet's tcpdump")
        if magic_le in (_USEC_MAGIC, _NSEC_MAGIC):
            order, magic = "<", magic_le
        elif magic_be in (_USEC_MAGIC, _NSEC_MAGIC):
            order, magic = ">", magic_be
        else:
            self.close()
            raise _fatal("unknown file format")
        rest = self.f.read(20)
        if len(rest) < 20:
            self.close()
            raise _fatal(f"truncated dump file; tried to read 24 file header bytes, only got {len(rest)}")
        major, minor, _, _, snaplen, linktype = struct.unpack(order + "HHiIII", rest)
        if major != 2:
            self.close()
            raise _fatal("archaic pcap savefile format" if major < 2 else "unknown file format")
        self.order = order
        self.scale = 1 if magic == _NSEC_MAGIC else 1000
        self.snaplen = snaplen
        self.linktype = linktype & 0x03FFFFFF

    def records(self) -> Any:
        """Yield (ts_ns, orig_len, data); a short record raises _Exit with pcap_loop's message."""
        rec = struct.Struct(self.order + "IIII")
        limit = max(self.snaplen, MAXIMUM_SNAPLEN)
        while True:
            head = self.f.read(16)
            if not head:
                return
            if len(head) < 16:
                raise _fatal(f"pcap_loop: truncated dump file; tried to read 16 header bytes, only got "
                             f"{len(head)}")
            sec, frac, incl, orig = rec.unpack(head)
            if incl > limit:
                raise _fatal(f"pcap_loop: invalid packet capture length {incl}, bigger than snaplen of "
                             f"{limit}")
            data = self.f.read(incl)
            if len(data) < incl:
                raise _fatal(f"pcap_loop: truncated dump file; tried to read {incl} captured bytes, only "
                             f"got {len(data)}")
            yield sec * _NS + frac * self.scale, orig, data

    def close(self) -> None:
        self.f.close()


# ------------------------------------------------------------------------- printing
def _sll2_header(dev: NetDevice, pkttype: int, frame: bytes) -> bytes:
    """struct sll2_header for an Ethernet (or loopback) frame: protocol, ifindex, hatype, pkttype,
    and the source MAC as the link-layer address (dev_parse_header)."""
    hatype = 772 if dev.kind == "loopback" else 1
    return struct.pack(">HHIHBB6s2x", int.from_bytes(frame[12:14], "big"), 0, dev.ifindex, hatype,
                       pkttype, 6, bytes(frame[6:12]))


def _sll2_to_ether(sll: bytes) -> tuple[bytes, int, int, int, bytes]:
    """(synthetic Ethernet frame, ifindex, pkttype, hatype, address) of an SLL2 record."""
    proto, _, ifindex, hatype, pkttype, halen = struct.unpack(">HHIHBB", sll[:12])
    addr = sll[12:12 + min(halen, 8)]
    src = addr[:6] if halen == 6 else bytes(6)
    return bytes(6) + src + sll[0:2] + sll[SLL2_HDR_LEN:], ifindex, pkttype, hatype, addr


def _hex_x(data: bytes) -> str:
    """print-ascii.c hex_print(): ``-x``'s dump (no ASCII column)."""
    lines = []
    for base in range(0, len(data), 16):
        chunk = data[base:base + 16]
        groups = "".join(f" {chunk[i]:02x}{chunk[i + 1]:02x}" if i + 1 < len(chunk) else f" {chunk[i]:02x}"
                         for i in range(0, len(chunk), 2))
        lines.append(f"\n\t0x{base:04x}: {groups}")
    return "".join(lines)


def _split_dump(text: str, frame: bytes) -> tuple[str, int]:
    """Cut format_packet's ``-X`` dump off ``text``; returns (the decode, the dump's first byte)."""
    for start in (link_header_len(frame), 0):
        if len(frame) > start:
            dump = "\n" + hexdump_X(frame[start:], link=True)
            if text.endswith(dump):
                return text[: -len(dump)], start
    return text, len(frame)


class Printer:
    """pretty_print_packet(): number, timestamp and decode of each packet, keeping -ttt/-S state."""

    def __init__(self, o: Options, ns: Namespace) -> None:
        self.o = o
        self.ns = ns
        self.state = None if o.absolute_seq else TcpdumpState()
        self.first: int | None = None
        self.prev: int | None = None
        self.n = 0

    def _ts(self, ts: int) -> str:
        o = self.o
        digits = 9 if o.nano else 6
        if not o.nano:
            ts -= ts % 1000
        frac = (ts % _NS) // (1 if o.nano else 1000)
        if o.tflag == 1:
            return ""
        if o.tflag == 2:
            return f"{ts // _NS}.{frac:0{digits}d} "
        if o.tflag in (3, 5):
            ref = self.prev if o.tflag == 3 else self.first
            d = ts - (ref if ref is not None else ts)
            self.prev = ts
            s = d // _NS
            f = (d % _NS) // (1 if o.nano else 1000)
            # ts_delta_print(): the delta has a leading blank (a sign column) in 4.99
            return f" {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{f:0{digits}d} "
        secs = ts // _NS
        if o.tflag >= 4:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs)) + f".{frac:0{digits}d} "
        secs %= 86400
        return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}.{frac:0{digits}d} "

    def format(self, ts: int, frame: bytes, wirelen: int, linktype: int) -> str:
        o = self.o
        self.n += 1
        if self.first is None:
            self.first = self.prev = ts - ts % (1 if o.nano else 1000)
        head = (f"{self.n:5d}  " if o.number else "") + self._ts(ts)
        dump = o.Xflag or o.xflag
        kw: dict[str, Any] = dict(numeric=o.numeric >= 1, verbose=o.verbose, state=self.state,
                                  hex_ascii=1 if dump else 0, ascii=0 if dump else o.Aflag)
        if linktype == DLT_LINUX_SLL2:
            body, eth = self._sll2(frame, wirelen, kw)
        else:
            body, eth = format_packet(frame, link=o.eflag, wirelen=wirelen, **kw), frame
        if dump:
            body, start = _split_dump(body, eth)
            if eth is not frame and start:
                start = SLL2_HDR_LEN  # the dump starts after the SLL2 header, not the Ethernet one
            if (o.Xflag or o.xflag) > 1:
                start = 0
            data = frame[start:]
            if o.Xflag:
                body += "\n" + hexdump_X(data, link=True) if data else ""
            elif data:
                body += _hex_x(data)
        return head + body

    def _sll2(self, frame: bytes, wirelen: int, kw: dict[str, Any]) -> tuple[str, bytes]:
        if len(frame) < SLL2_HDR_LEN:
            return "[|sll2]", b""
        eth, ifindex, pkttype, _, addr = _sll2_to_ether(frame)
        dev = self.ns.by_index.get(ifindex)
        name = dev.name if dev is not None else "?"
        head = f"{name:<5} {_SLL_DIR.get(PacketType(pkttype) if pkttype <= 4 else -1, '?'):<3} "
        l3 = wirelen - SLL2_HDR_LEN
        if self.o.eflag:
            text = format_packet(eth, link=True, wirelen=l3 + 14, **kw)
            text = text[39:].replace(f", length {l3 + 14}: ", f", length {wirelen}: ", 1)
            head += f"ifindex {ifindex} {addr.hex(':')} "
        else:
            text = format_packet(eth, link=False, wirelen=l3 + 14, **kw)
        return head + text, eth


# ------------------------------------------------------------------------- the tool
def _dlt_text(dlt: int) -> str:
    name = _DLT_NAMES.get(dlt)
    return f", link-type {name[0]} ({name[1]})" if name else f", link-type {dlt}"


def _compile(o: Options, ns: Namespace, dlt: int, netmask: int) -> Callable[..., bool] | None:
    if not o.expr.strip():
        return None
    if dlt == DLT_LINUX_SLL2:
        _sll2_check(o.expr)
    try:
        return compile_filter(o.expr, netmask=netmask, resolve_host=_resolver(ns))
    except FilterSyntaxError as e:
        raise _fatal(str(e)) from None


def _open_wfile(path: str, dlt: int, snaplen: int, nano: bool) -> _Writer:
    try:
        f = open(path, "wb")  # noqa: SIM115 (closed by _Writer.close)
    except OSError as e:
        raise _fatal(f"{path}: {e.strerror}") from None
    return _Writer(f, dlt, snaplen, nano)


def _read_file(o: Options, ns: Namespace, out: io.TextIOBase, err: io.TextIOBase) -> int:
    rd = _Reader(o.rfile or "")
    try:
        err.write(f"reading from file {o.rfile}{_dlt_text(rd.linktype)}, snapshot length {rd.snaplen}\n")
        if rd.linktype == DLT_LINUX_SLL2:
            err.write("Warning: interface names might be incorrect\n")
        match = _compile(o, ns, rd.linktype, 0)
        writer = _open_wfile(o.wfile, rd.linktype, rd.snaplen, o.nano) if o.wfile else None
        if rd.linktype not in (DLT_EN10MB, DLT_LINUX_SLL2) and (writer is None or o.print_too):
            name = _DLT_NAMES.get(rd.linktype, (str(rd.linktype),))[0]
            raise _fatal(f"packet printing is not supported for link type {name}: use -w")
        pr = Printer(o, ns)
        printing = (writer is None or o.print_too) and not o.count_mode
        n = 0
        try:
            for ts, orig, data in rd.records():
                if match is not None:
                    frame = _sll2_to_ether(data)[0] if rd.linktype == DLT_LINUX_SLL2 else data
                    if not match(frame, orig):
                        continue
                if not o.nano:
                    ts -= ts % 1000  # pcap_open_offline_with_tstamp_precision(MICRO)
                n += 1
                if writer is not None:
                    writer.write(ts, data, orig)
                if printing:
                    out.write(pr.format(ts, data, orig, rd.linktype) + "\n")
                if o.count and n >= o.count:
                    break
        finally:
            if writer is not None:
                writer.close()
        if o.count_mode:
            out.write(f"{n} packet{'' if n == 1 else 's'}\n")
    finally:
        rd.close()
    return 0


class LiveCapture:
    """A capture on one device or on ``any``: taps installed by ``start``, removed by ``stop``."""

    def __init__(self, ns: Namespace, devs: list[NetDevice], sll2: bool, o: Options,
                 match: Callable[..., bool] | None, deliver: Callable[[int, bytes, int], None]) -> None:
        self.ns = ns
        self.devs: list[NetDevice] = []
        self.sll2 = sll2
        self.o = o
        self.match = match
        self.deliver = deliver
        self.snaplen = o.snaplen or MAXIMUM_SNAPLEN
        self.received = 0  # packets that passed the filter (the kernel's tp_packets)
        self.captured = 0
        self.active = True
        self.taps: dict[NetDevice, Callable[[SkBuff, bool], None]] = {}
        for d in devs:
            self._attach(d)
        if sll2:
            ns.netdev_notifier.append(self._netdev_event)

    def _attach(self, dev: NetDevice) -> None:
        def tap(skb: SkBuff, outgoing: bool) -> None:
            self._packet(dev, skb, outgoing)

        self.taps[dev] = tap
        dev.taps.append(tap)

    def _netdev_event(self, event: str, dev: NetDevice) -> None:
        if event == "register" and dev not in self.taps:
            self._attach(dev)

    def _packet(self, dev: NetDevice, skb: SkBuff, outgoing: bool) -> None:
        o = self.o
        if not self.active:
            return
        if o.direction == "in" and outgoing or o.direction == "out" and not outgoing:
            return
        frame = tap_frame(skb)
        if self.sll2:
            hdr = _sll2_header(dev, PacketType.OUTGOING if outgoing else skb.pkt_type, frame)
            wirelen = len(frame) - 14 + SLL2_HDR_LEN
            if self.match is not None and not self.match(frame, wirelen):
                return
            frame = hdr + frame[14:]
        else:
            wirelen = len(frame)
            if self.match is not None and not self.match(frame, wirelen):
                return
        self.received += 1
        if outgoing and dev.kind == "loopback":
            return  # libpcap skips PACKET_OUTGOING on lo: the packet shows once, coming in
        self.captured += 1
        self.deliver(self.ns.now, frame[: self.snaplen], wirelen)

    def close(self) -> None:
        """Deliver no more packets; the taps go once the device has finished iterating over them
        (removing a tap inside the device's loop would make it skip the next one)."""
        self.active = False
        self.ns.loop.call_soon_ns(self.stop)

    def stop(self) -> None:
        self.active = False
        for dev, tap in self.taps.items():
            if tap in dev.taps:
                dev.taps.remove(tap)
        self.taps.clear()
        if self._netdev_event in self.ns.netdev_notifier:
            self.ns.netdev_notifier.remove(self._netdev_event)


async def _live(o: Options, ns: Namespace, out: io.TextIOBase, err: io.TextIOBase) -> int:
    name = o.device if o.device is not None else findalldevs(ns)[0][0]
    name, dev = _open_device(ns, name)
    sll2 = dev is None
    dlt = DLT_LINUX_SLL2 if sll2 else DLT_EN10MB
    snaplen = o.snaplen or MAXIMUM_SNAPLEN
    if sll2:
        err.write(f"{PROG}: data link type LINUX_SLL2\n")
    match = _compile(o, ns, dlt, _netmask(dev))
    writer = _open_wfile(o.wfile, dlt, snaplen, o.nano) if o.wfile else None
    if not o.verbose and not o.wfile:
        err.write(f"{PROG}: verbose output suppressed, use -v[v]... for full protocol decode\n")
    else:
        err.write(f"{PROG}: ")
    err.write(f"listening on {name}{_dlt_text(dlt)}, snapshot length {snaplen} bytes\n")
    pr = Printer(o, ns)
    printing = (writer is None or o.print_too) and not o.count_mode
    done: asyncio.Future[None] = ns.loop.create_future()

    def deliver(ts: int, frame: bytes, wirelen: int) -> None:
        if done.done():
            return
        if not o.nano:
            ts -= ts % 1000
        if writer is not None:
            writer.write(ts, frame, wirelen)
        if printing:
            out.write(pr.format(ts, frame, wirelen, dlt) + "\n")
        if o.count and cap.captured >= o.count:
            cap.close()
            done.set_result(None)

    devs = list(ns.devices.values()) if sll2 else [dev]
    cap = LiveCapture(ns, [d for d in devs if d is not None], sll2, o, match, deliver)
    interrupted = False
    try:
        while not done.done():
            # pcap's buffer timeout (tcpdump opens with 1000 ms): the capture wakes each second,
            # so a lone capture keeps (virtual) time moving until its count or an interrupt
            await asyncio.wait({done}, timeout=1.0)
    except asyncio.CancelledError:
        interrupted = True
    finally:
        cap.stop()
        if writer is not None:
            writer.close()
    if interrupted and printing:
        out.write("\n")  # pcap_loop returned -2: end a line the signal may have cut
    c, r = cap.captured, cap.received
    err.write(f"{c} packet{'' if c == 1 else 's'} captured\n"
              f"{r} packet{'' if r == 1 else 's'} received by filter\n"
              "0 packets dropped by kernel\n")
    return 0


async def main(ns: Namespace, argv: list[str], out: io.TextIOBase, err: io.TextIOBase) -> int:
    try:
        o, text = parse_args(argv)
        if text is not None:
            out.write(text)
            return 0
        if o.list_devices:
            for i, (name, dev) in enumerate(findalldevs(ns), 1):
                out.write(_list_line(i, name, dev) + "\n")
            return 0
        if o.rfile is not None:
            return _read_file(o, ns, out, err)
        return await _live(o, ns, out, err)
    except _Exit as e:
        err.write(e.text)
        return e.status


__all__ = ["LiveCapture", "Options", "Printer", "findalldevs", "main", "parse_args"]
