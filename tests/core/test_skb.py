import struct

import pytest

from tuxnet.skb import MAX_HEADER, SkBuff


def test_push_pull_put_trim_geometry():
    skb = SkBuff.alloc(100)
    assert skb.headroom() == MAX_HEADER and skb.len == 0
    off = skb.put_data(b"payload!")
    assert off == MAX_HEADER and skb.len == 8
    h = skb.push(4)
    struct.pack_into("!I", skb.buf, h, 0xDEADBEEF)
    assert skb.bytes() == b"\xde\xad\xbe\xefpayload!"
    assert skb.headroom() == MAX_HEADER - 4
    skb.pull(4)
    assert skb.bytes() == b"payload!"
    skb.trim(3)
    assert skb.bytes() == b"pay"
    skb.trim(10)  # no-op
    assert skb.len == 3
    with pytest.raises(ValueError):
        skb.pull(4)


def test_push_beyond_headroom_reallocates_and_keeps_offsets():
    skb = SkBuff.from_bytes(b"data", headroom=2)
    skb.network_header = skb.data
    before = skb.network_header
    skb.push(10)
    assert skb.len == 14 and skb.bytes()[10:] == b"data"
    assert skb.network_header > before
    assert skb.buf[skb.network_header:skb.network_header + 4] == b"data"


def test_copy_is_independent():
    skb = SkBuff.from_bytes(b"abc")
    skb.mark = 7
    c = skb.copy()
    c.buf[c.data] = ord("z")
    assert skb.bytes() == b"abc" and c.bytes() == b"zbc" and c.mark == 7 and c.id != skb.id
