"""netem through the real transmit path: frames go out with ``dev.queue_xmit`` on one end of a veth
pair whose egress qdisc is netem; a packet tap on the peer records what arrives and when."""

from __future__ import annotations

import math
import statistics
import struct

import pytest

from tuxnet.core.loop import NSEC_PER_MSEC, NSEC_PER_SEC
from tuxnet.core.trace import SkbDropReason
from tuxnet.lab.lab import Lab
from tuxnet.sched import create_qdisc
from tuxnet.sched.netem import Netem, dist_table, skb_checksum_help
from tuxnet.skb import Csum, SkBuff
from tuxnet.wire.checksum import csum_partial, pseudo_header_sum

BCAST = b"\xff" * 6


class Link:
    """h1:eth0 -> h2:eth0 with netem ``params`` on h1's egress."""

    def __init__(self, seed: int = 1, **params: object) -> None:
        self.lab = Lab(seed)
        self.h1 = self.lab.add_host("h1")
        self.h2 = self.lab.add_host("h2")
        self.a, self.b = self.lab.add_link(self.h1, "eth0", self.h2, "eth0", impair_a=dict(params))
        self.q: Netem = self.a.qdisc
        self.got: list[tuple[int, int, bytes, int]] = []  # (time, seq, frame, ip_summed)
        self.b.taps.append(self._tap)

    def _tap(self, skb: SkBuff, out: bool) -> None:
        if not out:
            f = skb.mac_bytes()
            self.got.append((self.lab.now, struct.unpack_from("!I", f, 14)[0], f, skb.ip_summed))

    def frame(self, seq: int, size: int = 60) -> bytes:
        return BCAST + self.a.mac + b"\x88\xb5" + struct.pack("!I", seq) + bytes(size - 18)

    def send(self, seq: int, size: int = 60) -> int:
        t = self.lab.now
        self.a.queue_xmit(SkBuff.from_bytes(self.frame(seq, size)))
        return t

    def send_many(self, n: int, gap_ns: int = 0, size: int = 60) -> dict[int, int]:
        sent = {}
        for i in range(n):
            sent[i] = self.send(i, size)
            if gap_ns:
                self.lab.loop.run_for(gap_ns)
            elif i % 256 == 255:
                self.lab.loop.run_for(1)  # let the receiver's NAPI drain its backlog (1000 packets)
        return sent


def test_delay_10ms_with_uniform_jitter_and_the_reordering_it_causes():
    link = Link(delay="10ms", jitter="1ms")
    sent = link.send_many(2000, gap_ns=200_000)  # 0.2 ms apart: jitter can overtake
    link.lab.run(1)
    assert len(link.got) == 2000
    delays = [t - sent[seq] for t, seq, _, _ in link.got]
    assert min(delays) >= 9 * NSEC_PER_MSEC and max(delays) < 11 * NSEC_PER_MSEC
    assert abs(statistics.mean(delays) - 10 * NSEC_PER_MSEC) < 0.05 * NSEC_PER_MSEC
    # uniform on [-1ms, 1ms): standard deviation 1ms / sqrt(3)
    assert abs(statistics.pstdev(delays) / (NSEC_PER_MSEC / math.sqrt(3)) - 1) < 0.08
    order = [seq for _, seq, _, _ in link.got]
    assert order != sorted(order)  # the tfifo releases by time_to_send, not arrival order
    times = [t for t, _, _, _ in link.got]
    assert times == sorted(times)


def test_delay_without_jitter_is_exact_and_keeps_order():
    link = Link(delay=0.010)
    sent = link.send_many(50, gap_ns=100_000)
    link.lab.run(1)
    assert [(t - sent[s], s) for t, s, _, _ in link.got] == [(10 * NSEC_PER_MSEC, i) for i in range(50)]


def test_normal_distribution_shapes_the_jitter():
    link = Link(delay="50ms", jitter="5ms", distribution="normal")
    sent = link.send_many(3000, gap_ns=NSEC_PER_MSEC)
    link.lab.run(1)
    delays = [t - sent[s] for t, s, _, _ in link.got]
    assert abs(statistics.mean(delays) / NSEC_PER_MSEC - 50) < 0.4
    assert abs(statistics.pstdev(delays) / (5 * NSEC_PER_MSEC) - 1) < 0.1
    assert max(delays) > 60 * NSEC_PER_MSEC  # tails beyond 2 sigma exist, unlike uniform jitter


def test_distribution_tables_are_iproute2s():
    # first values of /usr/lib/tc/normal.dist and pareto.dist as iproute2 ships them
    assert dist_table("normal")[:8] == (-32768, -28307, -26871, -25967, -25298, -24765, -24320, -23937)
    assert dist_table("pareto")[:8] == (-5461, -5460, -5460, -5459, -5458, -5457, -5456, -5455)
    assert len(dist_table("paretonormal")) == 4096
    with pytest.raises(ValueError, match="No distribution data for weird"):
        dist_table("weird")


