"""The BSD socket API of a namespace: ``ns.socket(AF_INET, SOCK_DGRAM)`` and friends (net/socket.c).

Guarantees:
- ``Socket`` has the methods and argument shapes of Python's ``socket.socket`` (addresses are
  ``("10.0.0.1", 53)`` tuples) and fails with the ``OSError`` errno Linux gives. Plain methods never
  block: when a blocking socket would sleep they raise ``BlockingIOError`` (EAGAIN), as a
  non-blocking socket does. A closed socket raises EBADF (``fileno()`` is then -1).
- The blocking forms are coroutines mirroring asyncio's ``loop.sock_*``: ``sock_recv``,
  ``sock_recv_into``, ``sock_recvfrom``, ``sock_sendto``, ``sock_sendall``, ``sock_connect``,
  ``sock_accept`` (also as ``ns.sock_*``). They sleep in the namespace's (virtual) time and wake
  when the protocol calls ``sk_data_ready``/``sk_write_space``/``sk_error_report``/
  ``sk_state_change`` on the socket: one wait queue per socket (``Socket.wq``), like the kernel's
  ``socket_wq``, which every protocol (UDP, raw, ping and TCP) uses. SO_RCVTIMEO/SO_SNDTIMEO end a
  wait with EAGAIN, ``settimeout`` with ``TimeoutError``, as a blocking Python socket does.
- ``create_datagram_endpoint(ns, factory, local_addr=, remote_addr=)`` gives asyncio datagram
  transports/protocols on top (sock/dgram_endpoint.py).
- ``poll()`` is the socket's poll mask (EPOLL* bits); ``await s.wait_readable()`` and
  ``wait_writable()`` wait for select()'s readable / writable sets.
- Each namespace has one socket table (``ns.sockets``): file descriptors are allocated lowest-first
  from 3, as a process's are; every socket has an inode number for ``ss``//proc; ``cred`` is the
  identity new sockets are created with (root by default), which ping_group_range, raw sockets and
  privileged ports check. ``connect(AF_UNSPEC)`` (the int) is connect() with an AF_UNSPEC
  sockaddr: it dissolves a datagram association.
"""

from __future__ import annotations

import errno
import socket as _pysocket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.procfs import register_proc_file
from tuxnet.sock import constants as _constants
from tuxnet.sock.af_inet import ProtoOps, SockAddr, inet_create
from tuxnet.sock.constants import *  # noqa: F403  (re-exported: tuxnet.socket.AF_INET, ...)
from tuxnet.sock.constants import (
    AF_INET,
    AF_UNSPEC,
    EPOLLERR,
    EPOLLIN,
    EPOLLOUT,
    EPOLLPRI,
    EPOLLRDBAND,
    EPOLLRDNORM,
    EPOLLWRBAND,
    EPOLLWRNORM,
    IPPROTO_IP,
    MSG_CTRUNC,
    MSG_DONTWAIT,
    MSG_ERRQUEUE,
    POLLIN_SET,
    POLLOUT_SET,
    SO_ERROR,
    SOCK_CLOEXEC,
    SOCK_DGRAM,
    SOCK_MAX,
    SOCK_NONBLOCK,
    SOCK_STREAM,
    SOCK_TYPE_MASK,
    SOL_SOCKET,
    SS_UNCONNECTED,
)
from tuxnet.sock.dgram_endpoint import DatagramTransport, create_datagram_endpoint
from tuxnet.sock.sock import Cred
from tuxnet.sock.sockopt import sock_getsockopt, sock_setsockopt
from tuxnet.wire.addr import ip_aton, ip_ntoa

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

FD_START = 3  # 0, 1, 2 are the process's stdio
INO_START = 10000

WAKE_READABLE = EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND  # sock_def_readable
WAKE_WRITABLE = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND  # sock_def_write_space
WAKE_ERROR = EPOLLERR  # sock_def_error_report
WAKE_ALL = 0  # sock_def_wakeup: wake_up_interruptible_all


