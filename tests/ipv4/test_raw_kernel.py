"""Raw and ping sockets against the real kernel: one script, run with Python's ``socket`` module in a
fresh Linux network namespace and with tuxnet's sockets in a lab host, over loopback; the answers
(packets seen, errnos, identifiers' behaviour, ICMP counters, /proc/net/raw and /proc/net/icmp
fields) must be the same. Needs root and iproute2."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from tuxnet.ipv4.ping import proc_net_icmp
from tuxnet.ipv4.raw import proc_net_raw
from tuxnet.lab.lab import Lab
from tuxnet.snmp import ICMP_FIELDS

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                       reason="needs root and iproute2 to build a network namespace"),
]

SCRIPT = r'''
import errno as _errno, socket as _s, struct as _st
out = {}

def err(f):
    try:
        r = f()
        return list(r) if isinstance(r, tuple) else r
    except OSError as e:
        return _errno.errorcode.get(e.errno, e.errno)

def drain(sk):
    got = []
    while True:
        try:
            got.append(sk.recvfrom(100000))
        except BlockingIOError:
            return got

def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(_st.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return ~t & 0xFFFF

def echo(ident, seq, data, good=True):
    h = _st.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    return h[:2] + _st.pack("!H", csum(h) if good else 0x1234) + h[4:]

RAW, DG, ICMP = _s.SOCK_RAW, _s.SOCK_DGRAM, _s.IPPROTO_ICMP
before = icmp_counters()
r = S(RAW, ICMP)
out["raw_name"] = list(r.getsockname())
out["raw_proto0"] = err(lambda: S(RAW, 0))
r.sendto(echo(0x1234, 1, b"abcdefgh"), ("127.0.0.1", 77)); pause()
got = drain(r)
out["raw_seen"] = [[p[9], p[20], len(p), p[6] & 0x40, list(a)] for p, a in got]
out["raw_reply_payload"] = [p[20:] for p, _ in got]
r.sendto(echo(1, 2, b"bad", good=False), ("127.0.0.1", 0)); pause()
out["bad_csum_seen"] = [p[20] for p, _ in drain(r)]
r.setsockopt(255, 1, 1 << 8)
r.sendto(echo(1, 3, b"filtered"), ("127.0.0.1", 0)); pause()
out["filtered"] = [p[20] for p, _ in drain(r)]
out["filter_get"] = r.getsockopt(255, 1)
r.close()

# IP_HDRINCL with a zero source and id, bogus length and checksum; a raw socket of the protocol reads it
rx = S(RAW, 253)
h = S(RAW, _s.IPPROTO_RAW)
pkt = _st.pack("!BBHHHBBHII", 0x45, 0, 999, 0, 0, 9, 253, 0x1234, 0, 0x7F000001) + b"handmade"
out["hdrincl_send"] = h.sendto(pkt, ("127.0.0.1", 0)); pause()
got = drain(rx)
out["hdrincl_got"] = [[p[2:4], p[8], p[12:16], p[20:], p[4:6] != b"\0\0", csum(p[:20])] for p, _ in got]
out["hdrincl_short"] = err(lambda: h.sendto(b"\x45" + bytes(18), ("127.0.0.1", 0)))
out["raw_too_big"] = err(lambda: rx.sendto(bytes(65516), ("127.0.0.1", 0)))
out["raw_edestaddrreq"] = err(lambda: rx.send(b"x"))

# ping sockets
out["ping_default"] = err(lambda: S(DG, ICMP))
sysctl("net.ipv4.ping_group_range", "0 0")
p = S(DG, ICMP)
out["ping_unbound"] = list(p.getsockname())
out["ping_bad_type"] = err(lambda: p.sendto(echo(1, 1, b"")[:1] + b"\x01" + bytes(6), ("127.0.0.1", 0)))
out["ping_reply_type"] = err(lambda: p.sendto(b"\0" * 8, ("127.0.0.1", 0)))
out["ping_short"] = err(lambda: p.sendto(b"\x08\0\0", ("127.0.0.1", 0)))
out["ping_edestaddrreq"] = err(lambda: p.send(echo(1, 1, b"")))
p.sendto(echo(0xBEEF, 5, b"pingdata"), ("127.0.0.1", 4242)); pause()
ident = p.getsockname()[1]
(reply, addr), = drain(p)
rid, rseq = _st.unpack("!HH", reply[4:8])
out["ping_reply"] = [reply[0], reply[1], rid == ident, rseq, reply[8:], csum(reply), list(addr)]
q = S(DG, ICMP)
out["ping_share_ident"] = err(lambda: q.bind(("0.0.0.0", ident)))
q2 = S(DG, ICMP); q2.setsockopt(_s.SOL_SOCKET, _s.SO_REUSEADDR, 0)
out["ping_exclusive"] = err(lambda: q2.bind(("0.0.0.0", ident)))
out["ping_bcast_bind"] = err(lambda: q2.bind(("127.255.255.255", 0)))
out["ping_rebind"] = err(lambda: q.bind(("0.0.0.0", 7)))
after = icmp_counters()
out["icmp_delta"] = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
out["proc_raw"] = sorted(" ".join(ln.split()[1:9] + ln.split()[10:11] + ln.split()[12:])
                         for ln in proc_raw().splitlines())  # bucket order depends on the hash secret
out["proc_raw_widths"] = sorted(set(len(ln) for ln in proc_raw().splitlines()[:1]))
out["proc_icmp"] = sorted(" ".join(ln.split()[2:9] + ln.split()[10:11] + ln.split()[12:])
                          for ln in proc_icmp().splitlines()[1:])
out["proc_icmp_widths"] = sorted(set(len(ln) for ln in proc_icmp().splitlines()))
'''


def run_kernel(script: str) -> dict:
    tag = f"tnraw{os.getpid()}"
    subprocess.run(["ip", "netns", "add", tag], check=True, capture_output=True)
    prelude = r'''
import json, socket as _sock, time as _time
def S(t=_sock.SOCK_DGRAM, p=0):
    s = _sock.socket(_sock.AF_INET, t, p); s.setblocking(False); return s
def pause(): _time.sleep(0.05)
def sysctl(k, v): open("/proc/sys/" + k.replace(".", "/"), "w").write(v)
def proc_raw(): return open("/proc/net/raw").read()
def proc_icmp(): return open("/proc/net/icmp").read()
def icmp_counters():
    lines = open("/proc/net/snmp").read().splitlines()
    d = {}
    for i in range(0, len(lines), 2):
        k, v = lines[i].split(), lines[i + 1].split()
        if k[0] in ("Icmp:", "IcmpMsg:"):
            d.update({k[0][:-1] + "." + a: int(b) for a, b in zip(k[1:], v[1:])})
    return d
'''
    try:
        subprocess.run(["ip", "-n", tag, "link", "set", "lo", "up"], check=True, capture_output=True)
        r = subprocess.run(["ip", "netns", "exec", tag, sys.executable, "-c",
                            prelude + script + "\nprint(json.dumps(out, default=lambda b: list(b)))"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode:
            pytest.fail(f"the script failed under Linux:\n{r.stderr}", pytrace=False)
        return json.loads(r.stdout)
    finally:
        subprocess.run(["ip", "netns", "del", tag], capture_output=True)


def run_tuxnet(script: str) -> dict:
    lab = Lab(4)
    h = lab.add_host("h")

    def icmp_counters() -> dict[str, int]:
        d = {f"Icmp.{f}": getattr(h.mib.icmp, f) for f in ICMP_FIELDS}
        d.update({f"IcmpMsg.InType{t}": n for t, n in h.mib.icmpmsg_in.items() if n})
        d.update({f"IcmpMsg.OutType{t}": n for t, n in h.mib.icmpmsg_out.items() if n})
        return d

    env = {
        "S": lambda t=socket.SOCK_DGRAM, p=0: h.socket(socket.AF_INET, t, p),
        "pause": lambda: lab.run(0.05),
        "sysctl": lambda k, v: h.sysctl.set(k, v),
        "proc_raw": lambda: proc_net_raw(h),
        "proc_icmp": lambda: proc_net_icmp(h),
        "icmp_counters": icmp_counters,
    }
    exec(script, env)
    return json.loads(json.dumps(env["out"], default=lambda b: list(b)))


@pytest.fixture(scope="module")
def results() -> tuple[dict, dict]:
    return run_kernel(SCRIPT), run_tuxnet(SCRIPT)


def test_both_ran(results):
    kernel, ours = results
    assert kernel.keys() == ours.keys() and len(kernel) > 25


KEYS = ["raw_name", "raw_proto0", "raw_seen", "raw_reply_payload", "bad_csum_seen", "filtered", "filter_get",
        "hdrincl_send", "hdrincl_got", "hdrincl_short", "raw_too_big", "raw_edestaddrreq", "ping_default",
        "ping_unbound", "ping_bad_type", "ping_reply_type", "ping_short", "ping_edestaddrreq", "ping_reply",
        "ping_share_ident", "ping_exclusive", "ping_bcast_bind", "ping_rebind", "icmp_delta", "proc_raw",
        "proc_raw_widths", "proc_icmp", "proc_icmp_widths"]


@pytest.mark.parametrize("key", KEYS)
def test_same_answer_as_linux(results, key):
    kernel, ours = results
    assert ours[key] == kernel[key]
