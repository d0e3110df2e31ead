# ruff: noqa: E501, W291  (golden lines from the real ss keep their trailing spaces)
"""ss: the same socket set (a listener, established connections, a TIME-WAIT, UDP and raw sockets)
listed by tuxnet's ss and checked against iproute2 6.1's format: column layout, widths, padding,
field order of -e/-o/-p/-m/-i, filters, -s and errors. The real-kernel comparison (root) builds the
identical socket set in two network namespaces and compares the outputs with numbers masked."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from tuxnet.ipv4.tcp.tcp_sockopt import tcp_get_info
from tuxnet.lab.lab import Lab
from tuxnet.sock.constants import (
    AF_INET,
    SO_KEEPALIVE,
    SO_REUSEADDR,
    SOCK_DGRAM,
    SOCK_RAW,
    SOCK_STREAM,
    SOL_SOCKET,
)
from tuxnet.socket import proc_net_sockstat
from tuxnet.tools import run_command
from tuxnet.wire.addr import ip_aton

# The socket set, as a script the real kernel runs too (``ns`` is a tuxnet Namespace there, the
# host's socket module in the real namespace).
SETUP = """
l = S(AF_INET, SOCK_STREAM); l.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1); l.bind(("0.0.0.0", 5001)); l.listen(5)
c = S(AF_INET, SOCK_STREAM); await CONNECT(c, ("10.0.0.1", 5001)); a, _ = await ACCEPT(l)
await SENDALL(c, b"x" * 3000)
c2 = S(AF_INET, SOCK_STREAM); await CONNECT(c2, ("10.0.0.1", 5001)); a2, _ = await ACCEPT(l)
c2.close(); await asyncio.sleep(0.1); a2.close()
u = S(AF_INET, SOCK_DGRAM); u.bind(("0.0.0.0", 5353))
u2 = S(AF_INET, SOCK_DGRAM); u2.connect(("10.0.0.2", 53))
r = S(AF_INET, SOCK_RAW, 1)
k = S(AF_INET, SOCK_STREAM); k.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1); await CONNECT(k, ("10.0.0.2", 5201))
await asyncio.sleep(1.3)
KEEP.extend([l, c, a, u, u2, r, k])
"""


def tuxnet_lab() -> tuple[Lab, object, list[object]]:
    lab = Lab(1)
    a = lab.add_host("a")
    b = lab.add_host("b")
    da, db = lab.add_link(a, "eth0", b, "eth0")
    a.devinet.add(da, ip_aton("10.0.0.1"), 24)
    b.devinet.add(db, ip_aton("10.0.0.2"), 24)
    lab.run(0)
    bl = b.socket(AF_INET, SOCK_STREAM)
    bl.bind(("0.0.0.0", 5201))
    bl.listen(5)
    keep: list[object] = [bl]
    env = {"S": a.socket, "CONNECT": a.sock_connect, "ACCEPT": a.sock_accept, "SENDALL": a.sock_sendall,
           "asyncio": asyncio, "KEEP": keep, "AF_INET": AF_INET, "SOCK_STREAM": SOCK_STREAM,
           "SOCK_DGRAM": SOCK_DGRAM, "SOCK_RAW": SOCK_RAW, "SOL_SOCKET": SOL_SOCKET,
           "SO_REUSEADDR": SO_REUSEADDR, "SO_KEEPALIVE": SO_KEEPALIVE}
    exec("async def _setup():\n" + textwrap.indent(SETUP, "    "), env)
    lab.run_coro(env["_setup"]())
    return lab, a, keep


@pytest.fixture(scope="module")
def sset() -> tuple[Lab, object, list[object]]:
    return tuxnet_lab()


def ss(ns: object, args: str) -> tuple[int, str]:
    return run_command(ns, "ss " + args)  # type: ignore[arg-type]


# Recorded from iproute2 6.1's ss (not a terminal) on Linux, in a network namespace holding the set
# above (and two more TIME-WAITs towards 10.0.0.2:5201, left out here).
REAL_TAN = """\
State     Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN    0      5            0.0.0.0:5001       0.0.0.0:*           
ESTAB     0      0           10.0.0.1:33322     10.0.0.2:5201        
ESTAB     0      0           10.0.0.1:49708     10.0.0.1:5001        
TIME-WAIT 0      0           10.0.0.1:49724     10.0.0.1:5001        
ESTAB     3000   0           10.0.0.1:5001      10.0.0.1:49708       
"""
REAL_TUNA_HEAD = "Netid State     Recv-Q Send-Q Local Address:Port  Peer Address:Port Process"
REAL_TLNP = """\
State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess                        
LISTEN 0      5            0.0.0.0:5001      0.0.0.0:*    users:(("python3",pid=6772,fd=3))
"""
REAL_ESTAB_HDR = "Recv-Q Send-Q Local Address:Port  Peer Address:Port Process"
REAL_HTN_ROW = "ESTAB 0      0      10.0.0.1:33322 10.0.0.2:5201 "
REAL_INFO = ("\t bbr wscale:10,10 rto:204 rtt:0.03/0.016 mss:50176 pmtu:65535 rcvmss:536 advmss:65483 cwnd:11 "
             "bytes_sent:3000 bytes_acked:3001 segs_out:3 segs_in:2 data_segs_out:1 bbr:(bw:44600886224bps,"
             "mrtt:0.009,pacing_gain:2.88672,cwnd_gain:2.88672) send 147182933333bps lastsnd:1436 lastrcv:1436 "
             "lastack:1436 pacing_rate 226833702760bps delivery_rate 44600888888bps delivered:2 app_limited "
             "rcv_space:65495 rcv_ssthresh:65495 minrtt:0.009 snd_wnd:100352")
REAL_SUMMARY = """\
Total: 9
TCP:   10 (estab 3, closed 6, orphaned 0, timewait 3)

