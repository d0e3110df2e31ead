"""nc(1) as Debian 12's netcat-openbsd 1.219 runs it for IPv4 TCP and UDP, in a tuxnet namespace.

Mirrors netcat.c: main's option rules, remote_connect/connect_with_timeout (non-blocking connect,
-w bounding it), local_listen (SO_REUSEADDR and SO_REUSEPORT, listen(1)), the UDP listener's
recvfrom(MSG_PEEK) and connect() to its first peer (-k: recvfrom/sendto with every peer),
readwrite's loop (-N shutdown after EOF on stdin, -q, -w idle timeout, -W receive limit, -C CRLF,
-i line delay), udptest (the "X" probes that make ``-u -v`` report a port), build_ports (lists,
ranges lo-hi, service names, -r shuffled with the namespace's random generator) and the messages:
"Listening on 0.0.0.0 9999", "Bound on 0.0.0.0 9999", "Connection received on 10.0.1.2 40000",
"Connection to 10.0.2.2 53 port [udp/domain] succeeded!", "nc: connect to 10.0.2.2 port 80 (tcp)
failed: Connection refused", "... timed out: Operation now in progress", usage errors with exit 1.
TCP goes through the namespace's socket API (SOCK_STREAM), UDP through SOCK_DGRAM sockets.

tuxnet addition: tools have no standard input, so ``--send TEXT`` (or ``--send=TEXT``, repeatable)
stands for it: stdin then holds TEXT plus a newline for each --send, as ``echo TEXT | nc ...`` would
give, and reaches EOF after it; without --send stdin is empty (as ``nc ... </dev/null``). Data
received is written to the tool's output, decoded as UTF-8 (bytes that are not become U+FFFD).

Where tuxnet differs, and why: no DNS (numeric hosts, the hosts table and lab node names; reverse
lookups give the address, as netcat prints it when they fail), no IPv6, UNIX sockets, proxies, DCCP,
TCP MD5 or routing tables (-6 -U -x -X -Z -S -V -F report that); being cancelled (``timeout``) ends
nc as a signal does.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
from typing import TYPE_CHECKING, Any, TextIO

from tuxnet.sock.constants import (
    AF_INET,
    EPOLLERR,
    EPOLLHUP,
    EPOLLIN,
    EPOLLOUT,
    IP_TOS,
    IP_TTL,
    IPPROTO_TCP,
    IPPROTO_UDP,
    MSG_PEEK,
    SHUT_RD,
    SHUT_WR,
    SO_BROADCAST,
    SO_DEBUG,
    SO_ERROR,
    SO_RCVBUF,
    SO_REUSEADDR,
    SO_REUSEPORT,
    SO_SNDBUF,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOL_IP,
    SOL_SOCKET,
)
from tuxnet.tools.ping_common import Exit, HostError, getopt, inet_aton, resolve_host
from tuxnet.wire.addr import ip_ntoa

if TYPE_CHECKING:
    from tuxnet.netns import Namespace
    from tuxnet.socket import Socket

USAGE = ("usage: nc [-46CDdFhklNnrStUuvZz] [-I length] [-i interval] [-M ttl]\n"
         "\t  [-m minttl] [-O length] [-P proxy_username] [-p source_port]\n"
         "\t  [-q seconds] [-s sourceaddr] [-T keyword] [-V rtable] [-W recvlimit]\n"
         "\t  [-w timeout] [-X proxy_protocol] [-x proxy_address[:port]]\n"
         "\t  [destination] [port]\n")
HELP = ("\tCommand Summary:\n\t\t-4\t\tUse IPv4\n\t\t-6\t\tUse IPv6\n\t\t-b\t\tAllow broadcast\n"
        "\t\t-C\t\tSend CRLF as line-ending\n\t\t-D\t\tEnable the debug socket option\n"
        "\t\t-d\t\tDetach from stdin\n\t\t-F\t\tPass socket fd\n\t\t-h\t\tThis help text\n"
        "\t\t-I length\tTCP receive buffer length\n"
        "\t\t-i interval\tDelay interval for lines sent, ports scanned\n"
        "\t\t-k\t\tKeep inbound sockets open for multiple connects\n"
        "\t\t-l\t\tListen mode, for inbound connects\n\t\t-M ttl\t\tOutgoing TTL / Hop Limit\n"
        "\t\t-m minttl\tMinimum incoming TTL / Hop Limit\n"
        "\t\t-N\t\tShutdown the network socket after EOF on stdin\n"
        "\t\t-n\t\tSuppress name/port resolutions\n\t\t-O length\tTCP send buffer length\n"
        "\t\t-P proxyuser\tUsername for proxy authentication\n"
        "\t\t-p port\t\tSpecify local port for remote connects\n"
        "\t\t-q secs\t\tquit after EOF on stdin and delay of secs\n\t\t-r\t\tRandomize remote ports\n"
        "\t\t-S\t\tEnable the TCP MD5 signature option\n\t\t-s sourceaddr\tLocal source address\n"
        "\t\t-T keyword\tTOS value\n\t\t-t\t\tAnswer TELNET negotiation\n"
        "\t\t-U\t\tUse UNIX domain socket\n\t\t-u\t\tUDP mode\n"
        "\t\t-V rtable\tSpecify alternate routing table\n\t\t-v\t\tVerbose\n"
        "\t\t-W recvlimit\tTerminate after receiving a number of packets\n"
        "\t\t-w timeout\tTimeout for connects and final net reads\n"
        "\t\t-X proto\tProxy protocol: \"4\", \"5\" (SOCKS) or \"connect\"\n"
        "\t\t-x addr[:port]\tSpecify proxy address and port\n\t\t-Z\t\tDCCP mode\n"
        "\t\t-z\t\tZero-I/O mode [used for scanning]\n"
        "\tPort numbers can be individual or ranges: lo-hi [inclusive]\n")
OPTSTRING = "46bCDdFhI:i:klM:m:NnO:P:p:q:rSs:T:tUuV:vW:w:X:x:Zz"
BUFSIZE = 65536
UDP_SCAN_TIMEOUT = 3  # s
CONNECTION_SUCCESS, CONNECTION_FAILED, CONNECTION_TIMEOUT = 0, 1, 2
SYSCALL_GAP_NS = 1000  # time the process takes between two system calls (virtual time must pass)
# /etc/services (Debian 12) for the ports people use in labs
SERVICES = {
    (7, "tcp"): "echo", (7, "udp"): "echo", (9, "tcp"): "discard", (9, "udp"): "discard",
    (13, "tcp"): "daytime", (13, "udp"): "daytime", (19, "tcp"): "chargen", (19, "udp"): "chargen",
    (20, "tcp"): "ftp-data", (21, "tcp"): "ftp", (21, "udp"): "fsp", (22, "tcp"): "ssh",
    (23, "tcp"): "telnet", (25, "tcp"): "smtp", (37, "tcp"): "time", (37, "udp"): "time",
    (43, "tcp"): "whois", (53, "tcp"): "domain", (53, "udp"): "domain", (67, "udp"): "bootps",
    (68, "udp"): "bootpc", (69, "udp"): "tftp", (70, "tcp"): "gopher", (79, "tcp"): "finger",
    (80, "tcp"): "http", (88, "tcp"): "kerberos", (88, "udp"): "kerberos", (110, "tcp"): "pop3",
    (111, "tcp"): "sunrpc", (111, "udp"): "sunrpc", (113, "tcp"): "auth", (119, "tcp"): "nntp",
    (123, "udp"): "ntp", (137, "udp"): "netbios-ns", (138, "udp"): "netbios-dgm",
    (139, "tcp"): "netbios-ssn", (143, "tcp"): "imap2", (161, "tcp"): "snmp", (161, "udp"): "snmp",
    (162, "tcp"): "snmp-trap", (162, "udp"): "snmp-trap", (179, "tcp"): "bgp", (389, "tcp"): "ldap",
    (389, "udp"): "ldap", (443, "tcp"): "https", (443, "udp"): "https", (445, "tcp"): "microsoft-ds",
    (465, "tcp"): "submissions", (514, "tcp"): "shell", (514, "udp"): "syslog", (520, "udp"): "route",
    (587, "tcp"): "submission", (631, "tcp"): "ipp", (636, "tcp"): "ldaps", (636, "udp"): "ldaps",
    (873, "tcp"): "rsync", (993, "tcp"): "imaps", (995, "tcp"): "pop3s", (1812, "tcp"): "radius",
    (1812, "udp"): "radius", (3306, "tcp"): "mysql", (5353, "udp"): "mdns", (5432, "tcp"): "postgresql",
    (6379, "tcp"): "redis", (8080, "tcp"): "http-alt",
}
TOS_KEYWORDS = {"af11": 0x28, "af12": 0x30, "af13": 0x38, "af21": 0x48, "af22": 0x50, "af23": 0x58,
                "af31": 0x68, "af32": 0x70, "af33": 0x78, "af41": 0x88, "af42": 0x90, "af43": 0x98,
                "critical": 0xA0, "cs0": 0x00, "cs1": 0x20, "cs2": 0x40, "cs3": 0x60, "cs4": 0x80,
                "cs5": 0xA0, "cs6": 0xC0, "cs7": 0xE0, "ef": 0xB8, "inetcontrol": 0xC0, "lowcost": 0x02,
                "lowdelay": 0x10, "netcontrol": 0xE0, "reliability": 0x04, "throughput": 0x08}


def strtonum(text: str, lo: int, hi: int) -> tuple[int, str | None]:
    """OpenBSD strtonum: (value, None) or (0, "invalid" | "too small" | "too large")."""
    if not re.fullmatch(r"\s*[+-]?\d+", text):
        return 0, "invalid"
    v = int(text)
    if v < lo:
        return 0, "too small"
    if v > hi:
        return 0, "too large"
    return v, None


class Nc:
    """netcat.c's globals and functions."""

    def __init__(self, ns: Namespace, out: TextIO, err: TextIO) -> None:
        self.ns = ns
        self.out = out
        self.err = err
        self.f: set[str] = set()  # flag options
        self.iflag = 0
        self.pflag: str | None = None
        self.sflag: str | None = None
        self.qflag = -1
        self.recvlimit = 0
        self.recvcount = 0
        self.timeout = -1  # ms
        self.ttl = -1
        self.minttl = -1
        self.tos = -1
        self.rcvbuf = 0
        self.sndbuf = 0
        self.stdin = b""
        self.ctrld_seen = False
        self.peer: tuple[str, int] | None = None  # the -k recvfrom/sendto peer
        self.peer_reported: tuple[str, int] | None = None
        self.socks: list[Socket] = []

    @property
    def proto(self) -> str:
        return "udp" if "u" in self.f else "tcp"

    def warn(self, text: str, e: int | None = None) -> None:
        self.err.write(f"nc: {text}" + (f": {os.strerror(e)}" if e is not None else "") + "\n")

    def fail(self, text: str, e: int | None = None) -> Exit:
        self.warn(text, e)
        return Exit(1)

    def socket(self) -> Socket:
        stype = SOCK_DGRAM if "u" in self.f else SOCK_STREAM
        s = self.ns.sockets.socket(AF_INET, stype, IPPROTO_UDP if "u" in self.f else IPPROTO_TCP)
        self.socks.append(s)
        return s

    def set_common_sockopts(self, s: Socket) -> None:
        try:
            if "b" in self.f:
                s.setsockopt(SOL_SOCKET, SO_BROADCAST, 1)
            if "D" in self.f:
                s.setsockopt(SOL_SOCKET, SO_DEBUG, 1)
        except OSError as e:
            raise self.fail("setsockopt", e.errno) from None  # err(1, NULL)
        for cond, level, opt, val, what in (
                (self.tos != -1, SOL_IP, IP_TOS, self.tos, "set IP ToS"),
                (bool(self.rcvbuf), SOL_SOCKET, SO_RCVBUF, self.rcvbuf, "set TCP receive buffer size"),
                (bool(self.sndbuf), SOL_SOCKET, SO_SNDBUF, self.sndbuf, "set TCP send buffer size"),
                (self.ttl != -1, SOL_IP, IP_TTL, self.ttl, "set IP TTL"),
                (self.minttl != -1, SOL_IP, 21, self.minttl, "set IP min TTL")):  # 21: IP_MINTTL
            if cond:
                try:
                    s.setsockopt(level, opt, val)
                except OSError as e:
                    raise self.fail(what, e.errno) from None

    def service(self, port: int) -> str:
        return "*" if "n" in self.f else SERVICES.get((port, self.proto), "*")

    def report_sock(self, msg: str, addr: tuple[str, int]) -> None:
        # getnameinfo without a name falls back to the number: tuxnet has no reverse DNS
        self.err.write(f"{msg} {addr[0]} {addr[1]}\n")

    # ------------------------------------------------------------ ports and hosts
    def strtoport(self, text: str) -> int:
        v, e = strtonum(text, 1, 65535)
        if e is not None:
            raise self.fail(f"port number {e}: {text}")
        return v

    def build_ports(self, specs: list[str]) -> list[int]:
        ports: list[int] = []
        by_name = {(n, p): port for (port, p), n in SERVICES.items()}
        for spec in specs:
            if (spec, self.proto) in by_name:
                ports.append(by_name[(spec, self.proto)])
            elif spec[:1].isdigit() and "-" in spec:
                lo_s, hi_s = spec.split("-", 1)
                hi, lo = self.strtoport(hi_s), self.strtoport(lo_s)
                lo, hi = min(lo, hi), max(lo, hi)
                ports.extend(range(lo, hi + 1))
            else:
                ports.append(self.strtoport(spec))
        if "r" in self.f:
            for i in range(len(ports) - 1, 0, -1):  # Fisher-Yates, arc4random_uniform
                j = self.ns.rng.randrange(i + 1)
                ports[i], ports[j] = ports[j], ports[i]
        return ports

    def getaddr(self, host: str, port: str) -> int:
        try:
            if "n" in self.f and inet_aton(host) is None:
                raise HostError("Name or service not known")
            return resolve_host(self.ns, host)
        except HostError as e:
            raise self.fail(f"getaddrinfo for host \"{host}\" port {port}: {e}") from None

    # ------------------------------------------------------------ client
    async def connect_with_timeout(self, s: Socket, addr: tuple[str, int]) -> tuple[int, int]:
        """(CONNECTION_*, errno): a non-blocking connect, select()ed for writability up to -w."""
        s.setblocking(False)
        try:
            s.connect(addr)
            return CONNECTION_SUCCESS, 0
        except BlockingIOError as e:
            if e.errno != errno.EINPROGRESS:
                return CONNECTION_FAILED, e.errno or 0
        except OSError as e:
            return CONNECTION_FAILED, e.errno or 0
        mask = await s.wait_writable(self.timeout / 1000 if self.timeout > 0 else None)
        if not mask:
            return CONNECTION_TIMEOUT, errno.EINPROGRESS
        err = int(s.getsockopt(SOL_SOCKET, SO_ERROR))
        return (CONNECTION_FAILED, err) if err else (CONNECTION_SUCCESS, 0)

    async def remote_connect(self, host: str, port: int) -> Socket | None:
        daddr = self.getaddr(host, str(port))
        s = self.socket()
        if self.sflag or self.pflag:
            src = 0
            if self.sflag:
                src = self.getaddr(self.sflag, self.pflag or "0")
            sport = self.strtoport(self.pflag) if self.pflag else 0
            try:
                s.bind((ip_ntoa(src), sport))
            except OSError as e:
                raise self.fail("bind failed", e.errno) from None
        self.set_common_sockopts(s)
        res, e = await self.connect_with_timeout(s, (ip_ntoa(daddr), port))
        if res == CONNECTION_SUCCESS:
            s.setblocking(True)
            return s
        if "v" in self.f:
            what = "timed out" if res == CONNECTION_TIMEOUT else "failed"
            ipaddr = ip_ntoa(daddr)
            if "n" in self.f or host == ipaddr:
                self.warn(f"connect to {host} port {port} ({self.proto}) {what}", e)
            else:
                self.warn(f"connect to {host} ({ipaddr}) port {port} ({self.proto}) {what}", e)
        s.close()
        return None

    async def udptest(self, s: Socket) -> int:
        """udptest: a few "X" datagrams; a refused one (ICMP port unreachable) means closed."""
        def write() -> int:
            try:
                s.send(b"X")
                return 0
            except OSError as e:
                return e.errno or errno.EIO

        if write():
            return -1
        # the next write() follows a syscall later: by then a LAN's port unreachable is back
        await asyncio.sleep(SYSCALL_GAP_NS / 1e9)
        if write() == errno.ECONNREFUSED:
            return -1
        t = UDP_SCAN_TIMEOUT if self.timeout == -1 else self.timeout // 1000
        for _ in range(t):
            await asyncio.sleep(1)
            if write() == errno.ECONNREFUSED:
                return -1
        return 1

    def connection_info(self, host: str, port: int, ipaddr: str) -> None:
        s = f"Connection to {host}"
        if "n" not in self.f and host != ipaddr:
            s += f" ({ipaddr})"
        self.err.write(f"{s} {port} port [{self.proto}/{self.service(port)}] succeeded!\n")

    async def client(self, host: str, port_specs: list[str]) -> int:
        ret = 1
        ports = self.build_ports(port_specs)
        for i, port in enumerate(ports):
            if i and self.iflag:
                await asyncio.sleep(self.iflag)
            s = await self.remote_connect(host, port)
            if s is None:
                continue
            ret = 0
            if "v" in self.f:
                info = 1
                if "u" in self.f:
                    info = await self.udptest(s)
                    if info == -1:
                        ret = 1
                        s.close()
                        continue
                if info == 1:
                    self.connection_info(host, port, ip_ntoa(self.getaddr(host, str(port))))
            if "z" not in self.f:
                await self.readwrite(s)
            s.close()
        return ret

    # ------------------------------------------------------------ listener
    async def listener(self, host: str | None, port_spec: str) -> int:
        port = self.strtoport(port_spec) if port_spec else 0
        addr = self.getaddr(host, port_spec) if host else 0
        s = self.socket()
        s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        s.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1)
        self.set_common_sockopts(s)
        try:
            s.bind((ip_ntoa(addr), port))
        except OSError as e:
            # local_listen returns -1 and main calls err(1, NULL): errno's text alone
            self.err.write(f"nc: {e.strerror}\n")
            raise Exit(1) from None
        udp = "u" in self.f
        if not udp:
            s.listen(1)
        if "v" in self.f:
            self.report_sock("Bound on" if udp else "Listening on", s.getsockname())
        while True:
            if udp:
                _data, peer = await recvfrom_peek(s)
                if "v" in self.f:
                    self.report_sock("Connection received on", peer)
                    self.peer_reported = peer
                if "k" in self.f:
                    self.peer = peer  # use_sendto_recvfrom
                else:
                    s.connect(peer)
                await self.readwrite(s)
            else:
                conn, peer = await self.ns.sock_accept(s)
                self.socks.append(conn)
                conn.setblocking(False)
                if "v" in self.f:
                    self.report_sock("Connection received on", peer)
                await self.readwrite(conn)
                conn.close()
            if "k" not in self.f:
                s.close()
                return 0

    # ------------------------------------------------------------ readwrite
    async def readwrite(self, s: Socket) -> None:
        """readwrite: stdin to the network, the network to stdout, until one of the ends is done.

        stdin is a pipe holding the --send text: readable at once (data, then EOF)."""
        stdin_open = "d" not in self.f
        pipe = self.stdin
        stdinbuf = b""
        netin = netout = True
        netout_events = False
        while True:
            if not stdin_open and not netin and not stdinbuf:
                if self.qflag <= 0:
                    return
                return await self.delay_exit(s)
            if (("l" in self.f and not netin) or self.ctrld_seen) and not stdinbuf:
                if self.qflag < 0 or not self.ctrld_seen:
                    return
                return await self.delay_exit(s)
            # poll(): the pipe is always readable; the socket reports what its mask says
            want = (EPOLLIN if netin else 0) | (EPOLLOUT if netout and netout_events else 0)
            mask = s.poll() if s.sk is not None else 0
            polled = netin or netout
            if not stdin_open and not (mask & (want | EPOLLERR | EPOLLHUP) and polled):
                if not polled:
                    return
                mask = await s.wait_event(want | EPOLLERR | EPOLLHUP,
                                          self.timeout / 1000 if self.timeout > 0 else None)
                if not mask:
                    return  # -w: "timeout happened"
            if not polled:
                mask = 0
            if mask & EPOLLERR:
                netin = netout = False
            if netin and mask & EPOLLHUP and not mask & EPOLLIN:
                netin = False
            if netout and mask & EPOLLHUP:
                if "N" in self.f:
                    s.shutdown(SHUT_WR)
                netout = False
            if not netout and stdin_open:
                stdin_open = False
            if stdin_open:  # fillbuf(stdin): everything the pipe holds, else EOF
                if pipe:
                    stdinbuf += pipe
                    pipe = b""
                else:
                    stdin_open = False
                    if self.qflag >= 0:
                        self.ctrld_seen = True
                if stdinbuf:
                    netout_events = True
            if netout and mask & EPOLLOUT and netout_events and stdinbuf:
                left = await self.drainbuf(s, stdinbuf)
                if left is None:
                    netout = False
                else:
                    stdinbuf = left
                if not stdinbuf:
                    netout_events = False
            if netin and mask & EPOLLIN:
                n = self.fillbuf(s)
                if n == -1:
                    netin = False
                elif n == 0:
                    try:
                        s.shutdown(SHUT_RD)
                    except OSError:
                        pass
                    netin = False
                if self.recvlimit > 0:
                    self.recvcount += 1
                    if self.recvcount >= self.recvlimit:
                        if netin:
                            s.shutdown(SHUT_RD)
                        netin = stdin_open = False
            if not stdin_open and not stdinbuf and netout:
                if "N" in self.f:
                    s.shutdown(SHUT_WR)
                netout = False

    def fillbuf(self, s: Socket) -> int:
        """Read once from the network and write it out: bytes read, 0 at EOF, -1 on error,
        -2 for nothing now (EAGAIN)."""
        try:
            if self.peer is not None:
                data, frm = s.recvfrom(BUFSIZE)
                if "v" in self.f and frm != self.peer_reported:
                    self.report_sock("Connection received on", frm)
                    self.peer_reported = frm
                self.peer = frm
            else:
                data = s.recv(BUFSIZE)
        except BlockingIOError:
            return -2
        except OSError:
            return -1
        if data:
            self.out.write(data.decode("utf-8", errors="replace"))
        return len(data)

    async def drainbuf(self, s: Socket, buf: bytes) -> bytes | None:
        """drainbuf: one write of stdin's buffer (one line with -C or -i, the LF sent as CRLF with
        -C); what is left, or None when the write failed."""
        oneline = 1 if (self.iflag or "C" in self.f) else 0
        lf = buf.find(b"\n") if oneline else -1
        if lf < 0:
            n, oneline = len(buf), 0
        elif "C" in self.f and (lf == 0 or buf[lf - 1:lf] != b"\r"):
            n, oneline = lf, 2
        else:
            n = lf + 1
        try:
            if n > 0:
                n = s.sendto(buf[:n], self.peer) if self.peer is not None else s.send(buf[:n])
            if oneline == 2:
                n += 1
                if self.peer is not None:
                    s.sendto(b"\r\n", self.peer)
                else:
                    s.send(b"\r\n")
        except BlockingIOError:
            return buf
        except OSError:
            return None
        if oneline and self.iflag:
            await asyncio.sleep(self.iflag)
        return buf[n:]

    async def delay_exit(self, s: Socket) -> None:
        if self.qflag == 0:
            raise Exit(0)
        s.close()
        await asyncio.sleep(self.qflag)
        raise Exit(0)  # quit(): SIGALRM exits 0


