"""TCP Fast Open (RFC 7413) as Linux does it: cookies, the key sysctl, the option codec, the server
side (data accepted with the SYN, the child accepted before the handshake ends) and the client side
(cookie request, cached cookie, data in the SYN) between two lab hosts."""

from __future__ import annotations

import errno

import pytest

from tuxnet.ipv4.tcp import tcp_fastopen
from tuxnet.ipv4.tcp.tcp_sockopt import TCP_FASTOPEN, TCP_INFO, TCPI_OPT_SYN_DATA
from tuxnet.lab.lab import Lab
from tuxnet.procfs import read_proc
from tuxnet.socket import AF_INET, IPPROTO_TCP, MSG_FASTOPEN, SOCK_STREAM
from tuxnet.wire.addr import ip_aton
from tuxnet.wire.tcp import (
    TcpHeader,
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


# ---------------------------------------------------------------------------------------- two hosts
KEY = "a0bf63f7-ed803d81-cd641d30-cebc4a90"


def two_hosts():
    """a (10.0.0.1, the client) -- b (10.0.0.2, the server); every TCP segment on the link is kept."""
    lab = Lab(3)
    a, b = lab.add_host("a"), lab.add_host("b")
    da, db = lab.add_link(a, "eth0", b, "eth0")
    a.devinet.add(da, ip_aton("10.0.0.1"), 24)
    b.devinet.add(db, ip_aton("10.0.0.2"), 24)
    b.sysctl.set("net.ipv4.tcp_fastopen", "3")
    b.sysctl.set("net.ipv4.tcp_fastopen_key", KEY)
    wire: list[tuple[str, TcpHeader, bytes]] = []

    def tap(skb, out):
        frame = skb.mac_bytes()
        if out and frame[12:14] == b"\x08\x00" and frame[23] == 6:
            ihl = (frame[14] & 15) * 4
            hdr = TcpHeader.parse(frame, 14 + ihl, len(frame))
            wire.append(("a>b", hdr, frame[14 + ihl + hdr.doff * 4:]))

    da.taps.append(tap)
    db.taps.append(lambda skb, out: tap(skb, out) if out else None)
    return lab, a, b, wire


def fo_opt(hdr: TcpHeader) -> TcpOptFastopen | None:
    return next((o for o in hdr.options if isinstance(o, TcpOptFastopen)), None)


def test_cookie_request_then_data_in_the_syn_between_two_hosts():
    lab, a, b, wire = two_hosts()
    srv = b.socket(AF_INET, SOCK_STREAM)
    srv.bind(("0.0.0.0", 8080))
    srv.listen(16)
    srv.setsockopt(IPPROTO_TCP, TCP_FASTOPEN, 16)
    srv.setblocking(False)
    assert srv.getsockopt(IPPROTO_TCP, TCP_FASTOPEN) == 16
    assert read_proc(b, "/proc/net/tcp").splitlines()[1].split()[-1] == "16"  # the listener's max_qlen
    key = tcp_fastopen.key_from_bytes(tcp_fastopen.parse_key_text(KEY)[0])
    want_cookie = tcp_fastopen.cookie_gen_cipher(ip_aton("10.0.0.1"), ip_aton("10.0.0.2"), key)

    # 1: no cookie yet: the SYN asks for one, the data waits for the handshake (EINPROGRESS)
    c1 = a.socket(AF_INET, SOCK_STREAM)
    c1.setblocking(False)
    with pytest.raises(BlockingIOError) as ei:
        c1.sendto(b"hello", MSG_FASTOPEN, ("10.0.0.2", 8080))
    assert ei.value.errno == errno.EINPROGRESS
    lab.run(0.01)
    syn, synack = wire[0][1], wire[1][1]
    assert int(syn.flags) == 0x02 and fo_opt(syn) == TcpOptFastopen(b"") and not wire[0][2]
    assert int(synack.flags) == 0x12 and fo_opt(synack) == TcpOptFastopen(want_cookie)
    assert b.mib.tcpext.TCPFastOpenCookieReqd == 1
    assert not any(payload for _, _, payload in wire)  # the data was not sent: the caller sends it again
    s1, _ = srv.accept()
    c1.close()
    s1.close()
    lab.run(1)
    wire.clear()

    # 2: the cached cookie goes in the SYN with the data; the server acks the data in its SYN-ACK
    c2 = a.socket(AF_INET, SOCK_STREAM)
    c2.setblocking(False)
    assert c2.sendto(b"GET / HTTP/1.0\r\n\r\n", MSG_FASTOPEN, ("10.0.0.2", 8080)) == 18
    syn = wire[0]
    assert int(syn[1].flags) == 0x02 and fo_opt(syn[1]) == TcpOptFastopen(want_cookie)
    assert syn[2] == b"GET / HTTP/1.0\r\n\r\n"
    lab.run(0.001)
    synack = wire[1][1]
    assert int(synack.flags) == 0x12 and synack.ack == (syn[1].seq + 1 + 18) & 0xFFFFFFFF
    assert fo_opt(synack) is None  # a valid cookie is not echoed
    # accept() returns the child while its handshake may still run, its data already there
    s2, peer = srv.accept()
    assert peer == ("10.0.0.1", c2.getsockname()[1])
    assert s2.recv(100) == b"GET / HTTP/1.0\r\n\r\n"
    assert s2.getsockopt(IPPROTO_TCP, TCP_INFO, 8)[5] & TCPI_OPT_SYN_DATA
    lab.run(0.01)
    assert c2.getsockopt(IPPROTO_TCP, TCP_INFO, 8)[5] & TCPI_OPT_SYN_DATA
    s2.send(b"reply")
    lab.run(0.01)
    assert c2.recv(100) == b"reply"
    assert b.mib.tcpext.TCPFastOpenPassive == 1 and a.mib.tcpext.TCPFastOpenActive == 1
    assert b.mib.tcpext.TCPFastOpenPassiveFail == 0
    # /proc/net/netstat shows them as nstat reads them
    names, values = [line.split() for line in read_proc(b, "/proc/net/netstat").splitlines()[:2]]
    counters = dict(zip(names[1:], values[1:], strict=True))
    assert counters["TCPFastOpenPassive"] == "1" and counters["TCPFastOpenCookieReqd"] == "1"


def test_bad_cookie_gets_the_valid_one_and_the_data_is_not_acked():
    lab, a, b, wire = two_hosts()
    srv = b.socket(AF_INET, SOCK_STREAM)
    srv.bind(("0.0.0.0", 8080))
    srv.listen(16)
    srv.setsockopt(IPPROTO_TCP, TCP_FASTOPEN, 16)
    # a forged cache entry: the client believes in a wrong cookie
    c = a.socket(AF_INET, SOCK_STREAM)
    c.setblocking(False)
    m = tcp_fastopen.FastopenMetrics()
    m.cookie = tcp_fastopen.FastopenCookie(b"\x11" * 8, 8)
    a.tcp.fastopen.cache[(ip_aton("10.0.0.1"), ip_aton("10.0.0.2"))] = m
    assert c.sendto(b"x" * 100, MSG_FASTOPEN, ("10.0.0.2", 8080)) == 100
    lab.run(0.01)
    synack = wire[1][1]
    assert synack.ack == (wire[0][1].seq + 1) & 0xFFFFFFFF  # only the SYN
    assert fo_opt(synack) is not None and len(fo_opt(synack).cookie) == 8
    assert b.mib.tcpext.TCPFastOpenPassiveFail == 1 and a.mib.tcpext.TCPFastOpenActiveFail == 1
    # the client resent the data at once after the handshake, and learned the right cookie
    assert wire[2][2] == b"x" * 100
    cached = a.tcp.fastopen.cache[(ip_aton("10.0.0.1"), ip_aton("10.0.0.2"))].cookie
    assert cached.val == fo_opt(synack).cookie
