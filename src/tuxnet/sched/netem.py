"""netem, the network emulator qdisc (net/sched/sch_netem.c), and the tc unit helpers it shares.

Guarantees, as sch_netem.c (Linux 6.x):
- Enqueue draws, in this order: duplicate, loss, corruption (byte, bit), then for the packet either
  the reorder test or its delay. Each probability is a u32 compared with a (possibly correlated)
  u32 draw (get_crandom), so "loss 10%" drops when ``rint(0.10 * 2**32-1) >= draw``.
- Loss: random (with optional correlation) or the 4-state (``loss state``) and Gilbert-Elliot
  (``loss gemodel``) models; a lost packet counts as a qdisc drop (reason NETEM_LOSS).
- Duplicate: a copy re-enters the root qdisc first, with its own draws, and is never duplicated again.
- Corrupt: the L4 checksum is completed first if it was left to "hardware" (skb_checksum_help), then
  one random bit of one random byte of the frame is flipped; the packet leaves with ``ip_summed`` NONE
  so the receiver verifies checksums in software and sees the damage.
- Delay: ``latency`` plus jitter, uniform in [latency - jitter, latency + jitter) unless a
  ``distribution`` table (normal, pareto) is given (tabledist). Packets wait in a tfifo ordered by
  time_to_send: a linear list for packets that come in order, a sorted tree for the ones jitter put
  earlier, so jitter without ``rate`` can reorder packets exactly as Linux does.
- Reorder with ``gap`` N: the first N-1 packets of each round are delayed; then each packet is sent at
  once (queued at the head, counted in ``requeues``) with the reorder probability.
- Rate: each packet is further delayed by (len + packet_overhead) * 8 / rate after the last queued
  packet's time_to_send (len as the qdisc sees it: the Ethernet frame without FCS).
- Limit: tail drop once ``limit`` packets are queued (QDISC_DROP).
- Release: ``dequeue`` returns nothing until the head is due and arms a watchdog timer for it
  (qdisc_watchdog_schedule_ns); the watchdog runs the qdisc again.
- Randomness comes from the qdisc's own generator, seeded from the lab seed, the namespace and the
  device (``make_rng(seed, "netem", ns, dev)``), or from ``seed`` when given (TCA_NETEM_PRNG_SEED).
- ``change`` keeps Linux's quirk: correlation, reorder, corrupt, rate and distribution settings stay
  as they were unless the new request names them.
- Statistics: Sent bytes/packets, drops, requeues, backlog and qlen as ``tc -s qdisc show`` prints.
- Qdisc drops are not device drops: like Linux, ``ip -s link`` TX dropped does not count them.

Not modelled: ``slot``, ``ecn``, custom ``distribution`` files; a netem never has a child qdisc.

The tc helpers (get_time, get_rate64, get_size, parse_percent, sprint_time, sprint_rate, sprint_size)
follow iproute2's lib/utils.c and tc/tc_util.c, including its time units: a psched tick is 64 ns and
tc converts microseconds to ticks with /proc/net/psched's 15.625 ticks per microsecond.
"""

from __future__ import annotations

import bisect
import math
import re
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any

from tuxnet.core.rand import make_rng
from tuxnet.core.trace import SkbDropReason
from tuxnet.sched import Qdisc, register_qdisc
from tuxnet.skb import Csum

if TYPE_CHECKING:
    import random

    from tuxnet.core.loop import Timer
    from tuxnet.drivers.netdevice import NetDevice
    from tuxnet.netns import Namespace
    from tuxnet.skb import SkBuff

NSEC_PER_SEC = 1_000_000_000
PSCHED_SHIFT = 6  # a psched tick is 64 ns (include/net/pkt_sched.h)
TICK_IN_USEC = 1000 / (1 << PSCHED_SHIFT)  # tc_core_init from /proc/net/psched: 15.625
TIME_UNITS_PER_SEC = 1_000_000  # tc's time unit is the microsecond
U32_MAX = 0xFFFFFFFF
INT_MAX = 0x7FFFFFFF
NETEM_DIST_SCALE = 8192
NETEM_DEFAULT_LIMIT = 1000

# ================================================================ tc units (iproute2)
_NUM = re.compile(r"\s*[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)")
_TIME_SCALE = {"s": 1e6, "sec": 1e6, "secs": 1e6, "ms": 1e3, "msec": 1e3, "msecs": 1e3,
               "us": 1.0, "usec": 1.0, "usecs": 1.0, "ns": 1e-3, "nsec": 1e-3, "nsecs": 1e-3}
