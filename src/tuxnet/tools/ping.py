"""ping(8) as iputils 20221126 (Debian 12) runs it for IPv4, in a tuxnet namespace.

Mirrors ping/ping.c: option parsing and ping4_run's socket setup, ping4_send_probe,
ping4_parse_reply, ping4_receive_error_msg, pr_icmph and pr_options; the protocol-independent
loop, token bucket and statistics are ping_common.py (ping_common.c). Guarantees:
- The same socket calls as iputils: an ICMP datagram ("ping") socket when ``ping_group_range`` allows
  it, else (root's usual case) a raw ICMP socket with ICMP_FILTER, IP_RECVERR, SO_SNDBUF/SO_RCVBUF
  sized as sock_setbufs does, IP_MTU_DISCOVER for -M, IP_MULTICAST_TTL and IP_TTL for -t, IP_TOS for
  -Q, SO_BINDTODEVICE or bind() for -I, IP_OPTIONS for -R/-T, SO_MARK, SO_DEBUG, SO_DONTROUTE; the
  source address comes from a UDP probe socket connected to the target. Replies are ours by
  identifier (random for raw sockets, the kernel's for ping sockets); ICMP errors are read from the
  error queue and printed "From <offender> icmp_seq=N <text>".
- Output, error wording and exit codes are iputils': the PING line, reply lines, "(DUP!)",
  "(truncated)", RR/TS option dumps ("(same route)"), local errors ("ping: local error: message too
  long, mtu=1280"), flood dots, -O, -D, the summary; exit 0 with replies, 1 without (or with -w and
  fewer replies than -c), 1 for bad numbers, 2 for other usage and setup errors.
- Time is the namespace's clock: the send time goes into the packet as a struct timeval of virtual
  time and the reply is timed when it is read, so a path with netem delays of 10 ms each way
  shows time=20.0 ms exactly. Cancellation (``timeout``, the shell's Ctrl-C) is SIGINT: the summary
  is printed and the exit status is what iputils returns then.

Where tuxnet differs, and why:
- No DNS: names resolve through the namespace's hosts table and a lab's node names; reverse lookups
  use the hosts table only, so replies show addresses as with an unreachable DNS.
- No SO_TIMESTAMP ancillary data: the receive time is taken when the reply is dequeued, which in
  virtual time is the instant it was queued.
- A process needs time to run: when a reply comes back at the very nanosecond the probe left
  (loopback), the next probe waits 1 us, so ``ping -f 127.0.0.1`` advances time instead of spinning;
  a negative -i (which 20221126 accepts and then sends without pause) counts as 0 for that reason.
- One host only (no loose source routing through several) and IPv4 only.
"""

from __future__ import annotations

import asyncio
import errno
import os
import struct
from typing import TYPE_CHECKING, Any, TextIO

from tuxnet.sock.constants import (
    AF_INET,
    ICMP_FILTER,
    IP_MTU_DISCOVER,
    IP_MULTICAST_LOOP,
    IP_MULTICAST_TTL,
    IP_OPTIONS,
    IP_PMTUDISC_DO,
    IP_PMTUDISC_DONT,
    IP_PMTUDISC_PROBE,
    IP_PMTUDISC_WANT,
    IP_RECVERR,
    IP_RECVTTL,
    IP_TOS,
    IP_TTL,
    IPPROTO_ICMP,
    MSG_DONTWAIT,
    MSG_ERRQUEUE,
    SO_BINDTODEVICE,
    SO_BROADCAST,
    SO_DEBUG,
    SO_DONTROUTE,
    SO_EE_ORIGIN_ICMP,
    SO_EE_ORIGIN_LOCAL,
    SO_MARK,
    SO_RCVBUF,
    SO_RCVTIMEO,
    SO_SNDBUF,
    SO_SNDTIMEO,
    SO_TIMESTAMP,
    SOCK_DGRAM,
    SOCK_RAW,
    SOL_IP,
    SOL_RAW,
    SOL_SOCKET,
)
from tuxnet.tools.ping_common import (
    INT_MAX,
    LONG_MAX,
    MAX_DUP_CHK,
    MIN_USER_INTERVAL_MS,
    USAGE,
    VERSION,
    Exit,
    HostError,
    PingRts,
    getopt,
    in_cksum,
    inet_aton,
    parsetos,
    ping_strtod,
    resolve_host,
    schint,
    strtol_or_err,
)
from tuxnet.wire.addr import ip_aton, ip_ntoa

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

