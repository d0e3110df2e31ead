"""traceroute against the real one (Debian's traceroute 2.1.2) on the same h1 - r1 - r2 - h2
topology in network namespaces and in a lab: stdout and stderr line by line, times masked.
Needs root, iproute2 and traceroute. ICMP rate limits are off on both sides (test_ping_kernel.py)."""

from __future__ import annotations

import os
import shutil

import pytest
from test_ping_kernel import KernelNet, lab_like_kernel, mask, tux_run

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("traceroute") is None,
                       reason="needs root, iproute2 and traceroute to build network namespaces"),
]

MTU = [("r2", "ip link set eth1 mtu 1280"), ("h2", "ip link set eth0 mtu 1280")]
SILENT_R1 = [("r1", "sysctl -qw net.ipv4.icmp_ratelimit=1000000")]
CASES = [
    ([], "traceroute 10.0.2.2"),
    ([], "traceroute -n 10.0.2.2"),
    ([], "traceroute -n -q 1 -f 2 -p 5000 10.0.2.2 100"),
    ([], "traceroute -I -n 10.0.2.2"),
    ([], "traceroute -T -n 10.0.2.2"),
    ([], "traceroute -U -n -m 4 10.0.2.2"),
    ([], "traceroute -n -N 1 10.0.2.2"),
    ([], "traceroute -n -m 3 10.0.2.2 10"),
    (SILENT_R1, "traceroute -n -w 1 10.0.2.2"),
    ([("r2", "ip route add blackhole 10.0.7.0/24"), ("r1", "ip route add 10.0.7.0/24 via 10.0.3.2")],
     "traceroute -n -w 1 -m 4 10.0.7.1"),
    (MTU, "traceroute -n -F 10.0.2.2 1400"),
    (MTU, "traceroute -n --mtu 10.0.2.2"),
    ([], "traceroute -q 11 10.0.2.2"),
    ([], "traceroute -f 5 -m 3 10.0.2.2"),
    ([], "traceroute -w -1 10.0.2.2"),
    ([], "traceroute -x 10.0.2.2"),
    ([], "traceroute -q abc 10.0.2.2"),
    ([], "traceroute -q"),
    ([], "traceroute 10.0.2.2 60 70"),
    ([], "traceroute 10.0.2.2 abc"),
    ([], "traceroute 10.0.2.2 70000"),
    ([], "traceroute -n -s 10.9.9.9 10.0.2.2"),
    ([], "traceroute -n -i eth9 10.0.2.2"),
    ([], "traceroute"),
    ([], "traceroute -V"),
]


@pytest.mark.parametrize(("extra", "cmd"), CASES, ids=[c for _, c in CASES])
def test_traceroute_matches_the_real_one(extra, cmd):
    with KernelNet(extra) as net:
        real = net.run("h1", cmd)
    lab = lab_like_kernel(extra)
    ours = tux_run(lab, "h1", cmd)
    assert ours[0] == real[0], (ours, real)
    assert mask(ours[1]) == mask(real[1])
    assert mask(ours[2]) == mask(real[2])
