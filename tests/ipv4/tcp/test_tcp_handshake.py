"""Connection establishment: SYN and SYN-ACK as Linux builds them, the states on the way, SYN and
SYN-ACK retransmission timing, simultaneous open, and connect()'s errors."""

from __future__ import annotations

import errno

import pytest
from tcpharness import MS, Flow, Harness, P, active_open, passive_open

from tuxnet.ipv4.tcp.tcp_sock import TCP_ESTABLISHED, TCP_SYN_RECV, TCP_SYN_SENT
from tuxnet.ipv4.tcp.tcp_sockopt import TCP_MAXSEG, TCP_SYNCNT
from tuxnet.sock.constants import IPPROTO_TCP, SO_ERROR, SOL_SOCKET
from tuxnet.wire.addr import ip_aton
from tuxnet.wire.tcp import (
    TcpOptMss,
    TcpOptTimestamp,
    TcpOptWscale,
)


def kinds(seg) -> list[str]:
    return [type(o).__name__.removeprefix("TcpOpt") for o in seg.opts]


def syn_of(hs: Harness, port: int = 80):
    s = hs.socket()
    s.setblocking(False)
    assert s.connect_ex((P, port)) == errno.EINPROGRESS
    hs.run(0)
    syn = hs.next()
    assert syn.flags == "S"
    return s, syn


@pytest.mark.parametrize("sysctls, layout, wscale", [
    ({}, ["Mss", "SackPerm", "Timestamp", "Nop", "Wscale"], 7),
    # Linux 6.18's tcp_rmem max (32 MB) needs a shift of 10
    ({"net.ipv4.tcp_rmem": "4096 131072 33554432"}, ["Mss", "SackPerm", "Timestamp", "Nop", "Wscale"], 10),
    ({"net.ipv4.tcp_sack": "0"}, ["Mss", "Nop", "Nop", "Timestamp", "Nop", "Wscale"], 7),
    ({"net.ipv4.tcp_timestamps": "0"}, ["Mss", "Nop", "Nop", "SackPerm", "Nop", "Wscale"], 7),
    ({"net.ipv4.tcp_window_scaling": "0"}, ["Mss", "SackPerm", "Timestamp"], None),
])
def test_syn_options_as_linux_lays_them_out(sysctls, layout, wscale):
    hs = Harness(sysctls=sysctls)
    _, syn = syn_of(hs)
    assert kinds(syn) == layout
    assert syn.opt(TcpOptMss)[0] == 1460
    assert syn.win == 64240  # 44 * 1460: the initial window rounded to the MSS
    w = syn.opt(TcpOptWscale)
    assert (w[0] if w else None) == wscale
    assert syn.ack == 0 and syn.ip.df and syn.ip.ttl == 64 and syn.csum_ok
    ts = syn.opt(TcpOptTimestamp)
    if ts is not None:
        assert ts[1] == 0


def test_syn_mss_follows_the_route_mtu_and_tcp_maxseg():
    hs = Harness(mtu=9000)
    _, syn = syn_of(hs)
    assert syn.opt(TcpOptMss)[0] == 8960
    s = hs.socket()
    assert s.getsockopt(IPPROTO_TCP, TCP_MAXSEG) == 536  # TCP_MSS_DEFAULT before a connection
    s.setsockopt(IPPROTO_TCP, TCP_MAXSEG, 1200)
    s.setblocking(False)
    s.connect_ex((P, 81))
    hs.run(0)
    assert hs.next().opt(TcpOptMss)[0] == 1200


def test_isn_differs_per_tuple_and_timestamps_are_offset_per_host_pair():
    hs = Harness()
    _, a = syn_of(hs, 80)
    _, b = syn_of(hs, 81)
    assert a.seq != b.seq
    # secure_tcp_ts_off hashes the addresses only
    assert a.ts[0] == b.ts[0]
    hs.p.devinet.add(hs.dp, ip_aton("192.0.2.3"), 24)
    s = hs.socket()
    s.setblocking(False)
    s.connect_ex(("192.0.2.3", 80))
    hs.run(0)
    c = hs.next()
    assert c.flags == "S" and c.ts[0] != a.ts[0]
    # the same seed gives the same lab
    hs2 = Harness()
    _, a2 = syn_of(hs2, 80)
    assert (a2.seq, a2.ts, a2.tcp.sport) == (a.seq, a.ts, a.tcp.sport)


