"""SO_TIMESTAMPING: transmit timestamps on the error queue, receive timestamps as a cmsg.

Mirrors net/core/sock.c (sock_set_timestamping, sk_getsockopt's SO_TIMESTAMPING,
__sock_tx_timestamp), net/core/skbuff.c (__skb_tstamp_tx, __skb_complete_tx_timestamp),
net/core/dev.c (the SCM_TSTAMP_SCHED stamp in __dev_queue_xmit), include/linux/skbuff.h
(skb_tx_timestamp, the driver's SCM_TSTAMP_SND), net/ipv4/tcp.c (tcp_tx_timestamp,
tcp_recv_timestamp), net/ipv4/tcp_input.c (tcp_ack_tstamp) and net/ipv4/tcp_output.c
(tcp_fragment_tstamp); flag values from include/uapi/linux/net_tstamp.h of 6.18.

Guarantees, as Linux 6.18:
- setsockopt(SOL_SOCKET, SO_TIMESTAMPING, int or struct so_timestamping): EINVAL for unknown bits,
  OPT_ID_TCP without OPT_ID, OPT_STATS without OPT_TSONLY, and OPT_ID on a TCP socket in CLOSE or
  LISTEN; EOPNOTSUPP for BIND_PHC (no PTP clock here). Turning OPT_ID on sets the key base
  ``sk_tskey``: snd_una for TCP (write_seq with OPT_ID_TCP), 0 otherwise. getsockopt returns
  struct so_timestamping (flags, bind_phc 0), cut to the caller's length.
- TCP: at the end of a send that took data, the write queue's tail segment is marked with the
  socket's TX flags and its key is the sequence number of its last byte (tcp_tx_timestamp); the
  mark follows the last byte when the segment is split. SCM_TSTAMP_SCHED is taken when a packet
  of a marked segment enters the device queue, SCM_TSTAMP_SND when the driver transmits it (every
  transmission, retransmissions included), SCM_TSTAMP_ACK when an ACK first covers the key.
- Each timestamp is an error-queue entry: ee_errno ENOMSG, ee_origin SO_EE_ORIGIN_TIMESTAMPING,
  ee_info the SCM_TSTAMP_* type, ee_data the key minus ``sk_tskey`` with OPT_ID (else 0), the
  loop-clock time as skb->tstamp (CLOCK_REALTIME in Linux; the lab's virtual clock here); recvmsg
  copies the packet (from its link-layer header for SCHED/SND, the payload for ACK) unless
  OPT_TSONLY, and returns SCM_TIMESTAMPING with SOF_TIMESTAMPING_SOFTWARE (errqueue.py).
- Receive: with SOF_TIMESTAMPING_RX_SOFTWARE|SOFTWARE (or SO_TIMESTAMP), tcp recvmsg returns the
  arrival time of the last segment it read as SCM_TIMESTAMPING (SCM_TIMESTAMP).
- OPT_STATS (with OPT_TSONLY, TCP): the entry's data and its SCM_TIMESTAMPING_OPT_STATS cmsg are
  tcp_get_timestamping_opt_stats's netlink attributes, in the kernel's order and sizes (TTL only
  on SCM_TSTAMP_ACK); the chrono times read 0.
- UDP: each datagram sent with TX_SCHED/TX_SOFTWARE gets those stamps, its key the socket's
  datagram count since OPT_ID was set (ee_data is the key itself, not relative).
- Not modelled: hardware timestamps (no PHC), OPT_CMSG/OPT_PKTINFO's IP_PKTINFO cmsg,
  SCM_TSTAMP_COMPLETION, raw and ping TX stamps.
"""

from __future__ import annotations

import errno
import struct
from typing import Any

from tuxnet.core.errors import oserror
from tuxnet.sock.constants import SCM_TIMESTAMP, SCM_TIMESTAMPING, SO_EE_ORIGIN_TIMESTAMPING, SOL_SOCKET
from tuxnet.sock.errqueue import SKB_TRUESIZE_OVERHEAD, SockExterr, sock_queue_err_skb

