"""Shared lab for the IPv4 packet-path tests (h1 -- r1 -- h2), plus the checks that it is sane.

Other test files import ``Topo``, ``Capture`` and the packet builders from here.
"""

from __future__ import annotations

import struct

from tuxnet.ipv4.devinet import RT_SCOPE_LINK, RT_SCOPE_UNIVERSE
from tuxnet.ipv4.fib_semantics import FibConfig
from tuxnet.ipv4.fib_trie import NLM_F_CREATE, NLM_F_EXCL
from tuxnet.lab.lab import Lab
from tuxnet.skb import SkBuff
from tuxnet.tools import run_command
from tuxnet.wire.addr import ip_aton, parse_prefix
from tuxnet.wire.checksum import inet_checksum
from tuxnet.wire.icmp import IcmpHeader
from tuxnet.wire.ipv4 import Ipv4Header

H1 = ip_aton("10.0.1.2")
R1A = ip_aton("10.0.1.1")
R1B = ip_aton("10.0.2.1")
H2 = ip_aton("10.0.2.2")
ETH_P_IP = 0x0800


def route_add(ns, prefix: str, *, via: int = 0, dev=None) -> None:
    """``ip route add PREFIX [via GW] [dev DEV]`` through the FIB API."""
    dst, plen = parse_prefix(prefix)
    scope = RT_SCOPE_UNIVERSE if via else RT_SCOPE_LINK
    ns.fib.add_route(FibConfig(dst, plen, gw=via, oif=dev.ifindex if dev is not None else 0, scope=scope,
                               nlflags=NLM_F_CREATE | NLM_F_EXCL))


def sh(ns, cmd: str) -> str:
    rc, out = run_command(ns, cmd)
    assert rc == 0, f"{cmd!r} failed: {out}"
    return out


class Capture:
    """A tap on one device: every frame with its direction and time."""

    def __init__(self, dev) -> None:
        self.dev = dev
        self.frames: list[tuple[int, bool, bytes]] = []
        dev.taps.append(self._tap)

    def _tap(self, skb: SkBuff, outgoing: bool) -> None:
        self.frames.append((self.dev.ns.now, outgoing, skb.mac_bytes()))

    def ip(self, outgoing: bool | None = None, proto: int | None = None) -> list[tuple[Ipv4Header, bytes]]:
        """IPv4 packets seen (header checked, checksum verified), with their payload bytes."""
        out = []
        for _, o, f in self.frames:
            if outgoing is not None and o != outgoing:
                continue
            if struct.unpack_from("!H", f, 12)[0] != ETH_P_IP:
                continue
            iph = Ipv4Header.parse(f, 14, verify_checksum=True)
            if proto is not None and iph.protocol != proto:
                continue
            out.append((iph, f[14 + iph.hlen:14 + iph.tot_len]))
        return out

    def icmp(self, outgoing: bool | None = None) -> list[tuple[Ipv4Header, IcmpHeader]]:
        """ICMP messages seen, their checksums verified."""
        return [(iph, IcmpHeader.parse(p, verify_checksum=True)) for iph, p in self.ip(outgoing, 1)]

    def clear(self) -> None:
        self.frames.clear()


class Topo:
    """h1 (10.0.1.2) -- eth0 r1 eth1 -- h2 (10.0.2.2), default routes through r1, r1 forwarding."""

    def __init__(self, seed: int = 1, mtu1: int = 1500, mtu2: int = 1500, forward: bool = True) -> None:
        self.lab = lab = Lab(seed)
        self.h1, self.r1, self.h2 = lab.add_host("h1"), lab.add_host("r1"), lab.add_host("h2")
        self.h1e, self.r1a = lab.add_link(self.h1, "eth0", self.r1, "eth0", mtu=mtu1)
        self.r1b, self.h2e = lab.add_link(self.r1, "eth1", self.h2, "eth0", mtu=mtu2)
        self.h1.devinet.add(self.h1e, H1, 24)
        self.r1.devinet.add(self.r1a, R1A, 24)
        self.r1.devinet.add(self.r1b, R1B, 24)
        self.h2.devinet.add(self.h2e, H2, 24)
        route_add(self.h1, "0.0.0.0/0", via=R1A)
        route_add(self.h2, "0.0.0.0/0", via=R1B)
        if forward:
            self.r1.sysctl.set("net.ipv4.ip_forward", "1")
        self.replies: dict[str, list[bytes]] = {"h1": [], "h2": [], "r1": []}
        for ns in (self.h1, self.r1, self.h2):
            ns.icmp.echo_reply_hooks.append(
                lambda skb, n=ns.name: self.replies[n].append(skb.bytes()) or True)

    def run(self, seconds: float = 1.0) -> None:
        self.lab.run(seconds)