OPTSTRING = "h?4bRT:6F:N:aABc:CdDe:fHi:I:l:Lm:M:nOp:qQ:rs:S:t:UvVw:W:"
NROUTES = 9
IPOPT_NOP, IPOPT_RR, IPOPT_TS, IPOPT_LSRR, IPOPT_SSRR = 1, 7, 68, 131, 137
IPOPT_TS_TSONLY, IPOPT_TS_TSANDADDR, IPOPT_TS_PRESPEC = 0, 1, 3
ICMP_ECHOREPLY, ICMP_DEST_UNREACH, ICMP_SOURCE_QUENCH, ICMP_REDIRECT = 0, 3, 4, 5
ICMP_ECHO, ICMP_TIME_EXCEEDED, ICMP_PARAMETERPROB = 8, 11, 12
EXTERR = struct.Struct("=IBBBBII")  # struct sock_extended_err
_TIMEVAL = struct.Struct("<qq")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_INT = struct.Struct("=i")

UNREACH = ("Destination Net Unreachable", "Destination Host Unreachable",
           "Destination Protocol Unreachable", "Destination Port Unreachable", None,
           "Source Route Failed", "Destination Net Unknown", "Destination Host Unknown",
           "Source Host Isolated", "Destination Net Prohibited", "Destination Host Prohibited",
           "Destination Net Unreachable for Type of Service",
           "Destination Host Unreachable for Type of Service", "Packet filtered",
           "Precedence Violation", "Precedence Cutoff")
REDIRECT = ("Redirect Network", "Redirect Host", "Redirect Type of Service and Network",
            "Redirect Type of Service and Host")
SIMPLE = {0: "Echo Reply", 4: "Source Quench", 8: "Echo Request", 13: "Timestamp",
          14: "Timestamp Reply", 15: "Information Request", 16: "Information Reply",
          17: "Address Mask Request", 18: "Address Mask Reply"}


def pr_icmph(p: Ping4, itype: int, code: int, info: int, icp: bytes | None) -> str:
    """pr_icmph: a description of an ICMP message (the -v header dump included), newline-ended."""
    if itype == ICMP_DEST_UNREACH:
        if code == 4:
            s = f"Frag needed and DF set (mtu = {info})\n"
        elif code < len(UNREACH):
            s = f"{UNREACH[code]}\n"
        else:
            s = f"Dest Unreachable, Bad Code: {code}\n"
    elif itype == ICMP_REDIRECT:
        s = REDIRECT[code] if code < 4 else f"Redirect, Bad Code: {code}"
        gw = _U32.unpack_from(icp, 4)[0] if icp is not None else info
        s += f"(New nexthop: {p.pr_addr(gw)})\n"
    elif itype == ICMP_TIME_EXCEEDED:
        s = {0: "Time to live exceeded\n", 1: "Frag reassembly time exceeded\n"}.get(
            code, f"Time exceeded, Bad Code: {code}\n")
    elif itype == ICMP_PARAMETERPROB:
        s = f"Parameter problem: pointer = {(_U32.unpack_from(icp, 4)[0] >> 24) if icp else info}\n"
    elif itype in SIMPLE:
        s = SIMPLE[itype] + "\n"
    else:
        s = f"Bad ICMP type: {itype}\n"
    if icp is not None and "v" in p.opt and itype in (3, 4, 5, 11, 12) and len(icp) >= 28:
        s += pr_iph(p, icp[8:])
    return s


def pr_iph(p: Ping4, ip: bytes) -> str:
    """pr_iph: the quoted IP header, fields printed raw (host byte order, as iputils shows them)."""
    def le16(off: int) -> int:
        return struct.unpack_from("<H", ip, off)[0]

    frag = le16(6)
    s = "Vr HL TOS  Len   ID Flg  off TTL Pro  cks      Src      Dst Data\n"
    s += f" {ip[0] >> 4:1x}  {ip[0] & 15:1x}  {ip[1]:02x} {le16(2):04x} {le16(4):04x}"
    s += f"   {(frag & 0xE000) >> 13:1x} {frag & 0x1FFF:04x}"
    s += f"  {ip[8]:02x}  {ip[9]:02x} {le16(10):04x}"
    s += f" {ip_ntoa(_U32.unpack_from(ip, 12)[0])}  {ip_ntoa(_U32.unpack_from(ip, 16)[0])} \n"
    return s + pr_options(p, ip[20:(ip[0] & 15) * 4])