SOF_TIMESTAMPING_TX_HARDWARE = 1 << 0
SOF_TIMESTAMPING_TX_SOFTWARE = 1 << 1
SOF_TIMESTAMPING_RX_HARDWARE = 1 << 2
SOF_TIMESTAMPING_RX_SOFTWARE = 1 << 3
SOF_TIMESTAMPING_SOFTWARE = 1 << 4
SOF_TIMESTAMPING_SYS_HARDWARE = 1 << 5
SOF_TIMESTAMPING_RAW_HARDWARE = 1 << 6
SOF_TIMESTAMPING_OPT_ID = 1 << 7
SOF_TIMESTAMPING_TX_SCHED = 1 << 8
SOF_TIMESTAMPING_TX_ACK = 1 << 9
SOF_TIMESTAMPING_OPT_CMSG = 1 << 10
SOF_TIMESTAMPING_OPT_TSONLY = 1 << 11
SOF_TIMESTAMPING_OPT_STATS = 1 << 12
SOF_TIMESTAMPING_OPT_PKTINFO = 1 << 13
SOF_TIMESTAMPING_OPT_TX_SWHW = 1 << 14
SOF_TIMESTAMPING_BIND_PHC = 1 << 15
SOF_TIMESTAMPING_OPT_ID_TCP = 1 << 16
SOF_TIMESTAMPING_OPT_RX_FILTER = 1 << 17
SOF_TIMESTAMPING_TX_COMPLETION = 1 << 18
SOF_TIMESTAMPING_MASK = (SOF_TIMESTAMPING_TX_COMPLETION << 1) - 1
SOF_TIMESTAMPING_TX_RECORD_MASK = (SOF_TIMESTAMPING_TX_HARDWARE | SOF_TIMESTAMPING_TX_SOFTWARE
                                   | SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_ACK
                                   | SOF_TIMESTAMPING_TX_COMPLETION)

# skb_shared_info tx_flags (include/linux/skbuff.h)
SKBTX_HW_TSTAMP_NOBPF = 1 << 0
SKBTX_SW_TSTAMP = 1 << 1
SKBTX_IN_PROGRESS = 1 << 2
SKBTX_COMPLETION_TSTAMP = 1 << 3
SKBTX_SCHED_TSTAMP = 1 << 6
SKBTX_ANY_TSTAMP = SKBTX_HW_TSTAMP_NOBPF | SKBTX_SW_TSTAMP | SKBTX_SCHED_TSTAMP | SKBTX_COMPLETION_TSTAMP

SCM_TSTAMP_SND = 0
SCM_TSTAMP_SCHED = 1
SCM_TSTAMP_ACK = 2
TSTAMP_ACK_SK = 1

TCP_LISTEN = 10
TCP_CLOSE = 7
U32 = 0xFFFFFFFF
_SO_TIMESTAMPING = struct.Struct("=ii")  # struct so_timestamping {flags, bind_phc}
_TIMEVAL = struct.Struct("=qq")
_SCM_TIMESTAMPING = struct.Struct("=qqqqqq")


def _is_tcp(sk: Any) -> bool:
    return hasattr(sk, "write_seq")


