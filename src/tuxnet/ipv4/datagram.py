"""What UDP, raw and ping sockets share on the way out, on the way in and in /proc.

Linux writes these steps out in each of udp_sendmsg, raw_sendmsg and ping_v4_sendmsg, and in
udp_recvmsg, raw_recvmsg and ping_recvmsg; tuxnet keeps one copy here (the role of
net/ipv4/datagram.c and the ip_cmsg_recv part of net/ipv4/ip_sockglue.c). Guarantees:

- ``sendmsg_dest`` is where a datagram goes: the address given (AF_INET, or AF_UNSPEC except for
  ping sockets: EAFNOSUPPORT), else the connected peer (EDESTADDRREQ when not connected).
- ``sendmsg_route`` routes a datagram as all three do: the output device and source chosen before
  routing (``out_oif_saddr``), ip_route_output_flow (ENETUNREACH counts OutNoRoutes, except for raw
  sockets: raw_sendmsg does not count it), EACCES for a broadcast route unless SO_BROADCAST is set,
  and the route's destination when the datagram was sent to INADDR_ANY.
- ``datagram_recvmsg`` is the common frame of the three recvmsg calls: MSG_OOB is EOPNOTSUPP,
  MSG_ERRQUEUE reads the error queue (ip_recv_error), otherwise the next datagram is dequeued
  (__skb_recv_datagram: EAGAIN, or EOF after shutdown); the protocol copies its part out, and the
  ancillary data the socket asked for follows (``ip_cmsg_recv``: IP_PKTINFO, IP_TTL, IP_TOS).
- ``proc_sock_fields``, ``proc_seq_show`` and ``proc_order`` are the columns and the walk order /proc/net/udp,
  /proc/net/raw and /proc/net/icmp share (addresses as a little-endian machine prints a __be32).
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from tuxnet.core.errors import oserror
from tuxnet.ipv4.route import RTCF_BROADCAST
from tuxnet.sock.constants import AF_INET, AF_UNSPEC, MSG_ERRQUEUE, MSG_OOB, TCP_ESTABLISHED

if TYPE_CHECKING:
    from tuxnet.netns import Namespace
    from tuxnet.skb import SkBuff
    from tuxnet.sock.sock import InetSock

_IN_PKTINFO = struct.Struct("=i4s4s")
_INT = struct.Struct("=i")

S = TypeVar("S", bound="InetSock")
RecvResult = tuple[bytes, Any, int, list[Any]]


def sendmsg_dest(sk: InetSock, addr: tuple[int, int, int] | None, *,
                 unspec_ok: bool = True) -> tuple[int, int]:
    """(address, port) a datagram goes to: ``addr`` (family, address, port) when given, else the peer
    of a connected socket."""
    if addr is not None:
        family, daddr, dport = addr
        if family != AF_INET and not (unspec_ok and family == AF_UNSPEC):
            raise oserror(errno.EAFNOSUPPORT)
        return daddr, dport
    if sk.sk_state != TCP_ESTABLISHED:
        raise oserror(errno.EDESTADDRREQ)
    return sk.inet_daddr, sk.inet_dport


def sendmsg_route(sk: InetSock, daddr: int, *, count_noroutes: bool = True) -> tuple[Any, int, int]:
    """(route, output ifindex, destination) for a datagram ``sk`` sends to ``daddr``."""
    oif, saddr = sk.out_oif_saddr(daddr)
    if count_noroutes:
        rt = sk.route_output(daddr, saddr, oif)
    else:  # raw_sendmsg counts no OutNoRoutes
        rt = sk.ns.route.output(daddr, saddr, sk.tos & 0x1E, oif, sk.sk_mark)
    if rt.flags & RTCF_BROADCAST and "SOCK_BROADCAST" not in sk.sock_flags:
        raise oserror(errno.EACCES)
    return rt, oif, daddr or rt.daddr


def datagram_recvmsg(sk: InetSock, bufsize: int, flags: int, nonblock: bool,
                     copy: Callable[[SkBuff, int, int], tuple[bytes, Any, int]]) -> RecvResult:
    """recvmsg around ``copy(skb, bufsize, flags) -> (data, address, msg_flags)``."""
    if flags & MSG_OOB:
        raise oserror(errno.EOPNOTSUPP)
    if flags & MSG_ERRQUEUE:
        return sk.ip_recv_error(bufsize)
    entry = sk.skb_recv_datagram(flags, nonblock)
    if entry is None:
        return b"", None, 0, []
    skb = entry[0]
    data, addr, mflags = copy(skb, bufsize, flags)
    sock = sk.sk_socket
    anc: list[Any] = ip_cmsg_recv(sock.cmsg_flags, skb) if sock is not None and sock.cmsg_flags else []
    return data, addr, mflags, anc


def ip_cmsg_recv(cmsg_flags: frozenset[str], skb: SkBuff) -> list[tuple[int, int, bytes]]:
    """ip_cmsg_recv_offset: IP_PKTINFO, IP_TTL and IP_TOS ancillary data, in the kernel's order."""
    buf = skb.buf
    nh = skb.network_header
    out: list[tuple[int, int, bytes]] = []
    if "IP_CMSG_PKTINFO" in cmsg_flags:
        dev = skb.dev
        daddr = bytes(buf[nh + 16:nh + 20])
        out.append((0, 8, _IN_PKTINFO.pack(dev.ifindex if dev is not None else 0, daddr, daddr)))
    if "IP_CMSG_TTL" in cmsg_flags:
        out.append((0, 2, _INT.pack(buf[nh + 8])))
    if "IP_CMSG_TOS" in cmsg_flags:
        out.append((0, 1, bytes((buf[nh + 1],))))
    return out


def _le32(addr: int) -> int:
    """A __be32 printed with %08X on a little-endian machine."""
    return int.from_bytes(addr.to_bytes(4, "big"), "little")


def proc_sock_fields(ns: Namespace, sk: InetSock, lport: int, rport: int) -> str:
    """The columns after ``sl:`` of udp4_format_sock, ping_v4_format_sock and raw_sock_seq_show."""
    from tuxnet.socket import kptr

    sock = sk.sk_socket
    ino = sock.ino if sock is not None else 0
    return (f"{_le32(sk.inet_rcv_saddr):08X}:{lport:04X} {_le32(sk.inet_daddr):08X}:{rport:04X} "
            f"{sk.sk_state:02X} {sk.sk_wmem_alloc:08X}:{sk.sk_rmem_alloc:08X} 00:00000000 00000000 "
            f"{sk.sk_uid:5d} {0:8d} {ino} 2 {kptr(ns, ino)} {sk.sk_drops}")


def proc_seq_show(ns: Namespace, header: str, table: Any) -> str:
    """/proc/net/udp or /proc/net/icmp: ``header``, then a line per socket of ``table`` (its hash slot,
    local and remote port), every line padded to 127 columns as udp4_seq_show and ping_v4_seq_show
    pad them."""
    lines = [header.ljust(127)]
    for sk in table.sockets():
        fields = proc_sock_fields(ns, sk, sk.inet_sport, sk.inet_dport)
        lines.append(f"{table.bucket(sk.inet_num):5d}: {fields}".ljust(127))
    return "\n".join(lines) + "\n"


def proc_order(chains: Iterable[list[S]], bucket: Callable[[int], int]) -> list[S]:
    """The sockets of a hash table in the order its /proc file lists them: by hash slot, then the
    most recently hashed first (new sockets go to the head of their chain)."""
    out = [sk for chain in chains for sk in chain]
    out.sort(key=lambda sk: (bucket(sk.inet_num), -sk.hash_seq))
    return out
