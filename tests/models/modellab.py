"""One bulk TCP transfer over an emulated bottleneck, observed every sampling interval: the harness
shared by the TCP model tests (tests/models/test_*.py) and the ``models`` benchmark.

Guarantees:
- Topology: two hosts, ``snd`` (10.0.0.1) and ``rcv`` (10.0.0.2), joined by one veth pair. Each end's
  egress has a netem qdisc with the path's one-way ``delay``, its ``rate`` and ``limit``; random
  ``loss`` is applied on the data direction only (``snd`` -> ``rcv``), so ACKs are never lost.
- The sender application writes as fast as the socket accepts (non-blocking ``send`` of 64 KiB,
  sleeping on the socket's wait queue while it is full); the receiver reads as fast as data comes.
  The congestion control is chosen per socket with TCP_CONGESTION before ``connect``.
- Everything runs in virtual time from the lab's seed: the same ``Path`` and seed give the same
  figures. Nothing here reads the wall clock or the global ``random`` module.
- A sampler on the lab loop records the sender's ``struct tcp_info`` fields (cwnd, ssthresh, srtt,
  CA state, pacing rate, delivery rate) and the receiver's byte count every ``sample_ms``.
- ``BulkResult`` gives goodput (application bytes read by the receiver per second) over the
  measurement window ``[warmup, warmup + measure)``, the time-averaged cwnd and srtt over the same
  window (mean of the samples), and the counts of loss events (entries into fast recovery and RTOs)
  and of data segments sent in the window.
- The models: ``mathis_rate_bps`` (Mathis et al. 1997), ``cubic_avg_window`` and ``aimd_avg_window``
  (RFC 9438 / RFC 8312 section 5.1), and ``cubic_fluid_avg_window``, a round-by-round fluid model of
  Linux CUBIC under periodic or Bernoulli loss (seeded ``random.Random``), which the tests use to
  justify their tolerance bands.
"""

from __future__ import annotations

import math
import random
import socket as pysocket
from dataclasses import dataclass, field
from typing import Any

from tuxnet.ipv4.tcp.tcp_sockopt import TCP_CONGESTION, tcp_get_info
from tuxnet.lab.lab import Lab
from tuxnet.socket import AF_INET, SOCK_STREAM

NSEC_PER_SEC = 1_000_000_000
NSEC_PER_MSEC = 1_000_000
PORT = 5001
SND_ADDR = "10.0.0.1"
RCV_ADDR = "10.0.0.2"
CHUNK = bytes(65536)
READ_SIZE = 1 << 20


@dataclass(frozen=True)
class Path:
    """The emulated path: one-way delay (ms), bottleneck rate (tc syntax, None = unlimited),
    netem queue limit (packets), random loss on the data direction (fraction), MTU."""

    delay_ms: float = 10.0
    rate: str | None = "100mbit"
    limit: int = 1000
    loss: float = 0.0
    mtu: int = 1500

    @property
    def rtt_s(self) -> float:
        return 2 * self.delay_ms / 1000

    def netem(self, *, data_direction: bool) -> dict[str, Any]:
        imp: dict[str, Any] = {"delay": f"{self.delay_ms:g}ms", "limit": self.limit}
        if self.rate is not None:
            imp["rate"] = self.rate
        if data_direction and self.loss > 0:
            imp["loss"] = f"{self.loss * 100:.10g}%"
        return imp


@dataclass
class Sample:
    """One observation of the sender (tcp_info) and of the receiver's byte count."""

    t: float  # virtual seconds since the connection was established
    cwnd: int  # packets
    ssthresh: int
    srtt_us: int
    ca_state: int
    pacing_rate: int  # bytes/s
    delivery_rate: int  # bytes/s
    received: int  # application bytes read by the receiver so far
    total_retrans: int


@dataclass
class BulkResult:
    cc: str
    path: Path
    seed: int
    warmup: float
    measure: float
    mss: int
    goodput_bps: float  # bits/s of application data over the window
    avg_cwnd: float  # packets, time average over the window
    avg_srtt_s: float  # seconds, time average over the window
    loss_events: int  # fast recoveries + RTOs in the window
    data_segs: int  # data segments sent in the window (new and retransmitted)
    retrans_segs: int  # retransmitted in the window
    netem_drops: int  # packets netem dropped on the data direction in the window
    samples: list[Sample] = field(default_factory=list)

    @property
    def goodput_mbps(self) -> float:
        return self.goodput_bps / 1e6

    @property
    def pkts_per_rtt(self) -> float:
        """The average window implied by the goodput: rate x srtt / MSS (packets)."""
        return self.goodput_bps / 8 * self.avg_srtt_s / self.mss


