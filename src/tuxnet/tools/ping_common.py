"""The protocol-independent half of ping (iputils 20221126 ping/ping_common.c, ping.h,
iputils_common.c), and small helpers ping, traceroute and nc share.

Guarantees:
- ``PingRts`` is struct ping_rts with the functions of ping_common.c: pinger's token bucket (-i, -l,
  the flood limit of one probe per 10 ms without replies), schedule_exit's linger (2 x the longest
  RTT, at least the interval, or -W when nothing came back), main_loop's poll/recvmsg structure
  (MSG_DONTWAIT after the first read, SO_RCVTIMEO of the interval, the error queue read on POLLERR),
  acknowledge/in_flight/pipe size on 16-bit sequence numbers, gather_statistics and finish with
  iputils' integer arithmetic (rtt in microseconds, mdev by llsqrt, loss printed with %g).
  The IPv4 specifics (send_probe, parse_reply, receive_error_msg) live in ping.py.
- Signals are events on the namespace's loop: the -w deadline and schedule_exit's itimer set
  ``exiting`` and interrupt a wait (EINTR), as SIGALRM does.
- Helpers: glibc ``getopt`` (argument permutation, its error wording), ``strtol_or_err``,
  ``inet_aton`` (glibc's: "10.1" is 10.0.0.1), ``resolve_host`` (dotted quads, the namespace's hosts
  table, then lab node names: tuxnet has no DNS) and ``reverse_name`` (hosts table only),
  ``in_cksum``, ``format_triptime``.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import struct
from typing import TYPE_CHECKING, Any, TextIO

from tuxnet.sock.constants import EPOLLERR, EPOLLIN, MSG_DONTWAIT, SOCK_RAW
from tuxnet.wire.addr import ip_ntoa

if TYPE_CHECKING:
    from tuxnet.netns import Namespace
    from tuxnet.socket import Socket

MAXWAIT = 10  # s
MIN_INTERVAL_MS = 10
MIN_USER_INTERVAL_MS = 2
MAX_DUP_CHK = 0x10000
MAXIPLEN, MAXICMPLEN = 60, 76
LONG_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
HZ = 100  # sysconf(_SC_CLK_TCK) on Debian
SEND_COST_NS = 1000  # a send takes the process 1 us of (virtual) time: see ping.py's docstring
_TIMEVAL = struct.Struct("<qq")


def schint(ms: int) -> int:
    """SCHINT: intervals below MIN_INTERVAL_MS count as MIN_INTERVAL_MS."""
    return MIN_INTERVAL_MS if ms <= MIN_INTERVAL_MS else ms


class Exit(Exception):
    """error(status, ...) / exit(status): leave the tool with this code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class HostError(Exception):
    """getaddrinfo failed: the text is gai_strerror's."""


VERSION = ("ping from iputils 20221126\n"
           "libcap: yes, IDN: yes, NLS: no, error.h: yes, getrandom(): yes, __fpending(): yes\n")
USAGE = """
Usage
  ping [options] <destination>

Options:
  <destination>      dns name or ip address
  -a                 use audible ping
  -A                 use adaptive ping
  -B                 sticky source address
  -c <count>         stop after <count> replies
  -C                 call connect() syscall on socket creation
  -D                 print timestamps
  -d                 use SO_DEBUG socket option
  -e <identifier>    define identifier for ping session, default is random for
                     SOCK_RAW and kernel defined for SOCK_DGRAM
                     Imply using SOCK_RAW (for IPv4 only for identifier 0)
  -f                 flood ping
  -h                 print help and exit
  -I <interface>     either interface name or address
  -i <interval>      seconds between sending each packet
  -L                 suppress loopback of multicast packets
  -l <preload>       send <preload> number of packages while waiting replies
  -m <mark>          tag the packets going out
  -M <pmtud opt>     define mtu discovery, can be one of <do|dont|want>
  -n                 no dns name resolution
  -O                 report outstanding replies
  -p <pattern>       contents of padding byte
  -q                 quiet output
  -Q <tclass>        use quality of service <tclass> bits
  -s <size>          use <size> as number of data bytes to be sent
  -S <size>          use <size> as SO_SNDBUF socket option value
  -t <ttl>           define time to live
  -U                 print user-to-user latency
  -v                 verbose output
  -V                 print version and exit
  -w <deadline>      reply wait <deadline> in seconds
  -W <timeout>       time to wait for response

IPv4 options:
  -4                 use IPv4
  -b                 allow pinging broadcast
  -R                 record route
  -T <timestamp>     define timestamp, can be one of <tsonly|tsandaddr|tsprespec>

IPv6 options:
  -6                 use IPv6
  -F <flowlabel>     define flow label, default is random
  -N <nodeinfo opt>  use icmp6 node info query, try <help> as argument

For more details see ping(8).
"""

