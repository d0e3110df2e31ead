"""PF_INET sockets: the protocol switch and the datagram ``proto_ops`` (net/ipv4/af_inet.c).

Guarantees, as Linux 6.x:
- ``inet_register_protosw`` is the ``inetsw`` table: per socket type a list of (protocol, sock factory,
  proto_ops, flags); ``inet_create`` picks the entry as Linux does (protocol 0 takes the first entry of
  the type; a wildcard entry matches any protocol but 0), else EPROTONOSUPPORT, or
  ESOCKTNOSUPPORT when the type has no entry at all. SOCK_RAW needs CAP_NET_RAW (EPERM); a raw
  socket is bound to its protocol (``inet_num``) and hashed at once; IPPROTO_RAW implies
  IP_HDRINCL; INET_PROTOSW_REUSE entries (raw, ping) start with SO_REUSEADDR set.
- ``ProtoOps`` is ``struct proto_ops``: its defaults are the ``sock_no_*`` stubs (EOPNOTSUPP).
  ``InetDgramOps`` is inet_dgram_ops/inet_sockraw_ops; a stream protocol (TCP) registers its own
  ``ProtoOps`` subclass (inet_stream_ops) with the same signatures.
- bind: shorter than a sockaddr_in is impossible in this API; the family/address/port rules are the
  protocol's (``sk.bind``). connect: AF_UNSPEC dissolves the association (``sk.disconnect``); an
  unbound socket gets an ephemeral port first (inet_autobind, EAGAIN when none is free).
  getname: the peer of an unconnected (or port-less) socket is ENOTCONN. shutdown: ``how`` outside
  0..2 is EINVAL; an unconnected datagram socket gets ENOTCONN but is shut down anyway.
  sendmsg autobinds like connect.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.sock.constants import (
    AF_UNSPEC,
    IPPROTO_IP,
    IPPROTO_RAW,
    SK_CAN_REUSE,
    SOCK_RAW,
    SOL_IP,
    TCP_CLOSE,
)
from tuxnet.sock.sockopt import ip_getsockopt, ip_setsockopt

if TYPE_CHECKING:
    from tuxnet.netns import Namespace
    from tuxnet.sock.sock import Cred
    from tuxnet.socket import Socket

INET_PROTOSW_REUSE = 0x01
INET_PROTOSW_PERMANENT = 0x02
INET_PROTOSW_ICSK = 0x04
TCP_SYN_SENT = 2

SockAddr = tuple[int, int, int]  # (family, IPv4 address as int, port)
RecvResult = tuple[bytes, Any, int, list[Any]]  # (data, (address int, port) | None, msg_flags, ancdata)
SockFactory = Callable[["Namespace", int, int, "Cred"], Any]


class ProtoOps:
    """struct proto_ops: what the socket layer calls. Defaults are sock_no_* (EOPNOTSUPP)."""

    __slots__ = ()
    name = "none"

    def release(self, sock: Socket) -> None:
        pass

    def bind(self, sock: Socket, addr: SockAddr) -> None:
        raise oserror(errno.EOPNOTSUPP)

    def connect(self, sock: Socket, addr: SockAddr, nonblock: bool) -> None:
        raise oserror(errno.EOPNOTSUPP)

    def accept(self, sock: Socket, nonblock: bool) -> Socket:
        raise oserror(errno.EOPNOTSUPP)

    def listen(self, sock: Socket, backlog: int) -> None:
        raise oserror(errno.EOPNOTSUPP)

    def getname(self, sock: Socket, peer: bool) -> tuple[int, int]:
        raise oserror(errno.EOPNOTSUPP)

    def poll(self, sock: Socket) -> int:
        return 0

    def shutdown(self, sock: Socket, how: int) -> None:
        raise oserror(errno.EOPNOTSUPP)

    def setsockopt(self, sock: Socket, level: int, optname: int, value: Any) -> None:
        raise oserror(errno.ENOPROTOOPT)

    def getsockopt(self, sock: Socket, level: int, optname: int, buflen: int | None) -> int | bytes:
        raise oserror(errno.ENOPROTOOPT)

    def sendmsg(self, sock: Socket, data: bytes, addr: SockAddr | None, flags: int) -> int:
        raise oserror(errno.EOPNOTSUPP)

    def recvmsg(self, sock: Socket, bufsize: int, flags: int, nonblock: bool) -> RecvResult:
        raise oserror(errno.EOPNOTSUPP)

    def ioctl(self, sock: Socket, cmd: int) -> int:
        raise oserror(errno.ENOTTY)


class InetDgramOps(ProtoOps):
    """inet_dgram_ops (UDP) and inet_sockraw_ops (raw, ping): generic inet code over ``sk``."""

    __slots__ = ()
    name = "inet_dgram_ops"

    def release(self, sock: Socket) -> None:
        """inet_release: the protocol's close."""
        sk = sock.sk
        if sk is not None:
            sk.close()

    def bind(self, sock: Socket, addr: SockAddr) -> None:
        """inet_bind -> sk_prot->bind or __inet_bind."""
        family, ip, port = addr
        sock.sk.bind(family, ip, port)

    def connect(self, sock: Socket, addr: SockAddr, nonblock: bool) -> None:
        """inet_dgram_connect."""
        sk = sock.sk
        family, ip, port = addr
        if family == AF_UNSPEC:
            sk.disconnect()
            return
        if not sk.inet_num and not sk.no_autobind:
            sk.autobind()
        sk.connect(family, ip, port)

    def getname(self, sock: Socket, peer: bool) -> tuple[int, int]:
        """inet_getname."""
        sk = sock.sk
        if peer:
            if not sk.inet_dport or sk.sk_state in (TCP_CLOSE, TCP_SYN_SENT):
                raise oserror(errno.ENOTCONN)
            return sk.inet_daddr, sk.inet_dport
        return sk.inet_rcv_saddr or sk.inet_saddr, sk.inet_sport

    def poll(self, sock: Socket) -> int:
        return sock.sk.poll()

    def shutdown(self, sock: Socket, how: int) -> None:
        """inet_shutdown for a datagram socket."""
        how += 1  # SHUT_RD..SHUT_RDWR -> RCV_SHUTDOWN, SEND_SHUTDOWN, both
        if how & ~3 or not how:
            raise oserror(errno.EINVAL)
        sk = sock.sk
        err = errno.ENOTCONN if sk.sk_state == TCP_CLOSE else 0
        # "Hack to wake up other listeners, who can poll for EPOLLHUP, even on eg. unconnected
        # UDP sockets -- RR": the flags are set even when ENOTCONN is returned
        sk.sk_shutdown |= how
        sk.sk_state_change()
        if err:
            raise oserror(err)

    def setsockopt(self, sock: Socket, level: int, optname: int, value: Any) -> None:
        if level == SOL_IP:
            ip_setsockopt(sock, optname, value)
        else:
            sock.sk.setsockopt(level, optname, value)

    def getsockopt(self, sock: Socket, level: int, optname: int, buflen: int | None) -> int | bytes:
        if level == SOL_IP:
            return ip_getsockopt(sock, optname, buflen)
        return sock.sk.getsockopt(level, optname, buflen)  # type: ignore[no-any-return]

    def sendmsg(self, sock: Socket, data: bytes, addr: SockAddr | None, flags: int) -> int:
        """inet_sendmsg: inet_send_prepare (autobind) then the protocol."""
        sk = sock.sk
        if not sk.inet_num and not sk.no_autobind:
            sk.autobind()
        return sk.sendmsg(data, addr, flags)  # type: ignore[no-any-return]

    def recvmsg(self, sock: Socket, bufsize: int, flags: int, nonblock: bool) -> RecvResult:
        return sock.sk.recvmsg(bufsize, flags, nonblock)  # type: ignore[no-any-return]

    def ioctl(self, sock: Socket, cmd: int) -> int:
        """inet_ioctl: the protocol's ioctl (udp_ioctl, raw_ioctl)."""
        return sock.sk.ioctl(cmd)  # type: ignore[no-any-return]


