"""SYN cookies (net/ipv4/syncookies.c, net/core/secure_seq.c): stateless SYN-ACKs under SYN floods.

Guarantees, as Linux 6.x:
- ``cookie_v4_init_sequence``: the ISN encodes the MSS as an index into {536, 1300, 1440, 1460}
  (the largest entry not above the peer's MSS) and a 24-bit time-dependent hash:
  ``H0(4-tuple) + their_isn + (count << 24) + ((H1(4-tuple, count) + mss_index) & 0xFFFFFF)``, with
  ``count`` advancing every 60 s; a cookie is valid for two periods (MAX_SYNCOOKIE_AGE).
- With timestamps, the SYN-ACK's TSval carries the peer's window scale (low 4 bits, 0xF: none) and
  SACK-permitted (bit 4) (cookie_init_timestamp); the final ACK's TSecr gives them back.
- ``cookie_v4_check`` validates the final ACK (SyncookiesRecv / SyncookiesFailed) and rebuilds the
  request from it. Hashes are keyed BLAKE2b with the namespace's secret (Linux: siphash with a
  boot-time secret); the clocks come from the namespace's virtual time.
"""

from __future__ import annotations

import hashlib
import struct
from typing import TYPE_CHECKING

from tuxnet.ipv4.tcp.tcp_sock import U32

if TYPE_CHECKING:
    from tuxnet.ipv4.tcp.tcp_sock import TcpCb
    from tuxnet.netns import Namespace

COOKIEBITS = 24
COOKIEMASK = (1 << COOKIEBITS) - 1
MAX_SYNCOOKIE_AGE = 2
TCP_SYNCOOKIE_PERIOD_S = 60
MSSTAB = (536, 1300, 1440, 1460)
TSBITS = 6
TS_OPT_WSCALE_MASK = 0xF
TS_OPT_SACK = 1 << 4
TS_OPT_ECN = 1 << 5

_PACK = struct.Struct("!IIIII")


def keyed_hash32(key: bytes, *words: int) -> int:
    """A keyed 32-bit hash of u32 words (Linux: siphash_Nu32)."""
    data = b"".join(w.to_bytes(4, "big") for w in words)
    return int.from_bytes(hashlib.blake2b(data, digest_size=4, key=key).digest(), "big")


def tcp_cookie_time(ns: Namespace) -> int:
    """Minutes of virtual time (jiffies / TCP_SYNCOOKIE_PERIOD)."""
    return (ns.loop.now_ns // 1_000_000_000 // TCP_SYNCOOKIE_PERIOD_S) & U32


def cookie_hash(key: bytes, saddr: int, daddr: int, sport: int, dport: int, count: int, c: int) -> int:
    return keyed_hash32(key + bytes([c]), saddr, daddr, (sport << 16) | dport, count)


def secure_tcp_syn_cookie(ns: Namespace, key: bytes, saddr: int, daddr: int, sport: int, dport: int,
                          sseq: int, data: int) -> int:
    count = tcp_cookie_time(ns)
    return (cookie_hash(key, saddr, daddr, sport, dport, 0, 0) + sseq + (count << COOKIEBITS)
            + ((cookie_hash(key, saddr, daddr, sport, dport, count, 1) + data) & COOKIEMASK)) & U32


def check_tcp_syn_cookie(ns: Namespace, key: bytes, cookie: int, saddr: int, daddr: int, sport: int,
                         dport: int, sseq: int) -> int:
    """The data (MSS index) in a valid cookie, or -1."""
    count = tcp_cookie_time(ns)
    cookie = (cookie - (cookie_hash(key, saddr, daddr, sport, dport, 0, 0) + sseq)) & U32
    diff = (count - (cookie >> COOKIEBITS)) & (U32 >> COOKIEBITS)
    if diff >= MAX_SYNCOOKIE_AGE:
        return -1
    return (cookie - cookie_hash(key, saddr, daddr, sport, dport, (count - diff) & U32, 1)) & COOKIEMASK


def cookie_v4_init_sequence(ns: Namespace, key: bytes, cb: TcpCb, mss: int) -> tuple[int, int]:
    """(ISN, the MSS the cookie encodes) for a SYN (saddr/daddr as seen on the SYN)."""
    mssind = len(MSSTAB) - 1
    while mssind and mss < MSSTAB[mssind]:
        mssind -= 1
    isn = secure_tcp_syn_cookie(ns, key, cb.saddr, cb.daddr, cb.sport, cb.dport, cb.seq, mssind)
    return isn, MSSTAB[mssind]


def cookie_v4_check_mss(ns: Namespace, key: bytes, cb: TcpCb) -> int:
    """The MSS of a valid cookie echoed in the final ACK, or 0."""
    seq = (cb.seq - 1) & U32
    cookie = (cb.ack_seq - 1) & U32
    mssind = check_tcp_syn_cookie(ns, key, cookie, cb.saddr, cb.daddr, cb.sport, cb.dport, seq)
    return MSSTAB[mssind] if 0 <= mssind < len(MSSTAB) else 0


def cookie_init_timestamp(now_ms: int, wscale_ok: bool, snd_wscale: int, sack_ok: bool, ecn_ok: bool) -> int:
    """The TS clock value (ms, before the connection's offset) whose low bits carry the options."""
    options = snd_wscale if wscale_ok else TS_OPT_WSCALE_MASK
    if sack_ok:
        options |= TS_OPT_SACK
    if ecn_ok:
        options |= TS_OPT_ECN
    ts = (now_ms >> TSBITS) << TSBITS
    ts |= options
    if ts > now_ms:
        ts -= 1 << TSBITS
    return ts


def cookie_timestamp_decode(ns: Namespace, tsecr: int) -> tuple[bool, int, bool, int] | None:
    """From the echoed timestamp: (ok, sack_ok, wscale_ok, snd_wscale), or None if not acceptable."""
    v = ns.sysctl.v
    if not v["net.ipv4.tcp_timestamps"]:
        return None
    sack_ok = bool(tsecr & TS_OPT_SACK)
    if sack_ok and not v["net.ipv4.tcp_sack"]:
        return None
    if (tsecr & TS_OPT_WSCALE_MASK) == TS_OPT_WSCALE_MASK:
        return True, int(sack_ok), False, 0
    if not v["net.ipv4.tcp_window_scaling"]:
        return None
    return True, int(sack_ok), True, tsecr & TS_OPT_WSCALE_MASK


_unused = _PACK
