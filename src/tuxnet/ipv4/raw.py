"""Raw IP sockets (net/ipv4/raw.c): ``ns.raw`` and ``socket(AF_INET, SOCK_RAW, proto)``.

Guarantees, as Linux 6.x:
- Creating one needs CAP_NET_RAW (EPERM); protocol 0 is EPROTONOSUPPORT; the socket is bound to
  its protocol at once (getsockname gives port = protocol) and IPPROTO_RAW implies IP_HDRINCL.
- Receive: every locally delivered packet of the protocol (after reassembly, before the protocol's
  own handler: ``ns.ip.raw_deliver``) is copied, IP header included, to each socket whose bound
  address, connected peer and SO_BINDTODEVICE match (raw_v4_input); ICMP sockets skip the types
  set in their ICMP_FILTER. A full receive buffer drops with SOCKET_RCVBUFF and ``sk_drops``.
  recvfrom gives the sender's address with port 0.
- Send: the kernel builds the IP header (protocol = the socket's, TTL/TOS/DF from the socket) and
  the payload goes out as given, checksums included (ICMP messages count in Icmp Out*);
  more than 65515 bytes (or the path MTU with IP_PMTUDISC_DO) is EMSGSIZE. With IP_HDRINCL the
  caller's header is sent as is, except that a zero source address is filled in from the route,
  tot_len and the checksum are set and a zero ID is chosen (unless DF); more than the device MTU
  is EMSGSIZE, fewer than 20 bytes or an ihl beyond the data EINVAL. Broadcast needs SO_BROADCAST
  (EACCES). The port of a destination address is ignored.
- ICMP errors about packets of the socket's protocol (``ns.ip.raw_error``) are reported as raw_err
  does: connected sockets get the fatal ones, IP_RECVERR sockets all of them (error queue).
- ``proc_net_raw(ns)`` renders /proc/net/raw as raw_seq_show.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.ipv4.datagram import datagram_recvmsg, proc_order, proc_sock_fields, sendmsg_dest, sendmsg_route
from tuxnet.ipv4.fib_semantics import RTN_BROADCAST, RTN_MULTICAST
from tuxnet.ipv4.inet_hashtables import hash_32, inet_bound_dev_eq, net_hash_mix
from tuxnet.ipv4.ip_output import icmp_out_count
from tuxnet.netfilter.hooks import NF_INET_LOCAL_OUT
from tuxnet.skb import Csum, SkBuff
from tuxnet.sock.af_inet import INET_PROTOSW_REUSE, inet_register_protosw, inet_sockraw_ops
from tuxnet.sock.constants import (
    ICMP_FILTER,
    IP_PMTUDISC_DONT,
    IPPROTO_ICMP,
    IPPROTO_IP,
    MSG_OOB,
    MSG_TRUNC,
    SIOCINQ,
    SIOCOUTQ,
    SOCK_RAW,
    SOL_RAW,
    TCP_CLOSE,
    TCP_ESTABLISHED,
)
from tuxnet.sock.sock import Cred, InetSock, inet_addr_valid_or_nonlocal, skb_truesize
from tuxnet.wire.ethernet_consts import ETH_P_IP

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

RAW_HTABLE_LOG = 8
_U32 = struct.Struct("!I")
_FILTER = struct.Struct("=I")
IP_DF = 0x4000


def _copy_packet(skb: SkBuff, bufsize: int, flags: int) -> tuple[bytes, Any, int]:
    """raw_recvmsg's copy: the whole IP packet, and the sender's address."""
    nh = skb.network_header
    n = skb.tail - nh
    copied = min(n, bufsize)
    return (bytes(skb.buf[nh:nh + copied]), (_U32.unpack_from(skb.buf, nh + 12)[0], 0),
            MSG_TRUNC if copied < n else 0)


class RawSock(InetSock):
    """struct raw_sock."""

    __slots__ = ("icmp_filter",)
    prot_name = "RAW"
    no_autobind = True  # bound to its protocol at creation

    def __init__(self, ns: Namespace, sk_type: int, protocol: int, cred: Cred) -> None:
        super().__init__(ns, sk_type, protocol, cred)
        self.icmp_filter = 0

    # ------------------------------------------------------------ struct proto
    def hash(self) -> None:
        self.ns.raw.hash(self)

    def unhash(self) -> None:
        self.ns.raw.unhash(self)

    def bind(self, family: int, addr: int, port: int) -> None:
        """raw_bind: any local (or broadcast/multicast) address, the family unchecked, repeatable."""
        if self.sk_state != TCP_CLOSE:
            raise oserror(errno.EINVAL)
        chk = self.ns.fib.addr_type(addr)
        if not inet_addr_valid_or_nonlocal(self.ns, self, addr, chk):
            raise oserror(errno.EADDRNOTAVAIL)
        self.inet_rcv_saddr = self.inet_saddr = addr
        if chk in (RTN_MULTICAST, RTN_BROADCAST):
            self.inet_saddr = 0
        self.sk_dst = None

    def setsockopt(self, level: int, optname: int, value: Any) -> None:
        """raw_setsockopt: SOL_RAW ICMP_FILTER on ICMP sockets."""
        if level != SOL_RAW:
            raise oserror(errno.ENOPROTOOPT)
        if optname != ICMP_FILTER:
            raise oserror(errno.ENOPROTOOPT)
        if self.inet_num != IPPROTO_ICMP:
            raise oserror(errno.EOPNOTSUPP)
        if isinstance(value, int):
            self.icmp_filter = value & 0xFFFFFFFF
        else:
            b = bytes(value)[:4]
            # a shorter optval overwrites only its bytes (copy_from_sockptr of optlen bytes)
            cur = bytearray(_FILTER.pack(self.icmp_filter))
            cur[:len(b)] = b
            self.icmp_filter = _FILTER.unpack(bytes(cur))[0]

    def getsockopt(self, level: int, optname: int, buflen: int | None) -> Any:
        if level != SOL_RAW or optname != ICMP_FILTER:
            raise oserror(errno.ENOPROTOOPT)
        if self.inet_num != IPPROTO_ICMP:
            raise oserror(errno.EOPNOTSUPP)
        if buflen is None:
            return self.icmp_filter
        return _FILTER.pack(self.icmp_filter)[:buflen]

    # ------------------------------------------------------------ send
    def sendmsg(self, data: bytes, addr: tuple[int, int, int] | None, flags: int) -> int:
        """raw_sendmsg."""
        ns = self.ns
        n = len(data)
        if n > 0xFFFF:
            raise oserror(errno.EMSGSIZE)
        if flags & MSG_OOB:
            raise oserror(errno.EOPNOTSUPP)
        daddr, _ = sendmsg_dest(self, addr)
        rt, oif, daddr = sendmsg_route(self, daddr, count_noroutes=False)
        if self.hdrincl:
            return self._send_hdrinc(data, rt, daddr)
        df = self.append_data_check(rt, n, 0)
        skb = SkBuff.alloc(n)
        off = skb.put(n)
        skb.buf[off:off + n] = data
        skb.transport_header = off
        skb.ip_summed = Csum.NONE  # the payload's checksums are the user's: receivers verify them
        skb.priority = self.sk_priority
        ret = ns.ip.send(skb, rt.src, daddr, self.inet_num, rt=rt, tos=self.tos, ttl=self.send_ttl(daddr),
                         df=df, mark=self.sk_mark, oif=oif, sk=self, options=self.inet_opt)
        if ret < 0:
            raise oserror(-ret)
        return n

    def _send_hdrinc(self, data: bytes, rt: Any, daddr: int) -> int:
        """raw_send_hdrinc: the user's IP header, lightly fixed up."""
        ns = self.ns
        n = len(data)
        if n > rt.dev.mtu:
            raise oserror(errno.EMSGSIZE)
        if n < 20:
            raise oserror(errno.EINVAL)
        err = self.sk_err
        if err:
            self.sk_err = 0
            raise oserror(err)
        skb = SkBuff.alloc(n)
        off = skb.put(n)
        buf = skb.buf
        buf[off:off + n] = data
        skb.network_header = skb.transport_header = off
        skb.protocol = ETH_P_IP
        skb.priority = self.sk_priority
        skb.mark = self.sk_mark
        skb.ip_summed = Csum.NONE
        skb.dst = rt
        skb.sk = self
        ihl = (buf[off] & 15) << 2
        if ihl > n:
            raise oserror(errno.EINVAL)
        if ihl < 20:
            # "sane enough" is the user's business: sent without fixing anything
            ns.nf.hook(NF_INET_LOCAL_OUT, skb, None, rt.dev, ns.ip.dst_output)
            return n
        if not _U32.unpack_from(buf, off + 12)[0]:
            _U32.pack_into(buf, off + 12, rt.src)
        if not buf[off + 4] and not buf[off + 5] and not buf[off + 6] & 0x40:
            # ip_select_ident with no socket: DF packets keep ID 0
            ident = ns.ip.select_ident(_U32.unpack_from(buf, off + 16)[0], _U32.unpack_from(buf, off + 12)[0],
                                       buf[off + 9])
            buf[off + 4] = ident >> 8
            buf[off + 5] = ident & 0xFF
        skb.transport_header = off + ihl
        if buf[off + 9] == IPPROTO_ICMP and n >= ihl + 8:
            icmp_out_count(ns, buf[off + ihl])
        ret = ns.ip.ip_local_out(skb)  # tot_len and checksum are set there
        if ret < 0:
            raise oserror(-ret)
        return n

    # ------------------------------------------------------------ receive
    def ioctl(self, cmd: int) -> int:
        """raw_ioctl: SIOCOUTQ (sk_wmem_alloc), SIOCINQ (the length of the next packet, IP header
        included, 0 if none)."""
        if cmd == SIOCOUTQ:
            return self.sk_wmem_alloc
        if cmd == SIOCINQ:
            if not self.sk_receive_queue:
                return 0
            skb = self.sk_receive_queue[0][0]
            return skb.tail - skb.network_header
        raise oserror(errno.ENOTTY)

    def recvmsg(self, bufsize: int, flags: int, nonblock: bool) -> tuple[bytes, Any, int, list[Any]]:
        """raw_recvmsg: the whole IP packet."""
        return datagram_recvmsg(self, bufsize, flags, nonblock, _copy_packet)

    def raw_err(self, skb: SkBuff, icmp_type: int, code: int, info: int) -> None:
        """raw_err."""
        if icmp_type == 4 or icmp_type == 5:  # source quench, redirect
            return
        if not self.recverr and self.sk_state != TCP_ESTABLISHED:
            return
        harderr = False
        if icmp_type == 12:
            err, harderr = errno.EPROTO, True
        elif icmp_type == 3 and code <= 15:
            if code == 4:
                err, harderr = errno.EMSGSIZE, self.pmtudisc != IP_PMTUDISC_DONT
            else:
                conv = self.icmp_error_errno(icmp_type, code)
                err, harderr = conv if conv is not None else (errno.EHOSTUNREACH, False)
        else:
            err = errno.EHOSTUNREACH
        if self.recverr:
            q = skb.data
            payload = q if self.hdrincl else q + ((skb.buf[q] & 15) << 2)
            self.ip_icmp_error(skb, err, 0, info, payload)
        if self.recverr or harderr:
            self.report_error(err)