Transport Total     IP        IPv6
RAW\t  1         1         0        
UDP\t  2         2         0        
TCP\t  4         4         0        
INET\t  7         7         0        
FRAG\t  0         0         0        

"""


def mask(text: str) -> str:
    """Digits masked, length kept: widths still count."""
    return re.sub(r"\d", "9", text)


def keys(line: str) -> list[str]:
    return re.findall(r"(?:^|[ (,])([a-z_]+)(?=[:(]| \d)", line)


def test_tan_layout_matches_real_ss(sset):
    _, a, _ = sset
    rc, out = ss(a, "-tan")
    assert rc == 0
    lines = out.splitlines()
    real = REAL_TAN.splitlines()
    assert lines[0] == real[0]
    # every row has a row of the real output with the same shape (digits masked, padding kept)
    assert sorted(set(mask(x) for x in lines[1:])) == sorted(set(mask(x) for x in real[1:]))
    assert [x.split()[0] for x in lines[1:]].count("TIME-WAIT") == 1


def test_netid_shown_for_two_tables_and_order_raw_udp_tcp(sset):
    _, a, _ = sset
    out = ss(a, "-tuna")[1].splitlines()
    assert out[0] == REAL_TUNA_HEAD
    netids = [x.split()[0] for x in out[1:]]
    assert netids == sorted(netids, key=["udp", "tcp"].index)
    out = ss(a, "-4 -an")[1].splitlines()
    assert [x.split()[0] for x in out[1:3]] == ["raw", "udp"]
    assert out[1].split()[1:] == ["UNCONN", "0", "0", "0.0.0.0:1", "0.0.0.0:*"]


def test_p_names_the_owner_and_fd(sset):
    _, a, keep = sset
    out = ss(a, "-tlnp")[1]
    real = REAL_TLNP.splitlines()
    want = real[1].replace('"python3",pid=6772,fd=3', f'"tuxnet",pid=1,fd={keep[1].fileno()}')
    assert out.splitlines()[1] == want
    assert out.splitlines()[0].startswith("State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess")


def test_single_state_drops_state_column_and_h_drops_header(sset):
    _, a, _ = sset
    out = ss(a, "-tn state established")[1].splitlines()
    assert out[0] == REAL_ESTAB_HDR
    assert len(out) == 4 and all(not x.startswith("ESTAB") for x in out)
    rows = ss(a, "-Htn")[1].splitlines()
    assert mask(REAL_HTN_ROW) in [mask(x) for x in rows]


TO_5201 = {("10.0.0.1:E", "10.0.0.2:5201")}
FROM_5001 = {("10.0.0.1:5001", "10.0.0.1:E")}


@pytest.mark.parametrize("flt,expect", [
    ("dport = :5201", TO_5201), ("dst 10.0.0.2", TO_5201), ("sport :5001", FROM_5001),
    ("'( dport = :ssh or sport = :5001 )'", FROM_5001),
    ("src 10.0.0.0/24 and sport = 5001 and not dport = 0", FROM_5001),
    ("dport gt :5001 and dport lt :6000", TO_5201), ("dport != :5001 and dst 10.0.0.1", FROM_5001),
])
def test_filters(sset, flt, expect):
    _, a, _ = sset
    rc, out = ss(a, f"-tn {flt}")
    assert rc == 0
    eph = lambda x: re.sub(r":\d{5}$", ":E", x)  # noqa: E731
    got = {(eph(x.split()[-2]), eph(x.split()[-1])) for x in out.splitlines()[1:]}
    assert got == expect, out


@pytest.mark.parametrize("state,names", [
    ("established", {"ESTAB"}), ("listening", {"LISTEN"}), ("time-wait", {"TIME-WAIT"}),
    ("connected", {"ESTAB", "TIME-WAIT"}), ("synchronized", {"ESTAB", "TIME-WAIT"}),
    ("all", {"ESTAB", "TIME-WAIT", "LISTEN"}),
])
def test_state_filters(sset, state, names):
    _, a, _ = sset
    out = ss(a, f"-tna state {state} state {state}")[1].splitlines()
    if len(names) == 1:
        assert "State" not in out[0]
        assert len(out) > 1
    else:
        assert {x.split()[0] for x in out[1:]} == names
    ex = ss(a, "-tna exclude listening")[1].splitlines()
    assert "LISTEN" not in {x.split()[0] for x in ex[1:]}


def test_e_o_m_i_field_order(sset):
    _, a, keep = sset
    out = ss(a, "-tanpieom")[1].splitlines()
    rows = dict(zip(out[1::2], out[2::2], strict=True))
    estab = [r for r in rows if r.startswith("ESTAB") and ":5201" in r][0]
    assert re.search(r'users:\(\("tuxnet",pid=1,fd=\d+\)\) timer:\(keepalive,119min,0\) ino:\d+ sk:[0-9a-f]+ <->$',
                     estab), estab
    tw = [r for r in rows if r.startswith("TIME-WAIT")][0]
    assert re.search(r"timer:\(timewait,(58|59)sec,0\) ino:0 sk:[0-9a-f]+$", tw)
    assert rows[tw].strip() == ""  # no tcp_info, no skmem for TIME-WAIT, as inet_twsk_diag_fill
    info = rows[estab]
    assert re.match(r"\t skmem:\(r\d+,rb\d+,t\d+,tb\d+,f\d+,w\d+,o\d+,bl\d+,d\d+\) ts sack cubic wscale:\d+,\d+ rto:",
                    info)
    # the keys tuxnet prints come in ss's order (the order of a real -i line)
    sender = [r for r in rows if r.startswith("ESTAB") and r.split()[4].endswith(":5001")][0]
    real_keys = [k for k in keys(REAL_INFO) if k not in ("bbr", "bw", "mrtt", "pacing_gain", "cwnd_gain")]
    ours = [k for k in keys(rows[sender]) if k in real_keys]
    assert ours == [k for k in real_keys if k in ours] and len(ours) >= 12
    # widths: the header's Process column is as wide as the longest Process token (with its \\n\\t line)
    assert len(out[0]) == max(len(r.split(":5001 ", 1)[-1]) for r in out[1:]) or len(out[0]) > 100


def test_i_values_come_from_tcp_info(sset):
    _, a, keep = sset
    client = keep[2]  # keep: b's listener, then l, c, a, u, u2, r, k
    out = ss(a, f"-tni sport = :{client.getsockname()[1]}")[1].splitlines()
    info = tcp_get_info(client.sk)
    line = out[2]
    assert f" cwnd:{info['tcpi_snd_cwnd']} " in line
    assert f" bytes_sent:{info['tcpi_bytes_sent']} " in line and f"bytes_acked:{info['tcpi_bytes_acked']}" in line
    assert f" mss:{info['tcpi_snd_mss']} " in line and f" segs_out:{info['tcpi_segs_out']} " in line
    if info["tcpi_rtt"]:
        bw = info["tcpi_snd_cwnd"] * info["tcpi_snd_mss"] * 8000000 / info["tcpi_rtt"]
        assert f" send {bw:.0f}bps" in line
        human = ss(a, f"-ti sport = :{client.getsockname()[1]}")[1]
        assert re.search(r" send \d+(\.\d+)?[kMGT]bps", human)
    else:  # tcp_stats_print prints no rtt and no send rate without an RTT sample
        assert " send " not in line and " rtt:" not in line


def test_m_skmem_values(sset):
    _, a, keep = sset
    server_side = keep[3]  # has 3000 unread bytes
    out = ss(a, f"-tnm src :5001 and dst :{server_side.getpeername()[1]}")[1].splitlines()
    sk = server_side.sk
    m = re.search(r"skmem:\(r(\d+),rb(\d+),t0,tb(\d+),f(\d+),w0,o0,bl0,d0\)", out[2])
    assert m and int(m[1]) == sk.sk_rmem_alloc and int(m[2]) == sk.sk_rcvbuf and int(m[3]) == sk.sk_sndbuf
    assert (int(m[1]) + int(m[4])) % 4096 == 0 and int(m[1]) > 3000
    assert out[1].split()[1] == "3000"


def test_summary_matches_sockstat(sset):
    _, a, _ = sset
    rc, out = ss(a, "-s")
    assert rc == 0
    assert mask(out).splitlines()[2:] == mask(REAL_SUMMARY).splitlines()[2:]
    st = dict(line.split(" ", 1) for line in proc_net_sockstat(a).splitlines())
    tcp = st["TCP:"].split()
    assert out.startswith(f"Total: {st['sockets:'].split()[1]}\n")
    assert f"timewait {tcp[5]})" in out and f"orphaned {tcp[3]}," in out
    assert f"(estab {a.mib.tcp.CurrEstab}," in out
    assert re.search(rf"^TCP\t  {tcp[1]} ", out, re.M) and re.search(r"^UDP\t  2 ", out, re.M)


def test_errors(sset):
    _, a, _ = sset
    assert ss(a, "-tn state bogus") == (255, "ss: wrong state name: bogus\n")
    rc, out = ss(a, "-tn dport =")
    assert rc == 255 and out.startswith('ss: bison bellows (while parsing filter): "syntax error!" Sorry.\nUsage: ss')
    rc, out = ss(a, "-Y")
    assert rc == 255 and out.startswith("ss: invalid option -- 'Y'\nUsage: ss [ OPTIONS ]")
    rc, out = ss(a, "-tn dport = :nosuchservice")
    assert rc == 1 and out == 'Error: "nosuchservice" does not look like a port.\nCannot parse dst/src address.\n'
    # real ss 6.1 in a namespace without unix sockets prints exactly this
    assert ss(a, "-x")[1] == "Netid State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\n"


def test_service_names_without_n(sset):
    _, a, _ = sset
    out = ss(a, "-ua")[1]
    assert "0.0.0.0:mdns" in out and "10.0.0.2:domain" in out
    assert "0.0.0.0:icmp" in ss(a, "-wa")[1]


# ---------------------------------------------------------------------------------- against Linux
def _netns_skip() -> str | None:
    if os.geteuid() != 0:
        return "needs root for ip netns"
    if shutil.which("ss") is None or shutil.which("ip") is None:
        return "iproute2 (ss) is not installed"
    return None


REAL_SCRIPT = """
import asyncio, socket, sys, time
from socket import *
KEEP = []
loop = None
async def CONNECT(s, addr): s.connect(addr)
async def ACCEPT(l): return l.accept()
async def SENDALL(s, d): s.sendall(d)
S = socket
async def main():
{body}
asyncio.run(main())
print("ready", flush=True)
time.sleep(30)
"""


@pytest.mark.root
@pytest.mark.slow
@pytest.mark.skipif(_netns_skip() is not None, reason=str(_netns_skip()))
def test_same_socket_set_against_real_ss(sset):
    _, a, _ = sset
    na, nb = f"tnssA{os.getpid()}", f"tnssB{os.getpid()}"
    sh = lambda *c: subprocess.run(c, check=True, capture_output=True)  # noqa: E731
    for n in (na, nb):
        subprocess.run(["ip", "netns", "del", n], capture_output=True)
        sh("ip", "netns", "add", n)
    procs = []
    try:
        sh("ip", "link", "add", "tnssva", "type", "veth", "peer", "name", "tnssvb")
        sh("ip", "link", "set", "tnssva", "netns", na)
        sh("ip", "link", "set", "tnssvb", "netns", nb)
        for n, dev, addr in ((na, "tnssva", "10.0.0.1/24"), (nb, "tnssvb", "10.0.0.2/24")):
            sh("ip", "-n", n, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", n, "link", "set", dev, "up")
            sh("ip", "-n", n, "link", "set", "lo", "up")
        lst = ("import socket,time\ns=socket.socket();s.bind(('0.0.0.0',5201));s.listen(5);print('ready',flush=True)"
               "\ntime.sleep(30)")
        procs.append(subprocess.Popen(["ip", "netns", "exec", nb, sys.executable, "-c", lst], stdout=subprocess.PIPE,
                                      text=True))
        procs[-1].stdout.readline()
        body = textwrap.indent(SETUP.replace("S(AF_INET, SOCK_RAW, 1)", "S(AF_INET, SOCK_RAW, 1)"), "    ")
        procs.append(subprocess.Popen(["ip", "netns", "exec", na, sys.executable, "-c",
                                       REAL_SCRIPT.format(body=body)], stdout=subprocess.PIPE, text=True))
        assert procs[-1].stdout.readline().strip() == "ready"
        for args in ("-tan", "-tuna", "-4 -an", "-tn state established", "-Htn", "-tn dport = :5201",
                     "-tn '( dport = :ssh or sport = :5001 )'", "-tn src 10.0.0.0/24 and sport = 5001",
                     "-a -n -w"):
            real = subprocess.run(f"ip netns exec {na} ss {args}", shell=True, capture_output=True,
                                  text=True).stdout
            ours = ss(a, args)[1]
            want = sorted(mask(x) for x in real.splitlines())
            assert sorted(mask(x) for x in ours.splitlines()) == want, args
        real = subprocess.run(["ip", "netns", "exec", na, "ss", "-s"], capture_output=True, text=True).stdout
        assert mask(ss(a, "-s")[1]).splitlines()[2:] == mask(real).splitlines()[2:]
    finally:
        for p in procs:
            p.kill()
            p.wait()
        for n in (na, nb):
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
