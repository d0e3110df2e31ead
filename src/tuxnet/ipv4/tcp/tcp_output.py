"""TCP output: segments on the wire, window selection, MSS, the send engine (net/ipv4/tcp_output.c).

Guarantees, as Linux 6.x:
- ``tcp_transmit_skb`` builds the header with options in tcp_options_write()'s layout (SYN/SYN-ACK:
  MSS, SACK_PERM+TS or NOP NOP TS, NOP WSCALE; established: NOP NOP TS then NOP NOP SACK with up to 3
  blocks beside timestamps, 4 without, D-SACK first and sent once), TSval from the segment's
  departure time plus the connection's offset, the window from ``tcp_select_window`` (never
  shrinking the offered right edge, scaled, SYN windows unscaled), a checksum always computed, DF
  set; OutSegs counts new data and control segments only (retransmissions count in RetransSegs).
- The receive window: ``tcp_select_initial_window`` (window scale from max(tcp_rmem[2], rmem_max),
  initial window a multiple of the MSS below 64 KiB) and ``__tcp_select_window`` (free space capped
  by rcv_ssthresh, aligned up to the scale granule, zero below 1/16 of the buffer or one MSS).
- MSS: ``tcp_mtu_to_mss`` = PMTU - 40 - options, clamped by the peer's MSS and tcp_min_snd_mss,
  bounded by half the largest window seen (tcp_bound_to_half_wnd); ``tcp_current_mss`` resyncs when
  the route's MTU changes and subtracts SACK blocks in use.
- ``tcp_write_xmit``: pacing (EDT: each data segment's departure advances ``tcp_wstamp_ns`` by
  payload/sk_pacing_rate, as tcp_update_skb_after_send: the first 10 unpaced, at most half a slot
  of lateness credited; the pacing timer resumes), cwnd test (a lone FIN ignores cwnd), receive
  window test, Nagle with Minshall's variant (TCP_NODELAY, TCP_CORK), then the loss probe timer and
  cwnd validation (RFC 7661 as tcp_cwnd_validate). Zero windows arm the persist timer;
  ``tcp_write_wakeup`` sends what fits or a zero-window probe (seq snd_una - 1).
- Write-queue skbs hold up to ``tcp_xmit_size_goal`` (half the peer's largest window, at most
  64 KB) as a TSO device's socket would; ``tcp_write_xmit`` sends them as Linux's TSO packets
  (size from cwnd/2, tcp_tso_segs, the window and Nagle; tso_fragment; TSO deferral), each cut into
  MSS segments as GSO does: PSH on the last segment of every multi-segment packet and of a packet
  that ends a pushed skb (the tail of a write, MSG_EOR, forced_push), never elsewhere. See
  tcp_offload for the model and why the retransmit queue keeps MSS skbs.
- ``tcp_retransmit_skb`` marks TCPCB_SACKED_RETRANS/EVER_RETRANS, counts RetransSegs,
  TCPRetransFail, TCPSynRetrans; ``tcp_xmit_retransmit_queue`` sends lost segments within cwnd.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.core.errors import errno
from tuxnet.ipv4.tcp import cong, tcp_chrono, tcp_ecn, tcp_offload
from tuxnet.ipv4.tcp.rate import tcp_rate_skb_sent
from tuxnet.ipv4.tcp.tcp_sock import (
    ICSK_ACK_NOMEM,
    ICSK_ACK_TIMER,
    ICSK_TIME_DACK,
    ICSK_TIME_LOSS_PROBE,
    ICSK_TIME_PROBE0,
    ICSK_TIME_REO_TIMEOUT,
    ICSK_TIME_RETRANS,
    MAX_TCP_HEADER,
    MAX_TCP_WINDOW,
    NSEC_PER_JIFFY,
    NSEC_PER_SEC,
    TCP_ATO_MIN,
    TCP_CLOCK_BASE_NS,
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_ESTABLISHED,
    TCP_MAX_WSCALE,
    TCP_MSS_DEFAULT,
    TCP_NAGLE_CORK,
    TCP_NAGLE_PUSH,
    TCP_RTO_MAX,
    TCPCB_LOST,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
    TCPHDR_ACK,
    TCPHDR_FIN,
    TCPHDR_PSH,
    TCPHDR_SYN,
    TCPHDR_URG,
    TCPOLEN_SACK_BASE_ALIGNED,
    TCPOLEN_SACK_PERBLOCK,
    TCPOLEN_TSTAMP_ALIGNED,
    U32,
    TcpSkb,
    skb_truesize,
    ts_ms,
)
from tuxnet.skb import SkBuff
from tuxnet.sock.msg_zerocopy import skb_zerocopy_clone
from tuxnet.sock.timestamping import tcp_fragment_tstamp
from tuxnet.wire.seqnum import seq_after, seq_before
from tuxnet.wire.tcp import TcpHeader, linux_data_options, linux_syn_options

if TYPE_CHECKING:
    from tuxnet.ipv4.tcp.tcp_sock import TcpSock
    from tuxnet.netns import Namespace

IPPROTO_TCP = 6
IP_PMTUDISC_DONT = 0
TCP_SKB_OVERHEAD = skb_truesize(MAX_TCP_HEADER)
IPV4_MAX_PMTU = 65535


# ---------------------------------------------------------------------------------------- the wire
def ip_send_tcp(ns: Namespace, saddr: int, daddr: int, hdr: TcpHeader, payload: bytes | memoryview = b"",
                *, sk: object = None, rt: object = None, tos: int = 0, ttl: int | None = None,
                mark: int = 0, oif: int = 0, df: bool = True, ip_id: int | None = None,
                shinfo: object = None) -> int:
    """Build the TCP segment (checksum computed) and hand it to IP; 0 or a negative errno.
    ``shinfo``: (the queued segment whose timestamp request / zerocopy uarg the packet carries, its
    socket)."""
    hlen = hdr.hlen
    skb = SkBuff.alloc(hlen + len(payload))
    skb.shinfo = shinfo
    off = skb.put(hlen)
    hdr.pack_into(skb.buf, off, saddr, daddr, payload)
    if payload:
        skb.put_data(payload)
    skb.transport_header = off
    try:
        return ns.ip.send(skb, saddr, daddr, IPPROTO_TCP, rt=rt, tos=tos, ttl=ttl, df=df, mark=mark,
                          oif=oif, sk=sk, ip_id=ip_id)
    except OSError as e:
        return -(e.errno or errno.EHOSTUNREACH)


def sk_dst_get(tp: TcpSock) -> object | None:
    """__sk_dst_check: the socket's cached route, looked up again after a routing change."""
    ns = tp.ns
    rt = tp.sk_dst
    gen = ns.fib.genid
    if rt is None or tp.sk_dst_gen != gen:
        try:
            rt = ns.route.output(tp.inet_daddr, tp.inet_saddr, tp.tos, tp.sk_bound_dev_if, tp.sk_mark)
        except OSError:
            tp.sk_dst = None
            return None
        tp.sk_dst = rt
        tp.sk_dst_gen = gen
    return rt