def pr_options(p: Ping4, opts: bytes) -> str:
    """pr_options: NOP, LSRR/SSRR, RR (or "(same route)") and TS dumps, as iputils prints them."""
    out: list[str] = []
    totlen = len(opts)
    k = 0
    while totlen > 0:
        if opts[k] == 0:
            break
        if opts[k] == IPOPT_NOP:
            totlen -= 1
            k += 1
            out.append("\nNOP")
            continue
        if k + 1 >= len(opts):
            break
        olen = opts[k + 1]
        if olen < 2 or olen > totlen:
            break
        o = opts[k:k + olen]
        kind = o[0]
        if kind in (IPOPT_SSRR, IPOPT_LSRR):
            out.append(f"\n{'S' if kind == IPOPT_SSRR else 'L'}SRR: ")
            j = o[2] if len(o) > 2 else 0
            pos = 3
            while j > 4 and pos + 4 <= len(o):
                out.append(f"\t{addr_str(p, o, pos)}\n")
                pos += 4
                j -= 4
        elif kind == IPOPT_RR and len(o) >= 3:
            i = min(o[2], o[1]) - 4
            if i > 0:
                rr = bytes(o[2:2 + i])
                if rr == p.old_rr and "f" not in p.opt:
                    out.append("\t(same route)")
                else:
                    p.old_rr = rr
                    out.append("\nRR: ")
                    pos = 3
                    while True:
                        out.append(f"\t{addr_str(p, o, pos)}\n")
                        pos += 4
                        i -= 4
                        if i <= 0:
                            break
        elif kind == IPOPT_TS and len(o) >= 4:
            out.append(pr_ts(p, o))
        else:
            out.append(f"\nunknown option {kind:x}")
        totlen -= olen
        k += olen
    return "".join(out)


def pr_ts(p: Ping4, o: bytes) -> str:
    i = min(o[2], o[1]) - 5
    if i <= 0:
        return ""
    flags = o[3]
    out = ["\nTS: "]
    pos = 4
    stdtime = nonstd = 0
    while pos + 4 <= len(o):
        if flags & 0xF != IPOPT_TS_TSONLY:
            out.append(f"\t{addr_str(p, o, pos)}")
            pos += 4
            i -= 4
            if i <= 0 or pos + 4 > len(o):
                break
        t = _U32.unpack_from(o, pos)[0]
        pos += 4
        if t & 0x80000000:
            out.append(f"\t{t & 0x7FFFFFFF} absolute not-standard" if nonstd == 0
                       else f"\t{(t & 0x7FFFFFFF) - nonstd} not-standard")
            nonstd = t & 0x7FFFFFFF
        else:
            out.append(f"\t{t} absolute" if stdtime == 0 else f"\t{t - stdtime}")
            stdtime = t
        i -= 4
        out.append("\n")
        if i <= 0:
            break
    if flags >> 4:
        out.append(f"Unrecorded hops: {flags >> 4}\n")
    return "".join(out)


def addr_str(p: PingRts, o: bytes, pos: int) -> str:
    a = _U32.unpack_from(o, pos)[0] if pos + 4 <= len(o) else 0
    return "0.0.0.0" if a == 0 else p.pr_addr(a)


