"""The receiver's ACK policy: quick ACKs at the start, the 40 ms delayed ACK, an ACK per two full
segments, immediate ACKs with SACK blocks for out-of-order data, D-SACK for duplicates, the ACK
a reader's drained queue sends, window updates, TCP_QUICKACK.

Reference behaviour measured on Linux 6.18 (two namespaces, a sender writing 100 bytes every
100 ms to a receiver that does not read): the first 16 segments are ACKed at once
(TCP_MAX_QUICKACKS), later ones after the 40 ms delayed-ACK timeout.
"""

from __future__ import annotations

from tcpharness import MS, Harness, passive_open

from tuxnet.ipv4.tcp.tcp_sockopt import TCP_QUICKACK
from tuxnet.sock.constants import IPPROTO_TCP


def ack_delays(hs: Harness, sends: list[int]) -> list[int]:
    """For each ACK h sent, ms since the data it acknowledges arrived."""
    out = []
    for seg in hs.take():
        t_data = max(t for t in sends if t <= seg.t)
        out.append((seg.t - t_data) // MS)
    return out


def test_sixteen_quick_acks_then_delayed_acks_of_40ms():
    hs = Harness()
    _, conn, fl = passive_open(hs)
    hs.run(0.2)
    sends = []
    for _ in range(22):
        sends.append(hs.now)
        fl.send("P.", b"x" * 100)
        hs.run(0.1)
    delays = ack_delays(hs, sends)
    assert delays == [0] * 16 + [40] * 6
    assert hs.h.mib.tcpext.DelayedACKs == 6


def test_acks_cover_everything_received():
    hs = Harness()
    _, conn, fl = passive_open(hs)
    for _ in range(20):
        fl.send("P.", b"x" * 100)
        hs.run(0.1)
    acks = [s.ack for s in hs.take()]
    assert acks == [1001 + 100 * (i + 1) for i in range(20)]


def test_a_reader_draining_small_pushed_segments_acks_at_once():
    # a blocked reader empties the queue: __tcp_cleanup_rbuf sends the ACK for a small pushed
    # segment when not in ping-pong mode (what the Linux trace shows with a reading server)
    hs = Harness()
    _, conn, fl = passive_open(hs)
    got = []

    async def reader():
        while True:
            d = await hs.h.sock_recv(conn, 1000)
            if not d:
                return
            got.append(d)

    task = hs.lab.loop.create_task(reader())
    sends = []
    for _ in range(24):
        sends.append(hs.now)
        fl.send("P.", b"x" * 100)
        hs.run(0.1)
    assert ack_delays(hs, sends) == [0] * 24
    assert len(got) == 24
    task.cancel()
    hs.run(0)


def test_an_ack_for_every_two_full_segments_while_the_window_opens():
    hs = Harness()
    _, conn, fl = passive_open(hs)
    hs.run(0.05)
    conn.setsockopt(IPPROTO_TCP, TCP_QUICKACK, 0)  # leave quick-ACK mode

    async def reader():
        while await hs.h.sock_recv(conn, 1 << 16):
            pass

    task = hs.lab.loop.create_task(reader())
    for _ in range(8):
        fl.send(".", b"y" * 1448)
    hs.run(0)
    acks = [s.ack - 1001 for s in hs.take()]
    # (with the application reading at once, the window opens and every second segment is ACKed)
    assert acks and all(a % (2 * 1448) == 0 for a in acks)
    assert acks[-1] == 8 * 1448
    task.cancel()
    hs.run(0)


def test_out_of_order_data_draws_immediate_dupacks_with_sack_blocks():
    hs = Harness()
    _, conn, fl = passive_open(hs)
    hs.run(0.5)
    base = fl.seq
    seg = 1000
    # 0 is lost; 1, 2 arrive; then 4 (a second hole at 3)
    for i in (1, 2, 4):
        fl.send(".", b"a" * seg, seq=base + i * seg)
    acks = hs.take()
    assert [a.ack for a in acks] == [base] * 3
    assert [a.t for a in acks] == [hs.now] * 3  # immediate
    assert acks[0].sacks == ((base + 1000, base + 2000),)
    assert acks[1].sacks == ((base + 1000, base + 3000),)
    # RFC 2018: the block with the most recent segment first
    assert acks[2].sacks == ((base + 4000, base + 5000), (base + 1000, base + 3000))
    assert hs.h.mib.tcpext.TCPOFOQueue == 3
    # the first hole is filled: cumulative ACK up to the second hole, SACK for what lies beyond
    fl.send(".", b"a" * seg, seq=base)
    a = hs.next()
    assert a.ack == base + 3000 and a.sacks == ((base + 4000, base + 5000),)
    fl.send(".", b"a" * seg, seq=base + 3000)
    a = hs.next()
    assert a.ack == base + 5000 and a.sacks == ()
    assert conn.recv(10000) == b"a" * 5000


def test_duplicate_segment_draws_a_dsack():
    hs = Harness()
    _, conn, fl = passive_open(hs)
    fl.send("P.", b"z" * 500)
    hs.run(1)
    hs.take()
    fl.send("P.", b"z" * 500, seq=1001)  # a spurious retransmission
    a = hs.next()
    assert a.ack == 1501 and a.sacks == ((1001, 1501),)  # D-SACK: the duplicate itself (RFC 2883)
    assert a.t == hs.now
    ext = hs.h.mib.tcpext
    assert ext.TCPDSACKOldSent == 1 and ext.DelayedACKLost == 1


def test_tcp_quickack_zero_holds_acks_even_for_a_reader():
    # TCP_QUICKACK=0 enters ping-pong (interactive) mode: reading a small segment no longer
    # sends its ACK; TCP_QUICKACK=1 leaves it, and the read ACKs at once (__tcp_sock_set_quickack)
    hs = Harness()
    _, conn, fl = passive_open(hs)
    conn.setsockopt(IPPROTO_TCP, TCP_QUICKACK, 0)
    t0 = hs.now
    fl.send("P.", b"x" * 10)
    assert conn.recv(100) == b"x" * 10
    hs.run(0.5)
    assert [(s.t - t0) // MS for s in hs.take()] == [40]
    conn.setsockopt(IPPROTO_TCP, TCP_QUICKACK, 1)
    fl.send("P.", b"y" * 10)
    assert conn.recv(100) == b"y" * 10
    hs.run(0)
    assert len(hs.take()) == 1


def test_window_update_when_the_reader_frees_space():
    hs = Harness(sysctls={"net.ipv4.tcp_rmem": "4096 16384 16384"})
    _, conn, fl = passive_open(hs)
    hs.run(0.5)
    fl.send(".", b"w" * 1000)  # certainly inside the initial window
    sent = 1000
    edge = 0
    hs.run(0.001)
    while True:  # a well-behaved peer: only what the advertised window allows
        for a in hs.take():
            edge = max(edge, a.ack + (a.win << 7))
        if 1001 + sent + 1000 > edge:
            break
        fl.send(".", b"w" * 1000)
        sent += 1000
        hs.run(0.001)
    win = edge - (1001 + sent)
    hs.run(1)
    last = hs.take()[-1] if hs.got else None
    assert sent >= 7000
    assert conn.recv(100000) == b"w" * sent
    hs.run(0)
    (upd,) = hs.take()
    assert upd.ack == 1001 + sent  # a pure window update, opening the window at least twofold
    assert (upd.win << 7) >= 2 * max(win, 1)
    assert last is None or last.ack == upd.ack


def test_full_receive_buffer_advertises_zero_and_drops_what_does_not_fit():
    from tcpharness import Flow

    from tuxnet.core.trace import SkbDropReason
    from tuxnet.sock.constants import SO_RCVBUF, SOL_SOCKET

    hs = Harness(delay_ms=5)
    lst = hs.listener()
    lst.setsockopt(SOL_SOCKET, SO_RCVBUF, 8192)
    fl = Flow(hs, 40000, 8080, wscale=None)
    fl.send("S")
    assert fl.recv().win == 7240  # half of the doubled 8192, in whole 1448-byte segments
    fl.send(".")
    conn, _ = lst.accept()
    for _ in range(14):
        fl.send(".", b"a" * 1000)
        hs.run(0.05)
    acks = hs.take()
    # the right edge never moves back: each ACK's window shrinks by what arrived, down to zero (it
    # moves forward once: coalesced segments cost less than the window assumed, skb_try_coalesce)
    edges = [a.ack + a.win for a in acks[:10]]
    assert edges == sorted(edges) and len(set(edges)) == 2 and acks[9].win == 0
    assert all(a.ack == acks[9].ack and a.win == 0 for a in acks[10:])  # dupACKs, nothing taken
    drops = hs.h.drops.by_reason
    assert drops[SkbDropReason.TCP_INVALID_SEQUENCE] + drops[SkbDropReason.TCP_INVALID_END_SEQUENCE] == 4
    assert hs.h.mib.tcpext.TCPToZeroWindowAdv == 1
    # receiver-side silly window avoidance: no update for a small read
    conn.recv(100)
    hs.run(0.01)
    assert hs.take() == []
    # a read that frees a segment's worth reopens the window (tcp_cleanup_rbuf)
    conn.recv(2000)
    hs.run(0.01)
    (upd,) = hs.take()
    assert upd.win >= 1000 and hs.h.mib.tcpext.TCPFromZeroWindowAdv == 1