# ---------------------------------------------------------------------------------- the option
def sock_set_timestamping(sk: Any, value: Any) -> None:
    """sock_set_timestamping (SO_TIMESTAMPING_OLD)."""
    if isinstance(value, int):
        val, phc = value, 0
    else:
        b = bytes(value)
        if len(b) < 4:
            raise oserror(errno.EINVAL)
        if len(b) >= _SO_TIMESTAMPING.size:
            val, phc = _SO_TIMESTAMPING.unpack_from(b)
        else:
            val, phc = struct.unpack_from("=i", b)[0], 0
    val &= U32
    if val & ~SOF_TIMESTAMPING_MASK:
        raise oserror(errno.EINVAL)
    if val & SOF_TIMESTAMPING_OPT_ID_TCP and not val & SOF_TIMESTAMPING_OPT_ID:
        raise oserror(errno.EINVAL)
    if val & SOF_TIMESTAMPING_OPT_ID and not sk.sk_tsflags & SOF_TIMESTAMPING_OPT_ID:
        if _is_tcp(sk):
            if sk.sk_state in (TCP_CLOSE, TCP_LISTEN):
                raise oserror(errno.EINVAL)
            sk.sk_tskey = sk.write_seq if val & SOF_TIMESTAMPING_OPT_ID_TCP else sk.snd_una
        else:
            sk.sk_tskey = 0
    if val & SOF_TIMESTAMPING_OPT_STATS and not val & SOF_TIMESTAMPING_OPT_TSONLY:
        raise oserror(errno.EINVAL)
    if val & SOF_TIMESTAMPING_BIND_PHC:
        del phc
        raise oserror(errno.EOPNOTSUPP)  # sock_timestamping_bind_phc: no PTP clock on any device
    sk.sk_tsflags = val


def sock_get_timestamping(sk: Any) -> bytes:
    return _SO_TIMESTAMPING.pack(sk.sk_tsflags, 0)


def sock_tx_flags(tsflags: int) -> int:
    """__sock_tx_timestamp: the skb tx_flags a socket's SO_TIMESTAMPING flags ask for."""
    flags = 0
    if tsflags & SOF_TIMESTAMPING_TX_HARDWARE:
        flags |= SKBTX_HW_TSTAMP_NOBPF
        if tsflags & SOF_TIMESTAMPING_OPT_TX_SWHW:
            flags |= SKBTX_SW_TSTAMP
    if tsflags & SOF_TIMESTAMPING_TX_SOFTWARE:
        flags |= SKBTX_SW_TSTAMP
    if tsflags & SOF_TIMESTAMPING_TX_SCHED:
        flags |= SKBTX_SCHED_TSTAMP
    if tsflags & SOF_TIMESTAMPING_TX_COMPLETION:
        flags |= SKBTX_COMPLETION_TSTAMP
    return flags


# ---------------------------------------------------------------------------------- datagrams
class TxStamp:
    """The skb_shared_info part of a datagram's timestamp request (tx_flags, tskey), as
    __ip_append_data copies it from the cork; the shape of a queued TCP segment's fields."""

    __slots__ = ("tx_flags", "tskey", "txstamp_ack", "zc", "skb_mstamp_ns")

    def __init__(self, tx_flags: int, tskey: int) -> None:
        self.tx_flags = tx_flags
        self.tskey = tskey
        self.txstamp_ack = 0
        self.zc = None
        self.skb_mstamp_ns = 0


def sock_tx_timestamp(sk: Any) -> TxStamp | None:
    """_sock_tx_timestamp for a datagram: its tx_flags, and with OPT_ID the next key of the socket
    (sk_tskey counts datagrams); None when no transmit stamp is asked for."""
    tsflags = sk.sk_tsflags
    flags = sock_tx_flags(tsflags)
    if not flags:
        return None
    key = 0
    if tsflags & SOF_TIMESTAMPING_OPT_ID and tsflags & SOF_TIMESTAMPING_TX_RECORD_MASK:
        key = sk.sk_tskey
        sk.sk_tskey = (key + 1) & U32
    return TxStamp(flags, key)


# ---------------------------------------------------------------------------------- TCP marks
def tcp_tx_timestamp(tp: Any) -> None:
    """tcp_tx_timestamp: mark the write queue's tail segment (the end of this send)."""
    tsflags = tp.sk_tsflags
    wq = tp.sk_write_queue
    if not tsflags or not wq:
        return
    skb = wq[-1]
    skb.tx_flags |= sock_tx_flags(tsflags)
    if tsflags & SOF_TIMESTAMPING_TX_ACK:
        skb.txstamp_ack |= TSTAMP_ACK_SK
    if tsflags & SOF_TIMESTAMPING_TX_RECORD_MASK:
        skb.tskey = (skb.seq + len(skb.data) - 1) & U32


