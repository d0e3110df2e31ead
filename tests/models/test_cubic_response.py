"""CUBIC's average window follows the response function of RFC 9438 / RFC 8312 section 5.1.

In the cubic region (large RTT x window) the average window is
    AVG_W_cubic = (C (3 + beta) / (4 (1 - beta)))^(1/4) * RTT^(3/4) / p^(3/4),
and in the Reno-friendly region, where that is below what AIMD(alpha = 3(1-beta)/(1+beta), beta)
would reach, CUBIC follows its Reno estimate, whose average window is sqrt(3 / (2p)) (= Reno's).

The formula assumes deterministic loss (one drop every 1/p packets, so every epoch ends at W_max on
the concave side). Under random loss some epochs run long and climb the convex side, so the time
average is higher: a fluid model with Linux's rules (beta 0.7, fast convergence, the Reno-friendly
bound) and Bernoulli loss (modellab.cubic_fluid_avg_window) gives +13% at (200 ms, 1e-3). Measured
over eight seeded runs of 100-300 s: W / AVG_W_cubic = 1.03-1.33. Hence the band [0.8, 1.5] for the
cubic region, and the region test W >= 1.25 x AVG_W_aimd, which a Reno-like window (0.69 x
AVG_W_cubic here) fails. In the Reno-friendly region (20 ms, 1e-3: AVG_W_cubic = 10, AVG_W_aimd =
38.7) CUBIC must sit on the AIMD figure: band [0.75, 1.25] (measured 0.89-0.98, recovery time below
the sawtooth pulling it down) and at least 2.5 x the cubic formula.

p is the measured loss rate (netem drops / data segments sent in the window), as in the Mathis test.
The RFC 8312 tables check the formulas themselves (fast, no lab).
"""

from __future__ import annotations

import math

import pytest
from modellab import Path, aimd_avg_window, cubic_avg_window, cubic_fluid_avg_window, run_bulk

# RFC 8312 section 5.1, Tables 1 (RTT 0.1 s) and 2 (RTT 0.01 s), column "CUBIC (C=0.4)", with the
# "Average TCP W" the tables take from RFC 3649 (1.2 / sqrt(p)) as the Reno-friendly floor.
RFC8312_TABLES = {
    0.1: {1e-2: 12, 1e-3: 38, 1e-4: 187, 1e-5: 1054, 1e-6: 5926, 1e-7: 33325, 1e-8: 187400},
    0.01: {1e-2: 12, 1e-3: 38, 1e-4: 120, 1e-5: 379, 1e-6: 1200, 1e-7: 5926, 1e-8: 33325},
}


@pytest.mark.parametrize("rtt", sorted(RFC8312_TABLES))
def test_response_function_matches_rfc8312_tables(rtt: float) -> None:
    for p, expected in RFC8312_TABLES[rtt].items():
        w = max(cubic_avg_window(rtt, p), 1.2 / math.sqrt(p))
        assert round(w) == expected, (rtt, p, w)
    # the AIMD estimate with alpha = 3(1-beta)/(1+beta) is Reno's sqrt(3/(2p)) whatever beta is
    for beta in (0.5, 0.7, 0.8):
        assert aimd_avg_window(1e-3, beta) == pytest.approx(math.sqrt(1.5e3))


@pytest.mark.parametrize(("rtt", "p"), [(0.2, 1e-3), (0.1, 1e-4), (0.02, 1e-3)])
def test_fluid_model_periodic_and_random_loss(rtt: float, p: float) -> None:
    """The fluid model behind the bands: with periodic loss it lands on the RFC formula (within the
    error of whole-RTT steps); random loss raises the average in the cubic region, not in the
    Reno-friendly one."""
    rfc = max(cubic_avg_window(rtt, p), aimd_avg_window(p))
    periodic = cubic_fluid_avg_window(rtt, p, random_loss=False)
    bernoulli = cubic_fluid_avg_window(rtt, p, random_loss=True, seed=5)
    assert periodic == pytest.approx(rfc, rel=0.08)
    cubic_region = cubic_avg_window(rtt, p) > aimd_avg_window(p)
    assert (1.08 if cubic_region else 1.0) <= bernoulli / periodic <= (1.3 if cubic_region else 1.08)


def measured(cc: str, path: Path, warmup: float, measure: float, seed: int) -> tuple[float, float, str]:
    r = run_bulk(cc, path, warmup=warmup, measure=measure, seed=seed)
    assert r.netem_drops >= 20, "too few losses in the window to say anything"
    p_seen = r.netem_drops / r.data_segs
    w_cubic = cubic_avg_window(r.avg_srtt_s, p_seen)
    w_aimd = aimd_avg_window(p_seen)
    row = (f"{cc} rtt={r.avg_srtt_s * 1e3:.1f} ms p={path.loss:g} p_seen={p_seen:.3g} "
           f"drops={r.netem_drops} avg cwnd={r.avg_cwnd:.1f} (goodput x rtt: {r.pkts_per_rtt:.1f}) "
           f"AVG_W_cubic={w_cubic:.1f} AVG_W_aimd={w_aimd:.1f} "
           f"W/cubic={r.avg_cwnd / w_cubic:.3f} W/aimd={r.avg_cwnd / w_aimd:.3f}")
    print(row)
    assert 0.5 * path.loss <= p_seen <= 2 * path.loss, row
    return r.avg_cwnd / w_cubic, r.avg_cwnd / w_aimd, row


@pytest.mark.slow
def test_cubic_region_200ms() -> None:
    """200 ms RTT, 1e-3: AVG_W_cubic = 56 > AVG_W_aimd = 38.7."""
    path = Path(delay_ms=100.0, rate="1gbit", limit=100_000, loss=1e-3)
    to_cubic, to_aimd, row = measured("cubic", path, warmup=10.0, measure=150.0, seed=3)
    assert 0.8 <= to_cubic <= 1.5, row
    assert to_aimd >= 1.25, row


@pytest.mark.slow
def test_reno_friendly_region_20ms() -> None:
    """20 ms RTT, 1e-3: AVG_W_cubic = 10 < AVG_W_aimd = 38.7, so CUBIC follows its Reno estimate."""
    path = Path(delay_ms=10.0, rate="1gbit", limit=100_000, loss=1e-3)
    to_cubic, to_aimd, row = measured("cubic", path, warmup=3.0, measure=30.0, seed=3)
    assert 0.75 <= to_aimd <= 1.25, row
    assert to_cubic >= 2.5, row
