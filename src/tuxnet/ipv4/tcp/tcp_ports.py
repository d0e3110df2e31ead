"""TCP's local ports: bind conflicts, ephemeral ports for bind() and connect(), TIME_WAIT reuse.

Mirrors net/ipv4/inet_connection_sock.c (inet_csk_get_port, inet_csk_bind_conflict,
inet_csk_find_open_port), net/ipv4/inet_hashtables.c (__inet_hash_connect, __inet_check_established,
inet_put_port) and tcp_twsk_unique (net/ipv4/tcp_ipv4.c).

Guarantees, as Linux 6.x:
- Two sockets may share a port when their bound devices differ, their addresses are both specific
  and differ, both set SO_REUSEADDR and neither listens, or both set SO_REUSEPORT; a TIME_WAIT
  socket keeps its port (binding over it needs SO_REUSEADDR on both). EADDRINUSE otherwise.
- bind(port 0) takes a random odd port of ip_local_port_range first, then an even one; connect()
  starts at a hashed, perturbed offset on even ports, skipping ports bound with bind() and
  4-tuples in use; EADDRNOTAVAIL when none is free.
- A 4-tuple held by a TIME_WAIT socket is reused by connect() (TWRecycled; the new ISN is the old
  snd_nxt + 65537) when the TIME_WAIT socket saw timestamps and tcp_tw_reuse allows it (1, or 2 for
  loopback traffic) tcp_tw_reuse_delay ms after it entered TIME_WAIT; with an explicitly bound port
  the timestamps alone suffice.
"""

from __future__ import annotations

import errno
from typing import Any

from tuxnet.core.errors import oserror
from tuxnet.ipv4.tcp import syncookies
from tuxnet.ipv4.tcp.tcp_minisocks import TimewaitSock
from tuxnet.ipv4.tcp.tcp_sock import TCP_LISTEN, TCP_TIME_WAIT, U32, TcpSock, tcp_clock_ns, ts_ms