class Raw:
    """``ns.raw``: raw sockets by protocol (raw_v4_hashinfo)."""

    __slots__ = ("ns", "by_proto", "hash_mix", "inuse", "_seq")

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.by_proto: dict[int, list[RawSock]] = {}
        self.hash_mix = net_hash_mix(ns)
        self.inuse = 0
        self._seq = 0
        ns.ip.raw_deliver.append(self.local_deliver)
        ns.ip.raw_error.append(self.icmp_error)

    def hash(self, sk: RawSock) -> None:
        """raw_hash_sk: at the head of its protocol's chain."""
        if sk.hashed:
            return
        self.by_proto.setdefault(sk.inet_num, []).insert(0, sk)
        self._seq += 1
        sk.hash_seq = self._seq
        sk.hashed = True
        self.inuse += 1

    def unhash(self, sk: RawSock) -> None:
        """raw_unhash_sk."""
        if not sk.hashed:
            return
        lst = self.by_proto.get(sk.inet_num)
        if lst is not None and sk in lst:
            lst.remove(sk)
            if not lst:
                del self.by_proto[sk.inet_num]
        sk.hashed = False
        self.inuse -= 1

    @staticmethod
    def match(sk: RawSock, num: int, raddr: int, laddr: int, dif: int) -> bool:
        """raw_v4_match."""
        return (sk.inet_num == num and not (sk.inet_daddr and sk.inet_daddr != raddr)
                and not (sk.inet_rcv_saddr and sk.inet_rcv_saddr != laddr)
                and inet_bound_dev_eq(False, sk.sk_bound_dev_if, dif))

    def local_deliver(self, skb: SkBuff) -> bool:
        """raw_local_deliver / raw_v4_input: a copy for every matching socket; True if any matched."""
        buf = skb.buf
        nh = skb.network_header
        proto = buf[nh + 9]
        socks = self.by_proto.get(proto)
        if not socks:
            return False
        saddr = _U32.unpack_from(buf, nh + 12)[0]
        daddr = _U32.unpack_from(buf, nh + 16)[0]
        dif = skb.dev.ifindex if skb.dev is not None else 0
        delivered = False
        for sk in list(socks):
            if not self.match(sk, proto, saddr, daddr, dif):
                continue
            delivered = True
            if proto == IPPROTO_ICMP and self._icmp_filtered(sk, skb):
                continue
            self.raw_rcv(sk, skb.copy())
        return delivered

    @staticmethod
    def _icmp_filtered(sk: RawSock, skb: SkBuff) -> bool:
        """icmp_filter: types below 32 whose bit is set are not delivered; a runt is filtered."""
        th = skb.transport_header if skb.transport_header >= 0 else skb.data
        if skb.tail - th < 8:
            return True
        t = skb.buf[th]
        return t < 32 and bool((1 << t) & sk.icmp_filter)

    def raw_rcv(self, sk: RawSock, skb: SkBuff) -> None:
        """raw_rcv / raw_rcv_skb: the packet from its IP header onwards."""
        skb.data = skb.network_header
        skb.nfct = None
        reason = sk.sock_queue_rcv_skb(skb, skb_truesize(skb.tail - skb.network_header))
        if reason is not None:
            self.ns.kfree_skb(skb, reason)

    def icmp_error(self, skb: SkBuff, protocol: int, icmp_type: int, code: int, info: int) -> None:
        """raw_icmp_error: skb.data at the quoted IP header."""
        socks = self.by_proto.get(protocol)
        if not socks:
            return
        buf = skb.buf
        q = skb.data
        qsaddr = _U32.unpack_from(buf, q + 12)[0]
        qdaddr = _U32.unpack_from(buf, q + 16)[0]
        dif = skb.dev.ifindex if skb.dev is not None else 0
        for sk in list(socks):
            if self.match(sk, buf[q + 9], qdaddr, qsaddr, dif):
                sk.raw_err(skb, icmp_type, code, info)

    def sockets(self) -> list[RawSock]:
        return proc_order(self.by_proto.values(), self.bucket)

    def bucket(self, proto: int) -> int:
        """raw_hashfunc."""
        return hash_32((self.hash_mix ^ proto) & 0xFFFFFFFF, RAW_HTABLE_LOG)


def proc_net_raw(ns: Namespace) -> str:
    """/proc/net/raw (raw_seq_show / raw_sock_seq_show)."""
    out = ["  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
           "inode ref pointer drops\n"]
    raw = ns.raw
    for sk in raw.sockets():
        out.append(f"{raw.bucket(sk.inet_num):4d}: {proc_sock_fields(ns, sk, sk.inet_num, 0)}\n")
    return "".join(out)


def raw_sock_factory(ns: Namespace, sk_type: int, protocol: int, cred: Cred) -> RawSock:
    return RawSock(ns, sk_type, protocol, cred)


def init_raw(ns: Namespace) -> Raw:
    return Raw(ns)


inet_register_protosw(SOCK_RAW, IPPROTO_IP, raw_sock_factory, inet_sockraw_ops, INET_PROTOSW_REUSE)

__all__ = ["Raw", "RawSock", "init_raw", "proc_net_raw"]
