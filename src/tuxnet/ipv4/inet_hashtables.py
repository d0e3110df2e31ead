"""What the inet port tables share: local port range, reserved ports, address equality for bind
conflicts, the kernel's hash functions and SO_REUSEPORT groups.

Mirrors net/ipv4/inet_hashtables.c, net/ipv4/inet_connection_sock.c (inet_rcv_saddr_equal,
inet_get_local_port_range), net/core/sock_reuseport.c, include/linux/jhash.h, include/linux/hash.h
and include/net/ip.h (inet_is_local_reserved_port).

Guarantees:
- ``inet_get_local_port_range`` reads ``net.ipv4.ip_local_port_range``; ``inet_is_local_reserved_port``
  parses ``net.ipv4.ip_local_reserved_ports`` ("8080,9000-9010") as the proc handler does.
- ``ipv4_rcv_saddr_equal`` is the bind-conflict address test: equal addresses conflict, and a
  wildcard (0.0.0.0) conflicts with everything when wildcards are matched.
- ``jhash_3words``/``hash_32``/``reciprocal_scale`` compute exactly what the kernel's do; the secrets
  they are keyed with come from the namespace's seed (``net_hash_mix``), never from the wall clock.
- ``SockReuseport`` is ``struct sock_reuseport``: members in join order, detaching moves the last
  member into the hole (reuseport_detach_sock), selection is ``socks[reciprocal_scale(hash, n)]``
  skipping connected members (reuseport_select_sock_by_hash), and ``has_conns`` is set once a
  member connects.

TCP's port allocation (inet_csk_get_port, __inet_hash_connect: even/odd port parity, bind buckets)
builds on these helpers; UDP's (udp_lib_get_port) lives in ipv4/udp.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuxnet.core.rand import make_rng

if TYPE_CHECKING:
    from tuxnet.netns import Namespace

GOLDEN_RATIO_32 = 0x61C88647
JHASH_INITVAL = 0xDEADBEEF
_M32 = 0xFFFFFFFF


def rol32(word: int, shift: int) -> int:
    return ((word << shift) | (word >> (32 - shift))) & _M32


def jhash_3words(a: int, b: int, c: int, initval: int) -> int:
    """jhash_3words (include/linux/jhash.h): __jhash_nwords + __jhash_final."""
    iv = (initval + JHASH_INITVAL + (3 << 2)) & _M32
    a = (a + iv) & _M32
    b = (b + iv) & _M32
    c = (c + iv) & _M32
    # __jhash_final
    c ^= b
    c = (c - rol32(b, 14)) & _M32
    a ^= c
    a = (a - rol32(c, 11)) & _M32
    b ^= a
    b = (b - rol32(a, 25)) & _M32
    c ^= b
    c = (c - rol32(b, 16)) & _M32
    a ^= c
    a = (a - rol32(c, 4)) & _M32
    b ^= a
    b = (b - rol32(a, 14)) & _M32
    c ^= b
    c = (c - rol32(b, 24)) & _M32
    return c


def hash_32(val: int, bits: int) -> int:
    """hash_32 (include/linux/hash.h): multiplicative hash, the top ``bits`` bits."""
    return ((val * GOLDEN_RATIO_32) & _M32) >> (32 - bits)


def reciprocal_scale(val: int, ep_ro: int) -> int:
    """reciprocal_scale: map a u32 onto [0, ep_ro) without a division."""
    return ((val & _M32) * ep_ro) >> 32


def inet_ehashfn(laddr: int, lport: int, faddr: int, fport: int, initval: int) -> int:
    """__inet_ehashfn: jhash over (laddr, faddr, lport << 16 | fport). tuxnet hashes host-order
    values; the kernel hashes the raw big-endian words, which only permutes a random function."""
    return jhash_3words(laddr, faddr, ((lport << 16) | fport) & _M32, initval)


def net_hash_mix(ns: Namespace) -> int:
    """net_hash_mix: a random u32 per namespace, derived from the lab seed (the same value on every
    call; tables read it once)."""
    return make_rng(ns.seed, "netns", ns.name, "hash_mix").getrandbits(32)


def net_secret(ns: Namespace, name: str) -> int:
    """A per-namespace u32 secret (net_get_random_once), derived from the seed and ``name``."""
    return make_rng(ns.seed, "netns", ns.name, "secret", name).getrandbits(32)


# ------------------------------------------------------------------ local ports
def inet_get_local_port_range(ns: Namespace) -> tuple[int, int]:
    """inet_get_local_port_range: ``net.ipv4.ip_local_port_range``."""
    low, high = ns.sysctl.v["net.ipv4.ip_local_port_range"]  # type: ignore[misc]
    return int(low), int(high)


_reserved_cache: dict[str, frozenset[int]] = {}


def parse_port_list(text: str) -> frozenset[int]:
    """proc_do_large_bitmap's syntax: comma-separated ports and ``a-b`` ranges."""
    cached = _reserved_cache.get(text)
    if cached is not None:
        return cached
    ports: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        a = int(lo)
        b = int(hi) if sep else a
        if not (0 <= a <= b <= 65535):
            raise ValueError(f"bad port range {part!r}")
        ports.update(range(a, b + 1))
    result = frozenset(ports)
    if len(_reserved_cache) < 64:
        _reserved_cache[text] = result
    return result