# ---------------------------------------------------------------------------------- wait queue
class WaitEntry:
    """A wait_queue_entry: ``func(key)`` runs when a wakeup's key intersects ``mask``."""

    __slots__ = ("mask", "func")

    def __init__(self, mask: int, func: Callable[[int], Any]) -> None:
        self.mask = mask
        self.func = func


class WaitQueue:
    """The socket's wait queue (socket_wq.wait): sleepers and poll callbacks."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: list[WaitEntry] = []

    def add(self, mask: int, func: Callable[[int], Any]) -> WaitEntry:
        e = WaitEntry(mask, func)
        self.entries.append(e)
        return e

    def remove(self, entry: WaitEntry) -> None:
        try:
            self.entries.remove(entry)
        except ValueError:
            pass

    def wake_up(self, key: int) -> None:
        """__wake_up: every entry whose mask matches ``key`` (all of them for key 0)."""
        if not self.entries:
            return
        for e in list(self.entries):
            if not key or e.mask & key:
                e.func(key)


def _wake_future(fut: Any) -> Callable[[int], None]:
    def func(key: int) -> None:
        if not fut.done():
            fut.set_result(key)
    return func


# ---------------------------------------------------------------------------------- addresses
def resolve_host(ns: Namespace, host: Any) -> int:
    """The IPv4 address of ``host`` the way Python's socket module parses it: "" is INADDR_ANY,
    "<broadcast>" INADDR_BROADCAST, dotted quads, names from the table's hosts (localhost)."""
    if isinstance(host, int) and not isinstance(host, bool):
        if not 0 <= host <= 0xFFFFFFFF:
            raise OverflowError("address out of range")
        return host
    if isinstance(host, (bytes, bytearray)):
        host = host.decode()
    if not isinstance(host, str):
        raise TypeError(f"str, bytes or bytearray expected, not {type(host).__name__}")
    if host == "":
        return 0
    if host == "<broadcast>":
        return 0xFFFFFFFF
    try:
        return ip_aton(host)
    except ValueError:
        pass
    addr = ns.sockets.hosts.get(host.lower()) if hasattr(ns, "sockets") else None
    if addr is None:
        raise _pysocket.gaierror(_pysocket.EAI_NONAME, "Name or service not known")
    return addr


def parse_sockaddr(ns: Namespace, address: Any, what: str, *, allow_unspec: bool = False) -> SockAddr:
    """An AF_INET address tuple as (family, address int, port)."""
    if allow_unspec and isinstance(address, int) and not isinstance(address, bool) and address == AF_UNSPEC:
        return (AF_UNSPEC, 0, 0)
    if not isinstance(address, tuple) or len(address) != 2:
        raise TypeError(f"{what}(): AF_INET address must be tuple, not {type(address).__name__}"
                        if not isinstance(address, tuple) else "AF_INET address must be a pair (host, port)")
    host, port = address
    if not isinstance(port, int) or isinstance(port, bool):
        raise TypeError(f"'{type(port).__name__}' object cannot be interpreted as an integer")
    if not 0 <= port <= 0xFFFF:
        raise OverflowError(f"{what}(): port must be 0-65535.")
    return (AF_INET, resolve_host(ns, host), port)