def tcp_has_tx_tstamp(skb: Any) -> bool:
    return bool(skb.txstamp_ack or skb.tx_flags & SKBTX_ANY_TSTAMP)


def tcp_fragment_tstamp(skb: Any, buff: Any) -> None:
    """tcp_fragment_tstamp: the stamp request moves with the key into the second part."""
    if tcp_has_tx_tstamp(skb) and ((skb.tskey - buff.seq) & U32) < 0x80000000:
        flags = skb.tx_flags & SKBTX_ANY_TSTAMP
        skb.tx_flags &= ~flags
        buff.tx_flags |= flags
        skb.tskey, buff.tskey = buff.tskey, skb.tskey
        buff.txstamp_ack = skb.txstamp_ack
        skb.txstamp_ack = 0


# ---------------------------------------------------------------------------------- taking stamps
def _report(skb: Any, tstype: int) -> bool:
    """skb_tstamp_tx_report_so_timestamping: the segment asked for this kind of stamp."""
    if tstype == SCM_TSTAMP_SCHED:
        return bool(skb.tx_flags & SKBTX_SCHED_TSTAMP)
    if tstype == SCM_TSTAMP_SND:
        return bool(skb.tx_flags & SKBTX_SW_TSTAMP)
    if tstype == SCM_TSTAMP_ACK:
        return bool(skb.txstamp_ack & TSTAMP_ACK_SK)
    return False


# SCM_TIMESTAMPING_OPT_STATS attributes (include/uapi/linux/tcp.h), in the order
# tcp_get_timestamping_opt_stats puts them (checked against Linux 6.18's output)
TCP_NLA_BUSY, TCP_NLA_RWND_LIMITED, TCP_NLA_SNDBUF_LIMITED, TCP_NLA_DATA_SEGS_OUT = 1, 2, 3, 4
TCP_NLA_TOTAL_RETRANS, TCP_NLA_PACING_RATE, TCP_NLA_DELIVERY_RATE, TCP_NLA_SND_CWND = 5, 6, 7, 8
TCP_NLA_REORDERING, TCP_NLA_MIN_RTT, TCP_NLA_RECUR_RETRANS, TCP_NLA_DELIVERY_RATE_APP_LMT = 9, 10, 11, 12
TCP_NLA_SNDQ_SIZE, TCP_NLA_CA_STATE, TCP_NLA_SND_SSTHRESH, TCP_NLA_DELIVERED = 13, 14, 15, 16
TCP_NLA_DELIVERED_CE, TCP_NLA_BYTES_SENT, TCP_NLA_BYTES_RETRANS, TCP_NLA_DSACK_DUPS = 17, 18, 19, 20
TCP_NLA_REORD_SEEN, TCP_NLA_SRTT, TCP_NLA_TIMEOUT_REHASH, TCP_NLA_BYTES_NOTSENT = 21, 22, 23, 24
TCP_NLA_EDT, TCP_NLA_TTL, TCP_NLA_REHASH = 25, 26, 27
_NLA_FMT = {1: "=B", 2: "=H", 4: "=I", 8: "=Q"}


def _nla(out: bytearray, atype: int, size: int, value: int) -> None:
    """nla_put_u8/u16/u32/u64_64bit (no pad attribute: x86-64 has efficient unaligned access)."""
    out += struct.pack("=HH", 4 + size, atype) + struct.pack(_NLA_FMT[size], value & ((1 << 8 * size) - 1))
    out += bytes(-len(out) % 4)