def _lost(seed: int, n: int = 10_000) -> set[int]:
    link = Link(seed=seed, loss="10%")
    link.send_many(n)
    link.lab.run(0.1)
    st = link.q.stats
    received = {s for _, s, _, _ in link.got}
    assert st.drops == n - len(received) == link.h1.drops[SkbDropReason.NETEM_LOSS]
    assert st.packets == len(received) and link.a.stats.tx_dropped == 0
    return set(range(n)) - received


def test_loss_10_percent_is_random_within_bounds_and_reproducible():
    lost = _lost(seed=42)
    sigma = math.sqrt(10_000 * 0.1 * 0.9)
    assert abs(len(lost) - 1000) < 4 * sigma
    # independent losses: runs of consecutive losses are as rare as p**k predicts
    pairs = sum(1 for s in lost if s + 1 in lost)
    assert abs(pairs - 10_000 * 0.01) < 4 * math.sqrt(10_000 * 0.01)
    assert _lost(seed=42) == lost
    assert _lost(seed=43) != lost


def test_a_links_draws_do_not_depend_on_other_links():
    def lost_with_extra_link(extra: bool) -> list[int]:
        lab = Lab(5)
        h1, h2 = lab.add_host("h1"), lab.add_host("h2")
        if extra:
            h3 = lab.add_host("h3")
            lab.add_link(h1, "eth1", h3, "eth0", impair={"loss": 50})
        a, b = lab.add_link(h1, "eth0", h2, "eth0", impair_a={"loss": 30})
        got = []
        b.taps.append(lambda skb, out: None if out else got.append(skb.mac_bytes()[14]))
        for i in range(200):
            a.queue_xmit(SkBuff.from_bytes(BCAST + a.mac + b"\x88\xb5" + bytes([i]) + bytes(45)))
        lab.run(0.1)
        return got

    assert lost_with_extra_link(False) == lost_with_extra_link(True)


def test_duplicate():
    link = Link(duplicate=100)
    link.send_many(100)
    link.lab.run(0.1)
    seqs = [s for _, s, _, _ in link.got]
    assert sorted(seqs) == sorted(list(range(100)) * 2)  # each once more, a copy never copied again
    link = Link(seed=9, duplicate="30%")
    link.send_many(5000)
    link.lab.run(0.1)
    extra = len(link.got) - 5000
    assert abs(extra - 1500) < 4 * math.sqrt(5000 * 0.3 * 0.7)
    assert link.q.stats.packets == len(link.got)


def test_corrupt_flips_exactly_one_bit():
    link = Link(corrupt=100)
    link.send_many(300, size=100)
    link.lab.run(0.1)
    assert len(link.got) == 300
    positions = set()
    for seq, (_, _, got, summed) in enumerate(link.got):  # no delay: the order is kept
        diff = [(i, a ^ b) for i, (a, b) in enumerate(zip(got, link.frame(seq, 100), strict=True)) if a != b]
        assert len(diff) == 1 and bin(diff[0][1]).count("1") == 1
        positions.add(diff[0][0])
        assert summed == Csum.NONE  # the receiver must check the damage in software
    assert len(positions) > 50  # random byte positions over the whole frame


