"""System calls of packetdrill scripts, made on the tuxnet namespace's sockets (run_system_call.c).

Guarantees:
- The calls packetdrill's table has for sockets: socket, bind, listen, accept, connect, read, readv,
  recv, recvfrom, recvmsg, write, writev, send, sendto, sendmsg, fcntl, ioctl, close, shutdown,
  getsockopt, setsockopt, poll (epoll_* in epoll.py). Others (splice, sendfile, open, pipe, cap_set
  ...) raise ``Unsupported``.
- recvmsg() checks msg_flags and the control messages as packetdrill does: the live call gets a
  control buffer as long as the script's messages (so a message that does not fit sets MSG_CTRUNC),
  then level, type, length and data are compared in order (cmsg_expect_eq): an integer cmsg_data
  is an int's bytes, a sock_extended_err is compared field by field, a scm_timestamping's ts[0]
  within --tolerance_usecs of its script time (zeros are not checked). OPT_STATS lists are
  ``Unsupported``. A failed recvmsg checks neither (the kernel leaves the msghdr untouched).
- Script fds are names: socket() and accept() map the script's expected fd to the live socket
  (any non-negative result is accepted, as packetdrill's CHECK_FD does); bind() binds the local
  address and port 8080 (``--bind_port``), connect() targets the remote address and port 8080
  (``--connect_port``); buffers are zero-filled, as packetdrill's calloc'ed ones.
- Blocking follows Linux: on a blocking socket (no O_NONBLOCK, no MSG_DONTWAIT) a call that would
  block sleeps in virtual time until the socket is ready (connect waits for the handshake's outcome,
  write until all bytes are queued, read until data or EOF, accept until a connection), as the
  kernel does; a non-blocking one returns -1 EAGAIN / EINPROGRESS.
- Results and errno are compared as end_syscall does, with its messages: ``Expected result 0 but
  got -1 with errno 11 (Resource temporarily unavailable)``, ``Expected non-negative result but got
  ...``, ``Expected errno 115 (Operation now in progress) but got 0 (Success)``; errno keeps the
  value of the last failing call, like C's. The caller wraps messages as ``runtime error in X call``.
"""

from __future__ import annotations

import errno as _errno
import functools
import os
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.ipv4.tcp import tcp_sockopt
from tuxnet.sock import constants as C
from tuxnet.sock import msg_zerocopy
from tuxnet.sock.constants import MSG_CTRUNC
from tuxnet.socket import cmsg_space, put_cmsgs
from tuxnet.tools.packetdrill import (
    Binary,
    EllipsisExpr,
    Expr,
    Int,
    Iovec,
    Linger,
    ListExpr,
    Msghdr,
    Pollfd,
    Str,
    Syscall,
    Word,
)
from tuxnet.tools.packetdrill.errors import Unsupported
from tuxnet.tools.packetdrill.packets import IPPROTO_TCP, SockRec

if TYPE_CHECKING:
    from tuxnet.socket import Socket
    from tuxnet.tools.packetdrill.runner import Run

# calls packetdrill has that this runner does not make (the rest are unknown to packetdrill too)
PACKETDRILL_ONLY = frozenset({"cap_set", "open", "sendfile", "pipe", "splice", "psp_rx_assoc",
                              "psp_tx_assoc"})
O_RDONLY, O_WRONLY, O_RDWR, O_NONBLOCK = 0, 1, 2, 0o4000
F_GETFD, F_SETFD, F_GETFL, F_SETFL = 1, 2, 3, 4
POLLNVAL = 0x20
U32 = 0xFFFFFFFF


