"""Differential test: the Fast Open cookie a tuxnet server hands out is the one the Linux kernel's
server hands out for the same key and addresses.

Two real network namespaces joined by a veth pair: the kernel's server listens with TCP_FASTOPEN
under a fixed net.ipv4.tcp_fastopen_key, the kernel's client sends a cookie request
(sendto MSG_FASTOPEN with no cookie cached) and caches the cookie of the SYN-ACK, which
``ip tcp_metrics show`` prints. The same exchange between two tuxnet hosts with the same addresses
and key must leave the same cookie in tuxnet's client cache. Keys and addresses are drawn from a
seeded generator.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys

import pytest
from netns_probe import netns_skip_reason

from tuxnet.lab.lab import Lab
from tuxnet.socket import AF_INET, MSG_FASTOPEN, SOCK_STREAM
from tuxnet.wire.addr import ip_aton

pytestmark = [pytest.mark.root]

TCP_FASTOPEN = 23


_SKIP = netns_skip_reason("tfprobe")

_SERVER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_TCP, 23, 16)
s.bind((sys.argv[1], 8080))
s.listen(8)
s.settimeout(5)
print("ready", flush=True)
c, _ = s.accept()
c.recv(10)
"""

_CLIENT = """
import socket, sys
s = socket.socket()
s.settimeout(5)
try:
    s.sendto(b"hi", 0x20000000, (sys.argv[1], 8080))
except BlockingIOError:
    pass
s.sendall(b"x")
s.close()
"""


def kernel_cookie(key: str, client: str, server: str) -> str:
    tag = f"{os.getpid() % 10000}"
    c, s = f"tfoc{tag}", f"tfos{tag}"

    def run(*argv: str) -> None:
        subprocess.run(argv, check=True, capture_output=True)

    for n in (c, s):
        subprocess.run(["ip", "netns", "del", n], capture_output=True)
        run("ip", "netns", "add", n)
    try:
        run("ip", "link", "add", f"vc{tag}", "netns", c, "type", "veth", "peer", "name", f"vs{tag}",
            "netns", s)
        for ns, dev, addr in ((c, f"vc{tag}", client), (s, f"vs{tag}", server)):
            run("ip", "-n", ns, "addr", "add", f"{addr}/8", "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
            run("ip", "-n", ns, "route", "add", f"{client if ns == s else server}/32", "dev", dev)
        run("ip", "netns", "exec", s, "sysctl", "-qw", "net.ipv4.tcp_fastopen=3",
            f"net.ipv4.tcp_fastopen_key={key}")
        run("ip", "netns", "exec", c, "sysctl", "-qw", "net.ipv4.tcp_fastopen=1")
        srv = subprocess.Popen(["ip", "netns", "exec", s, sys.executable, "-c", _SERVER, server],
                               stdout=subprocess.PIPE, text=True)
        assert srv.stdout is not None and srv.stdout.readline().strip() == "ready"
        run("ip", "netns", "exec", c, sys.executable, "-c", _CLIENT, server)
        srv.wait(timeout=10)
        out = subprocess.run(["ip", "-n", c, "tcp_metrics", "show"], capture_output=True, text=True).stdout
        m = re.search(r"fo_cookie ([0-9a-f]+)", out)
        assert m, out
        return m.group(1)
    finally:
        for n in (c, s):
            subprocess.run(["ip", "netns", "del", n], capture_output=True)


def tuxnet_cookie(key: str, client: str, server: str) -> str:
    lab = Lab(5)
    a, b = lab.add_host("a"), lab.add_host("b")
    da, db = lab.add_link(a, "eth0", b, "eth0")
    a.devinet.add(da, ip_aton(client), 8)
    b.devinet.add(db, ip_aton(server), 8)
    b.sysctl.set("net.ipv4.tcp_fastopen", "3")
    b.sysctl.set("net.ipv4.tcp_fastopen_key", key)
    srv = b.socket(AF_INET, SOCK_STREAM)
    srv.bind((server, 8080))
    srv.listen(8)
    srv.setsockopt(6, TCP_FASTOPEN, 16)
    cl = a.socket(AF_INET, SOCK_STREAM)
    cl.setblocking(False)
    with pytest.raises(BlockingIOError):
        cl.sendto(b"hi", MSG_FASTOPEN, (server, 8080))
    lab.run(0.1)
    entry = a.tcp.fastopen.cache[(ip_aton(client), ip_aton(server))]
    return entry.cookie.val[:entry.cookie.len].hex()


@pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")
@pytest.mark.parametrize("seed", range(3))
def test_cookie_is_the_kernels(seed):
    rng = random.Random(seed)
    key = "-".join(f"{rng.getrandbits(32):08x}" for _ in range(4))
    client = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    server = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    assert tuxnet_cookie(key, client, server) == kernel_cookie(key, client, server)