# ---------------------------------------------------------------------------------- the socket
class Socket:
    """struct socket + its file: what ``socket(2)`` returns."""

    __slots__ = ("ns", "family", "type", "proto", "sk", "ops", "fd", "ino", "state", "blocking",
                 "wq", "rcvtimeo", "sndtimeo", "timeout", "cmsg_flags", "mc_list", "__weakref__")

    def __init__(self, ns: Namespace, family: int, type_: int, proto: int) -> None:
        self.ns = ns
        self.family = family
        self.type = type_
        self.proto = proto
        self.sk: Any = None
        self.ops: ProtoOps = ProtoOps()
        self.fd = -1
        self.ino = 0
        self.state = SS_UNCONNECTED
        self.blocking = True
        self.wq = WaitQueue()
        self.rcvtimeo = 0  # ns; 0 = wait forever (MAX_SCHEDULE_TIMEOUT)
        self.sndtimeo = 0
        self.timeout: float | None = None  # settimeout(): the coroutine helpers raise TimeoutError
        self.cmsg_flags: frozenset[str] = frozenset()
        self.mc_list: set[tuple[int, int]] = set()

    # ------------------------------------------------------------ plumbing
    def _live(self) -> Any:
        if self.sk is None:
            raise oserror(errno.EBADF)
        return self.sk

    def _addr(self, address: Any, what: str) -> SockAddr:
        return parse_sockaddr(self.ns, address, what)

    def _out_addr(self, a: tuple[int, int] | tuple[str, int] | None) -> Any:
        if a is None:
            return None
        host, port = a
        return (ip_ntoa(host) if isinstance(host, int) else host, port)

    # ------------------------------------------------------------ wakeups (sk callbacks)
    def sk_data_ready(self) -> None:
        self.wq.wake_up(WAKE_READABLE)

    def sk_write_space(self) -> None:
        self.wq.wake_up(WAKE_WRITABLE)

    def sk_error_report(self) -> None:
        self.wq.wake_up(WAKE_ERROR)

    def sk_state_change(self) -> None:
        self.wq.wake_up(WAKE_ALL)

    # ------------------------------------------------------------ readiness
    def poll(self) -> int:
        """The poll mask (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP ...)."""
        if self.sk is None:
            return 0
        return self.ops.poll(self)

    def readable(self) -> bool:
        return bool(self.poll() & POLLIN_SET)

    def writable(self) -> bool:
        return bool(self.poll() & POLLOUT_SET)

    async def wait_event(self, events: int, timeout: float | None = None) -> int:
        """Sleep until the poll mask intersects ``events``; returns the mask (0 after ``timeout``
        seconds of loop time)."""
        loop = self.ns.loop
        deadline = None if timeout is None else loop.now_ns + int(timeout * 1e9)
        while True:
            self._live()
            mask = self.poll()
            if mask & events:
                return mask
            if deadline is not None and loop.now_ns >= deadline:
                return 0
            fut = loop.create_future()
            entry = self.wq.add(events, _wake_future(fut))
            timer = loop.call_at_ns(deadline, _wake_future(fut), 0) if deadline is not None else None
            try:
                await fut
            finally:
                self.wq.remove(entry)
                if timer is not None:
                    timer.cancel()

    async def wait_readable(self, timeout: float | None = None) -> int:
        return await self.wait_event(POLLIN_SET, timeout)

    async def wait_writable(self, timeout: float | None = None) -> int:
        return await self.wait_event(POLLOUT_SET, timeout)

    # ------------------------------------------------------------ the calls
    def fileno(self) -> int:
        return self.fd if self.sk is not None else -1

    def bind(self, address: Any) -> None:
        self._live()
        self.ops.bind(self, self._addr(address, "bind"))

    def connect(self, address: Any) -> None:
        self._live()
        self.ops.connect(self, parse_sockaddr(self.ns, address, "connect", allow_unspec=True), True)

    def connect_ex(self, address: Any) -> int:
        try:
            self.connect(address)
        except OSError as e:
            return e.errno or 0
        return 0

    def listen(self, backlog: int = 128) -> None:
        self._live()
        self.ops.listen(self, backlog)

    def accept(self) -> tuple[Socket, Any]:
        self._live()
        new = self.ops.accept(self, True)
        # __sys_accept4 asks getname(peer=2): a child reset before accept() still has its peer
        return new, new._out_addr(new.ops.getname(new, 2))

    def getsockname(self) -> tuple[str, int]:
        self._live()
        return self._out_addr(self.ops.getname(self, False))  # type: ignore[no-any-return]

    def getpeername(self) -> tuple[str, int]:
        self._live()
        return self._out_addr(self.ops.getname(self, True))  # type: ignore[no-any-return]

    def send(self, data: bytes | bytearray | memoryview, flags: int = 0) -> int:
        self._live()
        return self.ops.sendmsg(self, bytes(data), None, flags)

    def sendto(self, data: bytes | bytearray | memoryview, flags_or_addr: Any, address: Any = None) -> int:
        """sendto(data, address) or sendto(data, flags, address), as Python's."""
        self._live()
        if address is None:
            flags, address = 0, flags_or_addr
        else:
            flags = flags_or_addr
        return self.ops.sendmsg(self, bytes(data), self._addr(address, "sendto"), flags)

    def sendall(self, data: bytes | bytearray | memoryview, flags: int = 0) -> None:
        view = memoryview(bytes(data))
        while True:
            n = self.send(view, flags)
            view = view[n:]
            if not view:
                return

    def sendmsg(self, buffers: Any, ancdata: Any = (), flags: int = 0, address: Any = None) -> int:
        """sendmsg(buffers, ancdata, flags, address), as Python's: the buffers are sent as one
        message (a stream socket keeps their boundaries for MSG_ZEROCOPY's page frags); no
        ancillary data is accepted on send yet (EINVAL)."""
        self._live()
        if list(ancdata):
            raise oserror(errno.EINVAL)
        bufs = [bytes(b) for b in buffers]
        data = b"".join(bufs)
        addr = self._addr(address, "sendmsg") if address is not None else None
        if self.type == SOCK_STREAM:
            return self.ops.sendmsg(self, data, addr, flags, iov=[len(b) for b in bufs if b])  # type: ignore[call-arg]
        return self.ops.sendmsg(self, data, addr, flags)

    def recvmsg(self, bufsize: int, ancbufsize: int = 0, flags: int = 0) -> tuple[bytes, list[Any], int, Any]:
        """(data, ancdata, msg_flags, address), as Python's recvmsg."""
        self._live()
        if bufsize < 0:
            raise ValueError("negative buffer size in recvmsg()")
        data, addr, msg_flags, anc = self.ops.recvmsg(self, bufsize, flags, True)
        anc, truncated = put_cmsgs(anc, ancbufsize)
        if truncated:
            msg_flags |= MSG_CTRUNC
        return data, anc, msg_flags, self._out_addr(addr)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self._live()
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        return self.ops.recvmsg(self, bufsize, flags, True)[0]

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, Any]:
        self._live()
        if bufsize < 0:
            raise ValueError("negative buffersize in recvfrom")
        data, addr, _, _ = self.ops.recvmsg(self, bufsize, flags, True)
        return data, self._out_addr(addr)

    def recv_into(self, buffer: bytearray | memoryview, nbytes: int = 0, flags: int = 0) -> int:
        n = nbytes or len(buffer)
        data = self.recv(n, flags)
        buffer[:len(data)] = data
        return len(data)

    def recvfrom_into(self, buffer: bytearray | memoryview, nbytes: int = 0,
                      flags: int = 0) -> tuple[int, Any]:
        n = nbytes or len(buffer)
        data, addr = self.recvfrom(n, flags)
        buffer[:len(data)] = data
        return len(data), addr

    def shutdown(self, how: int) -> None:
        self._live()
        self.ops.shutdown(self, how)

    def ioctl(self, request: int) -> int:
        """ioctl(fd, request, &int) for the socket ioctls that return an int (SIOCINQ/FIONREAD,
        SIOCOUTQ, SIOCOUTQNSD, SIOCATMARK): the value the kernel writes. Unknown requests raise
        ENOTTY, as sock_do_ioctl; EINVAL where the protocol refuses (a TCP listener's queues)."""
        self._live()
        return self.ops.ioctl(self, request)

    def setsockopt(self, level: int, optname: int, value: Any, optlen: int | None = None) -> None:
        self._live()
        if value is None and optlen is not None:
            value = bytes(optlen)
        if level == SOL_SOCKET:
            sock_setsockopt(self, optname, value)
        else:
            self.ops.setsockopt(self, level, optname, value)

    def getsockopt(self, level: int, optname: int, buflen: int | None = None) -> Any:
        self._live()
        if level == SOL_SOCKET:
            return sock_getsockopt(self, optname, buflen)
        return self.ops.getsockopt(self, level, optname, buflen)

    def setblocking(self, flag: bool) -> None:
        """O_NONBLOCK. Plain calls never sleep either way; the coroutine helpers always may."""
        self._live()
        self.blocking = bool(flag)
        self.timeout = None if flag else 0.0

    def getblocking(self) -> bool:
        return self.blocking

    def settimeout(self, value: float | None) -> None:
        """The coroutine helpers give up after ``value`` seconds with TimeoutError (None: never)."""
        if value is not None and value < 0:
            raise ValueError("Timeout value out of range")
        self.timeout = value
        self.blocking = value != 0.0

    def gettimeout(self) -> float | None:
        return self.timeout

    def close(self) -> None:
        """close(2): the protocol releases the sock, the fd is freed, sleepers are woken (EBADF)."""
        if self.sk is None:
            return
        for key in list(self.mc_list):
            self.drop_membership(key)
        self.ops.release(self)
        self.sk = None
        self.ns.sockets.release(self)
        self.wq.wake_up(WAKE_ALL)

    def drop_membership(self, key: tuple[int, int]) -> None:
        """Leave one multicast group this socket joined (the device leaves with its last member)."""
        self.mc_list.discard(key)
        tab = self.ns.sockets.mc_memberships
        n = tab.get(key, 0) - 1
        if n > 0:
            tab[key] = n
            return
        tab.pop(key, None)
        dev = self.ns.dev_by_index(key[0])
        if dev is not None:
            self.ns.route.mc_leave(dev, key[1])

    def detach(self) -> int:
        raise oserror(errno.EOPNOTSUPP, "a tuxnet socket lives in its namespace")

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        s = (f"<tuxnet.socket.Socket fd={self.fileno()}, family={self.family}, type={self.type}, "
             f"proto={self.proto}")
        if self.sk is not None:
            try:
                s += f", laddr={self.getsockname()}"
                s += f", raddr={self.getpeername()}"
            except OSError:
                pass
        return s + f", ns={self.ns.name}>"


