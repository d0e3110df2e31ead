"""What the sender puts on the wire: Nagle and TCP_NODELAY, TCP_CORK, the initial and receive
windows, the peer's window scale, zero-window probes and the persist timer, MSS choices, path MTU
discovery from ICMP "fragmentation needed", and ICMP errors during connect."""

from __future__ import annotations

import errno
import struct

import pytest
from tcpharness import H_IP, MS, P_IP, Harness, active_open, passive_open

from tuxnet.ipv4.tcp.tcp_sock import TCP_CLOSE, TCP_ESTABLISHED, TCP_SYN_SENT
from tuxnet.ipv4.tcp.tcp_sockopt import TCP_CORK, TCP_MAXSEG, TCP_NODELAY
from tuxnet.skb import SkBuff
from tuxnet.sock.constants import IPPROTO_TCP, SO_ERROR, SOL_SOCKET
from tuxnet.wire.checksum import csum_fold, csum_partial


@pytest.mark.parametrize("nodelay, first, after_ack", [(0, [100], [900]), (1, [100] * 10, [])])
def test_nagle_coalesces_small_writes_and_nodelay_does_not(nodelay, first, after_ack):
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.setsockopt(IPPROTO_TCP, TCP_NODELAY, nodelay)
    for _ in range(10):
        conn.send(b"x" * 100)
    hs.run(0.005)
    segs = hs.take()
    assert [len(s.data) for s in segs] == first
    assert all(s.flags == "P." for s in segs)
    fl.send(".", ack=segs[0].end_seq)
    hs.run(0.006)
    assert [len(s.data) for s in hs.take()] == after_ack
    assert conn.getsockopt(IPPROTO_TCP, TCP_NODELAY) == nodelay


def test_nagle_never_holds_full_segments():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.send(b"x" * 100)
    conn.send(b"y" * 3000)
    hs.run(0.005)
    # the small segment is out; of the rest only full-sized segments leave while it is unACKed
    assert [len(s.data) for s in hs.take()] == [100, 1448, 1448]


def test_tcp_cork_sends_only_full_segments_until_uncorked():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.setsockopt(IPPROTO_TCP, TCP_CORK, 1)
    for _ in range(20):
        conn.send(b"c" * 100)
    hs.run(0.05)
    segs = hs.take()
    assert [len(s.data) for s in segs] == [1448]
    fl.send(".", ack=segs[0].end_seq)
    hs.run(0.05)
    assert hs.take() == []  # still corked
    conn.setsockopt(IPPROTO_TCP, TCP_CORK, 0)
    hs.run(0.006)
    assert [len(s.data) for s in hs.take()] == [552]


def test_initial_window_is_ten_segments_then_slow_start():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.send(bytes(100_000))
    hs.run(0.005)
    first = hs.take()
    assert len(first) == 10 and all(len(s.data) == 1448 for s in first)
    assert conn.sk.snd_cwnd == 10
    # each ACK of one segment adds one to cwnd: two segments leave per ACK
    fl.send(".", ack=first[0].end_seq)
    hs.run(0.006)
    assert len(hs.take()) == 2


def test_receive_window_limits_what_is_sent_and_its_scale_is_honoured():
    hs = Harness(delay_ms=5)
    # the peer announced wscale 7 and a window of 24 << 7 = 3072 bytes in the handshake's ACK
    _, conn, fl = passive_open(hs, win=24)
    conn.send(bytes(10_000))
    hs.run(0.005)
    assert [len(s.data) for s in hs.take()] == [1448, 1448]
    assert conn.sk.snd_wnd == 3072
    fl.send(".", ack=fl.ack + 2896, win=24)
    hs.run(0.006)
    assert [len(s.data) for s in hs.take()] == [1448, 1448]


def test_mss_limits_and_tcp_maxseg_on_the_listener():
    hs = Harness(delay_ms=5)
    lst = hs.listener()
    lst.setsockopt(IPPROTO_TCP, TCP_MAXSEG, 1000)
    from tcpharness import Flow

    fl = Flow(hs, 41000, 8080)
    fl.send("S")
    sa = fl.recv()
    from tuxnet.wire.tcp import TcpOptMss

    assert sa.opt(TcpOptMss)[0] == 1000
    fl.send(".")
    conn, _ = lst.accept()
    conn.send(bytes(3000))
    hs.run(0.005)
    assert [len(s.data) for s in hs.take()] == [988, 988, 988, 36]  # 1000 - 12 bytes of TS option
    assert conn.getsockopt(IPPROTO_TCP, TCP_MAXSEG) == 988


def zero_window(hs: Harness):
    _, conn, fl = passive_open(hs)
    conn.send(b"a" * 1000)
    d = fl.recv()
    fl.send(".", ack=d.end_seq, win=0)
    hs.take()
    conn.send(bytes(5000))
    return conn, fl, d.end_seq


