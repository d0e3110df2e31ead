"""TSO packets as Linux 6.18 builds them and their segments on an MTU-sized wire: where PSH lands
(every multi-segment packet ends with it, a single-segment packet carries the skb's own PSH only),
and MSG_EOR boundaries that later writes and tcp_grow_skb never cross. The expectations were
measured on the kernel (a tun device with TSO, packetdrill's defaults, cubic)."""

from __future__ import annotations

from tcpharness import Harness, passive_open

from tuxnet.sock.constants import MSG_EOR

MSS = 1448


def test_every_multi_segment_packet_ends_with_psh():
    # tcp_min_tso_segs=10: cwnd 10 gives two TSO packets of cwnd/2 segments (tcp_cwnd_test)
    hs = Harness(delay_ms=5, sysctls={"net.ipv4.tcp_min_tso_segs": "10"})
    _, conn, fl = passive_open(hs)
    conn.send(bytes(20 * MSS))
    hs.run(0.005)
    segs = hs.take()
    assert [len(s.data) for s in segs] == [MSS] * 10
    assert [s.flags for s in segs] == [".", ".", ".", ".", "P."] * 2
    # the segments of one packet leave together: one departure time, one TSval
    assert len({s.t for s in segs[:5]}) == 1


def test_single_segment_packet_split_from_a_pushed_skb_has_no_psh():
    hs = Harness(delay_ms=5, sysctls={"net.ipv4.tcp_min_tso_segs": "10"})
    _, conn, fl = passive_open(hs)
    conn.send(bytes(12 * MSS))  # one pushed skb of 12 MSS, cwnd 10
    hs.run(0.005)
    first = hs.take()
    assert len(first) == 10
    # one ACK of one segment: cwnd 11, 9 in flight, so two segments: the pushed tail of the write
    fl.send(".", ack=first[0].end_seq)
    hs.run(0.006)
    assert [(len(s.data), s.flags) for s in hs.take()] == [(MSS, "."), (MSS, "P.")]


def test_msg_eor_keeps_skb_boundaries_on_the_wire():
    def run(eor: int) -> list[tuple[int, str]]:
        hs = Harness(delay_ms=5, sysctls={"net.ipv4.tcp_min_tso_segs": "10"})
        _, conn, fl = passive_open(hs)
        conn.send(bytes(10 * MSS))  # fills the initial window
        conn.send(b"a" * 400, eor)
        conn.send(b"b" * 400, eor)
        conn.send(b"c" * 2000)
        hs.run(0.005)
        first = hs.take()
        assert sum(len(s.data) for s in first) == 10 * MSS
        fl.send(".", ack=first[-1].end_seq)
        hs.run(0.006)
        return [(len(s.data), s.flags) for s in hs.take()]

    # each EOR-marked write stays its own packet (its PSH from the end of the write); the next
    # write starts a new skb, of which Nagle (Minshall: a small segment is unACKed) lets only the
    # whole MSS go (tcp_mss_split_point), a one-segment packet without PSH
    assert run(MSG_EOR) == [(400, "P."), (400, "P."), (MSS, ".")]
    # without the mark the three writes share one skb
    assert run(0) == [(MSS, "."), (2800 - MSS, "P.")]
