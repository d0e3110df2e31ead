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
        self.nodes: dict[str, Node] = {}

    # ------------------------------------------------------------ building
    def add_host(self, name: str, *, lo_up: bool = True, kind: str = "linux") -> Namespace:
        if name in self.hosts:
            raise ValueError(f"a node named {name!r} already exists")
        ns = Namespace(name, loop=self.loop, seed=self.seed, tracer=self.tracer, lab=self)
        if lo_up:
            ns.lo.open()
        self.hosts[name] = ns
        self.nodes[name] = Node(self, ns, kind)
        return ns

    def node(self, name: str) -> Node:
        """The node called ``name`` (Mininet's ``net.get``/``net['h1']``)."""
        try:
            return self.nodes[name]
        except KeyError:
            raise KeyError(f"no node named {name!r}") from None

    def __getitem__(self, name: str) -> Node:
        return self.node(name)

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


class Node:
    """A lab node as Mininet shows one: a name, its namespace, and ``cmd`` to run tools in it."""

    def __init__(self, lab: Lab, ns: Namespace, kind: str = "linux") -> None:
        self.lab = lab
        self.ns = ns
        self.kind = kind

    @property
    def name(self) -> str:
        return self.ns.name

    def cmd(self, cmdline: str, *, check: bool = False, timeout: float | None = None) -> str:
        """Run a command like a shell on this node; returns its output (stdout and stderr).

        Virtual time advances as much as the command needs (``ping -c 3`` takes 2 s)."""
        rc, out = self.cmd_rc(cmdline, timeout=timeout)
        if check and rc != 0:
            raise RuntimeError(f"{self.name}: {cmdline!r} exited {rc}:\n{out}")
        return out

    def cmd_rc(self, cmdline: str, *, timeout: float | None = None) -> tuple[int, str]:
        from tuxnet.tools import run_command

        return run_command(self.ns, cmdline, timeout=timeout)

    def first_address(self) -> int | None:
        """The first global IPv4 address of the node (Mininet's node.IP())."""
        for dev in sorted(self.ns.devices.values(), key=lambda d: d.ifindex):
            if dev.kind == "loopback" or dev.in_dev is None:
                continue
            for ifa in dev.in_dev.ifa_list:
                return ifa.local
        return None

    def IP(self) -> str | None:  # Mininet's name
        from tuxnet.wire.addr import ip_ntoa

        a = self.first_address()
        return ip_ntoa(a) if a is not None else None

    def __repr__(self) -> str:
        return f"<Node {self.name} kind={self.kind}>"

