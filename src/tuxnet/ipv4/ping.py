"""ICMP echo ("ping") sockets: ``socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)`` (net/ipv4/ping.c).

Guarantees, as Linux 6.x:
- Creating one is allowed only when the creator's gid or a supplementary group lies within
  ``net.ipv4.ping_group_range`` (default "1 0": nobody, root included) - else EACCES. Root's ``ping``
  falls back to a raw ICMP socket (ipv4/raw.py), as iputils does.
- The socket's "port" is the echo identifier: bind(("addr", ident)) picks it (0: the next free one
  after a per-namespace rover, as ping_get_port), and sending autobinds. Ping sockets start with
  SO_REUSEADDR set, so two sockets may share an identifier (Linux's "BUG?" comment) unless one of
  them clears it (EADDRINUSE). Binding to a broadcast or multicast address is EADDRNOTAVAIL.
- send: the data is an ICMP echo request (type 8 code 0 - else EINVAL; shorter than 8 bytes EINVAL);
  the kernel replaces the identifier with the socket's and computes the checksum; the port of
  the destination is ignored. Size limits and errors as UDP (EMSGSIZE, EDESTADDRREQ, EACCES for
  broadcast without SO_BROADCAST, routing errors with OutNoRoutes); Icmp OutEchos counts it.
- Echo replies (``ns.icmp.echo_reply_hooks``) go to the first socket with their identifier whose
  bound address and device match; recvfrom returns the ICMP message (no IP header) and the sender
  with port 0. ICMP errors quoting one of our echo requests (``ns.icmp.error_hooks``) are reported
  as ping_err does (source quench and redirect as EREMOTEIO; fatal ones to connected sockets; all
  with IP_RECVERR, quoting the ICMP header).
- ``proc_net_icmp(ns)`` renders /proc/net/icmp as ping_v4_seq_show.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.ipv4.datagram import datagram_recvmsg, proc_order, proc_seq_show, sendmsg_dest, sendmsg_route
from tuxnet.ipv4.fib_semantics import RTN_BROADCAST, RTN_LOCAL, RTN_MULTICAST
from tuxnet.ipv4.inet_hashtables import net_hash_mix
from tuxnet.skb import Csum, SkBuff
from tuxnet.sock.af_inet import INET_PROTOSW_REUSE, inet_register_protosw, inet_sockraw_ops
from tuxnet.sock.constants import (
    AF_INET,
    AF_UNSPEC,
    IP_PMTUDISC_DONT,
    IPPROTO_ICMP,
    MSG_OOB,
    MSG_TRUNC,
    SOCK_BINDADDR_LOCK,
    SOCK_BINDPORT_LOCK,
    SOCK_DGRAM,
    TCP_ESTABLISHED,
)
from tuxnet.sock.sock import ICMP_ERR_CONVERT, Cred, InetSock, inet_can_nonlocal_bind, skb_truesize
from tuxnet.wire.checksum import csum_fold, csum_partial

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

PING_HTABLE_SIZE = 64
PING_HTABLE_MASK = PING_HTABLE_SIZE - 1
ICMP_ECHO = 8
ICMP_EXT_ECHO = 42
_U32 = struct.Struct("!I")


def _copy_icmp(skb: SkBuff, bufsize: int, flags: int) -> tuple[bytes, Any, int]:
    """ping_recvmsg's copy: the ICMP message from its header, and the sender's address."""
    th = skb.transport_header
    n = skb.tail - th
    copied = min(n, bufsize)
    return (bytes(skb.buf[th:th + copied]), (_U32.unpack_from(skb.buf, skb.network_header + 12)[0], 0),
            MSG_TRUNC if copied < n else 0)


def ping_supported(icmp_type: int, code: int) -> bool:
    return icmp_type in (ICMP_ECHO, ICMP_EXT_ECHO) and code == 0


class PingSock(InetSock):
    """A ping socket (struct inet_sock with ping_prot)."""

    __slots__ = ()
    prot_name = "PING"

    def init(self) -> None:
        """ping_init_sock: the creator's groups against ping_group_range."""
        low, high = self.ns.sysctl.v["net.ipv4.ping_group_range"]  # type: ignore[misc]
        cred = self.sk_cred
        if low <= cred.gid <= high or any(low <= g <= high for g in cred.groups):
            return
        raise oserror(errno.EACCES)

    def get_port(self, snum: int) -> int:
        return self.ns.ping.get_port(self, snum)

    def unhash(self) -> None:
        self.ns.ping.unhash(self)

    def bind(self, family: int, addr: int, port: int) -> None:
        """ping_bind / ping_check_bind_addr."""
        ns = self.ns
        if family != AF_INET and not (family == AF_UNSPEC and addr == 0):
            raise oserror(errno.EAFNOSUPPORT)
        if addr:
            chk = ns.fib.addr_type(addr)
            if chk in (RTN_MULTICAST, RTN_BROADCAST) or (chk != RTN_LOCAL
                                                         and not inet_can_nonlocal_bind(ns, self)):
                raise oserror(errno.EADDRNOTAVAIL)
        if self.inet_num:
            raise oserror(errno.EINVAL)
        if self.get_port(port):
            raise oserror(errno.EADDRINUSE)
        self.inet_rcv_saddr = self.inet_saddr = addr
        if addr:
            self.sk_userlocks |= SOCK_BINDADDR_LOCK
        if port:
            self.sk_userlocks |= SOCK_BINDPORT_LOCK
        self.inet_sport = self.inet_num
        self.inet_daddr = 0
        self.inet_dport = 0
        self.sk_dst = None

    def sendmsg(self, data: bytes, addr: tuple[int, int, int] | None, flags: int) -> int:
        """ping_v4_sendmsg."""
        ns = self.ns
        n = len(data)
        if n > 0xFFFF:
            raise oserror(errno.EMSGSIZE)
        if n < 8:
            raise oserror(errno.EINVAL)
        if flags & MSG_OOB:
            raise oserror(errno.EOPNOTSUPP)
        if not ping_supported(data[0], data[1]):
            raise oserror(errno.EINVAL)
        daddr, _ = sendmsg_dest(self, addr, unspec_ok=False)  # ping_v4_sendmsg: AF_INET only
        rt, oif, daddr = sendmsg_route(self, daddr)
        df = self.append_data_check(rt, n, 8)
        skb = SkBuff.alloc(n)
        off = skb.put(n)
        buf = skb.buf
        buf[off:off + n] = data
        buf[off + 2] = buf[off + 3] = 0
        ident = self.inet_sport
        buf[off + 4] = ident >> 8
        buf[off + 5] = ident & 0xFF
        c = csum_fold(csum_partial(buf[off:off + n]))
        buf[off + 2] = c >> 8
        buf[off + 3] = c & 0xFF
        skb.transport_header = off
        skb.ip_summed = Csum.NONE
        skb.priority = self.sk_priority
        ret = ns.ip.send(skb, rt.src, daddr, IPPROTO_ICMP, rt=rt, tos=self.tos, ttl=self.send_ttl(daddr),
                         df=df, mark=self.sk_mark, oif=oif, sk=self)
        if ret < 0:
            raise oserror(-ret)
        return n

    def recvmsg(self, bufsize: int, flags: int, nonblock: bool) -> tuple[bytes, Any, int, list[Any]]:
        """ping_recvmsg: the ICMP message, from its header."""
        return datagram_recvmsg(self, bufsize, flags, nonblock, _copy_icmp)

    def ping_err(self, skb: SkBuff, icmp_type: int, code: int, info: int, icmph: int) -> None:
        harderr = False
        if icmp_type == 4 or icmp_type == 5:
            # "This is not a real error but ping wants to see it. Report it with some fake errno."
            err = errno.EREMOTEIO
        elif icmp_type == 12:
            err, harderr = errno.EPROTO, True
        elif icmp_type == 3:
            if code == 4:
                if self.pmtudisc == IP_PMTUDISC_DONT:
                    return
                err, harderr = errno.EMSGSIZE, True
            elif code <= 15:
                err, harderr = ICMP_ERR_CONVERT[code]
            else:
                err = errno.EHOSTUNREACH
        else:
            err = errno.EHOSTUNREACH
        if not self.recverr:
            if not harderr or self.sk_state != TCP_ESTABLISHED:
                return
        else:
            self.ip_icmp_error(skb, err, 0, info, icmph)
        self.report_error(err)


