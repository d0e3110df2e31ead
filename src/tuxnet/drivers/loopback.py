"""The loopback device (drivers/net/loopback.c): every frame sent comes straight back in.

MTU 65536, flags LOOPBACK|UP, qdisc noqueue, all-zero MAC; Linux counts the packet on both the
tx and rx side of ``lo``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.drivers.netdevice import ARPHRD_LOOPBACK, IFF_LOOPBACK, NetDevice
from tuxnet.skb import SkBuff

if TYPE_CHECKING:
    from tuxnet.netns import Namespace


class Loopback(NetDevice):
    kind = "loopback"

    def __init__(self, ns: Namespace) -> None:
        super().__init__(ns, "lo", mac=bytes(6), mtu=65536, type=ARPHRD_LOOPBACK,
                         flags=IFF_LOOPBACK, txqueuelen=1000)
        self.broadcast = bytes(6)

    def ndo_start_xmit(self, skb: SkBuff) -> None:
        st = self.stats
        st.tx_packets += 1
        st.tx_bytes += skb.len
        # loopback_xmit: skb_orphan + netif_rx; the frame keeps its (zero) Ethernet header, and its
        # route (skb_dst_force): ip_rcv_finish then delivers it without an input route lookup,
        # which would take our own source address for a martian
        skb.sk = None
        self.netif_rx(skb)