def payload_skb(data: bytes) -> SkBuff:
    skb = SkBuff.alloc(len(data))
    skb.put_data(data)
    return skb


def echo_skb(ident: int = 0x1234, seq: int = 1, data: bytes = b"tuxnet-ping-data") -> SkBuff:
    return payload_skb(IcmpHeader.echo(ident, seq, data).pack())


def ip_packet(saddr: int, daddr: int, proto: int = 253, payload: bytes = b"x" * 16, *, ttl: int = 64,
              ident: int = 1, frag_off: int = 0, tos: int = 0, options: bytes = b"",
              tot_len: int | None = None, check: int | None = None) -> bytes:
    """An IPv4 packet's bytes, checksum computed unless given."""
    h = Ipv4Header(saddr=saddr, daddr=daddr, protocol=proto, ttl=ttl, id=ident, frag_off=frag_off, tos=tos,
                   options=options)
    h.tot_len = tot_len if tot_len is not None else h.hlen + len(payload)
    if check is not None:
        h.check = check
        return h.pack(compute_checksum=False) + payload
    return h.pack() + payload


def inject(dev, packet: bytes, dst_mac: bytes | None = None, src_mac: bytes = b"\x02\0\0\0\0\x99") -> None:
    """Hand a frame to ``dev`` as its driver would (received from the wire)."""
    frame = (dst_mac if dst_mac is not None else dev.mac) + src_mac + struct.pack("!H", ETH_P_IP) + packet
    dev.netif_rx(SkBuff.from_bytes(frame))


# ---------------------------------------------------------------- the lab itself
def test_topology_echo_round_trip_through_router():
    t = Topo()
    cap2 = Capture(t.h2e)
    data = bytes(range(48))
    assert t.h1.ip.send(echo_skb(0x4242, 7, data), 0, H2, 1) == 0
    t.run()
    # the request crossed r1: TTL decremented by one, header checksum still valid (verified on parse)
    (req, req_icmp), (rep, rep_icmp) = cap2.icmp()
    assert (req.saddr, req.daddr, req.ttl) == (H1, H2, 63)
    assert (req_icmp.type, req_icmp.echo_id, req_icmp.echo_seq, req_icmp.payload) == (8, 0x4242, 7, data)
    assert (rep.saddr, rep.daddr, rep.ttl) == (H2, H1, 64)
    # the reply went back through r1 to h1's echo-reply hook with the same id, sequence and data
    (got,) = t.replies["h1"]
    reply = IcmpHeader.parse(got, verify_checksum=True)
    assert (reply.type, reply.echo_id, reply.echo_seq, reply.payload) == (0, 0x4242, 7, data)
    assert t.r1.mib.ip.ForwDatagrams == 2 and t.r1.mib.ip.InDelivers == 0
    assert t.h2.mib.icmp.InEchos == 1 and t.h2.mib.icmp.OutEchoReps == 1
    assert t.h2.mib.icmpmsg_in[8] == 1 and t.h2.mib.icmpmsg_out[0] == 1
    assert t.h1.mib.icmp.OutEchos == 1 and t.h1.mib.icmp.InEchoReps == 1
    assert sum(ns.drops.total() for ns in (t.h1, t.r1, t.h2)) == 0


def test_checksums_of_forwarded_packet_match_full_recomputation():
    t = Topo()
    cap2 = Capture(t.h2e)
    t.h1.ip.send(echo_skb(), 0, H2, 1, ttl=200, tos=0x10)
    t.run()
    _, outgoing_in, frame = next(f for f in cap2.frames if not f[1] and f[2][12:14] == b"\x08\x00")
    hdr = bytearray(frame[14:34])
    assert hdr[8] == 199
    got = struct.unpack_from("!H", hdr, 10)[0]
    hdr[10:12] = b"\0\0"
    # RFC 1624's incremental update gives exactly what a full RFC 1071 computation gives
    assert got == inet_checksum(bytes(hdr))