def dst_mtu(rt: object) -> int:
    return rt.mtu  # type: ignore[attr-defined, no-any-return]


def dst_metric_advmss(ns: Namespace, rt: object) -> int:
    """ipv4_default_advmss unless the route has an advmss metric."""
    m = getattr(rt, "metrics", {}).get("advmss", 0)
    if m:
        return int(m)
    min_adv = int(ns.sysctl.v["net.ipv4.route.min_adv_mss"])  # type: ignore[call-overload]
    return min(max(dst_mtu(rt) - 40, min_adv), IPV4_MAX_PMTU - 40)


def tcp_mss_clamp(tp: TcpSock, mss: int) -> int:
    user = tp.rx_opt.user_mss
    return user if user and user < mss else mss


# ---------------------------------------------------------------------------------------- MSS
def __tcp_mtu_to_mss(tp: TcpSock, pmtu: int) -> int:
    mss = pmtu - 20 - 20
    if mss > tp.rx_opt.mss_clamp:
        mss = tp.rx_opt.mss_clamp
    mss -= tp.icsk_ext_hdr_len
    return max(mss, int(tp.ns.sysctl.v["net.ipv4.tcp_min_snd_mss"]))  # type: ignore[call-overload]


def tcp_mtu_to_mss(tp: TcpSock, pmtu: int) -> int:
    """MSS for ``pmtu``, minus the options every segment carries (not SACKs)."""
    return __tcp_mtu_to_mss(tp, pmtu) - (tp.tcp_header_len - 20)


def tcp_mss_to_mtu(tp: TcpSock, mss: int) -> int:
    return mss + tp.tcp_header_len + tp.icsk_ext_hdr_len + 20


def tcp_bound_to_half_wnd(tp: TcpSock, pktsize: int) -> int:
    """RFC 1122 4.2.2.3 sender SWS: never send segments above half the largest window seen."""
    cutoff = tp.max_window >> 1 if tp.max_window > TCP_MSS_DEFAULT else tp.max_window
    if cutoff and pktsize > cutoff:
        return max(cutoff, 68 - tp.tcp_header_len)
    return pktsize


GSO_MAX_SIZE = 65536


