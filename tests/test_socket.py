"""The socket API facade (tuxnet/socket.py, sock/): creation, errors, options, readiness and the
blocking coroutines in virtual time.

Expected errnos and option values are Linux's (observed on a 6.x kernel with Python's socket module
in a network namespace: see tests/ipv4/test_udp_kernel.py for the differential versions).

h1 (10.0.0.1/24 eth0) -- veth (10 ms each way) -- h2 (10.0.0.2/24 eth0)
"""

from __future__ import annotations

import asyncio
import errno
import struct

import pytest

from tuxnet.lab.lab import Lab
from tuxnet.sock.sock import Cred
from tuxnet.socket import (
    AF_INET,
    AF_INET6,
    AF_UNSPEC,
    EPOLLERR,
    EPOLLIN,
    EPOLLOUT,
    EPOLLRDHUP,
    IP_HDRINCL,
    IP_MTU,
    IP_MTU_DISCOVER,
    IP_TOS,
    IP_TTL,
    IPPROTO_ICMP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    MSG_DONTWAIT,
    SHUT_RD,
    SO_BINDTODEVICE,
    SO_DOMAIN,
    SO_ERROR,
    SO_PRIORITY,
    SO_PROTOCOL,
    SO_RCVBUF,
    SO_RCVTIMEO,
    SO_SNDBUF,
    SO_TYPE,
    SOCK_DGRAM,
    SOCK_NONBLOCK,
    SOCK_RAW,
    SOCK_SEQPACKET,
    SOL_IP,
    SOL_SOCKET,
    proc_net_sockstat,
)
from tuxnet.wire.addr import ip_aton

A1, A2 = "10.0.0.1", "10.0.0.2"
MS = 1_000_000


def lab2(seed: int = 1, delay: str | None = "10ms"):
    lab = Lab(seed)
    h1, h2 = lab.add_host("h1"), lab.add_host("h2")
    d1, d2 = lab.add_link(h1, "eth0", h2, "eth0", impair={"delay": delay} if delay else None)
    h1.devinet.add(d1, ip_aton(A1), 24)
    h2.devinet.add(d2, ip_aton(A2), 24)
    return lab, h1, h2


def errno_of(fn, *args) -> int:
    with pytest.raises(OSError) as ei:
        fn(*args)
    return ei.value.errno


# ------------------------------------------------------------------ creation and descriptors
def test_socket_creation_errors_match_linux():
    _, h1, _ = lab2()
    assert errno_of(h1.socket, AF_INET, SOCK_RAW, 0) == errno.EPROTONOSUPPORT
    assert errno_of(h1.socket, AF_INET, SOCK_DGRAM, IPPROTO_TCP) == errno.EPROTONOSUPPORT
    assert errno_of(h1.socket, AF_INET6, SOCK_DGRAM, 0) == errno.EAFNOSUPPORT
    assert errno_of(h1.socket, AF_INET, 99, 0) == errno.EINVAL
    assert errno_of(h1.socket, AF_INET, SOCK_SEQPACKET, 0) == errno.ESOCKTNOSUPPORT
    # root gid 0 is outside the default ping_group_range "1 0"
    assert errno_of(h1.socket, AF_INET, SOCK_DGRAM, IPPROTO_ICMP) == errno.EACCES
    # unprivileged users get no raw socket
    user = Cred(1000, 1000)
    assert errno_of(lambda: h1.sockets.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP, cred=user)) == errno.EPERM
    # failures allocate no descriptor
    assert len(h1.sockets) == 0


def test_descriptors_are_lowest_free_and_inodes_grow():
    _, h1, _ = lab2()
    a, b, c = h1.socket(), h1.socket(), h1.socket()
    assert [a.fileno(), b.fileno(), c.fileno()] == [3, 4, 5]
    assert a.proto == IPPROTO_UDP and a.type == SOCK_DGRAM and a.family == AF_INET
    b.close()
    d = h1.socket()
    assert d.fileno() == 4
    assert d.ino > c.ino > b.ino > a.ino
    assert [s.fileno() for s in h1.sockets] == [3, 4, 5]
    assert h1.sockets.by_ino(c.ino) is c


