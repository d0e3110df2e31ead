"""The device standing in for packetdrill's tun0, and the host it is configured on.

packetdrill (netdev.c, config.c) creates a tun device, gives it the local address with the netmask,
routes the remote prefix through it via the gateway, and sniffs what the kernel sends on it. Here:

- ``TunDevice`` is an Ethernet-framed NetDevice with IFF_NOARP|IFF_POINTOPOINT (no neighbour
  resolution, as a tun has none; frames leave with the device's own MAC as destination, as
  arp_constructor gives NOARP entries). ``ndo_start_xmit`` records each frame with its virtual time
  in ``sent`` and wakes whoever waits in ``next_frame``; ``inject(ip_datagram)`` frames an IPv4
  datagram and hands it to ``netif_rx``, the path a tun write takes into the stack. MTU 1500 (or
  ``--mtu``); no TSO/GSO.
- ``make_host(config)`` builds a namespace on its own virtual Loop with lo up, tun0 up with
  ``local_ip/prefix``, and ``remote_prefix via gateway dev tun0`` (``ip route add`` as packetdrill
  runs it). ``config`` carries the addresses already parsed (see config.Config).
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from typing import TYPE_CHECKING, Any

from tuxnet.core.loop import Loop
from tuxnet.drivers.netdevice import IFF_MULTICAST, IFF_NOARP, IFF_POINTOPOINT, NetDevice
from tuxnet.netns import Namespace
from tuxnet.skb import SkBuff
from tuxnet.tools import run_command
from tuxnet.wire.addr import ip_ntoa

if TYPE_CHECKING:
    from tuxnet.tools.packetdrill.config import Config

ETH_P_IP = 0x0800
REMOTE_MAC = b"\x02\x00\x00\x00\x00\x02"  # source of injected frames: "the wire"


class TunDevice(NetDevice):
    kind = "tun"

    def __init__(self, ns: Namespace, name: str = "tun0", mtu: int = 1500) -> None:
        super().__init__(ns, name, mtu=mtu, flags=IFF_NOARP | IFF_POINTOPOINT | IFF_MULTICAST)
        self.sent: deque[tuple[int, bytes]] = deque()  # (virtual time ns, Ethernet frame)
        self._waiter: asyncio.Future[None] | None = None

    def ndo_start_xmit(self, skb: SkBuff) -> None:
        st = self.stats
        st.tx_packets += 1
        st.tx_bytes += skb.len
        self.sent.append((self.ns.loop.now_ns, skb.bytes()))
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def inject(self, datagram: bytes, gso_size: int = 0) -> None:
        """A packet arriving from the remote end (packetdrill's tun write); ``gso_size``: a GRO
        packet of that segment size (the tun's virtio_net_hdr)."""
        frame = self.mac + REMOTE_MAC + struct.pack("!H", ETH_P_IP) + datagram
        skb = SkBuff.from_bytes(frame)
        skb.gso_size = gso_size
        self.netif_rx(skb)

    async def next_frame(self, deadline_ns: int | None) -> tuple[int, bytes] | None:
        """The oldest frame not yet taken, waiting in virtual time until ``deadline_ns`` (None: no
        limit); None when the deadline passes first."""
        loop: Any = self.ns.loop
        while not self.sent:
            if deadline_ns is not None and loop.now_ns >= deadline_ns:
                return None
            fut: asyncio.Future[None] = loop.create_future()
            self._waiter = fut
            timer = None
            if deadline_ns is not None:
                timer = loop.call_at_ns(deadline_ns, _wake, fut)
            try:
                await fut
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        return self.sent.popleft()


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def make_host(config: Config, name: str = "packetdrill") -> tuple[Namespace, TunDevice]:
    """A fresh namespace with tun0 configured as packetdrill configures its tun device."""
    ns = Namespace(name, loop=Loop(), seed=config.seed)
    ns.lo.open()
    dev = TunDevice(ns, mtu=config.mtu)
    ns.register_netdevice(dev)
    dev.open()
    for cmd in (f"ip addr add {ip_ntoa(config.local_ip)}/{config.prefix_len} dev {dev.name}",
                f"ip route add {ip_ntoa(config.remote_net)}/{config.remote_plen} dev {dev.name} "
                f"via {ip_ntoa(config.gateway_ip)}"):
        rc, out = run_command(ns, cmd)
        if rc:
            raise RuntimeError(f"setting up {dev.name}: {cmd}: {out.strip()}")
    return ns, dev
