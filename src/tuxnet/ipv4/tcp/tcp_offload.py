"""TSO packets and their GSO segmentation: the sizing half of tcp_write_xmit (net/ipv4/tcp_output.c)
and the flag rules of tcp_gso_segment (net/ipv4/tcp_offload.c).

Linux builds write-queue skbs of up to the size goal and tcp_write_xmit sends each as TSO packets:
``tcp_tso_segs`` (``tcp_tso_autosize``: the pacing rate's 1 ms worth plus a min-RTT bonus, at
least tcp_min_tso_segs or the congestion control's ``min_tso_segs``), ``tcp_cwnd_test`` (at most
half the cwnd per packet, so two are in flight), ``tcp_grow_skb`` (a short head skb takes bytes
from the next one unless an EOR mark sits between them), ``tcp_tso_should_defer`` (wait for a
bigger packet when an ACK is due soon), ``tcp_mss_split_point`` and ``tso_fragment`` (the first
part loses PSH and FIN). ``__tcp_transmit_skb`` then sets PSH on every packet of more than one
segment (to flush GRO at the receiver; single-segment packets keep the skb's own PSH), and a device
without TSO segments the packet with PSH and FIN on the last segment only, CWR on the first only.

Representation (the choice and why): tuxnet's devices carry MTU-sized frames only, so the stack
does the device's segmentation itself. tcp_write_xmit decides each TSO packet exactly as Linux
does (its extent and its flags), then ``tcp_gso_segment`` cuts it into MSS skbs that share one
departure time (one TSval, one pacing step) and go to the retransmit queue one by one. Keeping
MSS skbs in the retransmit queue leaves SACK, RACK, PRR, the loss/retransmit code and their
counters (all per-segment, pcount 1) untouched; the TSO packet stays visible on the wire as a run
of segments with PSH/FIN on its last one, which is where a GSO device puts them, and packetdrill's
aggregation (headers from the last segment) rebuilds the packet a script names. What this does
not model: a retransmitted multi-segment skb gets PSH again from __tcp_transmit_skb in Linux; here
a retransmitted segment carries the flags it was first sent with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.ipv4.tcp import cong
from tuxnet.ipv4.tcp.rate import tcp_min_rtt
from tuxnet.ipv4.tcp.tcp_sock import (
    NSEC_PER_MSEC,
    NSEC_PER_USEC,
    TCPHDR_FIN,
    TCPHDR_PSH,
    U32,
    TcpSkb,
)

if TYPE_CHECKING:
    from tuxnet.ipv4.tcp.tcp_sock import TcpSock

# sk_gso_max_size of a TSO device's socket: GSO_LEGACY_MAX_SIZE less MAX_TCP_HEADER + 1 (sk_setup_caps)
SK_GSO_MAX_SIZE = 65536 - 320 - 1
SK_GSO_MAX_SEGS = 65535
TCP_MAX_TSO_DEFERRED_MSS = 3  # tcp_max_tso_deferred_mss() without the divisor


def tcp_tso_autosize(tp: TcpSock, mss_now: int, min_tso_segs: int) -> int:
    """Segments per TSO packet: 1 ms of the pacing rate, plus gso_max_size >> (min_rtt / 512 us)."""
    nbytes = tp.sk_pacing_rate >> tp.sk_pacing_shift
    r = tcp_min_rtt(tp) >> int(tp.ns.sysctl.v["net.ipv4.tcp_tso_rtt_log"])  # type: ignore[call-overload]
    if r < 32:
        nbytes += SK_GSO_MAX_SIZE >> r
    nbytes = min(nbytes, SK_GSO_MAX_SIZE)
    return max(nbytes // mss_now, min_tso_segs)


def sk_gso_max_segs(tp: TcpSock) -> int:
    """sk_setup_caps's sk_gso_max_segs: the route's device's gso_max_segs (Linux copies it when the
    route is set up at connect/accept and again when ip_queue_xmit re-routes; tuxnet reads the
    cached route's device)."""
    rt = tp.sk_dst
    dev = getattr(rt, "dev", None) if rt is not None else None
    return max(min(getattr(dev, "gso_max_segs", SK_GSO_MAX_SEGS), SK_GSO_MAX_SEGS), 1)


