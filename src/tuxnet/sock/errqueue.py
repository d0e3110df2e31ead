"""The socket error queue (``sk_error_queue``) and reading it with ``recvmsg(MSG_ERRQUEUE)``.

Mirrors net/core/skbuff.c (sock_queue_err_skb, sock_dequeue_err_skb, is_icmp_err_skb),
net/ipv4/ip_sockglue.c (ip_recv_error, ipv4_datagram_support_addr, ipv4_datagram_support_cmsg),
net/socket.c (__sock_recv_timestamp: the SCM_TIMESTAMPING cmsg an error-queue skb carries) and the
layouts of include/uapi/linux/errqueue.h.

Guarantees:
- An entry is a ``SockExterr`` (struct sock_exterr_skb): the ``sock_extended_err`` fields, the
  offender address, the bytes recvmsg copies out (the quoted packet, or the packet a timestamp was
  taken on, or nothing), a software timestamp (ns) and, for OPT_STATS, the netlink attributes.
- ``sock_queue_err_skb`` charges the entry to ``sk_rmem_alloc`` and refuses it when the receive
  buffer is full (ENOMEM, dropped), then wakes the socket (EPOLLERR) unless it is dead; zerocopy
  completions are queued by ``skb_queue_err_tail`` without the receive-buffer charge (they are
  sock_omalloc'ed in Linux) and may be merged into the tail entry (msg_zerocopy.py).
- ``ip_recv_error`` dequeues one entry: the data (MSG_TRUNC when cut), MSG_ERRQUEUE in the flags,
  the source address only for ICMP/LOCAL entries (or when the entry has a port), and the cmsgs in
  Linux's order: SCM_TIMESTAMP / SCM_TIMESTAMPING (+ SCM_TIMESTAMPING_OPT_STATS) when the socket's
  flags ask for them, then (SOL_IP, IP_RECVERR) = struct sock_extended_err (16 bytes) + struct
  sockaddr_in offender (16 bytes), byte for byte as the kernel writes them. After the dequeue,
  ``sk_err`` follows the next entry when that is an ICMP error, and is cleared when an ICMP entry
  was read and none follows (sock_dequeue_err_skb); non-ICMP entries never touch ``sk_err``.
"""

from __future__ import annotations

import errno
import struct
from typing import Any

from tuxnet.sock.constants import (
    AF_INET,
    MSG_ERRQUEUE,
    MSG_TRUNC,
    SCM_TIMESTAMP,
    SCM_TIMESTAMPING,
    SCM_TIMESTAMPING_OPT_STATS,
    SO_EE_ORIGIN_ICMP,
    SO_EE_ORIGIN_ICMP6,
    SO_EE_ORIGIN_LOCAL,
    SOL_IP,
    SOL_SOCKET,
)
from tuxnet.wire.addr import ip_ntoa

IP_RECVERR = 11
SOF_TIMESTAMPING_RX_SOFTWARE = 1 << 3
SOF_TIMESTAMPING_SOFTWARE = 1 << 4
SOF_TIMESTAMPING_OPT_RX_FILTER = 1 << 17

SKB_TRUESIZE_OVERHEAD = 256 + 320  # SKB_DATA_ALIGN(sizeof(sk_buff)) + SKB_DATA_ALIGN(skb_shared_info)

_EXTERR = struct.Struct("=IBBBBII")  # struct sock_extended_err
_SOCKADDR_IN = struct.Struct("=HH4s8x")  # struct sockaddr_in (port and address in network order)
_TIMEVAL = struct.Struct("=qq")  # struct __kernel_old_timeval on 64-bit
_SCM_TIMESTAMPING = struct.Struct("=qqqqqq")  # struct scm_timestamping: ts[3] of struct timespec
_U32 = struct.Struct("!I")


class SockExterr:
    """One error-queue skb: struct sock_exterr_skb plus what recvmsg copies and stamps."""

    __slots__ = ("ee_errno", "ee_origin", "ee_type", "ee_code", "ee_info", "ee_data", "offender", "addr",
                 "port", "payload", "truesize", "tstamp", "opt_stats")

    def __init__(self, ee_errno: int, origin: int, ee_type: int, ee_code: int, info: int, offender: int,
                 addr: int, port: int, payload: bytes, *, ee_data: int = 0, tstamp: int | None = None,
                 opt_stats: bool = False, truesize: int | None = None) -> None:
        self.ee_errno = ee_errno
        self.ee_origin = origin
        self.ee_type = ee_type
        self.ee_code = ee_code
        self.ee_info = info
        self.ee_data = ee_data
        self.offender = offender  # the ICMP sender (ip_hdr(skb)->saddr)
        self.addr = addr  # the quoted destination (serr->addr_offset)
        self.port = port
        self.payload = payload
        self.tstamp = tstamp  # skb->tstamp, ns of the loop clock (None: none; the lab clock starts at 0)
        self.opt_stats = opt_stats  # payload holds SCM_TIMESTAMPING_OPT_STATS netlink attributes
        self.truesize = truesize if truesize is not None else SKB_TRUESIZE_OVERHEAD + len(payload) + 28

    def extended_err(self) -> bytes:
        """struct sock_extended_err (16 bytes)."""
        return _EXTERR.pack(self.ee_errno, self.ee_origin, self.ee_type, self.ee_code, 0, self.ee_info,
                            self.ee_data & 0xFFFFFFFF)

    def cmsg(self) -> tuple[int, int, bytes]:
        """(SOL_IP, IP_RECVERR, struct sock_extended_err + struct sockaddr_in of the offender):
        the offender is filled only for ICMP errors (ipv4_datagram_support_cmsg)."""
        if self.ee_origin == SO_EE_ORIGIN_ICMP:
            off = _SOCKADDR_IN.pack(AF_INET, 0, _U32.pack(self.offender))
        else:
            off = bytes(_SOCKADDR_IN.size)
        return (SOL_IP, IP_RECVERR, self.extended_err() + off)

    def __repr__(self) -> str:
        return (f"<SockExterr errno={self.ee_errno} origin={self.ee_origin} code={self.ee_code} "
                f"info={self.ee_info} data={self.ee_data} len={len(self.payload)}>")


