"""``struct sock`` + ``struct inet_sock`` for the datagram protocols (UDP, raw, ping), with the generic
inet code they share.

Mirrors include/net/sock.h, include/net/inet_sock.h, net/core/sock.c (sock_queue_rcv_skb,
sock_error), net/core/datagram.c (__skb_recv_datagram, datagram_poll), net/ipv4/af_inet.c
(__inet_bind, inet_autobind), net/ipv4/datagram.c (ip4_datagram_connect), net/ipv4/udp.c
(__udp_disconnect) and net/ipv4/ip_sockglue.c (ip_icmp_error, ip_recv_error).

Guarantees:
- A protocol is a subclass (``UdpSock``, ``RawSock``, ``PingSock``) overriding the ``struct proto``
  methods: ``get_port``, ``hash``/``unhash``/``rehash``, ``sendmsg``, ``recvmsg``, ``bind`` (raw
  and ping have their own), ``setsockopt``/``getsockopt`` for their own level, ``close``.
- Field names are the kernel's (``inet_rcv_saddr``, ``inet_num``, ``sk_rcvbuf``, ``sk_err`` ...);
  ``ttl`` 0 means "the route's / ip_default_ttl" (Linux's uc_ttl -1); ``sock_flags`` is a set of
  ``SOCK_*`` names, as in the TCP socket.
- Receive buffers are charged with a truesize computed as Linux's allocator would size the skb
  (``skb_truesize``); ``sock_queue_rcv_skb`` refuses a packet once ``sk_rmem_alloc >= sk_rcvbuf``
  (SOCKET_RCVBUFF, ``sk_drops``), as __sock_queue_rcv_skb.
- ``skb_recv_datagram`` reports a pending ``sk_err`` first (and clears it), then data; with nothing
  queued a non-blocking caller gets ``BlockingIOError`` (EAGAIN); a would-be sleeper gets
  ``WouldSleep`` unless the socket is shut down for reading (then it returns None: end of data).
- With IP_RECVERR, ICMP errors are queued on the error queue and read back with MSG_ERRQUEUE as
  ``struct sock_extended_err`` + offender sockaddr_in, in Linux's byte layout.
- Wakeups go through ``sk_socket`` (the ``Socket`` facade): ``sk_data_ready``, ``sk_write_space``,
  ``sk_error_report``, ``sk_state_change``.
"""

from __future__ import annotations

import errno
import struct
from collections import deque
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.core.trace import SkbDropReason
from tuxnet.ipv4.fib_semantics import RTN_BROADCAST, RTN_LOCAL, RTN_MULTICAST
from tuxnet.ipv4.inet_hashtables import inet_port_requires_bind_service, reuseport_has_conns_set
from tuxnet.ipv4.route import RTCF_BROADCAST
from tuxnet.sock.constants import (
    AF_INET,
    AF_UNSPEC,
    EPOLLERR,
    EPOLLHUP,
    EPOLLIN,
    EPOLLOUT,
    EPOLLRDHUP,
    EPOLLRDNORM,
    EPOLLWRBAND,
    EPOLLWRNORM,
    IP_PMTUDISC_DO,
    IP_PMTUDISC_DONT,
    IP_PMTUDISC_OMIT,
    IP_PMTUDISC_PROBE,
    IP_PMTUDISC_WANT,
    MSG_DONTWAIT,
    MSG_PEEK,
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    SHUTDOWN_MASK,
    SO_EE_ORIGIN_ICMP,
    SO_EE_ORIGIN_LOCAL,
    SOCK_BINDADDR_LOCK,
    SOCK_BINDPORT_LOCK,
    TCP_CLOSE,
    TCP_ESTABLISHED,
)
from tuxnet.sock.errqueue import SockExterr, ip_recv_error, sock_queue_err_skb
from tuxnet.wire.addr import ip_ntoa

if TYPE_CHECKING:
    from tuxnet.netns import Namespace
    from tuxnet.skb import SkBuff

IP_RECVERR = 11
SKB_MAX_ALLOC = 4096 * 4 - 320  # SKB_MAX_ORDER(0, 2): linear skbs up to this size
SKB_SMALL_HEAD = 576  # SKB_SMALL_HEAD_CACHE_SIZE = SKB_HEAD_ALIGN(MAX_TCP_HEADER)
SKB_OVERHEAD = 256  # SKB_DATA_ALIGN(sizeof(struct sk_buff))
SKB_SHINFO = 320  # SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
LL_ALLOC_EXTRA = 16 + 15  # LL_RESERVED_SPACE(ethernet) + 15, what __ip_append_data adds