def _udp_frame(payload: bytes = b"hello, world") -> bytes:
    udp = struct.pack("!HHHH", 1234, 53, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, 17, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return BCAST + bytes.fromhex("020000000001") + b"\x08\x00" + ip + udp


def _udp_ok(frame: bytes) -> bool:
    seg = frame[34:]
    return csum_partial(seg, pseudo_header_sum(0x0A000001, 0x0A000002, 17, len(seg))) == 0xFFFF


def test_corrupt_completes_an_offloaded_checksum_first():
    skb = SkBuff.from_bytes(_udp_frame())
    skb.ip_summed = Csum.PARTIAL
    skb_checksum_help(skb)
    assert _udp_ok(skb.bytes()) and skb.ip_summed == Csum.NONE
    link = Link(corrupt=100)
    for _ in range(40):
        s = SkBuff.from_bytes(_udp_frame())
        s.ip_summed = Csum.PARTIAL
        link.a.queue_xmit(s)
    link.lab.run(0.1)
    good = skb.bytes()  # the frame with its checksum completed, as skb_checksum_help left it above
    assert len(link.got) == 40
    for _, _, got, _ in link.got:
        diff = [i for i, (x, y) in enumerate(zip(got, good, strict=True)) if x != y]
        assert len(diff) == 1  # a correct checksum was filled in, then one bit flipped
        assert _udp_ok(got) == (diff[0] < 34)  # the flip shows unless it hit the Ethernet/IP header


def test_reorder_with_gap_sends_every_nth_packet_at_once():
    link = Link(delay="10ms", reorder=100, gap=5)
    sent = link.send_many(20, gap_ns=NSEC_PER_MSEC)
    link.lab.run(1)
    delay = {s: t - sent[s] for t, s, _, _ in link.got}
    immediate = sorted(s for s, d in delay.items() if d == 0)
    assert immediate == [4, 9, 14, 19]  # counter < gap - 1 for four packets, then the fifth goes first
    assert all(d == 10 * NSEC_PER_MSEC for s, d in delay.items() if s not in immediate)
    assert link.q.stats.requeues == 4


def test_reorder_percentage_without_gap():
    link = Link(seed=3, delay="10ms", reorder="25%")
    sent = link.send_many(4000, gap_ns=100_000)
    link.lab.run(1)
    now = sum(1 for t, s, _, _ in link.got if t == sent[s])
    assert abs(now - 1000) < 4 * math.sqrt(4000 * 0.25 * 0.75)
    assert link.q.stats.requeues == now
    assert "reorder 25% gap 1" in link.q.describe()
    with pytest.raises(ValueError, match="reordering not possible without specifying some delay"):
        Link(reorder=10)


def test_rate_10mbit_serialises_1514_byte_frames_1_2112_ms_apart():
    link = Link(rate="10mbit")
    link.send_many(20, size=1514)
    link.lab.run(1)
    times = [t for t, _, _, _ in link.got]
    assert times[0] == 1_211_200  # len * 8 / rate, Ethernet header included
    assert {b - a for a, b in zip(times, times[1:], strict=False)} == {1_211_200}
    # with delay the serialisation adds up behind the previous packet's time_to_send
    link = Link(rate=10_000_000, delay="5ms", packet_overhead=24)
    link.send_many(3, size=1514)
    link.lab.run(1)
    per = (1514 + 24) * 8 * NSEC_PER_SEC // 10_000_000
    assert [t for t, _, _, _ in link.got] == [5 * NSEC_PER_MSEC + per * k for k in (1, 2, 3)]


def test_limit_tail_drops_and_counts():
    link = Link(delay="1s", limit=10)
    link.send_many(15, size=100)
    st = link.q.stats
    assert (st.qlen, st.backlog, st.drops) == (10, 1000, 5)
    assert link.h1.drops[SkbDropReason.QDISC_DROP] == 5
    assert link.a.stats.tx_dropped == 0  # qdisc drops are not device drops (ip -s link)
    link.lab.run(0.999)
    assert link.got == [] and st.packets == 0
    link.lab.run(0.002)
    assert [s for _, s, _, _ in link.got] == list(range(10))
    assert (st.packets, st.bytes, st.qlen, st.backlog) == (10, 1000, 0, 0)


def test_device_down_frees_what_netem_holds():
    link = Link(delay="100ms")
    link.send_many(5)
    link.a.close()
    assert link.q.stats.qlen == 0 and link.h1.drops[SkbDropReason.NOT_SPECIFIED] == 5
    link.lab.run(1)
    assert link.got == []


def test_ecn_marks_instead_of_dropping():
    link = Link(loss=100, ecn=True)
    frame = bytearray(_udp_frame())
    frame[15] = 0x02  # ECT(0)
    link.a.queue_xmit(SkBuff.from_bytes(bytes(frame)))
    link.a.queue_xmit(SkBuff.from_bytes(_udp_frame()))  # Not-ECT: dropped
    link.lab.run(0.1)
    assert len(link.got) == 1 and link.got[0][2][15] & 3 == 3
    assert link.q.stats.drops == 2


def test_keyword_parameters_numbers_and_strings_mean_the_same():
    lab = Lab()
    h = lab.add_host("h")
    a, _ = lab.add_link(h, "a", lab.add_host("x"), "b")
    q1 = create_qdisc(a, "netem", delay=0.01, jitter=0.001, loss=1, rate=100_000_000, limit=500)
    q2 = create_qdisc(a, "netem", delay="10ms", jitter="1ms", loss="1%", rate="100mbit", limit="500")
    assert q1.describe() == q2.describe() == "limit 500 delay 10ms  1ms loss 1% rate 100Mbit"
    with pytest.raises(ValueError, match="'delya'"):
        create_qdisc(a, "netem", delya="10ms")
    with pytest.raises(ValueError, match="loss"):
        create_qdisc(a, "netem", loss="200%")
    with pytest.raises(ValueError, match="gap specified without reorder"):
        create_qdisc(a, "netem", gap=3)


def test_change_keeps_unnamed_optional_settings_like_linux():
    link = Link(delay="10ms", corrupt=5, rate="1mbit")
    link.q.change(delay="20ms")
    assert link.q.describe() == "limit 1000 delay 20ms corrupt 5% rate 1Mbit"


def test_lab_links_take_the_topology_impairment_keys():
    lab = Lab(2)
    a, b = lab.add_link(lab.add_host("r1"), "eth0", lab.add_host("r2"), "eth0",
                        impair={"delay": "10ms", "jitter": "1ms", "loss": "1%", "rate": "100mbit",
                                "duplicate": "0.1%", "reorder": "5%", "corrupt": "0.1%", "limit": 1000})
    for dev in (a, b):
        assert dev.qdisc.kind == "netem"
        assert dev.qdisc.describe() == ("limit 1000 delay 10ms  1ms loss 1% duplicate 0.1% reorder 5% "
                                        "corrupt 0.1% rate 100Mbit gap 1")
    assert a.qdisc.handle == b.qdisc.handle == "8001:"  # handles count per namespace
