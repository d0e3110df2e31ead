"""A network namespace (struct net): devices, protocol state, sysctls, counters, all per namespace.

Protocol subsystems attach themselves the way Linux's ``register_pernet_subsys`` does: a module
registers ``(order, attribute name, init)``, and each new namespace calls every ``init(ns)`` in
order and stores the result as ``ns.<attribute>`` (``ns.devinet``, ``ns.fib``, ``ns.arp``, ``ns.ip``,
``ns.udp`` ...). Subsystems learn about devices and addresses through notifier chains
(``netdev_notifier``: register, unregister, up, down, change, mtu, mac; ``inetaddr_notifier``:
add, del), as register_netdevice_notifier / register_inetaddr_notifier.

A namespace never reads the wall clock: ``ns.now`` is the loop's integer-ns time, and ``ns.rng`` its
own generator seeded from the lab seed and the namespace's name.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.core.errors import oserror
from tuxnet.core.loop import Loop
from tuxnet.core.rand import make_rng
from tuxnet.core.trace import DropStats, SkbDropReason, Tracer
from tuxnet.snmp import Mibs
from tuxnet.sysctl import Sysctl

if TYPE_CHECKING:
    from tuxnet.drivers.netdevice import NetDevice
    from tuxnet.skb import SkBuff

PernetInit = Callable[["Namespace"], Any]
_PERNET: list[tuple[int, str, PernetInit]] = []


def register_pernet_subsys(order: int, attr: str, init: PernetInit) -> None:
    """Register a per-namespace subsystem; lower ``order`` is initialised first."""
    if any(a == attr for _, a, _ in _PERNET):
        raise ValueError(f"pernet subsystem {attr!r} is already registered")
    _PERNET.append((order, attr, init))
    _PERNET.sort(key=lambda t: t[0])


class Namespace:
    """One network namespace: what ``ip netns add NAME`` creates."""

    def __init__(self, name: str, *, loop: Loop | None = None, seed: int = 0,
                 tracer: Tracer | None = None, lab: Any = None) -> None:
        import tuxnet.ipv4  # noqa: F401  (registers the IPv4 pernet subsystems)

        self.name = name
        self.lab = lab
        self.loop = loop if loop is not None else Loop()
        self.seed = seed
        self.rng = make_rng(seed, "netns", name)
        self.tracer = tracer if tracer is not None else Tracer()
        self.sysctl = Sysctl()
        self.mib = Mibs()
        self.drops = DropStats()
        self.devices: dict[str, NetDevice] = {}
        self.by_index: dict[int, NetDevice] = {}
        self._next_ifindex = 1
        self.ptype: dict[int, Callable[[SkBuff, NetDevice], None]] = {}
        self.netdev_notifier: list[Callable[[str, NetDevice], None]] = []
        self.inetaddr_notifier: list[Callable[[str, Any], None]] = []
        self.napi_polls_rescheduled = 0
        self.drop_hooks: list[Callable[[SkBuff, SkbDropReason], None]] = []
        self.sysctl.watch("net.ipv4.ip_forward", self._forward_changed)
        self.sysctl.watch("net.ipv4.conf.all.forwarding", self._forward_changed)
        self.sysctl.watch("net.ipv4.ip_default_ttl", lambda k, v: setattr(self.mib.ip, "DefaultTTL", v))
        for _, attr, init in _PERNET:
            setattr(self, attr, init(self))
        from tuxnet.drivers.loopback import Loopback

        self.lo = Loopback(self)
        self.register_netdevice(self.lo)

    # ------------------------------------------------------------ time, randomness
    @property
    def now(self) -> int:
        return self.loop.now_ns

    def random_mac(self) -> bytes:
        """eth_random_addr: random, locally administered, unicast."""
        b = bytearray(self.rng.getrandbits(48).to_bytes(6, "big"))
        b[0] = (b[0] & 0xFE) | 0x02
        return bytes(b)

    def _forward_changed(self, key: str, value: Any) -> None:
        self.mib.ip.Forwarding = 1 if value else 2

    # ------------------------------------------------------------ devices
    def register_netdevice(self, dev: NetDevice) -> None:
        if dev.name in self.devices:
            raise oserror(errno.EEXIST, f"RTNETLINK answers: File exists ({dev.name})")
        if dev.ifindex == 0 or dev.ifindex in self.by_index:
            dev.ifindex = self._next_ifindex
        self._next_ifindex = max(self._next_ifindex, dev.ifindex) + 1
        dev.ns = self
        self.devices[dev.name] = dev
        self.by_index[dev.ifindex] = dev
        self.sysctl.add_device(dev.name, loopback=dev.kind == "loopback")
        self.netdev_event("register", dev)

    def unregister_netdevice(self, dev: NetDevice) -> None:
        if dev.is_up:
            dev.close()
        self.netdev_event("unregister", dev)
        self.devices.pop(dev.name, None)
        self.by_index.pop(dev.ifindex, None)
        self.sysctl.remove_device(dev.name)

    def rename_netdevice(self, dev: NetDevice, new: str) -> None:
        if new in self.devices:
            raise oserror(errno.EEXIST)
        if dev.is_up:
            raise oserror(errno.EBUSY)
        self.devices.pop(dev.name)
        self.sysctl.rename_device(dev.name, new)
        dev.name = new
        self.devices[new] = dev

    def dev(self, name: str) -> NetDevice:
        """__dev_get_by_name, raising ENODEV as the kernel does."""
        try:
            return self.devices[name]
        except KeyError:
            raise oserror(errno.ENODEV, f"Cannot find device \"{name}\"") from None

    def dev_by_index(self, ifindex: int) -> NetDevice | None:
        return self.by_index.get(ifindex)

    def netdev_event(self, event: str, dev: NetDevice) -> None:
        for fn in list(self.netdev_notifier):
            fn(event, dev)

    def inetaddr_event(self, event: str, ifa: Any) -> None:
        for fn in list(self.inetaddr_notifier):
            fn(event, ifa)

    # ------------------------------------------------------------ drops and tracing
    def kfree_skb(self, skb: SkBuff, reason: SkbDropReason) -> None:
        """kfree_skb_reason: the one place a packet is dropped."""
        self.drops.by_reason[reason] += 1
        if self.tracer.active:
            self.trace("kfree_skb", skb, reason=reason.value,
                       dev=getattr(skb.dev, "name", None))
        for fn in self.drop_hooks:
            fn(skb, reason)

    def consume_skb(self, skb: SkBuff) -> None:
        """consume_skb: freed after successful use (no drop)."""
        if self.tracer.active:
            self.trace("consume_skb", skb)

    def trace(self, point: str, skb: SkBuff | None, **fields: Any) -> None:
        self.tracer.emit(self.loop.now_ns, self.name, point, skb, **fields)

    def __repr__(self) -> str:
        return f"<Namespace {self.name}>"

    # ------------------------------------------------------------ sockets (tuxnet/socket.py)
    def socket(self, family: int = 2, type: int = 2, proto: int = 0) -> Any:
        """socket(2) in this namespace: AF_INET with SOCK_DGRAM (UDP, or ping with IPPROTO_ICMP),
        SOCK_RAW or SOCK_STREAM; plain calls never block (see ``tuxnet.socket``)."""
        return self.sockets.socket(family, type, proto)

    async def sock_recv(self, sock: Any, nbytes: int) -> bytes:
        from tuxnet.socket import sock_recv

        return await sock_recv(sock, nbytes)

    async def sock_recv_into(self, sock: Any, buf: Any) -> int:
        from tuxnet.socket import sock_recv_into

        return await sock_recv_into(sock, buf)

    async def sock_recvfrom(self, sock: Any, bufsize: int) -> tuple[bytes, Any]:
        from tuxnet.socket import sock_recvfrom

        return await sock_recvfrom(sock, bufsize)

    async def sock_recvfrom_into(self, sock: Any, buf: Any, nbytes: int = 0) -> tuple[int, Any]:
        from tuxnet.socket import sock_recvfrom_into

        return await sock_recvfrom_into(sock, buf, nbytes)

    async def sock_sendto(self, sock: Any, data: Any, address: Any) -> int:
        from tuxnet.socket import sock_sendto

        return await sock_sendto(sock, data, address)

    async def sock_sendall(self, sock: Any, data: Any) -> None:
        from tuxnet.socket import sock_sendall

        await sock_sendall(sock, data)

    async def sock_connect(self, sock: Any, address: Any) -> None:
        from tuxnet.socket import sock_connect

        await sock_connect(sock, address)

    async def sock_accept(self, sock: Any) -> tuple[Any, Any]:
        from tuxnet.socket import sock_accept

        return await sock_accept(sock)

    # ------------------------------------------------------------ asyncio streams (ipv4/tcp/streams.py)
    async def open_connection(self, host: str, port: int, **kw: Any) -> tuple[Any, Any]:
        """asyncio.open_connection in this namespace: (StreamReader, StreamWriter) over TCP."""
        from tuxnet.ipv4.tcp.streams import open_connection

        return await open_connection(self, host, port, **kw)

    async def start_server(self, client_connected_cb: Any, host: str | None = None, port: int = 0,
                           **kw: Any) -> Any:
        """asyncio.start_server in this namespace: a Server calling ``client_connected_cb(r, w)``."""
        from tuxnet.ipv4.tcp.streams import start_server

        return await start_server(self, client_connected_cb, host, port, **kw)
