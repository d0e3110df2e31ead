"""TCP sequence arithmetic modulo 2**32 against signed 32-bit reference semantics (Linux before())."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tuxnet.wire.seqnum import seq_add, seq_after, seq_before, seq_between, seq_max, seq_min, seq_sub

u32 = st.integers(0, 2**32 - 1)


def s32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - 2**32 if x & 0x80000000 else x


def test_wraparound_examples():
    assert seq_before(0xFFFFFFF0, 0x10)
    assert seq_after(0x10, 0xFFFFFFF0)
    assert not seq_before(5, 5) and not seq_after(5, 5)
    assert seq_add(0xFFFFFFFF, 1) == 0
    assert seq_add(0, -1) == 0xFFFFFFFF
    assert seq_sub(0x10, 0xFFFFFFF0) == 0x20
    assert seq_sub(0xFFFFFFF0, 0x10) == -0x20
    assert seq_between(2, 0xFFFFFFFE, 5)
    assert seq_between(0xFFFFFFFE, 0xFFFFFFFE, 5) and seq_between(5, 0xFFFFFFFE, 5)
    assert not seq_between(6, 0xFFFFFFFE, 5)
    # 2**31 apart: each is "before" the other, exactly as Linux's (s32)(a - b) < 0.
    assert seq_before(0, 0x80000000) and seq_before(0x80000000, 0)


@given(u32, u32)
def test_before_after_match_signed_difference(a, b):
    assert seq_before(a, b) == (s32(a - b) < 0)
    assert seq_after(a, b) == (s32(b - a) < 0)
    assert seq_sub(a, b) == s32(a - b)
    assert seq_add(b, seq_sub(a, b)) == a
    assert seq_max(a, b) == (a if seq_after(a, b) else b)
    assert seq_min(a, b) == (a if seq_before(a, b) else b)


@given(u32, u32, u32)
def test_between_matches_linux(seq, low, high):
    assert seq_between(seq, low, high) == (((high - low) & 0xFFFFFFFF) >= ((seq - low) & 0xFFFFFFFF))


@given(u32, st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1))
def test_between_is_window_membership(low, width, k):
    high = seq_add(low, width)
    assert seq_between(seq_add(low, min(k, width)), low, high)
    if k > width:
        assert not seq_between(seq_add(low, k), low, high)
