"""UDP between tuxnet and the Linux kernel over a TAP, both ways: tuxnet's inetd services answering the
kernel's sockets (``tuxnet live --serve``), and tuxnet's sockets talking to a kernel echo server.
Datagrams up to 65,507 bytes cross in fragments and must come back byte for byte."""

from __future__ import annotations

import asyncio
import calendar
import json
import re
import time

import pytest

from tuxnet.socket import AF_INET, SOCK_DGRAM

from .conftest import KERNEL_IP, TUXNET_IP, needs_root

pytestmark = [pytest.mark.root, needs_root]

SIZES = [1, 100, 1472, 1473, 2960, 4000, 8000, 65507]

KERNEL_CLIENT = r'''
import json, socket, sys, time
dst = sys.argv[1]
out = {}
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.settimeout(3)
echo = []
for n in json.loads(sys.argv[2]):
    data = bytes((i * 7 + n) & 0xFF for i in range(n))
    s.sendto(data, (dst, 7))
    got, addr = s.recvfrom(70000)
    echo.append([n, got == data, addr[1]])
out["echo"] = echo
s.sendto(b"?", (dst, 13))
out["daytime"] = s.recvfrom(100)[0].decode()
out["now"] = time.time()
lines = []
for _ in range(3):
    s.sendto(b"?", (dst, 19))
    lines.append(s.recvfrom(100)[0].decode("ascii"))
out["chargen"] = lines
s.settimeout(0.3)
s.sendto(b"dropped", (dst, 9))
try:
    s.recvfrom(100); out["discard"] = "answered"
except TimeoutError:
    out["discard"] = "silent"
low = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
low.bind(("0.0.0.0", 1000))  # a well-known-looking source port: inetd must not answer it
low.settimeout(0.3)
low.sendto(b"loop?", (dst, 7))
try:
    low.recvfrom(100); out["low_port"] = "answered"
except TimeoutError:
    out["low_port"] = "silent"
print(json.dumps(out))
'''


def test_kernel_client_and_tuxnet_inetd_services(kernel, live):
    lv = live("--serve", "echo,discard", "--serve", "daytime,chargen")
    p = kernel.python(KERNEL_CLIENT, TUXNET_IP, json.dumps(SIZES))
    out = json.loads(p.stdout)
    assert out["echo"] == [[n, True, 7] for n in SIZES]
    m = re.fullmatch(r"(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4})\r\n", out["daytime"])
    assert m, out["daytime"]
    # live mode's wall clock is the host's (set once at start): the answer is within seconds of it
    told = calendar.timegm(time.strptime(m.group(1), "%a %b %d %H:%M:%S %Y"))
    assert abs(told - out["now"]) < 5
    ring = "".join(chr(c) for c in range(32, 127)) * 2
    assert out["chargen"] == [ring[i:i + 72] + "\r\n" for i in range(3)]
    assert out["discard"] == "silent" and out["low_port"] == "silent"
    assert lv.stop() == 0, lv.text()
    assert "stopped" in lv.stdout()


KERNEL_ECHO = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.bind(("0.0.0.0", 7))
print("listening", flush=True)
while True:
    data, addr = s.recvfrom(70000)
    s.sendto(data, addr)
'''


def test_tuxnet_client_and_kernel_echo_server(inproc, kernel_server):
    srv = kernel_server(KERNEL_ECHO)
    ns = inproc.ns

    async def go():
        s = ns.socket(AF_INET, SOCK_DGRAM)
        s.bind(("0.0.0.0", 40007))
        got = []
        for n in SIZES:
            data = bytes((i * 13 + n) & 0xFF for i in range(n))
            await ns.sock_sendto(s, data, (KERNEL_IP, 7))
            reply, addr = await asyncio.wait_for(ns.sock_recvfrom(s, 70000), 3)
            got.append((n, reply == data, addr))
        s.close()
        return got

    got = inproc.run(go())
    assert got == [(n, True, (KERNEL_IP, 7)) for n in SIZES], srv.output()
    big = sum(-(-(n + 8) // 1480) for n in SIZES if n + 8 > 1480)  # fragments each way
    assert ns.mib.ip.FragCreates == big and ns.mib.ip.ReasmReqds == big
    assert ns.mib.udp.InDatagrams == len(SIZES) and ns.mib.udp.InCsumErrors == 0