_U32 = struct.Struct("!I")
_U16 = struct.Struct("!H")

# icmp_err_convert (net/ipv4/icmp.c): (errno, fatal) per DEST_UNREACH code
ICMP_ERR_CONVERT = (
    (errno.ENETUNREACH, False),  # NET_UNREACH
    (errno.EHOSTUNREACH, False),  # HOST_UNREACH
    (errno.ENOPROTOOPT, True),  # PROT_UNREACH
    (errno.ECONNREFUSED, True),  # PORT_UNREACH
    (errno.EMSGSIZE, False),  # FRAG_NEEDED
    (errno.EOPNOTSUPP, False),  # SR_FAILED
    (errno.ENETUNREACH, True),  # NET_UNKNOWN
    (errno.EHOSTDOWN, True),  # HOST_UNKNOWN
    (errno.ENONET, True),  # HOST_ISOLATED
    (errno.ENETUNREACH, True),  # NET_ANO
    (errno.EHOSTUNREACH, True),  # HOST_ANO
    (errno.ENETUNREACH, False),  # NET_UNR_TOS
    (errno.EHOSTUNREACH, False),  # HOST_UNR_TOS
    (errno.EHOSTUNREACH, True),  # PKT_FILTERED
    (errno.EHOSTUNREACH, True),  # PREC_VIOLATION
    (errno.EHOSTUNREACH, True),  # PREC_CUTOFF
)


class WouldSleep(BlockingIOError):
    """A blocking caller would sleep now: the coroutine helpers wait and try again."""


def skb_truesize(l3len: int) -> int:
    """skb->truesize of a datagram whose IP packet is ``l3len`` bytes, as the sender's
    __ip_append_data sized it: a linear skb from the small-head cache (576) or a power-of-two
    kmalloc bucket up to SKB_MAX_ALLOC, else a small head with the payload in page fragments.
    Matches what /proc/net/udp shows on Linux 6.x for unfragmented datagrams."""
    alloc = l3len + LL_ALLOC_EXTRA
    if alloc < SKB_MAX_ALLOC:
        osize = ((alloc + 63) & ~63) + SKB_SHINFO
        osize = SKB_SMALL_HEAD if osize <= SKB_SMALL_HEAD else 1 << (osize - 1).bit_length()
        return osize + SKB_OVERHEAD
    return SKB_SMALL_HEAD + SKB_OVERHEAD + l3len - 28


ROOT_CAPS = frozenset(("CAP_NET_RAW", "CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE"))


class Cred:
    """The credentials a socket is created with (struct cred): uid, gid, supplementary groups and
    the capabilities tuxnet checks (root has them all, as in a fresh Linux netns)."""

    __slots__ = ("uid", "gid", "groups", "caps")

    def __init__(self, uid: int = 0, gid: int = 0, groups: tuple[int, ...] = (),
                 caps: frozenset[str] | None = None) -> None:
        self.uid = uid
        self.gid = gid
        self.groups = groups
        if caps is None:
            caps = ROOT_CAPS if uid == 0 else frozenset()
        self.caps = caps

    def capable(self, cap: str) -> bool:
        return cap in self.caps

    def __repr__(self) -> str:
        return f"Cred(uid={self.uid}, gid={self.gid})"


class SockWakeups:
    """The struct sock callbacks every protocol calls to wake the owning socket's wait queue
    (sk_data_ready, sk_write_space, sk_error_report, sk_state_change); a socket not yet attached
    to a file (``sk_socket`` None: a child waiting in the accept queue) wakes nobody."""

    __slots__ = ()
    sk_socket: Any

    def sk_data_ready(self) -> None:
        s = self.sk_socket
        if s is not None:
            s.sk_data_ready()

    def sk_write_space(self) -> None:
        s = self.sk_socket
        if s is not None:
            s.sk_write_space()

    def sk_error_report(self) -> None:
        s = self.sk_socket
        if s is not None:
            s.sk_error_report()

    def sk_state_change(self) -> None:
        s = self.sk_socket
        if s is not None:
            s.sk_state_change()


