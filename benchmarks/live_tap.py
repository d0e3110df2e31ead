"""Live-mode benchmark: tuxnet on a TAP against the Linux kernel, side by side with PyTCP on the same
TAP setup and with kernel-to-kernel over a veth pair, all measured in one run.

    sudo .venv/bin/python benchmarks/live_tap.py [--mb-tuxnet 40] [--mb-pytcp 4] [--mb-kernel 1000]

Every peer is measured by the same kernel-side client, run in the kernel's network namespace:
- ``rtt``: ``ping -c 200 -i 0.005 -q`` from the kernel to the peer (avg ms, and loss);
- ``to``: the kernel sends N MB to the peer's discard service (TCP port 9) and waits for its FIN
  (so the peer has read everything): MB/s of data moved kernel -> peer;
- ``from``: the kernel reads N MB from the peer's chargen service (TCP port 19): MB/s peer -> kernel.

Peers: ``tuxnet live --serve discard,chargen`` (a subprocess, as a user runs it); PyTCP 2.7
(``pip install pytcp``, the ``bench`` extra) driven by a small script of its socket API in its own
process (``python -O`` so its logging compiles away); and a Python discard/chargen server on the
kernel's own stack behind a veth pair. Needs root. ``main()`` prints a table and returns the figures.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
K_IP, PEER_IP = "10.97.0.1", "10.97.0.2"

CLIENT = r'''
import json, socket, sys, time
dst, mode, nbytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.create_connection((dst, 9 if mode == "to" else 19), timeout=60)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
t0 = time.perf_counter()
if mode == "to":
    block = b"x" * (1 << 20)
    left = nbytes
    while left:
        left -= s.send(block[:min(left, len(block))])
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
else:
    n = 0
    while n < nbytes:
        b = s.recv(1 << 20)
        if not b:
            break
        n += len(b)
    nbytes = n
dt = time.perf_counter() - t0
s.close()
print(json.dumps({"mbps": nbytes / dt / 1e6, "secs": dt, "bytes": nbytes}))
'''

KERNEL_SERVER = r'''
import socket, threading
def serve(port, fn):
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port)); ls.listen()
    while True:
        c, _ = ls.accept()
        threading.Thread(target=fn, args=(c,), daemon=True).start()
def discard(c):
    while c.recv(1 << 20):
        pass
    c.close()
def chargen(c):
    block = b"x" * (1 << 20)
    try:
        while True:
            c.sendall(block)
    except OSError:
        pass
for port, fn in ((9, discard), (19, chargen)):
    threading.Thread(target=serve, args=(port, fn), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
'''

PYTCP_SERVER = r'''
import sys, threading, time
from pytcp import TcpIpStack, config
config.LOG_CHANEL = set()
config.IP6_SUPPORT = False
from pytcp.lib import socket as psock
stack = TcpIpStack(interface=sys.argv[1], ip4_address=sys.argv[2], mac_address="02:00:00:77:77:77")
stack.start()
def serve(port, fn):
    s = psock.socket(psock.AF_INET4, psock.SOCK_STREAM)
    s.bind(("0.0.0.0", port)); s.listen()
    while True:
        c, _ = s.accept()
        threading.Thread(target=fn, args=(c,), daemon=True).start()
def discard(c):
    while c.recv():
        pass
    c.close()
def chargen(c):
    block = b"x" * 65536
    sess = c._tcp_session
    try:
        while True:
            while len(sess._tx_buffer) > 262144:  # PyTCP's send() queues without bound: pace it
                time.sleep(0.001)
            c.send(block)
    except Exception:
        pass
for port, fn in ((9, discard), (19, chargen)):
    threading.Thread(target=serve, args=(port, fn), daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(1)
'''


def _run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


class Peer:
    """One system under test, reachable at PEER_IP from the kernel namespace ``self.k``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.k = f"tnbench{os.getpid() % 10000}{name[:2]}"
        self.procs: list[subprocess.Popen[str]] = []
        self.extra_ns: list[str] = []
        _run(["ip", "netns", "del", self.k])
        _run(["ip", "netns", "add", self.k], check=True)
        _run(["ip", "-n", self.k, "link", "set", "lo", "up"], check=True)

    def spawn(self, cmd: list[str], ns: str | None = None, ready: str = "ready", timeout: float = 20) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"), PYTHONUNBUFFERED="1")
        p = subprocess.Popen(["ip", "netns", "exec", ns or self.k, *cmd], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
        self.procs.append(p)
        end = time.monotonic() + timeout
        assert p.stdout is not None
        while time.monotonic() < end:
            line = p.stdout.readline()
            if ready in line:
                return
            if not line and p.poll() is not None:
                break
        raise RuntimeError(f"{self.name}: {' '.join(cmd[:4])}... did not get ready")

    def kernel_side(self, dev: str) -> None:
        _run(["ip", "-n", self.k, "addr", "add", f"{K_IP}/24", "dev", dev], check=True)
        _run(["ip", "-n", self.k, "link", "set", dev, "up"], check=True)

    def wait_reachable(self, timeout: float = 20) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if _run(["ip", "netns", "exec", self.k, "ping", "-c", "1", "-W", "1", PEER_IP]).returncode == 0:
                return
        raise RuntimeError(f"{self.name}: {PEER_IP} does not answer ping")

    def rtt(self, count: int = 200) -> dict[str, float]:
        p = _run(["ip", "netns", "exec", self.k, "ping", "-c", str(count), "-i", "0.005", "-q", PEER_IP])
        m = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/", p.stdout)
        loss = re.search(r"([\d.]+)% packet loss", p.stdout)
        return {"rtt_avg_ms": float(m.group(2)) if m else float("nan"),
                "rtt_min_ms": float(m.group(1)) if m else float("nan"),
                "ping_loss_pct": float(loss.group(1)) if loss else 100.0}

    def tcp(self, mode: str, mb: int) -> float:
        p = _run(["ip", "netns", "exec", self.k, PY, "-c", CLIENT, PEER_IP, mode, str(mb * 1_000_000)],
                 timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"{self.name} {mode}: {p.stderr.strip()[-300:]}")
        return json.loads(p.stdout)["mbps"]

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, 15)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, 9)
                    p.wait()
        for ns in [self.k, *self.extra_ns]:
            _run(["ip", "netns", "del", ns])


