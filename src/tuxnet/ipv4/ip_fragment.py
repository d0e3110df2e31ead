"""IPv4 reassembly (net/ipv4/ip_fragment.c, net/ipv4/inet_fragment.c).

Guarantees, as Linux 6.x:
- Queues are keyed by (saddr, daddr, id, protocol, user, vif); ``user`` tells local delivery
  (IP_DEFRAG_LOCAL_DELIVER) from conntrack's defragmentation. Every fragment counts ReasmReqds.
- Fragments are kept as runs of contiguous fragments (inet_frag_queue_insert). A fragment lying
  wholly inside one run is a duplicate: it alone is dropped (DUP_FRAG) and the queue lives on.
  Any other overlap (RFC 5722, which Linux applies to IPv4 too) discards the whole queue:
  ReasmOverlaps and ReasmFails. A last fragment (MF clear) ending before data already queued,
  or a second different end, or data past a known end, or an empty fragment, also kills the
  queue (ReasmFails). Non-last fragments are cut to a multiple of 8 bytes.
- The queue expires ``ipfrag_time`` seconds after its first fragment (the timer is not pushed back
  by later fragments): ReasmFails and ReasmTimeout, every queued fragment dropped with
  FRAG_REASM_TIMEOUT, and, when the offset-0 fragment had arrived, ICMP time exceeded (11/1)
  quoting it is sent after a fresh input route lookup (conntrack users send none unless the
  packet was for this host).
- ``ipfrag_high_thresh``: while the memory of all queues (truesize of the queued skbs plus the
  queues themselves) is above it, every fragment is refused (ReasmFails). Linux has not evicted
  old queues since 4.17 (``ipfrag_low_thresh`` is unused), and neither does tuxnet.
- ``ipfrag_max_dist``: when more than that many fragments from the same source (any queue) arrived
  since this queue last saw one, the queue is emptied and restarted (ip_frag_too_far; ReasmFails,
  the old fragments dropped with FRAG_TOO_FAR).
- The reassembled datagram carries the header of the offset-0 fragment with tot_len, the ECN bits
  merged (ip_frag_ecn_table: CE mixed with not-ECT is dropped), DF set only if the largest fragment
  had DF (then ``frag_max_size`` makes a forwarder re-fragment to that size), and a fresh checksum.
  Larger than 65535 bytes: ReasmFails, the queue is discarded. Success counts ReasmOKs.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING, Any

from tuxnet.core.trace import SkbDropReason
from tuxnet.ipv4.ip_options import ip_send_check
from tuxnet.skb import MAX_HEADER, SkBuff

if TYPE_CHECKING:
    from tuxnet.core.loop import Timer
    from tuxnet.netns import Namespace

# include/net/ip.h enum ip_defrag_users
IP_DEFRAG_LOCAL_DELIVER = 0
IP_DEFRAG_CALL_RA_CHAIN = 1
IP_DEFRAG_CONNTRACK_IN = 2
IP_DEFRAG_CONNTRACK_IN_END = IP_DEFRAG_CONNTRACK_IN + 0xFFFF
IP_DEFRAG_CONNTRACK_OUT = IP_DEFRAG_CONNTRACK_IN_END + 1
IP_DEFRAG_CONNTRACK_BRIDGE_IN = IP_DEFRAG_CONNTRACK_OUT + 0x10000
IP_DEFRAG_AF_PACKET = IP_DEFRAG_CONNTRACK_BRIDGE_IN + 0x10000 + 3

INET_FRAG_FIRST_IN = 1
INET_FRAG_LAST_IN = 2
INET_FRAG_COMPLETE = 4
INET_FRAG_DROP = 16

IP_MF = 0x2000
IP_DF = 0x4000
IP_OFFSET = 0x1FFF
IP_MAX_DATAGRAM = 65535

# SKB_TRUESIZE(X) = X + aligned sizeof(struct sk_buff) + aligned sizeof(struct skb_shared_info)
SKB_TRUESIZE_OVERHEAD = 256 + 320
IPQ_SIZE = 256  # sizeof(struct ipq), rounded: counted in the fqdir memory like f->qsize

# include/net/inet_ecn.h / inet_fragment.c
IPFRAG_ECN_NOT_ECT = 1
IPFRAG_ECN_ECT_1 = 2
IPFRAG_ECN_ECT_0 = 4
IPFRAG_ECN_CE = 8
_ECN_TABLE = [0] * 16
for _m in (IPFRAG_ECN_CE | IPFRAG_ECN_ECT_0, IPFRAG_ECN_CE | IPFRAG_ECN_ECT_1,
           IPFRAG_ECN_CE | IPFRAG_ECN_ECT_0 | IPFRAG_ECN_ECT_1):
    _ECN_TABLE[_m] = 3  # INET_ECN_CE
for _m in range(16):
    if _m & IPFRAG_ECN_NOT_ECT and _m & (IPFRAG_ECN_CE | IPFRAG_ECN_ECT_0 | IPFRAG_ECN_ECT_1):
        _ECN_TABLE[_m] = 0xFF  # invalid combination: drop

IPFRAG_OK = 0
IPFRAG_DUP = 1
IPFRAG_OVERLAP = 2


def frag_expire_skip_icmp(user: int) -> bool:
    """Only an end host sends "fragment reassembly time exceeded" (RFC 792)."""
    return (user == IP_DEFRAG_AF_PACKET or IP_DEFRAG_CONNTRACK_IN <= user <= IP_DEFRAG_CONNTRACK_IN_END
            or IP_DEFRAG_CONNTRACK_BRIDGE_IN <= user < IP_DEFRAG_CONNTRACK_BRIDGE_IN + 0x10000)


def skb_truesize(skb: SkBuff) -> int:
    return len(skb.buf) + SKB_TRUESIZE_OVERHEAD


class FragRun:
    """A run of contiguous fragments [start, end) (FRAG_CB(head)->frag_run_len)."""

    __slots__ = ("start", "end", "frags")

    def __init__(self, start: int, end: int, skb: SkBuff) -> None:
        self.start = start
        self.end = end
        self.frags: list[tuple[int, SkBuff]] = [(start, skb)]


class Ipq:
    """struct ipq: one datagram being reassembled."""

    __slots__ = ("key", "user", "runs", "starts", "tail_end", "len", "meat", "flags", "max_size",
                 "max_df_size", "ecn", "iif", "timer", "rid", "truesize", "saddr")

    def __init__(self, key: tuple, user: int, saddr: int) -> None:
        self.key = key
        self.user = user
        self.saddr = saddr
        self.runs: list[FragRun] = []
        self.starts: list[int] = []
        self.tail_end = 0  # end of fragments_tail: the highest-offset fragment
        self.len = 0  # total length once known (q.len)
        self.meat = 0  # bytes received
        self.flags = 0
        self.max_size = 0
        self.max_df_size = 0
        self.ecn = 0
        self.iif = 0
        self.timer: Timer | None = None
        self.rid = 0
        self.truesize = IPQ_SIZE

    def skbs(self) -> list[SkBuff]:
        return [s for r in self.runs for _, s in r.frags]

    def insert(self, skb: SkBuff, offset: int, end: int) -> int:
        """inet_frag_queue_insert: IPFRAG_OK, IPFRAG_DUP or IPFRAG_OVERLAP."""
        runs = self.runs
        if not runs:
            runs.append(FragRun(offset, end, skb))
            self.starts.append(offset)
            self.tail_end = end
            return IPFRAG_OK
        if self.tail_end < end:
            # the common case: the fragment goes after everything queued
            if offset < self.tail_end:
                return IPFRAG_OVERLAP
            if offset == self.tail_end:
                last = runs[-1]
                last.frags.append((offset, skb))
                last.end = end
            else:
                runs.append(FragRun(offset, end, skb))
                self.starts.append(offset)
            self.tail_end = end
            return IPFRAG_OK
        # somewhere before the tail: find a run it touches (the rb-tree search of Linux)
        i = bisect_left(self.starts, end)  # runs[:i] start before ``end``
        if i and runs[i - 1].end > offset:
            r = runs[i - 1]
            if offset >= r.start and end <= r.end:
                return IPFRAG_DUP
            return IPFRAG_OVERLAP
        runs.insert(i, FragRun(offset, end, skb))
        self.starts.insert(i, offset)
        return IPFRAG_OK


class IpFrags:
    """The per-namespace fragment queue directory (struct fqdir) and ip_defrag."""

    __slots__ = ("ns", "queues", "mem")

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.queues: dict[tuple, Ipq] = {}
        self.mem = 0

    # ------------------------------------------------------------ queue lifetime
    def _find(self, key: tuple, user: int, saddr: int) -> Ipq | None:
        """inet_frag_find: None when the memory limit is exceeded."""
        high = self.ns.sysctl.v["net.ipv4.ipfrag_high_thresh"]
        if not high or self.mem > high:
            return None
        q = self.queues.get(key)
        if q is None:
            q = Ipq(key, user, saddr)
            self.queues[key] = q
            self.mem += q.truesize
            timeout = self.ns.sysctl.v["net.ipv4.ipfrag_time"] * 1_000_000_000
            q.timer = self.ns.loop.call_later_ns(timeout, self._expire, q)
        return q

    def _kill(self, q: Ipq) -> None:
        """inet_frag_kill: unhash and stop the timer."""
        if q.timer is not None:
            q.timer.cancel()
            q.timer = None
        if self.queues.get(q.key) is q:
            del self.queues[q.key]
        q.flags |= INET_FRAG_COMPLETE

    def _destroy(self, q: Ipq, reason: SkbDropReason | None) -> None:
        """inet_frag_destroy: free what is left (dropped only when INET_FRAG_DROP, else consumed)."""
        ns = self.ns
        for skb in q.skbs():
            if reason is None:
                ns.consume_skb(skb)
            else:
                ns.kfree_skb(skb, reason)
        q.runs = []
        q.starts = []
        self.mem -= q.truesize
        q.truesize = 0

    def _expire(self, q: Ipq) -> None:
        """ip_expire: the reassembly timer fired."""
        from tuxnet.ipv4.route import RouteInputError

        q.timer = None
        if q.flags & INET_FRAG_COMPLETE:
            return
        ns = self.ns
        q.flags |= INET_FRAG_DROP
        self._kill(q)
        mib = ns.mib.ip
        mib.ReasmFails += 1
        mib.ReasmTimeout += 1
        head = None
        if q.flags & INET_FRAG_FIRST_IN and q.runs and q.runs[0].start == 0:
            # inet_frag_pull_head: take the offset-0 fragment out of the queue
            head = q.runs[0].frags.pop(0)[1]
            q.truesize -= skb_truesize(head)
            self.mem -= skb_truesize(head)
            if not q.runs[0].frags:
                q.runs.pop(0)
                q.starts.pop(0)
        self._destroy(q, SkbDropReason.FRAG_REASM_TIMEOUT)
        if head is None:
            return
        dev = ns.dev_by_index(q.iif)
        if dev is None:
            ns.kfree_skb(head, SkbDropReason.FRAG_REASM_TIMEOUT)
            return
        head.dev = dev
        buf = head.buf
        nh = head.network_header
        daddr = int.from_bytes(buf[nh + 16:nh + 20], "big")
        saddr = int.from_bytes(buf[nh + 12:nh + 16], "big")
        try:
            rt = ns.route.input(head, daddr, saddr, buf[nh + 1], dev)
        except RouteInputError as e:
            ns.kfree_skb(head, e.reason)
            return
        head.dst = rt
        from tuxnet.ipv4.fib import RTN_LOCAL

        if frag_expire_skip_icmp(q.user) and rt.rt_type != RTN_LOCAL:
            ns.kfree_skb(head, SkbDropReason.FRAG_REASM_TIMEOUT)
            return
        ns.icmp.send(head, 11, 1, 0)
        ns.kfree_skb(head, SkbDropReason.FRAG_REASM_TIMEOUT)

    # ------------------------------------------------------------ ip_defrag
    def defrag(self, skb: SkBuff, user: int = IP_DEFRAG_LOCAL_DELIVER) -> SkBuff | None:
        """ip_defrag: queue ``skb`` (data at its IP header); the whole datagram once complete.

        Returns None when the fragment was queued or dropped; the reassembled skb (data at its
        IP header, a fresh buffer) when this fragment completed the datagram.
        """
        ns = self.ns
        mib = ns.mib.ip
        mib.ReasmReqds += 1
        buf = skb.buf
        nh = skb.network_header
        saddr = int.from_bytes(buf[nh + 12:nh + 16], "big")
        daddr = int.from_bytes(buf[nh + 16:nh + 20], "big")
        ident = (buf[nh + 4] << 8) | buf[nh + 5]
        proto = buf[nh + 9]
        dev = skb.dev
        key = (saddr, daddr, ident, proto, user, 0)
        q = self._find(key, user, saddr)
        if q is None:
            mib.ReasmFails += 1
            # Linux frees it with plain kfree_skb (no reason); tuxnet names the memory limit
            ns.kfree_skb(skb, SkbDropReason.FRAG_REASM_NOMEM)
            return None
        return self._queue(q, skb, dev)

    def _too_far(self, q: Ipq) -> bool:
        """ip_frag_too_far: too many fragments from this source since this queue's last one."""
        max_dist = self.ns.sysctl.v["net.ipv4.ipfrag_max_dist"]
        if not max_dist:
            return False
        peer = self.ns.ip.peers.get(q.saddr)
        start = q.rid
        peer.rid = (peer.rid + 1) & 0xFFFFFFFF
        end = peer.rid
        q.rid = end
        rc = bool(q.runs) and ((end - start) & 0xFFFFFFFF) > max_dist
        if rc:
            self.ns.mib.ip.ReasmFails += 1
        return rc

    def _reinit(self, q: Ipq) -> None:
        """ip_frag_reinit: drop what was queued and start over, with a fresh timer."""
        ns = self.ns
        if q.timer is not None:
            q.timer.cancel()
        q.timer = ns.loop.call_later_ns(ns.sysctl.v["net.ipv4.ipfrag_time"] * 1_000_000_000, self._expire, q)
        for s in q.skbs():
            ns.kfree_skb(s, SkbDropReason.FRAG_TOO_FAR)
            q.truesize -= skb_truesize(s)
            self.mem -= skb_truesize(s)
        q.runs = []
        q.starts = []
        q.tail_end = q.len = q.meat = q.flags = q.iif = q.ecn = 0

    def _queue(self, q: Ipq, skb: SkBuff, dev: Any) -> SkBuff | None:
        """ip_frag_queue."""
        ns = self.ns
        mib = ns.mib.ip
        if q.flags & INET_FRAG_COMPLETE:
            ns.kfree_skb(skb, SkbDropReason.DUP_FRAG)
            return None
        if self._too_far(q):
            self._reinit(q)
        buf = skb.buf
        nh = skb.network_header
        tos = buf[nh + 1]
        frag_off = (buf[nh + 6] << 8) | buf[nh + 7]
        flags = frag_off & ~IP_OFFSET
        offset = (frag_off & IP_OFFSET) << 3
        ihl = (buf[nh] & 15) << 2
        end = offset + (skb.tail - nh) - ihl
        if not flags & IP_MF:
            # the final fragment: nothing may lie beyond it, nor a different end be known
            if end < q.len or (q.flags & INET_FRAG_LAST_IN and end != q.len):
                return self._discard(q, skb)
            q.flags |= INET_FRAG_LAST_IN
            q.len = end
        else:
            if end & 7:
                end &= ~7
            if end > q.len:
                if q.flags & INET_FRAG_LAST_IN:
                    return self._discard(q, skb)
                q.len = end
        if end == offset:
            return self._discard(q, skb)
        # keep only this fragment's payload (pskb_pull + pskb_trim_rcsum)
        skb.data = nh + ihl
        skb.tail = nh + ihl + end - offset
        res = q.insert(skb, offset, end)
        if res != IPFRAG_OK:
            if res == IPFRAG_DUP:
                ns.kfree_skb(skb, SkbDropReason.DUP_FRAG)
                return None
            ns.mib.ipext.ReasmOverlaps += 1
            return self._discard(q, skb)
        if dev is not None:
            q.iif = dev.ifindex
        q.meat += end - offset
        q.ecn |= 1 << (tos & 3)
        ts = skb_truesize(skb)
        q.truesize += ts
        self.mem += ts
        if offset == 0:
            q.flags |= INET_FRAG_FIRST_IN
        fragsize = end - offset + ihl
        if fragsize > q.max_size:
            q.max_size = fragsize
        if frag_off & IP_DF and fragsize > q.max_df_size:
            q.max_df_size = fragsize
        if q.flags == INET_FRAG_FIRST_IN | INET_FRAG_LAST_IN and q.meat == q.len:
            out = self._reasm(q, skb)
            if out is None:
                mib.ReasmFails += 1
            return out
        # skb_dst_drop / skb_orphan: a queued fragment keeps no route and no socket
        skb.sk = None
        return None

    def _discard(self, q: Ipq, skb: SkBuff) -> None:
        """discard_qp: kill the queue (its fragments are consumed, as Linux frees them), drop skb."""
        self._kill(q)
        self._destroy(q, None)
        self.ns.mib.ip.ReasmFails += 1
        self.ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
        return None

    def _reasm(self, q: Ipq, last: SkBuff) -> SkBuff | None:
        """ip_frag_reasm: glue the fragments behind the offset-0 fragment's header."""
        ns = self.ns
        self._kill(q)
        head = q.runs[0].frags[0][1]
        hbuf = head.buf
        hnh = head.network_header
        ihl = (hbuf[hnh] & 15) << 2
        tot_len = ihl + q.len
        ecn = _ECN_TABLE[q.ecn]
        if tot_len > IP_MAX_DATAGRAM or ecn == 0xFF:
            # "Oversized IP packet" / invalid ECN mix: the queue goes, nothing is delivered
            self._destroy(q, None)
            return None
        out = SkBuff.alloc(tot_len, MAX_HEADER)
        obuf = out.buf
        o = out.data
        obuf[o:o + ihl] = hbuf[hnh:hnh + ihl]
        p = o + ihl
        for run in q.runs:
            for off, s in run.frags:
                n = s.tail - s.data
                obuf[p + off:p + off + n] = s.buf[s.data:s.tail]
        out.tail = o + tot_len
        out.network_header = o
        out.transport_header = o + ihl
        for name in ("dev", "in_dev", "protocol", "pkt_type", "mark", "priority", "tstamp", "dst",
                     "ip_summed", "cb"):
            setattr(out, name, getattr(last, name))
        if last is not head:
            out.cb = head.cb  # the options parsed with the first fragment's header
        out.frag_max_size = max(q.max_df_size, q.max_size)
        obuf[o + 2] = tot_len >> 8
        obuf[o + 3] = tot_len & 0xFF
        obuf[o + 1] |= ecn
        # DF only when the largest fragment had it: a forwarder then re-fragments to that size
        df = IP_DF if q.max_df_size == q.max_size else 0
        obuf[o + 6] = df >> 8
        obuf[o + 7] = 0
        ip_send_check(obuf, o)
        parts = q.skbs()
        for s in parts:
            ns.consume_skb(s)
        q.runs = []
        q.starts = []
        self.mem -= q.truesize
        q.truesize = 0
        ns.mib.ip.ReasmOKs += 1
        if ns.tracer.active:
            ns.trace("ip_defrag", out, len=tot_len, frags=[s.id for s in parts])
        return out