def tcp_xmit_size_goal(tp: TcpSock, mss_now: int) -> int:
    """How much sendmsg puts in one write-queue skb: half the peer's largest window, up to the
    64 KB a TSO device takes, in whole MSS.  tcp_write_xmit cuts the skb into MSS segments on the
    wire (the device's segmentation, done in the stack here)."""
    new_size_goal = tcp_bound_to_half_wnd(tp, GSO_MAX_SIZE)
    gso_segs = min(new_size_goal // mss_now, tcp_offload.sk_gso_max_segs(tp))  # tp->gso_segs
    return max(gso_segs * mss_now, mss_now)


def tcp_sync_mss(tp: TcpSock, pmtu: int) -> int:
    mss_now = tcp_bound_to_half_wnd(tp, tcp_mtu_to_mss(tp, pmtu))
    tp.icsk_pmtu_cookie = pmtu
    tp.mss_cache = mss_now
    return mss_now


def tcp_current_mss(tp: TcpSock) -> int:
    mss_now = tp.mss_cache
    rt = sk_dst_get(tp) if tp.inet_daddr else None
    if rt is not None:
        mtu = dst_mtu(rt)
        if mtu != tp.icsk_pmtu_cookie:
            mss_now = tcp_sync_mss(tp, mtu)
    header_len = 20 + tcp_established_options_size(tp)
    if header_len != tp.tcp_header_len:
        mss_now -= header_len - tp.tcp_header_len
    return mss_now


# ---------------------------------------------------------------------------------------- windows
def tcp_select_initial_window(tp: TcpSock, space: int, mss: int, window_clamp: int, wscale_ok: bool,
                              init_rcv_wnd: int = 0) -> tuple[int, int, int]:
    """Returns (rcv_wnd, window_clamp, rcv_wscale)."""
    v = tp.ns.sysctl.v
    space = max(space, 0)
    if window_clamp == 0:
        window_clamp = 65535 << TCP_MAX_WSCALE
    space = min(window_clamp, space)
    if space > mss:
        space = space // mss * mss
    if v["net.ipv4.tcp_workaround_signed_windows"]:
        rcv_wnd = min(space, MAX_TCP_WINDOW)
    else:
        rcv_wnd = min(space, 65535)
    if init_rcv_wnd:
        rcv_wnd = min(rcv_wnd, init_rcv_wnd * mss)
    rcv_wscale = 0
    if wscale_ok:
        # window scale is chosen for the largest window the buffer may ever grow to
        space = max(space, int(v["net.ipv4.tcp_rmem"][2]))  # type: ignore[index]
        space = max(space, int(v["net.core.rmem_max"]))  # type: ignore[call-overload]
        space = min(space, window_clamp)
        rcv_wscale = min(max(space.bit_length() - 1 - 15, 0), TCP_MAX_WSCALE)
    window_clamp = min(65535 << rcv_wscale, window_clamp)
    return rcv_wnd, window_clamp, rcv_wscale


def __tcp_select_window(tp: TcpSock) -> int:
    mss = tp.icsk_ack.rcv_mss
    free_space = tp.tcp_space()
    allowed_space = tp.tcp_full_space()
    full_space = min(tp.window_clamp, allowed_space)
    wscale = tp.rx_opt.rcv_wscale
    if mss > full_space:
        mss = full_space
        if mss <= 0:
            return 0
    if tp.ns.sysctl.v["net.ipv4.tcp_shrink_window"] and wscale:
        # tcp_shrink_window=1: the window follows free space down (only with scaling)
        free_space = (free_space >> wscale) << wscale
        if free_space < (allowed_space >> 4) or free_space < mss:
            return 0
        return min(free_space, tp.rcv_ssthresh)
    if free_space < (full_space >> 1):
        tp.icsk_ack.quick = 0
        free_space = (free_space >> wscale) << wscale
        if free_space < (allowed_space >> 4) or free_space < mss:
            return 0
    if free_space > tp.rcv_ssthresh:
        free_space = tp.rcv_ssthresh
    if wscale:
        # advertise enough space so that it is not scaled away
        g = 1 << wscale
        window = (free_space + g - 1) & ~(g - 1)
    else:
        window = tp.rcv_wnd
        if window <= free_space - mss or window > free_space:
            window = free_space // mss * mss if mss > 0 else free_space
        elif mss == full_space and free_space > window + (full_space >> 1):
            window = free_space
    return window


def tcp_select_window(tp: TcpSock) -> int:
    """The window field for an outgoing segment; updates rcv_wnd/rcv_wup (never shrinks the edge)."""
    ns = tp.ns
    old_win = tp.rcv_wnd
    if tp.icsk_ack.pending & ICSK_ACK_NOMEM:
        # we failed to queue data for lack of memory: a zero window
        tp.pred_flags = False
        tp.rcv_wnd = 0
        tp.rcv_wup = tp.rcv_nxt
        return 0
    wscale = tp.rx_opt.rcv_wscale
    cur_win = tp.tcp_receive_window()
    new_win = __tcp_select_window(tp)
    if new_win < cur_win and (not ns.sysctl.v["net.ipv4.tcp_shrink_window"] or not wscale):
        if new_win == 0:
            ns.mib.tcpext.TCPWantZeroWindowAdv += 1
        g = 1 << wscale
        new_win = (cur_win + g - 1) & ~(g - 1)
    tp.rcv_wnd = new_win
    tp.rcv_wup = tp.rcv_nxt
    if not wscale and ns.sysctl.v["net.ipv4.tcp_workaround_signed_windows"]:
        new_win = min(new_win, MAX_TCP_WINDOW)
    else:
        new_win = min(new_win, 65535 << wscale)
    new_win >>= wscale
    if new_win == 0:
        tp.pred_flags = False  # a zero window: the slow path checks every segment
        if old_win:
            ns.mib.tcpext.TCPToZeroWindowAdv += 1
    elif old_win == 0:
        ns.mib.tcpext.TCPFromZeroWindowAdv += 1
    return new_win


# ---------------------------------------------------------------------------------------- options
def tcp_established_options_size(tp: TcpSock) -> int:
    size = TCPOLEN_TSTAMP_ALIGNED if tp.rx_opt.tstamp_ok else 0
    eff = tp.rx_opt.num_sacks + (1 if tp.rx_opt.dsack else 0)
    if eff:
        remaining = 40 - size
        n = min(eff, (remaining - TCPOLEN_SACK_BASE_ALIGNED) // TCPOLEN_SACK_PERBLOCK)
        size += TCPOLEN_SACK_BASE_ALIGNED + n * TCPOLEN_SACK_PERBLOCK
    return size


def tcp_established_options(tp: TcpSock, skb_mstamp_ns: int) -> tuple:
    """The options of a non-SYN segment: timestamps, then D-SACK and SACK blocks as they fit."""
    rx = tp.rx_opt
    ts = None
    size = 0
    if rx.tstamp_ok:
        ts = ((ts_ms(skb_mstamp_ns) + tp.tsoffset) & U32, rx.ts_recent)
        size = TCPOLEN_TSTAMP_ALIGNED
    blocks: list[tuple[int, int]] = []
    eff = rx.num_sacks + (1 if rx.dsack else 0)
    if eff:
        n = min(eff, (40 - size - TCPOLEN_SACK_BASE_ALIGNED) // TCPOLEN_SACK_PERBLOCK)
        if rx.dsack:
            blocks.append((tp.duplicate_sack[0], tp.duplicate_sack[1]))
        for sp in tp.selective_acks[:rx.num_sacks]:
            blocks.append((sp[0], sp[1]))
        blocks = blocks[:n]
        # tcp_options_write: a D-SACK is reported once
        rx.dsack = False
    return linux_data_options(ts, blocks)


def tcp_syn_options(tp: TcpSock, skb_mstamp_ns: int) -> tuple:
    v = tp.ns.sysctl.v
    mss = tcp_advertise_mss(tp)
    ts = None
    if v["net.ipv4.tcp_timestamps"]:
        ts = ((ts_ms(skb_mstamp_ns) + tp.tsoffset) & U32, tp.rx_opt.ts_recent)
    ws = tp.rx_opt.rcv_wscale if v["net.ipv4.tcp_window_scaling"] else None
    sack = bool(v["net.ipv4.tcp_sack"])
    fo = None
    if tp.fastopen_req is not None:
        from tuxnet.ipv4.tcp.tcp_fastopen import tcp_syn_fastopen_option

        remaining = 40 - 4 - (12 if ts else 4 if sack else 0) - (4 if ws is not None else 0)
        fo = tcp_syn_fastopen_option(tp, remaining)
    return linux_syn_options(mss, sack, ts, ws, fo)


def tcp_advertise_mss(tp: TcpSock) -> int:
    mss = tp.advmss
    rt = sk_dst_get(tp)
    if rt is not None:
        metric = dst_metric_advmss(tp.ns, rt)
        if metric < mss:
            mss = metric
            tp.advmss = mss
    return mss


# ---------------------------------------------------------------------------------------- transmit
def tcp_urg_mode(tp: TcpSock) -> bool:
    return tp.snd_una != tp.snd_up


def tcp_transmit_skb(tp: TcpSock, skb: TcpSkb, clone_it: bool = True, rcv_nxt: int | None = None,
                     tso_len: int = 0) -> int:
    """__tcp_transmit_skb: send one segment of the queue (or a control segment); 0 or -errno.
    ``tso_len``: the payload of the whole TSO packet this segment starts (its pacing step), -1 for
    a later segment of one (no pacing step of its own), 0 for a lone segment."""
    ns = tp.ns
    if rcv_nxt is None:
        rcv_nxt = tp.rcv_nxt
    prior_wstamp = tp.tcp_wstamp_ns
    if clone_it:
        tp.tcp_wstamp_ns = max(tp.tcp_wstamp_ns, tp.tcp_clock_cache)
        skb.skb_mstamp_ns = tp.tcp_wstamp_ns
        if not skb.first_tx_ns:
            skb.first_tx_ns = skb.skb_mstamp_ns
    flags = skb.tcp_flags
    if flags & TCPHDR_SYN:
        opts = tcp_syn_options(tp, skb.skb_mstamp_ns)
        window = min(tp.rcv_wnd, 65535)
    else:
        opts = tcp_established_options(tp, skb.skb_mstamp_ns)
        window = tcp_select_window(tp)
        # __tcp_transmit_skb -> tcp_ecn_send: ECT(0) on new data, CWR, ECE
        flags = tcp_ecn.tcp_ecn_send(tp, skb, flags, seq_before(skb.seq, tp.snd_nxt))
    urg_ptr = 0
    if tcp_urg_mode(tp) and seq_before(skb.seq, tp.snd_up):
        if seq_before(tp.snd_up, (skb.seq + 0x10000) & U32):
            urg_ptr = (tp.snd_up - skb.seq) & 0xFFFF
            flags |= TCPHDR_URG
        elif seq_after((skb.seq + 0xFFFF) & U32, tp.snd_nxt):
            urg_ptr = 0xFFFF
            flags |= TCPHDR_URG
    hdr = TcpHeader(tp.inet_sport, tp.inet_dport, skb.seq, rcv_nxt if flags & TCPHDR_ACK else 0, flags,
                    window, 0, urg_ptr, opts)
    if flags & TCPHDR_ACK:
        tcp_event_ack_sent(tp, rcv_nxt)
    data = skb.data
    if data:
        tcp_event_data_sent(tp)
        tp.data_segs_out += 1
        tp.bytes_sent += len(data)
    if seq_after(skb.end_seq, tp.snd_nxt) or skb.seq == skb.end_seq:
        ns.mib.tcp.OutSegs += 1
    tp.segs_out += 1
    err = ip_send_tcp(ns, tp.inet_saddr, tp.inet_daddr, hdr, data, sk=tp, rt=sk_dst_get(tp), tos=tp.tos,
                      ttl=tp.ttl or None, mark=tp.sk_mark, oif=tp.sk_bound_dev_if,
                      df=tp.pmtudisc != IP_PMTUDISC_DONT,
                      shinfo=(skb, tp) if skb.tx_flags or skb.zc is not None else None)
    if err == -errno.EMSGSIZE:
        err = 0  # the segment was too big for the path: ICMP to ourselves resyncs the MSS
    if err == 0 and clone_it:
        tcp_update_skb_after_send(tp, skb, prior_wstamp, tso_len)
        tcp_rate_skb_sent(tp, skb)
    return err


def tcp_update_skb_after_send(tp: TcpSock, skb: TcpSkb, prior_wstamp: int, tso_len: int = 0) -> None:
    """EDT pacing: the next departure is later by this segment's length at sk_pacing_rate; the
    segment moves to the tail of the time-sorted queue RACK walks.

    As tcp_update_skb_after_send() (net/ipv4/tcp_output.c), called from __tcp_transmit_skb() with
    ``oskb``, the write/retransmit-queue skb: its ``skb->len`` is the payload alone (the TCP and IP
    headers are pushed on the clone), so pacing charges payload bytes, not frame bytes. The first 10
    data segments are not paced ("Original sch_fq does not pace first 10 MSS"), and the time the
    departure was already late (``tcp_wstamp_ns - prior_wstamp``, OS jitter) is credited, at most
    half of this segment's slot. ``tso_len``: the payload of the TSO packet this segment starts (the
    packet is paced as one, and all its segments count towards the first 10), -1 for a later
    segment of one (no pacing step of its own).
    """
    tq = tp.tsorted_sent_queue
    tq[id(skb)] = skb
    tq.move_to_end(id(skb))
    if tso_len >= 0 and tp.sk_pacing_status != cong.SK_PACING_NONE:
        rate = tp.sk_pacing_rate
        nbytes = tso_len or len(skb.data)
        segs = tp.data_segs_out + (-(-nbytes // len(skb.data)) - 1 if skb.data else 0)
        if rate and rate != cong.U64 and segs >= 10:
            len_ns = nbytes * NSEC_PER_SEC // rate
            credit = tp.tcp_wstamp_ns - prior_wstamp
            len_ns -= min(len_ns // 2, credit)
            tp.tcp_wstamp_ns += len_ns


def tcp_pacing_check(tp: TcpSock) -> bool:
    """True while the next departure time lies in the future (the pacing timer will resume).

    Only internal pacing holds segments back (tcp_needs_internal_pacing(): SK_PACING_NEEDED); with
    SK_PACING_FQ the qdisc honours each skb's departure time instead.
    """
    if tp.sk_pacing_status != cong.SK_PACING_NEEDED:
        return False
    if tp.tcp_wstamp_ns <= tp.tcp_clock_cache:
        return False
    if not tp.pacing_timer.pending():
        tp.pacing_timer.reset(tp.tcp_wstamp_ns - TCP_CLOCK_BASE_NS)
    return True


def tcp_event_data_sent(tp: TcpSock) -> None:
    now = tp.jiffies()
    if cong.tcp_packets_in_flight(tp) == 0:
        cong.tcp_ca_event(tp, cong.CA_EVENT_TX_START)
    tp.lsndtime = now
    # a reply within ato of the last received segment: interactive, enter pingpong mode
    if ((now - tp.icsk_ack.lrcvtime) & U32) < tp.icsk_ack.ato:
        tp.inet_csk_enter_pingpong_mode()


def tcp_event_ack_sent(tp: TcpSock, rcv_nxt: int) -> None:
    if tp.compressed_ack:
        tp.ns.mib.tcpext.TCPAckCompressed += tp.compressed_ack
        tp.compressed_ack = 0
        tp.compressed_ack_timer.stop()
    if rcv_nxt != tp.rcv_nxt:
        return
    # tcp_dec_quickack_mode: one quick ACK used if this ACK covered new data
    ack = tp.icsk_ack
    if ack.quick:
        pkts = 1 if ack.pending & 1 else 0  # inet_csk_ack_scheduled
        if pkts >= ack.quick:
            ack.quick = 0
            ack.ato = TCP_ATO_MIN  # leaving quickack mode deflates the ATO
        else:
            ack.quick -= pkts
    # inet_csk_clear_xmit_timer(ICSK_TIME_DACK)
    ack.pending = 0
    tp.icsk_delack_timer.stop()


def tcp_event_new_data_sent(tp: TcpSock, skb: TcpSkb) -> None:
    prior_packets = tp.packets_out
    tp.snd_nxt = skb.end_seq
    tp.sk_write_queue.popleft()
    tp.tcp_rtx_queue.append(skb)
    if tp.highest_sack is None:
        tp.highest_sack = skb
    tp.packets_out += 1
    if not prior_packets or tp.icsk_pending == ICSK_TIME_LOSS_PROBE:
        from tuxnet.ipv4.tcp import tcp_ack

        tcp_ack.tcp_rearm_rto(tp)
    tp.ns.mib.tcpext.TCPOrigDataSent += 1


def tcp_cwnd_restart(tp: TcpSock, delta: int) -> None:
    """RFC 5681 4.1 / RFC 2861: after idle longer than RTO, restart from the initial window."""
    restart_cwnd = min(cong.TCP_INIT_CWND, tp.snd_cwnd_clamp)
    cwnd = tp.snd_cwnd
    cong.tcp_ca_event(tp, cong.CA_EVENT_CWND_RESTART)
    tp.snd_ssthresh = tcp_current_ssthresh(tp)
    restart_cwnd = min(restart_cwnd, cwnd)
    delta -= tp.icsk_rto
    while delta > 0 and cwnd > restart_cwnd:
        cwnd >>= 1
        delta -= tp.icsk_rto
    tp.snd_cwnd = max(cwnd, restart_cwnd)
    tp.snd_cwnd_stamp = tp.jiffies()
    tp.snd_cwnd_used = 0


def tcp_current_ssthresh(tp: TcpSock) -> int:
    if tp.icsk_ca_state in (cong.TCP_CA_CWR, cong.TCP_CA_Recovery):
        return tp.snd_ssthresh
    return max(tp.snd_ssthresh, (tp.snd_cwnd >> 1) + (tp.snd_cwnd >> 2))


# ---------------------------------------------------------------------------------------- send engine
def tcp_minshall_check(tp: TcpSock) -> bool:
    return seq_after(tp.snd_sml, tp.snd_una) and not seq_after(tp.snd_sml, tp.snd_nxt)


def tcp_nagle_check(partial: bool, tp: TcpSock, nonagle: int) -> bool:
    return partial and (bool(nonagle & TCP_NAGLE_CORK) or
                        (not nonagle and tp.packets_out > 0 and tcp_minshall_check(tp)))


def tcp_nagle_test(tp: TcpSock, skb: TcpSkb, cur_mss: int, nonagle: int) -> bool:
    if nonagle & TCP_NAGLE_PUSH:
        return True
    if tcp_urg_mode(tp) or skb.tcp_flags & TCPHDR_FIN:
        return True
    return not tcp_nagle_check(len(skb.data) < cur_mss, tp, nonagle)


def tcp_snd_wnd_test(tp: TcpSock, skb: TcpSkb, cur_mss: int) -> bool:
    end_seq = skb.end_seq
    if len(skb.data) > cur_mss:
        end_seq = (skb.seq + cur_mss) & U32
    return not seq_after(end_seq, tp.tcp_wnd_end())


def tcp_fragment(tp: TcpSock, queue: list | object, skb: TcpSkb, length: int, gso: bool = False) -> TcpSkb:
    """Split ``skb`` after ``length`` bytes; the tail becomes a new segment placed after it.
    ``gso``: the cut of an unsent multi-MSS skb into wire segments, the device segmentation of a
    TSO packet in Linux, which costs no extra skb memory."""
    buff = TcpSkb((skb.seq + length) & U32, skb.tcp_flags, skb.data[length:])
    buff.end_seq = skb.end_seq
    skb.data = skb.data[:length]
    skb.end_seq = buff.seq
    # PSH and FIN belong to the second part
    skb.tcp_flags &= ~(TCPHDR_FIN | TCPHDR_PSH)
    buff.sacked = skb.sacked
    buff.skb_mstamp_ns = skb.skb_mstamp_ns
    buff.first_tx_ns = skb.first_tx_ns
    buff.tx = skb.tx
    buff.eor = skb.eor
    skb.eor = False
    if skb.zc is not None:
        skb_zerocopy_clone(buff, skb)
        buff.nr_frags = skb.nr_frags
    if skb.tx_flags or skb.txstamp_ack:
        tcp_fragment_tstamp(skb, buff)
    if queue is tp.sk_write_queue:
        idx = tp.sk_write_queue.index(skb)
        tp.sk_write_queue.insert(idx + 1, buff)
    else:
        rtx = tp.tcp_rtx_queue
        rtx.insert(rtx.index(skb) + 1, buff)
        tq = tp.tsorted_sent_queue
        if id(skb) in tq:
            # the tail part takes the place right after the head part in send-time order
            items = list(tq.items())
            tq.clear()
            for k, v in items:
                tq[k] = v
                if k == id(skb):
                    tq[id(buff)] = buff
        # one more packet out; the sacked state is copied, so are its counters
        tp.packets_out += 1
        if buff.sacked & TCPCB_SACKED_ACKED:
            tp.sacked_out += 1
        if buff.sacked & TCPCB_SACKED_RETRANS:
            tp.retrans_out += 1
        if buff.sacked & TCPCB_LOST:
            tp.lost_out += 1
    if not gso:
        tp.sk_wmem_queued += TCP_SKB_OVERHEAD
        buff.overhead = TCP_SKB_OVERHEAD
    else:
        # a TSO skb is freed when its last byte is acknowledged: its struct memory goes with the tail
        buff.overhead, skb.overhead = skb.overhead, 0
    return buff


def tcp_write_xmit(tp: TcpSock, mss_now: int, nonagle: int, push_one: int) -> bool:
    """Send what cwnd, the receive window, Nagle, TSO deferral and pacing allow, one TSO packet at
    a time (see tcp_offload); True if nothing is in flight but data waits (the caller then arms
    the persist timer)."""
    from tuxnet.ipv4.tcp import tcp_recovery

    sent_pkts = 0
    tp.tcp_mstamp_refresh()
    is_cwnd_limited = False
    is_rwnd_limited = False
    wq = tp.sk_write_queue
    max_segs = tcp_offload.tcp_tso_segs(tp, mss_now)
    while wq:
        skb = wq[0]
        if tcp_pacing_check(tp):
            break
        cwnd_quota = tcp_offload.tcp_cwnd_test(tp, skb, mss_now)
        if not cwnd_quota:
            if push_one == 2:
                cwnd_quota = 1  # a loss probe is sent regardless of cwnd
            else:
                is_cwnd_limited = True
                break
        cwnd_quota = min(cwnd_quota, max_segs)
        missing = cwnd_quota * mss_now - len(skb.data)
        if missing > 0:
            tcp_offload.tcp_grow_skb(tp, skb, missing)
        tso_segs = tcp_offload.tcp_skb_pcount(skb, mss_now)
        if not tcp_snd_wnd_test(tp, skb, mss_now):
            is_rwnd_limited = True
            break
        if tso_segs == 1:
            if not tcp_nagle_test(tp, skb, mss_now, nonagle if len(wq) == 1 else TCP_NAGLE_PUSH):
                break
        elif not push_one:
            defer, cwnd_limited = tcp_offload.tcp_tso_should_defer(tp, skb, max_segs)
            if defer:
                is_cwnd_limited |= cwnd_limited
                break
        limit = mss_now
        if tso_segs > 1 and not tcp_urg_mode(tp):
            limit = tcp_offload.tcp_mss_split_point(tp, skb, mss_now, cwnd_quota, nonagle)
        if len(skb.data) > limit:
            tcp_fragment(tp, wq, skb, limit)  # tso_fragment: the first part loses PSH and FIN
        if skb.end_seq == skb.seq:
            break
        tso_len = len(skb.data) if len(skb.data) > mss_now else 0  # a multi-segment packet's pacing step
        pcount = tcp_offload.tcp_gso_segment(tp, skb, mss_now)
        sent = tcp_xmit_tso_segments(tp, pcount, tso_len, mss_now)
        sent_pkts += sent
        if sent < pcount:
            break
        if push_one:
            break
    if is_rwnd_limited:
        tcp_chrono.tcp_chrono_start(tp, tcp_chrono.TCP_CHRONO_RWND_LIMITED)
    else:
        tcp_chrono.tcp_chrono_stop(tp, tcp_chrono.TCP_CHRONO_RWND_LIMITED)
    if sent_pkts:
        if tp.icsk_ca_state in (cong.TCP_CA_CWR, cong.TCP_CA_Recovery):
            tp.prr_out += sent_pkts
        if push_one != 2:
            tcp_recovery.tcp_schedule_loss_probe(tp, False)
        is_cwnd_limited |= cong.tcp_packets_in_flight(tp) >= tp.snd_cwnd
        tcp_cwnd_validate(tp, is_cwnd_limited)
        return False
    return not tp.packets_out and bool(wq)


def tcp_xmit_tso_segments(tp: TcpSock, pcount: int, tso_len: int, mss_now: int) -> int:
    """Transmit the first ``pcount`` skbs of the write queue, the segments of one TSO packet: they
    leave together (one departure time, one pacing step for the whole packet). Returns how many
    went out."""
    wq = tp.sk_write_queue
    t0 = -1
    wstamp_after = 0
    for i in range(pcount):
        skb = wq[0]
        if t0 >= 0:
            tp.tcp_wstamp_ns = t0
        flags = skb.tcp_flags
        if pcount > 1 and i == pcount - 1:
            # __tcp_transmit_skb sets PSH on every multi-segment packet (on the clone it sends, so
            # a retransmission of this segment alone goes without it), to flush GRO at the receiver
            skb.tcp_flags = flags | TCPHDR_PSH
        err = tcp_transmit_skb(tp, skb, tso_len=tso_len if i == 0 else -1)
        skb.tcp_flags = flags
        if err:
            if t0 >= 0:
                tp.tcp_wstamp_ns = wstamp_after
            return i
        if t0 < 0:
            t0 = skb.skb_mstamp_ns
            wstamp_after = tp.tcp_wstamp_ns
        tcp_event_new_data_sent(tp, skb)
        if len(skb.data) < mss_now:
            tp.snd_sml = skb.end_seq  # tcp_minshall_update
    tp.tcp_wstamp_ns = wstamp_after
    return pcount


def tcp_cwnd_validate(tp: TcpSock, is_cwnd_limited: bool) -> None:
    if (not seq_before(tp.snd_una, tp.cwnd_usage_seq) or is_cwnd_limited
            or (not tp.is_cwnd_limited and tp.packets_out > tp.max_packets_out)):
        tp.is_cwnd_limited = is_cwnd_limited
        tp.max_packets_out = tp.packets_out
        tp.cwnd_usage_seq = tp.snd_nxt
    if cong.tcp_is_cwnd_limited(tp):
        tp.snd_cwnd_used = 0
        tp.snd_cwnd_stamp = tp.jiffies()
    else:
        if tp.packets_out > tp.snd_cwnd_used:
            tp.snd_cwnd_used = tp.packets_out
        ops = tp.icsk_ca_ops
        if (tp.ns.sysctl.v["net.ipv4.tcp_slow_start_after_idle"]
                and ((tp.jiffies() - tp.snd_cwnd_stamp) & U32) >= tp.icsk_rto
                and (ops is None or ops.cong_control is None)):
            tcp_cwnd_application_limited(tp)
        # sent something, not cwnd-limited, nothing left to send and the application waits for
        # space: starved by the send buffer
        if (not tp.sk_write_queue and "SOCK_NOSPACE" in tp.sock_flags
                and tp.sk_state in (TCP_ESTABLISHED, TCP_CLOSE_WAIT)):
            tcp_chrono.tcp_chrono_start(tp, tcp_chrono.TCP_CHRONO_SNDBUF_LIMITED)


def tcp_cwnd_application_limited(tp: TcpSock) -> None:
    """RFC 2861 slow part: shrink cwnd towards what was used while the application was limited."""
    if tp.icsk_ca_state == cong.TCP_CA_Open and not tp.sk_write_pending:
        init_win = min(cong.TCP_INIT_CWND, tp.snd_cwnd_clamp)
        win_used = max(tp.snd_cwnd_used, init_win)
        if win_used < tp.snd_cwnd:
            tp.snd_ssthresh = tcp_current_ssthresh(tp)
            tp.snd_cwnd = (tp.snd_cwnd + win_used) >> 1
        tp.snd_cwnd_used = 0
    tp.snd_cwnd_stamp = tp.jiffies()


def __tcp_push_pending_frames(tp: TcpSock, cur_mss: int, nonagle: int) -> None:
    if tp.sk_state == TCP_CLOSE:
        return
    if tcp_write_xmit(tp, cur_mss, nonagle, 0):
        tcp_check_probe_timer(tp)


def tcp_push_pending_frames(tp: TcpSock) -> None:
    if tp.sk_write_queue:
        __tcp_push_pending_frames(tp, tcp_current_mss(tp), tp.nonagle)


def tcp_push_one(tp: TcpSock, mss_now: int) -> None:
    tcp_write_xmit(tp, mss_now, TCP_NAGLE_PUSH, 1)


def tcp_data_snd_check(tp: TcpSock) -> None:
    """tcp_push_pending_frames then tcp_check_space (the writer may be woken)."""
    tcp_push_pending_frames(tp)
    from tuxnet.ipv4.tcp import tcp

    tcp.tcp_check_space(tp)


# ---------------------------------------------------------------------------------------- persist
def tcp_probe0_base(tp: TcpSock) -> int:
    from tuxnet.ipv4.tcp import tcp_ack

    return max(tcp_ack.__tcp_set_rto(tp), tp.tcp_rto_min())


def tcp_probe0_when(tp: TcpSock, max_when: int) -> int:
    backoff = min(tp.icsk_backoff, 31)
    return min(tcp_probe0_base(tp) << backoff, max_when)


def tcp_check_probe_timer(tp: TcpSock) -> None:
    if not tp.packets_out and not tp.icsk_pending:
        inet_csk_reset_xmit_timer(tp, ICSK_TIME_PROBE0, tcp_probe0_base(tp), TCP_RTO_MAX)


def inet_csk_reset_xmit_timer(tp: TcpSock, what: int, when: int, max_when: int) -> None:
    """Arm the retransmit timer as ``what`` (RETRANS, PROBE0, LOSS_PROBE, REO_TIMEOUT) or the
    delayed-ACK timer (DACK), ``when`` jiffies from now."""
    when = min(when, max_when)
    now = tp.ns.loop.now_ns
    if what == ICSK_TIME_DACK:
        tp.icsk_ack.pending |= ICSK_ACK_TIMER
        tp.icsk_ack.timeout = now + when * NSEC_PER_JIFFY
        tp.icsk_delack_timer.reset(tp.icsk_ack.timeout)
        return
    tp.icsk_pending = what
    tp.icsk_timeout = now + when * NSEC_PER_JIFFY
    tp.icsk_retransmit_timer.reset(tp.icsk_timeout)


def inet_csk_clear_xmit_timer(tp: TcpSock, what: int) -> None:
    if what == ICSK_TIME_DACK:
        tp.icsk_ack.pending = 0
        tp.icsk_delack_timer.stop()
        return
    tp.icsk_pending = 0
    tp.icsk_retransmit_timer.stop()


def tcp_reset_xmit_timer(tp: TcpSock, what: int, when: int, max_when: int) -> None:
    """tcp_reset_xmit_timer: the pacing delay of the head segment is added (tcp_pacing_delay)."""
    if what in (ICSK_TIME_RETRANS, ICSK_TIME_PROBE0, ICSK_TIME_LOSS_PROBE, ICSK_TIME_REO_TIMEOUT):
        delay = tp.tcp_wstamp_ns - tp.tcp_clock_cache
        if delay > 0 and tp.sk_pacing_status != cong.SK_PACING_NONE:
            when += -(-delay // NSEC_PER_JIFFY)
    inet_csk_reset_xmit_timer(tp, what, when, max_when)


# ---------------------------------------------------------------------------------------- ACKs


# ---------------------------------------------------------------------------------------- control


# ---------------------------------------------------------------------------------------- retransmit