class TcpPorts:
    """The port-table half of ``TcpNet`` (``bhash``, ``ehash``, ``port_key``, ``table_perturb``)."""

    __slots__ = ()
    ns: Any
    bhash: dict[int, list[Any]]
    ehash: dict[tuple[int, int, int, int], Any]
    sockets: set[TcpSock]
    port_key: bytes
    table_perturb: dict[int, int]

    def hash_established(self, sk: Any) -> None:  # provided by TcpNet
        raise NotImplementedError

    def inet_twsk_deschedule_put(self, tw: Any) -> None:  # provided by TcpNet
        raise NotImplementedError

    def inet_put_port(self, sk: Any) -> None:
        port = sk.inet_num if isinstance(sk, TcpSock) else sk.tw_num
        lst = self.bhash.get(port)
        if lst and sk in lst:
            lst.remove(sk)
            if not lst:
                del self.bhash[port]
        if isinstance(sk, TcpSock):
            self.sockets.discard(sk)
            if sk.sk_userlocks & 8 == 0:
                sk.inet_num = 0
                sk.inet_sport = 0

    def _conflict(self, tp: TcpSock, port: int, addr: int, relax: bool) -> bool:
        for sk2 in self.bhash.get(port, ()):
            if sk2 is tp:
                continue
            if isinstance(sk2, TimewaitSock):
                a2, dev2, reuse2, st2, rp2 = (sk2.tw_rcv_saddr, sk2.tw_bound_dev_if, sk2.reuse,
                                              TCP_TIME_WAIT, 0)
            else:
                a2, dev2, reuse2, st2, rp2 = (sk2.inet_rcv_saddr, sk2.sk_bound_dev_if, sk2.sk_reuse,
                                              sk2.sk_state, sk2.sk_reuseport)
            if tp.sk_bound_dev_if and dev2 and tp.sk_bound_dev_if != dev2:
                continue
            if addr and a2 and addr != a2:
                continue
            if tp.sk_reuse and reuse2 and st2 != TCP_LISTEN and (relax or tp.sk_state != TCP_LISTEN):
                continue
            if tp.sk_reuseport and rp2 and st2 != TCP_TIME_WAIT:
                continue
            return True
        return False

    def inet_csk_get_port(self, tp: TcpSock, port: int) -> None:
        """Bind ``tp`` to ``port`` (0: an ephemeral one); EADDRINUSE on conflict."""
        if port == 0:
            low, high = self.ns.sysctl.v["net.ipv4.ip_local_port_range"]  # type: ignore[misc]
            remaining = high - low + 1
            offset = self.ns.rng.randrange(remaining) | 1  # bind() prefers odd ports; connect() even
            for parity_pass in range(2):
                for i in range(0, remaining, 2):
                    p = low + (offset + i) % remaining
                    if p in self.bhash and self._conflict(tp, p, tp.inet_rcv_saddr, False):
                        continue
                    if p in self.bhash:
                        continue
                    port = p
                    break
                if port:
                    break
                offset += 1
                del parity_pass
            if not port:
                raise oserror(errno.EADDRINUSE)
        elif self._conflict(tp, port, tp.inet_rcv_saddr, False):
            raise oserror(errno.EADDRINUSE)
        tp.inet_num = port
        tp.inet_sport = port
        self.bhash.setdefault(port, []).append(tp)
        self.sockets.add(tp)

    def check_listen_conflict(self, tp: TcpSock) -> None:
        """inet_csk_get_port again at listen(): another socket may have bound the port meanwhile."""
        if self._conflict(tp, tp.inet_num, tp.inet_rcv_saddr, True):
            raise oserror(errno.EADDRINUSE)

    def __inet_check_established(self, tp: TcpSock, lport: int, twp: bool) -> bool:
        """Is the 4-tuple free (a TIME_WAIT holding it may be recycled)?"""
        key = (tp.inet_saddr, lport, tp.inet_daddr, tp.inet_dport)
        sk2 = self.ehash.get(key)
        if sk2 is None:
            return True
        if isinstance(sk2, TimewaitSock) and self.tcp_twsk_unique(tp, sk2, twp):
            self.ns.mib.tcpext.TWRecycled += 1
            self.inet_twsk_deschedule_put(sk2)
            return True
        return False

    def tcp_twsk_unique(self, tp: TcpSock, tw: TimewaitSock, twp: bool) -> bool:
        """May a connect() reuse this TIME_WAIT's 4-tuple? (tcp_tw_reuse: 2 = loopback only)."""
        v = self.ns.sysctl.v
        reuse = int(v["net.ipv4.tcp_tw_reuse"])  # type: ignore[call-overload]
        if tw.tw_substate == 5:  # TCP_FIN_WAIT2
            reuse = 0
        if reuse == 2:
            lo = self.ns.lo.ifindex if getattr(self.ns, "lo", None) is not None else 1
            loopback = (tw.tw_bound_dev_if == lo or (tw.tw_daddr >> 24) == 127
                        or (tw.tw_rcv_saddr >> 24) == 127)
            if not loopback:
                reuse = 0
        reuse_thresh = tw.tw_entry_stamp + int(v["net.ipv4.tcp_tw_reuse_delay"])  # type: ignore[call-overload]
        now_ms = ts_ms(tcp_clock_ns(self.ns))
        if tw.tw_ts_recent_stamp and (not twp or (reuse and now_ms > reuse_thresh)):
            tp.write_seq = ((tw.tw_snd_nxt + 65535 + 2) & U32) or 1
            tp.rx_opt.ts_recent = tw.tw_ts_recent
            tp.rx_opt.ts_recent_stamp = tw.tw_ts_recent_stamp
            return True
        return False

    def inet_hash_connect(self, tp: TcpSock) -> None:
        """Pick the local port for connect() and hash the socket (EADDRNOTAVAIL when none is free)."""
        if tp.inet_num:
            if not self.__inet_check_established(tp, tp.inet_num, False):
                raise oserror(errno.EADDRNOTAVAIL)
            self.hash_established(tp)
            return
        low, high = self.ns.sysctl.v["net.ipv4.ip_local_port_range"]  # type: ignore[misc]
        high += 1
        remaining = high - low
        if remaining > 1:
            remaining &= ~1
        port_offset = syncookies.keyed_hash32(self.port_key, tp.inet_rcv_saddr, tp.inet_daddr, tp.inet_dport)
        index = port_offset & 255
        offset = (self.table_perturb.get(index, self.ns.rng.getrandbits(32)) + port_offset) % remaining
        offset &= ~1  # the first pass tries ports of low's parity (even)
        for _ in range(2):
            port = low + offset
            for i in range(0, remaining, 2):
                if port >= high:
                    port -= remaining
                bound = self.bhash.get(port)
                if bound:
                    explicit = any(isinstance(s, TcpSock) and s.sk_userlocks & 8 for s in bound)
                    if explicit or not self.__inet_check_established(tp, port, True):
                        port += 2
                        continue
                tp.inet_num = port
                tp.inet_sport = port
                self.bhash.setdefault(port, []).append(tp)
                step = max(i, self.ns.rng.randrange(8) * 2)
                self.table_perturb[index] = self.table_perturb.get(index, 0) + step + 2
                self.hash_established(tp)
                return
            offset += 1
        raise oserror(errno.EADDRNOTAVAIL)

