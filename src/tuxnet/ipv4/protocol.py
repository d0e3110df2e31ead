"""Shared IPv4 plumbing: jiffies, the inet_peer cache and its token buckets (net/ipv4/inetpeer.c).

Guarantees:
- ``jiffies(ns)`` is the namespace's virtual time in jiffies with ``HZ = 1000`` (tuxnet's choice;
  Linux builds with 100..1000). Every rate limiter below counts in jiffies, as Linux does.
- ``InetPeers`` is the per-namespace ``net->ipv4.peers`` tree: one ``InetPeer`` per remote address
  holding what Linux keeps there: ``rate_tokens``/``rate_last`` (shared by the ICMP host rate limit,
  ``ip_error`` and ICMP redirects, exactly as in Linux), ``n_redirects`` and ``rid`` (the
  ipfrag_max_dist counter). A new peer starts with ``rate_last = jiffies - 60*HZ`` so its first
  bucket computation is full (inet_getpeer). The cache is bounded by ``inet_peer_threshold``
  (65664): past it the least recently created peers are forgotten, a simplification of inet_peer's
  garbage collector (which also ages peers out after 120..600 s).
- ``inet_peer_xrlim_allow`` is the token bucket of inetpeer.c: tokens accrue one per jiffy up to
  ``XRLIM_BURST_FACTOR * timeout`` and one message costs ``timeout``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

HZ = 1000
NSEC_PER_JIFFY = 1_000_000_000 // HZ
XRLIM_BURST_FACTOR = 6
INET_PEER_THRESHOLD = 65536 + 128


def jiffies(ns: Namespace) -> int:
    """The namespace's virtual clock in jiffies."""
    return ns.loop.now_ns // NSEC_PER_JIFFY


def msecs_to_jiffies(ms: int) -> int:
    return ms * HZ // 1000


class InetPeer:
    """struct inet_peer: long-lived per-destination state."""

    __slots__ = ("daddr", "rate_tokens", "rate_last", "n_redirects", "rid")

    def __init__(self, daddr: int, now: int) -> None:
        self.daddr = daddr
        self.rate_tokens = 0
        self.n_redirects = 0
        # 60*HZ is arbitrary, but high enough that the first bucket computation is full (inet_getpeer)
        self.rate_last = now - 60 * HZ
        self.rid = 0


class InetPeers:
    """The per-namespace peer cache (``net->ipv4.peers``)."""

    __slots__ = ("ns", "peers", "threshold")

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.peers: dict[int, InetPeer] = {}
        self.threshold = INET_PEER_THRESHOLD

    def get(self, daddr: int) -> InetPeer:
        """inet_getpeer_v4(..., create=1)."""
        p = self.peers.get(daddr)
        if p is None:
            peers = self.peers
            if len(peers) >= self.threshold:
                # forget the oldest eighth (inet_peer_gc in spirit: unused peers go first)
                for k in list(peers)[: max(1, self.threshold // 8)]:
                    del peers[k]
            p = peers[daddr] = InetPeer(daddr, jiffies(self.ns))
        return p

    def __len__(self) -> int:
        return len(self.peers)


def inet_peer_xrlim_allow(peer: InetPeer | None, timeout: int, now: int) -> bool:
    """inet_peer_xrlim_allow: may one more rate-limited message go to ``peer`` now?"""
    if peer is None:
        return True
    token = peer.rate_tokens + now - peer.rate_last
    peer.rate_last = now
    if token > XRLIM_BURST_FACTOR * timeout:
        token = XRLIM_BURST_FACTOR * timeout
    rc = False
    if token >= timeout:
        token -= timeout
        rc = True
    peer.rate_tokens = token
    return rc