def test_zero_window_probes_back_off_and_stop_when_the_window_opens():
    hs = Harness(delay_ms=5)
    conn, fl, una = zero_window(hs)
    t0 = hs.now
    hs.run(4)
    probes = hs.take()
    rto = conn.sk.icsk_rto
    # snd_una - 1 and no data: an old sequence number the receiver must ACK
    assert all(p.seq == una - 1 and not p.data and p.flags == "." for p in probes)
    times = [(p.t - hs.delay_ns - t0) // MS for p in probes]
    # the persist timer: RTO, then doubling (210, +420, +840, +1680 ms)
    assert times == [rto * ((2 << k) - 1) for k in range(4)]
    # the window reopens (an ACK for a probe): data flows again
    fl.send(".", ack=una, win=100)
    hs.run(0.006)
    data = [s for s in hs.take() if s.data]
    assert data and data[0].seq == una
    assert hs.h.mib.tcpext.TCPWinProbe == 4


def test_unanswered_zero_window_probes_abort_after_tcp_retries2():
    hs = Harness(delay_ms=5)
    conn, fl, una = zero_window(hs)
    hs.run(1200)
    assert len(hs.take()) == 15
    assert conn.sk.sk_state == TCP_CLOSE
    assert conn.getsockopt(SOL_SOCKET, SO_ERROR) == errno.ETIMEDOUT


def test_answered_zero_window_probes_keep_the_connection_alive():
    hs = Harness(delay_ms=5)
    conn, fl, una = zero_window(hs)
    for _ in range(12):
        hs.run(150)
        if hs.take():
            fl.send(".", ack=una, win=0)
    assert conn.sk.sk_state == TCP_ESTABLISHED
    assert hs.h.mib.tcpext.TCPWinProbe > 15


# ------------------------------------------------------------------------------ ICMP
def icmp_error(hs: Harness, typ: int, code: int, quoted: bytes, info: int = 0) -> None:
    """The peer sends h an ICMP error quoting ``quoted`` (an IP header and at least 8 bytes)."""
    body = bytearray(struct.pack("!BBHI", typ, code, 0, info) + quoted)
    body[2:4] = struct.pack("!H", csum_fold(csum_partial(bytes(body), 0)))
    skb = SkBuff.alloc(len(body))
    off = skb.put(len(body))
    skb.buf[off:off + len(body)] = body
    assert hs.p.ip.send(skb, P_IP, H_IP, 1) == 0
    hs.run(hs.delay_ns / 1e9)


def quote(seg) -> bytes:
    return seg.quote()


def test_frag_needed_shrinks_the_mss_and_retransmits():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.send(bytes(4000))
    hs.run(0.005)
    segs = hs.take()
    assert [len(s.data) for s in segs] == [1448, 1448, 1104]
    icmp_error(hs, 3, 4, quote(segs[0]), info=1200)  # next-hop MTU 1200
    hs.run(0.006)
    again = hs.take()
    # MSS = 1200 - 40 - 12: the lost segments go out again in the new size
    assert again and all(len(s.data) <= 1148 for s in again)
    assert again[0].seq == segs[0].seq and len(again[0].data) == 1148
    assert conn.getsockopt(IPPROTO_TCP, TCP_MAXSEG) == 1148
    assert conn.sk.sk_state == TCP_ESTABLISHED


def test_port_unreachable_during_connect_fails_it_at_once():
    hs = Harness(delay_ms=5)
    s = hs.socket()
    s.setblocking(False)
    s.connect_ex(("192.0.2.2", 80))
    syn = hs.next()
    icmp_error(hs, 3, 3, quote(syn))
    assert s.sk.sk_state == TCP_CLOSE
    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == errno.ECONNREFUSED


def test_host_unreachable_on_an_established_connection_is_a_soft_error():
    hs = Harness(delay_ms=5, sysctls={"net.ipv4.tcp_retries2": "3"})
    s, fl = active_open(hs)
    s.send(b"q" * 10)
    d = hs.next()
    icmp_error(hs, 3, 1, quote(d))
    assert s.sk.sk_state == TCP_ESTABLISHED
    assert s.send(b"more") == 4  # a soft error does not fail calls
    hs.run(60)
    # when the retransmissions time out, the soft error is the one reported
    assert s.sk.sk_state == TCP_CLOSE
    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == errno.EHOSTUNREACH


def test_so_error_reads_and_clears_a_soft_error():
    hs = Harness(delay_ms=5)
    s, fl = active_open(hs)
    s.send(b"q" * 10)
    icmp_error(hs, 3, 1, quote(hs.next()))
    # sock_getsockopt(SO_ERROR): sk_err, else sk_err_soft (exchanged with 0)
    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == errno.EHOSTUNREACH
    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == 0
    assert s.sk.sk_state == TCP_ESTABLISHED


def test_icmp_for_an_out_of_window_sequence_is_ignored():
    hs = Harness(delay_ms=5)
    s = hs.socket()
    s.setblocking(False)
    s.connect_ex(("192.0.2.2", 80))
    syn = hs.next()
    q = bytearray(quote(syn))
    q[20 + 4:20 + 8] = struct.pack("!I", (syn.seq + 5000) & 0xFFFFFFFF)
    icmp_error(hs, 3, 3, bytes(q))
    assert s.sk.sk_state == TCP_SYN_SENT
    assert hs.h.mib.tcpext.OutOfWindowIcmps == 1
