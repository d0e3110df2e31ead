"""Resets and segment validation: tcp_v4_send_reset's rules for segments to no socket, checksum
errors, RFC 5961 (RST and SYN checks with challenge ACKs and their rate limit, blind data
injection), PAWS (RFC 7323), out-of-window segments, ACKs of unsent data."""

from __future__ import annotations

from tcpharness import Flow, Harness, P, passive_open

from tuxnet.wire.tcp import TcpOptTimestamp

U32 = 0xFFFFFFFF


def test_syn_with_data_and_fin_to_a_closed_port():
    hs = Harness()
    fl = Flow(hs, 40000, 9999)
    fl.send("SF", b"12345", options=())
    rst = hs.next()
    # no ACK in the segment: RST|ACK, seq 0, ACK = seq + length + SYN + FIN
    assert rst.flags == "R." and rst.seq == 0 and rst.ack == 1000 + 5 + 2 and rst.win == 0
    assert rst.opts == () and rst.ip.id == 0 and rst.ip.df
    assert hs.h.mib.tcp.OutRsts == 1 and hs.h.mib.tcp.InSegs == 1


def test_ack_to_a_closed_port_resets_at_its_ack_number():
    hs = Harness()
    fl = Flow(hs, 40000, 9999)
    fl.send("P.", b"hello", ack=777777)
    rst = hs.next()
    assert rst.flags == "R" and rst.seq == 777777 and rst.ack == 0


def test_never_reset_a_reset():
    hs = Harness()
    Flow(hs, 40000, 9999).send("R", options=())
    Flow(hs, 40001, 9999).send("R.", ack=5, options=())
    hs.run(1)
    hs.expect_none()
    assert hs.h.mib.tcp.OutRsts == 0


def test_bad_checksum_is_counted_and_dropped():
    hs = Harness()
    _, conn, fl = passive_open(hs)
    fl.send("P.", b"corrupt", bad_csum=True, advance=False)
    hs.run(1)
    hs.expect_none()
    mib = hs.h.mib.tcp
    assert mib.InErrs == 1 and mib.InCsumErrors == 1
    assert hs.h.drops.by_reason.get(_reason("TCP_CSUM")) == 1
    fl.send("P.", b"fine")
    assert conn.recv(100) == b"fine"


def _reason(name: str):
    from tuxnet.core.trace import SkbDropReason

    return SkbDropReason[name]


def established() -> tuple[Harness, object, Flow]:
    hs = Harness()
    _, conn, fl = passive_open(hs)
    return hs, conn, fl


def test_rst_exactly_at_rcv_nxt_resets():
    hs, conn, fl = established()
    fl.send("R", options=())
    assert hs.states() == {(8080, 0): "LISTEN"}
    assert hs.h.mib.tcp.EstabResets == 1


def test_rst_in_window_but_not_exact_draws_a_challenge_ack():
    hs, conn, fl = established()
    fl.send("R", seq=fl.seq + 100, options=())
    ack = hs.next()
    # RFC 5961 3.2: an ACK carrying the correct numbers, the connection stays
    assert ack.flags == "." and ack.seq == fl.iss_h + 1 and ack.ack == fl.seq
    assert hs.states()[(8080, 40000)] == "ESTABLISHED"
    assert hs.h.mib.tcpext.TCPChallengeACK == 1
    # the blind attacker's RST never matched; the real one (at rcv_nxt) still works
    fl.send("R", options=())
    assert (8080, 40000) not in hs.states()


def test_rst_outside_the_window_is_dropped_silently():
    hs, conn, fl = established()
    fl.send("R", seq=fl.seq + 10_000_000, options=())
    hs.run(1)
    hs.expect_none()
    assert hs.states()[(8080, 40000)] == "ESTABLISHED"