def tcp_tso_segs(tp: TcpSock, mss_now: int) -> int:
    ops = tp.icsk_ca_ops
    hook = getattr(ops, "min_tso_segs", None) if ops is not None else None
    if hook is not None:
        min_tso = hook(tp)
    else:
        min_tso = int(tp.ns.sysctl.v["net.ipv4.tcp_min_tso_segs"])  # type: ignore[call-overload]
    return min(tcp_tso_autosize(tp, mss_now, min_tso), sk_gso_max_segs(tp))


def tcp_skb_pcount(skb: TcpSkb, mss_now: int) -> int:
    """tcp_set_skb_tso_segs: DIV_ROUND_UP(len, mss), 1 for an skb of at most one MSS."""
    n = len(skb.data)
    return 1 if n <= mss_now else -(-n // mss_now)


def tcp_cwnd_test(tp: TcpSock, skb: TcpSkb, mss_now: int) -> int:
    """Segments cwnd lets this packet carry: at most half the cwnd ("at least 2 GSO packets in
    flight"); a lone FIN of one segment ignores cwnd."""
    if skb.tcp_flags & TCPHDR_FIN and len(skb.data) <= mss_now:
        return 1
    in_flight = cong.tcp_packets_in_flight(tp)
    cwnd = tp.snd_cwnd
    if in_flight >= cwnd:
        return 0
    return min(max(cwnd >> 1, 1), cwnd - in_flight)


def tcp_grow_skb(tp: TcpSock, skb: TcpSkb, amount: int) -> None:
    """The head skb is shorter than the packet cwnd allows: move bytes from the next skb into it,
    unless the head carries an EOR mark (tcp_skb_can_collapse); an emptied next skb is eaten
    (its flags, EOR mark and end_seq move over)."""
    wq = tp.sk_write_queue
    if len(wq) < 2 or wq[0] is not skb or skb.eor:
        return
    nxt = wq[1]
    if skb.zc is not None or nxt.zc is not None or nxt.tx_flags or nxt.txstamp_ack:
        # skb_pure_zcopy_same and the timestamp key: user pages and a timestamp request stay in
        # their own skb here (Linux moves same-kind zerocopy frags; tuxnet keeps them apart)
        return
    nlen = min(amount, len(nxt.data))
    if not nlen:
        return
    skb.data = skb.data + nxt.data[:nlen]
    skb.end_seq = (skb.end_seq + nlen) & U32
    nxt.data = nxt.data[nlen:]
    nxt.seq = (nxt.seq + nlen) & U32
    if not nxt.data:
        skb.end_seq = nxt.end_seq  # a FIN moves over too
        skb.tcp_flags |= nxt.tcp_flags
        skb.eor = nxt.eor
        del wq[1]
        tp.sk_wmem_queued -= nxt.overhead


def tcp_mss_split_point(tp: TcpSock, skb: TcpSkb, mss_now: int, max_segs: int, nonagle: int) -> int:
    """Bytes of ``skb`` to send now: max_segs MSS, or what the window allows of the tail skb
    (whole MSS only when Nagle would hold back the partial last segment)."""
    from tuxnet.ipv4.tcp.tcp_output import tcp_nagle_check

    window = (tp.tcp_wnd_end() - skb.seq) & U32
    max_len = mss_now * max_segs
    if max_len <= window and skb is not tp.sk_write_queue[-1]:
        return max_len
    needed = min(len(skb.data), window)
    if max_len <= needed:
        return max_len
    partial = needed % mss_now
    if tcp_nagle_check(partial != 0, tp, nonagle):
        return needed - partial
    return needed


def tcp_tso_should_defer(tp: TcpSock, skb: TcpSkb, max_segs: int) -> tuple[bool, bool]:
    """John Heffner's TSO Nagle: wait for an ACK to send a bigger packet when only a small part of
    a window is open. Returns (defer, cwnd_limited)."""
    if tp.icsk_ca_state >= cong.TCP_CA_Recovery:
        return False, False
    # defer only if the last transmission was recent (1 ms). Linux tests "> 0"; on a real clock
    # some processing time always separates a transmission from a later event, while the virtual
    # clock makes them tie exactly 1 ms apart, so a tie counts as elapsed here
    if tp.tcp_clock_cache - tp.tcp_wstamp_ns - NSEC_PER_MSEC >= 0:
        return False, False
    in_flight = cong.tcp_packets_in_flight(tp)
    mss = tp.mss_cache
    send_win = (tp.tcp_wnd_end() - skb.seq) & U32
    cong_win = (tp.snd_cwnd - in_flight) * mss
    limit = min(send_win, cong_win)
    if limit >= max_segs * mss:
        return False, False  # a full-sized TSO packet can go
    wq = tp.sk_write_queue
    if skb is not wq[-1] and limit >= len(skb.data):
        return False, False  # middle of the queue: it gets no more data
    win_divisor = int(tp.ns.sysctl.v["net.ipv4.tcp_tso_win_divisor"])  # type: ignore[call-overload]
    if win_divisor:
        chunk = min(tp.snd_wnd, tp.snd_cwnd * mss) // win_divisor
        if limit >= chunk:
            return False, False
    elif limit > TCP_MAX_TSO_DEFERRED_MSS * mss:
        return False, False
    rtx = tp.tcp_rtx_queue
    if not rtx:
        return False, False
    # the next ACK is likely to come too late (beyond half an RTT): do not defer
    if tp.tcp_clock_cache - rtx[0].skb_mstamp_ns - NSEC_PER_USEC * (tp.srtt_us >> 4) < 0:
        return False, False
    if cong_win < send_win:
        if cong_win <= len(skb.data):
            return True, True
    elif send_win <= len(skb.data):
        return True, False
    if skb.tcp_flags & TCPHDR_FIN or skb.eor:
        return False, False  # this packet will get no more data
    return True, False


def tcp_gso_segment(tp: TcpSock, skb: TcpSkb, mss_now: int) -> int:
    """Cut the head skb of the write queue (one TSO packet) into MSS skbs in place: PSH and FIN
    stay on the last segment, the EOR mark too. Returns the number of segments."""
    data = skb.data
    n = len(data)
    if n <= mss_now:
        return 1
    if skb.zc is not None or skb.tx_flags or skb.txstamp_ack:
        # zerocopy frags and timestamp requests follow tcp_fragment's rules for each cut
        from tuxnet.ipv4.tcp.tcp_output import tcp_fragment

        count = 1
        cur = skb
        while len(cur.data) > mss_now:
            cur = tcp_fragment(tp, tp.sk_write_queue, cur, mss_now, gso=True)
            count += 1
        return count
    flags = skb.tcp_flags
    segs = []
    seq = skb.seq
    for off in range(mss_now, n, mss_now):
        seg = TcpSkb((seq + off) & U32, flags & ~(TCPHDR_FIN | TCPHDR_PSH), data[off:off + mss_now])
        segs.append(seg)
    last = segs[-1]
    last.tcp_flags = flags
    last.end_seq = skb.end_seq
    last.eor = skb.eor
    skb.eor = False
    skb.data = data[:mss_now]
    skb.end_seq = (seq + mss_now) & U32
    skb.tcp_flags = flags & ~(TCPHDR_FIN | TCPHDR_PSH)
    wq = tp.sk_write_queue
    wq.popleft()
    wq.extendleft(reversed(segs))
    wq.appendleft(skb)
    return len(segs) + 1