# ---------------------------------------------------------------------------------- socket table
class SocketTable:
    """``ns.sockets``: the namespace's open sockets by fd, their inodes, the creating identity."""

    __slots__ = ("ns", "fds", "next_ino", "cred", "hosts", "mc_memberships")

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.fds: dict[int, Socket] = {}
        self.next_ino = INO_START
        self.cred = Cred()
        self.hosts: dict[str, int] = {"localhost": 0x7F000001}
        self.mc_memberships: dict[tuple[int, int], int] = {}

    def socket(self, family: int = AF_INET, type: int = SOCK_DGRAM, proto: int = IPPROTO_IP, *,
               cred: Cred | None = None) -> Socket:
        """__sys_socket: SOCK_NONBLOCK/SOCK_CLOEXEC may be or'ed into ``type``."""
        if type & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC):
            raise oserror(errno.EINVAL)
        flags = type & ~SOCK_TYPE_MASK
        stype = type & SOCK_TYPE_MASK
        if not 0 <= family < 46:  # NPROTO
            raise oserror(errno.EAFNOSUPPORT)
        if stype < 0 or stype >= SOCK_MAX:
            raise oserror(errno.EINVAL)
        if family != AF_INET:
            raise oserror(errno.EAFNOSUPPORT)
        sock = Socket(self.ns, family, stype, proto)
        inet_create(self.ns, sock, proto, cred or self.cred)
        if flags & SOCK_NONBLOCK:
            sock.blocking = False
            sock.timeout = 0.0
        sock.fd = self._alloc_fd()
        sock.ino = self.next_ino
        self.next_ino += 1
        self.fds[sock.fd] = sock
        return sock

    def _alloc_fd(self) -> int:
        """alloc_fd: the lowest free descriptor."""
        fd = FD_START
        fds = self.fds
        while fd in fds:
            fd += 1
        return fd

    def install(self, sock: Socket) -> Socket:
        """Give a socket made by the kernel (accept()) an fd and an inode."""
        sock.fd = self._alloc_fd()
        sock.ino = self.next_ino
        self.next_ino += 1
        self.fds[sock.fd] = sock
        return sock

    def release(self, sock: Socket) -> None:
        if self.fds.get(sock.fd) is sock:
            del self.fds[sock.fd]

    def __iter__(self) -> Iterator[Socket]:
        return iter([self.fds[fd] for fd in sorted(self.fds)])

    def __len__(self) -> int:
        return len(self.fds)

    def by_ino(self, ino: int) -> Socket | None:
        for s in self.fds.values():
            if s.ino == ino:
                return s
        return None

    def ino_of(self, sk: Any) -> int:
        s = sk.sk_socket
        return s.ino if s is not None else 0