def is_icmp_err_skb(e: SockExterr | None) -> bool:
    return e is not None and e.ee_origin in (SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6)


def sock_queue_err_skb(sk: Any, entry: SockExterr) -> int:
    """sock_queue_err_skb: 0, or -ENOMEM when the receive buffer is full (the entry is dropped)."""
    if sk.sk_rmem_alloc + entry.truesize >= sk.sk_rcvbuf:
        return -errno.ENOMEM
    sk.sk_rmem_alloc += entry.truesize
    sk.sk_error_queue.append(entry)
    if "SOCK_DEAD" not in sk.sock_flags:
        sk.sk_error_report()
    return 0


def sock_dequeue_err_skb(sk: Any) -> SockExterr | None:
    """sock_dequeue_err_skb: the head entry; sk_err follows the next ICMP error."""
    q = sk.sk_error_queue
    if not q:
        return None
    e = q.popleft()
    nxt = q[0] if q else None
    icmp_next = is_icmp_err_skb(nxt)
    if icmp_next:
        sk.sk_err = nxt.ee_errno  # type: ignore[union-attr]
    if is_icmp_err_skb(e) and not icmp_next:
        sk.sk_err = 0
    if nxt is not None:
        sk.sk_error_report()
    return e


def sock_recv_timestamp_cmsgs(sk: Any, e: SockExterr, now_ns: int) -> list[tuple[int, int, bytes]]:
    """sock_recv_timestamp / __sock_recv_timestamp for an error-queue skb."""
    tsflags = getattr(sk, "sk_tsflags", 0)
    flags = sk.sock_flags
    rcvtstamp = "SOCK_RCVTSTAMP" in flags
    kt = e.tstamp
    if not (rcvtstamp or tsflags & SOF_TIMESTAMPING_RX_SOFTWARE
            or (kt is not None and tsflags & SOF_TIMESTAMPING_SOFTWARE)):
        return []
    out: list[tuple[int, int, bytes]] = []
    if rcvtstamp:
        if kt is None:
            kt = now_ns  # "Race occurred between timestamp enabling and packet receiving"
        tv = _TIMEVAL.pack(kt // 1_000_000_000, kt % 1_000_000_000 // 1000)
        out.append((SOL_SOCKET, SCM_TIMESTAMP, tv))
    # an error-queue skb passes the RX filter (skb_is_err_queue)
    if tsflags & SOF_TIMESTAMPING_SOFTWARE and kt is not None:
        out.append((SOL_SOCKET, SCM_TIMESTAMPING,
                    _SCM_TIMESTAMPING.pack(kt // 1_000_000_000, kt % 1_000_000_000, 0, 0, 0, 0)))
        if e.opt_stats and e.payload:
            out.append((SOL_SOCKET, SCM_TIMESTAMPING_OPT_STATS, e.payload))
    return out


def ip_recv_error(sk: Any, bufsize: int) -> tuple[bytes, Any, int, list[Any]]:
    """ip_recv_error: read one entry (recvmsg with MSG_ERRQUEUE); EAGAIN when the queue is empty."""
    e = sock_dequeue_err_skb(sk)
    if e is None:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
    sk.sk_rmem_alloc -= e.truesize
    bufsize = max(bufsize, 0)
    data = e.payload[:bufsize]
    flags = MSG_ERRQUEUE | (MSG_TRUNC if len(e.payload) > bufsize else 0)
    addr = None
    if e.ee_origin in (SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_LOCAL) or e.port:  # ipv4_datagram_support_addr
        addr = (ip_ntoa(e.addr), e.port)
    anc = sock_recv_timestamp_cmsgs(sk, e, sk.ns.loop.now_ns)
    anc.append(e.cmsg())
    return data, addr, flags, anc


def skb_queue_err_tail(sk: Any, entry: SockExterr) -> None:
    """Queue without the receive-buffer charge (the zerocopy notification path), then wake."""
    entry.truesize = 0
    sk.sk_error_queue.append(entry)
    sk.sk_error_report()
