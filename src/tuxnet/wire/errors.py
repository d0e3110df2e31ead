"""The one exception the wire codecs raise on bad input.

Every parser in :mod:`tuxnet.wire` raises :class:`WireError` (a :class:`ValueError`) and nothing
else when the bytes it is given are malformed: truncated, bad version, bad header length, bad
option lengths, bad checksum when asked to verify one.  The protocol layers catch it, count the
packet with the counter Linux would bump and drop it (principle: bad input from the network is
counted and dropped, never raised into the lab).

``reason`` names the Linux drop reason (``enum skb_drop_reason`` in include/net/dropreason-core.h,
without the ``SKB_DROP_REASON_`` prefix) that the receive path should report; it is always the
name of a :class:`tuxnet.core.trace.SkbDropReason` member (``SkbDropReason[exc.reason]``), so
``ip_rcv`` can tell ``InHdrErrors`` (``IP_INHDR``) from ``InCsumErrors`` (``IP_CSUM``) and
``InTruncatedPkts`` (``PKT_TOO_SMALL``) without parsing the message.  Errors that are not about
received bytes (fields that cannot be encoded, bad pcap files) say ``NOT_SPECIFIED``.

``pointer``, when set, is the byte offset from the start of the IP header that an ICMP Parameter
Problem would carry (``pp_ptr - iph`` in ip_options_compile(), net/ipv4/ip_options.c).
"""

from __future__ import annotations

__all__ = ["WireError"]


class WireError(ValueError):
    """Malformed bytes on the wire (or fields that cannot be encoded)."""

    __slots__ = ("pointer", "reason")

    def __init__(self, message: str, reason: str = "PKT_TOO_SMALL", pointer: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.pointer = pointer
