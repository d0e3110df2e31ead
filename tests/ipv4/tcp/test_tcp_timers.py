"""Keepalive (SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT and the sysctls), TCP_USER_TIMEOUT, and the
reuse of TIME_WAIT ports by connect() under net.ipv4.tcp_tw_reuse."""

from __future__ import annotations

import errno

import pytest
from tcpharness import MS, Harness, P, active_open, passive_open

from tuxnet.ipv4.tcp.tcp_sock import TCP_CLOSE, TCP_ESTABLISHED
from tuxnet.ipv4.tcp.tcp_sockopt import TCP_KEEPCNT, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_USER_TIMEOUT
from tuxnet.sock.constants import IPPROTO_TCP, SO_ERROR, SO_KEEPALIVE, SOL_SOCKET

S = 1_000_000_000


def keepalive_conn(hs: Harness, idle: int | None = None, intvl: int | None = None, cnt: int | None = None):
    _, conn, fl = passive_open(hs)
    conn.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1)
    for opt, v in ((TCP_KEEPIDLE, idle), (TCP_KEEPINTVL, intvl), (TCP_KEEPCNT, cnt)):
        if v is not None:
            conn.setsockopt(IPPROTO_TCP, opt, v)
    return conn, fl


def test_keepalive_probes_at_the_configured_times_then_reset():
    hs = Harness(delay_ms=5)
    conn, fl = keepalive_conn(hs, idle=10, intvl=3, cnt=4)
    t0 = hs.now
    hs.run(60)
    segs = hs.take()
    probes = [s for s in segs if s.flags == "."]
    # a probe is an old sequence number (snd_una - 1) without data
    assert all(p.seq == fl.iss_h and not p.data for p in probes)
    assert [(p.t - hs.delay_ns - t0) // MS for p in probes] == [10_000, 13_000, 16_000, 19_000]
    rst = segs[-1]
    assert rst.flags == "R." and (rst.t - hs.delay_ns - t0) // MS == 22_000
    assert conn.sk.sk_state == TCP_CLOSE
    assert conn.getsockopt(SOL_SOCKET, SO_ERROR) == errno.ETIMEDOUT
    assert hs.h.mib.tcpext.TCPKeepAlive == 4


def test_answered_keepalives_keep_the_connection():
    hs = Harness(delay_ms=5)
    conn, fl = keepalive_conn(hs, idle=10, intvl=3, cnt=2)
    for _ in range(10):
        hs.run(5)
        for _seg in hs.take():
            fl.send(".")  # the peer answers each probe
    assert conn.sk.sk_state == TCP_ESTABLISHED
    assert hs.h.mib.tcpext.TCPKeepAlive >= 4


def test_keepalive_defaults_come_from_the_sysctls():
    hs = Harness(delay_ms=5, sysctls={"net.ipv4.tcp_keepalive_time": "30",
                                     "net.ipv4.tcp_keepalive_intvl": "5",
                                     "net.ipv4.tcp_keepalive_probes": "2"})
    conn, fl = keepalive_conn(hs)
    assert conn.getsockopt(IPPROTO_TCP, TCP_KEEPIDLE) == 30
    t0 = hs.now
    hs.run(100)
    times = [(s.t - hs.delay_ns - t0) // MS for s in hs.take()]
    assert times == [30_000, 35_000, 40_000]  # two probes and the reset


def test_traffic_postpones_keepalive():
    hs = Harness(delay_ms=5)
    conn, fl = keepalive_conn(hs, idle=10, intvl=3, cnt=4)
    hs.run(8)
    t1 = hs.now + hs.delay_ns
    fl.send("P.", b"still here")  # received data restarts the idle time
    hs.run(11)
    probes = [s for s in hs.take() if s.seq == fl.iss_h]
    assert probes and (probes[0].t - hs.delay_ns - t1) // MS == pytest.approx(10_000, abs=10)


def test_keepalive_off_sends_nothing():
    hs = Harness(delay_ms=5)
    conn, fl = keepalive_conn(hs, idle=10)
    conn.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 0)
    hs.run(100)
    assert hs.take() == []


@pytest.mark.parametrize("bad", [0, -1, 32768])
def test_keepalive_options_range(bad):
    hs = Harness()
    s = hs.socket()
    with pytest.raises(OSError) as e:
        s.setsockopt(IPPROTO_TCP, TCP_KEEPIDLE, bad)
    assert e.value.errno == errno.EINVAL


def test_user_timeout_ends_retransmission_early():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.setsockopt(IPPROTO_TCP, TCP_USER_TIMEOUT, 1000)
    assert conn.getsockopt(IPPROTO_TCP, TCP_USER_TIMEOUT) == 1000
    t0 = hs.now
    conn.send(b"x")
    closed = None
    for _ in range(300):
        hs.run(0.01)
        if closed is None and conn.sk.sk_state == TCP_CLOSE:
            closed = hs.now - t0
    sent = [(s.t - hs.delay_ns - t0) // MS for s in hs.take()]
    # the original, the loss probe, then RTOs; the timeout counts from the first RTO
    # retransmission (retrans_stamp) and the last RTO is clamped to end exactly then
    assert sent == [0, 210, 420, 840]
    assert closed == 1420 * MS
    assert conn.getsockopt(SOL_SOCKET, SO_ERROR) == errno.ETIMEDOUT


def time_wait_client(hs: Harness):
    s, fl = active_open(hs)
    s.close()
    fin = fl.recv()
    fl.send("F.", ack=fin.end_seq)
    fl.recv()
    assert hs.states() == {(50000, 80): "TIME_WAIT"}
    return fin


@pytest.mark.parametrize("reuse, ok", [("0", False), ("1", True), ("2", False)])
def test_connect_reuses_a_time_wait_port_only_with_tcp_tw_reuse(reuse, ok):
    # one ephemeral port: the new connection needs the TIME_WAIT 4-tuple.  tcp_tw_reuse=2 (the
    # default) allows it on loopback only, 1 whenever timestamps show it is safe (after 1 s)
    hs = Harness(delay_ms=5, sysctls={"net.ipv4.ip_local_port_range": "50000 50000",
                                     "net.ipv4.tcp_tw_reuse": reuse})
    fin = time_wait_client(hs)
    hs.run(2)
    s = hs.socket()
    s.setblocking(False)
    err = s.connect_ex((P, 80))
    if not ok:
        assert err == errno.EADDRNOTAVAIL
        return
    assert err == errno.EINPROGRESS
    syn = hs.next()
    assert syn.flags == "S" and syn.tcp.sport == 50000
    # the new ISN lies beyond the old connection's sequence space: tw_snd_nxt + 65535 + 2
    assert syn.seq == (fin.end_seq + 65537) & 0xFFFFFFFF
    assert hs.h.mib.tcpext.TWRecycled == 1


def test_time_wait_not_reused_within_the_reuse_delay():
    hs = Harness(delay_ms=5, sysctls={"net.ipv4.ip_local_port_range": "50000 50000",
                                     "net.ipv4.tcp_tw_reuse": "1"})
    time_wait_client(hs)
    hs.run(0.5)  # tcp_tw_reuse_delay: 1000 ms since the last timestamp seen
    s = hs.socket()
    s.setblocking(False)
    assert s.connect_ex((P, 80)) == errno.EADDRNOTAVAIL
