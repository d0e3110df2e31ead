"""TapDevice without a TAP: the driver on a datagram socketpair (one frame per read/write, EAGAIN when
full, like a TAP's fd), driven by the real-time loop. No root needed. The frames are built and read
with scapy, independently of tuxnet's codecs."""

from __future__ import annotations

import asyncio
import errno
import os
import socket

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether

from tuxnet.core.loop import Loop
from tuxnet.core.trace import SkbDropReason
from tuxnet.drivers.tap import TapDevice, TapError, tun_alloc
from tuxnet.netns import Namespace
from tuxnet.skb import Csum, SkBuff
from tuxnet.socket import AF_INET, SOCK_DGRAM
from tuxnet.tools import run_command

OUR_IP = "192.0.2.2"
PEER_IP = "192.0.2.1"
PEER_MAC = "02:00:00:00:00:01"


@pytest.fixture
def host():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    loop = Loop(realtime=True)
    ns = Namespace("live", loop=loop, seed=7)
    ns.lo.open()
    dev = TapDevice(ns, "tap0", fd=a.detach())
    ns.register_netdevice(dev)
    for c in ("ip link set tap0 up", f"ip addr add {OUR_IP}/24 dev tap0"):
        rc, out = run_command(ns, c)
        assert rc == 0, out
    b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)  # room for 150 queued frames
    b.settimeout(2)
    try:
        yield ns, dev, b
    finally:
        dev.release()
        b.close()
        loop.close()


def run_for(ns: Namespace, seconds: float) -> None:
    ns.loop.run_until_complete(asyncio.sleep(seconds))


def drain(peer: socket.socket) -> list[bytes]:
    out = []
    peer.setblocking(False)
    try:
        while True:
            out.append(peer.recv(70000))
    except BlockingIOError:
        pass
    finally:
        peer.settimeout(2)
    return out


def arp_request(i: int) -> bytes:
    return bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=PEER_MAC) /
                 ARP(op=1, hwsrc=PEER_MAC, psrc=f"192.0.2.{100 + i % 100}", pdst=OUR_IP))