class Ping4(PingRts):
    """The IPv4 functions of ping.c on top of ping_common's PingRts."""

    def __init__(self, ns: Namespace, out: TextIO, err: TextIO) -> None:
        super().__init__(ns, out, err)
        self.ident = -1
        self.whereto = 0
        self.source = 0
        self.device: str | None = None
        self.old_rr = b""
        self.ttl = 0
        self.settos = 0
        self.pmtudisc = -1
        self.mark = 0
        self.sndbuf = 0
        self.ts_type = 0
        self.optlen = 0
        self.pattern = b""

    def send_probe(self) -> int:
        """ping4_send_probe: 0 when sent, else sendto's errno."""
        seq = (self.ntransmitted + 1) & 0xFFFF
        self.rcvd_clear(seq)
        body = self.outpack
        if self.timing:
            body[:16] = _TIMEVAL.pack(*self.gettimeofday())
        msg = bytearray(struct.pack("!BBHHH", ICMP_ECHO, 0, 0, self.ident & 0xFFFF, seq)) + body
        msg[2:4] = _U16.pack(in_cksum(msg))
        self.last_send_ns = self.ns.loop.now_ns
        assert self.sock is not None
        try:
            self.sock.sendto(bytes(msg), (ip_ntoa(self.whereto), 0))
        except OSError as e:
            return e.errno or errno.EIO
        return 0

    def is_ours(self, ident: int) -> bool:
        return self.socktype == SOCK_DGRAM or ident == self.ident

    def receive_error_msg(self, saved_errno: int) -> tuple[int, int]:
        """ping4_receive_error_msg: (net errors, or minus local errors; errno afterwards)."""
        sock = self.sock
        assert sock is not None
        try:
            data, anc, _flags, target = sock.recvmsg(8, 512, MSG_ERRQUEUE | MSG_DONTWAIT)
        except OSError as e:
            return (-1 if e.errno in (errno.EAGAIN, errno.EINTR) else 0), saved_errno
        ee = next((c[2] for c in anc if c[0] == SOL_IP and c[1] == IP_RECVERR), None)
        if ee is None:
            return 0, saved_errno
        ee_errno, origin, ee_type, ee_code, _pad, info, _data = EXTERR.unpack_from(ee)
        if origin == SO_EE_ORIGIN_LOCAL:
            if "q" not in self.opt:
                if "f" in self.opt:
                    self.out.write("E")
                elif ee_errno != errno.EMSGSIZE:
                    self.err.write(f"ping: local error: {os.strerror(ee_errno)}\n")
                else:
                    self.err.write(f"ping: local error: message too long, mtu={info}\n")
                self.nerrors += 1
            return -1, saved_errno
        if origin != SO_EE_ORIGIN_ICMP:
            return 0, saved_errno
        offender = _U32.unpack_from(ee, EXTERR.size + 4)[0]
        if (len(data) < 8 or target is None or inet_aton(target[0]) != self.whereto
                or data[0] != ICMP_ECHO or not self.is_ours(_U16.unpack_from(data, 4)[0])):
            return 0, 0  # "not our error, not an error at all"
        seq = _U16.unpack_from(data, 6)[0]
        self.acknowledge(seq)
        if self.socktype == SOCK_RAW:
            # from now on the errors come from the error queue only
            sock.setsockopt(SOL_RAW, ICMP_FILTER, ~((1 << ICMP_SOURCE_QUENCH) | (1 << ICMP_REDIRECT)
                                                    | (1 << ICMP_ECHOREPLY)) & 0xFFFFFFFF)
        self.nerrors += 1
        if "q" not in self.opt:
            if "f" in self.opt:
                self.out.write("\bE")
            else:
                self.print_timestamp()
                self.out.write(f"From {self.pr_addr(offender)} icmp_seq={seq} ")
                self.out.write(pr_icmph(self, ee_type, ee_code, info, None))
        return 1, saved_errno

    def parse_reply(self, packet: bytes, from_addr: int, anc: list[Any], tv: tuple[int, int]) -> int:
        """ping4_parse_reply: 1 when the packet is not ours."""
        cc = len(packet)
        if self.socktype == SOCK_RAW:
            hlen = (packet[0] & 15) * 4 if packet else 0
            if cc < hlen + 8 or hlen < 20:
                if "v" in self.opt:
                    self.err.write(f"ping: packet too short ({cc} bytes) from {self.pr_addr(from_addr)}\n")
                return 1
            reply_ttl = packet[8]
            opts = packet[20:hlen]
        else:
            hlen = 0
            reply_ttl = next((_INT.unpack_from(c[2])[0] for c in anc if c[0] == SOL_IP and c[1] == IP_TTL
                              and len(c[2]) >= 4), 0)
            opts = b""
        icp = packet[hlen:]
        cc -= hlen
        csfailed = in_cksum(icp) != 0
        itype = icp[0]
        if itype == ICMP_ECHOREPLY:
            if not self.is_ours(_U16.unpack_from(icp, 4)[0]):
                return 1
            wrong_source = "b" not in self.opt and not self.multicast and from_addr != self.whereto
            if self.gather_statistics(icp, cc, _U16.unpack_from(icp, 6)[0], reply_ttl, csfailed, tv,
                                      self.pr_addr(from_addr), wrong_source):
                return 0
        elif itype == ICMP_ECHO:
            return 1
        elif itype in (ICMP_SOURCE_QUENCH, ICMP_REDIRECT, ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED,
                       ICMP_PARAMETERPROB):
            ihl = (icp[8] & 15) * 4 if cc > 8 else 0
            if cc < 8 + 20 + 8 or cc < 8 + ihl + 8:
                return 1
            inner = icp[8 + ihl:]
            if (inner[0] != ICMP_ECHO or _U32.unpack_from(icp, 8 + 16)[0] != self.whereto
                    or not self.is_ours(_U16.unpack_from(inner, 4)[0])):
                return 1
            seq = _U16.unpack_from(inner, 6)[0]
            if itype not in (ICMP_REDIRECT, ICMP_SOURCE_QUENCH):
                self.acknowledge(seq)  # reported from the error queue
                return 0
            if {"q", "f"} & self.opt:
                return 1
            self.print_timestamp()
            self.out.write(f"From {self.pr_addr(from_addr)}: icmp_seq={seq} ")
            if csfailed:
                self.out.write("(BAD CHECKSUM)")
            self.out.write(pr_icmph(self, itype, icp[1], _U32.unpack_from(icp, 4)[0], icp))
            return 1
        else:
            if "f" in self.opt and not {"v", "q"} & self.opt:
                self.out.write("!E" if not csfailed else "!EC")
                return 0
            if "v" not in self.opt or self.uid:
                return 0
            self.print_timestamp()
            self.out.write(f"From {self.pr_addr(from_addr)}: ")
            self.out.write("(BAD CHECKSUM)\n" if csfailed else pr_icmph(
                self, itype, icp[1], _U32.unpack_from(icp, 4)[0], icp))
            return 0
        if "a" in self.opt:
            self.out.write("\a")
        if "f" not in self.opt:
            self.out.write(pr_options(self, opts) + "\n")
        return 0


