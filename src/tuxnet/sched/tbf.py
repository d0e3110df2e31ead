"""tbf, the token bucket filter (net/sched/sch_tbf.c): shape to ``rate`` with a ``burst`` bucket.

Guarantees, as sch_tbf.c (Linux 6.x, as iproute2 6.1 configures it):
- Tokens are nanoseconds of transmission time. The bucket holds ``burst`` bytes' worth at ``rate``
  (``buffer``, psched_l2t_ns with the kernel's reciprocal mult/shift, so rounding matches Linux);
  it refills with elapsed time, capped at ``buffer``.
- Dequeue takes the head packet only when the bucket (and, with ``peakrate``, the second bucket of
  ``mtu`` bytes) holds its cost; otherwise it counts an ``overlimit`` and arms a watchdog for the
  moment enough tokens will have accumulated. Packets are never reordered.
- Enqueue drops packets larger than the bucket (max_size) and packets that would push the inner
  byte FIFO (bfifo) past ``limit`` bytes (QDISC_DROP, a qdisc drop only).
- ``latency`` is tc's way to give the limit: limit = rate * latency + burst (the smaller of that and
  peakrate * latency + mtu with a peak rate); ``tc qdisc show`` prints it back as "lat".
- ``peakrate`` must exceed ``rate`` and needs ``mtu`` (EINVAL / ValueError otherwise).
"""

from __future__ import annotations

import errno
from collections import deque
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.core.trace import SkbDropReason
from tuxnet.sched import Qdisc, register_qdisc
from tuxnet.sched import netem as _nm  # unit helpers, the watchdog, handles (used at run time only)

if TYPE_CHECKING:
    from tuxnet.drivers.netdevice import NetDevice
    from tuxnet.skb import SkBuff

NSEC_PER_SEC = 1_000_000_000


class PschedRatecfg:
    """struct psched_ratecfg: a rate with the reciprocal that turns lengths into nanoseconds."""

    __slots__ = ("rate_bytes_ps", "mult", "shift", "overhead", "mpu")

    def __init__(self, rate_bytes_ps: int, overhead: int = 0, mpu: int = 0) -> None:
        """psched_ratecfg_precompute: the largest ``mult`` below 2**31 with NSEC_PER_SEC << shift."""
        self.rate_bytes_ps = rate_bytes_ps
        self.overhead = overhead
        self.mpu = mpu
        self.mult, self.shift = 1, 0
        if rate_bytes_ps > 0:
            factor = NSEC_PER_SEC
            while True:
                self.mult = factor // rate_bytes_ps
                if self.mult & (1 << 31) or factor & (1 << 63):
                    break
                factor <<= 1
                self.shift += 1

    def l2t_ns(self, length: int) -> int:
        """psched_l2t_ns: nanoseconds to send ``length`` bytes."""
        length = max(length + self.overhead, self.mpu)
        return (length * self.mult) >> self.shift


class TbfOpt:
    """What a tbf request carries (struct tc_tbf_qopt with TCA_TBF_BURST/PBURST/RATE64)."""

    __slots__ = ("rate", "burst", "limit", "peakrate", "mtu", "mpu", "overhead")

    def __init__(self, rate: int, burst: int, limit: int, peakrate: int = 0, mtu: int = 0, mpu: int = 0,
                 overhead: int = 0) -> None:
        self.rate = rate  # bytes per second
        self.burst = burst  # bytes
        self.limit = limit  # bytes
        self.peakrate = peakrate
        self.mtu = mtu
        self.mpu = mpu
        self.overhead = overhead


def limit_from_latency(rate: int, burst: int, latency_us: int, peakrate: int = 0, mtu: int = 0) -> int:
    """q_tbf.c: the byte limit tc sends for ``latency`` (u32, truncated)."""
    lim = rate * float(latency_us) / _nm.TIME_UNITS_PER_SEC + burst
    if peakrate:
        lim = min(lim, peakrate * float(latency_us) / _nm.TIME_UNITS_PER_SEC + mtu)
    return int(lim) & _nm.U32_MAX


TBF_KEYS = ("rate", "burst", "buffer", "maxburst", "limit", "latency", "peakrate", "mtu", "minburst", "mpu",
            "overhead")


