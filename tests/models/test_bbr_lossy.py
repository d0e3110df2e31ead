"""BBR keeps a lossy long path full where CUBIC cannot: 100 Mbit/s, 100 ms RTT, 1% random loss.

BBR (v1, tcp_bbr.c) models the path by its bottleneck bandwidth and minimum RTT and does not take
random loss as a congestion signal, so it keeps sending at the bottleneck rate; CUBIC cuts its
window to 0.7x at every loss and sits in its Reno-friendly region, AVG_W = sqrt(3/(2p)) = 12.2
packets, about 1.4 Mbit/s at 100 ms.

What the issue asks: BBR keeps over 90% of the 100 Mbit/s path, i.e. more than 90 Mbit/s of goodput,
where CUBIC falls far below. The test asserts:
- BBR's goodput (application bytes read by the receiver) is over 90 Mbit/s;
- the bottleneck link stays at least 90% busy (data-direction frames, retransmissions included);
- CUBIC's goodput on the same path is below 30% of BBR's.
The margin is thin by nature. The bottleneck carries 100 Mbit/s of Ethernet frames (netem's rate
counts the frame without FCS); a full-sized segment is a 1514-byte frame with 1448 bytes of payload,
so the path's goodput capacity is 100 x 1448/1514 = 95.6 Mbit/s. A Linux-faithful BBR v1 cruises at
95.6 x 0.99 (pacing margin) x 0.99 (the lost 1%) = 93.7 Mbit/s, and PROBE_RTT (cwnd 4 for 200 ms
plus a round trip, every 10 s) with the packet-conserving first round of recovery after it takes
2-3% off: 90.9 Mbit/s here (seeds 1-5: 90.9-91.4). That figure needs pacing to charge the payload
only, as tcp_update_skb_after_send() does with the queue skb's len: charging the 52 header bytes too
paced 3.6% slow and gave 88.2 Mbit/s (docs/tcp-models.md, "Findings").

Both hosts raise tcp_wmem/tcp_rmem's maximum to 16 MB, the usual tuning for long fat paths, so
that the socket is never what limits the flow (the model's premise): on this path the retransmit
queue holds a round trip of data plus the SACKed segments above each hole. The send-buffer-limited
case is test_bbr_sndbuf_limited.py.
The window: 20 virtual seconds after a 3 s start (two PROBE_RTT episodes).
"""

from __future__ import annotations

import pytest
from modellab import BulkFlow, Path

LINK_BPS = 100e6
FRAME = 1514
PAYLOAD = 1448
GOODPUT_CAPACITY = LINK_BPS * PAYLOAD / FRAME
PATH = Path(delay_ms=50.0, rate="100mbit", limit=1000, loss=0.01)
BUFFERS = {"net.ipv4.tcp_wmem": "4096 16384 16777216", "net.ipv4.tcp_rmem": "4096 131072 16777216"}
WARMUP, MEASURE = 3.0, 20.0


def measure(cc: str, seed: int) -> tuple[float, float, str]:
    """(goodput bit/s, bottleneck busy fraction, description) over the window."""
    flow = BulkFlow(cc, PATH, seed=seed, sample_ms=100.0, sysctls=BUFFERS)
    flow.start()
    flow.run_until(WARMUP)
    rx0, st = flow.received, flow.dev_snd.qdisc.stats
    bytes0, drops0, segs0 = st.bytes, st.drops, flow.sock.sk.data_segs_out
    flow.run_until(WARMUP + MEASURE)
    goodput = (flow.received - rx0) * 8 / MEASURE
    busy = (st.bytes - bytes0) * 8 / MEASURE / LINK_BPS
    segs = flow.sock.sk.data_segs_out - segs0
    flow.stop()
    row = (f"{cc}: goodput {goodput / 1e6:.2f} Mbit/s ({goodput / GOODPUT_CAPACITY:.1%} of "
           f"{GOODPUT_CAPACITY / 1e6:.1f}), bottleneck busy {busy:.1%}, "
           f"netem drops {st.drops - drops0}/{segs} segments")
    print(row)
    return goodput, busy, row


@pytest.mark.slow
def test_bbr_fills_lossy_path_cubic_does_not() -> None:
    bbr_goodput, bbr_busy, bbr_row = measure("bbr", seed=1)
    cubic_goodput, _, cubic_row = measure("cubic", seed=1)
    assert bbr_goodput > 0.90 * LINK_BPS, bbr_row
    assert bbr_busy >= 0.90, bbr_row
    assert cubic_goodput < 0.30 * bbr_goodput, f"{bbr_row}\n{cubic_row}"