# ---------------------------------------------------------------------------------- option parsing
def fill(p: Ping4, pattern: str) -> None:
    """fill: -p's hex pattern repeated over the data (the timestamp area included)."""
    for i, ch in enumerate(pattern):
        if ch not in "0123456789abcdefABCDEF":
            p.err.write(f"ping: patterns must be specified as hex digits: {pattern[i:]}\n")
            raise Exit(2)
    pat = [int(pattern[i:i + 2], 16) for i in range(0, min(len(pattern), 32), 2)]
    p.pattern = bytes(pat)
    if "q" not in p.opt:
        p.out.write("PATTERN: 0x" + "".join(f"{b:02x}" for b in pat) + "\n")


def parse_options(p: Ping4, argv: list[str]) -> list[str]:
    """main's getopt loop; returns the operands."""
    err = p.err
    opts, rest, bad = getopt(argv, OPTSTRING)
    p.pattern = b""
    for c, arg in opts:
        if c in "4bRaABCdDfHLnOqrUv":
            p.opt.add(c)
        if c == "R" and "T" in p.opt:
            err.write("ping: only one of -T or -R may be used\n")
            raise Exit(2)
        if c == "T":
            if "R" in p.opt:
                err.write("ping: only one of -T or -R may be used\n")
                raise Exit(2)
            types = {"tsonly": IPOPT_TS_TSONLY, "tsandaddr": IPOPT_TS_TSANDADDR,
                     "tsprespec": IPOPT_TS_PRESPEC}
            if arg not in types:
                err.write(f"ping: invalid timestamp type: {arg}\n")
                raise Exit(2)
            p.opt.add("T")
            p.ts_type = types[arg]
        elif c in "6FN":
            # IPv6 is not in tuxnet: as iputils on a kernel without IPv6
            err.write("ping: socktype: SOCK_RAW\nping: socket: Address family not supported by protocol\n")
            raise Exit(2)
        elif c == "c":
            p.npackets = strtol_or_err(arg, 1, LONG_MAX, err)
        elif c == "e":
            p.ident = strtol_or_err(arg, 0, 0xFFFF, err)
            p.opt.add("e")
        elif c == "f":
            p.opt.add("n")
        elif c == "i":
            v = ping_strtod(arg, "bad timing interval", err)
            if v > INT_MAX / 1000:
                err.write(f"ping: bad timing interval: {arg}\n")
                raise Exit(2)
            p.interval = max(0, int(v * 1000))
            p.opt.add("i")
        elif c == "I":
            try:
                p.source = ip_aton(arg)  # inet_pton: an address, else a device name
                p.opt.add("B")
            except ValueError:
                p.device = arg
        elif c == "l":
            p.preload = strtol_or_err(arg, 1, MAX_DUP_CHK, err)
            if p.uid and p.preload > 3:
                err.write(f"ping: cannot set preload to value greater than 3: {p.preload}\n")
                raise Exit(2)
        elif c == "m":
            p.mark = strtol_or_err(arg, 0, 2**32 - 1, err)
            p.opt.add("m")
        elif c == "M":
            modes = {"do": IP_PMTUDISC_DO, "dont": IP_PMTUDISC_DONT, "want": IP_PMTUDISC_WANT,
                     "probe": IP_PMTUDISC_PROBE}
            if arg not in modes:
                err.write(f"ping: invalid -M argument: {arg}\n")
                raise Exit(2)
            p.pmtudisc = modes[arg]
        elif c == "n":
            p.opt.discard("H")
        elif c == "p":
            p.opt.add("p")
            fill(p, arg)
        elif c == "Q":
            p.settos = parsetos(arg, err)
        elif c == "s":
            p.datalen = strtol_or_err(arg, 0, INT_MAX, err)
        elif c == "S":
            p.sndbuf = strtol_or_err(arg, 1, INT_MAX, err)
        elif c == "t":
            p.ttl = strtol_or_err(arg, 0, 255, err)
            p.opt.add("t")
        elif c == "V":
            p.out.write(VERSION)
            raise Exit(0)
        elif c == "w":
            p.deadline = strtol_or_err(arg, 0, INT_MAX, err)
        elif c == "W":
            v = ping_strtod(arg, "bad linger time", err)
            if v < 0 or v > INT_MAX / 1000:
                err.write(f"ping: bad linger time: {arg}\n")
                raise Exit(2)
            p.lingertime = int(v * 1000)
        elif c in "h?":
            err.write(USAGE)
            raise Exit(2)
    if bad is not None:
        err.write(f"ping: {bad}\n{USAGE}")
        raise Exit(2)
    return rest


