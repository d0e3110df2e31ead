"""TCP Fast Open (RFC 7413) as Linux does it: cookies, the key sysctl, the option codec, the server
side (data accepted with the SYN, the child accepted before the handshake ends) and the client side
(cookie request, cached cookie, data in the SYN) between two lab hosts."""

from __future__ import annotations

import errno

import pytest

from tuxnet.ipv4.tcp import tcp_fastopen
from tuxnet.lab.lab import Lab
from tuxnet.wire.addr import ip_aton
from tuxnet.wire.tcp import (
    TcpOptFastopen,
    TcpOptNop,
    encode_tcp_options,
    linux_syn_options,
    parse_tcp_options,
)

# Cookies the Linux kernel computes (the packetdrill corpus fixes the key and the addresses and
# expects these bytes: fastopen/server/simple{1,2,3}.pkt, sockopt-fastopen-key.pkt, and the
# TFO_COOKIE its runner passes for the default key and addresses).
KERNEL_COOKIES = [
    ("a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4", "192.0.2.1", "192.168.0.1", "3021b9d889017eeb"),
    ("a0bf63f7-ed803d81-cd641d30-cebc4a90", "10.248.0.2", "192.168.0.2", "00abaaabe8e954c2"),
    ("a0bf63f7-ed803d81-cd641d30-cebc4a90", "10.248.0.3", "192.168.0.2", "1313a2da994a0951"),
    ("a0bf63f7-ed803d81-cd641d30-cebc4a90", "10.248.0.3", "192.168.0.3", "76d2c1c530f51f79"),
    ("00000000-00000000-00000000-00000000", "10.248.0.2", "192.168.0.2", "93b7aa4f550f8a1a"),
]


def test_siphash_reference_vector():
    # the SipHash paper's test vector: key 00..0f, message 00..0e
    k0, k1 = tcp_fastopen.key_from_bytes(bytes(range(16)))
    assert tcp_fastopen.siphash24(k0, k1, bytes(range(15))) == 0xA129CA6149BE45E5


@pytest.mark.parametrize(("key", "client", "server", "cookie"), KERNEL_COOKIES)
def test_cookie_matches_the_kernel(key, client, server, cookie):
    (raw,) = tcp_fastopen.parse_key_text(key)
    k = tcp_fastopen.key_from_bytes(raw)
    assert tcp_fastopen.cookie_gen_cipher(ip_aton(client), ip_aton(server), k).hex() == cookie


def test_key_sysctl_reads_back_as_linux_and_rejects_garbage():
    lab = Lab(1)
    h = lab.add_host("h")
    assert h.sysctl["net.ipv4.tcp_fastopen_key"] == "00000000-00000000-00000000-00000000"
    h.sysctl.set("net.ipv4.tcp_fastopen_key", "1-2-3-4,5-6-7-8")
    assert h.sysctl["net.ipv4.tcp_fastopen_key"] == ("00000001-00000002-00000003-00000004,"
                                                     "00000005-00000006-00000007-00000008")
    ctx = h.tcp.fastopen.ctx
    assert ctx is not None and len(ctx.keys) == 2
    assert tcp_fastopen.key_to_bytes(ctx.keys[0]) == bytes.fromhex("01000000020000000300000004000000")
    with pytest.raises(OSError) as ei:
        h.sysctl.set("net.ipv4.tcp_fastopen_key", "xyz")
    assert ei.value.errno == errno.EINVAL
    h.sysctl.set("net.ipv4.tcp_fastopen", "0x70403")  # proc_dointvec takes hex
    assert h.sysctl["net.ipv4.tcp_fastopen"] == 0x70403


def test_fastopen_options_codec_and_syn_layout():
    raw = bytes.fromhex("2202") + bytes.fromhex("fe0cf989") + bytes(range(8))
    opts = parse_tcp_options(raw)
    assert opts == (TcpOptFastopen(b""), TcpOptFastopen(bytes(range(8)), exp=True))
    assert encode_tcp_options(opts) == raw + b"\0\0"  # padded to a multiple of 4
    # a cookie request follows WSCALE and is padded with NOP, NOP (tcp_options_write)
    syn = linux_syn_options(1460, True, None, 8, TcpOptFastopen(b""))
    assert syn[-3:] == (TcpOptFastopen(b""), TcpOptNop(), TcpOptNop())
    assert len(encode_tcp_options(syn)) == 16
