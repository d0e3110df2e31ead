"""The listener: accept-queue bound (full when more than the backlog are queued, as Linux counts),
ListenOverflows/ListenDrops, a final ACK meeting a full queue, the SYN queue overflowing into
SYN cookies (measured on Linux 6.18: with listen(4), five requests are held and the sixth SYN
is answered with a cookie), cookie validation, tcp_syncookies=0 and 2."""

from __future__ import annotations

import pytest
from tcpharness import Flow, Harness

from tuxnet.ipv4.tcp.tcp_sock import TCP_CLOCK_BASE_NS, TCP_ESTABLISHED
from tuxnet.wire.tcp import TcpOptMss, TcpOptTimestamp


def syn(hs: Harness, port: int, **kw) -> Flow:
    fl = Flow(hs, port, 8080, **kw)
    fl.send("S")
    return fl


@pytest.mark.parametrize("backlog, accepted", [(0, 1), (1, 2), (2, 3)])
def test_accept_queue_holds_backlog_plus_one(backlog, accepted):
    hs = Harness()
    lst = hs.listener(backlog=backlog)
    done = 0
    for i in range(5):
        fl = syn(hs, 41000 + i)
        got = hs.take()
        if not got:
            continue
        fl.note(got[0])
        fl.send(".")
        done += 1
    assert done == accepted
    ext = hs.h.mib.tcpext
    assert ext.ListenOverflows == ext.ListenDrops == 5 - accepted
    conns = []
    while True:
        try:
            conns.append(lst.accept()[0])
        except BlockingIOError:
            break
    assert len(conns) == accepted


def test_final_ack_meeting_a_full_queue_is_dropped_and_the_synack_repeated():
    hs = Harness()
    lst = hs.listener(backlog=1)  # accept queue: 2; SYN queue: 2
    a, b = syn(hs, 41000), syn(hs, 41001)
    a.note(hs.next())
    b.note(hs.next())
    a.send(".")
    c = syn(hs, 41002)  # the SYN queue holds one (b): room for c
    c.note(hs.next())
    b.send(".")
    c.send(".")  # the accept queue already holds two: ListenOverflows, the request stays (acked)
    ext = hs.h.mib.tcpext
    assert ext.ListenOverflows == 1 and ext.SyncookiesSent == 0
    assert hs.states()[(8080, 41002)] == "SYN_RECV"
    lst.accept()
    hs.run(1.1)
    again = hs.take()
    assert [s.flags for s in again] == ["S."] and again[0].tcp.dport == 41002
    c.send(".")
    lst.accept()
    conn, addr = lst.accept()
    assert addr[1] == 41002 and conn.sk.sk_state == TCP_ESTABLISHED


def test_syn_queue_overflow_turns_to_syncookies():
    hs = Harness()
    lst = hs.listener(backlog=4)
    flows = [syn(hs, 41000 + i) for i in range(6)]
    answers = hs.take()
    assert len(answers) == 6
    assert lst.sk.syn_queue_len == 5
    ext = hs.h.mib.tcpext
    assert ext.TCPReqQFullDoCookies == 1 and ext.SyncookiesSent == 1
    cookie = answers[-1]
    # the cookie SYN-ACK: mss, sackOK, TS (the TSval carries wscale and SACK), wscale
    assert cookie.opt(TcpOptMss)[0] == 1460 and cookie.opt(TcpOptTimestamp) is not None
    # cookie_init_timestamp: the clock rounded down to 64 ms, the low 6 bits the peer's wscale
    # and sackOK (0x10); the TSval adds the per-host-pair offset the other SYN-ACKs show
    ts_off = (answers[0].ts[0] - TCP_CLOCK_BASE_NS // 1_000_000) & 0xFFFFFFFF
    cookie_ts = (cookie.ts[0] - ts_off) & 0xFFFFFFFF
    assert cookie_ts & 0x3F == 7 | 0x10 and cookie_ts <= TCP_CLOCK_BASE_NS // 1_000_000
    fl = flows[-1]
    fl.note(cookie)
    fl.send(".")
    assert ext.SyncookiesRecv == 1
    conn, addr = lst.accept()
    assert addr[1] == 41005
    tp = conn.sk
    assert tp.rx_opt.snd_wscale == 7 and tp.rx_opt.sack_ok and tp.rx_opt.tstamp_ok
    fl.send("P.", b"through a cookie")
    assert conn.recv(100) == b"through a cookie"


@pytest.mark.parametrize("peer_mss, cookie_mss", [(1460, 1460), (1400, 1300), (1000, 536)])
def test_syncookie_mss_comes_from_the_table(peer_mss, cookie_mss):
    hs = Harness(sysctls={"net.ipv4.tcp_syncookies": "2"})  # always cookies
    lst = hs.listener()
    fl = syn(hs, 41000, mss=peer_mss)
    sa = hs.next()
    assert sa.opt(TcpOptMss)[0] == 1460  # we announce ours; the cookie encodes theirs
    assert lst.sk.syn_queue_len == 0
    fl.note(sa)
    fl.send(".")
    conn, _ = lst.accept()
    assert conn.sk.rx_opt.mss_clamp == cookie_mss


def test_forged_cookie_ack_is_reset():
    hs = Harness(sysctls={"net.ipv4.tcp_syncookies": "2"})
    hs.listener()
    fl = syn(hs, 41000)
    sa = hs.next()
    fl.send(".", ack=sa.seq + 1 + 12345)
    rst = hs.next()
    assert rst.flags == "R" and rst.seq == sa.seq + 1 + 12345
    assert hs.h.mib.tcpext.SyncookiesFailed == 1


def test_without_syncookies_a_full_syn_queue_drops():
    hs = Harness(sysctls={"net.ipv4.tcp_syncookies": "0"})
    lst = hs.listener(backlog=2)
    for i in range(5):
        syn(hs, 41000 + i)
    assert len(hs.take()) == 3
    assert lst.sk.syn_queue_len == 3
    assert hs.h.mib.tcpext.TCPReqQFullDrop == 2


def test_listen_on_a_connected_or_unbound_socket():
    import errno

    hs = Harness()
    s = hs.socket()
    s.listen(5)  # autobinds an ephemeral port, as Linux does
    assert s.getsockname()[1] != 0
    c = hs.socket()
    c.setblocking(False)
    c.connect_ex(("192.0.2.2", 80))
    with pytest.raises(OSError) as e:
        c.listen(1)
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        s.recv(10)
    assert e.value.errno == errno.ENOTCONN