class BulkFlow:
    """A lab with one bulk TCP flow from ``snd`` to ``rcv`` (see the module docstring)."""

    def __init__(self, cc: str, path: Path, *, seed: int = 1, sample_ms: float = 10.0,
                 sysctls: dict[str, str] | None = None) -> None:
        self.cc = cc
        self.path = path
        self.seed = seed
        self.lab = lab = Lab(seed=seed)
        self.snd = lab.add_host("snd")
        self.rcv = lab.add_host("rcv")
        self.dev_snd, self.dev_rcv = lab.add_link(
            "snd", "eth0", "rcv", "eth0", mtu=path.mtu,
            impair_a=path.netem(data_direction=True), impair_b=path.netem(data_direction=False))
        lab.node("snd").cmd(f"ip addr add {SND_ADDR}/24 dev eth0", check=True)
        lab.node("rcv").cmd(f"ip addr add {RCV_ADDR}/24 dev eth0", check=True)
        for key, value in (sysctls or {}).items():
            for host in ("snd", "rcv"):
                lab.node(host).cmd(f'sysctl -w {key}="{value}"', check=True)
        self.sample_ns = int(sample_ms * NSEC_PER_MSEC)
        self.received = 0
        self.samples: list[Sample] = []
        self.sock: Any = None
        self.t0_ns = 0
        self._listener = self.rcv.socket(AF_INET, SOCK_STREAM)
        self._listener.bind(("0.0.0.0", PORT))
        self._listener.listen(8)
        self._tasks: list[Any] = []

    # ------------------------------------------------------------ the applications
    async def _receiver(self) -> None:
        conn, _ = await self.rcv.sock_accept(self._listener)
        conn.setblocking(False)
        while True:
            try:
                data = conn.recv(READ_SIZE)
            except BlockingIOError:
                await conn.wait_readable()
                continue
            if not data:
                return
            self.received += len(data)

    async def _sender(self) -> None:
        s = self.snd.socket(AF_INET, SOCK_STREAM)
        s.setsockopt(pysocket.IPPROTO_TCP, TCP_CONGESTION, self.cc.encode())
        await self.snd.sock_connect(s, (RCV_ADDR, PORT))
        s.setblocking(False)
        self.sock = s
        self.t0_ns = self.lab.loop.now_ns
        self._sample()
        while True:
            try:
                s.send(CHUNK)  # bulk data: a partial write needs no resend of the rest
            except BlockingIOError:
                await s.wait_writable()

    def _sample(self) -> None:
        tp = self.sock.sk
        info = tcp_get_info(tp)
        self.samples.append(Sample(
            t=(self.lab.loop.now_ns - self.t0_ns) / NSEC_PER_SEC, cwnd=info["tcpi_snd_cwnd"],
            ssthresh=info["tcpi_snd_ssthresh"], srtt_us=info["tcpi_rtt"], ca_state=info["tcpi_ca_state"],
            pacing_rate=info["tcpi_pacing_rate"], delivery_rate=info["tcpi_delivery_rate"],
            received=self.received, total_retrans=info["tcpi_total_retrans"]))
        self.lab.loop.call_later_ns(self.sample_ns, self._sample)

    # ------------------------------------------------------------ running
    def start(self) -> None:
        loop = self.lab.loop
        self._tasks = [loop.create_task(self._receiver()), loop.create_task(self._sender())]
        while self.sock is None:  # the handshake: one RTT (plus ARP)
            self.lab.run(0.001)

    def run_until(self, t: float) -> None:
        """Advance to ``t`` virtual seconds after the connection was established."""
        self.lab.loop.run_until(self.t0_ns + int(t * NSEC_PER_SEC))

    def counters(self) -> dict[str, int]:
        ext = self.snd.mib.tcpext
        qd = self.dev_snd.qdisc
        return {"recoveries": ext.TCPSackRecovery + ext.TCPRenoRecovery, "rtos": ext.TCPTimeouts,
                "segs_out": self.sock.sk.data_segs_out, "retrans": self.sock.sk.total_retrans,
                "netem_drops": qd.stats.drops,
                "received": self.received}

    def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        self.lab.run(0)


def window_mean(samples: list[Sample], attr: str, t0: float, t1: float) -> float:
    vals = [getattr(s, attr) for s in samples if t0 <= s.t < t1]
    return sum(vals) / len(vals) if vals else math.nan


