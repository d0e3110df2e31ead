"""RFC 3168 ECN for TCP, as include/net/tcp_ecn.h and net/ipv4/tcp_input.c do it.

- tcp_ecn_send_syn: with net.ipv4.tcp_ecn 1 (or 4: AccECN in, ECN out) or an algorithm that needs
  ECN the SYN carries ECE|CWR and ``ecn_flags`` gets TCP_ECN_OK; a SYN-ACK without ECE, or with
  CWR, turns it off again (tcp_ecn_rcv_synack, in tcp_rcv_synsent_state_process).
- tcp_ecn_clear_syn: a retransmitted SYN drops ECE|CWR when net.ipv4.tcp_ecn_fallback is set.
- tcp_ecn_create_request: a listener answers ECE when the SYN had ECE|CWR, was not itself ECT,
  and net.ipv4.tcp_ecn is non-zero (or the algorithm needs ECN).
- tcp_ecn_send: a new data segment marks the socket's TOS ECT(0) (INET_ECN_xmit) and carries CWR
  when one is queued; an ACK or a retransmission clears the ECN bits (INET_ECN_dontxmit); ECE is
  set while the peer owes us a CWR (TCP_ECN_DEMAND_CWR).
- tcp_ecn_check_ce / tcp_ecn_accept_cwr: CE on received data demands CWR (quick ACKs), CWR on a
  received segment ends the demand.
AccECN is not modelled.
"""

from __future__ import annotations

from typing import Any

from tuxnet.ipv4.tcp import cong
from tuxnet.ipv4.tcp.tcp_sock import ICSK_ACK_NOW, TCPHDR_CWR, TCPHDR_ECE, TCPHDR_SYN

TCP_ECN_OK = 1
TCP_ECN_QUEUE_CWR = 2
TCP_ECN_DEMAND_CWR = 4
TCP_ECN_SEEN = 8

INET_ECN_NOT_ECT = 0
INET_ECN_ECT_1 = 1
INET_ECN_ECT_0 = 2
INET_ECN_CE = 3
INET_ECN_MASK = 3

TCPHDR_SYN_ECN = TCPHDR_SYN | TCPHDR_ECE | TCPHDR_CWR


def INET_ECN_xmit(tp: Any) -> None:
    tp.tos = (tp.tos & ~INET_ECN_MASK) | INET_ECN_ECT_0


def INET_ECN_dontxmit(tp: Any) -> None:
    tp.tos &= ~INET_ECN_MASK


def tcp_ecn_send_syn(tp: Any, skb: Any) -> None:
    """tcp_ecn_send_syn: offer ECN on an active open."""
    tcp_ecn = int(tp.ns.sysctl.v["net.ipv4.tcp_ecn"])
    needs = cong.tcp_ca_needs_ecn(tp)
    use_ecn = tcp_ecn in (1, 4) or needs
    tp.ecn_flags = 0
    if use_ecn:
        if needs:
            INET_ECN_xmit(tp)
        skb.tcp_flags |= TCPHDR_ECE | TCPHDR_CWR
        tp.ecn_flags = TCP_ECN_OK


def tcp_ecn_clear_syn(tp: Any, skb: Any) -> None:
    """tcp_ecn_clear_syn: a retransmitted SYN goes without ECN (ecn_flags clear at the SYN-ACK)."""
    if tp.ns.sysctl.v["net.ipv4.tcp_ecn_fallback"]:
        skb.tcp_flags &= ~(TCPHDR_ECE | TCPHDR_CWR)


def tcp_ecn_rcv_synack(tp: Any, flags: int) -> None:
    """tcp_ecn_rcv_synack: ECN only when the SYN-ACK has ECE and not CWR."""
    if tp.ecn_flags & TCP_ECN_OK and (not flags & TCPHDR_ECE or flags & TCPHDR_CWR):
        tp.ecn_flags = 0


def tcp_ecn_create_request(listener: Any, ip_dsfield: int, flags: int, res1: int = 0) -> bool:
    """tcp_ecn_create_request: whether the request sock (and child) use ECN."""
    if not (flags & TCPHDR_ECE and flags & TCPHDR_CWR):
        return False
    ect = (ip_dsfield & INET_ECN_MASK) != INET_ECN_NOT_ECT
    ecn_ok = bool(listener.ns.sysctl.v["net.ipv4.tcp_ecn"])
    return bool(((not ect or res1) and ecn_ok) or cong.tcp_ca_needs_ecn(listener))


def tcp_ecn_send(tp: Any, skb: Any, flags: int, snd_nxt_before: bool) -> int:
    """tcp_ecn_send: ECT on new data, CWR once, ECE while CWR is demanded; returns the flags."""
    if not tp.ecn_flags & TCP_ECN_OK:
        return flags
    if skb.data and not snd_nxt_before:
        INET_ECN_xmit(tp)
        if tp.ecn_flags & TCP_ECN_QUEUE_CWR:
            tp.ecn_flags &= ~TCP_ECN_QUEUE_CWR
            flags |= TCPHDR_CWR
    elif not cong.tcp_ca_needs_ecn(tp):
        INET_ECN_dontxmit(tp)
    if tp.ecn_flags & TCP_ECN_DEMAND_CWR:
        flags |= TCPHDR_ECE
    return flags


def tcp_ecn_accept_cwr(tp: Any, cb: Any) -> None:
    """tcp_ecn_accept_cwr: the peer reduced its window; ACK data carrying CWR at once."""
    if cb.tcp_flags & TCPHDR_CWR:
        tp.ecn_flags &= ~TCP_ECN_DEMAND_CWR
        if cb.seq != cb.end_seq:
            tp.icsk_ack.pending |= ICSK_ACK_NOW


def tcp_ecn_check_ce(tp: Any, cb: Any, seglen: int) -> None:
    """tcp_ecn_check_ce / __tcp_ecn_check_ce: CE demands CWR from the peer."""
    if not tp.ecn_flags & TCP_ECN_OK:
        return
    from tuxnet.ipv4.tcp.tcp_data import tcp_enter_quickack_mode

    ecn = cb.ip_dsfield & INET_ECN_MASK
    if ecn == INET_ECN_NOT_ECT:
        if tp.ecn_flags & TCP_ECN_SEEN and seglen > 1:
            tcp_enter_quickack_mode(tp, 2)
    elif ecn == INET_ECN_CE:
        if cong.tcp_ca_needs_ecn(tp):
            cong.tcp_ca_event(tp, cong.CA_EVENT_ECN_IS_CE)
        if not tp.ecn_flags & TCP_ECN_DEMAND_CWR:
            tcp_enter_quickack_mode(tp, 2)
            tp.ecn_flags |= TCP_ECN_DEMAND_CWR
        tp.ecn_flags |= TCP_ECN_SEEN
    else:
        if cong.tcp_ca_needs_ecn(tp):
            cong.tcp_ca_event(tp, cong.CA_EVENT_ECN_NO_CE)
        tp.ecn_flags |= TCP_ECN_SEEN