def test_closed_socket_raises_ebadf_everywhere():
    _, h1, _ = lab2()
    s = h1.socket()
    s.close()
    s.close()  # closing twice is harmless, as in Python
    assert s.fileno() == -1
    for call in (lambda: s.bind(("", 0)), lambda: s.send(b"x"), lambda: s.recv(1), s.getsockname,
                 lambda: s.setsockopt(SOL_SOCKET, SO_RCVBUF, 1), lambda: s.connect((A2, 1))):
        assert errno_of(call) == errno.EBADF


def test_sock_nonblock_flag_and_blocking_state():
    _, h1, _ = lab2()
    s = h1.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK)
    assert s.type == SOCK_DGRAM and not s.getblocking() and s.gettimeout() == 0.0
    s.setblocking(True)
    assert s.getblocking() and s.gettimeout() is None


# ------------------------------------------------------------------ unconnected datagram socket
def test_unconnected_udp_errors_and_autobind():
    _, h1, _ = lab2()
    s = h1.socket()
    assert s.getsockname() == ("0.0.0.0", 0)
    assert errno_of(s.getpeername) == errno.ENOTCONN
    assert errno_of(s.send, b"x") == errno.EDESTADDRREQ
    # inet_send_prepare bound the socket before udp_sendmsg refused it (Linux does the same)
    low, high = h1.sysctl.v["net.ipv4.ip_local_port_range"]
    assert low <= s.getsockname()[1] <= high
    assert errno_of(s.sendto, b"x", (A2, 0)) == errno.EINVAL
    with pytest.raises(BlockingIOError) as ei:
        s.recv(10)
    assert ei.value.errno == errno.EAGAIN
    with pytest.raises(OverflowError):
        s.sendto(b"x", (A2, 70000))
    with pytest.raises(TypeError):
        s.sendto(b"x", A2)


def test_shutdown_unconnected_is_enotconn_but_applies():
    lab, h1, _ = lab2()
    s = h1.socket()
    assert errno_of(s.shutdown, SHUT_RD) == errno.ENOTCONN
    assert errno_of(s.shutdown, 5) == errno.EINVAL
    assert s.poll() & EPOLLRDHUP
    # non-blocking: EAGAIN; blocking (the coroutine): end of data
    with pytest.raises(BlockingIOError):
        s.recv(10)
    assert lab.run_coro(h1.sock_recv(s, 10)) == b""


def test_connect_unspec_dissolves_and_releases_the_autobound_port():
    _, h1, _ = lab2()
    s = h1.socket()
    s.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, b"eth0")
    s.connect((A2, 53))
    assert s.getpeername() == (A2, 53)
    assert s.getsockname()[0] == A1
    assert h1.udp.inuse == 1
    s.connect(AF_UNSPEC)
    assert errno_of(s.getpeername) == errno.ENOTCONN
    assert s.getsockname() == ("0.0.0.0", 0)
    assert h1.udp.inuse == 0
    # __udp_disconnect forgets SO_BINDTODEVICE too
    assert s.getsockopt(SOL_SOCKET, SO_BINDTODEVICE, 16) == b""


def test_connect_to_any_address_means_loopback():
    _, h1, _ = lab2()
    s = h1.socket()
    s.connect(("0.0.0.0", 0))
    # ip_route_output: daddr 0 is the source, else 127.0.0.1; port 0 reads back as not connected
    assert s.getsockname()[0] == "127.0.0.1"
    assert errno_of(s.getpeername) == errno.ENOTCONN
    assert h1.udp.sockets()[0].inet_daddr == 0x7F000001


