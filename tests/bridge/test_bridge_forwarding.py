"""The Linux bridge through the real receive/transmit path: three hosts on veth links to a bridge.

Frames are built by hand and sent with ``dev.queue_xmit`` on a host's eth0; what each host and the
bridge receive is observed with packet taps, as tcpdump would see it.
"""

from __future__ import annotations

import struct

import pytest

from tuxnet.bridge.bridge import BR_STATE_DISABLED, BR_STATE_FORWARDING, create_bridge
from tuxnet.core.loop import NSEC_PER_MSEC, NSEC_PER_SEC
from tuxnet.core.trace import SkbDropReason
from tuxnet.drivers.veth import create_veth_pair
from tuxnet.lab.lab import Lab
from tuxnet.skb import SkBuff
from tuxnet.wire.addr import ip_aton
from tuxnet.wire.checksum import inet_checksum

ETH_P_EXP = 0x88B5  # IEEE 802 local experimental ethertype: no protocol handler claims it
BCAST = b"\xff" * 6


def frame(dst: bytes, src: bytes, tag: int = 0, proto: int = ETH_P_EXP, size: int = 46) -> bytes:
    return dst + src + proto.to_bytes(2, "big") + tag.to_bytes(4, "big") + bytes(size - 4)


class Switched:
    """sw: br0 with ports p0..p2; hosts h0..h2 each with eth0 on one port."""

    def __init__(self, seed: int = 1) -> None:
        self.lab = Lab(seed)
        self.sw = self.lab.add_host("sw")
        self.br = create_bridge(self.sw, "br0")
        self.br.open()
        self.hosts, self.eth, self.ports = [], [], []
        self.rx: list[list[bytes]] = []
        for i in range(3):
            h = self.lab.add_host(f"h{i}")
            a, b = self.lab.add_link(h, "eth0", self.sw, f"p{i}")
            self.br.add_port(b)
            got: list[bytes] = []
            a.taps.append(lambda skb, out, got=got: None if out else got.append(skb.mac_bytes()))
            self.hosts.append(h)
            self.eth.append(a)
            self.ports.append(b)
            self.rx.append(got)
        self.br_rx: list[bytes] = []
        self.br.taps.append(lambda skb, out: None if out else self.br_rx.append(skb.mac_bytes()))
        self.lab.run(0.001)

    def send(self, i: int, dst: bytes, tag: int = 0) -> None:
        self.eth[i].queue_xmit(SkBuff.from_bytes(frame(dst, self.eth[i].mac, tag)))
        self.lab.run(0.001)

    def counts(self) -> list[int]:
        return [len(r) for r in self.rx]


def test_unknown_unicast_floods_then_reply_is_forwarded_to_the_learned_port_only():
    s = Switched()
    mac0, mac1 = s.eth[0].mac, s.eth[1].mac
    s.send(0, mac1, tag=1)
    assert s.counts() == [0, 1, 1]  # flooded to every port but the ingress one
    assert s.br_rx == []  # unknown unicast is not for the host (bridge not promiscuous)
    f = s.br.fdb.find(mac0)
    assert f is not None and f.dst.dev is s.ports[0] and not f.is_local
    s.send(1, mac0, tag=2)
    assert s.counts() == [1, 1, 1]  # h0 only: its MAC was learned on p0
    assert s.rx[0][0] == frame(mac0, mac1, 2)
    s.send(0, mac1, tag=3)
    assert s.counts() == [1, 2, 1]  # now h1 is known too: h2 sees nothing more
    assert s.ports[2].stats.tx_packets == 1 and s.ports[1].stats.tx_packets == 2
    assert s.br.stats.rx_packets == 0 and s.br.stats.tx_packets == 0


