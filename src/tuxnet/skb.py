"""SkBuff: one packet buffer with head/data/tail/end, as Linux's ``struct sk_buff`` (include/linux/skbuff.h).

Layout of the one ``bytearray`` behind a packet::

    head=0          data            tail             end=len(buf)
    | headroom      | packet bytes  | tailroom       |

- ``reserve(n)`` on an empty skb moves data and tail forward to leave headroom (skb_reserve).
- ``push(n)`` grows the packet at the front for a lower layer's header and returns its offset
  (skb_push); headers are written in place with ``struct.pack_into`` — no copy of the payload.
- ``pull(n)`` strips a header on receive (skb_pull); ``put(n)`` appends at the tail (skb_put);
  ``trim(len)`` cuts the packet to ``len`` bytes (skb_trim, e.g. Ethernet padding after ip_rcv).
- ``mac_header``, ``network_header`` and ``transport_header`` are absolute offsets into ``buf``.

Where headroom runs out, ``push`` reallocates like pskb_expand_head (counted in ``SKB_REALLOCS``).
Metadata mirrors the fields the stack reads: dev, protocol, pkt_type, mark, priority, tstamp, sk,
the route (``dst``), the conntrack entry (``nfct``), checksum state (``ip_summed``) and a trace id.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class PacketType(IntEnum):
    """skb->pkt_type (include/uapi/linux/if_packet.h)."""

    HOST = 0
    BROADCAST = 1
    MULTICAST = 2
    OTHERHOST = 3
    OUTGOING = 4
    LOOPBACK = 5


class Csum(IntEnum):
    """skb->ip_summed. The lab runs with CHECKSUM_PARTIAL-like offload between its own hosts."""

    NONE = 0  # checksum must be verified in software
    UNNECESSARY = 1  # verified (or produced by a tuxnet host that computed it)
    COMPLETE = 2
    PARTIAL = 3


# Room for Ethernet (14) + a VLAN tag + IPv4 with options (60) + TCP with options (60), rounded up:
# Linux's MAX_TCP_HEADER is similar in spirit (LL_MAX_HEADER + 128).
MAX_HEADER = 160

SKB_REALLOCS = [0]
_next_id = [0]


class SkBuff:
    __slots__ = (
        "buf", "data", "tail", "mac_header", "network_header", "transport_header",
        "dev", "in_dev", "protocol", "pkt_type", "mark", "priority", "tstamp", "sk", "dst", "nfct",
        "ctinfo", "ip_summed", "id", "cb", "local_df", "ignore_df", "frag_max_size", "nf_trace", "tos",
        "gso_size",
        "shinfo",
    )

    def __init__(self, buf: bytearray, data: int, tail: int) -> None:
        self.buf = buf
        self.data = data
        self.tail = tail
        self.mac_header = -1
        self.network_header = -1
        self.transport_header = -1
        self.dev: Any = None
        self.in_dev: Any = None  # the device a forwarded/received packet arrived on (skb->skb_iif)
        self.protocol = 0
        self.pkt_type = PacketType.HOST
        self.mark = 0
        self.priority = 0
        self.tstamp = 0
        self.sk: Any = None
        self.dst: Any = None
        self.nfct: Any = None
        self.ctinfo = 0
        self.ip_summed = Csum.UNNECESSARY
        self.gso_size = 0  # skb_shinfo(skb)->gso_size: segment size of a GRO/GSO packet, 0 if none
        _next_id[0] += 1
        self.id = _next_id[0]
        self.cb: Any = None  # per-layer control block (skb->cb), e.g. TCP_SKB_CB or IPCB
        self.local_df = False
        self.ignore_df = False
        self.frag_max_size = 0
        self.nf_trace = False
        self.tos = 0
        # what skb_shared_info carries for the sending socket (tx_flags, tskey, the zerocopy uarg):
        # (the queued TCP segment this packet was sent from, its socket), else None. The socket is
        # kept here because netem orphans skb.sk, where Linux keeps a TCP skb's owner
        # (skb_orphan_partial -> can_skb_orphan_partial)
        self.shinfo: Any = None

    # ------------------------------------------------------------ build
    @classmethod
    def alloc(cls, size: int, headroom: int = MAX_HEADER) -> SkBuff:
        """alloc_skb + skb_reserve: an empty packet with ``headroom`` bytes before data."""
        return cls(bytearray(headroom + size), headroom, headroom)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, headroom: int = MAX_HEADER) -> SkBuff:
        """A packet holding ``data`` with ``headroom`` free in front of it (a driver's rx copy)."""
        buf = bytearray(headroom + len(data))
        buf[headroom:] = data
        return cls(buf, headroom, len(buf))

    # ------------------------------------------------------------ geometry
    @property
    def head(self) -> int:
        return 0

    @property
    def end(self) -> int:
        return len(self.buf)

    def __len__(self) -> int:
        return self.tail - self.data

    @property
    def len(self) -> int:
        return self.tail - self.data

    def headroom(self) -> int:
        return self.data

    def tailroom(self) -> int:
        return len(self.buf) - self.tail

    def reserve(self, n: int) -> None:
        """skb_reserve: only valid on an empty skb."""
        if self.tail != self.data:
            raise ValueError("skb_reserve on a non-empty skb")
        if self.tail + n > len(self.buf):
            self.buf.extend(bytes(self.tail + n - len(self.buf)))
        self.data += n
        self.tail += n

    def push(self, n: int) -> int:
        """skb_push: prepend ``n`` bytes; returns the new data offset where the header goes."""
        if n > self.data:
            self._expand_head(n - self.data + MAX_HEADER)
        self.data -= n
        return self.data

    def pull(self, n: int) -> int:
        """skb_pull: strip ``n`` bytes from the front; returns the new data offset."""
        if n > self.tail - self.data:
            raise ValueError(f"skb_pull {n} beyond packet length {self.tail - self.data}")
        self.data += n
        return self.data

    def put(self, n: int) -> int:
        """skb_put: extend the tail by ``n`` bytes; returns the offset of the new area."""
        off = self.tail
        if self.tail + n > len(self.buf):
            self.buf.extend(bytes(self.tail + n - len(self.buf)))
        self.tail += n
        return off

    def put_data(self, data: bytes | bytearray | memoryview) -> int:
        """skb_put_data: append bytes at the tail."""
        off = self.tail
        end = off + len(data)
        if end > len(self.buf):
            self.buf.extend(bytes(end - len(self.buf)))
        self.buf[off:end] = data
        self.tail = end
        return off

    def trim(self, length: int) -> None:
        """skb_trim: cut the packet to ``length`` bytes (no-op when already shorter)."""
        if length < self.tail - self.data:
            self.tail = self.data + length

    def _expand_head(self, extra: int) -> None:
        """pskb_expand_head: move everything ``extra`` bytes further into a larger buffer."""
        SKB_REALLOCS[0] += 1
        self.buf[0:0] = bytes(extra)
        self.data += extra
        self.tail += extra
        for name in ("mac_header", "network_header", "transport_header"):
            v = getattr(self, name)
            if v >= 0:
                setattr(self, name, v + extra)

    # ------------------------------------------------------------ access
    def bytes(self) -> bytes:
        """The packet's bytes from data to tail (a copy)."""
        return bytes(self.buf[self.data:self.tail])

    def view(self) -> memoryview:
        return memoryview(self.buf)[self.data:self.tail]

    def network_bytes(self) -> bytes:
        return bytes(self.buf[self.network_header:self.tail])

    def transport_offset_len(self) -> int:
        return self.tail - self.transport_header

    def reset_network_header(self) -> None:
        self.network_header = self.data

    def reset_transport_header(self) -> None:
        self.transport_header = self.data

    def reset_mac_header(self) -> None:
        self.mac_header = self.data

    def mac_bytes(self) -> bytes:
        """From the MAC header to the tail: the frame as it is on the wire."""
        start = self.mac_header if self.mac_header >= 0 else self.data
        return bytes(self.buf[start:self.tail])

    # ------------------------------------------------------------ copies
    def copy(self) -> SkBuff:
        """skb_copy: a private copy of buffer and metadata (netem duplicate, bridge flood, taps)."""
        n = SkBuff(bytearray(self.buf), self.data, self.tail)
        for name in ("mac_header", "network_header", "transport_header", "dev", "in_dev", "protocol",
                     "pkt_type", "mark", "priority", "tstamp", "ip_summed", "local_df", "ignore_df",
                     "tos", "gso_size"):
            setattr(n, name, getattr(self, name))
        return n

    def __repr__(self) -> str:
        return (f"<SkBuff id={self.id} len={self.len} headroom={self.data} tailroom={self.tailroom()} "
                f"proto=0x{self.protocol:04x} dev={getattr(self.dev, 'name', None)}>")
