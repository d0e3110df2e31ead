"""The SACK scoreboard (tcp_sacktag_write_queue and helpers of net/ipv4/tcp_input.c), and SACK
emulation for Reno connections (tcp_add_reno_sack / tcp_remove_reno_sacks).

Guarantees, as Linux 6.x: SACK blocks (RFC 2018) are validated (tcp_is_sackblock_valid: within
(SND.UNA, SND.NXT], D-SACKs down to undo_marker), a first block below the ACK or inside the second is
a D-SACK (RFC 2883: TCPDSACKRecv / TCPDSACKOfoRecv; dubious ones, beyond max_window or more than
we retransmitted, are ignored: TCPDSACKIgnoredDubious); each newly SACKed segment is tagged S,
clears L (and R when it was lost), counts sacked_out and delivered, advances RACK and feeds rate
sampling; SACKs for never-retransmitted segments below the highest SACK raise ``reordering``
(TCPSACKReorder). Invalid blocks count TCPSACKDiscard / TCPDSACKIgnoredOld / NoUndo.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tuxnet.ipv4.tcp import cong, tcp_ctl, tcp_recovery
from tuxnet.ipv4.tcp.rate import tcp_rate_skb_delivered
from tuxnet.ipv4.tcp.tcp_flags import (
    FLAG_DATA_SACKED,
    FLAG_DSACK_TLP,
    FLAG_DSACKING_ACK,
    FLAG_ORIG_SACK_ACKED,
    SackTagState,
)
from tuxnet.ipv4.tcp.tcp_sock import (
    TCP_DSACK_SEEN,
    TCPCB_LOST,
    TCPCB_RETRANS,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
    U32,
)
from tuxnet.wire.seqnum import seq_after, seq_before

if TYPE_CHECKING:
    from tuxnet.ipv4.tcp.tcp_sock import TcpCb, TcpSkb, TcpSock


def tcp_highest_sack_seq(tp: TcpSock) -> int:
    if not tp.sacked_out:
        return tp.snd_una
    if tp.highest_sack is None:
        return tp.snd_nxt
    return tp.highest_sack.seq


def _next_in_rtx(tp: TcpSock, skb: TcpSkb) -> TcpSkb | None:
    i = tcp_ctl.rtx_index(tp, skb) + 1
    rtx = tp.tcp_rtx_queue
    return rtx[i] if i < len(rtx) else None


def tcp_check_sack_reordering(tp: TcpSock, low_seq: int, ts: bool) -> None:
    mss = tp.mss_cache
    fack = tcp_highest_sack_seq(tp)
    if not seq_before(low_seq, fack):
        return
    metric = (fack - low_seq) & U32
    if metric > tp.reordering * mss and mss:
        tp.reordering = min((metric + mss - 1) // mss,
                            int(tp.ns.sysctl.v["net.ipv4.tcp_max_reordering"]))  # type: ignore[call-overload]
    tp.reord_seen += 1
    ext = tp.ns.mib.tcpext
    if ts:
        ext.TCPTSReorder += 1
    else:
        ext.TCPSACKReorder += 1


def tcp_dsack_seen(tp: TcpSock, start: int, end: int, state: SackTagState) -> int:
    if not seq_before(start, end):
        return 0
    seq_len = (end - start) & U32
    if seq_len > tp.max_window:
        return 0  # dubious: larger than any window we offered
    dup_segs = 1
    if seq_len > tp.mss_cache:
        dup_segs = -(-seq_len // tp.mss_cache)
    elif tp.tlp_high_seq and tp.tlp_high_seq == end:
        state.flag |= FLAG_DSACK_TLP
    tp.dsack_dups += dup_segs
    if tp.dsack_dups > tp.total_retrans:
        return 0  # more duplicates than we ever retransmitted
    tp.rx_opt.sack_ok |= TCP_DSACK_SEEN
    if tp.reord_seen and not state.flag & FLAG_DSACK_TLP:
        tp.rack.dsack_seen = True
    state.flag |= FLAG_DSACKING_ACK
    state.sack_delivered += dup_segs
    return dup_segs


def tcp_check_dsack(tp: TcpSock, cb: TcpCb, blocks: Sequence[tuple[int, int]], prior_snd_una: int,
                    state: SackTagState) -> bool:
    ext = tp.ns.mib.tcpext
    s0, e0 = blocks[0]
    if seq_before(s0, cb.ack_seq):
        ext.TCPDSACKRecv += 1
    elif len(blocks) > 1:
        s1, e1 = blocks[1]
        if seq_after(e0, e1) or seq_before(s0, s1):
            return False
        ext.TCPDSACKOfoRecv += 1
    else:
        return False
    dup_segs = tcp_dsack_seen(tp, s0, e0, state)
    if not dup_segs:
        ext.TCPDSACKIgnoredDubious += 1
        return False
    ext.TCPDSACKRecvSegs += dup_segs
    if (tp.undo_marker and tp.undo_retrans > 0 and not seq_after(e0, prior_snd_una)
            and seq_after(e0, tp.undo_marker)):
        tp.undo_retrans = max(0, tp.undo_retrans - dup_segs)
    return True


def tcp_is_sackblock_valid(tp: TcpSock, is_dsack: bool, start: int, end: int) -> bool:
    if seq_after(end, tp.snd_nxt) or not seq_before(start, end):
        return False
    if not seq_before(start, tp.snd_nxt):
        return False
    if seq_after(start, tp.snd_una):
        return True
    if not is_dsack or not tp.undo_marker:
        return False
    if seq_after(end, tp.snd_una):
        return False
    if not seq_before(start, tp.undo_marker):
        return True
    if not seq_after(end, tp.undo_marker):
        return False
    return not seq_before(start, (end - tp.max_window) & U32)


def tcp_sacktag_one(tp: TcpSock, state: SackTagState, sacked: int, start: int, end: int, dup_sack: bool,
                    xmit_time_us: int) -> int:
    if dup_sack and sacked & TCPCB_RETRANS:
        if tp.undo_marker and tp.undo_retrans > 0 and seq_after(end, tp.undo_marker):
            tp.undo_retrans = max(0, tp.undo_retrans - 1)
        if sacked & TCPCB_SACKED_ACKED and seq_before(start, state.reord):
            state.reord = start
    if not seq_after(end, tp.snd_una):
        return sacked
    if not sacked & TCPCB_SACKED_ACKED:
        tcp_recovery.tcp_rack_advance(tp, sacked, end, xmit_time_us)
        if sacked & TCPCB_SACKED_RETRANS:
            # a retransmission not marked lost is still believed in flight
            if sacked & TCPCB_LOST:
                sacked &= ~(TCPCB_LOST | TCPCB_SACKED_RETRANS)
                tp.lost_out -= 1
                tp.retrans_out -= 1
        else:
            if not sacked & TCPCB_RETRANS:
                # a new SACK for a never-retransmitted segment in a hole: reordering
                if seq_before(start, tcp_highest_sack_seq(tp)) and seq_before(start, state.reord):
                    state.reord = start
                if not seq_after(end, tp.high_seq):
                    state.flag |= FLAG_ORIG_SACK_ACKED
                if state.first_sackt == 0:
                    state.first_sackt = xmit_time_us
                state.last_sackt = xmit_time_us
            if sacked & TCPCB_LOST:
                sacked &= ~TCPCB_LOST
                tp.lost_out -= 1
        sacked |= TCPCB_SACKED_ACKED
        state.flag |= FLAG_DATA_SACKED
        tp.sacked_out += 1
        state.sack_delivered += 1
    if dup_sack and sacked & TCPCB_SACKED_RETRANS:
        sacked &= ~TCPCB_SACKED_RETRANS
        tp.retrans_out -= 1
    return sacked


def tcp_sacktag_walk(tp: TcpSock, state: SackTagState, start: int, end: int, dup_sack: bool) -> None:
    rtx = tp.tcp_rtx_queue
    if not rtx:
        return
    base = rtx[0].seq
    # first segment ending after start (segments are contiguous and ordered)
    lo, hi = 0, len(rtx)
    rel = (start - base) & U32
    while lo < hi:
        mid = (lo + hi) // 2
        if ((rtx[mid].end_seq - base) & U32) <= rel:
            lo = mid + 1
        else:
            hi = mid
    tq = tp.tsorted_sent_queue
    for i in range(lo, len(rtx)):
        skb = rtx[i]
        if not seq_before(skb.seq, end):
            break
        if seq_after(start, skb.seq) or seq_before(end, skb.end_seq):
            continue  # only partly covered: with one-MSS segments Linux does not split here either
        skb.sacked = tcp_sacktag_one(tp, state, skb.sacked, skb.seq, skb.end_seq, dup_sack,
                                     skb.skb_mstamp_ns // 1000)
        tcp_rate_skb_delivered(tp, skb, state.rate)
        if skb.sacked & TCPCB_SACKED_ACKED:
            tq.pop(id(skb), None)
        if not seq_before(skb.seq, tcp_highest_sack_seq(tp)):
            tp.highest_sack = rtx[i + 1] if i + 1 < len(rtx) else None


def tcp_sacktag_write_queue(tp: TcpSock, cb: TcpCb, prior_snd_una: int, state: SackTagState) -> int:
    """Tag the retransmit queue with the SACK blocks of this ACK; returns the FLAG_* it found."""
    ext = tp.ns.mib.tcpext
    blocks = list(cb.sack_blocks[:4])
    state.flag = 0
    state.reord = tp.snd_nxt
    if not tp.sacked_out:
        tp.highest_sack = tp.tcp_rtx_queue_head()
    found_dup_sack = tcp_check_dsack(tp, cb, blocks, prior_snd_una, state)
    if seq_before(cb.ack_seq, (prior_snd_una - tp.max_window) & U32):
        return 0
    if not tp.packets_out:
        return state.flag
    used: list[tuple[int, int, bool]] = []
    for i, (s, e) in enumerate(blocks):
        dup = i == 0 and found_dup_sack
        if not tcp_is_sackblock_valid(tp, dup, s, e):
            if dup:
                if not tp.undo_marker:
                    ext.TCPDSACKIgnoredNoUndo += 1
                else:
                    ext.TCPDSACKIgnoredOld += 1
            else:
                # SACKs made old by ACK reordering are not counted
                if cb.ack_seq != tp.snd_una and not seq_after(e, tp.snd_una):
                    continue
                ext.TCPSACKDiscard += 1
            continue
        if not seq_after(e, prior_snd_una):
            continue
        used.append((s, e, dup))
    used.sort(key=lambda b: (b[0] - tp.snd_una) & U32)
    for s, e, dup in used:
        tcp_sacktag_walk(tp, state, s, e, dup)
    tp.recv_sack_cache = [(s, e) for s, e, _ in used][-4:]
    if tp.icsk_ca_state != cong.TCP_CA_Loss or tp.undo_marker:
        tcp_check_sack_reordering(tp, state.reord, False)
    return state.flag


def tcp_limit_reno_sacked(tp: TcpSock) -> bool:
    holes = min(max(tp.lost_out, 1), tp.packets_out)
    if tp.sacked_out + holes > tp.packets_out:
        tp.sacked_out = tp.packets_out - holes
        return True
    return False


def tcp_check_reno_reordering(tp: TcpSock, addend: int) -> None:
    if not tcp_limit_reno_sacked(tp):
        return
    tp.reordering = min(tp.packets_out + addend,
                        int(tp.ns.sysctl.v["net.ipv4.tcp_max_reordering"]))  # type: ignore[call-overload]
    tp.reord_seen += 1
    tp.ns.mib.tcpext.TCPRenoReorder += 1


def tcp_add_reno_sack(tp: TcpSock, num_dupack: int, ece_ack: bool) -> None:
    if num_dupack:
        prior = tp.sacked_out
        tp.sacked_out += num_dupack
        tcp_check_reno_reordering(tp, 0)
        delivered = tp.sacked_out - prior
        if delivered > 0:
            tp.delivered += delivered
            if ece_ack:
                tp.delivered_ce += delivered


def tcp_remove_reno_sacks(tp: TcpSock, acked: int, ece_ack: bool) -> None:
    if acked > 0:
        d = max(acked - tp.sacked_out, 1)
        tp.delivered += d
        if ece_ack:
            tp.delivered_ce += d
        if acked - 1 >= tp.sacked_out:
            tp.sacked_out = 0
        else:
            tp.sacked_out -= acked - 1
    tcp_check_reno_reordering(tp, acked)