CMSG_HDR_LEN = 16  # CMSG_ALIGN(sizeof(struct cmsghdr)) on a 64-bit kernel


def cmsg_space(n: int) -> int:
    """CMSG_SPACE(n)."""
    return CMSG_HDR_LEN + ((n + 7) & ~7)


def put_cmsgs(anc: list[Any], controllen: int) -> tuple[list[Any], bool]:
    """put_cmsg (net/core/scm.c) for each control message, into a buffer of ``controllen`` bytes: a
    message that does not fit is cut to what remains (its data shortened) and MSG_CTRUNC is set;
    with less than a header left (or no buffer) it is dropped, MSG_CTRUNC again."""
    out: list[Any] = []
    truncated = False
    left = max(controllen, 0)
    for level, type_, data in anc:
        if left < CMSG_HDR_LEN:
            truncated = True
            continue
        cmlen = CMSG_HDR_LEN + len(data)
        if left < cmlen:
            truncated = True
            data = data[:left - CMSG_HDR_LEN]
        out.append((level, type_, data))
        left -= min(cmsg_space(len(data)), left)
    return out, truncated


def kptr(ns: Namespace, ino: int) -> str:
    """What %pK prints for the sock at ``ino``: a hashed pointer, zero-extended to 64 bits."""
    from tuxnet.ipv4.inet_hashtables import jhash_3words, net_hash_mix

    return f"{jhash_3words(ino, 0x5ca1ab1e, 0, net_hash_mix(ns)):016x}"


