"""The socket-API corners of TCP measured on Linux 6.18: TCP_INQ and its TCP_CM_INQ control message
(put_cmsg truncation included), the SIOCINQ/SIOCOUTQ/SIOCOUTQNSD/SIOCATMARK ioctls, and the
tcp_info chronographs (tcpi_busy_time, tcpi_rwnd_limited, tcpi_sndbuf_limited)."""

from __future__ import annotations

import errno
import struct

import pytest
from tcpharness import Harness, active_open, passive_open

from tuxnet.ipv4.tcp.tcp_sockopt import TCP_CM_INQ, TCP_INQ, tcp_get_info
from tuxnet.sock.constants import (
    EPOLLOUT,
    FIONREAD,
    IPPROTO_TCP,
    MSG_CTRUNC,
    SIOCATMARK,
    SIOCINQ,
    SIOCOUTQ,
    SIOCOUTQNSD,
    SO_SNDBUF,
    SOL_SOCKET,
    SOL_TCP,
)


def _inq(anc: list) -> int:
    assert [(lvl, typ) for lvl, typ, _ in anc] == [(SOL_TCP, TCP_CM_INQ)], anc
    return struct.unpack("=i", anc[0][2])[0]


def test_tcp_inq_option_values():
    hs = Harness()
    s = hs.socket()
    assert s.getsockopt(IPPROTO_TCP, TCP_INQ) == 0
    s.setsockopt(IPPROTO_TCP, TCP_INQ, 1)
    assert s.getsockopt(IPPROTO_TCP, TCP_INQ) == 1
    for bad in (2, -1):
        with pytest.raises(OSError) as e:
            s.setsockopt(IPPROTO_TCP, TCP_INQ, bad)
        assert e.value.errno == errno.EINVAL
    s.setsockopt(IPPROTO_TCP, TCP_INQ, 0)
    assert s.getsockopt(IPPROTO_TCP, TCP_INQ) == 0


def test_tcp_cm_inq_reports_what_is_left_and_one_after_the_fin():
    hs = Harness()
    _, conn, fl = passive_open(hs)
    conn.setsockopt(IPPROTO_TCP, TCP_INQ, 1)
    for _ in range(3):
        fl.send("P.", b"a" * 1000)
    data, anc, flags, _ = conn.recvmsg(1000, 64)
    assert len(data) == 1000 and flags == 0 and _inq(anc) == 2000
    data, anc, flags, _ = conn.recvmsg(5000, 64)
    assert len(data) == 2000 and _inq(anc) == 0
    fl.send("F.", b"b" * 500)
    data, anc, _, _ = conn.recvmsg(500, 64)
    assert len(data) == 500 and _inq(anc) == 1  # "continue reading": EOF is still to come
    data, anc, _, _ = conn.recvmsg(500, 64)
    assert data == b"" and _inq(anc) == 1


def test_control_buffer_too_small_sets_msg_ctrunc():
    # put_cmsg as Linux 6.18 measured: no buffer (or less than a cmsghdr) drops the message with
    # MSG_CTRUNC; a header's worth keeps it with its data cut
    hs = Harness()
    _, conn, fl = passive_open(hs)
    conn.setsockopt(IPPROTO_TCP, TCP_INQ, 1)
    fl.send("P.", b"a" * 100)
    for ancbufsize, anc_want, flags_want in ((0, [], MSG_CTRUNC), (4, [], MSG_CTRUNC),
                                             (16, [(SOL_TCP, TCP_CM_INQ, b"")], MSG_CTRUNC)):
        data, anc, flags, _ = conn.recvmsg(10, ancbufsize)
        assert (len(data), anc, flags) == (10, anc_want, flags_want)
    data, anc, flags, _ = conn.recvmsg(10, 20)
    assert flags == 0 and _inq(anc) == 60


def test_siocinq_skips_the_fin_and_stops_at_the_urgent_mark():
    hs = Harness()
    lst, conn, fl = passive_open(hs)
    with pytest.raises(OSError) as e:
        lst.ioctl(SIOCINQ)
    assert e.value.errno == errno.EINVAL
    assert conn.ioctl(SIOCINQ) == conn.ioctl(FIONREAD) == 0
    fl.send("P.", b"x" * 1000)
    assert conn.ioctl(SIOCINQ) == 1000
    conn.recv(400)
    assert conn.ioctl(SIOCINQ) == 600
    fl.send("FP.", b"y" * 100)
    assert conn.ioctl(SIOCINQ) == 700  # the FIN's sequence number is not a byte to read
    conn.recv(700)
    assert conn.ioctl(SIOCINQ) == 0