# ---------------------------------------------------------------------------------- ping4_run
def _setsockopt(p: Ping4, level: int, opt: int, value: Any, what: str) -> None:
    assert p.sock is not None
    try:
        p.sock.setsockopt(level, opt, value)
    except OSError as e:
        p.err.write(f"ping: {what}: {e.strerror}\n")
        raise Exit(2) from None


def create_socket(p: Ping4) -> None:
    """create_socket: a ping socket first (EACCES from ping_group_range: fall back), then raw."""
    ns = p.ns
    socktype = SOCK_RAW if p.ident == 0 and "e" in p.opt else SOCK_DGRAM
    e: OSError | None = None
    if socktype == SOCK_DGRAM:
        try:
            p.sock = ns.sockets.socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)
        except OSError as ex:
            e = ex
    if p.sock is None and (socktype == SOCK_RAW or e is not None
                           and e.errno in (errno.EACCES, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT)):
        socktype = SOCK_RAW
        try:
            p.sock = ns.sockets.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
        except OSError as ex:
            e = ex
    if p.sock is None:
        assert e is not None
        p.err.write(f"ping: socktype: {'SOCK_RAW' if socktype == SOCK_RAW else 'SOCK_DGRAM'}\n"
                    f"ping: socket: {e.strerror}\n")
        if socktype == SOCK_RAW and p.uid:
            p.err.write("ping: => missing cap_net_raw+p capability or setuid?\n")
        raise Exit(2)
    p.socktype = socktype


def find_source(p: Ping4) -> None:
    """The source address: a UDP socket connected to the target (port 1025) tells the route's."""
    ns = p.ns
    probe = ns.sockets.socket(AF_INET, SOCK_DGRAM, 0)
    try:
        if p.device:
            for s in (probe, p.sock):
                try:
                    s.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, p.device.encode() + b"\0")
                except OSError as e:
                    p.err.write(f"ping: SO_BINDTODEVICE {p.device}: {e.strerror}\n")
                    raise Exit(2) from None
        if p.settos:
            try:
                probe.setsockopt(SOL_IP, IP_TOS, p.settos)
            except OSError as e:
                p.err.write(f"ping: warning: QOS sockopts: {e.strerror}\n")
        if "m" in p.opt:
            probe.setsockopt(SOL_SOCKET, SO_MARK, p.mark)
        try:
            probe.connect((ip_ntoa(p.whereto), 1025))
        except OSError as e:
            if e.errno != errno.EACCES:
                p.err.write(f"ping: connect: {e.strerror}\n")
                raise Exit(2) from None
            if "b" not in p.opt:
                p.err.write("ping: Do you want to ping broadcast? Then -b. If not, check your local "
                            "firewall rules\n")
                raise Exit(2) from None
            p.err.write("WARNING: pinging broadcast address\n")
            probe.setsockopt(SOL_SOCKET, SO_BROADCAST, 1)
            try:
                probe.connect((ip_ntoa(p.whereto), 1025))
            except OSError as e2:
                p.err.write(f"ping: connect: {e2.strerror}\n")
                raise Exit(2) from None
        p.source = inet_aton(probe.getsockname()[0]) or 0
        if p.device:
            dev = ns.devices.get(p.device)
            ifas = dev.in_dev.ifa_list if dev is not None and dev.in_dev is not None else []
            if not any(i.local == p.source for i in ifas):
                p.err.write(f"ping: Warning: source address might be selected on device other than: "
                            f"{p.device}\n")
    finally:
        probe.close()


