"""The lab: many namespaces in one process, one virtual clock, one seed.

``Lab`` owns the loop, the tracer and the seed; hosts are ``Namespace`` objects created by
``add_host`` (lo brought up, as containerlab and Mininet hosts have it); ``add_link`` wires two hosts
with a veth pair (both ends up) and optional netem-style impairments on each end's egress.
The same seed gives the same MAC addresses, the same random draws and so the same bytes.
"""

from __future__ import annotations

from typing import Any

from tuxnet.core.loop import NSEC_PER_SEC, Loop
from tuxnet.core.trace import Tracer
from tuxnet.drivers.veth import Veth, create_veth_pair
from tuxnet.netns import Namespace


class Lab:
    def __init__(self, seed: int = 0, *, loop: Loop | None = None, name: str = "lab") -> None:
        self.name = name
        self.seed = seed
        self.loop = loop if loop is not None else Loop()
        self.tracer = Tracer()
        self.hosts: dict[str, Namespace] = {}

    # ------------------------------------------------------------ building
    def add_host(self, name: str, *, lo_up: bool = True) -> Namespace:
        if name in self.hosts:
            raise ValueError(f"a node named {name!r} already exists")
        ns = Namespace(name, loop=self.loop, seed=self.seed, tracer=self.tracer, lab=self)
        if lo_up:
            ns.lo.open()
        self.hosts[name] = ns
        return ns

    def host(self, name: str) -> Namespace:
        try:
            return self.hosts[name]
        except KeyError:
            raise KeyError(f"no node named {name!r}") from None

    def add_link(self, a: Namespace | str, ifa: str, b: Namespace | str, ifb: str, *, mtu: int = 1500,
                 up: bool = True, impair_a: dict[str, Any] | None = None,
                 impair_b: dict[str, Any] | None = None, impair: dict[str, Any] | None = None,
                 ) -> tuple[Veth, Veth]:
        """A veth pair between two hosts; ``impair`` applies netem to both directions."""
        na = self.host(a) if isinstance(a, str) else a
        nb = self.host(b) if isinstance(b, str) else b
        da, db = create_veth_pair(na, ifa, nb, ifb, mtu=mtu)
        for dev, imp in ((da, impair_a or impair), (db, impair_b or impair)):
            if imp:
                from tuxnet.sched import create_qdisc

                dev.qdisc = create_qdisc(dev, "netem", **imp)
        if up:
            da.open()
            db.open()
        return da, db

    # ------------------------------------------------------------ running
    @property
    def now(self) -> int:
        return self.loop.now_ns

    def run(self, seconds: float) -> None:
        """Advance virtual time by ``seconds``, running everything due."""
        self.loop.run_for(int(seconds * NSEC_PER_SEC))

    def run_until_idle(self, max_seconds: float = 3600.0) -> None:
        self.loop.run_until_idle(self.loop.now_ns + int(max_seconds * NSEC_PER_SEC))

    def run_coro(self, coro: Any, timeout: float | None = None) -> Any:
        return self.loop.run_until_complete(
            coro, timeout_ns=None if timeout is None else int(timeout * NSEC_PER_SEC))