def test_broadcast_reaches_every_other_port_and_the_bridge_itself():
    s = Switched()
    s.send(2, BCAST, tag=7)
    assert s.counts() == [1, 1, 0]
    assert s.br_rx == [frame(BCAST, s.eth[2].mac, 7)]
    # br_pass_frame_up counts the frame without its Ethernet header
    assert s.br.stats.rx_packets == 1 and s.br.stats.rx_bytes == 46
    assert s.ports[2].stats.rx_bytes == 60  # the port's driver counts the whole frame


def test_multicast_floods_like_broadcast_without_snooping():
    s = Switched()
    group = bytes.fromhex("01005e000102")
    s.send(0, group)
    assert s.counts() == [0, 1, 1]
    assert len(s.br_rx) == 1 and s.br.stats.multicast == 1


def test_learned_entries_age_out_after_300_seconds_and_not_before():
    s = Switched()
    mac0, mac1 = s.eth[0].mac, s.eth[1].mac
    s.send(0, BCAST)
    s.send(1, BCAST)
    learned_at = s.br.fdb.find(mac1).updated
    assert s.br.ageing_time == 300.0
    s.lab.loop.run_until(learned_at + 300 * NSEC_PER_SEC - NSEC_PER_MSEC)
    assert s.br.fdb.find(mac1) is not None
    assert s.counts() == [1, 1, 2]
    s.send(0, mac1)  # still known: not flooded to h2 (this also refreshes h0's entry)
    assert s.counts() == [1, 2, 2]
    s.lab.loop.run_until(learned_at + 300 * NSEC_PER_SEC + 20 * NSEC_PER_MSEC)
    assert s.br.fdb.find(mac1) is None
    assert s.br.fdb.find(mac0) is not None  # refreshed a few ms before h1's entry expired
    s.send(0, mac1)
    assert s.counts() == [1, 3, 3]  # forgotten: flooded again
    # local entries never age
    assert all(s.br.fdb.find(p.mac).is_local for p in s.ports)


def test_ageing_time_zero_means_no_learning():
    s = Switched()
    s.br.ageing_time = 0
    s.send(0, BCAST)
    s.send(1, s.eth[0].mac)
    assert s.br.fdb.find(s.eth[0].mac) is None
    assert s.counts() == [1, 1, 2]  # h1 -> h0 flooded, so h2 saw it too


def test_a_mac_moves_to_the_port_it_was_last_seen_on():
    s = Switched()
    mac0 = s.eth[0].mac
    s.send(0, BCAST)
    assert s.br.fdb.find(mac0).dst.dev is s.ports[0]
    # h2 sends with h0's MAC as source (a VM that migrated)
    s.eth[2].queue_xmit(SkBuff.from_bytes(frame(BCAST, mac0)))
    s.lab.run(0.001)
    assert s.br.fdb.find(mac0).dst.dev is s.ports[2]


def test_frame_to_the_bridge_mac_goes_up_the_bridge_device_only():
    s = Switched()
    got = []
    s.sw.ptype[ETH_P_EXP] = lambda skb, dev: got.append((dev, skb.dev, skb.pkt_type, skb.len))
    s.send(1, s.br.mac, tag=9)
    assert s.counts() == [0, 0, 0]
    assert len(got) == 1
    dev, skb_dev, pkt_type, length = got[0]
    assert dev is s.br and skb_dev is s.br and pkt_type == 0 and length == 46
    assert s.br.stats.rx_packets == 1 and s.br.stats.rx_bytes == 46


def _icmp_echo(src: str, dst: str) -> bytes:
    icmp = struct.pack("!BBHHH", 8, 0, 0, 0x77, 1) + b"tuxnet"
    icmp = icmp[:2] + struct.pack("!H", inet_checksum(icmp)) + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 7, 0x4000, 64, 1, 0,
                     ip_aton(src).to_bytes(4, "big"), ip_aton(dst).to_bytes(4, "big"))
    return ip[:10] + struct.pack("!H", inet_checksum(ip)) + ip[12:] + icmp


