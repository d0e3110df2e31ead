"""IPv4 int / MAC bytes helpers (include/linux/in.h, etherdevice.h predicates)."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuxnet.wire.addr import (
    BROADCAST_MAC,
    ZERO_MAC,
    ip_aton,
    ip_ntoa,
    is_broadcast_mac,
    is_lbcast,
    is_local_multicast,
    is_loopback,
    is_multicast,
    is_multicast_mac,
    is_valid_mac,
    is_zero_mac,
    is_zeronet,
    mac_aton,
    mac_ntoa,
    mask_to_prefix,
    parse_prefix,
    prefix_mask,
)


def test_ip_aton_ntoa():
    assert ip_aton("10.0.0.1") == 0x0A000001
    assert ip_aton("255.255.255.255") == 0xFFFFFFFF
    assert ip_aton("0.0.0.0") == 0
    assert ip_ntoa(0xC0A80001) == "192.168.0.1"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "10.0.0",
        "10.0.0.1.2",
        "256.0.0.1",
        "01.2.3.4",
        "1.2.3.-4",
        "1.2.3.4 ",
        " 1.2.3.4",
        "a.b.c.d",
        "1..2.3",
        "1.2.3.\u0664",
        "0x1.2.3.4",
        "1.2.3.1000",
    ],
)
def test_ip_aton_is_strict(bad):
    with pytest.raises(ValueError, match="invalid IPv4 address"):
        ip_aton(bad)


def test_ip_ntoa_range():
    with pytest.raises(ValueError):
        ip_ntoa(-1)
    with pytest.raises(ValueError):
        ip_ntoa(2**32)


@given(st.integers(0, 2**32 - 1))
def test_ip_roundtrip_matches_socket(addr):
    text = ip_ntoa(addr)
    assert text == socket.inet_ntoa(addr.to_bytes(4, "big"))
    assert ip_aton(text) == addr


def test_prefixes():
    assert parse_prefix("10.0.0.0/8") == (0x0A000000, 8)
    assert parse_prefix("10.1.2.3/24") == (0x0A010203, 24)  # host bits kept, as `ip addr add` needs
    assert parse_prefix("10.1.2.3") == (0x0A010203, 32)
    assert parse_prefix("0.0.0.0/0") == (0, 0)
    assert parse_prefix("10.0.0.0/255.255.0.0") == (0x0A000000, 16)
    assert prefix_mask(0) == 0 and prefix_mask(24) == 0xFFFFFF00 and prefix_mask(32) == 0xFFFFFFFF
    assert mask_to_prefix(0xFFFFFF00) == 24 and mask_to_prefix(0) == 0
    for bad in ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/a", "10.0.0.0/255.0.255.0", "10.0.0/8", "10.0.0.0/-1"]:
        with pytest.raises(ValueError):
            parse_prefix(bad)
    with pytest.raises(ValueError):
        prefix_mask(33)
    with pytest.raises(ValueError, match="not contiguous"):
        mask_to_prefix(0xFF00FF00)


@given(st.integers(0, 32))
def test_mask_roundtrip(plen):
    assert mask_to_prefix(prefix_mask(plen)) == plen


def test_macs():
    assert mac_aton("02:00:00:00:00:01") == b"\x02\0\0\0\0\x01"
    assert mac_aton("2:0:0:0:0:A") == b"\x02\0\0\0\0\x0a"
    assert mac_ntoa(b"\x02\0\0\0\0\xab") == "02:00:00:00:00:ab"
    for bad in [
        "02:00:00:00:00",
        "02:00:00:00:00:01:02",
        "02-00-00-00-00-01",
        "02:00:00:00:00:1g",
        "020:0:0:0:0:1",
        "",
    ]:
        with pytest.raises(ValueError, match="invalid MAC"):
            mac_aton(bad)


@given(st.binary(min_size=6, max_size=6))
def test_mac_roundtrip(mac):
    assert mac_aton(mac_ntoa(mac)) == mac


def test_predicates():
    assert is_multicast(ip_aton("224.0.0.1")) and is_multicast(ip_aton("239.255.255.255"))
    assert not is_multicast(ip_aton("240.0.0.1"))
    assert is_local_multicast(ip_aton("224.0.0.251")) and not is_local_multicast(ip_aton("224.0.1.1"))
    assert is_loopback(ip_aton("127.1.2.3")) and not is_loopback(ip_aton("128.0.0.1"))
    assert is_zeronet(ip_aton("0.1.2.3")) and not is_zeronet(ip_aton("1.0.0.0"))
    assert is_lbcast(0xFFFFFFFF) and not is_lbcast(ip_aton("10.255.255.255"))
    assert is_multicast_mac(BROADCAST_MAC) and is_multicast_mac(b"\x01\x00\x5e\0\0\1")
    assert not is_multicast_mac(b"\x02\0\0\0\0\1")
    assert is_broadcast_mac(BROADCAST_MAC) and is_zero_mac(ZERO_MAC)
    assert is_valid_mac(b"\x02\0\0\0\0\1") and not is_valid_mac(ZERO_MAC) and not is_valid_mac(BROADCAST_MAC)
