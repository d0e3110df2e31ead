"""BBR limited by its send buffer still leaves STARTUP: 100 Mbit/s, 100 ms RTT, 1% loss, 2 MB tcp_wmem.

With a send buffer smaller than what the path holds (the retransmit queue keeps a round trip of data
plus the SACKed segments above each hole), the sender's data is all in flight and cwnd is not what
limits it. Linux marks such a flow application-limited only when the application hands TCP data
(tcp_rate_check_app_limited() from tcp_sendmsg_locked()), never on ACKs, so the rate samples of a
socket the application keeps full are not app-limited: bbr_check_full_bw_reached() sees the
bandwidth plateau, STARTUP ends after three flat rounds, DRAIN, then PROBE_BW's gain cycle. Marking
the flow app-limited on every ACK instead (as tuxnet once did) left it in STARTUP for good, pacing at
2.89x the bottleneck and overflowing its queue (3.7% of the segments dropped instead of the path's 1%).

Asserted, over seconds 4-8 of the transfer:
- the flow is send-buffer limited, not cwnd-limited: in flight < cwnd in most 10 ms samples;
- BBR is in PROBE_BW (``ca_priv.mode``), and ``ss -tin`` shows it: cwnd_gain 2 and a pacing gain of
  the PROBE_BW cycle (1.25, 0.75 or 1), not STARTUP's 2.89;
- netem drops at most 1.5% of the data segments (the path's 1% random loss, no queue overflow).
"""

from __future__ import annotations

import re

import pytest
from modellab import BulkFlow, Path

from tuxnet.ipv4.tcp import cong
from tuxnet.ipv4.tcp.cong.bbr import BBR_PROBE_BW

PATH = Path(delay_ms=50.0, rate="100mbit", limit=1000, loss=0.01)
SNDBUF_LIMITED = {"net.ipv4.tcp_wmem": "4096 16384 2097152"}
WARMUP, MEASURE = 4.0, 4.0


@pytest.mark.slow
def test_send_buffer_limited_bbr_leaves_startup() -> None:
    flow = BulkFlow("bbr", PATH, seed=1, sample_ms=100.0, sysctls=SNDBUF_LIMITED)
    flow.start()
    flow.run_until(WARMUP)
    tp = flow.sock.sk
    limits = {"samples": 0, "below_cwnd": 0}

    def sample() -> None:
        limits["samples"] += 1
        limits["below_cwnd"] += cong.tcp_packets_in_flight(tp) < tp.snd_cwnd
        flow.lab.loop.call_later_ns(10_000_000, sample)

    sample()
    modes = set()
    st = flow.dev_snd.qdisc.stats
    drops0, segs0 = st.drops, tp.data_segs_out
    for i in range(1, 9):
        flow.run_until(WARMUP + MEASURE * i / 8)
        modes.add(tp.ca_priv.mode)
    drops, segs = st.drops - drops0, tp.data_segs_out - segs0
    ss = flow.lab.node("snd").cmd("ss -tin")
    flow.stop()
    row = (f"bbr, tcp_wmem max 2 MB: modes seen {sorted(modes)}, in flight < cwnd in "
           f"{limits['below_cwnd']}/{limits['samples']} samples, netem drops {drops}/{segs} "
           f"({drops / segs:.2%}), sndbuf {tp.sk_sndbuf}, full_bw_reached {tp.ca_priv.full_bw_reached}")
    print(row)
    print(ss)
    assert limits["below_cwnd"] >= 0.8 * limits["samples"], row
    assert tp.ca_priv.full_bw_reached and BBR_PROBE_BW in modes, row
    gains = re.search(r"bbr:\(bw:\S+,mrtt:\S+,pacing_gain:([\d.]+),cwnd_gain:([\d.]+)\)", ss)
    assert gains is not None, ss
    pacing_gain, cwnd_gain = float(gains.group(1)), float(gains.group(2))
    if tp.ca_priv.mode == BBR_PROBE_BW:
        assert cwnd_gain == 2 and pacing_gain in (1.25, 0.75, 1), ss
    assert pacing_gain < 2, ss  # never STARTUP's 2.89 again
    assert drops <= 0.015 * segs, row