def test_active_open_states_and_counters():
    hs = Harness()
    s, syn = syn_of(hs)
    assert s.sk.sk_state == TCP_SYN_SENT
    fl = Flow(hs, 80, syn.tcp.sport, ack=syn.end_seq)
    fl.ts_ecr = syn.ts[0]
    fl.send("S.")
    ack = fl.recv()
    assert ack.flags == "." and ack.seq == syn.seq + 1 and ack.ack == fl.seq
    assert ack.ts[1] == fl.ts_base  # echoes the SYN-ACK's TSval
    assert s.sk.sk_state == TCP_ESTABLISHED
    assert ack.win == 502  # 64240 (rounded to the 1448-byte MSS: 64256) >> 7
    mib = hs.h.mib.tcp
    assert (mib.ActiveOpens, mib.PassiveOpens, mib.CurrEstab) == (1, 0, 1)
    assert s.getpeername() == (P, 80)
    # as in Linux, the next connect() of a non-blocking connect reports the success, then EISCONN
    assert s.connect_ex((P, 80)) == 0
    assert s.connect_ex((P, 80)) == errno.EISCONN


def test_synack_mirrors_what_the_syn_offered():
    hs = Harness()
    lst = hs.listener()
    # a SYN with no options at all: the SYN-ACK carries only the MSS
    fl = Flow(hs, 40001, 8080, ts=False, sack=False, wscale=None)
    fl.send("S", options=())
    sa = fl.recv()
    assert sa.flags == "S." and sa.ack == 1001
    assert kinds(sa) == ["Mss"] and sa.opt(TcpOptMss)[0] == 1460
    assert sa.win == 64240
    # a full Linux SYN: mss, sackOK, TS (echoed), nop, wscale
    fl2 = Flow(hs, 40002, 8080)
    fl2.send("S")
    sa2 = fl2.recv()
    assert kinds(sa2) == ["Mss", "SackPerm", "Timestamp", "Nop", "Wscale"]
    assert sa2.ts[1] == fl2.ts_base and sa2.win == 65160  # 45 * 1448
    # SACK but no TS: nop, nop, sackOK
    fl3 = Flow(hs, 40003, 8080, ts=False)
    fl3.send("S")
    assert kinds(fl3.recv()) == ["Mss", "Nop", "Nop", "SackPerm", "Nop", "Wscale"]
    assert lst.sk.sk_state != TCP_SYN_RECV  # the listener stays a listener
    assert lst.sk.syn_queue_len == 3


def test_passive_open_accept_only_after_the_final_ack():
    hs = Harness()
    lst = hs.listener()
    fl = Flow(hs, 40000, 8080)
    fl.send("S")
    sa = fl.recv()
    with pytest.raises(BlockingIOError):
        lst.accept()
    fl.send(".")
    hs.expect_none()  # the handshake's last ACK draws nothing
    conn, addr = lst.accept()
    assert addr == (P, 40000) and conn.sk.sk_state == TCP_ESTABLISHED
    assert conn.getsockname() == ("192.0.2.1", 8080)
    assert sa.seq + 1 == conn.sk.snd_una
    mib = hs.h.mib.tcp
    assert (mib.PassiveOpens, mib.CurrEstab) == (1, 1)


def test_small_peer_mss_limits_our_segments():
    hs = Harness()
    _, conn, fl = passive_open(hs, mss=536)
    conn.send(bytes(2000))
    hs.run(0)
    sizes = [len(s.data) for s in hs.take()]
    assert sizes == [524, 524, 524, 428]  # 536 - 12 bytes of timestamp option