def _symbols() -> dict[str, int]:
    """symbols_linux.c's table: the names scripts use, with Linux's values."""
    table: dict[str, int] = {n: v for n, v in vars(C).items() if n.isupper() and isinstance(v, int)}
    table.update({n: v for n, v in vars(tcp_sockopt).items() if n.startswith("TCP_") and isinstance(v, int)})
    table.update({n: getattr(_errno, n) for n in dir(_errno) if n.startswith("E") and n.isupper()})
    table.update(
        NULL=0, O_RDONLY=O_RDONLY, O_WRONLY=O_WRONLY, O_RDWR=O_RDWR, O_NONBLOCK=O_NONBLOCK,
        F_GETFD=F_GETFD, F_SETFD=F_SETFD, F_GETFL=F_GETFL, F_SETFL=F_SETFL, FD_CLOEXEC=1,
        POLLIN=0x1, POLLPRI=0x2, POLLOUT=0x4, POLLERR=0x8, POLLHUP=0x10, POLLNVAL=POLLNVAL,
        POLLRDNORM=0x40, POLLRDBAND=0x80, POLLWRNORM=0x100, POLLWRBAND=0x200, POLLMSG=0x400,
        POLLRDHUP=0x2000, EPOLLET=1 << 31, EPOLLONESHOT=1 << 30, EPOLLEXCLUSIVE=1 << 28,
        EPOLL_CTL_ADD=1, EPOLL_CTL_DEL=2, EPOLL_CTL_MOD=3,
        IPPROTO_IPV6=41, IPPROTO_ICMPV6=58, SOL_IPV6=41,
        MSG_FASTOPEN=0x20000000, MSG_ZEROCOPY=0x4000000, MSG_CMSG_CLOEXEC=0x40000000, MSG_WAITFORONE=0x10000,
        SO_TIMESTAMPING=37, SO_ZEROCOPY=60, SO_INCOMING_CPU=49, SO_MEMINFO=55, SO_TXTIME=61,
        SCM_TIMESTAMPING=37, SCM_TSTAMP_SND=0, SCM_TSTAMP_SCHED=1, SCM_TSTAMP_ACK=2,
        SIOCINQ=0x541B, FIONREAD=0x541B, SIOCOUTQ=0x5411, SIOCOUTQNSD=0x894B,
        TCP_MD5SIG=14, TCP_THIN_LINEAR_TIMEOUTS=16, TCP_THIN_DUPACK=17, TCP_REPAIR=19,
        TCP_REPAIR_QUEUE=20, TCP_QUEUE_SEQ=21, TCP_REPAIR_OPTIONS=22, TCP_FASTOPEN=23,
        TCP_TIMESTAMP=24, TCP_CC_INFO=26, TCP_SAVE_SYN=27, TCP_SAVED_SYN=28, TCP_REPAIR_WINDOW=29,
        TCP_FASTOPEN_CONNECT=30, TCP_ULP=31, TCP_MD5SIG_EXT=32, TCP_FASTOPEN_KEY=33,
        TCP_FASTOPEN_NO_COOKIE=34, TCP_ZEROCOPY_RECEIVE=35, TCP_INQ=36, TCP_CM_INQ=36, TCP_TX_DELAY=37,
        SO_EE_ORIGIN_NONE=0, SO_EE_ORIGIN_LOCAL=1, SO_EE_ORIGIN_ICMP=2, SO_EE_ORIGIN_ICMP6=3,
        SO_EE_ORIGIN_TIMESTAMPING=4, SO_EE_ORIGIN_ZEROCOPY=5, SO_EE_CODE_ZEROCOPY_COPIED=1,
        SOF_TIMESTAMPING_TX_HARDWARE=1, SOF_TIMESTAMPING_TX_SOFTWARE=2, SOF_TIMESTAMPING_RX_HARDWARE=4,
        SOF_TIMESTAMPING_RX_SOFTWARE=8, SOF_TIMESTAMPING_SOFTWARE=16, SOF_TIMESTAMPING_SYS_HARDWARE=32,
        SOF_TIMESTAMPING_RAW_HARDWARE=64, SOF_TIMESTAMPING_OPT_ID=128, SOF_TIMESTAMPING_TX_SCHED=256,
        SOF_TIMESTAMPING_TX_ACK=512, SOF_TIMESTAMPING_OPT_CMSG=1024, SOF_TIMESTAMPING_OPT_TSONLY=2048,
        SOF_TIMESTAMPING_OPT_STATS=4096,
    )
    return table


SYMBOLS = _symbols()



_CESC = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34, "'": 39, "a": 7, "b": 8, "f": 12, "v": 11}


