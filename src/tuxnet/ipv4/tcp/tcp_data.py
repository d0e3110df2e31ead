"""Receiving data: queues, SACK generation, ACK scheduling, receive buffer tuning.

Mirrors the receive half of net/ipv4/tcp_input.c: tcp_data_queue, tcp_data_queue_ofo (the
out-of-order queue with rb-tree semantics), tcp_ofo_queue, tcp_sack_new_ofo_skb/tcp_sack_remove
(RFC 2018 blocks in Linux's order: the block of the most recent segment first), D-SACK (RFC 2883),
tcp_event_data_recv (delayed-ACK engine), __tcp_ack_snd_check, tcp_grow_window,
tcp_rcv_space_adjust and __tcp_cleanup_rbuf (net/ipv4/tcp.c).

Guarantees, as Linux 6.x:
- In-order data is queued and rcv_nxt advances; segments filling a hole pull the queued
  out-of-order ones in, and an immediate ACK follows (RFC 5681 4.2); duplicates and old data are
  dropped with a D-SACK and an immediate ACK (quickack mode, DelayedACKLost); data beyond the
  window (zero-window probes) is dropped (TCPZeroWindowDrop when the window is zero) and ACKed.
- Out-of-order segments are kept sorted; a segment fully covered is dropped (TCPOFOMerge,
  D-SACK), one covering others replaces them; SACK blocks are kept most-recent first, at most 4.
- ACKs: immediately in quickack mode (the first 16 segments or so after start, after
  out-of-order data, after an idle gap longer than RTO), for every second full-sized segment, when
  a FIN or a filled hole demands it; else delayed by the ATO (40 ms minimum, 200 ms maximum).
  With an out-of-order queue and SACK, the first three dupacks go at once, later ones are
  compressed (tcp_comp_sack_*).
- The advertised window grows with rcv_ssthresh (tcp_grow_window) and the buffer with the
  application's reading rate (DRS autotuning, tcp_moderate_rcvbuf).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

from tuxnet.core.trace import SkbDropReason
from tuxnet.ipv4.tcp import tcp_ctl, tcp_ecn, tcp_output
from tuxnet.ipv4.tcp.tcp_sock import (
    ICSK_ACK_NOMEM,
    ICSK_ACK_NOW,
    ICSK_ACK_PUSHED,
    ICSK_ACK_PUSHED2,
    MAX_TCP_HEADER,
    NSEC_PER_USEC,
    RCV_SHUTDOWN,
    SKB_STRUCT,
    SOCK_RCVBUF_LOCK,
    TCP_ATO_MIN,
    TCP_FASTRETRANS_THRESH,
    TCP_MAX_QUICKACKS,
    TCP_MIN_MSS,
    TCP_MSS_DEFAULT,
    TCP_NUM_SACKS,
    TCP_RMEM_TO_WIN_SCALE,
    TCPHDR_FIN,
    TCPHDR_PSH,
    TCPHDR_SYN,
    TCPHDR_URG,
    U32,
    RxSeg,
    skb_truesize,
)
from tuxnet.wire.seqnum import seq_after, seq_before

if TYPE_CHECKING:
    from tuxnet.ipv4.tcp.tcp_sock import TcpCb, TcpSock

TCP_REMNANT = TCPHDR_FIN | TCPHDR_URG | TCPHDR_SYN | TCPHDR_PSH
TCP_SACK_BLOCKS_EXPECTED = 2


# ---------------------------------------------------------------------------------------- quickack
def tcp_incr_quickack(tp: TcpSock, max_quickacks: int) -> None:
    ack = tp.icsk_ack
    quickacks = tp.rcv_wnd // (2 * ack.rcv_mss) if ack.rcv_mss else 0
    if quickacks == 0:
        quickacks = 2
    quickacks = min(quickacks, max_quickacks)
    if quickacks > ack.quick:
        ack.quick = quickacks


def tcp_enter_quickack_mode(tp: TcpSock, max_quickacks: int) -> None:
    tcp_incr_quickack(tp, max_quickacks)
    tp.inet_csk_exit_pingpong_mode()
    tp.icsk_ack.ato = TCP_ATO_MIN


def tcp_in_quickack_mode(tp: TcpSock) -> bool:
    rt = tp.sk_dst
    if rt is not None and getattr(rt, "metrics", {}).get("quickack"):
        return True
    return bool(tp.icsk_ack.quick) and not tp.inet_csk_in_pingpong_mode()


def tcp_measure_rcv_mss(tp: TcpSock, cb: TcpCb, seglen: int, truesize: int) -> None:
    """Adapt rcv_mss (our guess of the peer's MSS) and the len/truesize scaling ratio."""
    ack = tp.icsk_ack
    lss = ack.last_seg_size
    ack.last_seg_size = 0
    length = cb.gso_size or seglen  # a GRO packet: the size of the segments it was built from
    if length >= ack.rcv_mss:
        if length != ack.rcv_mss:
            # 6.x: the window is computed from the buffer with the measured payload/memory ratio
            val = (seglen << TCP_RMEM_TO_WIN_SCALE) // max(truesize, 1)
            old = tp.scaling_ratio
            tp.scaling_ratio = min(val, 255) or 1
            if old != tp.scaling_ratio:
                val = tp.tcp_win_from_space(tp.sk_rcvbuf)
                tcp_set_window_clamp_from_ratio(tp, val)
        ack.rcv_mss = min(length, tp.advmss)
    else:
        length += cb.doff * 4
        if length >= TCP_MSS_DEFAULT + 20 or (length >= TCP_MIN_MSS + 20 and not cb.tcp_flags & TCP_REMNANT):
            length -= tp.tcp_header_len
            ack.last_seg_size = length
            if length == lss:
                ack.rcv_mss = length
                return
        if ack.pending & ICSK_ACK_PUSHED:
            ack.pending |= ICSK_ACK_PUSHED2
        ack.pending |= ICSK_ACK_PUSHED


def tcp_set_window_clamp_from_ratio(tp: TcpSock, val: int) -> None:
    """When the ratio changes the full space changes: keep window_clamp and rcv_ssthresh within it."""
    if tp.window_clamp_user:
        return
    old_clamp = tp.window_clamp
    new_clamp = max(2 * TCP_MSS_DEFAULT, val)
    if new_clamp == old_clamp:
        return
    tp.window_clamp = new_clamp
    if new_clamp < old_clamp:
        tp.rcv_ssthresh = min(tp.rcv_ssthresh, new_clamp)
    if tp.window_clamp < tp.rcvq_space_space:
        tp.rcvq_space_space = tp.window_clamp


# ---------------------------------------------------------------------------------------- buffer tuning
def tcp_grow_window(tp: TcpSock, seglen: int, truesize: int) -> None:
    """Raise rcv_ssthresh (the advertised window's ceiling) while segments use memory sanely."""
    room = min(tp.window_clamp, tp.tcp_space()) - tp.rcv_ssthresh
    if room <= 0:
        return
    if tp.tcp_win_from_space(truesize) <= seglen:
        incr = 2 * tp.advmss
    else:
        incr = 0
        ts = tp.tcp_win_from_space(truesize) >> 1
        window = tp.tcp_win_from_space(int(tp.ns.sysctl.v["net.ipv4.tcp_rmem"][2])) >> 1  # type: ignore[index]
        while tp.rcv_ssthresh <= window:
            if ts <= seglen:
                incr = 2 * tp.icsk_ack.rcv_mss
                break
            ts >>= 1
            window >>= 1
    if incr:
        incr = max(incr, 2 * seglen)
        tp.rcv_ssthresh += min(room, incr)
        tp.icsk_ack.quick |= 1


def tcp_init_buffer_space(tp: TcpSock) -> None:
    from tuxnet.ipv4.tcp import tcp_ack

    tcp_app_win = int(tp.ns.sysctl.v["net.ipv4.tcp_app_win"])  # type: ignore[call-overload]
    if not tp.sk_userlocks & 1:
        tcp_ack.tcp_sndbuf_expand(tp)
    tp.tcp_mstamp_refresh()
    tp.rcvq_space_time = tp.tcp_mstamp
    tp.rcvq_space_seq = tp.copied_seq
    maxwin = tp.tcp_full_space()
    if tp.window_clamp >= maxwin:
        tp.window_clamp = maxwin
        if tcp_app_win and maxwin > 4 * tp.advmss:
            tp.window_clamp = max(maxwin - (maxwin >> tcp_app_win), 4 * tp.advmss)
    # force reservation of one segment
    if tcp_app_win and tp.window_clamp > 2 * tp.advmss and tp.window_clamp + tp.advmss > maxwin:
        tp.window_clamp = max(2 * tp.advmss, maxwin - tp.advmss)
    tp.rcv_ssthresh = min(tp.rcv_ssthresh, tp.window_clamp)
    tp.snd_cwnd_stamp = tp.jiffies()
    tp.rcvq_space_space = min(tp.rcv_ssthresh, tp.rcv_wnd, 10 * tp.advmss)


def tcp_clamp_window(tp: TcpSock) -> None:
    tp.icsk_ack.quick = 0
    rmem2 = int(tp.ns.sysctl.v["net.ipv4.tcp_rmem"][2])  # type: ignore[index]
    if tp.sk_rcvbuf < rmem2 and not tp.sk_userlocks & SOCK_RCVBUF_LOCK:
        tp.sk_rcvbuf = min(tp.sk_rmem_alloc, rmem2)
    if tp.sk_rmem_alloc > tp.sk_rcvbuf:
        tp.rcv_ssthresh = min(tp.window_clamp, 2 * tp.advmss)


def tcp_rcv_rtt_update(tp: TcpSock, sample: int, win_dep: bool) -> None:
    new_sample = tp.rcv_rtt_est_rtt_us
    m = sample
    if new_sample:
        if not win_dep:
            m -= new_sample >> 3
            new_sample += m
        else:
            m <<= 3
            if m < new_sample:
                new_sample = m
    else:
        new_sample = m << 3
    tp.rcv_rtt_est_rtt_us = new_sample


def tcp_rcv_rtt_measure(tp: TcpSock) -> None:
    if tp.rcv_rtt_est_time and seq_before(tp.rcv_nxt, tp.rcv_rtt_est_seq):
        return
    if tp.rcv_rtt_est_time:
        delta_us = max(tp.tcp_mstamp - tp.rcv_rtt_est_time, 1)
        tcp_rcv_rtt_update(tp, delta_us, True)
    tp.rcv_rtt_est_seq = (tp.rcv_nxt + tp.rcv_wnd) & U32
    tp.rcv_rtt_est_time = tp.tcp_mstamp


def tcp_rcv_rtt_measure_ts(tp: TcpSock, cb: TcpCb) -> None:
    rx = tp.rx_opt
    if rx.rcv_tsecr == tp.rcv_rtt_last_tsecr:
        return
    tp.rcv_rtt_last_tsecr = rx.rcv_tsecr
    if ((cb.end_seq - cb.seq) & U32) >= tp.icsk_ack.rcv_mss:
        delta = (tp.tcp_time_stamp_ts() - rx.rcv_tsecr) & U32
        if delta < 0x7FFFFFFF // 1000:
            tcp_rcv_rtt_update(tp, max(delta, 1) * 1000, False)


def tcp_rcv_space_adjust(tp: TcpSock) -> None:
    """DRS: size the receive buffer for twice what the application read in the last RTT, plus growth."""
    tp.tcp_mstamp_refresh()
    time = tp.tcp_mstamp - tp.rcvq_space_time
    if time < (tp.rcv_rtt_est_rtt_us >> 3) or tp.rcv_rtt_est_rtt_us == 0:
        return
    copied = (tp.copied_seq - tp.rcvq_space_seq) & U32
    if copied > tp.rcvq_space_space:
        v = tp.ns.sysctl.v
        if v["net.ipv4.tcp_moderate_rcvbuf"] and not tp.sk_userlocks & SOCK_RCVBUF_LOCK:
            rcvwin = (copied << 1) + 16 * tp.advmss
            grow = rcvwin * (copied - tp.rcvq_space_space) // max(tp.rcvq_space_space, 1)
            rcvwin += grow << 1
            rcvmem = skb_truesize(tp.advmss + MAX_TCP_HEADER)
            while tp.tcp_win_from_space(rcvmem) < tp.advmss:
                rcvmem += 128
            rcvwin //= max(tp.advmss, 1)
            rcvbuf = min(rcvwin * rcvmem, int(v["net.ipv4.tcp_rmem"][2]))  # type: ignore[index]
            if rcvbuf > tp.sk_rcvbuf:
                tp.sk_rcvbuf = rcvbuf
                tp.window_clamp = tp.tcp_win_from_space(rcvbuf)
        tp.rcvq_space_space = copied
    tp.rcvq_space_seq = tp.copied_seq
    tp.rcvq_space_time = tp.tcp_mstamp


def tcp_event_data_recv(tp: TcpSock, cb: TcpCb, seglen: int, truesize: int) -> None:
    """The delayed-ACK engine (ATO estimation), rcv_mss, receiver RTT and window growth."""
    tp.inet_csk_schedule_ack()
    tcp_measure_rcv_mss(tp, cb, seglen, truesize)
    tcp_rcv_rtt_measure(tp)
    now = tp.jiffies()
    ack = tp.icsk_ack
    if not ack.ato:
        # the first data segment: initialise the delayed ACK engine
        tcp_incr_quickack(tp, TCP_MAX_QUICKACKS)
        ack.ato = TCP_ATO_MIN
    else:
        m = (now - ack.lrcvtime) & U32
        if m <= TCP_ATO_MIN // 2:
            ack.ato = (ack.ato >> 1) + TCP_ATO_MIN // 2
        elif m < ack.ato:
            ack.ato = (ack.ato >> 1) + m
            if ack.ato > tp.icsk_rto:
                ack.ato = tp.icsk_rto
        elif m > tp.icsk_rto:
            # too long a gap: the sender failed to restart its window, ACK quickly
            tcp_incr_quickack(tp, TCP_MAX_QUICKACKS)
    ack.lrcvtime = now
    tcp_ecn.tcp_ecn_check_ce(tp, cb, seglen)
    if seglen >= 128:
        tcp_grow_window(tp, seglen, truesize)


# ---------------------------------------------------------------------------------------- SACK blocks
def tcp_sack_extend(sp: list[int], seq: int, end_seq: int) -> bool:
    if not seq_after(seq, sp[1]) and not seq_after(sp[0], end_seq):
        if seq_before(seq, sp[0]):
            sp[0] = seq
        if seq_after(end_seq, sp[1]):
            sp[1] = end_seq
        return True
    return False


def tcp_dsack_set(tp: TcpSock, seq: int, end_seq: int) -> None:
    if tp.tcp_is_sack() and tp.ns.sysctl.v["net.ipv4.tcp_dsack"]:
        ext = tp.ns.mib.tcpext
        if seq_before(seq, tp.rcv_nxt):
            ext.TCPDSACKOldSent += 1
        else:
            ext.TCPDSACKOfoSent += 1
        tp.rx_opt.dsack = True
        tp.duplicate_sack = [seq, end_seq]


def tcp_dsack_extend(tp: TcpSock, seq: int, end_seq: int) -> None:
    if not tp.rx_opt.dsack:
        tcp_dsack_set(tp, seq, end_seq)
    else:
        tcp_sack_extend(tp.duplicate_sack, seq, end_seq)


def tcp_send_dupack(tp: TcpSock, cb: TcpCb) -> None:
    if cb.end_seq != cb.seq and seq_before(cb.seq, tp.rcv_nxt):
        tp.ns.mib.tcpext.DelayedACKLost += 1
        tcp_enter_quickack_mode(tp, TCP_MAX_QUICKACKS)
        if tp.tcp_is_sack() and tp.ns.sysctl.v["net.ipv4.tcp_dsack"]:
            end_seq = cb.end_seq
            if seq_after(end_seq, tp.rcv_nxt):
                end_seq = tp.rcv_nxt
            tcp_dsack_set(tp, cb.seq, end_seq)
    tcp_ctl.tcp_send_ack(tp)


def tcp_sack_maybe_coalesce(tp: TcpSock) -> None:
    sacks = tp.selective_acks
    first = sacks[0]
    i = 1
    while i < len(sacks):
        if tcp_sack_extend(first, sacks[i][0], sacks[i][1]):
            del sacks[i]
            continue
        i += 1
    tp.rx_opt.num_sacks = len(sacks)


def tcp_sack_compress_send_ack(tp: TcpSock) -> None:
    if not tp.compressed_ack:
        return
    tp.compressed_ack_timer.stop()
    tp.ns.mib.tcpext.TCPAckCompressed += tp.compressed_ack - 1
    tp.compressed_ack = 0
    tcp_ctl.tcp_send_ack(tp)


def tcp_sack_new_ofo_skb(tp: TcpSock, seq: int, end_seq: int) -> None:
    """RFC 2018 4: the first block reports the most recently received segment."""
    sacks = tp.selective_acks
    for i, sp in enumerate(sacks):
        if tcp_sack_extend(sp, seq, end_seq):
            if i >= TCP_SACK_BLOCKS_EXPECTED:
                tcp_sack_compress_send_ack(tp)
            sacks.insert(0, sacks.pop(i))
            if len(sacks) > 1:
                tcp_sack_maybe_coalesce(tp)
            return
    if len(sacks) >= TCP_SACK_BLOCKS_EXPECTED:
        tcp_sack_compress_send_ack(tp)
    if len(sacks) >= TCP_NUM_SACKS:
        sacks.pop()
    sacks.insert(0, [seq, end_seq])
    tp.rx_opt.num_sacks = len(sacks)


def tcp_sack_remove(tp: TcpSock) -> None:
    """RCV.NXT advanced: blocks it covers are gone."""
    if not tp.out_of_order_queue:
        tp.selective_acks.clear()
        tp.rx_opt.num_sacks = 0
        return
    tp.selective_acks[:] = [sp for sp in tp.selective_acks if seq_before(tp.rcv_nxt, sp[0])]
    tp.rx_opt.num_sacks = len(tp.selective_acks)


# ---------------------------------------------------------------------------------------- queues
def tcp_queue_rcv(tp: TcpSock, seg: RxSeg) -> None:
    """Append to the receive queue, coalescing with the tail segment when contiguous (TCPRcvCoalesce)."""
    q = tp.sk_receive_queue
    tail = q[-1] if q else None
    tp.bytes_received += (seg.end_seq - tp.rcv_nxt) & U32
    tp.rcv_nxt = seg.end_seq
    if seg.tstamp is None:
        seg.tstamp = tp.ns.loop.now_ns
    if tail is not None and tail.end_seq == seg.seq and not tail.fin:
        tail.tstamp = seg.tstamp  # tcp_try_coalesce keeps the newer receive timestamp
        delta = coalesce_truesize(seg.truesize)
        tp.sk_rmem_alloc += delta
        tail.data += seg.data
        tail.end_seq = seg.end_seq
        tail.fin = seg.fin
        tail.truesize += delta
        tp.ns.mib.tcpext.TCPRcvCoalesce += 1
        return
    tp.sk_rmem_alloc += seg.truesize
    q.append(seg)


def coalesce_truesize(truesize: int) -> int:
    """What a segment merged into the previous one costs (skb_try_coalesce's delta_truesize).

    The merged skb's head (data and skb_shared_info, one page fragment) is stolen as a fragment of
    the previous skb and its struct sk_buff freed: it is charged its truesize less
    SKB_DATA_ALIGN(sizeof(struct sk_buff)). The window, computed from single skbs' len/truesize
    (scaling_ratio), thus keeps some slack over what a coalesced queue really uses, which is why
    Linux's receive memory does not overrun sk_rcvbuf while the offered window is honoured."""
    return truesize - SKB_STRUCT


def tcp_ofo_queue(tp: TcpSock) -> None:
    """Move now-in-order segments from the out-of-order queue to the receive queue."""
    from tuxnet.ipv4.tcp import tcp_input

    dsack_high = tp.rcv_nxt
    ofo = tp.out_of_order_queue
    while ofo:
        seg = ofo[0]
        if seq_after(seg.seq, tp.rcv_nxt):
            break
        if seq_before(seg.seq, dsack_high):
            dsack = dsack_high
            if seq_before(seg.end_seq, dsack_high):
                dsack_high = seg.end_seq
            tcp_dsack_extend(tp, seg.seq, dsack)
        ofo.pop(0)
        tp.sk_rmem_alloc -= seg.truesize
        if not seq_after(seg.end_seq, tp.rcv_nxt):
            continue  # nothing new in it (TCP_OFO_DROP)
        if seq_before(seg.seq, tp.rcv_nxt):
            del seg.data[:(tp.rcv_nxt - seg.seq) & U32]
            seg.seq = tp.rcv_nxt
        tcp_queue_rcv(tp, seg)
        if seg.fin:
            tcp_input.tcp_fin(tp)
            break


def _ofo_index(tp: TcpSock, seq: int) -> int:
    ofo = tp.out_of_order_queue
    base = tp.rcv_nxt
    return bisect_left(ofo, (seq - base) & U32, key=lambda s: (s.seq - base) & U32)


def tcp_prune_ofo_queue(tp: TcpSock, in_seq: int) -> bool:
    """Drop the highest out-of-order segments (not those below the incoming one) to make room."""
    ofo = tp.out_of_order_queue
    if not ofo:
        return False
    goal = tp.sk_rcvbuf >> 3
    pruned = False
    while ofo:
        seg = ofo[-1]
        if seq_after(in_seq, seg.seq):
            break
        ofo.pop()
        pruned = True
        goal -= seg.truesize
        tp.sk_rmem_alloc -= seg.truesize
        if goal <= 0 and tp.sk_rmem_alloc <= tp.sk_rcvbuf:
            break
    if pruned:
        tp.ns.mib.tcpext.OfoPruned += 1
        if tp.rx_opt.sack_ok:
            tp.selective_acks.clear()
            tp.rx_opt.num_sacks = 0
            tp.rx_opt.dsack = False
    return pruned


def tcp_can_ingest(tp: TcpSock, seg_len: int) -> bool:
    """Whether a segment may be queued without pruning: sk_rmem_alloc has not gone past sk_rcvbuf.

    The segment's own length does not count (``seg_len`` is unused): one segment may overshoot the
    buffer. 6.17's "tcp: stronger sk_rcvbuf checks" required ``rmem + skb->len <= rcvbuf``; it was
    reverted by "tcp: give up on stronger sk_rcvbuf checks (for now)" (upstream 026dfef287c0,
    backported to 6.18 stable, so in the 6.18.y kernels tuxnet mirrors) because it dropped
    in-window data: once tcp_clamp_window has set sk_rcvbuf to sk_rmem_alloc, no segment could
    ever fit, every in-window segment became a zero-window NOMEM drop, and the shrunk window then
    dropped the peer's ACKs as beyond it (a two-way bulk transfer stalled for good)."""
    del seg_len
    return tp.sk_rmem_alloc <= tp.sk_rcvbuf


def tcp_try_rmem_schedule(tp: TcpSock, seg: RxSeg) -> bool:
    """False when the segment cannot be queued (the receive buffer is full even after pruning):
    tcp_prune_queue clamps the window, then drops out-of-order data (collapsing is not modelled)."""
    n = len(seg.data)
    if tcp_can_ingest(tp, n):
        return True
    ext = tp.ns.mib.tcpext
    ext.PruneCalled += 1
    tcp_clamp_window(tp)
    if tcp_can_ingest(tp, n):
        return True
    tcp_prune_ofo_queue(tp, seg.seq)
    if tcp_can_ingest(tp, n):
        return True
    ext.RcvPruned += 1
    tp.pred_flags = False
    return False


def tcp_data_queue_ofo(tp: TcpSock, seg: RxSeg) -> None:
    ext = tp.ns.mib.tcpext
    if not tcp_try_rmem_schedule(tp, seg):
        ext.TCPOFODrop += 1
        tp.sk_data_ready()
        tp.sk_drops += 1
        return
    tp.pred_flags = False
    tp.inet_csk_schedule_ack()
    tp.rcv_ooopack += 1
    ext.TCPOFOQueue += 1
    seq, end_seq = seg.seq, seg.end_seq
    ofo = tp.out_of_order_queue
    if not ofo:
        if tp.tcp_is_sack():
            tp.selective_acks[:] = [[seq, end_seq]]
            tp.rx_opt.num_sacks = 1
        ofo.append(seg)
        tp.sk_rmem_alloc += seg.truesize
        if tp.tcp_is_sack():
            tcp_grow_window(tp, len(seg.data), seg.truesize)
        return
    queued = True
    last = ofo[-1]
    if last.end_seq == seq and not last.fin:
        # tcp_ooo_try_coalesce with the last segment (the common case)
        delta = coalesce_truesize(seg.truesize)
        last.data += seg.data
        last.end_seq = end_seq
        last.fin = seg.fin
        last.truesize += delta
        tp.sk_rmem_alloc += delta
        ext.TCPRcvCoalesce += 1
    elif not seq_before(seq, last.end_seq):
        ofo.append(seg)
        tp.sk_rmem_alloc += seg.truesize
    else:
        i = _ofo_index(tp, seq)
        cov = ofo[i] if i < len(ofo) and ofo[i].seq == seq else (ofo[i - 1] if i > 0 else None)
        if cov is not None and seq_before(seq, cov.end_seq):
            if not seq_after(end_seq, cov.end_seq):
                # all the bits are present: drop
                ext.TCPOFOMerge += 1
                tp.ns.kfree_skb(_dummy_skb(), SkbDropReason.TCP_OFOMERGE)  # type: ignore[arg-type]
                tcp_dsack_set(tp, seq, end_seq)
                queued = False
            elif seq_after(seq, cov.seq):
                tcp_dsack_set(tp, seq, cov.end_seq)  # partial overlap
        if queued:
            ofo.insert(i, seg)
            tp.sk_rmem_alloc += seg.truesize
            # remove the segments this one covers
            j = i + 1
            while j < len(ofo):
                nxt = ofo[j]
                if not seq_after(end_seq, nxt.seq):
                    break
                if seq_before(end_seq, nxt.end_seq):
                    tcp_dsack_extend(tp, nxt.seq, end_seq)
                    break
                del ofo[j]
                tp.sk_rmem_alloc -= nxt.truesize
                tcp_dsack_extend(tp, nxt.seq, nxt.end_seq)
                ext.TCPOFOMerge += 1
                tp.ns.kfree_skb(_dummy_skb(), SkbDropReason.TCP_OFOMERGE)  # type: ignore[arg-type]
    if tp.tcp_is_sack():
        tcp_sack_new_ofo_skb(tp, seq, end_seq)
        if queued:
            # non-SACK flows keep the window to force dupacks and fast retransmit
            tcp_grow_window(tp, len(seg.data), seg.truesize)


def _dummy_skb() -> object:
    from tuxnet.skb import SkBuff

    return SkBuff.alloc(0)


def tcp_data_queue(tp: TcpSock, cb: TcpCb, data: bytearray, truesize: int, skb: object) -> None:
    """Queue the segment's payload (and FIN) for the application, in order or out of order."""
    ns = tp.ns
    if cb.seq == cb.end_seq:
        return
    fin = bool(cb.tcp_flags & TCPHDR_FIN)
    tcp_ecn.tcp_ecn_accept_cwr(tp, cb)
    tp.rx_opt.dsack = False
    seg = RxSeg(cb.seq, cb.end_seq, data, fin, truesize)
    seg.tstamp = ns.loop.now_ns  # skb->tstamp: the software receive timestamp
    if cb.seq == tp.rcv_nxt:
        if tp.tcp_receive_window() == 0:
            ns.mib.tcpext.TCPZeroWindowDrop += 1
            return _out_of_window(tp, skb, SkbDropReason.TCP_ZEROWINDOW)
        return _queue_and_out(tp, cb, seg, skb)
    if not seq_after(cb.end_seq, tp.rcv_nxt):
        # a retransmission of what we have: force an immediate ACK with a D-SACK
        ns.mib.tcpext.DelayedACKLost += 1
        tcp_dsack_set(tp, cb.seq, cb.end_seq)
        return _out_of_window(tp, skb, SkbDropReason.TCP_OLD_DATA)
    if not seq_before(cb.seq, (tp.rcv_nxt + tp.tcp_receive_window()) & U32):
        # out of window, e.g. a zero-window probe
        return _out_of_window(tp, skb, SkbDropReason.TCP_OVERWINDOW)
    if seq_before(cb.seq, tp.rcv_nxt):
        # partial packet: seq < rcv_nxt < end_seq
        tcp_dsack_set(tp, cb.seq, tp.rcv_nxt)
        if not tp.tcp_receive_window():
            ns.mib.tcpext.TCPZeroWindowDrop += 1
            return _out_of_window(tp, skb, SkbDropReason.TCP_ZEROWINDOW)
        del seg.data[:(tp.rcv_nxt - cb.seq) & U32]
        seg.seq = tp.rcv_nxt
        return _queue_and_out(tp, cb, seg, skb)
    tcp_ecn.tcp_ecn_check_ce(tp, cb, len(seg.data))  # tcp_data_queue_ofo
    tcp_data_queue_ofo(tp, seg)


def _queue_and_out(tp: TcpSock, cb: TcpCb, seg: RxSeg, skb: object) -> None:
    from tuxnet.ipv4.tcp import tcp_input

    if not tcp_try_rmem_schedule(tp, seg):
        # no memory: a zero-window ACK at once (ICSK_ACK_NOMEM); the data is dropped unless the
        # queue is empty (then it is taken anyway, sk_forced_mem_schedule)
        tp.icsk_ack.pending |= ICSK_ACK_NOMEM | ICSK_ACK_NOW
        tp.inet_csk_schedule_ack()
        tp.sk_data_ready()
        if tp.sk_receive_queue and seg.data:
            tp.ns.mib.tcpext.TCPRcvQDrop += 1
            tp.ns.kfree_skb(skb, SkbDropReason.PROTO_MEM)  # type: ignore[arg-type]
            return
    tcp_queue_rcv(tp, seg)
    if seg.data:
        tcp_event_data_recv(tp, cb, len(seg.data), seg.truesize)
    if seg.fin:
        tcp_input.tcp_fin(tp)
    if tp.out_of_order_queue:
        tcp_ofo_queue(tp)
        # RFC 5681 4.2: ACK at once when a gap is filled
        if not tp.out_of_order_queue:
            tp.icsk_ack.pending |= ICSK_ACK_NOW
    if tp.rx_opt.num_sacks:
        tcp_sack_remove(tp)
    if not tp.sock_flag("SOCK_DEAD"):
        tcp_data_ready(tp)


def _out_of_window(tp: TcpSock, skb: object, reason: SkbDropReason) -> None:
    tcp_enter_quickack_mode(tp, TCP_MAX_QUICKACKS)
    tp.inet_csk_schedule_ack()
    tp.sk_drops += 1
    tp.ns.kfree_skb(skb, reason)  # type: ignore[arg-type]


def tcp_data_ready(tp: TcpSock) -> None:
    if ((tp.rcv_nxt - tp.copied_seq) & U32) >= tp.sk_rcvlowat or tp.sock_flag("SOCK_DONE"):
        tp.sk_data_ready()


# ---------------------------------------------------------------------------------------- ACK decisions
def __tcp_ack_snd_check(tp: TcpSock, ofo_possible: bool) -> None:
    ack = tp.icsk_ack
    if ((((tp.rcv_nxt - tp.rcv_wup) & U32) > ack.rcv_mss
         and (((tp.rcv_nxt - tp.copied_seq) & U32) < tp.sk_rcvlowat
              or tcp_output.__tcp_select_window(tp) >= tp.rcv_wnd))
            or tcp_in_quickack_mode(tp) or ack.pending & ICSK_ACK_NOW):
        tcp_ctl.tcp_send_ack(tp)
        return
    if not ofo_possible or not tp.out_of_order_queue:
        tcp_ctl.tcp_send_delayed_ack(tp)
        return
    v = tp.ns.sysctl.v
    if not tp.tcp_is_sack() or tp.compressed_ack >= int(v["net.ipv4.tcp_comp_sack_nr"]):  # type: ignore[call-overload]
        tcp_ctl.tcp_send_ack(tp)
        return
    if tp.compressed_ack_rcv_nxt != tp.rcv_nxt:
        tp.compressed_ack_rcv_nxt = tp.rcv_nxt
        tp.dup_ack_counter = 0
    if tp.dup_ack_counter < TCP_FASTRETRANS_THRESH:
        tp.dup_ack_counter += 1
        tcp_ctl.tcp_send_ack(tp)
        return
    tp.compressed_ack += 1
    if tp.compressed_ack_timer.pending():
        return
    # compress the ACK for 5 % of the RTT, at most tcp_comp_sack_delay_ns
    rtt = tp.rcv_rtt_est_rtt_us
    if tp.srtt_us and tp.srtt_us < rtt:
        rtt = tp.srtt_us
    delay = min(int(v["net.ipv4.tcp_comp_sack_delay_ns"]), rtt * (NSEC_PER_USEC >> 3) // 20)  # type: ignore[call-overload]
    tp.compressed_ack_timer.reset(tp.ns.loop.now_ns + delay)


def tcp_ack_snd_check(tp: TcpSock) -> None:
    if not tp.inet_csk_ack_scheduled():
        return  # we sent a data segment already
    __tcp_ack_snd_check(tp, True)


def __tcp_cleanup_rbuf(tp: TcpSock, copied: int) -> None:
    """After the application read: ACK if ACKs were owed or the window can open significantly."""
    time_to_ack = False
    ack = tp.icsk_ack
    if tp.inet_csk_ack_scheduled() and (
            ((tp.rcv_nxt - tp.rcv_wup) & U32) > ack.rcv_mss
            or (copied > 0 and (ack.pending & ICSK_ACK_PUSHED2
                                or (ack.pending & ICSK_ACK_PUSHED and not tp.inet_csk_in_pingpong_mode()))
                and not tp.sk_rmem_alloc)):
        time_to_ack = True
    if copied > 0 and not time_to_ack and not tp.sk_shutdown & RCV_SHUTDOWN:
        rcv_window_now = tp.tcp_receive_window()
        if 2 * rcv_window_now <= tp.window_clamp:
            new_window = tcp_output.__tcp_select_window(tp)
            if new_window and new_window >= 2 * rcv_window_now:
                time_to_ack = True
    if time_to_ack:
        tcp_ctl.tcp_send_ack(tp)
