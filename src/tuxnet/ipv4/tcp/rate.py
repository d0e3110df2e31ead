"""Delivery-rate estimation, as net/ipv4/tcp_rate.c (and its helpers in include/net/tcp.h).

On each ACK the estimator produces one ``RateSample``: how many packets the network delivered over
which interval. The interval is the longer of the send phase (first to last transmit of the sampled
window) and the ACK phase (first to last ACK), so ACK compression cannot inflate the rate:

    send_rate = delivered / (last_snd_time - first_snd_time)
    ack_rate  = delivered / (last_ack_time - first_ack_time)
    bw = min(send_rate, ack_rate)        (interval_us = max(snd_us, ack_us))

A sample is marked application-limited when, at some moment of its window, the sender had nothing
to send (``tp.app_limited`` set by ``tcp_rate_check_app_limited``).

The contract with TCP (all times in microseconds, ``tp.tcp_mstamp`` style):

- ``tcp_rate_skb_sent(tp, skb)`` when a segment is (re)transmitted, after ``skb.skb_mstamp_ns`` holds
  its departure time and *before* ``tp.packets_out`` counts it.
- For every segment an ACK newly (s)acks: ``tcp_rate_skb_delivered(tp, skb, rs)``.
- Then once per ACK: ``tcp_rate_gen(tp, delivered, lost, is_sack_reneg, rs)`` with the number of
  packets newly (s)acked and newly marked lost; TCP sets ``rs.prior_in_flight`` (before processing
  the ACK), ``rs.rtt_us`` (-1 if none) and ``rs.is_ack_delayed`` itself, as tcp_ack() does.
- ``tcp_rate_check_app_limited(tp)`` each time the application hands TCP data (tcp_sendmsg, as
  tcp_sendmsg_locked() calls it): it marks a bubble when less than a segment is unsent, nothing
  waits below TCP, cwnd is not full and no lost packet awaits retransmission. Not on ACKs.

The per-segment record ("skb") is generic: any object with writable attributes ``tx``
(a ``TcpSkbTx``, filled by ``tcp_rate_skb_sent``), ``end_seq`` (u32), ``sacked`` (``TCPCB_*`` bits)
and ``skb_mstamp_ns`` (departure time, ns). The socket ``tp`` needs the attributes documented on
``tuxnet.ipv4.tcp.cong.CongState`` (``delivered``, ``delivered_ce``, ``delivered_mstamp``,
``first_tx_mstamp``, ``app_limited``, ``tcp_mstamp``, ``packets_out``, ``rtt_min``,
``rate_delivered``, ``rate_interval_us``, ``rate_app_limited``, ...).
"""

from __future__ import annotations

from typing import Any

from tuxnet.ipv4.tcp.minmax import Minmax
from tuxnet.wire.seqnum import seq_after

__all__ = [
    "SKB_TRUESIZE_1",
    "TCPCB_DELIVERED_CE_MASK",
    "TCPCB_EVER_RETRANS",
    "TCPCB_LOST",
    "TCPCB_REPAIRED",
    "TCPCB_RETRANS",
    "TCPCB_SACKED_ACKED",
    "TCPCB_SACKED_RETRANS",
    "RateSample",
    "TcpSkbTx",
    "tcp_left_out",
    "tcp_min_rtt",
    "tcp_packets_in_flight",
    "tcp_rate_check_app_limited",
    "tcp_rate_gen",
    "tcp_rate_skb_delivered",
    "tcp_rate_skb_sent",
    "tcp_skb_sent_after",
    "tcp_skb_timestamp_us",
    "tcp_stamp_us_delta",
]

_U32 = 0xFFFFFFFF

# TCP_SKB_CB(skb)->sacked bits (include/net/tcp.h).
TCPCB_SACKED_ACKED = 0x01  # SKB ACK'd by a SACK block
TCPCB_SACKED_RETRANS = 0x02  # SKB retransmitted
TCPCB_LOST = 0x04  # SKB is lost
TCPCB_REPAIRED = 0x10  # SKB repaired (no skb_mstamp_ns)
TCPCB_EVER_RETRANS = 0x80  # Ever retransmitted frame
TCPCB_RETRANS = TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS | TCPCB_REPAIRED

# tx.delivered_ce is a 20-bit field of the skb control block.
TCPCB_DELIVERED_CE_MASK = (1 << 20) - 1

# SKB_TRUESIZE(1) on x86-64: 1 byte + SKB_DATA_ALIGN(sizeof(struct sk_buff)) (256)
# + SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) (320). "Nothing of ours queued below TCP."
SKB_TRUESIZE_1 = 1 + 256 + 320