def setup_tuxnet() -> Peer:
    peer = Peer("tuxnet")
    tap = "tbtux0"
    peer.spawn([PY, "-m", "tuxnet.lab.cli", "live", "--tap", tap, "--address", f"{PEER_IP}/24",
                "--serve", "discard,chargen"], ready="serving")
    peer.kernel_side(tap)
    return peer


def setup_pytcp() -> Peer:
    peer = Peer("pytcp")
    tap = "tbpy0"
    peer.spawn([PY, "-O", "-c", PYTCP_SERVER, tap, f"{PEER_IP}/24"])
    peer.kernel_side(tap)
    time.sleep(4)  # PyTCP probes its address (ARP) for a few seconds before it uses it
    return peer


def setup_kernel() -> Peer:
    peer = Peer("kernel")
    other = peer.k + "b"
    peer.extra_ns.append(other)
    _run(["ip", "netns", "del", other])
    _run(["ip", "netns", "add", other], check=True)
    _run(["ip", "-n", peer.k, "link", "add", "vb0", "type", "veth", "peer", "name", "vb1", "netns", other],
         check=True)
    _run(["ip", "-n", other, "addr", "add", f"{PEER_IP}/24", "dev", "vb1"], check=True)
    _run(["ip", "-n", other, "link", "set", "vb1", "up"], check=True)
    _run(["ip", "-n", other, "link", "set", "lo", "up"], check=True)
    peer.kernel_side("vb0")
    peer.spawn([PY, "-c", KERNEL_SERVER], ns=other)
    return peer


def measure(setup: Any, mb: int) -> dict[str, float]:
    peer = setup()
    try:
        peer.wait_reachable()
        fig = peer.rtt()
        fig["tcp_to_MBps"] = peer.tcp("to", mb)
        fig["tcp_from_MBps"] = peer.tcp("from", mb)
        fig["transfer_MB"] = mb
        return fig
    finally:
        peer.close()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb-tuxnet", type=int, default=40)
    ap.add_argument("--mb-pytcp", type=int, default=4)
    ap.add_argument("--mb-kernel", type=int, default=1000)
    args = ap.parse_args(argv)
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        print("live_tap: needs root and /dev/net/tun (TAP devices, network namespaces)")
        return {"skipped": "needs root and /dev/net/tun"}
    results: dict[str, Any] = {}
    results["tuxnet"] = measure(setup_tuxnet, args.mb_tuxnet)
    if importlib.util.find_spec("pytcp") is not None:
        try:
            results["pytcp"] = measure(setup_pytcp, args.mb_pytcp)
        except Exception as e:  # report, keep the other figures
            results["pytcp"] = {"error": f"{type(e).__name__}: {e}"}
    else:
        results["pytcp"] = {"error": "pytcp is not installed (pip install 'tuxnet[bench]')"}
    results["kernel_veth"] = measure(setup_kernel, args.mb_kernel)
    tux, ker, pyt = results["tuxnet"], results["kernel_veth"], results["pytcp"]
    ratios: dict[str, float] = {}
    for key in ("tcp_to_MBps", "tcp_from_MBps"):
        ratios[f"{key}_tuxnet/kernel"] = tux[key] / ker[key]
        if key in pyt:
            ratios[f"{key}_tuxnet/pytcp"] = tux[key] / pyt[key]
    ratios["rtt_avg_tuxnet/kernel"] = tux["rtt_avg_ms"] / ker["rtt_avg_ms"]
    if "rtt_avg_ms" in pyt:
        ratios["rtt_avg_tuxnet/pytcp"] = tux["rtt_avg_ms"] / pyt["rtt_avg_ms"]
    results["ratios"] = ratios
    _print_table(results)
    return results


def _print_table(results: dict[str, Any]) -> None:
    cols = ("rtt_avg_ms", "rtt_min_ms", "ping_loss_pct", "tcp_to_MBps", "tcp_from_MBps", "transfer_MB")
    print(f"{'peer':<12}" + "".join(f"{c:>15}" for c in cols))
    for name in ("tuxnet", "pytcp", "kernel_veth"):
        r = results[name]
        if "error" in r:
            print(f"{name:<12}  {r['error']}")
            continue
        print(f"{name:<12}" + "".join(f"{r[c]:>15.3f}" for c in cols))
    for k, v in results["ratios"].items():
        print(f"  {k:<36} {v:.4f}")


if __name__ == "__main__":
    main()