def tcp_get_timestamping_opt_stats(tp: Any, owner: Any, ack_ttl: int | None) -> bytes:
    """tcp_get_timestamping_opt_stats: the socket's counters as netlink attributes. The chrono
    times (busy, rwnd- and sndbuf-limited) are not kept here and read 0; the rehash counters are 0
    (no PLB, no timeout rehash)."""
    from tuxnet.ipv4.tcp import cong

    out = bytearray()
    for atype in (TCP_NLA_BUSY, TCP_NLA_RWND_LIMITED, TCP_NLA_SNDBUF_LIMITED):
        _nla(out, atype, 8, 0)
    _nla(out, TCP_NLA_DATA_SEGS_OUT, 8, tp.data_segs_out)
    _nla(out, TCP_NLA_TOTAL_RETRANS, 8, tp.total_retrans)
    _nla(out, TCP_NLA_PACING_RATE, 8, tp.sk_pacing_rate)
    rate = 0
    if tp.rate_delivered and tp.rate_interval_us:  # tcp_compute_delivery_rate
        rate = tp.rate_delivered * tp.mss_cache * 1_000_000 // tp.rate_interval_us
    _nla(out, TCP_NLA_DELIVERY_RATE, 8, rate)
    _nla(out, TCP_NLA_SND_CWND, 4, tp.snd_cwnd)
    _nla(out, TCP_NLA_REORDERING, 4, tp.reordering)
    _nla(out, TCP_NLA_MIN_RTT, 4, cong.tcp_min_rtt(tp))
    _nla(out, TCP_NLA_RECUR_RETRANS, 1, tp.icsk_retransmits)
    _nla(out, TCP_NLA_DELIVERY_RATE_APP_LMT, 1, 1 if tp.rate_app_limited else 0)
    _nla(out, TCP_NLA_SND_SSTHRESH, 4, tp.snd_ssthresh)
    _nla(out, TCP_NLA_DELIVERED, 4, tp.delivered)
    _nla(out, TCP_NLA_DELIVERED_CE, 4, tp.delivered_ce)
    _nla(out, TCP_NLA_SNDQ_SIZE, 4, (tp.write_seq - tp.snd_una) & U32)
    _nla(out, TCP_NLA_CA_STATE, 1, tp.icsk_ca_state)
    _nla(out, TCP_NLA_BYTES_SENT, 8, tp.bytes_sent)
    _nla(out, TCP_NLA_BYTES_RETRANS, 8, tp.bytes_retrans)
    _nla(out, TCP_NLA_DSACK_DUPS, 4, tp.dsack_dups)
    _nla(out, TCP_NLA_REORD_SEEN, 4, tp.reord_seen)
    _nla(out, TCP_NLA_SRTT, 4, tp.srtt_us >> 3)
    _nla(out, TCP_NLA_TIMEOUT_REHASH, 2, 0)
    notsent = (tp.write_seq - tp.snd_nxt) & U32
    _nla(out, TCP_NLA_BYTES_NOTSENT, 4, notsent if notsent < 0x80000000 else 0)
    _nla(out, TCP_NLA_EDT, 8, owner.skb_mstamp_ns)
    if ack_ttl is not None:
        _nla(out, TCP_NLA_TTL, 1, ack_ttl)
    _nla(out, TCP_NLA_REHASH, 4, 0)
    return bytes(out)