# ---------------------------------------------------------------------------------- helpers
def getopt(argv: list[str], optstring: str) -> tuple[list[tuple[str, str]], list[str], str | None]:
    """glibc getopt with argument permutation: (options, operands, the error text or None)."""
    takes = {c: optstring[i + 1:i + 2] == ":" for i, c in enumerate(optstring) if c != ":"}
    opts: list[tuple[str, str]] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest += argv[i + 1:]
            break
        if not a.startswith("-") or a == "-":
            rest.append(a)
            i += 1
            continue
        j = 1
        while j < len(a):
            c = a[j]
            if c not in takes or c in "?:":
                return opts, rest, f"invalid option -- '{c}'"
            if takes[c]:
                if j + 1 < len(a):
                    opts.append((c, a[j + 1:]))
                elif i + 1 < len(argv):
                    i += 1
                    opts.append((c, argv[i]))
                else:
                    return opts, rest, f"option requires an argument -- '{c}'"
                break
            opts.append((c, ""))
            j += 1
        i += 1
    return opts, rest, None


def strtol_or_err(text: str, lo: int, hi: int, err: TextIO, prog: str = "ping",
                  what: str = "invalid argument") -> int:
    """iputils_common.c strtol_or_err: a base-10 number within [lo, hi], else exit 1."""
    if not re.fullmatch(r"\s*[+-]?\d+", text):
        err.write(f"{prog}: {what}: '{text}'\n")
        raise Exit(1)
    num = int(text)
    if not -(2**63) <= num <= LONG_MAX:
        err.write(f"{prog}: {what}: '{text}': {os.strerror(errno.ERANGE)}\n")
        raise Exit(1)
    if not lo <= num <= hi:
        err.write(f"{prog}: {what}: '{text}': out of range: {lo} <= value <= {hi}\n")
        raise Exit(1)
    return num


_FLOAT = re.compile(r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)", re.I)


def ping_strtod(text: str, what: str, err: TextIO) -> float:
    """ping_strtod: strtod that warns about trailing garbage; empty, inf or nan exit 2."""
    m = _FLOAT.match(text)
    if not text:
        err.write(f"ping: {what}: {text}\n")
        raise Exit(2)
    num = float(m.group()) if m else 0.0
    end = m.end() if m else 0
    if end != len(text):
        err.write(f"ping: option argument contains garbage: {text[end:]}\n"
                  "ping: this will become fatal error in the future\n")
    if num != num or num in (float("inf"), float("-inf")):
        err.write(f"ping: {what}: {text}: {os.strerror(errno.ERANGE)}\n")
        raise Exit(2)
    return num


def parsetos(text: str, err: TextIO) -> int:
    """parsetos: decimal or 0x hex, 0..255."""
    if text[:2] in ("0x", "0X"):
        m = re.match(r"[0-9a-fA-F]*", text[2:])
        digits, ok = (m.group() if m else ""), m is not None and m.end() == len(text) - 2
        tos = int(digits, 16) if digits else 0
    else:
        m = re.match(r"\s*[+-]?\d*", text)
        digits, ok = (m.group() if m else ""), m is not None and m.end() == len(text)
        tos = int(digits) if digits.strip(" +-") else 0
    if not ok:
        err.write(f"ping: bad TOS value: {text}\n")
        raise Exit(2)
    if tos > 255:
        err.write(f"ping: the decimal value of TOS bits must be in range 0-255: {tos}\n")
        raise Exit(2)
    return tos


