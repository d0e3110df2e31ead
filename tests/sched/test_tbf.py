"""tbf through the real transmit path: departure times of frames on a veth whose egress is shaped."""

from __future__ import annotations

import pytest

from tuxnet.core.loop import NSEC_PER_MSEC, NSEC_PER_SEC
from tuxnet.core.trace import SkbDropReason
from tuxnet.lab.lab import Lab
from tuxnet.sched import create_qdisc
from tuxnet.sched.tbf import PschedRatecfg, Tbf
from tuxnet.skb import SkBuff

BCAST = b"\xff" * 6


def shaped(**params: object) -> tuple[Lab, Tbf, object, list[int]]:
    lab = Lab(1)
    a, b = lab.add_link(lab.add_host("h1"), "eth0", lab.add_host("h2"), "eth0")
    a.qdisc = create_qdisc(a, "tbf", **params)
    arrivals: list[int] = []
    b.taps.append(lambda skb, out: None if out else arrivals.append(lab.now))
    return lab, a.qdisc, a, arrivals


def burst_of(a: object, n: int, size: int) -> None:
    for _ in range(n):
        a.queue_xmit(SkBuff.from_bytes(BCAST + a.mac + b"\x88\xb5" + bytes(size - 14)))


def test_rate_is_enforced_after_the_bucket_empties():
    # 1 Mbit/s = 125000 B/s; a 1000-byte frame costs 8 ms of tokens; the bucket holds 10 frames
    lab, q, a, arrivals = shaped(rate="1mbit", burst=10_000, latency="2s")
    burst_of(a, 50, 1000)
    lab.run(2)
    assert len(arrivals) == 50
    assert arrivals[:10] == [0] * 10  # the full bucket lets a burst through at once
    gaps = {b - x for x, b in zip(arrivals[10:], arrivals[11:], strict=False)}
    assert gaps == {8 * NSEC_PER_MSEC}
    assert arrivals[-1] == 40 * 8 * NSEC_PER_MSEC
    st = q.stats
    assert st.packets == 50 and st.bytes == 50_000 and st.drops == 0 and st.overlimits > 0
    # long-run throughput is the rate
    rate = (st.bytes - 10_000) / (arrivals[-1] / NSEC_PER_SEC)
    assert rate == pytest.approx(125_000, rel=1e-6)


def test_limit_from_latency_drops_what_would_wait_too_long():
    # limit = rate * latency + burst = 125000 * 0.05 + 3000 = 9250 bytes of queue
    lab, q, a, arrivals = shaped(rate="1mbit", burst=3000, latency="50ms")
    assert q.limit == 9250
    burst_of(a, 20, 1000)
    # 3 go at once (bucket), 9 wait in the bfifo, the other 8 are tail-dropped
    assert q.stats.drops == 8 and q.stats.qlen == 9 and q.stats.backlog == 9000
    assert lab.hosts["h1"].drops[SkbDropReason.QDISC_DROP] == 8
    assert a.stats.tx_dropped == 0
    lab.run(1)
    assert len(arrivals) == 12 and q.stats.qlen == 0


def test_a_packet_larger_than_the_bucket_is_dropped():
    lab, q, a, arrivals = shaped(rate="1mbit", burst=1000, limit=100_000)
    burst_of(a, 1, 1001)
    burst_of(a, 1, 1000)
    lab.run(0.1)
    assert q.stats.drops == 1 and len(arrivals) == 1


def test_peakrate_spaces_the_burst():
    # rate 1 Mbit/s with a 10 kB bucket, but never faster than 2 Mbit/s (1000 B every 4 ms)
    lab, q, a, arrivals = shaped(rate="1mbit", burst=10_000, latency="1s", peakrate="2mbit", mtu=1000)
    burst_of(a, 5, 1000)
    lab.run(1)
    assert [t // NSEC_PER_MSEC for t in arrivals] == [0, 4, 8, 12, 16]


def test_ratecfg_matches_the_kernels_reciprocal():
    r = PschedRatecfg(187_500)  # 1500kbit
    assert (r.mult, r.shift) == (2_796_202_666, 19)
    assert r.l2t_ns(1500) == 7_999_999  # not 8 ms: the kernel's rounding, which "burst 1499b" shows
    assert PschedRatecfg(125_000_000).l2t_ns(1_048_576) == 8_388_608


def test_parameters_and_errors():
    lab, q, a, _ = shaped(rate=8_000_000, burst="10kb", limit=10_000)
    assert q.describe() == "rate 8Mbit burst 10Kb limit 10000b "
    with pytest.raises(ValueError, match='"burst" parameter is mandatory'):
        create_qdisc(a, "tbf", rate="1mbit", latency="10ms")
    with pytest.raises(ValueError, match="'bucket'"):
        create_qdisc(a, "tbf", rate="1mbit", burst=1000, latency="10ms", bucket=5)
    with pytest.raises(OSError):
        create_qdisc(a, "tbf", rate="1mbit", burst=1000, latency="10ms", peakrate="500kbit", mtu=1500)


def test_device_down_empties_the_queue_and_refills_the_bucket():
    lab, q, a, arrivals = shaped(rate="1mbit", burst=2000, latency="1s")
    burst_of(a, 6, 1000)
    assert q.stats.qlen == 4
    a.close()
    assert q.stats.qlen == 0 and q.tokens == q.buffer
    lab.run(1)
    assert len(arrivals) == 2