def unescape_cstring(text: str) -> bytes:
    """packetdrill's unescape_cstring_expression: C escapes (\\xHH, octal, \\n ...) in a string value."""
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 == len(text):
            out += c.encode("latin-1", "replace")
            i += 1
            continue
        e = text[i + 1]
        if e == "x":
            j = i + 2
            while j < len(text) and j < i + 4 and text[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(text[i + 2:j] or "0", 16) & 0xFF)
            i = j
        elif e in "01234567":
            j = i + 1
            while j < len(text) and j < i + 4 and text[j] in "01234567":
                j += 1
            out.append(int(text[i + 1:j], 8) & 0xFF)
            i = j
        else:
            out.append(_CESC.get(e, ord(e) & 0xFF))
            i += 2
    return bytes(out)

class CallError(Exception):
    """A check failed inside a system call: the text after ``runtime error in X call: ``."""


ELLIPSIS = EllipsisExpr()
_TYPE_NAMES = {Int: "integer", Word: "word", EllipsisExpr: "ellipsis", Str: "string", ListExpr: "list",
               Binary: "binary_expression", Linger: "linger", Iovec: "iovec", Msghdr: "msghdr",
               Pollfd: "pollfd"}


def type_name(e: Expr) -> str:
    return _TYPE_NAMES.get(type(e), type(e).__name__.lower())


def evaluate(e: Expr) -> Expr:
    """evaluate_expression: symbols and ``a|b`` become integers; structures keep their shape."""
    if isinstance(e, Word):
        if e.name not in SYMBOLS:
            raise Unsupported(f"symbol {e.name}")
        return Int(SYMBOLS[e.name])
    if isinstance(e, Binary):
        if e.op == "|":
            lhs, rhs = evaluate(e.lhs), evaluate(e.rhs)
            if not isinstance(lhs, Int) or not isinstance(rhs, Int):
                raise CallError("bad binary expression: '|' needs integers")
            return Int(lhs.value | rhs.value)
        return Binary(e.op, e.lhs, evaluate(e.rhs))
    if isinstance(e, ListExpr):
        return ListExpr(tuple(evaluate(x) for x in e.items), e.brace)
    return e


def strerror(code: int) -> str:
    return os.strerror(code) if code else "Success"