inet_dgram_ops = InetDgramOps()
inet_sockraw_ops = inet_dgram_ops  # same calls; Linux differs only in poll (udp_poll vs datagram_poll)


class InetProtosw:
    """struct inet_protosw: one entry of the inetsw table."""

    __slots__ = ("type", "protocol", "factory", "ops", "flags")

    def __init__(self, type_: int, protocol: int, factory: SockFactory, ops: ProtoOps, flags: int) -> None:
        self.type = type_
        self.protocol = protocol
        self.factory = factory
        self.ops = ops
        self.flags = flags


INETSW: dict[int, list[InetProtosw]] = {}


def inet_register_protosw(type_: int, protocol: int, factory: SockFactory, ops: ProtoOps,
                          flags: int = 0) -> None:
    """inet_register_protosw: a permanent entry cannot be overridden; new entries go after the
    permanent ones of their type."""
    lst = INETSW.setdefault(type_, [])
    last_perm = -1
    for i, ans in enumerate(lst):
        if ans.flags & INET_PROTOSW_PERMANENT:
            if ans.protocol == protocol:
                raise ValueError(f"attempt to override permanent protocol {protocol}")
            last_perm = i
        elif ans.protocol == protocol:
            lst.pop(i)
            break
    lst.insert(last_perm + 1, InetProtosw(type_, protocol, factory, ops, flags))


def inet_create(ns: Namespace, sock: Socket, protocol: int, cred: Cred) -> None:
    """inet_create: find the protocol, make its sock, attach it to ``sock``."""
    err = errno.ESOCKTNOSUPPORT
    answer = None
    for ans in INETSW.get(sock.type, ()):
        err = 0
        if protocol == ans.protocol:
            if protocol != IPPROTO_IP:
                answer = ans
                break
        else:
            # the two wildcard cases
            if protocol == IPPROTO_IP:
                protocol = ans.protocol
                answer = ans
                break
            if ans.protocol == IPPROTO_IP:
                answer = ans
                break
        err = errno.EPROTONOSUPPORT
    if answer is None:
        raise oserror(err)
    if sock.type == SOCK_RAW and not cred.capable("CAP_NET_RAW"):
        raise oserror(errno.EPERM)
    sk = answer.factory(ns, sock.type, protocol, cred)
    if answer.flags & INET_PROTOSW_REUSE:
        sk.sk_reuse = SK_CAN_REUSE
    if sock.type == SOCK_RAW:
        sk.inet_num = protocol
        if protocol == IPPROTO_RAW:
            sk.hdrincl = True
    sock.ops = answer.ops
    sock.proto = protocol
    sock.sk = sk
    sk.sk_socket = sock
    if sk.inet_num:
        # "It assumes that any protocol which allows the user to assign a number at socket
        # creation time automatically shares" (raw sockets)
        sk.inet_sport = sk.inet_num
        sk.hash()
    try:
        sk.init()
    except OSError:
        sk.close()
        sock.sk = None
        raise