# ------------------------------------------------------------------ options
def test_buffer_sizes_double_and_clamp():
    _, h1, _ = lab2()
    s = h1.socket()
    assert s.getsockopt(SOL_SOCKET, SO_RCVBUF) == 212992
    assert s.getsockopt(SOL_SOCKET, SO_SNDBUF) == 212992
    s.setsockopt(SOL_SOCKET, SO_RCVBUF, 1000)
    assert s.getsockopt(SOL_SOCKET, SO_RCVBUF) == 2304  # SOCK_MIN_RCVBUF
    s.setsockopt(SOL_SOCKET, SO_SNDBUF, 1000)
    assert s.getsockopt(SOL_SOCKET, SO_SNDBUF) == 4608  # SOCK_MIN_SNDBUF
    s.setsockopt(SOL_SOCKET, SO_RCVBUF, 100_000)
    assert s.getsockopt(SOL_SOCKET, SO_RCVBUF) == 200_000
    s.setsockopt(SOL_SOCKET, SO_RCVBUF, 10**8)
    assert s.getsockopt(SOL_SOCKET, SO_RCVBUF) == 2 * h1.sysctl.v["net.core.rmem_max"]
    h1.sysctl.set("net.core.rmem_max", "65536")
    s.setsockopt(SOL_SOCKET, SO_RCVBUF, 10**8)
    assert s.getsockopt(SOL_SOCKET, SO_RCVBUF) == 131072


def test_identity_options():
    _, h1, _ = lab2()
    s = h1.socket()
    assert (s.getsockopt(SOL_SOCKET, SO_TYPE), s.getsockopt(SOL_SOCKET, SO_PROTOCOL),
            s.getsockopt(SOL_SOCKET, SO_DOMAIN)) == (SOCK_DGRAM, IPPROTO_UDP, AF_INET)
    assert errno_of(s.setsockopt, SOL_SOCKET, SO_TYPE, 1) == errno.ENOPROTOOPT
    assert errno_of(s.setsockopt, SOL_SOCKET, 999, 1) == errno.ENOPROTOOPT
    assert errno_of(s.setsockopt, SOL_IP, 999, 1) == errno.ENOPROTOOPT


def test_ip_level_options():
    _, h1, _ = lab2()
    s = h1.socket()
    assert s.getsockopt(SOL_IP, IP_TTL) == 64
    assert errno_of(s.setsockopt, SOL_IP, IP_TTL, 0) == errno.EINVAL
    assert errno_of(s.setsockopt, SOL_IP, IP_TTL, 256) == errno.EINVAL
    s.setsockopt(SOL_IP, IP_TTL, 7)
    assert s.getsockopt(SOL_IP, IP_TTL) == 7
    s.setsockopt(SOL_IP, IP_TTL, -1)
    h1.sysctl.set("net.ipv4.ip_default_ttl", "99")
    assert s.getsockopt(SOL_IP, IP_TTL) == 99
    assert s.getsockopt(SOL_IP, IP_MTU_DISCOVER) == 1  # IP_PMTUDISC_WANT
    assert errno_of(s.setsockopt, SOL_IP, IP_MTU_DISCOVER, 6) == errno.EINVAL
    # IP_TOS also sets the priority: rt_tos2priority(0xb9) is TC_PRIO_INTERACTIVE_BULK (4)
    s.setsockopt(SOL_IP, IP_TOS, 0xB9)
    assert s.getsockopt(SOL_IP, IP_TOS) == 0xB9
    assert s.getsockopt(SOL_SOCKET, SO_PRIORITY) == 4
    assert s.getsockopt(SOL_IP, IP_TOS, 1) == b"\xb9"
    assert errno_of(s.setsockopt, SOL_IP, IP_HDRINCL, 1) == errno.ENOPROTOOPT
    assert s.getsockopt(SOL_IP, IP_HDRINCL) == 0
    assert errno_of(s.getsockopt, SOL_IP, IP_MTU) == errno.ENOTCONN


def test_bindtodevice_and_timeouts():
    _, h1, _ = lab2()
    s = h1.socket()
    assert errno_of(s.setsockopt, SOL_SOCKET, SO_BINDTODEVICE, b"nope0") == errno.ENODEV
    assert s.getsockopt(SOL_SOCKET, SO_BINDTODEVICE, 16) == b""
    s.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, b"eth0\0")
    assert s.getsockopt(SOL_SOCKET, SO_BINDTODEVICE, 16) == b"eth0\0"
    assert s.getsockopt(SOL_SOCKET, SO_RCVTIMEO, 16) == bytes(16)
    s.setsockopt(SOL_SOCKET, SO_RCVTIMEO, struct.pack("=qq", 1, 500_000))
    assert struct.unpack("=qq", s.getsockopt(SOL_SOCKET, SO_RCVTIMEO, 16)) == (1, 500_000)
    assert errno_of(s.setsockopt, SOL_SOCKET, SO_RCVTIMEO, struct.pack("=qq", 1, 1_000_000)) == errno.EDOM