def ping4_run(p: Ping4, target: str) -> None:
    """ping4_run up to setup(): address, source, socket options, the PING line."""
    sock = p.sock
    assert sock is not None
    a = inet_aton(target)
    if a is not None:
        p.whereto = a
        p.hostname = target
        p.opt.add("n")
    else:
        try:
            p.whereto = resolve_host(p.ns, target)
        except HostError as e:
            p.err.write(f"ping: {target}: {e}\n")
            raise Exit(2) from None
        p.hostname = target
    if not p.source:
        find_source(p)
    elif p.device:
        try:
            sock.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, p.device.encode() + b"\0")
        except OSError as e:
            p.err.write(f"ping: SO_BINDTODEVICE {p.device}: {e.strerror}\n")
            raise Exit(2) from None
    if p.whereto == 0:
        p.whereto = p.source
    if "b" in p.opt or (p.whereto & 0xF0000000) == 0xE0000000:
        p.multicast = True
        if p.uid and p.interval < 1000:
            p.err.write("ping: minimal interval for broadcast ping for user must be >= 1000 ms, use "
                        "-i 1 (or higher)\n")
            raise Exit(2)
        if p.pmtudisc < 0:
            p.pmtudisc = IP_PMTUDISC_DO
    if p.pmtudisc >= 0:
        _setsockopt(p, SOL_IP, IP_MTU_DISCOVER, p.pmtudisc, "IP_MTU_DISCOVER")
    if p.ident > 0 and p.socktype == SOCK_DGRAM or "B" in p.opt:
        try:
            sock.bind((ip_ntoa(p.source), p.ident if p.ident > 0 and p.socktype == SOCK_DGRAM else 0))
        except OSError as e:
            p.err.write(f"ping: bind: {e.strerror}\n")
            raise Exit(2) from None
    if p.socktype == SOCK_RAW:
        sock.setsockopt(SOL_RAW, ICMP_FILTER, ~((1 << ICMP_SOURCE_QUENCH) | (1 << ICMP_DEST_UNREACH)
                                                | (1 << ICMP_TIME_EXCEEDED) | (1 << ICMP_PARAMETERPROB)
                                                | (1 << ICMP_REDIRECT) | (1 << ICMP_ECHOREPLY)) & 0xFFFFFFFF)
    sock.setsockopt(SOL_IP, IP_RECVERR, 1)
    if p.socktype == SOCK_DGRAM:
        sock.setsockopt(SOL_IP, IP_RECVTTL, 1)
        # IP_RETOPTS is not in tuxnet: iputils would only warn, so nothing is printed
    if "R" in p.opt:
        rspace = bytes([IPOPT_NOP, IPOPT_RR, 3 + 4 * NROUTES + 1 - 1, 4]) + bytes(4 * NROUTES)
        _setsockopt(p, SOL_IP, IP_OPTIONS, rspace, "record route")
    if "T" in p.opt:
        rspace = bytearray(3 + 4 * NROUTES + 1)
        rspace[:4] = bytes([IPOPT_TS, 40 if p.ts_type == IPOPT_TS_TSONLY else 36, 5, p.ts_type])
        if p.ts_type == IPOPT_TS_PRESPEC:
            rspace[1] = 4
        try:
            sock.setsockopt(SOL_IP, IP_OPTIONS, bytes(rspace[:rspace[1]]))
        except OSError:
            rspace[3] = 2
            _setsockopt(p, SOL_IP, IP_OPTIONS, bytes(rspace[:rspace[1]]), "ts option")
    p.optlen = 40 if {"R", "T"} & p.opt else 0
    hold = p.datalen + 8
    hold += ((hold + 511) // 512) * (p.optlen + 20 + 16 + 64 + 160)
    sock.setsockopt(SOL_SOCKET, SO_SNDBUF, p.sndbuf or hold)
    sock.setsockopt(SOL_SOCKET, SO_RCVBUF, max(hold * p.preload, 65536))
    if "b" in p.opt:
        _setsockopt(p, SOL_SOCKET, SO_BROADCAST, 1, "cannot set broadcasting")
    if "L" in p.opt:
        _setsockopt(p, SOL_IP, IP_MULTICAST_LOOP, 0, "cannot disable multicast loopback")
    if "t" in p.opt:
        _setsockopt(p, SOL_IP, IP_MULTICAST_TTL, p.ttl, "cannot set multicast time-to-live")
        _setsockopt(p, SOL_IP, IP_TTL, p.ttl, "cannot set unicast time-to-live")
    p.timing = p.datalen >= 16
    p.out.write(f"PING {p.hostname} ({ip_ntoa(p.whereto)}) ")
    if p.device or "B" in p.opt:
        p.out.write(f"from {ip_ntoa(p.source)} {p.device or ''}: ")
    p.out.write(f"{p.datalen}({p.datalen + 8 + p.optlen + 20}) bytes of data.\n")


def setup(p: Ping4) -> None:
    """setup: flood and interval rules, timeouts, the data pattern, identifier, deadline."""
    sock = p.sock
    assert sock is not None
    if "f" in p.opt and "i" not in p.opt:
        p.interval = 0
    if p.uid and p.interval < MIN_USER_INTERVAL_MS:
        p.err.write(f"ping: cannot flood; minimal interval allowed for user is {MIN_USER_INTERVAL_MS}ms\n")
        raise Exit(2)
    if p.interval >= INT_MAX // p.preload:
        p.err.write(f"ping: illegal preload and/or interval: {p.interval}\n")
        raise Exit(2)
    if "d" in p.opt:
        sock.setsockopt(SOL_SOCKET, SO_DEBUG, 1)
    if "r" in p.opt:
        sock.setsockopt(SOL_SOCKET, SO_DONTROUTE, 1)
    if "U" not in p.opt:
        sock.setsockopt(SOL_SOCKET, SO_TIMESTAMP, 1)
    if "m" in p.opt:
        try:
            sock.setsockopt(SOL_SOCKET, SO_MARK, p.mark)
        except OSError as e:
            p.err.write(f"ping: WARNING: failed to set mark: {p.mark}: {e.strerror}\n")
    snd = 1.0 if p.interval >= 1000 else schint(p.interval) / 1000
    sock.setsockopt(SOL_SOCKET, SO_SNDTIMEO, snd)
    sock.setsockopt(SOL_SOCKET, SO_RCVTIMEO, schint(p.interval) / 1000)
    if "p" in p.opt and p.pattern:
        pat = p.pattern
        p.outpack = bytearray((pat * (p.datalen // len(pat) + 1))[:p.datalen])
    else:
        p.outpack = bytearray(i & 0xFF for i in range(p.datalen))
    if p.socktype == SOCK_RAW:
        if "e" not in p.opt:
            p.ident = p.ns.rng.getrandbits(16)  # rand() & 0xFFFF
    else:
        p.ident = 0
    p.start_ns = p.ns.loop.now_ns
    if p.deadline:
        p.setitimer(p.deadline * 1000)


async def run(p: Ping4, argv: list[str]) -> int:
    rest = parse_options(p, argv)
    if not rest:
        p.err.write("ping: usage error: Destination address required\n")
        return 1
    if len(rest) > 1:
        p.err.write("ping: tuxnet: source routing through several hosts is not supported\n")
        return 2
    create_socket(p)
    if p.settos:
        _setsockopt(p, SOL_IP, IP_TOS, p.settos, "setsockopt")
    ping4_run(p, rest[-1])
    setup(p)
    if "C" in p.opt:
        assert p.sock is not None
        p.sock.connect((ip_ntoa(p.whereto), 0))
    try:
        return await p.main_loop()
    except asyncio.CancelledError:
        # SIGINT: finish() runs and the process exits with its status
        p.exiting = True
        return p.finish()


async def main(ns: Namespace, argv: list[str], out: TextIO, err: TextIO) -> int:
    p = Ping4(ns, out, err)
    try:
        return await run(p, argv)
    except Exit as e:
        return e.code
    finally:
        for t in p.timers:
            t.cancel()
        if p.sock is not None:
            p.sock.close()