async def recvfrom_peek(s: Socket) -> tuple[bytes, tuple[str, int]]:
    """A blocking recvfrom(MSG_PEEK): the first datagram stays queued."""
    while True:
        try:
            data, _anc, _fl, addr = s.recvmsg(2048, 0, MSG_PEEK)
            return data, addr
        except BlockingIOError:
            await s.wait_readable()


def parse(nc: Nc, argv: list[str]) -> list[str]:
    """main's getopt loop and the tuxnet --send option."""
    args: list[str] = []
    stdin: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--send" and i + 1 < len(argv):
            stdin.append(argv[i + 1])
            i += 2
            continue
        if a.startswith("--send="):
            stdin.append(a[7:])
        elif a == "--send":
            nc.err.write("nc: option requires an argument -- 'send'\n" + USAGE)
            raise Exit(1)
        else:
            args.append(a)
        i += 1
    nc.stdin = "".join(t + "\n" for t in stdin).encode()
    opts, rest, bad = getopt(args, OPTSTRING)
    for c, arg in opts:
        if c in "bCDdklNnrtuvz4":
            nc.f.add(c)
        elif c in "6UZSFVXxP":
            what = {"6": "IPv6", "U": "UNIX domain sockets", "Z": "DCCP", "S": "TCP MD5 signatures",
                    "F": "passing file descriptors", "V": "alternate routing tables", "X": "proxies",
                    "x": "proxies", "P": "proxies"}[c]
            raise nc.fail(f"tuxnet has no {what} (-{c})")
        elif c == "h":
            nc.err.write("OpenBSD netcat (Debian patchlevel 1.219-1)\n" + USAGE + HELP)
            raise Exit(0)
        elif c in "iMmWwqIO":
            lim = {"i": (0, 2**32 - 1), "M": (0, 255), "m": (0, 255), "W": (1, 2**31 - 1),
                   "w": (0, (2**31 - 1) // 1000), "q": (-(2**31), 2**31 - 1), "I": (1, 65536 << 14),
                   "O": (1, 65536 << 14)}[c]
            v, e = strtonum(arg, *lim)
            if e is not None:
                name = {"i": "interval", "M": "ttl is", "m": "minttl is", "W": "receive limit",
                        "w": "timeout", "q": "quit timer", "I": "TCP receive window",
                        "O": "TCP send window"}[c]
                raise nc.fail(f"{name} {e}" if c in "Mm" else f"{name} {e}: {arg}")
            if c == "i":
                nc.iflag = v
            elif c == "M":
                nc.ttl = v
            elif c == "m":
                nc.minttl = v
            elif c == "W":
                nc.recvlimit = v
            elif c == "w":
                nc.timeout = v * 1000
            elif c == "q":
                nc.qflag = v
                if v >= 0:
                    nc.f.add("N")
            elif c == "I":
                nc.rcvbuf = v
            else:
                nc.sndbuf = v
        elif c == "p":
            nc.pflag = arg
        elif c == "s":
            nc.sflag = arg
        elif c == "T":
            if arg in TOS_KEYWORDS:
                nc.tos = TOS_KEYWORDS[arg]
            else:
                try:
                    nc.tos = int(arg, 16) if arg[:2] == "0x" else int(arg)
                except ValueError:
                    nc.tos = -1
                if not 0 <= nc.tos <= 255 or not re.fullmatch(r"0x[0-9a-fA-F]+|\d+", arg):
                    raise nc.fail(f"illegal tos value {arg}")
    if bad is not None:
        nc.err.write(f"nc: {bad}\n{USAGE}")
        raise Exit(1)
    return rest


async def run(nc: Nc, argv: list[str]) -> int:
    rest = parse(nc, argv)
    host: str | None = None
    uport: list[str] = []
    if not rest and "l" in nc.f:
        uport = [nc.pflag] if nc.pflag else []
        host = nc.sflag
    elif len(rest) == 1 and not nc.pflag and not nc.sflag:
        if "l" in nc.f:
            uport = rest
    elif len(rest) >= 2:
        if "l" in nc.f and (nc.pflag or nc.sflag or len(rest) > 2):
            nc.err.write(USAGE)
            return 1
        host, uport = rest[0], rest[1:]
    else:
        nc.err.write(USAGE)
        return 1
    if not uport:
        raise nc.fail("missing port number")
    if "l" in nc.f and "z" in nc.f:
        raise nc.fail("cannot use -z and -l")
    if "l" not in nc.f and "k" in nc.f:
        raise nc.fail("must use -l with -k")
    if "l" in nc.f:
        return await nc.listener(host, uport[0])
    assert host is not None
    return await nc.client(host, uport)


async def main(ns: Namespace, argv: list[str], out: TextIO, err: TextIO) -> int:
    nc = Nc(ns, out, err)
    try:
        return await run(nc, argv)
    except Exit as e:
        return e.code
    finally:
        for s in nc.socks:
            s.close()


__all__ = ["main", "Nc", "SERVICES", "Any"]