def tbf_opt_from_kwargs(params: dict[str, Any]) -> TbfOpt:
    """Keyword parameters: rate (bits/s or "1mbit"), burst (bytes or "32kbit"), limit (bytes) or
    latency (seconds or "50ms"), and optionally peakrate with mtu, mpu, overhead."""
    for key in params:
        if key not in TBF_KEYS:
            raise ValueError(f"tbf: unknown parameter {key!r} (known: {', '.join(TBF_KEYS)})")

    def size(key: str) -> int:
        v = params[key]
        try:
            return _nm.get_size(v) if isinstance(v, str) else int(v)
        except (TypeError, ValueError):
            raise ValueError(f"tbf: {key}: bad size {v!r}") from None

    def rate(key: str) -> int:
        v = params[key]
        try:
            return _nm.get_rate64(v) if isinstance(v, str) else int(v) // 8
        except (TypeError, ValueError):
            raise ValueError(f"tbf: {key}: bad rate {v!r}") from None

    burst_key = next((k for k in ("burst", "buffer", "maxburst") if k in params), None)
    mtu_key = next((k for k in ("mtu", "minburst") if k in params), None)
    if "rate" not in params:
        raise ValueError('tbf: the "rate" parameter is mandatory.')
    if burst_key is None:
        raise ValueError('tbf: the "burst" parameter is mandatory.')
    r = rate("rate")
    burst = size(burst_key)
    peak = rate("peakrate") if "peakrate" in params else 0
    mtu = size(mtu_key) if mtu_key else 0
    if peak and not mtu:
        raise ValueError('tbf: when "peakrate" is specified, "mtu" must also be specified.')
    if ("limit" in params) == ("latency" in params):
        raise ValueError('tbf: either "limit" or "latency" is required (not both).')
    if "limit" in params:
        limit = size("limit")
    else:
        lat = params["latency"]
        try:
            lat_us = _nm.get_time(lat) if isinstance(lat, str) else int(round(float(lat) * 1e6))
        except (TypeError, ValueError):
            raise ValueError(f"tbf: latency: bad time {lat!r}") from None
        limit = limit_from_latency(r, burst, lat_us, peak, mtu)
    return TbfOpt(r, burst, limit, peak, mtu, size("mpu") if "mpu" in params else 0,
                  size("overhead") if "overhead" in params else 0)


