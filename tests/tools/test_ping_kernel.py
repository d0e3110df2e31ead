"""ping against the real one: the same commands on the same topology, h1 - r1 - r2 - h2, built from
Linux network namespaces (and run with Debian's iputils ping) and as a tuxnet lab; stdout and stderr
must match line by line once times are masked. Needs root, iproute2 and iputils-ping.

``KernelNet`` and ``mask`` are shared with test_traceroute_kernel.py and test_nc_kernel.py.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import shlex
import shutil
import subprocess
import time

import pytest
from test_ping_tool import make_lab

from tuxnet.tools import run_argv

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("ping") is None,
                       reason="needs root, iproute2 and iputils-ping to build network namespaces"),
]

NODES = ("h1", "r1", "r2", "h2")
SETUP = [
    ("h1", "ip addr add 10.0.1.2/24 dev eth0"), ("h1", "ip route add default via 10.0.1.1"),
    ("r1", "ip addr add 10.0.1.1/24 dev eth0"), ("r1", "ip addr add 10.0.3.1/24 dev eth1"),
    ("r2", "ip addr add 10.0.3.2/24 dev eth0"), ("r2", "ip addr add 10.0.2.1/24 dev eth1"),
    ("h2", "ip addr add 10.0.2.2/24 dev eth0"), ("h2", "ip route add default via 10.0.2.1"),
    ("r1", "ip route add 10.0.2.0/24 via 10.0.3.2"), ("r2", "ip route add 10.0.1.0/24 via 10.0.3.1"),
]
SYSCTLS = ["net.ipv4.icmp_ratelimit=0"]  # the two clocks differ: keep rate limits out of the comparison


class KernelNet:
    """The topology of test_ping_tool.make_lab in network namespaces (device names included)."""

    def __init__(self, extra: list[tuple[str, str]] = ()) -> None:  # type: ignore[assignment]
        self.prefix = f"tx{os.getpid() % 100000}"
        self.names = {n: f"{self.prefix}{n}" for n in NODES}
        self.procs: list[subprocess.Popen[str]] = []
        try:
            for n in NODES:
                self.sh(["ip", "netns", "add", self.names[n]])
                self.ip(n, "link set lo up")
            for (a, ia), (b, ib) in ((("h1", "eth0"), ("r1", "eth0")), (("r1", "eth1"), ("r2", "eth0")),
                                     (("r2", "eth1"), ("h2", "eth0"))):
                self.sh(["ip", "link", "add", f"{self.prefix}x", "netns", self.names[a], "type", "veth",
                         "peer", "name", f"{self.prefix}y", "netns", self.names[b]])
                self.ip(a, f"link set {self.prefix}x name {ia} up")
                self.ip(b, f"link set {self.prefix}y name {ib} up")
            for n, cmd in SETUP:
                self.run(n, cmd, check=True)
            for n in NODES:
                for s in SYSCTLS + (["net.ipv4.ip_forward=1"] if n.startswith("r") else []):
                    self.run(n, f"sysctl -qw {s}", check=True)
            for n, cmd in extra:
                self.run(n, cmd, check=True)
        except BaseException:
            self.close()
            raise

    def sh(self, argv: list[str]) -> None:
        subprocess.run(argv, check=True, capture_output=True, text=True)

    def ip(self, node: str, args: str) -> None:
        self.sh(["ip", "-n", self.names[node], *args.split()])

    def run(self, node: str, cmd: str, *, check: bool = False, timeout: float = 30,
            stdin: str = "") -> tuple[int, str, str]:
        p = subprocess.run(["ip", "netns", "exec", self.names[node], *shlex.split(cmd)], capture_output=True,
                           text=True, timeout=timeout, env={**os.environ, "LC_ALL": "C"}, input=stdin)
        if check and p.returncode:
            raise RuntimeError(f"{node}: {cmd}: {p.stderr}")
        return p.returncode, p.stdout, p.stderr

    def start(self, node: str, cmd: str, stdin: str = "") -> subprocess.Popen[str]:
        """A command in the background (its stdin a pipe holding ``stdin``), given 0.3 s to start."""
        p = subprocess.Popen(["ip", "netns", "exec", self.names[node], *shlex.split(cmd)], text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert p.stdin is not None
        p.stdin.write(stdin)
        p.stdin.close()
        p.stdin = None  # EOF given; communicate() must not touch it
        self.procs.append(p)
        time.sleep(0.3)
        return p

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for n in NODES:
            subprocess.run(["ip", "netns", "del", self.names[n]], capture_output=True)

    def __enter__(self) -> KernelNet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def lab_like_kernel(extra: list[tuple[str, str]] = ()):  # type: ignore[assignment]
    lab = make_lab()
    for n in NODES:
        for s in SYSCTLS:
            lab.node(n).cmd(f"sysctl -qw {s}", check=True)
    for n, cmd in extra:
        lab.node(n).cmd(cmd, check=True)
    return lab


def tux_run(lab, node: str, cmd: str) -> tuple[int, str, str]:
    """A command in the lab with stdout and stderr apart, as subprocess gives them."""
    out, err = io.StringIO(), io.StringIO()
    rc = lab.run_coro(run_argv(lab.host(node), shlex.split(cmd), out, err), timeout=3600)
    return rc, out.getvalue(), err.getvalue()


def tux_start(lab, node: str, cmd: str):
    out, err = io.StringIO(), io.StringIO()
    task = asyncio.ensure_future(run_argv(lab.host(node), shlex.split(cmd), out, err), loop=lab.loop)
    lab.run(0.3)
    return task, out, err


_MASKS = [
    (re.compile(r"time=\d+(\.\d+)? ms"), "time=T ms"),
    (re.compile(r"time \d+ms"), "time Tms"),
    (re.compile(r"= [\d.]+/[\d.]+/[\d.]+/[\d.]+ ms"), "= T/T/T/T ms"),
    (re.compile(r"ipg/ewma [\d.]+/[\d.]+ ms"), "ipg/ewma T/T ms"),
    (re.compile(r"\[\d+\.\d{6}\] "), "[T] "),
    (re.compile(r"  \d+\.\d{3} ms"), "  T ms"),
    (re.compile(r"(Connection received on \S+) \d+"), r"\1 PORT"),
]


def mask(text: str) -> list[str]:
    for rx, rep in _MASKS:
        text = rx.sub(rep, text)
    return text.split("\n")


CASES = [
    ([], "ping -c 3 -i 0.2 10.0.2.2"),
    ([], "ping -c 2 -i 0.2 -t 1 10.0.2.2"),
    ([], "ping -c 2 -i 0.2 -t 2 10.0.2.2"),
    ([], "ping -c 1 -M do -s 2000 10.0.2.2"),
    ([], "ping -c 1 -s 4000 10.0.2.2"),
    ([], "ping -c 2 -i 0.2 -R 10.0.2.2"),
    ([], "ping -c 2 -i 0.2 -q 10.0.2.2"),
    ([], "ping -c 1 -s 0 10.0.2.2"),
    ([], "ping -c 1 -D -I eth0 10.0.2.2"),
    ([], "ping -c 1 -I 10.0.1.2 10.0.2.2"),
    ([], "ping -c 10 -f 10.0.2.2"),
    ([], "ping -c 3 -i 0.5 10.0.1.99"),
    ([], "ping -c 2 -w 1 10.0.1.99"),
    ([("r1", "ip route add blackhole 10.0.7.0/24")], "ping -c 2 -i 0.3 -O 10.0.7.1"),
    ([("r1", "ip route add prohibit 10.0.8.0/24")], "ping -c 1 -i 0.3 10.0.8.1"),
    ([("r2", "ip link set eth1 mtu 1280"), ("h2", "ip link set eth0 mtu 1280")],
     "ping -c 3 -i 0.2 -M do -s 1400 10.0.2.2"),
    ([], "ping -c 0 10.0.2.2"),
    ([], "ping -M foo 10.0.2.2"),
    ([], "ping -Q 300 10.0.2.2"),
    ([], "ping -t 0 -c 1 10.0.2.2"),
    ([], "ping -I eth9 10.0.2.2"),
    ([], "ping -I 10.9.9.9 10.0.2.2"),
    ([], "ping -x 10.0.2.2"),
    ([], "ping"),
]


@pytest.mark.parametrize(("extra", "cmd"), CASES, ids=[c for _, c in CASES])
def test_ping_matches_iputils(extra, cmd):
    with KernelNet(extra) as net:
        real = net.run("h1", cmd)
    lab = lab_like_kernel(extra)
    ours = tux_run(lab, "h1", cmd)
    assert ours[0] == real[0], (ours, real)
    assert mask(ours[1]) == mask(real[1])
    assert mask(ours[2]) == mask(real[2])