class TcpSkbTx:
    """TCP_SKB_CB(skb)->tx: the connection's delivery state snapshotted when the segment was sent."""

    __slots__ = ("delivered", "delivered_ce", "delivered_mstamp", "first_tx_mstamp", "is_app_limited")

    def __init__(
        self,
        delivered: int = 0,
        delivered_ce: int = 0,
        delivered_mstamp: int = 0,
        first_tx_mstamp: int = 0,
        is_app_limited: bool = False,
    ) -> None:
        self.delivered = delivered
        self.delivered_ce = delivered_ce
        self.delivered_mstamp = delivered_mstamp
        self.first_tx_mstamp = first_tx_mstamp
        self.is_app_limited = is_app_limited

    def __repr__(self) -> str:
        return (
            f"TcpSkbTx(delivered={self.delivered}, delivered_mstamp={self.delivered_mstamp}, "
            f"first_tx_mstamp={self.first_tx_mstamp}, is_app_limited={self.is_app_limited})"
        )


class RateSample:
    """struct rate_sample (include/net/tcp.h); a fresh one is all zeros, as tcp_ack()'s ``{ 0 }``.

    ``delivered`` and ``interval_us`` are -1 for an invalid sample; ``rtt_us`` is -1 when the ACK
    gave no RTT measurement.
    """

    __slots__ = (
        "prior_mstamp",  # starting timestamp for interval (us)
        "prior_delivered",  # tp.delivered at "prior_mstamp"
        "prior_delivered_ce",  # tp.delivered_ce at "prior_mstamp"
        "delivered",  # number of packets delivered over interval
        "delivered_ce",  # number of packets delivered with CE marks
        "interval_us",  # time for tp.delivered to incr "delivered"
        "snd_interval_us",  # snd interval for delivered packets
        "rcv_interval_us",  # rcv interval for delivered packets
        "rtt_us",  # RTT of last (S)ACKed packet (or -1)
        "losses",  # number of packets marked lost upon ACK
        "acked_sacked",  # number of packets newly (S)ACKed upon ACK
        "prior_in_flight",  # in flight before this ACK
        "last_end_seq",  # end_seq of most recently ACKed packet
        "is_app_limited",  # is sample from packet with bubble in pipe?
        "is_retrans",  # is sample from retransmission?
        "is_ack_delayed",  # is this (likely) a delayed ACK?
    )

    def __init__(self, **fields: Any) -> None:
        self.prior_mstamp = 0
        self.prior_delivered = 0
        self.prior_delivered_ce = 0
        self.delivered = 0
        self.delivered_ce = 0
        self.interval_us = 0
        self.snd_interval_us = 0
        self.rcv_interval_us = 0
        self.rtt_us = 0
        self.losses = 0
        self.acked_sacked = 0
        self.prior_in_flight = 0
        self.last_end_seq = 0
        self.is_app_limited = False
        self.is_retrans = False
        self.is_ack_delayed = False
        for k, v in fields.items():
            setattr(self, k, v)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__)
        return f"RateSample({body})"


# --- helpers from include/net/tcp.h -------------------------------------------------------------


def tcp_left_out(tp: Any) -> int:
    """Packets that left the network but were not yet cumulatively ACKed: sacked + lost."""
    return tp.sacked_out + tp.lost_out


def tcp_packets_in_flight(tp: Any) -> int:
    """RFC 6675 "pipe": packets_out - (sacked_out + lost_out) + retrans_out."""
    return tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out


def tcp_min_rtt(tp: Any) -> int:
    """Windowed minimum RTT in us (``minmax_get(&tp->rtt_min)``); 0xFFFFFFFF before any sample."""
    rtt_min: Minmax = tp.rtt_min
    return rtt_min.s[0][1]


def tcp_stamp_us_delta(t1: int, t0: int) -> int:
    """``t1 - t0`` in us, never negative (tcp_stamp_us_delta)."""
    d = t1 - t0
    return d if d > 0 else 0


def tcp_skb_timestamp_us(skb: Any) -> int:
    """The segment's (last) departure time in us."""
    return skb.skb_mstamp_ns // 1000


def tcp_skb_sent_after(t1: int, t2: int, seq1: int, seq2: int) -> bool:
    """Was the segment sent at ``t1`` ending at ``seq1`` sent after (``t2``, ``seq2``)?"""
    return t1 > t2 or (t1 == t2 and seq_after(seq1, seq2))


# --- tcp_rate.c ------------------------------------------------------------------------------------


def tcp_rate_skb_sent(tp: Any, skb: Any) -> None:
    """Snapshot the delivery state into ``skb.tx`` when the segment is sent.

    Samples start from the most recent ACK, so the interval covers the whole time the network needs
    to deliver everything in flight; with nothing in flight, a sample can start right now. This uses
    ``packets_out`` rather than the loss-marking guess ``tcp_packets_in_flight`` so spurious RTOs or
    loss marks cannot shorten the interval and inflate the estimate.
    """
    if not tp.packets_out:
        tstamp_us = tcp_skb_timestamp_us(skb)
        tp.first_tx_mstamp = tstamp_us
        tp.delivered_mstamp = tstamp_us
    skb.tx = TcpSkbTx(
        tp.delivered,
        tp.delivered_ce,
        tp.delivered_mstamp,
        tp.first_tx_mstamp,
        bool(tp.app_limited),
    )


