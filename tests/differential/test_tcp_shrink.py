"""Differential test: what the Linux kernel does after a receive-memory squeeze shrinks its window,
and what tuxnet's packetdrill script (tests/ipv4/tcp/test_tcp_rcvbuf.py) expects of tuxnet.

A raw peer on a TAP in a fresh namespace fills a kernel socket (SO_RCVBUF 1 MB, never read), then
the application shrinks SO_RCVBUF to 16000 and one more segment arrives: the kernel drops it
(TcpExtTCPRcvQDrop) and answers with a zero window, retracting the right edge it offered. The
application writes 1000 bytes; the peer acknowledges them with a pure ACK whose sequence number is
its snd_nxt (past the zero window, well inside the window offered before). Linux 6.18 refuses that
ACK: a dupack answers at once, TcpExtBeyondWindow counts it and the 1000 bytes stay unacknowledged.
(7.1's RFC 7323 2.4 change, rcv_mwnd_seq, accepts it: this test would then fail and say so.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.root]

PEER = r'''
import fcntl, json, os, select, struct, subprocess, sys, time
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

TAP, PMAC, K, P = sys.argv[1], "02:00:00:00:00:02", "10.77.0.1", "10.77.0.2"
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH", TAP.encode(), 0x0002 | 0x1000))  # TUNSETIFF TAP|NO_PI
subprocess.run(f"ip addr add {K}/24 dev {TAP} && ip link set {TAP} mtu 65000 up && "
               f"ip neigh add {P} lladdr {PMAC} dev {TAP}", shell=True, check=True)
KMAC = open(f"/sys/class/net/{TAP}/address").read().strip()
APP = """
import socket, sys
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1000000)
ls.bind(("10.77.0.1", 8000)); ls.listen(1)
print("L", flush=True)
c, _ = ls.accept()
sys.stdin.readline(); c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16000); print("S", flush=True)
sys.stdin.readline(); c.send(b"x" * 1000); print("W", flush=True)
sys.stdin.readline()
"""
app = subprocess.Popen([sys.executable, "-c", APP], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
assert app.stdout.readline().strip() == "L"


def step():
    app.stdin.write("go\n")
    app.stdin.flush()
    app.stdout.readline()


def send(flags, seq, ack, data=b"", **kw):
    tcp = TCP(sport=40000, dport=8000, flags=flags, seq=seq, ack=ack, window=257, **kw)
    os.write(fd, bytes(Ether(src=PMAC, dst=KMAC) / IP(src=P, dst=K) / tcp / data))


def recv(timeout):
    out, end = [], time.monotonic() + timeout
    while select.select([fd], [], [], max(0.0, end - time.monotonic()))[0]:
        f = Ether(os.read(fd, 70000))
        if f.haslayer(TCP) and f[IP].src == K:
            out.append(f[TCP])
    return out


def nstat(name):
    o = subprocess.run(["nstat", "-az", name], capture_output=True, text=True).stdout.split()
    return int(o[o.index(name) + 1])


send("S", 0, 0, options=[("MSS", 60000), ("NOP", None), ("NOP", None), ("SAckOK", b""), ("NOP", None),
                         ("WScale", 7)])
sa = [t for t in recv(1.0) if t.flags.S][0]
kws = dict(o for o in sa.options if isinstance(o[0], str)).get("WScale", 0)
ack = sa.seq + 1
send("A", 1, ack)
seq, right, seg = 1, 1 + sa.window, 50000
while seq < 1_000_000:  # fill the buffer, within the offered window
    if seq + seg > right:
        for t in recv(0.3):
            right = max(right, t.ack + (t.window << kws))
        if seq + seg > right:
            break
    send("PA", seq, ack, b"d" * seg)
    seq += seg
    for t in recv(0.02):
        right = max(right, t.ack + (t.window << kws))
while recv(0.3):  # let the last ACKs of the fill arrive
    pass
recvq0 = nstat("TcpExtTCPRcvQDrop")
step()  # SO_RCVBUF 16000
send("PA", seq, ack, b"d" * seg)
squeeze = [(t.ack - 1, t.window) for t in recv(0.3)]
step()  # write 1000 bytes
data = [(t.seq - ack, len(t.payload), t.ack - 1, t.window) for t in recv(0.3)]
bw0 = nstat("TcpExtBeyondWindow")
send("A", seq + seg, ack + 1000)  # a pure ACK at our snd_nxt
reply = [(t.ack - 1, t.window) for t in recv(0.3)]
ss = subprocess.run(["ss", "-tinH", "sport", "= :8000"], capture_output=True, text=True).stdout
print(json.dumps({"rcv_nxt": seq - 1, "right_edge": right - 1, "squeeze": squeeze,
                  "rcvqdrop": nstat("TcpExtTCPRcvQDrop") - recvq0, "data": data, "reply": reply,
                  "beyond": nstat("TcpExtBeyondWindow") - bw0, "unacked": "unacked:1" in ss}))
app.kill()
'''


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (a TAP in a network namespace)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    for tool in ("ip", "nstat", "ss"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def test_the_kernel_refuses_a_pure_ack_beyond_a_squeezed_window():
    why = _skip_reason()
    if why:
        pytest.skip(why)
    name = f"tnshrink{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        p = subprocess.run(["ip", "netns", "exec", name, sys.executable, "-c", PEER, "tnshrink0"],
                           capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    assert p.returncode == 0, p.stdout + p.stderr
    r = json.loads(p.stdout.splitlines()[-1])
    nxt = r["rcv_nxt"]
    assert r["right_edge"] > nxt + 100_000  # the window offered before the squeeze reached far
    assert r["squeeze"][-1] == [nxt, 0] and r["rcvqdrop"] == 1  # dropped, zero window: retracted
    assert r["data"][0] == [0, 1000, nxt, 0]  # (a retransmission may follow it)
    # the ACK of those 1000 bytes, sent at the peer's snd_nxt (inside the old window), is refused:
    # a dupack (or the data again) at once, counted as beyond the window, the data still unacked
    assert r["reply"] and all(x == [nxt, 0] for x in r["reply"]), r
    assert r["beyond"] == 1 and r["unacked"], r
