"""Reno's throughput under random loss follows the Mathis et al. (1997) model, rate = MSS/RTT * C/sqrt(p).

The constant. Mathis derives C = sqrt(3/(2b)) for a sender whose window grows by 1/b segment per
round trip, b being the segments covered by one ACK: sqrt(3/2) ~ 1.22 when every segment is ACKed,
sqrt(3/4) ~ 0.87 with classic per-ACK growth under delayed ACKs (b = 2). Linux's receiver does delay
its ACKs (one per two full segments, __tcp_ack_snd_check), but Linux's Reno counts *packets* ACKed
(tcp_cong_avoid_ai adds ``acked`` to snd_cwnd_cnt, RFC 3465-style), so cwnd still grows one MSS per
round trip and b = 1: C = sqrt(3/2). The test tells the two apart: sqrt(3/4) would put every
measured/model ratio near 0.71, outside the band.

The band, [0.8, 1.25]. The model's p is the loss rate the flow sees; we use the measured one (netem
drops / data segments sent in the window), which removes the Poisson noise of the drop count
(about 10 drops at 1e-4). What remains: random rather than periodic loss (Ott, Kemperman and Mathis
find C ~ 1.31 for it, +7%), several drops in one window counted as one reduction at 1e-2 (+), the
round trip of recovery spent below the sawtooth (-), and the sawtooth's own sampling noise. Over 13
seeded runs (three loss rates, seeds 1-6) the ratio stayed within 0.96-1.14.

The path: 1 Gbit/s, 10 ms each way, random loss on the data direction only, a netem limit far above
anything in flight, so the flow is limited by loss alone and the RTT is the propagation delay. The
first seconds (slow start to a window the loss rate cannot sustain, then halvings) are left out.
"""

from __future__ import annotations

import pytest
from modellab import SQRT_3_2, Path, mathis_rate_bps, run_bulk

# p, warm-up and measured virtual seconds: about 10-100 loss events per case
CASES = [(1e-2, 2.0, 20.0), (1e-3, 3.0, 30.0), (1e-4, 3.0, 15.0)]
BAND = (0.8, 1.25)


def mathis_path(p: float) -> Path:
    return Path(delay_ms=10.0, rate="1gbit", limit=100_000, loss=p)


@pytest.mark.slow
@pytest.mark.parametrize(("p", "warmup", "measure"), CASES, ids=[f"p={c[0]:g}" for c in CASES])
def test_reno_throughput_follows_mathis(p: float, warmup: float, measure: float) -> None:
    r = run_bulk("reno", mathis_path(p), warmup=warmup, measure=measure, seed=7)
    assert r.netem_drops >= 5, "too few losses in the window to say anything"
    p_seen = r.netem_drops / r.data_segs
    model = mathis_rate_bps(r.mss, r.avg_srtt_s, p_seen, SQRT_3_2)
    ratio = r.goodput_bps / model
    row = (f"reno p={p:g}: p_seen={p_seen:.3g} drops={r.netem_drops} loss events={r.loss_events} "
           f"rtt={r.avg_srtt_s * 1e3:.2f} ms goodput={r.goodput_mbps:.2f} Mbit/s "
           f"Mathis(C=1.22)={model / 1e6:.2f} Mbit/s ratio={ratio:.3f} "
           f"(nominal p: {r.goodput_bps / mathis_rate_bps(r.mss, r.avg_srtt_s, p):.3f})")
    print(row)
    # netem drew the loss rate it was given (the drop count is Poisson: wide bounds)
    assert 0.4 * p <= p_seen <= 2.5 * p, row
    # loss-limited, not link-limited: the RTT stayed at the propagation delay
    assert r.avg_srtt_s < 1.25 * r.path.rtt_s, row
    assert BAND[0] <= ratio <= BAND[1], row
