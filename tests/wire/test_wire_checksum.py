"""Internet checksum (RFC 1071) and incremental update (RFC 1624) against a plain reference."""

from __future__ import annotations

import os
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.wire.checksum import (
    csum_add,
    csum_block_add,
    csum_fold,
    csum_partial,
    csum_replace2,
    csum_replace4,
    inet_checksum,
    l4_checksum,
    pseudo_header_sum,
)


def ref_sum(data: bytes) -> int:
    """RFC 1071 section 4.1, word by word with end-around carry."""
    total = 0
    for i in range(0, len(data) - 1, 2):
        total += (data[i] << 8) | data[i + 1]
    if len(data) & 1:
        total += data[-1] << 8
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def ref_checksum(data: bytes) -> int:
    return ~ref_sum(data) & 0xFFFF


def test_rfc1071_example():
    # RFC 1071 section 3 numerical example: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert csum_partial(data) == 0xDDF2
    assert inet_checksum(data) == 0x220D


def test_golden_ip_header():
    # IPv4 header of the SYN captured from Linux 6.18 (tests/wire/golden/veth_basic.pcap frame 4):
    # check field 0x741e; the sum over a correct header is 0xffff, so the checksum is 0.
    hdr = bytes.fromhex("4500003cb29b40004006741e0a0000010a000002")
    assert inet_checksum(hdr) == 0
    zeroed = hdr[:10] + b"\0\0" + hdr[12:]
    assert inet_checksum(zeroed) == 0x741E


def test_empty_and_zero():
    assert csum_partial(b"") == 0
    assert csum_partial(bytes(100)) == 0
    assert inet_checksum(b"") == 0xFFFF
    assert csum_fold(0) == 0xFFFF
    assert csum_fold(0xFFFF) == 0
    assert csum_fold(0x1_0000) == 0xFFFE  # end-around carry


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 0xFFFFFFFF))
def test_matches_reference(data, initial):
    assert csum_fold(csum_partial(data)) == ref_checksum(data)
    expect = ref_sum(data) + initial
    while expect >> 16:
        expect = (expect & 0xFFFF) + (expect >> 16)
    assert csum_fold(csum_partial(data, initial)) == (~expect & 0xFFFF)


@settings(max_examples=25, deadline=None)
@given(st.integers(4090, 12300), st.randoms(use_true_random=False))
def test_matches_reference_across_chunks(length, rnd):
    data = rnd.randbytes(length)
    assert inet_checksum(data) == ref_checksum(data)


def test_odd_lengths_each_size():
    data = bytes(range(1, 256)) * 40
    for n in list(range(40)) + [4095, 4096, 4097, 8191, 8193, len(data)]:
        assert inet_checksum(data[:n]) == ref_checksum(data[:n]), n


@given(st.binary(max_size=200).map(lambda b: b + b"\0" if len(b) & 1 else b))
def test_appended_checksum_verifies(data):
    check = inet_checksum(data)
    assert inet_checksum(data + check.to_bytes(2, "big")) == 0


@given(st.binary(max_size=120), st.binary(max_size=120))
def test_block_add_at_any_offset(a, b):
    assert csum_block_add(csum_partial(a), csum_partial(b), len(a)) == csum_partial(a + b)
    assert csum_add(csum_partial(a), 0) == csum_partial(a)


@given(st.binary(max_size=64), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.sampled_from([6, 17]))
def test_l4_checksum_is_pseudo_header_plus_segment(seg, src, dst, proto):
    pseudo = src.to_bytes(4, "big") + dst.to_bytes(4, "big") + bytes([0, proto]) + len(seg).to_bytes(2, "big")
    assert l4_checksum(src, dst, proto, seg) == ref_checksum(pseudo + seg)
    assert csum_fold(pseudo_header_sum(src, dst, proto, len(seg))) == ref_checksum(pseudo)


# A header-like block: a fixed non-zero first word (as every IPv4/TCP header has) keeps the sum of
# the other words non-zero, the case where RFC 1624 eqn. 3 equals recomputation exactly.
headers = st.tuples(
    st.binary(min_size=4, max_size=38).map(lambda b: b"\x45\x00" + b + bytes(len(b) & 1)), st.data()
)


@settings(max_examples=300)
@given(headers)
def test_replace2_matches_recompute(args):
    body, data = args
    nwords = len(body) // 2
    cpos = data.draw(st.integers(1, nwords - 1), label="checksum word")
    wpos = data.draw(st.integers(1, nwords - 1).filter(lambda w: w != cpos), label="changed word")
    new = data.draw(st.integers(0, 0xFFFF), label="new value")
    buf = bytearray(body)
    buf[2 * cpos : 2 * cpos + 2] = b"\0\0"
    check = inet_checksum(buf)
    buf[2 * cpos : 2 * cpos + 2] = check.to_bytes(2, "big")
    old = int.from_bytes(buf[2 * wpos : 2 * wpos + 2], "big")
    buf[2 * wpos : 2 * wpos + 2] = new.to_bytes(2, "big")
    buf[2 * cpos : 2 * cpos + 2] = b"\0\0"
    assert csum_replace2(check, old, new) == inet_checksum(buf)


@settings(max_examples=300)
@given(
    st.binary(min_size=8, max_size=40).map(lambda b: b"\x45\x00" + b[: len(b) & ~3] + b"\0\0"),
    st.integers(0, 2**32 - 1),
    st.data(),
)
def test_replace4_matches_recompute(body, new, data):
    # Last word is the checksum; a 32-bit field (an address) sits at a word-aligned place after word 0.
    nwords = len(body) // 2
    pos = data.draw(st.integers(1, nwords - 3))
    buf = bytearray(body)
    check = inet_checksum(buf)
    buf[-2:] = check.to_bytes(2, "big")
    old = int.from_bytes(buf[2 * pos : 2 * pos + 4], "big")
    buf[2 * pos : 2 * pos + 4] = new.to_bytes(4, "big")
    buf[-2:] = b"\0\0"
    assert csum_replace4(check, old, new) == inet_checksum(buf)


def test_rfc1624_example():
    # RFC 1624 section 4: HC = 0xdd2f, a word changes 0x5555 -> 0x3285, new HC = 0x0000.
    assert csum_replace2(0xDD2F, 0x5555, 0x3285) == 0x0000


def test_fast_for_64k():
    data = os.urandom(65536)
    start = time.perf_counter()
    for _ in range(20):
        csum_partial(data)
    per_call = (time.perf_counter() - start) / 20
    assert per_call < 0.002, f"csum_partial took {per_call * 1e6:.0f} us for 64 KiB"