def test_ip_address_on_the_bridge_answers_arp_and_ping():
    s = Switched()
    s.sw.devinet.add(s.br, ip_aton("10.0.0.254"), 24)
    h0 = s.hosts[0]
    h0.devinet.add(s.eth[0], ip_aton("10.0.0.1"), 24)
    echo = _icmp_echo("10.0.0.1", "10.0.0.254")
    h0.arp.output(SkBuff.from_bytes(echo), s.eth[0], ip_aton("10.0.0.254"))
    s.lab.run(0.01)
    n = h0.arp.lookup(ip_aton("10.0.0.254"), s.eth[0])
    assert n is not None and n.mac == s.br.mac and n.state_name == "REACHABLE"
    # the ARP request was flooded to h1 and h2 and went up br0; replies came back to h0 only
    assert s.counts() == [2, 1, 1]
    assert [f[12:14] for f in s.br_rx] == [b"\x08\x06", b"\x08\x00"]
    assert s.br_rx[1] == s.br.mac + s.eth[0].mac + b"\x08\x00" + echo
    reply = s.rx[0][1]
    assert reply[:12] == s.eth[0].mac + s.br.mac and reply[12:14] == b"\x08\x00"
    assert reply[26:30] == bytes([10, 0, 0, 254]) and reply[34] == 0  # ICMP echo reply from br0
    assert reply[38:40] == b"\x00\x77" and reply[42:] == b"tuxnet"
    assert s.br.fdb.find(s.eth[0].mac).dst.dev is s.ports[0]


def test_transmit_from_the_bridge_floods_unknown_and_forwards_known():
    s = Switched()
    s.send(2, BCAST)  # teach the bridge where h2 is
    before = s.counts()
    skb = SkBuff.from_bytes(frame(s.eth[2].mac, s.br.mac, 5))
    s.br.queue_xmit(skb)
    s.lab.run(0.001)
    assert [c - b for c, b in zip(s.counts(), before, strict=True)] == [0, 0, 1]
    s.br.queue_xmit(SkBuff.from_bytes(frame(bytes.fromhex("020000000099"), s.br.mac, 6)))
    s.lab.run(0.001)
    assert [c - b for c, b in zip(s.counts(), before, strict=True)] == [1, 1, 2]
    assert s.br.stats.tx_packets == 2 and s.br.stats.tx_bytes == 120


def test_bad_frames_are_counted_drops_never_exceptions():
    s = Switched()
    # multicast source address
    s.eth[0].queue_xmit(SkBuff.from_bytes(frame(BCAST, bytes.fromhex("010203040506"))))
    # IEEE 802.3x PAUSE
    s.eth[0].queue_xmit(SkBuff.from_bytes(frame(bytes.fromhex("0180c2000001"), s.eth[0].mac)))
    s.lab.run(0.001)
    assert s.counts() == [0, 0, 0]
    assert s.sw.drops[SkbDropReason.MAC_INVALID_SOURCE] == 1
    assert s.sw.drops[SkbDropReason.MAC_IEEE_MAC_CONTROL] == 1
    # the only port a known destination sits behind is the ingress port: nowhere to go
    s.send(0, BCAST)
    s.send(0, s.eth[0].mac)
    assert s.sw.drops[SkbDropReason.BRIDGE_NO_PORT] == 1


def test_link_local_group_addresses():
    s = Switched()
    s.send(0, bytes.fromhex("0180c2000000"))  # STP group address: forwarded while STP is off
    assert s.counts() == [0, 1, 1]
    assert s.br.stats.rx_nohandler == 1  # a multicast: the bridge's own stack got a copy too
    s.send(0, bytes.fromhex("0180c200000e"))  # LLDP: never forwarded, goes to the port's own stack
    assert s.counts() == [0, 1, 1]
    assert s.ports[0].stats.rx_nohandler == 1 and s.br.stats.rx_nohandler == 1
    assert s.br.fdb.find(s.eth[0].mac) is not None  # still learned


