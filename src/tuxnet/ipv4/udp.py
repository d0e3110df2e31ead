"""UDP (net/ipv4/udp.c, RFC 768, RFC 1122 4.1): ``ns.udp`` and UDP sockets.

Guarantees, as Linux 6.x:
- Receive (``rcv``, IPPROTO_UDP's handler): fewer than 8 bytes, or a length field below 8 or beyond
  the packet, is InErrors + PKT_TOO_SMALL; a longer packet is trimmed to the length field. A bad
  checksum (verified unless the skb is CHECKSUM_UNNECESSARY or PARTIAL; 0 means none) is InCsumErrors +
  InErrors + UDP_CSUM (tuxnet verifies before the socket lookup; Linux defers it to recvmsg when a
  socket matches, which changes only when the counters move).
- Unicast lookup is __udp4_lib_lookup: sockets bound to the destination address first, then wildcard
  ones; a connected socket (peer address +4, peer port +4) and SO_BINDTODEVICE (+4) score higher;
  among equals the most recently bound wins; a SO_REUSEPORT group picks its member by a keyed
  jhash of the 4-tuple (unless a member is connected: then scoring decides).
- Broadcast and multicast datagrams go to every matching socket (__udp4_lib_mcast_deliver); with
  none: IgnoredMulti, and no ICMP. Unicast with no socket: NoPorts, ICMP port unreachable (3/3)
  and NO_SOCKET.
- Queueing (__udp_enqueue_schedule_skb) charges the skb's truesize to ``sk_rmem_alloc``; a datagram
  that would take it past SO_RCVBUF is dropped with RcvbufErrors + InErrors, SOCKET_RCVBUFF and
  ``sk_drops``, unless the queue is empty (Linux 6.18's rule; older kernels let one more in).
  InDatagrams counts datagrams read by recvmsg, as Linux.
- Send (udp_sendmsg): more than 65535 bytes or more than fits one IP datagram (65507 of payload)
  is EMSGSIZE, as is anything over the path MTU with IP_PMTUDISC_DO; no address on an unconnected
  socket is EDESTADDRREQ, port 0 EINVAL; a broadcast route without SO_BROADCAST is EACCES;
  routing errors as the route lookup raises (ENETUNREACH also counts OutNoRoutes). The checksum is
  computed (0 sent as 0xFFFF; none with SO_NO_CHECK); DF follows IP_MTU_DISCOVER (default WANT:
  DF when the datagram fits, else fragmented); OutDatagrams on success.
- ICMP errors (``err``) find the sending socket with the same lookup. Port/protocol unreachable and
  the other "fatal" codes set ``sk_err`` on a connected socket (ECONNREFUSED is then returned by
  the next send or recv, or SO_ERROR); with IP_RECVERR every error is reported and queued on the
  error queue. As Linux, host unreachable (3/1) is not fatal: connected sockets see it only with
  IP_RECVERR. No socket: Icmp InErrors.
- Ephemeral ports (udp_lib_get_port): a random start in ``ip_local_port_range`` from ``ns.rng``,
  then the kernel's walk over hash slots with an odd multiple of the table size, skipping ports
  in use and ``ip_local_reserved_ports``; the same seed gives the same ports.
- Binding: a port is in use when another socket on it has an equal or wildcard address and an
  overlapping device, unless both set SO_REUSEADDR, or both set SO_REUSEPORT with the same owner.
- ``proc_net_udp(ns)`` renders /proc/net/udp as udp4_seq_show does (hash bucket, hex addresses in
  the kernel's byte order, 127-column padding).
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.core.trace import SkbDropReason
from tuxnet.ipv4.datagram import (
    datagram_recvmsg,
    ip_cmsg_recv,
    proc_order,
    proc_seq_show,
    sendmsg_dest,
    sendmsg_route,
)
from tuxnet.ipv4.inet_hashtables import (
    inet_bound_dev_eq,
    inet_ehashfn,
    inet_get_local_port_range,
    inet_is_local_reserved_port,
    inet_rcv_saddr_equal,
    net_hash_mix,
    net_secret,
    reciprocal_scale,
    reuseport_add_sock,
    reuseport_alloc,
    reuseport_detach_sock,
    reuseport_has_conns,
    reuseport_select_sock,
)
from tuxnet.ipv4.route import RTCF_BROADCAST, RTCF_MULTICAST
from tuxnet.skb import Csum, SkBuff
from tuxnet.sock.af_inet import INET_PROTOSW_PERMANENT, inet_dgram_ops, inet_register_protosw
from tuxnet.sock.constants import (
    IPPROTO_UDP,
    MSG_OOB,
    MSG_PEEK,
    MSG_TRUNC,
    SIOCINQ,
    SIOCOUTQ,
    SOCK_DGRAM,
    TCP_ESTABLISHED,
)
from tuxnet.sock.sock import Cred, InetSock, skb_truesize
from tuxnet.sock.timestamping import sock_tx_timestamp
from tuxnet.wire.addr import ip_ntoa
from tuxnet.wire.checksum import csum_fold, csum_partial

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

UDP_HTABLE_SIZE = 16384  # udp_table size on a few-GB machine (alloc_large_system_hash)
UDP_HTABLE_MASK = UDP_HTABLE_SIZE - 1
UDP_HTABLE_LOG = 14
ICMP_DEST_UNREACH = 3
ICMP_PORT_UNREACH = 3

_UDPH = struct.Struct("!HHHH")
_U32 = struct.Struct("!I")
_PAGE = 4096
_M32 = 0xFFFFFFFF
INT_MAX = 2**31 - 1


class UdpSock(InetSock):
    """struct udp_sock."""

    __slots__ = ("hash2_key",)
    prot_name = "UDP"

    def __init__(self, ns: Namespace, sk_type: int, protocol: int, cred: Cred) -> None:
        super().__init__(ns, sk_type, protocol, cred)
        self.hash2_key = (0, 0)

    # ------------------------------------------------------------ struct proto
    def get_port(self, snum: int) -> int:
        return self.ns.udp.get_port(self, snum)

    def unhash(self) -> None:
        self.ns.udp.unhash(self)

    def rehash(self) -> None:
        self.ns.udp.rehash(self)

    def sendmsg(self, data: bytes, addr: tuple[int, int, int] | None, flags: int) -> int:
        """udp_sendmsg."""
        ns = self.ns
        n = len(data)
        if n > 0xFFFF:
            raise oserror(errno.EMSGSIZE)
        if flags & MSG_OOB:
            raise oserror(errno.EOPNOTSUPP)
        daddr, dport = sendmsg_dest(self, addr)
        if addr is not None and dport == 0:
            raise oserror(errno.EINVAL)
        rt, oif, daddr = sendmsg_route(self, daddr)
        saddr = rt.src
        ulen = n + 8
        df = self.append_data_check(rt, ulen, 8)
        skb = SkBuff.alloc(ulen)
        off = skb.put(ulen)
        buf = skb.buf
        buf[off + 8:off + ulen] = data
        sport = self.inet_sport
        if "SOCK_NO_CHECK_TX" in self.sock_flags:
            check = 0
        else:
            # csum_tcpudp_magic over pseudo header, header (check 0) and data; 0 goes out as 0xFFFF
            s = (saddr >> 16) + (saddr & 0xFFFF) + (daddr >> 16) + (daddr & 0xFFFF) + IPPROTO_UDP + ulen
            s += sport + dport + ulen
            check = csum_fold(csum_partial(data, s)) or 0xFFFF
        _UDPH.pack_into(buf, off, sport, dport, ulen, check)
        skb.transport_header = off
        skb.priority = self.sk_priority
        if self.sk_tsflags:
            stamp = sock_tx_timestamp(self)  # SO_TIMESTAMPING: SCHED/SND at the device
            if stamp is not None:
                skb.shinfo = (stamp, self)
        ret = ns.ip.send(skb, saddr, daddr, IPPROTO_UDP, rt=rt, tos=self.tos, ttl=self.send_ttl(daddr), df=df,
                         mark=self.sk_mark, oif=oif, sk=self)
        if ret < 0:
            raise oserror(-ret)
        ns.mib.udp.OutDatagrams += 1
        return n

    def ioctl(self, cmd: int) -> int:
        """udp_ioctl: SIOCOUTQ (bytes not yet handed to the device: none, transmit is synchronous),
        SIOCINQ (first_packet_length: the payload of the next datagram, 0 if none)."""
        if cmd == SIOCOUTQ:
            return self.sk_wmem_alloc
        if cmd == SIOCINQ:
            if not self.sk_receive_queue:
                return 0
            skb = self.sk_receive_queue[0][0]
            return skb.tail - skb.transport_header - 8
        raise oserror(errno.ENOTTY)

    def recvmsg(self, bufsize: int, flags: int, nonblock: bool) -> tuple[bytes, Any, int, list[Any]]:
        """udp_recvmsg."""
        return datagram_recvmsg(self, bufsize, flags, nonblock, self._copy_datagram)

    def _copy_datagram(self, skb: SkBuff, bufsize: int, flags: int) -> tuple[bytes, Any, int]:
        """udp_recvmsg's copy: the payload after the UDP header, the sender's address and port."""
        buf = skb.buf
        th = skb.transport_header
        ulen = skb.tail - th - 8
        copied = min(bufsize, ulen)
        data = bytes(buf[th + 8:th + 8 + copied])
        mflags = MSG_TRUNC if copied < ulen else 0
        if not flags & MSG_PEEK:
            self.ns.mib.udp.InDatagrams += 1
        addr = (_U32.unpack_from(buf, skb.network_header + 12)[0], (buf[th] << 8) | buf[th + 1])
        return data, addr, mflags


class Udp:
    """``ns.udp``: the namespace's UDP socket table and protocol handlers."""

    __slots__ = ("ns", "hash", "hash2", "hash_mix", "ehash_secret", "inuse", "_seq")

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        # primary hash (udp_table.hash): port -> sockets, most recently hashed first
        self.hash: dict[int, list[UdpSock]] = {}
        # secondary hash (hash2): (rcv_saddr, port) -> sockets, most recently (re)hashed first
        self.hash2: dict[tuple[int, int], list[UdpSock]] = {}
        self.hash_mix = net_hash_mix(ns)
        self.ehash_secret = net_secret(ns, "udp_ehash_secret")
        self.inuse = 0
        self._seq = 0
        ns.ip.register_protocol(IPPROTO_UDP, self.rcv, self.err)

    # ------------------------------------------------------------ binding
    def _lport_inuse(self, sk: UdpSock, num: int) -> bool:
        """udp_lib_lport_inuse (without the bitmap): does ``num`` conflict for ``sk``?"""
        for sk2 in self.hash.get(num, ()):
            if (sk2 is not sk and (not sk2.sk_reuse or not sk.sk_reuse)
                    and (not sk2.sk_bound_dev_if or not sk.sk_bound_dev_if
                         or sk2.sk_bound_dev_if == sk.sk_bound_dev_if)
                    and inet_rcv_saddr_equal(sk, sk2, True)):
                # the first conflicting socket decides: SO_REUSEPORT peers of one owner share
                return not (sk2.sk_reuseport and sk.sk_reuseport and sk.sk_reuseport_cb is None
                            and sk.sk_uid == sk2.sk_uid)
        return False

    def get_port(self, sk: UdpSock, snum: int) -> int:
        """udp_lib_get_port: 0, or EADDRINUSE."""
        ns = self.ns
        if not snum:
            low, high = inet_get_local_port_range(ns)
            remaining = high - low + 1
            rand = ns.rng.getrandbits(32)
            first = (reciprocal_scale(rand, remaining) + low) & 0xFFFF
            # force rand to be an odd multiple of UDP_HTABLE_SIZE: stepping by it visits every port
            # of first's hash slot (snum is an unsigned short)
            step = ((rand | 1) * UDP_HTABLE_SIZE) & 0xFFFF
            last = (first + UDP_HTABLE_SIZE) & 0xFFFF
            snum = self._scan_slot(sk, first, step, low, high)
            while not snum:
                first = (first + 1) & 0xFFFF
                if first == last:
                    return errno.EADDRINUSE
                snum = self._scan_slot(sk, first, step, low, high)
        elif self._lport_inuse(sk, snum):
            return errno.EADDRINUSE
        sk.inet_num = snum
        if not sk.hashed:
            if sk.sk_reuseport:
                self._reuseport_add_sock(sk)
            self.hash.setdefault(snum, []).insert(0, sk)
            sk.hash2_key = (sk.inet_rcv_saddr, snum)
            self.hash2.setdefault(sk.hash2_key, []).insert(0, sk)
            self._seq += 1
            sk.hash_seq = self._seq
            sk.hashed = True
            self.inuse += 1
        return 0

    def _scan_slot(self, sk: UdpSock, first: int, step: int, low: int, high: int) -> int:
        """The free port among first, first+step, ... (mod 65536), or 0."""
        ns = self.ns
        snum = first
        while True:
            if low <= snum <= high and not self._lport_inuse(sk, snum) and not inet_is_local_reserved_port(
                    ns, snum):
                return snum
            snum = (snum + step) & 0xFFFF
            if snum == first:
                return 0

    def _reuseport_add_sock(self, sk: UdpSock) -> None:
        """udp_reuseport_add_sock: join the group of an identical binding, else start one."""
        for sk2 in self.hash.get(sk.inet_num, ()):
            if (sk2 is not sk and sk2.sk_bound_dev_if == sk.sk_bound_dev_if and sk2.sk_reuseport
                    and sk2.sk_uid == sk.sk_uid and inet_rcv_saddr_equal(sk, sk2, False)):
                reuseport_add_sock(sk, sk2, not sk.inet_rcv_saddr)
                return
        reuseport_alloc(sk, not sk.inet_rcv_saddr)

    def unhash(self, sk: UdpSock) -> None:
        """udp_lib_unhash."""
        if not sk.hashed:
            return
        if sk.sk_reuseport_cb is not None:
            reuseport_detach_sock(sk)
        num = sk.inet_num
        lst = self.hash.get(num)
        if lst is not None and sk in lst:
            lst.remove(sk)
            if not lst:
                del self.hash[num]
        self._hash2_del(sk)
        sk.hashed = False
        sk.inet_num = 0
        self.inuse -= 1

    def rehash(self, sk: UdpSock) -> None:
        """udp_lib_rehash: inet_rcv_saddr (or the device) changed: move to the head of the new
        secondary slot, and leave the reuseport group."""
        if not sk.hashed:
            return
        if sk.sk_reuseport_cb is not None:
            reuseport_detach_sock(sk)
        self._hash2_del(sk)
        sk.hash2_key = (sk.inet_rcv_saddr, sk.inet_num)
        self.hash2.setdefault(sk.hash2_key, []).insert(0, sk)

    def _hash2_del(self, sk: UdpSock) -> None:
        lst2 = self.hash2.get(sk.hash2_key)
        if lst2 is not None and sk in lst2:
            lst2.remove(sk)
            if not lst2:
                del self.hash2[sk.hash2_key]

    # ------------------------------------------------------------ lookup
    def _lookup2(self, saddr: int, sport: int, daddr: int, hnum: int, dif: int) -> UdpSock | None:
        """udp4_lib_lookup2 over the sockets bound to (daddr, hnum)."""
        result = None
        badness = 0
        for sk in self.hash2.get((daddr, hnum), ()):
            score = 2
            if sk.inet_daddr:
                if sk.inet_daddr != saddr:
                    continue
                score += 4
            if sk.inet_dport:
                if sk.inet_dport != sport:
                    continue
                score += 4
            if not inet_bound_dev_eq(False, sk.sk_bound_dev_if, dif):
                continue
            if sk.sk_bound_dev_if:
                score += 4
            if score > badness:
                reuse = None
                if sk.sk_reuseport and sk.sk_state != TCP_ESTABLISHED:
                    h = inet_ehashfn(daddr, hnum, saddr, sport, (self.ehash_secret + self.hash_mix) & _M32)
                    reuse = reuseport_select_sock(sk, h)
                    # fall back to scoring if the group has connections
                    if reuse is not None and not reuseport_has_conns(sk):
                        return reuse  # type: ignore[no-any-return]
                result = reuse or sk
                badness = score
        return result

    def lookup(self, saddr: int, sport: int, daddr: int, dport: int, dif: int) -> UdpSock | None:
        """__udp4_lib_lookup: exact local address first, then the wildcard."""
        result = self._lookup2(saddr, sport, daddr, dport, dif)
        if result is not None:
            return result
        return self._lookup2(saddr, sport, 0, dport, dif)

    # ------------------------------------------------------------ receive
    def rcv(self, skb: SkBuff) -> int:
        """__udp4_lib_rcv (skb.data at the UDP header)."""
        ns = self.ns
        mib = ns.mib.udp
        buf = skb.buf
        d = skb.data
        n = skb.tail - d
        if n < 8:
            mib.InErrors += 1
            ns.kfree_skb(skb, SkbDropReason.PKT_TOO_SMALL)
            return 0
        ulen = (buf[d + 4] << 8) | buf[d + 5]
        if ulen > n or ulen < 8:
            mib.InErrors += 1
            ns.kfree_skb(skb, SkbDropReason.PKT_TOO_SMALL)
            return 0
        if ulen < n:
            skb.tail = d + ulen  # pskb_trim_rcsum
        nh = skb.network_header
        saddr = _U32.unpack_from(buf, nh + 12)[0]
        daddr = _U32.unpack_from(buf, nh + 16)[0]
        # skb_csum_unnecessary(): a CHECKSUM_PARTIAL skb (sent by a lab host) has nothing to verify yet
        if skb.ip_summed != Csum.UNNECESSARY and skb.ip_summed != Csum.PARTIAL and (buf[d + 6] or buf[d + 7]):
            s = (saddr >> 16) + (saddr & 0xFFFF) + (daddr >> 16) + (daddr & 0xFFFF) + IPPROTO_UDP + ulen
            if csum_fold(csum_partial(buf[d:d + ulen], s)):
                mib.InCsumErrors += 1
                mib.InErrors += 1
                ns.kfree_skb(skb, SkbDropReason.UDP_CSUM)
                return 0
            skb.ip_summed = Csum.UNNECESSARY
        skb.transport_header = d
        sport = (buf[d] << 8) | buf[d + 1]
        dport = (buf[d + 2] << 8) | buf[d + 3]
        rt = skb.dst
        dif = skb.dev.ifindex if skb.dev is not None else 0
        if rt is not None and rt.flags & (RTCF_BROADCAST | RTCF_MULTICAST):
            return self.mcast_deliver(skb, saddr, sport, daddr, dport, dif)
        sk = self.lookup(saddr, sport, daddr, dport, dif)
        if sk is not None:
            self.queue_rcv_skb(sk, skb)
            return 0
        mib.NoPorts += 1
        ns.icmp.send(skb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0)
        ns.kfree_skb(skb, SkbDropReason.NO_SOCKET)
        return 0

    def mcast_deliver(self, skb: SkBuff, saddr: int, sport: int, daddr: int, dport: int, dif: int) -> int:
        """__udp4_lib_mcast_deliver: a copy for every matching socket, the original for the first."""
        first = None
        for sk in list(self.hash.get(dport, ())):
            if ((sk.inet_daddr and sk.inet_daddr != saddr) or (sk.inet_dport and sk.inet_dport != sport)
                    or (sk.inet_rcv_saddr and sk.inet_rcv_saddr != daddr)
                    or not inet_bound_dev_eq(False, sk.sk_bound_dev_if, dif)
                    or not self._mc_sf_allow(sk, daddr, dif)):
                continue
            if first is None:
                first = sk
                continue
            self.queue_rcv_skb(sk, skb.copy())
        if first is not None:
            self.queue_rcv_skb(first, skb)
        else:
            self.ns.mib.udp.IgnoredMulti += 1
            self.ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
        return 0

    @staticmethod
    def _mc_sf_allow(sk: UdpSock, daddr: int, dif: int) -> bool:
        """ip_mc_sf_allow: a multicast datagram reaches a member of the group, or any socket with
        IP_MULTICAST_ALL (the default)."""
        if (daddr & 0xF0000000) != 0xE0000000:
            return True
        sock = sk.sk_socket
        if sock is not None and any(g == daddr and (i == dif or not i) for i, g in sock.mc_list):
            return True
        return bool(sk.mc_all)

    def queue_rcv_skb(self, sk: UdpSock, skb: SkBuff) -> None:
        """udp_queue_rcv_skb / __udp_enqueue_schedule_skb."""
        size = skb_truesize(skb.tail - skb.network_header)
        rmem = sk.sk_rmem_alloc
        rcvbuf = sk.sk_rcvbuf
        # Linux 6.18: drop when the datagram does not fit, unless the queue is empty
        if rmem + size > rcvbuf and (rcvbuf > INT_MAX >> 1 or rmem):
            sk.sk_drops += 1
            mib = self.ns.mib.udp
            mib.RcvbufErrors += 1
            mib.InErrors += 1
            self.ns.kfree_skb(skb, SkbDropReason.SOCKET_RCVBUFF)
            return
        sk.sk_rmem_alloc = rmem + size
        skb.sk = sk
        skb.nfct = None  # nf_reset_ct
        sk.sk_receive_queue.append((skb, size))
        sk.sk_data_ready()

    # ------------------------------------------------------------ ICMP errors
    def err(self, skb: SkBuff, icmp_type: int, code: int, info: int) -> None:
        """__udp4_lib_err: skb.data at the quoted IP header of a datagram we sent."""
        ns = self.ns
        buf = skb.buf
        q = skb.data
        hl = (buf[q] & 15) << 2
        if skb.tail - q < hl + 4:
            return
        qsaddr = _U32.unpack_from(buf, q + 12)[0]
        qdaddr = _U32.unpack_from(buf, q + 16)[0]
        sport = (buf[q + hl] << 8) | buf[q + hl + 1]
        dport = (buf[q + hl + 2] << 8) | buf[q + hl + 3]
        dif = skb.dev.ifindex if skb.dev is not None else 0
        sk = self.lookup(qdaddr, dport, qsaddr, sport, dif)
        if sk is None:
            ns.mib.icmp.InErrors += 1
            return
        conv = sk.icmp_error_errno(icmp_type, code)
        if conv is None:
            return
        err, harderr = conv
        if not sk.recverr:
            if not harderr or sk.sk_state != TCP_ESTABLISHED:
                return
        else:
            sk.ip_icmp_error(skb, err, dport, info, q + hl + 8)
        sk.report_error(err)

    # ------------------------------------------------------------ accounting
    def mem_pages(self) -> int:
        """udp_memory_allocated in pages (sockstat's "mem")."""
        total = 0
        for lst in self.hash.values():
            for sk in lst:
                total += (sk.sk_rmem_alloc + _PAGE - 1) // _PAGE
        return total

    def sockets(self) -> list[UdpSock]:
        """Hashed sockets in /proc/net/udp order: hash bucket, then most recent first."""
        return proc_order(self.hash.values(), self.bucket)

    def bucket(self, port: int) -> int:
        """udp_hashfn: the primary hash slot of ``port``."""
        return (port + self.hash_mix) & UDP_HTABLE_MASK


def proc_net_udp(ns: Namespace) -> str:
    """/proc/net/udp (udp4_seq_show / udp4_format_sock)."""
    return proc_seq_show(ns, "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   "
                         "uid  timeout inode ref pointer drops", ns.udp)


def udp_sock_factory(ns: Namespace, sk_type: int, protocol: int, cred: Cred) -> UdpSock:
    return UdpSock(ns, sk_type, protocol, cred)


def init_udp(ns: Namespace) -> Udp:
    return Udp(ns)


inet_register_protosw(SOCK_DGRAM, IPPROTO_UDP, udp_sock_factory, inet_dgram_ops, INET_PROTOSW_PERMANENT)

__all__ = ["Udp", "UdpSock", "init_udp", "proc_net_udp", "ip_cmsg_recv", "ip_ntoa"]