def _c_ulong(text: str) -> int | None:
    """strtoul(text, &end, 0) consuming all of ``text``."""
    t = text.lower()
    try:
        if t.startswith("0x"):
            return int(t[2:], 16) if t[2:] else None
        if t.startswith("0") and len(t) > 1:
            return int(t[1:], 8)
        return int(t, 10) if t.isdigit() else None
    except ValueError:
        return None


def inet_aton(text: str) -> int | None:
    """glibc inet_aton: a, a.b, a.b.c or a.b.c.d, parts in decimal, octal (0) or hex (0x)."""
    parts = text.rstrip(" \t\n").split(".")
    if not 1 <= len(parts) <= 4 or any(not p for p in parts):
        return None
    vals = [_c_ulong(p) for p in parts]
    if any(v is None for v in vals):
        return None
    nums: list[int] = [v for v in vals if v is not None]
    widths = {1: [32], 2: [8, 24], 3: [8, 8, 16], 4: [8, 8, 8, 8]}[len(nums)]
    addr = 0
    for v, w in zip(nums, widths, strict=True):
        if v >= 1 << w:
            return None
        addr = (addr << w) | v
    return addr


def resolve_host(ns: Namespace, name: str) -> int:
    """getaddrinfo for IPv4: numbers, the hosts table, then (in a lab) a node's first address."""
    a = inet_aton(name)
    if a is not None:
        return a
    hosts = getattr(getattr(ns, "sockets", None), "hosts", {})
    if name.lower() in hosts:
        return int(hosts[name.lower()])
    lab = getattr(ns, "lab", None)
    node = getattr(lab, "nodes", {}).get(name) if lab is not None else None
    if node is not None:
        addr = node.first_address()
        if addr is not None:
            return int(addr)
        raise HostError("No address associated with hostname")
    raise HostError("Name or service not known")


def reverse_name(ns: Namespace, addr: int) -> str | None:
    """getnameinfo(NI_NAMEREQD): the hosts table's name for ``addr`` (no DNS in tuxnet)."""
    hosts = getattr(getattr(ns, "sockets", None), "hosts", {})
    for name, a in hosts.items():
        if a == addr:
            return str(name)
    return None


def in_cksum(data: bytes | bytearray) -> int:
    """The Internet checksum of ``data`` (0 when a received message is intact)."""
    if len(data) % 2:
        data = bytes(data) + b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def format_triptime(t: int) -> str:
    """gather_statistics' " time=..." for a round trip of ``t`` microseconds."""
    if t >= 100000 - 50:
        return f" time={(t + 500) // 1000} ms"
    if t >= 10000 - 5:
        return f" time={(t + 50) // 1000}.{((t + 50) % 1000) // 100} ms"
    if t >= 1000:
        return f" time={(t + 5) // 1000}.{((t + 5) % 1000) // 10:02d} ms"
    return f" time={t // 1000}.{t % 1000:03d} ms"