_RATE_SCALE = {"bit": 1.0, "kibit": 1024.0, "kbit": 1000.0, "mibit": 1024.0 ** 2, "mbit": 1e6,
               "gibit": 1024.0 ** 3, "gbit": 1e9, "tibit": 1024.0 ** 4, "tbit": 1e12,
               "bps": 8.0, "kibps": 8.0 * 1024, "kbps": 8000.0, "mibps": 8.0 * 1024 ** 2, "mbps": 8e6,
               "gibps": 8.0 * 1024 ** 3, "gbps": 8e9, "tibps": 8.0 * 1024 ** 4, "tbps": 8e12}
_SIZE_SCALE = {"kb": 1024, "k": 1024, "gb": 1024 ** 3, "g": 1024 ** 3, "gbit": 1024 ** 3 // 8,
               "mb": 1024 ** 2, "m": 1024 ** 2, "mbit": 1024 ** 2 // 8, "kbit": 1024 // 8, "b": 1}


def strtod(text: str) -> tuple[float, str]:
    """C strtod on a decimal number: (value, rest). ValueError when ``text`` starts with no number."""
    m = _NUM.match(text)
    if m is None:
        raise ValueError(f"not a number: {text!r}")
    return float(m.group()), text[m.end():]


def get_time(text: str) -> int:
    """iproute2 get_time: microseconds, a bare number being microseconds (truncated to an integer)."""
    t, rest = strtod(text)
    if rest:
        scale = _TIME_SCALE.get(rest.lower())
        if scale is None:
            raise ValueError(f"bad time {text!r}")
        t *= scale
    if t < 0 or t > U32_MAX:
        raise ValueError(f"bad time {text!r}")
    return int(t)


def get_rate64(text: str) -> int:
    """iproute2 get_rate64: bytes per second from "100mbit", "1gbit", "8000" (bits/s) ..."""
    bps, rest = strtod(text)
    if rest:
        scale = _RATE_SCALE.get(rest.lower())
        if scale is None:
            raise ValueError(f"bad rate {text!r}")
        bps *= scale
    if bps < 0:
        raise ValueError(f"bad rate {text!r}")
    return int(bps / 8)


def get_size(text: str) -> int:
    """iproute2 get_size: bytes from "1514", "10kb" (KiB), "32kbit" (4096 bytes) ..."""
    sz, rest = strtod(text)
    if rest:
        scale = _SIZE_SCALE.get(rest.lower())
        if scale is None:
            raise ValueError(f"bad size {text!r}")
        sz *= scale
    if sz < 0 or sz > U32_MAX:
        raise ValueError(f"bad size {text!r}")
    return int(sz)


def parse_percent(text: str) -> float:
    """tc parse_percent: "1%" or "1" -> 0.01; ValueError outside [0, 100] or with other suffixes."""
    v, rest = strtod(text)
    v /= 100.0
    if v > 1.0 or v < 0.0 or (rest and rest != "%"):
        raise ValueError(f"bad percentage {text!r}")
    return v


def percent_to_u32(fraction: float) -> int:
    """set_percent: the fraction of U32_MAX the kernel compares draws against (rint)."""
    return int(round(fraction * U32_MAX))


def time2tick(usec: int) -> int:
    """tc_core_time2tick."""
    return int(usec * TICK_IN_USEC)


def tick2time(ticks: int) -> int:
    """tc_core_tick2time: ticks to whole microseconds."""
    return int(ticks / TICK_IN_USEC)


def ns2ticks(ns: int) -> int:
    """PSCHED_NS2TICKS."""
    return ns >> PSCHED_SHIFT


def sprint_time(usec: float) -> str:
    """iproute2 print_time (``time`` a __u32 of microseconds)."""
    t = int(usec) & U32_MAX
    if t >= TIME_UNITS_PER_SEC:
        return f"{t / TIME_UNITS_PER_SEC:.3g}s"
    if t >= TIME_UNITS_PER_SEC // 1000:
        return f"{t / (TIME_UNITS_PER_SEC // 1000):.3g}ms"
    return f"{t}us"


def sprint_ticks(ticks: int) -> str:
    return sprint_time(tick2time(ticks))


def sprint_rate(bytes_per_sec: int) -> str:
    """iproute2 print_rate (SI units): 1250000 B/s -> "10Mbit", 187500 -> "1500Kbit"."""
    rate = bytes_per_sec << 3
    units = ("", "K", "M", "G", "T")
    i = 0
    while i < len(units) - 1:
        if rate < 1000:
            break
        if rate % 1000 and rate < 1000 * 1000:
            break
        rate //= 1000
        i += 1
    return f"{rate}{units[i]}bit"


def sprint_size(size: int) -> str:
    """iproute2 print_size: "10Kb", "1Mb" when within rounding, else "1514b"."""
    sz = int(size) & U32_MAX
    if sz >= 1024 * 1024 and abs(1024 * 1024 * round(sz / (1024 * 1024)) - sz) < 1024:
        return f"{round(sz / (1024 * 1024)):g}Mb"
    if sz >= 1024 and abs(1024 * round(sz / 1024) - sz) < 16:
        return f"{round(sz / 1024):g}Kb"
    return f"{sz}b"


def sprint_percent(value: int) -> str:
    """netem's PRINT_PERCENT: a u32 probability as "%g%%"."""
    return f"{100.0 * value / U32_MAX:g}%"


# ================================================================ shared qdisc plumbing
_AUTOHANDLE: weakref.WeakKeyDictionary[Namespace, int] = weakref.WeakKeyDictionary()


def alloc_handle(dev: NetDevice) -> str:
    """qdisc_alloc_handle: "8001:", "8002:", ... Linux counts across the whole kernel; tuxnet counts
    per namespace so that one host's commands do not change another host's output."""
    n = _AUTOHANDLE.get(dev.ns, 0x8000) + 1
    if n > 0xFFFF:
        n = 0x8001
    _AUTOHANDLE[dev.ns] = n
    return f"{n:x}:"


class QdiscWatchdog:
    """qdisc_watchdog: a timer that runs the qdisc again when its head packet becomes due."""

    __slots__ = ("qdisc", "timer")

    def __init__(self, qdisc: Qdisc) -> None:
        self.qdisc = qdisc
        self.timer: Timer | None = None

    def schedule_ns(self, when: int) -> None:
        t = self.timer
        if t is not None and not t.cancelled():
            if t.when == when:
                return
            t.cancel()
        self.timer = self.qdisc.dev.ns.loop.call_at_ns(when, self._fire)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _fire(self) -> None:
        self.timer = None
        q = self.qdisc
        if q.dev.qdisc is q:
            q.run()


class CrndState:
    """struct crndstate: the state of one correlated random stream."""

    __slots__ = ("last", "rho")

    def __init__(self, rho: int = 0, last: int = 0) -> None:
        self.rho = rho
        self.last = last


# ================================================================ distribution tables
_DIST_CACHE: dict[str, tuple[int, ...]] = {}


def _normal_raw() -> list[float]:
    """iproute2 netem/normal.c's inverse normal CDF over 16384 steps (the last x on a 0.00005 grid)."""
    size = 16384
    table = [0.0] * (size + 1)
    x = -10.0
    sqrt2 = math.sqrt(2.0)
    while x < 10.05:
        table[round(size * (0.5 + 0.5 * math.erf(x / sqrt2)))] = x
        x += 0.00005
    return table


def _pareto_value(i: int) -> int:
    """netem/pareto.c (a = 3) at 1 - i/65536."""
    v = 1.0 / math.pow(i / 65536, 1.0 / 3.0)
    return round(min((v - 1.5) * (4.0 / 3.0) * NETEM_DIST_SCALE, 32767.0))


def _clamp16(v: int) -> int:
    return max(-32768, min(32767, v))


def _normal_table() -> tuple[int, ...]:
    """normal.dist: 4096 points of the inverse normal CDF, scaled by NETEM_DIST_SCALE."""
    raw = _normal_raw()
    return tuple(_clamp16(round(raw[i] * NETEM_DIST_SCALE)) for i in range(0, 16384, 4))


def _pareto_table() -> tuple[int, ...]:
    """pareto.dist."""
    return tuple(_pareto_value(i) for i in range(65536, 0, -16))


def _paretonormal_table() -> tuple[int, ...]:
    """paretonormal.dist: (normal + 3 * pareto) / 4, C integer division."""
    raw = _normal_raw()
    return tuple(_clamp16(_cdiv(round(raw[i] * NETEM_DIST_SCALE) + 3 * _pareto_value(65536 - 4 * i), 4))
                 for i in range(0, 16384, 4))


def dist_table(name: str) -> tuple[int, ...]:
    """The table ``distribution NAME`` loads, computed as iproute2's generators compute the .dist
    files (normal, pareto, paretonormal); ValueError worded like tc for other names."""
    if name not in _DIST_CACHE:
        makers = {"normal": _normal_table, "pareto": _pareto_table, "paretonormal": _paretonormal_table}
        if name not in makers:
            raise ValueError(f"No distribution data for {name} (/usr/lib/tc//{name}.dist: "
                             "No such file or directory)")
        _DIST_CACHE[name] = makers[name]()
    return _DIST_CACHE[name]


def _cdiv(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


# ================================================================ the qdisc
CLG_RANDOM, CLG_4_STATES, CLG_GILB_ELL = 0, 1, 2
TX_IN_GAP_PERIOD, TX_IN_BURST_PERIOD, LOST_IN_GAP_PERIOD, LOST_IN_BURST_PERIOD = 1, 2, 3, 4
GOOD_STATE, BAD_STATE = 1, 2


class NetemOpt:
    """What a netem request carries (struct tc_netem_qopt plus the optional attributes; None = absent)."""

    __slots__ = ("limit", "latency_ns", "jitter_ns", "loss", "gap", "duplicate", "corr", "reorder",
                 "corrupt", "rate", "dist", "loss_model", "seed", "ecn")

    def __init__(self) -> None:
        self.limit = NETEM_DEFAULT_LIMIT
        self.latency_ns = 0
        self.jitter_ns = 0
        self.loss = 0
        self.gap = 0
        self.duplicate = 0
        self.corr: tuple[int, int, int] | None = None  # delay, loss, duplicate correlation
        self.reorder: tuple[int, int] | None = None  # probability, correlation
        self.corrupt: tuple[int, int] | None = None
        self.rate: tuple[int, int, int, int] | None = None  # bytes/s, packet/cell overhead, cell size
        self.dist: tuple[int, ...] | None = None
        self.loss_model: tuple[Any, ...] | None = None  # ("gi", p13, p31, p32, p23, p14) | ("ge", ...)
        self.seed: int | None = None
        self.ecn: bool | None = None  # TCA_NETEM_ECN: mark CE instead of dropping ECN-capable packets


def _kw_time_ns(key: str, v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError(f"netem: {key}: not a time: {v!r}")
    if isinstance(v, (int, float)):
        ns = round(v * NSEC_PER_SEC)
    else:
        t, rest = strtod(str(v))
        scale = _TIME_SCALE.get(rest.lower()) if rest else 1.0
        if scale is None:
            raise ValueError(f"netem: {key}: bad time {v!r} (use seconds or e.g. \"10ms\")")
        ns = round(t * scale * 1000)
    if ns < 0:
        raise ValueError(f"netem: {key}: negative time {v!r}")
    return ns


def _kw_percent(key: str, v: Any) -> int:
    try:
        frac = parse_percent(str(v)) if isinstance(v, str) else float(v) / 100.0
    except ValueError:
        raise ValueError(f"netem: {key}: bad percentage {v!r}") from None
    if not 0.0 <= frac <= 1.0:
        raise ValueError(f"netem: {key}: percentage {v!r} outside 0..100")
    return percent_to_u32(frac)


def _kw_rate(key: str, v: Any) -> int:
    try:
        rate = get_rate64(v) if isinstance(v, str) else int(v) // 8
    except ValueError:
        raise ValueError(f"netem: {key}: bad rate {v!r} (use bits/s or e.g. \"100mbit\")") from None
    if rate <= 0:
        raise ValueError(f"netem: {key}: rate must be positive")
    return rate


def _kw_int(key: str, v: Any) -> int:
    try:
        n = get_size(v) if isinstance(v, str) else int(v)
    except (TypeError, ValueError):
        raise ValueError(f"netem: {key}: not a number: {v!r}") from None
    return n


NETEM_KEYS = ("limit", "delay", "latency", "jitter", "delay_correlation", "distribution", "loss",
              "loss_correlation", "duplicate", "duplicate_correlation", "reorder", "reorder_correlation",
              "gap", "corrupt", "corrupt_correlation", "rate", "packet_overhead", "cell_size",
              "cell_overhead", "seed", "ecn")
_CORR_KEYS = ("delay_correlation", "loss_correlation", "duplicate_correlation")


def netem_opt_from_kwargs(params: dict[str, Any]) -> NetemOpt:
    """Keyword parameters (the lab's link impairments) as a netem request, with tc's rules."""
    for key in params:
        if key not in NETEM_KEYS:
            raise ValueError(f"netem: unknown parameter {key!r} (known: {', '.join(NETEM_KEYS)})")
    o = NetemOpt()
    g = params.get
    if g("limit") is not None:
        o.limit = _kw_int("limit", g("limit"))
        if not 0 <= o.limit <= U32_MAX:
            raise ValueError(f"netem: limit: {o.limit} out of range")
    delay = g("delay", g("latency"))
    if delay is not None:
        o.latency_ns = _kw_time_ns("delay", delay)
    if g("jitter") is not None:
        o.jitter_ns = _kw_time_ns("jitter", g("jitter"))
    if any(g(k) is not None for k in _CORR_KEYS):
        d, lo, du = (_kw_percent(k, g(k)) if g(k) is not None else 0 for k in _CORR_KEYS)
        o.corr = (d, lo, du)
    if g("loss") is not None:
        o.loss = _kw_percent("loss", g("loss"))
    if g("duplicate") is not None:
        o.duplicate = _kw_percent("duplicate", g("duplicate"))
    for dep, base in (("corrupt_correlation", "corrupt"), ("reorder_correlation", "reorder")):
        if g(dep) is not None and g(base) is None:
            raise ValueError(f"netem: {dep} needs {base}")
    if g("corrupt") is not None:
        c = g("corrupt_correlation")
        o.corrupt = (_kw_percent("corrupt", g("corrupt")), _kw_percent("corrupt_correlation", c) if c else 0)
    if g("gap") is not None:
        o.gap = _kw_int("gap", g("gap"))
    if g("reorder") is not None:
        c = g("reorder_correlation")
        o.reorder = (_kw_percent("reorder", g("reorder")), _kw_percent("reorder_correlation", c) if c else 0)
    if o.reorder is not None and o.reorder[0]:
        if o.latency_ns == 0:
            raise ValueError("netem: reordering not possible without specifying some delay")
        if o.gap == 0:
            o.gap = 1
    elif o.gap > 0:
        raise ValueError("netem: gap specified without reorder probability")
    if g("distribution") is not None:
        name = str(g("distribution"))
        if name != "uniform":  # uniform is netem's built-in default (no table)
            o.dist = dist_table(name)
        if o.latency_ns == 0 or o.jitter_ns == 0:
            raise ValueError("netem: distribution specified but no latency and jitter values")
    if g("rate") is not None:
        o.rate = (_kw_rate("rate", g("rate")), _kw_int("packet_overhead", g("packet_overhead", 0)),
                  _kw_int("cell_size", g("cell_size", 0)), _kw_int("cell_overhead", g("cell_overhead", 0)))
    elif any(g(k) is not None for k in ("packet_overhead", "cell_size", "cell_overhead")):
        raise ValueError("netem: packet_overhead/cell_size/cell_overhead need a rate")
    if g("seed") is not None:
        o.seed = int(g("seed"))
    if g("ecn"):
        if not o.loss:
            raise ValueError("netem: ecn requested without loss model")
        o.ecn = True
    return o


class Netem(Qdisc):
    """The netem qdisc of one device."""

    kind = "netem"
    __slots__ = ("rng", "watchdog", "q", "t_list", "t_root", "_seq", "latency", "jitter", "limit", "loss",
                 "gap", "counter", "duplicate", "reorder", "corrupt", "delay_cor", "loss_cor", "dup_cor",
                 "reorder_cor", "corrupt_cor", "delay_dist", "rate", "packet_overhead", "cell_size",
                 "cell_overhead", "loss_model", "clg", "seed", "ecn")

    def __init__(self, dev: NetDevice, opt: NetemOpt | None = None, handle: str | None = None,
                 **params: Any) -> None:
        super().__init__(dev, **params)
        if opt is None:
            opt = netem_opt_from_kwargs(params)
        elif params:
            raise ValueError("netem: give either opt or keyword parameters")
        self.handle = handle or alloc_handle(dev)
        self.rng: random.Random = make_rng(dev.ns.seed, "netem", dev.ns.name, dev.name)
        self.seed: int | None = None
        self.watchdog = QdiscWatchdog(self)
        self.q: deque[tuple[int, SkBuff]] = deque()  # sch->q: reordered packets, sent first
        self.t_list: deque[tuple[int, SkBuff]] = deque()  # t_head..t_tail: packets in time order
        self.t_root: list[tuple[int, int, SkBuff]] = []  # the rbtree: (time_to_send, insertion, skb)
        self._seq = 0
        self.latency = self.jitter = self.limit = self.loss = self.gap = self.counter = 0
        self.duplicate = self.reorder = self.corrupt = 0
        self.delay_cor, self.loss_cor, self.dup_cor = CrndState(), CrndState(), CrndState()
        self.reorder_cor, self.corrupt_cor = CrndState(), CrndState()
        self.delay_dist: tuple[int, ...] | None = None
        self.rate = self.packet_overhead = self.cell_size = self.cell_overhead = 0
        self.loss_model = CLG_RANDOM
        self.clg: list[int] = [0, 0, 0, 0, 0, 0]  # state, a1..a5
        self.ecn = False
        self.apply(opt)

    # ------------------------------------------------------------ configuration (netem_change)
    def change(self, **params: Any) -> None:
        """``tc qdisc change ... netem`` with keyword parameters."""
        self.apply(netem_opt_from_kwargs(params))

    def apply(self, o: NetemOpt) -> None:
        """netem_change: absent optional attributes keep their old values, as in Linux."""
        if o.loss_model is not None:
            kind, *probs = o.loss_model
            self.loss_model = CLG_4_STATES if kind == "gi" else CLG_GILB_ELL
            if kind == "gi":
                p13, p31, p32, p23, p14 = probs
                self.clg = [TX_IN_GAP_PERIOD, p13, p31, p32, p14, p23]
            else:
                p, r, h, k1 = probs
                self.clg = [GOOD_STATE, p, r, h, k1, 0]
        else:
            self.loss_model = CLG_RANDOM
        if o.dist is not None:
            self.delay_dist = o.dist
        self.limit = o.limit
        self.latency = o.latency_ns
        self.jitter = min(abs(o.jitter_ns), INT_MAX)
        self.gap = o.gap
        self.counter = 0
        self.loss = o.loss
        self.duplicate = o.duplicate
        if self.gap:
            self.reorder = U32_MAX  # "if gap is set, need to assume 100% probability"
        if o.corr is not None:
            self._init_crandom(self.delay_cor, o.corr[0])
            self._init_crandom(self.loss_cor, o.corr[1])
            self._init_crandom(self.dup_cor, o.corr[2])
        if o.reorder is not None:
            self.reorder = o.reorder[0]
            self._init_crandom(self.reorder_cor, o.reorder[1])
        if o.corrupt is not None:
            self.corrupt = o.corrupt[0]
            self._init_crandom(self.corrupt_cor, o.corrupt[1])
        if o.rate is not None:
            self.rate, self.packet_overhead, self.cell_size, self.cell_overhead = o.rate
        if o.ecn is not None:
            self.ecn = o.ecn
        if o.seed is not None:
            self.seed = o.seed
            self.rng.seed(o.seed)

    # ------------------------------------------------------------ randomness
    def _u32(self) -> int:
        return self.rng.getrandbits(32)

    def _init_crandom(self, state: CrndState, rho: int) -> None:
        state.rho = rho
        state.last = self._u32()

    def _crandom(self, state: CrndState) -> int:
        """get_crandom: the next draw leans towards the last one by rho/2**32."""
        if state.rho == 0:
            return self._u32()
        value = self._u32()
        rho = state.rho + 1
        answer = (value * ((1 << 32) - rho) + state.last * rho) >> 32
        state.last = answer
        return answer

    def _loss_event(self) -> bool:
        if self.loss_model == CLG_RANDOM:
            return bool(self.loss) and self.loss >= self._crandom(self.loss_cor)
        clg = self.clg
        rnd = self._u32()
        if self.loss_model == CLG_4_STATES:  # loss_4state; clg = state, p13, p31, p32, p14, p23
            st, a1, a2, a3, a4, a5 = clg
            if st == TX_IN_GAP_PERIOD:
                if rnd < a4:
                    clg[0] = LOST_IN_GAP_PERIOD
                    return True
                if rnd < a1 + a4:
                    clg[0] = LOST_IN_BURST_PERIOD
                    return True
            elif st == TX_IN_BURST_PERIOD:
                if rnd < a5:
                    clg[0] = LOST_IN_BURST_PERIOD
                    return True
            elif st == LOST_IN_BURST_PERIOD:
                if rnd < a3:
                    clg[0] = TX_IN_BURST_PERIOD
                elif rnd < a2 + a3:
                    clg[0] = TX_IN_GAP_PERIOD
                else:
                    return True
            else:
                clg[0] = TX_IN_GAP_PERIOD
            return False
        # loss_gilb_ell; clg = state, p, r, h, k1
        if clg[0] == GOOD_STATE:
            if rnd < clg[1]:
                clg[0] = BAD_STATE
            return self._u32() < clg[4]
        if rnd < clg[2]:
            clg[0] = GOOD_STATE
        return self._u32() > clg[3]

    def _tabledist(self, mu: int, sigma: int, state: CrndState) -> int:
        """tabledist: mu +- sigma, uniform or shaped by the distribution table."""
        if sigma == 0:
            return mu
        rnd = self._crandom(state)
        dist = self.delay_dist
        if dist is None:
            return ((rnd % (2 * sigma)) + mu) - sigma
        t = dist[rnd % len(dist)]
        x = (sigma % NETEM_DIST_SCALE) * t
        x += NETEM_DIST_SCALE // 2 if x >= 0 else -(NETEM_DIST_SCALE // 2)
        return _cdiv(x, NETEM_DIST_SCALE) + (sigma // NETEM_DIST_SCALE) * t + mu

    def packet_time_ns(self, length: int) -> int:
        """packet_time_ns: serialisation time of ``length`` bytes at ``rate``."""
        length += self.packet_overhead
        if self.cell_size:
            cells = length // self.cell_size
            if length > cells * self.cell_size:
                cells += 1
            length = cells * (self.cell_size + self.cell_overhead)
        return length * NSEC_PER_SEC // self.rate

    # ------------------------------------------------------------ enqueue
    def enqueue(self, skb: SkBuff) -> bool:
        return self._enqueue(skb, False)

    def _enqueue(self, skb: SkBuff, is_dup: bool) -> bool:
        """netem_enqueue."""
        ns = self.dev.ns
        count = 1
        if self.duplicate and not is_dup and self.duplicate >= self._crandom(self.dup_cor):
            count += 1
        if self._loss_event():
            if self.ecn and inet_ecn_set_ce(skb):
                self.stats.drops += 1  # "mark packet": counted as a drop, sent on with CE
            else:
                count -= 1
        if count == 0:
            self.stats.drops += 1
            ns.kfree_skb(skb, SkbDropReason.NETEM_LOSS)
            return False
        if self.latency or self.jitter or self.rate:
            skb.sk = None  # skb_orphan_partial: the sender's socket does not wait out the link delay
        skb2 = skb.copy() if count > 1 else None
        if self.corrupt and self.corrupt >= self._crandom(self.corrupt_cor):
            if skb.ip_summed == Csum.PARTIAL:
                skb_checksum_help(skb)
            if skb.len:
                skb.buf[skb.data + self.rng.randrange(skb.len)] ^= 1 << self.rng.randrange(8)
            skb.ip_summed = Csum.NONE
        st = self.stats
        if st.qlen >= self.limit:
            st.drops += 1
            ns.kfree_skb(skb, SkbDropReason.QDISC_DROP)
            if skb2 is not None:
                ns.kfree_skb(skb2, SkbDropReason.QDISC_DROP)  # __qdisc_drop: not counted again
            return False
        if skb2 is not None:
            self._enqueue(skb2, True)  # rootq->enqueue: a netem is always the root in tuxnet
        st.backlog += skb.len
        now = ns.now
        if self.gap == 0 or self.counter < self.gap - 1 or self.reorder < self._crandom(self.reorder_cor):
            delay = self._tabledist(self.latency, self.jitter, self.delay_cor)
            if self.rate:
                last: int | None = self.q[-1][0] if self.q else None
                if self.t_root and (last is None or self.t_root[-1][0] > last):
                    last = self.t_root[-1][0]
                if self.t_list and (last is None or self.t_list[-1][0] > last):
                    last = self.t_list[-1][0]
                if last is not None:
                    # the last queued packet is the reference point: what it still waits is a bonus
                    delay = max(0, delay - (last - now))
                    now = last
                delay += self.packet_time_ns(skb.len)
            tts = now + delay
            self.counter += 1
            if not self.t_list or tts >= self.t_list[-1][0]:
                self.t_list.append((tts, skb))
            else:
                self._seq += 1
                bisect.insort(self.t_root, (tts, self._seq, skb), key=lambda e: (e[0], e[1]))
        else:
            # reorder: this one goes to the head of the queue, to be sent at once
            self.counter = 0
            self.q.appendleft((now, skb))
            st.requeues += 1
        st.qlen += 1
        return True

    # ------------------------------------------------------------ dequeue
    def dequeue(self) -> SkBuff | None:
        """netem_dequeue: the reordered packets first, then the tfifo head once it is due."""
        st = self.stats
        if self.q:
            _, skb = self.q.popleft()
            st.backlog -= skb.len
            st.qlen -= 1
            return skb
        root, lst = self.t_root, self.t_list
        if root and (not lst or root[0][0] < lst[0][0]):
            tts, from_root = root[0][0], True
        elif lst:
            tts, from_root = lst[0][0], False
        else:
            return None
        if tts <= self.dev.ns.now:
            skb = root.pop(0)[2] if from_root else lst.popleft()[1]
            skb.dev = self.dev
            st.backlog -= skb.len
            st.qlen -= 1
            return skb
        self.watchdog.schedule_ns(tts)
        return None

    def reset(self) -> None:
        """netem_reset (device down, qdisc replaced): queued packets are freed."""
        ns = self.dev.ns
        for _, skb in self.q:
            ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
        for _, skb in self.t_list:
            ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
        for _, _, skb in self.t_root:
            ns.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED)
        self.q.clear()
        self.t_list.clear()
        self.t_root.clear()
        self.stats.qlen = self.stats.backlog = 0
        self.watchdog.cancel()

    def destroy(self) -> None:
        self.reset()

    def drop(self, skb: SkBuff, reason: SkbDropReason = SkbDropReason.QDISC_DROP) -> bool:
        """qdisc_drop: a qdisc drop, not a device drop."""
        self.stats.drops += 1
        self.dev.ns.kfree_skb(skb, reason)
        return False

    # ------------------------------------------------------------ tc qdisc show
    def describe(self) -> str:
        """netem_print_opt (iproute2 6.1): "limit 1000 delay 10ms  1ms loss 1%"."""
        parts = [f"limit {self.limit}"]
        latency, jitter = ns2ticks(self.latency), ns2ticks(self.jitter)
        if latency:
            parts.append(f" delay {sprint_ticks(latency)}")
            if jitter:
                parts.append(f"  {sprint_ticks(jitter)}")
                if self.delay_cor.rho:
                    parts.append(f" {sprint_percent(self.delay_cor.rho)}")
        if self.loss:
            parts.append(f" loss {sprint_percent(self.loss)}")
            if self.loss_cor.rho:
                parts.append(f" {sprint_percent(self.loss_cor.rho)}")
        if self.loss_model == CLG_4_STATES:
            _, p13, p31, p32, p14, p23 = self.clg
            parts.append(f" loss state p13 {sprint_percent(p13)} p31 {sprint_percent(p31)} p32 "
                         f"{sprint_percent(p32)} p23 {sprint_percent(p23)} p14 {sprint_percent(p14)}")
        elif self.loss_model == CLG_GILB_ELL:
            _, p, r, h, k1, _ = self.clg
            parts.append(f" loss gemodel p {sprint_percent(p)} r {sprint_percent(r)} 1-h "
                         f"{sprint_percent(U32_MAX - h)} 1-k {sprint_percent(k1)}")
        if self.duplicate:
            parts.append(f" duplicate {sprint_percent(self.duplicate)}")
            if self.dup_cor.rho:
                parts.append(f" {sprint_percent(self.dup_cor.rho)}")
        if self.reorder:
            parts.append(f" reorder {sprint_percent(self.reorder)}")
            if self.reorder_cor.rho:
                parts.append(f" {sprint_percent(self.reorder_cor.rho)}")
        if self.corrupt:
            parts.append(f" corrupt {sprint_percent(self.corrupt)}")
            if self.corrupt_cor.rho:
                parts.append(f" {sprint_percent(self.corrupt_cor.rho)}")
        if self.rate:
            parts.append(f" rate {sprint_rate(self.rate)}")
            if self.packet_overhead:
                parts.append(f" packetoverhead {self.packet_overhead}")
            if self.cell_size:
                parts.append(f" cellsize {self.cell_size}")
            if self.cell_overhead:
                parts.append(f" celloverhead {self.cell_overhead}")
        if self.ecn:
            parts.append(" ecn ")
        if self.gap:
            parts.append(f" gap {self.gap}")
        return "".join(parts)


def inet_ecn_set_ce(skb: SkBuff) -> bool:
    """INET_ECN_set_ce on an IPv4 frame: ECT(0)/ECT(1) become CE (header checksum patched, RFC 1624);
    True when the packet now carries CE, False for Not-ECT and non-IPv4 packets."""
    from tuxnet.wire.checksum import csum_replace2

    buf, d = skb.buf, skb.data
    if skb.tail - d < 34 or buf[d + 12:d + 14] != b"\x08\x00":
        return False
    ip = d + 14
    ecn = buf[ip + 1] & 3
    if ecn == 0:
        return False
    if ecn == 3:
        return True
    old = (buf[ip] << 8) | buf[ip + 1]
    buf[ip + 1] |= 3
    check = int.from_bytes(buf[ip + 10:ip + 12], "big")
    buf[ip + 10:ip + 12] = csum_replace2(check, old, (buf[ip] << 8) | buf[ip + 1]).to_bytes(2, "big")
    return True


def skb_checksum_help(skb: SkBuff) -> None:
    """skb_checksum_help for a frame whose IPv4 TCP/UDP/ICMP checksum was left to the "hardware"."""
    from tuxnet.wire.checksum import csum_fold, csum_partial, pseudo_header_sum

    buf, d, tail = skb.buf, skb.data, skb.tail
    if tail - d < 34 or buf[d + 12:d + 14] != b"\x08\x00":
        return
    ip = d + 14
    ihl = (buf[ip] & 0x0F) * 4
    tot_len = int.from_bytes(buf[ip + 2:ip + 4], "big")
    if buf[ip + 6] & 0x3F or buf[ip + 7]:  # a fragment after the first carries no L4 header
        return
    proto = buf[ip + 9]
    l4, end = ip + ihl, min(ip + tot_len, tail)
    field = {6: 16, 17: 6, 1: 2}.get(proto)
    if field is None or end - l4 < field + 2:
        return
    buf[l4 + field:l4 + field + 2] = b"\x00\x00"
    seg = memoryview(buf)[l4:end]
    if proto == 1:
        check = csum_fold(csum_partial(seg))
    else:
        src = int.from_bytes(buf[ip + 12:ip + 16], "big")
        dst = int.from_bytes(buf[ip + 16:ip + 20], "big")
        check = csum_fold(csum_partial(seg, pseudo_header_sum(src, dst, proto, end - l4)))
        if proto == 17 and check == 0:
            check = 0xFFFF
    del seg
    buf[l4 + field:l4 + field + 2] = check.to_bytes(2, "big")
    skb.ip_summed = Csum.NONE


register_qdisc("netem", Netem)