class InetSock(SockWakeups):
    """A datagram inet socket (the part of struct sock + inet_sock UDP, raw and ping use)."""

    __slots__ = (
        "ns", "sk_socket", "sk_family", "sk_type", "sk_protocol", "sk_state", "sk_err", "sk_err_soft",
        "sk_shutdown", "sk_userlocks", "sk_rcvbuf", "sk_sndbuf", "sk_rmem_alloc", "sk_wmem_alloc",
        "sk_drops", "sock_flags", "sk_bound_dev_if", "sk_mark", "sk_priority", "sk_reuse", "sk_reuseport",
        "sk_reuseport_cb", "sk_dst", "sk_rcvlowat", "sk_lingertime", "sk_uid", "sk_cred",
        "sk_receive_queue", "sk_error_queue", "hashed", "hash_seq",
        "inet_saddr", "inet_rcv_saddr", "inet_sport", "inet_daddr", "inet_dport", "inet_num", "inet_id",
        "tos", "ttl", "mc_ttl", "mc_loop", "mc_index", "mc_addr", "mc_all", "uc_index", "pmtudisc",
        "recverr", "hdrincl", "freebind", "transparent", "bind_address_no_port", "nodefrag",
        "inet_opt", "sk_tsflags", "sk_tskey", "sk_zckey",
    )  # fmt: skip
    prot_name = "INET"  # struct proto .name (sockstat, ss)
    no_autobind = False

    def __init__(self, ns: Namespace, sk_type: int, protocol: int, cred: Cred) -> None:
        v = ns.sysctl.v
        self.ns = ns
        self.sk_socket: Any = None
        self.sk_family = AF_INET
        self.sk_type = sk_type
        self.sk_protocol = protocol
        self.sk_state = TCP_CLOSE
        self.sk_err = 0
        self.sk_err_soft = 0
        self.sk_shutdown = 0
        self.sk_userlocks = 0
        self.sk_rcvbuf = int(v["net.core.rmem_default"])  # type: ignore[call-overload]
        self.sk_sndbuf = int(v["net.core.wmem_default"])  # type: ignore[call-overload]
        self.sk_rmem_alloc = 0
        self.sk_wmem_alloc = 0
        self.sk_drops = 0
        self.sock_flags: set[str] = set()
        self.sk_bound_dev_if = 0
        self.sk_mark = 0
        self.sk_priority = 0
        self.sk_reuse = 0
        self.sk_reuseport = 0
        self.sk_reuseport_cb: Any = None
        self.sk_dst: Any = None
        self.sk_rcvlowat = 1
        self.sk_lingertime = 0
        self.sk_uid = cred.uid
        self.sk_cred = cred
        # receive queue entries: (skb, truesize)
        self.sk_receive_queue: deque[tuple[SkBuff, int]] = deque()
        self.sk_error_queue: deque[SockExterr] = deque()
        self.sk_tsflags = 0  # SO_TIMESTAMPING flags (sock/timestamping.py)
        self.sk_tskey = 0
        self.sk_zckey = 0
        self.hashed = False
        self.hash_seq = 0
        self.inet_saddr = 0
        self.inet_rcv_saddr = 0
        self.inet_sport = 0
        self.inet_daddr = 0
        self.inet_dport = 0
        self.inet_num = 0
        self.inet_id = 0
        self.tos = 0
        self.ttl = 0
        self.mc_ttl = 1
        self.mc_loop = 1
        self.mc_index = 0
        self.mc_addr = 0
        self.mc_all = 1
        self.uc_index = 0
        # inet_create: ip_no_pmtu_disc chooses DONT, else WANT
        self.pmtudisc = IP_PMTUDISC_DONT if v["net.ipv4.ip_no_pmtu_disc"] else IP_PMTUDISC_WANT
        self.recverr = False
        self.hdrincl = False
        self.freebind = False
        self.transparent = False
        self.bind_address_no_port = False
        self.nodefrag = False
        self.inet_opt = b""  # IP_OPTIONS as set (inet->inet_opt), sent by raw sockets

    # ------------------------------------------------------------ struct proto defaults
    def init(self) -> None:
        """sk_prot->init: may refuse the socket (ping's group check)."""

    def get_port(self, snum: int) -> int:
        """sk_prot->get_port: 0 on success, else an errno."""
        return errno.EOPNOTSUPP

    def hash(self) -> None:
        """sk_prot->hash."""

    def unhash(self) -> None:
        """sk_prot->unhash."""

    def rehash(self) -> None:
        """sk_prot->rehash: inet_rcv_saddr changed."""

    def close(self) -> None:
        """sk_common_release: out of the tables, queues purged."""
        self.unhash()
        self.sock_flags.add("SOCK_DEAD")
        self.sk_receive_queue.clear()
        self.sk_error_queue.clear()
        self.sk_rmem_alloc = 0

    def setsockopt(self, level: int, optname: int, value: Any) -> None:
        raise oserror(errno.ENOPROTOOPT)

    def getsockopt(self, level: int, optname: int, buflen: int | None) -> Any:
        raise oserror(errno.ENOPROTOOPT)

    def sendmsg(self, data: bytes, addr: tuple[int, int, int] | None, flags: int) -> int:
        raise oserror(errno.EOPNOTSUPP)

    def recvmsg(self, bufsize: int, flags: int, nonblock: bool) -> tuple[bytes, Any, int, list[Any]]:
        raise oserror(errno.EOPNOTSUPP)

    def ioctl(self, cmd: int) -> int:
        """sk_prot->ioctl: none here (ENOIOCTLCMD, which sock_do_ioctl turns into ENOTTY)."""
        raise oserror(errno.ENOTTY)

    # ------------------------------------------------------------ bind / connect
    def bind(self, family: int, addr: int, port: int) -> None:
        """__inet_bind."""
        ns = self.ns
        if family != AF_INET and (family != AF_UNSPEC or addr != 0):
            # "Compatibility games": AF_UNSPEC is accepted only with INADDR_ANY
            raise oserror(errno.EAFNOSUPPORT)
        chk = ns.fib.addr_type(addr)
        if not inet_addr_valid_or_nonlocal(ns, self, addr, chk):
            raise oserror(errno.EADDRNOTAVAIL)
        if port and inet_port_requires_bind_service(ns, port) and not self.sk_cred.capable(
                "CAP_NET_BIND_SERVICE"):
            raise oserror(errno.EACCES)
        if self.sk_state != TCP_CLOSE or self.inet_num:
            raise oserror(errno.EINVAL)
        self.inet_rcv_saddr = self.inet_saddr = addr
        if chk in (RTN_MULTICAST, RTN_BROADCAST):
            self.inet_saddr = 0  # use the device's address to send
        if port or not self.bind_address_no_port:
            err = self.get_port(port)
            if err:
                self.inet_saddr = self.inet_rcv_saddr = 0
                raise oserror(err)
        if self.inet_rcv_saddr:
            self.sk_userlocks |= SOCK_BINDADDR_LOCK
        if port:
            self.sk_userlocks |= SOCK_BINDPORT_LOCK
        self.inet_sport = self.inet_num
        self.inet_daddr = 0
        self.inet_dport = 0
        self.sk_dst = None

    def autobind(self) -> None:
        """inet_autobind: an ephemeral port before the first send/connect (EAGAIN if none left)."""
        if not self.inet_num:
            if self.get_port(0):
                raise oserror(errno.EAGAIN, "no free local port")
            self.inet_sport = self.inet_num

    def out_oif_saddr(self, daddr: int) -> tuple[int, int]:
        """The output device and source address for ``daddr`` before routing: the bound device and
        address, else IP_MULTICAST_IF's for multicast and IP_UNICAST_IF's device for unicast, as
        ip4_datagram_connect, udp_sendmsg, ping_v4_sendmsg and raw_sendmsg all choose them."""
        oif = self.sk_bound_dev_if
        saddr = self.inet_saddr
        if (daddr & 0xF0000000) == 0xE0000000:
            if not oif:
                oif = self.mc_index
            if not saddr:
                saddr = self.mc_addr
        elif not oif:
            oif = self.uc_index
        return oif, saddr

    def connect(self, family: int, daddr: int, dport: int) -> None:
        """ip4_datagram_connect: route, pick the source, remember the peer."""
        if family != AF_INET:
            raise oserror(errno.EAFNOSUPPORT)
        ns = self.ns
        self.sk_dst = None
        oif, saddr = self.out_oif_saddr(daddr)
        rt = self.route_output(daddr, saddr, oif)
        if rt.flags & RTCF_BROADCAST and "SOCK_BROADCAST" not in self.sock_flags:
            raise oserror(errno.EACCES)
        if not self.inet_saddr:
            self.inet_saddr = rt.src
        if not self.inet_rcv_saddr:
            self.inet_rcv_saddr = rt.src
            self.rehash()
        self.inet_daddr = rt.daddr
        self.inet_dport = dport
        reuseport_has_conns_set(self)
        self.sk_state = TCP_ESTABLISHED
        self.inet_id = ns.rng.getrandbits(16)
        self.sk_dst = rt

    def disconnect(self) -> None:
        """__udp_disconnect (also raw and ping): forget the peer; an autobound port is released.
        Like Linux it also forgets SO_BINDTODEVICE."""
        self.sk_state = TCP_CLOSE
        self.inet_daddr = 0
        self.inet_dport = 0
        self.sk_bound_dev_if = 0
        if not self.sk_userlocks & SOCK_BINDADDR_LOCK:
            self.inet_saddr = self.inet_rcv_saddr = 0
            if self.sk_userlocks & SOCK_BINDPORT_LOCK:
                self.rehash()
        if not self.sk_userlocks & SOCK_BINDPORT_LOCK:
            self.unhash()
            self.inet_sport = 0
        self.sk_dst = None

    def route_output(self, daddr: int, saddr: int, oif: int) -> Any:
        """ip_route_output_flow for this socket; ENETUNREACH counts OutNoRoutes (as udp_sendmsg,
        ping_v4_sendmsg and ip4_datagram_connect do)."""
        ns = self.ns
        try:
            return ns.route.output(daddr, saddr, self.tos & 0x1E, oif, self.sk_mark)
        except OSError as e:
            if e.errno == errno.ENETUNREACH:
                ns.mib.ip.OutNoRoutes += 1
            raise

    def append_data_check(self, rt: Any, length: int, transhdrlen: int) -> bool | None:
        """The size checks of __ip_append_data, then ip.send's ``df`` for this socket.

        A datagram that may not be fragmented (IP_PMTUDISC_DO/PROBE/INTERFACE) must fit the path MTU
        (PROBE, INTERFACE: the device MTU); anything else must fit in 65535 bytes with its IP header.
        """
        pmtudisc = self.pmtudisc
        ignore_df = pmtudisc < IP_PMTUDISC_DO or pmtudisc == IP_PMTUDISC_OMIT
        mtu = rt.mtu if pmtudisc < IP_PMTUDISC_PROBE else rt.dev.mtu
        maxnonfragsize = 0xFFFF if ignore_df else mtu
        if length > maxnonfragsize - 20:
            if self.recverr:  # ip_local_error(sk, EMSGSIZE, daddr, dport, mtu): ping/traceroute read it
                self.sock_queue_err(SockExterr(errno.EMSGSIZE, SO_EE_ORIGIN_LOCAL, 0, 0, mtu, 0, rt.daddr,
                                               self.inet_dport, b"", truesize=skb_truesize(28)))
            raise oserror(errno.EMSGSIZE)
        err = self.sk_err
        if err:  # sock_alloc_send_skb: sock_error() first
            self.sk_err = 0
            raise oserror(err)
        if self.sk_shutdown & SEND_SHUTDOWN:
            raise oserror(errno.EPIPE)
        if pmtudisc == IP_PMTUDISC_WANT:
            return None
        return pmtudisc in (IP_PMTUDISC_DO, IP_PMTUDISC_PROBE)

    def send_ttl(self, daddr: int) -> int | None:
        if (daddr & 0xF0000000) == 0xE0000000:
            return self.mc_ttl
        return self.ttl or None

    # ------------------------------------------------------------ receive queue
    def sock_queue_rcv_skb(self, skb: SkBuff, truesize: int) -> SkbDropReason | None:
        """__sock_queue_rcv_skb: charge the skb, queue it, wake readers. Returns the drop reason."""
        if self.sk_rmem_alloc >= self.sk_rcvbuf:
            self.sk_drops += 1
            return SkbDropReason.SOCKET_RCVBUFF
        self.sk_rmem_alloc += truesize
        self.sk_receive_queue.append((skb, truesize))
        self.sk_data_ready()
        return None

    def skb_recv_datagram(self, flags: int, nonblock: bool) -> tuple[SkBuff, int] | None:
        """__skb_recv_datagram: the next queued entry, an error, EAGAIN, WouldSleep or None (EOF)."""
        err = self.sk_err
        if err:
            self.sk_err = 0
            raise oserror(err)
        q = self.sk_receive_queue
        if q:
            if flags & MSG_PEEK:
                return q[0]
            entry = q.popleft()
            self.sk_rmem_alloc -= entry[1]
            return entry
        if nonblock or flags & MSG_DONTWAIT:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        if self.sk_shutdown & RCV_SHUTDOWN:
            return None
        raise WouldSleep(errno.EAGAIN, "Resource temporarily unavailable")

    def poll(self) -> int:
        """datagram_poll."""
        mask = 0
        if self.sk_err or self.sk_error_queue:
            mask |= EPOLLERR
        shutdown = self.sk_shutdown
        if shutdown & RCV_SHUTDOWN:
            mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM
        if shutdown == SHUTDOWN_MASK:
            mask |= EPOLLHUP
        if self.sk_receive_queue:
            mask |= EPOLLIN | EPOLLRDNORM
        if self.sk_wmem_alloc < self.sk_sndbuf >> 1:  # sock_writeable
            mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND
        return mask

    # ------------------------------------------------------------ error queue (IP_RECVERR)
    def ip_icmp_error(self, skb: SkBuff, err: int, port: int, info: int, payload_off: int) -> None:
        """ip_icmp_error: queue what the ICMP error said (skb.data at the quoted IP header,
        skb.transport_header at the ICMP header, skb.network_header at the outer IP header)."""
        if not self.recverr:
            return
        buf = skb.buf
        q = skb.data
        icmph = skb.transport_header
        entry = SockExterr(err, SO_EE_ORIGIN_ICMP, buf[icmph], buf[icmph + 1], info,
                           _U32.unpack_from(buf, skb.network_header + 12)[0],
                           _U32.unpack_from(buf, q + 16)[0], port, bytes(buf[payload_off:skb.tail]),
                           truesize=skb_truesize(skb.tail - payload_off + 28))
        self.sock_queue_err(entry)

    def sock_queue_err(self, entry: SockExterr) -> None:
        """sock_queue_err_skb: charged to the receive buffer, dropped when it is full."""
        sock_queue_err_skb(self, entry)

    def ip_recv_error(self, bufsize: int) -> tuple[bytes, Any, int, list[Any]]:
        """ip_recv_error: read one error-queue entry (MSG_ERRQUEUE)."""
        return ip_recv_error(self, bufsize)

    def report_error(self, err: int) -> None:
        """sk->sk_err = err; sk_error_report(sk)."""
        self.sk_err = err
        self.sk_error_report()

    # ------------------------------------------------------------ helpers
    def icmp_error_errno(self, icmp_type: int, code: int) -> tuple[int, bool] | None:
        """The errno and hardness of an ICMP error, as __udp4_lib_err and raw_err decide it; None
        when the error is not reported (source quench, redirect, frag-needed with PMTUDISC_DONT)."""
        if icmp_type == 4 or icmp_type == 5:  # SOURCE_QUENCH, REDIRECT
            return None
        if icmp_type == 12:  # PARAMETERPROB
            return errno.EPROTO, True
        if icmp_type == 3:
            if code == 4:  # FRAG_NEEDED: the PMTU was learned by the ICMP layer
                if self.pmtudisc != IP_PMTUDISC_DONT:
                    return errno.EMSGSIZE, True
                return None
            if code <= 15:
                return ICMP_ERR_CONVERT[code]
            return errno.EHOSTUNREACH, False
        return errno.EHOSTUNREACH, False  # TIME_EXCEEDED and others

    def addr_tuple(self, addr: int, port: int) -> tuple[str, int]:
        return ip_ntoa(addr), port

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {ip_ntoa(self.inet_rcv_saddr)}:{self.inet_num} -> "
                f"{ip_ntoa(self.inet_daddr)}:{self.inet_dport} ns={self.ns.name}>")


def inet_can_nonlocal_bind(ns: Namespace, sk: Any) -> bool:
    """inet_can_nonlocal_bind: ip_nonlocal_bind, IP_FREEBIND or IP_TRANSPARENT."""
    return bool(ns.sysctl.v["net.ipv4.ip_nonlocal_bind"]) or bool(getattr(sk, "freebind", False)) or bool(
        getattr(sk, "transparent", False))


def inet_addr_valid_or_nonlocal(ns: Namespace, sk: Any, addr: int, chk: int) -> bool:
    """inet_addr_valid_or_nonlocal: a local, wildcard, multicast or broadcast address (or any with
    non-local binding allowed)."""
    return inet_can_nonlocal_bind(ns, sk) or addr == 0 or chk in (RTN_LOCAL, RTN_MULTICAST, RTN_BROADCAST)


def ip_hdr_addrs(skb: SkBuff) -> tuple[int, int]:
    """(saddr, daddr) of the IP header at skb.network_header."""
    nh = skb.network_header
    return _U32.unpack_from(skb.buf, nh + 12)[0], _U32.unpack_from(skb.buf, nh + 16)[0]