def run_bulk(cc: str, path: Path, *, warmup: float, measure: float, seed: int = 1,
             sample_ms: float = 10.0, sysctls: dict[str, str] | None = None) -> BulkResult:
    """Run one flow for ``warmup + measure`` virtual seconds; figures cover the last ``measure``."""
    flow = BulkFlow(cc, path, seed=seed, sample_ms=sample_ms, sysctls=sysctls)
    flow.start()
    flow.run_until(warmup)
    c0 = flow.counters()
    flow.run_until(warmup + measure)
    c1 = flow.counters()
    mss = flow.sock.sk.mss_cache
    flow.stop()
    t0, t1 = warmup, warmup + measure
    return BulkResult(
        cc=cc, path=path, seed=seed, warmup=warmup, measure=measure, mss=mss,
        goodput_bps=(c1["received"] - c0["received"]) * 8 / measure,
        avg_cwnd=window_mean(flow.samples, "cwnd", t0, t1),
        avg_srtt_s=window_mean(flow.samples, "srtt_us", t0, t1) / 1e6,
        loss_events=(c1["recoveries"] - c0["recoveries"]) + (c1["rtos"] - c0["rtos"]),
        data_segs=c1["segs_out"] - c0["segs_out"], retrans_segs=c1["retrans"] - c0["retrans"],
        netem_drops=c1["netem_drops"] - c0["netem_drops"], samples=flow.samples)


# ---------------------------------------------------------------- the models
SQRT_3_2 = math.sqrt(1.5)
CUBIC_C = 0.4
CUBIC_BETA = 0.7


def mathis_rate_bps(mss: int, rtt_s: float, p: float, c: float = SQRT_3_2) -> float:
    """Mathis et al. (1997): rate = MSS/RTT * C/sqrt(p), in bits/s."""
    return mss * 8 / rtt_s * c / math.sqrt(p)


def cubic_avg_window(rtt_s: float, p: float, c: float = CUBIC_C, beta: float = CUBIC_BETA) -> float:
    """RFC 9438 section 5.1 (RFC 8312 section 5.1): the average window of CUBIC in its cubic region,
    AVG_W_cubic = (C * (3 + beta) / (4 * (1 - beta)))^(1/4) * RTT^(3/4) / p^(3/4), in packets."""
    return (c * (3 + beta) / (4 * (1 - beta))) ** 0.25 * rtt_s ** 0.75 / p ** 0.75


def aimd_avg_window(p: float, beta: float = CUBIC_BETA) -> float:
    """RFC 9438 section 5.1: the Reno-friendly region, AIMD with alpha = 3(1-beta)/(1+beta):
    AVG_W_est = sqrt(alpha * (1 + beta) / (2 * (1 - beta) * p)) = sqrt(3 / (2p)), in packets."""
    alpha = 3 * (1 - beta) / (1 + beta)
    return math.sqrt(alpha * (1 + beta) / (2 * (1 - beta) * p))


def cubic_fluid_avg_window(rtt_s: float, p: float, *, random_loss: bool = True, rounds: int = 200_000,
                           seed: int = 1, c: float = CUBIC_C, beta: float = CUBIC_BETA) -> float:
    """The time-average window of a round-by-round fluid model of Linux CUBIC (packets).

    One step per RTT: the window W is sent; with ``random_loss`` the round sees a loss with
    probability 1 - (1 - p)^W (Bernoulli per packet), otherwise after every 1/p packets (RFC 9438's
    deterministic model). On a loss: fast convergence (W_max = W (1 + beta) / 2 when W is below the
    previous W_max, else W), W *= beta, a new epoch with K = cbrt((W_max - W) / C) and the Reno
    estimate restarting at W. Between losses W = max(C (t - K)^3 + W_max, W_est), W_est growing by
    3 (1 - beta) / (1 + beta) per RTT. Draws come from ``random.Random(seed)``.
    """
    rng = random.Random(seed)
    alpha = 3 * (1 - beta) / (1 + beta)
    w = w_max = w_last_max = w_est = 10.0
    k = t = sent = total = 0.0
    for _ in range(rounds):
        total += w
        if random_loss:
            lost = rng.random() < 1 - (1 - p) ** w
        else:
            sent += w
            lost = sent >= 1 / p
            if lost:
                sent = 0.0
        if lost:
            if w < w_last_max:
                w_last_max, w_max = w, w * (1 + beta) / 2
            else:
                w_last_max = w_max = w
            w = max(w * beta, 2.0)
            w_est = w
            k = ((w_max - w) / c) ** (1 / 3) if w_max > w else 0.0
            t = 0.0
        else:
            t += rtt_s
            w_est += alpha
            w = max(c * (t - k) ** 3 + w_max, w_est)
    return total / rounds
