"""TCP benchmarks: bulk transfers at 100 Mbit/s and 1 Gbit/s, 10,000 concurrent connections, and the
TCP model experiments with their plots.

    ./run bench bulk100m bulk1g conns10k models
    .venv/bin/python benchmarks/bench_tcp.py --profile bulk1g    # the scenario under cProfile

Scenarios (registered in ``SCENARIOS`` for benchmarks/run.py):
- ``bulk100m`` / ``bulk1g``: two hosts, netem on both ends (10 ms one way, the rate, a queue of
  max(1000, 2 x BDP) packets), one CUBIC flow for 10 virtual seconds. Figures: wall seconds, frames
  through the bottleneck device (both directions) per wall-second, virtual seconds per wall-second,
  goodput.
- ``conns10k``: a client host opens 10,000 connections to a server host (batches of 250, accepted as
  they come). Figures: wall time to establish them, memory per connection (both endpoints) as the
  tracemalloc difference and as the RSS difference from /proc/self/statm.
- ``models``: the experiments of tests/models (Reno against Mathis, CUBIC against RFC 9438's response
  function, BBR against CUBIC on a lossy path) with longer windows; each run's series, sampled every
  RTT from tcp_info, goes to out/plots/<name>.csv and, with matplotlib, out/plots/<name>.png.
The lab runs in virtual time; only these benchmarks read the wall clock (time.perf_counter).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import io
import math
import os
import pstats
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path as FsPath
from typing import Any

HERE = FsPath(__file__).resolve().parent
ROOT = HERE.parent
OUT = ROOT / "out" / "plots"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "models"))

from modellab import (  # noqa: E402
    SQRT_3_2,
    BulkFlow,
    Path,
    Sample,
    aimd_avg_window,
    cubic_avg_window,
    cubic_fluid_avg_window,
    mathis_rate_bps,
)
from plots import have_matplotlib, plot_timeseries, write_csv  # noqa: E402

from tuxnet.ipv4.tcp.tcp_sock import TCP_ESTABLISHED  # noqa: E402
from tuxnet.lab.lab import Lab  # noqa: E402
from tuxnet.socket import AF_INET, SOCK_STREAM  # noqa: E402

FRAME = 1514
PAYLOAD = 1448


# ============================================================== bulk transfers
def _bulk(rate: str, rate_bps: float, seconds: float = 10.0) -> dict[str, Any]:
    delay_ms = 10.0
    bdp_pkts = rate_bps * 2 * delay_ms / 1000 / 8 / FRAME
    path = Path(delay_ms=delay_ms, rate=rate, limit=max(1000, math.ceil(2 * bdp_pkts)))
    flow = BulkFlow("cubic", path, seed=1, sample_ms=1000.0)
    flow.start()
    st = flow.dev_snd.stats
    frames0, rx0, v0 = st.tx_packets + st.rx_packets, flow.received, flow.lab.now
    t0, c0 = time.perf_counter(), time.process_time()
    flow.run_until(seconds)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    frames = st.tx_packets + st.rx_packets - frames0
    virt = (flow.lab.now - v0) / 1e9
    tp = flow.sock.sk
    out = {"virtual s": round(virt, 3), "wall s": round(wall, 2), "cpu s": round(cpu, 2),
           "virtual s per wall-s": round(virt / wall, 3),
           "bottleneck frames (both directions)": frames,
           "link packets per wall-s": round(frames / wall),
           "link packets per cpu-s": round(frames / cpu),
           "goodput Mbit/s": round((flow.received - rx0) * 8 / virt / 1e6, 2),
           "link capacity used": f"{(flow.received - rx0) * 8 / virt / (rate_bps * PAYLOAD / FRAME):.1%}",
           "retransmitted segments": tp.total_retrans, "final cwnd": tp.snd_cwnd}
    flow.stop()
    return out


def bench_bulk100m() -> dict[str, Any]:
    """One CUBIC flow, 100 Mbit/s, 10 ms one way, 10 virtual s: wall time and link packets per wall-s."""
    return _bulk("100mbit", 100e6)


def bench_bulk1g() -> dict[str, Any]:
    """One CUBIC flow, 1 Gbit/s, 10 ms one way, 10 virtual s: wall time and link packets per wall-s."""
    return _bulk("1gbit", 1e9)


# ============================================================== 10,000 connections
def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _conn_lab() -> tuple[Lab, Any, Any, Any]:
    lab = Lab(seed=1)
    lab.add_host("client")
    lab.add_host("server")
    lab.add_link("client", "eth0", "server", "eth0")
    lab.node("client").cmd("ip addr add 10.0.0.1/24 dev eth0", check=True)
    lab.node("server").cmd("ip addr add 10.0.0.2/24 dev eth0", check=True)
    lab.node("client").cmd("ping -c 1 10.0.0.2", check=True)  # ARP resolved before the SYNs
    srv = lab.host("server")
    listener = srv.socket(AF_INET, SOCK_STREAM)
    listener.bind(("0.0.0.0", 80))
    listener.listen(4096)
    listener.setblocking(False)
    return lab, lab.host("client"), srv, listener


def _open_conns(lab: Lab, cli: Any, listener: Any, n: int, batch: int) -> tuple[list[Any], list[Any]]:
    clients: list[Any] = []
    accepted: list[Any] = []

    def drain() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except BlockingIOError:
                return

    for start in range(0, n, batch):
        for _ in range(min(batch, n - start)):
            s = cli.socket(AF_INET, SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("10.0.0.2", 80))
            clients.append(s)
        lab.run(0.001)
        drain()
    for _ in range(100):  # SYN retransmissions, if any, come after 1 s
        if len(accepted) >= n:
            break
        lab.run(0.1)
        drain()
    return clients, accepted


def bench_conns10k(n: int = 10_000, batch: int = 250) -> dict[str, Any]:
    """10,000 concurrent established connections in one lab: set-up time, memory per connection."""
    gc.collect()
    lab, cli, srv, listener = _conn_lab()
    gc.collect()
    rss0 = _rss_bytes()
    t0, c0 = time.perf_counter(), time.process_time()
    v0 = lab.now
    clients, accepted = _open_conns(lab, cli, listener, n, batch)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    virt = (lab.now - v0) / 1e9
    gc.collect()
    rss1 = _rss_bytes()
    established = sum(1 for s in clients if s.sk.sk_state == TCP_ESTABLISHED)
    states = f"{established} client ESTABLISHED, {len(accepted)} accepted"
    del clients, accepted, lab, cli, srv, listener
    gc.collect()
    # again under tracemalloc (slower, so not timed)
    lab, cli, srv, listener = _conn_lab()
    gc.collect()
    tracemalloc.start()
    m0 = tracemalloc.get_traced_memory()[0]
    clients, accepted = _open_conns(lab, cli, listener, n, batch)
    gc.collect()
    m1 = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {"connections": n, "state": states, "wall s to establish": round(wall, 2),
            "cpu s to establish": round(cpu, 2),
            "connections per wall-s": round(n / wall), "virtual s": round(virt, 3),
            "tracemalloc bytes per connection (both ends)": round((m1 - m0) / n),
            "RSS bytes per connection (both ends)": round((rss1 - rss0) / n),
            "client sockets / server sockets": f"{len(clients)} / {len(accepted)}"}


# ============================================================== the model experiments
BIG_BUFFERS = {"net.ipv4.tcp_wmem": "4096 16384 16777216", "net.ipv4.tcp_rmem": "4096 131072 16777216"}


def _series(samples: list[Sample], mss: int) -> dict[str, list[float]]:
    t, cwnd, ssthresh, srtt, thr, pacing = [], [], [], [], [], []
    for a, b in zip(samples, samples[1:], strict=False):
        dt = b.t - a.t
        t.append(round(b.t, 6))
        cwnd.append(b.cwnd)
        ssthresh.append(min(b.ssthresh, 100_000))
        srtt.append(b.srtt_us / 1000)
        thr.append((b.received - a.received) * 8 / dt / 1e6 if dt > 0 else 0.0)
        pacing.append(b.pacing_rate * 8 / 1e6 if b.pacing_rate < 2 ** 63 else math.nan)
    return {"t_s": t, "cwnd_pkts": cwnd, "ssthresh_pkts": ssthresh, "srtt_ms": srtt,
            "goodput_mbps": thr, "pacing_mbps": pacing}


def _moving_avg(xs: list[float], n: int) -> list[float]:
    out, acc = [], 0.0
    for i, x in enumerate(xs):
        acc += x
        if i >= n:
            acc -= xs[i - n]
        out.append(acc / min(i + 1, n))
    return out


def _run_model(name: str, cc: str, path: Path, warmup: float, measure: float, seed: int,
               sysctls: dict[str, str] | None = None) -> dict[str, Any]:
    flow = BulkFlow(cc, path, seed=seed, sample_ms=path.rtt_s * 1000, sysctls=sysctls)
    flow.start()
    flow.run_until(warmup)
    rx0, drops0, segs0 = flow.received, flow.dev_snd.qdisc.stats.drops, flow.sock.sk.data_segs_out
    t0 = time.perf_counter()
    flow.run_until(warmup + measure)
    wall = time.perf_counter() - t0
    tp = flow.sock.sk
    drops, segs = flow.dev_snd.qdisc.stats.drops - drops0, tp.data_segs_out - segs0
    inwin = [s for s in flow.samples if warmup <= s.t < warmup + measure]
    res = {"name": name, "cc": cc, "rtt_ms": path.rtt_s * 1000, "p": path.loss, "mss": tp.mss_cache,
           "p_seen": drops / segs if segs else math.nan, "drops": drops,
           "goodput_bps": (flow.received - rx0) * 8 / measure,
           "avg_cwnd": sum(s.cwnd for s in inwin) / len(inwin),
           "avg_srtt_s": sum(s.srtt_us for s in inwin) / len(inwin) / 1e6, "wall_s": wall}
    flow.stop()
    series = _series(flow.samples, tp.mss_cache)
    write_csv(OUT / f"{name}.csv", series)
    rtts = max(1, round(1.0 / path.rtt_s))
    title = (f"{name}: {cc}, RTT {path.rtt_s * 1000:g} ms, loss {path.loss:g}, "
             f"{path.rate or 'unlimited'} (measured from t={warmup:g} s)")
    res["png"] = plot_timeseries(OUT / f"{name}.png", title, series["t_s"], [
        ("cwnd (packets)", {"cwnd": series["cwnd_pkts"]}),
        ("goodput (Mbit/s)", {"per RTT": series["goodput_mbps"],
                              "1 s average": _moving_avg(series["goodput_mbps"], rtts)}),
        ("srtt (ms)", {"srtt": series["srtt_ms"]}),
    ])
    return res


def bench_models() -> dict[str, Any]:
    """The TCP model experiments (Reno/Mathis, CUBIC/RFC 9438, BBR vs CUBIC); CSV and PNG in out/plots."""
    t0 = time.perf_counter()
    lossy = Path(delay_ms=10.0, rate="1gbit", limit=100_000)
    runs: list[tuple[dict[str, Any], str, Callable[[dict[str, Any]], float]]] = []

    def mathis(r: dict[str, Any]) -> float:
        return mathis_rate_bps(r["mss"], r["avg_srtt_s"], r["p_seen"], SQRT_3_2)

    for p, warm, meas in ((1e-2, 2.0, 30.0), (1e-3, 3.0, 40.0), (1e-4, 3.0, 30.0)):
        r = _run_model(f"reno_mathis_p{p:g}", "reno", dataclasses.replace(lossy, loss=p), warm, meas, 7)
        runs.append((r, "mathis", mathis))
    cubic_cases = (("cubic_region_200ms_p0.001", 100.0, 1e-3, 10.0, 300.0),
                   ("cubic_region_100ms_p0.0001", 50.0, 1e-4, 15.0, 60.0),
                   ("cubic_renofriendly_20ms_p0.001", 10.0, 1e-3, 3.0, 40.0),
                   ("cubic_renofriendly_20ms_p0.01", 10.0, 1e-2, 2.0, 30.0))
    for name, delay, p, warm, meas in cubic_cases:
        path = Path(delay_ms=delay, rate="1gbit", limit=100_000, loss=p)
        r = _run_model(name, "cubic", path, warm, meas, 3)
        runs.append((r, "rfc9438", lambda r: max(cubic_avg_window(r["avg_srtt_s"], r["p_seen"]),
                                                   aimd_avg_window(r["p_seen"]))))
    bbr_path = Path(delay_ms=50.0, rate="100mbit", limit=1000, loss=0.01)
    for cc in ("bbr", "cubic"):
        r = _run_model(f"lossy100m_{cc}", cc, bbr_path, 3.0, 30.0, 1, BIG_BUFFERS)
        runs.append((r, "capacity", lambda r: 100e6 * PAYLOAD / FRAME))
    out: dict[str, Any] = {}
    summary: dict[str, list[Any]] = {k: [] for k in (
        "name", "cc", "rtt_ms", "p", "p_seen", "goodput_mbps", "avg_cwnd", "model", "model_value",
        "ratio")}
    for r, kind, fn in runs:
        m = fn(r)
        if kind == "mathis":
            val, ratio = r["goodput_bps"], r["goodput_bps"] / m
            text = (f"goodput {val / 1e6:.2f} Mbit/s, Mathis {m / 1e6:.2f} -> {ratio:.3f} "
                    f"(p_seen {r['p_seen']:.3g}, rtt {r['avg_srtt_s'] * 1e3:.1f} ms)")
        elif kind == "rfc9438":
            val, ratio = r["avg_cwnd"], r["avg_cwnd"] / m
            w_cubic, w_aimd = cubic_avg_window(r["avg_srtt_s"], r["p_seen"]), aimd_avg_window(r["p_seen"])
            fluid = cubic_fluid_avg_window(r["avg_srtt_s"], r["p_seen"])
            text = (f"avg cwnd {val:.1f}, RFC 9438 max(cubic {w_cubic:.1f}, aimd {w_aimd:.1f}) -> "
                    f"{ratio:.3f}; random-loss fluid model {fluid:.1f} -> {val / fluid:.3f} "
                    f"(p_seen {r['p_seen']:.3g}, rtt {r['avg_srtt_s'] * 1e3:.1f} ms)")
        else:
            val, ratio = r["goodput_bps"], r["goodput_bps"] / m
            text = f"goodput {val / 1e6:.2f} Mbit/s = {ratio:.1%} of {m / 1e6:.1f} (p_seen {r['p_seen']:.3g})"
        out[r["name"]] = text
        for k, v in (("name", r["name"]), ("cc", r["cc"]), ("rtt_ms", r["rtt_ms"]), ("p", r["p"]),
                     ("p_seen", r["p_seen"]), ("goodput_mbps", r["goodput_bps"] / 1e6),
                     ("avg_cwnd", r["avg_cwnd"]), ("model", kind), ("model_value", m), ("ratio", ratio)):
            summary[k].append(v)
    write_csv(OUT / "models_summary.csv", summary)
    out["plots"] = f"{OUT} ({'PNG + CSV' if have_matplotlib() else 'CSV only: matplotlib missing'})"
    out["wall s"] = round(time.perf_counter() - t0, 1)
    return out


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "bulk100m": bench_bulk100m,
    "bulk1g": bench_bulk1g,
    "conns10k": bench_conns10k,
    "models": bench_models,
}


def profile(name: str, top: int = 30) -> str:
    """Run one scenario under cProfile; the ``top`` functions by own time, then by cumulative time."""
    prof = cProfile.Profile()
    prof.enable()
    figures = SCENARIOS[name]()
    prof.disable()
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.sort_stats("tottime").print_stats(top)
    st.sort_stats("cumulative").print_stats(top)
    return f"{figures}\n{buf.getvalue()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--profile", action="store_true", help="run under cProfile and print the hot spots")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args(argv)
    if args.profile:
        print(profile(args.scenario, args.top))
    else:
        for k, v in SCENARIOS[args.scenario]().items():
            print(f"   {k:<45} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