def test_siocinq_counts_up_to_the_urgent_byte():
    hs = Harness()
    _, conn, fl = passive_open(hs)
    fl.send("PU.", b"abcdef", urg=4)  # urgent pointer to the byte after 'd': 'd' is urgent
    assert conn.ioctl(SIOCATMARK) == 0
    assert conn.ioctl(SIOCINQ) == 3
    assert conn.recv(10) == b"abc"
    assert conn.ioctl(SIOCATMARK) == 1


def test_siocoutq_and_siocoutqnsd_follow_snd_una_and_snd_nxt():
    hs = Harness()
    s, fl = active_open(hs, wscale=None, win=3000)
    assert s.ioctl(SIOCOUTQ) == s.ioctl(SIOCOUTQNSD) == 0
    s.send(b"z" * 5000)
    hs.run(0)
    sent = sum(len(x.data) for x in hs.take())
    assert sent == 2896  # two full segments fit in the peer's 3000-byte window
    assert s.ioctl(SIOCOUTQ) == 5000
    assert s.ioctl(SIOCOUTQNSD) == 5000 - sent
    fl.ack = (fl.iss_h + 1 + 1448) & 0xFFFFFFFF
    fl.send(".", win=1448)
    assert s.ioctl(SIOCOUTQ) == 5000 - 1448
    assert s.ioctl(SIOCOUTQNSD) == 5000 - sent


def test_syn_sent_queues_read_as_empty_and_unknown_ioctls_are_enotty():
    hs = Harness()
    s = hs.socket()
    s.setblocking(False)
    s.connect_ex(("192.0.2.2", 80))
    assert s.ioctl(SIOCINQ) == s.ioctl(SIOCOUTQ) == s.ioctl(SIOCOUTQNSD) == 0
    with pytest.raises(OSError) as e:
        s.ioctl(0x1234)
    assert e.value.errno == errno.ENOTTY


def _chrono(s) -> tuple[int, int, int]:
    info = tcp_get_info(s.sk)
    return info["tcpi_busy_time"], info["tcpi_rwnd_limited"], info["tcpi_sndbuf_limited"]


def test_busy_and_rwnd_limited_chronographs():
    hs = Harness()
    s, fl = active_open(hs, win=0, wscale=None)  # the peer offers no window
    assert _chrono(s) == (0, 0, 0)
    s.send(b"a" * 1000)
    hs.run(0.1)
    assert hs.take() == []  # stalled by the window
    busy, rwnd, sndbuf = _chrono(s)
    assert busy == rwnd == 100_000 and sndbuf == 0
    fl.send(".", win=2000)  # the window opens: the data goes, the rwnd chronograph stops
    seg = fl.recv()
    assert len(seg.data) == 1000
    hs.run(0.03)
    busy, rwnd, _ = _chrono(s)
    assert (busy, rwnd) == (130_000, 100_000)  # busy until it is acknowledged
    fl.send(".")
    hs.run(0.05)
    assert _chrono(s)[:2] == (130_000, 100_000)  # all acknowledged: nothing runs


def test_sndbuf_limited_chronograph_runs_while_the_writer_waits_for_space():
    hs = Harness()
    s, fl = active_open(hs, wscale=None)
    s.setsockopt(SOL_SOCKET, SO_SNDBUF, 1)  # SOCK_MIN_SNDBUF: one skb fills it
    sent = s.send(b"b" * 60_000)
    # the first skb (size goal 31856: half the peer's window) sends cwnd's 14480 bytes, then the rest
    # of it fills up to the size goal again; a third skb would exceed the send buffer
    assert sent == 14_480 + 31_856
    hs.run(0)
    acked = 0
    for flight in (14_480, 28_960):  # cwnd-limited: busy, no other chronograph
        assert sum(len(x.data) for x in hs.take()) == flight
        acked += flight
        fl.ack = (fl.iss_h + 1 + acked) & 0xFFFFFFFF
        fl.send(".")
    # cwnd 40: the last 2896 bytes go, the queue empties while the writer waits for space
    assert sum(len(x.data) for x in hs.take()) == sent - acked
    hs.run(0.02)
    busy, rwnd, sndbuf = _chrono(s)
    assert (busy, rwnd, sndbuf) == (20_000, 0, 20_000)
    assert not s.poll() & EPOLLOUT
    fl.ack = (fl.iss_h + 1 + sent) & 0xFFFFFFFF
    fl.send(".")  # everything acked: space again, the chronograph stops with SOCK_NOSPACE
    hs.run(0.02)
    assert s.poll() & EPOLLOUT
    assert _chrono(s) == (20_000, 0, 20_000)