def tcp_rate_skb_delivered(tp: Any, skb: Any, rs: RateSample) -> None:
    """Fold one newly (s)acked segment into the ACK's rate sample.

    When one ACK covers several segments, the most recently sent one (latest send time, then highest
    sequence) provides the sample's starting point.
    """
    tx: TcpSkbTx | None = skb.tx
    if tx is None or not tx.delivered_mstamp:
        return
    tx_tstamp = tcp_skb_timestamp_us(skb)
    if not rs.prior_delivered or tcp_skb_sent_after(
        tx_tstamp, tp.first_tx_mstamp, skb.end_seq, rs.last_end_seq
    ):
        rs.prior_delivered_ce = tx.delivered_ce
        rs.prior_delivered = tx.delivered
        rs.prior_mstamp = tx.delivered_mstamp
        rs.is_app_limited = tx.is_app_limited
        rs.is_retrans = bool(skb.sacked & TCPCB_RETRANS)
        rs.last_end_seq = skb.end_seq
        # Send time of the most recently ACKed packet; the send phase spans from the first send.
        tp.first_tx_mstamp = tx_tstamp
        rs.interval_us = tcp_stamp_us_delta(tp.first_tx_mstamp, tx.first_tx_mstamp)
    # A SACKed segment must not start a second sample when it is later cumulatively ACKed.
    if skb.sacked & TCPCB_SACKED_ACKED:
        tx.delivered_mstamp = 0


def tcp_rate_gen(tp: Any, delivered: int, lost: int, is_sack_reneg: bool, rs: RateSample) -> None:
    """Update the connection's delivery information and complete the ACK's rate sample.

    ``tp.delivered`` must already include this ACK's ``delivered`` packets (TCP counts them while it
    walks the retransmit queue, as tcp_clean_rtx_queue()/tcp_sacktag_write_queue() do).
    """
    # Clear app-limited once the bubble has been ACKed and is gone.
    if tp.app_limited and seq_after(tp.delivered, tp.app_limited):
        tp.app_limited = 0
    if delivered:
        tp.delivered_mstamp = tp.tcp_mstamp
    rs.acked_sacked = delivered  # freshly ACKed or SACKed
    rs.losses = lost  # freshly marked lost
    # No timing information, or a SACK reneging event (which may count packets SACKed before the
    # reneg): the sample is invalid.
    if not rs.prior_mstamp or is_sack_reneg:
        rs.delivered = -1
        rs.interval_us = -1
        return
    d = (tp.delivered - rs.prior_delivered) & _U32
    rs.delivered = d - (1 << 32) if d & 0x80000000 else d  # s32, as struct rate_sample
    rs.delivered_ce = (tp.delivered_ce - rs.prior_delivered_ce) & TCPCB_DELIVERED_CE_MASK
    # Send and ACK phases are separate pipeline stages; use the longer one.
    snd_us = rs.interval_us
    ack_us = tcp_stamp_us_delta(tp.tcp_mstamp, rs.prior_mstamp)
    rs.interval_us = max(snd_us, ack_us)
    rs.snd_interval_us = snd_us
    rs.rcv_interval_us = ack_us
    # An interval shorter than min_rtt is implausible (e.g. a spurious retransmission was (s)acked
    # first); drop the sample.
    if rs.interval_us < tcp_min_rtt(tp):
        rs.interval_us = -1
        return
    # Record the last non-app-limited or the highest app-limited bw.
    if not rs.is_app_limited or rs.delivered * tp.rate_interval_us >= tp.rate_delivered * rs.interval_us:
        tp.rate_delivered = rs.delivered
        tp.rate_interval_us = rs.interval_us
        tp.rate_app_limited = rs.is_app_limited


def tcp_rate_check_app_limited(tp: Any) -> None:
    """Mark the connection application-limited if there is a gap in what the application supplies.

    Conditions, as Linux: less than one MSS unsent (``write_seq - snd_nxt < mss_cache``), nothing of
    this socket queued below TCP (``sk_wmem_alloc < SKB_TRUESIZE(1)``), not cwnd-limited, and every
    lost packet retransmitted. ``app_limited`` then records the delivered count at which the bubble
    will have left the pipe (never 0, which means "not app-limited").
    """
    in_flight = tcp_packets_in_flight(tp)
    if (
        ((tp.write_seq - tp.snd_nxt) & _U32) < tp.mss_cache
        and tp.sk_wmem_alloc < SKB_TRUESIZE_1
        and in_flight < tp.snd_cwnd
        and tp.lost_out <= tp.retrans_out
    ):
        tp.app_limited = ((tp.delivered + in_flight) & _U32) or 1