@pytest.mark.parametrize("linear, times, fail_at", [
    # Linux 6.18: net.ipv4.tcp_syn_linear_timeouts=4 keeps the first four retransmissions at 1 s
    (4, [0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67], 131),
    (0, [0, 1, 3, 7, 15, 31, 63], 127),
])
def test_syn_retransmission_schedule_and_etimedout(linear, times, fail_at):
    hs = Harness(sysctls={"net.ipv4.tcp_syn_linear_timeouts": str(linear)})
    s, _ = syn_of(hs)
    hs.run(fail_at - 0.5)
    assert s.sk.sk_state == TCP_SYN_SENT
    hs.run(1)
    syns = [0] + [g.t // 10**9 for g in hs.take()]
    assert syns == times
    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == errno.ETIMEDOUT
    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == 0  # read and cleared
    assert hs.h.mib.tcp.AttemptFails == 1 and hs.h.mib.tcpext.TCPTimeouts == len(times)


@pytest.mark.parametrize("syncnt, fail_at", [(1, 3), (2, 7), (3, 19)])
def test_tcp_syncnt_limits_the_syn_retries(syncnt, fail_at):
    # measured on Linux 6.18 (HZ=250): TCP_SYNCNT 1, 2, 3 -> ETIMEDOUT after 3.08, 7.14, 19.49 s.
    # The retry count (syncnt + tcp_syn_linear_timeouts) is not reached; the time model
    # ((2 << syncnt) - 1) s from the first SYN ends the attempt at the next timer.
    hs = Harness()
    s = hs.socket()
    s.setsockopt(IPPROTO_TCP, TCP_SYNCNT, syncnt)
    s.setblocking(False)
    s.connect_ex((P, 80))
    hs.run(fail_at - 0.01)
    assert s.sk.sk_state == TCP_SYN_SENT
    hs.run(0.02)
    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == errno.ETIMEDOUT
    syns = [g.t // MS for g in hs.take()]
    assert syns == [t for t in (0, 1000, 2000, 3000, 4000, 5000, 7000, 11000) if t < fail_at * 1000]


def test_blocking_connect_coroutine_times_out():
    hs = Harness(sysctls={"net.ipv4.tcp_syn_retries": "1"})
    s = hs.socket()

    async def go():
        try:
            await hs.h.sock_connect(s, (P, 80))
        except OSError as e:
            return e.errno, hs.now // MS

    assert hs.lab.run_coro(go()) == (errno.ETIMEDOUT, 3000)


def test_synack_retransmitted_then_request_dropped():
    hs = Harness()
    lst = hs.listener()
    fl = Flow(hs, 40000, 8080)
    fl.send("S")
    hs.run(70)
    t = [g.t // MS for g in hs.take()]
    assert t == [0, 1000, 3000, 7000, 15000, 31000]  # tcp_synack_retries 5, doubling from 1 s
    assert lst.sk.syn_queue_len == 0
    # the peer's late ACK now finds no request: RST (seq = its ACK number)
    fl.send(".", ack=fl.iss_h or 0)
    rst = hs.next()
    assert rst.flags == "R"


def test_retransmitted_syn_gets_the_same_synack():
    hs = Harness()
    hs.listener()
    fl = Flow(hs, 40000, 8080)
    fl.send("S")
    a = fl.recv()
    hs.run(0.2)
    fl.send("S", seq=1000)
    b = fl.recv()
    assert b.flags == "S." and b.seq == a.seq and b.ack == a.ack
    assert hs.h.mib.tcpext.TCPSynRetrans == 1  # our SYN-ACK counted as retransmitted


def test_simultaneous_open():
    hs = Harness()
    s, syn = syn_of(hs)
    fl = Flow(hs, 80, syn.tcp.sport, ack=0)
    fl.ts_ecr = syn.ts[0]
    fl.send("S", ack=0)  # a crossing SYN, not a SYN-ACK
    sa = hs.next()
    # SYN_SENT -> SYN_RECV: the SYN is repeated with an ACK of the peer's
    assert sa.flags == "S." and sa.seq == syn.seq and sa.ack == 1001
    assert s.sk.sk_state == TCP_SYN_RECV
    fl.ack = syn.seq + 1
    fl.send("S.", seq=1000)  # the peer's SYN-ACK
    hs.run(0)
    assert s.sk.sk_state == TCP_ESTABLISHED
    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == 0
    s.send(b"x")
    hs.run(0)
    d = [g for g in hs.take() if g.data]
    assert d and d[0].seq == syn.seq + 1


def test_connect_errors_einprogress_ealready_econnrefused():
    hs = Harness()
    s, syn = syn_of(hs)
    with pytest.raises(OSError) as e:
        s.connect((P, 80))
    assert e.value.errno == errno.EALREADY
    fl = Flow(hs, 80, syn.tcp.sport)
    fl.send("R.", seq=0, ack=syn.seq + 1, options=())
    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == errno.ECONNREFUSED
    mib = hs.h.mib.tcp
    assert mib.AttemptFails == 1 and mib.CurrEstab == 0
    with pytest.raises(OSError) as e:
        s.connect((P, 80))
    assert e.value.errno == errno.ECONNABORTED  # the error was already read
    # a RST that does not ACK our SYN is ignored (RFC 9293 3.10.7.3)
    s2, syn2 = syn_of(hs, 81)
    Flow(hs, 81, syn2.tcp.sport).send("R.", seq=0, ack=syn2.seq + 7, options=())
    assert s2.sk.sk_state == TCP_SYN_SENT


def test_synack_with_a_bad_ack_draws_a_reset():
    hs = Harness()
    s, syn = syn_of(hs)
    fl = Flow(hs, 80, syn.tcp.sport, ack=syn.seq + 100)
    fl.send("S.")
    rst = hs.next()
    assert rst.flags == "R" and rst.seq == syn.seq + 100
    assert s.sk.sk_state == TCP_SYN_SENT


def test_active_open_through_harness_helper():
    hs = Harness()
    s, fl = active_open(hs)
    s.send(b"abc")
    hs.run(0)
    d = fl.recv()
    assert d.flags == "P." and d.data == b"abc" and d.seq == fl.iss_h + 1