class Tbf(Qdisc):
    """The tbf qdisc of one device, with its inner bfifo."""

    kind = "tbf"
    __slots__ = ("watchdog", "fifo", "rate", "peak", "buffer", "mtu", "max_size", "limit", "tokens",
                 "ptokens", "t_c")

    def __init__(self, dev: NetDevice, opt: TbfOpt | None = None, handle: str | None = None,
                 **params: Any) -> None:
        super().__init__(dev, **params)
        if opt is None:
            opt = tbf_opt_from_kwargs(params)
        elif params:
            raise ValueError("tbf: give either opt or keyword parameters")
        self.handle = handle or _nm.alloc_handle(dev)
        self.watchdog = _nm.QdiscWatchdog(self)
        self.fifo: deque[SkBuff] = deque()
        self.t_c = dev.ns.now  # tbf_init
        self.apply(opt)

    def change(self, **params: Any) -> None:
        self.apply(tbf_opt_from_kwargs(params))

    def apply(self, o: TbfOpt) -> None:
        """tbf_change."""
        if o.rate <= 0:
            raise oserror(errno.EINVAL, "tbf: rate must be positive")
        rate = PschedRatecfg(o.rate, o.overhead, o.mpu)
        buffer = rate.l2t_ns(o.burst)  # TCA_TBF_BURST
        max_size = o.burst
        peak: PschedRatecfg | None = None
        mtu = 0
        if o.peakrate:
            peak = PschedRatecfg(o.peakrate, o.overhead, o.mpu)
            if peak.rate_bytes_ps <= rate.rate_bytes_ps:
                raise oserror(errno.EINVAL, f"sch_tbf: peakrate {peak.rate_bytes_ps} is lower than or "
                                            f"equals to rate {rate.rate_bytes_ps} !")
            max_size = min(max_size, o.mtu)
            mtu = peak.l2t_ns(o.mtu)  # TCA_TBF_PBURST
        if not max_size:
            raise oserror(errno.EINVAL, "tbf: burst must not be 0")
        self.rate, self.peak, self.buffer, self.mtu = rate, peak, buffer, mtu
        self.max_size = max_size
        self.limit = o.limit  # the inner bfifo's byte limit (fifo_set_limit keeps queued packets)
        self.tokens = buffer
        self.ptokens = mtu

    # ------------------------------------------------------------ enqueue/dequeue
    def enqueue(self, skb: SkBuff) -> bool:
        """tbf_enqueue: too big for the bucket, or the bfifo is full -> drop."""
        length = skb.len
        st = self.stats
        if length > self.max_size or st.backlog + length > self.limit:
            return self.drop(skb)
        self.fifo.append(skb)
        st.backlog += length
        st.qlen += 1
        return True

    def dequeue(self) -> SkBuff | None:
        """tbf_dequeue: send the head when the bucket holds its cost, else wait for the tokens."""
        if not self.fifo:
            return None
        skb = self.fifo[0]
        length = skb.len
        now = self.dev.ns.now
        toks = min(now - self.t_c, self.buffer)
        ptoks = 0
        if self.peak is not None:
            ptoks = min(toks + self.ptokens, self.mtu) - self.peak.l2t_ns(length)
        toks = min(toks + self.tokens, self.buffer) - self.rate.l2t_ns(length)
        if toks >= 0 and ptoks >= 0:
            self.fifo.popleft()
            self.t_c = now
            self.tokens = toks
            self.ptokens = ptoks
            st = self.stats
            st.backlog -= length
            st.qlen -= 1
            return skb
        self.watchdog.schedule_ns(now + max(-toks, -ptoks))
        self.stats.overlimits += 1
        return None

    def reset(self) -> None:
        """tbf_reset: empty the fifo, full bucket."""
        ns = self.dev.ns
        for skb in self.fifo:
            ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
        self.fifo.clear()
        self.stats.qlen = self.stats.backlog = 0
        self.t_c = ns.now
        self.tokens = self.buffer
        self.ptokens = self.mtu
        self.watchdog.cancel()

    def destroy(self) -> None:
        self.reset()

    def drop(self, skb: SkBuff, reason: SkbDropReason = SkbDropReason.QDISC_DROP) -> bool:
        """qdisc_drop: a qdisc drop, not a device drop (``ip -s link`` does not count it)."""
        self.stats.drops += 1
        self.dev.ns.kfree_skb(skb, reason)
        return False

    # ------------------------------------------------------------ tc qdisc show
    def describe(self) -> str:
        """tbf_print_opt (iproute2 6.1) over what tbf_dump reports (times in psched ticks)."""
        rate = self.rate.rate_bytes_ps
        buffer_ticks = _nm.ns2ticks(self.buffer)
        burst = int(rate * _nm.tick2time(buffer_ticks) / _nm.TIME_UNITS_PER_SEC)
        out = f"rate {_nm.sprint_rate(rate)} burst {_nm.sprint_size(burst)} "
        latency = _nm.TIME_UNITS_PER_SEC * (self.limit / rate) - _nm.tick2time(buffer_ticks)
        if self.peak is not None:
            prate = self.peak.rate_bytes_ps
            mtu_ticks = _nm.ns2ticks(self.mtu)
            out += f"peakrate {_nm.sprint_rate(prate)} "
            if mtu_ticks:
                minburst = int(prate * _nm.tick2time(mtu_ticks) / _nm.TIME_UNITS_PER_SEC)
                out += f"minburst {_nm.sprint_size(minburst)} "
            latency = max(latency, _nm.TIME_UNITS_PER_SEC * (self.limit / prate) - _nm.tick2time(mtu_ticks))
        if latency >= 0.0:
            out += f"lat {_nm.sprint_time(latency)} "
        else:
            out += f"limit {_nm.sprint_size(self.limit)} "
        if self.rate.overhead:
            out += f"overhead {self.rate.overhead}"
        return out


register_qdisc("tbf", Tbf)
