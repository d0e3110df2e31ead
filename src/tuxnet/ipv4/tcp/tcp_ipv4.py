"""TCP over IPv4 for one namespace (``ns.tcp``): receive, lookup, resets, ICMP errors, ISNs, ports.

Mirrors net/ipv4/tcp_ipv4.c, net/ipv4/inet_hashtables.c (established/listening/bind tables,
__inet_hash_connect, __inet_check_established), net/ipv4/inet_connection_sock.c (bind conflicts,
inet_csk_get_port) and net/core/secure_seq.c.

Guarantees, as Linux 6.x:
- ``tcp_v4_rcv``: InSegs for every segment to this host; a header shorter than 20 bytes or doff < 5
  is InErrs; a bad checksum (verified whenever the skb is not CHECKSUM_UNNECESSARY) is
  InCsumErrors + InErrs (TCP_CSUM). Lookup: established (and request and TIME_WAIT) sockets by
  4-tuple, then listeners, an address-bound one before a wildcard one. No socket: an RST
  (NO_SOCKET), never to an RST, with seq = the segment's ACK or, without ACK, ACK = seq + len
  (+SYN +FIN); OutRsts.
- The ISN is secure_tcp_seq: a keyed hash of the 4-tuple plus a 64 ns clock; timestamp offsets are
  secure_tcp_ts_off (a keyed hash of the address pair), keys from the namespace's generator.
- Ports: bind(0) prefers odd ports of ip_local_port_range, connect() even ones starting at a
  hashed offset; conflicts follow SO_REUSEADDR/SO_REUSEPORT rules (TIME_WAIT sockets keep their
  port); connect() may reuse a TIME_WAIT 4-tuple when tcp_tw_reuse allows (TWRecycled).
- ICMP (tcp_v4_err): out-of-window quotes are counted (OutOfWindowIcmps); "fragmentation needed"
  lowers the path MTU, resyncs the MSS and retransmits at once; unreachables abort a connection
  attempt (ECONNREFUSED, EHOSTUNREACH ...) and are soft errors (reported at timeout) afterwards.
- SYN handling (tcp_conn_request): ListenOverflows/ListenDrops when the accept queue is full,
  SYN cookies when the SYN queue is (TCPReqQFullDoCookies, SyncookiesSent), else
  TCPReqQFullDrop; cookies are checked on the final ACK (SyncookiesRecv/Failed).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tuxnet.core.trace import SkbDropReason
from tuxnet.ipv4.tcp import cong, syncookies, tcp_ctl, tcp_ecn, tcp_fastopen, tcp_output
from tuxnet.ipv4.tcp.tcp_minisocks import (
    TCP_TW_ACK,
    TCP_TW_RST,
    TCP_TW_SYN,
    RequestSock,
    TimewaitSock,
    tcp_check_req,
    tcp_create_openreq_child,
    tcp_openreq_init_rwin,
    tcp_timewait_state_process,
)
from tuxnet.ipv4.tcp.tcp_ports import TcpPorts
from tuxnet.ipv4.tcp.tcp_sock import (
    NSEC_PER_JIFFY,
    TCP_CLOSE,
    TCP_ESTABLISHED,
    TCP_LISTEN,
    TCP_NEW_SYN_RECV,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    TCP_TIME_WAIT,
    TCP_TIMEOUT_INIT,
    TCPHDR_ACK,
    TCPHDR_FIN,
    TCPHDR_RST,
    TCPHDR_SYN,
    U32,
    TcpCb,
    TcpSock,
    tcp_clock_ns,
    tcpf,
    ts_ms,
)
from tuxnet.skb import Csum, PacketType
from tuxnet.wire.errors import WireError
from tuxnet.wire.seqnum import seq_between
from tuxnet.wire.tcp import TcpHeader, TcpOptNop, TcpOptTimestamp, tcp_checksum_ok

if TYPE_CHECKING:
    from tuxnet.netns import Namespace
    from tuxnet.skb import SkBuff

IPPROTO_TCP = 6
ICMP_DEST_UNREACH = 3
ICMP_SOURCE_QUENCH = 4
ICMP_REDIRECT = 5
ICMP_TIME_EXCEEDED = 11
ICMP_PARAMETERPROB = 12
ICMP_FRAG_NEEDED = 4
NR_ICMP_UNREACH = 15
ICMP_ERR_CONVERT = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENOPROTOOPT, errno.ECONNREFUSED,
                    errno.EMSGSIZE, errno.EOPNOTSUPP, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENONET,
                    errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTUNREACH,
                    errno.EHOSTUNREACH, errno.EHOSTUNREACH, errno.EHOSTUNREACH)

# TCP sysctls of Linux 6.x that the shared defaults table does not carry (registered per namespace)
TCP_SYSCTLS: dict[str, Any] = {
    "net.ipv4.tcp_syn_linear_timeouts": 4,
    "net.ipv4.tcp_rto_min_us": 200000,
    "net.ipv4.tcp_rto_max_ms": 120000,
    "net.ipv4.tcp_tw_reuse_delay": 1000,
    "net.ipv4.tcp_comp_sack_nr": 44,
    "net.ipv4.tcp_comp_sack_delay_ns": 1000000,
    "net.ipv4.tcp_comp_sack_slack_ns": 100000,
    "net.ipv4.tcp_pingpong_thresh": 1,
    "net.ipv4.tcp_min_snd_mss": 48,
    "net.ipv4.tcp_max_reordering": 300,
    "net.ipv4.tcp_workaround_signed_windows": 0,
    "net.ipv4.tcp_shrink_window": 0,
    "net.ipv4.tcp_stdurg": 0,
    "net.ipv4.tcp_retrans_collapse": 1,
    "net.ipv4.tcp_thin_linear_timeouts": 0,
    "net.ipv4.tcp_tso_win_divisor": 3,
    "net.ipv4.tcp_max_orphans": 65536,
    "net.ipv4.tcp_fastopen": 1,
    "net.ipv4.tcp_backlog_ack_defer": 1,
    "net.ipv4.tcp_fack": 0,
    "net.ipv4.tcp_reflect_tos": 0,
    "net.ipv4.tcp_ecn_fallback": 1,
    "net.ipv4.tcp_probe_interval": 600,
    "net.ipv4.tcp_probe_threshold": 8,
    "net.ipv4.tcp_mtu_probe_floor": 48,
    "net.ipv4.tcp_no_ssthresh_metrics_save": 1,
    "net.ipv4.tcp_l3mdev_accept": 0,
    "net.ipv4.tcp_tso_rtt_log": 9,
}


def _key(seed: Any, name: str) -> bytes:
    return seed.getrandbits(128).to_bytes(16, "big") + name.encode()


class TcpNet(TcpPorts):
    """Per-namespace TCP state (the parts of struct netns_ipv4 and tcp_hashinfo TCP uses)."""

    __slots__ = ("ns", "ehash", "lhash", "bhash", "isn_key", "ts_key", "cookie_key", "port_key",
                 "table_perturb", "tw_count", "orphan_count", "challenge_timestamp", "challenge_count",
                 "sockets", "last_oow_ack_time", "fastopen")

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        for k, val in TCP_SYSCTLS.items():
            ns.sysctl.v.setdefault(k, val)
        self.ehash: dict[tuple[int, int, int, int], Any] = {}
        self.lhash: dict[int, list[TcpSock]] = {}
        self.bhash: dict[int, list[Any]] = {}
        rng = ns.rng
        self.isn_key = _key(rng, "isn")
        self.ts_key = _key(rng, "ts")
        self.cookie_key = _key(rng, "cookie")
        self.port_key = _key(rng, "port")
        self.table_perturb: dict[int, int] = {}
        self.tw_count = 0
        self.orphan_count = 0
        self.challenge_timestamp = 0
        self.challenge_count = 0
        self.sockets: set[TcpSock] = set()  # every full socket that is hashed or bound (for /proc)
        self.last_oow_ack_time = 0
        self.fastopen = tcp_fastopen.FastopenNet(ns)
        ip = getattr(ns, "ip", None)
        if ip is not None:
            ip.register_protocol(IPPROTO_TCP, self.tcp_v4_rcv, self.tcp_v4_err)

    # ------------------------------------------------------------------ secure numbers
    def secure_tcp_seq(self, saddr: int, daddr: int, sport: int, dport: int) -> int:
        h = syncookies.keyed_hash32(self.isn_key, saddr, daddr, (sport << 16) | dport)
        return (h + (self.ns.loop.now_ns >> 6)) & U32  # seq_scale: a 64 ns clock

    def secure_tcp_ts_off(self, saddr: int, daddr: int) -> int:
        if self.ns.sysctl.v["net.ipv4.tcp_timestamps"] != 1:
            return 0
        return syncookies.keyed_hash32(self.ts_key, saddr, daddr)

    # ------------------------------------------------------------------ tables
    def new_socket(self) -> TcpSock:
        """tcp_init_sock for a socket() call."""
        tp = TcpSock(self.ns, self)
        cong.tcp_assign_congestion_control(tp, str(self.ns.sysctl.v["net.ipv4.tcp_congestion_control"]))
        return tp

    def hash_established(self, sk: Any) -> None:
        if isinstance(sk, TcpSock):
            key = (sk.inet_rcv_saddr, sk.inet_num, sk.inet_daddr, sk.inet_dport)
            self.sockets.add(sk)
        else:
            key = sk.key()
        self.ehash[key] = sk

    def unhash(self, tp: TcpSock) -> None:
        if tp.sk_state == TCP_LISTEN:
            lst = self.lhash.get(tp.inet_num)
            if lst and tp in lst:
                lst.remove(tp)
                if not lst:
                    del self.lhash[tp.inet_num]
            return
        key = (tp.inet_rcv_saddr, tp.inet_num, tp.inet_daddr, tp.inet_dport)
        if self.ehash.get(key) is tp:
            del self.ehash[key]

    def lookup_established(self, laddr: int, lport: int, raddr: int, rport: int) -> Any:
        return self.ehash.get((laddr, lport, raddr, rport))

    def lookup_listener(self, daddr: int, dport: int, dif: int) -> TcpSock | None:
        best = None
        best_score = -1
        for sk in self.lhash.get(dport, ()):
            if sk.inet_rcv_saddr and sk.inet_rcv_saddr != daddr:
                continue
            if sk.sk_bound_dev_if and sk.sk_bound_dev_if != dif:
                continue
            score = (2 if sk.sk_bound_dev_if else 1) + (2 if sk.inet_rcv_saddr else 0)
            if score > best_score:
                best, best_score = sk, score
        return best

    def all_sockets(self) -> Iterator[Any]:
        """Listeners, then the established table (requests and TIME_WAIT included)."""
        for lst in self.lhash.values():
            yield from lst
        yield from list(self.ehash.values())

    def sockstat(self) -> tuple[int, int, int, int, int]:
        """(inuse, orphan, tw, alloc, mem) for the TCP line of /proc/net/sockstat."""
        inuse = sum(len(lst) for lst in self.lhash.values())
        inuse += sum(1 for sk in self.ehash.values() if isinstance(sk, TcpSock))
        alloc = len(self.sockets)
        mem = sum(sk.sk_wmem_queued + sk.sk_rmem_alloc for sk in self.sockets)
        return inuse, self.orphan_count, self.tw_count, alloc, (mem + 4095) // 4096

    # ------------------------------------------------------------------ TIME_WAIT and requests
    def inet_twsk_hashdance(self, tw: TimewaitSock, sk: TcpSock) -> None:
        """The TIME_WAIT socket takes the full socket's places in the bind and established tables."""
        self.ehash[tw.key()] = tw
        port = sk.inet_num
        self.bhash.setdefault(port, []).append(tw)
        tw.linked = True
        self.tw_count += 1

    def inet_twsk_kill(self, tw: TimewaitSock) -> None:
        if not tw.linked:
            return
        tw.linked = False
        tw.tw_timer.stop()
        key = tw.key()
        if self.ehash.get(key) is tw:
            del self.ehash[key]
        self.inet_put_port(tw)
        self.tw_count -= 1

    def inet_twsk_deschedule_put(self, tw: TimewaitSock) -> None:
        self.inet_twsk_kill(tw)

    def reqsk_queue_drop(self, req: RequestSock, replaced: TcpSock | None = None) -> bool:
        """inet_csk_reqsk_queue_drop: unlink a request (True if it was still linked)."""
        if not req.linked:
            return False
        req.linked = False
        req.rsk_timer.stop()
        key = req.key()
        if self.ehash.get(key) is req:
            if replaced is not None:
                self.ehash[key] = replaced
            else:
                del self.ehash[key]
        lst = req.listener
        lst.syn_queue_len -= 1
        if req.num_timeout == 0:
            lst.syn_queue_young -= 1
        return True

    def inet_csk_destroy_sock(self, tp: TcpSock) -> None:
        """The last reference to an orphan went away."""
        tp.tcp_rtx_queue.clear()
        tp.tsorted_sent_queue.clear()
        tp.sk_write_queue.clear()
        tp.sk_receive_queue.clear()
        tp.out_of_order_queue.clear()
        tp.sk_timer.stop()
        cong.tcp_cleanup_congestion_control(tp)
        self.sockets.discard(tp)
        if tp.lingering:
            tp.lingering = False
            self.orphan_count -= 1

    def oow_rate_limited(self, cb: TcpCb, holder: Any, counter: str, attr: str = "last_oow_ack_time") -> bool:
        """tcp_oow_rate_limited for request and TIME_WAIT sockets."""
        if cb.seq != cb.end_seq and not cb.tcp_flags & TCPHDR_SYN:
            return False
        ns = self.ns
        last = getattr(holder, attr)
        now = ((ns.loop.now_ns // NSEC_PER_JIFFY) - 300_000) & U32
        if last:
            elapsed = (now - last) & U32
            if elapsed < 0x80000000 and elapsed < int(ns.sysctl.v["net.ipv4.tcp_invalid_ratelimit"]):  # type: ignore[call-overload]
                setattr(ns.mib.tcpext, counter, getattr(ns.mib.tcpext, counter) + 1)
                return True
        setattr(holder, attr, now or 1)
        return False

    # ------------------------------------------------------------------ replies without a full socket
    def tcp_v4_send_reset(self, sk: Any, cb: TcpCb) -> None:
        """An RST answering ``cb``: never to an RST; seq from its ACK, or ACK its sequence space."""
        ns = self.ns
        if cb.tcp_flags & TCPHDR_RST:
            return
        if cb.tcp_flags & TCPHDR_ACK:
            hdr = TcpHeader(cb.dport, cb.sport, cb.ack_seq, 0, TCPHDR_RST, 0)
        else:
            ack = (cb.seq + cb.payload_len + (1 if cb.tcp_flags & TCPHDR_SYN else 0)
                   + (1 if cb.tcp_flags & TCPHDR_FIN else 0)) & U32
            hdr = TcpHeader(cb.dport, cb.sport, 0, ack, TCPHDR_RST | TCPHDR_ACK, 0)
        oif = getattr(sk, "sk_bound_dev_if", 0) if sk is not None else 0
        mark = getattr(sk, "sk_mark", 0) or getattr(sk, "tw_mark", 0) if sk is not None else 0
        ns.mib.tcp.OutSegs += 1
        ns.mib.tcp.OutRsts += 1
        tcp_output.ip_send_tcp(ns, cb.daddr, cb.saddr, hdr, tos=cb.ip_dsfield, oif=oif, mark=mark)

    def tcp_v4_send_ack(self, cb: TcpCb, seq: int, ack: int, win: int, tsval: int, tsecr: int, oif: int,
                        tos: int, mark: int = 0) -> None:
        opts = (TcpOptNop(), TcpOptNop(), TcpOptTimestamp(tsval, tsecr)) if tsecr else ()
        hdr = TcpHeader(cb.dport, cb.sport, seq, ack, TCPHDR_ACK, win, 0, 0, opts)
        self.ns.mib.tcp.OutSegs += 1
        tcp_output.ip_send_tcp(self.ns, cb.daddr, cb.saddr, hdr, tos=tos, oif=oif, mark=mark)

    def tcp_v4_timewait_ack(self, tw: TimewaitSock, cb: TcpCb) -> None:
        tsval = (ts_ms(tcp_clock_ns(self.ns)) + tw.tw_ts_offset) & U32
        self.tcp_v4_send_ack(cb, tw.tw_snd_nxt, tw.tw_rcv_nxt, tw.tw_rcv_wnd >> tw.tw_rcv_wscale, tsval,
                             tw.tw_ts_recent, 0, tw.tw_tos, tw.tw_mark)

    def tcp_v4_reqsk_send_ack(self, sk: TcpSock, cb: TcpCb, req: RequestSock) -> None:
        seq = (req.snt_isn + 1) & U32 if sk.sk_state == TCP_LISTEN else sk.snd_nxt
        tsval = (ts_ms(tcp_clock_ns(self.ns)) + req.ts_off) & U32
        from tuxnet.ipv4.tcp.tcp_minisocks import tcp_synack_window

        self.tcp_v4_send_ack(cb, seq, req.rcv_nxt, tcp_synack_window(req) >> req.rcv_wscale, tsval,
                             req.ts_recent, 0, cb.ip_dsfield)

    def tcp_v4_send_synack(self, listener: TcpSock, req: RequestSock, cookie_ts: int | None = None,
                           foc: tcp_fastopen.FastopenCookie | None = None) -> int:
        """tcp_make_synack + ip_build_and_send_pkt (DF, IP ID 0)."""
        ns = self.ns
        try:
            rt = ns.route.output(req.ir_rmt_addr, req.ir_loc_addr, listener.tos, req.ir_iif, req.ir_mark)
        except OSError as e:
            return -(e.errno or errno.EHOSTUNREACH)
        now_ns = tcp_clock_ns(ns)
        mss = tcp_output.tcp_mss_clamp(listener, tcp_output.dst_metric_advmss(ns, rt))
        if cookie_ts is not None:
            ts_now = cookie_ts
        else:
            ts_now = ts_ms(now_ns)
            if not req.snt_synack:
                req.snt_synack = now_ns // 1000
        ts = None
        if req.tstamp_ok:
            tsval = (ts_now + req.ts_off) & U32
            if not req.snt_tsval_first:
                req.snt_tsval_first = tsval or U32
            req.snt_tsval_last = tsval
            ts = (tsval, req.ts_recent)
        from tuxnet.wire.tcp import linux_syn_options

        fo_opt = None
        if foc is not None and foc.len >= 0:
            # tcp_synack_options: the cookie goes in when it fits after MSS, TS/SACK and WSCALE
            used = 4 + (4 if req.wscale_ok else 0) + (12 if ts else 4 if req.sack_ok else 0)
            if tcp_fastopen.MAX_TCP_OPTION_SPACE - used >= foc.option_space():
                fo_opt = foc.option()
        opts = linux_syn_options(mss, bool(req.sack_ok), ts, req.rcv_wscale if req.wscale_ok else None,
                                 fo_opt)
        flags = TCPHDR_SYN | TCPHDR_ACK | (0x40 if req.ecn_ok else 0)
        hdr = TcpHeader(req.ir_num, req.ir_rmt_port, req.snt_isn, req.rcv_nxt, flags,
                        min(req.rsk_rcv_wnd, 65535), 0, 0, opts)
        ns.mib.tcp.OutSegs += 1
        return tcp_output.ip_send_tcp(ns, req.ir_loc_addr, req.ir_rmt_addr, hdr, rt=rt, tos=listener.tos,
                                      ttl=listener.ttl or None, mark=req.ir_mark, ip_id=0)

    def tcp_rtx_synack(self, req: RequestSock, child: TcpSock | None = None) -> int:
        ns = self.ns
        ns.mib.tcp.RetransSegs += 1
        ns.mib.tcpext.TCPSynRetrans += 1
        req.num_retrans += 1
        if child is not None:
            child.total_retrans += 1  # a passive Fast Open socket counts its SYN-ACK retransmits
        return self.tcp_v4_send_synack(req.listener, req)

    # ------------------------------------------------------------------ connection requests
    def tcp_conn_request(self, sk: TcpSock, skb: SkBuff, cb: TcpCb) -> None:
        """A SYN for a listener: a request sock and a SYN-ACK, or a SYN cookie, or a drop."""
        from tuxnet.ipv4.tcp import tcp_input

        ns = self.ns
        v = ns.sysctl.v
        ext = ns.mib.tcpext
        isn = cb.tcp_tw_isn
        syncookies_mode = int(v["net.ipv4.tcp_syncookies"])  # type: ignore[call-overload]
        want_cookie = False
        if (syncookies_mode == 2 or sk.syn_queue_len > sk.sk_max_ack_backlog) and not isn:
            if syncookies_mode:
                want_cookie = True
                ext.TCPReqQFullDoCookies += 1
            else:
                ext.TCPReqQFullDrop += 1
                return self._listendrop(sk, skb)
        if sk.sk_ack_backlog > sk.sk_max_ack_backlog:
            ext.ListenOverflows += 1
            return self._listendrop(sk, skb)
        rx = tcp_input.parse_options_into(self, cb, mss_clamp=536, user_mss=sk.rx_opt.user_mss)
        if rx is None:
            from tuxnet.ipv4.tcp.tcp_sock import RxOpt

            rx = RxOpt()
            rx.mss_clamp = 536
        if want_cookie and not rx.saw_tstamp:
            rx.clear()
        req = RequestSock(sk, self)
        req.syncookie = want_cookie
        req.rcv_isn = cb.seq
        req.rcv_nxt = (cb.seq + 1) & U32
        req.mss = rx.mss_clamp
        req.ts_recent = rx.rcv_tsval if rx.saw_tstamp else 0
        req.tstamp_ok = rx.saw_tstamp
        req.sack_ok = rx.sack_ok
        req.snd_wscale = rx.snd_wscale
        req.wscale_ok = rx.wscale_ok
        req.ir_rmt_port = cb.sport
        req.ir_num = cb.dport
        req.ir_loc_addr = cb.daddr
        req.ir_rmt_addr = cb.saddr
        req.ir_iif = sk.sk_bound_dev_if
        req.ir_mark = sk.sk_mark
        req.syn_tos = cb.ip_dsfield
        # tcp_conn_request -> tcp_ecn_create_request; a syncookie keeps ECN only with timestamps
        req.ecn_ok = tcp_ecn.tcp_ecn_create_request(sk, cb.ip_dsfield, cb.tcp_flags)
        if want_cookie and not rx.saw_tstamp:
            req.ecn_ok = False
        try:
            rt = ns.route.output(req.ir_rmt_addr, req.ir_loc_addr, sk.tos, req.ir_iif, req.ir_mark)
        except OSError:
            return self._listendrop(sk, skb)
        if req.tstamp_ok:
            req.ts_off = self.secure_tcp_ts_off(cb.daddr, cb.saddr)
        if not want_cookie and not isn:
            max_syn_backlog = int(v["net.ipv4.tcp_max_syn_backlog"])  # type: ignore[call-overload]
            if not syncookies_mode and max_syn_backlog - sk.syn_queue_len < (max_syn_backlog >> 2):
                # without cookies the last quarter of the backlog is for proven peers: none here
                return self._listendrop(sk, skb)
            isn = self.secure_tcp_seq(cb.daddr, cb.saddr, cb.dport, cb.sport)
        cookie_ts = None
        if want_cookie:
            isn, req.mss = syncookies.cookie_v4_init_sequence(ns, self.cookie_key, cb, req.mss)
            ext.SyncookiesSent += 1
            if req.tstamp_ok:
                cookie_ts = syncookies.cookie_init_timestamp(ts_ms(tcp_clock_ns(ns)), req.wscale_ok,
                                                             req.snd_wscale, bool(req.sack_ok), False)
        req.snt_isn = isn
        tcp_openreq_init_rwin(req, sk, rt)
        foc = tcp_fastopen.FastopenCookie()
        if not want_cookie:
            foc = tcp_fastopen.parse_fastopen_option(cb)
            fastopen_sk = tcp_fastopen.tcp_try_fastopen(sk, skb, cb, req, foc, rt)
            if fastopen_sk is not None:
                # the child goes straight into the accept queue, its SYN data already queued
                self.tcp_v4_send_synack(sk, req, None, foc)
                sk.icsk_accept_queue.append(fastopen_sk)
                sk.sk_ack_backlog += 1
                sk.sk_data_ready()
                ns.consume_skb(skb)
                return None
        if not want_cookie:
            req.timeout = TCP_TIMEOUT_INIT
            # inet_csk_reqsk_queue_hash_add
            req.linked = True
            self.ehash[req.key()] = req
            sk.syn_queue_len += 1
            sk.syn_queue_young += 1
            req.rsk_timer.reset(ns.loop.now_ns + req.timeout * NSEC_PER_JIFFY)
        self.tcp_v4_send_synack(sk, req, cookie_ts, foc)
        ns.consume_skb(skb)
        return None

    def _listendrop(self, sk: TcpSock, skb: SkBuff) -> None:
        self.ns.mib.tcpext.ListenDrops += 1
        self.ns.kfree_skb(skb, SkbDropReason.TCP_LISTEN_OVERFLOW)

    def tcp_v4_syn_recv_sock(self, sk: TcpSock, cb: TcpCb, req: RequestSock) -> TcpSock | None:
        """The child socket for a completed handshake (None: accept queue full)."""
        ns = self.ns
        if sk.sk_ack_backlog > sk.sk_max_ack_backlog:
            ns.mib.tcpext.ListenOverflows += 1
            ns.mib.tcpext.ListenDrops += 1
            return None
        newtp = tcp_create_openreq_child(self, sk, req, cb)
        newtp.inet_daddr = req.ir_rmt_addr
        newtp.inet_dport = req.ir_rmt_port
        newtp.inet_rcv_saddr = newtp.inet_saddr = req.ir_loc_addr
        newtp.inet_num = newtp.inet_sport = req.ir_num
        newtp.sk_bound_dev_if = req.ir_iif
        newtp.inet_id = ns.rng.getrandbits(16)
        newtp.req = req
        rt = tcp_output.sk_dst_get(newtp)
        if rt is None:
            ns.mib.tcpext.ListenDrops += 1
            return None
        tcp_output.tcp_sync_mss(newtp, tcp_output.dst_mtu(rt))
        newtp.advmss = tcp_output.tcp_mss_clamp(sk, tcp_output.dst_metric_advmss(ns, rt))
        tcp_ctl.tcp_initialize_rcv_mss(newtp)
        # __inet_inherit_port + inet_ehash_nolisten
        self.bhash.setdefault(newtp.inet_num, []).append(newtp)
        self.sockets.add(newtp)
        newtp.listener = sk
        return newtp

    def cookie_v4_check(self, sk: TcpSock, skb: SkBuff, cb: TcpCb) -> TcpSock | None:
        """A bare ACK to a listener: is it the answer to one of our SYN cookies?"""
        from tuxnet.ipv4.tcp import tcp_input

        ns = self.ns
        ext = ns.mib.tcpext
        if not ns.sysctl.v["net.ipv4.tcp_syncookies"] or cb.tcp_flags & (TCPHDR_RST | TCPHDR_SYN):
            return sk
        if not cb.tcp_flags & TCPHDR_ACK:
            return sk
        mss = syncookies.cookie_v4_check_mss(ns, self.cookie_key, cb)
        if not mss:
            ext.SyncookiesFailed += 1
            return sk
        ext.SyncookiesRecv += 1
        rx = tcp_input.parse_options_into(self, cb) or None
        req = RequestSock(sk, self)
        req.syncookie = True
        req.rcv_isn = (cb.seq - 1) & U32
        req.rcv_nxt = cb.seq
        req.snt_isn = (cb.ack_seq - 1) & U32
        req.mss = mss
        req.ir_rmt_port = cb.sport
        req.ir_num = cb.dport
        req.ir_loc_addr = cb.daddr
        req.ir_rmt_addr = cb.saddr
        req.ir_iif = sk.sk_bound_dev_if
        if rx is not None and rx.saw_tstamp:
            tsoff = self.secure_tcp_ts_off(cb.daddr, cb.saddr)
            tsecr = (rx.rcv_tsecr - tsoff) & U32
            dec = syncookies.cookie_timestamp_decode(ns, tsecr)
            if dec is None:
                return None
            _, req.sack_ok, req.wscale_ok, req.snd_wscale = dec
            req.tstamp_ok = True
            req.ts_recent = rx.rcv_tsval
            req.ts_off = tsoff
        try:
            rt = ns.route.output(req.ir_rmt_addr, req.ir_loc_addr, sk.tos, req.ir_iif, sk.sk_mark)
        except OSError:
            return None
        tcp_openreq_init_rwin(req, sk, rt)
        child = self.tcp_v4_syn_recv_sock(sk, cb, req)
        if child is None:
            return None
        self.hash_established(child)
        sk.icsk_accept_queue.append(child)
        sk.sk_ack_backlog += 1
        return child

    # ------------------------------------------------------------------ receive
    def tcp_v4_rcv(self, skb: SkBuff) -> int:
        """The IPv4 protocol handler: skb.data at the TCP header, network_header at the IP header."""
        from tuxnet.ipv4.tcp import tcp_input, tcp_minisocks

        ns = self.ns
        mib = ns.mib.tcp
        if skb.pkt_type != PacketType.HOST:
            ns.kfree_skb(skb, SkbDropReason.OTHERHOST)
            return 0
        mib.InSegs += 1
        buf = skb.buf
        nh = skb.network_header
        try:
            hdr = TcpHeader.parse(buf, skb.data, skb.tail)
        except WireError:
            if skb.len >= 20:
                mib.InErrs += 1  # doff < 5 or beyond the data: bad_packet
            ns.kfree_skb(skb, SkbDropReason.PKT_TOO_SMALL)
            return 0
        saddr = int.from_bytes(buf[nh + 12:nh + 16], "big")
        daddr = int.from_bytes(buf[nh + 16:nh + 20], "big")
        if skb.ip_summed == Csum.NONE and not tcp_checksum_ok(saddr, daddr, buf[skb.data:skb.tail]):
            mib.InCsumErrors += 1
            mib.InErrs += 1
            ns.kfree_skb(skb, SkbDropReason.TCP_CSUM)
            return 0
        cb = TcpCb()
        cb.hdr = hdr
        cb.saddr = saddr
        cb.daddr = daddr
        cb.sport = hdr.sport
        cb.dport = hdr.dport
        cb.seq = hdr.seq
        cb.ack_seq = hdr.ack
        flags = int(hdr.flags)
        cb.tcp_flags = flags
        cb.window = hdr.window
        cb.urg_ptr = hdr.urg_ptr
        cb.doff = hdr.doff
        cb.ip_dsfield = buf[nh + 1]
        cb.ttl = buf[nh + 8]
        cb.gso_size = skb.gso_size
        hlen = hdr.doff * 4
        cb.payload_off = skb.data + hlen
        cb.payload_len = skb.len - hlen
        cb.end_seq = (hdr.seq + cb.payload_len + (1 if flags & TCPHDR_SYN else 0)
                      + (1 if flags & TCPHDR_FIN else 0)) & U32
        dif = skb.dev.ifindex if skb.dev is not None else 0
        sk: Any = self.ehash.get((daddr, hdr.dport, saddr, hdr.sport))
        while True:
            if sk is None:
                sk = self.lookup_listener(daddr, hdr.dport, dif)
            if sk is None:
                self.tcp_v4_send_reset(None, cb)
                ns.kfree_skb(skb, SkbDropReason.NO_SOCKET)
                return 0
            st = sk.sk_state
            if st == TCP_TIME_WAIT:
                res = tcp_timewait_state_process(self, sk, skb, cb)
                if res == TCP_TW_SYN:
                    sk2 = self.lookup_listener(daddr, hdr.dport, dif)
                    if sk2 is not None:
                        self.inet_twsk_deschedule_put(sk)
                        sk = sk2
                        continue
                    res = TCP_TW_ACK
                if res == TCP_TW_ACK:
                    self.tcp_v4_timewait_ack(sk, cb)
                elif res == TCP_TW_RST:
                    self.tcp_v4_send_reset(sk, cb)
                    self.inet_twsk_deschedule_put(sk)
                ns.consume_skb(skb)
                return 0
            if st == TCP_NEW_SYN_RECV:
                req = sk
                lsk = req.listener
                if lsk.sk_state != TCP_LISTEN:
                    self.reqsk_queue_drop(req)
                    sk = None
                    continue
                nsk = tcp_check_req(self, lsk, skb, cb, req)
                if nsk is None:
                    return 0
                if nsk is lsk:
                    sk = lsk  # the listener answers (an RST for a bad ACK)
                else:
                    self._child_process(lsk, nsk, skb, cb)
                    return 0
            break
        if sk.sk_state == TCP_LISTEN:
            return self.tcp_v4_do_rcv(sk, skb, cb)
        sk.segs_in += 1
        if cb.payload_len:
            sk.data_segs_in += 1
        self.tcp_v4_do_rcv(sk, skb, cb)
        del tcp_input, tcp_minisocks
        return 0

    def _child_process(self, parent: TcpSock, child: TcpSock, skb: SkBuff, cb: TcpCb) -> None:
        from tuxnet.ipv4.tcp import tcp_input

        state = child.sk_state
        child.segs_in += 1
        if cb.payload_len:
            child.data_segs_in += 1
        if tcp_input.tcp_rcv_state_process(child, skb, cb):
            self.tcp_v4_send_reset(child, cb)
            self.ns.kfree_skb(skb, SkbDropReason.TCP_FLAGS)
        if state == TCP_SYN_RECV and child.sk_state != state:
            parent.sk_data_ready()

    def tcp_v4_do_rcv(self, sk: TcpSock, skb: SkBuff, cb: TcpCb) -> int:
        from tuxnet.ipv4.tcp import tcp_input

        if sk.sk_state == TCP_ESTABLISHED:
            tcp_input.tcp_rcv_established(sk, skb, cb)
            return 0
        if sk.sk_state == TCP_LISTEN and not cb.tcp_flags & TCPHDR_SYN:
            nsk = self.cookie_v4_check(sk, skb, cb)
            if nsk is None:
                self.ns.kfree_skb(skb, SkbDropReason.NO_SOCKET)
                return 0
            if nsk is not sk:
                self._child_process(sk, nsk, skb, cb)
                return 0
        if tcp_input.tcp_rcv_state_process(sk, skb, cb):
            self.tcp_v4_send_reset(sk, cb)
            self.ns.kfree_skb(skb, SkbDropReason.TCP_FLAGS)
        return 0

    # ------------------------------------------------------------------ ICMP
    def tcp_v4_err(self, skb: SkBuff, icmp_type: int, code: int, info: int) -> None:
        """An ICMP error quoting one of our segments (skb.data at the quoted IP header)."""
        from tuxnet.ipv4.tcp import tcp_input, tcp_recovery

        ns = self.ns
        buf = skb.buf
        d = skb.data
        if skb.tail - d < 28:
            return
        ihl = (buf[d] & 15) * 4
        if skb.tail - d < ihl + 8:
            return
        saddr = int.from_bytes(buf[d + 12:d + 16], "big")
        daddr = int.from_bytes(buf[d + 16:d + 20], "big")
        th = d + ihl
        sport = (buf[th] << 8) | buf[th + 1]
        dport = (buf[th + 2] << 8) | buf[th + 3]
        seq = int.from_bytes(buf[th + 4:th + 8], "big")
        sk = self.ehash.get((saddr, sport, daddr, dport))
        if sk is None:
            ns.mib.icmp.InErrors += 1
            return
        if sk.sk_state == TCP_TIME_WAIT:
            return
        if sk.sk_state == TCP_NEW_SYN_RECV:
            req = sk
            abort = (icmp_type in (ICMP_PARAMETERPROB, ICMP_TIME_EXCEEDED)
                     or (icmp_type == ICMP_DEST_UNREACH and code in (0, 1)))
            if seq != req.snt_isn:
                ns.mib.tcpext.OutOfWindowIcmps += 1
            elif abort:
                # tcp_req_err: the peer is unreachable, drop the request
                self.reqsk_queue_drop(req)
                ns.mib.tcp.AttemptFails += 1
            return
        tp: TcpSock = sk
        if tp.sk_state == TCP_CLOSE:
            return
        # a Fast Open child's SYN-ACK is not in its queue: its window starts at the ISN
        snd_una = tp.fastopen_rsk.snt_isn if tp.fastopen_rsk is not None else tp.snd_una
        if tp.sk_state != TCP_LISTEN and not seq_between(seq, snd_una, tp.snd_nxt):
            ns.mib.tcpext.OutOfWindowIcmps += 1
            return
        if icmp_type == ICMP_PARAMETERPROB:
            err = errno.EPROTO
        elif icmp_type == ICMP_DEST_UNREACH:
            if code > NR_ICMP_UNREACH:
                return
            if code == ICMP_FRAG_NEEDED:
                if tp.sk_state != TCP_LISTEN:
                    self.tcp_v4_mtu_reduced(tp, info)
                return
            err = ICMP_ERR_CONVERT[code]
        elif icmp_type == ICMP_TIME_EXCEEDED:
            err = errno.EHOSTUNREACH
        else:
            return  # redirects are the route's business, source quench is ignored
        if tp.sk_state in (TCP_SYN_SENT, TCP_SYN_RECV) and not (
                tp.fastopen_rsk is not None and tp.sk_socket is not None):
            # a connection attempt fails at once (a Fast Open child too, until accept() took it)
            tp.sk_err = err
            tcp_input.tcp_write_queue_purge(tp)
            tcp_input.tcp_done(tp)
            tp.sk_error_report()
            return
        if tp.recverr:
            tp.sk_err = err
            tp.sk_error_report()
        else:
            tp.sk_err_soft = err  # only reported on timeout (RFC 1122 4.2.3.9)
        del tcp_recovery

    def tcp_v4_mtu_reduced(self, tp: TcpSock, mtu: int) -> None:
        """PMTU discovery (RFC 1191): learn the MTU, shrink the MSS, retransmit what no longer fits."""
        from tuxnet.ipv4.tcp import tcp_recovery

        if (1 << tp.sk_state) & tcpf(TCP_LISTEN, TCP_CLOSE):
            return
        ns = self.ns
        try:
            ns.route.update_pmtu(tp.inet_daddr, mtu, saddr=tp.inet_saddr, oif=tp.sk_bound_dev_if,
                                 mark=tp.sk_mark, tos=tp.tos)
        except (OSError, AttributeError):
            pass
        tp.sk_dst = None
        rt = tcp_output.sk_dst_get(tp)
        if rt is None:
            return
        dmtu = tcp_output.dst_mtu(rt)
        if mtu < dmtu:
            tp.sk_err_soft = errno.EMSGSIZE
        if tp.pmtudisc != tcp_output.IP_PMTUDISC_DONT and tp.icsk_pmtu_cookie > dmtu:
            tcp_output.tcp_sync_mss(tp, dmtu)
            # the old segment was dropped: the "fast" path MTU discovery resends at once
            tcp_recovery.tcp_simple_retransmit(tp)


def init_tcp(ns: Namespace) -> TcpNet:
    return TcpNet(ns)


# inet_stream_ops registers SOCK_STREAM in the protocol switch; /proc/net/tcp its renderer
from tuxnet.ipv4.tcp import proc as _proc  # noqa: E402, F401
from tuxnet.ipv4.tcp import tcp_ops as _tcp_ops  # noqa: E402, F401