# ------------------------------------------------------------------ readiness and coroutines
def test_recvfrom_coroutine_completes_when_the_datagram_arrives():
    lab, h1, h2 = lab2()
    srv = h2.socket()
    srv.bind(("", 9000))
    cli = h1.socket()
    h1.loop.call_later_ns(1500 * MS, cli.sendto, b"ping", (A2, 9000))
    done: list[int] = []

    async def server():
        data, addr = await h2.sock_recvfrom(srv, 100)
        done.append(h2.now)
        return data, addr

    data, addr = lab.run_coro(server())
    assert data == b"ping" and addr == (A1, cli.getsockname()[1])
    # sent at 1.5 s: ARP request and reply, then the datagram, each delayed 10 ms by the link; the
    # coroutine runs at the very instant the datagram is queued
    assert done == [1530 * MS]


def test_poll_mask_and_wait_readable():
    lab, h1, h2 = lab2()
    srv = h2.socket()
    srv.bind(("", 9000))
    assert srv.poll() == EPOLLOUT | 0x100 | 0x200
    cli = h1.socket()
    cli.sendto(b"x", (A2, 9000))

    async def waiter():
        mask = await srv.wait_readable()
        return mask, h2.now

    mask, t = lab.run_coro(waiter())
    assert mask & EPOLLIN and t == 30 * MS  # ARP request, ARP reply, datagram
    assert srv.recv(10) == b"x"
    assert not srv.poll() & EPOLLIN


def test_rcvtimeo_and_settimeout_end_a_wait():
    lab, _, h2 = lab2()
    s = h2.socket()
    s.bind(("", 9001))
    s.setsockopt(SOL_SOCKET, SO_RCVTIMEO, struct.pack("=qq", 0, 250_000))
    t0 = h2.now
    with pytest.raises(BlockingIOError) as ei:
        lab.run_coro(h2.sock_recv(s, 10))
    assert ei.value.errno == errno.EAGAIN and h2.now - t0 == 250 * MS
    s.setsockopt(SOL_SOCKET, SO_RCVTIMEO, struct.pack("=qq", 0, 0))
    s.settimeout(2.0)
    t0 = h2.now
    with pytest.raises(TimeoutError):
        lab.run_coro(h2.sock_recv(s, 10))
    assert h2.now - t0 == 2000 * MS
    # MSG_DONTWAIT makes even the coroutine non-blocking
    from tuxnet.socket import sock_recvmsg

    with pytest.raises(BlockingIOError):
        lab.run_coro(sock_recvmsg(s, 10, MSG_DONTWAIT))


def test_error_wakes_a_sleeping_reader():
    """A connected socket waiting in recv is woken by the ICMP port unreachable (sk_error_report)."""
    lab, h1, h2 = lab2()
    s = h1.socket()
    s.connect((A2, 9))  # nobody listens on h2
    s.send(b"hello")

    async def reader():
        try:
            await h1.sock_recv(s, 10)
        except ConnectionRefusedError as e:
            return e.errno, h1.now
        return None

    # ARP (20 ms), the datagram (10 ms), the ICMP error back (10 ms: h2 learned h1 from the ARP request)
    assert lab.run_coro(reader()) == (errno.ECONNREFUSED, 40 * MS)
    assert not s.poll() & EPOLLERR  # read and cleared
    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == 0


def test_sendto_and_sendall_coroutines():
    lab, h1, h2 = lab2(delay=None)
    srv = h2.socket()
    srv.bind(("", 9002))
    cli = h1.socket()
    cli.connect((A2, 9002))

    async def go():
        n = await h1.sock_sendto(cli, b"abc", (A2, 9002))
        await h1.sock_sendall(cli, bytearray(b"defg"))
        buf = bytearray(10)
        k = await h2.sock_recv_into(srv, buf)
        k2, addr = await h2.sock_recvfrom_into(srv, buf)
        return n, bytes(buf[:k2]), k, addr

    assert lab.run_coro(go()) == (3, b"defg", 3, (A1, cli.getsockname()[1]))


