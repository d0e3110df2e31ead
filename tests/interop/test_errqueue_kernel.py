"""The error queue's bytes against the running kernel's: the same MSG_ZEROCOPY and SO_TIMESTAMPING
sequence on a kernel TCP socket over a veth pair between two network namespaces, and on a tuxnet
lab socket over a veth between two lab hosts; what recvmsg(MSG_ERRQUEUE) returns must match entry
by entry: data length, msg_flags, address, each cmsg's level, type and length, the whole
sock_extended_err + offender (32 bytes), the shape of struct scm_timestamping (ts[0] set, ts[1]
and ts[2] zero), and the OPT_STATS netlink attributes (order, sizes, and the values that do not
depend on timing). Root only (ip netns)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tuxnet.lab.lab import Lab
from tuxnet.sock.constants import MSG_ERRQUEUE
from tuxnet.socket import AF_INET, SOCK_DGRAM, SOCK_STREAM
from tuxnet.wire.addr import ip_aton

from .conftest import needs_root, unique

pytestmark = [pytest.mark.root]

# one client program for both stacks: ``S`` is the socket module-like namespace, ``wait`` sleeps
# (real time on the kernel, virtual time in the lab)
SCENARIO = r'''
SOL_SOCKET, IPPROTO_TCP, TCP_NODELAY = 1, 6, 1
SO_ZEROCOPY, SO_TIMESTAMPING, MSG_ZEROCOPY, MSG_ERRQUEUE = 60, 37, 0x4000000, 0x2000
TX_ALL = 0x100 | 0x2 | 0x200 | 0x10 | 0x80   # TX_SCHED|TX_SOFTWARE|TX_ACK|SOFTWARE|OPT_ID
TSONLY, OPT_STATS = 0x800, 0x1000

def drain(s):
    out = []
    while True:
        try:
            data, anc, flags, addr = s.recvmsg(4096, 1024, MSG_ERRQUEUE)
        except BlockingIOError:
            return out
        out.append({"len": len(data), "flags": flags, "addr": addr,
                    "anc": [[lvl, typ, bytes(d).hex()] for lvl, typ, d in anc]})

def scenario(s, wait):
    s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
    s.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    res = {}
    for _ in range(3):
        s.send(bytes(4000), MSG_ZEROCOPY)
    wait(0.3)
    res["zerocopy"] = drain(s)
    s.setsockopt(SOL_SOCKET, SO_TIMESTAMPING, TX_ALL)
    s.send(bytes(1000))
    wait(0.3)
    res["timestamps"] = drain(s)
    s.setsockopt(SOL_SOCKET, SO_TIMESTAMPING, TX_ALL | TSONLY)
    s.send(bytes(1000))
    wait(0.3)
    res["tsonly"] = drain(s)
    s.setsockopt(SOL_SOCKET, SO_TIMESTAMPING, TX_ALL | TSONLY | OPT_STATS)
    s.send(bytes(1000))
    wait(0.3)
    res["opt_stats"] = drain(s)
    return res
'''

# a UDP socket: SCHED and SND stamps per datagram, keys counting datagrams
UDP_SCENARIO = r'''
def udp_scenario(u, wait):
    u.setsockopt(1, 37, 0x100 | 0x2 | 0x10 | 0x80)  # TX_SCHED|TX_SOFTWARE|SOFTWARE|OPT_ID
    for n in (100, 200):
        u.sendto(bytes(n), ("10.77.0.2", 5001))
    wait(0.3)
    return {"udp": drain(u)}
'''

KERNEL_CLIENT = SCENARIO + UDP_SCENARIO + r'''
import json, socket, time
s = socket.create_connection(("10.77.0.2", 5000))
s.setblocking(False)
res = scenario(s, time.sleep)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setblocking(False)
res.update(udp_scenario(u, time.sleep))
print(json.dumps(res))
s.close()
'''

KERNEL_SERVER = r'''
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("10.77.0.2", 5000)); l.listen(1)
print("ready", flush=True)
c, _ = l.accept()
while c.recv(65536):
    pass
'''


def ns_run(ns: str, *argv: str, **kw):
    return subprocess.run(["ip", "netns", "exec", ns, *argv], **kw)


def kernel_result() -> dict:
    a, b = unique("eqa"), unique("eqb")
    va, vb = unique("va"), unique("vb")
    try:
        for n in (a, b):
            subprocess.run(["ip", "netns", "add", n], check=True)
            ns_run(n, "ip", "link", "set", "lo", "up", check=True)
        subprocess.run(["ip", "link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b],
                       check=True)
        ns_run(a, "ip", "addr", "add", "10.77.0.1/24", "dev", va, check=True)
        ns_run(b, "ip", "addr", "add", "10.77.0.2/24", "dev", vb, check=True)
        ns_run(a, "ip", "link", "set", va, "up", check=True)
        ns_run(b, "ip", "link", "set", vb, "up", check=True)
        srv = subprocess.Popen(["ip", "netns", "exec", b, sys.executable, "-c", KERNEL_SERVER],
                               stdout=subprocess.PIPE, text=True)
        try:
            assert srv.stdout is not None and srv.stdout.readline().strip() == "ready"
            out = ns_run(a, sys.executable, "-c", KERNEL_CLIENT, capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, out.stderr
            return json.loads(out.stdout)
        finally:
            srv.kill()
            srv.wait()
    finally:
        for n in (a, b):
            subprocess.run(["ip", "netns", "del", n], capture_output=True)


def tuxnet_result() -> dict:
    lab = Lab(9)
    ha, hb = lab.add_host("a"), lab.add_host("b")
    da, db = lab.add_link(ha, "eth0", hb, "eth0")
    ha.devinet.add(da, ip_aton("10.77.0.1"), 24)
    hb.devinet.add(db, ip_aton("10.77.0.2"), 24)
    srv = hb.socket(AF_INET, SOCK_STREAM)
    srv.bind(("10.77.0.2", 5000))
    srv.listen()
    s = ha.socket(AF_INET, SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex(("10.77.0.2", 5000))
    lab.run(0.1)
    conn, _ = srv.accept()
    env: dict = {}
    exec(SCENARIO + UDP_SCENARIO, env)  # the same scenario text the kernel runs
    res = env["scenario"](s, lab.run)
    u = ha.socket(AF_INET, SOCK_DGRAM)
    u.setblocking(False)
    res.update(env["udp_scenario"](u, lab.run))
    assert conn.recv(1 << 20)  # the peer got the data
    return json.loads(json.dumps(res))  # the same JSON round trip as the kernel's output


# OPT_STATS attributes whose values do not depend on timing (rates, RTTs, cwnd growth and the
# departure time do: only their type and size are compared)
STABLE_NLA = {4, 5, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24, 26, 27}


def nla_shape(raw: bytes) -> list:
    out, off = [], 0
    while off < len(raw):
        ln, typ = int.from_bytes(raw[off:off + 2], "little"), int.from_bytes(raw[off + 2:off + 4], "little")
        val = int.from_bytes(raw[off + 4:off + ln], "little")
        out.append((typ, ln, val if typ in STABLE_NLA else None))
        off += (ln + 3) & ~3
    return out


def shape(res: dict) -> dict:
    """What must be equal: everything but the timestamp values, whose presence is checked."""
    out = {}
    for phase, entries in res.items():
        rows = []
        for e in entries:
            cmsgs = []
            for lvl, typ, hexd in e["anc"]:
                raw = bytes.fromhex(hexd)
                if (lvl, typ) == (1, 54):  # SCM_TIMESTAMPING_OPT_STATS: netlink attributes
                    cmsgs.append((lvl, typ, len(raw), nla_shape(raw)))
                elif (lvl, typ) == (1, 37):  # SCM_TIMESTAMPING: ts[0] set, ts[1], ts[2] zero
                    words = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, 48, 8)]
                    cmsgs.append((lvl, typ, len(raw), words[0] > 0 or words[1] > 0, words[2:]))
                else:
                    cmsgs.append((lvl, typ, len(raw), hexd))
            rows.append((e["len"], e["flags"], e["addr"], cmsgs))
        out[phase] = rows
    return out


@needs_root
def test_errqueue_entries_match_the_kernel_byte_for_byte():
    t = time.monotonic()
    kern = shape(kernel_result())
    assert time.monotonic() - t < 30
    tux = shape(tuxnet_result())
    # the kernel itself must show what the test is about
    assert kern["zerocopy"] and kern["timestamps"] and kern["tsonly"] and kern["opt_stats"] and kern["udp"]
    assert all(row[1] & MSG_ERRQUEUE for phase in kern.values() for row in phase)
    assert tux == kern