# ---------------------------------------------------------------------------------- blocking calls
def _deadline(sock: Socket, timeo_ns: int) -> tuple[int | None, bool]:
    """(absolute deadline ns or None, True when it comes from SO_*TIMEO: expiry means EAGAIN)."""
    now = sock.ns.loop.now_ns
    cands: list[tuple[int, bool]] = []
    if timeo_ns:
        cands.append((now + timeo_ns, True))
    if sock.timeout is not None and sock.timeout > 0:
        cands.append((now + int(sock.timeout * 1e9), False))
    if not cands:
        return None, False
    return min(cands)


async def _sleep(sock: Socket, events: int, deadline: tuple[int | None, bool]) -> None:
    when, is_timeo = deadline
    if when is None:
        await sock.wait_event(events)
        return
    left = when - sock.ns.loop.now_ns
    if left <= 0 or not await sock.wait_event(events, left / 1e9):
        if is_timeo:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        raise TimeoutError("timed out")


async def sock_recvmsg(sock: Socket, bufsize: int, flags: int = 0) -> tuple[bytes, Any, int, list[Any]]:
    """A blocking recvmsg: (data, address, msg_flags, ancdata)."""
    dl = _deadline(sock, sock.rcvtimeo)
    while True:
        sock._live()
        try:
            data, addr, mflags, anc = sock.ops.recvmsg(sock, bufsize, flags, False)
            return data, sock._out_addr(addr), mflags, anc
        except BlockingIOError:
            if flags & (MSG_DONTWAIT | MSG_ERRQUEUE):  # reading the error queue never sleeps
                raise
        await _sleep(sock, POLLIN_SET, dl)


async def sock_recv(sock: Socket, nbytes: int) -> bytes:
    return (await sock_recvmsg(sock, nbytes))[0]


async def sock_recvfrom(sock: Socket, bufsize: int) -> tuple[bytes, Any]:
    data, addr, _, _ = await sock_recvmsg(sock, bufsize)
    return data, addr


