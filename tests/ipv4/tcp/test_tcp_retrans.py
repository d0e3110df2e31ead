"""Loss recovery on the sender: the RTO (RFC 6298 as Linux computes it) and its exponential
backoff to tcp_retries2, fast retransmit after three duplicate ACKs (NewReno) or by RACK with SACK,
PRR's cwnd during recovery, the tail loss probe, and the undo of a spurious retransmission."""

from __future__ import annotations

import errno

import pytest
from tcpharness import MS, Harness, passive_open

from tuxnet.ipv4.tcp.cong import TCP_CA_Loss, TCP_CA_Open, TCP_CA_Recovery
from tuxnet.ipv4.tcp.tcp_sock import TCP_CLOSE
from tuxnet.sock.constants import SO_ERROR, SOL_SOCKET

S = 1_000_000_000


def model_timeout_ms(boundary: int, rto_base: int = 200, rto_max: int = 120_000) -> int:
    """RFC 6298 backoff as tcp_model_timeout() sums it (tcp_retries2 documentation: 924.6 s)."""
    thresh = (rto_max // rto_base).bit_length() - 1
    if boundary <= thresh:
        return ((2 << boundary) - 1) * rto_base
    return ((2 << thresh) - 1) * rto_base + (boundary - thresh) * rto_max


@pytest.mark.parametrize("delay_ms, rto", [(5, 210), (50, 300)])
def test_rto_from_the_handshake_rtt(delay_ms, rto):
    # first sample m: srtt = m, rttvar = max(m/2 * 4, tcp_rto_min): RTO = m + max(2m, 200 ms)
    hs = Harness(delay_ms=delay_ms)
    _, conn, fl = passive_open(hs)
    assert conn.sk.icsk_rto == rto
    assert conn.sk.srtt_us >> 3 == 2 * delay_ms * 1000


def retransmissions(delay_ms: float, seconds: float) -> tuple[Harness, object, int, list[int]]:
    hs = Harness(delay_ms=delay_ms)
    _, conn, fl = passive_open(hs)
    t0 = hs.now
    conn.send(b"d" * 100)
    hs.run(seconds)
    sent = [s.t - hs.delay_ns - t0 for s in hs.take()]
    assert sent[0] == 0
    return hs, conn, conn.sk.icsk_rto, sent[1:]


def test_tlp_then_rto_doubling_up_to_120s_then_etimedout():
    hs, conn, _, times = retransmissions(5, 2000)
    rto = 210
    # one packet out: the loss probe is due 2*srtt + tcp_rto_min, but never after the RTO
    tlp = min(2 * 10 + 200, rto)
    assert times[0] == tlp * MS
    assert hs.h.mib.tcpext.TCPLossProbes == 1
    # then the RTO, restarted by the probe, doubling up to TCP_RTO_MAX
    expect = []
    t = tlp
    k = 0
    while True:
        t += min(rto << k, 120_000)
        k += 1
        expect.append(t)
        # tcp_retries2=15: give up when 924.6 s have passed since the first retransmission
        if t - expect[0] >= model_timeout_ms(15):
            break
    give_up = expect.pop()
    assert times[1:] == [x * MS for x in expect]
    assert len(expect) == 15
    assert conn.sk.sk_state == TCP_CLOSE
    assert conn.getsockopt(SOL_SOCKET, SO_ERROR) == errno.ETIMEDOUT
    assert model_timeout_ms(15) == 924_600 and give_up / 1000 == pytest.approx(935.04)
    ext = hs.h.mib.tcpext
    assert ext.TCPAbortOnTimeout == 1 and ext.TCPTimeouts == 16
    assert hs.h.mib.tcp.RetransSegs == 16


def test_tcp_retries2_shortens_the_wait():
    hs = Harness(delay_ms=5, sysctls={"net.ipv4.tcp_retries2": "5"})
    _, conn, _ = passive_open(hs)
    t0 = hs.now
    conn.send(b"d")
    closed_at = None
    for _ in range(300):
        hs.run(0.1)
        if conn.sk.sk_state == TCP_CLOSE and closed_at is None:
            closed_at = hs.now - t0
    # RTOs at 0.42, 0.84, 1.68, 3.36, 6.72 s (after the probe at 0.21 s); 5 boundaries model
    # (2 << 5) - 1 = 63 * 200 ms = 12.6 s from the first: the timer at 13.44 s gives up
    sent = [(s.t - hs.delay_ns - t0) // MS for s in hs.take()]
    assert sent == [0, 210, 420, 840, 1680, 3360, 6720]
    assert 13_440 * MS <= closed_at < 13_540 * MS
    assert conn.getsockopt(SOL_SOCKET, SO_ERROR) == errno.ETIMEDOUT


def test_send_after_timeout_reports_the_error_then_epipe():
    hs = Harness(sysctls={"net.ipv4.tcp_retries2": "3"})
    _, conn, fl = passive_open(hs)
    conn.send(b"d" * 10)
    hs.run(60)
    with pytest.raises(OSError) as e:
        conn.send(b"x")
    assert e.value.errno == errno.ETIMEDOUT
    with pytest.raises(OSError) as e:
        conn.send(b"x")
    assert e.value.errno == errno.EPIPE


def test_three_dupacks_fast_retransmit_without_sack():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs, sack=False)
    conn.send(bytes(1448 * 10))
    hs.run(0.005)
    segs = hs.take()
    assert len(segs) == 10  # the initial window (TCP_INIT_CWND)
    una = segs[0].seq
    for _ in range(2):
        fl.send(".", ack=una)
        hs.run(0.001)
        assert not hs.take()
        assert conn.sk.icsk_ca_state != TCP_CA_Recovery
    fl.send(".", ack=una)
    hs.run(0.006)
    (r,) = hs.take()
    assert r.seq == una and len(r.data) == 1448
    assert conn.sk.icsk_ca_state == TCP_CA_Recovery
    assert conn.sk.snd_ssthresh == 7  # CUBIC: beta 0.7
    ext = hs.h.mib.tcpext
    assert ext.TCPRenoRecovery == 1 and ext.TCPFastRetrans == 1
    # an ACK of exactly high_seq holds NewReno in Recovery (RFC 2582, tcp_is_non_sack_preventing_reopen);
    # an ACK beyond it reopens
    fl.send(".", ack=segs[-1].end_seq)
    hs.run(0.001)
    assert conn.sk.icsk_ca_state == TCP_CA_Recovery and conn.sk.snd_cwnd == 7
    conn.send(b"n" * 100)
    hs.run(0.006)
    (n,) = [s for s in hs.take() if s.data]
    fl.send(".", ack=n.end_seq)
    hs.run(0.001)
    assert conn.sk.icsk_ca_state == TCP_CA_Open


def test_rack_with_sack_retransmits_after_the_reordering_window():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.send(bytes(1448 * 10))
    hs.run(0.005)
    segs = hs.take()
    una = segs[0].seq
    t_sack = hs.now + 5 * MS
    fl.send(".", ack=una, sacks=[(segs[1].seq, segs[2].end_seq)])
    hs.run(0.02)
    (r,) = hs.take()
    assert r.seq == una
    # RACK: min_rtt/4 (2.5 ms) reordering window rounded up to a jiffy plus the 2-jiffy timer slack
    # (usecs_to_jiffies + TCP_TIMEOUT_MIN at the reference kernel's HZ=250: 3 * 4 ms), one-way delay 5 ms
    sent_at = r.t - 5 * MS
    assert t_sack + 11 * MS < sent_at <= t_sack + 13 * MS
    ext = hs.h.mib.tcpext
    assert ext.TCPSackRecovery == 1 and ext.TCPFastRetrans == 1


def test_sack_recovery_retransmits_every_hole_and_prr_bounds_cwnd():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.send(bytes(1448 * 10))
    hs.run(0.005)
    segs = hs.take()
    una = segs[0].seq
    # segments 0 and 4 lost; SACKs for 1..3 and 5..9 in turn
    blocks: list[tuple[int, int]] = []
    for i in (1, 2, 3, 5, 6, 7, 8, 9):
        lo = segs[1].seq if i < 4 else segs[5].seq
        blk = (lo, segs[i].end_seq)
        blocks = [blk] + [b for b in blocks if b[0] != lo]
        fl.send(".", ack=una, sacks=blocks[:3])
    hs.run(0.02)
    rtx = [s.seq for s in hs.take()]
    assert sorted(set(rtx)) == [segs[0].seq, segs[4].seq]
    assert conn.sk.icsk_ca_state == TCP_CA_Recovery
    assert conn.sk.snd_cwnd <= 7
    fl.send(".", ack=segs[-1].end_seq)
    hs.run(0.001)
    assert conn.sk.icsk_ca_state == TCP_CA_Open


def test_tail_loss_probe_sends_the_last_segment():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.send(bytes(1448 * 3))
    hs.run(0.005)
    segs = hs.take()
    assert len(segs) == 3
    fl.send(".", ack=segs[0].end_seq)  # only the first is ACKed: the tail is lost
    t_ack = hs.now
    hs.run(0.1)
    (p,) = hs.take()
    assert p.seq == segs[2].seq  # the probe repeats the last segment
    assert hs.h.mib.tcpext.TCPLossProbes == 1
    # PTO = 2 * srtt + 2 jiffies (more than one packet out) after the ACK
    assert p.t - hs.delay_ns - t_ack == 2 * 10 * MS + 2 * MS


def test_spurious_rto_undone_by_timestamps():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.send(bytes(1448 * 4))
    hs.run(0.005)
    segs = hs.take()
    cwnd0 = conn.sk.snd_cwnd
    hs.run(0.4)  # the ACKs were "delayed": TLP and RTO fire
    assert conn.sk.icsk_ca_state == TCP_CA_Loss
    # the late ACK echoes the original transmission's TSval: the retransmission was spurious
    fl.ts_ecr = segs[-1].ts[0]
    fl.send(".", ack=segs[-1].end_seq)
    hs.run(0.001)
    assert conn.sk.icsk_ca_state == TCP_CA_Open
    assert conn.sk.snd_cwnd >= cwnd0
    ext = hs.h.mib.tcpext
    assert ext.TCPSpuriousRTOs + ext.TCPLossUndo >= 1


def test_cumulative_ack_advances_and_new_data_follows():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.send(bytes(1448 * 30))
    hs.run(0.005)
    segs = hs.take()
    assert len(segs) == 10
    fl.send(".", ack=segs[1].end_seq)  # two ACKed: slow start opens cwnd by two
    hs.run(0.006)
    more = hs.take()
    assert len(more) == 4 and more[0].seq == segs[-1].end_seq
    assert conn.sk.snd_cwnd == 12