def inet_is_local_reserved_port(ns: Namespace, port: int) -> bool:
    """inet_is_local_reserved_port: ``net.ipv4.ip_local_reserved_ports``."""
    text = ns.sysctl.v["net.ipv4.ip_local_reserved_ports"]
    if not text:
        return False
    return port in parse_port_list(str(text))


def inet_port_requires_bind_service(ns: Namespace, port: int) -> bool:
    """inet_port_requires_bind_service: below ``ip_unprivileged_port_start`` needs
    CAP_NET_BIND_SERVICE."""
    return port < int(ns.sysctl.v["net.ipv4.ip_unprivileged_port_start"])  # type: ignore[call-overload]


# ------------------------------------------------------------------ bind conflicts
def ipv4_rcv_saddr_equal(sk1_rcv_saddr: int, sk2_rcv_saddr: int, match_sk1_wildcard: bool,
                         match_sk2_wildcard: bool) -> bool:
    """ipv4_rcv_saddr_equal (net/ipv4/inet_connection_sock.c)."""
    if sk1_rcv_saddr == sk2_rcv_saddr:
        return True
    return (match_sk1_wildcard and not sk1_rcv_saddr) or (match_sk2_wildcard and not sk2_rcv_saddr)


def inet_rcv_saddr_equal(sk: Any, sk2: Any, match_wildcard: bool) -> bool:
    """inet_rcv_saddr_equal for two IPv4 sockets."""
    return ipv4_rcv_saddr_equal(sk.inet_rcv_saddr, sk2.inet_rcv_saddr, match_wildcard, match_wildcard)


def inet_bound_dev_eq(l3mdev_accept: bool, bound_dev_if: int, dif: int, sdif: int = 0) -> bool:
    """inet_bound_dev_eq: an unbound socket matches any device (no VRF in tuxnet: sdif is 0)."""
    if not bound_dev_if:
        return not sdif or l3mdev_accept
    return bound_dev_if in (dif, sdif)


# ------------------------------------------------------------------ SO_REUSEPORT groups
class SockReuseport:
    """struct sock_reuseport: the sockets sharing one (address, port) with SO_REUSEPORT."""

    __slots__ = ("socks", "has_conns", "bind_inany")

    def __init__(self, bind_inany: bool) -> None:
        self.socks: list[Any] = []
        self.has_conns = False
        self.bind_inany = bind_inany

    def select_by_hash(self, hash_: int) -> Any:
        """reuseport_select_sock_by_hash: start at reciprocal_scale(hash, n), skip connected ones."""
        socks = self.socks
        n = len(socks)
        if not n:
            return None
        i = j = reciprocal_scale(hash_, n)
        while True:
            sk = socks[i]
            if sk.sk_state != 1:  # TCP_ESTABLISHED
                return sk
            i += 1
            if i >= n:
                i = 0
            if i == j:
                return None


def reuseport_alloc(sk: Any, bind_inany: bool) -> None:
    """reuseport_alloc: ``sk`` starts a new group."""
    reuse = SockReuseport(bind_inany)
    reuse.socks.append(sk)
    sk.sk_reuseport_cb = reuse


def reuseport_add_sock(sk: Any, sk2: Any, bind_inany: bool) -> None:
    """reuseport_add_sock: ``sk`` joins the group of ``sk2`` (creating it if needed)."""
    reuse = sk2.sk_reuseport_cb
    if reuse is None:
        reuseport_alloc(sk2, bind_inany)
        reuse = sk2.sk_reuseport_cb
    old = sk.sk_reuseport_cb
    if old is not None and old is not reuse:
        reuseport_detach_sock(sk)
    reuse.socks.append(sk)
    sk.sk_reuseport_cb = reuse


def reuseport_detach_sock(sk: Any) -> None:
    """reuseport_detach_sock: the last member takes ``sk``'s place."""
    reuse: SockReuseport | None = sk.sk_reuseport_cb
    if reuse is None:
        return
    socks = reuse.socks
    try:
        i = socks.index(sk)
    except ValueError:
        i = -1
    if i >= 0:
        last = socks.pop()
        if last is not sk:
            socks[i] = last
    sk.sk_reuseport_cb = None


def reuseport_has_conns(sk: Any) -> bool:
    reuse = sk.sk_reuseport_cb
    return reuse is not None and reuse.has_conns


def reuseport_has_conns_set(sk: Any) -> None:
    """reuseport_has_conns_set: a member connected (lookups fall back to scoring)."""
    reuse = sk.sk_reuseport_cb
    if reuse is not None:
        reuse.has_conns = True


def reuseport_select_sock(sk: Any, hash_: int) -> Any:
    """reuseport_select_sock without BPF: pick a member by hash."""
    reuse = sk.sk_reuseport_cb
    if reuse is None:
        return None
    return reuse.select_by_hash(hash_)