def test_sock_connect_coroutine_and_asyncio_gather():
    lab, h1, h2 = lab2()
    srv = h2.socket()
    srv.bind(("", 9003))
    socks = [h1.socket() for _ in range(3)]

    async def go():
        for i, s in enumerate(socks):
            await h1.sock_connect(s, (A2, 9003))
            s.send(bytes([i]))
        got = await asyncio.gather(*(h2.sock_recvfrom(srv, 4) for _ in range(3)))
        return sorted(d for d, _ in got)

    assert lab.run_coro(go()) == [b"\x00", b"\x01", b"\x02"]


def test_sockstat_counts():
    _, h1, _ = lab2()
    a = h1.socket()
    a.bind(("", 0))
    h1.socket()  # unbound: a socket, not in the UDP table
    text = proc_net_sockstat(h1)
    lines = text.splitlines()
    assert lines[0] == "sockets: used 2"
    assert lines[2] == "UDP: inuse 1 mem 0"
    assert lines[4] == "RAW: inuse 0"
    assert [ln.split(":")[0] for ln in lines] == ["sockets", "TCP", "UDP", "UDPLITE", "RAW", "FRAG"]
    from tuxnet.tools import run_command

    assert run_command(h1, "cat /proc/net/sockstat") == (0, text)  # the file operators read


# ------------------------------------------------------------------ asyncio datagram endpoints
class Recorder(asyncio.DatagramProtocol):
    def __init__(self, ns, echo: bool = False) -> None:
        self.ns = ns
        self.echo = echo
        self.events: list[tuple] = []
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.events.append(("made", self.ns.now))

    def datagram_received(self, data, addr) -> None:
        self.events.append(("data", data, addr, self.ns.now))
        if self.echo:
            self.transport.sendto(data.upper(), addr)

    def error_received(self, exc) -> None:
        self.events.append(("error", exc.errno, self.ns.now))

    def connection_lost(self, exc) -> None:
        self.events.append(("lost", exc))


def test_datagram_endpoint_echo_and_errors():
    from tuxnet.socket import create_datagram_endpoint

    lab, h1, h2 = lab2()

    async def go():
        st, server = await create_datagram_endpoint(h2, lambda: Recorder(h2, echo=True), local_addr=("", 7))
        ct, client = await create_datagram_endpoint(h1, lambda: Recorder(h1), remote_addr=(A2, 7))
        with pytest.raises(ValueError):
            ct.sendto(b"x", (A2, 8))
        ct.sendto(b"hello")
        await asyncio.sleep(1)
        dead, refused = await create_datagram_endpoint(h1, lambda: Recorder(h1), remote_addr=(A2, 9))
        dead.sendto(b"anyone?")
        await asyncio.sleep(1)
        st.pause_reading()
        ct.sendto(b"held")
        await asyncio.sleep(1)
        held = len(server.events)
        st.resume_reading()
        await asyncio.sleep(0)
        ct.close()
        await asyncio.sleep(0)
        return st, server, client, refused, held

    st, server, client, refused, held = lab.run_coro(go())
    port = client.transport.get_extra_info("sockname")[1]
    # sent at t=0: ARP (20 ms) then 10 ms; the echo comes back 10 ms later
    assert server.events[:2] == [("made", 0), ("data", b"hello", (A1, port), 30 * MS)]
    assert client.events == [("made", 0), ("data", b"HELLO", (A2, 7), 40 * MS), ("lost", None)]
    assert refused.events[1] == ("error", errno.ECONNREFUSED, 1020 * MS)
    # paused: "held" waited in the socket and came in on resume, in the same instant
    assert held == 2 and server.events[2][:3] == ("data", b"held", (A1, port))
    assert client.transport.is_closing() and client.transport.get_extra_info("socket").fileno() == -1
