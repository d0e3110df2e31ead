"""Queueing disciplines (net/sched/): the registry, ``noqueue`` and ``pfifo_fast``.

A qdisc sits on a device's transmit side. ``enqueue`` accepts or drops (reason QDISC_DROP, counted in
the qdisc's and the device's stats); ``run`` (qdisc_run / __qdisc_run) dequeues while the qdisc has a
packet ready and hands it to ``dev.hard_start_xmit``. A time-based qdisc (netem, tbf) that holds a
packet until later arms a watchdog timer (qdisc_watchdog_schedule_ns) that calls ``run`` again.

Qdiscs register by name (``register_qdisc``), like ``register_qdisc(&netem_qdisc_ops)``; duplicates
and unknown kinds are rejected.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.core.trace import SkbDropReason

if TYPE_CHECKING:
    from tuxnet.drivers.netdevice import NetDevice
    from tuxnet.skb import SkBuff


class QdiscStats:
    __slots__ = ("bytes", "packets", "drops", "overlimits", "requeues", "backlog", "qlen")

    def __init__(self) -> None:
        self.bytes = self.packets = self.drops = self.overlimits = self.requeues = 0
        self.backlog = self.qlen = 0


class Qdisc:
    """Base class. ``noqueue`` devices transmit straight from dev_queue_xmit."""

    kind = ""
    noqueue = False

    def __init__(self, dev: NetDevice, **params: Any) -> None:
        self.dev = dev
        self.stats = QdiscStats()
        self.handle = "0:"
        self.parent = "root"
        self.params = params

    # subclasses implement these three
    def enqueue(self, skb: SkBuff) -> bool:
        raise NotImplementedError

    def dequeue(self) -> SkBuff | None:
        raise NotImplementedError

    def reset(self) -> None:
        pass

    def drop(self, skb: SkBuff, reason: SkbDropReason = SkbDropReason.QDISC_DROP) -> bool:
        self.stats.drops += 1
        self.dev.stats.tx_dropped += 1
        self.dev.ns.kfree_skb(skb, reason)
        return False

    def run(self) -> None:
        """__qdisc_run: send every packet the qdisc will release now."""
        dev = self.dev
        while True:
            skb = self.dequeue()
            if skb is None:
                return
            st = self.stats
            st.packets += 1
            st.bytes += skb.len
            if not dev.flags & 1:  # IFF_UP dropped meanwhile
                dev.ns.kfree_skb(skb, SkbDropReason.DEV_READY)
                continue
            dev.hard_start_xmit(skb)

    def describe(self) -> str:
        """The parameter part of ``tc qdisc show`` for this qdisc."""
        return ""


class NoQueue(Qdisc):
    kind = "noqueue"
    noqueue = True

    def enqueue(self, skb: SkBuff) -> bool:  # never called: dev_queue_xmit transmits directly
        self.dev.hard_start_xmit(skb)
        return True

    def dequeue(self) -> SkBuff | None:
        return None


# pfifo_fast's priomap (net/sched/sch_generic.c sch_prio2band)
PRIO2BAND = (1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)


class PfifoFast(Qdisc):
    """Three FIFO bands chosen by skb->priority; the limit is the device's txqueuelen (tail drop)."""

    kind = "pfifo_fast"

    def __init__(self, dev: NetDevice, **params: Any) -> None:
        super().__init__(dev, **params)
        self.bands: tuple[deque[SkBuff], deque[SkBuff], deque[SkBuff]] = (deque(), deque(), deque())
        self.limit: int | None = params.get("limit")

    def enqueue(self, skb: SkBuff) -> bool:
        limit = self.limit if self.limit is not None else max(self.dev.txqueuelen, 1)
        if self.stats.qlen >= limit:
            return self.drop(skb)
        self.bands[PRIO2BAND[skb.priority & 15]].append(skb)
        self.stats.qlen += 1
        self.stats.backlog += skb.len
        return True

    def dequeue(self) -> SkBuff | None:
        for band in self.bands:
            if band:
                skb = band.popleft()
                self.stats.qlen -= 1
                self.stats.backlog -= skb.len
                return skb
        return None

    def reset(self) -> None:
        for b in self.bands:
            b.clear()
        self.stats.qlen = self.stats.backlog = 0

    def describe(self) -> str:
        return "bands 3 priomap " + " ".join(str(b) for b in PRIO2BAND)


QDISCS: dict[str, Callable[..., Qdisc]] = {}


def register_qdisc(kind: str, factory: Callable[..., Qdisc]) -> None:
    if kind in QDISCS:
        raise ValueError(f"qdisc {kind!r} is already registered")
    if not callable(factory):
        raise TypeError(f"qdisc {kind!r}: factory is not callable")
    QDISCS[kind] = factory


def create_qdisc(dev: NetDevice, kind: str, **params: Any) -> Qdisc:
    try:
        factory = QDISCS[kind]
    except KeyError:
        # tc: "Error: Specified qdisc kind is unknown."
        raise ValueError("Specified qdisc kind is unknown.") from None
    return factory(dev, **params)


def make_default_qdisc(dev: NetDevice) -> Qdisc:
    return create_qdisc(dev, dev.default_qdisc)


register_qdisc("noqueue", NoQueue)
register_qdisc("pfifo_fast", PfifoFast)
from tuxnet.sched import netem, tbf  # noqa: E402,F401  (registers the netem and tbf qdiscs)