def skb_tstamp_tx(sk: Any, owner: Any, payload: bytes, tstype: int, truesize: int,
                  ack_ttl: int | None = None) -> None:
    """__skb_tstamp_tx + __skb_complete_tx_timestamp: queue a software timestamp of ``owner`` (the
    segment holding tx_flags/tskey) with a copy of ``payload`` (the stamped packet); with
    OPT_TSONLY no copy, or the OPT_STATS attributes (``ack_ttl``: the TTL of the ACK that acked the
    key, for SCM_TSTAMP_ACK)."""
    if sk is None or not _report(owner, tstype):
        return
    tsflags = sk.sk_tsflags
    if not tsflags & SOF_TIMESTAMPING_OPT_TX_SWHW and owner.tx_flags & SKBTX_IN_PROGRESS:
        return  # a hardware stamp is coming instead
    opt_stats = False
    if tsflags & SOF_TIMESTAMPING_OPT_TSONLY:
        payload = b""
        if tsflags & SOF_TIMESTAMPING_OPT_STATS and _is_tcp(sk):
            payload = tcp_get_timestamping_opt_stats(sk, owner, ack_ttl)
            opt_stats = True
        truesize = SKB_TRUESIZE_OVERHEAD + len(payload)
    elif owner.zc is not None:
        from tuxnet.sock.msg_zerocopy import skb_orphan_frags_rx

        skb_orphan_frags_rx(owner.zc)  # the clone's copy of the user pages
    ee_data = 0
    if tsflags & SOF_TIMESTAMPING_OPT_ID:
        ee_data = owner.tskey
        if _is_tcp(sk):
            ee_data = (ee_data - sk.sk_tskey) & U32
    entry = SockExterr(errno.ENOMSG, SO_EE_ORIGIN_TIMESTAMPING, 0, 0, tstype, 0, 0, 0, payload,
                       ee_data=ee_data, tstamp=sk.ns.loop.now_ns, truesize=truesize, opt_stats=opt_stats)
    sock_queue_err_skb(sk, entry)


def skb_tstamp_dev(skb: Any, tstype: int) -> None:
    """The device-layer stamps of a packet: SCM_TSTAMP_SCHED as __dev_queue_xmit takes it, and
    SCM_TSTAMP_SND as the driver's skb_tx_timestamp takes it; skb.data is at the link header."""
    owner, sk = skb.shinfo
    if owner.tx_flags:
        skb_tstamp_tx(sk, owner, bytes(skb.buf[skb.data:skb.tail]), tstype,
                      SKB_TRUESIZE_OVERHEAD + skb.tail - skb.data)


def tcp_ack_tstamp(tp: Any, skb: Any, prior_snd_una: int, ack_ttl: int = 0) -> None:
    """tcp_ack_tstamp: SCM_TSTAMP_ACK once the ACK (its IP TTL: ``ack_ttl``) covers the key for
    the first time."""
    if not skb.txstamp_ack:
        return
    key = skb.tskey
    if ((key - prior_snd_una) & U32) < 0x80000000 and ((key - tp.snd_una) & U32) >= 0x80000000:
        skb_tstamp_tx(tp, skb, bytes(skb.data), SCM_TSTAMP_ACK,
                      SKB_TRUESIZE_OVERHEAD + len(skb.data), ack_ttl)


# ---------------------------------------------------------------------------------- receive side
def tcp_recv_timestamp(tp: Any, tstamp: int) -> list[tuple[int, int, bytes]]:
    """tcp_recv_timestamp: the receive time of the last skb read, as the socket asked for it."""
    out: list[tuple[int, int, bytes]] = []
    sec, nsec = divmod(tstamp, 1_000_000_000)
    if "SOCK_RCVTSTAMP" in tp.sock_flags:
        out.append((SOL_SOCKET, SCM_TIMESTAMP, _TIMEVAL.pack(sec, nsec // 1000)))
    tsflags = tp.sk_tsflags
    if tsflags & SOF_TIMESTAMPING_SOFTWARE and (tsflags & SOF_TIMESTAMPING_RX_SOFTWARE
                                                or not tsflags & SOF_TIMESTAMPING_OPT_RX_FILTER):
        out.append((SOL_SOCKET, SCM_TIMESTAMPING, _SCM_TIMESTAMPING.pack(sec, nsec, 0, 0, 0, 0)))
    return out


def tcp_wants_rx_timestamp(tp: Any) -> bool:
    """TCP_CMSG_TS: recvmsg reports receive timestamps (SO_TIMESTAMP or RX_SOFTWARE|SOFTWARE)."""
    return "SOCK_RCVTSTAMP" in tp.sock_flags or bool(tp.sk_tsflags & SOF_TIMESTAMPING_RX_SOFTWARE)
