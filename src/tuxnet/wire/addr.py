"""IPv4 and Ethernet address helpers.

Throughout tuxnet an IPv4 address is a plain ``int`` in host order (``0x0a000001`` is 10.0.0.1)
and a MAC address is a 6-byte ``bytes``.  Parsing is strict like glibc's ``inet_pton(AF_INET)``:
exactly four decimal octets, no leading zeros, no spaces; anything else raises ``ValueError``
with a message naming the bad input.  The predicates mirror include/linux/in.h
(``ipv4_is_multicast`` ...) and include/linux/etherdevice.h (``is_multicast_ether_addr`` ...).
"""

from __future__ import annotations

__all__ = [
    "BROADCAST_MAC",
    "INADDR_ANY",
    "INADDR_BROADCAST",
    "INADDR_LOOPBACK",
    "ZERO_MAC",
    "ip_aton",
    "ip_ntoa",
    "is_broadcast_mac",
    "is_lbcast",
    "is_local_multicast",
    "is_loopback",
    "is_multicast",
    "is_multicast_mac",
    "is_valid_mac",
    "is_zero_mac",
    "is_zeronet",
    "mac_aton",
    "mac_ntoa",
    "mask_to_prefix",
    "parse_prefix",
    "prefix_mask",
]

INADDR_ANY = 0x00000000
INADDR_BROADCAST = 0xFFFFFFFF
INADDR_LOOPBACK = 0x7F000001

BROADCAST_MAC = b"\xff\xff\xff\xff\xff\xff"
ZERO_MAC = b"\x00\x00\x00\x00\x00\x00"

_HEX = frozenset("0123456789abcdefABCDEF")


def ip_aton(text: str) -> int:
    """Parse dotted-quad ``text`` ("10.0.0.1") into an int; strict, raises ``ValueError``."""
    parts = text.split(".") if isinstance(text, str) else ()
    if len(parts) != 4:
        raise ValueError(f"invalid IPv4 address {text!r}: expected four dotted decimal octets")
    value = 0
    for part in parts:
        if not (part.isascii() and part.isdigit()) or len(part) > 3 or (len(part) > 1 and part[0] == "0"):
            raise ValueError(f"invalid IPv4 address {text!r}: bad octet {part!r}")
        octet = int(part)
        if octet > 255:
            raise ValueError(f"invalid IPv4 address {text!r}: octet {part} > 255")
        value = (value << 8) | octet
    return value


def ip_ntoa(addr: int) -> str:
    """Format an int IPv4 address as dotted quad."""
    if not 0 <= addr <= 0xFFFFFFFF:
        raise ValueError(f"invalid IPv4 address {addr!r}: not a 32-bit unsigned int")
    return f"{addr >> 24}.{(addr >> 16) & 255}.{(addr >> 8) & 255}.{addr & 255}"


def prefix_mask(plen: int) -> int:
    """Netmask for a prefix length: 24 -> 0xFFFFFF00 (Linux inet_make_mask())."""
    if not 0 <= plen <= 32:
        raise ValueError(f"invalid prefix length {plen!r}: must be 0..32")
    return (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF


def mask_to_prefix(mask: int) -> int:
    """Prefix length of a contiguous netmask: 0xFFFFFF00 -> 24; ``ValueError`` if not contiguous."""
    if not 0 <= mask <= 0xFFFFFFFF:
        raise ValueError(f"invalid netmask {mask!r}: not a 32-bit unsigned int")
    inv = ~mask & 0xFFFFFFFF
    if inv & (inv + 1):
        raise ValueError(f"invalid netmask {ip_ntoa(mask)}: not contiguous")
    return 32 - inv.bit_length()


def parse_prefix(text: str) -> tuple[int, int]:
    """Parse "10.0.0.0/8" into ``(addr, plen)``; a bare address is a /32.

    The address is returned as written (host bits are not cleared: ``ip addr add 10.0.0.1/8``
    needs them; ``ip route`` callers check ``addr & ~mask`` themselves).  Like iproute2's
    get_prefix(), a dotted netmask ("10.0.0.0/255.0.0.0") is accepted when contiguous.
    """
    addr_text, sep, plen_text = text.partition("/")
    addr = ip_aton(addr_text)
    if not sep:
        return addr, 32
    if plen_text.isascii() and plen_text.isdigit() and len(plen_text) <= 2:
        plen = int(plen_text)
        if plen <= 32:
            return addr, plen
        raise ValueError(f"invalid prefix {text!r}: prefix length {plen} > 32")
    if "." in plen_text:
        try:
            return addr, mask_to_prefix(ip_aton(plen_text))
        except ValueError as exc:
            raise ValueError(f"invalid prefix {text!r}: {exc}") from None
    raise ValueError(f"invalid prefix {text!r}: bad prefix length {plen_text!r}")


def mac_aton(text: str) -> bytes:
    """Parse "02:00:00:00:00:01" into 6 bytes; each octet is 1-2 hex digits (as iproute2 accepts)."""
    parts = text.split(":") if isinstance(text, str) else ()
    if len(parts) != 6 or not all(0 < len(p) <= 2 and _HEX.issuperset(p) for p in parts):
        raise ValueError(f"invalid MAC address {text!r}: expected six colon-separated hex octets")
    return bytes(int(p, 16) for p in parts)


def mac_ntoa(mac: bytes) -> str:
    """Format a link-layer address as lowercase colon-separated hex ("02:00:00:00:00:01")."""
    return bytes(mac).hex(":")


def is_multicast(addr: int) -> bool:
    """224.0.0.0/4 (ipv4_is_multicast)."""
    return (addr & 0xF0000000) == 0xE0000000


def is_local_multicast(addr: int) -> bool:
    """224.0.0.0/24, never forwarded (ipv4_is_local_multicast)."""
    return (addr & 0xFFFFFF00) == 0xE0000000


def is_loopback(addr: int) -> bool:
    """127.0.0.0/8 (ipv4_is_loopback)."""
    return (addr & 0xFF000000) == 0x7F000000


def is_zeronet(addr: int) -> bool:
    """0.0.0.0/8 (ipv4_is_zeronet)."""
    return (addr & 0xFF000000) == 0


def is_lbcast(addr: int) -> bool:
    """255.255.255.255, the limited broadcast (ipv4_is_lbcast)."""
    return addr == 0xFFFFFFFF


def is_multicast_mac(mac: bytes) -> bool:
    """Group bit set in the first octet (is_multicast_ether_addr); true for broadcast too."""
    return bool(mac[0] & 1)


def is_broadcast_mac(mac: bytes) -> bool:
    """ff:ff:ff:ff:ff:ff (is_broadcast_ether_addr)."""
    return mac == BROADCAST_MAC


def is_zero_mac(mac: bytes) -> bool:
    """00:00:00:00:00:00 (is_zero_ether_addr)."""
    return mac == ZERO_MAC


def is_valid_mac(mac: bytes) -> bool:
    """Unicast and not all zeros: what a device may use as its address (is_valid_ether_addr)."""
    return not (mac[0] & 1) and mac != ZERO_MAC