def test_syn_on_an_established_connection_draws_a_challenge_ack():
    hs, conn, fl = established()
    fl.send("S", seq=fl.seq + 5)
    ack = hs.next()
    assert ack.flags == "." and ack.ack == fl.seq
    assert hs.states()[(8080, 40000)] == "ESTABLISHED"
    ext = hs.h.mib.tcpext
    assert ext.TCPSYNChallenge == 1 and ext.TCPChallengeACK == 1


def test_challenge_acks_are_rate_limited_per_socket():
    hs, conn, fl = established()
    for _ in range(5):
        fl.send("R", seq=fl.seq + 100, options=())
    assert len(hs.take()) == 1  # tcp_invalid_ratelimit: one per 500 ms
    assert hs.h.mib.tcpext.TCPACKSkippedChallenge == 4
    hs.run(0.5)
    fl.send("R", seq=fl.seq + 100, options=())
    assert len(hs.take()) == 1


def test_too_old_ack_is_blind_injection_and_draws_a_challenge():
    hs, conn, fl = established()
    conn.send(b"x" * 1000)
    d = fl.recv()
    fl.send(".", ack=d.end_seq)
    # data whose ACK lies below snd_una - min(max_window, bytes_acked) (RFC 5961 5.2): dropped
    # with a challenge ACK.  (A window change keeps it off the header-prediction fast path,
    # which, in Linux too, queues the data before tcp_ack sees the ACK.)
    fl.send("P.", b"evil", ack=(d.end_seq - 10_000_000) & U32, win=1000)
    ack = hs.next()
    assert ack.flags == "." and ack.ack == fl.seq - 4
    assert hs.h.mib.tcpext.TCPChallengeACK == 1
    assert hs.h.drops.by_reason.get(_reason("TCP_TOO_OLD_ACK")) == 1


def test_ack_of_unsent_data_is_dropped():
    hs, conn, fl = established()
    fl.send("P.", b"data", ack=fl.ack + 5000)
    hs.run(1)
    hs.expect_none()
    assert hs.h.drops.by_reason.get(_reason("TCP_ACK_UNSENT_DATA")) == 1


def test_paws_drops_an_old_timestamp_with_a_dupack():
    hs, conn, fl = established()
    fl.send("P.", b"new")
    hs.run(1)
    hs.take()
    old = (fl.tsval() - 100_000) & U32
    fl.send("P.", b"stale", options=(TcpOptTimestamp(old, fl.ts_ecr),), advance=False)
    ack = hs.next()
    assert ack.flags == "." and ack.ack == fl.seq
    assert hs.h.mib.tcpext.PAWSEstab == 1
    assert hs.h.drops.by_reason.get(_reason("TCP_RFC7323_PAWS")) == 1
    assert conn.recv(100) == b"new"


def test_segment_beyond_the_window_draws_a_dupack():
    hs, conn, fl = established()
    fl.send("P.", b"far", seq=fl.seq + 1_000_000, advance=False)
    ack = hs.next()
    assert ack.flags == "." and ack.ack == fl.seq
    assert hs.h.mib.tcpext.BeyondWindow == 1
    assert hs.h.drops.by_reason.get(_reason("TCP_INVALID_SEQUENCE")) == 1


def test_rst_for_a_segment_to_a_listener_without_syn():
    hs = Harness()
    hs.listener()
    fl = Flow(hs, 40000, 8080)
    fl.send(".", ack=4242)
    rst = hs.next()
    assert rst.flags == "R" and rst.seq == 4242
    fl2 = Flow(hs, 40001, 8080)
    fl2.send("F", options=())  # neither SYN nor ACK nor RST: dropped
    hs.run(1)
    hs.expect_none()


def test_reset_from_a_connect_to_a_closed_port_of_the_peer_host():
    hs = Harness()
    s = hs.socket()
    s.setblocking(False)
    s.connect_ex((P, 22))
    syn = hs.next()
    Flow(hs, 22, syn.tcp.sport).send("R.", seq=0, ack=syn.seq + 1, options=())
    import errno

    from tuxnet.sock.constants import SO_ERROR, SOL_SOCKET

    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == errno.ECONNREFUSED