def llsqrt(a: int) -> int:
    prev = LONG_MAX
    x = a
    if x > 0:
        while x < prev:
            prev = x
            x = (x + a // x) // 2
    return x


def c_g(v: float) -> str:
    """printf("%g", (float)v)."""
    v = struct.unpack("f", struct.pack("f", v))[0]
    s = f"{v:.6g}"
    if "e" in s:
        mant, exp = s.split("e")
        s = f"{mant}e{int(exp):+03d}"
    return s


# ---------------------------------------------------------------------------------- ping_rts
class PingRts:
    """struct ping_rts with ping_common.c's functions; ping.py's ``Ping4`` adds the IPv4 parts."""

    def __init__(self, ns: Namespace, out: TextIO, err: TextIO) -> None:
        self.ns = ns
        self.out = out
        self.err = err
        self.uid = ns.sockets.cred.uid
        self.opt: set[str] = set()  # the flag options given (getopt letters)
        self.interval = 1000  # ms
        self.preload = 1
        self.lingertime = MAXWAIT * 1000  # ms
        self.npackets = 0
        self.deadline = 0
        self.datalen = 56
        self.timing = False
        self.multicast = False
        self.hostname = ""
        self.outpack = bytearray()
        self.sock: Socket | None = None
        self.socktype = SOCK_RAW
        # statistics
        self.ntransmitted = self.nreceived = self.nrepeats = self.nchecksum = self.nerrors = 0
        self.tmin = LONG_MAX
        self.tmax = 0
        self.tsum = self.tsum2 = 0
        self.rtt = 0
        self.rtt_addend = 0
        self.acked = 0
        self.pipesize = -1
        self.rcvd = bytearray(MAX_DUP_CHK // 8)
        # time and control
        self.start_ns = 0
        self.cur_ns = 0
        self.cur_set = False
        self.tokens = 0
        self.oom_count = 0
        self.waittime = 0
        self.exiting = False
        self.last_send_ns = -1
        self._intr: asyncio.Future[None] | None = None
        self.timers: list[Any] = []

    # ------------------------------------------------------------ IPv4 parts (ping.py)
    def send_probe(self) -> int:
        raise NotImplementedError

    def receive_error_msg(self, saved_errno: int) -> tuple[int, int]:
        raise NotImplementedError

    def parse_reply(self, packet: bytes, from_addr: int, anc: list[Any], tv: tuple[int, int]) -> int:
        raise NotImplementedError

    def pr_addr(self, addr: int) -> str:
        """_pr_addr: "name (address)" when a reverse lookup gives a name, else the address."""
        a = ip_ntoa(addr)
        if not self.exiting and "n" not in self.opt:
            name = reverse_name(self.ns, addr)
            if name and name != a:
                return f"{name} ({a})"
        return a

    # ------------------------------------------------------------ ping.h
    def rcvd_test(self, seq: int) -> bool:
        bit = seq % MAX_DUP_CHK
        return bool(self.rcvd[bit >> 3] & (1 << (bit & 7)))

    def rcvd_set(self, seq: int) -> None:
        bit = seq % MAX_DUP_CHK
        self.rcvd[bit >> 3] |= 1 << (bit & 7)

    def rcvd_clear(self, seq: int) -> None:
        bit = seq % MAX_DUP_CHK
        self.rcvd[bit >> 3] &= ~(1 << (bit & 7)) & 0xFF

    def in_flight(self) -> int:
        diff = (self.ntransmitted - self.acked) & 0xFFFF
        return diff if diff <= 0x7FFF else self.ntransmitted - self.nreceived - self.nerrors

    def acknowledge(self, seq: int) -> None:
        diff = (self.ntransmitted - seq) & 0xFFFF
        if diff <= 0x7FFF:
            if diff + 1 > self.pipesize:
                self.pipesize = diff + 1
            ahead = (seq - self.acked) & 0xFFFF
            if 0 < ahead < 0x8000 or ((self.ntransmitted - self.acked) & 0xFFFF) > 0x7FFF:
                self.acked = seq

    def advance_ntransmitted(self) -> None:
        self.ntransmitted += 1
        if ((self.ntransmitted - self.acked) & 0xFFFF) > 0x7FFF:
            self.acked = (self.ntransmitted + 1) & 0xFFFF

    def ms_since(self, then_ns: int) -> int:
        """(tv.tv_sec - cur.tv_sec) * 1000 + (tv.tv_nsec - cur.tv_nsec) / 1000000, in C."""
        now = self.ns.loop.now_ns
        dsec = now // 1_000_000_000 - then_ns // 1_000_000_000
        dnsec = now % 1_000_000_000 - then_ns % 1_000_000_000
        return dsec * 1000 + int(dnsec / 1_000_000)

    def gettimeofday(self) -> tuple[int, int]:
        us = self.ns.loop.now_ns // 1000
        return us // 1_000_000, us % 1_000_000

    def print_timestamp(self) -> None:
        if "D" in self.opt:
            sec, usec = self.gettimeofday()
            self.out.write(f"[{sec}.{usec:06d}] ")

    # ------------------------------------------------------------ signals and waiting
    def sigexit(self) -> None:
        self.exiting = True
        if self._intr is not None and not self._intr.done():
            self._intr.set_result(None)

    def setitimer(self, ms: int) -> None:
        self.timers.append(self.ns.loop.call_later_ns(ms * 1_000_000, self.sigexit))

    async def wait_sock(self, timeout_ms: int | None) -> int:
        """poll({fd, POLLIN}, timeout): revents (POLLIN/POLLERR), 0 on timeout, -1 on EINTR."""
        sock = self.sock
        assert sock is not None
        mask = sock.poll() & (EPOLLIN | EPOLLERR)
        if mask:
            return mask
        if self.exiting:
            return -1
        if timeout_ms is not None and timeout_ms <= 0:
            return 0
        loop = self.ns.loop
        fut: asyncio.Future[None] = loop.create_future()

        def wake(_key: int = 0) -> None:
            if not fut.done():
                fut.set_result(None)

        entry = sock.wq.add(EPOLLIN | EPOLLERR, wake)
        timer = loop.call_later_ns(timeout_ms * 1_000_000, wake) if timeout_ms is not None else None
        self._intr = fut
        try:
            await fut
        finally:
            self._intr = None
            sock.wq.remove(entry)
            if timer is not None:
                timer.cancel()
        if self.exiting:
            return -1
        return sock.poll() & (EPOLLIN | EPOLLERR)

    # ------------------------------------------------------------ pinger
    def pinger(self) -> int:
        """pinger: send a probe if the token bucket allows; the ms until the next one."""
        if self.exiting or (self.npackets and self.ntransmitted >= self.npackets and not self.deadline):
            return 1000
        if not self.cur_set:
            self.cur_set = True
            self.cur_ns = self.ns.loop.now_ns
            self.tokens = self.interval * (self.preload - 1)
        else:
            ntokens = self.ms_since(self.cur_ns)
            if not self.interval and ntokens < MIN_INTERVAL_MS and self.in_flight() >= self.preload:
                return MIN_INTERVAL_MS - ntokens  # unlimited flood: 100/s while no replies come
            ntokens += self.tokens
            ntokens = min(ntokens, self.interval * self.preload)
            if ntokens < self.interval:
                return self.interval - ntokens
            self.cur_ns = self.ns.loop.now_ns
            self.tokens = ntokens - self.interval
        if "O" in self.opt and self.ntransmitted > 0 and not self.rcvd_test(self.ntransmitted):
            self.print_timestamp()
            self.out.write(f"no answer yet for icmp_seq={self.ntransmitted % MAX_DUP_CHK}\n")
        while True:
            e = self.send_probe()
            if e == 0:
                self.oom_count = 0
                self.advance_ntransmitted()
                if "q" not in self.opt and "f" in self.opt:
                    self.out.write(".")
                return self.interval - self.tokens
            i = -1
            if e in (errno.ENOBUFS, errno.ENOMEM):
                # device queue overflow: not sent; slow down (only -A adapts the interval)
                self.tokens = 0
                self.rtt_addend += self.rtt // 8 if self.rtt < 8 * 50000 else 50000
                if "A" in self.opt:
                    self.update_interval()
                nores = min(schint(self.interval // 2), 500)
                self.oom_count += 1
                if self.oom_count * nores < self.lingertime:
                    return nores
                i = 0
            elif e == errno.EAGAIN:
                self.tokens += self.interval
                return MIN_INTERVAL_MS
            else:
                i, e = self.receive_error_msg(e)
                if i > 0:
                    i = 0  # an ICMP error came back too: report the send error
                elif not e:
                    continue  # resend
            break
        # hard local error: pretend the packet was sent
        self.advance_ntransmitted()
        if i == 0 and "q" not in self.opt:
            if "f" in self.opt:
                self.out.write("E")
            else:
                self.err.write(f"ping: sendmsg: {os.strerror(e)}\n")
        self.tokens = 0
        return schint(self.interval)

    def update_interval(self) -> None:
        est = self.rtt // 8 if self.rtt else self.interval * 1000
        self.interval = (est + self.rtt_addend + 500) // 1000
        if self.uid and self.interval < MIN_USER_INTERVAL_MS:
            self.interval = MIN_USER_INTERVAL_MS

    def schedule_exit(self, nxt: int) -> int:
        """schedule_exit / __schedule_exit: once all is sent, linger and then exit (SIGALRM)."""
        if self.npackets and self.ntransmitted >= self.npackets and not self.deadline:
            if self.waittime:
                return nxt
            if self.nreceived:
                self.waittime = max(2 * self.tmax, 1000 * self.interval)
            else:
                self.waittime = self.lingertime * 1000
            if nxt < 0 or nxt < self.waittime // 1000:
                nxt = self.waittime // 1000
            self.setitimer(self.waittime // 1000)
        return nxt

    # ------------------------------------------------------------ main loop
    async def main_loop(self) -> int:
        sock = self.sock
        assert sock is not None
        loop = self.ns.loop
        packlen = self.datalen + MAXIPLEN + MAXICMPLEN
        while True:
            if self.exiting:
                break
            if self.npackets and self.nreceived + self.nerrors >= self.npackets:
                break
            if self.deadline and self.nerrors:
                break
            if loop.now_ns == self.last_send_ns and not self.in_flight() and not sock.poll() & EPOLLIN:
                await asyncio.sleep(SEND_COST_NS / 1e9)
            while True:
                nxt = self.schedule_exit(self.pinger())
                if nxt > 0:
                    break
            polling = 0
            recv_error = 0
            if "A" in self.opt or nxt < schint(self.interval):
                if nxt <= 1000 // HZ:
                    if self.in_flight():
                        nxt = MIN_INTERVAL_MS
                    else:
                        # iputils spins on non-blocking reads until the next send; in virtual
                        # time that is a wait for data or for the send time
                        polling = MSG_DONTWAIT
                        if await self.wait_sock(nxt) <= 0:
                            continue
                if not polling:
                    rev = await self.wait_sock(nxt)
                    if rev <= 0:
                        continue
                    polling = MSG_DONTWAIT
                    recv_error = rev & EPOLLERR
            while True:
                try:
                    if polling:
                        data, anc, _fl, addr = sock.recvmsg(packlen, 4096, MSG_DONTWAIT)
                    else:
                        data, anc, _fl, addr = await self.blocking_recv(packlen)
                    exc = None
                except OSError as e:
                    exc = e
                polling = MSG_DONTWAIT
                if exc is not None:
                    if (exc.errno == errno.EAGAIN and not recv_error) or exc.errno == errno.EINTR:
                        break
                    recv_error = 0
                    r, e2 = self.receive_error_msg(exc.errno or 0)
                    if not r and e2:
                        self.err.write(f"ping: recvmsg: {os.strerror(e2)}\n")
                        break
                else:
                    # a reply of another ping on this host (raw sockets see them all) is skipped
                    # by parse_reply; iputils then installs a BPF filter doing the same check
                    self.parse_reply(data, inet_aton(addr[0]) or 0 if addr else 0, anc, self.gettimeofday())
                if self.in_flight() == 0:
                    break
        return self.finish()

    async def blocking_recv(self, packlen: int) -> tuple[bytes, list[Any], int, Any]:
        """recvmsg without MSG_DONTWAIT, bounded by SO_RCVTIMEO = SCHINT(interval); EINTR on exit."""
        sock = self.sock
        assert sock is not None
        try:
            return sock.recvmsg(packlen, 4096, 0)
        except BlockingIOError:
            pass
        if await self.wait_sock(schint(self.interval)) < 0:
            raise OSError(errno.EINTR, os.strerror(errno.EINTR))
        return sock.recvmsg(packlen, 4096, 0)

    # ------------------------------------------------------------ statistics
    def gather_statistics(self, icp: bytes, cc: int, seq: int, hops: int, csfailed: bool,
                          tv: tuple[int, int], frm: str, wrong_source: bool) -> int:
        """gather_statistics: count, time and print one reply; 1 when the caller prints no more."""
        self.nreceived += 1
        if not csfailed:
            self.acknowledge(seq)
        triptime = 0
        if self.timing and cc >= 8 + _TIMEVAL.size:
            sec, usec = _TIMEVAL.unpack_from(icp, 8)
            triptime = (tv[0] - sec) * 1_000_000 + (tv[1] - usec)
            if triptime < 0:
                self.err.write(f"ping: Warning: time of day goes back ({triptime}us), taking "
                               "countermeasures\n")
                triptime = 0
            if not csfailed:
                self.tsum += triptime
                self.tsum2 += triptime * triptime
                self.tmin = min(self.tmin, triptime)
                self.tmax = max(self.tmax, triptime)
                self.rtt = triptime * 8 if not self.rtt else self.rtt + triptime - self.rtt // 8
                if "A" in self.opt:
                    self.update_interval()
        dupflag = False
        if csfailed:
            self.nchecksum += 1
            self.nreceived -= 1
        elif self.rcvd_test(seq):
            self.nrepeats += 1
            self.nreceived -= 1
            dupflag = True
        else:
            self.rcvd_set(seq)
        if "q" in self.opt:
            return 1
        out = self.out
        if "f" in self.opt:
            out.write("\b \b" if not csfailed else "\bC")
            return 0
        self.print_timestamp()
        out.write(f"{cc} bytes from {frm}: icmp_seq={seq}")
        if hops >= 0:
            out.write(f" ttl={hops}")
        if cc < self.datalen + 8:
            out.write(" (truncated)\n")
            return 1
        if self.timing:
            out.write(format_triptime(triptime))
        if dupflag and (not self.multicast or "v" in self.opt):
            out.write(" (DUP!)")
        if csfailed:
            out.write(" (BAD CHECKSUM!)")
        if wrong_source:
            out.write(" (DIFFERENT ADDRESS!)")
        got = bytes(icp[8 + 16:8 + self.datalen])
        want = bytes(self.outpack[16:self.datalen])
        if got != want:
            i = next(k for k in range(len(want)) if k >= len(got) or got[k] != want[k])
            out.write(f"\nwrong data byte #{i + 16} should be 0x{want[i]:x} but was "
                      f"0x{got[i] if i < len(got) else 0:x}")
            for k in range(16, self.datalen):
                if k % 32 == 16:
                    out.write(f"\n#{k}\t")
                out.write(f"{icp[8 + k] if 8 + k < len(icp) else 0:x} ")
        return 0

    def finish(self) -> int:
        """finish: print the statistics; the exit status."""
        out = self.out
        t_ns = self.cur_ns - self.start_ns if self.cur_set else 0
        out.write("\n")
        out.write(f"--- {self.hostname} ping statistics ---\n")
        out.write(f"{self.ntransmitted} packets transmitted, {self.nreceived} received")
        if self.nrepeats:
            out.write(f", +{self.nrepeats} duplicates")
        if self.nchecksum:
            out.write(f", +{self.nchecksum} corrupted")
        if self.nerrors:
            out.write(f", +{self.nerrors} errors")
        if self.ntransmitted:
            loss = (self.ntransmitted - self.nreceived) * 100.0 / self.ntransmitted
            ms = (t_ns // 1_000_000_000) * 1000 + (t_ns % 1_000_000_000 + 500_000) // 1_000_000
            out.write(f", {c_g(loss)}% packet loss, time {ms}ms")
        out.write("\n")
        comma = ""
        if self.nreceived and self.timing:
            total = self.nreceived + self.nrepeats
            tmavg = self.tsum // total
            if self.tsum < INT_MAX:
                # "this slightly clumsy computation order is important to avoid integer rounding
                # errors for small ping times"
                tmvar = (self.tsum2 - (self.tsum * self.tsum) // total) // total
            else:
                tmvar = self.tsum2 // total - tmavg * tmavg
            tmdev = llsqrt(tmvar)
            out.write(f"rtt min/avg/max/mdev = {self.tmin // 1000}.{self.tmin % 1000:03d}/"
                      f"{tmavg // 1000}.{tmavg % 1000:03d}/{self.tmax // 1000}.{self.tmax % 1000:03d}/"
                      f"{tmdev // 1000}.{tmdev % 1000:03d} ms")
            comma = ", "
        if self.pipesize > 1:
            out.write(f"{comma}pipe {self.pipesize}")
            comma = ", "
        if self.nreceived and (not self.interval or {"f", "A"} & self.opt) and self.ntransmitted > 1:
            ipg = (t_ns // 1000) // (self.ntransmitted - 1)
            out.write(f"{comma}ipg/ewma {ipg // 1000}.{ipg % 1000:03d}/{self.rtt // 8000}."
                      f"{(self.rtt // 8) % 1000:03d} ms")
        out.write("\n")
        return int(not self.nreceived or bool(self.deadline and self.nreceived < self.npackets))
