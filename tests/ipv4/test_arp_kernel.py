"""ARP against the real kernel: the same situation in two network namespaces and in a tuxnet lab,
compared frame by frame (bytes, count, spacing). Needs root and iproute2 + tcpdump; slow (~15 s)."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time

import pytest

from tuxnet.core.loop import NSEC_PER_MSEC, NSEC_PER_SEC
from tuxnet.drivers.netdevice import IFF_NOARP
from tuxnet.lab.lab import Lab
from tuxnet.skb import SkBuff
from tuxnet.wire.addr import ip_aton, mac_aton
from tuxnet.wire.ipv4 import Ipv4Header
from tuxnet.wire.pcap import read_pcap

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("tcpdump") is None,
                       reason="needs root, iproute2 and tcpdump to build network namespaces"),
]

A, B = "10.77.0.1", "10.77.0.2"
NOBODY = "10.77.0.99"
TOLERANCE = 150 * NSEC_PER_MSEC  # jiffies rounding and scheduling on the host


def sh(*argv: str, check: bool = True) -> str:
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=30).stdout


@pytest.fixture
def netns_pair():
    tag = f"tnarp{os.getpid()}"
    na, nb = tag + "a", tag + "b"
    sh("ip", "netns", "add", na)
    sh("ip", "netns", "add", nb)
    try:
        sh("ip", "link", "add", "vA", "netns", na, "type", "veth", "peer", "name", "vB", "netns", nb)
        sh("ip", "-n", na, "addr", "add", f"{A}/24", "dev", "vA")
        sh("ip", "-n", nb, "addr", "add", f"{B}/24", "dev", "vB")
        for ns, dev in ((na, "vA"), (nb, "vB"), (na, "lo"), (nb, "lo")):
            sh("ip", "-n", ns, "link", "set", dev, "up")
        macs = [mac_aton(sh("ip", "netns", "exec", ns, "cat", f"/sys/class/net/{dev}/address").strip())
                for ns, dev in ((na, "vA"), (nb, "vB"))]
        yield na, nb, macs[0], macs[1]
    finally:
        sh("ip", "netns", "del", na, check=False)
        sh("ip", "netns", "del", nb, check=False)


class Tcpdump:
    """tcpdump -w in a namespace; ``stop()`` returns the ARP frames (ts_ns, bytes)."""

    def __init__(self, ns: str, dev: str) -> None:
        self.path = tempfile.mktemp(suffix=".pcap")
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", dev, "-n", "-U",
                                      "-w", self.path, "arp"], stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        ready, _, _ = select.select([self.proc.stderr], [], [], 10)
        assert ready, "tcpdump did not start"
        self.proc.stderr.readline()  # "listening on ..."

    def stop(self) -> list[tuple[int, bytes]]:
        time.sleep(0.2)
        self.proc.send_signal(2)
        self.proc.wait(timeout=10)
        try:
            return [(ts, data) for ts, _, data in read_pcap(self.path)]
        finally:
            os.unlink(self.path)


def neigh_state(ns: str, dev: str, ip: str) -> dict:
    out = json.loads(sh("ip", "-j", "-s", "-n", ns, "neigh", "show", "dev", dev, ip) or "[]")
    return out[0] if out else {}


def wait_state(ns: str, dev: str, ip: str, state: str, limit: float) -> dict:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        st = neigh_state(ns, dev, ip)
        if state in st.get("state", []):
            return st
        time.sleep(0.1)
    raise AssertionError(f"{ip} never reached {state}: {neigh_state(ns, dev, ip)}")


def tuxnet_lab(mac_a: bytes, mac_b: bytes):
    lab = Lab(5)
    h1, h2 = lab.add_host("h1"), lab.add_host("h2")
    d1, d2 = lab.add_link(h1, "vA", h2, "vB")
    d1.set_mac(mac_a)
    d2.set_mac(mac_b)
    h1.devinet.add(d1, ip_aton(A), 24)
    h2.devinet.add(d2, ip_aton(B), 24)
    frames: list[tuple[int, bytes]] = []
    d1.taps.append(lambda skb, out: frames.append((h1.now, skb.mac_bytes()))
                   if skb.mac_bytes()[12:14] == b"\x08\x06" else None)
    return lab, h1, h2, d1, d2, frames


def ping_skb(dst: str) -> SkBuff:
    hdr = Ipv4Header(saddr=ip_aton(A), daddr=ip_aton(dst), protocol=1, tot_len=84).pack()
    skb = SkBuff.alloc(84)
    skb.put_data(hdr + bytes(64))
    skb.reset_network_header()
    return skb


def spacing(frames: list[tuple[int, bytes]]) -> list[int]:
    return [b[0] - a[0] for a, b in zip(frames, frames[1:], strict=False)]


def test_unresolved_neighbour_probes_match_the_kernel(netns_pair):
    na, nb, mac_a, mac_b = netns_pair
    cap = Tcpdump(na, "vA")
    subprocess.run(["ip", "netns", "exec", na, "ping", "-c", "1", "-W", "1", NOBODY],
                   capture_output=True, timeout=30)
    st = wait_state(na, "vA", NOBODY, "FAILED", 8)
    kernel = cap.stop()

    lab, h1, h2, d1, d2, frames = tuxnet_lab(mac_a, mac_b)
    h1.arp.output(ping_skb(NOBODY), d1, ip_aton(NOBODY))
    lab.run(10)
    n = h1.arp.lookup_noref(ip_aton(NOBODY), d1)

    assert [f for _, f in frames] == [f for _, f in kernel]  # same requests, byte for byte
    assert len(kernel) == 3
    for k, t in zip(spacing(kernel), spacing(frames), strict=True):
        assert abs(k - t) < TOLERANCE
    assert n.state_name == "FAILED" and n.probes == st.get("probes")


def test_probe_phase_unicast_probes_match_the_kernel(netns_pair):
    na, nb, mac_a, mac_b = netns_pair
    sh("ip", "netns", "exec", na, "sysctl", "-qw", "net.ipv4.neigh.vA.base_reachable_time_ms=1000")
    sh("ip", "netns", "exec", na, "ping", "-c", "1", "-W", "2", B)
    sh("ip", "-n", nb, "link", "set", "vB", "arp", "off")  # B goes silent to ARP
    cap = Tcpdump(na, "vA")
    st = wait_state(na, "vA", B, "FAILED", 14)
    kernel = cap.stop()

    lab, h1, h2, d1, d2, frames = tuxnet_lab(mac_a, mac_b)
    h1.sysctl.set("net.ipv4.neigh.vA.base_reachable_time_ms", 1000)
    h1.arp.output(ping_skb(B), d1, ip_aton(B))
    lab.run(0)
    d2.flags |= IFF_NOARP
    del frames[:]
    lab.run(12)
    n = h1.arp.lookup_noref(ip_aton(B), d1)

    assert len(kernel) == 3 and [f for _, f in frames] == [f for _, f in kernel]
    assert all(f[:6] == mac_b for _, f in kernel)  # unicast to the cached address
    for k, t in zip(spacing(kernel), spacing(frames), strict=True):
        assert abs(k - t) < TOLERANCE and abs(t - NSEC_PER_SEC) == 0
    assert n.state_name == "FAILED" and n.probes == st.get("probes")