async def sock_recv_into(sock: Socket, buf: bytearray | memoryview) -> int:
    data = (await sock_recvmsg(sock, len(buf)))[0]
    buf[:len(data)] = data
    return len(data)


async def sock_recvfrom_into(sock: Socket, buf: bytearray | memoryview, nbytes: int = 0) -> tuple[int, Any]:
    data, addr, _, _ = await sock_recvmsg(sock, nbytes or len(buf))
    buf[:len(data)] = data
    return len(data), addr


async def _send(sock: Socket, data: bytes, addr: SockAddr | None, flags: int,
                dl: tuple[int | None, bool]) -> int:
    while True:
        sock._live()
        try:
            return sock.ops.sendmsg(sock, data, addr, flags)
        except BlockingIOError:
            if flags & MSG_DONTWAIT:
                raise
        await _sleep(sock, POLLOUT_SET, dl)


async def sock_sendto(sock: Socket, data: bytes | bytearray | memoryview, address: Any) -> int:
    return await _send(sock, bytes(data), sock._addr(address, "sendto"), 0, _deadline(sock, sock.sndtimeo))


async def sock_sendall(sock: Socket, data: bytes | bytearray | memoryview) -> None:
    dl = _deadline(sock, sock.sndtimeo)
    view = bytes(data)
    while True:
        n = await _send(sock, view, None, 0, dl)
        view = view[n:]
        if not view:
            return


async def sock_connect(sock: Socket, address: Any) -> None:
    """connect and wait for the result, as asyncio's sock_connect (SO_ERROR after writability)."""
    try:
        sock.connect(address)
        return
    except BlockingIOError as e:
        if e.errno not in (errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY):
            raise
    await _sleep(sock, POLLOUT_SET, _deadline(sock, sock.sndtimeo))
    err = sock.getsockopt(SOL_SOCKET, SO_ERROR)
    if err:
        raise oserror(err)


async def sock_accept(sock: Socket) -> tuple[Socket, Any]:
    dl = _deadline(sock, sock.rcvtimeo)
    while True:
        try:
            return sock.accept()
        except BlockingIOError:
            pass
        await _sleep(sock, POLLIN_SET, dl)


# ---------------------------------------------------------------------------------- /proc/net/sockstat
def proc_net_sockstat(ns: Namespace) -> str:
    """/proc/net/sockstat (net/ipv4/proc.c sockstat_seq_show)."""
    used = len(ns.sockets.fds)
    tcp = getattr(ns, "tcp", None)
    st = tcp.sockstat() if tcp is not None and hasattr(tcp, "sockstat") else None
    inuse, orphan, tw, alloc, mem = st if st is not None else (0, 0, 0, 0, 0)
    udp = getattr(ns, "udp", None)
    raw = getattr(ns, "raw", None)
    frags = getattr(getattr(ns, "ip", None), "frags", None)
    frag_inuse = len(getattr(frags, "queues", ())) if frags is not None else 0
    frag_mem = getattr(frags, "mem", 0) if frags is not None else 0
    return (f"sockets: used {used}\n"
            f"TCP: inuse {inuse} orphan {orphan} tw {tw} alloc {alloc} mem {mem}\n"
            f"UDP: inuse {udp.inuse if udp else 0} mem {udp.mem_pages() if udp else 0}\n"
            f"UDPLITE: inuse 0\n"
            f"RAW: inuse {raw.inuse if raw else 0}\n"
            f"FRAG: inuse {frag_inuse} memory {frag_mem}\n")


register_proc_file("/proc/net/sockstat", proc_net_sockstat)


__all__ = ["Socket", "SocketTable", "WaitQueue", "Cred", "sock_recv", "sock_recvfrom", "sock_recv_into",
           "sock_recvfrom_into", "sock_recvmsg", "sock_sendto", "sock_sendall", "sock_connect", "sock_accept",
           "proc_net_sockstat", "create_datagram_endpoint", "DatagramTransport",
           *(n for n in dir(_constants) if n.isupper())]