def test_flood_and_learning_flags_per_port():
    s = Switched()
    p2 = s.br.port(s.ports[2])
    p2.flood = False
    s.send(0, s.eth[1].mac)  # unknown unicast: not to p2
    assert s.counts() == [0, 1, 0]
    s.send(0, BCAST)  # broadcast still is
    assert s.counts() == [0, 2, 1]
    p2.learning = False
    s.send(2, BCAST)
    assert s.br.fdb.find(s.eth[2].mac) is None


def test_bridge_mac_carrier_and_port_states():
    lab = Lab(3)
    ns = lab.add_host("sw")
    br = create_bridge(ns, "br0")
    own = br.mac
    assert br.fdb.find(own).is_local and br.fdb.find(own).dst is None
    br.open()
    assert br.operstate == "UNKNOWN" and br.carrier  # up, never had a port
    macs = [bytes.fromhex("02000000000" + c) for c in "9316"]
    a, b = create_veth_pair(ns, "a0", ns, "b0", mac1=macs[0], mac2=macs[1])
    c, d = create_veth_pair(ns, "a1", ns, "b1", mac1=macs[2], mac2=macs[3])
    br.add_port(a)
    assert br.mac == macs[0] and br.fdb.find(own) is None  # the lowest port MAC; old entry gone
    assert br.port(a).state == BR_STATE_DISABLED and not br.carrier and br.operstate == "DOWN"
    br.add_port(c)
    assert br.mac == macs[2]
    for dev in (a, b):
        dev.open()
    assert br.port(a).state == BR_STATE_FORWARDING and br.carrier and br.operstate == "UP"
    b.close()  # a loses carrier
    assert br.port(a).state == BR_STATE_DISABLED and not br.carrier
    br.del_port(c)
    assert br.mac == macs[0] and c.master is None and c.rx_handler is None
    br.del_port(a)
    assert br.mac == bytes(6) and br.fdb.entries() == []  # no port: 00:00:00:00:00:00, as Linux
    br.set_mac(macs[1])
    br.add_port(a)
    assert br.mac == macs[1]  # a MAC set by hand sticks
    with pytest.raises(OSError):
        br.add_port(a)  # already a port
    br2 = create_bridge(ns, "br1")
    with pytest.raises(OSError):
        br.add_port(br2)
    with pytest.raises(OSError):
        br.add_port(ns.lo)


def test_port_down_flushes_what_it_learned_and_unregister_removes_the_port():
    s = Switched()
    s.send(1, BCAST)
    assert s.br.fdb.find(s.eth[1].mac) is not None
    s.eth[1].close()  # p1 loses carrier
    s.lab.run(0.001)
    assert s.br.port(s.ports[1]).state == BR_STATE_DISABLED
    assert s.br.fdb.find(s.eth[1].mac) is None
    assert s.br.fdb.find(s.ports[1].mac).is_local  # the port's own entry stays
    s.sw.unregister_netdevice(s.ports[2])
    assert len(s.br.ports) == 2 and s.br.fdb.find(s.ports[2].mac) is None


def test_bridge_mtu_follows_the_smallest_port():
    s = Switched()
    assert s.br.mtu == 1500
    s.ports[1].set_mtu(1400)
    assert s.br.mtu == 1400
    s.br.del_port(s.ports[1])
    assert s.br.mtu == 1500


def test_port_mac_change_moves_the_local_entry_and_the_bridge_mac():
    s = Switched()
    low = min(p.mac for p in s.ports)
    assert s.br.mac == low
    new = bytes.fromhex("020000000001")  # lower than any random locally administered MAC here
    port = next(p for p in s.ports if p.mac == low)
    port.set_mac(new)
    assert s.br.fdb.find(low) is None and s.br.fdb.find(new).dst.dev is port
    assert s.br.mac == new
    s.br.set_mac(bytes.fromhex("02aabbccddee"))  # by hand: kept from now on
    assert s.br.fdb.find(bytes.fromhex("02aabbccddee")).dst is None
    port.set_mac(bytes.fromhex("020000000000"))
    assert s.br.mac == bytes.fromhex("02aabbccddee")