def test_rx_batches_follow_the_napi_budget_and_every_request_is_answered(host):
    ns, dev, peer = host
    n = 150
    for i in range(n):
        peer.send(arp_request(i))
    run_for(ns, 0.2)
    budget = ns.sysctl.v["net.core.dev_weight"]
    assert dev.stats.rx_packets == n
    # 150 frames waiting: 64 + 64 + 22, one reader wakeup each
    assert dev.rx_wakeups == -(-n // budget) == 3
    replies = [Ether(f) for f in drain(peer)]
    assert len(replies) == n
    for r in replies:
        assert r[ARP].op == 2 and r[ARP].psrc == OUR_IP and r.src == dev.mac.hex(":")
        assert r[ARP].hwsrc == dev.mac.hex(":")
    assert {r[ARP].pdst for r in replies} == {f"192.0.2.{100 + i % 100}" for i in range(n)}


def test_mac_is_tuxnets_own_random_unicast_address(host):
    ns, dev, peer = host
    assert dev.mac[0] & 1 == 0 and dev.mac[0] & 2 == 2  # unicast, locally administered
    ns2 = Namespace("other", loop=Loop(), seed=8)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        with pytest.raises(RuntimeError):  # a virtual-time loop has no fds to watch
            TapDevice(ns2, "tap0", fd=a.fileno())
    finally:
        a.close()
        b.close()


def test_partial_checksums_are_completed_before_the_frame_leaves(host):
    ns, dev, peer = host
    frame = bytes(Ether(dst=PEER_MAC, src=dev.mac.hex(":")) / IP(src=OUR_IP, dst=PEER_IP) /
                  UDP(sport=1234, dport=5678, chksum=0x1111) / (b"x" * 333))
    skb = SkBuff.from_bytes(frame)
    skb.ip_summed = Csum.PARTIAL
    dev.queue_xmit(skb)
    out = Ether(peer.recv(70000))
    good = out[UDP].chksum
    del out[UDP].chksum
    assert good != 0x1111 and good == Ether(bytes(out))[UDP].chksum
    # ICMP too
    frame = bytes(Ether(dst=PEER_MAC, src=dev.mac.hex(":")) / IP(src=OUR_IP, dst=PEER_IP) /
                  ICMP(type=8, id=1, seq=1, chksum=0) / b"ping")
    skb = SkBuff.from_bytes(frame)
    skb.ip_summed = Csum.PARTIAL
    dev.queue_xmit(skb)
    out = Ether(peer.recv(70000))
    c = out[ICMP].chksum
    del out[ICMP].chksum
    assert c == Ether(bytes(out))[ICMP].chksum != 0


def test_received_checksums_are_verified(host):
    ns, dev, peer = host
    s = ns.socket(AF_INET, SOCK_DGRAM)
    s.bind(("0.0.0.0", 9999))
    base = (Ether(dst=dev.mac.hex(":"), src=PEER_MAC) / IP(src=PEER_IP, dst=OUR_IP) /
            UDP(sport=40000, dport=9999))
    bad = base.copy()
    bad[UDP].chksum = 0xBEEF
    peer.send(bytes(bad / b"corrupt"))
    peer.send(bytes(base / b"fine"))
    run_for(ns, 0.1)
    assert s.recvfrom(100) == (b"fine", (PEER_IP, 40000))
    with pytest.raises(BlockingIOError):
        s.recvfrom(100)
    assert ns.mib.udp.InCsumErrors == 1


def test_frames_longer_than_the_mtu_are_dropped(host):
    ns, dev, peer = host
    big = Ether(dst=dev.mac.hex(":"), src=PEER_MAC) / IP(src=PEER_IP, dst=OUR_IP) / UDP() / bytes(2000)
    peer.send(bytes(big))
    run_for(ns, 0.05)
    assert dev.stats.rx_length_errors == 1 and dev.stats.rx_errors == 1 and dev.stats.rx_packets == 0


def test_eagain_queues_in_order_then_the_writer_wakeup_flushes(host):
    ns, dev, peer = host
    # a tiny send buffer: the socketpair refuses frames (EAGAIN) long before we stop sending
    fd = dev.fd
    s = socket.socket(fileno=os.dup(fd))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    s.close()
    n = 400
    for i in range(n):
        f = bytes(Ether(dst=PEER_MAC, src=dev.mac.hex(":"), type=0x88B5) / i.to_bytes(4, "big") / bytes(500))
        dev.queue_xmit(SkBuff.from_bytes(f))
    queued = len(dev.txq)
    assert queued > 0, "the socketpair took every frame: the test needs a smaller buffer"
    assert dev.stats.tx_packets == n - queued and dev.stats.tx_dropped == 0
    got = []
    while len(got) < n:
        got += drain(peer)
        run_for(ns, 0.01)  # the writer callback runs when the fd is writable again
    assert [int.from_bytes(f[14:18], "big") for f in got] == list(range(n))
    assert not dev.txq and dev.stats.tx_packets == n
    assert not ns.loop.remove_writer(fd)  # the writer was unregistered once the ring was empty


def test_ring_overflow_drops_at_txqueuelen(host):
    ns, dev, peer = host
    s = socket.socket(fileno=os.dup(dev.fd))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    s.close()
    dev.txqueuelen = 10
    for i in range(200):
        f = bytes(Ether(dst=PEER_MAC, src=dev.mac.hex(":"), type=0x88B5) / i.to_bytes(4, "big") / bytes(500))
        dev.queue_xmit(SkBuff.from_bytes(f))
    assert len(dev.txq) == 10
    assert dev.stats.tx_packets + dev.stats.tx_dropped + 10 == 200
    assert ns.drops[SkbDropReason.QDISC_DROP] == dev.stats.tx_dropped > 0


def test_write_errors_are_counted_not_raised_and_eof_takes_the_carrier_down(host):
    ns, dev, peer = host
    errors = []
    dev.on_error = errors.append
    peer.close()
    f = bytes(Ether(dst=PEER_MAC, src=dev.mac.hex(":"), type=0x88B5) / bytes(50))
    dev.queue_xmit(SkBuff.from_bytes(f))
    assert dev.stats.tx_errors == 1 and dev.stats.tx_dropped == 1 and dev.stats.tx_packets == 0
    run_for(ns, 0.05)
    assert len(errors) == 1 and errors[0].errno == errno.EBADFD
    assert not dev.carrier


def test_tun_alloc_errors_are_one_line_messages(tmp_path):
    with pytest.raises(TapError) as e:
        tun_alloc("tap0", path=str(tmp_path / "missing"))
    assert e.value.errno == errno.ENOENT and "No such file or directory" in str(e.value)
    assert str(e.value).startswith("tuxnet: cannot open ") and "\n" not in str(e.value)
    with pytest.raises(TapError) as e:
        tun_alloc("tap0", path="/dev/null")  # opens, but TUNSETIFF is not its ioctl
    assert "is not the TUN/TAP device" in str(e.value)
    for bad in ("", "x" * 16, "a/b", "a b"):
        with pytest.raises(TapError) as e:
            tun_alloc(bad, path="/dev/null")
        assert "is not a valid interface name" in str(e.value)
