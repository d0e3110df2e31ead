"""Virtual Ethernet pairs (drivers/net/veth.c): what one end sends, the other receives.

Crossing to the peer scrubs the packet as __dev_forward_skb/skb_scrub_packet do (mark, route,
conntrack, socket cleared when the peer is in another namespace). Carrier is on for both ends only
while both are up (veth_open/veth_close). A frame larger than the peer's MTU plus the link header is
dropped (is_skb_forwardable), counted in the sender's tx_dropped. Link impairments are netem qdiscs
on each end's egress, exactly where ``tc qdisc add dev vethX root netem`` would put them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.core.trace import SkbDropReason
from tuxnet.drivers.netdevice import NetDevice
from tuxnet.skb import SkBuff
from tuxnet.wire.ethernet_consts import ETH_HLEN

if TYPE_CHECKING:
    from tuxnet.netns import Namespace


class Veth(NetDevice):
    kind = "veth"

    def __init__(self, ns: Namespace, name: str, **kw: object) -> None:
        super().__init__(ns, name, **kw)  # type: ignore[arg-type]
        self.peer: Veth | None = None
        self.carrier = False

    @property
    def operstate(self) -> str:
        if not self.is_up:
            return "DOWN"
        return "UP" if self.carrier else "LOWERLAYERDOWN"

    def open(self) -> None:
        super().open()
        if self.peer is not None and self.peer.is_up:
            self.set_carrier(True)
            self.peer.set_carrier(True)

    def close(self) -> None:
        super().close()
        self.set_carrier(False)
        if self.peer is not None:
            self.peer.set_carrier(False)

    def ndo_start_xmit(self, skb: SkBuff) -> None:
        peer = self.peer
        st = self.stats
        if peer is None or not peer.running:
            st.tx_dropped += 1
            self.ns.kfree_skb(skb, SkbDropReason.LINK_DOWN)
            return
        if skb.len > peer.mtu + ETH_HLEN:
            st.tx_dropped += 1
            peer.stats.rx_dropped += 1
            self.ns.kfree_skb(skb, SkbDropReason.PKT_TOO_BIG)
            return
        st.tx_packets += 1
        st.tx_bytes += skb.len
        scrub(skb, xnet=peer.ns is not self.ns)
        peer.netif_rx(skb)


def scrub(skb: SkBuff, xnet: bool) -> None:
    """skb_scrub_packet: forget what belonged to the sending side."""
    skb.dst = None
    skb.sk = None
    skb.nfct = None
    skb.ctinfo = 0
    skb.cb = None
    skb.network_header = skb.transport_header = -1
    skb.tstamp = 0
    if xnet:
        skb.mark = 0
    # mac_header stays: the receiving device re-parses from data (the Ethernet header)


def create_veth_pair(ns1: Namespace, name1: str, ns2: Namespace, name2: str, *, mac1: bytes | None = None,
                     mac2: bytes | None = None, mtu: int = 1500) -> tuple[Veth, Veth]:
    """``ip link add NAME1 type veth peer name NAME2 netns NS2``: both ends registered, both down."""
    a = Veth(ns1, name1, mac=mac1, mtu=mtu)
    b = Veth(ns2, name2, mac=mac2, mtu=mtu)
    a.peer, b.peer = b, a
    ns1.register_netdevice(a)
    try:
        ns2.register_netdevice(b)
    except Exception:
        ns1.unregister_netdevice(a)
        raise
    return a, b