class Ping:
    """``ns.ping``: ping sockets by identifier (ping_table)."""

    __slots__ = ("ns", "hash", "rover", "hash_mix", "inuse", "_seq")

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.hash: dict[int, list[PingSock]] = {}
        self.rover = 0  # ping_port_rover
        self.hash_mix = net_hash_mix(ns)
        self.inuse = 0
        self._seq = 0
        ns.icmp.echo_reply_hooks.append(self.rcv)
        ns.icmp.error_hooks.append(self.err)

    def get_port(self, sk: PingSock, ident: int) -> int:
        """ping_get_port: 0, or EADDRINUSE."""
        h = self.hash
        if ident == 0:
            result = (self.rover + 1) & 0xFFFF
            for _ in range(1 << 16):
                if not result:
                    result = 1  # avoid zero
                if result not in h:
                    self.rover = ident = result
                    break
                result = (result + 1) & 0xFFFF
            else:
                return errno.EADDRINUSE
        else:
            for sk2 in h.get(ident, ()):
                if sk2 is not sk and (not sk2.sk_reuse or not sk.sk_reuse):
                    return errno.EADDRINUSE
        sk.inet_num = ident
        if not sk.hashed:
            h.setdefault(ident, []).insert(0, sk)
            self._seq += 1
            sk.hash_seq = self._seq
            sk.hashed = True
            self.inuse += 1
        return 0

    def unhash(self, sk: PingSock) -> None:
        """ping_unhash: the identifier is released."""
        if not sk.hashed:
            return
        lst = self.hash.get(sk.inet_num)
        if lst is not None and sk in lst:
            lst.remove(sk)
            if not lst:
                del self.hash[sk.inet_num]
        sk.hashed = False
        sk.inet_num = 0
        sk.inet_sport = 0
        self.inuse -= 1

    def lookup(self, ident: int, daddr: int, dif: int) -> PingSock | None:
        """ping_lookup."""
        for sk in self.hash.get(ident, ()):
            if sk.inet_rcv_saddr and sk.inet_rcv_saddr != daddr:
                continue
            if sk.sk_bound_dev_if and sk.sk_bound_dev_if != dif:
                continue
            return sk
        return None

    def rcv(self, skb: SkBuff) -> bool:
        """ping_rcv (an echo reply, skb.data at the ICMP header): a copy to the matching socket."""
        buf = skb.buf
        d = skb.data
        ident = (buf[d + 4] << 8) | buf[d + 5]
        daddr = _U32.unpack_from(buf, skb.network_header + 16)[0]
        sk = self.lookup(ident, daddr, skb.dev.ifindex if skb.dev is not None else 0)
        if sk is None:
            return False
        c = skb.copy()
        c.transport_header = d
        reason = sk.sock_queue_rcv_skb(c, skb_truesize(c.tail - c.network_header))
        if reason is not None:
            self.ns.kfree_skb(c, reason)
        return True

    def err(self, skb: SkBuff, icmp_type: int, code: int, info: int) -> bool:
        """ping_err (skb.data at the quoted IP header of an ICMP message we sent)."""
        buf = skb.buf
        q = skb.data
        icmph = q + ((buf[q] & 15) << 2)
        if skb.tail - icmph < 8 or not ping_supported(buf[icmph], buf[icmph + 1]):
            return False
        ident = (buf[icmph + 4] << 8) | buf[icmph + 5]
        daddr = _U32.unpack_from(buf, skb.network_header + 16)[0]
        sk = self.lookup(ident, daddr, skb.dev.ifindex if skb.dev is not None else 0)
        if sk is None:
            return False
        sk.ping_err(skb, icmp_type, code, info, icmph)
        return True

    def sockets(self) -> list[PingSock]:
        return proc_order(self.hash.values(), self.bucket)

    def bucket(self, ident: int) -> int:
        """ping_hashfn."""
        return (ident + self.hash_mix) & PING_HTABLE_MASK


def proc_net_icmp(ns: Namespace) -> str:
    """/proc/net/icmp (ping_v4_seq_show / ping_v4_format_sock)."""
    return proc_seq_show(ns, "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   "
                         "uid  timeout inode ref pointer drops", ns.ping)


def ping_sock_factory(ns: Namespace, sk_type: int, protocol: int, cred: Cred) -> PingSock:
    return PingSock(ns, sk_type, protocol, cred)


def init_ping(ns: Namespace) -> Ping:
    return Ping(ns)


inet_register_protosw(SOCK_DGRAM, IPPROTO_ICMP, ping_sock_factory, inet_sockraw_ops, INET_PROTOSW_REUSE)

__all__ = ["Ping", "PingSock", "init_ping", "proc_net_icmp", "ping_supported"]