class Syscalls:
    """The system-call side of one run: fd table, errno, and the calls themselves."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.errno = 0
        self.table: dict[str, Callable[..., Any]] = {
            "socket": self.sys_socket, "bind": self.sys_bind, "listen": self.sys_listen,
            "accept": self.sys_accept, "connect": self.sys_connect, "read": self.sys_read,
            "readv": self.sys_readv, "recv": self.sys_recv, "recvfrom": self.sys_recvfrom,
            "recvmsg": self.sys_recvmsg, "write": self.sys_write, "writev": self.sys_writev,
            "send": self.sys_send, "sendto": self.sys_sendto, "sendmsg": self.sys_sendmsg,
            "fcntl": self.sys_fcntl, "close": self.sys_close, "shutdown": self.sys_shutdown,
            "getsockopt": self.sys_getsockopt, "setsockopt": self.sys_setsockopt, "poll": self.sys_poll,
            "ioctl": self.sys_ioctl,
        }
        from tuxnet.tools.packetdrill import epoll  # it builds on this module

        for name in ("epoll_create", "epoll_ctl", "epoll_wait"):
            self.table[name] = functools.partial(getattr(epoll, f"sys_{name}"), self)

    # -- argument helpers (run_system_call.c's s32_arg, ellipsis_arg ...)

    @staticmethod
    def count(args: tuple[Expr, ...], n: int) -> None:
        if len(args) != n:
            raise CallError(f"Expected {n} args but got {len(args)}")

    @staticmethod
    def s32(e: Expr) -> int:
        if not isinstance(e, Int):
            raise CallError(f"Bad type; actual: {type_name(e)} expected: integer")
        if not -(2**31) <= e.value <= U32:
            raise CallError(f"Value out of range for 32-bit integer: {e.value}")
        v = e.value & U32
        return v - (1 << 32) if v >= 1 << 31 else v

    @classmethod
    def bracketed(cls, e: Expr) -> int:
        if not isinstance(e, ListExpr):
            raise CallError(f"Bad type; actual: {type_name(e)} expected: list")
        if len(e.items) != 1:
            raise CallError("Expected [<element>] but got multiple elements")
        return cls.s32(e.items[0])

    @staticmethod
    def ellipsis(e: Expr) -> None:
        if not isinstance(e, EllipsisExpr):
            raise CallError(f"Bad type; actual: {type_name(e)} expected: ellipsis")

    @staticmethod
    def buffer(e: Expr) -> bool:
        """buffer_arg: True for NULL (0), False for ``...``."""
        if isinstance(e, EllipsisExpr):
            return False
        if isinstance(e, Int) and e.value == 0:
            return True
        raise CallError("Expected ... or NULL for buffer")

    def rec(self, script_fd: int) -> SockRec:
        """to_live_fd."""
        for r in self.run.fds:
            if not r.closed and r.script_fd == script_fd and r.sock is not None:
                return r
        raise CallError(f"unable to find fd with script fd {script_fd}")

    def sock(self, args: tuple[Expr, ...]) -> tuple[SockRec, Socket]:
        r = self.rec(self.s32(args[0]))
        if r.protocol < 0:
            raise Unsupported("socket calls on an epoll fd")
        return r, r.sock  # type: ignore[return-value]

    # -- running one call

    async def invoke(self, sc: Syscall) -> None:
        fn = self.table.get(sc.name)
        if fn is None:
            if sc.name in PACKETDRILL_ONLY:
                raise Unsupported(f"system call {sc.name}()")
            raise CallError(f"Unknown system call: '{sc.name}'")
        args = tuple(evaluate(a) for a in sc.args)
        await fn(sc, args)

    async def end(self, sc: Syscall, result: int, *, fd_mode: bool = False) -> None:
        """end_syscall: the result (and errno) against the script's expectations."""
        if sc.end_usecs is not None:
            await self.run.syscall_returned()
        if self.run.verbose:
            self.run.say(f"{sc.name} syscall: {self.run.now_usecs() / 1e6:9.6f}")
        expected = self.s32(sc.result)
        err = self.errno
        if fd_mode and expected >= 0:
            if result < 0:
                raise CallError(f"Expected non-negative result but got {result} with errno {err} "
                                f"({strerror(err)})")
        elif result != expected:
            raise CallError(f"Expected result {expected} but got {result} with errno {err} ({strerror(err)})")
        if sc.errno is not None:
            want = SYMBOLS.get(sc.errno)
            if want is None:
                raise Unsupported(f"errno {sc.errno}")
            if want != err:
                raise CallError(f"Expected errno {want} ({strerror(want)}) but got {err} ({strerror(err)})")

    def fail(self, e: OSError) -> int:
        self.errno = e.errno or _errno.EINVAL
        return -1

    async def op(self, sc: Syscall, sock: Socket, fn: Callable[[], Any], events: int,
                 nonblock: bool = False) -> Any:
        """Run ``fn`` as a blocking or non-blocking socket call would; an OSError propagates."""
        while True:
            try:
                return fn()
            except BlockingIOError:
                if nonblock or not sock.blocking:
                    raise
            await self.run.sleep_on(sc, sock, events)

    # -- the calls

    async def sys_socket(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 3)
        domain = self.run.config.socket_domain if isinstance(args[0], EllipsisExpr) else self.s32(args[0])
        stype, proto = self.s32(args[1]), self.s32(args[2])
        try:
            s = self.run.ns.socket(domain, stype, proto)
            result = s.fileno()
        except OSError as e:
            s, result = None, self.fail(e)
        await self.end(sc, result, fd_mode=True)
        if s is None:
            return
        script_fd = self.s32(sc.result)
        if any(not r.closed and r.script_fd == script_fd for r in self.run.fds):
            raise CallError(f"duplicate fd {script_fd} in script")
        base = stype & C.SOCK_TYPE_MASK
        if not proto:
            proto = IPPROTO_TCP if base == C.SOCK_STREAM else C.IPPROTO_UDP if base == C.SOCK_DGRAM else proto
        r = SockRec(state="new", script_fd=script_fd, sock=s, protocol=proto, type=base)
        self.run.add_fd(r)
        self.run.socket_under_test = r

    async def sys_bind(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 3)
        _, s = self.sock(args)
        self.ellipsis(args[1])
        self.ellipsis(args[2])
        cfg = self.run.config
        await self.end(sc, self._call(lambda: s.bind((cfg.local_ip_str, cfg.bind_port))))

    async def sys_listen(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 2)
        r, s = self.sock(args)
        backlog = self.s32(args[1])
        result = self._call(lambda: s.listen(backlog))
        await self.end(sc, result)
        if result == 0:
            r.state = "listening"

    async def sys_accept(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 3)
        _, s = self.sock(args)
        self.ellipsis(args[1])
        self.ellipsis(args[2])
        new = None
        try:
            new, _ = await self.op(sc, s, s.accept, C.POLLIN_SET)
            result = new.fileno()
        except OSError as e:
            result = self.fail(e)
        await self.end(sc, result, fd_mode=True)
        if new is None:
            return
        script_fd = self.s32(sc.result)
        cands = [r for r in reversed(self.run.fds)
                 if r.state in ("passive_synack_sent", "passive_synack_acked") and r.sock is None]
        if not cands:
            raise CallError("unable to find socket matching accept() call")
        cands[0].script_fd = script_fd
        cands[0].sock = new

    def _connect_prep(self, r: SockRec, sa_family: int | None) -> Any:
        """run_syscall_connect: the live address, and the socket's state for the packets to come."""
        cfg = self.run.config
        if sa_family == C.AF_UNSPEC:
            r.state = "new"
            return C.AF_UNSPEC
        if r.state == "new":
            r.state = "active_connecting"
            r.script_local = r.script_remote = (0, 0)
            r.live_remote = (cfg.remote_ip, cfg.connect_port)
        return (cfg.remote_ip_str, cfg.connect_port)

    async def sys_connect(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 3)
        r, s = self.sock(args)
        fam = None if isinstance(args[1], EllipsisExpr) else self.s32(args[1])
        self.ellipsis(args[2])
        addr = self._connect_prep(r, fam)
        try:
            try:
                s.connect(addr)
                result = 0
            except BlockingIOError as e:
                if not s.blocking or e.errno not in (_errno.EINPROGRESS, _errno.EALREADY):
                    raise
                while True:  # __inet_stream_connect's inet_wait_for_connect
                    await self.run.sleep_on(sc, s, C.POLLOUT_SET | C.EPOLLHUP)
                    try:
                        s.connect(addr)
                        break
                    except BlockingIOError:
                        continue
                result = 0
        except OSError as e:
            result = self.fail(e)
        await self.end(sc, result)

    def _call(self, fn: Callable[[], Any]) -> int:
        try:
            v = fn()
        except OSError as e:
            return self.fail(e)
        return v if isinstance(v, int) and not isinstance(v, bool) else 0

    async def _recv(self, sc: Syscall, s: Socket, count: int, flags: int,
                    null: bool = False) -> tuple[int, Any]:
        if null and count:
            self.errno = _errno.EFAULT
            return -1, None
        try:
            data, _addr, mflags, anc = await self.op(
                sc, s, lambda: s.ops.recvmsg(s, count, flags, True), C.POLLIN_SET,
                nonblock=bool(flags & (C.MSG_DONTWAIT | C.MSG_ERRQUEUE)))  # the error queue never blocks
        except OSError as e:
            return self.fail(e), None
        return (count if flags & C.MSG_TRUNC and count > len(data) else len(data)), (mflags, anc)

    async def sys_read(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 3)
        _, s = self.sock(args)
        null = self.buffer(args[1])
        result, _ = await self._recv(sc, s, self.s32(args[2]), 0, null)
        await self.end(sc, result)

    async def sys_recv(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 4)
        _, s = self.sock(args)
        null = self.buffer(args[1])
        result, _ = await self._recv(sc, s, self.s32(args[2]), self.s32(args[3]), null)
        await self.end(sc, result)

    async def sys_recvfrom(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 6)
        _, s = self.sock(args)
        null = self.buffer(args[1])
        self.ellipsis(args[4])
        self.ellipsis(args[5])
        result, _ = await self._recv(sc, s, self.s32(args[2]), self.s32(args[3]), null)
        await self.end(sc, result)

    def _iovec(self, e: Expr) -> list[int]:
        if not isinstance(e, ListExpr):
            raise CallError(f"Bad type; actual: {type_name(e)} expected: list")
        lens = []
        for item in e.items:
            if not isinstance(item, Iovec):
                raise CallError(f"Bad type; actual: {type_name(item)} expected: iovec")
            lens.append(item.length)
        return lens

    async def sys_readv(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 3)
        _, s = self.sock(args)
        lens = self._iovec(args[1])
        n = self.s32(args[2])
        if n != len(lens):
            raise CallError(f"iov_count {n} does not match {len(lens)}-element iovec array")
        result, _ = await self._recv(sc, s, sum(lens), 0)
        await self.end(sc, result)

    async def sys_recvmsg(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 3)
        _, s = self.sock(args)
        msg = args[1]
        if not isinstance(msg, Msghdr):
            raise CallError(f"Bad type; actual: {type_name(msg)} expected: msghdr")
        lens = self._msg_iov(msg)
        from tuxnet.tools.packetdrill.cmsg import cmsg_expect_eq, cmsg_expected, cmsg_len

        want_cmsgs = cmsg_expected(msg.control)
        want_flags = self.s32(evaluate(msg.flags))
        result, info = await self._recv(sc, s, sum(lens), self.s32(args[2]))
        await self.end(sc, result)
        if info is None:
            return  # a failed recvmsg leaves the caller's msghdr (msg_flags, control) as it was
        # the live call's control buffer is as long as the script's messages (cmsg_new)
        space = sum(cmsg_space(cmsg_len(level, kind, val)) for level, _, (kind, val) in want_cmsgs)
        got_cmsgs, truncated = put_cmsgs(info[1], space)
        got_flags = info[0] | (MSG_CTRUNC if truncated else 0)
        if got_flags != want_flags:
            raise CallError(f"Expected msg_flags 0x{want_flags & U32:08X} but got 0x{got_flags & U32:08X}")
        cmsg_expect_eq(self.run, want_cmsgs, got_cmsgs)

    def _msg_iov(self, msg: Msghdr) -> list[int]:
        lens = self._iovec(evaluate(msg.iov))
        if msg.iov_len != len(lens):
            raise CallError(f"msg_iovlen {msg.iov_len} does not match {len(lens)}-element iovec array")
        return lens

    async def _send(self, sc: Syscall, s: Socket, data: bytes, flags: int, addr: Any = None,
                    iov: list[int] | None = None) -> int:
        """tcp_sendmsg's loop: a blocking socket queues everything, waiting for send buffer space.
        ``iov``: the lengths of a TCP sendmsg's buffers (each one's pages are frags for MSG_ZEROCOPY)."""
        sent = 0
        nonblock = bool(flags & C.MSG_DONTWAIT) or not s.blocking
        while True:
            try:
                if iov is not None:
                    n = s.ops.sendmsg(s, data[sent:], addr, flags, iov=msg_zerocopy.iov_tail(iov, sent))
                elif addr is not None:
                    n = s.ops.sendmsg(s, data[sent:], addr, flags)
                else:
                    n = s.ops.sendmsg(s, data[sent:], None, flags)
                sent += n
                if sent >= len(data):
                    return sent
            except BlockingIOError as e:
                if nonblock:
                    return sent if sent else self.fail(e)
            except OSError as e:
                return sent if sent else self.fail(e)
            if nonblock:
                return sent
            await self.run.sleep_on(sc, s, C.POLLOUT_SET | C.EPOLLHUP)

    async def sys_write(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 3)
        _, s = self.sock(args)
        null = self.buffer(args[1])
        n = self.s32(args[2])
        result = self._efault() if null and n else await self._send(sc, s, bytes(n), 0)
        await self.end(sc, result)

    def _efault(self) -> int:
        self.errno = _errno.EFAULT
        return -1

    async def sys_writev(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 3)
        _, s = self.sock(args)
        lens = self._iovec(args[1])
        n = self.s32(args[2])
        if n != len(lens):
            raise CallError(f"iov_count {n} does not match {len(lens)}-element iovec array")
        await self.end(sc, await self._send(sc, s, bytes(sum(lens)), 0))

    async def sys_send(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 4)
        _, s = self.sock(args)
        null = self.buffer(args[1])
        n, flags = self.s32(args[2]), self.s32(args[3])
        result = self._efault() if null and n else await self._send(sc, s, bytes(n), flags)
        await self.end(sc, result)

    async def sys_sendto(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 6)
        r, s = self.sock(args)
        null = self.buffer(args[1])
        n, flags = self.s32(args[2]), self.s32(args[3])
        fam = None if isinstance(args[4], EllipsisExpr) else self.s32(args[4])
        self.ellipsis(args[5])
        if r.protocol not in (IPPROTO_TCP, C.IPPROTO_UDP):
            raise Unsupported(f"sendto() on protocol {r.protocol} sockets")
        addr = self._connect_prep(r, fam)
        live = (C.AF_UNSPEC, 0, 0) if addr == C.AF_UNSPEC else (C.AF_INET, self.run.config.remote_ip, addr[1])
        result = self._efault() if null and n else await self._send(sc, s, bytes(n), flags, live)
        await self.end(sc, result)

    async def sys_sendmsg(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 3)
        r, s = self.sock(args)
        msg = args[1]
        if not isinstance(msg, Msghdr):
            raise CallError(f"Bad type; actual: {type_name(msg)} expected: msghdr")
        lens = self._msg_iov(msg)
        if msg.control is not None and msg.control.items:
            raise Unsupported("sendmsg() control messages")
        flags = self.s32(args[2])
        if self.s32(evaluate(msg.flags)) != 0:
            raise CallError("sendmsg ignores msg_flags field in msghdr")
        addr = self._connect_prep(r, None)
        live = (C.AF_INET, self.run.config.remote_ip, addr[1])
        iov = [n for n in lens if n] if r.protocol == IPPROTO_TCP else None
        await self.end(sc, await self._send(sc, s, bytes(sum(lens)), flags, live, iov))

    async def sys_fcntl(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        if len(args) not in (2, 3):
            raise CallError(f"fcntl expected 2-3 args but got {len(args)}")
        _, s = self.sock(args)
        cmd = self.s32(args[1])
        arg = self.s32(args[2]) if len(args) == 3 else 0
        if cmd == F_GETFL:
            result = O_RDWR | (0 if s.blocking else O_NONBLOCK)
        elif cmd == F_SETFL:
            s.setblocking(not arg & O_NONBLOCK)
            result = 0
        elif cmd in (F_GETFD, F_SETFD):
            result = 0
        else:
            self.errno = _errno.EINVAL
            result = -1
        await self.end(sc, result)

    async def sys_ioctl(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        """syscall_ioctl: ``ioctl(fd, cmd)`` or ``ioctl(fd, cmd, [int])``, the int compared after."""
        if len(args) not in (2, 3):
            raise CallError(f"ioctl expected 2-3 args but got {len(args)}")
        _, s = self.sock(args)
        cmd = self.s32(args[1])
        want = self.bracketed(args[2]) if len(args) == 3 else None
        got = 0
        try:
            got = s.ioctl(cmd & U32)
            result = 0
        except OSError as e:
            result = self.fail(e)
        await self.end(sc, result)
        if want is not None and result == 0 and got != want:
            raise CallError(f"Bad ioctl optval: expected: {want} actual: {got}")

    async def sys_close(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 1)
        r = self.rec(self.s32(args[0]))
        result = self._call(r.sock.close)  # type: ignore[union-attr]
        await self.end(sc, result)
        r.closed = True

    async def sys_shutdown(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 2)
        _, s = self.sock(args)
        how = self.s32(args[1])
        await self.end(sc, self._call(lambda: s.shutdown(how)))

    async def sys_setsockopt(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 5)
        _, s = self.sock(args)
        level, name, optlen = self.s32(args[1]), self.s32(args[2]), self.s32(args[4])
        v = args[3]
        if isinstance(v, Linger):
            raw = struct.pack("=ii", v.onoff, v.linger)
        elif isinstance(v, Str):
            raw = unescape_cstring(v.value)
        elif isinstance(v, ListExpr):
            raw = struct.pack("=i", self.bracketed(v))
        else:
            raise Unsupported(f"setsockopt value of type {type_name(v)}")
        raw = raw[:optlen].ljust(optlen, b"\0") if optlen >= 0 else raw
        await self.end(sc, self._call(lambda: s.setsockopt(level, name, raw)))

    async def sys_getsockopt(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 5)
        _, s = self.sock(args)
        level, name = self.s32(args[1]), self.s32(args[2])
        want_len = self.bracketed(args[4])
        val: Any = b""
        try:
            val = s.getsockopt(level, name, want_len)
            result = 0
        except OSError as e:
            result = self.fail(e)
        await self.end(sc, result)
        if result:
            return
        if isinstance(val, int):
            val = struct.pack("=i", val)[:want_len]
        if len(val) != want_len:
            raise CallError(f"Bad getsockopt optlen: expected: {want_len} actual: {len(val)}")
        e = args[3]
        if isinstance(e, ListExpr):
            if want_len != 4:
                raise CallError(f"Unsupported getsockopt optlen: {want_len}")
            want = self.bracketed(e)
            got = struct.unpack("=i", val)[0]
            if got != want:
                raise CallError(f"Bad getsockopt optval: expected: {want} actual: {got}")
        elif isinstance(e, Str):
            exp = e.value.encode("latin-1", "replace")
            if want_len != len(exp):
                raise CallError(f"Bad getsockopt optval: expected optlen ({want_len} bytes) does not match "
                                f"length of expected optval string '{e.value}' ({len(exp)} bytes)")
            if val != exp:
                raise CallError(f"Bad getsockopt optval: expected: '{e.value}' actual: "
                                f"'{val.decode('latin-1')}'")
        else:
            raise CallError(f"unsupported getsockopt value type: {type_name(e)}")

    async def sys_poll(self, sc: Syscall, args: tuple[Expr, ...]) -> None:
        self.count(args, 3)
        fds = args[0]
        if not isinstance(fds, ListExpr):
            raise CallError(f"Bad type; actual: {type_name(fds)} expected: list")
        entries: list[tuple[Socket, int, int]] = []
        for item in fds.items:
            if not isinstance(item, Pollfd):
                raise CallError(f"Bad type; actual: {type_name(item)} expected: pollfd")
            fd, events = self.s32(evaluate(item.fd)), self.s32(evaluate(item.events))
            revents = self.s32(evaluate(item.revents)) if item.revents is not None else 0
            entries.append((self.rec(fd).sock, events, revents))  # type: ignore[arg-type]
        nfds, timeout = self.s32(args[1]), self.s32(args[2])
        if nfds != len(entries):
            raise CallError(f"nfds {nfds} does not match {len(entries)}-element pollfd array")

        def ready() -> list[int]:
            return [s.poll() & (ev | C.EPOLLERR | C.EPOLLHUP) for s, ev, _ in entries]

        deadline = None if timeout < 0 else self.run.now_ns() + timeout * 1_000_000
        got = ready()
        while not any(got) and (deadline is None or self.run.now_ns() < deadline):
            await self.run.sleep_on_any(sc, [(s, ev | C.EPOLLERR | C.EPOLLHUP) for s, ev, _ in entries],
                                        deadline)
            got = ready()
        await self.end(sc, sum(1 for g in got if g))
        for i, (g, (_, _, want)) in enumerate(zip(got, entries, strict=True)):
            if g != want:
                raise CallError(f"Expected revents of {poll_flags(want)} but got {poll_flags(g)} "
                                f"for pollfd {i}")


_POLL_NAMES = (("POLLIN", 0x1), ("POLLPRI", 0x2), ("POLLOUT", 0x4), ("POLLERR", 0x8), ("POLLHUP", 0x10),
               ("POLLNVAL", 0x20), ("POLLRDNORM", 0x40), ("POLLRDBAND", 0x80), ("POLLWRNORM", 0x100),
               ("POLLWRBAND", 0x200), ("POLLMSG", 0x400), ("POLLRDHUP", 0x2000))


def poll_flags(v: int) -> str:
    """flags_to_string(poll_flags, v): ``POLLIN|POLLOUT`` (``0`` when none)."""
    names = [n for n, bit in _POLL_NAMES if v & bit]
    rest = v & ~sum(bit for _, bit in _POLL_NAMES)
    if rest:
        names.append(f"{rest:#x}")
    return "|".join(names) if names else "0"
